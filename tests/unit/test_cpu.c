/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The CPU analysis (src/analysis/cpu.c) and the rules that judge it, on
 * synthetic samples: /proc/stat, PSI, task schedstat and cgroup files written
 * by hand at chosen monotonic times.  Every expected number is computed here
 * from the ticks the test put in, never copied from the code's output.
 */
#include "harness.h"

#include <math.h>

#include "analysis/analysis.h"

/* ---------------- a stream of synthetic samples ---------------- */

struct feed {
	struct sample *s;
	size_t n, cap;
	struct sample statics;
};

static struct feed *feed_new(bool kvm_steal)
{
	struct feed *f = xcalloc(1, sizeof(*f));
	sample_init(&f->statics);
	if (kvm_steal)
		sample_put(&f->statics, ".hiddenq/identity.json",
			   "{\"cpuid_available\":true,\"hypervisor_bit\":true,"
			   "\"hypervisor_signature\":\"KVMKVMKVM\",\"kvm_features_eax\":32,\"euid\":0}");
	return f;
}

/* A new sample at t_ns; files are added by the caller. */
static struct sample *feed_at(struct feed *f, uint64_t t_ns)
{
	xgrow((void **)&f->s, sizeof(*f->s), &f->cap, f->n);
	struct sample *s = &f->s[f->n];
	sample_init(s);
	s->mono_ns = t_ns;
	s->real_ns = 1700000000ull * NS_PER_S + t_ns;
	s->index = (unsigned)f->n++;
	return s;
}

static void feed_procstat(struct sample *s, const struct fake_cpu *c, size_t n, unsigned ncols)
{
	char *txt = fake_procstat(c, n, ncols, 2);
	sample_put(s, "proc/stat", txt);
	free(txt);
}

/* Run the whole stream through a fresh analysis. */
static void feed_run(struct feed *f, struct analysis *an)
{
	analysis_init(an, &f->statics, "test");
	for (size_t i = 0; i < f->n; i++)
		analysis_feed(an, &f->s[i]);
	analysis_finish(an);
}

static void feed_free(struct feed *f)
{
	for (size_t i = 0; i < f->n; i++)
		sample_done(&f->s[i]);
	free(f->s);
	sample_done(&f->statics);
	free(f);
}

static const struct cpu_slot *slot_of(const struct cpu_analysis *a, int cpu, size_t *idx)
{
	for (size_t i = 0; i < a->nslots; i++)
		if (a->slots[i].cpu == cpu) {
			if (idx)
				*idx = i;
			return &a->slots[i];
		}
	fail_msg("no slot for cpu %d", cpu);
	return NULL;
}

static const struct finding *find(const struct findings *fs, const char *id)
{
	for (size_t i = 0; i < fs->n; i++)
		if (strcmp(fs->v[i].id, id) == 0)
			return &fs->v[i];
	fail_msg("no finding %s", id);
	return NULL;
}

#define NEAR(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-6)

/* one interval's worth of ticks on a fake CPU */
static void tick(struct fake_cpu *c, uint64_t user, uint64_t sys, uint64_t idle, uint64_t steal)
{
	c->v[CT_USER] += user;
	c->v[CT_SYSTEM] += sys;
	c->v[CT_IDLE] += idle;
	c->v[CT_STEAL] += steal;
}

/* ---------------- steal over the watch and per 1 s window ---------------- */

static void test_steal_per_vcpu_and_window(void **state)
{
	(void)state;
	struct feed *f = feed_new(true);
	struct fake_cpu c[2] = { { .id = 0, .online = true, .v = { 1000, 0, 500, 9000 } },
				 { .id = 1, .online = true, .v = { 2000, 0, 700, 8000 } } };
	feed_procstat(feed_at(f, 5 * NS_PER_S), c, 2, 10);
	/* interval k (1..10): vCPU0 stolen 5k of 100 ticks, vCPU1 never */
	for (unsigned k = 1; k <= 10; k++) {
		tick(&c[0], 20, 0, 80 - 5 * k, 5 * k);
		tick(&c[1], 30, 10, 60, 0);
		feed_procstat(feed_at(f, (5 + k) * NS_PER_S), c, 2, 10);
	}
	struct analysis an;
	feed_run(f, &an);
	const struct cpu_analysis *a = &an.cpu;
	assert_int_equal(a->nwins, 10);
	size_t i0 = 0, i1 = 0;
	const struct cpu_slot *s0 = slot_of(a, 0, &i0), *s1 = slot_of(a, 1, &i1);
	/* 5 * (1 + ... + 10) = 275 stolen of 1000 */
	NEAR(s0->steal_avg, 27.5);
	NEAR(s0->busy_pct, 20.0);
	NEAR(s0->steal_share_wanted, 100.0 * 275 / (275 + 200));
	NEAR(s1->steal_avg, 0);
	NEAR(s1->busy_pct, 40.0);
	for (unsigned k = 1; k <= 10; k++) {
		NEAR(cpu_window_steal_pct(&a->wins[k - 1], i0), 5.0 * k);
		NEAR(cpu_window_steal_pct(&a->wins[k - 1], i1), 0);
	}
	NEAR(s0->steal_worst, 50);
	assert_int_equal(s0->win_ge10, 9);  /* k >= 2 */
	assert_int_equal(s0->win_ge20, 7);  /* k >= 4 */
	assert_int_equal(s0->win_ge50, 1);  /* k == 10 */
	assert_int_equal(s0->nwin_judged, 10);
	assert_int_equal(s1->win_ge10, 0);
	assert_int_equal(s0->steal_ticks, 275);
	const char *why;
	assert_true(cpu_steal_reported(a, &why));
	NEAR(cpu_watch_s(a), 10.0);
	analysis_done(&an);
	feed_free(f);
}

