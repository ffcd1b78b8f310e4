/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The stall methods: their names, the eBPF source's merge of one
 * interrupt's late timers, the parser of ".hiddenq/stalls.json" whatever
 * method wrote it, and the memory analysis on files of the eBPF method (a
 * late timer is never the guest's run queue or memory).  The live drain of
 * each method is checked for its shape (the eBPF one may be refused here:
 * then for the reason).
 */
#include "harness.h"

#include <jansson.h>
#include <time.h>

#include "analysis/mem.h"
#include "parse/stallparse.h"
#include "sources/stallmon.h"
#include "sources/stalls.h"
#include "sources/bpf/bpfsrc.h"

static void test_method_names(void **state)
{
	(void)state;
	static const char *const names[] = { "off", "auto", "bpf", "coarse", "sampler" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		enum stall_method m;
		assert_int_equal(stall_method_parse(names[i], &m), 0);
		assert_string_equal(stall_method_name(m), names[i]);
	}
	enum stall_method m = STALLS_SAMPLER;
	assert_int_equal(stall_method_parse("BPF", &m), -EINVAL);
	assert_int_equal(stall_method_parse("", &m), -EINVAL);
	assert_int_equal(m, STALLS_SAMPLER);
	assert_string_equal(stall_method_name((enum stall_method)42), "?");
}

#define T0 (500 * NS_PER_S)

static void test_merge_one_interrupt(void **state)
{
	(void)state;
	struct tl_rec v[] = {
		{ T0, 30 * NS_PER_MS, 0, 1, 1 },		  /* CPU 0's interrupt: the tick ... */
		{ T0 + 500000, 4 * NS_PER_MS, 1, 0, 1 },	  /* CPU 1, its own stall */
		{ T0 + 20000, 31 * NS_PER_MS, 0, 2, 1 },	  /* ... and a sleeper due earlier, in the same one */
		{ T0 + 30000, 2 * NS_PER_MS, 0, 4, 0 },		  /* ... a later one, less late (timers 0: one) */
		{ T0 + 400 * NS_PER_MS, 3 * NS_PER_MS, 0, 0, 1 }, /* CPU 0 again, another stall */
		{ T0 + 400 * NS_PER_MS + 1500000, 5 * NS_PER_MS, 0, 0, 1 }, /* 1.5 ms later: not the same */
	};
	size_t n = timerlate_merge(v, ARRAY_SIZE(v), NS_PER_MS);
	assert_int_equal(n, 4);
	assert_int_equal(v[0].cpu, 0);
	assert_int_equal(v[0].late_ns, 31 * NS_PER_MS);
	assert_int_equal(v[0].flags, 2);	/* the latest timer's */
	assert_int_equal(v[0].timers, 3);
	assert_int_equal(v[0].t_ns, T0 + 30000);
	assert_int_equal(v[1].cpu, 1);
	assert_int_equal(v[1].timers, 1);
	assert_int_equal(v[2].late_ns, 3 * NS_PER_MS);
	assert_int_equal(v[3].late_ns, 5 * NS_PER_MS);
	assert_int_equal(timerlate_merge(v, 0, NS_PER_MS), 0);
}

static void parse(const char *txt, struct stall_doc *d)
{
	assert_int_equal(stall_doc_parse(txt, strlen(txt), d), 0);
}

static void test_doc_shapes(void **state)
{
	(void)state;
	struct stall_doc d;
	/* no method: the 1 ms sampler of older bundles and probe jitter */
	parse("{\"sleep_ns\":1000000,\"loops\":90,\"stalls\":[{\"t_ns\":5,\"late_ns\":3000000,\"rundelay_ns\":7,"
	      "\"cpu\":1}]}",
	      &d);
	assert_string_equal(d.method, "sampler");
	assert_true(d.available);
	assert_int_equal(d.loops, 90);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.items[0].rundelay_ns, 7);
	assert_int_equal(d.items[0].cpu, 1);
	stall_doc_done(&d);

	/* the eBPF method refused */
	parse("{\"method\":\"bpf\",\"asked\":\"bpf\",\"available\":false,\"reason\":\"eBPF refused: x\\u0001y\"}", &d);
	assert_string_equal(d.method, "bpf");
	assert_string_equal(d.asked, "bpf");
	assert_false(d.available);
	assert_string_equal(d.reason, "eBPF refused: x?y");
	assert_int_equal(d.n, 0);
	stall_doc_done(&d);

	/* auto fell back: the reason is kept, the method ran */
	parse("{\"method\":\"coarse\",\"asked\":\"auto\",\"available\":true,\"fallback_reason\":\"no BTF\","
	      "\"sleep_ns\":20000000,\"tight_ns\":3000,\"loops\":4}",
	      &d);
	assert_string_equal(d.method, "coarse");
	assert_true(d.available);
	assert_string_equal(d.reason, "no BTF");
	assert_int_equal(d.tight_ns, 3000);
	stall_doc_done(&d);

	/* bpf with damaged records and per-CPU entries */
	parse("{\"method\":\"bpf\",\"timers\":77,\"dropped\":-3,\"stalls\":["
	      "{\"t_ns\":9,\"late_ns\":2500000,\"cpu\":3,\"timers\":2,\"idle\":true},"
	      "{\"t_ns\":10,\"late_ns\":0},{\"late_ns\":5},{\"t_ns\":11,\"late_ns\":4000000,\"cpu\":99999,"
	      "\"timers\":\"x\",\"idle\":1},7,null],"
	      "\"per_cpu\":{\"0\":{\"count\":10,\"max_us\":40,\"max_gap_us\":9000},\"x\":{},\"-1\":{},\"1\":5,"
	      "\"5000\":{\"count\":1},\"2\":{\"count\":-4}}}",
	      &d);
	assert_int_equal(d.timers, 77);
	assert_int_equal(d.dropped, 0);
	assert_int_equal(d.n, 2);
	assert_true(d.items[0].idle);
	assert_int_equal(d.items[0].timers, 2);
	assert_int_equal(d.items[1].cpu, -1);
	assert_false(d.items[1].idle);
	assert_int_equal(d.items[1].timers, 0);
	assert_int_equal(d.ncpus, 2);
	bool saw0 = false;
	for (size_t i = 0; i < d.ncpus; i++)
		if (d.cpus[i].cpu == 0) {
			saw0 = true;
			assert_int_equal(d.cpus[i].count, 10);
			assert_int_equal(d.cpus[i].max_gap_us, 9000);
		} else {
			assert_int_equal(d.cpus[i].cpu, 2);
			assert_int_equal(d.cpus[i].count, 0);
		}
	assert_true(saw0);
	stall_doc_done(&d);

	/* not an object, not JSON, a method that is not a string */
	assert_int_equal(stall_doc_parse("[1]", 3, &d), -EINVAL);
	assert_int_equal(stall_doc_parse("{\"method\"", 9, &d), -EINVAL);
	parse("{\"method\":5}", &d);
	assert_string_equal(d.method, "sampler");
	stall_doc_done(&d);
}

