/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The simulator (src/sim): distributions and scenario files, the event
 * queue against a plain sorted reference, queueing stations against their
 * closed forms, the host scheduler against fair sharing, pre-copy migration
 * against its geometric series, determinism, and the guest view's files.
 *
 * Every expected value is computed here from a formula, never taken from a
 * run.  Tolerances: 2 % at 10^6 measured customers (after 20 000 warm-up
 * customers) where the queue is at most 70 % busy; near saturation and for
 * tail quantiles of multi-server queues the estimates converge slower, and
 * the looser tolerance is stated at the check.
 */
#include "harness.h"

#include <math.h>

#include "sim/internal.h"
#include "sim/sim.h"

static struct sim_result *run_text(const char *text)
{
	struct sim_scenario sc;
	struct sim_error e = { 0 };
	int r = sim_scenario_parse(text, &sc, &e);
	if (r < 0)
		fail_msg("scenario: line %d: %s", e.line, e.msg);
	struct sim_result *res = NULL;
	char *why = NULL;
	assert_int_equal(sim_run(&sc, NULL, &res, &why), 0);
	sim_scenario_free(&sc);
	return res;
}

static void near(double got, double want, double pct, const char *what)
{
	double err = fabs(got - want) / fabs(want) * 100;
	if (err > pct)
		fail_msg("%s: %g, expected %g (%.2f %% off, tolerance %.1f %%)", what, got, want, err, pct);
}

static const struct sim_station_result *station(const struct sim_result *r, const char *name)
{
	for (unsigned i = 0; i < r->nst; i++)
		if (!strcmp(r->st[i].name, name))
			return &r->st[i];
	fail_msg("no station %s", name);
	return NULL;
}

/* ---------------- distributions ---------------- */

static void test_dist(void **state)
{
	(void)state;
	struct dist d = { 0 };
	const char *why;
	assert_int_equal(dist_parse("exp(0.8)", &d, &why), 0);
	near(dist_mean(&d), 1.25, 1e-9, "exp mean");
	near(dist_m2(&d), 2 * 1.25 * 1.25, 1e-9, "exp m2");
	assert_int_equal(dist_parse("det(2ms)", &d, &why), 0);
	near(dist_mean(&d), 0.002, 1e-9, "det mean");
	assert_int_equal(dist_parse("erlang(4, 8)", &d, &why), 0);
	near(dist_mean(&d), 0.5, 1e-9, "erlang mean");
	near(dist_m2(&d), 4.0 * 5 / 64, 1e-9, "erlang m2");
	assert_int_equal(dist_parse("hyperexp(0.3,0.5,1.5)", &d, &why), 0);
	near(dist_mean(&d), 0.3 / 0.5 + 0.7 / 1.5, 1e-9, "hyperexp mean");
	assert_int_equal(dist_parse("uniform(1ms,3ms)", &d, &why), 0);
	near(dist_mean(&d), 0.002, 1e-9, "uniform mean");
	assert_int_equal(dist_parse("lognormal(10ms,0.5)", &d, &why), 0);
	near(dist_mean(&d), 0.01, 1e-9, "lognormal mean");
	assert_int_equal(dist_parse("exp(800k)", &d, &why), 0);
	near(dist_mean(&d), 1 / 8e5, 1e-9, "k suffix");
	/* a bare number keeps the shape and sets the rate */
	assert_int_equal(dist_parse("erlang(2,4)", &d, &why), 0);
	assert_int_equal(dist_parse("5", &d, &why), 0);
	assert_int_equal(d.kind, DIST_ERLANG);
	near(dist_mean(&d), 0.2, 1e-9, "erlang by rate");
	struct dist e = { 0 };
	assert_int_equal(dist_parse("3", &e, &why), 0);
	assert_int_equal(e.kind, DIST_EXP);
	static const char *const bad[] = { "", "exp", "exp()", "exp(0)", "exp(-1)", "exp(1,2)", "det(-1s)", "det(1x)",
					   "erlang(0,1)", "erlang(1.5,1)", "hyperexp(2,1,1)", "uniform(3,1)", "exp(nan)",
					   "exp(inf)", "exp(1e999)", "exp((1))", "gamma(1)", "exp(0x10)", "-4", "0" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct dist x = { 0 };
		why = NULL;
		if (dist_parse(bad[i], &x, &why) == 0)
			fail_msg("'%s' parsed", bad[i]);
		assert_non_null(why);
	}
	/* the sample means converge to the means (10^6 draws: well within 1 %) */
	static const char *const forms[] = { "exp(2)", "erlang(3,6)", "hyperexp(0.2,0.4,2)", "uniform(0,1s)",
					     "lognormal(500ms,0.8)", "det(0.5)" };
	for (size_t i = 0; i < ARRAY_SIZE(forms); i++) {
		struct dist x = { 0 };
		assert_int_equal(dist_parse(forms[i], &x, &why), 0);
		struct rng r;
		rng_seed(&r, 7, i);
		double s = 0, s2 = 0;
		for (int k = 0; k < 1000000; k++) {
			double v = dist_sample(&x, &r);
			assert_true(v >= 0);
			s += v;
			s2 += v * v;
		}
		near(s / 1e6, dist_mean(&x), 1, forms[i]);
		near(s2 / 1e6, dist_m2(&x), 3, forms[i]);
	}
}

