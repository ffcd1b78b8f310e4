// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * Block IO latency, the user half: picks the block_rq_issue/requeue programs
 * that match the kernel's tracepoint signatures (they lost an argument in
 * 5.11, commit a54895fa057c), loads biolat.bpf.c, and turns its per-disk maps
 * into ".hiddenq/biolat.json":
 *
 *   {"available":true,"unit":"us","buckets":"log2",
 *    "devices":{"vda":{"queued":{"read":[...],"write":[...],"flush":[...]},
 *                      "below":{"read":[...],"write":[...],"flush":[...]},
 *                      "inflight_max":N,"inflight_now":N}},
 *    "cpuidle":{"driver":"haltpoll","states":[{"name":"POLL","exit_latency_us":0},...]}}
 *
 * Disk names come from /sys/dev/block/MAJ:MIN/uevent (DEVNAME), else
 * "MAJ:MIN".  The cpuidle driver and its states' exit latencies are read once
 * at load: the `below` stage includes this vCPU's wake-up from idle.
 */
#include "bpfsrc_int.h"

#ifdef HQ_WITH_BPF
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include "../../core/util.h"
#include "../../bpf/biolat.h"
#include "biolat.skel.h"

struct devname {
	struct bio_dev dev;
	char name[64];
};

struct biolat {
	struct biolat_bpf *skel;
	int ncpus;
	struct bio_hist *vals;	/* ncpus values of one key */
	struct devname names[BIO_MAX_DEVS];
	unsigned nnames;
	json_t *cpuidle;
};

/* Arguments of a tracepoint after the context pointer, from BTF; < 0 if unknown. */
static int tp_nargs(const struct btf *vm, const char *tp)
{
	char name[64];
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	int id = btf__find_by_name_kind(vm, name, BTF_KIND_TYPEDEF);
	if (id < 0)
		return -ENOENT;
	const struct btf_type *t = btf__type_by_id(vm, id);
	t = t ? btf__type_by_id(vm, t->type) : NULL;
	if (!t || !btf_is_ptr(t))
		return -EINVAL;
	t = btf__type_by_id(vm, t->type);
	if (!t || !btf_is_func_proto(t))
		return -EINVAL;
	return (int)btf_vlen(t) - 1;
}

static char *read_line(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char buf[256];
	char *s = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!s)
		return NULL;
	buf[strcspn(buf, "\n")] = '\0';
	return xstrdup(buf);
}

static json_t *read_cpuidle(void)
{
	json_t *j = json_object();
	char *drv = read_line("/sys/devices/system/cpu/cpuidle/current_driver");
	json_object_set_new(j, "driver", drv ? json_string(drv) : json_null());
	free(drv);
	json_t *states = json_array();
	for (int i = 0; i < 16; i++) {
		char p[128];
		snprintf(p, sizeof(p), "/sys/devices/system/cpu/cpu0/cpuidle/state%d/name", i);
		char *name = read_line(p);
		if (!name)
			break;
		snprintf(p, sizeof(p), "/sys/devices/system/cpu/cpu0/cpuidle/state%d/latency", i);
		char *lat = read_line(p);
		json_t *st = json_object();
		json_object_set_new(st, "name", json_string(name));
		json_object_set_new(st, "exit_latency_us", json_integer(lat ? strtoll(lat, NULL, 10) : -1));
		json_array_append_new(states, st);
		free(name);
		free(lat);
	}
	json_object_set_new(j, "states", states);
	return j;
}

static const char *dev_name(struct biolat *b, const struct bio_dev *d)
{
	for (unsigned i = 0; i < b->nnames; i++)
		if (b->names[i].dev.major == d->major && b->names[i].dev.minor == d->minor)
			return b->names[i].name;
	static char tmp[64];
	struct devname *n = b->nnames < BIO_MAX_DEVS ? &b->names[b->nnames++] : NULL;
	char *name = n ? n->name : tmp;
	snprintf(name, 64, "%u:%u", d->major, d->minor);
	char p[96];
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/uevent", d->major, d->minor);
	FILE *f = fopen(p, "re");
	if (f) {
		char line[160];
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "DEVNAME=", 8) == 0) {
				line[strcspn(line, "\n")] = '\0';
				size_t l = strlen(line + 8);
				if (l > 63)
					l = 63;
				memcpy(name, line + 8, l);
				name[l] = '\0';
				break;
			}
		fclose(f);
	}
	if (n)
		n->dev = *d;
	return name;
}

