/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq record: keep every sample, as a capture bundle would, in one
 * crash-safe recording (sample/store.h) bounded by size and age.  Every
 * analysing command reads a recording as it reads a bundle.
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
#include "../sample/store.h"
#include "../sinks/report.h"
#include "cmd.h"
#include "cmdutil.h"

static void usage(FILE *out)
{
	fputs("Usage: hiddenq record -o FILE [OPTIONS]\n"
	      "\n"
	      "Record every sample (the raw files a capture bundle holds) into FILE, a\n"
	      "crash-safe recording: each sample is committed on its own, so a kill, a power\n"
	      "loss or a full disk lose at most the sample being written.  A steady machine\n"
	      "costs about a kilobyte per sample.  Runs until stopped, -d or -n.\n"
	      "Every analysing command reads FILE like a bundle: diagnose --replay FILE\n"
	      "[--from T] [--to T], watch, metrics, report, top.\n"
	      "\n"
	      "Options:\n"
	      "  -o, --output FILE       the recording (created, or continued if it exists)\n"
	      "  -i, --interval TIME     sampling interval (default 1s; at least 10ms)\n"
	      "  -d, --duration TIME     stop after this long (default: until stopped)\n"
	      "  -n, --count N           stop after N samples\n"
	      "      --max-size SIZE     keep the file under SIZE (e.g. 500M, 2G): the oldest\n"
	      "                          samples go first (default: no limit)\n"
	      "      --max-age TIME      drop samples older than TIME (e.g. 7d, 12h)\n"
	      "      --from-bundle DIR   convert a capture bundle into FILE instead of sampling\n"
	      "      --progress          print the count of samples committed, one line each\n"
	      "With --json: a JSON summary on stdout at the end.\n",
	      out);
	cmd_sources_help(out);
	cmd_help_end(out, "0 recorded (stopped by a signal, -d, -n or the end of a bundle);\n"
			  "3 could not start, or stopped on an error (a full disk that rotation cannot\n"
			  "make room on): the recording holds every sample written before it.");
	fputs("\n"
	      "Examples:\n"
	      "  hiddenq record -o /var/lib/hiddenq/rec.db --max-size 1G --max-age 7d\n"
	      "  hiddenq diagnose --replay /var/lib/hiddenq/rec.db --from 2026-12-03T02:00 --to 2026-12-03T02:10\n"
	      "  hiddenq capture --replay rec.db -o bundle/   (a recording back into a bundle)\n",
	      out);
}

/* "500M", "2G", "1024" (bytes), "64K": 0 or -EINVAL */
static int parse_bytes(const char *s, uint64_t *out)
{
	double v;
	const char *end;
	if (parse_decimal(s, &v, &end) < 0 || v <= 0)
		return -EINVAL;
	double m = 1;
	if (*end == 'K' || *end == 'k')
		m = 1024, end++;
	else if (*end == 'M' || *end == 'm')
		m = 1024.0 * 1024, end++;
	else if (*end == 'G' || *end == 'g')
		m = 1024.0 * 1024 * 1024, end++;
	else if (*end == 'T' || *end == 't')
		m = 1024.0 * 1024 * 1024 * 1024, end++;
	if (*end == 'i' || *end == 'B')
		end++;
	if (*end == 'B')
		end++;
	if (*end || v * m < 65536 || v * m > 1e18)
		return -EINVAL;
	*out = (uint64_t)(v * m);
	return 0;
}

/* "7d", "12h", "30m", "90s": 0 or -EINVAL (days allowed, unlike parse_duration_ns) */
static int parse_age(const char *s, uint64_t *out)
{
	double v;
	const char *end;
	if (parse_decimal(s, &v, &end) < 0 || v <= 0)
		return -EINVAL;
	double m = *end == 'd' ? 86400 : *end == 'h' ? 3600 : *end == 'm' ? 60 : *end == 's' || !*end ? 1 : -1;
	if (m < 0 || (*end && end[1]) || v * m < 10 || v * m > 3650.0 * 86400)
		return -EINVAL;
	*out = (uint64_t)(v * m * 1e9);
	return 0;
}

