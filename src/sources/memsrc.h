/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Slow-tick readers of the memory layer: per-node numastat and meminfo
 * (about once a second), and for the processes using the most memory, where
 * their pages are (numa_maps), THP and swap (smaps_rollup, status) and where
 * their threads ran (task stat) — every few seconds and within a time budget,
 * because numa_maps walks the page tables of the whole process.
 */
#ifndef HQ_MEMSRC_H
#define HQ_MEMSRC_H

#include "../core/sample.h"
#include "../sys/fsroot.h"

#define MEMSRC_TOP_PROCS 3
#define MEMSRC_PROC_EVERY 5	/* slow ticks between numa_maps scans */
#define MEMSRC_BUDGET_NS 50000000ull

void memsrc_nodes(const struct fsroot *root, struct sample *out, bool with_topology);
/* Returns the time spent (ns) so the caller can report the cost. */
uint64_t memsrc_procs(const struct fsroot *root, struct sample *out);

#endif
