/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* `hiddenq lab` as text (the JSON is the lab's document itself, probe/lab.h). */
#ifndef HQ_SINK_LAB_H
#define HQ_SINK_LAB_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

/* doc: the lab's document; vm_why, vm_driver and vm_elapsed_s: its test VM, when doc has "vm". */
void lab_print(FILE *out, json_t *doc, bool verbose, const char *vm_why, const char *vm_driver, double vm_elapsed_s);
/* The --spike document ({"hiddenq", "spike"}) as one line. */
void lab_spike_print(FILE *out, json_t *doc, unsigned mib);

#endif
