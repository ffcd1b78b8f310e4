/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Parsers of kernel text files (src/parse): every column layout the kernel
 * has printed, offline CPUs, garbage and truncated input, and every real file
 * in the peer data.  For the peer files the expected values come from a
 * second, deliberately naive reader in this file (sscanf), not from the code
 * under test.
 */
#include "harness.h"

#include <dirent.h>
#include <math.h>

#include "parse/parse.h"

static int parse_str(const char *s, struct procstat *ps)
{
	return procstat_parse(s, strlen(s), ps);
}

/* ---------------- /proc/stat ---------------- */

static void test_procstat_10_columns(void **state)
{
	(void)state;
	const char *txt = "cpu  30 1 20 400 5 0 2 7 3 1\n"
			  "cpu0 10 1 10 200 2 0 1 3 3 1\n"
			  "cpu1 20 0 10 200 3 0 1 4 0 0\n"
			  "intr 1 2 3\nctxt 555\nbtime 1600000000\nprocs_running 3\nprocs_blocked 1\n";
	struct procstat ps;
	assert_int_equal(parse_str(txt, &ps), 0);
	assert_true(ps.has_all);
	assert_int_equal(ps.all.cpu, -1);
	assert_int_equal(ps.all.nfields, 10);
	assert_int_equal(ps.all.v[CT_STEAL], 7);
	assert_int_equal(ps.all.v[CT_GUEST_NICE], 1);
	assert_int_equal(ps.ncpus, 2);
	assert_int_equal(ps.cpus[1].cpu, 1);
	assert_int_equal(ps.cpus[1].v[CT_USER], 20);
	assert_int_equal(ps.cpus[1].v[CT_STEAL], 4);
	/* total is user..steal: guest is already inside user */
	assert_int_equal(cpu_times_total(&ps.cpus[0]), 10 + 1 + 10 + 200 + 2 + 0 + 1 + 3);
	assert_true(ps.has_ctxt && ps.ctxt == 555);
	assert_true(ps.has_btime && ps.btime == 1600000000);
	assert_true(ps.has_running && ps.procs_running == 3);
	assert_true(ps.has_blocked && ps.procs_blocked == 1);
	procstat_done(&ps);
	assert_null(ps.cpus);
}

static void test_procstat_column_generations(void **state)
{
	(void)state;
	/* 8 (steal, no guest), 7 (no steal: 2.6.11-), 4 (2.4) columns */
	static const struct {
		const char *txt;
		unsigned n;
	} cases[] = {
		{ "cpu 1 2 3 4 5 6 7 8\ncpu0 1 2 3 4 5 6 7 8\n", 8 },
		{ "cpu 1 2 3 4 5 6 7\ncpu0 1 2 3 4 5 6 7\n", 7 },
		{ "cpu 1 2 3 4\ncpu0 1 2 3 4\n", 4 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct procstat ps;
		assert_int_equal(parse_str(cases[i].txt, &ps), 0);
		assert_int_equal(ps.all.nfields, cases[i].n);
		assert_int_equal(ps.ncpus, 1);
		assert_int_equal(ps.cpus[0].nfields, cases[i].n);
		for (unsigned k = 0; k < CT_NFIELDS; k++)
			assert_int_equal(ps.cpus[0].v[k], k < cases[i].n ? k + 1 : 0);
		uint64_t want = 0;
		for (unsigned k = 0; k < cases[i].n && k <= CT_STEAL; k++)
			want += k + 1;
		assert_int_equal(cpu_times_total(&ps.cpus[0]), want);
		procstat_done(&ps);
	}
	/* fewer than 4 numbers is not a CPU line */
	struct procstat ps;
	assert_int_equal(parse_str("cpu0 1 2 3\n", &ps), -EINVAL);
	/* more than 10: the extra columns are ignored, not shifted */
	assert_int_equal(parse_str("cpu0 1 2 3 4 5 6 7 8 9 10 11 12\n", &ps), 0);
	assert_int_equal(ps.cpus[0].nfields, 10);
	assert_int_equal(ps.cpus[0].v[CT_GUEST_NICE], 10);
	procstat_done(&ps);
}

static void test_procstat_offline_ids(void **state)
{
	(void)state;
	/* CPUs 1 and 2 offline; ids must come from the line, not the position */
	const char *txt = "cpu  4 0 0 4 0 0 0 0 0 0\n"
			  "cpu0 1 0 0 1 0 0 0 0 0 0\n"
			  "cpu3 3 0 0 3 0 0 0 9 0 0\n";
	struct procstat ps;
	assert_int_equal(parse_str(txt, &ps), 0);
	assert_int_equal(ps.ncpus, 2);
	assert_int_equal(ps.cpus[0].cpu, 0);
	assert_int_equal(ps.cpus[1].cpu, 3);
	assert_null(procstat_cpu(&ps, 1));
	assert_null(procstat_cpu(&ps, 2));
	const struct cpu_times *t = procstat_cpu(&ps, 3);
	assert_non_null(t);
	assert_int_equal(t->v[CT_STEAL], 9);
	procstat_done(&ps);

	/* out of order and duplicated lines: sorted, first one wins */
	txt = "cpu7 7 0 0 0\ncpu2 2 0 0 0\ncpu7 99 0 0 0\ncpu10 10 0 0 0\n";
	assert_int_equal(parse_str(txt, &ps), 0);
	assert_false(ps.has_all);
	assert_int_equal(ps.ncpus, 3);
	int want[] = { 2, 7, 10 };
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ps.cpus[i].cpu, want[i]);
		assert_int_equal(ps.cpus[i].v[CT_USER], want[i]);
		assert_ptr_equal(procstat_cpu(&ps, want[i]), &ps.cpus[i]);
	}
	procstat_done(&ps);
}

