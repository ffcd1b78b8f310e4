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
#include "hwlog.h"
#include "io.h"
#include "mem.h"

struct vms_analysis;

#define ANALYSIS_MAX_DAMAGE 16
#define ANALYSIS_GAP_MIN_NS 5000000000ull	/* a gap is at least this long ... */
#define ANALYSIS_GAP_FACTOR 20			/* ... and this many sampling intervals */

struct analysis {
	struct cpu_analysis cpu;
	struct mem_analysis mem;
	struct io_analysis io;	/* block and network queues (io.h) */
	struct bpfhist bpf;	/* eBPF histograms (bpfhist.h) */
	struct hwlog_analysis hw;	/* hardware and hypervisor errors in the kernel log (hwlog.h) */
	struct vms_analysis *host; /* VM processes on this machine (analysis/vms.h); NULL if none seen */
	const struct sample *statics;
	const char *source;	/* "live" or the bundle path */
	/*
	 * Damaged input, named in the report (text and the JSON "damaged" list):
	 * unreadable files, skipped samples, gaps in time.  One line each.
	 */
	char *damage[ANALYSIS_MAX_DAMAGE];
	unsigned ndamage;
	/*
	 * Gaps in time.  interval_ns is the sampling interval when known (the
	 * live run's, or the bundle's meta.json), 0 otherwise.  A gap longer than
	 * GAP_FACTOR intervals and ANALYSIS_GAP_MIN_NS (the machine or the capture
	 * was stopped) splits the samples: rates over it would be averages over
	 * time nobody watched, so the longest stretch without one is analysed, and
	 * the gap is named.  kept holds the best stretch so far while a later one
	 * is fed.
	 */
	uint64_t interval_ns, min_dt_ns, prev_mono_ns;
	unsigned nfed, ngaps, stretch_first, kept_first, kept_last;
	uint64_t gap_worst_ns;
	unsigned gap_worst_at;
	struct analysis *kept;
	bool no_gap_split;	/* continuous epochs: the engine starts over at a gap instead */
	unsigned ndamage_fed;	/* damage named while feeding, before analysis_finish added its own */
};

void analysis_init(struct analysis *an, const struct sample *statics, const char *source);
/* Name a piece of damaged input (printf-style; at most ANALYSIS_MAX_DAMAGE kept). */
void analysis_damaged(struct analysis *an, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
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

/*
 * The command-line switch that turned optional source `name` off for this run
 * (a row of the sources table -> its "--no-NAME"; "bpf" -> "--no-bpf" when all
 * three eBPF sources were off), read from .hiddenq/switches.json in the
 * statics; NULL when it was on, or when the run does not say (bundles from
 * before the file existed).
 */
const char *analysis_switched_off(const struct analysis *an, const char *name);

/* Evaluate one rule of rules.def by its id (with its minimum of data), NULL if there is none. */
struct finding *rules_evaluate_one(const struct analysis *an, const char *id, struct findings *out);

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

/* CPUs online in the watch (/proc/stat, else the recorded topology); 0 when not known. */
unsigned analysis_vcpus(const struct analysis *an);

/* Facts for the report header. */
struct environment {
	char hostname[128], kernel[128];
	const char *mode;		/* "guest" or "host" */
	char hypervisor[96];		/* "KVM", "QEMU TCG", "none" ... */
	char product[128];		/* DMI product, if any */
	char containers[160];		/* container markers, if any */
	char clocksource[32], cpuidle[32];
	unsigned vcpus;			/* 0: not known */
};
void environment_build(const struct analysis *an, struct environment *env);

#endif
