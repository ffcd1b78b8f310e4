/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "stackparse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/util.h"

bool sysfs_hex_id(const char *s, uint32_t *v)
{
	if (!s || strncmp(s, "0x", 2) != 0 || !s[2])
		return false;
	uint32_t x = 0;
	size_t i = 2;
	for (; s[i] && s[i] != '\n'; i++) {
		int c = tolower((unsigned char)s[i]);
		if (i >= 10 || !isxdigit(c))
			return false;
		x = x * 16 + (uint32_t)(isdigit(c) ? c - '0' : c - 'a' + 10);
	}
	*v = x;
	return true;
}

/* ------------------------------------------------------------------ */
/* NICs                                                                */
/* ------------------------------------------------------------------ */

static const char M_VIRTIO_NET[] =
	"paravirtual: packets cross a virtqueue shared with the host, then the host's vhost or VMM thread and its "
	"tap device; drops past the ring happen on the host (its tap's counters), and each kick or interrupt can "
	"cost an exit";
static const char M_VF[] =
	"SR-IOV virtual function: the NIC's own queues, with no host network stack (no vhost, no tap) in the "
	"path, so the host's queues cannot hold packets; but the VM is tied to that NIC model, and live migration "
	"needs the function unplugged first (or a virtio failover pair)";
static const char M_EMULATED_NIC[] =
	"emulated NIC: every register access traps to the hypervisor (an exit each) and one queue carries "
	"everything; far slower than virtio-net, and its drops are in the device model";
static const char M_PARAVIRT_NIC[] =
	"paravirtual NIC of another hypervisor: rings shared with the host, whose own queues and threads carry "
	"every packet (the host's side is where drops past the ring are counted)";
static const char M_PASSTHROUGH_NIC[] =
	"a whole physical NIC given to this guest (PCI passthrough): its own queues, no host stack in the path; "
	"the VM cannot live-migrate while it holds it";

static const struct nic_row {
	const char *drv;
	const char *kind, *name, *meaning;
} nic_rows[] = {
	{ "virtio_net", "virtio-net", "virtio-net", M_VIRTIO_NET },
	{ "ixgbevf", "sr-iov-vf", "SR-IOV virtual function (Intel ixgbevf)", M_VF },
	{ "iavf", "sr-iov-vf", "SR-IOV virtual function (Intel iavf)", M_VF },
	{ "i40evf", "sr-iov-vf", "SR-IOV virtual function (Intel i40evf)", M_VF },
	{ "igbvf", "sr-iov-vf", "SR-IOV virtual function (Intel igbvf)", M_VF },
	{ "ena", "sr-iov-vf", "AWS ENA (an SR-IOV virtual function)", M_VF },
	{ "mana", "sr-iov-vf", "Azure MANA (an SR-IOV virtual function)", M_VF },
	{ "gve", "paravirtual", "Google gVNIC",
	  "Google's paravirtual NIC: queues shared with the host's virtual switch, which carries and can drop "
	  "every packet; its per-queue counters (ethtool -S) are the guest's view" },
	{ "hv_netvsc", "paravirtual", "Hyper-V netvsc (synthetic NIC over VMBus)",
	  "Hyper-V's synthetic NIC: packets go through VMBus rings to the host's virtual switch; with accelerated "
	  "networking an SR-IOV function carries the data under it (see the interface stacked below)" },
	{ "vmxnet3", "paravirtual", "VMware vmxnet3", M_PARAVIRT_NIC },
	{ "vif", "paravirtual", "Xen netfront", M_PARAVIRT_NIC },
	{ "e1000", "emulated", "emulated Intel e1000", M_EMULATED_NIC },
	{ "e1000e", "emulated", "emulated Intel e1000e", M_EMULATED_NIC },
	{ "8139cp", "emulated", "emulated Realtek RTL8139", M_EMULATED_NIC },
	{ "8139too", "emulated", "emulated Realtek RTL8139", M_EMULATED_NIC },
	{ "ne2k-pci", "emulated", "emulated NE2000", M_EMULATED_NIC },
	{ "pcnet32", "emulated", "emulated AMD PCnet", M_EMULATED_NIC },
	{ "tulip", "emulated", "emulated DEC Tulip", M_EMULATED_NIC },
};

