/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * bench_cpu: what one sample costs, side by side.
 *
 *   floor         the least any tool can do: pread() each of the sampler's
 *                 hot files once, on fds kept open, into a static buffer.
 *                 Nothing else.
 *   hot           sampler_take(slow=false) + sample_done: what hiddenq reads
 *                 every tick (10 Hz by default).
 *   hot+analysis  the same plus analysis_feed, i.e. the whole per-tick cost of
 *                 `hiddenq diagnose` apart from sleeping.
 *   memory files  the hot memory files alone (proc/vmstat, proc/meminfo):
 *                 pread into a sample + mem_feed (their parse and
 *                 accumulation), against a pread-only floor of the same two.
 *   slow          sampler_take(slow=true) + analysis_feed: the ~1/s tick that
 *                 also walks /proc/PID/task/TID, the cgroup trees, the memory
 *                 sources and /dev/kmsg (diagnose's options).
 *   stall watch   the stall sampler thread's CPU per second (--stalls
 *                 sampler), and the default's (--stalls auto), each over
 *                 2 s of the main thread draining it at 10 Hz.
 *   sar, mpstat   one-shot invocations of sysstat (fork, exec, one reading
 *                 since boot, print), CPU time from the reaped children's
 *                 rusage; this process is a child subreaper because sar does
 *                 not wait for its sadc.
 *
 * CPU time is CLOCK_PROCESS_CPUTIME_ID (user + system, i.e. including the
 * kernel generating the /proc text); each figure is the median of ROUNDS
 * rounds, rounds of different kinds interleaved so drift hits all alike.
 * Benchmarks report; the exit status is 0 whatever the figures.
 *
 * Usage: bench_cpu [SAMPLES]   (default 2000 hot samples per round)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "analysis/analysis.h"
#include "analysis/mem.h"
#include "core/util.h"
#include "sample/sampler.h"
#include "sources/stalls.h"

#define ROUNDS 9

#define MAX_HOT 32

static char floor_buf[1 << 16];

struct cost {
	double cpu_us, wall_us;	/* per sample */
};

