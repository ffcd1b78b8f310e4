/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq vms: KVM host mode.  Every VM process on this machine, per vCPU
 * the run delay its guest sees as steal, CPU use and where each thread may
 * and did run; the overlap matrix and the demand per CPU; memory per VM
 * (THP, hugetlbfs, host swap, NUMA placement, KVM's 4k/2M/1G mappings when
 * its debugfs is readable); taps; each disk's backing block device and its
 * latency (diskstats await, eBPF biolat) beside the VMM's own figure through
 * QMP sockets this run owns (--qmp); and the cpu-pinning-conflict finding.
 * Exit code as diagnose: that finding's severity.
 */
#include <errno.h>
#include <sys/stat.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../analysis/analysis.h"
#include "../analysis/rules_host.h"
#include "../analysis/vms.h"
#include "../core/util.h"
#include "../host/vmscan.h"	/* VMSCAN_MAX_QMP */
#include "../sample/bundle.h"
#include "../sample/sampler.h"
#include "../sinks/report.h"
#include "../sinks/vms.h"
#include "cmd.h"
#include "cmdutil.h"

static void usage(FILE *out)
{
	fputs("Usage: hiddenq vms [OPTIONS]\n"
	      "\n"
	      "KVM host mode: the VM processes on this machine (QEMU, also under libvirt;\n"
	      "Firecracker, Cloud Hypervisor, crosvm, kvmtool) and the queues they wait in.\n"
	      "Per vCPU thread: its run delay, which is exactly the steal its guest sees, CPU\n"
	      "use, the CPUs it may run on and the one it ran on.  Also the VMs' emulator, IO\n"
	      "and vhost threads, memory (THP, hugetlbfs, host swap, NUMA placement), taps,\n"
	      "which VMs share which CPUs, and the demand per CPU.\n"
	      "\n"
	      "Options:\n"
	      "  -d, --duration TIME   how long to watch (default 5s)\n"
	      "  -i, --interval TIME   sampling interval (default 200ms)\n"
	      "  -r, --replay DIR      analyse a capture bundle taken with host mode\n"
	      "      --qmp NAME=SOCKET read a VM's QMP monitor, a socket this run owns (QMP\n"
	      "                        allows one client: never a monitor another manager\n"
	      "                        such as libvirt holds): its disks' blockstats and a\n"
	      "                        live migration in flight (query-migrate, pass by\n"
	      "                        pass); repeatable\n"
	      "      --qmp-histograms  on those sockets, turn on QEMU's block latency\n"
	      "                        histograms where a disk has none (log2 buckets,\n"
	      "                        1 µs to 4 s) and report p50/p99 per read, write,\n"
	      "                        flush.  They stay on in QEMU after the run (cheap;\n"
	      "                        block-latency-histogram-set with only an id removes\n"
	      "                        them)\n"
	      "      --no-bpf          no eBPF: no block latency histograms of the disks'\n"
	      "                        backing devices (/proc/diskstats await is always\n"
	      "                        shown), and vCPU schedstat read one /proc file at a\n"
	      "                        time instead of by one eBPF read (also:\n"
	      "                        HIDDENQ_VMS_SCHEDSTAT=procfs)\n"
	      "  -v, --verbose         every thread, also idle ones\n",
	      out);
	cmd_help_end(out, "0 ok, 1 warn, 2 crit (the worst of cpu-pinning-conflict and\n"
			  "migration-convergence), 3 bad arguments or could not run.");
	fputs("\n"
	      "Examples:\n"
	      "  hiddenq vms\n"
	      "  hiddenq vms --json --duration 10\n"
	      "  hiddenq vms --qmp web1=/run/web1.qmp\n",
	      out);
}


