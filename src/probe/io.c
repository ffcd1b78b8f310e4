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

struct io_params {
	const char *dir;	/* where to create the file */
	const char *file;	/* exact path to create */
	const char *target;	/* existing file or block device, read-only */
	uint64_t size;
	uint64_t phase_ns;	/* per phase */
	uint64_t gap_ns;
	bool write;
	bool no_spaced;
};

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

json_t *io_run(const struct io_params *p);
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
	if (!err && !p->no_spaced)
		phase(fd, p, blocks, p->gap_ns, &sp, buf, &err);
	free(buf);
	if (err)
		json_object_set_new(r, "io_error", jstr(strerror(err)));
	json_object_set_new(r, "back_to_back", hist_json(&b2b));
	if (!p->no_spaced) {
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

static void line(FILE *out, const char *label, json_t *h)
{
	char a[24], b[24], c[24], d[24], e[24];
	fprintf(out, "  %-22s p50 %-9s p90 %-9s p99 %-9s p99.9 %-9s max %-9s n=%d\n", label,
		fmt_ns(pjget(h, "p50_us") * 1e3, a, sizeof(a)), fmt_ns(pjget(h, "p90_us") * 1e3, b, sizeof(b)),
		fmt_ns(pjget(h, "p99_us") * 1e3, c, sizeof(c)), fmt_ns(pjget(h, "p999_us") * 1e3, d, sizeof(d)),
		fmt_ns(pjget(h, "max_us") * 1e3, e, sizeof(e)), (int)pjget(h, "count"));
}

void io_print(FILE *out, json_t *r)
{
	json_t *e = json_object_get(r, "error");
	if (json_is_string(e)) {
		fprintf(out, "\nerror: %s\n", json_string_value(e));
		return;
	}
	char sz[24];
	fprintf(out, "\n%s, QD=1, 4 KiB, %s on %s (%s%s)\n", json_string_value(json_object_get(r, "mode")),
		json_is_true(json_object_get(r, "o_direct")) ? "O_DIRECT" : "buffered",
		json_string_value(json_object_get(r, "target")), fmt_bytes(pjget(r, "size"), sz, sizeof(sz)),
		json_is_true(json_object_get(r, "created")) ? ", created and removed by the probe" : ", read-only");
	line(out, "back to back", json_object_get(r, "back_to_back"));
	json_t *s = json_object_get(r, "spaced");
	if (json_is_object(s)) {
		char l[48];
		snprintf(l, sizeof(l), "spaced by %.0f µs", pjget(r, "gap_us"));
		line(out, l, s);
		fprintf(out, "  idle-gap effect: %+.1f µs at p50 (x%.2f): the cost of waking an idle vCPU for each completion\n",
			pjget(r, "idle_gap_effect_us"), pjget(r, "idle_gap_ratio"));
	}
	json_t *n = json_object_get(r, "note");
	if (json_is_string(n))
		fprintf(out, "  note: %s\n", json_string_value(n));
}

static void usage(FILE *out)
{
	fputs("Usage: hiddenq probe io [OPTIONS]\n"
	      "\n"
	      "QD=1 random 4 KiB O_DIRECT reads (or pwrite+fsync with --write) timed one by one,\n"
	      "back to back and then spaced out (the idle-gap effect).\n"
	      "\n"
	      "Options:\n"
	      "      --dir DIR         where to create the test file (default $TMPDIR or /var/tmp)\n"
	      "      --file PATH       create the test file at PATH (must not exist)\n"
	      "  -s, --size SIZE       test file size (default 256M; --quick 32M)\n"
	      "      --target PATH     an existing file or block device, opened read-only\n"
	      "  -w, --write           pwrite+fsync on the probe's own file (not with --target)\n"
	      "  -d, --duration TIME   per phase (default 3s; --quick 1s)\n"
	      "      --gap TIME        pause between spaced requests (default 2ms)\n"
	      "      --no-spaced       back to back only\n"
	      "      --quick           short run\n"
	      "  -j, --json            JSON on stdout\n"
	      "  -h, --help            this help\n"
	      "\n"
	      "The file the probe creates is removed at exit, also on Ctrl-C.\n"
	      "Reference: fio --ioengine=psync --direct=1 --rw=randread --bs=4k --iodepth=1.\n",
	      out);
}

int probe_io(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'D' },      { "file", required_argument, NULL, 'F' },
		{ "size", required_argument, NULL, 's' },     { "target", required_argument, NULL, 'T' },
		{ "write", no_argument, NULL, 'w' },	      { "duration", required_argument, NULL, 'd' },
		{ "gap", required_argument, NULL, 'g' },      { "no-spaced", no_argument, NULL, 'N' },
		{ "quick", no_argument, NULL, 'Q' },	      { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },	      { 0 },
	};
	struct io_params p = { .size = 256ull << 20, .phase_ns = 3000000000ull, .gap_ns = 2000000 };
	bool json = false, quick = false, size_set = false, dur_set = false;
	int c;
	optind = 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			json = true;
	while ((c = getopt_long(argc, argv, "s:wd:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'D': p.dir = optarg; break;
		case 'F': p.file = optarg; break;
		case 's':
			if (parse_size(optarg, &p.size) < 0 || p.size < 4096 || p.size > (64ull << 30))
				return probe_fail(json, "bad --size: 4K to 64G");
			size_set = true;
			break;
		case 'T': p.target = optarg; break;
		case 'w': p.write = true; break;
		case 'd':
			if (parse_duration_ns(optarg, &p.phase_ns) < 0 || p.phase_ns > 600000000000ull)
				return probe_fail(json, "bad --duration: e.g. 3s (at most 10 min)");
			dur_set = true;
			break;
		case 'g':
			if (parse_duration_ns(optarg, &p.gap_ns) < 0 || p.gap_ns > 1000000000ull)
				return probe_fail(json, "bad --gap: e.g. 2ms (at most 1s)");
			break;
		case 'N': p.no_spaced = true; break;
		case 'Q': quick = true; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return probe_fail(json, "bad arguments to probe io");
		}
	}
	if (optind < argc)
		return probe_fail(json, "unexpected argument '%s'", argv[optind]);
	if (p.target && p.write)
		return probe_fail(json, "--write works only on the probe's own file: it never writes to --target");
	if (p.target && (p.file || p.dir))
		return probe_fail(json, "--target reads an existing file; --file and --dir create one: choose");
	if (p.file && p.dir)
		return probe_fail(json, "--file and --dir: give one");
	if (quick) {
		if (!size_set)
			p.size = 32ull << 20;
		if (!dur_set)
			p.phase_ns = 1000000000ull;
	}
	p.size &= ~4095ull;
	probe_setup_signals();
	struct probe_env e;
	probe_env_begin(&e);
	json_t *r = io_run(&p);
	probe_env_end(&e);
	int rc = json_object_get(r, "error") ? 3 : 0;
	probe_emit(json, "io", r, &e, io_print);
	json_decref(r);
	probe_env_done(&e);
	return rc;
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
