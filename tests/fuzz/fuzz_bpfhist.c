/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The eBPF histogram documents (.hiddenq/runqlat.json, .hiddenq/biolat.json,
 * .hiddenq/compact.json) as a bundle could carry them: the input, split at
 * its first form feed, becomes the first and last sample's copy of each file.  Every helper must
 * refuse or answer, never crash, and percentiles stay within the slots;
 * per-cgroup entries (runqlat's "per_cgroup") have bounded, printable paths,
 * and the rules (guest-cpu-saturation ranks cgroups by p99) run on it all.
 */
#include <math.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"
#include "analysis/bpfhist.h"

static void check_hist(const uint64_t *h)
{
	double p50 = bpfhist_percentile(h, 0.5), p99 = bpfhist_percentile(h, 0.99);
	if (bpfhist_total(h) == 0) {
		if (p50 != -1)
			abort();
		return;
	}
	if (!(p50 >= 0 && p50 <= ldexp(1.0, BPFHIST_SLOTS)) || !(p99 >= 0) || isnan(p99))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	const char *ff = memchr(buf, '\f', size);
	size_t cut = ff ? (size_t)(ff - buf) : size;
	struct sample statics, s[2];
	sample_init(&statics);
	for (int i = 0; i < 2; i++) {
		sample_init(&s[i]);
		s[i].mono_ns = 1000000000ull * (uint64_t)(i + 1);
		s[i].slow = true;
	}
	const char *b2 = ff ? buf + cut + 1 : buf;
	size_t n2 = ff ? size - cut - 1 : size;
	sample_add(&s[0], BPFHIST_RUNQLAT_PATH, buf, cut);
	sample_add(&s[0], BPFHIST_BIOLAT_PATH, buf, cut);
	sample_add(&s[1], BPFHIST_RUNQLAT_PATH, b2, n2);
	sample_add(&s[1], BPFHIST_BIOLAT_PATH, b2, n2);
	sample_add(&s[0], BPFHIST_COMPACT_PATH, buf, cut);
	sample_add(&s[1], BPFHIST_COMPACT_PATH, b2, n2);

	struct analysis an;
	analysis_init(&an, &statics, "fuzz");
	for (int i = 0; i < 2; i++)
		analysis_feed(&an, &s[i]);
	analysis_finish(&an);

	uint64_t h[BPFHIST_SLOTS];
	const char *why;
	bpfhist_available(&an, "runqlat", &why);
	bpfhist_available(&an, "biolat", &why);
	if (bpfhist_runq_delta(&an, NULL, h) == 0)
		check_hist(h);
	if (bpfhist_runq_delta(&an, "wakeup", h) == 0)
		check_hist(h);
	uint64_t busy[BPFHIST_SLOTS];
	if (bpfhist_runq_idle_delta(&an, h, busy) == 0) {
		check_hist(h);
		check_hist(busy);
	}
	const char *ipi_why;
	int ir = bpfhist_runq_ipi_delta(&an, h, &ipi_why);
	if (ir == 0)
		check_hist(h);
	else if (ir == -ENODATA && !ipi_why)
		abort(); /* "none" always says why */
	if (bpfhist_runq_idle_total(&an, h) == 0)
		check_hist(h);
	if (bpfhist_runq_ipi_total(&an, h) == 0)
		check_hist(h);
	int cpus[64];
	size_t nc = bpfhist_runq_cpus(&an, cpus, 64);
	for (size_t i = 0; i < nc; i++)
		if (bpfhist_runq_cpu_delta(&an, cpus[i], h) == 0)
			check_hist(h);
	static const char *const ops[] = { "read", "write", "flush", NULL };
	for (size_t d = 0; d < bpfhist_dev_count(&an); d++) {
		const char *name = bpfhist_dev_name(&an, d);
		if (!name)
			abort();
		for (int st = 0; st < 2; st++)
			for (int o = 0; o < 4; o++)
				if (bpfhist_dev_delta(&an, name, st ? "below" : "queued", ops[o], h) == 0)
					check_hist(h);
		long long mx, now;
		bpfhist_dev_inflight(&an, name, &mx, &now);
	}
	struct bpfhist_cg cg[8];
	size_t ncg = bpfhist_runq_cgroups(&an, cg, 8);
	if (ncg > 8)
		abort();
	for (size_t i = 0; i < ncg; i++) {
		size_t l = strnlen(cg[i].path, sizeof(cg[i].path));
		if (l >= sizeof(cg[i].path))
			abort();
		for (size_t k = 0; k < l; k++)
			if (cg[i].path[k] < 0x20 || cg[i].path[k] > 0x7e)
				abort();
		check_hist(cg[i].hist);
	}
	struct findings fs = { 0 };
	rules_evaluate(&an, &fs);
	findings_done(&fs);
	bpfhist_cpuidle_driver(&an);
	struct bpfhist_compact cd;
	bpfhist_available(&an, "compact", &why);
	if (bpfhist_compact_watch(&an, &cd) == 0) {
		check_hist(cd.hist);
		if (cd.count != bpfhist_total(cd.hist) || !(cd.sum_us >= 0) || !(cd.max_us >= 0) || isinf(cd.max_us))
			abort();
	}
	struct capabilities caps;
	capabilities_build(&an, &caps);
	capabilities_done(&caps);
	analysis_done(&an);
	for (int i = 0; i < 2; i++)
		sample_done(&s[i]);
	sample_done(&statics);
	return 0;
}
