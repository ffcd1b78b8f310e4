/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq probe io: the options of the QD=1 IO latency probe (probe/io.c),
 * its run, and its report (sinks/probe.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../probe/probe.h"
#include "../sinks/probe.h"
#include "cmd.h"
#include "probe_cmd.h"

static void usage(FILE *out)
{
	fputs("Usage: hiddenq probe io [OPTIONS]\n"
	      "\n"
	      "QD=1 random 4 KiB O_DIRECT reads (or pwrite+fsync with --write) timed one by one,\n"
	      "back to back and then spaced out (the idle-gap effect).\n"
	      "\n"
	      "Options:\n"
	      "      --dir DIR         where to create the test file (default $TMPDIR or /var/tmp)\n"
	      "      --file PATH       create the test file at PATH (must not exist)\n"
	      "  -s, --size SIZE       test file size (default 256M; --quick 32M)\n"
	      "      --target PATH     an existing file or block device, opened read-only\n"
	      "  -w, --write           pwrite+fsync on the probe's own file (not with --target)\n"
	      "  -d, --duration TIME   per phase (default 3s; --quick 1s)\n"
	      "      --gap TIME        pause between spaced requests (default 2ms)\n"
	      "      --no-spaced       back to back only\n"
	      "      --quick           short run\n"
	      "  -j, --json            JSON on stdout\n"
	      "  -h, --help            this help\n"
	      "\n"
	      "The file the probe creates is removed at exit, also on Ctrl-C.\n"
	      "Reference: fio --ioengine=psync --direct=1 --rw=randread --bs=4k --iodepth=1.\n",
	      out);
}

int cmd_probe_io(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'D' },      { "file", required_argument, NULL, 'F' },
		{ "size", required_argument, NULL, 's' },     { "target", required_argument, NULL, 'T' },
		{ "write", no_argument, NULL, 'w' },	      { "duration", required_argument, NULL, 'd' },
		{ "gap", required_argument, NULL, 'g' },      { "no-spaced", no_argument, NULL, 'N' },
		{ "quick", no_argument, NULL, 'Q' },	      { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },	      { 0 },
	};
	struct io_params p = { .size = 256ull << 20, .phase_ns = 3000000000ull, .gap_ns = 2000000 };
	bool json = false, quick = false, size_set = false, dur_set = false;
	int c;
	optind = 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			json = true;
	while ((c = getopt_long(argc, argv, "s:wd:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'D': p.dir = optarg; break;
		case 'F': p.file = optarg; break;
		case 's':
			if (parse_size(optarg, &p.size) < 0 || p.size < 4096 || p.size > (64ull << 30))
				return probe_fail(json, "bad --size: 4K to 64G");
			size_set = true;
			break;
		case 'T': p.target = optarg; break;
		case 'w': p.write = true; break;
		case 'd':
			if (parse_duration_ns(optarg, &p.phase_ns) < 0 || p.phase_ns > 600000000000ull)
				return probe_fail(json, "bad --duration: e.g. 3s (at most 10 min)");
			dur_set = true;
			break;
		case 'g':
			if (parse_duration_ns(optarg, &p.gap_ns) < 0 || p.gap_ns > 1000000000ull)
				return probe_fail(json, "bad --gap: e.g. 2ms (at most 1s)");
			break;
		case 'N': p.no_spaced = true; break;
		case 'Q': quick = true; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return probe_fail(json, "bad arguments to probe io");
		}
	}
	if (optind < argc)
		return probe_fail(json, "unexpected argument '%s'", argv[optind]);
	if (p.target && p.write)
		return probe_fail(json, "--write works only on the probe's own file: it never writes to --target");
	if (p.target && (p.file || p.dir))
		return probe_fail(json, "--target reads an existing file; --file and --dir create one: choose");
	if (p.file && p.dir)
		return probe_fail(json, "--file and --dir: give one");
	if (quick) {
		if (!size_set)
			p.size = 32ull << 20;
		if (!dur_set)
			p.phase_ns = 1000000000ull;
	}
	p.size &= ~4095ull;
	struct probe_env e;
	probe_cmd_begin(&e);
	return probe_cmd_end(json, "io", io_run(&p), &e, io_print, true);
}
