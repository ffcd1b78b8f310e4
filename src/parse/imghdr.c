/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Disk image headers (see imghdr.h). */
#include "imghdr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "vmconf.h"	/* str_copy */

#define QCOW_MAGIC "QFI\xfb"
#define EXT_END 0x00000000u
#define EXT_BACKING_FORMAT 0xe2792acau
#define EXT_DATA_FILE 0x44415441u

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* A name from [p, p + n): printable ASCII only, else false (a name QEMU would never write). */
static bool name(char *out, size_t cap, const uint8_t *p, size_t n)
{
	if (n >= cap)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] >= 0x7f)
			return false;
		out[i] = (char)p[i];
	}
	out[n] = '\0';
	return true;
}

static int refuse(struct img_header *h, const char *why)
{
	str_copy(h->why, sizeof(h->why), why);
	return -EINVAL;
}

static int qcow2(const uint8_t *b, size_t len, struct img_header *h)
{
	if (len < 72)
		return refuse(h, "qcow2 header cut short (fewer than 72 bytes)");
	h->version = be32(b + 4);
	if (h->version == 1) {
		str_copy(h->format, sizeof(h->format), "qcow");
		return 0;
	}
	if (h->version != 2 && h->version != 3)
		return refuse(h, "qcow2 version neither 2 nor 3");
	uint64_t boff = be64(b + 8);
	uint32_t bsize = be32(b + 16);
	h->cluster_bits = be32(b + 20);
	h->virtual_size = be64(b + 24);
	h->encrypted = be32(b + 32) != 0;
	h->nb_snapshots = be32(b + 60);
	if (h->cluster_bits < 9 || h->cluster_bits > 21)
		return refuse(h, "qcow2 cluster_bits outside 9..21");
	uint64_t hlen = 72;
	if (h->version == 3) {
		if (len < 104)
			return refuse(h, "qcow2 version 3 header cut short (fewer than 104 bytes)");
		uint64_t incompat = be64(b + 72), compat = be64(b + 80);
		h->dirty = incompat & 1;
		h->corrupt = (incompat >> 1) & 1;
		h->extended_l2 = (incompat >> 4) & 1;
		h->lazy_refcounts = compat & 1;
		hlen = be32(b + 100);
		if (hlen < 104 || hlen % 8 || hlen > (1ull << h->cluster_bits))
			return refuse(h, "qcow2 header_length not a multiple of 8 between 104 and the cluster size");
	}
	/* header extensions */
	uint64_t off = hlen;
	for (unsigned n = 0; n < 1024; n++) {
		if (off + 8 > len)
			return refuse(h, "qcow2 header extensions run past the bytes read");
		uint32_t type = be32(b + off), elen = be32(b + off + 4);
		off += 8;
		if (type == EXT_END)
			break;
		if (elen > len - off)
			return refuse(h, "qcow2 header extension runs past the bytes read");
		if (type == EXT_BACKING_FORMAT && !name(h->backing_fmt, sizeof(h->backing_fmt), b + off, elen))
			return refuse(h, "qcow2 backing format name not printable or too long");
		if (type == EXT_DATA_FILE && !name(h->data_file, sizeof(h->data_file), b + off, elen))
			return refuse(h, "qcow2 external data file name not printable or too long");
		off += ((uint64_t)elen + 7) & ~7ull;
	}
	if (boff || bsize) {
		if (bsize == 0 || bsize > 1023)
			return refuse(h, "qcow2 backing_file_size not 1..1023");
		if (boff > len || bsize > len - boff)
			return refuse(h, "qcow2 backing file name lies past the bytes read");
		if (!name(h->backing, sizeof(h->backing), b + boff, bsize))
			return refuse(h, "qcow2 backing file name not printable");
	}
	return 0;
}

int imghdr_parse(const uint8_t *buf, size_t len, struct img_header *out)
{
	static const struct {
		size_t off;
		const char *magic;
		size_t n;
		const char *format;
	} magics[] = {
		{ 0, "QED\0", 4, "qed" },
		{ 0, "KDMV", 4, "vmdk" },
		{ 0, "# Disk DescriptorFile", 21, "vmdk" },
		{ 0, "vhdxfile", 8, "vhdx" },
		{ 0, "conectix", 8, "vpc" },
		{ 0, "LUKS\xba\xbe", 6, "luks" },
		{ 64, "\x7f\x10\xda\xbe", 4, "vdi" },
		{ 0, "WithoutFreeSpace", 16, "parallels" },
		{ 0, "WithouFreSpacExt", 16, "parallels" },
	};
	memset(out, 0, sizeof(*out));
	if (len >= 4 && memcmp(buf, QCOW_MAGIC, 4) == 0) {
		str_copy(out->format, sizeof(out->format), "qcow2");
		return qcow2(buf, len, out);
	}
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if (len >= magics[i].off + magics[i].n && memcmp(buf + magics[i].off, magics[i].magic, magics[i].n) == 0) {
			str_copy(out->format, sizeof(out->format), magics[i].format);
			return 0;
		}
	str_copy(out->format, sizeof(out->format), "raw");
	return 0;
}

