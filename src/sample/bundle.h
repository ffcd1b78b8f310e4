/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Capture bundles (format "hiddenq-capture/1", see docs/bundle-format.md):
 *
 *   DIR/meta.json
 *   DIR/samples/000000/time          "<CLOCK_MONOTONIC ns> <CLOCK_REALTIME ns>"
 *   DIR/samples/000000/proc/stat     byte-for-byte copies at their paths
 *   DIR/samples/000000/.hiddenq/identity.json
 *
 * The writer makes each sample directory under a temporary name and renames
 * it into place, so an interrupted capture leaves only complete samples.
 * The reader treats the bundle as hostile: no symlinks, no "..", only regular
 * files, bounded sizes; a bad sample is skipped with a warning.
 */
#ifndef HQ_BUNDLE_H
#define HQ_BUNDLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/sample.h"
#include "../core/util.h"
#include "../sys/fsroot.h"

struct store_reader;

#define BUNDLE_FORMAT "hiddenq-capture/1"

struct bundle_writer {
	char *dir;
	int dirfd, samplesfd;
	unsigned nsamples;
	json_t *meta;	/* owned */
};

/* dir must not exist or be empty. meta is taken over (format is added). */
int bundle_create(struct bundle_writer *w, const char *dir, json_t *meta, char **why);
/* Writes `s`; when statics is non-NULL (sample 0) its files go in too. */
int bundle_write_sample(struct bundle_writer *w, const struct sample *s, const struct sample *statics);
/* Rewrites meta.json with the final count; closes. */
int bundle_finish(struct bundle_writer *w, bool complete);

struct bundle_reader {
	struct fsroot root;
	json_t *meta;
	char **names;		/* sample directory names, sorted */
	size_t n, pos;
	struct sample statics;
	bool have_statics;
	uint64_t interval_ns;	/* from meta.json, 0 if absent */
	uint64_t last_mono;
	unsigned delivered, skipped;
	unsigned bad_entries, truncated;	/* entries ignored (symlinks, devices, unreadable); samples read in part */
	unsigned long total_bytes;
	struct store_reader *rec;	/* a recording (store.h) instead of a directory */
	uint64_t from_real, to_real;	/* bundle_range: deliver only samples in [from, to] (0: open) */
	struct log_some warned;		/* per-sample warnings: the first few, then a count (bundle_close) */
};

/* Opens and validates a bundle, or a recording (a file made by hiddenq
 * record: the same samples, read through sample/store.h).  On failure
 * returns -errno/-EINVAL and sets *why to a one-line reason (malloc'd). */
int bundle_open(struct bundle_reader *r, const char *dir, char **why);
/* Only samples whose CLOCK_REALTIME is in [from, to] (0: unbounded); before the first bundle_next. */
void bundle_range(struct bundle_reader *r, uint64_t from_real, uint64_t to_real);
/* Next usable sample: 1 with *out filled, 0 at the end. */
int bundle_next(struct bundle_reader *r, struct sample *out);
void bundle_close(struct bundle_reader *r);

/*
 * The statics (topology, identity ...) as a directory tree, for readers
 * that walk one (topo): a directory bundle's first sample as it is; for a
 * recording, its statics written into a new private directory under
 * $TMPDIR, whose path goes in *tmpdir for bundle_statics_remove (NULL for a
 * bundle).  root is opened confined.  0, or -errno with *why (malloc'd).
 */
int bundle_statics_root(const struct bundle_reader *r, const char *input, struct fsroot *root, char **tmpdir,
			char **why);
/* Remove the tree bundle_statics_root made and free the path (NULL: nothing to do). */
void bundle_statics_remove(char *tmpdir);

#endif
