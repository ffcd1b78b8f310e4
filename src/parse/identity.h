/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Who are we running on, as data: the CPUID hypervisor leaves, our
 * privileges, whether BTF is there, container marker files.  sys/identity.c
 * probes them on the live machine and writes them as JSON into a sample
 * (IDENTITY_PATH); this reads that JSON back, so that a replay sees the same
 * facts as the live run did.
 */
#ifndef HQ_PARSE_IDENTITY_H
#define HQ_PARSE_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/paths.h"	/* IDENTITY_PATH */

struct identity {
	bool known;		/* identity.json was present and parsed */
	bool cpuid_available;	/* x86 with CPUID */
	bool hv_bit;		/* CPUID.1:ECX[31] */
	char hv_sig[13];	/* signature at the hypervisor base leaf */
	char hv_sig_inner[13];	/* at base+0x100 when an enlightenment sits on top */
	uint32_t hv_base;
	bool has_kvm_features;
	uint32_t kvm_features_eax; /* CPUID 0x40000001 EAX when KVM */
	bool kvm_steal_bit;	/* EAX bit 5: steal time offered */
	unsigned euid;
	bool btf;
	char markers[8][48];	/* container marker files found */
	unsigned nmarkers;
	long pid;
	bool balloon_driver;	/* virtio_balloon driver bound (exists map) */
	bool have_exists;	/* the exists map was present */
	/* the stack below the guest (bundles before issue 15 lack them: unknown) */
	uint32_t kvm_hints_edx;	/* CPUID 0x40000001 EDX: bit 0 KVM_HINTS_REALTIME (dedicated pCPUs) */
	char cpu_vendor[13];	/* CPUID 0: "GenuineIntel", "AuthenticAMD", "" when not recorded */
	bool have_stack_cpuid;	/* cpu_vendor, vmx, svm, tdx_guest, cpuid_exit_ns were recorded */
	bool vmx, svm;		/* this CPU offers hardware virtualization (it can host guests) */
	bool tdx_guest;		/* CPUID 0x21 says "IntelTDX    " */
	uint64_t cpuid_exit_ns;	/* least time of one CPUID (a VM exit in a guest) */
	bool have_amd_mem_encrypt;
	uint32_t amd_mem_encrypt_eax;	/* CPUID 0x8000001F EAX: bit 1 SEV, 3 SEV-ES, 4 SEV-SNP offered */
	bool have_hyperv_hints, have_hyperv_isolation;
	uint32_t hyperv_hints_eax;	/* Hyper-V 0x40000004 EAX: bit 12 running nested */
	uint32_t hyperv_isolation_ebx;	/* Hyper-V 0x4000000C EBX bits 3:0: 0 none, 1 VBS, 2 SNP, 3 TDX */
	bool have_sev_status;
	uint32_t sev_status;		/* MSR 0xC0010131: bit 0 SEV, 1 SEV-ES, 2 SEV-SNP active */
	char sev_status_error[64];	/* why it could not be read ("" when read or not asked) */
	bool sev_guest_dev, tdx_guest_dev, cca_dev;	/* /dev/sev-guest, /dev/tdx_guest, arm-cca-dev (exists map) */
	bool swiotlb_debugfs;		/* sys/kernel/debug/swiotlb was readable */
};

/* Parse JSON text (from a sample); 0 or -EINVAL (id zeroed, known=false). */
int identity_parse(const char *buf, size_t len, struct identity *id);

/* Human name of the hypervisor from CPUID ("KVM", "QEMU TCG", ...), or NULL. */
const char *identity_hv_name(const struct identity *id);

#endif
