/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Scenario files (see scenario.h).  libinih reads the INI; a line-counting
 * reader gives every key its line so that errors found after the whole file
 * was read (a VM pinned to a CPU the host does not have) still name a line.
 * Keys are a table per section: type, place, bounds, and the text of an
 * error says what the key takes.
 */
#include "scenario.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

/* ------------------------------------------------------------------ */
/* CPU sets                                                            */

int sim_cpuset_parse(const char *s, unsigned max, struct sim_cpuset *set)
{
	memset(set, 0, sizeof(*set));
	const char *p = s;
	bool any = false;
	while (*p) {
		while (*p == ' ')
			p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		char *e;
		unsigned long a = strtoul(p, &e, 10), b = a;
		if (e - p > 6)
			return -EINVAL;
		p = e;
		if (*p == '-') {
			p++;
			if (*p < '0' || *p > '9')
				return -EINVAL;
			b = strtoul(p, &e, 10);
			if (e - p > 6)
				return -EINVAL;
			p = e;
		}
		if (b < a || b >= max)
			return -EINVAL;
		for (unsigned long c = a; c <= b; c++)
			sim_cpuset_add(set, (unsigned)c);
		any = true;
		while (*p == ' ')
			p++;
		if (*p == ',')
			p++;
		else if (*p)
			return -EINVAL;
	}
	return any ? 0 : -EINVAL;
}

unsigned sim_cpuset_count(const struct sim_cpuset *s)
{
	unsigned n = 0;
	for (unsigned i = 0; i < SIM_CPUW; i++)
		n += (unsigned)__builtin_popcountll(s->w[i]);
	return n;
}

int sim_cpuset_nth(const struct sim_cpuset *s, unsigned n)
{
	for (unsigned c = 0; c < SIM_MAX_CPUS; c++)
		if (sim_cpuset_has(s, c) && n-- == 0)
			return (int)c;
	return -1;
}

/* ------------------------------------------------------------------ */
/* key tables                                                          */

enum ktype {
	K_U64,		/* whole number */
	K_UNS,		/* whole number, unsigned */
	K_TIME,		/* seconds with unit */
	K_NUM,		/* number with k/M/G */
	K_FRAC,		/* 0..1 */
	K_PCT,		/* 0..100 */
	K_BOOL,
	K_SIZE,		/* bytes: 4K, 16G */
	K_BPS,		/* bytes per second: 1G, 10Gbit */
	K_DIST,
	K_NAME,		/* a VM name */
	K_SPECIAL,	/* handled by the section's own code */
};

struct key {
	const char *name;
	enum ktype type;
	size_t off;
	double min, max;
	const char *help;
};

#define SK(n, t, f, lo, hi, h) { n, t, offsetof(struct sim_scenario, f), lo, hi, h }
static const struct key sim_keys[] = {
	SK("seed", K_U64, seed, 0, 1.8e19, "a whole number"),
	SK("duration", K_TIME, duration, 1e-6, 1e7, "simulated time, e.g. 60s"),
	SK("customers", K_U64, customers, 1, 1e10, "measured customers per station"),
	SK("warmup", K_SPECIAL, warmup, 0, 0, "customers to discard (with customers), or a time (with duration)"),
	SK("events", K_U64, max_events, 1, 1e13, "stop after this many events"),
	{ NULL, 0, 0, 0, 0, NULL },
};

#define ST(n, t, f, lo, hi, h) { n, t, offsetof(struct sim_station, f), lo, hi, h }
static const struct key station_keys[] = {
	ST("arrival", K_DIST, arrival, 0, 0, "a distribution of inter-arrival times, e.g. exp(0.8)"),
	ST("service", K_DIST, service, 0, 0, "a distribution of service times, e.g. exp(1.0)"),
	ST("servers", K_UNS, servers, 1, 100000, "the number of servers c"),
	ST("discipline", K_SPECIAL, ps, 0, 0, "fcfs or ps (processor sharing)"),
	ST("capacity", K_UNS, capacity, 0, 1e8, "customers in the system at most (0: unbounded)"),
	{ NULL, 0, 0, 0, 0, NULL },
};

#define HK(n, t, f, lo, hi, h) { n, t, offsetof(struct sim_hostconf, f), lo, hi, h }
static const struct key host_keys[] = {
	HK("cpus", K_UNS, cpus, 1, SIM_MAX_CPUS, "physical CPUs"),
	HK("nodes", K_UNS, nodes, 1, SIM_MAX_NODES, "NUMA nodes (the CPUs are split evenly)"),
	HK("local_ns", K_NUM, local_ns, 1, 1e6, "memory access cost on the local node (ns)"),
	HK("remote_ns", K_NUM, remote_ns, 1, 1e6, "memory access cost on another node (ns)"),
	HK("slice", K_TIME, slice, 1e-6, 10, "the host scheduler's time slice"),
	HK("wakeup_granularity", K_TIME, wakeup_gran, 0, 10, "how far ahead a waking vCPU must be to preempt"),
	HK("balance", K_TIME, balance, 1e-4, 10, "period of the host's load balancing"),
	HK("memory", K_SIZE, memory, 1 << 20, 1e16, "host memory for guests, e.g. 256G"),
	HK("swap_cost", K_TIME, swap_cost, 0, 10, "host time per guest page faulted back from swap"),
	HK("balloon", K_BOOL, balloon, 0, 0, "yes: the host reclaims guest memory with balloons first"),
	HK("balloon_rate", K_BPS, balloon_rate, 1, 1e13, "how fast balloons move, e.g. 1G (per second)"),
	HK("balloon_delay", K_TIME, balloon_delay, 0, 3600, "how long the host waits before inflating"),
	HK("io_depth", K_UNS, io_depth, 1, 65536, "requests the device serves at once"),
	HK("io_queue", K_UNS, io_queue, 0, 1 << 22, "the host block layer's queue in front of the device (0: unbounded)"),
	HK("io_service", K_DIST, io_service, 0, 0, "the device's service time, e.g. exp(10k)"),
	HK("memory_tick", K_TIME, mem_tick, 1e-3, 10, "how often the host's memory policy runs"),
	{ NULL, 0, 0, 0, 0, NULL },
};

