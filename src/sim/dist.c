/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Random streams and distributions (see dist.h).  Parsing is strict: every
 * character of a value is accounted for, numbers must be finite, rates and
 * times positive (det(0) is allowed: a zero service time is a valid queue).
 */
#include "dist.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);
	(void)splitmix64(&x);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
	if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
		r->s[0] = 1;
}

/* ---- the ziggurat's tables (Marsaglia and Tsang 2000, REXP) ---- */

#define ZIG_R 7.697117470131487
#define ZIG_V 3.949659822581572e-3
uint64_t sim_zig_k[256];
double sim_zig_w[256];
static double zig_f[256];
static pthread_once_t zig_once = PTHREAD_ONCE_INIT;

static void zig_init(void)
{
	const double m = 9007199254740992.0; /* 2^53 */
	double de = ZIG_R, te = de;
	double q = ZIG_V / exp(-de);
	double w[256], f[256];
	uint64_t k[256];
	k[0] = (uint64_t)((de / q) * m);
	k[1] = 0;
	w[0] = q / m;
	w[255] = de / m;
	f[0] = 1.0;
	f[255] = exp(-de);
	for (int i = 254; i >= 1; i--) {
		de = -log(ZIG_V / de + exp(-de));
		k[i + 1] = (uint64_t)((de / te) * m);
		te = de;
		f[i] = exp(-de);
		w[i] = de / m;
	}
	memcpy(zig_f, f, sizeof(f));
	memcpy(sim_zig_w, w, sizeof(w));
	/* the thresholds last: until they are set, every draw takes the slow path, which waits for this */
	memcpy(sim_zig_k, k, sizeof(k));
}

double sim_zig_slow(struct rng *r, uint64_t u)
{
	pthread_once(&zig_once, zig_init);
	for (;;) {
		unsigned i = (unsigned)(u & 255);
		uint64_t j = u >> 11;
		double x = (double)j * sim_zig_w[i];
		if (j < sim_zig_k[i])
			return x;
		if (i == 0)
			return ZIG_R - log(rng_u01(r));
		if (zig_f[i] + rng_u01(r) * (zig_f[i - 1] - zig_f[i]) < exp(-x))
			return x;
		u = rng_next(r);
	}
}

/* strtod over exactly [s, e) after trimming blanks; 0 or -EINVAL */
static int num_span(const char *s, const char *e, double *out, const char **rest)
{
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	if (s == e || e - s > 64)
		return -EINVAL;
	char buf[80];
	memcpy(buf, s, (size_t)(e - s));
	buf[e - s] = '\0';
	/* no hex floats, no "inf"/"nan": digits, a dot, an exponent, a sign */
	for (const char *p = buf; *p; p++)
		if (!(isdigit((unsigned char)*p) || *p == '.' || *p == '-' || *p == '+' || *p == 'e' || *p == 'E' ||
		      isalpha((unsigned char)*p)))
			return -EINVAL;
	if (buf[0] == 'i' || buf[0] == 'I' || buf[0] == 'n' || buf[0] == 'N')
		return -EINVAL;
	if (strchr(buf, 'x') || strchr(buf, 'X'))
		return -EINVAL;
	char *end;
	errno = 0;
	double v = strtod(buf, &end);
	if (end == buf || errno || !isfinite(v))
		return -EINVAL;
	*out = v;
	*rest = s + (end - buf);
	return 0;
}

static int span_time(const char *s, const char *e, double *out)
{
	const char *rest;
	double v;
	if (num_span(s, e, &v, &rest) < 0 || v < 0)
		return -EINVAL;
	while (e > rest && isspace((unsigned char)e[-1]))
		e--;
	size_t ul = (size_t)(e - rest);
	static const struct {
		const char *u;
		double m;
	} units[] = { { "", 1 }, { "s", 1 }, { "ms", 1e-3 }, { "us", 1e-6 }, { "ns", 1e-9 }, { "m", 60 }, { "h", 3600 } };
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strlen(units[i].u) == ul && memcmp(units[i].u, rest, ul) == 0) {
			v *= units[i].m;
			if (!isfinite(v) || v > 1e9)
				return -EINVAL;
			*out = v;
			return 0;
		}
	return -EINVAL;
}

