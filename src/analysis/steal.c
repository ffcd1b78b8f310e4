/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "steal.h"

#define TH(t) (thresholds[t])

double steal_pct(uint64_t waited, uint64_t elapsed)
{
	return elapsed ? 100.0 * (double)waited / (double)elapsed : -1;
}

double steal_pct_between(const struct cpu_times *a, const struct cpu_times *b)
{
	if (!a || !b || a->nfields <= CT_STEAL)
		return -1;
	uint64_t ta = cpu_times_total(a), tb = cpu_times_total(b);
	if (tb > ta && b->v[CT_STEAL] >= a->v[CT_STEAL])
		return steal_pct(b->v[CT_STEAL] - a->v[CT_STEAL], tb - ta);
	return tb == ta ? 0 : -1;
}

/* v at or above the warn (or crit) level of row t; a level < 0 does not apply */
static bool at_least(double v, int t, bool crit)
{
	double lim = crit ? TH(t).crit : TH(t).warn;
	return lim >= 0 && v >= lim;
}

enum severity steal_severity(double avg_pct, double windows_ge20, double worst_1s_pct)
{
	if (at_least(avg_pct, T_STEAL_AVG, true) || at_least(windows_ge20, T_STEAL_WIN20, true))
		return SEV_CRIT;
	if (at_least(avg_pct, T_STEAL_AVG, false) || at_least(worst_1s_pct, T_STEAL_SPIKE, false))
		return SEV_WARN;
	return SEV_OK;
}
