/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * ".hiddenq/stalls.json", one sample's worth of stall evidence, whichever
 * method produced it (sources/stalls.h): the method, whether it ran and why
 * not, its counters, the stall records, and (bpf, slow ticks) per-CPU timer
 * counts.  Files without "method" (bundles from before the methods, probe
 * jitter) are the 1 ms sampler's.  Like every parser here: bytes from a
 * bundle are untrusted, so every field is optional and checked; 0 or
 * -EINVAL when the file is not a JSON object.
 */
#ifndef HQ_STALLPARSE_H
#define HQ_STALLPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STALL_DOC_MAX_ITEMS 100000	/* records kept from one file */
#define STALL_DOC_MAX_CPUS 1024

struct stall_item {
	uint64_t t_ns;		/* when the stall ended (the late wake-up or timer), CLOCK_MONOTONIC */
	uint64_t late_ns;	/* its length (> 0) */
	uint64_t rundelay_ns;	/* sampler: the thread's own run delay over it */
	int cpu;		/* -1 unknown */
	unsigned timers;	/* bpf: timers merged into it (0 for the samplers) */
	bool idle;		/* bpf: the CPU was idle: a halted vCPU woken late */
};

struct stall_cpu {
	int cpu;
	uint64_t count;		/* bpf: counted timers since load */
	uint64_t max_us;	/* the latest one since load */
	uint64_t max_gap_us;	/* the longest time without one since load */
};

struct stall_doc {
	char method[16];	/* "sampler", "coarse", "bpf" (other strings kept as they are) */
	char asked[16];		/* what was asked for ("auto" ...); "" when not said */
	bool available;		/* false: the method did not run (reason says why) */
	char reason[320];	/* why it did not run, or why not what was asked */
	uint64_t sleep_ns;	/* samplers: the sleep asked for (coarse: the base one) */
	uint64_t tight_ns;	/* coarse: time spent at 1 ms since the last file */
	unsigned long loops;	/* samplers: sleeps since the last file */
	unsigned long timers;	/* bpf: timers that fired since the last file */
	unsigned long dropped;	/* records lost since the last file */
	struct stall_item *items;	/* malloc'd */
	size_t n;
	struct stall_cpu *cpus;	/* malloc'd; only when the file has per_cpu */
	size_t ncpus;
};

int stall_doc_parse(const char *buf, size_t len, struct stall_doc *d);
void stall_doc_done(struct stall_doc *d);

#endif
