/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The machine's shape: sockets, dies, cores, hardware threads, NUMA nodes
 * (CPUs, memory, SLIT distances), caches and which CPUs share them, offline
 * CPUs, and the NUMA node each NIC, block device and GPU hangs off.
 *
 * Everything is read from sysfs/procfs through an fsroot, so the same code
 * runs on the live machine, on a capture bundle's sample 000000 and inside
 * the static binary.  hwloc (dynamic build only, HAVE_HWLOC) adds device
 * locality that sysfs does not make obvious and serves as a cross-check; see
 * topo_hwloc_*() below.
 *
 * Nothing here aborts on odd input: a missing or malformed file leaves the
 * field unknown (-1) and adds a warning to t->warnings.
 */
#ifndef HQ_TOPO_H
#define HQ_TOPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/sample.h"
#include "../sys/fsroot.h"

#define TOPO_MAX_CPUS 8192	/* CONFIG_NR_CPUS of MAXSMP kernels */
#define TOPO_MAX_NODES 1024	/* NODES_SHIFT 10 */

struct topo_cpu {
	int id;
	bool online;
	bool has_topology;	/* cpuN/topology (or cpuinfo) gave package/core */
	int package, die, core;	/* -1 unknown */
	int node;		/* NUMA node, -1 unknown */
	int thread;		/* position among its core's siblings, 0-based */
};

struct topo_node {
	int id;
	int *cpus;		/* sorted CPU ids (owned) */
	size_t ncpus;
	uint64_t mem_total_kib;	/* the memory fit and topo size it by (see topo.node_mem_source) */
	bool has_mem;
	uint64_t mem_node_kib;	/* what nodeN/meminfo's MemTotal said (0: not read) */
	int *dist;		/* SLIT row: dist[j] is to nodes[j] (owned) */
	size_t ndist;
};

struct topo_cache {
	unsigned level;
	char type[16];		/* "Data", "Instruction", "Unified" */
	uint64_t size_kib;	/* 0 unknown */
	char **groups;		/* distinct shared_cpu_list values (owned) */
	size_t ngroups;
};

struct topo_device {
	char name[64];
	const char *cls;	/* "net", "block", "gpu" (static strings) */
	int node;		/* -1: no node info */
	const char *source;	/* "sysfs", "sysfs-parent", "hwloc", "none" */
};

struct topo {
	struct topo_cpu *cpus;	/* every possible CPU, sorted by id (owned) */
	size_t ncpus;
	struct topo_node *nodes; /* sorted by id (owned) */
	size_t nnodes;
	bool nodes_synthetic;	/* no node/ in sysfs: one node made up from all CPUs */
	/*
	 * Which figure sizes each node's memory, and why.  nodeN/meminfo's
	 * MemTotal normally; but some kernels fill the per-node counts lazily
	 * (deferred struct page init: a node's MemTotal grows for minutes after
	 * boot while /proc/meminfo's is complete), so when the nodes add up to
	 * less than /proc/meminfo MemTotal, that total is split by each node's
	 * present pages (/proc/zoneinfo) instead.  node_mem_lazy: the per-node
	 * figures are known to be short and nothing better was readable, so a
	 * verdict on them must say so.
	 */
	const char *node_mem_source;	/* static string */
	char node_mem_note[320];	/* why, when not simply the nodes' MemTotal; "" otherwise */
	bool node_mem_lazy;
	uint64_t meminfo_total_kib;	/* /proc/meminfo MemTotal, 0 unknown */
	struct topo_cache *caches;
	size_t ncaches;
	struct topo_device *devs;
	size_t ndevs;
	const char *cpu_source;	/* "sysfs", "cpuinfo" or "none" */
	char model[96];		/* "model name" of /proc/cpuinfo, may be empty */

	/* derived by topo_read */
	unsigned online, offline;
	unsigned sockets;	/* distinct packages among online CPUs */
	unsigned cores;		/* distinct (package, die, core) among online CPUs */
	unsigned dies_per_socket;	/* max */
	unsigned cores_per_socket;	/* max over sockets */
	unsigned threads_per_core;	/* max over cores */
	bool uniform;		/* every socket has the same cores, every core the same threads */

	char **warnings;	/* owned */
	size_t nwarnings;
};

/*
 * Read the topology under `root`.  Returns 0 (possibly with warnings and
 * unknown fields) or -ENOENT when no CPU at all could be found.  `rec`, when
 * not NULL, gets a copy of every file read, at its path (capture bundles).
 * topo_done must be called in every case.
 */
int topo_read(const struct fsroot *root, struct topo *t);
int topo_read_record(const struct fsroot *root, struct topo *t, struct sample *rec);
void topo_done(struct topo *t);

/*
 * For the capture's static set: read the topology files under root and add
 * each to `statics` (skipping paths already there).  Called once at sampler
 * start; costs nothing per tick.
 */
void topo_capture_static(const struct fsroot *root, struct sample *statics);

const struct topo_cpu *topo_cpu(const struct topo *t, int id);
const struct topo_node *topo_node(const struct topo *t, int id);
/* Distance from node a to node b (ids), -1 when unknown. */
int topo_distance(const struct topo *t, int a, int b);

/* "0-3,8,10-11" from sorted ids (malloc'd; "" when n == 0). */
char *cpulist_format(const int *ids, size_t n);

/* Short cache name: "L1d", "L1i", "L2", "L3". */
void topo_cache_name(const struct topo_cache *c, char *buf, size_t n);

/* ---- hwloc (src/topo/hwloc.c; -ENOTSUP in builds without HAVE_HWLOC) ---- */

struct topo_hw_counts {
	unsigned packages, cores, pus, nodes;
	char *node_cpus[64];	/* per NUMA node (logical index order), cpulist, owned */
	int node_ids[64];
};
/* Counts of the live machine as hwloc sees them.  0, -ENOTSUP or -EIO. */
int topo_hwloc_counts(struct topo_hw_counts *c);
void topo_hwloc_counts_done(struct topo_hw_counts *c);
/*
 * Complete t->devs with hwloc's I/O locality of the live machine: devices
 * whose sysfs node is unknown get hwloc's, devices sysfs did not list are
 * added.  0, -ENOTSUP or -EIO.
 */
int topo_hwloc_devices(struct topo *t);
/* "hwloc 2.9.0" or "no hwloc (static build)". */
const char *topo_hwloc_version(void);

#endif
