/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Hardware and hypervisor errors the kernel logged (parse/hwlog.h): the
 * .hiddenq/kmsg.json documents of the samples in, counts per kind and the
 * last HWLOG_MAX_EVENTS records out, each marked as logged during the watch
 * or still in the ring buffer from before it.  Only the kernel's own records
 * count ("kernel": true in kmsg.json): a line someone wrote to /dev/kmsg is
 * not a machine check.  The rule (rules_hw.c) attributes a record that names
 * a task to the VM that owns it.
 */
#ifndef HQ_HWLOG_H
#define HQ_HWLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/sample.h"
#include "../parse/hwlog.h"

#define HWLOG_MAX_EVENTS 64
#define HWLOG_MAX_KINDS 16

struct hwlog_event {
	struct hwlog_rec r;	/* r.kind points at parse/hwlog.c's static names */
	uint64_t usec;		/* since boot, printk's clock */
	bool during;		/* logged during the watch */
	char msg[160];
};

struct hwlog_kind_count {
	const char *kind;
	uint64_t during, before;	/* errors (EDAC's counts summed), not records */
	bool uncorrected;		/* any of them */
};

struct hwlog_analysis {
	bool seen;			/* a kmsg.json document was fed */
	bool available;			/* /dev/kmsg could be read */
	char error[64];
	uint64_t first_ns;		/* the first sample's time, for documents without the history flag */
	struct hwlog_event ev[HWLOG_MAX_EVENTS];	/* the newest, those from the watch kept first */
	unsigned nev;
	unsigned long dropped;
	struct hwlog_kind_count kinds[HWLOG_MAX_KINDS];
	unsigned nkinds;
};

void hwlog_init(struct hwlog_analysis *h);
void hwlog_feed(struct hwlog_analysis *h, const struct sample *s);

#endif
