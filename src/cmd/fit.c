/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq fit: does a VM fit in one NUMA node of this host (or of a host
 * shape given on the command line), and which vSocket x vCore shape, vNUMA
 * layout and memory binding should it get?  The logic is topo/fit.c; this
 * file gets the host shape and prints.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../core/util.h"
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
	      "  -r, --replay DIR           the host of a capture bundle instead\n"
	      "\n"
	      "Options:\n"
	      "  -j, --json                 one JSON object on stdout\n"
	      "  -q, --quiet                no warnings on stderr\n"
	      "  -h, --help                 this help\n"
	      "\n"
	      "Exit status: 0 fits cleanly, 1 fits with caveats (no headroom, uneven\n"
	      "split, hyper-threads needed), 2 does not fit the host, 3 bad arguments.\n"
	      "\n"
	      "Examples:\n"
	      "  hiddenq fit --vcpus 8 --mem 64G\n"
	      "  hiddenq fit --sockets 2 --cores-per-socket 10 --mem-per-node 128G --vcpus 8 --mem 192G\n",
	      out);
}

struct host_src {
	struct fit_host h;
	int node_ids[FIT_MAX_NODES];
	const char *source;
	char why[256];		/* a remark on how the shape was derived, may be empty */
	const char *mem_source;	/* which figure sizes a node's memory (topo.node_mem_source, or the option) */
	char mem_note[320];	/* and why, may be empty */
	bool mem_lazy;		/* that figure is known to be short (lazily filled per-node counts) */
};

/* The host shape from a topology (live or bundle).  0 or -EINVAL with a reason. */
static int host_from_topo(const struct topo *t, struct host_src *hs, char **why)
{
	memset(&hs->h, 0, sizeof(hs->h));
	unsigned n = 0;
	uint64_t min_kib = 0;
	for (size_t i = 0; i < t->nnodes && n < FIT_MAX_NODES; i++) {
		const struct topo_node *nd = &t->nodes[i];
		if (!nd->ncpus || !nd->has_mem || !nd->mem_total_kib)
			continue; /* memory-only or CPU-only nodes cannot hold a VM alone */
		hs->node_ids[n++] = nd->id;
		if (!min_kib || nd->mem_total_kib < min_kib)
			min_kib = nd->mem_total_kib;
	}
	if (!n || !t->sockets || !t->cores_per_socket) {
		*why = xasprintf("cannot size against this host: no NUMA node with both CPUs and memory, or no "
				 "socket/core information; give the host shape with --sockets, --cores-per-socket "
				 "and --mem-per-node");
		return -EINVAL;
	}
	hs->h.sockets = t->sockets;
	hs->h.cores_per_socket = t->cores / t->sockets;
	hs->h.threads_per_core = t->threads_per_core ? t->threads_per_core : 1;
	hs->h.nodes = n;
	hs->h.mem_per_node_mib = min_kib / 1024;
	hs->h.node_ids = hs->node_ids;
	hs->mem_source = t->node_mem_source ? t->node_mem_source : "?";
	snprintf(hs->mem_note, sizeof(hs->mem_note), "%s", t->node_mem_note);
	hs->mem_lazy = t->node_mem_lazy;
	if (n > hs->h.sockets * hs->h.cores_per_socket)
		hs->h.nodes = hs->h.sockets * hs->h.cores_per_socket;
	if (!t->uniform)
		snprintf(hs->why, sizeof(hs->why), "the host is not uniform: using %u cores per socket on average",
			 hs->h.cores_per_socket);
	else if (n > 1)
		snprintf(hs->why, sizeof(hs->why), "memory per node is the smallest node's MemTotal");
	return 0;
}

