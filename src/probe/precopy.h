/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Pre-copy live migration as a pure model, fed by a measured W(t): the number
 * of distinct pages a process dirties in a window of t seconds (its writable
 * working set as a function of time).
 *
 * Round 1 sends all of memory.  Each later round sends what was dirtied while
 * the previous round was on the wire, W(duration of previous round), so each
 * round's duration feeds the next.  When what is left would go within the
 * downtime target, the guest is paused and the rest is sent: that is the
 * downtime.  Migration does not converge when a round fails to shrink the
 * dirty set by at least 1 % or when the round limit is reached.
 *
 * Throttling (QEMU's auto-converge) slows the guest to a fraction (1 - p) of
 * its speed, so it dirties W((1 - p) t) in t.  precopy_throttle_needed() finds
 * the smallest p that converges; past 99 % only post-copy finishes.
 *
 * W(t) is interpolated linearly between the measured points, from W(0) = 0;
 * past the last point the last segment's slope is extended (flat for a
 * saturated working set, rising for a steady writer), never above the memory
 * size, and the result says when it relied on that.
 */
#ifndef HQ_PROBE_PRECOPY_H
#define HQ_PROBE_PRECOPY_H

#include <stdbool.h>

#define WCURVE_MAX 32
#define PRECOPY_MAX_ROUNDS 64

struct wcurve {
	unsigned n;
	double t_s[WCURVE_MAX];		/* increasing, > 0 */
	double pages[WCURVE_MAX];	/* non-decreasing */
};

/* Append a point; ignored (returns -1) when full or out of order. */
int wcurve_add(struct wcurve *w, double t_s, double pages);
/* W(t) (see above); beyond is set when t is past the last measured point. */
double wcurve_at(const struct wcurve *w, double t_s, bool *beyond);

struct precopy_in {
	double mem_pages;	/* pages sent by the first round (all of memory) */
	double page_size;	/* bytes */
	double bw_Bps;		/* migration bandwidth, bytes per second */
	double downtime_s;	/* the pause the user accepts */
	unsigned max_rounds;	/* 0: PRECOPY_MAX_ROUNDS */
	double throttle;	/* 0 .. 0.99 */
};

struct precopy_out {
	bool converges;
	unsigned rounds;		/* pre-copy rounds before the pause */
	double total_s;			/* all rounds plus the downtime */
	double downtime_s;		/* when it converges */
	double stuck_pages;		/* when it does not: the dirty set it cannot shrink */
	double stuck_downtime_s;	/* the pause that would take */
	bool beyond_measured;		/* W(t) used past its last point */
	double round_s[PRECOPY_MAX_ROUNDS];
	double round_pages[PRECOPY_MAX_ROUNDS];
};

/* 0, or -1 on bad input (non-positive bandwidth, page size or memory). */
int precopy_predict(const struct wcurve *w, const struct precopy_in *in, struct precopy_out *out);
/* Smallest throttle (in steps of 0.01, up to 0.99) that converges, 0 if none
 * is needed, -1 if even 0.99 does not (post-copy). */
double precopy_throttle_needed(const struct wcurve *w, const struct precopy_in *in);

#endif