/* Physical NIC drivers that also drive virtual functions: a VF when the PCI function is one. */
static const char *const nic_phys[] = { "mlx5_core", "mlx4_core", "bnxt_en", "qede", "ice", "i40e", "ixgbe", "igb",
					"enic", "cxgb4", "sfc", "nfp", "hinic", "octeontx2-nicvf", "tg3", "bnx2x" };

/* mlx5 functions that are VFs (drivers/net/ethernet/mellanox/mlx5/core/main.c MLX5_PCI_DEV_IS_VF). */
static bool mlx5_vf_id(uint32_t ven, uint32_t dev)
{
	static const uint32_t ids[] = { 0x1012, 0x1014, 0x1016, 0x1018, 0x101a, 0x101c, 0x101e, 0xa2d3 };
	if (ven != 0x15b3)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++)
		if (ids[i] == dev)
			return true;
	return false;
}

static void set_kind(struct dev_kind *k, const char *kind, const char *name, const char *meaning, const char *source,
		     bool known)
{
	k->kind = kind;
	k->name = name;
	k->meaning = meaning;
	k->source = source;
	k->known = known;
}

void nic_kind(const struct dev_desc *d, struct dev_kind *k)
{
	for (unsigned i = 0; i < d->n && i < 8; i++) {
		const char *drv = d->drivers[i];
		if (!drv || !*drv)
			continue;
		for (size_t r = 0; r < ARRAY_SIZE(nic_rows); r++)
			if (strcmp(drv, nic_rows[r].drv) == 0) {
				set_kind(k, nic_rows[r].kind, nic_rows[r].name, nic_rows[r].meaning, "sysfs driver", true);
				return;
			}
		for (size_t r = 0; r < ARRAY_SIZE(nic_phys); r++)
			if (strcmp(drv, nic_phys[r]) == 0) {
				if (d->virtfn || mlx5_vf_id(d->pci_vendor, d->pci_device))
					set_kind(k, "sr-iov-vf", "SR-IOV virtual function", M_VF,
						 d->virtfn ? "sysfs driver and PCI physfn" : "sysfs driver and PCI ids", true);
				else if (d->guest)
					set_kind(k, "passthrough", "physical NIC passed through", M_PASSTHROUGH_NIC,
						 "sysfs driver (a physical NIC's) in a guest", true);
				else
					set_kind(k, "physical", "physical NIC",
						 "a physical NIC: its own queues; on a KVM host the VMs' taps and vhost "
						 "threads sit above it",
						 "sysfs driver", true);
				return;
			}
	}
	if (d->virtfn) {
		set_kind(k, "sr-iov-vf", "SR-IOV virtual function", M_VF, "PCI physfn", true);
		return;
	}
	set_kind(k, "unknown", "unknown",
		 d->n ? "its driver is not in hiddenq's table (src/parse/stackparse.c)"
		      : "no driver or bus device found for it (a virtual interface, or sysfs was not readable)",
		 "sysfs driver", false);
}

/* ------------------------------------------------------------------ */
/* Disks                                                               */
/* ------------------------------------------------------------------ */

static const char M_VIRTIO_BLK[] =
	"paravirtual: each request crosses a virtqueue to the host's IO thread and then the host's own block "
	"layer and scheduler, a second queue under the guest's (use scheduler none in the guest); completions "
	"wake the vCPU with an interrupt";
static const char M_VIRTIO_SCSI[] =
	"paravirtual SCSI: like virtio-blk (a virtqueue to the host's IO thread and the host's block layer "
	"below), with a SCSI layer and one controller's queues shared by its disks";
static const char M_EMULATED_DISK[] =
	"emulated controller: every register access traps to the hypervisor (an exit each), one request queue, "
	"no multi-queue; far slower than virtio";
