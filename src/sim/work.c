/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * What feeds the vCPUs and the devices:
 *
 * - requests: open-loop arrivals per VM, each a task with a CPU demand; a
 *   free vCPU takes it at once, else it waits in the guest's run queue
 *   (FCFS).  Its latency runs from arrival to completion, so it holds the
 *   guest's queue, the host's (steal), NUMA and host-fault stretch.
 * - CPU bursts: each vCPU alternates busy bursts and idle gaps so that,
 *   alone, it is busy `load` of the time.
 * - virtqueues: per TX queue a ring the host's consumer (vhost) drains at
 *   its rate, with the guest's qdisc in front: a full ring backs packets up
 *   into the qdisc, a full qdisc drops them (with no qdisc the driver
 *   drops).  Per RX queue a ring the guest drains in softirq on the vCPU
 *   that takes the queue's interrupt; the host drops what finds it full.
 * - block IO: a request waits in the guest until fewer than io_depth are in
 *   flight below it, then in the host's queue for one of the device's
 *   io_depth slots, then is served: three layers, each timed.
 * - direct compaction: at its events a vCPU runs kernel work for the
 *   stall's length; tasks on it wait (PSI memory).
 * - host memory: every tick the host compares what its guests hold with
 *   its memory; balloons take what guests do not use (after a delay, at a
 *   rate) and give it back to a guest whose working set grew; what is left
 *   over the host swaps, cold pages first.  A guest touching swapped pages
 *   runs slower by the faults' cost (not steal: its vCPU is busy in the
 *   host); a guest squeezed below its working set swaps itself (PSI).
 * - pre-copy migration: rounds of copying what was dirtied during the
 *   last, until it fits the downtime target; auto-converge throttles the
 *   VM when the dirty rate outruns the copy; post-copy after N rounds.
 */
#include <math.h>
#include <stdlib.h>

#include "../core/util.h"
#include "internal.h"

#define GQ_MAX (1u << 16)	/* requests waiting in one guest: beyond, refused (an overloaded VM) */
#define IOQ_MAX (1u << 16)
#define HOSTQ_MAX (1u << 20)

struct greq {
	double arrival, service;
};

static struct vcpu *vcpu_of(struct simctx *c, struct vm *m, unsigned i)
{
	return &c->vc[m->vcpu0 + i];
}

static void speed_update(struct vm *m)
{
	m->speed_factor = m->mem_factor * m->post_factor / (1.0 - m->throttle);
}

/* ------------------------------------------------------------------ */
/* setup                                                               */

