/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq serve: the engine running until stopped, its series and findings
 * exported for Prometheus.  The main thread samples and, after each
 * sample, evaluates the findings and renders a snapshot; the HTTP thread
 * (sinks/httpd.c) answers from the last snapshot.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/util.h"
#include "../host/vmscan.h"
#include "../engine/engine.h"
#include "../sinks/httpd.h"
#include "../sinks/openmetrics.h"
#include "../sinks/report.h"
#include "cmd.h"
#include "cmdutil.h"

#define SERVE_DEFAULT_LISTEN "127.0.0.1:9814"

static void usage(FILE *out)
{
	fputs("Usage: hiddenq serve [OPTIONS]\n"
	      "\n"
	      "Export every hidden-queue series and each finding's severity for Prometheus,\n"
	      "sampling on its own clock until stopped.  A scrape reads the last snapshot:\n"
	      "it never waits for a sample and concurrent scrapes do not multiply the work.\n"
	      "\n"
	      "  /metrics  Prometheus text 0.0.4, or OpenMetrics 1.0 when the Accept header\n"
	      "            asks for application/openmetrics-text; gzip when asked\n"
	      "  /         a small page: version, sources and findings\n"
	      "\n"
	      "Options:\n"
	      "  -l, --listen ADDR:PORT  where to listen (default " SERVE_DEFAULT_LISTEN ", loopback only;\n"
	      "                          :9814 listens on every address: then use --web-config\n"
	      "                          for TLS and basic auth, or a firewall)\n"
	      "      --web-config FILE   TLS and basic auth (INI: [tls] cert_file, key_file;\n"
	      "                          [basic_auth_users] NAME = crypt hash, e.g. from\n"
	      "                          htpasswd -nBC 10 NAME)\n"
	      "  -i, --interval TIME     sampling interval (default 1s; at least 100ms)\n"
	      "  -w, --window TIME       judge every finding over this window (default: each\n"
	      "                          finding's own, 60 s)\n"
	      "  -t, --threshold NAME=WARN,CRIT  override a threshold (repeatable)\n"
	      "      --thresholds FILE   threshold overrides from an INI file; re-read on SIGHUP\n"
	      "      --max-connections N at most N connections at once (default 64; 16 per address)\n"
	      "  -r, --replay DIR        serve a bundle's samples, one per interval, then keep\n"
	      "                          serving the last state until stopped (for tests and demos)\n"
	      "      --qmp NAME=SOCKET   a QMP socket this run owns, for VM NAME: its block statistics\n"
	      "                          (hiddenq_vm_disk_*, the host's side of the guest/host join);\n"
	      "                          repeatable\n"
	      "With --json: a JSON object per line on stdout when it listens and when it stops.\n",
	      out);
	cmd_sources_help(out);
	fputs("\nSignals: SIGINT and SIGTERM stop it (exit 0); SIGHUP re-reads --thresholds.\n", out);
	cmd_help_end(out, "0 stopped; 3 could not start (bad arguments, the address is taken,\n"
			  "a bad web config or thresholds file).");
	fputs("\n"
	      "Examples:\n"
	      "  hiddenq serve\n"
	      "  hiddenq serve --listen :9814 --web-config /etc/hiddenq/web.ini\n"
	      "  curl -s localhost:9814/metrics | grep hiddenq_finding_severity\n",
	      out);
}

struct sstate {
	struct httpd *h;
	const char *thr_file;
	const char **tspecs;
	size_t ntspecs;
	const char *listen;
	uint64_t interval_ns;
	double sample_cpu_s;
	uint64_t last_cpu_ns;
	bool replay;
	uint64_t replay_next_ns;
};

static uint64_t thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	if (!f)
		return 0;
	unsigned long size, res;
	int n = fscanf(f, "%lu %lu", &size, &res);
	fclose(f);
	return n == 2 ? (double)res * (double)sysconf(_SC_PAGESIZE) : 0;
}

static void html_escaped(struct strbuf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': sb_puts(b, "&lt;"); break;
		case '>': sb_puts(b, "&gt;"); break;
		case '&': sb_puts(b, "&amp;"); break;
		case '"': sb_puts(b, "&quot;"); break;
		default: sb_put(b, s, 1);
		}
	}
}

