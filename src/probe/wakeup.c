/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * probe wakeup: what waking an idle vCPU costs, at rising idle gaps.
 *
 * Two threads pinned to two CPUs.  The sleeper blocks on a futex; the waker
 * sleeps for the gap (clock_nanosleep, absolute: its lateness is the timer's
 * wake-up), stamps the time and wakes the sleeper, which stamps its own
 * wake-up: the difference is one thread waking another on a CPU that sat
 * idle for the gap.  In a guest an idle vCPU halts and exits to the host, so
 * the wake-up goes through the host: the IPI's delivery, the host waking the
 * vCPU's thread and its turn in the host's run queue.  Gap 0 wakes the
 * sleeper a few microseconds after it blocked; a ping-pong on one CPU
 * (nothing idles there) is the floor.
 *
 * The context says what trades CPU for this time: the cpuidle driver and
 * governor, haltpoll's guest_halt_poll_ns (the guest polls before halting;
 * loading cpuidle-haltpoll also turns the host's polling off through
 * MSR_KVM_POLL_CONTROL), idle= on the command line, and what KVM's
 * halt_poll_ns on the host (200 us by default, adaptive, invisible from a
 * guest) would change: gaps shorter than the host's window find it still
 * polling.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../core/util.h"
#include "../sys/fsroot.h"
#include "hist.h"
#include "probe.h"

#define KVM_DEFAULT_HALT_POLL_NS 200000ull	/* virt/kvm/kvm_main.c halt_poll_ns default (x86) */

static long futex(_Atomic uint32_t *w, int op, uint32_t val)
{
	return syscall(SYS_futex, (uint32_t *)w, op, val, NULL, NULL, 0);
}

static uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000ull + (uint64_t)t->tv_nsec;
}

struct shared {
	_Atomic uint32_t word;	/* the sleeper waits while it equals what it saw */
	_Atomic uint32_t ready;	/* sequence of the last wait the sleeper entered */
	_Atomic uint32_t back;	/* same-CPU ping-pong: the sleeper's reply */
	_Atomic uint64_t t0;	/* when the waker woke it */
	_Atomic bool stop;
	_Atomic bool pingpong;	/* reply through `back` (same-CPU floor) */
	struct hist *h;		/* where the sleeper records (switched by the waker between phases) */
	_Atomic(struct hist *) cur;
	uint64_t not_blocked;	/* waits that returned at once: not a wake-up, not recorded */
	int cpu;
	int err;
};

static int pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	return sched_setaffinity(0, sizeof(s), &s) < 0 ? -errno : 0;
}

static void *sleeper(void *arg)
{
	struct shared *sh = arg;
	if (pin(sh->cpu) < 0) {
		sh->err = errno;
		atomic_store(&sh->stop, true);
		atomic_fetch_add(&sh->ready, 1);
		return NULL;
	}
	uint32_t seen = atomic_load(&sh->word);
	for (;;) {
		atomic_store_explicit(&sh->ready, seen + 1, memory_order_release);
		long r = futex(&sh->word, FUTEX_WAIT_PRIVATE, seen);
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		uint32_t w = atomic_load(&sh->word);
		if (atomic_load(&sh->stop))
			break;
		if (w == seen)
			continue; /* spurious (signal): wait again */
		uint64_t t0 = atomic_load(&sh->t0), t1 = ts_ns(&now);
		struct hist *h = atomic_load(&sh->cur);
		if (r < 0 && errno == EAGAIN)
			sh->not_blocked++;
		else if (h && t1 >= t0)
			hist_add(h, t1 - t0);
		seen = w;
		if (atomic_load(&sh->pingpong)) {
			atomic_fetch_add(&sh->back, 1);
			futex(&sh->back, FUTEX_WAKE_PRIVATE, 1);
		}
	}
	return NULL;
}