static const char M_PASSTHROUGH_DISK[] =
	"a physical NVMe device given to this guest (PCI passthrough): its own queues, no host block layer; the "
	"VM cannot live-migrate while it holds it";
static const char M_NET_VOLUME[] =
	"a network volume behind an NVMe interface: the device's latency is the storage network's, with the "
	"provider's limits (IOPS and throughput caps) queued out of sight";
static const char M_LOCAL_NVME[] =
	"a local NVMe drive of the cloud host given to this VM: its own queues, no network; data does not "
	"survive the VM's stop";

static const struct disk_row {
	const char *drv;
	const char *kind, *name, *meaning;
} disk_rows[] = {
	{ "virtio_blk", "virtio-blk", "virtio-blk", M_VIRTIO_BLK },
	{ "virtio_scsi", "virtio-scsi", "virtio-scsi", M_VIRTIO_SCSI },
	{ "vbd", "paravirtual", "Xen blkfront",
	  "Xen's paravirtual disk: rings shared with dom0's backend, whose block layer queues again" },
	{ "storvsc", "paravirtual", "Hyper-V storvsc (synthetic SCSI over VMBus)",
	  "Hyper-V's synthetic disk: requests go through VMBus to the host's storage stack, which queues again" },
	{ "hv_storvsc", "paravirtual", "Hyper-V storvsc (synthetic SCSI over VMBus)",
	  "Hyper-V's synthetic disk: requests go through VMBus to the host's storage stack, which queues again" },
	{ "vmw_pvscsi", "paravirtual", "VMware PVSCSI",
	  "VMware's paravirtual SCSI: rings shared with the host, whose storage stack queues again" },
	{ "ata_piix", "emulated", "emulated IDE (PIIX)", M_EMULATED_DISK },
	{ "ahci", "emulated", "emulated SATA (AHCI)", M_EMULATED_DISK },
	{ "pata_acpi", "emulated", "emulated IDE", M_EMULATED_DISK },
	{ "ata_generic", "emulated", "emulated IDE", M_EMULATED_DISK },
	{ "mptspi", "emulated", "emulated LSI SCSI", M_EMULATED_DISK },
	{ "mptsas", "emulated", "emulated LSI SAS", M_EMULATED_DISK },
	{ "sym53c8xx", "emulated", "emulated LSI 53C895A SCSI", M_EMULATED_DISK },
	{ "BusLogic", "emulated", "emulated BusLogic SCSI", M_EMULATED_DISK },
	{ "megaraid_sas", "emulated", "emulated MegaRAID SAS", M_EMULATED_DISK },
	{ "iscsi_tcp", "network", "iSCSI (software initiator)",
	  "a network disk: its latency is the network's and the target's, queued in the guest's TCP stack too" },
	{ "usb-storage", "usb", "USB storage", "a USB disk: one queue, USB's latency" },
	{ "uas", "usb", "USB storage (UAS)", "a USB disk: USB's latency" },
};

static bool has_text(const char *s, const char *needle)
{
	return s && strcasestr(s, needle) != NULL;
}

