/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * /proc/stat.  Column count depends on the kernel (4 on 2.4, 8 from 2.6.11
 * with steal, 10 from 2.6.33): missing columns read as 0 and nfields says how
 * many there were, so "no steal column" is not confused with "no steal".
 * CPUs that are offline are simply absent; ids come from the line, never
 * from the position.
 */
#include "parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

#define MAX_CPU_ID 65535

static int cmp_cpu(const void *a, const void *b)
{
	const struct cpu_times *x = a, *y = b;
	return (x->cpu > y->cpu) - (x->cpu < y->cpu);
}

static bool parse_cpu_line(const char *p, const char *end, struct cpu_times *t)
{
	memset(t, 0, sizeof(*t));
	unsigned n = 0;
	uint64_t v;
	while (n < CT_NFIELDS && scan_u64(&p, end, &v))
		t->v[n++] = v;
	t->nfields = n;
	return n >= 4;
}

int procstat_parse(const char *buf, size_t len, struct procstat *out)
{
	memset(out, 0, sizeof(*out));
	struct scan s = { buf, buf + len };
	const char *ls, *le;
	size_t cap = 0;
	int maxid = -1;
	while (scan_line(&s, &ls, &le)) {
		if (prefix_eq(ls, le, "cpu")) {
			const char *p = ls + 3;
			if (p < le && (*p == ' ' || *p == '\t')) {
				if (out->has_all)
					continue;
				if (parse_cpu_line(p, le, &out->all)) {
					out->all.cpu = -1;
					out->has_all = true;
				}
				continue;
			}
			uint64_t id;
			if (!scan_u64(&p, le, &id) || id > MAX_CPU_ID)
				continue;
			struct cpu_times t;
			if (!parse_cpu_line(p, le, &t))
				continue;
			t.cpu = (int)id;
			/* The kernel prints ids in ascending order; only an id not above
			 * every id so far (hand-made or corrupt input) needs the
			 * duplicate scan.  Compare with the highest id, not the last
			 * one: after an out-of-order line the last is not the highest. */
			bool dup = false;
			if (out->ncpus && t.cpu <= maxid)
				for (size_t i = 0; i < out->ncpus && !dup; i++)
					dup = out->cpus[i].cpu == t.cpu;
			if (dup)
				continue;
			if (t.cpu > maxid)
				maxid = t.cpu;
			xgrow((void **)&out->cpus, sizeof(*out->cpus), &cap, out->ncpus);
			out->cpus[out->ncpus++] = t;
			continue;
		}
		const char *p = ls, *ws, *we;
		if (!scan_word(&p, le, &ws, &we))
			continue;
		uint64_t v;
		if (word_eq(ws, we, "ctxt") && scan_u64(&p, le, &v)) {
			out->ctxt = v;
			out->has_ctxt = true;
		} else if (word_eq(ws, we, "btime") && scan_u64(&p, le, &v)) {
			out->btime = v;
			out->has_btime = true;
		} else if (word_eq(ws, we, "procs_running") && scan_u64(&p, le, &v)) {
			out->procs_running = v;
			out->has_running = true;
		} else if (word_eq(ws, we, "procs_blocked") && scan_u64(&p, le, &v)) {
			out->procs_blocked = v;
			out->has_blocked = true;
		}
	}
	if (out->ncpus > 1)
		qsort(out->cpus, out->ncpus, sizeof(*out->cpus), cmp_cpu);
	if (!out->has_all && out->ncpus == 0) {
		procstat_done(out);
		return -EINVAL;
	}
	return 0;
}

void procstat_done(struct procstat *ps)
{
	free(ps->cpus);
	ps->cpus = NULL;
	ps->ncpus = 0;
}

uint64_t cpu_times_total(const struct cpu_times *t)
{
	uint64_t s = 0;
	for (int i = CT_USER; i <= CT_STEAL; i++)
		s += t->v[i];
	return s;
}

const struct cpu_times *procstat_cpu(const struct procstat *ps, int cpu)
{
	size_t lo = 0, hi = ps->ncpus;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ps->cpus[mid].cpu == cpu)
			return &ps->cpus[mid];
		if (ps->cpus[mid].cpu < cpu)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
