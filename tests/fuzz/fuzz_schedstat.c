/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Task schedstat, /proc/schedstat (with domain lines) and /proc/loadavg
 * parsers on the same bytes, then the run-delay analysis with the input as
 * one task's schedstat in two samples and as /proc/schedstat.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/cpu.h"
#include "parse/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct task_schedstat ts;
	task_schedstat_parse(buf, size, &ts);

	struct proc_schedstat ps;
	if (proc_schedstat_parse(buf, size, &ps) == 0) {
		if (ps.ncpus == 0)
			abort();
		for (size_t i = 0; i < ps.ncpus; i++)
			if (ps.cpus[i].cpu < 0 || ps.cpus[i].cpu > 65535)
				abort();
		proc_schedstat_done(&ps);
	} else if (ps.cpus) {
		abort();
	}

	struct loadavg la;
	loadavg_parse(buf, size, &la);

	const char *ff = memchr(buf, '\f', size);
	size_t cut = ff ? (size_t)(ff - buf) : size / 2;
	struct sample s[2];
	for (int i = 0; i < 2; i++) {
		sample_init(&s[i]);
		s[i].mono_ns = 1000000000ull * (uint64_t)(i + 1);
		sample_add(&s[i], "proc/schedstat", buf, size);
		sample_add(&s[i], "proc/loadavg", buf, size);
		sample_add(&s[i], "proc/7/task/7/comm", buf, size);
	}
	sample_add(&s[0], "proc/7/task/7/schedstat", buf, cut);
	sample_add(&s[1], "proc/7/task/7/schedstat", buf + (ff ? cut + 1 : cut), size - cut - (ff ? 1 : 0));
	struct cpu_analysis a;
	cpu_init(&a, NULL);
	for (int i = 0; i < 2; i++)
		cpu_feed(&a, &s[i]);
	cpu_finish(&a);
	for (size_t i = 0; i < a.ntop; i++)
		if (a.top_tasks[i]->last_delay < a.top_tasks[i]->first_delay || strlen(a.top_tasks[i]->comm) > 31)
			abort();
	cpu_done(&a);
	for (int i = 0; i < 2; i++)
		sample_done(&s[i]);
	return 0;
}
