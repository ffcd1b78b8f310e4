/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * A sample is the raw material of one tick: the bytes of every file read,
 * keyed by their path relative to the root, and the monotonic and real time
 * at which the tick was taken.  Sources that are not files (CPUID, later eBPF
 * maps and netlink) put JSON under ".hiddenq/<source>.json".
 *
 * Samples are what a capture bundle stores and what replay gives back, so
 * everything downstream of a sample is deterministic and testable on a
 * bundle.  Nothing here parses.
 *
 * Memory: the paths, and the data sample_add copies, live in the sample's
 * arena, chunks that are never moved, so adding a file is a bump
 * allocation and sample_done frees a handful of chunks.  sample_add_take
 * keeps the caller's buffer (big files are not copied again) and frees it
 * in sample_done.  Pointers in struct sfile stay valid until sample_done.
 */
#ifndef HQ_SAMPLE_H
#define HQ_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A static file: which optional sources the run was asked to read, one
 * boolean per sampler option ({"stalls": false, "bpf": true, ...}).  It lets
 * a finding tell a source switched off on the command line from one that was
 * unavailable, live and on replay alike.  Older bundles lack it.
 */
#define SWITCHES_PATH ".hiddenq/switches.json"

struct sfile {
	char *path;	/* relative, e.g. "proc/stat" (owned by the sample) */
	char *data;	/* NUL-terminated copy of the file (owned by the sample) */
	size_t len;
};

struct sample_chunk;

struct sample {
	uint64_t mono_ns;	/* CLOCK_MONOTONIC when the tick started */
	uint64_t real_ns;	/* CLOCK_REALTIME, for humans */
	unsigned index;		/* position in the run (0-based) */
	bool slow;		/* this tick also read the slow (1 s) families */
	struct sfile *files;
	size_t nfiles, cap;
	/* private to sample.c */
	struct sample_chunk *arena;	/* the chunk being filled, then older ones */
	char **taken;			/* buffers from sample_add_take, freed in sample_done */
	size_t ntaken, taken_cap;
};

void sample_init(struct sample *s);
void sample_done(struct sample *s);
/* Copies path and data. */
void sample_add(struct sample *s, const char *path, const char *data, size_t len);
/* Takes ownership of data (must be NUL-terminated at data[len]). */
void sample_add_take(struct sample *s, const char *path, char *data, size_t len);
/* Room for nfiles more files and bytes more arena bytes, so a big tick grows once. */
void sample_reserve(struct sample *s, size_t nfiles, size_t bytes);
const struct sfile *sample_find(const struct sample *s, const char *path);

#endif
