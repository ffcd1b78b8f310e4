/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The model behind `hiddenq top` (top.h): frames taken from the engine,
 * the last few kept, and every table of top.def computed from them once per
 * frame, so that drawing (on a key, a resize) costs no arithmetic.
 *
 * Divisions: the table resolved; frames; the view (rows, sparklines,
 * sorting); formatting; the plain and JSON blocks.
 */
#include "top.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../core/json.h"
#include "../core/util.h"
#include "../engine/series.h"
#include "watch.h"

/* ---------------- the table, resolved ---------------- */

enum item_kind { IK_PANEL, IK_TABLE, IK_COL };

struct item {
	enum item_kind kind;
	char key;
	const char *a, *b, *c;	/* panel: name, title, rules; table: caption; col: json, header, filter */
	uint64_t labels;
	unsigned flags;
	struct top_col col;
};

static const struct item items[] = {
#define PANEL(k, name, title, rules) { .kind = IK_PANEL, .key = (k), .a = (name), .b = (title), .c = (rules) },
#define TABLE(labels_, caption, flags_) { .kind = IK_TABLE, .a = (caption), .labels = (labels_), .flags = (flags_) },
#define COL(json_, header_, metric_, filter_, tx_, den_, den_filter_, thresh_, unit_, scale_, flags_)              \
	{ .kind = IK_COL,                                                                                          \
	  .col = { .json = (json_), .header = (header_), .metric = (metric_), .filter = (filter_), .tx = (tx_),   \
		   .den = (enum metric_id)(den_), .den_filter = (den_filter_), .thresh = (thresh_), .unit = (unit_), \
		   .scale = (scale_), .flags = (flags_) } },
#include "top.def"
#undef PANEL
#undef TABLE
#undef COL
};

#define MAX_PANELS 16
static struct top_panel panels[MAX_PANELS];
static size_t npanels;
static bool used[M_COUNT];	/* metrics some column reads */

/* The unit a column's values are shown in, from the catalog unless top.def says. */
static void resolve_unit(struct top_col *c)
{
	if (c->unit)
		return;
	const struct metric_def *d = metric_def(c->metric);
	if (c->tx != TX_RATE) {
		c->unit = d->display;
		c->scale = d->scale;
		return;
	}
	if (d->unit == U_SECONDS) { /* seconds per second: a share of the time */
		c->unit = "%";
		c->scale = 100;
		return;
	}
	static char units[64][24];
	static size_t nunits;
	for (size_t i = 0; i < nunits; i++)
		if (!strncmp(units[i], d->display, strlen(d->display)) && !strcmp(units[i] + strlen(d->display), "/s")) {
			c->unit = units[i];
			c->scale = d->scale;
			return;
		}
	if (ALWAYS(nunits < ARRAY_SIZE(units)))
		snprintf(units[nunits], sizeof(units[nunits]), "%s/s", d->display);
	c->unit = units[nunits < ARRAY_SIZE(units) ? nunits++ : 0];
	c->scale = d->scale;
}

const struct top_panel *top_panels(size_t *n)
{
	if (!npanels) {
		struct top_panel *p = NULL;
		struct top_table *t = NULL;
		for (size_t i = 0; i < ARRAY_SIZE(items); i++) {
			const struct item *it = &items[i];
			switch (it->kind) {
			case IK_PANEL:
				if (NEVER(npanels >= MAX_PANELS))
					break;
				p = &panels[npanels++];
				p->key = it->key;
				p->name = it->a;
				p->title = it->b;
				p->rules = it->c;
				p->findings = !strcmp(it->a, "Findings");
				t = NULL;
				break;
			case IK_TABLE:
				if (NEVER(!p || p->ntables >= TOP_MAX_TABLES))
					break;
				t = &p->tables[p->ntables++];
				t->labels = it->labels;
				t->caption = it->a;
				t->flags = it->flags;
				break;
			case IK_COL:
				if (NEVER(!t || t->ncols >= TOP_MAX_COLS))
					break;
				t->cols[t->ncols] = it->col;
				resolve_unit(&t->cols[t->ncols]);
				used[it->col.metric] = true;
				if (it->col.tx == TX_RATIO)
					used[it->col.den] = true;
				t->ncols++;
				break;
			}
		}
	}
	*n = npanels;
	return panels;
}

int top_panel_sort_table(size_t p)
{
	size_t n;
	const struct top_panel *ps = top_panels(&n);
	if (p >= n)
		return -1;
	for (size_t t = 0; t < ps[p].ntables; t++)
		if (!(ps[p].tables[t].flags & TF_PAIRS) && ps[p].tables[t].ncols)
			return (int)t;
	return -1;
}

/* ---------------- frames ---------------- */

struct point {
	enum metric_id id;
	unsigned nlabels;
	enum label_id key[SERIES_MAX_LABELS];
	char *val[SERIES_MAX_LABELS];
	char *canon;		/* "key=value" joined by \x1f: the series' identity within its metric */
	double value;
	size_t nb;		/* histograms */
	double *le;
	uint64_t *bucket;
	uint64_t count;
};

struct top_frame {
	uint64_t mono_ns, real_ns;
	struct point *p;
	size_t n, cap;
	bool have_findings;
	struct top_finding *f;
	size_t nf;
};

