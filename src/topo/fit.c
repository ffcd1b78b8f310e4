/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * vNUMA sizing (see fit.h for the rules).  Everything here is arithmetic and
 * text; the commands feed it the live topology or a shape from options.
 */
#include "fit.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/util.h"
#include "topo.h"

const char *fit_kind_name(enum fit_kind k)
{
	switch (k) {
	case FIT_ONE_NODE: return "one-node";
	case FIT_SPLIT: return "split";
	case FIT_UNEVEN: return "uneven-split";
	case FIT_TOO_BIG: return "does-not-fit";
	case FIT_BAD_INPUT: break;
	}
	return "bad-input";
}

void fit_fmt_mib(uint64_t mib, char *buf, size_t n)
{
	if (mib >= 1024 * 1024 && mib % (1024 * 1024) == 0)
		snprintf(buf, n, "%llu TiB", (unsigned long long)(mib >> 20));
	else if (mib >= 1024 && mib % 1024 == 0)
		snprintf(buf, n, "%llu GiB", (unsigned long long)(mib >> 10));
	else if (mib >= 1024)
		snprintf(buf, n, "%.1f GiB", (double)mib / 1024.0);
	else
		snprintf(buf, n, "%llu MiB", (unsigned long long)mib);
}

int fit_parse_mem(const char *s, uint64_t *mib)
{
	if (!s)
		return -EINVAL;
	double v;
	const char *end;
	if (parse_decimal(s, &v, &end) < 0 || v <= 0)
		return -EINVAL;
	double mul;
	if (!*end || !strcasecmp(end, "g") || !strcasecmp(end, "gb") || !strcasecmp(end, "gib"))
		mul = 1024;
	else if (!strcasecmp(end, "m") || !strcasecmp(end, "mb") || !strcasecmp(end, "mib"))
		mul = 1;
	else if (!strcasecmp(end, "t") || !strcasecmp(end, "tb") || !strcasecmp(end, "tib"))
		mul = 1024 * 1024;
	else if (!strcasecmp(end, "k") || !strcasecmp(end, "kb") || !strcasecmp(end, "kib"))
		mul = 1.0 / 1024;
	else
		return -EINVAL;
	double m = v * mul;
	if (m < 1 || m > (double)(1ull << 30))
		return -EINVAL;
	*mib = (uint64_t)llround(m);
	return 0;
}

/* ---- text building ---- */

struct sb {
	char *s;
	size_t len, cap;
};

static void sb_addf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_addf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (b->len + (size_t)n + 1 > b->cap) {
		b->cap = (b->len + (size_t)n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void note(struct fit_verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct fit_verdict *v, const char *fmt, ...)
{
	if (v->nnotes >= ARRAY_SIZE(v->notes))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->notes[v->nnotes++], sizeof(v->notes[0]), fmt, ap);
	va_end(ap);
}

static void reason(struct fit_verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reason(struct fit_verdict *v, const char *fmt, ...)
{
	size_t o = strlen(v->reason);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->reason + o, sizeof(v->reason) - o, fmt, ap);
	va_end(ap);
}

static void fmt_range(char *buf, size_t n, unsigned first, unsigned count)
{
	if (count == 1)
		snprintf(buf, n, "%u", first);
	else
		snprintf(buf, n, "%u-%u", first, first + count - 1);
}

/* "0-1" or "0,2" from the cells' host nodes (small sets). */
static void fmt_nodeset(const struct fit_verdict *v, char *buf, size_t n)
{
	int ids[FIT_MAX_NODES];
	unsigned k = 0;
	for (unsigned i = 0; i < v->ncells; i++) {
		bool dup = false;
		for (unsigned j = 0; j < k; j++)
			dup |= ids[j] == v->cells[i].host_node;
		if (!dup)
			ids[k++] = v->cells[i].host_node;
	}
	for (unsigned i = 1; i < k; i++) /* insertion sort */
		for (unsigned j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
			int x = ids[j];
			ids[j] = ids[j - 1];
			ids[j - 1] = x;
		}
	size_t o = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < k && o < n;) {
		unsigned j = i;
		while (j + 1 < k && ids[j + 1] == ids[j] + 1)
			j++;
		if (j == i)
			o += (size_t)snprintf(buf + o, n - o, "%s%d", o ? "," : "", ids[i]);
		else
			o += (size_t)snprintf(buf + o, n - o, "%s%d-%d", o ? "," : "", ids[i], ids[j]);
		i = j + 1;
	}
}

