/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "precopy.h"

#include <string.h>

int wcurve_add(struct wcurve *w, double t_s, double pages)
{
	if (w->n >= WCURVE_MAX || t_s <= 0 || pages < 0)
		return -1;
	if (w->n && t_s <= w->t_s[w->n - 1])
		return -1;
	if (w->n && pages < w->pages[w->n - 1])
		pages = w->pages[w->n - 1]; /* W never shrinks: a noisy read does not undo pages */
	w->t_s[w->n] = t_s;
	w->pages[w->n] = pages;
	w->n++;
	return 0;
}

double wcurve_at(const struct wcurve *w, double t, bool *beyond)
{
	if (beyond)
		*beyond = false;
	if (!w->n || t <= 0)
		return 0;
	double t0 = 0, p0 = 0;
	for (unsigned i = 0; i < w->n; i++) {
		if (t <= w->t_s[i])
			return p0 + (w->pages[i] - p0) * (t - t0) / (w->t_s[i] - t0);
		t0 = w->t_s[i];
		p0 = w->pages[i];
	}
	if (beyond)
		*beyond = true;
	/* past the last point: the last segment's slope goes on (flat once the
	 * working set has saturated, still rising for a steady writer) */
	double slope = w->n > 1 ? (w->pages[w->n - 1] - w->pages[w->n - 2]) / (w->t_s[w->n - 1] - w->t_s[w->n - 2])
				: w->pages[0] / w->t_s[0];
	return w->pages[w->n - 1] + slope * (t - w->t_s[w->n - 1]);
}

int precopy_predict(const struct wcurve *w, const struct precopy_in *in, struct precopy_out *out)
{
	memset(out, 0, sizeof(*out));
	if (in->bw_Bps <= 0 || in->page_size <= 0 || in->mem_pages <= 0 || in->downtime_s < 0)
		return -1;
	unsigned maxr = in->max_rounds && in->max_rounds <= PRECOPY_MAX_ROUNDS ? in->max_rounds : PRECOPY_MAX_ROUNDS;
	double speed = 1.0 - (in->throttle > 0 ? (in->throttle < 0.99 ? in->throttle : 0.99) : 0);
	double per_page = in->page_size / in->bw_Bps;
	double send = in->mem_pages, total = 0;
	for (unsigned r = 0; r < maxr; r++) {
		double d = send * per_page;
		out->round_s[r] = d;
		out->round_pages[r] = send;
		out->rounds = r + 1;
		total += d;
		bool beyond;
		double left = wcurve_at(w, speed * d, &beyond);
		if (left > in->mem_pages) /* nothing dirties more pages than there are */
			left = in->mem_pages;
		if (beyond)
			out->beyond_measured = true;
		if (left * per_page <= in->downtime_s) {
			out->converges = true;
			out->downtime_s = left * per_page;
			out->total_s = total + out->downtime_s;
			return 0;
		}
		/* the first round sends everything; later ones must shrink */
		if (r > 0 && left > send * 0.99) {
			out->stuck_pages = left;
			out->stuck_downtime_s = left * per_page;
			out->total_s = total;
			return 0;
		}
		send = left;
	}
	out->stuck_pages = send;
	out->stuck_downtime_s = send * per_page;
	out->total_s = total;
	return 0;
}

double precopy_throttle_needed(const struct wcurve *w, const struct precopy_in *in)
{
	struct precopy_in t = *in;
	struct precopy_out o;
	for (int p = 0; p <= 99; p++) {
		t.throttle = p / 100.0;
		if (precopy_predict(w, &t, &o) < 0)
			return -1;
		if (o.converges)
			return t.throttle;
	}
	return -1;
}
