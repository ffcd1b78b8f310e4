/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The simulator's containers: the timer heap, latency histograms and
 * bounded FIFOs.  None of them allocates per event: the heap holds one entry
 * per slot at most, histograms are arrays, FIFOs grow to a fixed bound.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "internal.h"

/* ------------------------------------------------------------------ */
/* timer heap: a binary min-heap of (time, slot), ties by slot         */

static inline bool less(const struct hent *a, const struct hent *b)
{
	return a->t < b->t || (a->t == b->t && a->slot < b->slot);
}

void th_init(struct theap *th, uint32_t nslots)
{
	th->h = xcalloc(nslots + 1, sizeof(*th->h));
	th->pos = xcalloc(nslots + 1, sizeof(*th->pos));
	th->n = 0;
	th->nslots = nslots;
	th->firing = UINT32_MAX;
}

void th_reserve(struct theap *th, uint32_t nslots)
{
	if (nslots <= th->nslots)
		return;
	uint32_t cap = th->nslots ? th->nslots : 64;
	while (cap < nslots)
		cap *= 2;
	th->h = xrealloc(th->h, (cap + 1) * sizeof(*th->h));
	th->pos = xrealloc(th->pos, (cap + 1) * sizeof(*th->pos));
	memset(th->pos + th->nslots, 0, (cap + 1 - th->nslots) * sizeof(*th->pos));
	th->nslots = cap;
}

void th_done(struct theap *th)
{
	free(th->h);
	free(th->pos);
	memset(th, 0, sizeof(*th));
}

static void sift_up(struct theap *th, uint32_t i)
{
	struct hent e = th->h[i];
	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (!less(&e, &th->h[p]))
			break;
		th->h[i] = th->h[p];
		th->pos[th->h[i].slot] = i + 1;
		i = p;
	}
	th->h[i] = e;
	th->pos[e.slot] = i + 1;
}

static void sift_down(struct theap *th, uint32_t i)
{
	struct hent e = th->h[i];
	uint32_t n = th->n;
	for (;;) {
		uint32_t l = 2 * i + 1;
		if (l >= n)
			break;
		uint32_t m = l + 1 < n && less(&th->h[l + 1], &th->h[l]) ? l + 1 : l;
		if (!less(&th->h[m], &e))
			break;
		th->h[i] = th->h[m];
		th->pos[th->h[i].slot] = i + 1;
		i = m;
	}
	th->h[i] = e;
	th->pos[e.slot] = i + 1;
}

void th_set(struct theap *th, uint32_t slot, double t)
{
	if (slot == th->firing)
		th->kept = true;
	uint32_t p = th->pos[slot];
	if (!p) {
		uint32_t i = th->n++;
		th->h[i].t = t;
		th->h[i].slot = slot;
		sift_up(th, i);
		return;
	}
	uint32_t i = p - 1;
	double old = th->h[i].t;
	th->h[i].t = t;
	if (t < old)
		sift_up(th, i);
	else
		sift_down(th, i);
}

void th_cancel(struct theap *th, uint32_t slot)
{
	if (slot == th->firing)
		th->kept = false;
	uint32_t p = th->pos[slot];
	if (!p)
		return;
	uint32_t i = p - 1;
	th->pos[slot] = 0;
	th->n--;
	if (i == th->n)
		return;
	th->h[i] = th->h[th->n];
	th->pos[th->h[i].slot] = i + 1;
	if (i > 0 && less(&th->h[i], &th->h[(i - 1) / 2]))
		sift_up(th, i);
	else
		sift_down(th, i);
}

/* ------------------------------------------------------------------ */
/* histograms: nanoseconds, exact below 128 ns, then 128 buckets an   */
/* octave (0.8 % wide; a quantile is a bucket's middle, within 0.4 %) */

static inline uint32_t bucket_of(uint64_t v)
{
	if (v < HIST_SUB)
		return (uint32_t)v;
	unsigned e = 63 - (unsigned)__builtin_clzll(v);
	if (e > HIST_MAX_EXP)
		return HIST_N - 1;
	return (e - HIST_SUB_BITS + 1) * HIST_SUB + (uint32_t)((v >> (e - HIST_SUB_BITS)) - HIST_SUB);
}

/* the middle of a bucket, in ns */
static double bucket_mid(uint32_t b)
{
	if (b < HIST_SUB)
		return b;
	unsigned e = b / HIST_SUB + HIST_SUB_BITS - 1;
	double lo = ldexp((double)(HIST_SUB + b % HIST_SUB), (int)(e - HIST_SUB_BITS));
	return lo + ldexp(1.0, (int)(e - HIST_SUB_BITS)) / 2;
}

void shist_add(struct shist *h, double s)
{
	if (!h->c)
		h->c = xcalloc(HIST_N, sizeof(*h->c));
	if (!(s >= 0))
		s = 0;
	double ns = s * 1e9 + 0.5;
	uint64_t v = ns >= 1.8e19 ? UINT64_MAX : (uint64_t)ns;
	h->c[bucket_of(v)]++;
	h->n++;
	h->sum += s;
	if (s > h->max)
		h->max = s;
}

void shist_reset(struct shist *h)
{
	if (h->c)
		memset(h->c, 0, HIST_N * sizeof(*h->c));
	h->n = 0;
	h->sum = 0;
	h->max = 0;
}

void shist_free(struct shist *h)
{
	free(h->c);
	memset(h, 0, sizeof(*h));
}

double shist_quantile(const struct shist *h, double q)
{
	if (!h->n || !h->c)
		return 0;
	/* the smallest value with at least q of the observations at or below it */
	double want = ceil(q * (double)h->n);
	if (want < 1)
		want = 1;
	uint64_t acc = 0;
	for (uint32_t b = 0; b < HIST_N; b++) {
		acc += h->c[b];
		if ((double)acc >= want) {
			double v = bucket_mid(b) / 1e9;
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

void shist_latency(const struct shist *h, struct sim_latency *out)
{
	memset(out, 0, sizeof(*out));
	out->n = h->n;
	if (!h->n)
		return;
	out->mean = h->sum / (double)h->n;
	out->p50 = shist_quantile(h, 0.50);
	out->p90 = shist_quantile(h, 0.90);
	out->p99 = shist_quantile(h, 0.99);
	out->p999 = shist_quantile(h, 0.999);
	out->max = h->max;
}

/* ------------------------------------------------------------------ */
/* FIFOs                                                               */

void fifo_init(struct fifo *f, uint32_t esz, uint32_t max)
{
	memset(f, 0, sizeof(*f));
	f->esz = esz;
	f->max = max;
}

void fifo_done(struct fifo *f)
{
	free(f->buf);
	memset(f, 0, sizeof(*f));
}

bool fifo_push(struct fifo *f, const void *rec)
{
	if (f->n == f->cap) {
		if (f->cap >= f->max)
			return false;
		uint32_t nc = f->cap ? f->cap * 2 : 16;
		if (nc > f->max)
			nc = f->max;
		char *nb = xmalloc((size_t)nc * f->esz);
		/* unroll the ring into the new buffer */
		for (uint32_t i = 0; i < f->n; i++) {
			uint32_t k = f->head + i;
			if (k >= f->cap)
				k -= f->cap;
			memcpy(nb + (size_t)i * f->esz, f->buf + (size_t)k * f->esz, f->esz);
		}
		free(f->buf);
		f->buf = nb;
		f->cap = nc;
		f->head = 0;
	}
	uint32_t tail = f->head + f->n;
	if (tail >= f->cap)
		tail -= f->cap;
	memcpy(f->buf + (size_t)tail * f->esz, rec, f->esz);
	f->n++;
	return true;
}
