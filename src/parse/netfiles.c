/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The network files of /proc (net/core/net-procfs.c, net/ipv4/proc.c) and
 * the per-CPU tables /proc/interrupts and /proc/softirqs.  Everything that
 * has a header is matched by name: snmp/netstat columns move between kernels
 * (TCPLostRetransmit is column 35 on 6.1, 39 on 6.18), and the interrupt
 * table lists online CPUs only.
 */
#include "ioparse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "parse.h"

#define MAX_ROWS 65536
#define MAX_CPUS 8192

static void copy_word(char *dst, size_t n, const char *s, const char *e)
{
	size_t l = (size_t)(e - s);
	if (l >= n)
		l = n - 1;
	memcpy(dst, s, l);
	dst[l] = '\0';
}

/* ---- /proc/net/dev ---- */

int netdev_parse(const char *buf, size_t len, struct netdevs *out)
{
	memset(out, 0, sizeof(*out));
	struct scan sc = { buf, buf + len };
	const char *ls, *le;
	size_t cap = 0;
	while (scan_line(&sc, &ls, &le) && out->n < MAX_ROWS) {
		/* "  eth0: 123 ..."; the two header lines have '|' and no valid numbers */
		const char *colon = memchr(ls, ':', (size_t)(le - ls));
		if (!colon)
			continue;
		const char *ns = ls;
		while (ns < colon && (*ns == ' ' || *ns == '\t'))
			ns++;
		if (ns == colon || (size_t)(colon - ns) >= sizeof(out->v[0].name) || memchr(ns, '|', (size_t)(colon - ns)))
			continue;
		struct netdev_stat d;
		memset(&d, 0, sizeof(d));
		copy_word(d.name, sizeof(d.name), ns, colon);
		if (strchr(d.name, ' '))
			continue;
		const char *p = colon + 1;
		unsigned k;
		for (k = 0; k < ND_N; k++)
			if (!scan_u64(&p, le, &d.f[k]))
				break;
		if (k != ND_N)
			continue;
		xgrow((void **)&out->v, sizeof(*out->v), &cap, out->n);
		out->v[out->n++] = d;
	}
	return out->n ? 0 : -EINVAL;
}

void netdevs_done(struct netdevs *nd)
{
	free(nd->v);
	memset(nd, 0, sizeof(*nd));
}

const struct netdev_stat *netdevs_find(const struct netdevs *nd, const char *name)
{
	for (size_t i = 0; i < nd->n; i++)
		if (strcmp(nd->v[i].name, name) == 0)
			return &nd->v[i];
	return NULL;
}

/* ---- /proc/net/softnet_stat ---- */

static bool scan_hex32(const char **p, const char *end, uint32_t *out)
{
	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
	const char *q = *p;
	uint64_t v = 0;
	while (q < end && q - *p < 9) {
		char c = *q;
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			break;
		v = v * 16 + d;
		q++;
	}
	if (q == *p || v > UINT32_MAX || (q < end && *q != ' ' && *q != '\t' && *q != '\r'))
		return false;
	*p = q;
	*out = (uint32_t)v;
	return true;
}

int softnet_parse(const char *buf, size_t len, struct softnet *out)
{
	memset(out, 0, sizeof(*out));
	struct scan sc = { buf, buf + len };
	const char *ls, *le;
	size_t cap = 0;
	unsigned line = 0;
	while (scan_line(&sc, &ls, &le) && out->n < MAX_CPUS) {
		uint32_t col[32];
		unsigned n = 0;
		const char *p = ls;
		bool bad = false;
		while (n < ARRAY_SIZE(col)) {
			const char *q = p;
			while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
				q++;
			if (q == le)
				break;
			if (!scan_hex32(&p, le, &col[n])) {
				bad = true;
				break;
			}
			n++;
		}
		unsigned idx = line++;
		/* every kernel since 2.6 prints at least 9 columns (processed..collision) */
		if (bad || n < 9)
			continue;
		struct softnet_cpu c;
		memset(&c, 0, sizeof(c));
		c.ncols = n;
		c.processed = col[0];
		c.dropped = col[1];
		c.time_squeeze = col[2];
		if (n >= 10)
			c.received_rps = col[9];
		if (n >= 11)
			c.flow_limit = col[10];
		if (n >= 12)
			c.backlog_len = col[11];
		if (n >= 13 && col[12] < MAX_CPUS) {
			c.cpu = (int)col[12];
			c.cpu_from_column = true;
		} else {
			/* before 5.10 the line index is the CPU only if none was offline */
			c.cpu = (int)idx;
		}
		if (n >= 14)
			c.input_qlen = col[13];
		if (n >= 15)
			c.process_qlen = col[14];
		xgrow((void **)&out->v, sizeof(*out->v), &cap, out->n);
		out->v[out->n++] = c;
	}
	return out->n ? 0 : -EINVAL;
}

