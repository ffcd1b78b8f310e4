/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Prometheus rules, a Grafana dashboard and docs/prometheus-rules.md, made
 * from the tables (promrules.h).  Nothing here knows a finding: the words
 * come from rules.def, the numbers from thresholds.def, the names and units
 * from the catalog, the PromQL from twins.def and dashboard.def.  A threshold
 * is in the unit its evidence is displayed in; the twins compare raw series
 * in base units, so each is divided by its evidence's scale (% / 100, ms /
 * 1000).  Output is deterministic: the files are committed and `make check`
 * compares them with what the binary prints.
 */
#include "promrules.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../analysis/analysis.h"
#include "../core/catalog.h"
#include "../core/util.h"
#include "../engine/series.h"

/* ------------------------------------------------------------------ */
/* The tables                                                          */
/* ------------------------------------------------------------------ */

enum leg_level { LV_THRESH, LV_THRESH_WARN, LV_THRESH_CRIT, LV_WARN, LV_CRIT };
enum { WARN, CRIT, NLEVELS };

static const char *const level_name[NLEVELS] = { "warn", "crit" };
static const char *const level_severity[NLEVELS] = { "warning", "critical" }; /* Alertmanager's usual words */
static const char *const level_alert[NLEVELS] = { "Warning", "Critical" };

struct leg {
	const char *rule;
	int thr;		/* thresholds.def row, -1 none */
	enum leg_level level;
	enum metric_id ev;
	const char *name, *expr, *cond, *note;
};

static const struct leg legs[] = {
#define LEG(rule, thr, level, ev, name, expr, cond, note) { rule, thr, level, ev, name, expr, cond, note },
#include "../analysis/twins.def"
#undef LEG
};

enum panel_kind { P_TIMESERIES, P_HEATMAP };

struct panel {
	const char *rule;	/* NULL: hiddenq itself */
	enum panel_kind kind;
	const char *title, *expr, *legend;
	enum unit_id unit;
};

static const struct panel panels[] = {
#define PANEL(rule, kind, title, expr, legend, unit) { rule, kind, title, expr, legend, unit },
#include "dashboard.def"
#undef PANEL
};

#define SELF_WINDOW_S 60 /* ${W} of hiddenq's own panels */

struct join {
	const char *record, *expr, *help;
};

static const struct join joins[] = {
#define JOIN(record, expr, help) { record, expr, help },
#include "joins.def"
#undef JOIN
};

#define JOIN_WINDOW_S 60 /* ${W} of the join rules (or --window) */

/* ------------------------------------------------------------------ */
/* Generation state and small helpers                                  */
/* ------------------------------------------------------------------ */

struct gen {
	const struct promrules_opts *o;
	char *why;		/* the first reason the tables cannot make the document */
};

static void fail(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct gen *g, const char *fmt, ...)
{
	if (g->why)
		return;
	va_list ap;
	va_start(ap, fmt);
	g->why = xvasprintf(fmt, ap);
	va_end(ap);
}

static unsigned rule_window(const struct gen *g, const struct rule_info *r)
{
	return g->o->window_s ? g->o->window_s : r->window_s;
}

/* A duration as Prometheus writes it: 1m, 90s -> 1m30s, 1h */
static void fmt_dur(unsigned s, char *buf, size_t n)
{
	size_t o = 0;
	buf[0] = '\0';
	if (s >= 3600 && o < n)
		o += (size_t)snprintf(buf + o, n - o, "%uh", s / 3600);
	if (s % 3600 >= 60 && o < n)
		o += (size_t)snprintf(buf + o, n - o, "%um", s % 3600 / 60);
	if ((s % 60 || !s) && o < n)
		snprintf(buf + o, n - o, "%us", s % 60);
}

/* The pending time of every alert: a quarter of the rule's window.  A
 * finding keeps its level for a whole window after a burst, so the alert
 * still fires for a burst, yet one missed scrape or a restart does not. */
static unsigned for_s(unsigned window_s)
{
	unsigned f = (window_s + 3) / 4;
	return f ? f : 1;
}

static double level_value(int thr, int lv)
{
	return lv == WARN ? thresholds[thr].warn : thresholds[thr].crit;
}

static bool applies(const struct leg *l, int lv)
{
	switch (l->level) {
	case LV_WARN: return lv == WARN;
	case LV_CRIT: return lv == CRIT;
	case LV_THRESH_WARN: return lv == WARN && l->thr >= 0 && level_value(l->thr, lv) >= 0;
	case LV_THRESH_CRIT: return lv == CRIT && l->thr >= 0 && level_value(l->thr, lv) >= 0;
	default: return l->thr >= 0 && level_value(l->thr, lv) >= 0;
	}
}

static int thresh_by_name(const char *name, size_t n)
{
	for (int t = 0; t < T_COUNT; t++)
		if (strlen(thresholds[t].name) == n && !strncmp(thresholds[t].name, name, n))
			return t;
	return -1;
}

/* "vcpu-oversubscription" -> "VcpuOversubscription" */
static void camel(const char *id, char *buf, size_t n)
{
	size_t o = 0;
	bool up = true;
	for (; *id && o + 1 < n; id++) {
		if (*id == '-' || *id == '_') {
			up = true;
			continue;
		}
		buf[o++] = up ? (char)toupper((unsigned char)*id) : *id;
		up = false;
	}
	buf[o] = '\0';
}

/* The legs' display name: the evidence the rule quotes. */
static const char *leg_label(const struct leg *l)
{
	return metric_def(l->ev)->name;
}

/* ------------------------------------------------------------------ */
/* Expanding the PromQL templates of twins.def and dashboard.def       */
/* ------------------------------------------------------------------ */

enum mode {
	MODE_RULES,	/* for the rule file: ${warn:...} reads the recorded series */
	MODE_DASH,	/* for the dashboard: raw expressions, each series filtered by $instance */
};

struct xp {
	struct gen *g;
	const struct leg *leg;	/* NULL for dashboard.def panels */
	int lv;
	unsigned win;
	enum mode mode;
};

static void expand(struct strbuf *o, const char *t, const struct xp *x);
static bool twin_cond(struct strbuf *o, struct gen *g, const struct rule_info *r, int L, enum mode mode);

