/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The HTML report (html.h).  Divisions: text helpers; the style sheet;
 * axes; a plot; the heat strip; the findings timeline; the topology; the
 * page.  Everything drawn is SVG written here; colours are CSS variables,
 * switched for dark mode and print, so the SVG itself names classes only.
 */
#include "html.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/util.h"
#include "../topo/view.h"
#include "topo.h"

#define W 960		/* plot viewBox */
#define H 230
#define ML 64		/* margins */
#define MR 14
#define MT 10
#define MB 26
#define PW (W - ML - MR)
#define PH (H - MT - MB)
#define MAX_DRAWN 8	/* lines drawn in one plot; the rest are folded into one */
#define NCOLORS 8

/* ---------------- text helpers ---------------- */

void html_escape(struct strbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	while (*p) {
		unsigned char c = *p;
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		bool ok = n > 0;
		for (size_t k = 1; ok && k < n; k++)
			ok = (p[k] & 0xc0) == 0x80;
		if (ok && n == 2 && c < 0xc2)
			ok = false; /* overlong */
		if (!ok) {
			sb_put(b, "?", 1);
			p++;
			continue;
		}
		if (n > 1) {
			sb_put(b, (const char *)p, n);
			p += n;
			continue;
		}
		switch (c) {
		case '<': sb_puts(b, "&lt;"); break;
		case '>': sb_puts(b, "&gt;"); break;
		case '&': sb_puts(b, "&amp;"); break;
		case '"': sb_puts(b, "&quot;"); break;
		case '\'': sb_puts(b, "&#39;"); break;
		case '\n': case '\t': sb_put(b, (const char *)p, 1); break;
		default:
			if (c < 0x20 || c == 0x7f)
				sb_put(b, "?", 1);
			else
				sb_put(b, (const char *)p, 1);
		}
		p++;
	}
}

__attribute__((format(printf, 2, 3))) static void esc_printf(struct strbuf *b, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	html_escape(b, buf);
}