static void test_procstat_garbage(void **state)
{
	(void)state;
	struct procstat ps;
	assert_int_equal(procstat_parse("", 0, &ps), -EINVAL);
	assert_int_equal(parse_str("hello world\n", &ps), -EINVAL);
	assert_int_equal(parse_str("cpu\n", &ps), -EINVAL);
	assert_int_equal(parse_str("cpuX 1 2 3 4\n", &ps), -EINVAL);
	assert_int_equal(parse_str("cpu99999999999 1 2 3 4\n", &ps), -EINVAL);
	/* overflowing counter: the line stops there (fewer than 4 numbers) */
	assert_int_equal(parse_str("cpu0 1 2 99999999999999999999999 4\n", &ps), -EINVAL);

	/* a garbage line among good ones is skipped, the rest still parses */
	const char *txt = "cpu  2 0 0 2\n"
			  "cpu0 1 0 0 1\n"
			  "cpu1 x y z\n"
			  "\x01\x02\xff\n"
			  "cpu2 1 0 0 1\n";
	assert_int_equal(parse_str(txt, &ps), 0);
	assert_int_equal(ps.ncpus, 2);
	assert_int_equal(ps.cpus[1].cpu, 2);
	procstat_done(&ps);

	/* truncated mid-line: whatever was complete enough is kept, and the
	 * parser never reads past the length it was given */
	const char *full = "cpu  10 20 30 40 50 60 70 80 90 100\ncpu0 10 20 30 40 50 60 70 80 90 100\n";
	size_t cut = strlen("cpu  10 20 30 40 50 60 70 80 90 100\ncpu0 10 20 30 4");
	char *copy = xstrndup(full, cut);
	assert_int_equal(procstat_parse(copy, cut, &ps), 0);
	assert_true(ps.has_all);
	assert_int_equal(ps.ncpus, 1);
	assert_int_equal(ps.cpus[0].nfields, 4);
	assert_int_equal(ps.cpus[0].v[CT_IDLE], 4); /* "4" is all that is left of 40 */
	procstat_done(&ps);
	free(copy);
	/* a buffer that is not NUL-terminated */
	char raw[] = { 'c', 'p', 'u', '0', ' ', '1', ' ', '2', ' ', '3', ' ', '4', '5', '6' };
	assert_int_equal(procstat_parse(raw, 13, &ps), 0);
	assert_int_equal(ps.cpus[0].v[CT_IDLE], 45);
	procstat_done(&ps);
}

/* ---------------- PSI ---------------- */

