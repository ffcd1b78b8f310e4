/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq top's terminal (topui.h): a title line, the panels' tabs coloured
 * by their findings, the panel's tables, the findings' status line and the
 * keys.  Fits 80x24 and degrades below it; colours fall back to bold and
 * reverse video on a monochrome terminal or with NO_COLOR.
 */
#include "topui.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

/* The sparkline's ramps: empty for no value, the lowest glyph for zero, then eight levels. */
static const char *const spark_utf8[] = { " ", "\u2581", "\u2582", "\u2583", "\u2584",
					  "\u2585", "\u2586", "\u2587", "\u2588" };
static const char *const spark_ascii[] = { " ", "_", ".", ",", ":", "-", "=", "+", "#" };

const char *top_ui_spark_glyph(double v, double max, bool utf8)
{
	const char *const *g = utf8 ? spark_utf8 : spark_ascii;
	if (isnan(v))
		return g[0];
	if (v <= 0 || max <= 0)
		return g[1];
	int lvl = 2 + (int)ceil(v / max * 7) - 1; /* any value above zero shows above the baseline */
	if (lvl > 8)
		lvl = 8;
	if (lvl < 2)
		lvl = 2;
	return g[lvl];
}

#ifdef HQ_WITH_CURSES

#include <curses.h>
#include <langinfo.h>
#include <locale.h>

#include "../sinks/watch.h"

enum { CP_OK = 1, CP_WARN, CP_CRIT, CP_UNKNOWN, CP_TITLE };

static bool ui_open, use_color, utf8;
static SCREEN *scr;

bool top_ui_available(void)
{
	return true;
}

int top_ui_open(char **why)
{
	setlocale(LC_CTYPE, "");
	utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
	const char *term = getenv("TERM");
	if (!term || !*term || !strcmp(term, "dumb")) {
		*why = xasprintf("the terminal type (TERM=%s) cannot draw a full screen", term ? term : "");
		return -1;
	}
	scr = newterm(NULL, stdout, stdin);
	if (!scr) {
		*why = xasprintf("ncurses does not know the terminal type '%s' (no terminfo entry)", term);
		return -1;
	}
	set_term(scr);
	ui_open = true;
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	use_color = has_colors() && !getenv("NO_COLOR");
	if (use_color) {
		start_color();
		use_default_colors();
		init_pair(CP_OK, COLOR_GREEN, -1);
		init_pair(CP_WARN, COLOR_YELLOW, -1);
		init_pair(CP_CRIT, COLOR_RED, -1);
		init_pair(CP_UNKNOWN, COLOR_CYAN, -1);
		init_pair(CP_TITLE, COLOR_BLACK, COLOR_CYAN);
	}
	return 0;
}

void top_ui_close(void)
{
	if (!ui_open)
		return;
	endwin();
	delscreen(scr);
	scr = NULL;
	ui_open = false;
}

/* The attribute of a severity (-1: none): colour, or bold and reverse without colours. */
static attr_t sev_attr(int sev)
{
	if (sev < 0)
		return A_NORMAL;
	if (use_color)
		return COLOR_PAIR(sev == SEV_CRIT ? CP_CRIT : sev == SEV_WARN ? CP_WARN : sev == SEV_OK ? CP_OK : CP_UNKNOWN) |
		       (sev == SEV_CRIT ? A_BOLD : A_NORMAL);
	return sev == SEV_CRIT ? (A_REVERSE | A_BOLD) : sev == SEV_WARN ? A_BOLD : A_NORMAL;
}

static const char *sev_word(int sev)
{
	return sev == SEV_CRIT ? "CRIT" : sev == SEV_WARN ? "WARN" : sev == SEV_OK ? "ok" : "?";
}

/* Printable ASCII only (labels come from cgroup paths and interface names): '?' for the rest. */
static void ascii(char *dst, size_t n, const char *src)
{
	size_t i = 0;
	for (; src && *src && i + 1 < n; src++)
		dst[i++] = (*src >= 0x20 && *src < 0x7f) ? *src : '?';
	dst[i] = '\0';
}

/* Text at (y, x), cut at the right edge. */
static void put(int y, int x, attr_t a, const char *s)
{
	if (y < 0 || y >= LINES || x >= COLS)
		return;
	int room = COLS - x;
	attron(a);
	mvaddnstr(y, x, s, room);
	attroff(a);
}