/* the ziggurat's exponentials: mean, variance and the tail */
static void test_ziggurat(void **state)
{
	(void)state;
	struct rng r;
	rng_seed(&r, 3, 3);
	double s = 0, s2 = 0;
	unsigned above3 = 0, above8 = 0;
	const int n = 4000000;
	for (int i = 0; i < n; i++) {
		double x = rng_exp1(&r);
		s += x;
		s2 += x * x;
		above3 += x > 3;
		above8 += x > 8;
	}
	near(s / n, 1, 0.2, "exp mean");
	near(s2 / n, 2, 0.6, "exp second moment");
	near((double)above3 / n, exp(-3), 2, "P(X > 3)");
	near((double)above8 / n, exp(-8), 15, "P(X > 8): beyond the ziggurat's base, 1300 draws");
}

/* ---------------- the event queue ---------------- */

/* random sets, moves and cancels against a plain array; pops must come in (time, slot) order */
static void test_queue_order(void **state)
{
	(void)state;
	enum { N = 3000 };
	struct theap th;
	th_init(&th, N);
	double *t = xcalloc(N, sizeof(double));
	bool *on = xcalloc(N, sizeof(bool));
	struct rng r;
	rng_seed(&r, 11, 1);
	double now = 0;
	uint64_t pops = 0;
	for (int step = 0; step < 600000; step++) {
		uint32_t s = rng_below(&r, N);
		double u = rng_u01(&r);
		if (u < 0.1) {
			th_cancel(&th, s);
			on[s] = false;
		} else if (u < 0.55) {
			/* near and far events, ties on purpose (coarse times) */
			double dt = u < 0.3 ? floor(rng_exp(&r, 1e5) * 1e7) / 1e7 : rng_exp(&r, 10);
			if (u > 0.5)
				dt = 1000 + rng_u01(&r) * 1e4; /* beyond the wheel: the overflow */
			t[s] = now + dt;
			on[s] = true;
			th_set(&th, s, t[s]);
		} else {
			bool any = false;
			for (uint32_t k = 0; k < N && !any; k++)
				any = on[k];
			assert_int_equal(!th_empty(&th), any);
			if (!any)
				continue;
			struct hent top = th_top(&th);
			/* the reference: the smallest (time, slot) */
			uint32_t best = UINT32_MAX;
			for (uint32_t k = 0; k < N; k++)
				if (on[k] && (best == UINT32_MAX || t[k] < t[best] || (t[k] == t[best] && k < best)))
					best = k;
			if (top.slot != best || top.t != t[best])
				fail_msg("step %d: popped slot %u at %.9f, expected %u at %.9f", step, top.slot, top.t, best,
					 t[best]);
			assert_true(top.t >= now);
			now = top.t;
			th_cancel(&th, top.slot);
			on[top.slot] = false;
			pops++;
		}
	}
	assert_true(pops > 100000);
	th_done(&th);
	free(t);
	free(on);
}

