/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq lab: the options; the experiments are probe/lab.c, their text
 * sinks/lab.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/json.h"
#include "../core/util.h"
#include "../probe/lab.h"
#include "../sinks/lab.h"
#include "../sinks/probe.h"
#include "cmd.h"
#include "cmdutil.h"

static void usage(FILE *out)
{
	fputs("Usage: hiddenq lab [OPTIONS]\n"
	      "\n"
	      "The five classic experiments (cross-NUMA penalty, vCPU oversubscription,\n"
	      "memory overcommit with a working-set spike, single vs multi-queue networking,\n"
	      "IO path latency stacking) and the idle-vCPU wake-up, as far as this machine\n"
	      "allows; for the rest, what they would need.  About 70 s (--quick: about 18 s).\n"
	      "\n"
	      "Options:\n"
	      "      --quick           short runs\n"
	      "  -e, --only ID         one experiment: cross-numa, vcpu-oversubscription,\n"
	      "                        memory-overcommit, single-vs-multi-queue, io-layer-stacking,\n"
	      "                        idle-vcpu-wakeup\n"
	      "      --with-vm         also in a QEMU test VM (TCG): the IO probe inside a\n"
	      "                        virtio-blk disk (cache=none) backed by a file here, and a\n"
	      "                        spike in a guest shrunk by its balloon; at most 45 s more\n"
	      "                        (90 s without --quick).  Needs the source tree's\n"
	      "                        scripts/labvm.py, /usr/bin/python3, QEMU, a guest kernel,\n"
	      "                        busybox-static and build/hiddenq-static\n"
	      "      --vm-driver PATH  the VM driver (default: $HIDDENQ_LAB_VM, else\n"
	      "                        ../scripts/labvm.py next to this binary)\n"
	      "      --spike MIB       only grow a working set to MIB MiB here, no cgroup, and\n"
	      "                        report how far it got (what the VM driver runs in a guest)\n"
	      "  -v, --verbose         each probe's full output too\n",
	      out);
	cmd_help_end(out, "0 the experiments ran (each says whether it measured, in part, or\n"
			  "why it could not); 3 bad arguments, or --spike could not run.");
}

int cmd_lab(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'Q' },	      { "only", required_argument, NULL, 'e' },
		{ "verbose", no_argument, NULL, 'v' },	      { "with-vm", no_argument, NULL, 'W' },
		{ "vm-driver", required_argument, NULL, 'P' }, { "spike", required_argument, NULL, 'S' },
		{ 0 },
	};
	bool quick = false, verbose = false, with_vm = false;
	const char *only = NULL, *driver = NULL;
	uint64_t spike = 0;
	int c;
	struct cmd_parse p;
	cmd_parse_init(&p, "lab", argc, argv, "e:v", opts, usage);
	while ((c = cmd_parse_next(&p)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return p.exit_code;
		case 'Q': quick = true; break;
		case 'e': only = optarg; break;
		case 'v': verbose = true; break;
		case 'W': with_vm = true; break;
		case 'P': driver = optarg; break;
		case 'S':
			if (parse_uint(optarg, 65536, &spike) < 0 || spike < 4)
				return cmd_failf("bad --spike '%s': MiB, 4 to 65536", optarg);
			break;
		}
	}
	if (cmd_parse_end(&p))
		return EXIT_UNUSABLE;
	bool json = hq_json;
	if (spike && (quick || only || with_vm || driver || verbose))
		return cmd_failf("--spike runs the working-set spike alone: no --quick, --only, --with-vm, --vm-driver "
				 "or --verbose");
	if (spike) {
		json_t *doc = lab_spike((unsigned)spike);
		const char *err = json_string_value(json_object_get(json_object_get(doc, "spike"), "error"));
		int rc = err ? EXIT_UNUSABLE : EXIT_OK;
		if (err) {
			json_object_set_new(doc, "error", jstr(err));
			json_object_set_new(doc, "exit", json_integer(EXIT_UNUSABLE));
			log_err("lab --spike: %s", err);
		}
		if (json) {
			char *t = json_dumps(doc, JSON_INDENT(2));
			if (t)
				printf("%s\n", t);
			free(t);
		} else {
			lab_spike_print(stdout, doc, (unsigned)spike);
		}
		fflush(stdout);
		json_decref(doc);
		return rc;
	}
	if (driver && !with_vm)
		return cmd_failf("--vm-driver goes with --with-vm");
	bool known = !only || lab_known(only);
	if (!known)
		return cmd_failf("unknown experiment '%s' (cross-numa, vcpu-oversubscription, memory-overcommit, "
				 "single-vs-multi-queue, io-layer-stacking)", only);
	struct lab_opts lo = { .quick = quick, .with_vm = with_vm, .only = only, .driver = driver,
			       .progress = !json && !hq_quiet };
	struct lab_result res;
	lab_run(&lo, &res);
	if (json) {
		char *t = json_dumps(res.doc, JSON_INDENT(2));
		if (t)
			printf("%s\n", t);
		free(t);
	} else {
		lab_print(stdout, res.doc, verbose, res.vm_why, res.vm_driver, res.vm_elapsed_s);
	}
	fflush(stdout);
	lab_result_done(&res);
	return EXIT_OK;
}