void work_init(struct simctx *c)
{
	const struct sim_scenario *sc = c->sc;
	c->nvm = sim_scenario_instances(sc);
	c->vm = xcalloc(c->nvm ? c->nvm : 1, sizeof(*c->vm));
	uint32_t nvc = 0, ntx = 0;
	for (unsigned i = 0; i < sc->nvms; i++) {
		nvc += sc->vms[i].vcpus * sc->vms[i].count;
		if (sc->vms[i].tx.kind != DIST_NONE)
			ntx += sc->vms[i].queues * sc->vms[i].count;
	}
	c->nvc = nvc;
	c->vc = xcalloc(nvc ? nvc : 1, sizeof(*c->vc));
	c->txq = xcalloc(ntx ? ntx : 1, sizeof(*c->txq));
	rng_seed(&c->io_rng, sc->seed, 0xd15c);
	unsigned mi = 0, vi = 0;
	unsigned spread = 0;	/* unpinned vCPUs' first CPUs, round robin within a node */
	for (unsigned s = 0; s < sc->nvms; s++) {
		struct sim_vmconf *conf = &sc->vms[s];
		for (unsigned k = 0; k < conf->count; k++, mi++) {
			struct vm *m = &c->vm[mi];
			m->conf = conf;
			if (conf->count > 1)
				snprintf(m->name, sizeof(m->name), "%s-%u", conf->name, k);
			else
				snprintf(m->name, sizeof(m->name), "%s", conf->name);
			rng_seed(&m->rng, sc->seed, 0x10000 + mi);
			m->vcpu0 = vi;
			m->nv = conf->vcpus;
			m->mem_factor = m->post_factor = m->speed_factor = 1;
			m->allowed = xcalloc((size_t)m->nv * c->nw, sizeof(uint64_t));
			unsigned home = c->nnodes ? mi % c->nnodes : 0;
			/* memory placement: as given, else where its CPUs are */
			double frac[SIM_MAX_NODES] = { 0 };
			if (conf->mem_nodes_set) {
				memcpy(frac, conf->mem_frac, sizeof(frac));
			} else if (conf->pinned) {
				unsigned n = 0;
				for (unsigned cp = 0; cp < c->ncpu; cp++)
					if (sim_cpuset_has(&conf->pin, cp) &&
					    (!conf->pin_each || (int)cp <= sim_cpuset_nth(&conf->pin, conf->vcpus - 1))) {
						frac[c->cpu[cp].node] += 1;
						n++;
					}
				for (unsigned nd = 0; nd < c->nnodes; nd++)
					frac[nd] /= n ? n : 1;
			} else {
				frac[home] = 1;
			}
			memcpy(m->mem_frac, frac, sizeof(frac));
			for (unsigned j = 0; j < m->nv; j++, vi++) {
				struct vcpu *v = &c->vc[vi];
				uint64_t *al = &m->allowed[(size_t)j * c->nw];
				v->vm = mi;
				v->idx = (uint16_t)j;
				v->allowed = al;
				v->cpu = -1;
				v->state = VS_IDLE;
				v->req_arrival = -1;
				v->sys_begin = -1;
				v->slot_gap = UINT32_MAX;
				if (conf->pinned && conf->pin_each) {
					int cp = sim_cpuset_nth(&conf->pin, j);
					al[cp / 64] |= 1ull << (cp % 64);
					v->last_cpu = cp;
				} else if (conf->pinned) {
					for (unsigned w = 0; w < c->nw; w++)
						al[w] = conf->pin.w[w];
					v->last_cpu = sim_cpuset_nth(&conf->pin, j % sim_cpuset_count(&conf->pin));
				} else {
					for (unsigned cp = 0; cp < c->ncpu; cp++)
						al[cp / 64] |= 1ull << (cp % 64);
					/* start on its home node, spread over the node's CPUs */
					unsigned per = c->ncpu / c->nnodes;
					v->last_cpu = (int32_t)(home * per + (spread++ % (per ? per : 1)));
					if (v->last_cpu >= (int32_t)c->ncpu)
						v->last_cpu = (int32_t)c->ncpu - 1;
				}
				if (conf->work == WORK_CPU && conf->load < 1)
					v->slot_gap = slot_new(c, SK_VCPU_GAP, vi);
			}
			fifo_init(&m->gq, sizeof(struct greq), GQ_MAX);
			fifo_init(&m->ioq, sizeof(struct io_rec), IOQ_MAX);
			if (conf->work == WORK_REQUESTS) {
				m->slot_arrive = slot_new(c, SK_VM_ARRIVE, mi);
				th_set(&c->th, m->slot_arrive, dist_sample(&conf->arrival, &m->rng));
			}
			if (conf->tx.kind != DIST_NONE) {
				m->tx = xcalloc(conf->queues, sizeof(*m->tx));
				for (unsigned q = 0; q < conf->queues; q++) {
					struct txq *t = &m->tx[q];
					t->vm = mi;
					t->q = q;
					t->slot = slot_new(c, SK_TX_SERVE, c->ntxq);
					c->txq[c->ntxq++] = t;
				}
				m->slot_tx = slot_new(c, SK_TX_ARRIVE, mi);
				th_set(&c->th, m->slot_tx, dist_sample(&conf->tx, &m->rng));
			}
			if (conf->rx.kind != DIST_NONE) {
				m->rx = xcalloc(conf->queues, sizeof(*m->rx));
				for (unsigned q = 0; q < conf->queues; q++)
					m->rx[q].vcpu = q % m->nv;
				m->slot_rx = slot_new(c, SK_RX_ARRIVE, mi);
				th_set(&c->th, m->slot_rx, dist_sample(&conf->rx, &m->rng));
			}
			if (conf->io.kind != DIST_NONE) {
				m->slot_io = slot_new(c, SK_IO_ARRIVE, mi);
				th_set(&c->th, m->slot_io, dist_sample(&conf->io, &m->rng));
			}
			if (conf->compaction.kind != DIST_NONE) {
				m->slot_compact = slot_new(c, SK_COMPACT, mi);
				th_set(&c->th, m->slot_compact, dist_sample(&conf->compaction, &m->rng));
			}
			m->ws = conf->nws ? (double)conf->ws[0].bytes : (double)conf->memory;
		}
	}
	/* the device */
	const struct sim_hostconf *h = &sc->host;
	if (h->io_service.kind != DIST_NONE) {
		c->ndev = h->io_depth;
		c->dev = xcalloc(c->ndev, sizeof(*c->dev));
		c->dev_stack = xcalloc(c->ndev, sizeof(*c->dev_stack));
		for (unsigned i = 0; i < c->ndev; i++) {
			uint32_t sl = slot_new(c, SK_IO_DEV, i);
			if (i == 0)
				c->dev_slot0 = sl;
			c->dev_stack[i] = c->ndev - 1 - i;
		}
		c->dev_free = c->ndev;
		fifo_init(&c->hostq, sizeof(struct io_rec), h->io_queue ? h->io_queue : HOSTQ_MAX);
	}
	/* host memory */
	c->mem_model = h->memory > 0;
	c->pressure_since = -1;
	if (c->mem_model) {
		uint32_t sl = slot_new(c, SK_MEMTICK, 0);
		th_set(&c->th, sl, 0);
	}
	/* migrations */
	c->nmig = sc->nmigs;
	c->mig = xcalloc(c->nmig ? c->nmig : 1, sizeof(*c->mig));
	for (unsigned i = 0; i < c->nmig; i++) {
		struct mig *g = &c->mig[i];
		g->conf = &sc->migs[i];
		g->vm = -1;
		for (unsigned k = 0; k < c->nvm && g->vm < 0; k++)
			if (!strcmp(c->vm[k].name, g->conf->vm) || !strcmp(c->vm[k].conf->name, g->conf->vm))
				g->vm = (int)k;
		g->slot = slot_new(c, SK_MIG, i);
		th_set(&c->th, g->slot, g->conf->start);
	}
	/* the CPU bursts start now (or after a first gap) */
	for (uint32_t i = 0; i < c->nvc; i++) {
		struct vcpu *v = &c->vc[i];
		struct vm *m = &c->vm[v->vm];
		if (m->conf->work != WORK_CPU)
			continue;
		if (m->conf->load >= 1) {
			v->has_user = true;
			v->user_left = rng_exp(&m->rng, 1.0 / m->conf->burst);
			vcpu_kick(c, v, false);
		} else if (m->conf->load > 0) {
			double gap = m->conf->burst * (1 - m->conf->load) / m->conf->load;
			th_set(&c->th, v->slot_gap, rng_exp(&m->rng, 1.0 / gap));
		}
	}
}

