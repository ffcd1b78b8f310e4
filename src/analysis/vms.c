/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * KVM host mode analysis (see vms.h).  Samples are scanned once each: the
 * files are matched to threads and VMs through a tid map, never by looking
 * every path up, so a sample of thousands of vCPU threads costs one pass.
 */
#include "vms.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../parse/parse.h"
#include "../parse/qmphist.h"
#include "../parse/stackparse.h"
#include "analysis.h"
#include "bpfhist.h"
#include "findings.h"
#include "steal.h"


/* ---- feeding ---- */

static void static_mask(const struct sample *st, const char *path, struct cpumask *m, bool *ok)
{
	const struct sfile *f = sample_find(st, path);
	*ok = f && cpumask_parse(m, f->data, f->len) == 0;
}

void vms_init(struct vms_analysis *a, const struct sample *statics)
{
	memset(a, 0, sizeof(*a));
	bool ok;
	static_mask(statics, "sys/devices/system/cpu/online", &a->online, &ok);
	a->ncpus_online = ok ? cpumask_weight(&a->online) : 0;
	static_mask(statics, "sys/devices/system/cpu/isolated", &a->isolated, &ok);
	/* isolcpus= on the kernel command line, when the sysfs file is not there */
	const struct sfile *cl = sample_find(statics, "proc/cmdline");
	if (cl && !ok) {
		const char *p = strstr(cl->data, "isolcpus=");
		if (p) {
			p += 9;
			/* flags like "domain,managed_irq," come before the list */
			const char *e = p;
			while (*e && *e != ' ' && *e != '\n')
				e++;
			const char *list = p;
			for (const char *q = p; q < e; q++)
				if (*q == ',' && q + 1 < e && !(q[1] >= '0' && q[1] <= '9'))
					list = q + 1;
				else if (*q >= 'a' && *q <= 'z' && (q == p || q[-1] == ','))
					list = e;
			if (list < e)
				cpumask_parse(&a->isolated, list, (size_t)(e - list));
		}
	}
	for (unsigned n = 0; n < 64; n++) {
		char path[96];
		snprintf(path, sizeof(path), "sys/devices/system/node/node%u/cpulist", n);
		static_mask(statics, path, &a->node_cpus[n], &ok);
		if (ok)
			a->nnodes = n + 1;
	}
}

static struct vms_vm *vm_get(struct vms_analysis *a, int pid, bool create)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->vms[i].pid == pid)
			return &a->vms[i];
	if (!create)
		return NULL;
	xgrow((void **)&a->vms, sizeof(*a->vms), &a->cap, a->n);
	struct vms_vm *vm = &a->vms[a->n++];
	memset(vm, 0, sizeof(*vm));
	vm->pid = pid;
	mig_track_init(&vm->mig);
	return vm;
}

static void map_rebuild(struct vms_analysis *a)
{
	size_t total = 0;
	for (size_t i = 0; i < a->n; i++)
		total += a->vms[i].nth;
	size_t cap = 64;
	while (cap < total * 2 + 2)
		cap *= 2;
	free(a->map);
	a->map = xcalloc(cap, sizeof(*a->map));
	a->map_cap = cap;
	for (size_t i = 0; i < a->n; i++)
		for (size_t j = 0; j < a->vms[i].nth; j++) {
			int tid = a->vms[i].th[j].tid;
			size_t h = ((size_t)tid * 2654435761u) & (cap - 1);
			while (a->map[h].tid)
				h = (h + 1) & (cap - 1);
			a->map[h].tid = tid;
			a->map[h].vm = (unsigned)i;
			a->map[h].th = (unsigned)j;
		}
}

static struct vms_thread *map_find(const struct vms_analysis *a, int tid, struct vms_vm **vm)
{
	if (!a->map_cap || tid <= 0)
		return NULL;
	size_t h = ((size_t)tid * 2654435761u) & (a->map_cap - 1);
	while (a->map[h].tid) {
		if (a->map[h].tid == tid) {
			*vm = &a->vms[a->map[h].vm];
			return &(*vm)->th[a->map[h].th];
		}
		h = (h + 1) & (a->map_cap - 1);
	}
	return NULL;
}

static void jcopy(json_t *o, const char *k, char *out, size_t n)
{
	const char *s = json_string_value(json_object_get(o, k));
	snprintf(out, n, "%s", s ? s : "");
}

/*
 * The migration state of a VM's QMP answers.  vms.json is written on every
 * slow tick, and repeats the last answers of a VM the tick did not reach:
 * each answer is fed once, at the time it was asked for (t_ns).
 */
