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
	      "                        1 us to 4 s) and report p50/p99 per read, write,\n"
	      "                        flush.  They stay on in QEMU after the run (cheap;\n"
	      "                        block-latency-histogram-set with only an id removes\n"
	      "                        them)\n"
	      "      --no-bpf          no eBPF: no block latency histograms of the disks'\n"
	      "                        backing devices (/proc/diskstats await is always\n"
	      "                        shown), and vCPU schedstat read one /proc file at a\n"
	      "                        time instead of by one eBPF read (also:\n"
	      "                        HIDDENQ_VMS_SCHEDSTAT=procfs)\n"
	      "  -j, --json            one JSON object on stdout\n"
	      "  -v, --verbose         every thread, also idle ones\n"
	      "  -q, --quiet           no warnings on stderr\n"
	      "  -h, --help            this help\n"
	      "\n"
	      "Exit status: 0 ok, 1 warn, 2 crit (the worst of cpu-pinning-conflict and\n"
	      "migration-convergence), 3 could not run.\n"
	      "\n"
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
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t duration = 5000000000ull, interval = 200000000ull;
	const char *replay = NULL;
	bool json = false, verbose = false, bpf = true, qmp_hist = false;
	const char *qmp[VMSCAN_MAX_QMP + 1] = { 0 };
	unsigned nqmp = 0;
	int c;
	optind = 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			json = true;
	while ((c = getopt_long(argc, argv, "d:i:r:jvqh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (parse_duration_ns(optarg, &duration) < 0)
				return cmd_fail(json, "bad --duration: use e.g. 5, 5s, 500ms or 1m");
			break;
		case 'i':
			if (parse_duration_ns(optarg, &interval) < 0 || interval < 10000000ull)
				return cmd_fail(json, "bad --interval: use e.g. 200ms (at least 10ms)");
			break;
		case 'r': replay = optarg; break;
		case 'Q': {
			const char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg || !eq[1] || nqmp >= VMSCAN_MAX_QMP)
				return cmd_fail(json, "bad --qmp: use NAME=SOCKET (the VM's name, a QMP unix socket you own)");
			qmp[nqmp++] = optarg;
			break;
		}
		case 'B': bpf = false; break;
		case 'H': qmp_hist = true; break;
		case 'j': json = true; break;
		case 'v': verbose = true; break;
		case 'q': hq_quiet = true; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return cmd_fail(json, "bad arguments to vms");
		}
	}
	if (cmd_no_operands(json, argc, argv))
		return EXIT_UNUSABLE;
	if (interval > duration)
		return cmd_fail(json, "--interval is longer than --duration");
	if (qmp_hist && (!nqmp || replay))
		return cmd_fail(json, replay ? "--qmp-histograms needs a live run, not --replay"
					     : "--qmp-histograms needs at least one --qmp NAME=SOCKET");

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
