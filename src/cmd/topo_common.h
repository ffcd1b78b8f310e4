/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Shared by `topo` and `fit`: where the topology comes from. */
#ifndef HQ_TOPO_COMMON_H
#define HQ_TOPO_COMMON_H

#include <stdbool.h>

#include "../sys/fsroot.h"
#include "../sys/identity.h"

/* "/" live, or the first sample of the bundle at `replay` (confined). */
int topo_root_open(const char *replay, struct fsroot *root, char **why);
/* Hypervisor identity: probed live, or .hiddenq/identity.json of the bundle. */
void topo_identity(const struct fsroot *root, bool live, struct identity *id);
/* Print {"error"} in JSON mode, the reason on stderr; returns EXIT_UNUSABLE. */

#endif
