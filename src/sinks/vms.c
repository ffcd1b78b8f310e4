/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * KVM host mode, rendered: the VMs, their threads and memory, the overlap
 * matrix and the demand per CPU (analysis/vms.h), as text and as JSON, with
 * the cpu-pinning-conflict finding for `hiddenq vms`.
 */
#include "vms.h"

#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../parse/vmconf.h"
#include "report.h"

static json_t *jnum_or_null(double v)
{
	return v < 0 ? json_null() : json_real((double)(long long)(v * 100 + 0.5) / 100);
}

static json_t *jint_or_null(int64_t v)
{
	return v < 0 ? json_null() : json_integer((json_int_t)v);
}

/* A VM's live migration as its QMP answers showed it: the state, the parameters, each pass seen. */
static json_t *mig_json(const struct mig_track *t)
{
	const struct mig_info *m = &t->last;
	json_t *o = json_object();
	json_object_set_new(o, "status", json_string(m->status_name[0] ? m->status_name : mig_status_name(m->status)));
	json_object_set_new(o, "passes", jint_or_null(m->dirty_sync_count));
	json_object_set_new(o, "remaining_bytes", jint_or_null(m->remaining));
	json_object_set_new(o, "transferred_bytes", jint_or_null(m->transferred));
	json_object_set_new(o, "total_bytes", jint_or_null(m->total));
	double d = mig_dirty_bytes_per_s(m);
	json_object_set_new(o, "dirty_bytes_per_s", d < 0 ? json_null() : json_real(d));
	json_object_set_new(o, "sent_bytes_per_s", m->mbps < 0 ? json_null() : json_real(m->mbps * 1e6 / 8));
	json_object_set_new(o, "expected_downtime_ms", jint_or_null(m->expected_downtime_ms));
	json_object_set_new(o, "cpu_throttle_pct", m->cpu_throttle_pct < 0 ? json_null() : json_integer(m->cpu_throttle_pct));
	json_object_set_new(o, "postcopy", json_boolean(m->status == MIG_POSTCOPY));
	json_object_set_new(o, "postcopy_requests", jint_or_null(m->postcopy_requests));
	if (t->downtime_ms >= 0)
		json_object_set_new(o, "downtime_ms", json_integer((json_int_t)t->downtime_ms));
	if (m->error_desc[0])
		json_object_set_new(o, "error", json_string(m->error_desc));
	json_object_set_new(o, "ended_during_watch", json_boolean(t->ended));
	json_t *p = json_object();
	json_object_set_new(p, "downtime_limit_ms", jint_or_null(t->params.downtime_limit_ms));
	json_object_set_new(p, "max_bandwidth_bytes_per_s", jint_or_null(t->params.max_bandwidth));
	json_object_set_new(p, "auto_converge", t->params.auto_converge < 0 ? json_null() : json_boolean(t->params.auto_converge));
	json_object_set_new(p, "postcopy_ram", t->params.postcopy_ram < 0 ? json_null() : json_boolean(t->params.postcopy_ram));
	json_object_set_new(o, "parameters", p);
	json_t *pa = json_array();
	for (unsigned i = 0; i < t->npass; i++) {
		const struct mig_pass *ps = mig_track_pass(t, i);
		json_t *x = json_object();
		json_object_set_new(x, "pass", json_integer((json_int_t)ps->n));
		json_object_set_new(x, "backlog_bytes", jint_or_null(ps->backlog));
		json_object_set_new(x, "dirty_bytes_per_s", ps->dirty_Bps < 0 || ps->n < 2 ? json_null() : json_real(ps->dirty_Bps));
		double sent = mig_pass_throughput(ps);
		json_object_set_new(x, "sent_bytes_per_s", sent < 0 ? json_null() : json_real(sent));
		json_object_set_new(x, "cpu_throttle_pct", ps->throttle < 0 ? json_null() : json_integer(ps->throttle));
		json_object_set_new(x, "expected_downtime_ms", jint_or_null(ps->expected_downtime_ms));
		json_array_append_new(pa, x);
	}
	json_object_set_new(o, "passes_seen", pa);
	return o;
}

