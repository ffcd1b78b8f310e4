/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Host-mode rules, evaluated on the VM processes of this machine (analysis/vms.h)
 * whenever diagnose finds any, whether this machine is bare metal or itself
 * a guest that runs VMs (nested, or QEMU under TCG).
 *
 * cpu-pinning-conflict (failure mode 6): threads of different VMs (vCPU,
 * emulator, IO, vhost) whose allowed CPUs overlap, where a thread waited for
 * a CPU above the steal thresholds.  On a vCPU thread that wait is exactly
 * the steal its guest sees.  Overlap alone is evidence, not a warning:
 * unpinned VMs all overlap, and that is fine while nobody waits.
 *
 * migration-convergence: a live migration in flight, from QMP query-migrate
 * on the sockets given with --qmp (analysis/migrate.h), judged pass by pass:
 * crit when the guest dirtied about as fast as the stream sent in each of
 * the last passes, warn when the backlog stopped shrinking or auto-converge
 * raised its throttle on the guest's vCPUs.
 */
#include "rules_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "vms.h"

/* Does thread t of VM i share a CPU with any thread of another VM?  Names
 * the first such VM and the shared CPUs. */
static bool shares_with_other_vm(const struct vms_analysis *a, size_t i, const struct vms_thread *t, size_t *other,
				 struct cpumask *shared)
{
	if (!t->have_allowed)
		return false;
	for (size_t j = 0; j < a->n; j++) {
		if (j == i)
			continue;
		struct cpumask m;
		cpumask_and(&m, &t->allowed, &a->vms[j].cpus);
		if (cpumask_weight(&m)) {
			*other = j;
			*shared = m;
			return true;
		}
	}
	return false;
}