static bool in_le(const struct strbuf *o)
{
	return o->len >= 4 && !strcmp(o->s + o->len - 4, "le=\"");
}

static void put_threshold(struct strbuf *o, const struct xp *x)
{
	const struct leg *l = x->leg;
	if (!l || l->thr < 0) {
		fail(x->g, "twins.def: ${T} in a leg of %s without a threshold", l ? l->rule : "a panel");
		return;
	}
	double v = level_value(l->thr, x->lv);
	const struct metric_def *d = metric_def(l->ev);
	if (v < 0) {
		fail(x->g, "twins.def: %s has no %s level", thresholds[l->thr].name, level_name[x->lv]);
		return;
	}
	if (strcmp(thresholds[l->thr].unit, d->display) != 0) {
		fail(x->g, "twins.def: threshold %s is in '%s' but its evidence %s is shown in '%s'",
		     thresholds[l->thr].name, thresholds[l->thr].unit, d->name, d->display);
		return;
	}
	char num[40];
	snprintf(num, sizeof(num), "%.9g", v / d->scale);
	if (in_le(o)) { /* a bucket bound: it must be one the exporter writes */
		bool found = false;
		for (size_t k = 0; k < steal_window_nle && !found; k++) {
			char le[40];
			snprintf(le, sizeof(le), "%.9g", steal_window_le[k]);
			found = !strcmp(le, num);
		}
		if (!found) {
			struct strbuf bb = { 0 };
			for (size_t k = 0; k < steal_window_nle; k++)
				sb_printf(&bb, "%s%g %%", k ? ", " : "", steal_window_le[k] * 100);
			fail(x->g, "%s %s %g %s: hiddenq_cpu_steal_window_ratio has no bucket at %s, so its PromQL twin "
				   "cannot count those windows (levels it can: %s)",
			     thresholds[l->thr].name, level_name[x->lv], v, thresholds[l->thr].unit, num, bb.s);
			sb_done(&bb);
			return;
		}
	}
	sb_puts(o, num);
}

/* ${metric}: the catalog's Prometheus name; for the dashboard with the
 * instance filter, merged into a label matcher that follows. */
static const char *put_metric(struct strbuf *o, const char *key, size_t kn, const char *rest, const struct xp *x)
{
	const struct metric_def *d = NULL;
	char name[96];
	if (kn < sizeof(name)) {
		memcpy(name, key, kn);
		name[kn] = '\0';
		d = metric_by_name(name);
	}
	if (!d || strlen(d->name) != kn || strncmp(d->name, key, kn)) {
		fail(x->g, "${%.*s}: no metric with that evidence name in the catalog", (int)kn, key);
		return rest;
	}
	if (x->leg && d->scope != MS_SAMPLE)
		fail(x->g, "twins.def: %s reads %s, which is not a raw (sample-scope) series", x->leg->rule, d->name);
	sb_puts(o, d->prom);
	if (x->mode != MODE_DASH)
		return rest;
	while (isalnum((unsigned char)*rest) || *rest == '_') /* _bucket, _count, _sum */
		sb_put(o, rest++, 1);
	if (*rest == '{') {
		sb_puts(o, "{instance=~\"$instance\",");
		return rest + 1;
	}
	sb_puts(o, "{instance=~\"$instance\"}");
	return rest;
}

static void expand(struct strbuf *o, const char *t, const struct xp *x)
{
	while (*t) {
		if (t[0] != '$' || t[1] != '{') {
			sb_put(o, t++, 1);
			continue;
		}
		const char *k = t + 2, *e = strchr(k, '}');
		if (!e) {
			fail(x->g, "unterminated ${ in '%s'", t);
			return;
		}
		size_t kn = (size_t)(e - k);
		const char *rest = e + 1;
		char buf[64];
		if (kn == 1 && k[0] == 'W') {
			fmt_dur(x->win, buf, sizeof(buf));
			sb_puts(o, buf);
		} else if (kn == 2 && !strncmp(k, "Ws", 2)) {
			sb_printf(o, "%u", x->win);
		} else if (kn == 1 && k[0] == 'T') {
			put_threshold(o, x);
		} else if (kn > 2 && !strncmp(k, "N:", 2)) {
			int t2 = thresh_by_name(k + 2, kn - 2);
			double v = t2 >= 0 ? level_value(t2, x->lv) : -1;
			if (t2 >= 0 && v < 0) /* a minimum has a warn level only */
				v = thresholds[t2].warn;
			if (v < 0)
				fail(x->g, "${%.*s}: no such threshold, or no %s level", (int)kn, k, level_name[x->lv]);
			else
				sb_printf(o, "%g", v);
		} else if (kn > 5 && !strncmp(k, "warn:", 5)) {
			char id[64];
			snprintf(id, sizeof(id), "%.*s", (int)(kn - 5), k + 5);
			const struct rule_info *r = rule_by_id(id);
			if (!r || !twin_cond(o, x->g, r, WARN, x->mode))
				fail(x->g, "${%.*s}: no rule with a twin at warn of that id", (int)kn, k);
		} else {
			rest = put_metric(o, k, kn, rest, x);
		}
		t = rest;
	}
}

static char *expand_s(const char *t, const struct xp *x)
{
	struct strbuf o = { 0 };
	expand(&o, t, x);
	return sb_take(&o, NULL);
}

/* Do the two levels of a leg need recorded series of their own? */
static bool levels_differ(struct gen *g, const struct leg *l, unsigned win)
{
	if (!applies(l, WARN) || !applies(l, CRIT))
		return false;
	struct xp xw = { g, l, WARN, win, MODE_RULES }, xc = { g, l, CRIT, win, MODE_RULES };
	char *a = expand_s(l->expr, &xw), *b = expand_s(l->expr, &xc);
	bool d = strcmp(a, b) != 0;
	free(a);
	free(b);
	return d;
}

