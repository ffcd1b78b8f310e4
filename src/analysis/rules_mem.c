/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Memory-layer rules: the guest's own memory pressure, the host taking memory
 * back (balloon), THP compaction stalls, NUMA placement, and execution
 * stalls.  Same contract as rules.c: a severity, the evidence that fired it,
 * what it means, what to do; `unknown` says why and what would show it.
 */
#include "rules_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

#define TH(t) (thresholds[t])

/* severity of a value against a threshold row (levels < 0 do not apply) */
static enum severity level_of(double v, int t)
{
	if (TH(t).crit >= 0 && v >= TH(t).crit)
		return SEV_CRIT;
	if (TH(t).warn >= 0 && v >= TH(t).warn)
		return SEV_WARN;
	return SEV_OK;
}

static enum severity worse(enum severity a, enum severity b)
{
	if (a == SEV_UNKNOWN)
		return b;
	if (b == SEV_UNKNOWN)
		return a;
	return a > b ? a : b;
}

static double per_s(const struct mem_analysis *m, uint64_t d)
{
	double s = mem_watch_s(m);
	return s > 0 ? (double)d / s : 0;
}

static double psi_pct(const struct cpu_analysis *a, int res, bool full)
{
	if (!a->psi_seen[res] || a->psi_time_ns[res] == 0)
		return -1;
	uint64_t us = full ? a->psi_full_us[res] : a->psi_some_us[res];
	double p = 100.0 * (double)us * 1000.0 / (double)a->psi_time_ns[res];
	return p > 100 ? 100 : p;
}

static bool is_guest(const struct analysis *an)
{
	struct environment env;
	environment_build(an, &env);
	return strcmp(env.mode, "guest") == 0;
}

/* ------------------------------------------------------------------ */

static enum severity memory_pressure_sev(const struct analysis *an, double *some, double *full, double *swapin)
{
	const struct mem_analysis *m = &an->mem;
	*some = psi_pct(&an->cpu, PSI_MEM, false);
	*full = psi_pct(&an->cpu, PSI_MEM, true);
	*swapin = per_s(m, mem_delta(m, VK_PSWPIN));
	if (*some >= 0)
		return worse(level_of(*some, T_PSI_MEM_SOME), *full >= 0 ? level_of(*full, T_PSI_MEM_FULL) : SEV_OK);
	if (m->vm_seen)
		return level_of(*swapin, T_SWAPIN_RATE);
	return SEV_UNKNOWN;
}

void rule_guest_memory(const struct analysis *an, struct finding *f)
{
	const struct mem_analysis *m = &an->mem;
	/* too short a watch: rules.def's minimum (memory_min_windows) makes it unknown, evidence kept */
	double some, full, swapin;
	enum severity sev = memory_pressure_sev(an, &some, &full, &swapin);
	if (sev == SEV_UNKNOWN) {
		finding_set(f, SEV_UNKNOWN, "no PSI and no /proc/vmstat: memory pressure cannot be measured");
		finding_next(f, "boot with psi=1 (CONFIG_PSI) so memory stalls are counted");
		return;
	}
	double swapout = per_s(m, mem_delta(m, VK_PSWPOUT));
	double majflt = per_s(m, mem_delta(m, VK_PGMAJFAULT));
	double scan_d = per_s(m, mem_delta(m, VK_PGSCAN_DIRECT));
	double scan_k = per_s(m, mem_delta(m, VK_PGSCAN_KSWAPD));
	double steal_d = per_s(m, mem_delta(m, VK_PGSTEAL_DIRECT));
	double avail_pct = m->mi_found[MI_TOTAL] && m->mi[MI_TOTAL]
				   ? 100.0 * (double)m->mi[MI_AVAILABLE] / (double)m->mi[MI_TOTAL]
				   : -1;
	if (some >= 0) {
		finding_ev(f, M_PSI_MEM_SOME_PCT, some, T_PSI_MEM_SOME);
		finding_ev(f, M_PSI_MEM_FULL_PCT, full < 0 ? 0 : full, T_PSI_MEM_FULL);
	}
	finding_ev(f, M_SWAPIN_PER_S, swapin, some >= 0 ? -1 : T_SWAPIN_RATE);
	finding_ev(f, M_SWAPOUT_PER_S, swapout, -1);
	finding_ev(f, M_MAJOR_FAULTS_PER_S, majflt, -1);
	finding_ev(f, M_DIRECT_SCAN_PER_S, scan_d, -1);
	finding_ev(f, M_KSWAPD_SCAN_PER_S, scan_k, -1);
	finding_ev(f, M_DIRECT_STEAL_PER_S, steal_d, -1);
	if (avail_pct >= 0)
		finding_ev(f, M_MEM_AVAILABLE_PCT, avail_pct, -1);
	if (m->mi_found[MI_SWAPTOTAL] && m->mi[MI_SWAPTOTAL])
		finding_ev(f, M_SWAP_USED_MIB, (double)(m->mi[MI_SWAPTOTAL] - m->mi[MI_SWAPFREE]) / 1024.0, -1);
	finding_detail(f, "PSI memory some %.1f %% full %.1f %% | swap in %.0f out %.0f pages/s | major faults %.0f/s | direct reclaim %.0f pages/s",
		       some < 0 ? 0 : some, full < 0 ? 0 : full, swapin, swapout, majflt, scan_d);
	if (sev >= SEV_WARN) {
		finding_set(f, sev, "tasks stalled on memory %.1f %% of the time (all stalled %.1f %%), swap-in %.0f pages/s",
			    some < 0 ? 0 : some, full < 0 ? 0 : full, swapin);
		finding_explain(f, "%s", rule_explain(f));
		finding_next(f, "%s", rule_next(f));
		finding_next(f, "give the guest or the cgroup more memory, or shrink the working set");
	} else {
		finding_set(f, sev, "PSI memory some %.1f %%, swap-in %.0f pages/s, major faults %.0f/s",
			    some < 0 ? 0 : some, swapin, majflt);
		finding_explain(f, "Tasks rarely waited for memory inside the guest.");
	}
}

