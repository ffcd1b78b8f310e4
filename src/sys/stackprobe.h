/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The virtualization stack under the guest, probed on the live machine where
 * plain file copies would lose it: a bundle keeps no symlinks, so which
 * driver holds each device, what bus it sits on and which PCI function is
 * under it are resolved here and written as JSON (STACK_PATH).  Also what
 * is not a file at all: nvidia-smi's answer (only when an NVIDIA display
 * device is present and the tool installed), the kernel-log lines that say
 * memory is encrypted or DMA is bounced, and the root filesystem's type.
 *
 *   {"pci": {"0000:00:03.0": {"vendor":"0x1af4","device":"0x1041","class":"0x020000",
 *            "subsystem_vendor":"0x1af4","subsystem_device":"0x0001","driver":"virtio-pci",
 *            "virtfn":false,"sriov_totalvfs":0,"mdev_types":false}},
 *    "net":   {"eth0": {"chain":[{"dev":"virtio2","subsystem":"virtio","driver":"virtio_net"},
 *                                {"dev":"0000:00:03.0","subsystem":"pci","driver":"virtio-pci"}],
 *                       "pci":"0000:00:03.0","lower":["eth1"]}},
 *    "block": {"vda": {"chain":[...],"pci":"0000:00:02.0"}},
 *    "scsi_hosts": {"host0": "virtio_scsi"},
 *    "nvidia_smi": {"ran":true,"rc":0,"out":"0, 00000000:00:05.0, ..."} or {"ran":false,"why":"..."},
 *    "kmsg": ["Memory Encryption Features active: AMD SEV", ...], "kmsg_error": "...",
 *    "root_fstype": "ext4"}
 *
 * stack_capture_static copies the plain files the stack is judged from (DMI,
 * /etc/machine-id, CPU vulnerabilities, cpuidle and halt-polling settings,
 * swiotlb's debugfs counters) into the statics, and on a live root adds
 * stack.json; on a bundle it copies them from the bundle.  analysis/stack.c
 * turns both into facts.
 */
#ifndef HQ_STACKPROBE_H
#define HQ_STACKPROBE_H

#include <stdbool.h>

#include "../core/paths.h"	/* STACK_PATH */
#include "../core/sample.h"
#include "fsroot.h"

/* Probe the live machine; malloc'd JSON text. */
char *stack_probe_json(const struct fsroot *root);

/*
 * Add the stack's files under root to statics (paths already there are
 * skipped): live, also stack.json from stack_probe_json (identity.json is
 * the caller's: it probes CPUID once); on a bundle, the copies of both it
 * holds.
 */
void stack_capture_static(const struct fsroot *root, bool live, struct sample *statics);

/* The swiotlb debugfs counters (read on slow ticks when they were readable at start). */
extern const char *const stack_swiotlb_files[];
#define STACK_SWIOTLB_NFILES 3

#endif
