/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * Types shared by compact.bpf.c (kernel half) and sources/bpf/compact.c
 * (user half).  Types and constants only: this file is included both under
 * vmlinux.h and under <linux/types.h>.
 */
#ifndef HQ_BPF_COMPACT_H
#define HQ_BPF_COMPACT_H

/* log2 buckets of microseconds, like runqlat.h (slot 0 also < 1 us) */
#define HQ_COMPACT_SLOTS 32

/* the only value of the per-CPU array `hists` (key 0) */
struct compact_hist {
	__u64 slots[HQ_COMPACT_SLOTS];	/* direct compaction runs by duration */
	__u64 sum_ns;			/* their total duration */
	__u64 max_ns;			/* the longest one on this CPU */
};

#endif
