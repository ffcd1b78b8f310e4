/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * VM discovery and the host-mode sampler (see vmscan.h for the contract).
 */
#include "vmscan.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "../core/util.h"
#include "../parse/migparse.h"
#include "../parse/qmphist.h"
#include "../parse/vmconf.h"
#include "../sources/bpf/taskstat.h"
#include "../sys/proc_run.h"
#include "../sys/qmp.h"

#define MAX_THREADS_PER_VM 4096
#define MAX_VMS 65536

/* A vCPU thread the eBPF program reads, for the lookup of its records. */
struct vmscan_tid {
	uint32_t tid, tgid;
	struct vm_thread *t;	/* into vs->vms[].threads: rebuilt after each discovery */
};

static void qmp_query_vm(struct vm_proc *vm, bool set_hist);
static void libvirt_job_query(struct vmscan *vs, struct vm_proc *vm);

/* "PREFIX<digits>SUFFIX" → the number, else -1 */
static int num_between(const char *s, const char *prefix, const char *suffix)
{
	size_t pl = strlen(prefix);
	if (strncmp(s, prefix, pl) != 0)
		return -1;
	const char *p = s + pl;
	if (!isdigit((unsigned char)*p))
		return -1;
	long v = 0;
	while (isdigit((unsigned char)*p) && v < 1000000)
		v = v * 10 + (*p++ - '0');
	if (suffix) {
		if (strncmp(p, suffix, strlen(suffix)) != 0)
			return -1;
	} else if (*p) {
		return -1;
	}
	return (int)v;
}

enum tkind vmscan_classify(const char *comm, int vmm_in, enum vmm *vmm_out, int *vcpu)
{
	*vcpu = -1;
	int n;
	/* QEMU with debug-threads: "CPU 0/KVM", "CPU 3/TCG" (any accelerator) */
	if ((n = num_between(comm, "CPU ", "/")) >= 0) {
		*vmm_out = VMM_QEMU;
		*vcpu = n;
		return TK_VCPU;
	}
	if ((n = num_between(comm, "fc_vcpu ", NULL)) >= 0 || (n = num_between(comm, "fc_vcpu", NULL)) >= 0) {
		*vmm_out = VMM_FIRECRACKER;
		*vcpu = n;
		return TK_VCPU;
	}
	if ((n = num_between(comm, "crosvm_vcpu", NULL)) >= 0) {
		*vmm_out = VMM_CROSVM;
		*vcpu = n;
		return TK_VCPU;
	}
	if ((n = num_between(comm, "kvm-vcpu-", NULL)) >= 0) {
		*vmm_out = VMM_KVMTOOL;
		*vcpu = n;
		return TK_VCPU;
	}
	/* "vcpu0" alone: Cloud Hypervisor's, or any VMM's when we already know it is one */
	if ((n = num_between(comm, "vcpu", NULL)) >= 0) {
		*vmm_out = vmm_in >= 0 ? (enum vmm)vmm_in : VMM_CLOUD_HYPERVISOR;
		*vcpu = n;
		return TK_VCPU;
	}
	if (num_between(comm, "vhost-", NULL) >= 0)
		return TK_VHOST;
	/* QEMU iothreads "IO iothread0" (and the monitor's "IO mon_iothread");
	 * Cloud Hypervisor's virtio queue threads "_disk0_q0", "_net1_qp0" */
	if (!strncmp(comm, "IO ", 3) || !strncmp(comm, "_disk", 5) || !strncmp(comm, "_net", 4) ||
	    !strncmp(comm, "kvm-ioeventfd", 13) || !strncmp(comm, "virtio-", 7))
		return TK_IO;
	if (!strcmp(comm, "worker") || !strncmp(comm, "vnc_worker", 10) || !strcmp(comm, "live_migration") ||
	    !strncmp(comm, "SPICE", 5))
		return TK_WORKER;
	return TK_OTHER;
}

int vmscan_vmm_of_process(const char *comm)
{
	if (!strncmp(comm, "qemu", 4) || !strcmp(comm, "kvm"))
		return VMM_QEMU;
	if (!strcmp(comm, "firecracker"))
		return VMM_FIRECRACKER;
	if (!strncmp(comm, "cloud-hyperviso", 15))
		return VMM_CLOUD_HYPERVISOR;
	if (!strcmp(comm, "crosvm"))
		return VMM_CROSVM;
	if (!strcmp(comm, "lkvm"))
		return VMM_KVMTOOL;
	return -1;
}

unsigned long vmscan_raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return (unsigned long)rl.rlim_cur;
}

int vmscan_init(struct vmscan *vs, const struct fsroot *root)
{
	memset(vs, 0, sizeof(*vs));
	vs->root = root;
	int fd = fsroot_opendir(root, "proc");
	if (fd < 0)
		return fd;
	vs->procfd = fd;
	vs->euid_root = geteuid() == 0;
	const char *env = getenv("HIDDENQ_VMS_SCHEDSTAT");
	vs->ss_always_iter = env && !strcmp(env, "bpf_iter");
	if (env && !strcmp(env, "procfs"))
		vmscan_schedstat_procfs(vs, "HIDDENQ_VMS_SCHEDSTAT=procfs");
	else if (root->confined || !root->path || strcmp(root->path, "/") != 0)
		vmscan_schedstat_procfs(vs, "not the live root: the eBPF read sees this machine's kernel");
	else
		str_copy(vs->ss_why, sizeof(vs->ss_why), "no vCPU threads found yet");
	return 0;
}

/* Back to the preads for good, saying why. */
static void ss_drop(struct vmscan *vs, const char *why)
{
	taskstat_close(vs->ts);
	vs->ts = NULL;
	for (size_t i = 0; i < vs->ss_nidx; i++)
		vs->ss_idx[i].t->in_iter = false;
	vs->ss_nidx = 0;
	str_copy(vs->ss_why, sizeof(vs->ss_why), why);
}

void vmscan_schedstat_procfs(struct vmscan *vs, const char *why)
{
	vs->ss_procfs = true;
	ss_drop(vs, why);
}

