/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Findings: the verdict per layer, with the metric values that produced it.
 * The rule table (rules.def) lists every finding; thresholds.def holds every
 * number a rule compares against.
 */
#ifndef HQ_FINDINGS_H
#define HQ_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/catalog.h"

enum severity { SEV_OK, SEV_WARN, SEV_CRIT, SEV_UNKNOWN };

const char *severity_name(enum severity s);

enum thresh_id {
#define THRESH(e, name, w, c, unit, help) e,
#include "thresholds.def"
#undef THRESH
	T_COUNT
};

struct threshold {
	const char *name;
	double warn, crit;	/* < 0: level does not apply */
	const char *unit;
	const char *help;
};
extern struct threshold thresholds[T_COUNT];
/*
 * "name=warn,crit": either may be empty (keep it) or "off"/-1 (the level
 * does not apply).  Levels are finite and not negative, warn <= crit, and
 * thresholds that count things are at least 1.  0 or -EINVAL with the
 * reason in *why (static text); the row is untouched on error.
 */
int threshold_override(const char *spec);
int threshold_override_why(const char *spec, const char **why);
int threshold_set(const char *name, const char *value, const char **why);
/* Back to the values of thresholds.def. */
void thresholds_reset(void);
/*
 * Overrides from an INI text or file:
 *     [thresholds]
 *     steal_pct_avg = 10, 20
 * All or nothing: on error nothing changes and *why (malloc'd) says which line and why.
 */
int thresholds_load_string(const char *text, char **why);
int thresholds_load_file(const char *path, char **why);

#define EV_MAX_LABELS 6

struct ev_label {
	enum label_id key;
	char *value;		/* owned */
};

struct evidence {
	enum metric_id id;	/* the catalog row (core/metrics.def) */
	const char *metric;	/* its evidence name (catalog) */
	double value;		/* in the row's display unit */
	double warn, crit;	/* < 0: none */
	const char *unit;	/* the row's display unit (catalog) */
	int cpu;		/* -1 when not per CPU (also label cpu) */
	struct ev_label labels[EV_MAX_LABELS];
	unsigned nlabels;
	char *subject;		/* the labels rendered for humans (or set by the rule) */
	uint64_t t_mono_ns;	/* when it happened, CLOCK_MONOTONIC (0: not an event) */
};

struct finding {
	const char *id;
	int failure_mode;	/* 1..7, or 0 for findings outside the seven */
	const char *layer;	/* machine name: "hypervisor-cpu" */
	const char *label;	/* column label: "hypervisor CPU" */
	enum severity sev;
	char *title;		/* one line */
	char *detail;		/* one line of figures for the text view */
	char *explain;
	char **next;
	size_t nnext;
	struct evidence *ev;
	size_t nev, capev;
};

struct findings {
	struct finding *v;
	size_t n, cap;
};

struct finding *findings_add(struct findings *fs, const char *id, int failure_mode,
			     const char *layer, const char *label);
void finding_set(struct finding *f, enum severity sev, const char *title_fmt, ...)
	__attribute__((format(printf, 3, 4)));
void finding_detail(struct finding *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void finding_explain(struct finding *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void finding_next(struct finding *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the explanation and the next steps (the verdict they went with was withdrawn). */
void finding_reset_advice(struct finding *f);
/*
 * Evidence: the catalog row m with its value in the row's display unit, and
 * the thresholds of row t of thresholds.def (none if t < 0).  Labels are
 * added with ev_label; the subject follows them.
 */
struct evidence *finding_ev(struct finding *f, enum metric_id m, double value, int t);
struct evidence *finding_ev_cpu(struct finding *f, enum metric_id m, double value, int t, int cpu);
/* Add label l (formatted); refreshes the subject.  Returns e for chaining. */
struct evidence *ev_label(struct evidence *e, enum label_id l, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The value of label l, or NULL. */
const char *ev_label_value(const struct evidence *e, enum label_id l);
void findings_done(struct findings *fs);

/* Exit code by the Nagios convention: 2 crit, 1 warn, 0 ok, 3 all unknown. */
int findings_exit_code(const struct findings *fs);

#endif