/* ------------------------------------------------------------------ */

void rule_overcommit(const struct analysis *an, struct finding *f)
{
	const struct mem_analysis *m = &an->mem;
	const struct identity *id = &an->cpu.id;
	bool counters = m->vm_found[VK_BALLOON_INFLATE];
	/* the last sample whose /proc/vmstat was read: one missing copy must
	 * not make the balloon look absent */
	const struct vm_point *last = NULL;
	for (size_t i = m->npts; i-- > 0 && !last;)
		if (m->pts[i].ok)
			last = &m->pts[i];
	uint64_t infl = last ? last->v[VK_BALLOON_INFLATE] : 0;
	uint64_t defl = last ? last->v[VK_BALLOON_DEFLATE] : 0;
	bool present = id->balloon_driver || (counters && infl > 0) || (m->mi_found[MI_BALLOON] && m->mi[MI_BALLOON] > 0);
	if (!present) {
		finding_set(f, SEV_UNKNOWN, "no memory balloon: the host's memory overcommit is invisible from this guest");
		finding_explain(f,
			"Without a balloon driver the guest cannot see the host reclaim its memory. If the host "
			"swaps this guest's memory out, the guest only sees slowness: that is not steal, and no "
			"guest counter shows it.");
		finding_next(f, "on the host: VmSwap of this VM's process in /proc/PID/status (hiddenq vms) and "
				"the host's swap-in rate");
		return;
	}
	uint64_t pages = infl >= defl ? infl - defl : 0;
	double size_mib = (double)pages * 4.0 / 1024.0;
	if (m->mi_found[MI_BALLOON] && m->mi[MI_BALLOON])
		size_mib = (double)m->mi[MI_BALLOON] / 1024.0;
	else if (m->vm_found[VK_NR_BALLOON_PAGES] && last)
		size_mib = (double)last->v[VK_NR_BALLOON_PAGES] * 4.0 / 1024.0;
	double d_in = (double)mem_delta(m, VK_BALLOON_INFLATE), d_out = (double)mem_delta(m, VK_BALLOON_DEFLATE);
	double grew_mib = (d_in - d_out) * 4.0 / 1024.0;
	/* MemTotal shrinks as the balloon inflates: size against what the guest was given */
	double given_mib = (double)(m->mi[MI_TOTAL]) / 1024.0 + size_mib;
	double pct = given_mib > 0 ? 100.0 * size_mib / given_mib : 0;
	double some, full, swapin;
	enum severity press = memory_pressure_sev(an, &some, &full, &swapin);

	enum severity sev = level_of(pct, T_BALLOON_PCT);
	if (grew_mib > 0)
		sev = worse(sev, press >= SEV_WARN ? SEV_CRIT : SEV_WARN);
	finding_ev(f, M_BALLOON_MIB, size_mib, -1);
	finding_ev(f, M_BALLOON_PCT, pct, T_BALLOON_PCT);
	finding_ev(f, M_BALLOON_INFLATED_MIB, grew_mib, -1);
	finding_ev(f, M_BALLOON_INFLATE_RATE, per_s(m, (uint64_t)(d_in > 0 ? d_in : 0)) * 4.0 / 1024.0, -1);
	finding_ev(f, M_MEM_TOTAL_MIB, (double)m->mi[MI_TOTAL] / 1024.0, -1);
	if (m->memtotal_first_kb && m->mi[MI_TOTAL] != m->memtotal_first_kb)
		finding_ev(f, M_MEM_TOTAL_CHANGE_MIB,
			   ((double)m->mi[MI_TOTAL] - (double)m->memtotal_first_kb) / 1024.0, -1);
	finding_detail(f, "balloon %.0f MiB (%.0f %% of %.0f MiB) | %+.0f MiB during the watch | guest pressure: %s",
		       size_mib, pct, given_mib, grew_mib, severity_name(press));
	if (sev >= SEV_WARN) {
		if (grew_mib > 0)
			finding_set(f, sev, "the host took %.0f MiB back through the balloon during the watch (now %.0f MiB, %.0f %%)",
				    grew_mib, size_mib, pct);
		else
			finding_set(f, sev, "the balloon holds %.0f MiB (%.0f %% of this guest's memory)", size_mib, pct);
		finding_explain(f, "%s %s Host swap of guest memory would not show here at all, and it is not steal.",
			rule_explain(f),
			press >= SEV_WARN ? "The guest is under memory pressure at the same time, so the balloon is "
					    "taking memory the guest needs."
					  : "The guest is not under pressure yet.");
		finding_next(f, "%s", rule_next(f));
		finding_next(f, "ask for a memory reservation or a non-overcommitted host for this guest");
	} else {
		finding_set(f, sev, "balloon %.0f MiB (%.0f %%), stable during the watch", size_mib, pct);
		finding_explain(f, "A balloon driver is present but the host is not taking memory back now.");
	}
}

