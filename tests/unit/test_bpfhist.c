/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The eBPF histogram helpers (src/analysis/bpfhist.c): percentiles from log2
 * histograms, differencing cumulative histograms between the first and last
 * sample, and hostile documents.  Expected values are worked out here from
 * the slot bounds, not copied from the code's output.
 */
#include "harness.h"

#include <math.h>

#include "analysis/analysis.h"
#include "analysis/bpfhist.h"

static void parse_str(const char *txt, uint64_t out[BPFHIST_SLOTS], int want)
{
	json_t *j = json_loads(txt, JSON_DECODE_ANY, NULL);
	assert_non_null(j);
	assert_int_equal(bpfhist_parse(j, out), want);
	json_decref(j);
}

/* ---------------- percentiles ---------------- */

static void test_percentile_one_slot(void **state)
{
	(void)state;
	uint64_t h[BPFHIST_SLOTS] = { 0 };
	h[3] = 100;	/* all in [8, 16) us */
	assert_float_equal(bpfhist_percentile(h, 0.5), 12.0, 1e-9);
	assert_float_equal(bpfhist_percentile(h, 0.25), 10.0, 1e-9);
	assert_float_equal(bpfhist_percentile(h, 1.0), 16.0, 1e-9);
	assert_true(bpfhist_total(h) == 100);
}

static void test_percentile_slot0_is_0_to_2(void **state)
{
	(void)state;
	uint64_t h[BPFHIST_SLOTS] = { 0 };
	h[0] = 10;	/* [0, 2) us: slot 0 also holds < 1 us */
	assert_float_equal(bpfhist_percentile(h, 0.5), 1.0, 1e-9);
}

static void test_percentile_tail(void **state)
{
	(void)state;
	uint64_t h[BPFHIST_SLOTS] = { 0 };
	h[0] = 90;
	h[10] = 10;	/* [1024, 2048) us */
	/* p50: rank 50 of 90 in [0,2) */
	assert_float_equal(bpfhist_percentile(h, 0.5), 2.0 * 50 / 90, 1e-9);
	/* p99: rank 99, 90 below, 9 of 10 into [1024, 2048) */
	assert_float_equal(bpfhist_percentile(h, 0.99), 1024 + 1024 * 0.9, 1e-9);
	/* p99.9: 9.9 of 10 */
	assert_float_equal(bpfhist_percentile(h, 0.999), 1024 + 1024 * 0.99, 1e-6);
}

static void test_percentile_empty_and_bad_q(void **state)
{
	(void)state;
	uint64_t h[BPFHIST_SLOTS] = { 0 };
	assert_true(bpfhist_percentile(h, 0.5) == -1);
	h[5] = 1;
	assert_true(bpfhist_percentile(h, 0) == -1);
	assert_true(bpfhist_percentile(h, NAN) == -1);
	assert_float_equal(bpfhist_percentile(h, 7), 64.0, 1e-9);	/* q clamped to 1 */
}

static void test_percentile_last_slot(void **state)
{
	(void)state;
	uint64_t h[BPFHIST_SLOTS] = { 0 };
	h[BPFHIST_SLOTS - 1] = UINT64_MAX / 4;
	double p = bpfhist_percentile(h, 0.5);
	assert_true(p > ldexp(1.0, BPFHIST_SLOTS - 1) && isfinite(p));
}

/* ---------------- parsing and deltas ---------------- */

/* Time per slot is counted at the slot's midpoint: 2 requests in [4, 8) us
 * and 1 in [0, 2) us make 2 * 6 + 1 * 1 = 13 us. */
static void test_sum_us(void **state)
{
	(void)state;
	uint64_t h[BPFHIST_SLOTS] = { 0 };
	assert_true(bpfhist_sum_us(h) == 0);
	h[2] = 2;
	h[0] = 1;
	assert_true(bpfhist_sum_us(h) > 12.99 && bpfhist_sum_us(h) < 13.01);
}

