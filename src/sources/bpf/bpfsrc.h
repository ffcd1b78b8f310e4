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

#endif