/* The body: lines [top, bottom) of the screen, scrolled by `scroll`. */
struct body {
	int top, bottom, scroll;
	int line;		/* the next body line (before scrolling) */
};

static int body_y(const struct body *b)
{
	int y = b->top + b->line - b->scroll;
	return y >= b->top && y < b->bottom ? y : -1;
}

static void draw_pairs(struct body *b, const struct top_table *tb, const struct top_rows *rs)
{
	int cellw = COLS >= 78 ? 26 : COLS / 2;
	int per = COLS / cellw > 0 ? COLS / cellw : 1;
	for (size_t c = 0; c < tb->ncols; c++) {
		int x = (int)(c % (size_t)per) * cellw, y = body_y(b);
		char val[32], txt[96];
		const struct top_cell *cell = rs->n ? &rs->v[0].c[c] : NULL;
		struct top_cell none = { 0 };
		top_fmt(val, sizeof(val), cell ? cell : &none, 6);
		snprintf(txt, sizeof(txt), "%-14.14s", tb->cols[c].header);
		put(y, x, A_NORMAL, txt);
		bool have = cell && cell->have;
		snprintf(txt, sizeof(txt), "%6s %-5.5s", val, have ? top_unit_short(tb->cols[c].unit) : "");
		put(y, x + 14, have ? sev_attr(cell->sev) : A_DIM, txt);
		if (c % (size_t)per == (size_t)per - 1 || c + 1 == tb->ncols)
			b->line++;
	}
}

static void draw_table(struct body *b, const struct top_table *tb, const struct top_rows *rs, int sort_col,
		       bool sorted_table)
{
	char hb[64], vb[32], key[128];
	int kw = (int)strlen(tb->caption);
	for (size_t r = 0; r < rs->n; r++) {
		if (rs->v[r].idle)
			continue;
		int l = (int)strlen(rs->v[r].key);
		if (l > kw)
			kw = l;
	}
	int cw[TOP_MAX_COLS], used = 0;
	bool spark = false;
	for (size_t c = 0; c < tb->ncols; c++) {
		top_col_header(hb, sizeof(hb), &tb->cols[c]);
		cw[c] = (int)strlen(hb) < 7 ? 7 : (int)strlen(hb);
		used += cw[c] + 1;
		spark = spark || (tb->cols[c].flags & CF_SPARK);
	}
	/* the labels get what the values and a short history leave, at least 12 and at most 40 */
	int kmax = COLS - used - (spark ? 14 : 0);
	kmax = kmax < 12 ? 12 : kmax > 40 ? 40 : kmax;
	if (kw > kmax)
		kw = kmax;
	int x = kw;
	/* the header */
	int y = body_y(b);
	snprintf(key, sizeof(key), "%-*s", kw, tb->caption);
	put(y, 0, A_BOLD | A_UNDERLINE, key);
	for (size_t c = 0; c < tb->ncols; c++) {
		top_col_header(hb, sizeof(hb), &tb->cols[c]);
		char cell[80];
		snprintf(cell, sizeof(cell), "%*s", cw[c], hb);
		bool s = sorted_table && sort_col == (int)c;
		put(y, x + 1, A_BOLD | A_UNDERLINE | (s ? A_REVERSE : 0), cell);
		x += cw[c] + 1;
	}
	int sx = x + 2;
	if (spark && sx + 10 <= COLS)
		put(y, sx, A_BOLD | A_UNDERLINE, utf8 ? "history, newest right" : "history (newest right)");
	b->line++;
	if (!rs->n) {
		put(body_y(b), 1, A_DIM, "none seen");
		b->line++;
	}
	for (size_t r = 0; r < rs->n; r++) {
		const struct top_row *row = &rs->v[r];
		if (row->idle)
			continue;
		y = body_y(b);
		b->line++;
		if (y < 0)
			continue;
		char lab[128];
		ascii(lab, sizeof(lab), row->key);
		snprintf(key, sizeof(key), "%-*.*s", kw, kw, lab);
		put(y, 0, A_NORMAL, key);
		x = kw;
		int spark_col = -1;
		for (size_t c = 0; c < tb->ncols; c++) {
			top_fmt(vb, sizeof(vb), &row->c[c], cw[c]);
			char cell[80];
			snprintf(cell, sizeof(cell), "%*s", cw[c], vb);
			put(y, x + 1, row->c[c].have ? sev_attr(row->c[c].sev) : A_DIM, cell);
			x += cw[c] + 1;
			if ((tb->cols[c].flags & CF_SPARK) && spark_col < 0)
				spark_col = (int)c;
		}
		if (spark_col < 0 || !row->spark || sx + 10 > COLS)
			continue;
		/* the newest points that fit, right-aligned */
		const struct top_col *col = &tb->cols[spark_col];
		int room = COLS - sx - 1;
		size_t n = row->nspark < (size_t)room ? row->nspark : (size_t)room;
		double max = !strcmp(col->unit, "%") ? 100 : 0;
		for (size_t i = row->nspark - n; max == 0 && i < row->nspark; i++)
			if (!isnan(row->spark[i]) && row->spark[i] > max)
				max = row->spark[i];
		int gx = sx + room - (int)n;
		for (size_t i = row->nspark - n; i < row->nspark; i++, gx++) {
			double pv = row->spark[i];
			struct top_cell pc = { .v = pv, .have = !isnan(pv) };
			int sev = -1;
			if (pc.have && col->thresh >= 0) {
				const struct threshold *t = &thresholds[col->thresh];
				sev = t->crit >= 0 && pv >= t->crit ? SEV_CRIT : t->warn >= 0 && pv >= t->warn ? SEV_WARN : SEV_OK;
			}
			attr_t ga = sev_attr(sev == SEV_OK ? -1 : sev);
			attron(ga);
			mvaddstr(y, gx, top_ui_spark_glyph(pv, max, utf8)); /* one column, several bytes in UTF-8 */
			attroff(ga);
		}
	}
	if (rs->idle) {
		char m[64];
		snprintf(m, sizeof(m), "%zu more, idle so far", rs->idle);
		put(body_y(b), 1, A_DIM, m);
		b->line++;
	}
}

