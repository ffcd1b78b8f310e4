/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "parse.h"

#include <string.h>

static void skip_blanks(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
}

bool scan_line(struct scan *s, const char **ls, const char **le)
{
	if (s->p >= s->end)
		return false;
	const char *nl = memchr(s->p, '\n', (size_t)(s->end - s->p));
	*ls = s->p;
	*le = nl ? nl : s->end;
	s->p = nl ? nl + 1 : s->end;
	return true;
}

bool scan_u64(const char **p, const char *end, uint64_t *out)
{
	skip_blanks(p, end);
	const char *q = *p;
	uint64_t v = 0;
	while (q < end && *q >= '0' && *q <= '9') {
		unsigned d = (unsigned)(*q - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
		q++;
	}
	if (q == *p)
		return false;
	*p = q;
	*out = v;
	return true;
}

bool scan_i64(const char **p, const char *end, int64_t *out)
{
	skip_blanks(p, end);
	bool neg = false;
	const char *q = *p;
	if (q < end && (*q == '-' || *q == '+')) {
		neg = *q == '-';
		q++;
	}
	uint64_t v;
	if (!scan_u64(&q, end, &v) || v > (uint64_t)INT64_MAX)
		return false;
	*p = q;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return true;
}

bool scan_double(const char **p, const char *end, double *out)
{
	skip_blanks(p, end);
	const char *q = *p;
	uint64_t ip;
	if (!scan_u64(&q, end, &ip))
		return false;
	double v = (double)ip;
	if (q < end && *q == '.') {
		q++;
		double scale = 0.1;
		while (q < end && *q >= '0' && *q <= '9') {
			v += (*q - '0') * scale;
			scale /= 10;
			q++;
		}
	}
	*p = q;
	*out = v;
	return true;
}

bool scan_word(const char **p, const char *end, const char **ws, const char **we)
{
	skip_blanks(p, end);
	const char *q = *p;
	while (q < end && *q != ' ' && *q != '\t' && *q != '\n')
		q++;
	if (q == *p)
		return false;
	*ws = *p;
	*we = q;
	*p = q;
	return true;
}

bool word_eq(const char *ws, const char *we, const char *lit)
{
	size_t n = strlen(lit);
	return (size_t)(we - ws) == n && memcmp(ws, lit, n) == 0;
}

bool prefix_eq(const char *ls, const char *le, const char *lit)
{
	size_t n = strlen(lit);
	return (size_t)(le - ls) >= n && memcmp(ls, lit, n) == 0;
}

int cpulist_parse(const char *buf, size_t len, int max_id, void (*cb)(int id, void *arg), void *arg)
{
	const char *p = buf, *end = buf + len;
	int count = 0;
	while (p < end && (*p == ' ' || *p == '\n'))
		p++;
	if (p == end)
		return 0; /* an empty list is valid (e.g. "offline" with none) */
	for (;;) {
		uint64_t a, b;
		if (!scan_u64(&p, end, &a))
			return -22;
		b = a;
		if (p < end && *p == '-') {
			p++;
			if (!scan_u64(&p, end, &b) || b < a)
				return -22;
		}
		if (b > (uint64_t)max_id)
			return -22;
		for (uint64_t i = a; i <= b; i++) {
			if (cb)
				cb((int)i, arg);
			count++;
		}
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		while (p < end && (*p == ' ' || *p == '\n'))
			p++;
		return p == end ? count : -22;
	}
}
