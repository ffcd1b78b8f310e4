/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq watch: the engine running until stopped, one line each time a
 * finding changes severity.  For logs and journald; the first consumer of
 * the continuous engine.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/util.h"
#include "../engine/engine.h"
#include "../sinks/report.h"
#include "../sinks/watch.h"
#include "cmd.h"
#include "cmdutil.h"

static void usage(FILE *out)
{
	fputs("Usage: hiddenq watch [OPTIONS]\n"
	      "\n"
	      "Run until stopped and print one line each time a finding changes severity\n"
	      "(and each finding's first verdict), judged continuously over a sliding window.\n"
	      "For logs and journald: lines are flushed as they are written.\n"
	      "\n"
	      "Options:\n"
	      "  -i, --interval TIME     sampling interval (default 1s; at least 100ms)\n"
	      "  -w, --window TIME       judge every finding over this window (default: each\n"
	      "                          finding's own, 60 s; see hiddenq metrics --rules)\n"
	      "  -r, --replay DIR        run over a capture bundle or a recording as if live\n"
	      "      --from TIME         with --replay: from TIME (2026-12-03T02:00[:SS][Z]\n"
	      "      --to TIME           or @EPOCH-SECONDS) to TIME\n"
	      "  -t, --threshold NAME=WARN,CRIT  override a threshold (repeatable)\n"
	      "      --thresholds FILE   threshold overrides from an INI file ([thresholds],\n"
	      "                          NAME = WARN, CRIT); re-read on SIGHUP\n"
	      "With --json: one JSON object per line (events start, change, thresholds, stop).\n",
	      out);
	cmd_sources_help(out);
	fputs("\n"
	      "Signals: SIGINT and SIGTERM stop it cleanly (exit 0); SIGHUP re-reads the\n"
	      "thresholds file (a file with an error is refused whole and the thresholds in\n"
	      "force stay), then applies the -t overrides again.\n",
	      out);
	cmd_help_end(out, "0 stopped by a signal or at the end of a replay; 3 could not start\n"
			  "(bad arguments, unreadable input, bad thresholds file).");
	fputs("\n"
	      "Examples:\n"
	      "  hiddenq watch\n"
	      "  hiddenq watch --json --window 30s | systemd-cat -t hiddenq\n"
	      "  hiddenq watch --replay /tmp/bundle\n",
	      out);
}

struct wstate {
	bool json, color;
	enum severity *prev;
	bool baseline;
	uint64_t warmup_ns;
	const char *thr_file;
	const char **tspecs;
	size_t ntspecs;
	unsigned long lines;
};

static bool apply_thresholds(struct wstate *st, char **why)
{
	return thresholds_apply_args(st->thr_file, st->tspecs, st->ntspecs, why) == 0;
}

static void reload(struct wstate *st, uint64_t real_ns)
{
	char *why = NULL;
	bool ok = apply_thresholds(st, &why);
	if (st->json) {
		json_t *j = json_object();
		json_object_set_new(j, "result", jstr(ok ? "applied" : "refused"));
		if (st->thr_file)
			json_object_set_new(j, "file", jstr(st->thr_file));
		if (!ok)
			json_object_set_new(j, "error", jstr(why));
		watch_event_json(stdout, real_ns, "thresholds", j);
	}
	if (ok)
		log_info("watch: thresholds re-read%s%s", st->thr_file ? " from " : "", st->thr_file ? st->thr_file : "");
	else
		log_err("SIGHUP: %s; the thresholds in force stay", why);
	free(why);
}

static void after_sample(struct watch *w, const struct sample *s, void *arg)
{
	struct wstate *st = arg;
	if (hq_reload) {
		hq_reload = 0;
		reload(st, s->real_ns);
	}
	struct engine *e = w->engine;
	if (s->mono_ns - e->first_ns < st->warmup_ns)
		return;
	struct findings fs = { 0 };
	engine_evaluate(e, &fs);
	for (size_t i = 0; i < fs.n; i++) {
		const struct finding *f = &fs.v[i];
		if (st->baseline && f->sev == st->prev[i])
			continue;
		const struct analysis *an = engine_acquire(e, engine_rule_window_ns(e, i));
		struct watch_line l = {
			.real_ns = s->real_ns,
			.mono_ns = s->mono_ns,
			.f = f,
			.start = !st->baseline,
			.from = st->prev[i],
			.window_s = an ? cpu_watch_s(&an->cpu) : 0,
		};
		if (st->json)
			watch_line_json(stdout, &l);
		else
			watch_line_text(stdout, &l, st->color);
		st->prev[i] = f->sev;
		st->lines++;
	}
	st->baseline = true;
	engine_release(e);
	findings_done(&fs);
}

