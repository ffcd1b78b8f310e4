/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The host: physical CPUs in NUMA nodes and a fair-share scheduler for
 * vCPUs, in the manner of CFS/EEVDF.
 *
 * - Each physical CPU runs one vCPU at a time for a time slice; its other
 *   runnable vCPUs wait in its run queue, ordered by virtual runtime (time
 *   run, scaled by the VM's weight).  A vCPU that is runnable but waits is
 *   exactly what its guest counts as steal.
 * - A vCPU that wakes goes to an idle allowed CPU (its last one first, then
 *   one on the same node), else to its last CPU's queue; it preempts the
 *   running vCPU when it is more than the wake-up granularity behind it.
 * - A CPU that goes idle pulls a waiting vCPU it may run; every `balance`
 *   each CPU with two or more waiting offers one to a CPU with less load.
 * - Pinning restricts all of this to the allowed CPUs.
 *
 * What a vCPU runs is a short list of work, in priority order: the softirq
 * batch of a receive queue whose interrupt it takes, a direct compaction
 * stall (kernel time), then user work (a request or a CPU burst).  User
 * work stretches by the NUMA cost of the node it runs on and by the VM's
 * speed factor (host page faults, auto-converge throttling).
 */
#include <math.h>
#include <stdlib.h>

#include "../core/util.h"
#include "internal.h"

#define EPS 1e-12

static inline bool mask_has(const uint64_t *m, unsigned c)
{
	return (m[c / 64] >> (c % 64)) & 1;
}
static inline void mask_set(uint64_t *m, unsigned c)
{
	m[c / 64] |= 1ull << (c % 64);
}
static inline void mask_clr(uint64_t *m, unsigned c)
{
	m[c / 64] &= ~(1ull << (c % 64));
}

static inline double vr_scale(const struct simctx *c, const struct vcpu *v)
{
	return 100.0 / c->vm[v->vm].conf->weight;
}

static inline unsigned cpu_index(const struct simctx *c, const struct pcpu *p)
{
	return (unsigned)(p - c->cpu);
}

/* ---- accounting ---- */

static void rq_account(struct simctx *c, struct pcpu *p)
{
	double dt = c->now - p->rq_since;
	if (dt > 0) {
		p->rq_area += dt * p->nrq;
		if (p->nrq)
			p->t_some += dt;
	}
	p->rq_since = c->now;
}

static void set_cur(struct simctx *c, struct pcpu *p, int32_t v)
{
	if (p->cur >= 0)
		p->t_busy += c->now - p->busy_since;
	p->cur = v;
	p->busy_since = c->now;
	if (v >= 0)
		mask_clr(c->idle_mask, cpu_index(c, p));
	else
		mask_set(c->idle_mask, cpu_index(c, p));
}

void pcpu_flush(struct simctx *c, struct pcpu *p)
{
	rq_account(c, p);
	if (p->cur >= 0) {
		p->t_busy += c->now - p->busy_since;
		p->busy_since = c->now;
	}
}

/* change state; the time in a waiting or idle state goes to steal or idle */
static void state_set(struct simctx *c, struct vcpu *v, enum vstate s)
{
	double dt = c->now - v->since;
	if (v->state == VS_WAIT)
		v->t_steal += dt;
	else if (v->state == VS_IDLE)
		v->t_idle += dt;
	v->state = (uint8_t)s;
	v->since = c->now;
}

static double numa_factor(const struct simctx *c, const struct vcpu *v, unsigned node, double *remote)
{
	const struct vm *m = &c->vm[v->vm];
	double r = m->conf->remote_share >= 0 ? m->conf->remote_share : 1.0 - m->mem_frac[node];
	if (r < 0)
		r = 0;
	*remote = r;
	return 1.0 + m->conf->mem_share * r * (c->remote_ratio - 1.0);
}

/* v's running segment (on p) up to now: time to its kind, work done */
static void account_segment(struct simctx *c, struct vcpu *v, struct pcpu *p)
{
	double e = c->now - v->seg_start;
	v->seg_start = c->now;
	if (e <= 0)
		return;
	struct vm *m = &c->vm[v->vm];
	v->vruntime += e * vr_scale(c, v);
	switch (v->kind) {
	case VK_SIRQ:
		v->t_sirq += e;
		v->sirq_left -= e;
		break;
	case VK_SYS:
		v->t_sys += e;
		v->sys_left -= e;
		break;
	case VK_USER: {
		v->t_user += e;
		double work = e / v->slowdown;
		v->user_left -= work;
		m->work_done += work;
		double remote;
		(void)numa_factor(c, v, p->node, &remote);
		v->t_remote += e * remote;
		if (m->conf->vnuma) {
			double h = work * m->conf->hint_rate;
			v->hint_faults += h;
			v->hint_local += h * (1 - remote);
		}
		/* page faults below the guest (host swap), and the guest's own swap-ins */
		if (m->host_swapped > 0 || m->gpress > 0) {
			double touched = work * m->conf->touch_rate;
			double need = m->ws > 0 ? m->ws : 1;
			m->host_faults += touched * m->host_swapped / need;
			m->guest_faults += touched * m->gpress / need;
			m->psi_mem += e * m->guest_fault_frac;
		}
		break;
	}
	default:
		break;
	}
}

void vcpu_flush(struct simctx *c, struct vcpu *v)
{
	if (v->state == VS_RUN)
		account_segment(c, v, &c->cpu[v->cpu]);
	else
		state_set(c, v, (enum vstate)v->state);
}

/* ---- run queues ---- */

static void rq_add(struct simctx *c, struct pcpu *p, uint32_t vi)
{
	rq_account(c, p);
	if (p->nrq == p->caprq) {
		p->caprq = p->caprq ? p->caprq * 2 : 8;
		p->rq = xrealloc(p->rq, p->caprq * sizeof(*p->rq));
	}
	p->rq[p->nrq++] = vi;
	mask_set(c->rq_mask, cpu_index(c, p));
	struct vcpu *v = &c->vc[vi];
	v->cpu = (int32_t)cpu_index(c, p);
	state_set(c, v, VS_WAIT);
}

static uint32_t rq_take(struct simctx *c, struct pcpu *p, uint32_t i)
{
	rq_account(c, p);
	uint32_t vi = p->rq[i];
	/* keep the order (ties by position stay deterministic and FIFO) */
	memmove(&p->rq[i], &p->rq[i + 1], (p->nrq - i - 1) * sizeof(*p->rq));
	p->nrq--;
	if (!p->nrq)
		mask_clr(c->rq_mask, cpu_index(c, p));
	return vi;
}

static uint32_t rq_min(const struct simctx *c, const struct pcpu *p)
{
	uint32_t best = 0;
	for (uint32_t i = 1; i < p->nrq; i++)
		if (c->vc[p->rq[i]].vruntime < c->vc[p->rq[best]].vruntime)
			best = i;
	return best;
}

/* v starts a new time slice on p (p was idle, or its vCPU left) */
static void start_on(struct simctx *c, struct pcpu *p, uint32_t vi)
{
	struct vcpu *v = &c->vc[vi];
	state_set(c, v, VS_RUN);
	v->runs++;
	set_cur(c, p, (int32_t)vi);
	p->slice_end = c->now + c->slice;
	v->cpu = v->last_cpu = (int32_t)cpu_index(c, p);
	if (v->vruntime > p->min_vr)
		p->min_vr = v->vruntime;
}

static bool pick_next(struct simctx *c, struct pcpu *p);

/* p's vCPU has nothing to do: it halts (the guest's idle), p takes another */
static bool halt(struct simctx *c, struct pcpu *p)
{
	struct vcpu *v = &c->vc[p->cur];
	v->kind = VK_NONE;
	state_set(c, v, VS_IDLE);
	v->cpu = -1;
	set_cur(c, p, -1);
	return pick_next(c, p);
}

/* Plan the next segment of p's vCPU; when it has no work it halts and p
 * takes the next one, until one runs or p is idle. */
static void run_next(struct simctx *c, struct pcpu *p)
{
	while (p->cur >= 0) {
		struct vcpu *v = &c->vc[p->cur];
		struct vm *m = &c->vm[v->vm];
		double dur;
		int q;
		if (m->paused) {
			if (!halt(c, p))
				return;
			continue;
		}
		double bound = p->slice_end;
		if (v->sys_left <= EPS && v->sys_begin >= 0) {
			/* a stall whose last crumb rounded away: it is over */
			v->sys_left = 0;
			work_sys_done(c, v);
		}
		if (v->ksoftirqd_until > c->now && (v->has_user || work_take_request(c, v))) {
			/* softirq went to ksoftirqd: the vCPU's task runs first, for a while */
			double remote;
			v->kind = VK_USER;
			v->slowdown = numa_factor(c, v, p->node, &remote) * m->speed_factor;
			dur = v->user_left * v->slowdown;
			if (v->ksoftirqd_until < bound)
				bound = v->ksoftirqd_until;
		} else if (v->sirq_batch) {
			v->kind = VK_SIRQ;
			dur = v->sirq_left;
		} else if ((q = work_rx_pending(c, v)) >= 0) {
			uint32_t n = m->rx[q].ring < 64 ? m->rx[q].ring : 64;
			v->sirq_q = (uint32_t)q;
			v->sirq_batch = n;
			v->sirq_left = n * m->conf->rx_cost;
			v->kind = VK_SIRQ;
			dur = v->sirq_left;
		} else if (v->sys_left > EPS) {
			v->kind = VK_SYS;
			dur = v->sys_left;
		} else if (v->has_user || work_take_request(c, v)) {
			double remote;
			v->kind = VK_USER;
			v->slowdown = numa_factor(c, v, p->node, &remote) * m->speed_factor;
			dur = v->user_left * v->slowdown;
		} else {
			if (!halt(c, p))
				return;
			continue;
		}
		if (dur < 0)
			dur = 0;
		v->seg_start = c->now;
		v->item_end = c->now + dur;
		th_set(&c->th, p->slot, v->item_end < bound ? v->item_end : bound);
		return;
	}
}

/* pull a waiting vCPU that may run on p from another CPU: its own node first */
static bool pull(struct simctx *c, struct pcpu *p)
{
	unsigned me = cpu_index(c, p);
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned w = 0; w < c->nw; w++) {
			uint64_t x = c->rq_mask[w];
			if (pass == 0)
				x &= c->node_mask[(size_t)p->node * c->nw + w];
			while (x) {
				unsigned q = w * 64 + (unsigned)__builtin_ctzll(x);
				x &= x - 1;
				struct pcpu *src = &c->cpu[q];
				if (src == p)
					continue;
				for (uint32_t i = 0; i < src->nrq; i++) {
					struct vcpu *v = &c->vc[src->rq[i]];
					if (!mask_has(v->allowed, me))
						continue;
					uint32_t vi = rq_take(c, src, i);
					v->vruntime += p->min_vr - src->min_vr;
					start_on(c, p, vi);
					return true;
				}
			}
		}
	}
	return false;
}

