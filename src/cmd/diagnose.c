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
#include "../host/vmscan.h"	/* VMSCAN_MAX_QMP */
#include "../sample/bundle.h"
#include "../sample/sampler.h"
#include "../sinks/report.h"
#include "cmd.h"
#include "cmdutil.h"

static void usage(FILE *out)
{
	fputs("Usage: hiddenq diagnose [OPTIONS]\n"
	      "\n"
	      "Watch this machine for a few seconds (or replay a bundle) and say which layer\n"
	      "holds the time, one finding per layer:\n",
	      out);
	/* the layers from the rule table itself: a finding added there shows up here */
	for (size_t i = 0; i < rules_count(); i++) {
		const struct rule_info *r = rules_info(i);
		fprintf(out, "  %-18s %s\n", r->label, r->id);
	}
	fputs("\n"
	      "Options:\n"
	      "  -d, --duration TIME   how long to watch (default 10s; 5, 5s, 500ms, 1m)\n"
	      "  -i, --interval TIME   sampling interval (default 100ms)\n"
	      "  -r, --replay DIR      analyse a capture bundle, or a recording (hiddenq\n"
	      "                        record), instead of this machine\n"
	      "      --from TIME       with --replay: from TIME (2026-12-03T02:00[:SS][Z], local\n"
	      "      --to TIME         time unless Z; or @EPOCH-SECONDS) to TIME\n"
	      "  -v, --verbose         explain ok findings too\n"
	      "  -t, --threshold NAME=WARN,CRIT  override a threshold (see --list-thresholds)\n"
	      "      --thresholds FILE threshold overrides from an INI file ([thresholds],\n"
	      "                        NAME = WARN, CRIT), applied before -t\n"
	      "      --list-thresholds print the thresholds in force and exit (--json: as JSON)\n"
	      "      --runq-split      run-queue histograms by cause: woken vs preempted\n"
	      "                        (three programs and task storage instead of one;\n"
	      "                        costs a few % more on switch-heavy loads)\n"
	      "      --no-runq-cgroups no per-cgroup run-queue histograms\n"
	      "      --qmp NAME=SOCKET on a KVM host, read VM NAME's QMP monitor, a socket this\n"
	      "                        run owns (never one libvirt holds): a live migration\n"
	      "                        in flight is judged pass by pass; repeatable\n",
	      out);
	cmd_sources_help(out);
	cmd_help_end(out, "0 ok, 1 warn, 2 crit, 3 could not diagnose (bad arguments,\n"
			  "unusable input, or every finding unknown).");
	fputs("\n"
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
		{ "verbose", no_argument, NULL, 'v' },
		{ "threshold", required_argument, NULL, 't' },
		{ "list-thresholds", no_argument, NULL, 'L' },
		{ "thresholds", required_argument, NULL, 'F' },
		{ "runq-split", no_argument, NULL, 'P' },
		{ "no-runq-cgroups", no_argument, NULL, 'Q' },
		{ "qmp", required_argument, NULL, 'M' },
		{ 0 },
	};
	struct cmd_sources cs;
	cmd_sources_init(&cs);
	bool runq_split = false, runq_no_cg = false;
	uint64_t duration = 10000000000ull, interval = 100000000ull;
	const char *replay = NULL;
	uint64_t from = 0, to = 0;
	bool verbose = false, list_thr = false;
	const char *thr_file = NULL;
	const char *tspecs[64];
	size_t ntspecs = 0;
	const char *qmp[VMSCAN_MAX_QMP + 1] = { 0 };	/* --qmp NAME=SOCKET, NULL-ended */
	unsigned nqmp = 0;
	int c;
	struct cmd_parse p;
	cmd_parse_init(&p, "diagnose", argc, argv, "d:i:r:vt:", opts, usage);
	p.cs = &cs;
	p.repeatable = (const char *const[]){ "threshold", "qmp", NULL };
	while ((c = cmd_parse_next(&p)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return p.exit_code;
		case 'd':
			if (parse_duration_ns(optarg, &duration) < 0)
				return cmd_failf("bad --duration '%s': use e.g. 10, 10s, 500ms or 1m (1 ms to 1 day)", optarg);
			break;
		case 'i':
			if (parse_duration_range(optarg, 10000000ull, 3600000000000ull, &interval) < 0)
				return cmd_failf("bad --interval '%s': use e.g. 100ms (at least 10ms, at most 1h)", optarg);
			break;
		case 'r': replay = optarg; break;
		case 0x101:
		case 0x102: {
			char *why = NULL;
			if (parse_time_arg(optarg, c == 0x101 ? &from : &to, &why) < 0) {
				int r = cmd_failf("bad --%s: %s", c == 0x101 ? "from" : "to", why);
				free(why);
				return r;
			}
			break;
		}
		case 'v': verbose = true; break;
		case 't':
			if (ntspecs == ARRAY_SIZE(tspecs))
				return cmd_failf("too many --threshold options (64 at most)");
			tspecs[ntspecs++] = optarg;
			break;
		case 'F': thr_file = optarg; break;
		case 'L': list_thr = true; break;
		case 'P': runq_split = true; break;
		case 'Q': runq_no_cg = true; break;
		case 'M':
			if (cmd_qmp_arg(qmp, &nqmp, optarg))
				return EXIT_UNUSABLE;
			break;
		}
	}
	if (replay && cmd_parse_refuse_with(&p, "--replay",
					    (const char *const[]){ "duration", "interval", "runq-split",
								   "no-runq-cgroups", "qmp", NULL }))
		return EXIT_UNUSABLE;
	if (cmd_parse_end(&p))
		return EXIT_UNUSABLE;
	bool json = hq_json;
	char *why = NULL;
	if (thresholds_apply_args(thr_file, tspecs, ntspecs, &why) < 0) {
		int r = cmd_fail(json, why);
		free(why);
		return r;
	}
	if (list_thr)
		return list_thresholds(json);
	if (interval > duration)
		return cmd_failf("--interval (%.3g s) is longer than --duration (%.3g s): no two samples to compare",
				 (double)interval / 1e9, (double)duration / 1e9);

	for (unsigned k = 0; k < nqmp; k++) {
		char *qwhy = cmd_qmp_check(qmp[k]);
		if (qwhy) {
			int r = cmd_fail(json, qwhy);
			free(qwhy);
			return r;
		}
	}

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
		log_warn("%u sample%s had an unreadable, truncated or inconsistent proc/stat; they were left out",
			 an->cpu.procstat_bad, plural_s(an->cpu.procstat_bad));
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
			struct report_opts ro = { .color = hq_color_on(STDOUT_FILENO), .verbose = verbose };
			report_text(stdout, an, &fs, &ro);
		}
	}
	findings_done(&fs);
	watch_done(&w);
	fflush(stdout);
	return code;
}