static void nvme_kind(const struct dev_desc *d, struct dev_kind *k)
{
	switch (d->pci_vendor) {
	case 0x1d0f: /* Amazon */
		if (has_text(d->model, "Instance Storage"))
			set_kind(k, "local-nvme", "NVMe (Amazon EC2 instance store)", M_LOCAL_NVME, "PCI vendor and model",
				 true);
		else
			set_kind(k, "network-nvme", "NVMe (Amazon EBS volume)", M_NET_VOLUME, "PCI vendor and model",
				 true);
		return;
	case 0x1ae0: /* Google */
		if (has_text(d->model, "nvme_card-pd") || has_text(d->model, "PersistentDisk"))
			set_kind(k, "network-nvme", "NVMe (Google Persistent Disk)", M_NET_VOLUME, "PCI vendor and model",
				 true);
		else
			set_kind(k, "local-nvme", "NVMe (Google local SSD)", M_LOCAL_NVME, "PCI vendor and model", true);
		return;
	case 0x1414: /* Microsoft */
		if (has_text(d->model, "Direct Disk"))
			set_kind(k, "local-nvme", "NVMe (Azure local disk)", M_LOCAL_NVME, "PCI vendor and model", true);
		else
			set_kind(k, "network-nvme", "NVMe (Azure remote disk)", M_NET_VOLUME, "PCI vendor and model", true);
		return;
	case 0x1b36: /* Red Hat: QEMU's emulated NVMe controller */
		set_kind(k, "emulated-nvme", "emulated NVMe (QEMU)",
			 "QEMU's emulated NVMe controller: NVMe's queue pairs, but every doorbell write traps to QEMU "
			 "(an exit each) and the host's block layer queues again below",
			 "PCI ids", true);
		return;
	case 0x15ad:
		set_kind(k, "paravirtual", "VMware virtual NVMe",
			 "VMware's virtual NVMe controller: the host's storage stack queues below it", "PCI ids", true);
		return;
	default:
		break;
	}
	if (d->guest)
		set_kind(k, "passthrough", "NVMe passed through", M_PASSTHROUGH_DISK, "driver nvme in a guest", true);
	else
		set_kind(k, "physical", "NVMe",
			 "a physical NVMe drive: its own submission queues; on a KVM host the VMs' IO threads queue "
			 "above it",
			 "sysfs driver", true);
}

void disk_kind(const struct dev_desc *d, struct dev_kind *k)
{
	for (unsigned i = 0; i < d->n && i < 8; i++) {
		const char *drv = d->drivers[i];
		if (!drv || !*drv)
			continue;
		if (strcmp(drv, "nvme") == 0) {
			nvme_kind(d, k);
			return;
		}
		for (size_t r = 0; r < ARRAY_SIZE(disk_rows); r++)
			if (strcmp(drv, disk_rows[r].drv) == 0) {
				const struct disk_row *row = &disk_rows[r];
				bool emu = strcmp(row->kind, "emulated") == 0;
				if (emu && !d->guest)
					set_kind(k, "physical", "physical disk controller",
						 "a physical controller (not a guest): the disk's own queue", "sysfs driver", true);
				else
					set_kind(k, row->kind, row->name, row->meaning, "sysfs driver", true);
				return;
			}
	}
	if (d->scsi_host_driver && *d->scsi_host_driver) {
		struct dev_desc e = *d;
		e.drivers[0] = d->scsi_host_driver;
		e.n = 1;
		e.scsi_host_driver = NULL;
		disk_kind(&e, k);
		if (k->known)
			k->source = "SCSI host driver";
		return;
	}
	set_kind(k, "unknown", "unknown",
		 d->n ? "its driver is not in hiddenq's table (src/parse/stackparse.c)"
		      : "no driver or bus device found for it (a virtual disk, or sysfs was not readable)",
		 "sysfs driver", false);
}

/* ------------------------------------------------------------------ */
/* GPUs                                                                */
/* ------------------------------------------------------------------ */

static void set_gpu(struct gpu_kind *k, const char *sharing, const char *name, const char *meaning, const char *source,
		    bool compute, bool known)
{
	k->sharing = sharing;
	k->name = name;
	k->meaning = meaning;
	k->source = source;
	k->compute = compute;
	k->known = known;
}

/* NVIDIA's vGPU type names: "A100-1-5C" is MIG-backed (slices-memory), "A100-4C" time-sliced. */
static bool vgpu_mig_backed(const char *name)
{
	if (!name)
		return false;
	const char *p = strrchr(name, ' ');
	p = p ? p + 1 : name;
	/* ...-<digits>-<digits><letter> at the end */
	const char *d1 = strchr(p, '-');
	while (d1) {
		const char *q = d1 + 1;
		size_t a = strspn(q, "0123456789");
		if (a && q[a] == '-') {
			const char *r = q + a + 1;
			size_t b = strspn(r, "0123456789");
			if (b && isalpha((unsigned char)r[b]) && !r[b + 1])
				return true;
		}
		d1 = strchr(q, '-');
	}
	return false;
}

