/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq rules: the rule table as Prometheus sees it.  Prints the alerting
 * and recording rules (--prometheus), the Grafana dashboard (--grafana) or
 * the doc that sets each rule beside its PromQL twin (--markdown), made from
 * the same tables diagnose and serve judge by (sinks/promrules.c).  Reads no
 * machine: the output depends only on the binary and the options.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../sinks/promrules.h"
#include "cmd.h"
#include "cmdutil.h"

#define RULES_DEFAULT_DOCS_URL "README.md"

static void usage(FILE *out)
{
	fputs("Usage: hiddenq rules --prometheus|--grafana|--markdown [OPTIONS]\n"
	      "\n"
	      "Print what Prometheus and Grafana need to judge hiddenq's findings across a\n"
	      "fleet, made from the rule table, the thresholds and the metric catalog:\n"
	      "\n"
	      "  -p, --prometheus        a Prometheus rule file (YAML): an alert per finding\n"
	      "                          and level on hiddenq_finding_severity, and each rule's\n"
	      "                          PromQL twin over the raw series (recording rules and\n"
	      "                          their alerts, named ...Raw...)\n"
	      "  -g, --grafana           a Grafana dashboard (JSON): a row per layer, each\n"
	      "                          finding's severity, the twins with their thresholds\n"
	      "                          and the key series\n"
	      "  -m, --markdown          docs/prometheus-rules.md: each rule beside its twin\n"
	      "\n"
	      "Options:\n"
	      "  -w, --window TIME       judge every rule over this window, as hiddenq serve\n"
	      "                          --window does (default: each rule's own, 60 s)\n"
	      "  -t, --threshold NAME=WARN,CRIT  override a threshold, as serve -t (repeatable)\n"
	      "      --thresholds FILE   threshold overrides from an INI file, as serve\n"
	      "      --docs-url URL      where the README is served: each alert links to\n"
	      "                          URL#finding-id (default " RULES_DEFAULT_DOCS_URL ")\n"
	      "With --json: the outputs keep their own formats; an error is a JSON object.\n",
	      out);
	cmd_help_end(out, "0 printed; 3 bad arguments or thresholds, or thresholds the\n"
			  "twins cannot express (a 1 s steal level with no histogram bucket).");
	fputs("\n"
	      "Examples:\n"
	      "  hiddenq rules --prometheus > /etc/prometheus/hiddenq-rules.yml\n"
	      "  hiddenq rules --prometheus --window 30s -t steal_pct_avg=5,15 | promtool check rules /dev/stdin\n"
	      "  hiddenq rules --grafana --docs-url https://git.example.com/hiddenq/README.md > dash.json\n",
	      out);
}

int cmd_rules(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "prometheus", no_argument, NULL, 'p' },
		{ "grafana", no_argument, NULL, 'g' },
		{ "markdown", no_argument, NULL, 'm' },
		{ "window", required_argument, NULL, 'w' },
		{ "threshold", required_argument, NULL, 't' },
		{ "thresholds", required_argument, NULL, 'T' },
		{ "docs-url", required_argument, NULL, 'D' },
		{ 0 },
	};
	enum { NONE, PROM, GRAFANA, MARKDOWN };
	int what = NONE;
	struct promrules_opts o = { .docs_url = RULES_DEFAULT_DOCS_URL };
	const char *tspecs[64], *thr_file = NULL;
	size_t ntspecs = 0;
	uint64_t window = 0;
	int c;
	struct cmd_parse p;
	cmd_parse_init(&p, "rules", argc, argv, "pgmw:t:", opts, usage);
	p.repeatable = (const char *const[]){ "threshold", NULL };
	while ((c = cmd_parse_next(&p)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return p.exit_code;
		case 'p':
		case 'g':
		case 'm': {
			int w = c == 'p' ? PROM : c == 'g' ? GRAFANA : MARKDOWN;
			if (what != NONE && what != w)
				return cmd_failf("one of --prometheus, --grafana and --markdown at a time");
			what = w;
			break;
		}
		case 'w':
			if (parse_duration_ns(optarg, &window) < 0 || window < 3000000000ull || window % 1000000000ull)
				return cmd_failf("bad --window '%s': whole seconds, at least 3s, e.g. 30s or 5m", optarg);
			o.window_s = (unsigned)(window / 1000000000ull);
			break;
		case 't':
			if (ntspecs == ARRAY_SIZE(tspecs))
				return cmd_failf("too many --threshold options (64 at most)");
			tspecs[ntspecs++] = optarg;
			break;
		case 'T': thr_file = optarg; break;
		case 'D':
			if (!*optarg || strpbrk(optarg, " \t\n\"\\#"))
				return cmd_failf("bad --docs-url: a URL without spaces, quotes or '#'");
			o.docs_url = optarg;
			break;
		}
	}
	if (cmd_parse_end(&p))
		return EXIT_UNUSABLE;
	if (what == NONE)
		return cmd_fail(hq_json, "say what to print: --prometheus, --grafana or --markdown");
	char *why = NULL;
	if (thresholds_apply_args(thr_file, tspecs, ntspecs, &why) < 0) {
		int r = cmd_fail(hq_json, why);
		free(why);
		return r;
	}
	int r = what == PROM	  ? promrules_prometheus(stdout, &o, &why)
		: what == GRAFANA ? promrules_grafana(stdout, &o, &why)
				  : promrules_markdown(stdout, &o, &why);
	if (r < 0) {
		r = cmd_fail(hq_json, why);
		free(why);
		return r;
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		return cmd_fail(hq_json, "failed to write the output");
	return EXIT_OK;
}
