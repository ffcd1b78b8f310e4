/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Prometheus text 0.0.4 and OpenMetrics 1.0 from the engine (openmetrics.h).
 */
#include "openmetrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/util.h"
#include "../engine/series.h"

struct om {
	struct strbuf b;
	enum om_format fmt;
	int cur;		/* metric whose header was written last, -1 none */
	/* the le labels of the last histogram's buckets, formatted once per metric */
	double le[SERIES_MAX_BUCKETS];
	size_t nle;
	char le_txt[SERIES_MAX_BUCKETS][24];
};

/* The family name: OpenMetrics names counters and info without their suffix. */
static void family(const struct om *o, const struct metric_def *d, char *out, size_t n)
{
	snprintf(out, n, "%s", d->prom);
	if (o->fmt != OM_OPENMETRICS_100)
		return;
	size_t l = strlen(out);
	if (d->type == MT_COUNTER && l > 6 && !strcmp(out + l - 6, "_total"))
		out[l - 6] = '\0';
	if (d->type == MT_INFO && l > 5 && !strcmp(out + l - 5, "_info"))
		out[l - 5] = '\0';
}

static void escaped(struct strbuf *b, const char *s, bool label)
{
	while (*s) {
		size_t run = 0; /* characters that need no escape, copied at once */
		for (unsigned char c; (c = (unsigned char)s[run]) && c >= 0x20 && c < 0x7f && c != '\\' &&
				      !(c == '"' && label);)
			run++;
		sb_put(b, s, run);
		s += run;
		unsigned char c = (unsigned char)*s;
		if (!c)
			break;
		if (c == '\\')
			sb_put(b, "\\\\", 2);
		else if (c == '\n')
			sb_put(b, "\\n", 2);
		else if (c == '"')
			sb_put(b, "\\\"", 2);
		else
			sb_put(b, "?", 1); /* ASCII only: label values from bundles can hold anything */
		s++;
	}
}

static void header(struct om *o, enum metric_id m)
{
	if (o->cur == (int)m)
		return;
	o->cur = (int)m;
	const struct metric_def *d = metric_def(m);
	char fam[160];
	family(o, d, fam, sizeof(fam));
	sb_printf(&o->b, "# HELP %s ", fam);
	escaped(&o->b, d->help, false);
	sb_puts(&o->b, "\n");
	const char *type = d->type == MT_COUNTER ? "counter"
			   : d->type == MT_HISTOGRAM ? "histogram"
			   : d->type == MT_INFO && o->fmt == OM_OPENMETRICS_100 ? "info"
										: "gauge";
	sb_printf(&o->b, "# TYPE %s %s\n", fam, type);
	const char *u = unit_name(d->unit);
	size_t fl = strlen(fam), ul = strlen(u);
	if (o->fmt == OM_OPENMETRICS_100 && ul && fl > ul + 1 && fam[fl - ul - 1] == '_' && !strcmp(fam + fl - ul, u))
		sb_printf(&o->b, "# UNIT %s %s\n", fam, u);
}

static void put_u64(struct strbuf *b, uint64_t v)
{
	char buf[24], *p = buf + sizeof(buf);
	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	sb_put(b, p, (size_t)(buf + sizeof(buf) - p));
}

/* Whole numbers (counts, bytes, most counters) without printf: every
 * snapshot formats hundreds of them. */
static void value(struct strbuf *b, double v)
{
	if (isnan(v)) {
		sb_puts(b, "NaN");
	} else if (isinf(v)) {
		sb_puts(b, v > 0 ? "+Inf" : "-Inf");
	} else if (v == floor(v) && fabs(v) < 1e15) {
		if (v < 0)
			sb_put(b, "-", 1);
		put_u64(b, (uint64_t)fabs(v));
	} else {
		sb_printf(b, "%.15g", v);
	}
}

struct kv {
	const char *k, *v;
};

static void sample(struct om *o, const char *name, const char *suffix, const struct kv *l, unsigned nl,
		   const char *le, double v)
{
	sb_puts(&o->b, name);
	sb_puts(&o->b, suffix);
	if (nl || le) {
		sb_put(&o->b, "{", 1);
		for (unsigned i = 0; i < nl; i++) {
			if (i)
				sb_put(&o->b, ",", 1);
			sb_puts(&o->b, l[i].k);
			sb_put(&o->b, "=\"", 2);
			escaped(&o->b, l[i].v, true);
			sb_put(&o->b, "\"", 1);
		}
		if (le) {
			sb_puts(&o->b, nl ? ",le=\"" : "le=\"");
			sb_puts(&o->b, le);
			sb_put(&o->b, "\"", 1);
		}
		sb_put(&o->b, "}", 1);
	}
	sb_put(&o->b, " ", 1);
	value(&o->b, v);
	sb_put(&o->b, "\n", 1);
}