static json_t *verdict_json(const struct fit_verdict *v, const struct host_src *hs, const struct fit_vm *vm)
{
	json_t *o = json_object();
	json_object_set_new(o, "hiddenq", json_string(HQ_VERSION));
	json_t *h = json_object();
	json_object_set_new(h, "source", json_string(hs->source));
	json_object_set_new(h, "sockets", json_integer(hs->h.sockets));
	json_object_set_new(h, "cores_per_socket", json_integer(hs->h.cores_per_socket));
	json_object_set_new(h, "threads_per_core", json_integer(hs->h.threads_per_core));
	json_object_set_new(h, "nodes", json_integer(v->host_nodes));
	json_object_set_new(h, "cores_per_node", json_integer(v->host_cores_per_node));
	json_object_set_new(h, "mem_per_node_mib", json_integer((json_int_t)hs->h.mem_per_node_mib));
	json_object_set_new(h, "mem_source", json_string(hs->mem_source));
	if (hs->mem_note[0])
		json_object_set_new(h, "mem_note", json_string(hs->mem_note));
	json_object_set_new(h, "mem_lower_bound", json_boolean(hs->mem_lazy));
	if (hs->why[0])
		json_object_set_new(h, "note", json_string(hs->why));
	json_object_set_new(o, "host", h);
	json_t *m = json_object();
	json_object_set_new(m, "vcpus", json_integer(vm->vcpus));
	json_object_set_new(m, "mem_mib", json_integer((json_int_t)vm->mem_mib));
	json_object_set_new(o, "vm", m);
	json_object_set_new(o, "verdict", json_string(fit_kind_name(v->kind)));
	bool fits = v->kind == FIT_ONE_NODE || v->kind == FIT_SPLIT || v->kind == FIT_UNEVEN;
	json_object_set_new(o, "fits", json_boolean(fits));
	json_object_set_new(o, "fits_one_node", json_boolean(v->kind == FIT_ONE_NODE));
	json_object_set_new(o, "cpus_fit_one_node", json_boolean(v->cpus_fit_one_node));
	json_object_set_new(o, "uses_threads", json_boolean(v->uses_threads));
	json_object_set_new(o, "headroom", json_boolean(fits && !v->no_headroom));
	json_object_set_new(o, "reason", json_string(v->reason));
	json_t *notes = json_array();
	for (unsigned i = 0; i < v->nnotes; i++)
		json_array_append_new(notes, json_string(v->notes[i]));
	json_object_set_new(o, "notes", notes);
	if (fits) {
		json_t *s = json_object();
		json_object_set_new(s, "sockets", json_integer(v->sockets));
		json_object_set_new(s, "dies", json_integer(v->dies));
		json_object_set_new(s, "cores", json_integer(v->cores));
		json_object_set_new(s, "threads", json_integer(v->threads));
		json_object_set_new(o, "shape", s);
		json_t *cells = json_array();
		for (unsigned i = 0; i < v->ncells; i++) {
			const struct fit_cell *c = &v->cells[i];
			json_t *e = json_object();
			char r[32];
			if (c->ncpus == 1)
				snprintf(r, sizeof(r), "%u", c->first_cpu);
			else
				snprintf(r, sizeof(r), "%u-%u", c->first_cpu, c->first_cpu + c->ncpus - 1);
			json_object_set_new(e, "id", json_integer(i));
			json_object_set_new(e, "cpus", json_string(r));
			json_object_set_new(e, "vcpus", json_integer(c->ncpus));
			json_object_set_new(e, "mem_mib", json_integer((json_int_t)c->mem_mib));
			json_object_set_new(e, "host_node", json_integer(c->host_node));
			json_array_append_new(cells, e);
		}
		json_object_set_new(o, "vnuma", cells);
		json_object_set_new(o, "libvirt", json_string(v->libvirt));
		json_object_set_new(o, "qemu", json_string(v->qemu));
	}
	if (v->kind == FIT_UNEVEN) {
		json_t *sg = json_array();
		if (v->suggest_lower)
			json_array_append_new(sg, json_integer(v->suggest_lower));
		if (v->suggest_upper)
			json_array_append_new(sg, json_integer(v->suggest_upper));
		json_object_set_new(o, "suggest_vcpus", sg);
	}
	json_object_set_new(o, "exit", json_integer(v->exit_code));
	return o;
}

static void print_block(const char *title, const char *text)
{
	printf("\n%s\n", title);
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		printf("  %.*s\n", (int)n, p);
		p += n + (nl ? 1 : 0);
	}
}

