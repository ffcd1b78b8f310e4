/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Rule evaluators.  Each reads the analysed metrics, compares them with the
 * rows of thresholds.def, and fills one finding: severity, a title, the
 * evidence that fired it, what it means, and what to do next.  Every path
 * that cannot judge says `unknown`, why, and what would show it.
 */
#include "analysis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "rules_host.h"
#include "rules_hw.h"
#include "steal.h"
#include "rules_io.h"
#include "rules_mem.h"
#include "rules_wakeup.h"

#define TH(t) (thresholds[t])

static bool at_least(double v, int t, bool crit)
{
	double lim = crit ? TH(t).crit : TH(t).warn;
	return lim >= 0 && v >= lim;
}

static enum severity max_sev(enum severity a, enum severity b)
{
	if (a == SEV_UNKNOWN)
		return b;
	if (b == SEV_UNKNOWN)
		return a;
	return a > b ? a : b;
}

/* A replay cannot be watched longer: its advice is a longer capture. */
static const char *longer_hint(const struct analysis *an)
{
	return strcmp(an->source, "live") == 0 ? "watch longer: hiddenq diagnose --duration 10"
					       : "capture longer: hiddenq capture -d 10 -o DIR";
}

static bool too_short(const struct analysis *an, struct finding *f)
{
	const struct cpu_analysis *a = &an->cpu;
	double need = TH(T_MIN_WINDOWS).warn;
	if ((double)a->nwins >= need)
		return false;
	finding_set(f, SEV_UNKNOWN, "watched %.1f s: a verdict needs at least %.0f one-second windows (%s)",
		    cpu_watch_s(a), need, TH(T_MIN_WINDOWS).name);
	finding_next(f, "%s", longer_hint(an));
	return true;
}

/* ------------------------------------------------------------------ */
/* vcpu-oversubscription: steal per vCPU                               */
/* ------------------------------------------------------------------ */

static enum severity steal_sev(const struct cpu_slot *s)
{
	return s->total == 0 ? SEV_UNKNOWN : steal_severity(s->steal_avg, s->win_ge20, s->steal_worst);
}

