/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Parsers for the IO and network layers: /proc/diskstats (14, 18 or 20
 * columns by kernel), /proc/net/dev, /proc/net/softnet_stat (11 to 15+
 * columns; CPU id from column 13 when the kernel prints it), the header/value
 * line pairs of /proc/net/snmp and /proc/net/netstat (matched by header name,
 * never by position), and per-CPU tables (/proc/interrupts, /proc/softirqs)
 * with the virtio MSI-X vector names classified.  Same rules as parse.h:
 * (buf, len), never read past len, 0 or -EINVAL; what cannot be recognised
 * is skipped, never guessed.
 */
#ifndef HQ_IOPARSE_H
#define HQ_IOPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpumask.h"	/* cpumask_hex_parse for rps_cpus and xps_cpus */

/* ---- /proc/diskstats (parse/diskstats.c) ---- */

enum ds_field {
	DS_RD_IOS, DS_RD_MERGES, DS_RD_SECTORS, DS_RD_MS,
	DS_WR_IOS, DS_WR_MERGES, DS_WR_SECTORS, DS_WR_MS,
	DS_IN_FLIGHT, DS_IO_MS, DS_WEIGHTED_MS,
	DS_DC_IOS, DS_DC_MERGES, DS_DC_SECTORS, DS_DC_MS,	/* 4.18+ */
	DS_FL_IOS, DS_FL_MS,					/* 5.5+ */
	DS_N
};

struct disk_stat {
	unsigned major, minor;
	char name[32];
	unsigned nfields;	/* value columns after the name: 11, 15 or 17 */
	uint64_t f[DS_N];	/* missing columns are 0 */
};

struct diskstats {
	struct disk_stat *v;	/* owned, in file order */
	size_t n;
};

int diskstats_parse(const char *buf, size_t len, struct diskstats *out);
void diskstats_done(struct diskstats *ds);
const struct disk_stat *diskstats_find(const struct diskstats *ds, const char *name);
/* The ms fields are printed as (unsigned int) and wrap at 2^32. */
bool ds_field_is_ms32(enum ds_field f);

/*
 * Delta of one device between two samples.  Returns false when the device
 * was reset (an io or sector counter went backwards, or the column count
 * changed): that interval is unusable.  ms fields that go backwards while the
 * io counts do not are taken as a 2^32 wrap.  in_flight is the later value.
 */
bool disk_delta(const struct disk_stat *a, const struct disk_stat *b, uint64_t d[DS_N]);

/* Partitions are skipped by analysis: "sda1", "vda2", "nvme0n1p1", "mmcblk0p1". */
bool disk_name_is_partition(const char *name, const char *const *whole, size_t nwhole);

/* ---- /proc/net/dev (parse/netfiles.c) ---- */

enum nd_field {
	ND_RX_BYTES, ND_RX_PACKETS, ND_RX_ERRS, ND_RX_DROP, ND_RX_FIFO, ND_RX_FRAME, ND_RX_COMPRESSED,
	ND_RX_MULTICAST,
	ND_TX_BYTES, ND_TX_PACKETS, ND_TX_ERRS, ND_TX_DROP, ND_TX_FIFO, ND_TX_COLLS, ND_TX_CARRIER,
	ND_TX_COMPRESSED,
	ND_N
};

struct netdev_stat {
	char name[32];
	uint64_t f[ND_N];
};

struct netdevs {
	struct netdev_stat *v;	/* owned */
	size_t n;
};

int netdev_parse(const char *buf, size_t len, struct netdevs *out);
void netdevs_done(struct netdevs *nd);
const struct netdev_stat *netdevs_find(const struct netdevs *nd, const char *name);

/* ---- /proc/net/softnet_stat ---- */

struct softnet_cpu {
	int cpu;		/* from column 13 when present, else the line index */
	bool cpu_from_column;
	unsigned ncols;
	uint32_t processed, dropped, time_squeeze, received_rps, flow_limit;
	uint32_t backlog_len, input_qlen, process_qlen;	/* 0 when not printed */
};

struct softnet {
	struct softnet_cpu *v;	/* owned */
	size_t n;
};

int softnet_parse(const char *buf, size_t len, struct softnet *out);
void softnet_done(struct softnet *sn);
const struct softnet_cpu *softnet_cpu(const struct softnet *sn, int cpu);

/* u32 counters that wrap: the forward distance from a to b. */
static inline uint64_t u32_delta(uint64_t a, uint64_t b)
{
	return (uint32_t)((uint32_t)b - (uint32_t)a);
}

/* ---- /proc/net/snmp and /proc/net/netstat ---- */

/*
 * Find the "Prefix: name name ..." header line followed by its
 * "Prefix: value value ..." line, and pick keys[i] by header name.  Values
 * are signed (MaxConn prints -1).  Keys need not be sorted.  Returns the
 * number of keys found, or -EINVAL when the prefix pair is absent or broken
 * (different token counts).
 */
int snmp_pairs_extract(const char *buf, size_t len, const char *prefix, const char *const *keys, size_t n,
		       int64_t *vals, bool *found);

/* ---- per-CPU tables: /proc/interrupts and /proc/softirqs ---- */

struct pcpu_row {
	char label[24];		/* "36", "NMI", "NET_RX" (without ':') */
	char action[64];	/* last word of the description: "virtio2-input.0"; "" if none */
	char desc[96];		/* the rest of the line after the counts, trimmed */
	uint64_t *count;	/* ncpus entries, by column (owned) */
	uint64_t total;
};

struct pcpu_table {
	int *cpu;		/* CPU id of each column, from the "CPUn" header (owned) */
	size_t ncpus;
	struct pcpu_row *rows;	/* owned */
	size_t nrows;
};

int pcpu_table_parse(const char *buf, size_t len, struct pcpu_table *out);
void pcpu_table_done(struct pcpu_table *t);
const struct pcpu_row *pcpu_table_find(const struct pcpu_table *t, const char *label);
/* Column of CPU `cpu`, or -1. */
int pcpu_table_col(const struct pcpu_table *t, int cpu);

/* virtio MSI-X vector names (drivers/virtio/virtio_pci_common.c). */
enum virtio_irq_kind {
	VIRQ_NONE,		/* not a virtio vector */
	VIRQ_CONFIG,		/* virtioN-config */
	VIRQ_SHARED,		/* virtioN-virtqueues: one vector for every queue */
	VIRQ_INTX,		/* virtioN: legacy INTx */
	VIRQ_NET_RX,		/* virtioN-input.Q */
	VIRQ_NET_TX,		/* virtioN-output.Q */
	VIRQ_BLK,		/* virtioN-req.Q */
	VIRQ_OTHER,		/* balloon, vsock, rng, console queues */
};

struct virtio_irq {
	enum virtio_irq_kind kind;
	int dev;		/* the N of virtioN */
	int queue;		/* Q, or -1 */
	char vq[32];		/* the virtqueue name after '-' */
};

/* Classify one action name; kind VIRQ_NONE when it is not virtio's. */
void virtio_irq_classify(const char *action, struct virtio_irq *out);

#endif
