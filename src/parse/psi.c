/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * /proc/pressure/{cpu,memory,io}: "some avg10=.. avg60=.. avg300=.. total=N"
 * and, since 5.13 for cpu, a "full" line.  total= is cumulative stall time in
 * microseconds; it is what we difference, the averages are only context.
 */
#include "parse.h"

#include <errno.h>
#include <string.h>

static bool parse_psi_line(const char *p, const char *end, struct psi_line *l)
{
	memset(l, 0, sizeof(*l));
	bool have_total = false;
	const char *ws, *we;
	while (scan_word(&p, end, &ws, &we)) {
		const char *eq = memchr(ws, '=', (size_t)(we - ws));
		if (!eq)
			continue;
		const char *v = eq + 1;
		if (word_eq(ws, eq, "total")) {
			uint64_t t;
			if (scan_u64(&v, we, &t) && v == we) {
				l->total_us = t;
				have_total = true;
			}
		} else {
			double d;
			if (!scan_double(&v, we, &d))
				continue;
			if (word_eq(ws, eq, "avg10"))
				l->avg10 = d;
			else if (word_eq(ws, eq, "avg60"))
				l->avg60 = d;
			else if (word_eq(ws, eq, "avg300"))
				l->avg300 = d;
		}
	}
	return have_total;
}

int psi_parse(const char *buf, size_t len, struct psi *out)
{
	memset(out, 0, sizeof(*out));
	struct scan s = { buf, buf + len };
	const char *ls, *le;
	while (scan_line(&s, &ls, &le)) {
		const char *p = ls, *ws, *we;
		if (!scan_word(&p, le, &ws, &we))
			continue;
		if (word_eq(ws, we, "some") && !out->has_some)
			out->has_some = parse_psi_line(p, le, &out->some);
		else if (word_eq(ws, we, "full") && !out->has_full)
			out->has_full = parse_psi_line(p, le, &out->full);
	}
	return out->has_some || out->has_full ? 0 : -EINVAL;
}
