/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * `hiddenq sim` rendered: the result of one run as text or JSON, a sweep as
 * a table, CSV or JSON.  Times are seconds in JSON and CSV, scaled (s, ms,
 * us) in text.  Nothing here depends on the clock or the machine, so the
 * same run prints the same bytes.
 */
#include "sim.h"

#include <math.h>
#include <string.h>

#include "../core/json.h"
#include "../core/util.h"

/* ---- numbers ---- */

/* six significant digits: enough for any figure here, stable in print */
static json_t *jsig(double v)
{
	if (!isfinite(v))
		return json_null();
	if (v == 0)
		return json_real(0);
	char buf[40];
	snprintf(buf, sizeof(buf), "%.6g", v);
	return json_real(strtod(buf, NULL));
}

static const char *ftime(char *buf, size_t n, double s)
{
	double a = fabs(s);
	if (a == 0)
		snprintf(buf, n, "0");
	else if (a >= 1)
		snprintf(buf, n, "%.3g s", s);
	else if (a >= 1e-3)
		snprintf(buf, n, "%.3g ms", s * 1e3);
	else if (a >= 1e-6)
		snprintf(buf, n, "%.3g µs", s * 1e6);
	else
		snprintf(buf, n, "%.3g ns", s * 1e9);
	return buf;
}

/* printf pads by bytes: the width that right-aligns `s` in `w` columns (µ is two bytes, one column) */
static int colw(int w, const char *s)
{
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) == 0x80;
	return w;
}

static const char *frate(char *buf, size_t n, double v)
{
	if (v >= 1e6)
		snprintf(buf, n, "%.3gM", v / 1e6);
	else if (v >= 1e4)
		snprintf(buf, n, "%.3gk", v / 1e3);
	else
		snprintf(buf, n, "%.4g", v);
	return buf;
}

static const char *fbytes(char *buf, size_t n, double b)
{
	if (b >= 1024.0 * 1024 * 1024)
		snprintf(buf, n, "%.3g GiB", b / (1024.0 * 1024 * 1024));
	else if (b >= 1024.0 * 1024)
		snprintf(buf, n, "%.3g MiB", b / (1024.0 * 1024));
	else
		snprintf(buf, n, "%.3g KiB", b / 1024.0);
	return buf;
}

static const char *work_name(enum sim_work w)
{
	return w == WORK_CPU ? "cpu" : w == WORK_REQUESTS ? "requests" : "idle";
}

/* ---- text ---- */

static void station_text(FILE *out, const struct sim_scenario *sc, const struct sim_result *r)
{
	if (!r->nst)
		return;
	char a[24], b[24], c[24], d[24], e[24];
	fprintf(out, "stations (times in seconds of the model)\n");
	fprintf(out, "  %-14s %-12s %10s %6s %10s %10s %10s %7s %10s %10s\n", "name", "queue", "served", "util",
		"wait mean", "wait p50", "wait p99", "P(wait)", "resp mean", "resp p99");
	for (unsigned i = 0; i < r->nst; i++) {
		const struct sim_station_result *s = &r->st[i];
		const struct sim_station *conf = &sc->stations[i];
		char q[64], ad[16], sd[16];
		/* Kendall: arrival/service/servers */
		const struct dist *ds[2] = { &conf->arrival, &conf->service };
		char *dd[2] = { ad, sd };
		for (int k = 0; k < 2; k++) {
			const struct dist *x = ds[k];
			snprintf(dd[k], 16, "%s",
				 x->kind == DIST_EXP	    ? "M"
				 : x->kind == DIST_DET	    ? "D"
				 : x->kind == DIST_ERLANG   ? "E"
				 : x->kind == DIST_HYPEREXP ? "H2"
							    : "G");
			if (x->kind == DIST_ERLANG)
				snprintf(dd[k], 16, "E%u", x->k);
		}
		snprintf(q, sizeof(q), "%s/%s/%u%s%s", ad, sd, s->servers, s->ps ? " PS" : "",
			 conf->capacity ? "/K" : "");
		ftime(a, sizeof(a), s->wait.mean);
		ftime(b, sizeof(b), s->wait.p50);
		ftime(c, sizeof(c), s->wait.p99);
		ftime(d, sizeof(d), s->response.mean);
		ftime(e, sizeof(e), s->response.p99);
		fprintf(out, "  %-14s %-12s %10llu %6.3f %*s %*s %*s %7.4f %*s %*s\n", s->name, q,
			(unsigned long long)s->served, s->utilization, colw(10, a), a, colw(10, b), b, colw(10, c), c,
			s->p_wait, colw(10, d), d, colw(10, e), e);
		if (s->dropped)
			fprintf(out, "  %-14s dropped %llu of %llu arrivals (%.4f)%s\n", "",
				(unsigned long long)s->dropped, (unsigned long long)s->arrived,
				s->arrived ? (double)s->dropped / (double)s->arrived : 0,
				s->unstable ? ": the queue grew without bound (arrivals outpace service)" : "");
	}
	fputc('\n', out);
}

