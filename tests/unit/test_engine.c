/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The engine (src/engine/engine.c): findings over the last N seconds from
 * a stream of synthetic samples, with bounded state.  Samples are made on
 * the fly (steal per CPU per second chosen by the test), fed, and freed, so
 * hours of samples cost the test nothing but time.  Every expected value is
 * computed from the ticks the test put in.
 */
#include "harness.h"

#include <math.h>

#include "analysis/analysis.h"
#include "engine/engine.h"
#include "engine/series.h"

#define NCPU 2

struct stream {
	struct fake_cpu cpu[NCPU];
	struct sample statics;
	uint64_t t;		/* monotonic ns of the next sample */
	uint64_t psi_cpu_us;	/* PSI cpu some total */
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
	st->t = 1000 * NS_PER_S;
}

/* One second: on each CPU steal[i] of 100 ticks stolen, the rest idle; PSI cpu some psi_pct. */
static void stream_step(struct stream *st, struct engine *e, const unsigned steal[NCPU], unsigned psi_pct)
{
	for (int i = 0; i < NCPU; i++) {
		st->cpu[i].v[CT_STEAL] += steal[i];
		st->cpu[i].v[CT_IDLE] += 100 - steal[i];
	}
	st->psi_cpu_us += psi_pct * 10000ull;
	struct sample s;
	sample_init(&s);
	s.mono_ns = st->t;
	s.real_ns = 1700000000ull * NS_PER_S + st->t;
	s.slow = true;
	char *txt = fake_procstat(st->cpu, NCPU, 8, 1);
	sample_put(&s, "proc/stat", txt);
	free(txt);
	char psi[160];
	snprintf(psi, sizeof(psi), "some avg10=0.00 avg60=0.00 avg300=0.00 total=%llu\n"
				   "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
		 (unsigned long long)st->psi_cpu_us);
	sample_put(&s, "proc/pressure/cpu", psi);
	engine_feed(e, &s);
	sample_done(&s);
	st->t += NS_PER_S;
}

static const struct finding *find(const struct findings *fs, const char *id)
{
	for (size_t i = 0; i < fs->n; i++)
		if (strcmp(fs->v[i].id, id) == 0)
			return &fs->v[i];
	fail_msg("no finding %s", id);
	return NULL;
}

/* the value of evidence `metric` for cpu (-1: the one without a cpu) */
static double ev(const struct finding *f, const char *metric, int cpu)
{
	for (size_t i = 0; i < f->nev; i++)
		if (!strcmp(f->ev[i].metric, metric) && f->ev[i].cpu == cpu)
			return f->ev[i].value;
	fail_msg("%s: no evidence %s for cpu %d", f->id, metric, cpu);
	return NAN;
}

static struct engine *continuous(struct stream *st, uint64_t window_s)
{
	struct engine_opts o = { .window_ns = window_s * NS_PER_S };
	return engine_new(&st->statics, "test", &o);
}

/* A burst of steal, then quiet: the window forgets the burst once it has passed. */
static void test_window_slides(void **state)
{
	(void)state;
	struct stream st;
	stream_init(&st);
	struct engine *e = continuous(&st, 60);
	const unsigned burst[NCPU] = { 0, 50 }, quiet[NCPU] = { 0, 0 };
	for (int i = 0; i < 61; i++)
		stream_step(&st, e, burst, 0);
	struct findings fs = { 0 };
	engine_evaluate(e, &fs);
	const struct finding *f = find(&fs, "vcpu-oversubscription");
	assert_int_equal(f->sev, SEV_CRIT);
	assert_true(fabs(ev(f, "steal_pct_avg", 1) - 50) < 0.5);
	engine_release(e);
	findings_done(&fs);

	/* 30 s of quiet: the 60 s window (plus at most one step) still holds part of the burst */
	for (int i = 0; i < 30; i++)
		stream_step(&st, e, quiet, 0);
	engine_evaluate(e, &fs);
	f = find(&fs, "vcpu-oversubscription");
	double mid = ev(f, "steal_pct_avg", 1);
	assert_true(mid > 5 && mid < 50);
	const struct analysis *an = engine_acquire(e, 60 * NS_PER_S);
	double span = cpu_watch_s(&an->cpu);
	assert_true(span >= 60 && span <= 60 + (double)e->o.step_ns / NS_PER_S);
	/* what it saw is exactly the burst seconds inside its span */
	double expect = 100.0 * 50 * (span - 30) / (100 * span);
	assert_true(fabs(mid - expect) < 1.0);
	engine_release(e);
	findings_done(&fs);

	/* past window + step: only quiet seconds */
	for (int i = 0; i < 60; i++)
		stream_step(&st, e, quiet, 0);
	engine_evaluate(e, &fs);
	f = find(&fs, "vcpu-oversubscription");
	assert_int_equal(f->sev, SEV_OK);
	assert_true(ev(f, "steal_pct_avg", 1) < 0.01);
	engine_release(e);
	findings_done(&fs);
	engine_free(e);
	sample_done(&st.statics);
}

