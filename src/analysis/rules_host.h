/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Evaluators of the host-mode rows of rules.def (rules_host.c). */
#ifndef HQ_RULES_HOST_H
#define HQ_RULES_HOST_H

#include "analysis.h"

void rule_pinning(const struct analysis *an, struct finding *f);
void rule_migration(const struct analysis *an, struct finding *f);

#endif