static const char M_PASSTHROUGH_GPU[] =
	"the whole GPU is this guest's (PCI passthrough): no other VM shares its engines or memory; the VM cannot "
	"live-migrate while it holds it";
static const char M_VGPU_TS[] =
	"a time-sliced vGPU: the physical GPU runs each VM's work in turns, so another VM's kernels make yours wait "
	"(a queue you cannot see from here)";
static const char M_VGPU_MIG[] =
	"a MIG-backed vGPU: a fixed partition of the GPU's engines and memory, so other tenants cannot take its "
	"compute time (memory bandwidth outside the partition is still shared)";
static const char M_MIG[] =
	"MIG is on: the GPU is split into isolated instances with their own engines and memory; work in one "
	"instance does not wait for another's";

void gpu_kind(const struct gpu_desc *g, struct gpu_kind *k)
{
	/* emulated display adapters: no compute */
	if ((g->vendor == 0x1af4 && g->device == 0x1050) || (g->vendor == 0x1234 && g->device == 0x1111) ||
	    (g->vendor == 0x1b36 && g->device == 0x0100) || g->vendor == 0x15ad || (g->vendor == 0x1013) ||
	    (g->vendor == 0x1414 && g->device == 0x5353)) {
		set_gpu(k, "emulated-display", "emulated display adapter",
			"a display the VMM emulates (virtio-gpu, VGA, QXL, Cirrus, VMware SVGA, Hyper-V): no GPU compute",
			"PCI ids", false, true);
		return;
	}
	if (g->vendor == 0x10de && g->nv_mode) {
		const char *m = g->nv_mode;
		bool mig = g->nv_mig && strcasecmp(g->nv_mig, "Enabled") == 0;
		if (strcasecmp(m, "Pass-Through") == 0)
			set_gpu(k, mig ? "mig" : "passthrough", mig ? "passthrough GPU with MIG on" : "passthrough GPU",
				mig ? M_MIG : M_PASSTHROUGH_GPU, "nvidia-smi virtualization_mode", true, true);
		else if (strcasecmp(m, "VGPU") == 0)
			set_gpu(k, vgpu_mig_backed(g->nv_name) ? "vgpu-mig" : "vgpu",
				vgpu_mig_backed(g->nv_name) ? "vGPU (MIG-backed)" : "vGPU (time-sliced)",
				vgpu_mig_backed(g->nv_name) ? M_VGPU_MIG : M_VGPU_TS,
				"nvidia-smi virtualization_mode and vGPU type name", true, true);
		else if (strcasecmp(m, "Host VGPU") == 0 || strcasecmp(m, "Host VSGA") == 0)
			set_gpu(k, "host-vgpu", mig ? "host of MIG-backed vGPUs" : "host of vGPUs",
				mig ? "this host splits the GPU into MIG instances for its VMs' vGPUs"
				    : "this host shares the GPU between its VMs' vGPUs in time slices: each VM's work waits "
				      "for the others'",
				"nvidia-smi virtualization_mode", true, true);
		else if (mig)
			set_gpu(k, "mig", "GPU with MIG on", M_MIG, "nvidia-smi mig.mode.current", true, true);
		else
			set_gpu(k, g->guest ? "passthrough" : "physical", g->guest ? "passthrough GPU" : "physical GPU",
				g->guest ? M_PASSTHROUGH_GPU
					 : "a whole GPU, no virtualization: processes or containers that share it take turns "
					   "(time-slicing), which nvidia-smi's settings do not show",
				"nvidia-smi virtualization_mode None", true, true);
		return;
	}
	const char *drv = g->driver ? g->driver : "";
	if (!g->guest && strcmp(drv, "vfio-pci") == 0) {
		set_gpu(k, "host-vfio", "GPU bound to vfio-pci", "this host hands the whole GPU to a VM (passthrough)",
			"driver vfio-pci", true, true);
		return;
	}
	if (!g->guest && (g->mdev_types || g->sriov_numvfs)) {
		set_gpu(k, "host-vgpu", g->sriov_numvfs ? "GPU with SR-IOV functions for vGPUs" : "GPU offering mediated vGPUs",
			"this host shares the GPU between VMs (vGPU): their work takes turns or partitions on it",
			g->sriov_numvfs ? "PCI sriov_numvfs" : "PCI mdev_supported_types", true, true);
		return;
	}
	if (g->virtfn) {
		set_gpu(k, "sr-iov-vf", "SR-IOV virtual function of a GPU (vGPU)",
			"a share of a physical GPU given through SR-IOV (AMD MxGPU, Intel Flex, NVIDIA vGPU on SR-IOV): "
			"other VMs' functions share its engines",
			"PCI physfn", true, true);
		return;
	}
	if (g->guest) {
		set_gpu(k, "unknown", "GPU in a guest: passthrough or vGPU",
			g->vendor == 0x10de ? "which one nvidia-smi would tell (virtualization_mode); it did not answer"
					    : "a whole passed-through GPU and a mediated vGPU look alike from inside",
			"PCI ids", true, false);
		return;
	}
	set_gpu(k, "physical", "physical GPU",
		"a whole GPU, not shared between VMs; processes or containers that share it take turns (time-slicing)",
		"PCI class", true, true);
}

