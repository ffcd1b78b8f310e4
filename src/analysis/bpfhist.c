// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * Parsing and differencing the eBPF histograms that samples carry, and
 * percentiles from log2 histograms.  See bpfhist.h for the contract; the
 * schema is in docs/bpf-sources.md.  Input comes from bundles, so every
 * document is treated as hostile: wrong types, negative or huge numbers and
 * over-long arrays are rejected, never trusted.
 */
#include "bpfhist.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "analysis.h"
#include "../core/util.h"

#define MAX_DOC (4u << 20)

void bpfhist_init(struct bpfhist *h)
{
	memset(h, 0, sizeof(*h));
}

static void src_done(struct bpfhist_src *s)
{
	json_decref(s->first);
	json_decref(s->last);
	s->first = s->last = NULL;
}

void bpfhist_done(struct bpfhist *h)
{
	src_done(&h->runqlat);
	src_done(&h->biolat);
	src_done(&h->compact);
}

/* must: the member a usable document has, an object (or an array when must_array) */
static void feed_one(struct bpfhist_src *src, const struct sample *s, const char *path, const char *must,
		     bool must_array)
{
	const struct sfile *f = sample_find(s, path);
	if (!f)
		return;
	src->seen = true;
	if (f->len > MAX_DOC) {
		src->nbad++;
		return;
	}
	json_t *j = json_loadb(f->data, f->len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j)) {
		src->nbad++;
		json_decref(j);
		return;
	}
	if (!json_is_true(json_object_get(j, "available"))) {
		const char *r = json_string_value(json_object_get(j, "reason"));
		snprintf(src->reason, sizeof(src->reason), "%s", r ? r : "unavailable (no reason given)");
		json_decref(j);
		return;
	}
	const json_t *m = json_object_get(j, must);
	if (must_array ? !json_is_array(m) : !json_is_object(m)) {
		src->nbad++;
		json_decref(j);
		return;
	}
	if (!src->first) {
		src->first = j;
		src->last = json_incref(j);
	} else {
		json_decref(src->last);
		src->last = j;
	}
}

void bpfhist_feed(struct bpfhist *h, const struct sample *s)
{
	feed_one(&h->runqlat, s, BPFHIST_RUNQLAT_PATH, "kinds", false);
	feed_one(&h->biolat, s, BPFHIST_BIOLAT_PATH, "devices", false);
	feed_one(&h->compact, s, BPFHIST_COMPACT_PATH, "direct", true);
}

int bpfhist_parse(const json_t *arr, uint64_t out[BPFHIST_SLOTS])
{
	memset(out, 0, BPFHIST_SLOTS * sizeof(out[0]));
	if (!json_is_array(arr) || json_array_size(arr) > BPFHIST_SLOTS)
		return -EINVAL;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *v = json_array_get(arr, i);
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			memset(out, 0, BPFHIST_SLOTS * sizeof(out[0]));
			return -EINVAL;
		}
		out[i] = (uint64_t)json_integer_value(v);
	}
	return 0;
}

int bpfhist_delta(const json_t *first, const json_t *last, uint64_t out[BPFHIST_SLOTS])
{
	uint64_t a[BPFHIST_SLOTS] = { 0 };
	memset(out, 0, BPFHIST_SLOTS * sizeof(out[0]));
	if (last && bpfhist_parse(last, out) < 0)
		return -EINVAL;
	if (first && bpfhist_parse(first, a) < 0) {
		memset(out, 0, BPFHIST_SLOTS * sizeof(out[0]));
		return -EINVAL;
	}
	for (int i = 0; i < BPFHIST_SLOTS; i++)
		out[i] = out[i] >= a[i] ? out[i] - a[i] : 0;
	return 0;
}

uint64_t bpfhist_total(const uint64_t h[BPFHIST_SLOTS])
{
	uint64_t t = 0;
	for (int i = 0; i < BPFHIST_SLOTS; i++)
		t += h[i];
	return t;
}

