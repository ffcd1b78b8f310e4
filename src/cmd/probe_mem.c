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
	      "      --quick           short run\n"
	      "  -j, --json            JSON on stdout\n"
	      "  -h, --help            this help\n",
	      out);
}

int cmd_probe_mem(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "max-size", required_argument, NULL, 'm' }, { "min-size", required_argument, NULL, 'n' },
		{ "pair-size", required_argument, NULL, 'P' }, { "pages", required_argument, NULL, 'p' },
		{ "no-pairs", no_argument, NULL, 'N' },	      { "time", required_argument, NULL, 't' },
		{ "quick", no_argument, NULL, 'Q' },	      { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },	      { 0 },
	};
	struct mem_params p = { .min_size = 4096, .max_size = 1ull << 30, .pair_size = 256ull << 20,
				.bw_size = 64ull << 20, .per_point_ns = 100000000, .do_4k = true, .do_thp = true,
				.pairs = true };
	bool json = false, quick = false, max_set = false, time_set = false;
	int c;
	optind = 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			json = true;
	while ((c = getopt_long(argc, argv, "m:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (parse_size(optarg, &p.max_size) < 0 || p.max_size < 8192)
				return probe_fail(json, "bad --max-size: e.g. 256M, 2G");
			max_set = true;
			break;
		case 'n':
			if (parse_size(optarg, &p.min_size) < 0 || p.min_size < 4096)
				return probe_fail(json, "bad --min-size: at least 4K");
			break;
		case 'P':
			if (parse_size(optarg, &p.pair_size) < 0 || p.pair_size < 4096)
				return probe_fail(json, "bad --pair-size");
			break;
		case 'p':
			p.do_4k = !strcmp(optarg, "4k") || !strcmp(optarg, "both");
			p.do_thp = !strcmp(optarg, "thp") || !strcmp(optarg, "both");
			if (!p.do_4k && !p.do_thp)
				return probe_fail(json, "bad --pages: 4k, thp or both");
			break;
		case 'N': p.pairs = false; break;
		case 't':
			if (parse_duration_ns(optarg, &p.per_point_ns) < 0 || p.per_point_ns > 10000000000ull)
				return probe_fail(json, "bad --time: e.g. 100ms (at most 10s)");
			time_set = true;
			break;
		case 'Q': quick = true; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return probe_fail(json, "bad arguments to probe mem");
		}
	}
	if (optind < argc)
		return probe_fail(json, "unexpected argument '%s'", argv[optind]);
	if (quick) {
		if (!max_set)
			p.max_size = 64ull << 20;
		if (!time_set)
			p.per_point_ns = 20000000;
	}
	mem_params_fit(&p);
	struct probe_env e;
	probe_cmd_begin(&e);
	return probe_cmd_end(json, "mem", mem_run(&p, &e), &e, mem_print, false);
}