static int span_number(const char *s, const char *e, double *out)
{
	const char *rest;
	double v;
	if (num_span(s, e, &v, &rest) < 0)
		return -EINVAL;
	while (e > rest && isspace((unsigned char)e[-1]))
		e--;
	size_t ul = (size_t)(e - rest);
	double m = 1;
	if (ul == 1 && (*rest == 'k' || *rest == 'K'))
		m = 1e3;
	else if (ul == 1 && *rest == 'M')
		m = 1e6;
	else if (ul == 1 && *rest == 'G')
		m = 1e9;
	else if (ul != 0)
		return -EINVAL;
	v *= m;
	if (!isfinite(v) || fabs(v) > 1e15)
		return -EINVAL;
	*out = v;
	return 0;
}

int sim_parse_time(const char *s, double *out)
{
	return span_time(s, s + strlen(s), out);
}

int sim_parse_number(const char *s, double *out)
{
	return span_number(s, s + strlen(s), out);
}

void dist_set_rate(struct dist *d, double rate)
{
	double m = dist_mean(d);
	switch (d->kind) {
	case DIST_NONE:
	case DIST_EXP:
		d->kind = DIST_EXP;
		d->a = rate;
		break;
	case DIST_DET:
		d->a = 1.0 / rate;
		break;
	case DIST_ERLANG:
		d->a = d->k * rate;
		break;
	case DIST_HYPEREXP:
		/* scale both phases: the mean goes to 1/rate, the shape stays */
		d->b *= m * rate;
		d->c *= m * rate;
		break;
	case DIST_UNIFORM:
		d->a /= m * rate;
		d->b /= m * rate;
		break;
	case DIST_LOGNORMAL:
		d->c = 1.0 / rate;
		d->a = log(d->c) - d->b * d->b / 2;
		break;
	}
	d->inv = d->kind == DIST_EXP ? 1.0 / d->a : 0;
}

int dist_parse(const char *s, struct dist *d, const char **why)
{
	const char *e = s + strlen(s);
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	const char *open = memchr(s, '(', (size_t)(e - s));
	if (!open) {
		double r;
		if (span_number(s, e, &r) < 0 || r <= 0) {
			*why = "expected a distribution: exp(RATE), det(T), erlang(K,RATE), hyperexp(P,R1,R2), "
			       "uniform(A,B), lognormal(MEAN,SIGMA), or a positive rate";
			return -EINVAL;
		}
		dist_set_rate(d, r);
		return 0;
	}
	if (e == open || e[-1] != ')') {
		*why = "a distribution ends with ')'";
		return -EINVAL;
	}
	size_t nl = (size_t)(open - s);
	while (nl && isspace((unsigned char)s[nl - 1]))
		nl--;
	/* the arguments, split at commas */
	const char *as[4], *ae[4];
	unsigned na = 0;
	const char *p = open + 1, *end = e - 1;
	for (;;) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		if (na == 4) {
			*why = "too many arguments";
			return -EINVAL;
		}
		as[na] = p;
		ae[na] = c ? c : end;
		na++;
		if (!c)
			break;
		p = c + 1;
	}
	if (memchr(open + 1, '(', (size_t)(end - open - 1)) || memchr(open + 1, ')', (size_t)(end - open - 1))) {
		*why = "nested parentheses";
		return -EINVAL;
	}
	struct dist x = { 0 };
#define NAME(n) (nl == strlen(n) && strncmp(s, n, nl) == 0)
	if (NAME("exp")) {
		if (na != 1 || span_number(as[0], ae[0], &x.a) < 0 || x.a <= 0) {
			*why = "exp(RATE): one positive rate per second";
			return -EINVAL;
		}
		x.kind = DIST_EXP;
	} else if (NAME("det")) {
		if (na != 1 || span_time(as[0], ae[0], &x.a) < 0) {
			*why = "det(T): one time (e.g. 2ms), zero or more";
			return -EINVAL;
		}
		x.kind = DIST_DET;
	} else if (NAME("erlang")) {
		double k;
		if (na != 2 || span_number(as[0], ae[0], &k) < 0 || k < 1 || k > 1000 || k != floor(k) ||
		    span_number(as[1], ae[1], &x.a) < 0 || x.a <= 0) {
			*why = "erlang(K,RATE): K whole phases (1-1000), each of a positive RATE";
			return -EINVAL;
		}
		x.kind = DIST_ERLANG;
		x.k = (unsigned)k;
	} else if (NAME("hyperexp")) {
		if (na != 3 || span_number(as[0], ae[0], &x.a) < 0 || x.a < 0 || x.a > 1 ||
		    span_number(as[1], ae[1], &x.b) < 0 || x.b <= 0 || span_number(as[2], ae[2], &x.c) < 0 || x.c <= 0) {
			*why = "hyperexp(P,R1,R2): a probability P of rate R1, else rate R2 (rates positive)";
			return -EINVAL;
		}
		x.kind = DIST_HYPEREXP;
	} else if (NAME("uniform")) {
		if (na != 2 || span_time(as[0], ae[0], &x.a) < 0 || span_time(as[1], ae[1], &x.b) < 0 || x.b < x.a ||
		    x.b <= 0) {
			*why = "uniform(A,B): two times, A <= B, B > 0";
			return -EINVAL;
		}
		x.kind = DIST_UNIFORM;
	} else if (NAME("lognormal")) {
		if (na != 2 || span_time(as[0], ae[0], &x.c) < 0 || x.c <= 0 || span_number(as[1], ae[1], &x.b) < 0 ||
		    x.b < 0 || x.b > 5) {
			*why = "lognormal(MEAN,SIGMA): a positive mean time and SIGMA (0-5) of the underlying normal";
			return -EINVAL;
		}
		x.kind = DIST_LOGNORMAL;
		x.a = log(x.c) - x.b * x.b / 2;
	} else {
		*why = "unknown distribution (exp, det, erlang, hyperexp, uniform, lognormal)";
		return -EINVAL;
	}
