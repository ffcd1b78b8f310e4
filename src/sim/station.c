/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Plain queueing stations, the textbook half of the simulator: arrivals
 * from a distribution, c servers, FCFS or processor sharing, an optional
 * capacity.  They are how the model is checked against closed forms (M/M/1,
 * M/M/c, M/D/1, M/G/1, PS), so they are kept as simple as the formulas.
 *
 * Measurement: with `customers`, the first `warmup` arrivals are not
 * measured, the next `customers` are, then arrivals stop and the station
 * drains.  Time averages (utilization, customers in system) cover the span
 * from the first measured arrival to the last.  With `duration`, customers
 * arriving after the warm-up time are measured until the end.
 */
#include <stdlib.h>

#include "../core/util.h"
#include "internal.h"

#define QUEUE_MAX (1u << 22)	/* customers waiting at one station: beyond, the station is unstable */

static bool measured(const struct simctx *c, const struct station *s, uint64_t idx, double arrival)
{
	if (c->sc->customers && c->sc->duration <= 0)
		return idx >= c->sc->warmup_customers && idx < s->limit;
	return arrival >= c->warm;
}

/* integrate the time averages up to now */
static void integrate(struct simctx *c, struct station *s)
{
	if (s->measuring) {
		double dt = c->now - s->last_change;
		unsigned n = s->conf->ps ? s->njobs : s->busy + s->q.n;
		unsigned busy = s->conf->ps ? (s->njobs < s->conf->servers ? s->njobs : s->conf->servers) : s->busy;
		s->area += dt * n;
		s->area_busy += dt * busy;
	}
	s->last_change = c->now;
}

void stations_init(struct simctx *c)
{
	const struct sim_scenario *sc = c->sc;
	c->nst = sc->nstations;
	c->st = xcalloc(c->nst ? c->nst : 1, sizeof(*c->st));
	for (unsigned i = 0; i < c->nst; i++) {
		struct station *s = &c->st[i];
		s->conf = &sc->stations[i];
		rng_seed(&s->rng, sc->seed, 0x5100 + i);
		if (sc->customers && sc->duration <= 0)
			s->limit = sc->warmup_customers + sc->customers;
		fifo_init(&s->q, sizeof(struct sta_cust), QUEUE_MAX);
		s->slot_arrive = slot_new(c, SK_STA_ARRIVE, i);
		if (s->conf->ps) {
			s->slot_ps = slot_new(c, SK_STA_PS, i);
		} else {
			s->serving = xcalloc(s->conf->servers, sizeof(*s->serving));
			for (unsigned k = 0; k < s->conf->servers; k++) {
				uint32_t sl = slot_new(c, SK_STA_SERVER, i);
				if (k == 0)
					s->server0 = sl;
			}
		}
		th_set(&c->th, s->slot_arrive, dist_sample(&s->conf->arrival, &s->rng));
	}
}

/* ---- processor sharing: jobs in a heap by finish tag ---- */

static double ps_rate(const struct station *s, uint32_t n)
{
	return n <= s->conf->servers ? 1.0 : (double)s->conf->servers / n;
}

static void ps_advance(struct simctx *c, struct station *s)
{
	if (s->njobs)
		s->vtime += (c->now - s->vlast) * ps_rate(s, s->njobs);
	s->vlast = c->now;
}

static void ps_push(struct station *s, const struct ps_job *j)
{
	if (s->njobs == s->capjobs) {
		s->capjobs = s->capjobs ? s->capjobs * 2 : 64;
		s->jobs = xrealloc(s->jobs, s->capjobs * sizeof(*s->jobs));
	}
	uint32_t i = s->njobs++;
	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (s->jobs[p].tag <= j->tag)
			break;
		s->jobs[i] = s->jobs[p];
		i = p;
	}
	s->jobs[i] = *j;
}

static void ps_pop(struct station *s)
{
	struct ps_job last = s->jobs[--s->njobs];
	uint32_t i = 0, n = s->njobs;
	for (;;) {
		uint32_t l = 2 * i + 1;
		if (l >= n)
			break;
		uint32_t m = l + 1 < n && s->jobs[l + 1].tag < s->jobs[l].tag ? l + 1 : l;
		if (s->jobs[m].tag >= last.tag)
			break;
		s->jobs[i] = s->jobs[m];
		i = m;
	}
	if (n)
		s->jobs[i] = last;
}

static void ps_schedule(struct simctx *c, struct station *s)
{
	if (!s->njobs) {
		th_cancel(&c->th, s->slot_ps);
		return;
	}
	double left = s->jobs[0].tag - s->vtime;
	if (left < 0)
		left = 0;
	th_set(&c->th, s->slot_ps, c->now + left / ps_rate(s, s->njobs));
}

/* ---- events ---- */

static void drained(struct simctx *c, struct station *s)
{
	if (s->limit && s->arrivals >= s->limit && s->busy == 0 && s->q.n == 0 && s->njobs == 0)
		c->st_done++;
}

