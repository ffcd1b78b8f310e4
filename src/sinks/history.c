/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The report's bounded history of the engine's series and findings
 * (history.h).  Divisions: the plot table; the series' previous values
 * (a small hash table); buckets and their merging; feeding; reading back.
 */
#include "history.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

#define NS_S 1000000000ull
#define NONE LBL_COUNT
#define LINE(m_, match_, by_, by2_, agg_, name_)                                                                      \
	{ .m = (m_), .match = (match_), .by = (by_), .by2 = (by2_), .agg = (agg_), .name = (name_) }

/* ---------------- the plots ---------------- */

const struct plot_def history_plots[] = {
	{ "steal", "hypervisor CPU", "Steal per vCPU, in 1 s windows",
	  "Each point is one 1 s window of one vCPU: the share of it the host ran something else while the vCPU had "
	  "work. When a bucket holds many windows, the line is their mean and the band reaches the best and the "
	  "worst of them.",
	  { LINE(M_STEAL_LAST_WINDOW, NULL, LBL_CPU, NONE, AGG_MEAN, "vCPU ") }, 1, { T_STEAL_AVG, T_STEAL_SPIKE },
	  REF_NONE, true },
	{ "runq", "guest CPU", "The guest's run queue against steal",
	  "PSI cpu some is time tasks waited for a vCPU inside the guest; steal is time the vCPUs waited for the "
	  "host. The one that rises says which queue holds the time.",
	  { LINE(M_PSI_STALLED_SECONDS_TOTAL, "resource=cpu,kind=some", NONE, NONE, AGG_SUM, "PSI cpu some"),
	    LINE(M_STEAL_LAST_WINDOW, NULL, NONE, NONE, AGG_MEAN, "steal, mean of the vCPUs") },
	  2, { T_PSI_CPU_SOME, -1 }, REF_NONE, false },
	{ "runnable", "guest CPU", "Runnable tasks",
	  "Tasks ready to run at each sample, against the number of vCPUs: more runnable tasks than vCPUs wait in "
	  "the guest's own run queue.",
	  { LINE(M_PROCS_RUNNING, NULL, NONE, NONE, AGG_MEAN, "runnable tasks") }, 1, { -1, -1 }, REF_VCPUS, false },
	{ "runqlat", "guest CPU", "Run-queue latency, p50 and p99 (eBPF)",
	  "How long tasks waited between becoming runnable and running, from the scheduler's own events.",
	  { LINE(M_RUNQ_LATENCY, NULL, NONE, NONE, AGG_SUM, "run-queue wait") }, 1, { -1, -1 }, REF_NONE, false },
	{ "psi", "pressure", "Pressure stall information",
	  "Share of time at least one task (some) or every task (full) stalled on CPU, memory or IO.",
	  { LINE(M_PSI_STALLED_SECONDS_TOTAL, NULL, LBL_RESOURCE, LBL_KIND, AGG_SUM, NULL) }, 1, { -1, -1 },
	  REF_NONE, false },
	{ "memavail", "memory", "Memory available",
	  "MemAvailable as a share of MemTotal: what the guest can still hand out without swapping.",
	  { LINE(M_MEM_AVAILABLE_PCT, NULL, NONE, NONE, AGG_MEAN, "available") }, 1, { -1, -1 }, REF_NONE, false },
	{ "swap", "memory", "Swapping",
	  "Pages the guest swapped in and out per second: its own memory pressure (host swap is invisible here).",
	  { LINE(M_SWAPIN_TOTAL, NULL, NONE, NONE, AGG_SUM, "swapped in"),
	    LINE(M_SWAPOUT_TOTAL, NULL, NONE, NONE, AGG_SUM, "swapped out") },
	  2, { T_SWAPIN_RATE, -1 }, REF_NONE, false },
	{ "faults", "memory", "Major page faults",
	  "Faults that had to read a page from disk or swap, per second.",
	  { LINE(M_MAJFAULT_TOTAL, NULL, NONE, NONE, AGG_SUM, "major faults") }, 1, { -1, -1 }, REF_NONE, false },
	{ "memsize", "memory", "Swap in use and the balloon",
	  "Swap the guest uses, and the memory the balloon driver holds for the host (taken back from the guest).",
	  { LINE(M_SWAP_USED_MIB, NULL, NONE, NONE, AGG_MEAN, "swap used"),
	    LINE(M_BALLOON_MIB, NULL, NONE, NONE, AGG_MEAN, "balloon") },
	  2, { -1, -1 }, REF_NONE, false },
	{ "compaction", "THP / compaction", "Direct compactions",
	  "Allocations that stopped to defragment memory (for huge pages, mostly), per second.",
	  { LINE(M_COMPACT_STALL_TOTAL, NULL, NONE, NONE, AGG_SUM, "direct compactions") }, 1, { -1, -1 }, REF_NONE,
	  false },
	{ "compactlat", "THP / compaction", "Direct compaction duration, p50 and p99 (eBPF)",
	  "How long each direct compaction held up the task that asked for memory.",
	  { LINE(M_COMPACTION_DURATION, NULL, NONE, NONE, AGG_SUM, "direct compaction") }, 1, { -1, -1 }, REF_NONE,
	  false },
	{ "thp", "THP / compaction", "Memory in transparent huge pages",
	  "Anonymous memory backed by huge pages (AnonHugePages).",
	  { LINE(M_ANON_HUGE_MIB, NULL, NONE, NONE, AGG_MEAN, "AnonHugePages") }, 1, { -1, -1 }, REF_NONE, false },
	{ "iolat", "block IO", "Block IO latency per device and layer, p50 and p99 (eBPF)",
	  "Request times in the guest's own queue (queued) and below it (virtio, the host, the device). A p99 far "
	  "above its p50 below the guest marks a second queue on the host.",
	  { LINE(M_BLOCK_LATENCY, NULL, LBL_DEVICE, LBL_LAYER, AGG_SUM, NULL) }, 1, { T_IO_P99, -1 }, REF_NONE,
	  false },
	{ "diskbusy", "block IO", "Disk busy",
	  "Share of time each disk had at least one request in flight (diskstats).",
	  { LINE(M_DISK_IO_SECONDS_TOTAL, NULL, LBL_DEVICE, NONE, AGG_SUM, NULL) }, 1, { -1, -1 }, REF_NONE, false },
	{ "netdrops", "network queues", "Drops per network queue",
	  "Packets each queue on the guest's packet path dropped per second: qdiscs, the driver's queues (the "
	  "rings shared with the host), each vCPU's softnet backlog, and the interfaces' own counters.",
	  { LINE(M_QDISC_DROPS_TOTAL, NULL, LBL_INTERFACE, LBL_QDISC, AGG_SUM, "qdisc "),
	    LINE(M_QUEUE_DROPS_TOTAL, NULL, LBL_INTERFACE, LBL_QUEUE, AGG_SUM, "queue "),
	    LINE(M_SOFTNET_DROPS_TOTAL, NULL, LBL_CPU, NONE, AGG_SUM, "softnet backlog cpu "),
	    LINE(M_NET_DROPS_TOTAL, NULL, LBL_INTERFACE, LBL_DIRECTION, AGG_SUM, "interface ") },
	  4, { T_NET_DROPS, -1 }, REF_NONE, false },
	{ "vmdelay", "KVM host", "Each VM's vCPU delay",
	  "Share of time a VM's vCPU threads were runnable but not running on this host, the mean of its vCPUs: "
	  "exactly the steal its guest sees.",
	  { LINE(M_VM_VCPU_DELAY_TOTAL, NULL, LBL_VM, NONE, AGG_MEAN, NULL) }, 1, { T_STEAL_AVG, -1 }, REF_NONE,
	  false },
	{ "vmswap", "KVM host", "Guest memory the host swapped out",
	  "Memory of each VM process in the host's swap (VmSwap): the guest stalls on it without seeing why.",
	  { LINE(M_VM_SWAP, NULL, LBL_VM, NONE, AGG_SUM, NULL) }, 1, { -1, -1 }, REF_NONE, false },
};
const size_t history_nplots = ARRAY_SIZE(history_plots);

