/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * `hiddenq metrics`: the catalog and the sources table, and what this
 * machine (or this bundle) supplies of them, in text and JSON.
 */
#include "metrics.h"

#include <string.h>

#include "../core/util.h"
#include "report.h"

static void labels_text(uint64_t labels, char *buf, size_t n)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int l = 0; l < LBL_COUNT && o + 2 < n; l++)
		if (labels & (UINT64_C(1) << l)) {
			int k = snprintf(buf + o, n - o, "%s%s", o ? "," : "", label_name((enum label_id)l));
			if (k < 0 || (size_t)k >= n - o)
				break;
			o += (size_t)k;
		}
	if (!o)
		snprintf(buf, n, "-");
}

static json_t *labels_json(uint64_t labels)
{
	json_t *a = json_array();
	for (int l = 0; l < LBL_COUNT; l++)
		if (labels & (UINT64_C(1) << l))
			json_array_append_new(a, jstr(label_name((enum label_id)l)));
	return a;
}

json_t *metrics_json(const struct metrics_view *v)
{
	json_t *o = json_object();
	json_object_set_new(o, "hiddenq", jstr(HQ_VERSION));
	json_object_set_new(o, "source", v->input ? jstr(v->input) : json_null());
	json_object_set_new(o, "window_s", v->an ? json_real(v->window_s) : json_null());
	json_t *units = json_object();
	for (int u = 0; u < U_COUNT; u++)
		json_object_set_new(units, u == U_NONE ? "none" : unit_name((enum unit_id)u),
				    jstr(unit_help((enum unit_id)u)));
	json_object_set_new(o, "units", units);
	json_t *srcs = json_array();
	for (int s = 0; s < SRC_COUNT; s++) {
		const struct source_def *d = &source_defs[s];
		json_t *j = json_object();
		json_object_set_new(j, "name", jstr(d->name));
		json_object_set_new(j, "default", json_boolean(d->default_on));
		json_object_set_new(j, "tick", jstr(source_tick_name(d->tick)));
		json_object_set_new(j, "reads", jstr(d->reads));
		json_object_set_new(j, "help", jstr(d->help));
		if (v->an) {
			json_object_set_new(j, "available", json_boolean(v->src_ok[s]));
			if (!v->src_ok[s])
				json_object_set_new(j, "reason", jstr(v->src_why[s]));
		}
		if (v->have_cost && v->runs[s]) {
			json_object_set_new(j, "cpu_ms_per_s", json_real(v->cost_ms_per_s[s]));
			json_object_set_new(j, "read_count", json_integer((json_int_t)v->runs[s]));
		}
		json_array_append_new(srcs, j);
	}
	json_object_set_new(o, "sources", srcs);
	json_t *ms = json_array();
	unsigned supplied = 0;
	for (int m = 0; m < M_COUNT; m++) {
		const struct metric_def *d = metric_def((enum metric_id)m);
		json_t *j = json_object();
		json_object_set_new(j, "name", jstr(d->name));
		json_object_set_new(j, "prometheus", jstr(d->prom));
		json_object_set_new(j, "type", jstr(metric_type_name(d->type)));
		json_object_set_new(j, "scope", jstr(metric_scope_name(d->scope)));
		json_object_set_new(j, "unit", jstr(d->unit == U_NONE ? "none" : unit_name(d->unit)));
		json_object_set_new(j, "display_unit", jstr(d->display));
		json_object_set_new(j, "display_scale", json_real(d->scale));
		json_object_set_new(j, "labels", labels_json(d->labels));
		json_object_set_new(j, "source", jstr(source_defs[d->source].name));
		json_object_set_new(j, "help", jstr(d->help));
		if (v->an) {
			json_object_set_new(j, "available", json_boolean(v->m_ok[m]));
			if (!v->m_ok[m])
				json_object_set_new(j, "reason", jstr(v->m_why[m]));
			if (d->scope == MS_WINDOW)
				json_object_set_new(j, "quoted", json_integer(v->quoted[m]));
			supplied += v->m_ok[m];
		}
		json_array_append_new(ms, j);
	}
	json_object_set_new(o, "metrics", ms);
	json_t *sum = json_object();
	json_object_set_new(sum, "metrics", json_integer(M_COUNT));
	json_object_set_new(sum, "sources", json_integer(SRC_COUNT));
	if (v->an)
		json_object_set_new(sum, "available", json_integer(supplied));
	json_object_set_new(o, "summary", sum);
	return o;
}

void metrics_text(FILE *out, const struct metrics_view *v, bool all)
{
	unsigned supplied = 0;
	for (int m = 0; v->an && m < M_COUNT; m++)
		supplied += v->m_ok[m];
	if (v->an)
		text_header(out, "metrics", "%s, watched %.1f s: %u of %d metrics available here\n",
			    v->input && strcmp(v->input, "live") ? v->input : "this machine", v->window_s, supplied, M_COUNT);
	else
		text_header(out, "metrics", "the metric catalog: %d metrics from %d sources\n", M_COUNT, SRC_COUNT);
	fprintf(out, "Sources%s:\n  %-9s %-6s %-4s %s%s\n",
		v->have_cost ? " (cpu: the sampling thread's CPU time per second watched)" : "", "name", "tick",
		v->an ? "here" : "", v->have_cost ? "cpu ms/s  " : "", "reads");
	for (int s = 0; s < SRC_COUNT; s++) {
		const struct source_def *d = &source_defs[s];
		char cost[16] = "";
		if (v->have_cost && v->runs[s])
			snprintf(cost, sizeof(cost), "%-8.3f  ", v->cost_ms_per_s[s]);
		else if (v->have_cost)
			snprintf(cost, sizeof(cost), "%-8s  ", "-");
		fprintf(out, "  %-9s %-6s %-4s %s%s\n", d->name, source_tick_name(d->tick),
			!v->an ? "" : v->src_ok[s] ? "ok" : "no", cost, d->reads);
		if (v->an && !v->src_ok[s])
			fprintf(out, "  %-9s %-6s      why: %s\n", "", "", v->src_why[s]);
	}
	fprintf(out, "\nMetrics (name, type, unit as shown [base unit], labels, exported name):\n");
	for (int m = 0; m < M_COUNT; m++) {
		const struct metric_def *d = metric_def((enum metric_id)m);
		if (v->an && !all && !v->m_ok[m] && metrics_source_down(v, d))
			continue;
		char labels[160], unit[48];
		labels_text(d->labels, labels, sizeof(labels));
		snprintf(unit, sizeof(unit), "%s [%s]", d->display[0] ? d->display : "-",
			 d->unit == U_NONE ? "none" : unit_name(d->unit));
		fprintf(out, "  %-4s %-36s %-9s %-26s %-24s %s\n", !v->an ? "" : v->m_ok[m] ? "ok" : "no", d->name,
			metric_type_name(d->type), unit, labels, d->prom);
		if (v->an && !v->m_ok[m])
			fprintf(out, "       %-36s why: %s\n", "", v->m_why[m]);
	}
	if (v->an && !all) {
		unsigned hidden = 0;
		for (int m = 0; m < M_COUNT; m++)
			hidden += !v->m_ok[m] && metrics_source_down(v, metric_def((enum metric_id)m));
		if (hidden)
			fprintf(out, "\n  (%u more from the sources marked \"no\" above; --all lists them)\n", hidden);
	}
}

bool metrics_source_down(const struct metrics_view *v, const struct metric_def *d)
{
	return !v->src_ok[d->source];
}
