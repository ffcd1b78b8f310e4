/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hwloc where it is linked (the dynamic build: HAVE_HWLOC), stubs where it
 * is not (`make static`, fuzzers).  hwloc is used for two things only:
 *   - I/O locality of the live machine: which NUMA node each NIC, block
 *     device and GPU hangs off, including devices whose sysfs class entry
 *     does not make that obvious;
 *   - a cross-check of our sysfs model's counts (tests assert they agree).
 * The static build cannot link hwloc (Debian's libhwloc.a needs libudev,
 * which ships no static library), hence the split: the model itself is
 * sysfs-only (topo.c) and this file adds to it.
 */
#include "topo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

#ifdef HAVE_HWLOC
#include <hwloc.h>

static int load(hwloc_topology_t *topo, bool io)
{
#ifdef __SANITIZE_ADDRESS__
	/*
	 * libpciaccess, behind hwloc's pci plugin, leaks ~1 KiB per load and is
	 * dlclose'd before LeakSanitizer reports, so the leak cannot be
	 * suppressed by name.  Sanitizer builds leave that plugin out; hwloc's
	 * linuxio backend still places the OS devices.
	 */
	if (io)
		setenv("HWLOC_COMPONENTS", "-pci", 0);
#endif
	if (hwloc_topology_init(topo) < 0)
		return -EIO;
	if (io)
		hwloc_topology_set_io_types_filter(*topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
	if (hwloc_topology_load(*topo) < 0) {
		hwloc_topology_destroy(*topo);
		return -EIO;
	}
	return 0;
}

int topo_hwloc_counts(struct topo_hw_counts *c)
{
	memset(c, 0, sizeof(*c));
	hwloc_topology_t topo;
	int ret = load(&topo, false);
	if (ret < 0)
		return ret;
	int n;
	n = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
	c->packages = n > 0 ? (unsigned)n : 0;
	n = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
	c->cores = n > 0 ? (unsigned)n : 0;
	n = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
	c->pus = n > 0 ? (unsigned)n : 0;
	n = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
	c->nodes = n > 0 ? (unsigned)n : 0;
	for (unsigned i = 0; i < c->nodes && i < ARRAY_SIZE(c->node_cpus); i++) {
		hwloc_obj_t o = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, i);
		char *s = NULL;
		if (!o || hwloc_bitmap_list_asprintf(&s, o->cpuset) < 0 || !s)
			continue;
		c->node_cpus[i] = xstrdup(s);
		free(s);
		c->node_ids[i] = (int)o->os_index;
	}
	hwloc_topology_destroy(topo);
	return 0;
}

static const char *osdev_class(hwloc_obj_t o)
{
	switch (o->attr->osdev.type) {
	case HWLOC_OBJ_OSDEV_NETWORK: return "net";
#if HWLOC_API_VERSION >= 0x00030000
	case HWLOC_OBJ_OSDEV_STORAGE: return "block";
#else
	case HWLOC_OBJ_OSDEV_BLOCK: return "block";
#endif
	case HWLOC_OBJ_OSDEV_GPU: return "gpu";
	default: return NULL;
	}
}

int topo_hwloc_devices(struct topo *t)
{
	hwloc_topology_t topo;
	int ret = load(&topo, true);
	if (ret < 0)
		return ret;
	int nn = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
	for (hwloc_obj_t o = hwloc_get_next_osdev(topo, NULL); o; o = hwloc_get_next_osdev(topo, o)) {
		const char *cls = osdev_class(o);
		if (!cls || !o->name)
			continue;
		hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(topo, o);
		int node = -1;
		/* a single node below the ancestor is a locality; all nodes of a
		 * multi-node machine (attached at the Machine level) is not */
		if (anc && anc->nodeset && hwloc_bitmap_weight(anc->nodeset) == 1)
			node = hwloc_bitmap_first(anc->nodeset);
		else if (anc && nn == 1)
			node = 0;
		struct topo_device *d = NULL;
		for (size_t i = 0; i < t->ndevs; i++)
			if (!strcmp(t->devs[i].name, o->name) && !strcmp(t->devs[i].cls, cls))
				d = &t->devs[i];
		if (d) {
			if (d->node < 0 && node >= 0) {
				d->node = node;
				d->source = "hwloc";
			}
		} else {
			t->devs = xrealloc(t->devs, (t->ndevs + 1) * sizeof(*t->devs));
			d = &t->devs[t->ndevs++];
			snprintf(d->name, sizeof(d->name), "%s", o->name);
			d->cls = cls;
			d->node = node;
			d->source = node >= 0 ? "hwloc" : "none";
		}
	}
	hwloc_topology_destroy(topo);
	return 0;
}

const char *topo_hwloc_version(void)
{
	static char buf[48];
	unsigned v = hwloc_get_api_version();
	snprintf(buf, sizeof(buf), "hwloc API %u.%u.%u", v >> 16, (v >> 8) & 0xff, v & 0xff);
	return buf;
}

#else /* !HAVE_HWLOC */

int topo_hwloc_counts(struct topo_hw_counts *c)
{
	memset(c, 0, sizeof(*c));
	return -ENOTSUP;
}

int topo_hwloc_devices(struct topo *t)
{
	(void)t;
	return -ENOTSUP;
}

const char *topo_hwloc_version(void)
{
	return "no hwloc (static build)";
}

#endif

void topo_hwloc_counts_done(struct topo_hw_counts *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(c->node_cpus); i++)
		free(c->node_cpus[i]);
	memset(c, 0, sizeof(*c));
}
