/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Disk image headers (parse/imghdr.c): qcow2 headers laid out as QEMU's
 * docs/interop/qcow2.txt specifies (and as `qemu-img create -b` writes
 * them: tests/e2e/test_images.py reads real ones), damaged variants, the
 * other formats' magics, and the chain's JSON round trip.
 */
#include "harness.h"

#include "parse/imghdr.h"

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

/* A version 3 header as qemu-img create -f qcow2 -b BACKING -F FMT writes it (104-byte header, extensions after). */
static size_t qcow2_v3(uint8_t *b, size_t cap, const char *backing, const char *fmt)
{
	memset(b, 0, cap);
	memcpy(b, "QFI\xfb", 4);
	put32(b + 4, 3);
	put32(b + 20, 16);			/* 64 KiB clusters */
	put64(b + 24, 16ull << 20);		/* 16 MiB */
	put32(b + 36, 1);
	put64(b + 40, 0x30000);
	put64(b + 48, 0x10000);
	put32(b + 56, 1);
	put64(b + 80, 1);			/* lazy refcounts */
	put32(b + 96, 4);
	put32(b + 100, 104);
	size_t off = 104;
	if (fmt) {
		put32(b + off, 0xe2792aca);
		put32(b + off + 4, (uint32_t)strlen(fmt));
		memcpy(b + off + 8, fmt, strlen(fmt));
		off += 8 + ((strlen(fmt) + 7) & ~7u);
	}
	put32(b + off, 0x6803f857);		/* a feature name table: skipped */
	put32(b + off + 4, 48);
	off += 8 + 48;
	put32(b + off, 0);			/* end */
	put32(b + off + 4, 0);
	off += 8;
	if (backing) {
		put64(b + 8, off);
		put32(b + 16, (uint32_t)strlen(backing));
		memcpy(b + off, backing, strlen(backing));
		off += strlen(backing);
	}
	return off;
}