/* ------------------------------------------------------------------ */

void rule_thp(const struct analysis *an, struct finding *f)
{
	const struct mem_analysis *m = &an->mem;
	const struct cpu_analysis *a = &an->cpu;
	if (!m->vm_seen) {
		finding_set(f, SEV_UNKNOWN, "no /proc/vmstat: compaction cannot be measured");
		return;
	}
	char enabled[24] = "?", defrag[24] = "?";
	const struct sfile *e = sample_find(an->statics, "sys/kernel/mm/transparent_hugepage/enabled");
	const struct sfile *d = sample_find(an->statics, "sys/kernel/mm/transparent_hugepage/defrag");
	if (e)
		bracket_choice(e->data, e->len, enabled, sizeof(enabled));
	if (d)
		bracket_choice(d->data, d->len, defrag, sizeof(defrag));
	uint64_t stalls = mem_delta(m, VK_COMPACT_STALL);
	uint64_t fails = mem_delta(m, VK_COMPACT_FAIL);
	uint64_t fb = mem_delta(m, VK_THP_FAULT_FALLBACK), al = mem_delta(m, VK_THP_FAULT_ALLOC);
	/* stall time: PSI memory in the windows where compaction stalls grew */
	uint64_t stall_us = 0;
	unsigned cwins = 0;
	for (size_t i = 0; i < a->nwins; i++) {
		const struct cpu_window *w = &a->wins[i];
		if (mem_delta_between(m, VK_COMPACT_STALL, w->start_ns, w->end_ns) == 0)
			continue;
		cwins++;
		if (w->psi_ok[PSI_MEM])
			stall_us += w->psi_some_us[PSI_MEM];
	}
	double watch_us = cpu_watch_s(a) * 1e6;
	double pct = watch_us > 0 ? 100.0 * (double)stall_us / watch_us : 0;
	double worst_ms = 0, total_ms = 0;
	for (size_t i = 0; i < m->nstalls; i++) {
		if (m->stalls[i].main != SC_COMPACTION)
			continue;
		double ms = (double)m->stalls[i].late_ns / 1e6;
		total_ms += ms;
		if (ms > worst_ms)
			worst_ms = ms;
	}
	/* how long each direct compaction ran, from eBPF when it is loaded */
	struct bpfhist_compact cd;
	const char *cd_why = NULL;
	bool have_cd = bpfhist_available(an, "compact", &cd_why);
	if (have_cd && bpfhist_compact_watch(an, &cd) < 0) {
		have_cd = false;
		cd_why = "the compaction histograms in the samples were malformed";
	}
	double cmax_ms = have_cd ? cd.max_us / 1000.0 : 0;
	enum severity sev = stalls || (have_cd && cd.count)
				    ? worse(worse(level_of(pct, T_COMPACT_STALL_PCT), level_of(worst_ms, T_STALL_MS)),
					    level_of(cmax_ms, T_STALL_MS))
				    : SEV_OK;
	finding_ev(f, M_COMPACT_STALL_PER_S, per_s(m, stalls), -1);
	finding_ev(f, M_COMPACT_FAIL_PER_S, per_s(m, fails), -1);
	finding_ev(f, M_COMPACTION_STALL_PCT, pct, T_COMPACT_STALL_PCT);
	finding_ev(f, M_COMPACTION_WINDOWS, cwins, -1);
	finding_ev(f, M_STALL_WORST_COMPACTION_MS, worst_ms, T_STALL_MS);
	if (have_cd) {
		finding_ev(f, M_COMPACTION_COUNT, (double)cd.count, -1);
		if (cd.count) {
			finding_ev(f, M_COMPACTION_P50_US, bpfhist_percentile(cd.hist, 0.5), -1);
			finding_ev(f, M_COMPACTION_P99_US, bpfhist_percentile(cd.hist, 0.99), -1);
			finding_ev(f, M_COMPACTION_MAX_MS, cmax_ms, T_STALL_MS);
			finding_ev(f, M_COMPACTION_TOTAL_MS, cd.sum_us / 1000.0, -1);
		}
	} else {
		ev_label(finding_ev(f, M_COMPACTION_DURATIONS_UNAVAILABLE, 1, -1), LBL_REASON, "%s", cd_why ? cd_why : "?");
	}
	finding_ev(f, M_THP_FAULT_ALLOC_PER_S, per_s(m, al), -1);
	finding_ev(f, M_THP_FAULT_FALLBACK_PER_S, per_s(m, fb), -1);
	if (m->mi_found[MI_ANONHUGE])
		finding_ev(f, M_ANON_HUGE_MIB, (double)m->mi[MI_ANONHUGE] / 1024.0, -1);
	for (unsigned i = 0; i < m->nprocs; i++) {
		if (!m->procs[i].rss_kb)
			continue;
		struct evidence *x = finding_ev(f, M_PROC_ANON_HUGE_PCT,
						100.0 * (double)m->procs[i].anon_huge_kb / (double)m->procs[i].rss_kb, -1);
		ev_label(x, LBL_PROCESS, "%ld %s", m->procs[i].pid, m->procs[i].comm);
	}
	char *durs = have_cd && cd.count
			     ? xasprintf("%llu direct compaction runs: p50 %.0f µs, p99 %.0f µs, longest %.1f ms%s, %.0f ms in all",
					 (unsigned long long)cd.count, bpfhist_percentile(cd.hist, 0.5),
					 bpfhist_percentile(cd.hist, 0.99), cmax_ms, cd.max_exact ? "" : " (at least)",
					 cd.sum_us / 1000.0)
		     : have_cd ? xstrdup("no direct compaction run traced")
			       : xasprintf("compaction durations not traced: %s", cd_why ? cd_why : "?");
	finding_detail(f, "enabled=%s defrag=%s | %llu compaction stalls, %.0f ms stalled on memory meanwhile | %llu THP fallbacks | %s",
		       enabled, defrag, (unsigned long long)stalls, (double)stall_us / 1000.0, (unsigned long long)fb, durs);
	free(durs);
	if (sev >= SEV_WARN) {
		if (have_cd && cd.count)
			finding_set(f, sev, "direct compaction stalled tasks %.1f %% of the watch (worst pause %.0f ms, "
				    "longest compaction %.0f ms)", pct, worst_ms, cmax_ms);
		else
			finding_set(f, sev, "direct compaction stalled tasks %.1f %% of the watch (worst pause %.0f ms)", pct,
				    worst_ms);
		finding_explain(f, "%s Here defrag=%s.", rule_explain(f), defrag);
		finding_next(f, "%s", rule_next(f));
		finding_next(f, "on a KVM host: back guests with preallocated hugetlbfs pages instead of THP");
	} else if (stalls) {
		finding_set(f, sev, "%llu compaction stalls, %.1f %% of the watch stalled meanwhile (defrag=%s)",
			    (unsigned long long)stalls, pct, defrag);
		finding_explain(f, "Direct compaction ran but tasks barely waited for it.");
	} else {
		finding_set(f, sev, "no direct compaction in the watch, %.0f THP fallbacks/s (enabled=%s defrag=%s)", per_s(m, fb),
			    enabled, defrag);
		finding_explain(f, "Fallbacks cost TLB reach (more page walks), not pauses.");
	}
}

