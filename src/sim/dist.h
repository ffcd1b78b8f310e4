/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Random numbers and the distributions a scenario names.  The generator is
 * xoshiro256** seeded through splitmix64: every stream (one per station, per
 * VM, per device) is a function of the scenario's seed and the stream's
 * number only, so a run is the same on every machine, and changing one VM
 * does not reshuffle the random numbers of the others (common random numbers
 * across a sweep).
 *
 * Distributions, as written in a scenario (rates per second, times with an
 * optional unit ns/us/ms/s/m):
 *   exp(RATE)             exponential, mean 1/RATE
 *   det(T)                always T
 *   erlang(K,RATE)        K phases of rate RATE each: mean K/RATE, cv^2 = 1/K
 *   hyperexp(P,R1,R2)     rate R1 with probability P, else R2
 *   uniform(A,B)          uniform between the times A and B
 *   lognormal(MEAN,SIGMA) mean MEAN (a time), SIGMA of the underlying normal
 *   RATE                  a bare number keeps the shape already set (exp by
 *                         default) and sets its rate to RATE (1/mean): what
 *                         a sweep over a distribution's key does
 * Rates take k, M, G (10^3, 10^6, 10^9) suffixes: exp(800k).
 */
#ifndef HQ_SIM_DIST_H
#define HQ_SIM_DIST_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rng {
	uint64_t s[4];
};

void rng_seed(struct rng *r, uint64_t seed, uint64_t stream);

static inline uint64_t rng_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rng_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rng_rotl(s[3], 45);
	return out;
}

/* uniform in (0, 1]: never 0, so -log() is finite */
static inline double rng_u01(struct rng *r)
{
	return (double)((rng_next(r) >> 11) + 1) * 0x1.0p-53;
}

/* uniform integer in [0, n) (n > 0), by multiply-shift */
static inline uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/*
 * Exponential variates by Marsaglia and Tsang's ziggurat (256 layers): one
 * 64-bit draw and a compare in 98.9 % of the cases, no log; the low byte
 * picks the layer, the top 53 bits the point.  Exact, like -log(U).
 */
extern uint64_t sim_zig_k[256];
extern double sim_zig_w[256];
double sim_zig_slow(struct rng *r, uint64_t u);

static inline double rng_exp1(struct rng *r)
{
	uint64_t u = rng_next(r);
	unsigned i = (unsigned)(u & 255);
	uint64_t j = u >> 11;
	if (j < sim_zig_k[i])
		return (double)j * sim_zig_w[i];
	return sim_zig_slow(r, u);
}

static inline double rng_exp(struct rng *r, double rate)
{
	return rng_exp1(r) / rate;
}

enum dist_kind { DIST_NONE, DIST_EXP, DIST_DET, DIST_ERLANG, DIST_HYPEREXP, DIST_UNIFORM, DIST_LOGNORMAL };

struct dist {
	enum dist_kind kind;
	unsigned k;		/* erlang phases */
	double a, b, c;		/* exp: a rate; det: a time; erlang: a rate per phase;
				 * hyperexp: a p, b r1, c r2; uniform: a lo, b hi;
				 * lognormal: a mu, b sigma (of the normal), c the mean */
	double inv;		/* exp: 1/a, so a draw multiplies */
};

/* 0, or -EINVAL with *why (static text).  A bare number sets the rate of
 * the shape already in *d (exponential when d->kind is DIST_NONE). */
int dist_parse(const char *s, struct dist *d, const char **why);
double dist_mean(const struct dist *d);
/* E[X^2] */
double dist_m2(const struct dist *d);
double dist_sample_any(const struct dist *d, struct rng *r);
static inline double dist_sample(const struct dist *d, struct rng *r)
{
	if (d->kind == DIST_EXP)
		return rng_exp1(r) * d->inv;
	return dist_sample_any(d, r);
}
/* keep the shape, make the mean 1/rate */
void dist_set_rate(struct dist *d, double rate);
/* the scenario form back, e.g. "exp(0.8)" */
void dist_format(const struct dist *d, char *buf, size_t n);

/* A time with an optional unit (ns, us, ms, s, m, h; seconds when none):
 * 0 with *out in seconds (finite, >= 0), or -EINVAL. */
int sim_parse_time(const char *s, double *out);
/* A rate or count with an optional k/M/G suffix: 0 or -EINVAL. */
int sim_parse_number(const char *s, double *out);

#endif
