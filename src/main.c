/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq: see the queues your VM can't see.  The command table lives here;
 * each command is one file in cmd/.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/cmdutil.h"
#include "core/util.h"

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{ "diagnose", cmd_diagnose, "watch for a few seconds, print findings per layer (the main job)" },
	{ "watch", cmd_watch, "run until stopped; one line each time a finding changes severity (logs, journald)" },
	{ "top", cmd_top, "the live view: a panel per layer, coloured by the thresholds; replay steps through time" },
	{ "serve", cmd_serve, "export every hidden queue and each finding's severity for Prometheus (OpenMetrics)" },
	{ "rules", cmd_rules, "Prometheus alert and recording rules, a Grafana dashboard, from the rule table" },
	{ "metrics", cmd_metrics, "every metric and source hiddenq knows, and which this machine can supply (and why not)" },
	{ "record", cmd_record, "keep every sample in a crash-safe recording, bounded by size and age" },
	{ "report", cmd_report, "a recording or bundle as one self-contained HTML report with plots (or --text)" },
	{ "capture", cmd_capture, "write the raw files hiddenq reads into a replayable bundle" },
	{ "topo", cmd_topo, "sockets, cores, threads, NUMA nodes, caches, device locality, vNUMA" },
	{ "fit", cmd_fit, "does a VM fit one NUMA node; its vSocket x vCore shape and vNUMA layout" },
	{ "vms", cmd_vms, "KVM host mode: per-vCPU run delay (the guests' steal), pinning overlap, VM memory" },
	{ "join", cmd_join, "a guest's bundle beside its host's: per vCPU steal against run delay, await against the VMM" },
	{ "audit", cmd_audit, "the tuning checklist for a host, its VMs (QEMU, libvirt XML) or a guest" },
	{ "probe", cmd_probe, "active experiments: jitter, mem, io, oversub, dirty, net, wakeup" },
	{ "lab", cmd_lab, "the five classic experiments and the idle-vCPU wake-up, as far as this machine allows" },
	{ "sim", cmd_sim, "a what-if model of a virtualized host (steal, NUMA, IO, memory, migration)" },
	{ NULL, NULL, NULL },
};

static void usage(FILE *out)
{
	fprintf(out, "hiddenq %s: see the queues your VM can't see\n\n"
		     "Usage: hiddenq [GLOBAL OPTIONS] COMMAND [OPTIONS]   (hiddenq COMMAND --help for its options)\n\n"
		     "Commands:\n",
		HQ_VERSION);
	for (const struct cmd *c = cmds; c->name; c++)
		fprintf(out, "  %-10s %s\n", c->name, c->help);
	fputs("\nGlobal options (before or after the command; every command takes them):\n"
	      "  -j, --json        one JSON document on stdout; errors as {\"error\": ...} there too\n"
	      "  -q, --quiet       no warnings or progress on stderr (errors still)\n"
	      "      --color WHEN  auto, always or never (default auto; NO_COLOR respected)\n"
	      "  -h, --help        this help (hiddenq COMMAND --help: the command's)\n"
	      "  -V, --version     the version and the features of this build\n"
	      "\nWith no command, hiddenq runs diagnose.\n"
	      "\nExit status: 0 ok (or done), 1 warn, 2 crit, 3 bad arguments or could not run;\n"
	      "each command's --help says what its codes mean.\n",
	      out);
}

int main(int argc, char **argv)
{
	int i;
	int r = cmd_globals(argc, argv, &i, usage); /* parsed once, before dispatch */
	if (r >= 0)
		return r;
	/* argv[i - 1] stands in as the command's argv[0] */
	if (i >= argc)
		return cmd_diagnose(1, argv + i - 1);
	const char *name = argv[i];
	if (!strcmp(name, "help")) {
		if (i + 1 < argc) {
			for (const struct cmd *c = cmds; c->name; c++)
				if (!strcmp(c->name, argv[i + 1])) {
					char *av[] = { argv[i + 1], (char *)"--help", NULL };
					return c->fn(2, av);
				}
			return cmd_failf("help: no command is called '%s' (hiddenq --help lists them)", argv[i + 1]);
		}
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(name, "version"))
		return cmd_version();
	if (name[0] == '-')
		return cmd_diagnose(argc - i + 1, argv + i - 1);
	for (const struct cmd *c = cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c->fn(argc - i, argv + i);
	cmd_json_anywhere(argc, argv, i);
	return cmd_failf("unknown command '%s' (hiddenq --help lists them)", name);
}