static void point(const struct series_point *p, void *arg)
{
	struct om *o = arg;
	const struct metric_def *d = metric_def(p->id);
	header(o, p->id);
	struct kv l[SERIES_MAX_LABELS];
	for (unsigned i = 0; i < p->nlabels; i++)
		l[i] = (struct kv){ label_name(p->labels[i].key), p->labels[i].value };
	if (d->type != MT_HISTOGRAM) {
		sample(o, d->prom, "", l, p->nlabels, NULL, p->value);
		return;
	}
	if (p->nbuckets != o->nle || memcmp(p->le, o->le, p->nbuckets * sizeof(double)) != 0) {
		for (size_t k = 0; k < p->nbuckets; k++)
			snprintf(o->le_txt[k], sizeof(o->le_txt[k]), "%.9g", p->le[k]);
		memcpy(o->le, p->le, p->nbuckets * sizeof(double));
		o->nle = p->nbuckets;
	}
	for (size_t k = 0; k < p->nbuckets; k++)
		sample(o, d->prom, "_bucket", l, p->nlabels, o->le_txt[k], (double)p->bucket[k]);
	sample(o, d->prom, "_bucket", l, p->nlabels, "+Inf", (double)p->count);
	sample(o, d->prom, "_sum", l, p->nlabels, NULL, p->sum);
	sample(o, d->prom, "_count", l, p->nlabels, NULL, (double)p->count);
}

/* Evidence labels that are fit for a time series: bounded sets, stable values. */
static bool exportable(enum label_id k)
{
	switch (k) {
	case LBL_TASK: case LBL_PROCESS: case LBL_KIND: case LBL_MESSAGE: case LBL_REASON: case LBL_WHERE:
	case LBL_STAT: case LBL_RPS_CPUS: case LBL_XPS_CPUS: case LBL_UUID: case LBL_PID:
		return false;
	default:
		return true;
	}
}

static int cmp_ev(const void *x, const void *y)
{
	const struct evidence *a = *(const struct evidence *const *)x, *b = *(const struct evidence *const *)y;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return a < b ? -1 : a > b;
}

static bool same_labels(const struct evidence *a, const struct evidence *b)
{
	if (a->nlabels != b->nlabels)
		return false;
	for (unsigned i = 0; i < a->nlabels; i++)
		if (a->labels[i].key != b->labels[i].key || strcmp(a->labels[i].value, b->labels[i].value))
			return false;
	return true;
}

static void evidence(struct om *o, const struct findings *fs)
{
	size_t n = 0;
	for (size_t i = 0; i < fs->n; i++)
		n += fs->v[i].nev;
	const struct evidence **v = xcalloc(n + 1, sizeof(*v));
	size_t k = 0;
	for (size_t i = 0; i < fs->n; i++)
		for (size_t j = 0; j < fs->v[i].nev; j++) {
			const struct evidence *e = &fs->v[i].ev[j];
			if (metric_def(e->id)->scope == MS_SAMPLE || !isfinite(e->value))
				continue;
			bool ok = true;
			for (unsigned l = 0; l < e->nlabels; l++)
				ok &= exportable(e->labels[l].key);
			if (ok)
				v[k++] = e;
		}
	qsort(v, k, sizeof(*v), cmp_ev);
	for (size_t i = 0; i < k; i++) {
		bool dup = false;
		for (size_t j = i; j-- > 0 && v[j]->id == v[i]->id;)
			if (same_labels(v[j], v[i]))
				dup = true;
		if (dup)
			continue;
		const struct metric_def *d = metric_def(v[i]->id);
		header(o, v[i]->id);
		struct kv l[EV_MAX_LABELS];
		for (unsigned j = 0; j < v[i]->nlabels; j++)
			l[j] = (struct kv){ label_name(v[i]->labels[j].key), v[i]->labels[j].value };
		sample(o, d->prom, "", l, v[i]->nlabels, NULL, v[i]->value / d->scale);
	}
	free(v);
}

static void self_metrics(struct om *o, struct engine *e, const struct om_self *s)
{
	header(o, M_BUILD_INFO);
	struct kv bi[2] = { { "version", HQ_VERSION }, { "features", s && s->features ? s->features : "" } };
	sample(o, metric_def(M_BUILD_INFO)->prom, "", bi, 2, NULL, 1);
	header(o, M_ENGINE_STATE_BYTES);
	sample(o, metric_def(M_ENGINE_STATE_BYTES)->prom, "", NULL, 0, NULL, (double)engine_state_bytes(e));
	if (!s)
		return;
	header(o, M_SAMPLE_CPU_SECONDS_TOTAL);
	sample(o, metric_def(M_SAMPLE_CPU_SECONDS_TOTAL)->prom, "", NULL, 0, NULL, s->sample_cpu_s);
	header(o, M_SAMPLE_LAST_SECONDS);
	sample(o, metric_def(M_SAMPLE_LAST_SECONDS)->prom, "", NULL, 0, NULL, s->sample_last_s);
	if (s->have_sources) {
		header(o, M_SOURCE_SECONDS_TOTAL);
		for (int i = 0; i < SRC_COUNT; i++) {
			if (!s->source_runs[i])
				continue;
			struct kv l = { "source", source_defs[i].name };
			sample(o, metric_def(M_SOURCE_SECONDS_TOTAL)->prom, "", &l, 1, NULL, s->source_cpu_s[i]);
		}
	}
	header(o, M_SCRAPES_TOTAL);
	static const char *const codes[] = { "200", "4xx", "5xx", "other" };
	for (int i = 0; i < 4; i++) {
		struct kv c = { "code", codes[i] };
		sample(o, metric_def(M_SCRAPES_TOTAL)->prom, "", &c, 1, NULL, (double)s->scrapes[i]);
	}
	header(o, M_SCRAPE_CPU_SECONDS_TOTAL);
	sample(o, metric_def(M_SCRAPE_CPU_SECONDS_TOTAL)->prom, "", NULL, 0, NULL, s->scrape_cpu_s);
	if (s->rss_bytes > 0) {
		header(o, M_RESIDENT_BYTES);
		sample(o, metric_def(M_RESIDENT_BYTES)->prom, "", NULL, 0, NULL, s->rss_bytes);
	}
}