double bpfhist_percentile(const uint64_t h[BPFHIST_SLOTS], double q)
{
	double total = 0;
	for (int i = 0; i < BPFHIST_SLOTS; i++)
		total += (double)h[i];
	if (total <= 0 || !(q > 0))
		return -1;
	if (q > 1)
		q = 1;
	double rank = q * total, cum = 0;
	for (int i = 0; i < BPFHIST_SLOTS; i++) {
		if (h[i] == 0)
			continue;
		double n = (double)h[i];
		if (cum + n >= rank) {
			double lo = i == 0 ? 0 : ldexp(1.0, i), hi = ldexp(1.0, i + 1);
			return lo + (hi - lo) * (rank - cum) / n;
		}
		cum += n;
	}
	/* rounding: the rank is at the very top */
	for (int i = BPFHIST_SLOTS - 1; i >= 0; i--)
		if (h[i])
			return ldexp(1.0, i + 1);
	return -1;
}

/* ---- on the analysis ---- */

double bpfhist_sum_us(const uint64_t h[BPFHIST_SLOTS])
{
	double sum = 0;
	for (int i = 0; i < BPFHIST_SLOTS; i++) {
		double lo = i == 0 ? 0 : ldexp(1.0, i), hi = ldexp(1.0, i + 1);
		sum += (double)h[i] * (lo + hi) / 2;
	}
	return sum;
}

static const struct bpfhist_src *src_of(const struct analysis *an, const char *source)
{
	if (strcmp(source, "runqlat") == 0)
		return &an->bpf.runqlat;
	if (strcmp(source, "biolat") == 0)
		return &an->bpf.biolat;
	if (strcmp(source, "compact") == 0)
		return &an->bpf.compact;
	return NULL;
}

bool bpfhist_available(const struct analysis *an, const char *source, const char **why)
{
	const struct bpfhist_src *s = src_of(an, source);
	const char *w = NULL;
	bool ok = s && s->last;
	if (!s)
		w = "no such eBPF source";
	else if (!ok && s->reason[0])
		w = s->reason;
	else if (!ok && s->nbad)
		w = "the eBPF histograms in the samples were malformed";
	else if (!ok && analysis_switched_off(an, "bpf"))
		w = "switched off (--no-bpf)";
	else if (!ok && analysis_switched_off(an, source))
		w = !strcmp(source, "runqlat") ? "switched off (--no-runqlat)"
		    : !strcmp(source, "biolat") ? "switched off (--no-biolat)"
						: "switched off (--no-compact)";
	else if (!ok)
		w = "no eBPF histograms in the samples (run without --no-bpf, or an older bundle)";
	if (why)
		*why = w;
	return ok;
}

const char *bpfhist_runq_mode(const struct analysis *an)
{
	const struct bpfhist_src *s = &an->bpf.runqlat;
	if (!s->last)
		return NULL;
	const char *m = json_string_value(json_object_get(s->last, "mode"));
	const char *why = json_string_value(json_object_get(s->last, "mode_why"));
	static _Thread_local char buf[200];
	if (m && strcmp(m, "queued") == 0)
		return "queued mode";
	if (why)
		snprintf(buf, sizeof(buf), "split mode: %s", why);
	else
		snprintf(buf, sizeof(buf), "split mode");
	return buf;
}

int bpfhist_runq_delta(const struct analysis *an, const char *kind, uint64_t out[BPFHIST_SLOTS])
{
	memset(out, 0, BPFHIST_SLOTS * sizeof(out[0]));
	const struct bpfhist_src *s = &an->bpf.runqlat;
	if (!s->last)
		return -ENODATA;
	/* the split mode writes wakeup and preempt, the queued mode any (sources/bpf/runqlat.c) */
	static const char *const kinds[] = { "wakeup", "preempt", "any" };
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		if (kind && strcmp(kind, kinds[k]) != 0)
			continue;
		uint64_t d[BPFHIST_SLOTS];
		const json_t *fa = json_object_get(json_object_get(s->first, "kinds"), kinds[k]);
		const json_t *la = json_object_get(json_object_get(s->last, "kinds"), kinds[k]);
		if (!la)
			continue;
		if (bpfhist_delta(fa, la, d) < 0)
			return -EINVAL;
		for (int i = 0; i < BPFHIST_SLOTS; i++)
			out[i] += d[i];
	}
	return 0;
}

