/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The engine's current values: every sample-scope series of the catalog
 * (counters, gauges, histograms, info) with its labels, in base units, as
 * of the last sample.  Sinks (the exporter, the live view) read these and
 * never learn a layer: the layer knowledge is here, once.
 */
#ifndef HQ_SERIES_H
#define HQ_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "../core/catalog.h"
#include "engine.h"

#define SERIES_MAX_LABELS 6
#define SERIES_MAX_BUCKETS 32

struct series_point {
	enum metric_id id;
	unsigned nlabels;
	struct {
		enum label_id key;
		const char *value;	/* valid during the callback only */
	} labels[SERIES_MAX_LABELS];
	double value;			/* counters, gauges, info (1): base unit */
	/* a value over a window (steal_last_window): the window's CLOCK_MONOTONIC bounds; 0: as of the last sample */
	uint64_t start_ns, end_ns;
	/* histograms: cumulative counts at each upper bound (base unit), +Inf implied by count */
	size_t nbuckets;
	double le[SERIES_MAX_BUCKETS];
	uint64_t bucket[SERIES_MAX_BUCKETS];
	uint64_t count;
	double sum;
};

typedef void (*series_fn)(const struct series_point *p, void *arg);

/*
 * Call fn for every series the engine can supply now, grouped by metric in
 * catalog order (all points of one metric together), findings excluded
 * (the caller has them).  Reads the newest epoch; nothing before the first
 * sample.  Must not be called between engine_acquire and engine_release.
 */
void engine_series(struct engine *e, series_fn fn, void *arg);

/* Count the 1 s steal windows closed since the last call into the engine's histograms (engine_feed calls it). */
void engine_series_update(struct engine *e);
void engine_series_done(struct engine *e);

/* The steal window histogram's upper bounds (ratio 0-1). */
extern const double steal_window_le[];
extern const size_t steal_window_nle;

#endif
