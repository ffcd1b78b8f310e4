/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* `hiddenq metrics`: the catalog, the sources, and what is available here. */
#ifndef HQ_SINK_METRICS_H
#define HQ_SINK_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "../analysis/analysis.h"
#include "../core/catalog.h"

struct metrics_view {
	const struct analysis *an;	/* NULL: the catalog alone, no machine */
	const char *input;		/* "live" or the bundle path */
	double window_s;
	bool src_ok[SRC_COUNT];
	char src_why[SRC_COUNT][256];
	bool m_ok[M_COUNT];
	char m_why[M_COUNT][256];
	unsigned quoted[M_COUNT];	/* evidence rows of this metric in the evaluation */
	bool have_cost;			/* live: what each source cost */
	double cost_ms_per_s[SRC_COUNT];	/* CPU ms of the sampling thread per second watched */
	uint64_t runs[SRC_COUNT];
};

json_t *metrics_json(const struct metrics_view *v);
/* all: also the metrics of sources that are down (else one line says how many) */
void metrics_text(FILE *out, const struct metrics_view *v, bool all);
bool metrics_source_down(const struct metrics_view *v, const struct metric_def *d);

#endif
