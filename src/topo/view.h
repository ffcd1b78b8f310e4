/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * What `hiddenq topo` shows beside the topology itself: the hypervisor
 * (CPUID identity, DMI, sys/hypervisor), whether this is a guest, and the
 * sorted socket and core ids of online CPUs that the cpu_layout table is
 * built on.  Read once through an fsroot; sinks/topo.c prints it.
 */
#ifndef HQ_TOPO_VIEW_H
#define HQ_TOPO_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "../parse/identity.h"
#include "../sys/fsroot.h"
#include "topo.h"

struct stack;	/* analysis/stack.h: the virtualization stack, built by cmd/topo.c */

struct topo_view {
	const struct topo *t;
	const struct stack *stack;	/* NULL: not shown */
	struct identity id;
	char dmi_vendor[64], dmi_product[96], hv_type[32];
	const char *hv;		/* hypervisor name or NULL */
	bool guest;		/* known to be a guest */
	bool guest_known;
	const char *source;
	int hwloc;		/* 0 used, -ENOTSUP, -EIO, 1 not asked */
	int *sockets;		/* distinct packages of online CPUs, sorted */
	size_t nsockets;
	int *coreids;		/* distinct core ids of online CPUs, sorted */
	size_t ncoreids;
};

/* Hypervisor identity: probed live, or .hiddenq/identity.json of the bundle. */
void topo_identity(const struct fsroot *root, bool live, struct identity *id);
/* t must outlive v; source is "live" or the bundle path. */
void topo_view_init(struct topo_view *v, const struct topo *t, const struct fsroot *root, bool live,
		    const char *source);
void topo_view_done(struct topo_view *v);

#endif