/* Wait until the sleeper has entered wait number `seq` (it sets ready before the futex call). */
static void wait_ready(struct shared *sh, uint32_t seq)
{
	uint64_t spins = 0;
	while (atomic_load_explicit(&sh->ready, memory_order_acquire) != seq && !atomic_load(&sh->stop) && !hq_exiting) {
		if (++spins > 1000)
			sched_yield();
	}
}

/* Spin (never sleep) for ns: the sleeper gets time to block, the waker's CPU does not idle. */
static void spin_ns(uint64_t ns)
{
	uint64_t end = mono_ns() + ns;
	while (mono_ns() < end)
		;
}

static void wake(struct shared *sh)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	atomic_store(&sh->t0, ts_ns(&t));
	atomic_fetch_add(&sh->word, 1);
	futex(&sh->word, FUTEX_WAKE_PRIVATE, 1);
}

/* One gap: wake the sleeper after `gap_ns` of idling, until n samples or the time budget. */
static void run_gap(struct shared *sh, uint64_t gap_ns, unsigned n, uint64_t budget_ns, struct hist *th,
		    struct hist *timer)
{
	atomic_store(&sh->cur, th);
	uint64_t end = mono_ns() + budget_ns;
	for (unsigned i = 0; i < n && mono_ns() < end && !hq_exiting && !atomic_load(&sh->stop); i++) {
		uint32_t seq = atomic_load(&sh->word) + 1;
		wait_ready(sh, seq);
		if (gap_ns == 0) {
			spin_ns(5000);
		} else {
			struct timespec dl, now;
			clock_gettime(CLOCK_MONOTONIC, &dl);
			uint64_t d = ts_ns(&dl) + gap_ns;
			dl.tv_sec = (time_t)(d / 1000000000ull);
			dl.tv_nsec = (long)(d % 1000000000ull);
			if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &dl, NULL) == EINTR)
				break;
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (ts_ns(&now) >= d)
				hist_add(timer, ts_ns(&now) - d);
		}
		wake(sh);
	}
	/* let the last wake-up be recorded before the histogram changes */
	wait_ready(sh, atomic_load(&sh->word) + 1);
	atomic_store(&sh->cur, NULL);
}

/* The floor: both threads on one CPU, a ping-pong; nothing idles, so no wake-up of a CPU is in it. */
static void run_pingpong(struct shared *sh, unsigned n, uint64_t budget_ns, struct hist *h)
{
	atomic_store(&sh->cur, h);
	atomic_store(&sh->pingpong, true);
	uint64_t end = mono_ns() + budget_ns;
	for (unsigned i = 0; i < n && mono_ns() < end && !hq_exiting && !atomic_load(&sh->stop); i++) {
		wait_ready(sh, atomic_load(&sh->word) + 1);
		uint32_t b = atomic_load(&sh->back);
		wake(sh);
		while (atomic_load(&sh->back) == b && !atomic_load(&sh->stop))
			futex(&sh->back, FUTEX_WAIT_PRIVATE, b);
	}
	atomic_store(&sh->pingpong, false);
	wait_ready(sh, atomic_load(&sh->word) + 1);
	atomic_store(&sh->cur, NULL);
}

/* A small file of the live machine (rel: relative to /), NUL-terminated; false when unreadable. */
static bool read_small_file(const char *rel, char *out, size_t n)
{
	struct fsroot root;
	if (fsroot_init(&root, "/", false) < 0)
		return false;
	char *b = NULL;
	size_t len;
	int r = fsroot_read(&root, rel, &b, &len, 65536);
	fsroot_done(&root);
	if (r < 0 && r != -EFBIG) {
		free(b);
		return false;
	}
	snprintf(out, n, "%s", b);
	free(b);
	return true;
}

static long long read_num(const char *path)
{
	char b[64];
	if (!read_small_file(path, b, sizeof(b)))
		return -1;
	char *end;
	long long v = strtoll(b, &end, 10);
	return (*end && *end != '\n') || v < 0 ? -1 : v;
}

static void read_text(const char *path, char *out, size_t n)
{
	if (!read_small_file(path, out, n)) {
		out[0] = '\0';
		return;
	}
	out[strcspn(out, "\n")] = '\0';
}

