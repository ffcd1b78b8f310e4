/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "io.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../parse/memparse.h"
#include "../parse/parse.h"

#define BIOLAT_PATH ".hiddenq/biolat.json"

const char *const snmp_key_names[SN_N] = {
	"Tcp OutSegs", "Tcp RetransSegs", "Tcp InErrs",
	"Udp InDatagrams", "Udp InErrors", "Udp RcvbufErrors", "Udp SndbufErrors", "Udp NoPorts",
	"TcpExt TCPTimeouts", "TcpExt TCPLostRetransmit", "TcpExt TCPSynRetrans", "TcpExt ListenDrops",
	"TcpExt TCPBacklogDrop",
	"Udp6 Udp6RcvbufErrors", "Udp6 Udp6SndbufErrors", "Udp6 Udp6InErrors",
};

static void copy_str(char *dst, size_t n, const char *src)
{
	size_t l = strnlen(src, n - 1);
	memcpy(dst, src, l);
	dst[l] = '\0';
}

void io_init(struct io_analysis *a)
{
	memset(a, 0, sizeof(*a));
}

void io_done(struct io_analysis *a)
{
	free(a->disks);
	for (size_t i = 0; i < a->nwhole; i++)
		free(a->whole[i]);
	free(a->whole);
	free(a->ifs);
	free(a->sn);
	free(a->qd);
	eth_doc_done(&a->eth_first);
	eth_doc_done(&a->eth_last);
	free(a->qs_first);
	free(a->qs_last);
	pcpu_table_done(&a->irq_first);
	pcpu_table_done(&a->irq_last);
	pcpu_table_done(&a->sirq_first);
	pcpu_table_done(&a->sirq_last);
	memset(a, 0, sizeof(*a));
}

double io_watch_s(const struct io_analysis *a)
{
	return a->last_ns > a->first_ns ? (double)(a->last_ns - a->first_ns) / 1e9 : 0;
}

const struct disk_acc *io_disk(const struct io_analysis *a, const char *name)
{
	for (size_t i = 0; i < a->ndisks; i++)
		if (strcmp(a->disks[i].name, name) == 0)
			return &a->disks[i];
	return NULL;
}