void plot_line_unit(const struct plot_line_def *d, const char **display, double *scale)
{
	const struct metric_def *m = metric_def(d->m);
	*scale = 1;
	if (m->type != MT_COUNTER) {
		*display = m->display;
		*scale = m->scale;
		return;
	}
	/* a counter's rate: its base unit per second */
	switch (m->unit) {
	case U_SECONDS: *display = "%"; *scale = 100; break; /* seconds per second: a share of time */
	case U_PAGES: *display = "pages/s"; break;
	case U_PACKETS: *display = "packets/s"; break;
	case U_REQUESTS: *display = "requests/s"; break;
	case U_BYTES: *display = "MiB/s"; *scale = 1.0 / 1048576; break;
	default: *display = "/s"; break;
	}
}

/* ---------------- the series' previous values ---------------- */

struct hkey {
	char *k;		/* NULL: a free slot */
	uint64_t hash;
	unsigned gen;
	uint64_t t;		/* CLOCK_MONOTONIC of v */
	double v;
	uint64_t *bk;		/* histograms: the cumulative counts, HISTORY_HIST_SLOTS (the last: count) */
};

static uint64_t fnv(const char *s)
{
	uint64_t x = 1469598103934665603ull;
	for (; *s; s++)
		x = (x ^ (unsigned char)*s) * 1099511628211ull;
	return x;
}

static void keys_grow(struct history *h)
{
	size_t ncap = h->capkeys ? h->capkeys * 2 : 64;
	struct hkey *nk = xcalloc(ncap, sizeof(*nk));
	for (size_t i = 0; i < h->capkeys; i++) {
		if (!h->keys[i].k)
			continue;
		size_t j = h->keys[i].hash & (ncap - 1);
		while (nk[j].k)
			j = (j + 1) & (ncap - 1);
		nk[j] = h->keys[i];
	}
	free(h->keys);
	h->keys = nk;
	h->capkeys = ncap;
}

