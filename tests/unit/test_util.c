/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Small utilities (src/core/util.c), threshold overrides, and the root-relative
 * file layer (src/sys/fsroot.c): confinement of untrusted trees (no "..", no
 * absolute paths, no symlinks, no FIFOs) and fault injection.
 *
 * HIDDENQ_FAULT is read once, on the first fsroot call of the process, so
 * main() sets it before any test runs; the fault paths below are used only by
 * the fault tests.
 */
#include "harness.h"

#include <time.h>

#include "analysis/findings.h"
#include "sys/fsroot.h"

#define FAULT_SPEC "fault/eio=EIO,fault/short=short,fault/gone=ENOENT,fault/denied=EACCES,fault/odd=EWHAT"

/* ---------------- durations and integers ---------------- */

static void test_parse_duration(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		uint64_t ns;
	} good[] = {
		{ "5", 5 * NS_PER_S },	   { "5s", 5 * NS_PER_S },	{ "500ms", 500 * NS_PER_MS },
		{ "1.5s", 1500 * NS_PER_MS }, { "2m", 120 * NS_PER_S },	{ "1min", 60 * NS_PER_S },
		{ "2500us", 2500000 },	   { "0.25", 250 * NS_PER_MS }, { "86400", 86400 * NS_PER_S },
		{ "1ms", NS_PER_MS },
	};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		uint64_t ns = 0;
		assert_int_equal(parse_duration_ns(good[i].s, &ns), 0);
		assert_int_equal(ns, good[i].ns);
	}
	static const char *const bad[] = {
		"", "-1", "5x", "0", "0s", "-5s", "s", "ms", "5 s", "5ss", "nan", "inf", "1e400",
		"86401", "2d", "0.5us", "5s ",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uint64_t ns = 12345;
		assert_int_equal(parse_duration_ns(bad[i], &ns), -EINVAL);
		assert_int_equal(ns, 12345); /* untouched on error */
	}
	uint64_t ns;
	assert_int_equal(parse_duration_ns(NULL, &ns), -EINVAL);
}

