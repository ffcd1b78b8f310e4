/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "sample.h"

#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

void sample_init(struct sample *s)
{
	memset(s, 0, sizeof(*s));
}

void sample_done(struct sample *s)
{
	for (size_t i = 0; i < s->nfiles; i++) {
		free(s->files[i].path);
		free(s->files[i].data);
	}
	free(s->files);
	memset(s, 0, sizeof(*s));
}

void sample_add_take(struct sample *s, const char *path, char *data, size_t len)
{
	xgrow((void **)&s->files, sizeof(*s->files), &s->cap, s->nfiles);
	struct sfile *f = &s->files[s->nfiles++];
	f->path = xstrdup(path);
	f->data = data;
	f->len = len;
}

void sample_add(struct sample *s, const char *path, const char *data, size_t len)
{
	char *copy = xmalloc(len + 1);
	memcpy(copy, data, len);
	copy[len] = '\0';
	sample_add_take(s, path, copy, len);
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
