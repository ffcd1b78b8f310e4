/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * bench_sim: events per second of hiddenq sim on one core, and its memory
 * over simulated time.  The scenario (bench/sim_large.ini: 64 CPUs, 200
 * VMs, 10^7 events) runs once to 10^6 events and once to 10^7; each run
 * reports CPU time (CLOCK_PROCESS_CPUTIME_ID, so other load on the machine
 * does not count against it), events per CPU-second, and the resident set
 * at every 2^20 events: flat memory means the model keeps no per-event
 * state.  It reports; it never fails (the target, 10^7 events/s, is
 * printed beside the figure).
 *
 *   bench_sim [SCENARIO] [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "sim/sim.h"

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, res = 0;
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

struct mem {
	long first, last, max;
	unsigned n;
};

static void progress(void *arg, uint64_t events)
{
	struct mem *m = arg;
	long r = rss_kb();
	(void)events;
	if (!m->n++)
		m->first = r;
	m->last = r;
	if (r > m->max)
		m->max = r;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap);
	size_t r;
	while (b && (r = fread(b + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (n + 1 >= cap)
			b = realloc(b, cap *= 2);
	}
	fclose(f);
	if (b)
		b[n] = '\0';
	return b;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "bench/sim_large.ini";
	int runs = argc > 2 ? atoi(argv[2]) : 3;
	char *text = slurp(path);
	if (!text) {
		fprintf(stderr, "bench_sim: cannot read %s\n", path);
		return 1;
	}
	struct sim_scenario sc;
	struct sim_error e = { 0 };
	if (sim_scenario_parse(text, &sc, &e) < 0) {
		fprintf(stderr, "bench_sim: %s:%d: %s\n", path, e.line, e.msg);
		return 1;
	}
	free(text);
	unsigned vcpus = 0;
	for (unsigned i = 0; i < sc.nvms; i++)
		vcpus += sc.vms[i].vcpus * sc.vms[i].count;
	printf("bench_sim: %s (%u CPUs, %u VMs, %u vCPUs)\n", path, sc.host.cpus, sim_scenario_instances(&sc), vcpus);
	const uint64_t sizes[] = { 1000000, 10000000 };
	for (size_t k = 0; k < 2; k++) {
		double best = 0;
		struct mem m = { 0 };
		uint64_t events = 0;
		double simulated = 0;
		for (int r = 0; r < runs; r++) {
			struct sim_scenario s2;
			sim_scenario_copy(&s2, &sc);
			s2.max_events = sizes[k];
			struct mem mm = { 0 };
			struct sim_opts o = { .progress = progress, .progress_arg = &mm };
			struct sim_result *res = NULL;
			char *why = NULL;
			double t0 = cpu_s();
			if (sim_run(&s2, &o, &res, &why) < 0) {
				fprintf(stderr, "bench_sim: %s\n", why);
				return 1;
			}
			double t = cpu_s() - t0;
			double rate = (double)res->events / t;
			if (rate > best) {
				best = rate;
				m = mm;
				events = res->events;
				simulated = res->simulated;
			}
			sim_result_free(res);
			sim_scenario_free(&s2);
		}
		printf("  %9llu events (%.1f s simulated): %.2f M events per CPU-second (best of %d; target >= 10)\n",
		       (unsigned long long)events, simulated, best / 1e6, runs);
		if (m.n)
			printf("  %9s resident set over the run: %ld kB at 2^20 events, %ld kB at the last check, %ld kB at "
			       "most (%u checks)\n",
			       "", m.first, m.last, m.max, m.n);
	}
	sim_scenario_free(&sc);
	return 0;
}