static void collect(const struct series_point *sp, void *arg)
{
	struct top_frame *f = arg;
	if (!used[sp->id])
		return;
	xgrow((void **)&f->p, sizeof(*f->p), &f->cap, f->n);
	struct point *p = &f->p[f->n++];
	memset(p, 0, sizeof(*p));
	p->id = sp->id;
	struct strbuf b = { 0 };
	for (unsigned i = 0; i < sp->nlabels && i < SERIES_MAX_LABELS; i++) {
		p->key[i] = sp->labels[i].key;
		p->val[i] = xstrdup(sp->labels[i].value ? sp->labels[i].value : "");
		sb_printf(&b, "%s%s=%s", i ? "\x1f" : "", label_name(p->key[i]), p->val[i]);
		p->nlabels++;
	}
	p->canon = sb_take(&b, NULL);
	p->value = sp->value;
	if (metric_def(sp->id)->type == MT_HISTOGRAM) {
		p->nb = sp->nbuckets;
		p->le = xmemdup(sp->le, sizeof(double) * (p->nb ? p->nb : 1));
		p->bucket = xmemdup(sp->bucket, sizeof(uint64_t) * (p->nb ? p->nb : 1));
		p->count = sp->count;
	}
}

static int cmp_point(const void *a, const void *b)
{
	const struct point *x = a, *y = b;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return strcmp(x->canon, y->canon);
}

static int sev_rank(enum severity s)
{
	return s == SEV_CRIT ? 3 : s == SEV_WARN ? 2 : s == SEV_UNKNOWN ? 1 : 0;
}

static int cmp_finding(const void *a, const void *b)
{
	const struct top_finding *x = a, *y = b;
	return sev_rank(y->sev) - sev_rank(x->sev);
}

struct top_frame *top_frame_new(struct engine *e, uint64_t mono_ns, uint64_t real_ns, bool findings)
{
	size_t np;
	top_panels(&np);
	struct top_frame *f = xcalloc(1, sizeof(*f));
	f->mono_ns = mono_ns;
	f->real_ns = real_ns;
	engine_series(e, collect, f);
	if (f->n)
		qsort(f->p, f->n, sizeof(*f->p), cmp_point);
	if (findings) {
		struct findings fs = { 0 };
		engine_evaluate(e, &fs);
		engine_release(e);
		f->have_findings = true;
		f->f = xcalloc(fs.n ? fs.n : 1, sizeof(*f->f));
		for (size_t i = 0; i < fs.n; i++) {
			f->f[i].id = xstrdup(fs.v[i].id);
			f->f[i].label = xstrdup(fs.v[i].label ? fs.v[i].label : fs.v[i].id);
			f->f[i].title = xstrdup(fs.v[i].title ? fs.v[i].title : "");
			f->f[i].sev = fs.v[i].sev;
		}
		f->nf = fs.n;
		/* worst first; rules.def order among equals (a stable insertion sort: a dozen rows) */
		for (size_t i = 1; i < f->nf; i++)
			for (size_t j = i; j > 0 && cmp_finding(&f->f[j - 1], &f->f[j]) > 0; j--) {
				struct top_finding t = f->f[j];
				f->f[j] = f->f[j - 1];
				f->f[j - 1] = t;
			}
		findings_done(&fs);
	}
	return f;
}

void top_frame_free(struct top_frame *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++) {
		for (unsigned k = 0; k < f->p[i].nlabels; k++)
			free(f->p[i].val[k]);
		free(f->p[i].canon);
		free(f->p[i].le);
		free(f->p[i].bucket);
	}
	free(f->p);
	for (size_t i = 0; i < f->nf; i++) {
		free(f->f[i].id);
		free(f->f[i].label);
		free(f->f[i].title);
	}
	free(f->f);
	free(f);
}

uint64_t top_frame_real_ns(const struct top_frame *f)
{
	return f->real_ns;
}

/* The points of metric m: [*lo, *hi). */
static void metric_range(const struct top_frame *f, enum metric_id m, size_t *lo, size_t *hi)
{
	size_t a = 0, b = f->n;
	while (a < b) {
		size_t mid = (a + b) / 2;
		if (f->p[mid].id < m)
			a = mid + 1;
		else
			b = mid;
	}
	*lo = a;
	b = f->n;
	while (a < b) {
		size_t mid = (a + b) / 2;
		if (f->p[mid].id <= m)
			a = mid + 1;
		else
			b = mid;
	}
	*hi = a;
}

static const struct point *find_point(const struct top_frame *f, const struct point *like)
{
	if (!f->n)
		return NULL;
	const struct point *r = bsearch(like, f->p, f->n, sizeof(*f->p), cmp_point);
	return r;
}

static const char *point_label(const struct point *p, enum label_id l)
{
	for (unsigned i = 0; i < p->nlabels; i++)
		if (p->key[i] == l)
			return p->val[i];
	return NULL;
}

/* "resource=cpu,kind=some|full": every named label present with one of the values. */
static bool filter_match(const char *filter, const struct point *p)
{
	if (!filter || !*filter)
		return true;
	const char *s = filter;
	while (*s) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		const char *eq = memchr(s, '=', len);
		if (NEVER(!eq))
			return false;
		char name[32];
		snprintf(name, sizeof(name), "%.*s", (int)(eq - s), s);
		const char *have = point_label(p, label_by_name(name));
		if (!have)
			return false;
		bool any = false;
		const char *v = eq + 1, *end = s + len;
		while (v <= end && !any) {
			const char *bar = memchr(v, '|', (size_t)(end - v));
			size_t vl = bar ? (size_t)(bar - v) : (size_t)(end - v);
			any = strlen(have) == vl && !strncmp(have, v, vl);
			if (!bar)
				break;
			v = bar + 1;
		}
		if (!any)
			return false;
		s += len + (comma ? 1 : 0);
	}
	return true;
}

