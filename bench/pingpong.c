/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * For bench_bpf.py when `perf bench sched pipe` is missing: two processes
 * pass one byte back and forth through two pipes COUNT times (pin them with
 * taskset so every pass is a wake-up and a context switch).  Prints the mean
 * microseconds per round trip, wall-clock and CPU time (user + system of
 * both processes, from getrusage): on a busy machine other work stretches
 * the wall-clock figure while the CPU time stays the ping-pong's own,
 * tracing included (the programs run in the switching tasks' context).
 *   pingpong COUNT   ->  "WALL_US CPU_US"
 *   pingpong COUNT CPU_A CPU_B: the parent on CPU_A, the child on CPU_B, so
 *   every pass wakes the other CPU, which idled meanwhile (the idle split's
 *   path: a switch from the idle task, and an IPI to wake it)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	int a[2], b[2];
	if (pipe(a) || pipe(b))
		return 1;
	char c = 'x';
	int ca = argc > 3 ? atoi(argv[2]) : -1, cb = argc > 3 ? atoi(argv[3]) : -1;
	pid_t pid = fork();
	if (pid == 0) {
		if (cb >= 0) {
			cpu_set_t s;
			CPU_ZERO(&s);
			CPU_SET(cb, &s);
			if (sched_setaffinity(0, sizeof(s), &s))
				_exit(1);
		}
		close(a[1]);	/* else the read below never sees EOF when the parent closes its end */
		close(b[0]);
		while (read(a[0], &c, 1) == 1)
			if (write(b[1], &c, 1) != 1)
				break;
		_exit(0);
	}
	if (ca >= 0) {
		cpu_set_t s;
		CPU_ZERO(&s);
		CPU_SET(ca, &s);
		if (sched_setaffinity(0, sizeof(s), &s))
			return 1;
	}
	close(a[0]);
	close(b[1]);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++)
		if (write(a[1], &c, 1) != 1 || read(b[0], &c, 1) != 1)
			return 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(a[1]);
	waitpid(pid, NULL, 0);
	struct rusage self, kid;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kid);
	double cpu_us = 0;
	const struct timeval *tv[] = { &self.ru_utime, &self.ru_stime, &kid.ru_utime, &kid.ru_stime };
	for (int i = 0; i < 4; i++)
		cpu_us += (double)tv[i]->tv_sec * 1e6 + (double)tv[i]->tv_usec;
	printf("%.3f %.3f\n", ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3 / (double)n,
	       cpu_us / (double)n);
	return 0;
}