static void feed_migration(struct vms_vm *vm, json_t *qmp)
{
	vm->qmp_given = true;
	json_t *tj = json_object_get(qmp, "t_ns");
	if (!json_is_integer(tj) || json_integer_value(tj) <= 0)
		return;
	uint64_t t = (uint64_t)json_integer_value(tj);
	if (t <= vm->qmp_t_ns)
		return;
	vm->qmp_t_ns = t;
	struct mig_info mi;
	if (mig_parse(json_object_get(qmp, "migrate"), &mi) == 0)
		mig_track_feed(&vm->mig, &mi, t);
	json_t *pj = json_object_get(qmp, "migrate_parameters"), *cj = json_object_get(qmp, "migrate_capabilities");
	if (pj || cj) {
		struct mig_params p;
		mig_params_init(&p);
		mig_params_parse(pj, &p);
		mig_caps_parse(cj, &p);
		vm->mig.params = p;
	}
}

/*
 * The same for a libvirt VM whose monitor libvirt holds: libvirt's job
 * statistics (virsh domjobinfo --rawstats) while its status XML says it
 * migrates out.  A look that found no migration job is fed as "none" until a
 * migration was seen, so a completed one stays the last answer, as QEMU's do.
 */
static void feed_libvirt_job(struct vms_vm *vm, json_t *lj)
{
	vm->qmp_given = vm->mig_libvirt = true;
	const char *e = json_string_value(json_object_get(lj, "error"));
	snprintf(vm->mig_error, sizeof(vm->mig_error), "%s", e ? e : "");
	json_t *tj = json_object_get(lj, "t_ns");
	if (!json_is_integer(tj) || json_integer_value(tj) <= 0)
		return;
	uint64_t t = (uint64_t)json_integer_value(tj);
	if (t <= vm->qmp_t_ns)
		return;
	vm->qmp_t_ns = t;
	struct mig_info mi;
	json_t *sj = json_object_get(lj, "stats");
	if (json_is_string(sj)) {
		if (mig_parse_libvirt(json_string_value(sj), json_string_length(sj), &mi) == 0)
			mig_track_feed(&vm->mig, &mi, t);
	} else if (!json_is_true(json_object_get(lj, "migrating")) && (!vm->mig.seen || vm->mig.last.status == MIG_NONE)) {
		mig_parse_libvirt("Job type: 0\n", 12, &mi);
		mig_track_feed(&vm->mig, &mi, t);
	}
}

