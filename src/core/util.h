/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Small things every module needs: allocation that aborts on failure (running
 * out of memory is the one error we do not try to survive), logging that
 * respects the output mode, clocks, and duration parsing for the command line.
 */
#ifndef HQ_UTIL_H
#define HQ_UTIL_H

#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define HQ_VERSION "0.1.0"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* "Cannot happen, but survive it" (sqlite's ALWAYS/NEVER). */
#ifdef NDEBUG
#define ALWAYS(x) (x)
#define NEVER(x) (x)
#else
#include <assert.h>
#define ALWAYS(x) ((x) ? 1 : (assert(0), 0))
#define NEVER(x) ((x) ? (assert(0), 1) : 0)
/* Sizes: "4K", "256M", "1.5G", "4096" (bytes, binary units).  0 or -EINVAL. */
int parse_size(const char *s, uint64_t *out);
/* Rates: "100M" bytes/s or "10Gbit" / "800Mbit" bits/s.  0 or -EINVAL. */
int parse_rate(const char *s, double *bytes_per_s);

#endif

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
void *xmemdup(const void *p, size_t n);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same with a va_list (ap is consumed); never NULL. */
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Grow *arr (of element size esz) so that index `need` fits; *cap updated. */
void xgrow(void **arr, size_t esz, size_t *cap, size_t need);

/* A growing text buffer; s is NUL-terminated (or NULL while empty). */
struct strbuf {
	char *s;
	size_t len, cap;
};
void sb_put(struct strbuf *b, const char *s, size_t n);
void sb_puts(struct strbuf *b, const char *s);
void sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the text to the caller (sb is left empty); never NULL. */
char *sb_take(struct strbuf *b, size_t *len);
void sb_done(struct strbuf *b);

/* Logging: warnings and errors always go to stderr so that --json stdout
 * stays parseable. hq_quiet silences warnings (not errors). */
extern bool hq_quiet;
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Set by the SIGINT/SIGTERM handlers that install_exit_handlers() installs:
 * finish the current run cleanly.  Every layer that loops may read it.
 * (Defined for now in sample/sampler.c, which declares it too.) */
extern volatile sig_atomic_t hq_exiting;
void install_exit_handlers(void);

uint64_t mono_ns(void);
uint64_t real_ns(void);

/*
 * Parse a duration: "5" (seconds), "5s", "500ms", "250us", "2m", "1.5s".
 * Returns 0 and stores nanoseconds, or -EINVAL.  Zero and negative values are
 * rejected, as is anything over a day.
 */
int parse_duration_ns(const char *s, uint64_t *out_ns);

/* True for a non-empty string of decimal digits only (a PID directory name). */
bool str_is_digits(const char *s);

/* Read a small file below an open directory into buf (NUL-terminated, at
 * most cap - 1 bytes, one read()).  Returns the byte count or -1. */
long read_small_at(int dirfd, const char *rel, char *buf, size_t cap);

/* Parse a non-negative decimal integer that must fit `max`; -EINVAL if not. */
int parse_uint(const char *s, uint64_t max, uint64_t *out);

/* Sizes: "4K", "256M", "1.5G", "4096" (bytes, binary units).  0 or -EINVAL. */
int parse_size(const char *s, uint64_t *out);
/* Rates: "100M" bytes/s or "10Gbit" / "800Mbit" bits/s.  0 or -EINVAL. */
int parse_rate(const char *s, double *bytes_per_s);

#endif