/* The settings that trade CPU for wake-up time, and what they mean here. */
static json_t *idle_settings(void)
{
	json_t *o = json_object();
	char drv[32], gov[32], cmd[4096], idle[32] = "";
	read_text("sys/devices/system/cpu/cpuidle/current_driver", drv, sizeof(drv));
	read_text("sys/devices/system/cpu/cpuidle/current_governor", gov, sizeof(gov));
	if (!gov[0])
		read_text("sys/devices/system/cpu/cpuidle/current_governor_ro", gov, sizeof(gov));
	read_text("proc/cmdline", cmd, sizeof(cmd));
	for (char *p = strstr(cmd, "idle="); p; p = strstr(p + 1, "idle="))
		if (p == cmd || p[-1] == ' ') {
			size_t l = strcspn(p, " ");
			snprintf(idle, sizeof(idle), "%.*s", (int)(l < 31 ? l : 31), p);
			break;
		}
	json_object_set_new(o, "cpuidle_driver", jstr(drv[0] ? drv : "none"));
	json_object_set_new(o, "cpuidle_governor", jstr(gov));
	json_object_set_new(o, "idle_option", idle[0] ? jstr(idle) : json_null());
	json_t *hp = json_object();
	static const char *const params[] = { "guest_halt_poll_ns", "guest_halt_poll_grow", "guest_halt_poll_shrink",
					      "guest_halt_poll_grow_start", "guest_halt_poll_allow_shrink" };
	bool haltpoll_params = false;
	for (size_t i = 0; i < ARRAY_SIZE(params); i++) {
		char path[128], v[32];
		snprintf(path, sizeof(path), "sys/module/haltpoll/parameters/%s", params[i]);
		read_text(path, v, sizeof(v));
		if (v[0]) {
			haltpoll_params = true;
			json_object_set_new(hp, params[i], jstr(v));
		}
	}
	json_object_set_new(o, "haltpoll", haltpoll_params ? hp : json_null());
	if (!haltpoll_params)
		json_decref(hp);
	long long gpoll = read_num("sys/module/haltpoll/parameters/guest_halt_poll_ns");
	bool haltpoll = strcmp(drv, "haltpoll") == 0;
	json_object_set_new(o, "guest_halt_poll_ns", gpoll >= 0 ? json_integer(gpoll) : json_null());
	const char *guest_poll = !haltpoll ? "off: the cpuidle-haltpoll driver is not in use, an idle vCPU halts at once"
				 : gpoll == 0 ? "off: cpuidle-haltpoll is loaded but guest_halt_poll_ns is 0"
					      : "on: an idle vCPU polls before it halts (up to guest_halt_poll_ns)";
	json_object_set_new(o, "guest_polling", jstr(guest_poll));
	json_object_set_new(o, "host_polling",
			    jstr(haltpoll ? "disabled by this guest: loading cpuidle-haltpoll tells KVM not to poll "
					    "(MSR_KVM_POLL_CONTROL), so the host sleeps at once on every halt"
					  : "up to the host's halt_poll_ns (KVM's default 200 µs, adaptive; a guest cannot read it)"));
	long long kvm = read_num("sys/module/kvm/parameters/halt_poll_ns");
	json_object_set_new(o, "this_machine_kvm_halt_poll_ns", kvm >= 0 ? json_integer(kvm) : json_null());
	return o;
}

