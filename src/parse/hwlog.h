/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Hardware and hypervisor errors in the kernel log, as the kernel prints
 * them (the printk formats of the sources named below; pr_fmt prefixes such
 * as "mce: " or "x86/split lock detection: " may come before them):
 *
 *   edac-ce, edac-ue   drivers/edac/edac_mc.c: "EDAC MC%d: %d CE %s%son %s (%s %s[ - %s])"
 *                      (UE alike): a memory controller's corrected or uncorrected errors
 *   apei               drivers/firmware/efi/cper.c via ghes: "[Hardware Error]: event severity:
 *                      corrected|recoverable|fatal" (firmware-first reporting)
 *   mce                arch/x86/kernel/cpu/mce/core.c: "[Hardware Error]: CPU %d: Machine
 *                      Check%s: %Lx Bank %d: %016Lx" (bank status bit 61: uncorrected)
 *   mce-logged         the same file: "[Hardware Error]: Machine check events logged"
 *   memory-failure     mm/memory-failure.c: "Memory failure: %#lx: ..." (hardware-poisoned
 *                      pages; "Sending SIGBUS to %s:%d" / "Killing %s:%d" name the process)
 *   thermal-throttle   arch/x86/kernel/cpu/mce/therm_throt.c: "CPU%d: %s temperature is above
 *                      threshold, cpu clock is throttled" (older: "temperature above threshold")
 *   kvm-entry-failed   arch/x86/kvm/vmx/vmx.c, svm/svm.c: "set kvm_intel.dump_invalid_vmcs=1 to
 *                      dump internal KVM state.", "VMCS %p, last attempted VM-entry on CPU %d"
 *                      (kvm_amd: dump_invalid_vmcb, "VMCB %p, last attempted VMRUN on CPU %d")
 *   split-lock         arch/x86/kernel/cpu/bus_lock.c: "#AC: %s/%d took a split_lock trap at
 *                      address: 0x%lx" (and "... fatal|bogus split_lock trap ...")
 *   bus-lock           the same file: "#DB: %s/%d took a bus_lock trap at address: 0x%lx"
 *   rt-throttling      kernel/sched/rt.c: "sched: RT throttling activated"
 *   nmi-unknown        arch/x86/kernel/nmi.c: "Uhhuh. NMI received for unknown reason %02x on CPU %d."
 *   nmi-serr, nmi-iochk  the same file: "NMI: PCI system error (SERR) for reason %02x on CPU %d.",
 *                      "NMI: IOCK error (debug interrupt?) for reason %02x on CPU %d."
 *
 * The task in "#AC: COMM/PID" is the thread that trapped: a vCPU thread
 * ("CPU 1/KVM/4321", the comm may hold '/') when a guest split a lock, so
 * the TID names the VM.  Only records of the kernel's own facility count:
 * anyone may write to /dev/kmsg (user facility), and a log line someone
 * writes is not a machine check.  Pure and fuzzed (tests/fuzz/fuzz_hwlog.c).
 */
#ifndef HQ_HWLOG_PARSE_H
#define HQ_HWLOG_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hwlog_rec {
	const char *kind;	/* one of the kinds above (static) */
	bool uncorrected;	/* data was lost or could not be corrected (UE, MCE UC, fatal, poison) */
	unsigned count;		/* errors the record stands for (EDAC's count), at least 1 */
	int cpu, bank;		/* -1 when not said */
	uint64_t status;	/* MCE bank status */
	int pid;		/* the task named (split lock, bus lock, memory failure), -1 none */
	char comm[32];		/* its name, "" none */
	char where[64];		/* "MC0 DIMM_A1", "CPU 3 bank 7", "pfn 0x12345": "" none */
};

/* A kernel message (the text after ';' of a /dev/kmsg record): 0 with *out filled, or -ENOENT. */
int hwlog_parse(const char *msg, size_t len, struct hwlog_rec *out);

/* Is `kind` one of hwlog_parse's (stall kinds of kmsg_classify are not)? */
bool hwlog_kind(const char *kind);

#endif
