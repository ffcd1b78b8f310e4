/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq fit: does a VM fit in one NUMA node of this host (or of a host
 * shape given on the command line), and which vSocket x vCore shape, vNUMA
 * layout and memory binding should it get?  The logic is topo/fit.c, the
 * output sinks/fit.c; this file reads the options and the host's shape.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../core/util.h"
#include "../sinks/fit.h"
#include "../sinks/report.h"
#include "../topo/fit.h"
#include "../topo/topo.h"
#include "cmd.h"
#include "cmdutil.h"
#include "topo_common.h"

static void usage(FILE *out)
{
	fputs("Usage: hiddenq fit --vcpus N --mem SIZE [HOST SHAPE] [OPTIONS]\n"
	      "\n"
	      "Say whether a VM fits in one NUMA node, why, and which vSocket x vCore\n"
	      "shape and vNUMA layout it should get, as libvirt XML and QEMU options.\n"
	      "Memory is a dimension too: a VM whose vCPUs fit one node but whose memory\n"
	      "does not gets a vNUMA node per host node it spans.\n"
	      "\n"
	      "The VM:\n"
	      "  -c, --vcpus N              number of vCPUs\n"
	      "  -m, --mem SIZE             memory: 192G, 512M, 1.5T (binary units; bare = GiB)\n"
	      "\n"
	      "The host (default: this machine's topology):\n"
	      "      --sockets N            sockets\n"
	      "      --cores-per-socket N   physical cores per socket\n"
	      "      --threads-per-core N   hardware threads per core (default 1)\n"
	      "      --nodes N              NUMA nodes (default: one per socket)\n"
	      "      --mem-per-node SIZE    usable memory of each node\n"
	      "  -r, --replay DIR           the host of a capture bundle instead\n",
	      out);
	cmd_help_end(out, "0 fits cleanly, 1 fits with caveats (no headroom, uneven\n"
			  "split, hyper-threads needed), 2 does not fit the host, 3 bad arguments.");
	fputs("\n"
	      "Examples:\n"
	      "  hiddenq fit --vcpus 8 --mem 64G\n"
	      "  hiddenq fit --sockets 2 --cores-per-socket 10 --mem-per-node 128G --vcpus 8 --mem 192G\n",
	      out);
}

/* "bad --what 'arg': hint" (or "unexpected argument 'arg'" with what NULL) */
static int bad_arg(bool json, const char *what, const char *arg, const char *hint)
{
	char *m = what ? xasprintf("bad --%s '%s': %s", what, arg, hint) : xasprintf("unexpected argument '%s'", arg);
	int r = cmd_fail(json, m);
	free(m);
	return r;
}