/* ---------------- the view ---------------- */

#define MAX_FRAMES 64
#define MAX_SPARKS 1024

struct spark {
	size_t p, t;
	char *row;		/* the row's identity (label values) */
	double *v;		/* oldest first */
	size_t n;
	unsigned long touched;	/* frame count when last given a point */
};

struct sortstate {
	int col;
	bool reverse;
};

/* Rows of a TF_HIDE_IDLE table that have shown something other than zero. */
struct active {
	char **id;
	size_t n, cap;
};

#define MAX_ACTIVE 4096

struct top_view {
	struct top_view_opts o;
	struct active *active;		/* [panel * TOP_MAX_TABLES + table] */
	struct top_frame *fr[MAX_FRAMES];	/* oldest first */
	size_t nfr;
	unsigned long frames;
	struct top_frame *findings;	/* the newest frame with findings (owned when not in fr[]) */
	bool findings_owned;
	struct top_rows *rows;		/* [panel * TOP_MAX_TABLES + table] */
	char **rowid;			/* the identity of each row, parallel to rows (for sparklines) */
	struct sortstate *sort;
	struct spark *sp;
	size_t nsp, capsp;
};

struct top_view *top_view_new(const struct top_view_opts *o)
{
	size_t np;
	top_panels(&np);
	struct top_view *v = xcalloc(1, sizeof(*v));
	v->o = *o;
	if (!v->o.slow_ns)
		v->o.slow_ns = 5000000000ull;
	if (!v->o.history)
		v->o.history = 120;
	v->rows = xcalloc(np * TOP_MAX_TABLES, sizeof(*v->rows));
	v->active = xcalloc(np * TOP_MAX_TABLES, sizeof(*v->active));
	v->sort = xcalloc(np, sizeof(*v->sort));
	for (size_t p = 0; p < np; p++)
		v->sort[p].col = -1;
	return v;
}

static size_t np_of(void)
{
	size_t np;
	top_panels(&np);
	return np * TOP_MAX_TABLES;
}

/* Whether a TF_HIDE_IDLE row has shown anything but zeros (remembered once it has). */
static bool row_active(struct active *a, const char *id, const struct top_row *row, size_t ncols)
{
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->id[i], id))
			return true;
	bool now = false;
	for (size_t c = 0; c < ncols && !now; c++)
		now = row->c[c].have && row->c[c].v != 0;
	if (!now)
		return a->n >= MAX_ACTIVE; /* past the bound every row is shown */
	if (a->n < MAX_ACTIVE) {
		xgrow((void **)&a->id, sizeof(*a->id), &a->cap, a->n);
		a->id[a->n++] = xstrdup(id);
	}
	return true;
}

static void rows_free(struct top_rows *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].key);
		free(r->v[i].json_labels);
	}
	free(r->v);
	r->v = NULL;
	r->n = 0;
	r->idle = 0;
}

static void sparks_free(struct top_view *v)
{
	for (size_t i = 0; i < v->nsp; i++) {
		free(v->sp[i].row);
		free(v->sp[i].v);
	}
	v->nsp = 0;
}

void top_view_clear(struct top_view *v)
{
	size_t np;
	top_panels(&np);
	if (v->findings_owned)
		top_frame_free(v->findings);
	v->findings = NULL;
	v->findings_owned = false;
	for (size_t i = 0; i < v->nfr; i++)
		top_frame_free(v->fr[i]);
	v->nfr = 0;
	v->frames = 0;
	for (size_t i = 0; i < np * TOP_MAX_TABLES; i++) {
		rows_free(&v->rows[i]);
		for (size_t k = 0; k < v->active[i].n; k++)
			free(v->active[i].id[k]);
		v->active[i].n = 0;
	}
	sparks_free(v);
}

void top_view_free(struct top_view *v)
{
	if (!v)
		return;
	top_view_clear(v);
	free(v->rows);
	for (size_t i = 0; i < np_of(); i++)
		free(v->active[i].id);
	free(v->active);
	free(v->sort);
	free(v->sp);
	free(v);
}

unsigned long top_view_frames(const struct top_view *v)
{
	return v->frames;
}

uint64_t top_view_real_ns(const struct top_view *v)
{
	return v->nfr ? v->fr[v->nfr - 1]->real_ns : 0;
}

uint64_t top_view_mono_ns(const struct top_view *v)
{
	return v->nfr ? v->fr[v->nfr - 1]->mono_ns : 0;
}

/* How far back a column's rate looks: a second, or a slow source's tick. */
static uint64_t lookback_ns(const struct top_view *v, enum metric_id m)
{
	return source_defs[metric_def(m)->source].tick == TICK_SLOW ? v->o.slow_ns : 1000000000ull;
}

/*
 * The frame a rate over `look` starts from: the newest at least (nearly)
 * `look` older than the newest frame, else the oldest there is; NULL with a
 * single frame.  Samples a few percent early still count as a second ago.
 */