/* ------------------------------------------------------------------ */

static unsigned popcount_mask(const uint64_t *mask, size_t words)
{
	unsigned n = 0;
	for (size_t i = 0; i < words; i++)
		n += (unsigned)__builtin_popcountll(mask[i]);
	return n;
}

void rule_numa(const struct analysis *an, struct finding *f)
{
	const struct mem_analysis *m = &an->mem;
	unsigned nodes = 0;
	for (unsigned i = 0; i < m->nnodes; i++)
		nodes += m->nodes[i].seen;
	bool guest = is_guest(an);
	if (nodes <= 1) {
		finding_set(f, SEV_UNKNOWN, "%s", nodes ? "one NUMA node visible: nothing here can be remote"
							: "no NUMA node information (/sys/devices/system/node)");
		finding_explain(f, guest ? "A guest cannot see where the host placed its memory: with one virtual node, "
					   "remote access on the host is invisible from inside."
					 : "With one node every access is local.");
		finding_next(f, "on the host: numa_maps of the VM process against the nodes its vCPU threads run on "
				"(hiddenq vms), and hiddenq fit for the VM's shape");
		return;
	}
	enum severity sev = SEV_OK;
	char worst[160] = "";
	double worst_v = -1;
	double min_pages = TH(T_NUMA_MIN_PAGES).warn;
	unsigned judged = 0;	/* nodes, hint faults and processes with enough data for a share */
	uint64_t most = 0;	/* the most allocations on one node, for the reason when none had enough */
	/* placement spill per node: numa_miss counts pages placed on this node
	 * that were meant for another one (numa_foreign is the other side) —
	 * where pages were placed, not remote accesses */
	for (unsigned i = 0; i < m->nnodes; i++) {
		const struct node_acc *n = &m->nodes[i];
		if (!n->seen || n->last_ns <= n->first_ns)
			continue;
		uint64_t hit = n->last[NS_HIT] - n->first[NS_HIT], miss = n->last[NS_MISS] >= n->first[NS_MISS] ? n->last[NS_MISS] - n->first[NS_MISS] : 0;
		uint64_t other = n->last[NS_OTHER] >= n->first[NS_OTHER] ? n->last[NS_OTHER] - n->first[NS_OTHER] : 0;
		if (hit + miss > most)
			most = hit + miss;
		/* below the minimum a share means nothing: no figure, and no ok from it */
		bool enough = (double)(hit + miss) >= min_pages;
		judged += enough;
		double pct = enough ? 100.0 * (double)miss / (double)(hit + miss) : 0;
		if (enough)
			ev_label(finding_ev(f, M_NUMA_MISS_PCT, pct, T_NUMA_MISS), LBL_NODE, "%u", i);
		ev_label(finding_ev(f, M_OTHER_NODE_PAGES_PER_S, (double)other / ((double)(n->last_ns - n->first_ns) / 1e9), -1),
			 LBL_NODE, "%u", i);
		enum severity s = level_of(pct, T_NUMA_MISS);
		if (s > sev || (s == sev && pct > worst_v && s >= SEV_WARN)) {
			snprintf(worst, sizeof(worst), "node%u: %.0f %% of the pages placed on it were meant for another node (numa_miss)", i, pct);
			worst_v = pct;
		}
		sev = worse(sev, s);
	}
	/* access locality, only from NUMA-balancing hint faults */
	char bal[8] = "";
	const struct sfile *b = sample_find(an->statics, "proc/sys/kernel/numa_balancing");
	if (b)
		snprintf(bal, sizeof(bal), "%.*s", (int)(b->len > 3 ? 3 : b->len), b->data);
	uint64_t hf = mem_delta(m, VK_NUMA_HINT_FAULTS), hfl = mem_delta(m, VK_NUMA_HINT_FAULTS_LOCAL);
	if (bal[0] == '1' && (double)hf >= min_pages) {
		judged++;
		double remote = 100.0 * (1.0 - (double)hfl / (double)hf);
		finding_ev(f, M_NUMA_HINT_REMOTE_PCT, remote, T_NUMA_HINT_REMOTE);
		enum severity s = level_of(remote, T_NUMA_HINT_REMOTE);
		if (s >= SEV_WARN && s >= sev)
			snprintf(worst, sizeof(worst), "%.0f %% of sampled accesses (NUMA-balancing hint faults) were remote", remote);
		sev = worse(sev, s);
	}
	/* the biggest processes: memory on nodes where none of their threads ran */
	for (unsigned i = 0; i < m->nprocs; i++) {
		const struct proc_mem *p = &m->procs[i];
		if (!p->have_nm || p->nm.total_kb < 1024 || popcount_mask(p->cpus_seen, 16) == 0)
			continue;
		uint64_t local = 0;
		for (unsigned nd = 0; nd < p->nm.nodes_seen && nd < MEM_MAX_NODES; nd++) {
			const struct node_acc *n = &m->nodes[nd];
			bool runs_here = false;
			for (int w = 0; w < 16 && n->have_cpus; w++)
				if (n->cpumask[w] & p->cpus_seen[w])
					runs_here = true;
			if (runs_here)
				local += p->nm.kb_on_node[nd];
		}
		double remote = 100.0 * (1.0 - (double)local / (double)p->nm.total_kb);
		judged++;
		struct evidence *x = finding_ev(f, M_PROC_OFF_NODES_PCT, remote, T_NUMA_PROC_REMOTE);
		ev_label(x, LBL_PROCESS, "%ld %s (%.0f MiB)", p->pid, p->comm, (double)p->nm.total_kb / 1024.0);
		enum severity s = level_of(remote, T_NUMA_PROC_REMOTE);
		if (s >= SEV_WARN && s >= sev)
			snprintf(worst, sizeof(worst), "%s (pid %ld): %.0f %% of its memory is on nodes where none of its threads ran",
				 p->comm, p->pid, remote);
		sev = worse(sev, s);
	}
	finding_ev(f, M_NODES, nodes, -1);
	finding_detail(f, "%u node%s | numa_balancing=%s | hint faults %llu (%llu local)", nodes, plural_s(nodes),
		       bal[0] ? bal : "?",
		       (unsigned long long)hf, (unsigned long long)hfl);
	const char *virt = guest ? " In a guest these nodes are virtual: locality is real only if the host pins each "
				   "vNUMA node's vCPUs and memory to one host node."
				 : "";
	if (!judged) {
		finding_set(f, SEV_UNKNOWN, "%u node%s, but too few allocations to judge placement: at most %llu on a "
			    "node, a share needs %g (%s)", nodes, plural_s(nodes), (unsigned long long)most, min_pages,
			    TH(T_NUMA_MIN_PAGES).name);
		finding_explain(f, "numa_miss is judged as a share of a node's allocations, hint faults as a share of "
				   "sampled accesses; neither had enough in this watch, and no large process's memory "
				   "map was read.%s", virt);
		finding_next(f, "watch longer, or while the workload allocates memory");
		return;
	}
	if (sev >= SEV_WARN) {
		finding_set(f, sev, "%s", worst);
		finding_explain(f, "%s%s", rule_explain(f), virt);
		finding_next(f, "%s", rule_next(f));
		finding_next(f, "size VMs to fit one node: hiddenq fit");
	} else {
		finding_set(f, sev, "%u node%s, memory placed where its threads run", nodes, plural_s(nodes));
		finding_explain(f, "No sign of memory living away from the CPUs using it.%s", virt);
	}
}