#define VK(n, t, f, lo, hi, h) { n, t, offsetof(struct sim_vmconf, f), lo, hi, h }
static const struct key vm_keys[] = {
	VK("count", K_UNS, count, 1, SIM_MAX_VMS, "identical VMs of this kind"),
	VK("vcpus", K_UNS, vcpus, 1, SIM_MAX_VCPUS, "vCPUs"),
	VK("pin", K_SPECIAL, pin, 0, 0, "the physical CPUs its vCPUs may use, e.g. 0-3,8"),
	VK("pin_each", K_BOOL, pin_each, 0, 0, "yes: vCPU i runs only on the i-th CPU of pin"),
	VK("weight", K_UNS, weight, 1, 10000, "host scheduler weight (100 is a default VM)"),
	VK("memory", K_SIZE, memory, 1 << 20, 1e15, "guest memory, e.g. 16G"),
	VK("mem_nodes", K_SPECIAL, mem_frac, 0, 0, "host nodes holding its memory: 1, or 0:0.5,1:0.5"),
	VK("vnuma", K_BOOL, vnuma, 0, 0, "yes: the guest sees NUMA nodes that match the host's (needs pin)"),
	VK("workload", K_SPECIAL, work, 0, 0, "idle, cpu or requests"),
	VK("load", K_FRAC, load, 0, 1, "cpu: busy share of each vCPU when it runs alone (0-1)"),
	VK("burst", K_TIME, burst, 1e-6, 100, "cpu: mean CPU burst"),
	VK("arrival", K_DIST, arrival, 0, 0, "requests: inter-arrival times, e.g. exp(2000)"),
	VK("service", K_DIST, service, 0, 0, "requests: CPU time per request, e.g. exp(5000)"),
	VK("mem_share", K_FRAC, mem_share, 0, 1, "share of CPU time spent waiting on memory (0-1)"),
	VK("remote_share", K_FRAC, remote_share, 0, 1, "share of its memory accesses that are remote (default: from mem_nodes and where it runs)"),
	VK("hint_rate", K_NUM, hint_rate, 0, 1e9, "vnuma: NUMA-balancing hint faults per CPU-second"),
	VK("working_set", K_SPECIAL, ws, 0, 0, "bytes it touches: 8G, or a profile 8G, 30s:14G, 60s:8G"),
	VK("touch_rate", K_NUM, touch_rate, 0, 1e9, "pages per CPU-second touched across its working set"),
	VK("balloon", K_BOOL, balloon, 0, 0, "yes: it has a balloon driver the host may inflate"),
	VK("queues", K_UNS, queues, 1, SIM_MAX_QUEUES, "virtio-net queue pairs"),
	VK("ring", K_UNS, ring, 1, 65536, "virtqueue size (descriptors)"),
	VK("qdisc", K_UNS, qdisc, 0, 1 << 20, "packets the guest's qdisc holds per TX queue (0: none)"),
	VK("tx", K_DIST, tx, 0, 0, "packets the guest sends: inter-arrival times, e.g. exp(500k)"),
	VK("vq_service", K_DIST, vq_service, 0, 0, "the host's consumer of a TX queue, e.g. exp(800k)"),
	VK("rx", K_DIST, rx, 0, 0, "packets the host delivers: inter-arrival times"),
	VK("rx_cost", K_TIME, rx_cost, 0, 1, "guest CPU per received packet, e.g. 1.2us"),
	VK("io", K_DIST, io, 0, 0, "block requests: inter-arrival times, e.g. exp(500)"),
	VK("io_batch", K_UNS, io_batch, 1, 1 << 20, "requests per arrival (a burst)"),
	VK("io_depth", K_UNS, io_depth, 1, 65536, "requests it keeps in flight below the guest"),
	VK("io_write", K_FRAC, io_write, 0, 1, "share of writes"),
	VK("compaction", K_DIST, compaction, 0, 0, "direct compaction events: inter-arrival times"),
	VK("compaction_stall", K_DIST, compaction_stall, 0, 0, "how long each compaction runs, e.g. det(1.5s)"),
	{ NULL, 0, 0, 0, 0, NULL },
};

