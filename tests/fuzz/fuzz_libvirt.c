/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * libvirt domain and status XML (libxml2; no network, no entities): no crash,
 * counts within bounds, vCPU TIDs only at valid indexes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse/vmconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmconf c;
	struct libvirt_status st;
	const char *why;
	if (libvirt_xml_parse((const char *)data, size, &c, &st, &why) == 0) {
		if (c.ndisks > VMCONF_MAX_DISKS || c.nnics > VMCONF_MAX_NICS || st.nvcpu_tids > 256)
			abort();
		if (strlen(c.name) >= sizeof(c.name))
			abort();
	} else if (!why) {
		abort();
	}
	return 0;
}
