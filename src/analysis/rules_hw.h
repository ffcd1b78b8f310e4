/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* The evaluator of hardware-errors (rules_hw.c): the kernel log's hardware and hypervisor errors. */
#ifndef HQ_RULES_HW_H
#define HQ_RULES_HW_H

#include "analysis.h"

void rule_hwlog(const struct analysis *an, struct finding *f);

#endif
