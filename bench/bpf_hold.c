/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * For bench_bpf.py: load one of hiddenq's eBPF sources exactly as the
 * sampler does, drain it once a second into a scratch sample (as the sampler
 * does on slow ticks), until SIGINT/SIGTERM or the deadline.  Prints "ready"
 * once attached, or the reason it could not load (exit 1).
 *   bpf_hold runqlat|runqlat-nocg|runqlat-floor|biolat SECONDS
 * runqlat: as diagnose loads it (with per-cgroup histograms); runqlat-nocg:
 * without them; runqlat-floor: the same programs attached but returning at
 * once (the cost of attaching to the sched tracepoints at all).
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "core/sample.h"
#include "sources/bpf/bpfsrc.h"

static volatile sig_atomic_t stop;

static void on_sig(int s)
{
	(void)s;
	stop = 1;
}

int main(int argc, char **argv)
{
	const char *m = argc == 3 ? argv[1] : "";
	/* runqlat[-split][-nocg|-floor]: the queued (default) or split mode, with or without cgroups, or empty */
	bool rq = !strncmp(m, "runqlat", 7);
	const char *t = m + 7;
	bool split = rq && !strncmp(t, "-split", 6);
	if (split)
		t += 6;
	bool nocg = rq && !strcmp(t, "-nocg"), floor = rq && !strcmp(t, "-floor");
	if ((rq && *t && !nocg && !floor) || (!rq && strcmp(m, "biolat"))) {
		fprintf(stderr, "usage: bpf_hold runqlat[-split][-nocg|-floor]|biolat SECONDS\n");
		return 2;
	}
	struct bpfsrc_opts o = {
		.runqlat = rq, .biolat = !rq, .runqlat_no_cgroup = nocg, .runqlat_split = split, .runqlat_floor = floor
	};
	char *why;
	struct bpfsrc *b = bpfsrc_open(&o, &why);
	if (why) {
		printf("unavailable: %s\n", why);
		free(why);
		bpfsrc_close(b);
		return 1;
	}
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	printf("ready\n");
	fflush(stdout);
	long secs = atol(argv[2]);
	size_t bytes = 0;
	for (long i = 0; i < secs && !stop; i++) {
		struct timespec ts = { 1, 0 };
		nanosleep(&ts, NULL);
		struct sample s;
		sample_init(&s);
		bpfsrc_drain(b, &s);
		for (size_t k = 0; k < s.nfiles; k++)
			bytes += s.files[k].len;
		sample_done(&s);
	}
	bpfsrc_close(b);
	fprintf(stderr, "bpf_hold: drained %zu bytes\n", bytes);
	return 0;
}
