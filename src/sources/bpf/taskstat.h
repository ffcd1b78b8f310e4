/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The schedstat of many threads in one read: an eBPF program
 * (src/bpf/taskstat.bpf.c) writes one fixed-size record per thread of a
 * filter that user space keeps: tgid, tid, and the three numbers
 * /proc/TGID/task/TID/schedstat prints.  taskstat_format() turns a record
 * into that file's exact text ("%llu %llu %lu\n").  Host mode
 * (host/vmscan.c) reads its vCPU threads this way when it can and stores
 * each thread's text under its /proc path, so samples, bundles and the
 * analysis do not know which way it was read.
 *
 * The record decoder and the formatter are pure and always built (unit
 * tests, fuzzing).  The rest needs HQ_WITH_BPF; without it taskstat_open
 * says "built without eBPF".  Nothing here exits or prints.
 */
#ifndef HQ_TASKSTAT_H
#define HQ_TASKSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes per record (struct taskstat_rec in src/bpf/taskstat.h). */
#define TASKSTAT_REC_SIZE 32
/* The longest text: three 20-digit numbers, two spaces and '\n'. */
#define TASKSTAT_TEXT_MAX 63

/* One thread's record, decoded. */
struct taskstat_line {
	uint32_t tgid, tid;
	uint64_t sum_exec_runtime, run_delay, pcount;
};

/*
 * Decode the record at *p (up to end).  Returns 1 with *l filled, 0 at the
 * end of the data, -EINVAL for a record with tgid or tid 0 or one cut short;
 * *p moves past the record (to end when cut short).
 */
int taskstat_next(const char **p, const char *end, struct taskstat_line *l);
/*
 * The schedstat file's text of l into out (at least TASKSTAT_TEXT_MAX + 1
 * bytes; NUL-terminated): "SUM RUN_DELAY PCOUNT\n", as the kernel's
 * "%llu %llu %lu\n".  Returns its length without the NUL.
 */
size_t taskstat_format(const struct taskstat_line *l, char *out);

struct taskstat;

/*
 * Load the first of the three programs this kernel accepts, in this order:
 * "tid_run" (a syscall program run once per read over a list of tids; Linux
 * 6.10), "tid_list" (an iterator over a list of tids; 6.2), "all_tasks" (an
 * iterator over every task, 5.8, with a bitmap of tids below this machine's
 * pid_max).  Each is tried; NULL when none loads, with a malloc'd *why that
 * gives every refusal in turn (no root/CAP_BPF, no BTF, the kernel's load
 * error, a build without eBPF).  HIDDENQ_TASKSTAT_PROG=run, list or all in
 * the environment tries that one alone (tests, bench).
 */
struct taskstat *taskstat_open(char **why);
/* "tid_run", "tid_list" or "all_tasks": the program loaded ("" without eBPF). */
const char *taskstat_kind(const struct taskstat *ts);
/*
 * Why not a program tried before the one loaded: their refusals, in order
 * ("; " between them), or that HIDDENQ_TASKSTAT_PROG picked it; NULL when
 * the first one loaded.  Owned by ts.
 */
const char *taskstat_fallback_why(const struct taskstat *ts);
/*
 * Whether a pass visits every task on the machine ("all_tasks"), so its
 * cost follows the machine's task count rather than the tids set; then it
 * can be slower than reading the /proc files one by one.
 */
bool taskstat_visits_all(const struct taskstat *ts);
/* Thread ids that can be set: 1 .. taskstat_tid_limit() - 1. */
uint32_t taskstat_tid_limit(const struct taskstat *ts);
/*
 * Make the threads read exactly these n thread ids (each below the limit),
 * written in this order (the tid-list programs; "all_tasks" goes by tid).
 * No system call unless the list outgrows its array.  0, or -ERANGE when a
 * tid is out of range, or -errno (then close ts: what it reads is unknown).
 */
int taskstat_set(struct taskstat *ts, const uint32_t *tid, size_t n);
/*
 * One run of the program (or pass of the iterator): every filtered thread
 * that still exists.  *buf (owned by ts, valid until the next call) holds
 * *len bytes of records.  0 or -errno.
 */
int taskstat_read(struct taskstat *ts, const char **buf, size_t *len);
/* NULL is fine. */
void taskstat_close(struct taskstat *ts);

#endif
