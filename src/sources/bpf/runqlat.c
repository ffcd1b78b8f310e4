// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * Run-queue latency, the user half: checks that the kernel has what
 * runqlat.bpf.c needs, picks a mode, loads it through its skeleton (open ->
 * set rodata and autoload -> load -> attach), and turns the per-CPU
 * histogram array into ".hiddenq/runqlat.json":
 *
 *   {"available":true,"unit":"us","buckets":"log2","mode":"queued",
 *    "kinds":{"any":[...]},"per_cpu":{"0":[...],...},
 *    "per_cgroup":{"<cgroup v2 id>":{"path":"/system.slice/x","hist":[...]},...}}
 *
 * The idle split (both modes): "idle_cpu" is the histogram of the waits that
 * ended by switching a CPU out of idle (a task woken onto an idle CPU; in a
 * guest, a halted vCPU the host had to wake), a part of "kinds" counted there
 * too; "ipi_wake" is how long IPIs flew to an idle CPU (send to handler), when
 * the kernel has the IPI tracepoints ("ipi": true; "ipi_why" otherwise); then
 * such wake-ups start at the IPI's send.
 *
 * Modes: "queued" (the default where the kernel's BTF has
 * sched_info.last_queued and cfs_rq.rq) is one sched_switch
 * program reading the kernel's own queued stamp, and has one kind, "any";
 * "split" (asked for, or the fallback) is three programs and BPF task
 * storage, and tells "wakeup" from "preempt"; "mode_why" says why the
 * split mode was loaded when it was not asked for.
 *
 * kinds sum over CPUs; per_cpu sums over kinds and lists the CPUs with at
 * least one count; per_cgroup (when loaded with it) sums over CPUs and
 * kinds, keyed by the woken task's cgroup v2 id, with the path found by
 * walking the cgroup2 mount and matching directory inode numbers (a
 * cgroup's id is its kernfs node id, which is the inode number).  Counts are
 * cumulative since load.
 */
#include "bpfsrc_int.h"

#ifdef HQ_WITH_BPF
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "../../core/util.h"
#include "../../bpf/runqlat.h"
#include "runqlat.skel.h"

#define CG2_MAGIC 0x63677270u	/* CGROUP2_SUPER_MAGIC */
#define CG_WALK_MAX_DIRS 8192
#define CG_WALK_MAX_DEPTH 32

struct cgname {
	uint64_t id;
	char *path;
};

struct runqlat {
	struct runqlat_bpf *skel;
	int ncpus;
	bool cgroup;
	bool split;
	bool ipi;		/* the IPI programs are loaded */
	const char *ipi_why;	/* why not (static string), or NULL */
	const char *fallback;	/* why split although not asked for (static string), or NULL */
	struct rq_hist *vals;	/* ncpus values of one key */
	struct cgname *cg;	/* id -> path, from the last walk */
	size_t ncg, capcg, walked_dirs;
};

static void cg_add(struct runqlat *r, uint64_t id, const char *path)
{
	if (r->ncg == r->capcg) {
		r->capcg = r->capcg ? 2 * r->capcg : 64;
		r->cg = xrealloc(r->cg, r->capcg * sizeof(*r->cg));
	}
	r->cg[r->ncg].id = id;
	r->cg[r->ncg].path = xstrdup(path);
	r->ncg++;
}

static void cg_walk_dir(struct runqlat *r, int dfd, const char *path, int depth)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL && r->walked_dirs < CG_WALK_MAX_DIRS) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		struct stat st;
		if (fstat(fd, &st) != 0) {
			close(fd);
			continue;
		}
		r->walked_dirs++;
		char *p = xasprintf("%s/%s", strcmp(path, "/") == 0 ? "" : path, e->d_name);
		cg_add(r, (uint64_t)st.st_ino, p);
		if (depth < CG_WALK_MAX_DEPTH)
			cg_walk_dir(r, fd, p, depth + 1);	/* takes fd */
		else
			close(fd);
		free(p);
	}
	closedir(d);
}

