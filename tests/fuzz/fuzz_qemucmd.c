/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * QEMU command lines (/proc/PID/cmdline), the other VMMs' command lines and
 * Firecracker's configuration, and the per-task files host mode
 * parses (task stat, status fields, tun fdinfo): no crash, no read past the
 * input, and the struct's strings always terminated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse/vmconf.h"

/* the guest's identifiers (how host and guest are joined): empty, or canonical lower-case */
static void check_ids(const struct vmconf *c)
{
	size_t u = strnlen(c->uuid, sizeof(c->uuid)), m = strnlen(c->machine_id, sizeof(c->machine_id));
	if ((u != 0 && u != 36) || (m != 0 && m != 32))
		abort();
	for (size_t i = 0; i < u; i++)
		if ((i == 8 || i == 13 || i == 18 || i == 23) ? c->uuid[i] != '-' : !strchr("0123456789abcdef", c->uuid[i]))
			abort();
	for (size_t i = 0; i < m; i++)
		if (!strchr("0123456789abcdef", c->machine_id[i]))
			abort();
}

/* every number within the limits a configuration is held to, every string terminated */
static void check_numbers(const struct vmconf *c)
{
	check_ids(c);
	if (c->vcpus > VMCONF_MAX_VCPUS || c->max_vcpus > VMCONF_MAX_VCPUS || c->mem_mib > VMCONF_MAX_MEM_MIB ||
	    c->sockets > VMCONF_MAX_SOCKETS || c->cores > VMCONF_MAX_CORES || c->threads > VMCONF_MAX_THREADS ||
	    strlen(c->rejected) >= sizeof(c->rejected))
		abort();
	for (unsigned i = 0; i < c->ndisks && i < VMCONF_MAX_DISKS; i++)
		if (c->disks[i].num_queues < 0 || c->disks[i].num_queues > VMCONF_MAX_QUEUES)
			abort();
	for (unsigned i = 0; i < c->nnics && i < VMCONF_MAX_NICS; i++)
		if (c->nics[i].queues < 0 || c->nics[i].queues > VMCONF_MAX_QUEUES)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct vmconf c;
	if (qemu_cmdline_parse(buf, size, &c) == 0) {
		if (c.ndisks > VMCONF_MAX_DISKS || c.nnics > VMCONF_MAX_NICS || strlen(c.name) >= sizeof(c.name))
			abort();
		for (unsigned i = 0; i < c.ndisks; i++)
			if (strlen(c.disks[i].cache) >= sizeof(c.disks[i].cache) || strlen(c.disks[i].file) >= 256)
				abort();
		check_numbers(&c);
	}
	/* the other VMMs' command lines and Firecracker's JSON configuration (parse/vmmcmd.c) */
	static const char *const vmms[] = { "cloud-hypervisor", "crosvm", "kvmtool", "firecracker" };
	for (size_t k = 0; k < sizeof(vmms) / sizeof(vmms[0]); k++) {
		char cfg[256];
		if (vmm_cmdline_parse(vmms[k], buf, size, &c, cfg, sizeof(cfg)) != 0)
			abort();
		if (c.ndisks > VMCONF_MAX_DISKS || c.nnics > VMCONF_MAX_NICS || strlen(cfg) >= sizeof(cfg))
			abort();
		check_numbers(&c);
	}
	memset(&c, 0, sizeof(c));
	if (vmm_firecracker_config(buf, size, &c) == 0 && (c.ndisks > VMCONF_MAX_DISKS || c.nnics > VMCONF_MAX_NICS))
		abort();
	check_numbers(&c);
	struct task_stat ts;
	if (task_stat_parse(buf, size, &ts) == 0 && ts.processor < -1)
		abort();
	char out[64];
	if (status_field(buf, size, "Cpus_allowed_list", out, sizeof(out)) == 0 && strlen(out) >= sizeof(out))
		abort();
	tun_fdinfo_iff(buf, size, out, sizeof(out));
	/* a kernel command line handing the guest its machine-id */
	memset(&c, 0, sizeof(c));
	kernel_cmdline_machine_id(buf, size, c.machine_id);
	check_ids(&c);
	return 0;
}
