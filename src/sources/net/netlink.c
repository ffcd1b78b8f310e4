/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Two netlink dumps, with libmnl (or the small compatible subset in
 * mnl_compat.c when only the shared library exists, as for `make static` on
 * Debian, which ships no libmnl.a):
 *
 *  - rtnetlink RTM_GETQDISC: every qdisc with the TCA_STATS2 basic and queue
 *    statistics (backlog, drops, requeues, overlimits).  Both an `mq` root and
 *    its per-queue children are listed as the kernel reports them; analysis
 *    de-duplicates (the root is the sum of its children).
 *  - generic netlink family "netdev", qstats-get with scope=queue (6.9+):
 *    per-queue packets and bytes, which virtio_net no longer puts in
 *    `ethtool -S` since 6.10.
 *
 * Sockets are opened per call with a receive timeout, so a wedged kernel
 * cannot hang a sample for more than a second.
 */
#include "net.h"

#include <errno.h>
#include <jansson.h>
#include <linux/gen_stats.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "../../core/util.h"
#include "mnl.h"

#define NL_BUF (32u << 10)
#define NL_MAX_ENTRIES 4096

/* include/uapi/linux/netdev.h (6.9+); Debian 12's headers predate it */
#define HQ_NETDEV_CMD_QSTATS_GET 12
#define HQ_NETDEV_A_QSTATS_IFINDEX 1
#define HQ_NETDEV_A_QSTATS_QUEUE_TYPE 2
#define HQ_NETDEV_A_QSTATS_QUEUE_ID 3
#define HQ_NETDEV_A_QSTATS_SCOPE 4
#define HQ_NETDEV_QSTATS_SCOPE_QUEUE 1

/* names of the netdev qstats attributes from 8 on, as in netdev.yaml */
static const char *const qstat_names[] = {
	"rx-packets", "rx-bytes", "tx-packets", "tx-bytes", "rx-alloc-fail", "rx-hw-drops",
	"rx-hw-drop-overruns", "rx-csum-complete", "rx-csum-unnecessary", "rx-csum-none", "rx-csum-bad",
	"rx-hw-gro-packets", "rx-hw-gro-bytes", "rx-hw-gro-wire-packets", "rx-hw-gro-wire-bytes",
	"rx-hw-drop-ratelimits", "tx-hw-drops", "tx-hw-drop-errors", "tx-csum-none", "tx-needs-csum",
	"tx-hw-gso-packets", "tx-hw-gso-bytes", "tx-hw-gso-wire-packets", "tx-hw-gso-wire-bytes",
	"tx-hw-drop-ratelimits", "tx-stop", "tx-wake",
};

struct nl_ctx {
	struct mnl_socket *nl;
	unsigned portid, seq;
	json_t *out;
	char err[160];
};

