/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * What a simulated machine would show, as the files hiddenq reads: the
 * guest view of one VM (its vCPUs' /proc/stat with steal, PSI, vmstat,
 * meminfo, diskstats, the network counters and the JSON of the sources that
 * are not files), or the host's view of its VMs (per-vCPU-thread run delay
 * and affinity, as host mode reads them).  Written as capture bundles,
 * diagnose --replay judges a simulated machine like a real one.
 *
 * Only what the model produces is written.  What a guest could not see is
 * not there: host swap and RX-ring overflow are invisible inside, so the
 * guest view has no counter for them (the host view has VmSwap).  What the
 * model does not produce (the stall sampler, per-task run delay, cgroups,
 * the eBPF run-queue histograms) is absent and meta.json says so, so the
 * findings that need it say `unknown`, as on a machine without them.
 */
#include <math.h>
#include <stdlib.h>

#include "../core/json.h"
#include "../core/paths.h"
#include "../core/util.h"
#include "internal.h"

#define USER_HZ 100
#define T0_MONO 1000000000000ull	/* the bundle's clocks start here (1000 s after "boot") */
#define T0_REAL 1700000000000000000ull
#define PKT_BYTES 512

struct view {
	bool host;
	int vm;			/* the guest's VM */
	struct sample statics;
	json_t *meta;
	bool first;
	double last_t;
	/* emitted PSI totals (s): raw figures, clamped to the time that passed */
	double psi[3][2], psi_raw[3][2], avg[3][3];
	double load[3];
	/* host view: per-CPU marks of the last sample, for host PSI */
	double *h_some, *h_busy;
	double h_psi;
};

/* ---- small writers ---- */

static void add(struct sample *s, const char *path, struct strbuf *b)
{
	size_t n;
	char *t = sb_take(b, &n);
	sample_add_take(s, path, t, n);
}

