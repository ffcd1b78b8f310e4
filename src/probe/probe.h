/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * What every active probe shares: the context it ran in (steal and PSI over
 * the run, the cpuidle driver and its states' exit latency, page size and
 * THP mode, the hypervisor), the clean-up of what it created (files, network
 * namespaces, child processes, a cgroup) on a normal exit and on Ctrl-C.
 *
 * Each probe is one file here with a run function that takes its parameters
 * and returns a JSON result (`X_run`, also called by `hiddenq lab`).  Its
 * command line is cmd/probe_X.c, its text printer `X_print` in
 * sinks/probe.c.
 */
#ifndef HQ_PROBE_H
#define HQ_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "../core/json.h"
#include "../core/util.h"	/* hq_exiting, install_exit_handlers */

struct probe_env {
	uint64_t t0_ns, t1_ns;
	char *stat0, *stat1;		/* /proc/stat at begin and end */
	char *psi0[3], *psi1[3];	/* cpu, memory, io */
	char hypervisor[64], kernel[96], cpuidle_driver[32], cpuidle_governor[32], clocksource[32], thp[16];
	long page_size;
	unsigned ncpus;
	bool tcg, guest;
	json_t *cstates;		/* [{"name","exit_latency_us"}] of cpu0 */
	int cstate_max_exit_us;
};

void probe_env_begin(struct probe_env *e);
void probe_env_end(struct probe_env *e);
void probe_env_done(struct probe_env *e);
/* {"hypervisor", "kernel", "cpus", "page_size", "thp", "cpuidle": {...}, "steal_pct", "psi": {...}} */
json_t *probe_env_json(const struct probe_env *e);
/* Steal share (%) of all CPU time between two /proc/stat texts; -1 if unknown. */
double probe_steal_pct(const char *a, const char *b);
/* The same for one CPU (-1: the aggregate line). */
double probe_steal_pct_cpu(const char *a, const char *b, int cpu);

/* ---- clean-up registry (signal-safe to fill, run from the main thread) ---- */
void probe_track_path(const char *path);		/* file or empty directory */
void probe_untrack_path(const char *path);
void probe_track_netns(const char *name);
void probe_track_pid(pid_t pid);			/* SIGKILLed and reaped */
void probe_untrack_pid(pid_t pid);
void probe_track_cgroup(const char *dir);		/* rmdir'd after its tasks die */
void probe_cleanup(void);				/* idempotent; also atexit */
/* Install SIGINT/SIGTERM handlers that set hq_exiting, and the atexit hook. */
void probe_setup_signals(void);
/* Run argv (no shell, sys/proc_run.h) for at most timeout_s: stdout into out_buf (NUL-terminated)
 * or to /dev/null, stderr to /dev/null.  Its exit status, or -1 (not run, killed, timed out). */
int probe_exec(char *const argv[], char *out_buf, size_t out_len, int timeout_s);

/* ---- the probes: parameters, run functions (a JSON result each) ---- */

struct jitter_params {
	uint64_t duration_ns;	/* all phases together */
	uint64_t interval_ns;
	uint64_t slack_ns;
	int fifo_prio;		/* 0: do not try SCHED_FIFO */
	bool dma;		/* also run with /dev/cpu_dma_latency held */
	bool gaps;
	uint64_t gap_ns;
	int only_cpu;		/* -1: every CPU we may run on */
};
json_t *jitter_run(const struct jitter_params *p);

struct mem_params {
	uint64_t min_size, max_size, pair_size, bw_size;
	uint64_t per_point_ns;
	bool do_4k, do_thp, pairs;
};
json_t *mem_run(const struct mem_params *p, const struct probe_env *e);
/* Sizes to powers of two, and to half of MemAvailable (with a warning). */
void mem_params_fit(struct mem_params *p);

struct io_params {
	const char *dir;	/* where to create the file */
	const char *file;	/* exact path to create */
	const char *target;	/* existing file or block device, read-only */
	uint64_t size;
	uint64_t phase_ns;	/* per phase */
	uint64_t gap_ns;
	bool write;
	bool no_spaced;
};
json_t *io_run(const struct io_params *p);

struct oversub_params {
	uint64_t period_ns, work_ns, step_ns;
	unsigned max_factor;
};
json_t *oversub_run(const struct oversub_params *p, const struct probe_env *e);

enum dirty_method { DIRTY_AUTO, DIRTY_SOFTDIRTY, DIRTY_UFFD, DIRTY_QMP };
struct dirty_params {
	enum dirty_method method;
	long pid;		/* 0: own workload */
	const char *qmp;
	uint64_t rate, wss;	/* own workload */
	uint64_t duration_ns;
	double bw_Bps, downtime_s;
	uint64_t mem_bytes;	/* 0: from the target */
};
json_t *dirty_run(const struct dirty_params *p, const struct probe_env *e);
/* Only the probe's own workload, for p->duration_ns (another process measures it with --pid);
 * with notify, "ready PID" on stdout once its working set is touched.  0, or -1 if it cannot map it. */
int dirty_workload(const struct dirty_params *p, bool notify);

struct net_params {
	uint64_t phase_ns;
	unsigned queues;	/* the multi-queue run */
	unsigned pkt;		/* UDP payload bytes */
};
json_t *net_run(const struct net_params *p);

/* probe wakeup: one thread waking another on an idle CPU, at rising idle gaps (probe/wakeup.c) */
struct wakeup_params {
	uint64_t gaps_ns[16];	/* idle gaps, ascending; 0: wake as soon as the sleeper blocked */
	unsigned ngaps;
	uint64_t per_gap_ns;	/* time per gap, stretched to min_samples gaps for long ones */
	unsigned min_samples, max_samples;
	int cpu_waker, cpu_sleeper;	/* -1: the first two CPUs we may run on */
};
void wakeup_params_default(struct wakeup_params *p, bool quick);
json_t *wakeup_run(const struct wakeup_params *p);
json_t *wakeup_lab(bool quick);

/* bounded runs for `hiddenq lab` (quick: a few seconds each) */
json_t *mem_lab(bool quick, const struct probe_env *e);
json_t *oversub_lab(bool quick, const struct probe_env *e);
/* io_lab: on a file it creates in dir, or read-only on target when given;
 * phases of IO_LAB_PHASE_NS, spaced by IO_LAB_GAP_NS (the VM half of the lab
 * runs the same probe with the same settings inside a test VM) */
#define IO_LAB_PHASE_NS(quick) ((quick) ? 700000000ull : 3000000000ull)
#define IO_LAB_GAP_NS 2000000ull
json_t *io_lab(bool quick, const char *dir, const char *target);
/* Create path (must not exist) with size bytes of random data, synced and
 * dropped from the page cache; -1 with why filled. */
int io_create_file(const char *path, uint64_t size, char *why, size_t n);
json_t *net_lab(bool quick);

#endif
