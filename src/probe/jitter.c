/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * probe jitter: how late a thread wakes from a short absolute sleep (the
 * cyclictest measurement: clock_nanosleep(TIMER_ABSTIME) every interval, the
 * latency is now - the time asked for), one pinned thread per CPU, with the
 * timer slack set explicitly, at SCHED_OTHER and, when allowed, SCHED_FIFO,
 * each with and without /dev/cpu_dma_latency held at 0 (which keeps the
 * cpuidle driver out of its deeper states).
 *
 * With --gaps, a busy loop per CPU also records every gap in its own
 * execution above a threshold (a hiccup meter): the time nothing ran it.
 * Each gap is attributed as diagnose's stall sampler does it, by feeding the
 * same ".hiddenq/stalls.json" records, /proc/stat and /proc/vmstat to the
 * memory analysis (analysis/mem.c): own run delay is the guest's run queue,
 * steal (when the gap spans ticks) the hypervisor, compaction, reclaim or
 * swap counters that moved, else below the guest.  The busy loop runs at
 * SCHED_OTHER only: a SCHED_FIFO spinner on every CPU would starve the box.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "../analysis/mem.h"
#include "../core/paths.h"
#include "../core/util.h"
#include "../parse/parse.h"
#include "../sys/fsroot.h"
#include "hist.h"
#include "probe.h"

#define GAP_RING 8192

struct gap {
	uint64_t t_ns, len_ns, rundelay_ns;
	int cpu;
};

struct jthread {
	pthread_t th;
	int cpu;
	const struct jitter_params *p;
	int policy;		/* SCHED_OTHER / SCHED_FIFO */
	uint64_t end_ns;
	struct hist h;
	int err;		/* errno of a failed setup */
	/* gap mode */
	bool gapmode;
	pthread_mutex_t *lock;
	struct gap *ring;
	unsigned *ring_n;
	unsigned long *dropped;
	uint64_t busy_ns, lost_ns;
};

static void *sleeper(void *arg)
{
	struct jthread *t = arg;
	prctl(PR_SET_TIMERSLACK, (unsigned long)t->p->slack_ns, 0, 0, 0);
	if (t->policy == SCHED_FIFO) {
		struct sched_param sp = { .sched_priority = t->p->fifo_prio };
		if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0) {
			t->err = errno;
			return NULL;
		}
	}
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	uint64_t iv = t->p->interval_ns;
	for (;;) {
		next.tv_nsec += (long)iv;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (r == EINTR || hq_exiting)
			break;
		int64_t lat = (int64_t)(now.tv_sec - next.tv_sec) * 1000000000LL + (now.tv_nsec - next.tv_nsec);
		hist_add(&t->h, lat > 0 ? (uint64_t)lat : 0);
		uint64_t n = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
		if (n >= t->end_ns)
			break;
		if (lat > (int64_t)iv) /* overrun: start again from now, as cyclictest counts it once */
			next = now;
	}
	return NULL;
}

static uint64_t rundelay(int fd)
{
	char buf[128];
	ssize_t n = fd >= 0 ? pread(fd, buf, sizeof(buf) - 1, 0) : -1;
	struct task_schedstat ts;
	if (n <= 0 || task_schedstat_parse(buf, (size_t)n, &ts) < 0)
		return 0;
	return ts.delay_ns;
}