/* Hours of samples: the epochs and the bytes they hold stop growing. */
static void test_state_bounded(void **state)
{
	(void)state;
	struct stream st;
	stream_init(&st);
	struct engine *e = continuous(&st, 60);
	const unsigned steal[NCPU] = { 3, 7 };
	size_t at_10min = 0, peak = 0;
	for (int i = 0; i < 3 * 3600; i++) {
		stream_step(&st, e, steal, 2);
		size_t b = engine_state_bytes(e);
		if (b > peak)
			peak = b;
		if (i == 600)
			at_10min = b;
		assert_true(e->nep <= ENGINE_MAX_EPOCHS);
		if (i % 997 == 0) { /* evaluate now and then: it must not change what is kept */
			struct findings fs = { 0 };
			engine_evaluate(e, &fs);
			engine_release(e);
			findings_done(&fs);
		}
	}
	size_t at_3h = engine_state_bytes(e);
	printf("engine state: %zu B at 10 min, %zu B at 3 h, peak %zu B, %zu epochs\n", at_10min, at_3h, peak, e->nep);
	assert_true(at_3h <= at_10min * 5 / 4);
	assert_true(peak <= at_10min * 3 / 2);
	assert_true(e->nep >= 2 && e->nep <= 60 / (e->o.step_ns / NS_PER_S) + 2);
	engine_free(e);
	sample_done(&st.statics);
}

/* Batch mode is the plain analysis of old: same findings, same evidence. */
static void test_batch_is_plain_analysis(void **state)
{
	(void)state;
	struct stream st;
	stream_init(&st);
	struct engine_opts o = { 0 };
	struct engine *e = engine_new(&st.statics, "test", &o);
	struct analysis an;
	analysis_init(&an, &st.statics, "test");
	/* feed both from identical samples */
	for (int i = 0; i < 40; i++) {
		unsigned steal[NCPU] = { (unsigned)(i % 7), (unsigned)(i * 13 % 60) };
		for (int c = 0; c < NCPU; c++) {
			st.cpu[c].v[CT_STEAL] += steal[c];
			st.cpu[c].v[CT_IDLE] += 100 - steal[c];
		}
		struct sample s;
		sample_init(&s);
		s.mono_ns = st.t;
		s.slow = true;
		char *txt = fake_procstat(st.cpu, NCPU, 8, 1);
		sample_put(&s, "proc/stat", txt);
		free(txt);
		engine_feed(e, &s);
		analysis_feed(&an, &s);
		sample_done(&s);
		st.t += NS_PER_S;
	}
	struct findings a = { 0 }, b = { 0 };
	engine_evaluate(e, &a);
	analysis_finish(&an);
	rules_evaluate(&an, &b);
	assert_int_equal(a.n, b.n);
	for (size_t i = 0; i < a.n; i++) {
		assert_string_equal(a.v[i].id, b.v[i].id);
		assert_int_equal(a.v[i].sev, b.v[i].sev);
		assert_string_equal(a.v[i].title, b.v[i].title);
		assert_int_equal(a.v[i].nev, b.v[i].nev);
		for (size_t k = 0; k < a.v[i].nev; k++)
			assert_true(a.v[i].ev[k].value == b.v[i].ev[k].value);
	}
	engine_release(e);
	findings_done(&a);
	findings_done(&b);
	analysis_done(&an);
	engine_free(e);
	sample_done(&st.statics);
}

/* Evaluating mid-stream and going on gives what one evaluation at the end gives. */
static void test_evaluate_then_continue(void **state)
{
	(void)state;
	struct stream s1, s2;
	stream_init(&s1);
	stream_init(&s2);
	struct engine *e1 = continuous(&s1, 30), *e2 = continuous(&s2, 30);
	for (int i = 0; i < 95; i++) {
		/* a partial window at every evaluation: times not on whole seconds */
		unsigned steal[NCPU] = { (unsigned)(i * 7 % 40), (unsigned)(i * 3 % 25) };
		stream_step(&s1, e1, steal, (unsigned)(i % 30));
		stream_step(&s2, e2, steal, (unsigned)(i % 30));
		s1.t += 137 * NS_PER_MS;
		s2.t += 137 * NS_PER_MS;
		struct findings fs = { 0 };
		engine_evaluate(e1, &fs);
		engine_release(e1);
		findings_done(&fs);
	}
	struct findings a = { 0 }, b = { 0 };
	engine_evaluate(e1, &a);
	engine_evaluate(e2, &b);
	for (size_t i = 0; i < a.n; i++) {
		assert_string_equal(a.v[i].title, b.v[i].title);
		assert_int_equal(a.v[i].nev, b.v[i].nev);
		for (size_t k = 0; k < a.v[i].nev; k++)
			assert_true(a.v[i].ev[k].value == b.v[i].ev[k].value);
	}
	engine_release(e1);
	engine_release(e2);
	findings_done(&a);
	findings_done(&b);
	engine_free(e1);
	engine_free(e2);
	sample_done(&s1.statics);
	sample_done(&s2.statics);
}

