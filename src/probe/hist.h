/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * A log-linear latency histogram shared by every probe: values below 32 are
 * exact, above that each power of two is cut into 32 equal buckets, so a
 * bucket is at most 1/32 (3.1 %) of its value wide.  Percentiles interpolate
 * inside the bucket and are clamped to the exact minimum and maximum, which
 * are kept alongside.  Values are nanoseconds by convention.
 *
 * Recording is one shift and an add, cheap enough for a 1 ms timer loop or a
 * busy loop; a histogram is owned by one thread and merged afterwards.
 */
#ifndef HQ_PROBE_HIST_H
#define HQ_PROBE_HIST_H

#include <jansson.h>
#include <stdint.h>

#define HIST_SUB_BITS 5
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_NBUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t min, max;
	double sum;
	uint64_t b[HIST_NBUCKETS];
};

void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t v);
void hist_merge(struct hist *dst, const struct hist *src);
/* Bucket index of v and the bucket's [low, low + width) range. */
unsigned hist_index(uint64_t v);
void hist_bucket_range(unsigned idx, uint64_t *low, uint64_t *width);
/* p in [0, 100]; 0 when empty.  p = 100 is the exact maximum. */
double hist_pct(const struct hist *h, double p);
double hist_mean(const struct hist *h);

/* {"count", "min_us", "mean_us", "p50_us", "p90_us", "p99_us", "p999_us", "max_us"} */
json_t *hist_json(const struct hist *h);

#endif
