/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The analysis stage: samples in, findings out.  Pure and deterministic on a
 * bundle; the live run feeds the same functions as replay.
 */
#ifndef HQ_ANALYSIS_H
#define HQ_ANALYSIS_H

#include <jansson.h>

#include "bpfhist.h"
#include "cpu.h"
#include "findings.h"
#include "io.h"
#include "mem.h"

struct vms_analysis;

struct analysis {
	struct cpu_analysis cpu;
	struct mem_analysis mem;
	struct io_analysis io;	/* block and network queues (io.h) */
	struct bpfhist bpf;	/* eBPF histograms (bpfhist.h) */
	struct vms_analysis *host; /* VM processes on this machine (host/vms.h); NULL if none seen */
	const struct sample *statics;
	const char *source;	/* "live" or the bundle path */
};

void analysis_init(struct analysis *an, const struct sample *statics, const char *source);
void analysis_feed(struct analysis *an, const struct sample *s);
/* Compute the results for the rules; analysis_unfinish lets feeding go on. */
void analysis_finish(struct analysis *an);
void analysis_unfinish(struct analysis *an);
/* Bytes held by the growing arrays of the layers (approximate; for bounded-state checks). */
size_t analysis_state_bytes(const struct analysis *an);
void analysis_done(struct analysis *an);

/* The rule table (rules.def). */
struct rule_info {
	const char *id;
	int failure_mode;	/* 1..7, 0 outside the seven */
	const char *layer, *label;
	unsigned window_s;	/* judged over this window in continuous runs */
	const char *explain;	/* what a warn or crit means, whatever the figures */
	const char *next;	/* the first thing to do about a warn or crit */
};
size_t rules_count(void);
const struct rule_info *rules_info(size_t i);
/* The row of rules.def with this id; NULL if none. */
const struct rule_info *rule_by_id(const char *id);
/* The explain and next of finding f's row of rules.def ("" if none): evaluators quote them, never a copy. */
const char *rule_explain(const struct finding *f);
const char *rule_next(const struct finding *f);
/* Evaluate rule i into a new finding of out. */
struct finding *rule_evaluate(size_t i, const struct analysis *an, struct findings *out);
/* Evaluate every rule in rules.def, in order. */
void rules_evaluate(const struct analysis *an, struct findings *out);

/*
 * Whether source s of core/sources.def delivered in the samples, judged
 * from what the analysis saw (so live and replay agree); else false with
 * the reason in why.  metric_status adds what a metric needs beyond its
 * source (steal accounting for the steal metrics).
 */
bool source_status(const struct analysis *an, enum source_id s, char *why, size_t n);
bool metric_status(const struct analysis *an, enum metric_id m, char *why, size_t n);

/* What this machine lets us see. */
struct capability {
	const char *name;
	bool ok;
	char *detail;
};
struct capabilities {
	struct capability v[16];
	size_t n;
};
void capabilities_build(const struct analysis *an, struct capabilities *caps);
void capabilities_done(struct capabilities *caps);

/* Facts for the report header. */
struct environment {
	char hostname[128], kernel[128];
	const char *mode;		/* "guest" or "host" */
	char hypervisor[96];		/* "KVM", "QEMU TCG", "none" ... */
	char product[128];		/* DMI product, if any */
	char containers[160];		/* container markers, if any */
	char clocksource[32], cpuidle[32];
	unsigned vcpus;
};
void environment_build(const struct analysis *an, struct environment *env);

#endif