static bool pick_next(struct simctx *c, struct pcpu *p)
{
	if (p->nrq) {
		uint32_t vi = rq_take(c, p, rq_min(c, p));
		start_on(c, p, vi);
		return true;
	}
	if (pull(c, p))
		return true;
	th_cancel(&c->th, p->slot);
	return false;
}

static void preempt(struct simctx *c, struct pcpu *p)
{
	uint32_t vi = (uint32_t)p->cur;
	set_cur(c, p, -1);
	rq_add(c, p, vi);
}

void pcpu_event(struct simctx *c, uint32_t pi)
{
	struct pcpu *p = &c->cpu[pi];
	if (p->cur < 0) {
		th_cancel(&c->th, p->slot);
		return;
	}
	struct vcpu *v = &c->vc[p->cur];
	account_segment(c, v, p);
	if (c->now >= v->item_end) {
		switch (v->kind) {
		case VK_SIRQ:
			v->sirq_left = 0;
			work_rx_done(c, v);
			break;
		case VK_SYS:
			v->sys_left = 0;
			work_sys_done(c, v);
			break;
		case VK_USER:
			v->user_left = 0;
			v->has_user = false;
			work_user_done(c, v);
			break;
		default:
			break;
		}
	}
	if (c->now >= p->slice_end) {
		if (p->nrq && vcpu_has_work(c, v)) {
			preempt(c, p);
			pick_next(c, p);
		} else {
			p->slice_end = c->now + c->slice;
		}
	}
	run_next(c, p);
}