static void build_config(struct fit_verdict *v, uint64_t mem_mib, unsigned vcpus)
{
	bool gib = mem_mib % 1024 == 0;
	for (unsigned i = 0; i < v->ncells; i++)
		gib &= v->cells[i].mem_mib % 1024 == 0;
	const char *unit = gib ? "GiB" : "MiB";
	const char *qunit = gib ? "G" : "M";
	unsigned shift = gib ? 10 : 0;
	char nodeset[256], r[32];
	fmt_nodeset(v, nodeset, sizeof(nodeset));

	struct sb x = { 0 };
	sb_addf(&x, "<vcpu placement='static'>%u</vcpu>\n", vcpus);
	sb_addf(&x, "<memory unit='%s'>%llu</memory>\n", unit, (unsigned long long)(mem_mib >> shift));
	sb_addf(&x, "<cpu mode='host-passthrough'>\n");
	sb_addf(&x, "  <topology sockets='%u' dies='%u' cores='%u' threads='%u'/>\n", v->sockets, v->dies,
		v->cores, v->threads);
	if (v->ncells > 1) {
		sb_addf(&x, "  <numa>\n");
		for (unsigned i = 0; i < v->ncells; i++) {
			fmt_range(r, sizeof(r), v->cells[i].first_cpu, v->cells[i].ncpus);
			sb_addf(&x, "    <cell id='%u' cpus='%s' memory='%llu' unit='%s'/>\n", i, r,
				(unsigned long long)(v->cells[i].mem_mib >> shift), unit);
		}
		sb_addf(&x, "  </numa>\n");
	}
	sb_addf(&x, "</cpu>\n<numatune>\n  <memory mode='strict' nodeset='%s'/>\n", nodeset);
	for (unsigned i = 0; v->ncells > 1 && i < v->ncells; i++)
		sb_addf(&x, "  <memnode cellid='%u' mode='strict' nodeset='%d'/>\n", i, v->cells[i].host_node);
	sb_addf(&x, "</numatune>");
	v->libvirt = x.s;

	struct sb q = { 0 };
	sb_addf(&q, "-m %llu%s -smp %u,sockets=%u,cores=%u,threads=%u", (unsigned long long)(mem_mib >> shift),
		qunit, vcpus, v->sockets, v->cores, v->threads);
	for (unsigned i = 0; i < v->ncells; i++) {
		fmt_range(r, sizeof(r), v->cells[i].first_cpu, v->cells[i].ncpus);
		sb_addf(&q, " \\\n  -object memory-backend-ram,id=m%u,size=%llu%s,host-nodes=%d,policy=bind", i,
			(unsigned long long)(v->cells[i].mem_mib >> shift), qunit, v->cells[i].host_node);
		sb_addf(&q, " \\\n  -numa node,nodeid=%u,cpus=%s,memdev=m%u", i, r, i);
	}
	v->qemu = q.s;
}

