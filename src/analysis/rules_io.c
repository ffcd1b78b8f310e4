/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * virtqueue-saturation (failure mode 4): every queue on the guest's packet
 * path — qdiscs (per TX queue under mq), the driver's rings (requeues, per
 * queue drops), the softnet backlog per CPU, and the vCPU that takes each
 * queue's interrupt — with the queue that dropped or held named in the
 * evidence.
 *
 * io-layer-latency (failure mode 5): where an IO's time goes — above the
 * block layer (tasks stall on IO while no device has requests to show for
 * it: cgroup throttling, filesystem), in the guest's queue (scheduler), or
 * below the guest (virtio, the host's IO path, the device).  The spread
 * p99/p50 needs the eBPF histograms; diskstats only has averages.
 */
#include "rules_io.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "bpfhist.h"
#include "io.h"

#define TH(t) (thresholds[t])

static bool ge(double v, int t, bool crit)
{
	double lim = crit ? TH(t).crit : TH(t).warn;
	return lim >= 0 && v >= lim;
}

static enum severity sev_of(double v, int t)
{
	return ge(v, t, true) ? SEV_CRIT : ge(v, t, false) ? SEV_WARN : SEV_OK;
}

static enum severity smax(enum severity a, enum severity b)
{
	if (a == SEV_UNKNOWN)
		return b;
	if (b == SEV_UNKNOWN)
		return a;
	return a > b ? a : b;
}

/* evidence about one device or interface (label l) and, if queue, one of its queues */
static struct evidence *ev_on(struct finding *f, enum metric_id m, double v, int t, enum label_id l, const char *name,
			      const char *queue)
{
	struct evidence *e = ev_label(finding_ev(f, m, v, t), l, "%s", name);
	return queue ? ev_label(e, LBL_QUEUE, "%s", queue) : e;
}

/* a growing text buffer for the explanations */
struct sbuf {
	char *s;
	size_t n;
};

static void sb_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *t = xvasprintf(fmt, ap);
	va_end(ap);
	size_t l = strlen(t);
	b->s = xrealloc(b->s, b->n + l + 2);
	if (b->n)
		b->s[b->n++] = ' ';
	memcpy(b->s + b->n, t, l + 1);
	b->n += l;
	free(t);
}

/* 0 when not known (no usable /proc/stat and no recorded topology) */
static unsigned vcpus_of(const struct analysis *an)
{
	return analysis_vcpus(an);
}

/* ------------------------------------------------------------------ */
/* virtqueue-saturation                                                */
/* ------------------------------------------------------------------ */

enum qkind { QK_QDISC, QK_RING, QK_SOFTNET, QK_IFACE, QK_SOCKET };

struct worst {
	double rate, count;
	enum qkind kind;
	char where[128];
	bool tx;
};

static void consider(struct worst *w, double count, double secs, enum qkind kind, bool tx, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static void consider(struct worst *w, double count, double secs, enum qkind kind, bool tx, const char *fmt, ...)
{
	if (count <= 0 || secs <= 0 || count / secs <= w->rate)
		return;
	w->rate = count / secs;
	w->count = count;
	w->kind = kind;
	w->tx = tx;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->where, sizeof(w->where), fmt, ap);
	va_end(ap);
}

static const char *ifname_of_qdisc(const struct qdisc_rec *r, char *buf, size_t n)
{
	if (r->ifname[0])
		return r->ifname;
	snprintf(buf, n, "ifindex %d", r->ifindex);
	return buf;
}

struct irq_q {
	char subject[128];	/* "eth0 rx-0 (virtio1-input.0)": its labels rendered */
	char ifname[32], queue[16], vq[48];
	int cpu;		/* CPU that took most of the queue's interrupts */
	double share;		/* its share of them, % */
	double per_s;
};

/* evidence about one leaf qdisc: interface, TX queue (under an mq root), kind and handle, parent */
static void ev_qdisc(struct finding *f, enum metric_id m, double v, int t, const struct qdisc_acc *q, const char *ifn,
		     const char *txq)
{
	struct evidence *e = ev_on(f, m, v, t, LBL_INTERFACE, ifn, txq[0] ? txq : NULL);
	ev_label(e, LBL_QDISC, "%s %s", q->last.kind, q->last.handle);
	if (!txq[0])
		ev_label(e, LBL_PARENT, "%s", q->last.parent);
}

/* Per-queue virtio-net interrupts: which CPU takes each queue's vector. */
static size_t virtio_net_irqs(const struct analysis *an, struct irq_q *out, size_t max, bool *shared)
{
	const struct io_analysis *io = &an->io;
	*shared = false;
	if (!io->irq_have_first || !io->irq_have_last)
		return 0;
	double secs = (double)(io->irq_last_ns - io->irq_first_ns) / 1e9;
	size_t n = 0;
	for (size_t r = 0; r < io->irq_last.nrows && n < max; r++) {
		const struct pcpu_row *row = &io->irq_last.rows[r];
		struct virtio_irq vi;
		virtio_irq_classify(row->action, &vi);
		if (vi.kind == VIRQ_NONE || vi.dev < 0)
			continue;
		/* which interface is virtioN? */
		const char *ifn = NULL;
		for (size_t i = 0; i < io->nifs; i++) {
			char want[32];
			snprintf(want, sizeof(want), "virtio%d", vi.dev);
			if (strcmp(io->ifs[i].device, want) == 0)
				ifn = io->ifs[i].name;
		}
		bool net = ifn || (vi.dev < 64 && strcmp(io->virtio_drv[vi.dev], "virtio_net") == 0);
		if (!net)
			continue;
		if (vi.kind == VIRQ_SHARED || vi.kind == VIRQ_INTX) {
			*shared = true;
			continue;
		}
		if (vi.kind != VIRQ_NET_RX && vi.kind != VIRQ_NET_TX)
			continue;
		const struct pcpu_row *old = pcpu_table_find(&io->irq_first, row->label);
		uint64_t tot = 0, best = 0;
		int bcpu = -1;
		for (size_t c = 0; c < io->irq_last.ncpus; c++) {
			int cpu = io->irq_last.cpu[c];
			int oc = old ? pcpu_table_col(&io->irq_first, cpu) : -1;
			uint64_t was = oc >= 0 && (size_t)oc < io->irq_first.ncpus ? old->count[oc] : 0;
			uint64_t now = c < io->irq_last.ncpus ? row->count[c] : 0;
			uint64_t d = now >= was ? now - was : 0;
			tot += d;
			if (d > best) {
				best = d;
				bcpu = cpu;
			}
		}
		struct irq_q *q = &out[n++];
		snprintf(q->ifname, sizeof(q->ifname), "%s", ifn ? ifn : "virtio-net");
		snprintf(q->queue, sizeof(q->queue), "%s-%d", vi.kind == VIRQ_NET_RX ? "rx" : "tx", vi.queue);
		snprintf(q->vq, sizeof(q->vq), "virtio%d-%s", vi.dev, vi.vq);
		snprintf(q->subject, sizeof(q->subject), "%s %s (%s)", q->ifname, q->queue, q->vq);
		q->cpu = bcpu;
		q->share = tot ? 100.0 * (double)best / (double)tot : 0;
		q->per_s = secs > 0 ? (double)tot / secs : 0;
	}
	return n;
}