int bpfhist_runq_idle_delta(const struct analysis *an, uint64_t idle[BPFHIST_SLOTS], uint64_t busy[BPFHIST_SLOTS])
{
	memset(idle, 0, BPFHIST_SLOTS * sizeof(idle[0]));
	memset(busy, 0, BPFHIST_SLOTS * sizeof(busy[0]));
	const struct bpfhist_src *s = &an->bpf.runqlat;
	const json_t *la = json_object_get(s->last, "idle_cpu");
	if (!la)
		return -ENODATA;
	if (bpfhist_delta(json_object_get(s->first, "idle_cpu"), la, idle) < 0)
		return -EINVAL;
	int r = bpfhist_runq_delta(an, NULL, busy);
	if (r < 0)
		return r;
	for (int i = 0; i < BPFHIST_SLOTS; i++)
		busy[i] = busy[i] >= idle[i] ? busy[i] - idle[i] : 0;
	return 0;
}

int bpfhist_runq_ipi_delta(const struct analysis *an, uint64_t out[BPFHIST_SLOTS], const char **why)
{
	memset(out, 0, BPFHIST_SLOTS * sizeof(out[0]));
	const struct bpfhist_src *s = &an->bpf.runqlat;
	*why = NULL;
	if (!s->last) {
		*why = "no run-queue histograms";
		return -ENODATA;
	}
	const json_t *la = json_object_get(s->last, "ipi_wake");
	if (!la) {
		const char *w = json_string_value(json_object_get(s->last, "ipi_why"));
		*why = w ? w : "the run-queue histograms predate IPI timing";
		return -ENODATA;
	}
	return bpfhist_delta(json_object_get(s->first, "ipi_wake"), la, out);
}

int bpfhist_runq_cpu_delta(const struct analysis *an, int cpu, uint64_t out[BPFHIST_SLOTS])
{
	memset(out, 0, BPFHIST_SLOTS * sizeof(out[0]));
	const struct bpfhist_src *s = &an->bpf.runqlat;
	if (!s->last)
		return -ENODATA;
	char key[16];
	snprintf(key, sizeof(key), "%d", cpu);
	const json_t *la = json_object_get(json_object_get(s->last, "per_cpu"), key);
	if (!la)
		return -ENODATA;
	const json_t *fa = json_object_get(json_object_get(s->first, "per_cpu"), key);
	return bpfhist_delta(fa, la, out);
}

static int cmp_int(const void *x, const void *y)
{
	int a = *(const int *)x, b = *(const int *)y;
	return (a > b) - (a < b);
}

size_t bpfhist_runq_cpus(const struct analysis *an, int *cpus, size_t max)
{
	const json_t *pc = json_object_get(an->bpf.runqlat.last, "per_cpu");
	size_t n = 0;
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)pc, k, v) {
		char *end;
		long c = strtol(k, &end, 10);
		if (*end || end == k || c < 0 || c > 1 << 20 || n >= max)
			continue;
		cpus[n++] = (int)c;
	}
	qsort(cpus, n, sizeof(*cpus), cmp_int);
	return n;
}