/* Rebuild the id -> path table from the cgroup2 mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified when hybrid). */
static void cg_walk(struct runqlat *r)
{
	for (size_t i = 0; i < r->ncg; i++)
		free(r->cg[i].path);
	r->ncg = 0;
	r->walked_dirs = 0;
	static const char *const roots[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
	for (size_t i = 0; i < ARRAY_SIZE(roots); i++) {
		struct statfs sf;
		struct stat st;
		if (statfs(roots[i], &sf) != 0 || (uint32_t)sf.f_type != CG2_MAGIC || stat(roots[i], &st) != 0)
			continue;
		cg_add(r, (uint64_t)st.st_ino, "/");
		int fd = open(roots[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			cg_walk_dir(r, fd, "/", 1);
		return;
	}
}

static const char *cg_path(const struct runqlat *r, uint64_t id)
{
	for (size_t i = 0; i < r->ncg; i++)
		if (r->cg[i].id == id)
			return r->cg[i].path;
	return NULL;
}

/* Does struct `sname` have a member `mname` in this BTF? */
static bool btf_has_member(const struct btf *btf, const char *sname, const char *mname)
{
	int id = btf__find_by_name_kind(btf, sname, BTF_KIND_STRUCT);
	if (id < 0)
		return false;
	const struct btf_type *t = btf__type_by_id(btf, (__u32)id);
	const struct btf_member *m = btf_members(t);
	for (unsigned i = 0; i < btf_vlen(t); i++, m++) {
		const char *n = btf__name_by_offset(btf, m->name_off);
		if (n && strcmp(n, mname) == 0)
			return true;
	}
	return false;
}

/*
 * NULL when every tracepoint the mode needs is described by the kernel's BTF,
 * else the reason.  *split in: asked for the split mode; out: the mode to load
 * (the queued mode needs sched_info.last_queued, i.e. CONFIG_SCHED_INFO, and
 * cfs_rq.rq, i.e. CONFIG_FAIR_GROUP_SCHED; without them we fall back).
 */
static const char *ipi_missing(const struct btf *vm);

static char *missing_tracepoints(bool *split, const char **fallback, const char **ipi_why)
{
	static const char *const tps[] = { "sched_switch", "sched_wakeup", "sched_wakeup_new" };
	struct btf *vm = btf__load_vmlinux_btf();
	if (!vm)
		return bpfsrc_reason("kernel BTF (/sys/kernel/btf/vmlinux)", errno);
	*fallback = NULL;
	if (!*split && !btf_has_member(vm, "sched_info", "last_queued"))
		*fallback = "the kernel keeps no queued time per task (no sched_info.last_queued: CONFIG_SCHED_INFO is off)";
	else if (!*split && !btf_has_member(vm, "cfs_rq", "rq"))
		*fallback = "the run queue is not reachable from a task (no cfs_rq.rq: CONFIG_FAIR_GROUP_SCHED is off)";
	if (*fallback)
		*split = true;
	*ipi_why = getenv("HIDDENQ_RUNQ_NO_IPI") ? "switched off (HIDDENQ_RUNQ_NO_IPI)" : ipi_missing(vm);
	char *why = NULL;
	for (size_t i = 0; i < (*split ? ARRAY_SIZE(tps) : 1) && !why; i++) {
		char name[64];
		snprintf(name, sizeof(name), "btf_trace_%s", tps[i]);
		if (btf__find_by_name_kind(vm, name, BTF_KIND_TYPEDEF) < 0)
			why = xasprintf("tracepoint %s is not in this kernel's BTF (tp_btf unavailable)", tps[i]);
	}
	btf__free(vm);
	return why;
}

/* The IPI tracepoints the idle split's IPI programs attach to: NULL when all are in the BTF, else why not. */
static const char *ipi_missing(const struct btf *vm)
{
	static const char *const tps[] = { "btf_trace_ipi_send_cpu", "btf_trace_call_function_single_entry",
					   "btf_trace_reschedule_entry" };
	const char *why = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(tps) && !why; i++)
		if (btf__find_by_name_kind(vm, tps[i], BTF_KIND_TYPEDEF) < 0)
			why = i == 0 ? "no ipi_send_cpu tracepoint (Linux 6.6 and later): wake-ups of idle CPUs start "
				       "at the enqueue, which misses the IPI's flight when the kernel queues them "
				       "on the idle CPU's wake list"
				     : "no x86 IPI entry tracepoints (call_function_single_entry, reschedule_entry)";
	return why;
}

struct runqlat *runqlat_open(char **why, bool cgroup, bool split, bool floor)
{
	const char *fallback = NULL, *ipi_why = NULL;
	*why = missing_tracepoints(&split, &fallback, &ipi_why);
	if (*why)
		return NULL;
	bool ipi = ipi_why == NULL;
	/* 1 yes, 0 no, < 0 unknown (e.g. not privileged: the load says why) */
	if (split && libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) == 0) {
		*why = xstrdup("this kernel has no BPF task storage (needs Linux 5.11 or later)");
		return NULL;
	}
	struct runqlat_bpf *skel = runqlat_bpf__open();
	if (!skel) {
		*why = bpfsrc_reason("failed to open the run-queue eBPF object", errno);
		return NULL;
	}
	skel->rodata->targ_cgroup = cgroup;
	skel->rodata->targ_floor = floor;
	skel->rodata->targ_ipi = ipi;
	int ncpu = libbpf_num_possible_cpus();
	bpf_map__set_max_entries(skel->maps.ipi_sent, ncpu > 0 ? (__u32)ncpu : 1);
	bpf_program__set_autoload(skel->progs.hq_ipi_send_cpu, ipi);
	bpf_program__set_autoload(skel->progs.hq_ipi_call_single, ipi);
	bpf_program__set_autoload(skel->progs.hq_ipi_reschedule, ipi);
	if (!cgroup)
		bpf_map__set_max_entries(skel->maps.cg_hists, 1);
	bpf_program__set_autoload(skel->progs.hq_sched_wakeup, split);
	bpf_program__set_autoload(skel->progs.hq_sched_wakeup_new, split);
	bpf_program__set_autoload(skel->progs.hq_sched_switch, split);
	bpf_program__set_autoload(skel->progs.hq_sched_switch_queued, !split);
	if (!split)	/* no task is stamped: the task storage map is never used */
		bpf_map__set_autocreate(skel->maps.start, false);
	int err = runqlat_bpf__load(skel);
	if (err) {
		*why = bpfsrc_reason("failed to load the run-queue eBPF programs", err);
		runqlat_bpf__destroy(skel);
		return NULL;
	}
	err = runqlat_bpf__attach(skel);
	if (err) {
		*why = bpfsrc_reason("failed to attach to the sched tracepoints", err);
		runqlat_bpf__destroy(skel);
		return NULL;
	}
	struct runqlat *r = xcalloc(1, sizeof(*r));
	r->skel = skel;
	r->ncpus = libbpf_num_possible_cpus();
	if (r->ncpus < 1)
		r->ncpus = 1;
	r->vals = xcalloc((size_t)r->ncpus, sizeof(*r->vals));
	r->cgroup = cgroup && !floor;
	r->split = split;
	r->fallback = fallback;
	r->ipi = ipi;
	r->ipi_why = ipi_why;
	return r;
}

/* {"<id>": {"path": "...", "hist": [...]}}: each cgroup's histogram summed over CPUs and kinds */
static json_t *per_cgroup_json(struct runqlat *r)
{
	int fd = bpf_map__fd(r->skel->maps.cg_hists);
	json_t *jg = json_object();
	__u64 key, next;
	bool walked = false;
	unsigned n = 0;
	for (int err = bpf_map_get_next_key(fd, NULL, &next); err == 0 && n < RQ_MAX_CGROUPS;
	     err = bpf_map_get_next_key(fd, &key, &next), n++) {
		key = next;
		if (bpf_map_lookup_elem(fd, &key, r->vals) != 0)
			continue;	/* evicted meanwhile */
		uint64_t h[HQ_HIST_SLOTS] = { 0 };
		for (int c = 0; c < r->ncpus; c++)
			for (int s = 0; s < HQ_HIST_SLOTS; s++)
				h[s] += r->vals[c].slots[s];
		const char *path = cg_path(r, key);
		if (!path && !walked) {	/* a cgroup not seen yet: walk again, at most once a read */
			cg_walk(r);
			walked = true;
			path = cg_path(r, key);
		}
		json_t *o = json_object();
		if (path)
			json_object_set_new(o, "path", json_string(path));
		json_object_set_new(o, "hist", bpfsrc_hist_json(h, HQ_HIST_SLOTS));
		char ks[24];
		snprintf(ks, sizeof(ks), "%llu", (unsigned long long)key);
		json_object_set_new(jg, ks, o);
	}
	return jg;
}

json_t *runqlat_read(struct runqlat *r)
{
	int fd = bpf_map__fd(r->skel->maps.hists);
	uint64_t kinds[RQ_NKINDS][HQ_HIST_SLOTS];
	uint64_t *cpu = xcalloc((size_t)r->ncpus * HQ_HIST_SLOTS, sizeof(*cpu));
	memset(kinds, 0, sizeof(kinds));
	for (__u32 k = 0; k < RQ_NKINDS; k++) {
		if (bpf_map_lookup_elem(fd, &k, r->vals) != 0) {
			free(cpu);
			return NULL;
		}
		for (int c = 0; c < r->ncpus; c++)
			for (int s = 0; s < HQ_HIST_SLOTS; s++) {
				kinds[k][s] += r->vals[c].slots[s];
				if (k != RQ_IPI) /* per_cpu: run-queue waits only */
					cpu[(size_t)c * HQ_HIST_SLOTS + (size_t)s] += r->vals[c].slots[s];
			}
	}
	/* the idle CPUs' waits are a part of the wake-ups (split) or of all waits (queued) */
	for (int s = 0; s < HQ_HIST_SLOTS; s++)
		kinds[r->split ? RQ_WAKEUP : RQ_ANY][s] += kinds[RQ_IDLE][s];
	json_t *j = json_object();
	json_object_set_new(j, "available", json_true());
	json_object_set_new(j, "unit", json_string("us"));
	json_object_set_new(j, "buckets", json_string("log2"));
	json_object_set_new(j, "mode", json_string(r->split ? "split" : "queued"));
	if (r->fallback)
		json_object_set_new(j, "mode_why", json_string(r->fallback));
	json_t *jk = json_object();
	if (r->split) {
		json_object_set_new(jk, "wakeup", bpfsrc_hist_json(kinds[RQ_WAKEUP], HQ_HIST_SLOTS));
		json_object_set_new(jk, "preempt", bpfsrc_hist_json(kinds[RQ_PREEMPT], HQ_HIST_SLOTS));
	} else {
		json_object_set_new(jk, "any", bpfsrc_hist_json(kinds[RQ_ANY], HQ_HIST_SLOTS));
	}
	json_object_set_new(j, "kinds", jk);
	json_object_set_new(j, "idle_cpu", bpfsrc_hist_json(kinds[RQ_IDLE], HQ_HIST_SLOTS));
	json_object_set_new(j, "ipi", json_boolean(r->ipi));
	if (r->ipi)
		json_object_set_new(j, "ipi_wake", bpfsrc_hist_json(kinds[RQ_IPI], HQ_HIST_SLOTS));
	else
		json_object_set_new(j, "ipi_why", json_string(r->ipi_why));
	json_t *jc = json_object();
	for (int c = 0; c < r->ncpus; c++) {
		const uint64_t *h = &cpu[(size_t)c * HQ_HIST_SLOTS];
		bool any = false;
		for (int s = 0; s < HQ_HIST_SLOTS && !any; s++)
			any = h[s] != 0;
		if (!any)
			continue;
		char key[16];
		snprintf(key, sizeof(key), "%d", c);
		json_object_set_new(jc, key, bpfsrc_hist_json(h, HQ_HIST_SLOTS));
	}
	json_object_set_new(j, "per_cpu", jc);
	free(cpu);
	if (r->cgroup)
		json_object_set_new(j, "per_cgroup", per_cgroup_json(r));
	return j;
}

void runqlat_close(struct runqlat *r)
{
	if (!r)
		return;
	runqlat_bpf__destroy(r->skel);
	for (size_t i = 0; i < r->ncg; i++)
		free(r->cg[i].path);
	free(r->cg);
	free(r->vals);
	free(r);
}
#else
typedef int hq_runqlat_without_bpf; /* ISO C: a translation unit is not empty */
#endif