struct rec {
	bool progress;
	struct store *st;
	int err;
	char *why;
	uint64_t written;
	uint64_t limit;
};

static void on_sample(struct sample *s, void *arg)
{
	struct rec *r = arg;
	if (r->err == 0) {
		int e = store_append(r->st, s, &r->why);
		if (e < 0) {
			r->err = e;
			hq_exiting = 1; /* stop the sampler: nothing more can be kept */
		} else {
			r->written++;
			if (r->progress) { /* committed: a kill from now on cannot take it */
				printf("%llu\n", (unsigned long long)r->written);
				fflush(stdout);
			}
		}
	}
	sample_done(s);
}

static json_t *summary(struct rec *r, const char *out, const char *stopped)
{
	struct store_stats ss;
	store_get_stats(r->st, &ss);
	json_t *o = json_object();
	json_object_set_new(o, "hiddenq", jstr(HQ_VERSION));
	json_object_set_new(o, "recording", jstr(out));
	json_object_set_new(o, "written", json_integer((json_int_t)r->written));
	json_object_set_new(o, "samples_in_file", json_integer((json_int_t)ss.samples));
	json_object_set_new(o, "rotated", json_integer((json_int_t)ss.rotated));
	json_object_set_new(o, "raw_bytes", json_integer((json_int_t)ss.raw_bytes));
	json_object_set_new(o, "stored_bytes", json_integer((json_int_t)ss.stored_bytes));
	json_object_set_new(o, "bytes_per_sample",
			    json_real(r->written ? (double)ss.stored_bytes / (double)r->written : 0));
	json_object_set_new(o, "file_bytes", json_integer((json_int_t)ss.file_bytes));
	json_object_set_new(o, "dictionary", json_boolean(ss.have_dict));
	json_object_set_new(o, "stopped", jstr(stopped));
	if (r->err)
		json_object_set_new(o, "error", jstr(r->why));
	return o;
}

