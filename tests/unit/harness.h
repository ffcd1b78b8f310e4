/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The few helpers every unit test shares: cmocka, temporary directory trees
 * (made and removed by the test itself), reading files, and locating the peer
 * data (real /proc snapshots from other projects), which is absent on a
 * user's machine: tests that need it skip with the reason.
 *
 * Header-only on purpose: each test is one .c file plus this.
 */
#ifndef HQ_TEST_HARNESS_H
#define HQ_TEST_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/util.h"
#include "core/sample.h"

/* Skip the current test, saying why on stdout. */
#define SKIP_BECAUSE(...)                                                                          \
	do {                                                                                       \
		printf("[  SKIP    ] ");                                                           \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
		skip();                                                                            \
	} while (0)

/*
 * Path of `sub` under the peer data (env HIDDENQ_PEER_DATA), malloc'd, or NULL
 * when the peer data (or that part of it) is absent.
 */
static inline char *peer_path(const char *sub)
{
	const char *base = getenv("HIDDENQ_PEER_DATA");
	if (!base || !*base)
		return NULL;
	char *p = xasprintf("%s/%s", base, sub);
	struct stat st;
	if (stat(p, &st) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

/* Like peer_path, but skips the test when absent. */
#define PEER_OR_SKIP(var, sub)                                                                     \
	char *var = peer_path(sub);                                                                \
	if (!var)                                                                                  \
		SKIP_BECAUSE("peer data %s absent (HIDDENQ_PEER_DATA=%s)", sub,                    \
			     getenv("HIDDENQ_PEER_DATA") ? getenv("HIDDENQ_PEER_DATA") : "unset")

/* A fresh private directory; the caller removes it with rm_tree(). */
static inline char *make_tempdir(void)
{
	const char *t = getenv("TMPDIR");
	char *tmpl = xasprintf("%s/hq-unit-XXXXXX", t && *t ? t : "/tmp");
	assert_non_null(mkdtemp(tmpl));
	return tmpl;
}

static inline int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

/* rm -rf, never following symlinks (FTW_PHYS). */
static inline void rm_tree(const char *dir)
{
	if (dir)
		nftw(dir, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

/* mkdir -p of the parents of `path`. */
static inline void mkparents(const char *path)
{
	char *p = xstrdup(path);
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0755) < 0)
			assert_int_equal(errno, EEXIST);
		*s = '/';
	}
	free(p);
}

/* Write `len` bytes to dir/rel, creating parents. */
static inline void put_file_len(const char *dir, const char *rel, const void *data, size_t len)
{
	char *path = xasprintf("%s/%s", dir, rel);
	mkparents(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	free(path);
}

static inline void put_file(const char *dir, const char *rel, const char *text)
{
	put_file_len(dir, rel, text, strlen(text));
}

static inline void put_symlink(const char *dir, const char *rel, const char *target)
{
	char *path = xasprintf("%s/%s", dir, rel);
	mkparents(path);
	assert_int_equal(symlink(target, path), 0);
	free(path);
}

static inline void put_fifo(const char *dir, const char *rel)
{
	char *path = xasprintf("%s/%s", dir, rel);
	mkparents(path);
	assert_int_equal(mkfifo(path, 0644), 0);
	free(path);
}

static inline void put_dir(const char *dir, const char *rel)
{
	char *path = xasprintf("%s/%s/", dir, rel);
	mkparents(path);
	free(path);
}

/* Whole file into a NUL-terminated buffer (NULL if unreadable). */
static inline char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap);
	size_t r;
	while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (n + 1 >= cap)
			buf = xrealloc(buf, cap *= 2);
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* sample_add of a C string. */
static inline void sample_put(struct sample *s, const char *path, const char *text)
{
	sample_add(s, path, text, strlen(text));
}

/*
 * A /proc/stat text builder: per CPU the ten counters, printed with `ncols`
 * columns (10, 8, 7 or 4: the kernel generations), an aggregate line that is
 * the sum of the CPUs shown, and a procs_running line.  CPUs with
 * online[i] == false are left out, like the kernel does for offline CPUs.
 */
struct fake_cpu {
	int id;
	bool online;
	uint64_t v[10];
};

static inline char *fake_procstat(const struct fake_cpu *c, size_t n, unsigned ncols, unsigned running)
{
	uint64_t sum[10] = { 0 };
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 10 && c[i].online; k++)
			sum[k] += c[i].v[k];
	size_t cap = 256 + n * 256, o = 0;
	char *buf = xmalloc(cap);
	o += (size_t)snprintf(buf + o, cap - o, "cpu ");
	for (unsigned k = 0; k < ncols; k++)
		o += (size_t)snprintf(buf + o, cap - o, " %llu", (unsigned long long)sum[k]);
	o += (size_t)snprintf(buf + o, cap - o, "\n");
	for (size_t i = 0; i < n; i++) {
		if (!c[i].online)
			continue;
		o += (size_t)snprintf(buf + o, cap - o, "cpu%d", c[i].id);
		for (unsigned k = 0; k < ncols; k++)
			o += (size_t)snprintf(buf + o, cap - o, " %llu", (unsigned long long)c[i].v[k]);
		o += (size_t)snprintf(buf + o, cap - o, "\n");
	}
	snprintf(buf + o, cap - o, "intr 12345 0 0\nctxt 987654\nbtime 1700000000\nprocesses 4242\n"
				   "procs_running %u\nprocs_blocked 0\nsoftirq 1 2 3\n",
		 running);
	return buf;
}

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull

#endif
