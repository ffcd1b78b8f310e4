/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The virtualization stack's identity: what this machine runs on and what
 * that means for the hidden queues.  Each fact says where it came from
 * (CPUID, DMI, sysfs, a driver, the kernel log, nvidia-smi), how sure it is
 * where that is a judgement, and `unknown` with the reason otherwise.
 *
 * Built only from a run's statics (sample 0: .hiddenq/identity.json,
 * .hiddenq/stack.json and the plain files sys/stackprobe.c copies), so a
 * replay of a bundle shows the same facts as the live run.  diagnose
 * prints a summary under its header and the whole in `environment.stack`;
 * `hiddenq topo` prints each fact with its source and meaning.
 */
#ifndef HQ_STACK_H
#define HQ_STACK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "../core/sample.h"
#include "../parse/identity.h"
#include "../parse/stackparse.h"

struct sfact {
	bool known;		/* false: value is "unknown" and meaning says why */
	char value[96];		/* "KVM", "L2 or deeper (nested)", "virtio-net" */
	char source[192];	/* where it came from */
	const char *confidence;	/* "high", "medium", "low"; NULL where it is read, not judged */
	char meaning[640];	/* what it means for the queues, or why it is unknown */
};

#define STACK_MAX_DEVS 32
#define STACK_MAX_GPUS 16
#define STACK_MAX_MITS 40

struct stack_dev {
	char name[64];		/* "eth0", "vda", "0000:00:05.0" */
	char kind[24];		/* the table's kind: "virtio-net", "sr-iov-vf", "unknown" ... */
	struct sfact f;
};

struct stack_mit {
	char name[48];		/* "spectre_v2" */
	char line[200];		/* the kernel's line */
	enum cost_class cost;
	bool vulnerable;
	const char *why;	/* static */
};

struct stack {
	bool guest;			/* a hypervisor was seen (CPUID bit, signature or sys/hypervisor) */
	struct sfact hypervisor, platform, nesting, nested_capable, container, confidential, swiotlb;
	uint64_t exit_ns;		/* the CPUID exit cost nesting was judged on (0: not); varies run to run,
					   so it is kept out of the facts (environment must replay the same) */
	struct stack_dev nics[STACK_MAX_DEVS];
	unsigned nnics;
	struct stack_dev disks[STACK_MAX_DEVS];
	unsigned ndisks;
	struct stack_dev gpus[STACK_MAX_GPUS];
	unsigned ngpus;
	struct sfact gpu;		/* summary: "none", "1 passthrough GPU", or unknown */
	struct stack_mit mits[STACK_MAX_MITS];
	unsigned nmits;
	struct sfact mitigations;	/* summary: the worst cost class in force, and which */
	enum cost_class mit_worst;
	/* how to find this guest from its host (issue 15, guest and host joined) */
	struct sfact uuid, machine_id;
	char uuid_canon[37], machine_id_canon[33];	/* "" when unknown */
};

/* Only what a host knows this guest by, cheap enough for every scrape. */
struct stack_ids {
	bool guest;		/* a hypervisor was seen */
	char uuid[37];		/* SMBIOS system UUID (or Xen's), "" unknown */
	char machine_id[33];	/* /etc/machine-id, "" unknown */
	const char *hypervisor;	/* "KVM", "QEMU TCG", ... or "unknown" (static) */
};
void stack_ids(const struct sample *statics, const struct identity *id, struct stack_ids *out);

/* Build the facts from a run's statics (and the identity read from them). */
void stack_build(const struct sample *statics, const struct identity *id, struct stack *st);
/* The whole as JSON (environment.stack, topo --json "stack"). */
json_t *stack_json(const struct stack *st);
/* One line for the diagnose header: "KVM, nested (L2 or deeper) · eth0 virtio-net · ...". */
void stack_summary(const struct stack *st, char *buf, size_t n);

#endif
