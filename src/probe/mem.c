/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * probe mem: memory latency by pointer chasing, and bandwidth, per pair of
 * (CPU node, memory node).
 *
 * The chain is a random cyclic permutation (Sattolo) of the cache lines of
 * the working set, one pointer per 64-byte line, so each hop is one
 * dependent load that the prefetchers cannot guess.  Working sets double from
 * 4 KiB (L1) to --max-size; the buffer is mapped twice, once with
 * MADV_NOHUGEPAGE (4 KiB pages: TLB misses add to every hop past the TLB's
 * reach) and once with MADV_HUGEPAGE (the THP coverage actually obtained is
 * read back from smaps and reported).  Latency is timed over batches of 4096
 * hops: the curve gives the mean per hop, the histogram the spread of the
 * batch means (single hops are shorter than the clock's own cost).
 *
 * Node pairs come from libnuma: the thread runs on the CPU node, the buffer
 * is bound to the memory node.  On one node there is no remote latency to
 * report, and under TCG the nodes are labels whose memory costs the same.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef HQ_WITH_NUMA
#include <numa.h>
#endif

#include "../core/util.h"
#include "hist.h"
#include "probe.h"

#define LINE 64

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	/* xorshift64*: good enough to shuffle, and seeded the same every run */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* Link the first `size` bytes of buf into one random cycle of lines. */
static void build_chain(char *buf, uint64_t size)
{
	size_t n = size / LINE;
	uint32_t *perm = xmalloc(n * sizeof(*perm));
	for (size_t i = 0; i < n; i++)
		perm[i] = (uint32_t)i;
	for (size_t i = n - 1; i > 0; i--) { /* Sattolo: a single cycle */
		size_t j = rnd() % i;
		uint32_t t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	for (size_t i = 0; i < n; i++)
		*(void **)(buf + (size_t)perm[i] * LINE) = buf + (size_t)perm[(i + 1) % n] * LINE;
	free(perm);
}

static void *volatile sink;

/* Mean ns per hop over the budget; batch means (in ps) into h. */
static double chase(char *buf, uint64_t size, uint64_t budget_ns, struct hist *h)
{
	void **p = (void **)buf;
	size_t n = size / LINE, warm = n < (1u << 20) ? n : (1u << 20);
	for (size_t i = 0; i < warm; i++)
		p = (void **)*p;
	enum { BATCH = 4096 };
	uint64_t start = mono_ns(), hops = 0, now = start;
	unsigned batches = 0;
	while (batches < 8 || now - start < budget_ns) {
		uint64_t t0 = now;
		for (unsigned i = 0; i < BATCH / 8; i++) {
			p = (void **)*p; p = (void **)*p; p = (void **)*p; p = (void **)*p;
			p = (void **)*p; p = (void **)*p; p = (void **)*p; p = (void **)*p;
		}
		now = mono_ns();
		hops += BATCH;
		batches++;
		if (h)
			hist_add(h, (now - t0) * 1000 / BATCH);
		if (hq_exiting || batches > 1000000)
			break;
	}
	sink = p;
	return (double)(now - start) / (double)hops;
}

static double bw_read(const char *buf, uint64_t size, uint64_t budget_ns)
{
	const uint64_t *q = (const uint64_t *)buf;
	size_t n = size / 8;
	uint64_t start = mono_ns(), bytes = 0, acc = 0;
	do {
		for (size_t i = 0; i < n; i += 8)
			acc += q[i] + q[i + 1] + q[i + 2] + q[i + 3] + q[i + 4] + q[i + 5] + q[i + 6] + q[i + 7];
		bytes += size;
	} while (mono_ns() - start < budget_ns && !hq_exiting);
	sink = (void *)(uintptr_t)acc;
	return (double)bytes / ((double)(mono_ns() - start) / 1e9);
}

static double bw_write(char *buf, uint64_t size, uint64_t budget_ns)
{
	uint64_t start = mono_ns(), bytes = 0;
	unsigned k = 0;
	do {
		memset(buf, (int)(++k & 0xff), size);
		bytes += size;
	} while (mono_ns() - start < budget_ns && !hq_exiting);
	sink = buf;
	return (double)bytes / ((double)(mono_ns() - start) / 1e9);
}

/* AnonHugePages of the mapping that holds addr, in KiB; -1 if unknown. */
static long thp_kb(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	if (!f)
		return -1;
	char line[512];
	bool in = false;
	long kb = -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)addr >= a && (uintptr_t)addr < b;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* 2 MiB-aligned anonymous mapping; base and maplen are for munmap. */
static char *map_aligned(uint64_t size, bool huge, void **base, size_t *maplen)
{
	size_t len = size + (2u << 20);
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	char *p = (char *)(((uintptr_t)m + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1));
	madvise(p, size, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	memset(p, 1, size);
	*base = m;
	*maplen = len;
	return p;
}

static json_t *batch_json(const struct hist *h)
{
	json_t *o = json_object();
	json_object_set_new(o, "batches", json_integer((json_int_t)h->count));
	json_object_set_new(o, "p50_ns", pjnum(hist_pct(h, 50) / 1e3));
	json_object_set_new(o, "p90_ns", pjnum(hist_pct(h, 90) / 1e3));
	json_object_set_new(o, "p99_ns", pjnum(hist_pct(h, 99) / 1e3));
	json_object_set_new(o, "p999_ns", pjnum(hist_pct(h, 99.9) / 1e3));
	json_object_set_new(o, "max_ns", pjnum((double)h->max / 1e3));
	return o;
}

static json_t *curve(const struct mem_params *p, bool huge)
{
	void *base;
	size_t len;
	char *buf = map_aligned(p->max_size, huge, &base, &len);
	json_t *o = json_object();
	json_object_set_new(o, "pages", jstr(huge ? "thp" : "4k"));
	if (!buf) {
		json_object_set_new(o, "error", jstr(strerror(errno)));
		return o;
	}
	long kb = thp_kb(buf);
	json_object_set_new(o, "thp_coverage_pct",
			    kb >= 0 ? pjnum(100.0 * (double)kb * 1024.0 / (double)p->max_size) : json_null());
	json_t *pts = json_array();
	struct hist last;
	for (uint64_t s = p->min_size; s <= p->max_size && !hq_exiting; s *= 2) {
		hist_init(&last);
		build_chain(buf, s);
		double ns = chase(buf, s, p->per_point_ns, &last);
		json_t *e = json_object();
		json_object_set_new(e, "size", json_integer((json_int_t)s));
		/* the median batch: a preempted batch must not move the curve */
		json_object_set_new(e, "ns_per_hop", pjnum(hist_pct(&last, 50) / 1e3));
		json_object_set_new(e, "mean_ns", pjnum(ns));
		json_object_set_new(e, "batch", batch_json(&last));
		json_array_append_new(pts, e);
	}
	json_object_set_new(o, "curve", pts);
	munmap(base, len);
	return o;
}

/* ---- node pairs ---- */

static json_t *pair(const struct mem_params *p, int cpu_node, int mem_node)
{
	json_t *o = json_object();
	json_object_set_new(o, "cpu_node", json_integer(cpu_node));
	json_object_set_new(o, "mem_node", json_integer(mem_node));
	uint64_t size = p->pair_size > p->bw_size ? p->pair_size : p->bw_size;
	char *buf = NULL;
	void *base = NULL;
	size_t len = 0;
#ifdef HQ_WITH_NUMA
	if (cpu_node >= 0 && numa_available() >= 0) {
		numa_run_on_node(cpu_node);
		buf = numa_alloc_onnode(size, mem_node);
		if (buf) {
			madvise(buf, size, MADV_NOHUGEPAGE);
			memset(buf, 1, size);
		}
	}
#endif
	if (!buf && cpu_node < 0)
		buf = map_aligned(size, false, &base, &len);
	if (!buf) {
		json_object_set_new(o, "error", jstr("cannot allocate on that node"));
		return o;
	}
	struct hist h;
	hist_init(&h);
	build_chain(buf, p->pair_size);
	double mean = chase(buf, p->pair_size, p->per_point_ns * 3, &h);
	json_object_set_new(o, "latency_ns", pjnum(hist_pct(&h, 50) / 1e3));
	json_object_set_new(o, "mean_ns", pjnum(mean));
	json_object_set_new(o, "batch", batch_json(&h));
	json_object_set_new(o, "read_MiBps", pjnum(bw_read(buf, p->bw_size, p->per_point_ns * 3) / 1048576.0));
	json_object_set_new(o, "write_MiBps", pjnum(bw_write(buf, p->bw_size, p->per_point_ns * 3) / 1048576.0));
#ifdef HQ_WITH_NUMA
	if (!base)
		numa_free(buf, size);
#endif
	if (base)
		munmap(base, len);
	return o;
}

json_t *mem_run(const struct mem_params *p, const struct probe_env *e)
{
	json_t *r = json_object();
	json_object_set_new(r, "max_size", json_integer((json_int_t)p->max_size));
	json_t *curves = json_array();
	if (p->do_4k)
		json_array_append_new(curves, curve(p, false));
	if (p->do_thp && !hq_exiting)
		json_array_append_new(curves, curve(p, true));
	json_object_set_new(r, "curves", curves);
	if (!p->pairs)
		return r;
	json_t *pairs = json_array();
	int nodes = 1;
	bool numa = false;
#ifdef HQ_WITH_NUMA
	numa = numa_available() >= 0;
	if (numa)
		nodes = numa_max_node() + 1;
#endif
	int ncpu_nodes = 0, nmem_nodes = 0;
	for (int c = 0; c < nodes && !hq_exiting; c++) {
		bool has_cpu = !numa, has_mem = !numa;
#ifdef HQ_WITH_NUMA
		if (numa) {
			struct bitmask *b = numa_allocate_cpumask();
			has_cpu = numa_node_to_cpus(c, b) == 0 && numa_bitmask_weight(b) > 0;
			numa_free_cpumask(b);
		}
#endif
		if (!has_cpu)
			continue;
		ncpu_nodes++;
		double local = NAN;
		json_t *row = json_array();
		for (int m = 0; m < nodes && !hq_exiting; m++) {
#ifdef HQ_WITH_NUMA
			if (numa) {
				long long fr;
				has_mem = numa_node_size64(m, &fr) > 0;
			}
#endif
			if (!has_mem)
				continue;
			if (c == 0)
				nmem_nodes++;
			json_t *pj = pair(p, numa ? c : -1, numa ? m : 0);
			if (m == c)
				local = pjget(pj, "latency_ns");
			json_array_append_new(row, pj);
		}
		size_t i;
		json_t *pj;
		json_array_foreach(row, i, pj) {
			double l = pjget(pj, "latency_ns");
			json_object_set_new(pj, "remote_local_ratio", isfinite(local) && local > 0 && isfinite(l)
									      ? pjnum(l / local) : json_null());
			json_array_append(pairs, pj);
		}
		json_decref(row);
	}
#ifdef HQ_WITH_NUMA
	if (numa)
		numa_run_on_node(-1);
#endif
	json_object_set_new(r, "pair_size", json_integer((json_int_t)p->pair_size));
	json_object_set_new(r, "pairs", pairs);
	json_object_set_new(r, "libnuma", json_boolean(numa));
	json_object_set_new(r, "nodes_with_cpus", json_integer(ncpu_nodes));
	json_object_set_new(r, "nodes_with_memory", json_integer(nmem_nodes));
	const char *note;
	if (nmem_nodes <= 1)
		note = "one NUMA node with memory: no remote node exists here, only the local latency curve";
	else if (e && e->tcg)
		note = "TCG guest: the node pairs exist but carry no penalty (remote memory is the same host memory, "
		       "emulated); the ratios say nothing about hardware";
	else if (e && e->guest)
		note = "virtual NUMA: these ratios are real only if the host pins each vNUMA node to a host node";
	else
		note = "remote/local ratios of 1.4-2.5 are normal hardware; the finding is memory placed away from "
		       "its threads";
	json_object_set_new(r, "note", jstr(note));
	return r;
}

static uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	unsigned long long kb = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return (uint64_t)kb * 1024;
}

static uint64_t pow2_floor(uint64_t v)
{
	return v ? 1ull << (63 - __builtin_clzll(v)) : 0;
}

void mem_params_fit(struct mem_params *p)
{
	p->max_size = pow2_floor(p->max_size);
	p->min_size = pow2_floor(p->min_size);
	uint64_t avail = mem_available();
	if (avail && p->max_size > avail / 2) {
		uint64_t m = pow2_floor(avail / 2);
		log_warn("--max-size lowered to %llu MiB: half of MemAvailable", (unsigned long long)(m >> 20));
		p->max_size = m;
	}
	if (p->min_size > p->max_size)
		p->min_size = p->max_size;
	if (p->pair_size > p->max_size)
		p->pair_size = p->max_size;
	if (p->bw_size > p->max_size)
		p->bw_size = p->max_size;
}

json_t *mem_lab(bool quick, const struct probe_env *e)
{
	struct mem_params p = { .min_size = 64ull << 20, .max_size = quick ? 64ull << 20 : 256ull << 20,
				.pair_size = quick ? 64ull << 20 : 256ull << 20, .bw_size = 64ull << 20,
				.per_point_ns = quick ? 50000000 : 200000000, .do_4k = true, .pairs = true };
	return mem_run(&p, e);
}