static const struct top_frame *base_frame(const struct top_view *v, uint64_t look)
{
	if (v->nfr < 2)
		return NULL;
	uint64_t now = v->fr[v->nfr - 1]->mono_ns, want = look - look / 20;
	for (size_t i = v->nfr - 1; i-- > 0;)
		if (now - v->fr[i]->mono_ns >= want)
			return v->fr[i];
	return v->fr[0];
}

/* A histogram's increase summed over the points of one cell. */
struct hacc {
	size_t nb;
	double le[SERIES_MAX_BUCKETS];
	uint64_t hb[SERIES_MAX_BUCKETS];
	uint64_t hcount;
	bool have, bad;
};

/* The sums behind one cell (h only for the quantile columns). */
struct acc {
	double num, den;
	bool have_num, have_den;
	struct hacc *h;
};

/* Add point p of the newest frame to a: its value, its rate against `base`, or its histogram's increase. */
static void acc_add(struct acc *a, const struct point *p, const struct top_frame *base, enum top_tx tx, bool den,
		    double dt_s)
{
	if (tx == TX_VALUE) {
		a->num += p->value;
		a->have_num = true;
		return;
	}
	if (!base || dt_s <= 0)
		return;
	const struct point *q = find_point(base, p);
	if (!q)
		return;
	if (tx == TX_RATE || tx == TX_RATIO) {
		if (p->value < q->value) /* a reset: this point has no rate */
			return;
		double r = (p->value - q->value) / dt_s;
		if (den) {
			a->den += r;
			a->have_den = true;
		} else {
			a->num += r;
			a->have_num = true;
		}
		return;
	}
	/* a histogram's increase; buckets must line up across points and frames */
	if (!a->h)
		a->h = xcalloc(1, sizeof(*a->h));
	struct hacc *h = a->h;
	if (p->count < q->count) /* a reset (the program reloaded): no increase to read */
		return;
	if (p->nb != q->nb || p->nb > SERIES_MAX_BUCKETS || (h->have && h->nb != p->nb)) {
		h->bad = true;
		return;
	}
	for (size_t k = 0; k < p->nb; k++) {
		if (p->bucket[k] < q->bucket[k] || p->le[k] != q->le[k] || (h->have && h->le[k] != p->le[k])) {
			h->bad = true;
			return;
		}
	}
	h->nb = p->nb;
	for (size_t k = 0; k < p->nb; k++) {
		h->le[k] = p->le[k];
		h->hb[k] += p->bucket[k] - q->bucket[k];
	}
	h->hcount += p->count - q->count;
	h->have = true;
}

/* Prometheus' histogram_quantile on cumulative buckets: linear within the bucket. */
static bool hist_quantile(const struct hacc *a, double q, double *out)
{
	if (!a || !a->have || a->bad || a->hcount == 0 || a->nb == 0)
		return false;
	double rank = q * (double)a->hcount;
	uint64_t prev = 0;
	for (size_t k = 0; k < a->nb; k++) {
		if ((double)a->hb[k] >= rank) {
			double lo = k ? a->le[k - 1] : 0, hi = a->le[k];
			uint64_t in = a->hb[k] - prev;
			*out = in ? lo + (hi - lo) * (rank - (double)prev) / (double)in : hi;
			return true;
		}
		prev = a->hb[k];
	}
	*out = a->le[a->nb - 1]; /* in +Inf: the highest finite bound, as Prometheus does */
	return true;
}

static int cell_sev(int thresh, double v)
{
	if (thresh < 0 || thresh >= T_COUNT)
		return -1;
	const struct threshold *t = &thresholds[thresh];
	if (t->crit >= 0 && v >= t->crit)
		return SEV_CRIT;
	if (t->warn >= 0 && v >= t->warn)
		return SEV_WARN;
	return SEV_OK;
}

/* Render a row's labels for people: the catalog's subject formats ("vCPU %s"), "cpu%s" for CPUs. */
static char *row_key(uint64_t labels, const struct point *p)
{
	struct strbuf b = { 0 };
	for (int l = 0; l < LBL_COUNT; l++) {
		if (!(labels & (UINT64_C(1) << l)))
			continue;
		const char *val = point_label(p, (enum label_id)l);
		const char *fmt = label_subject_fmt((enum label_id)l);
		if (!fmt) {
			sb_printf(&b, "%s%s%s", b.len ? " " : "", label_name((enum label_id)l), val);
			continue;
		}
		if (!b.len && *fmt == ' ')
			fmt++;
		/* a prefix, the value where %s is, a suffix (catalog.h) */
		const char *hole = strstr(fmt, "%s");
		sb_put(&b, fmt, hole ? (size_t)(hole - fmt) : strlen(fmt));
		sb_puts(&b, val ? val : "");
		if (hole)
			sb_puts(&b, hole + 2);
	}
	return sb_take(&b, NULL);
}

static char *row_json(uint64_t labels, const struct point *p)
{
	json_t *o = json_object();
	for (int l = 0; l < LBL_COUNT; l++)
		if (labels & (UINT64_C(1) << l))
			json_object_set_new(o, label_name((enum label_id)l), jstr(point_label(p, (enum label_id)l)));
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s ? s : xstrdup("{}");
}