/* ------------------------------------------------------------------ */

/* How the stalls were watched, for titles and explanations. */
static const char *stall_method_label(const char *m)
{
	if (strcmp(m, "bpf") == 0)
		return "eBPF timer lateness";
	if (strcmp(m, "coarse") == 0)
		return "coarse sampler";
	if (strcmp(m, "sampler") == 0)
		return "1 ms sampler";
	return m;
}

static void stall_kmsg_evidence(const struct mem_analysis *m, struct finding *f)
{
	for (unsigned i = 0; i < m->nhits; i++) {
		struct evidence *x = finding_ev(f, m->hits[i].during ? M_KMSG_DURING : M_KMSG_BEFORE,
						(double)m->hits[i].usec / 1e6, -1);
		ev_label(ev_label(x, LBL_KIND, "%s", m->hits[i].kind), LBL_MESSAGE, "%s", m->hits[i].msg);
	}
	if (!m->kmsg_available && m->kmsg_seen)
		ev_label(finding_ev(f, M_KMSG_UNREADABLE, 1, -1), LBL_REASON, "/dev/kmsg: %s", m->kmsg_error);
}

/* Stalls were not watched (off, refused, or an older bundle): say why; the kernel log may still speak. */
static void stalls_not_watched(const struct analysis *an, struct finding *f, unsigned during,
			       const struct kmsg_hit *first_during)
{
	const struct mem_analysis *m = &an->mem;
	const char *off = analysis_switched_off(an, "stalls");
	char why[400];
	if (off)
		snprintf(why, sizeof(why), "switched off (%s)", off);
	else if (m->stalls_seen && m->stall_reason[0])
		snprintf(why, sizeof(why), "%s", m->stall_reason);
	else if (m->stalls_seen)
		snprintf(why, sizeof(why), "the %s did not run", stall_method_label(m->stall_method));
	else
		snprintf(why, sizeof(why), "not asked for (--no-stalls), or a bundle without them");
	stall_kmsg_evidence(m, f);
	if (m->stalls_seen)
		ev_label(finding_ev(f, M_STALL_METHOD_UNAVAILABLE, 1, -1), LBL_METHOD, "%s", m->stall_method);
	if (during) {
		finding_set(f, SEV_CRIT, "the kernel logged %u sign%s of a stalled machine during the watch (%s)", during,
			    during == 1 ? "" : "s", first_during->kind);
		finding_explain(f, "Execution stalls were not watched (%s), but the kernel itself logged signs of a "
				   "stalled machine during the watch.", why);
		finding_next(f, "match the stalls' causes to the other findings (hypervisor CPU, memory, THP)");
		return;
	}
	finding_set(f, SEV_UNKNOWN, "execution stalls were not watched: %s", why);
	finding_explain(f, "Without a stall watch, a pause in execution (the host not running this VM, a guest "
			   "that stopped) leaves no trace here.%s",
			m->kmsg_seen ? " The kernel log showed no sign of a stalled machine." : "");
	if (off)
		finding_next(f, "run without %s (the default watch, eBPF timer lateness, costs ~0.2 %% of a CPU)", off);
	else if (m->stalls_seen && strcmp(m->stall_method, "bpf") == 0)
		finding_next(f, "run as root with kernel BTF for eBPF, or watch with a thread: --stalls coarse "
				"(~0.1 %% of a CPU) or --stalls sampler (~2 %%)");
	else
		finding_next(f, "run diagnose live (the default --stalls auto), or capture without --no-stalls");
}

