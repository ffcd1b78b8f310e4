/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Guest and host joined, offline (hiddenq join GUEST HOST): two analyses of
 * the same period, one of a guest's bundle or recording and one of its
 * host's, set side by side.  The guest is found among the host's VMs by the
 * SMBIOS system UUID it reports (or a machine-id the host handed it); then,
 * per vCPU, the steal the guest saw beside the run delay of that vCPU's
 * thread on the host, and where they disagree, why; and the guest's await
 * beside the time the VMM took for that VM's disks.
 *
 * On KVM the two are the same quantity by construction (the host adds the
 * vCPU thread's run delay to the guest's steal clock at each entry), so a
 * disagreement is information: a guest that reports no steal (TCG,
 * Hyper-V), delay the guest has not been told of yet, time taken below the
 * host (the host itself a guest), or a VM that is not the one it seems.
 * Pure: everything comes from the two analyses.
 */
#ifndef HQ_JOIN_H
#define HQ_JOIN_H

#include <stdbool.h>

#include <jansson.h>

#include "analysis.h"
#include "stack.h"
#include "vms.h"

#define JOIN_MAX_VCPUS 256
#define JOIN_AGREE_POINTS 2.0	/* |steal - delay| under this many points of a vCPU ... */
#define JOIN_AGREE_SHARE 0.25	/* ... or under this share of the larger: they agree */
#define JOIN_QUIET_PCT 0.5	/* both under this: neither side saw the vCPU wait */

struct join_vcpu {
	int vcpu;
	double steal_pct;	/* the guest's, -1 unknown */
	double delay_pct;	/* the host's, of that vCPU's thread, -1 unknown */
	const char *verdict;	/* "agree", "steal above delay", "delay above steal", "no steal reported",
				   "no host thread", "no guest CPU" (static) */
	char why[480];
};

struct join_result {
	bool matched;
	char why[1024];			/* not matched: why, with what each side offered */
	const char *matched_by;		/* "system UUID", "machine-id" (static) */
	char key[40];			/* the identifier that matched */
	struct stack_ids guest;		/* what the guest reports */
	const struct vms_vm *vm;	/* the host's VM (points into the host analysis) */
	double guest_span_s, host_span_s;	/* the periods each side's figures cover */
	bool steal_reported;
	const char *steal_why;		/* the guest's steal: reported or why not (static or the analysis's) */
	struct join_vcpu v[JOIN_MAX_VCPUS];
	unsigned nv;
	double host_steal_pct;		/* the host's own steal (it may be a guest too), -1 unknown */
	double guest_await_ms;		/* the guest's virtual disks together, -1 no IO */
	unsigned guest_disks;
	double vmm_await_ms;		/* the VMM's time for this VM's requests (QMP blockstats), -1 unknown */
	double host_dev_await_ms;	/* the host device(s) under its images, -1 unknown */
	char io_why[300];		/* what the disk comparison rests on, or why there is none */
};

/* Join guest (an analysis of the guest's samples) and host (of the host's). */
void join_build(const struct analysis *guest, const struct analysis *host, struct join_result *out);
json_t *join_json(const struct join_result *j);

#endif
