/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * probe dirty: how fast a process dirties memory, for pre-copy live
 * migration.  W(t), the distinct pages written in a window of t seconds, is
 * read at t = 0.1 s ... 30 s after one reset of the tracking, then fed to the
 * pre-copy model (precopy.c) for a bandwidth and a downtime target.
 *
 * Methods, each tested first on a page of the probe's own:
 *  - soft-dirty: "4" into /proc/PID/clear_refs, then bit 55 of
 *    /proc/PID/pagemap, for any PID.  A kernel without CONFIG_MEM_SOFT_DIRTY
 *    accepts the write and never sets the bit: the self-test catches that.
 *  - userfaultfd write-protect (UFFD_FEATURE_WP_ASYNC) read with the
 *    PAGEMAP_SCAN ioctl (6.7+): only for memory of this process, so for the
 *    probe's own workload.
 *  - QMP calc-dirty-rate (page-sampling) for a QEMU VM: a rate per window,
 *    W(t) = rate x t.  dirty-bitmap mode is never used: under TCG it kills
 *    QEMU.
 *
 * The shipped workload dirties --rate bytes per second, one write per page,
 * walking a --wss working set in order, so W(t) = min(rate t, wss) is known
 * and the prediction can be checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/userfaultfd.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../core/util.h"
#include "../sys/qmp.h"
#include "pagemap.h"
#include "precopy.h"
#include "probe.h"

/* uapi of 6.7+ (Debian 12's headers are 6.1): same layout, our names */
#define HQ_UFFD_FEATURE_WP_UNPOPULATED (1ull << 13)
#define HQ_UFFD_FEATURE_WP_ASYNC (1ull << 15)
struct hq_page_region {
	uint64_t start, end, categories;
};
struct hq_pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define HQ_PAGEMAP_SCAN _IOWR('f', 16, struct hq_pm_scan_arg)
#define HQ_PM_SCAN_WP_MATCHING (1ull << 0)
#define HQ_PM_SCAN_CHECK_WPASYNC (1ull << 1)
#define HQ_PAGE_IS_WRITTEN (1ull << 1)
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

static const char *const method_names[] = { "auto", "soft-dirty", "userfaultfd-wp+pagemap-scan", "qmp-calc-dirty-rate" };

static long page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);
	return p > 0 ? p : 4096;
}

/* ------------------------------------------------------------------ */
/* the workload                                                        */
/* ------------------------------------------------------------------ */

struct workload {
	char *buf;
	uint64_t wss, rate;
	volatile int stop;
	pthread_t th;
	uint64_t written;	/* page writes done */
};

static void workload_loop(struct workload *w, uint64_t end_ns)
{
	long ps = page_size();
	uint64_t pages = w->wss / (uint64_t)ps, pos = 0;
	double per_ms = (double)w->rate / (double)ps / 1000.0, due = 0;
	uint64_t start = mono_ns();
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	while (!w->stop && !hq_exiting && (!end_ns || mono_ns() < end_ns)) {
		/* pace on elapsed time, so a late tick catches up */
		due = per_ms * (double)(mono_ns() - start) / 1e6;
		while ((double)w->written < due) {
			/* +1, not ^1: a page written twice in a window still differs from its
			 * start, so content-hashing trackers (QMP page-sampling) count it too */
			w->buf[pos * (uint64_t)ps]++;
			pos = pos + 1 < pages ? pos + 1 : 0;
			w->written++;
		}
		next.tv_nsec += 1000000;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
}

static void *workload_thread(void *arg)
{
	workload_loop(arg, 0);
	return NULL;
}

static char *map_region(uint64_t size)
{
	char *b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		return NULL;
	madvise(b, size, MADV_NOHUGEPAGE); /* dirty tracking is per 4 KiB page */
	memset(b, 0x11, size);
	return b;
}

/* ------------------------------------------------------------------ */
/* soft-dirty                                                           */
/* ------------------------------------------------------------------ */

static int clear_refs(long pid)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%ld/clear_refs", pid);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = write(fd, "4", 1) == 1 ? 0 : -errno;
	close(fd);
	return r;
}

static int pagemap_entry(int fd, uintptr_t addr, uint64_t *e)
{
	long ps = page_size();
	return pread(fd, e, 8, (off_t)(addr / (uintptr_t)ps * 8)) == 8 ? 0 : -1;
}

