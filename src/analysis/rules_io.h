/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Evaluators of the IO and network rows of rules.def (rules_io.c). */
#ifndef HQ_RULES_IO_H
#define HQ_RULES_IO_H

#include "analysis.h"

void rule_virtqueue(const struct analysis *an, struct finding *f);
void rule_io_latency(const struct analysis *an, struct finding *f);

#endif
