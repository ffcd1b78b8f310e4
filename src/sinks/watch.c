/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "watch.h"

#include <time.h>

#include "report.h"

void watch_time(char *buf, size_t n, uint64_t real_ns)
{
	time_t t = (time_t)(real_ns / 1000000000ull);
	struct tm tm;
	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, n, "?");
		return;
	}
	char d[32];
	strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, n, "%s.%03uZ", d, (unsigned)(real_ns / 1000000ull % 1000));
}

static const char *sev_word(enum severity s)
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

void watch_line_text(FILE *out, const struct watch_line *l, bool color)
{
	char t[40];
	watch_time(t, sizeof(t), l->real_ns);
	const struct finding *f = l->f;
	char change[32];
	if (l->start)
		snprintf(change, sizeof(change), "start");
	else
		snprintf(change, sizeof(change), "%s → %s", severity_name(l->from), severity_name(f->sev));
	/* printf pads bytes: "→" is three bytes in one column */
	int pad = 16;
	for (const char *c = change; *c; c++)
		pad += ((unsigned char)*c & 0xc0) == 0x80;
	if (color)
		fprintf(out, "%s  %s%-4s\033[0m  %-22s  %-*s  %s  (over %.0f s)\n", t, sev_color(f->sev),
			sev_word(f->sev), f->id, pad, change, f->title ? f->title : "", l->window_s);
	else
		fprintf(out, "%s  %-4s  %-22s  %-*s  %s  (over %.0f s)\n", t, sev_word(f->sev), f->id, pad, change,
			f->title ? f->title : "", l->window_s);
	fflush(out);
}

void watch_line_json(FILE *out, const struct watch_line *l)
{
	const struct finding *f = l->f;
	char t[40];
	watch_time(t, sizeof(t), l->real_ns);
	json_t *o = json_object();
	json_object_set_new(o, "event", jstr(l->start ? "start" : "change"));
	json_object_set_new(o, "time", jstr(t));
	json_object_set_new(o, "real_ns", json_integer((json_int_t)l->real_ns));
	json_object_set_new(o, "mono_ns", json_integer((json_int_t)l->mono_ns));
	json_object_set_new(o, "id", jstr(f->id));
	json_object_set_new(o, "layer", jstr(f->layer));
	json_object_set_new(o, "failure_mode", f->failure_mode ? json_integer(f->failure_mode) : json_null());
	json_object_set_new(o, "from", l->start ? json_null() : jstr(severity_name(l->from)));
	json_object_set_new(o, "to", jstr(severity_name(f->sev)));
	json_object_set_new(o, "title", jstr(f->title ? f->title : ""));
	json_object_set_new(o, "window_s", json_real(l->window_s));
	/* the evidence that was judged against a threshold */
	json_t *ev = json_array();
	for (size_t k = 0; k < f->nev; k++)
		if (f->ev[k].warn >= 0 || f->ev[k].crit >= 0)
			json_array_append_new(ev, evidence_json(&f->ev[k]));
	json_object_set_new(o, "evidence", ev);
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	if (s) {
		fputs(s, out);
		fputc('\n', out);
		free(s);
	}
	json_decref(o);
	fflush(out);
}

void watch_event_json(FILE *out, uint64_t real_ns, const char *event, json_t *fields)
{
	char t[40];
	watch_time(t, sizeof(t), real_ns);
	json_t *o = json_object();
	json_object_set_new(o, "event", jstr(event));
	json_object_set_new(o, "time", jstr(t));
	json_object_set_new(o, "real_ns", json_integer((json_int_t)real_ns));
	if (fields)
		json_object_update(o, fields);
	json_decref(fields);
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (s) {
		fputs(s, out);
		fputc('\n', out);
		free(s);
	}
	json_decref(o);
	fflush(out);
}