void work_free(struct simctx *c)
{
	for (uint32_t i = 0; i < c->nvm; i++) {
		struct vm *m = &c->vm[i];
		free(m->allowed);
		fifo_done(&m->gq);
		fifo_done(&m->ioq);
		free(m->tx);
		free(m->rx);
		shist_free(&m->lat);
		shist_free(&m->io_total);
		shist_free(&m->io_guest);
		shist_free(&m->io_host);
		shist_free(&m->io_dev);
	}
	free(c->vm);
	free(c->vc);
	free(c->txq);
	free(c->dev);
	free(c->dev_stack);
	fifo_done(&c->hostq);
	for (unsigned i = 0; i < c->nmig; i++)
		free(c->mig[i].r);
	free(c->mig);
}

/* ------------------------------------------------------------------ */
/* requests and CPU bursts                                             */

static void assign(struct vcpu *v, double arrival, double service)
{
	v->has_user = true;
	v->user_left = service;
	v->req_arrival = arrival;
}

static void request_arrive(struct simctx *c, struct vm *m)
{
	const struct sim_vmconf *conf = m->conf;
	th_set(&c->th, m->slot_arrive, c->now + dist_sample(&conf->arrival, &m->rng));
	double service = dist_sample(&conf->service, &m->rng);
	m->arrived++;
	for (unsigned i = 0; i < m->nv; i++) {
		struct vcpu *v = vcpu_of(c, m, i);
		if (!v->has_user) {
			assign(v, c->now, service);
			vcpu_kick(c, v, false);
			return;
		}
	}
	struct greq r = { c->now, service };
	if (!fifo_push(&m->gq, &r)) {
		m->rejected++;
		return;
	}
	if (m->gq.n == 1)
		m->gq_since = c->now;
}

bool work_take_request(struct simctx *c, struct vcpu *v)
{
	struct vm *m = &c->vm[v->vm];
	if (!m->gq.n)
		return false;
	struct greq r = *(struct greq *)fifo_front(&m->gq);
	fifo_pop(&m->gq);
	if (!m->gq.n)
		m->psi_cpu += c->now - m->gq_since;
	assign(v, r.arrival, r.service);
	return true;
}

