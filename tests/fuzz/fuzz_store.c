/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Recordings from untrusted bytes.  Two targets in one: the sample wire
 * form (store_unpack) must refuse or give back a sample whose paths keep
 * the bundle rules and that packs back to the same bytes; and the input
 * written as a file and opened as a recording (a damaged SQLite file, or a
 * recording with flipped bytes when the input starts with a real one) must
 * never crash the reader.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sample/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sample s;
	if (store_unpack((const char *)data, size, &s) == 0) {
		for (size_t i = 0; i < s.nfiles; i++)
			if (s.files[i].path[0] == '/' || strstr(s.files[i].path, "..") == s.files[i].path)
				abort();
		size_t n;
		char *p = store_pack(&s, &n);
		if (n != size || memcmp(p, data, n) != 0)
			abort();
		free(p);
	}
	sample_done(&s);

	if (size >= 100 && !memcmp(data, "SQLite format 3", 16)) {
		char path[] = "/tmp/hq-fuzz-store-XXXXXX";
		int fd = mkstemp(path);
		if (fd < 0)
			return 0;
		if (write(fd, data, size) != (ssize_t)size) {
			close(fd);
			unlink(path);
			return 0;
		}
		close(fd);
		struct store_reader *r;
		char *why = NULL;
		if (store_open(&r, path, &why) == 0) {
			struct sample x;
			for (int k = 0; k < 1000 && store_next(r, &x) > 0; k++)
				sample_done(&x);
			store_close_reader(r);
		}
		free(why);
		unlink(path);
		char wal[64];
		snprintf(wal, sizeof(wal), "%s-wal", path);
		unlink(wal);
		snprintf(wal, sizeof(wal), "%s-shm", path);
		unlink(wal);
	}
	return 0;
}
