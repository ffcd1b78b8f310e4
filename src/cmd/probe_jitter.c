/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq probe jitter: the options of the wake-up latency and busy-loop gap
 * probe (probe/jitter.c), its run, and its report (sinks/probe.c).
 */
#include <getopt.h>
#include <sched.h>
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
	fputs("Usage: hiddenq probe jitter [OPTIONS]\n"
	      "\n"
	      "How late a thread wakes from a short sleep, per CPU, at SCHED_OTHER and (when\n"
	      "allowed) SCHED_FIFO, with and without /dev/cpu_dma_latency held at 0.\n"
	      "\n"
	      "Options:\n"
	      "  -d, --duration TIME   all runs together (default 8s; --quick 2s)\n"
	      "  -i, --interval TIME   sleep period (default 1ms)\n"
	      "      --slack TIME      timer slack of the sleeping threads (default 1ns;\n"
	      "                        the kernel's default for SCHED_OTHER is 50us)\n"
	      "  -p, --priority N      SCHED_FIFO priority (default 80; 0: no FIFO run)\n"
	      "      --no-dma          no run with /dev/cpu_dma_latency held\n"
	      "      --gaps            also a busy loop per CPU recording gaps in execution\n"
	      "      --gap-threshold TIME  smallest gap recorded (default 10us)\n"
	      "  -c, --cpu N           one CPU only\n"
	      "      --quick           short run (2 s)\n"
	      "\n"
	      "Reference: cyclictest -m -p80 -i1000 -a -t (rt-tests).\n",
	      out);
	cmd_help_end(out, "0 measured, 3 bad arguments or nothing could be measured (no CPU\n"
			  "to run on, no thread could start).");
}

int cmd_probe_jitter(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "duration", required_argument, NULL, 'd' }, { "interval", required_argument, NULL, 'i' },
		{ "slack", required_argument, NULL, 'S' },    { "priority", required_argument, NULL, 'p' },
		{ "no-dma", no_argument, NULL, 'D' },	      { "gaps", no_argument, NULL, 'g' },
		{ "gap-threshold", required_argument, NULL, 'G' }, { "cpu", required_argument, NULL, 'c' },
		{ "quick", no_argument, NULL, 'Q' },	      { 0 },
	};
	struct jitter_params p = { .duration_ns = 8000000000ull, .interval_ns = 1000000, .slack_ns = 1,
				   .fifo_prio = 80, .dma = true, .gap_ns = 10000, .only_cpu = -1 };
	bool json = false, dur_set = false, quick = false;
	uint64_t v;
	int c;
	struct cmd_parse cp;
	cmd_parse_init(&cp, "probe jitter", argc, argv, "d:i:p:c:", opts, usage);
	while ((c = cmd_parse_next(&cp)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return cp.exit_code;
		case 'd':
			if (parse_duration_range(optarg, 10000000ull, 600000000000ull, &p.duration_ns) < 0)
				return cmd_failf("bad --duration '%s': e.g. 5s (10ms to 10 min)", optarg);
			dur_set = true;
			break;
		case 'i':
			if (parse_duration_range(optarg, 50000ull, 1000000000ull, &p.interval_ns) < 0)
				return cmd_failf("bad --interval '%s': 50us to 1s", optarg);
			break;
		case 'S':
			if (!strcmp(optarg, "0"))
				return cmd_failf("--slack 0 would restore the thread's default slack; use 1ns");
			if (parse_duration_range(optarg, 1, 1000000000ull, &p.slack_ns) < 0)
				return cmd_failf("bad --slack '%s': e.g. 1ns, 50us (1ns to 1s)", optarg);
			break;
		case 'p':
			if (parse_uint(optarg, 99, &v) < 0)
				return cmd_failf("bad --priority '%s': 0 (no FIFO run) to 99", optarg);
			p.fifo_prio = (int)v;
			break;
		case 'D': p.dma = false; break;
		case 'g': p.gaps = true; break;
		case 'G':
			if (parse_duration_range(optarg, 1000ull, 1000000000ull, &p.gap_ns) < 0)
				return cmd_failf("bad --gap-threshold '%s': 1us to 1s", optarg);
			break;
		case 'c': {
			if (parse_uint(optarg, CPU_SETSIZE - 1, &v) < 0)
				return cmd_failf("bad --cpu '%s': a CPU number", optarg);
			/* a CPU this process may not run on would leave the probe with nothing to measure */
			cpu_set_t set;
			if (sched_getaffinity(0, sizeof(set), &set) == 0 && !CPU_ISSET((int)v, &set)) {
				char list[256];
				int n = 0;
				for (int k = 0; k < CPU_SETSIZE && n < (int)sizeof(list) - 8; k++)
					if (CPU_ISSET(k, &set))
						n += snprintf(list + n, sizeof(list) - (size_t)n, "%s%d", n ? "," : "", k);
				return cmd_failf("bad --cpu %llu: this process may run on CPU %s only", (unsigned long long)v,
						 list);
			}
			p.only_cpu = (int)v;
			break;
		}
		case 'Q': quick = true; break;
		}
	}
	if (cmd_parse_end(&cp))
		return EXIT_UNUSABLE;
	json = hq_json;
	if (cmd_parse_count(&cp, "gap-threshold") && !p.gaps)
		return cmd_failf("--gap-threshold goes with --gaps (the busy loop that records gaps)");

	if (quick && !dur_set)
		p.duration_ns = 2000000000ull;
	struct probe_env e;
	probe_cmd_begin(&e);
	return probe_cmd_end(json, "jitter", jitter_run(&p), &e, jitter_print, true);
}
