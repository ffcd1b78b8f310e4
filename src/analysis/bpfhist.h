/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * eBPF histograms in samples: ".hiddenq/runqlat.json",
 * ".hiddenq/biolat.json" and ".hiddenq/compact.json" (schema:
 * docs/bpf-sources.md).  The sources write
 * CUMULATIVE log2 histograms since load, so, like any counter, the watch's
 * histogram is the last sample's minus the first sample's (slots that went
 * down count as 0).  Slot i counts delays in [2^i, 2^(i+1)) microseconds and
 * slot 0 also holds everything below 1 us.
 *
 * For the IO findings (io-layer-latency, virtqueue-saturation): use
 * bpfhist_available(an, "biolat", &why), then bpfhist_dev_count() /
 * bpfhist_dev_name() to list the disks, bpfhist_dev_delta() for a
 * stage/op histogram of the watch, bpfhist_percentile() on it, and
 * bpfhist_dev_inflight() / bpfhist_cpuidle() for the context.  All of them
 * are pure functions of the samples fed to the analysis.  For thp-compaction:
 * bpfhist_compact_watch().
 */
#ifndef HQ_BPFHIST_H
#define HQ_BPFHIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../core/sample.h"

#define BPFHIST_SLOTS 64
#define BPFHIST_RUNQLAT_PATH ".hiddenq/runqlat.json"
#define BPFHIST_BIOLAT_PATH ".hiddenq/biolat.json"
#define BPFHIST_COMPACT_PATH ".hiddenq/compact.json"

/* The first and last usable copy of each source in the watch (owned JSON). */
struct bpfhist_src {
	json_t *first, *last;	/* only documents with "available": true */
	bool seen;		/* the file was in at least one sample */
	char reason[256];	/* last "reason" of an unavailable document */
	unsigned nbad;		/* documents that did not parse or had the wrong shape */
};

struct bpfhist {
	struct bpfhist_src runqlat, biolat, compact;
};

struct analysis;

void bpfhist_init(struct bpfhist *h);
void bpfhist_feed(struct bpfhist *h, const struct sample *s);
void bpfhist_done(struct bpfhist *h);

/* ---- pure helpers on histograms ---- */

/*
 * Parse a JSON array of non-negative integers into out[BPFHIST_SLOTS]
 * (zero-filled past its end).  0, or -EINVAL for anything else (not an
 * array, more than BPFHIST_SLOTS entries, a negative or non-integer entry).
 */
int bpfhist_parse(const json_t *arr, uint64_t out[BPFHIST_SLOTS]);
/* out = last - first per slot, clamped at 0.  Either may be NULL (= empty). 0 or -EINVAL. */
int bpfhist_delta(const json_t *first, const json_t *last, uint64_t out[BPFHIST_SLOTS]);
uint64_t bpfhist_total(const uint64_t h[BPFHIST_SLOTS]);
/*
 * The q-quantile (0 < q <= 1) in microseconds, or -1 for an empty histogram.
 * The rank q*total is located in its slot [lo, hi) = [2^i, 2^(i+1)) (slot 0:
 * [0, 2)) and interpolated linearly inside it, assuming counts spread evenly
 * across the slot; the error is therefore at most the slot's width.
 */
double bpfhist_percentile(const uint64_t h[BPFHIST_SLOTS], double q);
/* Total time in microseconds: counts times their slot's midpoint. */
double bpfhist_sum_us(const uint64_t h[BPFHIST_SLOTS]);

/* ---- the watch's histograms, from the analysis ---- */

/* source: "runqlat", "biolat" or "compact".  true if at least one usable document was seen;
 * otherwise *why (if not NULL) says why (the source's own reason when it had one). */
bool bpfhist_available(const struct analysis *an, const char *source, const char **why);
/*
 * How the run-queue histograms were measured, for the capability line:
 * "queued mode", "split mode" or "split mode: <why not queued>"; "split
 * mode" for bundles from before the modes.  Points into the analysis; NULL
 * when there are no run-queue histograms.
 */
const char *bpfhist_runq_mode(const struct analysis *an);
/*
 * Run-queue delay over the watch. kind: "wakeup", "preempt", "any" (the
 * queued mode's only kind), or NULL for all of them. 0 or -ENODATA.
 */
int bpfhist_runq_delta(const struct analysis *an, const char *kind, uint64_t out[BPFHIST_SLOTS]);
/*
 * The idle split over the watch: idle = the waits of tasks woken onto an idle
 * CPU ("idle_cpu": a part of the kinds), busy = every other wait (all kinds
 * less those, per slot).  0, -ENODATA (no runqlat, or documents from before
 * the split), -EINVAL.
 */