static void record_name(char *buf, size_t n, struct gen *g, const struct leg *l, int lv, unsigned win)
{
	char d[40] = "";
	if (strstr(l->expr, "${W}")) { /* windowed: the window is part of the name */
		d[0] = ':';
		fmt_dur(win, d + 1, sizeof(d) - 1);
	}
	if (levels_differ(g, l, win))
		snprintf(buf, n, "hiddenq:%s_%s%s", l->name, level_name[lv], d);
	else
		snprintf(buf, n, "hiddenq:%s%s", l->name, d);
}

/*
 * The twin of rule r at level L or above: one term per leg and level, or'ed.
 * A crit term is left out where the same recorded series' warn term
 * already covers it.  MODE_RULES reads the recorded series; MODE_DASH
 * spells each leg out over the raw series.  False if r has no twin at L.
 */
static bool twin_cond(struct strbuf *o, struct gen *g, const struct rule_info *r, int L, enum mode mode)
{
	unsigned win = rule_window(g, r);
	char *terms[32];
	size_t n = 0;
	for (size_t i = 0; i < ARRAY_SIZE(legs); i++) {
		const struct leg *l = &legs[i];
		if (!l->expr || strcmp(l->rule, r->id))
			continue;
		for (int lv = L; lv < NLEVELS; lv++) {
			if (!applies(l, lv))
				continue;
			if (lv == CRIT && L == WARN && applies(l, WARN) && !levels_differ(g, l, win))
				continue;
			struct xp x = { g, l, lv, win, mode };
			char *cond = expand_s(l->cond, &x), *t;
			if (mode == MODE_RULES) {
				char rec[160];
				record_name(rec, sizeof(rec), g, l, lv, win);
				t = xasprintf("(%s %s)", rec, cond);
			} else {
				char *e = expand_s(l->expr, &x);
				t = xasprintf("((%s) %s)", e, cond);
				free(e);
			}
			free(cond);
			bool dup = false;
			for (size_t k = 0; k < n && !dup; k++)
				dup = !strcmp(terms[k], t);
			if (dup || n == ARRAY_SIZE(terms))
				free(t);
			else
				terms[n++] = t;
		}
	}
	for (size_t k = 0; k < n; k++) {
		sb_printf(o, "%s%s", k ? " or " : "", terms[k]);
		free(terms[k]);
	}
	return n > 0;
}

/* Whether a rule has a twin at all, and whether it covers every leg. */
static void twin_coverage(const struct rule_info *r, size_t *with, size_t *without)
{
	*with = *without = 0;
	for (size_t i = 0; i < ARRAY_SIZE(legs); i++)
		if (!strcmp(legs[i].rule, r->id))
			(legs[i].expr ? (*with)++ : (*without)++);
}

/* "a, b and c" of the legs' labels, with (expr != NULL) == twin, without repeats */
static void leg_list(struct strbuf *o, const struct rule_info *r, bool twin)
{
	const char *seen[32];
	size_t n = 0;
	for (size_t i = 0; i < ARRAY_SIZE(legs); i++) {
		const struct leg *l = &legs[i];
		if (strcmp(l->rule, r->id) || (l->expr != NULL) != twin)
			continue;
		bool dup = false;
		for (size_t k = 0; k < n && !dup; k++)
			dup = !strcmp(seen[k], leg_label(l));
		if (!dup && n < ARRAY_SIZE(seen))
			seen[n++] = leg_label(l);
	}
	for (size_t k = 0; k < n; k++)
		sb_printf(o, "%s%s", k == 0 ? "" : k + 1 == n ? " and " : ", ", seen[k]);
}

static void coverage_text(struct strbuf *o, const struct rule_info *r, bool in_doc)
{
	size_t with, without;
	twin_coverage(r, &with, &without);
	if (!with) {
		sb_puts(o, "No PromQL twin: the raw series do not carry what it judges (");
		leg_list(o, r, false);
		sb_puts(o, ").");
		return;
	}
	if (!without) {
		sb_puts(o, "Its PromQL twin judges every leg of the local rule: ");
		leg_list(o, r, true);
		sb_puts(o, ".");
		return;
	}
	sb_puts(o, "A partial PromQL twin: it judges ");
	leg_list(o, r, true);
	sb_puts(o, "; the local rule also judges ");
	leg_list(o, r, false);
	sb_puts(o, in_doc ? ", with no twin over raw series (the table says why)."
			  : ", with no twin over raw series (docs/prometheus-rules.md says why).");
}

/* Every leg's table row must be consistent, twin or not: checked before any output. */
static void check_tables(struct gen *g)
{
	for (size_t i = 0; i < ARRAY_SIZE(legs); i++) {
		const struct leg *l = &legs[i];
		const struct rule_info *r = rule_by_id(l->rule);
		if (!r) {
			fail(g, "twins.def: no rule %s in rules.def", l->rule);
			return;
		}
		if ((l->level == LV_WARN || l->level == LV_CRIT) == (l->thr >= 0) || (!l->expr) != (!l->name) || (!l->expr) != (!l->cond) ||
		    (!l->expr && !l->note)) {
			fail(g, "twins.def: leg %s of %s is malformed", leg_label(l), l->rule);
			return;
		}
		if (!l->expr)
			continue;
		for (int lv = 0; lv < NLEVELS; lv++)
			if (applies(l, lv)) {
				struct xp x = { g, l, lv, rule_window(g, r), MODE_RULES };
				free(expand_s(l->expr, &x));
				free(expand_s(l->cond, &x));
			}
	}
	for (size_t i = 0; i < rules_count(); i++) {
		const struct rule_info *r = rules_info(i);
		/* annotations are Go templates in Prometheus: the rules' words must not open one */
		if (strstr(r->explain, "{{") || strstr(r->next, "{{") || strstr(r->label, "{{"))
			fail(g, "rules.def: %s's text holds '{{', which Prometheus would read as a template", r->id);
		size_t with, without;
		twin_coverage(r, &with, &without);
		if (with + without == 0)
			fail(g, "twins.def: rule %s has no leg (list its legs, with or without a twin)", r->id);
	}
}

