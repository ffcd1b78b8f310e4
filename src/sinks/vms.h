/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* `hiddenq vms`: host mode's figures (analysis/vms.h) as text and JSON. */
#ifndef HQ_SINK_VMS_H
#define HQ_SINK_VMS_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "../analysis/analysis.h"
#include "../analysis/vms.h"

json_t *vms_json(const struct vms_analysis *a);
void vms_print(FILE *out, const struct vms_analysis *a, bool verbose);

/* The whole `hiddenq vms` output: the figures of an->host and the host
 * findings after them (cpu-pinning-conflict, migration-convergence); in JSON
 * with "findings" and "hiddenq". */
json_t *vms_report_json(const struct analysis *an, const struct findings *fs);
void vms_report_text(FILE *out, const struct analysis *an, const struct findings *fs, bool verbose);

#endif