static void test_psi(void **state)
{
	(void)state;
	struct psi p;
	const char *both = "some avg10=1.50 avg60=2.25 avg300=0.00 total=123456\n"
			   "full avg10=0.10 avg60=0.00 avg300=0.00 total=789\n";
	assert_int_equal(psi_parse(both, strlen(both), &p), 0);
	assert_true(p.has_some && p.has_full);
	assert_int_equal(p.some.total_us, 123456);
	assert_true(fabs(p.some.avg10 - 1.5) < 1e-9);
	assert_true(fabs(p.some.avg60 - 2.25) < 1e-9);
	assert_int_equal(p.full.total_us, 789);

	/* cpu before 5.13: no full line */
	const char *some = "some avg10=0.00 avg60=0.00 avg300=0.00 total=42\n";
	assert_int_equal(psi_parse(some, strlen(some), &p), 0);
	assert_true(p.has_some);
	assert_false(p.has_full);
	assert_int_equal(p.some.total_us, 42);

	/* irq: full only */
	const char *full = "full avg10=0.00 avg60=0.00 avg300=0.00 total=7\n";
	assert_int_equal(psi_parse(full, strlen(full), &p), 0);
	assert_false(p.has_some);
	assert_true(p.has_full);

	/* truncated before total=: the line does not count */
	const char *trunc = "some avg10=0.00 avg60=0.00 avg3";
	assert_int_equal(psi_parse(trunc, strlen(trunc), &p), -EINVAL);
	/* truncated inside the total: "total=12" is a valid shorter number */
	const char *t2 = "some avg10=0.00 avg60=0.00 avg300=0.00 total=12";
	assert_int_equal(psi_parse(t2, strlen(t2), &p), 0);
	assert_int_equal(p.some.total_us, 12);
	/* garbage total */
	const char *bad = "some avg10=0.00 avg60=0.00 avg300=0.00 total=12abc\n";
	assert_int_equal(psi_parse(bad, strlen(bad), &p), -EINVAL);
	assert_int_equal(psi_parse("", 0, &p), -EINVAL);
	assert_int_equal(psi_parse("\n\n", 2, &p), -EINVAL);
	/* a second "some" line does not overwrite the first */
	const char *dup = "some total=1\nsome total=2\n";
	assert_int_equal(psi_parse(dup, strlen(dup), &p), 0);
	assert_int_equal(p.some.total_us, 1);
}

/* ---------------- schedstat, loadavg ---------------- */

static void test_task_schedstat(void **state)
{
	(void)state;
	struct task_schedstat t;
	const char *s = "35615954 4142035 65\n";
	assert_int_equal(task_schedstat_parse(s, strlen(s), &t), 0);
	assert_int_equal(t.cpu_ns, 35615954);
	assert_int_equal(t.delay_ns, 4142035);
	assert_int_equal(t.slices, 65);
	assert_int_equal(task_schedstat_parse("12 34", 5, &t), 0);
	assert_int_equal(t.delay_ns, 34);
	assert_int_equal(t.slices, 0);
	assert_int_equal(task_schedstat_parse("12", 2, &t), -EINVAL);
	assert_int_equal(task_schedstat_parse("", 0, &t), -EINVAL);
	assert_int_equal(task_schedstat_parse("a b c", 5, &t), -EINVAL);
}

static void test_proc_schedstat_v15(void **state)
{
	(void)state;
	/* two CPUs, each followed by a domain line (36 numbers after the mask) */
	char buf[4096];
	int o = snprintf(buf, sizeof(buf), "version 15\ntimestamp 4295032\n");
	for (int c = 0; c < 2; c++) {
		o += snprintf(buf + o, sizeof(buf) - (size_t)o, "cpu%d 0 0 %d 5 6 7 %d %d %d\n", c, 100 + c,
			      1000 * (c + 1), 2000 * (c + 1), 30 + c);
		o += snprintf(buf + o, sizeof(buf) - (size_t)o, "domain0 00000003");
		for (int k = 0; k < 36; k++)
			o += snprintf(buf + o, sizeof(buf) - (size_t)o, " %d", 900 + k);
		o += snprintf(buf + o, sizeof(buf) - (size_t)o, "\n");
	}
	struct proc_schedstat ps;
	assert_int_equal(proc_schedstat_parse(buf, (size_t)o, &ps), 0);
	assert_int_equal(ps.version, 15);
	assert_int_equal(ps.ncpus, 2);
	for (int c = 0; c < 2; c++) {
		assert_int_equal(ps.cpus[c].cpu, c);
		assert_int_equal(ps.cpus[c].run_ns, 1000 * (c + 1));
		assert_int_equal(ps.cpus[c].delay_ns, 2000 * (c + 1));
		assert_int_equal(ps.cpus[c].slices, 30 + c);
	}
	proc_schedstat_done(&ps);
	/* no version line, or no CPU line: not /proc/schedstat */
	const char *nov = "cpu0 0 0 1 2 3 4 5 6 7\n";
	assert_int_equal(proc_schedstat_parse(nov, strlen(nov), &ps), -EINVAL);
	const char *nocpu = "version 15\ntimestamp 1\n";
	assert_int_equal(proc_schedstat_parse(nocpu, strlen(nocpu), &ps), -EINVAL);
	/* a short CPU line (7 numbers) is skipped */
	const char *shortl = "version 15\ncpu0 1 2 3 4 5 6 7\ncpu1 0 0 0 0 0 0 11 22 33\n";
	assert_int_equal(proc_schedstat_parse(shortl, strlen(shortl), &ps), 0);
	assert_int_equal(ps.ncpus, 1);
	assert_int_equal(ps.cpus[0].cpu, 1);
	assert_int_equal(ps.cpus[0].delay_ns, 22);
	proc_schedstat_done(&ps);
}

