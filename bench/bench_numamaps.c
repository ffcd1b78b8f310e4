/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * bench_numamaps: what the memory layer's process scan costs as the machine
 * grows, and that its time budget bounds it.
 *
 * memsrc_procs() (every MEMSRC_PROC_EVERY slow ticks) reads statm of every
 * process to find the MEMSRC_TOP_PROCS biggest, then for each of them comm,
 * statm, status, smaps_rollup, numa_maps and every task's stat.  numa_maps
 * and smaps_rollup walk the process's page tables, so the cost follows the
 * memory of the biggest processes; the statm pass follows the process count.
 * Before each big process it checks MEMSRC_BUDGET_NS (50 ms) and stops there
 * ("cut" below): the budget bounds the scan to itself plus one process.
 *
 * For each size M (16, 256, 1024 MiB) three "big" children map and touch M
 * MiB each (4 KiB pages: MADV_NOHUGEPAGE, the worst case for the page-table
 * walk); then small children (256 KiB each) are added until N processes run
 * (10, 100, 500).  Per (N, M): the median of REPS calls of memsrc_procs()
 * (wall and this process's CPU), how many big processes it scanned, and one
 * raw read of the biggest child's numa_maps.  A last row runs two children
 * of 1536 MiB: after them the budget is spent and the third is not read.
 * At most 3 x 1024 MiB + 500 x 256 KiB are touched at once (about 3.1 GiB).  Every child is killed by its
 * PID and reaped; they also die with this process (PR_SET_PDEATHSIG) and
 * after 10 minutes whatever happens (alarm).  Other processes on the machine
 * compete for the top three: the table says whose numa_maps were read.
 *
 * Usage: bench_numamaps [MAX_MIB]   (default 1536: the largest M)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "sources/memsrc.h"
#include "core/sample.h"
#include "sys/fsroot.h"

#define REPS 5
#define MAX_KIDS 512
#define SMALL_KIB 256

static pid_t kids[MAX_KIDS];
static unsigned nkids;

static uint64_t clk(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A child that touches kib KiB in 4 KiB pages, says so on the pipe, and waits to be killed. */
static pid_t spawn_toucher(size_t kib)
{
	int p[2];
	if (nkids >= MAX_KIDS || pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(600);
		size_t len = kib << 10;
		char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			_exit(1);
		madvise(m, len, MADV_NOHUGEPAGE);
		for (size_t o = 0; o < len; o += 4096)
			m[o] = 1;
		char ok = 'k';
		if (write(p[1], &ok, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	char c;
	ssize_t n;
	do
		n = read(p[0], &c, 1);
	while (n < 0 && errno == EINTR);
	close(p[0]);
	kids[nkids++] = pid;
	if (n != 1) {
		fprintf(stderr, "bench_numamaps: child %d failed to touch %zu KiB\n", (int)pid, kib);
		return -1;
	}
	return pid;
}

static void kill_kids(void)
{
	for (unsigned i = 0; i < nkids; i++)
		kill(kids[i], SIGKILL);
	for (unsigned i = 0; i < nkids; i++)
		while (waitpid(kids[i], NULL, 0) < 0 && errno == EINTR)
			;
	nkids = 0;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return (a > b) - (a < b);
}

static unsigned procs_running(void)
{
	unsigned n = 0;
	FILE *f = fopen("/proc/loadavg", "re");
	if (f) {
		unsigned run, all;
		if (fscanf(f, "%*s %*s %*s %u/%u", &run, &all) == 2)
			n = all;
		fclose(f);
	}
	return n;
}

struct result {
	double wall_ms, cpu_ms, raw_ms, raw_kib;
	unsigned scanned, ours, cut;
	double scanned_mib;
};

/* memsrc_procs REPS times; which big processes it read; a raw numa_maps read of `big`. */
static void measure(const struct fsroot *root, pid_t big, struct result *r)
{
	uint64_t wall[REPS], cpu[REPS];
	memset(r, 0, sizeof(*r));
	for (int k = 0; k < REPS; k++) {
		struct sample s;
		sample_init(&s);
		uint64_t c0 = clk(CLOCK_PROCESS_CPUTIME_ID);
		wall[k] = memsrc_procs(root, &s);
		cpu[k] = clk(CLOCK_PROCESS_CPUTIME_ID) - c0;
		unsigned scanned = 0, ours = 0;
		double mib = 0;
		for (size_t i = 0; i < s.nfiles; i++) {
			long pid;
			char tail[32];
			if (sscanf(s.files[i].path, "proc/%ld/%31s", &pid, tail) != 2 || strcmp(tail, "numa_maps") != 0)
				continue;
			scanned++;
			for (unsigned j = 0; j < nkids; j++)
				ours += kids[j] == pid;
			char statm[48];
			snprintf(statm, sizeof(statm), "proc/%ld/statm", pid);
			const struct sfile *f = sample_find(&s, statm);
			unsigned long long size, rss;
			if (f && sscanf(f->data, "%llu %llu", &size, &rss) == 2)
				mib += (double)rss * 4096 / 1048576;
		}
		if (k == REPS - 1) {
			r->scanned = scanned;
			r->ours = ours;
			r->scanned_mib = mib;
		}
		if (scanned < MEMSRC_TOP_PROCS)
			r->cut++;
		sample_done(&s);
	}
	qsort(wall, REPS, sizeof(wall[0]), cmp_u64);
	qsort(cpu, REPS, sizeof(cpu[0]), cmp_u64);
	r->wall_ms = (double)wall[REPS / 2] / 1e6;
	r->cpu_ms = (double)cpu[REPS / 2] / 1e6;

	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/numa_maps", (int)big);
	static char buf[1 << 16];
	uint64_t t0 = clk(CLOCK_MONOTONIC);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t total = 0;
	if (fd >= 0) {
		ssize_t n;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			total += (size_t)n;
		close(fd);
	}
	r->raw_ms = (double)(clk(CLOCK_MONOTONIC) - t0) / 1e6;
	r->raw_kib = (double)total / 1024;
}

int main(int argc, char **argv)
{
	/* big children and their size; then the process counts (0 ends a list) */
	static const struct {
		unsigned nbig, mib, counts[4];
	} cfg[] = {
		{ 3, 16, { 10, 100, 500, 0 } },
		{ 3, 256, { 10, 100, 500, 0 } },
		{ 3, 1024, { 10, 100, 500, 0 } },
		{ 2, 1536, { 10, 0 } },
	};
	unsigned max_mib = 1536;
	if (argc > 1) {
		long v = strtol(argv[1], NULL, 10);
		if (v >= 16 && v <= 1536)
			max_mib = (unsigned)v;
	}
	hq_quiet = true; /* memsrc's "stopped at its budget" warning: counted below instead */
	struct fsroot root;
	if (fsroot_init(&root, "/", false) < 0) {
		fprintf(stderr, "bench_numamaps: cannot open /\n");
		return 0;
	}
	printf("bench_numamaps: memsrc_procs() (top %d processes, %llu ms budget), median of %d calls; "
	       "%u processes on the machine before\n",
	       MEMSRC_TOP_PROCS, MEMSRC_BUDGET_NS / 1000000, REPS, procs_running());
	printf("  %6s %9s %8s %9s %9s %8s %5s %11s %9s %9s\n", "procs", "big MiB", "on host", "scan ms", "CPU ms",
	       "scanned", "ours", "scanned MiB", "budget", "raw nm ms");
	for (size_t si = 0; si < ARRAY_SIZE(cfg) && cfg[si].mib <= max_mib; si++) {
		pid_t big = -1;
		for (unsigned b = 0; b < cfg[si].nbig; b++) {
			pid_t p = spawn_toucher((size_t)cfg[si].mib << 10);
			if (p < 0)
				goto out;
			if (big < 0)
				big = p;
		}
		for (size_t ci = 0; ci < ARRAY_SIZE(cfg[si].counts) && cfg[si].counts[ci]; ci++) {
			while (nkids < cfg[si].counts[ci])
				if (spawn_toucher(SMALL_KIB) < 0)
					goto out;
			struct result r;
			measure(&root, big, &r);
			char cut[16], bigs[16];
			snprintf(cut, sizeof(cut), r.cut ? "cut %u/%d" : "-", r.cut, REPS);
			snprintf(bigs, sizeof(bigs), "%ux%u", cfg[si].nbig, cfg[si].mib);
			printf("  %6u %9s %8u %9.2f %9.2f %6u/%d %5u %11.0f %9s %9.2f\n", nkids, bigs, procs_running(),
			       r.wall_ms, r.cpu_ms, r.scanned, MEMSRC_TOP_PROCS, r.ours, r.scanned_mib, cut, r.raw_ms);
		}
		kill_kids();
	}
out:
	kill_kids();
	fsroot_done(&root);
	printf("  procs: this bench's children; on host: all processes (/proc/loadavg); scanned: big processes whose\n"
	       "  numa_maps was read (ours: of them, this bench's); budget: calls the %llu ms budget cut short;\n"
	       "  raw nm: one read of the first big child's numa_maps alone\n",
	       MEMSRC_BUDGET_NS / 1000000);
	return 0;
}
