/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "findings.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int threshold_override(const char *spec)
{
	const char *eq = strchr(spec, '=');
	if (!eq)
		return -EINVAL;
	for (int i = 0; i < T_COUNT; i++) {
		if (strlen(thresholds[i].name) != (size_t)(eq - spec) ||
		    strncmp(thresholds[i].name, spec, (size_t)(eq - spec)) != 0)
			continue;
		const char *v = eq + 1;
		char *end;
		double w = thresholds[i].warn, c = thresholds[i].crit;
		if (*v && *v != ',') {
			w = strtod(v, &end);
			if (end == v || (*end && *end != ','))
				return -EINVAL;
			v = end;
		}
		if (*v == ',') {
			v++;
			if (*v) {
				c = strtod(v, &end);
				if (end == v || *end)
					return -EINVAL;
			}
		}
		thresholds[i].warn = w;
		thresholds[i].crit = c;
		return 0;
	}
	return -EINVAL;
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

struct evidence *finding_ev_cpu(struct finding *f, const char *metric, double value, int t,
				const char *unit, int cpu)
{
	xgrow((void **)&f->ev, sizeof(*f->ev), &f->capev, f->nev);
	struct evidence *e = &f->ev[f->nev++];
	memset(e, 0, sizeof(*e));
	e->metric = xstrdup(metric);
	e->value = value;
	e->warn = t >= 0 ? thresholds[t].warn : -1;
	e->crit = t >= 0 ? thresholds[t].crit : -1;
	e->unit = xstrdup(unit ? unit : (t >= 0 ? thresholds[t].unit : ""));
	e->cpu = cpu;
	return e;
}

struct evidence *finding_ev(struct finding *f, const char *metric, double value, int t, const char *unit)
{
	return finding_ev_cpu(f, metric, value, t, unit, -1);
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
			free(f->ev[k].metric);
			free(f->ev[k].unit);
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