#define MK(n, t, f, lo, hi, h) { n, t, offsetof(struct sim_migration, f), lo, hi, h }
static const struct key mig_keys[] = {
	MK("vm", K_NAME, vm, 0, 0, "the VM to move (its memory, and auto-converge throttles it)"),
	MK("memory", K_SIZE, memory, 1 << 20, 1e15, "memory to copy, e.g. 64G"),
	MK("dirty_rate", K_BPS, dirty_rate, 0, 1e13, "bytes the guest dirties per second, e.g. 1G"),
	MK("wws", K_SIZE, wws, 0, 1e15, "writable working set: the pages it keeps dirtying (0: never the same page)"),
	MK("bandwidth", K_BPS, bandwidth, 1, 1e13, "migration bandwidth, e.g. 10Gbit"),
	MK("max_rounds", K_UNS, max_rounds, 1, 100000, "pre-copy rounds before giving up (or post-copy)"),
	MK("downtime", K_TIME, downtime, 1e-6, 3600, "the downtime it may take to stop and copy"),
	MK("start", K_TIME, start, 0, 1e7, "when it starts"),
	MK("auto_converge", K_BOOL, auto_converge, 0, 0, "yes: throttle the vCPUs while the dirty rate outruns the copy"),
	MK("throttle_initial", K_PCT, throttle_initial, 1, 99, "first throttle (%)"),
	MK("throttle_increment", K_PCT, throttle_increment, 1, 99, "each further step (%)"),
	MK("throttle_max", K_PCT, throttle_max, 1, 99, "throttle at most (%)"),
	MK("throttle_trigger", K_PCT, throttle_trigger, 1, 100, "dirtied as a share of sent that counts as too fast (%)"),
	MK("postcopy_after", K_UNS, postcopy_after, 0, 100000, "switch to post-copy after this many rounds (0: never)"),
	MK("switchover", K_TIME, switchover, 0, 60, "fixed cost of the final switch (device state)"),
	{ NULL, 0, 0, 0, 0, NULL },
};

#define BK(n, t, f, lo, hi, h) { n, t, offsetof(struct sim_bundleconf, f), lo, hi, h }
static const struct key bundle_keys[] = {
	BK("vm", K_NAME, vm, 0, 0, "the VM whose view is written"),
	BK("view", K_SPECIAL, host_view, 0, 0, "guest (what the VM sees) or host (the host's view of its VMs)"),
	BK("interval", K_TIME, interval, 0.01, 60, "time between samples"),
	{ NULL, 0, 0, 0, 0, NULL },
};

/* ------------------------------------------------------------------ */
/* parsing                                                             */

struct pctx {
	struct sim_scenario *sc;
	int line;		/* of the line inih is on */
	int section_line;	/* of the last [section] header read */
	struct sim_error err;
	bool bad;
	const char *text, *pos;
	bool long_line;
	bool have_warmup;
	char warmup[64];
	int warmup_line;
};

static int fail(struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct pctx *c, const char *fmt, ...)
{
	if (c->bad)
		return 0;
	va_list ap;
	va_start(ap, fmt);
	char *m;
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	c->bad = true;
	c->err.line = c->line;
	c->err.msg = m ? m : xstrdup("out of memory");
	return 0;
}

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) >= SIM_NAME_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		      *p == '-'))
			return false;
	return true;
}

static void station_defaults(struct sim_station *s)
{
	memset(s, 0, sizeof(*s));
	s->servers = 1;
}

static void host_defaults(struct sim_hostconf *h)
{
	memset(h, 0, sizeof(*h));
	h->cpus = 1;
	h->nodes = 1;
	h->local_ns = 90;
	h->remote_ns = 150;
	h->slice = 3e-3;
	h->wakeup_gran = 1e-3;
	h->balance = 4e-3;
	h->swap_cost = 1e-3;
	h->balloon_rate = 1024.0 * 1024 * 1024;
	h->balloon_delay = 1;
	h->io_depth = 32;
	h->mem_tick = 0.1;
}

static void vm_defaults(struct sim_vmconf *v)
{
	memset(v, 0, sizeof(*v));
	v->count = 1;
	v->vcpus = 1;
	v->weight = 100;
	v->memory = 4ull << 30;
	v->work = WORK_IDLE;
	v->load = 1;
	v->burst = 0.01;
	v->mem_share = 0.2;
	v->remote_share = -1;
	v->hint_rate = 2000;
	v->touch_rate = 5000;
	v->queues = 1;
	v->ring = 256;
	v->qdisc = 1000;
	v->rx_cost = 1.25e-6;
	v->io_batch = 1;
	v->io_depth = 32;
	v->io_write = 0.3;
}

static void mig_defaults(struct sim_migration *m)
{
	memset(m, 0, sizeof(*m));
	m->bandwidth = 1.25e9;	/* 10 Gbit/s */
	m->max_rounds = 30;
	m->downtime = 0.3;
	m->throttle_initial = 20;
	m->throttle_increment = 10;
	m->throttle_max = 99;
	m->throttle_trigger = 50;
}

static const char *key_list(const struct key *t, char *buf, size_t n)
{
	size_t o = 0;
	buf[0] = '\0';
	for (; t->name && o + 2 < n; t++)
		o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? ", " : "", t->name);
	return buf;
}

/* edit distance, for "did you mean" (names are short) */
static unsigned edits(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 40 || lb > 40)
		return 99;
	unsigned d[41][41];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			unsigned x = d[i - 1][j] + 1, y = d[i][j - 1] + 1, z = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			d[i][j] = x < y ? (x < z ? x : z) : (y < z ? y : z);
		}
	return d[la][lb];
}