static void test_parse_malformed(void **state)
{
	(void)state;
	uint64_t h[BPFHIST_SLOTS];
	parse_str("[1,2,3]", h, 0);
	assert_true(h[0] == 1 && h[2] == 3 && h[3] == 0);
	parse_str("[]", h, 0);
	parse_str("{}", h, -EINVAL);
	parse_str("[1,-2]", h, -EINVAL);
	assert_true(h[0] == 0);	/* zeroed on error */
	parse_str("[1,\"2\"]", h, -EINVAL);
	parse_str("[1.5]", h, -EINVAL);
	parse_str("[null]", h, -EINVAL);
	parse_str("[[1]]", h, -EINVAL);
	/* 65 slots: more than we keep */
	char big[400] = "[";
	for (int i = 0; i < 65; i++)
		strcat(big, i ? ",1" : "1");
	strcat(big, "]");
	parse_str(big, h, -EINVAL);
	assert_int_equal(bpfhist_parse(NULL, h), -EINVAL);
}

static void test_delta(void **state)
{
	(void)state;
	json_t *a = json_loads("[1,2,3]", 0, NULL), *b = json_loads("[2,2,5,1]", 0, NULL);
	json_t *c = json_loads("[0,9]", 0, NULL), *bad = json_loads("[\"x\"]", 0, NULL);
	uint64_t d[BPFHIST_SLOTS];
	assert_int_equal(bpfhist_delta(a, b, d), 0);
	assert_true(d[0] == 1 && d[1] == 0 && d[2] == 2 && d[3] == 1 && d[4] == 0);
	/* a slot that went down (reload, damage) counts as 0, never wraps */
	assert_int_equal(bpfhist_delta(b, c, d), 0);
	assert_true(d[0] == 0 && d[1] == 7 && d[2] == 0 && d[3] == 0);
	assert_int_equal(bpfhist_delta(NULL, b, d), 0);
	assert_true(d[2] == 5);
	assert_int_equal(bpfhist_delta(bad, b, d), -EINVAL);
	assert_int_equal(bpfhist_delta(a, bad, d), -EINVAL);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(bad);
}

/* ---------------- from samples ---------------- */

#define RQ1 "{\"available\":true,\"unit\":\"us\",\"buckets\":\"log2\",\"kinds\":{\"wakeup\":[10,5],\"preempt\":[1]}," \
	    "\"per_cpu\":{\"0\":[6,5],\"1\":[5]}}"
#define RQ2 "{\"available\":true,\"unit\":\"us\",\"buckets\":\"log2\",\"kinds\":{\"wakeup\":[30,5,0,4],\"preempt\":[1,0,0,0,0,2]}," \
	    "\"per_cpu\":{\"0\":[6,5,0,4],\"1\":[25,0,0,0,0,2],\"3\":[0,1]}}"
#define BIO1 "{\"available\":true,\"unit\":\"us\",\"buckets\":\"log2\",\"devices\":{\"vda\":{" \
	     "\"queued\":{\"read\":[3],\"write\":[],\"flush\":[]},\"below\":{\"read\":[0,0,0,0,0,0,0,2],\"write\":[],\"flush\":[]}," \
	     "\"inflight_max\":1,\"inflight_now\":0}},\"cpuidle\":{\"driver\":\"haltpoll\",\"states\":[]}}"
#define BIO2 "{\"available\":true,\"unit\":\"us\",\"buckets\":\"log2\",\"devices\":{\"vda\":{" \
	     "\"queued\":{\"read\":[13],\"write\":[0,4],\"flush\":[]},\"below\":{\"read\":[0,0,0,0,0,0,0,12],\"write\":[0,0,0,0,0,0,0,0,4],\"flush\":[0,0,0,0,0,0,0,0,0,1]}," \
	     "\"inflight_max\":3,\"inflight_now\":1},\"loop0\":{\"queued\":{\"read\":[1]},\"below\":{\"read\":[0,1]},\"inflight_max\":1,\"inflight_now\":0}}," \
	     "\"cpuidle\":{\"driver\":\"haltpoll\",\"states\":[{\"name\":\"POLL\",\"exit_latency_us\":0}]}}"

struct watch {
	struct sample statics, s[4];
	size_t n;
	struct analysis an;
};

