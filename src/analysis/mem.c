/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "mem.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../core/paths.h"
#include "../parse/hwlog.h"
#include "../parse/stallparse.h"
#include "../parse/vmconf.h"

/* sorted by strcmp: kv_extract binary-searches them */
const char *const vm_keys[VK_N] = {
	"allocstall_dma", "allocstall_dma32", "allocstall_movable", "allocstall_normal",
	"balloon_deflate", "balloon_inflate",
	"compact_fail", "compact_stall", "compact_success",
	"nr_balloon_pages",
	"numa_foreign", "numa_hint_faults", "numa_hint_faults_local", "numa_hit", "numa_local",
	"numa_miss", "numa_other", "numa_pages_migrated",
	"pgmajfault", "pgscan_direct", "pgscan_kswapd", "pgsteal_direct", "pgsteal_kswapd",
	"pswpin", "pswpout",
	"thp_collapse_alloc", "thp_collapse_alloc_failed", "thp_fault_alloc", "thp_fault_fallback",
};
const char *const mi_keys[MI_N] = {
	"AnonHugePages", "Balloon", "MemAvailable", "MemFree", "MemTotal", "SwapFree", "SwapTotal",
};
const char *const ns_keys[NS_N] = {
	"interleave_hit", "local_node", "numa_foreign", "numa_hit", "numa_miss", "other_node",
};
const char *const stall_cause_names[SC_N] = {
	"guest run queue", "hypervisor (steal)", "compaction", "reclaim", "swap", "below the guest, not steal",
};

void mem_init(struct mem_analysis *m)
{
	memset(m, 0, sizeof(*m));
}

void mem_done(struct mem_analysis *m)
{
	free(m->pts);
	free(m->stalls);
	procstat_done(&m->prev_ps);
	memset(m, 0, sizeof(*m));
}

double mem_watch_s(const struct mem_analysis *m)
{
	return m->last_ns > m->first_ns ? (double)(m->last_ns - m->first_ns) / 1e9 : 0;
}

static const struct vm_point *point_at(const struct mem_analysis *m, uint64_t t)
{
	const struct vm_point *best = NULL;
	for (size_t i = 0; i < m->npts; i++) {
		if (!m->pts[i].ok)
			continue;
		if (m->pts[i].mono_ns <= t)
			best = &m->pts[i];
		else
			break;
	}
	return best;
}

uint64_t mem_delta_between(const struct mem_analysis *m, enum vm_key k, uint64_t a_ns, uint64_t b_ns)
{
	const struct vm_point *a = point_at(m, a_ns), *b = point_at(m, b_ns);
	if (!a || !b || b->v[k] < a->v[k])
		return 0;
	return b->v[k] - a->v[k];
}

uint64_t mem_delta(const struct mem_analysis *m, enum vm_key k)
{
	/* sum of non-negative steps, so a counter reset does not wipe the watch */
	uint64_t d = 0;
	const struct vm_point *prev = NULL;
	for (size_t i = 0; i < m->npts; i++) {
		if (!m->pts[i].ok)
			continue;
		if (prev && m->pts[i].v[k] >= prev->v[k])
			d += m->pts[i].v[k] - prev->v[k];
		prev = &m->pts[i];
	}
	return d;
}

static void feed_vmstat(struct mem_analysis *m, const struct sample *s)
{
	xgrow((void **)&m->pts, sizeof(*m->pts), &m->cappts, m->npts);
	struct vm_point *p = &m->pts[m->npts++];
	memset(p, 0, sizeof(*p));
	p->mono_ns = s->mono_ns;
	const struct sfile *f = sample_find(s, "proc/vmstat");
	bool found[VK_N];
	/* a copy with none of the counters every kernel has is damaged, not a machine at rest */
	if (!f || kv_extract(f->data, f->len, vm_keys, VK_N, p->v, found) <= 0) {
		m->vmstat_bad += f != NULL;
		return;
	}
	p->ok = true;
	m->vm_seen = true;
	for (int k = 0; k < VK_N; k++)
		m->vm_found[k] |= found[k];
}

