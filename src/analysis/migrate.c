/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* A live migration watched pass by pass (see migrate.h). */
#include "migrate.h"

#include <string.h>

void mig_track_init(struct mig_track *t)
{
	memset(t, 0, sizeof(*t));
	mig_params_init(&t->params);
	t->throttle_first = t->throttle_max = -1;
	t->downtime_ms = -1;
}

const struct mig_pass *mig_track_pass(const struct mig_track *t, unsigned k)
{
	return k < t->npass ? &t->pass[(t->pass_first + k) % MIG_MAX_PASSES] : NULL;
}

static struct mig_pass *newest(struct mig_track *t)
{
	return t->npass ? &t->pass[(t->pass_first + t->npass - 1) % MIG_MAX_PASSES] : NULL;
}

static struct mig_pass *push(struct mig_track *t)
{
	if (t->npass == MIG_MAX_PASSES) {
		t->pass_first = (t->pass_first + 1) % MIG_MAX_PASSES;
		t->npass--;
	}
	struct mig_pass *p = &t->pass[(t->pass_first + t->npass++) % MIG_MAX_PASSES];
	memset(p, 0, sizeof(*p));
	return p;
}

double mig_pass_throughput(const struct mig_pass *p)
{
	/* a third of a second at least: one sample of QEMU's counters is not a rate */
	return p->sent_ns >= 300000000ull ? (double)p->sent_bytes * 1e9 / (double)p->sent_ns : -1;
}

int64_t mig_track_passes(const struct mig_track *t)
{
	return t->seen ? t->last.dirty_sync_count : -1;
}

/* Completed, failed or cancelled: a migration's end states */
static bool over(enum mig_status s)
{
	return s == MIG_COMPLETED || s == MIG_FAILED || s == MIG_CANCELLED;
}

void mig_track_feed(struct mig_track *t, const struct mig_info *m, uint64_t now)
{
	if (t->seen && now <= t->last_ns)
		return;
	bool running = mig_status_running(m->status);
	if (!t->seen) {
		t->first = *m;
		t->first_ns = now;
	} else if (over(m->status) &&
		   (mig_status_running(t->last.status) || m->status != t->last.status ||
		    (m->total_time_ms >= 0 && t->last.total_time_ms >= 0 && m->total_time_ms != t->last.total_time_ms))) {
		/*
		 * Ended since the answer before.  A migration shorter than the
		 * interval between answers begins and ends between two of them
		 * (a small guest on a fast link takes well under a second): the
		 * status changed, or a second completed one took another time.
		 * Its passes are counted, not seen.
		 */
		t->ended = true;
	}
	struct mig_pass *p = newest(t);
	/* a new migration after one ended (its pass count starts over): forget the old passes */
	if (running && p && m->dirty_sync_count >= 0 && m->dirty_sync_count < p->n) {
		t->npass = t->pass_first = 0;
		t->throttle_first = t->throttle_max = -1;
		t->ended = false;
		p = NULL;
	}
	if (running && m->have_ram) {
		t->was_running = true;
		if (m->cpu_throttle_pct >= 0) {
			if (t->throttle_first < 0)
				t->throttle_first = m->cpu_throttle_pct;
			if (m->cpu_throttle_pct > t->throttle_max)
				t->throttle_max = m->cpu_throttle_pct;
		}
		if (m->dirty_sync_count >= 0) {
			if (!p || p->n != m->dirty_sync_count) {
				p = push(t);
				p->n = m->dirty_sync_count;
				p->t0 = now;
				p->backlog = -1;
				p->dirty_Bps = -1;
			}
			p->t1 = now;
			if (m->remaining > p->backlog)
				p->backlog = m->remaining;
			double d = mig_dirty_bytes_per_s(m);
			if (d >= 0)
				p->dirty_Bps = d;
			p->throttle = m->cpu_throttle_pct;
			p->expected_downtime_ms = m->expected_downtime_ms;
			/* what was sent since the answer before, charged to the pass it ended in */
			const struct mig_info *l = &t->last;
			if (t->seen && mig_status_running(l->status) && l->transferred >= 0 &&
			    m->transferred >= l->transferred && now > t->last_ns) {
				p->sent_bytes += (uint64_t)(m->transferred - l->transferred);
				p->sent_ns += now - t->last_ns;
			}
		}
	}
	if (m->status == MIG_COMPLETED && m->downtime_ms >= 0)
		t->downtime_ms = m->downtime_ms;
	t->last = *m;
	t->last_ns = now;
	t->seen = true;
}

void mig_track_verdict(const struct mig_track *t, unsigned k, struct mig_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->dirty_pct = v->kept_pct = -1;
	v->dirty_Bps = v->sent_Bps = -1;
	if (!k)
		k = 1;
	/* the passes after the first (the first sends all memory, its dirty rate measures nothing) */
	unsigned idx[MIG_MAX_PASSES], n = 0;
	for (unsigned i = 0; i < t->npass; i++)
		if (mig_track_pass(t, i)->n >= 2)
			idx[n++] = i;
	if (n < k)
		return;
	double least = -1;
	unsigned judged = 0;
	for (unsigned j = n - k; j < n; j++) {
		const struct mig_pass *p = mig_track_pass(t, idx[j]);
		/* the rate reported in pass p was measured over the pass before it */
		const struct mig_pass *prev = idx[j] > 0 ? mig_track_pass(t, idx[j] - 1) : NULL;
		double sent = prev && prev->n == p->n - 1 ? mig_pass_throughput(prev) : -1;
		if (sent <= 0)
			sent = mig_pass_throughput(p);
		if (p->dirty_Bps < 0 || sent <= 0)
			continue;
		double pct = 100.0 * p->dirty_Bps / sent;
		judged++;
		if (least < 0 || pct < least) {
			least = pct;
			v->dirty_Bps = p->dirty_Bps;
			v->sent_Bps = sent;
		}
	}
	if (judged == k)
		v->dirty_pct = least;
	v->judged = judged;
	if (n < k + 1)
		return;
	int64_t before = -1, last = -1;
	for (unsigned j = 0; j < n; j++) {
		int64_t b = mig_track_pass(t, idx[j])->backlog;
		if (b < 0)
			continue;
		int64_t *m = j < n - k ? &before : &last;
		if (*m < 0 || b < *m)
			*m = b;
	}
	if (before > 0 && last >= 0)
		v->kept_pct = 100.0 * (double)last / (double)before;
}