static void feed_json(struct vms_analysis *a, const struct sfile *f)
{
	json_t *j = json_loadb(f->data, f->len, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		a->nbad_json++;
		return;
	}
	a->seen_json = true;
	a->njson++;
	a->root = json_is_true(json_object_get(j, "root"));
	json_t *cost = json_object_get(j, "cost");
	a->cost_sample_us = (uint64_t)json_integer_value(json_object_get(cost, "sample_us"));
	a->cost_discovery_us = (uint64_t)json_integer_value(json_object_get(cost, "discovery_us"));
	a->fds_open = (uint64_t)json_integer_value(json_object_get(cost, "fds_open"));
	a->fds_failed = (uint64_t)json_integer_value(json_object_get(cost, "fds_failed"));
	jcopy(j, "schedstat_source", a->ss_source, sizeof(a->ss_source));
	jcopy(j, "schedstat_source_why", a->ss_why, sizeof(a->ss_why));
	jcopy(j, "schedstat_iter", a->ss_iter, sizeof(a->ss_iter));
	jcopy(j, "schedstat_iter_why", a->ss_iter_why, sizeof(a->ss_iter_why));
	json_t *vms = json_object_get(j, "vms");
	size_t i;
	json_t *v;
	json_array_foreach(vms, i, v) {
		json_int_t pid = json_integer_value(json_object_get(v, "pid"));
		if (pid <= 0 || pid > 1 << 30)
			continue;
		struct vms_vm *vm = vm_get(a, (int)pid, true);
		jcopy(v, "vmm", vm->vmm, sizeof(vm->vmm));
		jcopy(v, "name", vm->name, sizeof(vm->name));
		jcopy(v, "name_source", vm->name_src, sizeof(vm->name_src));
		const char *u = json_string_value(json_object_get(v, "uuid"));
		if (u)
			uuid_canon(u, strlen(u), vm->uuid);
		const char *mi = json_string_value(json_object_get(v, "machine_id"));
		if (mi)
			machine_id_canon(mi, strlen(mi), vm->machine_id);
		vm->vcpus_unnamed = json_is_true(json_object_get(v, "vcpus_unnamed"));
		size_t k;
		json_t *t;
		json_array_foreach(json_object_get(v, "threads"), k, t) {
			json_int_t tid = json_integer_value(json_object_get(t, "tid"));
			if (tid <= 0 || tid > 1 << 30)
				continue;
			struct vms_thread *th = NULL;
			for (size_t q = 0; q < vm->nth && !th; q++)
				if (vm->th[q].tid == tid)
					th = &vm->th[q];
			if (!th) {
				if (vm->nth >= 65536)
					continue;
				xgrow((void **)&vm->th, sizeof(*vm->th), &vm->cap, vm->nth);
				th = &vm->th[vm->nth++];
				memset(th, 0, sizeof(*th));
				th->tid = (int)tid;
				th->processor = -1;
				th->worst_win = -1;
			}
			char kind[16];
			jcopy(t, "kind", kind, sizeof(kind));
			int kd = tkind_from_name(kind);
			th->kind = kd < 0 ? TK_OTHER : (enum tkind)kd;
			json_t *vc = json_object_get(t, "vcpu");
			th->vcpu = json_is_integer(vc) ? (int)json_integer_value(vc) : -1;
			if (th->vcpu < -1 || th->vcpu > 1 << 20)
				th->vcpu = -1;
			jcopy(t, "comm", th->comm, sizeof(th->comm));
			th->kthread = json_is_true(json_object_get(t, "kthread"));
		}
		vm->ntaps = 0;
		json_array_foreach(json_object_get(v, "taps"), k, t) {
			if (vm->ntaps >= ARRAY_SIZE(vm->taps))
				break;
			struct vms_tap *tp = &vm->taps[vm->ntaps++];
			char ifn[32];
			jcopy(t, "ifname", ifn, sizeof(ifn));
			if (strcmp(ifn, tp->ifname) != 0) {
				memset(tp, 0, sizeof(*tp));
				str_copy(tp->ifname, sizeof(tp->ifname), ifn);
			}
			json_int_t q = json_integer_value(json_object_get(t, "queues"));
			tp->queues = q < 0 || q > 65536 ? 0 : (unsigned)q;
		}
		json_t *disks = json_object_get(v, "disks");
		if (!vm->ndisks && json_array_size(disks)) {
			size_t nd = json_array_size(disks);
			if (nd > 16)
				nd = 16;
			vm->disks = xcalloc(nd, sizeof(*vm->disks));
			for (size_t q = 0; q < nd; q++) {
				json_t *dj = json_array_get(disks, q);
				struct vms_disk *d = &vm->disks[vm->ndisks++];
				jcopy(dj, "id", d->id, sizeof(d->id));
				jcopy(dj, "file", d->file, sizeof(d->file));
				jcopy(dj, "dev", d->dev, sizeof(d->dev));
				jcopy(dj, "disk", d->disk, sizeof(d->disk));
				jcopy(dj, "via", d->via, sizeof(d->via));
				jcopy(dj, "error", d->err, sizeof(d->err));
				jcopy(dj, "format", d->format, sizeof(d->format));
				jcopy(dj, "cache", d->cache, sizeof(d->cache));
				jcopy(dj, "aio", d->aio, sizeof(d->aio));
				jcopy(dj, "chain_error", d->chain_why, sizeof(d->chain_why));
				image_chain_from_json(json_object_get(dj, "chain"), &d->chain);
				d->bio_p50_us = d->bio_p99_us = -1;
			}
		}
		json_t *kj = json_object_get(v, "kvm_debugfs");
		if (kj) {
			jcopy(kj, "dir", vm->kvm_dir, sizeof(vm->kvm_dir));
			jcopy(kj, "error", vm->kvm_why, sizeof(vm->kvm_why));
		}
		json_int_t vf = json_integer_value(json_object_get(v, "vhost_net_fds"));
		vm->vhost_fds = vf < 0 || vf > 65536 ? 0 : (unsigned)vf;
		json_t *qmp = json_object_get(v, "qmp");
		json_t *lj = json_object_get(v, "libvirt_job");
		if (qmp)
			feed_migration(vm, qmp);
		else if (json_is_object(lj))
			feed_libvirt_job(vm, lj);
		if (qmp) {
			json_t *bs = json_object_get(qmp, "blockstats");
			if (json_is_array(bs)) {
				if (!vm->qmp_first) {
					vm->qmp_first = json_incref(bs);
				} else {
					json_decref(vm->qmp_last);
					vm->qmp_last = json_incref(bs);
				}
			}
			const char *e = json_string_value(json_object_get(qmp, "error"));
			free(vm->qmp_error);
			vm->qmp_error = e ? xstrdup(e) : NULL;
		}
	}
	json_decref(j);
	map_rebuild(a);
}

