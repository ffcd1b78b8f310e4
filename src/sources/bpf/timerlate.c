// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * Timer lateness, the user half: the eBPF stall source.  Loads
 * timerlate.bpf.c through its skeleton, and on each drain adds to the
 * stall sampler's JSON object (".hiddenq/stalls.json", method "bpf"):
 *
 *   "timers": N        counted timers that fired since the last drain
 *   "dropped": N       late timers the ring buffer had no room for, since then
 *   "stalls": [{"t_ns":T,"late_ns":L,"cpu":C,"timers":K[,"idle":true][,"armed_due":true]}]
 *   "per_cpu": {"0":{"count":N,"max_us":N,"max_gap_us":N,"past":N,"lowres":N,"hist":[...]}}
 *
 * per_cpu is cumulative since load and written only on slow ticks.  Each
 * stall is one late interrupt on one CPU: the timers that ran in it (K of
 * them, all due during the stall) are merged, the latest one giving L.
 *
 * The merge is plain C, built with or without eBPF, for the unit tests.
 */
#include "bpfsrc.h"

#include <stdlib.h>
#include <string.h>

#include "../../core/util.h"
#include "bpfsrc_int.h"

size_t timerlate_merge(struct tl_rec *v, size_t n, uint64_t window_ns)
{
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		struct tl_rec r = v[i];
		if (r.timers == 0)
			r.timers = 1;
		size_t j = kept, looked = 0;
		bool merged = false;
		/* the same CPU's previous stall, among the last few kept */
		while (j > 0 && looked < 64) {
			struct tl_rec *k = &v[--j];
			looked++;
			if (k->cpu != r.cpu)
				continue;
			uint64_t d = k->t_ns > r.t_ns ? k->t_ns - r.t_ns : r.t_ns - k->t_ns;
			if (d <= window_ns) {
				if (r.late_ns > k->late_ns) {
					k->late_ns = r.late_ns;
					k->flags = r.flags;
				}
				if (r.t_ns > k->t_ns)
					k->t_ns = r.t_ns;
				k->timers += r.timers;
				merged = true;
			}
			break;
		}
		if (!merged)
			v[kept++] = r;
	}
	return kept;
}

#ifdef HQ_WITH_BPF
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include "../../bpf/timerlate.h"
#include "timerlate.skel.h"

/* timers of one interrupt run within microseconds of each other */
#define TL_MERGE_NS 1000000ull
/* at most this many late timers kept per drain (the ring buffer holds 8192) */
#define TL_MAX_EVENTS 16384

struct timerlate {
	struct timerlate_bpf *skel;
	struct ring_buffer *rb;
	int ncpus;
	struct tl_cpu *vals;	/* ncpus values of key 0 */
	struct tl_rec *ev;	/* late timers of this drain */
	size_t nev, capev;
	unsigned long lost;	/* beyond TL_MAX_EVENTS in one drain */
	uint64_t count_prev, dropped_prev;
	bool have_prev;
};

/* ---- what libbpf said while loading: the kernel's own words for the reason ---- */

static char said_first[240];	/* libbpf's first warning */
static char said_verifier[240];	/* the verifier's last meaningful line */

