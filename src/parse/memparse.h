/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Parsers for the memory layer: name/value files (/proc/vmstat, node
 * numastat and vmstat, /proc/meminfo, node meminfo, smaps_rollup), THP
 * setting files ("always [madvise] never"), /proc/PID/numa_maps, and
 * /dev/kmsg records.  Same rules as parse.h: (buf, len), never past len,
 * 0 or -EINVAL.
 */
#ifndef HQ_MEMPARSE_H
#define HQ_MEMPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Pick the values of `keys` (sorted ascending by strcmp, n of them) out of a
 * file of "name value" or "Name:   value [kB]" lines.  "Node N " prefixes
 * (node meminfo) are skipped.  Values with a "kB" unit are returned in kB as
 * printed.  found[i] tells which keys were present; vals of missing keys are 0.
 * Returns the number of keys found, or -EINVAL if no line parsed at all.
 */
int kv_extract(const char *buf, size_t len, const char *const *keys, size_t n, uint64_t *vals, bool *found);

/* THP-style choice files: returns the bracketed word into out ("" if none). */
int bracket_choice(const char *buf, size_t len, char *out, size_t outlen);

/* /proc/PID/numa_maps: pages per node, weighted by kernelpagesize_kB. */
#define NUMA_MAPS_MAX_NODES 64
struct numa_maps_sum {
	uint64_t kb_on_node[NUMA_MAPS_MAX_NODES];	/* kB resident per node */
	uint64_t anon_kb, huge_kb, total_kb;
	unsigned nodes_seen;				/* highest node index + 1 */
	unsigned vmas;
};
int numa_maps_parse(const char *buf, size_t len, struct numa_maps_sum *out);

/* One /dev/kmsg record "<pri>,<seq>,<usec>,<flags>[,...];message\n". */
struct kmsg_rec {
	unsigned prio;		/* syslog level 0..7 */
	unsigned facility;	/* syslog facility: 0 the kernel's own, 1 (user) for lines written to /dev/kmsg */
	uint64_t seq, usec;	/* usec since boot */
	const char *msg;	/* points into buf, not NUL-terminated */
	size_t msglen;
};
int kmsg_parse(const char *buf, size_t len, struct kmsg_rec *out);

/* Classify a kernel message as a sign of a stalled guest; NULL if none. */
const char *kmsg_classify(const char *msg, size_t len);

#endif