static void feed_schedstat(struct vms_thread *t, const struct sfile *f, uint64_t now)
{
	struct task_schedstat ss;
	if (task_schedstat_parse(f->data, f->len, &ss) < 0)
		return;
	if (!t->have_first || ss.delay_ns < t->delay1 || ss.cpu_ns < t->cpu1) {
		/* first sight, or a counter went back (a reused TID): start over */
		t->have_first = true;
		t->t0 = t->t1 = t->win_t = now;
		t->cpu0 = t->cpu1 = t->win_cpu = ss.cpu_ns;
		t->delay0 = t->delay1 = t->win_delay = ss.delay_ns;
		t->nwins = t->win_ge20 = t->win_ge50 = 0;
		t->worst_win = -1;
		return;
	}
	if (now <= t->t1)
		return;
	t->t1 = now;
	t->cpu1 = ss.cpu_ns;
	t->delay1 = ss.delay_ns;
	uint64_t dt = now - t->win_t;
	if (dt >= 950000000ull) {
		double pct = steal_pct(ss.delay_ns - t->win_delay, dt);
		if (pct > 100)
			pct = 100;
		t->nwins++;
		if (pct > t->worst_win)
			t->worst_win = pct;
		if (pct >= 20)
			t->win_ge20++;
		if (pct >= 50)
			t->win_ge50++;
		t->win_t = now;
		t->win_cpu = ss.cpu_ns;
		t->win_delay = ss.delay_ns;
	}
}

/* "proc/PID/..." → pid and the rest */
static bool split_proc(const char *p, int *pid, const char **rest)
{
	if (strncmp(p, "proc/", 5) != 0)
		return false;
	p += 5;
	long v = 0;
	const char *q = p;
	while (*q >= '0' && *q <= '9' && v < 1 << 30)
		v = v * 10 + (*q++ - '0');
	if (q == p || *q != '/')
		return false;
	*pid = (int)v;
	*rest = q + 1;
	return true;
}

static void feed_netdev(struct vms_vm *vm, const struct sfile *f, uint64_t now)
{
	struct scan s = { f->data, f->data + f->len };
	const char *ls, *le;
	while (scan_line(&s, &ls, &le)) {
		const char *colon = memchr(ls, ':', (size_t)(le - ls));
		if (!colon)
			continue;
		const char *n = ls;
		while (n < colon && *n == ' ')
			n++;
		for (unsigned k = 0; k < vm->ntaps; k++) {
			struct vms_tap *tp = &vm->taps[k];
			size_t l = strlen(tp->ifname);
			if ((size_t)(colon - n) != l || memcmp(n, tp->ifname, l) != 0)
				continue;
			uint64_t v[16];
			const char *p = colon + 1;
			int i;
			for (i = 0; i < 16 && scan_u64(&p, le, &v[i]); i++)
				;
			if (i < 16)
				continue;
			int w = tp->have ? 1 : 0;
			tp->rx_pkts[w] = v[1];
			tp->rx_drop[w] = v[3];
			tp->tx_pkts[w] = v[9];
			tp->tx_drop[w] = v[11];
			tp->t[w] = now;
			if (!tp->have) {
				tp->rx_pkts[1] = v[1];
				tp->rx_drop[1] = v[3];
				tp->tx_pkts[1] = v[9];
				tp->tx_drop[1] = v[11];
				tp->t[1] = now;
			}
			tp->have = true;
		}
	}
}

