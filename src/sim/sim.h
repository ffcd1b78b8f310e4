/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq sim: a discrete-event model of a virtualized host (see
 * scenario.h for what a scenario holds).  One thread, no clock but its own:
 * the same scenario and seed give the same result, bit for bit.
 *
 * sim_run() runs a scenario and returns a result (plain data for the sinks).
 * With a sample callback it also calls back every [bundle] interval with
 * the files one VM's guest (or the host) would show at that moment: the
 * command writes them into a capture bundle that diagnose --replay reads.
 */
#ifndef HQ_SIM_H
#define HQ_SIM_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/sample.h"
#include "scenario.h"

struct sim_latency {
	uint64_t n;
	double mean, p50, p90, p99, p999, max;	/* seconds */
};

struct sim_station_result {
	char name[SIM_NAME_MAX];
	unsigned servers;
	bool ps;
	double lambda, mean_service;	/* the scenario's, for the reader */
	uint64_t arrived, served, dropped;
	double utilization;	/* busy share of the servers over the measured span */
	double p_wait;		/* FCFS: share of customers that waited at all */
	struct sim_latency wait, response;
	double in_system;	/* time-average number of customers */
	bool unstable;		/* the queue outgrew what a run can hold */
};

struct sim_vcpu_result {
	double steal_pct, busy_pct, softirq_pct, sys_pct;
	int cpu_last;		/* the physical CPU it ran on last */
};

struct sim_vm_result {
	char name[SIM_INST_MAX], group[SIM_NAME_MAX];
	unsigned vcpus;
	enum sim_work work;
	/* requests */
	uint64_t arrived, served, rejected;
	double throughput;	/* served per second */
	struct sim_latency latency;
	/* CPU work */
	double work_rate;	/* CPU-seconds of work done per second, at full speed */
	double steal_avg_pct, steal_max_pct;
	struct sim_vcpu_result *vcpu;	/* vcpus entries */
	double remote_pct;	/* share of its memory accesses on another node than the CPU making them */
	double slowdown;	/* average stretch of its work (NUMA, host faults, throttle) */
	/* network */
	bool net;
	unsigned queues;
	uint64_t tx_offered, tx_sent, tx_qdisc_drops, tx_ring_drops;
	uint64_t rx_offered, rx_delivered, rx_host_drops, rx_squeeze;
	/* block IO */
	bool io;
	uint64_t io_done;
	struct sim_latency io_total, io_guest, io_host, io_device;
	/* memory */
	bool memory;
	double balloon_mib, balloon_max_mib, host_swapped_max_mib;
	double host_faults_per_s, guest_swapin_per_s, guest_pressure_pct;
	/* compaction */
	uint64_t compactions;
	double compaction_stall_pct;
};

/* the VMs of one [vm NAME] section together (count = N) */
struct sim_group_result {
	char name[SIM_NAME_MAX];
	unsigned vms, vcpus;	/* VMs, vCPUs each */
	enum sim_work work;
	uint64_t served, rejected;
	double throughput, work_rate;
	struct sim_latency latency;	/* all its VMs' requests together */
	double steal_avg_pct, steal_max_pct, remote_pct;
	bool net, io, memory;
	uint64_t tx_offered, tx_sent, tx_drops, rx_offered, rx_delivered, rx_host_drops, rx_squeeze;
	double softirq_max_pct;
	struct sim_latency io_total, io_guest, io_host, io_device;
	double balloon_max_mib, host_swapped_max_mib, host_faults_per_s, guest_pressure_pct;
	uint64_t compactions;
	double compaction_stall_pct;
};

struct sim_cpu_result {
	unsigned cpu, node;
	double utilization, runq;	/* busy share; time-average of vCPUs waiting */
};

struct sim_round {
	double sent, duration, dirtied, throttle_pct;	/* bytes, s, bytes, % */
};

struct sim_mig_result {
	char name[SIM_NAME_MAX], vm[SIM_INST_MAX];
	bool finished;		/* ended within the run */
	bool converged;		/* pre-copy reached the downtime target */
	bool postcopy;
	unsigned rounds;
	double start, total_time, downtime, transferred, postcopy_time;
	double throttle_max_pct;
	unsigned throttle_steps;
	struct sim_round *r;
	unsigned nr;
};

struct sim_result {
	uint64_t seed, events;
	double simulated, warmup;	/* s */
	struct sim_station_result *st;
	unsigned nst;
	bool host;
	unsigned cpus, nodes, vcpus_total;
	double overcommit, cpu_util, runq;
	struct sim_cpu_result *cpu;
	double host_swapped_max_mib;
	uint64_t host_memory;
	struct sim_vm_result *vm;
	unsigned nvm;
	struct sim_group_result *grp;
	unsigned ngrp;
	struct sim_mig_result *mig;
	unsigned nmig;
	char bundle_vm[SIM_INST_MAX];
	bool bundle_host;
	unsigned bundle_samples;
};

struct sim_opts {
	/* Called with each bundle sample (the guest's or the host's view); NULL:
	 * no view is built.  The first call also has the static files and the
	 * bundle's meta.json (taken over by the callee); later calls have NULL
	 * for both.  A negative return stops the run. */
	int (*on_sample)(void *arg, const struct sample *s, const struct sample *statics, json_t *meta);
	void *arg;
	/* called every 2^20 events (the benchmark reads its memory here) */
	void (*progress)(void *arg, uint64_t events);
	void *progress_arg;
	/* stop early when this is set (a signal) */
	volatile sig_atomic_t *stop;
};

/* 0 with *out (sim_result_free it), or -EINVAL/-EIO with *why (malloc'd). */
int sim_run(const struct sim_scenario *sc, const struct sim_opts *o, struct sim_result **out, char **why);
void sim_result_free(struct sim_result *r);

#endif
