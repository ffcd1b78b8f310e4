/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* QEMU's block latency histograms (src/parse/qmphist.c). */
#include "harness.h"

#include <math.h>

#include "parse/qmphist.h"

static json_t *J(const char *s)
{
	json_t *j = json_loads(s, 0, NULL);
	assert_non_null(j);
	return j;
}

static int parse_str(const char *s, struct qmphist *h)
{
	json_t *j = J(s);
	int r = qmphist_parse(j, h);
	json_decref(j);
	return r;
}

static void test_parse_shapes(void **state)
{
	(void)state;
	struct qmphist h;
	assert_int_equal(parse_str("{\"boundaries\":[1000,2000],\"bins\":[1,2,3]}", &h), 0);
	assert_int_equal(h.nbins, 3);
	assert_true(h.bound_ns[1] == 2000 && h.bins[2] == 3 && qmphist_total(&h) == 6);
	/* QEMU with no boundaries at all: one bin, [0, inf) */
	assert_int_equal(parse_str("{\"boundaries\":[],\"bins\":[7]}", &h), 0);
	assert_int_equal(h.nbins, 1);
	static const char *const bad[] = {
		"{\"boundaries\":[1000,2000],\"bins\":[1,2]}",		/* one bin short */
		"{\"boundaries\":[2000,1000],\"bins\":[1,2,3]}",	/* not increasing */
		"{\"boundaries\":[1000,1000],\"bins\":[1,2,3]}",	/* not strictly */
		"{\"boundaries\":[1000],\"bins\":[1,-2]}",		/* negative count */
		"{\"boundaries\":[1000],\"bins\":[1,2.5]}",		/* not an integer */
		"{\"boundaries\":[\"1000\"],\"bins\":[1,2]}",
		"{\"boundaries\":{},\"bins\":[1]}",
		"{\"bins\":[1]}",
		"[]",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(parse_str(bad[i], &h), -EINVAL);
	/* more bins than we keep */
	char buf[2048];
	int o = snprintf(buf, sizeof(buf), "{\"boundaries\":[");
	for (int i = 0; i < QMPHIST_MAX_BINS; i++)
		o += snprintf(buf + o, sizeof(buf) - (size_t)o, "%s%d", i ? "," : "", 1000 * (i + 1));
	o += snprintf(buf + o, sizeof(buf) - (size_t)o, "],\"bins\":[");
	for (int i = 0; i <= QMPHIST_MAX_BINS; i++)
		o += snprintf(buf + o, sizeof(buf) - (size_t)o, "%s0", i ? "," : "");
	snprintf(buf + o, sizeof(buf) - (size_t)o, "]}");
	assert_int_equal(parse_str(buf, &h), -EINVAL);
}

static void test_delta_and_reset(void **state)
{
	(void)state;
	struct qmphist a, b, c, d;
	assert_int_equal(parse_str("{\"boundaries\":[1000,2000],\"bins\":[1,2,3]}", &a), 0);
	assert_int_equal(parse_str("{\"boundaries\":[1000,2000],\"bins\":[5,2,4]}", &b), 0);
	assert_int_equal(qmphist_delta(&a, &b, &d), 0);
	assert_true(d.bins[0] == 4 && d.bins[1] == 0 && d.bins[2] == 1);
	assert_int_equal(qmphist_delta(NULL, &b, &d), 0);	/* appeared during the watch */
	assert_true(qmphist_total(&d) == 11);
	/* reset in between: a bin went down, or other boundaries */
	assert_int_equal(parse_str("{\"boundaries\":[1000,2000],\"bins\":[0,2,4]}", &c), 0);
	assert_int_equal(qmphist_delta(&a, &c, &d), -ESTALE);
	assert_true(qmphist_total(&d) == 6);	/* counts since the reset */
	assert_int_equal(parse_str("{\"boundaries\":[1000,3000],\"bins\":[5,2,4]}", &c), 0);
	assert_int_equal(qmphist_delta(&a, &c, &d), -ESTALE);
	assert_int_equal(parse_str("{\"boundaries\":[1000],\"bins\":[5,2]}", &c), 0);
	assert_int_equal(qmphist_delta(&a, &c, &d), -ESTALE);
}

static void test_percentiles(void **state)
{
	(void)state;
	struct qmphist h;
	bool open;
	/* 100 in [1, 2) ms... boundaries in ns: [0,1000) [1000,2000) [2000,inf) */
	assert_int_equal(parse_str("{\"boundaries\":[1000,2000],\"bins\":[0,100,0]}", &h), 0);
	assert_true(fabs(qmphist_percentile_us(&h, 0.5, &open) - 1.5) < 1e-9 && !open);
	assert_true(fabs(qmphist_percentile_us(&h, 1.0, &open) - 2.0) < 1e-9 && !open);
	/* the first bin starts at 0 */
	assert_int_equal(parse_str("{\"boundaries\":[1000,2000],\"bins\":[10,0,0]}", &h), 0);
	assert_true(fabs(qmphist_percentile_us(&h, 0.5, NULL) - 0.5) < 1e-9);
	/* a tail in the open bin: "at least" its lower boundary */
	assert_int_equal(parse_str("{\"boundaries\":[1000,2000],\"bins\":[98,0,2]}", &h), 0);
	assert_true(qmphist_percentile_us(&h, 0.5, &open) < 1.0 && !open);
	assert_true(fabs(qmphist_percentile_us(&h, 0.99, &open) - 2.0) < 1e-9 && open);
	/* one bin only: everything is open */
	assert_int_equal(parse_str("{\"boundaries\":[],\"bins\":[4]}", &h), 0);
	assert_true(qmphist_percentile_us(&h, 0.5, &open) == 0 && open);
	/* empty, or a bad quantile */
	assert_int_equal(parse_str("{\"boundaries\":[1000],\"bins\":[0,0]}", &h), 0);
	assert_true(qmphist_percentile_us(&h, 0.5, &open) == -1 && !open);
	assert_int_equal(parse_str("{\"boundaries\":[1000],\"bins\":[1,0]}", &h), 0);
	assert_true(qmphist_percentile_us(&h, 0, NULL) == -1);
	assert_true(qmphist_percentile_us(&h, NAN, NULL) == -1);
	assert_true(qmphist_percentile_us(&h, 7, NULL) <= 1.0);
}

static void test_default_bounds(void **state)
{
	(void)state;
	uint64_t b[64];
	size_t n = qmphist_default_bounds(b, 64);
	assert_int_equal(n, 23);
	assert_true(b[0] == 1000 && b[1] == 2000 && b[22] == 1000ull << 22);
	assert_int_equal(qmphist_default_bounds(b, 3), 3);
	assert_true(n + 1 <= QMPHIST_MAX_BINS);	/* QEMU's answer to our own boundaries fits */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_shapes),
		cmocka_unit_test(test_delta_and_reset),
		cmocka_unit_test(test_percentiles),
		cmocka_unit_test(test_default_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
