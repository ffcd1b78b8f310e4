/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Disk image headers, read by ourselves (no qemu-img needed): the format of
 * a VM's image file from its magic, and for qcow2 the header fields that
 * matter to the VM's IO path (docs/interop/qcow2.txt in QEMU's tree; all
 * fields big-endian):
 *
 *    0 magic "QFI\xfb"        4 version (2 or 3)        8 backing_file_offset (u64)
 *   16 backing_file_size (u32, at most 1023)           20 cluster_bits (9..21)
 *   24 size (u64, virtual)   32 crypt_method           36 l1_size
 *   40 l1_table_offset       48 refcount_table_offset  56 refcount_table_clusters
 *   60 nb_snapshots          64 snapshots_offset
 *   version 3: 72 incompatible_features (bit 0 dirty, 1 corrupt, 2 external data
 *   file, 3 compression type, 4 extended L2), 80 compatible (bit 0 lazy
 *   refcounts), 88 autoclear, 96 refcount_order, 100 header_length
 *
 * then header extensions from header_length (72 for version 2): u32 type,
 * u32 length, data padded to 8 bytes, until type 0.  Read here: 0xe2792aca
 * the backing file's format, 0x44415441 an external data file.  The backing
 * file name sits at backing_file_offset, not NUL-terminated.
 *
 * Other formats are named by their magic (qcow, qed, vmdk, vdi, vhdx, vpc,
 * luks); a file with none of them is "raw" as far as a header can tell.
 * Only the bytes given are read: a field that points past them is refused
 * with the reason.  Pure and fuzzed (tests/fuzz/fuzz_imghdr.c).
 */
#ifndef HQ_IMGHDR_H
#define HQ_IMGHDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define IMGHDR_READ (64 * 1024)		/* bytes of an image's start that hold every field read */

struct img_header {
	char format[16];	/* "qcow2", "raw", "vmdk" ... */
	unsigned version;	/* qcow2: 2 or 3 */
	uint64_t virtual_size;	/* bytes the guest sees (qcow2), 0 unknown */
	unsigned cluster_bits;	/* qcow2 */
	uint32_t nb_snapshots;	/* qcow2 internal snapshots */
	bool encrypted;		/* qcow2 crypt_method != 0 */
	bool dirty, corrupt;	/* qcow2 v3 incompatible features: refcounts not written back; marked corrupt */
	bool lazy_refcounts, extended_l2;
	char backing[1024];	/* the backing file as the header names it, "" none */
	char backing_fmt[16];	/* its format as the header says, "" not said */
	char data_file[256];	/* an external data file, "" none */
	char why[160];		/* why the header was refused */
};

/*
 * Identify the image whose first len bytes are buf (IMGHDR_READ or the whole
 * file if shorter).  0 with the format named (for qcow2 every field above), or
 * -EINVAL with why when the qcow2 header is damaged (its format is still
 * "qcow2").
 */
int imghdr_parse(const uint8_t *buf, size_t len, struct img_header *out);

/*
 * A VM disk's chain of images, top first, as host/images.c walks it (the
 * analysis reads it back from vms.json, so its JSON form lives here too).
 */
#define IMG_MAX_CHAIN 16

struct img_layer {
	char file[512];		/* as the VMM or the header named it, resolved against its parent's directory */
	char format[16];	/* from the header ("raw" when it has none); the configured one for the top */
	uint64_t virtual_size;	/* bytes, 0 unknown */
	unsigned cluster_kib;	/* qcow2 */
	bool dirty, corrupt, encrypted;	/* qcow2 header flags */
	char data_file[256];	/* qcow2 external data file */
	char fs[24];		/* the filesystem holding it: "ext4", "xfs", "nfs" ... ("" unknown) */
	bool network;		/* that filesystem reaches over the network (NFS, CIFS, Ceph, GlusterFS via FUSE) */
	char dev[32];		/* its block device ("vda1"), "" none */
	char disk[32];		/* that device's disk ("vda") */
	char err[160];		/* why a field is unknown, or why the chain stops here */
};

struct img_chain {
	struct img_layer *layer;	/* top first (owned) */
	unsigned n;
	bool loop;			/* a layer named one above it again: stopped there */
	bool truncated;			/* more than IMG_MAX_CHAIN layers */
};

void image_chain_done(struct img_chain *c);

/* Layers on another device or filesystem than the top's, or on a network filesystem. */
unsigned image_chain_queues(const struct img_chain *c);

/* The chain as JSON (an array of layers) and back (vms.json: the analysis reads it). */
json_t *image_chain_json(const struct img_chain *c);
void image_chain_from_json(const json_t *j, struct img_chain *c);

/* "top.qcow2 (qcow2, ext4 vda1) <- base.img (raw, nfs)" into out. */
void image_chain_format(const struct img_chain *c, char *out, size_t n);

#endif
