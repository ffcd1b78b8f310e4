/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "cmdutil.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/util.h"
#include "../host/vmscan.h"	/* VMSCAN_MAX_QMP */
#include "../parse/vmconf.h"
#include "../sinks/httpd.h"
#include "../sinks/report.h"
#include "../topo/topo.h"
#include "cmd.h"

bool cmd_json_lines;

int cmd_fail(bool json, const char *msg)
{
	if (json || hq_json) {
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

int cmd_failf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
	int r = cmd_fail(hq_json, m);
	free(m);
	return r;
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
			const char *end;
			if (parse_decimal(p + 1, &sec, &end) < 0) {
				*why = xasprintf("'%s': the seconds are a number from 0 to 60", s);
				return -EINVAL;
			}
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

/* the sources options at o[k...]; returns the new count */
static size_t add_sources_options(struct option *o, size_t k)
{
	static char names[SRC_COUNT][40];
	for (int s = 0; s < SRC_COUNT; s++) {
		if (!cmd_source_switchable((enum source_id)s))
			continue;
		snprintf(names[s], sizeof(names[s]), "no-%s", source_defs[s].name);
		o[k++] = (struct option){ names[s], no_argument, NULL, OPT_NO_SOURCE + s };
	}
	o[k++] = (struct option){ "sources", required_argument, NULL, OPT_SOURCES };
	o[k++] = (struct option){ "stalls", required_argument, NULL, OPT_STALLS };
	o[k++] = (struct option){ "no-bpf", no_argument, NULL, OPT_NO_BPF };
	return k;
}

static bool is_sources_val(int v)
{
	return v == OPT_SOURCES || v == OPT_STALLS || v == OPT_NO_BPF ||
	       (v >= OPT_NO_SOURCE && v < OPT_NO_SOURCE + SRC_COUNT);
}

struct option *cmd_options_with_sources(const struct option *base)
{
	size_t nb = 0;
	while (base[nb].name)
		nb++;
	/* one command runs per process: a static table, nothing to free on early returns */
	static struct option o[96];
	if (nb + SRC_COUNT + 4 > ARRAY_SIZE(o))
		abort();
	memset(o, 0, sizeof(o));
	memcpy(o, base, nb * sizeof(*o));
	add_sources_options(o, nb);
	return o;
}

/* ---------------- the options of one command (cmd_parse) ---------------- */

enum { OPT_G_JSON = 0x7f00, OPT_G_QUIET, OPT_G_COLOR, OPT_G_HELP, OPT_G_VERSION };
static const struct option global_opts[] = {
	{ "json", no_argument, NULL, OPT_G_JSON },
	{ "quiet", no_argument, NULL, OPT_G_QUIET },
	{ "color", required_argument, NULL, OPT_G_COLOR },
	{ "help", no_argument, NULL, OPT_G_HELP },
	{ "version", no_argument, NULL, OPT_G_VERSION },
};
#define GLOBAL_SHORT "jqhV"

static int global_of_short(int c)
{
	switch (c) {
	case 'j': return OPT_G_JSON;
	case 'q': return OPT_G_QUIET;
	case 'h': return OPT_G_HELP;
	case 'V': return OPT_G_VERSION;
	default: return 0;
	}
}

void cmd_parse_init(struct cmd_parse *p, const char *name, int argc, char **argv, const char *shortopts,
		    const struct option *opts, void (*usage)(FILE *out))
{
	memset(p, 0, sizeof(*p));
	p->name = name;
	p->argc = argc;
	p->argv = argv;
	p->usage = usage;
	p->base = opts;
	p->base_short = shortopts ? shortopts : "";
}

/* one command runs per process: static tables, nothing to free on early returns */
static struct option parse_all[160];
static unsigned parse_seen[160];
static char parse_short[96];

static void parse_build(struct cmd_parse *p)
{
	size_t k = 0;
	for (const struct option *o = p->base; o && o->name; o++) {
		bool global = false;
		for (size_t g = 0; g < ARRAY_SIZE(global_opts); g++)
			global |= !strcmp(o->name, global_opts[g].name);
		if (global) /* the command's own copy of a global option: ours replaces it */
			continue;
		if (k >= ARRAY_SIZE(parse_all) - SRC_COUNT - 12)
			abort();
		parse_all[k++] = *o;
	}
	if (p->cs)
		k = add_sources_options(parse_all, k);
	for (size_t g = 0; g < ARRAY_SIZE(global_opts); g++)
		parse_all[k++] = global_opts[g];
	memset(&parse_all[k], 0, sizeof(parse_all[k]));
	p->all = parse_all;
	p->nall = k;
	p->seen = parse_seen;
	memset(parse_seen, 0, sizeof(parse_seen));
	/* ':' first: a missing value is told apart from an unknown option */
	size_t n = 0;
	parse_short[n++] = ':';
	for (const char *c = p->base_short; *c && n < sizeof(parse_short) - 8; c++) {
		if (*c == ':' && n && strchr(GLOBAL_SHORT, parse_short[n - 1]) && parse_short[n - 1] != ':')
			continue;
		if (*c != ':' && strchr(GLOBAL_SHORT, *c))
			continue;
		parse_short[n++] = *c;
	}
	memcpy(parse_short + n, GLOBAL_SHORT, sizeof(GLOBAL_SHORT));
	p->shortopts = parse_short;
}

/* the table entry of what getopt_long returned: by its index for a long option, by value for a short one */
static int parse_entry(const struct cmd_parse *p, int c, int li)
{
	if (li >= 0)
		return li;
	for (size_t i = 0; i < p->nall; i++)
		if (p->all[i].val == c)
			return (int)i;
	return -1;
}

/* the option the user typed, for a message: "--durtion", "-x" */
static char *parse_token(const struct cmd_parse *p)
{
	const char *t = optind > 0 && optind <= p->argc ? p->argv[optind - 1] : NULL;
	if (t && t[0] == '-' && t[1] == '-') {
		const char *eq = strchr(t, '=');
		return eq ? xstrndup(t, (size_t)(eq - t)) : xstrdup(t);
	}
	if (optopt > 0 && optopt < 128 && isprint(optopt))
		return xasprintf("-%c", optopt);
	return xstrdup(t ? t : "?");
}

static bool parse_repeatable(const struct cmd_parse *p, const char *name)
{
	if (p->cs && !strcmp(name, "sources"))
		return true;
	for (const char *const *r = p->repeatable; r && *r; r++)
		if (!strcmp(*r, name))
			return true;
	return false;
}

int cmd_parse_next(struct cmd_parse *p)
{
	if (!p->scanned) {
		parse_build(p);
		/* --json must be known before the first error is reported: a first pass for it alone */
		opterr = 0;
		optind = 0;
		int c, li = -1;
		while ((c = getopt_long(p->argc, p->argv, p->shortopts, p->all, &li)) != -1) {
			if ((li >= 0 && p->all[li].val == OPT_G_JSON) || (li < 0 && c == 'j'))
				hq_json = true;
			li = -1;
		}
		optind = 0;
		p->scanned = true;
	}
	for (;;) {
		int li = -1;
		optopt = 0;
		int c = getopt_long(p->argc, p->argv, p->shortopts, p->all, &li);
		if (c == -1)
			return -1;
		if (c == '?' || c == ':') {
			char *t = parse_token(p);
			if (c == ':')
				p->exit_code = cmd_failf("%s: %s needs a value (hiddenq %s --help)", p->name, t, p->name);
			else
				p->exit_code = cmd_failf("%s: unknown option '%s' (hiddenq %s --help lists them)", p->name,
							 t, p->name);
			free(t);
			return CMD_PARSE_EXIT;
		}
		int g = li >= 0 ? (p->all[li].val >= OPT_G_JSON && p->all[li].val <= OPT_G_VERSION ? p->all[li].val : 0)
				: global_of_short(c);
		switch (g) {
		case OPT_G_JSON: hq_json = true; continue;
		case OPT_G_QUIET: hq_quiet = true; continue;
		case OPT_G_COLOR:
			if (hq_color_parse(optarg, &hq_color) < 0) {
				p->exit_code = cmd_failf("bad --color '%s': use auto, always or never", optarg);
				return CMD_PARSE_EXIT;
			}
			continue;
		case OPT_G_HELP:
			p->usage(stdout);
			fflush(stdout);
			p->exit_code = EXIT_OK;
			return CMD_PARSE_EXIT;
		case OPT_G_VERSION:
			p->exit_code = cmd_version();
			return CMD_PARSE_EXIT;
		default: break;
		}
		int e = parse_entry(p, c, li);
		if (e >= 0 && p->seen[e]++ && p->all[e].has_arg != no_argument && !parse_repeatable(p, p->all[e].name)) {
			p->exit_code = cmd_failf("%s: --%s given twice: give it once", p->name, p->all[e].name);
			return CMD_PARSE_EXIT;
		}
		if (p->cs) {
			int r = cmd_sources_arg(p->cs, c, optarg, hq_json);
			if (r < 0) {
				p->exit_code = EXIT_UNUSABLE;
				return CMD_PARSE_EXIT;
			}
			if (r > 0)
				continue;
		}
		return c;
	}
}

unsigned cmd_parse_count(const struct cmd_parse *p, const char *name)
{
	for (size_t i = 0; i < p->nall; i++)
		if (!strcmp(p->all[i].name, name))
			return p->seen[i];
	return 0;
}

int cmd_parse_refuse_with(struct cmd_parse *p, const char *with, const char *const *names)
{
	static const struct {
		const char *name, *why;
	} reasons[] = {
		{ "duration", "a bundle or recording is read whole (--from and --to take a slice)" },
		{ "count", "a bundle or recording is read whole (--from and --to take a slice)" },
		{ "interval", "a bundle or recording keeps the interval it was captured at" },
		{ "runq-split", "it chooses what a live run's eBPF programs record" },
		{ "no-runq-cgroups", "it chooses what a live run's eBPF programs record" },
		{ "qmp", "it asks a running VM's QMP socket" },
		{ "qmp-histograms", "it asks a running VM's QMP socket" },
		{ "no-hwloc", "hwloc reads this machine, never a bundle" },
	};
	/* the reasons speak of bundles: with anything else (--catalog) the plain one */
	bool bundle = !strcmp(with, "--replay") || !strcmp(with, "--from-bundle");
	for (const char *const *n = names; n && *n; n++) {
		if (!cmd_parse_count(p, *n))
			continue;
		const char *why = "it applies to a live run only";
		for (size_t i = 0; bundle && i < ARRAY_SIZE(reasons); i++)
			if (!strcmp(reasons[i].name, *n))
				why = reasons[i].why;
		return cmd_failf("%s: --%s does not apply to %s: %s", p->name, *n, with, why);
	}
	for (size_t i = 0; p->cs && i < p->nall; i++)
		if (p->seen[i] && is_sources_val(p->all[i].val))
			return cmd_failf("%s: --%s does not apply to %s: the sources options choose what a live run "
					 "reads (a bundle or recording holds what its capture read)",
					 p->name, p->all[i].name, with);
	return 0;
}

int cmd_parse_end(struct cmd_parse *p)
{
	if (optind < p->argc) {
		cmd_failf("%s: unexpected argument '%s' (hiddenq %s --help)", p->name, p->argv[optind], p->name);
		return EXIT_UNUSABLE;
	}
	return 0;
}

void cmd_json_anywhere(int argc, char **argv, int from)
{
	for (int i = from; i < argc; i++)
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			hq_json = true;
}

int cmd_globals(int argc, char **argv, int *next, void (*usage)(FILE *out))
{
	int i = 1;
	*next = argc;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
			hq_json = true;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			hq_quiet = true;
		} else if (!strcmp(a, "--color") || !strncmp(a, "--color=", 8)) {
			const char *v = a[7] == '=' ? a + 8 : i + 1 < argc ? argv[++i] : NULL;
			if (!v || hq_color_parse(v, &hq_color) < 0) {
				cmd_json_anywhere(argc, argv, i);
				return v ? cmd_failf("bad --color '%s': use auto, always or never", v)
					 : cmd_failf("--color needs a value: auto, always or never");
			}
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			return cmd_version();
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			fflush(stdout);
			return EXIT_OK;
		} else {
			break;
		}
	}
	*next = i;
	return -1;
}


