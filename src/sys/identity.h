/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Who are we running on?  The facts that are not files, probed on the live
 * machine: CPUID hypervisor leaves, our privileges, whether BTF is there,
 * container marker files.  They go into a sample as JSON (IDENTITY_PATH);
 * struct identity and its read-back are in parse/identity.h.
 */
#ifndef HQ_IDENTITY_H
#define HQ_IDENTITY_H

#include "../parse/identity.h"
#include "fsroot.h"

/* Probe the live machine; returns malloc'd JSON text. */
char *identity_probe_json(const struct fsroot *root);

#endif