json_t *vms_json(const struct vms_analysis *a)
{
	json_t *o = json_object();
	double secs = vms_watch_s(a);
	json_object_set_new(o, "window_s", json_real(secs));
	json_t *arr = json_array();
	for (size_t i = 0; i < a->n; i++) {
		const struct vms_vm *vm = &a->vms[i];
		json_t *v = json_object();
		json_object_set_new(v, "name", json_string(vm->name));
		json_object_set_new(v, "name_source", json_string(vm->name_src));
		json_object_set_new(v, "pid", json_integer(vm->pid));
		json_object_set_new(v, "vmm", json_string(vm->vmm));
		json_object_set_new(v, "uuid", vm->uuid[0] ? json_string(vm->uuid) : json_null());
		json_object_set_new(v, "machine_id", vm->machine_id[0] ? json_string(vm->machine_id) : json_null());
		json_object_set_new(v, "vcpus", json_integer(vm->nvcpus));
		if (vm->vcpus_unnamed)
			json_object_set_new(v, "vcpus_unnamed", json_true());
		char buf[1024];
		cpumask_format(&vm->cpus, buf, sizeof(buf));
		json_object_set_new(v, "cpus_allowed", json_string(buf));
		if (vm->have_conf) {
			json_object_set_new(v, "accel", json_string(vm->conf.accel));
			json_object_set_new(v, "memory_mib",
					    vm->conf.mem_mib ? json_integer((json_int_t)vm->conf.mem_mib) : json_null());
			if (vm->conf.rejected[0])
				json_object_set_new(v, "config_rejected", json_string(vm->conf.rejected));
		}
		json_t *ta = json_array();
		for (size_t j = 0; j < vm->nth; j++) {
			const struct vms_thread *t = &vm->th[j];
			json_t *tj = json_object();
			json_object_set_new(tj, "tid", json_integer(t->tid));
			json_object_set_new(tj, "kind", json_string(tkind_name(t->kind)));
			if (t->vcpu >= 0)
				json_object_set_new(tj, "vcpu", json_integer(t->vcpu));
			json_object_set_new(tj, "comm", json_string(t->comm));
			json_object_set_new(tj, "run_delay_pct", jnum_or_null(t->delay_pct));
			json_object_set_new(tj, "cpu_pct", jnum_or_null(t->cpu_pct));
			json_object_set_new(tj, "run_delay_worst_1s_pct", jnum_or_null(t->worst_win));
			json_object_set_new(tj, "windows_ge_20", json_integer(t->win_ge20));
			if (t->have_allowed) {
				cpumask_format(&t->allowed, buf, sizeof(buf));
				json_object_set_new(tj, "cpus_allowed", json_string(buf));
			}
			json_object_set_new(tj, "last_cpu", t->processor >= 0 ? json_integer(t->processor) : json_null());
			json_array_append_new(ta, tj);
		}
		json_object_set_new(v, "threads", ta);
		json_t *m = json_object();
		if (vm->have_status) {
			json_object_set_new(m, "rss_kb", json_integer((json_int_t)vm->vmrss_kb));
			json_object_set_new(m, "swap_kb", json_integer((json_int_t)vm->vmswap_kb));
			json_object_set_new(m, "hugetlb_kb", json_integer((json_int_t)vm->hugetlb_kb));
		}
		if (vm->have_rollup)
			json_object_set_new(m, "anon_huge_kb", json_integer((json_int_t)vm->anon_huge_kb));
		if (vm->have_rollup && vm->rss_kb)
			json_object_set_new(m, "thp_pct",
					    json_real(100.0 * (double)vm->anon_huge_kb / (double)vm->rss_kb));
		if (vm->have_numa) {
			json_t *nodes = json_object();
			for (unsigned n = 0; n < vm->nm.nodes_seen && n < NUMA_MAPS_MAX_NODES; n++) {
				char k[16];
				snprintf(k, sizeof(k), "%u", n);
				json_object_set_new(nodes, k, json_integer((json_int_t)vm->nm.kb_on_node[n]));
			}
			json_object_set_new(m, "kb_per_node", nodes);
			json_object_set_new(m, "remote_pct", jnum_or_null(vms_remote_mem_pct(a, vm)));
		}
		if (vm->have_kvm_pages) {
			json_t *kp = json_object();
			json_object_set_new(kp, "4k", json_integer((json_int_t)vm->kvm_pages[0]));
			json_object_set_new(kp, "2m", json_integer((json_int_t)vm->kvm_pages[1]));
			json_object_set_new(kp, "1g", json_integer((json_int_t)vm->kvm_pages[2]));
			double tot = (double)vm->kvm_pages[0] * 4 + (double)vm->kvm_pages[1] * 2048 +
				     (double)vm->kvm_pages[2] * 1048576;
			json_object_set_new(kp, "huge_pct",
					    tot > 0 ? json_real(100.0 * (tot - (double)vm->kvm_pages[0] * 4) / tot)
						    : json_null());
			json_object_set_new(m, "kvm_pages", kp);
		} else {
			json_object_set_new(m, "kvm_pages_unavailable", json_string(vms_kvm_pages_why(vm)));
		}
		json_object_set_new(v, "memory", m);
		json_t *dja = json_array();
		for (unsigned k = 0; k < vm->ndisks; k++) {
			const struct vms_disk *d = &vm->disks[k];
			json_t *dj = json_object();
			json_object_set_new(dj, "id", json_string(d->id));
			json_object_set_new(dj, "file", json_string(d->file));
			json_t *bk = json_object();
			if (d->dev[0]) {
				json_object_set_new(bk, "dev", json_string(d->dev));
				json_object_set_new(bk, "disk", json_string(d->disk));
				if (d->via[0])
					json_object_set_new(bk, "via", json_string(d->via));
				struct vms_disk_rate r;
				if (vms_disk_rate(d, &r)) {
					json_object_set_new(bk, "rd_s", json_real(r.rd_s));
					json_object_set_new(bk, "wr_s", json_real(r.wr_s));
					json_object_set_new(bk, "await_ms", jnum_or_null(r.await_ms));
					json_object_set_new(bk, "util_pct", json_real(r.util_pct));
				} else {
					json_object_set_new(bk, "await_ms", json_null());
					json_object_set_new(bk, "diskstats_error",
							    json_string("no /proc/diskstats line for this disk"));
				}
				json_t *bl = json_object();
				json_object_set_new(bl, "requests", json_integer((json_int_t)d->bio_n));
				json_object_set_new(bl, "p50_us", jnum_or_null(d->bio_p50_us));
				json_object_set_new(bl, "p99_us", jnum_or_null(d->bio_p99_us));
				if (d->bio_why[0])
					json_object_set_new(bl, "why", json_string(d->bio_why));
				json_object_set_new(bk, "biolat", bl);
			} else {
				json_object_set_new(bk, "error", json_string(d->err[0] ? d->err : "not resolved"));
			}
			json_object_set_new(dj, "backing", bk);
			json_object_set_new(dj, "format", json_string(d->format));
			json_object_set_new(dj, "cache", json_string(d->cache));
			json_object_set_new(dj, "aio", json_string(d->aio));
			if (d->chain.n) {
				json_t *cj = image_chain_json(&d->chain);
				json_object_set_new(cj, "depth", json_integer(d->chain.n));
				json_object_set_new(cj, "layers_on_other_queues", json_integer(image_chain_queues(&d->chain)));
				json_object_set_new(dj, "chain", cj);
			} else if (d->chain_why[0]) {
				json_object_set_new(dj, "chain_error", json_string(d->chain_why));
			}
			json_array_append_new(dja, dj);
		}
		json_object_set_new(v, "disks", dja);
		json_t *tp = json_array();
		for (unsigned k = 0; k < vm->ntaps; k++) {
			const struct vms_tap *t = &vm->taps[k];
			json_t *tj = json_object();
			json_object_set_new(tj, "ifname", json_string(t->ifname));
			json_object_set_new(tj, "queues", json_integer(t->queues));
			if (t->have) {
				json_object_set_new(tj, "rx_dropped", json_integer((json_int_t)(t->rx_drop[1] - t->rx_drop[0])));
				json_object_set_new(tj, "tx_dropped", json_integer((json_int_t)(t->tx_drop[1] - t->tx_drop[0])));
				json_object_set_new(tj, "tx_dropped_total", json_integer((json_int_t)t->tx_drop[1]));
			}
			json_array_append_new(tp, tj);
		}
		json_object_set_new(v, "taps", tp);
		if (vm->mig.seen) {
			json_t *mj = mig_json(&vm->mig);
			json_object_set_new(mj, "via", json_string(vm->mig_libvirt ? "libvirt" : "qmp"));
			json_object_set_new(v, "migration", mj);
		}
		if (vm->mig_error[0])
			json_object_set_new(v, "migration_error", json_string(vm->mig_error));
		struct vms_blk blk[16];
		size_t nb = vms_blockstats(vm, blk, 16, secs);
		if (nb || vm->qmp_error) {
			json_t *q = json_object();
			json_t *ba = json_array();
			for (size_t k = 0; k < nb; k++) {
				json_t *b = json_object();
				json_object_set_new(b, "device", json_string(blk[k].device));
				json_object_set_new(b, "rd_ops_s", json_real(blk[k].rd_ops_s));
				json_object_set_new(b, "wr_ops_s", json_real(blk[k].wr_ops_s));
				json_object_set_new(b, "rd_latency_us", jnum_or_null(blk[k].rd_lat_us));
				json_object_set_new(b, "wr_latency_us", jnum_or_null(blk[k].wr_lat_us));
				json_object_set_new(b, "flush_latency_us", jnum_or_null(blk[k].flush_lat_us));
				json_t *hj = json_object();
				for (int op = 0; op < VMS_BLK_NOPS; op++) {
					const struct vms_blk_hist *h = &blk[k].hist[op];
					if (!h->have)
						continue;
					json_t *x = json_object();
					json_object_set_new(x, "requests", json_integer((json_int_t)h->n));
					json_object_set_new(x, "p50_us", jnum_or_null(h->p50_us));
					json_object_set_new(x, "p99_us", jnum_or_null(h->p99_us));
					json_object_set_new(x, "p50_at_least", json_boolean(h->p50_open));
					json_object_set_new(x, "p99_at_least", json_boolean(h->p99_open));
					json_object_set_new(x, "reset_during_watch", json_boolean(h->reset));
					json_object_set_new(hj, vms_blk_op_names[op], x);
				}
				if (json_object_size(hj))
					json_object_set_new(b, "latency_histograms", hj);
				else
					json_decref(hj);
				json_array_append_new(ba, b);
			}
			json_object_set_new(q, "blockstats", ba);
			if (vm->qmp_error)
				json_object_set_new(q, "error", json_string(vm->qmp_error));
			json_object_set_new(v, "qmp", q);
		}
		json_array_append_new(arr, v);
	}
	json_object_set_new(o, "vms", arr);
	/* overlap: pairs of VMs sharing CPUs */
	json_t *ov = json_array();
	size_t npairs = 0;
	for (size_t i = 0; i < a->n; i++)
		for (size_t j = i + 1; j < a->n; j++) {
			struct cpumask sh;
			unsigned w = vms_overlap(a, i, j, &sh);
			if (!w)
				continue;
			if (npairs++ >= 2000)
				continue;
			char buf[1024];
			cpumask_format(&sh, buf, sizeof(buf));
			json_t *p = json_object();
			json_object_set_new(p, "a", json_string(a->vms[i].name));
			json_object_set_new(p, "b", json_string(a->vms[j].name));
			json_object_set_new(p, "shared_cpus", json_string(buf));
			json_object_set_new(p, "count", json_integer(w));
			json_array_append_new(ov, p);
		}
	json_object_set_new(o, "overlap", ov);
	json_object_set_new(o, "overlap_pairs", json_integer((json_int_t)npairs));
	struct vms_cpu_demand *d = xcalloc(VMS_MAX_CPUS, sizeof(*d));
	size_t nd = vms_cpu_demand(a, d, VMS_MAX_CPUS);
	json_t *da = json_array();
	for (size_t k = 0; k < nd; k++) {
		json_t *c = json_object();
		json_object_set_new(c, "cpu", json_integer(d[k].cpu));
		json_object_set_new(c, "vcpus_allowed", json_integer(d[k].vcpus_allowed));
		json_object_set_new(c, "vcpus_weighted", json_real(d[k].vcpus_weighted));
		json_object_set_new(c, "demand_cpus", json_real(d[k].demand));
		json_object_set_new(c, "delay_cpus", json_real(d[k].delay));
		json_object_set_new(c, "vms", json_integer(d[k].vms));
		json_object_set_new(c, "isolated", json_boolean(cpumask_test(&a->isolated, d[k].cpu)));
		json_array_append_new(da, c);
	}
	free(d);
	json_object_set_new(o, "cpu_demand", da);
	json_t *h = json_object();
	unsigned nv = vms_total_vcpus(a);
	uint64_t gm = vms_total_guest_mib(a);
	json_object_set_new(h, "vcpus", json_integer(nv));
	json_object_set_new(h, "cpus_online", json_integer(a->ncpus_online));
	json_object_set_new(h, "vcpu_per_cpu", a->ncpus_online ? json_real((double)nv / a->ncpus_online) : json_null());
	json_object_set_new(h, "guest_memory_mib", json_integer((json_int_t)gm));
	json_object_set_new(h, "host_memory_mib", json_integer((json_int_t)(a->memtotal_kb / 1024)));
	json_object_set_new(h, "guest_per_host_memory",
			    a->memtotal_kb ? json_real((double)gm * 1024 / (double)a->memtotal_kb) : json_null());
	json_object_set_new(o, "host", h);
	json_t *c = json_object();
	json_object_set_new(c, "sample_us", json_integer((json_int_t)a->cost_sample_us));
	json_object_set_new(c, "discovery_us", json_integer((json_int_t)a->cost_discovery_us));
	json_object_set_new(c, "fds_open", json_integer((json_int_t)a->fds_open));
	if (a->ss_source[0])
		json_object_set_new(c, "schedstat_source", json_string(a->ss_source));
	if (a->ss_why[0])
		json_object_set_new(c, "schedstat_source_why", json_string(a->ss_why));
	if (a->ss_iter[0])
		json_object_set_new(c, "schedstat_iter", json_string(a->ss_iter));
	if (a->ss_iter_why[0])
		json_object_set_new(c, "schedstat_iter_why", json_string(a->ss_iter_why));
	json_object_set_new(o, "cost", c);
	return o;
}