const struct iface_acc *io_iface(const struct io_analysis *a, const char *name)
{
	for (size_t i = 0; i < a->nifs; i++)
		if (strcmp(a->ifs[i].name, name) == 0)
			return &a->ifs[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* statics: queue configuration, drivers                               */
/* ------------------------------------------------------------------ */

static bool static_text(const struct sample *st, const char *path, char *dst, size_t n)
{
	dst[0] = '\0';
	const struct sfile *f = st ? sample_find(st, path) : NULL;
	if (!f)
		return false;
	size_t k = 0;
	for (size_t i = 0; i < f->len && k + 1 < n; i++) {
		char c = f->data[i];
		if (c == '\n')
			break;
		dst[k++] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	while (k && dst[k - 1] == ' ')
		k--;
	dst[k] = '\0';
	return true;
}

static int static_int(const struct sample *st, const char *path)
{
	char b[32];
	if (!static_text(st, path, b, sizeof(b)))
		return -1;
	const char *p = b;
	uint64_t v;
	if (!scan_u64(&p, b + strlen(b), &v) || v > INT32_MAX)
		return -1;
	return (int)v;
}

static struct disk_acc *disk_get(struct io_analysis *a, const char *name)
{
	for (size_t i = 0; i < a->ndisks; i++)
		if (strcmp(a->disks[i].name, name) == 0)
			return &a->disks[i];
	if (a->ndisks >= IO_MAX_DISKS)
		return NULL;
	a->disks = xrealloc(a->disks, (a->ndisks + 1) * sizeof(*a->disks));
	struct disk_acc *d = &a->disks[a->ndisks++];
	memset(d, 0, sizeof(*d));
	copy_str(d->name, sizeof(d->name), name);
	d->nr_requests = d->rotational = d->nr_hw_queues = d->hw_sector = -1;
	return d;
}

static struct iface_acc *iface_get(struct io_analysis *a, const char *name)
{
	for (size_t i = 0; i < a->nifs; i++)
		if (strcmp(a->ifs[i].name, name) == 0)
			return &a->ifs[i];
	if (a->nifs >= IO_MAX_IFACES)
		return NULL;
	a->ifs = xrealloc(a->ifs, (a->nifs + 1) * sizeof(*a->ifs));
	struct iface_acc *f = &a->ifs[a->nifs++];
	memset(f, 0, sizeof(*f));
	copy_str(f->name, sizeof(f->name), name);
	f->mtu = f->tx_queue_len = -1;
	return f;
}

static bool name_ok(const char *s)
{
	if (!*s || strlen(s) >= 32 || strchr(s, '/') || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	return true;
}

static void disk_config(struct io_analysis *a, const struct sample *st, const char *name, json_t *dj)
{
	struct disk_acc *d = disk_get(a, name);
	if (!d)
		return;
	char p[160], t[128];
	d->have_config = true;
	snprintf(p, sizeof(p), "sys/block/%s/queue/scheduler", name);
	if (static_text(st, p, t, sizeof(t))) {
		/* "none [mq-deadline] kyber" → the bracketed word; a single word has no brackets */
		char *l = strchr(t, '['), *r = l ? strchr(l, ']') : NULL;
		if (l && r) {
			*r = '\0';
			copy_str(d->scheduler, sizeof(d->scheduler), l + 1);
		} else {
			copy_str(d->scheduler, sizeof(d->scheduler), t);
		}
	}
	snprintf(p, sizeof(p), "sys/block/%s/queue/write_cache", name);
	static_text(st, p, d->write_cache, sizeof(d->write_cache));
	snprintf(p, sizeof(p), "sys/block/%s/queue/nr_requests", name);
	d->nr_requests = static_int(st, p);
	snprintf(p, sizeof(p), "sys/block/%s/queue/rotational", name);
	d->rotational = static_int(st, p);
	snprintf(p, sizeof(p), "sys/block/%s/queue/hw_sector_size", name);
	d->hw_sector = static_int(st, p);
	snprintf(p, sizeof(p), "sys/block/%s/device/model", name);
	static_text(st, p, d->model, sizeof(d->model));
	/* hardware queues: mq/N/cpu_list */
	int nq = 0;
	for (int q = 0; q < 4096; q++) {
		snprintf(p, sizeof(p), "sys/block/%s/mq/%d/cpu_list", name, q);
		char cl[64];
		if (!static_text(st, p, cl, sizeof(cl)))
			break;
		if (q < 8)
			copy_str(d->mq_cpus[q], sizeof(d->mq_cpus[q]), cl);
		nq++;
	}
	d->nr_hw_queues = nq ? nq : -1;
	if (json_is_object(dj)) {
		const char *drv = json_string_value(json_object_get(dj, "driver"));
		if (drv)
			copy_str(d->driver, sizeof(d->driver), drv);
		d->virtio = json_is_true(json_object_get(dj, "virtio"));
	}
}

void cpumask_list_format(const uint64_t mask[16], char *buf, size_t n)
{
	size_t o = 0;
	bool any = false;
	buf[0] = '\0';
	for (int c = 0; c < 1024; c++) {
		if (!(mask[c / 64] >> (c % 64) & 1))
			continue;
		int e = c;
		while (e + 1 < 1024 && (mask[(e + 1) / 64] >> ((e + 1) % 64) & 1))
			e++;
		char part[32];
		if (e == c)
			snprintf(part, sizeof(part), "%s%d", any ? "," : "", c);
		else
			snprintf(part, sizeof(part), "%s%d-%d", any ? "," : "", c, e);
		size_t l = strlen(part);
		if (o + l + 4 > n) {
			snprintf(buf + o, n - o, "...");
			return;
		}
		memcpy(buf + o, part, l + 1);
		o += l;
		any = true;
		c = e;
	}
	if (!any)
		snprintf(buf, n, "none");
}

/* CPUs set in a mask file (-1 absent or unparsable); list gets them as "0-1" / "none" (or "" when -1) */
static int mask_read(const struct sample *st, const char *path, char *list, size_t n)
{
	const struct sfile *f = sample_find(st, path);
	if (list)
		list[0] = '\0';
	if (!f)
		return -1;
	uint64_t m[16];
	int first;
	int c = cpumask_hex_parse(f->data, f->len, m, &first);
	if (c >= 0 && list)
		cpumask_list_format(m, list, n);
	return c;
}

static int mask_count(const struct sample *st, const char *path)
{
	return mask_read(st, path, NULL, 0);
}

static void iface_config(struct io_analysis *a, const struct sample *st, const char *name, json_t *nj)
{
	struct iface_acc *f = iface_get(a, name);
	if (!f)
		return;
	char p[160];
	snprintf(p, sizeof(p), "sys/class/net/%s/mtu", name);
	f->mtu = static_int(st, p);
	snprintf(p, sizeof(p), "sys/class/net/%s/tx_queue_len", name);
	f->tx_queue_len = static_int(st, p);
	for (int q = 0; q < 1024; q++) {
		snprintf(p, sizeof(p), "sys/class/net/%s/queues/rx-%d/rps_cpus", name, q);
		int c = q < IO_MAX_QMASKS ? mask_read(st, p, f->rps_list[q], sizeof(f->rps_list[q])) : mask_count(st, p);
		if (q < IO_MAX_QMASKS)
			f->rps_n[q] = c;
		if (c < 0)
			break;
		f->nrx++;
		if (c > 0)
			f->rps_cpus_set++;
	}
	for (int q = 0; q < 1024; q++) {
		snprintf(p, sizeof(p), "sys/class/net/%s/queues/tx-%d/tx_maxrate", name, q);
		bool exists = sample_find(st, p) != NULL;
		snprintf(p, sizeof(p), "sys/class/net/%s/queues/tx-%d/xps_cpus", name, q);
		int c = q < IO_MAX_QMASKS ? mask_read(st, p, f->xps_list[q], sizeof(f->xps_list[q])) : mask_count(st, p);
		if (q < IO_MAX_QMASKS)
			f->xps_n[q] = c;
		if (c < 0 && !exists)
			break;
		f->ntx++;
		if (c > 0)
			f->xps_queues_set++;
	}
	if (json_is_object(nj)) {
		const char *drv = json_string_value(json_object_get(nj, "driver"));
		const char *dev = json_string_value(json_object_get(nj, "device"));
		if (drv)
			copy_str(f->driver, sizeof(f->driver), drv);
		if (dev)
			copy_str(f->device, sizeof(f->device), dev);
		f->virtio = json_is_true(json_object_get(nj, "virtio"));
	}
}

static void load_statics(struct io_analysis *a, const struct sample *st)
{
	a->statics_done = true;
	if (!st)
		return;
	json_t *devs = NULL;
	const struct sfile *f = sample_find(st, ".hiddenq/devices.json");
	if (f)
		devs = json_loadb(f->data, f->len, JSON_REJECT_DUPLICATES, NULL);
	json_t *blk = json_object_get(devs, "block"), *net = json_object_get(devs, "net");
	json_t *vio = json_object_get(devs, "virtio");
	const char *k;
	json_t *v;
	if (json_is_object(blk)) {
		json_object_foreach(blk, k, v) {
			if (!name_ok(k) || a->nwhole >= IO_MAX_DISKS)
				continue;
			a->whole = xrealloc(a->whole, (a->nwhole + 1) * sizeof(*a->whole));
			a->whole[a->nwhole++] = xstrdup(k);
			disk_config(a, st, k, v);
		}
	} else {
		/* a bundle without devices.json: whole disks are the ones with a queue/ */
		for (size_t i = 0; i < st->nfiles && a->nwhole < IO_MAX_DISKS; i++) {
			const char *p = st->files[i].path;
			char nm[64];
			if (strncmp(p, "sys/block/", 10) != 0)
				continue;
			const char *e = strchr(p + 10, '/');
			if (!e || strcmp(e, "/queue/scheduler") != 0 || (size_t)(e - (p + 10)) >= 32)
				continue;
			memcpy(nm, p + 10, (size_t)(e - (p + 10)));
			nm[e - (p + 10)] = '\0';
			if (!name_ok(nm))
				continue;
			a->whole = xrealloc(a->whole, (a->nwhole + 1) * sizeof(*a->whole));
			a->whole[a->nwhole++] = xstrdup(nm);
			disk_config(a, st, nm, NULL);
		}
	}
	if (json_is_object(net)) {
		json_object_foreach(net, k, v) {
			if (name_ok(k))
				iface_config(a, st, k, v);
		}
	}
	if (json_is_object(vio)) {
		json_object_foreach(vio, k, v) {
			unsigned n;
			char tail;
			if (sscanf(k, "virtio%u%c", &n, &tail) == 1 && n < ARRAY_SIZE(a->virtio_drv) &&
			    json_is_string(v))
				copy_str(a->virtio_drv[n], sizeof(a->virtio_drv[n]), json_string_value(v));
		}
	}
	json_decref(devs);
}

/* ------------------------------------------------------------------ */
/* hot files                                                           */
/* ------------------------------------------------------------------ */

static void feed_diskstats(struct io_analysis *a, const struct sample *s)
{
	const struct sfile *f = sample_find(s, "proc/diskstats");
	if (!f)
		return;
	struct diskstats ds;
	if (diskstats_parse(f->data, f->len, &ds) < 0) {
		a->diskstats_bad++;
		return;
	}
	a->diskstats_seen = true;
	for (size_t i = 0; i < a->ndisks; i++)
		a->disks[i].seen_now = false;
	const char *const *whole = (const char *const *)a->whole;
	for (size_t i = 0; i < ds.n; i++) {
		const struct disk_stat *cur = &ds.v[i];
		if (!name_ok(cur->name) || disk_name_is_partition(cur->name, whole, a->nwhole))
			continue;
		struct disk_acc *d = disk_get(a, cur->name);
		if (!d || d->seen_now)
			continue;
		d->seen_now = true;
		if (d->have_prev && s->mono_ns > d->prev_ns) {
			uint64_t dd[DS_N];
			if (disk_delta(&d->prev, cur, dd)) {
				for (int k = 0; k < DS_N; k++) {
					if (k == DS_IN_FLIGHT)
						d->d[k] = dd[k] > d->d[k] ? dd[k] : d->d[k];
					else
						d->d[k] += dd[k];
				}
				d->span_ns += s->mono_ns - d->prev_ns;
				d->intervals++;
				uint64_t ios = dd[DS_RD_IOS] + dd[DS_WR_IOS];
				if (ios >= 10) {
					double aw = (double)(dd[DS_RD_MS] + dd[DS_WR_MS]) / (double)ios;
					if (aw > d->worst_await_ms)
						d->worst_await_ms = aw;
				}
			} else {
				d->resets++;
			}
		}
		d->prev = *cur;
		d->prev_ns = s->mono_ns;
		d->have_prev = true;
	}
	/* a device that disappeared starts afresh when it comes back */
	for (size_t i = 0; i < a->ndisks; i++)
		if (!a->disks[i].seen_now)
			a->disks[i].have_prev = false;
	diskstats_done(&ds);
}

static void feed_psi_io(struct io_analysis *a, const struct sample *s)
{
	const struct sfile *f = sample_find(s, "proc/pressure/io");
	struct psi p;
	if (!f || psi_parse(f->data, f->len, &p) < 0 || !p.has_some)
		return;
	a->psi_io_seen = true;
	if (a->psi_have_prev && s->mono_ns > a->psi_prev_ns && p.some.total_us >= a->psi_prev_some) {
		a->psi_some_us += p.some.total_us - a->psi_prev_some;
		if (p.has_full && p.full.total_us >= a->psi_prev_full)
			a->psi_full_us += p.full.total_us - a->psi_prev_full;
		a->psi_span_ns += s->mono_ns - a->psi_prev_ns;
	}
	a->psi_prev_some = p.some.total_us;
	a->psi_prev_full = p.has_full ? p.full.total_us : 0;
	a->psi_prev_ns = s->mono_ns;
	a->psi_have_prev = true;
}

static void feed_netdev(struct io_analysis *a, const struct sample *s)
{
	const struct sfile *f = sample_find(s, "proc/net/dev");
	struct netdevs nd;
	if (!f || netdev_parse(f->data, f->len, &nd) < 0)
		return;
	a->netdev_seen = true;
	for (size_t i = 0; i < a->nifs; i++)
		a->ifs[i].seen_now = false;
	for (size_t i = 0; i < nd.n; i++) {
		const struct netdev_stat *cur = &nd.v[i];
		if (!name_ok(cur->name))
			continue;
		struct iface_acc *x = iface_get(a, cur->name);
		if (!x || x->seen_now)
			continue;
		x->seen_now = true;
		if (x->have_prev && s->mono_ns > x->prev_ns) {
			for (int k = 0; k < ND_N; k++)
				if (cur->f[k] >= x->prev.f[k])
					x->d[k] += cur->f[k] - x->prev.f[k];
			x->span_ns += s->mono_ns - x->prev_ns;
		}
		x->prev = *cur;
		x->prev_ns = s->mono_ns;
		x->have_prev = true;
	}
	for (size_t i = 0; i < a->nifs; i++)
		if (!a->ifs[i].seen_now)
			a->ifs[i].have_prev = false;
	netdevs_done(&nd);
}

static void feed_softnet(struct io_analysis *a, const struct sample *s)
{
	const struct sfile *f = sample_find(s, "proc/net/softnet_stat");
	struct softnet sn;
	if (!f || softnet_parse(f->data, f->len, &sn) < 0)
		return;
	a->softnet_seen = true;
	for (size_t i = 0; i < sn.n; i++) {
		const struct softnet_cpu *c = &sn.v[i];
		if (c->cpu < 0 || c->cpu >= IO_MAX_CPUS)
			continue;
		a->softnet_cols = c->ncols;
		struct softnet_acc *x = NULL;
		for (size_t k = 0; k < a->nsn; k++)
			if (a->sn[k].cpu == c->cpu)
				x = &a->sn[k];
		if (!x) {
			a->sn = xrealloc(a->sn, (a->nsn + 1) * sizeof(*a->sn));
			x = &a->sn[a->nsn++];
			memset(x, 0, sizeof(*x));
			x->cpu = c->cpu;
		}
		if (x->have_prev) {
			x->processed += u32_delta(x->prev.processed, c->processed);
			x->dropped += u32_delta(x->prev.dropped, c->dropped);
			x->squeezed += u32_delta(x->prev.time_squeeze, c->time_squeeze);
		}
		x->prev = *c;
		x->have_prev = true;
		x->ncols = c->ncols;
	}
	softnet_done(&sn);
}

/* ------------------------------------------------------------------ */
/* JSON sources                                                        */
/* ------------------------------------------------------------------ */

static uint64_t ju(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return 0;
	return (uint64_t)json_integer_value(v);
}

static void jstr(const json_t *o, const char *k, char *dst, size_t n)
{
	const char *v = json_string_value(json_object_get(o, k));
	copy_str(dst, n, v ? v : "");
}

static json_t *load_doc(const char *buf, size_t len)
{
	return json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
}

static void doc_error(const json_t *j, char *err, size_t errlen)
{
	const char *m = json_string_value(json_object_get(j, "error"));
	if (err && errlen)
		copy_str(err, errlen, m ? m : "not the expected JSON shape");
}

int qdisc_json_parse(const char *buf, size_t len, struct qdisc_rec **out, size_t *n, char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	json_t *j = load_doc(buf, len);
	if (!json_is_array(j)) {
		doc_error(j, err, errlen);
		json_decref(j);
		return j ? -ENODATA : -EINVAL;
	}
	size_t cnt = json_array_size(j);
	if (cnt > IO_MAX_QDISCS)
		cnt = IO_MAX_QDISCS;
	*out = xcalloc(cnt + 1, sizeof(**out));
	for (size_t i = 0; i < cnt; i++) {
		json_t *o = json_array_get(j, i);
		if (!json_is_object(o))
			continue;
		struct qdisc_rec *r = &(*out)[(*n)++];
		json_t *ix = json_object_get(o, "ifindex");
		r->ifindex = json_is_integer(ix) && json_integer_value(ix) >= 0 && json_integer_value(ix) <= INT32_MAX
				     ? (int)json_integer_value(ix) : -1;
		jstr(o, "ifname", r->ifname, sizeof(r->ifname));
		jstr(o, "kind", r->kind, sizeof(r->kind));
		jstr(o, "handle", r->handle, sizeof(r->handle));
		jstr(o, "parent", r->parent, sizeof(r->parent));
		r->c[QD_BYTES] = ju(o, "bytes");
		r->c[QD_PACKETS] = ju(o, "packets");
		r->c[QD_DROPS] = ju(o, "drops");
		r->c[QD_REQUEUES] = ju(o, "requeues");
		r->c[QD_OVERLIMITS] = ju(o, "overlimits");
		r->qlen = ju(o, "qlen");
		r->backlog = ju(o, "backlog");
	}
	json_decref(j);
	return 0;
}

/* "8001:1" → major 0x8001, minor 1; "root" and "ingress" → false */
static bool handle_parse(const char *h, unsigned *maj, unsigned *min)
{
	unsigned a, b;
	char tail;
	if (sscanf(h, "%x:%x%c", &a, &b, &tail) != 2)
		return false;
	*maj = a;
	*min = b;
	return true;
}

void qdisc_mark_parents(struct qdisc_acc *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		q[i].is_parent = false;
		q[i].txq = -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned hmaj, hmin;
		if (!handle_parse(q[i].last.handle, &hmaj, &hmin))
			continue;
		for (size_t k = 0; k < n; k++) {
			unsigned pmaj, pmin;
			if (k == i || q[k].last.ifindex != q[i].last.ifindex ||
			    !handle_parse(q[k].last.parent, &pmaj, &pmin) || pmaj != hmaj)
				continue;
			/* a classless default child of a root shares handle 0: not a child */
			if (hmaj == 0 && strcmp(q[i].last.parent, "root") != 0)
				continue;
			q[i].is_parent = true;
			const char *kind = q[i].last.kind;
			if ((strcmp(kind, "mq") == 0 || strcmp(kind, "mqprio") == 0 || strcmp(kind, "taprio") == 0) &&
			    pmin >= 1)
				q[k].txq = (int)pmin - 1;
		}
	}
}

static void feed_qdisc(struct io_analysis *a, const struct sample *s)
{
	const struct sfile *f = sample_find(s, ".hiddenq/qdisc.json");
	if (!f)
		return;
	struct qdisc_rec *v;
	size_t n;
	if (qdisc_json_parse(f->data, f->len, &v, &n, a->qdisc_error, sizeof(a->qdisc_error)) < 0)
		return;
	a->qdisc_seen = true;
	for (size_t i = 0; i < a->nqd; i++)
		a->qd[i].seen_now = false;
	for (size_t i = 0; i < n; i++) {
		const struct qdisc_rec *r = &v[i];
		struct qdisc_acc *x = NULL;
		for (size_t k = 0; k < a->nqd && !x; k++) {
			const struct qdisc_rec *l = &a->qd[k].last;
			if (l->ifindex == r->ifindex && strcmp(l->handle, r->handle) == 0 &&
			    strcmp(l->parent, r->parent) == 0 && strcmp(l->kind, r->kind) == 0 && !a->qd[k].seen_now)
				x = &a->qd[k];
		}
		if (!x) {
			if (a->nqd >= IO_MAX_QDISCS)
				continue;
			a->qd = xrealloc(a->qd, (a->nqd + 1) * sizeof(*a->qd));
			x = &a->qd[a->nqd++];
			memset(x, 0, sizeof(*x));
			memcpy(x->prev, r->c, sizeof(x->prev));
		}
		for (int c = 0; c < QD_NCTR; c++) {
			if (r->c[c] >= x->prev[c])
				x->d[c] += r->c[c] - x->prev[c];
			x->prev[c] = r->c[c];
		}
		if (r->qlen > x->qlen_max)
			x->qlen_max = r->qlen;
		if (r->backlog > x->backlog_max)
			x->backlog_max = r->backlog;
		x->last = *r;
		x->seen_now = true;
	}
	free(v);
	qdisc_mark_parents(a->qd, a->nqd);
}

static int cmp_stat(const void *x, const void *y)
{
	return strcmp(((const struct eth_stat *)x)->name, ((const struct eth_stat *)y)->name);
}

void eth_doc_done(struct eth_doc *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].st);
	free(d->v);
	memset(d, 0, sizeof(*d));
}

static int jint(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65536)
		return -1;
	return (int)json_integer_value(v);
}

