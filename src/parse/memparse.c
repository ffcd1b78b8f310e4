/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "memparse.h"

#include <errno.h>
#include <string.h>

#include "parse.h"

static int key_cmp(const char *ws, size_t wl, const char *key)
{
	size_t kl = strlen(key);
	int c = memcmp(ws, key, wl < kl ? wl : kl);
	if (c)
		return c;
	return wl < kl ? -1 : wl > kl ? 1 : 0;
}

int kv_extract(const char *buf, size_t len, const char *const *keys, size_t n, uint64_t *vals, bool *found)
{
	memset(vals, 0, n * sizeof(*vals));
	memset(found, 0, n * sizeof(*found));
	struct scan s = { buf, buf + len };
	const char *ls, *le;
	int nfound = 0;
	bool any = false;
	while (scan_line(&s, &ls, &le)) {
		const char *p = ls, *ws, *we;
		if (!scan_word(&p, le, &ws, &we))
			continue;
		if (word_eq(ws, we, "Node")) { /* "Node 0 MemTotal: ..." */
			uint64_t node;
			if (!scan_u64(&p, le, &node) || !scan_word(&p, le, &ws, &we))
				continue;
		}
		size_t wl = (size_t)(we - ws);
		if (wl && ws[wl - 1] == ':')
			wl--;
		uint64_t v;
		if (wl == 0 || !scan_u64(&p, le, &v))
			continue;
		any = true;
		size_t lo = 0, hi = n;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			int c = key_cmp(ws, wl, keys[mid]);
			if (c == 0) {
				if (!found[mid]) {
					found[mid] = true;
					vals[mid] = v;
					nfound++;
				}
				break;
			}
			if (c < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	return any ? nfound : -EINVAL;
}

int bracket_choice(const char *buf, size_t len, char *out, size_t outlen)
{
	if (!outlen)
		return -EINVAL;
	out[0] = '\0';
	const char *o = memchr(buf, '[', len);
	if (!o)
		return -EINVAL;
	const char *c = memchr(o, ']', len - (size_t)(o - buf));
	if (!c || c == o + 1)
		return -EINVAL;
	size_t n = (size_t)(c - o - 1);
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, o + 1, n);
	out[n] = '\0';
	return 0;
}

int numa_maps_parse(const char *buf, size_t len, struct numa_maps_sum *out)
{
	memset(out, 0, sizeof(*out));
	struct scan s = { buf, buf + len };
	const char *ls, *le;
	bool any = false;
	while (scan_line(&s, &ls, &le)) {
		const char *p = ls, *ws, *we;
		if (!scan_word(&p, le, &ws, &we)) /* address */
			continue;
		uint64_t pages[NUMA_MAPS_MAX_NODES];
		uint64_t anon = 0, page_kb = 4;
		unsigned maxn = 0;
		bool huge = false;
		memset(pages, 0, sizeof(pages));
		while (scan_word(&p, le, &ws, &we)) {
			const char *eq = memchr(ws, '=', (size_t)(we - ws));
			if (!eq) {
				if (word_eq(ws, we, "huge"))
					huge = true;
				continue;
			}
			const char *v = eq + 1;
			uint64_t x;
			if (ws[0] == 'N' && eq > ws + 1) {
				const char *q = ws + 1;
				uint64_t node;
				if (!scan_u64(&q, eq, &node) || q != eq || node >= NUMA_MAPS_MAX_NODES)
					continue;
				if (scan_u64(&v, we, &x) && v == we) {
					pages[node] += x;
					if (node + 1 > maxn)
						maxn = (unsigned)node + 1;
				}
			} else if (word_eq(ws, eq, "anon")) {
				if (scan_u64(&v, we, &x))
					anon = x;
			} else if (word_eq(ws, eq, "kernelpagesize_kB")) {
				if (scan_u64(&v, we, &x) && x > 0 && x <= (1u << 20))
					page_kb = x;
			}
		}
		any = true;
		out->vmas++;
		for (unsigned k = 0; k < maxn; k++) {
			uint64_t kb = pages[k] * page_kb;
			out->kb_on_node[k] += kb;
			out->total_kb += kb;
			if (huge || page_kb > 4)
				out->huge_kb += kb;
		}
		out->anon_kb += anon * page_kb;
		if (maxn > out->nodes_seen)
			out->nodes_seen = maxn;
	}
	return any ? 0 : -EINVAL;
}

int kmsg_parse(const char *buf, size_t len, struct kmsg_rec *out)
{
	memset(out, 0, sizeof(*out));
	const char *p = buf, *end = buf + len;
	const char *semi = memchr(buf, ';', len);
	if (!semi)
		return -EINVAL;
	uint64_t pri;
	if (!scan_u64(&p, semi, &pri) || p >= semi || *p != ',')
		return -EINVAL;
	p++;
	if (!scan_u64(&p, semi, &out->seq) || p >= semi || *p != ',')
		return -EINVAL;
	p++;
	if (!scan_u64(&p, semi, &out->usec))
		return -EINVAL;
	out->prio = (unsigned)(pri & 7);
	out->facility = (unsigned)((pri >> 3) & 0xffff);
	out->msg = semi + 1;
	const char *nl = memchr(out->msg, '\n', (size_t)(end - out->msg));
	out->msglen = (size_t)((nl ? nl : end) - out->msg);
	return 0;
}

static bool contains(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	if (k > n)
		return false;
	for (size_t i = 0; i + k <= n; i++)
		if (s[i] == needle[0] && memcmp(s + i, needle, k) == 0)
			return true;
	return false;
}

const char *kmsg_classify(const char *msg, size_t len)
{
	static const struct {
		const char *needle, *kind;
	} pats[] = {
		{ "soft lockup", "soft-lockup" },
		{ "hard LOCKUP", "hard-lockup" },
		{ "detected stalls on CPUs", "rcu-stall" },
		{ "self-detected stall on CPU", "rcu-stall" },
		{ "rcu_sched kthread starved", "rcu-stall" },
		{ "hrtimer: interrupt took", "hrtimer-interrupt-took" },
		{ "marked unstable", "clocksource-unstable" },
		{ "Marking clocksource", "clocksource-unstable" }, /* "'tsc' as unstable because the skew..." */
		{ "Marking TSC unstable", "clocksource-unstable" },
		{ "Out of memory: Killed process", "oom-kill" },
		{ "Memory cgroup out of memory", "oom-kill" },
		{ "hung_task_timeout_secs", "hung-task" },
		{ "blocked for more than", "hung-task" },
	};
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		if (contains(msg, len, pats[i].needle))
			return pats[i].kind;
	return NULL;
}
