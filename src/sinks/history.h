/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The report's memory of a whole input (`hiddenq report`): the engine's
 * sample-scope series and each finding's verdicts over time, kept in at
 * most HISTORY_MAX_BUCKETS time buckets per line.  When the input outgrows
 * the buckets, each pair of neighbours is merged and the bucket width
 * doubles, so an hour and a week cost the same memory; a bucket keeps the
 * lowest, mean and highest value (histograms: their counts), so a 1 s peak
 * survives in a week-long plot.
 *
 * It reads only the catalog and the engine: gauges are plotted as they
 * are, counters as their rate between samples, histograms as quantiles of
 * what they counted in a bucket (the way a dashboard reads the exporter).
 * What each plot shows is a table (history.c); its units, titles and
 * threshold lines come from the catalog and thresholds.def.
 *
 * Times are CLOCK_REALTIME ns when the input has them (what a person reads
 * on the axis), else CLOCK_MONOTONIC.
 */
#ifndef HQ_HISTORY_H
#define HQ_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../analysis/analysis.h"
#include "../engine/engine.h"
#include "../engine/series.h"

#define HISTORY_MAX_BUCKETS 1200
#define HISTORY_FIRST_WIDTH_NS 1000000000ull	/* 1 s: the engine's windows */
#define HISTORY_MAX_LINES 256			/* per plot (a vCPU each: 256 vCPUs) */
#define HISTORY_MAX_HIST_LINES 32		/* per histogram plot (device x layer): 158 KiB each */
#define HISTORY_MAX_KEYS 8192			/* series whose last value a rate needs */
#define HISTORY_HIST_SLOTS (SERIES_MAX_BUCKETS + 1)	/* histogram buckets and +Inf */
#define HISTORY_MAX_DAMAGE 16
#define HISTORY_SLOW_FLUSH_NS 10000000000ull	/* a slow source's unchanged counter this long: it counted nothing */

enum plot_agg { AGG_MEAN, AGG_SUM, AGG_MAX };

/* One line (or a line per label value) of a plot: which series, which points, how they add up. */
struct plot_line_def {
	enum metric_id m;
	const char *match;	/* "resource=cpu,kind=some": only points with these label values; NULL: all */
	enum label_id by, by2;	/* a line per value of these labels; LBL_COUNT: none */
	enum plot_agg agg;	/* points of one sample on one line */
	const char *name;	/* the line's name (with `by`: put before the label values); NULL: the labels */
};

enum plot_ref { REF_NONE, REF_VCPUS };

struct plot_def {
	const char *id;		/* HTML id and JSON key: "steal" */
	const char *section;	/* the layer it belongs to: "hypervisor CPU" */
	const char *title;
	const char *what;	/* one sentence: what to read in it */
	struct plot_line_def lines[4];
	size_t nlines;
	int thresh[2];		/* thresholds.def rows drawn as warn/crit lines (-1: none) */
	enum plot_ref ref;	/* another reference line (REF_VCPUS: the vCPU count) */
	bool heat;		/* also a heat strip, one row per line (per-vCPU steal) */
};

extern const struct plot_def history_plots[];
extern const size_t history_nplots;

/*
 * How line row d of a plot is shown: gauges and histograms in the
 * catalog's display unit, counters as their rate (seconds per second as a
 * share of time in %, pages as pages/s ...).
 */
void plot_line_unit(const struct plot_line_def *d, const char **unit, double *scale);

struct hbucket {
	float min, max;
	double sum;
	uint32_t n;
};

struct hline {
	char *name;
	size_t def;			/* its row in the plot's lines */
	struct hbucket *b;		/* value lines: HISTORY_MAX_BUCKETS */
	uint32_t *hc;			/* histogram lines: HISTORY_MAX_BUCKETS * HISTORY_HIST_SLOTS counts */
	double le[HISTORY_HIST_SLOTS];	/* upper bounds in the plot's unit; the last is +Inf */
	size_t nle;
	/* the sample being fed */
	double acc;
	unsigned accn;
	uint64_t acc_t, acc_t0, acc_t1;	/* its time, and the span a rate covers (t0 == t1: an instant) */
	bool touched;
	uint64_t done_end, pending_end;	/* windowed series: the newest window taken */
	/* over everything (exact, whatever the merging) */
	double peak, sum;
	uint64_t peak_at, n;
};

struct hplot {
	const struct plot_def *def;
	const char *unit;	/* display unit of its values (every line's: the table is checked) */
	double scale;		/* display value = base value * scale, of its first line */
	double lscale[4];	/* the same for each line row */
	bool hist;		/* histogram lines: p50 and p99 */
	struct hline *lines;
	size_t nlines, cap;
	unsigned dropped;	/* values of lines beyond the cap, not kept */
	char why[320];		/* when it has no data: why (history_finish) */
};

