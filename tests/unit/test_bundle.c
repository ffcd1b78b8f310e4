/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Capture bundles (src/sample/bundle.c): what the writer stores the reader
 * gives back byte for byte, and the reader treats a bundle as hostile input
 * (bad meta.json, bad or backwards times, symlinks out of the bundle, FIFOs,
 * odd names).  Last, the sysstat peer roots copied into a bundle, one root a
 * sample, must analyse without absurd numbers although CPUs go offline and
 * counters go backwards between them.
 */
#include "harness.h"

#include <dirent.h>
#include <math.h>
#include <time.h>

#include "analysis/analysis.h"
#include "sample/bundle.h"

static const char GOOD_META[] = "{\"format\":\"hiddenq-capture/1\",\"interval_ms\":100}";

static void rm_rel(const char *dir, const char *rel)
{
	char *p = xasprintf("%s/%s", dir, rel);
	assert_int_equal(unlink(p), 0);
	free(p);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put_time(const char *b, const char *sample, unsigned long long mono, unsigned long long real)
{
	char rel[64], txt[64];
	snprintf(rel, sizeof(rel), "samples/%s/time", sample);
	snprintf(txt, sizeof(txt), "%llu %llu\n", mono, real);
	put_file(b, rel, txt);
}

/* A minimal valid sample: time and a /proc/stat. */
static void put_sample(const char *b, const char *sample, unsigned long long mono)
{
	char rel[64];
	put_time(b, sample, mono, 1700000000000000000ull + mono);
	snprintf(rel, sizeof(rel), "samples/%s/proc/stat", sample);
	put_file(b, rel, "cpu  1 0 1 10 0 0 0 0 0 0\ncpu0 1 0 1 10 0 0 0 0 0 0\n");
}

/* Read every sample; returns how many were delivered, their times in mono[]. */
static unsigned read_all(const char *b, uint64_t *mono, size_t max, unsigned *skipped)
{
	struct bundle_reader r;
	char *why = NULL;
	int ret = bundle_open(&r, b, &why);
	if (ret < 0)
		fail_msg("bundle_open: %s", why ? why : "?");
	struct sample s;
	unsigned n = 0;
	while (bundle_next(&r, &s) == 1) {
		if (n < max)
			mono[n] = s.mono_ns;
		n++;
		sample_done(&s);
	}
	if (skipped)
		*skipped = r.skipped;
	bundle_close(&r);
	return n;
}

/* ---------------- round trip ---------------- */

/* The sample's arena: many small files, big ones, taken buffers; pointers stay valid. */
static void test_sample_arena(void **state)
{
	(void)state;
	struct sample s;
	sample_init(&s);
	char path[64], data[64];
	sample_reserve(&s, 100, 1000);
	for (int i = 0; i < 5000; i++) {
		snprintf(path, sizeof(path), "proc/%d/task/%d/schedstat", i, i + 1);
		int n = snprintf(data, sizeof(data), "%d %d 7\n", i * 3, i * 5);
		sample_add(&s, path, data, (size_t)n);
		if (i % 1000 == 0) {
			size_t big = (size_t)(i + 1) * 1024;
			char *b = malloc(big + 1);
			memset(b, 'a' + i / 1000, big);
			b[big] = '\0';
			snprintf(path, sizeof(path), "big/%d", i);
			sample_add(&s, path, b, big);
			char *t = strdup("taken");
			snprintf(path, sizeof(path), "taken/%d", i);
			sample_add_take(&s, path, t, 5);
			free(b);
		}
	}
	sample_add(&s, "empty", "", 0);
	assert_int_equal(s.nfiles, 5000 + 5 * 2 + 1);
	for (int i = 0; i < 5000; i += 499) {
		snprintf(path, sizeof(path), "proc/%d/task/%d/schedstat", i, i + 1);
		const struct sfile *f = sample_find(&s, path);
		assert_non_null(f);
		int n = snprintf(data, sizeof(data), "%d %d 7\n", i * 3, i * 5);
		assert_int_equal(f->len, (size_t)n);
		assert_memory_equal(f->data, data, (size_t)n + 1);
	}
	for (int i = 0; i < 5000; i += 1000) {
		snprintf(path, sizeof(path), "big/%d", i);
		const struct sfile *f = sample_find(&s, path);
		assert_non_null(f);
		assert_int_equal(f->len, (size_t)(i + 1) * 1024);
		assert_int_equal(f->data[f->len - 1], 'a' + i / 1000);
		assert_int_equal(f->data[f->len], '\0');
		snprintf(path, sizeof(path), "taken/%d", i);
		f = sample_find(&s, path);
		assert_non_null(f);
		assert_string_equal(f->data, "taken");
	}
	const struct sfile *e = sample_find(&s, "empty");
	assert_non_null(e);
	assert_int_equal(e->len, 0);
	assert_string_equal(e->data, "");
	sample_done(&s);
	assert_int_equal(s.nfiles, 0);
	sample_done(&s); /* twice is harmless */
}

static void test_roundtrip(void **state)
{
	(void)state;
	char *d = make_tempdir();
	char *b = xasprintf("%s/bundle", d);
	struct sample statics, s[3];
	sample_init(&statics);
	sample_put(&statics, "proc/sys/kernel/osrelease", "6.1.0-test\n");
	sample_put(&statics, ".hiddenq/identity.json", "{\"euid\":0}");
	static const char bin[] = { 'a', '\0', 'b', '\n', '\xff', '\0' }; /* NULs, no final newline */
	for (int i = 0; i < 3; i++) {
		sample_init(&s[i]);
		s[i].mono_ns = 5 * NS_PER_S + (uint64_t)i * 100 * NS_PER_MS;
		s[i].real_ns = 1700000000123456789ull + (uint64_t)i * 100 * NS_PER_MS;
		char txt[128];
		snprintf(txt, sizeof(txt), "cpu  %d 0 0 100\ncpu0 %d 0 0 100\n", 10 + i, 10 + i);
		sample_put(&s[i], "proc/stat", txt);
		snprintf(txt, sizeof(txt), "some avg10=0.00 avg60=0.00 avg300=0.00 total=%d\n", 1000 * i);
		sample_put(&s[i], "proc/pressure/cpu", txt);
		sample_add(&s[i], "proc/deep/er/bin", bin, sizeof(bin));
		sample_add(&s[i], "proc/empty", "", 0);
	}
	json_t *meta = json_pack("{s:i, s:[s]}", "interval_ms", 100, "static", "proc/sys/kernel/osrelease");
	struct bundle_writer w;
	char *why = NULL;
	assert_int_equal(bundle_create(&w, b, meta, &why), 0);
	assert_null(why);
	assert_int_equal(bundle_write_sample(&w, &s[0], &statics), 0);
	assert_int_equal(bundle_write_sample(&w, &s[1], NULL), 0);
	assert_int_equal(bundle_write_sample(&w, &s[2], NULL), 0);
	assert_int_equal(bundle_finish(&w, true), 0);

	/* a second capture into the same directory is refused */
	assert_int_equal(bundle_create(&w, b, json_object(), &why), -EEXIST);
	assert_non_null(why);
	free(why);

	struct bundle_reader r;
	assert_int_equal(bundle_open(&r, b, &why), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.interval_ns, 100 * NS_PER_MS);
	assert_int_equal(json_integer_value(json_object_get(r.meta, "samples")), 3);
	assert_true(json_is_true(json_object_get(r.meta, "complete")));
	assert_string_equal(json_string_value(json_object_get(r.meta, "format")), BUNDLE_FORMAT);
	for (int i = 0; i < 3; i++) {
		struct sample got;
		assert_int_equal(bundle_next(&r, &got), 1);
		assert_int_equal(got.mono_ns, s[i].mono_ns);
		assert_int_equal(got.real_ns, s[i].real_ns);
		assert_int_equal(got.index, (unsigned)i);
		for (size_t k = 0; k < s[i].nfiles; k++) {
			const struct sfile *want = &s[i].files[k];
			const struct sfile *f = sample_find(&got, want->path);
			assert_non_null(f);
			assert_int_equal(f->len, want->len);
			assert_memory_equal(f->data, want->data, want->len);
			assert_int_equal(f->data[f->len], '\0');
		}
		/* statics only in sample 0; "time" is not a file of the sample */
		assert_true((sample_find(&got, "proc/sys/kernel/osrelease") != NULL) == (i == 0));
		assert_null(sample_find(&got, "time"));
		assert_int_equal(got.nfiles, s[i].nfiles + (i == 0 ? statics.nfiles : 0));
		sample_done(&got);
	}
	struct sample none;
	assert_int_equal(bundle_next(&r, &none), 0);
	/* statics: the listed path and every .hiddenq/ file, not the hot files */
	assert_true(r.have_statics);
	const struct sfile *os = sample_find(&r.statics, "proc/sys/kernel/osrelease");
	assert_non_null(os);
	assert_string_equal(os->data, "6.1.0-test\n");
	assert_non_null(sample_find(&r.statics, ".hiddenq/identity.json"));
	assert_null(sample_find(&r.statics, "proc/stat"));
	assert_int_equal(r.delivered, 3);
	assert_int_equal(r.skipped, 0);
	bundle_close(&r);

	for (int i = 0; i < 3; i++)
		sample_done(&s[i]);
	sample_done(&statics);
	rm_tree(d);
	free(b);
	free(d);
}

/* ---------------- meta.json ---------------- */

static void expect_open_fails(const char *b, const char *reason_word)
{
	struct bundle_reader r;
	char *why = NULL;
	double t0 = now_s();
	int ret = bundle_open(&r, b, &why);
	assert_true(ret < 0);
	assert_true(now_s() - t0 < 5.0);
	assert_non_null(why);
	if (!strstr(why, reason_word))
		fail_msg("reason \"%s\" does not mention \"%s\"", why, reason_word);
	free(why);
}

static void test_bad_meta(void **state)
{
	(void)state;
	char *d = make_tempdir();
	char *b = xasprintf("%s/b", d);
	put_sample(b, "000000", NS_PER_S);

	expect_open_fails(b, "meta.json"); /* missing */
	put_file(b, "meta.json", "{\"format\": \"hiddenq-capture/1\"");
	expect_open_fails(b, "JSON");
	put_file(b, "meta.json", "[1, 2]");
	expect_open_fails(b, "JSON");
	put_file(b, "meta.json", "{\"format\":\"other-tool/1\"}");
	expect_open_fails(b, "format");
	put_file(b, "meta.json", "{\"format\":\"hiddenq-capture/10\"}");
	expect_open_fails(b, "format");
	put_file(b, "meta.json", "{\"format\":2}");
	expect_open_fails(b, "format");
	put_file(b, "meta.json", "{}");
	expect_open_fails(b, "format");

	/* a later minor version is read */
	put_file(b, "meta.json", "{\"format\":\"hiddenq-capture/1.3\",\"interval_ms\":-5}");
	uint64_t t[4];
	assert_int_equal(read_all(b, t, 4, NULL), 1);

	/* meta.json as a FIFO: refused without blocking; as a symlink: refused */
	rm_rel(b, "meta.json");
	put_fifo(b, "meta.json");
	expect_open_fails(b, "meta.json");
	rm_rel(b, "meta.json");
	put_file(d, "elsewhere.json", GOOD_META);
	put_symlink(b, "meta.json", "../elsewhere.json");
	expect_open_fails(b, "meta.json");

	/* the bundle directory itself a symlink: the path the user typed is theirs
	 * to choose; only what is inside the bundle is confined */
	char *good = xasprintf("%s/good", d);
	put_file(good, "meta.json", GOOD_META);
	put_sample(good, "000000", NS_PER_S);
	put_sample(good, "000001", 2 * NS_PER_S);
	put_symlink(d, "linked", good);
	char *linked = xasprintf("%s/linked", d);
	assert_int_equal(read_all(linked, t, 4, NULL), 2);
	assert_int_equal(t[1], 2 * NS_PER_S);
	/* ... and a symlink inside it still is not followed */
	char *inner = xasprintf("%s/samples/000001", good);
	rm_tree(inner);
	free(inner);
	char *s0 = xasprintf("%s/samples/000000", good);
	put_symlink(good, "samples/000001", s0);
	free(s0);
	unsigned skipped = 0;
	assert_int_equal(read_all(linked, t, 4, &skipped), 1);
	assert_int_equal(skipped, 1);
	free(linked);
	free(good);
	rm_tree(d);
	free(b);
	free(d);
}

static void test_no_samples(void **state)
{
	(void)state;
	char *d = make_tempdir();
	put_file(d, "meta.json", GOOD_META);
	expect_open_fails(d, "samples"); /* no samples/ */
	put_dir(d, "samples");
	expect_open_fails(d, "no samples"); /* empty */
	/* only names that are not samples: still none */
	put_dir(d, "samples/000001.tmp");
	put_time(d, "000001.tmp", NS_PER_S, 0);
	put_dir(d, "samples/abc");
	put_dir(d, "samples/12345");
	put_file(d, "samples/000002x", "x");
	expect_open_fails(d, "no samples");
	/* samples/ as a symlink to a real sample tree */
	char *other = xasprintf("%s/other", d);
	put_sample(other, "000000", NS_PER_S);
	char *sd = xasprintf("%s/samples", d);
	rm_tree(sd);
	free(sd);
	sd = xasprintf("%s/samples", other);
	put_symlink(d, "samples", sd);
	expect_open_fails(d, "samples");
	free(sd);
	free(other);
	rm_tree(d);
	free(d);
}

/* ---------------- sample times ---------------- */

static void test_bad_times_skipped(void **state)
{
	(void)state;
	char *d = make_tempdir();
	put_file(d, "meta.json", GOOD_META);
	put_sample(d, "000000", 1 * NS_PER_S);
	put_sample(d, "000001", 2 * NS_PER_S);
	put_file(d, "samples/000001/time", "abc\n");
	put_sample(d, "000002", 3 * NS_PER_S);
	rm_rel(d, "samples/000002/time");
	put_sample(d, "000003", 4 * NS_PER_S);
	rm_rel(d, "samples/000003/time");
	put_fifo(d, "samples/000003/time");
	put_sample(d, "000004", 5 * NS_PER_S);
	put_file(d, "samples/000004/time", "5000000000 1 trailing-garbage\n");
	put_sample(d, "000005", 6 * NS_PER_S);
	put_file(d, "samples/000005/time", "");
	put_sample(d, "000006", 7 * NS_PER_S);
	put_file(d, "samples/000006/time", "99999999999999999999999 1\n"); /* overflows */
	put_sample(d, "000007", 8 * NS_PER_S);
	put_file(d, "samples/000007/time", "8000000000\n"); /* realtime is optional */
	uint64_t t[8];
	unsigned skipped = 0;
	double t0 = now_s();
	assert_int_equal(read_all(d, t, 8, &skipped), 2);
	assert_true(now_s() - t0 < 5.0);
	assert_int_equal(t[0], 1 * NS_PER_S);
	assert_int_equal(t[1], 8 * NS_PER_S);
	assert_int_equal(skipped, 6);
	rm_tree(d);
	free(d);
}

static void test_backwards_times_skipped(void **state)
{
	(void)state;
	char *d = make_tempdir();
	put_file(d, "meta.json", GOOD_META);
	unsigned long long times[] = { 5, 4, 5, 6, 1, 7 };
	for (int i = 0; i < 6; i++) {
		char name[16];
		snprintf(name, sizeof(name), "%06d", i);
		put_sample(d, name, times[i] * NS_PER_S);
	}
	uint64_t t[6];
	unsigned skipped = 0;
	assert_int_equal(read_all(d, t, 6, &skipped), 3);
	assert_int_equal(t[0], 5 * NS_PER_S);
	assert_int_equal(t[1], 6 * NS_PER_S);
	assert_int_equal(t[2], 7 * NS_PER_S);
	assert_int_equal(skipped, 3);
	rm_tree(d);
	free(d);
}

/* Sample directories are ordered by number, not by string. */
static void test_sample_order(void **state)
{
	(void)state;
	char *d = make_tempdir();
	put_file(d, "meta.json", GOOD_META);
	put_sample(d, "999999", 1 * NS_PER_S);
	put_sample(d, "1000000", 2 * NS_PER_S);
	put_sample(d, "000010", 0);
	uint64_t t[3];
	assert_int_equal(read_all(d, t, 3, NULL), 3);
	assert_int_equal(t[0], 0);
	assert_int_equal(t[1], 1 * NS_PER_S);
	assert_int_equal(t[2], 2 * NS_PER_S);
	rm_tree(d);
	free(d);
}

/* ---------------- hostile entries inside samples ---------------- */

static bool any_file_contains(const struct sample *s, const char *needle)
{
	for (size_t i = 0; i < s->nfiles; i++)
		if (memmem(s->files[i].data, s->files[i].len, needle, strlen(needle)))
			return true;
	return false;
}

static void test_hostile_entries(void **state)
{
	(void)state;
	char *d = make_tempdir();
	char *b = xasprintf("%s/b", d);
	put_file(d, "secret", "OUTSIDE-SECRET\n");
	put_file(b, "meta.json",
		 "{\"format\":\"hiddenq-capture/1\",\"static\":[\"../../secret\",\"../secret\",\"proc/x\"]}");
	put_sample(b, "000000", NS_PER_S);
	/* file symlinks out of the bundle, absolute and relative */
	put_symlink(b, "samples/000000/proc/pressure/cpu", "/etc/passwd");
	put_symlink(b, "samples/000000/proc/loadavg", "../../../../secret");
	/* a directory symlink */
	put_symlink(b, "samples/000000/sys", d);
	/* a FIFO nobody writes to */
	put_fifo(b, "samples/000000/proc/pressure/memory");
	/* odd but harmless names are ordinary files */
	put_file(b, "samples/000000/proc/...", "three dots\n");
	put_file(b, "samples/000000/proc/..x", "dot dot x\n");
	/* a whole sample that is a symlink to a directory outside */
	put_sample(d, "outside-sample", 2 * NS_PER_S);
	put_file(d, "outside-sample/samples/outside-sample/proc/stat", "OUTSIDE-SECRET\n");
	char *target = xasprintf("%s/outside-sample/samples/outside-sample", d);
	put_symlink(b, "samples/000001", target);
	put_sample(b, "000002", 3 * NS_PER_S);

	struct bundle_reader r;
	char *why = NULL;
	assert_int_equal(bundle_open(&r, b, &why), 0);
	double t0 = now_s();
	struct sample s;
	unsigned n = 0;
	while (bundle_next(&r, &s) == 1) {
		assert_false(any_file_contains(&s, "OUTSIDE-SECRET"));
		assert_false(any_file_contains(&s, "root:"));
		assert_null(sample_find(&s, "proc/pressure/cpu"));
		assert_null(sample_find(&s, "proc/pressure/memory"));
		assert_null(sample_find(&s, "proc/loadavg"));
		for (size_t i = 0; i < s.nfiles; i++)
			assert_true(strncmp(s.files[i].path, "sys/", 4) != 0);
		if (n == 0) {
			const struct sfile *f = sample_find(&s, "proc/...");
			assert_non_null(f);
			assert_string_equal(f->data, "three dots\n");
			assert_non_null(sample_find(&s, "proc/..x"));
			assert_non_null(sample_find(&s, "proc/stat"));
		}
		n++;
		sample_done(&s);
	}
	assert_true(now_s() - t0 < 5.0);
	assert_int_equal(n, 2); /* 000000 and 000002; the symlinked 000001 is skipped */
	assert_int_equal(r.skipped, 1);
	assert_false(any_file_contains(&r.statics, "OUTSIDE-SECRET"));
	assert_null(sample_find(&r.statics, "../../secret"));
	bundle_close(&r);
	free(target);
	rm_tree(d);
	free(b);
	free(d);
}

/* ---------------- the sysstat peer roots as a bundle ---------------- */

static const char *copy_src, *copy_dst;

static int copy_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag != FTW_F || !S_ISREG(st->st_mode))
		return 0; /* directories come with their files; symlinks are not copied */
	size_t len;
	char *data = slurp(path, &len);
	if (!data)
		return 0; /* unreadable in the peer tree: not part of the sample */
	const char *rel = path + strlen(copy_src) + 1;
	put_file_len(copy_dst, rel, data, len);
	free(data);
	return 0;
}

