/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Recordings (store.h): SQLite for atomic, crash-safe appends; zstd with
 * the previous sample as the prefix for size; a trained dictionary for the
 * keys.  The reader treats the file as hostile: SQLite's defensive mode,
 * bounded sizes, zstd checksums, and the same path rules as a bundle.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>
#include <zdict.h>
#include <zstd.h>

#include "../core/util.h"

#define MAX_SAMPLE (64u << 20)	/* a sample's raw bytes */
#define MAX_FILES 200000
#define MAX_PATH_LEN 4096
#define DICT_SIZE (16u << 10)

/* ---------------- the wire form of a sample ---------------- */

static void put32(struct strbuf *b, uint32_t v)
{
	unsigned char c[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 24) };
	sb_put(b, (const char *)c, 4);
}

static void put64(struct strbuf *b, uint64_t v)
{
	put32(b, (uint32_t)v);
	put32(b, (uint32_t)(v >> 32));
}

char *store_pack(const struct sample *s, size_t *len)
{
	struct strbuf b = { 0 };
	sb_put(&b, "HQS1", 4);
	put64(&b, s->mono_ns);
	put64(&b, s->real_ns);
	sb_put(&b, s->slow ? "\1" : "\0", 1);
	put32(&b, (uint32_t)s->nfiles);
	for (size_t i = 0; i < s->nfiles; i++) {
		size_t pl = strlen(s->files[i].path);
		put32(&b, (uint32_t)pl);
		sb_put(&b, s->files[i].path, pl);
		put32(&b, (uint32_t)s->files[i].len);
		sb_put(&b, s->files[i].data, s->files[i].len);
	}
	return sb_take(&b, len);
}

static bool get32(const char **p, const char *end, uint32_t *v)
{
	if (end - *p < 4)
		return false;
	const unsigned char *u = (const unsigned char *)*p;
	*v = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
	*p += 4;
	return true;
}

static bool get64(const char **p, const char *end, uint64_t *v)
{
	uint32_t lo, hi;
	if (!get32(p, end, &lo) || !get32(p, end, &hi))
		return false;
	*v = (uint64_t)hi << 32 | lo;
	return true;
}

/* The same rules as a bundle's tree: relative, no "." or ".." parts, no NUL, no empty parts. */
static bool path_ok(const char *p, size_t n)
{
	if (n == 0 || n > MAX_PATH_LEN || p[0] == '/' || memchr(p, '\0', n))
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && p[i] != '/')
			continue;
		size_t l = i - start;
		if (l == 0 || (l == 1 && p[start] == '.') || (l == 2 && p[start] == '.' && p[start + 1] == '.'))
			return false;
		start = i + 1;
	}
	return true;
}

int store_unpack(const char *buf, size_t len, struct sample *out)
{
	sample_init(out);
	const char *p = buf, *end = buf + len;
	uint64_t mono, real;
	uint32_t n;
	if (len < 4 || memcmp(buf, "HQS1", 4) != 0)
		return -EINVAL;
	p += 4;
	if (!get64(&p, end, &mono) || !get64(&p, end, &real) || p >= end)
		return -EINVAL;
	if (*p != 0 && *p != 1)
		return -EINVAL;
	bool slow = *p++ != 0;
	if (!get32(&p, end, &n) || n > MAX_FILES)
		return -EINVAL;
	out->mono_ns = mono;
	out->real_ns = real;
	out->slow = slow;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t pl, dl;
		if (!get32(&p, end, &pl) || pl > (size_t)(end - p) || !path_ok(p, pl))
			goto bad;
		char path[MAX_PATH_LEN + 1];
		memcpy(path, p, pl);
		path[pl] = '\0';
		p += pl;
		if (!get32(&p, end, &dl) || dl > (size_t)(end - p))
			goto bad;
		sample_add(out, path, p, dl);
		p += dl;
	}
	if (p != end)
		goto bad;
	return 0;
bad:
	sample_done(out);
	sample_init(out);
	return -EINVAL;
}

/* ---------------- the writer ---------------- */

