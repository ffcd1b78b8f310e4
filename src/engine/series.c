/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The sample-scope series of the catalog, read from the engine's newest
 * epoch (series.h).  One emitter per metric; a metric a source did not
 * deliver has no points.
 */
#include "series.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../analysis/stack.h"
#include "../analysis/vms.h"
#include "../core/util.h"

#define USER_HZ 100.0

const double steal_window_le[] = { 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0 };
const size_t steal_window_nle = ARRAY_SIZE(steal_window_le);

struct steal_hist {
	int cpu;
	uint64_t bucket[ARRAY_SIZE(steal_window_le)];	/* windows <= le (not cumulative here) */
	uint64_t count;
	double sum;
};

/* ---------------- the 1 s steal windows since the start ---------------- */

static struct steal_hist *hist_for(struct engine *e, int cpu)
{
	for (size_t i = 0; i < e->nsh; i++)
		if (e->sh[i].cpu == cpu)
			return &e->sh[i];
	if (e->nsh >= 4096)
		return NULL;
	xgrow((void **)&e->sh, sizeof(*e->sh), &e->capsh, e->nsh);
	struct steal_hist *h = &e->sh[e->nsh++];
	memset(h, 0, sizeof(*h));
	h->cpu = cpu;
	return h;
}

void engine_series_update(struct engine *e)
{
	if (!e->nep)
		return;
	/* the oldest epoch's closed windows: the longest unbroken run of them */
	const struct cpu_analysis *a = &e->ep[0]->an.cpu;
	const char *why;
	if (!cpu_steal_reported(a, &why))
		return;
	size_t first = a->nwins;
	while (first > 0 && a->wins[first - 1].end_ns > e->sh_last_end)
		first--;
	for (size_t w = first; w < a->nwins; w++) {
		const struct cpu_window *win = &a->wins[w];
		for (size_t si = 0; si < win->nslots && si < a->nslots; si++) {
			double p = cpu_window_steal_pct(win, si);
			if (p < 0)
				continue;
			struct steal_hist *h = hist_for(e, a->slots[si].cpu);
			if (!h)
				continue;
			double r = p / 100.0;
			for (size_t k = 0; k < steal_window_nle; k++)
				if (r <= steal_window_le[k] + 1e-9) {
					h->bucket[k]++;
					break;
				}
			h->count++;
			h->sum += r;
		}
		e->sh_last_end = win->end_ns;
	}
}

void engine_series_done(struct engine *e)
{
	free(e->sh);
	e->sh = NULL;
	e->nsh = e->capsh = 0;
}

/* ---------------- emitting ---------------- */

struct emit {
	series_fn fn;
	void *arg;
	struct series_point p;
	char buf[SERIES_MAX_LABELS][160];
};

static void begin(struct emit *em, enum metric_id id)
{
	memset(&em->p, 0, sizeof(em->p));
	em->p.id = id;
}

__attribute__((format(printf, 3, 4))) static void label(struct emit *em, enum label_id k, const char *fmt, ...)
{
	if (em->p.nlabels >= SERIES_MAX_LABELS)
		return;
	unsigned i = em->p.nlabels++;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(em->buf[i], sizeof(em->buf[i]), fmt, ap);
	va_end(ap);
	em->p.labels[i].key = k;
	em->p.labels[i].value = em->buf[i];
}

static void out(struct emit *em, double v)
{
	em->p.value = v;
	em->fn(&em->p, em->arg);
}

/* A log2-microsecond eBPF histogram (cumulative since the program loaded) as
 * buckets in seconds: slots 0..26 (up to 2^27 us, 134 s), the rest in +Inf. */
static void out_log2(struct emit *em, const uint64_t h[BPFHIST_SLOTS])
{
	uint64_t cum = 0;
	size_t nb = 27;
	for (size_t i = 0; i < nb; i++) {
		cum += h[i];
		em->p.le[i] = ldexp(1.0, (int)i + 1) / 1e6;
		em->p.bucket[i] = cum;
	}
	em->p.nbuckets = nb;
	em->p.count = bpfhist_total(h);
	em->p.sum = bpfhist_sum_us(h) / 1e6;
	em->fn(&em->p, em->arg);
}