static int set_typed(struct pctx *c, const struct key *k, void *base, const char *sect, const char *value)
{
	char *p = (char *)base + k->off;
	double d;
	uint64_t u;
	switch (k->type) {
	case K_U64:
	case K_UNS: {
		int r = parse_uint(value, k->type == K_UNS ? 0xffffffffu : UINT64_MAX, &u);
		if (r < 0 || (double)u < k->min || (double)u > k->max)
			return fail(c, "[%s] %s = %s: expected %s (%.0f to %.0f)", sect, k->name, value, k->help, k->min,
				    k->max);
		if (k->type == K_UNS)
			*(unsigned *)p = (unsigned)u;
		else
			*(uint64_t *)p = u;
		return 1;
	}
	case K_TIME:
		if (sim_parse_time(value, &d) < 0 || d < k->min || d > k->max)
			return fail(c, "[%s] %s = %s: expected %s (a time, %g s to %g s)", sect, k->name, value, k->help,
				    k->min, k->max);
		*(double *)p = d;
		return 1;
	case K_NUM:
	case K_FRAC:
	case K_PCT:
		if (sim_parse_number(value, &d) < 0 || d < k->min || d > k->max)
			return fail(c, "[%s] %s = %s: expected %s (%g to %g)", sect, k->name, value, k->help, k->min,
				    k->max);
		*(double *)p = d;
		return 1;
	case K_BOOL:
		if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "on"))
			*(bool *)p = true;
		else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "off"))
			*(bool *)p = false;
		else
			return fail(c, "[%s] %s = %s: expected yes or no", sect, k->name, value);
		return 1;
	case K_SIZE:
	case K_BPS: {
		double v;
		if (k->type == K_SIZE) {
			if (parse_size(value, &u) < 0)
				return fail(c, "[%s] %s = %s: expected %s (a size: 512M, 16G)", sect, k->name, value, k->help);
			v = (double)u;
		} else {
			char tmp[64];
			snprintf(tmp, sizeof(tmp), "%s", value);
			size_t l = strlen(tmp);
			if (l > 2 && !strcmp(tmp + l - 2, "/s"))
				tmp[l - 2] = '\0';
			if (parse_rate(tmp, &v) < 0 || !isfinite(v))
				return fail(c, "[%s] %s = %s: expected %s (bytes per second: 1G, or 10Gbit)", sect, k->name,
					    value, k->help);
		}
		if (v < k->min || v > k->max)
			return fail(c, "[%s] %s = %s: out of range (%g to %g bytes)", sect, k->name, value, k->min, k->max);
		if (k->type == K_SIZE)
			*(uint64_t *)p = (uint64_t)v;
		else
			*(double *)p = v;
		return 1;
	}
	case K_DIST: {
		const char *why;
		if (dist_parse(value, (struct dist *)p, &why) < 0)
			return fail(c, "[%s] %s = %s: %s", sect, k->name, value, why);
		return 1;
	}
	case K_NAME:
		if (!valid_name(value))
			return fail(c, "[%s] %s = %s: a name of letters, digits, '_' and '-'", sect, k->name, value);
		snprintf(p, SIM_NAME_MAX, "%s", value);
		return 1;
	case K_SPECIAL:
		break;
	}
	return fail(c, "[%s] %s: internal error", sect, k->name);
}

static int ws_parse(struct pctx *c, struct sim_vmconf *v, const char *value)
{
	/* "8G" or "8G, 30s:14G, 60s:8G" */
	char buf[512];
	if (strlen(value) >= sizeof(buf))
		return fail(c, "working_set: too long");
	snprintf(buf, sizeof(buf), "%s", value);
	v->nws = 0;
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		char *e = tok + strlen(tok);
		while (e > tok && e[-1] == ' ')
			*--e = '\0';
		if (v->nws == SIM_MAX_WS)
			return fail(c, "working_set: at most %d points", SIM_MAX_WS);
		struct sim_ws_point *pt = &v->ws[v->nws];
		char *colon = strchr(tok, ':');
		pt->t = 0;
		if (colon) {
			*colon = '\0';
			if (sim_parse_time(tok, &pt->t) < 0)
				return fail(c, "working_set: '%s' is not a time (TIME:SIZE, e.g. 30s:14G)", tok);
			tok = colon + 1;
			while (*tok == ' ')
				tok++;
		} else if (v->nws) {
			return fail(c, "working_set: after the first size each point is TIME:SIZE (e.g. 30s:14G)");
		}
		if (parse_size(tok, &pt->bytes) < 0 || pt->bytes == 0 || pt->bytes > (uint64_t)1e15)
			return fail(c, "working_set: '%s' is not a size (e.g. 14G)", tok);
		if (v->nws && pt->t <= v->ws[v->nws - 1].t)
			return fail(c, "working_set: the times must grow");
		v->nws++;
	}
	if (!v->nws)
		return fail(c, "working_set: expected a size, e.g. 8G, or a profile 8G, 30s:14G");
	return 1;
}

static int mem_nodes_parse(struct pctx *c, struct sim_vmconf *v, const char *value)
{
	/* "1", "0,1" (even), "0:0.25,1:0.75" */
	char buf[256];
	if (strlen(value) >= sizeof(buf))
		return fail(c, "mem_nodes: too long");
	snprintf(buf, sizeof(buf), "%s", value);
	double frac[SIM_MAX_NODES] = { 0 };
	bool seen[SIM_MAX_NODES] = { false };
	unsigned n = 0;
	bool weighted = false, plain = false;
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		char *colon = strchr(tok, ':');
		double w = 1;
		if (colon) {
			*colon = '\0';
			if (sim_parse_number(colon + 1, &w) < 0 || w < 0 || w > 1e6)
				return fail(c, "mem_nodes: '%s' is not a share", colon + 1);
			weighted = true;
		} else {
			plain = true;
		}
		uint64_t node;
		char *e = tok + strlen(tok);
		while (e > tok && e[-1] == ' ')
			*--e = '\0';
		if (parse_uint(tok, SIM_MAX_NODES - 1, &node) < 0)
			return fail(c, "mem_nodes: '%s' is not a node number (0-%d)", tok, SIM_MAX_NODES - 1);
		if (seen[node])
			return fail(c, "mem_nodes: node %llu twice", (unsigned long long)node);
		seen[node] = true;
		frac[node] = w;
		n++;
	}
	if (!n || (weighted && plain))
		return fail(c, "mem_nodes: expected nodes (1, or 0,1) or nodes with shares (0:0.25,1:0.75)");
	double sum = 0;
	for (unsigned i = 0; i < SIM_MAX_NODES; i++)
		sum += frac[i];
	if (sum <= 0)
		return fail(c, "mem_nodes: the shares add up to 0");
	for (unsigned i = 0; i < SIM_MAX_NODES; i++)
		v->mem_frac[i] = frac[i] / sum;
	v->mem_nodes_set = true;
	return 1;
}

