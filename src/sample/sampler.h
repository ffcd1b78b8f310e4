/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The live sampler: reads the kernel files of every family on a fixed tick.
 * Hot files (/proc/stat, PSI, loadavg, /proc/schedstat) are opened once and
 * pread() each tick; the slow families (per-task schedstat, cgroup cpu.stat)
 * are walked on "slow" ticks, about once a second and always on the first and
 * last tick, because walking /proc costs more than all hot files together.
 */
#ifndef HQ_SAMPLER_H
#define HQ_SAMPLER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "../core/sample.h"
#include "../sys/fsroot.h"
#include "../sources/stalls.h"

/* Set by SIGINT/SIGTERM handlers: finish the current run cleanly. */
extern volatile sig_atomic_t hq_exiting;
extern volatile sig_atomic_t hq_exit_signal;	/* the signal that set hq_exiting */
void install_exit_handlers(void);
/* SIGHUP sets hq_reload (continuous commands re-read their configuration). */
extern volatile sig_atomic_t hq_reload;
void install_reload_handler(void);

struct sampler_opts {
	uint64_t interval_ns;	/* tick length */
	unsigned count;		/* ticks to take; 0: until hq_exiting */
	uint64_t slow_interval_ns; /* read the slow families this often (0: every second) */
	bool tasks;		/* walk per-task schedstat on slow ticks */
	bool cgroups;		/* walk cgroup cpu.stat on slow ticks */
	bool memory;		/* per-node and per-process memory on slow ticks */
	enum stall_method stalls; /* how to watch for execution stalls (stalls.h; 0: off) */
	bool kmsg;		/* read /dev/kmsg for signs of a stalled guest */
	bool io;		/* diskstats each tick; block queue configuration once */
	bool net;		/* net/dev, softnet each tick; ethtool, qdiscs, snmp on slow ticks */
	bool vms;		/* host mode: VM vCPU schedstat each tick, the rest on slow ticks (host/vmscan.h) */
	const char *const *vms_qmp; /* NULL-terminated "NAME=SOCKET" QMP sockets this run owns */
	bool vms_qmp_histograms;	/* turn on QEMU's block latency histograms on those sockets */
	bool bpf;		/* eBPF run-queue and block histograms, drained on slow ticks */
	bool runq_split;	/* run-queue histograms by wake-up vs preemption (three programs) */
	bool runq_no_cgroups;	/* no per-cgroup run-queue histograms */
};

struct hot_file {
	const char *path;
	int fd;			/* -1 when absent */
	int err;		/* errno from the open, for the capability report */
	char *buf;
	size_t cap;
};

struct sampler {
	struct fsroot root;
	struct sampler_opts o;
	unsigned slow_every;
	unsigned proc_every;	/* slow ticks between scans of the biggest processes' memory */
	struct hot_file *hot;
	size_t nhot;
	struct sample statics;	/* read once; includes .hiddenq/identity.json */
	unsigned taken;
	char *cg_roots[4];	/* cgroup hierarchies with cpu.stat, relative */
	unsigned ncg_roots;
	unsigned long task_bytes, ntasks_last; /* for the cost report */
	unsigned slow_taken;
	uint64_t *seen_tasks;	/* (pid << 32 | tid) whose comm was read: set */
	size_t seen_cap, seen_n;
	struct stalls *stalls;
	struct kmsgmon *kmsg;
	struct bpfsrc *bpf;	/* NULL unless o.bpf */
	struct vmscan *vms;	/* NULL unless o.vms */
};

int sampler_init(struct sampler *sp, const char *root, const struct sampler_opts *o);
void sampler_done(struct sampler *sp);
/* Take one sample now. */
void sampler_take(struct sampler *sp, struct sample *out, bool slow);
/*
 * Run the full schedule: `count` ticks (0: until stopped) `interval` apart on absolute deadlines
 * (a late tick does not shift the following ones), calling cb for each.  Stops
 * early, cleanly, when hq_exiting is set.  Returns the number of ticks taken.
 */
unsigned sampler_run(struct sampler *sp, void (*cb)(struct sample *s, void *arg), void *arg);
/* Availability of each source, for meta.json and the capability report. */
json_t *sampler_sources_json(const struct sampler *sp);
/* Paths stored once in sample 0 (topology and configuration). */
json_t *sampler_static_paths_json(const struct sampler *sp);

#endif
