/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The host-mode analysis on hostile samples: the input is split at form
 * feeds into .hiddenq/vms.json, then schedstat, status, stat, smaps_rollup,
 * numa_maps, net/dev and cmdline of PID 100 / TID 101, fed over two samples.
 * No crash; rates stay within 0..100 %.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/vms.h"
#include "sinks/vms.h"

static const char *const paths[] = {
	VMSCAN_JSON_PATH,		"proc/100/task/101/schedstat", "proc/100/task/101/status",
	"proc/100/task/101/stat",	"proc/100/smaps_rollup",	"proc/100/numa_maps",
	"proc/100/net/dev",		"proc/100/cmdline",		"proc/100/status",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *parts[9];
	size_t lens[9], np = 0;
	const char *p = (const char *)data, *end = p + size;
	while (np < 9) {
		const char *ff = memchr(p, '\f', (size_t)(end - p));
		parts[np] = p;
		lens[np++] = ff ? (size_t)(ff - p) : (size_t)(end - p);
		if (!ff)
			break;
		p = ff + 1;
	}
	struct sample st;
	sample_init(&st);
	sample_add(&st, "sys/devices/system/cpu/online", "0-3", 3);
	struct vms_analysis a;
	vms_init(&a, &st);
	for (int k = 0; k < 2; k++) {
		struct sample s;
		sample_init(&s);
		s.mono_ns = 1000000000ull * (uint64_t)(k + 1);
		for (size_t i = 0; i < np; i++)
			sample_add(&s, paths[i], parts[i], lens[i]);
		vms_feed(&a, &s);
		sample_done(&s);
	}
	vms_finish(&a);
	for (size_t i = 0; i < a.n; i++) {
		/* the guest's identifiers, from vms.json or the command line: empty or canonical */
		size_t ul = strnlen(a.vms[i].uuid, sizeof(a.vms[i].uuid)), ml = strnlen(a.vms[i].machine_id, 33);
		if ((ul && ul != 36) || (ml && ml != 32))
			abort();
	}
	for (size_t i = 0; i < a.n; i++)
		for (size_t j = 0; j < a.vms[i].nth; j++) {
			const struct vms_thread *t = &a.vms[i].th[j];
			if (t->delay_pct > 100 || t->cpu_pct > 100)
				abort();
		}
	json_t *j = vms_json(&a);
	json_decref(j);
	static FILE *null;	/* the text report too (QEMU latency histograms, matrices) */
	if (!null)
		null = fopen("/dev/null", "w");
	if (null)
		vms_print(null, &a, true);
	vms_done(&a);
	sample_done(&st);
	return 0;
}