/* ---------------- the analysis of eBPF records ---------------- */

static void put_sample(struct sample *s, uint64_t k, uint64_t steal0, uint64_t compact, const char *stalls)
{
	struct fake_cpu c[2] = {
		{ 0, true, { 100 + 5 * k, 0, 50, 1000 + 5 * k, 0, 0, 0, steal0, 0, 0 } },
		{ 1, true, { 100 + 5 * k, 0, 50, 1000 + 5 * k, 0, 0, 0, 0, 0, 0 } },
	};
	char *txt = fake_procstat(c, 2, 10, 1);
	sample_put(s, "proc/stat", txt);
	free(txt);
	txt = xasprintf("pswpin 0\npswpout 0\npgscan_direct 0\ncompact_stall %llu\n", (unsigned long long)compact);
	sample_put(s, "proc/vmstat", txt);
	free(txt);
	if (stalls)
		sample_put(s, STALLS_PATH, stalls);
}

static void test_bpf_records_are_not_the_guest(void **state)
{
	(void)state;
	struct mem_analysis m;
	mem_init(&m);
	for (uint64_t k = 0; k < 4; k++) {
		struct sample s;
		sample_init(&s);
		s.mono_ns = 1000 * NS_PER_S + k * 100 * NS_PER_MS;
		char *pc = xasprintf("\"per_cpu\":{\"0\":{\"count\":%u,\"max_gap_us\":8000},\"1\":{\"count\":%u}}",
				     (unsigned)(100 + 10 * k), (unsigned)(200 + 30 * k));
		const char *recs = "";
		if (k == 2) /* steal moved on CPU 0 (3 ticks), compaction moved: a 40 ms stall on each CPU */
			recs = "{\"t_ns\":1,\"late_ns\":40000000,\"rundelay_ns\":40000000,\"cpu\":0},"
			       "{\"t_ns\":2,\"late_ns\":40000000,\"cpu\":1,\"idle\":true}";
		char *j = xasprintf("{\"method\":\"bpf\",\"asked\":\"auto\",\"available\":true,\"timers\":25,"
				    "\"stalls\":[%s],%s}",
				    recs, pc);
		put_sample(&s, k, k >= 2 ? 3 : 0, k >= 2 ? 5 : 0, j);
		free(j);
		free(pc);
		mem_feed(&m, &s);
		sample_done(&s);
	}
	assert_string_equal(m.stall_method, "bpf");
	assert_string_equal(m.stall_asked, "auto");
	assert_false(m.stall_refused);
	assert_int_equal(m.timers, 100);
	assert_int_equal(m.nstalls, 2);
	/* CPU 0: the run delay in the record is ignored (a timer has none); steal 30 ms, the rest below */
	assert_int_equal(m.stalls[0].share_ns[SC_RUNQ], 0);
	assert_int_equal(m.stalls[0].share_ns[SC_STEAL], 30 * NS_PER_MS);
	assert_int_equal(m.stalls[0].share_ns[SC_BELOW], 10 * NS_PER_MS);
	assert_int_equal(m.stalls[0].share_ns[SC_COMPACTION], 0);
	/* CPU 1: no steal there; compaction moved, but it cannot delay a timer: below */
	assert_int_equal(m.stalls[1].share_ns[SC_BELOW], 40 * NS_PER_MS);
	assert_int_equal(m.stalls[1].share_ns[SC_COMPACTION], 0);
	assert_int_equal(m.stalls[1].main, SC_BELOW);
	assert_true(m.stalls[1].idle);
	/* per-CPU timer counts over the watch */
	assert_int_equal(m.ntl_cpus, 2);
	assert_int_equal(m.tl_cpus[0].last - m.tl_cpus[0].first, 30);
	assert_int_equal(m.tl_cpus[1].last - m.tl_cpus[1].first, 90);
	assert_int_equal(m.tl_cpus[0].max_gap_us, 8000);
	mem_done(&m);

	/* a refused method: seen, refused, with its reason */
	mem_init(&m);
	struct sample s;
	sample_init(&s);
	s.mono_ns = NS_PER_S;
	put_sample(&s, 0, 0, 0, "{\"method\":\"bpf\",\"available\":false,\"reason\":\"eBPF refused: EPERM\"}");
	mem_feed(&m, &s);
	sample_done(&s);
	assert_true(m.stalls_seen);
	assert_true(m.stall_refused);
	assert_string_equal(m.stall_reason, "eBPF refused: EPERM");
	mem_done(&m);
}