int eth_json_parse(const char *buf, size_t len, struct eth_doc *out)
{
	memset(out, 0, sizeof(*out));
	json_t *j = load_doc(buf, len);
	if (!json_is_object(j)) {
		json_decref(j);
		return -EINVAL;
	}
	const char *k;
	json_t *o;
	out->v = xcalloc(IO_MAX_IFACES, sizeof(*out->v));
	const char *derr = json_string_value(json_object_get(j, "error"));
	if (derr)
		copy_str(out->error, sizeof(out->error), derr);
	json_object_foreach(j, k, o) {
		if (!json_is_object(o) || !name_ok(k) || out->n >= IO_MAX_IFACES)
			continue;
		const char *ie = json_string_value(json_object_get(o, "stats_error"));
		if (!ie)
			ie = json_string_value(json_object_get(o, "channels_error"));
		if (ie && !out->iface_error[0])
			snprintf(out->iface_error, sizeof(out->iface_error), "%.31s: %.60s", k, ie);
		if (json_is_object(json_object_get(o, "stats")))
			out->n_stats++;
		struct eth_iface *e = &out->v[out->n++];
		copy_str(e->name, sizeof(e->name), k);
		jstr(o, "driver", e->driver, sizeof(e->driver));
		json_t *ch = json_object_get(o, "channels");
		e->combined = jint(ch, "combined_count");
		e->rx = jint(ch, "rx_count");
		e->tx = jint(ch, "tx_count");
		e->max_combined = jint(ch, "max_combined");
		json_t *st = json_object_get(o, "stats");
		if (!json_is_object(st))
			continue;
		size_t n = json_object_size(st);
		if (n > 65536)
			n = 65536;
		e->st = xcalloc(n + 1, sizeof(*e->st));
		const char *sk;
		json_t *sv;
		json_object_foreach(st, sk, sv) {
			if (e->nst >= n || !json_is_integer(sv) || json_integer_value(sv) < 0 ||
			    strlen(sk) >= sizeof(e->st[0].name))
				continue;
			copy_str(e->st[e->nst].name, sizeof(e->st[0].name), sk);
			e->st[e->nst].v = (uint64_t)json_integer_value(sv);
			e->nst++;
		}
		qsort(e->st, e->nst, sizeof(*e->st), cmp_stat);
	}
	json_decref(j);
	return 0;
}

