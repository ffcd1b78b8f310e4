/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "hist.h"

#include <math.h>
#include <string.h>

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

unsigned hist_index(uint64_t v)
{
	if (v < HIST_SUB)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= HIST_SUB_BITS */
	unsigned sub = (unsigned)(v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1);
	return (e - HIST_SUB_BITS + 1) * HIST_SUB + sub;
}

void hist_bucket_range(unsigned idx, uint64_t *low, uint64_t *width)
{
	if (idx < HIST_SUB) {
		*low = idx;
		*width = 1;
		return;
	}
	unsigned e = idx / HIST_SUB + HIST_SUB_BITS - 1, sub = idx % HIST_SUB;
	*width = 1ull << (e - HIST_SUB_BITS);
	*low = (uint64_t)(HIST_SUB + sub) << (e - HIST_SUB_BITS);
}

void hist_add(struct hist *h, uint64_t v)
{
	h->b[hist_index(v)]++;
	h->count++;
	h->sum += (double)v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	if (!src->count)
		return;
	for (unsigned i = 0; i < HIST_NBUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

double hist_mean(const struct hist *h)
{
	return h->count ? h->sum / (double)h->count : 0;
}

double hist_pct(const struct hist *h, double p)
{
	if (!h->count)
		return 0;
	if (p >= 100)
		return (double)h->max;
	if (p <= 0)
		return (double)h->min;
	/* nearest rank, then linear inside the bucket that holds it */
	double rank = ceil(p / 100.0 * (double)h->count);
	if (rank < 1)
		rank = 1;
	uint64_t cum = 0;
	for (unsigned i = 0; i < HIST_NBUCKETS; i++) {
		if (!h->b[i])
			continue;
		if ((double)(cum + h->b[i]) >= rank) {
			uint64_t low, width;
			hist_bucket_range(i, &low, &width);
			double v = (double)low + (double)width * (rank - (double)cum - 0.5) / (double)h->b[i];
			if (width == 1)
				v = (double)low;
			if (v < (double)h->min)
				v = (double)h->min;
			if (v > (double)h->max)
				v = (double)h->max;
			return v;
		}
		cum += h->b[i];
	}
	return (double)h->max;
}

static json_t *us(double ns)
{
	return json_real(round(ns / 10.0) / 100.0);
}

json_t *hist_json(const struct hist *h)
{
	json_t *o = json_object();
	json_object_set_new(o, "count", json_integer((json_int_t)h->count));
	if (!h->count)
		return o;
	json_object_set_new(o, "min_us", us((double)h->min));
	json_object_set_new(o, "mean_us", us(hist_mean(h)));
	json_object_set_new(o, "p50_us", us(hist_pct(h, 50)));
	json_object_set_new(o, "p90_us", us(hist_pct(h, 90)));
	json_object_set_new(o, "p99_us", us(hist_pct(h, 99)));
	json_object_set_new(o, "p999_us", us(hist_pct(h, 99.9)));
	json_object_set_new(o, "max_us", us((double)h->max));
	return o;
}
