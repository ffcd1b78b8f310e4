/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Execution stalls: which method watches for them, started and drained
 * through one interface so that ".hiddenq/stalls.json" has one shape
 * whatever ran (docs/bundle-format.md and docs/bpf-sources.md).
 *
 *   sampler  a thread sleeping 1 ms (stallmon.h): sees its own process not
 *            run, on the CPU it is on; ~2 % of one CPU on a KVM guest
 *   coarse   the same thread at 20 ms, 1 ms for 10 s after a wake-up 20 ms late
 *            (at most 5 % of the time)
 *   bpf      how late the kernel's own hrtimers run (sources/bpf/timerlate.c):
 *            every CPU, no wake-ups of our own; sees the vCPU (or the
 *            guest's interrupts) stopped, not a task waiting in the guest's
 *            run queue or a stopped process
 *   auto     bpf, or coarse when eBPF is refused (the default)
 *   off      nothing
 */
#ifndef HQ_STALLS_H
#define HQ_STALLS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "../core/sample.h"

enum stall_method { STALLS_OFF, STALLS_AUTO, STALLS_BPF, STALLS_COARSE, STALLS_SAMPLER };

#define STALL_THRESHOLD_NS 2000000ull		/* a wake-up or timer this late is a stall */
#define STALL_SAMPLER_SLEEP_NS 1000000ull
#define STALL_COARSE_SLEEP_NS 20000000ull
#define STALL_COARSE_TIGHTEN_NS 20000000ull	/* a wake-up this late tightens the coarse sampler ... */
#define STALL_COARSE_HOLD_NS 10000000000ull	/* ... to 1 ms, for this long after the last one, */
#define STALL_COARSE_TIGHT_PERMILLE 50		/* ... but at most 5 % of the time */

/* "off", "auto", "bpf", "coarse", "sampler" */
const char *stall_method_name(enum stall_method m);
/* The name back to the method: 0, or -EINVAL. */
int stall_method_parse(const char *name, enum stall_method *m);

struct stalls;

/*
 * Start what `asked` names (NULL for STALLS_OFF).  auto starts bpf, or
 * coarse when eBPF is refused; an explicit bpf that is refused starts
 * nothing and every drain says why.  Warnings go to stderr.
 */
struct stalls *stalls_start(enum stall_method asked);
/* Add ".hiddenq/stalls.json" (slow: with the per-CPU histograms of bpf). */
void stalls_drain(struct stalls *s, struct sample *out, bool slow);
void stalls_stop(struct stalls *s);
/* What runs (STALLS_OFF when nothing could); *why: why not what was asked, or NULL. */
enum stall_method stalls_running(const struct stalls *s, const char **why);
/* For meta.json's sources: {"available", "method", "asked", "reason"}. */
json_t *stalls_source_json(const struct stalls *s);
/* bpf: its programs' run time and runs since load, [0] expiry, [1] start (0 unless BPF stats are on). */
void stalls_bpf_stats(const struct stalls *s, uint64_t run_ns[2], uint64_t runs[2]);

#endif