static void host_text(FILE *out, const struct sim_result *r)
{
	if (!r->host || !r->cpus)
		return;
	fprintf(out, "host: %u CPUs in %u NUMA node%s, %u vCPUs (%.2f per CPU); CPUs %.1f %% busy, %.2f vCPUs "
		     "waiting per CPU on average\n",
		r->cpus, r->nodes, r->nodes == 1 ? "" : "s", r->vcpus_total, r->overcommit, 100 * r->cpu_util, r->runq);
	/* the busiest CPUs by run queue */
	unsigned idx[4];
	unsigned n = 0;
	for (; n < 4 && n < r->cpus; n++) {
		unsigned best = UINT32_MAX;
		for (unsigned i = 0; i < r->cpus; i++) {
			bool taken = false;
			for (unsigned k = 0; k < n; k++)
				taken |= idx[k] == i;
			if (!taken && (best == UINT32_MAX || r->cpu[i].runq > r->cpu[best].runq))
				best = i;
		}
		idx[n] = best;
	}
	if (n && r->cpu[idx[0]].runq > 0.01) {
		fprintf(out, "  longest run queues:");
		for (unsigned k = 0; k < n; k++)
			fprintf(out, " cpu%u %.2f (%.0f %% busy)%s", r->cpu[idx[k]].cpu, r->cpu[idx[k]].runq,
				100 * r->cpu[idx[k]].utilization, k + 1 < n ? "," : "");
		fputc('\n', out);
	}
	if (r->host_memory)
		fprintf(out, "  memory: %.0f GiB for guests, host swap up to %.0f MiB\n",
			(double)r->host_memory / (1024.0 * 1024 * 1024), r->host_swapped_max_mib);
	fputc('\n', out);
}

