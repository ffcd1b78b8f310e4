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
	      "  -j, --json            JSON on stdout\n"
	      "  -h, --help            this help\n"
	      "\n"
	      "Reference: cyclictest -m -p80 -i1000 -a -t (rt-tests).\n",
	      out);
}

int cmd_probe_jitter(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "duration", required_argument, NULL, 'd' }, { "interval", required_argument, NULL, 'i' },
		{ "slack", required_argument, NULL, 'S' },    { "priority", required_argument, NULL, 'p' },
		{ "no-dma", no_argument, NULL, 'D' },	      { "gaps", no_argument, NULL, 'g' },
		{ "gap-threshold", required_argument, NULL, 'G' }, { "cpu", required_argument, NULL, 'c' },
		{ "quick", no_argument, NULL, 'Q' },	      { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },	      { 0 },
	};
	struct jitter_params p = { .duration_ns = 8000000000ull, .interval_ns = 1000000, .slack_ns = 1,
				   .fifo_prio = 80, .dma = true, .gap_ns = 10000, .only_cpu = -1 };
	bool json = false, dur_set = false, quick = false;
	uint64_t v;
	int c;
	optind = 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			json = true;
	while ((c = getopt_long(argc, argv, "d:i:p:c:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (parse_duration_ns(optarg, &p.duration_ns) < 0 || p.duration_ns > 600000000000ull)
				return probe_fail(json, "bad --duration: e.g. 5s (at most 10 min)");
			dur_set = true;
			break;
		case 'i':
			if (parse_duration_ns(optarg, &p.interval_ns) < 0 || p.interval_ns < 50000 ||
			    p.interval_ns > 1000000000ull)
				return probe_fail(json, "bad --interval: 50us to 1s");
			break;
		case 'S':
			if (!strcmp(optarg, "0"))
				return probe_fail(json, "--slack 0 would restore the thread's default slack; use 1ns");
			if (parse_duration_ns(optarg, &p.slack_ns) < 0)
				return probe_fail(json, "bad --slack: e.g. 1ns, 50us");
			break;
		case 'p':
			if (parse_uint(optarg, 99, &v) < 0)
				return probe_fail(json, "bad --priority: 0 to 99");
			p.fifo_prio = (int)v;
			break;
		case 'D': p.dma = false; break;
		case 'g': p.gaps = true; break;
		case 'G':
			if (parse_duration_ns(optarg, &p.gap_ns) < 0 || p.gap_ns < 1000)
				return probe_fail(json, "bad --gap-threshold: at least 1us");
			break;
		case 'c':
			if (parse_uint(optarg, CPU_SETSIZE - 1, &v) < 0)
				return probe_fail(json, "bad --cpu");
			p.only_cpu = (int)v;
			break;
		case 'Q': quick = true; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return probe_fail(json, "bad arguments to probe jitter");
		}
	}
	if (optind < argc)
		return probe_fail(json, "unexpected argument '%s'", argv[optind]);
	if (quick && !dur_set)
		p.duration_ns = 2000000000ull;
	struct probe_env e;
	probe_cmd_begin(&e);
	return probe_cmd_end(json, "jitter", jitter_run(&p), &e, jitter_print, true);
}