/* 100 ms samples are summed into 1 s windows. */
static void test_steal_windows_from_100ms_samples(void **state)
{
	(void)state;
	struct feed *f = feed_new(true);
	struct fake_cpu c[1] = { { .id = 0, .online = true } };
	uint64_t wsteal[3] = { 0 }, wtot[3] = { 0 };
	feed_procstat(feed_at(f, 0), c, 1, 10);
	for (unsigned i = 1; i <= 30; i++) {
		uint64_t st = (i % 3 == 0) ? 4 : 1; /* uneven within a window */
		uint64_t idle = 10 - st - 2;
		tick(&c[0], 2, 0, idle, st);
		wsteal[(i - 1) / 10] += st;
		wtot[(i - 1) / 10] += 10;
		feed_procstat(feed_at(f, i * 100 * NS_PER_MS), c, 1, 10);
	}
	struct analysis an;
	feed_run(f, &an);
	assert_int_equal(an.cpu.nwins, 3);
	for (int w = 0; w < 3; w++) {
		assert_int_equal(an.cpu.wins[w].start_ns, (uint64_t)w * NS_PER_S);
		assert_int_equal(an.cpu.wins[w].end_ns, (uint64_t)(w + 1) * NS_PER_S);
		NEAR(cpu_window_steal_pct(&an.cpu.wins[w], 0), 100.0 * (double)wsteal[w] / (double)wtot[w]);
	}
	analysis_done(&an);
	feed_free(f);
}

/* ---------------- counters that go backwards ---------------- */

static void test_counter_reset(void **state)
{
	(void)state;
	struct feed *f = feed_new(true);
	struct fake_cpu c[1] = { { .id = 0, .online = true, .v = { 500000, 0, 20000, 900000, 300, 0, 0, 7000 } } };
	feed_procstat(feed_at(f, 0), c, 1, 10);
	uint64_t tot = 0, steal = 0, intervals = 0;
	for (unsigned k = 1; k <= 8; k++) {
		if (k == 4) {
			/* everything drops (a counter reset, or a new boot in the
			 * same bundle): this interval must count nothing */
			memset(c[0].v, 0, sizeof(c[0].v));
			tick(&c[0], 5, 0, 5, 0);
		} else if (k == 6) {
			/* only iowait and steal go backwards (sysstat root3's CPU#7
			 * case); the total still grows */
			c[0].v[CT_IOWAIT] = c[0].v[CT_IOWAIT] >= 3 ? c[0].v[CT_IOWAIT] - 3 : 0;
			c[0].v[CT_STEAL] -= 2;
			tick(&c[0], 50, 0, 50, 0);
			tot += 100; /* user+idle grew by 100, the decreases clamp at 0 */
			intervals++;
		} else {
			tick(&c[0], 40, 10, 40, 10);
			tot += 100;
			steal += 10;
			intervals++;
		}
		if (k == 5)
			c[0].v[CT_IOWAIT] += 3;
		feed_procstat(feed_at(f, k * NS_PER_S), c, 1, 10);
	}
	struct analysis an;
	feed_run(f, &an);
	const struct cpu_slot *s = slot_of(&an.cpu, 0, NULL);
	assert_true(s->resets >= 1);
	assert_int_equal(s->intervals, intervals);
	/* k == 5 added 3 ticks of iowait on top of its 100 */
	assert_int_equal(s->total, tot + 3);
	assert_int_equal(s->sum[CT_STEAL], steal);
	assert_true(s->sum[CT_IOWAIT] <= 3);
	assert_true(s->steal_avg >= 0 && s->steal_avg <= 100);
	assert_true(s->busy_pct >= 0 && s->busy_pct <= 100);
	for (size_t w = 0; w < an.cpu.nwins; w++) {
		double p = cpu_window_steal_pct(&an.cpu.wins[w], 0);
		assert_true(p == -1 || (p >= 0 && p <= 100));
	}
	analysis_done(&an);
	feed_free(f);
}

