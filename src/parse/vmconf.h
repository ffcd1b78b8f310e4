/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * What a VM is configured as, whichever way we learned it: a QEMU command
 * line (/proc/PID/cmdline, parse/qemucmd.c) or a libvirt domain XML
 * (host/libvirt_xml.c).  The audit reads only this struct, so one set of
 * checklist evaluators serves both.
 *
 * Strings are copied and truncated to their fields; "" means "not said".
 * Numbers are 0 (or -1 where 0 is meaningful) when not said.  The parsers
 * never read past the buffer they are given (fuzzed).
 *
 * Also here: the VMMs and their thread kinds by name, and the small per-task /proc files the host mode reads on its slow
 * cadence (task stat field 39, Cpus_allowed_list from status) and the tun
 * fdinfo line that names a tap queue (parse/procpid.c).
 */
#ifndef HQ_VMCONF_H
#define HQ_VMCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Copy s into d (capacity cap), truncating; always NUL-terminated. */
static inline void str_copy(char *d, size_t cap, const char *s)
{
	size_t n = strnlen(s, cap - 1);
	memcpy(d, s, n);
	d[n] = '\0';
}

/* The VMMs host mode knows, and the kinds of their threads; the names are
 * those of .hiddenq/vms.json (host/vmscan.c writes them, analysis/vms.c
 * reads them back). */
enum vmm { VMM_QEMU, VMM_FIRECRACKER, VMM_CLOUD_HYPERVISOR, VMM_CROSVM, VMM_KVMTOOL, VMM_COUNT };
enum tkind { TK_VCPU, TK_MAIN, TK_IO, TK_VHOST, TK_WORKER, TK_OTHER, TK_COUNT };

const char *vmm_name(enum vmm v);
const char *tkind_name(enum tkind k);
int tkind_from_name(const char *s);	/* -1 if unknown */
int vmm_from_name(const char *s);	/* -1 if unknown */

#define VMCONF_MAX_DISKS 16
#define VMCONF_MAX_NICS 16

/* The ranges a configuration's numbers are held to: those of our own
 * command line (hiddenq fit --vcpus, --mem, --sockets ...) and of virtio. */
#define VMCONF_MAX_VCPUS 4096			/* KVM_MAX_VCPUS on x86 */
#define VMCONF_MAX_MEM_MIB (1ull << 30)		/* 1 PiB */
#define VMCONF_MAX_SOCKETS 1024
#define VMCONF_MAX_CORES 4096
#define VMCONF_MAX_THREADS 8
#define VMCONF_MAX_QUEUES 1024			/* VIRTIO_QUEUE_MAX */
#define VMCONF_MAX_IOTHREADS 4096
#define VMCONF_MAX_PID 4194304			/* PID_MAX_LIMIT */

struct vm_disk {
	char id[64];		/* -drive id, node-name or libvirt target dev */
	char model[32];		/* device: virtio-blk-pci, ide-hd, scsi-hd, nvme, ... */
	char bus[16];		/* virtio, ide, sata, scsi, usb, nvme, "" */
	char file[256];		/* image path or device */
	char format[16];	/* raw, qcow2, vmdk, ... ("" unknown) */
	char cache[16];		/* none, writeback, writethrough, directsync, unsafe */
	char aio[16];		/* native, io_uring, threads */
	int num_queues;		/* 0: not said */
	bool cdrom;
};

struct vm_nic {
	char id[64];
	char model[32];		/* virtio-net-pci, e1000, rtl8139, virtio, ... */
	char backend[16];	/* tap, user, bridge, network, direct, vhost-user */
	char ifname[32];	/* host tap device, when named */
	int queues;		/* 0: not said (one queue) */
	int vhost;		/* 1 on, 0 off, -1 not said */
};

struct vmconf {
	char name[128];
	char source[16];	/* "cmdline" or "libvirt" */
	/* how its guest knows itself (issue 15): the SMBIOS system UUID the VMM gives it (QEMU -uuid or
	 * -smbios type=1,uuid=, libvirt <uuid>, Cloud Hypervisor --platform uuid=), and a machine-id
	 * handed in (systemd.machine_id= on the kernel command line, or an SMBIOS type 11 credential);
	 * canonical lower case, "" when not given */
	char uuid[37];
	char machine_id[33];
	char accel[16];		/* kvm, tcg, ... */
	unsigned vcpus, max_vcpus, sockets, cores, threads;
	uint64_t mem_mib;
	char cpu_model[64];	/* "host-passthrough", "host-model", "qemu64", ... */
	unsigned numa_nodes;	/* guest NUMA nodes (vNUMA) */
	bool hugepages;		/* guest RAM on hugetlbfs (mem-path or memfd hugetlb) */
	char mem_path[128];
	bool vcpupin, emulatorpin;	/* libvirt <cputune> */
	char numatune_mode[16], numatune_nodeset[64]; /* libvirt <numatune><memory> */
	unsigned iothreads;
	bool debug_threads;	/* QEMU names its threads (CPU n/KVM) */
	struct vm_disk disks[VMCONF_MAX_DISKS];
	unsigned ndisks;
	struct vm_nic nics[VMCONF_MAX_NICS];
	unsigned nnics;
	/* values the configuration gave that are not numbers or out of range
	 * (e.g. "<vcpu> '99999999999999999999' is not a whole number from 1 to
	 * 4096"): their fields are left 0, unknown; "" when none */
	char rejected[512];
};

