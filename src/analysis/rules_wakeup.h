/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Evaluator of the idle-vcpu-wakeup row of rules.def (rules_wakeup.c). */
#ifndef HQ_RULES_WAKEUP_H
#define HQ_RULES_WAKEUP_H

#include "analysis.h"

void rule_idle_wakeup(const struct analysis *an, struct finding *f);

#endif
