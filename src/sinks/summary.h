/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * `hiddenq report --text` and `--json`: what the HTML report shows, in
 * words (the worst periods, each finding's warn and crit spans, the key
 * figures of every plot, what could not be drawn and why) or as one JSON
 * object for scripts and tests.
 */
#ifndef HQ_SINK_SUMMARY_H
#define HQ_SINK_SUMMARY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "history.h"

void summary_text(FILE *out, const struct history *h, const struct report_meta *m, bool color);
json_t *summary_json(const struct history *h, const struct report_meta *m);

#endif
