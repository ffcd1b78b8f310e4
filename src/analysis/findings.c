/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "findings.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include <ini.h>

#include "../core/util.h"

struct threshold thresholds[T_COUNT] = {
#define THRESH(e, name, w, c, unit, help) [e] = { name, w, c, unit, help },
#include "thresholds.def"
#undef THRESH
};

const char *severity_name(enum severity s)
{
	switch (s) {
	case SEV_OK: return "ok";
	case SEV_WARN: return "warn";
	case SEV_CRIT: return "crit";
	default: return "unknown";
	}
}

static const struct threshold threshold_defaults[T_COUNT] = {
#define THRESH(e, name, w, c, unit, help) [e] = { name, w, c, unit, help },
#include "thresholds.def"
#undef THRESH
};

void thresholds_reset(void)
{
	memcpy(thresholds, threshold_defaults, sizeof(thresholds));
}

/* Thresholds that count things (windows, requests, segments) need at least one. */
static bool counts_things(const struct threshold *t)
{
	return !strcmp(t->unit, "windows") || !strcmp(t->unit, "requests") || !strcmp(t->unit, "segments") ||
	       !strcmp(t->unit, "periods") || !strcmp(t->unit, "pages");
}

/* One level's text: a number, "off" or "-1" (the level does not apply), or empty (keep). */
static int parse_level(const char *v, size_t n, double keep, double *out, const char **why)
{
	while (n && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n == 0) {
		*out = keep;
		return 0;
	}
	char buf[64];
	if (n >= sizeof(buf)) {
		*why = "a level is too long to be a number";
		return -EINVAL;
	}
	memcpy(buf, v, n);
	buf[n] = '\0';
	if (!strcmp(buf, "off")) {
		*out = -1;
		return 0;
	}
	if (!strcmp(buf, "-1")) {
		*out = -1;
		return 0;
	}
	/* decimal and whole, as every number hiddenq reads (core/util.h parse_decimal): no hex */
	double d;
	const char *end;
	if (parse_decimal(buf, &d, &end) < 0 || *end) {
		bool word = strstr(buf, "nan") || strstr(buf, "NAN") || strstr(buf, "inf") || strstr(buf, "INF");
		*why = buf[0] == '-' && !word ? "a level is never negative (-1 or off: the level does not apply)"
		       : word		      ? "a level must be a finite number"
					      : "a level is not a number (use a number, off, or leave it empty to keep it)";
		return -EINVAL;
	}
	*out = d;
	return 0;
}

int threshold_set(const char *name, const char *value, const char **why)
{
	static const char *sink;
	if (!why)
		why = &sink;
	*why = NULL;
	for (int i = 0; i < T_COUNT; i++) {
		if (strcmp(thresholds[i].name, name) != 0)
			continue;
		const char *comma = strchr(value, ',');
		if (comma && strchr(comma + 1, ',')) {
			*why = "use WARN,CRIT (two levels at most)";
			return -EINVAL;
		}
		double w, c;
		size_t wn = comma ? (size_t)(comma - value) : strlen(value);
		if (parse_level(value, wn, thresholds[i].warn, &w, why) < 0)
			return -EINVAL;
		if (parse_level(comma ? comma + 1 : "", comma ? strlen(comma + 1) : 0, thresholds[i].crit, &c, why) < 0)
			return -EINVAL;
		if (w >= 0 && c >= 0 && w > c) {
			*why = "warn is above crit: a value would be crit before it is warn";
			return -EINVAL;
		}
		if (counts_things(&thresholds[i]) && ((w >= 0 && w < 1) || (c >= 0 && c < 1))) {
			*why = "this threshold counts things: at least 1 (or off)";
			return -EINVAL;
		}
		thresholds[i].warn = w;
		thresholds[i].crit = c;
		return 0;
	}
	*why = "no such threshold (see --list-thresholds)";
	return -EINVAL;
}