const char *vmscan_schedstat_source(const struct vmscan *vs)
{
	return vs->ts && vs->ss_use ? "bpf_iter" : "procfs";
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * The iterator that visits every task (the one that loads where neither
 * tid-list program does) costs about 0.5 us per task on the machine, a
 * pread 1.8 us per vCPU: with few vCPUs among many threads (a real QEMU has
 * IO and worker threads too) the preads win.  After each discovery, time
 * one pass of each (thread CPU time) and keep the cheaper until the next.
 */
static void ss_choose(struct vmscan *vs)
{
	vs->ss_use = true;
	if (!taskstat_visits_all(vs->ts) || vs->ss_always_iter || vs->ss_nidx == 0)
		return;
	const char *b;
	size_t len;
	uint64_t c0 = thread_cpu_ns();
	int err = taskstat_read(vs->ts, &b, &len);
	uint64_t it_ns = thread_cpu_ns() - c0;
	if (err) {
		char why[160];
		snprintf(why, sizeof(why), "failed to read through the eBPF program (%s): %s", taskstat_kind(vs->ts),
			 strerror(-err));
		ss_drop(vs, why);
		return;
	}
	char buf[128];
	c0 = thread_cpu_ns();
	for (size_t i = 0; i < vs->ss_nidx; i++)
		if (vs->ss_idx[i].t->fd >= 0 && pread(vs->ss_idx[i].t->fd, buf, sizeof(buf) - 1, 0) < 0)
			continue;
	uint64_t pr_ns = thread_cpu_ns() - c0;
	if (it_ns <= pr_ns)
		return;
	vs->ss_use = false;
	/* why the walk of every task was the one loaded: what the tid-list programs' loads said */
	const char *fb = taskstat_fallback_why(vs->ts);
	snprintf(vs->ss_why, sizeof(vs->ss_why),
		 "the task iterator over every task costs more here, %.2f ms a pass against %.2f ms for %zu preads "
		 "(it was loaded because %s)",
		 (double)it_ns / 1e6, (double)pr_ns / 1e6, vs->ss_nidx, fb ? fb : "nothing else was tried");
}

static int cmp_tid(const void *a, const void *b)
{
	uint32_t x = ((const struct vmscan_tid *)a)->tid, y = ((const struct vmscan_tid *)b)->tid;
	return x < y ? -1 : x > y;
}

/*
 * After a discovery: the vCPU threads into what the eBPF program reads (and
 * the lookup index), loading the iterator the first time there are any.
 */
static void ss_sync(struct vmscan *vs)
{
	vs->ss_nidx = 0;
	for (size_t i = 0; i < vs->n; i++) {
		struct vm_proc *vm = &vs->vms[i];
		for (size_t j = 0; j < vm->nthreads; j++) {
			struct vm_thread *t = &vm->threads[j];
			t->in_iter = false;
			if (t->kind != TK_VCPU || t->kthread)
				continue;
			xgrow((void **)&vs->ss_idx, sizeof(*vs->ss_idx), &vs->ss_cap, vs->ss_nidx);
			vs->ss_idx[vs->ss_nidx++] = (struct vmscan_tid){ (uint32_t)t->tid, (uint32_t)vm->pid, t };
		}
	}
	size_t n = vs->ss_nidx;
	if (n > 1) {
		qsort(vs->ss_idx, n, sizeof(*vs->ss_idx), cmp_tid);
		size_t k = 1; /* a tid twice would be a stale entry: keep the first */
		for (size_t i = 1; i < n; i++)
			if (vs->ss_idx[i].tid != vs->ss_idx[k - 1].tid)
				vs->ss_idx[k++] = vs->ss_idx[i];
		n = k;
	}
	vs->ss_nidx = 0;
	if (!vs->ts) {
		if (vs->ss_procfs || vs->ss_tried || n == 0)
			return;
		vs->ss_tried = true;
		char *why = NULL;
		vs->ts = taskstat_open(&why);
		if (!vs->ts) {
			str_copy(vs->ss_why, sizeof(vs->ss_why), why ? why : "no eBPF program loaded");
			free(why);
			return;
		}
	}
	/* tids above the filter's pid_max (raised since it loaded) stay with the preads */
	uint32_t limit = taskstat_tid_limit(vs->ts);
	size_t over = 0;
	while (n > 0 && vs->ss_idx[n - 1].tid >= limit) {
		n--;
		over++;
	}
	uint32_t *tid = xmalloc((n ? n : 1) * sizeof(*tid));
	for (size_t i = 0; i < n; i++)
		tid[i] = vs->ss_idx[i].tid;
	int err = taskstat_set(vs->ts, tid, n);
	free(tid);
	if (err) {
		char why[160];
		snprintf(why, sizeof(why), "failed to set the eBPF program's tids (%s): %s", taskstat_kind(vs->ts),
			 strerror(-err));
		ss_drop(vs, why);
		return;
	}
	for (size_t i = 0; i < n; i++)
		vs->ss_idx[i].t->in_iter = true;
	vs->ss_nidx = n;
	if (over)
		snprintf(vs->ss_why, sizeof(vs->ss_why),
			 "%zu vCPU threads with ids above the task iterator's pid_max are read one /proc file at a time",
			 over);
	else
		vs->ss_why[0] = '\0';
	ss_choose(vs);
}

static void vm_free(struct vm_proc *vm)
{
	for (size_t i = 0; i < vm->nthreads; i++) {
		if (vm->threads[i].fd >= 0)
			close(vm->threads[i].fd);
		free(vm->threads[i].ss_path);
	}
	free(vm->threads);
	json_decref(vm->qmp_blockstats);
	json_decref(vm->qmp_migrate);
	json_decref(vm->qmp_mig_params);
	json_decref(vm->qmp_mig_caps);
	free(vm->qmp_error);
	free(vm->lv_job);
	free(vm->lv_job_error);
	for (unsigned k = 0; k < vm->ndisks; k++)
		image_chain_done(&vm->disks[k].chain);
	free(vm->disks);
}

void vmscan_done(struct vmscan *vs)
{
	for (size_t i = 0; i < vs->n; i++)
		vm_free(&vs->vms[i]);
	free(vs->vms);
	taskstat_close(vs->ts);
	free(vs->ss_idx);
	if (vs->procfd >= 0)
		close(vs->procfd);
	memset(vs, 0, sizeof(*vs));
	vs->procfd = -1;
}

int vmscan_add_qmp(struct vmscan *vs, const char *spec)
{
	const char *eq = strchr(spec, '=');
	if (!eq || eq == spec || !eq[1] || vs->nqmp >= VMSCAN_MAX_QMP || (size_t)(eq - spec) >= sizeof(vs->qmp[0].name) ||
	    strlen(eq + 1) >= sizeof(vs->qmp[0].sock))
		return -EINVAL;
	struct vmscan_qmp *q = &vs->qmp[vs->nqmp++];
	memcpy(q->name, spec, (size_t)(eq - spec));
	q->name[eq - spec] = '\0';
	str_copy(q->sock, sizeof(q->sock), eq + 1);
	return 0;
}

static void chomp(char *s)
{
	size_t l = strlen(s);
	while (l && (s[l - 1] == '\n' || s[l - 1] == ' '))
		s[--l] = '\0';
}

static struct vm_proc *vm_find(struct vmscan *vs, int pid)
{
	for (size_t i = 0; i < vs->n; i++)
		if (vs->vms[i].pid == pid)
			return &vs->vms[i];
	return NULL;
}

static struct vm_thread *thread_find(struct vm_proc *vm, int tid)
{
	for (size_t i = 0; i < vm->nthreads; i++)
		if (vm->threads[i].tid == tid)
			return &vm->threads[i];
	return NULL;
}

static void thread_open(struct vmscan *vs, struct vm_proc *vm, struct vm_thread *t)
{
	if (t->fd >= 0 || t->kind != TK_VCPU)
		return;
	if (!vs->nofile_raised) {
		vmscan_raise_nofile();
		vs->nofile_raised = true;
	}
	if (!t->ss_path)
		t->ss_path = xasprintf("proc/%d/task/%d/schedstat", vm->pid, t->tid);
	t->fd = openat(vs->procfd, t->ss_path + 5, O_RDONLY | O_CLOEXEC);
	if (t->fd >= 0)
		vs->fds_open++;
	else
		vs->fds_failed++;
}

static const char *base_name(const char *p)
{
	const char *b = strrchr(p, '/');
	return b ? b + 1 : p;
}

int vmscan_backing(const struct fsroot *root, int pid, const char *file, struct vm_backing *b)
{
	struct stat st;
	char rel[512], link[512];
	int r;
	b->dev[0] = b->disk[0] = b->devt[0] = b->via[0] = b->err[0] = '\0';
	if (!file[0] || strchr(file, ':') || strncmp(file, "/dev/fdset/", 11) == 0) {
		snprintf(b->err, sizeof(b->err), "not a local file (%.100s)", file);
		return -EINVAL;
	}
	if (file[0] == '/')
		snprintf(rel, sizeof(rel), "%s", file + 1);
	else
		snprintf(rel, sizeof(rel), "proc/%d/cwd/%s", pid, file);
	for (int depth = 0;; depth++) {
		if (fstatat(root->dirfd, rel, &st, 0) < 0) {
			r = -errno;
			snprintf(b->err, sizeof(b->err), "cannot stat %.100s: %s", depth ? rel : file, strerror(errno));
			return r;
		}
		dev_t d = S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev;
		char devt[16], name[32], parent[32];
		snprintf(devt, sizeof(devt), "%u:%u", major(d), minor(d));
		snprintf(rel, sizeof(rel), "sys/dev/block/%s", devt);
		ssize_t l = readlinkat(root->dirfd, rel, link, sizeof(link) - 1);
		if (l <= 0) {
			snprintf(b->err, sizeof(b->err),
				 "no block device under it (device %s: tmpfs, overlay, a btrfs subvolume or a network "
				 "filesystem)",
				 devt);
			return -ENODEV;
		}
		link[l] = '\0';
		str_copy(name, sizeof(name), base_name(link));
		str_copy(parent, sizeof(parent), name);
		snprintf(rel, sizeof(rel), "sys/dev/block/%s/partition", devt);
		if (faccessat(root->dirfd, rel, F_OK, 0) == 0) {
			char *slash = strrchr(link, '/');
			if (slash) {
				*slash = '\0';
				str_copy(parent, sizeof(parent), base_name(link));
			}
		}
		if (depth == 0) {
			str_copy(b->dev, sizeof(b->dev), name);
			str_copy(b->devt, sizeof(b->devt), devt);
		}
		if (strncmp(parent, "loop", 4) != 0 || depth >= 4) {
			str_copy(b->disk, sizeof(b->disk), parent);
			return 0;
		}
		/* a loop device: on to its backing file's device */
		char back[256];
		snprintf(rel, sizeof(rel), "sys/block/%s/loop/backing_file", parent);
		if (read_small_at(root->dirfd, rel, back, sizeof(back)) <= 0 || back[0] != '/') {
			str_copy(b->disk, sizeof(b->disk), parent);
			return 0;
		}
		chomp(back);
		size_t vl = strlen(b->via);
		snprintf(b->via + vl, sizeof(b->via) - vl, "%s%s (%.80s)", vl ? ", " : "", parent, back);
		snprintf(rel, sizeof(rel), "%s", back + 1);
	}
}

int vmscan_kvm_dir(const struct fsroot *root, int pid, char *dir, size_t n, char *why, size_t wn)
{
	dir[0] = why[0] = '\0';
	int dfd = fsroot_opendir(root, "sys/kernel/debug/kvm");
	if (dfd < 0) {
		int top = fsroot_opendir(root, "sys/kernel/debug");
		bool empty = true;
		if (top >= 0) {
			DIR *d = fdopendir(top);
			struct dirent *de;
			while (d && (de = readdir(d)))
				if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
					empty = false;
			if (d)
				closedir(d);
			else
				close(top);
		}
		if (dfd == -EPERM || top == -EPERM)
			snprintf(why, wn, "not readable (kernel lockdown)");
		else if (dfd == -EACCES || top == -EACCES)
			snprintf(why, wn, "not readable (not root)");
		else if (top < 0 || empty)
			snprintf(why, wn, "not readable (debugfs not mounted at /sys/kernel/debug; we do not mount it)");
		else
			snprintf(why, wn, "no kvm directory in debugfs (kvm module not loaded)");
		return dfd;
	}
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		snprintf(why, wn, "not readable (%s)", strerror(errno));
		return -EIO;
	}
	char pfx[24];
	int pl = snprintf(pfx, sizeof(pfx), "%d-", pid);
	struct dirent *de;
	int r = -ENOENT;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, pfx, (size_t)pl) != 0 || !str_is_digits(de->d_name + pl))
			continue;
		str_copy(dir, n, de->d_name);
		r = 0;
		break;
	}
	closedir(d);
	return r;
}