static void copy_line(char *dst, size_t n, const char *s, size_t len)
{
	size_t k = 0;
	for (size_t i = 0; i < len && k + 1 < n; i++)
		dst[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : ' ';
	while (k && dst[k - 1] == ' ')
		k--;
	dst[k] = '\0';
}

static int capture_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	char buf[8192];
	va_list aq;
	va_copy(aq, ap);
	vsnprintf(buf, sizeof(buf), fmt, aq);
	va_end(aq);
	if (getenv("HIDDENQ_DEBUG_BPF"))
		fputs(buf, stderr);
	const char *end = strstr(buf, "-- END PROG LOAD LOG --");
	if (end) {
		/* the last line before the end that is not the verifier's statistics */
		const char *stop = end;
		while (stop > buf) {
			const char *ls = stop - 1;
			while (ls > buf && ls[-1] != '\n')
				ls--;
			size_t len = (size_t)(stop - ls);
			while (len && (ls[len - 1] == '\n' || ls[len - 1] == ' '))
				len--;
			if (len && strncmp(ls, "processed ", 10) && strncmp(ls, "verification time", 17) &&
			    strncmp(ls, "stack depth", 11) && !strstr(ls, "BEGIN PROG LOAD LOG")) {
				copy_line(said_verifier, sizeof(said_verifier), ls, len);
				break;
			}
			stop = ls;
		}
	} else if (!said_first[0]) {
		size_t len = strcspn(buf, "\n");
		const char *s = buf;
		if (!strncmp(s, "libbpf: ", 8)) {
			s += 8;
			len -= 8;
		}
		/* libbpf's own advice, not the kernel's answer: the next line has that */
		if (strncmp(s, "Failed to bump RLIMIT_MEMLOCK", 29) != 0)
			copy_line(said_first, sizeof(said_first), s, len);
	}
	return 0;
}

/* The reason for a failed step, with what libbpf and the verifier said. */
static char *refused(const char *what, int err)
{
	char *base = bpfsrc_reason(what, err);
	char *r;
	if (said_verifier[0])
		r = xasprintf("%s; the verifier said: %s", base, said_verifier);
	else if (said_first[0])
		r = xasprintf("%s; libbpf said: %s", base, said_first);
	else
		r = xstrdup(base);
	free(base);
	return r;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct timerlate *t = ctx;
	if (size < sizeof(struct tl_event))
		return 0;
	const struct tl_event *e = data;
	if (t->nev >= TL_MAX_EVENTS) {
		t->lost++;
		return 0;
	}
	xgrow((void **)&t->ev, sizeof(*t->ev), &t->capev, t->nev);
	t->ev[t->nev++] = (struct tl_rec){
		.t_ns = e->t_ns, .late_ns = e->late_ns, .cpu = (int)e->cpu, .flags = e->flags, .timers = 1
	};
	return 0;
}

struct timerlate *timerlate_open(uint64_t threshold_ns, bool floor, char **why)
{
	*why = bpfsrc_precheck();
	if (*why)
		return NULL;
	said_first[0] = said_verifier[0] = '\0';
	libbpf_print_fn_t old = libbpf_set_print(capture_print);
	struct timerlate *t = NULL;
	struct timerlate_bpf *skel = timerlate_bpf__open();
	if (!skel) {
		*why = refused("failed to open the timer-lateness eBPF object", errno);
		goto out;
	}
	skel->rodata->targ_threshold_ns = threshold_ns;
	skel->rodata->targ_floor = floor;
	int err = timerlate_bpf__load(skel);
	if (err) {
		*why = refused("failed to load the timer-lateness eBPF programs", err);
		timerlate_bpf__destroy(skel);
		goto out;
	}
	err = timerlate_bpf__attach(skel);
	if (err) {
		*why = refused("failed to attach to hrtimer_start/hrtimer_expire_entry", err);
		timerlate_bpf__destroy(skel);
		goto out;
	}
	t = xcalloc(1, sizeof(*t));
	t->skel = skel;
	t->rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, t, NULL);
	if (!t->rb) {
		*why = refused("failed to map the timer-lateness ring buffer", errno);
		timerlate_bpf__destroy(skel);
		free(t);
		t = NULL;
		goto out;
	}
	t->ncpus = libbpf_num_possible_cpus();
	if (t->ncpus < 1)
		t->ncpus = 1;
	t->vals = xcalloc((size_t)t->ncpus, sizeof(*t->vals));
out:
	libbpf_set_print(old);
	return t;
}