size_t bpfhist_runq_cgroups(const struct analysis *an, struct bpfhist_cg *out, size_t max)
{
	const struct bpfhist_src *s = &an->bpf.runqlat;
	const json_t *lg = json_object_get(s->last, "per_cgroup"), *fg = json_object_get(s->first, "per_cgroup");
	size_t n = 0;
	const char *k;
	const json_t *v;
	if (!json_is_object(lg))
		return 0;
	json_object_foreach((json_t *)lg, k, v) {
		if (n >= max)
			break;
		char *end;
		errno = 0;
		unsigned long long id = strtoull(k, &end, 10);
		if (!*k || *end || errno || k[0] == '-' || !json_is_object(v))
			continue;
		const json_t *fo = json_object_get(fg, k);
		struct bpfhist_cg *c = &out[n];
		memset(c, 0, sizeof(*c));
		if (bpfhist_delta(json_is_object(fo) ? json_object_get(fo, "hist") : NULL, json_object_get(v, "hist"),
				  c->hist) < 0 || !json_object_get(v, "hist"))
			continue;
		c->id = id;
		const char *p = json_string_value(json_object_get(v, "path"));
		size_t o = 0;
		for (; p && *p && o + 1 < sizeof(c->path); p++)
			c->path[o++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
		c->path[o] = '\0';
		n++;
	}
	return n;
}

size_t bpfhist_dev_count(const struct analysis *an)
{
	return json_object_size(json_object_get(an->bpf.biolat.last, "devices"));
}

const char *bpfhist_dev_name(const struct analysis *an, size_t i)
{
	const json_t *devs = json_object_get(an->bpf.biolat.last, "devices");
	const char *k;
	const json_t *v;
	size_t n = 0;
	json_object_foreach((json_t *)devs, k, v) {
		if (n++ == i)
			return k;
	}
	return NULL;
}

int bpfhist_dev_delta(const struct analysis *an, const char *dev, const char *stage, const char *op,
		      uint64_t out[BPFHIST_SLOTS])
{
	memset(out, 0, BPFHIST_SLOTS * sizeof(out[0]));
	if (!stage || (strcmp(stage, "queued") != 0 && strcmp(stage, "below") != 0))
		return -EINVAL;
	static const char *const ops[] = { "read", "write", "flush" };
	if (op && strcmp(op, ops[0]) && strcmp(op, ops[1]) && strcmp(op, ops[2]))
		return -EINVAL;
	const struct bpfhist_src *s = &an->bpf.biolat;
	const json_t *ld = json_object_get(json_object_get(s->last, "devices"), dev);
	if (!ld)
		return -ENODATA;
	const json_t *fd = json_object_get(json_object_get(s->first, "devices"), dev);
	const json_t *ls = json_object_get(ld, stage), *fs = json_object_get(fd, stage);
	for (size_t k = 0; k < 3; k++) {
		if (op && strcmp(op, ops[k]) != 0)
			continue;
		const json_t *la = json_object_get(ls, ops[k]);
		if (!la)
			continue;
		uint64_t d[BPFHIST_SLOTS];
		if (bpfhist_delta(json_object_get(fs, ops[k]), la, d) < 0)
			return -EINVAL;
		for (int i = 0; i < BPFHIST_SLOTS; i++)
			out[i] += d[i];
	}
	return 0;
}

int bpfhist_dev_inflight(const struct analysis *an, const char *dev, long long *max, long long *now)
{
	const json_t *d = json_object_get(json_object_get(an->bpf.biolat.last, "devices"), dev);
	const json_t *m = json_object_get(d, "inflight_max"), *n = json_object_get(d, "inflight_now");
	if (!json_is_integer(m) || !json_is_integer(n))
		return -ENODATA;
	*max = json_integer_value(m);
	*now = json_integer_value(n);
	return 0;
}

const char *bpfhist_cpuidle_driver(const struct analysis *an)
{
	return json_string_value(json_object_get(json_object_get(an->bpf.biolat.last, "cpuidle"), "driver"));
}

const json_t *bpfhist_biolat_last(const struct analysis *an)
{
	return an->bpf.biolat.last;
}

/* A non-negative integer member, 0 when absent; -EINVAL for anything else. */
static int opt_count(const json_t *doc, const char *key, double *out)
{
	const json_t *v = json_object_get(doc, key);
	*out = 0;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -EINVAL;
	*out = (double)json_integer_value(v);
	return 0;
}

int bpfhist_compact_watch(const struct analysis *an, struct bpfhist_compact *out)
{
	memset(out, 0, sizeof(*out));
	const struct bpfhist_src *s = &an->bpf.compact;
	if (!s->last)
		return -ENODATA;
	double fsum, lsum, fmax, lmax;
	if (bpfhist_delta(json_object_get(s->first, "direct"), json_object_get(s->last, "direct"), out->hist) < 0 ||
	    opt_count(s->first, "sum_us", &fsum) < 0 || opt_count(s->last, "sum_us", &lsum) < 0 ||
	    opt_count(s->first, "max_us", &fmax) < 0 || opt_count(s->last, "max_us", &lmax) < 0) {
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	out->count = bpfhist_total(out->hist);
	if (!out->count)
		return 0;
	/* a document without sum_us: the slots' midpoints */
	out->sum_us = json_object_get(s->last, "sum_us") && lsum >= fsum ? lsum - fsum : bpfhist_sum_us(out->hist);
	if (lmax > fmax) {
		out->max_us = lmax;
		out->max_exact = true;
	} else {
		for (int i = BPFHIST_SLOTS - 1; i >= 0; i--)
			if (out->hist[i]) {
				out->max_us = i == 0 ? 0 : ldexp(1.0, i);
				break;
			}
	}
	return 0;
}

/* ---- cumulative histograms since the programs loaded (the exporter's counters) ---- */

int bpfhist_runq_total(const struct analysis *an, uint64_t out[BPFHIST_SLOTS])
{
	memset(out, 0, BPFHIST_SLOTS * sizeof(out[0]));
	const json_t *kinds = json_object_get(an->bpf.runqlat.last, "kinds");
	if (!kinds)
		return -ENODATA;
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)kinds, k, v) {
		uint64_t d[BPFHIST_SLOTS];
		if (bpfhist_delta(NULL, v, d) < 0)
			return -EINVAL;
		for (int i = 0; i < BPFHIST_SLOTS; i++)
			out[i] += d[i];
	}
	return 0;
}