/* The disks of a VMM's command line (or configuration) and the block devices under their images. */
static void vm_disks(struct vmscan *vs, struct vm_proc *vm, const struct vmconf *c)
{
	for (unsigned i = 0; i < c->ndisks && vm->ndisks < VMSCAN_MAX_DISKS; i++) {
		const struct vm_disk *d = &c->disks[i];
		if (d->cdrom || !d->file[0])
			continue;
		if (!vm->disks)
			vm->disks = xcalloc(VMSCAN_MAX_DISKS, sizeof(*vm->disks));
		struct vm_backing *b = &vm->disks[vm->ndisks++];
		str_copy(b->id, sizeof(b->id), d->id);
		str_copy(b->file, sizeof(b->file), d->file);
		str_copy(b->format, sizeof(b->format), d->format);
		str_copy(b->cache, sizeof(b->cache), d->cache);
		str_copy(b->aio, sizeof(b->aio), d->aio);
		vmscan_backing(vs->root, vm->pid, d->file, b);
		image_chain(vs->root, vm->pid, d->file, d->format, &b->chain, b->chain_why, sizeof(b->chain_why));
	}
}

/*
 * A Firecracker --config-file, read where the VMM sees it: an absolute path
 * from the root (a jailed Firecracker's chroot is not followed: say so), a
 * relative one through /proc/PID/cwd.  Regular files up to 1 MiB.
 */
static void firecracker_config(struct vmscan *vs, struct vm_proc *vm, const char *path, struct vmconf *c)
{
	char rel[512];
	if (path[0] == '/')
		snprintf(rel, sizeof(rel), "%s", path + 1);
	else
		snprintf(rel, sizeof(rel), "proc/%d/cwd/%s", vm->pid, path);
	int fd = openat(vs->root->dirfd, rel, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	char *buf = NULL;
	size_t cap = 0, len = 0;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    fsroot_pread_all(fd, rel, &buf, &cap, &len, 1u << 20) == 0)
		vmm_firecracker_config(buf, len, c);
	if (fd >= 0)
		close(fd);
	free(buf);
}