void cmd_help_end(FILE *out, const char *exit_status)
{
	fputs("\nGlobal options:\n"
	      "  -j, --json            JSON on stdout; an error is {\"error\": ...} there too\n"
	      "  -q, --quiet           no warnings or progress on stderr (errors still)\n"
	      "      --color WHEN      auto, always or never (default auto; NO_COLOR respected)\n"
	      "  -h, --help            this help\n"
	      "  -V, --version         the version and the features of this build\n"
	      "\nExit status: ",
	      out);
	fputs(exit_status, out);
	fputc('\n', out);
}

const char *cmd_features(void)
{
	static char buf[128];
	if (buf[0])
		return buf;
	struct strbuf b = { 0 };
#ifdef HQ_WITH_BPF
	sb_puts(&b, ",bpf");
#endif
#ifdef HQ_WITH_NUMA
	sb_puts(&b, ",numa");
#endif
	if (!strncmp(topo_hwloc_version(), "hwloc", 5))
		sb_puts(&b, ",hwloc");
	if (libvirt_xml_available())
		sb_puts(&b, ",libxml2");
	if (httpd_available())
		sb_puts(&b, ",http");
	if (httpd_tls_available())
		sb_puts(&b, ",tls");
	sb_puts(&b, ",sqlite"); /* recordings: always linked */
	snprintf(buf, sizeof(buf), "%s", b.s + 1);
	sb_done(&b);
	return buf;
}

