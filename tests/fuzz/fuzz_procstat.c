/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * /proc/stat parser, then the CPU analysis on two samples made of the input
 * split at its first form feed (or its middle): parsed CPUs are sorted and
 * unique, every id can be looked up, and no percentage leaves 0..100.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/cpu.h"
#include "parse/parse.h"

static void check_parse(const char *buf, size_t len)
{
	struct procstat ps;
	if (procstat_parse(buf, len, &ps) < 0) {
		if (ps.cpus || ps.ncpus)
			abort();
		return;
	}
	if (ps.has_all && (ps.all.nfields < 4 || ps.all.nfields > CT_NFIELDS))
		abort();
	for (size_t i = 0; i < ps.ncpus; i++) {
		if (ps.cpus[i].nfields < 4 || ps.cpus[i].nfields > CT_NFIELDS || ps.cpus[i].cpu < 0)
			abort();
		if (i && ps.cpus[i].cpu <= ps.cpus[i - 1].cpu)
			abort();
		if (procstat_cpu(&ps, ps.cpus[i].cpu) != &ps.cpus[i])
			abort();
	}
	procstat_done(&ps);
}

static void in_range(double p)
{
	if (p != -1 && !(p >= 0 && p <= 100))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	check_parse(buf, size);

	const char *ff = memchr(buf, '\f', size);
	size_t cut = ff ? (size_t)(ff - buf) : size / 2;
	struct sample s[3];
	for (int i = 0; i < 3; i++) {
		sample_init(&s[i]);
		s[i].mono_ns = 1000000000ull * (uint64_t)(i + 1);
	}
	sample_add(&s[0], "proc/stat", buf, cut);
	sample_add(&s[1], "proc/stat", buf + (ff ? cut + 1 : cut), size - cut - (ff ? 1 : 0));
	sample_add(&s[2], "proc/stat", buf, cut);
	struct cpu_analysis a;
	cpu_init(&a, NULL);
	for (int i = 0; i < 3; i++)
		cpu_feed(&a, &s[i]);
	cpu_finish(&a);
	for (size_t i = 0; i < a.nslots; i++) {
		in_range(a.slots[i].steal_avg);
		in_range(a.slots[i].busy_pct);
		if (a.slots[i].steal_share_wanted < 0 || a.slots[i].steal_share_wanted > 100)
			abort();
		for (size_t w = 0; w < a.nwins; w++)
			in_range(cpu_window_steal_pct(&a.wins[w], i));
	}
	const char *why;
	cpu_steal_reported(&a, &why);
	cpu_done(&a);
	for (int i = 0; i < 3; i++)
		sample_done(&s[i]);
	return 0;
}
