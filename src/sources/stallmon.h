/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The stall sampler: a thread that sleeps (timer slack 1 ns) and records
 * every wake-up that comes 2 ms or more late, with its own run delay over
 * the stall (/proc/thread-self/schedstat) and the CPU it woke on.  A late
 * wake-up means nothing ran this thread for that long: the guest's run
 * queue, the host (steal), or something below both.  Attribution is done
 * in analysis/ from what else moved in the same interval.
 *
 * Two ways to run it (sources/stalls.h picks):
 *  - "sampler": 1 ms sleeps, always.  Each wake-up of a KVM guest's timer
 *    exits to the host: about 2 % of one CPU.
 *  - "coarse": 20 ms sleeps, tightening to 1 ms for 10 s after each wake-up
 *    20 ms or more late (while something is wrong), at most 5 % of the time
 *    in the long run (a budget of 10 s that refills at 50 ms a second), so
 *    that a machine always in trouble does not make it cost 2 %.  A stall of S ms is still seen,
 *    S - (the sleep left when it began) late, so stalls longer than the
 *    sleep are never missed and their length is known within 20 ms; shorter
 *    ones are caught in proportion to their length until it tightens.
 *
 * Each sample drains the stalls seen since the previous one into
 * ".hiddenq/stalls.json".
 */
#ifndef HQ_STALLMON_H
#define HQ_STALLMON_H

#include <stdint.h>

#include <jansson.h>

#include "../core/paths.h"	/* STALLS_PATH, KMSG_PATH */
#include "../core/sample.h"

struct stallmon;

struct stallmon_opts {
	uint64_t sleep_ns;		/* how long each sleep asks for */
	uint64_t threshold_ns;		/* a wake-up this late is recorded */
	uint64_t tight_sleep_ns;	/* 0: always sleep_ns; else the sleep while tight */
	uint64_t tighten_ns;		/* a wake-up this late makes it tight ... */
	uint64_t hold_ns;		/* ... until this long has passed without one, */
	unsigned tight_permille;	/* but tight at most this share of the time (a budget of one hold) */
};

/* Start the thread; NULL (with a warning) if it cannot be started. */
struct stallmon *stallmon_start(const struct stallmon_opts *o);
/* Put the stalls recorded since the last drain, and the counters, into o. */
void stallmon_drain(struct stallmon *m, json_t *o);
void stallmon_stop(struct stallmon *m);

/* /dev/kmsg reader: signs of a stalled guest in the kernel log. */
struct kmsgmon;
struct kmsgmon *kmsgmon_open(void);
void kmsgmon_drain(struct kmsgmon *k, struct sample *out);
void kmsgmon_close(struct kmsgmon *k);

#endif
