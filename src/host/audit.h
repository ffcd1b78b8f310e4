/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The tuning checklist as data: one row per item (id, title, scope, the
 * evaluator, the fix).  Each evaluator reads an audit_ctx (machine facts read
 * through an fsroot, plus the VM configurations from QEMU command lines and
 * libvirt domain XML) and adds results: pass, fail or unknown, each with the
 * evidence it rests on.  An item that does not apply says so as a pass with
 * a note, never silently.
 *
 * Scopes: "host" items judge the KVM host (IO scheduler, cpufreq, C-states,
 * overcommit ratios, THP, mitigations), "vm" items run once per VM
 * configuration, "guest" items judge what a guest can see of itself.
 */
#ifndef HQ_AUDIT_H
#define HQ_AUDIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "../parse/vmconf.h"
#include "../sys/fsroot.h"
#include "vms.h"

enum audit_result { AU_PASS, AU_FAIL, AU_UNKNOWN };
const char *audit_result_name(enum audit_result r);

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

struct audit_item {
	const char *id, *title, *scope;
	void (*eval)(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o);
	const char *fix;
};
extern const struct audit_item audit_items[];
extern const size_t audit_nitems;

void audit_ctx_init(struct audit_ctx *c, const struct fsroot *root);
void audit_ctx_done(struct audit_ctx *c);
/* Add a VM configuration (copied). */
struct audit_vm *audit_add_vm(struct audit_ctx *c, const struct vmconf *conf, int pid, const char *origin);
/* Running VMs: QEMU command lines of this machine's VM processes (vmscan). */
void audit_scan_running(struct audit_ctx *c);
/* libvirt XML: a file, or the usual directories (/etc/libvirt/qemu, /run/libvirt/qemu). */
int audit_add_xml_file(struct audit_ctx *c, const char *path, char **why);
void audit_scan_libvirt(struct audit_ctx *c, bool use_virsh);

void audit_run(const struct audit_ctx *c, struct audit_out *o);
void audit_out_done(struct audit_out *o);
json_t *audit_json(const struct audit_ctx *c, const struct audit_out *o);
void audit_print(FILE *f, const struct audit_ctx *c, const struct audit_out *o, bool verbose);

#endif