/* The slot of key k, added if new (NULL when the table is full). */
static struct hkey *key_get(struct history *h, const char *k)
{
	if (h->nkeys * 10 >= h->capkeys * 7) {
		if (h->nkeys >= HISTORY_MAX_KEYS) {
			/* full: known keys still work, new ones are not kept */
		} else {
			keys_grow(h);
		}
	}
	uint64_t x = fnv(k);
	size_t j = x & (h->capkeys - 1);
	while (h->keys[j].k) {
		if (h->keys[j].hash == x && strcmp(h->keys[j].k, k) == 0)
			return &h->keys[j];
		j = (j + 1) & (h->capkeys - 1);
	}
	if (h->nkeys >= HISTORY_MAX_KEYS || (h->nkeys + 1) * 10 > h->capkeys * 9) {
		h->keys_dropped++;
		return NULL;
	}
	struct hkey *s = &h->keys[j];
	s->k = xstrdup(k);
	s->hash = x;
	s->gen = h->gen - 1; /* no previous value yet */
	h->nkeys++;
	return s;
}

/* ---------------- buckets ---------------- */

static void bucket_add(struct hbucket *b, double v)
{
	if (!b->n || v < b->min)
		b->min = (float)v;
	if (!b->n || v > b->max)
		b->max = (float)v;
	b->sum += v;
	b->n++;
}

static void bucket_merge(struct hbucket *into, const struct hbucket *from)
{
	if (!from->n)
		return;
	if (!into->n || from->min < into->min)
		into->min = from->min;
	if (!into->n || from->max > into->max)
		into->max = from->max;
	into->sum += from->sum;
	into->n += from->n;
}

static uint32_t sat_add(uint32_t a, uint64_t b)
{
	return b >= (uint64_t)(UINT32_MAX - a) ? UINT32_MAX : a + (uint32_t)b;
}

/* Twice as wide: bucket i is what 2i and 2i + 1 were. */
static void coarsen(struct history *h)
{
	size_t nb = (h->nb + 1) / 2;
	for (size_t p = 0; p < h->nplots; p++)
		for (size_t k = 0; k < h->plots[p].nlines; k++) {
			struct hline *l = &h->plots[p].lines[k];
			for (size_t i = 0; i < nb; i++) {
				if (l->b) {
					struct hbucket m = l->b[2 * i];
					if (2 * i + 1 < h->nb)
						bucket_merge(&m, &l->b[2 * i + 1]);
					l->b[i] = m;
				}
				if (l->hc)
					for (size_t s = 0; s < HISTORY_HIST_SLOTS; s++) {
						uint32_t c = l->hc[2 * i * HISTORY_HIST_SLOTS + s];
						if (2 * i + 1 < h->nb)
							c = sat_add(c, l->hc[(2 * i + 1) * HISTORY_HIST_SLOTS + s]);
						l->hc[i * HISTORY_HIST_SLOTS + s] = c;
					}
			}
			if (l->b)
				memset(l->b + nb, 0, (HISTORY_MAX_BUCKETS - nb) * sizeof(*l->b));
			if (l->hc)
				memset(l->hc + nb * HISTORY_HIST_SLOTS, 0,
				       (HISTORY_MAX_BUCKETS - nb) * HISTORY_HIST_SLOTS * sizeof(*l->hc));
		}
	for (size_t r = 0; r < h->nrules; r++) {
		uint8_t *v = h->sev + r * HISTORY_MAX_BUCKETS;
		for (size_t i = 0; i < nb; i++)
			v[i] = (uint8_t)(v[2 * i] | (2 * i + 1 < h->nb ? v[2 * i + 1] : 0));
		memset(v + nb, 0, HISTORY_MAX_BUCKETS - nb);
	}
	h->nb = nb;
	h->width *= 2;
}

/* The bucket of time t, widening the buckets until it fits. */
static size_t bucket_of(struct history *h, uint64_t t)
{
	uint64_t off = t > h->t0 ? t - h->t0 : 0;
	while (off / h->width >= HISTORY_MAX_BUCKETS)
		coarsen(h);
	size_t i = (size_t)(off / h->width);
	if (i + 1 > h->nb)
		h->nb = i + 1;
	return i;
}

/* ---------------- feeding ---------------- */

void history_init(struct history *h)
{
	memset(h, 0, sizeof(*h));
	h->width = HISTORY_FIRST_WIDTH_NS;
	h->gen = 1;
	h->nplots = history_nplots;
	h->plots = xcalloc(h->nplots, sizeof(*h->plots));
	for (size_t p = 0; p < h->nplots; p++) {
		struct hplot *hp = &h->plots[p];
		const struct plot_def *d = &history_plots[p];
		hp->def = d;
		hp->hist = metric_def(d->lines[0].m)->type == MT_HISTOGRAM;
		plot_line_unit(&d->lines[0], &hp->unit, &hp->scale);
		for (size_t k = 0; k < d->nlines; k++) {
			const char *u;
			plot_line_unit(&d->lines[k], &u, &hp->lscale[k]);
			enum metric_id id = d->lines[k].m;
			h->bym[id] = xrealloc(h->bym[id], (h->nbym[id] + 1) * sizeof(*h->bym[id]));
			h->bymplot[id] = xrealloc(h->bymplot[id], (h->nbym[id] + 1) * sizeof(*h->bymplot[id]));
			h->bym[id][h->nbym[id]] = &d->lines[k];
			h->bymplot[id][h->nbym[id]] = p;
			h->nbym[id]++;
		}
	}
	h->nrules = rules_count();
	h->sev = xcalloc(h->nrules, HISTORY_MAX_BUCKETS);
	h->f = xcalloc(h->nrules, sizeof(*h->f));
	for (size_t r = 0; r < h->nrules; r++) {
		const struct rule_info *ri = rules_info(r);
		h->f[r].id = ri->id;
		h->f[r].label = ri->label;
		h->f[r].failure_mode = ri->failure_mode;
		h->f[r].worst = SEV_UNKNOWN;
	}
	keys_grow(h);
}