int threshold_override_why(const char *spec, const char **why)
{
	const char *eq = strchr(spec, '=');
	if (!eq || eq == spec) {
		if (why)
			*why = "use NAME=WARN,CRIT";
		return -EINVAL;
	}
	char name[96];
	if ((size_t)(eq - spec) >= sizeof(name)) {
		if (why)
			*why = "no such threshold (see --list-thresholds)";
		return -EINVAL;
	}
	memcpy(name, spec, (size_t)(eq - spec));
	name[eq - spec] = '\0';
	return threshold_set(name, eq + 1, why);
}

int threshold_override(const char *spec)
{
	return threshold_override_why(spec, NULL);
}

/* ---- threshold files (INI, libinih) ---- */

struct ini_ctx {
	struct threshold saved[T_COUNT];
	char *why;
};

static int ini_line(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *c = user;
	if (c->why)
		return 0;
	if (strcmp(section, "thresholds") != 0) {
		c->why = xasprintf("section [%s] is not known (use [thresholds])", section);
		return 0;
	}
	const char *why;
	if (threshold_set(name, value, &why) < 0) {
		c->why = xasprintf("%s = %s: %s", name, value, why);
		return 0;
	}
	return 1;
}

static int thresholds_apply_ini(int (*parse)(const void *src, struct ini_ctx *c), const void *src, char **why)
{
	struct ini_ctx c = { .why = NULL };
	memcpy(c.saved, thresholds, sizeof(thresholds));
	int r = parse(src, &c);
	if (r != 0 || c.why) {
		memcpy(thresholds, c.saved, sizeof(thresholds)); /* all or nothing */
		if (why)
			*why = c.why ? c.why
			       : r == -1 ? xasprintf("cannot open: %s", strerror(errno))
			       : r == -2 ? xstrdup("out of memory")
					 : xasprintf("line %d does not parse (NAME = WARN, CRIT under [thresholds])", r);
		else
			free(c.why);
		return -EINVAL;
	}
	return 0;
}

static int parse_string(const void *src, struct ini_ctx *c)
{
	return ini_parse_string(src, ini_line, c);
}

static int parse_file(const void *src, struct ini_ctx *c)
{
	return ini_parse(src, ini_line, c);
}

int thresholds_load_string(const char *text, char **why)
{
	return thresholds_apply_ini(parse_string, text, why);
}

int thresholds_load_file(const char *path, char **why)
{
	return thresholds_apply_ini(parse_file, path, why);
}

struct finding *findings_add(struct findings *fs, const char *id, int failure_mode,
			     const char *layer, const char *label)
{
	xgrow((void **)&fs->v, sizeof(*fs->v), &fs->cap, fs->n);
	struct finding *f = &fs->v[fs->n++];
	memset(f, 0, sizeof(*f));
	f->id = id;
	f->failure_mode = failure_mode;
	f->layer = layer;
	f->label = label;
	f->sev = SEV_UNKNOWN;
	return f;
}

static char *vfmt(const char *fmt, va_list ap)
{
	va_list aq;
	va_copy(aq, ap);
	int n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	char *p = xmalloc((size_t)(n < 0 ? 0 : n) + 1);
	vsnprintf(p, (size_t)(n < 0 ? 0 : n) + 1, fmt, ap);
	return p;
}

void finding_set(struct finding *f, enum severity sev, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(f->title);
	f->title = vfmt(fmt, ap);
	va_end(ap);
	f->sev = sev;
}

void finding_detail(struct finding *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(f->detail);
	f->detail = vfmt(fmt, ap);
	va_end(ap);
}

void finding_explain(struct finding *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(f->explain);
	f->explain = vfmt(fmt, ap);
	va_end(ap);
}

void finding_next(struct finding *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	f->next = xrealloc(f->next, (f->nnext + 1) * sizeof(char *));
	f->next[f->nnext++] = vfmt(fmt, ap);
	va_end(ap);
}

void finding_reset_advice(struct finding *f)
{
	free(f->explain);
	f->explain = NULL;
	for (size_t k = 0; k < f->nnext; k++)
		free(f->next[k]);
	free(f->next);
	f->next = NULL;
	f->nnext = 0;
}

