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

/*
 * What every command's output shares (the conventions, docs/architecture.md):
 *
 * text_header: the first line of a command's text output, one shape for all:
 *   "hiddenq VERSION COMMAND — SUBJECT[, facts][, watched N s][ (replay of X)]"
 * report_json_error: the one JSON error object, {"hiddenq": ver, "error": msg,
 *   "exit": 3}; a command's JSON with a fatal error carries "error" at its top
 *   level too.
 * json_print: a JSON document on stdout, indented, keys in insertion order.
 */
void text_header(FILE *out, const char *command, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
json_t *report_json_error(const char *msg);
void json_print(FILE *out, json_t *j);

#endif
