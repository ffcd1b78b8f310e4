/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "cmdutil.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/util.h"
#include "../sinks/report.h"
#include "cmd.h"

int cmd_fail(bool json, const char *msg)
{
	if (json) {
		json_t *j = report_json_error(msg);
		json_print(stdout, j);
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

static void feed(struct sample *s, void *arg)
{
	analysis_feed(arg, s);
	sample_done(s);
}

int watch_run(struct watch *w, const char *replay, const struct sampler_opts *so, struct analysis *an, bool json,
	      const char *progress)
{
	memset(w, 0, sizeof(*w));
	w->live = replay == NULL;
	char *why = NULL;
	if (w->live) {
		int ret = sampler_init(&w->sp, "/", so);
		if (ret < 0) {
			why = xasprintf("cannot open /: %s", strerror(-ret));
			goto fail;
		}
		analysis_init(an, &w->sp.statics, "live");
		an->interval_ns = so->interval_ns;
		install_exit_handlers();
		if (!json && !hq_quiet && isatty(STDERR_FILENO))
			fprintf(stderr, "hiddenq: %s for %.1f s (Ctrl-C to stop early)...\n", progress,
				(double)so->interval_ns * (so->count ? so->count - 1 : 0) / 1e9);
		sampler_run(&w->sp, feed, an);
		return 0;
	}
	int ret = bundle_open(&w->br, replay, &why);
	if (ret < 0)
		goto fail;
	/* the statics come with the first usable sample: read it before analysis_init */
	struct sample s;
	if (bundle_next(&w->br, &s) <= 0) {
		bundle_close(&w->br);
		why = xasprintf("%s: no usable sample in the bundle", replay);
		goto fail;
	}
	analysis_init(an, &w->br.statics, replay);
	an->interval_ns = w->br.interval_ns;
	feed(&s, an);
	while (bundle_next(&w->br, &s) > 0)
		feed(&s, an);
	/* said on stderr as they were met; named in the report as well */
	if (w->br.skipped)
		analysis_damaged(an, "%u sample(s) of the bundle were skipped: no readable time, or a time going "
				     "backwards",
				 w->br.skipped);
	if (w->br.bad_entries)
		analysis_damaged(an, "%u entries of the bundle's samples were ignored: symlinks, devices or unreadable "
				     "files",
				 w->br.bad_entries);
	if (w->br.truncated)
		analysis_damaged(an, "%u sample(s) of the bundle were too large and read only in part", w->br.truncated);
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
	if (w->live)
		sampler_done(&w->sp);
	else
		bundle_close(&w->br);
}
