/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The IO and network layers from a stream of samples.
 *
 *  block: per whole disk, diskstats deltas summed over the intervals in
 *      which the device was not reset (IOPS, await, aqu-sz, util, flushes),
 *      the queue configuration from the statics (scheduler, nr_requests,
 *      write cache, hardware queues, virtio or not), PSI io for the time
 *      tasks stalled on IO, and the eBPF block-latency histograms
 *      (".hiddenq/biolat.json", cumulative log2 us) when they were captured.
 *  network: per interface /proc/net/dev deltas, softnet per CPU (drops,
 *      time_squeeze), qdisc deltas and backlog maxima (leaves only: an `mq`
 *      root, or any qdisc that has child qdiscs, is the sum of its children
 *      and is not counted again), per-queue counters from ethtool (by name:
 *      rx_queue_N_* before 6.10, rxN_* after) and netdev qstats, per-queue
 *      virtio interrupts per CPU, TCP/UDP error counters by header name.
 *
 * Counters are accumulated as non-negative steps between consecutive
 * samples, so a reset or a device that disappears costs one interval, not
 * the watch.  u32 counters (softnet, diskstats ms) wrap.
 */
#ifndef HQ_ANALYSIS_IO_H
#define HQ_ANALYSIS_IO_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "../core/sample.h"
#include "../parse/ioparse.h"

#define IO_MAX_DISKS 256
#define IO_MAX_IFACES 64
#define IO_MAX_QDISCS 512
#define IO_MAX_CPUS 1024
#define IO_MAX_QMASKS 16	/* per-queue RPS/XPS CPU lists kept per interface */

struct disk_acc {
	char name[32];
	struct disk_stat prev;
	uint64_t prev_ns;
	bool have_prev, seen_now;
	uint64_t d[DS_N];		/* summed deltas (in_flight: max seen) */
	uint64_t span_ns;		/* time covered by usable intervals */
	unsigned intervals, resets;
	double worst_await_ms;		/* worst interval with >= 10 IOs */
	/* configuration (statics) */
	char scheduler[32], write_cache[32], driver[32], model[64];
	int nr_requests, rotational, nr_hw_queues, hw_sector;
	char mq_cpus[8][32];		/* cpu_list of the first hardware queues */
	bool virtio, have_config;
};

struct iface_acc {
	char name[32];
	struct netdev_stat prev;
	uint64_t prev_ns;
	bool have_prev, seen_now;
	uint64_t d[ND_N];
	uint64_t span_ns;
	/* configuration */
	char driver[32], device[32];
	bool virtio;
	int mtu, tx_queue_len, nrx, ntx;	/* queues from /sys/class/net/DEV/queues */
	int rps_cpus_set, xps_queues_set;
	/* the CPUs of each queue's rps_cpus / xps_cpus ("0-1,3", "none"; "" unreadable), first queues only */
	char rps_list[IO_MAX_QMASKS][40], xps_list[IO_MAX_QMASKS][40];
	int rps_n[IO_MAX_QMASKS], xps_n[IO_MAX_QMASKS];	/* CPUs in each, -1 unreadable */
};

struct softnet_acc {
	int cpu;
	struct softnet_cpu prev;
	bool have_prev;
	uint64_t processed, dropped, squeezed;
	unsigned ncols;
};

enum qd_ctr { QD_BYTES, QD_PACKETS, QD_DROPS, QD_REQUEUES, QD_OVERLIMITS, QD_NCTR };

struct qdisc_rec {
	int ifindex;
	char ifname[32], kind[24], handle[16], parent[16];
	uint64_t c[QD_NCTR];
	uint64_t qlen, backlog;
};

struct qdisc_acc {
	struct qdisc_rec last;
	uint64_t prev[QD_NCTR], d[QD_NCTR];
	uint64_t qlen_max, backlog_max;
	bool is_parent;		/* has child qdiscs: its counters are theirs (set by qdisc_mark_parents) */
	int txq;		/* TX queue under an mq-like root (parent minor - 1), or -1 */
	bool seen_now;
};

struct eth_stat {
	char name[40];
	uint64_t v;
};

struct eth_iface {
	char name[32], driver[32];
	int combined, rx, tx, max_combined;	/* channels; -1 unknown */
	struct eth_stat *st;	/* sorted by name (owned) */
	size_t nst;
};

struct eth_doc {
	struct eth_iface *v;	/* owned */
	size_t n;
	char error[96];		/* why no interface could be asked (the document's "error"), or "" */
	char iface_error[96];	/* the first interface's stats_error/channels_error: "ETH: message" */
	unsigned n_stats;	/* interfaces that answered ETHTOOL_GSTATS */
};

/* per-queue packets from netdev qstats */
struct qstat_rec {
	char ifname[32];
	bool tx;
	int queue;
	uint64_t packets, bytes, drops, stops;
};

enum snmp_key {
	SN_TCP_OUTSEGS, SN_TCP_RETRANS, SN_TCP_INERRS,
	SN_UDP_INDGRAMS, SN_UDP_INERRS, SN_UDP_RCVBUF, SN_UDP_SNDBUF, SN_UDP_NOPORTS,
	SN_TCPEXT_TIMEOUTS, SN_TCPEXT_LOSTRETRANS, SN_TCPEXT_SYNRETRANS, SN_TCPEXT_LISTENDROPS,
	SN_TCPEXT_BACKLOGDROP,
	SN_UDP6_RCVBUF, SN_UDP6_SNDBUF, SN_UDP6_INERRS,
	SN_N
};
extern const char *const snmp_key_names[SN_N];

