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
/* pending events: the near heap and the wheel (see internal.h)         */
/*                                                                      */
/* The heap is 4-ary: entry k lives at h[k + 3], so the four children   */
/* of k (4k+1 .. 4k+4) sit at h[4(k+1) ..], one 64-byte line.  Keys are */
/* 128-bit (time bits, slot), compared without branches.                */

#define PAD 3
#define NBUCKETS 4096u
#define NIL UINT32_MAX

static hkey *heap_alloc(uint32_t n)
{
	void *p = NULL;
	size_t bytes = ((size_t)n + PAD + 4) * sizeof(hkey);
	bytes = (bytes + 63) & ~(size_t)63;
	if (posix_memalign(&p, 64, bytes) != 0)
		p = xmalloc(bytes); /* unaligned is only slower */
	memset(p, 0, bytes);
	return p;
}

void th_init(struct theap *th, uint32_t nslots)
{
	memset(th, 0, sizeof(*th));
	th->cap = 64;
	th->h = heap_alloc(th->cap);
	th->firing = UINT32_MAX;
	th->nb = NBUCKETS;
	th->head = xmalloc((th->nb + 1) * sizeof(*th->head));
	for (uint32_t i = 0; i <= th->nb; i++)
		th->head[i] = NIL;
	th->inv_w = 1e5;	/* 10 us buckets to start with */
	th_reserve(th, nslots);
}

void th_reserve(struct theap *th, uint32_t nslots)
{
	if (nslots <= th->nslots)
		return;
	uint32_t cap = th->nslots ? th->nslots : 64;
	while (cap < nslots)
		cap *= 2;
	th->where = xrealloc(th->where, cap);
	memset(th->where + th->nslots, 0, cap - th->nslots);
	th->idx = xrealloc(th->idx, cap * sizeof(*th->idx));
	th->bk = xrealloc(th->bk, cap * sizeof(*th->bk));
	th->wkey = xrealloc(th->wkey, cap * sizeof(*th->wkey));
	th->wnext = xrealloc(th->wnext, cap * sizeof(*th->wnext));
	th->wprev = xrealloc(th->wprev, cap * sizeof(*th->wprev));
	th->nslots = cap;
}

void th_done(struct theap *th)
{
	free(th->h);
	free(th->where);
	free(th->idx);
	free(th->bk);
	free(th->wkey);
	free(th->wnext);
	free(th->wprev);
	free(th->head);
	memset(th, 0, sizeof(*th));
}

/* ---- the heap ---- */

static void sift_up(struct theap *th, uint32_t i, hkey e)
{
	hkey *h = th->h + PAD;
	while (i > 0) {
		uint32_t p = (i - 1) / 4;
		if (e >= h[p])
			break;
		h[i] = h[p];
		th->idx[hkey_slot(h[i])] = i;
		i = p;
	}
	h[i] = e;
	th->idx[hkey_slot(e)] = i;
}

/* the smallest of the four (or fewer) children from c: branch-free where all four exist */
static inline uint32_t min_child(const hkey *h, uint32_t c, uint32_t n)
{
	if (c + 3 < n) {
		uint32_t a = h[c + 1] < h[c] ? c + 1 : c;
		uint32_t b = h[c + 3] < h[c + 2] ? c + 3 : c + 2;
		return h[b] < h[a] ? b : a;
	}
	uint32_t m = c;
	for (uint32_t k = c + 1; k < n; k++)
		if (h[k] < h[m])
			m = k;
	return m;
}

static void sift_down(struct theap *th, uint32_t i, hkey e)
{
	hkey *h = th->h + PAD;
	uint32_t n = th->n;
	for (;;) {
		uint32_t c = 4 * i + 1;
		if (c >= n)
			break;
		uint32_t m = min_child(h, c, n);
		if (h[m] >= e)
			break;
		h[i] = h[m];
		th->idx[hkey_slot(h[i])] = i;
		i = m;
	}
	h[i] = e;
	th->idx[hkey_slot(e)] = i;
}

static void heap_push(struct theap *th, hkey k)
{
	if (th->n == th->cap) {
		hkey *h = heap_alloc(th->cap * 2);
		memcpy(h, th->h, ((size_t)th->n + PAD) * sizeof(*h));
		free(th->h);
		th->h = h;
		th->cap *= 2;
	}
	th->where[hkey_slot(k)] = 1;
	sift_up(th, th->n++, k);
}

static void heap_remove(struct theap *th, uint32_t i)
{
	hkey *h = th->h + PAD;
	th->n--;
	if (i == th->n)
		return;
	hkey last = h[th->n];
	if (i > 0 && last < h[(i - 1) / 4])
		sift_up(th, i, last);
	else
		sift_down(th, i, last);
}

/* ---- the wheel ---- */

static inline uint64_t bucket_no(const struct theap *th, hkey k)
{
	double x = hkey_time(k) * th->inv_w;
	return x < 1.8e19 ? (uint64_t)x : UINT64_MAX;
}

