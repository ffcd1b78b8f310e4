/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* What the probe commands (cmd/probe_NAME.c) share, around their probe's run. */
#ifndef HQ_PROBE_CMD_H
#define HQ_PROBE_CMD_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "../probe/probe.h"

/* Before the run: Ctrl-C handlers and clean-up, the context's first half. */
void probe_cmd_begin(struct probe_env *e);
/* After it: the context's second half, then the report of result r (taken)
 * through print.  EXIT_UNUSABLE when fail_on_error and r has "error", else EXIT_OK. */
int probe_cmd_end(bool json, const char *name, json_t *r, struct probe_env *e, void (*print)(FILE *out, json_t *r),
		  bool fail_on_error);

#endif