struct io_analysis {
	uint64_t first_ns, last_ns;
	bool statics_done;
	/* block */
	struct disk_acc *disks;
	size_t ndisks;
	bool diskstats_seen;
	unsigned diskstats_bad;
	char **whole;		/* whole-disk names from the statics (/sys/block) */
	size_t nwhole;
	/* PSI io (from the same samples) */
	bool psi_io_seen;
	uint64_t psi_some_us, psi_full_us, psi_span_ns, psi_prev_some, psi_prev_full, psi_prev_ns;
	bool psi_have_prev;
	/* network */
	struct iface_acc *ifs;
	size_t nifs;
	bool netdev_seen;
	struct softnet_acc *sn;
	size_t nsn;
	bool softnet_seen;
	unsigned softnet_cols;
	struct qdisc_acc *qd;
	size_t nqd;
	bool qdisc_seen;
	char qdisc_error[160];
	struct eth_doc eth_first, eth_last;
	bool eth_seen;
	uint64_t eth_first_ns, eth_last_ns;
	struct qstat_rec *qs_first, *qs_last;
	size_t nqs_first, nqs_last;
	bool qstats_seen;
	char qstats_error[160];
	uint64_t qs_first_ns, qs_last_ns;
	struct pcpu_table irq_first, irq_last, sirq_first, sirq_last;
	bool irq_have_first, irq_have_last, sirq_have_first, sirq_have_last;
	uint64_t irq_first_ns, irq_last_ns, sirq_first_ns, sirq_last_ns;
	bool eth_read;		/* an ethtool document was in a sample (even one that failed) */
	char eth_error[96], eth_iface_error[96];
	unsigned eth_n_stats;
	int64_t snmp_first[SN_N], snmp_last[SN_N];
	bool snmp_found[SN_N], snmp_have_first;
	uint64_t snmp_first_ns, snmp_last_ns;
	char virtio_drv[64][24];	/* driver of virtioN, by N (from the statics) */
};

/*
 * The IO scheduler a block device should have: one judgement, so that
 * diagnose's advice and the audit's checklist never disagree.  kind is
 * "virtio" (virtio-blk: the host schedules its requests again), "nvme",
 * "rotational" or "ssd"; sched the active one ("none", "mq-deadline", ...).
 * *want names what fits; *why says why this one does or does not.
 */
enum io_sched_fit {
	IO_SCHED_BEST,	/* nothing to change */
	IO_SCHED_FINE,	/* passes; another may shave a queue off when latency is the problem */
	IO_SCHED_POOR,	/* change it */
};
enum io_sched_fit io_sched_judge(const char *kind, const char *sched, const char **want, const char **why);
/* The kind io_sched_judge takes, from a device's name and queue facts. */
const char *io_sched_kind(const char *dev, bool virtio, int rotational);

void io_init(struct io_analysis *a);
void io_feed(struct io_analysis *a, const struct sample *s, const struct sample *statics);
void io_done(struct io_analysis *a);

double io_watch_s(const struct io_analysis *a);
const struct disk_acc *io_disk(const struct io_analysis *a, const char *name);
const struct iface_acc *io_iface(const struct io_analysis *a, const char *name);

/* ---- read-back of the non-file sources (also fuzzed) ---- */

/* .hiddenq/qdisc.json: an array; {"error":..} gives -ENODATA and the message in err. */
int qdisc_json_parse(const char *buf, size_t len, struct qdisc_rec **out, size_t *n, char *err, size_t errlen);
/* Mark qdiscs that have child qdiscs on the same interface, and the TX queue of mq children. */
void qdisc_mark_parents(struct qdisc_acc *q, size_t n);
/* .hiddenq/ethtool.json */
int eth_json_parse(const char *buf, size_t len, struct eth_doc *out);
void eth_doc_done(struct eth_doc *d);
const struct eth_iface *eth_doc_find(const struct eth_doc *d, const char *ifname);
/* value of a stat by name; false if absent */
bool eth_stat_get(const struct eth_iface *e, const char *name, uint64_t *v);
/*
 * Split a per-queue ethtool name: "rx_queue_3_packets" (4.16-6.9 virtio_net,
 * veth), "rx3_packets" (6.10+ virtio_net), "tx_queue_0_drops" ...
 * *tx is false for rx; the field ("packets") is copied to field.
 */
bool eth_queue_name(const char *name, bool *tx, unsigned *queue, char *field, size_t flen);
/* Whether a per-queue field of eth_queue_name ("drops", "xdp_drops", ...) counts dropped packets. */
bool eth_queue_field_is_drop(const char *field);
/* .hiddenq/qstats.json */
int qstats_json_parse(const char *buf, size_t len, struct qstat_rec **out, size_t *n, char *err, size_t errlen);

/*
 * A CPU mask as a list: "0-3,6", "none" for an empty mask; truncated with
 * "..." when it does not fit.  buf always ends in NUL (n >= 8).
 */
void cpumask_list_format(const uint64_t mask[16], char *buf, size_t n);
/*
 * One /proc/softirqs row ("NET_RX", "NET_TX") over the watch: per CPU,
 * softirqs per second, first to last sample.  Fills cpus/per_s up to max,
 * returns how many CPUs (0 when the watch has no two readings or no such row).
 */
size_t io_softirq_rates(const struct io_analysis *a, const char *label, int *cpus, double *per_s, size_t max);

/* The eBPF block-latency histograms are read through bpfhist.h. */

#endif
