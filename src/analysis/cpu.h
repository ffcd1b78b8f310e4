/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The CPU layer, computed from a stream of samples: per-vCPU time split and
 * steal over the whole watch and over 1 s windows, PSI from the total=
 * counters, runnable counts, per-task and per-CPU run delay, and CFS
 * bandwidth throttling per cgroup.
 *
 * Feed samples in time order (cpu_feed), then cpu_finish.  Only two samples'
 * worth of raw state is kept, so a long watch costs little memory.
 *
 * Why 1 s windows: /proc/stat counts USER_HZ (100/s) ticks, so a 100 ms
 * interval holds ~10 ticks per CPU and one tick is 10 %.  Judging 1 s windows
 * (~100 ticks) keeps one tick of quantization at ~1 % and cannot flip a
 * verdict on its own; a trailing partial window shorter than half a window is
 * merged into the previous one instead of standing alone.
 */
#ifndef HQ_ANALYSIS_CPU_H
#define HQ_ANALYSIS_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/sample.h"
#include "../parse/identity.h"
#include "../parse/parse.h"

enum { PSI_CPU, PSI_MEM, PSI_IO, PSI_N };

struct win_cpu {
	uint64_t steal, total, busy;	/* ticks in this window */
	bool present;
};

struct cpu_window {
	uint64_t start_ns, end_ns;
	struct win_cpu *cpu;	/* indexed like cpu_analysis.slots, nslots entries */
	size_t nslots;
	uint64_t psi_some_us[PSI_N], psi_full_us[PSI_N];
	bool psi_ok[PSI_N];
	uint64_t running_max;
};

struct cpu_slot {
	int cpu;
	bool have_prev;
	struct cpu_times prev;
	uint64_t prev_ns;		/* time of `prev` (samples may be skipped between) */
	uint64_t sum[CT_NFIELDS];	/* ticks over the watch */
	uint64_t total, busy;
	unsigned intervals;
	unsigned resets;		/* counters went backwards / CPU came back */
	/* results (cpu_finish) */
	double steal_avg, steal_worst, steal_share_wanted, busy_pct;
	unsigned win_ge10, win_ge20, win_ge50, nwin_judged;
	uint64_t steal_ticks;
};

struct task_acc {
	int tid, pid;
	bool used;
	uint64_t first_delay, last_delay, first_cpu, last_cpu;
	uint64_t first_ns, last_ns;
	char comm[32];
};

struct cg_acc {
	char *path;	/* cgroup directory, relative */
	int version;	/* 1 or 2 */
	struct cg_cpustat first, last;
	bool have_first, have_last;
	int64_t quota_us;	/* -1 no limit, -2 unknown */
	uint64_t period_us;
	uint64_t first_ns, last_ns;
	/* results */
	uint64_t d_periods, d_throttled, d_throttled_ns;
	double throttled_pct, throttled_ms_per_s;
};

struct cpu_analysis {
	/* inputs */
	struct identity id;
	const struct sample *statics;
	long self_pid;

	/* time */
	unsigned nsamples;
	uint64_t first_ns, last_ns, prev_ns, first_real, last_real;
	uint64_t window_ns;

	/* /proc/stat */
	struct cpu_slot *slots;
	size_t nslots, capslots;
	bool have_procstat;
	unsigned procstat_bad;		/* samples whose /proc/stat did not parse */
	unsigned psi_bad;		/* PSI files present but unparseable */
	unsigned min_nfields;		/* fewest columns seen (no steal column if < 8) */
	unsigned ref_nfields;		/* most columns seen: a kernel does not lose columns */
	uint64_t steal_boot_first;	/* aggregate steal since boot, first sample */
	uint64_t steal_boot_last;
	bool have_steal_boot;
	unsigned cpus_online_first, cpus_online_last, cpus_max;
	bool cpus_changed;

	/* windows */
	struct cpu_window *wins;
	size_t nwins, capwins;
	struct cpu_window cur;
	bool cur_open;

	/* PSI */
	bool psi_seen[PSI_N], psi_full_seen[PSI_N];
	bool psi_have_prev[PSI_N];
	struct psi psi_prev[PSI_N];
	uint64_t psi_some_us[PSI_N], psi_full_us[PSI_N], psi_time_ns[PSI_N];
	double psi_avg10_last[PSI_N];

	/* runnable */
	uint64_t running_sum, running_max, running_last;
	unsigned running_n;
	double load1_last;
	bool have_loadavg;

	/* /proc/schedstat per CPU */
	bool have_proc_schedstat;
	unsigned proc_schedstat_version;
	uint64_t *rq_delay_first, *rq_delay_last;	/* by cpu id */
	int rq_ncpu;
	uint64_t rq_first_ns, rq_last_ns;

	/* tasks */
	struct task_acc *tasks;
	size_t tasks_cap, ntasks;
	unsigned task_samples;
	uint64_t tasks_first_ns, tasks_last_ns;

	/* cgroups */
	struct cg_acc *cgs;
	size_t ncgs, capcgs;
	unsigned cg_samples;
	bool cg_v1_seen, cg_v2_seen;

	/* results of cpu_finish: windows judged, tasks sorted by wait */
	struct task_acc **top_tasks;
	size_t ntop;
	double runq_wait_tasks_avg;	/* mean number of tasks waiting (Σ delay / T) */
	bool finished;
	/* what cpu_finish did to the trailing partial window, for cpu_unfinish */
	bool fin_pushed, fin_merged;
	struct cpu_window fin_saved;	/* the last window before the merge */
};

void cpu_init(struct cpu_analysis *a, const struct sample *statics);
void cpu_feed(struct cpu_analysis *a, const struct sample *s);
/*
 * Judge the windows and compute the results (steal per slot, top tasks,
 * cgroup rates).  Idempotent; cpu_unfinish undoes what it did to the
 * windows, so a continuous run can evaluate, then go on feeding.
 */
void cpu_finish(struct cpu_analysis *a);
void cpu_unfinish(struct cpu_analysis *a);
void cpu_done(struct cpu_analysis *a);

/* Helpers for rules and sinks. */
double cpu_window_steal_pct(const struct cpu_window *w, size_t slot);
double cpu_window_psi_pct(const struct cpu_window *w, int res, bool full);
double cpu_watch_s(const struct cpu_analysis *a);
/* Longest run of consecutive windows with PSI `res` some >= thr. */
unsigned cpu_psi_longest_run(const struct cpu_analysis *a, int res, double thr, double *worst);

/* Steal reporting: whether this machine reports steal at all, and why. */
bool cpu_steal_reported(const struct cpu_analysis *a, const char **why);

#endif