void rule_pinning(const struct analysis *an, struct finding *f)
{
	const struct vms_analysis *a = an->host;
	if (a && a->n == 0 && a->nbad_json) {
		/* not "no VMs": what would have said which VMs run here was damaged */
		finding_set(f, SEV_UNKNOWN, "the host-mode data is damaged: %u of %u %s of .hiddenq/vms.json %s not "
			    "JSON, so the VMs on this machine are not known", a->nbad_json, a->nbad_json + a->njson,
			    plural(a->nbad_json + a->njson, "copy", "copies"), plural(a->nbad_json, "was", "were"));
		finding_next(f, "capture again on the host: hiddenq capture -d 10 -o DIR");
		return;
	}
	if (!a || a->n == 0) {
		finding_set(f, SEV_UNKNOWN, "no VM processes on this machine");
		finding_explain(f, "Pinning conflicts are judged on a KVM host, from the run delay of each VM's "
				   "threads and their affinity masks. A guest cannot see the host's pinning.");
		finding_next(f, "on the host: hiddenq vms (or hiddenq diagnose there)");
		return;
	}
	double secs = vms_watch_s(a);
	if (secs < 1.0) {
		finding_set(f, SEV_UNKNOWN, "%zu VM%s found but watched %.1f s: too short for run-delay rates", a->n,
			    a->n == 1 ? "" : "s", secs);
		return;
	}
	size_t pairs = 0;
	for (size_t i = 0; i < a->n; i++)
		for (size_t j = i + 1; j < a->n; j++)
			pairs += vms_overlap(a, i, j, NULL) > 0;

	int worst_lv = -1;
	const struct vms_thread *worst = NULL;
	size_t worst_vm = 0, worst_other = 0;
	struct cpumask worst_shared;
	cpumask_clear(&worst_shared);
	const struct vms_thread *lonely = NULL; /* high delay without overlap */
	size_t lonely_vm = 0;
	unsigned conflicted = 0, measured = 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct vms_vm *vm = &a->vms[i];
		for (size_t j = 0; j < vm->nth; j++) {
			const struct vms_thread *t = &vm->th[j];
			int lv = vms_thread_level(t);
			if (lv < 0)
				continue;
			measured++;
			if (lv == 0)
				continue;
			size_t other;
			struct cpumask sh;
			if (!shares_with_other_vm(a, i, t, &other, &sh)) {
				if (!lonely || t->delay_pct > lonely->delay_pct) {
					lonely = t;
					lonely_vm = i;
				}
				continue;
			}
			conflicted++;
			if (lv > worst_lv || (lv == worst_lv && t->delay_pct > worst->delay_pct)) {
				worst_lv = lv;
				worst = t;
				worst_vm = i;
				worst_other = other;
				worst_shared = sh;
			}
			struct evidence *e = finding_ev(f, M_VM_THREAD_DELAY_PCT, t->delay_pct, T_STEAL_AVG);
			ev_label(ev_label(e, LBL_VM, "%s", vm->name), LBL_THREAD, "%s", t->comm);
			if (t->worst_win >= 0) {
				e = finding_ev(f, M_VM_THREAD_DELAY_WORST_1S_PCT, t->worst_win, T_STEAL_SPIKE);
				ev_label(ev_label(e, LBL_VM, "%s", vm->name), LBL_THREAD, "%s", t->comm);
			}
		}
	}
	if (!measured) {
		finding_set(f, SEV_UNKNOWN, "%zu VM%s, but no thread's run delay could be measured", a->n,
			    a->n == 1 ? "" : "s");
		finding_explain(f, "Run delay comes from /proc/PID/task/TID/schedstat (CONFIG_SCHED_INFO); "
				   "other users' threads need root.");
		return;
	}
	struct evidence *e = finding_ev(f, M_VM_PAIRS_SHARING_CPUS, (double)pairs, -1);
	(void)e;
	finding_ev(f, M_VM_THREADS_WAITING_SHARED, (double)conflicted, -1);
	char buf[256];
	if (worst) {
		const struct vms_vm *vm = &a->vms[worst_vm];
		cpumask_format(&worst_shared, buf, sizeof(buf));
		finding_set(f, worst_lv == 2 ? SEV_CRIT : SEV_WARN,
			    "%s %s waited for a CPU %.0f %% of the time on CPU %s, shared with %s", vm->name, worst->comm,
			    worst->delay_pct, buf, a->vms[worst_other].name);
		finding_detail(f, "%u thread%s of VMs with overlapping CPUs waited above %.0f %% | %zu VM pair%s share CPUs",
			       conflicted, conflicted == 1 ? "" : "s", thresholds[T_STEAL_AVG].warn, pairs,
			       pairs == 1 ? "" : "s");
		finding_explain(f, "%s", rule_explain(f));
		finding_next(f, "%s", rule_next(f));
		finding_next(f, "keep emulator, IO and vhost threads off the vCPUs' CPUs of latency-sensitive VMs");
		finding_next(f, "hiddenq vms: the overlap matrix and the demand per CPU");
	} else {
		finding_set(f, SEV_OK, "%zu VM pair%s share CPUs; no thread on shared CPUs waited above %.0f %%", pairs,
			    pairs == 1 ? "" : "s", thresholds[T_STEAL_AVG].warn);
		finding_detail(f, "%zu VM%s, %u thread%s measured over %.1f s", a->n, plural_s(a->n), measured,
			       plural_s(measured), secs);
		if (lonely)
			finding_explain(f,
				"%s %s waited %.0f %% of the time, but no other VM may use its CPUs: that queue is this VM's "
				"own threads or host processes, not a pinning conflict.",
				a->vms[lonely_vm].name, lonely->comm, lonely->delay_pct);
		else
			finding_explain(f, "Overlapping affinity is evidence, not a problem: it matters only when the "
					   "threads sharing CPUs wait for them.");
	}
}

/* ------------------------------------------------------------------ */
/* migration-convergence                                               */
/* ------------------------------------------------------------------ */

#define MIB (1024.0 * 1024.0)
#define MIG_EV_PASSES 8	/* passes quoted as evidence, the newest */

struct mig_judged {
	const struct vms_vm *vm;
	enum severity sev;
	struct mig_verdict v;
	bool throttle_rose;
};

