/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * /proc/diskstats: "major minor name" then 11 (before 4.18), 15 (4.18+:
 * discards) or 17 (5.5+: flushes) values (block/genhd.c diskstats_show).
 * Columns are taken by position because the kernel never reorders them; a
 * line with another count is accepted with what it has, up to 17.
 */
#include "ioparse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "parse.h"

#define DS_MAX_DEVICES 65536

int diskstats_parse(const char *buf, size_t len, struct diskstats *out)
{
	memset(out, 0, sizeof(*out));
	struct scan sc = { buf, buf + len };
	const char *ls, *le;
	size_t cap = 0;
	while (scan_line(&sc, &ls, &le) && out->n < DS_MAX_DEVICES) {
		const char *p = ls, *ws, *we;
		uint64_t maj, min;
		if (!scan_u64(&p, le, &maj) || !scan_u64(&p, le, &min) || !scan_word(&p, le, &ws, &we))
			continue;
		if (maj > UINT32_MAX || min > UINT32_MAX || (size_t)(we - ws) >= sizeof(out->v[0].name))
			continue;
		struct disk_stat d;
		memset(&d, 0, sizeof(d));
		d.major = (unsigned)maj;
		d.minor = (unsigned)min;
		memcpy(d.name, ws, (size_t)(we - ws));
		bool ok = true;
		for (unsigned k = 0; p < le; k++) {
			uint64_t v;
			const char *q = p;
			if (!scan_u64(&q, le, &v)) {
				/* trailing blanks are fine, anything else is not a diskstats line */
				while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
					q++;
				ok = q == le;
				break;
			}
			p = q;
			if (k < DS_N)
				d.f[k] = v;
			d.nfields = k + 1;
		}
		/* fewer than the 11 columns every kernel since 2.6 prints: not usable */
		if (!ok || d.nfields < 11)
			continue;
		if (d.nfields > DS_N)
			d.nfields = DS_N;
		xgrow((void **)&out->v, sizeof(*out->v), &cap, out->n);
		out->v[out->n++] = d;
	}
	return out->n ? 0 : -EINVAL;
}

void diskstats_done(struct diskstats *ds)
{
	free(ds->v);
	memset(ds, 0, sizeof(*ds));
}

const struct disk_stat *diskstats_find(const struct diskstats *ds, const char *name)
{
	for (size_t i = 0; i < ds->n; i++)
		if (strcmp(ds->v[i].name, name) == 0)
			return &ds->v[i];
	return NULL;
}

bool ds_field_is_ms32(enum ds_field f)
{
	return f == DS_RD_MS || f == DS_WR_MS || f == DS_IO_MS || f == DS_WEIGHTED_MS || f == DS_DC_MS ||
	       f == DS_FL_MS;
}

bool disk_delta(const struct disk_stat *a, const struct disk_stat *b, uint64_t d[DS_N])
{
	memset(d, 0, sizeof(uint64_t) * DS_N);
	if (a->nfields != b->nfields || a->major != b->major || a->minor != b->minor)
		return false;
	for (unsigned k = 0; k < DS_N; k++) {
		if (k == DS_IN_FLIGHT) {
			d[k] = b->f[k];
			continue;
		}
		if (b->f[k] >= a->f[k]) {
			d[k] = b->f[k] - a->f[k];
			continue;
		}
		/* went backwards: a 32-bit ms field wraps; anything else is a reset */
		if (!ds_field_is_ms32((enum ds_field)k) || a->f[k] > UINT32_MAX || b->f[k] > UINT32_MAX)
			return false;
		d[k] = u32_delta(a->f[k], b->f[k]);
	}
	return true;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool disk_name_is_partition(const char *name, const char *const *whole, size_t nwhole)
{
	if (nwhole) {
		for (size_t i = 0; i < nwhole; i++)
			if (strcmp(whole[i], name) == 0)
				return false;
		return true;
	}
	/* no /sys/block listing: the naming conventions of the common drivers */
	size_t n = strlen(name);
	if (n < 2 || !is_digit(name[n - 1]))
		return false;
	static const char *const lettered[] = { "sd", "hd", "vd", "xvd" };
	for (size_t i = 0; i < ARRAY_SIZE(lettered); i++) {
		size_t pl = strlen(lettered[i]);
		if (strncmp(name, lettered[i], pl) != 0)
			continue;
		size_t k = pl;
		while (k < n && name[k] >= 'a' && name[k] <= 'z')
			k++;
		return k > pl && k < n;
	}
	/* nvme0n1p1, mmcblk0p1, loop0p1: 'p' after a digit, then digits */
	size_t k = n;
	while (k > 0 && is_digit(name[k - 1]))
		k--;
	return k >= 2 && name[k - 1] == 'p' && is_digit(name[k - 2]);
}
