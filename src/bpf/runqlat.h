/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * Types shared by runqlat.bpf.c (kernel half) and sources/bpf/runqlat.c
 * (user half).  Types and constants only: this file is included both under
 * vmlinux.h and under <linux/types.h>.
 */
#ifndef HQ_BPF_RUNQLAT_H
#define HQ_BPF_RUNQLAT_H

/* log2 buckets of microseconds: slot i counts [2^i, 2^(i+1)) us, slot 0 also < 1 us */
#define HQ_HIST_SLOTS 32

/* per-cgroup histograms: an LRU hash of this many cgroup v2 ids */
#define RQ_MAX_CGROUPS 512

/* how the task became runnable before it waited */
enum rq_kind {
	RQ_WAKEUP = 0,	/* woken (sched_wakeup / sched_wakeup_new) */
	RQ_PREEMPT = 1,	/* switched out while still runnable */
	RQ_ANY = 2,	/* either: the queued mode cannot tell them apart */
	RQ_IDLE = 3,	/* woken onto an idle CPU (the switch came from the idle task): a wake-up
			   the queued mode counts under ANY, the split mode under WAKEUP, is counted here instead */
	RQ_IPI = 4,	/* not a run-queue wait: an IPI's flight from its sender to its handler on an idle CPU */
	RQ_NKINDS = 5,
};

/* per CPU, on that CPU: the last IPI that reached it while it was idle (ktime ns) */
struct rq_ipi_wake {
	__u64 sent;
	__u64 recv;
};

/* one value of the per-CPU array `hists`, key = enum rq_kind */
struct rq_hist {
	__u64 slots[HQ_HIST_SLOTS];
};

#endif
