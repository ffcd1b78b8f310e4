/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Steal: time a vCPU was runnable but not run.  A guest counts it in the
 * steal column of /proc/stat (analysis/cpu.c over the watch, the probes'
 * context around a run); on the host the same wait is the run delay of the
 * vCPU's thread (schedstat, analysis/vms.c), which is exactly what KVM hands
 * the guest as steal.  One computation of the share and one severity
 * against the steal rows of thresholds.def, for all of them.
 */
#ifndef HQ_STEAL_H
#define HQ_STEAL_H

#include <stdint.h>

#include "../parse/parse.h"
#include "findings.h"

/* waited as a share of elapsed (same unit: ticks or ns), in %; -1 when
 * nothing elapsed.  Not clamped: a run delay read a little after its clock
 * can exceed 100, and callers that show it clamp it. */
double steal_pct(uint64_t waited, uint64_t elapsed);

/* Steal between two /proc/stat readings of one CPU (or of the aggregate
 * line): 0 when no tick passed, -1 when unknown (no steal column in a,
 * counters went backwards, either reading missing). */
double steal_pct_between(const struct cpu_times *a, const struct cpu_times *b);

/* Severity of one vCPU's steal over a watch: its average, how many 1 s
 * windows reached 20 %, its worst 1 s window (-1 none).  Never unknown:
 * whether steal is measured at all is the caller's question. */
enum severity steal_severity(double avg_pct, double windows_ge20, double worst_1s_pct);

#endif