void softnet_done(struct softnet *sn)
{
	free(sn->v);
	memset(sn, 0, sizeof(*sn));
}

const struct softnet_cpu *softnet_cpu(const struct softnet *sn, int cpu)
{
	for (size_t i = 0; i < sn->n; i++)
		if (sn->v[i].cpu == cpu)
			return &sn->v[i];
	return NULL;
}

/* ---- snmp / netstat line pairs ---- */

static unsigned count_words(const char *p, const char *e)
{
	unsigned n = 0;
	const char *ws, *we;
	while (scan_word(&p, e, &ws, &we))
		n++;
	return n;
}

int snmp_pairs_extract(const char *buf, size_t len, const char *prefix, const char *const *keys, size_t n,
		       int64_t *vals, bool *found)
{
	for (size_t i = 0; i < n; i++) {
		vals[i] = 0;
		found[i] = false;
	}
	size_t pl = strlen(prefix);
	struct scan sc = { buf, buf + len };
	const char *hs, *he, *vs, *ve;
	while (scan_line(&sc, &hs, &he)) {
		if ((size_t)(he - hs) <= pl || memcmp(hs, prefix, pl) != 0 || hs[pl] != ':')
			continue;
		/* the header: its first word after the prefix is a name, not a number */
		const char *p = hs + pl + 1, *ws, *we;
		if (!scan_word(&p, he, &ws, &we) || (*ws >= '0' && *ws <= '9') || *ws == '-')
			continue;
		if (!scan_line(&sc, &vs, &ve) || (size_t)(ve - vs) <= pl || memcmp(vs, prefix, pl) != 0 ||
		    vs[pl] != ':')
			return -EINVAL;
		const char *hp = hs + pl + 1, *vp = vs + pl + 1;
		if (count_words(hp, he) != count_words(vp, ve))
			return -EINVAL;
		int got = 0;
		const char *nws, *nwe;
		while (scan_word(&hp, he, &nws, &nwe)) {
			int64_t v;
			const char *vws, *vwe;
			if (!scan_word(&vp, ve, &vws, &vwe))
				return -EINVAL;
			const char *q = vws;
			if (!scan_i64(&q, vwe, &v) || q != vwe) {
				/* a huge unsigned value does not fit int64: clamp rather than fail */
				uint64_t u;
				q = vws;
				if (!scan_u64(&q, vwe, &u) || q != vwe)
					continue;
				v = INT64_MAX;
			}
			for (size_t i = 0; i < n; i++) {
				if (!found[i] && word_eq(nws, nwe, keys[i])) {
					vals[i] = v;
					found[i] = true;
					got++;
				}
			}
		}
		return got;
	}
	return -EINVAL;
}

/* ---- per-CPU tables ---- */