static void draw_findings_panel(struct body *b, const struct top_view *v)
{
	size_t nf;
	const struct top_finding *fs = top_view_findings(v, &nf);
	if (!fs) {
		put(body_y(b), 1, A_DIM, "not judged yet: the first verdicts come after a few samples");
		b->line++;
		return;
	}
	for (size_t i = 0; i < nf; i++) {
		int y = body_y(b);
		b->line++;
		char line[512], t[400];
		ascii(t, sizeof(t), fs[i].title);
		put(y, 0, sev_attr((int)fs[i].sev), sev_word((int)fs[i].sev));
		snprintf(line, sizeof(line), "%-18.18s %s", fs[i].label, t);
		put(y, 6, A_NORMAL, line);
	}
}

static void draw_status(int y, const struct top_view *v)
{
	size_t nf;
	const struct top_finding *fs = top_view_findings(v, &nf);
	move(y, 0);
	clrtoeol();
	if (!fs) {
		put(y, 0, A_DIM, "findings: not judged yet");
		return;
	}
	int x = 0;
	unsigned ok = 0, unk = 0, bad = 0;
	for (size_t i = 0; i < nf; i++) {
		if (fs[i].sev == SEV_OK) {
			ok++;
			continue;
		}
		if (fs[i].sev == SEV_UNKNOWN) {
			unk++;
			continue;
		}
		bad++;
		if (x >= COLS - 8)
			continue;
		char t[400], seg[512];
		ascii(t, sizeof(t), fs[i].title);
		put(y, x, sev_attr((int)fs[i].sev), sev_word((int)fs[i].sev));
		x += 5;
		snprintf(seg, sizeof(seg), "%s: %s", fs[i].label, bad == 1 ? t : "");
		put(y, x, A_NORMAL, seg);
		x += (int)strlen(seg) + 2;
	}
	if (!bad) {
		char seg[96];
		snprintf(seg, sizeof(seg), "findings: %u ok, %u unknown (not enough data or not visible from here)", ok, unk);
		put(y, 0, sev_attr(SEV_OK), seg);
	}
}