int cmd_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "window", required_argument, NULL, 'w' },
		{ "replay", required_argument, NULL, 'r' },
		{ "from", required_argument, NULL, 0x101 },
		{ "to", required_argument, NULL, 0x102 },
		{ "threshold", required_argument, NULL, 't' },
		{ "thresholds", required_argument, NULL, 'T' },
		{ 0 },
	};
	struct wstate st = { 0 };
	uint64_t interval = 1000000000ull, window = 0, from = 0, to = 0;
	const char *replay = NULL;
	struct cmd_sources cs;
	cmd_sources_init(&cs);
	int c;
	cmd_json_lines = true;
	const char *tspecs[64];
	st.tspecs = tspecs;
	int code = EXIT_OK;
	struct cmd_parse p;
	cmd_parse_init(&p, "watch", argc, argv, "i:w:r:t:", opts, usage);
	p.cs = &cs;
	p.repeatable = (const char *const[]){ "threshold", NULL };
	while ((c = cmd_parse_next(&p)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: code = p.exit_code; goto out;
		case 'i':
			if (parse_duration_range(optarg, 100000000ull, 3600000000000ull, &interval) < 0) {
				code = cmd_failf("bad --interval '%s': use e.g. 1s or 500ms (at least 100ms, at most 1h)", optarg);
				goto out;
			}
			break;
		case 'w':
			if (parse_duration_ns(optarg, &window) < 0 || window < 3000000000ull) {
				code = cmd_failf("bad --window '%s': use e.g. 60s or 5m (at least 3s: a verdict needs "
						 "three 1 s windows; at most a day)", optarg);
				goto out;
			}
			break;
		case 'r': replay = optarg; break;
		case 0x101:
		case 0x102: {
			char *why = NULL;
			if (parse_time_arg(optarg, c == 0x101 ? &from : &to, &why) < 0) {
				code = cmd_failf("bad --%s: %s", c == 0x101 ? "from" : "to", why);
				free(why);
				goto out;
			}
			break;
		}
		case 't':
			if (st.ntspecs == ARRAY_SIZE(tspecs)) {
				code = cmd_failf("too many --threshold options (64 at most)");
				goto out;
			}
			tspecs[st.ntspecs++] = optarg;
			break;
		case 'T': st.thr_file = optarg; break;
		}
	}
	if (replay && cmd_parse_refuse_with(&p, "--replay", (const char *const[]){ "interval", NULL })) {
		code = EXIT_UNUSABLE;
		goto out;
	}
	if (cmd_parse_end(&p)) {
		code = EXIT_UNUSABLE;
		goto out;
	}
	st.json = hq_json;
	char *why = NULL;
	if (!apply_thresholds(&st, &why)) {
		code = cmd_fail(st.json, why);
		free(why);
		goto out;
	}
	st.color = hq_color_on(STDOUT_FILENO);
	st.prev = xcalloc(rules_count(), sizeof(*st.prev));
	/* a first verdict needs a few windows: no line before */
	st.warmup_ns = window && window < 5000000000ull ? window : 5000000000ull;

	struct sampler_opts so = {
		.interval_ns = interval,
		.count = 0, /* until stopped */
		.slow_interval_ns = 5000000000ull, /* per-task and cgroup walks every 5 s: a daemon's budget */
	};
	cmd_sources_apply(&cs, &so);
	struct engine_opts eo = { .window_ns = window, .rule_windows = window == 0 };
	install_reload_handler();
	if ((from || to) && !replay) {
		code = cmd_fail(st.json, "--from and --to take a slice of a --replay bundle or recording");
		goto out;
	}
	if (!st.json && !replay)
		log_info("watch: sampling every %.1f s, judging %s; Ctrl-C to stop", (double)interval / 1e9,
			 window ? "every finding over the --window" : "each finding over its own window");
	struct watch w = { .after = after_sample, .after_arg = &st, .from_real = from, .to_real = to };
	if (watch_run(&w, replay, &so, &eo, st.json, "watching") != 0) {
		code = EXIT_UNUSABLE;
		goto out;
	}
	if (st.json) {
		json_t *j = json_object();
		json_object_set_new(j, "reason", jstr(replay && !hq_exiting		 ? "end of replay"
						      : hq_exit_signal == SIGTERM ? "SIGTERM"
						      : hq_exit_signal == SIGINT  ? "SIGINT"
										  : "stopped"));
		json_object_set_new(j, "samples", json_integer((json_int_t)w.engine->nsamples));
		json_object_set_new(j, "lines", json_integer((json_int_t)st.lines));
		json_object_set_new(j, "restarts", json_integer(w.engine->restarts));
		watch_event_json(stdout, real_ns(), "stop", j);
	} else {
		log_info("watch: stopped after %llu sample%s, %lu line%s", (unsigned long long)w.engine->nsamples,
			 plural_s(w.engine->nsamples), st.lines, plural_s(st.lines));
	}
	watch_done(&w);
out:
	free(st.prev);
	fflush(stdout);
	return code;
}