const struct eth_iface *eth_doc_find(const struct eth_doc *d, const char *ifname)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i].name, ifname) == 0)
			return &d->v[i];
	return NULL;
}

bool eth_stat_get(const struct eth_iface *e, const char *name, uint64_t *v)
{
	struct eth_stat key;
	if (!e || strlen(name) >= sizeof(key.name))
		return false;
	copy_str(key.name, sizeof(key.name), name);
	const struct eth_stat *r = e->nst ? bsearch(&key, e->st, e->nst, sizeof(*e->st), cmp_stat) : NULL;
	if (!r)
		return false;
	*v = r->v;
	return true;
}

bool eth_queue_name(const char *name, bool *tx, unsigned *queue, char *field, size_t flen)
{
	const char *p;
	if (strncmp(name, "rx", 2) == 0)
		*tx = false;
	else if (strncmp(name, "tx", 2) == 0)
		*tx = true;
	else
		return false;
	p = name + 2;
	if (strncmp(p, "_queue_", 7) == 0)
		p += 7;
	if (*p < '0' || *p > '9')
		return false;
	unsigned q = 0;
	while (*p >= '0' && *p <= '9') {
		q = q * 10 + (unsigned)(*p - '0');
		if (q > 65535)
			return false;
		p++;
	}
	if (*p != '_' || !p[1])
		return false;
	*queue = q;
	copy_str(field, flen, p + 1);
	return true;
}

