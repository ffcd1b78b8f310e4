/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * bench_render: what `hiddenq serve` spends after each sample to publish a
 * snapshot, apart from sampling.  The engine is fed live samples taken as
 * serve takes them (every source serve runs, eBPF when allowed; 12 samples
 * 250 ms apart), then each step is repeated N times (default 200) and its
 * thread CPU time reported as a median over 9 rounds:
 *
 *   evaluate      engine_evaluate + engine_release: every finding over its window
 *   render om     om_render in OpenMetrics 1.0 (what serve renders per sample)
 *   render text   om_render in text 0.0.4 (what serve rendered per sample before)
 *   om -> text    om_text_from_openmetrics: the text format derived from the
 *                 OpenMetrics body, on the first request that asks for it
 *
 * Usage: bench_render [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "engine/engine.h"
#include "sample/sampler.h"
#include "sinks/openmetrics.h"

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

enum step { S_EVAL, S_OM, S_TEXT, S_CONVERT, S_N };

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 200;
	if (n == 0)
		n = 200;
	hq_quiet = true;
	struct sampler sp;
	struct sampler_opts so = {
		.interval_ns = 250000000ull, .count = 1,
		.tasks = true, .cgroups = true, .memory = true, .kmsg = true,
		.io = true, .net = true, .bpf = true, .vms = true,
	};
	int ret = sampler_init(&sp, "/", &so);
	if (ret < 0) {
		fprintf(stderr, "bench_render: sampler_init: %s\n", strerror(-ret));
		return 0;
	}
	struct engine_opts eo = { .rule_windows = true };
	struct engine *e = engine_new(&sp.statics, "live", &eo);
	for (int i = 0; i < 12; i++) {
		struct sample s;
		sampler_take(&sp, &s, true);
		engine_feed(e, &s);
		sample_done(&s);
		struct timespec ts = { 0, 250000000 };
		nanosleep(&ts, NULL);
	}
	struct om_self self = { .scrape_cpu_s = 1, .sample_cpu_s = 2, .sample_last_s = 0.001, .rss_bytes = 1 << 24,
				.features = "bench" };
	uint64_t rounds[S_N][9];
	size_t bytes[S_N] = { 0 };
	for (int r = 0; r < 9; r++) {
		struct findings fs = { 0 };
		uint64_t t = cpu_ns();
		for (unsigned i = 0; i < n; i++) {
			findings_done(&fs);
			engine_evaluate(e, &fs);
			engine_release(e);
		}
		rounds[S_EVAL][r] = (cpu_ns() - t) / n;
		char *om = NULL, *text = NULL;
		size_t om_len = 0, text_len = 0;
		t = cpu_ns();
		for (unsigned i = 0; i < n; i++) {
			free(om);
			om = om_render(e, &fs, &self, OM_OPENMETRICS_100, &om_len);
		}
		rounds[S_OM][r] = (cpu_ns() - t) / n;
		t = cpu_ns();
		for (unsigned i = 0; i < n; i++) {
			free(text);
			text = om_render(e, &fs, &self, OM_TEXT_004, &text_len);
		}
		rounds[S_TEXT][r] = (cpu_ns() - t) / n;
		char *conv = NULL;
		size_t conv_len = 0;
		t = cpu_ns();
		for (unsigned i = 0; i < n; i++) {
			free(conv);
			conv = om_text_from_openmetrics(om, om_len, &conv_len);
		}
		rounds[S_CONVERT][r] = (cpu_ns() - t) / n;
		if (conv_len != text_len || memcmp(conv, text, text_len) != 0)
			fprintf(stderr, "bench_render: the derived text format differs from the rendered one\n");
		bytes[S_OM] = om_len;
		bytes[S_TEXT] = text_len;
		bytes[S_CONVERT] = conv_len;
		free(om);
		free(text);
		free(conv);
		findings_done(&fs);
	}
	static const char *const names[S_N] = { "evaluate", "render om", "render text", "om -> text" };
	printf("bench_render: after each sample, %u calls x 9 rounds, median (thread CPU)\n", n);
	printf("  %-12s %10s %10s\n", "step", "us/call", "bytes");
	for (int s = 0; s < S_N; s++) {
		qsort(rounds[s], 9, sizeof(uint64_t), cmp_u64);
		printf("  %-12s %10.1f %10zu\n", names[s], (double)rounds[s][4] / 1e3, bytes[s]);
	}
	engine_free(e);
	sampler_done(&sp);
	return 0;
}