static int special(struct pctx *c, const char *kind, void *base, const char *name, const char *value, const char *sect)
{
	if (!strcmp(kind, "sim") && !strcmp(name, "warmup")) {
		if (strlen(value) >= sizeof(c->warmup))
			return fail(c, "[sim] warmup = %s: too long", value);
		snprintf(c->warmup, sizeof(c->warmup), "%s", value);
		c->have_warmup = true;
		c->warmup_line = c->line;
		return 1;
	}
	if (!strcmp(kind, "station") && !strcmp(name, "discipline")) {
		struct sim_station *s = base;
		if (!strcmp(value, "fcfs") || !strcmp(value, "fifo"))
			s->ps = false;
		else if (!strcmp(value, "ps"))
			s->ps = true;
		else
			return fail(c, "[%s] discipline = %s: expected fcfs or ps", sect, value);
		return 1;
	}
	if (!strcmp(kind, "vm")) {
		struct sim_vmconf *v = base;
		if (!strcmp(name, "workload")) {
			if (!strcmp(value, "idle"))
				v->work = WORK_IDLE;
			else if (!strcmp(value, "cpu"))
				v->work = WORK_CPU;
			else if (!strcmp(value, "requests"))
				v->work = WORK_REQUESTS;
			else
				return fail(c, "[%s] workload = %s: expected idle, cpu or requests", sect, value);
			return 1;
		}
		if (!strcmp(name, "pin")) {
			if (sim_cpuset_parse(value, SIM_MAX_CPUS, &v->pin) < 0)
				return fail(c, "[%s] pin = %s: expected a CPU list such as 0-3,8 (CPUs below %d)", sect, value,
					    SIM_MAX_CPUS);
			v->pinned = true;
			return 1;
		}
		if (!strcmp(name, "working_set")) {
			int r = ws_parse(c, v, value);
			if (!r && c->err.msg && !strncmp(c->err.msg, "working_set", 11)) {
				char *m = xasprintf("[%s] %s", sect, c->err.msg);
				free(c->err.msg);
				c->err.msg = m;
			}
			return r;
		}
		if (!strcmp(name, "mem_nodes")) {
			int r = mem_nodes_parse(c, v, value);
			if (!r && c->err.msg && !strncmp(c->err.msg, "mem_nodes", 9)) {
				char *m = xasprintf("[%s] %s", sect, c->err.msg);
				free(c->err.msg);
				c->err.msg = m;
			}
			return r;
		}
	}
	if (!strcmp(kind, "bundle") && !strcmp(name, "view")) {
		struct sim_bundleconf *b = base;
		if (!strcmp(value, "guest"))
			b->host_view = false;
		else if (!strcmp(value, "host"))
			b->host_view = true;
		else
			return fail(c, "[bundle] view = %s: expected guest or host", value);
		return 1;
	}
	return fail(c, "[%s] %s: internal error", sect, name);
}

