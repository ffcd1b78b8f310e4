// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Direct compaction durations, the kernel half.  compact_zone() brackets
 * each compaction run of one zone with mm_compaction_begin and
 * mm_compaction_end, both carrying its compact_control; when the run is a
 * direct one (cc->direct_compaction: an allocating task compacting before
 * it gets its page, as opposed to kcompactd or a write to
 * /proc/sys/vm/compact_memory) the task waits for all of it.  Stamp the task
 * at begin (BPF task storage, like runqlat), and at end add now - stamp to
 * a log2 histogram of microseconds, a sum and a maximum, in a per-CPU
 * array.  Nothing is sent to user space per event.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "core_fixes.bpf.h"
#include "compact.h"

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct compact_hist);
} hists SEC(".maps");

SEC("tp_btf/mm_compaction_begin")
int BPF_PROG(hq_compaction_begin, struct compact_control *cc)
{
	struct task_struct *t;
	__u64 *ts;

	if (!cc->direct_compaction)
		return 0;
	t = bpf_get_current_task_btf();
	ts = bpf_task_storage_get(&start, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (ts)
		*ts = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/mm_compaction_end")
int BPF_PROG(hq_compaction_end, struct compact_control *cc)
{
	struct compact_hist *h;
	struct task_struct *t;
	__u32 key = 0;
	__u64 *ts, now, d, slot;

	if (!cc->direct_compaction)
		return 0;
	t = bpf_get_current_task_btf();
	ts = bpf_task_storage_get(&start, t, 0, 0);
	if (!ts || !*ts)
		return 0;
	now = bpf_ktime_get_ns();
	d = now > *ts ? now - *ts : 0;
	*ts = 0;
	h = bpf_map_lookup_elem(&hists, &key);
	if (!h)
		return 0;
	/*
	 * A 64-bit index masked after a compiler barrier: clang drops a mask
	 * it can prove redundant, and the 6.1 verifier then loses the bound
	 * through the 32-bit zero extension ("unbounded memory access").
	 */
	slot = hq_slot_ns(d, HQ_COMPACT_SLOTS);
	barrier_var(slot);
	slot &= HQ_COMPACT_SLOTS - 1;
	h->slots[slot]++;
	h->sum_ns += d;
	if (d > h->max_ns)
		h->max_ns = d;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