static void *spinner(void *arg)
{
	struct jthread *t = arg;
	int fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	uint64_t rd = rundelay(fd), start = mono_ns(), last = start, thr = t->p->gap_ns;
	unsigned k = 0;
	for (;;) {
		uint64_t now = mono_ns();
		if (now - last >= thr) {
			uint64_t d = rundelay(fd);
			struct gap g = { now, now - last, d >= rd ? d - rd : 0, sched_getcpu() };
			rd = d;
			hist_add(&t->h, g.len_ns);
			t->lost_ns += g.len_ns;
			pthread_mutex_lock(t->lock);
			if (*t->ring_n < GAP_RING)
				t->ring[(*t->ring_n)++] = g;
			else
				(*t->dropped)++;
			pthread_mutex_unlock(t->lock);
			now = mono_ns();
		}
		last = now;
		if (++k % 1024 == 0 && (now >= t->end_ns || hq_exiting))
			break;
	}
	t->busy_ns = last - start;
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int start_on(struct jthread *t, void *(*fn)(void *))
{
	pthread_attr_t a;
	pthread_attr_init(&a);
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(t->cpu, &set);
	pthread_attr_setaffinity_np(&a, sizeof(set), &set);
	pthread_attr_setstacksize(&a, 256 * 1024);
	int e = pthread_create(&t->th, &a, fn, t);
	pthread_attr_destroy(&a);
	return e;
}

static int cpus_allowed(int *cpus, int max, int only)
{
	cpu_set_t set;
	int n = 0;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 0;
	for (int c = 0; c < CPU_SETSIZE && n < max; c++)
		if (CPU_ISSET(c, &set) && (only < 0 || c == only))
			cpus[n++] = c;
	return n;
}

static bool fifo_allowed(int prio, char *why, size_t n)
{
	/* try it on a throwaway thread's policy: our own, then back */
	struct sched_param sp = { .sched_priority = prio }, old = { 0 };
	int pol = sched_getscheduler(0);
	sched_getparam(0, &old);
	if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0) {
		snprintf(why, n, "SCHED_FIFO not allowed: %s (needs CAP_SYS_NICE or an RLIMIT_RTPRIO)", strerror(errno));
		return false;
	}
	sched_setscheduler(0, pol, &old);
	return true;
}

static json_t *run_phase(const struct jitter_params *p, const int *cpus, int ncpu, int policy, int dmafd,
			 const char *label)
{
	struct jthread *t = xcalloc((size_t)ncpu, sizeof(*t));
	uint64_t phase = p->duration_ns;
	uint64_t end = mono_ns() + phase;
	int started = 0, err = 0;
	for (int i = 0; i < ncpu; i++) {
		t[i].cpu = cpus[i];
		t[i].p = p;
		t[i].policy = policy;
		t[i].end_ns = end;
		hist_init(&t[i].h);
		if ((err = start_on(&t[i], sleeper)) != 0)
			break;
		started++;
	}
	for (int i = 0; i < started; i++)
		pthread_join(t[i].th, NULL);
	json_t *o = json_object();
	json_object_set_new(o, "label", jstr(label));
	json_object_set_new(o, "policy", jstr(policy == SCHED_FIFO ? "SCHED_FIFO" : "SCHED_OTHER"));
	if (policy == SCHED_FIFO)
		json_object_set_new(o, "priority", json_integer(p->fifo_prio));
	json_object_set_new(o, "cpu_dma_latency_held", json_boolean(dmafd >= 0));
	struct hist all;
	hist_init(&all);
	json_t *per = json_array();
	for (int i = 0; i < started; i++) {
		if (t[i].err) {
			json_object_set_new(o, "error", jstr(strerror(t[i].err)));
			continue;
		}
		json_t *c = json_object();
		json_object_set_new(c, "cpu", json_integer(t[i].cpu));
		json_object_set_new(c, "latency", hist_json(&t[i].h));
		json_array_append_new(per, c);
		hist_merge(&all, &t[i].h);
	}
	if (err)
		json_object_set_new(o, "error", jstr(strerror(err)));
	json_object_set_new(o, "per_cpu", per);
	json_object_set_new(o, "latency", hist_json(&all));
	free(t);
	return o;
}

