/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Running another program, bounded: argv without a shell, stdin from
 * /dev/null, stdout and stderr captured up to a limit (or sent to
 * /dev/null), the child in a process group of its own, and a deadline.  At
 * the deadline (or when *stop becomes nonzero: Ctrl-C) the child gets
 * SIGTERM and grace_ms to finish what it started, then its whole group gets
 * SIGKILL; with no grace, SIGKILL at once.  The probes' helpers (ip, tc),
 * the lab's VM driver and the audit's virsh all run through here.
 */
#ifndef HQ_PROC_RUN_H
#define HQ_PROC_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_run {
	/* what to run (set by the caller) */
	char *const *argv;		/* argv[0] looked up in PATH unless it holds a '/' */
	int timeout_ms;			/* from the start */
	int grace_ms;			/* SIGTERM to SIGKILL; 0: SIGKILL at once */
	size_t out_max, err_max;	/* bytes of stdout / stderr kept (the rest is read and dropped); 0: /dev/null */
	bool forward_err;		/* also copy stderr to ours as it arrives */
	volatile sig_atomic_t *stop;	/* stop early when this becomes nonzero; NULL: never */
	/* what happened (proc_start / proc_wait) */
	pid_t pid;			/* the child, also its process group */
	char *out, *err;		/* captured, NUL-terminated ("" when nothing; owned) */
	size_t out_len, err_len;
	bool timed_out, stopped;	/* ended by the deadline / by *stop */
	char why[256];			/* why the result is -1 */
	/* private */
	int fd_out, fd_err, pidfd;
	uint64_t deadline_ns;
	size_t out_cap, err_cap;
};

/* Start argv.  0, or -1 with why ("cannot run ...: ..."); either way proc_run_done() frees what it holds. */
int proc_start(struct proc_run *r);
/* Wait for the child started by proc_start: its exit status (0-255), or -1
 * with why (killed by a signal, timed out, stopped). */
int proc_wait(struct proc_run *r);
/* proc_start, then proc_wait. */
int proc_run(struct proc_run *r);
void proc_run_done(struct proc_run *r);

#endif
