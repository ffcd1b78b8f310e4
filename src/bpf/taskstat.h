/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * Types shared by taskstat.bpf.c (kernel half) and sources/bpf/taskstat.c
 * (user half).  Types and constants only: this file is included both under
 * vmlinux.h and under <linux/types.h>.
 */
#ifndef HQ_BPF_TASKSTAT_H
#define HQ_BPF_TASKSTAT_H

/*
 * hq_taskstat_all's filter is a bitmap of thread ids, one bit per tid in an
 * array of 64-bit words (tid / 64 is the key, tid % 64 the bit): an array
 * lookup the verifier inlines, one cache line, where a hash lookup per task
 * cost a third of the pass.  Default size: PID_MAX_LIMIT (4M on 64-bit, the
 * most pid_max can be) / 64 words, 512 KiB; user space sizes it to this
 * machine's pid_max between open and load (to 1 word when it loads
 * hq_taskstat_list instead), and sets bits through mmap.
 */
#define HQ_TASKSTAT_WORDS (4194304 / 64)

/*
 * One thread, as the iterator writes it (bpf_seq_write, native byte order).
 * Binary rather than bpf_seq_printf text: the kernel's printf (format
 * parsing, number formatting) was a third of a pass, 1.5 ms of 4.4 at
 * 4,000 threads; user space formats the same "%llu %llu %lu\n" for less.
 */
struct taskstat_rec {
	__u32 tgid;
	__u32 tid;
	__u64 sum_exec_runtime;	/* se.sum_exec_runtime: ns on the CPU */
	__u64 run_delay;	/* sched_info.run_delay: ns waiting on a run queue */
	__u64 pcount;		/* sched_info.pcount: times run on a CPU */
};

/* hq_taskstat_run's context (BPF_PROG_RUN's ctx_in): the tid slots to walk. */
struct taskstat_args {
	__u32 n;
};

#endif
