/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Internal to sources/bpf: what runqlat.c, biolat.c, compact.c and bpfsrc.c share. */
#ifndef HQ_BPFSRC_INT_H
#define HQ_BPFSRC_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "bpfsrc.h"

struct runqlat;
struct biolat;
struct compact;

/*
 * Each returns NULL and a malloc'd reason when it cannot load.  Only built
 * with HQ_WITH_BPF; bpfsrc.c does not call them otherwise.
 */
/*
 * cgroup: per-cgroup histograms; split: the split mode even where the queued
 * mode would load (runqlat.c explains both); floor: attach programs that do
 * nothing (bench)
 */
struct runqlat *runqlat_open(char **why, bool cgroup, bool split, bool floor);
json_t *runqlat_read(struct runqlat *r);
void runqlat_close(struct runqlat *r);

struct biolat *biolat_open(char **why);
json_t *biolat_read(struct biolat *b);
void biolat_close(struct biolat *b);

struct compact *compact_open(char **why);
json_t *compact_read(struct compact *c);
void compact_close(struct compact *c);

/* Why no eBPF source can load here (malloc'd), or NULL when it is worth trying. */
char *bpfsrc_precheck(void);
/* Reason for a failed load or attach step, naming what is missing. */
char *bpfsrc_reason(const char *what, int err);
/* A log2 histogram as a JSON array without its trailing zero slots. */
json_t *bpfsrc_hist_json(const uint64_t *slots, unsigned n);
/* Route libbpf's messages: silent unless HIDDENQ_DEBUG_BPF is set. */
void bpfsrc_quiet_libbpf(void);
/*
 * The verifier's last line that says why a load failed (libbpf prints the
 * log of a failed load; bpfsrc_quiet_libbpf's callback keeps that line),
 * or NULL when none since bpfsrc_verifier_reset().  These three only with
 * HQ_WITH_BPF.
 */
void bpfsrc_verifier_reset(void);
const char *bpfsrc_verifier_said(void);
/*
 * The first weak extern (a kfunc) that libbpf did not find in the kernel
 * while opening or loading since bpfsrc_verifier_reset(), or NULL.  A call
 * to it is then what the verifier refused, whatever its last line says.
 */
const char *bpfsrc_unresolved(void);

#endif
