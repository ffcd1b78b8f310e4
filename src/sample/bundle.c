/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "bundle.h"
#include "store.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/util.h"
#include "../parse/parse.h"

#define MAX_SAMPLE_FILES 50000
#define MAX_FILE_BYTES (16u << 20)
#define MAX_SAMPLE_BYTES (256u << 20)
#define MAX_SAMPLES 1000000
#define MAX_DEPTH 24
#define MAX_META (1u << 20)

/* ------------------------------------------------------------------ */
/* writer                                                              */
/* ------------------------------------------------------------------ */

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_file_at(int dirfd, const char *name, const char *data, size_t len)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	int r = write_all(fd, data, len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

/* Create parent directories of rel below dirfd and write the file. */
static int write_rel(int dirfd, const char *rel, const char *data, size_t len)
{
	if (!fsroot_path_ok(rel))
		return -EINVAL;
	char *copy = xstrdup(rel);
	int cur = dirfd;
	int ret = 0;
	char *p = copy;
	for (;;) {
		char *slash = strchr(p, '/');
		if (!slash) {
			ret = write_file_at(cur, p, data, len);
			break;
		}
		*slash = '\0';
		if (mkdirat(cur, p, 0755) < 0 && errno != EEXIST) {
			ret = -errno;
			break;
		}
		int nfd = openat(cur, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			ret = -errno;
			break;
		}
		if (cur != dirfd)
			close(cur);
		cur = nfd;
		p = slash + 1;
	}
	if (cur != dirfd)
		close(cur);
	free(copy);
	return ret;
}

static int write_meta(struct bundle_writer *w)
{
	char *txt = json_dumps(w->meta, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!txt)
		return -ENOMEM;
	size_t len = strlen(txt);
	int r = write_file_at(w->dirfd, "meta.json.tmp", txt, len);
	if (r == 0 && renameat(w->dirfd, "meta.json.tmp", w->dirfd, "meta.json") < 0)
		r = -errno;
	free(txt);
	return r;
}

int bundle_create(struct bundle_writer *w, const char *dir, json_t *meta, char **why)
{
	memset(w, 0, sizeof(*w));
	w->dirfd = w->samplesfd = -1;
	*why = NULL;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		int e = errno;
		*why = xasprintf("cannot create %s: %s", dir, strerror(e));
		json_decref(meta);
		return -e;
	}
	w->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd < 0) {
		int e = errno;
		*why = xasprintf("cannot open %s: %s", dir, strerror(e));
		json_decref(meta);
		return -e;
	}
	/* Refuse to mix two captures: the directory must be empty. */
	int dup = fcntl(w->dirfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
	struct dirent *de;
	bool empty = true;
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = false;
	if (d)
		closedir(d);
	if (!empty) {
		*why = xasprintf("%s is not empty; give a new directory", dir);
		close(w->dirfd);
		w->dirfd = -1;
		json_decref(meta);
		return -EEXIST;
	}
	if (mkdirat(w->dirfd, "samples", 0755) < 0 ||
	    (w->samplesfd = openat(w->dirfd, "samples", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		int e = errno;
		*why = xasprintf("cannot create %s/samples: %s", dir, strerror(e));
		close(w->dirfd);
		w->dirfd = -1;
		json_decref(meta);
		return -e;
	}
	w->dir = xstrdup(dir);
	w->meta = meta;
	json_object_set_new(w->meta, "format", json_string(BUNDLE_FORMAT));
	json_object_set_new(w->meta, "samples", json_integer(0));
	json_object_set_new(w->meta, "complete", json_false());
	int r = write_meta(w);
	if (r < 0)
		*why = xasprintf("cannot write %s/meta.json: %s", dir, strerror(-r));
	return r;
}

int bundle_write_sample(struct bundle_writer *w, const struct sample *s, const struct sample *statics)
{
	char tmp[32], final[16];
	snprintf(final, sizeof(final), "%06u", w->nsamples);
	snprintf(tmp, sizeof(tmp), "%06u.tmp", w->nsamples);
	if (mkdirat(w->samplesfd, tmp, 0755) < 0)
		return -errno;
	int fd = openat(w->samplesfd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = 0;
	char tbuf[64];
	int tn = snprintf(tbuf, sizeof(tbuf), "%llu %llu\n", (unsigned long long)s->mono_ns,
			  (unsigned long long)s->real_ns);
	r = write_file_at(fd, "time", tbuf, (size_t)tn);
	for (size_t i = 0; statics && r == 0 && i < statics->nfiles; i++)
		r = write_rel(fd, statics->files[i].path, statics->files[i].data, statics->files[i].len);
	for (size_t i = 0; r == 0 && i < s->nfiles; i++)
		r = write_rel(fd, s->files[i].path, s->files[i].data, s->files[i].len);
	close(fd);
	if (r == 0 && renameat(w->samplesfd, tmp, w->samplesfd, final) < 0)
		r = -errno;
	if (r == 0)
		w->nsamples++;
	return r;
}

int bundle_finish(struct bundle_writer *w, bool complete)
{
	int r = 0;
	if (w->meta) {
		json_object_set_new(w->meta, "samples", json_integer(w->nsamples));
		json_object_set_new(w->meta, "complete", json_boolean(complete));
		r = write_meta(w);
		json_decref(w->meta);
	}
	if (w->samplesfd >= 0)
		close(w->samplesfd);
	if (w->dirfd >= 0)
		close(w->dirfd);
	free(w->dir);
	memset(w, 0, sizeof(*w));
	w->dirfd = w->samplesfd = -1;
	return r;
}

/* ------------------------------------------------------------------ */
/* reader                                                              */
/* ------------------------------------------------------------------ */

static bool is_sample_name(const char *s)
{
	size_t n = strlen(s);
	if (n < 6 || n > 9)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t lx = strlen(x), ly = strlen(y);
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(x, y);
}

static int open_recording(struct bundle_reader *r, const char *path, char **why)
{
	int ret = store_open(&r->rec, path, why);
	if (ret < 0)
		return ret;
	r->meta = json_deep_copy(store_meta(r->rec));
	if (!json_is_object(r->meta)) {
		json_decref(r->meta);
		r->meta = json_object();
	}
	const struct sample *st = store_statics(r->rec);
	for (size_t i = 0; i < st->nfiles; i++)
		sample_add(&r->statics, st->files[i].path, st->files[i].data, st->files[i].len);
	r->have_statics = true;
	double ms = json_number_value(json_object_get(r->meta, "interval_ms"));
	r->interval_ns = ms > 0 && ms < 86400000 ? (uint64_t)(ms * 1e6) : 0;
	return 0;
}

void bundle_range(struct bundle_reader *r, uint64_t from_real, uint64_t to_real)
{
	r->from_real = from_real;
	r->to_real = to_real;
	if (r->rec)
		store_range(r->rec, from_real, to_real);
}

static int bundle_next_recording(struct bundle_reader *r, struct sample *out)
{
	int got = store_next(r->rec, out);
	if (got <= 0) {
		r->skipped = store_skipped(r->rec);
		return 0;
	}
	out->index = r->delivered++;
	r->last_mono = out->mono_ns;
	for (size_t i = 0; i < out->nfiles; i++)
		r->total_bytes += out->files[i].len;
	return 1;
}

int bundle_open(struct bundle_reader *r, const char *dir, char **why)
{
	memset(r, 0, sizeof(*r));
	r->warned.what = "warnings about samples of the bundle";
	r->root.dirfd = -1;
	*why = NULL;
	sample_init(&r->statics);
	if (store_is_recording(dir)) {
		int rr = open_recording(r, dir, why);
		if (rr < 0)
			bundle_close(r);
		return rr;
	}
	int ret = fsroot_init(&r->root, dir, true);
	if (ret < 0) {
		*why = xasprintf("cannot open bundle %s: %s", dir, strerror(-ret));
		return ret;
	}
	char *mtxt;
	size_t mlen;
	ret = fsroot_read(&r->root, "meta.json", &mtxt, &mlen, MAX_META);
	if (ret < 0) {
		*why = ret == -EFBIG ? xasprintf("%s/meta.json is larger than 1 MiB: not a bundle", dir)
				     : xasprintf("%s is not a hiddenq bundle: meta.json: %s", dir,
						 ret == -EINVAL ? "not a regular file" : strerror(-ret));
		free(ret == -EFBIG ? mtxt : NULL);
		bundle_close(r);
		return ret == -EFBIG ? -EINVAL : ret;
	}
	json_error_t jerr;
	r->meta = json_loadb(mtxt, mlen, 0, &jerr);
	free(mtxt);
	if (!r->meta || !json_is_object(r->meta)) {
		*why = xasprintf("%s/meta.json is not a JSON object (line %d: %s)", dir, jerr.line, jerr.text);
		bundle_close(r);
		return -EINVAL;
	}
	json_t *fmt = json_object_get(r->meta, "format");
	const char *fs = json_is_string(fmt) ? json_string_value(fmt) : "";
	if (strncmp(fs, "hiddenq-capture/1", 17) != 0 || (fs[17] && fs[17] != '.')) {
		*why = xasprintf("%s/meta.json: format is \"%s\", expected \"%s\"", dir, fs, BUNDLE_FORMAT);
		bundle_close(r);
		return -EINVAL;
	}
	json_t *iv = json_object_get(r->meta, "interval_ms");
	if (json_is_number(iv) && json_number_value(iv) > 0 && json_number_value(iv) < 86400e3)
		r->interval_ns = (uint64_t)(json_number_value(iv) * 1e6);

	int sfd = fsroot_opendir(&r->root, "samples");
	if (sfd < 0) {
		*why = xasprintf("%s has no samples/ directory: %s", dir, strerror(-sfd));
		bundle_close(r);
		return sfd;
	}
	DIR *d = fdopendir(sfd);
	if (!d) {
		close(sfd);
		*why = xasprintf("cannot list %s/samples", dir);
		bundle_close(r);
		return -EIO;
	}
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) && r->n < MAX_SAMPLES) {
		if (!is_sample_name(de->d_name))
			continue;
		xgrow((void **)&r->names, sizeof(char *), &cap, r->n);
		r->names[r->n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (r->n == 0) {
		*why = xasprintf("%s has no samples", dir);
		bundle_close(r);
		return -ENOENT;
	}
	qsort(r->names, r->n, sizeof(char *), cmp_str);
	return 0;
}

struct walk {
	struct sample *s;
	unsigned long bytes;
	unsigned files;
	bool limit_hit;
	const char *sample;
	unsigned bad;
};

static void read_tree(struct walk *w, int dirfd, const char *prefix, int depth)
{
	if (depth > MAX_DEPTH) {
		w->limit_hit = true;
		return;
	}
	int dup = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (dup < 0)
		return;
	DIR *d = fdopendir(dup);
	if (!d) {
		close(dup);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *nm = de->d_name;
		if (!strcmp(nm, ".") || !strcmp(nm, ".."))
			continue;
		if (w->files >= MAX_SAMPLE_FILES || w->bytes >= MAX_SAMPLE_BYTES) {
			w->limit_hit = true;
			break;
		}
		char *rel = *prefix ? xasprintf("%s/%s", prefix, nm) : xstrdup(nm);
		int fd = openat(dirfd, nm, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0) {
			/* symlinks (ELOOP) and unreadable entries are not part of a bundle */
			w->bad++;
			if (fd >= 0)
				close(fd);
			free(rel);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			read_tree(w, fd, rel, depth + 1);
		} else if (S_ISREG(st.st_mode) && (*prefix || strcmp(nm, "time") != 0)) {
			char *buf = NULL;
			size_t bcap = 0, len = 0;
			if (fsroot_pread_all(fd, NULL, &buf, &bcap, &len, MAX_FILE_BYTES) == 0) {
				sample_add_take(w->s, rel, buf, len);
				w->files++;
				w->bytes += len;
				buf = NULL;
			} else {
				w->bad++;
			}
			free(buf);
		} else if (!S_ISREG(st.st_mode)) {
			w->bad++;
		}
		close(fd);
		free(rel);
	}
	closedir(d);
}

static bool parse_time(const char *buf, size_t len, uint64_t *mono, uint64_t *real)
{
	const char *p = buf, *end = buf + len;
	if (!scan_u64(&p, end, mono))
		return false;
	if (!scan_u64(&p, end, real))
		*real = 0;
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p == end;
}

static void take_statics(struct bundle_reader *r, const struct sample *s)
{
	json_t *list = json_object_get(r->meta, "static");
	for (size_t i = 0; i < s->nfiles; i++) {
		const struct sfile *f = &s->files[i];
		bool want = !json_is_array(list) || strncmp(f->path, ".hiddenq/", 9) == 0;
		size_t k;
		json_t *e;
		if (!want)
			json_array_foreach(list, k, e) {
				if (json_is_string(e) && strcmp(json_string_value(e), f->path) == 0) {
					want = true;
					break;
				}
			}
		if (want)
			sample_add(&r->statics, f->path, f->data, f->len);
	}
	r->have_statics = true;
}

int bundle_next(struct bundle_reader *r, struct sample *out)
{
	if (r->rec)
		return bundle_next_recording(r, out);
	while (r->pos < r->n) {
		const char *name = r->names[r->pos++];
		char *rel = xasprintf("samples/%s", name);
		int dfd = fsroot_opendir(&r->root, rel);
		free(rel);
		if (dfd < 0) {
			log_warn_some(&r->warned, "bundle: sample %s skipped: %s", name, strerror(-dfd));
			r->skipped++;
			continue;
		}
		char tbuf[128];
		int tfd = openat(dfd, "time", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		struct stat st;
		ssize_t tn = -1;
		if (tfd >= 0 && fstat(tfd, &st) == 0 && S_ISREG(st.st_mode))
			tn = read(tfd, tbuf, sizeof(tbuf) - 1);
		if (tfd >= 0)
			close(tfd);
		uint64_t mono, real;
		if (tn <= 0 || !parse_time(tbuf, (size_t)tn, &mono, &real)) {
			log_warn_some(&r->warned, "bundle: sample %s skipped: missing or unreadable time file", name);
			r->skipped++;
			close(dfd);
			continue;
		}
		if ((r->from_real && real < r->from_real) || (r->to_real && real > r->to_real)) {
			close(dfd);
			continue;
		}
		if (r->delivered && mono <= r->last_mono) {
			log_warn_some(&r->warned, "bundle: sample %s skipped: its time goes backwards", name);
			r->skipped++;
			close(dfd);
			continue;
		}
		sample_init(out);
		out->mono_ns = mono;
		out->real_ns = real;
		struct walk w = { .s = out, .sample = name };
		read_tree(&w, dfd, "", 0);
		close(dfd);
		r->truncated += w.limit_hit;
		r->bad_entries += w.bad;
		if (w.limit_hit)
			log_warn_some(&r->warned, "bundle: sample %s is too large; read only part of it", name);
		if (w.bad)
			log_warn_some(&r->warned, "bundle: sample %s: %u entries ignored (symlinks, devices or unreadable)", name,
				 w.bad);
		out->index = r->delivered;
		/* Slow families (per-task schedstat) mark a slow tick. */
		out->slow = false;
		for (size_t i = 0; i < out->nfiles && !out->slow; i++)
			out->slow = strncmp(out->files[i].path, "proc/", 5) == 0 &&
				    strstr(out->files[i].path, "/task/") != NULL;
		if (!r->have_statics)
			take_statics(r, out);
		r->delivered++;
		r->last_mono = mono;
		r->total_bytes += w.bytes;
		return 1;
	}
	return 0;
}

void bundle_close(struct bundle_reader *r)
{
	log_some_done(&r->warned);
	store_close_reader(r->rec);
	for (size_t i = 0; i < r->n; i++)
		free(r->names[i]);
	free(r->names);
	json_decref(r->meta);
	sample_done(&r->statics);
	if (r->root.dirfd >= 0)
		fsroot_done(&r->root);
	memset(r, 0, sizeof(*r));
	r->root.dirfd = -1;
}

/* ------------------------------------------------------------------ */
/* the statics as a tree                                               */
/* ------------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void bundle_statics_remove(char *tmpdir)
{
	if (!tmpdir)
		return;
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(tmpdir);
}

int bundle_statics_root(const struct bundle_reader *r, const char *input, struct fsroot *root, char **tmpdir,
			char **why)
{
	*tmpdir = NULL;
	*why = NULL;
	memset(root, 0, sizeof(*root));
	root->dirfd = -1;
	if (!r->rec) {
		if (!r->n) {
			*why = xasprintf("%s has no samples", input);
			return -ENOENT;
		}
		/* static files (the topology among them) live in the first sample */
		char *rel = xasprintf("samples/%s", r->names[0]);
		int fd = fsroot_opendir(&r->root, rel);
		if (fd < 0) {
			*why = xasprintf("cannot open %s/%s: %s", input, rel, strerror(-fd));
			free(rel);
			return fd;
		}
		root->dirfd = fd;
		root->confined = true;
		root->path = xasprintf("%s/%s", input, rel);
		free(rel);
		return 0;
	}
	const char *td = getenv("TMPDIR");
	char *dir = xasprintf("%s/hiddenq-statics.XXXXXX", td && *td ? td : "/tmp");
	if (!mkdtemp(dir)) {
		int e = errno;
		*why = xasprintf("cannot make a directory for %s's statics: %s", input, strerror(e));
		free(dir);
		return -e;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = dfd < 0 ? -errno : 0;
	for (size_t i = 0; ret == 0 && i < r->statics.nfiles; i++) {
		const struct sfile *f = &r->statics.files[i];
		int w = write_rel(dfd, f->path, f->data, f->len);
		if (w == -EINVAL)
			continue; /* a path no tree can hold: not part of a bundle either */
		ret = w;
	}
	if (dfd >= 0)
		close(dfd);
	if (ret == 0)
		ret = fsroot_init(root, dir, true);
	if (ret < 0) {
		*why = xasprintf("cannot lay out %s's statics in %s: %s", input, dir, strerror(-ret));
		bundle_statics_remove(dir);
		return ret;
	}
	*tmpdir = dir;
	return 0;
}