static void vm_text(FILE *out, const struct sim_result *r)
{
	if (!r->ngrp)
		return;
	char a[24], b[24], c[24], d[24], e[24];
	fprintf(out, "VMs (each [vm] section; --json has every VM and vCPU)\n");
	fprintf(out, "  %-14s %4s %5s %-8s %10s %9s %9s %9s %9s %9s %7s\n", "name", "VMs", "vCPUs", "work", "done/s",
		"p50", "p99", "p99.9", "steal avg", "steal max", "remote");
	for (unsigned g = 0; g < r->ngrp; g++) {
		const struct sim_group_result *o = &r->grp[g];
		char done[24];
		if (o->work == WORK_REQUESTS)
			frate(done, sizeof(done), o->throughput);
		else if (o->work == WORK_CPU)
			snprintf(done, sizeof(done), "%.3g CPU", o->work_rate);
		else
			snprintf(done, sizeof(done), "-");
		bool lat = o->work == WORK_REQUESTS && o->latency.n;
		const char *p50 = lat ? ftime(a, sizeof(a), o->latency.p50) : "-";
		const char *p99 = lat ? ftime(b, sizeof(b), o->latency.p99) : "-";
		const char *p999 = lat ? ftime(c, sizeof(c), o->latency.p999) : "-";
		fprintf(out, "  %-14s %4u %5u %-8s %10s %*s %*s %*s %7.1f %% %7.1f %% %5.0f %%\n", o->name, o->vms,
			o->vcpus, work_name(o->work), done, colw(9, p50), p50, colw(9, p99), p99, colw(9, p999), p999,
			o->steal_avg_pct, o->steal_max_pct, o->remote_pct);
		if (o->rejected)
			fprintf(out, "  %-14s %llu request%s refused: its queue outgrew the run (overload)\n", "",
				(unsigned long long)o->rejected, plural_s(o->rejected));
	}
	for (unsigned g = 0; g < r->ngrp; g++) {
		const struct sim_group_result *o = &r->grp[g];
		if (o->net) {
			fprintf(out, "  %s network:", o->name);
			if (o->tx_offered)
				fprintf(out, " tx %s pkt/s offered, %s sent, %s dropped (%.2f %%)",
					frate(a, sizeof(a), (double)o->tx_offered / (r->simulated - r->warmup)),
					frate(b, sizeof(b), (double)o->tx_sent / (r->simulated - r->warmup)),
					frate(c, sizeof(c), (double)o->tx_drops / (r->simulated - r->warmup)),
					100.0 * (double)o->tx_drops / (double)o->tx_offered);
			if (o->rx_offered)
				fprintf(out, "%s rx %s pkt/s offered, %s delivered, %s dropped by the host (%.2f %%), softirq "
					     "up to %.0f %% of a vCPU",
					o->tx_offered ? ";" : "", frate(a, sizeof(a), (double)o->rx_offered / (r->simulated - r->warmup)),
					frate(b, sizeof(b), (double)o->rx_delivered / (r->simulated - r->warmup)),
					frate(c, sizeof(c), (double)o->rx_host_drops / (r->simulated - r->warmup)),
					100.0 * (double)o->rx_host_drops / (double)o->rx_offered, o->softirq_max_pct);
			fputc('\n', out);
		}
		if (o->io && o->io_total.n)
			fprintf(out, "  %s block IO: p50 %s, p99 %s; at p99 the guest queue %s, the host queue %s, the device "
				     "%s\n",
				o->name, ftime(a, sizeof(a), o->io_total.p50), ftime(b, sizeof(b), o->io_total.p99),
				ftime(c, sizeof(c), o->io_guest.p99), ftime(d, sizeof(d), o->io_host.p99),
				ftime(e, sizeof(e), o->io_device.p99));
		if (o->memory && (o->balloon_max_mib > 0 || o->host_swapped_max_mib > 0 || o->guest_pressure_pct > 0))
			fprintf(out, "  %s memory: balloon up to %.0f MiB, host swapped up to %.0f MiB of its working set, "
				     "%.0f host faults/s, short of memory %.0f %% of the time\n",
				o->name, o->balloon_max_mib, o->host_swapped_max_mib, o->host_faults_per_s,
				o->guest_pressure_pct);
		if (o->compactions)
			fprintf(out, "  %s compaction: %llu stall%s, %.1f %% of the time\n", o->name,
				(unsigned long long)o->compactions, plural_s(o->compactions), o->compaction_stall_pct);
	}
	fputc('\n', out);
}

static void mig_text(FILE *out, const struct sim_result *r)
{
	char a[24], b[24], c[24], d[24];
	for (unsigned i = 0; i < r->nmig; i++) {
		const struct sim_mig_result *g = &r->mig[i];
		fprintf(out, "migration %s%s%s: ", g->name, g->vm[0] ? " of " : "", g->vm);
		if (!g->finished)
			fprintf(out, "still copying when the run ended (%u round%s, %s sent)\n", g->rounds,
				plural_s(g->rounds), fbytes(a, sizeof(a), g->transferred));
		else if (g->postcopy)
			fprintf(out, "switched to post-copy after %u round%s; downtime %s, %s until the last page arrived, "
				     "total %s, %s sent\n",
				g->rounds, plural_s(g->rounds), ftime(a, sizeof(a), g->downtime), ftime(b, sizeof(b), g->postcopy_time),
				ftime(c, sizeof(c), g->total_time), fbytes(d, sizeof(d), g->transferred));
		else if (g->converged)
			fprintf(out, "converged after %u round%s in %s, downtime %s, %s sent\n", g->rounds, plural_s(g->rounds),
				ftime(a, sizeof(a), g->total_time), ftime(b, sizeof(b), g->downtime),
				fbytes(c, sizeof(c), g->transferred));
		else
			fprintf(out, "did NOT converge: %u round%s in %s, the dirty set never fit the downtime target; "
				     "%s sent for nothing\n",
				g->rounds, plural_s(g->rounds), ftime(a, sizeof(a), g->total_time), fbytes(b, sizeof(b), g->transferred));
		if (g->throttle_steps)
			fprintf(out, "  auto-converge throttled the guest %u time%s, up to %.0f %% of its CPU\n",
				g->throttle_steps, g->throttle_steps == 1 ? "" : "s", g->throttle_max_pct);
		if (g->nr == 0) { /* no round ran: no table to head */
			fputc('\n', out);
			continue;
		}
		fprintf(out, "  %5s %12s %10s %12s %9s\n", "round", "sent", "time", "dirtied", "throttle");
		for (unsigned k = 0; k < g->nr; k++) {
			if (g->nr > 12 && k == 5) {
				fprintf(out, "  %5s\n", "...");
				k = g->nr - 6;
				continue;
			}
			const struct sim_round *x = &g->r[k];
			ftime(b, sizeof(b), x->duration);
			fprintf(out, "  %5u %12s %*s %12s %7.0f %%\n", k + 1, fbytes(a, sizeof(a), x->sent), colw(10, b), b,
				fbytes(c, sizeof(c), x->dirtied), x->throttle_pct);
		}
		fputc('\n', out);
	}
}

