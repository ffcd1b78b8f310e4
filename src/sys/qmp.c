/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "qmp.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../core/util.h"

#define QMP_BUF (1u << 20)	/* the longest answer taken (query-blockstats of many disks) */
#define QMP_MAX_SKIPPED 64	/* events before an answer */

/* The next JSON line within the deadline; lines that are not JSON are skipped.  NULL with *err. */
static json_t *next_message(struct qmp *q, uint64_t deadline, char **err)
{
	for (;;) {
		char *nl = memchr(q->buf, '\n', q->have);
		if (nl) {
			size_t l = (size_t)(nl - q->buf) + 1;
			json_t *j = json_loadb(q->buf, l, 0, NULL);
			memmove(q->buf, q->buf + l, q->have - l);
			q->have -= l;
			if (j)
				return j;
			continue;
		}
		if (q->have >= q->cap) {
			*err = xstrdup("QMP reply too long");
			return NULL;
		}
		uint64_t now = mono_ns();
		int left = now < deadline ? (int)((deadline - now + 999999) / 1000000) : 0;
		struct pollfd p = { .fd = q->fd, .events = POLLIN };
		if (left <= 0 || poll(&p, 1, left) <= 0) {
			*err = xasprintf("QMP: no answer within %g s", q->timeout_ms / 1000.0);
			return NULL;
		}
		ssize_t n = read(q->fd, q->buf + q->have, q->cap - q->have);
		if (n <= 0) {
			*err = xasprintf("QMP: connection closed (%s)", n < 0 ? strerror(errno) : "EOF");
			return NULL;
		}
		q->have += (size_t)n;
	}
}

static uint64_t deadline_of(const struct qmp *q)
{
	return mono_ns() + (uint64_t)(q->timeout_ms > 0 ? q->timeout_ms : 0) * 1000000ull;
}

int qmp_command(struct qmp *q, const char *cmd, json_t *args, json_t **reply, char **err)
{
	*reply = NULL;
	*err = NULL;
	json_t *req = json_object();
	json_object_set_new(req, "execute", json_string(cmd));
	if (args)
		json_object_set_new(req, "arguments", args);
	char *t = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!t) {
		*err = xasprintf("QMP %s: cannot encode the request", cmd);
		return -EINVAL;
	}
	char *line = xasprintf("%s\n", t);
	free(t);
	size_t len = strlen(line), off = 0;
	while (off < len) {
		ssize_t w = write(q->fd, line + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;
			*err = xasprintf("QMP: write failed: %s", strerror(e));
			free(line);
			return -e;
		}
		off += (size_t)w;
	}
	free(line);
	uint64_t deadline = deadline_of(q);
	for (int i = 0; i < QMP_MAX_SKIPPED; i++) {
		json_t *j = next_message(q, deadline, err);
		if (!j)
			return -EIO;
		json_t *r = json_object_get(j, "return");
		if (r) {
			*reply = json_incref(r);
			json_decref(j);
			return 0;
		}
		json_t *e = json_object_get(j, "error");
		if (e) {
			const char *d = json_string_value(json_object_get(e, "desc"));
			*err = xasprintf("QMP %s: %s", cmd, d ? d : "error");
			*reply = json_incref(e);
			json_decref(j);
			return QMP_REFUSED;
		}
		json_decref(j); /* an event */
	}
	*err = xstrdup("QMP: too many events before the answer");
	return -EIO;
}

int qmp_open(struct qmp *q, const char *path, int timeout_ms, char **err)
{
	memset(q, 0, sizeof(*q));
	q->fd = -1;
	q->timeout_ms = timeout_ms;
	*err = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		*err = xstrdup("QMP socket path too long");
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (q->fd < 0 || connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		*err = xasprintf("cannot connect to QMP socket %s: %s", path, strerror(e));
		qmp_close(q);
		return -e;
	}
	q->cap = QMP_BUF;
	q->buf = xmalloc(q->cap);
	json_t *greet = next_message(q, deadline_of(q), err);
	if (greet && !json_object_get(greet, "QMP"))
		*err = xstrdup("not a QMP monitor (no greeting)");
	json_decref(greet);
	json_t *caps = NULL;
	if (*err || qmp_command(q, "qmp_capabilities", NULL, &caps, err) != 0) {
		json_decref(caps);
		qmp_close(q);
		return -EPROTO;
	}
	json_decref(caps);
	return 0;
}

void qmp_close(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	free(q->buf);
	memset(q, 0, sizeof(*q));
	q->fd = -1;
}