/* What the host's halt polling would change, read off the curve. */
static void host_poll_words(json_t *r, const double *p50, const uint64_t *gaps, unsigned n, double b2b, bool haltpoll)
{
	char w[600];
	if (b2b <= 0 || n == 0) {
		json_object_set_new(r, "host_halt_poll", jstr("not enough wake-ups to read the curve"));
		return;
	}
	/* the first gap whose wake-up costs twice the back-to-back one */
	int jump = -1;
	for (unsigned i = 0; i < n; i++)
		if (gaps[i] && p50[i] >= 2 * b2b) {
			jump = (int)i;
			break;
		}
	if (haltpoll)
		snprintf(w, sizeof(w),
			 "host polling is off (this guest loaded cpuidle-haltpoll), so every gap pays the host's full wake-up; "
			 "with guest_halt_poll_ns above the gaps that matter, the guest would poll through them itself "
			 "(burning its vCPU, which the host sees as busy)");
	else if (jump < 0)
		snprintf(w, sizeof(w),
			 "no gap cost twice the back-to-back wake-up: the host wakes halted vCPUs quickly (polling, or "
			 "an idle host)");
	else if (gaps[jump] <= KVM_DEFAULT_HALT_POLL_NS)
		snprintf(w, sizeof(w),
			 "a %.0f µs gap already costs %.1fx the back-to-back wake-up: the host does not poll that long "
			 "(halt_poll_ns below it, or polling disabled); KVM's default of 200 µs would cover gaps up to "
			 "about 200 µs, at the price of a host CPU spinning after every halt",
			 (double)gaps[jump] / 1e3, p50[jump] / b2b);
	else
		snprintf(w, sizeof(w),
			 "gaps up to %.0f µs cost about the back-to-back wake-up, longer ones %.1fx: consistent with the "
			 "host polling a halted vCPU for a while (KVM's default halt_poll_ns is 200 µs, adaptive); raising "
			 "it would cover longer gaps and burn more host CPU",
			 jump > 0 ? (double)gaps[jump - 1] / 1e3 : 0, p50[jump] / b2b);
	json_object_set_new(r, "host_halt_poll", jstr(w));
}