/* ------------------------------------------------------------------ */
/* CPU vulnerabilities                                                 */
/* ------------------------------------------------------------------ */

const char *cost_class_name(enum cost_class c)
{
	static const char *const n[] = { "none", "low", "medium", "high", "unknown" };
	return (unsigned)c < ARRAY_SIZE(n) ? n[c] : "unknown";
}

static const struct mit_row {
	const char *file;	/* NULL: any */
	const char *text;	/* substring of the mitigation line */
	enum cost_class cost;
	const char *why;
} mit_rows[] = {
	{ "meltdown", "PTI", COST_HIGH, "page-table isolation: page tables switch on every syscall and interrupt" },
	{ NULL, "Enhanced / Automatic IBRS", COST_LOW, "enhanced IBRS: set once, in hardware" },
	{ NULL, "Enhanced IBRS", COST_LOW, "enhanced IBRS: set once, in hardware" },
	{ NULL, "Automatic IBRS", COST_LOW, "automatic IBRS: set once, in hardware" },
	{ "spectre_v2", "Retpolines", COST_MEDIUM, "retpolines: every indirect branch goes through a thunk" },
	{ "spectre_v2", "IBRS", COST_HIGH, "legacy IBRS: an MSR write on every kernel entry" },
	{ "spectre_v2", "LFENCE", COST_MEDIUM, "LFENCE before indirect branches" },
	{ "spectre_v1", "", COST_LOW, "barriers on user pointers and swapgs: cheap" },
	{ "spec_store_bypass", "prctl", COST_LOW, "only tasks that ask for it (prctl or seccomp) pay" },
	{ "spec_store_bypass", "seccomp", COST_LOW, "only tasks that ask for it (prctl or seccomp) pay" },
	{ "spec_store_bypass", "disabled", COST_HIGH, "store bypass disabled for every task" },
	{ "retbleed", "IBRS", COST_HIGH, "IBRS on kernel entry" },
	{ "retbleed", "IBPB", COST_HIGH, "an IBPB on every kernel entry" },
	{ "retbleed", "Stuffing", COST_MEDIUM, "call depth tracking" },
	{ "retbleed", "untrained return", COST_MEDIUM, "return thunks on every kernel return" },
	{ "retbleed", "", COST_MEDIUM, "return thunks" },
	{ "spec_rstack_overflow", "Safe RET", COST_HIGH, "safe return thunks on every kernel return" },
	{ "spec_rstack_overflow", "IBPB", COST_HIGH, "an IBPB on every kernel entry" },
	{ "spec_rstack_overflow", "", COST_MEDIUM, "return-stack mitigation" },
	{ "l1tf", "PTE Inversion; VMX: flush not necessary", COST_LOW, "PTE inversion: cheap" },
	{ "l1tf", "VMX: cache flushes", COST_HIGH, "an L1D flush before entering a guest (a host cost)" },
	{ "l1tf", "VMX: conditional cache flushes", COST_MEDIUM, "L1D flushes before some guest entries" },
	{ "l1tf", "PTE Inversion", COST_LOW, "PTE inversion: cheap" },
	{ "mds", "Clear CPU buffers", COST_MEDIUM, "VERW (buffer clearing) on every return to user and VM entry" },
	{ "tsx_async_abort", "TSX disabled", COST_LOW, "TSX off: only TSX users lose it" },
	{ "tsx_async_abort", "Clear CPU buffers", COST_MEDIUM, "VERW on every return to user and VM entry" },
	{ "mmio_stale_data", "Clear CPU buffers", COST_MEDIUM, "VERW on every return to user and VM entry" },
	{ "reg_file_data_sampling", "Clear Register File", COST_MEDIUM, "register file clearing on kernel exit" },
	{ "tsa", "Clear CPU buffers", COST_MEDIUM, "VERW on every return to user and VM entry" },
	{ "srbds", "Microcode", COST_LOW, "RDRAND and RDSEED are slower" },
	{ "gather_data_sampling", "AVX disabled", COST_HIGH, "AVX is off" },
	{ "gather_data_sampling", "Microcode", COST_MEDIUM, "AVX gather instructions are slower" },
	{ "itlb_multihit", "Split huge pages", COST_MEDIUM,
	  "KVM maps executable guest pages with 4 KiB pages (a host cost: TLB reach)" },
	{ "itlb_multihit", "VMX disabled", COST_NONE, "no VMX: nothing to do" },
	{ "itlb_multihit", "VMX unsupported", COST_NONE, "no VMX: nothing to do" },
	{ "indirect_target_selection", "thunks", COST_LOW, "aligned branch and return thunks" },
	{ "indirect_target_selection", "Retpolines", COST_MEDIUM, "retpolines" },
	{ "vmscape", "IBPB", COST_MEDIUM, "an IBPB before returning to the VMM after a VM exit (a host cost)" },
	{ NULL, "Clear CPU buffers", COST_MEDIUM, "VERW on every return to user and VM entry" },
};