static const char *label_of(const struct series_point *p, enum label_id k)
{
	for (unsigned i = 0; i < p->nlabels; i++)
		if (p->labels[i].key == k)
			return p->labels[i].value;
	return NULL;
}

/* "resource=cpu,kind=some": every pair must hold */
static bool matches(const char *match, const struct series_point *p)
{
	if (!match)
		return true;
	const char *s = match;
	while (*s) {
		const char *eq = strchr(s, '='), *end = strchr(s, ',');
		if (!end)
			end = s + strlen(s);
		if (!eq || eq > end)
			return false;
		char name[32];
		snprintf(name, sizeof(name), "%.*s", (int)(eq - s), s);
		const char *v = label_of(p, label_by_name(name));
		size_t vl = (size_t)(end - eq - 1);
		if (!v || strlen(v) != vl || strncmp(v, eq + 1, vl) != 0)
			return false;
		s = *end ? end + 1 : end;
	}
	return true;
}

static struct hline *line_get(struct hplot *hp, size_t def, const char *name)
{
	for (size_t i = 0; i < hp->nlines; i++)
		if (hp->lines[i].def == def && strcmp(hp->lines[i].name, name) == 0)
			return &hp->lines[i];
	if (hp->nlines >= (hp->hist ? HISTORY_MAX_HIST_LINES : HISTORY_MAX_LINES)) {
		hp->dropped++;
		return NULL;
	}
	xgrow((void **)&hp->lines, sizeof(*hp->lines), &hp->cap, hp->nlines);
	struct hline *l = &hp->lines[hp->nlines++];
	memset(l, 0, sizeof(*l));
	l->name = xstrdup(name);
	l->def = def;
	if (hp->hist)
		l->hc = xcalloc((size_t)HISTORY_MAX_BUCKETS * HISTORY_HIST_SLOTS, sizeof(*l->hc));
	else
		l->b = xcalloc(HISTORY_MAX_BUCKETS, sizeof(*l->b));
	return l;
}

/*
 * A histogram's increments over [t0, t1] into the buckets that interval
 * covers, each its share of the time (a slow source's counts would
 * otherwise all land in one bucket every few seconds).
 */
static void hist_spread(struct history *h, struct hline *l, uint64_t t0, uint64_t t1, const uint64_t *inc, size_t ninc)
{
	size_t i1 = bucket_of(h, t1 > t0 ? t1 - 1 : t1), i0 = bucket_of(h, t0);
	uint64_t span = t1 > t0 ? t1 - t0 : 1, left[HISTORY_HIST_SLOTS];
	memcpy(left, inc, sizeof(left));
	for (size_t i = i0; i <= i1; i++) {
		uint64_t a = history_bucket_t(h, i), z = a + h->width;
		a = a < t0 ? t0 : a;
		z = z > t1 ? t1 : z;
		double share = i == i1 ? 1.0 : (double)(z > a ? z - a : 0) / (double)span;
		uint32_t *c = l->hc + i * HISTORY_HIST_SLOTS;
		for (size_t k = 0; k < HISTORY_HIST_SLOTS; k++) {
			if (k >= ninc && k != HISTORY_HIST_SLOTS - 1)
				continue;
			uint64_t part = i == i1 ? left[k] : (uint64_t)((double)inc[k] * share);
			part = part > left[k] ? left[k] : part;
			c[k] = sat_add(c[k], part);
			left[k] -= part;
		}
	}
}

struct feed {
	struct history *h;
	uint64_t mono;
	int64_t off;		/* axis time - CLOCK_MONOTONIC, this sample */
};

static uint64_t axis(const struct feed *fd, uint64_t mono)
{
	int64_t t = (int64_t)mono + fd->off;
	return t > 0 ? (uint64_t)t : 0;
}

static void line_name(const struct plot_line_def *d, const struct series_point *p, char *out, size_t n)
{
	size_t o = (size_t)snprintf(out, n, "%s", d->name ? d->name : "");
	enum label_id by[2] = { d->by, d->by2 };
	for (int i = 0; i < 2 && o < n; i++) {
		if (by[i] == NONE)
			continue;
		const char *v = label_of(p, by[i]);
		o += (size_t)snprintf(out + o, n - o, "%s%s", o && out[o - 1] != ' ' ? " " : "", v ? v : "?");
	}
	if (!out[0])
		snprintf(out, n, "%s", metric_def(d->m)->name);
}