static void feed_vm_file(struct vms_vm *vm, const char *rest, const struct sfile *f, uint64_t now)
{
	if (!strcmp(rest, "status")) {
		static const char *const keys[] = { "HugetlbPages", "VmRSS", "VmSwap" };
		uint64_t v[3];
		bool found[3];
		if (kv_extract(f->data, f->len, keys, 3, v, found) > 0) {
			vm->have_status = true;
			vm->hugetlb_kb = v[0];
			vm->vmrss_kb = v[1];
			vm->vmswap_kb = v[2];
		}
	} else if (!strcmp(rest, "smaps_rollup")) {
		static const char *const keys[] = { "AnonHugePages", "FilePmdMapped", "Private_Hugetlb",
						    "Rss",	     "Shared_Hugetlb", "ShmemPmdMapped", "Swap" };
		uint64_t v[7];
		bool found[7];
		if (kv_extract(f->data, f->len, keys, 7, v, found) > 0) {
			vm->have_rollup = true;
			vm->anon_huge_kb = v[0];
			vm->file_pmd_kb = v[1];
			vm->hugetlb_rollup_kb = v[2] + v[4];
			vm->rss_kb = v[3];
			vm->shmem_pmd_kb = v[5];
			vm->swap_kb = v[6];
		}
	} else if (!strcmp(rest, "numa_maps")) {
		if (numa_maps_parse(f->data, f->len, &vm->nm) == 0)
			vm->have_numa = true;
	} else if (!strcmp(rest, "cmdline")) {
		if (!vm->have_conf && qemu_cmdline_parse(f->data, f->len, &vm->conf) == 0) {
			vm->have_conf = true;
			if (!vm->uuid[0])
				memcpy(vm->uuid, vm->conf.uuid, sizeof(vm->uuid));
			if (!vm->machine_id[0])
				memcpy(vm->machine_id, vm->conf.machine_id, sizeof(vm->machine_id));
		}
	} else if (!strcmp(rest, "net/dev")) {
		feed_netdev(vm, f, now);
	}
}

static void feed_thread_file(struct vms_thread *t, const char *file, const struct sfile *f, uint64_t now)
{
	if (!strcmp(file, "schedstat")) {
		feed_schedstat(t, f, now);
	} else if (!strcmp(file, "stat")) {
		struct task_stat ts;
		if (task_stat_parse(f->data, f->len, &ts) == 0 && ts.processor >= 0)
			t->processor = ts.processor;
	} else if (!strcmp(file, "status")) {
		char list[4096];
		if (status_field(f->data, f->len, "Cpus_allowed_list", list, sizeof(list)) == 0 &&
		    cpumask_parse(&t->allowed, list, strlen(list)) == 0)
			t->have_allowed = true;
	}
}

static void feed_diskstats(struct vms_analysis *a, const struct sfile *f, uint64_t now)
{
	bool want = false;
	for (size_t i = 0; i < a->n && !want; i++)
		for (unsigned k = 0; k < a->vms[i].ndisks && !want; k++)
			want = a->vms[i].disks[k].disk[0] != '\0';
	if (!want)
		return;
	struct diskstats ds = { 0 };
	if (diskstats_parse(f->data, f->len, &ds) < 0)
		return;
	for (size_t i = 0; i < a->n; i++)
		for (unsigned k = 0; k < a->vms[i].ndisks; k++) {
			struct vms_disk *d = &a->vms[i].disks[k];
			const struct disk_stat *st = d->disk[0] ? diskstats_find(&ds, d->disk) : NULL;
			if (!st)
				continue;
			if (!d->have) {
				d->first = *st;
				d->t0 = now;
				d->have = true;
			}
			d->last = *st;
			d->t1 = now;
		}
	diskstats_done(&ds);
}

/* "PID-FD/pages_2m" */
static void feed_kvm_pages(struct vms_analysis *a, const char *rest, const struct sfile *f)
{
	static const char *const names[] = { "pages_4k", "pages_2m", "pages_1g" };
	const char *slash = strchr(rest, '/');
	int pid = atoi(rest);
	struct vms_vm *vm = slash && pid > 0 ? vm_get(a, pid, false) : NULL;
	if (!vm)
		return;
	for (unsigned k = 0; k < ARRAY_SIZE(names); k++) {
		if (strcmp(slash + 1, names[k]) != 0)
			continue;
		char *end;
		unsigned long long v = strtoull(f->data, &end, 10);
		if (end == f->data)
			return;
		vm->kvm_pages[k] = v;
		vm->have_kvm_pages = true;
	}
}

