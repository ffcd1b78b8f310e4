/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * A plain pointer chase, written apart from src/probe/mem.c as the reference
 * for `make bench-probes`: for each working set given (bytes), link its
 * 64-byte lines into one random cycle (a different generator and shuffle
 * from the probe's), walk it for about 300 ms and print the mean ns per hop.
 * 4 KiB pages (MADV_NOHUGEPAGE), like the probe's "4k" curve.
 *
 *   chase SIZE...      prints "SIZE NS" lines
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static uint64_t now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

int main(int argc, char **argv)
{
	srand48(12345);
	for (int a = 1; a < argc; a++) {
		size_t size = strtoull(argv[a], NULL, 0), n = size / 64;
		char *buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (buf == MAP_FAILED || n < 2)
			return 1;
		madvise(buf, size, MADV_NOHUGEPAGE);
		memset(buf, 0, size);
		size_t *order = malloc(n * sizeof(*order));
		for (size_t i = 0; i < n; i++)
			order[i] = i;
		for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates, then link in that order */
			size_t j = (size_t)(drand48() * (double)(i + 1));
			size_t t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		for (size_t i = 0; i < n; i++)
			*(char **)(buf + order[i] * 64) = buf + order[(i + 1) % n] * 64;
		free(order);
		char **p = (char **)buf;
		for (size_t i = 0; i < n && i < (1u << 20); i++)
			p = (char **)*p;
		uint64_t hops = 0, t0 = now(), t;
		do {
			for (int i = 0; i < 100000; i++)
				p = (char **)*p;
			hops += 100000;
			t = now();
		} while (t - t0 < 300000000ull);
		printf("%zu %.3f %p\n", size, (double)(t - t0) / (double)hops, (void *)p);
		munmap(buf, size);
	}
	return 0;
}