int bpfhist_runq_idle_delta(const struct analysis *an, uint64_t idle[BPFHIST_SLOTS], uint64_t busy[BPFHIST_SLOTS]);
/*
 * IPIs from sender to handler on an idle CPU over the watch ("ipi_wake").
 * 0; -ENODATA with *why (static or pointing into the analysis) when there
 * are none: no runqlat, a document from before the split, or the kernel
 * lacks the IPI tracepoints ("ipi_why").
 */
int bpfhist_runq_ipi_delta(const struct analysis *an, uint64_t out[BPFHIST_SLOTS], const char **why);
/* The same two since the programs loaded (the exporter's histograms). 0 or -ENODATA. */
int bpfhist_runq_idle_total(const struct analysis *an, uint64_t out[BPFHIST_SLOTS]);
int bpfhist_runq_ipi_total(const struct analysis *an, uint64_t out[BPFHIST_SLOTS]);
/* The same for one CPU (both kinds). 0, or -ENODATA (also for a CPU never seen). */
int bpfhist_runq_cpu_delta(const struct analysis *an, int cpu, uint64_t out[BPFHIST_SLOTS]);
/* CPUs listed in the last runqlat document, ascending, up to max; returns how many. */
size_t bpfhist_runq_cpus(const struct analysis *an, int *cpus, size_t max);

/* One cgroup's run-queue delay over the watch ("per_cgroup" in runqlat.json). */
struct bpfhist_cg {
	uint64_t id;			/* cgroup v2 id */
	char path[192];			/* "/system.slice/x.service", or "" when user space could not resolve it */
	uint64_t hist[BPFHIST_SLOTS];
};
/*
 * The cgroups of the last runqlat document with their watch histogram (last
 * minus first, clamped), in document order, up to max; returns how many.
 * Malformed entries (a key that is not a decimal id, a bad histogram) are
 * skipped.  Paths are cleaned to printable ASCII.
 */
size_t bpfhist_runq_cgroups(const struct analysis *an, struct bpfhist_cg *out, size_t max);

/* Disks in the last biolat document (in its order); names live as long as the analysis. */
size_t bpfhist_dev_count(const struct analysis *an);
const char *bpfhist_dev_name(const struct analysis *an, size_t i);
/*
 * One disk's histogram over the watch.  stage: "queued" (request start ->
 * issue, inside the guest) or "below" (issue -> completion: driver,
 * virtqueue, host, device, vCPU wake-up); op: "read", "write", "flush", or
 * NULL for all three.  0, -ENODATA (no such disk or no biolat), -EINVAL (bad
 * stage/op or a malformed document).
 */
int bpfhist_dev_delta(const struct analysis *an, const char *dev, const char *stage, const char *op,
		      uint64_t out[BPFHIST_SLOTS]);
/* In-flight requests (issued, not completed): the peak since load and the last value. 0 or -ENODATA. */
int bpfhist_dev_inflight(const struct analysis *an, const char *dev, long long *max, long long *now);
/* The cpuidle driver beside the block histograms ("haltpoll"), or NULL. */
const char *bpfhist_cpuidle_driver(const struct analysis *an);
/* The last biolat document itself (borrowed), for anything else; NULL if none. */
const json_t *bpfhist_biolat_last(const struct analysis *an);

/* Direct compaction runs (one zone each, compact_zone() for an allocating task) over the watch. */
struct bpfhist_compact {
	uint64_t hist[BPFHIST_SLOTS];	/* by duration, log2 us */
	uint64_t count;			/* runs (the histogram's total) */
	double sum_us;			/* their total duration */
	/*
	 * The longest run of the watch.  Exact when the source's maximum since
	 * load grew during the watch (always, live: the first drain follows the
	 * load); otherwise the lower edge of the highest non-empty slot, a
	 * duration the watch certainly reached (max_exact false).
	 */
	double max_us;
	bool max_exact;
};
/* 0, -ENODATA (no usable compact document), -EINVAL (malformed). */
int bpfhist_compact_watch(const struct analysis *an, struct bpfhist_compact *out);

/* The histograms since the programs loaded (the last documents alone): 0, -ENODATA or -EINVAL. */
int bpfhist_runq_total(const struct analysis *an, uint64_t out[BPFHIST_SLOTS]);
int bpfhist_dev_total(const struct analysis *an, const char *dev, const char *stage, const char *op,
		      uint64_t out[BPFHIST_SLOTS]);
int bpfhist_compact_total(const struct analysis *an, uint64_t out[BPFHIST_SLOTS]);

#endif