static void new_burst(struct vm *m, struct vcpu *v)
{
	v->has_user = true;
	v->user_left = rng_exp(&m->rng, 1.0 / m->conf->burst);
	v->req_arrival = -1;
}

void work_user_done(struct simctx *c, struct vcpu *v)
{
	struct vm *m = &c->vm[v->vm];
	if (v->req_arrival >= 0) {
		if (v->req_arrival >= c->warm) {
			shist_add(&m->lat, c->now - v->req_arrival);
			m->served++;
		}
		v->req_arrival = -1;
		return;
	}
	if (m->conf->work != WORK_CPU)
		return;
	if (m->conf->load >= 1) {
		new_burst(m, v);
	} else if (m->conf->load > 0) {
		double gap = m->conf->burst * (1 - m->conf->load) / m->conf->load;
		th_set(&c->th, v->slot_gap, c->now + rng_exp(&m->rng, 1.0 / gap));
	}
}

static void gap_end(struct simctx *c, struct vcpu *v)
{
	struct vm *m = &c->vm[v->vm];
	new_burst(m, v);
	vcpu_kick(c, v, false);
}

/* ------------------------------------------------------------------ */
/* virtqueues                                                          */

static unsigned pick_queue(struct vm *m)
{
	return m->conf->queues > 1 ? rng_below(&m->rng, m->conf->queues) : 0;
}

static void tx_start(struct simctx *c, struct txq *t)
{
	struct vm *m = &c->vm[t->vm];
	t->busy = true;
	th_set(&c->th, t->slot, c->now + dist_sample(&m->conf->vq_service, &m->rng));
}

static void tx_arrive(struct simctx *c, struct vm *m)
{
	const struct sim_vmconf *conf = m->conf;
	th_set(&c->th, m->slot_tx, c->now + dist_sample(&conf->tx, &m->rng));
	struct txq *t = &m->tx[pick_queue(m)];
	t->offered++;
	if (t->ring < conf->ring) {
		t->ring++;
		if (!t->busy)
			tx_start(c, t);
	} else if (conf->qdisc) {
		if (t->qdisc < conf->qdisc) {
			t->qdisc++;
			t->enq_qdisc++;
		} else {
			t->qdisc_drops++;
		}
	} else {
		t->ring_drops++;
	}
}

static void tx_done(struct simctx *c, struct txq *t)
{
	t->ring--;
	t->sent++;
	if (t->qdisc) {
		t->qdisc--;
		t->ring++;
	}
	if (t->ring)
		tx_start(c, t);
	else
		t->busy = false;
}

static void rx_arrive(struct simctx *c, struct vm *m)
{
	const struct sim_vmconf *conf = m->conf;
	th_set(&c->th, m->slot_rx, c->now + dist_sample(&conf->rx, &m->rng));
	struct rxq *r = &m->rx[pick_queue(m)];
	r->offered++;
	if (r->ring >= conf->ring) {
		r->host_drops++;	/* the host's tap drops it: the guest never sees this */
		return;
	}
	r->ring++;
	struct vcpu *v = vcpu_of(c, m, r->vcpu);
	if (r->ring == 1 && !v->sirq_batch) {
		/* an interrupt: the queue was empty and NAPI not polling */
		v->irqs++;
		r->irqs++;
		v->softirqs_rx++;
		vcpu_kick(c, v, true);
	}
}

int work_rx_pending(const struct simctx *c, const struct vcpu *v)
{
	const struct vm *m = &c->vm[v->vm];
	if (!m->rx)
		return -1;
	for (unsigned q = v->idx; q < m->conf->queues; q += m->nv)
		if (m->rx[q].ring)
			return (int)q;
	return -1;
}

void work_rx_done(struct simctx *c, struct vcpu *v)
{
	struct vm *m = &c->vm[v->vm];
	struct rxq *r = &m->rx[v->sirq_q];
	uint32_t n = v->sirq_batch;
	r->ring -= n;
	r->delivered += n;
	v->rx_processed += n;
	v->sirq_batch = 0;
	v->napi_run += n;
	if (r->ring == 0) {
		v->napi_run = 0;	/* the poll completed: interrupts back on */
	} else if (v->napi_run >= 300) {
		/* net_rx_action's budget ran out with packets left: ksoftirqd takes over, a task
		 * like the others, so the vCPU's own task gets as long a turn as the softirq had */
		v->squeeze++;
		v->softirqs_rx++;
		v->napi_run = 0;
		if (v->has_user || m->gq.n)
			v->ksoftirqd_until = c->now + 300 * m->conf->rx_cost;
	}
}

