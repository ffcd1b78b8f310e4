/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The memory layer from a stream of samples: /proc/vmstat and /proc/meminfo
 * rates (swap, faults, reclaim, compaction, THP, NUMA placement, balloon),
 * per-node numastat, where the biggest processes' pages are against where
 * their threads ran, and the execution stalls (a sampler thread's late
 * wake-ups, or late kernel timers: sources/stalls.h) with what moved in the
 * same interval.  Per-window figures use the CPU analysis' 1 s
 * windows so that PSI and counters line up.
 */
#ifndef HQ_ANALYSIS_MEM_H
#define HQ_ANALYSIS_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/sample.h"
#include "../parse/memparse.h"
#include "../parse/parse.h"

enum vm_key {
	VK_ALLOCSTALL_DMA, VK_ALLOCSTALL_DMA32, VK_ALLOCSTALL_MOVABLE, VK_ALLOCSTALL_NORMAL,
	VK_BALLOON_DEFLATE, VK_BALLOON_INFLATE,
	VK_COMPACT_FAIL, VK_COMPACT_STALL, VK_COMPACT_SUCCESS,
	VK_NR_BALLOON_PAGES,
	VK_NUMA_FOREIGN, VK_NUMA_HINT_FAULTS, VK_NUMA_HINT_FAULTS_LOCAL, VK_NUMA_HIT, VK_NUMA_LOCAL,
	VK_NUMA_MISS, VK_NUMA_OTHER, VK_NUMA_PAGES_MIGRATED,
	VK_PGMAJFAULT, VK_PGSCAN_DIRECT, VK_PGSCAN_KSWAPD, VK_PGSTEAL_DIRECT, VK_PGSTEAL_KSWAPD,
	VK_PSWPIN, VK_PSWPOUT,
	VK_THP_COLLAPSE_ALLOC, VK_THP_COLLAPSE_ALLOC_FAILED, VK_THP_FAULT_ALLOC, VK_THP_FAULT_FALLBACK,
	VK_N
};
extern const char *const vm_keys[VK_N];

enum mi_key { MI_ANONHUGE, MI_BALLOON, MI_AVAILABLE, MI_FREE, MI_TOTAL, MI_SWAPFREE, MI_SWAPTOTAL, MI_N };
extern const char *const mi_keys[MI_N];

enum ns_key { NS_INTERLEAVE, NS_LOCAL, NS_FOREIGN, NS_HIT, NS_MISS, NS_OTHER, NS_N };
extern const char *const ns_keys[NS_N];

struct vm_point {
	uint64_t mono_ns;
	uint64_t v[VK_N];
	bool ok;
};

#define MEM_MAX_NODES 64

struct node_acc {
	bool seen;
	uint64_t first[NS_N], last[NS_N];
	uint64_t first_ns, last_ns;
	uint64_t mem_total_kb, mem_free_kb;
	uint64_t cpumask[16];	/* CPUs of the node (up to 1024) */
	bool have_cpus;
	int distance[MEM_MAX_NODES];
	unsigned ndist;
};

struct proc_mem {
	long pid;
	char comm[32];
	struct numa_maps_sum nm;
	bool have_nm;
	uint64_t cpus_seen[16];	/* CPUs its threads last ran on */
	unsigned nthreads;
	uint64_t rss_kb, anon_huge_kb, swap_kb;
};

enum stall_cause { SC_RUNQ, SC_STEAL, SC_COMPACTION, SC_RECLAIM, SC_SWAP, SC_BELOW, SC_N };
extern const char *const stall_cause_names[SC_N];

struct stall_rec {
	uint64_t t_ns, late_ns, rundelay_ns;
	int cpu;
	bool idle;		/* bpf: a halted vCPU woken late */
	uint64_t share_ns[SC_N];	/* attribution of late_ns */
	enum stall_cause main;
};

/* bpf: per-CPU counted timers at the first and the last file that had them */
#define MEM_MAX_TL_CPUS 256
struct tl_cpu_acc {
	uint64_t first, last;
	uint64_t max_gap_us;	/* the longest time without a timer, since load */
	bool seen;
};

struct kmsg_hit {
	uint64_t usec;
	char kind[24];
	char msg[160];
	bool during;	/* within the watch */
	/* 1: logged after hiddenq opened /dev/kmsg, 0: already in the ring then,
	 * -1: not recorded (older bundles): judged by the timestamp, whose clock
	 * (printk's local_clock) drifts from CLOCK_MONOTONIC */
	signed char live;
};

struct mem_analysis {
	/* vmstat series (one point per sample) */
	struct vm_point *pts;
	size_t npts, cappts;
	bool vm_seen, vm_found[VK_N];
	/* meminfo (latest) */
	uint64_t mi[MI_N];
	bool mi_found[MI_N], mi_seen;
	uint64_t memtotal_first_kb;
	/* nodes */
	struct node_acc nodes[MEM_MAX_NODES];
	unsigned nnodes;	/* highest node id + 1 */
	/* processes (latest scan) */
	struct proc_mem procs[8];
	unsigned nprocs;
	/* stall watching (sources/stalls.h): the method that produced the records */
	bool stalls_seen;
	unsigned stalls_bad, kmsg_bad;	/* documents that were not JSON objects */
	unsigned vmstat_bad, meminfo_bad; /* copies with none of the keys every kernel has */
	char stall_method[16];		/* "sampler", "coarse", "bpf" */
	char stall_asked[16];		/* what was asked for ("" in older bundles) */
	bool stall_refused;		/* the method asked for did not run */
	char stall_reason[320];		/* why not, or why not what was asked */
	uint64_t stall_sleep_ns;	/* samplers: the (base) sleep */
	uint64_t stall_tight_ns;	/* coarse: time spent at 1 ms */
	unsigned long timers;		/* bpf: timers watched */
	struct tl_cpu_acc tl_cpus[MEM_MAX_TL_CPUS];
	unsigned ntl_cpus;		/* highest CPU seen + 1 */
	unsigned long loops, dropped;
	struct stall_rec *stalls;
	size_t nstalls, capstalls;
	/* the previous sample's steal per CPU, for attribution */
	struct procstat prev_ps;
	bool have_prev_ps;
	struct vm_point prev_vm;
	/* kernel log */
	bool kmsg_seen, kmsg_available;
	char kmsg_error[64];
	struct kmsg_hit hits[64];
	unsigned nhits;
	unsigned long hits_dropped;
	uint64_t first_ns, last_ns;
};

void mem_init(struct mem_analysis *m);
void mem_feed(struct mem_analysis *m, const struct sample *s);
void mem_done(struct mem_analysis *m);

/* Counter delta of key k between the first and last valid points (0 if absent). */
uint64_t mem_delta(const struct mem_analysis *m, enum vm_key k);
/* Delta of key k between monotonic times a and b (points at or before each). */
uint64_t mem_delta_between(const struct mem_analysis *m, enum vm_key k, uint64_t a_ns, uint64_t b_ns);
double mem_watch_s(const struct mem_analysis *m);

#endif