/* Naive reference: "cpuN a b c d e f g h i" lines of a /proc/schedstat file. */
static size_t ref_schedstat_cpus(const char *txt, int *ids, unsigned long long *delay, size_t max)
{
	size_t n = 0;
	for (const char *l = txt; l && *l && n < max; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		int id;
		unsigned long long f[9];
		if (strncmp(l, "cpu", 3) == 0 && l[3] >= '0' && l[3] <= '9' &&
		    sscanf(l, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu %llu", &id, &f[0], &f[1], &f[2],
			   &f[3], &f[4], &f[5], &f[6], &f[7], &f[8]) == 10) {
			ids[n] = id;
			delay[n] = f[7];
			n++;
		}
	}
	return n;
}

static void test_proc_schedstat_peer(void **state)
{
	(void)state;
	PEER_OR_SKIP(path, "procfs-fixtures/proc/schedstat");
	size_t len = 0;
	char *txt = slurp(path, &len);
	assert_non_null(txt);
	int ids[64];
	unsigned long long delay[64];
	size_t want = ref_schedstat_cpus(txt, ids, delay, 64);
	assert_true(want > 0);
	unsigned ver = 0;
	assert_int_equal(sscanf(txt, "version %u", &ver), 1);
	struct proc_schedstat ps;
	assert_int_equal(proc_schedstat_parse(txt, len, &ps), 0);
	assert_int_equal(ps.version, ver);
	assert_int_equal(ps.ncpus, want); /* domain lines are not CPUs */
	for (size_t i = 0; i < want; i++) {
		assert_int_equal(ps.cpus[i].cpu, ids[i]);
		assert_int_equal(ps.cpus[i].delay_ns, delay[i]);
	}
	proc_schedstat_done(&ps);
	free(txt);
	free(path);
}