static void depart(struct simctx *c, struct station *s, double arrival, double service, uint64_t idx, double wait)
{
	if (!measured(c, s, idx, arrival))
		return;
	s->served++;
	if (wait > 0)
		s->waited++;
	shist_add(&s->wait, wait);
	shist_add(&s->resp, c->now - arrival);
	(void)service;
}

static void start_service(struct simctx *c, struct station *s, unsigned k, const struct sta_cust *cu)
{
	s->serving[k] = *cu;
	s->serving[k].start = c->now;
	s->busy++;
	th_set(&c->th, s->server0 + k, c->now + cu->service);
}

static void arrive(struct simctx *c, struct station *s)
{
	integrate(c, s);
	uint64_t idx = s->arrivals++;
	struct sta_cust cu = { c->now, dist_sample(&s->conf->service, &s->rng), 0, idx };
	bool m = measured(c, s, idx, c->now);
	if (m && !s->measuring && s->t_first == 0 && s->served == 0) {
		s->measuring = true;
		s->t_first = c->now;
		s->last_change = c->now;
	}
	if (m)
		s->measured_arrivals++;
	/* the next arrival, unless the measured customers are all in */
	if (!s->limit || s->arrivals < s->limit)
		th_set(&c->th, s->slot_arrive, c->now + dist_sample(&s->conf->arrival, &s->rng));
	else {
		s->t_last = c->now;
		integrate(c, s);
		s->measuring = false;
	}
	unsigned insys = s->conf->ps ? s->njobs : s->busy + s->q.n;
	if (s->conf->capacity && insys >= s->conf->capacity) {
		if (m)
			s->dropped++;
		drained(c, s);
		return;
	}
	if (s->conf->ps) {
		ps_advance(c, s);
		struct ps_job j = { s->vtime + cu.service, cu.arrival, cu.service, idx };
		ps_push(s, &j);
		ps_schedule(c, s);
		return;
	}
	if (s->busy < s->conf->servers) {
		for (unsigned k = 0; k < s->conf->servers; k++)
			if (!th_pending(&c->th, s->server0 + k)) {
				start_service(c, s, k, &cu);
				break;
			}
		return;
	}
	if (!fifo_push(&s->q, &cu)) {
		/* the queue outgrew any finite run: the station is unstable */
		s->unstable = true;
		if (m)
			s->dropped++;
	}
}

void stations_event(struct simctx *c, enum slot_kind k, uint32_t obj, uint32_t slot)
{
	if (k == SK_STA_ARRIVE) {
		arrive(c, &c->st[obj]);
		return;
	}
	if (k == SK_STA_PS) {
		struct station *s = &c->st[obj];
		integrate(c, s);
		ps_advance(c, s);
		struct ps_job j = s->jobs[0];
		ps_pop(s);
		s->vtime = j.tag > s->vtime ? j.tag : s->vtime;
		depart(c, s, j.arrival, j.service, j.idx, c->now - j.arrival - j.service);
		ps_schedule(c, s);
		drained(c, s);
		return;
	}
	/* an FCFS server finished: which one is the slot's place after the first */
	struct station *s = &c->st[obj];
	integrate(c, s);
	unsigned who = slot - s->server0;
	const struct sta_cust done = s->serving[who];
	s->busy--;
	depart(c, s, done.arrival, done.service, done.idx, done.start - done.arrival);
	if (s->q.n) {
		struct sta_cust next = *(struct sta_cust *)fifo_front(&s->q);
		fifo_pop(&s->q);
		start_service(c, s, who, &next);
	}
	drained(c, s);
}

void stations_finish(struct simctx *c, struct sim_result *r)
{
	r->nst = c->nst;
	r->st = xcalloc(c->nst ? c->nst : 1, sizeof(*r->st));
	for (unsigned i = 0; i < c->nst; i++) {
		struct station *s = &c->st[i];
		struct sim_station_result *o = &r->st[i];
		if (s->measuring) {
			integrate(c, s);
			s->t_last = c->now;
		}
		snprintf(o->name, sizeof(o->name), "%s", s->conf->name);
		o->servers = s->conf->servers;
		o->ps = s->conf->ps;
		o->lambda = 1.0 / dist_mean(&s->conf->arrival);
		o->mean_service = dist_mean(&s->conf->service);
		o->arrived = s->measured_arrivals;
		o->served = s->served;
		o->dropped = s->dropped;
		double span = s->t_last - s->t_first;
		o->utilization = span > 0 ? s->area_busy / (span * s->conf->servers) : 0;
		o->in_system = span > 0 ? s->area / span : 0;
		o->p_wait = s->served ? (double)s->waited / (double)s->served : 0;
		shist_latency(&s->wait, &o->wait);
		shist_latency(&s->resp, &o->response);
		o->unstable = s->unstable;
	}
}

void stations_free(struct simctx *c)
{
	for (unsigned i = 0; i < c->nst; i++) {
		struct station *s = &c->st[i];
		fifo_done(&s->q);
		free(s->serving);
		free(s->jobs);
		shist_free(&s->wait);
		shist_free(&s->resp);
	}
	free(c->st);
}
