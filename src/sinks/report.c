/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "report.h"

#include <stdarg.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../analysis/stack.h"
#include "../core/util.h"

static const char *sev_label(enum severity s)
{
	switch (s) {
	case SEV_OK: return "ok";
	case SEV_WARN: return "WARN";
	case SEV_CRIT: return "CRIT";
	default: return "?";
	}
}

static const char *sev_color(enum severity s)
{
	switch (s) {
	case SEV_OK: return "\033[32m";
	case SEV_WARN: return "\033[33m";
	case SEV_CRIT: return "\033[1;31m";
	default: return "\033[2m";
	}
}

/* Print text wrapped at width, every line indented by `indent` spaces. */
static void wrap(FILE *out, const char *text, unsigned indent, unsigned width, const char *first_prefix)
{
	unsigned col = 0;
	const char *p = text;
	bool first = true;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		unsigned wl = (unsigned)(p - w);
		if (wl == 0)
			break;
		if (col == 0) {
			fprintf(out, "%*s", (int)indent, "");
			col = indent;
			if (first && first_prefix) {
				fputs(first_prefix, out);
				col += (unsigned)strlen(first_prefix);
			}
			first = false;
		} else if (col + 1 + wl > width) {
			fprintf(out, "\n%*s", (int)indent + (first_prefix ? 2 : 0), "");
			col = indent + (first_prefix ? 2 : 0);
		} else {
			fputc(' ', out);
			col++;
		}
		fwrite(w, 1, wl, out);
		col += wl;
	}
	if (col)
		fputc('\n', out);
}

void report_text(FILE *out, const struct analysis *an, const struct findings *fs, const struct report_opts *o)
{
	struct environment env;
	environment_build(an, &env);
	const struct cpu_analysis *a = &an->cpu;
	unsigned width = o->width ? o->width : 96;

	fprintf(out, "hiddenq %s diagnose — ", HQ_VERSION);
	if (strcmp(env.mode, "guest") == 0)
		fprintf(out, "%s guest", env.hypervisor);
	else
		fprintf(out, "%s", env.hypervisor[0] ? env.hypervisor : "host");
	if (env.product[0])
		fprintf(out, " (%s)", env.product);
	if (env.vcpus)
		fprintf(out, ", %u vCPU%s", env.vcpus, plural_s(env.vcpus));
	else
		fprintf(out, ", ? vCPUs");
	if (env.kernel[0])
		fprintf(out, ", kernel %s", env.kernel);
	fprintf(out, ", watched %.1f s", cpu_watch_s(a));
	if (strcmp(an->source, "live") != 0)
		fprintf(out, " (replay of %s)", an->source);
	fputc('\n', out);
	/* the virtualization stack, in one line (hiddenq topo has each fact with its source) */
	struct stack *stk = xcalloc(1, sizeof(*stk));
	stack_build(an->statics, &an->cpu.id, stk);
	char sline[1024];
	stack_summary(stk, sline, sizeof(sline));
	wrap(out, sline, 2, width, "stack: ");
	free(stk);
	/* damaged input comes first: everything below rests on what was left */
	for (unsigned i = 0; i < an->ndamage; i++)
		wrap(out, an->damage[i], 2, width, "damaged input: ");
	fputc('\n', out);

	for (size_t i = 0; i < fs->n; i++) {
		const struct finding *f = &fs->v[i];
		const char *lab = sev_label(f->sev);
		if (o->color)
			fprintf(out, "  %s%-4s\033[0m  %-17s  %s\n", sev_color(f->sev), lab, f->label, f->title);
		else
			fprintf(out, "  %-4s  %-17s  %s\n", lab, f->label, f->title);
		if (f->detail)
			fprintf(out, "        %-22s  %s\n", f->id, f->detail);
		else
			fprintf(out, "        %s\n", f->id);
		bool more = f->sev != SEV_OK || o->verbose;
		if (more && f->explain)
			wrap(out, f->explain, 8, width, NULL);
		if (more)
			for (size_t k = 0; k < f->nnext; k++)
				wrap(out, f->next[k], 8, width, "→ ");
		/* tasks and cgroups that matter, for warn/crit */
		if (f->sev == SEV_WARN || f->sev == SEV_CRIT || o->verbose) {
			unsigned shown = 0;
			for (size_t k = 0; k < f->nev && shown < 5; k++) {
				const struct evidence *e = &f->ev[k];
				if (!e->subject || e->value <= 0)
					continue;
				fprintf(out, "        · %-40s %s %.1f %s\n", e->subject, e->metric, e->value, e->unit);
				shown++;
			}
		}
	}

	struct capabilities caps;
	capabilities_build(an, &caps);
	fputs("\n  can see:", out);
	for (size_t i = 0; i < caps.n; i++)
		if (caps.v[i].ok)
			fprintf(out, " %s ✓ ", caps.v[i].name);
	bool any_missing = false;
	for (size_t i = 0; i < caps.n; i++)
		if (!caps.v[i].ok)
			any_missing = true;
	if (any_missing) {
		fputs("\n  cannot:", out);
		for (size_t i = 0; i < caps.n; i++)
			if (!caps.v[i].ok)
				fprintf(out, " %s ✗ ", caps.v[i].name);
		fputc('\n', out);
		for (size_t i = 0; i < caps.n; i++)
			if (!caps.v[i].ok)
				fprintf(out, "    %-17s %s\n", caps.v[i].name, caps.v[i].detail);
	} else {
		fputc('\n', out);
	}
	for (size_t i = 0; i < caps.n; i++)
		if (strcmp(caps.v[i].name, "container") == 0)
			fprintf(out, "    %-17s %s\n", caps.v[i].name, caps.v[i].detail);
	capabilities_done(&caps);
	int code = findings_exit_code(fs);
	static const char *const names[] = { "ok", "warn", "crit", "unknown" };
	fprintf(out, "exit %d (%s)\n", code, names[code]);
}

