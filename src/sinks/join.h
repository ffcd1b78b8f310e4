/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* hiddenq join, as text (the JSON is analysis/join.h's join_json). */
#ifndef HQ_SINK_JOIN_H
#define HQ_SINK_JOIN_H

#include <stdio.h>

#include "../analysis/join.h"

void join_print(FILE *out, const struct join_result *j, const char *guest_src, const char *host_src);

#endif