static void rule_steal(const struct analysis *an, struct finding *f)
{
	const struct cpu_analysis *a = &an->cpu;
	if (!a->have_procstat) {
		finding_set(f, SEV_UNKNOWN, "no readable /proc/stat in this watch");
		finding_explain(f, "Steal is read from /proc/stat; without it the hypervisor's run queue cannot be judged.");
		return;
	}
	const char *why;
	if (!cpu_steal_reported(a, &why)) {
		finding_set(f, SEV_UNKNOWN, "steal is not reported here: %s", why);
		finding_explain(f,
			"Without steal accounting the guest cannot tell time the host kept its vCPUs waiting "
			"from time it was idle. Slowness with low guest CPU use may still be the host's run queue.");
		finding_next(f, "on the host: the run delay of this VM's vCPU threads "
				"(/proc/PID/task/TID/schedstat, second field; hiddenq vms)");
		finding_next(f, "or compare a CPU-bound loop's speed over time (hiddenq probe jitter, later)");
		return;
	}
	if (too_short(an, f))
		return;

	enum severity sev = SEV_UNKNOWN;
	const struct cpu_slot *worst = NULL;
	uint64_t st = 0, tot = 0, busy = 0;
	unsigned n20 = 0, n50 = 0, njudged = 0, nvcpus = 0;
	for (size_t i = 0; i < a->nslots; i++) {
		const struct cpu_slot *s = &a->slots[i];
		enum severity ss = steal_sev(s);
		if (ss == SEV_UNKNOWN)
			continue;
		st += s->sum[CT_STEAL];
		tot += s->total;
		busy += s->busy;
		n20 += s->win_ge20;
		n50 += s->win_ge50;
		njudged += s->nwin_judged;
		nvcpus++;
		if (!worst || ss > steal_sev(worst) || (ss == steal_sev(worst) && s->steal_avg > worst->steal_avg))
			worst = s;
		sev = max_sev(sev, ss);
	}
	if (!worst) {
		finding_set(f, SEV_UNKNOWN, "no CPU was online for two consecutive samples");
		return;
	}
	double avg = tot ? 100.0 * (double)st / (double)tot : 0;
	double busy_pct = tot ? 100.0 * (double)busy / (double)tot : 0;

	if (sev >= SEV_WARN)
		finding_set(f, sev, "vCPU %d waited for the host %.1f %% of the time (worst 1 s window: %.0f %%)",
			    worst->cpu, worst->steal_avg, worst->steal_worst);
	else if (worst->steal_avg >= TH(T_STEAL_NOTE).warn)
		finding_set(f, sev, "steal %.1f %% on vCPU %d: below the warning level, worth watching",
			    worst->steal_avg, worst->cpu);
	else
		finding_set(f, sev, "steal avg %.1f %%, worst vCPU %d at %.1f %% (worst 1 s window %.0f %%)",
			    avg, worst->cpu, worst->steal_avg, worst->steal_worst < 0 ? 0 : worst->steal_worst);

	/* one line of figures: the average, each vCPU, the windows */
	char line[512];
	int o = snprintf(line, sizeof(line), "steal avg %.1f %% |", avg);
	size_t shown = 0;
	for (size_t i = 0; i < a->nslots && o < (int)sizeof(line) - 40; i++) {
		if (a->slots[i].total == 0)
			continue;
		if (shown++ == 8 && a->nslots > 9) {
			o += snprintf(line + o, sizeof(line) - (size_t)o, " ...");
			break;
		}
		o += snprintf(line + o, sizeof(line) - (size_t)o, " vCPU%d %.1f %%", a->slots[i].cpu,
			      a->slots[i].steal_avg);
	}
	/* the counts add every vCPU's 1 s windows: so does their denominator */
	snprintf(line + o, sizeof(line) - (size_t)o, " | 1 s windows of %u vCPU%s: %u of %u >= 20 %%, %u >= 50 %%", nvcpus,
		 plural_s(nvcpus), n20, njudged, n50);
	finding_detail(f, "%s", line);

	finding_ev(f, M_STEAL_PCT_AVG, avg, T_STEAL_AVG);
	finding_ev(f, M_BUSY_PCT_AVG, busy_pct, -1);
	for (size_t i = 0; i < a->nslots; i++) {
		const struct cpu_slot *s = &a->slots[i];
		if (s->total == 0)
			continue;
		finding_ev_cpu(f, M_STEAL_PCT_AVG, s->steal_avg, T_STEAL_AVG, s->cpu);
		finding_ev_cpu(f, M_STEAL_PCT_WORST_1S, s->steal_worst < 0 ? 0 : s->steal_worst, T_STEAL_SPIKE,
			       s->cpu);
		finding_ev_cpu(f, M_STEAL_WINDOWS_GE_20, s->win_ge20, T_STEAL_WIN20, s->cpu);
		finding_ev_cpu(f, M_STEAL_WINDOWS_GE_50, s->win_ge50, -1, s->cpu);
		finding_ev_cpu(f, M_STEAL_SHARE_OF_WANTED, s->steal_share_wanted, -1, s->cpu);
		finding_ev_cpu(f, M_STEAL_TICKS, (double)s->steal_ticks, -1, s->cpu);
		finding_ev_cpu(f, M_TOTAL_TICKS, (double)s->total, -1, s->cpu);
		finding_ev_cpu(f, M_BUSY_PCT, s->busy_pct, -1, s->cpu);
	}

	if (sev >= SEV_WARN) {
		finding_explain(f,
			"vCPU %d was runnable but not running for %.1f %% of the watch (%.0f %% of the time it "
			"wanted). Your guest is only %.0f %% busy, yet work waits. %s",
			worst->cpu, worst->steal_avg, worst->steal_share_wanted, busy_pct, rule_explain(f));
		finding_next(f, "%s", rule_next(f));
		finding_next(f, "in a cloud: check for CPU credits / burstable instance types, or move to a "
				"dedicated or larger instance");
		finding_next(f, "if only some vCPUs are stolen: their host CPUs are shared with something "
				"busy (pinning conflict)");
	} else {
		finding_explain(f,
			"Steal counts time a vCPU was runnable but the host ran something else. Below %.0f %% it "
			"rarely matters; it is bursty, so 1 s windows are judged as well as the average.",
			TH(T_STEAL_AVG).warn);
	}
}

