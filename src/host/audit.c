/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The tuning checklist (see audit.h).  Divisions: helpers, host items, VM
 * items, guest items, the table, inputs (running VMs, libvirt XML), run.
 */
#include "audit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../analysis/findings.h"
#include "../analysis/io.h"
#include "../core/util.h"
#include "../parse/memparse.h"
#include "../sys/proc_run.h"
#include "../topo/topo.h"
#include "images.h"
#include "vmscan.h"

#define TH(t) (thresholds[t])

/* each virsh call (libvirtd can hang: the audit must not) */
#define VIRSH_TIMEOUT_S 10

/* ---- helpers ---- */

static struct audit_res *add(struct audit_out *o, const struct audit_item *it, const char *subject,
			     enum audit_result r, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static struct audit_res *add(struct audit_out *o, const struct audit_item *it, const char *subject,
			     enum audit_result r, const char *fmt, ...)
{
	xgrow((void **)&o->v, sizeof(*o->v), &o->cap, o->n);
	struct audit_res *x = &o->v[o->n++];
	memset(x, 0, sizeof(*x));
	x->id = it->id;
	x->title = it->title;
	x->scope = it->scope;
	x->fix = it->fix;
	x->r = r;
	str_copy(x->subject, sizeof(x->subject), subject ? subject : "");
	va_list ap;
	va_start(ap, fmt);
	x->evidence = xvasprintf(fmt, ap);
	va_end(ap);
	return x;
}

static void note(struct audit_res *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct audit_res *x, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(x->note);
	x->note = xvasprintf(fmt, ap);
	va_end(ap);
}

/* first line of a small file under the root, trimmed; false if unreadable */
static bool rd(const struct audit_ctx *c, const char *rel, char *out, size_t n)
{
	char *data;
	size_t len;
	out[0] = '\0';
	int r = fsroot_read(c->root, rel, &data, &len, 1 << 16);
	if (r < 0 && r != -EFBIG)
		return false;
	size_t k = 0;
	for (size_t i = 0; i < len && data[i] != '\n' && k + 1 < n; i++)
		out[k++] = data[i];
	while (k && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
	free(data);
	return true;
}

static bool rdf(const struct audit_ctx *c, char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static bool rdf(const struct audit_ctx *c, char *out, size_t n, const char *fmt, ...)
{
	char rel[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	return rd(c, rel, out, n);
}

/* names in a directory under the root, sorted; caller frees with free_names */
static char **list_dir(const struct audit_ctx *c, const char *rel, size_t *n)
{
	*n = 0;
	int fd = fsroot_opendir(c->root, rel);
	if (fd < 0)
		return NULL;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return NULL;
	}
	char **v = NULL;
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) && *n < 4096) {
		if (de->d_name[0] == '.')
			continue;
		xgrow((void **)&v, sizeof(*v), &cap, *n);
		v[(*n)++] = xstrdup(de->d_name);
	}
	closedir(d);
	for (size_t i = 1; i < *n; i++)
		for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			char *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* target of a symlink under the root ("" if none) */
static void rlink(const struct audit_ctx *c, const char *rel, char *out, size_t n)
{
	out[0] = '\0';
	ssize_t l = readlinkat(c->root->dirfd, rel, out, n - 1);
	out[l > 0 ? l : 0] = '\0';
}

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static bool skip_blockdev(const char *n)
{
	static const char *const pfx[] = { "loop", "ram", "zram", "dm-", "md", "sr", "nbd", "fd" };
	for (size_t i = 0; i < ARRAY_SIZE(pfx); i++)
		if (!strncmp(n, pfx[i], strlen(pfx[i])))
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* host items                                                          */
/* ------------------------------------------------------------------ */

static void io_scheduler(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o, bool guest)
{
	size_t n;
	char **devs = list_dir(c, "sys/block", &n);
	unsigned seen = 0;
	for (size_t i = 0; i < n; i++) {
		const char *d = devs[i];
		if (skip_blockdev(d))
			continue;
		bool virtio = !strncmp(d, "vd", 2);
		if (guest != virtio && !(guest && !strncmp(d, "sd", 2)))
			continue;
		char line[256], sched[32], rot[8];
		if (!rdf(c, line, sizeof(line), "sys/block/%s/queue/scheduler", d))
			continue;
		bracket_choice(line, strlen(line), sched, sizeof(sched));
		rdf(c, rot, sizeof(rot), "sys/block/%s/queue/rotational", d);
		seen++;
		const char *kind = io_sched_kind(d, virtio, !strcmp(rot, "1") ? 1 : 0);
		const char *want, *why;
		enum io_sched_fit fit = io_sched_judge(kind, sched, &want, &why);
		struct audit_res *x = add(o, it, d, fit == IO_SCHED_POOR ? AU_FAIL : AU_PASS,
					  "scheduler %s (%s), want %s", sched[0] ? sched : "?",
					  virtio ? "virtio disk" : !strcmp(kind, "nvme") ? "NVMe"
							     : !strcmp(kind, "rotational") ? "rotational" : "SSD",
					  want);
		/* the reason, as diagnose gives it (analysis/io.c io_sched_judge: one judgement for both) */
		if (fit != IO_SCHED_BEST)
			note(x, "%s", why);
	}
	free_names(devs, n);
	if (!seen)
		add(o, it, NULL, AU_UNKNOWN, "no %s block devices with a scheduler under /sys/block",
		    guest ? "virtio or SCSI" : "physical");
}

static void host_io_scheduler(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	io_scheduler(c, it, o, false);
}

static void host_cpufreq(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	char drv[64], gov[64], epp[64];
	if (!rd(c, "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", gov, sizeof(gov))) {
		struct audit_res *x = add(o, it, NULL, AU_UNKNOWN, "no cpufreq (sys/devices/system/cpu/cpu0/cpufreq)");
		note(x, c->guest ? "in a VM the host sets CPU frequency; audit it there"
				 : "the firmware controls frequency (no cpufreq driver loaded)");
		return;
	}
	rd(c, "sys/devices/system/cpu/cpu0/cpufreq/scaling_driver", drv, sizeof(drv));
	bool have_epp = rd(c, "sys/devices/system/cpu/cpu0/cpufreq/energy_performance_preference", epp, sizeof(epp));
	bool ok = !strcmp(gov, "performance") ||
		  (have_epp && !strcmp(epp, "performance") && strstr(drv, "pstate") != NULL);
	add(o, it, "cpu0", ok ? AU_PASS : AU_FAIL, "driver %s, governor %s%s%s", drv[0] ? drv : "?", gov,
	    have_epp ? ", EPP " : "", have_epp ? epp : "");
}

static void host_cstates(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	char drv[64], name[64], lat[32], dis[8];
	rd(c, "sys/devices/system/cpu/cpuidle/current_driver", drv, sizeof(drv));
	int deepest = -1;
	long deep_lat = -1;
	char deep_name[64] = "", bad[64] = "";
	for (int s = 0; s < 16; s++) {
		if (!rdf(c, lat, sizeof(lat), "sys/devices/system/cpu/cpu0/cpuidle/state%d/latency", s))
			break;
		rdf(c, name, sizeof(name), "sys/devices/system/cpu/cpu0/cpuidle/state%d/name", s);
		if (rdf(c, dis, sizeof(dis), "sys/devices/system/cpu/cpu0/cpuidle/state%d/disable", s) && !strcmp(dis, "1"))
			continue;
		/* a latency that is not a number (a damaged snapshot) is not 0 us */
		uint64_t v;
		if (conf_uint(lat, 0, 100000000, &v) < 0) {
			snprintf(bad, sizeof(bad), "state%d/latency '%.20s'", s, lat);
			continue;
		}
		deepest = s;
		deep_lat = (long)v;
		str_copy(deep_name, sizeof(deep_name), name);
	}
	if (bad[0]) {
		add(o, it, "cpu0", AU_UNKNOWN, "cpuidle %s is not a whole number of microseconds", bad);
		return;
	}
	if (deepest < 0) {
		struct audit_res *x = add(o, it, NULL, AU_UNKNOWN, "no cpuidle states (driver %s)", drv[0] ? drv : "none");
		if (c->guest)
			note(x, "in a VM the host's C-states decide wake-up latency; audit them there");
		return;
	}
	bool ok = TH(T_CSTATE_EXIT_US).warn < 0 || deep_lat < TH(T_CSTATE_EXIT_US).warn;
	struct audit_res *x = add(o, it, "cpu0", ok ? AU_PASS : AU_FAIL,
				  "deepest enabled C-state %s exits in %ld µs (driver %s; limit %.0f µs)", deep_name,
				  deep_lat, drv[0] ? drv : "?", TH(T_CSTATE_EXIT_US).warn);
	if (c->guest)
		note(x, "these are the guest's idle states; the host's decide the real wake-up latency");
}

static void thp(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	char line[128], en[32], df[32];
	if (!rd(c, "sys/kernel/mm/transparent_hugepage/enabled", line, sizeof(line))) {
		add(o, it, NULL, AU_UNKNOWN, "no /sys/kernel/mm/transparent_hugepage (kernel without THP)");
		return;
	}
	bracket_choice(line, strlen(line), en, sizeof(en));
	rd(c, "sys/kernel/mm/transparent_hugepage/defrag", line, sizeof(line));
	bracket_choice(line, strlen(line), df, sizeof(df));
	if (!strcmp(df, "always")) {
		struct audit_res *x = add(o, it, NULL, AU_FAIL, "enabled=%s defrag=%s", en, df);
		note(x, "defrag=always compacts memory inside page faults: multi-second stalls under fragmentation");
	} else if (!strcmp(en, "never") && c->host && !c->guest) {
		struct audit_res *x = add(o, it, NULL, AU_FAIL, "enabled=%s defrag=%s", en, df);
		note(x, "guests lose 2 MiB backing (TLB reach) unless they use hugetlbfs");
	} else {
		struct audit_res *x = add(o, it, NULL, AU_PASS, "enabled=%s defrag=%s", en, df);
		if (!strcmp(en, "madvise"))
			note(x, "QEMU madvises guest RAM, so guests still get THP under madvise");
	}
}

static void mitigations(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	size_t n;
	char **v = list_dir(c, "sys/devices/system/cpu/vulnerabilities", &n);
	if (!n) {
		add(o, it, NULL, AU_UNKNOWN, "no /sys/devices/system/cpu/vulnerabilities (kernel before 4.15?)");
		free_names(v, n);
		return;
	}
	char bad[1024] = "", line[256];
	size_t bo = 0;
	unsigned nbad = 0, nmit = 0, nna = 0;
	for (size_t i = 0; i < n; i++) {
		if (!rdf(c, line, sizeof(line), "sys/devices/system/cpu/vulnerabilities/%s", v[i]))
			continue;
		if (!strncmp(line, "Vulnerable", 10)) {
			nbad++;
			if (bo + strlen(v[i]) + 40 < sizeof(bad))
				bo += (size_t)snprintf(bad + bo, sizeof(bad) - bo, "%s%s (%.60s)", bo ? ", " : "", v[i], line);
		} else if (!strncmp(line, "Not affected", 12)) {
			nna++;
		} else {
			nmit++;
		}
	}
	free_names(v, n);
	if (nbad)
		add(o, it, NULL, AU_FAIL, "%u vulnerable: %s", nbad, bad);
	else
		add(o, it, NULL, AU_PASS, "%u mitigated, %u not affected, none vulnerable", nmit, nna);
}

/* vCPUs and memory of the running VMs; *unknown_cpu / *unknown_mem name a VM whose figure is not known
 * (a rejected value), so that a ratio is never summed over a part of them */
static unsigned running_vcpus(const struct audit_ctx *c, unsigned *nrun, uint64_t *mem, const struct audit_vm **unknown_cpu,
			      const struct audit_vm **unknown_mem)
{
	unsigned v = 0;
	*nrun = 0;
	*mem = 0;
	*unknown_cpu = *unknown_mem = NULL;
	for (size_t i = 0; i < c->nvms; i++)
		if (c->vms[i].pid) {
			(*nrun)++;
			v += c->vms[i].conf.vcpus;
			*mem += c->vms[i].conf.mem_mib;
			if (!c->vms[i].conf.vcpus && !*unknown_cpu)
				*unknown_cpu = &c->vms[i];
			if (!c->vms[i].conf.mem_mib && !*unknown_mem)
				*unknown_mem = &c->vms[i];
		}
	return v;
}

/* A VM figure the audit needs is unknown: say which VM and what its configuration said instead. */
static void unknown_figure(const struct audit_item *it, struct audit_out *o, const char *subject,
			   const struct audit_vm *vm, const char *what)
{
	struct audit_res *x = add(o, it, subject, AU_UNKNOWN, "%s of %s is not known", what,
				  vm->conf.name[0] ? vm->conf.name : vm->origin);
	note(x, "%s", vm->conf.rejected[0] ? vm->conf.rejected : "its configuration does not say");
}

static void ratio_item(const struct audit_item *it, struct audit_out *o, double r, int t, const char *what,
		       const char *sensitive)
{
	if (r <= TH(t).warn) {
		add(o, it, NULL, AU_PASS, "%s %.2f:1 (usual range up to %.1f:1)", what, r, TH(t).crit);
	} else if (r <= TH(t).crit) {
		struct audit_res *x = add(o, it, NULL, AU_PASS, "%s %.2f:1, within the usual %.1f:1-%.1f:1", what, r,
					  TH(t).warn, TH(t).crit);
		note(x, "%s", sensitive);
	} else {
		add(o, it, NULL, AU_FAIL, "%s %.2f:1, above %.1f:1", what, r, TH(t).crit);
	}
}

static void overcommit_cpu(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	unsigned nrun;
	uint64_t mem;
	const struct audit_vm *ucpu, *umem;
	unsigned v = running_vcpus(c, &nrun, &mem, &ucpu, &umem);
	if (!c->have_proc) {
		add(o, it, NULL, AU_UNKNOWN, "no /proc under the root: running VMs cannot be seen");
		return;
	}
	if (!nrun) {
		struct audit_res *x = add(o, it, NULL, AU_PASS, "no running VMs");
		note(x, "nothing to overcommit");
		return;
	}
	if (ucpu) {
		unknown_figure(it, o, NULL, ucpu, "the vCPU count");
		return;
	}
	if (!c->ncpus) {
		add(o, it, NULL, AU_UNKNOWN, "the host's CPU count is not known (no sys/devices/system/cpu/online)");
		return;
	}
	char what[96];
	snprintf(what, sizeof(what), "%u vCPU%s of %u VM%s on %u CPU%s:", v, plural_s(v), nrun, plural_s(nrun), c->ncpus,
		 plural_s(c->ncpus));
	ratio_item(it, o, (double)v / c->ncpus, T_VCPU_PER_CPU, what,
		   "too high for latency-sensitive VMs (2:1 or 1:1 for those)");
}

static void overcommit_mem(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	unsigned nrun;
	uint64_t mem;
	const struct audit_vm *ucpu, *umem;
	running_vcpus(c, &nrun, &mem, &ucpu, &umem);
	if (!c->have_proc) {
		add(o, it, NULL, AU_UNKNOWN, "no /proc under the root: running VMs cannot be seen");
		return;
	}
	if (nrun && umem) {
		unknown_figure(it, o, NULL, umem, "the memory size");
		return;
	}
	if (!nrun || !c->memtotal_kb) {
		struct audit_res *x = add(o, it, NULL, nrun ? AU_UNKNOWN : AU_PASS,
					  nrun ? "no MemTotal in /proc/meminfo" : "no running VMs");
		(void)x;
		return;
	}
	char what[96];
	snprintf(what, sizeof(what), "%llu MiB of guest memory on %llu MiB:", (unsigned long long)mem,
		 (unsigned long long)(c->memtotal_kb / 1024));
	ratio_item(it, o, (double)mem * 1024 / (double)c->memtotal_kb, T_GUEST_MEM_RATIO, what,
		   "never overcommit memory under databases; watch host swap (hiddenq vms: VmSwap per VM)");
}

/* ------------------------------------------------------------------ */
/* VM items                                                            */
/* ------------------------------------------------------------------ */

static void subject_of(const struct audit_vm *vm, char *s, size_t n)
{
	snprintf(s, n, "%s", vm->conf.name[0] ? vm->conf.name : vm->origin);
}

static void vm_virtio_disk(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	for (size_t i = 0; i < c->nvms; i++) {
		const struct audit_vm *vm = &c->vms[i];
		char s[160], bad[512] = "", good[512] = "";
		size_t bo = 0, go = 0;
		unsigned nb = 0, ng = 0;
		subject_of(vm, s, sizeof(s));
		for (unsigned k = 0; k < vm->conf.ndisks; k++) {
			const struct vm_disk *d = &vm->conf.disks[k];
			if (d->cdrom)
				continue;
			if (vmconf_disk_is_virtio(d)) {
				ng++;
				if (go + 80 < sizeof(good))
					go += (size_t)snprintf(good + go, sizeof(good) - go, "%s%s %s", go ? ", " : "",
							       d->id[0] ? d->id : "?", d->model);
			} else {
				nb++;
				if (bo + 80 < sizeof(bad))
					bo += (size_t)snprintf(bad + bo, sizeof(bad) - bo, "%s%s %s (%s)", bo ? ", " : "",
							       d->id[0] ? d->id : "?", d->model, d->bus);
			}
		}
		if (nb)
			add(o, it, s, AU_FAIL, "emulated disk controller: %s", bad);
		else if (ng)
			add(o, it, s, AU_PASS, "%s", good);
		else
			note(add(o, it, s, AU_PASS, "no disks"), "nothing to check (diskless or network boot)");
	}
}

static void vm_virtio_nic(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	for (size_t i = 0; i < c->nvms; i++) {
		const struct audit_vm *vm = &c->vms[i];
		char s[160];
		subject_of(vm, s, sizeof(s));
		unsigned nn = 0;
		for (unsigned k = 0; k < vm->conf.nnics; k++) {
			const struct vm_nic *n = &vm->conf.nics[k];
			if (!n->model[0])
				continue; /* a backend no device uses */
			nn++;
			char sub[200];
			snprintf(sub, sizeof(sub), "%s %s", s, n->id[0] ? n->id : n->ifname);
			if (vmconf_nic_is_virtio(n))
				add(o, it, sub, AU_PASS, "%s on %s%s", n->model, n->backend[0] ? n->backend : "?",
				    n->vhost == 1 ? " (vhost)" : "");
			else
				add(o, it, sub, AU_FAIL, "emulated NIC %s on %s", n->model, n->backend[0] ? n->backend : "?");
		}
		if (!nn)
			note(add(o, it, s, AU_PASS, "no network devices"), "nothing to check");
	}
}

static void vm_disk_cache(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	for (size_t i = 0; i < c->nvms; i++) {
		const struct audit_vm *vm = &c->vms[i];
		char s[160];
		subject_of(vm, s, sizeof(s));
		for (unsigned k = 0; k < vm->conf.ndisks; k++) {
			const struct vm_disk *d = &vm->conf.disks[k];
			if (d->cdrom)
				continue;
			char sub[200];
			snprintf(sub, sizeof(sub), "%s %s", s, d->id[0] ? d->id : "?");
			bool direct = !strcmp(d->cache, "none") || !strcmp(d->cache, "directsync");
			bool aio = !strcmp(d->aio, "native") || !strcmp(d->aio, "io_uring");
			struct audit_res *x = add(o, it, sub, direct && aio ? AU_PASS : AU_FAIL, "cache=%s io=%s",
						  d->cache[0] ? d->cache : "?", d->aio[0] ? d->aio : "?");
			if (!direct && !strcmp(d->cache, "unsafe"))
				note(x, "unsafe ignores the guest's flushes: a host crash loses data the guest believed written");
			else if (!direct)
				note(x, "the host page cache holds guest writes: memory counted twice, and writes not yet "
					"flushed are lost if the host crashes");
			else if (!aio)
				note(x, "cache is right; io=threads adds a thread pool hop per request");
		}
	}
}

static void vm_disk_format(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	for (size_t i = 0; i < c->nvms; i++) {
		const struct audit_vm *vm = &c->vms[i];
		char s[160];
		subject_of(vm, s, sizeof(s));
		for (unsigned k = 0; k < vm->conf.ndisks; k++) {
			const struct vm_disk *d = &vm->conf.disks[k];
			if (d->cdrom)
				continue;
			char sub[200];
			snprintf(sub, sizeof(sub), "%s %s", s, d->id[0] ? d->id : "?");
			if (!d->format[0] && k < VMCONF_MAX_DISKS && vm->chain[k].n && !vm->chain[k].layer[0].err[0]) {
				note(add(o, it, sub, AU_UNKNOWN, "format not stated; its header says %s (%s)",
					 vm->chain[k].layer[0].format, d->file),
				     "QEMU then probes the format from the file's first bytes: state it (a raw disk is "
				     "whatever its guest wrote, a qcow2 header included)");
			} else if (!d->format[0]) {
				add(o, it, sub, AU_UNKNOWN, "format not stated (%s)", d->file);
			} else if (!strcmp(d->format, "raw")) {
				add(o, it, sub, AU_PASS, "raw %s", d->file);
			} else {
				struct audit_res *x = add(o, it, sub, AU_FAIL, "%s %s", d->format, d->file);
				note(x, "fine for disks that are not latency-critical (snapshots, thin provisioning); "
					"metadata lookups and allocation add latency");
			}
		}
	}
}

static void vm_nic_multiqueue(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	for (size_t i = 0; i < c->nvms; i++) {
		const struct audit_vm *vm = &c->vms[i];
		char s[160];
		subject_of(vm, s, sizeof(s));
		unsigned vc = vm->conf.vcpus;
		for (unsigned k = 0; k < vm->conf.nnics; k++) {
			const struct vm_nic *n = &vm->conf.nics[k];
			if (!n->model[0] || !vmconf_nic_is_virtio(n))
				continue;
			char sub[200];
			snprintf(sub, sizeof(sub), "%s %s", s, n->id[0] ? n->id : n->ifname);
			if (!vc) {
				unknown_figure(it, o, sub, vm, "the vCPU count");
				continue;
			}
			if (!strcmp(n->backend, "user")) {
				struct audit_res *x = add(o, it, sub, AU_UNKNOWN, "user-mode networking (slirp), %u vCPU%s", vc, plural_s(vc));
				note(x, "slirp has one queue in QEMU's main loop: a test path, not a production one");
				continue;
			}
			unsigned q = n->queues > 0 ? (unsigned)n->queues : 1;
			unsigned hostq = vm->tap_queues[k];
			char hq[64] = "";
			if (hostq)
				snprintf(hq, sizeof(hq), "; %u tap queue%s open on the host", hostq, hostq == 1 ? "" : "s");
			add(o, it, sub, q >= vc ? AU_PASS : AU_FAIL, "%u queue%s for %u vCPU%s%s", q, q == 1 ? "" : "s", vc,
			    vc == 1 ? "" : "s", hq);
		}
	}
}

/* node of the host that holds all of mask, -1 if none */
static int node_holding(const struct audit_ctx *c, const struct cpumask *m)
{
	for (unsigned n = 0; n < c->nnodes; n++) {
		struct cpumask x;
		cpumask_and(&x, m, &c->node_cpus[n]);
		if (cpumask_weight(&x) == cpumask_weight(m))
			return (int)n;
	}
	return -1;
}

/*
 * The largest node's CPUs and memory, and whether the VM fits them.  On a host
 * with one node (or no NUMA at all) that node is the whole host.  False with
 * *ncpu 0 when the host's size is not known.
 */
static bool fits_node(const struct audit_ctx *c, const struct audit_vm *vm, unsigned *ncpu, uint64_t *nmem)
{
	*ncpu = 0;
	*nmem = 0;
	for (unsigned n = 0; n < c->nnodes; n++) {
		unsigned w = cpumask_weight(&c->node_cpus[n]);
		if (w > *ncpu)
			*ncpu = w;
		if (c->node_mem_kb[n] / 1024 > *nmem)
			*nmem = c->node_mem_kb[n] / 1024;
	}
	if (c->nnodes < 2) {
		*ncpu = c->ncpus;
		*nmem = c->memtotal_kb / 1024;
	}
	return *ncpu && vm->conf.vcpus <= *ncpu && (!*nmem || vm->conf.mem_mib <= *nmem);
}

/* Can the VM be sized against the host?  Adds an unknown result and says why when not. */
static bool sizable(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o, const char *s,
		    const struct audit_vm *vm)
{
	if (!vm->conf.vcpus) {
		unknown_figure(it, o, s, vm, "the vCPU count");
		return false;
	}
	if (!vm->conf.mem_mib) {
		unknown_figure(it, o, s, vm, "the memory size");
		return false;
	}
	if (!c->ncpus) {
		add(o, it, s, AU_UNKNOWN, "the host's CPUs are not known (no sys/devices/system/cpu/online)");
		return false;
	}
	return true;
}

static void vm_numa_pinning(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	for (size_t i = 0; i < c->nvms; i++) {
		const struct audit_vm *vm = &c->vms[i];
		char s[160];
		subject_of(vm, s, sizeof(s));
		if (c->nnodes < 2 && c->ncpus) {
			note(add(o, it, s, AU_PASS, "host has %u NUMA node%s", c->nnodes ? c->nnodes : 1,
				 c->nnodes > 1 ? "s" : ""),
			     "nothing to pin on a single-node host");
			continue;
		}
		if (!sizable(c, it, o, s, vm))
			continue;
		unsigned ncpu;
		uint64_t nmem;
		bool fits = fits_node(c, vm, &ncpu, &nmem);
		int node = vm->have_cpus ? node_holding(c, &vm->vcpu_cpus) : -1;
		bool pinned = node >= 0 || (vm->conf.vcpupin && vm->conf.numatune_nodeset[0]);
		if (pinned) {
			add(o, it, s, AU_PASS, "vCPUs confined to %s%d%s%s", node >= 0 ? "node " : "",
			    node >= 0 ? node : 0, vm->conf.numatune_nodeset[0] ? ", memory nodeset " : "",
			    vm->conf.numatune_nodeset);
		} else if (!fits && c->node_mem_lazy && vm->conf.vcpus <= ncpu) {
			note(add(o, it, s, AU_UNKNOWN, "%u vCPU%s fit%s a node; %llu MiB against %llu MiB counted so far",
				 vm->conf.vcpus, plural_s(vm->conf.vcpus), vm->conf.vcpus == 1 ? "s" : "",
				 (unsigned long long)vm->conf.mem_mib, (unsigned long long)nmem),
			     "%s", c->node_mem_note);
		} else if (!fits) {
			add(o, it, s, vm->conf.numa_nodes >= 2 ? AU_PASS : AU_FAIL,
			    "%u vCPU%s / %llu MiB do not fit one node (%u CPU%s, %llu MiB)%s", vm->conf.vcpus,
			    plural_s(vm->conf.vcpus), (unsigned long long)vm->conf.mem_mib, ncpu, plural_s(ncpu),
			    (unsigned long long)nmem,
			    vm->conf.numa_nodes >= 2 ? "; guest has vNUMA nodes" : "; not pinned, no vNUMA");
		} else {
			note(add(o, it, s, AU_PASS, "fits one node, floats across %u nodes", c->nnodes),
			     "pin (vCPUs and memory to one node) when it is latency-critical; pinning every VM early "
			     "strands CPUs and is its own mistake");
		}
	}
}

static void vm_larger_than_node(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	for (size_t i = 0; i < c->nvms; i++) {
		const struct audit_vm *vm = &c->vms[i];
		char s[160];
		subject_of(vm, s, sizeof(s));
		if (!sizable(c, it, o, s, vm))
			continue;
		unsigned ncpu;
		uint64_t nmem;
		if (fits_node(c, vm, &ncpu, &nmem)) {
			add(o, it, s, AU_PASS, "%u vCPU%s, %llu MiB within a node (%u CPU%s, %llu MiB)", vm->conf.vcpus,
			    plural_s(vm->conf.vcpus), (unsigned long long)vm->conf.mem_mib, ncpu, plural_s(ncpu),
			    (unsigned long long)nmem);
		} else if (c->node_mem_lazy && vm->conf.vcpus <= ncpu) {
			/* only memory says no, and the nodes' memory is known to be counted short */
			note(add(o, it, s, AU_UNKNOWN, "%u vCPU%s fit%s a node (%u CPU%s); %llu MiB against %llu MiB counted "
						       "so far",
				 vm->conf.vcpus, plural_s(vm->conf.vcpus), vm->conf.vcpus == 1 ? "s" : "", ncpu,
				 plural_s(ncpu), (unsigned long long)vm->conf.mem_mib, (unsigned long long)nmem),
			     "%s", c->node_mem_note);
		} else if (c->nnodes < 2) {
			/* one node is the whole host: vNUMA cannot help a VM larger than that */
			note(add(o, it, s, AU_FAIL, "%u vCPU%s, %llu MiB: larger than this single-node host (%u CPU%s, %llu MiB)",
				 vm->conf.vcpus, plural_s(vm->conf.vcpus), (unsigned long long)vm->conf.mem_mib, ncpu,
				 plural_s(ncpu), (unsigned long long)nmem),
			     "its vCPUs share the host's CPUs with each other: shrink it to fit, or move it to a larger "
			     "host; guest NUMA nodes do not help here");
		} else {
			struct audit_res *x = add(o, it, s, vm->conf.numa_nodes >= 2 ? AU_PASS : AU_FAIL,
						  "%u vCPUs, %llu MiB: larger than a node (%u CPUs, %llu MiB); guest "
						  "NUMA nodes: %u",
						  vm->conf.vcpus, (unsigned long long)vm->conf.mem_mib, ncpu,
						  (unsigned long long)nmem, vm->conf.numa_nodes);
			if (vm->conf.numa_nodes >= 2)
				note(x, "vNUMA lets the guest place its work; pin each vNUMA node to a host node");
		}
	}
}

static void vm_hugepages(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	for (size_t i = 0; i < c->nvms; i++) {
		const struct audit_vm *vm = &c->vms[i];
		char s[160];
		subject_of(vm, s, sizeof(s));
		bool huge = vm->conf.hugepages || vm->hugetlb_kb > 0;
		double thp = vm->rss_kb ? 100.0 * (double)vm->anon_huge_kb / (double)vm->rss_kb : -1;
		char cov[64] = "";
		if (thp >= 0)
			snprintf(cov, sizeof(cov), ", THP covers %.0f %% of RSS", thp);
		if (huge) {
			add(o, it, s, AU_PASS, "hugetlbfs backing%s%s", vm->conf.mem_path[0] ? " " : "", vm->conf.mem_path);
		} else if (!vm->conf.mem_mib) {
			unknown_figure(it, o, s, vm, "the memory size");
		} else if ((double)vm->conf.mem_mib < TH(T_HUGE_GUEST_MIB).warn) {
			note(add(o, it, s, AU_PASS, "%llu MiB, no hugetlbfs%s", (unsigned long long)vm->conf.mem_mib, cov),
			     "below %.0f MiB huge page backing is optional", TH(T_HUGE_GUEST_MIB).warn);
		} else if (thp >= 50) {
			note(add(o, it, s, AU_PASS, "%llu MiB%s", (unsigned long long)vm->conf.mem_mib, cov),
			     "THP backs most of it; hugetlbfs would make it certain");
		} else {
			add(o, it, s, AU_FAIL, "%llu MiB without hugetlbfs%s", (unsigned long long)vm->conf.mem_mib, cov);
		}
	}
}

static void vm_cpu_model(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	for (size_t i = 0; i < c->nvms; i++) {
		const struct audit_vm *vm = &c->vms[i];
		char s[160];
		subject_of(vm, s, sizeof(s));
		const char *m = vm->conf.cpu_model;
		bool tcg = !strcmp(vm->conf.accel, "tcg") || (!vm->conf.accel[0] && !strcmp(vm->conf.source, "cmdline"));
		struct audit_res *x;
		if (!strcmp(m, "host") || !strcmp(m, "host-passthrough") || !strcmp(m, "max") || !strcmp(m, "maximum")) {
			x = add(o, it, s, AU_PASS, "%s", m);
			note(x, "every host CPU feature reaches the guest; live migration only to hosts with the same CPU");
		} else if (!strcmp(m, "host-model")) {
			x = add(o, it, s, AU_PASS, "host-model");
			note(x, "migratable across a mixed fleet; some features (and their speed) stay hidden");
		} else if (!m[0] || !strncmp(m, "qemu64", 6) || !strncmp(m, "kvm64", 5) || !strncmp(m, "qemu32", 6) ||
			   !strncmp(m, "kvm32", 5)) {
			x = add(o, it, s, AU_FAIL, "%s", m[0] ? m : "default model (qemu64)");
			note(x, "a baseline model hides AVX, AES-NI and more from the guest");
		} else {
			x = add(o, it, s, AU_PASS, "named model %s", m);
			note(x, "a named model migrates between hosts that have it; features beyond it stay hidden");
		}
		if (tcg) {
			char *old = x->note;
			x->note = xasprintf("%s; accelerator %s: emulated, not KVM", old ? old : "",
					    vm->conf.accel[0] ? vm->conf.accel : "tcg (none given)");
			free(old);
		}
	}
}

/* ------------------------------------------------------------------ */
/* guest items                                                         */
/* ------------------------------------------------------------------ */

static void guest_devices(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	size_t n;
	char **v = list_dir(c, "sys/class/net", &n);
	char link[512], rel[300];
	unsigned seen = 0;
	for (size_t i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "sys/class/net/%s/device/driver", v[i]);
		rlink(c, rel, link, sizeof(link));
		if (!link[0])
			continue; /* virtual device */
		seen++;
		const char *d = base(link);
		bool ok = !strcmp(d, "virtio_net") || !strcmp(d, "vmxnet3") || !strcmp(d, "xen_netfront") ||
			  !strcmp(d, "hv_netvsc") || !strcmp(d, "ena") || !strcmp(d, "gve") || !strncmp(d, "mlx", 3) ||
			  !strcmp(d, "iavf") || !strcmp(d, "ixgbevf");
		add(o, it, v[i], ok ? AU_PASS : AU_FAIL, "NIC driver %s", d);
	}
	free_names(v, n);
	v = list_dir(c, "sys/block", &n);
	for (size_t i = 0; i < n; i++) {
		if (skip_blockdev(v[i]))
			continue;
		snprintf(rel, sizeof(rel), "sys/block/%s", v[i]);
		rlink(c, rel, link, sizeof(link));
		seen++;
		bool ok = strstr(link, "virtio") || strstr(link, "nvme") || strstr(link, "vbd") || strstr(link, "vmbus");
		bool emul = strstr(link, "/ata") || strstr(link, "ide");
		add(o, it, v[i], ok ? AU_PASS : emul ? AU_FAIL : AU_UNKNOWN, "disk on %s",
		    ok ? (strstr(link, "virtio") ? "virtio" : "a paravirtual or passthrough controller")
		       : emul ? "an emulated ATA/IDE controller" : "an unrecognised bus");
	}
	free_names(v, n);
	if (!seen)
		add(o, it, NULL, AU_UNKNOWN, "no NICs or disks with a device under /sys");
}

static unsigned count_prefix(const struct audit_ctx *c, const char *rel, const char *pfx)
{
	size_t n;
	char **v = list_dir(c, rel, &n);
	unsigned k = 0;
	for (size_t i = 0; i < n; i++)
		k += !strncmp(v[i], pfx, strlen(pfx));
	free_names(v, n);
	return k;
}

static void guest_queues(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	size_t n;
	char **v = list_dir(c, "sys/class/net", &n);
	char link[512], rel[300];
	unsigned seen = 0, cpus = c->ncpus ? c->ncpus : 1;
	for (size_t i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "sys/class/net/%s/device/driver", v[i]);
		rlink(c, rel, link, sizeof(link));
		if (strcmp(base(link), "virtio_net") != 0)
			continue;
		snprintf(rel, sizeof(rel), "sys/class/net/%s/queues", v[i]);
		unsigned rx = count_prefix(c, rel, "rx-");
		seen++;
		struct audit_res *x = add(o, it, v[i], rx >= cpus ? AU_PASS : AU_FAIL, "%u RX queue%s for %u vCPU%s", rx,
					  rx == 1 ? "" : "s", cpus, cpus == 1 ? "" : "s");
		if (rx < cpus)
			note(x, "one queue's interrupts land on one vCPU; on the host give the tap queues=%u "
				"(libvirt <driver queues='%u'/>), then ethtool -L %s combined %u",
			     cpus, cpus, v[i], cpus);
	}
	free_names(v, n);
	v = list_dir(c, "sys/block", &n);
	for (size_t i = 0; i < n; i++) {
		if (strncmp(v[i], "vd", 2) != 0)
			continue;
		snprintf(rel, sizeof(rel), "sys/block/%s/mq", v[i]);
		size_t m;
		char **q = list_dir(c, rel, &m);
		free_names(q, m);
		seen++;
		add(o, it, v[i], m >= cpus || m >= 4 ? AU_PASS : AU_FAIL, "%zu virtqueue%s for %u vCPU%s", m,
		    m == 1 ? "" : "s", cpus, cpus == 1 ? "" : "s");
	}
	free_names(v, n);
	if (!seen)
		add(o, it, NULL, AU_UNKNOWN, "no virtio NICs or disks");
}

static void guest_io_scheduler(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	io_scheduler(c, it, o, true);
}

static void guest_clocksource(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	char cs[64];
	if (!rd(c, "sys/devices/system/clocksource/clocksource0/current_clocksource", cs, sizeof(cs))) {
		add(o, it, NULL, AU_UNKNOWN, "no current_clocksource");
		return;
	}
	bool bad = !strcmp(cs, "hpet") || !strcmp(cs, "acpi_pm") || strstr(cs, "jiffies") != NULL;
	struct audit_res *x = add(o, it, NULL, bad ? AU_FAIL : AU_PASS, "clocksource %s", cs);
	if (bad)
		note(x, "each clock read traps to the hypervisor; kvm-clock or a stable TSC reads in the guest "
			"(a kernel that marked the TSC unstable fell back here: see dmesg)");
}

static void guest_cpuidle(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	char d[64];
	if (!rd(c, "sys/devices/system/cpu/cpuidle/current_driver", d, sizeof(d))) {
		add(o, it, NULL, AU_UNKNOWN, "no cpuidle driver (CONFIG_CPU_IDLE off): idle vCPUs halt");
		return;
	}
	struct audit_res *x = add(o, it, NULL, AU_PASS, "cpuidle driver %s", d);
	char ns[32];
	if (!strcmp(d, "haltpoll") && rd(c, "sys/module/haltpoll/parameters/guest_halt_poll_ns", ns, sizeof(ns)) &&
	    !strcmp(ns, "0"))
		note(x, "but guest_halt_poll_ns is 0, so it never polls (see guest-halt-polling)");
	else if (!strcmp(d, "haltpoll"))
		note(x, "polls briefly before halting: fewer wake-up exits, some host CPU spent polling");
	else
		note(x, "cpuidle-haltpoll (KVM guests) cuts wake-up latency for bursty, latency-sensitive work");
}

/*
 * Waking an idle vCPU (idle-vcpu-wakeup): who polls before the halt.  The
 * guest polls with cpuidle-haltpoll up to guest_halt_poll_ns; loading that
 * driver also tells KVM to stop polling on the host (MSR_KVM_POLL_CONTROL),
 * so with guest_halt_poll_ns 0 nobody polls and every wake-up pays the host.
 */
static void guest_halt_polling(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	char d[64], ns[32], cmd[4096];
	rd(c, "proc/cmdline", cmd, sizeof(cmd));
	const char *idle = strstr(cmd, "idle=");
	if (idle && (idle == cmd || idle[-1] == ' ') && !strncmp(idle, "idle=poll", 9)) {
		struct audit_res *x = add(o, it, NULL, AU_PASS, "idle=poll: idle vCPUs never halt");
		note(x, "no wake-up ever goes through the host, but each vCPU burns its whole pCPU while idle: only "
			"for dedicated pCPUs");
		return;
	}
	if (!rd(c, "sys/devices/system/cpu/cpuidle/current_driver", d, sizeof(d))) {
		struct audit_res *x = add(o, it, NULL, AU_UNKNOWN, "no cpuidle driver: idle vCPUs halt at once");
		note(x, "the host's halt_poll_ns decides the wake-up cost; a guest cannot read it (hiddenq probe wakeup "
			"measures the result)");
		return;
	}
	bool have = rd(c, "sys/module/haltpoll/parameters/guest_halt_poll_ns", ns, sizeof(ns));
	if (!strcmp(d, "haltpoll") && have && !strcmp(ns, "0")) {
		struct audit_res *x = add(o, it, NULL, AU_FAIL, "cpuidle-haltpoll loaded with guest_halt_poll_ns 0");
		note(x, "nobody polls: the guest halts at once and loading the driver turned the host's halt polling "
			"off, so every wake-up of an idle vCPU pays the host's full wake-up (hiddenq probe wakeup)");
		return;
	}
	if (!strcmp(d, "haltpoll")) {
		struct audit_res *x = add(o, it, NULL, AU_PASS, "guest halt polling up to %s ns (cpuidle-haltpoll)",
					  have ? ns : "?");
		note(x, "wake-ups within the window are cheap; the vCPU burns that long after each idle start, which "
			"the host sees as busy (and the host's own polling is off)");
		return;
	}
	struct audit_res *x = add(o, it, NULL, AU_PASS, "cpuidle driver %s: the host's halt polling applies", d);
	note(x, "the host polls a halted vCPU up to its halt_poll_ns (KVM's default 200 µs, adaptive), which a guest "
		"cannot read; longer gaps pay the host's wake-up (hiddenq probe wakeup measures it)");
}

static void host_halt_polling(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	char ns[32];
	if (!rd(c, "sys/module/kvm/parameters/halt_poll_ns", ns, sizeof(ns))) {
		add(o, it, NULL, AU_UNKNOWN, "no kvm module parameters (sys/module/kvm/parameters/halt_poll_ns)");
		return;
	}
	if (!strcmp(ns, "0")) {
		struct audit_res *x = add(o, it, NULL, AU_FAIL, "KVM halt_poll_ns 0: halted vCPUs sleep at once");
		note(x, "every wake-up of an idle vCPU goes through the host's scheduler; a small window (KVM's default "
			"200000 ns) spends host CPU to make wake-ups after short gaps cheap");
		return;
	}
	struct audit_res *x = add(o, it, NULL, AU_PASS, "KVM halt_poll_ns %s", ns);
	note(x, "a halted vCPU is polled up to that long (guests that load cpuidle-haltpoll turn it off for "
		"themselves); the spinning host CPU is taken from other VMs");
}

/* Layers of a disk's chain that add a queue of their own, and a word on the worst of them. */
static void vm_disk_chain(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	for (size_t i = 0; i < c->nvms; i++) {
		const struct audit_vm *vm = &c->vms[i];
		char s[160];
		subject_of(vm, s, sizeof(s));
		for (unsigned k = 0; k < vm->conf.ndisks; k++) {
			const struct vm_disk *d = &vm->conf.disks[k];
			if (d->cdrom || !d->file[0])
				continue;
			char sub[200], buf[1200];
			snprintf(sub, sizeof(sub), "%s %s", s, d->id[0] ? d->id : "?");
			const struct img_chain *ch = &vm->chain[k];
			if (!c->images_read)
				continue;
			if (!ch->n) {
				add(o, it, sub, AU_UNKNOWN, "%s: %s", d->file, vm->chain_why[k][0] ? vm->chain_why[k] : "not read");
				continue;
			}
			image_chain_format(ch, buf, sizeof(buf));
			const struct img_layer *top = &ch->layer[0];
			if (ch->n == 1 && top->err[0]) {
				add(o, it, sub, AU_UNKNOWN, "%s", buf);
				continue;
			}
			unsigned q = image_chain_queues(ch);
			bool corrupt = false, network = false;
			for (unsigned l = 0; l < ch->n; l++) {
				corrupt |= ch->layer[l].corrupt;
				network |= ch->layer[l].network;
			}
			bool fail = corrupt || ch->loop || ch->n >= 3 || q > 0;
			struct audit_res *x = add(o, it, sub, fail ? AU_FAIL : AU_PASS, "%s%u layer%s: %s",
						  ch->truncated ? "more than " : "", ch->n, ch->n == 1 ? "" : "s", buf);
			if (ch->truncated)
				note(x, "the chain goes on past the %u layers hiddenq follows: every read that misses the "
					"upper layers looks through at least that many images' metadata", ch->n);
			else if (corrupt)
				note(x, "an image is marked corrupt in its header: QEMU opens it read-only; qemu-img check, "
					"then qemu-img check -r all on a copy");
			else if (ch->loop)
				note(x, "the chain names one of its own layers again: QEMU refuses to open it");
			else if (network)
				note(x, "a layer on a network filesystem: every read that reaches it is a network round trip, "
					"on top of each layer's metadata lookup");
			else if (q)
				note(x, "%u layer%s on another device or filesystem than the top: a queue of its own for every "
					"read that reaches it", q, q == 1 ? "" : "s");
			else if (ch->n >= 3)
				note(x, "every read that misses the upper layers looks through %u images' metadata", ch->n);
			else if (ch->n == 2)
				note(x, "one backing file on the same device: reads of untouched blocks go through one more "
					"image's metadata");
		}
	}
}

/* qemu-img check's verdicts (only with --check-images). */
static void vm_image_check(const struct audit_ctx *c, const struct audit_item *it, struct audit_out *o)
{
	if (!c->check_images)
		return;
	for (size_t i = 0; i < c->nvms; i++) {
		const struct audit_vm *vm = &c->vms[i];
		char s[160];
		subject_of(vm, s, sizeof(s));
		if (!c->qemu_img[0]) {
			add(o, it, s, AU_UNKNOWN, "qemu-img is not installed (Debian: qemu-utils)");
			continue;
		}
		if (vm->pid > 0) {
			note(add(o, it, s, AU_UNKNOWN, "running (PID %d): its images are not checked", vm->pid),
			     "QEMU writes them meanwhile: a check would read half-written metadata and report errors "
			     "that are not there; check when the VM is stopped");
			continue;
		}
		unsigned n = 0;
		for (size_t k = 0; k < c->nchecks; k++) {
			const struct audit_img_check *ck = &c->checks[k];
			if (ck->vm != i)
				continue;
			n++;
			const struct img_layer *l = &vm->chain[ck->disk].layer[ck->layer];
			char sub[700];
			snprintf(sub, sizeof(sub), "%s %s", s, l->file);
			if (ck->rc == 0)
				add(o, it, sub, AU_PASS, "%s: no errors", l->format);
			else if (ck->rc == 2 || ck->corruptions > 0 || ck->check_errors > 0)
				note(add(o, it, sub, AU_FAIL, "%s: %lld corruption%s, %lld leaked cluster%s, %lld check error%s",
					 l->format, ck->corruptions < 0 ? 0 : ck->corruptions, ck->corruptions == 1 ? "" : "s",
					 ck->leaks < 0 ? 0 : ck->leaks, ck->leaks == 1 ? "" : "s",
					 ck->check_errors < 0 ? 0 : ck->check_errors, ck->check_errors == 1 ? "" : "s"),
				     "corrupted metadata: QEMU may refuse to start the VM or lose data; back the file up, "
				     "then qemu-img check -r all (or restore it)");
			else if (ck->rc == 3)
				note(add(o, it, sub, AU_FAIL, "%s: %lld leaked cluster%s (no corruption)", l->format,
					 ck->leaks, ck->leaks == 1 ? "" : "s"),
				     "leaked clusters only waste space (left by a crash); qemu-img check -r leaks frees them");
			else
				add(o, it, sub, AU_UNKNOWN, "%s: qemu-img check did not judge it (exit %d): %s", l->format,
				    ck->rc, ck->why[0] ? ck->why : "no message");
		}
		if (!n)
			note(add(o, it, s, AU_PASS, "no image with metadata to check"),
			     "raw images, devices and network disks have no metadata qemu-img could check");
	}
}

/* ------------------------------------------------------------------ */
/* the table                                                           */
/* ------------------------------------------------------------------ */

const struct audit_item audit_items[] = {
	{ "vm-virtio-disk", "virtio disks, not emulated IDE/SATA/SCSI", "vm", vm_virtio_disk,
	  "use virtio-blk or virtio-scsi (libvirt <target bus='virtio'/>); install the guest's virtio drivers first" },
	{ "vm-virtio-nic", "virtio NICs, not emulated e1000/rtl8139", "vm", vm_virtio_nic,
	  "use virtio-net (libvirt <model type='virtio'/>) with vhost" },
	{ "vm-disk-cache-io", "disk cache=none with io=native or io_uring", "vm", vm_disk_cache,
	  "libvirt <driver cache='none' io='native'/> (QEMU -blockdev cache.direct=on,aio=native)" },
	{ "vm-disk-format", "raw images for latency-critical disks", "vm", vm_disk_format,
	  "qemu-img convert -O raw for latency-critical disks; keep qcow2 where snapshots matter" },
	{ "vm-disk-chain", "disk images without a queue per layer", "vm", vm_disk_chain,
	  "flatten the chain: virsh blockpull (QMP block-stream) while the VM runs, or qemu-img convert while it is "
	  "stopped; keep backing files on the top image's local storage" },
	{ "vm-image-check", "qemu-img check of images of VMs that do not run", "vm", vm_image_check,
	  "back the image up, then qemu-img check -r leaks (leaks) or -r all (corruptions), or restore it" },
	{ "vm-nic-multiqueue", "multi-queue virtio-net, queues = vCPUs", "vm", vm_nic_multiqueue,
	  "libvirt <driver name='vhost' queues='N'/> (QEMU -netdev tap,queues=N + -device virtio-net-pci,mq=on), "
	  "then ethtool -L eth0 combined N in the guest" },
	{ "vm-numa-pinning", "NUMA pinning where it pays", "vm", vm_numa_pinning,
	  "virsh vcpupin / emulatorpin to one node's CPUs and virsh numatune --mode strict --nodeset N" },
	{ "vm-larger-than-node", "VMs larger than a NUMA node have vNUMA", "vm", vm_larger_than_node,
	  "give the guest NUMA cells that match host nodes (libvirt <cpu><numa><cell/>), pinned one to one" },
	{ "vm-hugepages", "huge pages for large memory-intensive guests", "vm", vm_hugepages,
	  "reserve vm.nr_hugepages and back the guest with <memoryBacking><hugepages/> (QEMU memory-backend-file "
	  "mem-path=/dev/hugepages)" },
	{ "vm-cpu-model", "CPU model: host-passthrough or host-model", "vm", vm_cpu_model,
	  "host-passthrough for fixed hosts, host-model for fleets that live-migrate between CPU generations" },
	{ "host-io-scheduler", "host IO scheduler: none for NVMe, mq-deadline for SATA", "host", host_io_scheduler,
	  "echo none > /sys/block/nvme0n1/queue/scheduler (mq-deadline for SATA); persist with a udev rule" },
	{ "host-cpufreq", "cpufreq governor performance (or EPP performance)", "host", host_cpufreq,
	  "cpupower frequency-set -g performance (intel_pstate: EPP performance)" },
	{ "host-cstates", "deepest C-state exit latency", "host", host_cstates,
	  "limit deep C-states on latency-sensitive hosts (cpupower idle-set -D 10, or the BIOS)" },
	{ "host-overcommit-cpu", "vCPU:CPU overcommit ratio", "host", overcommit_cpu,
	  "move VMs away or shrink them; 2:1 or 1:1 for latency-sensitive VMs" },
	{ "host-overcommit-memory", "guest memory overcommit ratio", "host", overcommit_mem,
	  "move VMs away or shrink them; no memory overcommit under databases" },
	{ "thp", "transparent huge page settings", "any", thp,
	  "echo madvise > /sys/kernel/mm/transparent_hugepage/defrag (enabled=always or madvise)" },
	{ "mitigations", "side-channel mitigations", "any", mitigations,
	  "update microcode and the kernel; do not boot with mitigations=off on a shared host" },
	{ "guest-devices", "guest sees paravirtual devices", "guest", guest_devices,
	  "switch the VM's disks and NICs to virtio on the host" },
	{ "guest-queues", "guest queue counts match its vCPUs", "guest", guest_queues,
	  "host: -netdev tap,queues=N / virtio-blk num-queues=N; guest: ethtool -L" },
	{ "guest-io-scheduler", "guest IO scheduler on virtio disks", "guest", guest_io_scheduler,
	  "echo none > /sys/block/vda/queue/scheduler (the host schedules the real device)" },
	{ "guest-clocksource", "guest clocksource kvm-clock or tsc", "guest", guest_clocksource,
	  "echo kvm-clock > /sys/devices/system/clocksource/clocksource0/current_clocksource" },
	{ "guest-cpuidle", "guest cpuidle driver", "guest", guest_cpuidle,
	  "modprobe cpuidle-haltpoll (and boot with cpuidle_haltpoll.force=1 if needed)" },
	{ "guest-halt-polling", "someone polls before an idle vCPU halts", "guest", guest_halt_polling,
	  "with cpuidle-haltpoll: echo 200000 > /sys/module/haltpoll/parameters/guest_halt_poll_ns (or the boot "
	  "option haltpoll.guest_halt_poll_ns=200000); or unload it so the host's halt_poll_ns applies" },
	{ "host-halt-polling", "KVM polls halted vCPUs briefly", "host", host_halt_polling,
	  "echo 200000 > /sys/module/kvm/parameters/halt_poll_ns (KVM's default; 0 turns polling off)" },
};
const size_t audit_nitems = ARRAY_SIZE(audit_items);

/* ------------------------------------------------------------------ */
/* inputs                                                              */
/* ------------------------------------------------------------------ */

static void read_host_facts(struct audit_ctx *c)
{
	char buf[4096];
	struct cpumask m;
	int fd = fsroot_opendir(c->root, "proc");
	c->have_proc = fd >= 0;
	if (fd >= 0)
		close(fd);
	fd = fsroot_opendir(c->root, "sys");
	c->have_sys = fd >= 0;
	if (fd >= 0)
		close(fd);
	if (rd(c, "sys/devices/system/cpu/online", buf, sizeof(buf)) && cpumask_parse(&m, buf, strlen(buf)) == 0)
		c->ncpus = cpumask_weight(&m);
	/* the live machine may hide sysfs (a container): ask the kernel.  Under
	 * another root the live machine's count would be someone else's. */
	if (!c->ncpus && !c->root->confined) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		c->ncpus = n > 0 ? (unsigned)n : 0;
	}
	char *data;
	size_t len;
	if (fsroot_read(c->root, "proc/meminfo", &data, &len, 1 << 20) == 0) {
		static const char *const k[] = { "MemTotal" };
		bool f;
		kv_extract(data, len, k, 1, &c->memtotal_kb, &f);
		free(data);
	}
	for (unsigned n = 0; n < 64; n++) {
		if (!rdf(c, buf, sizeof(buf), "sys/devices/system/node/node%u/cpulist", n))
			continue;
		cpumask_parse(&c->node_cpus[n], buf, strlen(buf));
		char rel[96];
		snprintf(rel, sizeof(rel), "sys/devices/system/node/node%u/meminfo", n);
		if (fsroot_read(c->root, rel, &data, &len, 1 << 20) == 0) {
			static const char *const k[] = { "MemTotal" };
			bool f;
			kv_extract(data, len, k, 1, &c->node_mem_kb[n], &f);
			free(data);
		}
		c->nnodes = n + 1;
	}
	/* the nodes' MemTotal can be lazily filled (deferred page init): size them the way topo and
	 * fit do, which checks them against /proc/meminfo and says which figure it used */
	struct topo t;
	if (c->nnodes && topo_read(c->root, &t) == 0) {
		for (size_t i = 0; i < t.nnodes; i++)
			if (t.nodes[i].id >= 0 && t.nodes[i].id < 64 && t.nodes[i].has_mem)
				c->node_mem_kb[t.nodes[i].id] = t.nodes[i].mem_total_kib;
		c->node_mem_lazy = t.node_mem_lazy;
		str_copy(c->node_mem_note, sizeof(c->node_mem_note), t.node_mem_note);
	}
	if (c->nnodes)
		topo_done(&t);
	/* a guest: the CPU says it runs under a hypervisor */
	data = NULL;
	int r = fsroot_read(c->root, "proc/cpuinfo", &data, &len, 8u << 20);
	bool cpuinfo = r == 0 || r == -EFBIG;
	if (cpuinfo) {
		c->guest = strstr(data, " hypervisor") != NULL;
		free(data);
	}
	/* without cpuinfo the machine's kind is not known: a host only if it has /dev/kvm (or VMs, later) */
	c->host = (cpuinfo && !c->guest) || fsroot_exists(c->root, "dev/kvm");
}

