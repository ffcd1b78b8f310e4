/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The run loop: take the earliest pending slot, hand it to its owner, count
 * it.  Ties go to the lower slot, so the order of events (and every figure)
 * depends on the scenario alone.  Then the results: plain numbers for the
 * sinks, measured after the warm-up.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "../core/util.h"
#include "internal.h"

uint32_t slot_new(struct simctx *c, enum slot_kind k, uint32_t obj)
{
	uint32_t s = c->nslots++;
	if ((s & (s - 1)) == 0 || s == 0) {
		uint32_t cap = s ? s * 2 : 64;
		if (cap < 64)
			cap = 64;
		c->skind = xrealloc(c->skind, cap);
		c->sobj = xrealloc(c->sobj, cap * sizeof(*c->sobj));
	}
	c->skind[s] = (uint8_t)k;
	c->sobj[s] = obj;
	th_reserve(&c->th, c->nslots);
	return s;
}

static void dispatch(struct simctx *c, uint32_t slot)
{
	enum slot_kind k = (enum slot_kind)c->skind[slot];
	uint32_t obj = c->sobj[slot];
	switch (k) {
	case SK_PCPU:
		pcpu_event(c, obj);
		break;
	case SK_STA_ARRIVE:
	case SK_STA_SERVER:
	case SK_STA_PS:
		stations_event(c, k, obj, slot);
		break;
	case SK_BALANCE:
		balance_event(c);
		break;
	case SK_WARMUP:
		work_warmup(c);
		c->warmed = true;
		break;
	case SK_SAMPLE:
		if (view_sample(c) < 0)
			c->stop = true;
		c->sample_next += c->sc->bundle.interval;
		if (c->sample_next <= c->end + 1e-9)
			th_set(&c->th, slot, c->sample_next > c->end ? c->end : c->sample_next);
		break;
	case SK_END:
		c->stop = true;
		break;
	default:
		work_event(c, k, obj);
		break;
	}
}

static void latency_copy(const struct shist *h, struct sim_latency *l)
{
	shist_latency(h, l);
}

static void shist_merge(struct shist *into, const struct shist *h)
{
	if (!h->n)
		return;
	if (!into->c)
		into->c = xcalloc(HIST_N, sizeof(*into->c));
	for (uint32_t b = 0; b < HIST_N; b++)
		into->c[b] += h->c[b];
	into->n += h->n;
	into->sum += h->sum;
	if (h->max > into->max)
		into->max = h->max;
}

/* each [vm] section's VMs together */
static void groups(struct simctx *c, struct sim_result *r)
{
	const struct sim_scenario *sc = c->sc;
	r->ngrp = sc->nvms;
	r->grp = xcalloc(sc->nvms ? sc->nvms : 1, sizeof(*r->grp));
	unsigned vi = 0;
	for (unsigned g = 0; g < sc->nvms; g++) {
		const struct sim_vmconf *conf = &sc->vms[g];
		struct sim_group_result *o = &r->grp[g];
		struct shist lat = { 0 }, it = { 0 }, ig = { 0 }, ih = { 0 }, id = { 0 };
		snprintf(o->name, sizeof(o->name), "%s", conf->name);
		o->vms = conf->count;
		o->vcpus = conf->vcpus;
		o->work = conf->work;
		double steal = 0, remote = 0;
		for (unsigned k = 0; k < conf->count; k++, vi++) {
			const struct sim_vm_result *v = &r->vm[vi];
			const struct vm *m = &c->vm[vi];
			o->served += v->served;
			o->rejected += v->rejected;
			o->throughput += v->throughput;
			o->work_rate += v->work_rate;
			shist_merge(&lat, &m->lat);
			steal += v->steal_avg_pct;
			remote += v->remote_pct;
			if (v->steal_max_pct > o->steal_max_pct)
				o->steal_max_pct = v->steal_max_pct;
			for (unsigned j = 0; j < v->vcpus; j++)
				if (v->vcpu[j].softirq_pct > o->softirq_max_pct)
					o->softirq_max_pct = v->vcpu[j].softirq_pct;
			o->net |= v->net;
			o->tx_offered += v->tx_offered;
			o->tx_sent += v->tx_sent;
			o->tx_drops += v->tx_qdisc_drops + v->tx_ring_drops;
			o->rx_offered += v->rx_offered;
			o->rx_delivered += v->rx_delivered;
			o->rx_host_drops += v->rx_host_drops;
			o->rx_squeeze += v->rx_squeeze;
			o->io |= v->io;
			shist_merge(&it, &m->io_total);
			shist_merge(&ig, &m->io_guest);
			shist_merge(&ih, &m->io_host);
			shist_merge(&id, &m->io_dev);
			o->memory |= v->memory;
			if (v->balloon_max_mib > o->balloon_max_mib)
				o->balloon_max_mib = v->balloon_max_mib;
			if (v->host_swapped_max_mib > o->host_swapped_max_mib)
				o->host_swapped_max_mib = v->host_swapped_max_mib;
			o->host_faults_per_s += v->host_faults_per_s;
			if (v->guest_pressure_pct > o->guest_pressure_pct)
				o->guest_pressure_pct = v->guest_pressure_pct;
			o->compactions += v->compactions;
			o->compaction_stall_pct += v->compaction_stall_pct / conf->count;
		}
		o->steal_avg_pct = steal / conf->count;
		o->remote_pct = remote / conf->count;
		shist_latency(&lat, &o->latency);
		shist_latency(&it, &o->io_total);
		shist_latency(&ig, &o->io_guest);
		shist_latency(&ih, &o->io_host);
		shist_latency(&id, &o->io_device);
		shist_free(&lat);
		shist_free(&it);
		shist_free(&ig);
		shist_free(&ih);
		shist_free(&id);
	}
}