char *om_render(struct engine *e, const struct findings *fs, const struct om_self *self, enum om_format fmt,
		size_t *len)
{
	struct om o = { .fmt = fmt, .cur = -1 };
	engine_series(e, point, &o);
	if (fs && fs->n) {
		header(&o, M_FINDING_SEVERITY);
		for (size_t i = 0; i < fs->n; i++) {
			const struct finding *f = &fs->v[i];
			char fm[8];
			if (f->failure_mode)
				snprintf(fm, sizeof(fm), "%d", f->failure_mode);
			else
				snprintf(fm, sizeof(fm), "none");
			struct kv l[3] = { { "id", f->id }, { "layer", f->layer }, { "failure_mode", fm } };
			double v = f->sev == SEV_OK ? 0 : f->sev == SEV_WARN ? 1 : f->sev == SEV_CRIT ? 2 : -1;
			sample(&o, metric_def(M_FINDING_SEVERITY)->prom, "", l, 3, NULL, v);
		}
		evidence(&o, fs);
	}
	self_metrics(&o, e, self);
	if (fmt == OM_OPENMETRICS_100)
		sb_puts(&o.b, "# EOF\n");
	return sb_take(&o.b, len);
}

/*
 * The text 0.0.4 exposition of an OpenMetrics body that om_render made, line
 * by line: the samples are the same bytes; HELP and TYPE name the sample
 * name again (counters with _total, info metrics with _info and typed
 * gauge), UNIT and # EOF go.  om_render writes HELP then TYPE then UNIT for
 * each family, so a HELP line waits for its TYPE.
 */
static void line(struct strbuf *b, const char *from, const char *to)
{
	sb_put(b, from, (size_t)(to - from));
	sb_put(b, "\n", 1);
}

char *om_text_from_openmetrics(const char *om, size_t len, size_t *out_len)
{
	struct strbuf b = { 0 };
	const char *help = NULL, *help_end = NULL; /* a HELP line waiting for its TYPE */
	size_t help_fam = 0;
	for (const char *p = om, *end = om + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		size_t n = (size_t)(le - p);
		if (n >= 7 && !memcmp(p, "# HELP ", 7)) {
			if (help)
				line(&b, help, help_end);
			help = p;
			help_end = le;
			const char *sp = memchr(p + 7, ' ', n - 7);
			help_fam = (size_t)((sp ? sp : le) - (p + 7));
		} else if (n >= 7 && !memcmp(p, "# TYPE ", 7)) {
			const char *fam = p + 7;
			const char *sp = memchr(fam, ' ', n - 7);
			size_t fl = (size_t)((sp ? sp : le) - fam);
			const char *type = sp ? sp + 1 : le;
			size_t tl = (size_t)(le - type);
			const char *suffix = tl == 7 && !memcmp(type, "counter", 7) ? "_total"
					     : tl == 4 && !memcmp(type, "info", 4) ? "_info" : "";
			if (help && help_fam == fl && !memcmp(help + 7, fam, fl)) {
				sb_put(&b, "# HELP ", 7);
				sb_put(&b, fam, fl);
				sb_puts(&b, suffix);
				sb_put(&b, help + 7 + fl, (size_t)(help_end - (help + 7 + fl)));
				sb_put(&b, "\n", 1);
			} else if (help) {
				line(&b, help, help_end);
			}
			help = NULL;
			sb_put(&b, "# TYPE ", 7);
			sb_put(&b, fam, fl);
			sb_puts(&b, suffix);
			sb_put(&b, " ", 1);
			if (*suffix == '_' && suffix[1] == 'i')
				sb_puts(&b, "gauge");
			else
				sb_put(&b, type, tl);
			sb_put(&b, "\n", 1);
		} else if ((n >= 7 && !memcmp(p, "# UNIT ", 7)) || (n == 5 && !memcmp(p, "# EOF", 5))) {
			/* OpenMetrics only */
		} else {
			if (help) {
				line(&b, help, help_end);
				help = NULL;
			}
			line(&b, p, le);
		}
		p = nl ? nl + 1 : end;
	}
	if (help)
		line(&b, help, help_end);
	return sb_take(&b, out_len);
}

