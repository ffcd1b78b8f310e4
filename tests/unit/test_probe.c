/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The probes' arithmetic on known inputs: the log-linear histogram's buckets
 * and percentiles, the pre-copy model against hand-computed rounds, the
 * pagemap and maps parsers, and the size and rate parsers.
 */
#include "harness.h"

#include <math.h>

#include "probe/hist.h"
#include "probe/pagemap.h"
#include "probe/precopy.h"
#include "probe/probe.h"

static void test_hist_buckets(void **state)
{
	(void)state;
	/* every value lies in its bucket, and a bucket is at most 1/32 of its value */
	uint64_t v = 1;
	for (int i = 0; i < 2000; i++) {
		v = v * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t x = v >> (i % 64);
		unsigned idx = hist_index(x);
		assert_true(idx < HIST_NBUCKETS);
		uint64_t lo, w;
		hist_bucket_range(idx, &lo, &w);
		assert_true(x >= lo);
		assert_true(x - lo < w);
		if (x >= 32)
			assert_true((double)w <= (double)x / 32.0 + 1e-9);
	}
	for (uint64_t x = 0; x < 32; x++)
		assert_int_equal(hist_index(x), x);
}

static void test_hist_percentiles(void **state)
{
	(void)state;
	struct hist h;
	hist_init(&h);
	assert_true(hist_pct(&h, 50) == 0);
	/* 1 ns .. 100 us uniform, 100 000 values */
	for (uint64_t i = 1; i <= 100000; i++)
		hist_add(&h, i);
	assert_int_equal(h.count, 100000);
	assert_int_equal(h.min, 1);
	assert_int_equal(h.max, 100000);
	static const double ps[] = { 50, 90, 99, 99.9 };
	for (size_t k = 0; k < ARRAY_SIZE(ps); k++) {
		double want = ps[k] * 1000, got = hist_pct(&h, ps[k]);
		assert_true(fabs(got - want) / want < 0.032);
	}
	assert_true(hist_pct(&h, 100) == 100000);
	assert_true(fabs(hist_mean(&h) - 50000.5) < 1e-6);
	/* one outlier in a thousand moves p99.9, not p99 */
	struct hist t;
	hist_init(&t);
	for (int i = 0; i < 999; i++)
		hist_add(&t, 10000);
	hist_add(&t, 5000000);
	assert_true(fabs(hist_pct(&t, 99) - 10000) / 10000 < 0.032);
	assert_true(hist_pct(&t, 100) == 5000000);
	/* merge */
	struct hist m;
	hist_init(&m);
	hist_merge(&m, &h);
	hist_merge(&m, &t);
	assert_int_equal(m.count, 101000);
	assert_int_equal(m.max, 5000000);
	assert_int_equal(m.min, 1);
	/* small exact values */
	hist_init(&t);
	for (int i = 0; i < 10; i++)
		hist_add(&t, 7);
	assert_true(hist_pct(&t, 50) == 7);
	json_t *j = hist_json(&h);
	assert_true(fabs(json_real_value(json_object_get(j, "p50_us")) - 50.0) < 1.6);
	json_decref(j);
}

/* W(t) = rate * t pages, saturating at cap */
static void linear_w(struct wcurve *w, double rate, double cap)
{
	static const double ts[] = { 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30 };
	memset(w, 0, sizeof(*w));
	for (size_t i = 0; i < ARRAY_SIZE(ts); i++)
		assert_int_equal(wcurve_add(w, ts[i], rate * ts[i] < cap ? rate * ts[i] : cap), 0);
}

static void test_precopy_converges(void **state)
{
	(void)state;
	struct wcurve w;
	linear_w(&w, 5000, 1e9); /* 20 MiB/s of 4 KiB pages */
	bool beyond;
	assert_true(fabs(wcurve_at(&w, 0.05, &beyond) - 250) < 1e-9 && !beyond);
	assert_true(fabs(wcurve_at(&w, 2.56, &beyond) - 12800) < 1e-6 && !beyond);
	/* 256 MiB at 100 MiB/s (25 600 pages/s), 300 ms target:
	 * round 1 2.56 s -> W = 12 800 pages; round 2 0.5 s -> W = 2 500 pages,
	 * 97.7 ms to send: under the target, so the pause sends them */
	struct precopy_in in = { .mem_pages = 65536, .page_size = 4096, .bw_Bps = 100.0 * 1048576,
				 .downtime_s = 0.3 };
	struct precopy_out o;
	assert_int_equal(precopy_predict(&w, &in, &o), 0);
	assert_true(o.converges);
	assert_int_equal(o.rounds, 2);
	assert_true(fabs(o.round_s[0] - 2.56) < 1e-9);
	assert_true(fabs(o.round_s[1] - 0.5) < 1e-9);
	assert_true(fabs(o.downtime_s - 2500.0 / 25600) < 1e-9);
	assert_true(fabs(o.total_s - (2.56 + 0.5 + 2500.0 / 25600)) < 1e-9);
	assert_false(o.beyond_measured);
	assert_true(precopy_throttle_needed(&w, &in) == 0);
	/* bad input */
	in.bw_Bps = 0;
	assert_int_equal(precopy_predict(&w, &in, &o), -1);
}

