/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * ".hiddenq/stalls.json" of any method as a bundle could carry it: the
 * input, split at its first form feed, is the first and the last sample's
 * copy.  stall_doc_parse must refuse or answer within its bounds (records
 * of positive length, CPUs in range, printable NUL-terminated strings);
 * the memory analysis, execution-stalls and the capability line run on it
 * all.  The same bytes, read as binary records, go through the eBPF
 * source's merge, which must keep every timer it was given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"
#include "parse/stallparse.h"
#include "sources/stallmon.h"
#include "sources/bpf/bpfsrc.h"

static void check_str(const char *s, size_t cap)
{
	size_t l = strnlen(s, cap);
	if (l >= cap)
		abort();
	for (size_t i = 0; i < l; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			abort();
}

static void check_doc(const char *buf, size_t len)
{
	struct stall_doc d;
	if (stall_doc_parse(buf, len, &d) < 0)
		return;
	check_str(d.method, sizeof(d.method));
	check_str(d.asked, sizeof(d.asked));
	check_str(d.reason, sizeof(d.reason));
	if (!d.method[0] || d.n > STALL_DOC_MAX_ITEMS || d.ncpus > STALL_DOC_MAX_CPUS)
		abort();
	for (size_t i = 0; i < d.n; i++)
		if (d.items[i].late_ns == 0 || d.items[i].cpu < -1 || d.items[i].cpu >= STALL_DOC_MAX_CPUS)
			abort();
	for (size_t i = 0; i < d.ncpus; i++)
		if (d.cpus[i].cpu < 0 || d.cpus[i].cpu >= STALL_DOC_MAX_CPUS)
			abort();
	stall_doc_done(&d);
}

static void check_merge(const uint8_t *data, size_t size)
{
	size_t n = size / sizeof(struct tl_rec);
	if (n == 0)
		return;
	struct tl_rec *v = malloc(n * sizeof(*v));
	memcpy(v, data, n * sizeof(*v));
	uint64_t timers = 0, worst = 0;
	for (size_t i = 0; i < n; i++) {
		v[i].timers %= 1000; /* keep the sum from wrapping */
		timers += v[i].timers ? v[i].timers : 1;
		if (v[i].late_ns > worst)
			worst = v[i].late_ns;
	}
	size_t k = timerlate_merge(v, n, 1000000);
	if (k == 0 || k > n)
		abort();
	uint64_t after = 0, worst_after = 0;
	for (size_t i = 0; i < k; i++) {
		after += v[i].timers;
		if (v[i].late_ns > worst_after)
			worst_after = v[i].late_ns;
	}
	if (after != timers || worst_after != worst)
		abort();
	free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	const char *ff = memchr(buf, '\f', size);
	size_t cut = ff ? (size_t)(ff - buf) : size;
	const char *b2 = ff ? buf + cut + 1 : buf;
	size_t n2 = ff ? size - cut - 1 : size;
	check_doc(buf, cut);
	check_doc(b2, n2);
	check_merge(data, size);

	struct sample statics, s[2];
	sample_init(&statics);
	for (int i = 0; i < 2; i++) {
		sample_init(&s[i]);
		s[i].mono_ns = 1000000000ull * (uint64_t)(i + 1);
		s[i].slow = true;
	}
	sample_add(&s[0], STALLS_PATH, buf, cut);
	sample_add(&s[1], STALLS_PATH, b2, n2);
	static const char stat[] = "cpu  10 0 10 100 0 0 0 5 0 0\ncpu0 10 0 10 100 0 0 0 5 0 0\n";
	for (int i = 0; i < 2; i++)
		sample_add(&s[i], "proc/stat", stat, sizeof(stat) - 1);
	struct analysis an;
	analysis_init(&an, &statics, "fuzz");
	for (int i = 0; i < 2; i++)
		analysis_feed(&an, &s[i]);
	analysis_finish(&an);
	struct findings fs = { 0 };
	rules_evaluate(&an, &fs);
	findings_done(&fs);
	struct capabilities caps;
	capabilities_build(&an, &caps);
	capabilities_done(&caps);
	analysis_done(&an);
	for (int i = 0; i < 2; i++)
		sample_done(&s[i]);
	sample_done(&statics);
	return 0;
}
