/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* The diagnose report, in plain text and as JSON (same content). */
#ifndef HQ_REPORT_H
#define HQ_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "../analysis/analysis.h"
#include "../core/json.h"

struct report_opts {
	bool color;
	bool verbose;	/* explanations for ok findings too */
	unsigned width;
};

void report_text(FILE *out, const struct analysis *an, const struct findings *fs, const struct report_opts *o);
json_t *report_json(const struct analysis *an, const struct findings *fs);
/* One evidence row: metric, value, warn, crit, unit, cpu, labels, subject, t_mono_ns. */
json_t *evidence_json(const struct evidence *x);
/* {"hiddenq": ver, "error": msg} */
json_t *report_json_error(const char *msg);
void json_print(FILE *out, json_t *j);

#endif
