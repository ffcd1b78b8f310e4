/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * A scenario: what `hiddenq sim` models, read from an INI file (libinih).
 * Sections (docs/hiddenq.1 and examples/sim/ have every key):
 *
 *   [sim]             seed, duration or customers, warmup, events, sample
 *   [station NAME]    a plain queue: arrival, service, servers, discipline, capacity
 *   [host]            physical CPUs, NUMA nodes and their memory cost, the host
 *                     scheduler, host memory and swap, the balloon policy,
 *                     the shared block device
 *   [vm NAME]         vCPUs, pinning, memory and its placement, the guest's
 *                     work, its NIC's virtqueues, its IO, compaction stalls
 *   [migration NAME]  pre-copy live migration of a VM (or of a memory size)
 *   [bundle]          which VM's view --bundle writes, guest or host side
 *
 * Every value is checked where it is read; an error names the line.  The
 * parsed scenario is plain data: the simulator reads it, never changes it.
 */
#ifndef HQ_SIM_SCENARIO_H
#define HQ_SIM_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>

#include "dist.h"

#define SIM_NAME_MAX 48
#define SIM_INST_MAX (SIM_NAME_MAX + 12)	/* NAME-k of a VM with count > 1 */
#define SIM_MAX_CPUS 1024
#define SIM_MAX_NODES 16
#define SIM_MAX_VCPUS 256	/* per VM */
#define SIM_MAX_VMS 4096	/* after count= is expanded */
#define SIM_MAX_QUEUES 64	/* NIC queues per VM */
#define SIM_MAX_WS 16		/* points of a working-set profile */
#define SIM_CPUW (SIM_MAX_CPUS / 64)

struct sim_cpuset {
	uint64_t w[SIM_CPUW];
};

struct sim_station {
	char name[SIM_NAME_MAX];
	int line;
	struct dist arrival, service;
	unsigned servers;	/* c */
	bool ps;		/* processor sharing, else FCFS */
	unsigned capacity;	/* customers in the system at most (0: unbounded); more are dropped */
};

enum sim_work { WORK_IDLE, WORK_CPU, WORK_REQUESTS };

struct sim_ws_point {
	double t;	/* from this time on (s) */
	uint64_t bytes;
};

struct sim_vmconf {
	char name[SIM_NAME_MAX];
	int line;
	unsigned count;		/* instances: NAME-0 .. NAME-(count-1) when count > 1 */
	unsigned vcpus;
	struct sim_cpuset pin;	/* allowed physical CPUs (empty: all) */
	bool pinned, pin_each;	/* pin_each: vCPU i on the i-th CPU of pin only */
	unsigned weight;	/* host scheduler weight (cgroup cpu.weight-like, default 100) */
	uint64_t memory;	/* bytes */
	double mem_frac[SIM_MAX_NODES];	/* share of its memory on each host node */
	bool mem_nodes_set;
	bool vnuma;		/* the guest sees the host nodes of its vCPUs and memory */
	/* the guest's work */
	enum sim_work work;
	double load;		/* cpu: busy share of each vCPU when it runs alone */
	double burst;		/* cpu: mean CPU burst (s) */
	struct dist arrival, service;	/* requests: arrivals per second, CPU time each */
	double mem_share;	/* share of its CPU time spent on memory accesses */
	double remote_share;	/* share of those on another node (< 0: from where its memory and CPUs are) */
	double hint_rate;	/* vnuma: NUMA-balancing hint faults per CPU-second */
	/* memory */
	struct sim_ws_point ws[SIM_MAX_WS];
	unsigned nws;		/* 0: the working set is the memory size */
	double touch_rate;	/* pages per CPU-second touched across the working set */
	bool balloon;
	/* network */
	unsigned queues, ring, qdisc;
	struct dist tx, vq_service, rx;
	double rx_cost;		/* CPU per received packet (s) */
	/* block IO */
	struct dist io;
	unsigned io_batch, io_depth;
	double io_write;
	/* guest direct compaction */
	struct dist compaction, compaction_stall;
};

