/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq probe oversub: the options of the CPU oversubscription sweep
 * (probe/oversub.c), its run, and its report (sinks/probe.c).
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
	fputs("Usage: hiddenq probe oversub [OPTIONS]\n"
	      "\n"
	      "A periodic victim task against 0, n/2, n, 2n, 3n, 4n CPU-bound competitors\n"
	      "(n = CPUs): its latency, run delay and context switches, and steal, per step.\n"
	      "\n"
	      "Options:\n"
	      "      --period TIME     victim wake-up period (default 5ms)\n"
	      "      --work TIME       victim work per wake-up (default 200us)\n"
	      "      --step TIME       time per step (default 2s; --quick 500ms)\n"
	      "      --max-factor N    competitors up to N x CPUs (default 4, at most 8)\n"
	      "      --quick           short run\n"
	      "  -j, --json            JSON on stdout\n"
	      "  -h, --help            this help\n",
	      out);
}

int cmd_probe_oversub(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "period", required_argument, NULL, 'P' }, { "work", required_argument, NULL, 'W' },
		{ "step", required_argument, NULL, 'S' },   { "max-factor", required_argument, NULL, 'M' },
		{ "quick", no_argument, NULL, 'Q' },	    { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },	    { 0 },
	};
	struct oversub_params p = { .period_ns = 5000000, .work_ns = 200000, .step_ns = 2000000000ull, .max_factor = 4 };
	bool json = false, quick = false, step_set = false;
	uint64_t v;
	int c;
	optind = 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			json = true;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'P':
			if (parse_duration_ns(optarg, &p.period_ns) < 0 || p.period_ns < 100000 || p.period_ns > 1000000000ull)
				return probe_fail(json, "bad --period: 100us to 1s");
			break;
		case 'W':
			if (parse_duration_ns(optarg, &p.work_ns) < 0 || p.work_ns > 100000000ull)
				return probe_fail(json, "bad --work: at most 100ms");
			break;
		case 'S':
			if (parse_duration_ns(optarg, &p.step_ns) < 0 || p.step_ns > 60000000000ull)
				return probe_fail(json, "bad --step: at most 60s");
			step_set = true;
			break;
		case 'M':
			if (parse_uint(optarg, 8, &v) < 0 || v < 1)
				return probe_fail(json, "bad --max-factor: 1 to 8");
			p.max_factor = (unsigned)v;
			break;
		case 'Q': quick = true; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return probe_fail(json, "bad arguments to probe oversub");
		}
	}
	if (optind < argc)
		return probe_fail(json, "unexpected argument '%s'", argv[optind]);
	if (p.work_ns >= p.period_ns)
		return probe_fail(json, "--work must be shorter than --period");
	if (quick && !step_set)
		p.step_ns = 500000000ull;
	struct probe_env e;
	probe_cmd_begin(&e);
	return probe_cmd_end(json, "oversub", oversub_run(&p, &e), &e, oversub_print, false);
}
