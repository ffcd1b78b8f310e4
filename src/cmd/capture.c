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

#include "../core/util.h"
#include "../sample/bundle.h"
#include "../host/vmscan.h"	/* VMSCAN_MAX_QMP */
#include "../sample/sampler.h"
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
	      "  -n, --count N         number of samples (default 100)\n"
	      "  -d, --duration TIME   alternative to --count: watch this long\n"
	      "      --runq-split      run-queue histograms by cause: woken vs preempted\n"
	      "                        (three programs and task storage instead of one;\n"
	      "                        costs a few % more on switch-heavy loads)\n"
	      "      --no-runq-cgroups no per-cgroup run-queue histograms\n"
	      "  -r, --replay SRC      rewrite a bundle, or a recording (hiddenq record), as a\n"
	      "                        bundle instead of sampling; --from/--to take a slice\n"
	      "      --from TIME       with --replay: samples from TIME (2026-12-03T02:00[:SS][Z],\n"
	      "      --to TIME         local time unless Z; or @EPOCH-SECONDS) to TIME\n"
	      "      --qmp NAME=SOCKET also read VM NAME's QMP monitor, a socket this run owns\n"
	      "                        (its blockstats and a live migration in flight);\n"
	      "                        repeatable\n"
	      "  -q, --quiet           no progress or warnings on stderr\n"
	      "  -h, --help            this help\n",
	      out);
	cmd_sources_help(out);
	fputs("\n"
	      "Ctrl-C stops early and leaves a complete, replayable bundle.\n"
	      "Exit status: 0 written, 3 bad arguments or the bundle could not be written.\n",
	      out);
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