int cmd_vms(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, 'i' },
		{ "replay", required_argument, NULL, 'r' },
		{ "qmp", required_argument, NULL, 'Q' },
		{ "qmp-histograms", no_argument, NULL, 'H' },
		{ "no-bpf", no_argument, NULL, 'B' },
		{ "verbose", no_argument, NULL, 'v' },
		{ 0 },
	};
	uint64_t duration = 5000000000ull, interval = 200000000ull;
	const char *replay = NULL;
	bool verbose = false, bpf = true, qmp_hist = false;
	const char *qmp[VMSCAN_MAX_QMP + 1] = { 0 };
	unsigned nqmp = 0;
	int c;
	struct cmd_parse p;
	cmd_parse_init(&p, "vms", argc, argv, "d:i:r:v", opts, usage);
	p.repeatable = (const char *const[]){ "qmp", NULL };
	while ((c = cmd_parse_next(&p)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return p.exit_code;
		case 'd':
			if (parse_duration_ns(optarg, &duration) < 0)
				return cmd_failf("bad --duration '%s': use e.g. 5, 5s, 500ms or 1m (1 ms to a day)", optarg);
			break;
		case 'i':
			if (parse_duration_range(optarg, 10000000ull, 3600000000000ull, &interval) < 0)
				return cmd_failf("bad --interval '%s': use e.g. 200ms (at least 10ms, at most 1h)", optarg);
			break;
		case 'r': replay = optarg; break;
		case 'Q':
			if (cmd_qmp_arg(qmp, &nqmp, optarg))
				return EXIT_UNUSABLE;
			break;
		case 'B': bpf = false; break;
		case 'H': qmp_hist = true; break;
		case 'v': verbose = true; break;
		}
	}
	if (replay && cmd_parse_refuse_with(&p, "--replay",
					    (const char *const[]){ "duration", "interval", "qmp", "qmp-histograms",
								   "no-bpf", NULL }))
		return EXIT_UNUSABLE;
	if (cmd_parse_end(&p))
		return EXIT_UNUSABLE;
	bool json = hq_json;
	if (interval > duration)
		return cmd_failf("--interval (%.3g s) is longer than --duration (%.3g s): no two samples to compare",
				 (double)interval / 1e9, (double)duration / 1e9);
	if (qmp_hist && !nqmp)
		return cmd_failf("--qmp-histograms needs at least one --qmp NAME=SOCKET");
	for (unsigned k = 0; k < nqmp; k++) {
		char *why = cmd_qmp_check(qmp[k]);
		if (why) {
			int r = cmd_fail(json, why);
			free(why);
			return r;
		}
	}

	struct sampler_opts so = {
		.interval_ns = interval,
		.count = (unsigned)(duration / interval) + 1,
		.vms = true,
		.vms_qmp = qmp,
		.vms_qmp_histograms = qmp_hist,
		.io = true,	/* diskstats of the disks' backing devices */
		.bpf = bpf,	/* biolat of the same devices */
	};
	if (!replay && geteuid() != 0)
		log_warn("not root: VMs of other users, their memory maps, tap fds and KVM debugfs are not "
			 "visible; run as root for the full picture");
	struct engine_opts eo = { 0 };
	struct watch w = { 0 };
	if (watch_run(&w, replay, &so, &eo, json, "watching VMs") != 0)
		return EXIT_UNUSABLE;
	bool live = w.live;
	const struct analysis *an = engine_acquire(w.engine, 0);
	int code;
	if (!an->host) {
		code = cmd_fail(json, live ? "host mode found nothing to read (no /proc?)"
				       : "this bundle has no host-mode data (.hiddenq/vms.json): capture it with "
					 "hiddenq capture on the host");
	} else if (!an->host->njson && an->host->nbad_json) {
		char *m = xasprintf("the host-mode data is damaged: none of the %u copies of .hiddenq/vms.json is a "
				    "JSON object, so the VMs of this machine are not known",
				    an->host->nbad_json);
		code = cmd_fail(json, m);
		free(m);
	} else {
		vms_add_bpf(an->host, an);
		/* a --qmp whose VM was not found was not asked: say so rather than print nothing */
		for (unsigned k = 0; k < nqmp; k++) {
			size_t nl = (size_t)(strchr(qmp[k], '=') - qmp[k]);
			bool found = false;
			for (size_t i = 0; i < an->host->n && !found; i++)
				found = strlen(an->host->vms[i].name) == nl && !strncmp(an->host->vms[i].name, qmp[k], nl);
			if (!found)
				log_warn("--qmp %s: no VM called %.*s on this machine; its socket was not asked", qmp[k],
					 (int)nl, qmp[k]);
		}
		struct findings fs = { 0 };
		/* the same rule as diagnose's, held to the same minimum of data (pinning_min_windows) */
		rules_evaluate_one(an, "cpu-pinning-conflict", &fs);
		rules_evaluate_one(an, "migration-convergence", &fs);
		code = findings_exit_code(&fs);
		if (code == EXIT_UNUSABLE)
			code = EXIT_OK; /* no VMs is an answer, not a failure */
		if (json) {
			json_t *j = vms_report_json(an, &fs);
			json_print(stdout, j);
			json_decref(j);
		} else {
			vms_report_text(stdout, an, &fs, verbose);
		}
		findings_done(&fs);
	}
	watch_done(&w);
	fflush(stdout);
	return code;
}
