/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * For bench_bpf.py: QD=1 O_DIRECT 4 KiB reads of FILE, COUNT times, at
 * scattered block offsets.  Prints the mean microseconds per read.
 *   qd1read FILE COUNT
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: qd1read FILE COUNT\n");
		return 2;
	}
	int fd = open(argv[1], O_RDONLY | O_DIRECT);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 4096) {
		perror(argv[1]);
		return 1;
	}
	void *buf;
	if (posix_memalign(&buf, 4096, 4096))
		return 1;
	long n = atol(argv[2]);
	off_t blocks = st.st_size / 4096;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		if (pread(fd, buf, 4096, (off_t)((i * 7919) % blocks) * 4096) != 4096) {
			perror("pread");
			return 1;
		}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3 / (double)n;
	printf("%.3f\n", us);
	free(buf);
	close(fd);
	return 0;
}
