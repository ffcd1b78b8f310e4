/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * mkrec SRC OUT SECONDS: a long recording for bench_report.py, made from a
 * short one of this machine.  SRC's samples are written to OUT over and
 * over, one a second, re-timed so OUT spans SECONDS; each pass starts the
 * counters again (the engine sees a counter reset, as after a reboot of a
 * source), which costs the reader what real samples cost.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "sample/bundle.h"
#include "sample/store.h"

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: mkrec SRC OUT SECONDS\n");
		return 2;
	}
	uint64_t secs = strtoull(argv[3], NULL, 10);
	struct bundle_reader br;
	char *why = NULL;
	if (bundle_open(&br, argv[1], &why) < 0) {
		fprintf(stderr, "mkrec: %s\n", why);
		return 1;
	}
	struct sample *v = NULL;
	size_t n = 0, cap = 0;
	struct sample s;
	while (bundle_next(&br, &s) > 0) {
		xgrow((void **)&v, sizeof(*v), &cap, n);
		v[n++] = s;
	}
	if (!n) {
		fprintf(stderr, "mkrec: no sample in %s\n", argv[1]);
		return 1;
	}
	json_t *meta = json_deep_copy(br.meta);
	json_object_set_new(meta, "interval_ms", json_real(1000));
	struct store_opts so = { 0 };
	struct store *st;
	if (store_create(&st, argv[2], &so, meta, &br.statics, &why) < 0) {
		fprintf(stderr, "mkrec: %s\n", why);
		return 1;
	}
	uint64_t mono0 = v[0].mono_ns, real0 = v[0].real_ns;
	for (uint64_t k = 0; k < secs; k++) {
		struct sample *x = &v[k % n];
		x->mono_ns = mono0 + k * 1000000000ull;
		x->real_ns = real0 + k * 1000000000ull;
		x->index = (unsigned)k;
		if (store_append(st, x, &why) < 0) {
			fprintf(stderr, "mkrec: %s\n", why);
			return 1;
		}
	}
	struct store_stats ss;
	store_get_stats(st, &ss);
	printf("%llu samples, %llu bytes\n", (unsigned long long)ss.samples, (unsigned long long)ss.file_bytes);
	store_close(st);
	json_decref(meta);
	for (size_t i = 0; i < n; i++)
		sample_done(&v[i]);
	free(v);
	bundle_close(&br);
	return 0;
}
