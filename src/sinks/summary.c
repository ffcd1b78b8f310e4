/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* The report in words and as JSON (summary.h). */
#include "summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/json.h"
#include "../core/util.h"
#include "../topo/view.h"
#include "html.h"

#define MAX_SPANS_JSON 500
#define TEXT_PERIODS 5
#define TEXT_LINES 4

/* A count noun after exactly "1" in the singular ("1 task", not "1 tasks"); units of time
 * (s, ms, µs, ns), rates and symbols as they are. */
static const char *unit_for(const char *num, const char *unit, char *buf, size_t n)
{
	size_t len = strlen(unit);
	if (strcmp(num, "1") || len < 3 || unit[len - 1] != 's' || len >= n)
		return unit;
	for (size_t i = 0; i < len; i++)
		if (!((unit[i] >= 'a' && unit[i] <= 'z') || (unit[i] >= 'A' && unit[i] <= 'Z')))
			return unit;
	snprintf(buf, n, "%.*s", (int)(len - 1), unit);
	return buf;
}

static const char *sev_word(int s)
{
	switch (s) {
	case SEV_OK: return "ok";
	case SEV_WARN: return "warn";
	case SEV_CRIT: return "crit";
	default: return "unknown";
	}
}

static void hms(uint64_t ns, bool date, char *buf, size_t n)
{
	char iso[32];
	iso_time(ns, iso, sizeof(iso));
	/* "2026-12-03T02:00:05Z" -> "02:00:05" or "2026-12-03 02:00:05" */
	if (date)
		snprintf(buf, n, "%.10s %.8s", iso, iso + 11);
	else
		snprintf(buf, n, "%.8s", iso + 11);
}

static void num(double v, char *buf, size_t n)
{
	double a = fabs(v);
	if (!isfinite(v))
		snprintf(buf, n, "-");
	else if (a >= 100 || v == floor(v))
		snprintf(buf, n, "%.0f", v);
	else if (a >= 10)
		snprintf(buf, n, "%.1f", v);
	else
		snprintf(buf, n, "%.2f", v);
}

static double line_mean(const struct hline *l)
{
	return l->n ? l->sum / (double)l->n : NAN;
}

static int cmp_peak(const void *x, const void *y)
{
	const struct hline *a = *(const struct hline *const *)x, *b = *(const struct hline *const *)y;
	return a->peak < b->peak ? 1 : a->peak > b->peak ? -1 : 0;
}

static const char *sev_color(int s)
{
	switch (s) {
	case SEV_OK: return "\033[32m";
	case SEV_WARN: return "\033[33m";
	case SEV_CRIT: return "\033[1;31m";
	default: return "\033[2m";
	}
}

