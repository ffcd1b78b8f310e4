/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The engine: samples in, at any moment the findings over the last N
 * seconds out, with bounded state however long it runs.
 *
 * The analysis layers (cpu.c, mem.c, io.c, bpfhist.c, vms.c) accumulate
 * from their first sample on: first/last readings and sums of deltas.  The
 * engine keeps a ring of such accumulators ("epochs"), a new one started
 * every `step` and each fed every sample; an epoch retires once a younger
 * one covers the longest window any rule needs.  A rule judged over W
 * seconds reads the youngest epoch that covers W, so it sees between W and
 * W + step seconds, never less, and memory is bounded by (horizon / step + 2)
 * epochs of at most horizon + step seconds each, whatever the uptime.
 *
 * `diagnose` is the engine in batch mode: one epoch from the first sample,
 * evaluated once, which is exactly the analysis it always ran.
 *
 * Gaps: when two samples are further apart than the longest window, or
 * than 5 s and 20 sampling intervals (a suspended machine, a hole in a
 * recording), nothing before the gap can be judged with what came after
 * it: every epoch is dropped and counting starts again (restarts counts
 * them).  Batch mode keeps the analysis' own rule: the longest stretch
 * between gaps is judged, and the gap is named.
 */
#ifndef HQ_ENGINE_H
#define HQ_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../analysis/analysis.h"

#define ENGINE_MAX_EPOCHS 16

struct engine_opts {
	/*
	 * 0: batch (diagnose): one accumulator from the first sample, every
	 * rule judged over everything.  Otherwise continuous, and every rule
	 * is judged over this window.
	 */
	uint64_t window_ns;
	/* continuous with each rule's own window (rules.def window_s); window_ns is ignored */
	bool rule_windows;
	uint64_t step_ns;	/* a new epoch every step; 0: horizon / 6, whole seconds, >= 1 s */
	uint64_t interval_ns;	/* the sampling interval when known (gaps are judged against it) */
};

struct engine_epoch {
	struct analysis an;
	uint64_t start_ns;	/* CLOCK_MONOTONIC of its first sample */
	uint64_t last_ns;
	unsigned nsamples;
	bool finished;		/* analysis_finish'ed for the current evaluation */
};

struct engine {
	struct engine_opts o;
	uint64_t horizon_ns;	/* longest window a rule is judged over (0: batch) */
	const struct sample *statics;	/* borrowed: outlives the engine */
	char *source;		/* "live" or the input's path */
	struct engine_epoch *ep[ENGINE_MAX_EPOCHS];	/* oldest first */
	size_t nep;
	uint64_t nsamples, first_ns, last_ns;
	uint64_t min_dt_ns;	/* the shortest interval between samples seen (the sampling interval) */
	unsigned restarts;	/* gaps (or clocks going backwards) that dropped every epoch */
	uint64_t epochs_started;
	/* every 1 s steal window since the start, per CPU (series.c) */
	struct steal_hist *sh;
	size_t nsh, capsh;
	uint64_t sh_last_end;
};

struct engine *engine_new(const struct sample *statics, const char *source, const struct engine_opts *o);
void engine_free(struct engine *e);

/* Feed one sample (time order).  The engine keeps nothing of it but what the analyses accumulate. */
void engine_feed(struct engine *e, const struct sample *s);

/*
 * The analysis that covers at least the last window_ns (0: the engine's
 * longest), finished for reading (rules, renderers); NULL before the first
 * sample.  engine_release() must follow before the next engine_feed.
 */
const struct analysis *engine_acquire(struct engine *e, uint64_t window_ns);
void engine_release(struct engine *e);

/*
 * Evaluate every rule over its window into out (rules.def order).  In
 * batch mode the same as rules_evaluate on the whole watch.  The epochs it
 * read stay finished (engine_acquire gives the same analysis to a
 * renderer) until engine_release or the next engine_feed.
 */
void engine_evaluate(struct engine *e, struct findings *out);

/* The window rule i is judged over, and the span its epoch actually covers now. */
uint64_t engine_rule_window_ns(const struct engine *e, size_t rule);

/* Name damaged input in every epoch's report (the bundle reader's skipped samples ...). */
void engine_damaged(struct engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Bytes held by the analyses' growing arrays (for the bounded-state tests and benches). */
size_t engine_state_bytes(const struct engine *e);

#endif
