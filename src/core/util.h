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

/*
 * The output mode: the global options, parsed once (main before the command
 * name, cmd_parse after it) and read by every layer that prints.
 * hq_json: one JSON document on stdout, errors as {"error": ...} there too.
 * hq_quiet: no warnings or progress on stderr (errors still).
 * hq_color: --color; hq_color_on() resolves auto (a terminal, no NO_COLOR).
 */
enum hq_color_mode { HQ_COLOR_AUTO, HQ_COLOR_ALWAYS, HQ_COLOR_NEVER };
extern bool hq_json;
extern bool hq_quiet;
extern enum hq_color_mode hq_color;
/* "auto", "always", "never": 0 or -EINVAL. */
int hq_color_parse(const char *s, enum hq_color_mode *out);
bool hq_color_on(int fd);

/* Logging: every line on stderr starts "hiddenq: ", so that --json stdout
 * stays parseable and a user can tell whose message it is.  hq_quiet
 * silences warnings and log_info (not errors). */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A warning that may repeat once per sample (a damaged sample in a bundle
 * of 100,000): the first LOG_SOME_SHOWN are printed, the rest only counted,
 * and log_some_done() says how many were not shown.  Zero-initialise one
 * per kind of message; `what` names them in the summary ("damaged samples").
 */
#define LOG_SOME_SHOWN 5
struct log_some {
	const char *what;
	unsigned shown, hidden;
};
void log_warn_some(struct log_some *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_some_done(struct log_some *l);

/* Plurals for text output: "1 VM", "2 VMs" is printf("%u VM%s", n, plural_s(n));
 * irregular words take plural(n, "entry", "entries"). */
const char *plural_s(uint64_t n);
const char *plural(uint64_t n, const char *one, const char *many);

/* Set by the SIGINT/SIGTERM handlers that install_exit_handlers() installs:
 * finish the current run cleanly.  Every layer that loops may read it.
 * (Defined for now in sample/sampler.c, which declares it too.) */
extern volatile sig_atomic_t hq_exiting;
void install_exit_handlers(void);

uint64_t mono_ns(void);
uint64_t real_ns(void);

/*
 * Numbers from the command line and from configuration files are decimal and
 * checked whole: no sign, no hex, no leading blanks, no nan or inf, nothing
 * after the number but its unit.
 *
 * parse_decimal: "12", "1.5", ".5", "2e3": 0 with the value and *end after
 * the number (the unit starts there), or -EINVAL.
 */
int parse_decimal(const char *s, double *out, const char **end);

/*
 * Parse a duration: "5" (seconds), "5s", "500ms", "250us" (or "µs"), "100ns",
 * "2m", "1.5s".  Returns 0 and stores nanoseconds, or -EINVAL.  Zero and
 * negative values are rejected, as is anything below 1 ms or over a day;
 * parse_duration_range takes other bounds (inclusive).
 */
int parse_duration_ns(const char *s, uint64_t *out_ns);
int parse_duration_range(const char *s, uint64_t min_ns, uint64_t max_ns, uint64_t *out_ns);

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
