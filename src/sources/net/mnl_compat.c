/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The part of libmnl's API that netlink.c uses, for builds that cannot link
 * libmnl (a static binary on Debian, which ships no libmnl.a).  Same
 * semantics as libmnl 1.0.4 for these calls: attributes are validated
 * against the message bounds before a callback sees them, and a malformed
 * message stops the walk with EBADMSG instead of reading past the buffer.
 * Linked only when libmnl is not (see the Makefile).
 */
#include "mnl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mnl_socket {
	int fd;
	struct sockaddr_nl addr;
};

struct mnl_socket *mnl_socket_open(int bus)
{
	struct mnl_socket *nl = calloc(1, sizeof(*nl));
	if (!nl)
		return NULL;
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, bus);
	if (nl->fd < 0) {
		int e = errno;
		free(nl);
		errno = e;
		return NULL;
	}
	return nl;
}

int mnl_socket_bind(struct mnl_socket *nl, unsigned int groups, pid_t pid)
{
	nl->addr.nl_family = AF_NETLINK;
	nl->addr.nl_groups = groups;
	nl->addr.nl_pid = (uint32_t)pid;
	if (bind(nl->fd, (struct sockaddr *)&nl->addr, sizeof(nl->addr)) < 0)
		return -1;
	socklen_t al = sizeof(nl->addr);
	if (getsockname(nl->fd, (struct sockaddr *)&nl->addr, &al) < 0)
		return -1;
	if (al != sizeof(nl->addr) || nl->addr.nl_family != AF_NETLINK) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int mnl_socket_close(struct mnl_socket *nl)
{
	int r = close(nl->fd);
	free(nl);
	return r;
}

int mnl_socket_get_fd(const struct mnl_socket *nl)
{
	return nl->fd;
}

unsigned int mnl_socket_get_portid(const struct mnl_socket *nl)
{
	return nl->addr.nl_pid;
}

ssize_t mnl_socket_sendto(const struct mnl_socket *nl, const void *req, size_t siz)
{
	static const struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	return sendto(nl->fd, req, siz, 0, (const struct sockaddr *)&kernel, sizeof(kernel));
}

ssize_t mnl_socket_recvfrom(const struct mnl_socket *nl, void *buf, size_t siz)
{
	struct sockaddr_nl addr;
	struct iovec iov = { .iov_base = buf, .iov_len = siz };
	struct msghdr msg = { .msg_name = &addr, .msg_namelen = sizeof(addr), .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t r = recvmsg(nl->fd, &msg, 0);
	if (r < 0)
		return r;
	if (msg.msg_flags & MSG_TRUNC) {
		errno = ENOSPC;
		return -1;
	}
	if (msg.msg_namelen != sizeof(addr)) {
		errno = EINVAL;
		return -1;
	}
	return r;
}

struct nlmsghdr *mnl_nlmsg_put_header(void *buf)
{
	size_t len = MNL_ALIGN(sizeof(struct nlmsghdr));
	struct nlmsghdr *nlh = buf;
	memset(buf, 0, len);
	nlh->nlmsg_len = (uint32_t)len;
	return nlh;
}

void *mnl_nlmsg_put_extra_header(struct nlmsghdr *nlh, size_t size)
{
	char *p = (char *)nlh + nlh->nlmsg_len;
	nlh->nlmsg_len += (uint32_t)MNL_ALIGN(size);
	memset(p, 0, MNL_ALIGN(size));
	return p;
}

void *mnl_nlmsg_get_payload(const struct nlmsghdr *nlh)
{
	return (char *)nlh + MNL_NLMSG_HDRLEN;
}

uint16_t mnl_attr_get_type(const struct nlattr *attr)
{
	return attr->nla_type & NLA_TYPE_MASK;
}

uint16_t mnl_attr_get_payload_len(const struct nlattr *attr)
{
	return (uint16_t)(attr->nla_len - MNL_ATTR_HDRLEN);
}

void *mnl_attr_get_payload(const struct nlattr *attr)
{
	return (char *)attr + MNL_ATTR_HDRLEN;
}

uint16_t mnl_attr_get_u16(const struct nlattr *attr)
{
	uint16_t v;
	memcpy(&v, mnl_attr_get_payload(attr), sizeof(v));
	return v;
}

uint32_t mnl_attr_get_u32(const struct nlattr *attr)
{
	uint32_t v;
	memcpy(&v, mnl_attr_get_payload(attr), sizeof(v));
	return v;
}

static void attr_put(struct nlmsghdr *nlh, uint16_t type, size_t len, const void *data)
{
	struct nlattr *a = (struct nlattr *)((char *)nlh + MNL_ALIGN(nlh->nlmsg_len));
	uint16_t plen = (uint16_t)(MNL_ATTR_HDRLEN + len);
	a->nla_type = type;
	a->nla_len = plen;
	memcpy(mnl_attr_get_payload(a), data, len);
	size_t pad = MNL_ALIGN(len) - len;
	if (pad)
		memset((char *)mnl_attr_get_payload(a) + len, 0, pad);
	nlh->nlmsg_len += (uint32_t)MNL_ALIGN(plen);
}

void mnl_attr_put_u32(struct nlmsghdr *nlh, uint16_t type, uint32_t data)
{
	attr_put(nlh, type, sizeof(data), &data);
}

void mnl_attr_put_strz(struct nlmsghdr *nlh, uint16_t type, const char *data)
{
	attr_put(nlh, type, strlen(data) + 1, data);
}

static int parse_range(const char *p, size_t len, mnl_attr_cb_t cb, void *data)
{
	while (len >= sizeof(struct nlattr)) {
		const struct nlattr *a = (const struct nlattr *)p;
		if (a->nla_len < sizeof(struct nlattr) || a->nla_len > len) {
			errno = EBADMSG;
			return MNL_CB_ERROR;
		}
		int r = cb(a, data);
		if (r <= MNL_CB_STOP)
			return r;
		size_t step = MNL_ALIGN(a->nla_len);
		if (step >= len)
			break;
		p += step;
		len -= step;
	}
	return MNL_CB_OK;
}

int mnl_attr_parse(const struct nlmsghdr *nlh, unsigned int offset, mnl_attr_cb_t cb, void *data)
{
	size_t start = MNL_NLMSG_HDRLEN + MNL_ALIGN(offset);
	if (nlh->nlmsg_len < start) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	return parse_range((const char *)nlh + start, nlh->nlmsg_len - start, cb, data);
}

int mnl_attr_parse_nested(const struct nlattr *attr, mnl_attr_cb_t cb, void *data)
{
	return parse_range(mnl_attr_get_payload(attr), mnl_attr_get_payload_len(attr), cb, data);
}

int mnl_cb_run(const void *buf, size_t numbytes, unsigned int seq, unsigned int portid, mnl_cb_t cb_data,
	       void *data)
{
	const char *p = buf;
	size_t len = numbytes;
	int ret = MNL_CB_OK;
	while (len >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)p;
		if (nlh->nlmsg_len < sizeof(struct nlmsghdr) || nlh->nlmsg_len > len) {
			errno = EBADMSG;
			return MNL_CB_ERROR;
		}
		if ((nlh->nlmsg_pid && portid && nlh->nlmsg_pid != portid)) {
			errno = ESRCH;
			return MNL_CB_ERROR;
		}
		if (nlh->nlmsg_seq && seq && nlh->nlmsg_seq != seq) {
			errno = EPROTO;
			return MNL_CB_ERROR;
		}
		if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
			errno = EINTR;
			return MNL_CB_ERROR;
		}
		if (nlh->nlmsg_type >= NLMSG_MIN_TYPE) {
			ret = cb_data ? cb_data(nlh, data) : MNL_CB_OK;
			if (ret <= MNL_CB_STOP)
				return ret;
		} else if (nlh->nlmsg_type == NLMSG_DONE) {
			return MNL_CB_STOP;
		} else if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
			if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*err)) {
				errno = EBADMSG;
				return MNL_CB_ERROR;
			}
			if (err->error == 0)
				return MNL_CB_STOP;
			errno = err->error < 0 ? -err->error : err->error;
			return MNL_CB_ERROR;
		}
		size_t step = NLMSG_ALIGN(nlh->nlmsg_len);
		if (step >= len)
			break;
		p += step;
		len -= step;
	}
	return ret;
}