static int finish(struct gen *g, FILE *out, struct strbuf *b, char **why)
{
	if (g->why) {
		sb_done(b);
		*why = g->why;
		return -1;
	}
	fputs(b->s ? b->s : "", out);
	sb_done(b);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The Prometheus rule file                                            */
/* ------------------------------------------------------------------ */

/* YAML double-quoted scalar: text (annotations) */
static void ydq(struct strbuf *b, const char *s)
{
	sb_puts(b, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sb_printf(b, "\\%c", *s);
		else if (*s == '\n')
			sb_puts(b, "\\n");
		else if ((unsigned char)*s < 0x20)
			sb_printf(b, "\\x%02x", (unsigned char)*s);
		else
			sb_put(b, s, 1);
	}
	sb_puts(b, "\"");
}

/* YAML single-quoted scalar: PromQL, which is full of double quotes */
static void ysq(struct strbuf *b, const char *s)
{
	sb_puts(b, "'");
	for (; *s; s++) {
		sb_put(b, s, 1);
		if (*s == '\'')
			sb_put(b, "'", 1); /* a quote is doubled */
	}
	sb_puts(b, "'");
}

struct alert {
	const char *name, *expr, *summary, *description, *next;
	const struct rule_info *r;
	int lv;
	const char *judged_by;
	unsigned for_s;
};

static void put_alert(struct strbuf *b, const struct alert *a, const struct promrules_opts *o)
{
	char d[32], fm[8];
	fmt_dur(a->for_s, d, sizeof(d));
	if (a->r->failure_mode)
		snprintf(fm, sizeof(fm), "%d", a->r->failure_mode);
	else
		snprintf(fm, sizeof(fm), "none");
	sb_printf(b, "      - alert: %s\n        expr: ", a->name);
	ysq(b, a->expr);
	sb_printf(b, "\n        for: %s\n        labels:\n          severity: %s\n          id: %s\n", d,
		  level_severity[a->lv], a->r->id);
	sb_puts(b, "          failure_mode: ");
	ysq(b, fm);
	sb_printf(b, "\n          layer: %s\n          judged_by: %s\n        annotations:\n          summary: ",
		  a->r->layer, a->judged_by);
	ydq(b, a->summary);
	sb_puts(b, "\n          description: ");
	ydq(b, a->description);
	sb_puts(b, "\n          next: ");
	ydq(b, a->next);
	sb_puts(b, "\n          runbook_url: ");
	char *url = xasprintf("%s#%s", o->docs_url, a->r->id);
	ydq(b, url);
	free(url);
	sb_puts(b, "\n");
}

static void put_header(struct strbuf *b, const struct gen *g, const char *what, const char *comment)
{
	const char *c = comment, *sp = *comment ? " " : "";
	sb_printf(b, "%s%sGenerated by `hiddenq rules %s` (hiddenq %s) from src/analysis/rules.def,\n", c, sp, what,
		  HQ_VERSION);
	sb_printf(b, "%s%stwins.def, thresholds.def and the metric catalog. Do not edit: change the tables,\n", c, sp);
	sb_printf(b, "%s%sthen run `make contrib`.", c, sp);
	if (g->o->window_s) {
		char d[32];
		fmt_dur(g->o->window_s, d, sizeof(d));
		sb_printf(b, " Every rule is judged over %s, as `hiddenq serve --window %s` judges it.\n", d, d);
	} else {
		sb_puts(b, " Each rule is judged over its own window (rules.def), as `hiddenq serve` does.\n");
	}
}

/* The hiddenq-join group of the rule file, or (doc) the rows of its table in the doc. */
static void put_joins(struct strbuf *b, struct gen *g, bool doc)
{
	unsigned win = g->o->window_s ? g->o->window_s : JOIN_WINDOW_S;
	struct xp x = { g, NULL, WARN, win, MODE_RULES };
	if (!doc)
		sb_puts(b, "  - name: hiddenq-join\n    rules:\n");
	for (size_t i = 0; i < ARRAY_SIZE(joins); i++) {
		char *rec = expand_s(joins[i].record, &x), *e = expand_s(joins[i].expr, &x);
		if (!doc) {
			sb_printf(b, "      - record: %s\n        expr: ", rec);
			ysq(b, e);
			sb_puts(b, "\n");
		} else {
			sb_printf(b, "| `%s` | %s | `%s` |\n", rec, joins[i].help, e);
		}
		free(rec);
		free(e);
	}
}

int promrules_prometheus(FILE *out, const struct promrules_opts *o, char **why)
{
	struct gen g = { .o = o };
	struct strbuf b = { 0 };
	check_tables(&g);
	if (g.why)
		return finish(&g, out, &b, why);
	put_header(&b, &g, "--prometheus", "#");
	sb_puts(&b, "#\n# hiddenq-findings: an alert per finding and level, on the severity hiddenq judged\n"
		    "# (hiddenq_finding_severity: 0 ok, 1 warn, 2 crit, -1 unknown).\n"
		    "# hiddenq-raw-twins: the PromQL twin of each rule over the raw series, recorded as\n"
		    "# hiddenq:NAME:WINDOW in base units, and its alerts (judged_by: promql). Both sets fire\n"
		    "# for the same finding: route one, or inhibit one with the other (docs/prometheus-rules.md).\n"
		    "# hiddenq-join: guests paired with the hosts that run them (hiddenq_guest_info and\n"
		    "# hiddenq_vm_info by system UUID or machine-id), the guest's steal beside the host's run\n"
		    "# delay of the same vCPU, and the guest's await beside the VMM's time for its disks.\n"
		    "groups:\n  - name: hiddenq-findings\n    rules:\n");
	for (size_t i = 0; i < rules_count(); i++) {
		const struct rule_info *r = rules_info(i);
		char cm[64];
		camel(r->id, cm, sizeof(cm));
		for (int lv = 0; lv < NLEVELS; lv++) {
			char *name = xasprintf("Hiddenq%s%s", cm, level_alert[lv]);
			char *expr = xasprintf("hiddenq_finding_severity{id=\"%s\"} %s", r->id, lv == WARN ? ">= 1" : "== 2");
			char *sum = xasprintf("%s (%s): %s on {{ $labels.instance }}", r->label, r->id, level_severity[lv]);
			struct alert a = { name, expr, sum, r->explain, r->next, r, lv, "hiddenq", for_s(rule_window(&g, r)) };
			put_alert(&b, &a, o);
			free(name);
			free(expr);
			free(sum);
		}
	}
	sb_puts(&b, "  - name: hiddenq-raw-twins\n    rules:\n");
	for (size_t i = 0; i < rules_count(); i++) {
		const struct rule_info *r = rules_info(i);
		unsigned win = rule_window(&g, r);
		size_t with, without;
		twin_coverage(r, &with, &without);
		if (!with)
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(legs); k++) {
			const struct leg *l = &legs[k];
			if (!l->expr || strcmp(l->rule, r->id))
				continue;
			bool differ = levels_differ(&g, l, win);
			for (int lv = 0; lv < NLEVELS; lv++) {
				if (!applies(l, lv) || (!differ && lv == CRIT && applies(l, WARN)))
					continue;
				char rec[160];
				record_name(rec, sizeof(rec), &g, l, lv, win);
				struct xp x = { &g, l, lv, win, MODE_RULES };
				char *e = expand_s(l->expr, &x);
				sb_printf(&b, "      - record: %s\n        expr: ", rec);
				ysq(&b, e);
				sb_puts(&b, "\n");
				free(e);
			}
		}
		char cm[64];
		camel(r->id, cm, sizeof(cm));
		struct strbuf desc = { 0 };
		sb_printf(&desc, "%s ", r->explain);
		coverage_text(&desc, r, false);
		for (int lv = 0; lv < NLEVELS; lv++) {
			struct strbuf c = { 0 };
			if (!twin_cond(&c, &g, r, lv, MODE_RULES)) {
				sb_done(&c);
				continue;
			}
			char *name = xasprintf("Hiddenq%sRaw%s", cm, level_alert[lv]);
			char *sum = xasprintf("%s (%s): %s on {{ $labels.instance }}, judged in PromQL from raw series",
					      r->label, r->id, level_severity[lv]);
			struct alert a = { name, c.s, sum, desc.s, r->next, r, lv, "promql", for_s(win) };
			put_alert(&b, &a, o);
			free(name);
			free(sum);
			sb_done(&c);
		}
		sb_done(&desc);
	}
	put_joins(&b, &g, false);
	return finish(&g, out, &b, why);
}

