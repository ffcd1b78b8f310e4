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
