/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq capture: write the raw files hiddenq reads into a bundle, so that
 * `diagnose --replay` can reproduce the analysis anywhere.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../core/json.h"
#include "../core/util.h"
#include "../host/vmscan.h"	/* VMSCAN_MAX_QMP */
#include "../sample/bundle.h"
#include "../sample/sampler.h"
#include "../sinks/report.h"
#include "cmd.h"
#include "cmdutil.h"

static void usage(FILE *out)
{
	fputs("Usage: hiddenq capture -o DIR [OPTIONS]\n"
	      "\n"
	      "Write the raw /proc and /sys files hiddenq reads into a capture bundle\n"
	      "(format hiddenq-capture/1).  Replay it with: hiddenq diagnose --replay DIR\n"
	      "\n"
	      "Options:\n"
	      "  -o, --output DIR      new or empty directory for the bundle (required)\n"
	      "  -i, --interval TIME   sampling interval (default 100ms)\n"
	      "  -n, --count N         number of samples (default 100; at least 2: a rate\n"
	      "                        needs two)\n"
	      "  -d, --duration TIME   instead of --count: watch this long\n"
	      "      --runq-split      run-queue histograms by cause: woken vs preempted\n"
	      "                        (three programs and task storage instead of one;\n"
	      "                        costs a few % more on switch-heavy loads)\n"
	      "      --no-runq-cgroups no per-cgroup run-queue histograms\n"
	      "  -r, --replay SRC      rewrite a bundle, or a recording (hiddenq record), as a\n"
	      "                        bundle instead of sampling; --from/--to take a slice\n"
	      "      --from TIME       with --replay: samples from TIME (2026-12-03T02:00[:SS][Z],\n"
	      "      --to TIME         local time unless Z; or @EPOCH-SECONDS) to TIME\n"
	      "      --qmp NAME=SOCKET also read VM NAME's QMP monitor, a socket this run owns\n"
	      "                        (its blockstats, which hiddenq join sets beside the\n"
	      "                        guest's await, and a live migration in flight); repeatable\n"
	      "With --json: a JSON summary on stdout at the end (the bundle, the samples written).\n",
	      out);
	cmd_sources_help(out);
	fputs("\nCtrl-C stops early and leaves a complete, replayable bundle.\n", out);
	cmd_help_end(out, "0 written, 3 bad arguments or the bundle could not be written.");
}

struct cap {
	struct bundle_writer w;
	const struct sample *statics;
	int err;
	unsigned written;
};

static void on_sample(struct sample *s, void *arg)
{
	struct cap *c = arg;
	if (c->err == 0) {
		int r = bundle_write_sample(&c->w, s, c->written == 0 ? c->statics : NULL);
		if (r < 0)
			c->err = r;
		else
			c->written++;
	}
	sample_done(s);
}

/* the end of a capture: the summary (--json on stdout, else a line on stderr) */
static int summary(const char *out, const char *src, unsigned written, const char *stopped, const char *error)
{
	if (hq_json) {
		json_t *o = json_object();
		json_object_set_new(o, "hiddenq", jstr(HQ_VERSION));
		json_object_set_new(o, "bundle", jstr(out));
		if (src)
			json_object_set_new(o, "converted_from", jstr(src));
		json_object_set_new(o, "written", json_integer(written));
		json_object_set_new(o, "stopped", jstr(stopped));
		if (error) {
			json_object_set_new(o, "error", jstr(error));
			json_object_set_new(o, "exit", json_integer(EXIT_UNUSABLE));
		}
		json_print(stdout, o);
		json_decref(o);
		fflush(stdout);
	}
	if (error) {
		log_err("%s", error);
		return EXIT_UNUSABLE;
	}
	if (!hq_json) {
		if (src)
			log_info("wrote %u sample%s of %s into %s", written, plural_s(written), src, out);
		else
			log_info("captured %u sample%s into %s%s", written, plural_s(written), out,
				 !strcmp(stopped, "signal") ? " (stopped early)" : "");
	}
	return EXIT_OK;
}

/* A bundle or a recording, rewritten as a bundle (optionally a slice of it). */
static int capture_rewrite(const char *src, const char *out, uint64_t from, uint64_t to)
{
	struct bundle_reader br;
	char *why = NULL;
	if (bundle_open(&br, src, &why) < 0) {
		int r = cmd_fail(hq_json, why);
		free(why);
		return r;
	}
	bundle_range(&br, from, to);
	json_t *meta = json_deep_copy(br.meta);
	json_object_del(meta, "format");
	json_object_set_new(meta, "converted_from", json_string(src));
	struct cap cp = { .statics = &br.statics };
	int ret = bundle_create(&cp.w, out, meta, &why);
	if (ret < 0) {
		int r = cmd_fail(hq_json, why);
		free(why);
		if (cp.w.dirfd >= 0)
			bundle_finish(&cp.w, false);
		bundle_close(&br);
		return r;
	}
	install_exit_handlers();
	struct sample s;
	while (!cp.err && !hq_exiting && bundle_next(&br, &s) > 0)
		on_sample(&s, &cp);
	ret = bundle_finish(&cp.w, cp.err == 0 && !hq_exiting);
	bundle_close(&br);
	char *err = NULL;
	if (cp.err || ret < 0)
		err = xasprintf("failed to write %s: %s (the %u sample%s before it are usable)", out,
				strerror(-(cp.err ? cp.err : ret)), cp.written, plural_s(cp.written));
	else if (!cp.written)
		err = xasprintf("no sample of %s falls in the --from/--to range", src);
	int r = summary(out, src, cp.written, err ? "error" : hq_exiting ? "signal" : "end of the source", err);
	free(err);
	return r;
}

