/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The kernel log's hardware and hypervisor errors on hostile input.  The
 * input is split at the first form feed: before it, /dev/kmsg records one a
 * line, each through the record parser, the stall classifier and the
 * hardware parser; after it, a .hiddenq/kmsg.json document fed twice (as
 * two samples) to the analysis, then hardware-errors and execution-stalls.
 * No crash; a parsed record's strings stay terminated and its count >= 1.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"
#include "analysis/rules_hw.h"
#include "parse/hwlog.h"
#include "parse/memparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	const char *ff = memchr(p, '\f', size);
	const char *recs_end = ff ? ff : end;
	for (const char *l = p; l < recs_end;) {
		const char *nl = memchr(l, '\n', (size_t)(recs_end - l));
		size_t n = (size_t)((nl ? nl : recs_end) - l);
		struct kmsg_rec r;
		if (kmsg_parse(l, n, &r) == 0) {
			kmsg_classify(r.msg, r.msglen);
			struct hwlog_rec h;
			if (hwlog_parse(r.msg, r.msglen, &h) == 0) {
				if (!hwlog_kind(h.kind) || h.count < 1 || memchr(h.where, 0, sizeof(h.where)) == NULL ||
				    memchr(h.comm, 0, sizeof(h.comm)) == NULL)
					abort();
			}
		}
		struct hwlog_rec h;
		hwlog_parse(l, n, &h); /* a bare message too */
		l = nl ? nl + 1 : recs_end;
	}
	if (!ff)
		return 0;
	struct sample st;
	sample_init(&st);
	struct analysis an;
	analysis_init(&an, &st, "fuzz");
	for (int k = 0; k < 2; k++) {
		struct sample s;
		sample_init(&s);
		s.mono_ns = 1000000000ull * (uint64_t)(k + 1);
		sample_add(&s, ".hiddenq/kmsg.json", ff + 1, (size_t)(end - ff - 1));
		analysis_feed(&an, &s);
		sample_done(&s);
	}
	analysis_finish(&an);
	if (an.hw.nev > HWLOG_MAX_EVENTS || an.hw.nkinds > HWLOG_MAX_KINDS)
		abort();
	struct findings fs = { 0 };
	rules_evaluate_one(&an, "hardware-errors", &fs);
	rules_evaluate_one(&an, "execution-stalls", &fs);
	findings_done(&fs);
	analysis_done(&an);
	sample_done(&st);
	return 0;
}