struct store {
	sqlite3 *db;
	sqlite3_stmt *ins;
	char *path;
	struct store_opts o;
	ZSTD_CCtx *cctx;
	ZSTD_CDict *cdict;
	int64_t dict_id;
	char *prev;		/* the last appended sample, packed: the next delta's prefix */
	size_t prev_len;
	unsigned since_key;
	struct strbuf train;	/* the first samples, for the dictionary */
	size_t *train_sizes;
	unsigned ntrain;
	bool trained;
	unsigned appends_since_check;
	struct store_stats st;
};

static int exec(sqlite3 *db, const char *sql, char **why)
{
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	if (rc != SQLITE_OK && why)
		*why = xasprintf("%s", err ? err : sqlite3_errstr(rc));
	sqlite3_free(err);
	return rc;
}

static int64_t query_int(sqlite3 *db, const char *sql, int64_t dflt)
{
	sqlite3_stmt *q;
	int64_t v = dflt;
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		return dflt;
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return v;
}

static int errno_of(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL: return ENOSPC;
	case SQLITE_READONLY: case SQLITE_PERM: return EACCES;
	case SQLITE_CANTOPEN: return ENOENT;
	case SQLITE_NOTADB: case SQLITE_CORRUPT: return EINVAL;
	case SQLITE_BUSY: case SQLITE_LOCKED: return EBUSY;
	case SQLITE_NOMEM: return ENOMEM;
	default: return EIO;
	}
}

static char *zpack(ZSTD_CCtx *cctx, const char *src, size_t n, size_t *out_len)
{
	size_t cap = ZSTD_compressBound(n);
	char *dst = xmalloc(cap);
	size_t r = ZSTD_compress2(cctx, dst, cap, src, n);
	if (ZSTD_isError(r)) {
		free(dst);
		return NULL;
	}
	*out_len = r;
	return dst;
}

static void put_meta(struct store *st, const char *key, const void *v, size_t n, bool blob)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", -1, &q, NULL) !=
	    SQLITE_OK)
		return;
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	if (blob)
		sqlite3_bind_blob(q, 2, v, (int)n, SQLITE_STATIC);
	else
		sqlite3_bind_text(q, 2, v, (int)n, SQLITE_STATIC);
	sqlite3_step(q);
	sqlite3_finalize(q);
}

