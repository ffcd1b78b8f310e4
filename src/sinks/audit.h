/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* `hiddenq audit`: the checklist's results as JSON and as text. */
#ifndef HQ_SINK_AUDIT_H
#define HQ_SINK_AUDIT_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "../analysis/audit.h"

json_t *audit_json(const struct audit_ctx *c, const struct audit_out *o);
/* verbose: every note, also on passing items */
void audit_print(FILE *f, const struct audit_ctx *c, const struct audit_out *o, bool verbose);

#endif