void sim_print_text(FILE *out, const char *path, const struct sim_scenario *sc, const struct sim_result *r)
{
	char a[24], b[24];
	fprintf(out, "hiddenq %s sim — %s, seed %llu, %s simulated", HQ_VERSION, path, (unsigned long long)r->seed,
		ftime(a, sizeof(a), r->simulated));
	if (r->warmup > 0)
		fprintf(out, " (statistics after a %s warm-up)", ftime(b, sizeof(b), r->warmup));
	else if (sc->warmup_customers)
		fprintf(out, " (the first %llu customers of each station not counted)",
			(unsigned long long)sc->warmup_customers);
	fprintf(out, ", %llu events\n\n", (unsigned long long)r->events);
	station_text(out, sc, r);
	host_text(out, r);
	vm_text(out, r);
	mig_text(out, r);
	if (r->bundle_samples)
		fprintf(out, "bundle: %u sample%s of %s%s\n", r->bundle_samples, plural_s(r->bundle_samples), r->bundle_host ? "the host's view of its VMs" : r->bundle_vm,
			r->bundle_host ? "" : "'s guest view");
}

/* ---- JSON ---- */

static json_t *jlat(const struct sim_latency *l)
{
	json_t *o = json_object();
	json_object_set_new(o, "count", json_integer((json_int_t)l->n));
	json_object_set_new(o, "mean", jsig(l->mean));
	json_object_set_new(o, "p50", jsig(l->p50));
	json_object_set_new(o, "p90", jsig(l->p90));
	json_object_set_new(o, "p99", jsig(l->p99));
	json_object_set_new(o, "p999", jsig(l->p999));
	json_object_set_new(o, "max", jsig(l->max));
	return o;
}

static json_t *station_json(const struct sim_station_result *s)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", jstr(s->name));
	json_object_set_new(o, "servers", json_integer(s->servers));
	json_object_set_new(o, "discipline", json_string(s->ps ? "ps" : "fcfs"));
	json_object_set_new(o, "arrival_rate", jsig(s->lambda));
	json_object_set_new(o, "mean_service", jsig(s->mean_service));
	json_object_set_new(o, "arrived", json_integer((json_int_t)s->arrived));
	json_object_set_new(o, "served", json_integer((json_int_t)s->served));
	json_object_set_new(o, "dropped", json_integer((json_int_t)s->dropped));
	json_object_set_new(o, "utilization", jsig(s->utilization));
	json_object_set_new(o, "in_system", jsig(s->in_system));
	json_object_set_new(o, "p_wait", jsig(s->p_wait));
	json_object_set_new(o, "wait", jlat(&s->wait));
	json_object_set_new(o, "response", jlat(&s->response));
	json_object_set_new(o, "unstable", json_boolean(s->unstable));
	return o;
}