/* ------------------------------------------------------------------ */
/* guest-cpu-saturation: the guest's own run queue                    */
/* ------------------------------------------------------------------ */

/* 0 when not known (no usable /proc/stat and no recorded topology) */
static unsigned vcpus_of(const struct analysis *an)
{
	return analysis_vcpus(an);
}

static void add_top_tasks(const struct cpu_analysis *a, struct finding *f, double span_s, double *worst_ms)
{
	*worst_ms = 0;
	for (size_t i = 0; i < a->ntop && i < 5; i++) {
		const struct task_acc *t = a->top_tasks[i];
		double wait_ms = (double)(t->last_delay - t->first_delay) / 1e6;
		if (i == 0)
			*worst_ms = wait_ms;
		if (wait_ms <= 0)
			break;
		struct evidence *e = finding_ev(f, M_TASK_RUNQ_WAIT_MS, wait_ms, -1);
		ev_label(e, LBL_TASK, "%d/%d %s", t->pid, t->tid, t->comm[0] ? t->comm : "?");
		(void)span_s;
	}
}

struct cg_p99 {
	const struct bpfhist_cg *cg;
	double p99;
	uint64_t n;
};

static int cmp_cg_p99(const void *x, const void *y)
{
	const struct cg_p99 *a = x, *b = y;
	return (a->p99 < b->p99) - (a->p99 > b->p99);
}

/* eBPF per-cgroup run-queue delay: the cgroups whose tasks waited longest (p99), with enough waits to tell */
static void add_top_cgroups(const struct analysis *an, struct finding *f)
{
	enum { MAX_CG = 1024, TOP = 5, MIN_WAITS = 20 };
	struct bpfhist_cg *cg = xcalloc(MAX_CG, sizeof(*cg));
	struct cg_p99 *v = xcalloc(MAX_CG, sizeof(*v));
	size_t n = bpfhist_runq_cgroups(an, cg, MAX_CG), k = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t t = bpfhist_total(cg[i].hist);
		if (t < MIN_WAITS)
			continue;
		v[k].cg = &cg[i];
		v[k].p99 = bpfhist_percentile(cg[i].hist, 0.99);
		v[k].n = t;
		k++;
	}
	qsort(v, k, sizeof(*v), cmp_cg_p99);
	for (size_t i = 0; i < k && i < TOP; i++) {
		char *subj = v[i].cg->path[0] ? xstrdup(v[i].cg->path)
					      : xasprintf("cgroup id %llu", (unsigned long long)v[i].cg->id);
		ev_label(finding_ev(f, M_CGROUP_RUNQ_P99_US, v[i].p99, -1), LBL_CGROUP, "%s", subj);
		ev_label(finding_ev(f, M_CGROUP_RUNQ_WAITS, (double)v[i].n, -1), LBL_CGROUP, "%s", subj);
		free(subj);
	}
	free(v);
	free(cg);
}

