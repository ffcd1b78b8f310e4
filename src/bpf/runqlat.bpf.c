// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Run-queue latency, the kernel half.  Like libbpf-tools' runqlat: stamp a
 * task when it becomes runnable (woken, or switched out while still
 * runnable), and when it is switched in add now - stamp to a log2 histogram
 * of microseconds.  Nothing is sent to user space per event: user space
 * reads the cumulative counts once a second.
 *
 * What each event costs, and why (sched_switch is the hottest tracepoint
 * there is; docs/bpf-sources.md has the measurements):
 *  - the stamp lives in BPF task storage: one helper call, no hash update on
 *    wake-up and no hash delete on switch-in (libbpf-tools does both), and
 *    it is freed with the task;
 *  - the idle task (pid 0) is dropped before anything else is read;
 *  - prev's state is read only when prev is not the idle task, with a plain
 *    load (tp_btf pointers are trusted), and the clock is read once per
 *    switch even when prev is stamped and next is measured;
 *  - the histograms are a per-CPU array indexed by kind (the kernel inlines
 *    that lookup; no atomics), so the CPU index of each value is the CPU
 *    whose run queue the task waited on;
 *  - per-cgroup histograms (targ_cgroup) cost four dependent loads and one
 *    LRU hash lookup per measured wait; off, the verifier drops the code.
 *
 * The idle split: a wait that ends with a switch from the idle task is a task
 * woken onto an idle CPU (in a guest, a halted vCPU the host had to wake), and
 * goes to its own key, RQ_IDLE; the test is one load of prev->pid, already in
 * the cache.  Only those switches (one per idle exit, each an exit to the host
 * in a guest) may look at the IPI stamps below.  Programs on the IPI
 * tracepoints (Linux 6.6's ipi_send_cpu, x86's call_function_single_entry and
 * reschedule_entry) run once per IPI, not per switch: they stamp the send, and
 * on arrival at an idle CPU record its flight time (RQ_IPI) and let that CPU's
 * next wait start at the send (see idle_wait).
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "core_fixes.bpf.h"
#include "runqlat.h"

#define TASK_RUNNING 0

/* configuration, set by user space between open and load (frozen: dead branches are removed) */
const volatile bool targ_cgroup = true;	/* per-cgroup (v2 id of the woken task) histograms */
const volatile bool targ_floor = false;	/* bench only: attach the programs and do nothing */
const volatile bool targ_ipi = false;	/* the IPI programs are loaded: wake-ups of idle CPUs start at the IPI */

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

/* key: cgroup v2 id (kernfs node id = the directory's inode number) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, RQ_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, struct rq_hist);
} cg_hists SEC(".maps");

/* per target CPU, written by senders: when the first IPI it has not yet handled was sent (0: none) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);	/* possible CPUs, set by user space */
	__type(key, __u32);
	__type(value, __u64);
} ipi_sent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rq_ipi_wake);
} ipi_wake SEC(".maps");

/* how far the enqueue may follow the IPI's arrival and still be its work (the wake-up list runs in the handler) */
#define IPI_ENQUEUE_SLACK_NS 50000ull
#define IPI_ENQUEUE_WINDOW_NS 1000000ull

static const struct rq_hist zero_hist;

static __always_inline void stamp_task(struct task_struct *p, __u32 kind, __u64 now)
{
	struct stamp *s = bpf_task_storage_get(&start, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!s)
		return;
	s->ts = now;
	s->kind = kind;
}

static __always_inline void cg_account(struct task_struct *p, __u32 slot)
{
	struct rq_hist *h;
	__u64 id;

	id = p->cgroups->dfl_cgrp->kn->id;
	h = bpf_map_lookup_elem(&cg_hists, &id);
	if (!h) {
		bpf_map_update_elem(&cg_hists, &id, &zero_hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&cg_hists, &id);
		if (!h)
			return;
	}
	barrier_var(slot);
	h->slots[slot & (HQ_HIST_SLOTS - 1)]++;
}

/* One measured wait of `next`: its per-CPU histogram slot, and its cgroup's when asked for. */
static __always_inline void account(struct task_struct *next, __u32 kind, __u64 delta)
{
	__u32 slot = hq_slot_idx(delta, HQ_HIST_SLOTS);	/* masked after a barrier: the 6.1 verifier needs the bound */
	struct rq_hist *h = bpf_map_lookup_elem(&hists, &kind);

	if (h)
		h->slots[slot]++;
	if (targ_cgroup)
		cg_account(next, slot);
}

static __always_inline void hist_add(__u32 kind, __u64 delta)
{
	__u32 slot = hq_slot_idx(delta, HQ_HIST_SLOTS);
	struct rq_hist *h = bpf_map_lookup_elem(&hists, &kind);

	if (h)
		h->slots[slot]++;
}

/*
 * A wake-up onto an idle CPU, as the waiting task sees it.  When the waker's
 * CPU queues the task on the idle CPU's wake list (the kernel does when that
 * CPU is idle), the enqueue, and with it the queued stamp, happens only in
 * the IPI handler on the idle CPU, after a halted vCPU was woken: the stamp
 * misses the very wait we want.  When an IPI reached this CPU while it was
 * idle and the task was queued right after it arrived, the wait starts at
 * the IPI's sending instead.  queued_ns is the enqueue in ktime (the queued
 * mode converts the run queue's clock), now the end of the wait.
 */
