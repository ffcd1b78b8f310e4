/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The task iterator's records (src/sources/bpf/taskstat.c) as any bytes a
 * read could return: the decoder must walk them to the end without reading
 * past it, refuse tgid/tid 0 and a record cut short, and every accepted
 * record's text must be exactly the C library's "%llu %llu %lu\n" of its
 * numbers (what the kernel prints in /proc/PID/task/TID/schedstat), within
 * TASKSTAT_TEXT_MAX bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sources/bpf/taskstat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly `size` bytes, so ASan sees any read past the end */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	const char *p = buf, *end = buf + size;
	struct taskstat_line l;
	size_t steps = 0;
	int r;
	while ((r = taskstat_next(&p, end, &l)) != 0) {
		if (p > end || ++steps > size / TASKSTAT_REC_SIZE + 1)
			abort();
		if (r < 0) {
			if (r != -EINVAL)
				abort();
			continue;
		}
		if (l.tgid == 0 || l.tid == 0)
			abort();
		char got[TASKSTAT_TEXT_MAX + 1], want[128];
		size_t n = taskstat_format(&l, got);
		int wn = snprintf(want, sizeof(want), "%llu %llu %lu\n", (unsigned long long)l.sum_exec_runtime,
				  (unsigned long long)l.run_delay, (unsigned long)l.pcount);
		if (n > TASKSTAT_TEXT_MAX || n != (size_t)wn || memcmp(got, want, n + 1) != 0)
			abort();
	}
	if (p != end)
		abort();
	free(buf);
	return 0;
}
