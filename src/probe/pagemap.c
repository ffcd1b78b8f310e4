/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "pagemap.h"

#include <errno.h>
#include <string.h>

#include "../parse/parse.h"

static bool hex(const char **p, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	const char *s = *p;
	while (*p < end) {
		char c = **p;
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			break;
		if (v >> 60)
			return false;
		v = v << 4 | d;
		(*p)++;
	}
	*out = v;
	return *p > s;
}

int maps_parse_line(const char *ls, const char *le, struct vma *v)
{
	memset(v, 0, sizeof(*v));
	const char *p = ls;
	if (!hex(&p, le, &v->start) || p >= le || *p != '-')
		return -EINVAL;
	p++;
	if (!hex(&p, le, &v->end) || v->end < v->start)
		return -EINVAL;
	const char *ws, *we;
	if (!scan_word(&p, le, &ws, &we) || we - ws != 4)
		return -EINVAL;
	v->r = ws[0] == 'r';
	v->w = ws[1] == 'w';
	v->x = ws[2] == 'x';
	v->shared = ws[3] == 's';
	uint64_t off;
	if (!scan_word(&p, le, &ws, &we)) /* offset */
		return -EINVAL;
	const char *h = ws;
	if (!hex(&h, we, &off) || h != we)
		return -EINVAL;
	if (!scan_word(&p, le, &ws, &we)) /* dev */
		return -EINVAL;
	if (!scan_u64(&p, le, &v->inode))
		return -EINVAL;
	while (p < le && (*p == ' ' || *p == '\t'))
		p++;
	size_t n = (size_t)(le - p);
	if (n >= sizeof(v->name))
		n = sizeof(v->name) - 1;
	memcpy(v->name, p, n);
	v->name[n] = '\0';
	return 0;
}

bool vma_tracked(const struct vma *v)
{
	if (!v->w || v->shared || v->end <= v->start)
		return false;
	return strcmp(v->name, "[vvar]") && strcmp(v->name, "[vsyscall]") && strcmp(v->name, "[vdso]") &&
	       strncmp(v->name, "[vvar", 5);
}

void pagemap_count(const uint8_t *buf, size_t len, struct pm_count *c)
{
	size_t n = len / 8;
	for (size_t i = 0; i < n; i++) {
		uint64_t e;
		memcpy(&e, buf + i * 8, 8);
		c->entries++;
		c->present += !!(e & PM_PRESENT);
		c->swapped += !!(e & PM_SWAPPED);
		c->soft_dirty += pm_dirty(e);
		c->uffd_wp += !!(e & PM_UFFD_WP);
		c->exclusive += !!(e & PM_EXCLUSIVE);
		c->file += !!(e & PM_FILE);
	}
	c->partial_bytes += len % 8;
}

int softdirty_verdict(uint64_t after_clear, uint64_t after_write)
{
	if (!(after_write & PM_SOFT_DIRTY))
		return -1;
	if (after_clear & PM_SOFT_DIRTY)
		return -2;
	return 0;
}