int store_create(struct store **out, const char *path, const struct store_opts *o, const json_t *meta,
		 const struct sample *statics, char **why)
{
	*out = NULL;
	*why = NULL;
	struct store *st = xcalloc(1, sizeof(*st));
	st->o = *o;
	if (!st->o.keyframe_every)
		st->o.keyframe_every = 60;
	if (!st->o.level)
		st->o.level = 3;
	if (!st->o.dict_after)
		st->o.dict_after = 32;
	st->path = xstrdup(path);
	int rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW,
				 NULL);
	if (rc != SQLITE_OK) {
		*why = xasprintf("%s: %s", path, st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		store_close(st);
		return -errno_of(rc);
	}
	sqlite3_busy_timeout(st->db, 2000);
	sqlite3_extended_result_codes(st->db, 1);
	int64_t ntables = query_int(st->db, "SELECT count(*) FROM sqlite_master", -1);
	if (ntables < 0) {
		*why = xasprintf("%s exists and is not a hiddenq recording (%s)", path, sqlite3_errmsg(st->db));
		store_close(st);
		return -EEXIST;
	}
	bool fresh = ntables == 0;
	if (!fresh) {
		sqlite3_stmt *q;
		const char *fmt = NULL;
		if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = 'format'", -1, &q, NULL) == SQLITE_OK &&
		    sqlite3_step(q) == SQLITE_ROW)
			fmt = (const char *)sqlite3_column_text(q, 0);
		bool ok = fmt && !strcmp(fmt, STORE_FORMAT);
		sqlite3_finalize(q);
		if (!ok) {
			*why = xasprintf("%s exists and is not a hiddenq recording (%s)", path, STORE_FORMAT);
			store_close(st);
			return -EEXIST;
		}
	}
	if ((fresh && exec(st->db, "PRAGMA auto_vacuum = INCREMENTAL", why) != SQLITE_OK) ||
	    exec(st->db, "PRAGMA journal_mode = WAL", why) != SQLITE_OK ||
	    exec(st->db, "PRAGMA synchronous = FULL", why) != SQLITE_OK ||
	    (fresh && exec(st->db,
			   "BEGIN;"
			   "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB);"
			   "CREATE TABLE dicts(id INTEGER PRIMARY KEY, data BLOB NOT NULL);"
			   "CREATE TABLE samples(seq INTEGER PRIMARY KEY, mono_ns INTEGER NOT NULL, "
			   "real_ns INTEGER NOT NULL, kind INTEGER NOT NULL, dict INTEGER NOT NULL, "
			   "raw_len INTEGER NOT NULL, data BLOB NOT NULL);"
			   "CREATE INDEX samples_real ON samples(real_ns);"
			   "COMMIT;",
			   why) != SQLITE_OK)) {
		char *w = xasprintf("%s: %s", path, *why ? *why : "cannot set up");
		free(*why);
		*why = w;
		int e = errno_of(sqlite3_errcode(st->db));
		store_close(st);
		return -e;
	}
	st->cctx = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(st->cctx, ZSTD_c_compressionLevel, st->o.level);
	ZSTD_CCtx_setParameter(st->cctx, ZSTD_c_checksumFlag, 1);
	if (fresh) {
		exec(st->db, "BEGIN", NULL);
		put_meta(st, "format", STORE_FORMAT, strlen(STORE_FORMAT), false);
		char *mj = json_dumps(meta, JSON_COMPACT);
		if (mj)
			put_meta(st, "meta", mj, strlen(mj), false);
		free(mj);
		if (statics) {
			size_t pl, zl;
			char *p = store_pack(statics, &pl);
			char *z = zpack(st->cctx, p, pl, &zl);
			if (z)
				put_meta(st, "statics", z, zl, true);
			free(p);
			free(z);
		}
		if (exec(st->db, "COMMIT", why) != SQLITE_OK) {
			int e = errno_of(sqlite3_errcode(st->db));
			store_close(st);
			return -e;
		}
	} else {
		/* continue: the newest dictionary keeps serving the keys */
		sqlite3_stmt *q;
		if (sqlite3_prepare_v2(st->db, "SELECT id, data FROM dicts ORDER BY id DESC LIMIT 1", -1, &q, NULL) ==
			    SQLITE_OK &&
		    sqlite3_step(q) == SQLITE_ROW) {
			st->dict_id = sqlite3_column_int64(q, 0);
			st->cdict = ZSTD_createCDict(sqlite3_column_blob(q, 1), (size_t)sqlite3_column_bytes(q, 1),
						     st->o.level);
			st->trained = st->cdict != NULL;
		}
		sqlite3_finalize(q);
	}
	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO samples(mono_ns, real_ns, kind, dict, raw_len, data) VALUES (?, ?, ?, ?, ?, ?)",
			       -1, &st->ins, NULL) != SQLITE_OK) {
		*why = xasprintf("%s: %s", path, sqlite3_errmsg(st->db));
		store_close(st);
		return -EIO;
	}
	st->st.samples = (uint64_t)query_int(st->db, "SELECT count(*) FROM samples", 0);
	*out = st;
	return 0;
}

/* Delete the oldest run (its key up to the next key); false when one run or none is left. */
static bool rotate_one(struct store *st)
{
	int64_t first = query_int(st->db, "SELECT min(seq) FROM samples", -1);
	if (first < 0)
		return false;
	char sql[160];
	snprintf(sql, sizeof(sql), "SELECT min(seq) FROM samples WHERE kind = 0 AND seq > %lld", (long long)first);
	int64_t next = query_int(st->db, sql, -1);
	if (next < 0)
		return false;
	snprintf(sql, sizeof(sql), "DELETE FROM samples WHERE seq < %lld", (long long)next);
	if (exec(st->db, sql, NULL) != SQLITE_OK)
		return false;
	st->st.rotated += (uint64_t)sqlite3_changes(st->db);
	exec(st->db, "PRAGMA incremental_vacuum", NULL);
	return true;
}

