/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The stall sampler: a thread that sleeps 1 ms at a time (timer slack 1 ns)
 * and records every wake-up that comes 2 ms or more late, with its own run
 * delay over the stall (/proc/thread-self/schedstat) and the CPU it woke on.
 * A late wake-up means nothing ran this thread for that long: the guest's
 * run queue, the host (steal), or something below both.  Attribution is done
 * in analysis/ from what else moved in the same interval.
 *
 * Each sample drains the stalls seen since the previous one into
 * ".hiddenq/stalls.json".
 */
#ifndef HQ_STALLMON_H
#define HQ_STALLMON_H

#include <stdint.h>

#include "../core/paths.h"	/* STALLS_PATH, KMSG_PATH */
#include "../core/sample.h"

struct stallmon;

/* Start the thread; NULL (with a warning) if it cannot be started. */
struct stallmon *stallmon_start(uint64_t sleep_ns, uint64_t threshold_ns);
/* Add the stalls recorded since the last drain to the sample. */
void stallmon_drain(struct stallmon *m, struct sample *out);
void stallmon_stop(struct stallmon *m);

/* /dev/kmsg reader: signs of a stalled guest in the kernel log. */
struct kmsgmon;
struct kmsgmon *kmsgmon_open(void);
void kmsgmon_drain(struct kmsgmon *k, struct sample *out);
void kmsgmon_close(struct kmsgmon *k);

#endif