static const char *const psi_res[PSI_N] = { "cpu", "memory", "io" };

/* The CPUs any thread of vm may run on, from what the epoch has read. */
static void vm_allowed(const struct vms_vm *vm, struct cpumask *m)
{
	cpumask_clear(m);
	for (size_t k = 0; k < vm->nth; k++)
		if (vm->th[k].have_allowed)
			cpumask_or(m, &vm->th[k].allowed);
}

static void emit_metric(struct engine *e, const struct analysis *an, enum metric_id m, struct emit *em)
{
	const struct cpu_analysis *c = &an->cpu;
	const struct mem_analysis *mm = &an->mem;
	const struct io_analysis *io = &an->io;
	const char *why;
	bool steal_ok = cpu_steal_reported(c, &why);
	uint64_t h[BPFHIST_SLOTS];
	switch (m) {
	case M_STEAL_SECONDS_TOTAL:
	case M_BUSY_SECONDS_TOTAL:
	case M_SOFTIRQ_SECONDS_TOTAL:
		if (m == M_STEAL_SECONDS_TOTAL && !steal_ok)
			break;
		for (size_t i = 0; i < c->nslots; i++) {
			const struct cpu_slot *s = &c->slots[i];
			if (!s->have_prev)
				continue;
			const uint64_t *v = s->prev.v;
			double ticks = m == M_STEAL_SECONDS_TOTAL     ? (double)v[CT_STEAL]
				       : m == M_SOFTIRQ_SECONDS_TOTAL ? (double)v[CT_SOFTIRQ]
				       : (double)(v[CT_USER] + v[CT_NICE] + v[CT_SYSTEM] + v[CT_IRQ] + v[CT_SOFTIRQ]);
			begin(em, m);
			label(em, LBL_CPU, "%d", s->cpu);
			out(em, ticks / USER_HZ);
		}
		break;
	case M_STEAL_WINDOW_RATIO:
		if (!steal_ok)
			break;
		for (size_t i = 0; i < e->nsh; i++) {
			const struct steal_hist *sh = &e->sh[i];
			begin(em, m);
			label(em, LBL_CPU, "%d", sh->cpu);
			uint64_t cum = 0;
			for (size_t k = 0; k < steal_window_nle; k++) {
				cum += sh->bucket[k];
				em->p.le[k] = steal_window_le[k];
				em->p.bucket[k] = cum;
			}
			em->p.nbuckets = steal_window_nle;
			em->p.count = sh->count;
			em->p.sum = sh->sum;
			em->fn(&em->p, em->arg);
		}
		break;
	case M_STEAL_LAST_WINDOW: {
		/* the oldest epoch's windows, as the histogram counts them: one phase while epochs come and go */
		const struct cpu_analysis *o = &e->ep[0]->an.cpu;
		if (!cpu_steal_reported(o, &why) || !o->nwins)
			break;
		const struct cpu_window *win = &o->wins[o->nwins - 1];
		for (size_t si = 0; si < win->nslots && si < o->nslots; si++) {
			double p = cpu_window_steal_pct(win, si);
			if (p < 0)
				continue;
			begin(em, m);
			label(em, LBL_CPU, "%d", o->slots[si].cpu);
			em->p.start_ns = win->start_ns;
			em->p.end_ns = win->end_ns;
			out(em, p / 100.0);
		}
		break;
	}
	case M_PSI_STALLED_SECONDS_TOTAL:
		for (int r = 0; r < PSI_N; r++) {
			if (!c->psi_have_prev[r])
				continue;
			begin(em, m);
			label(em, LBL_RESOURCE, "%s", psi_res[r]);
			label(em, LBL_KIND, "some");
			out(em, (double)c->psi_prev[r].some.total_us / 1e6);
			if (c->psi_full_seen[r] && c->psi_prev[r].has_full) {
				begin(em, m);
				label(em, LBL_RESOURCE, "%s", psi_res[r]);
				label(em, LBL_KIND, "full");
				out(em, (double)c->psi_prev[r].full.total_us / 1e6);
			}
		}
		break;
	case M_PROCS_RUNNING:
		if (c->running_n) {
			begin(em, m);
			out(em, (double)c->running_last);
		}
		break;
	case M_LOAD1:
		if (c->have_loadavg) {
			begin(em, m);
			out(em, c->load1_last);
		}
		break;
	case M_CG_PERIODS_TOTAL:
	case M_CG_THROTTLED_TOTAL:
	case M_CG_THROTTLED_SECONDS_TOTAL:
		for (size_t i = 0; i < c->ncgs; i++) {
			const struct cg_acc *g = &c->cgs[i];
			if (!g->have_last || !g->last.has_periods)
				continue;
			begin(em, m);
			const char *p = g->path + (strncmp(g->path, "sys/fs/cgroup", 13) == 0 ? 13 : 0);
			label(em, LBL_CGROUP, "%s", *p ? p : "/");
			out(em, m == M_CG_PERIODS_TOTAL	     ? (double)g->last.nr_periods
				: m == M_CG_THROTTLED_TOTAL ? (double)g->last.nr_throttled
							    : (double)g->last.throttled_ns / 1e9);
		}
		break;
	case M_SWAPIN_TOTAL:
	case M_SWAPOUT_TOTAL:
	case M_MAJFAULT_TOTAL:
	case M_COMPACT_STALL_TOTAL: {
		enum vm_key k = m == M_SWAPIN_TOTAL ? VK_PSWPIN
				: m == M_SWAPOUT_TOTAL ? VK_PSWPOUT
				: m == M_MAJFAULT_TOTAL ? VK_PGMAJFAULT
							: VK_COMPACT_STALL;
		if (mm->npts && mm->pts[mm->npts - 1].ok && mm->vm_found[k]) {
			begin(em, m);
			out(em, (double)mm->pts[mm->npts - 1].v[k]);
		}
		break;
	}
	case M_MEM_AVAILABLE_PCT:
		if (mm->mi_found[MI_AVAILABLE] && mm->mi_found[MI_TOTAL] && mm->mi[MI_TOTAL]) {
			begin(em, m);
			out(em, (double)mm->mi[MI_AVAILABLE] / (double)mm->mi[MI_TOTAL]);
		}
		break;
	case M_SWAP_USED_MIB:
		if (mm->mi_found[MI_SWAPTOTAL] && mm->mi_found[MI_SWAPFREE]) {
			begin(em, m);
			uint64_t used = mm->mi[MI_SWAPTOTAL] > mm->mi[MI_SWAPFREE] ? mm->mi[MI_SWAPTOTAL] - mm->mi[MI_SWAPFREE] : 0;
			out(em, (double)used * 1024.0);
		}
		break;
	case M_MEM_TOTAL_MIB:
		if (mm->mi_found[MI_TOTAL]) {
			begin(em, m);
			out(em, (double)mm->mi[MI_TOTAL] * 1024.0);
		}
		break;
	case M_ANON_HUGE_MIB:
		if (mm->mi_found[MI_ANONHUGE]) {
			begin(em, m);
			out(em, (double)mm->mi[MI_ANONHUGE] * 1024.0);
		}
		break;
	case M_BALLOON_MIB:
	case M_BALLOON_PCT: {
		double bytes = -1;
		if (mm->mi_found[MI_BALLOON])
			bytes = (double)mm->mi[MI_BALLOON] * 1024.0;
		else if (mm->vm_found[VK_NR_BALLOON_PAGES] && mm->npts && mm->pts[mm->npts - 1].ok)
			bytes = (double)mm->pts[mm->npts - 1].v[VK_NR_BALLOON_PAGES] * 4096.0;
		if (bytes < 0)
			break;
		begin(em, m);
		if (m == M_BALLOON_MIB)
			out(em, bytes);
		else if (mm->mi_found[MI_TOTAL] && mm->mi[MI_TOTAL])
			out(em, bytes / ((double)mm->mi[MI_TOTAL] * 1024.0 + bytes));
		break;
	}
	case M_QDISC_DROPS_TOTAL:
		for (size_t i = 0; i < io->nqd; i++) {
			const struct qdisc_acc *q = &io->qd[i];
			if (q->is_parent || !strcmp(q->last.kind, "noqueue"))
				continue;
			begin(em, m);
			label(em, LBL_INTERFACE, "%s", q->last.ifname[0] ? q->last.ifname : "?");
			label(em, LBL_QDISC, "%s %s", q->last.kind, q->last.handle);
			label(em, LBL_PARENT, "%s", q->last.parent);
			out(em, (double)q->last.c[QD_DROPS]);
		}
		break;
	case M_QDISC_PACKETS_TOTAL:
	case M_QDISC_REQUEUES_TOTAL:
	case M_QDISC_BACKLOG:
		for (size_t i = 0; i < io->nqd; i++) {
			const struct qdisc_acc *q = &io->qd[i];
			if (q->is_parent || !strcmp(q->last.kind, "noqueue"))
				continue;
			begin(em, m);
			label(em, LBL_INTERFACE, "%s", q->last.ifname[0] ? q->last.ifname : "?");
			label(em, LBL_QDISC, "%s %s", q->last.kind, q->last.handle);
			label(em, LBL_PARENT, "%s", q->last.parent);
			out(em, m == M_QDISC_PACKETS_TOTAL    ? (double)q->last.c[QD_PACKETS]
				: m == M_QDISC_REQUEUES_TOTAL ? (double)q->last.c[QD_REQUEUES]
							      : (double)q->last.backlog);
		}
		break;
	case M_SOFTNET_DROPS_TOTAL:
	case M_SOFTNET_SQUEEZE_TOTAL:
		for (size_t i = 0; i < io->nsn; i++) {
			if (!io->sn[i].have_prev)
				continue;
			begin(em, m);
			label(em, LBL_CPU, "%d", io->sn[i].cpu);
			out(em, (double)(m == M_SOFTNET_DROPS_TOTAL ? io->sn[i].prev.dropped : io->sn[i].prev.time_squeeze));
		}
		break;
	case M_NET_PACKETS_TOTAL:
	case M_NET_BYTES_TOTAL:
		for (size_t i = 0; i < io->nifs; i++) {
			const struct iface_acc *x = &io->ifs[i];
			if (!x->have_prev)
				continue;
			bool pk = m == M_NET_PACKETS_TOTAL;
			begin(em, m);
			label(em, LBL_INTERFACE, "%s", x->name);
			label(em, LBL_DIRECTION, "rx");
			out(em, (double)x->prev.f[pk ? ND_RX_PACKETS : ND_RX_BYTES]);
			begin(em, m);
			label(em, LBL_INTERFACE, "%s", x->name);
			label(em, LBL_DIRECTION, "tx");
			out(em, (double)x->prev.f[pk ? ND_TX_PACKETS : ND_TX_BYTES]);
		}
		break;
	case M_NET_DROPS_TOTAL:
		for (size_t i = 0; i < io->nifs; i++) {
			const struct iface_acc *x = &io->ifs[i];
			if (!x->have_prev)
				continue;
			begin(em, m);
			label(em, LBL_INTERFACE, "%s", x->name);
			label(em, LBL_DIRECTION, "rx");
			out(em, (double)(x->prev.f[ND_RX_DROP] + x->prev.f[ND_RX_FIFO]));
			begin(em, m);
			label(em, LBL_INTERFACE, "%s", x->name);
			label(em, LBL_DIRECTION, "tx");
			out(em, (double)(x->prev.f[ND_TX_DROP] + x->prev.f[ND_TX_FIFO]));
		}
		break;
	case M_QUEUE_DROPS_TOTAL:
		for (size_t i = 0; io->eth_seen && i < io->eth_last.n; i++) {
			const struct eth_iface *l = &io->eth_last.v[i];
			for (size_t k = 0; k < l->nst; k++) {
				bool tx;
				unsigned qn;
				char field[40];
				if (!eth_queue_name(l->st[k].name, &tx, &qn, field, sizeof(field)) ||
				    !eth_queue_field_is_drop(field))
					continue;
				begin(em, m);
				label(em, LBL_INTERFACE, "%s", l->name);
				label(em, LBL_QUEUE, "%s-%u", tx ? "tx" : "rx", qn);
				label(em, LBL_STAT, "%s", l->st[k].name);
				out(em, (double)l->st[k].v);
			}
		}
		for (size_t i = 0; io->qstats_seen && i < io->nqs_last; i++) {
			const struct qstat_rec *q = &io->qs_last[i];
			begin(em, m);
			label(em, LBL_INTERFACE, "%s", q->ifname);
			label(em, LBL_QUEUE, "%s-%d", q->tx ? "tx" : "rx", q->queue);
			label(em, LBL_STAT, "qstats");
			out(em, (double)q->drops);
		}
		break;
	case M_DISK_IO_SECONDS_TOTAL:
		for (size_t i = 0; i < io->ndisks; i++) {
			const struct disk_acc *d = &io->disks[i];
			if (!d->have_prev)
				continue;
			begin(em, m);
			label(em, LBL_DEVICE, "%s", d->name);
			out(em, (double)d->prev.f[DS_IO_MS] / 1000.0);
		}
		break;
	case M_DISK_REQUESTS_TOTAL:
	case M_DISK_REQUEST_SECONDS_TOTAL: {
		/* discards and flushes only where the kernel prints them (4.18+, 5.5+) */
		static const struct {
			const char *op;
			enum ds_field ios, ms;
			unsigned min_fields;
		} ops[] = {
			{ "read", DS_RD_IOS, DS_RD_MS, 0 },
			{ "write", DS_WR_IOS, DS_WR_MS, 0 },
			{ "discard", DS_DC_IOS, DS_DC_MS, 15 },
			{ "flush", DS_FL_IOS, DS_FL_MS, 17 },
		};
		for (size_t i = 0; i < io->ndisks; i++) {
			const struct disk_acc *d = &io->disks[i];
			if (!d->have_prev)
				continue;
			for (size_t k = 0; k < ARRAY_SIZE(ops); k++) {
				if (d->prev.nfields < ops[k].min_fields)
					continue;
				begin(em, m);
				label(em, LBL_DEVICE, "%s", d->name);
				label(em, LBL_OP, "%s", ops[k].op);
				out(em, m == M_DISK_REQUESTS_TOTAL ? (double)d->prev.f[ops[k].ios]
								   : (double)d->prev.f[ops[k].ms] / 1000.0);
			}
		}
		break;
	}
	case M_NUMA_PAGES_TOTAL:
		for (unsigned n = 0; n < mm->nnodes && n < MEM_MAX_NODES; n++) {
			const struct node_acc *na = &mm->nodes[n];
			if (!na->seen)
				continue;
			for (int k = 0; k < NS_N; k++) {
				begin(em, m);
				label(em, LBL_NODE, "%u", n);
				label(em, LBL_KIND, "%s", ns_keys[k]);
				out(em, (double)na->last[k]);
			}
		}
		break;
	case M_RUNQ_LATENCY:
		if (bpfhist_runq_total(an, h) == 0) {
			begin(em, m);
			out_log2(em, h);
		}
		break;
	case M_RUNQ_IDLE_LATENCY:
	case M_IPI_IDLE_LATENCY:
		if ((m == M_RUNQ_IDLE_LATENCY ? bpfhist_runq_idle_total(an, h) : bpfhist_runq_ipi_total(an, h)) == 0) {
			begin(em, m);
			out_log2(em, h);
		}
		break;
	case M_BLOCK_LATENCY: {
		static const char *const layers[] = { "queued", "below" }, *const ops[] = { "read", "write", "flush" };
		size_t nd = bpfhist_dev_count(an);
		for (size_t i = 0; i < nd; i++) {
			const char *dev = bpfhist_dev_name(an, i);
			for (size_t l = 0; dev && l < 2; l++)
				for (size_t o = 0; o < 3; o++) {
					if (bpfhist_dev_total(an, dev, layers[l], ops[o], h) < 0)
						continue;
					begin(em, m);
					label(em, LBL_DEVICE, "%s", dev);
					label(em, LBL_LAYER, "%s", layers[l]);
					label(em, LBL_OP, "%s", ops[o]);
					out_log2(em, h);
				}
		}
		break;
	}
	case M_COMPACTION_DURATION:
		if (bpfhist_compact_total(an, h) == 0) {
			begin(em, m);
			out_log2(em, h);
		}
		break;
	case M_VM_VCPU_DELAY_TOTAL:
	case M_VM_VCPU_RUN_TOTAL:
		for (size_t i = 0; an->host && i < an->host->n; i++) {
			const struct vms_vm *vm = &an->host->vms[i];
			for (size_t j = 0; j < vm->nth; j++) {
				const struct vms_thread *t = &vm->th[j];
				if (t->kind != TK_VCPU || !t->have_first)
					continue;
				begin(em, m);
				label(em, LBL_VM, "%s", vm->name);
				label(em, LBL_VCPU, "%d", t->vcpu);
				out(em, (double)(m == M_VM_VCPU_DELAY_TOTAL ? t->delay1 : t->cpu1) / 1e9);
			}
		}
		break;
	case M_VM_INFO:
		for (size_t i = 0; an->host && i < an->host->n; i++) {
			const struct vms_vm *vm = &an->host->vms[i];
			begin(em, m);
			label(em, LBL_VM, "%s", vm->name);
			label(em, LBL_UUID, "%s", vm->uuid);
			label(em, LBL_VMM, "%s", vm->vmm);
			label(em, LBL_PID, "%d", vm->pid);
			label(em, LBL_MACHINE_ID, "%s", vm->machine_id);
			out(em, 1);
		}
		break;
	case M_VM_DISK_REQUESTS_TOTAL:
	case M_VM_DISK_REQUEST_SECONDS_TOTAL: {
		static const char *const ops[] = { "read", "write", "flush" }, *const opk[] = { "rd", "wr", "flush" };
		for (size_t i = 0; an->host && i < an->host->n; i++) {
			const struct vms_vm *vm = &an->host->vms[i];
			size_t k;
			json_t *v;
			json_array_foreach(vm->qmp_last, k, v) {
				const char *d = json_string_value(json_object_get(v, "device"));
				const char *q = json_string_value(json_object_get(v, "qdev"));
				const char *nm = d && *d ? d : q ? q : json_string_value(json_object_get(v, "node-name"));
				const json_t *st = json_object_get(v, "stats");
				if (!nm || !json_is_object(st))
					continue;
				for (size_t o = 0; o < ARRAY_SIZE(ops); o++) {
					char key[40];
					snprintf(key, sizeof(key), m == M_VM_DISK_REQUESTS_TOTAL ? "%s_operations" : "%s_total_time_ns",
						 opk[o]);
					const json_t *x = json_object_get(st, key);
					if (!json_is_integer(x) || json_integer_value(x) < 0)
						continue;
					begin(em, m);
					label(em, LBL_VM, "%s", vm->name);
					label(em, LBL_DEVICE, "%s", nm);
					label(em, LBL_OP, "%s", ops[o]);
					double val = (double)json_integer_value(x);
					out(em, m == M_VM_DISK_REQUESTS_TOTAL ? val : val / 1e9);
				}
			}
		}
		break;
	}
	case M_GUEST_INFO: {
		struct stack_ids ids;
		stack_ids(an->statics, &c->id, &ids);
		if (!ids.guest)
			break;
		begin(em, m);
		label(em, LBL_UUID, "%s", ids.uuid);
		label(em, LBL_MACHINE_ID, "%s", ids.machine_id);
		label(em, LBL_HYPERVISOR, "%s", ids.hypervisor);
		out(em, 1);
		break;
	}
	case M_VM_SWAP:
		for (size_t i = 0; an->host && i < an->host->n; i++) {
			const struct vms_vm *vm = &an->host->vms[i];
			if (!vm->have_status)
				continue;
			begin(em, m);
			label(em, LBL_VM, "%s", vm->name);
			out(em, (double)vm->vmswap_kb * 1024.0);
		}
		break;
	case M_VM_MIG_REMAINING:
	case M_VM_MIG_PASS:
	case M_VM_MIG_DIRTY_RATE:
	case M_VM_MIG_SENT_RATE:
	case M_VM_MIG_THROTTLE:
	case M_VM_MIG_EXPECTED_DOWNTIME:
		/* only while a migration is under way: a finished one leaves no series behind */
		for (size_t i = 0; an->host && i < an->host->n; i++) {
			const struct vms_vm *vm = &an->host->vms[i];
			const struct mig_info *mi = &vm->mig.last;
			if (!vm->mig.seen || !mig_status_running(mi->status) || !mi->have_ram)
				continue;
			double v = m == M_VM_MIG_REMAINING	  ? (double)mi->remaining
				   : m == M_VM_MIG_PASS		  ? (double)mi->dirty_sync_count
				   : m == M_VM_MIG_DIRTY_RATE	  ? mig_dirty_bytes_per_s(mi)
				   : m == M_VM_MIG_SENT_RATE	  ? (mi->mbps < 0 ? -1 : mi->mbps * 1e6 / 8)
				   : m == M_VM_MIG_THROTTLE	  ? (mi->cpu_throttle_pct < 0 ? 0 : mi->cpu_throttle_pct / 100.0)
								  : (mi->expected_downtime_ms < 0 ? -1 : mi->expected_downtime_ms / 1000.0);
			if (v < 0)
				continue;
			begin(em, m);
			label(em, LBL_VM, "%s", vm->name);
			out(em, v);
		}
		break;
	case M_VM_OVERLAP:
		/* from the threads' affinity as read so far: the VMs' cpus masks are
		 * only summed by vms_finish, which this epoch has not run */
		for (size_t i = 0; an->host && i < an->host->n; i++)
			for (size_t j = i + 1; j < an->host->n; j++) {
				struct cpumask mi, mj, both;
				vm_allowed(&an->host->vms[i], &mi);
				vm_allowed(&an->host->vms[j], &mj);
				cpumask_and(&both, &mi, &mj);
				unsigned n = cpumask_weight(&both);
				if (!n)
					continue;
				begin(em, m);
				label(em, LBL_VM, "%s", an->host->vms[i].name);
				label(em, LBL_OTHER_VM, "%s", an->host->vms[j].name);
				out(em, n);
			}
		break;
	case M_SOURCE_UP:
		for (int s = 0; s < SRC_COUNT; s++) {
			char w[8];
			begin(em, m);
			label(em, LBL_SOURCE, "%s", source_defs[s].name);
			out(em, source_status(an, (enum source_id)s, w, sizeof(w)) ? 1 : 0);
		}
		break;
	case M_SAMPLES_TOTAL:
		begin(em, m);
		out(em, (double)e->nsamples);
		break;
	default:
		break;
	}
}