void summary_text(FILE *out, const struct history *h, const struct report_meta *m, bool color)
{
	bool date = h->last_t - h->first_t >= 86400ull * 1000000000ull;
	char a[32], z[32], d[48];
	iso_time(h->first_t, a, sizeof(a));
	iso_time(h->last_t, z, sizeof(z));
	history_fmt_dur((double)(h->last_t - h->first_t) / 1e9, d, sizeof(d));
	fprintf(out, "hiddenq %s report — %s%s%s", HQ_VERSION, m->env.hostname[0] ? m->env.hostname : "?",
		strcmp(m->env.mode, "guest") == 0 ? ", guest on " : ", ",
		m->env.hypervisor[0] ? m->env.hypervisor : "host");
	if (m->env.vcpus)
		fprintf(out, ", %u vCPU%s", m->env.vcpus, m->env.vcpus == 1 ? "" : "s");
	if (m->env.kernel[0])
		fprintf(out, ", kernel %s", m->env.kernel);
	fprintf(out, "\n%s %s: %s to %s (%s), %llu sample%s", m->kind, m->input, a, z, d, (unsigned long long)h->nsamples,
		plural_s(h->nsamples));
	if (m->interval_ns)
		fprintf(out, " every %.3g s", (double)m->interval_ns / 1e9);
	if (m->from_real || m->to_real) {
		char f[32] = "its start", t[32] = "its end";
		if (m->from_real)
			iso_time(m->from_real, f, sizeof(f));
		if (m->to_real)
			iso_time(m->to_real, t, sizeof(t));
		fprintf(out, "; the slice from %s to %s", f, t);
	}
	fputc('\n', out);
	if (m->skipped)
		fprintf(out, "  damaged input: %u sample(s) skipped\n", m->skipped);
	if (m->truncated)
		fprintf(out, "  damaged input: %u sample(s) read only in part\n", m->truncated);
	if (h->restarts)
		fprintf(out, "  gaps in time: %u (nothing is judged across them)\n", h->restarts);
	for (unsigned i = 0; i < h->ndamage; i++)
		fprintf(out, "  damaged input: %s\n", h->damage[i]);

	/* the worst periods */
	struct hperiod per[TEXT_PERIODS];
	size_t np = history_periods(h, per, TEXT_PERIODS);
	fputs("\nWorst periods", out);
	if (!np) {
		fputs(": none — no finding was warn or crit\n", out);
	} else {
		fprintf(out, " (%zu in all, worst first):\n", np);
		for (size_t i = 0; i < np && i < TEXT_PERIODS; i++) {
			char f[32], t[32];
			hms(per[i].from, date, f, sizeof(f));
			hms(per[i].to, date, t, sizeof(t));
			history_fmt_dur((double)(per[i].to - per[i].from) / 1e9, d, sizeof(d));
			fprintf(out, "  %zu. %s – %s (%s)  ", i + 1, f, t, d);
			for (size_t k = 0; k < per[i].nrules; k++) {
				bool c = k < per[i].ncrit;
				fprintf(out, "%s%s%s%s%s", k ? ", " : "", color ? sev_color(c ? SEV_CRIT : SEV_WARN) : "",
					c ? "CRIT " : "warn ", color ? "\033[0m" : "", h->f[per[i].rules[k]].id);
			}
			fputc('\n', out);
		}
	}

	/* each finding's spans */
	fputs("\nFindings over time (warn and crit periods):\n", out);
	struct hspan *sp = xcalloc(HISTORY_MAX_BUCKETS + 1, sizeof(*sp));
	for (size_t r = 0; r < h->nrules; r++) {
		const struct hfinding *hf = &h->f[r];
		const char *w = sev_word(hf->worst);
		if (color)
			fprintf(out, "  %s%-7s\033[0m %-24s", sev_color(hf->worst), w, hf->id);
		else
			fprintf(out, "  %-7s %-24s", w, hf->id);
		size_t n = history_spans(h, r, sp, HISTORY_MAX_BUCKETS + 1);
		if (n > HISTORY_MAX_BUCKETS + 1)
			n = HISTORY_MAX_BUCKETS + 1;
		unsigned shown = 0, bad = 0;
		for (size_t k = 0; k < n; k++) {
			if (sp[k].sev != SEV_WARN && sp[k].sev != SEV_CRIT)
				continue;
			bad++;
			if (shown >= 6)
				continue;
			char f[32], t[32];
			hms(sp[k].from, date, f, sizeof(f));
			hms(sp[k].to, date, t, sizeof(t));
			fprintf(out, "%s%s %s–%s", shown ? ", " : "", sev_word(sp[k].sev), f, t);
			shown++;
		}
		if (bad > shown)
			fprintf(out, " (+%u more)", bad - shown);
		if (!bad)
			fprintf(out, "%s", hf->worst == SEV_OK ? "ok throughout" : hf->worst == SEV_UNKNOWN ? "never judged" : "");
		fputc('\n', out);
		if (bad) {
			char wd[48], cd[48];
			history_fmt_dur(hf->secs[SEV_WARN], wd, sizeof(wd));
			history_fmt_dur(hf->secs[SEV_CRIT], cd, sizeof(cd));
			fprintf(out, "          %-24s warn %s, crit %s in all\n", "", wd, cd);
		}
		if (hf->worst_title && (hf->worst != SEV_OK || !bad))
			fprintf(out, "          %-24s %s%s\n", "", hf->worst == SEV_UNKNOWN ? "why: " : "worst: ",
				hf->worst_title);
	}
	free(sp);

	/* key figures */
	char u1[32], u2[32];
	fputs("\nKey figures (mean and peak of each plot's busiest lines):\n", out);
	for (size_t p = 0; p < h->nplots; p++) {
		const struct hplot *hp = &h->plots[p];
		if (!history_plot_has_data(hp))
			continue;
		fprintf(out, "  %s [%s]\n", hp->def->title, hp->unit);
		const struct hline **o = xcalloc(hp->nlines + 1, sizeof(*o));
		size_t n = 0;
		for (size_t k = 0; k < hp->nlines; k++)
			if (hp->lines[k].n)
				o[n++] = &hp->lines[k];
		qsort(o, n, sizeof(*o), cmp_peak);
		size_t zero = 0;
		for (size_t k = 0; k < n; k++)
			zero += !hp->hist && o[k]->peak == 0;
		size_t shown = 0;
		for (size_t k = 0; k < n && shown < TEXT_LINES; k++) {
			char x[32], y[32], t[32];
			if (!hp->hist && o[k]->peak == 0 && k > 0)
				break; /* the rest are all zero: counted below */
			shown++;
			if (hp->hist) {
				num(history_quantile_all(hp, o[k], 0.5), x, sizeof(x));
				num(history_quantile_all(hp, o[k], 0.99), y, sizeof(y));
				fprintf(out, "    %-34s p50 %s, p99 %s %s\n", o[k]->name, x, y, hp->unit);
			} else {
				num(line_mean(o[k]), x, sizeof(x));
				num(o[k]->peak, y, sizeof(y));
				hms(o[k]->peak_at, date, t, sizeof(t));
				fprintf(out, "    %-34s mean %s %s, peak %s %s at %s\n", o[k]->name, x,
					unit_for(x, hp->unit, u1, sizeof(u1)), y, unit_for(y, hp->unit, u2, sizeof(u2)), t);
			}
		}
		if (n > shown)
			fprintf(out, "    (%zu more line%s%s)\n", n - shown, plural_s(n - shown), zero >= n - shown ? ", all 0" : "");
		free(o);
	}
	bool any = false;
	for (size_t p = 0; p < h->nplots; p++) {
		const struct hplot *hp = &h->plots[p];
		if (history_plot_has_data(hp))
			continue;
		if (!any)
			fputs("\nNot drawn (no data):\n", out);
		any = true;
		fprintf(out, "  %s: %s\n", hp->def->title, hp->why[0] ? hp->why : "nothing recorded");
	}
	if (m->topo) {
		const struct topo *t = m->topo->t;
		fprintf(out, "\nTopology: %u CPUs online, %u socket%s, %zu NUMA node%s%s%s\n", t->online, t->sockets,
			t->sockets == 1 ? "" : "s", t->nnodes, t->nnodes == 1 ? "" : "s", m->topo->hv ? ", " : "",
			m->topo->hv ? m->topo->hv : "");
	} else {
		fprintf(out, "\nTopology: %s\n", m->topo_why[0] ? m->topo_why : "none in the input");
	}
}