int pcpu_table_parse(const char *buf, size_t len, struct pcpu_table *out)
{
	memset(out, 0, sizeof(*out));
	struct scan sc = { buf, buf + len };
	const char *ls, *le;
	/* the header: "CPU0 CPU1 ..." (offline CPUs are absent) */
	if (!scan_line(&sc, &ls, &le))
		return -EINVAL;
	const char *p = ls, *ws, *we;
	size_t capc = 0;
	while (scan_word(&p, le, &ws, &we) && out->ncpus < MAX_CPUS) {
		const char *q = ws + 3;
		uint64_t id;
		if (we - ws < 4 || memcmp(ws, "CPU", 3) != 0 || !scan_u64(&q, we, &id) || q != we || id >= MAX_CPUS)
			goto bad;
		xgrow((void **)&out->cpu, sizeof(*out->cpu), &capc, out->ncpus);
		out->cpu[out->ncpus++] = (int)id;
	}
	if (out->ncpus == 0)
		goto bad;
	size_t capr = 0;
	while (scan_line(&sc, &ls, &le) && out->nrows < MAX_ROWS) {
		p = ls;
		if (!scan_word(&p, le, &ws, &we) || we[-1] != ':' || we - ws < 2)
			continue;
		struct pcpu_row r;
		memset(&r, 0, sizeof(r));
		copy_word(r.label, sizeof(r.label), ws, we - 1);
		r.count = xcalloc(out->ncpus, sizeof(*r.count));
		size_t k;
		for (k = 0; k < out->ncpus; k++) {
			const char *q = p;
			if (!scan_u64(&q, le, &r.count[k]) || (q < le && *q != ' ' && *q != '\t'))
				break;
			p = q;
			r.total += r.count[k];
		}
		/* ERR:/MIS: carry one number only; rows must have them all or be a one-value row */
		if (k != out->ncpus && k != 1) {
			free(r.count);
			continue;
		}
		while (p < le && (*p == ' ' || *p == '\t'))
			p++;
		const char *de = le;
		while (de > p && (de[-1] == ' ' || de[-1] == '\t' || de[-1] == '\r'))
			de--;
		copy_word(r.desc, sizeof(r.desc), p, de);
		const char *as = de;
		while (as > p && as[-1] != ' ' && as[-1] != '\t')
			as--;
		copy_word(r.action, sizeof(r.action), as, de);
		xgrow((void **)&out->rows, sizeof(*out->rows), &capr, out->nrows);
		out->rows[out->nrows++] = r;
	}
	return 0;
bad:
	pcpu_table_done(out);
	return -EINVAL;
}

void pcpu_table_done(struct pcpu_table *t)
{
	for (size_t i = 0; i < t->nrows; i++)
		free(t->rows[i].count);
	free(t->rows);
	free(t->cpu);
	memset(t, 0, sizeof(*t));
}

const struct pcpu_row *pcpu_table_find(const struct pcpu_table *t, const char *label)
{
	for (size_t i = 0; i < t->nrows; i++)
		if (strcmp(t->rows[i].label, label) == 0)
			return &t->rows[i];
	return NULL;
}

int pcpu_table_col(const struct pcpu_table *t, int cpu)
{
	for (size_t i = 0; i < t->ncpus; i++)
		if (t->cpu[i] == cpu)
			return (int)i;
	return -1;
}

void virtio_irq_classify(const char *action, struct virtio_irq *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = VIRQ_NONE;
	out->dev = -1;
	out->queue = -1;
	if (strncmp(action, "virtio", 6) != 0)
		return;
	const char *p = action + 6, *e = action + strlen(action);
	uint64_t dev;
	if (!scan_u64(&p, e, &dev) || dev > 1000000 || p == action + 6)
		return;
	out->dev = (int)dev;
	if (p == e) {
		out->kind = VIRQ_INTX;
		return;
	}
	if (*p != '-') {
		out->dev = -1;
		return;
	}
	p++;
	copy_word(out->vq, sizeof(out->vq), p, e);
	if (strcmp(out->vq, "config") == 0) {
		out->kind = VIRQ_CONFIG;
		return;
	}
	if (strcmp(out->vq, "virtqueues") == 0) {
		out->kind = VIRQ_SHARED;
		return;
	}
	static const struct {
		const char *name;
		enum virtio_irq_kind kind;
	} q[] = { { "input.", VIRQ_NET_RX }, { "output.", VIRQ_NET_TX }, { "req.", VIRQ_BLK } };
	for (size_t i = 0; i < ARRAY_SIZE(q); i++) {
		size_t l = strlen(q[i].name);
		if (strncmp(p, q[i].name, l) != 0)
			continue;
		const char *d = p + l;
		uint64_t qi;
		if (scan_u64(&d, e, &qi) && d == e && qi < 65536) {
			out->kind = q[i].kind;
			out->queue = (int)qi;
			return;
		}
	}
	out->kind = VIRQ_OTHER;
}