/* A bundle or a recording, rewritten as a bundle (optionally a slice of it). */
static int capture_rewrite(const char *src, const char *out, uint64_t from, uint64_t to)
{
	struct bundle_reader br;
	char *why = NULL;
	if (bundle_open(&br, src, &why) < 0) {
		log_err("%s", why);
		free(why);
		return EXIT_UNUSABLE;
	}
	bundle_range(&br, from, to);
	json_t *meta = json_deep_copy(br.meta);
	json_object_del(meta, "format");
	json_object_set_new(meta, "converted_from", json_string(src));
	struct cap cp = { .statics = &br.statics };
	int ret = bundle_create(&cp.w, out, meta, &why);
	if (ret < 0) {
		log_err("%s", why);
		free(why);
		if (cp.w.dirfd >= 0)
			bundle_finish(&cp.w, false);
		bundle_close(&br);
		return EXIT_UNUSABLE;
	}
	install_exit_handlers();
	struct sample s;
	while (!cp.err && !hq_exiting && bundle_next(&br, &s) > 0)
		on_sample(&s, &cp);
	ret = bundle_finish(&cp.w, cp.err == 0 && !hq_exiting);
	bundle_close(&br);
	if (cp.err || ret < 0) {
		log_err("failed to write %s: %s (the %u samples before it are usable)", out,
			strerror(-(cp.err ? cp.err : ret)), cp.written);
		return EXIT_UNUSABLE;
	}
	if (!cp.written) {
		log_err("no sample of %s falls in the --from/--to range", src);
		return EXIT_UNUSABLE;
	}
	if (!hq_quiet)
		fprintf(stderr, "hiddenq: wrote %u samples of %s into %s\n", cp.written, src, out);
	return EXIT_OK;
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
		{ "quiet", no_argument, NULL, 'q' },
		{ "qmp", required_argument, NULL, 0x151 },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *out = NULL, *replay = NULL;
	uint64_t from = 0, to = 0;
	uint64_t interval = 100000000ull, duration = 0, count = 100;
	struct cmd_sources cs;
	cmd_sources_init(&cs);
	bool runq_split = false, runq_no_cg = false;
	const char *qmp[VMSCAN_MAX_QMP + 1] = { 0 };	/* --qmp NAME=SOCKET, NULL-terminated */
	unsigned nqmp = 0;
	int c;
	optind = 1;
	const struct option *lopts = cmd_options_with_sources(opts);
	while ((c = getopt_long(argc, argv, "o:i:n:d:r:qh", lopts, NULL)) != -1) {
		int sr = cmd_sources_arg(&cs, c, optarg, false);
		if (sr < 0)
			return EXIT_UNUSABLE;
		if (sr > 0)
			continue;
		switch (c) {
		case 'r': replay = optarg; break;
		case 'f':
		case 'u': {
			char *why = NULL;
			if (parse_time_arg(optarg, c == 'f' ? &from : &to, &why) < 0) {
				log_err("bad --%s: %s", c == 'f' ? "from" : "to", why);
				free(why);
				return EXIT_UNUSABLE;
			}
			break;
		}
		case 'o': out = optarg; break;
		case 'i':
			if (parse_duration_ns(optarg, &interval) < 0 || interval < 10000000ull) {
				log_err("bad --interval: use e.g. 100ms (at least 10ms)");
				return EXIT_UNUSABLE;
			}
			break;
		case 'n':
			if (parse_uint(optarg, 10000000, &count) < 0 || count < 1) {
				log_err("bad --count: a whole number from 1");
				return EXIT_UNUSABLE;
			}
			break;
		case 'd':
			if (parse_duration_ns(optarg, &duration) < 0) {
				log_err("bad --duration: use e.g. 10s");
				return EXIT_UNUSABLE;
			}
			break;
		case 'P': runq_split = true; break;
		case 'Q': runq_no_cg = true; break;
		case 'q': hq_quiet = true; break;
		case 0x151:
			if (!strchr(optarg, '=') || optarg[0] == '=' || !strchr(optarg, '=')[1] || nqmp >= VMSCAN_MAX_QMP)
				return cmd_fail(false, "bad --qmp: use NAME=SOCKET (the VM's name, a QMP unix socket you own)");
			qmp[nqmp++] = optarg;
			break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_UNUSABLE;
		}
	}
	if (!out || optind < argc) {
		log_err(out ? "unexpected argument '%s'" : "capture needs -o DIR", out ? argv[optind] : "");
		return EXIT_UNUSABLE;
	}
	if (replay)
		return capture_rewrite(replay, out, from, to);
	if (from || to) {
		log_err("--from and --to take a slice of a --replay source");
		return EXIT_UNUSABLE;
	}
	if (duration)
		count = duration / interval + 1;

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
	if (ret < 0) {
		log_err("cannot open /: %s", strerror(-ret));
		return EXIT_UNUSABLE;
	}
	json_t *meta = capture_meta(&sp, interval, count);

	struct cap cp = { .statics = &sp.statics };
	char *why;
	ret = bundle_create(&cp.w, out, meta, &why);
	if (ret < 0) {
		log_err("%s", why);
		free(why);
		if (cp.w.dirfd >= 0)
			bundle_finish(&cp.w, false);
		sampler_done(&sp);
		return EXIT_UNUSABLE;
	}
	install_exit_handlers();
	if (!hq_quiet && isatty(STDERR_FILENO))
		fprintf(stderr, "hiddenq: capturing %llu samples every %.0f ms into %s...\n", (unsigned long long)count,
			(double)interval / 1e6, out);
	sampler_run(&sp, on_sample, &cp);
	bool complete = cp.err == 0 && !hq_exiting;
	ret = bundle_finish(&cp.w, complete);
	sampler_done(&sp);
	if (cp.err) {
		log_err("failed to write sample %u to %s: %s (the %u samples before it are usable)", cp.written, out,
			strerror(-cp.err), cp.written);
		return EXIT_UNUSABLE;
	}
	if (ret < 0) {
		log_err("failed to finish %s/meta.json: %s", out, strerror(-ret));
		return EXIT_UNUSABLE;
	}
	if (!hq_quiet)
		fprintf(stderr, "hiddenq: captured %u samples into %s%s\n", cp.written, out,
			hq_exiting ? " (stopped early)" : "");
	return EXIT_OK;
}