static void watch_add(struct watch *w, const char *rq, const char *bio)
{
	struct sample *s = &w->s[w->n];
	sample_init(s);
	s->index = (unsigned)w->n;
	s->mono_ns = (uint64_t)(w->n + 1) * 1000000000ull;
	s->slow = true;
	if (rq)
		sample_add(s, BPFHIST_RUNQLAT_PATH, rq, strlen(rq));
	if (bio)
		sample_add(s, BPFHIST_BIOLAT_PATH, bio, strlen(bio));
	w->n++;
}

static void watch_run(struct watch *w)
{
	analysis_init(&w->an, &w->statics, "test");
	for (size_t i = 0; i < w->n; i++)
		analysis_feed(&w->an, &w->s[i]);
	analysis_finish(&w->an);
}

static void watch_done(struct watch *w)
{
	analysis_done(&w->an);
	for (size_t i = 0; i < w->n; i++)
		sample_done(&w->s[i]);
	sample_done(&w->statics);
}

static struct watch *watch_new(void)
{
	struct watch *w = xcalloc(1, sizeof(*w));
	sample_init(&w->statics);
	return w;
}

static void test_runq_first_last(void **state)
{
	(void)state;
	struct watch *w = watch_new();
	watch_add(w, RQ1, NULL);
	watch_add(w, "not json at all", NULL);	/* a damaged middle sample is ignored */
	watch_add(w, RQ2, NULL);
	watch_run(w);
	assert_true(bpfhist_available(&w->an, "runqlat", NULL));
	assert_int_equal(w->an.bpf.runqlat.nbad, 1);
	uint64_t h[BPFHIST_SLOTS];
	assert_int_equal(bpfhist_runq_delta(&w->an, "wakeup", h), 0);
	assert_true(h[0] == 20 && h[1] == 0 && h[3] == 4);
	assert_int_equal(bpfhist_runq_delta(&w->an, "preempt", h), 0);
	assert_true(h[0] == 0 && h[5] == 2);
	assert_int_equal(bpfhist_runq_delta(&w->an, NULL, h), 0);
	assert_true(bpfhist_total(h) == 26);
	int cpus[8];
	assert_int_equal(bpfhist_runq_cpus(&w->an, cpus, 8), 3);
	assert_true(cpus[0] == 0 && cpus[1] == 1 && cpus[2] == 3);
	assert_int_equal(bpfhist_runq_cpu_delta(&w->an, 1, h), 0);
	assert_true(h[0] == 20 && h[5] == 2);
	assert_int_equal(bpfhist_runq_cpu_delta(&w->an, 3, h), 0);	/* new CPU: first counts as empty */
	assert_true(h[1] == 1);
	assert_int_equal(bpfhist_runq_cpu_delta(&w->an, 2, h), -ENODATA);
	/* no biolat in these samples */
	const char *why;
	assert_false(bpfhist_available(&w->an, "biolat", &why));
	assert_non_null(strstr(why, "no eBPF histograms"));
	assert_int_equal(bpfhist_dev_count(&w->an), 0);
	watch_done(w);
	free(w);
}

/* the queued mode: one kind, "any"; the mode is named in the capability line */
static void test_runq_queued_mode(void **state)
{
	(void)state;
	struct watch *w = watch_new();
	watch_add(w, "{\"available\":true,\"mode\":\"queued\",\"kinds\":{\"any\":[4,1]},\"per_cpu\":{\"0\":[4,1]}}", NULL);
	watch_add(w, "{\"available\":true,\"mode\":\"queued\",\"kinds\":{\"any\":[10,1,0,3]},\"per_cpu\":{\"0\":[10,1,0,3]}}", NULL);
	watch_run(w);
	uint64_t h[BPFHIST_SLOTS];
	assert_int_equal(bpfhist_runq_delta(&w->an, NULL, h), 0);
	assert_true(h[0] == 6 && h[1] == 0 && h[3] == 3 && bpfhist_total(h) == 9);
	assert_int_equal(bpfhist_runq_delta(&w->an, "wakeup", h), 0);	/* not measured in this mode */
	assert_true(bpfhist_total(h) == 0);
	assert_string_equal(bpfhist_runq_mode(&w->an), "queued mode");
	watch_done(w);
	free(w);

	/* a fallback names its reason; a bundle from before the modes reads as split */
	w = watch_new();
	watch_add(w, "{\"available\":true,\"mode\":\"split\",\"mode_why\":\"no cfs_rq.rq\",\"kinds\":{\"wakeup\":[1]}}", NULL);
	watch_run(w);
	assert_string_equal(bpfhist_runq_mode(&w->an), "split mode: no cfs_rq.rq");
	watch_done(w);
	free(w);
	w = watch_new();
	watch_add(w, RQ1, NULL);
	watch_run(w);
	assert_string_equal(bpfhist_runq_mode(&w->an), "split mode");
	watch_done(w);
	free(w);
	w = watch_new();
	watch_run(w);
	assert_null(bpfhist_runq_mode(&w->an));
	watch_done(w);
	free(w);
}