static uint64_t clk(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

static struct cost median(struct cost *v, int n)
{
	double c[ROUNDS], w[ROUNDS];
	for (int i = 0; i < n; i++) {
		c[i] = v[i].cpu_us;
		w[i] = v[i].wall_us;
	}
	qsort(c, (size_t)n, sizeof(double), cmp_double);
	qsort(w, (size_t)n, sizeof(double), cmp_double);
	return (struct cost){ c[n / 2], w[n / 2] };
}

/* ---------------- in-process candidates ---------------- */

struct ctx {
	int fds[MAX_HOT];	/* the floor's own fds on the sampler's hot files */
	unsigned nfds;
	struct sampler sp;
	struct analysis an;
	volatile size_t sink;
	int memfds[2];		/* proc/vmstat, proc/meminfo */
	struct mem_analysis mem;
	uint64_t mem_t;
};

static char mem_buf[2][1 << 16];
static const char *const mem_paths[2] = { "proc/vmstat", "proc/meminfo" };

static void do_floor(struct ctx *c)
{
	size_t got = 0;
	for (unsigned i = 0; i < c->nfds; i++) {
		ssize_t n = pread(c->fds[i], floor_buf, sizeof(floor_buf), 0);
		if (n > 0)
			got += (size_t)n;
	}
	c->sink += got;
}

static void do_mem_floor(struct ctx *c)
{
	size_t got = 0;
	for (int i = 0; i < 2; i++) {
		ssize_t n = c->memfds[i] >= 0 ? pread(c->memfds[i], floor_buf, sizeof(floor_buf), 0) : -1;
		if (n > 0)
			got += (size_t)n;
	}
	c->sink += got;
}

/* the hot memory files as the sampler reads them (pread into a sample), parsed and accumulated by mem_feed */
static void do_mem_parse(struct ctx *c)
{
	struct sample s;
	sample_init(&s);
	c->mem_t += 100000000ull;
	s.mono_ns = c->mem_t;
	for (int i = 0; i < 2; i++) {
		ssize_t n = c->memfds[i] >= 0 ? pread(c->memfds[i], mem_buf[i], sizeof(mem_buf[i]), 0) : -1;
		if (n > 0)
			sample_add(&s, mem_paths[i], mem_buf[i], (size_t)n);
	}
	mem_feed(&c->mem, &s);
	c->sink += s.nfiles;
	sample_done(&s);
}

static void do_hot(struct ctx *c)
{
	struct sample s;
	sampler_take(&c->sp, &s, false);
	c->sink += s.nfiles;
	sample_done(&s);
}

static void do_hot_an(struct ctx *c)
{
	struct sample s;
	sampler_take(&c->sp, &s, false);
	analysis_feed(&c->an, &s);
	sample_done(&s);
}

static void do_slow_an(struct ctx *c)
{
	struct sample s;
	sampler_take(&c->sp, &s, true);
	analysis_feed(&c->an, &s);
	c->sink += s.nfiles;
	sample_done(&s);
}

/* analysis_feed alone, on copies of one hot sample 100 ms apart */
static struct sample feed_src;

static void do_an_only(struct ctx *c)
{
	feed_src.mono_ns += 100000000ull;
	analysis_feed(&c->an, &feed_src);
}

/* slow tick with one family of slow sources only */
static void do_slow_only(struct ctx *c, bool tasks, bool cgroups, bool memory)
{
	struct sampler_opts keep = c->sp.o;
	c->sp.o.tasks = tasks;
	c->sp.o.cgroups = cgroups;
	c->sp.o.memory = memory;
	c->sp.o.kmsg = memory;
	do_slow_an(c);
	c->sp.o = keep;
}

static void do_slow_tasks(struct ctx *c)
{
	do_slow_only(c, true, false, false);
}

static void do_slow_cg(struct ctx *c)
{
	do_slow_only(c, false, true, false);
}

static void do_slow_mem(struct ctx *c)
{
	do_slow_only(c, false, false, true);
}

static struct cost run_loop(struct ctx *c, void (*fn)(struct ctx *), unsigned n)
{
	uint64_t c0 = clk(CLOCK_PROCESS_CPUTIME_ID), w0 = clk(CLOCK_MONOTONIC);
	for (unsigned i = 0; i < n; i++)
		fn(c);
	uint64_t c1 = clk(CLOCK_PROCESS_CPUTIME_ID), w1 = clk(CLOCK_MONOTONIC);
	return (struct cost){ (double)(c1 - c0) / 1e3 / n, (double)(w1 - w0) / 1e3 / n };
}

/* ---------------- sysstat, as child processes ---------------- */

static uint64_t children_cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ull +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ull;
}

