// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * Run-queue latency, the user half: checks that the kernel has what
 * runqlat.bpf.c needs (the sched tracepoints in BTF, BPF task storage),
 * loads it through its skeleton (open -> set rodata -> load -> attach), and
 * turns the per-CPU histogram array into ".hiddenq/runqlat.json":
 *
 *   {"available":true,"unit":"us","buckets":"log2",
 *    "kinds":{"wakeup":[...],"preempt":[...]},"per_cpu":{"0":[...],...}}
 *
 * kinds sum over CPUs; per_cpu sums over kinds and lists the CPUs with at
 * least one count.  Counts are cumulative since load.
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
#include "../../bpf/runqlat.h"
#include "runqlat.skel.h"

struct runqlat {
	struct runqlat_bpf *skel;
	int ncpus;
	struct rq_hist *vals;	/* ncpus values of one key */
};

/* NULL when every tracepoint is described by the kernel's BTF, else the reason. */
static char *missing_tracepoints(void)
{
	static const char *const tps[] = { "sched_switch", "sched_wakeup", "sched_wakeup_new" };
	struct btf *vm = btf__load_vmlinux_btf();
	if (!vm)
		return bpfsrc_reason("kernel BTF (/sys/kernel/btf/vmlinux)", errno);
	char *why = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(tps) && !why; i++) {
		char name[64];
		snprintf(name, sizeof(name), "btf_trace_%s", tps[i]);
		if (btf__find_by_name_kind(vm, name, BTF_KIND_TYPEDEF) < 0)
			why = xasprintf("tracepoint %s is not in this kernel's BTF (tp_btf unavailable)", tps[i]);
	}
	btf__free(vm);
	return why;
}

struct runqlat *runqlat_open(char **why)
{
	*why = missing_tracepoints();
	if (*why)
		return NULL;
	/* 1 yes, 0 no, < 0 unknown (e.g. not privileged: the load says why) */
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) == 0) {
		*why = xstrdup("this kernel has no BPF task storage (needs Linux 5.11 or later)");
		return NULL;
	}
	struct runqlat_bpf *skel = runqlat_bpf__open();
	if (!skel) {
		*why = bpfsrc_reason("failed to open the run-queue eBPF object", errno);
		return NULL;
	}
	skel->rodata->targ_preempt = true;
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
	return r;
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
				cpu[(size_t)c * HQ_HIST_SLOTS + (size_t)s] += r->vals[c].slots[s];
			}
	}
	json_t *j = json_object();
	json_object_set_new(j, "available", json_true());
	json_object_set_new(j, "unit", json_string("us"));
	json_object_set_new(j, "buckets", json_string("log2"));
	json_t *jk = json_object();
	json_object_set_new(jk, "wakeup", bpfsrc_hist_json(kinds[RQ_WAKEUP], HQ_HIST_SLOTS));
	json_object_set_new(jk, "preempt", bpfsrc_hist_json(kinds[RQ_PREEMPT], HQ_HIST_SLOTS));
	json_object_set_new(j, "kinds", jk);
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
	return j;
}

void runqlat_close(struct runqlat *r)
{
	if (!r)
		return;
	runqlat_bpf__destroy(r->skel);
	free(r->vals);
	free(r);
}
#else
typedef int hq_runqlat_without_bpf; /* ISO C: a translation unit is not empty */
#endif
