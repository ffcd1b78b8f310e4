/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq probe mem: the options of the memory latency and bandwidth probe
 * (probe/mem.c), its run, and its report (sinks/probe.c).
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
	fputs("Usage: hiddenq probe mem [OPTIONS]\n"
	      "\n"
	      "Memory latency by pointer chasing over working sets from 4 KiB to --max-size,\n"
	      "with 4 KiB and transparent huge pages apart; latency and bandwidth per pair of\n"
	      "(CPU node, memory node).\n"
	      "\n"
	      "Options:\n"
	      "  -m, --max-size SIZE   largest working set (default 1G; --quick 64M); at most\n"
	      "                        half of MemAvailable is used\n"
	      "      --min-size SIZE   smallest (default 4K)\n"
	      "      --pair-size SIZE  working set for the node pairs (default 256M, <= max)\n"
	      "      --pages WHICH     4k, thp or both (default both)\n"
	      "      --no-pairs        no node pairs, no bandwidth\n"
	      "      --time TIME       time per working set (default 100ms; --quick 20ms)\n"
	      "      --quick           short run\n",
	      out);
	cmd_help_end(out, "0 measured (a node pair that could not be measured says why in its\n"
			  "result), 3 bad arguments.");
}

int cmd_probe_mem(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "max-size", required_argument, NULL, 'm' }, { "min-size", required_argument, NULL, 'n' },
		{ "pair-size", required_argument, NULL, 'P' }, { "pages", required_argument, NULL, 'p' },
		{ "no-pairs", no_argument, NULL, 'N' },	      { "time", required_argument, NULL, 't' },
		{ "quick", no_argument, NULL, 'Q' },	      { 0 },
	};
	struct mem_params p = { .min_size = 4096, .max_size = 1ull << 30, .pair_size = 256ull << 20,
				.bw_size = 64ull << 20, .per_point_ns = 100000000, .do_4k = true, .do_thp = true,
				.pairs = true };
	bool json = false, quick = false, max_set = false, time_set = false;
	int c;
	struct cmd_parse cp;
	cmd_parse_init(&cp, "probe mem", argc, argv, "m:", opts, usage);
	while ((c = cmd_parse_next(&cp)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return cp.exit_code;
		case 'm':
			if (parse_size(optarg, &p.max_size) < 0 || p.max_size < 8192)
				return cmd_failf("bad --max-size: e.g. 256M, 2G");
			max_set = true;
			break;
		case 'n':
			if (parse_size(optarg, &p.min_size) < 0 || p.min_size < 4096)
				return cmd_failf("bad --min-size: at least 4K");
			break;
		case 'P':
			if (parse_size(optarg, &p.pair_size) < 0 || p.pair_size < 4096)
				return cmd_failf("bad --pair-size");
			break;
		case 'p':
			p.do_4k = !strcmp(optarg, "4k") || !strcmp(optarg, "both");
			p.do_thp = !strcmp(optarg, "thp") || !strcmp(optarg, "both");
			if (!p.do_4k && !p.do_thp)
				return cmd_failf("bad --pages: 4k, thp or both");
			break;
		case 'N': p.pairs = false; break;
		case 't':
			if (parse_duration_range(optarg, 1000000ull, 10000000000ull, &p.per_point_ns) < 0)
				return cmd_failf("bad --time '%s': e.g. 100ms (1ms to 10s)", optarg);
			time_set = true;
			break;
		case 'Q': quick = true; break;
		}
	}
	if (cmd_parse_end(&cp))
		return EXIT_UNUSABLE;
	json = hq_json;
	if (quick) {
		if (!max_set)
			p.max_size = 64ull << 20;
		if (!time_set)
			p.per_point_ns = 20000000;
	}
	if (cmd_parse_count(&cp, "min-size") && p.min_size > p.max_size)
		return cmd_failf("--min-size is larger than --max-size");
	if (cmd_parse_count(&cp, "pair-size") && p.pair_size > p.max_size)
		return cmd_failf("--pair-size is larger than --max-size (the node pairs use a working set of the curve)");
	if (!p.pairs && cmd_parse_count(&cp, "pair-size"))
		return cmd_failf("--pair-size goes with the node pairs, which --no-pairs leaves out");
	/* working sets double from --min-size: a size between two powers of two is the one below */
	uint64_t *sz[2] = { &p.max_size, &p.min_size };
	const char *nm[2] = { "max-size", "min-size" };
	for (int k = 0; k < 2; k++)
		if (cmd_parse_count(&cp, nm[k]) && (*sz[k] & (*sz[k] - 1)))
			log_warn("--%s %llu is not a power of two: the working sets double, so %llu is used", nm[k],
				 (unsigned long long)*sz[k], 1ull << (63 - __builtin_clzll(*sz[k])));
	mem_params_fit(&p);
	struct probe_env e;
	probe_cmd_begin(&e);
	return probe_cmd_end(json, "mem", mem_run(&p, &e), &e, mem_print, false);
}
