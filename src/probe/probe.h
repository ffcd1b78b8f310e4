/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * What every active probe shares: the context it ran in (steal and PSI over
 * the run, the cpuidle driver and its states' exit latency, page size and
 * THP mode, the hypervisor), the clean-up of what it created (files, network
 * namespaces, child processes, a cgroup) on a normal exit and on Ctrl-C, and
 * error output that respects --json.
 *
 * Each probe is one file with three entry points: a CLI (`probe_X`), a run
 * function that takes its parameters and returns a JSON result (`X_run`, also
 * called by `hiddenq lab`), and a text printer of that JSON (`X_print`).
 */
#ifndef HQ_PROBE_H
#define HQ_PROBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "../core/json.h"
#include "../core/util.h"	/* hq_exiting, install_exit_handlers */

struct probe_env {
	uint64_t t0_ns, t1_ns;
	char *stat0, *stat1;		/* /proc/stat at begin and end */
	char *psi0[3], *psi1[3];	/* cpu, memory, io */
	char hypervisor[64], kernel[96], cpuidle_driver[32], cpuidle_governor[32], clocksource[32], thp[16];
	long page_size;
	unsigned ncpus;
	bool tcg, guest;
	json_t *cstates;		/* [{"name","exit_latency_us"}] of cpu0 */
	int cstate_max_exit_us;
};

void probe_env_begin(struct probe_env *e);
void probe_env_end(struct probe_env *e);
void probe_env_done(struct probe_env *e);
/* {"hypervisor", "kernel", "cpus", "page_size", "thp", "cpuidle": {...}, "steal_pct", "psi": {...}} */
json_t *probe_env_json(const struct probe_env *e);
void probe_env_text(FILE *out, json_t *ctx);
/* Steal share (%) of all CPU time between two /proc/stat texts; -1 if unknown. */
double probe_steal_pct(const char *a, const char *b);
/* The same for one CPU (-1: the aggregate line). */
double probe_steal_pct_cpu(const char *a, const char *b, int cpu);

/* ---- clean-up registry (signal-safe to fill, run from the main thread) ---- */
void probe_track_path(const char *path);		/* file or empty directory */
void probe_untrack_path(const char *path);
void probe_track_netns(const char *name);
void probe_track_pid(pid_t pid);			/* SIGKILLed and reaped */
void probe_untrack_pid(pid_t pid);
void probe_track_cgroup(const char *dir);		/* rmdir'd after its tasks die */
void probe_cleanup(void);				/* idempotent; also atexit */
/* Install SIGINT/SIGTERM handlers that set hq_exiting, and the atexit hook. */
void probe_setup_signals(void);
/* Run argv (no shell, sys/proc_run.h) for at most timeout_s: stdout into out_buf (NUL-terminated)
 * or to /dev/null, stderr to /dev/null.  Its exit status, or -1 (not run, killed, timed out). */
int probe_exec(char *const argv[], char *out_buf, size_t out_len, int timeout_s);

/* ---- output ---- */
int probe_fail(bool json, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Wrap a probe result: {"hiddenq", "probe", "context", "result"...} and print. */
void probe_emit(bool json, const char *name, json_t *result, const struct probe_env *e,
		void (*print)(FILE *out, json_t *result));
json_t *pjnum(double v);	/* rounded to 3 decimals; null if not finite */
double pjget(json_t *o, const char *key);	/* number or NAN */

/* Sizes: "4K", "256M", "1.5G", "4096" (bytes, binary units).  0 or -EINVAL. */
int parse_size(const char *s, uint64_t *out);
/* Rates: "100M" bytes/s or "10Gbit" / "800Mbit" bits/s.  0 or -EINVAL. */
int parse_rate(const char *s, double *bytes_per_s);
const char *fmt_bytes(double b, char *buf, size_t len);

/* ---- the probes ---- */
int probe_jitter(int argc, char **argv);
int probe_mem(int argc, char **argv);
int probe_io(int argc, char **argv);
int probe_oversub(int argc, char **argv);
int probe_dirty(int argc, char **argv);
int probe_net(int argc, char **argv);

/* bounded runs for `hiddenq lab` (quick: a few seconds each) and the printers */
json_t *mem_lab(bool quick, const struct probe_env *e);
json_t *oversub_lab(bool quick, const struct probe_env *e);
/* io_lab: on a file it creates in dir, or read-only on target when given;
 * phases of IO_LAB_PHASE_NS, spaced by IO_LAB_GAP_NS (the VM half of the lab
 * runs the same probe with the same settings inside a test VM) */
#define IO_LAB_PHASE_NS(quick) ((quick) ? 700000000ull : 3000000000ull)
#define IO_LAB_GAP_NS 2000000ull
json_t *io_lab(bool quick, const char *dir, const char *target);
/* Create path (must not exist) with size bytes of random data, synced and
 * dropped from the page cache; -1 with why filled. */
int io_create_file(const char *path, uint64_t size, char *why, size_t n);
json_t *net_lab(bool quick);
void mem_print(FILE *out, json_t *r);
void oversub_print(FILE *out, json_t *r);
void io_print(FILE *out, json_t *r);
void net_print(FILE *out, json_t *r);

#endif