/* ---------------- histograms ---------------- */

static void test_histogram(void **state)
{
	(void)state;
	struct shist h = { 0 };
	/* uniform 1..100000 us: quantiles within the bucket width (0.8 %) */
	for (int i = 1; i <= 100000; i++)
		shist_add(&h, i * 1e-6);
	near(shist_quantile(&h, 0.5), 0.05, 0.5, "p50");
	near(shist_quantile(&h, 0.99), 0.099, 0.5, "p99");
	near(h.sum / (double)h.n, 0.0500005, 1e-6, "mean (exact)");
	assert_true(shist_quantile(&h, 1.0) <= h.max);
	shist_reset(&h);
	assert_int_equal(h.n, 0);
	shist_add(&h, 0);
	shist_add(&h, 3600);
	assert_true(shist_quantile(&h, 0.5) == 0);
	shist_free(&h);
}

/* ---------------- queueing stations against their closed forms ---------------- */

static double erlang_c(unsigned c, double a)
{
	double s = 0, term = 1;
	for (unsigned k = 0; k < c; k++) {
		if (k)
			term *= a / k;
		s += term;
	}
	double last = term * a / c * c / (c - a);
	return last / (s + last);
}

static void test_queues(void **state)
{
	(void)state;
	struct sim_result *r = run_text("[sim]\nseed = 1\ncustomers = 1000000\nwarmup = 20000\n"
					"[station mm1]\narrival = exp(0.5)\nservice = exp(1)\n"
					"[station mmc]\narrival = exp(2.1)\nservice = exp(1)\nservers = 3\n"
					"[station md1]\narrival = exp(0.7)\nservice = det(1)\n"
					"[station me21]\narrival = exp(0.6)\nservice = erlang(2,2)\n"
					"[station mh21]\narrival = exp(0.5)\nservice = hyperexp(0.25,0.5,1.5)\n"
					"[station ps]\narrival = exp(0.7)\nservice = erlang(2,2)\ndiscipline = ps\n");
	/* M/M/1, rho 0.5: W ~ rho exp(-(mu - lambda) t) */
	const struct sim_station_result *s = station(r, "mm1");
	assert_int_equal(s->served, 1000000);
	double l = 0.5, m = 1, rho = l / m;
	near(s->wait.mean, rho / (m - l), 2, "M/M/1 mean wait");
	near(s->p_wait, rho, 2, "M/M/1 P(wait)");
	near(s->wait.p99, log(rho / 0.01) / (m - l), 2, "M/M/1 p99 wait");
	near(s->response.mean, 1 / (m - l), 2, "M/M/1 mean response");
	near(s->response.p99, log(100) / (m - l), 2, "M/M/1 p99 response");
	near(s->utilization, rho, 2, "M/M/1 utilization");
	/* M/M/3, rho 0.7: Erlang C */
	s = station(r, "mmc");
	double C = erlang_c(3, 2.1);
	near(s->p_wait, C, 2, "M/M/3 P(wait) (Erlang C)");
	near(s->wait.mean, C / (3 - 2.1), 2, "M/M/3 mean wait");
	/* a multi-server queue's tail quantile converges slower: 4 % */
	near(s->wait.p99, log(C / 0.01) / (3 - 2.1), 4, "M/M/3 p99 wait");
	/* Pollaczek-Khinchine: W = lambda E[S^2] / (2 (1 - rho)) */
	s = station(r, "md1");
	near(s->wait.mean, 0.7 * 1 / (2 * (1 - 0.7)), 2, "M/D/1 mean wait");
	s = station(r, "me21");
	near(s->wait.mean, 0.6 * (2.0 * 3 / 4) / (2 * (1 - 0.6)), 2, "M/E2/1 mean wait");
	s = station(r, "mh21");
	double ES = 0.25 / 0.5 + 0.75 / 1.5, ES2 = 2 * 0.25 / 0.25 + 2 * 0.75 / 2.25;
	near(s->wait.mean, 0.5 * ES2 / (2 * (1 - 0.5 * ES)), 2, "M/H2/1 mean wait");
	/* processor sharing: E[T] = E[S] / (1 - rho), whatever the service distribution */
	s = station(r, "ps");
	near(s->response.mean, 1 / (1 - 0.7), 2, "M/E2/1-PS mean response");
	sim_result_free(r);
}