bool eth_queue_field_is_drop(const char *field)
{
	return strcmp(field, "drops") == 0 || strcmp(field, "xdp_drops") == 0 || strcmp(field, "xdp_tx_drops") == 0;
}

static void feed_ethtool(struct io_analysis *a, const struct sample *s)
{
	const struct sfile *f = sample_find(s, ".hiddenq/ethtool.json");
	struct eth_doc d;
	if (!f || eth_json_parse(f->data, f->len, &d) < 0)
		return;
	a->eth_read = true;
	copy_str(a->eth_error, sizeof(a->eth_error), d.error);
	copy_str(a->eth_iface_error, sizeof(a->eth_iface_error), d.iface_error);
	a->eth_n_stats = d.n_stats;
	if (!a->eth_seen) {
		a->eth_first = d;
		a->eth_first_ns = s->mono_ns;
		a->eth_seen = true;
		/* the last document starts as a copy of the first */
		eth_json_parse(f->data, f->len, &a->eth_last);
	} else {
		eth_doc_done(&a->eth_last);
		a->eth_last = d;
	}
	a->eth_last_ns = s->mono_ns;
}

int qstats_json_parse(const char *buf, size_t len, struct qstat_rec **out, size_t *n, char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	json_t *j = load_doc(buf, len);
	if (!json_is_array(j)) {
		doc_error(j, err, errlen);
		json_decref(j);
		return j ? -ENODATA : -EINVAL;
	}
	size_t cnt = json_array_size(j);
	if (cnt > 4096)
		cnt = 4096;
	*out = xcalloc(cnt + 1, sizeof(**out));
	for (size_t i = 0; i < cnt; i++) {
		json_t *o = json_array_get(j, i);
		const char *type = json_string_value(json_object_get(o, "type"));
		json_t *q = json_object_get(o, "queue");
		if (!type || !json_is_integer(q) || json_integer_value(q) < 0 || json_integer_value(q) > 65535)
			continue;
		struct qstat_rec *r = &(*out)[(*n)++];
		jstr(o, "ifname", r->ifname, sizeof(r->ifname));
		r->tx = strcmp(type, "tx") == 0;
		r->queue = (int)json_integer_value(q);
		r->packets = ju(o, r->tx ? "tx-packets" : "rx-packets");
		r->bytes = ju(o, r->tx ? "tx-bytes" : "rx-bytes");
		r->drops = ju(o, r->tx ? "tx-hw-drops" : "rx-hw-drops") + (r->tx ? 0 : ju(o, "rx-alloc-fail"));
		r->stops = ju(o, "tx-stop");
	}
	json_decref(j);
	return 0;
}