enum cost_class mitigation_cost(const char *name, const char *line, size_t len, bool *vulnerable, const char **why)
{
	char buf[256];
	size_t k = 0;
	for (size_t i = 0; i < len && line[i] != '\n' && k + 1 < sizeof(buf); i++)
		buf[k++] = line[i] ? line[i] : ' ';
	buf[k] = '\0';
	*vulnerable = false;
	if (strncmp(buf, "Not affected", 12) == 0) {
		*why = "the CPU is not affected";
		return COST_NONE;
	}
	if (strncmp(buf, "Vulnerable", 10) == 0 || strncmp(buf, "Processor vulnerable", 20) == 0) {
		*vulnerable = true;
		*why = "no mitigation in force: no cost, and no protection";
		return COST_NONE;
	}
	if (strncmp(buf, "Unknown", 7) == 0) {
		*why = "the kernel does not know this CPU's state";
		return COST_UNKNOWN;
	}
	const char *m = strstr(buf, "Mitigation:");
	if (!m && strncmp(buf, "KVM: ", 5) != 0) {
		*why = "not a line hiddenq knows (Not affected, Vulnerable or Mitigation:)";
		return COST_UNKNOWN;
	}
	for (size_t i = 0; i < ARRAY_SIZE(mit_rows); i++) {
		const struct mit_row *r = &mit_rows[i];
		if (r->file && (!name || strcmp(r->file, name) != 0))
			continue;
		if (!strstr(buf, r->text))
			continue;
		*why = r->why;
		return r->cost;
	}
	*why = "a mitigation not in hiddenq's table (src/parse/stackparse.c)";
	return COST_UNKNOWN;
}

/* ------------------------------------------------------------------ */
/* nvidia-smi                                                          */
/* ------------------------------------------------------------------ */