/* ------------------------------------------------------------------ */
/* block IO                                                            */

static void io_integrate(struct simctx *c, struct vm *m)
{
	double dt = c->now - m->io_last;
	if (dt > 0 && m->outstanding) {
		m->io_ticks += dt;
		m->io_area += dt * m->outstanding;
	}
	m->io_last = c->now;
}

static void dev_start(struct simctx *c, struct io_rec *r)
{
	uint32_t k = c->dev_stack[--c->dev_free];
	r->start = c->now;
	c->dev[k] = *r;
	th_set(&c->th, c->dev_slot0 + k, c->now + dist_sample(&c->sc->host.io_service, &c->io_rng));
}

static void io_issue(struct simctx *c, struct vm *m, struct io_rec *r)
{
	r->issue = c->now;
	m->inflight++;
	if (c->dev_free) {
		dev_start(c, r);
		return;
	}
	if (!fifo_push(&c->hostq, r)) {
		/* the host's queue is full: the request is lost (counted, not timed) */
		m->inflight--;
		m->outstanding--;
		m->io_rejected++;
	}
}

static void io_arrive(struct simctx *c, struct vm *m)
{
	const struct sim_vmconf *conf = m->conf;
	th_set(&c->th, m->slot_io, c->now + dist_sample(&conf->io, &m->rng));
	io_integrate(c, m);
	for (unsigned b = 0; b < conf->io_batch; b++) {
		struct io_rec r = { c->now, 0, 0, (uint32_t)(m - c->vm), rng_u01(&m->rng) <= conf->io_write };
		m->outstanding++;
		if (m->inflight < conf->io_depth) {
			io_issue(c, m, &r);
		} else if (!fifo_push(&m->ioq, &r)) {
			m->outstanding--;
			m->io_rejected++;
		}
	}
}

static void io_done(struct simctx *c, uint32_t k)
{
	struct io_rec r = c->dev[k];
	struct vm *m = &c->vm[r.vm];
	io_integrate(c, m);
	double guest = r.issue - r.arrival, host = r.start - r.issue, dev = c->now - r.start, total = c->now - r.arrival;
	int w = r.write ? 1 : 0;
	if (r.arrival >= c->warm) {
		shist_add(&m->io_total, total);
		shist_add(&m->io_guest, guest);
		shist_add(&m->io_host, host);
		shist_add(&m->io_dev, dev);
	}
	m->io_done[w]++;
	m->io_sectors[w] += 8;
	m->io_ms[w] += total * 1000;
	m->bio_q[w][log2_slot(guest)]++;
	m->bio_b[w][log2_slot(c->now - r.issue)]++;
	m->inflight--;
	m->outstanding--;
	if (m->ioq.n && m->inflight < m->conf->io_depth) {
		struct io_rec next = *(struct io_rec *)fifo_front(&m->ioq);
		fifo_pop(&m->ioq);
		io_issue(c, m, &next);
	}
	/* this device slot is free: the host's queue goes next */
	c->dev_stack[c->dev_free++] = k;
	if (c->hostq.n) {
		struct io_rec next = *(struct io_rec *)fifo_front(&c->hostq);
		fifo_pop(&c->hostq);
		dev_start(c, &next);
	}
}

/* ------------------------------------------------------------------ */
/* direct compaction                                                   */

static void compaction(struct simctx *c, struct vm *m)
{
	const struct sim_vmconf *conf = m->conf;
	th_set(&c->th, m->slot_compact, c->now + dist_sample(&conf->compaction, &m->rng));
	struct vcpu *v = vcpu_of(c, m, m->compact_next++ % m->nv);
	double d = dist_sample(&conf->compaction_stall, &m->rng);
	m->compactions++;
	if (d <= 0)
		return;
	v->sys_left += d;
	if (v->sys_begin < 0)
		v->sys_begin = c->now;
	vcpu_kick(c, v, true);
}