struct biolat *biolat_open(char **why)
{
	struct btf *vm = btf__load_vmlinux_btf();
	if (!vm) {
		*why = bpfsrc_reason("kernel BTF (/sys/kernel/btf/vmlinux)", errno);
		return NULL;
	}
	int issue = tp_nargs(vm, "block_rq_issue");
	int requeue = tp_nargs(vm, "block_rq_requeue");
	int complete = tp_nargs(vm, "block_rq_complete");
	btf__free(vm);
	if (issue < 0 || complete < 0) {
		*why = xasprintf("tracepoint %s is not in this kernel's BTF (tp_btf unavailable)",
				 issue < 0 ? "block_rq_issue" : "block_rq_complete");
		return NULL;
	}
	struct biolat_bpf *skel = biolat_bpf__open();
	if (!skel) {
		*why = bpfsrc_reason("failed to open the block IO eBPF object", errno);
		return NULL;
	}
	/* one (struct request *) argument since 5.11, (q, rq) before */
	bool old = issue >= 2;
	bpf_program__set_autoload(skel->progs.hq_rq_issue, !old);
	bpf_program__set_autoload(skel->progs.hq_rq_issue_old, old);
	bpf_program__set_autoload(skel->progs.hq_rq_requeue, requeue == 1);
	bpf_program__set_autoload(skel->progs.hq_rq_requeue_old, requeue >= 2);
	skel->rodata->targ_queued = true;
	int err = biolat_bpf__load(skel);
	if (err) {
		*why = bpfsrc_reason("failed to load the block IO eBPF programs", err);
		biolat_bpf__destroy(skel);
		return NULL;
	}
	err = biolat_bpf__attach(skel);
	if (err) {
		*why = bpfsrc_reason("failed to attach to the block tracepoints", err);
		biolat_bpf__destroy(skel);
		return NULL;
	}
	struct biolat *b = xcalloc(1, sizeof(*b));
	b->skel = skel;
	b->ncpus = libbpf_num_possible_cpus();
	if (b->ncpus < 1)
		b->ncpus = 1;
	b->vals = xcalloc((size_t)b->ncpus, sizeof(*b->vals));
	b->cpuidle = read_cpuidle();
	return b;
}

static const char *const op_names[BIO_NOPS] = { "read", "write", "flush" };
static const char *const stage_names[BIO_NSTAGES] = { "queued", "below" };

json_t *biolat_read(struct biolat *b)
{
	int hfd = bpf_map__fd(b->skel->maps.hists);
	int ffd = bpf_map__fd(b->skel->maps.inflight);
	json_t *devs = json_object();
	struct bio_dev key, next;
	bool first = true;
	unsigned guard = 0;
	while (guard++ < BIO_MAX_DEVS * 2 && bpf_map_get_next_key(hfd, first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (bpf_map_lookup_elem(hfd, &key, b->vals) != 0)
			continue;
		uint64_t sum[BIO_NSTAGES][BIO_NOPS][HQ_HIST_SLOTS];
		memset(sum, 0, sizeof(sum));
		for (int c = 0; c < b->ncpus; c++)
			for (int s = 0; s < BIO_NSTAGES; s++)
				for (int o = 0; o < BIO_NOPS; o++)
					for (int i = 0; i < HQ_HIST_SLOTS; i++)
						sum[s][o][i] += b->vals[c].slots[s][o][i];
		json_t *d = json_object();
		for (int s = 0; s < BIO_NSTAGES; s++) {
			json_t *st = json_object();
			for (int o = 0; o < BIO_NOPS; o++)
				json_object_set_new(st, op_names[o], bpfsrc_hist_json(sum[s][o], HQ_HIST_SLOTS));
			json_object_set_new(d, stage_names[s], st);
		}
		struct bio_inflight f = { 0, 0 };
		bpf_map_lookup_elem(ffd, &key, &f);
		json_object_set_new(d, "inflight_max", json_integer(f.max));
		json_object_set_new(d, "inflight_now", json_integer(f.now < 0 ? 0 : f.now));
		json_object_set_new(devs, dev_name(b, &key), d);
	}
	json_t *j = json_object();
	json_object_set_new(j, "available", json_true());
	json_object_set_new(j, "unit", json_string("us"));
	json_object_set_new(j, "buckets", json_string("log2"));
	json_object_set_new(j, "devices", devs);
	json_object_set(j, "cpuidle", b->cpuidle);
	return j;
}

void biolat_close(struct biolat *b)
{
	if (!b)
		return;
	biolat_bpf__destroy(b->skel);
	json_decref(b->cpuidle);
	free(b->vals);
	free(b);
}
#else
typedef int hq_biolat_without_bpf; /* ISO C: a translation unit is not empty */
#endif
