/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The probes' output (sinks/probe.c): each probe's result (the JSON object
 * its run function returns, probe/probe.h) as text, the context line, the
 * {"hiddenq", "probe", "context", "result"} wrapper, and errors.
 */
#ifndef HQ_SINK_PROBE_H
#define HQ_SINK_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* The error on stderr, and with json (or hq_json) also report_json_error's object on stdout.  Returns 3. */
int probe_fail(bool json, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Wrap a result: {"hiddenq", "probe", "interrupted", "context" (stolen), "result"} and print it,
 * as JSON or as the header, the context lines and print(result).  failed: the result's "error"
 * is the command's too, at the top level beside "exit": 3, as every command puts its errors. */
void probe_emit(bool json, const char *name, json_t *result, json_t *context,
		void (*print)(FILE *out, json_t *result), bool failed);
/* The context (probe_env_json) in two lines, after the header. */
void probe_env_text(FILE *out, json_t *ctx);
/* The header line (report.h text_header) of a probe or the lab from its context:
 * "hiddenq VERSION COMMAND — KVM guest, 2 vCPUs, kernel K, ran N s" + extra. */
void probe_header(FILE *out, const char *command, json_t *ctx, const char *extra);

/* Human duration: "850 ns", "12.3 µs", "4.56 ms", "1.20 s". */
const char *fmt_ns(double ns, char *buf, size_t len);
/* Human size: "512 B", "4 KiB", "1.5 MiB", "2.00 GiB". */
const char *fmt_bytes(double b, char *buf, size_t len);

/* Each probe's result as text. */
void jitter_print(FILE *out, json_t *r);
void mem_print(FILE *out, json_t *r);
void io_print(FILE *out, json_t *r);
void oversub_print(FILE *out, json_t *r);
void dirty_print(FILE *out, json_t *r);
void net_print(FILE *out, json_t *r);
void wakeup_print(FILE *out, json_t *r);

#endif
