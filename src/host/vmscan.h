/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * KVM host mode, the source half: find the VM processes on this machine,
 * classify their threads (vCPU, emulator, IO, vhost), and read them.
 *
 * Discovery walks /proc (slow: once at start, then on slow ticks every
 * VMSCAN_REDISCOVER_S seconds).  A process is a VM when one of its threads
 * carries a vCPU name (QEMU "CPU n/KVM" or "CPU n/TCG", Firecracker
 * "fc_vcpu n", Cloud Hypervisor "vcpuN", crosvm "crosvm_vcpuN", kvmtool
 * "kvm-vcpu-N"), or when its own name is a VMM's (QEMU without
 * debug-threads: its vCPUs are then found in KVM's debugfs or libvirt's
 * status XML when readable, else the threads stay unnamed and we say so).
 * vhost workers are threads "vhost-<owner PID>" inside the VMM (kernel 6.4
 * and later) or kernel threads of that name (before 6.4); both are tied to
 * their VM.
 *
 * Per sample only the vCPU threads' schedstat is read: all of them in one
 * eBPF read when a program loads (sources/bpf/taskstat.h: root or CAP_BPF,
 * kernel BTF, Linux 5.8), else through fds kept open (RLIMIT_NOFILE is
 * raised to its hard limit; past that we fall back to open/read/close).
 * Either way each thread's text goes into the sample under
 * proc/PID/task/TID/schedstat with the same bytes; vms.json says which
 * ("schedstat_source": "bpf_iter" or "procfs", and "schedstat_source_why";
 * "schedstat_iter": the program, and "schedstat_iter_why": why not the ones
 * tried before it).  Where neither tid-list program loads, the iterator
 * visits every task on the machine and can cost more than the preads;
 * after each discovery the cheaper one is kept.
 * Everything else (every thread's schedstat, stat and
 * status; each VM's status, smaps_rollup, numa_maps, net/dev; tap fds; QMP)
 * is read on slow ticks within a time budget, resuming where the last slow
 * tick stopped.  Files go into the sample under their /proc paths; the
 * discovery result goes to .hiddenq/vms.json.
 */
#ifndef HQ_VMSCAN_H
#define HQ_VMSCAN_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "../core/paths.h"	/* VMSCAN_JSON_PATH */
#include "../core/sample.h"
#include "../parse/vmconf.h"	/* enum vmm, enum tkind */
#include "../sys/fsroot.h"
#include "images.h"	/* struct img_chain */

#define VMSCAN_REDISCOVER_S 10
#define VMSCAN_SLOW_BUDGET_NS 20000000ull	/* per slow tick */
#define VMSCAN_NUMA_EVERY 5			/* slow ticks between numa_maps of one VM */
#define VMSCAN_MAX_QMP 16

/*
 * Classify a thread name.  Returns its kind; for vCPUs *vcpu is the index
 * and *vmm the VMM that names threads that way.  `vmm` in is the process's
 * VMM when known (-1 otherwise), because "vcpu0" alone is Cloud Hypervisor's.
 */
enum tkind vmscan_classify(const char *comm, int vmm_in, enum vmm *vmm_out, int *vcpu);
/* A process name (comm or argv[0] basename) that is a VMM; -1 if not. */
int vmscan_vmm_of_process(const char *comm);

struct vm_thread {
	int tid;
	enum tkind kind;
	int vcpu;		/* index for TK_VCPU, else -1 */
	char comm[20];
	int fd;			/* schedstat fd kept open, -1 if not */
	bool kthread;		/* a vhost kernel thread outside the VMM (before 6.4) */
	int kpid;		/* its PID (== tid) for the path */
	char *ss_path;		/* "proc/PID/task/TID/schedstat", made once (owned) */
	bool in_iter;		/* in the task iterator's filter: read through it, not fd */
	unsigned it_gen;	/* the iterator pass that last printed it */
	uint32_t it_off;	/* its record in that pass's buffer */
};

/* The block device under one disk image of a VM (resolved at discovery). */
#define VMSCAN_MAX_DISKS 8
struct vm_backing {
	char id[64];		/* the VMM's id for the disk */
	char file[256];		/* image path or device, as the VMM was given it */
	char dev[32];		/* block device holding it ("vda1"), "" if none */
	char disk[32];		/* its whole disk ("vda"): the /proc/diskstats and biolat name */
	char devt[16];		/* MAJ:MIN of dev */
	char via[160];		/* loop devices followed: "loop0 (/srv/img.raw)" */
	char err[160];		/* why there is no block device, "" if found */
	char format[16], cache[16], aio[16];	/* as the command line configures it ("" not said) */
	struct img_chain chain;	/* the image and its backing files (host/images.h), owned */
	char chain_why[160];	/* why there is no chain ("" when there is) */
};

/*
 * Resolve the block device holding `file` (absolute, or relative to the
 * VMM's cwd: proc/PID/cwd): stat's st_dev (st_rdev for a device node),
 * sys/dev/block/MAJ:MIN, a partition to its parent disk, a loop device to
 * its backing file's device (up to 4 deep).  0, or -errno with b->err set.
 */
int vmscan_backing(const struct fsroot *root, int pid, const char *file, struct vm_backing *b);

/*
 * KVM's debugfs directory of process `pid` ("PID-FD" under
 * sys/kernel/debug/kvm, which holds pages_4k, pages_2m, pages_1g).  We never
 * mount debugfs.  0 with dir set; -ENOENT with why "" when debugfs is readable
 * but has no VM of this process (not KVM-accelerated); another -errno with
 * why saying what is missing (debugfs not mounted, lockdown, not root).
 */
int vmscan_kvm_dir(const struct fsroot *root, int pid, char *dir, size_t n, char *why, size_t wn);

struct vm_tap {
	char ifname[32];
	unsigned queues;	/* tun fds attached to it */
};

struct vm_proc {
	int pid;
	enum vmm vmm;
	char name[128];
	char name_src[16];	/* "cmdline", "libvirt", "pid" */
	char uuid[37];		/* the SMBIOS UUID its guest sees (vmconf.h), "" when not given */
	char machine_id[33];	/* a machine-id handed to its guest, "" when not */
	struct vm_thread *threads;
	size_t nthreads, cap;
	bool vcpus_unnamed;	/* VMM process without vCPU names */
	bool seen;		/* mark for discovery */
	bool cmdline_sent;	/* cmdline stored in a sample already */
	struct vm_tap taps[8];
	unsigned ntaps;
	unsigned vhost_fds;
	unsigned slow_count;
	char qmp_sock[256];	/* --qmp NAME=SOCKET for this VM, "" if none */
	json_t *qmp_blockstats;	/* last answer, owned */
	json_t *qmp_migrate;	/* query-migrate's last answer, owned */
	json_t *qmp_mig_params, *qmp_mig_caps;	/* query-migrate-parameters, -capabilities while one runs */
	uint64_t qmp_t_ns;	/* CLOCK_MONOTONIC of those answers (0: none yet) */
	char *qmp_error;
	/* a libvirt VM without --qmp: libvirt's job statistics while its status XML says it migrates out */
	bool lv_watched;	/* libvirt's read-only socket is there: its jobs can be asked */
	bool lv_migrating;	/* the status XML said so on the last slow tick */
	char *lv_job;		/* virsh domjobinfo --rawstats' output, owned; NULL none */
	char *lv_job_error;	/* why it could not be asked, owned */
	uint64_t lv_job_t_ns;	/* CLOCK_MONOTONIC of this tick's look */
	struct vm_backing *disks;	/* from the command line (QEMU), owned */
	unsigned ndisks;
	char kvm_dir[32];	/* "PID-FD" in KVM debugfs, "" if none */
	char kvm_why[128];	/* why kvm_dir is "" ("" = debugfs has no VM of this process) */
};

struct vmscan_qmp {
	char name[128];
	char sock[256];
};

struct vmscan {
	const struct fsroot *root;	/* not owned */
	int procfd;
	struct vm_proc *vms;
	size_t n, cap;
	unsigned long fds_open, fds_failed;
	bool nofile_raised;
	uint64_t last_discovery_ns;
	size_t slow_cursor;
	unsigned slow_ticks;
	uint64_t last_sample_ns, last_slow_ns, last_discovery_cost_ns; /* costs, for reports */
	size_t last_sample_files;	/* files the last vmscan_sample read, to size the next */
	bool euid_root;
	bool tasks_walked;	/* the sampler's task walk already read every schedstat on slow ticks */
	struct vmscan_qmp qmp[VMSCAN_MAX_QMP];
	unsigned nqmp;
	bool qmp_histograms;	/* --qmp-histograms: set QEMU's block latency histograms on owned sockets */
	char *paths;		/* scratch for path strings */
	/* vCPU schedstat through one eBPF read (sources/bpf/taskstat.h) */
	bool ss_procfs;		/* forced to the preads (vmscan_schedstat_procfs) */
	bool ss_tried;		/* taskstat_open was tried */
	bool ss_use;		/* the iterator is the cheaper way (see ss_choose in vmscan.c) */
	bool ss_always_iter;	/* never compare: HIDDENQ_VMS_SCHEDSTAT=bpf_iter, the bench */
	struct taskstat *ts;	/* loaded (read when ss_use); NULL: the preads */
	char ss_why[1024];	/* why the preads, "" while the eBPF read is in use */
	struct vmscan_tid *ss_idx; /* the iterator's threads, sorted by tid (owned) */
	size_t ss_nidx, ss_cap;
	unsigned ss_gen;	/* iterator passes, for vm_thread.it_gen */
};

/*
 * Returns 0 or -errno (no /proc under the root).  HIDDENQ_VMS_SCHEDSTAT=procfs
 * in the environment forces the preads (vmscan_schedstat_procfs);
 * HIDDENQ_VMS_SCHEDSTAT=bpf_iter keeps the iterator whenever it loads, even
 * where it costs more than the preads (tests).
 */
int vmscan_init(struct vmscan *vs, const struct fsroot *root);
/*
 * Read vCPU schedstat one /proc file at a time, never through the eBPF task
 * iterator; `why` is said in vms.json.  Call before the first discovery.
 */
void vmscan_schedstat_procfs(struct vmscan *vs, const char *why);
/* "bpf_iter" or "procfs": how the last vmscan_sample read the vCPUs. */
const char *vmscan_schedstat_source(const struct vmscan *vs);
void vmscan_done(struct vmscan *vs);
/* "NAME=SOCKET": a QMP monitor socket this run owns.  0 or -EINVAL. */
int vmscan_add_qmp(struct vmscan *vs, const char *spec);
/* Walk /proc for VM processes; keeps fds of threads that remain. Returns VM count. */
size_t vmscan_discover(struct vmscan *vs);
/* One tick: the vCPU threads' schedstat into out. */
void vmscan_sample(struct vmscan *vs, struct sample *out);
/*
 * A slow tick: rediscover when due, every thread's schedstat/stat/status
 * and per-VM files within the budget, and .hiddenq/vms.json.  `skip_pids`
 * (sorted, n of them) are processes whose status/smaps_rollup/numa_maps/task
 * stat another source already put in this sample.
 */
void vmscan_slow(struct vmscan *vs, struct sample *out, const int *skip_pids, size_t nskip);
json_t *vmscan_json(const struct vmscan *vs);

/* Raise RLIMIT_NOFILE's soft limit to the hard one; returns the new soft limit. */
unsigned long vmscan_raise_nofile(void);

#endif