static void feed_meminfo(struct mem_analysis *m, const struct sample *s)
{
	const struct sfile *f = sample_find(s, "proc/meminfo");
	uint64_t v[MI_N];
	bool found[MI_N];
	if (!f || kv_extract(f->data, f->len, mi_keys, MI_N, v, found) <= 0) {
		m->meminfo_bad += f != NULL;
		return;
	}
	if (!m->mi_seen)
		m->memtotal_first_kb = v[MI_TOTAL];
	m->mi_seen = true;
	memcpy(m->mi, v, sizeof(v));
	memcpy(m->mi_found, found, sizeof(found));
}

static void set_cpu_bit(int id, void *arg)
{
	uint64_t *mask = arg;
	if (id < 1024)
		mask[id / 64] |= 1ull << (id % 64);
}

static bool node_path(const char *path, unsigned *node, const char **leaf)
{
	if (strncmp(path, "sys/devices/system/node/node", 28) != 0)
		return false;
	const char *p = path + 28;
	char *end;
	long n = strtol(p, &end, 10);
	if (end == p || n < 0 || n >= MEM_MAX_NODES || *end != '/')
		return false;
	*node = (unsigned)n;
	*leaf = end + 1;
	return true;
}

static void feed_nodes(struct mem_analysis *m, const struct sample *s)
{
	for (size_t i = 0; i < s->nfiles; i++) {
		const struct sfile *f = &s->files[i];
		unsigned n;
		const char *leaf;
		if (!node_path(f->path, &n, &leaf))
			continue;
		struct node_acc *na = &m->nodes[n];
		if (strcmp(leaf, "numastat") == 0) {
			uint64_t v[NS_N];
			bool found[NS_N];
			if (kv_extract(f->data, f->len, ns_keys, NS_N, v, found) <= 0)
				continue;
			bool reset = na->seen && v[NS_HIT] < na->last[NS_HIT];
			if (!na->seen || reset) {
				memcpy(na->first, v, sizeof(v));
				na->first_ns = s->mono_ns;
			}
			memcpy(na->last, v, sizeof(v));
			na->last_ns = s->mono_ns;
			na->seen = true;
			if (n + 1 > m->nnodes)
				m->nnodes = n + 1;
		} else if (strcmp(leaf, "meminfo") == 0) {
			static const char *const k[] = { "MemFree", "MemTotal" };
			uint64_t v[2];
			bool found[2];
			if (kv_extract(f->data, f->len, k, 2, v, found) > 0) {
				na->mem_free_kb = v[0];
				na->mem_total_kb = v[1];
			}
		} else if (strcmp(leaf, "cpulist") == 0) {
			memset(na->cpumask, 0, sizeof(na->cpumask));
			na->have_cpus = cpulist_parse(f->data, f->len, 1023, set_cpu_bit, na->cpumask) >= 0;
		} else if (strcmp(leaf, "distance") == 0) {
			const char *p = f->data, *end = f->data + f->len;
			uint64_t d;
			na->ndist = 0;
			while (na->ndist < MEM_MAX_NODES && scan_u64(&p, end, &d))
				na->distance[na->ndist++] = (int)(d > 1000 ? 1000 : d);
		}
	}
}