#undef NAME
	x.inv = x.kind == DIST_EXP ? 1.0 / x.a : 0;
	*d = x;
	return 0;
}

double dist_mean(const struct dist *d)
{
	switch (d->kind) {
	case DIST_EXP:
		return 1.0 / d->a;
	case DIST_DET:
		return d->a;
	case DIST_ERLANG:
		return d->k / d->a;
	case DIST_HYPEREXP:
		return d->a / d->b + (1 - d->a) / d->c;
	case DIST_UNIFORM:
		return (d->a + d->b) / 2;
	case DIST_LOGNORMAL:
		return d->c;
	case DIST_NONE:
		break;
	}
	return 0;
}

double dist_m2(const struct dist *d)
{
	switch (d->kind) {
	case DIST_EXP:
		return 2.0 / (d->a * d->a);
	case DIST_DET:
		return d->a * d->a;
	case DIST_ERLANG:
		return (double)d->k * (d->k + 1) / (d->a * d->a);
	case DIST_HYPEREXP:
		return 2 * d->a / (d->b * d->b) + 2 * (1 - d->a) / (d->c * d->c);
	case DIST_UNIFORM:
		return (d->a * d->a + d->a * d->b + d->b * d->b) / 3;
	case DIST_LOGNORMAL:
		return exp(2 * d->a + 2 * d->b * d->b);
	case DIST_NONE:
		break;
	}
	return 0;
}

double dist_sample_any(const struct dist *d, struct rng *r)
{
	switch (d->kind) {
	case DIST_EXP:
		return rng_exp1(r) * d->inv;
	case DIST_DET:
		return d->a;
	case DIST_ERLANG: {
		/* product of uniforms: one log per sample */
		double p = 1;
		unsigned k = d->k;
		double x = 0;
		while (k) {
			unsigned m = k > 16 ? 16 : k;
			p = 1;
			for (unsigned i = 0; i < m; i++)
				p *= rng_u01(r);
			x += -log(p);
			k -= m;
		}
		return x / d->a;
	}
	case DIST_HYPEREXP:
		return rng_u01(r) <= d->a ? rng_exp(r, d->b) : rng_exp(r, d->c);
	case DIST_UNIFORM:
		return d->a + (d->b - d->a) * (1.0 - rng_u01(r));
	case DIST_LOGNORMAL: {
		double u1 = rng_u01(r), u2 = rng_u01(r);
		double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
		return exp(d->a + d->b * z);
	}
	case DIST_NONE:
		break;
	}
	return 0;
}

void dist_format(const struct dist *d, char *buf, size_t n)
{
	switch (d->kind) {
	case DIST_EXP:
		snprintf(buf, n, "exp(%g)", d->a);
		break;
	case DIST_DET:
		snprintf(buf, n, "det(%gs)", d->a);
		break;
	case DIST_ERLANG:
		snprintf(buf, n, "erlang(%u,%g)", d->k, d->a);
		break;
	case DIST_HYPEREXP:
		snprintf(buf, n, "hyperexp(%g,%g,%g)", d->a, d->b, d->c);
		break;
	case DIST_UNIFORM:
		snprintf(buf, n, "uniform(%gs,%gs)", d->a, d->b);
		break;
	case DIST_LOGNORMAL:
		snprintf(buf, n, "lognormal(%gs,%g)", d->c, d->b);
		break;
	case DIST_NONE:
		snprintf(buf, n, "none");
		break;
	}
}
