/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * Types shared by timerlate.bpf.c (kernel half) and sources/bpf/timerlate.c
 * (user half).  Types and constants only: this file is included both under
 * vmlinux.h and under <linux/types.h>.
 */
#ifndef HQ_BPF_TIMERLATE_H
#define HQ_BPF_TIMERLATE_H

/* log2 buckets of microseconds of lateness, like runqlat.h (slot 0 also < 1 us) */
#define HQ_TL_SLOTS 32

/* timers armed when already due, remembered by address (LRU) */
#define HQ_TL_PAST_MAX 1024

/* the ring buffer of late timers: 256 KiB, 8192 events of 32 bytes */
#define HQ_TL_RINGBUF (256 * 1024)

/* the only value of the per-CPU array `cpus` (key 0); cumulative since load */
struct tl_cpu {
	__u64 slots[HQ_TL_SLOTS];	/* counted timers by lateness */
	__u64 count;			/* counted timers that fired on this CPU */
	__u64 max_ns;			/* the latest one */
	__u64 last_ns;			/* when the last one fired (CLOCK_MONOTONIC) */
	__u64 max_gap_ns;		/* longest time between two counted timers firing */
	__u64 past;			/* timers that were armed already due (lateness counted from arming) */
	__u64 lowres;			/* late timers not reported: hrtimers in low-resolution mode */
	__u64 dropped;			/* late timers the ring buffer had no room for */
};

/* flags of a tl_event */
#define TL_IDLE 1u	/* the CPU was idle when the timer ran: a halted vCPU woken late */
#define TL_PAST 2u	/* armed already due: lateness counted from when it was armed */
#define TL_BOOT 4u	/* a CLOCK_BOOTTIME timer (else CLOCK_MONOTONIC) */

/* one timer that ran at least targ_threshold_ns late, through the ring buffer */
struct tl_event {
	__u64 t_ns;	/* when its function ran, CLOCK_MONOTONIC */
	__u64 late_ns;	/* how late: t - its (hard) expiry */
	__u32 cpu;
	__u32 flags;	/* TL_* */
	__u64 pad;
};

#endif