void vms_feed(struct vms_analysis *a, const struct sample *s)
{
	const struct sfile *js = NULL;
	for (size_t i = 0; i < s->nfiles && !js; i++)
		if (!strcmp(s->files[i].path, VMSCAN_JSON_PATH))
			js = &s->files[i];
	if (js)
		feed_json(a, js);
	if (!a->seen_json)
		return;
	if (a->nsamples++ == 0)
		a->first_ns = s->mono_ns;
	a->last_ns = s->mono_ns;
	for (size_t i = 0; i < s->nfiles; i++) {
		const struct sfile *f = &s->files[i];
		int pid;
		const char *rest;
		if (!split_proc(f->path, &pid, &rest)) {
			if (!strcmp(f->path, "proc/diskstats"))
				feed_diskstats(a, f, s->mono_ns);
			else if (!strncmp(f->path, "sys/kernel/debug/kvm/", 21))
				feed_kvm_pages(a, f->path + 21, f);
			if (!strcmp(f->path, "proc/meminfo")) {
				static const char *const k[] = { "MemTotal" };
				uint64_t v;
				bool found;
				if (kv_extract(f->data, f->len, k, 1, &v, &found) > 0 && found)
					a->memtotal_kb = v;
			}
			continue;
		}
		if (!strncmp(rest, "task/", 5)) {
			const char *p = rest + 5;
			long tid = 0;
			while (*p >= '0' && *p <= '9' && tid < 1 << 30)
				tid = tid * 10 + (*p++ - '0');
			if (*p != '/')
				continue;
			struct vms_vm *vm;
			struct vms_thread *t = map_find(a, (int)tid, &vm);
			if (t)
				feed_thread_file(t, p + 1, f, s->mono_ns);
			continue;
		}
		struct vms_vm *vm = vm_get(a, pid, false);
		if (vm)
			feed_vm_file(vm, rest, f, s->mono_ns);
	}
}

void vms_finish(struct vms_analysis *a)
{
	for (size_t i = 0; i < a->n; i++) {
		struct vms_vm *vm = &a->vms[i];
		cpumask_clear(&vm->cpus);
		cpumask_clear(&vm->vcpu_cpus);
		vm->nvcpus = 0;
		for (size_t j = 0; j < vm->nth; j++) {
			struct vms_thread *t = &vm->th[j];
			double dt = (double)(t->t1 - t->t0);
			if (t->have_first && dt > 0) {
				t->delay_pct = steal_pct(t->delay1 - t->delay0, t->t1 - t->t0);
				t->cpu_pct = 100.0 * (double)(t->cpu1 - t->cpu0) / dt;
				if (t->delay_pct > 100)
					t->delay_pct = 100;
				if (t->cpu_pct > 100)
					t->cpu_pct = 100;
			} else {
				t->delay_pct = t->cpu_pct = -1;
			}
			if (t->kind == TK_VCPU)
				vm->nvcpus++;
			if (t->have_allowed) {
				cpumask_or(&vm->cpus, &t->allowed);
				if (t->kind == TK_VCPU)
					cpumask_or(&vm->vcpu_cpus, &t->allowed);
			}
		}
		if (!vm->nvcpus && vm->have_conf)
			vm->nvcpus = vm->conf.vcpus;
	}
	a->finished = true;
}

void vms_done(struct vms_analysis *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->vms[i].th);
		json_decref(a->vms[i].qmp_first);
		json_decref(a->vms[i].qmp_last);
		free(a->vms[i].qmp_error);
		for (unsigned k = 0; k < a->vms[i].ndisks; k++)
			image_chain_done(&a->vms[i].disks[k].chain);
		free(a->vms[i].disks);
	}
	free(a->vms);
	free(a->map);
	memset(a, 0, sizeof(*a));
}

/* ---- derived figures ---- */

double vms_watch_s(const struct vms_analysis *a)
{
	return a->last_ns > a->first_ns ? (double)(a->last_ns - a->first_ns) / 1e9 : 0;
}

unsigned vms_overlap(const struct vms_analysis *a, size_t i, size_t j, struct cpumask *shared)
{
	struct cpumask m;
	cpumask_and(&m, &a->vms[i].cpus, &a->vms[j].cpus);
	if (shared)
		*shared = m;
	return cpumask_weight(&m);
}

size_t vms_cpu_demand(const struct vms_analysis *a, struct vms_cpu_demand *out, size_t n)
{
	size_t k = 0;
	int maxc = 0;
	for (int c = 0; c < VMS_MAX_CPUS; c++)
		if (cpumask_test(&a->online, c))
			maxc = c + 1;
	if (!maxc) /* no online list: the CPUs any thread may use */
		for (size_t i = 0; i < a->n; i++)
			for (int c = 0; c < VMS_MAX_CPUS; c++)
				if (cpumask_test(&a->vms[i].cpus, c) && c + 1 > maxc)
					maxc = c + 1;
	for (int c = 0; c < maxc && k < n; c++) {
		if (a->ncpus_online && !cpumask_test(&a->online, c))
			continue;
		struct vms_cpu_demand *d = &out[k++];
		memset(d, 0, sizeof(*d));
		d->cpu = c;
		for (size_t i = 0; i < a->n; i++) {
			const struct vms_vm *vm = &a->vms[i];
			bool here = false;
			for (size_t j = 0; j < vm->nth; j++) {
				const struct vms_thread *t = &vm->th[j];
				if (!t->have_allowed || !cpumask_test(&t->allowed, c))
					continue;
				here = true;
				unsigned w = cpumask_weight(&t->allowed);
				if (t->kind == TK_VCPU) {
					d->vcpus_allowed++;
					d->vcpus_weighted += 1.0 / w;
				}
				if (t->cpu_pct >= 0) {
					d->demand += (t->cpu_pct + t->delay_pct) / 100.0 / w;
					d->delay += t->delay_pct / 100.0 / w;
				}
			}
			d->vms += here;
		}
	}
	return k;
}

