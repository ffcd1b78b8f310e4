/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq lab (probe/lab.c): the five classic experiments and the idle-vCPU wake-up, each a JSON
 * object {"id", "name", "setup", "status", "measured", "teaches", "needs",
 * "result"}, optionally beside a QEMU test VM run by a driver script.
 */
#ifndef HQ_LAB_H
#define HQ_LAB_H

#include <stdbool.h>

#include <jansson.h>

#define LAB_NEXP 6
/* "cross-numa", "vcpu-oversubscription", "memory-overcommit", "single-vs-multi-queue", "io-layer-stacking",
 * "idle-vcpu-wakeup" */
extern const char *const lab_ids[LAB_NEXP];
bool lab_known(const char *id);

struct lab_opts {
	bool quick;		/* short runs */
	bool with_vm;		/* also in a QEMU test VM */
	const char *only;	/* one experiment id, NULL: all */
	const char *driver;	/* the VM driver; NULL: $HIDDENQ_LAB_VM or next to the binary */
	bool progress;		/* progress lines on stderr */
};

struct lab_result {
	json_t *doc;		/* {"hiddenq", "lab", "quick", "with_vm", "interrupted", "context", "vm", "experiments"} */
	bool vm_ran;		/* the test VM was asked for (doc has "vm") */
	char vm_why[600];	/* why it gave nothing, "" if it did */
	char vm_driver[4096];
	double vm_elapsed_s;
};

/* Run the experiments (Ctrl-C stops them early: doc says "interrupted"). */
void lab_run(const struct lab_opts *o, struct lab_result *r);
void lab_result_done(struct lab_result *r);

/* --spike: grow a working set to mib MiB here, no cgroup; {"hiddenq", "spike": {...}} */
json_t *lab_spike(unsigned mib);

#endif
