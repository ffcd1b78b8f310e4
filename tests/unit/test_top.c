/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The live view's model (src/sinks/top.c, top.def): the table is well-formed
 * against the catalog and the thresholds, and what the view computes from
 * the engine's series (rates, ratios of rates, histogram quantiles, sorting,
 * sparklines, idle rows) matches what the test put into the samples.
 * Samples are made here second by second; every expected figure comes from
 * the counters the test wrote.
 */
#include "harness.h"

#include <math.h>

#include "analysis/analysis.h"
#include "analysis/findings.h"
#include "engine/engine.h"
#include "sinks/top.h"

#define NCPU 2

/* ---------------- the table ---------------- */

static void test_table_against_catalog(void **state)
{
	(void)state;
	size_t np;
	const struct top_panel *ps = top_panels(&np);
	assert_true(np >= 7);
	unsigned findings_panels = 0;
	for (size_t p = 0; p < np; p++) {
		findings_panels += ps[p].findings;
		for (size_t q = p + 1; q < np; q++) {
			assert_int_not_equal(ps[p].key, ps[q].key);
			assert_string_not_equal(ps[p].name, ps[q].name);
		}
		/* every rule a panel names exists, and every rule is on some panel */
		for (const char *s = ps[p].rules; *s;) {
			size_t len = strcspn(s, " ");
			char id[64];
			snprintf(id, sizeof(id), "%.*s", (int)len, s);
			if (!rule_by_id(id))
				fail_msg("panel %s names rule %s, which rules.def does not have", ps[p].name, id);
			s += len + (s[len] == ' ');
		}
		for (size_t t = 0; t < ps[p].ntables; t++) {
			const struct top_table *tb = &ps[p].tables[t];
			assert_true(tb->ncols > 0);
			assert_true((tb->labels == 0) == ((tb->flags & TF_PAIRS) != 0));
			for (size_t c = 0; c < tb->ncols; c++) {
				const struct top_col *col = &tb->cols[c];
				const struct metric_def *d = metric_def(col->metric);
				if (d->scope != MS_SAMPLE)
					fail_msg("%s: %s is not a sample-scope series", col->json, d->name);
				/* the table's row labels are labels the metric carries */
				if ((tb->labels & d->labels) != tb->labels)
					fail_msg("%s: %s lacks a row label of table %s", col->json, d->name, tb->caption);
				switch (col->tx) {
				case TX_RATE:
					assert_int_equal(d->type, MT_COUNTER);
					break;
				case TX_RATIO:
					assert_int_equal(d->type, MT_COUNTER);
					assert_int_equal(metric_def(col->den)->type, MT_COUNTER);
					assert_int_equal(metric_def(col->den)->scope, MS_SAMPLE);
					break;
				case TX_P50:
				case TX_P99:
					assert_int_equal(d->type, MT_HISTOGRAM);
					break;
				case TX_VALUE:
					assert_true(d->type == MT_GAUGE || d->type == MT_INFO);
					break;
				}
				assert_non_null(col->unit);
				assert_true(col->scale > 0);
				/* a value coloured by a threshold is shown in the threshold's unit */
				if (col->thresh >= 0 && strcmp(col->unit, thresholds[col->thresh].unit) != 0)
					fail_msg("%s is shown in '%s' but threshold %s is in '%s'", col->json, col->unit,
						 thresholds[col->thresh].name, thresholds[col->thresh].unit);
				for (size_t k = c + 1; k < tb->ncols; k++)
					assert_string_not_equal(col->json, tb->cols[k].json);
			}
		}
	}
	assert_int_equal(findings_panels, 1);
	for (size_t i = 0; i < rules_count(); i++) {
		bool on = false;
		for (size_t p = 0; p < np && !on; p++)
			on = strstr(ps[p].rules, rules_info(i)->id) != NULL;
		if (!on)
			fail_msg("rule %s colours no panel's tab", rules_info(i)->id);
	}
}

/* ---------------- a stream of samples ---------------- */

struct stream {
	struct fake_cpu cpu[NCPU];
	struct sample statics;
	uint64_t t;
	uint64_t rd_ios, rd_ms, io_ms, rx_packets, hit, miss;
	uint64_t runq[BPFHIST_SLOTS];
	struct engine *e;
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
	struct engine_opts o = { .rule_windows = true };
	st->e = engine_new(&st->statics, "test", &o);
}

static void stream_done(struct stream *st)
{
	engine_free(st->e);
	sample_done(&st->statics);
}