static __always_inline __u64 idle_wait(__u64 queued_ns, __u64 now, __u64 delta)
{
	__u32 z = 0;
	struct rq_ipi_wake *w;

	if (!targ_ipi)
		return delta;
	w = bpf_map_lookup_elem(&ipi_wake, &z);
	if (!w || !w->recv)
		return delta;
	if (queued_ns + IPI_ENQUEUE_SLACK_NS >= w->recv && queued_ns <= w->recv + IPI_ENQUEUE_WINDOW_NS &&
	    w->sent < queued_ns && now > w->sent && now - w->sent > delta)
		delta = now - w->sent;
	w->recv = 0;
	return delta;
}

SEC("tp_btf/ipi_send_cpu")
int BPF_PROG(hq_ipi_send_cpu, unsigned int cpu, unsigned long callsite, void *callback)
{
	__u32 k = cpu;
	__u64 *t;

	if (targ_floor)
		return 0;
	t = bpf_map_lookup_elem(&ipi_sent, &k);
	if (t && !*t)
		*t = bpf_ktime_get_ns();
	return 0;
}

/* An IPI arrived on this CPU: how long it flew when it woke the CPU from idle. */
static __always_inline void ipi_arrived(void)
{
	__u32 cpu = bpf_get_smp_processor_id(), z = 0;
	struct task_struct *cur;
	struct rq_ipi_wake *w;
	__u64 *t, sent, now;

	t = bpf_map_lookup_elem(&ipi_sent, &cpu);
	if (!t || !*t)
		return;
	sent = *t;
	*t = 0;
	cur = bpf_get_current_task_btf();
	if (cur->pid)
		return;	/* the CPU was running something: not a wake-up from idle */
	now = bpf_ktime_get_ns();
	if (now <= sent)
		return;
	w = bpf_map_lookup_elem(&ipi_wake, &z);
	if (w) {
		w->sent = sent;
		w->recv = now;
	}
	hist_add(RQ_IPI, now - sent);
}

SEC("tp_btf/call_function_single_entry")
int BPF_PROG(hq_ipi_call_single, int vector)
{
	if (!targ_floor)
		ipi_arrived();
	return 0;
}

SEC("tp_btf/reschedule_entry")
int BPF_PROG(hq_ipi_reschedule, int vector)
{
	if (!targ_floor)
		ipi_arrived();
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(hq_sched_wakeup, struct task_struct *p)
{
	if (targ_floor || !p->pid)
		return 0;
	stamp_task(p, RQ_WAKEUP, bpf_ktime_get_ns());
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(hq_sched_wakeup_new, struct task_struct *p)
{
	if (targ_floor || !p->pid)
		return 0;
	stamp_task(p, RQ_WAKEUP, bpf_ktime_get_ns());
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(hq_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct stamp *s;
	__u64 now = 0, delta;
	__u32 kind;

	if (targ_floor)
		return 0;
	if (prev->pid && hq_task_state_btf(prev) == TASK_RUNNING) {
		now = bpf_ktime_get_ns();
		stamp_task(prev, RQ_PREEMPT, now);
	}
	if (!next->pid)
		return 0;
	s = bpf_task_storage_get(&start, next, 0, 0);
	if (!s || !s->ts)
		return 0;
	if (!now)
		now = bpf_ktime_get_ns();
	delta = now - s->ts;
	kind = s->kind & 1;
	s->ts = 0;
	if ((__s64)delta < 0)
		return 0;
	if (!prev->pid && kind == RQ_WAKEUP) {	/* woken onto this CPU while it idled */
		delta = idle_wait(now - delta, now, delta);
		kind = RQ_IDLE;
	}
	account(next, kind, delta);
	return 0;
}

/*
 * The queued mode: one program on sched_switch and nothing on wake-up.  The
 * kernel already stamps every task when it is queued (sched_info.last_queued,
 * set in sched_info_enqueue() on wake-up and in sched_info_depart() when a
 * running task is switched out) and turns it into run_delay in
 * sched_info_arrive(), which runs after this tracepoint, from the same run
 * queue clock.  So at the tracepoint `rq->clock - next->sched_info.last_queued`
 * is exactly the wait the kernel is about to add to next's run_delay (what
 * /proc/PID/schedstat and delay accounting report): no task storage, no
 * second clock read, no wake-up programs.  What it cannot tell is how the
 * task became runnable, so everything goes to RQ_ANY.
 *
 * The run queue is reached through next's CFS run queue (set for tasks of
 * every class by set_task_rq(), and next is about to run on this CPU), not
 * through the per-CPU `runqueues` variable: a typed ksym of a per-CPU
 * variable needs CONFIG_KALLSYMS_ALL, which some kernels (this project's
 * own test machine) do not have.  User space loads this program instead of
 * the three above when the kernel's BTF has sched_info.last_queued
 * (CONFIG_SCHED_INFO) and cfs_rq.rq (CONFIG_FAIR_GROUP_SCHED).
 */
SEC("tp_btf/sched_switch")
int BPF_PROG(hq_sched_switch_queued, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct rq *rq;
	__u64 queued, delta;

	if (targ_floor || !next->pid)
		return 0;
	queued = next->sched_info.last_queued;
	if (!queued)
		return 0;
	rq = next->se.cfs_rq->rq;
	if (!rq)
		return 0;
	delta = rq->clock - queued;
	if ((__s64)delta < 0)
		return 0;
	if (!prev->pid) {
		/* switched in from the idle task: the CPU idled until this task came (in a guest, a halted vCPU) */
		if (targ_ipi) {
			__u64 now = bpf_ktime_get_ns();
			delta = idle_wait(now - delta, now, delta);
		}
		account(next, RQ_IDLE, delta);
		return 0;
	}
	account(next, RQ_ANY, delta);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