int cmd_fit(int argc, char **argv)
{
	enum { O_SOCKETS = 256, O_CPS, O_TPC, O_NODES, O_MPN };
	static const struct option opts[] = {
		{ "vcpus", required_argument, NULL, 'c' },
		{ "mem", required_argument, NULL, 'm' },
		{ "sockets", required_argument, NULL, O_SOCKETS },
		{ "cores-per-socket", required_argument, NULL, O_CPS },
		{ "threads-per-core", required_argument, NULL, O_TPC },
		{ "nodes", required_argument, NULL, O_NODES },
		{ "mem-per-node", required_argument, NULL, O_MPN },
		{ "replay", required_argument, NULL, 'r' },
		{ 0 },
	};
	struct fit_vm vm = { 0 };
	struct fit_host_src hs;
	memset(&hs, 0, sizeof(hs));
	bool shape = false, have_vcpus = false, have_mem = false;
	bool have_sockets = false, have_cps = false, have_mpn = false;
	const char *replay = NULL;
	uint64_t u;
	int c;
	hs.h.threads_per_core = 1;
	struct cmd_parse p;
	cmd_parse_init(&p, "fit", argc, argv, "c:m:r:", opts, usage);
	while ((c = cmd_parse_next(&p)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return p.exit_code;
		case 'c':
			if (parse_uint(optarg, FIT_MAX_VCPUS, &u) < 0 || u < 1)
				return bad_arg(hq_json, "vcpus", optarg, "a whole number from 1 to 4096");
			vm.vcpus = (unsigned)u;
			have_vcpus = true;
			break;
		case 'm':
			if (fit_parse_mem(optarg, &vm.mem_mib) < 0)
				return bad_arg(hq_json, "mem", optarg, "use e.g. 192G, 512M or 1.5T");
			have_mem = true;
			break;
		case O_SOCKETS:
			if (parse_uint(optarg, 1024, &u) < 0 || u < 1)
				return bad_arg(hq_json, "sockets", optarg, "a whole number from 1 to 1024");
			hs.h.sockets = (unsigned)u;
			shape = have_sockets = true;
			break;
		case O_CPS:
			if (parse_uint(optarg, 4096, &u) < 0 || u < 1)
				return bad_arg(hq_json, "cores-per-socket", optarg, "a whole number from 1 to 4096");
			hs.h.cores_per_socket = (unsigned)u;
			shape = have_cps = true;
			break;
		case O_TPC:
			if (parse_uint(optarg, 8, &u) < 0 || u < 1)
				return bad_arg(hq_json, "threads-per-core", optarg, "a whole number from 1 to 8");
			hs.h.threads_per_core = (unsigned)u;
			shape = true;
			break;
		case O_NODES:
			if (parse_uint(optarg, FIT_MAX_NODES, &u) < 0 || u < 1)
				return bad_arg(hq_json, "nodes", optarg, "a whole number from 1 to 64");
			hs.h.nodes = (unsigned)u;
			shape = true;
			break;
		case O_MPN:
			if (fit_parse_mem(optarg, &hs.h.mem_per_node_mib) < 0)
				return bad_arg(hq_json, "mem-per-node", optarg, "use e.g. 128G or 512M");
			shape = have_mpn = true;
			break;
		case 'r': replay = optarg; break;
		}
	}
	if (cmd_parse_end(&p))
		return EXIT_UNUSABLE;
	bool json = hq_json;
	if (!have_vcpus || !have_mem)
		return cmd_fail(json, "fit needs the VM: --vcpus N and --mem SIZE");
	if (shape && replay)
		return cmd_fail(json, "give either a host shape or --replay, not both");
	if (shape && (!have_sockets || !have_cps || !have_mpn))
		return cmd_fail(json, "a host shape needs --sockets, --cores-per-socket and --mem-per-node "
				       "(--threads-per-core and --nodes are optional)");

	if (shape) {
		hs.source = "options";
		hs.mem_source = "--mem-per-node";
	} else {
		struct fsroot root;
		char *why, *tmpdir;
		if (topo_root_open(replay, &root, &tmpdir, &why) < 0) {
			int r = cmd_fail(json, why);
			free(why);
			return r;
		}
		struct topo t;
		int ret = topo_read(&root, &t);
		if (ret == 0)
			ret = fit_host_from_topo(&t, &hs, &why);
		else
			why = xstrdup("cannot read this host's topology; give the shape with --sockets, "
				      "--cores-per-socket and --mem-per-node");
		for (size_t i = 0; i < t.nwarnings; i++)
			log_warn("%s", t.warnings[i]);
		topo_done(&t);
		topo_root_close(&root, tmpdir);
		if (ret < 0) {
			int r = cmd_fail(json, why);
			free(why);
			return r;
		}
		hs.source = replay ? replay : "live";
	}

	struct fit_verdict v;
	fit_compute(&hs.h, &vm, &v);
	if (v.kind == FIT_BAD_INPUT) {
		fit_done(&v);
		return cmd_fail(json, v.reason);
	}
	/* a verdict that memory decided, on per-node figures known to be short, says so */
	bool mem_decided = v.kind == FIT_TOO_BIG || (v.cpus_fit_one_node && v.kind != FIT_ONE_NODE) || v.no_headroom;
	if (hs.mem_lazy && mem_decided && v.nnotes < sizeof(v.notes) / sizeof(v.notes[0]))
		snprintf(v.notes[v.nnotes++], sizeof(v.notes[0]),
			 "judged on per-node memory known to be short (%.160s): the host may well have room; run again "
			 "once the counts are complete, or give --mem-per-node",
			 hs.mem_note);
	if (json) {
		json_t *j = fit_json(&v, &hs, &vm);
		json_print(stdout, j);
		json_decref(j);
	} else {
		fit_print(stdout, &v, &hs, &vm);
	}
	int code = v.exit_code;
	fit_done(&v);
	fflush(stdout);
	return code;
}
