/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The disk images under a VM: each image's format and backing chain, read
 * from the image headers ourselves (parse/imghdr.h, no qemu-img), and where
 * each layer lives: its filesystem (statfs) and block device
 * (vmscan_backing).  Every layer is a file of its own that a read may have to
 * reach: a lookup in its metadata, and a queue of its own when it sits on
 * another device or on a network filesystem.
 *
 * A header is only believed where the image is one: a disk configured as raw
 * is never read for a header (a guest can write any bytes into its raw
 * disk, a qcow2 header with a backing file included), and a backing layer
 * whose format its parent does not state is probed only as QEMU would.
 * Paths of running VMs resolve as their VMM sees them (/proc/PID/cwd); a
 * relative backing name is relative to the directory of the image naming it.
 * Reads go through the fsroot: 64 KiB of each image.
 *
 * `qemu-img check` (read-only, no -r) is run here too, bounded in time, for
 * images the caller knows no QEMU holds.
 */
#ifndef HQ_IMAGES_H
#define HQ_IMAGES_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "../parse/imghdr.h"	/* struct img_chain */
#include "../sys/fsroot.h"

/*
 * Walk the chain under `file` (a VM's disk image) as process pid sees it (0:
 * from the root).  fmt is the configured format ("" when the configuration
 * does not say: then the header decides, as QEMU's probing would).  Layers
 * that cannot be read end the chain with their err set.  Returns the layer
 * count (0 when the file is not a local file: err of nothing; see *why).
 */
unsigned image_chain(const struct fsroot *root, int pid, const char *file, const char *fmt, struct img_chain *out,
		     char *why, size_t wn);
/* ---- qemu-img check, read-only ---- */

struct img_check {
	int rc;			/* qemu-img's exit status: 0 clean, 2 corruptions, 3 leaks, 63 not checkable; -1 did not run */
	long long corruptions, leaks, check_errors;	/* -1 when not said */
	char why[256];		/* what went wrong, or qemu-img's message */
};
/* Is qemu-img on PATH (or HIDDENQ_QEMU_IMG)? */
bool image_check_available(char *path, size_t n);
/* `qemu-img check -f FMT --output=json FILE`, at most timeout_ms.  file is a host path (not under a root). */
void image_check(const char *qemu_img, const char *file, const char *fmt, int timeout_ms, struct img_check *out);

#endif
