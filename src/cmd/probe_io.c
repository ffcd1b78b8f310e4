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
#include "cmdutil.h"
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
	      "\n"
	      "The file the probe creates is removed at exit, also on Ctrl-C.\n"
	      "Reference: fio --ioengine=psync --direct=1 --rw=randread --bs=4k --iodepth=1.\n",
	      out);
	cmd_help_end(out, "0 measured, 3 bad arguments or no request completed (no writable\n"
			  "directory, the file could not be created or read).");
}

int cmd_probe_io(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'D' },      { "file", required_argument, NULL, 'F' },
		{ "size", required_argument, NULL, 's' },     { "target", required_argument, NULL, 'T' },
		{ "write", no_argument, NULL, 'w' },	      { "duration", required_argument, NULL, 'd' },
		{ "gap", required_argument, NULL, 'g' },      { "no-spaced", no_argument, NULL, 'N' },
		{ "quick", no_argument, NULL, 'Q' },	      { 0 },
	};
	struct io_params p = { .size = 256ull << 20, .phase_ns = 3000000000ull, .gap_ns = 2000000 };
	bool json = false, quick = false, size_set = false, dur_set = false;
	int c;
	struct cmd_parse cp;
	cmd_parse_init(&cp, "probe io", argc, argv, "s:wd:", opts, usage);
	while ((c = cmd_parse_next(&cp)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return cp.exit_code;
		case 'D': p.dir = optarg; break;
		case 'F': p.file = optarg; break;
		case 's':
			if (parse_size(optarg, &p.size) < 0 || p.size < 4096 || p.size > (64ull << 30))
				return cmd_failf("bad --size '%s': 4K to 64G", optarg);
			size_set = true;
			break;
		case 'T': p.target = optarg; break;
		case 'w': p.write = true; break;
		case 'd':
			if (parse_duration_range(optarg, 10000000ull, 600000000000ull, &p.phase_ns) < 0)
				return cmd_failf("bad --duration '%s': e.g. 3s (10ms to 10 min)", optarg);
			dur_set = true;
			break;
		case 'g':
			if (parse_duration_range(optarg, 1000ull, 1000000000ull, &p.gap_ns) < 0)
				return cmd_failf("bad --gap '%s': e.g. 2ms (1us to 1s)", optarg);
			break;
		case 'N': p.no_spaced = true; break;
		case 'Q': quick = true; break;
		}
	}
	if (cmd_parse_end(&cp))
		return EXIT_UNUSABLE;
	json = hq_json;
	if (p.target && p.write)
		return cmd_failf("--write works only on the probe's own file: it never writes to --target");
	if (p.target && (p.file || p.dir))
		return cmd_failf("--target reads an existing file; --file and --dir create one: choose");
	if (p.file && p.dir)
		return cmd_failf("--file and --dir: give one");
	if (quick) {
		if (!size_set)
			p.size = 32ull << 20;
		if (!dur_set)
			p.phase_ns = 1000000000ull;
	}
	if (p.size & 4095ull) {
		log_warn("--size %llu is not a multiple of 4 KiB (O_DIRECT reads): using %llu", (unsigned long long)p.size,
			 (unsigned long long)(p.size & ~4095ull));
		p.size &= ~4095ull;
	}
	if (p.target && size_set)
		return cmd_failf("--size is the size of the file the probe creates: --target reads an existing one whole");
	if (p.no_spaced && cmd_parse_count(&cp, "gap"))
		return cmd_failf("--gap spaces the second phase, which --no-spaced leaves out");
	struct probe_env e;
	probe_cmd_begin(&e);
	return probe_cmd_end(json, "io", io_run(&p), &e, io_print, true);
}
