/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Recordings: every sample a capture bundle would hold, in one SQLite file
 * (WAL, synchronous=FULL), each sample compressed with zstd against the
 * sample before it, so a steady machine costs about a kilobyte a second
 * while every raw byte is kept (docs/recording-format.md).
 *
 * Crash safety: each sample is one transaction; a kill -9, a power loss or
 * a full disk lose at most the sample being written, never an earlier one.
 * A sample is a "delta" (compressed with the previous sample's bytes as
 * its prefix) or a "key" (with the trained dictionary only, every
 * keyframe_every samples): reading starts at any key, a damaged sample
 * (zstd's checksum) costs the deltas up to the next key, never the file.
 * Rotation (--max-size, --max-age) deletes the oldest runs of samples from
 * one key to the next.
 */
#ifndef HQ_STORE_H
#define HQ_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/sample.h"

#define STORE_FORMAT "hiddenq-record/1"

struct store_opts {
	uint64_t max_bytes;		/* 0: no limit; else rotate to stay under it */
	uint64_t max_age_ns;		/* 0: no limit; else drop runs older than this */
	unsigned keyframe_every;	/* 0: 60 */
	int level;			/* zstd level; 0: 3 */
	unsigned dict_after;		/* train the dictionary on this many first samples; 0: 32 */
};

struct store_stats {
	uint64_t samples;		/* in the file now */
	uint64_t appended;		/* by this writer */
	uint64_t raw_bytes, stored_bytes;	/* of the samples this writer appended */
	uint64_t file_bytes;		/* the database and its WAL */
	uint64_t rotated;		/* samples deleted by rotation */
	bool have_dict;
};

struct store;

/*
 * Create a recording at path, or continue one (same format; a new run of
 * samples starts with a key).  meta is borrowed (copied into the file);
 * statics (sample 0's static files) are stored once.  0, or -errno with
 * *why (malloc'd).
 */
int store_create(struct store **out, const char *path, const struct store_opts *o, const json_t *meta,
		 const struct sample *statics, char **why);
/*
 * Append one sample in its own transaction.  0; -ENOSPC when the disk is
 * full and rotation cannot make room (the recording is intact up to the
 * last sample; stop); other -errno with *why.
 */
int store_append(struct store *st, const struct sample *s, char **why);
void store_get_stats(struct store *st, struct store_stats *out);
void store_close(struct store *st);

struct store_reader;

/* True when path is a regular file that starts like a SQLite database. */
bool store_is_recording(const char *path);
/* Open read-only.  0, or -errno/-EINVAL with *why. */
int store_open(struct store_reader **out, const char *path, char **why);
/* The recording's meta (borrowed) and static files (borrowed). */
const json_t *store_meta(const struct store_reader *r);
const struct sample *store_statics(const struct store_reader *r);
/* Only samples with from_real <= real_ns <= to_real (0: no bound). */
void store_range(struct store_reader *r, uint64_t from_real, uint64_t to_real);
/* Next sample: 1 with *out filled (sample_done it), 0 at the end. Damaged ones are skipped and counted. */
int store_next(struct store_reader *r, struct sample *out);
unsigned store_skipped(const struct store_reader *r);
uint64_t store_count(const struct store_reader *r);
void store_close_reader(struct store_reader *r);

/* The sample wire form inside a recording (also fuzzed): 0 or -EINVAL. */
int store_unpack(const char *buf, size_t len, struct sample *out);
/* malloc'd; *len set */
char *store_pack(const struct sample *s, size_t *len);

#endif
