/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq metrics: the metric catalog and the sources table, and which
 * metrics this machine (or a bundle) can supply, with the reason for each
 * one it cannot.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../engine/engine.h"
#include "../sinks/metrics.h"
#include "../sinks/report.h"
#include "cmd.h"
#include "cmdutil.h"

static void usage(FILE *out)
{
	fputs("Usage: hiddenq metrics [OPTIONS]\n"
	      "\n"
	      "List every metric hiddenq knows (name, type, unit, labels, exported name, help)\n"
	      "and every source it reads, and say which this machine, or a capture bundle,\n"
	      "can supply: for each it cannot, why.\n"
	      "\n"
	      "Options:\n"
	      "  -d, --duration TIME   how long to watch this machine (default 2s)\n"
	      "  -r, --replay DIR      judge a capture bundle instead of this machine\n"
	      "      --catalog         the catalog alone: no machine, no bundle\n"
	      "  -a, --all             list the metrics of unavailable sources one by one too\n",
	      out);
	cmd_sources_help(out);
	cmd_help_end(out, "0 listed; 3 bad arguments, or could not read the machine or the bundle.");
	fputs("\n"
	      "Examples:\n"
	      "  hiddenq metrics\n"
	      "  hiddenq metrics --replay /tmp/bundle --json | jq '.metrics[] | select(.available|not)'\n",
	      out);
}

int cmd_metrics(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "replay", required_argument, NULL, 'r' },
		{ "catalog", no_argument, NULL, 'c' },
		{ "all", no_argument, NULL, 'a' },
		{ 0 },
	};
	uint64_t duration = 2000000000ull;
	const char *replay = NULL;
	bool all = false, catalog = false;
	struct cmd_sources cs;
	cmd_sources_init(&cs);
	int c;
	struct cmd_parse p;
	cmd_parse_init(&p, "metrics", argc, argv, "d:r:a", opts, usage);
	p.cs = &cs;
	while ((c = cmd_parse_next(&p)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return p.exit_code;
		case 'd':
			if (parse_duration_ns(optarg, &duration) < 0 || duration < 1000000000ull)
				return cmd_failf("bad --duration '%s': use e.g. 2s or 10s (at least 1s, at most a day)", optarg);
			break;
		case 'r': replay = optarg; break;
		case 'c': catalog = true; break;
		case 'a': all = true; break;
		}
	}
	if (catalog && replay)
		return cmd_failf("--catalog lists the catalog alone: it does not read a --replay bundle");
	if (replay && cmd_parse_refuse_with(&p, "--replay", (const char *const[]){ "duration", NULL }))
		return EXIT_UNUSABLE;
	if (catalog && cmd_parse_refuse_with(&p, "--catalog", (const char *const[]){ "duration", NULL }))
		return EXIT_UNUSABLE;
	if (cmd_parse_end(&p))
		return EXIT_UNUSABLE;
	bool json = hq_json;

	struct metrics_view *v = xcalloc(1, sizeof(*v));
	struct watch w = { 0 };
	struct findings fs = { 0 };
	int code = EXIT_OK;
	if (!catalog) {
		struct sampler_opts so = {
			.interval_ns = 250000000ull,
			.count = (unsigned)(duration / 250000000ull) + 1,
		};
		cmd_sources_apply(&cs, &so);
		struct engine_opts eo = { 0 };
		if (watch_run(&w, replay, &so, &eo, json, "reading the sources") != 0) {
			free(v);
			return EXIT_UNUSABLE;
		}
		engine_evaluate(w.engine, &fs);
		v->an = engine_acquire(w.engine, 0);
		v->input = w.live ? "live" : replay;
		v->window_s = cpu_watch_s(&v->an->cpu);
		for (int s = 0; s < SRC_COUNT; s++)
			v->src_ok[s] = source_status(v->an, (enum source_id)s, v->src_why[s], sizeof(v->src_why[s]));
		if (w.live && v->window_s > 0) {
			uint64_t ns[SRC_COUNT];
			sampler_source_cost(&w.sp, ns, v->runs);
			for (int s = 0; s < SRC_COUNT; s++) {
				v->cost_ms_per_s[s] = (double)ns[s] / 1e6 / v->window_s;
				if (!(cs.mask & SRC_BIT(s))) {
					v->src_ok[s] = false;
					snprintf(v->src_why[s], sizeof(v->src_why[s]), "switched off (%s)",
						 source_defs[s].no_flag);
				}
			}
			v->have_cost = true;
		}
		for (int m = 0; m < M_COUNT; m++)
			v->m_ok[m] = metric_status(v->an, (enum metric_id)m, v->m_why[m], sizeof(v->m_why[m]));
		for (size_t i = 0; i < fs.n; i++)
			for (size_t k = 0; k < fs.v[i].nev; k++)
				v->quoted[fs.v[i].ev[k].id]++;
	}
	if (json) {
		json_t *j = metrics_json(v);
		json_print(stdout, j);
		json_decref(j);
	} else {
		metrics_text(stdout, v, all);
	}
	findings_done(&fs);
	if (!catalog)
		watch_done(&w);
	free(v);
	fflush(stdout);
	return code;
}