#define RQCG1 "{\"available\":true,\"kinds\":{\"wakeup\":[1]},\"per_cpu\":{}," \
	      "\"per_cgroup\":{\"1\":{\"path\":\"/\",\"hist\":[1,2]},\"42\":{\"path\":\"/hq.slice/a\",\"hist\":[0,0,0,5]}}}"
#define RQCG2 "{\"available\":true,\"kinds\":{\"wakeup\":[200]},\"per_cpu\":{}," \
	      "\"per_cgroup\":{\"1\":{\"path\":\"/\",\"hist\":[1,40]},\"42\":{\"path\":\"/hq.slice/a\",\"hist\":[0,0,0,105,0,0,0,0,0,0,50]}," \
	      "\"x7\":{\"hist\":[1]},\"-3\":{\"hist\":[1]},\"7\":{\"hist\":[-1]},\"8\":[1,2],\"99\":{\"hist\":[0,0,30]}," \
	      "\"5\":{\"path\":\"/bad\\u0001name\",\"hist\":[3]}}}"

static void test_runq_per_cgroup(void **state)
{
	(void)state;
	struct watch *w = watch_new();
	watch_add(w, RQCG1, NULL);
	watch_add(w, RQCG2, NULL);
	watch_run(w);
	struct bpfhist_cg cg[16];
	size_t n = bpfhist_runq_cgroups(&w->an, cg, 16);
	/* "x7", "-3", the negative slot and the non-object are skipped */
	assert_int_equal(n, 4);
	const struct bpfhist_cg *a = NULL, *root = NULL, *late = NULL, *bad = NULL;
	for (size_t i = 0; i < n; i++) {
		if (cg[i].id == 42)
			a = &cg[i];
		if (cg[i].id == 1)
			root = &cg[i];
		if (cg[i].id == 99)
			late = &cg[i];
		if (cg[i].id == 5)
			bad = &cg[i];
	}
	assert_non_null(a);
	assert_non_null(root);
	assert_non_null(late);
	assert_non_null(bad);
	assert_string_equal(a->path, "/hq.slice/a");
	assert_true(a->hist[3] == 100 && a->hist[10] == 50 && bpfhist_total(a->hist) == 150);
	assert_true(root->hist[0] == 0 && root->hist[1] == 38);
	assert_true(late->hist[2] == 30);	/* a cgroup new in the last document counts from empty */
	assert_string_equal(late->path, "");	/* no path: not resolved in user space */
	assert_string_equal(bad->path, "/bad?name");
	/* max bounds the output */
	assert_int_equal(bpfhist_runq_cgroups(&w->an, cg, 1), 1);
	watch_done(w);
	free(w);
}

