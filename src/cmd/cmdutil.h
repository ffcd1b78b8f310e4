/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * What the analysing commands share: reporting an error in the output mode,
 * and "watch": run the live sampler or replay a bundle into an analysis.
 */
#ifndef HQ_CMDUTIL_H
#define HQ_CMDUTIL_H

#include <stdbool.h>

#include "../analysis/analysis.h"
#include "../engine/engine.h"
#include "../sample/bundle.h"
#include "../sample/sampler.h"

/* The error on stderr, and with --json also {"error": ...} on stdout.
 * Returns EXIT_UNUSABLE (3). */
int cmd_fail(bool json, const char *msg);
/* Commands whose JSON is one object per line (watch) set this: errors on one line too. */
extern bool cmd_json_lines;
/* After getopt: a leftover operand is an error (EXIT_UNUSABLE, reported), else 0. */
int cmd_no_operands(bool json, int argc, char **argv);

/*
 * Thresholds from the command line: back to thresholds.def, then the file
 * (--thresholds), then each -t.  0; or -EINVAL with *why (malloc'd) and
 * the thresholds as they were before the call.
 */
int thresholds_apply_args(const char *file, const char *const *specs, size_t n, char **why);

/*
 * A point in time from the command line: "2026-12-03T02:00[:SS][.fff][Z]"
 * (local time unless Z; the date alone is its midnight) or "@EPOCH" seconds.
 * 0 with *out in CLOCK_REALTIME ns, or -EINVAL with *why.
 */
int parse_time_arg(const char *s, uint64_t *out, char **why);

/* meta.json of a capture or a recording of the live machine (count 0: until stopped). */
json_t *capture_meta(const struct sampler *sp, uint64_t interval_ns, uint64_t count);

struct watch {
	bool live;
	struct sampler sp;
	struct bundle_reader br;
	struct engine *engine;	/* fed every sample; freed by watch_done */
	/* called after each sample is fed (continuous commands evaluate here) */
	void (*after)(struct watch *w, const struct sample *s, void *arg);
	void *after_arg;
	uint64_t from_real, to_real;	/* replay only this slice (0: open); set before watch_run */
};

/*
 * Open the live machine with `so` (replay == NULL) or the bundle `replay`,
 * start w->engine (with `eo`) on its statics, and feed it every sample,
 * calling w->after (set before, or NULL) after each.  Live, it runs
 * so->count ticks (0: until SIGINT/SIGTERM).  `progress` ("watching VMs")
 * is shown on a terminal for live runs.  On failure the reason is reported
 * with cmd_fail and EXIT_UNUSABLE returned, with nothing left to clean up;
 * on success 0, and watch_done() must follow.
 */
int watch_run(struct watch *w, const char *replay, const struct sampler_opts *so, const struct engine_opts *eo,
	      bool json, const char *progress);
void watch_done(struct watch *w);

#endif