static uint64_t file_bytes(struct store *st)
{
	int64_t pages = query_int(st->db, "PRAGMA page_count", 0), fl = query_int(st->db, "PRAGMA freelist_count", 0),
		psz = query_int(st->db, "PRAGMA page_size", 4096);
	uint64_t n = (uint64_t)((pages - fl) * psz);
	char *wal = xasprintf("%s-wal", st->path);
	struct stat s;
	if (stat(wal, &s) == 0)
		n += (uint64_t)s.st_size;
	free(wal);
	return n;
}

static void limits(struct store *st, uint64_t now_real)
{
	bool rotated = false;
	if (st->o.max_age_ns && now_real > st->o.max_age_ns) {
		/* runs whose newest sample is older than the limit */
		for (int guard = 0; guard < 1000; guard++) {
			int64_t first = query_int(st->db, "SELECT min(seq) FROM samples", -1);
			char sql[200];
			snprintf(sql, sizeof(sql),
				 "SELECT max(real_ns) FROM samples WHERE seq < coalesce((SELECT min(seq) FROM samples "
				 "WHERE kind = 0 AND seq > %lld), 9223372036854775807)",
				 (long long)first);
			int64_t newest = query_int(st->db, sql, -1);
			if (newest < 0 || (uint64_t)newest >= now_real - st->o.max_age_ns || !rotate_one(st))
				break;
			rotated = true;
		}
	}
	if (st->o.max_bytes) {
		/* the WAL is part of the bill: fold it back in first */
		exec(st->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL);
		for (int guard = 0; guard < 1000 && file_bytes(st) > st->o.max_bytes; guard++) {
			if (!rotate_one(st))
				break;
			rotated = true;
		}
	}
	if (rotated)
		exec(st->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL);
}

static void train(struct store *st, const char *p, size_t n)
{
	if (st->trained || st->ntrain >= st->o.dict_after)
		return;
	sb_put(&st->train, p, n);
	st->train_sizes = xrealloc(st->train_sizes, (st->ntrain + 1) * sizeof(*st->train_sizes));
	st->train_sizes[st->ntrain++] = n;
	if (st->ntrain < st->o.dict_after)
		return;
	char *dict = xmalloc(DICT_SIZE);
	size_t dl = ZDICT_trainFromBuffer(dict, DICT_SIZE, st->train.s, st->train_sizes, st->ntrain);
	if (!ZDICT_isError(dl)) {
		sqlite3_stmt *q;
		if (sqlite3_prepare_v2(st->db, "INSERT INTO dicts(data) VALUES (?)", -1, &q, NULL) == SQLITE_OK) {
			sqlite3_bind_blob(q, 1, dict, (int)dl, SQLITE_STATIC);
			if (sqlite3_step(q) == SQLITE_DONE) {
				st->dict_id = sqlite3_last_insert_rowid(st->db);
				st->cdict = ZSTD_createCDict(dict, dl, st->o.level);
			}
			sqlite3_finalize(q);
		}
	}
	free(dict);
	st->trained = true; /* tried once: the dictionary or none */
	sb_done(&st->train);
	free(st->train_sizes);
	st->train_sizes = NULL;
}