static json_t *vm_json(const struct sim_vm_result *v)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", jstr(v->name));
	json_object_set_new(o, "group", jstr(v->group));
	json_object_set_new(o, "vcpus", json_integer(v->vcpus));
	json_object_set_new(o, "workload", json_string(work_name(v->work)));
	if (v->work == WORK_REQUESTS) {
		json_t *q = json_object();
		json_object_set_new(q, "arrived", json_integer((json_int_t)v->arrived));
		json_object_set_new(q, "served", json_integer((json_int_t)v->served));
		json_object_set_new(q, "refused", json_integer((json_int_t)v->rejected));
		json_object_set_new(q, "throughput", jsig(v->throughput));
		json_object_set_new(q, "latency", jlat(&v->latency));
		json_object_set_new(o, "requests", q);
	}
	json_object_set_new(o, "work_rate", jsig(v->work_rate));
	json_object_set_new(o, "slowdown", jsig(v->slowdown));
	json_object_set_new(o, "remote_pct", jsig(v->remote_pct));
	json_t *st = json_object();
	json_object_set_new(st, "avg_pct", jsig(v->steal_avg_pct));
	json_object_set_new(st, "max_pct", jsig(v->steal_max_pct));
	json_t *pv = json_array();
	for (unsigned j = 0; j < v->vcpus; j++) {
		json_t *x = json_object();
		json_object_set_new(x, "vcpu", json_integer(j));
		json_object_set_new(x, "steal_pct", jsig(v->vcpu[j].steal_pct));
		json_object_set_new(x, "busy_pct", jsig(v->vcpu[j].busy_pct));
		json_object_set_new(x, "softirq_pct", jsig(v->vcpu[j].softirq_pct));
		json_object_set_new(x, "system_pct", jsig(v->vcpu[j].sys_pct));
		json_object_set_new(x, "last_cpu", json_integer(v->vcpu[j].cpu_last));
		json_array_append_new(pv, x);
	}
	json_object_set_new(st, "per_vcpu", pv);
	json_object_set_new(o, "steal", st);
	if (v->net) {
		json_t *n = json_object();
		json_object_set_new(n, "queues", json_integer(v->queues));
		json_object_set_new(n, "tx_offered", json_integer((json_int_t)v->tx_offered));
		json_object_set_new(n, "tx_sent", json_integer((json_int_t)v->tx_sent));
		json_object_set_new(n, "tx_qdisc_drops", json_integer((json_int_t)v->tx_qdisc_drops));
		json_object_set_new(n, "tx_ring_drops", json_integer((json_int_t)v->tx_ring_drops));
		json_object_set_new(n, "rx_offered", json_integer((json_int_t)v->rx_offered));
		json_object_set_new(n, "rx_delivered", json_integer((json_int_t)v->rx_delivered));
		json_object_set_new(n, "rx_host_drops", json_integer((json_int_t)v->rx_host_drops));
		json_object_set_new(n, "rx_time_squeeze", json_integer((json_int_t)v->rx_squeeze));
		json_object_set_new(o, "net", n);
	}
	if (v->io) {
		json_t *n = json_object();
		json_object_set_new(n, "done", json_integer((json_int_t)v->io_done));
		json_object_set_new(n, "latency", jlat(&v->io_total));
		json_t *l = json_object();
		json_object_set_new(l, "guest_queue", jlat(&v->io_guest));
		json_object_set_new(l, "host_queue", jlat(&v->io_host));
		json_object_set_new(l, "device", jlat(&v->io_device));
		json_object_set_new(n, "layers", l);
		json_object_set_new(o, "io", n);
	}
	if (v->memory) {
		json_t *n = json_object();
		json_object_set_new(n, "balloon_mib", jsig(v->balloon_mib));
		json_object_set_new(n, "balloon_max_mib", jsig(v->balloon_max_mib));
		json_object_set_new(n, "host_swapped_max_mib", jsig(v->host_swapped_max_mib));
		json_object_set_new(n, "host_faults_per_s", jsig(v->host_faults_per_s));
		json_object_set_new(n, "guest_swapin_per_s", jsig(v->guest_swapin_per_s));
		json_object_set_new(n, "guest_pressure_pct", jsig(v->guest_pressure_pct));
		json_object_set_new(o, "memory", n);
	}
	if (v->compactions) {
		json_t *n = json_object();
		json_object_set_new(n, "stalls", json_integer((json_int_t)v->compactions));
		json_object_set_new(n, "stall_pct", jsig(v->compaction_stall_pct));
		json_object_set_new(o, "compaction", n);
	}
	return o;
}

static json_t *group_json(const struct sim_group_result *g)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", jstr(g->name));
	json_object_set_new(o, "vms", json_integer(g->vms));
	json_object_set_new(o, "vcpus", json_integer(g->vcpus));
	json_object_set_new(o, "workload", json_string(work_name(g->work)));
	json_object_set_new(o, "served", json_integer((json_int_t)g->served));
	json_object_set_new(o, "throughput", jsig(g->throughput));
	json_object_set_new(o, "work_rate", jsig(g->work_rate));
	json_object_set_new(o, "latency", jlat(&g->latency));
	json_object_set_new(o, "steal_avg_pct", jsig(g->steal_avg_pct));
	json_object_set_new(o, "steal_max_pct", jsig(g->steal_max_pct));
	json_object_set_new(o, "remote_pct", jsig(g->remote_pct));
	if (g->io)
		json_object_set_new(o, "io_latency", jlat(&g->io_total));
	if (g->net) {
		json_object_set_new(o, "tx_drops", json_integer((json_int_t)g->tx_drops));
		json_object_set_new(o, "rx_host_drops", json_integer((json_int_t)g->rx_host_drops));
	}
	return o;
}

