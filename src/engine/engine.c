/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The engine (engine.h): a ring of staggered accumulators over the analysis
 * layers, from which every rule is judged over its own window.
 */
#include "engine.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "series.h"

#define NS_S 1000000000ull

static uint64_t rule_window(const struct engine *e, size_t i)
{
	if (e->horizon_ns == 0)
		return 0;
	if (!e->o.rule_windows)
		return e->o.window_ns;
	const struct rule_info *r = rules_info(i);
	return (uint64_t)r->window_s * NS_S;
}

struct engine *engine_new(const struct sample *statics, const char *source, const struct engine_opts *o)
{
	struct engine *e = xcalloc(1, sizeof(*e));
	e->o = *o;
	e->statics = statics;
	e->source = xstrdup(source ? source : "live");
	if (o->rule_windows) {
		for (size_t i = 0; i < rules_count(); i++) {
			uint64_t w = (uint64_t)rules_info(i)->window_s * NS_S;
			if (w > e->horizon_ns)
				e->horizon_ns = w;
		}
		if (!e->horizon_ns)
			e->horizon_ns = 60 * NS_S;
	} else {
		e->horizon_ns = o->window_ns;
	}
	if (e->horizon_ns && !e->o.step_ns) {
		uint64_t step = e->horizon_ns / 6 / NS_S * NS_S;
		e->o.step_ns = step < NS_S ? NS_S : step;
	}
	/* enough epochs for horizon / step + 2, within the fixed ring */
	if (e->horizon_ns && e->horizon_ns / e->o.step_ns + 2 > ENGINE_MAX_EPOCHS)
		e->o.step_ns = e->horizon_ns / (ENGINE_MAX_EPOCHS - 2) + 1;
	return e;
}

static void epoch_free(struct engine_epoch *ep)
{
	if (!ep)
		return;
	analysis_done(&ep->an);
	free(ep);
}

static void drop_oldest(struct engine *e)
{
	epoch_free(e->ep[0]);
	memmove(e->ep, e->ep + 1, (e->nep - 1) * sizeof(e->ep[0]));
	e->ep[--e->nep] = NULL;
}

static void start_epoch(struct engine *e, uint64_t now)
{
	if (e->nep == ENGINE_MAX_EPOCHS)
		drop_oldest(e);
	struct engine_epoch *ep = xcalloc(1, sizeof(*ep));
	analysis_init(&ep->an, e->statics, e->source);
	ep->an.no_gap_split = e->horizon_ns != 0; /* the engine starts over at a gap itself */
	ep->an.interval_ns = e->o.interval_ns;
	ep->start_ns = now;
	e->ep[e->nep++] = ep;
	e->epochs_started++;
}

void engine_feed(struct engine *e, const struct sample *s)
{
	engine_release(e);
	uint64_t now = s->mono_ns;
	if (e->nsamples && e->horizon_ns) {
		/*
		 * A gap longer than any window, or one the analysis would call a gap
		 * (5 s and 20 sampling intervals: the machine or the recorder
		 * stopped), or time going backwards: start again.
		 */
		uint64_t dt = now > e->last_ns ? now - e->last_ns : 0;
		bool gap = dt > e->horizon_ns ||
			   (dt > ANALYSIS_GAP_MIN_NS && e->min_dt_ns && dt / ANALYSIS_GAP_FACTOR > e->min_dt_ns);
		if (dt && !gap && (!e->min_dt_ns || dt < e->min_dt_ns))
			e->min_dt_ns = dt;
		if (gap || now < e->last_ns) {
			while (e->nep)
				drop_oldest(e);
			e->restarts++;
		}
	}
	if (!e->nsamples)
		e->first_ns = now;
	e->nsamples++;
	e->last_ns = now;
	if (!e->nep || (e->horizon_ns && now - e->ep[e->nep - 1]->start_ns >= e->o.step_ns))
		start_epoch(e, now);
	for (size_t i = 0; i < e->nep; i++) {
		analysis_feed(&e->ep[i]->an, s);
		e->ep[i]->nsamples++;
		e->ep[i]->last_ns = now;
	}
	engine_series_update(e);
	/* retire the oldest while the next one already covers the longest window */
	while (e->horizon_ns && e->nep >= 2 && now - e->ep[1]->start_ns >= e->horizon_ns)
		drop_oldest(e);
}

/* The youngest epoch that covers window_ns (0: the oldest); NULL if none. */
static struct engine_epoch *epoch_for(struct engine *e, uint64_t window_ns)
{
	if (!e->nep)
		return NULL;
	if (window_ns == 0)
		return e->ep[0];
	for (size_t i = e->nep; i-- > 0;)
		if (e->ep[i]->last_ns - e->ep[i]->start_ns >= window_ns)
			return e->ep[i];
	return e->ep[0];	/* younger than the window: everything there is */
}

static const struct analysis *finish(struct engine_epoch *ep)
{
	if (!ep->finished) {
		analysis_finish(&ep->an);
		ep->finished = true;
	}
	return &ep->an;
}

const struct analysis *engine_acquire(struct engine *e, uint64_t window_ns)
{
	struct engine_epoch *ep = epoch_for(e, window_ns ? window_ns : e->horizon_ns);
	return ep ? finish(ep) : NULL;
}

void engine_release(struct engine *e)
{
	for (size_t i = 0; i < e->nep; i++)
		if (e->ep[i]->finished) {
			analysis_unfinish(&e->ep[i]->an);
			e->ep[i]->finished = false;
		}
}

uint64_t engine_rule_window_ns(const struct engine *e, size_t rule)
{
	return rule_window(e, rule);
}

void engine_evaluate(struct engine *e, struct findings *out)
{
	for (size_t i = 0; i < rules_count(); i++) {
		struct engine_epoch *ep = epoch_for(e, rule_window(e, i));
		if (!ep) {
			const struct rule_info *r = rules_info(i);
			struct finding *f = findings_add(out, r->id, r->failure_mode, r->layer, r->label);
			finding_set(f, SEV_UNKNOWN, "no sample yet");
			continue;
		}
		rule_evaluate(i, finish(ep), out);
	}
}

void engine_damaged(struct engine *e, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < e->nep; i++)
		analysis_damaged(&e->ep[i]->an, "%s", buf);
}

size_t engine_state_bytes(const struct engine *e)
{
	size_t n = sizeof(*e);
	for (size_t i = 0; i < e->nep; i++)
		n += sizeof(*e->ep[i]) + analysis_state_bytes(&e->ep[i]->an);
	return n;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	engine_release(e);
	while (e->nep)
		drop_oldest(e);
	engine_series_done(e);
	free(e->source);
	free(e);
}