/* The verdict on one VM's migration; SEV_UNKNOWN with no migration seen under way. */
static void mig_judge(const struct vms_vm *vm, struct mig_judged *j)
{
	const struct mig_track *t = &vm->mig;
	memset(j, 0, sizeof(*j));
	j->vm = vm;
	j->sev = SEV_UNKNOWN;
	unsigned k = (unsigned)thresholds[T_MIG_MIN_PASSES].warn;
	mig_track_verdict(t, k, &j->v);
	j->throttle_rose = t->throttle_first >= 0 && t->last.cpu_throttle_pct > t->throttle_first;
	if (!t->seen)
		return;
	enum mig_status st = t->last.status;
	if (st == MIG_FAILED && (t->was_running || t->first.status != MIG_FAILED)) {
		j->sev = SEV_WARN;
		return;
	}
	if (!mig_status_running(st) || !t->last.have_ram) {
		j->sev = SEV_OK;
		return;
	}
	if (st == MIG_POSTCOPY) {
		j->sev = SEV_OK;
		return;
	}
	enum severity sev = j->v.judged >= k || j->v.kept_pct >= 0 ? SEV_OK : SEV_UNKNOWN;
	if (j->v.kept_pct >= 0 && thresholds[T_MIG_KEPT].warn >= 0 && j->v.kept_pct >= thresholds[T_MIG_KEPT].warn)
		sev = SEV_WARN;
	if (j->throttle_rose)
		sev = sev == SEV_UNKNOWN ? SEV_WARN : (sev > SEV_WARN ? sev : SEV_WARN);
	if (j->v.dirty_pct >= 0) {
		double w = thresholds[T_MIG_DIRTY].warn, c = thresholds[T_MIG_DIRTY].crit;
		if (c >= 0 && j->v.dirty_pct >= c)
			sev = SEV_CRIT;
		else if (w >= 0 && j->v.dirty_pct >= w && sev < SEV_WARN)
			sev = SEV_WARN;
	}
	j->sev = sev;
}

static int sev_rank(enum severity s)
{
	return s == SEV_CRIT ? 3 : s == SEV_WARN ? 2 : s == SEV_OK ? 1 : 0;
}

static void mig_evidence(struct finding *f, const struct mig_judged *j)
{
	const struct vms_vm *vm = j->vm;
	const struct mig_track *t = &vm->mig;
	const struct mig_info *m = &t->last;
	struct evidence *e;
	if (m->dirty_sync_count >= 0)
		ev_label(finding_ev(f, M_VM_MIG_PASS, (double)m->dirty_sync_count, -1), LBL_VM, "%s", vm->name);
	if (m->remaining >= 0)
		ev_label(finding_ev(f, M_VM_MIG_REMAINING, (double)m->remaining / MIB, -1), LBL_VM, "%s", vm->name);
	if (j->v.dirty_pct >= 0)
		ev_label(finding_ev(f, M_MIG_DIRTY_PCT, j->v.dirty_pct, T_MIG_DIRTY), LBL_VM, "%s", vm->name);
	if (j->v.kept_pct >= 0)
		ev_label(finding_ev(f, M_MIG_KEPT_PCT, j->v.kept_pct, T_MIG_KEPT), LBL_VM, "%s", vm->name);
	if (m->expected_downtime_ms >= 0 && mig_status_running(m->status))
		ev_label(finding_ev(f, M_VM_MIG_EXPECTED_DOWNTIME, (double)m->expected_downtime_ms, -1), LBL_VM, "%s",
			 vm->name);
	if (t->params.downtime_limit_ms >= 0)
		ev_label(finding_ev(f, M_MIG_DOWNTIME_LIMIT, (double)t->params.downtime_limit_ms, -1), LBL_VM, "%s",
			 vm->name);
	if (t->params.max_bandwidth >= 0)
		ev_label(finding_ev(f, M_MIG_MAX_BANDWIDTH, (double)t->params.max_bandwidth / MIB, -1), LBL_VM, "%s",
			 vm->name);
	if (m->cpu_throttle_pct >= 0)
		ev_label(finding_ev(f, M_VM_MIG_THROTTLE, m->cpu_throttle_pct, -1), LBL_VM, "%s", vm->name);
	/* the newest passes, each with what it had to send, the dirty rate and the throughput */
	unsigned from = t->npass > MIG_EV_PASSES ? t->npass - MIG_EV_PASSES : 0;
	for (unsigned i = from; i < t->npass; i++) {
		const struct mig_pass *p = mig_track_pass(t, i);
		if (p->backlog >= 0) {
			e = finding_ev(f, M_MIG_PASS_BACKLOG, (double)p->backlog / MIB, -1);
			ev_label(ev_label(e, LBL_VM, "%s", vm->name), LBL_PASS, "%lld", (long long)p->n);
		}
		if (p->dirty_Bps >= 0 && p->n >= 2) {
			e = finding_ev(f, M_MIG_PASS_DIRTY_RATE, p->dirty_Bps / MIB, -1);
			ev_label(ev_label(e, LBL_VM, "%s", vm->name), LBL_PASS, "%lld", (long long)p->n);
		}
		double s = mig_pass_throughput(p);
		if (s >= 0) {
			e = finding_ev(f, M_MIG_PASS_SENT_RATE, s / MIB, -1);
			ev_label(ev_label(e, LBL_VM, "%s", vm->name), LBL_PASS, "%lld", (long long)p->n);
		}
	}
}

