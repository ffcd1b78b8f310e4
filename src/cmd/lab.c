/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq lab: the options; the experiments are probe/lab.c, their text
 * sinks/lab.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../probe/lab.h"
#include "../sinks/lab.h"
#include "../sinks/probe.h"
#include "cmd.h"

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
	      "  -v, --verbose         each probe's full output too\n"
	      "  -j, --json            JSON on stdout\n"
	      "  -h, --help            this help\n",
	      out);
}

int cmd_lab(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'Q' },	      { "only", required_argument, NULL, 'e' },
		{ "verbose", no_argument, NULL, 'v' },	      { "json", no_argument, NULL, 'j' },
		{ "with-vm", no_argument, NULL, 'V' },	      { "vm-driver", required_argument, NULL, 'P' },
		{ "spike", required_argument, NULL, 'S' },    { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool json = false, quick = false, verbose = false, with_vm = false;
	const char *only = NULL, *driver = NULL;
	uint64_t spike = 0;
	int c;
	optind = 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			json = true;
	while ((c = getopt_long(argc, argv, "e:vjh", opts, NULL)) != -1) {
		switch (c) {
		case 'Q': quick = true; break;
		case 'e': only = optarg; break;
		case 'v': verbose = true; break;
		case 'j': json = true; break;
		case 'V': with_vm = true; break;
		case 'P': driver = optarg; break;
		case 'S':
			if (parse_uint(optarg, 65536, &spike) < 0 || spike < 4)
				return probe_fail(json, "bad --spike: MiB, 4 to 65536");
			break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return probe_fail(json, "bad arguments to lab");
		}
	}
	if (optind < argc)
		return probe_fail(json, "unexpected argument '%s'", argv[optind]);
	if (spike) {
		json_t *doc = lab_spike((unsigned)spike);
		int rc = json_object_get(json_object_get(doc, "spike"), "error") ? EXIT_UNUSABLE : EXIT_OK;
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
		return probe_fail(json, "--vm-driver goes with --with-vm");
	bool known = !only || lab_known(only);
	if (!known)
		return probe_fail(json, "unknown experiment '%s'", only);
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