static void test_queues_near_saturation(void **state)
{
	(void)state;
	struct sim_result *r = run_text("[sim]\nseed = 1\ncustomers = 1000000\nwarmup = 20000\n"
					"[station sat]\narrival = exp(0.9)\nservice = exp(1)\n"
					"[station k10]\narrival = exp(0.9)\nservice = exp(1)\ncapacity = 10\n");
	/* rho 0.9: the relaxation time is 100 service times, so 10^6 customers are ~10^4 independent
	 * stretches: 5 % on the mean, 8 % on the p99 */
	const struct sim_station_result *s = station(r, "sat");
	near(s->wait.mean, 0.9 / 0.1, 5, "M/M/1 (rho 0.9) mean wait");
	near(s->wait.p99, log(0.9 / 0.01) / 0.1, 8, "M/M/1 (rho 0.9) p99 wait");
	/* M/M/1/K: P(block) = (1 - rho) rho^K / (1 - rho^(K+1)), rho 0.9: 5 % */
	s = station(r, "k10");
	double rho = 0.9, pk = (1 - rho) * pow(rho, 10) / (1 - pow(rho, 11));
	near((double)s->dropped / (double)s->arrived, pk, 5, "M/M/1/10 blocking");
	sim_result_free(r);
}

/* ---------------- the host scheduler ---------------- */

/* N vCPUs that always want to run on P < N CPUs share them fairly: each is stolen 1 - P/N */
static void test_fair_share(void **state)
{
	(void)state;
	struct sim_result *r = run_text("[sim]\nduration = 60s\nwarmup = 5s\n[host]\ncpus = 4\n"
					"[vm hog]\ncount = 3\nvcpus = 4\nworkload = cpu\nload = 1\n");
	assert_int_equal(r->nvm, 3);
	for (unsigned i = 0; i < r->nvm; i++)
		for (unsigned j = 0; j < r->vm[i].vcpus; j++) {
			const struct sim_vcpu_result *v = &r->vm[i].vcpu[j];
			near(v->steal_pct, 100.0 * (1 - 4.0 / 12), 3, "steal of an always-runnable vCPU");
			near(v->busy_pct + v->steal_pct, 100, 0.5, "busy + steal of a vCPU that never sleeps");
		}
	near(r->cpu_util, 1, 0.5, "CPUs busy");
	/* on average 8 of the 12 wait, spread over 4 CPUs */
	near(r->runq, 2, 3, "run queue per CPU");
	sim_result_free(r);
	/* pinned: two VMs on the same two CPUs, a third alone on its own */
	r = run_text("[sim]\nduration = 30s\nwarmup = 2s\n[host]\ncpus = 4\n"
		     "[vm a]\nvcpus = 2\npin = 0-1\nworkload = cpu\n[vm b]\nvcpus = 2\npin = 0-1\nworkload = cpu\n"
		     "[vm c]\nvcpus = 2\npin = 2-3\nworkload = cpu\n");
	near(r->vm[0].steal_avg_pct, 50, 3, "a shares its two CPUs with b");
	near(r->vm[1].steal_avg_pct, 50, 3, "b shares its two CPUs with a");
	assert_true(r->vm[2].steal_avg_pct < 0.01);
	sim_result_free(r);
}