static bool bad(struct fit_verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool bad(struct fit_verdict *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
	v->kind = FIT_BAD_INPUT;
	v->exit_code = 3;
	return true;
}

static bool check_input(const struct fit_host *h, const struct fit_vm *vm, unsigned nodes, struct fit_verdict *v)
{
	if (h->sockets < 1 || h->sockets > 1024)
		return bad(v, "host sockets must be 1..1024 (got %u)", h->sockets);
	if (h->cores_per_socket < 1 || h->cores_per_socket > 4096)
		return bad(v, "host cores per socket must be 1..4096 (got %u)", h->cores_per_socket);
	if (h->threads_per_core < 1 || h->threads_per_core > 8)
		return bad(v, "host threads per core must be 1..8 (got %u)", h->threads_per_core);
	if (nodes < 1 || nodes > FIT_MAX_NODES)
		return bad(v, "host NUMA nodes must be 1..%d (got %u)", FIT_MAX_NODES, nodes);
	if (nodes > h->sockets * h->cores_per_socket)
		return bad(v, "host has more NUMA nodes (%u) than cores (%u)", nodes, h->sockets * h->cores_per_socket);
	if (h->mem_per_node_mib < 1)
		return bad(v, "host memory per node must be at least 1 MiB");
	if (vm->vcpus < 1 || vm->vcpus > FIT_MAX_VCPUS)
		return bad(v, "vCPUs must be 1..%d (got %u)", FIT_MAX_VCPUS, vm->vcpus);
	if (vm->mem_mib < 1)
		return bad(v, "VM memory must be at least 1 MiB");
	return false;
}

static void headroom(struct fit_verdict *v, unsigned tpc)
{
	for (unsigned i = 0; i < v->ncells; i++) {
		const struct fit_cell *c = &v->cells[i];
		uint64_t pct = c->mem_mib * 100 / v->host_mem_per_node_mib;
		unsigned cores_used = v->uses_threads ? (c->ncpus + tpc - 1) / tpc : c->ncpus;
		char a[32], b[32];
		fit_fmt_mib(c->mem_mib, a, sizeof(a));
		fit_fmt_mib(v->host_mem_per_node_mib, b, sizeof(b));
		if (pct >= FIT_HEADROOM_PCT) {
			v->no_headroom = true;
			note(v, "leaves no headroom for the host on node %d: the VM takes %s of %s (%llu %%); the host "
				"kernel, QEMU and the guest's page tables need some of it too (keep ≥ %d %% free)",
			     c->host_node, a, b, (unsigned long long)pct, 100 - FIT_HEADROOM_PCT);
		}
		if (cores_used >= v->host_cores_per_node) {
			v->no_headroom = true;
			note(v, "takes all %u core%s of host node %d: the host's own threads (QEMU IO, vhost, "
				"interrupts) will compete with the vCPUs",
			     v->host_cores_per_node, plural_s(v->host_cores_per_node), c->host_node);
		}
	}
}

enum fit_kind fit_compute(const struct fit_host *h, const struct fit_vm *vm, struct fit_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->dies = 1;
	unsigned nodes = h->nodes ? h->nodes : h->sockets;
	if (check_input(h, vm, nodes, v))
		return v->kind;
	unsigned tpc = h->threads_per_core;
	unsigned total_cores = h->sockets * h->cores_per_socket;
	unsigned cpn = total_cores / nodes, tpn = cpn * tpc;
	uint64_t mpn = h->mem_per_node_mib;
	unsigned total_threads = total_cores * tpc;
	uint64_t total_mem = mpn * nodes;
	v->host_nodes = nodes;
	v->host_cores_per_node = cpn;
	v->host_threads_per_node = tpn;
	v->host_mem_per_node_mib = mpn;
	char vmmem[32], nodemem[32], hostmem[32], cellmem[32];
	fit_fmt_mib(vm->mem_mib, vmmem, sizeof(vmmem));
	fit_fmt_mib(mpn, nodemem, sizeof(nodemem));
	fit_fmt_mib(total_mem, hostmem, sizeof(hostmem));
	bool ragged = total_cores % nodes != 0;
	if (ragged) {
		note(v, "the host's %u cores do not divide evenly over %u nodes: counting %u per node", total_cores,
		     nodes, cpn);
		/* what the per-node arithmetic below can place */
		total_cores = cpn * nodes;
		total_threads = tpn * nodes;
	}

	/* 1. the whole host */
	if (vm->vcpus > total_threads || vm->mem_mib > total_mem) {
		v->kind = FIT_TOO_BIG;
		v->exit_code = 2;
		reason(v, "does not fit this host:");
		if (vm->vcpus > total_threads && ragged)
			reason(v, " %u vCPUs > %u hardware thread%s (%u nodes × %u)%s", vm->vcpus, total_threads,
			       plural_s(total_threads), nodes, tpn, vm->mem_mib > total_mem ? ";" : ".");
		else if (vm->vcpus > total_threads)
			reason(v, " %u vCPUs > %u hardware thread%s (%u socket%s × %u core%s × %u thread%s)%s", vm->vcpus,
			       total_threads, plural_s(total_threads), h->sockets, plural_s(h->sockets),
			       h->cores_per_socket, plural_s(h->cores_per_socket), tpc, tpc == 1 ? "" : "s",
			       vm->mem_mib > total_mem ? ";" : ".");
		if (vm->mem_mib > total_mem)
			reason(v, " %s > %s of memory (%u node%s × %s).", vmmem, hostmem, nodes, plural_s(nodes), nodemem);
		reason(v, " Without overcommit it needs a bigger host or a smaller VM.");
		return v->kind;
	}
	if (vm->vcpus > total_cores)
		note(v, "%u vCPUs > %u host core%s: the vCPUs will share cores with their siblings", vm->vcpus,
		     total_cores, plural_s(total_cores));

	unsigned mem_nodes = (unsigned)((vm->mem_mib + mpn - 1) / mpn);
	v->cpus_fit_one_node = vm->vcpus <= cpn;
	int host0 = h->node_ids ? h->node_ids[0] : 0;

	/* 2. one node, full cores */
	if (mem_nodes == 1 && vm->vcpus <= cpn) {
		v->kind = FIT_ONE_NODE;
		v->sockets = 1;
		v->cores = vm->vcpus;
		v->threads = 1;
		v->ncells = 1;
		v->cells[0] = (struct fit_cell){ 0, vm->vcpus, vm->mem_mib, host0 };
		reason(v, "fits in one NUMA node: %u vCPU%s ≤ %u core%s per node and %s ≤ %s per node. Give it "
			  "1 socket × %u core%s and bind its memory to that node.",
		       vm->vcpus, plural_s(vm->vcpus), cpn, plural_s(cpn), vmmem, nodemem, vm->vcpus,
		       plural_s(vm->vcpus));
		if (tpc > 1)
			note(v, "the host has %u threads per core: each vCPU gets a full core (threads=1); pin "
				"them to one thread of distinct cores and leave the siblings to the host",
			     tpc);
		goto done;
	}
	/* 3. one node, counting hyper-threads (sibling pairs pinned) */
	if (mem_nodes == 1 && tpc > 1 && vm->vcpus <= tpn && vm->vcpus % tpc == 0) {
		v->kind = FIT_ONE_NODE;
		v->uses_threads = true;
		v->sockets = 1;
		v->cores = vm->vcpus / tpc;
		v->threads = tpc;
		v->ncells = 1;
		v->cells[0] = (struct fit_cell){ 0, vm->vcpus, vm->mem_mib, host0 };
		reason(v, "fits in one NUMA node only by counting hyper-threads: %u vCPUs > %u cores per node but "
			  "≤ %u threads, and %s ≤ %s per node. Give it 1 socket × %u cores × %u threads and pin "
			  "each group of %u sibling vCPUs to the threads of one host core.",
		       vm->vcpus, cpn, tpn, vmmem, nodemem, v->cores, tpc, tpc);
		unsigned kc = (vm->vcpus + cpn - 1) / cpn;
		if (kc <= nodes && vm->vcpus % kc == 0)
			note(v, "with full cores instead it would need %u vNUMA nodes: %u sockets × %u cores", kc, kc,
			     vm->vcpus / kc);
		goto done;
	}

	/* 4. several nodes */
	unsigned threads = 1;
	unsigned k = (vm->vcpus + cpn - 1) / cpn;
	if (mem_nodes > k)
		k = mem_nodes;
	if (k > nodes) {
		/* not enough full cores: count threads (the host has them, or step 1 failed) */
		threads = tpc;
		v->uses_threads = true;
		k = (vm->vcpus + tpn - 1) / tpn;
		if (mem_nodes > k)
			k = mem_nodes;
	}
	if (ALWAYS(k <= nodes) == 0)
		k = nodes;
	v->ncells = k;
	uint64_t base = vm->mem_mib / k, rem = vm->mem_mib % k;
	for (unsigned i = 0; i < k; i++) {
		v->cells[i].mem_mib = base + (i < rem ? 1 : 0);
		v->cells[i].host_node = h->node_ids ? h->node_ids[i] : (int)i;
	}
	fit_fmt_mib(v->cells[0].mem_mib, cellmem, sizeof(cellmem));
	reason(v, "does not fit in one NUMA node: ");
	if (v->cpus_fit_one_node)
		reason(v, "its %u vCPU%s fit%s one node's %u core%s, but %s > %s per node (memory is a dimension "
			  "too). As 1 socket × %u core%s it would get a single vNUMA node whose memory spans %u host "
			  "nodes: remote accesses the guest cannot see or avoid. ",
		       vm->vcpus, plural_s(vm->vcpus), vm->vcpus == 1 ? "s" : "", cpn, plural_s(cpn), vmmem, nodemem,
		       vm->vcpus, plural_s(vm->vcpus), k);
	else if (mem_nodes > 1)
		reason(v, "%u vCPUs > %u core%s per node and %s > %s per node. ", vm->vcpus, cpn, plural_s(cpn), vmmem,
		       nodemem);
	else
		reason(v, "%u vCPUs > %u core%s per node. ", vm->vcpus, cpn, plural_s(cpn));

	if (vm->vcpus % (k * threads) == 0 || (threads > 1 && vm->vcpus % k == 0)) {
		v->kind = FIT_SPLIT;
		if (vm->vcpus % (k * threads) != 0)
			threads = 1; /* per-node count is odd: no sibling pairs to expose */
		v->sockets = k;
		v->threads = threads;
		v->cores = vm->vcpus / (k * threads);
		for (unsigned i = 0; i < k; i++) {
			v->cells[i].ncpus = vm->vcpus / k;
			v->cells[i].first_cpu = i * (vm->vcpus / k);
		}
		char thr[32] = "";
		if (threads > 1)
			snprintf(thr, sizeof(thr), " × %u threads", threads);
		reason(v, "Give it %u sockets × %u cores%s with %s per vNUMA node, each bound to one host node.", k,
		       v->cores, thr, cellmem);
		if (v->uses_threads && threads > 1)
			note(v, "more vCPUs per node than host cores: exposed as sibling threads; pin each group of "
				"%u sibling vCPUs to the threads of one host core",
			     threads);
		else if (v->uses_threads)
			note(v, "more vCPUs per node than host cores: some vCPUs share a core without the guest "
				"knowing; consider an even count per node so siblings can be exposed");
	} else {
		v->kind = FIT_UNEVEN;
		unsigned per = vm->vcpus / k, extra = vm->vcpus % k, first = 0;
		for (unsigned i = 0; i < k; i++) {
			v->cells[i].first_cpu = first;
			v->cells[i].ncpus = per + (i < extra ? 1 : 0);
			first += v->cells[i].ncpus;
		}
		/* one vCPU per socket: a vNUMA node then never splits a socket */
		v->sockets = vm->vcpus;
		v->cores = 1;
		v->threads = 1;
		unsigned cap = threads > 1 ? tpn : cpn;
		v->suggest_lower = per >= 1 ? per * k : 0;
		v->suggest_upper = per + 1 <= cap ? (per + 1) * k : 0;
		reason(v, "%u vCPUs cannot be split evenly over %u vNUMA nodes:", vm->vcpus, k);
		if (v->suggest_lower)
			reason(v, " use %u (%u × %u)", v->suggest_lower, k, per);
		if (v->suggest_upper)
			reason(v, "%s %u (%u × %u)", v->suggest_lower ? " or" : " use", v->suggest_upper, k, per + 1);
		reason(v, " vCPUs, or the uneven layout below (");
		for (unsigned i = 0; i < k; i++)
			reason(v, "%s%u", i ? " + " : "", v->cells[i].ncpus);
		reason(v, " vCPUs, one vCPU per vSocket so that no vSocket spans two nodes, %s per node).", cellmem);
	}
	if (rem)
		note(v, "%s does not divide by %u: the first %llu vNUMA node(s) get 1 MiB more", vmmem, k,
		     (unsigned long long)rem);
done:
	headroom(v, tpc);
	v->exit_code = (v->no_headroom || v->uses_threads || v->kind == FIT_UNEVEN) ? 1 : 0;
	build_config(v, vm->mem_mib, vm->vcpus);
	return v->kind;
}

void fit_done(struct fit_verdict *v)
{
	free(v->libvirt);
	free(v->qemu);
	v->libvirt = v->qemu = NULL;
}

int fit_host_from_topo(const struct topo *t, struct fit_host_src *hs, char **why)
{
	memset(&hs->h, 0, sizeof(hs->h));
	unsigned n = 0;
	uint64_t min_kib = 0;
	for (size_t i = 0; i < t->nnodes && n < FIT_MAX_NODES; i++) {
		const struct topo_node *nd = &t->nodes[i];
		if (!nd->ncpus || !nd->has_mem || !nd->mem_total_kib)
			continue; /* memory-only or CPU-only nodes cannot hold a VM alone */
		hs->node_ids[n++] = nd->id;
		if (!min_kib || nd->mem_total_kib < min_kib)
			min_kib = nd->mem_total_kib;
	}
	if (!n || !t->sockets || !t->cores_per_socket) {
		*why = xasprintf("cannot size against this host: no NUMA node with both CPUs and memory, or no "
				 "socket/core information; give the host shape with --sockets, --cores-per-socket "
				 "and --mem-per-node");
		return -EINVAL;
	}
	hs->h.sockets = t->sockets;
	hs->h.cores_per_socket = t->cores / t->sockets;
	hs->h.threads_per_core = t->threads_per_core ? t->threads_per_core : 1;
	hs->h.nodes = n;
	hs->h.mem_per_node_mib = min_kib / 1024;
	hs->h.node_ids = hs->node_ids;
	hs->mem_source = t->node_mem_source ? t->node_mem_source : "?";
	snprintf(hs->mem_note, sizeof(hs->mem_note), "%s", t->node_mem_note);
	hs->mem_lazy = t->node_mem_lazy;
	if (n > hs->h.sockets * hs->h.cores_per_socket)
		hs->h.nodes = hs->h.sockets * hs->h.cores_per_socket;
	if (!t->uniform)
		snprintf(hs->why, sizeof(hs->why), "the host is not uniform: using %u cores per socket on average",
			 hs->h.cores_per_socket);
	else if (n > 1)
		snprintf(hs->why, sizeof(hs->why), "memory per node is the smallest node's MemTotal");
	return 0;
}
