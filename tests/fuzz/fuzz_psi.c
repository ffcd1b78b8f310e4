/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * /proc/pressure/<resource> parser, then PSI windows over two samples made of
 * the input split at its first form feed (or its middle): no window above
 * 100 % and no negative averages.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/cpu.h"
#include "parse/parse.h"

static void check_line(const struct psi_line *l)
{
	if (!(l->avg10 >= 0) || !(l->avg60 >= 0) || !(l->avg300 >= 0) || isinf(l->avg10))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct psi p;
	if (psi_parse(buf, size, &p) == 0) {
		if (!p.has_some && !p.has_full)
			abort();
		check_line(&p.some);
		check_line(&p.full);
	}

	const char *ff = memchr(buf, '\f', size);
	size_t cut = ff ? (size_t)(ff - buf) : size / 2;
	struct sample s[2];
	for (int i = 0; i < 2; i++) {
		sample_init(&s[i]);
		s[i].mono_ns = 1000000000ull * (uint64_t)(i + 1);
	}
	sample_add(&s[0], "proc/pressure/cpu", buf, cut);
	sample_add(&s[1], "proc/pressure/cpu", buf + (ff ? cut + 1 : cut), size - cut - (ff ? 1 : 0));
	sample_add(&s[0], "proc/pressure/io", buf, size);
	sample_add(&s[1], "proc/pressure/io", buf, size);
	struct cpu_analysis a;
	cpu_init(&a, NULL);
	for (int i = 0; i < 2; i++)
		cpu_feed(&a, &s[i]);
	cpu_finish(&a);
	for (size_t w = 0; w < a.nwins; w++)
		for (int r = 0; r < PSI_N; r++) {
			double v = cpu_window_psi_pct(&a.wins[w], r, false);
			if (v != -1 && !(v >= 0 && v <= 100))
				abort();
		}
	double worst;
	cpu_psi_longest_run(&a, PSI_CPU, 10, &worst);
	cpu_done(&a);
	for (int i = 0; i < 2; i++)
		sample_done(&s[i]);
	return 0;
}
