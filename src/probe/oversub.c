/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * probe oversub: a latency-sensitive victim (wakes every --period, does a
 * fixed amount of work calibrated at start, goes back to sleep) while the
 * probe adds CPU-bound competitors from 0 to 4x the CPU count.  Per step:
 * the victim's latency (scheduled wake-up to end of its work), its run delay
 * (/proc/thread-self/schedstat), its context switches, the system's context
 * switch rate and steal.
 *
 * In a guest this is tasks per vCPU: the guest scheduler's queue.  The
 * vCPU:pCPU breaking point is the same curve one level down, and needs the
 * host: k test VMs on m CPUs, reading each vCPU thread's run delay there.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../core/util.h"
#include "../parse/parse.h"
#include "hist.h"
#include "probe.h"

static volatile uint64_t spin_sink;

static void spin_iters(uint64_t n)
{
	uint64_t x = 1;
	for (uint64_t i = 0; i < n; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	spin_sink = x;
}

/* iterations per microsecond at best (least disturbed of a few tries) */
static double calibrate(void)
{
	double best = 0;
	for (int i = 0; i < 7; i++) {
		uint64_t t0 = mono_ns();
		spin_iters(200000);
		double r = 200000.0 / ((double)(mono_ns() - t0) / 1e3);
		if (r > best)
			best = r;
	}
	return best;
}

static pid_t spawn_hog(uint64_t cpu_limit_s)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	struct rlimit rl = { cpu_limit_s, cpu_limit_s + 1 };
	setrlimit(RLIMIT_CPU, &rl);
	signal(SIGINT, SIG_IGN); /* the parent reaps us */
	for (;;)
		spin_iters(1u << 30);
}

static char *read_small(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	char *b = xmalloc(1 << 16);
	ssize_t n = read(fd, b, (1 << 16) - 1);
	close(fd);
	if (n < 0)
		n = 0;
	b[n] = '\0';
	return b;
}

static uint64_t rundelay_self(void)
{
	char *b = read_small("/proc/thread-self/schedstat");
	struct task_schedstat ts = { 0 };
	if (b)
		task_schedstat_parse(b, strlen(b), &ts);
	free(b);
	return ts.delay_ns;
}

static uint64_t ctxt_total(const char *stat)
{
	struct procstat ps;
	if (!stat || procstat_parse(stat, strlen(stat), &ps) < 0)
		return 0;
	uint64_t c = ps.has_ctxt ? ps.ctxt : 0;
	procstat_done(&ps);
	return c;
}

