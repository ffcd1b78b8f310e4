/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Whether each source of the sources table (core/sources.def) delivered,
 * judged from what the analysis saw in the samples, so a live run and the
 * replay of its bundle say the same, and why not when it did not.
 */
#include "analysis.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../core/util.h"
#include "vms.h"

__attribute__((format(printf, 3, 4))) static bool why_set(char *why, size_t n, const char *fmt, ...)
{
	if (why && n) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return false;
}

bool source_status(const struct analysis *an, enum source_id s, char *why, size_t n)
{
	if (why && n)
		why[0] = '\0';
	const struct cpu_analysis *c = &an->cpu;
	const struct mem_analysis *m = &an->mem;
	const struct io_analysis *io = &an->io;
	const char *w = NULL;
	switch (s) {
	case SRC_CPU:
		return c->have_procstat || why_set(why, n, "no readable /proc/stat in the samples");
	case SRC_PSI:
		return c->psi_seen[PSI_CPU] || c->psi_seen[PSI_MEM] || c->psi_seen[PSI_IO] ||
		       why_set(why, n, "no /proc/pressure: a kernel without CONFIG_PSI, or booted with psi=0");
	case SRC_LOADAVG:
		return c->have_loadavg || why_set(why, n, "no readable /proc/loadavg");
	case SRC_SCHEDSTAT:
		return c->have_proc_schedstat ||
		       why_set(why, n, "no /proc/schedstat (CONFIG_SCHEDSTATS off): per-CPU run delay comes from "
				       "per-task schedstat instead");
	case SRC_MEMORY:
		return m->vm_seen || m->mi_seen || why_set(why, n, "no readable /proc/vmstat or /proc/meminfo");
	case SRC_NUMA:
		for (unsigned i = 0; i < m->nnodes; i++)
			if (m->nodes[i].seen)
				return true;
		return why_set(why, n, "no per-node numastat read (no NUMA in this kernel, or not in the samples)");
	case SRC_TASKS:
		return c->task_samples > 0 ||
		       why_set(why, n, "no /proc/PID/task/TID/schedstat read (CONFIG_SCHEDSTATS/SCHED_INFO off, not "
				       "readable, or switched off)");
	case SRC_CGROUPS:
		return c->cg_samples > 0 ||
		       why_set(why, n, "no cgroup cpu.stat readable (no cgroup filesystem with the cpu controller, "
				       "or switched off)");
	case SRC_STALLS:
		return m->stalls_seen ||
		       why_set(why, n, "the stall sampler did not run (switched off, or not in the bundle)");
	case SRC_KMSG:
		if (!m->kmsg_seen)
			return why_set(why, n, "/dev/kmsg was not read (switched off, or not in the bundle)");
		return m->kmsg_available || why_set(why, n, "/dev/kmsg: %s", m->kmsg_error);
	case SRC_DISKS:
		return io->diskstats_seen || why_set(why, n, "no readable /proc/diskstats");
	case SRC_NET:
		return io->netdev_seen || io->softnet_seen ||
		       why_set(why, n, "no readable /proc/net/dev or softnet_stat");
	case SRC_QDISC:
		return io->qdisc_seen || why_set(why, n, "%s", io->qdisc_error[0] ? io->qdisc_error
								   : "no rtnetlink qdisc dump in the samples");
	case SRC_ETHTOOL:
		return io->eth_n_stats > 0 ||
		       why_set(why, n, "%s", io->eth_error[0] ? io->eth_error
					    : io->eth_iface_error[0] ? io->eth_iface_error
					    : io->eth_read ? "no interface answered ETHTOOL_GSTATS"
							   : "no ethtool statistics in the samples");
	case SRC_QSTATS:
		return io->qstats_seen || why_set(why, n, "%s", io->qstats_error[0] ? io->qstats_error
								     : "no netdev qstats in the samples");
	case SRC_RUNQLAT:
		return bpfhist_available(an, "runqlat", &w) || why_set(why, n, "%s", w);
	case SRC_BIOLAT:
		return bpfhist_available(an, "biolat", &w) || why_set(why, n, "%s", w);
	case SRC_COMPACT:
		return bpfhist_available(an, "compact", &w) || why_set(why, n, "%s", w);
	case SRC_VMS:
		if (!an->host)
			return why_set(why, n, "host mode did not run (not a host, switched off, or not in the bundle)");
		return an->host->n > 0 || why_set(why, n, "no VM processes on this machine");
	case SRC_IDENTITY:
		return c->id.known || why_set(why, n, "no identity (CPUID, DMI) in the samples");
	case SRC_TOPOLOGY:
		return sample_find(an->statics, "sys/devices/system/cpu/online") != NULL ||
		       why_set(why, n, "no CPU topology in the samples (sys/devices/system/cpu)");
	case SRC_ENGINE:
		return true;
	case SRC_COUNT:
		break;
	}
	return why_set(why, n, "no such source");
}

bool metric_status(const struct analysis *an, enum metric_id m, char *why, size_t n)
{
	const struct metric_def *d = metric_def(m);
	if (!source_status(an, d->source, why, n))
		return false;
	/* steal: the source can be up while steal is not accounted here */
	if (d->source == SRC_CPU && !strncmp(d->name, "steal", 5)) {
		const char *w;
		if (!cpu_steal_reported(&an->cpu, &w))
			return why_set(why, n, "steal is not reported here: %s", w);
	}
	return true;
}