/* ---------------- a CPU goes offline and comes back ---------------- */

static void test_cpu_offline_online(void **state)
{
	(void)state;
	struct feed *f = feed_new(true);
	struct fake_cpu c[2] = { { .id = 0, .online = true }, { .id = 1, .online = true } };
	feed_procstat(feed_at(f, 0), c, 2, 10);
	unsigned both = 0;
	bool prev_on = true;
	for (unsigned k = 1; k <= 10; k++) {
		bool on = !(k == 4 || k == 5);
		tick(&c[0], 50, 0, 40, 10);
		if (on)
			tick(&c[1], 30, 0, 50, 20);
		else
			tick(&c[1], 0, 0, 100000, 0); /* must never show up as a delta */
		c[1].online = on;
		both += on && prev_on;
		prev_on = on;
		feed_procstat(feed_at(f, k * NS_PER_S), c, 2, 10);
	}
	struct analysis an;
	feed_run(f, &an);
	const struct cpu_analysis *a = &an.cpu;
	assert_true(a->cpus_changed);
	assert_int_equal(a->cpus_max, 2);
	assert_int_equal(a->cpus_online_last, 2);
	size_t i1 = 0;
	const struct cpu_slot *s1 = slot_of(a, 1, &i1);
	assert_int_equal(s1->intervals, both);
	assert_int_equal(s1->total, 100ull * both);
	NEAR(s1->steal_avg, 20.0);
	assert_true(s1->resets >= 1);
	assert_int_equal(s1->nwin_judged, both);
	/* windows 4..6 (intervals ending at 4, 5 and 6 s) have no vCPU1 delta */
	for (unsigned k = 1; k <= 10; k++) {
		double p = cpu_window_steal_pct(&a->wins[k - 1], i1);
		if (k >= 4 && k <= 6)
			assert_true(p < 0);
		else
			NEAR(p, 20.0);
	}
	NEAR(slot_of(a, 0, NULL)->steal_avg, 10.0);
	analysis_done(&an);
	feed_free(f);
}

/* ---------------- kernels without a steal column ---------------- */

static void no_steal_case(unsigned ncols)
{
	struct feed *f = feed_new(true); /* even with KVM's steal bit set */
	struct fake_cpu c[1] = { { .id = 0, .online = true, .v = { 100, 0, 100, 100 } } };
	for (unsigned k = 0; k <= 5; k++) {
		if (k)
			tick(&c[0], 50, 0, 50, 0);
		feed_procstat(feed_at(f, k * NS_PER_S), c, 1, ncols);
	}
	struct analysis an;
	feed_run(f, &an);
	const char *why = NULL;
	assert_false(cpu_steal_reported(&an.cpu, &why));
	assert_non_null(why);
	assert_non_null(strstr(why, "steal column"));
	struct findings fs = { 0 };
	rules_evaluate(&an, &fs);
	const struct finding *st = find(&fs, "vcpu-oversubscription");
	assert_int_equal(st->sev, SEV_UNKNOWN);
	assert_non_null(strstr(st->title, "steal column"));
	findings_done(&fs);
	analysis_done(&an);
	feed_free(f);
}

static void test_no_steal_column(void **state)
{
	(void)state;
	no_steal_case(7);
	no_steal_case(4);
}

/* Steal column present but zero since boot, and no identity: unknown. */
static void test_steal_zero_no_identity(void **state)
{
	(void)state;
	struct feed *f = feed_new(false);
	struct fake_cpu c[1] = { { .id = 0, .online = true } };
	for (unsigned k = 0; k <= 5; k++) {
		tick(&c[0], 50, 0, 50, 0);
		feed_procstat(feed_at(f, k * NS_PER_S), c, 1, 8);
	}
	struct analysis an;
	feed_run(f, &an);
	const char *why = NULL;
	assert_false(cpu_steal_reported(&an.cpu, &why));
	assert_null(strstr(why, "steal column"));
	analysis_done(&an);
	feed_free(f);
}

/* ---------------- tick quantization ---------------- */

/*
 * 100 ms samples hold ~10 ticks per CPU.  Here one interval in ten sees only
 * two ticks, one of them steal: 50 % of that interval, ~1 % of its second.
 * No 1 s window may come out at 50 %, and the verdict must stay ok.
 */
