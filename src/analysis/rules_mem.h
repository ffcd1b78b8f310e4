/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Evaluators of the memory-layer rows of rules.def (rules_mem.c). */
#ifndef HQ_RULES_MEM_H
#define HQ_RULES_MEM_H

#include "analysis.h"

void rule_guest_memory(const struct analysis *an, struct finding *f);
void rule_overcommit(const struct analysis *an, struct finding *f);
void rule_thp(const struct analysis *an, struct finding *f);
void rule_numa(const struct analysis *an, struct finding *f);
void rule_stalls(const struct analysis *an, struct finding *f);

#endif
