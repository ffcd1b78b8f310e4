/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * cgroup cpu.stat (v1 and v2), cpu.max and CPU list parsers on the same bytes,
 * then the throttling analysis with the input as a cgroup's cpu.stat in two
 * samples.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/cpu.h"
#include "parse/parse.h"

static void count(int id, void *arg)
{
	if (id < 0 || id > 4095)
		abort();
	(*(int *)arg)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct cg_cpustat st;
	cg_cpustat_parse(buf, size, &st);
	int64_t q;
	uint64_t per;
	cg_cpumax_parse(buf, size, &q, &per);
	int n = 0;
	int ret = cpulist_parse(buf, size, 4095, count, &n);
	if (ret >= 0 && ret != n)
		abort();

	const char *ff = memchr(buf, '\f', size);
	size_t cut = ff ? (size_t)(ff - buf) : size / 2;
	struct sample s[2];
	for (int i = 0; i < 2; i++) {
		sample_init(&s[i]);
		s[i].mono_ns = 1000000000ull * (uint64_t)(i + 1);
		sample_add(&s[i], "sys/fs/cgroup/a/cpu.max", buf, size);
		sample_add(&s[i], "sys/fs/cgroup/cpu,cpuacct/b/cpu.cfs_quota_us", buf, size);
		sample_add(&s[i], "sys/fs/cgroup/cpu,cpuacct/b/cpu.cfs_period_us", buf, size);
	}
	sample_add(&s[0], "sys/fs/cgroup/a/cpu.stat", buf, cut);
	sample_add(&s[1], "sys/fs/cgroup/a/cpu.stat", buf + (ff ? cut + 1 : cut), size - cut - (ff ? 1 : 0));
	sample_add(&s[0], "sys/fs/cgroup/cpu,cpuacct/b/cpu.stat", buf, cut);
	sample_add(&s[1], "sys/fs/cgroup/cpu,cpuacct/b/cpu.stat", buf + (ff ? cut + 1 : cut),
		   size - cut - (ff ? 1 : 0));
	struct cpu_analysis a;
	cpu_init(&a, NULL);
	for (int i = 0; i < 2; i++)
		cpu_feed(&a, &s[i]);
	cpu_finish(&a);
	for (size_t i = 0; i < a.ncgs; i++)
		if (a.cgs[i].throttled_pct < 0)
			abort();
	cpu_done(&a);
	for (int i = 0; i < 2; i++)
		sample_done(&s[i]);
	return 0;
}