static void test_tick_quantization(void **state)
{
	(void)state;
	struct feed *f = feed_new(true);
	struct fake_cpu c[2] = { { .id = 0, .online = true }, { .id = 1, .online = true } };
	uint64_t wst[8] = { 0 }, wtot[8] = { 0 };
	feed_procstat(feed_at(f, 0), c, 2, 10);
	for (unsigned i = 1; i <= 60; i++) {
		if (i % 10 == 3) {
			tick(&c[0], 0, 0, 1, 1);
			wst[(i - 1) / 10] += 1;
			wtot[(i - 1) / 10] += 2;
		} else {
			tick(&c[0], 3, 0, 7, 0);
			wtot[(i - 1) / 10] += 10;
		}
		tick(&c[1], 3, 0, 7, 0);
		feed_procstat(feed_at(f, i * 100 * NS_PER_MS), c, 2, 10);
	}
	struct analysis an;
	feed_run(f, &an);
	const struct cpu_analysis *a = &an.cpu;
	assert_int_equal(a->nwins, 6);
	size_t i0 = 0;
	const struct cpu_slot *s0 = slot_of(a, 0, &i0);
	double worst = 0;
	for (size_t w = 0; w < a->nwins; w++) {
		double p = cpu_window_steal_pct(&a->wins[w], i0);
		NEAR(p, 100.0 * (double)wst[w] / (double)wtot[w]);
		assert_true(p < 50);
		if (p > worst)
			worst = p;
	}
	NEAR(s0->steal_worst, worst);
	assert_int_equal(s0->win_ge50, 0);
	assert_int_equal(s0->win_ge20, 0);
	struct findings fs = { 0 };
	rules_evaluate(&an, &fs);
	assert_int_equal(find(&fs, "vcpu-oversubscription")->sev, SEV_OK);
	findings_done(&fs);
	analysis_done(&an);
	feed_free(f);
}

/* A trailing partial window shorter than half a window joins the previous one. */
static void partial_case(unsigned last_100ms, size_t want_wins, uint64_t want_last_start)
{
	struct feed *f = feed_new(true);
	struct fake_cpu c[1] = { { .id = 0, .online = true } };
	feed_procstat(feed_at(f, 0), c, 1, 10);
	uint64_t steal = 0;
	for (unsigned i = 1; i <= last_100ms; i++) {
		uint64_t st = i > 30 ? 5 : 1;
		tick(&c[0], 2, 0, 8 - st, st);
		steal += st;
		feed_procstat(feed_at(f, i * 100 * NS_PER_MS), c, 1, 10);
	}
	struct analysis an;
	feed_run(f, &an);
	const struct cpu_analysis *a = &an.cpu;
	assert_int_equal(a->nwins, want_wins);
	const struct cpu_window *last = &a->wins[a->nwins - 1];
	assert_int_equal(last->start_ns, want_last_start);
	assert_int_equal(last->end_ns, (uint64_t)last_100ms * 100 * NS_PER_MS);
	/* no tick is lost or counted twice by the merge */
	uint64_t wsteal = 0, wtot = 0;
	for (size_t w = 0; w < a->nwins; w++) {
		wsteal += a->wins[w].cpu[0].steal;
		wtot += a->wins[w].cpu[0].total;
	}
	assert_int_equal(wsteal, steal);
	assert_int_equal(wtot, 10ull * last_100ms);
	analysis_done(&an);
	feed_free(f);
}

static void test_trailing_partial_window(void **state)
{
	(void)state;
	partial_case(33, 3, 2 * NS_PER_S); /* 0.3 s left over: merged into [2 s, 3.3 s] */
	partial_case(36, 4, 3 * NS_PER_S); /* 0.6 s left over: a window of its own */
	partial_case(30, 3, 2 * NS_PER_S); /* exact */
}

/* ---------------- PSI ---------------- */

static void add_psi(struct sample *s, const char *path, uint64_t some_us, const uint64_t *full_us)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "some avg10=1.00 avg60=2.00 avg300=3.00 total=%llu\n",
			 (unsigned long long)some_us);
	if (full_us)
		snprintf(buf + n, sizeof(buf) - (size_t)n, "full avg10=0.00 avg60=0.00 avg300=0.00 total=%llu\n",
			 (unsigned long long)*full_us);
	sample_put(s, path, buf);
}