/* Counters going backwards (a reset) cost an interval, never a negative or huge figure. */
static void test_counter_reset(void **state)
{
	(void)state;
	struct stream st;
	stream_init(&st);
	struct engine *e = continuous(&st, 60);
	const unsigned steal[NCPU] = { 10, 30 };
	for (int i = 0; i < 40; i++)
		stream_step(&st, e, steal, 0);
	for (int c = 0; c < NCPU; c++)
		memset(st.cpu[c].v, 0, sizeof(st.cpu[c].v));
	for (int i = 0; i < 40; i++)
		stream_step(&st, e, steal, 0);
	struct findings fs = { 0 };
	engine_evaluate(e, &fs);
	const struct finding *f = find(&fs, "vcpu-oversubscription");
	assert_true(fabs(ev(f, "steal_pct_avg", 0) - 10) < 0.5);
	assert_true(fabs(ev(f, "steal_pct_avg", 1) - 30) < 0.5);
	engine_release(e);
	findings_done(&fs);
	engine_free(e);
	sample_done(&st.statics);
}

/* A CPU that goes offline between windows and comes back. */
static void test_cpu_offline(void **state)
{
	(void)state;
	struct stream st;
	stream_init(&st);
	struct engine *e = continuous(&st, 60);
	const unsigned steal[NCPU] = { 20, 40 };
	for (int i = 0; i < 30; i++)
		stream_step(&st, e, steal, 0);
	st.cpu[1].online = false;
	for (int i = 0; i < 20; i++)
		stream_step(&st, e, steal, 0);
	st.cpu[1].online = true;
	for (int i = 0; i < 20; i++)
		stream_step(&st, e, steal, 0);
	struct findings fs = { 0 };
	engine_evaluate(e, &fs);
	const struct finding *f = find(&fs, "vcpu-oversubscription");
	assert_true(fabs(ev(f, "steal_pct_avg", 0) - 20) < 0.5);
	/* cpu1's own figure covers only its online intervals: still 40 % */
	assert_true(fabs(ev(f, "steal_pct_avg", 1) - 40) < 1.0);
	engine_release(e);
	findings_done(&fs);
	engine_free(e);
	sample_done(&st.statics);
}

/* A gap longer than the window starts the counting again. */
static void test_gap_restarts(void **state)
{
	(void)state;
	struct stream st;
	stream_init(&st);
	struct engine *e = continuous(&st, 60);
	const unsigned high[NCPU] = { 60, 60 }, low[NCPU] = { 1, 1 };
	for (int i = 0; i < 50; i++)
		stream_step(&st, e, high, 0);
	st.t += 600 * NS_PER_S; /* ten minutes without a sample */
	for (int i = 0; i < 20; i++)
		stream_step(&st, e, low, 0);
	assert_int_equal(e->restarts, 1);
	struct findings fs = { 0 };
	engine_evaluate(e, &fs);
	const struct finding *f = find(&fs, "vcpu-oversubscription");
	/* only the 20 low seconds after the gap (the first of them is the baseline) */
	assert_true(ev(f, "steal_pct_avg", -1) < 2);
	const struct analysis *an = engine_acquire(e, 0);
	assert_true(cpu_watch_s(&an->cpu) < 20);
	engine_release(e);
	findings_done(&fs);
	/* and time going backwards does the same */
	st.t -= 3600 * NS_PER_S;
	for (int i = 0; i < 5; i++)
		stream_step(&st, e, low, 0);
	assert_int_equal(e->restarts, 2);
	engine_free(e);
	sample_done(&st.statics);
}

