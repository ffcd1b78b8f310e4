/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "stallparse.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

/* A non-negative integer member, or 0. */
static uint64_t get_u64(json_t *o, const char *key)
{
	json_t *x = json_object_get(o, key);
	return json_is_integer(x) && json_integer_value(x) > 0 ? (uint64_t)json_integer_value(x) : 0;
}

/* A string member copied printable into dst ("" if absent). */
static void get_str(json_t *o, const char *key, char *dst, size_t n)
{
	json_t *x = json_object_get(o, key);
	dst[0] = '\0';
	if (!json_is_string(x))
		return;
	snprintf(dst, n, "%s", json_string_value(x));
	for (char *p = dst; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
}

static void parse_items(json_t *a, struct stall_doc *d)
{
	size_t i, cap = 0;
	json_t *e;
	if (!json_is_array(a))
		return;
	json_array_foreach(a, i, e) {
		json_t *t = json_object_get(e, "t_ns"), *l = json_object_get(e, "late_ns"), *c = json_object_get(e, "cpu");
		if (!json_is_integer(t) || !json_is_integer(l) || json_integer_value(l) <= 0 ||
		    d->n >= STALL_DOC_MAX_ITEMS)
			continue;
		xgrow((void **)&d->items, sizeof(*d->items), &cap, d->n);
		struct stall_item *it = &d->items[d->n++];
		memset(it, 0, sizeof(*it));
		it->t_ns = (uint64_t)json_integer_value(t);
		it->late_ns = (uint64_t)json_integer_value(l);
		it->rundelay_ns = get_u64(e, "rundelay_ns");
		json_int_t cpu = json_is_integer(c) ? json_integer_value(c) : -1;
		it->cpu = cpu >= 0 && cpu < STALL_DOC_MAX_CPUS ? (int)cpu : -1;
		uint64_t tm = get_u64(e, "timers");
		it->timers = tm > 1000000 ? 1000000 : (unsigned)tm;
		it->idle = json_is_true(json_object_get(e, "idle"));
	}
}

static void parse_cpus(json_t *o, struct stall_doc *d)
{
	const char *k;
	json_t *v;
	size_t cap = 0;
	if (!json_is_object(o))
		return;
	json_object_foreach(o, k, v) {
		char *end;
		long cpu = strtol(k, &end, 10);
		if (end == k || *end || cpu < 0 || cpu >= STALL_DOC_MAX_CPUS || !json_is_object(v) ||
		    d->ncpus >= STALL_DOC_MAX_CPUS)
			continue;
		xgrow((void **)&d->cpus, sizeof(*d->cpus), &cap, d->ncpus);
		struct stall_cpu *c = &d->cpus[d->ncpus++];
		c->cpu = (int)cpu;
		c->count = get_u64(v, "count");
		c->max_us = get_u64(v, "max_us");
		c->max_gap_us = get_u64(v, "max_gap_us");
	}
}

int stall_doc_parse(const char *buf, size_t len, struct stall_doc *d)
{
	memset(d, 0, sizeof(*d));
	json_error_t err;
	json_t *o = json_loadb(buf, len, 0, &err);
	if (!json_is_object(o)) {
		json_decref(o);
		return -EINVAL;
	}
	get_str(o, "method", d->method, sizeof(d->method));
	if (!d->method[0])
		snprintf(d->method, sizeof(d->method), "sampler");
	get_str(o, "asked", d->asked, sizeof(d->asked));
	json_t *av = json_object_get(o, "available");
	d->available = !json_is_boolean(av) || json_is_true(av);
	get_str(o, "reason", d->reason, sizeof(d->reason));
	if (!d->reason[0])
		get_str(o, "fallback_reason", d->reason, sizeof(d->reason));
	d->sleep_ns = get_u64(o, "sleep_ns");
	d->tight_ns = get_u64(o, "tight_ns");
	d->loops = (unsigned long)get_u64(o, "loops");
	d->timers = (unsigned long)get_u64(o, "timers");
	d->dropped = (unsigned long)get_u64(o, "dropped");
	parse_items(json_object_get(o, "stalls"), d);
	parse_cpus(json_object_get(o, "per_cpu"), d);
	json_decref(o);
	return 0;
}

void stall_doc_done(struct stall_doc *d)
{
	free(d->items);
	free(d->cpus);
	memset(d, 0, sizeof(*d));
}