int cmd_record(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "interval", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "max-size", required_argument, NULL, 'M' },
		{ "max-age", required_argument, NULL, 'A' },
		{ "from-bundle", required_argument, NULL, 'F' },
		{ "progress", no_argument, NULL, 'P' },
		{ 0 },
	};
	const char *out = NULL, *from_bundle = NULL;
	uint64_t interval = 1000000000ull, duration = 0, count = 0;
	struct store_opts sto = { 0 };
	struct cmd_sources cs;
	cmd_sources_init(&cs);
	bool progress = false;
	int c;
	struct cmd_parse p;
	cmd_parse_init(&p, "record", argc, argv, "o:i:d:n:", opts, usage);
	p.cs = &cs;
	while ((c = cmd_parse_next(&p)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return p.exit_code;
		case 'o': out = optarg; break;
		case 'i':
			if (parse_duration_range(optarg, 10000000ull, 3600000000000ull, &interval) < 0)
				return cmd_failf("bad --interval '%s': use e.g. 1s or 100ms (at least 10ms, at most 1h)", optarg);
			break;
		case 'd':
			if (parse_duration_ns(optarg, &duration) < 0)
				return cmd_failf("bad --duration '%s': use e.g. 60s or 10m (up to a day; for longer, stop it)",
						 optarg);
			break;
		case 'n':
			if (parse_uint(optarg, 100000000, &count) < 0 || count < 1)
				return cmd_failf("bad --count '%s': a whole number from 1 to 100000000", optarg);
			break;
		case 'M':
			if (parse_bytes(optarg, &sto.max_bytes) < 0)
				return cmd_failf("bad --max-size '%s': use e.g. 500M or 2G (at least 64K)", optarg);
			break;
		case 'A':
			if (parse_age(optarg, &sto.max_age_ns) < 0)
				return cmd_failf("bad --max-age '%s': use e.g. 7d, 12h or 30m (10s to 10 years)", optarg);
			break;
		case 'F': from_bundle = optarg; break;
		case 'P': progress = true; break;
		}
	}
	if (from_bundle && cmd_parse_refuse_with(&p, "--from-bundle",
						 (const char *const[]){ "duration", "count", "interval", NULL }))
		return EXIT_UNUSABLE;
	if (cmd_parse_end(&p))
		return EXIT_UNUSABLE;
	bool json = hq_json;
	if (!out)
		return cmd_fail(json, "record needs -o FILE");
	if (duration && count)
		return cmd_fail(json, "give -d or -n, not both");

	if (progress && json)
		return cmd_fail(json, "--progress and --json both write to stdout: pick one");
	struct rec r = { .progress = progress };
	const char *stopped = "end";
	int code = EXIT_OK;
	char *why = NULL;
	if (from_bundle) {
		struct bundle_reader br;
		if (bundle_open(&br, from_bundle, &why) < 0) {
			code = cmd_fail(json, why);
			free(why);
			return code;
		}
		struct sample s;
		if (bundle_next(&br, &s) <= 0) {
			bundle_close(&br);
			return cmd_fail(json, "the bundle has no usable sample");
		}
		json_t *meta = json_deep_copy(br.meta);
		json_object_del(meta, "format");
		json_object_set_new(meta, "converted_from", jstr(from_bundle));
		int e = store_create(&r.st, out, &sto, meta, &br.statics, &why);
		json_decref(meta);
		if (e < 0) {
			sample_done(&s);
			bundle_close(&br);
			code = cmd_fail(json, why);
			free(why);
			return code;
		}
		install_exit_handlers();
		do {
			on_sample(&s, &r);
		} while (!r.err && !hq_exiting && bundle_next(&br, &s) > 0);
		stopped = hq_exiting && !r.err ? "signal" : "end of the bundle";
		bundle_close(&br);
	} else {
		if (duration)
			count = duration / interval + 1;
		struct sampler sp;
		struct sampler_opts so = {
			.interval_ns = interval, .count = (unsigned)count,
			/* per-task and cgroup walks every 5 s: a recorder left running keeps a daemon's budget */
			.slow_interval_ns = 5000000000ull,
		};
		cmd_sources_apply(&cs, &so);
		int ret = sampler_init(&sp, "/", &so);
		if (ret < 0) {
			why = xasprintf("cannot open /: %s", strerror(-ret));
			code = cmd_fail(json, why);
			free(why);
			return code;
		}
		json_t *meta = capture_meta(&sp, interval, count);
		int e = store_create(&r.st, out, &sto, meta, &sp.statics, &why);
		json_decref(meta);
		if (e < 0) {
			sampler_done(&sp);
			code = cmd_fail(json, why);
			free(why);
			return code;
		}
		install_exit_handlers();
		if (!json)
			log_info("recording every %.3g s into %s (Ctrl-C to stop)", (double)interval / 1e9, out);
		sampler_run(&sp, on_sample, &r);
		sampler_done(&sp);
		stopped = r.err ? "error" : hq_exiting ? "signal" : "count";
	}
	if (r.err) {
		log_err("%s", r.why);
		code = EXIT_UNUSABLE;
	}
	if (json) {
		json_t *j = summary(&r, out, stopped);
		json_print(stdout, j);
		json_decref(j);
	} else {
		struct store_stats ss;
		store_get_stats(r.st, &ss);
		log_info("recorded %llu sample%s into %s (%.0f bytes per sample stored, %llu in the file)",
			 (unsigned long long)r.written, plural_s(r.written), out,
			 r.written ? (double)ss.stored_bytes / (double)r.written : 0.0, (unsigned long long)ss.samples);
	}
	store_close(r.st);
	free(r.why);
	return code;
}