static const char *pct(char *b, size_t n, double v)
{
	if (v < 0)
		snprintf(b, n, "-");
	else
		snprintf(b, n, "%.1f", v);
	return b;
}

/* The image under a disk: its format, cache and IO modes, and the chain of files a read may go through. */
static void disk_image_print(FILE *out, const struct vms_disk *d)
{
	fprintf(out, "    image: %s, cache=%s aio=%s", d->format[0] ? d->format : d->chain.n ? d->chain.layer[0].format : "?",
		d->cache[0] ? d->cache : "?", d->aio[0] ? d->aio : "?");
	if (d->chain.n) {
		char buf[1024];
		image_chain_format(&d->chain, buf, sizeof(buf));
		unsigned q = image_chain_queues(&d->chain);
		fprintf(out, "; %s%u layer%s: %s", d->chain.truncated ? "more than " : "", d->chain.n,
			d->chain.n == 1 ? "" : "s", buf);
		if (q)
			fprintf(out, " (%u on another device, filesystem or the network: a queue each)", q);
	} else if (d->chain_why[0]) {
		fprintf(out, "; chain not read: %s", d->chain_why);
	}
	fprintf(out, "\n");
}

static void mig_print(FILE *out, const struct mig_track *t)
{
	const struct mig_info *m = &t->last;
	const double mib = 1048576.0;
	fprintf(out, "  migration: %s", m->status_name[0] ? m->status_name : mig_status_name(m->status));
	if (!mig_status_running(m->status) && !t->ended) {
		fprintf(out, "%s\n", m->status == MIG_NONE ? " (none since QEMU started)" : " (before the watch)");
		return;
	}
	if (m->dirty_sync_count >= 0)
		fprintf(out, ", pass %lld", (long long)m->dirty_sync_count);
	if (m->remaining >= 0 && m->total > 0)
		fprintf(out, ", %.1f MiB left of %.0f MiB", (double)m->remaining / mib, (double)m->total / mib);
	double d = mig_dirty_bytes_per_s(m);
	if (d >= 0 && m->mbps >= 0 && mig_status_running(m->status))
		fprintf(out, ", dirty %.1f MiB/s vs sent %.1f MiB/s", d / mib, m->mbps * 1e6 / 8 / mib);
	if (m->expected_downtime_ms >= 0 && mig_status_running(m->status))
		fprintf(out, ", expected downtime %lld ms", (long long)m->expected_downtime_ms);
	if (t->params.downtime_limit_ms >= 0)
		fprintf(out, " (limit %lld ms)", (long long)t->params.downtime_limit_ms);
	if (m->cpu_throttle_pct >= 0)
		fprintf(out, ", vCPUs throttled %d %%", m->cpu_throttle_pct);
	if (t->downtime_ms >= 0)
		fprintf(out, ", downtime %lld ms", (long long)t->downtime_ms);
	if (m->error_desc[0])
		fprintf(out, ": %s", m->error_desc);
	fprintf(out, "\n");
	unsigned from = t->npass > 8 ? t->npass - 8 : 0;
	for (unsigned i = from; i < t->npass; i++) {
		const struct mig_pass *p = mig_track_pass(t, i);
		double sent = mig_pass_throughput(p);
		char db[16] = "-", sb[16] = "-";
		if (p->dirty_Bps >= 0 && p->n >= 2)
			snprintf(db, sizeof(db), "%.1f", p->dirty_Bps / mib);
		if (sent >= 0)
			snprintf(sb, sizeof(sb), "%.1f", sent / mib);
		fprintf(out, "    pass %-4lld backlog %7.1f MiB  dirty %6s MiB/s  sent %6s MiB/s\n", (long long)p->n,
			p->backlog < 0 ? 0 : (double)p->backlog / mib, db, sb);
	}
}