static json_t *mig_json(const struct sim_mig_result *g)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", jstr(g->name));
	json_object_set_new(o, "vm", jstr(g->vm));
	json_object_set_new(o, "finished", json_boolean(g->finished));
	json_object_set_new(o, "converged", json_boolean(g->converged));
	json_object_set_new(o, "postcopy", json_boolean(g->postcopy));
	json_object_set_new(o, "rounds", json_integer(g->rounds));
	json_object_set_new(o, "start", jsig(g->start));
	json_object_set_new(o, "total_time", jsig(g->total_time));
	json_object_set_new(o, "downtime", jsig(g->downtime));
	json_object_set_new(o, "transferred", jsig(g->transferred));
	json_object_set_new(o, "postcopy_time", jsig(g->postcopy_time));
	json_object_set_new(o, "throttle_steps", json_integer(g->throttle_steps));
	json_object_set_new(o, "throttle_max_pct", jsig(g->throttle_max_pct));
	json_t *a = json_array();
	for (unsigned k = 0; k < g->nr; k++) {
		json_t *x = json_object();
		json_object_set_new(x, "sent", jsig(g->r[k].sent));
		json_object_set_new(x, "duration", jsig(g->r[k].duration));
		json_object_set_new(x, "dirtied", jsig(g->r[k].dirtied));
		json_object_set_new(x, "throttle_pct", jsig(g->r[k].throttle_pct));
		json_array_append_new(a, x);
	}
	json_object_set_new(o, "round_list", a);
	return o;
}

json_t *sim_result_json(const char *path, const struct sim_scenario *sc, const struct sim_result *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "hiddenq", json_string(HQ_VERSION));
	json_object_set_new(o, "scenario", jstr(path));
	json_object_set_new(o, "seed", json_integer((json_int_t)r->seed));
	json_object_set_new(o, "simulated_s", jsig(r->simulated));
	json_object_set_new(o, "warmup_s", jsig(r->warmup));
	json_object_set_new(o, "warmup_customers", json_integer((json_int_t)sc->warmup_customers));
	json_object_set_new(o, "events", json_integer((json_int_t)r->events));
	json_t *st = json_array();
	for (unsigned i = 0; i < r->nst; i++)
		json_array_append_new(st, station_json(&r->st[i]));
	json_object_set_new(o, "stations", st);
	if (r->host && r->cpus) {
		json_t *h = json_object();
		json_object_set_new(h, "cpus", json_integer(r->cpus));
		json_object_set_new(h, "nodes", json_integer(r->nodes));
		json_object_set_new(h, "vcpus", json_integer(r->vcpus_total));
		json_object_set_new(h, "vcpus_per_cpu", jsig(r->overcommit));
		json_object_set_new(h, "utilization", jsig(r->cpu_util));
		json_object_set_new(h, "runq", jsig(r->runq));
		if (r->host_memory) {
			json_object_set_new(h, "memory_mib", jsig((double)r->host_memory / 1048576.0));
			json_object_set_new(h, "swapped_max_mib", jsig(r->host_swapped_max_mib));
		}
		json_t *cs = json_array();
		for (unsigned i = 0; i < r->cpus; i++) {
			json_t *x = json_object();
			json_object_set_new(x, "cpu", json_integer(r->cpu[i].cpu));
			json_object_set_new(x, "node", json_integer(r->cpu[i].node));
			json_object_set_new(x, "utilization", jsig(r->cpu[i].utilization));
			json_object_set_new(x, "runq", jsig(r->cpu[i].runq));
			json_array_append_new(cs, x);
		}
		json_object_set_new(h, "per_cpu", cs);
		json_object_set_new(o, "host", h);
	}
	json_t *gs = json_array();
	for (unsigned i = 0; i < r->ngrp; i++)
		json_array_append_new(gs, group_json(&r->grp[i]));
	json_object_set_new(o, "groups", gs);
	json_t *vs = json_array();
	for (unsigned i = 0; i < r->nvm; i++)
		json_array_append_new(vs, vm_json(&r->vm[i]));
	json_object_set_new(o, "vms", vs);
	json_t *ms = json_array();
	for (unsigned i = 0; i < r->nmig; i++)
		json_array_append_new(ms, mig_json(&r->mig[i]));
	json_object_set_new(o, "migrations", ms);
	if (r->bundle_samples) {
		json_t *b = json_object();
		json_object_set_new(b, "view", json_string(r->bundle_host ? "host" : "guest"));
		json_object_set_new(b, "vm", jstr(r->bundle_vm));
		json_object_set_new(b, "samples", json_integer(r->bundle_samples));
		json_object_set_new(o, "bundle", b);
	}
	return o;
}

