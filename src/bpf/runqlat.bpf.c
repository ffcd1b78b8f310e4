// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Run-queue latency, the kernel half.  Like libbpf-tools' runqlat: stamp a
 * task when it becomes runnable (woken, or switched out while still
 * runnable), and when it is switched in add now - stamp to a log2 histogram
 * of microseconds.  The stamp lives in BPF task storage (no hash lookups on
 * the hot path, freed with the task); the histograms are a per-CPU array
 * indexed by enum rq_kind, so the CPU index of each value is the CPU whose
 * run queue the task waited on.  Nothing is sent to user space per event:
 * user space reads the cumulative counts once a second.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "core_fixes.bpf.h"
#include "runqlat.h"

#define TASK_RUNNING 0

/* configuration, set by user space between open and load */
const volatile bool targ_preempt = true;	/* also time preempted -> run */

struct stamp {
	__u64 ts;	/* 0: not waiting */
	__u32 kind;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct stamp);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RQ_NKINDS);
	__type(key, __u32);
	__type(value, struct rq_hist);
} hists SEC(".maps");

static __always_inline void stamp_task(struct task_struct *p, __u32 kind)
{
	struct stamp *s;

	if (!p->pid)
		return;	/* the idle task */
	s = bpf_task_storage_get(&start, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!s)
		return;
	s->ts = bpf_ktime_get_ns();
	s->kind = kind;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(hq_sched_wakeup, struct task_struct *p)
{
	stamp_task(p, RQ_WAKEUP);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(hq_sched_wakeup_new, struct task_struct *p)
{
	stamp_task(p, RQ_WAKEUP);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(hq_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct rq_hist *h;
	struct stamp *s;
	__u32 kind;
	__u64 now;

	if (targ_preempt && hq_task_state_btf(prev) == TASK_RUNNING)
		stamp_task(prev, RQ_PREEMPT);
	if (!next->pid)
		return 0;
	s = bpf_task_storage_get(&start, next, 0, 0);
	if (!s || !s->ts)
		return 0;
	now = bpf_ktime_get_ns();
	kind = s->kind;
	if (now > s->ts && kind < RQ_NKINDS) {
		h = bpf_map_lookup_elem(&hists, &kind);
		if (h)
			h->slots[hq_slot_idx(now - s->ts, HQ_HIST_SLOTS)]++;
	}
	s->ts = 0;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