/* ------------------------------------------------------------------ */
/* docs/prometheus-rules.md                                            */
/* ------------------------------------------------------------------ */

static void md_level(struct strbuf *b, const struct leg *l, int lv)
{
	if (l->thr < 0) {
		sb_puts(b, applies(l, lv) ? "when it holds" : "–");
		return;
	}
	double v = level_value(l->thr, lv);
	if (v < 0 || !applies(l, lv))
		sb_puts(b, "–");
	else
		sb_printf(b, "%g %s", v, thresholds[l->thr].unit);
}

int promrules_markdown(FILE *out, const struct promrules_opts *o, char **why)
{
	struct gen g = { .o = o };
	struct strbuf b = { 0 };
	check_tables(&g);
	if (g.why)
		return finish(&g, out, &b, why);
	sb_puts(&b, "<!-- ");
	put_header(&b, &g, "--markdown", "");
	b.len--; /* the header's last newline: close the comment on its line */
	b.s[b.len] = '\0';
	sb_puts(&b, " -->\n\n");
	sb_puts(&b,
		"# Prometheus rules and the Grafana dashboard\n\n"
		"`hiddenq rules` prints, from the same tables `diagnose` and `serve` judge by,\n"
		"[contrib/prometheus/hiddenq-rules.yml](../contrib/prometheus/hiddenq-rules.yml) (`--prometheus`),\n"
		"[contrib/grafana/hiddenq-dashboard.json](../contrib/grafana/hiddenq-dashboard.json) (`--grafana`)\n"
		"and this page (`--markdown`). `make contrib` writes the three; `make check` fails when the\n"
		"committed files differ from what the binary prints.\n\n"
		"## Two ways to alert on one finding\n\n"
		"- **Local** (`hiddenq-findings`, `judged_by: hiddenq`): `hiddenq_finding_severity{id=...} >= 1`\n"
		"  (warning) and `== 2` (critical). hiddenq judged the rule on the machine, every second, over\n"
		"  the rule's window, with everything it sees (eBPF, the stall sampler, per-task run delay),\n"
		"  whatever the scrape interval. This is the alert to route.\n"
		"- **PromQL twin** (`hiddenq-raw-twins`, `judged_by: promql`, alert names `...Raw...`): the same\n"
		"  rule computed by Prometheus from the raw series (counters and histograms in base units),\n"
		"  recorded as `hiddenq:NAME:WINDOW`. It shows how a finding follows from the series, lets the\n"
		"  thresholds be judged across machines, and cross-checks the local verdict. Some legs of a\n"
		"  rule have no faithful twin; the tables below say which, and why.\n\n"
		"Both fire for the same finding. Route one, or inhibit the twin while the local alert fires:\n\n"
		"```yaml\n"
		"inhibit_rules:\n"
		"  - source_matchers: [judged_by=\"hiddenq\"]\n"
		"    target_matchers: [judged_by=\"promql\"]\n"
		"    equal: [id, instance]\n"
		"```\n\n"
		"Every alert carries `severity` (warning, critical), `id`, `failure_mode` (1-7 or none) and\n"
		"`layer`, and the annotations `summary`, `description` (what it means, from rules.def), `next`\n"
		"(the first thing to do) and `runbook_url` (the finding's section of the README; `--docs-url`\n"
		"says where the README is served). An alert waits a quarter of its rule's window (`for:`): a\n"
		"finding keeps its level for a whole window after a burst, so a burst still fires, a restart\n"
		"does not.\n\n"
		"## Loading them\n\n"
		"```yaml\n"
		"rule_files: [/etc/prometheus/hiddenq-rules.yml]\n"
		"scrape_configs:\n"
		"  - job_name: hiddenq\n"
		"    scrape_interval: 1s    # the twins judge 1 s windows; 15s is fine for the local alerts\n"
		"    static_configs: [{targets: ['127.0.0.1:9814']}]\n"
		"```\n\n"
		"Thresholds are in the unit `diagnose` shows them in (thresholds.def); a twin compares raw\n"
		"series in base units, so each threshold is divided by its evidence's scale from the catalog\n"
		"(% / 100 for a ratio, ms / 1000 for seconds). Rules generated with `--window 30s` or\n"
		"`-t NAME=WARN,CRIT` match a `hiddenq serve` run with the same options. The twins of\n"
		"guest-cpu-saturation and thp-compaction judge 1 s windows and need a 1 s scrape interval\n"
		"to mean the same as the local rule.\n\n"
		"Each rule below: what a warning means, the first step, then every leg of the local rule\n"
		"(a comparison with a threshold) beside its twin.\n");
	for (size_t i = 0; i < rules_count(); i++) {
		const struct rule_info *r = rules_info(i);
		unsigned win = rule_window(&g, r);
		char wd[32], cm[64];
		fmt_dur(win, wd, sizeof(wd));
		camel(r->id, cm, sizeof(cm));
		sb_printf(&b, "\n## %s\n\n", r->id);
		sb_printf(&b, "%s, layer `%s`, ", r->label, r->layer);
		if (r->failure_mode)
			sb_printf(&b, "failure mode %d", r->failure_mode);
		else
			sb_puts(&b, "not one of the seven failure modes");
		sb_printf(&b, "; judged over %s ([README](../README.md#%s)).\n\n", wd, r->id);
		sb_printf(&b, "%s\n\nNext: %s.\n\n", r->explain, r->next);
		sb_printf(&b, "Local alerts: `Hiddenq%sWarning`, `Hiddenq%sCritical`. ", cm, cm);
		size_t with, without;
		twin_coverage(r, &with, &without);
		if (with) {
			bool crit_alert = false;
			struct strbuf c = { 0 };
			crit_alert = twin_cond(&c, &g, r, CRIT, MODE_RULES);
			sb_done(&c);
			sb_printf(&b, "Twin alerts: `Hiddenq%sRawWarning`%s%s%s. ", cm, crit_alert ? ", `Hiddenq" : "",
				  crit_alert ? cm : "", crit_alert ? "RawCritical`" : "");
		}
		coverage_text(&b, r, true);
		sb_puts(&b, "\n\n| leg (evidence) | what the local rule compares | threshold | warn | crit | PromQL twin over "
			    "raw series |\n|---|---|---|---|---|---|\n");
		for (size_t k = 0; k < ARRAY_SIZE(legs); k++) {
			const struct leg *l = &legs[k];
			if (strcmp(l->rule, r->id))
				continue;
			sb_printf(&b, "| `%s` | %s | ", leg_label(l), metric_def(l->ev)->help);
			if (l->thr >= 0)
				sb_printf(&b, "`%s` | ", thresholds[l->thr].name);
			else
				sb_puts(&b, "– | ");
			md_level(&b, l, WARN);
			sb_puts(&b, " | ");
			md_level(&b, l, CRIT);
			sb_puts(&b, " | ");
			if (!l->expr) {
				sb_printf(&b, "none: %s |\n", l->note);
				continue;
			}
			bool differ = levels_differ(&g, l, win);
			bool first = true;
			for (int lv = 0; lv < NLEVELS; lv++) {
				if (!applies(l, lv) || (!differ && lv == CRIT && applies(l, WARN)))
					continue;
				char rec[160];
				record_name(rec, sizeof(rec), &g, l, lv, win);
				struct xp x = { &g, l, lv, win, MODE_RULES };
				char *e = expand_s(l->expr, &x);
				sb_printf(&b, "%s`%s` = `%s`", first ? "" : "; ", rec, e);
				free(e);
				first = false;
			}
			sb_puts(&b, "; fires when ");
			first = true;
			for (int lv = 0; lv < NLEVELS; lv++) {
				if (!applies(l, lv))
					continue;
				struct xp x = { &g, l, lv, win, MODE_RULES };
				char *c = expand_s(l->cond, &x);
				sb_printf(&b, "%s`%s` (%s)", first ? "" : ", ", c, level_name[lv]);
				free(c);
				first = false;
			}
			sb_printf(&b, "%s%s |\n", l->note ? ". " : "", l->note ? l->note : "");
		}
	}
	sb_puts(&b, "\n## Guest and host joined (`hiddenq-join`)\n\n"
		    "A guest's `hiddenq serve` exports `hiddenq_guest_info{uuid, machine_id, hypervisor}` (its SMBIOS "
		    "system UUID, readable by root only, and `/etc/machine-id`); its host's exports "
		    "`hiddenq_vm_info{vm, uuid, machine_id, vmm, pid}` for every VM, from QEMU `-uuid` (or `-smbios "
		    "type=1,uuid=`), libvirt `<uuid>`, Cloud Hypervisor `--platform uuid=`, and a machine-id handed "
		    "to the guest (`systemd.machine_id=` on its kernel command line, or an SMBIOS type 11 credential). "
		    "Prometheus scrapes both; these recording rules pair each guest with the VM that runs it and set "
		    "the guest's figures beside the host's for the same vCPUs and disks. Every joined series keeps the "
		    "guest's labels (`instance` is the guest) and adds `host_instance` and `vm`. The host's disk time "
		    "per VM comes from QEMU's own block statistics, so the host's serve needs `--qmp NAME=SOCKET` for "
		    "the VM. `hiddenq join GUEST HOST` does the same offline on two bundles or recordings.\n\n"
		    "| recorded series | what it is | PromQL |\n|---|---|---|\n");
	put_joins(&b, &g, true);
	return finish(&g, out, &b, why);
}

