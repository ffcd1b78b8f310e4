/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * libvirt domain and status XML (libxml2; no network, no entities): no crash,
 * counts within bounds, vCPU TIDs only at valid indexes, every number within
 * the limits a configuration is held to (VMCONF_MAX_*).
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
		if (strlen(c.name) >= sizeof(c.name) || strlen(c.rejected) >= sizeof(c.rejected))
			abort();
		/* numbers are range-checked like the command line's: never past the limits */
		if (c.vcpus > VMCONF_MAX_VCPUS || c.max_vcpus > VMCONF_MAX_VCPUS || c.mem_mib > VMCONF_MAX_MEM_MIB ||
		    c.sockets > VMCONF_MAX_SOCKETS || c.cores > VMCONF_MAX_CORES || c.threads > VMCONF_MAX_THREADS ||
		    st.pid < 0 || st.pid > VMCONF_MAX_PID)
			abort();
		for (unsigned i = 0; i < c.ndisks; i++)
			if (c.disks[i].num_queues < 0 || c.disks[i].num_queues > VMCONF_MAX_QUEUES)
				abort();
		for (unsigned i = 0; i < c.nnics; i++)
			if (c.nics[i].queues < 0 || c.nics[i].queues > VMCONF_MAX_QUEUES)
				abort();
	} else if (!why) {
		abort();
	}
	return 0;
}
