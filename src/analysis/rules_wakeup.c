/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * idle-vcpu-wakeup: what a task woken onto an idle vCPU waits before it
 * runs, from the run-queue histograms' idle split (sources/bpf/runqlat.c),
 * beside the waits on busy CPUs, the IPIs' flight to idle CPUs, and the
 * settings that trade CPU for a shorter wake-up (the cpuidle driver and
 * governor, haltpoll's guest_halt_poll_ns, idle= on the command line, and
 * KVM's halt_poll_ns when this machine is itself a host).  Passive: the
 * active curve is hiddenq probe wakeup's.
 */
#include "rules_wakeup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

#define TH(t) (thresholds[t])

static void sline(const struct sample *st, const char *path, char *dst, size_t n)
{
	dst[0] = '\0';
	const struct sfile *f = st ? sample_find(st, path) : NULL;
	if (!f)
		return;
	size_t k = 0;
	for (size_t i = 0; i < f->len && f->data[i] != '\n' && k + 1 < n; i++)
		dst[k++] = (f->data[i] >= 0x20 && f->data[i] < 0x7f) ? f->data[i] : '?';
	dst[k] = '\0';
}

/* A whole number from a static file; -1 when absent or not one. */
static long long snum(const struct sample *st, const char *path)
{
	char b[32];
	sline(st, path, b, sizeof(b));
	char *end;
	if (!b[0])
		return -1;
	long long v = strtoll(b, &end, 10);
	return *end || v < 0 ? -1 : v;
}

/* What the idle path is set to: the cpuidle driver and governor, halt polling in and under the guest. */
struct idle_ctx {
	char driver[32], governor[32], idle_opt[32];
	long long guest_poll_ns;	/* haltpoll guest_halt_poll_ns, -1: not loaded */
	long long kvm_poll_ns;		/* this machine's KVM halt_poll_ns, -1: no kvm module */
};

static void idle_ctx(const struct sample *st, struct idle_ctx *c)
{
	sline(st, "sys/devices/system/cpu/cpuidle/current_driver", c->driver, sizeof(c->driver));
	sline(st, "sys/devices/system/cpu/cpuidle/current_governor", c->governor, sizeof(c->governor));
	if (!c->governor[0])
		sline(st, "sys/devices/system/cpu/cpuidle/current_governor_ro", c->governor, sizeof(c->governor));
	c->guest_poll_ns = snum(st, "sys/module/haltpoll/parameters/guest_halt_poll_ns");
	c->kvm_poll_ns = snum(st, "sys/module/kvm/parameters/halt_poll_ns");
	c->idle_opt[0] = '\0';
	char cmd[4096];
	sline(st, "proc/cmdline", cmd, sizeof(cmd));
	for (char *p = strstr(cmd, "idle="); p; p = strstr(p + 1, "idle=")) {
		if (p != cmd && p[-1] != ' ')
			continue;
		size_t n = strcspn(p, " ");
		if (n >= sizeof(c->idle_opt))
			n = sizeof(c->idle_opt) - 1;
		memcpy(c->idle_opt, p, n);
		c->idle_opt[n] = '\0';
		break;
	}
}

/* The context as evidence and as words for the explanation. */
static void context(struct finding *f, const struct idle_ctx *c, char *words, size_t n)
{
	size_t o = 0;
	words[0] = '\0';
	if (c->guest_poll_ns >= 0) {
		struct evidence *e = finding_ev(f, M_GUEST_HALT_POLL_US, (double)c->guest_poll_ns / 1000.0, -1);
		ev_label(e, LBL_DRIVER, "%s", c->driver[0] ? c->driver : "unknown");
		ev_label(e, LBL_GOVERNOR, "%s", c->governor[0] ? c->governor : "unknown");
		if (!strcmp(c->driver, "haltpoll") && c->guest_poll_ns == 0)
			o += (size_t)snprintf(words + o, n - o,
					      " The cpuidle-haltpoll driver is loaded but guest_halt_poll_ns is 0: idle "
					      "vCPUs halt at once and every wake-up goes through the host.");
		else if (!strcmp(c->driver, "haltpoll"))
			o += (size_t)snprintf(words + o, n - o,
					      " The guest polls up to %lld µs before halting (haltpoll): wake-ups within "
					      "that are cheap, later ones pay the host.",
					      c->guest_poll_ns / 1000);
	} else if (c->driver[0] && o < n) {
		o += (size_t)snprintf(words + o, n - o,
				      " The cpuidle driver is %s%s%s: no guest halt polling (cpuidle-haltpoll is not in "
				      "use).",
				      c->driver, c->governor[0] ? ", governor " : "", c->governor);
	}
	if (c->idle_opt[0] && o < n)
		o += (size_t)snprintf(words + o, n - o, " The kernel was booted with %s.", c->idle_opt);
	if (c->kvm_poll_ns >= 0 && o < n) {
		finding_ev(f, M_KVM_HALT_POLL_US, (double)c->kvm_poll_ns / 1000.0, -1);
		snprintf(words + o, n - o,
			 " KVM on this machine polls its own VMs' halted vCPUs up to %lld µs (halt_poll_ns): that is this "
			 "machine as a host; the host under this guest has its own setting, which a guest cannot read.",
			 c->kvm_poll_ns / 1000);
	}
}

void rule_idle_wakeup(const struct analysis *an, struct finding *f)
{
	const char *why;
	if (!bpfhist_available(an, "runqlat", &why)) {
		finding_set(f, SEV_UNKNOWN, "no run-queue histograms (%s): the wake-up of idle vCPUs cannot be seen passively",
			    why ? why : "unavailable");
		finding_next(f, "measure it actively: hiddenq probe wakeup");
		return;
	}
	uint64_t idle[BPFHIST_SLOTS], busy[BPFHIST_SLOTS];
	int r = bpfhist_runq_idle_delta(an, idle, busy);
	if (r == -ENODATA) {
		finding_set(f, SEV_UNKNOWN, "the run-queue histograms do not split waits by idle CPU (recorded by a hiddenq "
					    "from before the split)");
		finding_next(f, "measure it actively: hiddenq probe wakeup");
		return;
	}
	if (r < 0) {
		finding_set(f, SEV_UNKNOWN, "the run-queue histograms did not parse");
		return;
	}
	struct idle_ctx c;
	idle_ctx(an->statics, &c);
	uint64_t n_idle = bpfhist_total(idle), n_busy = bpfhist_total(busy);
	double share = n_idle + n_busy ? 100.0 * (double)n_idle / (double)(n_idle + n_busy) : 0;
	double need = TH(T_IDLE_WAKE_MIN).warn;
	finding_ev(f, M_IDLE_WAKEUPS, (double)n_idle, T_IDLE_WAKE_MIN);
	finding_ev(f, M_IDLE_WAKEUPS_PCT, share, -1);
	char ctxw[900];
	if ((double)n_idle < need) {
		finding_set(f, SEV_UNKNOWN,
			    "only %llu task%s woken onto an idle vCPU in the watch (a verdict needs %g, %s): the vCPUs were "
			    "rarely idle",
			    (unsigned long long)n_idle, n_idle == 1 ? " was" : "s were", need, TH(T_IDLE_WAKE_MIN).name);
		context(f, &c, ctxw, sizeof(ctxw));
		finding_next(f, "measure it actively: hiddenq probe wakeup");
		return;
	}
	double p50 = bpfhist_percentile(idle, 0.50), p99 = bpfhist_percentile(idle, 0.99);
	double bp50 = n_busy ? bpfhist_percentile(busy, 0.50) : -1;
	finding_ev(f, M_IDLE_WAKE_P50_US, p50, T_IDLE_WAKE_P50);
	finding_ev(f, M_IDLE_WAKE_P99_US, p99, -1);
	if (bp50 >= 0)
		finding_ev(f, M_BUSY_WAKE_P50_US, bp50, -1);
	uint64_t ipi[BPFHIST_SLOTS];
	const char *ipi_why;
	double ip50 = -1, ip99 = -1;
	if (bpfhist_runq_ipi_delta(an, ipi, &ipi_why) == 0 && bpfhist_total(ipi) > 0) {
		ip50 = bpfhist_percentile(ipi, 0.50);
		ip99 = bpfhist_percentile(ipi, 0.99);
		finding_ev(f, M_IPI_IDLE_P50_US, ip50, -1);
		finding_ev(f, M_IPI_IDLE_P99_US, ip99, -1);
	}
	context(f, &c, ctxw, sizeof(ctxw));
	const struct threshold *t = &TH(T_IDLE_WAKE_P50);
	enum severity sev = t->crit >= 0 && p50 >= t->crit ? SEV_CRIT : t->warn >= 0 && p50 >= t->warn ? SEV_WARN : SEV_OK;
	finding_set(f, sev, "tasks woken onto an idle vCPU waited p50 %.0f µs, p99 %.0f µs before running%s", p50, p99,
		    bp50 >= 0 ? "" : "");
	char ipis[120] = "";
	if (ip50 >= 0)
		snprintf(ipis, sizeof(ipis), " | IPI to an idle vCPU p50 %.0f µs p99 %.0f µs", ip50, ip99);
	char bs[80] = "";
	if (bp50 >= 0)
		snprintf(bs, sizeof(bs), " | on a busy CPU p50 %.0f µs", bp50);
	finding_detail(f, "%llu wake-ups onto idle vCPUs (%.0f %% of waits)%s%s | cpuidle %s%s%s",
		       (unsigned long long)n_idle, share, bs, ipis, c.driver[0] ? c.driver : "?",
		       c.guest_poll_ns >= 0 ? ", guest_halt_poll_ns " : "",
		       c.guest_poll_ns >= 0 ? (c.guest_poll_ns ? "set" : "0") : "");
	if (sev == SEV_OK) {
		finding_explain(f, "A task woken onto an idle vCPU waits for the vCPU to be woken first; here that took a "
				   "median of %.0f µs, below %g µs.%s",
				p50, t->warn, ctxw);
		return;
	}
	finding_explain(f, "%s%s", rule_explain(f), ctxw);
	finding_next(f, "%s", rule_next(f));
}
