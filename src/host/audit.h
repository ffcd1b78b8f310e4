/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The tuning checklist as data: one row per item (id, title, scope, the
 * evaluator, the fix).  Each evaluator reads an audit_ctx (machine facts read
 * through an fsroot, plus the VM configurations from QEMU command lines and
 * libvirt domain XML) and adds results: pass, fail or unknown, each with the
 * evidence it rests on.  An item that does not apply says so as a pass with
 * a note, never silently.  The results are data (analysis/audit.h), which
 * sinks/audit.c prints.
 *
 * Scopes: "host" items judge the KVM host (IO scheduler, cpufreq, C-states,
 * overcommit ratios, THP, mitigations), "vm" items run once per VM
 * configuration, "guest" items judge what a guest can see of itself.
 */
#ifndef HQ_AUDIT_H
#define HQ_AUDIT_H

#include <stdbool.h>

#include "../analysis/audit.h"
#include "../parse/vmconf.h"
#include "../sys/fsroot.h"

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
/* Each VM's disk images and backing chains, from their headers (host/images.h). */
void audit_read_images(struct audit_ctx *c);
/*
 * --check-images: `qemu-img check` (read-only) on every image layer of the
 * VMs that do not run, where qemu-img is installed; a running VM's images
 * are not checked (QEMU writes them meanwhile: a check would see half-written
 * metadata).  Each check is bounded by timeout_ms.
 */
void audit_check_images(struct audit_ctx *c, int timeout_ms);

/* Every item that applies to this machine, in table order; audit_out_done() frees o. */
void audit_run(const struct audit_ctx *c, struct audit_out *o);

#endif