static struct proc_mem *proc_get(struct proc_mem *v, unsigned *n, long pid)
{
	for (unsigned i = 0; i < *n; i++)
		if (v[i].pid == pid)
			return &v[i];
	if (*n >= 8)
		return NULL;
	struct proc_mem *p = &v[(*n)++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	return p;
}

/* field 39 (processor) of a task stat line; -1 if unreadable */
/* The CPU a task last ran on (field 39), or -1: one stat parser for the tool. */
static int stat_processor(const char *buf, size_t len)
{
	struct task_stat ts;
	return task_stat_parse(buf, len, &ts) == 0 ? ts.processor : -1;
}

static void feed_procs(struct mem_analysis *m, const struct sample *s)
{
	struct proc_mem v[8];
	unsigned n = 0;
	/* a scan is recognised by its numa_maps files */
	for (size_t i = 0; i < s->nfiles; i++) {
		const struct sfile *f = &s->files[i];
		if (strncmp(f->path, "proc/", 5) != 0)
			continue;
		char *end;
		long pid = strtol(f->path + 5, &end, 10);
		if (end == f->path + 5 || pid <= 0 || *end != '/')
			continue;
		const char *leaf = end + 1;
		if (strcmp(leaf, "numa_maps") == 0) {
			struct proc_mem *p = proc_get(v, &n, pid);
			if (p && numa_maps_parse(f->data, f->len, &p->nm) == 0)
				p->have_nm = true;
		}
	}
	if (n == 0)
		return;
	for (size_t i = 0; i < s->nfiles; i++) {
		const struct sfile *f = &s->files[i];
		if (strncmp(f->path, "proc/", 5) != 0)
			continue;
		char *end;
		long pid = strtol(f->path + 5, &end, 10);
		if (end == f->path + 5 || pid <= 0 || *end != '/')
			continue;
		struct proc_mem *p = NULL;
		for (unsigned k = 0; k < n; k++)
			if (v[k].pid == pid)
				p = &v[k];
		if (!p)
			continue;
		const char *leaf = end + 1;
		if (strcmp(leaf, "comm") == 0) {
			size_t c = f->len < sizeof(p->comm) - 1 ? f->len : sizeof(p->comm) - 1;
			for (size_t k = 0; k < c; k++)
				p->comm[k] = ((unsigned char)f->data[k] < 0x20 || (unsigned char)f->data[k] >= 0x7f)
						     ? (f->data[k] == '\n' ? '\0' : '?')
						     : f->data[k];
			p->comm[c] = '\0';
		} else if (strcmp(leaf, "smaps_rollup") == 0) {
			static const char *const k[] = { "AnonHugePages", "Rss", "Swap" };
			uint64_t x[3];
			bool found[3];
			if (kv_extract(f->data, f->len, k, 3, x, found) > 0) {
				p->anon_huge_kb = x[0];
				p->rss_kb = x[1];
				p->swap_kb = x[2];
			}
		} else if (strncmp(leaf, "task/", 5) == 0 && strlen(leaf) > 10 &&
			   strcmp(leaf + strlen(leaf) - 5, "/stat") == 0) {
			int cpu = stat_processor(f->data, f->len);
			if (cpu >= 0 && cpu < 1024) {
				p->cpus_seen[cpu / 64] |= 1ull << (cpu % 64);
				p->nthreads++;
			}
		}
	}
	memcpy(m->procs, v, sizeof(v[0]) * n);
	m->nprocs = n;
}

/*
 * timers: the record is a late kernel timer (method bpf), not a late thread:
 * the guest's run queue cannot delay a timer interrupt, and neither can
 * the guest's compaction, reclaim or swap (they delay the task that
 * allocates, not the CPU), so what steal does not cover is below the guest.
 */
static void attribute(struct mem_analysis *m, struct stall_rec *r, const struct procstat *ps,
		      const struct vm_point *vm, bool timers)
{
	uint64_t left = r->late_ns;
	uint64_t runq = r->rundelay_ns < left ? r->rundelay_ns : left;
	r->share_ns[SC_RUNQ] = runq;
	left -= runq;
	/* /proc/stat counts 10 ms ticks: it cannot resolve a stall under two */
	if (left && r->late_ns >= 20000000ull && m->have_prev_ps && ps) {
		const struct cpu_times *a = procstat_cpu(&m->prev_ps, r->cpu), *b = procstat_cpu(ps, r->cpu);
		if (a && b && b->v[CT_STEAL] > a->v[CT_STEAL]) {
			uint64_t st = (b->v[CT_STEAL] - a->v[CT_STEAL]) * 10000000ull;
			if (st > left)
				st = left;
			r->share_ns[SC_STEAL] = st;
			left -= st;
		}
	}
	if (left && !timers && vm && vm->ok && m->prev_vm.ok) {
#define D(k) (vm->v[k] > m->prev_vm.v[k] ? vm->v[k] - m->prev_vm.v[k] : 0)
		uint64_t allocstall = D(VK_ALLOCSTALL_DMA) + D(VK_ALLOCSTALL_DMA32) + D(VK_ALLOCSTALL_MOVABLE) +
				      D(VK_ALLOCSTALL_NORMAL);
		if (D(VK_COMPACT_STALL))
			r->share_ns[SC_COMPACTION] = left;
		else if (D(VK_PGSCAN_DIRECT) || allocstall)
			r->share_ns[SC_RECLAIM] = left;
		else if (D(VK_PSWPIN) || D(VK_PSWPOUT))
			r->share_ns[SC_SWAP] = left;
		else
			r->share_ns[SC_BELOW] = left;
#undef D
	} else if (left) {
		r->share_ns[SC_BELOW] = left;
	}
	r->main = SC_RUNQ;
	for (int c = 0; c < SC_N; c++)
		if (r->share_ns[c] > r->share_ns[r->main])
			r->main = (enum stall_cause)c;
}

static void feed_stalls(struct mem_analysis *m, const struct sample *s, const struct procstat *ps,
			const struct vm_point *vm)
{
	const struct sfile *f = sample_find(s, STALLS_PATH);
	struct stall_doc d;
	if (!f)
		return;
	if (stall_doc_parse(f->data, f->len, &d) < 0) {
		m->stalls_bad++; /* named as damaged input */
		return;
	}
	m->stalls_seen = true;
	snprintf(m->stall_method, sizeof(m->stall_method), "%s", d.method);
	snprintf(m->stall_asked, sizeof(m->stall_asked), "%s", d.asked);
	m->stall_refused = !d.available;
	if (d.reason[0])
		snprintf(m->stall_reason, sizeof(m->stall_reason), "%s", d.reason);
	if (d.sleep_ns)
		m->stall_sleep_ns = d.sleep_ns;
	m->stall_tight_ns += d.tight_ns;
	m->loops += d.loops;
	m->timers += d.timers;
	m->dropped += d.dropped;
	bool timers = strcmp(d.method, "bpf") == 0;
	for (size_t i = 0; i < d.n && m->nstalls < 100000; i++) {
		xgrow((void **)&m->stalls, sizeof(*m->stalls), &m->capstalls, m->nstalls);
		struct stall_rec *rec = &m->stalls[m->nstalls++];
		memset(rec, 0, sizeof(*rec));
		rec->t_ns = d.items[i].t_ns;
		rec->late_ns = d.items[i].late_ns;
		rec->rundelay_ns = timers ? 0 : d.items[i].rundelay_ns;
		rec->cpu = d.items[i].cpu;
		rec->idle = d.items[i].idle;
		attribute(m, rec, ps, vm, timers);
	}
	for (size_t i = 0; i < d.ncpus; i++) {
		const struct stall_cpu *c = &d.cpus[i];
		if (c->cpu < 0 || c->cpu >= MEM_MAX_TL_CPUS)
			continue;
		struct tl_cpu_acc *a = &m->tl_cpus[c->cpu];
		if (!a->seen || c->count < a->last) /* first, or reloaded: a counter reset */
			a->first = c->count;
		a->last = c->count;
		a->max_gap_us = c->max_gap_us;
		a->seen = true;
		if ((unsigned)c->cpu + 1 > m->ntl_cpus)
			m->ntl_cpus = (unsigned)c->cpu + 1;
	}
	stall_doc_done(&d);
}

static bool hit_during(const struct mem_analysis *m, signed char live, uint64_t usec)
{
	return live >= 0 ? live == 1 : usec * 1000ull >= m->first_ns;
}

static void feed_kmsg(struct mem_analysis *m, const struct sample *s)
{
	const struct sfile *f = sample_find(s, KMSG_PATH);
	if (!f)
		return;
	json_error_t err;
	json_t *o = json_loadb(f->data, f->len, 0, &err);
	if (!json_is_object(o)) {
		json_decref(o);
		m->kmsg_bad++;
		return;
	}
	m->kmsg_seen = true;
	m->kmsg_available = json_is_true(json_object_get(o, "available"));
	json_t *er = json_object_get(o, "error");
	if (json_is_string(er))
		snprintf(m->kmsg_error, sizeof(m->kmsg_error), "%s", json_string_value(er));
	json_t *a = json_object_get(o, "matches");
	size_t i;
	json_t *e;
	if (json_is_array(a))
		json_array_foreach(a, i, e) {
			json_t *u = json_object_get(e, "usec"), *k = json_object_get(e, "kind"), *msg = json_object_get(e, "msg");
			if (!json_is_integer(u) || !json_is_string(k))
				continue;
			if (hwlog_kind(json_string_value(k)))
				continue; /* a hardware error, not a sign of a stall (analysis/hwlog.c) */
			json_t *hist = json_object_get(e, "history");
			signed char live = json_is_boolean(hist) ? !json_is_true(hist) : -1;
			uint64_t usec = (uint64_t)json_integer_value(u);
			bool during = hit_during(m, live, usec);
			struct kmsg_hit *h;
			if (m->nhits < ARRAY_SIZE(m->hits)) {
				h = &m->hits[m->nhits++];
			} else {
				/* full: the oldest sign from before the watch makes room, for
				 * a sign from the watch (a ring full of old lockups must not
				 * hide new ones) and for a newer one from before it (the
				 * recent past matters more than boot) */
				unsigned old = m->nhits;
				for (unsigned j = 0; j < m->nhits; j++)
					if (!m->hits[j].during) {
						old = j;
						break;
					}
				m->hits_dropped++;
				if (old == m->nhits)
					continue; /* all from the watch: keep the first ones */
				memmove(&m->hits[old], &m->hits[old + 1], (m->nhits - old - 1) * sizeof(m->hits[0]));
				h = &m->hits[m->nhits - 1];
			}
			memset(h, 0, sizeof(*h));
			h->usec = usec;
			h->live = live;
			h->during = during;
			snprintf(h->kind, sizeof(h->kind), "%s", json_string_value(k));
			snprintf(h->msg, sizeof(h->msg), "%s", json_is_string(msg) ? json_string_value(msg) : "");
			for (char *p = h->msg; *p; p++)
				if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
					*p = '?';
		}
	json_decref(o);
}

void mem_feed(struct mem_analysis *m, const struct sample *s)
{
	if (m->npts == 0)
		m->first_ns = s->mono_ns;
	m->last_ns = s->mono_ns;
	feed_vmstat(m, s);
	feed_meminfo(m, s);
	feed_nodes(m, s);
	feed_procs(m, s);
	feed_kmsg(m, s);
	/* steal per CPU of this sample, for attributing the stalls it carries */
	struct procstat ps;
	const struct sfile *f = sample_find(s, "proc/stat");
	bool have_ps = f && procstat_parse(f->data, f->len, &ps) == 0;
	const struct vm_point *vm = &m->pts[m->npts - 1];
	feed_stalls(m, s, have_ps ? &ps : NULL, vm);
	if (m->have_prev_ps)
		procstat_done(&m->prev_ps);
	m->have_prev_ps = have_ps;
	if (have_ps)
		m->prev_ps = ps;
	m->prev_vm = *vm;
}