static json_t *num_or_null(double v)
{
	if (v < 0 || !isfinite(v))
		return json_null();
	return json_real(round(v * 1000.0) / 1000.0);
}

static json_t *value_json(double v)
{
	if (!isfinite(v))
		return json_null();
	if (v == floor(v) && fabs(v) < 9e15)
		return json_integer((json_int_t)v);
	return json_real(round(v * 1000.0) / 1000.0);
}

json_t *evidence_json(const struct evidence *x)
{
	json_t *xj = json_object();
	json_object_set_new(xj, "metric", jstr(x->metric));
	json_object_set_new(xj, "value", value_json(x->value));
	json_object_set_new(xj, "warn", num_or_null(x->warn));
	json_object_set_new(xj, "crit", num_or_null(x->crit));
	json_object_set_new(xj, "unit", jstr(x->unit));
	if (x->cpu >= 0)
		json_object_set_new(xj, "cpu", json_integer(x->cpu));
	if (x->nlabels) {
		json_t *lj = json_object();
		for (unsigned l = 0; l < x->nlabels; l++)
			json_object_set_new(lj, label_name(x->labels[l].key), jstr(x->labels[l].value));
		json_object_set_new(xj, "labels", lj);
	}
	if (x->subject)
		json_object_set_new(xj, "subject", jstr(x->subject));
	if (x->t_mono_ns)
		json_object_set_new(xj, "t_mono_ns", json_integer((json_int_t)x->t_mono_ns));
	return xj;
}