/* NUMA: work stretches by 1 + mem_share * remote * (remote_ns / local_ns - 1) */
static void test_numa_cost(void **state)
{
	(void)state;
	struct sim_result *r = run_text("[sim]\nduration = 20s\n[host]\ncpus = 8\nnodes = 2\nlocal_ns = 90\nremote_ns = 150\n"
					"[vm far]\nvcpus = 2\npin = 0-1\nmem_nodes = 1\nworkload = cpu\nmem_share = 0.4\n"
					"[vm near]\nvcpus = 2\npin = 2-3\nworkload = cpu\nmem_share = 0.4\n"
					"[vm set]\nvcpus = 2\npin = 4-5\nworkload = cpu\nmem_share = 0.4\nremote_share = 0.25\n");
	near(r->vm[0].remote_pct, 100, 1e-6, "memory on the other node: every access remote");
	near(r->vm[0].slowdown, 1 + 0.4 * (150.0 / 90 - 1), 1e-6, "remote stretch");
	near(r->vm[0].work_rate, 2 / (1 + 0.4 * (150.0 / 90 - 1)), 0.5, "work done at the stretched speed");
	assert_true(r->vm[1].remote_pct < 1e-9);
	near(r->vm[1].slowdown, 1, 1e-6, "local: no stretch");
	near(r->vm[2].remote_pct, 25, 1e-6, "remote_share as given");
	near(r->vm[2].slowdown, 1 + 0.4 * 0.25 * (150.0 / 90 - 1), 1e-6, "a quarter remote");
	sim_result_free(r);
}

/* requests on an idle host: M/M/c with c = vCPUs, no steal */
static void test_vm_as_mmc(void **state)
{
	(void)state;
	struct sim_result *r = run_text("[sim]\nduration = 850s\nwarmup = 10s\n[host]\ncpus = 8\n"
					"[vm web]\nvcpus = 2\nworkload = requests\narrival = exp(1200)\nservice = exp(1000)\n"
					"mem_share = 0\n");
	/* 10^6 requests on an otherwise idle host: rho 0.6, W in ms */
	assert_true(r->vm[0].served > 990000);
	double C = erlang_c(2, 1.2);
	double W = (C / (2 - 1.2) + 1) / 1000;
	near(r->vm[0].latency.mean, W, 2, "VM requests as M/M/2 (mean response)");
	assert_true(r->vm[0].steal_avg_pct < 0.01);
	sim_result_free(r);
}

/* ---------------- migration ---------------- */

