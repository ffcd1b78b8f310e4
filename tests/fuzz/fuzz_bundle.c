/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The bundle reader and the whole analysis on a bundle built from the input.
 *
 * The input is a tiny archive of entries, each "<type><path>\0<content>\0":
 *   f  regular file with that content      d  directory
 *   l  symlink whose target is the content p  FIFO
 *   r  remove the path (to take away the default meta.json, say)
 * A default meta.json is written first; entries may overwrite it.  At most
 * MAX_ENTRIES entries, paths up to MAX_PATH bytes, contents up to MAX_DATA.
 *
 * The tree is built with O_NOFOLLOW at every component, so a symlink entry
 * can never make the harness write outside its directory, and it is removed
 * after every run.  A file outside the bundle holds a random marker; if any
 * sample or static ever contains it, the reader followed a link out of the
 * bundle and we abort.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/analysis.h"
#include "core/util.h"
#include "sample/bundle.h"

#define MAX_ENTRIES 48
#define MAX_PATH 160
#define MAX_DATA 8192

static char base[256], bundle[300], marker[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void cleanup(void)
{
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	hq_quiet = true;
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(base, sizeof(base), "%s/hq-fuzz-bundle-XXXXXX", tmp);
	if (!mkdtemp(base))
		abort();
	snprintf(bundle, sizeof(bundle), "%s/b", base);
	FILE *r = fopen("/dev/urandom", "rb");
	unsigned long long x = 0;
	if (!r || fread(&x, sizeof(x), 1, r) != 1)
		abort();
	fclose(r);
	snprintf(marker, sizeof(marker), "HQ-OUTSIDE-%016llx", x);
	char p[320];
	snprintf(p, sizeof(p), "%s/secret", base);
	FILE *f = fopen(p, "w");
	if (!f)
		abort();
	fprintf(f, "%s\n", marker);
	fclose(f);
	atexit(cleanup);
	return 0;
}

/* A relative path with no empty, "." or ".." component. */
static bool path_ok(const char *p)
{
	if (!*p || *p == '/')
		return false;
	for (const char *c = p; *c;) {
		const char *s = strchr(c, '/');
		size_t n = s ? (size_t)(s - c) : strlen(c);
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += n + (s ? 1 : 0);
		if (s && !*c)
			return false;
	}
	return true;
}

/* Open the parent directory of rel below rootfd, creating it, never
 * following a symlink.  Returns fd and sets *leaf, or -1. */
static int open_parent(int rootfd, char *rel, char **leaf)
{
	int cur = dup(rootfd);
	char *p = rel;
	for (;;) {
		char *s = strchr(p, '/');
		if (!s) {
			*leaf = p;
			return cur;
		}
		*s = '\0';
		mkdirat(cur, p, 0755);
		int nfd = openat(cur, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		*s = '/';
		close(cur);
		if (nfd < 0)
			return -1;
		cur = nfd;
		p = s + 1;
	}
}

static void make_entry(int rootfd, char type, char *path, const char *data, size_t len)
{
	if (!path_ok(path))
		return;
	char *leaf;
	int dfd = open_parent(rootfd, path, &leaf);
	if (dfd < 0)
		return;
	switch (type) {
	case 'd':
		mkdirat(dfd, leaf, 0755);
		break;
	case 'l': {
		char target[MAX_DATA + 1];
		memcpy(target, data, len);
		target[len] = '\0';
		symlinkat(target, dfd, leaf);
		break;
	}
	case 'p':
		mkfifoat(dfd, leaf, 0644);
		break;
	case 'r':
		if (unlinkat(dfd, leaf, 0) < 0)
			unlinkat(dfd, leaf, AT_REMOVEDIR);
		break;
	default: {
		int fd = openat(dfd, leaf, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
		if (fd >= 0) {
			struct stat st;
			if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && write(fd, data, len) < 0)
				(void)0;
			close(fd);
		}
		break;
	}
	}
	close(dfd);
}

static void build(const uint8_t *data, size_t size)
{
	if (mkdir(bundle, 0755) < 0)
		abort();
	int rootfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		abort();
	static const char meta[] = "{\"format\":\"hiddenq-capture/1\",\"interval_ms\":100}";
	char mp[] = "meta.json";
	make_entry(rootfd, 'f', mp, meta, sizeof(meta) - 1);
	const char *p = (const char *)data, *end = p + size;
	for (int n = 0; n < MAX_ENTRIES && p < end; n++) {
		char type = *p++;
		const char *pe = memchr(p, '\0', (size_t)(end - p));
		if (!pe)
			pe = end;
		char path[MAX_PATH + 1];
		size_t pl = (size_t)(pe - p) < MAX_PATH ? (size_t)(pe - p) : MAX_PATH;
		memcpy(path, p, pl);
		path[pl] = '\0';
		p = pe < end ? pe + 1 : end;
		const char *de = memchr(p, '\0', (size_t)(end - p));
		if (!de)
			de = end;
		size_t dl = (size_t)(de - p) < MAX_DATA ? (size_t)(de - p) : MAX_DATA;
		make_entry(rootfd, type, path, p, dl);
		p = de < end ? de + 1 : end;
	}
	close(rootfd);
}

static void no_marker(const struct sample *s)
{
	for (size_t i = 0; i < s->nfiles; i++)
		if (memmem(s->files[i].data, s->files[i].len, marker, strlen(marker)))
			abort(); /* read through a link out of the bundle */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (memmem(data, size, marker, strlen(marker)))
		return 0; /* the input carries the marker itself: nothing to learn */
	build(data, size);

	struct bundle_reader r;
	char *why = NULL;
	if (bundle_open(&r, bundle, &why) == 0) {
		struct sample s;
		struct analysis an;
		bool started = false;
		while (bundle_next(&r, &s) == 1) {
			no_marker(&s);
			if (!started) {
				no_marker(&r.statics);
				analysis_init(&an, &r.statics, bundle);
				started = true;
			}
			analysis_feed(&an, &s);
			sample_done(&s);
		}
		if (started) {
			analysis_finish(&an);
			struct findings fs = { 0 };
			rules_evaluate(&an, &fs);
			if (findings_exit_code(&fs) > 3)
				abort();
			struct capabilities caps;
			capabilities_build(&an, &caps);
			capabilities_done(&caps);
			struct environment env;
			environment_build(&an, &env);
			findings_done(&fs);
			analysis_done(&an);
		}
		bundle_close(&r);
	} else if (!why) {
		abort(); /* a failure always says why */
	}
	free(why);
	nftw(bundle, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