unsigned vms_total_vcpus(const struct vms_analysis *a)
{
	unsigned n = 0;
	for (size_t i = 0; i < a->n; i++)
		n += a->vms[i].nvcpus;
	return n;
}

uint64_t vms_total_guest_mib(const struct vms_analysis *a)
{
	uint64_t n = 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct vms_vm *vm = &a->vms[i];
		if (vm->have_conf && vm->conf.mem_mib)
			n += vm->conf.mem_mib;
		else
			n += vm->vmrss_kb / 1024;
	}
	return n;
}

const struct vms_vm *vms_vm_of_task(const struct vms_analysis *a, int id, const struct vms_thread **thread)
{
	*thread = NULL;
	if (!a || id <= 0)
		return NULL;
	for (size_t i = 0; i < a->n; i++)
		if (a->vms[i].pid == id)
			return &a->vms[i];
	struct vms_vm *vm;
	const struct vms_thread *t = map_find(a, id, &vm);
	if (!t)
		return NULL;
	*thread = t;
	return vm;
}

int vms_thread_level(const struct vms_thread *t)
{
	if (!t->have_first || t->delay_pct < 0)
		return -1;
	enum severity sev = steal_severity(t->delay_pct, t->win_ge20, t->worst_win);
	return sev == SEV_CRIT ? 2 : sev == SEV_WARN ? 1 : 0;
}

double vms_remote_mem_pct(const struct vms_analysis *a, const struct vms_vm *vm)
{
	if (!vm->have_numa || a->nnodes < 2 || vm->nm.total_kb == 0)
		return -1;
	/* nodes the vCPUs (else any thread) may run on */
	const struct cpumask *m = cpumask_weight(&vm->vcpu_cpus) ? &vm->vcpu_cpus : &vm->cpus;
	if (!cpumask_weight(m))
		return -1;
	uint64_t local = 0, total = 0;
	for (unsigned n = 0; n < vm->nm.nodes_seen && n < 64; n++) {
		struct cpumask x;
		cpumask_and(&x, m, &a->node_cpus[n]);
		total += vm->nm.kb_on_node[n];
		if (cpumask_weight(&x))
			local += vm->nm.kb_on_node[n];
	}
	return total ? 100.0 * (double)(total - local) / (double)total : -1;
}

static double jnum(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_number(v) ? json_number_value(v) : -1;
}

static json_t *blk_find(json_t *arr, const char *dev)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		const char *d = json_string_value(json_object_get(v, "device"));
		const char *q = json_string_value(json_object_get(v, "qdev"));
		const char *nm = d && *d ? d : q ? q : json_string_value(json_object_get(v, "node-name"));
		if (nm && !strcmp(nm, dev))
			return v;
	}
	return NULL;
}

const char *const vms_blk_op_names[VMS_BLK_NOPS] = { "read", "write", "flush" };

/* QEMU's histogram of one request type over the watch: s0 NULL or without it counts all of s1's. */
static void blk_hist(const json_t *s0, const json_t *s1, const char *key, struct vms_blk_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->p50_us = h->p99_us = -1;
	struct qmphist a, b, d;
	if (qmphist_parse(json_object_get(s1, key), &b) < 0)
		return;
	h->have = true;
	bool first = qmphist_parse(json_object_get(s0, key), &a) == 0;
	h->reset = qmphist_delta(first ? &a : NULL, &b, &d) == -ESTALE;
	h->n = qmphist_total(&d);
	h->p50_us = qmphist_percentile_us(&d, 0.50, &h->p50_open);
	h->p99_us = qmphist_percentile_us(&d, 0.99, &h->p99_open);
}