static char *index_html(struct engine *e, const struct findings *fs, const struct sstate *st,
			const struct httpd_stats *hs, size_t *len)
{
	struct strbuf b = { 0 };
	sb_printf(&b, "<!doctype html><html><head><meta charset=\"utf-8\"><title>hiddenq %s</title></head><body>\n"
		      "<h1>hiddenq %s</h1>\n<p><a href=\"/metrics\">/metrics</a> &mdash; sampling every %.1f s, "
		      "%llu samples</p>\n<h2>Findings</h2>\n<table>\n",
		  HQ_VERSION, HQ_VERSION, (double)st->interval_ns / 1e9, (unsigned long long)e->nsamples);
	for (size_t i = 0; i < fs->n; i++) {
		sb_printf(&b, "<tr><td>%s</td><td>%s</td><td>", severity_name(fs->v[i].sev), fs->v[i].id);
		html_escaped(&b, fs->v[i].title);
		sb_puts(&b, "</td></tr>\n");
	}
	sb_puts(&b, "</table>\n<h2>Sources</h2>\n<table>\n");
	const struct analysis *an = e->nep ? &e->ep[e->nep - 1]->an : NULL;
	for (int s = 0; an && s < SRC_COUNT; s++) {
		char why[256];
		bool ok = source_status(an, (enum source_id)s, why, sizeof(why));
		sb_printf(&b, "<tr><td>%s</td><td>%s</td><td>", source_defs[s].name, ok ? "up" : "down");
		html_escaped(&b, ok ? source_defs[s].reads : why);
		sb_puts(&b, "</td></tr>\n");
	}
	sb_printf(&b, "</table>\n<h2>HTTP</h2>\n<p>answered: %llu 2xx, %llu 4xx, %llu 5xx; %llu connections closed "
		      "to make room or past their deadline (a request must arrive within 10 s)</p>\n",
		  (unsigned long long)hs->answered[0], (unsigned long long)hs->answered[1],
		  (unsigned long long)hs->answered[2], (unsigned long long)hs->evicted);
	sb_puts(&b, "</body></html>\n");
	return sb_take(&b, len);
}

static void after_sample(struct watch *w, const struct sample *s, void *arg)
{
	(void)s;
	struct sstate *st = arg;
	if (hq_reload) {
		hq_reload = 0;
		char *why = NULL;
		if (thresholds_apply_args(st->thr_file, st->tspecs, st->ntspecs, &why) < 0)
			log_err("SIGHUP: %s; the thresholds in force stay", why);
		else
			log_info("serve: thresholds re-read");
		free(why);
	}
	struct engine *e = w->engine;
	struct findings fs = { 0 };
	engine_evaluate(e, &fs);
	engine_release(e);
	uint64_t now = thread_cpu();
	double last = st->last_cpu_ns ? (double)(now - st->last_cpu_ns) / 1e9 : 0;
	st->sample_cpu_s += last;
	struct httpd_stats hs;
	httpd_get_stats(st->h, &hs);
	struct om_self self = {
		.scrape_cpu_s = hs.cpu_s,
		.sample_cpu_s = st->sample_cpu_s,
		.sample_last_s = last,
		.rss_bytes = rss_bytes(),
		.features = cmd_features(),
	};
	memcpy(self.scrapes, hs.answered, sizeof(self.scrapes));
	if (w->live) {
		uint64_t ns[SRC_COUNT];
		sampler_source_cost(&w->sp, ns, self.source_runs);
		for (int i = 0; i < SRC_COUNT; i++)
			self.source_cpu_s[i] = (double)ns[i] / 1e9;
		self.have_sources = true;
	}
	struct httpd_snapshot snap = { 0 };
	/* OpenMetrics only: Prometheus asks for it, and the text format is
	 * derived from it when a client asks for that (sinks/httpd.c) */
	snap.om = om_render(e, &fs, &self, OM_OPENMETRICS_100, &snap.om_len);
	snap.index = index_html(e, &fs, st, &hs, &snap.index_len);
	httpd_publish(st->h, &snap);
	findings_done(&fs);
	st->last_cpu_ns = thread_cpu();
	if (st->replay) { /* a bundle at the pace of its interval, as if live */
		st->replay_next_ns += st->interval_ns;
		uint64_t t = mono_ns();
		if (st->replay_next_ns > t) {
			struct timespec ts = { (time_t)((st->replay_next_ns - t) / 1000000000ull),
					       (long)((st->replay_next_ns - t) % 1000000000ull) };
			nanosleep(&ts, NULL);
		}
	}
}

