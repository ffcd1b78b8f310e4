/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "sampler.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/util.h"
#include "../host/vmscan.h"
#include "../sources/bpf/bpfsrc.h"
#include "../sys/identity.h"
#include "../sys/stackprobe.h"
#include "../topo/topo.h"
#include "../sources/iosrc.h"
#include "../sources/memsrc.h"
#include "../sources/stallmon.h"
#include "../sources/stalls.h"

#define MAX_FILE (8u << 20)
#define MAX_TASKS 16384
#define MAX_CGROUPS 2048
#define MAX_CG_DEPTH 8

volatile sig_atomic_t hq_exiting;
volatile sig_atomic_t hq_exit_signal;
volatile sig_atomic_t hq_reload;

static void on_signal(int sig)
{
	hq_exit_signal = sig;
	hq_exiting = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	hq_reload = 1;
}

void install_reload_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hup;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
}

void install_exit_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Read every tick, each for its row of the sources table (core/sources.def). */
static const struct {
	const char *path;
	enum source_id src;
} hot_paths[] = {
	{ "proc/stat", SRC_CPU },
	{ "proc/pressure/cpu", SRC_PSI },
	{ "proc/pressure/memory", SRC_PSI },
	{ "proc/pressure/io", SRC_PSI },
	{ "proc/loadavg", SRC_LOADAVG },
	{ "proc/schedstat", SRC_SCHEDSTAT },
	{ "proc/vmstat", SRC_MEMORY },
	{ "proc/meminfo", SRC_MEMORY },
};

/* Read once (topology and configuration). */
static const char *const static_paths[] = {
	"proc/sys/kernel/osrelease",
	"proc/sys/kernel/hostname",
	"proc/sys/kernel/task_delayacct",
	"proc/sys/kernel/sched_schedstats",
	"proc/cpuinfo",
	"proc/cmdline",
	"sys/devices/system/cpu/online",
	"sys/devices/system/cpu/possible",
	"sys/devices/system/cpu/present",
	"sys/devices/system/cpu/offline",
	"sys/devices/system/cpu/isolated",
	"sys/devices/system/cpu/cpuidle/current_driver",
	"sys/devices/system/clocksource/clocksource0/current_clocksource",
	"sys/devices/system/clocksource/clocksource0/available_clocksource",
	"sys/hypervisor/type",
	"sys/class/dmi/id/sys_vendor",
	"sys/class/dmi/id/product_name",
	"sys/class/dmi/id/product_version",
	"sys/fs/cgroup/cgroup.controllers",
	"sys/fs/cgroup/unified/cgroup.controllers",
	"proc/sys/kernel/numa_balancing",
	"sys/devices/system/node/online",
	"sys/devices/system/node/possible",
	"sys/kernel/mm/transparent_hugepage/enabled",
	"sys/kernel/mm/transparent_hugepage/defrag",
	"sys/kernel/mm/transparent_hugepage/shmem_enabled",
	"sys/kernel/mm/transparent_hugepage/hpage_pmd_size",
	"sys/kernel/mm/transparent_hugepage/khugepaged/defrag",
	"sys/kernel/mm/transparent_hugepage/khugepaged/pages_collapsed",
	"sys/kernel/mm/transparent_hugepage/khugepaged/full_scans",
};

/* cgroup hierarchies where CFS bandwidth statistics live; first match wins per kind. */
static const char *const cg_v2_roots[] = { "sys/fs/cgroup", "sys/fs/cgroup/unified" };
static const char *const cg_v1_roots[] = { "sys/fs/cgroup/cpu,cpuacct", "sys/fs/cgroup/cpu" };