static void draw_help(void)
{
	static const char *const lines[] = {
		"hiddenq top: keys",
		"",
		"  h ?         this help (any key closes it)",
		"  q           quit",
		"  space       live: freeze the screen; replay: play / stop",
		"  Tab S-Tab   next / previous panel; 1-7 a panel",
		"  s S         sort by the next / previous column",
		"  < >         the same; r reverses the order",
		"  up down     scroll the panel",
		"  left right  replay: one sample back / forward",
		"  PgUp PgDn   replay: a bigger step back / forward",
		"  Home End    replay: the first / the last sample",
		"",
		"Values are per second over the last second (the last",
		"slow tick for cgroups, qdiscs, NUMA and eBPF), coloured",
		"by the thresholds (hiddenq diagnose --list-thresholds).",
	};
	int h = (int)ARRAY_SIZE(lines) + 2, w = 60;
	if (w > COLS)
		w = COLS;
	if (h > LINES)
		h = LINES;
	int y0 = (LINES - h) / 2, x0 = (COLS - w) / 2;
	for (int y = 0; y < h; y++) {
		move(y0 + y, x0);
		attron(A_REVERSE);
		for (int x = 0; x < w; x++)
			addch(' ');
		attroff(A_REVERSE);
	}
	for (int i = 0; i < (int)ARRAY_SIZE(lines) && i + 1 < h - 1; i++)
		put(y0 + 1 + i, x0 + 2, A_REVERSE | (i == 0 ? A_BOLD : 0), lines[i]);
}

void top_ui_draw(const struct top_view *v, struct top_ui_state *st)
{
	if (!ui_open)
		return;
	erase();
	if (COLS < 40 || LINES < 10) {
		char m[64];
		snprintf(m, sizeof(m), "terminal too small (%dx%d)", COLS, LINES);
		put(0, 0, A_BOLD, m);
		put(1, 0, A_NORMAL, "need 40x10; q quits");
		refresh();
		return;
	}
	size_t np;
	const struct top_panel *ps = top_panels(&np);
	if (st->panel >= np)
		st->panel = 0;
	/* title */
	char when[64], title[256];
	uint64_t rt = top_view_real_ns(v);
	if (rt)
		watch_time(when, sizeof(when), rt);
	else
		snprintf(when, sizeof(when), "waiting for the first sample");
	/* the source (the input's last part), when, which sample; the state on the right */
	char src[96];
	const char *base = st->source ? strrchr(st->source, '/') : NULL;
	ascii(src, sizeof(src), base && base[1] ? base + 1 : st->source);
	snprintf(title, sizeof(title), " hiddenq top  %s  %s  sample %lu  %.1f s", st->replay ? src : "live", when,
		 st->sample, (double)st->interval_ns / 1e9);
	const char *state = st->replay ? (st->paused ? (st->at_end ? "END" : "PAUSED") : "PLAYING")
				       : (st->paused ? "PAUSED" : "");
	attr_t ta = use_color ? COLOR_PAIR(CP_TITLE) : A_REVERSE;
	move(0, 0);
	attron(ta);
	for (int x = 0; x < COLS; x++)
		addch(' ');
	attroff(ta);
	int room = COLS - (*state ? (int)strlen(state) + 2 : 0);
	if ((int)strlen(title) > room && room > 0)
		title[room] = '\0';
	put(0, 0, ta, title);
	if (*state)
		put(0, COLS - (int)strlen(state) - 1, ta | A_BOLD, state);
	/* tabs */
	int x = 0;
	move(1, 0);
	clrtoeol();
	for (size_t p = 0; p < np && x < COLS; p++) {
		char tab[32];
		snprintf(tab, sizeof(tab), " %c %s ", ps[p].key, ps[p].name);
		int sev = top_view_panel_sev(v, p);
		attr_t a = sev_attr(sev == SEV_OK ? -1 : sev);
		if (p == st->panel)
			a |= A_REVERSE | A_BOLD;
		put(1, x, a, tab);
		x += (int)strlen(tab);
	}
	/* the panel's title, and its sort */
	int sc;
	bool rev;
	top_view_get_sort(v, st->panel, &sc, &rev);
	int stab = top_panel_sort_table(st->panel);
	char line[256], hb[64] = "";
	if (stab >= 0 && sc >= 0 && sc < (int)ps[st->panel].tables[stab].ncols)
		top_col_header(hb, sizeof(hb), &ps[st->panel].tables[stab].cols[sc]);
	snprintf(line, sizeof(line), "%s: %s", ps[st->panel].name, ps[st->panel].title);
	put(2, 0, A_DIM, line);
	if (stab >= 0) {
		char srt[96];
		snprintf(srt, sizeof(srt), "  sorted by %s%s", sc >= 0 ? hb : ps[st->panel].tables[stab].caption,
			 rev ? ", reversed" : "");
		int l = (int)strlen(line);
		if (l + (int)strlen(srt) < COLS)
			put(2, l, A_DIM, srt);
		else
			put(2, COLS - (int)strlen(srt) > 0 ? COLS - (int)strlen(srt) : 0, A_DIM, srt);
	}
	/* the body */
	struct body b = { .top = 3, .bottom = LINES - 2, .scroll = st->scroll };
	if (ps[st->panel].findings) {
		draw_findings_panel(&b, v);
	} else {
		for (size_t t = 0; t < ps[st->panel].ntables; t++) {
			const struct top_table *tb = &ps[st->panel].tables[t];
			const struct top_rows *rs = top_view_rows(v, st->panel, t);
			if (tb->flags & TF_PAIRS)
				draw_pairs(&b, tb, rs);
			else
				draw_table(&b, tb, rs, sc, (int)t == stab);
			if (t + 1 < ps[st->panel].ntables)
				b.line++;
		}
	}
	int visible = b.bottom - b.top;
	int maxscroll = b.line > visible ? b.line - visible : 0;
	if (st->scroll > maxscroll || st->scroll < 0) {
		st->scroll = st->scroll < 0 ? 0 : maxscroll;
		/* drawn with a scroll beyond the end: draw again where it stops */
		top_ui_draw(v, st);
		return;
	}
	if (maxscroll && st->scroll < maxscroll)
		put(LINES - 3, COLS - 8, A_DIM, "more...");
	/* status and keys */
	draw_status(LINES - 2, v);
	const char *keys = st->replay ? "h help  q quit  left/right step  PgUp/PgDn big step  space play  Tab/1-7 panels"
				      : "h help  q quit  space pause  Tab/1-7 panels  s sort  r reverse  up/down scroll";
	move(LINES - 1, 0);
	clrtoeol();
	if (st->note)
		put(LINES - 1, 0, A_BOLD, st->note);
	else
		put(LINES - 1, 0, A_DIM, keys);
	if (st->help)
		draw_help();
	refresh();
}

