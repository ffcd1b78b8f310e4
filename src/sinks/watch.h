/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The lines `hiddenq watch` prints: one per finding whose severity changed
 * (and one per finding at the start), in text for people and journald, or
 * as one JSON object per line.
 */
#ifndef HQ_SINK_WATCH_H
#define HQ_SINK_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "../analysis/findings.h"

struct watch_line {
	uint64_t real_ns, mono_ns;	/* of the sample the evaluation followed */
	const struct finding *f;
	bool start;			/* the first verdict, no previous one */
	enum severity from;		/* the previous verdict (unless start) */
	double window_s;		/* the window the finding was judged over */
};

void watch_line_text(FILE *out, const struct watch_line *l, bool color);
void watch_line_json(FILE *out, const struct watch_line *l);
/* {"event": name, "time": ..., "real_ns": ..., fields...} for stops and reloads (JSON mode); takes fields */
void watch_event_json(FILE *out, uint64_t real_ns, const char *event, json_t *fields);
/* "2026-12-03T10:15:02.123Z" */
void watch_time(char *buf, size_t n, uint64_t real_ns);

#endif