static void on_point(const struct series_point *p, void *arg)
{
	struct feed *fd = arg;
	struct history *h = fd->h;
	size_t nrows = h->nbym[p->id];
	if (!nrows)
		return;
	const struct metric_def *md = metric_def(p->id);
	double v = 0;
	uint64_t t = fd->mono, t0 = 0, t1 = 0;	/* an instant, or the interval [t0, t1] of a rate */
	uint64_t inc[HISTORY_HIST_SLOTS];
	size_t ninc = 0;
	if (md->type == MT_COUNTER || md->type == MT_HISTOGRAM) {
		/* the increment since this series' previous sample */
		char k[512];
		size_t o = (size_t)snprintf(k, sizeof(k), "%d", (int)p->id);
		for (unsigned i = 0; i < p->nlabels && o < sizeof(k); i++)
			o += (size_t)snprintf(k + o, sizeof(k) - o, "\x1f%d=%s", (int)p->labels[i].key, p->labels[i].value);
		struct hkey *key = key_get(h, k);
		if (!key)
			return;
		bool prev = key->gen == h->gen && key->t < fd->mono;
		/*
		 * A source read on slow ticks repeats its last value in between: an
		 * unchanged value there is not a reading.  Wait for the next change,
		 * so the increment covers the time it was counted in; a value that
		 * stays put for HISTORY_SLOW_FLUSH_NS is a reading of nothing.
		 */
		if (prev && source_defs[md->source].tick == TICK_SLOW && fd->mono - key->t < HISTORY_SLOW_FLUSH_NS &&
		    (md->type == MT_COUNTER ? p->value == key->v
					    : key->bk && p->count == key->bk[HISTORY_HIST_SLOTS - 1]))
			return;
		uint64_t pt = key->t;
		bool ok = prev;
		if (md->type == MT_COUNTER) {
			if (ok && p->value >= key->v)
				v = (p->value - key->v) / ((double)(fd->mono - pt) / 1e9);
			else
				ok = false;
			key->v = p->value;
		} else {
			size_t nb = p->nbuckets < SERIES_MAX_BUCKETS ? p->nbuckets : SERIES_MAX_BUCKETS;
			if (!key->bk)
				key->bk = xcalloc(HISTORY_HIST_SLOTS, sizeof(*key->bk));
			uint64_t cur[HISTORY_HIST_SLOTS] = { 0 };
			for (size_t i = 0; i < nb; i++)
				cur[i] = p->bucket[i];
			cur[HISTORY_HIST_SLOTS - 1] = p->count;
			/* per bucket, not cumulative: bucket i counts le[i-1] < x <= le[i]; the last slot +Inf */
			uint64_t below = 0, pbelow = 0;
			for (size_t i = 0; ok && i < HISTORY_HIST_SLOTS; i++) {
				bool inf = i == HISTORY_HIST_SLOTS - 1;
				if (!inf && i >= nb)
					continue;
				uint64_t c = cur[i] - (cur[i] >= below ? below : cur[i]);
				uint64_t pc = key->bk[i] - (key->bk[i] >= pbelow ? pbelow : key->bk[i]);
				below = cur[i];
				pbelow = key->bk[i];
				if (c < pc)
					ok = false;
				else
					inc[i] = c - pc;
			}
			for (size_t i = nb; ok && i + 1 < HISTORY_HIST_SLOTS; i++)
				inc[i] = 0;
			ninc = nb;
			memcpy(key->bk, cur, sizeof(cur));
		}
		key->gen = h->gen;
		key->t = fd->mono;
		if (!ok)
			return;
		t = pt + (fd->mono - pt) / 2;
		t0 = axis(fd, pt);
		t1 = axis(fd, fd->mono);
	} else {
		v = p->value;
		if (p->end_ns && p->end_ns > p->start_ns)
			t = p->start_ns + (p->end_ns - p->start_ns) / 2;
	}
	for (size_t r = 0; r < nrows; r++) {
		const struct plot_line_def *d = h->bym[p->id][r];
		struct hplot *hp = &h->plots[h->bymplot[p->id][r]];
		if (!matches(d->match, p))
			continue;
		char name[200];
		line_name(d, p, name, sizeof(name));
		struct hline *l = line_get(hp, (size_t)(d - hp->def->lines), name);
		if (!l)
			continue;
		if (p->end_ns) {
			/* a window's value, repeated until the next window closes: once */
			if (p->end_ns <= l->done_end)
				continue;
			if (p->end_ns > l->pending_end)
				l->pending_end = p->end_ns;
		}
		if (!l->touched) {
			l->touched = true;
			l->acc = d->agg == AGG_MAX ? -INFINITY : 0;
			l->accn = 0;
			l->acc_t = axis(fd, t);
			l->acc_t0 = t0 ? t0 : l->acc_t;
			l->acc_t1 = t1 ? t1 : l->acc_t;
		}
		if (hp->hist) {
			if (!l->nle && ninc) {
				for (size_t i = 0; i < ninc; i++)
					l->le[i] = p->le[i] * hp->scale;
				l->le[HISTORY_HIST_SLOTS - 1] = INFINITY;
				l->nle = ninc;
			}
			/* increments go straight into the buckets: they add up whatever the aggregation */
			hist_spread(h, l, t0, t1, inc, ninc);
			uint64_t tot = inc[HISTORY_HIST_SLOTS - 1];
			for (size_t i = 0; i < ninc; i++)
				tot += inc[i];
			l->n += tot;
			l->accn++;
			continue;
		}
		double x = v * hp->lscale[l->def];
		if (d->agg == AGG_MAX)
			l->acc = x > l->acc ? x : l->acc;
		else
			l->acc += x;
		l->accn++;
	}
}

