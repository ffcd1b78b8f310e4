/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq probe dirty: the options of the dirty-rate and pre-copy probe
 * (probe/dirty.c), its run, and its report (sinks/probe.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../probe/probe.h"
#include "../sinks/probe.h"
#include "cmd.h"
#include "probe_cmd.h"

static void usage(FILE *out)
{
	fputs("Usage: hiddenq probe dirty [OPTIONS]\n"
	      "\n"
	      "How fast memory is dirtied (W(t): distinct pages written within t seconds), and\n"
	      "whether pre-copy live migration converges at a bandwidth and downtime target.\n"
	      "\n"
	      "Target (default: the probe's own workload):\n"
	      "      --pid N           another process (soft-dirty; needs CONFIG_MEM_SOFT_DIRTY)\n"
	      "      --qmp SOCKET      a QEMU VM's QMP socket (calc-dirty-rate, page-sampling)\n"
	      "      --rate RATE       workload dirty rate, bytes/s (default 32M)\n"
	      "      --wss SIZE        workload working set (default 256M)\n"
	      "      --workload-only   just run the workload for --duration (for --pid elsewhere)\n"
	      "      --notify-ready    with --workload-only: print \"ready PID\" once the working\n"
	      "                        set is touched (before that it dirties all of it at once)\n"
	      "Options:\n"
	      "      --method M        soft-dirty, uffd or qmp (default: the one that fits)\n"
	      "  -d, --duration TIME   longest window (default 10s, up to 30s; --quick 2s)\n"
	      "  -b, --bandwidth RATE  migration bandwidth: 100M (bytes/s) or 10Gbit (default 1Gbit)\n"
	      "      --downtime TIME   downtime target (default 300ms, QEMU's default)\n"
	      "      --mem-size SIZE   memory to migrate (default: the workload, the RSS or the VM)\n"
	      "      --quick           short run\n"
	      "  -j, --json            JSON on stdout\n"
	      "  -h, --help            this help\n",
	      out);
}

int cmd_probe_dirty(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },      { "qmp", required_argument, NULL, 'q' },
		{ "rate", required_argument, NULL, 'r' },     { "wss", required_argument, NULL, 'w' },
		{ "workload-only", no_argument, NULL, 'W' },  { "method", required_argument, NULL, 'm' },
		{ "notify-ready", no_argument, NULL, 'R' },
		{ "duration", required_argument, NULL, 'd' }, { "bandwidth", required_argument, NULL, 'b' },
		{ "downtime", required_argument, NULL, 'D' }, { "mem-size", required_argument, NULL, 'M' },
		{ "quick", no_argument, NULL, 'Q' },	      { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },	      { 0 },
	};
	struct dirty_params p = { .rate = 32ull << 20, .wss = 256ull << 20, .duration_ns = 10000000000ull,
				  .bw_Bps = 125e6, .downtime_s = 0.3 };
	bool json = false, quick = false, dur_set = false, only = false, notify = false;
	uint64_t v;
	double rate;
	int c;
	optind = 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			json = true;
	while ((c = getopt_long(argc, argv, "d:b:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_uint(optarg, 1u << 30, &v) < 0 || v == 0)
				return probe_fail(json, "bad --pid");
			p.pid = (long)v;
			break;
		case 'q': p.qmp = optarg; break;
		case 'r':
			if (parse_rate(optarg, &rate) < 0 || rate > 64e9)
				return probe_fail(json, "bad --rate: e.g. 32M (bytes/s)");
			p.rate = (uint64_t)rate;
			break;
		case 'w':
			if (parse_size(optarg, &p.wss) < 0 || p.wss < (1u << 20) || p.wss > (16ull << 30))
				return probe_fail(json, "bad --wss: 1M to 16G");
			break;
		case 'W': only = true; break;
		case 'R': notify = true; break;
		case 'm':
			if (!strcmp(optarg, "soft-dirty") || !strcmp(optarg, "softdirty"))
				p.method = DIRTY_SOFTDIRTY;
			else if (!strcmp(optarg, "uffd") || !strcmp(optarg, "userfaultfd"))
				p.method = DIRTY_UFFD;
			else if (!strcmp(optarg, "qmp"))
				p.method = DIRTY_QMP;
			else
				return probe_fail(json, "bad --method: soft-dirty, uffd or qmp");
			break;
		case 'd':
			if (parse_duration_ns(optarg, &p.duration_ns) < 0 || p.duration_ns > 3600000000000ull)
				return probe_fail(json, "bad --duration");
			dur_set = true;
			break;
		case 'b':
			if (parse_rate(optarg, &p.bw_Bps) < 0)
				return probe_fail(json, "bad --bandwidth: e.g. 100M (bytes/s) or 10Gbit");
			break;
		case 'D': {
			uint64_t ns;
			if (parse_duration_ns(optarg, &ns) < 0)
				return probe_fail(json, "bad --downtime: e.g. 300ms");
			p.downtime_s = (double)ns / 1e9;
			break;
		}
		case 'M':
			if (parse_size(optarg, &p.mem_bytes) < 0 || p.mem_bytes == 0)
				return probe_fail(json, "bad --mem-size");
			break;
		case 'Q': quick = true; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return probe_fail(json, "bad arguments to probe dirty");
		}
	}
	if (optind < argc)
		return probe_fail(json, "unexpected argument '%s'", argv[optind]);
	if (p.pid && p.qmp)
		return probe_fail(json, "--pid and --qmp: give one");
	if (quick && !dur_set)
		p.duration_ns = 2000000000ull;
	probe_setup_signals();
	if (notify && !only)
		return probe_fail(json, "--notify-ready goes with --workload-only");
	if (only) {
		if (p.pid || p.qmp)
			return probe_fail(json, "--workload-only runs the probe's own workload");
		if (p.duration_ns > 600000000000ull)
			return probe_fail(json, "--workload-only: at most 10 minutes");
		if (dirty_workload(&p, notify) < 0)
			return probe_fail(json, "cannot map %llu MiB", (unsigned long long)(p.wss >> 20));
		return 0;
	}
	if (!dur_set && p.duration_ns > 30000000000ull)
		p.duration_ns = 30000000000ull;
	struct probe_env e;
	probe_cmd_begin(&e);
	return probe_cmd_end(json, "dirty", dirty_run(&p, &e), &e, dirty_print, true);
}