struct evidence *finding_ev_cpu(struct finding *f, enum metric_id m, double value, int t, int cpu)
{
	xgrow((void **)&f->ev, sizeof(*f->ev), &f->capev, f->nev);
	struct evidence *e = &f->ev[f->nev++];
	memset(e, 0, sizeof(*e));
	const struct metric_def *d = metric_def(m);
	e->id = m;
	e->metric = d->name;
	e->value = value;
	e->warn = t >= 0 ? thresholds[t].warn : -1;
	e->crit = t >= 0 ? thresholds[t].crit : -1;
	e->unit = d->display;
	e->cpu = cpu;
	if (cpu >= 0)
		ev_label(e, LBL_CPU, "%d", cpu);
	return e;
}

struct evidence *finding_ev(struct finding *f, enum metric_id m, double value, int t)
{
	return finding_ev_cpu(f, m, value, t, -1);
}

/* The labels that render, joined: "eth0 tx-0 qdisc pfifo_fast 1:" (each
 * label's format is a prefix, %s, and a suffix; catalog.h) */
static void ev_subject_refresh(struct evidence *e)
{
	char buf[512];
	size_t o = 0;
	for (unsigned i = 0; i < e->nlabels; i++) {
		const char *fmt = label_subject_fmt(e->labels[i].key);
		if (!fmt)
			continue;
		if (o == 0 && *fmt == ' ')
			fmt++;
		const char *hole = strstr(fmt, "%s");
		size_t pre = hole ? (size_t)(hole - fmt) : strlen(fmt);
		const char *parts[3] = { fmt, e->labels[i].value, hole ? hole + 2 : "" };
		size_t lens[3] = { pre, strlen(e->labels[i].value), strlen(parts[2]) };
		for (int k = 0; k < 3; k++) {
			size_t n = lens[k] < sizeof(buf) - 1 - o ? lens[k] : sizeof(buf) - 1 - o;
			memcpy(buf + o, parts[k], n);
			o += n;
		}
	}
	buf[o] = '\0';
	free(e->subject);
	e->subject = o ? xstrdup(buf) : NULL;
}

struct evidence *ev_label(struct evidence *e, enum label_id l, const char *fmt, ...)
{
	if (e->nlabels >= EV_MAX_LABELS || l >= LBL_COUNT)
		return e;
	va_list ap;
	va_start(ap, fmt);
	e->labels[e->nlabels].key = l;
	e->labels[e->nlabels].value = vfmt(fmt, ap);
	va_end(ap);
	e->nlabels++;
	ev_subject_refresh(e);
	return e;
}

const char *ev_label_value(const struct evidence *e, enum label_id l)
{
	for (unsigned i = 0; i < e->nlabels; i++)
		if (e->labels[i].key == l)
			return e->labels[i].value;
	return NULL;
}

void findings_done(struct findings *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		struct finding *f = &fs->v[i];
		free(f->title);
		free(f->detail);
		free(f->explain);
		for (size_t k = 0; k < f->nnext; k++)
			free(f->next[k]);
		free(f->next);
		for (size_t k = 0; k < f->nev; k++) {
			for (unsigned l = 0; l < f->ev[k].nlabels; l++)
				free(f->ev[k].labels[l].value);
			free(f->ev[k].subject);
		}
		free(f->ev);
	}
	free(fs->v);
	memset(fs, 0, sizeof(*fs));
}

int findings_exit_code(const struct findings *fs)
{
	bool warn = false, crit = false, any_known = false;
	for (size_t i = 0; i < fs->n; i++) {
		switch (fs->v[i].sev) {
		case SEV_CRIT: crit = true; any_known = true; break;
		case SEV_WARN: warn = true; any_known = true; break;
		case SEV_OK: any_known = true; break;
		default: break;
		}
	}
	if (!any_known)
		return 3;
	return crit ? 2 : warn ? 1 : 0;
}