static void finish_lines(struct history *h)
{
	for (size_t p = 0; p < h->nplots; p++) {
		struct hplot *hp = &h->plots[p];
		for (size_t k = 0; k < hp->nlines; k++) {
			struct hline *l = &hp->lines[k];
			if (!l->touched)
				continue;
			l->touched = false;
			l->done_end = l->pending_end;
			if (hp->hist || !l->accn)
				continue;
			double v = hp->def->lines[l->def].agg == AGG_MEAN ? l->acc / l->accn : l->acc;
			if (!isfinite(v))
				continue;
			/* a rate holds over its whole interval: every bucket it covers gets it */
			size_t i1 = bucket_of(h, l->acc_t1 > l->acc_t0 ? l->acc_t1 - 1 : l->acc_t1), i0 = bucket_of(h, l->acc_t0);
			for (size_t i = i0; i <= i1 && i - i0 < HISTORY_MAX_BUCKETS; i++)
				bucket_add(&l->b[i], v);
			if (!l->n || v > l->peak) {
				l->peak = v;
				l->peak_at = l->acc_t;
			}
			l->sum += v;
			l->n++;
		}
	}
}

static enum severity worse(enum severity a, enum severity b)
{
	static const int rank[] = { [SEV_OK] = 1, [SEV_WARN] = 2, [SEV_CRIT] = 3, [SEV_UNKNOWN] = 0 };
	return rank[b] > rank[a] ? b : a;
}

static void keep_damage(struct history *h, const struct analysis *an)
{
	for (unsigned i = 0; i < an->ndamage && h->ndamage < HISTORY_MAX_DAMAGE; i++) {
		bool known = false;
		for (unsigned k = 0; k < h->ndamage && !known; k++)
			known = strcmp(h->damage[k], an->damage[i]) == 0;
		if (!known)
			h->damage[h->ndamage++] = xstrdup(an->damage[i]);
	}
}

static void judge(struct history *h, struct engine *e, uint64_t now)
{
	struct findings fs = { 0 };
	engine_evaluate(e, &fs);
	size_t bi = bucket_of(h, now);
	for (size_t r = 0; r < fs.n && r < h->nrules; r++) {
		const struct finding *f = &fs.v[r];
		struct hfinding *hf = &h->f[r];
		h->sev[r * HISTORY_MAX_BUCKETS + bi] |= (uint8_t)(1u << f->sev);
		if (hf->seen && now > hf->last_t)
			hf->secs[hf->last] += (double)(now - hf->last_t) / 1e9;
		if (!hf->seen || worse(hf->worst, f->sev) != hf->worst) {
			/* the first verdict at its worst: what the report quotes */
			free(hf->worst_title);
			free(hf->worst_detail);
			hf->worst_title = f->title ? xstrdup(f->title) : NULL;
			hf->worst_detail = f->detail ? xstrdup(f->detail) : NULL;
			hf->worst_at = now;
			hf->worst = f->sev;
		}
		hf->last = f->sev;
		hf->last_t = now;
		hf->seen = true;
	}
	for (size_t i = 0; i < e->nep; i++)
		keep_damage(h, &e->ep[i]->an);
	engine_release(e);
	findings_done(&fs);
	h->evals++;
}

void history_feed(struct history *h, struct engine *e, const struct sample *s)
{
	uint64_t now = s->real_ns ? s->real_ns : s->mono_ns;
	struct feed feed = { .h = h, .mono = s->mono_ns, .off = (int64_t)(now - s->mono_ns) }, *fd = &feed;
	if (!h->nsamples) {
		h->t0 = now / NS_S * NS_S;
		h->first_t = now;
	}
	if (now > h->last_t)
		h->last_t = now;
	h->nsamples++;
	if (e->restarts != h->restarts) {
		/* a gap: a rate over it would average time nobody watched */
		h->restarts = e->restarts;
		h->gen++;
	}
	engine_series(e, on_point, fd);
	finish_lines(h);
	if (!h->evals || s->mono_ns - h->last_eval_mono >= NS_S || s->mono_ns < h->last_eval_mono) {
		judge(h, e, now);
		h->last_eval_mono = s->mono_ns;
	}
	h->last_mono = s->mono_ns;
}