/* ------------------------------------------------------------------ */
/* The Grafana dashboard                                               */
/* ------------------------------------------------------------------ */

static const char *grafana_unit(enum unit_id u)
{
	switch (u) {
	case U_RATIO:
	case U_SECONDS_PER_SECOND: return "percentunit";
	case U_SECONDS: return "s";
	case U_BYTES: return "bytes";
	case U_BYTES_PER_SECOND: return "Bps";
	case U_PACKETS_PER_SECOND: return "pps";
	case U_REQUESTS_PER_SECOND: return "reqps";
	case U_EVENTS_PER_SECOND:
	case U_PAGES_PER_SECOND: return "ops";
	default: return "short";
	}
}

static json_t *datasource(void)
{
	return json_pack("{s:s, s:s}", "type", "prometheus", "uid", "${datasource}");
}

struct layout {
	int id, x, y;
};

static json_t *new_panel(struct layout *lay, const char *type, const char *title, const char *desc)
{
	enum { W = 8, H = 8 };
	if (lay->x + W > 24) {
		lay->x = 0;
		lay->y += H;
	}
	json_t *p = json_object();
	json_object_set_new(p, "id", json_integer(++lay->id));
	json_object_set_new(p, "type", json_string(type));
	json_object_set_new(p, "title", json_string(title));
	if (desc)
		json_object_set_new(p, "description", json_string(desc));
	json_object_set_new(p, "datasource", datasource());
	json_object_set_new(p, "gridPos", json_pack("{s:i, s:i, s:i, s:i}", "h", H, "w", W, "x", lay->x, "y", lay->y));
	lay->x += W;
	return p;
}