int cmd_capture(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "runq-split", no_argument, NULL, 'P' },
		{ "no-runq-cgroups", no_argument, NULL, 'Q' },
		{ "replay", required_argument, NULL, 'r' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 'u' },
		{ "qmp", required_argument, NULL, 'M' },
		{ 0 },
	};
	const char *out = NULL, *replay = NULL;
	uint64_t from = 0, to = 0;
	uint64_t interval = 100000000ull, duration = 0, count = 100;
	struct cmd_sources cs;
	cmd_sources_init(&cs);
	bool runq_split = false, runq_no_cg = false;
	const char *qmp[VMSCAN_MAX_QMP + 1] = { 0 };	/* --qmp NAME=SOCKET, NULL-ended */
	unsigned nqmp = 0;
	int c;
	struct cmd_parse p;
	cmd_parse_init(&p, "capture", argc, argv, "o:i:n:d:r:", opts, usage);
	p.cs = &cs;
	p.repeatable = (const char *const[]){ "qmp", NULL };
	while ((c = cmd_parse_next(&p)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return p.exit_code;
		case 'r': replay = optarg; break;
		case 'f':
		case 'u': {
			char *why = NULL;
			if (parse_time_arg(optarg, c == 'f' ? &from : &to, &why) < 0) {
				int r = cmd_failf("bad --%s: %s", c == 'f' ? "from" : "to", why);
				free(why);
				return r;
			}
			break;
		}
		case 'o': out = optarg; break;
		case 'i':
			if (parse_duration_range(optarg, 10000000ull, 3600000000000ull, &interval) < 0)
				return cmd_failf("bad --interval '%s': use e.g. 100ms (at least 10ms, at most 1h)", optarg);
			break;
		case 'n':
			if (parse_uint(optarg, 10000000, &count) < 0 || count < 2)
				return cmd_failf("bad --count '%s': a whole number from 2 (a rate needs two samples) to "
						 "10000000", optarg);
			break;
		case 'd':
			if (parse_duration_ns(optarg, &duration) < 0)
				return cmd_failf("bad --duration '%s': use e.g. 10s (1 ms to a day)", optarg);
			break;
		case 'P': runq_split = true; break;
		case 'Q': runq_no_cg = true; break;
		case 'M':
			if (cmd_qmp_arg(qmp, &nqmp, optarg))
				return EXIT_UNUSABLE;
			break;
		}
	}
	if (replay && cmd_parse_refuse_with(&p, "--replay",
					    (const char *const[]){ "interval", "count", "duration", "runq-split",
								   "no-runq-cgroups", "qmp", NULL }))
		return EXIT_UNUSABLE;
	if (cmd_parse_end(&p))
		return EXIT_UNUSABLE;
	if (!out)
		return cmd_failf("capture needs -o DIR");
	if (cmd_parse_count(&p, "count") && duration)
		return cmd_failf("give -n or -d, not both: -n %llu samples or -d %.3g s", (unsigned long long)count,
				 (double)duration / 1e9);
	if (replay)
		return capture_rewrite(replay, out, from, to);
	if (from || to)
		return cmd_failf("--from and --to take a slice of a --replay source");
	if (duration) {
		if (duration < interval)
			return cmd_failf("--duration (%.3g s) is shorter than --interval (%.3g s): no two samples to "
					 "compare", (double)duration / 1e9, (double)interval / 1e9);
		count = duration / interval + 1;
	}

	for (unsigned k = 0; k < nqmp; k++) {
		char *why = cmd_qmp_check(qmp[k]);
		if (why) {
			int r = cmd_fail(hq_json, why);
			free(why);
			return r;
		}
	}

	struct sampler sp;
	struct sampler_opts so = {
		.vms_qmp = qmp,
		.interval_ns = interval,
		.count = (unsigned)count,
		.runq_split = runq_split,
		.runq_no_cgroups = runq_no_cg,
	};
	cmd_sources_apply(&cs, &so);
	int ret = sampler_init(&sp, "/", &so);
	if (ret < 0)
		return cmd_failf("cannot open /: %s", strerror(-ret));
	json_t *meta = capture_meta(&sp, interval, count);

	struct cap cp = { .statics = &sp.statics };
	char *why;
	ret = bundle_create(&cp.w, out, meta, &why);
	if (ret < 0) {
		int r = cmd_fail(hq_json, why);
		free(why);
		if (cp.w.dirfd >= 0)
			bundle_finish(&cp.w, false);
		sampler_done(&sp);
		return r;
	}
	install_exit_handlers();
	if (!hq_json && isatty(STDERR_FILENO))
		log_info("capturing %llu samples every %.0f ms into %s...", (unsigned long long)count,
			 (double)interval / 1e6, out);
	sampler_run(&sp, on_sample, &cp);
	bool complete = cp.err == 0 && !hq_exiting;
	ret = bundle_finish(&cp.w, complete);
	sampler_done(&sp);
	char *err = NULL;
	if (cp.err)
		err = xasprintf("failed to write sample %u to %s: %s (the %u sample%s before it are usable)", cp.written,
				out, strerror(-cp.err), cp.written, plural_s(cp.written));
	else if (ret < 0)
		err = xasprintf("failed to finish %s/meta.json: %s", out, strerror(-ret));
	int r = summary(out, NULL, cp.written, err ? "error" : hq_exiting ? "signal" : "count", err);
	free(err);
	return r;
}
