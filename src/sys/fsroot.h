/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Every read of /proc and /sys goes through here, resolved against a root:
 * "/" on the live machine, a capture bundle's sample directory on replay.
 *
 * A confined root (a bundle) is untrusted input: paths below it are walked one
 * component at a time with O_NOFOLLOW, ".." is refused, and only regular files
 * are read (a FIFO planted in a bundle must not hang us).  The root's own path
 * comes from the command line and is opened as given, symlinks included.  The live root
 * follows symlinks as the kernel lays them out (/proc/self, /sys/class/...).
 *
 * Faults can be injected for tests through HIDDENQ_FAULT, a comma-separated
 * list of "relpath=ERRNO" (e.g. "proc/stat=EIO") or "relpath=short" (returns
 * the first half of the file).
 */
#ifndef HQ_FSROOT_H
#define HQ_FSROOT_H

#include <stdbool.h>
#include <stddef.h>

struct fsroot {
	int dirfd;	/* directory fd of the root */
	bool confined;	/* untrusted tree: no symlinks, no "..", regular files only */
	char *path;	/* for messages */
};

/* Returns 0 or -errno. */
int fsroot_init(struct fsroot *r, const char *path, bool confined);
void fsroot_done(struct fsroot *r);

/* Open `rel` (relative, no leading '/') for reading.  Returns fd or -errno. */
int fsroot_open(const struct fsroot *r, const char *rel);
/* Open a directory under the root (rel may be "" for the root). fd or -errno. */
int fsroot_opendir(const struct fsroot *r, const char *rel);

/*
 * Read a whole file into a NUL-terminated buffer (caller frees *out).
 * At most `max` bytes are read; a longer file is truncated and -EFBIG
 * returned with the data still stored.  Returns 0 or -errno.
 */
int fsroot_read(const struct fsroot *r, const char *rel, char **out, size_t *len, size_t max);

/* True if rel exists (any type, not following a final symlink when confined). */
bool fsroot_exists(const struct fsroot *r, const char *rel);

/*
 * pread() a file kept open, from offset 0, into a reusable buffer that grows
 * as needed (up to max).  The buffer is NUL-terminated.  Returns 0 or -errno.
 * `rel` is only used for fault injection.
 */
int fsroot_pread_all(int fd, const char *rel, char **buf, size_t *cap, size_t *len, size_t max);

/* Reject a relative path that is absolute, empty, or has "." / ".." parts. */
bool fsroot_path_ok(const char *rel);

#endif
