/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

bool hq_quiet;
bool hq_json;
enum hq_color_mode hq_color = HQ_COLOR_AUTO;

int hq_color_parse(const char *s, enum hq_color_mode *out)
{
	if (!strcmp(s, "auto"))
		*out = HQ_COLOR_AUTO;
	else if (!strcmp(s, "always"))
		*out = HQ_COLOR_ALWAYS;
	else if (!strcmp(s, "never"))
		*out = HQ_COLOR_NEVER;
	else
		return -EINVAL;
	return 0;
}

bool hq_color_on(int fd)
{
	if (hq_color != HQ_COLOR_AUTO)
		return hq_color == HQ_COLOR_ALWAYS;
	const char *nc = getenv("NO_COLOR"); /* no-color.org: set and not empty */
	return isatty(fd) && !(nc && *nc);
}

static void die_oom(size_t n)
{
	fprintf(stderr, "hiddenq: out of memory (allocating %zu bytes)\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die_oom(n);
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		die_oom(nmemb * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		die_oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

void *xmemdup(const void *p, size_t n)
{
	void *d = xmalloc(n ? n : 1);
	if (n)
		memcpy(d, p, n);
	return d;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	va_list aq;
	va_copy(aq, ap);
	int n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		n = 0;
	char *p = xmalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void xgrow(void **arr, size_t esz, size_t *cap, size_t need)
{
	if (need < *cap)
		return;
	size_t ncap = *cap ? *cap * 2 : 8;
	while (ncap <= need)
		ncap *= 2;
	*arr = xrealloc(*arr, ncap * esz);
	memset((char *)*arr + *cap * esz, 0, (ncap - *cap) * esz);
	*cap = ncap;
}

static void vlog(const char *level, const char *fmt, va_list ap)
{
	fprintf(stderr, "hiddenq: %s", level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_warn(const char *fmt, ...)
{
	if (hq_quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void log_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	if (hq_quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void log_warn_some(struct log_some *l, const char *fmt, ...)
{
	if (l->shown >= LOG_SOME_SHOWN) {
		l->hidden++;
		return;
	}
	l->shown++;
	if (hq_quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void log_some_done(struct log_some *l)
{
	if (l->hidden)
		log_warn("... and %u more %s, not shown one by one", l->hidden, l->what ? l->what : "like these");
	l->shown = l->hidden = 0;
}

const char *plural_s(uint64_t n)
{
	return n == 1 ? "" : "s";
}

const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t real_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

int parse_decimal(const char *s, double *out, const char **end)
{
	if (!s)
		return -EINVAL;
	const char *p = s;
	unsigned digits = 0;
	while (isdigit((unsigned char)*p))
		p++, digits++;
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p))
			p++, digits++;
	}
	if (!digits)
		return -EINVAL;
	if ((*p == 'e' || *p == 'E') &&
	    (isdigit((unsigned char)p[1]) || ((p[1] == '-' || p[1] == '+') && isdigit((unsigned char)p[2])))) {
		p += 2;
		while (isdigit((unsigned char)*p))
			p++;
	}
	/* strtod on a copy of exactly the digits checked above: no hex, no nan, no locale surprises */
	char buf[64];
	size_t n = (size_t)(p - s);
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	double v = strtod(buf, NULL);
	if (errno == ERANGE && v != 0)
		return -EINVAL; /* overflow (an underflow to 0 is caught by the callers' ranges) */
	if (!isfinite(v))
		return -EINVAL;
	*out = v;
	if (end)
		*end = p;
	return 0;
}

int parse_duration_range(const char *s, uint64_t min_ns, uint64_t max_ns, uint64_t *out_ns)
{
	double v;
	const char *end;
	if (parse_decimal(s, &v, &end) < 0 || v <= 0)
		return -EINVAL;
	double mult;
	if (*end == '\0' || strcmp(end, "s") == 0)
		mult = 1e9;
	else if (strcmp(end, "ms") == 0)
		mult = 1e6;
	else if (strcmp(end, "us") == 0 || strcmp(end, "µs") == 0)
		mult = 1e3;
	else if (strcmp(end, "ns") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		mult = 60e9;
	else
		return -EINVAL;
	double ns = v * mult;
	if (ns < (double)min_ns || ns > (double)max_ns)
		return -EINVAL;
	*out_ns = (uint64_t)(ns + 0.5);
	return 0;
}

int parse_duration_ns(const char *s, uint64_t *out_ns)
{
	return parse_duration_range(s, 1000000ull, 86400000000000ull, out_ns); /* 1 ms .. 1 day */
}

int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

bool str_is_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

long read_small_at(int dirfd, const char *rel, char *buf, size_t cap)
{
	int fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return (long)n;
}

int parse_size(const char *s, uint64_t *out)
{
	double v;
	const char *end;
	if (parse_decimal(s, &v, &end) < 0)
		return -EINVAL;
	double m = 1;
	if (*end) {
		switch (*end) {
		case 'k': case 'K': m = 1024.0; break;
		case 'm': case 'M': m = 1048576.0; break;
		case 'g': case 'G': m = 1073741824.0; break;
		case 't': case 'T': m = 1099511627776.0; break;
		case 'b': case 'B': m = 1; break;
		default: return -EINVAL;
		}
		end++;
		if (*end == 'i')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end)
			return -EINVAL;
	}
	v *= m;
	if (v > 1e15)
		return -EINVAL;
	*out = (uint64_t)v;
	return 0;
}

int parse_rate(const char *s, double *bps)
{
	if (!s || !*s)
		return -EINVAL;
	size_t n = strlen(s);
	bool bits = n > 3 && !strcasecmp(s + n - 3, "bit");
	char *c = xstrdup(s);
	if (bits) {
		c[n - 3] = '\0';
		/* bits use decimal units, as links are sold */
		const char *end;
		double v, m = 1;
		if (parse_decimal(c, &v, &end) < 0) {
			free(c);
			return -EINVAL;
		}
		if (*end == 'k' || *end == 'K')
			m = 1e3, end++;
		else if (*end == 'm' || *end == 'M')
			m = 1e6, end++;
		else if (*end == 'g' || *end == 'G')
			m = 1e9, end++;
		bool ok = !*end && v > 0 && v * m <= 8e15;
		free(c);
		if (!ok)
			return -EINVAL;
		*bps = v * m / 8.0;
		return 0;
	}
	if (n > 2 && !strcmp(c + n - 2, "/s"))
		c[n - 2] = '\0';
	uint64_t v;
	int r = parse_size(c, &v);
	free(c);
	if (r < 0 || v == 0)
		return -EINVAL;
	*bps = (double)v;
	return 0;
}

/* ---------------- strbuf ---------------- */

static void sb_reserve(struct strbuf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	b->s = xrealloc(b->s, cap);
	b->cap = cap;
}

void sb_put(struct strbuf *b, const char *s, size_t n)
{
	sb_reserve(b, n);
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void sb_puts(struct strbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

void sb_printf(struct strbuf *b, const char *fmt, ...)
{
	/* one pass when the text fits the room left (nearly always): the
	 * exporter formats every series of every snapshot through here */
	va_list ap;
	va_start(ap, fmt);
	va_list aq;
	va_copy(aq, ap);
	size_t room = b->s ? b->cap - b->len : 0;
	int n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, aq);
	va_end(aq);
	if (n > 0 && (size_t)n >= room) {
		sb_reserve(b, (size_t)n);
		vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	}
	if (n > 0)
		b->len += (size_t)n;
	else if (b->s)
		b->s[b->len] = '\0';
	va_end(ap);
}

char *sb_take(struct strbuf *b, size_t *len)
{
	if (!b->s)
		sb_reserve(b, 0), b->s[0] = '\0';
	char *s = b->s;
	if (len)
		*len = b->len;
	memset(b, 0, sizeof(*b));
	return s;
}

void sb_done(struct strbuf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}
