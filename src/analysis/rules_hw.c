/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hardware-errors: what the kernel itself logged about the hardware and the
 * hypervisor (analysis/hwlog.h, formats in parse/hwlog.h).  Each kind has a
 * level: uncorrected memory errors, machine checks that lost data, poisoned
 * pages, KVM entry failures, bus error NMIs and hard lockups are crit;
 * corrected errors, thermal throttling, split and bus locks, RT throttling
 * and unknown NMIs are warn.  A record still in the ring buffer from before
 * the watch counts one level lower: still true of the hardware, but not seen
 * happening.  A record that names a task (a split lock's vCPU thread, the
 * process a poisoned page killed) is attributed to the VM that owns it.
 */
#include "rules_hw.h"

#include <stdio.h>
#include <string.h>

#include "../core/util.h"
#include "vms.h"

struct kind_info {
	const char *kind;
	const char *what;	/* "corrected memory errors" */
	enum severity sev;	/* during the watch; SEV_UNKNOWN: by the record (uncorrected or not) */
	const char *explain, *next;
};

static const struct kind_info infos[] = {
	{ "edac-ue", "uncorrected memory errors", SEV_CRIT,
	  "The memory controller found errors it could not correct: data was lost, and whatever held it (a "
	  "VM's memory, the host kernel) took a machine check and was killed or crashed.",
	  "replace the DIMM the record names (ras-mc-ctl --summary, edac-util -v) and move the VMs off this host" },
	{ "memory-failure", "poisoned memory pages", SEV_CRIT,
	  "The kernel took pages out of service after uncorrected memory errors and killed what used them: a "
	  "QEMU gets SIGBUS, and its guest stops or receives the error as a machine check of its own.",
	  "restart the VM that was hit elsewhere; replace the DIMM behind it (ras-mc-ctl --errors names it)" },
	{ "kvm-entry-failed", "KVM entry failures", SEV_CRIT,
	  "KVM could not enter a guest: the CPU refused the guest's state. That VM stopped; its QEMU printed "
	  "\"KVM: entry failed, hardware error 0x...\" to its log.",
	  "QEMU's log of the VM (libvirt: /var/log/libvirt/qemu/NAME.log) names it and the error (0x80000021: "
	  "invalid guest state); update the kernel, the microcode and QEMU, try another CPU model; "
	  "kvm_intel.dump_invalid_vmcs=1 logs the state" },
	{ "nmi-serr", "PCI system errors (NMI)", SEV_CRIT,
	  "A device or the bus signalled a system error through an NMI: hardware on the PCI side is failing.",
	  "the BMC's event log names the device (ipmitool sel elist); lspci -vv shows its AER errors" },
	{ "nmi-iochk", "IO check errors (NMI)", SEV_CRIT,
	  "The IO check line raised an NMI: a device or the platform reported a hardware error.",
	  "the BMC's event log names the part (ipmitool sel elist)" },
	{ "nmi-watchdog", "hard lockups (NMI watchdog)", SEV_CRIT,
	  "A CPU ran with interrupts off past the watchdog's threshold: nothing else ran on it meanwhile. In a "
	  "guest this is often the host not running the vCPU.",
	  "the stack trace logged with it names the code; in a guest, the host's run delay of this VM (hiddenq vms)" },
	{ "mce", "machine checks", SEV_UNKNOWN,
	  "The CPU reported a hardware error in a machine-check bank: corrected ones are warning signs of a part "
	  "wearing out; uncorrected ones stopped or killed what touched the data.",
	  "decode the bank status (mcelog --ascii, rasdaemon); check microcode and BIOS updates; errors repeating "
	  "on one CPU or DIMM mean hardware to replace" },
	{ "apei", "firmware-reported hardware errors", SEV_UNKNOWN,
	  "The platform firmware reported a hardware error (APEI): corrected ones are warning signs, recoverable "
	  "and fatal ones lost data.",
	  "the CPER records around it in the kernel log and the BMC's event log (ipmitool sel elist) name the part" },
	{ "edac-ce", "corrected memory errors", SEV_WARN,
	  "The memory controller corrected bit errors: the DIMM it names is wearing out. Corrected errors cost "
	  "little now and often come before uncorrected ones.",
	  "the DIMM's error history (ras-mc-ctl --errors, edac-util -v); plan its replacement and move the VMs "
	  "off before it" },
	{ "mce-logged", "machine check events", SEV_WARN,
	  "The CPU logged machine-check events (corrected errors found by polling, or an early warning).",
	  "read them with rasdaemon (ras-mc-ctl --errors) or mcelog" },
	{ "thermal-throttle", "thermal throttling", SEV_WARN,
	  "A CPU slowed its clock because it ran too hot: everything on it, every vCPU, runs slower, and no "
	  "steal or run delay shows it.",
	  "check cooling, fans and the BMC's sensors (ipmitool sdr); counts per CPU are in "
	  "/sys/devices/system/cpu/cpu*/thermal_throttle/" },
	{ "split-lock", "split-lock traps", SEV_WARN,
	  "A locked instruction crossed a cache line: the CPU locked the memory bus for every core, a stall for "
	  "every VM on the socket, and the kernel slowed the task that did it. A vCPU thread (CPU n/KVM) means "
	  "the program doing it runs inside that guest.",
	  "find the program in the guest named; split_lock_detect=ratelimit:N bounds the stalls, "
	  "kernel.split_lock_mitigate=1 keeps the slow-down on that task" },
	{ "bus-lock", "bus-lock traps", SEV_WARN,
	  "A locked access held the memory bus: every core waited, every VM on the socket stalled.",
	  "find the program named; split_lock_detect=ratelimit:N bounds the bus locks per second" },
	{ "rt-throttling", "RT throttling", SEV_WARN,
	  "Real-time tasks used their whole share of a period (kernel.sched_rt_runtime_us) and the kernel paused "
	  "them; until it did, ordinary tasks on those CPUs, vCPU threads included, did not run.",
	  "find the SCHED_FIFO/RR threads (ps -eLo pid,tid,cls,rtprio,comm): a vCPU or an IO thread given "
	  "real-time priority without CPUs of its own starves the rest" },
	{ "nmi-unknown", "unknown NMIs", SEV_WARN,
	  "A non-maskable interrupt that no driver claimed: on bare metal a hardware or firmware event (the BMC, "
	  "a watchdog), in a guest one the hypervisor injected (virsh inject-nmi, a watchdog device).",
	  "the BMC's event log (ipmitool sel elist); in a guest, the host's logs for an injected NMI" },
};