static int softdirty_selftest(char *why, size_t n)
{
	long ps = page_size();
	char *pg = mmap(NULL, (size_t)ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pg == MAP_FAILED) {
		snprintf(why, n, "mmap: %s", strerror(errno));
		return -1;
	}
	pg[0] = 1;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t a = 0, b = 0;
	int r = clear_refs(getpid());
	int ret = -1;
	if (fd < 0)
		snprintf(why, n, "/proc/self/pagemap: %s", strerror(errno));
	else if (r < 0)
		snprintf(why, n, "/proc/self/clear_refs: %s", strerror(-r));
	else if (pagemap_entry(fd, (uintptr_t)pg, &a) < 0 || (pg[0] = 2, pagemap_entry(fd, (uintptr_t)pg, &b)) < 0)
		snprintf(why, n, "cannot read /proc/self/pagemap");
	else if ((r = softdirty_verdict(a, b)) == -1)
		snprintf(why, n, "the kernel accepted clear_refs but never set the soft-dirty bit after a write "
				 "(no CONFIG_MEM_SOFT_DIRTY)");
	else if (r == -2)
		snprintf(why, n, "clear_refs did not clear the soft-dirty bit");
	else
		ret = 0;
	if (fd >= 0)
		close(fd);
	munmap(pg, (size_t)ps);
	return ret;
}

