/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* `hiddenq sim` as text, JSON and (for sweeps) CSV. */
#ifndef HQ_SINK_SIM_H
#define HQ_SINK_SIM_H

#include <stdio.h>

#include <jansson.h>

#include "../sim/sim.h"

void sim_print_text(FILE *out, const char *path, const struct sim_scenario *sc, const struct sim_result *r);
json_t *sim_result_json(const char *path, const struct sim_scenario *sc, const struct sim_result *r);

/* one point of a sweep: the key's value and its run */
struct sim_point {
	double x;
	const struct sim_result *r;
};

void sim_sweep_text(FILE *out, const char *path, const char *key, const struct sim_point *pt, unsigned n);
void sim_sweep_csv(FILE *out, const char *key, const struct sim_point *pt, unsigned n);
json_t *sim_sweep_json(const char *path, const char *key, const struct sim_point *pt, unsigned n);

#endif