static const struct kind_info *info_of(const char *kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(infos); i++)
		if (!strcmp(infos[i].kind, kind))
			return &infos[i];
	return NULL;
}

/* The level of a kind's errors seen during the watch (before it: one lower). */
static enum severity level(const struct kind_info *k, bool uncorrected, bool during)
{
	enum severity s = k->sev == SEV_UNKNOWN ? (uncorrected ? SEV_CRIT : SEV_WARN) : k->sev;
	if (during)
		return s;
	return s == SEV_CRIT ? SEV_WARN : SEV_OK;
}

static int rank(enum severity s)
{
	return s == SEV_CRIT ? 3 : s == SEV_WARN ? 2 : s == SEV_OK ? 1 : 0;
}

/* "web1 (CPU 1/KVM, TID 4321)" or "qemu-system-x86/4321": who the record names. */
static void who(const struct analysis *an, const struct hwlog_rec *r, char *vm, size_t vn, char *task, size_t tn)
{
	vm[0] = task[0] = '\0';
	if (r->pid <= 0)
		return;
	snprintf(task, tn, "%s/%d", r->comm[0] ? r->comm : "?", r->pid);
	const struct vms_thread *t;
	const struct vms_vm *v = vms_vm_of_task(an->host, r->pid, &t);
	if (v)
		snprintf(vm, vn, "%s", v->name);
}