bool vcpu_has_work(const struct simctx *c, const struct vcpu *v)
{
	const struct vm *m = &c->vm[v->vm];
	if (m->paused)
		return false;
	return v->sirq_batch || v->sys_left > EPS || v->has_user || m->gq.n || work_rx_pending(c, v) >= 0;
}

/* the CPU a waking vCPU goes to; *idle says whether it is free */
static struct pcpu *choose(struct simctx *c, struct vcpu *v, bool *idle)
{
	const uint64_t *al = v->allowed;
	int last = v->last_cpu;
	if (last >= 0 && mask_has(al, (unsigned)last) && c->cpu[last].cur < 0) {
		*idle = true;
		return &c->cpu[last];
	}
	unsigned node = last >= 0 ? c->cpu[last].node : 0;
	for (int pass = 0; pass < 2; pass++)
		for (unsigned w = 0; w < c->nw; w++) {
			uint64_t x = c->idle_mask[w] & al[w];
			if (pass == 0)
				x &= c->node_mask[(size_t)node * c->nw + w];
			if (x) {
				*idle = true;
				return &c->cpu[w * 64 + (unsigned)__builtin_ctzll(x)];
			}
		}
	*idle = false;
	if (last >= 0 && mask_has(al, (unsigned)last))
		return &c->cpu[last];
	/* the allowed CPU with the fewest waiting */
	struct pcpu *best = NULL;
	for (unsigned w = 0; w < c->nw; w++) {
		uint64_t x = al[w];
		while (x) {
			unsigned q = w * 64 + (unsigned)__builtin_ctzll(x);
			x &= x - 1;
			if (!best || c->cpu[q].nrq < best->nrq)
				best = &c->cpu[q];
		}
	}
	return best;
}

