/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq report: a recording or a capture bundle replayed through the
 * continuous engine (each finding over its own window, as watch and serve
 * judge it), its series and verdicts kept in a bounded history
 * (sinks/history.h), then drawn as one self-contained HTML file
 * (sinks/html.h), or summed up as text or JSON (sinks/summary.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/util.h"
#include "../engine/engine.h"
#include "../sinks/history.h"
#include "../sinks/html.h"
#include "../sinks/report.h"
#include "../sinks/summary.h"
#include "../topo/topo.h"
#include "../topo/view.h"
#include "cmd.h"
#include "cmdutil.h"
#include "topo_common.h"

static void usage(FILE *out)
{
	fputs("Usage: hiddenq report INPUT -o FILE.html [OPTIONS]\n"
	      "       hiddenq report INPUT --text | --json\n"
	      "\n"
	      "Replay a recording (hiddenq record) or a capture bundle through the engine, each\n"
	      "finding judged over its own window as watch and serve judge it, and draw it:\n"
	      "when each finding was warn or crit, steal per vCPU in its 1 s windows, the\n"
	      "guest's run queue against steal, PSI, memory, THP and compaction, block IO\n"
	      "latency per device and layer, drops per network queue, each VM's vCPU delay on\n"
	      "a host, and the topology.  One HTML file with everything inline (no script,\n"
	      "nothing fetched), readable printed and in dark mode.  Memory stays bounded\n"
	      "however long the input: plots keep at most 1200 points, each the lowest, mean\n"
	      "and highest of what it covers.\n"
	      "\n"
	      "Options:\n"
	      "  -o, --output FILE       write the HTML report to FILE (atomically: a temporary\n"
	      "                          file renamed into place); - for stdout\n"
	      "      --text              a summary on stdout: the worst periods, each finding's\n"
	      "                          warn and crit periods, the key figures of every plot\n"
	      "      --from TIME         only samples from TIME (2026-12-03T02:00[:SS][Z] or\n"
	      "      --to TIME           @EPOCH-SECONDS) to TIME\n"
	      "  -t, --threshold NAME=WARN,CRIT  override a threshold (repeatable)\n"
	      "      --thresholds FILE   threshold overrides from an INI file\n"
	      "With --json (global): the --text summary as one JSON object on stdout instead;\n"
	      "with --text, --color (global) colours it.\n",
	      out);
	cmd_help_end(out, "0 the report was written (damaged input is named in it and on\n"
			  "stderr); 3 no report (bad arguments, a missing or unreadable input, no usable\n"
			  "sample, the output cannot be written).");
	fputs("\n"
	      "Examples:\n"
	      "  hiddenq report /var/lib/hiddenq/rec.db -o report.html\n"
	      "  hiddenq report rec.db --from 2026-12-03T02:00 --to 2026-12-03T03:00 -o night.html\n"
	      "  hiddenq report /tmp/bundle --text\n",
	      out);
}

struct rstate {
	struct history h;
};

static void after_sample(struct watch *w, const struct sample *s, void *arg)
{
	struct rstate *st = arg;
	history_feed(&st->h, w->engine, s);
}

/* The output file, made before the replay so a bad path fails at once. */
struct outfile {
	char *path, *tmp;
	int fd;
};

static int out_open(struct outfile *o, const char *path, char **why)
{
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	if (!strcmp(path, "-")) {
		o->fd = STDOUT_FILENO;
		return 0;
	}
	o->path = xstrdup(path);
	char *dcopy = xstrdup(path), *bcopy = xstrdup(path);
	o->tmp = xasprintf("%s/.%s.tmp.XXXXXX", dirname(dcopy), basename(bcopy));
	free(dcopy);
	free(bcopy);
	o->fd = mkostemp(o->tmp, O_CLOEXEC);
	if (o->fd < 0) {
		int e = errno;
		*why = xasprintf("cannot write %s: %s", path, strerror(e));
		free(o->path);
		free(o->tmp);
		memset(o, 0, sizeof(*o));
		o->fd = -1;
		return -e;
	}
	fchmod(o->fd, 0644);
	return 0;
}

static void out_abandon(struct outfile *o)
{
	if (o->tmp) {
		close(o->fd);
		unlink(o->tmp);
	}
	free(o->path);
	free(o->tmp);
	memset(o, 0, sizeof(*o));
	o->fd = -1;
}

static int out_commit(struct outfile *o, const char *data, size_t len, char **why)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(o->fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			*why = xasprintf("cannot write %s: %s", o->path ? o->path : "stdout", strerror(e));
			out_abandon(o);
			return -e;
		}
		off += (size_t)n;
	}
	if (!o->tmp)
		return 0;
	if (fsync(o->fd) < 0 || close(o->fd) < 0 || rename(o->tmp, o->path) < 0) {
		int e = errno;
		*why = xasprintf("cannot write %s: %s", o->path, strerror(e));
		o->fd = -1;
		unlink(o->tmp);
		free(o->path);
		free(o->tmp);
		memset(o, 0, sizeof(*o));
		o->fd = -1;
		return -e;
	}
	free(o->path);
	free(o->tmp);
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	return 0;
}

