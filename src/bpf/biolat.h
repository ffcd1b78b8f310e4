/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * Types shared by biolat.bpf.c (kernel half) and sources/bpf/biolat.c
 * (user half).  Types and constants only.
 */
#ifndef HQ_BPF_BIOLAT_H
#define HQ_BPF_BIOLAT_H

#include "runqlat.h"	/* HQ_HIST_SLOTS */

#define BIO_MAX_DEVS 64		/* whole disks tracked; more are not counted */
#define BIO_MAX_INFLIGHT 10240	/* requests between issue and completion */

enum bio_stage {
	BIO_QUEUED = 0,		/* rq->start_time_ns -> issue: time in the guest's block layer */
	BIO_BELOW = 1,		/* issue -> completion: driver, virtqueue, host, device, wake-up */
	BIO_NSTAGES = 2,
};

enum bio_op {
	BIO_READ = 0,
	BIO_WRITE = 1,
	BIO_FLUSH = 2,
	BIO_NOPS = 3,
};

/* key of both per-device maps: the whole disk, MKDEV(major, first_minor) */
struct bio_dev {
	__u32 major;
	__u32 minor;
};

/* value of the per-CPU hash `hists` */
struct bio_hist {
	__u64 slots[BIO_NSTAGES][BIO_NOPS][HQ_HIST_SLOTS];
};

/* value of the shared hash `inflight` (updated atomically) */
struct bio_inflight {
	__s64 now;
	__s64 max;
};

#endif
