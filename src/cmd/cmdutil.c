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

bool cmd_source_switchable(enum source_id s)
{
	switch (s) {
	case SRC_CPU: case SRC_IDENTITY: case SRC_TOPOLOGY: case SRC_ENGINE: case SRC_MEMORY: case SRC_COUNT:
		return false;
	default:
		return true;
	}
}

enum { OPT_SOURCES = 0x300, OPT_STALLS, OPT_NO_BPF, OPT_NO_SOURCE = 0x320 /* + source id */ };

void cmd_sources_init(struct cmd_sources *cs)
{
	cs->mask = sources_default_mask();
	cs->stalls = STALLS_AUTO;
}

struct option *cmd_options_with_sources(const struct option *base)
{
	size_t nb = 0;
	while (base[nb].name)
		nb++;
	/* one command runs per process: a static table, nothing to free on early returns */
	static struct option o[96];
	static char names[SRC_COUNT][40];
	if (nb + SRC_COUNT + 4 > ARRAY_SIZE(o))
		abort();
	memset(o, 0, sizeof(o));
	memcpy(o, base, nb * sizeof(*o));
	size_t k = nb;
	for (int s = 0; s < SRC_COUNT; s++) {
		if (!cmd_source_switchable((enum source_id)s))
			continue;
		snprintf(names[s], sizeof(names[s]), "no-%s", source_defs[s].name);
		o[k++] = (struct option){ names[s], no_argument, NULL, OPT_NO_SOURCE + s };
	}
	o[k++] = (struct option){ "sources", required_argument, NULL, OPT_SOURCES };
	o[k++] = (struct option){ "stalls", required_argument, NULL, OPT_STALLS };
	o[k++] = (struct option){ "no-bpf", no_argument, NULL, OPT_NO_BPF };
	return o;
}

static int parse_sources(const char *arg, uint64_t *mask, char **why)
{
	char *list = xstrdup(arg);
	bool bare = false;
	uint64_t add = 0, del = 0;
	for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char sign = *t == '+' || *t == '-' ? *t++ : 0;
		enum source_id s = source_by_name(t);
		if (s == SRC_COUNT || !cmd_source_switchable(s)) {
			*why = s == SRC_COUNT ? xasprintf("bad --sources: no source is called '%s' (hiddenq metrics "
							  "--catalog lists them)",
							  t)
					      : xasprintf("bad --sources: '%s' cannot be switched: it is always read", t);
			free(list);
			return -EINVAL;
		}
		if (!sign)
			bare = true;
		*(sign == '-' ? &del : &add) |= SRC_BIT(s);
	}
	free(list);
	if (!add && !del) {
		*why = xstrdup("bad --sources: an empty list (e.g. -tasks,-numa or tasks,net)");
		return -EINVAL;
	}
	if (bare) { /* the named set, and what cannot be switched off */
		uint64_t keep = 0;
		for (int s = 0; s < SRC_COUNT; s++)
			if (!cmd_source_switchable((enum source_id)s))
				keep |= SRC_BIT(s);
		*mask = keep;
	}
	*mask = (*mask | add) & ~del;
	return 0;
}

int cmd_sources_arg(struct cmd_sources *cs, int c, const char *arg, bool json)
{
	if (c >= OPT_NO_SOURCE && c < OPT_NO_SOURCE + SRC_COUNT) {
		cs->mask &= ~SRC_BIT(c - OPT_NO_SOURCE);
		return 1;
	}
	switch (c) {
	case OPT_NO_BPF:
		cs->mask &= ~SRC_BPF_MASK;
		return 1;
	case OPT_STALLS:
		if (stall_method_parse(arg, &cs->stalls) < 0) {
			cmd_fail(json, "bad --stalls: use auto, bpf, coarse, sampler or off");
			return -1;
		}
		/* naming a method switches the source back on; off switches it off */
		if (cs->stalls == STALLS_OFF)
			cs->mask &= ~SRC_BIT(SRC_STALLS);
		else
			cs->mask |= SRC_BIT(SRC_STALLS);
		return 1;
	case OPT_SOURCES: {
		char *why = NULL;
		if (parse_sources(arg, &cs->mask, &why) < 0) {
			cmd_fail(json, why);
			free(why);
			return -1;
		}
		return 1;
	}
	default:
		return 0;
	}
}

void cmd_sources_apply(const struct cmd_sources *cs, struct sampler_opts *so)
{
	so->stalls = cs->stalls;
	sampler_opts_from_sources(so, cs->mask);
	if (!(cs->mask & SRC_BIT(SRC_CGROUPS)))
		so->runq_no_cgroups = true;
}

void cmd_sources_help(FILE *out)
{
	fputs("Sources (hiddenq metrics --catalog says what each reads):\n"
	      "      --stalls METHOD     how to watch for execution stalls: auto (default: eBPF\n"
	      "                          timer lateness, else a 20 ms thread), bpf, coarse,\n"
	      "                          sampler (a 1 ms thread: ~2 % of a CPU) or off\n"
	      "      --no-bpf            none of the eBPF histograms (runqlat, biolat, compact)\n"
	      "      --sources LIST      -tasks,-numa (switch off), +vms (on), or tasks,net\n"
	      "                          (only those, and what cannot be switched off)\n"
	      "      --no-NAME           switch one source off:\n",
	      out);
	unsigned col = 0;
	for (int s = 0; s < SRC_COUNT; s++) {
		if (!cmd_source_switchable((enum source_id)s))
			continue;
		unsigned w = (unsigned)strlen(source_defs[s].name) + 1;
		if (col == 0 || col + w > 78) {
			fputs(col ? "\n                         " : "                         ", out);
			col = 25;
		}
		fprintf(out, " %s", source_defs[s].name);
		col += w;
	}
	fputc('\n', out);
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