/* ---- numbers in a configuration (parse/vmconf.c) ---- */

/* Digits only, lo..hi: 0, -EINVAL (not a whole number) or -ERANGE. */
int conf_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
/*
 * A size in MiB, 1 MiB .. 1 PiB: a number (with a fraction if `fraction`)
 * and a unit (b, k/KiB, m/MiB, g/GiB, t/TiB, p, e, case-insensitive; with
 * `decimal_units` also libvirt's KB, MB, GB ... = 1000^n), `dflt_unit` when
 * none.  0, -EINVAL or -ERANGE.
 */
int conf_size_mib(const char *s, const char *dflt_unit, bool fraction, bool decimal_units, uint64_t *mib);
/* The same, recording a refusal in c->rejected ("WHAT 'S' is ..."); true when accepted. */
bool vmconf_uint(struct vmconf *c, const char *what, const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
bool vmconf_mib(struct vmconf *c, const char *what, const char *s, const char *dflt_unit, bool fraction,
		bool decimal_units, uint64_t *mib);
void vmconf_reject(struct vmconf *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * /proc/PID/cmdline of a QEMU process (NUL-separated argv).  Understands
 * -name, -m, -smp, -cpu, -accel/-enable-kvm/-machine accel=, -numa, -object
 * memory-backend-*, -mem-path, -drive, -blockdev (key=value and JSON),
 * -device (key=value and JSON), -netdev, -nic and the old -net.  Returns 0,
 * or -EINVAL when this is not a QEMU command line at all.
 */
int qemu_cmdline_parse(const char *buf, size_t len, struct vmconf *out);
/* systemd.machine_id=X in a kernel command line (len bytes, not NUL-terminated) into out, canonical; out unchanged if none. */
void kernel_cmdline_machine_id(const char *s, size_t len, char out[33]);

/*
 * The command line of a VMM that is not QEMU: vmm is "cloud-hypervisor",
 * "crosvm", "kvmtool" or "firecracker" (vmm_name()).  Fills the name, vCPUs,
 * memory, disks and taps it gives; for Firecracker only the name (--id) and,
 * in config (capacity cap, may be NULL), the --config-file path, whose
 * contents vmm_firecracker_config() adds.  0, or -EINVAL for another vmm.
 */
int vmm_cmdline_parse(const char *vmm, const char *buf, size_t len, struct vmconf *out, char *config, size_t cap);
/* A Firecracker --config-file (JSON): drives, network interfaces, machine-config. 0 or -EINVAL. */
int vmm_firecracker_config(const char *buf, size_t len, struct vmconf *c);

/*
 * A libvirt domain XML (virsh dumpxml, /etc/libvirt/qemu/NAME.xml) or status
 * XML (/run/libvirt/qemu/NAME.xml, <domstatus> around <domain>).  Status XML
 * also gives the QEMU PID and vCPU TIDs (vcpu_tids, up to ntids).  Returns 0
 * or -EINVAL; without libxml2 (the static build) -ENOTSUP.  *why explains a
 * failure (static string).
 */
struct libvirt_status {
	int pid;		/* <domstatus pid=...>, 0 if not status XML */
	int vcpu_tids[256];	/* index = vCPU id, 0 = unknown */
	unsigned nvcpu_tids;
};
int libvirt_xml_parse(const char *buf, size_t len, struct vmconf *out, struct libvirt_status *st,
		      const char **why);
bool libvirt_xml_available(void);

/* The disk/NIC model names that mean paravirtual (virtio) devices. */
bool vmconf_disk_is_virtio(const struct vm_disk *d);
bool vmconf_nic_is_virtio(const struct vm_nic *n);

/* ---- per-task files (parse/procpid.c) ---- */

/* /proc/PID/task/TID/stat: field 39 (processor) and utime+stime (ticks).
 * comm may hold spaces and parentheses: parsed from the last ')'. */
struct task_stat {
	int processor;
	uint64_t utime, stime;
	char state;
};
int task_stat_parse(const char *buf, size_t len, struct task_stat *out);

/* Value of "Name:\t..." in a status file, trimmed, into out; -ENOENT if absent. */
int status_field(const char *buf, size_t len, const char *name, char *out, size_t outlen);

/* A tun/tap fd's fdinfo: "iff:\tNAME" (tun_chr_show_fdinfo); -ENOENT if none. */
int tun_fdinfo_iff(const char *buf, size_t len, char *ifname, size_t n);

#endif