/* The identity of p's row: its values of the row labels; NULL if it lacks one. */
static char *row_id(uint64_t labels, const struct point *p)
{
	struct strbuf b = { 0 };
	sb_puts(&b, "");
	for (int l = 0; l < LBL_COUNT; l++) {
		if (!(labels & (UINT64_C(1) << l)))
			continue;
		const char *val = point_label(p, (enum label_id)l);
		if (!val) {
			sb_done(&b);
			return NULL;
		}
		sb_printf(&b, "%s\x1f", val);
	}
	return sb_take(&b, NULL);
}

struct build {
	struct top_row *rows;
	char **ids;
	struct acc *acc;	/* [row * TOP_MAX_COLS + col] */
	size_t n, caprows, capids, capacc;
	size_t hint;		/* the row after the last one found: columns list rows in the same order */
};

/* The row with identity id, or SIZE_MAX. */
static size_t build_find(struct build *b, const char *id)
{
	if (b->hint < b->n && !strcmp(b->ids[b->hint], id))
		return b->hint++;
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->ids[i], id)) {
			b->hint = i + 1;
			return i;
		}
	return SIZE_MAX;
}

static size_t build_row(struct build *b, const struct top_table *t, const struct point *p, const char *id)
{
	size_t r = build_find(b, id);
	if (r != SIZE_MAX)
		return r;
	xgrow((void **)&b->rows, sizeof(*b->rows), &b->caprows, b->n);
	xgrow((void **)&b->ids, sizeof(*b->ids), &b->capids, b->n);
	xgrow((void **)&b->acc, sizeof(*b->acc) * TOP_MAX_COLS, &b->capacc, b->n);
	memset(&b->rows[b->n], 0, sizeof(b->rows[b->n]));
	memset(&b->acc[b->n * TOP_MAX_COLS], 0, sizeof(*b->acc) * TOP_MAX_COLS);
	b->rows[b->n].key = t->labels ? row_key(t->labels, p) : xstrdup("");
	b->rows[b->n].json_labels = row_json(t->labels, p);
	b->ids[b->n] = xstrdup(id);
	return b->n++;
}

/* Feed the points of metric m that match filter into column c's sums (den: its denominator). */
static void build_metric(struct build *b, const struct top_view *v, const struct top_table *t, size_t c,
			 enum metric_id m, const char *filter, bool den, bool create)
{
	const struct top_col *col = &t->cols[c];
	const struct top_frame *now = v->fr[v->nfr - 1];
	const struct top_frame *base = col->tx == TX_VALUE ? NULL : base_frame(v, lookback_ns(v, m));
	double dt = base ? (double)(now->mono_ns - base->mono_ns) / 1e9 : 0;
	size_t lo, hi;
	metric_range(now, m, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		const struct point *p = &now->p[i];
		if (!filter_match(filter, p))
			continue;
		char *id = row_id(t->labels, p);
		if (!id)
			continue;
		size_t r = create ? build_row(b, t, p, id) : build_find(b, id);
		free(id);
		if (r == SIZE_MAX)
			continue;
		acc_add(&b->acc[r * TOP_MAX_COLS + c], p, base, col->tx, den, dt);
	}
}

static struct spark *spark_for(struct top_view *v, size_t p, size_t t, const char *id)
{
	for (size_t i = 0; i < v->nsp; i++)
		if (v->sp[i].p == p && v->sp[i].t == t && !strcmp(v->sp[i].row, id))
			return &v->sp[i];
	if (v->nsp >= MAX_SPARKS)
		return NULL;
	xgrow((void **)&v->sp, sizeof(*v->sp), &v->capsp, v->nsp);
	struct spark *s = &v->sp[v->nsp++];
	memset(s, 0, sizeof(*s));
	s->p = p;
	s->t = t;
	s->row = xstrdup(id);
	s->v = xcalloc(v->o.history, sizeof(double));
	return s;
}

static void spark_add(const struct top_view *v, struct spark *s, double x)
{
	if (s->n == v->o.history) {
		memmove(s->v, s->v + 1, sizeof(double) * (s->n - 1));
		s->n--;
	}
	s->v[s->n++] = x;
	s->touched = v->frames;
}

static int cmp_rows(const void *a, const void *b, void *arg)
{
	const struct top_row *x = a, *y = b;
	const struct sortstate *ss = arg;
	int r = 0;
	int c = ss->col;
	if (c >= 0) {
		bool hx = x->c[c].have, hy = y->c[c].have;
		if (hx != hy)
			return hx ? -1 : 1; /* rows without a value last, whatever the direction */
		if (hx && x->c[c].v != y->c[c].v)
			r = x->c[c].v > y->c[c].v ? -1 : 1;
	}
	if (!r)
		r = strverscmp(x->key, y->key); /* "cpu2" before "cpu10" */
	return ss->reverse ? -r : r;
}

static void sort_table(struct top_view *v, size_t p)
{
	int t = top_panel_sort_table(p);
	if (t < 0)
		return;
	struct top_rows *rs = &v->rows[p * TOP_MAX_TABLES + (size_t)t];
	if (rs->n > 1)
		qsort_r(rs->v, rs->n, sizeof(*rs->v), cmp_rows, &v->sort[p]);
}

static int cmp_rows_natural(const void *a, const void *b)
{
	return strverscmp(((const struct top_row *)a)->key, ((const struct top_row *)b)->key);
}

