/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * probe io: QD=1 random 4 KiB O_DIRECT requests, timed one by one around the
 * system call (what fio's psync engine calls clat), on a file the probe
 * creates and fills (so reads reach the device), or read-only on a file or
 * block device the user names.  --write times pwrite+fsync on the probe's
 * own file; a block device is never opened for writing.
 *
 * The idle-gap effect: the same requests back to back, then spaced out by
 * --gap.  Spaced requests find the vCPU idle, so each completion must wake
 * it (cpuidle exit, in a guest a halted vCPU the host has to schedule again),
 * and the difference between the two medians is that wake-up.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/fs.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "../core/util.h"
#include "hist.h"
#include "probe.h"

static uint64_t rs = 0x243f6a8885a308d3ull;
static uint64_t rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 0x2545f4914f6cdd1dull;
}

static int fill(int fd, uint64_t size, char *why, size_t n)
{
	size_t chunk = 1u << 20;
	char *b = xmalloc(chunk);
	for (size_t i = 0; i < chunk; i += 8) {
		uint64_t v = rnd();
		memcpy(b + i, &v, 8);
	}
	for (uint64_t off = 0; off < size && !hq_exiting; off += chunk) {
		size_t c = size - off < chunk ? (size_t)(size - off) : chunk;
		if (pwrite(fd, b, c, (off_t)off) != (ssize_t)c) {
			snprintf(why, n, "cannot write the test file: %s", strerror(errno));
			free(b);
			return -1;
		}
	}
	free(b);
	if (fsync(fd) < 0) {
		snprintf(why, n, "fsync of the test file: %s", strerror(errno));
		return -1;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	return hq_exiting ? -1 : 0;
}

static void phase(int fd, const struct io_params *p, uint64_t blocks, uint64_t gap_ns, struct hist *h, char *buf,
		  int *err)
{
	uint64_t end = mono_ns() + p->phase_ns;
	struct timespec g = { (time_t)(gap_ns / 1000000000ull), (long)(gap_ns % 1000000000ull) };
	while (!hq_exiting && mono_ns() < end && h->count < 10000000) {
		off_t off = (off_t)((rnd() % blocks) * 4096);
		uint64_t t0 = mono_ns();
		ssize_t r;
		if (p->write) {
			r = pwrite(fd, buf, 4096, off);
			if (r == 4096 && fsync(fd) < 0)
				r = -1;
		} else {
			r = pread(fd, buf, 4096, off);
		}
		uint64_t t1 = mono_ns();
		if (r != 4096) {
			*err = r < 0 ? errno : EIO;
			return;
		}
		hist_add(h, t1 - t0);
		if (gap_ns)
			nanosleep(&g, NULL);
	}
}

json_t *io_run(const struct io_params *p)
{
	json_t *r = json_object();
	char why[256] = "";
	char *dir = NULL, *path = NULL;
	int fd = -1;
	bool direct = true;
	uint64_t size = p->size;
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	if (p->target) {
		fd = open(p->target, O_RDONLY | O_DIRECT | O_CLOEXEC);
		if (fd < 0 && errno == EINVAL) {
			direct = false;
			fd = open(p->target, O_RDONLY | O_CLOEXEC);
		}
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0) {
			snprintf(why, sizeof(why), "%s: %s", p->target, strerror(errno));
			goto out;
		}
		if (S_ISBLK(st.st_mode)) {
			uint64_t b = 0;
			if (ioctl(fd, BLKGETSIZE64, &b) == 0)
				size = b;
		} else if (S_ISREG(st.st_mode)) {
			size = (uint64_t)st.st_size;
		} else {
			snprintf(why, sizeof(why), "%s is neither a regular file nor a block device", p->target);
			goto out;
		}
		json_object_set_new(r, "target", jstr(p->target));
		json_object_set_new(r, "block_device", json_boolean(S_ISBLK(st.st_mode)));
		json_object_set_new(r, "created", json_false());
	} else {
		if (p->file) {
			path = xstrdup(p->file);
		} else {
			const char *base = p->dir ? p->dir : (getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp");
			dir = xasprintf("%s/hiddenq-io-XXXXXX", base);
			if (!mkdtemp(dir)) {
				snprintf(why, sizeof(why), "cannot create a directory in %s: %s", base, strerror(errno));
				free(dir);
				dir = NULL;
				goto out;
			}
			probe_track_path(dir);
			path = xasprintf("%s/probe.dat", dir);
		}
		struct statvfs vf;
		char *pdir = xstrdup(path);
		char *slash = strrchr(pdir, '/');
		const char *where = ".";
		if (slash == pdir) {
			where = "/";
		} else if (slash) {
			*slash = '\0';
			where = pdir;
		}
		if (statvfs(where, &vf) == 0 &&
		    (double)vf.f_bavail * (double)vf.f_frsize < (double)size * 1.1 + (64 << 20)) {
			snprintf(why, sizeof(why), "not enough free space for a %llu MiB test file next to %s",
				 (unsigned long long)(size >> 20), path);
			free(pdir);
			goto out;
		}
		free(pdir);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_DIRECT | O_CLOEXEC, 0600);
		if (fd < 0 && errno == EINVAL) {
			direct = false; /* tmpfs and friends */
			fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		}
		if (fd < 0) {
			snprintf(why, sizeof(why), "cannot create %s: %s", path, strerror(errno));
			goto out;
		}
		probe_track_path(path);
		/* fill through a buffered descriptor: O_DIRECT wants aligned buffers */
		int wfd = open(path, O_WRONLY | O_CLOEXEC);
		if (wfd < 0 || fill(wfd, size, why, sizeof(why)) < 0) {
			if (wfd >= 0)
				close(wfd);
			if (!why[0])
				snprintf(why, sizeof(why), "interrupted while creating the test file");
			goto out;
		}
		close(wfd);
		json_object_set_new(r, "target", jstr(path));
		json_object_set_new(r, "block_device", json_false());
		json_object_set_new(r, "created", json_true());
	}
	json_object_set_new(r, "mode", jstr(p->write ? "write+fsync" : "randread"));
	json_object_set_new(r, "size", json_integer((json_int_t)size));
	json_object_set_new(r, "o_direct", json_boolean(direct));
	json_object_set_new(r, "block_size", json_integer(4096));
	json_object_set_new(r, "queue_depth", json_integer(1));
	if (!direct)
		json_object_set_new(r, "note", jstr("O_DIRECT refused by this filesystem: requests are served from "
						     "the page cache, not the device"));
	uint64_t blocks = size / 4096;
	if (blocks == 0) {
		snprintf(why, sizeof(why), "target smaller than one 4 KiB block");
		goto out;
	}
	char *buf;
	if (posix_memalign((void **)&buf, 4096, 4096)) {
		snprintf(why, sizeof(why), "out of memory");
		goto out;
	}
	memset(buf, 0x5a, 4096);
	struct hist b2b, sp;
	hist_init(&b2b);
	hist_init(&sp);
	int err = 0;
	phase(fd, p, blocks, 0, &b2b, buf, &err);
	/* a Ctrl-C during the first phase leaves the second unrun: it is left out, not shown as empty */
	bool spaced = !err && !p->no_spaced && !hq_exiting;
	if (spaced)
		phase(fd, p, blocks, p->gap_ns, &sp, buf, &err);
	free(buf);
	if (err)
		json_object_set_new(r, "io_error", jstr(strerror(err)));
	json_object_set_new(r, "back_to_back", hist_json(&b2b));
	if (!p->no_spaced && !err && !(spaced && sp.count)) {
		const char *old = json_string_value(json_object_get(r, "note"));
		char *n = xasprintf("%s%sinterrupted before a spaced request completed: no idle-gap figure", old ? old : "",
				    old ? "; " : "");
		json_object_set_new(r, "note", jstr(n));
		free(n);
	}
	if (spaced && sp.count) {
		json_object_set_new(r, "gap_us", pjnum((double)p->gap_ns / 1e3));
		json_object_set_new(r, "spaced", hist_json(&sp));
		if (b2b.count && sp.count) {
			double a = hist_pct(&b2b, 50), c = hist_pct(&sp, 50);
			json_object_set_new(r, "idle_gap_effect_us", pjnum((c - a) / 1e3));
			json_object_set_new(r, "idle_gap_ratio", pjnum(a > 0 ? c / a : NAN));
		}
	}
	if (!b2b.count)
		snprintf(why, sizeof(why), "no request completed%s%s", err ? ": " : "", err ? strerror(err) : "");
out:
	if (fd >= 0)
		close(fd);
	if (path && !p->target) {
		unlink(path);
		probe_untrack_path(path);
	}
	if (dir) {
		rmdir(dir);
		probe_untrack_path(dir);
	}
	free(path);
	free(dir);
	if (why[0])
		json_object_set_new(r, "error", jstr(why));
	return r;
}

json_t *io_lab(bool quick, const char *dir, const char *target)
{
	struct io_params p = { .dir = target ? NULL : dir, .target = target, .size = quick ? 32ull << 20 : 256ull << 20,
			       .phase_ns = IO_LAB_PHASE_NS(quick), .gap_ns = IO_LAB_GAP_NS };
	return io_run(&p);
}

int io_create_file(const char *path, uint64_t size, char *why, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, n, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	int r = fill(fd, size, why, n);
	close(fd);
	if (r < 0 && !why[0])
		snprintf(why, n, "interrupted while creating %s", path);
	return r;
}