void iso_time(uint64_t ns, char *buf, size_t n)
{
	time_t s = (time_t)(ns / 1000000000ull);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void clock_time(uint64_t ns, bool secs, bool date, char *buf, size_t n)
{
	time_t s = (time_t)(ns / 1000000000ull);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(buf, n, date ? (secs ? "%m-%d %H:%M:%S" : "%m-%d %H:%M") : (secs ? "%H:%M:%S" : "%H:%M"), &tm);
}

static void fmt_num(double v, char *buf, size_t n)
{
	double a = fabs(v);
	if (!isfinite(v))
		snprintf(buf, n, "–");
	else if (a >= 1e6)
		snprintf(buf, n, "%.3g", v);
	else if (a >= 100 || v == floor(v))
		snprintf(buf, n, "%.0f", v);
	else if (a >= 10)
		snprintf(buf, n, "%.1f", v);
	else if (a >= 0.01)
		snprintf(buf, n, "%.2f", v);
	else
		snprintf(buf, n, "%.3g", v);
}

static const char *sev_class(int s)
{
	switch (s) {
	case SEV_OK: return "ok";
	case SEV_WARN: return "warn";
	case SEV_CRIT: return "crit";
	default: return "unknown";
	}
}

/* ---------------- the style sheet ---------------- */

static const char css[] =
	":root{--bg:#ffffff;--fg:#1f2328;--muted:#59636e;--grid:#d1d9e0;--panel:#f6f8fa;--ok:#1a7f37;--warn:#9a6700;"
	"--crit:#cf222e;--unknown:#8c959f;--c0:#0969da;--c1:#bc4c00;--c2:#1a7f37;--c3:#8250df;--c4:#bf3989;"
	"--c5:#0550ae;--c6:#953800;--c7:#57606a}\n"
	"@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--grid:#30363d;"
	"--panel:#151b23;--ok:#3fb950;--warn:#d29922;--crit:#f85149;--unknown:#6e7681;--c0:#58a6ff;--c1:#f0883e;"
	"--c2:#56d364;--c3:#bc8cff;--c4:#ff7b72;--c5:#79c0ff;--c6:#e3b341;--c7:#b1bac4}}\n"
	"@media print{:root{--bg:#fff;--fg:#000;--muted:#444;--grid:#ccc;--panel:#fff;--ok:#1a7f37;--warn:#9a6700;"
	"--crit:#cf222e;--unknown:#999;--c0:#0969da;--c1:#bc4c00;--c2:#1a7f37;--c3:#8250df;--c4:#bf3989;"
	"--c5:#0550ae;--c6:#953800;--c7:#57606a}nav{display:none}body{margin:0;max-width:none;font-size:9pt}"
	"figure,.timeline,table,.topo{break-inside:avoid}h2{break-after:avoid}a{color:inherit;text-decoration:none}}\n"
	"html{color-scheme:light dark}\n"
	"body{background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,\"Segoe UI\",sans-serif;"
	"margin:0 auto;padding:0 1.2em 2em;max-width:1100px}\n"
	"h1{font-size:1.5em;margin:.8em 0 .2em}h2{font-size:1.2em;margin:1.6em 0 .4em;border-bottom:1px solid var(--grid)}"
	"h3{font-size:1em;margin:.2em 0}\n"
	".meta,.what,.why,figcaption,.note{color:var(--muted)}.meta{margin:.2em 0}\n"
	"nav{margin:.6em 0;font-size:.9em}nav a{margin-right:.9em;color:var(--c0)}\n"
	"figure{margin:1em 0;padding:.6em .8em;background:var(--panel);border:1px solid var(--grid);border-radius:6px}\n"
	"figure svg{width:100%;height:auto;display:block}\n"
	"svg text{fill:var(--fg);font:11px system-ui,sans-serif}svg .lbl{fill:var(--muted)}\n"
	".grid{stroke:var(--grid);stroke-width:1}.axis{stroke:var(--muted);stroke-width:1}\n"
	".c0{--c:var(--c0)}.c1{--c:var(--c1)}.c2{--c:var(--c2)}.c3{--c:var(--c3)}.c4{--c:var(--c4)}"
	".c5{--c:var(--c5)}.c6{--c:var(--c6)}.c7{--c:var(--c7)}\n"
	"path.line{fill:none;stroke:var(--c);stroke-width:1.6;stroke-linejoin:round}"
	"path.line.p50{stroke-dasharray:4 3;stroke-width:1.2}circle.dot{fill:var(--c)}"
	"path.band{fill:var(--c);fill-opacity:.16;stroke:none}\n"
	"line.ref{stroke-width:1.2;stroke-dasharray:6 4}line.ref.warn{stroke:var(--warn)}line.ref.crit{stroke:var(--crit)}"
	"line.ref.info{stroke:var(--muted)}text.ref.warn{fill:var(--warn)}text.ref.crit{fill:var(--crit)}\n"
	"rect.ok{fill:var(--ok)}rect.warn{fill:var(--warn)}rect.crit{fill:var(--crit)}rect.unknown{fill:var(--unknown);"
	"fill-opacity:.35}rect.heat{fill:var(--crit)}rect.cpu{fill:var(--c0);fill-opacity:.25;stroke:var(--c0)}"
	"rect.cpu.off{fill:none;stroke:var(--muted);stroke-dasharray:2 2}rect.node{fill:none;stroke:var(--muted)}\n"
	".legend{list-style:none;padding:0;margin:.4em 0 0;font-size:.9em}.legend li{display:inline-block;"
	"margin-right:1.2em}.sw{display:inline-block;width:.9em;height:.9em;border-radius:2px;background:var(--c);"
	"margin-right:.35em;vertical-align:-.1em}\n"
	"table{border-collapse:collapse;font-size:.92em;margin:.6em 0}td,th{padding:.2em .6em;text-align:left;"
	"border-bottom:1px solid var(--grid);vertical-align:top}th{color:var(--muted);font-weight:600}\n"
	".sev{font-weight:700;text-transform:uppercase;font-size:.85em}.sev.ok{color:var(--ok)}.sev.warn{color:var(--warn)}"
	".sev.crit{color:var(--crit)}.sev.unknown{color:var(--unknown)}\n"
	".damage{border:1px solid var(--crit);border-radius:6px;padding:.4em .8em;margin:.8em 0}"
	".damage li{color:var(--fg)}\n"
	"figure.empty .why{font-style:italic}pre{overflow-x:auto;font-size:12px;background:var(--panel);padding:.6em;"
	"border:1px solid var(--grid);border-radius:6px}code{font-size:.92em}\n";

/* ---------------- axes ---------------- */

struct frame {
	uint64_t t0, t1;	/* the time axis */
	double ymax;
	double x0, xw;		/* where the time axis is drawn (0, 0: the plots' ML, PW) */
};

static double xpos(const struct frame *f, uint64_t t)
{
	if (t < f->t0)
		t = f->t0;
	if (t > f->t1)
		t = f->t1;
	double x0 = f->xw > 0 ? f->x0 : ML, xw = f->xw > 0 ? f->xw : PW;
	return x0 + (double)(t - f->t0) / (double)(f->t1 - f->t0) * xw;
}

static double ypos(const struct frame *f, double v)
{
	if (v < 0)
		v = 0;
	if (v > f->ymax)
		v = f->ymax;
	return MT + PH - v / f->ymax * PH;
}

static double nice_ceil(double v)
{
	if (!(v > 0) || !isfinite(v))
		return 1;
	double e = pow(10, floor(log10(v))), m = v / e;
	double n = m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10;
	return n * e;
}

static void time_axis(struct strbuf *b, const struct frame *f, int y0, int y1, bool labels)
{
	static const uint64_t steps[] = { 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
					  21600, 43200, 86400, 172800, 604800 };
	double span = (double)(f->t1 - f->t0) / 1e9;
	uint64_t step = steps[ARRAY_SIZE(steps) - 1];
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++)
		if (span / (double)steps[i] <= 7) {
			step = steps[i];
			break;
		}
	uint64_t sn = step * 1000000000ull, first = (f->t0 + sn - 1) / sn * sn;
	bool date = f->t1 - f->t0 >= 86400ull * 1000000000ull, secs = step < 60;
	for (uint64_t t = first; t <= f->t1; t += sn) {
		double x = xpos(f, t);
		sb_printf(b, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", x, y0, x, y1);
		double x0 = f->xw > 0 ? f->x0 : ML, xw = f->xw > 0 ? f->xw : PW;
		if (labels && x - x0 > 24 && x0 + xw - x > 24) { /* not cut at either end */
			char lab[32];
			clock_time(t, secs, date, lab, sizeof(lab));
			sb_printf(b, "<text class=\"lbl\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>", x, y1 + 14,
				  lab);
		}
	}
}

static void value_axis(struct strbuf *b, const struct frame *f, const char *unit)
{
	for (int k = 0; k <= 4; k++) {
		double v = f->ymax * k / 4, y = ypos(f, v);
		char num[32];
		fmt_num(v, num, sizeof(num));
		sb_printf(b, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", ML, y, ML + PW, y);
		sb_printf(b, "<text class=\"lbl\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>", ML - 6, y + 4, num);
	}
	sb_printf(b, "<text class=\"lbl\" x=\"12\" y=\"%d\" transform=\"rotate(-90 12 %d)\" text-anchor=\"middle\">",
		  MT + PH / 2, MT + PH / 2);
	html_escape(b, unit);
	sb_puts(b, "</text>");
	sb_printf(b, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", ML, MT + PH, ML + PW, MT + PH);
}

/* ---------------- a plot ---------------- */

/* One line as drawn: a stored line, or several folded into one. */
struct drawn {
	const struct hline *src[HISTORY_MAX_LINES];
	size_t nsrc;
	char name[200];
	double peak;
	uint64_t peak_at;
};

static bool drawn_value(const struct hplot *p, const struct drawn *d, size_t i, double q, double *lo, double *mean,
			double *hi)
{
	double l = INFINITY, m = 0, h = -INFINITY;
	size_t n = 0;
	for (size_t k = 0; k < d->nsrc; k++) {
		double a, b, c;
		if (!history_value(p, d->src[k], i, q, &a, &b, &c))
			continue;
		l = a < l ? a : l;
		h = c > h ? c : h;
		m += b;
		n++;
	}
	if (!n)
		return false;
	*lo = l;
	*mean = m / (double)n;
	*hi = h;
	return true;
}

static int cmp_peak(const void *x, const void *y)
{
	const struct hline *a = *(const struct hline *const *)x, *b = *(const struct hline *const *)y;
	return a->peak < b->peak ? 1 : a->peak > b->peak ? -1 : 0;
}

static int cmp_count(const void *x, const void *y)
{
	const struct hline *a = *(const struct hline *const *)x, *b = *(const struct hline *const *)y;
	return a->n < b->n ? 1 : a->n > b->n ? -1 : 0;
}

/* natural order of names: "vCPU 2" before "vCPU 10" */
static int cmp_name(const void *x, const void *y)
{
	const char *a = (*(const struct hline *const *)x)->name, *b = (*(const struct hline *const *)y)->name;
	while (*a && *b) {
		if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
			char *ea, *eb;
			unsigned long na = strtoul(a, &ea, 10), nb = strtoul(b, &eb, 10);
			if (na != nb)
				return na < nb ? -1 : 1;
			a = ea;
			b = eb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}

static void drawn_one(struct drawn *d, const struct hline *l)
{
	*d = (struct drawn){ .nsrc = 1, .peak = l->peak, .peak_at = l->peak_at };
	d->src[0] = l;
	snprintf(d->name, sizeof(d->name), "%s", l->name);
}

/* Lines folded into one: their mean, the band over all of them. */
static void drawn_fold(struct drawn *r, const struct hline *const *v, size_t n, const char *name)
{
	memset(r, 0, sizeof(*r));
	for (size_t k = 0; k < n; k++) {
		r->src[r->nsrc++] = v[k];
		if (!r->peak_at || v[k]->peak > r->peak) {
			r->peak = v[k]->peak;
			r->peak_at = v[k]->peak_at;
		}
	}
	snprintf(r->name, sizeof(r->name), "%s", name);
}

/*
 * The lines to draw, in name order: every line, or the MAX_DRAWN - 1 with the
 * highest peaks and the mean of the rest; lines that never left 0 are one
 * line when there are others (a disk or queue that did nothing).
 */
static size_t choose_lines(const struct hplot *p, struct drawn *out)
{
	const struct hline **order = xcalloc(p->nlines + 1, sizeof(*order)), **zero = xcalloc(p->nlines + 1, sizeof(*zero));
	size_t n = 0, nz = 0, nd = 0;
	for (size_t k = 0; k < p->nlines; k++) {
		if (!p->lines[k].n)
			continue;
		if (!p->hist && p->lines[k].peak == 0)
			zero[nz++] = &p->lines[k];
		else
			order[n++] = &p->lines[k];
	}
	if (nz == 1 || (!n && nz <= 3)) { /* one alone, or a few and nothing else: as they are */
		for (size_t k = 0; k < nz; k++)
			order[n++] = zero[k];
		nz = 0;
	}
	size_t room = MAX_DRAWN - (nz ? 1 : 0);
	if (n <= room) {
		qsort(order, n, sizeof(*order), cmp_name);
		for (size_t k = 0; k < n; k++)
			drawn_one(&out[nd++], order[k]);
	} else {
		qsort(order, n, sizeof(*order), p->hist ? cmp_count : cmp_peak);
		size_t top = room - 1;
		qsort(order, top, sizeof(*order), cmp_name);
		for (size_t k = 0; k < top; k++)
			drawn_one(&out[nd++], order[k]);
		char name[96];
		snprintf(name, sizeof(name), "the other %zu (mean; the band spans them all)", n - top);
		drawn_fold(&out[nd++], order + top, n - top, name);
	}
	if (nz) {
		char name[96];
		qsort(zero, nz, sizeof(*zero), cmp_name);
		snprintf(name, sizeof(name), "%zu more at 0 throughout (%s%s)", nz, zero[0]->name, nz > 1 ? ", ..." : "");
		drawn_fold(&out[nd++], zero, nz, name);
	}
	free(order);
	free(zero);
	return nd;
}

static double drawn_mean(const struct hplot *p, const struct drawn *d)
{
	double s = 0;
	uint64_t n = 0;
	for (size_t k = 0; k < d->nsrc; k++) {
		s += d->src[k]->sum;
		n += d->src[k]->n;
	}
	(void)p;
	return n ? s / (double)n : NAN;
}

/* M/L path of one line; the band (lo..hi) as closed shapes when `band` */
static unsigned line_path(struct strbuf *b, const struct history *h, const struct hplot *p, const struct drawn *d,
			  const struct frame *f, double q, double div, bool band, const char *cls, int color)
{
	struct strbuf path = { 0 }, bp = { 0 }, dots = { 0 };
	unsigned points = 0;
	size_t run = 0, i = 0;
	double xs[HISTORY_MAX_BUCKETS], los[HISTORY_MAX_BUCKETS];
	for (i = 0; i <= h->nb; i++) {
		double lo, mean, hi;
		bool have = i < h->nb && drawn_value(p, d, i, q, &lo, &mean, &hi);
		if (have) {
			uint64_t mid = history_bucket_t(h, i) + h->width / 2;
			double x = xpos(f, mid), y = ypos(f, mean / div);
			sb_printf(&path, "%s%.1f,%.1f", run ? " L" : (path.len ? " M" : "M"), x, y);
			if (band) {
				sb_printf(&bp, "%s%.1f,%.1f", run ? " L" : (bp.len ? " M" : "M"), x, ypos(f, hi / div));
				xs[run] = x;
				los[run] = ypos(f, lo / div);
			}
			run++;
			points++;
			continue;
		}
		if (run == 1) {
			/* a lone point: a dot, or it would not show */
			double lo2, mean2, hi2;
			drawn_value(p, d, i - 1, q, &lo2, &mean2, &hi2);
			uint64_t mid = history_bucket_t(h, i - 1) + h->width / 2;
			sb_printf(&dots, "<circle class=\"dot c%d\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\"/>", color, xpos(f, mid),
				  ypos(f, mean2 / div));
		}
		if (band && run) {
			for (size_t k = run; k-- > 0;)
				sb_printf(&bp, " L%.1f,%.1f", xs[k], los[k]);
			sb_puts(&bp, " Z");
		}
		run = 0;
	}
	if (band && bp.len)
		sb_printf(b, "<path class=\"band c%d\" d=\"%s\"/>", color, bp.s);
	if (path.len) {
		char peak[32], at[32];
		fmt_num(d->peak / div, peak, sizeof(peak));
		iso_time(d->peak_at, at, sizeof(at));
		sb_printf(b, "<path class=\"line %s c%d\" data-line=\"", cls, color);
		html_escape(b, d->name);
		sb_printf(b, "\" data-peak=\"%s\" data-peak-at=\"%s\" d=\"%s\"><title>", peak, at, path.s);
		html_escape(b, d->name);
		sb_puts(b, "</title></path>");
	}
	if (dots.len)
		sb_puts(b, dots.s);
	sb_done(&path);
	sb_done(&bp);
	sb_done(&dots);
	return points;
}

static void ref_line(struct strbuf *b, const struct frame *f, double v, const char *cls, const char *label)
{
	if (!(v >= 0) || v > f->ymax)
		return;
	double y = ypos(f, v);
	sb_printf(b, "<line class=\"ref %s\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", cls, ML, y, ML + PW, y);
	sb_printf(b, "<text class=\"ref %s\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", cls, ML + PW - 2,
		  y - 3 < MT + 10 ? y + 12 : y - 3);
	html_escape(b, label);
	sb_puts(b, "</text>");
}

static void heat_strip(struct strbuf *b, const struct history *h, const struct hplot *p, const struct frame *f,
		       double div)
{
	const struct hline **rows = xcalloc(p->nlines + 1, sizeof(*rows));
	size_t n = 0;
	for (size_t k = 0; k < p->nlines; k++)
		if (p->lines[k].n)
			rows[n++] = &p->lines[k];
	qsort(rows, n, sizeof(*rows), cmp_name);
	double rh = n <= 16 ? 14 : n <= 64 ? 6 : 2.5, top = 6;
	double hh = top + rh * (double)n + 22;
	/* the colour's scale: up to the worst window, at least the spike level */
	double scale = 0, warn, crit;
	for (size_t k = 0; k < n; k++)
		scale = rows[k]->peak / div > scale ? rows[k]->peak / div : scale;
	if (history_thresh_in_unit(p, T_STEAL_SPIKE, &warn, &crit) && warn / div > scale)
		scale = warn / div;
	if (!(scale > 0))
		scale = 1;
	sb_printf(b, "<svg class=\"heat\" viewBox=\"0 0 %d %.0f\" role=\"img\" aria-label=\"per-row heat strip\">", W, hh);
	for (size_t k = 0; k < n; k++) {
		double y = top + rh * (double)k;
		if (rh >= 6) {
			sb_printf(b, "<text class=\"lbl\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"%.0f\">", ML - 6,
				  y + rh - 2, rh >= 12 ? 11.0 : 7.0);
			html_escape(b, rows[k]->name);
			sb_puts(b, "</text>");
		}
		/* runs of buckets of one level (tenths of the scale) as one rect */
		int lvl_prev = -1;
		double x_start = 0;
		for (size_t i = 0; i <= h->nb; i++) {
			double lo, mean, hi;
			int lvl = -1;
			if (i < h->nb && history_value(p, rows[k], i, 0, &lo, &mean, &hi)) {
				lvl = (int)ceil(hi / div / scale * 10);
				lvl = lvl < 0 ? 0 : lvl > 10 ? 10 : lvl;
			}
			double x = i < h->nb ? xpos(f, history_bucket_t(h, i)) : ML + PW;
			if (lvl != lvl_prev) {
				if (lvl_prev > 0)
					sb_printf(b, "<rect class=\"heat\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
						     "fill-opacity=\"%.1f\"/>",
						  x_start, y, x - x_start > 0.6 ? x - x_start : 0.6, rh - (rh > 3 ? 1 : 0),
						  lvl_prev / 10.0);
				lvl_prev = lvl;
				x_start = x;
			}
		}
	}
	char s[32];
	fmt_num(scale, s, sizeof(s));
	sb_printf(b, "<text class=\"lbl\" x=\"%d\" y=\"%.0f\">", ML, hh - 6);
	esc_printf(b, "darker: a worse 1 s window in the bucket (full colour: %s %s)", s, p->unit);
	sb_puts(b, "</text></svg>");
	free(rows);
}

static void plot_figure(struct strbuf *b, const struct history *h, const struct hplot *p, unsigned vcpus)
{
	const struct plot_def *d = p->def;
	bool data = history_plot_has_data(p);
	sb_printf(b, "<figure class=\"plot%s\" id=\"plot-%s\" data-plot=\"%s\"", data ? "" : " empty", d->id, d->id);
	if (!data) {
		sb_puts(b, " data-lines=\"0\"><h3>");
		html_escape(b, d->title);
		sb_puts(b, "</h3><p class=\"why\">No data: ");
		html_escape(b, p->why[0] ? p->why : "nothing was recorded for it");
		sb_puts(b, "</p><p class=\"what\">");
		html_escape(b, d->what);
		sb_puts(b, "</p></figure>\n");
		return;
	}
	struct drawn *dl = xcalloc(MAX_DRAWN, sizeof(*dl));
	size_t nd = choose_lines(p, dl);
	/* the value axis: up to the highest value drawn, and the threshold lines when they are not far off */
	double ymax = 0;
	for (size_t k = 0; k < nd; k++)
		for (size_t i = 0; i < h->nb; i++) {
			double lo, mean, hi;
			if (p->hist) {
				if (drawn_value(p, &dl[k], i, 0.99, &lo, &mean, &hi) && hi > ymax)
					ymax = hi;
			} else if (drawn_value(p, &dl[k], i, 0, &lo, &mean, &hi) && hi > ymax) {
				ymax = hi;
			}
		}
	double refs[2][2];
	bool have_ref[2] = { false, false };
	for (int k = 0; k < 2; k++)
		have_ref[k] = history_thresh_in_unit(p, d->thresh[k], &refs[k][0], &refs[k][1]);
	double data_max = ymax;
	for (int k = 0; k < 2; k++)
		for (int j = 0; j < 2 && have_ref[k]; j++)
			if (refs[k][j] > ymax && refs[k][j] <= 4 * (data_max > 0 ? data_max : 0.25 * refs[k][j]))
				ymax = refs[k][j];
	if (d->ref == REF_VCPUS && vcpus && vcpus > ymax)
		ymax = vcpus;
	/* time in us or ms with big values reads better one unit up */
	const char *unit = p->unit;
	double div = 1;
	if (!strcmp(unit, "us") && ymax >= 10000) {
		unit = "ms";
		div = 1000;
	}
	if (!strcmp(unit, "ms") && ymax / div >= 10000) {
		unit = "s";
		div *= 1000;
	}
	struct frame f = { .t0 = h->first_t, .t1 = h->last_t > h->first_t ? h->last_t : h->first_t + 1000000000ull,
			   .ymax = nice_ceil(ymax / div) };
	/* a share of time read from counters can pass 100 % by a tick: the axis stops at 100 */
	if (!strcmp(p->unit, "%") && f.ymax > 100 && ymax <= 120)
		f.ymax = 100;

	sb_printf(b, " data-lines=\"%zu\" data-unit=\"", nd);
	html_escape(b, unit);
	sb_puts(b, "\"><h3>");
	html_escape(b, d->title);
	sb_puts(b, "</h3><p class=\"what\">");
	html_escape(b, d->what);
	sb_printf(b, "</p><svg viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", W, H);
	html_escape(b, d->title);
	sb_puts(b, "\">");
	value_axis(b, &f, unit);
	time_axis(b, &f, MT, MT + PH, true);
	unsigned points = 0;
	for (size_t k = 0; k < nd; k++) {
		int color = (int)(k % NCOLORS);
		if (p->hist) {
			points += line_path(b, h, p, &dl[k], &f, 0.99, div, false, "p99", color);
			points += line_path(b, h, p, &dl[k], &f, 0.5, div, false, "p50", color);
		} else {
			points += line_path(b, h, p, &dl[k], &f, 0, div, true, "mean", color);
		}
	}
	/* reference lines: thresholds.def, and the vCPU count */
	struct strbuf off = { 0 };
	for (int k = 0; k < 2; k++) {
		if (!have_ref[k])
			continue;
		const struct threshold *th = &thresholds[d->thresh[k]];
		for (int j = 0; j < 2; j++) {
			double v = refs[k][j];
			if (v < 0)
				continue;
			char num[32], lab[160];
			fmt_num(v / div, num, sizeof(num));
			snprintf(lab, sizeof(lab), "%s %s %s %s", th->name, j ? "crit" : "warn", num, unit);
			if (v / div <= f.ymax)
				ref_line(b, &f, v / div, j ? "crit" : "warn", lab);
			else
				sb_printf(&off, "%s%s", off.len ? "; " : "", lab);
		}
	}
	if (d->ref == REF_VCPUS && vcpus) {
		char lab[64];
		snprintf(lab, sizeof(lab), "%u vCPU%s", vcpus, vcpus == 1 ? "" : "s");
		ref_line(b, &f, vcpus, "info", lab);
	}
	sb_puts(b, "</svg>");
	sb_printf(b, "<!-- points: %u -->", points);
	if (d->heat)
		heat_strip(b, h, p, &f, div);
	/* the legend: each line's mean and peak, the series it comes from */
	sb_puts(b, "<ul class=\"legend\">");
	for (size_t k = 0; k < nd; k++) {
		char mean[32], peak[32], at[48], q50[32], q99[32];
		sb_printf(b, "<li class=\"c%zu\"><span class=\"sw\"></span>", k % NCOLORS);
		html_escape(b, dl[k].name);
		if (p->hist) {
			double a = NAN, c = NAN;
			if (dl[k].nsrc == 1) {
				a = history_quantile_all(p, dl[k].src[0], 0.5);
				c = history_quantile_all(p, dl[k].src[0], 0.99);
			}
			fmt_num(a / div, q50, sizeof(q50));
			fmt_num(c / div, q99, sizeof(q99));
			esc_printf(b, ": p50 %s, p99 %s %s over everything (dashed: p50)", q50, q99, unit);
		} else {
			fmt_num(drawn_mean(p, &dl[k]) / div, mean, sizeof(mean));
			fmt_num(dl[k].peak / div, peak, sizeof(peak));
			clock_time(dl[k].peak_at, true, h->last_t - h->first_t >= 86400ull * 1000000000ull, at, sizeof(at));
			esc_printf(b, ": mean %s, peak %s %s at %s", mean, peak, unit, at);
		}
		sb_puts(b, "</li>");
	}
	sb_puts(b, "</ul><figcaption>");
	for (size_t k = 0; k < d->nlines; k++) {
		const struct metric_def *md = metric_def(d->lines[k].m);
		sb_puts(b, k ? "; " : "");
		sb_puts(b, "<code>");
		html_escape(b, md->prom);
		sb_puts(b, "</code>");
		esc_printf(b, "%s: %s", md->type == MT_COUNTER ? " (its rate)" : p->hist ? " (quantiles of what it counted)" : "",
			   md->help);
	}
	if (off.len) {
		sb_puts(b, ". Off the scale: ");
		html_escape(b, off.s);
	}
	if (p->dropped)
		esc_printf(b, ". More than %d lines: the rest were not kept",
			   p->hist ? HISTORY_MAX_HIST_LINES : HISTORY_MAX_LINES);
	sb_puts(b, ".</figcaption></figure>\n");
	sb_done(&off);
	free(dl);
}

/* ---------------- the findings timeline ---------------- */

static void timeline(struct strbuf *b, const struct history *h)
{
	const int lw = 180, rh = 20;
	struct frame f = { .t0 = h->first_t, .t1 = h->last_t > h->first_t ? h->last_t : h->first_t + 1000000000ull,
			   .ymax = 1, .x0 = lw, .xw = W - lw - MR };
	int height = (int)h->nrules * rh + 30;
	sb_printf(b, "<figure class=\"timeline\" id=\"timeline\"><h3>When each finding was warn or crit</h3>"
		     "<p class=\"what\">Each finding judged over its own window once a second of the input; grey: "
		     "unknown (too little data yet, or the source is missing).</p>"
		     "<svg viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"findings timeline\">",
		  W, height);
	time_axis(b, &f, 0, (int)h->nrules * rh + 4, true);
	struct hspan *sp = xcalloc(HISTORY_MAX_BUCKETS + 1, sizeof(*sp));
	for (size_t r = 0; r < h->nrules; r++) {
		const struct hfinding *hf = &h->f[r];
		int y = 4 + (int)r * rh;
		sb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", lw - 8, y + 14);
		html_escape(b, hf->id);
		sb_puts(b, "</text>");
		size_t n = history_spans(h, r, sp, HISTORY_MAX_BUCKETS + 1);
		if (n > HISTORY_MAX_BUCKETS + 1)
			n = HISTORY_MAX_BUCKETS + 1;
		for (size_t k = 0; k < n; k++) {
			double x0 = xpos(&f, sp[k].from), x1 = xpos(&f, sp[k].to);
			char a[32], z[32], dur[48];
			iso_time(sp[k].from, a, sizeof(a));
			iso_time(sp[k].to, z, sizeof(z));
			history_fmt_dur((double)(sp[k].to - sp[k].from) / 1e9, dur, sizeof(dur));
			sb_printf(b, "<rect class=\"%s\" data-finding=\"%s\" data-sev=\"%s\" data-from=\"%s\" data-to=\"%s\" "
				     "x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\"><title>",
				  sev_class(sp[k].sev), hf->id, sev_class(sp[k].sev), a, z, x0, y + 2,
				  x1 - x0 > 0.8 ? x1 - x0 : 0.8, rh - 5);
			esc_printf(b, "%s %s from %s to %s (%s)", hf->id, sev_class(sp[k].sev), a, z, dur);
			sb_puts(b, "</title></rect>");
		}
	}
	free(sp);
	sb_puts(b, "</svg></figure>\n");

	/* and in words: the worst verdict of each */
	sb_puts(b, "<table class=\"findings\"><tr><th>finding</th><th>worst</th><th>time warn / crit</th><th>first at "
		   "its worst</th></tr>\n");
	for (size_t r = 0; r < h->nrules; r++) {
		const struct hfinding *hf = &h->f[r];
		char w[48], c[48], at[32];
		history_fmt_dur(hf->secs[SEV_WARN], w, sizeof(w));
		history_fmt_dur(hf->secs[SEV_CRIT], c, sizeof(c));
		iso_time(hf->worst_at, at, sizeof(at));
		sb_printf(b, "<tr data-finding=\"%s\" data-worst=\"%s\"><td>", hf->id, sev_class(hf->worst));
		html_escape(b, hf->id);
		sb_puts(b, "<br><span class=\"note\">");
		html_escape(b, hf->label);
		sb_printf(b, "</span></td><td><span class=\"sev %s\">%s</span></td><td>%s / %s</td><td>",
			  sev_class(hf->worst), sev_class(hf->worst), w, c);
		if (hf->seen) {
			sb_printf(b, "<span class=\"note\">%s</span><br>", at);
			html_escape(b, hf->worst_title ? hf->worst_title : "");
			if (hf->worst_detail && hf->worst != SEV_UNKNOWN) {
				sb_puts(b, "<br><span class=\"note\">");
				html_escape(b, hf->worst_detail);
				sb_puts(b, "</span>");
			}
		}
		sb_puts(b, "</td></tr>\n");
	}
	sb_puts(b, "</table>\n");
}

/* ---------------- the topology ---------------- */

static void topology(struct strbuf *b, const struct report_meta *m)
{
	sb_puts(b, "<section id=\"s-topology\"><h2>Topology</h2>\n");
	const struct topo_view *v = m->topo;
	if (!v) {
		sb_puts(b, "<figure class=\"topo empty\" id=\"topo\" data-lines=\"0\"><p class=\"why\">No topology: ");
		html_escape(b, m->topo_why[0] ? m->topo_why : "none in the input");
		sb_puts(b, "</p></figure></section>\n");
		return;
	}
	const struct topo *t = v->t;
	/* each NUMA node a box of its CPUs */
	const int cw = 34, ch = 22, per_row = 24, nh = 22;
	int y = 4;
	struct strbuf g = { 0 };
	for (size_t i = 0; i < t->nnodes; i++) {
		const struct topo_node *nd = &t->nodes[i];
		size_t rows = (nd->ncpus + per_row - 1) / per_row;
		if (!rows)
			rows = 1;
		int bh = nh + (int)rows * (ch + 4) + 6;
		sb_printf(&g, "<rect class=\"node\" x=\"4\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"4\"/>", y, W - 8, bh);
		sb_printf(&g, "<text x=\"12\" y=\"%d\">", y + 16);
		char mem[48] = "memory unknown";
		if (nd->has_mem)
			snprintf(mem, sizeof(mem), "%.1f GiB", (double)nd->mem_total_kib / 1048576.0);
		char *cl = cpulist_format(nd->cpus, nd->ncpus);
		esc_printf(&g, "NUMA node %d%s — %s — CPUs %s", nd->id, t->nodes_synthetic ? " (none in sysfs: one assumed)" : "",
			   mem, *cl ? cl : "none");
		free(cl);
		sb_puts(&g, "</text>");
		for (size_t k = 0; k < nd->ncpus; k++) {
			const struct topo_cpu *c = topo_cpu(t, nd->cpus[k]);
			int x = 12 + (int)(k % per_row) * (cw + 4), yy = y + nh + (int)(k / per_row) * (ch + 4);
			sb_printf(&g, "<rect class=\"cpu%s\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"3\"><title>",
				  c && !c->online ? " off" : "", x, yy, cw, ch);
			if (c)
				esc_printf(&g, "CPU %d: socket %d, core %d, thread %d%s", c->id, c->package, c->core, c->thread,
					   c->online ? "" : " (offline)");
			sb_printf(&g, "</title></rect><text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%d</text>", x + cw / 2,
				  yy + 15, nd->cpus[k]);
		}
		y += bh + 6;
	}
	sb_printf(b, "<figure class=\"topo\" id=\"topo\" data-lines=\"%zu\"><h3>", t->nnodes);
	esc_printf(b, "%u CPUs online in %u socket%s, %zu NUMA node%s%s%s", t->online, t->sockets,
		   t->sockets == 1 ? "" : "s", t->nnodes, t->nnodes == 1 ? "" : "s", v->hv ? " — " : "",
		   v->hv ? v->hv : "");
	sb_printf(b, "</h3><svg viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"NUMA nodes and CPUs\">", W, y);
	sb_puts(b, g.s ? g.s : "");
	sb_puts(b, "</svg>");
	sb_done(&g);
	/* everything hiddenq topo prints */
	char *txt = NULL;
	size_t tl = 0;
	FILE *mf = open_memstream(&txt, &tl);
	if (mf) {
		bool q = hq_quiet;
		hq_quiet = true; /* its warnings are listed below, not on stderr */
		topo_print(mf, v);
		hq_quiet = q;
		fclose(mf);
		sb_puts(b, "<pre>");
		html_escape(b, txt);
		sb_puts(b, "</pre>");
	}
	free(txt);
	for (size_t i = 0; i < t->nwarnings; i++) {
		sb_puts(b, "<p class=\"note\">");
		html_escape(b, t->warnings[i]);
		sb_puts(b, "</p>");
	}
	sb_puts(b, "</figure></section>\n");
}

/* ---------------- the page ---------------- */

static void header(struct strbuf *b, const struct history *h, const struct report_meta *m)
{
	char a[32], z[32], dur[48];
	iso_time(h->first_t, a, sizeof(a));
	iso_time(h->last_t, z, sizeof(z));
	history_fmt_dur((double)(h->last_t - h->first_t) / 1e9, dur, sizeof(dur));
	sb_puts(b, "<header><h1>hiddenq report");
	if (m->env.hostname[0]) {
		sb_puts(b, " — ");
		html_escape(b, m->env.hostname);
	}
	sb_puts(b, "</h1><p class=\"meta\">");
	esc_printf(b, "%s %s, %s to %s (%s, UTC), %llu sample%s", m->kind, m->input, a, z, dur,
		   (unsigned long long)h->nsamples, plural_s(h->nsamples));
	if (m->interval_ns)
		esc_printf(b, " every %.3g s", (double)m->interval_ns / 1e9);
	if (m->from_real || m->to_real) {
		char f[32] = "its start", t[32] = "its end";
		if (m->from_real)
			iso_time(m->from_real, f, sizeof(f));
		if (m->to_real)
			iso_time(m->to_real, t, sizeof(t));
		esc_printf(b, "; the slice from %s to %s", f, t);
	}
	sb_puts(b, "</p><p class=\"meta\">");
	if (!strcmp(m->env.mode, "guest"))
		esc_printf(b, "%s guest", m->env.hypervisor);
	else
		esc_printf(b, "%s", m->env.hypervisor[0] ? m->env.hypervisor : "host");
	if (m->env.product[0])
		esc_printf(b, " (%s)", m->env.product);
	if (m->env.vcpus)
		esc_printf(b, ", %u vCPU%s", m->env.vcpus, m->env.vcpus == 1 ? "" : "s");
	if (m->env.kernel[0])
		esc_printf(b, ", kernel %s", m->env.kernel);
	char bw[48];
	history_fmt_dur((double)h->width / 1e9, bw, sizeof(bw));
	esc_printf(b, "; one plot point per %s", bw);
	sb_puts(b, "</p><p class=\"meta\">can see:");
	for (size_t i = 0; i < m->caps.n; i++)
		if (m->caps.v[i].ok) {
			sb_puts(b, " <span title=\"");
			html_escape(b, m->caps.v[i].detail);
			sb_puts(b, "\">");
			html_escape(b, m->caps.v[i].name);
			sb_puts(b, " ✓</span>");
		}
	sb_puts(b, " &nbsp; cannot:");
	for (size_t i = 0; i < m->caps.n; i++)
		if (!m->caps.v[i].ok) {
			sb_puts(b, " <span title=\"");
			html_escape(b, m->caps.v[i].detail);
			sb_puts(b, "\">");
			html_escape(b, m->caps.v[i].name);
			sb_puts(b, " ✗</span>");
		}
	sb_puts(b, "</p></header>\n");
}

static void damage(struct strbuf *b, const struct history *h, const struct report_meta *m)
{
	struct strbuf l = { 0 };
	if (m->skipped)
		sb_printf(&l, "<li>%u sample(s) of the input were skipped: unreadable, damaged, or a time going "
			      "backwards</li>",
			  m->skipped);
	if (m->bad_entries)
		sb_printf(&l, "<li>%u %s of the input's samples %s ignored (symlinks, devices or unreadable "
			      "files)</li>",
			  m->bad_entries, plural(m->bad_entries, "entry", "entries"), m->bad_entries == 1 ? "was" : "were");
	if (m->truncated)
		sb_printf(&l, "<li>%u sample(s) were too large and read only in part</li>", m->truncated);
	if (h->restarts)
		sb_printf(&l, "<li>%u gap(s) in time: the engine started over after each, and nothing is drawn "
			      "across them</li>",
			  h->restarts);
	for (unsigned i = 0; i < h->ndamage; i++) {
		sb_puts(&l, "<li>");
		html_escape(&l, h->damage[i]);
		sb_puts(&l, "</li>");
	}
	if (h->keys_dropped)
		sb_printf(&l, "<li>more than %d series: %u values of new ones were not kept</li>", HISTORY_MAX_KEYS,
			  h->keys_dropped);
	if (l.len)
		sb_printf(b, "<section class=\"damage\" id=\"damage\"><h3>Damaged or incomplete input</h3><ul>%s</ul>"
			     "</section>\n",
			  l.s);
	sb_done(&l);
}

char *html_report(const struct history *h, const struct report_meta *m, size_t *len)
{
	struct strbuf b = { 0 };
	char a[32];
	iso_time(h->first_t, a, sizeof(a));
	sb_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
		    "img-src 'none'; font-src 'none'; connect-src 'none'; script-src 'none'; base-uri 'none'; form-action "
		    "'none'\">\n"
		    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		    "<meta name=\"color-scheme\" content=\"light dark\">\n<meta name=\"generator\" content=\"hiddenq ");
	sb_puts(&b, HQ_VERSION);
	sb_puts(&b, "\">\n<title>hiddenq report");
	if (m->env.hostname[0]) {
		sb_puts(&b, " — ");
		html_escape(&b, m->env.hostname);
	}
	sb_printf(&b, " — %s</title>\n<style>\n%s</style></head><body>\n", a, css);
	header(&b, h, m);
	/* the sections, in the plot table's order */
	sb_puts(&b, "<nav><a href=\"#s-findings\">findings</a>");
	const char *last = NULL;
	for (size_t p = 0; p < h->nplots; p++) {
		const char *s = h->plots[p].def->section;
		if (last && !strcmp(last, s))
			continue;
		last = s;
		sb_printf(&b, "<a href=\"#s-%s\">", h->plots[p].def->id);
		html_escape(&b, s);
		sb_puts(&b, "</a>");
	}
	sb_puts(&b, "<a href=\"#s-topology\">topology</a></nav>\n");
	damage(&b, h, m);
	sb_puts(&b, "<section id=\"s-findings\"><h2>Findings over time</h2>\n");
	timeline(&b, h);
	sb_puts(&b, "</section>\n");
	last = NULL;
	for (size_t p = 0; p < h->nplots; p++) {
		const char *s = h->plots[p].def->section;
		if (!last || strcmp(last, s)) {
			if (last)
				sb_puts(&b, "</section>\n");
			sb_printf(&b, "<section id=\"s-%s\"><h2>", h->plots[p].def->id);
			html_escape(&b, s);
			sb_puts(&b, "</h2>\n");
			last = s;
		}
		plot_figure(&b, h, &h->plots[p], h->vcpus);
	}
	if (last)
		sb_puts(&b, "</section>\n");
	topology(&b, m);
	sb_puts(&b, "<footer><p class=\"meta\">Made by hiddenq " HQ_VERSION
		    " (hiddenq report). Every value is a series of the metric catalog (hiddenq metrics --catalog); "
		    "the findings are hiddenq's rules, each judged over its own window. Times are UTC.</p></footer>\n"
		    "</body></html>\n");
	return sb_take(&b, len);
}
