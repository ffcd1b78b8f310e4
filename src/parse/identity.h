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
};

/* Parse JSON text (from a sample); 0 or -EINVAL (id zeroed, known=false). */
int identity_parse(const char *buf, size_t len, struct identity *id);

/* Human name of the hypervisor from CPUID ("KVM", "QEMU TCG", ...), or NULL. */
const char *identity_hv_name(const struct identity *id);

#endif
