/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "cpumask.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "parse.h"

void cpumask_clear(struct cpumask *m)
{
	memset(m, 0, sizeof(*m));
}

void cpumask_set(struct cpumask *m, int cpu)
{
	if (cpu >= 0 && cpu < CPUMASK_MAX_CPUS)
		m->w[cpu / 64] |= 1ull << (cpu % 64);
}

bool cpumask_test(const struct cpumask *m, int cpu)
{
	return cpu >= 0 && cpu < CPUMASK_MAX_CPUS && (m->w[cpu / 64] >> (cpu % 64) & 1);
}

unsigned cpumask_weight(const struct cpumask *m)
{
	unsigned n = 0;
	for (int i = 0; i < CPUMASK_WORDS; i++)
		n += (unsigned)__builtin_popcountll(m->w[i]);
	return n;
}

void cpumask_or(struct cpumask *d, const struct cpumask *s)
{
	for (int i = 0; i < CPUMASK_WORDS; i++)
		d->w[i] |= s->w[i];
}

void cpumask_and(struct cpumask *d, const struct cpumask *a, const struct cpumask *b)
{
	for (int i = 0; i < CPUMASK_WORDS; i++)
		d->w[i] = a->w[i] & b->w[i];
}

static void mask_cb(int id, void *arg)
{
	cpumask_set(arg, id);
}

int cpumask_parse(struct cpumask *m, const char *buf, size_t len)
{
	cpumask_clear(m);
	return cpulist_parse(buf, len, CPUMASK_MAX_CPUS - 1, mask_cb, m) < 0 ? -EINVAL : 0;
}

void cpumask_format(const struct cpumask *m, char *out, size_t n)
{
	size_t o = 0;
	out[0] = '\0';
	for (int c = 0; c < CPUMASK_MAX_CPUS && o + 16 < n; c++) {
		if (!cpumask_test(m, c))
			continue;
		int e = c;
		while (e + 1 < CPUMASK_MAX_CPUS && cpumask_test(m, e + 1))
			e++;
		o += (size_t)snprintf(out + o, n - o, e > c ? "%s%d-%d" : "%s%d", o ? "," : "", c, e);
		c = e;
	}
}

int cpumask_hex_parse(const char *buf, size_t len, uint64_t mask[CPUMASK_WORDS], int *first_cpu)
{
	memset(mask, 0, CPUMASK_WORDS * sizeof(uint64_t));
	*first_cpu = -1;
	/* digits from the right: the last hex digit is CPUs 0-3 */
	const char *e = buf + len;
	while (e > buf && (e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\r'))
		e--;
	if (e == buf)
		return -EINVAL;
	unsigned bit = 0;
	int n = 0;
	for (const char *q = e; q > buf; q--) {
		char c = q[-1];
		unsigned d;
		if (c == ',')
			continue;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
		for (unsigned b = 0; b < 4; b++, bit++) {
			if (!(d & (1u << b)))
				continue;
			if (bit >= CPUMASK_MAX_CPUS)
				return -EINVAL;	/* more CPUs than we track */
			mask[bit / 64] |= 1ull << (bit % 64);
			n++;
		}
	}
	for (unsigned b = 0; b < CPUMASK_MAX_CPUS; b++)
		if (mask[b / 64] & (1ull << (b % 64))) {
			*first_cpu = (int)b;
			break;
		}
	return n;
}