static void results(struct simctx *c, struct sim_result *r)
{
	const struct sim_scenario *sc = c->sc;
	r->seed = sc->seed;
	r->events = c->events;
	r->simulated = c->now;
	r->warmup = c->host ? c->warm : 0;
	stations_finish(c, r);
	if (!c->host)
		return;
	double T = c->now - c->warm;
	if (T <= 0)
		T = 1e-9;
	r->host = true;
	r->cpus = c->ncpu;
	r->nodes = c->nnodes;
	r->vcpus_total = c->nvc;
	r->overcommit = (double)c->nvc / c->ncpu;
	r->host_memory = sc->host.memory;
	r->host_swapped_max_mib = c->host_swapped_max / 1048576.0;
	r->cpu = xcalloc(c->ncpu, sizeof(*r->cpu));
	double util = 0, rq = 0;
	for (unsigned i = 0; i < c->ncpu; i++) {
		struct pcpu *p = &c->cpu[i];
		pcpu_flush(c, p);
		r->cpu[i].cpu = i;
		r->cpu[i].node = p->node;
		r->cpu[i].utilization = (p->t_busy - p->w_busy) / T;
		r->cpu[i].runq = (p->rq_area - p->w_rq) / T;
		util += r->cpu[i].utilization;
		rq += r->cpu[i].runq;
	}
	r->cpu_util = c->ncpu ? util / c->ncpu : 0;
	r->runq = c->ncpu ? rq / c->ncpu : 0;
	r->nvm = c->nvm;
	r->vm = xcalloc(c->nvm ? c->nvm : 1, sizeof(*r->vm));
	for (uint32_t i = 0; i < c->nvm; i++) {
		struct vm *m = &c->vm[i];
		struct sim_vm_result *o = &r->vm[i];
		const struct sim_vmconf *conf = m->conf;
		snprintf(o->name, sizeof(o->name), "%s", m->name);
		snprintf(o->group, sizeof(o->group), "%s", conf->name);
		o->vcpus = m->nv;
		o->work = conf->work;
		o->arrived = m->arrived;
		o->served = m->served;
		o->rejected = m->rejected;
		o->throughput = (double)m->served / T;
		latency_copy(&m->lat, &o->latency);
		o->work_rate = (m->work_done - m->w_work) / T;
		o->vcpu = xcalloc(m->nv, sizeof(*o->vcpu));
		double steal = 0, user = 0, remote = 0;
		o->steal_max_pct = 0;
		for (unsigned j = 0; j < m->nv; j++) {
			struct vcpu *v = &c->vc[m->vcpu0 + j];
			vcpu_flush(c, v);
			struct sim_vcpu_result *vo = &o->vcpu[j];
			double u = v->t_user - v->w_user, sy = v->t_sys - v->w_sys, si = v->t_sirq - v->w_sirq;
			vo->steal_pct = 100 * (v->t_steal - v->w_steal) / T;
			vo->busy_pct = 100 * (u + sy + si) / T;
			vo->softirq_pct = 100 * si / T;
			vo->sys_pct = 100 * sy / T;
			vo->cpu_last = v->last_cpu;
			steal += vo->steal_pct;
			if (vo->steal_pct > o->steal_max_pct)
				o->steal_max_pct = vo->steal_pct;
			user += u;
			remote += v->t_remote;
		}
		o->steal_avg_pct = steal / m->nv;
		o->remote_pct = user > 0 ? 100 * remote / user : 0;
		double work = m->work_done - m->w_work;
		o->slowdown = work > 0 ? user / work : 1;
		if (m->tx || m->rx) {
			o->net = true;
			o->queues = conf->queues;
			for (unsigned q = 0; m->tx && q < conf->queues; q++) {
				o->tx_offered += m->tx[q].offered;
				o->tx_sent += m->tx[q].sent;
				o->tx_qdisc_drops += m->tx[q].qdisc_drops;
				o->tx_ring_drops += m->tx[q].ring_drops;
			}
			o->tx_offered -= m->w_tx[0];
			o->tx_sent -= m->w_tx[1];
			o->tx_qdisc_drops -= m->w_tx[2];
			o->tx_ring_drops -= m->w_tx[3];
			for (unsigned q = 0; m->rx && q < conf->queues; q++) {
				o->rx_offered += m->rx[q].offered;
				o->rx_delivered += m->rx[q].delivered;
				o->rx_host_drops += m->rx[q].host_drops;
			}
			for (unsigned j = 0; j < m->nv; j++)
				o->rx_squeeze += c->vc[m->vcpu0 + j].squeeze;
			o->rx_offered -= m->w_rx[0];
			o->rx_delivered -= m->w_rx[1];
			o->rx_host_drops -= m->w_rx[2];
			o->rx_squeeze -= m->w_rx[3];
		}
		if (conf->io.kind != DIST_NONE) {
			o->io = true;
			o->io_done = m->io_total.n;
			latency_copy(&m->io_total, &o->io_total);
			latency_copy(&m->io_guest, &o->io_guest);
			latency_copy(&m->io_host, &o->io_host);
			latency_copy(&m->io_dev, &o->io_device);
		}
		if (c->mem_model) {
			o->memory = true;
			o->balloon_mib = m->balloon / 1048576.0;
			o->balloon_max_mib = m->balloon_max / 1048576.0;
			o->host_swapped_max_mib = m->host_swapped_max / 1048576.0;
			o->host_faults_per_s = (m->host_faults - m->w_host_faults) / T;
			o->guest_swapin_per_s = (m->guest_faults - m->w_guest_faults) / T;
			o->guest_pressure_pct = 100 * (m->pressure_time - m->w_pressure) / T;
		}
		o->compactions = m->compactions - m->w_compactions;
		o->compaction_stall_pct = 100 * (m->compact_time - m->w_compact_time) / T;
	}
	groups(c, r);
	r->nmig = c->nmig;
	r->mig = xcalloc(c->nmig ? c->nmig : 1, sizeof(*r->mig));
	for (unsigned i = 0; i < c->nmig; i++) {
		struct mig *g = &c->mig[i];
		struct sim_mig_result *o = &r->mig[i];
		snprintf(o->name, sizeof(o->name), "%s", g->conf->name);
		snprintf(o->vm, sizeof(o->vm), "%s", g->vm >= 0 ? c->vm[g->vm].name : "");
		o->finished = g->done;
		o->converged = g->converged;
		o->postcopy = g->postcopy;
		o->rounds = g->rounds;
		o->start = g->conf->start;
		o->total_time = g->done ? g->total : c->now - g->t_start;
		o->downtime = g->downtime;
		o->transferred = g->sent_total;
		o->postcopy_time = g->postcopy_time;
		o->throttle_max_pct = g->throttle_max;
		o->throttle_steps = g->steps;
		o->nr = g->nr;
		o->r = g->nr ? xmemdup(g->r, g->nr * sizeof(*g->r)) : NULL;
	}
	if (c->bundle_vm >= 0 || c->host_view) {
		snprintf(r->bundle_vm, sizeof(r->bundle_vm), "%s", c->bundle_vm >= 0 ? c->vm[c->bundle_vm].name : "");
		r->bundle_host = c->host_view;
		r->bundle_samples = c->nsamples;
	}
}

