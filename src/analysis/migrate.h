/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * A live migration watched pass by pass: the answers of query-migrate (one
 * about every second, parse/migparse.h) in, the passes and whether the
 * migration converges out.
 *
 * Pre-copy sends guest memory once, then in each further pass what the guest
 * dirtied during the pass before; it switches over once what is left fits in
 * the downtime limit at the bandwidth.  A pass begins at a dirty-bitmap sync
 * ("dirty-sync-count" goes up).  For each pass seen we keep its backlog (the
 * most "remaining" seen in it: what it began with, to within one observation
 * of sending), the throughput measured over it (transferred bytes between
 * observations), QEMU's dirty rate (measured at the sync that began it, over
 * the pass before), the auto-converge throttle and the expected downtime.
 * Passes shorter than the interval between answers are counted, not seen.
 *
 * Bounded: the last MIG_MAX_PASSES passes.
 */
#ifndef HQ_MIGRATE_H
#define HQ_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "../parse/migparse.h"

#define MIG_MAX_PASSES 32

struct mig_pass {
	int64_t n;		/* dirty-sync-count during the pass: its number */
	uint64_t t0, t1;	/* first and last answer seen in it */
	int64_t backlog;	/* bytes: the most "remaining" seen in it */
	uint64_t sent_bytes, sent_ns;	/* transferred between answers that both fell in it */
	double dirty_Bps;	/* QEMU's dirty rate reported during it, bytes/s; -1 unknown */
	int throttle;		/* auto-converge throttle %, -1 none */
	int64_t expected_downtime_ms;
};

struct mig_track {
	bool seen;		/* an answer was fed */
	struct mig_info first, last;	/* the first and the latest answer */
	uint64_t first_ns, last_ns;	/* their times */
	bool was_running;	/* seen under way during the watch */
	bool ended;		/* went from under way to completed, failed or cancelled in the watch */
	struct mig_params params;	/* the latest parameters and capabilities (-1: not read) */
	struct mig_pass pass[MIG_MAX_PASSES];	/* a ring, oldest at pass_first */
	unsigned npass, pass_first;
	int throttle_first, throttle_max;	/* while under way, -1 none */
	int64_t downtime_ms;	/* the switch-over's pause, once completed */
};

void mig_track_init(struct mig_track *t);
/* One answer of query-migrate at time now (CLOCK_MONOTONIC ns); answers at or before the last are ignored. */
void mig_track_feed(struct mig_track *t, const struct mig_info *m, uint64_t now);

/* Pass k (0 = the oldest kept) */
const struct mig_pass *mig_track_pass(const struct mig_track *t, unsigned k);
/* Bytes/s sent in pass p; -1 when it was not seen for long enough. */
double mig_pass_throughput(const struct mig_pass *p);
/* Passes begun (dirty-sync-count), -1 unknown. */
int64_t mig_track_passes(const struct mig_track *t);

/*
 * The verdict's figures, over the last `k` passes seen (k >= 1):
 *   dirty_pct: the least, over those passes, of the dirty rate reported in a
 *     pass against the throughput of the pass it measured (the one before,
 *     else its own): at 100 % the guest dirties as fast as the stream sends,
 *     and the backlog cannot shrink; -1 when not measured;
 *   kept_pct: the least backlog of those passes against the least before
 *     them: at 100 % the backlog stopped shrinking; -1 without k + 1 passes.
 */
struct mig_verdict {
	double dirty_pct, kept_pct;
	double dirty_Bps, sent_Bps;	/* of the pass that set dirty_pct */
	unsigned judged;		/* passes the figures rest on */
};
void mig_track_verdict(const struct mig_track *t, unsigned k, struct mig_verdict *v);

#endif
