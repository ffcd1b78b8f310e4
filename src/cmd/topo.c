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

#include "../core/util.h"
#include "../sample/bundle.h"
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
	      "and GPU, the hypervisor, and whether this guest was given vNUMA.\n"
	      "\n"
	      "Options:\n"
	      "  -r, --replay DIR   read the topology stored in a capture bundle\n"
	      "  -j, --json         one JSON object on stdout\n"
	      "      --no-hwloc     do not ask hwloc for device locality\n"
	      "  -q, --quiet        no warnings on stderr\n"
	      "  -h, --help         this help\n"
	      "\n"
	      "Exit status: 0, or 3 when no topology could be read.\n"
	      "\n"
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
		{ "json", no_argument, NULL, 'j' },
		{ "no-hwloc", no_argument, NULL, 'H' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *replay = NULL;
	bool json = false, use_hwloc = true;
	int c;
	optind = 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			json = true;
	while ((c = getopt_long(argc, argv, "r:jqh", opts, NULL)) != -1) {
		switch (c) {
		case 'r': replay = optarg; break;
		case 'j': json = true; break;
		case 'H': use_hwloc = false; break;
		case 'q': hq_quiet = true; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return cmd_fail(json, "bad arguments to topo");
		}
	}
	if (cmd_no_operands(json, argc, argv))
		return EXIT_UNUSABLE;
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
	if (json) {
		json_t *j = topo_json(&v);
		json_print(stdout, j);
		json_decref(j);
	} else {
		topo_print(stdout, &v);
	}
	topo_view_done(&v);
	topo_done(&t);
	topo_root_close(&root, tmpdir);
	fflush(stdout);
	return EXIT_OK;
}
