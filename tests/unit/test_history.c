/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The report's history (src/sinks/history.c): the engine's series and
 * findings kept over a whole input in bounded buckets.  Samples are made on
 * the fly (steal per CPU per second and PSI chosen by the test) and fed to a
 * continuous engine, as `hiddenq report` feeds it; every expected value is
 * computed from what the test put in.
 */
#include "harness.h"

#include <math.h>

#include "analysis/analysis.h"
#include "engine/engine.h"
#include "sinks/history.h"
#include "sinks/html.h"

#define NCPU 2
#define T0 (1000 * NS_PER_S)
#define REAL0 (1700000000ull * NS_PER_S)

struct stream {
	struct fake_cpu cpu[NCPU];
	struct sample statics;
	uint64_t t;
	uint64_t psi_cpu_us;
};

static void stream_init(struct stream *st)
{
	memset(st, 0, sizeof(*st));
	for (int i = 0; i < NCPU; i++) {
		st->cpu[i].id = i;
		st->cpu[i].online = true;
	}
	sample_init(&st->statics);
	sample_put(&st->statics, ".hiddenq/identity.json",
		   "{\"cpuid_available\":true,\"hypervisor_bit\":true,"
		   "\"hypervisor_signature\":\"KVMKVMKVM\",\"kvm_features_eax\":32,\"euid\":0}");
	st->t = T0;
}

/* One second: steal[i] of 100 ticks on CPU i, the rest idle; PSI cpu some psi_pct; then the history reads it. */
static void step(struct stream *st, struct engine *e, struct history *h, const unsigned steal[NCPU], unsigned psi_pct)
{
	for (int i = 0; i < NCPU; i++) {
		st->cpu[i].v[CT_STEAL] += steal[i];
		st->cpu[i].v[CT_IDLE] += 100 - steal[i];
	}
	st->psi_cpu_us += psi_pct * 10000ull;
	struct sample s;
	sample_init(&s);
	s.mono_ns = st->t;
	s.real_ns = REAL0 + st->t;
	char *txt = fake_procstat(st->cpu, NCPU, 8, 1);
	sample_put(&s, "proc/stat", txt);
	free(txt);
	char psi[160];
	snprintf(psi, sizeof(psi), "some avg10=0.00 avg60=0.00 avg300=0.00 total=%llu\n"
				   "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
		 (unsigned long long)st->psi_cpu_us);
	sample_put(&s, "proc/pressure/cpu", psi);
	engine_feed(e, &s);
	history_feed(h, e, &s);
	sample_done(&s);
	st->t += NS_PER_S;
}

static struct engine *continuous(struct stream *st)
{
	struct engine_opts o = { .rule_windows = true, .interval_ns = NS_PER_S };
	return engine_new(&st->statics, "test", &o);
}

static const struct hplot *plot(const struct history *h, const char *id)
{
	for (size_t p = 0; p < h->nplots; p++)
		if (!strcmp(h->plots[p].def->id, id))
			return &h->plots[p];
	fail_msg("no plot %s", id);
	return NULL;
}

static const struct hline *line(const struct hplot *p, const char *name)
{
	for (size_t k = 0; k < p->nlines; k++)
		if (!strcmp(p->lines[k].name, name))
			return &p->lines[k];
	fail_msg("plot %s has no line '%s'", p->def->id, name);
	return NULL;
}

static size_t rule_index(const struct history *h, const char *id)
{
	for (size_t r = 0; r < h->nrules; r++)
		if (!strcmp(h->f[r].id, id))
			return r;
	fail_msg("no rule %s", id);
	return 0;
}