struct second {
	unsigned steal[NCPU];	/* ticks of 100 */
	unsigned reads, read_ms, io_ms, rx, hit, miss;
	unsigned runq_slot3;	/* run-queue waits of 8-16 us */
	bool no_disk;		/* vdb's counters go back to 0 (a reset) */
};

/* One second of the machine; returns the frame of the sample it ends with. */
static struct top_frame *stream_step(struct stream *st, const struct second *sec)
{
	for (int i = 0; i < NCPU; i++) {
		st->cpu[i].v[CT_STEAL] += sec->steal[i];
		st->cpu[i].v[CT_USER] += 20;
		st->cpu[i].v[CT_IDLE] += 80 - sec->steal[i];
	}
	st->rd_ios += sec->reads;
	st->rd_ms += sec->read_ms;
	st->io_ms += sec->io_ms;
	st->rx_packets += sec->rx;
	st->hit += sec->hit;
	st->miss += sec->miss;
	st->runq[3] += sec->runq_slot3;
	struct sample s;
	sample_init(&s);
	s.mono_ns = st->t;
	s.real_ns = 1700000000ull * NS_PER_S + st->t;
	s.slow = true;
	char *txt = fake_procstat(st->cpu, NCPU, 8, 1);
	sample_put(&s, "proc/stat", txt);
	free(txt);
	char buf[1024];
	/* vda reads; vdb idle; loop0 idle */
	snprintf(buf, sizeof(buf),
		 " 254       0 vda %llu 0 0 %llu 7 0 0 5 0 %llu %llu 0 0 0 0 0 0\n"
		 " 254      16 vdb 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
		 "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
		 (unsigned long long)st->rd_ios, (unsigned long long)st->rd_ms, (unsigned long long)st->io_ms,
		 (unsigned long long)st->rd_ms);
	sample_put(&s, "proc/diskstats", buf);
	snprintf(buf, sizeof(buf),
		 "Inter-|   Receive                                                |  Transmit\n"
		 " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
		 "  eth0: %llu %llu 0 0 0 0 0 0 1000 10 0 0 0 0 0 0\n"
		 "    lo: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
		 (unsigned long long)st->rx_packets * 100, (unsigned long long)st->rx_packets);
	sample_put(&s, "proc/net/dev", buf);
	snprintf(buf, sizeof(buf),
		 "numa_hit %llu\nnuma_miss %llu\nnuma_foreign 0\ninterleave_hit 0\nlocal_node %llu\nother_node 0\n",
		 (unsigned long long)st->hit, (unsigned long long)st->miss, (unsigned long long)st->hit);
	sample_put(&s, "sys/devices/system/node/node0/numastat", buf);
	struct strbuf j = { 0 };
	sb_puts(&j, "{\"available\":true,\"kinds\":{\"any\":[");
	for (int i = 0; i < BPFHIST_SLOTS; i++)
		sb_printf(&j, "%s%llu", i ? "," : "", (unsigned long long)st->runq[i]);
	sb_puts(&j, "]}}");
	sample_put(&s, ".hiddenq/runqlat.json", j.s);
	sb_done(&j);
	engine_feed(st->e, &s);
	struct top_frame *f = top_frame_new(st->e, s.mono_ns, s.real_ns, true);
	sample_done(&s);
	st->t += NS_PER_S;
	return f;
}

/* The panel and table whose caption is `caption` in the panel named `panel`. */
static void where(const char *panel, const char *caption, size_t *p, size_t *t)
{
	size_t np;
	const struct top_panel *ps = top_panels(&np);
	for (*p = 0; *p < np; (*p)++) {
		if (strcmp(ps[*p].name, panel))
			continue;
		for (*t = 0; *t < ps[*p].ntables; (*t)++)
			if (!strcmp(ps[*p].tables[*t].caption, caption))
				return;
	}
	fail_msg("no table %s in panel %s", caption, panel);
}

static int col_of(size_t p, size_t t, const char *json)
{
	size_t np;
	const struct top_table *tb = &top_panels(&np)[p].tables[t];
	for (size_t c = 0; c < tb->ncols; c++)
		if (!strcmp(tb->cols[c].json, json))
			return (int)c;
	fail_msg("no column %s", json);
	return -1;
}

static const struct top_row *row_of(const struct top_view *v, size_t p, size_t t, const char *key)
{
	const struct top_rows *rs = top_view_rows(v, p, t);
	for (size_t r = 0; r < rs->n; r++)
		if (!strcmp(rs->v[r].key, key))
			return &rs->v[r];
	return NULL;
}