json_t *wakeup_run(const struct wakeup_params *p)
{
	json_t *r = json_object();
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		CPU_ZERO(&allowed);
	int a = p->cpu_waker, b = p->cpu_sleeper;
	for (int c = 0; c < CPU_SETSIZE && (a < 0 || b < 0); c++) {
		if (!CPU_ISSET(c, &allowed))
			continue;
		if (a < 0 && c != b)
			a = c;
		else if (b < 0 && c != a)
			b = c;
	}
	json_object_set_new(r, "settings", idle_settings());
	if (a < 0 || b < 0 || a == b) {
		json_object_set_new(r, "error", jstr("this probe needs two CPUs it may run on: one to wake the other"));
		return r;
	}
	json_t *cpus = json_object();
	json_object_set_new(cpus, "waker", json_integer(a));
	json_object_set_new(cpus, "sleeper", json_integer(b));
	json_object_set_new(r, "cpus", cpus);
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	cpu_set_t old;
	bool have_old = sched_getaffinity(0, sizeof(old), &old) == 0;
	if (pin(a) < 0) {
		json_object_set_new(r, "error", jstr("cannot pin the waker to its CPU"));
		return r;
	}
	struct shared *sh = xcalloc(1, sizeof(*sh));
	sh->cpu = b;
	pthread_t th;
	if (pthread_create(&th, NULL, sleeper, sh) != 0) {
		json_object_set_new(r, "error", jstr("cannot start the sleeping thread"));
		free(sh);
		return r;
	}
	wait_ready(sh, 1);
	if (atomic_load(&sh->stop)) {
		pthread_join(th, NULL);
		json_object_set_new(r, "error", jstr("cannot pin the sleeping thread to its CPU"));
		free(sh);
		return r;
	}
	struct hist *th_h = xcalloc(p->ngaps, sizeof(*th_h)), *tm_h = xcalloc(p->ngaps, sizeof(*tm_h));
	double *p50 = xcalloc(p->ngaps ? p->ngaps : 1, sizeof(double));
	json_t *gaps = json_array();
	double b2b = -1;
	for (unsigned g = 0; g < p->ngaps && !hq_exiting; g++) {
		hist_init(&th_h[g]);
		hist_init(&tm_h[g]);
		uint64_t gap = p->gaps_ns[g];
		/* samples: many for short gaps, at least min_samples for long ones, within the time budget */
		uint64_t budget = p->per_gap_ns;
		if (gap && (uint64_t)p->min_samples * gap > budget)
			budget = (uint64_t)p->min_samples * gap + gap;
		run_gap(sh, gap, p->max_samples, budget, &th_h[g], &tm_h[g]);
		p50[g] = th_h[g].count ? hist_pct(&th_h[g], 50) : -1;
		if (gap == 0 && b2b < 0 && th_h[g].count)
			b2b = p50[g];
		json_t *e = json_object();
		json_object_set_new(e, "gap_us", pjnum((double)gap / 1e3));
		json_object_set_new(e, "thread", hist_json(&th_h[g]));
		json_object_set_new(e, "timer", gap && tm_h[g].count ? hist_json(&tm_h[g]) : json_null());
		json_object_set_new(e, "ratio_to_back_to_back", b2b > 0 && p50[g] > 0 ? pjnum(p50[g] / b2b) : json_null());
		json_array_append_new(gaps, e);
	}
	/* the floor last, on the sleeper's CPU (the waker moves there) */
	struct hist pp;
	hist_init(&pp);
	if (!hq_exiting && pin(b) == 0)
		run_pingpong(sh, p->max_samples, p->per_gap_ns, &pp);
	atomic_store(&sh->stop, true);
	atomic_fetch_add(&sh->word, 1);
	futex(&sh->word, FUTEX_WAKE_PRIVATE, 1);
	pthread_join(th, NULL);
	if (have_old)
		sched_setaffinity(0, sizeof(old), &old);
	json_object_set_new(r, "gaps", gaps);
	json_object_set_new(r, "same_cpu_floor", pp.count ? hist_json(&pp) : json_null());
	json_object_set_new(r, "back_to_back_p50_us", b2b > 0 ? pjnum(b2b / 1e3) : json_null());
	json_object_set_new(r, "waits_not_blocked", json_integer((json_int_t)sh->not_blocked));
	const json_t *st = json_object_get(r, "settings");
	const char *drv = json_string_value(json_object_get(st, "cpuidle_driver"));
	host_poll_words(r, p50, p->gaps_ns, p->ngaps, b2b, drv && !strcmp(drv, "haltpoll"));
	/* the headline: the longest gap against back to back */
	for (int g = (int)p->ngaps - 1; g >= 0; g--)
		if (p->gaps_ns[g] && p50[g] > 0 && b2b > 0) {
			char *v = xasprintf("after %.0f ms idle a wake-up took %.0f µs (p50), %.1fx the %.0f µs back to back",
					    (double)p->gaps_ns[g] / 1e6, p50[g] / 1e3, p50[g] / b2b, b2b / 1e3);
			json_object_set_new(r, "summary", jstr(v));
			free(v);
			break;
		}
	if (!th_h[0].count && p->ngaps)
		json_object_set_new(r, "error", jstr("no wake-up was measured"));
	free(p50);
	free(th_h);
	free(tm_h);
	free(sh);
	return r;
}

json_t *wakeup_lab(bool quick)
{
	struct wakeup_params p;
	wakeup_params_default(&p, quick);
	return wakeup_run(&p);
}

void wakeup_params_default(struct wakeup_params *p, bool quick)
{
	memset(p, 0, sizeof(*p));
	static const uint64_t full[] = { 0, 50000, 200000, 1000000, 10000000, 100000000 };
	static const uint64_t fast[] = { 0, 200000, 10000000, 100000000 };
	const uint64_t *g = quick ? fast : full;
	p->ngaps = quick ? ARRAY_SIZE(fast) : ARRAY_SIZE(full);
	memcpy(p->gaps_ns, g, p->ngaps * sizeof(g[0]));
	p->per_gap_ns = quick ? 300000000ull : 1000000000ull;
	p->min_samples = quick ? 8 : 20;
	p->max_samples = quick ? 2000 : 20000;
	p->cpu_waker = p->cpu_sleeper = -1;
}