static void test_loadavg(void **state)
{
	(void)state;
	struct loadavg la;
	const char *s = "0.12 0.58 0.79 1/84 20696\n";
	assert_int_equal(loadavg_parse(s, strlen(s), &la), 0);
	assert_true(fabs(la.load1 - 0.12) < 1e-9);
	assert_true(fabs(la.load5 - 0.58) < 1e-9);
	assert_true(fabs(la.load15 - 0.79) < 1e-9);
	assert_int_equal(la.running, 1);
	assert_int_equal(la.total, 84);
	assert_int_equal(la.last_pid, 20696);
	const char *bad[] = { "", "0.12 0.58", "0.12 0.58 0.79 1", "0.12 0.58 0.79 1 84", "a b c d/e" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(loadavg_parse(bad[i], strlen(bad[i]), &la), -EINVAL);
}

/* ---------------- cgroups ---------------- */

static void test_cg_cpustat(void **state)
{
	(void)state;
	struct cg_cpustat st;
	const char *v2 = "usage_usec 5000000\nuser_usec 3000000\nsystem_usec 2000000\n"
			 "nr_periods 120\nnr_throttled 30\nthrottled_usec 450000\n"
			 "nr_bursts 0\nburst_usec 0\n";
	assert_int_equal(cg_cpustat_parse(v2, strlen(v2), &st), 0);
	assert_true(st.has_periods && st.has_throttled_time && st.has_usage);
	assert_int_equal(st.nr_periods, 120);
	assert_int_equal(st.nr_throttled, 30);
	assert_int_equal(st.throttled_ns, 450000ull * 1000);
	assert_int_equal(st.usage_ns, 5000000ull * 1000);

	const char *v1 = "nr_periods 77\nnr_throttled 7\nthrottled_time 123456789\n";
	assert_int_equal(cg_cpustat_parse(v1, strlen(v1), &st), 0);
	assert_int_equal(st.nr_periods, 77);
	assert_int_equal(st.nr_throttled, 7);
	assert_int_equal(st.throttled_ns, 123456789);
	assert_false(st.has_usage);

	/* v2 without the cpu controller: usage only, no bandwidth fields */
	const char *usage = "usage_usec 10\nuser_usec 5\nsystem_usec 5\n";
	assert_int_equal(cg_cpustat_parse(usage, strlen(usage), &st), 0);
	assert_false(st.has_periods);
	/* saturating microsecond conversion */
	const char *huge = "throttled_usec 18446744073709551615\n";
	assert_int_equal(cg_cpustat_parse(huge, strlen(huge), &st), 0);
	assert_int_equal(st.throttled_ns, UINT64_MAX);
	assert_int_equal(cg_cpustat_parse("", 0, &st), -EINVAL);
	assert_int_equal(cg_cpustat_parse("nonsense\n", 9, &st), -EINVAL);
}

static void test_cg_cpumax(void **state)
{
	(void)state;
	int64_t q;
	uint64_t per;
	assert_int_equal(cg_cpumax_parse("max 100000\n", 11, &q, &per), 0);
	assert_true(q < 0);
	assert_int_equal(per, 100000);
	assert_int_equal(cg_cpumax_parse("50000 100000\n", 13, &q, &per), 0);
	assert_int_equal(q, 50000);
	assert_int_equal(per, 100000);
	assert_int_equal(cg_cpumax_parse("25000 50000", 11, &q, &per), 0);
	assert_int_equal(q, 25000);
	assert_int_equal(per, 50000);
	assert_int_equal(cg_cpumax_parse("", 0, &q, &per), -EINVAL);
	assert_int_equal(cg_cpumax_parse("-5 100000", 9, &q, &per), -EINVAL);
	assert_int_equal(cg_cpumax_parse("12x 100000", 10, &q, &per), -EINVAL);
	assert_int_equal(cg_cpumax_parse("99999999999999999999 1", 22, &q, &per), -EINVAL);
}

/* ---------------- cpu lists ---------------- */

struct idset {
	int ids[64];
	int n;
};

static void collect(int id, void *arg)
{
	struct idset *s = arg;
	if (s->n < 64)
		s->ids[s->n++] = id;
}

static void test_cpulist(void **state)
{
	(void)state;
	struct idset s = { .n = 0 };
	const char *l = "0-3,8,10-11\n";
	assert_int_equal(cpulist_parse(l, strlen(l), 63, collect, &s), 7);
	int want[] = { 0, 1, 2, 3, 8, 10, 11 };
	assert_int_equal(s.n, 7);
	for (int i = 0; i < 7; i++)
		assert_int_equal(s.ids[i], want[i]);
	/* empty and whitespace-only lists are valid and empty */
	s.n = 0;
	assert_int_equal(cpulist_parse("", 0, 63, collect, &s), 0);
	assert_int_equal(cpulist_parse("\n", 1, 63, collect, &s), 0);
	assert_int_equal(s.n, 0);
	/* the count is returned even without a callback */
	assert_int_equal(cpulist_parse("5", 1, 63, NULL, NULL), 1);
	const char *bad[] = { "a", "3-1", "1-", "-1", "1,,2", "1,", "0-64", "1 2", "1-2-3", "0x1" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(cpulist_parse(bad[i], strlen(bad[i]), 63, NULL, NULL), -EINVAL);
}

/* ---------------- every real file in the peer data ---------------- */

/* Naive reference: count the cpuN lines with at least 4 numbers. */
static size_t ref_cpu_lines(const char *txt, int *ids, unsigned long long *user, size_t max)
{
	size_t n = 0;
	for (const char *l = txt; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		int id;
		unsigned long long a, b, c, d;
		if (strncmp(l, "cpu", 3) == 0 && l[3] >= '0' && l[3] <= '9' &&
		    sscanf(l, "cpu%d %llu %llu %llu %llu", &id, &a, &b, &c, &d) == 5 && n < max) {
			ids[n] = id;
			user[n] = a;
			n++;
		}
	}
	return n;
}

static void check_procstat_file(const char *path)
{
	size_t len = 0;
	char *txt = slurp(path, &len);
	assert_non_null(txt);
	int ids[512];
	unsigned long long user[512];
	size_t want = ref_cpu_lines(txt, ids, user, 512);
	/* the aggregate line's column count, counted by hand */
	unsigned cols = 0;
	const char *p = txt + 3;
	while (*p && *p != '\n') {
		while (*p == ' ')
			p++;
		if (*p >= '0' && *p <= '9')
			cols++;
		while (*p && *p != ' ' && *p != '\n')
			p++;
	}
	struct procstat ps;
	assert_int_equal(procstat_parse(txt, len, &ps), 0);
	assert_true(ps.has_all);
	assert_int_equal(ps.all.nfields, cols > 10 ? 10 : cols);
	assert_int_equal(ps.ncpus, want);
	for (size_t i = 0; i < want; i++) {
		const struct cpu_times *t = procstat_cpu(&ps, ids[i]);
		assert_non_null(t);
		assert_int_equal(t->v[CT_USER], user[i]);
	}
	procstat_done(&ps);
	free(txt);
}

static void check_psi_file(const char *path)
{
	size_t len = 0;
	char *txt = slurp(path, &len);
	assert_non_null(txt);
	unsigned long long total = 0;
	const char *s = strstr(txt, "some ");
	const char *t = s ? strstr(s, "total=") : NULL;
	struct psi p;
	assert_int_equal(psi_parse(txt, len, &p), 0);
	if (t) {
		assert_int_equal(sscanf(t, "total=%llu", &total), 1);
		assert_true(p.has_some);
		assert_int_equal(p.some.total_us, total);
	}
	assert_int_equal(p.has_full, strstr(txt, "full ") != NULL);
	free(txt);
}

static void test_peer_files(void **state)
{
	(void)state;
	PEER_OR_SKIP(base, ".");
	static const char *const roots[] = {
		"sysstat-roots/root1", "sysstat-roots/root2", "sysstat-roots/root3", "sysstat-roots/root4",
		"sysstat-roots/root5", "sysstat-roots/root6", "sysstat-roots/root6b", "sysstat-roots/root7",
		"procfs-fixtures",
	};
	static const char *const psi[] = { "cpu", "memory", "io" };
	unsigned nstat = 0, npsi = 0;
	for (size_t i = 0; i < ARRAY_SIZE(roots); i++) {
		char *p = xasprintf("%s/%s/proc/stat", base, roots[i]);
		if (access(p, R_OK) == 0) {
			check_procstat_file(p);
			nstat++;
		}
		free(p);
		for (size_t k = 0; k < ARRAY_SIZE(psi); k++) {
			p = xasprintf("%s/%s/proc/pressure/%s", base, roots[i], psi[k]);
			if (access(p, R_OK) == 0) {
				check_psi_file(p);
				npsi++;
			}
			free(p);
		}
	}
	free(base);
	if (nstat == 0)
		SKIP_BECAUSE("no proc/stat found in the peer data");
	assert_int_equal(nstat, ARRAY_SIZE(roots));
	assert_true(npsi >= 3);
}

/* Old format, peer: root6 has 7 columns (no steal). */
static void test_peer_root6_no_steal(void **state)
{
	(void)state;
	PEER_OR_SKIP(path, "sysstat-roots/root6/proc/stat");
	size_t len = 0;
	char *txt = slurp(path, &len);
	struct procstat ps;
	assert_int_equal(procstat_parse(txt, len, &ps), 0);
	assert_int_equal(ps.all.nfields, 7);
	for (size_t i = 0; i < ps.ncpus; i++)
		assert_true(ps.cpus[i].nfields < 8);
	procstat_done(&ps);
	free(txt);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_procstat_10_columns),
		cmocka_unit_test(test_procstat_column_generations),
		cmocka_unit_test(test_procstat_offline_ids),
		cmocka_unit_test(test_procstat_garbage),
		cmocka_unit_test(test_psi),
		cmocka_unit_test(test_task_schedstat),
		cmocka_unit_test(test_proc_schedstat_v15),
		cmocka_unit_test(test_proc_schedstat_peer),
		cmocka_unit_test(test_loadavg),
		cmocka_unit_test(test_cg_cpustat),
		cmocka_unit_test(test_cg_cpumax),
		cmocka_unit_test(test_cpulist),
		cmocka_unit_test(test_peer_files),
		cmocka_unit_test(test_peer_root6_no_steal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