/* ---------------- the live drains ---------------- */

static json_t *drain_one(struct stalls *st, bool slow)
{
	struct sample s;
	sample_init(&s);
	stalls_drain(st, &s, slow);
	const struct sfile *f = sample_find(&s, STALLS_PATH);
	assert_non_null(f);
	json_error_t err;
	json_t *o = json_loadb(f->data, f->len, 0, &err);
	assert_true(json_is_object(o));
	sample_done(&s);
	return o;
}

static void test_live_drains(void **state)
{
	(void)state;
	assert_null(stalls_start(STALLS_OFF));
	stalls_drain(NULL, NULL, true); /* nothing to do, no crash */
	const char *why;
	assert_int_equal(stalls_running(NULL, &why), STALLS_OFF);

	struct stalls *st = stalls_start(STALLS_COARSE);
	assert_non_null(st);
	assert_int_equal(stalls_running(st, &why), STALLS_COARSE);
	assert_null(why);
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	json_t *o = drain_one(st, false);
	assert_string_equal(json_string_value(json_object_get(o, "method")), "coarse");
	assert_true(json_is_true(json_object_get(o, "available")));
	assert_int_equal(json_integer_value(json_object_get(o, "sleep_ns")), STALL_COARSE_SLEEP_NS);
	assert_int_equal(json_integer_value(json_object_get(o, "tight_sleep_ns")), STALL_SAMPLER_SLEEP_NS);
	assert_true(json_is_array(json_object_get(o, "stalls")));
	json_decref(o);
	stalls_stop(st);

	/* bpf: loads as root with BTF, else says why in every drain */
	st = stalls_start(STALLS_BPF);
	assert_non_null(st);
	o = drain_one(st, true);
	assert_string_equal(json_string_value(json_object_get(o, "method")), "bpf");
	if (stalls_running(st, &why) == STALLS_BPF) {
		assert_true(json_is_true(json_object_get(o, "available")));
		assert_true(json_is_array(json_object_get(o, "stalls")));
		assert_true(json_is_integer(json_object_get(o, "timers")));
		assert_true(json_is_object(json_object_get(o, "per_cpu")));
	} else {
		assert_true(json_is_false(json_object_get(o, "available")));
		const char *r = json_string_value(json_object_get(o, "reason"));
		assert_non_null(r);
		assert_true(strncmp(r, "eBPF refused: ", 14) == 0);
		printf("[  INFO    ] eBPF stall method refused here: %s\n", r);
	}
	json_decref(o);
	json_t *src = stalls_source_json(st);
	assert_string_equal(json_string_value(json_object_get(src, "asked")), "bpf");
	json_decref(src);
	stalls_stop(st);
}

int main(void)
{
	hq_quiet = true;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_method_names),
		cmocka_unit_test(test_merge_one_interrupt),
		cmocka_unit_test(test_doc_shapes),
		cmocka_unit_test(test_bpf_records_are_not_the_guest),
		cmocka_unit_test(test_live_drains),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
