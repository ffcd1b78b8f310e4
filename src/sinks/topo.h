/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* `hiddenq topo`: the topology and its view (topo/view.h) as text and JSON. */
#ifndef HQ_SINK_TOPO_H
#define HQ_SINK_TOPO_H

#include <stdio.h>

#include <jansson.h>

#include "../topo/view.h"

/* The text report, without padding at line ends; the topology's warnings go to log_warn. */
void topo_print(FILE *out, const struct topo_view *v);
json_t *topo_json(const struct topo_view *v);

#endif