json_t *report_json(const struct analysis *an, const struct findings *fs)
{
	struct environment env;
	environment_build(an, &env);
	const struct cpu_analysis *a = &an->cpu;
	json_t *o = json_object();
	json_object_set_new(o, "hiddenq", jstr(HQ_VERSION));
	json_object_set_new(o, "mode", jstr(env.mode));
	json_object_set_new(o, "window_s", json_real(round(cpu_watch_s(a) * 1000) / 1000));
	json_object_set_new(o, "source", jstr(an->source));

	json_t *w = json_object();
	json_object_set_new(w, "start_mono_ns", json_integer((json_int_t)a->first_ns));
	json_object_set_new(w, "end_mono_ns", json_integer((json_int_t)a->last_ns));
	json_object_set_new(w, "start_real_ns", json_integer((json_int_t)a->first_real));
	json_object_set_new(w, "end_real_ns", json_integer((json_int_t)a->last_real));
	json_object_set_new(w, "samples", json_integer(a->nsamples));
	json_object_set_new(w, "windows_1s", json_integer((json_int_t)a->nwins));
	json_object_set_new(o, "window", w);
	json_t *dmg = json_array();
	for (unsigned i = 0; i < an->ndamage; i++)
		json_array_append_new(dmg, jstr(an->damage[i]));
	json_object_set_new(o, "damaged", dmg);

	json_t *e = json_object();
	json_object_set_new(e, "hostname", jstr(env.hostname));
	json_object_set_new(e, "kernel", jstr(env.kernel));
	json_object_set_new(e, "hypervisor", jstr(env.hypervisor));
	json_object_set_new(e, "product", jstr(env.product));
	json_object_set_new(e, "vcpus", env.vcpus ? json_integer(env.vcpus) : json_null());
	json_object_set_new(e, "clocksource", jstr(env.clocksource));
	json_object_set_new(e, "cpuidle_driver", jstr(env.cpuidle));
	json_t *m = json_array();
	for (unsigned i = 0; i < a->id.nmarkers; i++)
		json_array_append_new(m, jstr(a->id.markers[i]));
	json_object_set_new(e, "container_markers", m);
	struct stack *stk = xcalloc(1, sizeof(*stk));
	stack_build(an->statics, &an->cpu.id, stk);
	json_object_set_new(e, "stack", stack_json(stk));
	free(stk);
	json_object_set_new(o, "environment", e);

	struct capabilities caps;
	capabilities_build(an, &caps);
	json_t *c = json_object();
	for (size_t i = 0; i < caps.n; i++) {
		json_t *ce = json_object();
		json_object_set_new(ce, "ok", json_boolean(caps.v[i].ok));
		json_object_set_new(ce, "detail", jstr(caps.v[i].detail));
		json_object_set_new(c, caps.v[i].name, ce);
	}
	capabilities_done(&caps);
	json_object_set_new(o, "capabilities", c);

	json_t *arr = json_array();
	for (size_t i = 0; i < fs->n; i++) {
		const struct finding *f = &fs->v[i];
		json_t *fj = json_object();
		json_object_set_new(fj, "id", jstr(f->id));
		json_object_set_new(fj, "failure_mode", f->failure_mode ? json_integer(f->failure_mode) : json_null());
		json_object_set_new(fj, "layer", jstr(f->layer));
		json_object_set_new(fj, "severity", jstr(severity_name(f->sev)));
		json_object_set_new(fj, "title", jstr(f->title));
		json_t *ev = json_array();
		for (size_t k = 0; k < f->nev; k++)
			json_array_append_new(ev, evidence_json(&f->ev[k]));
		json_object_set_new(fj, "evidence", ev);
		json_object_set_new(fj, "explain", jstr(f->explain ? f->explain : ""));
		json_t *nx = json_array();
		for (size_t k = 0; k < f->nnext; k++)
			json_array_append_new(nx, jstr(f->next[k]));
		json_object_set_new(fj, "next", nx);
		json_array_append_new(arr, fj);
	}
	json_object_set_new(o, "findings", arr);
	json_object_set_new(o, "exit", json_integer(findings_exit_code(fs)));
	return o;
}

void text_header(FILE *out, const char *command, const char *fmt, ...)
{
	fprintf(out, "hiddenq %s %s — ", HQ_VERSION, command);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
}

json_t *report_json_error(const char *msg)
{
	json_t *o = json_object();
	json_object_set_new(o, "hiddenq", jstr(HQ_VERSION));
	json_object_set_new(o, "error", jstr(msg));
	json_object_set_new(o, "exit", json_integer(3));
	return o;
}

void json_print(FILE *out, json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	if (s) {
		fputs(s, out);
		fputc('\n', out);
		free(s);
	}
}
