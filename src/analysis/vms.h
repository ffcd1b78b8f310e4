/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * KVM host mode, the analysis half: samples in (the files and
 * .hiddenq/vms.json that host/vmscan.c put there), per-VM and per-thread
 * figures out.  Pure and deterministic on a bundle; sinks/vms.c renders it.
 *
 * Per thread: run delay rate (the second field of schedstat: on a vCPU
 * thread exactly what KVM hands its guest as steal), CPU use, worst 1 s
 * window, the CPUs it may run on (Cpus_allowed_list: affinity and cpuset
 * together) and the one it ran on last (stat field 39).
 * Per VM: the union of its threads' CPUs; memory (RSS, THP, hugetlbfs,
 * host swap, NUMA placement against the nodes its vCPUs may run on); taps.
 * Across VMs: the overlap matrix (CPUs each pair of VMs share) and the
 * demand per physical CPU; host totals against the overcommit ratios.
 */
#ifndef HQ_VMS_H
#define HQ_VMS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "../core/paths.h"	/* VMSCAN_JSON_PATH */
#include "../core/sample.h"
#include "../parse/cpumask.h"
#include "../parse/imghdr.h"
#include "../parse/ioparse.h"
#include "../parse/memparse.h"
#include "../parse/vmconf.h"
#include "migrate.h"

#define VMS_MAX_CPUS CPUMASK_MAX_CPUS

struct vms_thread {
	int tid;
	enum tkind kind;
	int vcpu;
	char comm[20];
	bool kthread;
	/* schedstat series */
	bool have_first;
	uint64_t t0, cpu0, delay0, t1, cpu1, delay1;
	uint64_t win_t, win_cpu, win_delay;
	unsigned nwins, win_ge20, win_ge50;
	double worst_win;	/* % of the worst ~1 s window, -1 if none */
	/* slow */
	int processor;		/* -1 unknown */
	struct cpumask allowed;
	bool have_allowed;
	/* derived by vms_finish */
	double delay_pct, cpu_pct; /* of one CPU, over the watch; -1 unknown */
};

struct vms_tap {
	char ifname[32];
	unsigned queues;
	bool have;
	uint64_t rx_pkts[2], rx_drop[2], tx_pkts[2], tx_drop[2]; /* first, last */
	uint64_t t[2];
};

/* A disk of a VM and the host block device holding its image. */
struct vms_disk {
	char id[64], file[256];
	char dev[32], disk[32], via[160], err[160];	/* as vmscan resolved them (vmscan.h) */
	char format[16], cache[16], aio[16];	/* as configured ("" not said) */
	struct img_chain chain;		/* the image and its backing files (parse/imghdr.h), owned */
	char chain_why[160];		/* why there is no chain */
	bool have;			/* the disk's /proc/diskstats line was seen */
	struct disk_stat first, last;
	uint64_t t0, t1;
	/* eBPF biolat "below" stage (issue to completion) over the watch: vms_add_bpf */
	uint64_t bio_n;
	double bio_p50_us, bio_p99_us;	/* -1 unknown */
	char bio_why[160];		/* why there is no histogram */
};

/* Figures of one disk over the watch from /proc/diskstats; false if none. */
struct vms_disk_rate {
	double rd_s, wr_s, await_ms, util_pct;	/* await_ms -1 when no IO completed */
};
bool vms_disk_rate(const struct vms_disk *d, struct vms_disk_rate *r);

struct vms_vm {
	int pid;
	char vmm[20], name[128], name_src[16];
	char uuid[37], machine_id[33];	/* how its guest knows itself (vms.json, else its command line); "" unknown */
	bool vcpus_unnamed;
	struct vms_thread *th;
	size_t nth, cap;
	/* memory (slow) */
	bool have_status, have_rollup, have_numa;
	uint64_t vmrss_kb, vmswap_kb, hugetlb_kb;
	uint64_t rss_kb, anon_huge_kb, swap_kb, shmem_pmd_kb, file_pmd_kb, hugetlb_rollup_kb;
	struct numa_maps_sum nm;
	/* configuration (cmdline) */
	struct vmconf conf;
	bool have_conf;
	struct vms_tap taps[8];
	unsigned ntaps, vhost_fds;
	json_t *qmp_first, *qmp_last;	/* blockstats answers (owned) */
	char *qmp_error;
	bool qmp_given;			/* its migrations are watched: a QMP socket given (--qmp), or libvirt's jobs */
	bool mig_libvirt;		/* ... through libvirt's job statistics (virsh domjobinfo) */
	char mig_error[160];		/* why libvirt's job statistics could not be read, "" none */
	struct mig_track mig;		/* its migration, pass by pass (migrate.h) */
	uint64_t qmp_t_ns;		/* the time of the last QMP answers fed */
	struct vms_disk *disks;		/* owned */
	unsigned ndisks;
	/* KVM debugfs: pages_4k, pages_2m, pages_1g (the last read) */
	char kvm_dir[32], kvm_why[160];
	bool have_kvm_pages;
	uint64_t kvm_pages[3];
	/* derived */
	struct cpumask cpus;		/* union of its threads' allowed CPUs */
	struct cpumask vcpu_cpus;	/* union over its vCPU threads */
	unsigned nvcpus;
};

