// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * Direct compaction durations, the user half: checks that the kernel's BTF
 * describes mm_compaction_begin/mm_compaction_end with their
 * compact_control argument (since 4.1) and that BPF task storage exists,
 * loads compact.bpf.c through its skeleton, and turns the per-CPU histogram
 * into ".hiddenq/compact.json":
 *
 *   {"available":true,"unit":"us","buckets":"log2",
 *    "direct":[...],"count":N,"sum_us":N,"max_us":N}
 *
 * direct: one count per direct compaction run of one zone (compact_zone()
 * called for an allocating task), by its duration.  count is the
 * histogram's total, sum_us their total duration, max_us the longest one.
 * All cumulative since load (max_us is the maximum since load).
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
#include "../../bpf/compact.h"
#include "compact.skel.h"

struct compact {
	struct compact_bpf *skel;
	int ncpus;
	struct compact_hist *vals;	/* ncpus values of key 0 */
};

/* Whether the tracepoint's first argument (after the context) is a struct compact_control pointer. */
static bool takes_cc(const struct btf *vm, const char *tp)
{
	char name[64];
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	int id = btf__find_by_name_kind(vm, name, BTF_KIND_TYPEDEF);
	const struct btf_type *t = id < 0 ? NULL : btf__type_by_id(vm, id);
	t = t ? btf__type_by_id(vm, t->type) : NULL;
	if (!t || !btf_is_ptr(t))
		return false;
	t = btf__type_by_id(vm, t->type);
	if (!t || !btf_is_func_proto(t) || btf_vlen(t) < 2)
		return false;
	t = btf__type_by_id(vm, btf_params(t)[1].type);
	while (t && (btf_is_mod(t) || btf_is_typedef(t)))
		t = btf__type_by_id(vm, t->type);
	if (!t || !btf_is_ptr(t))
		return false;
	t = btf__type_by_id(vm, t->type);
	const char *n = t ? btf__name_by_offset(vm, t->name_off) : NULL;
	return n && strcmp(n, "compact_control") == 0;
}

/* NULL when the kernel's BTF has what compact.bpf.c needs, else the reason. */
static char *missing_tracepoints(void)
{
	static const char *const tps[] = { "mm_compaction_begin", "mm_compaction_end" };
	struct btf *vm = btf__load_vmlinux_btf();
	if (!vm)
		return bpfsrc_reason("kernel BTF (/sys/kernel/btf/vmlinux)", errno);
	char *why = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(tps) && !why; i++) {
		char name[64];
		snprintf(name, sizeof(name), "btf_trace_%s", tps[i]);
		if (btf__find_by_name_kind(vm, name, BTF_KIND_TYPEDEF) < 0)
			why = xasprintf("tracepoint %s is not in this kernel's BTF (built without CONFIG_COMPACTION, "
					"or tp_btf unavailable)", tps[i]);
		else if (!takes_cc(vm, tps[i]))
			why = xasprintf("tracepoint %s does not take a struct compact_control in this kernel "
					"(before Linux 4.1)", tps[i]);
	}
	btf__free(vm);
	return why;
}

struct compact *compact_open(char **why)
{
	*why = missing_tracepoints();
	if (*why)
		return NULL;
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) == 0) {
		*why = xstrdup("this kernel has no BPF task storage (needs Linux 5.11 or later)");
		return NULL;
	}
	struct compact_bpf *skel = compact_bpf__open();
	if (!skel) {
		*why = bpfsrc_reason("failed to open the compaction eBPF object", errno);
		return NULL;
	}
	int err = compact_bpf__load(skel);
	if (err) {
		*why = bpfsrc_reason("failed to load the compaction eBPF programs", err);
		compact_bpf__destroy(skel);
		return NULL;
	}
	err = compact_bpf__attach(skel);
	if (err) {
		*why = bpfsrc_reason("failed to attach to the compaction tracepoints", err);
		compact_bpf__destroy(skel);
		return NULL;
	}
	struct compact *c = xcalloc(1, sizeof(*c));
	c->skel = skel;
	c->ncpus = libbpf_num_possible_cpus();
	if (c->ncpus < 1)
		c->ncpus = 1;
	c->vals = xcalloc((size_t)c->ncpus, sizeof(*c->vals));
	return c;
}

json_t *compact_read(struct compact *c)
{
	__u32 key = 0;
	if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.hists), &key, c->vals) != 0)
		return NULL;
	uint64_t slots[HQ_COMPACT_SLOTS] = { 0 }, count = 0, sum_ns = 0, max_ns = 0;
	for (int i = 0; i < c->ncpus; i++) {
		for (int s = 0; s < HQ_COMPACT_SLOTS; s++) {
			slots[s] += c->vals[i].slots[s];
			count += c->vals[i].slots[s];
		}
		sum_ns += c->vals[i].sum_ns;
		if (c->vals[i].max_ns > max_ns)
			max_ns = c->vals[i].max_ns;
	}
	json_t *j = json_object();
	json_object_set_new(j, "available", json_true());
	json_object_set_new(j, "unit", json_string("us"));
	json_object_set_new(j, "buckets", json_string("log2"));
	json_object_set_new(j, "direct", bpfsrc_hist_json(slots, HQ_COMPACT_SLOTS));
	json_object_set_new(j, "count", json_integer((json_int_t)count));
	json_object_set_new(j, "sum_us", json_integer((json_int_t)(sum_ns / 1000)));
	json_object_set_new(j, "max_us", json_integer((json_int_t)(max_ns / 1000)));
	return j;
}

void compact_close(struct compact *c)
{
	if (!c)
		return;
	compact_bpf__destroy(c->skel);
	free(c->vals);
	free(c);
}
#else
typedef int hq_compact_without_bpf; /* ISO C: a translation unit is not empty */
#endif
