// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* QEMU's block latency histograms: see qmphist.h. */
#include "qmphist.h"

#include <errno.h>
#include <string.h>

#define QMPHIST_TOP_SHIFT 22	/* the last boundary hiddenq sets: 2^22 us */

/* A JSON integer >= 0 (QEMU prints uint64 counts as integers; a real or a negative is not one). */
static bool json_u64(const json_t *v, uint64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

int qmphist_parse(const json_t *j, struct qmphist *h)
{
	memset(h, 0, sizeof(*h));
	const json_t *b = json_object_get(j, "boundaries"), *n = json_object_get(j, "bins");
	if (!json_is_array(b) || !json_is_array(n))
		return -EINVAL;
	size_t nb = json_array_size(b), nn = json_array_size(n);
	if (nn != nb + 1 || nn > QMPHIST_MAX_BINS)
		return -EINVAL;
	for (size_t i = 0; i < nb; i++) {
		if (!json_u64(json_array_get(b, i), &h->bound_ns[i]) || (i > 0 && h->bound_ns[i] <= h->bound_ns[i - 1]))
			return -EINVAL;
	}
	for (size_t i = 0; i < nn; i++)
		if (!json_u64(json_array_get(n, i), &h->bins[i]))
			return -EINVAL;
	h->nbins = (unsigned)nn;
	return 0;
}

int qmphist_delta(const struct qmphist *first, const struct qmphist *last, struct qmphist *out)
{
	*out = *last;
	if (!first)
		return 0;
	if (first->nbins != last->nbins ||
	    memcmp(first->bound_ns, last->bound_ns, (last->nbins - 1) * sizeof(last->bound_ns[0])) != 0)
		return -ESTALE;
	for (unsigned i = 0; i < last->nbins; i++)
		if (last->bins[i] < first->bins[i])
			return -ESTALE;
	for (unsigned i = 0; i < last->nbins; i++)
		out->bins[i] = last->bins[i] - first->bins[i];
	return 0;
}

uint64_t qmphist_total(const struct qmphist *h)
{
	uint64_t t = 0;
	for (unsigned i = 0; i < h->nbins; i++)
		t += h->bins[i];
	return t;
}

double qmphist_percentile_us(const struct qmphist *h, double q, bool *open)
{
	if (open)
		*open = false;
	double total = (double)qmphist_total(h);
	if (total <= 0 || !(q > 0))
		return -1;
	if (q > 1)
		q = 1;
	double rank = q * total, cum = 0;
	unsigned top = 0;
	for (unsigned i = 0; i < h->nbins; i++) {
		if (h->bins[i] == 0)
			continue;
		top = i;
		double n = (double)h->bins[i];
		double lo = i == 0 ? 0 : (double)h->bound_ns[i - 1];
		if (cum + n >= rank) {
			if (i == h->nbins - 1) {
				if (open)
					*open = true;
				return lo / 1000;
			}
			double hi = (double)h->bound_ns[i];
			return (lo + (hi - lo) * (rank - cum) / n) / 1000;
		}
		cum += n;
	}
	/* rounding put the rank above the last count: the top of the highest non-empty bin */
	if (top == h->nbins - 1) {
		if (open)
			*open = true;
		return top == 0 ? 0 : (double)h->bound_ns[top - 1] / 1000;
	}
	return (double)h->bound_ns[top] / 1000;
}

size_t qmphist_default_bounds(uint64_t *ns, size_t n)
{
	size_t k = 0;
	for (unsigned s = 0; s <= QMPHIST_TOP_SHIFT && k < n; s++)
		ns[k++] = 1000ull << s;
	return k;
}