/* Each rule's own window (rules.def), and the epoch span a rule is judged over. */
static void test_rule_windows(void **state)
{
	(void)state;
	struct stream st;
	stream_init(&st);
	struct engine_opts o = { .rule_windows = true };
	struct engine *e = engine_new(&st.statics, "test", &o);
	for (size_t i = 0; i < rules_count(); i++)
		assert_int_equal(engine_rule_window_ns(e, i), (uint64_t)rules_info(i)->window_s * NS_PER_S);
	const unsigned steal[NCPU] = { 0, 0 };
	for (int i = 0; i < 200; i++)
		stream_step(&st, e, steal, 0);
	const struct analysis *an = engine_acquire(e, 60 * NS_PER_S);
	double span = cpu_watch_s(&an->cpu);
	assert_true(span >= 60 && span < 60 + (double)e->o.step_ns / NS_PER_S + 1);
	engine_release(e);
	engine_free(e);
	sample_done(&st.statics);
}

struct seen {
	double steal_total[NCPU];
	uint64_t win_count[NCPU], win_le20[NCPU], win_le30[NCPU];
	double win_sum[NCPU];
	unsigned psi_points, samples_points;
	double samples;
	double last_win[NCPU];
	uint64_t last_win_start[NCPU], last_win_end[NCPU];
};

static void collect(const struct series_point *p, void *arg)
{
	struct seen *s = arg;
	int cpu = -1;
	for (unsigned i = 0; i < p->nlabels; i++)
		if (p->labels[i].key == LBL_CPU)
			cpu = atoi(p->labels[i].value);
	if (p->id == M_STEAL_SECONDS_TOTAL && cpu >= 0 && cpu < NCPU)
		s->steal_total[cpu] = p->value;
	if (p->id == M_STEAL_WINDOW_RATIO && cpu >= 0 && cpu < NCPU) {
		s->win_count[cpu] = p->count;
		s->win_sum[cpu] = p->sum;
		for (size_t k = 0; k < p->nbuckets; k++) {
			if (fabs(p->le[k] - 0.2) < 1e-9)
				s->win_le20[cpu] = p->bucket[k];
			if (fabs(p->le[k] - 0.3) < 1e-9)
				s->win_le30[cpu] = p->bucket[k];
		}
	}
	if (p->id == M_PSI_STALLED_SECONDS_TOTAL)
		s->psi_points++;
	if (p->id == M_STEAL_LAST_WINDOW && cpu >= 0 && cpu < NCPU) {
		s->last_win[cpu] = p->value;
		s->last_win_start[cpu] = p->start_ns;
		s->last_win_end[cpu] = p->end_ns;
	}
	if (p->id == M_SAMPLES_TOTAL) {
		s->samples_points++;
		s->samples = p->value;
	}
}

/* The current series: counters as of the last sample, and every 1 s steal
 * window counted once in its histogram however the epochs come and go. */
static void test_series(void **state)
{
	(void)state;
	struct stream st;
	stream_init(&st);
	struct engine *e = continuous(&st, 30);
	const unsigned steal[NCPU] = { 5, 25 };
	for (int i = 0; i < 301; i++)
		stream_step(&st, e, steal, 3);
	struct seen s = { 0 };
	engine_series(e, collect, &s);
	assert_true(fabs(s.steal_total[0] - 301 * 5 / 100.0) < 1e-9);
	assert_true(fabs(s.steal_total[1] - 301 * 25 / 100.0) < 1e-9);
	/* 300 intervals of 1 s: 300 windows (the last may still be open) */
	assert_true(s.win_count[1] >= 299 && s.win_count[1] <= 300);
	assert_int_equal(s.win_le20[1], 0);
	assert_int_equal(s.win_le30[1], s.win_count[1]);
	assert_int_equal(s.win_le20[0], s.win_count[0]);
	assert_true(fabs(s.win_sum[1] / (double)s.win_count[1] - 0.25) < 1e-6);
	assert_int_equal(s.psi_points, 2); /* cpu some and full */
	assert_int_equal(s.samples_points, 1);
	assert_true(s.samples == 301);
	/* the newest closed 1 s window, with its bounds: the last second fed */
	assert_true(fabs(s.last_win[0] - 0.05) < 1e-9 && fabs(s.last_win[1] - 0.25) < 1e-9);
	for (int c = 0; c < NCPU; c++) {
		assert_int_equal(s.last_win_end[c] - s.last_win_start[c], NS_PER_S);
		assert_int_equal(s.last_win_end[c], st.t - NS_PER_S);
	}
	engine_free(e);
	sample_done(&st.statics);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_slides),	     cmocka_unit_test(test_state_bounded),
		cmocka_unit_test(test_batch_is_plain_analysis), cmocka_unit_test(test_evaluate_then_continue),
		cmocka_unit_test(test_counter_reset),	     cmocka_unit_test(test_cpu_offline),
		cmocka_unit_test(test_gap_restarts),	     cmocka_unit_test(test_rule_windows),
		cmocka_unit_test(test_series),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