int sim_run(const struct sim_scenario *sc, const struct sim_opts *o, struct sim_result **out, char **why)
{
	static const struct sim_opts none;
	struct simctx c;
	memset(&c, 0, sizeof(c));
	c.sc = sc;
	c.opts = o ? o : &none;
	c.bundle_vm = -1;
	th_init(&c.th, 64);
	c.end = sc->duration > 0 ? sc->duration : INFINITY;
	c.warm = sc->duration > 0 ? sc->warmup : 0;
	stations_init(&c);
	c.host = sc->nvms > 0 || sc->nmigs > 0;
	if (c.host) {
		if (sc->host.set)
			sched_init(&c);
		else {
			/* a migration alone needs no CPUs: a one-CPU host that does nothing */
			c.ncpu = 0;
		}
		work_init(&c);
		if (c.warm > 0) {
			uint32_t s = slot_new(&c, SK_WARMUP, 0);
			th_set(&c.th, s, c.warm);
		}
	}
	if (c.opts->on_sample && c.host && c.nvm) {
		if (view_init(&c) < 0) {
			*why = xstrdup("could not build the bundle's view");
			goto fail;
		}
		uint32_t s = slot_new(&c, SK_SAMPLE, 0);
		c.sample_next = c.warm;
		th_set(&c.th, s, c.warm);
	}
	uint64_t next_progress = 1u << 20;
	while (!c.stop && !th_empty(&c.th)) {
		struct hent top = th_top(&c.th);
		if (top.t > c.end)
			break;
		c.now = top.t;
		c.th.firing = top.slot;
		c.th.kept = false;
		dispatch(&c, top.slot);
		if (!c.th.kept && th_pending(&c.th, top.slot))
			th_cancel(&c.th, top.slot);
		c.th.firing = UINT32_MAX;
		c.events++;
		if (sc->max_events && c.events >= sc->max_events)
			break;
		if (c.nst && c.st_done >= c.nst && !c.host)
			break;
		if (c.events >= next_progress) {
			next_progress += 1u << 20;
			if (c.opts->progress)
				c.opts->progress(c.opts->progress_arg, c.events);
			if (c.opts->stop && *c.opts->stop)
				break;
		}
	}
	if (c.sample_err) {
		*why = xstrdup("could not write a bundle sample");
		goto fail;
	}
	if (isfinite(c.end) && !(sc->max_events && c.events >= sc->max_events) && !(c.opts->stop && *c.opts->stop))
		c.now = c.end;
	if (c.host && !c.warmed && c.warm > 0 && c.now >= c.warm)
		work_warmup(&c);
	else if (c.host && !c.warmed)
		c.warm = 0; /* stopped (events, a signal) before the warm-up ended: the figures cover the whole run */
	struct sim_result *r = xcalloc(1, sizeof(*r));
	results(&c, r);
	*out = r;
	view_free(&c);
	stations_free(&c);
	if (c.host) {
		work_free(&c);
		if (sc->host.set)
			sched_free(&c);
	}
	th_done(&c.th);
	free(c.skind);
	free(c.sobj);
	return 0;
fail:
	view_free(&c);
	stations_free(&c);
	if (c.host) {
		work_free(&c);
		if (sc->host.set)
			sched_free(&c);
	}
	th_done(&c.th);
	free(c.skind);
	free(c.sobj);
	return -EIO;
}

void sim_result_free(struct sim_result *r)
{
	if (!r)
		return;
	free(r->st);
	free(r->cpu);
	for (unsigned i = 0; i < r->nvm; i++)
		free(r->vm[i].vcpu);
	free(r->vm);
	free(r->grp);
	for (unsigned i = 0; i < r->nmig; i++)
		free(r->mig[i].r);
	free(r->mig);
	free(r);
}