int top_ui_key(void)
{
	if (!ui_open)
		return TA_NONE;
	int c = getch();
	switch (c) {
	case ERR: return TA_NONE;
	case 'q': case 'Q': return TA_QUIT;
	case 'h': case '?': case KEY_F(1): return TA_HELP;
	case ' ': case 'p': return TA_PAUSE;
	case 's': case '>': case '.': return TA_SORT_NEXT;
	case 'S': case '<': case ',': return TA_SORT_PREV;
	case 'r': return TA_REVERSE;
	case '\t': return TA_PANEL_NEXT;
	case KEY_BTAB: return TA_PANEL_PREV;
	case KEY_LEFT: return TA_STEP_BACK;
	case KEY_RIGHT: return TA_STEP_FWD;
	case KEY_PPAGE: return TA_PAGE_BACK;
	case KEY_NPAGE: return TA_PAGE_FWD;
	case KEY_HOME: case 'g': return TA_HOME;
	case KEY_END: case 'G': return TA_END;
	case KEY_UP: case 'k': return TA_UP;
	case KEY_DOWN: case 'j': return TA_DOWN;
	case KEY_RESIZE: return TA_RESIZE;
	case 12: return TA_REDRAW;
	default:
		if (c >= '1' && c <= '9')
			return TA_PANEL0 + (c - '1');
		return TA_OTHER;
	}
}

#else /* !HQ_WITH_CURSES */

bool top_ui_available(void)
{
	return false;
}

int top_ui_open(char **why)
{
	*why = xstrdup("this hiddenq was built without ncurses: plain blocks only (--batch)");
	return -1;
}

void top_ui_close(void)
{
}

void top_ui_draw(const struct top_view *v, struct top_ui_state *st)
{
	(void)v;
	(void)st;
}

int top_ui_key(void)
{
	return TA_NONE;
}

#endif