static void field_copy(char *dst, size_t n, const char *s, size_t len)
{
	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
		len--;
	size_t k = 0;
	for (size_t i = 0; i < len && k + 1 < n; i++)
		dst[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	dst[k] = '\0';
}

size_t nvidia_smi_parse(const char *buf, size_t len, struct nv_gpu *out, size_t max)
{
	size_t n = 0, pos = 0;
	while (pos < len && n < max) {
		const char *line = buf + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - line) : len - pos;
		pos += ll + 1;
		const char *f[6];
		size_t fl[6];
		unsigned nf = 0;
		size_t start = 0;
		for (size_t i = 0; i <= ll && nf < 6; i++) {
			if (i == ll || line[i] == ',') {
				f[nf] = line + start;
				fl[nf] = i - start;
				nf++;
				start = i + 1;
			}
		}
		if (nf != 6 || start <= ll)
			continue; /* not six fields (or more) */
		struct nv_gpu *g = &out[n];
		field_copy(g->index, sizeof(g->index), f[0], fl[0]);
		field_copy(g->bus_id, sizeof(g->bus_id), f[1], fl[1]);
		field_copy(g->name, sizeof(g->name), f[2], fl[2]);
		field_copy(g->virt_mode, sizeof(g->virt_mode), f[3], fl[3]);
		field_copy(g->mig_mode, sizeof(g->mig_mode), f[4], fl[4]);
		field_copy(g->compute_mode, sizeof(g->compute_mode), f[5], fl[5]);
		if (!g->bus_id[0])
			continue;
		n++;
	}
	return n;
}

bool nv_bus_id_match(const char *nv, const char *sysfs)
{
	if (!nv || !sysfs)
		return false;
	size_t a = strlen(nv), b = strlen(sysfs);
	/* nvidia-smi pads the domain to 8 digits: compare the "bb:dd.f" tails and the domain's value */
	if (a < 7 || b < 7 || strcasecmp(nv + a - 7, sysfs + b - 7) != 0)
		return false;
	unsigned long da = strtoul(nv, NULL, 16), db = strtoul(sysfs, NULL, 16);
	return da == db;
}

/* ------------------------------------------------------------------ */
/* identifiers                                                         */
/* ------------------------------------------------------------------ */

static size_t trimmed(const char *s, size_t len, const char **start)
{
	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	*start = s;
	return len;
}

static bool placeholder(const char *hex32)
{
	size_t z = strspn(hex32, "0"), f = strspn(hex32, "f");
	return z == 32 || f == 32;
}

bool uuid_canon(const char *s, size_t len, char out[37])
{
	const char *p;
	len = trimmed(s, len, &p);
	char hex[33];
	size_t k = 0;
	if (len == 36) {
		for (size_t i = 0; i < 36; i++) {
			bool dash = i == 8 || i == 13 || i == 18 || i == 23;
			if (dash != (p[i] == '-'))
				return false;
			if (dash)
				continue;
			if (!isxdigit((unsigned char)p[i]))
				return false;
			hex[k++] = (char)tolower((unsigned char)p[i]);
		}
	} else if (len == 32) {
		for (size_t i = 0; i < 32; i++) {
			if (!isxdigit((unsigned char)p[i]))
				return false;
			hex[k++] = (char)tolower((unsigned char)p[i]);
		}
	} else {
		return false;
	}
	hex[32] = '\0';
	if (placeholder(hex))
		return false;
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
	return true;
}

bool machine_id_canon(const char *s, size_t len, char out[33])
{
	const char *p;
	len = trimmed(s, len, &p);
	if (len != 32)
		return false;
	char id[33];	/* out stays as it was unless this is a machine-id */
	for (size_t i = 0; i < 32; i++) {
		if (!isxdigit((unsigned char)p[i]))
			return false;
		id[i] = (char)tolower((unsigned char)p[i]);
	}
	id[32] = '\0';
	if (placeholder(id))
		return false;
	memcpy(out, id, sizeof(id));
	return true;
}
