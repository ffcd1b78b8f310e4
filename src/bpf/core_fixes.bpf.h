/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * Kernel drift, in one place.  Each shim names the commit that changed the
 * kernel, reads the new layout when the running kernel's BTF has it (CO-RE
 * field-existence checks are resolved at load time), and the old one
 * otherwise.  Signature changes of tracepoints cannot be handled inside one
 * program: those get two programs and user space enables the one that matches
 * (see biolat.bpf.c and sources/bpf/biolat.c).
 */
#ifndef HQ_CORE_FIXES_BPF_H
#define HQ_CORE_FIXES_BPF_H

#include <vmlinux.h>
#include <bpf/bpf_core_read.h>

/*
 * task_struct::state became __state (unsigned int) in 5.14,
 * commit 2f064a59a11f ("sched: Change task_struct::state").
 */
struct task_struct___o {
	volatile long int state;
} __attribute__((preserve_access_index));

struct task_struct___x {
	unsigned int __state;
} __attribute__((preserve_access_index));

static __always_inline __s64 hq_task_state(void *task)
{
	struct task_struct___x *t = task;

	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___o *)task, state);
}

/*
 * The same for a trusted task pointer (a tp_btf argument): a plain load at
 * the relocated offset instead of a bpf_probe_read_kernel() call, which
 * matters on sched_switch, the hottest tracepoint there is.
 */
static __always_inline __s64 hq_task_state_btf(struct task_struct *task)
{
	struct task_struct___x *t = (void *)task;

	if (bpf_core_field_exists(t->__state))
		return t->__state;
	return ((struct task_struct___o *)(void *)task)->state;
}

/*
 * request::rq_disk was removed in 5.17, commit f3fa33acca9f ("block: remove
 * the ->rq_disk field in struct request"); the disk is rq->q->disk since.
 */
struct request___o {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

struct request___x {
	struct request_queue *q;
} __attribute__((preserve_access_index));

struct request_queue___x {
	struct gendisk *disk;
} __attribute__((preserve_access_index));

static __always_inline struct gendisk *hq_rq_disk(void *rq)
{
	struct request___x *r = rq;

	if (bpf_core_field_exists(((struct request___o *)rq)->rq_disk))
		return BPF_CORE_READ((struct request___o *)rq, rq_disk);
	return BPF_CORE_READ(r, q, disk);
}

/*
 * block_rq_issue and block_rq_requeue lost their `struct request_queue *`
 * argument in 5.11, commit a54895fa057c ("block: remove the request_queue to
 * argument request based tracepoints").  biolat.bpf.c carries both
 * signatures; user space loads the one the kernel's BTF describes.
 */

/* log2 of v, rounded down (0 for 0) */
static __always_inline __u32 hq_log2(__u32 v)
{
	__u32 r, shift;

	r = (v > 0xFFFF) << 4; v >>= r;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u32 hq_log2l(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? hq_log2(hi) + 32 : hq_log2(v);
}

/* the log2 microsecond slot of a delay in ns, clamped to the last slot */
static __always_inline __u32 hq_slot_ns(__u64 ns, __u32 nslots)
{
	__u32 s = hq_log2l(ns / 1000);

	return s < nslots ? s : nslots - 1;
}

/*
 * hq_slot_ns() as an array index the verifier can bound (nslots a power of
 * two).  Clang drops a mask it can prove redundant, and the 6.1 verifier then
 * loses the bound through the 32-bit zero extension and rejects the access
 * ("R0 unbounded memory access", load fails with EACCES); a compiler barrier
 * before the mask keeps it.  6.18's verifier tracks the bound either way.
 */
static __always_inline __u64 hq_slot_idx(__u64 ns, __u32 nslots)
{
	__u64 s = hq_slot_ns(ns, nslots);

	barrier_var(s);
	return s & (nslots - 1);
}

#endif