static int nl_open(struct nl_ctx *c, int bus)
{
	memset(c, 0, sizeof(*c));
	c->nl = mnl_socket_open(bus);
	if (!c->nl)
		return -errno;
	if (mnl_socket_bind(c->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = -errno;
		mnl_socket_close(c->nl);
		c->nl = NULL;
		return e;
	}
	struct timeval tv = { .tv_sec = 1 };
	setsockopt(mnl_socket_get_fd(c->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	c->portid = mnl_socket_get_portid(c->nl);
	c->seq = (unsigned)time(NULL);
	return 0;
}

static void nl_close(struct nl_ctx *c)
{
	if (c->nl)
		mnl_socket_close(c->nl);
	c->nl = NULL;
}

/* Send nlh and run cb over every reply until the dump ends.  0 or -errno. */
/*
 * The longest prefix of buf made of whole, padded netlink messages.  libmnl's
 * mnl_cb_run() walks past the end of a buffer whose last message claims more
 * than is left, and reads attributes up to the aligned end of a message
 * (both found by fuzz_netlink); the kernel never sends such replies, but a
 * reply is input like any file.
 */
static size_t nl_whole_messages(const void *buf, size_t len)
{
	size_t off = 0;
	while (len - off >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;
		memcpy(&h, (const char *)buf + off, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - off)
			break;
		/* libmnl reads attributes up to the aligned end: a message
		 * without its padding is not whole (the kernel always pads) */
		size_t step = NLMSG_ALIGN(h.nlmsg_len);
		if (step > len - off)
			break;
		off += step;
	}
	return off;
}

static int nl_talk(struct nl_ctx *c, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	nlh->nlmsg_seq = ++c->seq;
	if (mnl_socket_sendto(c->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	char *buf = xmalloc(NL_BUF);
	int ret;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(c->nl, buf, NL_BUF);
		if (n < 0) {
			ret = -errno;
			break;
		}
		ret = mnl_cb_run(buf, nl_whole_messages(buf, (size_t)n), c->seq, c->portid, cb, data);
		if (ret <= MNL_CB_STOP) {
			ret = ret < 0 ? -(errno ? errno : EPROTO) : 0;
			break;
		}
	}
	free(buf);
	return ret;
}

/* ---- qdiscs ---- */

struct attr_tab {
	const struct nlattr *tb[16];
};

static int attr_store(const struct nlattr *a, void *data)
{
	struct attr_tab *t = data;
	uint16_t type = mnl_attr_get_type(a);
	if (type < ARRAY_SIZE(t->tb))
		t->tb[type] = a;
	return MNL_CB_OK;
}

static json_t *ju64(uint64_t v)
{
	return json_integer((json_int_t)(v & INT64_MAX));
}

static void handle_str(char *dst, size_t n, uint32_t h)
{
	if (h == TC_H_ROOT)
		snprintf(dst, n, "root");
	else if (h == TC_H_INGRESS)
		snprintf(dst, n, "ingress");
	else
		snprintf(dst, n, "%x:%x", TC_H_MAJ(h) >> 16, TC_H_MIN(h));
}

static int qdisc_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_ctx *c = data;
	if (nlh->nlmsg_type != RTM_NEWQDISC || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct tcmsg)))
		return MNL_CB_OK;
	if (json_array_size(c->out) >= NL_MAX_ENTRIES)
		return MNL_CB_OK;
	const struct tcmsg *tcm = mnl_nlmsg_get_payload(nlh);
	struct attr_tab t;
	memset(&t, 0, sizeof(t));
	if (mnl_attr_parse(nlh, sizeof(*tcm), attr_store, &t) < 0)
		return MNL_CB_OK;
	json_t *o = json_object();
	char ifname[IF_NAMESIZE + 1] = "", hs[24];
	json_object_set_new(o, "ifindex", json_integer(tcm->tcm_ifindex));
	if (if_indextoname((unsigned)tcm->tcm_ifindex, ifname))
		json_object_set_new(o, "ifname", json_string(ifname));
	if (t.tb[TCA_KIND]) {
		char kind[32];
		size_t l = mnl_attr_get_payload_len(t.tb[TCA_KIND]);
		if (l >= sizeof(kind))
			l = sizeof(kind) - 1;
		memcpy(kind, mnl_attr_get_payload(t.tb[TCA_KIND]), l);
		kind[l] = '\0';
		json_object_set_new(o, "kind", json_string(kind));
	}
	handle_str(hs, sizeof(hs), tcm->tcm_handle);
	json_object_set_new(o, "handle", json_string(hs));
	handle_str(hs, sizeof(hs), tcm->tcm_parent);
	json_object_set_new(o, "parent", json_string(hs));
	if (t.tb[TCA_STATS2]) {
		struct attr_tab s;
		memset(&s, 0, sizeof(s));
		if (mnl_attr_parse_nested(t.tb[TCA_STATS2], attr_store, &s) >= 0) {
			const struct nlattr *b = s.tb[TCA_STATS_BASIC], *q = s.tb[TCA_STATS_QUEUE];
			if (b && mnl_attr_get_payload_len(b) >= sizeof(struct gnet_stats_basic)) {
				struct gnet_stats_basic gb;
				memcpy(&gb, mnl_attr_get_payload(b), sizeof(gb));
				uint64_t pk = gb.packets;
				const struct nlattr *p64 = s.tb[TCA_STATS_PKT64];
				if (p64 && mnl_attr_get_payload_len(p64) >= 8)
					memcpy(&pk, mnl_attr_get_payload(p64), 8);
				json_object_set_new(o, "bytes", ju64(gb.bytes));
				json_object_set_new(o, "packets", ju64(pk));
			}
			if (q && mnl_attr_get_payload_len(q) >= sizeof(struct gnet_stats_queue)) {
				struct gnet_stats_queue gq;
				memcpy(&gq, mnl_attr_get_payload(q), sizeof(gq));
				json_object_set_new(o, "qlen", json_integer(gq.qlen));
				json_object_set_new(o, "backlog", json_integer(gq.backlog));
				json_object_set_new(o, "drops", json_integer(gq.drops));
				json_object_set_new(o, "requeues", json_integer(gq.requeues));
				json_object_set_new(o, "overlimits", json_integer(gq.overlimits));
			}
		}
	} else if (t.tb[TCA_STATS] && mnl_attr_get_payload_len(t.tb[TCA_STATS]) >= sizeof(struct tc_stats)) {
		struct tc_stats ts;
		memcpy(&ts, mnl_attr_get_payload(t.tb[TCA_STATS]), sizeof(ts));
		json_object_set_new(o, "bytes", ju64(ts.bytes));
		json_object_set_new(o, "packets", json_integer(ts.packets));
		json_object_set_new(o, "qlen", json_integer(ts.qlen));
		json_object_set_new(o, "backlog", json_integer(ts.backlog));
		json_object_set_new(o, "drops", json_integer(ts.drops));
		json_object_set_new(o, "overlimits", json_integer(ts.overlimits));
	}
	json_array_append_new(c->out, o);
	return MNL_CB_OK;
}

static char *dump_text(json_t *j)
{
	char *txt = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return txt ? txt : xstrdup("{\"error\":\"out of memory\"}");
}

static char *error_json(const char *what, int err)
{
	json_t *o = json_object();
	char *m = xasprintf("%s: %s", what, strerror(err));
	json_object_set_new(o, "error", json_string(m));
	free(m);
	return dump_text(o);
}

char *qdisc_dump_json(void)
{
	struct nl_ctx c;
	int r = nl_open(&c, NETLINK_ROUTE);
	if (r < 0)
		return error_json("failed to open a rtnetlink socket", -r);
	char req[256];
	memset(req, 0, sizeof(req));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = RTM_GETQDISC;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	struct tcmsg *tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	c.out = json_array();
	r = nl_talk(&c, nlh, qdisc_cb, &c);
	nl_close(&c);
	if (r < 0) {
		json_decref(c.out);
		return error_json("failed to dump qdiscs (RTM_GETQDISC)", -r);
	}
	return dump_text(c.out);
}

/* ---- netdev qstats ---- */

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	int *id = data;
	struct attr_tab t;
	memset(&t, 0, sizeof(t));
	if (mnl_attr_parse(nlh, sizeof(struct genlmsghdr), attr_store, &t) >= 0 && t.tb[CTRL_ATTR_FAMILY_ID] &&
	    mnl_attr_get_payload_len(t.tb[CTRL_ATTR_FAMILY_ID]) >= 2)
		*id = mnl_attr_get_u16(t.tb[CTRL_ATTR_FAMILY_ID]);
	return MNL_CB_OK;
}

