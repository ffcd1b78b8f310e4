/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * QEMU's block latency histograms, as query-blockstats returns them once
 * block-latency-histogram-set has been run on a device: in each device's
 * "stats", "rd_latency_histogram", "wr_latency_histogram" and
 * "flush_latency_histogram" (also "zone_append_..." in newer QEMU, not read)
 * are {"boundaries": [b0, b1, ...], "bins": [n0, n1, ...]}, boundaries in
 * nanoseconds, strictly increasing, and one bin more than boundaries:
 * [0, b0), [b0, b1), ..., [b_last, inf).  QEMU measures from the guest's
 * request reaching the block layer to its completion, on the host side of
 * the virtqueue: the VMM's share of a guest's IO latency, device included.
 *
 * The counts are cumulative since the histogram was (re)set; setting it
 * again (anyone may, on a monitor they own) starts over, so a watch's
 * histogram is last - first only while the boundaries are the same and no
 * bin went down.
 */
#ifndef HQ_QMPHIST_H
#define HQ_QMPHIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define QMPHIST_MAX_BINS 64

struct qmphist {
	unsigned nbins;			/* nbins - 1 boundaries */
	uint64_t bound_ns[QMPHIST_MAX_BINS - 1];
	uint64_t bins[QMPHIST_MAX_BINS];
};

/* One histogram object. 0, or -EINVAL (not the shape above, or more than QMPHIST_MAX_BINS bins). */
int qmphist_parse(const json_t *j, struct qmphist *h);

/*
 * The watch's histogram: last minus first.  first NULL (the histogram
 * appeared during the watch) counts all of last.  -ESTALE when it was reset
 * in between (other boundaries, or a bin went down): then *out is last alone,
 * counts since the reset, and the caller should say so.
 */
int qmphist_delta(const struct qmphist *first, const struct qmphist *last, struct qmphist *out);

uint64_t qmphist_total(const struct qmphist *h);

/*
 * The q-quantile in microseconds, interpolated linearly inside its bin; -1
 * when the histogram is empty.  When it falls into the last, open bin the
 * answer is that bin's lower boundary and *open (if not NULL) is set: "at
 * least".
 */
double qmphist_percentile_us(const struct qmphist *h, double q, bool *open);

/*
 * The boundaries hiddenq asks QEMU for (block-latency-histogram-set): powers
 * of two from 1 us to 2^22 us (about 4.2 s), as the eBPF histograms use, so
 * QEMU's view and the guest's or the host's block layer's line up bucket for
 * bucket.  Returns the count written (at most n).
 */
size_t qmphist_default_bounds(uint64_t *ns, size_t n);

#endif
