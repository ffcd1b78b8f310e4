/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Parsers of kernel text files.  Each takes a buffer and its length (not
 * necessarily NUL-terminated: fuzzers hand us raw bytes), never reads past
 * it, and returns 0 or -EINVAL.  A parser fills what it can recognise and
 * says which optional parts it found; it does not do arithmetic across
 * samples (that is analysis/).
 */
#ifndef HQ_PARSE_H
#define HQ_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- line scanning helpers (parse/scan.c) ---- */

struct scan {
	const char *p, *end;
};

/* Next line (without '\n') into [*ls, *le); false at the end. */
bool scan_line(struct scan *s, const char **ls, const char **le);
/* Skip blanks, parse an unsigned decimal; false if no digits or overflow. */
bool scan_u64(const char **p, const char *end, uint64_t *out);
/* Skip blanks, parse a signed decimal. */
bool scan_i64(const char **p, const char *end, int64_t *out);
/* Skip blanks, parse a decimal with optional fraction ("12.34"). */
bool scan_double(const char **p, const char *end, double *out);
/* Skip blanks, then return a word (non-blank run) in [*ws, *we). */
bool scan_word(const char **p, const char *end, const char **ws, const char **we);
bool word_eq(const char *ws, const char *we, const char *lit);
bool prefix_eq(const char *ls, const char *le, const char *lit);

/* ---- /proc/stat (parse/procstat.c) ---- */

enum {
	CT_USER, CT_NICE, CT_SYSTEM, CT_IDLE, CT_IOWAIT, CT_IRQ, CT_SOFTIRQ,
	CT_STEAL, CT_GUEST, CT_GUEST_NICE, CT_NFIELDS
};

struct cpu_times {
	int cpu;		/* -1 for the aggregate "cpu" line */
	unsigned nfields;	/* how many columns the kernel printed (4..10) */
	uint64_t v[CT_NFIELDS]; /* USER_HZ ticks; missing columns are 0 */
};

struct procstat {
	struct cpu_times all;
	bool has_all;
	struct cpu_times *cpus;	/* sorted by cpu id, owned */
	size_t ncpus;
	uint64_t ctxt, btime, procs_running, procs_blocked;
	bool has_ctxt, has_btime, has_running, has_blocked;
};

int procstat_parse(const char *buf, size_t len, struct procstat *out);
void procstat_done(struct procstat *ps);
/* Sum of the time fields that partition a CPU's time (user..steal). guest and
 * guest_nice are already inside user and nice, so they are not added. */
uint64_t cpu_times_total(const struct cpu_times *t);
const struct cpu_times *procstat_cpu(const struct procstat *ps, int cpu);

/* ---- /proc/pressure/<resource> (parse/psi.c) ---- */

struct psi_line {
	double avg10, avg60, avg300;
	uint64_t total_us;
};

struct psi {
	struct psi_line some, full;
	bool has_some, has_full;
};

int psi_parse(const char *buf, size_t len, struct psi *out);

/* ---- schedstat (parse/schedstat.c) ---- */

/* /proc/PID/task/TID/schedstat: "<ns on cpu> <ns waiting> <timeslices>" */
struct task_schedstat {
	uint64_t cpu_ns, delay_ns, slices;
};
int task_schedstat_parse(const char *buf, size_t len, struct task_schedstat *out);

/* /proc/schedstat, per-CPU lines only (domain lines are skipped). */
struct cpu_schedstat {
	int cpu;
	uint64_t run_ns;	/* rq_cpu_time, field 7 */
	uint64_t delay_ns;	/* run_delay, field 8 */
	uint64_t slices;	/* pcount, field 9 */
};
struct proc_schedstat {
	unsigned version;
	struct cpu_schedstat *cpus; /* owned */
	size_t ncpus;
};
int proc_schedstat_parse(const char *buf, size_t len, struct proc_schedstat *out);
void proc_schedstat_done(struct proc_schedstat *ps);

/* ---- /proc/loadavg ---- */
struct loadavg {
	double load1, load5, load15;
	uint64_t running, total, last_pid;
};
int loadavg_parse(const char *buf, size_t len, struct loadavg *out);

/* ---- cgroup CPU bandwidth (v1 and v2 cpu.stat, cpu.max, cfs_quota) ---- */
struct cg_cpustat {
	uint64_t nr_periods, nr_throttled, throttled_ns, usage_ns;
	bool has_periods, has_throttled_time, has_usage;
};
/* Understands v2 (throttled_usec, usage_usec) and v1 (throttled_time in ns). */
int cg_cpustat_parse(const char *buf, size_t len, struct cg_cpustat *out);
/* v2 cpu.max: "max 100000" or "50000 100000".  quota_us < 0 means no limit. */
int cg_cpumax_parse(const char *buf, size_t len, int64_t *quota_us, uint64_t *period_us);

/* ---- cpu lists ("0-3,8,10-11") ---- */
/* Calls back for each id; returns number of ids or -EINVAL. Ids > max are an error. */
int cpulist_parse(const char *buf, size_t len, int max_id, void (*cb)(int id, void *arg), void *arg);

#endif