static void test_psi_windows(void **state)
{
	(void)state;
	static const unsigned pct[10] = { 5, 5, 50, 50, 50, 50, 5, 15, 15, 5 };
	struct feed *f = feed_new(true);
	uint64_t cpu_us = 1000000, mem_us = 0, mem_full = 0;
	for (unsigned k = 0; k <= 10; k++) {
		if (k) {
			cpu_us += pct[k - 1] * 10000ull; /* pct % of 1 s in µs */
			mem_us += 20000;
			mem_full += 10000;
		}
		struct sample *s = feed_at(f, k * NS_PER_S);
		add_psi(s, "proc/pressure/cpu", cpu_us, NULL);
		add_psi(s, "proc/pressure/memory", mem_us, &mem_full);
	}
	struct analysis an;
	feed_run(f, &an);
	const struct cpu_analysis *a = &an.cpu;
	assert_int_equal(a->nwins, 10);
	for (unsigned w = 0; w < 10; w++) {
		NEAR(cpu_window_psi_pct(&a->wins[w], PSI_CPU, false), pct[w]);
		NEAR(cpu_window_psi_pct(&a->wins[w], PSI_MEM, false), 2.0);
		NEAR(cpu_window_psi_pct(&a->wins[w], PSI_MEM, true), 1.0);
		assert_true(cpu_window_psi_pct(&a->wins[w], PSI_IO, false) < 0); /* never seen */
	}
	double worst = 0;
	assert_int_equal(cpu_psi_longest_run(a, PSI_CPU, 10, &worst), 4);
	NEAR(worst, 50);
	assert_int_equal(cpu_psi_longest_run(a, PSI_CPU, 40, NULL), 4);
	assert_int_equal(cpu_psi_longest_run(a, PSI_CPU, 51, NULL), 0);
	assert_int_equal(cpu_psi_longest_run(a, PSI_CPU, 5, NULL), 10);
	assert_true(a->psi_seen[PSI_CPU]);
	assert_false(a->psi_full_seen[PSI_CPU]);
	assert_true(a->psi_full_seen[PSI_MEM]);
	assert_false(a->psi_seen[PSI_IO]);
	unsigned sum = 0;
	for (int i = 0; i < 10; i++)
		sum += pct[i];
	assert_int_equal(a->psi_some_us[PSI_CPU], sum * 10000ull);
	analysis_done(&an);
	feed_free(f);
}

/* PSI totals going backwards or absent for a sample never make a bogus window. */
static void test_psi_reset_and_gap(void **state)
{
	(void)state;
	struct feed *f = feed_new(true);
	uint64_t tot[7] = { 5000000, 5100000, 200, 100200, 100200, 200200, 300200 };
	for (unsigned k = 0; k < 7; k++) {
		struct sample *s = feed_at(f, k * NS_PER_S);
		if (k != 4)
			add_psi(s, "proc/pressure/cpu", tot[k], NULL);
	}
	struct analysis an;
	feed_run(f, &an);
	const struct cpu_analysis *a = &an.cpu;
	assert_int_equal(a->nwins, 6);
	NEAR(cpu_window_psi_pct(&a->wins[0], PSI_CPU, false), 10);
	NEAR(cpu_window_psi_pct(&a->wins[1], PSI_CPU, false), 0);  /* went backwards: nothing counted */
	NEAR(cpu_window_psi_pct(&a->wins[2], PSI_CPU, false), 10);
	assert_true(cpu_window_psi_pct(&a->wins[3], PSI_CPU, false) < 0); /* file missing at 4 s */
	assert_true(cpu_window_psi_pct(&a->wins[4], PSI_CPU, false) < 0); /* no previous value at 5 s */
	NEAR(cpu_window_psi_pct(&a->wins[5], PSI_CPU, false), 10);
	for (size_t w = 0; w < a->nwins; w++)
		assert_true(cpu_window_psi_pct(&a->wins[w], PSI_CPU, false) <= 100);
	analysis_done(&an);
	feed_free(f);
}

/* ---------------- per-task run delay ---------------- */

static void add_task(struct sample *s, int pid, int tid, uint64_t cpu_ns, uint64_t delay_ns, const char *comm)
{
	char path[96], buf[96];
	snprintf(path, sizeof(path), "proc/%d/task/%d/schedstat", pid, tid);
	snprintf(buf, sizeof(buf), "%llu %llu 42\n", (unsigned long long)cpu_ns, (unsigned long long)delay_ns);
	sample_put(s, path, buf);
	if (comm) {
		snprintf(path, sizeof(path), "proc/%d/task/%d/comm", pid, tid);
		sample_put(s, path, comm);
	}
}

static const struct task_acc *top_by_tid(const struct cpu_analysis *a, int tid)
{
	for (size_t i = 0; i < a->ntop; i++)
		if (a->top_tasks[i]->tid == tid)
			return a->top_tasks[i];
	return NULL;
}