int cmd_version(void)
{
	if (hq_json) {
		json_t *o = json_object();
		json_object_set_new(o, "hiddenq", jstr(HQ_VERSION));
		json_t *a = json_array();
		char *f = xstrdup(cmd_features());
		for (char *save = NULL, *t = strtok_r(f, ",", &save); t; t = strtok_r(NULL, ",", &save))
			json_array_append_new(a, jstr(t));
		free(f);
		json_object_set_new(o, "features", a);
		json_print(stdout, o);
		json_decref(o);
	} else {
		printf("hiddenq %s\nfeatures: ", HQ_VERSION);
		for (const char *c = cmd_features(); *c; c++)
			fputs(*c == ',' ? ", " : (char[2]){ *c, 0 }, stdout);
		putchar('\n');
	}
	fflush(stdout);
	return EXIT_OK;
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
	log_some_done(&w->br.warned); /* the count of those not shown, before the summary below */
	/* said on stderr as they were met; named in the report as well */
	if (w->br.skipped)
		engine_damaged(w->engine, "%u sample%s of the bundle %s skipped: no readable time, or a time going "
					  "backwards",
			       w->br.skipped, plural_s(w->br.skipped), plural(w->br.skipped, "was", "were"));
	if (w->br.bad_entries)
		engine_damaged(w->engine, "%u %s of the bundle's samples %s ignored: symlinks, devices or "
					  "unreadable files",
			       w->br.bad_entries, plural(w->br.bad_entries, "entry", "entries"),
			       plural(w->br.bad_entries, "was", "were"));
	if (w->br.truncated)
		engine_damaged(w->engine, "%u sample%s of the bundle %s too large and read only in part",
			       w->br.truncated, plural_s(w->br.truncated), plural(w->br.truncated, "was", "were"));
	if (w->br.skipped)
		log_warn("%u sample%s of the bundle %s skipped", w->br.skipped, plural_s(w->br.skipped),
			 plural(w->br.skipped, "was", "were"));
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

int cmd_qmp_arg(const char **qmp, unsigned *nqmp, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg || !eq[1])
		return cmd_failf("bad --qmp '%s': use NAME=SOCKET (the VM's name, a QMP unix socket you own)", arg);
	if (*nqmp >= VMSCAN_MAX_QMP)
		return cmd_failf("too many --qmp options (%d at most)", VMSCAN_MAX_QMP);
	for (unsigned k = 0; k < *nqmp; k++)
		if (!strncmp(qmp[k], arg, (size_t)(eq - arg) + 1))
			return cmd_failf("bad --qmp '%s': the VM %.*s has a --qmp already", arg, (int)(eq - arg), arg);
	qmp[(*nqmp)++] = arg;
	qmp[*nqmp] = NULL;
	return 0;
}

char *cmd_qmp_check(const char *spec)
{
	const char *sock = strchr(spec, '=') + 1;
	struct stat st;
	if (stat(sock, &st) < 0)
		return xasprintf("bad --qmp '%s': %s: %s", spec, sock, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return xasprintf("bad --qmp '%s': %s is not a unix socket", spec, sock);
	return NULL;
}