void work_sys_done(struct simctx *c, struct vcpu *v)
{
	struct vm *m = &c->vm[v->vm];
	if (v->sys_begin < 0)
		return;
	double d = c->now - v->sys_begin;
	v->sys_begin = -1;
	m->psi_mem += d;
	m->compact_time += d;
	if (d > m->compact_max)
		m->compact_max = d;
	m->compact_hist[log2_slot(d)]++;
}

/* ------------------------------------------------------------------ */
/* host memory                                                         */

static double ws_at(const struct sim_vmconf *conf, double t)
{
	if (!conf->nws)
		return (double)conf->memory;
	double b = (double)conf->ws[0].bytes;
	for (unsigned i = 1; i < conf->nws; i++)
		if (t >= conf->ws[i].t)
			b = (double)conf->ws[i].bytes;
	return b;
}

void memory_tick(struct simctx *c)
{
	const struct sim_hostconf *h = &c->sc->host;
	double dt = h->mem_tick;
	double H = (double)h->memory;
	double budget = h->balloon ? h->balloon_rate * dt : 0;
	double resident = 0;
	for (uint32_t i = 0; i < c->nvm; i++) {
		struct vm *m = &c->vm[i];
		m->ws = ws_at(m->conf, c->now);
		if (m->gpress > 0)
			m->pressure_time += dt;
	}
	/* 1. give memory back to guests squeezed below their working set */
	for (uint32_t i = 0; i < c->nvm && budget > 0; i++) {
		struct vm *m = &c->vm[i];
		double need = m->ws - ((double)m->conf->memory - m->balloon);
		if (need <= 0 || m->balloon <= 0)
			continue;
		double d = need < m->balloon ? need : m->balloon;
		if (d > budget)
			d = budget;
		m->balloon -= d;
		m->balloon_out += d;
		budget -= d;
	}
	for (uint32_t i = 0; i < c->nvm; i++)
		resident += (double)c->vm[i].conf->memory - c->vm[i].balloon;
	double over = resident - H;
	/* 2. room to spare: deflate the balloons a little */
	if (over < 0 && budget > 0) {
		double room = -over;
		for (uint32_t i = 0; i < c->nvm && budget > 0 && room > 0; i++) {
			struct vm *m = &c->vm[i];
			if (m->balloon <= 0)
				continue;
			double d = m->balloon < room ? m->balloon : room;
			if (d > budget)
				d = budget;
			m->balloon -= d;
			m->balloon_out += d;
			budget -= d;
			room -= d;
			over += d;
		}
	}
	/* 3. over the host's memory for long enough: inflate where guests have memory they do not use */
	if (over > 0 && h->balloon) {
		if (c->pressure_since < 0)
			c->pressure_since = c->now;
		if (c->now - c->pressure_since >= h->balloon_delay && budget > 0) {
			double cold = 0;
			for (uint32_t i = 0; i < c->nvm; i++) {
				struct vm *m = &c->vm[i];
				double f = (double)m->conf->memory - m->balloon - m->ws;
				if (m->conf->balloon && f > 0)
					cold += f;
			}
			double want = over < budget ? over : budget;
			if (want > cold)
				want = cold;
			for (uint32_t i = 0; i < c->nvm && cold > 0; i++) {
				struct vm *m = &c->vm[i];
				double f = (double)m->conf->memory - m->balloon - m->ws;
				if (!m->conf->balloon || f <= 0)
					continue;
				double d = want * f / cold;
				m->balloon += d;
				m->balloon_in += d;
				over -= d;
			}
		}
	} else {
		c->pressure_since = -1;
	}
	/* 4. what is still over, the host swaps: cold pages first, then working sets */
	resident = 0;
	double cold = 0, hot = 0;
	for (uint32_t i = 0; i < c->nvm; i++) {
		struct vm *m = &c->vm[i];
		double held = (double)m->conf->memory - m->balloon;
		resident += held;
		cold += held > m->ws ? held - m->ws : 0;
		hot += held < m->ws ? held : m->ws;
	}
	double swap = resident > H ? resident - H : 0;
	double hot_swapped = swap > cold ? swap - cold : 0;
	if (swap > c->host_swapped)
		c->host_pswpout += (swap - c->host_swapped) / 4096;
	c->host_swapped = swap;
	if (swap > c->host_swapped_max)
		c->host_swapped_max = swap;
	for (uint32_t i = 0; i < c->nvm; i++) {
		struct vm *m = &c->vm[i];
		double held = (double)m->conf->memory - m->balloon;
		double eff = held < m->ws ? held : m->ws;
		double g = m->ws - held;
		if (g > m->gpress)
			m->guest_swapout += g - m->gpress;
		m->gpress = g > 0 ? g : 0;
		m->host_swapped = hot > 0 ? hot_swapped * eff / hot : 0;
		if (m->host_swapped > m->host_swapped_max)
			m->host_swapped_max = m->host_swapped;
		if (m->balloon > m->balloon_max)
			m->balloon_max = m->balloon;
		double ws = m->ws > 0 ? m->ws : 1;
		double hf = m->conf->touch_rate * m->host_swapped / ws * h->swap_cost;
		double gf = m->conf->touch_rate * m->gpress / ws * h->swap_cost;
		m->mem_factor = 1 + hf + gf;
		m->guest_fault_frac = gf / m->mem_factor;
		speed_update(m);
	}
	th_set(&c->th, c->th.firing, c->now + dt);
}

