/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * A QMP client: one short conversation with a QEMU monitor on a unix
 * socket.  QMP allows one client per monitor, so hiddenq only talks to
 * sockets a run was given (vms --qmp, probe dirty --qmp), never to one a
 * manager such as libvirt holds.
 *
 * Every answer is awaited at most timeout_ms (the greeting and each
 * command); events that arrive before it are skipped.  Errors are
 * sentences for the user, malloc'd, in *err.
 */
#ifndef HQ_QMP_H
#define HQ_QMP_H

#include <stddef.h>

#include <jansson.h>

/* QEMU answered the command with an error (its error object is the reply). */
#define QMP_REFUSED 1

struct qmp {
	int fd;
	int timeout_ms;		/* per answer; may be changed between commands */
	char *buf;		/* bytes read but not yet taken (owned) */
	size_t have, cap;
};

/*
 * Connect to the monitor at path, read its greeting and leave capabilities
 * negotiation (qmp_capabilities).  0, or a negative errno with *err (and
 * nothing to close): -ENAMETOOLONG, the errno of socket() or connect(), or
 * -EPROTO when the other end does not speak QMP (no greeting, no answer,
 * capabilities refused).
 */
int qmp_open(struct qmp *q, const char *path, int timeout_ms, char **err);

/*
 * Execute cmd with args (a JSON object, stolen; NULL for none) and wait for
 * its answer.  0 with *reply the "return" value; QMP_REFUSED with *reply
 * QEMU's error object ({"class", "desc"}) and *err "QMP <cmd>: <desc>"; a
 * negative errno with *reply NULL and *err saying why no answer came.
 * *reply is a new reference either way (NULL or the caller's to drop).
 */
int qmp_command(struct qmp *q, const char *cmd, json_t *args, json_t **reply, char **err);

void qmp_close(struct qmp *q);

#endif