void timerlate_drain(struct timerlate *t, json_t *o, bool slow)
{
	t->nev = 0;
	ring_buffer__consume(t->rb);
	t->nev = timerlate_merge(t->ev, t->nev, TL_MERGE_NS);
	json_t *a = json_array();
	for (size_t i = 0; i < t->nev; i++) {
		const struct tl_rec *r = &t->ev[i];
		json_t *e = json_object();
		json_object_set_new(e, "t_ns", json_integer((json_int_t)r->t_ns));
		json_object_set_new(e, "late_ns", json_integer((json_int_t)r->late_ns));
		json_object_set_new(e, "cpu", json_integer(r->cpu));
		json_object_set_new(e, "timers", json_integer(r->timers));
		if (r->flags & TL_IDLE)
			json_object_set_new(e, "idle", json_true());
		if (r->flags & TL_PAST)
			json_object_set_new(e, "armed_due", json_true());
		json_array_append_new(a, e);
	}
	json_object_set_new(o, "stalls", a);
	__u32 key = 0;
	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.cpus), &key, t->vals) != 0) {
		json_object_set_new(o, "timers", json_integer(0));
		json_object_set_new(o, "dropped", json_integer((json_int_t)t->lost));
		t->lost = 0;
		return;
	}
	uint64_t count = 0, dropped = 0;
	json_t *pc = slow ? json_object() : NULL;
	for (int c = 0; c < t->ncpus; c++) {
		const struct tl_cpu *v = &t->vals[c];
		count += v->count;
		dropped += v->dropped;
		if (!pc || !v->count)
			continue;
		json_t *e = json_object();
		json_object_set_new(e, "count", json_integer((json_int_t)v->count));
		json_object_set_new(e, "max_us", json_integer((json_int_t)(v->max_ns / 1000)));
		json_object_set_new(e, "max_gap_us", json_integer((json_int_t)(v->max_gap_ns / 1000)));
		json_object_set_new(e, "past", json_integer((json_int_t)v->past));
		json_object_set_new(e, "lowres", json_integer((json_int_t)v->lowres));
		uint64_t slots[HQ_TL_SLOTS];
		for (int k = 0; k < HQ_TL_SLOTS; k++)
			slots[k] = v->slots[k];
		json_object_set_new(e, "hist", bpfsrc_hist_json(slots, HQ_TL_SLOTS));
		char k[16];
		snprintf(k, sizeof(k), "%d", c);
		json_object_set_new(pc, k, e);
	}
	json_object_set_new(o, "timers", json_integer((json_int_t)(t->have_prev && count >= t->count_prev
									   ? count - t->count_prev
									   : 0)));
	json_object_set_new(o, "dropped",
			    json_integer((json_int_t)((t->have_prev && dropped >= t->dropped_prev ? dropped - t->dropped_prev
												   : 0) +
						      t->lost)));
	t->lost = 0;
	t->count_prev = count;
	t->dropped_prev = dropped;
	t->have_prev = true;
	if (pc)
		json_object_set_new(o, "per_cpu", pc);
}

void timerlate_prog_stats(const struct timerlate *t, uint64_t run_ns[2], uint64_t runs[2])
{
	const struct bpf_program *progs[2] = { t->skel->progs.hq_hrtimer_expire_entry,
					       t->skel->progs.hq_hrtimer_start };
	for (size_t i = 0; i < 2; i++) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		memset(&info, 0, sizeof(info));
		run_ns[i] = runs[i] = 0;
		if (bpf_obj_get_info_by_fd(bpf_program__fd(progs[i]), &info, &len) == 0) {
			run_ns[i] = info.run_time_ns;
			runs[i] = info.run_cnt;
		}
	}
}

void timerlate_close(struct timerlate *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	timerlate_bpf__destroy(t->skel);
	free(t->vals);
	free(t->ev);
	free(t);
}
#else
struct timerlate *timerlate_open(uint64_t threshold_ns, bool floor, char **why)
{
	(void)threshold_ns;
	(void)floor;
	*why = xstrdup("hiddenq was built without eBPF (make BPF=0)");
	return NULL;
}

void timerlate_drain(struct timerlate *t, json_t *o, bool slow)
{
	(void)t;
	(void)o;
	(void)slow;
}

void timerlate_prog_stats(const struct timerlate *t, uint64_t run_ns[2], uint64_t runs[2])
{
	(void)t;
	run_ns[0] = run_ns[1] = runs[0] = runs[1] = 0;
}

void timerlate_close(struct timerlate *t)
{
	(void)t;
}
#endif