struct hkey;

/* A finding over the whole input. */
struct hfinding {
	const char *id, *label;
	int failure_mode;
	enum severity last, worst;	/* worst: crit > warn > ok > unknown */
	uint64_t last_t, worst_at;	/* when it was first at its worst */
	char *worst_title, *worst_detail;
	double secs[SEV_UNKNOWN + 1];	/* time spent at each severity */
	bool seen;
};

struct history {
	struct hplot *plots;
	size_t nplots;
	uint64_t t0, width;	/* bucket 0 starts at t0; each bucket is width ns */
	size_t nb;		/* buckets in use */
	uint64_t first_t, last_t, nsamples;
	uint64_t last_mono, last_eval_mono, evals;
	unsigned restarts;	/* the engine's, at the last sample: counters start over after a gap */
	/* findings: for each rule and bucket, a bit per severity seen (1 << sev) */
	size_t nrules;
	uint8_t *sev;
	struct hfinding *f;
	/* series' previous values (rates, histogram increments): open addressing */
	struct hkey *keys;
	size_t nkeys, capkeys;
	unsigned gen;		/* bumped at each engine restart */
	unsigned keys_dropped;
	/* damage the engine's epochs named, collected before they retire */
	char *damage[HISTORY_MAX_DAMAGE];
	unsigned ndamage;
	unsigned vcpus;		/* for REF_VCPUS (history_finish) */
	const struct plot_line_def **bym[M_COUNT];	/* per metric: the line rows that read it */
	size_t *bymplot[M_COUNT];
	size_t nbym[M_COUNT];
};

void history_init(struct history *h);
/*
 * After engine_feed of s: take the engine's series, and (once a second of
 * input, and at the first sample) its findings.  Must not be called between
 * engine_acquire and engine_release; leaves every epoch released.
 */
void history_feed(struct history *h, struct engine *e, const struct sample *s);
/* After the last sample: why each empty plot is empty, and the facts the renderers add. */
void history_finish(struct history *h, struct engine *e);
void history_done(struct history *h);

/* Start time of bucket i. */
static inline uint64_t history_bucket_t(const struct history *h, size_t i)
{
	return h->t0 + (uint64_t)i * h->width;
}

/*
 * Line l of plot p in bucket i, in the plot's unit: false when the bucket
 * has no value.  Histogram lines: q is the quantile (0.5, 0.99), lo = hi =
 * mean.  Value lines ignore q.
 */
bool history_value(const struct hplot *p, const struct hline *l, size_t i, double q, double *lo, double *mean,
		   double *hi);
/* Quantile q over the whole input of a histogram line; NAN if it counted nothing. */
double history_quantile_all(const struct hplot *p, const struct hline *l, double q);
/* Whether the plot has anything to draw. */
bool history_plot_has_data(const struct hplot *p);
/* A threshold row in plot p's unit: false when it cannot be put in that unit. */
bool history_thresh_in_unit(const struct hplot *p, int t, double *warn, double *crit);

/* A finding's state in bucket i: its worst severity there, or -1 when it was not judged. */
int history_sev_at(const struct history *h, size_t rule, size_t i);

struct hspan {
	uint64_t from, to;	/* ns (the axis' clock) */
	enum severity sev;
};
/*
 * A finding's runs of one state, in bucket resolution, clipped to the
 * input's span: at most max into out; returns how many there are.
 */
size_t history_spans(const struct history *h, size_t rule, struct hspan *out, size_t max);

/* A stretch where any finding was warn or crit, ranked worst first. */
struct hperiod {
	uint64_t from, to;
	enum severity sev;	/* the worst of any finding in it */
	unsigned ncrit, nwarn;	/* findings that were crit (warn) in it */
	size_t rules[16];	/* those findings, crit first */
	size_t nrules;
};
size_t history_periods(const struct history *h, struct hperiod *out, size_t max);

/* What the renderers print beside the history. */
struct topo_view;
struct report_meta {
	const char *input;		/* the path given */
	const char *kind;		/* "recording" or "capture bundle" */
	struct environment env;
	struct capabilities caps;
	uint64_t interval_ns;		/* the input's sampling interval (0: not known) */
	unsigned skipped, bad_entries, truncated;	/* the reader's counts of damage */
	const struct topo_view *topo;	/* NULL: none readable (topo_why says why) */
	char topo_why[256];
	uint64_t from_real, to_real;	/* --from / --to (0: open) */
};

/* A span of seconds for people: "42 s", "3 min 5 s", "2 h 10 min", "1 d 4 h". */
void history_fmt_dur(double s, char *buf, size_t n);

#endif