/* ---- chains ---- */

void image_chain_done(struct img_chain *c)
{
	free(c->layer);
	memset(c, 0, sizeof(*c));
}

unsigned image_chain_queues(const struct img_chain *c)
{
	unsigned n = 0;
	for (unsigned i = 1; i < c->n; i++) {
		const struct img_layer *l = &c->layer[i], *top = &c->layer[0];
		n += l->network || strcmp(l->fs, top->fs) != 0 || strcmp(l->disk, top->disk) != 0;
	}
	return n;
}

json_t *image_chain_json(const struct img_chain *c)
{
	json_t *o = json_object();
	json_t *a = json_array();
	for (unsigned i = 0; i < c->n; i++) {
		const struct img_layer *l = &c->layer[i];
		json_t *x = json_object();
		json_object_set_new(x, "file", json_string(l->file));
		json_object_set_new(x, "format", json_string(l->format));
		json_object_set_new(x, "virtual_size", l->virtual_size ? json_integer((json_int_t)l->virtual_size) : json_null());
		if (l->cluster_kib)
			json_object_set_new(x, "cluster_kib", json_integer(l->cluster_kib));
		json_object_set_new(x, "fs", json_string(l->fs));
		json_object_set_new(x, "network", json_boolean(l->network));
		json_object_set_new(x, "dev", json_string(l->dev));
		json_object_set_new(x, "disk", json_string(l->disk));
		if (l->dirty)
			json_object_set_new(x, "dirty", json_true());
		if (l->corrupt)
			json_object_set_new(x, "corrupt", json_true());
		if (l->encrypted)
			json_object_set_new(x, "encrypted", json_true());
		if (l->data_file[0])
			json_object_set_new(x, "data_file", json_string(l->data_file));
		if (l->err[0])
			json_object_set_new(x, "error", json_string(l->err));
		json_array_append_new(a, x);
	}
	json_object_set_new(o, "layers", a);
	json_object_set_new(o, "loop", json_boolean(c->loop));
	json_object_set_new(o, "truncated", json_boolean(c->truncated));
	return o;
}

static void jcopy(const json_t *o, const char *k, char *out, size_t n)
{
	const char *s = json_string_value(json_object_get(o, k));
	str_copy(out, n, s ? s : "");
}

void image_chain_from_json(const json_t *j, struct img_chain *c)
{
	memset(c, 0, sizeof(*c));
	const json_t *a = json_object_get(j, "layers");
	size_t n = json_array_size(a);
	if (!n)
		return;
	if (n > IMG_MAX_CHAIN)
		n = IMG_MAX_CHAIN;
	c->layer = xcalloc(n, sizeof(*c->layer));
	for (size_t i = 0; i < n; i++) {
		const json_t *x = json_array_get(a, i);
		struct img_layer *l = &c->layer[c->n++];
		jcopy(x, "file", l->file, sizeof(l->file));
		jcopy(x, "format", l->format, sizeof(l->format));
		jcopy(x, "fs", l->fs, sizeof(l->fs));
		jcopy(x, "dev", l->dev, sizeof(l->dev));
		jcopy(x, "disk", l->disk, sizeof(l->disk));
		jcopy(x, "data_file", l->data_file, sizeof(l->data_file));
		jcopy(x, "error", l->err, sizeof(l->err));
		json_int_t vs = json_integer_value(json_object_get(x, "virtual_size"));
		l->virtual_size = vs > 0 ? (uint64_t)vs : 0;
		json_int_t ck = json_integer_value(json_object_get(x, "cluster_kib"));
		l->cluster_kib = ck > 0 && ck <= 2048 ? (unsigned)ck : 0;
		l->network = json_is_true(json_object_get(x, "network"));
		l->dirty = json_is_true(json_object_get(x, "dirty"));
		l->corrupt = json_is_true(json_object_get(x, "corrupt"));
		l->encrypted = json_is_true(json_object_get(x, "encrypted"));
	}
	c->loop = json_is_true(json_object_get(j, "loop"));
	c->truncated = json_is_true(json_object_get(j, "truncated"));
}

void image_chain_format(const struct img_chain *c, char *out, size_t n)
{
	size_t o = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < c->n && o + 1 < n; i++) {
		const struct img_layer *l = &c->layer[i];
		const char *b = strrchr(l->file, '/');
		char where[96];
		if (l->dev[0])
			snprintf(where, sizeof(where), "%s %s", l->fs[0] ? l->fs : "?", l->dev);
		else
			snprintf(where, sizeof(where), "%s", l->fs[0] ? l->fs : "?");
		int w = snprintf(out + o, n - o, "%s%s (%s, %s%s%s)", i ? " <- " : "", b ? b + 1 : l->file,
				 l->format[0] ? l->format : "?", where, l->err[0] ? ": " : "", l->err);
		if (w < 0)
			break;
		o += (size_t)w < n - o ? (size_t)w : n - o - 1;
	}
}