/* VM name from the command line: QEMU -name guest=, Firecracker --id; every VMM's disks */
static void name_from_cmdline(struct vmscan *vs, struct vm_proc *vm)
{
	char rel[48];
	snprintf(rel, sizeof(rel), "%d/cmdline", vm->pid);
	int fd = openat(vs->procfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char *buf = NULL;
	size_t cap = 0, len = 0;
	fsroot_pread_all(fd, rel, &buf, &cap, &len, 1 << 16);	/* a longer command line: its first 64 KiB (-EFBIG) */
	close(fd);
	if (!buf)
		return;
	if (vm->vmm == VMM_QEMU) {
		struct vmconf *c = xcalloc(1, sizeof(*c));
		if (qemu_cmdline_parse(buf, len, c) == 0) {
			if (c->name[0]) {
				str_copy(vm->name, sizeof(vm->name), c->name);
				snprintf(vm->name_src, sizeof(vm->name_src), "cmdline");
			}
			str_copy(vm->uuid, sizeof(vm->uuid), c->uuid);
			str_copy(vm->machine_id, sizeof(vm->machine_id), c->machine_id);
			vm_disks(vs, vm, c);
		}
		free(c);
	} else {
		/* firecracker --id NAME (and --config-file); the others' disks and taps */
		struct vmconf *c = xcalloc(1, sizeof(*c));
		char config[256];
		if (vmm_cmdline_parse(vmm_name(vm->vmm), buf, len, c, config, sizeof(config)) == 0) {
			if (config[0])
				firecracker_config(vs, vm, config, c);
			if (c->name[0]) {
				str_copy(vm->name, sizeof(vm->name), c->name);
				snprintf(vm->name_src, sizeof(vm->name_src), "cmdline");
			}
			str_copy(vm->uuid, sizeof(vm->uuid), c->uuid);
			str_copy(vm->machine_id, sizeof(vm->machine_id), c->machine_id);
			vm_disks(vs, vm, c);
		}
		free(c);
	}
	free(buf);
}

/* libvirt's status XML: /run/libvirt/qemu/NAME.xml, <domstatus pid=...> with vCPU TIDs */
static void libvirt_status_names(struct vmscan *vs)
{
	if (!libvirt_xml_available())
		return;
	int dfd = fsroot_opendir(vs->root, "run/libvirt/qemu");
	if (dfd < 0)
		return;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	struct dirent *de;
	unsigned files = 0;
	while ((de = readdir(d)) && files < 4096) {
		size_t l = strlen(de->d_name);
		if (l < 5 || strcmp(de->d_name + l - 4, ".xml") != 0)
			continue;
		files++;
		char *rel = xasprintf("run/libvirt/qemu/%s", de->d_name);
		char *data;
		size_t len;
		int r = fsroot_read(vs->root, rel, &data, &len, 4u << 20);
		free(rel);
		if (r < 0)
			continue;
		struct vmconf *c = xcalloc(1, sizeof(*c));
		struct libvirt_status *st = xcalloc(1, sizeof(*st));
		const char *why;
		if (libvirt_xml_parse(data, len, c, st, &why) == 0 && st->pid > 0) {
			struct vm_proc *vm = vm_find(vs, st->pid);
			if (vm && c->uuid[0])
				str_copy(vm->uuid, sizeof(vm->uuid), c->uuid);
			if (vm && c->machine_id[0])
				str_copy(vm->machine_id, sizeof(vm->machine_id), c->machine_id);
			if (vm && c->name[0]) {
				str_copy(vm->name, sizeof(vm->name), c->name);
				snprintf(vm->name_src, sizeof(vm->name_src), "libvirt");
				for (unsigned i = 0; i < st->nvcpu_tids; i++) {
					struct vm_thread *t = st->vcpu_tids[i] ? thread_find(vm, st->vcpu_tids[i]) : NULL;
					if (t && t->kind != TK_VCPU) {
						t->kind = TK_VCPU;
						t->vcpu = (int)i;
						thread_open(vs, vm, t);
					}
				}
			}
		}
		free(st);
		free(c);
		free(data);
	}
	closedir(d);
}

/* KVM debugfs: kvm/<pid>-<fd>/vcpuN/pid names the vCPU threads of unnamed VMs */
static void debugfs_vcpus(struct vmscan *vs, struct vm_proc *vm)
{
	int dfd = fsroot_opendir(vs->root, "sys/kernel/debug/kvm");
	if (dfd < 0)
		return;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	struct dirent *de;
	char pfx[24], buf[32];
	int pl = snprintf(pfx, sizeof(pfx), "%d-", vm->pid);
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, pfx, (size_t)pl) != 0)
			continue;
		for (int i = 0; i < 1024; i++) {
			char rel[320];
			snprintf(rel, sizeof(rel), "%s/vcpu%d/pid", de->d_name, i);
			if (read_small_at(dfd, rel, buf, sizeof(buf)) <= 0)
				break;
			struct vm_thread *t = thread_find(vm, atoi(buf));
			if (t) {
				t->kind = TK_VCPU;
				t->vcpu = i;
				thread_open(vs, vm, t);
			}
		}
	}
	closedir(d);
}