json_t *oversub_run(const struct oversub_params *p, const struct probe_env *e)
{
	json_t *r = json_object();
	unsigned n = e->ncpus ? e->ncpus : 1;
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	double ipu = calibrate();
	uint64_t iters = (uint64_t)(ipu * (double)p->work_ns / 1e3);
	json_object_set_new(r, "period_us", pjnum((double)p->period_ns / 1e3));
	json_object_set_new(r, "work_us", pjnum((double)p->work_ns / 1e3));
	json_object_set_new(r, "cpus", json_integer(n));
	unsigned counts[16], nc = 0;
	unsigned cand[] = { 0, n / 2, n, 2 * n, 3 * n, 4 * n };
	for (size_t i = 0; i < ARRAY_SIZE(cand); i++) {
		unsigned v = cand[i];
		if (v > p->max_factor * n)
			continue;
		if (nc && counts[nc - 1] >= v)
			continue;
		counts[nc++] = v;
	}
	pid_t hogs[256];
	unsigned nh = 0;
	uint64_t limit_s = (uint64_t)(p->step_ns * (nc + 1) / 1000000000ull) + 10;
	json_t *steps = json_array();
	double base_p50 = NAN;
	int knee = -1;
	for (unsigned s = 0; s < nc && !hq_exiting; s++) {
		while (nh < counts[s] && nh < ARRAY_SIZE(hogs)) {
			pid_t pid = spawn_hog(limit_s);
			if (pid < 0)
				break;
			probe_track_pid(pid);
			hogs[nh++] = pid;
		}
		struct timespec settle = { 0, 100000000L };
		nanosleep(&settle, NULL);
		char *st0 = read_small("/proc/stat");
		struct rusage ru0, ru1;
		getrusage(RUSAGE_THREAD, &ru0);
		uint64_t rd0 = rundelay_self(), t0 = mono_ns(), end = t0 + p->step_ns;
		struct hist lat, late;
		hist_init(&lat);
		hist_init(&late);
		struct timespec next;
		clock_gettime(CLOCK_MONOTONIC, &next);
		while (!hq_exiting) {
			next.tv_nsec += (long)p->period_ns;
			while (next.tv_nsec >= 1000000000L) {
				next.tv_nsec -= 1000000000L;
				next.tv_sec++;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
			uint64_t want = (uint64_t)next.tv_sec * 1000000000ull + (uint64_t)next.tv_nsec;
			uint64_t woke = mono_ns();
			spin_iters(iters);
			uint64_t done = mono_ns();
			hist_add(&late, woke > want ? woke - want : 0);
			hist_add(&lat, done > want ? done - want : 0);
			if (done >= end)
				break;
			if (done > want + p->period_ns) { /* fell behind: do not queue up wake-ups */
				next.tv_sec = (time_t)(done / 1000000000ull);
				next.tv_nsec = (long)(done % 1000000000ull);
			}
		}
		uint64_t t1 = mono_ns(), rd1 = rundelay_self();
		getrusage(RUSAGE_THREAD, &ru1);
		char *st1 = read_small("/proc/stat");
		double secs = (double)(t1 - t0) / 1e9;
		json_t *o = json_object();
		json_object_set_new(o, "competitors", json_integer(counts[s]));
		json_object_set_new(o, "tasks_per_cpu", pjnum((double)(counts[s] + 1) / n));
		json_object_set_new(o, "latency", hist_json(&lat));
		json_object_set_new(o, "wake_late", hist_json(&late));
		json_object_set_new(o, "run_delay_ms_per_s", pjnum((double)(rd1 - rd0) / 1e6 / secs));
		json_object_set_new(o, "run_delay_us_per_wake",
				    pjnum(lat.count ? (double)(rd1 - rd0) / 1e3 / (double)lat.count : 0));
		json_object_set_new(o, "victim_vcsw_per_s", pjnum((double)(ru1.ru_nvcsw - ru0.ru_nvcsw) / secs));
		json_object_set_new(o, "victim_ivcsw_per_s", pjnum((double)(ru1.ru_nivcsw - ru0.ru_nivcsw) / secs));
		uint64_t c0 = ctxt_total(st0), c1 = ctxt_total(st1);
		json_object_set_new(o, "system_ctxt_per_s", pjnum(c1 >= c0 ? (double)(c1 - c0) / secs : NAN));
		double steal = probe_steal_pct(st0, st1);
		json_object_set_new(o, "steal_pct", steal >= 0 ? pjnum(steal) : json_null());
		free(st0);
		free(st1);
		double p50 = hist_pct(&lat, 50);
		if (s == 0)
			base_p50 = p50;
		else if (knee < 0 && isfinite(base_p50) && p50 > 2 * base_p50)
			knee = (int)s;
		json_array_append_new(steps, o);
	}
	for (unsigned i = 0; i < nh; i++) {
		kill(hogs[i], SIGKILL);
		waitpid(hogs[i], NULL, 0);
		probe_untrack_pid(hogs[i]);
	}
	json_object_set_new(r, "steps", steps);
	if (knee >= 0) {
		json_object_set_new(r, "saturation_tasks_per_cpu", pjnum((double)(counts[knee] + 1) / n));
	} else {
		json_object_set_new(r, "saturation_tasks_per_cpu", json_null());
	}
	json_object_set_new(r, "scope",
			    jstr(e->guest ? "guest: this is tasks per vCPU (the guest's run queue); the vCPU:pCPU "
					     "breaking point needs the host: k test VMs on m CPUs, with the run delay "
					     "of each vCPU thread read on the host (hiddenq vms)"
					   : "host or bare metal: tasks per CPU; run it inside k test VMs pinned to m "
					     "CPUs and read the vCPU threads' run delay here for the vCPU:pCPU curve"));
	return r;
}

json_t *oversub_lab(bool quick, const struct probe_env *e)
{
	struct oversub_params p = { .period_ns = 5000000, .work_ns = 200000,
				    .step_ns = quick ? 400000000ull : 2000000000ull, .max_factor = 4 };
	return oversub_run(&p, e);
}