void audit_ctx_init(struct audit_ctx *c, const struct fsroot *root)
{
	memset(c, 0, sizeof(*c));
	c->root = root;
	read_host_facts(c);
}

void audit_ctx_done(struct audit_ctx *c)
{
	for (size_t i = 0; i < c->nvms; i++)
		for (unsigned k = 0; k < VMCONF_MAX_DISKS; k++)
			image_chain_done(&c->vms[i].chain[k]);
	free(c->checks);
	free(c->vms);
	free(c->notes);
	memset(c, 0, sizeof(*c));
}

static void add_note(struct audit_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_note(struct audit_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
	char *n = xasprintf("%s%s%s", c->notes ? c->notes : "", c->notes ? "\n" : "", m);
	free(m);
	free(c->notes);
	c->notes = n;
}

struct audit_vm *audit_add_vm(struct audit_ctx *c, const struct vmconf *conf, int pid, const char *origin)
{
	/* a running VM that libvirt also describes: keep one, the richer config */
	for (size_t i = 0; i < c->nvms && conf->name[0]; i++) {
		struct audit_vm *v = &c->vms[i];
		if (strcmp(v->conf.name, conf->name) != 0)
			continue;
		if (!strcmp(conf->source, "libvirt")) {
			struct vmconf keep = *conf;
			if (!keep.accel[0])
				str_copy(keep.accel, sizeof(keep.accel), v->conf.accel);
			v->conf = keep;
			snprintf(v->origin + strlen(v->origin), sizeof(v->origin) - strlen(v->origin), " + %s", origin);
		}
		if (pid)
			v->pid = pid;
		return v;
	}
	xgrow((void **)&c->vms, sizeof(*c->vms), &c->cap, c->nvms);
	struct audit_vm *v = &c->vms[c->nvms++];
	memset(v, 0, sizeof(*v));
	v->conf = *conf;
	v->pid = pid;
	str_copy(v->origin, sizeof(v->origin), origin);
	return v;
}

void audit_scan_running(struct audit_ctx *c)
{
	struct vmscan vs;
	if (vmscan_init(&vs, c->root) < 0)
		return;
	vmscan_discover(&vs);
	for (size_t i = 0; i < vs.n; i++) {
		struct vm_proc *p = &vs.vms[i];
		char rel[64];
		snprintf(rel, sizeof(rel), "proc/%d/cmdline", p->pid);
		char *data;
		size_t len;
		struct vmconf conf;
		memset(&conf, 0, sizeof(conf));
		if (fsroot_read(c->root, rel, &data, &len, 1 << 20) < 0)
			continue;
		if (p->vmm != VMM_QEMU || qemu_cmdline_parse(data, len, &conf) < 0) {
			str_copy(conf.name, sizeof(conf.name), p->name);
			snprintf(conf.source, sizeof(conf.source), "cmdline");
			add_note(c, "%s (%s, PID %d): only QEMU command lines are parsed; its configuration is not audited",
				 p->name, vmm_name(p->vmm), p->pid);
			free(data);
			continue;
		}
		free(data);
		if (!conf.name[0])
			str_copy(conf.name, sizeof(conf.name), p->name);
		char origin[64];
		snprintf(origin, sizeof(origin), "PID %d command line", p->pid);
		struct audit_vm *v = audit_add_vm(c, &conf, p->pid, origin);
		for (size_t j = 0; j < p->nthreads; j++) {
			if (p->threads[j].kind != TK_VCPU)
				continue;
			snprintf(rel, sizeof(rel), "proc/%d/task/%d/status", p->pid, p->threads[j].tid);
			char list[4096];
			if (fsroot_read(c->root, rel, &data, &len, 1 << 16) < 0)
				continue;
			struct cpumask m;
			if (status_field(data, len, "Cpus_allowed_list", list, sizeof(list)) == 0 &&
			    cpumask_parse(&m, list, strlen(list)) == 0) {
				cpumask_or(&v->vcpu_cpus, &m);
				v->have_cpus = true;
			}
			free(data);
		}
		snprintf(rel, sizeof(rel), "proc/%d/smaps_rollup", p->pid);
		if (fsroot_read(c->root, rel, &data, &len, 1 << 16) == 0) {
			static const char *const k[] = { "AnonHugePages", "Private_Hugetlb", "Rss" };
			uint64_t val[3];
			bool f[3];
			kv_extract(data, len, k, 3, val, f);
			v->anon_huge_kb = val[0];
			v->hugetlb_kb = val[1];
			v->rss_kb = val[2];
			free(data);
		}
		/* the host's view of each tap NIC's queues: tun fds per interface */
		for (unsigned k = 0; k < v->conf.nnics; k++)
			for (unsigned t = 0; t < p->ntaps; t++)
				if (!strcmp(v->conf.nics[k].ifname, p->taps[t].ifname))
					v->tap_queues[k] = p->taps[t].queues;
	}
	if (!vs.euid_root)
		add_note(c, "not root: VM processes of other users are not visible");
	vmscan_done(&vs);
}

int audit_add_xml_file(struct audit_ctx *c, const char *path, char **why)
{
	*why = NULL;
	FILE *f = fopen(path, "re");
	if (!f) {
		*why = xasprintf("cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	size_t cap = 1 << 16, len = 0;
	char *buf = xmalloc(cap);
	size_t n;
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			if (cap >= (64u << 20))
				break;
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
	}
	fclose(f);
	struct vmconf conf;
	struct libvirt_status st;
	const char *w;
	int r = libvirt_xml_parse(buf, len, &conf, &st, &w);
	free(buf);
	if (r < 0) {
		*why = xasprintf("%s: %s", path, w);
		return r;
	}
	audit_add_vm(c, &conf, st.pid, path);
	return 0;
}

void audit_scan_libvirt(struct audit_ctx *c, bool use_virsh)
{
	static const char *const dirs[] = { "etc/libvirt/qemu", "run/libvirt/qemu" };
	for (size_t d = 0; d < ARRAY_SIZE(dirs); d++) {
		size_t n;
		char **v = list_dir(c, dirs[d], &n);
		for (size_t i = 0; i < n; i++) {
			size_t l = strlen(v[i]);
			if (l < 5 || strcmp(v[i] + l - 4, ".xml") != 0)
				continue;
			if (!libvirt_xml_available()) {
				add_note(c, "/%s has domain XML, but this binary was built without libxml2 (the static "
					    "build): use the dynamic build to audit it",
					 dirs[d]);
				break;
			}
			char *rel = xasprintf("%s/%s", dirs[d], v[i]);
			char *data;
			size_t len;
			if (fsroot_read(c->root, rel, &data, &len, 64u << 20) == 0) {
				struct vmconf conf;
				struct libvirt_status st;
				const char *w;
				if (libvirt_xml_parse(data, len, &conf, &st, &w) == 0)
					audit_add_vm(c, &conf, st.pid, rel);
				else
					add_note(c, "/%s: %s", rel, w);
				free(data);
			} else {
				add_note(c, "/%s: not readable (root needed)", rel);
			}
			free(rel);
		}
		free_names(v, n);
	}
	/* the read-only API through virsh, when libvirtd listens */
	if (use_virsh && libvirt_xml_available() && fsroot_exists(c->root, "run/libvirt/libvirt-sock-ro")) {
		char *list_argv[] = { "virsh", "-r", "-q", "-c", "qemu:///system", "list", "--all", "--name", NULL };
		struct proc_run r = { .argv = list_argv, .timeout_ms = VIRSH_TIMEOUT_S * 1000, .out_max = 1u << 20 };
		proc_run(&r);
		if (r.timed_out)
			add_note(c, "virsh list did not answer within %d s: libvirt's domains were not asked for",
				 VIRSH_TIMEOUT_S);
		for (char *name = r.out, *next; !r.timed_out && *name; name = next) {
			char *nl = name + strcspn(name, "\n");
			next = *nl ? nl + 1 : nl;
			*nl = '\0';
			bool safe = name[0] != '\0' && nl - name < 256;
			for (char *q = name; *q; q++)
				safe &= (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
					*q == '-' || *q == '_' || *q == '.';
			if (!safe)
				continue;
			char *dump_argv[] = { "virsh", "-r", "-c", "qemu:///system", "dumpxml", name, NULL };
			struct proc_run x = { .argv = dump_argv, .timeout_ms = VIRSH_TIMEOUT_S * 1000, .out_max = 16u << 20 };
			proc_run(&x);
			struct vmconf conf;
			const char *w;
			if (x.timed_out) {
				add_note(c, "virsh dumpxml %s did not answer within %d s", name, VIRSH_TIMEOUT_S);
			} else if (libvirt_xml_parse(x.out, x.out_len, &conf, NULL, &w) == 0) {
				char origin[300];
				snprintf(origin, sizeof(origin), "virsh dumpxml %s", name);
				audit_add_vm(c, &conf, 0, origin);
			}
			proc_run_done(&x);
		}
		proc_run_done(&r);
	}
}

void audit_read_images(struct audit_ctx *c)
{
	for (size_t i = 0; i < c->nvms; i++) {
		struct audit_vm *vm = &c->vms[i];
		for (unsigned k = 0; k < vm->conf.ndisks && k < VMCONF_MAX_DISKS; k++) {
			const struct vm_disk *d = &vm->conf.disks[k];
			image_chain_done(&vm->chain[k]);
			vm->chain_why[k][0] = '\0';
			if (d->cdrom || !d->file[0])
				continue;
			image_chain(c->root, vm->pid, d->file, d->format, &vm->chain[k], vm->chain_why[k],
				    sizeof(vm->chain_why[k]));
		}
	}
	c->images_read = true;
}

void audit_check_images(struct audit_ctx *c, int timeout_ms)
{
	c->check_images = true;
	if (!c->images_read)
		audit_read_images(c);
	if (!image_check_available(c->qemu_img, sizeof(c->qemu_img)))
		return;
	if (c->root->confined) {
		add_note(c, "--check-images: images under --root %s are not checked (qemu-img reads the live machine)",
			 c->root->path);
		return;
	}
	for (size_t i = 0; i < c->nvms; i++) {
		const struct audit_vm *vm = &c->vms[i];
		if (vm->pid > 0)
			continue;
		for (unsigned k = 0; k < vm->conf.ndisks && k < VMCONF_MAX_DISKS; k++) {
			const struct img_chain *ch = &vm->chain[k];
			for (unsigned l = 0; l < ch->n; l++) {
				const struct img_layer *ly = &ch->layer[l];
				/* raw has no metadata to check; an unreadable layer or an odd path is not handed over */
				if (!ly->format[0] || !strcmp(ly->format, "raw") || ly->file[0] != '/' ||
				    (ly->err[0] && strncmp(ly->err, "its backing file", 16) != 0))
					continue;
				xgrow((void **)&c->checks, sizeof(*c->checks), &c->capchecks, c->nchecks);
				struct audit_img_check *ck = &c->checks[c->nchecks++];
				memset(ck, 0, sizeof(*ck));
				ck->vm = i;
				ck->disk = k;
				ck->layer = l;
				struct img_check r;
				image_check(c->qemu_img, ly->file, ly->format, timeout_ms, &r);
				ck->rc = r.rc;
				ck->corruptions = r.corruptions;
				ck->leaks = r.leaks;
				ck->check_errors = r.check_errors;
				str_copy(ck->why, sizeof(ck->why), r.why);
			}
		}
	}
}

/* ------------------------------------------------------------------ */
/* run                                                                 */
/* ------------------------------------------------------------------ */

void audit_run(const struct audit_ctx *c, struct audit_out *o)
{
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < audit_nitems; i++) {
		const struct audit_item *it = &audit_items[i];
		if (!strcmp(it->scope, "host") && !c->host)
			continue;
		if (!strcmp(it->scope, "guest") && !c->guest)
			continue;
		it->eval(c, it, o);
	}
}
