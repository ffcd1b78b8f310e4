/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "cmdutil.h"

#include <errno.h>
#include <getopt.h>
#include <sys/utsname.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/util.h"
#include "../sinks/report.h"
#include "cmd.h"

bool cmd_json_lines;

int cmd_fail(bool json, const char *msg)
{
	if (json) {
		json_t *j = report_json_error(msg);
		if (cmd_json_lines) {
			char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
			if (s)
				printf("%s\n", s);
			free(s);
		} else {
			json_print(stdout, j);
		}
		json_decref(j);
	}
	log_err("%s", msg);
	return EXIT_UNUSABLE;
}

int cmd_no_operands(bool json, int argc, char **argv)
{
	if (optind >= argc)
		return 0;
	char *m = xasprintf("unexpected argument '%s'", argv[optind]);
	int r = cmd_fail(json, m);
	free(m);
	return r;
}

int parse_time_arg(const char *s, uint64_t *out, char **why)
{
	if (s[0] == '@') {
		uint64_t v;
		if (parse_uint(s + 1, 100000000000ull, &v) < 0 || v == 0) {
			*why = xasprintf("'%s': @ takes whole seconds since 1970", s);
			return -EINVAL;
		}
		*out = v * 1000000000ull;
		return 0;
	}
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	int y, mo, d, h = 0, mi = 0, n = 0;
	double sec = 0;
	int k = sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n);
	const char *p = s + n;
	if (k != 3) {
		*why = xasprintf("'%s': use 2026-12-03T02:00[:SS][Z] or @EPOCH-SECONDS", s);
		return -EINVAL;
	}
	if (*p == 'T' || *p == ' ') {
		int m = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &m) != 2) {
			*why = xasprintf("'%s': the time is HH:MM[:SS]", s);
			return -EINVAL;
		}
		p += 1 + m;
		if (*p == ':') {
			char *end;
			sec = strtod(p + 1, &end);
			p = end;
		}
	}
	bool utc = *p == 'Z';
	if (utc)
		p++;
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec < 0 || sec >= 61 || y < 1970 ||
	    y > 9999) {
		*why = xasprintf("'%s': use 2026-12-03T02:00[:SS][Z] or @EPOCH-SECONDS", s);
		return -EINVAL;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_isdst = -1;
	time_t t = utc ? timegm(&tm) : mktime(&tm);
	if (t < 0) {
		*why = xasprintf("'%s': not a time this machine can place", s);
		return -EINVAL;
	}
	*out = (uint64_t)t * 1000000000ull + (uint64_t)(sec * 1e9);
	return 0;
}

json_t *capture_meta(const struct sampler *sp, uint64_t interval_ns, uint64_t count)
{
	json_t *meta = json_object();
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	struct utsname u;
	uname(&u);
	json_object_set_new(meta, "interval_ms", json_real((double)interval_ns / 1e6));
	json_object_set_new(meta, "hostname", jstr(host));
	json_object_set_new(meta, "kernel", jstr(u.release));
	json_object_set_new(meta, "machine", jstr(u.machine));
	json_object_set_new(meta, "hiddenq", jstr(HQ_VERSION));
	json_object_set_new(meta, "user_hz", json_integer(sysconf(_SC_CLK_TCK)));
	json_object_set_new(meta, "static", sampler_static_paths_json(sp));
	json_object_set_new(meta, "sources", sampler_sources_json(sp));
	json_object_set_new(meta, "requested_samples", json_integer((json_int_t)count));
	return meta;
}

int thresholds_apply_args(const char *file, const char *const *specs, size_t n, char **why)
{
	struct threshold saved[T_COUNT];
	memcpy(saved, thresholds, sizeof(saved));
	thresholds_reset();
	char *err = NULL;
	if (file && thresholds_load_file(file, &err) < 0) {
		*why = xasprintf("bad --thresholds %s: %s", file, err);
		free(err);
		memcpy(thresholds, saved, sizeof(saved));
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *r;
		if (threshold_override_why(specs[i], &r) < 0) {
			*why = xasprintf("bad --threshold '%s': %s", specs[i], r);
			memcpy(thresholds, saved, sizeof(saved));
			return -EINVAL;
		}
	}
	return 0;
}

