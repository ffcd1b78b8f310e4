/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Parsers of the small sysfs/procfs files the topology model reads: one
 * integer files (physical_package_id, numa_node = "-1"), NUMA node
 * `distance` rows and `meminfo`, cache `size`, and the topology fields of
 * /proc/cpuinfo (the fallback when /sys/devices/system/cpu is missing).
 * Same contract as parse.h: buffer + length, never read past it, 0 or
 * -EINVAL.  Kept apart from parse.h so that the topology work does not
 * collide with the other parsers.
 */
#ifndef HQ_PARSE_TOPO_H
#define HQ_PARSE_TOPO_H

#include <stddef.h>
#include <stdint.h>

/* A file holding one signed decimal integer and optional blanks/newline. */
int sysfs_int_parse(const char *buf, size_t len, int64_t *out);

/*
 * nodeN/distance: one SLIT row, "10 21".  Stores up to `max` values in
 * out[] and their count in *n.  Values must be 0..255 (the ACPI SLIT is a
 * byte); more than `max` values, or anything but numbers, is -EINVAL.
 */
int node_distance_parse(const char *buf, size_t len, int *out, size_t max, size_t *n);

/*
 * nodeN/meminfo ("Node 0 MemTotal:  256592 kB") or /proc/meminfo
 * ("MemTotal: 256592 kB"): MemTotal and MemFree in KiB.  node is the "Node N"
 * prefix of the first line, -1 without one.  -EINVAL if MemTotal is absent.
 */
struct node_meminfo {
	int node;
	uint64_t total_kib, free_kib;
	int has_free;
};
int node_meminfo_parse(const char *buf, size_t len, struct node_meminfo *out);

/*
 * /proc/zoneinfo: the pages present on each node ("present" of every zone of
 * "Node N, zone X", summed), into pages[N] for N < max (zeroed first).  The
 * page size cancels out where it is used (shares of the machine's memory).
 * Returns the number of nodes with present pages, or -EINVAL when no
 * "Node N, zone" block has a present line.
 */
int zoneinfo_present_parse(const char *buf, size_t len, uint64_t *pages, size_t max);

/* cache/indexK/size: "32K", "1024K", "32768K", "2M" (binary units). KiB out. */
int cache_size_parse(const char *buf, size_t len, uint64_t *kib);

/*
 * /proc/cpuinfo, one entry per "processor" block: its number and, when the
 * architecture prints them, "physical id" and "core id" (-1 when absent), and
 * the first "model name" seen.  *out is malloc'd (caller frees), sorted as
 * in the file.  At most max_cpus entries; processor numbers above max_id are
 * -EINVAL.  An input without any "processor" line gives 0 entries.
 */
struct cpuinfo_cpu {
	int cpu, package, core;
};
int cpuinfo_topo_parse(const char *buf, size_t len, int max_id, struct cpuinfo_cpu **out, size_t *n,
		       char *model, size_t model_cap);

#endif