static void addf(struct sample *s, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void addf(struct sample *s, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *t;
	int n = vasprintf(&t, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sample_add_take(s, path, t, (size_t)n);
}

static void add_json(struct sample *s, const char *path, json_t *j)
{
	char *t = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (t)
		sample_add_take(s, path, t, strlen(t));
}

static uint64_t ticks(double s)
{
	return s > 0 ? (uint64_t)(s * USER_HZ) : 0;
}

static json_t *log2_array(const uint64_t *h, unsigned n)
{
	json_t *a = json_array();
	unsigned last = 0;
	for (unsigned i = 0; i < n; i++)
		if (h[i])
			last = i + 1;
	for (unsigned i = 0; i < last; i++)
		json_array_append_new(a, json_integer((json_int_t)h[i]));
	return a;
}

static void cpulist(char *buf, size_t n, unsigned from, unsigned count)
{
	if (count <= 1)
		snprintf(buf, n, "%u", from);
	else
		snprintf(buf, n, "%u-%u", from, from + count - 1);
}

/* the VM the bundle shows: an instance name, a section (its first VM), or the first */
static int find_vm(const struct simctx *c)
{
	const char *want = c->sc->bundle.vm;
	if (!want[0])
		return 0;
	for (uint32_t i = 0; i < c->nvm; i++)
		if (!strcmp(c->vm[i].name, want))
			return (int)i;
	for (uint32_t i = 0; i < c->nvm; i++)
		if (!strcmp(c->vm[i].conf->name, want))
			return (int)i;
	return 0;
}

/* a guest node for each of its vCPUs: the host node of its CPU (vnuma), else 0 */
static unsigned vnode_of(const struct simctx *c, const struct vm *m, unsigned j)
{
	if (!m->conf->vnuma)
		return 0;
	const struct vcpu *v = &c->vc[m->vcpu0 + j];
	for (unsigned cp = 0; cp < c->ncpu; cp++)
		if ((v->allowed[cp / 64] >> (cp % 64)) & 1)
			return c->cpu[cp].node;
	return 0;
}

static unsigned guest_nodes(const struct simctx *c, const struct vm *m)
{
	if (!m->conf->vnuma)
		return 1;
	unsigned n = 1;
	for (unsigned j = 0; j < m->nv; j++)
		if (vnode_of(c, m, j) + 1 > n)
			n = vnode_of(c, m, j) + 1;
	for (unsigned k = 0; k < c->nnodes; k++)
		if (m->mem_frac[k] > 0 && k + 1 > n)
			n = k + 1;
	return n;
}

/* ------------------------------------------------------------------ */
/* statics and meta.json                                               */

static void meta_source(json_t *src, const char *name, bool ok, const char *why)
{
	json_t *o = json_object();
	json_object_set_new(o, "available", json_boolean(ok));
	if (why)
		json_object_set_new(o, "error", json_string(why));
	json_object_set_new(src, name, o);
}

static json_t *identity(bool guest, bool balloon)
{
	json_t *j = json_object();
	json_object_set_new(j, "cpuid_available", json_true());
	json_object_set_new(j, "hypervisor_bit", json_boolean(guest));
	json_object_set_new(j, "hypervisor_signature", json_string(guest ? "KVMKVMKVM" : ""));
	json_object_set_new(j, "hypervisor_signature_inner", json_string(""));
	json_object_set_new(j, "hypervisor_base", json_integer(guest ? 0x40000000 : 0));
	if (guest) {
		json_object_set_new(j, "kvm_features_eax", json_integer(16809723));
		json_object_set_new(j, "kvm_steal_time", json_true());
	}
	json_object_set_new(j, "euid", json_integer(0));
	json_object_set_new(j, "pid", json_integer(1));
	json_object_set_new(j, "btf", json_true());
	json_object_set_new(j, "container_markers", json_array());
	json_t *ex = json_object();
	json_object_set_new(ex, "dev/kvm", json_boolean(!guest));
	json_object_set_new(ex, "sys/bus/virtio/drivers/virtio_balloon", json_boolean(guest && balloon));
	json_object_set_new(ex, "dev/kmsg", json_true());
	json_object_set_new(j, "exists", ex);
	return j;
}

static void guest_statics(struct simctx *c, struct view *w, json_t *src)
{
	struct sample *st = &w->statics;
	const struct vm *m = &c->vm[w->vm];
	const struct sim_vmconf *conf = m->conf;
	char list[64];
	addf(st, "proc/sys/kernel/osrelease", "6.1.0-sim-amd64\n");
	addf(st, "proc/sys/kernel/hostname", "%s\n", m->name);
	addf(st, "proc/sys/kernel/task_delayacct", "0\n");
	cpulist(list, sizeof(list), 0, m->nv);
	addf(st, "sys/devices/system/cpu/online", "%s\n", list);
	addf(st, "sys/devices/system/cpu/possible", "%s\n", list);
	addf(st, "sys/devices/system/cpu/present", "%s\n", list);
	addf(st, "sys/devices/system/cpu/cpuidle/current_driver", "haltpoll\n");
	addf(st, "sys/devices/system/clocksource/clocksource0/current_clocksource", "kvm-clock\n");
	addf(st, "proc/sys/kernel/numa_balancing", "%d\n", conf->vnuma ? 1 : 0);
	addf(st, "sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n");
	addf(st, "sys/kernel/mm/transparent_hugepage/defrag", "always defer defer+madvise [madvise] never\n");
	unsigned nn = guest_nodes(c, m);
	cpulist(list, sizeof(list), 0, nn);
	addf(st, "sys/devices/system/node/online", "%s\n", list);
	addf(st, "sys/devices/system/node/possible", "%s\n", list);
	for (unsigned n = 0; n < nn; n++) {
		char path[96];
		struct strbuf b = { 0 };
		for (unsigned j = 0; j < m->nv; j++)
			if (vnode_of(c, m, j) == n)
				sb_printf(&b, "%s%u", b.len ? "," : "", j);
		sb_puts(&b, "\n");
		snprintf(path, sizeof(path), "sys/devices/system/node/node%u/cpulist", n);
		add(st, path, &b);
		for (unsigned k = 0; k < nn; k++)
			sb_printf(&b, "%s%.0f", k ? " " : "", k == n ? 10.0 : 10.0 * c->remote_ratio);
		sb_puts(&b, "\n");
		snprintf(path, sizeof(path), "sys/devices/system/node/node%u/distance", n);
		add(st, path, &b);
	}
	json_t *devs = json_object(), *blk = json_object(), *net = json_object(), *vio = json_object();
	json_object_set_new(vio, "virtio0", json_string(conf->balloon ? "virtio_balloon" : "virtio_rng"));
	if (conf->io.kind != DIST_NONE) {
		json_t *d = json_object();
		json_object_set_new(d, "device", json_string("virtio1"));
		json_object_set_new(d, "driver", json_string("virtio_blk"));
		json_object_set_new(d, "virtio", json_true());
		json_object_set_new(blk, "vda", d);
		json_object_set_new(vio, "virtio1", json_string("virtio_blk"));
		addf(st, "sys/block/vda/queue/scheduler", "[none] mq-deadline\n");
		addf(st, "sys/block/vda/queue/nr_requests", "256\n");
		addf(st, "sys/block/vda/queue/rotational", "1\n");
		addf(st, "sys/block/vda/queue/write_cache", "write back\n");
		addf(st, "sys/block/vda/queue/hw_sector_size", "512\n");
		addf(st, "sys/block/vda/mq/0/cpu_list", "%s\n", list);
		addf(st, "sys/block/vda/mq/0/nr_tags", "%u\n", conf->io_depth);
	}
	if (m->tx || m->rx) {
		json_t *d = json_object();
		json_object_set_new(d, "device", json_string("virtio2"));
		json_object_set_new(d, "driver", json_string("virtio_net"));
		json_object_set_new(d, "virtio", json_true());
		json_object_set_new(net, "eth0", d);
		json_object_set_new(vio, "virtio2", json_string("virtio_net"));
		addf(st, "sys/class/net/eth0/mtu", "1500\n");
		addf(st, "sys/class/net/eth0/tx_queue_len", "%u\n", conf->qdisc ? conf->qdisc : 1000);
		addf(st, "sys/class/net/eth0/operstate", "up\n");
		addf(st, "sys/class/net/eth0/type", "1\n");
		for (unsigned q = 0; q < conf->queues; q++) {
			char p[96];
			snprintf(p, sizeof(p), "sys/class/net/eth0/queues/rx-%u/rps_cpus", q);
			addf(st, p, "0\n");
			snprintf(p, sizeof(p), "sys/class/net/eth0/queues/tx-%u/tx_maxrate", q);
			addf(st, p, "0\n");
			if (conf->queues > 1) {
				snprintf(p, sizeof(p), "sys/class/net/eth0/queues/tx-%u/xps_cpus", q);
				addf(st, p, "%llx\n", 1ull << (q % m->nv % 64));
			}
		}
	}
	json_object_set_new(devs, "block", blk);
	json_object_set_new(devs, "net", net);
	json_object_set_new(devs, "virtio", vio);
	add_json(st, DEVICES_PATH, devs);
	add_json(st, IDENTITY_PATH, identity(true, conf->balloon));
	const char *nm = "not modelled by hiddenq sim";
	meta_source(src, STALLS_PATH, false, nm);
	meta_source(src, RUNQLAT_PATH, false, nm);
	meta_source(src, KMSG_PATH, false, nm);
	meta_source(src, "proc/PID/task/TID/schedstat", false, nm);
	meta_source(src, "cgroup cpu.stat", false, nm);
	meta_source(src, BIOLAT_PATH, conf->io.kind != DIST_NONE, conf->io.kind != DIST_NONE ? NULL : "no IO in the scenario");
	meta_source(src, COMPACT_PATH, true, NULL);
	meta_source(src, QDISC_PATH, m->tx || m->rx, m->tx || m->rx ? NULL : "no network in the scenario");
	meta_source(src, ETHTOOL_PATH, m->tx || m->rx, m->tx || m->rx ? NULL : "no network in the scenario");
	meta_source(src, "proc/stat", true, NULL);
	meta_source(src, "proc/pressure/cpu", true, NULL);
	meta_source(src, "proc/vmstat", true, NULL);
}

static void host_statics(struct simctx *c, struct view *w, json_t *src)
{
	struct sample *st = &w->statics;
	char list[64];
	addf(st, "proc/sys/kernel/osrelease", "6.1.0-sim-amd64\n");
	addf(st, "proc/sys/kernel/hostname", "sim-host\n");
	addf(st, "proc/sys/kernel/task_delayacct", "0\n");
	cpulist(list, sizeof(list), 0, c->ncpu);
	addf(st, "sys/devices/system/cpu/online", "%s\n", list);
	addf(st, "sys/devices/system/cpu/possible", "%s\n", list);
	addf(st, "sys/devices/system/cpu/present", "%s\n", list);
	addf(st, "proc/sys/kernel/numa_balancing", "0\n");
	cpulist(list, sizeof(list), 0, c->nnodes);
	addf(st, "sys/devices/system/node/online", "%s\n", list);
	addf(st, "sys/devices/system/node/possible", "%s\n", list);
	for (unsigned n = 0; n < c->nnodes; n++) {
		char path[96];
		unsigned first = UINT32_MAX, cnt = 0;
		for (unsigned cp = 0; cp < c->ncpu; cp++)
			if (c->cpu[cp].node == n) {
				if (first == UINT32_MAX)
					first = cp;
				cnt++;
			}
		cpulist(list, sizeof(list), first == UINT32_MAX ? 0 : first, cnt);
		snprintf(path, sizeof(path), "sys/devices/system/node/node%u/cpulist", n);
		addf(st, path, "%s\n", list);
		struct strbuf b = { 0 };
		for (unsigned k = 0; k < c->nnodes; k++)
			sb_printf(&b, "%s%.0f", k ? " " : "", k == n ? 10.0 : 10.0 * c->remote_ratio);
		sb_puts(&b, "\n");
		snprintf(path, sizeof(path), "sys/devices/system/node/node%u/distance", n);
		add(st, path, &b);
	}
	addf(st, "sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n");
	addf(st, "sys/kernel/mm/transparent_hugepage/defrag", "always defer defer+madvise [madvise] never\n");
	add_json(st, IDENTITY_PATH, identity(false, false));
	const char *nm = "not modelled by hiddenq sim";
	meta_source(src, STALLS_PATH, false, nm);
	meta_source(src, RUNQLAT_PATH, false, nm);
	meta_source(src, "cgroup cpu.stat", false, nm);
	meta_source(src, VMSCAN_JSON_PATH, true, NULL);
	meta_source(src, "proc/PID/task/TID/schedstat", true, NULL);
	meta_source(src, "proc/stat", true, NULL);
}

int view_init(struct simctx *c)
{
	struct view *w = xcalloc(1, sizeof(*w));
	c->view = w;
	w->host = c->sc->bundle.host_view;
	w->vm = find_vm(c);
	c->bundle_vm = w->host ? -1 : w->vm;
	c->host_view = w->host;
	w->first = true;
	w->last_t = c->warm;
	sample_init(&w->statics);
	w->h_some = xcalloc(c->ncpu ? c->ncpu : 1, sizeof(double));
	w->h_busy = xcalloc(c->ncpu ? c->ncpu : 1, sizeof(double));
	json_t *src = json_object();
	if (w->host)
		host_statics(c, w, src);
	else
		guest_statics(c, w, src);
	json_t *meta = json_object();
	json_object_set_new(meta, "interval_ms", json_real(c->sc->bundle.interval * 1000));
	json_object_set_new(meta, "hostname", json_string(w->host ? "sim-host" : c->vm[w->vm].name));
	json_object_set_new(meta, "kernel", json_string("6.1.0-sim-amd64"));
	json_object_set_new(meta, "machine", json_string("x86_64"));
	json_object_set_new(meta, "hiddenq", json_string(HQ_VERSION));
	json_object_set_new(meta, "user_hz", json_integer(USER_HZ));
	json_t *stl = json_array();
	for (size_t i = 0; i < w->statics.nfiles; i++)
		json_array_append_new(stl, json_string(w->statics.files[i].path));
	json_object_set_new(meta, "static", stl);
	json_object_set_new(meta, "sources", src);
	unsigned n = (unsigned)floor((c->end - c->warm) / c->sc->bundle.interval + 1e-9) + 1;
	json_object_set_new(meta, "requested_samples", json_integer(n));
	json_t *sim = json_object();
	json_object_set_new(sim, "seed", json_integer((json_int_t)c->sc->seed));
	json_object_set_new(sim, "view", json_string(w->host ? "host" : "guest"));
	json_object_set_new(sim, "vm", json_string(w->host ? "" : c->vm[w->vm].name));
	json_object_set_new(sim, "start_s", json_real(c->warm));
	json_object_set_new(meta, "simulated", sim);
	w->meta = meta;
	return 0;
}

void view_free(struct simctx *c)
{
	struct view *w = c->view;
	if (!w)
		return;
	sample_done(&w->statics);
	json_decref(w->meta);
	free(w->h_some);
	free(w->h_busy);
	free(w);
	c->view = NULL;
}

/* ------------------------------------------------------------------ */
/* PSI                                                                 */

enum { P_CPU, P_MEM, P_IO };

/* a PSI file from emitted totals; the raw figures may overlap (several
 * stalls at once), so what is emitted never grows faster than time */
static void psi_file(struct view *w, struct sample *s, const char *path, int r, double some_raw, double full_raw,
		     double dt)
{
	double raw[2] = { some_raw, full_raw };
	for (int k = 0; k < 2; k++) {
		double d = raw[k] - w->psi_raw[r][k];
		if (d < 0)
			d = 0;
		if (d > dt)
			d = dt;
		w->psi[r][k] += d;
		w->psi_raw[r][k] = raw[k];
	}
	struct strbuf b = { 0 };
	for (int k = 0; k < 2; k++) {
		sb_printf(&b, "%s avg10=%.2f avg60=%.2f avg300=%.2f total=%llu\n", k ? "full" : "some",
			  k ? 0.0 : w->avg[r][0], k ? 0.0 : w->avg[r][1], k ? 0.0 : w->avg[r][2],
			  (unsigned long long)(w->psi[r][k] * 1e6));
	}
	add(s, path, &b);
}

static void psi_avgs(struct view *w, int r, double before, double dt)
{
	static const double win[3] = { 10, 60, 300 };
	if (dt <= 0)
		return;
	double share = 100 * (w->psi[r][0] - before) / dt;
	for (int k = 0; k < 3; k++) {
		double a = exp(-dt / win[k]);
		w->avg[r][k] = w->avg[r][k] * a + share * (1 - a);
	}
}

/* ------------------------------------------------------------------ */
/* the guest                                                           */

static void guest_stat(struct simctx *c, const struct vm *m, struct sample *s)
{
	struct strbuf b = { 0 };
	uint64_t tot[10] = { 0 };
	struct strbuf lines = { 0 };
	unsigned running = 1;
	for (unsigned j = 0; j < m->nv; j++) {
		const struct vcpu *v = &c->vc[m->vcpu0 + j];
		/* a guest that has been up a while: counters start from a boot's worth */
		uint64_t f[10] = { 20000 + ticks(v->t_user), 0, 5000 + ticks(v->t_sys), 400000 + ticks(v->t_idle), 0, 0,
				   200 + ticks(v->t_sirq), 50 + ticks(v->t_steal), 0, 0 };
		sb_printf(&lines, "cpu%u", j);
		for (int k = 0; k < 10; k++) {
			sb_printf(&lines, " %llu", (unsigned long long)f[k]);
			tot[k] += f[k];
		}
		sb_puts(&lines, "\n");
		running += v->has_user;
	}
	sb_puts(&b, "cpu ");
	for (int k = 0; k < 10; k++)
		sb_printf(&b, " %llu", (unsigned long long)tot[k]);
	sb_puts(&b, "\n");
	sb_put(&b, lines.s, lines.len);
	sb_done(&lines);
	sb_printf(&b, "intr 0\nctxt %llu\nbtime 1700000000\nprocesses %llu\nprocs_running %u\nprocs_blocked %u\n"
		      "softirq 0 0 0 0 0 0 0 0 0 0 0\n",
		  (unsigned long long)(m->served + m->compactions + 1000), (unsigned long long)(m->arrived + 500),
		  running + m->gq.n, m->outstanding);
	add(s, "proc/stat", &b);
}

static void guest_loadavg(struct view *w, const struct simctx *c, const struct vm *m, struct sample *s, double dt)
{
	double n = m->gq.n + m->outstanding;
	for (unsigned j = 0; j < m->nv; j++)
		n += c->vc[m->vcpu0 + j].has_user;
	static const double win[3] = { 60, 300, 900 };
	for (int k = 0; k < 3; k++) {
		double a = exp(-dt / win[k]);
		w->load[k] = w->load[k] * a + n * (1 - a);
	}
	addf(s, "proc/loadavg", "%.2f %.2f %.2f %u/%u %u\n", w->load[0], w->load[1], w->load[2], (unsigned)n + 1,
	     m->nv + 120, 4242);
}

static void guest_memory(struct simctx *c, const struct vm *m, struct sample *s)
{
	const struct sim_vmconf *conf = m->conf;
	double M = (double)conf->memory;
	double total = M - m->balloon;
	double used = conf->nws || c->mem_model ? (m->ws < total ? m->ws : total) : 0.4 * M;
	double free_ = total - used;
	double swap_total = 4.0 * 1024 * 1024 * 1024;
	double swapped = m->gpress < swap_total ? m->gpress : swap_total;
	addf(s, "proc/meminfo",
	     "MemTotal:       %llu kB\nMemFree:        %llu kB\nMemAvailable:   %llu kB\nBuffers:           1024 kB\n"
	     "Cached:         %llu kB\nSwapCached:            0 kB\nAnonPages:      %llu kB\nSwapTotal:      %llu kB\n"
	     "SwapFree:       %llu kB\nAnonHugePages:  %llu kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\n",
	     (unsigned long long)(total / 1024), (unsigned long long)(free_ * 0.4 / 1024),
	     (unsigned long long)(free_ / 1024), (unsigned long long)(free_ * 0.6 / 1024),
	     (unsigned long long)(used / 1024), (unsigned long long)(swap_total / 1024),
	     (unsigned long long)((swap_total - swapped) / 1024), (unsigned long long)(used * 0.3 / 1024));
	/* vmstat: counters since "boot", what this guest did on top */
	double work = m->work_done;
	uint64_t alloc = 5000000 + (uint64_t)(work * 20000);
	double hint = 0, hint_local = 0;
	for (unsigned j = 0; j < m->nv; j++) {
		hint += c->vc[m->vcpu0 + j].hint_faults;
		hint_local += c->vc[m->vcpu0 + j].hint_local;
	}
	uint64_t swout = (uint64_t)(m->guest_swapout / 4096);
	uint64_t faults = (uint64_t)m->guest_faults;
	uint64_t cs = m->compactions;
	struct strbuf b = { 0 };
	sb_printf(&b, "nr_free_pages %llu\n", (unsigned long long)(free_ * 0.4 / 4096));
	sb_printf(&b, "pgpgin %llu\npgpgout %llu\n", (unsigned long long)(1000000 + 4 * (m->io_done[0] + faults)),
		  (unsigned long long)(2000000 + 4 * (m->io_done[1] + swout)));
	sb_printf(&b, "pswpin %llu\npswpout %llu\n", (unsigned long long)faults, (unsigned long long)swout);
	sb_printf(&b, "pgfault %llu\npgmajfault %llu\n", (unsigned long long)(alloc * 2), (unsigned long long)(3000 + faults));
	sb_printf(&b, "pgscan_kswapd %llu\npgscan_direct %llu\npgsteal_kswapd %llu\npgsteal_direct %llu\n",
		  (unsigned long long)(swout * 2), (unsigned long long)(swout / 2), (unsigned long long)swout,
		  (unsigned long long)(swout / 4));
	sb_printf(&b, "compact_stall %llu\ncompact_fail %llu\ncompact_success %llu\n", (unsigned long long)cs,
		  (unsigned long long)(cs / 4), (unsigned long long)(cs - cs / 4));
	sb_printf(&b, "thp_fault_alloc %llu\nthp_fault_fallback %llu\n", (unsigned long long)(20000 + work * 10),
		  (unsigned long long)(cs / 2));
	sb_printf(&b, "balloon_inflate %llu\nballoon_deflate %llu\n", (unsigned long long)(m->balloon_in / 4096),
		  (unsigned long long)(m->balloon_out / 4096));
	sb_printf(&b, "numa_hit %llu\nnuma_miss 0\nnuma_foreign 0\nnuma_interleave 0\nnuma_local %llu\nnuma_other 0\n",
		  (unsigned long long)alloc, (unsigned long long)alloc);
	sb_printf(&b, "numa_hint_faults %llu\nnuma_hint_faults_local %llu\nnuma_pages_migrated 0\n",
		  (unsigned long long)hint, (unsigned long long)hint_local);
	add(s, "proc/vmstat", &b);
	{
		/* a guest without vNUMA has one node, with all of it */
		unsigned nn = guest_nodes(c, m);
		for (unsigned n = 0; n < nn; n++) {
			char p[96];
			double share = !conf->vnuma ? 1 : n < c->nnodes ? m->mem_frac[n] : 0;
			uint64_t a = (uint64_t)((double)alloc * share);
			snprintf(p, sizeof(p), "sys/devices/system/node/node%u/numastat", n);
			addf(s, p, "numa_hit %llu\nnuma_miss 0\nnuma_foreign 0\ninterleave_hit 0\nlocal_node %llu\nother_node 0\n",
			     (unsigned long long)a, (unsigned long long)a);
			snprintf(p, sizeof(p), "sys/devices/system/node/node%u/meminfo", n);
			addf(s, p, "Node %u MemTotal:       %llu kB\nNode %u MemFree:        %llu kB\n", n,
			     (unsigned long long)(total * share / 1024), n, (unsigned long long)(free_ * 0.4 * share / 1024));
		}
	}
}

static void guest_disk(const struct vm *m, struct sample *s)
{
	if (m->conf->io.kind == DIST_NONE)
		return;
	addf(s, "proc/diskstats",
	     " 254       0 vda %llu 0 %llu %llu %llu 0 %llu %llu %u %llu %llu 0 0 0 0 0 0\n",
	     (unsigned long long)m->io_done[0], (unsigned long long)m->io_sectors[0], (unsigned long long)m->io_ms[0],
	     (unsigned long long)m->io_done[1], (unsigned long long)m->io_sectors[1], (unsigned long long)m->io_ms[1],
	     m->outstanding, (unsigned long long)(m->io_ticks * 1000), (unsigned long long)(m->io_area * 1000));
	json_t *j = json_object();
	json_object_set_new(j, "available", json_true());
	json_object_set_new(j, "unit", json_string("us"));
	json_object_set_new(j, "buckets", json_string("log2"));
	json_t *devs = json_object(), *d = json_object(), *q = json_object(), *bl = json_object();
	json_object_set_new(q, "read", log2_array(m->bio_q[0], LOG2_SLOTS));
	json_object_set_new(q, "write", log2_array(m->bio_q[1], LOG2_SLOTS));
	json_object_set_new(q, "flush", json_array());
	json_object_set_new(bl, "read", log2_array(m->bio_b[0], LOG2_SLOTS));
	json_object_set_new(bl, "write", log2_array(m->bio_b[1], LOG2_SLOTS));
	json_object_set_new(bl, "flush", json_array());
	json_object_set_new(d, "queued", q);
	json_object_set_new(d, "below", bl);
	json_object_set_new(d, "inflight_max", json_integer(m->conf->io_depth));
	json_object_set_new(d, "inflight_now", json_integer(m->inflight));
	json_object_set_new(devs, "vda", d);
	json_object_set_new(j, "devices", devs);
	add_json(s, BIOLAT_PATH, j);
}

static void guest_compact(const struct vm *m, struct sample *s)
{
	json_t *j = json_object();
	json_object_set_new(j, "available", json_true());
	json_object_set_new(j, "unit", json_string("us"));
	json_object_set_new(j, "buckets", json_string("log2"));
	uint64_t n = 0;
	for (unsigned i = 0; i < LOG2_SLOTS; i++)
		n += m->compact_hist[i];
	json_object_set_new(j, "direct", log2_array(m->compact_hist, LOG2_SLOTS));
	json_object_set_new(j, "count", json_integer((json_int_t)n));
	json_object_set_new(j, "sum_us", json_integer((json_int_t)(m->compact_time * 1e6)));
	json_object_set_new(j, "max_us", json_integer((json_int_t)(m->compact_max * 1e6)));
	add_json(s, COMPACT_PATH, j);
}

static json_t *qdisc_rec(unsigned ifindex, const char *ifname, const char *kind, const char *handle, const char *parent,
			 uint64_t pkts, uint64_t qlen, uint64_t drops)
{
	json_t *o = json_object();
	json_object_set_new(o, "ifindex", json_integer(ifindex));
	json_object_set_new(o, "ifname", json_string(ifname));
	json_object_set_new(o, "kind", json_string(kind));
	json_object_set_new(o, "handle", json_string(handle));
	json_object_set_new(o, "parent", json_string(parent));
	json_object_set_new(o, "bytes", json_integer((json_int_t)(pkts * PKT_BYTES)));
	json_object_set_new(o, "packets", json_integer((json_int_t)pkts));
	json_object_set_new(o, "qlen", json_integer((json_int_t)qlen));
	json_object_set_new(o, "backlog", json_integer((json_int_t)(qlen * PKT_BYTES)));
	json_object_set_new(o, "drops", json_integer((json_int_t)drops));
	json_object_set_new(o, "requeues", json_integer(0));
	json_object_set_new(o, "overlimits", json_integer(0));
	return o;
}

static void guest_net(const struct simctx *c, const struct vm *m, struct sample *s)
{
	if (!m->tx && !m->rx)
		return;
	const struct sim_vmconf *conf = m->conf;
	unsigned nq = conf->queues;
	uint64_t rxp = 0, txp = 0, txd = 0;
	for (unsigned q = 0; q < nq; q++) {
		if (m->rx)
			rxp += m->rx[q].delivered;
		if (m->tx) {
			txp += m->tx[q].sent;
			txd += m->tx[q].ring_drops;
		}
	}
	addf(s, "proc/net/dev",
	     "Inter-|   Receive                                                |  Transmit\n"
	     " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
	     "    lo:  1000000    10000    0    0    0     0          0         0  1000000    10000    0    0    0     0       0          0\n"
	     "  eth0: %llu %llu    0    0    0     0          0         0 %llu %llu    0 %llu    0     0       0          0\n",
	     (unsigned long long)(rxp * PKT_BYTES), (unsigned long long)rxp, (unsigned long long)(txp * PKT_BYTES),
	     (unsigned long long)txp, (unsigned long long)txd);
	struct strbuf b = { 0 };
	for (unsigned j = 0; j < m->nv; j++) {
		const struct vcpu *v = &c->vc[m->vcpu0 + j];
		sb_printf(&b, "%08x 00000000 %08x 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 "
			      "00000000 %08x\n",
			  (unsigned)(v->rx_processed & 0xffffffffu), (unsigned)(v->squeeze & 0xffffffffu), j);
	}
	add(s, "proc/net/softnet_stat", &b);
	/* softirqs and interrupts: each queue's vector on its vCPU */
	sb_puts(&b, "                ");
	for (unsigned j = 0; j < m->nv; j++) {
		char h[16];
		snprintf(h, sizeof(h), "CPU%u", j);
		sb_printf(&b, " %10s", h);
	}
	sb_puts(&b, "\n");
	static const char *const names[] = { "HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU" };
	for (size_t k = 0; k < ARRAY_SIZE(names); k++) {
		sb_printf(&b, "%12s:", names[k]);
		for (unsigned j = 0; j < m->nv; j++) {
			const struct vcpu *v = &c->vc[m->vcpu0 + j];
			uint64_t val = k == 3 ? v->softirqs_rx : k == 1 ? 100000 + ticks(c->now) * 2 : 0;
			if (k == 2 && m->tx)
				for (unsigned q = j; q < nq; q += m->nv)
					val += m->tx[q].sent / 64;
			sb_printf(&b, " %10llu", (unsigned long long)val);
		}
		sb_puts(&b, "\n");
	}
	add(s, "proc/softirqs", &b);
	sb_puts(&b, "     ");
	for (unsigned j = 0; j < m->nv; j++) {
		char h[16];
		snprintf(h, sizeof(h), "CPU%u", j);
		sb_printf(&b, " %10s", h);
	}
	sb_puts(&b, "\n");
	unsigned irq = 40;
	sb_printf(&b, " %3u:", irq++);
	for (unsigned j = 0; j < m->nv; j++)
		sb_printf(&b, " %10u", 0u);
	sb_puts(&b, " PCI-MSIX-0000:00:03.0   0-edge      virtio2-config\n");
	for (unsigned q = 0; q < nq; q++) {
		for (int dir = 0; dir < 2; dir++) {
			sb_printf(&b, " %3u:", irq++);
			for (unsigned j = 0; j < m->nv; j++) {
				uint64_t val = 0;
				if (j == q % m->nv) {
					if (dir == 0 && m->rx)
						val = m->rx[q].irqs;
					if (dir == 1 && m->tx)
						val = m->tx[q].sent / 64;
				}
				sb_printf(&b, " %10llu", (unsigned long long)val);
			}
			sb_printf(&b, " PCI-MSIX-0000:00:03.0 %3u-edge      virtio2-%s.%u\n", 1 + 2 * q + (unsigned)dir,
				  dir ? "output" : "input", q);
		}
	}
	add(s, "proc/interrupts", &b);
	/* qdiscs: one pfifo_fast, or an mq root with one child per TX queue */
	json_t *qa = json_array();
	json_array_append_new(qa, qdisc_rec(1, "lo", "noqueue", "0:0", "root", 10000, 0, 0));
	const char *kind = conf->qdisc ? "pfifo_fast" : "noqueue";
	uint64_t tot_p = 0, tot_q = 0, tot_d = 0;
	json_t *kids = json_array();
	for (unsigned q = 0; q < nq; q++) {
		const struct txq *t = m->tx ? &m->tx[q] : NULL;
		uint64_t passed = t ? t->offered - t->qdisc_drops - t->ring_drops - t->qdisc : 0;
		uint64_t qlen = t ? t->qdisc : 0, drops = t ? t->qdisc_drops : 0;
		tot_p += passed;
		tot_q += qlen;
		tot_d += drops;
		if (nq > 1) {
			char parent[16];
			snprintf(parent, sizeof(parent), "8001:%x", q + 1);
			json_array_append_new(kids, qdisc_rec(2, "eth0", kind, "0:0", parent, passed, qlen, drops));
		}
	}
	if (nq > 1)
		json_array_append_new(qa, qdisc_rec(2, "eth0", "mq", "8001:0", "root", tot_p, tot_q, tot_d));
	else
		json_array_append_new(qa, qdisc_rec(2, "eth0", kind, "0:0", "root", tot_p, tot_q, tot_d));
	json_array_extend(qa, kids);
	json_decref(kids);
	add_json(s, QDISC_PATH, qa);
	/* ethtool: virtio_net's per-queue names as kernel 6.1 writes them */
	json_t *e = json_object(), *eth = json_object(), *ch = json_object(), *st = json_object();
	json_object_set_new(eth, "driver", json_string("virtio_net"));
	json_object_set_new(ch, "max_rx", json_integer(0));
	json_object_set_new(ch, "max_tx", json_integer(0));
	json_object_set_new(ch, "max_other", json_integer(0));
	json_object_set_new(ch, "max_combined", json_integer(nq));
	json_object_set_new(ch, "rx_count", json_integer(0));
	json_object_set_new(ch, "tx_count", json_integer(0));
	json_object_set_new(ch, "other_count", json_integer(0));
	json_object_set_new(ch, "combined_count", json_integer(nq));
	json_object_set_new(eth, "channels", ch);
	for (unsigned q = 0; q < nq; q++) {
		char k[48];
		uint64_t rp = m->rx ? m->rx[q].delivered : 0;
		snprintf(k, sizeof(k), "rx_queue_%u_packets", q);
		json_object_set_new(st, k, json_integer((json_int_t)rp));
		snprintf(k, sizeof(k), "rx_queue_%u_bytes", q);
		json_object_set_new(st, k, json_integer((json_int_t)(rp * PKT_BYTES)));
		snprintf(k, sizeof(k), "rx_queue_%u_drops", q);
		json_object_set_new(st, k, json_integer(0));
		snprintf(k, sizeof(k), "rx_queue_%u_kicks", q);
		json_object_set_new(st, k, json_integer((json_int_t)(rp / 64)));
	}
	for (unsigned q = 0; q < nq; q++) {
		char k[48];
		uint64_t tp = m->tx ? m->tx[q].sent : 0;
		snprintf(k, sizeof(k), "tx_queue_%u_packets", q);
		json_object_set_new(st, k, json_integer((json_int_t)tp));
		snprintf(k, sizeof(k), "tx_queue_%u_bytes", q);
		json_object_set_new(st, k, json_integer((json_int_t)(tp * PKT_BYTES)));
		snprintf(k, sizeof(k), "tx_queue_%u_kicks", q);
		json_object_set_new(st, k, json_integer((json_int_t)(tp / 64)));
		snprintf(k, sizeof(k), "tx_queue_%u_tx_timeouts", q);
		json_object_set_new(st, k, json_integer(0));
	}
	json_object_set_new(eth, "stats", st);
	json_object_set_new(e, "eth0", eth);
	add_json(s, ETHTOOL_PATH, e);
}

static void guest_sample(struct simctx *c, struct view *w, struct sample *s, double dt)
{
	struct vm *m = &c->vm[w->vm];
	for (unsigned j = 0; j < m->nv; j++)
		vcpu_flush(c, &c->vc[m->vcpu0 + j]);
	/* the open intervals count up to now */
	double psi_cpu = m->psi_cpu + (m->gq.n ? c->now - m->gq_since : 0);
	double psi_mem = m->psi_mem;
	for (unsigned j = 0; j < m->nv; j++) {
		const struct vcpu *v = &c->vc[m->vcpu0 + j];
		if (v->sys_begin >= 0)
			psi_mem += c->now - v->sys_begin;
	}
	if (m->io_last < c->now && m->outstanding) {
		m->io_ticks += c->now - m->io_last;
		m->io_area += (c->now - m->io_last) * m->outstanding;
	}
	m->io_last = c->now;
	guest_stat(c, m, s);
	guest_loadavg(w, c, m, s, dt);
	double before[3] = { w->psi[P_CPU][0], w->psi[P_MEM][0], w->psi[P_IO][0] };
	bool one = m->nv == 1;
	psi_file(w, s, "proc/pressure/cpu", P_CPU, psi_cpu, 0, dt);
	psi_file(w, s, "proc/pressure/memory", P_MEM, psi_mem, one ? psi_mem : 0, dt);
	psi_file(w, s, "proc/pressure/io", P_IO, m->io_ticks, one ? m->io_ticks : 0, dt);
	for (int r = 0; r < 3; r++)
		psi_avgs(w, r, before[r], dt);
	guest_memory(c, m, s);
	guest_disk(m, s);
	guest_compact(m, s);
	guest_net(c, m, s);
}

/* ------------------------------------------------------------------ */
/* the host                                                            */

static unsigned vm_pid(uint32_t i)
{
	return 2000 + i * 300;
}

static void host_sample(struct simctx *c, struct view *w, struct sample *s, double dt)
{
	for (uint32_t i = 0; i < c->nvc; i++)
		vcpu_flush(c, &c->vc[i]);
	struct strbuf b = { 0 }, lines = { 0 };
	uint64_t tot[10] = { 0 };
	double some = 0, busy = 0;
	for (unsigned i = 0; i < c->ncpu; i++) {
		struct pcpu *p = &c->cpu[i];
		pcpu_flush(c, p);
		double elapsed = c->now;
		uint64_t u = ticks(p->t_busy), id = ticks(elapsed) > u ? ticks(elapsed) - u : 0;
		uint64_t f[10] = { 20000 + u, 0, 8000, 900000 + id, 0, 0, 100, 0, u, 0 };
		sb_printf(&lines, "cpu%u", i);
		for (int k = 0; k < 10; k++) {
			sb_printf(&lines, " %llu", (unsigned long long)f[k]);
			tot[k] += f[k];
		}
		sb_puts(&lines, "\n");
		/* host PSI cpu some: each CPU's waiting time, weighted by how busy it was (as the kernel does) */
		double ds = p->t_some - w->h_some[i], db = p->t_busy - w->h_busy[i];
		some += ds * db;
		busy += db;
		w->h_some[i] = p->t_some;
		w->h_busy[i] = p->t_busy;
	}
	if (busy > 0)
		w->h_psi += some / busy;
	sb_puts(&b, "cpu ");
	for (int k = 0; k < 10; k++)
		sb_printf(&b, " %llu", (unsigned long long)tot[k]);
	sb_puts(&b, "\n");
	sb_put(&b, lines.s, lines.len);
	sb_done(&lines);
	unsigned running = 0, waiting = 0;
	for (unsigned i = 0; i < c->ncpu; i++) {
		running += c->cpu[i].cur >= 0;
		waiting += c->cpu[i].nrq;
	}
	sb_printf(&b, "intr 0\nctxt 1000\nbtime 1700000000\nprocesses 5000\nprocs_running %u\nprocs_blocked 0\n"
		      "softirq 0 0 0 0 0 0 0 0 0 0 0\n",
		  running + waiting + 1);
	add(s, "proc/stat", &b);
	double before = w->psi[P_CPU][0];
	psi_file(w, s, "proc/pressure/cpu", P_CPU, w->h_psi, 0, dt);
	psi_avgs(w, P_CPU, before, dt);
	double n = running + waiting;
	static const double win[3] = { 60, 300, 900 };
	for (int k = 0; k < 3; k++) {
		double a = exp(-dt / win[k]);
		w->load[k] = w->load[k] * a + n * (1 - a);
	}
	addf(s, "proc/loadavg", "%.2f %.2f %.2f %u/%u %u\n", w->load[0], w->load[1], w->load[2], running + waiting + 1,
	     c->nvc + 300, 9999);
	double H = c->sc->host.memory ? (double)c->sc->host.memory : 256.0 * 1024 * 1024 * 1024;
	double used = 0, faults = 0;
	for (uint32_t i = 0; i < c->nvm; i++) {
		used += (double)c->vm[i].conf->memory - c->vm[i].balloon;
		faults += c->vm[i].host_faults;
	}
	used -= c->host_swapped;
	double swap_total = 64.0 * 1024 * 1024 * 1024;
	addf(s, "proc/meminfo",
	     "MemTotal:       %llu kB\nMemFree:        %llu kB\nMemAvailable:   %llu kB\nSwapTotal:      %llu kB\n"
	     "SwapFree:       %llu kB\n",
	     (unsigned long long)(H / 1024), (unsigned long long)(H > used ? (H - used) / 1024 : 0),
	     (unsigned long long)(H > used ? (H - used) / 1024 : 0), (unsigned long long)(swap_total / 1024),
	     (unsigned long long)(swap_total > c->host_swapped ? (swap_total - c->host_swapped) / 1024 : 0));
	addf(s, "proc/vmstat", "pswpin %llu\npswpout %llu\npgmajfault %llu\ncompact_stall 0\nthp_fault_alloc 0\n"
	     "thp_fault_fallback 0\n", (unsigned long long)faults, (unsigned long long)c->host_pswpout,
	     (unsigned long long)faults);
	/* NUMA placement: each VM's memory where the scenario put it, counted as allocations per node */
	for (unsigned nd = 0; nd < c->nnodes; nd++) {
		double a = 0;
		for (uint32_t i = 0; i < c->nvm; i++)
			a += c->vm[i].work_done * 20000 * c->vm[i].mem_frac[nd];
		char p[96];
		snprintf(p, sizeof(p), "sys/devices/system/node/node%u/numastat", nd);
		addf(s, p, "numa_hit %llu\nnuma_miss 0\nnuma_foreign 0\ninterleave_hit 0\nlocal_node %llu\nother_node 0\n",
		     (unsigned long long)(1000000 + a), (unsigned long long)(1000000 + a));
	}
	/* the VMs: vms.json, then each vCPU thread's schedstat, status and stat */
	json_t *j = json_object(), *vms = json_array();
	for (uint32_t i = 0; i < c->nvm; i++) {
		const struct vm *m = &c->vm[i];
		unsigned pid = vm_pid(i);
		json_t *v = json_object(), *th = json_array();
		json_object_set_new(v, "pid", json_integer(pid));
		json_object_set_new(v, "vmm", json_string("qemu"));
		json_object_set_new(v, "name", json_string(m->name));
		json_object_set_new(v, "name_source", json_string("cmdline"));
		for (unsigned k = 0; k < m->nv; k++) {
			const struct vcpu *vc = &c->vc[m->vcpu0 + k];
			unsigned tid = pid + 1 + k;
			char comm[32], p[96], cl[256];
			snprintf(comm, sizeof(comm), "CPU %u/KVM", k);
			json_t *t = json_object();
			json_object_set_new(t, "tid", json_integer(tid));
			json_object_set_new(t, "kind", json_string("vcpu"));
			json_object_set_new(t, "vcpu", json_integer(k));
			json_object_set_new(t, "comm", json_string(comm));
			json_array_append_new(th, t);
			snprintf(p, sizeof(p), "proc/%u/task/%u/schedstat", pid, tid);
			addf(s, p, "%llu %llu %llu\n", (unsigned long long)((vc->t_user + vc->t_sys + vc->t_sirq) * 1e9),
			     (unsigned long long)(vc->t_steal * 1e9), (unsigned long long)vc->runs);
			/* the allowed CPUs as a list */
			size_t o = 0;
			cl[0] = '\0';
			for (unsigned cp = 0; cp < c->ncpu && o + 12 < sizeof(cl); cp++) {
				if (!((vc->allowed[cp / 64] >> (cp % 64)) & 1))
					continue;
				unsigned e = cp;
				while (e + 1 < c->ncpu && ((vc->allowed[(e + 1) / 64] >> ((e + 1) % 64)) & 1))
					e++;
				o += (size_t)snprintf(cl + o, sizeof(cl) - o, "%s%u", o ? "," : "", cp);
				if (e > cp)
					o += (size_t)snprintf(cl + o, sizeof(cl) - o, "-%u", e);
				cp = e;
			}
			snprintf(p, sizeof(p), "proc/%u/task/%u/status", pid, tid);
			addf(s, p, "Name:\t%s\nState:\tR (running)\nTgid:\t%u\nPid:\t%u\nCpus_allowed_list:\t%s\n", comm, pid, tid,
			     cl);
			snprintf(p, sizeof(p), "proc/%u/task/%u/stat", pid, tid);
			addf(s, p,
			     "%u (%s) R %u %u %u 0 -1 4194368 0 0 0 0 %llu %llu 0 0 20 0 %u 0 100 0 0 18446744073709551615 0 0 0 0 "
			     "0 0 0 0 0 0 0 0 -1 %d 0 0 0 %llu 0 0 0 0 0 0 0 0 0\n",
			     tid, comm, pid, pid, pid, (unsigned long long)ticks(vc->t_user), (unsigned long long)ticks(vc->t_sys),
			     m->nv + 1, vc->last_cpu < 0 ? 0 : vc->last_cpu, (unsigned long long)ticks(vc->t_user));
		}
		json_object_set_new(v, "threads", th);
		json_object_set_new(v, "taps", json_array());
		json_object_set_new(v, "disks", json_array());
		json_array_append_new(vms, v);
		char p[64];
		snprintf(p, sizeof(p), "proc/%u/status", pid);
		addf(s, p, "Name:\tqemu-system-x86\nVmRSS:\t%llu kB\nVmSwap:\t%llu kB\nHugetlbPages:\t0 kB\n",
		     (unsigned long long)(((double)m->conf->memory - m->balloon - m->host_swapped) / 1024),
		     (unsigned long long)(m->host_swapped / 1024));
	}
	json_object_set_new(j, "vms", vms);
	json_object_set_new(j, "qmp_unmatched", json_array());
	json_object_set_new(j, "root", json_true());
	json_object_set_new(j, "schedstat_source", json_string("procfs"));
	json_object_set_new(j, "schedstat_source_why", json_string("simulated"));
	add_json(s, VMSCAN_JSON_PATH, j);
}

int view_sample(struct simctx *c)
{
	struct view *w = c->view;
	double dt = c->now - w->last_t;
	struct sample s;
	sample_init(&s);
	s.mono_ns = T0_MONO + (uint64_t)llround(c->now * 1e9);
	s.real_ns = T0_REAL + (uint64_t)llround(c->now * 1e9);
	s.index = c->nsamples;
	s.slow = true;
	if (w->host)
		host_sample(c, w, &s, dt);
	else
		guest_sample(c, w, &s, dt);
	w->last_t = c->now;
	json_t *meta = NULL;
	if (w->first) {
		meta = w->meta;
		w->meta = NULL;
	}
	int r = c->opts->on_sample(c->opts->arg, &s, w->first ? &w->statics : NULL, meta);
	w->first = false;
	sample_done(&s);
	if (r < 0) {
		c->sample_err = r;
		return r;
	}
	c->nsamples++;
	return 0;
}