static void test_precopy_diverges(void **state)
{
	(void)state;
	struct wcurve w;
	/* 195 MiB/s over a 256 MiB working set, 50 MiB/s link: never shrinks */
	linear_w(&w, 50000, 65536);
	struct precopy_in in = { .mem_pages = 65536, .page_size = 4096, .bw_Bps = 50.0 * 1048576,
				 .downtime_s = 0.3 };
	struct precopy_out o;
	assert_int_equal(precopy_predict(&w, &in, &o), 0);
	assert_false(o.converges);
	assert_int_equal(o.rounds, 2);
	assert_true(fabs(o.stuck_pages - 65536) < 1e-6);
	assert_true(fabs(o.stuck_downtime_s - 5.12) < 1e-9);
	double th = precopy_throttle_needed(&w, &in);
	assert_true(th > 0 && th < 1);
	in.throttle = th;
	assert_int_equal(precopy_predict(&w, &in, &o), 0);
	assert_true(o.converges);
	in.throttle = th - 0.01;
	assert_int_equal(precopy_predict(&w, &in, &o), 0);
	assert_false(o.converges);
	/* a working set that cannot go within any pause at any throttle: post-copy */
	struct wcurve all;
	memset(&all, 0, sizeof(all));
	wcurve_add(&all, 1e-6, 65536);
	wcurve_add(&all, 30, 65536);
	in.throttle = 0;
	assert_true(precopy_throttle_needed(&all, &in) < 0);
	/* extension past the last point follows the last slope, capped by memory */
	struct wcurve lin;
	linear_w(&lin, 100, 1e9);
	bool beyond;
	assert_true(fabs(wcurve_at(&lin, 40, &beyond) - 4000) < 1e-6 && beyond);
	/* out-of-order and shrinking points */
	assert_int_equal(wcurve_add(&lin, 10, 5), -1);
}

static void test_pagemap_parsers(void **state)
{
	(void)state;
	struct vma v;
	const char *l = "7f1c2a000000-7f1c2a021000 rw-p 00000000 00:00 0                          [heap]";
	assert_int_equal(maps_parse_line(l, l + strlen(l), &v), 0);
	assert_true(v.start == 0x7f1c2a000000ull && v.end == 0x7f1c2a021000ull);
	assert_true(v.r && v.w && !v.x && !v.shared);
	assert_string_equal(v.name, "[heap]");
	assert_true(vma_tracked(&v));
	l = "55d0c4a00000-55d0c4a2c000 r--p 00000000 fe:01 1311 /usr/bin/hiddenq";
	assert_int_equal(maps_parse_line(l, l + strlen(l), &v), 0);
	assert_false(vma_tracked(&v));
	assert_int_equal(v.inode, 1311);
	l = "7ffd1000-7ffd3000 rw-s 00000000 00:05 12 /dev/zero (deleted)";
	assert_int_equal(maps_parse_line(l, l + strlen(l), &v), 0);
	assert_false(vma_tracked(&v)); /* shared */
	l = "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]";
	assert_int_equal(maps_parse_line(l, l + strlen(l), &v), 0);
	assert_false(vma_tracked(&v));
	static const char *const bad[] = { "", "zz-10 rw-p 0 00:00 0", "10-5 rw-p 0 00:00 0", "10-20 rw 0 00:00 0",
					   "10-20 rw-p", "10-20 rw-p 0 00:00" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(maps_parse_line(bad[i], bad[i] + strlen(bad[i]), &v), -EINVAL);

	uint64_t e[5] = { PM_PRESENT | PM_SOFT_DIRTY | 1234, PM_PRESENT, PM_SWAPPED | PM_SOFT_DIRTY,
			  PM_SOFT_DIRTY /* not present, not swapped: not dirty */, PM_PRESENT | PM_UFFD_WP | PM_FILE };
	struct pm_count c = { 0 };
	uint8_t buf[41];
	memcpy(buf, e, 40);
	buf[40] = 0xff;
	pagemap_count(buf, sizeof(buf), &c);
	assert_int_equal(c.entries, 5);
	assert_int_equal(c.present, 3);
	assert_int_equal(c.swapped, 1);
	assert_int_equal(c.soft_dirty, 2);
	assert_int_equal(c.uffd_wp, 1);
	assert_int_equal(c.file, 1);
	assert_int_equal(c.partial_bytes, 1);
	/* the self-test: works, silently absent (this 6.18 machine), not cleared */
	assert_int_equal(softdirty_verdict(PM_PRESENT, PM_PRESENT | PM_SOFT_DIRTY), 0);
	assert_int_equal(softdirty_verdict(PM_PRESENT, PM_PRESENT), -1);
	assert_int_equal(softdirty_verdict(PM_PRESENT | PM_SOFT_DIRTY, PM_PRESENT | PM_SOFT_DIRTY), -2);
}

static void test_sizes_and_rates(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(parse_size("4K", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("256M", &v), 0);
	assert_int_equal(v, 256ull << 20);
	assert_int_equal(parse_size("1.5GiB", &v), 0);
	assert_int_equal(v, 3ull << 29);
	assert_int_equal(parse_size("12", &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(parse_size("12Q", &v), -EINVAL);
	assert_int_equal(parse_size("-1M", &v), -EINVAL);
	assert_int_equal(parse_size("", &v), -EINVAL);
	double r;
	assert_int_equal(parse_rate("100M", &r), 0);
	assert_true(r == 100.0 * 1048576);
	assert_int_equal(parse_rate("1Gbit", &r), 0);
	assert_true(r == 125e6);
	assert_int_equal(parse_rate("800Mbit", &r), 0);
	assert_true(r == 100e6);
	assert_int_equal(parse_rate("50M/s", &r), 0);
	assert_true(r == 50.0 * 1048576);
	assert_int_equal(parse_rate("0", &r), -EINVAL);
	assert_int_equal(parse_rate("fastbit", &r), -EINVAL);
}

int main(void)
{
	hq_quiet = true;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hist_buckets),	  cmocka_unit_test(test_hist_percentiles),
		cmocka_unit_test(test_precopy_converges), cmocka_unit_test(test_precopy_diverges),
		cmocka_unit_test(test_pagemap_parsers),	  cmocka_unit_test(test_sizes_and_rates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