static void test_migration(void **state)
{
	(void)state;
	struct sim_result *r = run_text("[sim]\nduration = 3000s\n"
					"[migration geo]\nmemory = 64G\ndirty_rate = 500M\nbandwidth = 10Gbit\ndowntime = 300ms\n"
					"[migration hot]\nmemory = 16G\ndirty_rate = 1250M\nbandwidth = 1250M\nmax_rounds = 12\n"
					"[migration ac]\nmemory = 16G\nwws = 8G\ndirty_rate = 2500M\nbandwidth = 1250M\n"
					"auto_converge = yes\nmax_rounds = 100\n"
					"[migration pc]\nmemory = 16G\ndirty_rate = 2500M\nbandwidth = 1250M\npostcopy_after = 3\n"
					"switchover = 20ms\n");
	/* the geometric series: round k sends M r^k, r = D/B; stop when M r^n / B <= T */
	const struct sim_mig_result *g = &r->mig[0];
	double M = 64.0 * (1 << 30), D = 500.0 * (1 << 20), B = 1.25e9, T = 0.3, q = D / B;
	unsigned n = 0;
	while (M * pow(q, n + 1) / B > T)
		n++;
	n++; /* rounds including the first, whole copy */
	assert_true(g->converged && g->finished);
	assert_int_equal(g->rounds, n);
	near(g->total_time, M / B * (1 - pow(q, n + 1)) / (1 - q), 1e-6, "pre-copy total time");
	near(g->downtime, M * pow(q, n) / B, 1e-6, "pre-copy downtime");
	near(g->transferred, M * (1 - pow(q, n + 1)) / (1 - q), 1e-6, "pre-copy bytes sent");
	for (unsigned k = 0; k < g->nr; k++)
		near(g->r[k].sent, M * pow(q, k), 1e-6, "round k sends M r^k");
	/* dirty rate = bandwidth: never converges; gives up after max_rounds */
	g = &r->mig[1];
	assert_true(g->finished && !g->converged && !g->postcopy);
	assert_int_equal(g->rounds, 12);
	/* auto-converge: QEMU's rule (dirtied > 50 % of sent, twice) steps 20, 30, 40 ... until it fits */
	g = &r->mig[2];
	assert_true(g->converged);
	assert_true(g->throttle_steps >= 2);
	double expect = 0;
	unsigned high = 0, steps = 0;
	for (unsigned k = 0; k < g->nr; k++) {
		near(g->r[k].throttle_pct + 1, expect + 1, 1e-6, "throttle of round k");
		if (k + 1 >= 2 && g->r[k].dirtied > 0.5 * g->r[k].sent && ++high >= 2) {
			high = 0;
			expect = expect == 0 ? 20 : fmin(99, expect + 10);
			steps++;
		}
		/* a throttled guest dirties (1 - throttle) of the rate: distinct pages of an 8G set */
		double d = 2500.0 * (1 << 20) * (1 - g->r[k].throttle_pct / 100);
		double W = 8.0 * (1 << 30);
		near(g->r[k].dirtied, W * (1 - exp(-d * g->r[k].duration / W)), 1e-6, "pages dirtied in round k");
	}
	/* the last round converged: no step counted after it */
	assert_true(steps >= g->throttle_steps);
	/* post-copy after 3 rounds: downtime is the switch, the rest follows at the bandwidth */
	g = &r->mig[3];
	assert_true(g->postcopy && g->finished);
	assert_int_equal(g->rounds, 3);
	near(g->downtime, 0.02, 1e-6, "post-copy downtime");
	near(g->postcopy_time, 16.0 * (1 << 30) / (1250.0 * (1 << 20)), 1e-6,
	     "post-copy: the dirty set (all 16G at twice the bandwidth) at the bandwidth (1250M: binary)");
	sim_result_free(r);
}

/* ---------------- scenario files ---------------- */

static void expect_error(const char *text, int line, const char *needle)
{
	struct sim_scenario sc;
	struct sim_error e = { 0 };
	if (sim_scenario_parse(text, &sc, &e) == 0)
		fail_msg("parsed: %s", text);
	if (e.line != line || !strstr(e.msg, needle))
		fail_msg("line %d '%s', expected line %d with '%s'", e.line, e.msg, line, needle);
	free(e.msg);
}

