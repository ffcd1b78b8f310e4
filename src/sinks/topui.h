/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq top on a terminal (ncurses): draws a top_view and turns keys into
 * actions; the command decides what an action does (cmd/top.c).  Built
 * without ncurses (HQ_WITH_CURSES undefined: the static binary when Debian's
 * static libraries are missing), top_ui_open says so and the command prints
 * plain blocks instead.
 *
 * Drawing costs one ncurses refresh of what changed: call top_ui_draw on a
 * new frame or after a key, never on a timer.
 */
#ifndef HQ_SINK_TOPUI_H
#define HQ_SINK_TOPUI_H

#include <stdbool.h>
#include <stdint.h>

#include "top.h"

enum top_action {
	TA_NONE,
	TA_QUIT,
	TA_HELP,
	TA_PAUSE,	/* live: freeze the screen; replay: play or stop */
	TA_SORT_NEXT,	/* s: the next column (after the last: by the row labels) */
	TA_SORT_PREV,	/* S */
	TA_REVERSE,	/* r */
	TA_PANEL_NEXT,	/* Tab */
	TA_PANEL_PREV,	/* Shift-Tab */
	TA_STEP_BACK,	/* left: one sample (replay) */
	TA_STEP_FWD,	/* right */
	TA_PAGE_BACK,	/* PgUp: a bigger step (replay) */
	TA_PAGE_FWD,	/* PgDn */
	TA_HOME,	/* the first sample (replay) */
	TA_END,		/* the last sample (replay) */
	TA_UP,		/* scroll the panel */
	TA_DOWN,
	TA_RESIZE,
	TA_REDRAW,	/* Ctrl-L */
	TA_OTHER,	/* a key that means nothing here (it still closes the help) */
	TA_PANEL0 = 100, /* TA_PANEL0 + n: panel n (number keys) */
};

/* What the screen shows besides the view. */
struct top_ui_state {
	const char *source;	/* "live" or the input's path */
	bool replay;
	bool paused;		/* live: the screen is frozen; replay: not playing */
	bool at_start, at_end;	/* replay: nothing before / after this sample */
	unsigned long sample;	/* the shown sample's number (from 1) */
	uint64_t interval_ns;
	unsigned big_step;	/* samples per PgUp/PgDn */
	size_t panel;
	bool help;
	int scroll;		/* body lines scrolled off the top (clamped by the drawing) */
	const char *note;	/* a short message for the key line, or NULL */
};

/* Take the terminal (stdin/stdout).  0, or -1 with *why (malloc'd): not a terminal type ncurses knows, or built without ncurses. */
int top_ui_open(char **why);
void top_ui_close(void);
bool top_ui_available(void);
/* Draw everything; st->scroll is clamped to what the panel has. */
void top_ui_draw(const struct top_view *v, struct top_ui_state *st);
/* The next pending key as an action; TA_NONE when there is none. */
int top_ui_key(void);
/* The sparkline glyphs drawn for values 0..max (UTF-8 blocks when the locale allows, else ASCII). */
const char *top_ui_spark_glyph(double v, double max, bool utf8);

#endif