static uint64_t attr_uint(const struct nlattr *a)
{
	uint16_t l = mnl_attr_get_payload_len(a);
	if (l >= 8) {
		uint64_t v;
		memcpy(&v, mnl_attr_get_payload(a), 8);
		return v;
	}
	if (l >= 4)
		return mnl_attr_get_u32(a);
	return 0;
}

struct qs_tab {
	const struct nlattr *tb[8 + ARRAY_SIZE(qstat_names)];
};

static int qs_store(const struct nlattr *a, void *data)
{
	struct qs_tab *t = data;
	uint16_t type = mnl_attr_get_type(a);
	if (type < ARRAY_SIZE(t->tb))
		t->tb[type] = a;
	return MNL_CB_OK;
}

static int qstats_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_ctx *c = data;
	if (json_array_size(c->out) >= NL_MAX_ENTRIES)
		return MNL_CB_OK;
	struct qs_tab t;
	memset(&t, 0, sizeof(t));
	if (mnl_attr_parse(nlh, sizeof(struct genlmsghdr), qs_store, &t) < 0 || !t.tb[HQ_NETDEV_A_QSTATS_IFINDEX])
		return MNL_CB_OK;
	json_t *o = json_object();
	unsigned ifx = (unsigned)attr_uint(t.tb[HQ_NETDEV_A_QSTATS_IFINDEX]);
	char ifname[IF_NAMESIZE + 1] = "";
	json_object_set_new(o, "ifindex", json_integer(ifx));
	if (if_indextoname(ifx, ifname))
		json_object_set_new(o, "ifname", json_string(ifname));
	if (t.tb[HQ_NETDEV_A_QSTATS_QUEUE_TYPE])
		json_object_set_new(o, "type",
				    json_string(attr_uint(t.tb[HQ_NETDEV_A_QSTATS_QUEUE_TYPE]) == 0 ? "rx" : "tx"));
	if (t.tb[HQ_NETDEV_A_QSTATS_QUEUE_ID])
		json_object_set_new(o, "queue", ju64(attr_uint(t.tb[HQ_NETDEV_A_QSTATS_QUEUE_ID])));
	for (size_t i = 0; i < ARRAY_SIZE(qstat_names); i++)
		if (t.tb[8 + i])
			json_object_set_new(o, qstat_names[i], ju64(attr_uint(t.tb[8 + i])));
	json_array_append_new(c->out, o);
	return MNL_CB_OK;
}