static void test_qcow2(void **state)
{
	(void)state;
	static uint8_t b[4096];
	struct img_header h;
	size_t n = qcow2_v3(b, sizeof(b), "mid.qcow2", "qcow2");
	assert_int_equal(imghdr_parse(b, n, &h), 0);
	assert_string_equal(h.format, "qcow2");
	assert_int_equal(h.version, 3);
	assert_int_equal(h.cluster_bits, 16);
	assert_true(h.virtual_size == 16ull << 20);
	assert_string_equal(h.backing, "mid.qcow2");
	assert_string_equal(h.backing_fmt, "qcow2");
	assert_true(h.lazy_refcounts);
	assert_false(h.dirty || h.corrupt || h.encrypted);
	/* no backing file, no format extension */
	n = qcow2_v3(b, sizeof(b), NULL, NULL);
	assert_int_equal(imghdr_parse(b, n, &h), 0);
	assert_string_equal(h.backing, "");
	assert_string_equal(h.backing_fmt, "");
	/* dirty and corrupt bits */
	n = qcow2_v3(b, sizeof(b), "/srv/base.raw", "raw");
	put64(b + 72, 3);
	assert_int_equal(imghdr_parse(b, n, &h), 0);
	assert_true(h.dirty && h.corrupt);
	assert_string_equal(h.backing, "/srv/base.raw");
	/* version 2: 72-byte header, extensions right after */
	memset(b, 0, sizeof(b));
	memcpy(b, "QFI\xfb", 4);
	put32(b + 4, 2);
	put32(b + 20, 12);
	put64(b + 24, 1ull << 30);
	put32(b + 72, 0);
	put64(b + 8, 0x200);
	put32(b + 16, 8);
	memcpy(b + 0x200, "base.img", 8);
	assert_int_equal(imghdr_parse(b, 0x208, &h), 0);
	assert_int_equal(h.version, 2);
	assert_string_equal(h.backing, "base.img");

	/* damaged: each refused with its reason, never read past the bytes given */
	static const struct {
		size_t off, len;
		uint64_t val;
		const char *why;
	} bad[] = {
		{ 4, 4, 7, "version" },
		{ 20, 4, 30, "cluster_bits" },
		{ 100, 4, 100, "header_length" },
		{ 100, 4, 4000, "header extensions run past" },
		{ 16, 4, 2000, "backing_file_size" },
		{ 8, 8, 1u << 20, "past the bytes read" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		n = qcow2_v3(b, sizeof(b), "mid.qcow2", "qcow2");
		if (bad[i].len == 4)
			put32(b + bad[i].off, (uint32_t)bad[i].val);
		else
			put64(b + bad[i].off, bad[i].val);
		assert_int_equal(imghdr_parse(b, n, &h), -EINVAL);
		if (!strstr(h.why, bad[i].why))
			fail_msg("case %zu: %s", i, h.why);
		assert_string_equal(h.format, "qcow2");
	}
	n = qcow2_v3(b, sizeof(b), "mid\x01qcow2", "qcow2");
	assert_int_equal(imghdr_parse(b, n, &h), -EINVAL);
	assert_int_equal(imghdr_parse(b, 50, &h), -EINVAL);	/* cut short */
	n = qcow2_v3(b, sizeof(b), "mid.qcow2", "qcow2");
	assert_int_equal(imghdr_parse(b, n - 3, &h), -EINVAL);	/* the name cut off */
}

static void test_other_formats(void **state)
{
	(void)state;
	static uint8_t b[512];
	struct img_header h;
	static const struct {
		size_t off;
		const char *magic;
		size_t n;
		const char *format;
	} m[] = {
		{ 0, "KDMV", 4, "vmdk" },	   { 0, "# Disk DescriptorFile\n", 22, "vmdk" }, { 0, "vhdxfile", 8, "vhdx" },
		{ 0, "QED\0", 4, "qed" },	   { 0, "conectix", 8, "vpc" },		   { 0, "LUKS\xba\xbe", 6, "luks" },
		{ 64, "\x7f\x10\xda\xbe", 4, "vdi" }, { 0, "QFI\xfb\0\0\0\1", 8, "qcow" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
		memset(b, 0xab, sizeof(b));
		memcpy(b + m[i].off, m[i].magic, m[i].n);
		assert_int_equal(imghdr_parse(b, sizeof(b), &h), 0);
		assert_string_equal(h.format, m[i].format);
	}
	/* anything else (a file system, a guest's partition table, nothing at all) is raw as far as a header says */
	memset(b, 0, sizeof(b));
	b[510] = 0x55;
	b[511] = 0xaa;
	assert_int_equal(imghdr_parse(b, sizeof(b), &h), 0);
	assert_string_equal(h.format, "raw");
	assert_int_equal(imghdr_parse(b, 0, &h), 0);
	assert_string_equal(h.format, "raw");
}

static void test_chain_json(void **state)
{
	(void)state;
	struct img_chain c = { 0 };
	c.layer = xcalloc(2, sizeof(*c.layer));
	c.n = 2;
	snprintf(c.layer[0].file, sizeof(c.layer[0].file), "/var/lib/vm/top.qcow2");
	snprintf(c.layer[0].format, sizeof(c.layer[0].format), "qcow2");
	snprintf(c.layer[0].fs, sizeof(c.layer[0].fs), "ext4");
	snprintf(c.layer[0].dev, sizeof(c.layer[0].dev), "nvme0n1p2");
	snprintf(c.layer[0].disk, sizeof(c.layer[0].disk), "nvme0n1");
	c.layer[0].cluster_kib = 64;
	c.layer[0].virtual_size = 10ull << 30;
	snprintf(c.layer[1].file, sizeof(c.layer[1].file), "/mnt/nfs/base.raw");
	snprintf(c.layer[1].format, sizeof(c.layer[1].format), "raw");
	snprintf(c.layer[1].fs, sizeof(c.layer[1].fs), "nfs");
	c.layer[1].network = true;
	assert_int_equal(image_chain_queues(&c), 1);
	char buf[512];
	image_chain_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "top.qcow2 (qcow2, ext4 nvme0n1p2) <- base.raw (raw, nfs)");
	json_t *j = image_chain_json(&c);
	struct img_chain d;
	image_chain_from_json(j, &d);
	json_decref(j);
	assert_int_equal(d.n, 2);
	assert_string_equal(d.layer[0].disk, "nvme0n1");
	assert_int_equal(d.layer[0].cluster_kib, 64);
	assert_true(d.layer[1].network);
	assert_int_equal(image_chain_queues(&d), 1);
	image_chain_done(&d);
	image_chain_done(&c);
	/* nothing, or not a chain: empty */
	image_chain_from_json(NULL, &d);
	assert_int_equal(d.n, 0);
	/* a tiny buffer: cut, terminated */
	image_chain_format(&c, buf, 4);
	assert_int_equal(strlen(buf), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qcow2),
		cmocka_unit_test(test_other_formats),
		cmocka_unit_test(test_chain_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