/* The remedies, each with what it costs the guest, shaped by the VM's settings. */
static void mig_next(struct finding *f, const struct mig_judged *j)
{
	const struct mig_track *t = &j->vm->mig;
	const struct mig_params *p = &t->params;
	const struct mig_info *m = &t->last;
	const char *name = j->vm->name;
	if (m->expected_downtime_ms >= 0 && p->downtime_limit_ms >= 0)
		finding_next(f, "%s: raise the downtime limit to about the expected %lld ms (now %lld ms; QMP "
				"migrate-set-parameters downtime-limit, virsh migrate-setmaxdowntime): costs one pause "
				"of the guest that long at the switch-over",
			     name, (long long)m->expected_downtime_ms, (long long)p->downtime_limit_ms);
	else
		finding_next(f, "%s: raise the downtime limit (QMP migrate-set-parameters downtime-limit, virsh "
				"migrate-setmaxdowntime): costs one longer pause of the guest at the switch-over", name);
	if (p->auto_converge == 1)
		finding_next(f, "%s: auto-converge is on%s: it throttles the guest's vCPUs a step more each pass (up to "
				"max-cpu-throttle %d %%): the guest runs that much slower until the switch-over",
			     name, m->cpu_throttle_pct >= 0 ? " and throttling" : "", p->max_cpu_throttle >= 0 ? p->max_cpu_throttle : 99);
	else
		finding_next(f, "%s: enable auto-converge (QMP migrate-set-capabilities auto-converge; virsh migrate "
				"--auto-converge): QEMU throttles the guest's vCPUs from %d %%, %d %% more per pass: the "
				"guest runs slower, like steal, until the switch-over",
			     name, p->cpu_throttle_initial >= 0 ? p->cpu_throttle_initial : 20,
			     p->cpu_throttle_increment >= 0 ? p->cpu_throttle_increment : 10);
	if (p->postcopy_ram == 1)
		finding_next(f, "%s: post-copy is enabled: migrate-start-postcopy (virsh migrate-postcopy) switches now; "
				"the guest then waits on the network for every page still on the source, and a broken "
				"link loses the guest", name);
	else
		finding_next(f, "%s: use post-copy (the postcopy-ram capability before migrating, then "
				"migrate-start-postcopy; virsh migrate --postcopy): it always ends, but the guest waits on "
				"the network for every page still on the source, and a broken link loses the guest", name);
	if (p->max_bandwidth >= 0)
		finding_next(f, "%s: give the stream more bandwidth (max-bandwidth is %.0f MiB/s; a faster or dedicated "
				"link): costs the other traffic on that link, not the guest", name,
			     (double)p->max_bandwidth / MIB);
	else
		finding_next(f, "%s: give the stream more bandwidth (migrate-set-parameters max-bandwidth, virsh "
				"migrate-setspeed; a dedicated link): costs the other traffic on that link, not the guest",
			     name);
	double d = mig_dirty_bytes_per_s(m);
	if (d >= 0)
		finding_next(f, "%s: migrate when the guest writes less (it dirties %.1f MiB/s now): costs only the wait",
			     name, d / MIB);
	else
		finding_next(f, "%s: migrate when the guest writes less: costs only the wait", name);
}

