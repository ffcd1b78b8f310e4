/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "cmdutil.h"

#include <errno.h>
#include <getopt.h>
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
	memset(w, 0, sizeof(*w));
	w->after = after;
	w->after_arg = after_arg;
	w->live = replay == NULL;
	char *why = NULL;
	if (w->live) {
		int ret = sampler_init(&w->sp, "/", so);
		if (ret < 0) {
			why = xasprintf("cannot open /: %s", strerror(-ret));
			goto fail;
		}
		w->engine = engine_new(&w->sp.statics, "live", eo);
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
	w->engine = engine_new(&w->br.statics, replay, eo);
	feed(&s, w);
	while (!hq_exiting && bundle_next(&w->br, &s) > 0)
		feed(&s, w);
	if (w->br.skipped)
		log_warn("%u sample(s) of the bundle were skipped", w->br.skipped);
	return 0;
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