static void test_parse_uint(void **state)
{
	(void)state;
	uint64_t v = 0;
	assert_int_equal(parse_uint("0", 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_uint("10", 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(parse_uint("18446744073709551615", UINT64_MAX, &v), 0);
	assert_int_equal(v, UINT64_MAX);
	static const char *const bad[] = { "11", "", "-1", "+1", "1.5", "12a", "0x10", "18446744073709551616" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		v = 777;
		assert_int_equal(parse_uint(bad[i], 10, &v), -EINVAL);
		assert_int_equal(v, 777);
	}
	assert_int_equal(parse_uint("18446744073709551616", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_uint(NULL, 10, &v), -EINVAL);
}

/* Every number read from the command line at its limits: decimal, whole, finite. */
static void test_numbers_at_their_limits(void **state)
{
	(void)state;
	double d;
	const char *end;
	assert_int_equal(parse_decimal("1.5e3ms", &d, &end), 0);
	assert_true(d == 1500.0);
	assert_string_equal(end, "ms");
	assert_int_equal(parse_decimal(".5", &d, &end), 0);
	assert_true(d == 0.5);
	assert_int_equal(parse_decimal("2e", &d, &end), 0); /* "e" without digits is the unit's */
	assert_string_equal(end, "e");
	assert_int_equal(parse_decimal("0x10", &d, &end), 0); /* the number is 0; "x10" is no unit anyone takes */
	assert_string_equal(end, "x10");
	static const char *const not_decimal[] = { "", "-1", "+1", " 1", "nan", "inf", "infinity", ".", "e5",
						   "1e999" };
	for (size_t i = 0; i < ARRAY_SIZE(not_decimal); i++)
		assert_int_equal(parse_decimal(not_decimal[i], &d, &end), -EINVAL);

	/* durations: sub-millisecond units exist, the floor is the caller's */
	uint64_t ns = 0;
	assert_int_equal(parse_duration_range("1ns", 1, 1000000000, &ns), 0);
	assert_int_equal(ns, 1);
	assert_int_equal(parse_duration_range("50us", 50000, 1000000000, &ns), 0);
	assert_int_equal(ns, 50000);
	assert_int_equal(parse_duration_range("50µs", 50000, 1000000000, &ns), 0);
	assert_int_equal(ns, 50000);
	assert_int_equal(parse_duration_range("49us", 50000, 1000000000, &ns), -EINVAL);
	assert_int_equal(parse_duration_range("1.000000001s", 1, 1000000000, &ns), -EINVAL);
	static const char *const bad[] = { "0x1", " 5", "5 ", "+5", "nan", "infms", "1e400s", "0ns", "5ns5" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(parse_duration_range(bad[i], 1, UINT64_MAX, &ns), -EINVAL);

	uint64_t v;
	assert_int_equal(parse_uint(" 5", 10, &v), -EINVAL);
	assert_int_equal(parse_size("0x10M", &v), -EINVAL);
	assert_int_equal(parse_size("nanK", &v), -EINVAL);
	assert_int_equal(parse_size("1e16", &v), -EINVAL); /* above 1e15 */
	double r;
	assert_int_equal(parse_rate("1e300Gbit", &r), -EINVAL);
	assert_int_equal(parse_rate("nanGbit", &r), -EINVAL);
	assert_int_equal(parse_rate("0Gbit", &r), -EINVAL);
	assert_int_equal(parse_rate("10Gbit", &r), 0);
	assert_true(r == 1.25e9);
}

static void test_plurals(void **state)
{
	(void)state;
	char b[64];
	for (uint64_t n = 0; n < 3; n++) {
		snprintf(b, sizeof(b), "%llu VM%s, %llu %s", (unsigned long long)n, plural_s(n), (unsigned long long)n,
			 plural(n, "copy", "copies"));
		assert_string_equal(b, n == 0 ? "0 VMs, 0 copies" : n == 1 ? "1 VM, 1 copy" : "2 VMs, 2 copies");
	}
}

/* A warning per damaged sample is shown a few times, then counted */
static void test_log_some(void **state)
{
	(void)state;
	struct log_some l = { .what = "damaged samples" };
	for (int i = 0; i < 100000; i++)
		log_warn_some(&l, "sample %d is damaged", i);
	assert_int_equal(l.shown, LOG_SOME_SHOWN);
	assert_int_equal(l.hidden, 100000 - LOG_SOME_SHOWN);
	log_some_done(&l);
	assert_int_equal(l.shown + l.hidden, 0);
}

/* ---------------- thresholds ---------------- */

static void test_threshold_override(void **state)
{
	(void)state;
	const struct threshold saved = thresholds[T_STEAL_AVG];
	const char *name = saved.name;
	char spec[128];
	snprintf(spec, sizeof(spec), "%s=15,30", name);
	assert_int_equal(threshold_override(spec), 0);
	assert_true(thresholds[T_STEAL_AVG].warn == 15 && thresholds[T_STEAL_AVG].crit == 30);
	snprintf(spec, sizeof(spec), "%s=,25.5", name); /* keep warn */
	assert_int_equal(threshold_override(spec), 0);
	assert_true(thresholds[T_STEAL_AVG].warn == 15 && thresholds[T_STEAL_AVG].crit == 25.5);
	snprintf(spec, sizeof(spec), "%s=12", name); /* keep crit */
	assert_int_equal(threshold_override(spec), 0);
	assert_true(thresholds[T_STEAL_AVG].warn == 12 && thresholds[T_STEAL_AVG].crit == 25.5);
	snprintf(spec, sizeof(spec), "%s=7,", name);
	assert_int_equal(threshold_override(spec), 0);
	assert_true(thresholds[T_STEAL_AVG].warn == 7 && thresholds[T_STEAL_AVG].crit == 25.5);

	/* errors leave the row untouched */
	const char *bad[] = { "abc", "=1,2", "x", "1,2x", "1,,2", "1,2,3", ",x" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(spec, sizeof(spec), "%s=%s", name, bad[i]);
		assert_int_equal(threshold_override(spec), -EINVAL);
		assert_true(thresholds[T_STEAL_AVG].warn == 7 && thresholds[T_STEAL_AVG].crit == 25.5);
	}
	assert_int_equal(threshold_override("no_such_threshold=1,2"), -EINVAL);
	assert_int_equal(threshold_override(name), -EINVAL); /* no '=' */
	/* a prefix of a name is not that name */
	snprintf(spec, sizeof(spec), "%.*s=1,2", (int)strlen(name) - 1, name);
	assert_int_equal(threshold_override(spec), -EINVAL);
	thresholds[T_STEAL_AVG] = saved;
}

/* Levels that make no sense are refused with the reason, never reinterpreted. */
static void test_threshold_validation(void **state)
{
	(void)state;
	thresholds_reset();
	const char *why;
	static const struct {
		const char *spec, *because;
	} bad[] = {
		{ "steal_pct_avg=50,10", "warn is above crit" },
		{ "steal_pct_avg=nan,inf", "finite" },
		{ "steal_pct_avg=inf", "finite" },
		{ "steal_pct_avg=-5,20", "never negative" },
		{ "steal_pct_avg=1e999", "not a number" },
		{ "sustained_windows=0,0", "at least 1" },
		{ "io_min_ios=0.5", "at least 1" },
		{ "steal_pct_avg=1,2,3", "two levels" },
		{ "nonsense=1,2", "no such threshold" },
		{ "=1", "NAME=WARN,CRIT" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		why = NULL;
		assert_int_equal(threshold_override_why(bad[i].spec, &why), -EINVAL);
		if (!why || !strstr(why, bad[i].because))
			fail_msg("%s: reason '%s' does not say '%s'", bad[i].spec, why ? why : "(none)", bad[i].because);
	}
	assert_true(thresholds[T_STEAL_AVG].warn == 10 && thresholds[T_STEAL_AVG].crit == 20);
	/* off and -1 switch a level off; spaces are fine */
	assert_int_equal(threshold_override_why("steal_pct_avg= off , 30", &why), 0);
	assert_true(thresholds[T_STEAL_AVG].warn == -1 && thresholds[T_STEAL_AVG].crit == 30);
	assert_int_equal(threshold_override("steal_pct_avg=-1,-1"), 0);
	thresholds_reset();
	assert_true(thresholds[T_STEAL_AVG].warn == 10 && thresholds[T_STEAL_AVG].crit == 20);
}

/* A threshold file: applied whole, or not at all, with the line that failed. */
static void test_threshold_file(void **state)
{
	(void)state;
	thresholds_reset();
	char *why = NULL;
	assert_int_equal(thresholds_load_string("; comment\n[thresholds]\nsteal_pct_avg = 5, 15\n"
						"psi_cpu_some_pct = 20\n", &why), 0);
	assert_null(why);
	assert_true(thresholds[T_STEAL_AVG].warn == 5 && thresholds[T_STEAL_AVG].crit == 15);
	assert_true(thresholds[T_PSI_CPU_SOME].warn == 20 && thresholds[T_PSI_CPU_SOME].crit == 40);
	/* one bad line: nothing of the file is applied */
	assert_int_equal(thresholds_load_string("[thresholds]\nsteal_pct_avg = 1, 2\nio_p99_ms = 9, 3\n", &why),
			 -EINVAL);
	assert_non_null(why);
	assert_non_null(strstr(why, "io_p99_ms"));
	free(why);
	assert_true(thresholds[T_STEAL_AVG].warn == 5 && thresholds[T_STEAL_AVG].crit == 15);
	assert_int_equal(thresholds_load_string("[other]\nx = 1\n", &why), -EINVAL);
	assert_non_null(strstr(why, "[other]"));
	free(why);
	assert_int_equal(thresholds_load_string("[thresholds]\nthis is not ini\n", &why), -EINVAL);
	assert_non_null(strstr(why, "line 2"));
	free(why);
	assert_int_equal(thresholds_load_file("/nonexistent/hq.ini", &why), -EINVAL);
	assert_non_null(strstr(why, "cannot open"));
	free(why);
	thresholds_reset();
}

/* ---------------- fsroot ---------------- */

static char *make_tree(void)
{
	char *d = make_tempdir();
	put_file(d, "proc/loadavg", "0.10 0.20 0.30 1/100 4242\n");
	put_file(d, "proc/pressure/cpu", "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n");
	put_file(d, "outside-secret", "SECRET\n");
	return d;
}

static void test_fsroot_confined_reads(void **state)
{
	(void)state;
	char *d = make_tree();
	struct fsroot r;
	assert_int_equal(fsroot_init(&r, d, true), 0);
	char *buf;
	size_t len;
	assert_int_equal(fsroot_read(&r, "proc/loadavg", &buf, &len, 1 << 20), 0);
	assert_int_equal(len, strlen("0.10 0.20 0.30 1/100 4242\n"));
	assert_string_equal(buf, "0.10 0.20 0.30 1/100 4242\n");
	free(buf);
	/* truncation: data kept, -EFBIG returned */
	assert_int_equal(fsroot_read(&r, "proc/loadavg", &buf, &len, 8), -EFBIG);
	assert_non_null(buf);
	assert_true(len < 8);
	assert_memory_equal(buf, "0.10 0.20", len);
	free(buf);
	assert_int_equal(fsroot_read(&r, "proc/missing", &buf, &len, 1024), -ENOENT);
	assert_null(buf);
	assert_true(fsroot_exists(&r, "proc/pressure/cpu"));
	assert_false(fsroot_exists(&r, "proc/pressure/io"));
	int dfd = fsroot_opendir(&r, "proc/pressure");
	assert_true(dfd >= 0);
	close(dfd);
	dfd = fsroot_opendir(&r, "");
	assert_true(dfd >= 0);
	close(dfd);
	fsroot_done(&r);
	rm_tree(d);
	free(d);
}

static void test_fsroot_confined_refuses_escapes(void **state)
{
	(void)state;
	char *d = make_tree();
	/* a nested root, so that ".." would lead to a real file */
	char *root = xasprintf("%s/proc", d);
	struct fsroot r;
	assert_int_equal(fsroot_init(&r, root, true), 0);
	static const char *const bad[] = {
		"../outside-secret", "pressure/../../outside-secret", "/etc/passwd", "./loadavg", "pressure/./cpu",
		"pressure//cpu", "..", ".",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *buf = (char *)1;
		size_t len = 1;
		int ret = fsroot_read(&r, bad[i], &buf, &len, 1024);
		assert_int_equal(ret, -EINVAL);
		assert_null(buf);
		assert_int_equal(len, 0);
		assert_false(fsroot_path_ok(bad[i]));
		assert_true(fsroot_opendir(&r, bad[i]) < 0);
	}
	assert_true(fsroot_path_ok("pressure/cpu"));
	assert_true(fsroot_path_ok("..."));
	assert_true(fsroot_path_ok("a/..b/c."));
	assert_false(fsroot_path_ok(""));
	assert_false(fsroot_path_ok(NULL));
	/* an over-long component */
	char longname[400];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(fsroot_open(&r, longname), -ENAMETOOLONG);
	fsroot_done(&r);

	/* the live (unconfined) root refuses absolute paths too */
	assert_int_equal(fsroot_init(&r, root, false), 0);
	assert_int_equal(fsroot_open(&r, "/etc/passwd"), -EINVAL);
	fsroot_done(&r);
	free(root);
	rm_tree(d);
	free(d);
}

static void test_fsroot_confined_symlinks(void **state)
{
	(void)state;
	char *d = make_tree();
	char *secret = xasprintf("%s/outside-secret", d);
	char *root = xasprintf("%s/root", d);
	put_file(root, "proc/stat-real", "cpu 1 2 3 4\n");
	put_symlink(root, "proc/abs-link", secret);                  /* absolute, outside */
	put_symlink(root, "proc/rel-link", "../../outside-secret"); /* relative, outside */
	put_symlink(root, "proc/in-link", "stat-real");              /* inside: still refused */
	put_symlink(root, "dirlink", "/etc");                        /* a directory link */
	put_symlink(root, "proc/dangling", "/nonexistent/x");
	struct fsroot r;
	assert_int_equal(fsroot_init(&r, root, true), 0);
	static const char *const links[] = { "proc/abs-link", "proc/rel-link", "proc/in-link", "proc/dangling" };
	for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
		char *buf = NULL;
		size_t len = 0;
		assert_int_equal(fsroot_read(&r, links[i], &buf, &len, 1024), -ELOOP);
		assert_null(buf);
	}
	char *buf = NULL;
	size_t len = 0;
	int ret = fsroot_read(&r, "dirlink/passwd", &buf, &len, 1024);
	assert_true(ret == -ELOOP || ret == -ENOTDIR);
	assert_null(buf);
	assert_true(fsroot_opendir(&r, "dirlink") < 0);
	assert_int_equal(fsroot_read(&r, "proc/stat-real", &buf, &len, 1024), 0);
	free(buf);
	fsroot_done(&r);

	/* the root itself may be a symlink (the user typed it); what is below it stays confined */
	char *rootlink = xasprintf("%s/rootlink", d);
	assert_int_equal(symlink(root, rootlink), 0);
	assert_int_equal(fsroot_init(&r, rootlink, true), 0);
	assert_int_equal(fsroot_read(&r, "proc/stat-real", &buf, &len, 1024), 0);
	free(buf);
	buf = NULL;
	assert_int_equal(fsroot_read(&r, "proc/abs-link", &buf, &len, 1024), -ELOOP);
	assert_null(buf);
	fsroot_done(&r);
	free(rootlink);
	free(root);
	free(secret);
	rm_tree(d);
	free(d);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_fsroot_fifo_does_not_block(void **state)
{
	(void)state;
	char *d = make_tree();
	put_fifo(d, "proc/fifo");
	put_dir(d, "proc/adir");
	struct fsroot r;
	assert_int_equal(fsroot_init(&r, d, true), 0);
	double t0 = now_s();
	char *buf = NULL;
	size_t len = 0;
	/* nobody ever writes to the FIFO: a blocking open or read would hang */
	assert_int_equal(fsroot_read(&r, "proc/fifo", &buf, &len, 1024), -EINVAL);
	assert_null(buf);
	assert_true(fsroot_open(&r, "proc/fifo") < 0);
	/* directories and devices are not regular files either */
	assert_int_equal(fsroot_read(&r, "proc/adir", &buf, &len, 1024), -EINVAL);
	assert_true(now_s() - t0 < 5.0);
	fsroot_done(&r);
	rm_tree(d);
	free(d);
}

static void test_fsroot_fault_injection(void **state)
{
	(void)state;
	char *d = make_tempdir();
	const char *body = "0123456789abcdefghij"; /* 20 bytes */
	put_file(d, "fault/eio", body);
	put_file(d, "fault/short", body);
	put_file(d, "fault/gone", body);
	put_file(d, "fault/denied", body);
	put_file(d, "fault/odd", body);
	put_file(d, "fault/fine", body);
	put_file(d, "fault/eio-not", body); /* a longer name is not the same path */
	for (int confined = 0; confined <= 1; confined++) {
		struct fsroot r;
		assert_int_equal(fsroot_init(&r, d, confined), 0);
		char *buf = NULL;
		size_t len = 0;
		assert_int_equal(fsroot_read(&r, "fault/eio", &buf, &len, 1024), -EIO);
		assert_null(buf);
		assert_int_equal(fsroot_read(&r, "fault/gone", &buf, &len, 1024), -ENOENT);
		assert_int_equal(fsroot_read(&r, "fault/denied", &buf, &len, 1024), -EACCES);
		assert_int_equal(fsroot_read(&r, "fault/odd", &buf, &len, 1024), -EIO); /* unknown name: EIO */
		assert_false(fsroot_exists(&r, "fault/eio"));
		assert_true(fsroot_exists(&r, "fault/fine"));
		/* short: the first half of the file */
		assert_int_equal(fsroot_read(&r, "fault/short", &buf, &len, 1024), 0);
		assert_int_equal(len, strlen(body) / 2);
		assert_memory_equal(buf, body, len);
		assert_int_equal(buf[len], '\0');
		free(buf);
		assert_int_equal(fsroot_read(&r, "fault/fine", &buf, &len, 1024), 0);
		assert_int_equal(len, strlen(body));
		free(buf);
		assert_int_equal(fsroot_read(&r, "fault/eio-not", &buf, &len, 1024), 0);
		free(buf);
		/* the kept-open path (pread) honours the same spec */
		int fd = fsroot_open(&r, "fault/fine");
		assert_true(fd >= 0);
		char *pb = NULL;
		size_t cap = 0;
		assert_int_equal(fsroot_pread_all(fd, "fault/eio", &pb, &cap, &len, 1024), -EIO);
		assert_int_equal(fsroot_pread_all(fd, "fault/short", &pb, &cap, &len, 1024), 0);
		assert_int_equal(len, strlen(body) / 2);
		assert_int_equal(fsroot_pread_all(fd, "fault/fine", &pb, &cap, &len, 1024), 0);
		assert_int_equal(len, strlen(body));
		assert_string_equal(pb, body);
		free(pb);
		close(fd);
		fsroot_done(&r);
	}
	rm_tree(d);
	free(d);
}

int main(void)
{
	/* before the first fsroot call: the spec is read once and cached */
	setenv("HIDDENQ_FAULT", FAULT_SPEC, 1);
	hq_quiet = true;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_uint),
		cmocka_unit_test(test_numbers_at_their_limits),
		cmocka_unit_test(test_plurals),
		cmocka_unit_test(test_log_some),
		cmocka_unit_test(test_threshold_override),
		cmocka_unit_test(test_threshold_validation),
		cmocka_unit_test(test_threshold_file),
		cmocka_unit_test(test_fsroot_confined_reads),
		cmocka_unit_test(test_fsroot_confined_refuses_escapes),
		cmocka_unit_test(test_fsroot_confined_symlinks),
		cmocka_unit_test(test_fsroot_fifo_does_not_block),
		cmocka_unit_test(test_fsroot_fault_injection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