int sampler_init(struct sampler *sp, const char *root, const struct sampler_opts *o)
{
	memset(sp, 0, sizeof(*sp));
	int ret = fsroot_init(&sp->root, root, false);
	if (ret < 0)
		return ret;
	sp->o = *o;
	uint64_t per_s = sp->o.interval_ns ? 1000000000ull / sp->o.interval_ns : 1;
	sp->slow_every = per_s ? (unsigned)per_s : 1;
	if (sp->o.slow_interval_ns > sp->o.interval_ns) /* continuous runs: the slow families less often */
		sp->slow_every = (unsigned)(sp->o.slow_interval_ns / (sp->o.interval_ns ? sp->o.interval_ns : 1));
	if (!sp->slow_every)
		sp->slow_every = 1;
	/* the biggest processes' page walks: every 5th slow tick, at least 30 s apart when slow ticks are sparse */
	sp->proc_every = MEMSRC_PROC_EVERY;
	if (sp->o.slow_interval_ns > 1000000000ull) {
		uint64_t every = 30000000000ull / sp->o.slow_interval_ns;
		sp->proc_every = every > MEMSRC_PROC_EVERY ? (unsigned)every : MEMSRC_PROC_EVERY;
	}
	const char *io_hot[3];
	enum source_id io_src[3];
	size_t nio = 0;
	if (sp->o.io) {
		io_src[nio] = SRC_DISKS;
		io_hot[nio++] = IOSRC_HOT_IO;
	}
	if (sp->o.net) {
		io_src[nio] = SRC_NET;
		io_hot[nio++] = IOSRC_HOT_NET1;
		io_src[nio] = SRC_NET;
		io_hot[nio++] = IOSRC_HOT_NET2;
	}
	sp->nhot = ARRAY_SIZE(hot_paths) + nio;
	sp->hot = xcalloc(sp->nhot, sizeof(*sp->hot));
	for (size_t i = 0; i < sp->nhot; i++) {
		bool base = i < ARRAY_SIZE(hot_paths);
		if (base && sp->o.sources && !(sp->o.sources & SRC_BIT(hot_paths[i].src))) {
			sp->hot[i].path = hot_paths[i].path; /* switched off: never opened */
			sp->hot[i].src = hot_paths[i].src;
			sp->hot[i].fd = -1;
			sp->hot[i].err = ENOENT;
			continue;
		}
		sp->hot[i].path = base ? hot_paths[i].path : io_hot[i - ARRAY_SIZE(hot_paths)];
		sp->hot[i].src = base ? hot_paths[i].src : io_src[i - ARRAY_SIZE(hot_paths)];
		int fd = fsroot_open(&sp->root, sp->hot[i].path);
		sp->hot[i].fd = fd < 0 ? -1 : fd;
		sp->hot[i].err = fd < 0 ? -fd : 0;
	}
	sample_init(&sp->statics);
	for (size_t i = 0; i < ARRAY_SIZE(static_paths); i++) {
		char *data;
		size_t len;
		int r = fsroot_read(&sp->root, static_paths[i], &data, &len, MAX_FILE);
		if (r == 0 || r == -EFBIG)
			sample_add_take(&sp->statics, static_paths[i], data, len);
	}
	char *idj = identity_probe_json(&sp->root);
	sample_add_take(&sp->statics, IDENTITY_PATH, idj, strlen(idj));
	/* the virtualization stack: device chains, PCI, DMI, mitigations, halt polling (sys/stackprobe.h) */
	stack_capture_static(&sp->root, true, &sp->statics);
	if (sp->o.io || sp->o.net)
		iosrc_statics(&sp->root, &sp->statics, sp->o.io, sp->o.net);
	/* CPU/cache/NUMA topology and device locality: the files topo_read uses */
	topo_capture_static(&sp->root, &sp->statics);

	/* cgroup hierarchies: v2 (unified or hybrid) and v1 cpu controller. */
	for (size_t i = 0; i < ARRAY_SIZE(cg_v2_roots); i++) {
		char *p = xasprintf("%s/cgroup.controllers", cg_v2_roots[i]);
		bool ok = fsroot_exists(&sp->root, p);
		free(p);
		if (ok) {
			sp->cg_roots[sp->ncg_roots++] = xstrdup(cg_v2_roots[i]);
			break;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(cg_v1_roots); i++) {
		char *p = xasprintf("%s/cpu.cfs_period_us", cg_v1_roots[i]);
		bool ok = fsroot_exists(&sp->root, p);
		free(p);
		if (ok) {
			sp->cg_roots[sp->ncg_roots++] = xstrdup(cg_v1_roots[i]);
			break;
		}
	}
	json_t *sw = json_object();
	json_object_set_new(sw, "tasks", json_boolean(sp->o.tasks));
	json_object_set_new(sw, "cgroups", json_boolean(sp->o.cgroups));
	json_object_set_new(sw, "memory", json_boolean(sp->o.memory));
	json_object_set_new(sw, "stalls", json_boolean(sp->o.stalls != STALLS_OFF));
	json_object_set_new(sw, "kmsg", json_boolean(sp->o.kmsg));
	json_object_set_new(sw, "io", json_boolean(sp->o.io));
	json_object_set_new(sw, "net", json_boolean(sp->o.net));
	json_object_set_new(sw, "bpf", json_boolean(sp->o.bpf));
	json_object_set_new(sw, "vms", json_boolean(sp->o.vms));
	if (sp->o.sources) { /* per row of the sources table (the keys above: bundles before it) */
		json_t *so = json_object();
		for (int i = 0; i < SRC_COUNT; i++)
			json_object_set_new(so, source_defs[i].name, json_boolean(sp->o.sources & SRC_BIT(i)));
		json_object_set_new(sw, "sources", so);
	}
	char *swj = json_dumps(sw, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(sw);
	if (swj)
		sample_add_take(&sp->statics, SWITCHES_PATH, swj, strlen(swj));
	sp->stalls = stalls_start(sp->o.stalls);
	if (sp->o.kmsg)
		sp->kmsg = kmsgmon_open();
	if (sp->o.bpf) {
		uint64_t bs = sp->o.bpf_sources ? sp->o.bpf_sources
						: SRC_BIT(SRC_RUNQLAT) | SRC_BIT(SRC_BIOLAT) | SRC_BIT(SRC_COMPACT);
		struct bpfsrc_opts bo = { .runqlat = bs & SRC_BIT(SRC_RUNQLAT),
					  .biolat = bs & SRC_BIT(SRC_BIOLAT),
					  .compact = bs & SRC_BIT(SRC_COMPACT),
					  .runqlat_split = sp->o.runq_split,
					  .runqlat_no_cgroup = sp->o.runq_no_cgroups };
		char *why;
		sp->bpf = bpfsrc_open(&bo, &why);
		if (why)
			log_warn("eBPF histograms unavailable: %s", why);
		free(why);
	}
	if (sp->o.vms) {
		sp->vms = xmalloc(sizeof(*sp->vms));
		if (vmscan_init(sp->vms, &sp->root) < 0) {
			free(sp->vms);
			sp->vms = NULL;
		} else {
			for (const char *const *q = sp->o.vms_qmp; q && *q; q++)
				vmscan_add_qmp(sp->vms, *q);
			sp->vms->qmp_histograms = sp->o.vms_qmp_histograms;
			if (!sp->o.bpf) /* no eBPF at all, the vCPU schedstat iterator neither */
				vmscan_schedstat_procfs(sp->vms, "eBPF off (--no-bpf)");
			vmscan_discover(sp->vms);
		}
	}
	return 0;
}

void sampler_done(struct sampler *sp)
{
	if (sp->vms) {
		vmscan_done(sp->vms);
		free(sp->vms);
	}
	stalls_stop(sp->stalls);
	kmsgmon_close(sp->kmsg);
	bpfsrc_close(sp->bpf);
	for (size_t i = 0; i < sp->nhot; i++) {
		if (sp->hot[i].fd >= 0)
			close(sp->hot[i].fd);
		free(sp->hot[i].buf);
	}
	free(sp->hot);
	for (unsigned i = 0; i < sp->ncg_roots; i++)
		free(sp->cg_roots[i]);
	sample_done(&sp->statics);
	free(sp->seen_tasks);
	fsroot_done(&sp->root);
}

/* Read a small file relative to an open directory; returns bytes or -1. */
/* Insert key into the seen-task set; true if it was not there. */
static bool seen_task(struct sampler *sp, uint64_t key)
{
	if ((sp->seen_n + 1) * 2 > sp->seen_cap) {
		size_t ncap = sp->seen_cap ? sp->seen_cap * 2 : 1024;
		uint64_t *nt = xcalloc(ncap, sizeof(*nt));
		for (size_t i = 0; i < sp->seen_cap; i++) {
			if (!sp->seen_tasks[i])
				continue;
			size_t h = (size_t)(sp->seen_tasks[i] * 0x9E3779B97F4A7C15ull >> 20) & (ncap - 1);
			while (nt[h])
				h = (h + 1) & (ncap - 1);
			nt[h] = sp->seen_tasks[i];
		}
		free(sp->seen_tasks);
		sp->seen_tasks = nt;
		sp->seen_cap = ncap;
	}
	size_t h = (size_t)(key * 0x9E3779B97F4A7C15ull >> 20) & (sp->seen_cap - 1);
	while (sp->seen_tasks[h]) {
		if (sp->seen_tasks[h] == key)
			return false;
		h = (h + 1) & (sp->seen_cap - 1);
	}
	sp->seen_tasks[h] = key;
	sp->seen_n++;
	return true;
}

static void walk_tasks(struct sampler *sp, struct sample *out)
{
	int procfd = fsroot_opendir(&sp->root, "proc");
	if (procfd < 0)
		return;
	DIR *d = fdopendir(procfd);
	if (!d) {
		close(procfd);
		return;
	}
	unsigned ntasks = 0;
	struct dirent *de;
	char buf[512], path[300];
	while ((de = readdir(d)) && ntasks < MAX_TASKS) {
		if (!str_is_digits(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/task", de->d_name);
		int tfd = openat(procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (tfd < 0)
			continue; /* the process went away */
		DIR *td = fdopendir(tfd);
		if (!td) {
			close(tfd);
			continue;
		}
		struct dirent *te;
		while ((te = readdir(td)) && ntasks < MAX_TASKS) {
			if (!str_is_digits(te->d_name))
				continue;
			snprintf(path, sizeof(path), "%s/schedstat", te->d_name);
			long n = read_small_at(tfd, path, buf, sizeof(buf));
			if (n <= 0)
				continue;
			char rel[600];
			snprintf(rel, sizeof(rel), "proc/%s/task/%s/schedstat", de->d_name, te->d_name);
			sample_add(out, rel, buf, (size_t)n);
			/* a task's name is read once: the analysis keeps the first */
			uint64_t key = (uint64_t)strtoul(de->d_name, NULL, 10) << 32 | strtoul(te->d_name, NULL, 10);
			if (!seen_task(sp, key)) {
				ntasks++;
				continue;
			}
			snprintf(path, sizeof(path), "%s/comm", te->d_name);
			n = read_small_at(tfd, path, buf, sizeof(buf));
			if (n > 0) {
				snprintf(rel, sizeof(rel), "proc/%s/task/%s/comm", de->d_name, te->d_name);
				sample_add(out, rel, buf, (size_t)n);
			}
			ntasks++;
		}
		closedir(td);
	}
	closedir(d);
	sp->ntasks_last = ntasks;
}

static void add_file_at(struct sample *out, int dirfd, const char *name, const char *rel_dir)
{
	char buf[4096];
	long n = read_small_at(dirfd, name, buf, sizeof(buf));
	if (n <= 0)
		return;
	char *rel = xasprintf("%s/%s", rel_dir, name);
	sample_add(out, rel, buf, (size_t)n);
	free(rel);
}

static void walk_cgroup(struct sampler *sp, struct sample *out, int dirfd, const char *rel,
			int depth, unsigned *count)
{
	if (*count >= MAX_CGROUPS)
		return;
	(*count)++;
	add_file_at(out, dirfd, "cpu.stat", rel);
	add_file_at(out, dirfd, "cpu.max", rel);
	add_file_at(out, dirfd, "cpu.cfs_quota_us", rel);
	add_file_at(out, dirfd, "cpu.cfs_period_us", rel);
	if (depth >= MAX_CG_DEPTH)
		return;
	int dup = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (dup < 0)
		return;
	DIR *d = fdopendir(dup);
	if (!d) {
		close(dup);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) && *count < MAX_CGROUPS) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue;
		char *srel = xasprintf("%s/%s", rel, de->d_name);
		walk_cgroup(sp, out, sub, srel, depth + 1, count);
		free(srel);
		close(sub);
	}
	closedir(d);
}

/* Host mode's slow part.  Processes whose per-process memory files the
 * memory source already read in this tick are not read twice. */
static void vms_slow(struct sampler *sp, struct sample *out)
{
	int *skip = NULL;
	size_t nskip = 0, cap = 0;
	for (size_t i = 0; sp->o.memory && i < out->nfiles; i++) {
		int pid;
		char tail[16];
		if (sscanf(out->files[i].path, "proc/%d/%15s", &pid, tail) == 2 && !strcmp(tail, "smaps_rollup")) {
			xgrow((void **)&skip, sizeof(*skip), &cap, nskip);
			skip[nskip++] = pid;
		}
	}
	for (size_t i = 1; i < nskip; i++) /* few: insertion sort */
		for (size_t j = i; j > 0 && skip[j - 1] > skip[j]; j--) {
			int t = skip[j];
			skip[j] = skip[j - 1];
			skip[j - 1] = t;
		}
	sp->vms->tasks_walked = sp->o.tasks;
	vmscan_slow(sp->vms, out, skip, nskip);
	free(skip);
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Charge the CPU time since *t to source s (the sources table's cost figures). */
static void charge(struct sampler *sp, enum source_id s, uint64_t *t)
{
	uint64_t now = thread_cpu_ns();
	sp->cost_ns[s] += now - *t;
	sp->runs[s]++;
	*t = now;
}

void sampler_take(struct sampler *sp, struct sample *out, bool slow)
{
	uint64_t t = thread_cpu_ns();
	sample_init(out);
	out->index = sp->taken++;
	out->slow = slow;
	out->mono_ns = mono_ns();
	out->real_ns = real_ns();
	for (size_t i = 0; i < sp->nhot; i++) {
		struct hot_file *h = &sp->hot[i];
		if (h->fd < 0)
			continue;
		size_t len;
		int r = fsroot_pread_all(h->fd, h->path, &h->buf, &h->cap, &len, MAX_FILE);
		if (r >= 0 || r == -EFBIG)
			sample_add(out, h->path, h->buf, len);
		charge(sp, h->src, &t);
	}
	if (sp->stalls) {
		stalls_drain(sp->stalls, out, slow);
		charge(sp, SRC_STALLS, &t);
	}
	/* on slow ticks walk_tasks reads every task's schedstat, the vCPUs' too */
	if (sp->vms && !(slow && sp->o.tasks)) {
		vmscan_sample(sp->vms, out);
		charge(sp, SRC_VMS, &t);
	}
	if (!slow)
		return;
	if (sp->kmsg) {
		kmsgmon_drain(sp->kmsg, out);
		charge(sp, SRC_KMSG, &t);
	}
	if (sp->o.io || sp->o.net) {
		iosrc_slow(&sp->root, out, sp->o.io, sp->o.net);
		charge(sp, SRC_NET, &t);
	}
	if (sp->o.net) {
		static const struct {
			unsigned bit;
			enum source_id src;
		} kern[] = { { IOSRC_QDISC, SRC_QDISC }, { IOSRC_ETHTOOL, SRC_ETHTOOL }, { IOSRC_QSTATS, SRC_QSTATS } };
		/* options not built from the sources table: all of them */
		unsigned which = sp->o.sources ? sp->o.net_sources : IOSRC_ALL;
		for (size_t i = 0; i < ARRAY_SIZE(kern); i++)
			if (which & kern[i].bit) {
				iosrc_kernel(&sp->root, out, kern[i].bit);
				charge(sp, kern[i].src, &t);
			}
	}
	if (sp->bpf) {
		static const enum source_id hist[] = { SRC_RUNQLAT, SRC_BIOLAT, SRC_COMPACT };
		for (size_t i = 0; i < ARRAY_SIZE(hist); i++) {
			bpfsrc_drain_one(sp->bpf, out, source_defs[hist[i]].name);
			charge(sp, hist[i], &t);
		}
	}
	if (sp->o.memory) {
		memsrc_nodes(&sp->root, out, sp->slow_taken == 0);
		if (sp->slow_taken % sp->proc_every == 0)
			memsrc_procs(&sp->root, out);
		charge(sp, SRC_NUMA, &t);
	}
	sp->slow_taken++;
	if (sp->o.tasks) {
		walk_tasks(sp, out);
		charge(sp, SRC_TASKS, &t);
	}
	if (sp->vms) {
		vms_slow(sp, out);
		charge(sp, SRC_VMS, &t);
	}
	if (sp->o.cgroups) {
		unsigned count = 0;
		for (unsigned i = 0; i < sp->ncg_roots; i++) {
			int fd = fsroot_opendir(&sp->root, sp->cg_roots[i]);
			if (fd < 0)
				continue;
			walk_cgroup(sp, out, fd, sp->cg_roots[i], 0, &count);
			close(fd);
		}
		charge(sp, SRC_CGROUPS, &t);
	}
}

void sampler_opts_from_sources(struct sampler_opts *o, uint64_t mask)
{
	o->sources = mask;
	o->tasks = mask & SRC_BIT(SRC_TASKS);
	o->cgroups = mask & SRC_BIT(SRC_CGROUPS);
	o->memory = mask & SRC_BIT(SRC_NUMA);
	o->kmsg = mask & SRC_BIT(SRC_KMSG);
	o->io = mask & SRC_BIT(SRC_DISKS);
	o->net = mask & SRC_BIT(SRC_NET);
	o->net_sources = (mask & SRC_BIT(SRC_QDISC) ? IOSRC_QDISC : 0) | (mask & SRC_BIT(SRC_ETHTOOL) ? IOSRC_ETHTOOL : 0) |
			 (mask & SRC_BIT(SRC_QSTATS) ? IOSRC_QSTATS : 0);
	o->vms = mask & SRC_BIT(SRC_VMS);
	o->bpf = mask & (SRC_BIT(SRC_RUNQLAT) | SRC_BIT(SRC_BIOLAT) | SRC_BIT(SRC_COMPACT));
	o->bpf_sources = mask & (SRC_BIT(SRC_RUNQLAT) | SRC_BIT(SRC_BIOLAT) | SRC_BIT(SRC_COMPACT));
	if (!(mask & SRC_BIT(SRC_STALLS)))
		o->stalls = STALLS_OFF;
	else if (o->stalls == STALLS_OFF)
		o->stalls = STALLS_AUTO;
	/* no eBPF at all: the stall watch falls back to a thread */
	if (!o->bpf && o->stalls == STALLS_AUTO)
		o->stalls = STALLS_COARSE;
}

uint64_t sources_default_mask(void)
{
	uint64_t m = 0;
	for (int i = 0; i < SRC_COUNT; i++)
		if (source_defs[i].default_on)
			m |= SRC_BIT(i);
	return m;
}

void sampler_source_cost(const struct sampler *sp, uint64_t cost_ns[SRC_COUNT], uint64_t runs[SRC_COUNT])
{
	memcpy(cost_ns, sp->cost_ns, sizeof(sp->cost_ns));
	memcpy(runs, sp->runs, sizeof(sp->runs));
}

unsigned sampler_run(struct sampler *sp, void (*cb)(struct sample *s, void *arg), void *arg)
{
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	unsigned i;
	for (i = 0; (sp->o.count == 0 || i < sp->o.count) && !hq_exiting; i++) {
		if (i > 0) {
			uint64_t ns = (uint64_t)next.tv_nsec + sp->o.interval_ns;
			next.tv_sec += (time_t)(ns / 1000000000ull);
			next.tv_nsec = (long)(ns % 1000000000ull);
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
				if (hq_exiting)
					break;
			if (hq_exiting) {
				/* Close the run with a last slow sample so deltas cover it. */
				struct sample s;
				sampler_take(sp, &s, true);
				cb(&s, arg);
				return i + 1;
			}
		}
		bool last = i + 1 == sp->o.count;
		bool slow = i == 0 || last || (i % sp->slow_every) == 0;
		struct sample s;
		sampler_take(sp, &s, slow);
		cb(&s, arg);
	}
	return i;
}

json_t *sampler_sources_json(const struct sampler *sp)
{
	json_t *o = json_object();
	for (size_t i = 0; i < sp->nhot; i++) {
		json_t *e = json_object();
		json_object_set_new(e, "available", json_boolean(sp->hot[i].fd >= 0));
		if (sp->hot[i].fd < 0)
			json_object_set_new(e, "error", json_string(strerror(sp->hot[i].err)));
		json_object_set_new(o, sp->hot[i].path, e);
	}
	json_t *e = json_object();
	json_object_set_new(e, "available", json_boolean(sp->o.tasks));
	json_object_set_new(o, "proc/PID/task/TID/schedstat", e);
	e = json_object();
	json_object_set_new(e, "available", json_boolean(sp->o.cgroups && sp->ncg_roots > 0));
	json_t *roots = json_array();
	for (unsigned i = 0; i < sp->ncg_roots; i++)
		json_array_append_new(roots, json_string(sp->cg_roots[i]));
	json_object_set_new(e, "roots", roots);
	json_object_set_new(o, "cgroup cpu.stat", e);
	e = json_object();
	json_object_set_new(e, "available", json_true());
	json_object_set_new(o, IDENTITY_PATH, e);
	static const char *const net_json[] = { ".hiddenq/ethtool.json", ".hiddenq/qdisc.json", ".hiddenq/qstats.json" };
	for (size_t i = 0; i < ARRAY_SIZE(net_json); i++) {
		e = json_object();
		json_object_set_new(e, "available", json_boolean(sp->o.net));
		json_object_set_new(o, net_json[i], e);
	}
	e = json_object();
	json_object_set_new(e, "available", json_boolean(sp->vms != NULL));
	json_object_set_new(o, VMSCAN_JSON_PATH, e);
	json_object_set_new(o, STALLS_PATH, stalls_source_json(sp->stalls));
	e = json_object();
	json_object_set_new(e, "available", json_boolean(sp->kmsg != NULL));
	if (!sp->o.kmsg)
		json_object_set_new(e, "reason", json_string("switched off (--no-stalls)"));
	json_object_set_new(o, KMSG_PATH, e);
	static const char *const bpf_srcs[][2] = { { "runqlat", RUNQLAT_PATH }, { "biolat", BIOLAT_PATH },
						   { "compact", COMPACT_PATH } };
	for (size_t i = 0; i < ARRAY_SIZE(bpf_srcs); i++) {
		const char *why;
		bool ok = bpfsrc_status(sp->bpf, bpf_srcs[i][0], &why);
		e = json_object();
		json_object_set_new(e, "available", json_boolean(ok));
		if (!ok)
			json_object_set_new(e, "reason", json_string(why ? why : "unknown"));
		json_object_set_new(o, bpf_srcs[i][1], e);
	}
	return o;
}

json_t *sampler_static_paths_json(const struct sampler *sp)
{
	json_t *a = json_array();
	for (size_t i = 0; i < sp->statics.nfiles; i++)
		json_array_append_new(a, json_string(sp->statics.files[i].path));
	return a;
}
