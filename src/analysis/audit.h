/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The tuning checklist's results as data: what the audit learned about the
 * machine and its VM configurations (struct audit_ctx, filled by
 * host/audit.c) and one result per item and subject (struct audit_out).
 * sinks/audit.c renders them; nothing here reads the machine.
 */
#ifndef HQ_ANALYSIS_AUDIT_H
#define HQ_ANALYSIS_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../parse/cpumask.h"
#include "../parse/imghdr.h"
#include "../parse/memparse.h"
#include "../parse/vmconf.h"

struct fsroot;	/* sys/fsroot.h: where host/audit.c reads the facts */

enum audit_result { AU_PASS, AU_FAIL, AU_UNKNOWN };
const char *audit_result_name(enum audit_result r);	/* "pass", "fail", "unknown" */

struct audit_vm {
	struct vmconf conf;
	int pid;		/* 0: a definition, not running */
	char origin[160];	/* "PID 1234 cmdline", "/etc/libvirt/qemu/x.xml" */
	struct cpumask vcpu_cpus; /* where its vCPU threads may run (running VMs) */
	bool have_cpus;
	uint64_t rss_kb, anon_huge_kb, hugetlb_kb;
	struct numa_maps_sum nm;
	bool have_numa;
	unsigned tap_queues[VMCONF_MAX_NICS]; /* tun fds per NIC's tap, from the host (0 unknown) */
	struct img_chain chain[VMCONF_MAX_DISKS];	/* each disk's image and backing files (owned) */
	char chain_why[VMCONF_MAX_DISKS][160];		/* why a disk has none */
};

/* qemu-img check of one image layer (audit --check-images) */
struct audit_img_check {
	size_t vm;		/* index into audit_ctx.vms */
	unsigned disk, layer;
	int rc;			/* qemu-img's exit status: 0 clean, 2 corruptions, 3 leaks, 63 not checkable; -1 did not run */
	long long corruptions, leaks, check_errors;	/* -1 not said */
	char why[256];		/* qemu-img's message, or why it did not run */
};

struct audit_ctx {
	const struct fsroot *root;
	bool guest, host;	/* what this machine is (both: a guest that runs VMs) */
	struct audit_vm *vms;
	size_t nvms, cap;
	unsigned ncpus;		/* 0: not known (no sys/devices/system/cpu/online under the root) */
	uint64_t memtotal_kb;	/* 0: not known */
	bool have_proc, have_sys; /* the root has a readable proc/ and sys/ */
	unsigned nnodes;
	struct cpumask node_cpus[64];
	uint64_t node_mem_kb[64];	/* sized as topo sizes them (topo.node_mem_source) */
	bool node_mem_lazy;		/* the per-node figures are known to be short */
	char node_mem_note[320];
	char *notes;		/* why some inputs were not read (owned) */
	bool images_read;	/* each VM's disk chains were read (audit_read_images) */
	bool check_images;	/* --check-images: qemu-img check ran where it safely could */
	char qemu_img[256];	/* its path, "" not installed */
	struct audit_img_check *checks;	/* owned */
	size_t nchecks, capchecks;
};

struct audit_res {
	const char *id, *title, *scope, *fix;
	char subject[160];
	enum audit_result r;
	char *evidence;		/* owned */
	char *note;		/* owned, optional */
};

struct audit_out {
	struct audit_res *v;
	size_t n, cap;
};

void audit_out_done(struct audit_out *o);

#endif