static void rule_guest_cpu(const struct analysis *an, struct finding *f)
{
	const struct cpu_analysis *a = &an->cpu;
	unsigned vcpus = vcpus_of(an);
	char nv[16] = "?";	/* the count for the text: "?" when not known, never a made-up 1 */
	if (vcpus)
		snprintf(nv, sizeof(nv), "%u", vcpus);
	double span_s = (double)(a->tasks_last_ns - a->tasks_first_ns) / 1e9;
	bool psi = a->psi_seen[PSI_CPU] && a->psi_time_ns[PSI_CPU] > 0;
	bool tasks = a->task_samples >= 2 && span_s > 0;
	const char *tasks_off = analysis_switched_off(an, "tasks");
	if (!psi && !tasks && tasks_off) {
		finding_set(f, SEV_UNKNOWN, "no PSI, and per-task run delay was switched off (%s): the guest's run queue "
			    "cannot be measured", tasks_off);
		finding_next(f, "run without %s, or boot with psi=1", tasks_off);
		return;
	}
	if (!psi && !tasks) {
		finding_set(f, SEV_UNKNOWN, "no PSI and no per-task run delay: the guest's run queue cannot be measured");
		finding_explain(f, "PSI needs CONFIG_PSI (and psi=1 on kernels built with it disabled); per-task run "
				   "delay needs CONFIG_SCHED_INFO and read access to /proc/PID/task/TID/schedstat.");
		finding_next(f, "boot with psi=1, or run hiddenq as root");
		return;
	}
	if (too_short(an, f))
		return;

	enum severity sev;
	double avg = 0, worst_win = -1, run_avg = a->running_n ? (double)a->running_sum / a->running_n : 0;
	unsigned run_w = 0, run_c = 0;
	const char *basis;
	if (psi) {
		avg = 100.0 * (double)a->psi_some_us[PSI_CPU] * 1000.0 / (double)a->psi_time_ns[PSI_CPU];
		if (avg > 100)
			avg = 100;
		run_w = cpu_psi_longest_run(a, PSI_CPU, TH(T_PSI_CPU_SOME).warn, &worst_win);
		run_c = cpu_psi_longest_run(a, PSI_CPU, TH(T_PSI_CPU_SOME).crit, NULL);
		unsigned need = (unsigned)TH(T_SUSTAINED).warn;
		sev = run_c >= need && TH(T_PSI_CPU_SOME).crit >= 0 ? SEV_CRIT : run_w >= need ? SEV_WARN : SEV_OK;
		basis = "PSI cpu some";
		finding_ev(f, M_PSI_CPU_SOME_PCT_AVG, avg, T_PSI_CPU_SOME);
		finding_ev(f, M_PSI_CPU_SOME_PCT_WORST_1S, worst_win < 0 ? 0 : worst_win, -1);
		finding_ev(f, M_PSI_CPU_SUSTAINED_WARN, run_w, T_SUSTAINED);
		finding_ev(f, M_PSI_CPU_SUSTAINED_CRIT, run_c, T_SUSTAINED);
	} else if (!vcpus) {
		finding_set(f, SEV_UNKNOWN, "no PSI, and the number of vCPUs is not known (no usable /proc/stat): the "
			    "run-queue wait per vCPU cannot be computed");
		return;
	} else {
		avg = 100.0 * a->runq_wait_tasks_avg / vcpus;
		sev = at_least(avg, T_RUNQ_WAIT, true) ? SEV_CRIT : at_least(avg, T_RUNQ_WAIT, false) ? SEV_WARN : SEV_OK;
		basis = "run-queue wait per vCPU (no PSI)";
		finding_ev(f, M_RUNQ_WAIT_PCT_PER_VCPU, avg, T_RUNQ_WAIT);
	}
	if (vcpus)
		finding_ev(f, M_VCPUS, vcpus, -1);
	if (a->running_n) {
		finding_ev(f, M_PROCS_RUNNING_AVG, run_avg, -1);
		finding_ev(f, M_PROCS_RUNNING_MAX, (double)a->running_max, -1);
	}
	if (tasks)
		finding_ev(f, M_RUNQ_WAITING_TASKS_AVG, a->runq_wait_tasks_avg, -1);
	if (a->have_loadavg)
		finding_ev(f, M_LOAD1, a->load1_last, -1);
	if (a->have_proc_schedstat && a->rq_last_ns > a->rq_first_ns) {
		double secs = (double)(a->rq_last_ns - a->rq_first_ns) / 1e9;
		for (int c = 0; c < a->rq_ncpu; c++) {
			double ms = (double)(a->rq_delay_last[c] - a->rq_delay_first[c]) / 1e6;
			finding_ev_cpu(f, M_CPU_RUNQ_WAIT_MS_PER_S, ms / secs, -1, c);
		}
	}
	/* eBPF: how long each wait was (histograms), beside how much waiting there was */
	uint64_t rqh[BPFHIST_SLOTS];
	double rq_p50 = -1, rq_p99 = -1;
	if (bpfhist_runq_delta(an, NULL, rqh) == 0 && bpfhist_total(rqh) > 0) {
		rq_p50 = bpfhist_percentile(rqh, 0.50);
		rq_p99 = bpfhist_percentile(rqh, 0.99);
		finding_ev(f, M_RUNQ_LATENCY_P50_US, rq_p50, -1);
		finding_ev(f, M_RUNQ_LATENCY_P99_US, rq_p99, -1);
		finding_ev(f, M_RUNQ_LATENCY_P999_US, bpfhist_percentile(rqh, 0.999), -1);
		finding_ev(f, M_RUNQ_LATENCY_COUNT, (double)bpfhist_total(rqh), -1);
		int cpus[256];
		size_t nc = bpfhist_runq_cpus(an, cpus, ARRAY_SIZE(cpus));
		for (size_t i = 0; i < nc; i++)
			if (bpfhist_runq_cpu_delta(an, cpus[i], rqh) == 0 && bpfhist_total(rqh) > 0)
				finding_ev_cpu(f, M_RUNQ_LATENCY_P99_US, bpfhist_percentile(rqh, 0.99), -1, cpus[i]);
		add_top_cgroups(an, f);
	}
	double worst_ms = 0;
	if (tasks)
		add_top_tasks(a, f, span_s, &worst_ms);

	/* steal, for the contrast between the two layers */
	const char *why;
	double steal = -1;
	if (cpu_steal_reported(a, &why)) {
		uint64_t st = 0, tot = 0;
		for (size_t i = 0; i < a->nslots; i++) {
			st += a->slots[i].sum[CT_STEAL];
			tot += a->slots[i].total;
		}
		steal = tot ? 100.0 * (double)st / (double)tot : -1;
	}

	if (sev >= SEV_WARN) {
		finding_set(f, sev, "tasks waited for a vCPU %.0f %% of the time (%s; %u s sustained)", avg, basis,
			    run_c >= (unsigned)TH(T_SUSTAINED).warn ? run_c : run_w);
		finding_explain(f,
			"%s %.1f runnable tasks on average (at most %llu) competed for %s vCPUs. %s",
			rule_explain(f), run_avg, (unsigned long long)a->running_max, nv,
			steal < 0 ? "Steal is not reported here, so the host's share of the wait is unknown."
			: steal >= TH(T_STEAL_AVG).warn
				? "Steal is high too: part of this wait is the host's, fix that first."
				: "Steal is low, so the host is running your vCPUs: the guest simply has more work than vCPUs.");
		finding_next(f, "see which tasks wait most (the task_runq_wait_ms evidence) and what keeps the "
				"vCPUs busy (top, pidstat)");
		finding_next(f, "%s", rule_next(f));
		finding_next(f, "check CPU limits of containers: cgroup throttling is reported separately");
	} else {
		finding_set(f, sev, "run queue: %s %.1f %%, worst task waited %.0f ms", basis, avg, worst_ms);
		finding_explain(f, "Tasks rarely waited for a vCPU inside the guest; the guest's own scheduler is not "
				   "where the time goes.");
	}
	char rqd[96] = "";
	if (rq_p50 >= 0)
		snprintf(rqd, sizeof(rqd), " | run-queue delay p50 %.0f µs, p99 %.0f µs (eBPF)", rq_p50, rq_p99);
	finding_detail(f, "%s avg %.1f %% (worst 1 s %.0f %%) | runnable avg %.1f max %llu on %s vCPUs%s%s", basis,
		       avg, worst_win < 0 ? avg : worst_win, run_avg, (unsigned long long)a->running_max, nv, rqd,
		       steal >= 0 ? "" : " | steal not reported");
}

