/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "topo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "parse.h"

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n'))
		p++;
	return p;
}

int sysfs_int_parse(const char *buf, size_t len, int64_t *out)
{
	const char *p = buf, *end = buf + len;
	int64_t v;
	if (!scan_i64(&p, end, &v))
		return -EINVAL;
	if (skip_ws(p, end) != end)
		return -EINVAL;
	*out = v;
	return 0;
}

int node_distance_parse(const char *buf, size_t len, int *out, size_t max, size_t *n)
{
	const char *p = buf, *end = buf + len;
	*n = 0;
	for (;;) {
		p = skip_ws(p, end);
		if (p == end)
			break;
		uint64_t v;
		if (!scan_u64(&p, end, &v) || v > 255 || *n >= max)
			return -EINVAL;
		if (p < end && *p != ' ' && *p != '\t' && *p != '\n')
			return -EINVAL;
		out[(*n)++] = (int)v;
	}
	return *n ? 0 : -EINVAL;
}

int node_meminfo_parse(const char *buf, size_t len, struct node_meminfo *out)
{
	memset(out, 0, sizeof(*out));
	out->node = -1;
	struct scan s = { buf, buf + len };
	const char *ls, *le;
	bool total = false, first = true;
	while (scan_line(&s, &ls, &le)) {
		const char *p = ls, *ws, *we;
		if (!scan_word(&p, le, &ws, &we))
			continue;
		if (word_eq(ws, we, "Node")) {
			uint64_t id;
			if (!scan_u64(&p, le, &id))
				continue;
			if (first && id < 1u << 20)
				out->node = (int)id;
			if (!scan_word(&p, le, &ws, &we))
				continue;
		}
		first = false;
		uint64_t v;
		bool is_total = word_eq(ws, we, "MemTotal:"), is_free = word_eq(ws, we, "MemFree:");
		if (!is_total && !is_free)
			continue;
		if (!scan_u64(&p, le, &v))
			continue;
		const char *us, *ue;
		/* the kernel prints kB; refuse another unit rather than guess */
		if (scan_word(&p, le, &us, &ue) && !word_eq(us, ue, "kB"))
			continue;
		if (is_total) {
			out->total_kib = v;
			total = true;
		} else {
			out->free_kib = v;
			out->has_free = 1;
		}
	}
	return total ? 0 : -EINVAL;
}

int cache_size_parse(const char *buf, size_t len, uint64_t *kib)
{
	const char *p = buf, *end = buf + len;
	uint64_t v;
	if (!scan_u64(&p, end, &v))
		return -EINVAL;
	uint64_t mul = 0;
	if (p < end) {
		switch (*p) {
		case 'K': mul = 1; p++; break;
		case 'M': mul = 1024; p++; break;
		case 'G': mul = 1024 * 1024; p++; break;
		default: break;
		}
	}
	if (!mul) {
		/* bare bytes (never seen, but cheap to accept) */
		if (v % 1024)
			return -EINVAL;
		v /= 1024;
		mul = 1;
	}
	if (skip_ws(p, end) != end || v > UINT64_MAX / mul / 1024)
		return -EINVAL;
	*kib = v * mul;
	return 0;
}

/* "key<blanks>: value" -> key without trailing blanks, value without leading ones. */
static bool cpuinfo_kv(const char *ls, const char *le, const char **ks, const char **ke, const char **vs)
{
	const char *colon = memchr(ls, ':', (size_t)(le - ls));
	if (!colon)
		return false;
	const char *k = colon;
	while (k > ls && (k[-1] == ' ' || k[-1] == '\t'))
		k--;
	*ks = ls;
	*ke = k;
	const char *v = colon + 1;
	while (v < le && (*v == ' ' || *v == '\t'))
		v++;
	*vs = v;
	return true;
}

int cpuinfo_topo_parse(const char *buf, size_t len, int max_id, struct cpuinfo_cpu **out, size_t *n,
		       char *model, size_t model_cap)
{
	struct scan s = { buf, buf + len };
	const char *ls, *le;
	struct cpuinfo_cpu *a = NULL;
	size_t cap = 0, cnt = 0;
	*out = NULL;
	*n = 0;
	if (model && model_cap)
		model[0] = '\0';
	while (scan_line(&s, &ls, &le)) {
		const char *ks, *ke, *vs;
		if (!cpuinfo_kv(ls, le, &ks, &ke, &vs))
			continue;
		const char *p = vs;
		uint64_t v;
		if (word_eq(ks, ke, "processor")) {
			if (!scan_u64(&p, le, &v) || v > (uint64_t)max_id) {
				free(a);
				return -EINVAL;
			}
			xgrow((void **)&a, sizeof(*a), &cap, cnt);
			a[cnt++] = (struct cpuinfo_cpu){ .cpu = (int)v, .package = -1, .core = -1 };
		} else if (cnt && word_eq(ks, ke, "physical id")) {
			if (scan_u64(&p, le, &v) && v < 1u << 20)
				a[cnt - 1].package = (int)v;
		} else if (cnt && word_eq(ks, ke, "core id")) {
			if (scan_u64(&p, le, &v) && v < 1u << 20)
				a[cnt - 1].core = (int)v;
		} else if (model && model_cap && !model[0] && word_eq(ks, ke, "model name")) {
			size_t m = (size_t)(le - vs);
			if (m >= model_cap)
				m = model_cap - 1;
			for (size_t i = 0; i < m; i++)
				model[i] = (vs[i] >= 0x20 && vs[i] < 0x7f) ? vs[i] : '?';
			model[m] = '\0';
		}
	}
	*out = a;
	*n = cnt;
	return 0;
}

int zoneinfo_present_parse(const char *buf, size_t len, uint64_t *pages, size_t max)
{
	memset(pages, 0, max * sizeof(*pages));
	struct scan s = { buf, buf + len };
	const char *ls, *le;
	uint64_t node = UINT64_MAX;
	size_t seen = 0;
	bool any = false;
	while (scan_line(&s, &ls, &le)) {
		const char *p = ls, *ws, *we;
		if (!scan_word(&p, le, &ws, &we))
			continue;
		if (word_eq(ws, we, "Node")) {
			/* "Node 0, zone   Normal" */
			uint64_t id;
			node = scan_u64(&p, le, &id) && p < le && *p == ',' ? id : UINT64_MAX;
			continue;
		}
		uint64_t v;
		if (!word_eq(ws, we, "present") || node == UINT64_MAX || !scan_u64(&p, le, &v))
			continue;
		if (node >= max)
			continue;
		if (!pages[node])
			seen++;
		if (pages[node] > UINT64_MAX - v)
			return -EINVAL;
		pages[node] += v;
		any = true;
	}
	return any ? (int)seen : -EINVAL;
}