void history_finish(struct history *h, struct engine *e)
{
	/* the time since the last verdict counts as that verdict */
	for (size_t r = 0; r < h->nrules; r++)
		if (h->f[r].seen && h->last_t > h->f[r].last_t) {
			h->f[r].secs[h->f[r].last] += (double)(h->last_t - h->f[r].last_t) / 1e9;
			h->f[r].last_t = h->last_t;
		}
	const struct analysis *an = engine_acquire(e, 0);
	if (!an)
		return;
	keep_damage(h, an);
	h->vcpus = analysis_vcpus(an);
	for (size_t p = 0; p < h->nplots; p++) {
		struct hplot *hp = &h->plots[p];
		if (history_plot_has_data(hp))
			continue;
		const struct plot_def *d = hp->def;
		size_t o = 0;
		for (size_t k = 0; k < d->nlines && o < sizeof(hp->why) - 1; k++) {
			enum metric_id m = d->lines[k].m;
			bool dup = false;
			for (size_t j = 0; j < k; j++)
				dup |= metric_def(d->lines[j].m)->source == metric_def(m)->source;
			if (dup)
				continue;
			char why[256];
			if (metric_status(an, m, why, sizeof(why))) {
				snprintf(why, sizeof(why), "%s delivered, but %s",
					 source_defs[metric_def(m)->source].name,
					 h->nsamples < 2 && metric_def(m)->type != MT_GAUGE
						 ? "a rate needs two samples and the input has one"
						 : "no series of it had a value to plot here");
			} else {
				const char *off = analysis_switched_off(an, source_defs[metric_def(m)->source].name);
				if (off && !strstr(why, off)) {
					size_t l = strlen(why);
					snprintf(why + l, sizeof(why) - l, " (switched off when recorded: %s)", off);
				}
			}
			o += (size_t)snprintf(hp->why + o, sizeof(hp->why) - o, "%s%s: %s", o ? "; " : "",
					      source_defs[metric_def(m)->source].name, why);
		}
	}
	engine_release(e);
}

void history_done(struct history *h)
{
	for (size_t p = 0; p < h->nplots; p++) {
		for (size_t k = 0; k < h->plots[p].nlines; k++) {
			free(h->plots[p].lines[k].name);
			free(h->plots[p].lines[k].b);
			free(h->plots[p].lines[k].hc);
		}
		free(h->plots[p].lines);
	}
	free(h->plots);
	for (size_t i = 0; i < h->capkeys; i++) {
		free(h->keys[i].k);
		free(h->keys[i].bk);
	}
	free(h->keys);
	for (size_t r = 0; r < h->nrules; r++) {
		free(h->f[r].worst_title);
		free(h->f[r].worst_detail);
	}
	free(h->f);
	free(h->sev);
	for (unsigned i = 0; i < h->ndamage; i++)
		free(h->damage[i]);
	for (int m = 0; m < M_COUNT; m++) {
		free(h->bym[m]);
		free(h->bymplot[m]);
	}
	memset(h, 0, sizeof(*h));
}

/* ---------------- reading back ---------------- */

static double quantile(const struct hline *l, const uint32_t *c, double q, uint64_t *total)
{
	uint64_t n = 0;
	for (size_t i = 0; i < l->nle; i++)
		n += c[i];
	n += c[HISTORY_HIST_SLOTS - 1];
	if (total)
		*total = n;
	if (!n)
		return NAN;
	double rank = q * (double)n, cum = 0;
	for (size_t i = 0; i < l->nle; i++) {
		if (cum + c[i] >= rank && c[i]) {
			double lo = i ? l->le[i - 1] : 0, hi = l->le[i];
			return lo + (hi - lo) * (rank - cum) / (double)c[i];
		}
		cum += c[i];
	}
	return l->nle ? l->le[l->nle - 1] : NAN; /* in +Inf: the highest bound known */
}

bool history_value(const struct hplot *p, const struct hline *l, size_t i, double q, double *lo, double *mean,
		   double *hi)
{
	if (i >= HISTORY_MAX_BUCKETS)
		return false;
	if (p->hist) {
		double v = quantile(l, l->hc + i * HISTORY_HIST_SLOTS, q, NULL);
		if (isnan(v))
			return false;
		*lo = *mean = *hi = v;
		return true;
	}
	const struct hbucket *b = &l->b[i];
	if (!b->n)
		return false;
	*lo = b->min;
	*hi = b->max;
	*mean = b->sum / b->n;
	return true;
}

double history_quantile_all(const struct hplot *p, const struct hline *l, double q)
{
	if (!p->hist)
		return NAN;
	uint32_t c[HISTORY_HIST_SLOTS] = { 0 };
	for (size_t i = 0; i < HISTORY_MAX_BUCKETS; i++)
		for (size_t s = 0; s < HISTORY_HIST_SLOTS; s++)
			c[s] = sat_add(c[s], l->hc[i * HISTORY_HIST_SLOTS + s]);
	return quantile(l, c, q, NULL);
}

bool history_plot_has_data(const struct hplot *p)
{
	for (size_t k = 0; k < p->nlines; k++)
		if (p->lines[k].n)
			return true;
	return false;
}

bool history_thresh_in_unit(const struct hplot *p, int t, double *warn, double *crit)
{
	if (t < 0 || t >= T_COUNT)
		return false;
	const struct threshold *th = &thresholds[t];
	double f;
	const struct metric_def *m = metric_by_name(th->name);
	if (m && strcmp(m->display, th->unit) == 0)
		f = p->scale / m->scale; /* threshold -> base unit -> the plot's unit */
	else if (strcmp(th->unit, p->unit) == 0)
		f = 1;
	else
		return false;
	*warn = th->warn >= 0 ? th->warn * f : -1;
	*crit = th->crit >= 0 ? th->crit * f : -1;
	return true;
}

int history_sev_at(const struct history *h, size_t rule, size_t i)
{
	if (rule >= h->nrules || i >= h->nb)
		return -1;
	uint8_t bits = h->sev[rule * HISTORY_MAX_BUCKETS + i];
	if (!bits)
		return -1;
	if (bits & (1u << SEV_CRIT))
		return SEV_CRIT;
	if (bits & (1u << SEV_WARN))
		return SEV_WARN;
	if (bits & (1u << SEV_OK))
		return SEV_OK;
	return SEV_UNKNOWN;
}