static void feed_qstats(struct io_analysis *a, const struct sample *s)
{
	const struct sfile *f = sample_find(s, ".hiddenq/qstats.json");
	struct qstat_rec *v;
	size_t n;
	if (!f || qstats_json_parse(f->data, f->len, &v, &n, a->qstats_error, sizeof(a->qstats_error)) < 0)
		return;
	if (!a->qstats_seen) {
		a->qs_first = v;
		a->nqs_first = n;
		a->qs_first_ns = s->mono_ns;
		a->qstats_seen = true;
		a->qs_last = xcalloc(n + 1, sizeof(*v));
		memcpy(a->qs_last, v, n * sizeof(*v));
		a->nqs_last = n;
	} else {
		free(a->qs_last);
		a->qs_last = v;
		a->nqs_last = n;
	}
	a->qs_last_ns = s->mono_ns;
}

static void feed_table(const struct sample *s, const char *path, struct pcpu_table *first, struct pcpu_table *last,
		       bool *hf, bool *hl, uint64_t *first_ns, uint64_t *last_ns)
{
	const struct sfile *f = sample_find(s, path);
	struct pcpu_table t;
	if (!f || pcpu_table_parse(f->data, f->len, &t) < 0)
		return;
	if (!*hf) {
		*first = t;
		*hf = true;
		if (first_ns)
			*first_ns = s->mono_ns;
		return;
	}
	pcpu_table_done(last);
	*last = t;
	*hl = true;
	if (last_ns)
		*last_ns = s->mono_ns;
}