/* Compute table t of panel p from the frames. */
static void compute_table(struct top_view *v, size_t p, size_t t)
{
	size_t np;
	const struct top_table *tb = &top_panels(&np)[p].tables[t];
	struct top_rows *out = &v->rows[p * TOP_MAX_TABLES + t];
	rows_free(out);
	struct build b = { 0 };
	for (size_t c = 0; c < tb->ncols; c++) {
		b.hint = 0;
		build_metric(&b, v, tb, c, tb->cols[c].metric, tb->cols[c].filter, false, true);
		b.hint = 0;
		if (tb->cols[c].tx == TX_RATIO)
			build_metric(&b, v, tb, c, tb->cols[c].den, tb->cols[c].den_filter, true, false);
	}
	int spark_col = -1;
	for (size_t c = 0; c < tb->ncols && spark_col < 0; c++)
		if (tb->cols[c].flags & CF_SPARK)
			spark_col = (int)c;
	size_t kept = 0;
	for (size_t r = 0; r < b.n; r++) {
		struct top_row *row = &b.rows[r];
		for (size_t c = 0; c < tb->ncols; c++) {
			const struct top_col *col = &tb->cols[c];
			const struct acc *a = &b.acc[r * TOP_MAX_COLS + c];
			struct top_cell *cell = &row->c[c];
			double x = NAN;
			switch (col->tx) {
			case TX_VALUE:
			case TX_RATE:
				if (a->have_num)
					x = a->num;
				break;
			case TX_RATIO:
				if (a->have_num && a->have_den && a->den > 0)
					x = a->num / a->den;
				break;
			case TX_P50:
			case TX_P99:
				if (!hist_quantile(a->h, col->tx == TX_P50 ? 0.5 : 0.99, &x))
					x = NAN;
				break;
			}
			cell->have = isfinite(x);
			cell->v = cell->have ? x * col->scale : 0;
			cell->sev = cell->have ? cell_sev(col->thresh, cell->v) : -1;
		}
		if (spark_col >= 0) {
			struct spark *s = spark_for(v, p, t, b.ids[r]);
			if (s) {
				spark_add(v, s, row->c[spark_col].have ? row->c[spark_col].v : NAN);
				row->spark = s->v;
				row->nspark = s->n;
			}
		}
		if ((tb->flags & TF_NEED_FIRST) && tb->ncols && !row->c[0].have) {
			free(row->key);
			free(row->json_labels);
			continue;
		}
		if (tb->flags & TF_HIDE_IDLE) {
			row->idle = !row_active(&v->active[p * TOP_MAX_TABLES + t], b.ids[r], row, tb->ncols);
			out->idle += row->idle;
		}
		b.rows[kept++] = *row;
	}
	for (size_t r = 0; r < b.n; r++) {
		free(b.ids[r]);
		for (size_t c = 0; c < TOP_MAX_COLS; c++)
			free(b.acc[r * TOP_MAX_COLS + c].h);
	}
	free(b.ids);
	free(b.acc);
	out->v = b.rows;
	out->n = kept;
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_rows_natural);
}

void top_view_push(struct top_view *v, struct top_frame *f)
{
	size_t np;
	const struct top_panel *ps = top_panels(&np);
	/* the frames a rate may still start from: the longest look back, and one before it */
	if (v->nfr == MAX_FRAMES) {
		if (v->fr[0] == v->findings)
			v->findings_owned = true;
		else
			top_frame_free(v->fr[0]);
		memmove(v->fr, v->fr + 1, sizeof(*v->fr) * (MAX_FRAMES - 1));
		v->nfr--;
	}
	v->fr[v->nfr++] = f;
	uint64_t look = v->o.slow_ns > 1000000000ull ? v->o.slow_ns : 1000000000ull;
	while (v->nfr > 2 && f->mono_ns - v->fr[1]->mono_ns >= look) {
		if (v->fr[0] == v->findings)
			v->findings_owned = true;
		else
			top_frame_free(v->fr[0]);
		memmove(v->fr, v->fr + 1, sizeof(*v->fr) * (v->nfr - 1));
		v->nfr--;
	}
	if (f->have_findings) {
		if (v->findings_owned)
			top_frame_free(v->findings);
		v->findings = f;
		v->findings_owned = false;
	}
	v->frames++;
	for (size_t p = 0; p < np; p++) {
		for (size_t t = 0; t < ps[p].ntables; t++)
			compute_table(v, p, t);
		sort_table(v, p);
	}
	/* sparklines of rows that are gone: a gap now, dropped once their history is all gap */
	for (size_t i = 0; i < v->nsp;) {
		struct spark *s = &v->sp[i];
		if (s->touched != v->frames)
			spark_add(v, s, NAN);
		bool all_gap = true;
		for (size_t k = 0; k < s->n && all_gap; k++)
			all_gap = isnan(s->v[k]);
		if (all_gap && s->n == v->o.history) {
			free(s->row);
			free(s->v);
			v->sp[i] = v->sp[--v->nsp];
			continue;
		}
		i++;
	}
}

const struct top_rows *top_view_rows(const struct top_view *v, size_t p, size_t t)
{
	size_t np;
	top_panels(&np);
	if (p >= np || t >= TOP_MAX_TABLES)
		return NULL;
	return &v->rows[p * TOP_MAX_TABLES + t];
}

const struct top_finding *top_view_findings(const struct top_view *v, size_t *n)
{
	*n = v->findings ? v->findings->nf : 0;
	return v->findings ? v->findings->f : NULL;
}

