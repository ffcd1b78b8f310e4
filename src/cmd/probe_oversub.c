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
#include "cmdutil.h"
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
	      "      --quick           short run\n",
	      out);
	cmd_help_end(out, "0 measured, 3 bad arguments.");
}

int cmd_probe_oversub(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "period", required_argument, NULL, 'P' }, { "work", required_argument, NULL, 'W' },
		{ "step", required_argument, NULL, 'S' },   { "max-factor", required_argument, NULL, 'M' },
		{ "quick", no_argument, NULL, 'Q' },	    { 0 },
	};
	struct oversub_params p = { .period_ns = 5000000, .work_ns = 200000, .step_ns = 2000000000ull, .max_factor = 4 };
	bool json = false, quick = false, step_set = false;
	uint64_t v;
	int c;
	struct cmd_parse cp;
	cmd_parse_init(&cp, "probe oversub", argc, argv, "", opts, usage);
	while ((c = cmd_parse_next(&cp)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return cp.exit_code;
		case 'P':
			if (parse_duration_range(optarg, 100000ull, 1000000000ull, &p.period_ns) < 0)
				return cmd_failf("bad --period '%s': 100us to 1s", optarg);
			break;
		case 'W':
			if (parse_duration_range(optarg, 1000ull, 100000000ull, &p.work_ns) < 0)
				return cmd_failf("bad --work '%s': 1us to 100ms", optarg);
			break;
		case 'S':
			if (parse_duration_range(optarg, 100000000ull, 60000000000ull, &p.step_ns) < 0)
				return cmd_failf("bad --step '%s': 100ms to 60s", optarg);
			step_set = true;
			break;
		case 'M':
			if (parse_uint(optarg, 8, &v) < 0 || v < 1)
				return cmd_failf("bad --max-factor: 1 to 8");
			p.max_factor = (unsigned)v;
			break;
		case 'Q': quick = true; break;
		}
	}
	if (cmd_parse_end(&cp))
		return EXIT_UNUSABLE;
	json = hq_json;
	if (p.work_ns >= p.period_ns)
		return cmd_failf("--work must be shorter than --period");
	if (quick && !step_set)
		p.step_ns = 500000000ull;
	struct probe_env e;
	probe_cmd_begin(&e);
	return probe_cmd_end(json, "oversub", oversub_run(&p, &e), &e, oversub_print, false);
}