/* ---- sweeps: one row per value, the headline figures of each thing ---- */


/* the columns of a sweep, from the first point's shape */
static unsigned sweep_cols(const struct sim_result *r, char names[][96], unsigned max)
{
	unsigned n = 0;
#define COL(...)                                                        \
	do {                                                            \
		if (n < max)                                            \
			snprintf(names[n++], 96, __VA_ARGS__);          \
	} while (0)
	for (unsigned i = 0; i < r->nst; i++) {
		COL("%s.utilization", r->st[i].name);
		COL("%s.wait_mean", r->st[i].name);
		COL("%s.wait_p99", r->st[i].name);
		COL("%s.response_mean", r->st[i].name);
		COL("%s.response_p99", r->st[i].name);
		if (r->st[i].dropped)
			COL("%s.dropped", r->st[i].name);
	}
	if (r->host && r->cpus) {
		COL("host.utilization");
		COL("host.runq");
	}
	for (unsigned g = 0; g < r->ngrp; g++) {
		const struct sim_group_result *o = &r->grp[g];
		if (o->work == WORK_REQUESTS) {
			COL("%s.throughput", o->name);
			COL("%s.p50", o->name);
			COL("%s.p99", o->name);
		} else if (o->work == WORK_CPU) {
			COL("%s.work_rate", o->name);
		}
		COL("%s.steal_avg_pct", o->name);
		COL("%s.steal_max_pct", o->name);
		if (o->net)
			COL("%s.drops_per_s", o->name);
		if (o->io)
			COL("%s.io_p99", o->name);
	}
	for (unsigned i = 0; i < r->nmig; i++) {
		COL("%s.converged", r->mig[i].name);
		COL("%s.total_time", r->mig[i].name);
		COL("%s.downtime", r->mig[i].name);
		COL("%s.rounds", r->mig[i].name);
		COL("%s.throttle_max_pct", r->mig[i].name);
	}
#undef COL
	return n;
}

/* the value of column `name` in a result (NAN when it has none) */
static double col_value(const struct sim_result *r, const char *name)
{
	double T = r->simulated - r->warmup;
	const char *dot = strrchr(name, '.');
	if (!dot)
		return NAN;
	size_t l = (size_t)(dot - name);
	const char *f = dot + 1;
	if (!strncmp(name, "host", l) && l == 4)
		return !strcmp(f, "utilization") ? r->cpu_util : r->runq;
	for (unsigned i = 0; i < r->nst; i++) {
		const struct sim_station_result *s = &r->st[i];
		if (strlen(s->name) != l || strncmp(s->name, name, l))
			continue;
		if (!strcmp(f, "utilization"))
			return s->utilization;
		if (!strcmp(f, "wait_mean"))
			return s->wait.mean;
		if (!strcmp(f, "wait_p99"))
			return s->wait.p99;
		if (!strcmp(f, "response_mean"))
			return s->response.mean;
		if (!strcmp(f, "response_p99"))
			return s->response.p99;
		if (!strcmp(f, "dropped"))
			return (double)s->dropped;
	}
	for (unsigned g = 0; g < r->ngrp; g++) {
		const struct sim_group_result *o = &r->grp[g];
		if (strlen(o->name) != l || strncmp(o->name, name, l))
			continue;
		if (!strcmp(f, "throughput"))
			return o->throughput;
		if (!strcmp(f, "p50"))
			return o->latency.p50;
		if (!strcmp(f, "p99"))
			return o->latency.p99;
		if (!strcmp(f, "work_rate"))
			return o->work_rate;
		if (!strcmp(f, "steal_avg_pct"))
			return o->steal_avg_pct;
		if (!strcmp(f, "steal_max_pct"))
			return o->steal_max_pct;
		if (!strcmp(f, "drops_per_s"))
			return T > 0 ? (double)(o->tx_drops + o->rx_host_drops) / T : 0;
		if (!strcmp(f, "io_p99"))
			return o->io_total.p99;
	}
	for (unsigned i = 0; i < r->nmig; i++) {
		const struct sim_mig_result *g = &r->mig[i];
		if (strlen(g->name) != l || strncmp(g->name, name, l))
			continue;
		if (!strcmp(f, "converged"))
			return g->converged || g->postcopy;
		if (!strcmp(f, "total_time"))
			return g->total_time;
		if (!strcmp(f, "downtime"))
			return g->downtime;
		if (!strcmp(f, "rounds"))
			return g->rounds;
		if (!strcmp(f, "throttle_max_pct"))
			return g->throttle_max_pct;
	}
	return NAN;
}

