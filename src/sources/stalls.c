/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "stalls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "bpf/bpfsrc.h"
#include "stallmon.h"

static const char *const names[] = {
	[STALLS_OFF] = "off", [STALLS_AUTO] = "auto", [STALLS_BPF] = "bpf",
	[STALLS_COARSE] = "coarse", [STALLS_SAMPLER] = "sampler",
};

const char *stall_method_name(enum stall_method m)
{
	return (unsigned)m < ARRAY_SIZE(names) ? names[m] : "?";
}

int stall_method_parse(const char *name, enum stall_method *m)
{
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(name, names[i]) == 0) {
			*m = (enum stall_method)i;
			return 0;
		}
	return -EINVAL;
}

struct stalls {
	enum stall_method asked, running;
	char *why;			/* why not what was asked (NULL if it runs) */
	struct stallmon *mon;		/* sampler, coarse */
	struct timerlate *tl;		/* bpf */
};

static bool start_thread(struct stalls *s, enum stall_method m)
{
	struct stallmon_opts o = { .sleep_ns = STALL_SAMPLER_SLEEP_NS, .threshold_ns = STALL_THRESHOLD_NS };
	if (m == STALLS_COARSE) {
		o.sleep_ns = STALL_COARSE_SLEEP_NS;
		o.tight_sleep_ns = STALL_SAMPLER_SLEEP_NS;
		o.tighten_ns = STALL_COARSE_TIGHTEN_NS;
		o.hold_ns = STALL_COARSE_HOLD_NS;
		o.tight_permille = STALL_COARSE_TIGHT_PERMILLE;
	}
	s->mon = stallmon_start(&o);
	if (!s->mon)
		return false;
	s->running = m;
	return true;
}

struct stalls *stalls_start(enum stall_method asked)
{
	if (asked == STALLS_OFF)
		return NULL;
	struct stalls *s = xcalloc(1, sizeof(*s));
	s->asked = asked;
	s->running = STALLS_OFF;
	if (asked == STALLS_AUTO || asked == STALLS_BPF) {
		char *why = NULL;
		s->tl = timerlate_open(STALL_THRESHOLD_NS, false, &why);
		if (s->tl) {
			s->running = STALLS_BPF;
		} else {
			s->why = xasprintf("eBPF refused: %s", why);
			free(why);
			if (asked == STALLS_AUTO) {
				log_warn("stalls: %s; using the coarse sampler instead", s->why);
				if (!start_thread(s, STALLS_COARSE)) {
					free(s->why);
					s->why = xstrdup("eBPF refused and the coarse sampler thread could not start");
				}
			} else {
				log_warn("stalls: %s", s->why);
			}
		}
	} else if (!start_thread(s, asked)) {
		s->why = xstrdup("the stall sampler thread could not start");
	}
	return s;
}

void stalls_drain(struct stalls *s, struct sample *out, bool slow)
{
	if (!s)
		return;
	json_t *o = json_object();
	enum stall_method m = s->running != STALLS_OFF ? s->running : s->asked == STALLS_AUTO ? STALLS_BPF : s->asked;
	json_object_set_new(o, "method", json_string(stall_method_name(m)));
	json_object_set_new(o, "asked", json_string(stall_method_name(s->asked)));
	json_object_set_new(o, "available", json_boolean(s->running != STALLS_OFF));
	if (s->why)
		json_object_set_new(o, s->running != STALLS_OFF ? "fallback_reason" : "reason", json_string(s->why));
	if (s->tl) {
		json_object_set_new(o, "threshold_ns", json_integer((json_int_t)STALL_THRESHOLD_NS));
		timerlate_drain(s->tl, o, slow);
	} else if (s->mon) {
		stallmon_drain(s->mon, o);
	}
	char *txt = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (txt)
		sample_add_take(out, STALLS_PATH, txt, strlen(txt));
}

void stalls_stop(struct stalls *s)
{
	if (!s)
		return;
	stallmon_stop(s->mon);
	timerlate_close(s->tl);
	free(s->why);
	free(s);
}

enum stall_method stalls_running(const struct stalls *s, const char **why)
{
	*why = s ? s->why : NULL;
	return s ? s->running : STALLS_OFF;
}

json_t *stalls_source_json(const struct stalls *s)
{
	json_t *e = json_object();
	json_object_set_new(e, "available", json_boolean(s && s->running != STALLS_OFF));
	json_object_set_new(e, "method", json_string(stall_method_name(s ? s->running : STALLS_OFF)));
	json_object_set_new(e, "asked", json_string(stall_method_name(s ? s->asked : STALLS_OFF)));
	if (s && s->why)
		json_object_set_new(e, "reason", json_string(s->why));
	else if (!s)
		json_object_set_new(e, "reason", json_string("not requested (--no-stalls)"));
	return e;
}

void stalls_bpf_stats(const struct stalls *s, uint64_t run_ns[2], uint64_t runs[2])
{
	run_ns[0] = run_ns[1] = runs[0] = runs[1] = 0;
	if (s && s->tl)
		timerlate_prog_stats(s->tl, run_ns, runs);
}
