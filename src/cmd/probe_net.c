/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq probe net: the options of the veth queue probe (probe/net.c), its
 * run, and its report (sinks/probe.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/util.h"
#include "../probe/probe.h"
#include "../sinks/probe.h"
#include "cmd.h"
#include "cmdutil.h"
#include "probe_cmd.h"

static void usage(FILE *out)
{
	fputs("Usage: hiddenq probe net [OPTIONS]\n"
	      "\n"
	      "Packets per second and drops through a veth pair between two private network\n"
	      "namespaces the probe creates and deletes: one queue and one flow, then several.\n"
	      "Needs root.  Nothing leaves the namespaces.\n"
	      "\n"
	      "Options:\n"
	      "  -d, --duration TIME   per run (default 3s; --quick 1s)\n"
	      "      --queues N        queues and flows of the second run (default: CPUs, 2..8)\n"
	      "      --size BYTES      UDP payload (default 64)\n"
	      "      --quick           short run\n",
	      out);
	cmd_help_end(out, "0 measured, 3 bad arguments or nothing could be measured (not root,\n"
			  "no veth).");
}

int cmd_probe_net(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "duration", required_argument, NULL, 'd' }, { "queues", required_argument, NULL, 'q' },
		{ "size", required_argument, NULL, 's' },     { "quick", no_argument, NULL, 'Q' },
		{ 0 },
	};
	long nc = sysconf(_SC_NPROCESSORS_ONLN);
	struct net_params p = { .phase_ns = 3000000000ull, .queues = nc < 2 ? 2 : nc > 8 ? 8 : (unsigned)nc, .pkt = 64 };
	bool json = false, quick = false, dur_set = false;
	uint64_t v;
	int c;
	struct cmd_parse cp;
	cmd_parse_init(&cp, "probe net", argc, argv, "d:", opts, usage);
	while ((c = cmd_parse_next(&cp)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return cp.exit_code;
		case 'd':
			if (parse_duration_range(optarg, 100000000ull, 60000000000ull, &p.phase_ns) < 0)
				return cmd_failf("bad --duration '%s': 100ms to 60s", optarg);
			dur_set = true;
			break;
		case 'q':
			if (parse_uint(optarg, 16, &v) < 0 || v < 2)
				return cmd_failf("bad --queues: 2 to 16");
			p.queues = (unsigned)v;
			break;
		case 's':
			if (parse_uint(optarg, 1400, &v) < 0 || v < 1)
				return cmd_failf("bad --size: 1 to 1400");
			p.pkt = (unsigned)v;
			break;
		case 'Q': quick = true; break;
		}
	}
	if (cmd_parse_end(&cp))
		return EXIT_UNUSABLE;
	json = hq_json;
	if (quick && !dur_set)
		p.phase_ns = 1000000000ull;
	struct probe_env e;
	probe_cmd_begin(&e);
	return probe_cmd_end(json, "net", net_run(&p), &e, net_print, true);
}
