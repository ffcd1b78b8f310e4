/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The tables that name what the virtualization stack is made of, as pure
 * functions of strings: which kind of NIC, disk or GPU a driver chain and
 * PCI ids make, what a CPU vulnerability's mitigation line costs, and what
 * nvidia-smi said.  analysis/stack.c applies them to what the sources
 * recorded (sys/stackprobe.h); they never read a file, so they are fuzzed
 * (tests/fuzz/fuzz_stack.c) and unit tested on their own.
 */
#ifndef HQ_STACKPARSE_H
#define HQ_STACKPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- devices ---- */

/* What a device is known by: its drivers from the device up (the class device's first), and its PCI function. */
struct dev_desc {
	const char *drivers[8];		/* "virtio_net", "virtio-pci"; NULL-padded */
	const char *subsystems[8];	/* the same positions: "virtio", "pci", "vmbus", "scsi" */
	unsigned n;
	uint32_t pci_vendor, pci_device; /* 0: no PCI function under it */
	bool virtfn;			/* the PCI function is an SR-IOV virtual function */
	const char *scsi_host_driver;	/* proc_name of the SCSI host above a disk ("virtio_scsi"), or NULL */
	const char *model;		/* block device/model or NVMe model, or NULL */
	bool guest;			/* a hypervisor is present (changes "physical" into "passthrough") */
	bool has_lower;			/* a NIC with another interface stacked under it (lower_*) */
};

/* What kind a device is, and what that means for its queues.  Strings are static. */
struct dev_kind {
	const char *kind;	/* "virtio-net", "sr-iov-vf", "emulated", "virtio-blk", ... */
	const char *name;	/* for humans: "virtio-net", "SR-IOV virtual function (ixgbevf)" */
	const char *meaning;	/* what it means: whose queues carry the IO, the migration trade-off */
	const char *source;	/* "driver virtio_net", "PCI ids 1d0f:8061" */
	bool known;		/* false: kind is "unknown" and meaning says why */
};

void nic_kind(const struct dev_desc *d, struct dev_kind *k);
void disk_kind(const struct dev_desc *d, struct dev_kind *k);

/*
 * A display/3D controller (PCI class 0x03): vendor and device ids, its driver
 * ("" when none), whether it is an SR-IOV VF, whether it offers mediated
 * (mdev) types or has VFs enabled (a host sharing it), and whether we are
 * in a guest.  nv_mode and nv_mig are nvidia-smi's virtualization_mode and
 * mig.mode.current for this GPU, or NULL when nvidia-smi did not say.
 */
struct gpu_desc {
	uint32_t vendor, device;
	const char *driver;
	bool virtfn, mdev_types, guest;
	unsigned sriov_numvfs;
	const char *nv_mode, *nv_mig, *nv_name;
};
struct gpu_kind {
	const char *sharing;	/* "passthrough", "vgpu", "vgpu-mig", "mig", "sr-iov-vf", "host-vfio",
				   "host-vgpu", "emulated-display", "physical", "unknown" */
	const char *name;	/* for humans */
	const char *meaning;
	const char *source;	/* "nvidia-smi virtualization_mode", "PCI ids", "driver vfio-pci" */
	bool compute;		/* a GPU for compute, not an emulated display adapter */
	bool known;
};
void gpu_kind(const struct gpu_desc *g, struct gpu_kind *k);

/* ---- CPU vulnerabilities ---- */

enum cost_class { COST_NONE, COST_LOW, COST_MEDIUM, COST_HIGH, COST_UNKNOWN };
const char *cost_class_name(enum cost_class c);	/* "none", "low", "medium", "high", "unknown" */

/*
 * The cost class of one line of sys/devices/system/cpu/vulnerabilities/NAME
 * ("Mitigation: Retpolines; STIBP: disabled ..."): *vulnerable when nothing
 * protects against it, *why a short reason (static).  A mitigation hiddenq
 * does not know is COST_UNKNOWN.
 */
enum cost_class mitigation_cost(const char *name, const char *line, size_t len, bool *vulnerable, const char **why);

/* ---- nvidia-smi ---- */

#define NV_MAX_GPUS 16
struct nv_gpu {
	char index[8], bus_id[32], name[96], virt_mode[32], mig_mode[24], compute_mode[32];
};
/*
 * `nvidia-smi --query-gpu=index,pci.bus_id,name,virtualization_mode,
 * mig.mode.current,compute_mode --format=csv,noheader` output: one GPU a
 * line, six comma-separated fields ("[N/A]" and "[Not Supported]" kept as
 * said).  Returns the GPUs parsed (lines with six fields), at most max.
 */
size_t nvidia_smi_parse(const char *buf, size_t len, struct nv_gpu *out, size_t max);
/* nvidia-smi's bus id ("00000000:05:00.0") against sysfs's ("0000:05:00.0"), case-insensitive. */
bool nv_bus_id_match(const char *nv, const char *sysfs);

/* Parse a sysfs hex id ("0x1af4") into *v; false when it is not one. */
bool sysfs_hex_id(const char *s, uint32_t *v);

/* ---- identifiers ---- */

/*
 * An SMBIOS / hypervisor UUID or a machine-id into canonical lower-case
 * form (8-4-4-4-12, or 32 hex digits for a machine-id); false for anything
 * else (empty, all zeros, all ones: firmware placeholders), leaving out as
 * it was.
 */
bool uuid_canon(const char *s, size_t len, char out[37]);
bool machine_id_canon(const char *s, size_t len, char out[33]);

#endif
