/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Disk image headers on hostile input: the bytes before the first form feed
 * are an image's start (parse/imghdr.c reads what a guest or anyone who can
 * write an image file chose to put there); after it, a chain as vms.json
 * carries it, read back, formatted and written again.  No crash; names stay
 * terminated; a refused header says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse/imghdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *ff = memchr(data, '\f', size);
	size_t hl = ff ? (size_t)(ff - data) : size;
	struct img_header h;
	int r = imghdr_parse(data, hl, &h);
	if (!memchr(h.backing, 0, sizeof(h.backing)) || !memchr(h.backing_fmt, 0, sizeof(h.backing_fmt)) ||
	    !memchr(h.format, 0, sizeof(h.format)) || !h.format[0])
		abort();
	if (r < 0 && !h.why[0])
		abort();
	if (r == 0 && strlen(h.backing) > 1023)
		abort();
	if (!ff)
		return 0;
	json_t *j = json_loadb((const char *)ff + 1, size - hl - 1, 0, NULL);
	struct img_chain c;
	image_chain_from_json(j, &c);
	json_decref(j);
	if (c.n > IMG_MAX_CHAIN)
		abort();
	char buf[256];
	image_chain_format(&c, buf, sizeof(buf));
	image_chain_queues(&c);
	json_decref(image_chain_json(&c));
	image_chain_done(&c);
	return 0;
}