static void test_cgroup_evidence(void **state)
{
	(void)state;
	struct watch *w = watch_new();
	for (int k = 0; k < 4; k++) {
		char psi[160];
		snprintf(psi, sizeof(psi), "some avg10=50.00 avg60=50.00 avg300=50.00 total=%d\n"
					   "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", k * 500000);
		watch_add(w, k == 0 ? RQCG1 : RQCG2, NULL);
		sample_add(&w->s[k], "proc/pressure/cpu", psi, strlen(psi));
	}
	watch_run(w);
	struct findings fs = { 0 };
	rules_evaluate(&w->an, &fs);
	const struct finding *f = NULL;
	for (size_t i = 0; i < fs.n; i++)
		if (!strcmp(fs.v[i].id, "guest-cpu-saturation"))
			f = &fs.v[i];
	assert_non_null(f);
	/* ranked by p99: /hq.slice/a (slot 10), id 99 (slot 2), the root (slot 1); under 20 waits is not listed */
	int first = -1, second = -1, seen_root = 0;
	for (size_t i = 0; i < f->nev; i++) {
		const struct evidence *e = &f->ev[i];
		if (strcmp(e->metric, "cgroup_runq_latency_p99_us") != 0)
			continue;
		if (first < 0)
			first = (int)i;
		else if (second < 0)
			second = (int)i;
		if (e->subject && !strcmp(e->subject, "/"))
			seen_root = 1;
		assert_true(e->subject && strcmp(e->subject, "cgroup id 5") != 0);
	}
	assert_true(first >= 0 && second >= 0);
	assert_string_equal(f->ev[first].subject, "/hq.slice/a");
	assert_true(f->ev[first].value >= 1024 && f->ev[first].value <= 2048);
	assert_string_equal(f->ev[second].subject, "cgroup id 99");	/* no path: listed by id */
	assert_true(seen_root == 1);
	findings_done(&fs);
	watch_done(w);
	free(w);
}

static void test_biolat_devices(void **state)
{
	(void)state;
	struct watch *w = watch_new();
	watch_add(w, NULL, BIO1);
	watch_add(w, NULL, BIO2);
	watch_run(w);
	assert_true(bpfhist_available(&w->an, "biolat", NULL));
	assert_int_equal(bpfhist_dev_count(&w->an), 2);
	bool vda = false, loop0 = false;
	for (size_t i = 0; i < bpfhist_dev_count(&w->an); i++) {
		vda |= strcmp(bpfhist_dev_name(&w->an, i), "vda") == 0;
		loop0 |= strcmp(bpfhist_dev_name(&w->an, i), "loop0") == 0;
	}
	assert_true(vda && loop0);
	assert_null(bpfhist_dev_name(&w->an, 2));
	uint64_t h[BPFHIST_SLOTS];
	assert_int_equal(bpfhist_dev_delta(&w->an, "vda", "queued", "read", h), 0);
	assert_true(h[0] == 10);
	assert_int_equal(bpfhist_dev_delta(&w->an, "vda", "below", "read", h), 0);
	assert_true(h[7] == 10 && bpfhist_total(h) == 10);
	/* all ops */
	assert_int_equal(bpfhist_dev_delta(&w->an, "vda", "below", NULL, h), 0);
	assert_true(h[7] == 10 && h[8] == 4 && h[9] == 1 && bpfhist_total(h) == 15);
	/* p50 of 10 reads all in [128, 256) */
	assert_int_equal(bpfhist_dev_delta(&w->an, "vda", "below", "read", h), 0);
	assert_float_equal(bpfhist_percentile(h, 0.5), 192.0, 1e-9);
	/* a disk only in the last sample */
	assert_int_equal(bpfhist_dev_delta(&w->an, "loop0", "below", "read", h), 0);
	assert_true(h[1] == 1);
	assert_int_equal(bpfhist_dev_delta(&w->an, "loop0", "below", "flush", h), 0);
	assert_true(bpfhist_total(h) == 0);
	assert_int_equal(bpfhist_dev_delta(&w->an, "sdz", "below", "read", h), -ENODATA);
	assert_int_equal(bpfhist_dev_delta(&w->an, "vda", "above", "read", h), -EINVAL);
	assert_int_equal(bpfhist_dev_delta(&w->an, "vda", "below", "trim", h), -EINVAL);
	long long mx, now;
	assert_int_equal(bpfhist_dev_inflight(&w->an, "vda", &mx, &now), 0);
	assert_true(mx == 3 && now == 1);
	assert_int_equal(bpfhist_dev_inflight(&w->an, "sdz", &mx, &now), -ENODATA);
	assert_string_equal(bpfhist_cpuidle_driver(&w->an), "haltpoll");
	assert_non_null(bpfhist_biolat_last(&w->an));
	watch_done(w);
	free(w);
}