static void feed_snmp(struct io_analysis *a, const struct sample *s)
{
	const struct sfile *sn = sample_find(s, "proc/net/snmp"), *ns = sample_find(s, "proc/net/netstat");
	const struct sfile *s6 = sample_find(s, "proc/net/snmp6");
	if (!sn && !ns && !s6)
		return;
	int64_t v[SN_N];
	bool found[SN_N];
	memset(v, 0, sizeof(v));
	memset(found, 0, sizeof(found));
	static const char *const tcp[] = { "OutSegs", "RetransSegs", "InErrs" };
	static const char *const udp[] = { "InDatagrams", "InErrors", "RcvbufErrors", "SndbufErrors", "NoPorts" };
	static const char *const ext[] = { "TCPTimeouts", "TCPLostRetransmit", "TCPSynRetrans", "ListenDrops",
					   "TCPBacklogDrop" };
	if (sn) {
		snmp_pairs_extract(sn->data, sn->len, "Tcp", tcp, 3, &v[SN_TCP_OUTSEGS], &found[SN_TCP_OUTSEGS]);
		snmp_pairs_extract(sn->data, sn->len, "Udp", udp, 5, &v[SN_UDP_INDGRAMS], &found[SN_UDP_INDGRAMS]);
	}
	if (ns)
		snmp_pairs_extract(ns->data, ns->len, "TcpExt", ext, 5, &v[SN_TCPEXT_TIMEOUTS],
				   &found[SN_TCPEXT_TIMEOUTS]);
	if (s6) {
		/* "Udp6RcvbufErrors   0" lines: name/value */
		uint64_t u[3];
		bool fu[3];
		static const char *const sorted[] = { "Udp6InErrors", "Udp6RcvbufErrors", "Udp6SndbufErrors" };
		if (kv_extract(s6->data, s6->len, sorted, 3, u, fu) > 0) {
			v[SN_UDP6_INERRS] = (int64_t)(u[0] & INT64_MAX);
			found[SN_UDP6_INERRS] = fu[0];
			v[SN_UDP6_RCVBUF] = (int64_t)(u[1] & INT64_MAX);
			found[SN_UDP6_RCVBUF] = fu[1];
			v[SN_UDP6_SNDBUF] = (int64_t)(u[2] & INT64_MAX);
			found[SN_UDP6_SNDBUF] = fu[2];
		}
	}
	if (!a->snmp_have_first) {
		memcpy(a->snmp_first, v, sizeof(v));
		a->snmp_first_ns = s->mono_ns;
		a->snmp_have_first = true;
	}
	memcpy(a->snmp_last, v, sizeof(v));
	memcpy(a->snmp_found, found, sizeof(found));
	a->snmp_last_ns = s->mono_ns;
}