/* --json: one line per event, as watch's */
static void serve_event(const char *event, const struct sstate *st)
{
	if (!hq_json)
		return;
	json_t *o = json_object();
	json_object_set_new(o, "hiddenq", jstr(HQ_VERSION));
	json_object_set_new(o, "event", jstr(event));
	json_object_set_new(o, "listen", jstr(st->listen));
	json_object_set_new(o, "port", json_integer(httpd_port(st->h)));
	json_object_set_new(o, "interval_s", json_real((double)st->interval_ns / 1e9));
	char *t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (t)
		printf("%s\n", t);
	free(t);
	fflush(stdout);
	json_decref(o);
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "web-config", required_argument, NULL, 'W' },
		{ "interval", required_argument, NULL, 'i' },
		{ "window", required_argument, NULL, 'w' },
		{ "threshold", required_argument, NULL, 't' },
		{ "thresholds", required_argument, NULL, 'T' },
		{ "max-connections", required_argument, NULL, 'M' },
		{ "replay", required_argument, NULL, 'r' },
		{ "qmp", required_argument, NULL, 'Q' },
		{ 0 },
	};
	struct sstate st = { .listen = SERVE_DEFAULT_LISTEN, .interval_ns = 1000000000ull };
	const char *qmp[VMSCAN_MAX_QMP + 1] = { 0 };
	unsigned nqmp = 0;
	const char *tspecs[64];
	st.tspecs = tspecs;
	const char *web = NULL, *replay = NULL;
	uint64_t window = 0, maxc = 64;
	struct cmd_sources cs;
	cmd_sources_init(&cs);
	cmd_json_lines = true;
	int c;
	struct cmd_parse p;
	cmd_parse_init(&p, "serve", argc, argv, "l:i:w:t:r:", opts, usage);
	p.cs = &cs;
	p.repeatable = (const char *const[]){ "threshold", "qmp", NULL };
	while ((c = cmd_parse_next(&p)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return p.exit_code;
		case 'l': st.listen = optarg; break;
		case 'W': web = optarg; break;
		case 'i':
			if (parse_duration_range(optarg, 100000000ull, 3600000000000ull, &st.interval_ns) < 0)
				return cmd_failf("bad --interval '%s': use e.g. 1s or 500ms (at least 100ms, at most 1h)", optarg);
			break;
		case 'w':
			if (parse_duration_ns(optarg, &window) < 0 || window < 3000000000ull)
				return cmd_failf("bad --window '%s': use e.g. 60s or 5m (at least 3s, at most a day)", optarg);
			break;
		case 't':
			if (st.ntspecs == ARRAY_SIZE(tspecs))
				return cmd_failf("too many --threshold options (64 at most)");
			tspecs[st.ntspecs++] = optarg;
			break;
		case 'T': st.thr_file = optarg; break;
		case 'M':
			if (parse_uint(optarg, 4096, &maxc) < 0 || maxc < 1)
				return cmd_failf("bad --max-connections '%s': a number from 1 to 4096", optarg);
			break;
		case 'r': replay = optarg; break;
		case 'Q':
			if (cmd_qmp_arg(qmp, &nqmp, optarg))
				return EXIT_UNUSABLE;
			break;
		}
	}
	/* --interval stays: a replay is served at that pace */
	if (replay && cmd_parse_refuse_with(&p, "--replay", (const char *const[]){ "qmp", NULL }))
		return EXIT_UNUSABLE;
	if (cmd_parse_end(&p))
		return EXIT_UNUSABLE;
	for (unsigned k = 0; k < nqmp; k++) {
		char *qwhy = cmd_qmp_check(qmp[k]);
		if (qwhy) {
			int r = cmd_fail(hq_json, qwhy);
			free(qwhy);
			return r;
		}
	}
	char *why = NULL;
	if (thresholds_apply_args(st.thr_file, tspecs, st.ntspecs, &why) < 0) {
		int r = cmd_fail(hq_json, why);
		free(why);
		return r;
	}
	struct httpd_opts ho = { .listen = st.listen, .web_config = web, .max_connections = (unsigned)maxc,
				 .max_per_ip = maxc < 16 ? (unsigned)maxc : 16 };
	if (httpd_start(&st.h, &ho, &why) < 0) {
		int r = cmd_fail(hq_json, why);
		free(why);
		return r;
	}
	if (!hq_json)
		log_info("serve: listening on %s (port %u), sampling every %.1f s", st.listen, httpd_port(st.h),
			 (double)st.interval_ns / 1e9);
	serve_event("listening", &st);
	struct sampler_opts so = {
		.interval_ns = st.interval_ns,
		.count = 0,
		.slow_interval_ns = 5000000000ull, /* per-task and cgroup walks every 5 s: a daemon's budget */
		.vms_qmp = qmp,
	};
	cmd_sources_apply(&cs, &so);
	struct engine_opts eo = { .window_ns = window, .rule_windows = window == 0 };
	install_reload_handler();
	install_exit_handlers();
	st.replay = replay != NULL;
	st.replay_next_ns = mono_ns();
	struct watch w = { .after = after_sample, .after_arg = &st };
	int code = EXIT_OK;
	if (watch_run(&w, replay, &so, &eo, hq_json, "serving") != 0) {
		code = EXIT_UNUSABLE;
	} else {
		/* a replay ends: keep serving its last state until stopped */
		while (replay && !hq_exiting)
			pause();
		watch_done(&w);
	}
	if (code == EXIT_OK) {
		serve_event("stopped", &st);
		if (!hq_json)
			log_info("serve: stopped");
	}
	httpd_stop(st.h);
	return code;
}
