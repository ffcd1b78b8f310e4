// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Block IO latency, the kernel half, split where the guest's view ends:
 *
 *   queued  rq->start_time_ns -> block_rq_issue   time inside the guest's block
 *           layer (plug, scheduler or none, tag wait, dispatch)
 *   below   block_rq_issue -> block_rq_complete   driver, virtqueue, host, the
 *           device, and the wake-up of this vCPU to take the interrupt
 *
 * The kernel stamps rq->start_time_ns itself (blk_mq_rq_ctx_init) whatever
 * the scheduler, including none, so no insert hook is needed; a request
 * without it (iostats off, no scheduler) only counts in `below`.  The issue
 * time is kept in a bounded hash keyed by the request pointer until its
 * completion, as in libbpf-tools' biolatency.  Histograms are per-CPU hash
 * values keyed by disk; the in-flight depth is a shared counter per disk.
 * Nothing goes to user space per event.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "core_fixes.bpf.h"
#include "biolat.h"

#define HQ_REQ_OP_MASK 0xff	/* (1 << REQ_OP_BITS) - 1, REQ_OP_BITS = 8 since 4.10 */

/* configuration, set by user space between open and load */
const volatile bool targ_queued = true;		/* also histogram the queued stage */

struct issued {
	__u64 ts;
	struct bio_dev dev;
	__u32 op;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BIO_MAX_INFLIGHT);
	__type(key, __u64);	/* struct request * */
	__type(value, struct issued);
} reqs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, BIO_MAX_DEVS);
	__type(key, struct bio_dev);
	__type(value, struct bio_hist);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BIO_MAX_DEVS);
	__type(key, struct bio_dev);
	__type(value, struct bio_inflight);
} inflight SEC(".maps");

static struct bio_hist zero_hist;
static struct bio_inflight zero_inflight;

static __always_inline int op_of(struct request *rq)
{
	switch (BPF_CORE_READ(rq, cmd_flags) & HQ_REQ_OP_MASK) {
	case REQ_OP_READ: return BIO_READ;
	case REQ_OP_WRITE: return BIO_WRITE;
	case REQ_OP_FLUSH: return BIO_FLUSH;
	default: return -1;	/* discard, write-zeroes, driver-private: not counted */
	}
}

static __always_inline void hist_add(struct bio_dev *dev, __u32 stage, __u32 op, __u64 ns)
{
	struct bio_hist *h = bpf_map_lookup_elem(&hists, dev);

	if (!h) {
		bpf_map_update_elem(&hists, dev, &zero_hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, dev);
		if (!h)
			return;
	}
	if (stage >= BIO_NSTAGES || op >= BIO_NOPS)
		return;
	h->slots[stage][op][hq_slot_idx(ns, HQ_HIST_SLOTS)]++;
}

static __always_inline void inflight_add(struct bio_dev *dev, __s64 d)
{
	struct bio_inflight *f = bpf_map_lookup_elem(&inflight, dev);
	__s64 now;

	if (!f) {
		bpf_map_update_elem(&inflight, dev, &zero_inflight, BPF_NOEXIST);
		f = bpf_map_lookup_elem(&inflight, dev);
		if (!f)
			return;
	}
	now = __sync_fetch_and_add(&f->now, d) + d;
	if (now > f->max)
		f->max = now;	/* a lost race only under-reports the peak by one */
}

static __always_inline int on_issue(struct request *rq)
{
	struct gendisk *disk = hq_rq_disk(rq);
	struct issued v = {};
	__u64 key = (__u64)rq, start;
	int op = op_of(rq);

	if (op < 0 || !disk)
		return 0;
	v.ts = bpf_ktime_get_ns();
	v.dev.major = BPF_CORE_READ(disk, major);
	v.dev.minor = BPF_CORE_READ(disk, first_minor);
	v.op = op;
	if (targ_queued) {
		start = BPF_CORE_READ(rq, start_time_ns);
		if (start && start <= v.ts)
			hist_add(&v.dev, BIO_QUEUED, op, v.ts - start);
	}
	/* a request issued twice without a requeue keeps one in-flight count */
	if (bpf_map_update_elem(&reqs, &key, &v, BPF_NOEXIST) == 0)
		inflight_add(&v.dev, 1);
	else
		bpf_map_update_elem(&reqs, &key, &v, BPF_EXIST);
	return 0;
}

static __always_inline int on_requeue(struct request *rq)
{
	__u64 key = (__u64)rq;
	struct issued *v = bpf_map_lookup_elem(&reqs, &key);

	if (!v)
		return 0;
	inflight_add(&v->dev, -1);
	bpf_map_delete_elem(&reqs, &key);
	return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(hq_rq_issue, struct request *rq)
{
	return on_issue(rq);
}

/* before 5.11 (commit a54895fa057c): (struct request_queue *, struct request *) */
SEC("tp_btf/block_rq_issue")
int BPF_PROG(hq_rq_issue_old, struct request_queue *q, struct request *rq)
{
	return on_issue(rq);
}

SEC("tp_btf/block_rq_requeue")
int BPF_PROG(hq_rq_requeue, struct request *rq)
{
	return on_requeue(rq);
}

SEC("tp_btf/block_rq_requeue")
int BPF_PROG(hq_rq_requeue_old, struct request_queue *q, struct request *rq)
{
	return on_requeue(rq);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(hq_rq_complete, struct request *rq, int error, unsigned int nr_bytes)
{
	__u64 key = (__u64)rq, now;
	struct issued *v = bpf_map_lookup_elem(&reqs, &key);
	struct issued c;

	if (!v)
		return 0;
	c = *v;
	bpf_map_delete_elem(&reqs, &key);
	now = bpf_ktime_get_ns();
	if (now > c.ts)
		hist_add(&c.dev, BIO_BELOW, c.op, now - c.ts);
	inflight_add(&c.dev, -1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
