/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq probe NAME: the active experiments.  One table, like bpftool's
 * cmd_select(): each probe parses its own options and prints its own help
 * (cmd/probe_NAME.c).
 */
#include <stdio.h>
#include <string.h>

#include "../sinks/probe.h"
#include "../core/util.h"
#include "cmd.h"
#include "cmdutil.h"
#include "probe_cmd.h"

static const struct probe_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} probes[] = {
	{ "jitter", cmd_probe_jitter, "how late a thread wakes from short sleeps; gaps in a busy loop" },
	{ "mem", cmd_probe_mem, "memory latency from L1 to GiB, per NUMA node pair; bandwidth" },
	{ "io", cmd_probe_io, "QD=1 4 KiB O_DIRECT reads (or write+fsync); the idle-gap effect" },
	{ "oversub", cmd_probe_oversub, "a periodic victim task against 0..4x CPU-bound competitors" },
	{ "dirty", cmd_probe_dirty, "how fast memory is dirtied; pre-copy live migration prediction" },
	{ "net", cmd_probe_net, "packets per second through a veth pair, one queue vs several" },
	{ "wakeup", cmd_probe_wakeup, "waking a thread on an idle vCPU at rising idle gaps; halt polling" },
	{ NULL, NULL, NULL },
};

static void usage(FILE *out)
{
	fputs("Usage: hiddenq probe NAME [OPTIONS]   (hiddenq probe NAME --help)\n"
	      "\n"
	      "Active experiments.  Each is bounded in time, memory and disk, removes what it\n"
	      "created (also on Ctrl-C), never writes to a block device, and reports a latency\n"
	      "histogram (p50/p90/p99/p99.9/max) with the context it ran in.\n"
	      "\nProbes:\n",
	      out);
	for (const struct probe_cmd *p = probes; p->name; p++)
		fprintf(out, "  %-9s %s\n", p->name, p->help);
	cmd_help_end(out, "0 measured, 3 bad arguments or nothing could be measured.");
}

int cmd_probe(int argc, char **argv)
{
	int i;
	int r = cmd_globals(argc, argv, &i, usage);
	if (r >= 0)
		return r;
	if (i >= argc)
		return cmd_failf("probe: which one? (jitter, mem, io, oversub, dirty, net, wakeup; hiddenq probe --help)");
	const char *name = argv[i];
	if (!strcmp(name, "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	for (const struct probe_cmd *p = probes; p->name; p++)
		if (!strcmp(p->name, name))
			return p->fn(argc - i, argv + i);
	cmd_json_anywhere(argc, argv, i);
	return cmd_failf("probe: unknown probe '%s' (jitter, mem, io, oversub, dirty, net, wakeup)", name);
}

void probe_cmd_begin(struct probe_env *e)
{
	probe_setup_signals();
	probe_env_begin(e);
}

int probe_cmd_end(bool json, const char *name, json_t *r, struct probe_env *e, void (*print)(FILE *out, json_t *r),
		  bool fail_on_error)
{
	probe_env_end(e);
	const char *err = json_string_value(json_object_get(r, "error"));
	bool failed = fail_on_error && err;
	probe_emit(json || hq_json, name, r, probe_env_json(e), print, failed);
	/* the reason on stderr too, as every command's errors: never exit 3 in silence */
	if (failed)
		log_err("probe %s: %s", name, err);
	json_decref(r);
	probe_env_done(e);
	return failed ? EXIT_UNUSABLE : EXIT_OK;
}
