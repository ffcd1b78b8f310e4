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
/* "name=warn,crit" (either may be empty to keep it). 0 or -EINVAL. */
int threshold_override(const char *spec);

struct evidence {
	char *metric;
	double value;
	double warn, crit;	/* < 0: none */
	char *unit;
	int cpu;		/* -1 when not per CPU */
	char *subject;		/* task, cgroup, device (optional) */
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
/* Evidence with thresholds taken from the table row t (or none if t < 0). */
struct evidence *finding_ev(struct finding *f, const char *metric, double value, int t, const char *unit);
struct evidence *finding_ev_cpu(struct finding *f, const char *metric, double value, int t,
				const char *unit, int cpu);
void findings_done(struct findings *fs);

/* Exit code by the Nagios convention: 2 crit, 1 warn, 0 ok, 3 all unknown. */
int findings_exit_code(const struct findings *fs);

#endif
