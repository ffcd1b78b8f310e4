/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq topo: the machine's shape as the kernel shows it (sockets, cores,
 * threads, NUMA nodes with memory and distances, caches, offline CPUs,
 * device locality), the hypervisor and whether the guest got vNUMA, plus a
 * DPDK cpu_layout-style socket x core table.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../analysis/stack.h"
#include "../core/util.h"
#include "../sample/bundle.h"
#include "../sys/stackprobe.h"
#include "../sinks/report.h"
#include "../sinks/topo.h"
#include "../topo/topo.h"
#include "../topo/view.h"
#include "cmd.h"
#include "cmdutil.h"
#include "topo_common.h"

static void usage(FILE *out)
{
	fputs("Usage: hiddenq topo [OPTIONS]\n"
	      "\n"
	      "Show sockets, cores, hardware threads, NUMA nodes (memory, distances),\n"
	      "caches and who shares them, offline CPUs, the NUMA node of each NIC, disk\n"
	      "and GPU, the hypervisor, and whether this guest was given vNUMA; then the\n"
	      "virtualization stack: hypervisor and nesting level, container, each NIC's\n"
	      "and disk's kind, confidential VM and bounce buffers, GPU sharing, CPU\n"
	      "mitigations and their cost, the system UUID; each fact with its source.\n"
	      "\n"
	      "Options:\n"
	      "  -r, --replay DIR   read the topology stored in a capture bundle\n"
	      "      --no-hwloc     do not ask hwloc for device locality\n",
	      out);
	cmd_help_end(out, "0 shown, 3 bad arguments or no topology could be read.");
	fputs("\n"
	      "Examples:\n"
	      "  hiddenq topo\n"
	      "  hiddenq topo --json | jq .nodes\n"
	      "  hiddenq fit --vcpus 8 --mem 192G      # does a VM fit one NUMA node here?\n",
	      out);
}

/* ---- opening the root: live or a bundle's first sample ---- */

int topo_root_open(const char *replay, struct fsroot *root, char **tmpdir, char **why)
{
	*why = NULL;
	*tmpdir = NULL;
	if (!replay) {
		int ret = fsroot_init(root, "/", false);
		if (ret < 0)
			*why = xasprintf("cannot open /: %s", strerror(-ret));
		return ret;
	}
	struct bundle_reader br;
	int ret = bundle_open(&br, replay, why);
	if (ret < 0)
		return ret;
	ret = bundle_statics_root(&br, replay, root, tmpdir, why);
	bundle_close(&br);
	return ret;
}

void topo_root_close(struct fsroot *root, char *tmpdir)
{
	fsroot_done(root);
	bundle_statics_remove(tmpdir);
}

int cmd_topo(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "replay", required_argument, NULL, 'r' },
		{ "no-hwloc", no_argument, NULL, 'H' },
		{ 0 },
	};
	const char *replay = NULL;
	bool use_hwloc = true;
	int c;
	struct cmd_parse p;
	cmd_parse_init(&p, "topo", argc, argv, "r:", opts, usage);
	while ((c = cmd_parse_next(&p)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return p.exit_code;
		case 'r': replay = optarg; break;
		case 'H': use_hwloc = false; break;
		}
	}
	if (replay && cmd_parse_refuse_with(&p, "--replay", (const char *const[]){ "no-hwloc", NULL }))
		return EXIT_UNUSABLE;
	if (cmd_parse_end(&p))
		return EXIT_UNUSABLE;
	bool json = hq_json;
	struct fsroot root;
	char *why, *tmpdir;
	if (topo_root_open(replay, &root, &tmpdir, &why) < 0) {
		int r = cmd_fail(json, why);
		free(why);
		return r;
	}
	struct topo t;
	int ret = topo_read(&root, &t);
	if (ret < 0) {
		char *m = xasprintf("no CPU topology under %s: neither sys/devices/system/cpu nor proc/cpuinfo",
				    replay ? root.path : "/");
		int r = cmd_fail(json, m);
		free(m);
		topo_done(&t);
		topo_root_close(&root, tmpdir);
		return r;
	}
	struct topo_view v;
	topo_view_init(&v, &t, &root, replay == NULL, replay ? replay : "live");
	if (!replay && use_hwloc)
		v.hwloc = topo_hwloc_devices(&t);
	/* the virtualization stack, from the same files a capture keeps (sample 0 of a bundle) */
	struct sample st;
	sample_init(&st);
	stack_capture_static(&root, replay == NULL, &st);
	struct stack *stk = xcalloc(1, sizeof(*stk));
	stack_build(&st, &v.id, stk);
	v.stack = stk;
	if (json) {
		json_t *j = topo_json(&v);
		json_print(stdout, j);
		json_decref(j);
	} else {
		topo_print(stdout, &v);
	}
	topo_view_done(&v);
	free(stk);
	sample_done(&st);
	topo_done(&t);
	topo_root_close(&root, tmpdir);
	fflush(stdout);
	return EXIT_OK;
}