void vms_print(FILE *out, const struct vms_analysis *a, bool verbose)
{
	double secs = vms_watch_s(a);
	unsigned nv = vms_total_vcpus(a);
	uint64_t gm = vms_total_guest_mib(a);
	fprintf(out, "hiddenq %s vms — %zu VM%s, %u vCPU%s on %u CPU%s", HQ_VERSION, a->n, plural_s(a->n), nv, plural_s(nv),
		a->ncpus_online, plural_s(a->ncpus_online));
	if (a->ncpus_online)
		fprintf(out, " (%.2f:1)", (double)nv / a->ncpus_online);
	if (a->memtotal_kb)
		fprintf(out, ", guest memory %llu MiB of %llu MiB (%.2f:1)", (unsigned long long)gm,
			(unsigned long long)(a->memtotal_kb / 1024), (double)gm * 1024 / (double)a->memtotal_kb);
	fprintf(out, ", watched %.1f s\n", secs);
	if (!a->root)
		fprintf(out, "  (not root: other users' VMs, their memory maps and tap fds are not visible)\n");
	if (!strcmp(a->ss_source, "procfs") && a->ss_why[0] && vms_total_vcpus(a))
		fprintf(out, "  (vCPU schedstat read one /proc file at a time, not by an eBPF program: %s)\n",
			a->ss_why);
	else if (!strcmp(a->ss_source, "bpf_iter") && a->ss_iter_why[0] && vms_total_vcpus(a))
		fprintf(out, "  (vCPU schedstat read by the eBPF program %s, not one tried before it: %s)\n",
			a->ss_iter, a->ss_iter_why);
	char b1[16], b2[16], b3[16], buf[512];
	for (size_t i = 0; i < a->n; i++) {
		const struct vms_vm *vm = &a->vms[i];
		cpumask_format(&vm->cpus, buf, sizeof(buf));
		fprintf(out, "\n%s  (%s, PID %d%s%s%s)  cpus %s\n", vm->name, vm->vmm, vm->pid,
			vm->have_conf && vm->conf.accel[0] ? ", " : "", vm->have_conf ? vm->conf.accel : "",
			vm->vcpus_unnamed ? ", vCPU threads unnamed: add -name ...,debug-threads=on" : "",
			buf[0] ? buf : "?");
		if (vm->uuid[0] || vm->machine_id[0])
			fprintf(out, "  its guest: %s%s%s%s\n", vm->uuid[0] ? "system UUID " : "", vm->uuid,
				vm->machine_id[0] ? (vm->uuid[0] ? ", machine-id " : "machine-id ") : "", vm->machine_id);
		fprintf(out, "  %-18s %-6s %9s %8s %9s  %-12s %s\n", "thread", "kind", "run delay", "cpu %", "worst 1s",
			"allowed", "ran on");
		for (size_t j = 0; j < vm->nth; j++) {
			const struct vms_thread *t = &vm->th[j];
			bool idle = t->cpu_pct <= 0.05 && t->delay_pct <= 0.05;
			if (!verbose && t->kind != TK_VCPU && t->kind != TK_VHOST && t->kind != TK_IO && t->kind != TK_MAIN &&
			    idle)
				continue;
			char al[64] = "?";
			if (t->have_allowed)
				cpumask_format(&t->allowed, al, sizeof(al));
			int lv = vms_thread_level(t);
			char ran[16] = "?"; /* its stat was not read (or not parsed): unknown, not CPU -1 */
			if (t->processor >= 0)
				snprintf(ran, sizeof(ran), "%d", t->processor);
			fprintf(out, "  %-18.18s %-6s %8s%% %8s %8s%%  %-12s %s%s\n", t->comm, tkind_name(t->kind),
				pct(b1, sizeof(b1), t->delay_pct), pct(b2, sizeof(b2), t->cpu_pct),
				pct(b3, sizeof(b3), t->worst_win), al, ran,
				lv == 2 ? "  CRIT" : lv == 1 ? "  WARN" : "");
		}
		if (vm->have_status || vm->have_rollup) {
			fprintf(out, "  memory: RSS %llu MiB", (unsigned long long)(vm->vmrss_kb ? vm->vmrss_kb : vm->rss_kb) / 1024);
			if (vm->have_conf && vm->conf.mem_mib)
				fprintf(out, " of %llu MiB configured", (unsigned long long)vm->conf.mem_mib);
			if (vm->have_rollup && vm->rss_kb)
				fprintf(out, ", THP %llu MiB (%.0f %%)", (unsigned long long)vm->anon_huge_kb / 1024,
					100.0 * (double)vm->anon_huge_kb / (double)vm->rss_kb);
			if (vm->hugetlb_kb || vm->hugetlb_rollup_kb)
				fprintf(out, ", hugetlbfs %llu MiB",
					(unsigned long long)(vm->hugetlb_kb ? vm->hugetlb_kb : vm->hugetlb_rollup_kb) / 1024);
			fprintf(out, ", host swap %llu MiB\n", (unsigned long long)vm->vmswap_kb / 1024);
		}
		if (vm->have_numa) {
			fprintf(out, "  NUMA:");
			for (unsigned n = 0; n < vm->nm.nodes_seen && n < NUMA_MAPS_MAX_NODES; n++)
				fprintf(out, " node%u %llu MiB", n, (unsigned long long)vm->nm.kb_on_node[n] / 1024);
			double r = vms_remote_mem_pct(a, vm);
			if (r >= 0)
				fprintf(out, " | %.0f %% on nodes its vCPUs may not run on", r);
			fprintf(out, "\n");
		}
		for (unsigned k = 0; k < vm->ntaps; k++) {
			const struct vms_tap *t = &vm->taps[k];
			fprintf(out, "  tap %s: %u queue%s", t->ifname, t->queues, t->queues == 1 ? "" : "s");
			if (t->have)
				fprintf(out, ", dropped toward the guest %llu (total %llu), from the guest %llu",
					(unsigned long long)(t->tx_drop[1] - t->tx_drop[0]), (unsigned long long)t->tx_drop[1],
					(unsigned long long)(t->rx_drop[1] - t->rx_drop[0]));
			fprintf(out, "\n");
		}
		if (vm->have_kvm_pages)
			fprintf(out, "  KVM mappings: %llu x 4k, %llu x 2M, %llu x 1G\n", (unsigned long long)vm->kvm_pages[0],
				(unsigned long long)vm->kvm_pages[1], (unsigned long long)vm->kvm_pages[2]);
		else
			fprintf(out, "  KVM mappings (debugfs pages_2m): %s\n", vms_kvm_pages_why(vm));
		for (unsigned k = 0; k < vm->ndisks; k++) {
			const struct vms_disk *d = &vm->disks[k];
			fprintf(out, "  disk %s %s: ", d->id[0] ? d->id : "?", d->file);
			if (!d->dev[0]) {
				fprintf(out, "%s\n", d->err[0] ? d->err : "backing device not resolved");
				disk_image_print(out, d);
				continue;
			}
			fprintf(out, "on %s", d->dev);
			if (strcmp(d->dev, d->disk) != 0)
				fprintf(out, " (disk %s)", d->disk);
			if (d->via[0])
				fprintf(out, " via %s", d->via);
			struct vms_disk_rate r;
			if (vms_disk_rate(d, &r))
				fprintf(out, ": %.0f rd/s %.0f wr/s, await %s ms, util %.0f %%", r.rd_s, r.wr_s,
					pct(b1, sizeof(b1), r.await_ms), r.util_pct);
			else
				fprintf(out, ": no diskstats");
			if (d->bio_n)
				fprintf(out, ", biolat p50 %.0f µs p99 %.0f µs", d->bio_p50_us, d->bio_p99_us);
			else if (d->bio_why[0])
				fprintf(out, " (%s)", d->bio_why);
			fprintf(out, "\n");
			disk_image_print(out, d);
		}
		struct vms_blk blk[16];
		size_t nb = vms_blockstats(vm, blk, 16, secs);
		for (size_t k = 0; k < nb; k++) {
			fprintf(out, "  disk %s (QMP): %.0f rd/s %s µs, %.0f wr/s %s µs, flush %s µs\n", blk[k].device,
				blk[k].rd_ops_s, pct(b1, sizeof(b1), blk[k].rd_lat_us), blk[k].wr_ops_s,
				pct(b2, sizeof(b2), blk[k].wr_lat_us), pct(b3, sizeof(b3), blk[k].flush_lat_us));
			bool any = false;
			for (int o = 0; o < VMS_BLK_NOPS; o++) {
				const struct vms_blk_hist *h = &blk[k].hist[o];
				if (!h->have || !h->n)
					continue;
				fprintf(out, "%s%s p50 %s%.0f µs p99 %s%.0f µs (%llu)%s", any ? ", " : "    QEMU latency: ",
					vms_blk_op_names[o], h->p50_open ? ">= " : "", h->p50_us, h->p99_open ? ">= " : "",
					h->p99_us,
					(unsigned long long)h->n, h->reset ? " since a reset" : "");
				any = true;
			}
			if (any)
				fprintf(out, "\n");
		}
		if (vm->mig.seen)
			mig_print(out, &vm->mig);
		if (vm->qmp_error)
			fprintf(out, "  QMP: %s\n", vm->qmp_error);
	}
	/* overlap matrix */
	if (a->n >= 2) {
		fprintf(out, "\nCPU overlap (CPUs each pair of VMs may both use):\n");
		if (a->n <= 12) {
			fprintf(out, "  %-16s", "");
			for (size_t j = 0; j < a->n; j++)
				fprintf(out, " %8.8s", a->vms[j].name);
			fprintf(out, "\n");
			for (size_t i = 0; i < a->n; i++) {
				fprintf(out, "  %-16.16s", a->vms[i].name);
				for (size_t j = 0; j < a->n; j++) {
					if (i == j)
						fprintf(out, " %8s", "-");
					else
						fprintf(out, " %8u", vms_overlap(a, i, j, NULL));
				}
				fprintf(out, "\n");
			}
		}
		size_t shown = 0, total = 0;
		for (size_t i = 0; i < a->n; i++)
			for (size_t j = i + 1; j < a->n; j++) {
				struct cpumask sh;
				if (!vms_overlap(a, i, j, &sh))
					continue;
				total++;
				if (shown >= 20)
					continue;
				shown++;
				cpumask_format(&sh, buf, sizeof(buf));
				fprintf(out, "  %s + %s share CPU %s\n", a->vms[i].name, a->vms[j].name, buf);
			}
		if (total > shown)
			fprintf(out, "  ... and %zu more pairs\n", total - shown);
		if (!total)
			fprintf(out, "  no two VMs share a CPU\n");
	}
	struct vms_cpu_demand *d = xcalloc(VMS_MAX_CPUS, sizeof(*d));
	size_t nd = vms_cpu_demand(a, d, VMS_MAX_CPUS);
	if (nd) {
		fprintf(out, "\nDemand per CPU (run + wait of VM threads, spread over each thread's CPUs):\n");
		fprintf(out, "  %-5s %6s %9s %8s %8s %4s\n", "cpu", "vCPUs", "weighted", "demand", "waiting", "VMs");
		for (size_t k = 0; k < nd && k < 64; k++)
			fprintf(out, "  %-5d %6u %9.2f %8.2f %8.2f %4u%s\n", d[k].cpu, d[k].vcpus_allowed, d[k].vcpus_weighted,
				d[k].demand, d[k].delay, d[k].vms, cpumask_test(&a->isolated, d[k].cpu) ? "  isolated" : "");
		if (nd > 64)
			fprintf(out, "  ... %zu CPUs in all (--json for every one)\n", nd);
	}
	free(d);
}

json_t *vms_report_json(const struct analysis *an, const struct findings *fs)
{
	json_t *j = vms_json(an->host);
	json_t *fj = report_json(an, fs);
	json_object_set(j, "findings", json_object_get(fj, "findings"));
	json_object_set(j, "damaged", json_object_get(fj, "damaged"));
	json_object_set_new(j, "hiddenq", json_string(HQ_VERSION));
	json_decref(fj);
	return j;
}

void vms_report_text(FILE *out, const struct analysis *an, const struct findings *fs, bool verbose)
{
	for (unsigned i = 0; i < an->ndamage; i++)
		fprintf(out, "damaged input: %s\n", an->damage[i]);
	vms_print(out, an->host, verbose);
	fprintf(out, "\n");
	for (size_t k = 0; k < fs->n; k++) {
		const struct finding *f = &fs->v[k];
		fprintf(out, "%-7s %s: %s\n", severity_name(f->sev), f->id, f->title);
		if (f->detail)
			fprintf(out, "        %s\n", f->detail);
		if (f->explain)
			fprintf(out, "        %s\n", f->explain);
		for (size_t i = 0; i < f->nnext; i++)
			fprintf(out, "        → %s\n", f->next[i]);
	}
}