void rule_virtqueue(const struct analysis *an, struct finding *f)
{
	const struct io_analysis *io = &an->io;
	double secs = io_watch_s(io);
	if (!io->netdev_seen && !io->softnet_seen && !io->qdisc_seen) {
		finding_set(f, SEV_UNKNOWN, "no network counters were read (/proc/net/dev, softnet_stat, qdiscs)");
		finding_explain(f, "The guest's packet queues are read from /proc/net and rtnetlink; none was readable "
				   "in this watch (or the bundle was captured without them).");
		finding_next(f, "capture live as root: hiddenq diagnose");
		return;
	}
	if (secs < 1) {
		finding_set(f, SEV_UNKNOWN, "watched %.1f s: too short to judge packet queues", secs);
		return;
	}
	enum severity sev = SEV_OK;
	struct worst w = { 0 };
	char ib[32];
	double requeue_worst = 0, squeeze_worst = 0;
	char requeue_where[128] = "", squeeze_where[64] = "";

	/* 1. qdiscs: leaves only (an mq root is the sum of its children) */
	unsigned nleaves = 0, nparents = 0;
	for (size_t i = 0; i < io->nqd; i++) {
		const struct qdisc_acc *q = &io->qd[i];
		if (q->is_parent) {
			nparents++;
			continue;
		}
		if (strcmp(q->last.kind, "noqueue") == 0)
			continue;
		nleaves++;
		char subj[128], txq[16] = "";
		const char *ifn = ifname_of_qdisc(&q->last, ib, sizeof(ib));
		if (q->txq >= 0) {
			snprintf(txq, sizeof(txq), "tx-%d", q->txq);
			snprintf(subj, sizeof(subj), "%s tx-%d qdisc %s %s", ifn, q->txq, q->last.kind, q->last.handle);
		} else {
			snprintf(subj, sizeof(subj), "%s qdisc %s %s (parent %s)", ifn, q->last.kind, q->last.handle,
				 q->last.parent);
		}
		double drops = (double)q->d[QD_DROPS], rq = (double)q->d[QD_REQUEUES];
		consider(&w, drops, secs, QK_QDISC, true, "%s", subj);
		if (drops > 0 || q->backlog_max > 0 || rq > 0 || q->d[QD_OVERLIMITS] > 0) {
			ev_qdisc(f, M_QDISC_DROPS_PER_S, drops / secs, T_NET_DROPS, q, ifn, txq);
			ev_qdisc(f, M_QDISC_DROPS, drops, -1, q, ifn, txq);
			ev_qdisc(f, M_QDISC_BACKLOG_MAX, (double)q->backlog_max, -1, q, ifn, txq);
			ev_qdisc(f, M_QDISC_QLEN_MAX, (double)q->qlen_max, -1, q, ifn, txq);
			ev_qdisc(f, M_QDISC_REQUEUES_PER_S, rq / secs, T_QDISC_REQUEUES, q, ifn, txq);
			ev_qdisc(f, M_QDISC_OVERLIMITS_PER_S, (double)q->d[QD_OVERLIMITS] / secs, -1, q, ifn, txq);
			ev_qdisc(f, M_QDISC_PACKETS_PER_S, (double)q->d[QD_PACKETS] / secs, -1, q, ifn, txq);
		}
		if (rq / secs > requeue_worst) {
			requeue_worst = rq / secs;
			snprintf(requeue_where, sizeof(requeue_where), "%s", subj);
		}
	}
	if (io->qdisc_error[0] && !io->qdisc_seen)
		finding_ev(f, M_QDISC_STATS_UNAVAILABLE, 1, -1);

	/* 2. softnet backlog per CPU */
	for (size_t i = 0; i < io->nsn; i++) {
		const struct softnet_acc *s = &io->sn[i];
		char subj[64];
		snprintf(subj, sizeof(subj), "softnet backlog of CPU %d", s->cpu);
		consider(&w, (double)s->dropped, secs, QK_SOFTNET, false, "%s", subj);
		if (s->dropped || s->squeezed) {
			finding_ev_cpu(f, M_SOFTNET_DROPS_PER_S, (double)s->dropped / secs, T_NET_DROPS, s->cpu);
			finding_ev_cpu(f, M_SOFTNET_SQUEEZE_PER_S, (double)s->squeezed / secs, T_SOFTNET_SQUEEZE, s->cpu);
		}
		if ((double)s->squeezed / secs > squeeze_worst) {
			squeeze_worst = (double)s->squeezed / secs;
			snprintf(squeeze_where, sizeof(squeeze_where), "CPU %d", s->cpu);
		}
	}

	/* 3. interfaces: /proc/net/dev drops (rx drop includes rx_missed_errors) */
	for (size_t i = 0; i < io->nifs; i++) {
		const struct iface_acc *x = &io->ifs[i];
		if (!x->span_ns || strcmp(x->name, "lo") == 0)
			continue;
		double s = (double)x->span_ns / 1e9;
		double rxd = (double)(x->d[ND_RX_DROP] + x->d[ND_RX_FIFO]), txd = (double)(x->d[ND_TX_DROP] + x->d[ND_TX_FIFO]);
		char subj[64];
		snprintf(subj, sizeof(subj), "%s (rx, /proc/net/dev)", x->name);
		consider(&w, rxd, s, QK_IFACE, false, "%s", subj);
		snprintf(subj, sizeof(subj), "%s (tx, /proc/net/dev)", x->name);
		consider(&w, txd, s, QK_IFACE, true, "%s", subj);
		if (x->d[ND_RX_PACKETS] || x->d[ND_TX_PACKETS] || rxd || txd) {
			ev_on(f, M_RX_PACKETS_PER_S, (double)x->d[ND_RX_PACKETS] / s, -1, LBL_INTERFACE, x->name, NULL);
			ev_on(f, M_TX_PACKETS_PER_S, (double)x->d[ND_TX_PACKETS] / s, -1, LBL_INTERFACE, x->name, NULL);
			ev_on(f, M_RX_DROPS_PER_S, rxd / s, T_NET_DROPS, LBL_INTERFACE, x->name, NULL);
			ev_on(f, M_TX_DROPS_PER_S, txd / s, T_NET_DROPS, LBL_INTERFACE, x->name, NULL);
		}
	}

	/* 4. driver queues by name: ethtool (rx_queue_N_* / rxN_*) and netdev qstats */
	unsigned queues_with_rates = 0;
	double eth_secs = (double)(io->eth_last_ns - io->eth_first_ns) / 1e9;
	for (size_t i = 0; io->eth_seen && eth_secs > 0 && i < io->eth_last.n; i++) {
		const struct eth_iface *l = &io->eth_last.v[i], *e0 = eth_doc_find(&io->eth_first, l->name);
		if (!e0)
			continue;
		for (size_t k = 0; k < l->nst; k++) {
			bool tx;
			unsigned qn;
			char field[40];
			uint64_t was;
			if (!eth_queue_name(l->st[k].name, &tx, &qn, field, sizeof(field)) ||
			    !eth_stat_get(e0, l->st[k].name, &was) || l->st[k].v < was)
				continue;
			double d = (double)(l->st[k].v - was);
			char subj[80], qname[16];
			snprintf(qname, sizeof(qname), "%s-%u", tx ? "tx" : "rx", qn);
			snprintf(subj, sizeof(subj), "%s %s", l->name, qname);
			if (strcmp(field, "packets") == 0) {
				ev_on(f, M_QUEUE_PACKETS_PER_S, d / eth_secs, -1, LBL_INTERFACE, l->name, qname);
				queues_with_rates++;
			} else if (eth_queue_field_is_drop(field)) {
				consider(&w, d, eth_secs, QK_RING, tx, "%s driver queue (%s)", subj, l->st[k].name);
				if (d > 0)
					ev_label(ev_on(f, M_QUEUE_DROPS_PER_S, d / eth_secs, T_NET_DROPS, LBL_INTERFACE, l->name, qname),
						 LBL_STAT, "%s", l->st[k].name);
			} else if (strcmp(field, "tx_timeouts") == 0 && d > 0) {
				ev_on(f, M_QUEUE_TX_TIMEOUTS, d, -1, LBL_INTERFACE, l->name, qname);
			}
		}
	}
	double qs_secs = (double)(io->qs_last_ns - io->qs_first_ns) / 1e9;
	for (size_t i = 0; io->qstats_seen && qs_secs > 0 && i < io->nqs_last; i++) {
		const struct qstat_rec *l = &io->qs_last[i];
		const struct qstat_rec *o = NULL;
		for (size_t k = 0; k < io->nqs_first && !o; k++)
			if (strcmp(io->qs_first[k].ifname, l->ifname) == 0 && io->qs_first[k].tx == l->tx &&
			    io->qs_first[k].queue == l->queue)
				o = &io->qs_first[k];
		if (!o || l->packets < o->packets)
			continue;
		char subj[80], qname[16];
		snprintf(qname, sizeof(qname), "%s-%d", l->tx ? "tx" : "rx", l->queue);
		snprintf(subj, sizeof(subj), "%s %s", l->ifname, qname);
		ev_on(f, M_QUEUE_PACKETS_PER_S, (double)(l->packets - o->packets) / qs_secs, -1, LBL_INTERFACE, l->ifname,
		      qname);
		queues_with_rates++;
		if (l->drops >= o->drops)
			consider(&w, (double)(l->drops - o->drops), qs_secs, QK_RING, l->tx, "%s (netdev qstats)", subj);
		if (l->tx && l->stops > o->stops)
			ev_on(f, M_QUEUE_TX_STOPS_PER_S, (double)(l->stops - o->stops) / qs_secs, -1, LBL_INTERFACE,
			      l->ifname, qname);
	}

	/* 5. the vCPU behind each queue's interrupt, and softirq time per vCPU */
	struct irq_q irqs[64];
	bool shared_vec;
	size_t nirq = virtio_net_irqs(an, irqs, ARRAY_SIZE(irqs), &shared_vec);
	char sat_where[160] = "";
	double sat_pct = 0;
	int sat_cpu = -1;
	for (size_t i = 0; i < nirq; i++) {
		struct evidence *e = ev_on(f, M_QUEUE_IRQ_CPU, irqs[i].cpu, -1, LBL_INTERFACE, irqs[i].ifname, irqs[i].queue);
		ev_label(e, LBL_VIRTQUEUE, "%s", irqs[i].vq);
		e->cpu = irqs[i].cpu;
		ev_label(ev_on(f, M_QUEUE_IRQS_PER_S, irqs[i].per_s, -1, LBL_INTERFACE, irqs[i].ifname, irqs[i].queue),
			 LBL_VIRTQUEUE, "%s", irqs[i].vq);
	}
	bool idle_other = false;
	const struct cpu_analysis *ca = &an->cpu;
	for (size_t i = 0; i < ca->nslots; i++) {
		const struct cpu_slot *s = &ca->slots[i];
		if (!s->total)
			continue;
		double busy = 100.0 * (double)s->busy / (double)s->total;
		double si = 100.0 * (double)s->sum[CT_SOFTIRQ] / (double)s->total;
		finding_ev_cpu(f, M_SOFTIRQ_PCT, si, T_SOFTIRQ_VCPU, s->cpu);
		if (si > sat_pct) {
			sat_pct = si;
			sat_cpu = s->cpu;
		}
		(void)busy;
	}
	for (size_t i = 0; i < ca->nslots; i++) {
		const struct cpu_slot *s = &ca->slots[i];
		if (s->total && s->cpu != sat_cpu && 100.0 * (double)s->busy / (double)s->total < TH(T_OTHER_IDLE).warn)
			idle_other = true;
	}
	enum severity sirq_sev = SEV_OK;
	if (sat_cpu >= 0 && ge(sat_pct, T_SOFTIRQ_VCPU, false)) {
		/* name the queues whose interrupts this vCPU takes */
		size_t o = 0;
		for (size_t i = 0; i < nirq && o < sizeof(sat_where) - 40; i++)
			if (irqs[i].cpu == sat_cpu)
				o += (size_t)snprintf(sat_where + o, sizeof(sat_where) - o, "%s%s", o ? ", " : "",
						      irqs[i].subject);
		sirq_sev = ge(sat_pct, T_SOFTIRQ_VCPU, true) && idle_other ? SEV_CRIT : SEV_WARN;
		sev = smax(sev, sirq_sev);
	}

	/* 5b. receive/transmit softirqs per vCPU (/proc/softirqs) and where RPS/XPS send each queue */
	int scpu[IO_MAX_CPUS];
	double srate[IO_MAX_CPUS], rx_total = 0, rx_top = 0;
	int rx_top_cpu = -1;
	size_t ns = io_softirq_rates(io, "NET_RX", scpu, srate, ARRAY_SIZE(scpu));
	for (size_t i = 0; i < ns; i++) {
		finding_ev_cpu(f, M_NET_RX_SOFTIRQS_PER_S, srate[i], -1, scpu[i]);
		rx_total += srate[i];
		if (srate[i] > rx_top) {
			rx_top = srate[i];
			rx_top_cpu = scpu[i];
		}
	}
	ns = io_softirq_rates(io, "NET_TX", scpu, srate, ARRAY_SIZE(scpu));
	for (size_t i = 0; i < ns; i++)
		finding_ev_cpu(f, M_NET_TX_SOFTIRQS_PER_S, srate[i], -1, scpu[i]);
	/* RPS off everywhere: on every receiving interface (not lo) no rx queue has rps_cpus set */
	bool rps_off = true, any_rx_iface = false;
	char rps_dev[32] = "";
	for (size_t i = 0; i < io->nifs; i++) {
		const struct iface_acc *x = &io->ifs[i];
		if (strcmp(x->name, "lo") == 0)
			continue;
		for (int q = 0; q < x->nrx && q < IO_MAX_QMASKS; q++) {
			char qname[16];
			snprintf(qname, sizeof(qname), "rx-%d", q);
			ev_label(ev_on(f, M_RPS_CPUS, x->rps_n[q] > 0 ? x->rps_n[q] : 0, -1, LBL_INTERFACE, x->name, qname),
				 LBL_RPS_CPUS, "%s", x->rps_list[q][0] ? x->rps_list[q] : "unreadable");
		}
		for (int q = 0; q < x->ntx && q < IO_MAX_QMASKS; q++) {
			char qname[16];
			snprintf(qname, sizeof(qname), "tx-%d", q);
			ev_label(ev_on(f, M_XPS_CPUS, x->xps_n[q] > 0 ? x->xps_n[q] : 0, -1, LBL_INTERFACE, x->name, qname),
				 LBL_XPS_CPUS, "%s", x->xps_list[q][0] ? x->xps_list[q] : "unreadable");
		}
		if (x->nrx > 0 && x->d[ND_RX_PACKETS] > 0) {
			any_rx_iface = true;
			if (x->rps_cpus_set > 0)
				rps_off = false;
			else if (!rps_dev[0] || x->virtio)
				snprintf(rps_dev, sizeof(rps_dev), "%s", x->name);
		}
	}
	double rx_share = rx_total > 0 ? 100.0 * rx_top / rx_total : 0;
	/* all receive work on one vCPU, RPS off, and there is another vCPU to share it */
	bool rx_one_vcpu = rx_top_cpu >= 0 && rx_total >= 1000 && rx_share >= 90 && vcpus_of(an) > 1 &&
			   any_rx_iface && rps_off;

	/* 6. queue count vs vCPUs */
	unsigned vcpus = vcpus_of(an);
	char fewq[160] = "";
	for (size_t i = 0; i < io->nifs; i++) {
		const struct iface_acc *x = &io->ifs[i];
		const struct eth_iface *e = io->eth_seen ? eth_doc_find(&io->eth_last, x->name) : NULL;
		int nq = e && e->combined > 0 ? e->combined : e && e->rx > 0 ? e->rx : x->nrx;
		if (!x->virtio || nq <= 0)
			continue;
		ev_on(f, M_QUEUES, nq, -1, LBL_INTERFACE, x->name, NULL);
		if (e && e->max_combined > 0)
			ev_on(f, M_QUEUES_MAX, e->max_combined, -1, LBL_INTERFACE, x->name, NULL);
		if ((unsigned)nq < vcpus && !fewq[0])
			snprintf(fewq, sizeof(fewq), "%s has %d queue%s for %u vCPUs%s", x->name, nq, nq == 1 ? "" : "s",
				 vcpus,
				 e && e->max_combined > nq ? " (the device offers more: ethtool -L ... combined N)" : "");
	}

	/* 7. sockets: TCP retransmits, UDP buffer drops (by header name) */
	double ssecs = (double)(io->snmp_last_ns - io->snmp_first_ns) / 1e9;
	double retrans_pct = -1, udp_buf = 0;
	if (io->snmp_have_first && ssecs > 0) {
		double out = (double)(io->snmp_last[SN_TCP_OUTSEGS] - io->snmp_first[SN_TCP_OUTSEGS]);
		double rt = (double)(io->snmp_last[SN_TCP_RETRANS] - io->snmp_first[SN_TCP_RETRANS]);
		if (io->snmp_found[SN_TCP_OUTSEGS] && out >= TH(T_TCP_MIN_SEGS).warn && rt >= 0) {
			retrans_pct = 100.0 * rt / out;
			finding_ev(f, M_TCP_RETRANS_PCT, retrans_pct, T_TCP_RETRANS);
			sev = smax(sev, sev_of(retrans_pct, T_TCP_RETRANS));
		}
		static const enum snmp_key bufk[] = { SN_UDP_RCVBUF, SN_UDP_SNDBUF, SN_UDP6_RCVBUF, SN_UDP6_SNDBUF };
		for (size_t i = 0; i < ARRAY_SIZE(bufk); i++) {
			int64_t d = io->snmp_last[bufk[i]] - io->snmp_first[bufk[i]];
			if (io->snmp_found[bufk[i]] && d > 0) {
				udp_buf += (double)d;
				ev_label(finding_ev(f, M_UDP_BUF_ERRS_PER_S, (double)d / ssecs, T_UDP_BUF_ERRS), LBL_PROTOCOL,
					 "%s", snmp_key_names[bufk[i]]);
			}
		}
		/* a qdisc drop comes back to a UDP sender as ENOBUFS and counts as SndbufErrors too: the
		 * socket is named only when no queue on the packet path dropped */
		if (udp_buf > 0 && w.rate == 0)
			consider(&w, udp_buf, ssecs, QK_SOCKET, false, "UDP socket buffers");
		double to = (double)(io->snmp_last[SN_TCPEXT_TIMEOUTS] - io->snmp_first[SN_TCPEXT_TIMEOUTS]);
		if (io->snmp_found[SN_TCPEXT_TIMEOUTS] && to > 0)
			finding_ev(f, M_TCP_TIMEOUTS_PER_S, to / ssecs, -1);
	}

	/* severity from the worst queue */
	int drop_t = w.kind == QK_SOCKET ? T_UDP_BUF_ERRS : T_NET_DROPS;
	if (w.rate > 0)
		sev = smax(sev, sev_of(w.rate, drop_t));
	if (ge(requeue_worst, T_QDISC_REQUEUES, false))
		sev = smax(sev, SEV_WARN);
	if (ge(squeeze_worst, T_SOFTNET_SQUEEZE, false))
		sev = smax(sev, SEV_WARN);

	/* title, detail, explanation */
	struct sbuf ex = { 0 };
	if (w.rate > 0 && sev_of(w.rate, drop_t) >= SEV_WARN) {
		finding_set(f, sev, "%s dropped %.0f packets (%.0f/s)", w.where, w.count, w.rate);
		ev_label(finding_ev(f, M_WORST_QUEUE_DROPS_PER_S, w.rate, drop_t), LBL_WHERE, "%s", w.where);
		switch (w.kind) {
		case QK_QDISC:
			sb_add(&ex, "The queue that dropped is a qdisc: the guest's own transmit queue in front of the "
				    "driver, so the time and the drops are inside this guest, before the virtqueue. Its "
				    "limit or rate (tbf, htb, a pfifo limit) is lower than what the senders offer.");
			finding_next(f, "see it: tc -s qdisc show dev %.*s", (int)strcspn(w.where, " "), w.where);
			finding_next(f, "raise the qdisc limit or rate, or pace the senders (fq, BQL); if the qdisc is "
					"meant to shape, the drops are its job");
			break;
		case QK_RING:
			sb_add(&ex, "The driver's own queue (the virtqueue ring shared with the host) dropped: the host "
				    "side did not take packets as fast as the guest produced them.");
			finding_next(f, "on the host: the vhost thread of this queue (CPU time, steal of its pCPU) and "
					"the tap device's drops (ip -s link show tapN)");
			break;
		case QK_SOFTNET:
			sb_add(&ex, "The softnet backlog of one vCPU overflowed: packets arrived faster than this vCPU "
				    "could process them in softirq (net.core.netdev_max_backlog).");
			finding_next(f, "spread the receive work: more queues (ethtool -L), RPS "
					"(/sys/class/net/DEV/queues/rx-N/rps_cpus), or raise net.core.netdev_max_backlog");
			break;
		case QK_IFACE:
			sb_add(&ex, "The interface counted drops (/proc/net/dev: rx drop includes rx_missed_errors).");
			finding_next(f, "ethtool -S and tc -s qdisc on the interface to see which queue");
			break;
		case QK_SOCKET:
			sb_add(&ex, "UDP sockets dropped datagrams because their buffers were full: the application did "
				    "not read (or the kernel could not send) fast enough. This queue is the socket's, "
				    "above the network stack.");
			finding_next(f, "raise SO_RCVBUF/SO_SNDBUF (net.core.rmem_max) or read faster");
			break;
		}
	} else if (sirq_sev >= SEV_WARN) {
		finding_set(f, sev, "vCPU %d spent %.0f %% of its time in softirq%s%s", sat_cpu, sat_pct,
			    sat_where[0] ? " taking " : "", sat_where);
	} else if (requeue_worst > 0 && ge(requeue_worst, T_QDISC_REQUEUES, false)) {
		finding_set(f, sev, "%s requeued %.0f packets/s: the driver's TX ring (virtqueue) was full",
			    requeue_where, requeue_worst);
		sb_add(&ex, "A requeue means the driver refused a packet because its transmit ring was full: the "
			    "virtqueue shared with the host held packets the host had not yet taken.");
		finding_next(f, "on the host: the vhost thread of this queue and its pCPU");
	} else if (squeeze_worst > 0 && ge(squeeze_worst, T_SOFTNET_SQUEEZE, false)) {
		finding_set(f, sev, "softnet ran out of budget %.0f times/s on %s (time_squeeze)", squeeze_worst,
			    squeeze_where);
	} else if (retrans_pct >= 0 && sev_of(retrans_pct, T_TCP_RETRANS) >= SEV_WARN) {
		finding_set(f, sev, "TCP retransmitted %.1f %% of its segments, no queue in the guest dropped",
			    retrans_pct);
		sb_add(&ex, "No guest queue dropped, so the losses are further on: the host (tap, vhost, bridge) or "
			    "the network.");
	} else {
		unsigned nq = 0;
		for (size_t i = 0; i < io->nifs; i++)
			if (io->ifs[i].virtio)
				nq += (unsigned)(io->ifs[i].nrx > 0 ? io->ifs[i].nrx : 1);
		char nvb[16] = "?";
		if (vcpus)
			snprintf(nvb, sizeof(nvb), "%u", vcpus);
		if (nq)
			finding_set(f, sev, "%u virtio-net queue%s for %s vCPUs, no drops in the guest's queues%s", nq,
				    nq == 1 ? "" : "s", nvb, retrans_pct >= 0 ? "" : "");
		else
			finding_set(f, sev, "no drops in the guest's packet queues (%u qdisc%s, %zu CPU%s softnet)",
				    nleaves, plural_s(nleaves), io->nsn, plural(io->nsn, "'s", "s'"));
		if (retrans_pct >= 0)
			sb_add(&ex, "TCP retransmitted %.2f %% of its segments.", retrans_pct);
	}
	if (sirq_sev >= SEV_WARN)
		sb_add(&ex, "vCPU %d spent %.0f %% of the watch in softirq%s%s. %s", sat_cpu, sat_pct,
		       sat_where[0] ? " for " : "", sat_where,
		       sirq_sev == SEV_CRIT ? "Another vCPU was mostly idle: the work is stuck on one queue's vCPU, "
					      "which is a saturated queue."
					    : "");
	bool rx_saturated = sirq_sev >= SEV_WARN || (w.rate > 0 && w.kind == QK_SOFTNET) ||
			    ge(squeeze_worst, T_SOFTNET_SQUEEZE, false);
	if (rx_one_vcpu && rx_saturated)
		sb_add(&ex, "%.0f %% of the receive softirqs (NET_RX, %.0f/s) ran on vCPU %d and RPS is off on %s's "
			    "receive queues: one vCPU does all the receive work while the others cannot help.",
		       rx_share, rx_total, rx_top_cpu, rps_dev);
	if (fewq[0])
		sb_add(&ex, "%s: each queue's interrupts and softirq work land on one vCPU.", fewq);
	if (shared_vec)
		sb_add(&ex, "virtio-net uses one interrupt vector for all its queues (virtqueues/INTx), so the "
			    "per-queue vCPU cannot be told.");
	if (requeue_worst > 0 && w.rate > 0)
		sb_add(&ex, "%s also requeued %.0f/s: its driver ring (the virtqueue) was full.", requeue_where,
		       requeue_worst);
	sb_add(&ex, "A full receive ring is not visible here: when the guest does not refill its RX virtqueue "
		    "fast enough the host drops the packets, and only the host's tap device counts them "
		    "(ip -s link show tapN, TX dropped, on the host). About 800 kpps per virtio-net queue is a "
		    "common ceiling, for context.");
	if (nparents)
		sb_add(&ex, "Parent qdiscs (mq and other roots with children) are counted once, through their "
			    "children.");
	finding_explain(f, "%s", ex.s);
	free(ex.s);
	if (rx_one_vcpu && rx_saturated) {
		unsigned nv = vcpus_of(an);
		char mask[24] = "MASK";
		if (nv < 64)
			snprintf(mask, sizeof(mask), "%llx", (1ull << nv) - 1);
		finding_next(f, "enable RPS or more queues: echo %s > /sys/class/net/%s/queues/rx-N/rps_cpus (the "
				"vCPUs to share the receive work, a hex mask), or ethtool -L %s combined N",
			     mask, rps_dev, rps_dev);
	}
	if (fewq[0] && sev >= SEV_WARN)
		finding_next(f, "more queues: ethtool -L DEV combined N (N = vCPUs), and queues=N on the host's "
				"virtio-net device");
	char sirq[48] = "no softirq time on any vCPU";
	if (sat_cpu >= 0)
		snprintf(sirq, sizeof(sirq), "worst softirq vCPU %d %.0f %%", sat_cpu, sat_pct < 0 ? 0 : sat_pct);
	finding_detail(f, "%u qdisc%s (%u parent%s not re-counted), softnet on %zu CPU%s, %u queue rate%s, worst "
			  "drops %.1f/s, %s",
		       nleaves, plural_s(nleaves), nparents, plural_s(nparents), io->nsn, plural_s(io->nsn),
		       queues_with_rates, plural_s(queues_with_rates), w.rate, sirq);
}