static void verdict_text(const struct fit_verdict *v, const struct host_src *hs, const struct fit_vm *vm)
{
	char a[32], b[32];
	fit_fmt_mib(hs->h.mem_per_node_mib, a, sizeof(a));
	fit_fmt_mib(vm->mem_mib, b, sizeof(b));
	printf("hiddenq %s fit — host (%s): %u socket%s × %u cores × %u thread%s, %u NUMA node%s × %s "
	       "(%u cores each)\n",
	       HQ_VERSION, hs->source, hs->h.sockets, hs->h.sockets == 1 ? "" : "s", hs->h.cores_per_socket,
	       hs->h.threads_per_core, hs->h.threads_per_core == 1 ? "" : "s", v->host_nodes,
	       v->host_nodes == 1 ? "" : "s", a, v->host_cores_per_node);
	if (hs->why[0])
		printf("  (%s)\n", hs->why);
	printf("  memory per node: %s%s%s%s\n", hs->mem_source, hs->mem_note[0] ? " (" : "", hs->mem_note,
	       hs->mem_note[0] ? ")" : "");
	printf("VM: %u vCPU%s, %s\n\n", vm->vcpus, vm->vcpus == 1 ? "" : "s", b);
	printf("%s: %s\n", fit_kind_name(v->kind), v->reason);
	for (unsigned i = 0; i < v->nnotes; i++)
		printf("  note: %s\n", v->notes[i]);
	if (v->libvirt)
		print_block("libvirt domain XML:", v->libvirt);
	if (v->qemu)
		print_block("QEMU:", v->qemu);
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
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct fit_vm vm = { 0 };
	struct host_src hs;
	memset(&hs, 0, sizeof(hs));
	bool json = false, shape = false, have_vcpus = false, have_mem = false;
	bool have_sockets = false, have_cps = false, have_mpn = false;
	const char *replay = NULL;
	uint64_t u;
	int c;
	optind = 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			json = true;
	hs.h.threads_per_core = 1;
	while ((c = getopt_long(argc, argv, "c:m:r:jqh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_uint(optarg, FIT_MAX_VCPUS, &u) < 0 || u < 1)
				return bad_arg(json, "vcpus", optarg, "a whole number from 1 to 4096");
			vm.vcpus = (unsigned)u;
			have_vcpus = true;
			break;
		case 'm':
			if (fit_parse_mem(optarg, &vm.mem_mib) < 0)
				return bad_arg(json, "mem", optarg, "use e.g. 192G, 512M or 1.5T");
			have_mem = true;
			break;
		case O_SOCKETS:
			if (parse_uint(optarg, 1024, &u) < 0 || u < 1)
				return bad_arg(json, "sockets", optarg, "a whole number from 1 to 1024");
			hs.h.sockets = (unsigned)u;
			shape = have_sockets = true;
			break;
		case O_CPS:
			if (parse_uint(optarg, 4096, &u) < 0 || u < 1)
				return bad_arg(json, "cores-per-socket", optarg, "a whole number from 1 to 4096");
			hs.h.cores_per_socket = (unsigned)u;
			shape = have_cps = true;
			break;
		case O_TPC:
			if (parse_uint(optarg, 8, &u) < 0 || u < 1)
				return bad_arg(json, "threads-per-core", optarg, "a whole number from 1 to 8");
			hs.h.threads_per_core = (unsigned)u;
			shape = true;
			break;
		case O_NODES:
			if (parse_uint(optarg, FIT_MAX_NODES, &u) < 0 || u < 1)
				return bad_arg(json, "nodes", optarg, "a whole number from 1 to 64");
			hs.h.nodes = (unsigned)u;
			shape = true;
			break;
		case O_MPN:
			if (fit_parse_mem(optarg, &hs.h.mem_per_node_mib) < 0)
				return bad_arg(json, "mem-per-node", optarg, "use e.g. 128G or 512M");
			shape = have_mpn = true;
			break;
		case 'r': replay = optarg; break;
		case 'j': json = true; break;
		case 'q': hq_quiet = true; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return cmd_fail(json, "bad arguments to fit");
		}
	}
	if (optind < argc)
		return bad_arg(json, NULL, argv[optind], NULL);
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
		char *why;
		if (topo_root_open(replay, &root, &why) < 0) {
			int r = cmd_fail(json, why);
			free(why);
			return r;
		}
		struct topo t;
		int ret = topo_read(&root, &t);
		if (ret == 0)
			ret = host_from_topo(&t, &hs, &why);
		else
			why = xstrdup("cannot read this host's topology; give the shape with --sockets, "
				      "--cores-per-socket and --mem-per-node");
		for (size_t i = 0; i < t.nwarnings; i++)
			log_warn("%s", t.warnings[i]);
		topo_done(&t);
		fsroot_done(&root);
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
		json_t *j = verdict_json(&v, &hs, &vm);
		json_print(stdout, j);
		json_decref(j);
	} else {
		verdict_text(&v, &hs, &vm);
	}
	int code = v.exit_code;
	fit_done(&v);
	fflush(stdout);
	return code;
}