static uint64_t clip(const struct history *h, uint64_t t)
{
	return t < h->first_t ? h->first_t : t > h->last_t ? h->last_t : t;
}

size_t history_spans(const struct history *h, size_t rule, struct hspan *out, size_t max)
{
	size_t n = 0;
	int cur = -2;
	size_t start = 0;
	/* a bucket it was not judged in continues the run before it (a verdict holds until the next) */
	for (size_t i = 0; i <= h->nb; i++) {
		int s = i < h->nb ? history_sev_at(h, rule, i) : -3;
		if (s == -1 && i < h->nb)
			continue;
		if (s == cur)
			continue;
		if (cur >= 0) {
			if (n < max)
				out[n] = (struct hspan){ clip(h, history_bucket_t(h, start)), clip(h, history_bucket_t(h, i)),
							 (enum severity)cur };
			n++;
		}
		cur = s;
		start = i;
	}
	return n;
}

size_t history_periods(const struct history *h, struct hperiod *out, size_t max)
{
	/* every stretch of buckets in which some finding was warn or crit */
	struct hperiod *all = NULL;
	size_t n = 0, cap = 0;
	enum severity *last = xcalloc(h->nrules ? h->nrules : 1, sizeof(*last));
	for (size_t r = 0; r < h->nrules; r++)
		last[r] = SEV_UNKNOWN;
	struct hperiod cur;
	bool open = false;
	for (size_t i = 0; i <= h->nb; i++) {
		bool bad = false;
		if (i < h->nb)
			for (size_t r = 0; r < h->nrules; r++) {
				int s = history_sev_at(h, r, i);
				if (s >= 0)
					last[r] = (enum severity)s;
				bad |= last[r] == SEV_WARN || last[r] == SEV_CRIT;
			}
		if (bad && !open) {
			memset(&cur, 0, sizeof(cur));
			cur.from = clip(h, history_bucket_t(h, i));
			cur.sev = SEV_OK;
			open = true;
		}
		if (bad) {
			for (size_t r = 0; r < h->nrules; r++) {
				if (last[r] != SEV_WARN && last[r] != SEV_CRIT)
					continue;
				cur.sev = worse(cur.sev, last[r]);
				bool known = false;
				for (size_t k = 0; k < cur.nrules && !known; k++)
					known = cur.rules[k] == r;
				if (!known && cur.nrules < ARRAY_SIZE(cur.rules))
					cur.rules[cur.nrules++] = r;
			}
		}
		if (!bad && open) {
			cur.to = clip(h, history_bucket_t(h, i));
			xgrow((void **)&all, sizeof(*all), &cap, n);
			all[n++] = cur;
			open = false;
		}
	}
	free(last);
	/* which findings were crit anywhere in each, crit ones first */
	for (size_t k = 0; k < n; k++) {
		struct hperiod *p = &all[k];
		size_t i0 = (size_t)((p->from - h->t0) / h->width), i1 = (size_t)((p->to - h->t0 + h->width - 1) / h->width);
		size_t crit[16], warn[16], nc = 0, nw = 0;
		for (size_t j = 0; j < p->nrules; j++) {
			bool c = false;
			for (size_t i = i0; i < i1 && i < h->nb && !c; i++)
				c = history_sev_at(h, p->rules[j], i) == SEV_CRIT;
			if (c)
				crit[nc++] = p->rules[j];
			else
				warn[nw++] = p->rules[j];
		}
		p->ncrit = (unsigned)nc;
		p->nwarn = (unsigned)nw;
		memcpy(p->rules, crit, nc * sizeof(size_t));
		memcpy(p->rules + nc, warn, nw * sizeof(size_t));
		if (nc)
			p->sev = SEV_CRIT;
	}
	/* worst first: crit before warn, then more findings, then longer */
	for (size_t a = 1; a < n; a++)
		for (size_t b = a; b > 0; b--) {
			struct hperiod *x = &all[b - 1], *y = &all[b];
			int kx = x->sev == SEV_CRIT, ky = y->sev == SEV_CRIT;
			bool swap = ky > kx || (ky == kx && (y->ncrit + y->nwarn > x->ncrit + x->nwarn ||
							    (y->ncrit + y->nwarn == x->ncrit + x->nwarn &&
							     y->to - y->from > x->to - x->from)));
			if (!swap)
				break;
			struct hperiod t = *x;
			*x = *y;
			*y = t;
		}
	size_t m = n < max ? n : max;
	if (m)
		memcpy(out, all, m * sizeof(*out));
	free(all);
	return n;
}

void history_fmt_dur(double s, char *buf, size_t n)
{
	if (s < 60)
		snprintf(buf, n, "%.0f s", s);
	else if (s < 3600)
		snprintf(buf, n, "%.0f min %.0f s", floor(s / 60), fmod(s, 60));
	else if (s < 86400)
		snprintf(buf, n, "%.0f h %.0f min", floor(s / 3600), floor(fmod(s, 3600) / 60));
	else
		snprintf(buf, n, "%.0f d %.0f h", floor(s / 86400), floor(fmod(s, 86400) / 3600));
}
