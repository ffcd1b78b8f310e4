/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Shared by `topo` and `fit`: where the topology comes from. */
#ifndef HQ_TOPO_COMMON_H
#define HQ_TOPO_COMMON_H

#include "../sys/fsroot.h"

/* "/" live, or the first sample of the bundle at `replay` (confined). */
int topo_root_open(const char *replay, struct fsroot *root, char **why);

#endif