static int insert(struct store *st, const struct sample *s, bool key, const char *z, size_t zl, size_t raw)
{
	sqlite3_reset(st->ins);
	sqlite3_bind_int64(st->ins, 1, (sqlite3_int64)s->mono_ns);
	sqlite3_bind_int64(st->ins, 2, (sqlite3_int64)s->real_ns);
	sqlite3_bind_int(st->ins, 3, key ? 0 : 1);
	sqlite3_bind_int64(st->ins, 4, key && st->cdict ? st->dict_id : 0);
	sqlite3_bind_int64(st->ins, 5, (sqlite3_int64)raw);
	sqlite3_bind_blob(st->ins, 6, z, (int)zl, SQLITE_STATIC);
	int rc = sqlite3_step(st->ins);
	sqlite3_reset(st->ins);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int store_append(struct store *st, const struct sample *s, char **why)
{
	*why = NULL;
	size_t n;
	char *p = store_pack(s, &n);
	if (n > MAX_SAMPLE) {
		free(p);
		*why = xasprintf("a sample of %zu bytes is over the %u MiB a recording takes", n, MAX_SAMPLE >> 20);
		return -EFBIG;
	}
	bool key = !st->prev || st->since_key + 1 >= st->o.keyframe_every;
	ZSTD_CCtx_reset(st->cctx, ZSTD_reset_session_only);
	ZSTD_CCtx_refCDict(st->cctx, NULL);
	if (key && st->cdict)
		ZSTD_CCtx_refCDict(st->cctx, st->cdict);
	else if (!key)
		ZSTD_CCtx_refPrefix(st->cctx, st->prev, st->prev_len);
	size_t zl;
	char *z = zpack(st->cctx, p, n, &zl);
	if (!z) {
		free(p);
		*why = xstrdup("zstd could not compress the sample");
		return -EIO;
	}
	int rc = SQLITE_OK;
	for (int attempt = 0; attempt < 2; attempt++) {
		rc = exec(st->db, "BEGIN IMMEDIATE", NULL);
		if (rc == SQLITE_OK)
			rc = insert(st, s, key, z, zl, n);
		if (rc == SQLITE_OK)
			rc = exec(st->db, "COMMIT", NULL);
		if (rc == SQLITE_OK)
			break;
		exec(st->db, "ROLLBACK", NULL);
		/* a full disk: make room by dropping the oldest run, once */
		if ((rc & 0xff) != SQLITE_FULL || !rotate_one(st))
			break;
		exec(st->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL);
	}
	free(z);
	if (rc != SQLITE_OK) {
		free(p);
		bool full = (rc & 0xff) == SQLITE_FULL;
		*why = full ? xasprintf("%s: the disk is full; the recording is intact up to the last sample written",
					st->path)
			    : xasprintf("%s: %s", st->path, sqlite3_errstr(rc));
		return full ? -ENOSPC : -errno_of(rc);
	}
	st->since_key = key ? 0 : st->since_key + 1;
	st->st.appended++;
	st->st.samples++;
	st->st.raw_bytes += n;
	st->st.stored_bytes += zl;
	train(st, p, n);
	free(st->prev);
	st->prev = p;
	st->prev_len = n;
	if (++st->appends_since_check >= 16 || st->st.appended == 1) {
		st->appends_since_check = 0;
		limits(st, s->real_ns);
		st->st.samples = (uint64_t)query_int(st->db, "SELECT count(*) FROM samples", 0);
	}
	return 0;
}

void store_get_stats(struct store *st, struct store_stats *out)
{
	*out = st->st;
	out->file_bytes = file_bytes(st);
	out->have_dict = st->cdict != NULL;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	if (st->ins)
		sqlite3_finalize(st->ins);
	if (st->db) {
		exec(st->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL);
		sqlite3_close(st->db);
	}
	ZSTD_freeCCtx(st->cctx);
	ZSTD_freeCDict(st->cdict);
	free(st->prev);
	sb_done(&st->train);
	free(st->train_sizes);
	free(st->path);
	free(st);
}

/* ---------------- the reader ---------------- */

struct rdict {
	int64_t id;
	ZSTD_DDict *d;
};

struct store_reader {
	sqlite3 *db;
	sqlite3_stmt *q;
	json_t *meta;
	struct sample statics;
	ZSTD_DCtx *dctx;
	struct rdict *dicts;
	size_t ndicts;
	char *prev;
	size_t prev_len;
	int64_t prev_seq;
	uint64_t from, to;
	bool started;
	unsigned skipped;
	uint64_t count;
};

bool store_is_recording(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return false;
	struct stat s;
	char hdr[16];
	bool ok = fstat(fd, &s) == 0 && S_ISREG(s.st_mode) && read(fd, hdr, 16) == 16 &&
		  memcmp(hdr, "SQLite format 3", 16) == 0;
	close(fd);
	return ok;
}

static char *unzstd(struct store_reader *r, const void *src, size_t n, size_t raw, const ZSTD_DDict *dict,
		    const char *prefix, size_t plen)
{
	if (raw > MAX_SAMPLE)
		return NULL;
	unsigned long long fsz = ZSTD_getFrameContentSize(src, n);
	if (fsz == ZSTD_CONTENTSIZE_ERROR || (fsz != ZSTD_CONTENTSIZE_UNKNOWN && fsz != raw))
		return NULL;
	ZSTD_DCtx_reset(r->dctx, ZSTD_reset_session_only);
	ZSTD_DCtx_refDDict(r->dctx, NULL);
	if (dict)
		ZSTD_DCtx_refDDict(r->dctx, dict);
	else if (prefix)
		ZSTD_DCtx_refPrefix(r->dctx, prefix, plen);
	char *out = xmalloc(raw + 1);
	size_t got = ZSTD_decompressDCtx(r->dctx, out, raw, src, n);
	if (ZSTD_isError(got) || got != raw) {
		free(out);
		return NULL;
	}
	return out;
}

static const ZSTD_DDict *ddict_of(const struct store_reader *r, int64_t id)
{
	for (size_t i = 0; i < r->ndicts; i++)
		if (r->dicts[i].id == id)
			return r->dicts[i].d;
	return NULL;
}

int store_open(struct store_reader **out, const char *path, char **why)
{
	*out = NULL;
	*why = NULL;
	struct store_reader *r = xcalloc(1, sizeof(*r));
	sample_init(&r->statics);
	r->prev_seq = -2;
	int rc = sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		*why = xasprintf("%s: %s", path, r->db ? sqlite3_errmsg(r->db) : sqlite3_errstr(rc));
		store_close_reader(r);
		return -errno_of(rc);
	}
	sqlite3_db_config(r->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(r->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_busy_timeout(r->db, 2000);
	r->dctx = ZSTD_createDCtx();
	sqlite3_stmt *q;
	const char *fmt = NULL;
	rc = sqlite3_prepare_v2(r->db, "SELECT value FROM meta WHERE key = 'format'", -1, &q, NULL);
	if (rc == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
		fmt = (const char *)sqlite3_column_text(q, 0);
	bool ok = fmt && !strcmp(fmt, STORE_FORMAT);
	if (rc == SQLITE_OK)
		sqlite3_finalize(q);
	if (!ok) {
		*why = xasprintf("%s: not a hiddenq recording (no %s format in its meta table%s%s)", path, STORE_FORMAT,
				 rc != SQLITE_OK ? ": " : "", rc != SQLITE_OK ? sqlite3_errmsg(r->db) : "");
		store_close_reader(r);
		return -EINVAL;
	}
	if (sqlite3_prepare_v2(r->db, "SELECT key, value FROM meta WHERE key IN ('meta', 'statics')", -1, &q, NULL) ==
	    SQLITE_OK) {
		while (sqlite3_step(q) == SQLITE_ROW) {
			const char *k = (const char *)sqlite3_column_text(q, 0);
			const void *v = sqlite3_column_blob(q, 1);
			size_t n = (size_t)sqlite3_column_bytes(q, 1);
			if (k && !strcmp(k, "meta") && v) {
				json_error_t e;
				r->meta = json_loadb(v, n, 0, &e);
			} else if (k && !strcmp(k, "statics") && v) {
				unsigned long long raw = ZSTD_getFrameContentSize(v, n);
				char *p = raw <= MAX_SAMPLE ? unzstd(r, v, n, (size_t)raw, NULL, NULL, 0) : NULL;
				if (!p || store_unpack(p, (size_t)raw, &r->statics) < 0)
					log_warn("recording: its static files are damaged; topology and identity are "
						 "missing");
				free(p);
			}
		}
		sqlite3_finalize(q);
	}
	if (!json_is_object(r->meta)) {
		json_decref(r->meta);
		r->meta = json_object();
	}
	if (sqlite3_prepare_v2(r->db, "SELECT id, data FROM dicts", -1, &q, NULL) == SQLITE_OK) {
		while (sqlite3_step(q) == SQLITE_ROW && r->ndicts < 64) {
			ZSTD_DDict *d =
				ZSTD_createDDict(sqlite3_column_blob(q, 1), (size_t)sqlite3_column_bytes(q, 1));
			if (!d)
				continue;
			r->dicts = xrealloc(r->dicts, (r->ndicts + 1) * sizeof(*r->dicts));
			r->dicts[r->ndicts].id = sqlite3_column_int64(q, 0);
			r->dicts[r->ndicts++].d = d;
		}
		sqlite3_finalize(q);
	}
	r->count = (uint64_t)query_int(r->db, "SELECT count(*) FROM samples", 0);
	*out = r;
	return 0;
}

const json_t *store_meta(const struct store_reader *r)
{
	return r->meta;
}

const struct sample *store_statics(const struct store_reader *r)
{
	return &r->statics;
}

uint64_t store_count(const struct store_reader *r)
{
	return r->count;
}

unsigned store_skipped(const struct store_reader *r)
{
	return r->skipped;
}

void store_range(struct store_reader *r, uint64_t from_real, uint64_t to_real)
{
	r->from = from_real;
	r->to = to_real;
}

static bool start(struct store_reader *r)
{
	r->started = true;
	/* decode from the last key at or before --from, deliver from --from on */
	int64_t first = 0;
	if (r->from) {
		char sql[160];
		snprintf(sql, sizeof(sql), "SELECT max(seq) FROM samples WHERE kind = 0 AND real_ns <= %lld",
			 (long long)r->from);
		first = query_int(r->db, sql, 0);
	}
	char sql[200];
	snprintf(sql, sizeof(sql),
		 "SELECT seq, kind, dict, raw_len, data FROM samples WHERE seq >= %lld%s ORDER BY seq",
		 (long long)first, r->to ? " AND real_ns <= ?" : "");
	if (sqlite3_prepare_v2(r->db, sql, -1, &r->q, NULL) != SQLITE_OK)
		return false;
	if (r->to)
		sqlite3_bind_int64(r->q, 1, (sqlite3_int64)r->to);
	return true;
}

int store_next(struct store_reader *r, struct sample *out)
{
	if (!r->started && !start(r))
		return 0;
	if (!r->q)
		return 0;
	int rc;
	while ((rc = sqlite3_step(r->q)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(r->q, 0);
		int kind = sqlite3_column_int(r->q, 1);
		int64_t dict = sqlite3_column_int64(r->q, 2), raw = sqlite3_column_int64(r->q, 3);
		const void *z = sqlite3_column_blob(r->q, 4);
		size_t zl = (size_t)sqlite3_column_bytes(r->q, 4);
		char *p = NULL;
		if (raw > 0 && raw <= MAX_SAMPLE && z) {
			if (kind == 0) {
				const ZSTD_DDict *d = dict ? ddict_of(r, dict) : NULL;
				if (!dict || d)
					p = unzstd(r, z, zl, (size_t)raw, d, NULL, 0);
			} else if (r->prev && r->prev_seq == seq - 1) {
				p = unzstd(r, z, zl, (size_t)raw, NULL, r->prev, r->prev_len);
			}
		}
		free(r->prev);
		r->prev = p;
		r->prev_len = p ? (size_t)raw : 0;
		r->prev_seq = p ? seq : -2;
		if (!p) {
			r->skipped++;
			continue;
		}
		if (store_unpack(p, (size_t)raw, out) < 0) {
			r->skipped++;
			continue;
		}
		if ((r->from && out->real_ns < r->from) || (r->to && out->real_ns > r->to)) {
			sample_done(out); /* the range may be set after the first read */
			continue;
		}
		return 1;
	}
	if (rc != SQLITE_DONE) {
		log_warn("recording: reading stopped early: %s", sqlite3_errmsg(r->db));
		r->skipped++;
	}
	sqlite3_finalize(r->q);
	r->q = NULL;
	return 0;
}

void store_close_reader(struct store_reader *r)
{
	if (!r)
		return;
	if (r->q)
		sqlite3_finalize(r->q);
	if (r->db)
		sqlite3_close(r->db);
	json_decref(r->meta);
	sample_done(&r->statics);
	ZSTD_freeDCtx(r->dctx);
	for (size_t i = 0; i < r->ndicts; i++)
		ZSTD_freeDDict(r->dicts[i].d);
	free(r->dicts);
	free(r->prev);
	free(r);
}