/* Reap every descendant (orphaned sadc comes to us as subreaper); bounded. */
static void reap_all(uint64_t deadline_ns)
{
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p < 0 && errno == ECHILD)
			return;
		if (p > 0)
			continue;
		if (clk(CLOCK_MONOTONIC) > deadline_ns) {
			/* cannot happen with sysstat; do not hang the bench */
			fprintf(stderr, "bench_cpu: children still running at the deadline\n");
			return;
		}
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		setenv("LC_ALL", "C", 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/*
 * Run argv `conc` times at once, `rounds` times over; CPU per invocation
 * (including grandchildren), wall per round.  Returns false if it never ran.
 */
static bool run_children(char *const argv[], unsigned conc, unsigned rounds, unsigned timeout_s,
			 struct cost *out)
{
	uint64_t c0 = children_cpu_ns(), w0 = clk(CLOCK_MONOTONIC);
	unsigned ok = 0;
	for (unsigned r = 0; r < rounds; r++) {
		pid_t pids[16];
		unsigned n = 0;
		for (unsigned i = 0; i < conc && i < 16; i++) {
			pid_t p = spawn(argv);
			if (p > 0)
				pids[n++] = p;
		}
		uint64_t deadline = clk(CLOCK_MONOTONIC) + (uint64_t)timeout_s * 1000000000ull;
		for (unsigned i = 0; i < n; i++) {
			int st;
			for (;;) {
				pid_t p = waitpid(pids[i], &st, WNOHANG);
				if (p == pids[i]) {
					if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
						ok++;
					break;
				}
				if (p < 0)
					break;
				if (clk(CLOCK_MONOTONIC) > deadline) {
					kill(pids[i], SIGKILL);
					waitpid(pids[i], &st, 0);
					break;
				}
				struct timespec ts = { 0, 1000000 };
				nanosleep(&ts, NULL);
			}
		}
		reap_all(deadline + 2000000000ull);
	}
	uint64_t c1 = children_cpu_ns(), w1 = clk(CLOCK_MONOTONIC);
	if (!ok)
		return false;
	out->cpu_us = (double)(c1 - c0) / 1e3 / ok;
	out->wall_us = (double)(w1 - w0) / 1e3 / rounds;
	return true;
}

/* ---------------- the stall watch ---------------- */

/* CPU per second of this process with stall method m running, over 2 s of
 * the main thread draining it at 10 Hz as the sampler does. */
static bool stall_cost(enum stall_method m, struct cost *out)
{
	struct stalls *st = stalls_start(m);
	const char *why;
	if (!st || stalls_running(st, &why) == STALLS_OFF) {
		stalls_stop(st);
		return false;
	}
	struct timespec settle = { 0, 100000000 }, tick = { 0, 100000000 };
	nanosleep(&settle, NULL);
	uint64_t c0 = clk(CLOCK_PROCESS_CPUTIME_ID), w0 = clk(CLOCK_MONOTONIC);
	for (int i = 1; i <= 20; i++) {
		nanosleep(&tick, NULL);
		struct sample s;
		sample_init(&s);
		stalls_drain(st, &s, i % 10 == 0);
		sample_done(&s);
	}
	uint64_t c1 = clk(CLOCK_PROCESS_CPUTIME_ID), w1 = clk(CLOCK_MONOTONIC);
	stalls_stop(st);
	out->cpu_us = (double)(c1 - c0) / 1e3 / ((double)(w1 - w0) / 1e9);
	out->wall_us = 0;
	return true;
}

/* ---------------- report ---------------- */

static void row(const char *name, const char *per, struct cost c, double floor_us, const char *note)
{
	char ratio[16] = "-";
	if (floor_us > 0)
		snprintf(ratio, sizeof(ratio), "%.1fx", c.cpu_us / floor_us);
	printf("  %-34s %10.1f %10.1f %9s  %-7s %s\n", name, c.cpu_us, c.wall_us, ratio, per, note);
}

int main(int argc, char **argv)
{
	unsigned n = 2000;
	if (argc > 1) {
		long v = strtol(argv[1], NULL, 10);
		if (v > 0 && v < 10000000)
			n = (unsigned)v;
	}
	hq_quiet = true;
	static struct ctx c;
	/* what `hiddenq diagnose` samples, except the stall thread (measured apart) */
	struct sampler_opts so = {
		.interval_ns = 100000000ull,
		.count = 1,
		.tasks = true,
		.cgroups = true,
		.memory = true,
		.kmsg = true,
	};
	int ret = sampler_init(&c.sp, "/", &so);
	if (ret < 0) {
		fprintf(stderr, "bench_cpu: sampler_init: %s\n", strerror(-ret));
		return 0;
	}
	analysis_init(&c.an, &c.sp.statics, "live");
	/* the floor reads exactly the hot files the sampler found */
	size_t nhot = 0;
	for (size_t i = 0; i < c.sp.nhot && c.nfds < MAX_HOT; i++) {
		if (c.sp.hot[i].fd < 0)
			continue;
		nhot++;
		char path[256];
		snprintf(path, sizeof(path), "/%s", c.sp.hot[i].path);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			c.fds[c.nfds++] = fd;
	}

	for (int i = 0; i < 2; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/%s", mem_paths[i]);
		c.memfds[i] = open(path, O_RDONLY | O_CLOEXEC);
	}
	mem_init(&c.mem);

	/* warm up caches, allocator and the kernel's seq_file buffers */
	run_loop(&c, do_floor, 200);
	run_loop(&c, do_mem_parse, 200);
	run_loop(&c, do_hot_an, 200);
	run_loop(&c, do_slow_an, 3);

	unsigned nslow = n / 80 ? n / 80 : 1;
	struct cost fl[ROUNDS], hot[ROUNDS], hotan[ROUNDS], an[ROUNDS], slow[ROUNDS], slowt[ROUNDS], slowc[ROUNDS],
		    slowm[ROUNDS], mfloor[ROUNDS], mparse[ROUNDS];
	sampler_take(&c.sp, &feed_src, false);
	for (int r = 0; r < ROUNDS; r++) {
		fl[r] = run_loop(&c, do_floor, n);
		hot[r] = run_loop(&c, do_hot, n);
		hotan[r] = run_loop(&c, do_hot_an, n);
		an[r] = run_loop(&c, do_an_only, n);
		mfloor[r] = run_loop(&c, do_mem_floor, n);
		mem_done(&c.mem); /* each round from an empty watch: its points grow with the samples */
		mem_init(&c.mem);
		mparse[r] = run_loop(&c, do_mem_parse, n);
		slow[r] = run_loop(&c, do_slow_an, nslow);
		slowt[r] = run_loop(&c, do_slow_tasks, nslow);
		slowc[r] = run_loop(&c, do_slow_cg, nslow);
		slowm[r] = run_loop(&c, do_slow_mem, nslow);
	}
	struct cost mfl = median(fl, ROUNDS), mhot = median(hot, ROUNDS), mhotan = median(hotan, ROUNDS),
		    man = median(an, ROUNDS), mslow = median(slow, ROUNDS), mslowt = median(slowt, ROUNDS),
		    mslowc = median(slowc, ROUNDS), mslowm = median(slowm, ROUNDS), mmfl = median(mfloor, ROUNDS),
		    mmparse = median(mparse, ROUNDS);
	mem_done(&c.mem);
	for (int i = 0; i < 2; i++)
		if (c.memfds[i] >= 0)
			close(c.memfds[i]);
	unsigned long ntasks = c.sp.ntasks_last;
	sample_done(&feed_src);
	analysis_finish(&c.an);
	size_t ncgs = c.an.cpu.ncgs;
	analysis_done(&c.an);
	sampler_done(&c.sp);

	/* the stall watch costs CPU whether or not samples are taken: the 1 ms
	 * sampler thread, and the default (--stalls auto: the eBPF timer
	 * lateness where it loads, whose programs run in other tasks' timer
	 * interrupts and are measured by bench_stalls, not here) */
	struct cost stall = { 0, 0 }, stall_def = { 0, 0 };
	bool have_stall = stall_cost(STALLS_SAMPLER, &stall), have_def = stall_cost(STALLS_AUTO, &stall_def);
	const char *why = NULL;
	enum stall_method def_ran = STALLS_OFF;
	{
		struct stalls *st = stalls_start(STALLS_AUTO);
		def_ran = stalls_running(st, &why);
		stalls_stop(st);
	}

	/* sysstat: one-shot readings (no sleep), then the 1 s forms the docs show */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	char *sar0[] = { "sar", "-u", "-P", "ALL", "0", NULL };
	char *mp0[] = { "mpstat", "-P", "ALL", "0", NULL };
	char *sar1[] = { "sar", "-u", "-P", "ALL", "1", "1", NULL };
	char *mp1[] = { "mpstat", "-P", "ALL", "1", "1", NULL };
	char *tru[] = { "true", NULL };
	struct cost csar0, cmp0, csar1, cmp1, ctrue;
	bool have_sar0 = false, have_mp0 = false, have_sar1 = false, have_mp1 = false, have_true;
	have_true = run_children(tru, 1, 50, 5, &ctrue);
	have_sar0 = run_children(sar0, 1, 30, 10, &csar0);
	have_mp0 = run_children(mp0, 1, 30, 10, &cmp0);
	/* these sleep 1 s: run a few at once; they hardly run, so sharing 2 vCPUs costs little */
	have_sar1 = run_children(sar1, 4, 1, 10, &csar1);
	have_mp1 = run_children(mp1, 4, 1, 10, &cmp1);

	/* per second at 10 Hz: 9 hot ticks + 1 slow tick + the default stall watch */
	double per_s_us = 9 * mhotan.cpu_us + mslow.cpu_us + (have_def ? stall_def.cpu_us : 0);

	printf("bench_cpu: %u hot samples x %d rounds (median), %u slow; %zu hot files open, %lu tasks, %zu cgroups\n",
	       n, ROUNDS, nslow, nhot, ntasks, ncgs);
	printf("  %-34s %10s %10s %9s  %-7s %s\n", "what", "CPU us", "wall us", "vs floor", "per", "");
	row("floor: pread hot files", "sample", mfl, mfl.cpu_us, "");
	row("hiddenq hot sample", "sample", mhot, mfl.cpu_us, "sampler_take(slow=false)");
	row("hiddenq hot sample + analysis", "sample", mhotan, mfl.cpu_us, "+ analysis_feed");
	row("analysis_feed alone", "sample", man, 0, "parse + accumulate one hot sample");
	row("floor: pread vmstat + meminfo", "sample", mmfl, mmfl.cpu_us, "the hot memory files only");
	row("  vmstat + meminfo read + parse", "sample", mmparse, mmfl.cpu_us, "pread into a sample + mem_feed");
	row("hiddenq slow tick + analysis", "tick", mslow, 0, "all slow sources, ~1/s");
	row("  hot + tasks only", "tick", mslowt, 0, "/proc/PID/task/TID/{schedstat,comm}");
	row("  hot + cgroups only", "tick", mslowc, 0, "cgroup cpu.stat/max");
	row("  hot + memory + kmsg only", "tick", mslowm, 0, "nodes; numa_maps every 5th; /dev/kmsg");
	if (have_stall)
		row("stall sampler thread, per second", "second", stall, 0, "--stalls sampler: 1 ms sleeps");
	else
		printf("  (stall sampler thread could not start: not counted)\n");
	if (have_def) {
		char note[96];
		snprintf(note, sizeof(note), "--stalls auto: %s, drained at 10 Hz", stall_method_name(def_ran));
		row("default stall watch, per second", "second", stall_def, 0, note);
	}
	row("hiddenq 10 Hz, per second", "second", (struct cost){ per_s_us, 0 }, 0,
	    "9 hot + 1 slow + default stall watch");
	if (have_true)
		row("fork+exec /bin/true", "process", ctrue, 0, "process start alone");
	if (have_sar0)
		row("sar -u -P ALL 0", "sample", csar0, mfl.cpu_us, "one reading (sar + sadc)");
	if (have_mp0)
		row("mpstat -P ALL 0", "sample", cmp0, mfl.cpu_us, "one reading");
	if (have_sar1)
		row("sar -u -P ALL 1 1", "run", csar1, 0, "two readings, 1 s apart");
	if (have_mp1)
		row("mpstat -P ALL 1 1", "run", cmp1, 0, "two readings, 1 s apart");
	if (!have_sar0 || !have_mp0)
		printf("  (sysstat not found: sar/mpstat rows left out)\n");
	printf("  hiddenq at 10 Hz costs %.3f %% of one CPU (ticks, analysis, default stall watch; not the main loop's "
	       "wake-ups%s)\n",
	       per_s_us / 1e4, def_ran == STALLS_BPF ? " nor the eBPF programs: bench_stalls" : "");
	double r1 = mhot.cpu_us / mfl.cpu_us, r2 = mhotan.cpu_us / mfl.cpu_us;
	printf("target: hiddenq hot sample within 2x of the floor: %.2fx %s (with analysis %.2fx %s)\n", r1,
	       r1 <= 2 ? "PASS" : "MISS", r2, r2 <= 2 ? "PASS" : "MISS");
	return 0;
}
