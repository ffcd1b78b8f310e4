/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "fsroot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/util.h"

/* ---- fault injection (tests only; costs one getenv per open) ---- */

static const char *fault_spec(void)
{
	static const char *spec;
	static bool init;
	if (!init) {
		spec = getenv("HIDDENQ_FAULT");
		init = true;
	}
	return spec;
}

/* Returns 0 (no fault), -errno, or 1 for "short read". */
static int fault_for(const char *rel)
{
	const char *spec = fault_spec();
	if (!spec || !rel)
		return 0;
	size_t rl = strlen(rel);
	for (const char *p = spec; *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		if (eq && (size_t)(eq - p) == rl && memcmp(p, rel, rl) == 0) {
			size_t vn = n - (size_t)(eq - p) - 1;
			const char *v = eq + 1;
			if (vn == 5 && memcmp(v, "short", 5) == 0)
				return 1;
			if (vn == 3 && memcmp(v, "EIO", 3) == 0)
				return -EIO;
			if (vn == 6 && memcmp(v, "ENOENT", 6) == 0)
				return -ENOENT;
			if (vn == 6 && memcmp(v, "EACCES", 6) == 0)
				return -EACCES;
			return -EIO;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

bool fsroot_path_ok(const char *rel)
{
	if (!rel || !*rel || rel[0] == '/')
		return false;
	const char *p = rel;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/')
			p++;
	}
	return true;
}

int fsroot_init(struct fsroot *r, const char *path, bool confined)
{
	memset(r, 0, sizeof(*r));
	/* The path itself is the user's: a symlink they typed (or made) to a bundle
	 * is followed like any path on a command line.  Confinement is about what
	 * the tree holds, so it starts below this directory. */
	r->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->dirfd < 0)
		return -errno;
	r->confined = confined;
	r->path = xstrdup(path);
	return 0;
}

void fsroot_done(struct fsroot *r)
{
	if (r->dirfd >= 0)
		close(r->dirfd);
	free(r->path);
	r->dirfd = -1;
	r->path = NULL;
}

/*
 * Walk `rel` below the root one component at a time, never following a
 * symlink and never leaving the tree.  The last component is opened with
 * `lastflags`.
 */
static int confined_open(int rootfd, const char *rel, int lastflags)
{
	if (*rel == '\0') {
		int fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	if (!fsroot_path_ok(rel))
		return -EINVAL;
	int cur = rootfd;
	const char *p = rel;
	char comp[256];
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n >= sizeof(comp)) {
			if (cur != rootfd)
				close(cur);
			return -ENAMETOOLONG;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		int flags = slash ? (O_RDONLY | O_DIRECTORY) : lastflags;
		int fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		if (cur != rootfd)
			close(cur);
		if (fd < 0)
			return e == ELOOP ? -ELOOP : -e;
		if (!slash)
			return fd;
		cur = fd;
		p = slash + 1;
	}
}

int fsroot_open(const struct fsroot *r, const char *rel)
{
	int f = fault_for(rel);
	if (f < 0)
		return f;
	if (!r->confined) {
		if (!rel || rel[0] == '/')
			return -EINVAL;
		int fd = openat(r->dirfd, rel, O_RDONLY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	/* O_NONBLOCK: a FIFO in a bundle must not block the open. */
	int fd = confined_open(r->dirfd, rel, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return fd;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

int fsroot_opendir(const struct fsroot *r, const char *rel)
{
	if (!r->confined) {
		int fd = openat(r->dirfd, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	return confined_open(r->dirfd, rel, O_RDONLY | O_DIRECTORY);
}

bool fsroot_exists(const struct fsroot *r, const char *rel)
{
	if (fault_for(rel) < 0)
		return false;
	if (!r->confined) {
		struct stat st;
		return fstatat(r->dirfd, rel, &st, 0) == 0;
	}
	int fd = confined_open(r->dirfd, rel, O_PATH);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int fsroot_pread_all(int fd, const char *rel, char **buf, size_t *cap, size_t *len, size_t max)
{
	int f = fault_for(rel);
	if (f < 0)
		return f;
	size_t n = 0;
	int ret = 0;
	if (*cap < 4096) {
		*buf = xrealloc(*buf, 4096);
		*cap = 4096;
	}
	for (;;) {
		/* the buffer may be larger than max (first 4 KiB, or reused) */
		size_t lim = *cap < max ? *cap : max;
		if (n + 1 >= lim) {
			if (lim >= max) {
				ret = -EFBIG;
				break;
			}
			size_t ncap = *cap * 2 > max ? max : *cap * 2;
			*buf = xrealloc(*buf, ncap);
			*cap = ncap;
			continue;
		}
		ssize_t r = pread(fd, *buf + n, lim - n - 1, (off_t)n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (f == 1)
		n /= 2;
	(*buf)[n] = '\0';
	*len = n;
	return ret == -EFBIG ? ret : (ret < 0 && n == 0 ? ret : 0);
}

int fsroot_read(const struct fsroot *r, const char *rel, char **out, size_t *len, size_t max)
{
	*out = NULL;
	*len = 0;
	int fd = fsroot_open(r, rel);
	if (fd < 0)
		return fd;
	char *buf = NULL;
	size_t cap = 0;
	int ret = fsroot_pread_all(fd, rel, &buf, &cap, len, max);
	close(fd);
	if (ret < 0 && ret != -EFBIG) {
		free(buf);
		*len = 0;
		return ret;
	}
	*out = buf;
	return ret;
}