static void test_unavailable_reason_and_capability(void **state)
{
	(void)state;
	struct watch *w = watch_new();
	watch_add(w, "{\"available\":false,\"reason\":\"permission denied: eBPF needs root\"}",
		  "{\"available\":false,\"reason\":\"no kernel BTF\"}");
	watch_add(w, "{\"available\":false,\"reason\":\"permission denied: eBPF needs root\"}",
		  "{\"available\":false,\"reason\":\"no kernel BTF\"}");
	watch_run(w);
	const char *why;
	assert_false(bpfhist_available(&w->an, "runqlat", &why));
	assert_string_equal(why, "permission denied: eBPF needs root");
	assert_false(bpfhist_available(&w->an, "biolat", &why));
	assert_string_equal(why, "no kernel BTF");
	uint64_t h[BPFHIST_SLOTS];
	assert_int_equal(bpfhist_runq_delta(&w->an, NULL, h), -ENODATA);
	assert_int_equal(bpfhist_dev_delta(&w->an, "vda", "below", NULL, h), -ENODATA);
	struct capabilities caps;
	capabilities_build(&w->an, &caps);
	bool found = false;
	for (size_t i = 0; i < caps.n; i++)
		if (strcmp(caps.v[i].name, "eBPF") == 0) {
			found = true;
			assert_false(caps.v[i].ok);
			assert_non_null(strstr(caps.v[i].detail, "root"));
		}
	assert_true(found);
	capabilities_done(&caps);
	watch_done(w);
	free(w);
}

static void test_hostile_documents(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"[]", "null", "{\"available\":true}", "{\"available\":true,\"kinds\":[1,2]}",
		"{\"available\":\"yes\",\"kinds\":{}}", "{\"available\":true,\"kinds\":{},\"kinds\":{}}",
	};
	struct watch *w = watch_new();
	for (size_t i = 0; i < 4 && i < ARRAY_SIZE(bad); i++)
		watch_add(w, bad[i], NULL);
	watch_run(w);
	assert_false(bpfhist_available(&w->an, "runqlat", NULL));
	watch_done(w);
	free(w);
	/* wrong types deep inside a usable document: helpers refuse, never crash */
	w = watch_new();
	watch_add(w, "{\"available\":true,\"kinds\":{\"wakeup\":\"many\",\"preempt\":[-1]},\"per_cpu\":{\"x\":[1],\"0\":7}}",
		  "{\"available\":true,\"devices\":{\"vda\":{\"below\":{\"read\":{}},\"inflight_max\":\"1\"}},\"cpuidle\":7}");
	watch_run(w);
	uint64_t h[BPFHIST_SLOTS];
	assert_int_equal(bpfhist_runq_delta(&w->an, NULL, h), -EINVAL);
	assert_int_equal(bpfhist_runq_cpu_delta(&w->an, 0, h), -EINVAL);
	int cpus[4];
	assert_int_equal(bpfhist_runq_cpus(&w->an, cpus, 4), 1);
	assert_int_equal(bpfhist_dev_delta(&w->an, "vda", "below", "read", h), -EINVAL);
	assert_int_equal(bpfhist_dev_delta(&w->an, "vda", "queued", NULL, h), 0);
	long long mx, now;
	assert_int_equal(bpfhist_dev_inflight(&w->an, "vda", &mx, &now), -ENODATA);
	assert_null(bpfhist_cpuidle_driver(&w->an));
	watch_done(w);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_percentile_one_slot),
		cmocka_unit_test(test_percentile_slot0_is_0_to_2),
		cmocka_unit_test(test_percentile_tail),
		cmocka_unit_test(test_percentile_empty_and_bad_q),
		cmocka_unit_test(test_percentile_last_slot),
		cmocka_unit_test(test_sum_us),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_delta),
		cmocka_unit_test(test_runq_first_last),
		cmocka_unit_test(test_runq_queued_mode),
		cmocka_unit_test(test_runq_per_cgroup),
		cmocka_unit_test(test_cgroup_evidence),
		cmocka_unit_test(test_biolat_devices),
		cmocka_unit_test(test_unavailable_reason_and_capability),
		cmocka_unit_test(test_hostile_documents),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
