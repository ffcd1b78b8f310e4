/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq top, the live view: what it shows (top.def), the model behind the
 * screen, and the plain and JSON blocks it prints when not on a terminal.
 * The terminal itself is topui.c.
 *
 * The view never reads the machine or an analysis: each sample becomes a
 * frame (the engine's series the view shows, and optionally the findings),
 * taken on whichever thread feeds the engine, and the view computes from
 * its last frames only what a Prometheus query would (a counter's rate, a
 * ratio of two rates, a histogram's quantile), coloured by the thresholds
 * each column names.
 */
#ifndef HQ_SINK_TOP_H
#define HQ_SINK_TOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../analysis/findings.h"
#include "../core/catalog.h"
#include "../engine/engine.h"

/* ---------------- the table (top.def) ---------------- */

enum top_tx { TX_VALUE, TX_RATE, TX_RATIO, TX_P50, TX_P99 };

#define TF_PAIRS 1u		/* one row, drawn as "name value unit" pairs */
#define TF_NEED_FIRST 2u	/* hide rows whose first column has no value */
#define TF_HIDE_IDLE 4u		/* on screen, leave out rows that have shown nothing but zeros so far */
#define CF_SPARK 1u		/* keep a history of the column per row */

#define TOP_MAX_COLS 12
#define TOP_MAX_TABLES 4

struct top_col {
	const char *json, *header;
	enum metric_id metric;
	const char *filter;
	enum top_tx tx;
	enum metric_id den;
	const char *den_filter;
	int thresh;		/* enum thresh_id, or -1 */
	const char *unit;	/* the unit the value is shown in (resolved from the catalog) */
	double scale;		/* base unit -> shown unit */
	unsigned flags;
};

struct top_table {
	uint64_t labels;	/* L(...) */
	const char *caption;
	unsigned flags;
	struct top_col cols[TOP_MAX_COLS];
	size_t ncols;
};

struct top_panel {
	char key;
	const char *name, *title, *rules;
	bool findings;		/* the Findings panel */
	struct top_table tables[TOP_MAX_TABLES];
	size_t ntables;
};

/* The panels of top.def, resolved (units and scales from the catalog). */
const struct top_panel *top_panels(size_t *n);

/* ---------------- frames ---------------- */

struct top_frame;

/*
 * What the view needs of the engine now: the series of every column (base
 * units, as engine_series gives them) and, with `findings`, every rule's
 * verdict (engine_evaluate, released before returning).  Call it between
 * engine_feed calls on the thread that feeds the engine; the frame is then
 * independent of it and may go to another thread.
 */
struct top_frame *top_frame_new(struct engine *e, uint64_t mono_ns, uint64_t real_ns, bool findings);
void top_frame_free(struct top_frame *f);
uint64_t top_frame_real_ns(const struct top_frame *f);

/* ---------------- the view ---------------- */

struct top_view_opts {
	uint64_t slow_ns;	/* how often slow sources are read (their rates look back this far); 0: 5 s */
	unsigned history;	/* sparkline points kept per row (0: 120) */
};

struct top_cell {
	double v;		/* in the column's unit */
	bool have;
	int sev;		/* enum severity by the column's threshold, or -1 */
};

struct top_row {
	char *key;		/* the row's labels, for people ("cpu1", "eth0 qdisc fq 0: (parent :1)") */
	char *json_labels;	/* {"cpu": "1"} as JSON text */
	struct top_cell c[TOP_MAX_COLS];
	const double *spark;	/* oldest first, nspark points (NAN: no value); NULL without CF_SPARK */
	size_t nspark;
	bool idle;		/* TF_HIDE_IDLE: nothing but zeros since the view started (drawn as a count) */
};

struct top_rows {
	struct top_row *v;
	size_t n;
	size_t idle;		/* rows with .idle set */
};

struct top_finding {
	char *id, *label, *title;
	enum severity sev;
};

struct top_view;

struct top_view *top_view_new(const struct top_view_opts *o);
void top_view_free(struct top_view *v);
/* Take frame f (the view owns it now): the newest sample.  Recomputes every table. */
void top_view_push(struct top_view *v, struct top_frame *f);
/* Forget every frame and history (a replay that jumps back starts over). */
void top_view_clear(struct top_view *v);
/* Frames pushed since the last clear; the newest one's times. */
unsigned long top_view_frames(const struct top_view *v);
uint64_t top_view_real_ns(const struct top_view *v);
uint64_t top_view_mono_ns(const struct top_view *v);

/* Rows of table t of panel p, in the order of the panel's sort. */
const struct top_rows *top_view_rows(const struct top_view *v, size_t p, size_t t);
/* The findings of the newest frame that had them, worst first; NULL, 0 before any. */
const struct top_finding *top_view_findings(const struct top_view *v, size_t *n);
/* The worst severity among panel p's rules (-1: none judged yet). */
int top_view_panel_sev(const struct top_view *v, size_t p);

/* Sorting the panel's first table with columns: by the row labels (col -1) or a column, largest first. */
void top_view_sort(struct top_view *v, size_t p, int col, bool reverse);
void top_view_get_sort(const struct top_view *v, size_t p, int *col, bool *reverse);
/* The panel's table that sorting applies to (the first with columns that is not TF_PAIRS), or -1. */
int top_panel_sort_table(size_t p);

/* "12.3", "1.2k", "-": a value in at most `width` characters. */
void top_fmt(char *buf, size_t n, const struct top_cell *c, int width);
/* The column's header with its unit, shortened for a terminal ("steal %", "rx pkt/s"). */
void top_col_header(char *buf, size_t n, const struct top_col *c);
/* A unit in at most five characters: "pkt/s", "/s" for "faults/s", "" for what does not fit. */
const char *top_unit_short(const char *unit);

/* ---------------- batch output ---------------- */

struct top_block_info {
	const char *source;	/* "live" or the input's path */
	unsigned long sample;	/* the sample's number in the run or the input */
};

/* One block of plain lines (every panel), ending with a blank line. */
void top_print_text(FILE *out, const struct top_view *v, const struct top_block_info *bi);
/* One JSON object on one line. */
void top_print_json(FILE *out, const struct top_view *v, const struct top_block_info *bi);

#endif