/* Every plot's lines share one unit, and every threshold it draws can be put in that unit. */
static void test_plot_table(void **state)
{
	(void)state;
	for (size_t p = 0; p < history_nplots; p++) {
		const struct plot_def *d = &history_plots[p];
		assert_true(d->nlines >= 1 && d->nlines <= ARRAY_SIZE(d->lines));
		const char *u0;
		double s0;
		plot_line_unit(&d->lines[0], &u0, &s0);
		bool hist = metric_def(d->lines[0].m)->type == MT_HISTOGRAM;
		for (size_t k = 0; k < d->nlines; k++) {
			const char *u;
			double s;
			plot_line_unit(&d->lines[k], &u, &s);
			if (strcmp(u, u0))
				fail_msg("plot %s: line %zu is in '%s', the plot in '%s'", d->id, k, u, u0);
			assert_int_equal(metric_def(d->lines[k].m)->type == MT_HISTOGRAM, hist);
			assert_int_equal(metric_def(d->lines[k].m)->scope, MS_SAMPLE);
		}
		for (int t = 0; t < 2; t++) {
			if (d->thresh[t] < 0)
				continue;
			struct hplot hp = { .def = d, .unit = u0, .scale = s0 };
			double w, c;
			if (!history_thresh_in_unit(&hp, d->thresh[t], &w, &c))
				fail_msg("plot %s: threshold %s cannot be drawn in '%s'", d->id, thresholds[d->thresh[t]].name, u0);
		}
		for (size_t q = 0; q < p; q++)
			assert_string_not_equal(history_plots[q].id, d->id);
	}
}

/* A burst of steal on vCPU 1: in its plot at the right seconds, crit in the timeline only around it. */
static void test_steal_burst(void **state)
{
	(void)state;
	struct stream st;
	stream_init(&st);
	struct engine *e = continuous(&st);
	struct history h;
	history_init(&h);
	for (int i = 0; i < 300; i++) {
		unsigned steal[NCPU] = { 2, i >= 100 && i < 130 ? 30 : 2 };
		step(&st, e, &h, steal, 3);
	}
	history_finish(&h, e);
	assert_int_equal(h.nsamples, 300);
	assert_int_equal(h.width, NS_PER_S); /* 300 s fit in 1 s buckets */
	const struct hplot *sp = plot(&h, "steal");
	const struct hline *v1 = line(sp, "vCPU 1"), *v0 = line(sp, "vCPU 0");
	assert_true(fabs(v1->peak - 30) < 1e-6);
	assert_true(fabs(v0->peak - 2) < 1e-6);
	/* sample i is at REAL0 + T0 + i s; window [i-1, i] carries sample i's ticks */
	double at = (double)(v1->peak_at - (REAL0 + T0)) / 1e9;
	assert_true(at >= 99 && at <= 130);
	/* each window once: 299 windows, not one per sample and window */
	assert_int_equal(v1->n, 299);
	/* in its buckets: 30 % inside the burst, 2 % well outside */
	for (size_t i = 0; i < h.nb; i++) {
		double lo, mean, hi, s = (double)(history_bucket_t(&h, i) - (REAL0 + T0)) / 1e9;
		if (!history_value(sp, v1, i, 0, &lo, &mean, &hi))
			continue;
		if (s >= 101 && s < 129)
			assert_true(fabs(mean - 30) < 1e-6);
		if (s < 98 || s > 132)
			assert_true(fabs(mean - 2) < 1e-6);
	}
	/* the timeline: crit only from the burst on (the rule counts 3 windows >= 20 %), never before */
	size_t r = rule_index(&h, "vcpu-oversubscription");
	struct hspan spans[64];
	size_t n = history_spans(&h, r, spans, 64);
	assert_true(n > 0 && n < 64);
	bool crit = false;
	for (size_t k = 0; k < n; k++) {
		if (spans[k].sev != SEV_CRIT)
			continue;
		crit = true;
		double from = (double)(spans[k].from - (REAL0 + T0)) / 1e9, to = (double)(spans[k].to - (REAL0 + T0)) / 1e9;
		assert_true(from >= 100 && from <= 105);
		/* judged over 60 s: crit until the burst's windows leave it (plus a step) */
		assert_true(to >= 130 && to <= 130 + 60 + 12);
	}
	assert_true(crit);
	assert_int_equal(h.f[r].worst, SEV_CRIT);
	assert_true(h.f[r].secs[SEV_CRIT] >= 30 && h.f[r].secs[SEV_CRIT] <= 90);
	/* the PSI counter as a rate: 3 % throughout */
	const struct hline *psi = line(plot(&h, "psi"), "cpu some");
	assert_true(fabs(psi->sum / (double)psi->n - 3) < 1e-6);
	/* and the periods: one, crit, around the burst */
	struct hperiod per[8];
	size_t np = history_periods(&h, per, 8);
	assert_true(np >= 1);
	assert_int_equal(per[0].sev, SEV_CRIT);
	assert_int_equal(per[0].rules[0], r);
	history_done(&h);
	engine_free(e);
	sample_done(&st.statics);
}

