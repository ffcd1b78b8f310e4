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
#include "../sample/sampler.h"
#include "cmd.h"

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
	      "      --no-tasks        do not read per-task schedstat\n"
	      "      --no-cgroups      do not read cgroup cpu.stat (nor keep per-cgroup\n"
	      "                        run-queue histograms)\n"
	      "      --stalls METHOD   auto (default), bpf, coarse, sampler or off: as for\n"
	      "                        diagnose (see hiddenq(1))\n"
	      "      --no-stalls       no stall watching and no /dev/kmsg\n"
	      "      --no-bpf          no eBPF run-queue and block IO histograms\n"
	      "      --runq-split      run-queue histograms by cause: woken vs preempted\n"
	      "                        (three programs and task storage instead of one;\n"
	      "                        costs a few % more on switch-heavy loads)\n"
	      "      --no-runq-cgroups no per-cgroup run-queue histograms\n"
	      "  -q, --quiet           no progress or warnings on stderr\n"
	      "  -h, --help            this help\n"
	      "\n"
	      "Ctrl-C stops early and leaves a complete, replayable bundle.\n",
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

int cmd_capture(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "no-tasks", no_argument, NULL, 'T' },
		{ "no-cgroups", no_argument, NULL, 'G' },
		{ "no-stalls", no_argument, NULL, 'S' },
		{ "stalls", required_argument, NULL, 'M' },
		{ "no-bpf", no_argument, NULL, 'B' },
		{ "runq-split", no_argument, NULL, 'P' },
		{ "no-runq-cgroups", no_argument, NULL, 'Q' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *out = NULL;
	uint64_t interval = 100000000ull, duration = 0, count = 100;
	enum stall_method stalls = STALLS_AUTO;
	bool tasks = true, cgroups = true, bpf = true, runq_split = false, runq_no_cg = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:i:n:d:qh", opts, NULL)) != -1) {
		switch (c) {
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
		case 'T': tasks = false; break;
		case 'G': cgroups = false; break;
		case 'S': stalls = STALLS_OFF; break;
		case 'M':
			if (stall_method_parse(optarg, &stalls) < 0) {
				log_err("bad --stalls: use auto, bpf, coarse, sampler or off");
				return EXIT_UNUSABLE;
			}
			break;
		case 'B': bpf = false; break;
		case 'P': runq_split = true; break;
		case 'Q': runq_no_cg = true; break;
		case 'q': hq_quiet = true; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_UNUSABLE;
		}
	}
	if (!out || optind < argc) {
		log_err(out ? "unexpected argument '%s'" : "capture needs -o DIR", out ? argv[optind] : "");
		return EXIT_UNUSABLE;
	}
	if (duration)
		count = duration / interval + 1;

	if (!bpf && stalls == STALLS_AUTO) /* no eBPF at all: the timer-lateness source neither */
		stalls = STALLS_COARSE;
	struct sampler sp;
	struct sampler_opts so = {
		.interval_ns = interval,
		.count = (unsigned)count,
		.tasks = tasks,
		.cgroups = cgroups,
		.memory = true,
		.stalls = stalls,
		.kmsg = stalls != STALLS_OFF,
		.io = true,
		.net = true,
		.bpf = bpf,
		.runq_split = runq_split,
		.runq_no_cgroups = runq_no_cg || !cgroups,
		.vms = true, /* host mode when VM processes run here (host/vmscan.h) */
	};
	int ret = sampler_init(&sp, "/", &so);
	if (ret < 0) {
		log_err("cannot open /: %s", strerror(-ret));
		return EXIT_UNUSABLE;
	}
	json_t *meta = json_object();
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	struct utsname u;
	uname(&u);
	json_object_set_new(meta, "interval_ms", json_real((double)interval / 1e6));
	json_object_set_new(meta, "hostname", json_string(host));
	json_object_set_new(meta, "kernel", json_string(u.release));
	json_object_set_new(meta, "machine", json_string(u.machine));
	json_object_set_new(meta, "hiddenq", json_string(HQ_VERSION));
	json_object_set_new(meta, "user_hz", json_integer(sysconf(_SC_CLK_TCK)));
	json_object_set_new(meta, "static", sampler_static_paths_json(&sp));
	json_object_set_new(meta, "sources", sampler_sources_json(&sp));
	json_object_set_new(meta, "requested_samples", json_integer((json_int_t)count));

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