/* ------------------------------------------------------------------ */
/* cgroup-cpu-throttling: CFS bandwidth control                       */
/* ------------------------------------------------------------------ */

static int cmp_cg(const void *x, const void *y)
{
	const struct cg_acc *a = *(const struct cg_acc *const *)x, *b = *(const struct cg_acc *const *)y;
	if (a->throttled_pct != b->throttled_pct)
		return a->throttled_pct < b->throttled_pct ? 1 : -1;
	if (a->d_throttled_ns != b->d_throttled_ns)
		return a->d_throttled_ns < b->d_throttled_ns ? 1 : -1;
	return strcmp(a->path, b->path);
}

static const char *cg_display(const char *path)
{
	/* strip "sys/fs/cgroup" so the reader sees the cgroup's own path */
	const char *p = path + 13;
	return *p ? p : "/";
}

static void rule_cgroup_throttling(const struct analysis *an, struct finding *f)
{
	const struct cpu_analysis *a = &an->cpu;
	const char *cg_off = analysis_switched_off(an, "cgroups");
	if (a->cg_samples < 2 && cg_off) {
		finding_set(f, SEV_UNKNOWN, "cgroup cpu.stat was not read: switched off (%s)", cg_off);
		finding_explain(f, "CFS bandwidth throttling is counted per cgroup in cpu.stat; this run did not read it.");
		finding_next(f, "run without %s", cg_off);
		return;
	}
	if (a->cg_samples < 2) {
		finding_set(f, SEV_UNKNOWN, "%s", a->cg_samples ? "cgroup cpu.stat was read only once"
							: "no cgroup cpu.stat was readable");
		finding_explain(f, "CFS bandwidth throttling is counted per cgroup in cpu.stat (cgroup v2, or the v1 "
				   "cpu controller).");
		finding_next(f, "mount the cgroup filesystem, or run hiddenq where it can read /sys/fs/cgroup");
		return;
	}
	struct cg_acc **v = xcalloc(a->ncgs + 1, sizeof(*v));
	size_t n = 0, limited = 0;
	for (size_t i = 0; i < a->ncgs; i++) {
		struct cg_acc *c = &a->cgs[i];
		if (c->quota_us >= 0)
			limited++;
		if (c->last.has_periods && c->d_periods > 0)
			v[n++] = c;
	}
	qsort(v, n, sizeof(*v), cmp_cg);
	if (n == 0) {
		finding_set(f, SEV_OK, "no CPU limit was enforced in the watch (%zu cgroup%s, %zu with a quota)", a->ncgs,
			    plural_s(a->ncgs), limited);
		finding_explain(f, "No cgroup ran into a CFS bandwidth limit, so no task was paused for its quota.");
		finding_ev(f, M_CGROUPS_CHECKED, (double)a->ncgs, -1);
		finding_ev(f, M_CGROUPS_WITH_QUOTA, (double)limited, -1);
		free(v);
		return;
	}
	/* the worst cgroup among those that ran enough periods for a share to mean something */
	double minp = TH(T_CG_MIN_PERIODS).warn;
	const struct cg_acc *w = NULL;
	uint64_t most = 0;
	for (size_t i = 0; i < n && !w; i++) {
		if ((double)v[i]->d_periods >= minp)
			w = v[i];
		if (v[i]->d_periods > most)
			most = v[i]->d_periods;
	}
	enum severity sev = SEV_OK;
	if (w)
		sev = at_least(w->throttled_pct, T_CG_THROTTLED, true)	  ? SEV_CRIT
		      : at_least(w->throttled_pct, T_CG_THROTTLED, false) ? SEV_WARN
									  : SEV_OK;
	for (size_t i = 0; i < n && i < 5; i++) {
		const struct cg_acc *c = v[i];
		const char *cg = cg_display(c->path);
		ev_label(finding_ev(f, M_THROTTLED_PERIODS_PCT, c->throttled_pct, T_CG_THROTTLED), LBL_CGROUP, "%s", cg);
		ev_label(finding_ev(f, M_THROTTLED_MS_PER_S, c->throttled_ms_per_s, -1), LBL_CGROUP, "%s", cg);
		if (c->quota_us >= 0 && c->period_us)
			ev_label(finding_ev(f, M_QUOTA_CPUS, (double)c->quota_us / (double)c->period_us, -1), LBL_CGROUP,
				 "%s", cg);
	}
	if (!w) {
		finding_set(f, SEV_UNKNOWN, "cgroups with a CPU limit ran at most %llu CFS periods: a share needs %g (%s)",
			    (unsigned long long)most, minp, TH(T_CG_MIN_PERIODS).name);
		finding_explain(f, "The throttled share of a cgroup's CPU periods is judged once it ran enough of them; "
				   "here none did (a short watch, or long cpu.max periods).");
		finding_next(f, "watch longer: hiddenq diagnose --duration 10");
		free(v);
		return;
	}
	if (sev >= SEV_WARN) {
		finding_set(f, sev, "%s was throttled in %.0f %% of its CPU periods (%.0f ms/s paused)", cg_display(w->path),
			    w->throttled_pct, w->throttled_ms_per_s);
		finding_explain(f, "%s", rule_explain(f));
		finding_next(f, "%s: %s", cg_display(w->path), rule_next(f));
	} else {
		finding_set(f, sev, "CPU limits: worst cgroup %s throttled in %.0f %% of %llu period%s", cg_display(w->path),
			    w->throttled_pct, (unsigned long long)w->d_periods, plural_s(w->d_periods));
		finding_explain(f, "Cgroups with CPU limits stayed mostly within their quota.");
	}
	finding_detail(f, "%zu cgroup%s with bandwidth accounting, %zu with a quota | worst %s: %.0f %% periods, %.0f ms/s",
		       n, plural_s(n), limited, cg_display(w->path), w->throttled_pct, w->throttled_ms_per_s);
	free(v);
}