static void copy_tree(const char *src, const char *dst)
{
	copy_src = src;
	copy_dst = dst;
	assert_int_equal(nftw(src, copy_one, 32, FTW_PHYS), 0);
}

static void test_peer_sysstat_bundle(void **state)
{
	(void)state;
	PEER_OR_SKIP(base, "sysstat-roots");
	char *d = make_tempdir();
	put_file(d, "meta.json", "{\"format\":\"hiddenq-capture/1\",\"hostname\":\"sysstat-roots\"}");
	static const char *const roots[] = { "root1", "root2", "root3", "root4", "root5" };
	uint64_t up_ns[5];
	for (int i = 0; i < 5; i++) {
		char *src = xasprintf("%s/%s", base, roots[i]);
		char *dst = xasprintf("%s/samples/%06d", d, i);
		copy_tree(src, dst);
		/* time base: the root's own uptime (README.sysstat gives the same) */
		char *up = xasprintf("%s/proc/uptime", src);
		char *txt = slurp(up, NULL);
		assert_non_null(txt);
		double secs = 0;
		assert_int_equal(sscanf(txt, "%lf", &secs), 1);
		up_ns[i] = (uint64_t)(secs * 1e9 + 0.5);
		char name[16];
		snprintf(name, sizeof(name), "%06d", i);
		put_time(d, name, (unsigned long long)up_ns[i], 0);
		free(txt);
		free(up);
		free(src);
		free(dst);
	}
	free(base);

	struct bundle_reader r;
	char *why = NULL;
	assert_int_equal(bundle_open(&r, d, &why), 0);
	struct sample s[5];
	unsigned n = 0;
	while (n < 5 && bundle_next(&r, &s[n]) == 1) {
		assert_int_equal(s[n].mono_ns, up_ns[n]);
		assert_non_null(sample_find(&s[n], "proc/stat"));
		n++;
	}
	assert_int_equal(n, 5);
	struct analysis an;
	analysis_init(&an, &r.statics, d);
	for (unsigned i = 0; i < n; i++)
		analysis_feed(&an, &s[i]);
	analysis_finish(&an);
	const struct cpu_analysis *a = &an.cpu;
	assert_true(a->have_procstat);
	assert_true(a->cpus_changed);	 /* CPUs 6 and 8 go offline and back */
	assert_int_equal(a->cpus_max, 9);
	assert_int_equal(a->nslots, 9);
	unsigned resets = 0;
	for (size_t i = 0; i < a->nslots; i++) {
		const struct cpu_slot *sl = &a->slots[i];
		assert_true(sl->intervals <= 4);
		if (sl->total) {
			assert_true(sl->steal_avg >= 0 && sl->steal_avg <= 100);
			assert_true(sl->busy_pct >= 0 && sl->busy_pct <= 100);
			/* ~31 s between roots at 100 ticks/s: no interval can hold
			 * more than a few thousand ticks on one CPU */
			assert_true(sl->total <= (uint64_t)sl->intervals * 100 * 60);
		}
		for (size_t w = 0; w < a->nwins; w++) {
			double p = cpu_window_steal_pct(&a->wins[w], i);
			assert_true(p == -1 || (p >= 0 && p <= 100));
		}
		resets += sl->resets;
	}
	assert_true(resets >= 1); /* CPU#3's idle drops from 145416 to 273 in root5 */
	const struct cpu_slot *s8 = NULL, *s6 = NULL;
	for (size_t i = 0; i < a->nslots; i++) {
		if (a->slots[i].cpu == 8)
			s8 = &a->slots[i];
		if (a->slots[i].cpu == 6)
			s6 = &a->slots[i];
	}
	assert_non_null(s8);
	assert_non_null(s6);
	assert_true(s8->intervals < 4); /* offline in root2 and root3 */
	assert_true(s6->intervals < 4); /* offline in root3 and root4 */
	struct findings fs = { 0 };
	rules_evaluate(&an, &fs);
	for (size_t i = 0; i < fs.n; i++) {
		assert_true(fs.v[i].sev <= SEV_UNKNOWN);
		assert_non_null(fs.v[i].title);
		for (size_t k = 0; k < fs.v[i].nev; k++)
			assert_false(isnan(fs.v[i].ev[k].value));
	}
	int rc = findings_exit_code(&fs);
	assert_true(rc >= 0 && rc <= 3);
	findings_done(&fs);
	analysis_done(&an);
	for (unsigned i = 0; i < n; i++)
		sample_done(&s[i]);
	bundle_close(&r);
	rm_tree(d);
	free(d);
}

int main(void)
{
	hq_quiet = true;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample_arena),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_bad_meta),
		cmocka_unit_test(test_no_samples),
		cmocka_unit_test(test_bad_times_skipped),
		cmocka_unit_test(test_backwards_times_skipped),
		cmocka_unit_test(test_sample_order),
		cmocka_unit_test(test_hostile_entries),
		cmocka_unit_test(test_peer_sysstat_bundle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
