/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq probe wakeup: the options of the idle-vCPU wake-up probe
 * (probe/wakeup.c), its run, and its report (sinks/probe.c).
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
	fputs("Usage: hiddenq probe wakeup [OPTIONS]\n"
	      "\n"
	      "How long one thread takes to wake another on an idle vCPU, by how long that\n"
	      "vCPU idled first (0 to 100 ms), and how late a sleeping timer fires: in a guest\n"
	      "an idle vCPU halts and the host has to wake it.  A ping-pong on one CPU, where\n"
	      "nothing idles, is the floor.  Says what the guest's cpuidle driver and halt\n"
	      "polling (cpuidle-haltpoll, guest_halt_poll_ns, idle=) are set to, and what the\n"
	      "host's halt polling (KVM halt_poll_ns) would change.\n"
	      "\n"
	      "Options:\n"
	      "      --gaps LIST        idle gaps, comma-separated (default 0,50us,200us,1ms,10ms,100ms;\n"
	      "                         --quick 0,200us,10ms,100ms)\n"
	      "  -d, --per-gap TIME     time per gap, stretched to 20 wake-ups for long gaps (default 1s)\n"
	      "      --cpus A,B         the waking and the sleeping CPU (default: the first two allowed)\n"
	      "      --quick            a short run (about 3 s)\n"
	      "\n"
	      "Reference: ioping -i 0 against ioping -i 100ms on a disk shows the same cost on IO.\n",
	      out);
	cmd_help_end(out, "0 measured, 3 bad arguments or nothing could be measured (one CPU).");
}

static int parse_gaps(const char *s, struct wakeup_params *p)
{
	char *dup = xstrdup(s), *save = NULL;
	p->ngaps = 0;
	for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		uint64_t ns;
		if (p->ngaps >= ARRAY_SIZE(p->gaps_ns) ||
		    (strcmp(t, "0") != 0 && (parse_duration_ns(t, &ns) < 0 || ns > 1000000000ull))) {
			free(dup);
			return -1;
		}
		if (!strcmp(t, "0"))
			ns = 0;
		if (p->ngaps && ns < p->gaps_ns[p->ngaps - 1]) {
			free(dup);
			return -1;
		}
		p->gaps_ns[p->ngaps++] = ns;
	}
	free(dup);
	return p->ngaps ? 0 : -1;
}

int cmd_probe_wakeup(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "gaps", required_argument, NULL, 'g' }, { "per-gap", required_argument, NULL, 'd' },
		{ "cpus", required_argument, NULL, 'c' }, { "quick", no_argument, NULL, 'Q' },
		{ 0 },
	};
	struct wakeup_params p;
	bool quick = false;
	const char *gaps = NULL, *per = NULL;
	int waker = -1, sleeper = -1, c;
	struct cmd_parse cp;
	cmd_parse_init(&cp, "probe wakeup", argc, argv, "d:", opts, usage);
	while ((c = cmd_parse_next(&cp)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return cp.exit_code;
		case 'g': gaps = optarg; break;
		case 'd': per = optarg; break;
		case 'c': {
			uint64_t a, b;
			const char *comma = strchr(optarg, ',');
			char first[32];
			if (!comma || (size_t)(comma - optarg) >= sizeof(first))
				return cmd_failf("bad --cpus '%s': two CPU numbers, e.g. 0,1", optarg);
			memcpy(first, optarg, (size_t)(comma - optarg));
			first[comma - optarg] = '\0';
			if (parse_uint(first, CPU_SETSIZE - 1, &a) < 0 || parse_uint(comma + 1, CPU_SETSIZE - 1, &b) < 0 ||
			    a == b)
				return cmd_failf("bad --cpus '%s': two different CPU numbers, e.g. 0,1", optarg);
			waker = (int)a;
			sleeper = (int)b;
			break;
		}
		case 'Q': quick = true; break;
		}
	}
	if (cmd_parse_end(&cp))
		return EXIT_UNUSABLE;
	wakeup_params_default(&p, quick);
	if (waker >= 0) {
		p.cpu_waker = waker;
		p.cpu_sleeper = sleeper;
	}
	if (gaps && parse_gaps(gaps, &p) < 0)
		return cmd_failf("bad --gaps '%s': ascending durations from 0 to 1s, e.g. 0,100us,10ms", gaps);
	if (per && (parse_duration_ns(per, &p.per_gap_ns) < 0 || p.per_gap_ns < 10000000ull ||
		    p.per_gap_ns > 60000000000ull))
		return cmd_failf("bad --per-gap '%s': 10ms to 60s", per);
	struct probe_env e;
	probe_cmd_begin(&e);
	return probe_cmd_end(hq_json, "wakeup", wakeup_run(&p), &e, wakeup_print, true);
}