void rule_hwlog(const struct analysis *an, struct finding *f)
{
	const struct hwlog_analysis *h = &an->hw;
	const char *off = analysis_switched_off(an, "kmsg");
	if (!h->seen) {
		if (off)
			finding_set(f, SEV_UNKNOWN, "the kernel log was not read: switched off (%s)", off);
		else if (strcmp(an->source, "live") == 0)
			finding_set(f, SEV_UNKNOWN, "the kernel log was not read in this watch");
		else
			finding_set(f, SEV_UNKNOWN, "the kernel log was not read (a bundle without .hiddenq/kmsg.json)");
		finding_explain(f, "Hardware and hypervisor errors (EDAC, machine checks, KVM entry failures, split "
				   "locks, RT throttling, NMIs) are read from /dev/kmsg.");
		finding_next(f, "%s", off ? "run without that switch" : "dmesg -T on the machine itself");
		return;
	}
	if (!h->available) {
		finding_set(f, SEV_UNKNOWN, "the kernel log could not be read: /dev/kmsg: %s",
			    h->error[0] ? h->error : "not available");
		finding_explain(f, "Without the kernel log, hardware and hypervisor errors leave no trace here.");
		finding_next(f, "run as root (kernel.dmesg_restrict), or read dmesg -T yourself");
		return;
	}
	enum severity sev = SEV_OK;
	const struct hwlog_kind_count *worst = NULL;
	bool worst_during = false;
	uint64_t during = 0, before = 0;
	for (unsigned i = 0; i < h->nkinds; i++) {
		const struct hwlog_kind_count *k = &h->kinds[i];
		const struct kind_info *ki = info_of(k->kind);
		if (!ki)
			continue;
		during += k->during;
		before += k->before;
		for (int d = 1; d >= 0; d--) {
			if (!(d ? k->during : k->before))
				continue;
			enum severity s = level(ki, k->uncorrected, d);
			if (!worst || rank(s) > rank(sev) || (rank(s) == rank(sev) && d && !worst_during)) {
				sev = s;
				worst = k;
				worst_during = d;
			}
		}
		if (k->during) {
			struct evidence *e = finding_ev(f, M_HWLOG_EVENTS, (double)k->during, -1);
			ev_label(e, LBL_KIND, "%s", k->kind);
		}
	}
	/* the records themselves, the newest last, with the VM or task they name */
	unsigned shown = 0;
	const struct hwlog_event *named = NULL;
	char vm[128], task[64];
	for (unsigned i = h->nev > 16 ? h->nev - 16 : 0; i < h->nev; i++, shown++) {
		const struct hwlog_event *ev = &h->ev[i];
		struct evidence *e = finding_ev(f, ev->during ? M_HWLOG_DURING : M_HWLOG_BEFORE, (double)ev->usec / 1e6, -1);
		ev_label(ev_label(e, LBL_KIND, "%s", ev->r.kind), LBL_MESSAGE, "%s", ev->msg);
		who(an, &ev->r, vm, sizeof(vm), task, sizeof(task));
		if (vm[0])
			ev_label(e, LBL_VM, "%s", vm);
		if (task[0])
			ev_label(e, LBL_TASK, "%s", task);
		if (worst && !strcmp(ev->r.kind, worst->kind) && ev->during == worst_during)
			named = ev;
	}
	(void)shown;
	if (!worst) {
		finding_set(f, SEV_OK, "no hardware or hypervisor error in the kernel log");
		finding_detail(f, "ring buffer since boot and the watch: no EDAC, machine check, poisoned page, KVM entry "
				  "failure, split or bus lock, RT throttling, thermal throttling or NMI records");
		finding_explain(f, "Random VM crashes and stalls often start on the host: memory errors, machine checks, "
				   "a guest KVM could not enter, a split lock stalling the bus. None was logged.");
		return;
	}
	const struct kind_info *wi = info_of(worst->kind);
	uint64_t n = worst_during ? worst->during : worst->before;
	char whom[256] = "";
	if (named) {
		who(an, &named->r, vm, sizeof(vm), task, sizeof(task));
		if (vm[0])
			snprintf(whom, sizeof(whom), " by VM %s (%s)", vm, task);
		else if (task[0])
			snprintf(whom, sizeof(whom), " by %s", task);
		else if (named->r.where[0])
			snprintf(whom, sizeof(whom), " on %s", named->r.where);
		else if (named->r.cpu >= 0)
			snprintf(whom, sizeof(whom), " on CPU %d", named->r.cpu);
	}
	uint64_t others = during + before - n;
	char also[64] = "";
	if (others)
		snprintf(also, sizeof(also), "; %llu other event%s", (unsigned long long)others, others == 1 ? "" : "s");
	finding_set(f, sev, "%s: %llu%s %s%s", wi->what, (unsigned long long)n, whom,
		    worst_during ? "during the watch" : "logged before the watch", also);
	finding_detail(f, "%llu during the watch, %llu still in the ring buffer from before it%s",
		       (unsigned long long)during, (unsigned long long)before,
		       h->dropped ? " (older records dropped)" : "");
	if (sev >= SEV_WARN) {
		finding_explain(f, "%s %s%s", rule_explain(f), wi->explain,
				worst_during ? "" : " These records are from before the watch: still true of the "
						    "hardware, but not seen happening now.");
		finding_next(f, "%s", wi->next);
		finding_next(f, "%s", rule_next(f));
	} else {
		finding_explain(f, "Older records of this kind are in the ring buffer (%s); none was logged during "
				   "the watch.", wi->what);
	}
}
