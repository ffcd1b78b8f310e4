/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * eBPF sources: run-queue latency (runqlat), block IO latency (biolat) and
 * direct compaction duration (compact) histograms, kept in kernel maps and
 * read once per slow tick.  Each drain adds ".hiddenq/runqlat.json",
 * ".hiddenq/biolat.json" and ".hiddenq/compact.json" to the sample with
 * CUMULATIVE histograms since load, so analysis differences the first and the
 * last sample like any other counter (schema: docs/bpf-sources.md).
 *
 * The API is the same in a build without eBPF (make BPF=0) and when loading
 * fails (no root/CAP_BPF, no BTF, missing tracepoint, old kernel): then each
 * drain writes {"available": false, "reason": "..."} saying what is missing.
 * Degrade, don't die: nothing here exits.
 */
#ifndef HQ_BPFSRC_H
#define HQ_BPFSRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../../core/paths.h"	/* RUNQLAT_PATH, BIOLAT_PATH, COMPACT_PATH */
#include "../../core/sample.h"

struct bpfsrc_opts {
	bool runqlat;		/* run-queue latency histograms */
	bool biolat;		/* block IO queued/below histograms */
	bool compact;		/* direct compaction durations */
	bool runqlat_no_cgroup;	/* runqlat without its per-cgroup histograms */
	bool runqlat_split;	/* runqlat's split mode (wake-up vs preemption waits; costs more) */
	bool runqlat_floor;	/* bench only: attach runqlat's programs, count nothing */
};

struct bpfsrc;

/*
 * Load and attach what opts asks for.  Never NULL.  When some part could not
 * be loaded, *why (if why is not NULL) gets a malloc'd sentence for a warning
 * (caller frees); otherwise *why is NULL.
 */
struct bpfsrc *bpfsrc_open(const struct bpfsrc_opts *opts, char **why);
/* Append the cumulative histograms (or the reasons they are missing) to out. */
void bpfsrc_drain(struct bpfsrc *b, struct sample *out);
/* Whether a source ("runqlat", "biolat" or "compact") is loaded; *reason otherwise. */
bool bpfsrc_status(const struct bpfsrc *b, const char *source, const char **reason);
/* Detach and free.  NULL is fine. */
void bpfsrc_close(struct bpfsrc *b);

/*
 * Timer lateness (timerlate.c): the eBPF stall source, driven by
 * sample/stalls.c rather than bpfsrc_open, because it feeds
 * ".hiddenq/stalls.json" on every tick (schema in docs/bpf-sources.md).
 */
struct tl_rec {
	uint64_t t_ns;		/* when the late timer ran, CLOCK_MONOTONIC */
	uint64_t late_ns;	/* how late */
	int cpu;
	unsigned flags;		/* TL_* of src/bpf/timerlate.h */
	unsigned timers;	/* timers merged into this one */
};
/*
 * Merge, in place, the late timers of one interrupt: a record within
 * window_ns of the same CPU's previous kept record joins it (the latest
 * lateness, the later time, timers added).  Records come in the order the
 * CPUs submitted them.  Returns how many are kept.
 */
size_t timerlate_merge(struct tl_rec *v, size_t n, uint64_t window_ns);

struct timerlate;
/*
 * Load and attach (floor: attach programs that do nothing, for the bench).
 * NULL and a malloc'd reason in *why when eBPF is refused or not built in:
 * the reason quotes what libbpf or the verifier said.
 */
struct timerlate *timerlate_open(uint64_t threshold_ns, bool floor, char **why);
/* Put "stalls", "timers", "dropped" (since the last drain) and, when slow, "per_cpu" into o. */
void timerlate_drain(struct timerlate *t, json_t *o, bool slow);
/*
 * The programs' run time and run count since load, [0] hrtimer_expire_entry
 * and [1] hrtimer_start (0 unless BPF statistics are enabled).
 */
void timerlate_prog_stats(const struct timerlate *t, uint64_t run_ns[2], uint64_t runs[2]);
void timerlate_close(struct timerlate *t);

#endif