/* tun fds of the VMM: which tap devices, how many queues (one fd per queue) */
static void scan_fds(struct vmscan *vs, struct vm_proc *vm)
{
	vm->ntaps = 0;
	vm->vhost_fds = 0;
	char rel[64];
	snprintf(rel, sizeof(rel), "%d/fd", vm->pid);
	int dfd = openat(vs->procfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	struct dirent *de;
	unsigned nfd = 0;
	char link[128], info[1024];
	while ((de = readdir(d)) && nfd < 8192) {
		if (!str_is_digits(de->d_name))
			continue;
		nfd++;
		ssize_t l = readlinkat(dfd, de->d_name, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = '\0';
		if (!strcmp(link, "/dev/vhost-net")) {
			vm->vhost_fds++;
			continue;
		}
		if (strcmp(link, "/dev/net/tun") != 0)
			continue;
		snprintf(rel, sizeof(rel), "%d/fdinfo/%.20s", vm->pid, de->d_name);
		long n = read_small_at(vs->procfd, rel, info, sizeof(info));
		char ifn[32];
		if (n <= 0 || tun_fdinfo_iff(info, (size_t)n, ifn, sizeof(ifn)) < 0)
			continue;
		unsigned k;
		for (k = 0; k < vm->ntaps; k++)
			if (!strcmp(vm->taps[k].ifname, ifn))
				break;
		if (k == vm->ntaps) {
			if (vm->ntaps >= ARRAY_SIZE(vm->taps))
				continue;
			snprintf(vm->taps[vm->ntaps].ifname, sizeof(vm->taps[0].ifname), "%s", ifn);
			vm->taps[vm->ntaps++].queues = 0;
		}
		vm->taps[k].queues++;
	}
	closedir(d);
}

/* Reconcile one VM process's thread list with /proc/PID/task. */
static void vm_threads(struct vmscan *vs, struct vm_proc *vm, const int *tids, size_t ntids)
{
	/* drop threads that went away */
	size_t k = 0;
	for (size_t i = 0; i < vm->nthreads; i++) {
		struct vm_thread *t = &vm->threads[i];
		bool alive = false; /* vhost kthreads are re-added after the walk */
		for (size_t j = 0; j < ntids && !alive; j++)
			alive = tids[j] == t->tid;
		if (!alive) {
			if (t->fd >= 0) {
				close(t->fd);
				vs->fds_open--;
			}
			free(t->ss_path);
			continue;
		}
		vm->threads[k++] = *t;
	}
	vm->nthreads = k;
	char rel[64], comm[64];
	for (size_t j = 0; j < ntids; j++) {
		struct vm_thread *t = thread_find(vm, tids[j]);
		snprintf(rel, sizeof(rel), "%d/task/%d/comm", vm->pid, tids[j]);
		if (read_small_at(vs->procfd, rel, comm, sizeof(comm)) <= 0)
			continue;
		chomp(comm);
		if (!t) {
			if (vm->nthreads >= MAX_THREADS_PER_VM)
				break;
			xgrow((void **)&vm->threads, sizeof(*vm->threads), &vm->cap, vm->nthreads);
			t = &vm->threads[vm->nthreads++];
			memset(t, 0, sizeof(*t));
			t->tid = tids[j];
			t->fd = -1;
			t->vcpu = -1;
		} else if (!strcmp(t->comm, comm)) {
			continue;
		}
		str_copy(t->comm, sizeof(t->comm), comm);
		enum vmm v;
		int kind = vmscan_classify(comm, (int)vm->vmm, &v, &t->vcpu);
		if (tids[j] == vm->pid && kind != TK_VCPU)
			kind = TK_MAIN;
		t->kind = (enum tkind)kind;
		thread_open(vs, vm, t);
	}
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return x < y ? -1 : x > y;
}

size_t vmscan_discover(struct vmscan *vs)
{
	uint64_t t0 = mono_ns();
	for (size_t i = 0; i < vs->n; i++)
		vs->vms[i].seen = false;
	int dup = fcntl(vs->procfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
	if (!d) {
		if (dup >= 0)
			close(dup);
		return vs->n;
	}
	/* a dup shares its file offset with procfd: the last walk left it at the end */
	rewinddir(d);
	/* kernel vhost threads (before 6.4), tied to their owner after the walk */
	struct kv {
		int pid, owner;
	} *kvh = NULL;
	size_t nkv = 0, kvcap = 0;
	int *tids = NULL;
	size_t tcap = 0;
	struct dirent *de;
	char rel[64], comm[64];
	while ((de = readdir(d))) {
		if (!str_is_digits(de->d_name))
			continue;
		int pid = atoi(de->d_name);
		snprintf(rel, sizeof(rel), "%d/comm", pid);
		if (read_small_at(vs->procfd, rel, comm, sizeof(comm)) <= 0)
			continue;
		chomp(comm);
		int owner = -1;
		if (sscanf(comm, "vhost-%d", &owner) == 1 && owner > 0) {
			/* a kthread (its own process) when it is not inside the owner */
			xgrow((void **)&kvh, sizeof(*kvh), &kvcap, nkv);
			kvh[nkv].pid = pid;
			kvh[nkv++].owner = owner;
			continue;
		}
		int vmm = vmscan_vmm_of_process(comm);
		struct vm_proc *known = vm_find(vs, pid);
		snprintf(rel, sizeof(rel), "%d/task", pid);
		int tfd = openat(vs->procfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (tfd < 0)
			continue;
		DIR *td = fdopendir(tfd);
		if (!td) {
			close(tfd);
			continue;
		}
		size_t nt = 0;
		struct dirent *te;
		while ((te = readdir(td)) && nt < MAX_THREADS_PER_VM) {
			if (!str_is_digits(te->d_name))
				continue;
			xgrow((void **)&tids, sizeof(*tids), &tcap, nt);
			tids[nt++] = atoi(te->d_name);
		}
		closedir(td);
		if (nt < 2 && vmm < 0 && !known)
			continue;
		/* look for a vCPU-named thread unless we know it is a VMM already */
		int vmm_found = vmm;
		bool named = false;
		if (!known) {
			unsigned looked = 0;
			for (size_t j = 0; j < nt && looked < 64; j++) {
				if (tids[j] == pid)
					continue;
				looked++;
				snprintf(rel, sizeof(rel), "%d/task/%d/comm", pid, tids[j]);
				char tc[64];
				if (read_small_at(vs->procfd, rel, tc, sizeof(tc)) <= 0)
					continue;
				chomp(tc);
				enum vmm v;
				int idx;
				if (vmscan_classify(tc, vmm, &v, &idx) == TK_VCPU &&
				    (vmm >= 0 || strncmp(tc, "vcpu", 4) != 0)) {
					named = true;
					if (vmm_found < 0)
						vmm_found = (int)v;
					break;
				}
			}
			if (vmm_found < 0 || (!named && vmm < 0))
				continue;
			if (vs->n >= MAX_VMS)
				continue;
			xgrow((void **)&vs->vms, sizeof(*vs->vms), &vs->cap, vs->n);
			known = &vs->vms[vs->n++];
			memset(known, 0, sizeof(*known));
			known->pid = pid;
			known->vmm = (enum vmm)vmm_found;
			snprintf(known->name, sizeof(known->name), "%s-%d", vmm_name(known->vmm), pid);
			snprintf(known->name_src, sizeof(known->name_src), "pid");
			name_from_cmdline(vs, known);
			vmscan_kvm_dir(vs->root, pid, known->kvm_dir, sizeof(known->kvm_dir), known->kvm_why,
				       sizeof(known->kvm_why));
			for (unsigned q = 0; q < vs->nqmp; q++)
				if (!strcmp(vs->qmp[q].name, known->name))
					str_copy(known->qmp_sock, sizeof(known->qmp_sock), vs->qmp[q].sock);
		}
		known->seen = true;
		vm_threads(vs, known, tids, nt);
		bool any_vcpu = false;
		for (size_t j = 0; j < known->nthreads; j++)
			any_vcpu |= known->threads[j].kind == TK_VCPU;
		if (!any_vcpu)
			debugfs_vcpus(vs, known);
		any_vcpu = false;
		for (size_t j = 0; j < known->nthreads; j++)
			any_vcpu |= known->threads[j].kind == TK_VCPU;
		known->vcpus_unnamed = !any_vcpu;
		scan_fds(vs, known);
	}
	closedir(d);
	free(tids);
	/* forget VMs that exited */
	size_t k = 0;
	for (size_t i = 0; i < vs->n; i++) {
		if (!vs->vms[i].seen) {
			for (size_t j = 0; j < vs->vms[i].nthreads; j++)
				if (vs->vms[i].threads[j].fd >= 0)
					vs->fds_open--;
			vm_free(&vs->vms[i]);
			continue;
		}
		vs->vms[k++] = vs->vms[i];
	}
	vs->n = k;
	/* vhost kernel threads: attach to their owner VM */
	for (size_t i = 0; i < nkv; i++) {
		struct vm_proc *vm = vm_find(vs, kvh[i].owner);
		if (!vm || thread_find(vm, kvh[i].pid))
			continue;
		/* a vhost thread inside the VMM is already in its task list */
		xgrow((void **)&vm->threads, sizeof(*vm->threads), &vm->cap, vm->nthreads);
		struct vm_thread *t = &vm->threads[vm->nthreads++];
		memset(t, 0, sizeof(*t));
		t->tid = kvh[i].pid;
		t->kpid = kvh[i].pid;
		t->kind = TK_VHOST;
		t->vcpu = -1;
		t->fd = -1;
		t->kthread = true;
		snprintf(t->comm, sizeof(t->comm), "vhost-%d", kvh[i].owner);
	}
	free(kvh);
	libvirt_status_names(vs);
	/* stable order: by name, then PID */
	(void)cmp_int;
	ss_sync(vs);
	vs->last_discovery_ns = mono_ns();
	vs->last_discovery_cost_ns = vs->last_discovery_ns - t0;
	return vs->n;
}

/* path of a thread's file: kernel threads live at proc/TID, not under the VM */
static void thread_rel(char *rel, size_t n, const struct vm_proc *vm, const struct vm_thread *t, const char *file)
{
	if (t->kthread)
		snprintf(rel, n, "proc/%d/task/%d/%s", t->kpid, t->kpid, file);
	else
		snprintf(rel, n, "proc/%d/task/%d/%s", vm->pid, t->tid, file);
}

/*
 * One run of the eBPF program: each record's offset is noted on its
 * thread (it_gen, it_off).  Returns the buffer, or NULL when the read failed
 * (the iterator is then dropped for the preads).
 */
static const char *ss_iter_pass(struct vmscan *vs)
{
	const char *buf;
	size_t len;
	int err = taskstat_read(vs->ts, &buf, &len);
	if (err) {
		char why[160];
		snprintf(why, sizeof(why), "failed to read through the eBPF program (%s): %s", taskstat_kind(vs->ts),
			 strerror(-err));
		ss_drop(vs, why);
		return NULL;
	}
	unsigned gen = ++vs->ss_gen;
	const char *p = buf, *end = buf + len;
	struct taskstat_line l;
	int r;
	while ((r = taskstat_next(&p, end, &l)) != 0) {
		if (r < 0)
			continue;
		struct vmscan_tid key = { .tid = l.tid };
		struct vmscan_tid *e = bsearch(&key, vs->ss_idx, vs->ss_nidx, sizeof(key), cmp_tid);
		if (!e || e->tgid != l.tgid) /* a tid reused by another process */
			continue;
		e->t->it_gen = gen;
		e->t->it_off = (uint32_t)(p - TASKSTAT_REC_SIZE - buf);
	}
	return buf;
}

/*
 * The hot path: no allocation per thread.  Each vCPU thread's path was made
 * once at discovery (thread_open); the sample's files and arena are sized
 * for the last tick's count up front.  With the eBPF program, one read
 * gives every vCPU it reads (all of them, unless some tid is above its
 * pid_max), each record formatted into the /proc file's text; the others
 * are read through their fds.
 */
void vmscan_sample(struct vmscan *vs, struct sample *out)
{
	uint64_t t0 = mono_ns();
	char buf[128];
	size_t want = vs->last_sample_files;
	sample_reserve(out, want, want * 72);
	size_t files = 0;
	const char *it = vs->ts && vs->ss_use && vs->ss_nidx ? ss_iter_pass(vs) : NULL;
	for (size_t i = 0; i < vs->n; i++) {
		struct vm_proc *vm = &vs->vms[i];
		for (size_t j = 0; j < vm->nthreads; j++) {
			struct vm_thread *t = &vm->threads[j];
			if (t->kind != TK_VCPU)
				continue;
			ssize_t n;
			if (!t->ss_path) /* a vCPU named after discovery; not expected */
				t->ss_path = xasprintf("proc/%d/task/%d/schedstat", vm->pid, t->tid);
			if (it && t->in_iter) {
				if (t->it_gen == vs->ss_gen) {
					const char *rec = it + t->it_off;
					struct taskstat_line l;
					taskstat_next(&rec, rec + TASKSTAT_REC_SIZE, &l);
					sample_add(out, t->ss_path, buf, taskstat_format(&l, buf));
					files++;
				} else if (t->fd >= 0) {
					/* not printed: the thread exited, as ESRCH below */
					close(t->fd);
					t->fd = -1;
					vs->fds_open--;
				}
				continue;
			}
			if (t->fd >= 0) {
				n = pread(t->fd, buf, sizeof(buf) - 1, 0);
				if (n < 0 && errno == ESRCH) {
					close(t->fd); /* the thread exited; rediscovery drops it */
					t->fd = -1;
					vs->fds_open--;
				}
			} else {
				n = read_small_at(vs->procfd, t->ss_path + 5, buf, sizeof(buf));
			}
			if (n <= 0)
				continue;
			sample_add(out, t->ss_path, buf, (size_t)n);
			files++;
		}
	}
	vs->last_sample_files = files;
	vs->last_sample_ns = mono_ns() - t0;
}

static void add_file(struct vmscan *vs, struct sample *out, const char *rel, size_t max)
{
	char *data;
	size_t len;
	int r = fsroot_read(vs->root, rel, &data, &len, max);
	if (r == 0 || r == -EFBIG)
		sample_add_take(out, rel, data, len);
}

static bool skipped(const int *skip, size_t n, int pid)
{
	return skip && n && bsearch(&pid, skip, n, sizeof(int), cmp_int) != NULL;
}

static void vm_slow(struct vmscan *vs, struct vm_proc *vm, struct sample *out, bool other_pid)
{
	char rel[96];
	for (size_t j = 0; j < vm->nthreads; j++) {
		struct vm_thread *t = &vm->threads[j];
		if (t->kind != TK_VCPU && !vs->tasks_walked) {
			thread_rel(rel, sizeof(rel), vm, t, "schedstat");
			add_file(vs, out, rel, 4096);
		}
		if (!other_pid || t->kthread) {
			thread_rel(rel, sizeof(rel), vm, t, "stat");
			add_file(vs, out, rel, 4096);
		}
		thread_rel(rel, sizeof(rel), vm, t, "status");
		add_file(vs, out, rel, 16384);
	}
	if (!other_pid) {
		snprintf(rel, sizeof(rel), "proc/%d/status", vm->pid);
		add_file(vs, out, rel, 16384);
		snprintf(rel, sizeof(rel), "proc/%d/smaps_rollup", vm->pid);
		add_file(vs, out, rel, 16384);
		if (vm->slow_count % VMSCAN_NUMA_EVERY == 0) {
			snprintf(rel, sizeof(rel), "proc/%d/numa_maps", vm->pid);
			add_file(vs, out, rel, 8u << 20);
		}
	}
	if (!vm->cmdline_sent) {
		snprintf(rel, sizeof(rel), "proc/%d/cmdline", vm->pid);
		add_file(vs, out, rel, 1u << 20);
		vm->cmdline_sent = true;
	}
	if (vm->kvm_dir[0]) {
		static const char *const pages[] = { "pages_4k", "pages_2m", "pages_1g" };
		for (unsigned k = 0; k < ARRAY_SIZE(pages); k++) {
			snprintf(rel, sizeof(rel), "sys/kernel/debug/kvm/%s/%s", vm->kvm_dir, pages[k]);
			add_file(vs, out, rel, 64);
		}
	}
	if (vm->ntaps) {
		snprintf(rel, sizeof(rel), "proc/%d/net/dev", vm->pid);
		add_file(vs, out, rel, 1u << 20);
	}
	if (vm->qmp_sock[0])
		qmp_query_vm(vm, vs->qmp_histograms);
	else if (!strcmp(vm->name_src, "libvirt"))
		libvirt_job_query(vs, vm);
	vm->slow_count++;
}

void vmscan_slow(struct vmscan *vs, struct sample *out, const int *skip_pids, size_t nskip)
{
	uint64_t t0 = mono_ns();
	if (vs->slow_ticks > 0 && t0 - vs->last_discovery_ns >= VMSCAN_REDISCOVER_S * 1000000000ull)
		vmscan_discover(vs);
	vs->slow_ticks++;
	size_t done = 0;
	if (vs->slow_cursor >= vs->n)
		vs->slow_cursor = 0;
	while (done < vs->n) {
		if (done > 0 && mono_ns() - t0 > VMSCAN_SLOW_BUDGET_NS)
			break; /* the rest on the next slow tick */
		struct vm_proc *vm = &vs->vms[vs->slow_cursor];
		vm_slow(vs, vm, out, skipped(skip_pids, nskip, vm->pid));
		vs->slow_cursor = (vs->slow_cursor + 1) % vs->n;
		done++;
	}
	json_t *j = vmscan_json(vs);
	json_object_set_new(j, "slow_vms_read", json_integer((json_int_t)done));
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	sample_add_take(out, VMSCAN_JSON_PATH, s, strlen(s));
	vs->last_slow_ns = mono_ns() - t0;
}

json_t *vmscan_json(const struct vmscan *vs)
{
	json_t *o = json_object();
	json_t *arr = json_array();
	for (size_t i = 0; i < vs->n; i++) {
		const struct vm_proc *vm = &vs->vms[i];
		json_t *v = json_object();
		json_object_set_new(v, "pid", json_integer(vm->pid));
		json_object_set_new(v, "vmm", json_string(vmm_name(vm->vmm)));
		json_object_set_new(v, "name", json_string(vm->name));
		json_object_set_new(v, "name_source", json_string(vm->name_src));
		if (vm->uuid[0])
			json_object_set_new(v, "uuid", json_string(vm->uuid));
		if (vm->machine_id[0])
			json_object_set_new(v, "machine_id", json_string(vm->machine_id));
		json_object_set_new(v, "vcpus_unnamed", json_boolean(vm->vcpus_unnamed));
		json_t *ta = json_array();
		for (size_t j = 0; j < vm->nthreads; j++) {
			const struct vm_thread *t = &vm->threads[j];
			json_t *tj = json_object();
			json_object_set_new(tj, "tid", json_integer(t->tid));
			json_object_set_new(tj, "kind", json_string(tkind_name(t->kind)));
			if (t->vcpu >= 0)
				json_object_set_new(tj, "vcpu", json_integer(t->vcpu));
			json_object_set_new(tj, "comm", json_string(t->comm));
			if (t->kthread)
				json_object_set_new(tj, "kthread", json_true());
			json_array_append_new(ta, tj);
		}
		json_object_set_new(v, "threads", ta);
		json_t *tp = json_array();
		for (unsigned k = 0; k < vm->ntaps; k++) {
			json_t *tj = json_object();
			json_object_set_new(tj, "ifname", json_string(vm->taps[k].ifname));
			json_object_set_new(tj, "queues", json_integer(vm->taps[k].queues));
			json_array_append_new(tp, tj);
		}
		json_object_set_new(v, "taps", tp);
		json_object_set_new(v, "vhost_net_fds", json_integer(vm->vhost_fds));
		json_t *da = json_array();
		for (unsigned k = 0; k < vm->ndisks; k++) {
			const struct vm_backing *b = &vm->disks[k];
			json_t *dj = json_object();
			json_object_set_new(dj, "id", json_string(b->id));
			json_object_set_new(dj, "file", json_string(b->file));
			if (b->dev[0]) {
				json_object_set_new(dj, "dev", json_string(b->dev));
				json_object_set_new(dj, "devt", json_string(b->devt));
				json_object_set_new(dj, "disk", json_string(b->disk));
			}
			if (b->via[0])
				json_object_set_new(dj, "via", json_string(b->via));
			if (b->err[0])
				json_object_set_new(dj, "error", json_string(b->err));
			if (b->format[0])
				json_object_set_new(dj, "format", json_string(b->format));
			if (b->cache[0])
				json_object_set_new(dj, "cache", json_string(b->cache));
			if (b->aio[0])
				json_object_set_new(dj, "aio", json_string(b->aio));
			if (b->chain.n)
				json_object_set_new(dj, "chain", image_chain_json(&b->chain));
			else if (b->chain_why[0])
				json_object_set_new(dj, "chain_error", json_string(b->chain_why));
			json_array_append_new(da, dj);
		}
		json_object_set_new(v, "disks", da);
		json_t *kj = json_object();
		if (vm->kvm_dir[0])
			json_object_set_new(kj, "dir", json_string(vm->kvm_dir));
		else
			json_object_set_new(kj, "error", json_string(vm->kvm_why[0] ? vm->kvm_why
									: "no KVM VM of this process in debugfs"));
		json_object_set_new(v, "kvm_debugfs", kj);
		if (vm->qmp_sock[0]) {
			json_t *q = json_object();
			json_object_set_new(q, "socket", json_string(vm->qmp_sock));
			if (vm->qmp_blockstats)
				json_object_set(q, "blockstats", vm->qmp_blockstats);
			if (vm->qmp_t_ns)
				json_object_set_new(q, "t_ns", json_integer((json_int_t)vm->qmp_t_ns));
			if (vm->qmp_migrate)
				json_object_set(q, "migrate", vm->qmp_migrate);
			if (vm->qmp_mig_params)
				json_object_set(q, "migrate_parameters", vm->qmp_mig_params);
			if (vm->qmp_mig_caps)
				json_object_set(q, "migrate_capabilities", vm->qmp_mig_caps);
			if (vm->qmp_error)
				json_object_set_new(q, "error", json_string(vm->qmp_error));
			json_object_set_new(v, "qmp", q);
		} else if (vm->lv_watched) {
			json_t *lj = json_object();
			json_object_set_new(lj, "t_ns", json_integer((json_int_t)vm->lv_job_t_ns));
			json_object_set_new(lj, "migrating", json_boolean(vm->lv_migrating));
			if (vm->lv_job)
				json_object_set_new(lj, "stats", json_string(vm->lv_job));
			if (vm->lv_job_error)
				json_object_set_new(lj, "error", json_string(vm->lv_job_error));
			json_object_set_new(v, "libvirt_job", lj);
		}
		json_array_append_new(arr, v);
	}
	json_object_set_new(o, "vms", arr);
	json_t *qa = json_array();
	for (unsigned q = 0; q < vs->nqmp; q++) {
		bool matched = false;
		for (size_t i = 0; i < vs->n; i++)
			matched |= !strcmp(vs->vms[i].name, vs->qmp[q].name);
		if (!matched)
			json_array_append_new(qa, json_string(vs->qmp[q].name));
	}
	json_object_set_new(o, "qmp_unmatched", qa);
	json_t *c = json_object();
	json_object_set_new(c, "discovery_us", json_integer((json_int_t)(vs->last_discovery_cost_ns / 1000)));
	json_object_set_new(c, "sample_us", json_integer((json_int_t)(vs->last_sample_ns / 1000)));
	json_object_set_new(c, "fds_open", json_integer((json_int_t)vs->fds_open));
	json_object_set_new(c, "fds_failed", json_integer((json_int_t)vs->fds_failed));
	json_object_set_new(o, "cost", c);
	json_object_set_new(o, "root", json_boolean(vs->euid_root));
	json_object_set_new(o, "schedstat_source", json_string(vmscan_schedstat_source(vs)));
	if (vs->ts) {
		json_object_set_new(o, "schedstat_iter", json_string(taskstat_kind(vs->ts)));
		if (taskstat_fallback_why(vs->ts))
			json_object_set_new(o, "schedstat_iter_why", json_string(taskstat_fallback_why(vs->ts)));
	}
	if (vs->ss_why[0])
		json_object_set_new(o, "schedstat_source_why", json_string(vs->ss_why));
	return o;
}

/* ---- libvirt's job statistics, for a libvirt VM whose monitor libvirt holds ---- */

/* each virsh call: libvirtd can hang, the sampler must not */
#define VIRSH_JOB_TIMEOUT_MS 2000

/*
 * libvirt holds the VM's QMP monitor, so a migration it drives is watched
 * through its read-only API instead: while the VM's status XML
 * (run/libvirt/qemu/NAME.xml) carries an outgoing-migration job, and once
 * more on the tick after (the completed job's statistics, kept for the next
 * reader), `virsh -r domjobinfo --rawstats`.  Nothing runs for a VM that
 * does not migrate, or without libvirt's read-only socket and virsh.
 */
static void libvirt_job_query(struct vmscan *vs, struct vm_proc *vm)
{
	char *rel = xasprintf("run/libvirt/qemu/%s.xml", vm->name);
	char *xml = NULL;
	size_t len = 0;
	bool migrating = fsroot_path_ok(rel) && fsroot_read(vs->root, rel, &xml, &len, 4u << 20) == 0 &&
			 strstr(xml, "async='migration out'") != NULL;
	free(rel);
	free(xml);
	bool ask = migrating || vm->lv_migrating;
	bool was = vm->lv_migrating;
	vm->lv_migrating = migrating;
	free(vm->lv_job_error);
	vm->lv_job_error = NULL;
	free(vm->lv_job);
	vm->lv_job = NULL;
	vm->lv_watched = fsroot_exists(vs->root, "run/libvirt/libvirt-sock-ro");
	if (!vm->lv_watched)
		return;
	vm->lv_job_t_ns = mono_ns();
	if (!ask)
		return;
	char name[sizeof(vm->name)];
	str_copy(name, sizeof(name), vm->name);
	char *argv[] = { "virsh", "-r", "-q", "-c", "qemu:///system", "domjobinfo", "--domain", name, "--rawstats",
			 migrating ? NULL : "--completed", "--keep-completed", NULL };
	struct proc_run r = { .argv = argv, .timeout_ms = VIRSH_JOB_TIMEOUT_MS, .out_max = 64u << 10,
			      .err_max = 4096 };
	int rc = proc_run(&r);
	if (rc == 0) {
		vm->lv_job = xstrdup(r.out);
	} else {
		const char *e = rc < 0 ? r.why : r.err;
		size_t el = strcspn(e, "\n");
		vm->lv_job_error = xasprintf("virsh domjobinfo%s: %.*s", was && !migrating ? " --completed" : "",
					     (int)(el > 200 ? 200 : el), e[0] ? e : "failed");
	}
	proc_run_done(&r);
}

/* ---- QMP: query-blockstats on a socket this run owns (sys/qmp.h) ---- */

/* The id block-latency-histogram-set takes for a query-blockstats entry: the device's QOM path, else its name. */
static const char *blk_id(const json_t *dev)
{
	const char *q = json_string_value(json_object_get(dev, "qdev"));
	const char *d = json_string_value(json_object_get(dev, "device"));
	return q && *q ? q : d && *d ? d : NULL;
}

/*
 * Give every device of a query-blockstats answer that has no latency
 * histograms ours (qmphist_default_bounds).  Returns how many were set; the
 * first refusal goes to *err (a QEMU before 4.0 has no such command).
 */
static unsigned qmp_set_histograms(struct qmp *q, const json_t *stats, char **err)
{
	uint64_t b[QMPHIST_MAX_BINS - 1];
	size_t nb = qmphist_default_bounds(b, ARRAY_SIZE(b));
	json_t *bounds = json_array();
	for (size_t i = 0; i < nb; i++)
		json_array_append_new(bounds, json_integer((json_int_t)b[i]));
	unsigned n = 0;
	size_t i;
	const json_t *dev;
	json_array_foreach(stats, i, dev) {
		const json_t *st = json_object_get(dev, "stats");
		const char *id = blk_id(dev);
		if (!id || !st || json_object_get(st, "rd_latency_histogram"))
			continue;
		json_t *args = json_pack("{s:s, s:O}", "id", id, "boundaries", bounds);
		if (!args)
			continue;
		json_t *r;
		char *e = NULL;
		int rc = qmp_command(q, "block-latency-histogram-set", args, &r, &e);
		json_decref(r);
		if (rc != 0) {	/* the others would be refused alike (an old QEMU), or the connection is gone */
			if (!*err)
				*err = xasprintf("%s (device %s)", e ? e : "QMP error", id);
			free(e);
			break;
		}
		n++;
	}
	json_decref(bounds);
	return n;
}

/* Replace *slot with the answer to cmd (no arguments), or NULL; the first error goes to *err. */
static void qmp_ask(struct qmp *q, const char *cmd, json_t **slot, char **err)
{
	json_t *r;
	char *e = NULL;
	json_decref(*slot);
	*slot = NULL;
	if (qmp_command(q, cmd, NULL, &r, &e) == 0)
		*slot = r;
	else
		json_decref(r);
	if (e && !*err)
		*err = e;
	else
		free(e);
}

/*
 * One conversation with a VM's monitor (a socket this run owns): its
 * blockstats and migration state.  query-blockstats; with set_hist, devices
 * without latency histograms get hiddenq's (block-latency-histogram-set,
 * boundaries from parse/qmphist.h) and the answer is asked for again.  Then
 * query-migrate, and while a migration runs what would change it
 * (query-migrate-parameters, query-migrate-capabilities).  Answers that
 * fail are NULL; the first error is vm->qmp_error (a refusal of the
 * histograms beside an answer).
 */
static void qmp_query_vm(struct vm_proc *vm, bool set_hist)
{
	char *err = NULL;
	struct qmp q;
	free(vm->qmp_error);
	vm->qmp_error = NULL;
	if (qmp_open(&q, vm->qmp_sock, 2000, &err) < 0) {
		json_decref(vm->qmp_blockstats);
		json_decref(vm->qmp_migrate);
		json_decref(vm->qmp_mig_params);
		json_decref(vm->qmp_mig_caps);
		vm->qmp_blockstats = vm->qmp_migrate = vm->qmp_mig_params = vm->qmp_mig_caps = NULL;
		vm->qmp_error = err;
		return;
	}
	qmp_ask(&q, "query-blockstats", &vm->qmp_blockstats, &err);
	json_t *r = vm->qmp_blockstats;
	if (set_hist && json_is_array(r) && qmp_set_histograms(&q, r, &err) > 0) {
		json_t *r2;
		char *e2 = NULL;	/* again, so this answer already has them */
		if (qmp_command(&q, "query-blockstats", NULL, &r2, &e2) == 0) {
			json_decref(vm->qmp_blockstats);
			vm->qmp_blockstats = r2;
		} else {
			json_decref(r2);
		}
		free(e2);
	}
	qmp_ask(&q, "query-migrate", &vm->qmp_migrate, &err);
	vm->qmp_t_ns = mono_ns();
	struct mig_info mi;
	if (mig_parse(vm->qmp_migrate, &mi) == 0 && mig_status_running(mi.status)) {
		qmp_ask(&q, "query-migrate-parameters", &vm->qmp_mig_params, &err);
		qmp_ask(&q, "query-migrate-capabilities", &vm->qmp_mig_caps, &err);
	} else {
		json_decref(vm->qmp_mig_params);
		json_decref(vm->qmp_mig_caps);
		vm->qmp_mig_params = vm->qmp_mig_caps = NULL;
	}
	qmp_close(&q);
	vm->qmp_error = err;
}
