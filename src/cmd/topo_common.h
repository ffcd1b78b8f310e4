/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Shared by `topo` and `fit`: where the topology comes from. */
#ifndef HQ_TOPO_COMMON_H
#define HQ_TOPO_COMMON_H

#include "../sys/fsroot.h"

/*
 * "/" live, or the statics of the bundle or recording at `replay` (confined;
 * a recording's are laid out in *tmpdir).  topo_root_close undoes both.
 */
int topo_root_open(const char *replay, struct fsroot *root, char **tmpdir, char **why);
void topo_root_close(struct fsroot *root, char *tmpdir);

#endif