void rule_migration(const struct analysis *an, struct finding *f)
{
	const struct vms_analysis *a = an->host;
	if (!a || a->n == 0) {
		finding_set(f, SEV_UNKNOWN, "no VM processes on this machine");
		finding_explain(f, "A live migration is watched on the host that sends it, through the VM's QMP monitor "
				   "(query-migrate). A guest cannot see its own migration until auto-converge slows it.");
		finding_next(f, "on the source host: hiddenq vms --qmp NAME=SOCKET");
		return;
	}
	unsigned given = 0;
	struct mig_judged best = { 0 }, cur;
	best.sev = SEV_UNKNOWN;
	unsigned running = 0, judged = 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct vms_vm *vm = &a->vms[i];
		if (!vm->qmp_given)
			continue;
		given++;
		if (!vm->mig.seen)
			continue;
		judged++;
		mig_judge(vm, &cur);
		running += mig_status_running(vm->mig.last.status) || vm->mig.ended;
		bool interesting = mig_status_running(vm->mig.last.status) || vm->mig.ended || cur.sev >= SEV_WARN;
		if (!best.vm || sev_rank(cur.sev) > sev_rank(best.sev) ||
		    (sev_rank(cur.sev) == sev_rank(best.sev) && interesting &&
		     !mig_status_running(best.vm->mig.last.status) && !best.vm->mig.ended))
			best = cur;
	}
	if (!given) {
		finding_set(f, SEV_UNKNOWN, "%zu VM%s, but no QMP socket given: live migrations are not watched", a->n,
			    a->n == 1 ? "" : "s");
		finding_explain(f, "The migration state comes from the VM's QMP monitor (query-migrate). QMP takes one "
				   "client per socket, so hiddenq only asks on sockets it is given, never on one a manager "
				   "such as libvirt holds: give the VM a second monitor (-qmp unix:PATH,server=on,wait=off) "
				   "for it.");
		finding_next(f, "hiddenq vms --qmp NAME=SOCKET (or diagnose --qmp NAME=SOCKET)");
		return;
	}
	if (!judged) {
		for (size_t i = 0; i < a->n; i++)
			if (a->vms[i].mig_libvirt && a->vms[i].mig_error[0]) {
				finding_set(f, SEV_UNKNOWN, "%s migrates (libvirt's status says so), but its job statistics "
					    "could not be read: %s", a->vms[i].name, a->vms[i].mig_error);
				finding_next(f, "virsh -r domjobinfo %s on this host", a->vms[i].name);
				return;
			}
		finding_set(f, SEV_UNKNOWN, "no answer from the QMP socket%s given: the migration state is not known",
			    given == 1 ? "" : "s");
		finding_next(f, "check the socket paths and that no other client holds them (hiddenq vms shows the QMP "
				"error)");
		return;
	}
	const struct vms_vm *vm = best.vm;
	const struct mig_track *t = &vm->mig;
	const struct mig_info *m = &t->last;
	unsigned k = (unsigned)thresholds[T_MIG_MIN_PASSES].warn;
	if (!running && best.sev != SEV_WARN) {
		if (m->status == MIG_COMPLETED || m->status == MIG_FAILED || m->status == MIG_CANCELLED)
			finding_set(f, SEV_OK, "no live migration in flight (%s's last one %s before the watch; %u VM%s "
				    "watched through QMP)", vm->name, mig_status_name(m->status), judged,
				    judged == 1 ? "" : "s");
		else
			finding_set(f, SEV_OK, "no live migration in flight (%u VM%s watched through QMP)", judged,
				    judged == 1 ? "" : "s");
		finding_explain(f, "A migration would show here pass by pass: what is left, the guest's dirty rate "
				   "against the stream's throughput, and the auto-converge throttle.");
		return;
	}
	mig_evidence(f, &best);
	double rem = m->remaining >= 0 ? (double)m->remaining / MIB : -1;
	char left[48] = "";
	if (rem >= 0)
		snprintf(left, sizeof(left), ", %.1f MiB left", rem);
	switch (best.sev) {
	case SEV_CRIT:
		finding_set(f, SEV_CRIT, "%s: live migration not converging: the guest dirties %.1f MiB/s, the stream "
			    "sends %.1f MiB/s (pass %lld%s)", vm->name, best.v.dirty_Bps / MIB, best.v.sent_Bps / MIB,
			    (long long)m->dirty_sync_count, left);
		break;
	case SEV_WARN:
		if (m->status == MIG_FAILED)
			finding_set(f, SEV_WARN, "%s: live migration failed%s%s", vm->name, m->error_desc[0] ? ": " : "",
				    m->error_desc);
		else if (best.v.kept_pct >= 0 && best.v.kept_pct >= thresholds[T_MIG_KEPT].warn)
			finding_set(f, SEV_WARN, "%s: live migration's backlog stopped shrinking over %u passes (pass %lld%s)",
				    vm->name, k, (long long)m->dirty_sync_count, left);
		else
			finding_set(f, SEV_WARN, "%s: auto-converge throttles the guest's vCPUs at %d %% (from %d %%) to make "
				    "the migration converge (pass %lld%s)", vm->name, m->cpu_throttle_pct, t->throttle_first,
				    (long long)m->dirty_sync_count, left);
		break;
	case SEV_OK:
		if (m->status == MIG_COMPLETED) {
			if (t->downtime_ms >= 0)
				finding_set(f, SEV_OK, "%s: live migration completed after %lld passes, downtime %lld ms", vm->name,
					    (long long)m->dirty_sync_count, (long long)t->downtime_ms);
			else
				finding_set(f, SEV_OK, "%s: live migration completed after %lld passes", vm->name,
					    (long long)m->dirty_sync_count);
		} else if (m->status == MIG_CANCELLED || m->status == MIG_CANCELLING) {
			finding_set(f, SEV_OK, "%s: live migration cancelled in pass %lld", vm->name,
				    (long long)m->dirty_sync_count);
		} else if (m->status == MIG_POSTCOPY) {
			finding_set(f, SEV_OK, "%s: live migration in post-copy: the guest runs on the destination (%lld pages "
				    "fetched on demand%s)", vm->name, (long long)(m->postcopy_requests > 0 ? m->postcopy_requests : 0),
				    left);
			finding_explain(f, "Post-copy always ends, but until it does the guest waits on the network for "
					   "every page it touches that is still on the source.");
		} else {
			finding_set(f, SEV_OK, "%s: live migration converging: pass %lld%s, the guest dirties %.0f %% of what "
				    "the stream sends", vm->name, (long long)m->dirty_sync_count, left,
				    best.v.dirty_pct >= 0 ? best.v.dirty_pct : 0);
		}
		break;
	default:
		finding_set(f, SEV_UNKNOWN, "%s: live migration in pass %lld%s: too few passes seen to judge (%u after "
			    "the first, %s)", vm->name, (long long)m->dirty_sync_count, left, k, thresholds[T_MIG_MIN_PASSES].name);
		finding_explain(f, "Each pass resends what the guest dirtied during the one before; whether the backlog "
				   "shrinks shows over several passes. The first pass sends all of memory.");
		if (vm->mig_libvirt)
			finding_next(f, "watch longer: hiddenq vms --duration 30");
		else
			finding_next(f, "watch longer: hiddenq vms --duration 30 --qmp %s=SOCKET", vm->name);
		return;
	}
	char dirty[64] = "?", sent[64] = "?";
	if (best.v.dirty_Bps >= 0)
		snprintf(dirty, sizeof(dirty), "%.1f MiB/s", best.v.dirty_Bps / MIB);
	if (best.v.sent_Bps >= 0)
		snprintf(sent, sizeof(sent), "%.1f MiB/s", best.v.sent_Bps / MIB);
	/* what is not known (libvirt's job statistics carry no downtime limit) is a '?', not a -1 */
	char edt[32] = "?", lim[32] = "?";
	if (m->expected_downtime_ms >= 0)
		snprintf(edt, sizeof(edt), "%lld ms", (long long)m->expected_downtime_ms);
	if (t->params.downtime_limit_ms >= 0)
		snprintf(lim, sizeof(lim), "%lld ms", (long long)t->params.downtime_limit_ms);
	finding_detail(f, "%s %s, pass %lld | dirty %s vs sent %s | expected downtime %s, limit %s | throttle %d %%%s",
		       vm->name, m->status_name[0] ? m->status_name : mig_status_name(m->status),
		       (long long)m->dirty_sync_count, dirty, sent, edt, lim,
		       m->cpu_throttle_pct < 0 ? 0 : m->cpu_throttle_pct, vm->mig_libvirt ? " | via libvirt" : "");
	if (best.sev >= SEV_WARN) {
		if (m->status == MIG_FAILED) {
			finding_explain(f, "The migration ended without switching over: the guest still runs on the source.");
			finding_next(f, "QEMU's error says why (%s); the host logs of both sides (libvirt: "
					"/var/log/libvirt/qemu/NAME.log)", m->error_desc[0] ? m->error_desc : "none given");
		} else {
			finding_explain(f, "%s", rule_explain(f));
			mig_next(f, &best);
		}
	}
}