static double cell(const struct top_view *v, const char *panel, const char *caption, const char *key,
		   const char *json, int *sev)
{
	size_t p, t;
	where(panel, caption, &p, &t);
	const struct top_row *r = row_of(v, p, t, key);
	if (!r)
		fail_msg("no row %s in %s", key, caption);
	const struct top_cell *c = &r->c[col_of(p, t, json)];
	if (sev)
		*sev = c->sev;
	return c->have ? c->v : NAN;
}

static void test_rates_ratios_quantiles(void **state)
{
	(void)state;
	struct stream st;
	stream_init(&st);
	struct top_view_opts vo = { .slow_ns = 5 * NS_PER_S, .history = 10 };
	struct top_view *v = top_view_new(&vo);
	const struct second sec = { .steal = { 5, 30 }, .reads = 100, .read_ms = 200, .io_ms = 500, .rx = 1000,
				    .hit = 900, .miss = 100, .runq_slot3 = 50 };
	top_view_push(v, stream_step(&st, &sec));
	/* one frame: gauges, but no rate yet */
	assert_true(isnan(cell(v, "CPU", "vCPU", "cpu1", "steal_pct", NULL)));
	for (int i = 0; i < 6; i++)
		top_view_push(v, stream_step(&st, &sec));
	int sev;
	assert_true(fabs(cell(v, "CPU", "vCPU", "cpu0", "steal_pct", &sev) - 5) < 1e-6);
	assert_int_equal(sev, SEV_OK);
	assert_true(fabs(cell(v, "CPU", "vCPU", "cpu1", "steal_pct", &sev) - 30) < 1e-6);
	assert_int_equal(sev, SEV_CRIT); /* 30 % >= the steal crit of 20 % */
	assert_true(fabs(cell(v, "CPU", "vCPU", "cpu1", "busy_pct", &sev) - 20) < 1e-6);
	assert_int_equal(sev, -1); /* no threshold on busy */
	/* a ratio of rates: 200 ms of reads over 100 reads a second */
	assert_true(fabs(cell(v, "IO", "device", "vda", "reads_per_s", NULL) - 100) < 1e-6);
	assert_true(fabs(cell(v, "IO", "device", "vda", "r_await_ms", NULL) - 2) < 1e-6);
	assert_true(fabs(cell(v, "IO", "device", "vda", "util_pct", NULL) - 50) < 1e-6);
	/* no reads: a ratio has no value rather than 0 */
	assert_true(isnan(cell(v, "IO", "device", "vdb", "r_await_ms", NULL)));
	assert_true(fabs(cell(v, "Net", "interface", "eth0", "rx_packets_per_s", NULL) - 1000) < 1e-6);
	/* NUMA comes on slow ticks: its rate looks back 5 s; the miss share sums two kinds below it */
	assert_true(fabs(cell(v, "Memory", "NUMA node", "node0", "hit_pages_per_s", NULL) - 900) < 1e-6);
	assert_true(fabs(cell(v, "Memory", "NUMA node", "node0", "miss_pct", &sev) - 10) < 1e-6);
	assert_int_equal(sev, SEV_WARN); /* numa_miss_pct warns at 10 % */
	/* 50 waits a second, all between 8 and 16 us: Prometheus' interpolation in that bucket */
	assert_true(fabs(cell(v, "Runq", "run queue", "", "runq_p50_us", NULL) - 12) < 1e-6);
	assert_true(fabs(cell(v, "Runq", "run queue", "", "runq_p99_us", NULL) - (8 + 8 * 0.99)) < 1e-6);
	/* findings came with the frames */
	size_t nf;
	const struct top_finding *fs = top_view_findings(v, &nf);
	assert_non_null(fs);
	assert_true(nf == rules_count());
	for (size_t i = 1; i < nf; i++) /* worst first */
		assert_true(!(fs[i].sev == SEV_CRIT && fs[i - 1].sev != SEV_CRIT));
	top_view_free(v);
	stream_done(&st);
}