/* ------------------------------------------------------------------ */

typedef void (*rule_fn)(const struct analysis *, struct finding *);

static const struct rule {
	struct rule_info info;
	rule_fn eval;
	int min;	/* thresholds.def row: 1 s windows a verdict needs (-1: none) */
	bool events;	/* a warn/crit from events seen stands below the minimum */
} rules[] = {
#define RULE(id, fm, layer, label, window_s, fn, min, events, explain, next) \
	{ { id, fm, layer, label, window_s, explain, next }, fn, min, events },
#include "rules.def"
#undef RULE
};

size_t rules_count(void)
{
	return ARRAY_SIZE(rules);
}

const struct rule_info *rules_info(size_t i)
{
	return i < ARRAY_SIZE(rules) ? &rules[i].info : NULL;
}

const struct rule_info *rule_by_id(const char *id)
{
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
		if (!strcmp(rules[i].info.id, id))
			return &rules[i].info;
	return NULL;
}

const char *rule_explain(const struct finding *f)
{
	const struct rule_info *r = rule_by_id(f->id);
	return r ? r->explain : "";
}

const char *rule_next(const struct finding *f)
{
	const struct rule_info *r = rule_by_id(f->id);
	return r ? r->next : "";
}

/*
 * A verdict is earned by enough data: below the finding's own minimum it is
 * unknown, keeps the figures it saw as evidence (not judged), and says how
 * much it had, how much it needs and how to get more.
 */
