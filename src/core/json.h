/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * JSON values every layer builds: probes put them in their results, the
 * analysis reads them back from samples, sinks print them.  Only jansson
 * below this; nothing of ours.
 */
#ifndef HQ_JSON_H
#define HQ_JSON_H

#include <jansson.h>

/* json_string() that never fails: invalid UTF-8 (cgroup paths, task names
 * from a bundle) becomes an ASCII copy with '?' for the bad bytes; NULL
 * becomes JSON null. */
json_t *jstr(const char *s);

/* A number rounded to 3 decimals; null if not finite (probe results). */
json_t *pjnum(double v);
/* The number at key, or NAN when absent or not a number. */
double pjget(json_t *o, const char *key);

#endif
