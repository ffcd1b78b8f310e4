/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq diagnose: watch the machine (or replay a bundle), then print the
 * findings per layer.  Exit code: 2 crit, 1 warn, 0 ok, 3 could not diagnose.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../analysis/analysis.h"
#include "../core/util.h"
#include "../sample/bundle.h"
#include "../host/vmscan.h"	/* VMSCAN_MAX_QMP */
#include "../sample/sampler.h"
#include "../sinks/report.h"
#include "cmd.h"
#include "cmdutil.h"

static void usage(FILE *out)
{
	fputs("Usage: hiddenq diagnose [OPTIONS]\n"
	      "\n"
	      "Watch this machine for a few seconds and say which layer holds the time:\n"
	      "the hypervisor's run queue (steal), the guest's own run queue, or CPU limits.\n"
	      "\n"
	      "Options:\n"
	      "  -d, --duration TIME   how long to watch (default 10s; 5, 5s, 500ms, 1m)\n"
	      "  -i, --interval TIME   sampling interval (default 100ms)\n"
	      "  -r, --replay DIR      analyse a capture bundle, or a recording (hiddenq\n"
	      "                        record), instead of this machine\n"
	      "      --from TIME       with --replay: from TIME (2026-12-03T02:00[:SS][Z], local\n"
	      "      --to TIME         time unless Z; or @EPOCH-SECONDS) to TIME\n"
	      "  -j, --json            one JSON object on stdout\n"
	      "  -v, --verbose         explain ok findings too\n"
	      "  -t, --threshold NAME=WARN,CRIT  override a threshold (see --list-thresholds)\n"
	      "      --thresholds FILE threshold overrides from an INI file ([thresholds],\n"
	      "                        NAME = WARN, CRIT), applied before -t\n"
	      "      --list-thresholds print the thresholds in force and exit (--json: as JSON)\n"
	      "      --color WHEN      auto, always or never (default auto; NO_COLOR respected)\n"
	      "      --runq-split      run-queue histograms by cause: woken vs preempted\n"
	      "                        (three programs and task storage instead of one;\n"
	      "                        costs a few % more on switch-heavy loads)\n"
	      "      --no-runq-cgroups no per-cgroup run-queue histograms\n"
	      "      --qmp NAME=SOCKET on a KVM host, read VM NAME's QMP monitor, a socket this\n"
	      "                        run owns (never one libvirt holds): a live migration\n"
	      "                        in flight is judged pass by pass; repeatable\n"
	      "  -q, --quiet           no warnings on stderr\n"
	      "  -h, --help            this help\n",
	      out);
	cmd_sources_help(out);
	fputs("\n"
	      "Exit status: 0 ok, 1 warn, 2 crit, 3 could not diagnose (bad arguments,\n"
	      "unusable input, or every finding unknown).\n"
	      "\n"
	      "Examples:\n"
	      "  hiddenq diagnose\n"
	      "  hiddenq diagnose --json --duration 5\n"
	      "  hiddenq capture -o /tmp/b -i 100ms -n 100 && hiddenq diagnose --replay /tmp/b\n",
	      out);
}

static int list_thresholds(bool json)
{
	if (!json) {
		for (int i = 0; i < T_COUNT; i++)
			printf("%-30s warn %-6g crit %-6g %-10s %s\n", thresholds[i].name, thresholds[i].warn,
			       thresholds[i].crit, thresholds[i].unit, thresholds[i].help);
		return EXIT_OK;
	}
	json_t *a = json_array();
	for (int i = 0; i < T_COUNT; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "name", jstr(thresholds[i].name));
		json_object_set_new(o, "warn", thresholds[i].warn >= 0 ? json_real(thresholds[i].warn) : json_null());
		json_object_set_new(o, "crit", thresholds[i].crit >= 0 ? json_real(thresholds[i].crit) : json_null());
		json_object_set_new(o, "unit", jstr(thresholds[i].unit));
		json_object_set_new(o, "help", jstr(thresholds[i].help));
		json_array_append_new(a, o);
	}
	json_t *o = json_object();
	json_object_set_new(o, "hiddenq", jstr(HQ_VERSION));
	json_object_set_new(o, "thresholds", a);
	json_print(stdout, o);
	json_decref(o);
	return EXIT_OK;
}