struct sim_hostconf {
	bool set;
	int line;
	unsigned cpus, nodes;
	double local_ns, remote_ns;
	double slice, wakeup_gran, balance;	/* s */
	uint64_t memory;	/* 0: not modelled */
	double swap_cost;	/* per page faulted back in (s) */
	bool balloon;
	double balloon_rate;	/* bytes/s */
	double balloon_delay;	/* s */
	unsigned io_depth, io_queue;
	struct dist io_service;
	double mem_tick;	/* s */
};

struct sim_migration {
	char name[SIM_NAME_MAX];
	int line;
	char vm[SIM_NAME_MAX];	/* the VM moved ("" : only memory/dirty_rate) */
	uint64_t memory;
	double dirty_rate;	/* bytes/s */
	uint64_t wws;		/* writable working set (bytes): 0 = dirty pages never repeat */
	double bandwidth;	/* bytes/s */
	unsigned max_rounds;
	double downtime;	/* target (s) */
	double start;		/* s */
	bool auto_converge;
	double throttle_initial, throttle_increment, throttle_max, throttle_trigger;	/* % */
	unsigned postcopy_after;	/* switch to post-copy after this many rounds (0: never) */
	double switchover;	/* fixed cost of the final switch (s) */
};

struct sim_bundleconf {
	char vm[SIM_NAME_MAX];	/* instance or section name ("" : the first VM) */
	bool host_view;
	double interval;
};

struct sim_scenario {
	uint64_t seed;
	double duration;	/* host/station runs stop here (s), 0: by customers */
	uint64_t customers;	/* stations: measured customers per station */
	uint64_t warmup_customers;
	double warmup;		/* s */
	uint64_t max_events;	/* 0: no limit */
	struct sim_station *stations;
	unsigned nstations;
	struct sim_hostconf host;
	struct sim_vmconf *vms;
	unsigned nvms;		/* sections; instances are sum of count */
	struct sim_migration *migs;
	unsigned nmigs;
	struct sim_bundleconf bundle;
	int line_sim;		/* first line of [sim] */
};

struct sim_error {
	int line;	/* 0: not about one line */
	char *msg;	/* malloc'd */
};

/* text: the whole file.  0 with *sc filled (sim_scenario_free it), or
 * -EINVAL with *err (free err->msg). */
int sim_scenario_parse(const char *text, struct sim_scenario *sc, struct sim_error *err);
/* One key after parsing (what --sweep does): SECTION.KEY with SECTION one of
 * sim, host, bundle, station.NAME, vm.NAME, migration.NAME.  Checks the
 * whole scenario again afterwards.  0 or -EINVAL with *err. */
int sim_scenario_set(struct sim_scenario *sc, const char *dotted_key, const char *value, struct sim_error *err);
void sim_scenario_free(struct sim_scenario *sc);
/* a deep copy (for parallel sweeps) */
void sim_scenario_copy(struct sim_scenario *dst, const struct sim_scenario *src);
/* instances after count= (the VMs the simulator creates) */
unsigned sim_scenario_instances(const struct sim_scenario *sc);

/* CPU list "0-3,8,10-11" into a set (CPUs < max); 0 or -EINVAL */
int sim_cpuset_parse(const char *s, unsigned max, struct sim_cpuset *set);
static inline bool sim_cpuset_has(const struct sim_cpuset *s, unsigned c)
{
	return (s->w[c / 64] >> (c % 64)) & 1;
}
static inline void sim_cpuset_add(struct sim_cpuset *s, unsigned c)
{
	s->w[c / 64] |= 1ull << (c % 64);
}
unsigned sim_cpuset_count(const struct sim_cpuset *s);
/* the n-th CPU (0-based) of the set, or -1 */
int sim_cpuset_nth(const struct sim_cpuset *s, unsigned n);

#endif