size_t vms_blockstats(const struct vms_vm *vm, struct vms_blk *out, size_t n, double secs)
{
	if (!vm->qmp_first || !vm->qmp_last || secs <= 0)
		return 0;
	size_t k = 0, i;
	json_t *v;
	json_array_foreach(vm->qmp_last, i, v) {
		if (k >= n)
			break;
		const char *d = json_string_value(json_object_get(v, "device"));
		const char *q = json_string_value(json_object_get(v, "qdev"));
		const char *nm = d && *d ? d : q ? q : json_string_value(json_object_get(v, "node-name"));
		if (!nm)
			continue;
		json_t *a0 = blk_find(vm->qmp_first, nm);
		json_t *s1 = json_object_get(v, "stats"), *s0 = json_object_get(a0, "stats");
		if (!s0 || !s1)
			continue;
		struct vms_blk *b = &out[k++];
		str_copy(b->device, sizeof(b->device), nm);
		double rops = jnum(s1, "rd_operations") - jnum(s0, "rd_operations");
		double wops = jnum(s1, "wr_operations") - jnum(s0, "wr_operations");
		double fops = jnum(s1, "flush_operations") - jnum(s0, "flush_operations");
		double rns = jnum(s1, "rd_total_time_ns") - jnum(s0, "rd_total_time_ns");
		double wns = jnum(s1, "wr_total_time_ns") - jnum(s0, "wr_total_time_ns");
		double fns = jnum(s1, "flush_total_time_ns") - jnum(s0, "flush_total_time_ns");
		b->rd_ops_s = rops / secs;
		b->wr_ops_s = wops / secs;
		b->rd_lat_us = rops > 0 ? rns / rops / 1000 : -1;
		b->wr_lat_us = wops > 0 ? wns / wops / 1000 : -1;
		b->flush_lat_us = fops > 0 ? fns / fops / 1000 : -1;
		static const char *const hk[VMS_BLK_NOPS] = { "rd_latency_histogram", "wr_latency_histogram",
							      "flush_latency_histogram" };
		for (int o = 0; o < VMS_BLK_NOPS; o++)
			blk_hist(s0, s1, hk[o], &b->hist[o]);
	}
	return k;
}

bool vms_disk_rate(const struct vms_disk *d, struct vms_disk_rate *r)
{
	uint64_t dd[DS_N];
	if (!d->have || d->t1 <= d->t0 || !disk_delta(&d->first, &d->last, dd))
		return false;
	double secs = (double)(d->t1 - d->t0) / 1e9;
	r->rd_s = (double)dd[DS_RD_IOS] / secs;
	r->wr_s = (double)dd[DS_WR_IOS] / secs;
	uint64_t ios = dd[DS_RD_IOS] + dd[DS_WR_IOS];
	r->await_ms = ios ? (double)(dd[DS_RD_MS] + dd[DS_WR_MS]) / (double)ios : -1;
	r->util_pct = 100.0 * (double)dd[DS_IO_MS] / (secs * 1000);
	if (r->util_pct > 100)
		r->util_pct = 100;
	return true;
}

void vms_add_bpf(struct vms_analysis *a, const struct analysis *an)
{
	const char *why = NULL;
	bool ok = bpfhist_available(an, "biolat", &why);
	for (size_t i = 0; i < a->n; i++)
		for (unsigned k = 0; k < a->vms[i].ndisks; k++) {
			struct vms_disk *d = &a->vms[i].disks[k];
			uint64_t h[BPFHIST_SLOTS];
			d->bio_n = 0;
			d->bio_p50_us = d->bio_p99_us = -1;
			if (!d->disk[0])
				continue;
			if (!ok) {
				snprintf(d->bio_why, sizeof(d->bio_why), "eBPF biolat not available%s%.120s",
					 why && *why ? ": " : "", why ? why : "");
			} else if (bpfhist_dev_delta(an, d->disk, "below", NULL, h) < 0) {
				snprintf(d->bio_why, sizeof(d->bio_why), "biolat has no histogram for %s", d->disk);
			} else {
				d->bio_n = bpfhist_total(h);
				d->bio_p50_us = bpfhist_percentile(h, 0.5);
				d->bio_p99_us = bpfhist_percentile(h, 0.99);
				if (!d->bio_n)
					snprintf(d->bio_why, sizeof(d->bio_why), "no IO completed on %s during the watch",
						 d->disk);
			}
		}
}

const char *vms_kvm_pages_why(const struct vms_vm *vm)
{
	if (vm->have_kvm_pages)
		return NULL;
	if (vm->have_conf && !strcmp(vm->conf.accel, "tcg"))
		return "not available under TCG (no KVM VM: the guest is emulated, KVM maps none of its memory)";
	if (vm->kvm_why[0])
		return vm->kvm_why;
	if (vm->kvm_dir[0])
		return "KVM debugfs files not read yet";
	return "no KVM VM of this process in KVM debugfs (not KVM-accelerated?)";
}