static json_t *jtime(uint64_t ns)
{
	char iso[32];
	iso_time(ns, iso, sizeof(iso));
	return json_string(iso);
}

static json_t *jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

json_t *summary_json(const struct history *h, const struct report_meta *m)
{
	json_t *j = json_object();
	json_object_set_new(j, "hiddenq", json_string(HQ_VERSION));
	json_object_set_new(j, "input", jstr(m->input));
	json_object_set_new(j, "kind", jstr(m->kind));
	json_object_set_new(j, "hostname", jstr(m->env.hostname));
	json_object_set_new(j, "mode", jstr(m->env.mode));
	json_object_set_new(j, "from", jtime(h->first_t));
	json_object_set_new(j, "to", jtime(h->last_t));
	json_object_set_new(j, "from_ns", json_integer((json_int_t)h->first_t));
	json_object_set_new(j, "to_ns", json_integer((json_int_t)h->last_t));
	json_object_set_new(j, "samples", json_integer((json_int_t)h->nsamples));
	json_object_set_new(j, "interval_s", m->interval_ns ? json_real((double)m->interval_ns / 1e9) : json_null());
	json_object_set_new(j, "bucket_s", json_real((double)h->width / 1e9));
	json_object_set_new(j, "buckets", json_integer((json_int_t)h->nb));
	json_object_set_new(j, "gaps", json_integer(h->restarts));

	json_t *fa = json_array();
	struct hspan *sp = xcalloc(MAX_SPANS_JSON, sizeof(*sp));
	for (size_t r = 0; r < h->nrules; r++) {
		const struct hfinding *hf = &h->f[r];
		json_t *f = json_object();
		json_object_set_new(f, "id", json_string(hf->id));
		json_object_set_new(f, "label", json_string(hf->label));
		json_object_set_new(f, "failure_mode", hf->failure_mode ? json_integer(hf->failure_mode) : json_null());
		json_object_set_new(f, "worst", json_string(sev_word(hf->worst)));
		json_object_set_new(f, "worst_at", hf->seen ? jtime(hf->worst_at) : json_null());
		json_object_set_new(f, "worst_title", jstr(hf->worst_title));
		json_object_set_new(f, "worst_detail", jstr(hf->worst_detail));
		for (int s = 0; s <= SEV_UNKNOWN; s++) {
			char k[16];
			snprintf(k, sizeof(k), "%s_s", sev_word(s));
			json_object_set_new(f, k, json_real(hf->secs[s]));
		}
		size_t n = history_spans(h, r, sp, MAX_SPANS_JSON);
		json_t *sa = json_array();
		for (size_t k = 0; k < n && k < MAX_SPANS_JSON; k++) {
			json_t *s = json_object();
			json_object_set_new(s, "severity", json_string(sev_word(sp[k].sev)));
			json_object_set_new(s, "from", jtime(sp[k].from));
			json_object_set_new(s, "to", jtime(sp[k].to));
			json_object_set_new(s, "from_ns", json_integer((json_int_t)sp[k].from));
			json_object_set_new(s, "to_ns", json_integer((json_int_t)sp[k].to));
			json_array_append_new(sa, s);
		}
		json_object_set_new(f, "spans", sa);
		json_object_set_new(f, "spans_total", json_integer((json_int_t)n));
		json_array_append_new(fa, f);
	}
	free(sp);
	json_object_set_new(j, "findings", fa);

	struct hperiod per[32];
	size_t np = history_periods(h, per, 32);
	json_t *pa = json_array();
	for (size_t i = 0; i < np && i < 32; i++) {
		json_t *p = json_object();
		json_object_set_new(p, "from", jtime(per[i].from));
		json_object_set_new(p, "to", jtime(per[i].to));
		json_object_set_new(p, "severity", json_string(sev_word(per[i].sev)));
		json_t *c = json_array(), *w = json_array();
		for (size_t k = 0; k < per[i].nrules; k++)
			json_array_append_new(k < per[i].ncrit ? c : w, json_string(h->f[per[i].rules[k]].id));
		json_object_set_new(p, "crit", c);
		json_object_set_new(p, "warn", w);
		json_array_append_new(pa, p);
	}
	json_object_set_new(j, "periods", pa);

	json_t *pl = json_array();
	for (size_t p = 0; p < h->nplots; p++) {
		const struct hplot *hp = &h->plots[p];
		json_t *o = json_object();
		json_object_set_new(o, "id", json_string(hp->def->id));
		json_object_set_new(o, "section", json_string(hp->def->section));
		json_object_set_new(o, "title", json_string(hp->def->title));
		json_object_set_new(o, "unit", json_string(hp->unit));
		bool data = history_plot_has_data(hp);
		json_object_set_new(o, "has_data", json_boolean(data));
		json_object_set_new(o, "why", data ? json_null() : jstr(hp->why));
		json_t *la = json_array();
		for (size_t k = 0; k < hp->nlines; k++) {
			const struct hline *l = &hp->lines[k];
			if (!l->n)
				continue;
			json_t *x = json_object();
			json_object_set_new(x, "name", jstr(l->name));
			json_object_set_new(x, "values", json_integer((json_int_t)l->n));
			if (hp->hist) {
				json_object_set_new(x, "p50", jnum(history_quantile_all(hp, l, 0.5)));
				json_object_set_new(x, "p99", jnum(history_quantile_all(hp, l, 0.99)));
			} else {
				json_object_set_new(x, "mean", jnum(line_mean(l)));
				json_object_set_new(x, "peak", jnum(l->peak));
				json_object_set_new(x, "peak_at", jtime(l->peak_at));
				json_object_set_new(x, "peak_at_ns", json_integer((json_int_t)l->peak_at));
			}
			json_array_append_new(la, x);
		}
		json_object_set_new(o, "lines", la);
		json_array_append_new(pl, o);
	}
	json_object_set_new(j, "plots", pl);

	json_t *da = json_array();
	if (m->skipped)
		json_array_append_new(da, jstr("samples of the input were skipped"));
	for (unsigned i = 0; i < h->ndamage; i++)
		json_array_append_new(da, jstr(h->damage[i]));
	json_object_set_new(j, "damaged", da);
	json_object_set_new(j, "skipped", json_integer(m->skipped));
	if (m->topo) {
		json_t *t = json_object();
		json_object_set_new(t, "cpus_online", json_integer(m->topo->t->online));
		json_object_set_new(t, "nodes", json_integer((json_int_t)m->topo->t->nnodes));
		json_object_set_new(t, "sockets", json_integer(m->topo->t->sockets));
		json_object_set_new(j, "topology", t);
	} else {
		json_object_set_new(j, "topology", json_null());
		json_object_set_new(j, "topology_why", jstr(m->topo_why));
	}
	return j;
}