/* the section a key goes to, created on first sight; NULL after an error */
static void *section_of(struct pctx *c, const char *section, const char **kind, const struct key **keys)
{
	struct sim_scenario *sc = c->sc;
	char kbuf[16];
	const char *sp = strchr(section, ' ');
	size_t kl = sp ? (size_t)(sp - section) : strlen(section);
	if (kl >= sizeof(kbuf)) {
		fail(c, "section [%s] is not known (sim, station NAME, host, vm NAME, migration NAME, bundle)", section);
		return NULL;
	}
	memcpy(kbuf, section, kl);
	kbuf[kl] = '\0';
	const char *name = sp ? sp + 1 : NULL;
	while (name && *name == ' ')
		name++;
	bool named = !strcmp(kbuf, "station") || !strcmp(kbuf, "vm") || !strcmp(kbuf, "migration");
	if (!named && strcmp(kbuf, "sim") && strcmp(kbuf, "host") && strcmp(kbuf, "bundle")) {
		fail(c, "section [%s] is not known (sim, station NAME, host, vm NAME, migration NAME, bundle)", section);
		return NULL;
	}
	if (named && (!name || !valid_name(name))) {
		fail(c, "section [%s] needs a name of letters, digits, '_' and '-' (e.g. [%s web])", section, kbuf);
		return NULL;
	}
	if (!named && name) {
		fail(c, "section [%s]: [%s] takes no name", section, kbuf);
		return NULL;
	}
	if (!strcmp(kbuf, "sim")) {
		*kind = "sim";
		*keys = sim_keys;
		if (!sc->line_sim)
			sc->line_sim = c->section_line ? c->section_line : c->line;
		return sc;
	}
	if (!strcmp(kbuf, "host")) {
		*kind = "host";
		*keys = host_keys;
		if (!sc->host.set) {
			host_defaults(&sc->host);
			sc->host.set = true;
			sc->host.line = c->section_line ? c->section_line : c->line;
		}
		return &sc->host;
	}
	if (!strcmp(kbuf, "bundle")) {
		*kind = "bundle";
		*keys = bundle_keys;
		return &sc->bundle;
	}
	if (!strcmp(kbuf, "station")) {
		*kind = "station";
		*keys = station_keys;
		for (unsigned i = 0; i < sc->nstations; i++)
			if (!strcmp(sc->stations[i].name, name))
				return &sc->stations[i];
		if (sc->nstations >= 1024) {
			fail(c, "more than 1024 stations");
			return NULL;
		}
		sc->stations = xrealloc(sc->stations, (sc->nstations + 1) * sizeof(*sc->stations));
		struct sim_station *s = &sc->stations[sc->nstations++];
		station_defaults(s);
		snprintf(s->name, sizeof(s->name), "%s", name);
		s->line = c->section_line ? c->section_line : c->line;
		return s;
	}
	if (!strcmp(kbuf, "vm")) {
		*kind = "vm";
		*keys = vm_keys;
		for (unsigned i = 0; i < sc->nvms; i++)
			if (!strcmp(sc->vms[i].name, name))
				return &sc->vms[i];
		if (sc->nvms >= SIM_MAX_VMS) {
			fail(c, "more than %d [vm] sections", SIM_MAX_VMS);
			return NULL;
		}
		sc->vms = xrealloc(sc->vms, (sc->nvms + 1) * sizeof(*sc->vms));
		struct sim_vmconf *v = &sc->vms[sc->nvms++];
		vm_defaults(v);
		snprintf(v->name, sizeof(v->name), "%s", name);
		v->line = c->section_line ? c->section_line : c->line;
		return v;
	}
	if (!strcmp(kbuf, "migration")) {
		*kind = "migration";
		*keys = mig_keys;
		for (unsigned i = 0; i < sc->nmigs; i++)
			if (!strcmp(sc->migs[i].name, name))
				return &sc->migs[i];
		if (sc->nmigs >= 256) {
			fail(c, "more than 256 migrations");
			return NULL;
		}
		sc->migs = xrealloc(sc->migs, (sc->nmigs + 1) * sizeof(*sc->migs));
		struct sim_migration *m = &sc->migs[sc->nmigs++];
		mig_defaults(m);
		snprintf(m->name, sizeof(m->name), "%s", name);
		m->line = c->section_line ? c->section_line : c->line;
		return m;
	}
	fail(c, "section [%s] is not known (sim, station NAME, host, vm NAME, migration NAME, bundle)", section);
	return NULL;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct pctx *c = user;
	if (c->bad)
		return 0;
	if (!section[0])
		return fail(c, "%s = %s comes before any section ([sim], [station NAME], [host], [vm NAME], ...)", name,
			    value);
	const char *kind;
	const struct key *keys;
	void *base = section_of(c, section, &kind, &keys);
	if (!base)
		return 0;
	for (const struct key *k = keys; k->name; k++) {
		if (strcmp(k->name, name) != 0)
			continue;
		if (!value[0])
			return fail(c, "[%s] %s has no value (%s)", section, name, k->help);
		if (k->type == K_SPECIAL)
			return special(c, kind, base, name, value, section);
		return set_typed(c, k, base, section, value);
	}
	const struct key *best = NULL;
	unsigned bd = 3;
	for (const struct key *k = keys; k->name; k++) {
		unsigned d = edits(name, k->name);
		if (d < bd) {
			bd = d;
			best = k;
		}
	}
	if (best)
		return fail(c, "[%s] has no key '%s': did you mean '%s' (%s)?", section, name, best->name, best->help);
	char buf[1024];
	key_list(keys, buf, sizeof(buf));
	if (strlen(buf) > 160)
		return fail(c, "[%s] has no key '%s' (the keys of each section: hiddenq(1), SIM SCENARIOS)", section, name);
	return fail(c, "[%s] has no key '%s' (keys: %s)", section, name, buf);
}

/* inih's reader: one line per call, counted */
static char *reader(char *str, int num, void *stream)
{
	struct pctx *c = stream;
	if (!*c->pos)
		return NULL;
	const char *nl = strchr(c->pos, '\n');
	size_t len = nl ? (size_t)(nl - c->pos) + 1 : strlen(c->pos);
	c->line++;
	if (len + 1 > (size_t)num) {
		/* a line inih would cut in two: refuse it rather than read its tail as a line */
		if (!c->long_line)
			fail(c, "line longer than %d characters", num - 2);
		c->long_line = true;
		str[0] = '\n';
		str[1] = '\0';
		c->pos += len;
		return str;
	}
	memcpy(str, c->pos, len);
	str[len] = '\0';
	const char *p = str;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '[') {
		c->section_line = c->line;
		if (!strncmp(p, "[sim]", 5) && !c->sc->line_sim)
			c->sc->line_sim = c->line;
	}
	/* a NUL inside the text ends it, as for any C string */
	c->pos += len;
	return str;
}

/* ------------------------------------------------------------------ */
/* checks after reading                                                */

static int check(struct sim_scenario *sc, struct sim_error *err);