int cmd_diagnose(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, 'i' },
		{ "replay", required_argument, NULL, 'r' },
		{ "from", required_argument, NULL, 0x101 },
		{ "to", required_argument, NULL, 0x102 },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "threshold", required_argument, NULL, 't' },
		{ "list-thresholds", no_argument, NULL, 'L' },
		{ "thresholds", required_argument, NULL, 'F' },
		{ "color", required_argument, NULL, 'C' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "qmp", required_argument, NULL, 0x151 },
		{ "runq-split", no_argument, NULL, 'P' },
		{ "no-runq-cgroups", no_argument, NULL, 'Q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cmd_sources cs;
	cmd_sources_init(&cs);
	bool runq_split = false, runq_no_cg = false;
	uint64_t duration = 10000000000ull, interval = 100000000ull;
	const char *replay = NULL, *color = "auto";
	uint64_t from = 0, to = 0;
	bool json = false, verbose = false, list_thr = false;
	const char *thr_file = NULL;
	const char *tspecs[64];
	size_t ntspecs = 0;
	const char *qmp[VMSCAN_MAX_QMP + 1] = { 0 };	/* --qmp NAME=SOCKET, NULL-terminated */
	unsigned nqmp = 0;
	int c;
	optind = 1;
	/* --json must be known before any error is reported */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			json = true;
	const struct option *lopts = cmd_options_with_sources(opts);
	while ((c = getopt_long(argc, argv, "d:i:r:jvt:qh", lopts, NULL)) != -1) {
		int sr = cmd_sources_arg(&cs, c, optarg, json);
		if (sr < 0)
			return EXIT_UNUSABLE;
		if (sr > 0)
			continue;
		switch (c) {
		case 'd':
			if (parse_duration_ns(optarg, &duration) < 0)
				return cmd_fail(json, "bad --duration: use e.g. 10, 10s, 500ms or 1m (1 ms to 1 day)");
			break;
		case 'i':
			if (parse_duration_ns(optarg, &interval) < 0 || interval < 10000000ull)
				return cmd_fail(json, "bad --interval: use e.g. 100ms (at least 10ms)");
			break;
		case 'r':
			if (replay)
				return cmd_fail(json, "--replay given twice");
			replay = optarg;
			break;
		case 0x101:
		case 0x102: {
			char *why = NULL;
			if (parse_time_arg(optarg, c == 0x101 ? &from : &to, &why) < 0) {
				char *m = xasprintf("bad --%s: %s", c == 0x101 ? "from" : "to", why);
				int r = cmd_fail(json, m);
				free(m);
				free(why);
				return r;
			}
			break;
		}
		case 'j': json = true; break;
		case 'v': verbose = true; break;
		case 't':
			if (ntspecs == ARRAY_SIZE(tspecs))
				return cmd_fail(json, "too many --threshold options (64 at most)");
			tspecs[ntspecs++] = optarg;
			break;
		case 'F':
			if (thr_file)
				return cmd_fail(json, "--thresholds given twice");
			thr_file = optarg;
			break;
		case 'L': list_thr = true; break;
		case 'C': color = optarg; break;
		case 'q': hq_quiet = true; break;
		case 0x151:
			if (!strchr(optarg, '=') || optarg[0] == '=' || !strchr(optarg, '=')[1] || nqmp >= VMSCAN_MAX_QMP)
				return cmd_fail(json, "bad --qmp: use NAME=SOCKET (the VM's name, a QMP unix socket you own)");
			qmp[nqmp++] = optarg;
			break;
		case 'P': runq_split = true; break;
		case 'Q': runq_no_cg = true; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return cmd_fail(json, "bad arguments to diagnose");
		}
	}
	if (cmd_no_operands(json, argc, argv))
		return EXIT_UNUSABLE;
	char *why = NULL;
	if (thresholds_apply_args(thr_file, tspecs, ntspecs, &why) < 0) {
		int r = cmd_fail(json, why);
		free(why);
		return r;
	}
	if (list_thr)
		return list_thresholds(json);
	if (interval > duration)
		return cmd_fail(json, "--interval is longer than --duration");

	struct sampler_opts so = {
		.vms_qmp = qmp,
		.interval_ns = interval,
		.count = (unsigned)(duration / interval) + 1,
		.runq_split = runq_split,
		.runq_no_cgroups = runq_no_cg,
	};
	cmd_sources_apply(&cs, &so);
	struct engine_opts eo = { 0 };	/* batch: every rule over the whole watch */
	if ((from || to) && !replay)
		return cmd_fail(json, "--from and --to take a slice of a --replay bundle or recording");
	if (from && to && from > to)
		return cmd_fail(json, "--from is after --to");
	struct watch w = { .from_real = from, .to_real = to };
	if (watch_run(&w, replay, &so, &eo, json, "watching") != 0)
		return EXIT_UNUSABLE;
	struct findings fs = { 0 };
	engine_evaluate(w.engine, &fs);
	const struct analysis *an = engine_acquire(w.engine, 0);
	if (an->cpu.procstat_bad)
		log_warn("%u sample(s) had an unreadable, truncated or inconsistent proc/stat; they were left out",
			 an->cpu.procstat_bad);
	int code;
	if (an->cpu.nsamples < 2) {
		code = cmd_fail(json, "fewer than two usable samples: nothing can be computed");
	} else {
		code = findings_exit_code(&fs);
		if (json) {
			json_t *j = report_json(an, &fs);
			json_print(stdout, j);
			json_decref(j);
		} else {
			bool col = strcmp(color, "always") == 0 ||
				   (strcmp(color, "auto") == 0 && isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));
			struct report_opts ro = { .color = col, .verbose = verbose };
			report_text(stdout, an, &fs, &ro);
		}
	}
	findings_done(&fs);
	watch_done(&w);
	fflush(stdout);
	return code;
}