int top_view_panel_sev(const struct top_view *v, size_t p)
{
	size_t np;
	const struct top_panel *ps = top_panels(&np);
	if (p >= np || !v->findings)
		return -1;
	int worst = -1;
	for (size_t i = 0; i < v->findings->nf; i++) {
		const struct top_finding *f = &v->findings->f[i];
		bool mine = ps[p].findings;
		/* the panel's rules: space-separated ids */
		for (const char *s = ps[p].rules; !mine && s && *s;) {
			size_t len = strcspn(s, " ");
			mine = strlen(f->id) == len && !strncmp(s, f->id, len);
			s += len + (s[len] == ' ');
		}
		if (mine && (worst < 0 || sev_rank(f->sev) > sev_rank((enum severity)worst)))
			worst = (int)f->sev;
	}
	return worst;
}

void top_view_sort(struct top_view *v, size_t p, int col, bool reverse)
{
	size_t np;
	top_panels(&np);
	if (p >= np)
		return;
	v->sort[p].col = col;
	v->sort[p].reverse = reverse;
	sort_table(v, p);
}

void top_view_get_sort(const struct top_view *v, size_t p, int *col, bool *reverse)
{
	size_t np;
	top_panels(&np);
	*col = p < np ? v->sort[p].col : -1;
	*reverse = p < np && v->sort[p].reverse;
}

/* ---------------- formatting ---------------- */

void top_fmt(char *buf, size_t n, const struct top_cell *c, int width)
{
	if (!c->have) {
		snprintf(buf, n, "-");
		return;
	}
	double v = c->v, a = fabs(v);
	static const struct {
		double div;
		const char *suf;
	} mag[] = { { 1, "" }, { 1e3, "k" }, { 1e6, "M" }, { 1e9, "G" }, { 1e12, "T" } };
	size_t m = 0;
	while (m + 1 < ARRAY_SIZE(mag) && a >= mag[m + 1].div * (m == 0 ? 10 : 1))
		m++;
	double x = v / mag[m].div;
	int len = snprintf(buf, n, "%.1f%s", x, mag[m].suf);
	if (len > width)
		len = snprintf(buf, n, "%.0f%s", x, mag[m].suf);
	if (len > width && m + 1 < ARRAY_SIZE(mag))
		snprintf(buf, n, "%.0f%s", v / mag[m + 1].div, mag[m + 1].suf);
}

const char *top_unit_short(const char *unit)
{
	static const struct {
		const char *from, *to;
	} shorter[] = { { "packets/s", "pkt/s" }, { "requests/s", "req/s" }, { "pages/s", "pg/s" },
			{ "packets", "pkt" },	  { "requests", "req" },     { "pages", "pg" } };
	if (!unit)
		return "";
	for (size_t i = 0; i < ARRAY_SIZE(shorter); i++)
		if (!strcmp(unit, shorter[i].from))
			return shorter[i].to;
	size_t l = strlen(unit);
	if (l <= 5)
		return unit;
	if (l > 2 && !strcmp(unit + l - 2, "/s"))
		return "/s"; /* "faults/s": the header says what is counted */
	return "";
}

void top_col_header(char *buf, size_t n, const struct top_col *c)
{
	const char *u = c->unit ? c->unit : "";
	if (strlen(u) > 5)
		u = top_unit_short(u);
	snprintf(buf, n, "%s%s%s", c->header, *u ? " " : "", u);
}

/* ---------------- batch output ---------------- */

static const char *sev_word(int sev)
{
	return sev < 0 ? "" : sev == SEV_CRIT ? "CRIT" : sev == SEV_WARN ? "WARN" : sev == SEV_UNKNOWN ? "?" : "ok";
}