static int set_err(struct sim_error *err, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int set_err(struct sim_error *err, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m;
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	err->line = line;
	err->msg = m ? m : xstrdup("out of memory");
	return -EINVAL;
}

unsigned sim_scenario_instances(const struct sim_scenario *sc)
{
	unsigned n = 0;
	for (unsigned i = 0; i < sc->nvms; i++)
		n += sc->vms[i].count;
	return n;
}

/* does NAME name a VM section, or one instance NAME-k of it? */
static bool vm_exists(const struct sim_scenario *sc, const char *name)
{
	for (unsigned i = 0; i < sc->nvms; i++) {
		const struct sim_vmconf *v = &sc->vms[i];
		if (!strcmp(v->name, name))
			return true;
		size_t l = strlen(v->name);
		if (v->count > 1 && !strncmp(name, v->name, l) && name[l] == '-') {
			uint64_t k;
			if (parse_uint(name + l + 1, v->count - 1, &k) == 0)
				return true;
		}
	}
	return false;
}

static int check(struct sim_scenario *sc, struct sim_error *err)
{
	int ls = sc->line_sim;
	if (!sc->nstations && !sc->nvms && !sc->nmigs)
		return set_err(err, 0, "nothing to simulate: add a [station NAME], [vm NAME] or [migration NAME]");
	if (sc->duration <= 0 && sc->customers == 0)
		return set_err(err, ls, "[sim] needs duration (e.g. 60s) or customers (e.g. 1000000)");
	if ((sc->nvms || sc->nmigs) && sc->duration <= 0)
		return set_err(err, ls, "[sim] needs a duration: VMs and migrations run for a time, not a count");
	if (sc->warmup >= sc->duration && sc->duration > 0)
		return set_err(err, ls, "[sim] warmup (%g s) must be shorter than duration (%g s)", sc->warmup,
			       sc->duration);
	for (unsigned i = 0; i < sc->nstations; i++) {
		const struct sim_station *s = &sc->stations[i];
		if (s->arrival.kind == DIST_NONE || s->service.kind == DIST_NONE)
			return set_err(err, s->line, "[station %s] needs arrival and service", s->name);
		if (dist_mean(&s->arrival) <= 0)
			return set_err(err, s->line, "[station %s] arrival: inter-arrival times must have a positive mean",
				       s->name);
	}
	if (sc->nvms && !sc->host.set)
		return set_err(err, sc->vms[0].line, "VMs need a [host] (cpus, nodes, ...)");
	const struct sim_hostconf *h = &sc->host;
	if (h->set) {
		if (h->nodes > h->cpus)
			return set_err(err, h->line, "[host] nodes (%u) cannot exceed cpus (%u)", h->nodes, h->cpus);
		if (h->remote_ns < h->local_ns)
			return set_err(err, h->line, "[host] remote_ns (%g) is below local_ns (%g)", h->remote_ns,
				       h->local_ns);
	}
	unsigned inst = 0;
	uint64_t vcpus = 0;
	for (unsigned i = 0; i < sc->nvms; i++) {
		struct sim_vmconf *v = &sc->vms[i];
		inst += v->count;
		vcpus += (uint64_t)v->vcpus * v->count;
		if (inst > SIM_MAX_VMS)
			return set_err(err, v->line, "more than %d VMs in all", SIM_MAX_VMS);
		if (v->count > 1 && strlen(v->name) + 6 >= SIM_NAME_MAX)
			return set_err(err, v->line, "[vm %s]: name too long for count = %u", v->name, v->count);
		if (v->pinned) {
			for (unsigned c = h->cpus; c < SIM_MAX_CPUS; c++)
				if (sim_cpuset_has(&v->pin, c))
					return set_err(err, v->line, "[vm %s] pin: CPU %u, but the host has %u CPUs (0-%u)",
						       v->name, c, h->cpus, h->cpus - 1);
			if (v->pin_each && sim_cpuset_count(&v->pin) < v->vcpus)
				return set_err(err, v->line, "[vm %s] pin_each needs a CPU for each of its %u vCPUs (pin has %u)",
					       v->name, v->vcpus, sim_cpuset_count(&v->pin));
		} else if (v->pin_each) {
			return set_err(err, v->line, "[vm %s] pin_each needs pin", v->name);
		}
		if (v->vnuma && !v->pinned)
			return set_err(err, v->line, "[vm %s] vnuma needs pin: a guest's NUMA nodes match the host's only "
				       "when its vCPUs stay on their nodes", v->name);
		if (v->mem_nodes_set)
			for (unsigned n = h->nodes; n < SIM_MAX_NODES; n++)
				if (v->mem_frac[n] > 0)
					return set_err(err, v->line, "[vm %s] mem_nodes: node %u, but the host has %u nodes",
						       v->name, n, h->nodes);
		if (v->work == WORK_REQUESTS && (v->arrival.kind == DIST_NONE || v->service.kind == DIST_NONE))
			return set_err(err, v->line, "[vm %s] workload = requests needs arrival and service", v->name);
		if (v->work == WORK_REQUESTS && dist_mean(&v->arrival) <= 0)
			return set_err(err, v->line, "[vm %s] arrival must have a positive mean", v->name);
		if (v->io.kind != DIST_NONE && h->io_service.kind == DIST_NONE)
			return set_err(err, v->line, "[vm %s] io needs a device: [host] io_service (e.g. exp(10k))", v->name);
		if (v->io.kind != DIST_NONE && dist_mean(&v->io) <= 0)
			return set_err(err, v->line, "[vm %s] io must have a positive mean", v->name);
		if (v->tx.kind != DIST_NONE && v->vq_service.kind == DIST_NONE)
			return set_err(err, v->line, "[vm %s] tx needs vq_service: the host's consumer of the queue", v->name);
		if ((v->tx.kind != DIST_NONE && dist_mean(&v->tx) <= 0) || (v->rx.kind != DIST_NONE && dist_mean(&v->rx) <= 0))
			return set_err(err, v->line, "[vm %s] tx and rx must have a positive mean", v->name);
		if (v->compaction.kind != DIST_NONE && v->compaction_stall.kind == DIST_NONE)
			return set_err(err, v->line, "[vm %s] compaction needs compaction_stall (how long each runs)", v->name);
		if (v->compaction.kind != DIST_NONE && dist_mean(&v->compaction) <= 0)
			return set_err(err, v->line, "[vm %s] compaction must have a positive mean", v->name);
		for (unsigned k = 0; k < v->nws; k++)
			if (v->ws[k].bytes > v->memory)
				return set_err(err, v->line, "[vm %s] working_set %llu MiB is more than its memory (%llu MiB)",
					       v->name, (unsigned long long)(v->ws[k].bytes >> 20),
					       (unsigned long long)(v->memory >> 20));
	}
	if (vcpus > 65536)
		return set_err(err, sc->vms[0].line, "more than 65536 vCPUs in all");
	for (unsigned i = 0; i < sc->nmigs; i++) {
		struct sim_migration *m = &sc->migs[i];
		if (m->vm[0] && !vm_exists(sc, m->vm))
			return set_err(err, m->line, "[migration %s] vm = %s: no such VM", m->name, m->vm);
		if (!m->vm[0] && !m->memory)
			return set_err(err, m->line, "[migration %s] needs vm or memory", m->name);
		if (m->throttle_initial > m->throttle_max)
			return set_err(err, m->line, "[migration %s] throttle_initial is above throttle_max", m->name);
		if (m->start >= sc->duration)
			return set_err(err, m->line, "[migration %s] starts at %g s, after the run ends (%g s)", m->name,
				       m->start, sc->duration);
	}
	if (sc->bundle.vm[0] && !vm_exists(sc, sc->bundle.vm))
		return set_err(err, 0, "[bundle] vm = %s: no such VM", sc->bundle.vm);
	return 0;
}

static void apply_warmup(struct pctx *c)
{
	struct sim_scenario *sc = c->sc;
	if (!c->have_warmup || c->bad)
		return;
	c->line = c->warmup_line;
	if (sc->customers && sc->duration <= 0) {
		uint64_t u;
		if (parse_uint(c->warmup, (uint64_t)1e12, &u) < 0)
			fail(c, "[sim] warmup = %s: with customers, warmup is a number of customers", c->warmup);
		else
			sc->warmup_customers = u;
	} else {
		double t;
		if (sim_parse_time(c->warmup, &t) < 0)
			fail(c, "[sim] warmup = %s: with duration, warmup is a time (e.g. 5s)", c->warmup);
		else
			sc->warmup = t;
	}
}

int sim_scenario_parse(const char *text, struct sim_scenario *sc, struct sim_error *err)
{
	memset(sc, 0, sizeof(*sc));
	sc->seed = 1;
	sc->bundle.interval = 1;
	struct pctx c = { .sc = sc, .text = text, .pos = text };
	int r = ini_parse_stream(reader, &c, on_key, &c);
	if (!c.bad && r > 0) {
		c.line = r;
		fail(&c, "line %d does not parse (expected [section] or key = value)", r);
	}
	apply_warmup(&c);
	if (c.bad) {
		*err = c.err;
		sim_scenario_free(sc);
		return -EINVAL;
	}
	if (check(sc, err) < 0) {
		sim_scenario_free(sc);
		return -EINVAL;
	}
	return 0;
}

int sim_scenario_set(struct sim_scenario *sc, const char *dotted, const char *value, struct sim_error *err)
{
	const char *dot = strrchr(dotted, '.');
	if (!dot || dot == dotted || !dot[1])
		return set_err(err, 0, "%s: expected SECTION.KEY (sim.seed, host.cpus, vm.NAME.count, station.NAME.arrival)",
			       dotted);
	char section[SIM_NAME_MAX + 16];
	size_t sl = (size_t)(dot - dotted);
	if (sl >= sizeof(section))
		return set_err(err, 0, "%s: section name too long", dotted);
	memcpy(section, dotted, sl);
	section[sl] = '\0';
	char *d2 = strchr(section, '.');
	if (d2)
		*d2 = ' ';
	/* the section must exist already: a sweep changes a scenario, it does not add to it */
	bool exists = !strcmp(section, "sim") || !strcmp(section, "bundle") || (!strcmp(section, "host") && sc->host.set);
	for (unsigned i = 0; !exists && i < sc->nstations; i++)
		exists = d2 && !strncmp(section, "station ", 8) && !strcmp(section + 8, sc->stations[i].name);
	for (unsigned i = 0; !exists && i < sc->nvms; i++)
		exists = d2 && !strncmp(section, "vm ", 3) && !strcmp(section + 3, sc->vms[i].name);
	for (unsigned i = 0; !exists && i < sc->nmigs; i++)
		exists = d2 && !strncmp(section, "migration ", 10) && !strcmp(section + 10, sc->migs[i].name);
	if (!exists)
		return set_err(err, 0, "%s: the scenario has no section [%s]", dotted, section);
	struct pctx c = { .sc = sc };
	char *v = xstrdup(value);
	on_key(&c, section, dot + 1, v);
	free(v);
	apply_warmup(&c);
	if (c.bad) {
		*err = c.err;
		err->line = 0;
		return -EINVAL;
	}
	return check(sc, err);
}

void sim_scenario_free(struct sim_scenario *sc)
{
	free(sc->stations);
	free(sc->vms);
	free(sc->migs);
	memset(sc, 0, sizeof(*sc));
}

void sim_scenario_copy(struct sim_scenario *dst, const struct sim_scenario *src)
{
	*dst = *src;
	dst->stations = src->nstations ? xmemdup(src->stations, src->nstations * sizeof(*src->stations)) : NULL;
	dst->vms = src->nvms ? xmemdup(src->vms, src->nvms * sizeof(*src->vms)) : NULL;
	dst->migs = src->nmigs ? xmemdup(src->migs, src->nmigs * sizeof(*src->migs)) : NULL;
}