static void test_task_run_delay(void **state)
{
	(void)state;
	struct feed *f = feed_new(true);
	const uint64_t ms = NS_PER_MS;
	for (unsigned k = 0; k <= 4; k++) {
		struct sample *s = feed_at(f, k * NS_PER_S);
		add_task(s, 100, 100, k * 500 * ms, 1000 * ms + k * 10 * ms, "main\n");
		add_task(s, 100, 101, k * 500 * ms, 7 * ms + k * 30 * ms, "worker 1\n");
		add_task(s, 200, 200, k * 100 * ms, k * 5 * ms, NULL);
		/* tid 300 belongs to pid 300 until 2 s, then the tid is reused by
		 * a new process 301 whose counters start again from near zero */
		if (k <= 2)
			add_task(s, 300, 300, k * 100 * ms, k * 25 * ms, "old\n");
		else
			add_task(s, 301, 300, (k - 2) * ms, (k - 2) * 2 * ms, "new\n");
	}
	struct analysis an;
	feed_run(f, &an);
	const struct cpu_analysis *a = &an.cpu;
	assert_int_equal(a->task_samples, 5);
	assert_int_equal(a->ntop, 4);
	/* sorted by wait over the watch: 101 (120 ms), 100 (40 ms), 200 (20 ms), 300 (2 ms) */
	int want[] = { 101, 100, 200, 300 };
	uint64_t wait[] = { 120 * ms, 40 * ms, 20 * ms, 2 * ms };
	for (int i = 0; i < 4; i++) {
		assert_int_equal(a->top_tasks[i]->tid, want[i]);
		assert_int_equal(a->top_tasks[i]->last_delay - a->top_tasks[i]->first_delay, wait[i]);
	}
	assert_string_equal(top_by_tid(a, 101)->comm, "worker 1");
	assert_string_equal(top_by_tid(a, 100)->comm, "main");
	const struct task_acc *t300 = top_by_tid(a, 300);
	assert_int_equal(t300->pid, 301);
	assert_string_equal(t300->comm, "new");
	/* mean waiting tasks = Σ wait / span (4 s) */
	NEAR(a->runq_wait_tasks_avg, (120.0 + 40 + 20 + 2) * 1e6 / 4e9);
	analysis_done(&an);
	feed_free(f);
}

/* ---------------- cgroup CPU throttling ---------------- */