void top_print_text(FILE *out, const struct top_view *v, const struct top_block_info *bi)
{
	size_t np;
	const struct top_panel *ps = top_panels(&np);
	char when[64];
	watch_time(when, sizeof(when), top_view_real_ns(v));
	/* the one header shape (hiddenq VERSION COMMAND — ...), once per block as top -b does */
	fprintf(out, "hiddenq %s top — %s, sample %lu, %s\n", HQ_VERSION, when, bi->sample, bi->source);
	for (size_t p = 0; p < np; p++) {
		if (ps[p].findings)
			continue;
		int sev = top_view_panel_sev(v, p);
		fprintf(out, "== %s: %s%s%s%s\n", ps[p].name, ps[p].title, sev >= 0 ? " [" : "", sev_word(sev),
			sev >= 0 ? "]" : "");
		for (size_t t = 0; t < ps[p].ntables; t++) {
			const struct top_table *tb = &ps[p].tables[t];
			const struct top_rows *rs = top_view_rows(v, p, t);
			char hb[64], vb[32];
			if (tb->flags & TF_PAIRS) {
				int col = 0;
				for (size_t c = 0; c < tb->ncols; c++) {
					top_fmt(vb, sizeof(vb), rs->n ? &rs->v[0].c[c] : &(struct top_cell){ 0 }, 9);
					const char *u = tb->cols[c].unit;
					int w = fprintf(out, "%s%s %s%s%s", col ? "   " : "", tb->cols[c].header, vb,
							*u && strcmp(vb, "-") ? (strcmp(u, "%") ? " " : "") : "",
							strcmp(vb, "-") ? u : "");
					col += w;
					if (col > 60) {
						fputc('\n', out);
						col = 0;
					}
				}
				if (col)
					fputc('\n', out);
				continue;
			}
			if (!rs->n) {
				fprintf(out, "%s: none\n", tb->caption);
				continue;
			}
			int kw = (int)strlen(tb->caption);
			for (size_t r = 0; r < rs->n; r++)
				if ((int)strlen(rs->v[r].key) > kw)
					kw = (int)strlen(rs->v[r].key);
			if (kw > 40)
				kw = 40;
			int cw[TOP_MAX_COLS];
			fprintf(out, "%-*s", kw, tb->caption);
			for (size_t c = 0; c < tb->ncols; c++) {
				top_col_header(hb, sizeof(hb), &tb->cols[c]);
				cw[c] = (int)strlen(hb) < 7 ? 7 : (int)strlen(hb);
				fprintf(out, "  %*s", cw[c], hb);
			}
			fputc('\n', out);
			for (size_t r = 0; r < rs->n; r++) {
				if (rs->v[r].idle)
					continue;
				fprintf(out, "%-*.*s", kw, kw, rs->v[r].key);
				for (size_t c = 0; c < tb->ncols; c++) {
					top_fmt(vb, sizeof(vb), &rs->v[r].c[c], cw[c]);
					fprintf(out, "  %*s", cw[c], vb);
				}
				fputc('\n', out);
			}
			if (rs->idle)
				fprintf(out, "(%zu more, idle so far)\n", rs->idle);
		}
	}
	size_t nf;
	const struct top_finding *fs = top_view_findings(v, &nf);
	fputs("findings:", out);
	if (!fs)
		fputs(" not judged yet", out);
	for (size_t i = 0; fs && i < nf; i++)
		fprintf(out, "%s %s %s", i ? ";" : "", sev_word((int)fs[i].sev), fs[i].id);
	fputs("\n", out);
	for (size_t i = 0; fs && i < nf; i++)
		if (fs[i].sev == SEV_CRIT || fs[i].sev == SEV_WARN)
			fprintf(out, "  %-4s %s: %s\n", sev_word((int)fs[i].sev), fs[i].label, fs[i].title);
	fputc('\n', out);
	fflush(out);
}

void top_print_json(FILE *out, const struct top_view *v, const struct top_block_info *bi)
{
	size_t np;
	const struct top_panel *ps = top_panels(&np);
	char when[64];
	watch_time(when, sizeof(when), top_view_real_ns(v));
	json_t *o = json_object();
	json_object_set_new(o, "time", jstr(when));
	json_object_set_new(o, "real_ns", json_integer((json_int_t)top_view_real_ns(v)));
	json_object_set_new(o, "mono_ns", json_integer((json_int_t)top_view_mono_ns(v)));
	json_object_set_new(o, "sample", json_integer((json_int_t)bi->sample));
	json_object_set_new(o, "source", jstr(bi->source));
	json_t *jp = json_object();
	for (size_t p = 0; p < np; p++) {
		if (ps[p].findings)
			continue;
		json_t *panel = json_object();
		int sev = top_view_panel_sev(v, p);
		json_object_set_new(panel, "severity", sev < 0 ? json_null() : jstr(severity_name((enum severity)sev)));
		json_t *tables = json_array();
		for (size_t t = 0; t < ps[p].ntables; t++) {
			const struct top_table *tb = &ps[p].tables[t];
			const struct top_rows *rs = top_view_rows(v, p, t);
			json_t *jt = json_object(), *units = json_object(), *rows = json_array();
			json_object_set_new(jt, "caption", jstr(tb->caption));
			for (size_t c = 0; c < tb->ncols; c++)
				json_object_set_new(units, tb->cols[c].json, jstr(tb->cols[c].unit));
			json_object_set_new(jt, "units", units);
			for (size_t r = 0; r < rs->n; r++) {
				json_t *row = json_object(), *sevs = json_object();
				if (tb->labels) {
					json_t *l = json_loads(rs->v[r].json_labels, 0, NULL);
					json_object_set_new(row, "labels", l ? l : json_object());
				}
				for (size_t c = 0; c < tb->ncols; c++) {
					const struct top_cell *cell = &rs->v[r].c[c];
					json_object_set_new(row, tb->cols[c].json,
							    cell->have ? json_real(round(cell->v * 1000) / 1000) : json_null());
					if (cell->sev >= 0)
						json_object_set_new(sevs, tb->cols[c].json,
								    jstr(severity_name((enum severity)cell->sev)));
				}
				if (json_object_size(sevs))
					json_object_set_new(row, "severity", sevs);
				else
					json_decref(sevs);
				json_array_append_new(rows, row);
			}
			json_object_set_new(jt, "rows", rows);
			json_array_append_new(tables, jt);
		}
		json_object_set_new(panel, "tables", tables);
		json_object_set_new(jp, ps[p].name, panel);
	}
	json_object_set_new(o, "panels", jp);
	size_t nf;
	const struct top_finding *fs = top_view_findings(v, &nf);
	json_t *jf = json_array();
	for (size_t i = 0; fs && i < nf; i++) {
		json_t *x = json_object();
		json_object_set_new(x, "id", jstr(fs[i].id));
		json_object_set_new(x, "severity", jstr(severity_name(fs[i].sev)));
		json_object_set_new(x, "title", jstr(fs[i].title));
		json_array_append_new(jf, x);
	}
	json_object_set_new(o, "findings", jf);
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (s)
		fprintf(out, "%s\n", s);
	free(s);
	json_decref(o);
	fflush(out);
}