void io_feed(struct io_analysis *a, const struct sample *s, const struct sample *statics)
{
	if (!a->statics_done)
		load_statics(a, statics);
	if (!a->first_ns)
		a->first_ns = s->mono_ns;
	a->last_ns = s->mono_ns;
	feed_diskstats(a, s);
	feed_psi_io(a, s);
	feed_netdev(a, s);
	feed_softnet(a, s);
	feed_qdisc(a, s);
	feed_ethtool(a, s);
	feed_qstats(a, s);
	feed_table(s, "proc/interrupts", &a->irq_first, &a->irq_last, &a->irq_have_first, &a->irq_have_last,
		   &a->irq_first_ns, &a->irq_last_ns);
	feed_table(s, "proc/softirqs", &a->sirq_first, &a->sirq_last, &a->sirq_have_first, &a->sirq_have_last,
		   &a->sirq_first_ns, &a->sirq_last_ns);
	feed_snmp(a, s);
}

size_t io_softirq_rates(const struct io_analysis *a, const char *label, int *cpus, double *per_s, size_t max)
{
	if (!a->sirq_have_first || !a->sirq_have_last || a->sirq_last_ns <= a->sirq_first_ns)
		return 0;
	const struct pcpu_row *l = pcpu_table_find(&a->sirq_last, label);
	const struct pcpu_row *o = pcpu_table_find(&a->sirq_first, label);
	if (!l || !o)
		return 0;
	double secs = (double)(a->sirq_last_ns - a->sirq_first_ns) / 1e9;
	size_t n = 0;
	for (size_t c = 0; c < a->sirq_last.ncpus && n < max; c++) {
		int cpu = a->sirq_last.cpu[c];
		int oc = pcpu_table_col(&a->sirq_first, cpu);
		if (oc < 0 || (size_t)oc >= a->sirq_first.ncpus)
			continue;
		uint64_t now = l->count[c], was = o->count[oc];
		cpus[n] = cpu;
		per_s[n] = now >= was ? (double)(now - was) / secs : 0;
		n++;
	}
	return n;
}

/* ---------------- the IO scheduler a device should have ---------------- */

const char *io_sched_kind(const char *dev, bool virtio, int rotational)
{
	if (virtio || !strncmp(dev, "vd", 2))
		return "virtio";
	if (!strncmp(dev, "nvme", 4))
		return "nvme";
	return rotational == 1 ? "rotational" : "ssd";
}

enum io_sched_fit io_sched_judge(const char *kind, const char *sched, const char **want, const char **why)
{
	bool none = !strcmp(sched, "none"), dl = !strcmp(sched, "mq-deadline"), bfq = !strcmp(sched, "bfq");
	if (!strcmp(kind, "virtio")) {
		*want = "none (mq-deadline is fine too)";
		if (none) {
			*why = "the host schedules these requests again: the guest adds no queue of its own";
			return IO_SCHED_BEST;
		}
		if (dl) {
			*why = "the host schedules these requests again; mq-deadline adds a short queue in the guest "
			       "that seldom matters, and none skips it when the guest's own queue holds the time";
			return IO_SCHED_FINE;
		}
		*why = "the host schedules these requests again, and this scheduler holds and reorders them in the "
		       "guest first: a second queue for nothing";
		return IO_SCHED_POOR;
	}
	if (!strcmp(kind, "nvme")) {
		*want = "none";
		*why = none ? "an NVMe device orders its own queues" : "an NVMe device orders its own queues: a "
								       "scheduler in front of it only adds a queue";
		return none ? IO_SCHED_BEST : IO_SCHED_POOR;
	}
	if (!strcmp(kind, "rotational")) {
		*want = "mq-deadline (or bfq)";
		*why = dl || bfq ? "a disk with a head gains from requests sorted and merged"
				 : "a disk with a head gains from requests sorted and merged, which this one does not do";
		return dl || bfq ? IO_SCHED_BEST : IO_SCHED_POOR;
	}
	*want = "mq-deadline or none";
	*why = dl || none ? "an SSD needs no sorting; mq-deadline bounds waiting, none adds nothing"
			  : "an SSD needs no sorting: this scheduler adds work and a queue";
	return dl || none ? IO_SCHED_BEST : IO_SCHED_POOR;
}
