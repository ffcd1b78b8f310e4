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
#include "cmdutil.h"
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
	      "  -d, --duration TIME   longest window (default 10s, up to 30s; --quick 2s;\n"
	      "                        with --workload-only, how long to run: up to 10 min)\n"
	      "  -b, --bandwidth RATE  migration bandwidth: 100M (bytes/s) or 10Gbit (default 1Gbit)\n"
	      "      --downtime TIME   downtime target (default 300ms, QEMU's default)\n"
	      "      --mem-size SIZE   memory to migrate (default: the workload, the RSS or the VM)\n"
	      "      --quick           short run\n",
	      out);
	cmd_help_end(out, "0 measured (or the workload ran), 3 bad arguments or no method could\n"
			  "measure the target.");
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
		{ "quick", no_argument, NULL, 'Q' },	      { 0 },
	};
	struct dirty_params p = { .rate = 32ull << 20, .wss = 256ull << 20, .duration_ns = 10000000000ull,
				  .bw_Bps = 125e6, .downtime_s = 0.3 };
	bool json = false, quick = false, dur_set = false, only = false, notify = false;
	uint64_t v;
	double rate;
	int c;
	struct cmd_parse cp;
	cmd_parse_init(&cp, "probe dirty", argc, argv, "d:b:", opts, usage);
	while ((c = cmd_parse_next(&cp)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return cp.exit_code;
		case 'p':
			if (parse_uint(optarg, 1u << 30, &v) < 0 || v == 0)
				return cmd_failf("bad --pid '%s': a process ID", optarg);
			p.pid = (long)v;
			break;
		case 'q': p.qmp = optarg; break;
		case 'r':
			if (parse_rate(optarg, &rate) < 0 || rate > 64e9)
				return cmd_failf("bad --rate: e.g. 32M (bytes/s)");
			p.rate = (uint64_t)rate;
			break;
		case 'w':
			if (parse_size(optarg, &p.wss) < 0 || p.wss < (1u << 20) || p.wss > (16ull << 30))
				return cmd_failf("bad --wss: 1M to 16G");
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
				return cmd_failf("bad --method: soft-dirty, uffd or qmp");
			break;
		case 'd':
			if (parse_duration_range(optarg, 100000000ull, 600000000000ull, &p.duration_ns) < 0)
				return cmd_failf("bad --duration '%s': 100ms to 30s (10 min with --workload-only)", optarg);
			dur_set = true;
			break;
		case 'b':
			if (parse_rate(optarg, &p.bw_Bps) < 0)
				return cmd_failf("bad --bandwidth '%s': e.g. 100M (bytes/s) or 10Gbit", optarg);
			break;
		case 'D': {
			uint64_t ns;
			if (parse_duration_range(optarg, 1000000ull, 3600000000000ull, &ns) < 0)
				return cmd_failf("bad --downtime '%s': e.g. 300ms (1ms to 1h)", optarg);
			p.downtime_s = (double)ns / 1e9;
			break;
		}
		case 'M':
			if (parse_size(optarg, &p.mem_bytes) < 0 || p.mem_bytes == 0)
				return cmd_failf("bad --mem-size '%s': e.g. 4G", optarg);
			break;
		case 'Q': quick = true; break;
		}
	}
	if (cmd_parse_end(&cp))
		return EXIT_UNUSABLE;
	json = hq_json;
	if (p.pid && p.qmp)
		return cmd_failf("--pid and --qmp: give one");
	if ((p.pid || p.qmp) && (cmd_parse_count(&cp, "rate") || cmd_parse_count(&cp, "wss")))
		return cmd_failf("--rate and --wss shape the probe's own workload: with --%s the target dirties its own "
				 "memory", p.pid ? "pid" : "qmp");
	if (p.method == DIRTY_QMP && !p.qmp)
		return cmd_failf("--method qmp needs --qmp SOCKET");
	if (quick && !dur_set)
		p.duration_ns = 2000000000ull;
	probe_setup_signals();
	if (notify && !only)
		return cmd_failf("--notify-ready goes with --workload-only");
	if (only) {
		if (p.pid || p.qmp)
			return cmd_failf("--workload-only runs the probe's own workload");
		if (p.duration_ns > 600000000000ull)
			return cmd_failf("--workload-only: at most 10 minutes");
		if (dirty_workload(&p, notify) < 0)
			return cmd_failf("cannot map %llu MiB", (unsigned long long)(p.wss >> 20));
		return 0;
	}
	/* W(t) is read at 0.1 s ... 30 s: a longer run would measure nothing more */
	if (p.duration_ns > 30000000000ull)
		return cmd_failf("bad --duration %.3g s: the longest window is 30 s (W(t) is read at 0.1 s to 30 s)",
				 (double)p.duration_ns / 1e9);
	if (p.qmp && p.duration_ns > 10000000000ull)
		log_warn("--qmp: QEMU's calc-dirty-rate windows stop at 10 s: the longest window is 10 s, not %.3g s",
			 (double)p.duration_ns / 1e9);
	struct probe_env e;
	probe_cmd_begin(&e);
	return probe_cmd_end(json, "dirty", dirty_run(&p, &e), &e, dirty_print, true);
}