/* Hours of input: the buckets widen, memory stays put, a 1 s burst survives as the band's top. */
static void test_bounded(void **state)
{
	(void)state;
	struct stream st;
	stream_init(&st);
	struct engine *e = continuous(&st);
	struct history h;
	history_init(&h);
	const int secs = 4 * 3600;
	for (int i = 0; i < secs; i++) {
		unsigned steal[NCPU] = { 1, i == 7777 ? 80 : 1 };
		step(&st, e, &h, steal, 0);
	}
	history_finish(&h, e);
	assert_true(h.nb <= HISTORY_MAX_BUCKETS);
	/* 4 h in at most 1200 buckets: 16 s each (the first width that fits) */
	assert_int_equal(h.width, 16 * NS_PER_S);
	const struct hplot *sp = plot(&h, "steal");
	const struct hline *v1 = line(sp, "vCPU 1");
	assert_true(fabs(v1->peak - 80) < 1e-6);
	double hi_max = 0, mean_max = 0;
	for (size_t i = 0; i < h.nb; i++) {
		double lo, mean, hi;
		if (history_value(sp, v1, i, 0, &lo, &mean, &hi)) {
			hi_max = hi > hi_max ? hi : hi_max;
			mean_max = mean > mean_max ? mean : mean_max;
			assert_true(lo >= 1 - 1e-6);
		}
	}
	assert_true(fabs(hi_max - 80) < 1e-4);
	assert_true(mean_max < 80 && mean_max > 1); /* the mean of a 16 s bucket holding one 80 % window */
	history_done(&h);
	engine_free(e);
	sample_done(&st.statics);
}

/* Quantiles of what a histogram counted in a bucket, and escaping for the page. */
static void test_quantile_and_escape(void **state)
{
	(void)state;
	struct hplot p = { .hist = true };
	struct hline l = { .nle = 3 };
	l.le[0] = 1;
	l.le[1] = 2;
	l.le[2] = 4;
	l.hc = xcalloc((size_t)HISTORY_MAX_BUCKETS * HISTORY_HIST_SLOTS, sizeof(*l.hc));
	/* 50 in (0,1], 40 in (1,2], 10 in (2,4] */
	l.hc[0] = 50;
	l.hc[1] = 40;
	l.hc[2] = 10;
	double lo, mean, hi;
	assert_true(history_value(&p, &l, 0, 0.5, &lo, &mean, &hi));
	assert_true(fabs(mean - 1.0) < 1e-9);
	assert_true(history_value(&p, &l, 0, 0.99, &lo, &mean, &hi));
	assert_true(fabs(mean - (2 + 2 * 9.0 / 10)) < 1e-9);
	assert_false(history_value(&p, &l, 1, 0.5, &lo, &mean, &hi));
	free(l.hc);

	struct strbuf b = { 0 };
	html_escape(&b, "<a href=\"x\">&'\x01\xff\xc3\xa9");
	assert_string_equal(b.s, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;??\xc3\xa9");
	sb_done(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plot_table),
		cmocka_unit_test(test_steal_burst),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_quantile_and_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
