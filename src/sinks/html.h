/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * `hiddenq report`'s HTML: one self-contained file, the history (history.h)
 * drawn as inline SVG with inline CSS.  No script, no fonts, no images, and a
 * Content-Security-Policy that forbids fetching anything; readable printed
 * and in dark mode.
 */
#ifndef HQ_SINK_HTML_H
#define HQ_SINK_HTML_H

#include <stddef.h>

#include "history.h"

/* The whole page (malloc'd, NUL-terminated), its length in *len. */
char *html_report(const struct history *h, const struct report_meta *m, size_t *len);

/* Append s to b with <, >, &, " and ' escaped, control bytes and invalid UTF-8 as '?'. */
struct strbuf;
void html_escape(struct strbuf *b, const char *s);

/* "2026-12-03T02:00:05Z" (UTC, whole seconds) of a CLOCK_REALTIME ns. */
void iso_time(uint64_t ns, char *buf, size_t n);

#endif
