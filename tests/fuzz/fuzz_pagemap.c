/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The dirty probe's parsers: every line of the input as a /proc/PID/maps
 * line, and the whole input as /proc/PID/pagemap entries.  A parsed mapping
 * never ends before it starts; counts never exceed the entries.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe/pagemap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		struct vma v;
		if (maps_parse_line(p, le, &v) == 0) {
			if (v.end < v.start || strlen(v.name) >= sizeof(v.name))
				abort();
			(void)vma_tracked(&v);
		}
		p = nl ? nl + 1 : end;
	}
	struct pm_count c = { 0 };
	pagemap_count(data, size, &c);
	if (c.entries != size / 8 || c.partial_bytes != size % 8 || c.present > c.entries ||
	    c.soft_dirty > c.entries || c.swapped > c.entries)
		abort();
	if (size >= 16) {
		uint64_t a, b;
		memcpy(&a, data, 8);
		memcpy(&b, data + 8, 8);
		int r = softdirty_verdict(a, b);
		if (r < -2 || r > 0)
			abort();
	}
	return 0;
}
