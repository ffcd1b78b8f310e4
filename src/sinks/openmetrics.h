/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The exposition of the engine's state for Prometheus: the text format
 * 0.0.4 every scraper reads, and OpenMetrics 1.0 (units, info and counter
 * families, # EOF).  Names, types, units and help all come from the catalog.
 */
#ifndef HQ_OPENMETRICS_H
#define HQ_OPENMETRICS_H

#include <stddef.h>
#include <stdint.h>

#include "../analysis/findings.h"
#include "../engine/engine.h"

enum om_format { OM_TEXT_004, OM_OPENMETRICS_100 };

#define OM_CONTENT_TYPE_004 "text/plain; version=0.0.4; charset=utf-8"
#define OM_CONTENT_TYPE_100 "application/openmetrics-text; version=1.0.0; charset=utf-8"

/* hiddenq's own figures, measured by the process that serves */
struct om_self {
	uint64_t scrapes[4];		/* answered 200, 4xx, 5xx, other */
	double scrape_cpu_s;
	double sample_cpu_s;		/* all samples so far */
	double sample_last_s;		/* the last sample */
	double rss_bytes;
	const char *features;		/* build features, "bpf,numa,..." */
	bool have_sources;		/* live: the sampler's CPU time per source */
	double source_cpu_s[SRC_COUNT];
	uint64_t source_runs[SRC_COUNT];	/* 0: never read (off): not exported */
};

/*
 * Render every series the engine supplies, the findings' severities and the
 * window evidence they quote (low-cardinality labels only), and hiddenq's
 * own figures.  Returns a malloc'd text and its length.
 */
char *om_render(struct engine *e, const struct findings *fs, const struct om_self *self, enum om_format fmt,
		size_t *len);

/*
 * The text 0.0.4 exposition of an OpenMetrics body made by om_render, for
 * the same samples (serve renders OpenMetrics after each sample and derives
 * the text format only when a client asks for it).  Returns a malloc'd text
 * and its length.
 */
char *om_text_from_openmetrics(const char *om, size_t len, size_t *out_len);

#endif
