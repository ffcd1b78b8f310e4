/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * A set of CPUs, up to 1024: affinity masks (Cpus_allowed_list), the CPUs
 * of a NUMA node, the online and isolated CPUs, the CPUs steering a queue
 * (rps_cpus, xps_cpus).  One type for every layer, read from the kernel's
 * two spellings: cpulists ("0-3,8") and hex masks ("00000000,00000003").
 */
#ifndef HQ_CPUMASK_H
#define HQ_CPUMASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPUMASK_MAX_CPUS 1024
#define CPUMASK_WORDS (CPUMASK_MAX_CPUS / 64)

struct cpumask {
	uint64_t w[CPUMASK_WORDS];	/* CPU c is bit c % 64 of w[c / 64] */
};

void cpumask_clear(struct cpumask *m);
void cpumask_set(struct cpumask *m, int cpu);
bool cpumask_test(const struct cpumask *m, int cpu);
unsigned cpumask_weight(const struct cpumask *m);
void cpumask_or(struct cpumask *d, const struct cpumask *s);
void cpumask_and(struct cpumask *d, const struct cpumask *a, const struct cpumask *b);
/* "0-3,8" into m; 0 or -EINVAL */
int cpumask_parse(struct cpumask *m, const char *buf, size_t len);
/* m as a cpulist string ("0-3,8") into out; "" when empty */
void cpumask_format(const struct cpumask *m, char *out, size_t n);
/* A hex mask ("00000000,00000003") into the words of a mask (struct
 * cpumask's w).  Number of CPUs set, or -EINVAL (also for a CPU beyond
 * CPUMASK_MAX_CPUS); first_cpu gets the lowest set bit or -1. */
int cpumask_hex_parse(const char *buf, size_t len, uint64_t mask[CPUMASK_WORDS], int *first_cpu);

#endif