int bpfhist_runq_idle_total(const struct analysis *an, uint64_t out[BPFHIST_SLOTS])
{
	memset(out, 0, BPFHIST_SLOTS * sizeof(out[0]));
	const json_t *a = json_object_get(an->bpf.runqlat.last, "idle_cpu");
	return a ? bpfhist_delta(NULL, a, out) : -ENODATA;
}

int bpfhist_runq_ipi_total(const struct analysis *an, uint64_t out[BPFHIST_SLOTS])
{
	memset(out, 0, BPFHIST_SLOTS * sizeof(out[0]));
	const json_t *a = json_object_get(an->bpf.runqlat.last, "ipi_wake");
	return a ? bpfhist_delta(NULL, a, out) : -ENODATA;
}

int bpfhist_dev_total(const struct analysis *an, const char *dev, const char *stage, const char *op,
		      uint64_t out[BPFHIST_SLOTS])
{
	memset(out, 0, BPFHIST_SLOTS * sizeof(out[0]));
	const json_t *d = json_object_get(json_object_get(an->bpf.biolat.last, "devices"), dev);
	const json_t *a = json_object_get(json_object_get(d, stage), op);
	if (!a)
		return -ENODATA;
	return bpfhist_delta(NULL, a, out);
}

int bpfhist_compact_total(const struct analysis *an, uint64_t out[BPFHIST_SLOTS])
{
	memset(out, 0, BPFHIST_SLOTS * sizeof(out[0]));
	const json_t *a = json_object_get(an->bpf.compact.last, "direct");
	if (!a)
		return -ENODATA;
	return bpfhist_delta(NULL, a, out);
}