static void test_scenario_errors(void **state)
{
	(void)state;
	expect_error("[sim]\nduration = 10s\n[station a]\narrival = exp(1)\nservice = bogus(1)\n", 5, "unknown distribution");
	expect_error("[sim]\ncustomers = 10\n[station a]\narrival = exp(1)\nservce = exp(2)\n", 5, "did you mean 'service'");
	expect_error("[sim]\nduration = 5s\n[host]\ncpus = 2\n[vm a]\nzzzzzz = 1\n", 6, "hiddenq(1)");
	expect_error("[sim]\nduration = 5s\n[bundle]\nviw = host\n", 4, "did you mean 'view'");
	expect_error("[sim]\nduration = 10s\n[stations a]\narrival = exp(1)\n", 4, "not known");
	expect_error("[sim]\nduration = 10s\n[station]\narrival = exp(1)\n", 4, "needs a name");
	expect_error("[sim]\nduration = 10s\n\n[host]\ncpus = 4\n[vm a]\npin = 0-7\n", 6, "the host has 4 CPUs");
	expect_error("duration = 5s\n", 1, "before any section");
	expect_error("[sim]\nduration = forever\n", 2, "a time");
	expect_error("[sim]\ncustomers = 5\nwarmup = 5s\n[station a]\narrival = exp(1)\nservice = exp(2)\n", 3,
		     "number of customers");
	expect_error("[sim]\nduration = 5s\n[host]\ncpus = 2\n[vm a]\nvnuma = yes\n", 5, "vnuma needs pin");
	expect_error("[sim]\nduration = 5s\n[vm a]\nvcpus = 2\n", 3, "need a [host]");
	expect_error("[sim]\n[station a]\narrival = exp(1)\nservice = exp(1)\n", 1, "needs duration");
	expect_error("[sim]\nduration = 5s\n[migration m]\nvm = ghost\n", 3, "no such VM");
	expect_error("[sim]\nduration = 5s\n[host]\ncpus = 0\n", 4, "physical CPUs");
	expect_error("[sim]\nduration = 5s\nthis line has no equals sign\n", 3, "does not parse");
	char *longline = xasprintf("[sim]\nduration = 5s\n; %0300d\n", 0);
	expect_error(longline, 3, "longer than");
	free(longline);
	/* a good file, with count and working-set profile */
	struct sim_scenario sc;
	struct sim_error e = { 0 };
	assert_int_equal(sim_scenario_parse("[sim]\nduration = 5s\n[host]\ncpus = 8\nnodes = 2\n[vm w]\ncount = 3\nvcpus = 2\n"
					    "working_set = 1G, 2s:3G\nmemory = 4G\nmem_nodes = 0:1,1:3\n",
					    &sc, &e),
			 0);
	assert_int_equal(sim_scenario_instances(&sc), 3);
	assert_int_equal(sc.vms[0].nws, 2);
	near(sc.vms[0].mem_frac[1], 0.75, 1e-9, "mem_nodes share");
	/* what --sweep and --set do */
	assert_int_equal(sim_scenario_set(&sc, "vm.w.count", "5", &e), 0);
	assert_int_equal(sim_scenario_instances(&sc), 5);
	assert_int_equal(sim_scenario_set(&sc, "host.cpus", "1", &e), -EINVAL);
	free(e.msg);
	assert_int_equal(sim_scenario_set(&sc, "vm.nope.count", "5", &e), -EINVAL);
	free(e.msg);
	sim_scenario_free(&sc);
}

/* ---------------- determinism ---------------- */

static const char host_text[] = "[sim]\nduration = 20s\nwarmup = 2s\n[host]\ncpus = 8\nnodes = 2\nio_service = exp(20k)\n"
				"memory = 48G\nballoon = yes\n"
				"[vm web]\ncount = 4\nvcpus = 4\nmemory = 16G\nballoon = yes\nworking_set = 6G, 10s:14G\n"
				"workload = requests\narrival = exp(3000)\nservice = exp(1000)\ntx = exp(50k)\n"
				"vq_service = exp(60k)\nrx = exp(30k)\nio = exp(300)\ncompaction = exp(0.3)\n"
				"compaction_stall = det(50ms)\n"
				"[vm batch]\ncount = 2\nvcpus = 4\nworkload = cpu\nload = 0.7\n";

