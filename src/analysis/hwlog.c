/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Hardware and hypervisor errors from the kernel log (see hwlog.h). */
#include "hwlog.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "../core/paths.h"

void hwlog_init(struct hwlog_analysis *h)
{
	memset(h, 0, sizeof(*h));
}

static struct hwlog_kind_count *kind_of(struct hwlog_analysis *h, const char *kind)
{
	for (unsigned i = 0; i < h->nkinds; i++)
		if (!strcmp(h->kinds[i].kind, kind))
			return &h->kinds[i];
	if (h->nkinds >= HWLOG_MAX_KINDS)
		return NULL;
	struct hwlog_kind_count *k = &h->kinds[h->nkinds++];
	memset(k, 0, sizeof(*k));
	k->kind = kind;
	return k;
}

/* A slot for a new record: when full, the oldest from before the watch makes room, else none. */
static struct hwlog_event *slot(struct hwlog_analysis *h, bool during)
{
	if (h->nev < HWLOG_MAX_EVENTS)
		return &h->ev[h->nev++];
	h->dropped++;
	unsigned old = h->nev;
	for (unsigned j = 0; j < h->nev; j++)
		if (!h->ev[j].during) {
			old = j;
			break;
		}
	if (old == h->nev)
		return NULL; /* all from the watch: keep the first ones */
	if (!during)
		return NULL;
	memmove(&h->ev[old], &h->ev[old + 1], (h->nev - old - 1) * sizeof(h->ev[0]));
	return &h->ev[h->nev - 1];
}

void hwlog_feed(struct hwlog_analysis *h, const struct sample *s)
{
	if (!h->first_ns)
		h->first_ns = s->mono_ns;
	const struct sfile *f = sample_find(s, KMSG_PATH);
	if (!f)
		return;
	json_t *o = json_loadb(f->data, f->len, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o); /* mem.c names the damage */
		return;
	}
	h->seen = true;
	h->available = json_is_true(json_object_get(o, "available"));
	const char *er = json_string_value(json_object_get(o, "error"));
	if (er)
		snprintf(h->error, sizeof(h->error), "%s", er);
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(o, "matches"), i, e) {
		const char *msg = json_string_value(json_object_get(e, "msg"));
		json_t *u = json_object_get(e, "usec");
		if (!msg || !json_is_integer(u) || !json_is_true(json_object_get(e, "kernel")))
			continue;
		struct hwlog_rec r;
		if (hwlog_parse(msg, strlen(msg), &r) < 0)
			continue;
		uint64_t usec = (uint64_t)json_integer_value(u);
		json_t *hist = json_object_get(e, "history");
		bool during = json_is_boolean(hist) ? !json_is_true(hist) : usec * 1000ull >= h->first_ns;
		struct hwlog_kind_count *k = kind_of(h, r.kind);
		if (k) {
			if (during)
				k->during += r.count;
			else
				k->before += r.count;
			k->uncorrected |= r.uncorrected;
		}
		struct hwlog_event *ev = slot(h, during);
		if (!ev)
			continue;
		ev->r = r;
		ev->usec = usec;
		ev->during = during;
		snprintf(ev->msg, sizeof(ev->msg), "%s", msg);
		for (char *c = ev->msg; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
				*c = '?';
	}
	json_decref(o);
}
