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
void analysis_finish(struct analysis *an);
void analysis_done(struct analysis *an);

/*
 * The command-line switch that turned optional source `name` off for this run
 * ("stalls" and "kmsg" -> "--no-stalls", "tasks" -> "--no-tasks", "cgroups" ->
 * "--no-cgroups", "bpf" -> "--no-bpf"), read from .hiddenq/switches.json in
 * the statics; NULL when it was on, or when the run does not say (bundles
 * from before the file existed).
 */
const char *analysis_switched_off(const struct analysis *an, const char *name);

/* Evaluate every rule in rules.def, in order. */
void rules_evaluate(const struct analysis *an, struct findings *out);

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