/* ------------------------------------------------------------------ */
/* migration                                                           */

static void vm_pause(struct simctx *c, int vmi, bool on)
{
	if (vmi < 0)
		return;
	struct vm *m = &c->vm[vmi];
	m->paused = on;
	if (!on)
		for (unsigned i = 0; i < m->nv; i++)
			vcpu_kick(c, vcpu_of(c, m, i), false);
}

static void set_throttle(struct simctx *c, struct mig *g, double t)
{
	g->throttle = t;
	if (t * 100 > g->throttle_max)
		g->throttle_max = t * 100;
	if (g->vm >= 0) {
		c->vm[g->vm].throttle = t;
		speed_update(&c->vm[g->vm]);
	}
}

static void mig_finish(struct simctx *c, struct mig *g)
{
	g->done = true;
	g->running = false;
	g->total = c->now - g->t_start;
	set_throttle(c, g, 0);
	vm_pause(c, g->vm, false);
	if (g->vm >= 0) {
		c->vm[g->vm].post_factor = 1;
		speed_update(&c->vm[g->vm]);
	}
	th_cancel(&c->th, g->slot);
}

void mig_event(struct simctx *c, uint32_t i)
{
	struct mig *g = &c->mig[i];
	const struct sim_migration *mc = g->conf;
	double B = mc->bandwidth;
	if (!g->running && !g->done) {
		g->running = true;
		g->t_start = c->now;
		g->pending = mc->memory ? (double)mc->memory : (double)c->vm[g->vm].conf->memory;
		g->round_start = c->now;
		th_set(&c->th, g->slot, c->now + g->pending / B);
		return;
	}
	if (g->phase == 1) {	/* stop-and-copy done */
		mig_finish(c, g);
		return;
	}
	if (g->phase == 2) {	/* post-copy: the switch is over, the rest comes on demand */
		vm_pause(c, g->vm, false);
		g->phase = 3;
		if (g->vm >= 0) {
			/* each touch of a page not yet here waits a round trip (~100 us) */
			struct vm *m = &c->vm[g->vm];
			double left = g->pending / (double)m->conf->memory;
			m->post_factor = 1 + m->conf->touch_rate * left * 100e-6;
			speed_update(m);
		}
		th_set(&c->th, g->slot, c->now + g->postcopy_time);
		return;
	}
	if (g->phase == 3) {
		g->sent_total += g->pending;
		mig_finish(c, g);
		return;
	}
	/* a pre-copy round ended */
	double dur = c->now - g->round_start;
	double sent = g->pending;
	g->sent_total += sent;
	g->rounds++;
	double d = mc->dirty_rate * (1 - g->throttle);
	double mem = mc->memory ? (double)mc->memory : (double)c->vm[g->vm].conf->memory;
	double dirtied = mc->wws ? (double)mc->wws * (1 - exp(-d * dur / (double)mc->wws)) : d * dur;
	if (dirtied > mem)
		dirtied = mem;
	if (g->nr == g->capr) {
		g->capr = g->capr ? g->capr * 2 : 16;
		g->r = xrealloc(g->r, g->capr * sizeof(*g->r));
	}
	g->r[g->nr++] = (struct sim_round){ sent, dur, dirtied, g->throttle * 100 };
	if (dirtied / B <= mc->downtime) {
		g->converged = true;
		g->downtime = dirtied / B + mc->switchover;
		g->sent_total += dirtied;
		g->phase = 1;
		vm_pause(c, g->vm, true);
		th_set(&c->th, g->slot, c->now + g->downtime);
		return;
	}
	if (mc->postcopy_after && g->rounds >= mc->postcopy_after) {
		g->postcopy = true;
		g->downtime = mc->switchover;
		g->pending = dirtied;
		g->postcopy_time = dirtied / B;
		g->phase = 2;
		set_throttle(c, g, 0);
		vm_pause(c, g->vm, true);
		th_set(&c->th, g->slot, c->now + mc->switchover);
		return;
	}
	if (g->rounds >= mc->max_rounds) {
		/* gave up: the guest stays on the source */
		g->done = true;
		g->running = false;
		g->total = c->now - g->t_start;
		set_throttle(c, g, 0);
		th_cancel(&c->th, g->slot);
		return;
	}
	/* auto-converge (QEMU's rule): dirtied more than the trigger share of what was sent, twice */
	if (mc->auto_converge && g->rounds >= 2 && dirtied > sent * mc->throttle_trigger / 100 && ++g->high_cnt >= 2) {
		g->high_cnt = 0;
		double t = g->throttle == 0 ? mc->throttle_initial : g->throttle * 100 + mc->throttle_increment;
		if (t > mc->throttle_max)
			t = mc->throttle_max;
		set_throttle(c, g, t / 100);
		g->steps++;
	}
	g->pending = dirtied;
	g->round_start = c->now;
	th_set(&c->th, g->slot, c->now + g->pending / B);
}