static void add_target(json_t *p, const char *expr, const char *legend, bool heatmap)
{
	json_t *t = json_pack("{s:o, s:s, s:s, s:s}", "datasource", datasource(), "refId", "A", "expr", expr,
			      "legendFormat", legend);
	if (heatmap)
		json_object_set_new(t, "format", json_string("heatmap"));
	json_object_set_new(p, "targets", json_pack("[o]", t));
}

static void end_row(struct layout *lay)
{
	if (lay->x) {
		lay->x = 0;
		lay->y += 8;
	}
}

static void add_row(json_t *list, struct layout *lay, const char *title)
{
	end_row(lay);
	json_array_append_new(list, json_pack("{s:i, s:s, s:s, s:b, s:{s:i, s:i, s:i, s:i}, s:[]}", "id", ++lay->id,
					      "type", "row", "title", title, "collapsed", 0, "gridPos", "h", 1, "w",
					      24, "x", 0, "y", lay->y, "panels"));
	lay->y += 1;
}

static json_t *severity_panel(struct layout *lay, const struct rule_info *r)
{
	char *title = xasprintf("%s: severity", r->id);
	json_t *p = new_panel(lay, "stat", title, r->explain);
	free(title);
	char *expr = xasprintf("hiddenq_finding_severity{id=\"%s\",instance=~\"$instance\"}", r->id);
	add_target(p, expr, "{{instance}}", false);
	free(expr);
	json_t *map = json_pack("[{s:s, s:{s:{s:s, s:s, s:i}, s:{s:s, s:s, s:i}, s:{s:s, s:s, s:i}, s:{s:s, s:s, s:i}}}]",
				"type", "value", "options", "-1", "text", "unknown", "color", "text", "index", 0, "0",
				"text", "ok", "color", "green", "index", 1, "1", "text", "warn", "color", "orange",
				"index", 2, "2", "text", "crit", "color", "red", "index", 3);
	json_t *steps = json_pack("[{s:s, s:n}, {s:s, s:i}, {s:s, s:i}]", "color", "green", "value", "color", "orange",
				  "value", 1, "color", "red", "value", 2);
	json_object_set_new(p, "fieldConfig",
			    json_pack("{s:{s:o, s:{s:s, s:o}, s:i, s:i}, s:[]}", "defaults", "mappings", map, "thresholds",
				      "mode", "absolute", "steps", steps, "min", -1, "max", 2, "overrides"));
	json_object_set_new(p, "options",
			    json_pack("{s:{s:[s], s:b}, s:s, s:s, s:s}", "reduceOptions", "calcs", "lastNotNull", "values",
				      0, "colorMode", "background", "graphMode", "none", "textMode", "value_and_name"));
	return p;
}

static void field_config(json_t *p, enum unit_id unit, const double *lines, size_t nlines)
{
	json_t *steps = json_pack("[{s:s, s:n}]", "color", "green", "value");
	static const char *const colors[] = { "orange", "red" };
	for (size_t i = 0; i < nlines; i++)
		json_array_append_new(steps, json_pack("{s:s, s:f}", "color", colors[i < 2 ? i : 1], "value", lines[i]));
	json_object_set_new(p, "fieldConfig",
			    json_pack("{s:{s:s, s:{s:s, s:o}, s:{s:{s:s}}}, s:[]}", "defaults", "unit", grafana_unit(unit),
				      "thresholds", "mode", "absolute", "steps", steps, "custom", "thresholdsStyle", "mode",
				      nlines ? "line" : "off", "overrides"));
	json_object_set_new(p, "options", json_pack("{s:{s:s, s:s}, s:{s:s}}", "legend", "displayMode", "list",
						    "placement", "bottom", "tooltip", "mode", "multi"));
}

/* "{{instance}} {{cpu}}": the labels of the first raw series a leg reads */
static void leg_legend(struct strbuf *o, const struct leg *l)
{
	sb_puts(o, "{{instance}}");
	const char *p = strstr(l->expr, "${");
	const char *e = p ? strchr(p, '}') : NULL;
	char name[96];
	if (!e || (size_t)(e - p - 2) >= sizeof(name))
		return;
	snprintf(name, sizeof(name), "%.*s", (int)(e - p - 2), p + 2);
	const struct metric_def *d = metric_by_name(name);
	for (int k = 0; d && k < LBL_COUNT; k++)
		if (d->labels & (UINT64_C(1) << k))
			sb_printf(o, " {{%s}}", label_name((enum label_id)k));
}