/* the busy loops, with a sample for the memory analysis every 200 ms */
static json_t *run_gaps(const struct jitter_params *p, const int *cpus, int ncpu)
{
	struct jthread *t = xcalloc((size_t)ncpu, sizeof(*t));
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct gap *ring = xcalloc(GAP_RING, sizeof(*ring));
	unsigned ring_n = 0;
	unsigned long dropped = 0;
	struct mem_analysis *ma = xcalloc(1, sizeof(*ma));
	mem_init(ma);
	struct fsroot root;
	bool have_root = fsroot_init(&root, "/", false) == 0;
	uint64_t end = mono_ns() + p->duration_ns;
	int started = 0;
	for (int i = 0; i < ncpu; i++) {
		t[i] = (struct jthread){ .cpu = cpus[i], .p = p, .end_ns = end, .gapmode = true, .lock = &lock,
					 .ring = ring, .ring_n = &ring_n, .dropped = &dropped };
		hist_init(&t[i].h);
		if (start_on(&t[i], spinner) != 0)
			break;
		started++;
	}
	/* sample: /proc/stat and /proc/vmstat now, with the gaps seen since the last one */
	for (unsigned idx = 0;; idx++) {
		bool last = mono_ns() >= end || hq_exiting;
		struct sample s;
		sample_init(&s);
		s.mono_ns = mono_ns();
		s.index = idx;
		static const char *const files[] = { "proc/stat", "proc/vmstat" };
		for (size_t k = 0; k < ARRAY_SIZE(files) && have_root; k++) {
			char *buf = NULL;
			size_t len;
			if (fsroot_read(&root, files[k], &buf, &len, 1 << 20) == 0)
				sample_add_take(&s, files[k], buf, len);
			else
				free(buf);
		}
		json_t *o = json_object(), *a = json_array();
		pthread_mutex_lock(&lock);
		for (unsigned k = 0; k < ring_n; k++) {
			json_t *e = json_object();
			json_object_set_new(e, "t_ns", json_integer((json_int_t)ring[k].t_ns));
			json_object_set_new(e, "late_ns", json_integer((json_int_t)ring[k].len_ns));
			json_object_set_new(e, "rundelay_ns", json_integer((json_int_t)ring[k].rundelay_ns));
			json_object_set_new(e, "cpu", json_integer(ring[k].cpu));
			json_array_append_new(a, e);
		}
		ring_n = 0;
		pthread_mutex_unlock(&lock);
		json_object_set_new(o, "stalls", a);
		char *txt = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		if (txt)
			sample_add_take(&s, STALLS_PATH, txt, strlen(txt));
		mem_feed(ma, &s);
		sample_done(&s);
		if (last)
			break;
		struct timespec ts = { 0, 200000000L };
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < started; i++)
		pthread_join(t[i].th, NULL);
	json_t *o = json_object();
	json_object_set_new(o, "policy", jstr("SCHED_OTHER"));
	json_object_set_new(o, "threshold_us", pjnum((double)p->gap_ns / 1e3));
	json_t *per = json_array();
	struct hist all;
	hist_init(&all);
	for (int i = 0; i < started; i++) {
		json_t *c = json_object();
		json_object_set_new(c, "cpu", json_integer(t[i].cpu));
		json_object_set_new(c, "gaps", json_integer((json_int_t)t[i].h.count));
		json_object_set_new(c, "lost_pct",
				    pjnum(t[i].busy_ns ? 100.0 * (double)t[i].lost_ns / (double)t[i].busy_ns : 0));
		json_object_set_new(c, "gap", hist_json(&t[i].h));
		json_array_append_new(per, c);
		hist_merge(&all, &t[i].h);
	}
	json_object_set_new(o, "per_cpu", per);
	json_object_set_new(o, "gap", hist_json(&all));
	json_object_set_new(o, "dropped", json_integer((json_int_t)dropped));
	uint64_t cnt[SC_N] = { 0 }, tot[SC_N] = { 0 };
	size_t worst[5] = { 0 };
	unsigned nw = 0;
	for (size_t i = 0; i < ma->nstalls; i++) {
		const struct stall_rec *r = &ma->stalls[i];
		cnt[r->main]++;
		for (int c = 0; c < SC_N; c++)
			tot[c] += r->share_ns[c];
		/* keep the five longest */
		unsigned pos = nw;
		while (pos > 0 && ma->stalls[worst[pos - 1]].late_ns < r->late_ns)
			pos--;
		if (pos < 5) {
			unsigned hi = nw < 5 ? nw : 4;
			memmove(&worst[pos + 1], &worst[pos], (hi - pos) * sizeof(worst[0]));
			worst[pos] = i;
			if (nw < 5)
				nw++;
		}
	}
	json_t *by = json_array();
	for (int c = 0; c < SC_N; c++) {
		if (!cnt[c] && !tot[c])
			continue;
		json_t *e = json_object();
		json_object_set_new(e, "cause", jstr(stall_cause_names[c]));
		json_object_set_new(e, "gaps", json_integer((json_int_t)cnt[c]));
		json_object_set_new(e, "time_us", pjnum((double)tot[c] / 1e3));
		json_array_append_new(by, e);
	}
	json_object_set_new(o, "by_cause", by);
	json_t *wa = json_array();
	for (unsigned k = 0; k < nw; k++) {
		const struct stall_rec *r = &ma->stalls[worst[k]];
		json_t *e = json_object();
		json_object_set_new(e, "cpu", json_integer(r->cpu));
		json_object_set_new(e, "gap_us", pjnum((double)r->late_ns / 1e3));
		json_object_set_new(e, "run_delay_us", pjnum((double)r->rundelay_ns / 1e3));
		json_object_set_new(e, "cause", jstr(stall_cause_names[r->main]));
		json_array_append_new(wa, e);
	}
	json_object_set_new(o, "worst", wa);
	mem_done(ma);
	free(ma);
	free(ring);
	free(t);
	if (have_root)
		fsroot_done(&root);
	return o;
}