static void wake(struct simctx *c, struct vcpu *v)
{
	bool idle;
	struct pcpu *p = choose(c, v, &idle);
	uint32_t vi = (uint32_t)(v - c->vc);
	if (idle) {
		start_on(c, p, vi);
		run_next(c, p);
		return;
	}
	/* a sleeper comes back at most a slice behind the others */
	if (v->vruntime < p->min_vr - c->slice)
		v->vruntime = p->min_vr - c->slice;
	rq_add(c, p, vi);
	struct vcpu *u = &c->vc[p->cur];
	double u_vr = u->vruntime + (c->now - u->seg_start) * vr_scale(c, u);
	if (u_vr - v->vruntime > c->gran) {
		account_segment(c, u, p);
		preempt(c, p);
		/* v is the one that woke: take it out of the queue and run it */
		for (uint32_t i = 0; i < p->nrq; i++)
			if (p->rq[i] == vi) {
				rq_take(c, p, i);
				break;
			}
		start_on(c, p, vi);
		run_next(c, p);
	}
}

void vcpu_kick(struct simctx *c, struct vcpu *v, bool urgent)
{
	if (v->state == VS_IDLE) {
		if (vcpu_has_work(c, v))
			wake(c, v);
		return;
	}
	if (v->state == VS_RUN && urgent && v->kind != VK_SIRQ) {
		struct pcpu *p = &c->cpu[v->cpu];
		account_segment(c, v, p);
		run_next(c, p);
	}
}

void balance_event(struct simctx *c)
{
	for (unsigned pi = 0; pi < c->ncpu; pi++) {
		struct pcpu *p = &c->cpu[pi];
		if (p->nrq < 2)
			continue;
		struct pcpu *q = &c->cpu[rng_below(&c->sched_rng, c->ncpu)];
		if (q == p || (q->cur >= 0) + q->nrq + 1 >= (p->cur >= 0) + p->nrq)
			continue;
		unsigned qi = cpu_index(c, q);
		for (uint32_t i = p->nrq; i-- > 0;) {
			struct vcpu *v = &c->vc[p->rq[i]];
			if (!mask_has(v->allowed, qi))
				continue;
			uint32_t vi = rq_take(c, p, i);
			v->vruntime += q->min_vr - p->min_vr;
			if (q->cur < 0) {
				start_on(c, q, vi);
				run_next(c, q);
			} else {
				rq_add(c, q, vi);
			}
			break;
		}
	}
	th_set(&c->th, c->slot_balance, c->now + c->sc->host.balance);
}

void sched_init(struct simctx *c)
{
	const struct sim_hostconf *h = &c->sc->host;
	c->ncpu = h->cpus;
	c->nnodes = h->nodes;
	c->nw = (c->ncpu + 63) / 64;
	c->slice = h->slice;
	c->gran = h->wakeup_gran;
	c->remote_ratio = h->remote_ns / h->local_ns;
	c->cpu = xcalloc(c->ncpu, sizeof(*c->cpu));
	c->idle_mask = xcalloc(c->nw, sizeof(uint64_t));
	c->rq_mask = xcalloc(c->nw, sizeof(uint64_t));
	c->node_mask = xcalloc((size_t)c->nnodes * c->nw, sizeof(uint64_t));
	rng_seed(&c->sched_rng, c->sc->seed, 0xba1a);
	for (unsigned i = 0; i < c->ncpu; i++) {
		struct pcpu *p = &c->cpu[i];
		p->cur = -1;
		p->node = (uint16_t)((uint64_t)i * c->nnodes / c->ncpu);
		p->slot = slot_new(c, SK_PCPU, i);
		mask_set(c->idle_mask, i);
		mask_set(&c->node_mask[(size_t)p->node * c->nw], i);
	}
	c->slot_balance = slot_new(c, SK_BALANCE, 0);
	th_set(&c->th, c->slot_balance, h->balance);
}

void sched_free(struct simctx *c)
{
	for (unsigned i = 0; i < c->ncpu; i++)
		free(c->cpu[i].rq);
	free(c->cpu);
	free(c->idle_mask);
	free(c->rq_mask);
	free(c->node_mask);
}