/* ------------------------------------------------------------------ */
/* io-layer-latency                                                    */
/* ------------------------------------------------------------------ */

struct disk_view {
	const struct disk_acc *d;
	double secs, ios, iops_r, iops_w, r_await, w_await, f_await, aqu, util, req_ms_per_s;
};

static int cmp_view(const void *x, const void *y)
{
	const struct disk_view *a = x, *b = y;
	if (a->req_ms_per_s != b->req_ms_per_s)
		return a->req_ms_per_s < b->req_ms_per_s ? 1 : -1;
	if (a->ios != b->ios)
		return a->ios < b->ios ? 1 : -1;
	return strcmp(a->d->name, b->d->name);
}

static void disk_config_line(const struct disk_acc *d, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s, scheduler %s, nr_requests %d, %d hw queue%s, write cache %s", d->name,
		 d->virtio ? " virtio-blk" : "", d->scheduler[0] ? d->scheduler : "?",
		 d->nr_requests, d->nr_hw_queues < 0 ? 0 : d->nr_hw_queues, d->nr_hw_queues == 1 ? "" : "s",
		 d->write_cache[0] ? d->write_cache : "?");
}

void rule_io_latency(const struct analysis *an, struct finding *f)
{
	const struct io_analysis *io = &an->io;
	if (!io->diskstats_seen) {
		finding_set(f, SEV_UNKNOWN, "no readable /proc/diskstats in this watch");
		finding_explain(f, "Block IO is judged from /proc/diskstats and, with eBPF, from per-request latency "
				   "histograms; neither was available.");
		return;
	}
	struct disk_view v[IO_MAX_DISKS];
	size_t nv = 0;
	for (size_t i = 0; i < io->ndisks && nv < IO_MAX_DISKS; i++) {
		const struct disk_acc *d = &io->disks[i];
		if (!d->span_ns)
			continue;
		struct disk_view *x = &v[nv];
		memset(x, 0, sizeof(*x));
		x->d = d;
		x->secs = (double)d->span_ns / 1e9;
		double r = (double)d->d[DS_RD_IOS], wr = (double)d->d[DS_WR_IOS], fl = (double)d->d[DS_FL_IOS];
		x->ios = r + wr + fl;
		if (x->ios == 0)
			continue;
		x->iops_r = r / x->secs;
		x->iops_w = wr / x->secs;
		x->r_await = r ? (double)d->d[DS_RD_MS] / r : 0;
		x->w_await = wr ? (double)d->d[DS_WR_MS] / wr : 0;
		x->f_await = fl ? (double)d->d[DS_FL_MS] / fl : -1;
		x->aqu = (double)d->d[DS_WEIGHTED_MS] / (x->secs * 1000);
		x->util = 100.0 * (double)d->d[DS_IO_MS] / (x->secs * 1000);
		if (x->util > 100)
			x->util = 100;
		x->req_ms_per_s = (double)(d->d[DS_RD_MS] + d->d[DS_WR_MS] + d->d[DS_DC_MS] + d->d[DS_FL_MS]) / x->secs;
		nv++;
	}
	qsort(v, nv, sizeof(v[0]), cmp_view);

	double psi_pct = -1;
	if (io->psi_io_seen && io->psi_span_ns > 0) {
		psi_pct = 100.0 * (double)io->psi_some_us * 1000.0 / (double)io->psi_span_ns;
		if (psi_pct > 100)
			psi_pct = 100;
		finding_ev(f, M_PSI_IO_SOME_PCT, psi_pct, T_PSI_IO);
		finding_ev(f, M_PSI_IO_FULL_PCT, 100.0 * (double)io->psi_full_us * 1000.0 / (double)io->psi_span_ns, -1);
	}
	for (size_t i = 0; i < nv && i < 6; i++) {
		const struct disk_view *x = &v[i];
		const char *s = x->d->name;
		ev_on(f, M_READ_IOPS, x->iops_r, -1, LBL_DEVICE, s, NULL);
		ev_on(f, M_WRITE_IOPS, x->iops_w, -1, LBL_DEVICE, s, NULL);
		ev_on(f, M_R_AWAIT_MS, x->r_await, -1, LBL_DEVICE, s, NULL);
		ev_on(f, M_W_AWAIT_MS, x->w_await, -1, LBL_DEVICE, s, NULL);
		if (x->f_await >= 0)
			ev_on(f, M_FLUSH_AWAIT_MS, x->f_await, -1, LBL_DEVICE, s, NULL);
		ev_on(f, M_AQU_SZ, x->aqu, -1, LBL_DEVICE, s, NULL);
		ev_on(f, M_UTIL_PCT, x->util, -1, LBL_DEVICE, s, NULL);
		ev_on(f, M_REQUEST_MS_PER_S, x->req_ms_per_s, -1, LBL_DEVICE, s, NULL);
		ev_on(f, M_WORST_INTERVAL_AWAIT_MS, x->d->worst_await_ms, -1, LBL_DEVICE, s, NULL);
	}
	/* the queue configuration of every virtio disk and of every disk that did IO */
	unsigned ncfg = 0;
	for (size_t i = 0; i < io->ndisks && ncfg < 16; i++) {
		const struct disk_acc *d = &io->disks[i];
		bool busy = d->d[DS_RD_IOS] + d->d[DS_WR_IOS] + d->d[DS_FL_IOS] > 0;
		if (!d->have_config || (!d->virtio && !busy))
			continue;
		ncfg++;
		if (d->nr_hw_queues > 0)
			ev_on(f, M_HW_QUEUES, d->nr_hw_queues, -1, LBL_DEVICE, d->name, NULL);
		if (d->nr_requests >= 0)
			ev_on(f, M_NR_REQUESTS, d->nr_requests, -1, LBL_DEVICE, d->name, NULL);
		ev_on(f, M_VIRTIO, d->virtio, -1, LBL_DEVICE, d->name, NULL);
	}

	/* eBPF: spread and split per disk */
	const char *bio_why = NULL;
	bool bpf = bpfhist_available(an, "biolat", &bio_why);
	const char *bpf_off = bpf ? NULL : analysis_switched_off(an, "bpf");
	if (!bpf && !bpf_off)
		bpf_off = analysis_switched_off(an, "biolat");
	enum severity sev = SEV_UNKNOWN;
	const struct disk_acc *worst = NULL;
	double w_p50 = 0, w_p99 = 0, w_ratio = 0, w_below = -1, w_fl99 = -1, w_q99 = 0;
	enum severity w_sev = SEV_OK;
	if (bpf) {
		for (size_t i = 0; i < io->ndisks; i++) {
			const struct disk_acc *d = &io->disks[i];
			uint64_t below[BPFHIST_SLOTS], queued[BPFHIST_SLOTS], flush[BPFHIST_SLOTS];
			if (bpfhist_dev_delta(an, d->name, "below", NULL, below) < 0)
				continue;
			bool hq = bpfhist_dev_delta(an, d->name, "queued", NULL, queued) == 0;
			uint64_t n = bpfhist_total(below);
			if ((double)n < TH(T_IO_MIN_IOS).warn)
				continue;
			double p50 = bpfhist_percentile(below, 0.5) / 1000, p99 = bpfhist_percentile(below, 0.99) / 1000;
			double ratio = p50 > 0 ? p99 / p50 : 0;
			double sb = bpfhist_sum_us(below), sq = hq ? bpfhist_sum_us(queued) : 0;
			double share = sb + sq > 0 ? 100.0 * sb / (sb + sq) : -1;
			double q99 = hq && bpfhist_total(queued) ? bpfhist_percentile(queued, 0.99) / 1000 : 0;
			double fl99 = -1;
			if (bpfhist_dev_delta(an, d->name, "below", "flush", flush) == 0 && bpfhist_total(flush))
				fl99 = bpfhist_percentile(flush, 0.99) / 1000;
			ev_on(f, M_IO_P50_MS, p50, -1, LBL_DEVICE, d->name, NULL);
			ev_on(f, M_IO_P99_MS, p99, T_IO_P99, LBL_DEVICE, d->name, NULL);
			ev_on(f, M_IO_P99_OVER_P50, ratio, T_IO_RATIO, LBL_DEVICE, d->name, NULL);
			ev_on(f, M_IO_REQUESTS_TIMED, (double)n, T_IO_MIN_IOS, LBL_DEVICE, d->name, NULL);
			if (share >= 0)
				ev_on(f, M_TIME_BELOW_GUEST_PCT, share, -1, LBL_DEVICE, d->name, NULL);
			if (hq)
				ev_on(f, M_QUEUED_P99_MS, q99, -1, LBL_DEVICE, d->name, NULL);
			if (fl99 >= 0)
				ev_on(f, M_FLUSH_P99_MS, fl99, -1, LBL_DEVICE, d->name, NULL);
			enum severity s = SEV_OK;
			if (ge(ratio, T_IO_RATIO, true) && ge(p99, T_IO_P99, true))
				s = SEV_CRIT;
			else if (ge(ratio, T_IO_RATIO, false) && ge(p99, T_IO_P99, false))
				s = SEV_WARN;
			sev = smax(sev, s);
			if (!worst || s > w_sev || (s == w_sev && p99 > w_p99)) {
				worst = d;
				w_sev = s;
				w_p50 = p50;
				w_p99 = p99;
				w_ratio = ratio;
				w_below = share;
				w_fl99 = fl99;
				w_q99 = q99;
			}
		}
		finding_ev(f, M_EBPF_HISTOGRAMS, 1, -1);
	}

	/* above the block layer: tasks stalled on IO for longer than any device had requests */
	double stall_ms_s = psi_pct >= 0 ? psi_pct * 10 : -1;
	double dev_ms_s = nv ? v[0].req_ms_per_s : 0;
	double above_pct = -1;
	enum severity stall_sev = SEV_OK;
	if (stall_ms_s > 0) {
		stall_sev = sev_of(psi_pct, T_PSI_IO);
		double covered = dev_ms_s > stall_ms_s ? stall_ms_s : dev_ms_s;
		above_pct = 100.0 * (stall_ms_s - covered) / stall_ms_s;
		finding_ev(f, M_IO_STALL_MS_PER_S, stall_ms_s, -1);
		finding_ev(f, M_BUSIEST_DEVICE_MS_PER_S, dev_ms_s, -1);
		finding_ev(f, M_IO_STALL_ABOVE_BLOCK_PCT, above_pct, T_IO_ABOVE);
	}
	bool above = stall_sev >= SEV_WARN && ge(above_pct, T_IO_ABOVE, false);
	/* a low stall does not make the spread known: unknown stays unknown without eBPF */
	if (stall_sev >= SEV_WARN)
		sev = smax(sev, stall_sev);

	struct sbuf ex = { 0 };
	char cfg[200] = "";
	const struct disk_view *top = nv ? &v[0] : NULL;
	if (top)
		disk_config_line(top->d, cfg, sizeof(cfg));
	if (above) {
		finding_set(f, sev,
			    "tasks stalled on IO %.0f %% of the time, but %s had requests in flight only %.0f ms/s: "
			    "the time is spent above the block layer",
			    psi_pct, top ? top->d->name : "no disk", dev_ms_s);
		sb_add(&ex, "Tasks waited for IO %.0f ms of every second (PSI io some), while the busiest device "
			    "(%s, await %.2f ms) accounts for %.0f ms/s of request time. The %.0f %% that no device shows "
			    "was spent before the requests reached the block device: blk-cgroup throttling (io.max, "
			    "blkio.throttle.*), writeback throttling, or filesystem locks and journal waits.",
		       stall_ms_s, top ? top->d->name : "none", top ? (top->r_await + top->w_await) : 0, dev_ms_s,
		       above_pct);
		finding_next(f, "check cgroup IO limits of the waiting tasks (blkio.throttle.* in v1, io.max in v2) "
				"and io.pressure per cgroup");
		finding_next(f, "per task: /proc/PID/stat field 42 (delayacct_blkio_ticks, needs "
				"kernel.task_delayacct=1) or the eBPF block-latency source");
	} else if (bpf && worst) {
		char below_txt[160];
		if (strncmp(worst->name, "loop", 4) == 0)
			snprintf(below_txt, sizeof(below_txt),
				 "below %s: its backing file and the disk under it (with any cgroup limit there)", worst->name);
		else if (worst->virtio)
			snprintf(below_txt, sizeof(below_txt), "below the guest (virtio, the host's IO path and the device)");
		else
			snprintf(below_txt, sizeof(below_txt), "below the guest's block layer (driver and device)");
		const char *layer = w_below >= 50 ? below_txt : "in the guest's own queue (its IO scheduler)";
		if (w_sev >= SEV_WARN)
			finding_set(f, sev, "%s: p99 %.1f ms is %.0fx p50 %.2f ms, %.0f %% of the time %s", worst->name,
				    w_p99, w_ratio, w_p50, w_below < 0 ? 0 : w_below, layer);
		else
			finding_set(f, sev, "%s p50 %.2f ms, p99 %.2f ms; %.0f %% of the time is below the guest", worst->name,
				    w_p50, w_p99, w_below < 0 ? 0 : w_below);
		sb_add(&ex, "From per-request eBPF timing of %s: the time between issue and completion is %s of the "
			    "total; the guest's queue (scheduler %s) holds the rest (queued p99 %.2f ms).",
		       worst->name, w_below >= 50 ? "most" : "the smaller part", worst->scheduler[0] ? worst->scheduler : "?",
		       w_q99);
		if (w_sev >= SEV_WARN) {
			sb_add(&ex, "The layer holding the time is %s.", layer);
			if (w_below >= 50)
				sb_add(&ex, "A spread this wide with a fast median is the mark of a second queue under this "
					    "one: the host's IO scheduler or its IO threads (or, for a loop device, the "
					    "disk and cgroup limits under its backing file).");
		}
		if (w_fl99 >= 0)
			sb_add(&ex, "Flushes: p99 %.1f ms.", w_fl99);
		if (w_below >= 50 && w_sev >= SEV_WARN)
			finding_next(f, "on the host: the IO thread and the disk behind this VM's image (iostat -x on the "
					"host, QEMU iothread CPU), and the cache mode of the disk");
	} else if (stall_sev >= SEV_WARN) {
		finding_set(f, sev, "tasks stalled on IO %.0f %% of the time; %s", psi_pct,
			    top ? "the devices' request time accounts for it" : "no disk did IO");
		if (top)
			sb_add(&ex, "The busiest device %s had %.0f ms/s of request time (await r %.2f / w %.2f ms), "
				    "enough to explain the stall: the time is in the block layer or below it. Without "
				    "eBPF, diskstats cannot split the guest's queue from the time below the guest.",
			       top->d->name, dev_ms_s, top->r_await, top->w_await);
	} else if (!top) {
		finding_set(f, bpf ? SEV_OK : SEV_UNKNOWN, "no disk IO in the watch");
	} else {
		finding_set(f, sev, "%s await r %.2f / w %.2f ms at %.0f IO/s (averages only: eBPF latency "
				    "histograms %s)",
			    top->d->name, top->r_await, top->w_await, top->iops_r + top->iops_w,
			    bpf ? "had too few requests" : bpf_off ? "switched off (--no-bpf)" : "unavailable");
	}
	if (!bpf)
		sb_add(&ex, "Without the eBPF block-latency histograms only diskstats averages are known, and "
			    "bimodality (a fast majority with a slow tail from a second queue under the guest) cannot be "
			    "judged from averages.%s%s",
		       bio_why ? " eBPF: " : "", bio_why ? bio_why : "");
	if (top) {
		sb_add(&ex, "%s.", cfg);
		sb_add(&ex, "%%util (%s %.0f %%) is the share of time with any request in flight; for a device that "
			    "serves requests in parallel (virtio-blk, NVMe, loop) it says nothing about saturation.",
		       top->d->name, top->util);
		if (top->d->virtio && top->d->rotational == 1)
			sb_add(&ex, "rotational=1 on virtio-blk is the driver's default and means nothing about the "
				    "disk under it.");
		if (top->d->scheduler[0]) {
			/* the audit judges the same scheduler with the same function: the two never disagree */
			const char *want, *why;
			const char *kind = io_sched_kind(top->d->name, top->d->virtio, top->d->rotational);
			enum io_sched_fit fit = io_sched_judge(kind, top->d->scheduler, &want, &why);
			if (fit == IO_SCHED_POOR) {
				sb_add(&ex, "%s has the %s scheduler: %s.", top->d->name, top->d->scheduler, why);
				finding_next(f, "use scheduler %s on %s (hiddenq audit fails %s here): echo %s > "
						"/sys/block/%s/queue/scheduler",
					     want, top->d->name, top->d->scheduler,
					     !strcmp(kind, "rotational") ? "mq-deadline" : "none", top->d->name);
			} else if (fit == IO_SCHED_FINE) {
				sb_add(&ex, "%s has the %s scheduler, which is fine (hiddenq audit passes it): %s.",
				       top->d->name, top->d->scheduler, why);
				if (sev >= SEV_WARN)
					finding_next(f, "with latency this high, try scheduler none on %s, which skips the "
							"guest's queue: echo none > /sys/block/%s/queue/scheduler",
						     top->d->name, top->d->name);
			}
		}
		if (top->f_await >= 0)
			sb_add(&ex, "Flushes on %s took %.2f ms on average (write cache: %s).", top->d->name, top->f_await,
			       top->d->write_cache[0] ? top->d->write_cache : "?");
	}
	if (ex.s)
		finding_explain(f, "%s", ex.s);
	free(ex.s);
	if (top)
		finding_detail(f, "%s | %.0f r/s %.0f w/s, await r %.2f w %.2f ms, aqu-sz %.2f, util %.0f %%%s", cfg,
			       top->iops_r, top->iops_w, top->r_await, top->w_await, top->aqu, top->util,
			       psi_pct >= 0 ? "" : " | no PSI");
	if (!bpf && sev == SEV_UNKNOWN)
		finding_next(f, "%s", bpf_off ? "for p50/p99 per layer: run without --no-bpf (eBPF block latency)"
					       : "for p50/p99 per layer: run as root on a kernel with BTF (eBPF block latency)");
}