static void leg_panel(json_t *list, struct layout *lay, struct gen *g, const struct rule_info *r, const struct leg *l)
{
	unsigned win = rule_window(g, r);
	bool differ = levels_differ(g, l, win);
	for (int lv = 0; lv < NLEVELS; lv++) {
		if (!applies(l, lv) || (!differ && lv == CRIT && applies(l, WARN)))
			continue;
		char wd[40] = "";
		if (strstr(l->expr, "${W}")) {
			memcpy(wd, " over ", 7);
			fmt_dur(win, wd + 6, sizeof(wd) - 6);
		}
		char *title = xasprintf("%s%s%s%s (PromQL twin of %s)", l->name, differ ? " at " : "",
					differ ? level_name[lv] : "", wd, leg_label(l));
		struct strbuf desc = { 0 };
		sb_printf(&desc, "%s.", l->thr >= 0 ? thresholds[l->thr].help : metric_def(l->ev)->help);
		if (l->note)
			sb_printf(&desc, " Twin: %s.", l->note);
		json_t *p = new_panel(lay, "timeseries", title, desc.s);
		free(title);
		sb_done(&desc);
		struct xp x = { g, l, lv, win, MODE_DASH };
		char *e = expand_s(l->expr, &x);
		struct strbuf leg = { 0 };
		leg_legend(&leg, l);
		add_target(p, e, leg.s, false);
		free(e);
		sb_done(&leg);
		/* the lines the alert draws: its comparison at each level this series stands for */
		double lines[NLEVELS];
		size_t nl = 0;
		for (int k = 0; k < NLEVELS; k++) {
			if (!applies(l, k) || (differ && k != lv))
				continue;
			char *c = expand_s(l->cond, &(struct xp){ g, l, k, win, MODE_DASH });
			const char *n = c + strspn(c, "<>=! ");
			char *end;
			double v = strtod(n, &end);
			if (end != n)
				lines[nl++] = v;
			free(c);
		}
		enum unit_id u = strstr(l->expr, "${T}") ? U_NONE : metric_def(l->ev)->unit;
		if (u == U_SECONDS_PER_SECOND || (u == U_RATIO && strstr(l->expr, "_count")))
			u = U_NONE;
		field_config(p, u, lines, nl);
		json_array_append_new(list, p);
	}
}

static void extra_panels(json_t *list, struct layout *lay, struct gen *g, const char *rule, unsigned win)
{
	for (size_t k = 0; k < ARRAY_SIZE(panels); k++) {
		const struct panel *pn = &panels[k];
		if ((rule == NULL) != (pn->rule == NULL) || (rule && strcmp(rule, pn->rule)))
			continue;
		bool heat = pn->kind == P_HEATMAP;
		json_t *p = new_panel(lay, heat ? "heatmap" : "timeseries", pn->title, NULL);
		struct xp x = { g, NULL, WARN, win, MODE_DASH };
		char *e = expand_s(pn->expr, &x);
		add_target(p, e, pn->legend, heat);
		free(e);
		if (heat) {
			json_object_set_new(p, "options", json_pack("{s:b, s:{s:s}, s:{s:s}}", "calculate", 0, "yAxis", "unit",
								    grafana_unit(pn->unit), "color", "scheme", "Oranges"));
			json_object_set_new(p, "fieldConfig", json_pack("{s:{}, s:[]}", "defaults", "overrides"));
		} else {
			field_config(p, pn->unit, NULL, 0);
		}
		json_array_append_new(list, p);
	}
}

int promrules_grafana(FILE *out, const struct promrules_opts *o, char **why)
{
	struct gen g = { .o = o };
	struct strbuf b = { 0 };
	check_tables(&g);
	if (g.why)
		return finish(&g, out, &b, why);
	for (size_t i = 0; i < ARRAY_SIZE(panels); i++)
		if (panels[i].rule && !rule_by_id(panels[i].rule))
			fail(&g, "dashboard.def: no rule %s in rules.def", panels[i].rule);
	json_t *list = json_array();
	struct layout lay = { 0 };
	for (size_t i = 0; i < rules_count(); i++) {
		const struct rule_info *r = rules_info(i);
		char *title = xasprintf("%s (%s)", r->label, r->id);
		add_row(list, &lay, title);
		free(title);
		json_array_append_new(list, severity_panel(&lay, r));
		for (size_t k = 0; k < ARRAY_SIZE(legs); k++)
			if (legs[k].expr && !strcmp(legs[k].rule, r->id))
				leg_panel(list, &lay, &g, r, &legs[k]);
		extra_panels(list, &lay, &g, r->id, rule_window(&g, r));
	}
	add_row(list, &lay, "hiddenq itself");
	extra_panels(list, &lay, &g, NULL, g.o->window_s ? g.o->window_s : SELF_WINDOW_S);

	struct strbuf hb = { 0 };
	put_header(&hb, &g, "--grafana", "");
	json_t *ds = json_pack("{s:s, s:s, s:s, s:s, s:[], s:i, s:b}", "name", "datasource", "label", "Prometheus", "type",
			       "datasource", "query", "prometheus", "options", "refresh", 1, "hide", 0);
	json_t *inst = json_pack("{s:s, s:s, s:o, s:s, s:{s:s, s:s}, s:i, s:b, s:b, s:s, s:i, s:s}", "name", "instance",
				 "type", "query", "datasource", datasource(), "label", "instance", "definition",
				 "query", "label_values(hiddenq_build_info, instance)", "refId", "instance", "refresh", 2,
				 "multi", 1, "includeAll", 1, "allValue", ".*", "sort", 1, "query",
				 "label_values(hiddenq_build_info, instance)");
	json_t *d = json_object();
	json_object_set_new(d, "title", json_string("hiddenq: the hidden queues"));
	json_object_set_new(d, "uid", json_string("hiddenq"));
	json_object_set_new(d, "description", json_string(hb.s));
	json_object_set_new(d, "tags", json_pack("[s]", "hiddenq"));
	json_object_set_new(d, "editable", json_true());
	json_object_set_new(d, "graphTooltip", json_integer(1));
	json_object_set_new(d, "refresh", json_string("30s"));
	json_object_set_new(d, "schemaVersion", json_integer(37));
	json_object_set_new(d, "version", json_integer(1));
	json_object_set_new(d, "time", json_pack("{s:s, s:s}", "from", "now-1h", "to", "now"));
	json_object_set_new(d, "annotations", json_pack("{s:[]}", "list"));
	json_object_set_new(d, "templating", json_pack("{s:[o, o]}", "list", ds, inst));
	json_object_set_new(d, "panels", list);
	sb_done(&hb);
	char *s = json_dumps(d, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	json_decref(d);
	if (s) {
		sb_puts(&b, s);
		sb_puts(&b, "\n");
		free(s);
	} else {
		fail(&g, "failed to render the dashboard as JSON");
	}
	return finish(&g, out, &b, why);
}