static void test_sort_sparkline_idle(void **state)
{
	(void)state;
	struct stream st;
	stream_init(&st);
	struct top_view_opts vo = { .slow_ns = 5 * NS_PER_S, .history = 4 };
	struct top_view *v = top_view_new(&vo);
	const unsigned steal1[] = { 0, 10, 40, 20, 30, 50 };
	for (size_t i = 0; i < ARRAY_SIZE(steal1); i++) {
		struct second sec = { .steal = { 15, steal1[i] }, .reads = 10, .read_ms = 10, .io_ms = 10 };
		top_view_push(v, stream_step(&st, &sec));
	}
	size_t p, t;
	where("CPU", "vCPU", &p, &t);
	assert_int_equal(top_panel_sort_table(p), (int)t);
	const struct top_rows *rs = top_view_rows(v, p, t);
	assert_int_equal(rs->n, 2);
	assert_string_equal(rs->v[0].key, "cpu0"); /* by the labels at first */
	int steal = col_of(p, t, "steal_pct");
	top_view_sort(v, p, steal, false);
	rs = top_view_rows(v, p, t);
	assert_string_equal(rs->v[0].key, "cpu1"); /* 50 % > 15 %: largest first */
	top_view_sort(v, p, steal, true);
	assert_string_equal(top_view_rows(v, p, t)->v[0].key, "cpu0");
	/* the sort holds across frames */
	struct second sec = { .steal = { 15, 60 } };
	top_view_push(v, stream_step(&st, &sec));
	assert_string_equal(top_view_rows(v, p, t)->v[0].key, "cpu0");
	/* the history keeps the last 4 rates, oldest first (the first frame had none) */
	const struct top_row *r = row_of(v, p, t, "cpu1");
	assert_int_equal(r->nspark, 4);
	const double want[] = { 20, 30, 50, 60 };
	for (int i = 0; i < 4; i++)
		assert_true(fabs(r->spark[i] - want[i]) < 1e-6);
	/* vda read, vdb and loop0 never did: drawn as a count, kept for --json */
	where("IO", "device", &p, &t);
	rs = top_view_rows(v, p, t);
	assert_int_equal(rs->n, 3);
	assert_int_equal(rs->idle, 2);
	assert_false(row_of(v, p, t, "vda")->idle);
	assert_true(row_of(v, p, t, "vdb")->idle);
	/* forgetting everything (a replay stepping back) */
	top_view_clear(v);
	assert_int_equal(top_view_frames(v), 0);
	assert_int_equal(top_view_rows(v, p, t)->n, 0);
	top_view_free(v);
	stream_done(&st);
}

/* A counter going backwards (a device replaced, a wrap) gives no rate for that interval, never a negative one. */
static void test_counter_reset_has_no_rate(void **state)
{
	(void)state;
	struct stream st;
	stream_init(&st);
	struct top_view_opts vo = { .history = 4 };
	struct top_view *v = top_view_new(&vo);
	struct second sec = { .reads = 100, .read_ms = 100, .io_ms = 100 };
	for (int i = 0; i < 3; i++)
		top_view_push(v, stream_step(&st, &sec));
	assert_true(fabs(cell(v, "IO", "device", "vda", "reads_per_s", NULL) - 100) < 1e-6);
	st.rd_ios = 5; /* reset */
	st.rd_ms = 5;
	st.io_ms = 5;
	top_view_push(v, stream_step(&st, &sec));
	double x = cell(v, "IO", "device", "vda", "reads_per_s", NULL);
	assert_true(isnan(x) || x >= 0);
	top_view_push(v, stream_step(&st, &sec));
	assert_true(fabs(cell(v, "IO", "device", "vda", "reads_per_s", NULL) - 100) < 1e-6);
	top_view_free(v);
	stream_done(&st);
}

static void test_format(void **state)
{
	(void)state;
	char b[32];
	struct top_cell c = { .v = 30, .have = true };
	top_fmt(b, sizeof(b), &c, 7);
	assert_string_equal(b, "30.0");
	c.v = 41700;
	top_fmt(b, sizeof(b), &c, 7);
	assert_string_equal(b, "41.7k");
	c.v = 1234.5;
	top_fmt(b, sizeof(b), &c, 7);
	assert_string_equal(b, "1234.5");
	top_fmt(b, sizeof(b), &c, 4);
	assert_string_equal(b, "1234");
	c.v = 3.2e9;
	top_fmt(b, sizeof(b), &c, 7);
	assert_string_equal(b, "3.2G");
	c.have = false;
	top_fmt(b, sizeof(b), &c, 7);
	assert_string_equal(b, "-");
	assert_string_equal(top_unit_short("packets/s"), "pkt/s");
	assert_string_equal(top_unit_short("compactions/s"), "/s");
	assert_string_equal(top_unit_short("%"), "%");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_against_catalog),
		cmocka_unit_test(test_rates_ratios_quantiles),
		cmocka_unit_test(test_sort_sparkline_idle),
		cmocka_unit_test(test_counter_reset_has_no_rate),
		cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
