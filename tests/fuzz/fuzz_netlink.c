/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The kernel's netlink replies (RTM_NEWQDISC with TCA_STATS2, netdev
 * qstats-get) parsed into hiddenq's JSON records: attribute lengths and
 * nesting are input.  The first byte picks the parser.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sources/net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	bool qstats = data[0] & 1;
	/* netlink messages are 4-byte aligned: give the parser its own copy */
	void *buf = malloc(size - 1 ? size - 1 : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	json_t *out = json_array();
	netlink_parse_replies(buf, size - 1, qstats, out);
	size_t i;
	json_t *e;
	json_array_foreach(out, i, e) {
		if (!json_is_object(e))
			abort();
	}
	json_decref(out);
	free(buf);
	return 0;
}