static void below_minimum(const struct analysis *an, const struct rule *r, struct finding *f)
{
	const struct cpu_analysis *a = &an->cpu;
	double need = r->min >= 0 ? TH(r->min).warn : -1;
	if (need < 0 || (double)a->nwins >= need || f->sev == SEV_UNKNOWN || (r->events && f->sev >= SEV_WARN))
		return;
	finding_set(f, SEV_UNKNOWN, "watched %.1f s: a verdict needs at least %g one-second windows (%s)",
		    cpu_watch_s(a), need, TH(r->min).name);
	finding_reset_advice(f);
	finding_explain(f,
		"This layer is judged over at least %g one-second windows (threshold %s); this watch had %zu. The "
		"evidence holds what was seen, not a verdict: a watch this short can miss what a longer one shows.%s",
		need, TH(r->min).name, a->nwins,
		r->events ? " A stall or a change seen in it would still count; none was." : "");
	finding_next(f, "%s", longer_hint(an));
	finding_ev(f, M_WINDOWS_1S, (double)a->nwins, r->min);
}

struct finding *rule_evaluate(size_t i, const struct analysis *an, struct findings *out)
{
	const struct rule_info *r = &rules[i].info;
	struct finding *f = findings_add(out, r->id, r->failure_mode, r->layer, r->label);
	rules[i].eval(an, f);
	if (!f->title)
		finding_set(f, SEV_UNKNOWN, "not evaluated");
	below_minimum(an, &rules[i], f);
	return f;
}

struct finding *rules_evaluate_one(const struct analysis *an, const char *id, struct findings *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
		if (strcmp(rules[i].info.id, id) == 0)
			return rule_evaluate(i, an, out);
	return NULL;
}

void rules_evaluate(const struct analysis *an, struct findings *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
		rule_evaluate(i, an, out);
}