#define MAXCOLS 64

void sim_sweep_csv(FILE *out, const char *key, const struct sim_point *pt, unsigned n)
{
	if (!n)
		return;
	char names[MAXCOLS][96];
	unsigned nc = sweep_cols(pt[n - 1].r, names, MAXCOLS);
	fprintf(out, "%s", key);
	for (unsigned k = 0; k < nc; k++)
		fprintf(out, ",%s", names[k]);
	fputc('\n', out);
	for (unsigned i = 0; i < n; i++) {
		fprintf(out, "%.10g", pt[i].x);
		for (unsigned k = 0; k < nc; k++) {
			double v = col_value(pt[i].r, names[k]);
			if (isfinite(v))
				fprintf(out, ",%.6g", v);
			else
				fputc(',', out);
		}
		fputc('\n', out);
	}
}

void sim_sweep_text(FILE *out, const char *path, const char *key, const struct sim_point *pt, unsigned n)
{
	if (!n)
		return;
	char names[MAXCOLS][96];
	unsigned nc = sweep_cols(pt[n - 1].r, names, MAXCOLS);
	fprintf(out, "hiddenq %s sim — %s, sweep of %s over %u values, seed %llu (times in seconds)\n\n", HQ_VERSION, path,
		key, n, (unsigned long long)pt[0].r->seed);
	/* one column per figure, as wide as its name */
	fprintf(out, "%12s", key[0] ? "value" : "");
	for (unsigned k = 0; k < nc; k++)
		fprintf(out, "  %*s", (int)(strlen(names[k]) < 10 ? 10 : strlen(names[k])), names[k]);
	fputc('\n', out);
	for (unsigned i = 0; i < n; i++) {
		if (fabs(pt[i].x) >= 1e5 && pt[i].x == floor(pt[i].x))
			fprintf(out, "%12.0f", pt[i].x);
		else
			fprintf(out, "%12.6g", pt[i].x);
		for (unsigned k = 0; k < nc; k++) {
			double v = col_value(pt[i].r, names[k]);
			int w = (int)(strlen(names[k]) < 10 ? 10 : strlen(names[k]));
			if (!isfinite(v))
				fprintf(out, "  %*s", w, "-");
			else if (fabs(v) >= 1e4)
				fprintf(out, "  %*.0f", w, v);
			else
				fprintf(out, "  %*.4g", w, v);
		}
		fputc('\n', out);
	}
}

json_t *sim_sweep_json(const char *path, const char *key, const struct sim_point *pt, unsigned n)
{
	json_t *o = json_object();
	json_object_set_new(o, "hiddenq", json_string(HQ_VERSION));
	json_object_set_new(o, "scenario", jstr(path));
	json_object_set_new(o, "sweep", jstr(key));
	json_t *a = json_array();
	for (unsigned i = 0; i < n; i++) {
		json_t *x = json_object();
		json_object_set_new(x, "value", jsig(pt[i].x));
		json_t *cols = json_object();
		char names[MAXCOLS][96];
		unsigned nc = sweep_cols(pt[i].r, names, MAXCOLS);
		for (unsigned k = 0; k < nc; k++)
			json_object_set_new(cols, names[k], jsig(col_value(pt[i].r, names[k])));
		json_object_set_new(x, "summary", cols);
		json_array_append_new(a, x);
	}
	json_object_set_new(o, "points", a);
	return o;
}