int netlink_parse_replies(const void *buf, size_t len, bool qstats, json_t *out)
{
	struct nl_ctx c;
	memset(&c, 0, sizeof(c));
	c.out = out;
	/* seq and portid 0: libmnl checks neither */
	return mnl_cb_run(buf, nl_whole_messages(buf, len), 0, 0, qstats ? qstats_cb : qdisc_cb, &c);
}

char *qstats_dump_json(void)
{
	struct nl_ctx c;
	int r = nl_open(&c, NETLINK_GENERIC);
	if (r < 0)
		return error_json("failed to open a generic netlink socket", -r);
	char req[256];
	memset(req, 0, sizeof(req));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, "netdev");
	int fam = -1;
	r = nl_talk(&c, nlh, family_cb, &fam);
	if (r < 0 || fam < 0) {
		nl_close(&c);
		return error_json("no 'netdev' generic netlink family (kernel before 6.5)", r < 0 ? -r : ENOENT);
	}
	memset(req, 0, sizeof(req));
	nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = (uint16_t)fam;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = HQ_NETDEV_CMD_QSTATS_GET;
	g->version = 1;
	mnl_attr_put_u32(nlh, HQ_NETDEV_A_QSTATS_SCOPE, HQ_NETDEV_QSTATS_SCOPE_QUEUE);
	c.out = json_array();
	r = nl_talk(&c, nlh, qstats_cb, &c);
	nl_close(&c);
	if (r < 0) {
		json_decref(c.out);
		return error_json("netdev qstats-get failed (kernel before 6.9?)", -r);
	}
	return dump_text(c.out);
}