static void test_cgroup_throttling(void **state)
{
	(void)state;
	struct feed *f = feed_new(true);
	for (unsigned k = 0; k <= 5; k++) {
		struct sample *s = feed_at(f, k * NS_PER_S);
		char buf[256];
		/* v2: 10 periods/s, 4 throttled, 20 ms/s */
		snprintf(buf, sizeof(buf),
			 "usage_usec %u\nuser_usec 1\nsystem_usec 1\nnr_periods %u\nnr_throttled %u\n"
			 "throttled_usec %u\n",
			 1000 + k * 500000, 100 + 10 * k, 7 + 4 * k, 999 + 20000 * k);
		sample_put(s, "sys/fs/cgroup/kubepods/pod1/cpu.stat", buf);
		sample_put(s, "sys/fs/cgroup/kubepods/pod1/cpu.max", "50000 100000\n");
		/* v1: 10 periods/s, 6 throttled, 30 ms/s (ns) */
		snprintf(buf, sizeof(buf), "nr_periods %u\nnr_throttled %u\nthrottled_time %llu\n", 10 * k, 6 * k,
			 30000000ull * k);
		sample_put(s, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.stat", buf);
		sample_put(s, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "20000\n");
		sample_put(s, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
		/* unlimited v2 group, never throttled */
		snprintf(buf, sizeof(buf), "usage_usec 5\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n");
		sample_put(s, "sys/fs/cgroup/system.slice/cpu.stat", buf);
		sample_put(s, "sys/fs/cgroup/system.slice/cpu.max", "max 100000\n");
	}
	struct analysis an;
	feed_run(f, &an);
	const struct cpu_analysis *a = &an.cpu;
	assert_int_equal(a->cg_samples, 6);
	assert_true(a->cg_v1_seen && a->cg_v2_seen);
	const struct cg_acc *v1 = NULL, *v2 = NULL, *sys = NULL;
	for (size_t i = 0; i < a->ncgs; i++) {
		if (strcmp(a->cgs[i].path, "sys/fs/cgroup/kubepods/pod1") == 0)
			v2 = &a->cgs[i];
		else if (strcmp(a->cgs[i].path, "sys/fs/cgroup/cpu,cpuacct/docker/abc") == 0)
			v1 = &a->cgs[i];
		else if (strcmp(a->cgs[i].path, "sys/fs/cgroup/system.slice") == 0)
			sys = &a->cgs[i];
	}
	assert_non_null(v1);
	assert_non_null(v2);
	assert_non_null(sys);
	assert_int_equal(v2->version, 2);
	assert_int_equal(v1->version, 1);
	assert_int_equal(v2->d_periods, 50);
	NEAR(v2->throttled_pct, 40.0);
	NEAR(v2->throttled_ms_per_s, 20.0);
	assert_int_equal(v2->quota_us, 50000);
	assert_int_equal(v2->period_us, 100000);
	NEAR(v1->throttled_pct, 60.0);
	NEAR(v1->throttled_ms_per_s, 30.0);
	assert_int_equal(v1->quota_us, 20000);
	assert_int_equal(v1->period_us, 100000);
	assert_true(sys->quota_us < 0);
	struct findings fs = { 0 };
	rules_evaluate(&an, &fs);
	const struct finding *cg = find(&fs, "cgroup-cpu-throttling");
	/* worst is the v1 group at 60 % >= the 50 % crit level */
	assert_int_equal(cg->sev, SEV_CRIT);
	assert_non_null(strstr(cg->title, "/cpu,cpuacct/docker/abc"));
	findings_done(&fs);
	analysis_done(&an);
	feed_free(f);
}

/* ---------------- rules: steal thresholds from the design ---------------- */

/*
 * nwin one-second windows on ncpu vCPUs; steal[c][w] is the steal in window w
 * of vCPU c, in ticks of 100 (so it is also the percentage).
 */
static enum severity steal_verdict(size_t ncpu, size_t nwin, unsigned steal[][16], char **title)
{
	struct feed *f = feed_new(true);
	struct fake_cpu c[8];
	memset(c, 0, sizeof(c));
	for (size_t i = 0; i < ncpu; i++) {
		c[i].id = (int)i;
		c[i].online = true;
	}
	feed_procstat(feed_at(f, 100 * NS_PER_S), c, ncpu, 10);
	for (size_t w = 0; w < nwin; w++) {
		for (size_t i = 0; i < ncpu; i++)
			tick(&c[i], 10, 0, 90 - steal[i][w], steal[i][w]);
		feed_procstat(feed_at(f, (101 + w) * NS_PER_S), c, ncpu, 10);
	}
	struct analysis an;
	feed_run(f, &an);
	assert_int_equal(an.cpu.nwins, nwin);
	struct findings fs = { 0 };
	rules_evaluate(&an, &fs);
	const struct finding *st = find(&fs, "vcpu-oversubscription");
	enum severity sev = st->sev;
	if (title)
		*title = xstrdup(st->title);
	findings_done(&fs);
	analysis_done(&an);
	feed_free(f);
	return sev;
}

static enum severity one_cpu(unsigned all, unsigned special, const unsigned *at, size_t nat)
{
	unsigned s[1][16];
	for (int w = 0; w < 10; w++)
		s[0][w] = all;
	for (size_t i = 0; i < nat; i++)
		s[0][at[i]] = special;
	return steal_verdict(1, 10, s, NULL);
}

static void test_rules_steal_thresholds(void **state)
{
	(void)state;
	/* averages: < 10 ok, >= 10 warn, >= 20 crit */
	assert_int_equal(one_cpu(9, 0, NULL, 0), SEV_OK);
	assert_int_equal(one_cpu(10, 0, NULL, 0), SEV_WARN);
	assert_int_equal(one_cpu(12, 0, NULL, 0), SEV_WARN);
	assert_int_equal(one_cpu(19, 0, NULL, 0), SEV_WARN); /* no window reaches 20 % */
	assert_int_equal(one_cpu(20, 0, NULL, 0), SEV_CRIT);
}

static void test_rules_steal_windows(void **state)
{
	(void)state;
	const unsigned one[] = { 6 }, two[] = { 2, 7 }, three[] = { 1, 4, 8 };
	/* any 1 s window >= 50 % warns, though the average is low */
	assert_int_equal(one_cpu(0, 55, one, 1), SEV_WARN);
	assert_int_equal(one_cpu(0, 50, one, 1), SEV_WARN);
	assert_int_equal(one_cpu(0, 49, one, 1), SEV_OK);
	/* three 1 s windows >= 20 % are crit (average 7.5 %), two are not */
	assert_int_equal(one_cpu(0, 25, three, 3), SEV_CRIT);
	assert_int_equal(one_cpu(0, 20, three, 3), SEV_CRIT);
	assert_int_equal(one_cpu(0, 25, two, 2), SEV_OK);
	assert_int_equal(one_cpu(0, 19, three, 3), SEV_OK);
	assert_int_equal(one_cpu(20, 0, NULL, 0), SEV_CRIT);
	assert_int_equal(one_cpu(25, 0, NULL, 0), SEV_CRIT);
}

static void test_rules_steal_per_vcpu(void **state)
{
	(void)state;
	/* 4 vCPUs, only vCPU 2 stolen (25 %): the mean over vCPUs is 6.25 %,
	 * yet vCPU 2 alone is crit */
	unsigned s[4][16];
	memset(s, 0, sizeof(s));
	for (int w = 0; w < 10; w++)
		s[2][w] = 25;
	char *title = NULL;
	assert_int_equal(steal_verdict(4, 10, s, &title), SEV_CRIT);
	assert_non_null(strstr(title, "vCPU 2"));
	free(title);
	/* 2 vCPUs: 12 % and 0 % average 6 %, still a warning for vCPU 0 */
	memset(s, 0, sizeof(s));
	for (int w = 0; w < 10; w++)
		s[0][w] = 12;
	assert_int_equal(steal_verdict(2, 10, s, &title), SEV_WARN);
	assert_non_null(strstr(title, "vCPU 0"));
	free(title);
}

static void test_rules_too_few_windows(void **state)
{
	(void)state;
	unsigned s[1][16];
	for (int w = 0; w < 16; w++)
		s[0][w] = 30;
	assert_int_equal(steal_verdict(1, 2, s, NULL), SEV_UNKNOWN);
	assert_int_equal(steal_verdict(1, 1, s, NULL), SEV_UNKNOWN);
	assert_int_equal(steal_verdict(1, 3, s, NULL), SEV_CRIT);
}

/* ---------------- rules: PSI cpu ---------------- */

static enum severity psi_verdict(const unsigned *pct, size_t n)
{
	struct feed *f = feed_new(true);
	struct fake_cpu c[1] = { { .id = 0, .online = true } };
	uint64_t us = 0;
	for (size_t k = 0; k <= n; k++) {
		if (k) {
			us += pct[k - 1] * 10000ull;
			tick(&c[0], 50, 0, 50, 0);
		}
		struct sample *s = feed_at(f, k * NS_PER_S);
		feed_procstat(s, c, 1, 10);
		add_psi(s, "proc/pressure/cpu", us, NULL);
	}
	struct analysis an;
	feed_run(f, &an);
	struct findings fs = { 0 };
	rules_evaluate(&an, &fs);
	enum severity sev = find(&fs, "guest-cpu-saturation")->sev;
	findings_done(&fs);
	analysis_done(&an);
	feed_free(f);
	return sev;
}

static void test_rules_psi(void **state)
{
	(void)state;
	const unsigned warn3[] = { 2, 15, 15, 15, 2, 2, 2, 2 };
	const unsigned split[] = { 15, 15, 2, 15, 15, 2, 15, 15 };
	const unsigned crit3[] = { 2, 45, 45, 45, 2, 2, 2, 2 };
	const unsigned crit2[] = { 2, 45, 45, 15, 2, 2, 2, 2 };
	const unsigned low[] = { 9, 9, 9, 9, 9, 9, 9, 9 };
	const unsigned edge[] = { 10, 10, 10, 40, 40, 40, 0, 0 };
	assert_int_equal(psi_verdict(warn3, 8), SEV_WARN);
	assert_int_equal(psi_verdict(split, 8), SEV_OK); /* never 3 in a row */
	assert_int_equal(psi_verdict(crit3, 8), SEV_CRIT);
	assert_int_equal(psi_verdict(crit2, 8), SEV_WARN); /* 3 in a row >= 10, only 2 >= 40 */
	assert_int_equal(psi_verdict(low, 8), SEV_OK);
	assert_int_equal(psi_verdict(edge, 8), SEV_CRIT); /* thresholds are inclusive */
	assert_int_equal(psi_verdict(crit3, 2), SEV_UNKNOWN); /* two windows only */
}

/* ---------------- exit codes ---------------- */

static int exit_for(const enum severity *sev, size_t n)
{
	struct findings fs = { 0 };
	for (size_t i = 0; i < n; i++)
		finding_set(findings_add(&fs, "x", 0, "layer", "label"), sev[i], "t%zu", i);
	int rc = findings_exit_code(&fs);
	findings_done(&fs);
	return rc;
}

static void test_exit_codes(void **state)
{
	(void)state;
	const enum severity a[] = { SEV_OK, SEV_CRIT, SEV_WARN, SEV_UNKNOWN };
	const enum severity b[] = { SEV_OK, SEV_WARN, SEV_UNKNOWN };
	const enum severity c[] = { SEV_OK, SEV_UNKNOWN, SEV_OK };
	const enum severity d[] = { SEV_UNKNOWN, SEV_UNKNOWN };
	const enum severity e[] = { SEV_CRIT };
	assert_int_equal(exit_for(a, 4), 2);
	assert_int_equal(exit_for(b, 3), 1);
	assert_int_equal(exit_for(c, 3), 0);
	assert_int_equal(exit_for(d, 2), 3);
	assert_int_equal(exit_for(e, 1), 2);
	assert_int_equal(exit_for(NULL, 0), 3);
	assert_string_equal(severity_name(SEV_WARN), "warn");
	assert_string_equal(severity_name(SEV_UNKNOWN), "unknown");
}

int main(void)
{
	hq_quiet = true;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steal_per_vcpu_and_window),
		cmocka_unit_test(test_steal_windows_from_100ms_samples),
		cmocka_unit_test(test_counter_reset),
		cmocka_unit_test(test_cpu_offline_online),
		cmocka_unit_test(test_no_steal_column),
		cmocka_unit_test(test_steal_zero_no_identity),
		cmocka_unit_test(test_tick_quantization),
		cmocka_unit_test(test_trailing_partial_window),
		cmocka_unit_test(test_psi_windows),
		cmocka_unit_test(test_psi_reset_and_gap),
		cmocka_unit_test(test_task_run_delay),
		cmocka_unit_test(test_cgroup_throttling),
		cmocka_unit_test(test_rules_steal_thresholds),
		cmocka_unit_test(test_rules_steal_windows),
		cmocka_unit_test(test_rules_steal_per_vcpu),
		cmocka_unit_test(test_rules_too_few_windows),
		cmocka_unit_test(test_rules_psi),
		cmocka_unit_test(test_exit_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