static void test_determinism(void **state)
{
	(void)state;
	struct sim_result *a = run_text(host_text), *b = run_text(host_text);
	assert_int_equal(a->events, b->events);
	for (unsigned i = 0; i < a->nvm; i++) {
		assert_memory_equal(&a->vm[i].latency, &b->vm[i].latency, sizeof(a->vm[i].latency));
		assert_memory_equal(&a->vm[i].io_total, &b->vm[i].io_total, sizeof(a->vm[i].io_total));
		for (unsigned j = 0; j < a->vm[i].vcpus; j++)
			assert_true(a->vm[i].vcpu[j].steal_pct == b->vm[i].vcpu[j].steal_pct);
	}
	sim_result_free(b);
	/* another seed, another run */
	char *t2 = xasprintf("[sim]\nseed = 9\n%s", host_text + strlen("[sim]\n"));
	b = run_text(t2);
	assert_true(a->events != b->events || a->vm[0].latency.mean != b->vm[0].latency.mean);
	sim_result_free(a);
	sim_result_free(b);
	free(t2);
}

/* ---------------- the guest view ---------------- */

struct seen {
	unsigned n;
	uint64_t last_mono, steal0, total0, steal1, total1;
	bool statics_ok, meta_ok;
};

static int collect(void *arg, const struct sample *s, const struct sample *statics, json_t *meta)
{
	struct seen *w = arg;
	if (w->n == 0) {
		w->statics_ok = statics && sample_find(statics, ".hiddenq/identity.json") &&
				sample_find(statics, "sys/devices/system/cpu/online");
		w->meta_ok = meta && json_is_array(json_object_get(meta, "static"));
	} else {
		assert_null(statics);
		assert_null(meta);
		assert_true(s->mono_ns > w->last_mono);
	}
	json_decref(meta);
	w->last_mono = s->mono_ns;
	const struct sfile *f = sample_find(s, "proc/stat");
	assert_non_null(f);
	unsigned long long v[10];
	assert_int_equal(sscanf(f->data, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
				&v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]),
			 10);
	uint64_t tot = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
	if (w->n == 0) {
		w->steal0 = v[7];
		w->total0 = tot;
	}
	assert_true(v[7] >= w->steal1 && tot >= w->total1);
	w->steal1 = v[7];
	w->total1 = tot;
	assert_non_null(sample_find(s, "proc/pressure/cpu"));
	assert_non_null(sample_find(s, "proc/vmstat"));
	w->n++;
	return 0;
}

static void test_guest_view(void **state)
{
	(void)state;
	struct sim_scenario sc;
	struct sim_error e = { 0 };
	assert_int_equal(sim_scenario_parse("[sim]\nduration = 11s\nwarmup = 1s\n[host]\ncpus = 2\n"
					    "[vm a]\nvcpus = 2\nworkload = cpu\n[vm b]\nvcpus = 2\nworkload = cpu\n"
					    "[bundle]\nvm = b\ninterval = 500ms\n",
					    &sc, &e),
			 0);
	struct seen w = { 0 };
	struct sim_opts o = { .on_sample = collect, .arg = &w };
	struct sim_result *r;
	char *why;
	assert_int_equal(sim_run(&sc, &o, &r, &why), 0);
	assert_int_equal(w.n, 21);
	assert_int_equal(r->bundle_samples, 21);
	assert_true(w.statics_ok && w.meta_ok);
	/* 4 always-busy vCPUs on 2 CPUs: the guest's own /proc/stat shows half its time stolen */
	near((double)(w.steal1 - w.steal0) / (double)(w.total1 - w.total0), 0.5, 3, "steal share in /proc/stat");
	sim_result_free(r);
	sim_scenario_free(&sc);
}

int main(void)
{
	hq_quiet = true;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dist),
		cmocka_unit_test(test_ziggurat),
		cmocka_unit_test(test_queue_order),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_queues),
		cmocka_unit_test(test_queues_near_saturation),
		cmocka_unit_test(test_fair_share),
		cmocka_unit_test(test_numa_cost),
		cmocka_unit_test(test_vm_as_mmc),
		cmocka_unit_test(test_migration),
		cmocka_unit_test(test_scenario_errors),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_guest_view),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