/* Dirty pages of pid (in [lo, hi) if hi, else every tracked mapping). */
static int64_t softdirty_count(long pid, uintptr_t lo, uintptr_t hi)
{
	char p[64];
	long ps = page_size();
	snprintf(p, sizeof(p), "/proc/%ld/pagemap", pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct pm_count c = { 0 };
	enum { CHUNK = 65536 };
	uint8_t *buf = xmalloc(CHUNK * 8);
	uint64_t budget = 64ull << 20; /* entries per scan: 256 GiB of 4 KiB pages */
	struct vma *v = NULL;
	size_t nv = 0, cap = 0;
	if (hi) {
		xgrow((void **)&v, sizeof(*v), &cap, 0);
		v[0] = (struct vma){ .start = lo, .end = hi, .w = true };
		nv = 1;
	} else {
		snprintf(p, sizeof(p), "/proc/%ld/maps", pid);
		FILE *f = fopen(p, "re");
		char line[512];
		while (f && fgets(line, sizeof(line), f)) {
			struct vma x;
			if (maps_parse_line(line, line + strcspn(line, "\n"), &x) == 0 && vma_tracked(&x)) {
				xgrow((void **)&v, sizeof(*v), &cap, nv);
				v[nv++] = x;
			}
		}
		if (f)
			fclose(f);
	}
	for (size_t i = 0; i < nv && budget; i++) {
		for (uint64_t a = v[i].start; a < v[i].end && budget;) {
			uint64_t n = (v[i].end - a) / (uint64_t)ps;
			if (n > CHUNK)
				n = CHUNK;
			if (n > budget)
				n = budget;
			ssize_t got = pread(fd, buf, n * 8, (off_t)(a / (uint64_t)ps * 8));
			if (got <= 0)
				break;
			pagemap_count(buf, (size_t)got, &c);
			budget -= (uint64_t)got / 8;
			a += (uint64_t)got / 8 * (uint64_t)ps;
		}
	}
	free(v);
	free(buf);
	close(fd);
	return (int64_t)c.soft_dirty;
}

/* ------------------------------------------------------------------ */
/* userfaultfd WP_ASYNC + PAGEMAP_SCAN                                  */
/* ------------------------------------------------------------------ */

struct uffd {
	int fd, pm;
};

static int uffd_open(struct uffd *u, char *buf, uint64_t len, char *why, size_t n)
{
	u->fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (u->fd < 0) {
		int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
		if (dev >= 0) {
			u->fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
			close(dev);
		}
	}
	if (u->fd < 0) {
		snprintf(why, n, "userfaultfd: %s (vm.unprivileged_userfaultfd, /dev/userfaultfd)", strerror(errno));
		return -1;
	}
	struct uffdio_api api = { .api = UFFD_API,
				  .features = HQ_UFFD_FEATURE_WP_ASYNC | HQ_UFFD_FEATURE_WP_UNPOPULATED };
	if (ioctl(u->fd, UFFDIO_API, &api) < 0) {
		close(u->fd);
		snprintf(why, n, "UFFD_FEATURE_WP_ASYNC refused (%s): the kernel is older than 6.7", strerror(errno));
		u->fd = -1;
		return -1;
	}
	struct uffdio_register reg = { .range = { (uintptr_t)buf, len }, .mode = UFFDIO_REGISTER_MODE_WP };
	if (ioctl(u->fd, UFFDIO_REGISTER, &reg) < 0) {
		snprintf(why, n, "UFFDIO_REGISTER (write-protect): %s", strerror(errno));
		close(u->fd);
		u->fd = -1;
		return -1;
	}
	u->pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (u->pm < 0) {
		snprintf(why, n, "/proc/self/pagemap: %s", strerror(errno));
		close(u->fd);
		u->fd = -1;
		return -1;
	}
	return 0;
}

static void uffd_close(struct uffd *u)
{
	if (u->fd >= 0)
		close(u->fd);
	if (u->pm >= 0)
		close(u->pm);
	u->fd = u->pm = -1;
}

/* Written pages in [buf, buf+len); rearm: write-protect them again. -1 on error. */
static int64_t uffd_scan(struct uffd *u, char *buf, uint64_t len, bool rearm)
{
	struct hq_page_region vec[512];
	uint64_t start = (uintptr_t)buf, end = start + len, pages = 0;
	long ps = page_size();
	while (start < end) {
		struct hq_pm_scan_arg a = {
			.size = sizeof(a), .start = start, .end = end, .vec = (uintptr_t)vec, .vec_len = ARRAY_SIZE(vec),
			.category_mask = HQ_PAGE_IS_WRITTEN, .return_mask = HQ_PAGE_IS_WRITTEN,
			.flags = rearm ? HQ_PM_SCAN_WP_MATCHING | HQ_PM_SCAN_CHECK_WPASYNC : 0,
		};
		long r = ioctl(u->pm, HQ_PAGEMAP_SCAN, &a);
		if (r < 0)
			return -1;
		for (long i = 0; i < r; i++)
			pages += (vec[i].end - vec[i].start) / (uint64_t)ps;
		if (a.walk_end <= start || r < (long)ARRAY_SIZE(vec))
			break;
		start = a.walk_end;
	}
	return (int64_t)pages;
}

static int uffd_arm(struct uffd *u, char *buf, uint64_t len)
{
	struct uffdio_writeprotect wp = { .range = { (uintptr_t)buf, len }, .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	if (ioctl(u->fd, UFFDIO_WRITEPROTECT, &wp) < 0)
		return uffd_scan(u, buf, len, true) < 0 ? -1 : 0;
	return 0;
}

static int uffd_selftest(char *why, size_t n)
{
	long ps = page_size();
	char *b = map_region((uint64_t)ps * 4);
	if (!b) {
		snprintf(why, n, "mmap: %s", strerror(errno));
		return -1;
	}
	struct uffd u = { -1, -1 };
	int ret = -1;
	if (uffd_open(&u, b, (uint64_t)ps * 4, why, n) == 0) {
		if (uffd_arm(&u, b, (uint64_t)ps * 4) < 0) {
			snprintf(why, n, "write-protect: %s", strerror(errno));
		} else {
			b[2 * ps] = 7;
			int64_t w = uffd_scan(&u, b, (uint64_t)ps * 4, false);
			if (w < 0)
				snprintf(why, n, "PAGEMAP_SCAN: %s (kernel older than 6.7?)", strerror(errno));
			else if (w != 1)
				snprintf(why, n, "PAGEMAP_SCAN saw %lld written pages after one write", (long long)w);
			else
				ret = 0;
		}
		uffd_close(&u);
	}
	munmap(b, (size_t)ps * 4);
	return ret;
}

/* ------------------------------------------------------------------ */
/* QMP                                                                  */
/* ------------------------------------------------------------------ */

/* Connect to a QMP socket (sys/qmp.h); -1 with why filled. */
static int qmp_connect(struct qmp *q, const char *path, char *why, size_t n)
{
	char *err = NULL;
	int rc = qmp_open(q, path, 3000, &err);
	free(err);
	if (rc == -ENAMETOOLONG)
		snprintf(why, n, "QMP socket path too long");
	else if (rc == -EPROTO)
		snprintf(why, n, "%s does not speak QMP (or is owned by another client)", path);
	else if (rc < 0)
		snprintf(why, n, "cannot connect to QMP at %s: %s", path, strerror(-rc));
	if (rc < 0)
		return -1;
	q->timeout_ms = 5000;
	return 0;
}

/* The "return" value of cmd (owned), NULL if refused or unanswered. */
static json_t *qmp_return(struct qmp *q, const char *cmd)
{
	json_t *r;
	char *err = NULL;
	if (qmp_command(q, cmd, NULL, &r, &err) != 0) {
		json_decref(r);
		r = NULL;
	}
	free(err);
	return r;
}

static void sleep_until(uint64_t t);

/* QEMU's limits for sample-pages (per GiB), 6.1+ */
#define QMP_SAMPLE_PAGES 4096

/*
 * One calc-dirty-rate window of calc_s seconds in page-sampling mode: QEMU
 * hashes sample_pages random pages per GiB of every RAM block of 128 MiB or
 * more, hashes them again calc_s later, and scales the changed share to the
 * block's size: MB/s (MiB), an integer.  Content hashing does not depend on
 * the accelerator, so it works under TCG as under KVM (dirty-bitmap mode is
 * never used: under TCG it kills QEMU 7.2).  *sp gets the sample-pages QEMU
 * used.  MiB/s, or -1 (why filled).
 */
static double qmp_dirty_rate(struct qmp *q, int calc_s, int *sp, char *why, size_t n)
{
	json_t *r = NULL;
	int rc = -1;
	for (int attempt = 0; attempt < 2; attempt++) {
		json_t *args = json_object();
		json_object_set_new(args, "calc-time", json_integer(calc_s));
		json_object_set_new(args, "mode", json_string("page-sampling"));
		if (attempt == 0) /* the finest sampling QEMU allows; QEMU 5.2 takes no sample-pages */
			json_object_set_new(args, "sample-pages", json_integer(QMP_SAMPLE_PAGES));
		char *err = NULL;
		json_decref(r);
		rc = qmp_command(q, "calc-dirty-rate", args, &r, &err);
		free(err);
		if (rc == 0 || !(attempt == 0 && rc == QMP_REFUSED))
			break;
	}
	if (rc != 0) {
		json_t *e = rc == QMP_REFUSED ? json_object_get(r, "desc") : NULL;
		snprintf(why, n, "calc-dirty-rate: %s", json_is_string(e) ? json_string_value(e) : "no answer");
		json_decref(r);
		return -1;
	}
	json_decref(r);
	/* QEMU sends no event when it is done: it cannot be before calc_s, then ask every 50 ms */
	uint64_t t0 = mono_ns(), end = t0 + (uint64_t)(calc_s + 10) * 1000000000ull;
	sleep_until(t0 + (uint64_t)calc_s * 1000000000ull);
	while (mono_ns() < end && !hq_exiting) {
		json_t *ret = qmp_return(q, "query-dirty-rate");
		const char *st = json_string_value(json_object_get(ret, "status"));
		if (st && !strcmp(st, "measured")) {
			double v = pjget(ret, "dirty-rate");
			double spv = pjget(ret, "sample-pages");
			*sp = isfinite(spv) ? (int)spv : 0;
			json_decref(ret);
			return isfinite(v) ? v : 0;
		}
		json_decref(ret);
		if (!st) {
			snprintf(why, n, "query-dirty-rate: no answer");
			return -1;
		}
		struct timespec ts = { 0, 50000000L };
		nanosleep(&ts, NULL);
	}
	snprintf(why, n, "query-dirty-rate never reported a measurement");
	return -1;
}

/* ------------------------------------------------------------------ */

static const double checkpoints[] = { 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30 };

static long vm_rss_pages(long pid)
{
	char p[64], line[256];
	snprintf(p, sizeof(p), "/proc/%ld/status", pid);
	FILE *f = fopen(p, "re");
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb < 0 ? -1 : kb * 1024 / page_size();
}

static void sleep_until(uint64_t t)
{
	while (!hq_exiting) {
		uint64_t now = mono_ns();
		if (now >= t)
			return;
		uint64_t d = t - now;
		struct timespec ts = { (time_t)(d / 1000000000ull), (long)(d % 1000000000ull) };
		nanosleep(&ts, NULL);
	}
}

int dirty_workload(const struct dirty_params *p, bool notify)
{
	struct workload wl = { .wss = p->wss, .rate = p->rate };
	wl.buf = map_region(p->wss);
	if (!wl.buf)
		return -1;
	if (notify) {
		/* the working set is mapped and touched: what follows is the rate alone */
		printf("ready %d\n", (int)getpid());
		fflush(stdout);
	}
	workload_loop(&wl, mono_ns() + p->duration_ns);
	munmap(wl.buf, p->wss);
	return 0;
}

json_t *dirty_run(const struct dirty_params *p, const struct probe_env *e)
{
	(void)e;
	json_t *r = json_object();
	long ps = page_size();
	char why_sd[256] = "", why_uf[256] = "", why[256] = "";
	json_t *tests = json_object();
	bool sd_ok = softdirty_selftest(why_sd, sizeof(why_sd)) == 0;
	json_object_set_new(tests, "soft-dirty", sd_ok ? json_string("ok") : jstr(why_sd));
	bool uf_ok = false;
	if (!p->pid && !p->qmp) {
		uf_ok = uffd_selftest(why_uf, sizeof(why_uf)) == 0;
		json_object_set_new(tests, "userfaultfd-wp", uf_ok ? json_string("ok") : jstr(why_uf));
	}
	enum dirty_method m = p->method;
	if (m == DIRTY_AUTO)
		m = p->qmp ? DIRTY_QMP : p->pid ? DIRTY_SOFTDIRTY : uf_ok ? DIRTY_UFFD : DIRTY_SOFTDIRTY;
	json_object_set_new(r, "method", jstr(method_names[m]));
	struct wcurve w = { 0 };
	double mem_pages = 0;
	struct workload wl = { 0 };
	struct uffd u = { -1, -1 };
	struct qmp mon = { .fd = -1 };
	bool have_wl = false;
	if (m == DIRTY_SOFTDIRTY && !sd_ok) {
		snprintf(why, sizeof(why), "soft-dirty self-test failed: %.160s%s", why_sd,
			 p->pid ? "" : "; the userfaultfd method needs kernel 6.7+");
		goto out;
	}
	if (m == DIRTY_UFFD && (p->pid || p->qmp)) {
		snprintf(why, sizeof(why), "userfaultfd covers only the calling process: use it for the probe's workload");
		goto out;
	}
	if (m == DIRTY_UFFD && !uf_ok) {
		snprintf(why, sizeof(why), "userfaultfd self-test failed: %.200s", why_uf);
		goto out;
	}
	if (m == DIRTY_QMP) {
		if (!p->qmp) {
			snprintf(why, sizeof(why), "--method qmp needs --qmp SOCKET");
			goto out;
		}
		if (qmp_connect(&mon, p->qmp, why, sizeof(why)) < 0)
			goto out;
		json_object_set_new(tests, "qmp", json_string("ok"));
		json_t *ms = qmp_return(&mon, "query-memory-size-summary");
		double base = pjget(ms, "base-memory");
		json_decref(ms);
		mem_pages = isfinite(base) ? base / ps : 0;
		json_t *tg = json_object();
		json_object_set_new(tg, "qmp", jstr(p->qmp));
		json_object_set_new(tg, "memory", json_integer((json_int_t)(mem_pages * ps)));
		json_t *kr = qmp_return(&mon, "query-kvm");
		const char *accel = !json_is_object(kr) ? "unknown" : json_is_true(json_object_get(kr, "enabled")) ? "kvm" : "tcg";
		json_decref(kr);
		json_object_set_new(tg, "accel", jstr(accel));
		json_object_set_new(r, "target", tg);
		json_t *wins = json_array();
		json_object_set_new(r, "qmp_windows", wins);
		int sp = 0;
		bool any = false;
		for (size_t i = 0; i < ARRAY_SIZE(checkpoints) && !hq_exiting; i++) {
			double t = checkpoints[i];
			if (t < 1 || t > (double)p->duration_ns / 1e9 || t > 10)
				continue;
			double mibps = qmp_dirty_rate(&mon, (int)t, &sp, why, sizeof(why));
			if (mibps < 0)
				goto out;
			json_t *x = json_object();
			json_object_set_new(x, "calc_time_s", json_integer((json_int_t)t));
			json_object_set_new(x, "dirty_rate_MiBps", pjnum(mibps));
			json_object_set_new(x, "sample_pages_per_GiB", json_integer(sp));
			json_array_append_new(wins, x);
			any |= mibps > 0;
			wcurve_add(&w, t, mibps * 1048576.0 * t / ps);
		}
		if (!w.n && !why[0])
			snprintf(why, sizeof(why), "no QMP window fits in --duration (page-sampling windows are whole "
						   "seconds, 1 s or more)");
		/* what one changed sample is worth, and the integer MB/s QEMU reports */
		double samples = sp > 0 ? (double)sp * mem_pages * ps / (1024.0 * 1048576.0) : 0;
		json_t *q = json_object();
		json_object_set_new(q, "mode", jstr("page-sampling"));
		json_object_set_new(q, "sample_pages_per_GiB", json_integer(sp));
		json_object_set_new(q, "sampled_pages", pjnum(samples));
		json_object_set_new(q, "resolution_MiBps", json_integer(1));
		json_object_set_new(r, "qmp", q);
		if (w.n && !any)
			json_object_set_new(r, "note",
					    jstr(!strcmp(accel, "tcg")
							  ? "0 under TCG page-sampling: none of the sampled pages changed in any "
							    "window, which means below QEMU's resolution (1 MB/s, and one changed "
							    "sample in sampled_pages), not a measured zero rate"
							  : "0 from page-sampling: none of the sampled pages changed in any "
							    "window, which means below QEMU's resolution (1 MB/s, and one changed "
							    "sample in sampled_pages), not a measured zero rate"));
		else if (w.n)
			json_object_set_new(r, "note",
					    jstr("page-sampling estimates from a sample of pages hashed twice (content, not "
						  "dirty logging, so TCG and KVM alike): a page rewritten with the same "
						  "content is not counted, and each window is measured separately"));
		goto predict;
	}
	if (!p->pid) {
		wl.wss = p->wss;
		wl.rate = p->rate;
		wl.buf = map_region(p->wss);
		if (!wl.buf) {
			snprintf(why, sizeof(why), "cannot map the workload's %llu MiB: %s",
				 (unsigned long long)(p->wss >> 20), strerror(errno));
			goto out;
		}
		mem_pages = (double)p->wss / ps;
		json_t *t = json_object();
		json_object_set_new(t, "workload_rate_Bps", json_integer((json_int_t)p->rate));
		json_object_set_new(t, "workload_wss", json_integer((json_int_t)p->wss));
		json_object_set_new(r, "target", t);
		if (m == DIRTY_UFFD && uffd_open(&u, wl.buf, p->wss, why, sizeof(why)) < 0)
			goto out;
		if (pthread_create(&wl.th, NULL, workload_thread, &wl) != 0) {
			snprintf(why, sizeof(why), "cannot start the workload thread");
			goto out;
		}
		have_wl = true;
		struct timespec settle = { 0, 50000000L };
		nanosleep(&settle, NULL);
	} else {
		long rss = vm_rss_pages(p->pid);
		if (rss < 0) {
			snprintf(why, sizeof(why), "no process %ld", p->pid);
			goto out;
		}
		mem_pages = (double)rss;
		json_t *t = json_object();
		json_object_set_new(t, "pid", json_integer(p->pid));
		json_object_set_new(t, "rss", json_integer((json_int_t)rss * ps));
		json_object_set_new(r, "target", t);
	}
	/* reset the tracking, then read W(t) at each checkpoint */
	long pid = p->pid ? p->pid : getpid();
	int rc = m == DIRTY_UFFD ? uffd_arm(&u, wl.buf, p->wss) : clear_refs(pid);
	if (rc < 0) {
		snprintf(why, sizeof(why), "cannot reset dirty tracking: %s", strerror(rc == -1 ? errno : -rc));
		goto out;
	}
	uint64_t t0 = mono_ns();
	for (size_t i = 0; i < ARRAY_SIZE(checkpoints) && !hq_exiting; i++) {
		if (checkpoints[i] * 1e9 > (double)p->duration_ns)
			break;
		sleep_until(t0 + (uint64_t)(checkpoints[i] * 1e9));
		uint64_t ts = mono_ns();
		int64_t pages = m == DIRTY_UFFD ? uffd_scan(&u, wl.buf, p->wss, false)
					    : softdirty_count(pid, p->pid ? 0 : (uintptr_t)wl.buf,
							      p->pid ? 0 : (uintptr_t)wl.buf + p->wss);
		if (pages < 0) {
			snprintf(why, sizeof(why), "reading the dirty pages failed: %s", strerror(errno));
			break;
		}
		wcurve_add(&w, (double)(ts - t0) / 1e9, (double)pages);
	}
predict:;
	if (p->mem_bytes)
		mem_pages = (double)p->mem_bytes / ps;
	json_t *wa = json_array();
	for (unsigned i = 0; i < w.n; i++) {
		json_t *x = json_object();
		json_object_set_new(x, "t_s", pjnum(w.t_s[i]));
		json_object_set_new(x, "pages", json_integer((json_int_t)w.pages[i]));
		json_object_set_new(x, "bytes", json_integer((json_int_t)(w.pages[i] * ps)));
		json_array_append_new(wa, x);
	}
	json_object_set_new(r, "w", wa);
	if (!w.n) {
		if (!why[0])
			snprintf(why, sizeof(why), "no measurement (interrupted or --duration under 0.1 s)");
		goto out;
	}
	/* the rate: the first window of at least 0.5 s */
	unsigned k = 0;
	while (k + 1 < w.n && w.t_s[k] < 0.5)
		k++;
	json_object_set_new(r, "dirty_rate_Bps", pjnum(w.pages[k] * ps / w.t_s[k]));
	json_object_set_new(r, "rate_window_s", pjnum(w.t_s[k]));
	json_object_set_new(r, "writable_working_set", json_integer((json_int_t)(w.pages[w.n - 1] * ps)));
	struct precopy_in in = { .mem_pages = mem_pages, .page_size = (double)ps, .bw_Bps = p->bw_Bps,
				 .downtime_s = p->downtime_s };
	struct precopy_out o;
	json_t *pc = json_object();
	json_object_set_new(pc, "bandwidth_Bps", pjnum(p->bw_Bps));
	json_object_set_new(pc, "downtime_target_s", pjnum(p->downtime_s));
	json_object_set_new(pc, "memory", json_integer((json_int_t)(mem_pages * ps)));
	if (precopy_predict(&w, &in, &o) == 0) {
		json_object_set_new(pc, "converges", json_boolean(o.converges));
		json_object_set_new(pc, "rounds", json_integer(o.rounds));
		json_object_set_new(pc, "total_s", pjnum(o.total_s));
		if (o.converges) {
			json_object_set_new(pc, "downtime_s", pjnum(o.downtime_s));
		} else {
			json_object_set_new(pc, "stuck_bytes", pjnum(o.stuck_pages * ps));
			json_object_set_new(pc, "stuck_downtime_s", pjnum(o.stuck_downtime_s));
			double th = precopy_throttle_needed(&w, &in);
			json_object_set_new(pc, "throttle_needed_pct", th >= 0 ? pjnum(th * 100) : json_null());
			json_object_set_new(pc, "advice",
					    jstr(th >= 0 ? "auto-converge (throttling the guest) would finish it"
							  : "even 99 % throttling does not converge: post-copy, more "
							    "bandwidth or a longer downtime"));
		}
		json_object_set_new(pc, "used_w_beyond_measured", json_boolean(o.beyond_measured));
		json_t *rd = json_array();
		for (unsigned i = 0; i < o.rounds && i < 12; i++) {
			json_t *x = json_object();
			json_object_set_new(x, "bytes", pjnum(o.round_pages[i] * ps));
			json_object_set_new(x, "s", pjnum(o.round_s[i]));
			json_array_append_new(rd, x);
		}
		json_object_set_new(pc, "round_detail", rd);
	} else {
		json_object_set_new(pc, "error", jstr("no memory size to send (use --mem-size)"));
	}
	json_object_set_new(r, "precopy", pc);
out:
	if (have_wl) {
		wl.stop = 1;
		pthread_join(wl.th, NULL);
		json_object_set_new(r, "workload_page_writes", json_integer((json_int_t)wl.written));
	}
	uffd_close(&u);
	if (wl.buf)
		munmap(wl.buf, wl.wss);
	if (mon.fd >= 0)
		qmp_close(&mon);
	json_object_set_new(r, "self_tests", tests);
	if (why[0])
		json_object_set_new(r, "error", jstr(why));
	return r;
}