void engine_series(struct engine *e, series_fn fn, void *arg)
{
	if (!e->nep)
		return;
	/*
	 * Every epoch is fed every sample, so each holds the last value of what
	 * it has seen; but sources read on slow ticks (tasks, cgroups, VMs every
	 * few seconds) have not yet delivered to an epoch started since.  Each
	 * source's series come from the youngest epoch it has delivered to (the
	 * newest if none has): reading the newest alone made them blink in and
	 * out between scrapes.
	 */
	const struct analysis *by_src[SRC_COUNT];
	for (int s = 0; s < SRC_COUNT; s++) {
		by_src[s] = &e->ep[e->nep - 1]->an;
		for (size_t i = e->nep; i-- > 0;) {
			char why[8];
			if (source_status(&e->ep[i]->an, (enum source_id)s, why, sizeof(why))) {
				by_src[s] = &e->ep[i]->an;
				break;
			}
		}
	}
	struct emit *em = xcalloc(1, sizeof(*em));
	em->fn = fn;
	em->arg = arg;
	for (int m = 0; m < M_COUNT; m++) {
		const struct metric_def *d = metric_def((enum metric_id)m);
		if (d->scope != MS_SAMPLE)
			continue;
		emit_metric(e, by_src[d->source], (enum metric_id)m, em);
	}
	free(em);
}