/* The topology of the input's statics; NULL with *why when there is none. */
static struct topo_view *read_topology(const char *input, struct topo *t, char *why, size_t n)
{
	struct fsroot root;
	char *tmpdir = NULL, *err = NULL;
	if (topo_root_open(input, &root, &tmpdir, &err) < 0) {
		snprintf(why, n, "%s", err ? err : "cannot read the input's statics");
		free(err);
		return NULL;
	}
	struct topo_view *v = NULL;
	if (topo_read(&root, t) == 0) {
		v = xcalloc(1, sizeof(*v));
		topo_view_init(v, t, &root, false, input);
	} else {
		snprintf(why, n, "no CPU topology in the input (sys/devices/system/cpu, proc/cpuinfo)");
	}
	topo_root_close(&root, tmpdir);
	return v;
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "text", no_argument, NULL, 'x' },
		{ "from", required_argument, NULL, 0x101 },
		{ "to", required_argument, NULL, 0x102 },
		{ "threshold", required_argument, NULL, 't' },
		{ "thresholds", required_argument, NULL, 'T' },
		{ 0 },
	};
	const char *output = NULL, *thr_file = NULL;
	const char *tspecs[64];
	size_t ntspecs = 0;
	bool text = false;
	uint64_t from = 0, to = 0;
	struct cmd_parse p;
	cmd_parse_init(&p, "report", argc, argv, "o:t:", opts, usage);
	p.repeatable = (const char *const[]){ "threshold", NULL };
	int c;
	while ((c = cmd_parse_next(&p)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return p.exit_code;
		case 'o': output = optarg; break;
		case 'x': text = true; break;
		case 0x101:
		case 0x102: {
			char *why = NULL;
			if (parse_time_arg(optarg, c == 0x101 ? &from : &to, &why) < 0) {
				int r = cmd_failf("bad --%s: %s", c == 0x101 ? "from" : "to", why);
				free(why);
				return r;
			}
			break;
		}
		case 't':
			if (ntspecs == ARRAY_SIZE(tspecs))
				return cmd_failf("too many --threshold options (64 at most)");
			tspecs[ntspecs++] = optarg;
			break;
		case 'T': thr_file = optarg; break;
		}
	}
	bool json = hq_json;
	if (optind >= argc)
		return cmd_fail(json, "report: it needs an INPUT: a recording (hiddenq record) or a capture bundle "
				      "(hiddenq report --help)");
	const char *input = argv[optind++];
	if (cmd_parse_end(&p))
		return EXIT_UNUSABLE;
	if (text && json)
		return cmd_fail(json, "--text and --json: pick one");
	if (!output && !text && !json)
		return cmd_fail(json, "nothing to write: give -o FILE.html, --text or --json");
	if (output && !strcmp(output, "-") && (text || json))
		return cmd_fail(json, "-o - and --text/--json would share stdout: write the HTML to a file");
	if (from && to && from > to)
		return cmd_fail(json, "--from is after --to");
	char *why = NULL;
	if (thresholds_apply_args(thr_file, tspecs, ntspecs, &why) < 0) {
		int r = cmd_fail(json, why);
		free(why);
		return r;
	}
	struct stat sti;
	if (stat(input, &sti) < 0) {
		char *m = xasprintf("cannot read %s: %s", input, strerror(errno));
		int r = cmd_fail(json, m);
		free(m);
		return r;
	}

	struct outfile of = { .fd = -1 };
	if (output && out_open(&of, output, &why) < 0) {
		int r = cmd_fail(json, why);
		free(why);
		return r;
	}

	struct rstate *st = xcalloc(1, sizeof(*st));
	history_init(&st->h);
	install_exit_handlers();
	struct engine_opts eo = { .rule_windows = true };
	struct sampler_opts so = { 0 };
	struct watch w = { .after = after_sample, .after_arg = st, .from_real = from, .to_real = to };
	int code = EXIT_OK;
	if (watch_run(&w, input, &so, &eo, json, "reporting") != 0) {
		code = EXIT_UNUSABLE;
		goto out_nowatch;
	}
	if (hq_exiting) {
		code = cmd_fail(json, "interrupted: no report written");
		goto out;
	}
	history_finish(&st->h, w.engine);

	struct report_meta *m = xcalloc(1, sizeof(*m));
	m->input = input;
	m->kind = S_ISDIR(sti.st_mode) ? "capture bundle" : "recording";
	m->interval_ns = w.br.interval_ns;
	m->skipped = w.br.skipped;
	m->bad_entries = w.br.bad_entries;
	m->truncated = w.br.truncated;
	m->from_real = from;
	m->to_real = to;
	const struct analysis *an = engine_acquire(w.engine, 0);
	environment_build(an, &m->env);
	capabilities_build(an, &m->caps);
	engine_release(w.engine);
	struct topo t;
	memset(&t, 0, sizeof(t));
	struct topo_view *tv = read_topology(input, &t, m->topo_why, sizeof(m->topo_why));
	m->topo = tv;

	if (output) {
		size_t len;
		char *html = html_report(&st->h, m, &len);
		if (out_commit(&of, html, len, &why) < 0) {
			code = cmd_fail(json, why);
			free(why);
		} else if (!hq_quiet && strcmp(output, "-") != 0) {
			log_info("report: wrote %s (%zu KiB) from %llu sample%s", output, (len + 1023) / 1024,
				 (unsigned long long)st->h.nsamples, plural_s(st->h.nsamples));
		}
		free(html);
	}
	if (code == EXIT_OK && text) {
		summary_text(stdout, &st->h, m, hq_color_on(STDOUT_FILENO));
	}
	if (code == EXIT_OK && json) {
		json_t *j = summary_json(&st->h, m);
		json_print(stdout, j);
		json_decref(j);
	}
	if (tv) {
		topo_view_done(tv);
		free(tv);
	}
	topo_done(&t);
	capabilities_done(&m->caps);
	free(m);
out:
	watch_done(&w);
out_nowatch:
	if (of.fd >= 0 || of.tmp)
		out_abandon(&of);
	history_done(&st->h);
	free(st);
	fflush(stdout);
	return code;
}