static void wheel_put(struct theap *th, hkey k, uint64_t kb)
{
	uint32_t b = kb - th->cur < th->nb ? (uint32_t)(kb & (th->nb - 1)) : th->nb;
	uint32_t s = hkey_slot(k), h = th->head[b];
	th->where[s] = 2;
	th->bk[s] = b;
	th->wkey[s] = k;
	th->wnext[s] = h;
	th->wprev[s] = NIL;
	if (h != NIL)
		th->wprev[h] = s;
	th->head[b] = s;
	th->in_wheel++;
	th->in_over += b == th->nb;
}

static void wheel_remove(struct theap *th, uint32_t s)
{
	uint32_t b = th->bk[s], n = th->wnext[s], p = th->wprev[s];
	if (p == NIL)
		th->head[b] = n;
	else
		th->wnext[p] = n;
	if (n != NIL)
		th->wprev[n] = p;
	th->in_wheel--;
	th->in_over -= b == th->nb;
}

static void insert(struct theap *th, hkey k)
{
	uint64_t kb = bucket_no(th, k);
	if (kb < th->cur)
		heap_push(th, k);
	else
		wheel_put(th, k, kb);
}

/* take bucket b's list out of the wheel: its first slot (NIL when empty) */
static uint32_t detach(struct theap *th, uint32_t b)
{
	uint32_t s = th->head[b];
	th->head[b] = NIL;
	for (uint32_t x = s; x != NIL; x = th->wnext[x]) {
		th->in_wheel--;
		th->in_over -= b == th->nb;
	}
	return s;
}

/* the overflow's events that now fall on the wheel go to their buckets */
static void spill_overflow(struct theap *th)
{
	for (uint32_t x = detach(th, th->nb); x != NIL;) {
		uint32_t next = th->wnext[x];
		insert(th, th->wkey[x]);
		x = next;
	}
}

/* take every pending event out and put it back with a new bucket width */
static void rewidth(struct theap *th, double inv_w, double now)
{
	uint64_t total = th->n + th->in_wheel;
	hkey *all = xmalloc((total ? total : 1) * sizeof(*all));
	uint64_t k = 0;
	for (uint32_t i = 0; i < th->n; i++)
		all[k++] = th->h[PAD + i];
	th->n = 0;
	for (uint32_t b = 0; b <= th->nb; b++)
		for (uint32_t x = detach(th, b); x != NIL; x = th->wnext[x])
			all[k++] = th->wkey[x];
	th->inv_w = inv_w;
	double x = now * inv_w;
	th->cur = x < 1.8e19 ? (uint64_t)x : UINT64_MAX;
	for (uint64_t i = 0; i < k; i++)
		insert(th, all[i]);
	free(all);
	th->adv = th->moved = 0;
}

bool th_fill(struct theap *th)
{
	while (th->n == 0) {
		if (!th->in_wheel)
			return false;
		if (th->in_wheel == th->in_over) {
			/* only far events: jump to the earliest */
			uint64_t kmin = UINT64_MAX;
			for (uint32_t x = th->head[th->nb]; x != NIL; x = th->wnext[x]) {
				uint64_t kb = bucket_no(th, th->wkey[x]);
				if (kb < kmin)
					kmin = kb;
			}
			th->cur = kmin;
			spill_overflow(th);
			continue;
		}
		uint32_t n = 0;
		for (uint32_t x = detach(th, (uint32_t)(th->cur & (th->nb - 1))); x != NIL; x = th->wnext[x]) {
			heap_push(th, th->wkey[x]);
			n++;
		}
		th->cur++;
		th->adv++;
		th->moved += n;
		if ((th->cur & (th->nb - 1)) == 0)
			spill_overflow(th);
		/* adapt the width: a small heap (0.5 to 4 events a bucket) is the fastest here */
		if (th->adv >= 4096 || th->moved >= 4096 * 4) {
			double per = (double)th->moved / (double)th->adv;
			double now = th->n ? hkey_time(th->h[PAD]) : (double)th->cur / th->inv_w;
			if (per < 0.5)
				rewidth(th, th->inv_w / 8, now);
			else if (per > 4)
				rewidth(th, th->inv_w * 8, now);
			else
				th->adv = th->moved = 0;
		}
	}
	return true;
}

void th_set(struct theap *th, uint32_t slot, double t)
{
	if (slot == th->firing)
		th->kept = true;
	hkey k = hkey_make(t, slot);
	switch (th->where[slot]) {
	case 1: {
		uint32_t i = th->idx[slot];
		if (bucket_no(th, k) < th->cur) {
			if (k < th->h[PAD + i])
				sift_up(th, i, k);
			else
				sift_down(th, i, k);
			return;
		}
		heap_remove(th, i);
		wheel_put(th, k, bucket_no(th, k));
		return;
	}
	case 2:
		wheel_remove(th, slot);
		break;
	default:
		break;
	}
	insert(th, k);
}

void th_cancel(struct theap *th, uint32_t slot)
{
	if (slot == th->firing)
		th->kept = false;
	switch (th->where[slot]) {
	case 1:
		heap_remove(th, th->idx[slot]);
		break;
	case 2:
		wheel_remove(th, slot);
		break;
	default:
		return;
	}
	th->where[slot] = 0;
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
