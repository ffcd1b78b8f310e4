/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "sample.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/*
 * The arena: a list of chunks, the one being filled first.  A chunk is
 * never resized (sfile pointers into it stay valid); when one is full the
 * next is twice as big, up to SAMPLE_CHUNK_MAX.  A request bigger than
 * that gets a chunk of its own, linked behind the current one so the
 * current one keeps filling.
 */
#define SAMPLE_CHUNK_MIN (16u << 10)
#define SAMPLE_CHUNK_MAX (1u << 20)

struct sample_chunk {
	struct sample_chunk *next;
	size_t used, cap;
	char mem[];
};

static char *arena_alloc(struct sample *s, size_t n)
{
	struct sample_chunk *c = s->arena;
	if (c && c->cap - c->used >= n) {
		char *p = c->mem + c->used;
		c->used += n;
		return p;
	}
	size_t cap = c ? c->cap * 2 : SAMPLE_CHUNK_MIN;
	if (cap > SAMPLE_CHUNK_MAX)
		cap = SAMPLE_CHUNK_MAX;
	if (n > cap / 2) {
		/* a big one alone, behind the current chunk */
		struct sample_chunk *b = xmalloc(sizeof(*b) + n);
		b->used = b->cap = n;
		if (c) {
			b->next = c->next;
			c->next = b;
		} else {
			b->next = NULL;
			s->arena = b;
		}
		return b->mem;
	}
	struct sample_chunk *nc = xmalloc(sizeof(*nc) + cap);
	nc->next = c;
	nc->cap = cap;
	nc->used = n;
	s->arena = nc;
	return nc->mem;
}

static char *arena_strdup(struct sample *s, const char *str)
{
	size_t l = strlen(str) + 1;
	char *p = arena_alloc(s, l);
	memcpy(p, str, l);
	return p;
}

void sample_init(struct sample *s)
{
	memset(s, 0, sizeof(*s));
}

void sample_done(struct sample *s)
{
	for (struct sample_chunk *c = s->arena, *n; c; c = n) {
		n = c->next;
		free(c);
	}
	for (size_t i = 0; i < s->ntaken; i++)
		free(s->taken[i]);
	free(s->taken);
	free(s->files);
	memset(s, 0, sizeof(*s));
}

static struct sfile *new_file(struct sample *s)
{
	if (s->nfiles >= s->cap)
		xgrow((void **)&s->files, sizeof(*s->files), &s->cap, s->nfiles);
	return &s->files[s->nfiles++];
}

void sample_add_take(struct sample *s, const char *path, char *data, size_t len)
{
	if (s->ntaken >= s->taken_cap)
		xgrow((void **)&s->taken, sizeof(*s->taken), &s->taken_cap, s->ntaken);
	s->taken[s->ntaken++] = data;
	struct sfile *f = new_file(s);
	f->path = arena_strdup(s, path);
	f->data = data;
	f->len = len;
}

void sample_add(struct sample *s, const char *path, const char *data, size_t len)
{
	size_t pl = strlen(path) + 1;
	/* one allocation for both: data first (its NUL after it), then the path */
	char *p = arena_alloc(s, len + 1 + pl);
	memcpy(p, data, len);
	p[len] = '\0';
	memcpy(p + len + 1, path, pl);
	struct sfile *f = new_file(s);
	f->data = p;
	f->path = p + len + 1;
	f->len = len;
}

void sample_reserve(struct sample *s, size_t nfiles, size_t bytes)
{
	if (nfiles && s->nfiles + nfiles > s->cap)
		xgrow((void **)&s->files, sizeof(*s->files), &s->cap, s->nfiles + nfiles - 1);
	struct sample_chunk *c = s->arena;
	if (!bytes || (c && c->cap - c->used >= bytes))
		return;
	struct sample_chunk *nc = xmalloc(sizeof(*nc) + bytes);
	nc->next = c;
	nc->cap = bytes;
	nc->used = 0;
	s->arena = nc;
}

const struct sfile *sample_find(const struct sample *s, const char *path)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->nfiles; i++)
		if (strcmp(s->files[i].path, path) == 0)
			return &s->files[i];
	return NULL;
}