static void feed(struct sample *s, void *arg)
{
	struct watch *w = arg;
	engine_feed(w->engine, s);
	if (w->after)
		w->after(w, s, w->after_arg);
	sample_done(s);
}

int watch_run(struct watch *w, const char *replay, const struct sampler_opts *so, const struct engine_opts *eo,
	      bool json, const char *progress)
{
	void (*after)(struct watch *, const struct sample *, void *) = w->after;
	void *after_arg = w->after_arg;
	uint64_t from = w->from_real, to = w->to_real;
	memset(w, 0, sizeof(*w));
	w->after = after;
	w->after_arg = after_arg;
	w->from_real = from;
	w->to_real = to;
	w->live = replay == NULL;
	char *why = NULL;
	if (w->live) {
		int ret = sampler_init(&w->sp, "/", so);
		if (ret < 0) {
			why = xasprintf("cannot open /: %s", strerror(-ret));
			goto fail;
		}
		struct engine_opts o = *eo;
		o.interval_ns = so->interval_ns;
		w->engine = engine_new(&w->sp.statics, "live", &o);
		install_exit_handlers();
		if (!json && !hq_quiet && isatty(STDERR_FILENO) && so->count)
			fprintf(stderr, "hiddenq: %s for %.1f s (Ctrl-C to stop early)...\n", progress,
				(double)so->interval_ns * (so->count - 1) / 1e9);
		sampler_run(&w->sp, feed, w);
		return 0;
	}
	int ret = bundle_open(&w->br, replay, &why);
	if (ret < 0)
		goto fail;
	/* the statics come with the first usable sample: read it before the engine starts */
	struct sample s;
	if (bundle_next(&w->br, &s) <= 0) {
		bundle_close(&w->br);
		why = xasprintf("%s: no usable sample in the bundle", replay);
		goto fail;
	}
	struct engine_opts o = *eo;
	o.interval_ns = w->br.interval_ns;
	w->engine = engine_new(&w->br.statics, replay, &o);
	if (w->from_real || w->to_real) {
		/* the first sample was read before the range applied: judge it like the rest */
		bundle_range(&w->br, w->from_real, w->to_real);
		if ((w->from_real && s.real_ns < w->from_real) || (w->to_real && s.real_ns > w->to_real)) {
			sample_done(&s);
			if (bundle_next(&w->br, &s) <= 0) {
				why = xasprintf("%s: no sample in the --from/--to range", replay);
				goto fail_engine;
			}
		}
	}
	feed(&s, w);
	while (!hq_exiting && bundle_next(&w->br, &s) > 0)
		feed(&s, w);
	/* said on stderr as they were met; named in the report as well */
	if (w->br.skipped)
		engine_damaged(w->engine, "%u sample(s) of the bundle were skipped: no readable time, or a time going "
					  "backwards",
			       w->br.skipped);
	if (w->br.bad_entries)
		engine_damaged(w->engine, "%u entries of the bundle's samples were ignored: symlinks, devices or "
					  "unreadable files",
			       w->br.bad_entries);
	if (w->br.truncated)
		engine_damaged(w->engine, "%u sample(s) of the bundle were too large and read only in part",
			       w->br.truncated);
	if (w->br.skipped)
		log_warn("%u sample(s) of the bundle were skipped", w->br.skipped);
	return 0;
fail_engine:
	engine_free(w->engine);
	w->engine = NULL;
	bundle_close(&w->br);
fail:
	ret = cmd_fail(json, why ? why : "cannot read the input");
	free(why);
	return ret;
}

void watch_done(struct watch *w)
{
	engine_free(w->engine);
	w->engine = NULL;
	if (w->live)
		sampler_done(&w->sp);
	else
		bundle_close(&w->br);
}