void rule_stalls(const struct analysis *an, struct finding *f)
{
	const struct mem_analysis *m = &an->mem;
	unsigned during = 0;
	const struct kmsg_hit *first_during = NULL;
	for (unsigned i = 0; i < m->nhits; i++)
		if (m->hits[i].during) {
			during++;
			if (!first_during)
				first_during = &m->hits[i];
		}
	if (!m->stalls_seen || m->stall_refused) {
		stalls_not_watched(an, f, during, first_during);
		return;
	}
	bool timers = strcmp(m->stall_method, "bpf") == 0;
	bool coarse = strcmp(m->stall_method, "coarse") == 0;
	const char *label = stall_method_label(m->stall_method);
	static const double edges[] = { 2, 5, 10, 20, 50, 100, 200, 500, 1000 };
	unsigned hist[ARRAY_SIZE(edges)] = { 0 };
	double worst = 0, total = 0;
	double by_cause[SC_N] = { 0 };
	unsigned idle = 0;
	const struct stall_rec *w = NULL;
	for (size_t i = 0; i < m->nstalls; i++) {
		const struct stall_rec *r = &m->stalls[i];
		double ms = (double)r->late_ns / 1e6;
		total += ms;
		idle += r->idle;
		if (ms > worst) {
			worst = ms;
			w = r;
		}
		for (size_t k = ARRAY_SIZE(edges); k-- > 0;)
			if (ms >= edges[k]) {
				hist[k]++;
				break;
			}
		for (int c = 0; c < SC_N; c++)
			by_cause[c] += (double)r->share_ns[c] / 1e6;
	}
	enum severity sev = level_of(worst, T_STALL_MS);
	if (during)
		sev = SEV_CRIT;
	finding_ev(f, M_STALLS, (double)m->nstalls, -1);
	struct evidence *wx = finding_ev(f, M_STALL_WORST_MS, worst, T_STALL_MS);
	if (w) { /* labelled with the longest stall's CPU and main cause */
		if (w->cpu >= 0) {
			wx->cpu = w->cpu;
			ev_label(wx, LBL_CPU, "%d", w->cpu);
		}
		ev_label(wx, LBL_CAUSE, "%s", stall_cause_names[w->main]);
	}
	finding_ev(f, M_STALLED_MS_TOTAL, total, -1);
	/* what was watched, labelled with the method */
	if (timers) {
		ev_label(finding_ev(f, M_TIMERS_WATCHED, (double)m->timers, -1), LBL_METHOD, "%s", m->stall_method);
		finding_ev(f, M_STALLS_ON_IDLE_CPU, idle, -1);
		double watch = mem_watch_s(m);
		for (unsigned c = 0; c < m->ntl_cpus; c++) {
			const struct tl_cpu_acc *a = &m->tl_cpus[c];
			if (!a->seen)
				continue;
			if (watch > 0)
				finding_ev_cpu(f, M_TIMERS_PER_S, (double)(a->last - a->first) / watch, -1, (int)c);
			finding_ev_cpu(f, M_TIMER_GAP_MAX_MS, (double)a->max_gap_us / 1000.0, -1, (int)c);
		}
	} else {
		ev_label(finding_ev(f, M_SAMPLER_LOOPS, (double)m->loops, -1), LBL_METHOD, "%s", m->stall_method);
		if (coarse)
			finding_ev(f, M_SAMPLER_TIGHT_S, (double)m->stall_tight_ns / 1e9, -1);
	}
	if (m->dropped)
		finding_ev(f, M_STALLS_DROPPED, (double)m->dropped, -1);
	for (size_t k = 0; k < ARRAY_SIZE(edges); k++) {
		struct evidence *x = finding_ev(f, M_STALLS_BY_LENGTH, hist[k], -1);
		if (k + 1 < ARRAY_SIZE(edges))
			ev_label(x, LBL_RANGE, "%g_to_%g_ms", edges[k], edges[k + 1]);
		else
			ev_label(x, LBL_RANGE, "ge_%g_ms", edges[k]);
	}
	for (int c = 0; c < SC_N; c++)
		ev_label(finding_ev(f, M_STALLED_MS_BY_CAUSE, by_cause[c], -1), LBL_CAUSE, "%s", stall_cause_names[c]);
	/* the longest stalls themselves: length, cause, and when (the wake-up's
	 * monotonic time), so they can be matched to what happened then */
	size_t idx[8];
	size_t nshow = 0;
	for (; nshow < 8 && nshow < m->nstalls; nshow++) {
		size_t best = SIZE_MAX;
		for (size_t i = 0; i < m->nstalls; i++) {
			bool taken = false;
			for (size_t k = 0; k < nshow; k++)
				taken |= idx[k] == i;
			if (!taken && (best == SIZE_MAX || m->stalls[i].late_ns > m->stalls[best].late_ns))
				best = i;
		}
		idx[nshow] = best;
	}
	for (size_t k = 0; k < nshow; k++) {
		const struct stall_rec *r = &m->stalls[idx[k]];
		struct evidence *x = finding_ev(f, M_STALL_MS, (double)r->late_ns / 1e6, -1);
		if (r->cpu >= 0) {
			x->cpu = r->cpu;
			ev_label(x, LBL_CPU, "%d", r->cpu);
		}
		ev_label(x, LBL_CAUSE, "%s", stall_cause_names[r->main]);
		x->t_mono_ns = r->t_ns;
	}
	stall_kmsg_evidence(m, f);
	/* text histogram */
	char line[256];
	int o = timers ? snprintf(line, sizeof(line), "%s: %zu timer%s >= 2 ms late of %lu |", label, m->nstalls,
				  plural_s(m->nstalls), m->timers)
		       : snprintf(line, sizeof(line), "%s: %zu late wake-up%s >= 2 ms in %lu sleep%s |", label,
				  m->nstalls, plural_s(m->nstalls), m->loops, plural_s(m->loops));
	for (size_t k = 0; k < ARRAY_SIZE(edges) && o < (int)sizeof(line) - 24; k++)
		if (hist[k])
			o += snprintf(line + o, sizeof(line) - (size_t)o, " %g+ ms: %u", edges[k], hist[k]);
	finding_detail(f, "%s", line);

	/* how it was watched, and what that cannot see */
	char how[700];
	if (timers)
		snprintf(how, sizeof(how),
			 "Watched by %s: how late the kernel's own timers ran, on every CPU, with no wake-ups of "
			 "hiddenq's own. A late timer means the CPU could not take its timer interrupt: the vCPU "
			 "was not running (the host preempted it, or woke it from halt late: %u of the stalls were on "
			 "an idle vCPU), or the guest had interrupts off. It cannot see a task waiting in the guest's "
			 "run queue (guest CPU has the run-queue histograms) or one process being stopped, and an "
			 "idle CPU with no timer due is not watched (timer_gap_max_ms).",
			 label, idle);
	else if (coarse)
		snprintf(how, sizeof(how),
			 "Watched by the %s: a thread sleeping %.0f ms (1 ms for %.0f s of the watch: for 10 s "
			 "after a stall of 20 ms or more, at most 5 %% of the time) that woke that late: nothing "
			 "ran it. A stall longer than the sleep is always seen, and its length known within the "
			 "sleep; a shorter one only in part. It watches the CPU it is on.",
			 label, m->stall_sleep_ns ? (double)m->stall_sleep_ns / 1e6 : 20.0,
			 (double)m->stall_tight_ns / 1e9);
	else
		snprintf(how, sizeof(how), "Watched by the %s: a thread that asked to sleep 1 ms woke up that late: "
					   "nothing ran it. It watches the CPU it is on.",
			 label);
	char fell[400] = "";
	if (m->stall_reason[0])
		snprintf(fell, sizeof(fell), " (%s)", m->stall_reason);

	if (sev >= SEV_WARN) {
		if (during && worst < TH(T_STALL_MS).warn)
			finding_set(f, sev, "the kernel logged %u sign%s of a stalled machine during the watch (%s)", during,
				    during == 1 ? "" : "s", first_during->kind);
		else
			finding_set(f, sev, "execution stopped for up to %.0f ms (%zu stall%s); the longest: %s", worst,
				    m->nstalls, plural_s(m->nstalls), w ? stall_cause_names[w->main] : "?");
		finding_explain(f,
			"%s%s The share of each stall is attributed from what moved in the same interval: %ssteal "
			"is the hypervisor (only for stalls of two ticks or more, 20 ms); %swhat remains is below the "
			"guest and not steal (host page faults, host swap or compaction, SMIs).",
			how, fell, timers ? "" : "the thread's own run delay is the guest's run queue; ",
			timers ? "" : "compaction, reclaim and swap are the guest's memory; ");
		finding_next(f, "%s", rule_next(f));
		finding_next(f, "for 'below the guest': on the host, the VM process's page faults and VmSwap, host THP "
				"compaction (hiddenq vms)");
	} else {
		finding_set(f, sev, "%zu stall%s >= 2 ms, longest %.0f ms (%s)", m->nstalls, plural_s(m->nstalls), worst,
			    label);
		finding_explain(f, "No long pause in execution was seen. %s%s", how, fell);
	}
}