struct vms_analysis {
	struct vms_vm *vms;
	size_t n, cap;
	bool seen_json;
	unsigned nsamples, njson;
	unsigned nbad_json;	/* .hiddenq/vms.json copies that were not JSON objects (damaged) */
	uint64_t first_ns, last_ns;
	/* host facts */
	struct cpumask online, isolated;
	unsigned ncpus_online;
	uint64_t memtotal_kb;
	unsigned nnodes;
	struct cpumask node_cpus[64];
	bool root;
	uint64_t cost_sample_us, cost_discovery_us, fds_open, fds_failed;
	char ss_source[16];	/* vCPU schedstat read by "bpf_iter" or "procfs"; "" in old bundles */
	char ss_why[1024];	/* why not the eBPF read */
	char ss_iter[16];	/* the eBPF program: "tid_run", "tid_list", "all_tasks"; "" if none or old */
	char ss_iter_why[1024];	/* why not the programs tried before it; "" if none */
	/* tid -> (vm, thread) */
	struct { int tid; unsigned vm, th; } *map;
	size_t map_cap;
	bool finished;
};

void vms_init(struct vms_analysis *a, const struct sample *statics);
void vms_feed(struct vms_analysis *a, const struct sample *s);
void vms_finish(struct vms_analysis *a);
struct analysis;
/* The eBPF block latency of each VM disk's backing device (analysis.h's bpfhist), after analysis_finish. */
void vms_add_bpf(struct vms_analysis *a, const struct analysis *an);
/* Why a VM has no KVM page-size figures ("not available under TCG", debugfs ...), NULL if it has them. */
const char *vms_kvm_pages_why(const struct vms_vm *vm);
void vms_done(struct vms_analysis *a);

/* After vms_finish. */
unsigned vms_overlap(const struct vms_analysis *a, size_t i, size_t j, struct cpumask *shared);
struct vms_cpu_demand {
	int cpu;
	unsigned vcpus_allowed;	/* vCPU threads that may run here */
	double vcpus_weighted;	/* sum of 1/|mask| over those */
	double demand;		/* CPUs of (run + wait) spread over each thread's mask */
	double delay;		/* CPUs of waiting, spread the same way */
	unsigned vms;		/* VMs with a thread that may run here */
};
/* Fills up to n entries (one per online CPU); returns the count. */
size_t vms_cpu_demand(const struct vms_analysis *a, struct vms_cpu_demand *out, size_t n);
unsigned vms_total_vcpus(const struct vms_analysis *a);
uint64_t vms_total_guest_mib(const struct vms_analysis *a);
double vms_watch_s(const struct vms_analysis *a);

/* The VM whose process is `id` or which has a thread `id` (a kernel message names either); NULL if none. */
const struct vms_vm *vms_vm_of_task(const struct vms_analysis *a, int id, const struct vms_thread **thread);

/* A thread's delay severity against the steal thresholds: 0 ok, 1 warn, 2 crit, -1 unknown. */
int vms_thread_level(const struct vms_thread *t);

/* memory placement: % of the VM's resident memory on nodes none of its vCPUs may run on; -1 unknown */
double vms_remote_mem_pct(const struct vms_analysis *a, const struct vms_vm *vm);
/* QEMU's latency histogram of one request type over the watch (parse/qmphist.h) */
struct vms_blk_hist {
	bool have;		/* the device has this histogram (in the last sample) */
	bool reset;		/* reset during the watch: counts since then */
	bool p50_open, p99_open;	/* in the open top bin: "at least" */
	uint64_t n;		/* requests in the watch's histogram */
	double p50_us, p99_us;	/* -1 when n is 0 */
};
enum { VMS_BLK_RD, VMS_BLK_WR, VMS_BLK_FLUSH, VMS_BLK_NOPS };
/* mean latency per op (us) of a QMP blockstats device over the watch, -1 unknown */
struct vms_blk {
	char device[64];
	double rd_ops_s, wr_ops_s, rd_lat_us, wr_lat_us, flush_lat_us;
	struct vms_blk_hist hist[VMS_BLK_NOPS];	/* read, write, flush */
};
extern const char *const vms_blk_op_names[VMS_BLK_NOPS];	/* "read", "write", "flush" */
size_t vms_blockstats(const struct vms_vm *vm, struct vms_blk *out, size_t n, double secs);

#endif
