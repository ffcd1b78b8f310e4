/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq audit: the tuning checklist, pass / fail / unknown per item with
 * its evidence and the fix.  On a host: the running QEMU command lines and
 * libvirt's domain XML (files and, with --virsh, the read-only API), plus
 * the host's own settings.  In a guest: what the guest can see of itself.
 * A guest that runs VMs gets both.  Exit: 1 if any item fails, else 0;
 * 3 when it could not run.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../host/audit.h"
#include "../sinks/audit.h"
#include "../sinks/report.h"
#include "cmd.h"
#include "cmdutil.h"

static void usage(FILE *out)
{
	fputs("Usage: hiddenq audit [OPTIONS]\n"
	      "\n"
	      "The tuning checklist for a KVM host, its VMs and a guest: virtio disks and NICs,\n"
	      "disk cache and IO mode, raw vs qcow2, image backing chains (read from the\n"
	      "images' headers), IO schedulers, multi-queue virtio-net,\n"
	      "NUMA pinning and VMs larger than a node, huge pages, cpufreq and C-states, CPU\n"
	      "model and live migration, overcommit ratios, mitigations, THP; in a guest its\n"
	      "devices, queue counts, scheduler, clocksource and cpuidle driver.\n"
	      "\n"
	      "Options:\n"
	      "  -x, --xml FILE        also audit this libvirt domain XML (repeatable)\n"
	      "      --only-xml        audit only the --xml files (no running VMs, no libvirt dirs)\n"
	      "      --virsh           also ask libvirt's read-only API (virsh -r dumpxml)\n"
	      "      --check-images    run qemu-img check (read-only) on every image layer of\n"
	      "                        the VMs that do not run, where qemu-img is installed;\n"
	      "                        a running VM's images are never checked\n"
	      "      --root DIR        read /proc and /sys from DIR (a snapshot) instead of /;\n"
	      "                        what DIR lacks is unknown, never taken from this machine\n"
	      "  -v, --verbose         every note, also on passing items\n",
	      out);
	cmd_help_end(out, "0 nothing failed, 1 some item failed, 3 bad arguments or could not\n"
			  "run (or every item was unknown).");
	fputs("\n"
	      "Examples:\n"
	      "  hiddenq audit\n"
	      "  hiddenq audit --json --xml /etc/libvirt/qemu/db1.xml\n"
	      "  hiddenq audit --only-xml --xml db1.xml --check-images   # db1 will not start\n",
	      out);
}


int cmd_audit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "xml", required_argument, NULL, 'x' },
		{ "only-xml", no_argument, NULL, 'O' },
		{ "virsh", no_argument, NULL, 'V' },
		{ "check-images", no_argument, NULL, 'K' },
		{ "root", required_argument, NULL, 'R' },
		{ "verbose", no_argument, NULL, 'v' },
		{ 0 },
	};
	bool verbose = false, only_xml = false, virsh = false, check_images = false;
	const char *root = "/";
	const char *xml[64];
	unsigned nxml = 0;
	int c;
	struct cmd_parse p;
	cmd_parse_init(&p, "audit", argc, argv, "x:v", opts, usage);
	p.repeatable = (const char *const[]){ "xml", NULL };
	while ((c = cmd_parse_next(&p)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return p.exit_code;
		case 'x':
			if (nxml >= 64)
				return cmd_failf("too many --xml files (64 at most)");
			xml[nxml++] = optarg;
			break;
		case 'O': only_xml = true; break;
		case 'V': virsh = true; break;
		case 'K': check_images = true; break;
		case 'R': root = optarg; break;
		case 'v': verbose = true; break;
		}
	}
	if (cmd_parse_end(&p))
		return EXIT_UNUSABLE;
	if (only_xml && !nxml)
		return cmd_failf("--only-xml audits only the --xml files: give at least one --xml FILE");
	if (only_xml && virsh)
		return cmd_failf("--only-xml and --virsh: --only-xml reads the --xml files alone");
	bool json = hq_json;
	struct fsroot fr;
	int ret = fsroot_init(&fr, root, strcmp(root, "/") != 0);
	if (ret < 0) {
		char *m = xasprintf("cannot open %s: %s", root, strerror(-ret));
		int r = cmd_fail(json, m);
		free(m);
		return r;
	}
	struct audit_ctx ctx;
	audit_ctx_init(&ctx, &fr);
	/* a root with neither proc/ nor sys/ is not a machine: nothing of it can be audited, and the
	 * live machine's facts must not stand in for it */
	if (strcmp(root, "/") != 0 && !ctx.have_proc && !ctx.have_sys) {
		char *m = xasprintf("%s has no proc/ or sys/ directory: not a machine's root (a snapshot holds "
				    "proc/... and sys/... at their paths)", root);
		int r = cmd_fail(json, m);
		free(m);
		audit_ctx_done(&ctx);
		fsroot_done(&fr);
		return r;
	}
	for (unsigned i = 0; i < nxml; i++) {
		char *why;
		if (audit_add_xml_file(&ctx, xml[i], &why) < 0) {
			int r = cmd_fail(json, why);
			free(why);
			audit_ctx_done(&ctx);
			fsroot_done(&fr);
			return r;
		}
	}
	if (nxml)
		ctx.host = true; /* domain XML is a host's configuration */
	if (!only_xml) {
		audit_scan_running(&ctx);
		audit_scan_libvirt(&ctx, virsh);
		if (ctx.nvms)
			ctx.host = true;
	}
	audit_read_images(&ctx);
	if (check_images)
		audit_check_images(&ctx, 120 * 1000);
	struct audit_out o;
	audit_run(&ctx, &o);
	/* 1 if an item failed; 3 if no item could be judged at all (every one unknown) */
	int code = EXIT_UNUSABLE;
	for (size_t i = 0; i < o.n; i++)
		if (o.v[i].r == AU_FAIL)
			code = EXIT_WARN;
		else if (o.v[i].r == AU_PASS && code == EXIT_UNUSABLE)
			code = EXIT_OK;
	if (json) {
		json_t *j = audit_json(&ctx, &o);
		json_print(stdout, j);
		json_decref(j);
	} else {
		audit_print(stdout, &ctx, &o, verbose);
	}
	audit_out_done(&o);
	audit_ctx_done(&ctx);
	fsroot_done(&fr);
	fflush(stdout);
	return code;
}