/* ------------------------------------------------------------------ */

void work_event(struct simctx *c, enum slot_kind k, uint32_t obj)
{
	switch (k) {
	case SK_VM_ARRIVE:
		request_arrive(c, &c->vm[obj]);
		break;
	case SK_VCPU_GAP:
		gap_end(c, &c->vc[obj]);
		break;
	case SK_TX_ARRIVE:
		tx_arrive(c, &c->vm[obj]);
		break;
	case SK_TX_SERVE:
		tx_done(c, c->txq[obj]);
		break;
	case SK_RX_ARRIVE:
		rx_arrive(c, &c->vm[obj]);
		break;
	case SK_IO_ARRIVE:
		io_arrive(c, &c->vm[obj]);
		break;
	case SK_IO_DEV:
		io_done(c, obj);
		break;
	case SK_COMPACT:
		compaction(c, &c->vm[obj]);
		break;
	case SK_MEMTICK:
		memory_tick(c);
		break;
	case SK_MIG:
		mig_event(c, obj);
		break;
	default:
		break;
	}
}

/* statistics from here on: the warm-up is over */
void work_warmup(struct simctx *c)
{
	for (uint32_t i = 0; i < c->nvc; i++) {
		struct vcpu *v = &c->vc[i];
		vcpu_flush(c, v);
		v->w_user = v->t_user;
		v->w_sys = v->t_sys;
		v->w_sirq = v->t_sirq;
		v->w_steal = v->t_steal;
		v->w_idle = v->t_idle;
		v->t_remote = 0;
	}
	for (unsigned i = 0; i < c->ncpu; i++) {
		struct pcpu *p = &c->cpu[i];
		pcpu_flush(c, p);
		p->w_busy = p->t_busy;
		p->w_rq = p->rq_area;
	}
	for (uint32_t i = 0; i < c->nvm; i++) {
		struct vm *m = &c->vm[i];
		m->w_work = m->work_done;
		m->w_host_faults = m->host_faults;
		m->w_guest_faults = m->guest_faults;
		m->w_pressure = m->pressure_time;
		m->w_compact_time = m->compact_time;
		m->w_compactions = m->compactions;
		m->arrived = 0;
		m->rejected = 0;
		m->balloon_max = m->balloon;
		m->host_swapped_max = m->host_swapped;
		for (unsigned q = 0; m->tx && q < m->conf->queues; q++) {
			m->w_tx[0] += m->tx[q].offered;
			m->w_tx[1] += m->tx[q].sent;
			m->w_tx[2] += m->tx[q].qdisc_drops;
			m->w_tx[3] += m->tx[q].ring_drops;
		}
		for (unsigned q = 0; m->rx && q < m->conf->queues; q++) {
			m->w_rx[0] += m->rx[q].offered;
			m->w_rx[1] += m->rx[q].delivered;
			m->w_rx[2] += m->rx[q].host_drops;
		}
		for (unsigned j = 0; j < m->nv; j++)
			m->w_rx[3] += vcpu_of(c, m, j)->squeeze;
	}
	c->host_swapped_max = c->host_swapped;
}