json_t *jitter_run(const struct jitter_params *p)
{
	int cpus[1024];
	int ncpu = cpus_allowed(cpus, 1024, p->only_cpu);
	json_t *res = json_object();
	json_object_set_new(res, "interval_us", pjnum((double)p->interval_ns / 1e3));
	json_object_set_new(res, "timer_slack_ns", json_integer((json_int_t)p->slack_ns));
	if (ncpu == 0) {
		json_object_set_new(res, "error", jstr("no CPU to run on (check --cpu)"));
		return res;
	}
	char why[160] = "";
	bool fifo = p->fifo_prio > 0 && fifo_allowed(p->fifo_prio, why, sizeof(why));
	if (p->fifo_prio <= 0)
		snprintf(why, sizeof(why), "not asked (--priority 0)");
	int dmafd = -1;
	char dwhy[160] = "";
	if (p->dma) {
		dmafd = open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC);
		if (dmafd < 0)
			snprintf(dwhy, sizeof(dwhy), "/dev/cpu_dma_latency: %s", strerror(errno));
		else
			close(dmafd);
	} else {
		snprintf(dwhy, sizeof(dwhy), "not asked (--no-dma)");
	}
	bool dma = p->dma && !dwhy[0];
	json_object_set_new(res, "sched_fifo", fifo ? json_true() : jstr(why));
	json_object_set_new(res, "cpu_dma_latency", dma ? json_true() : jstr(dwhy));
	unsigned nph = (1u + (fifo ? 1u : 0u)) * (dma ? 2u : 1u) + (p->gaps ? 1u : 0u);
	struct jitter_params q = *p;
	q.duration_ns = p->duration_ns / nph;
	if (mlockall(MCL_CURRENT) < 0)
		log_warn("mlockall: %s (page faults may add to the latencies)", strerror(errno));
	json_t *runs = json_array();
	for (int pol = 0; pol < (fifo ? 2 : 1) && !hq_exiting; pol++)
		for (int d = 0; d < (dma ? 2 : 1) && !hq_exiting; d++) {
			int fd = -1;
			if (d) {
				fd = open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC);
				int32_t zero = 0;
				if (fd >= 0 && write(fd, &zero, sizeof(zero)) != sizeof(zero)) {
					close(fd);
					fd = -1;
				}
			}
			char label[64];
			snprintf(label, sizeof(label), "%s%s", pol ? "SCHED_FIFO" : "SCHED_OTHER",
				 fd >= 0 ? " + cpu_dma_latency=0" : "");
			json_array_append_new(runs, run_phase(&q, cpus, ncpu, pol ? SCHED_FIFO : SCHED_OTHER, fd, label));
			if (fd >= 0)
				close(fd); /* releases the PM QoS request */
		}
	json_object_set_new(res, "runs", runs);
	if (p->gaps && !hq_exiting)
		json_object_set_new(res, "gaps", run_gaps(&q, cpus, ncpu));
	munlockall();
	return res;
}

