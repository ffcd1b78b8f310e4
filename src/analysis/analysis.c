/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "analysis.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "vms.h"

/* ---- the layers: everything measured, as opposed to the bookkeeping of the run ---- */

static void layers_init(struct analysis *an)
{
	cpu_init(&an->cpu, an->statics);
	mem_init(&an->mem);
	io_init(&an->io);
	bpfhist_init(&an->bpf);
	hwlog_init(&an->hw);
	an->host = NULL;
}

static void layers_feed(struct analysis *an, const struct sample *s)
{
	cpu_feed(&an->cpu, s);
	mem_feed(&an->mem, s);
	io_feed(&an->io, s, an->statics);
	bpfhist_feed(&an->bpf, s);
	hwlog_feed(&an->hw, s);
	/* host mode: only once a sample carries the VM discovery (sampler option vms) */
	if (!an->host && sample_find(s, VMSCAN_JSON_PATH)) {
		an->host = xmalloc(sizeof(*an->host));
		vms_init(an->host, an->statics);
	}
	if (an->host)
		vms_feed(an->host, s);
}

static void layers_done(struct analysis *an)
{
	cpu_done(&an->cpu);
	mem_done(&an->mem);
	io_done(&an->io);
	bpfhist_done(&an->bpf);
	if (an->host) {
		vms_done(an->host);
		free(an->host);
		an->host = NULL;
	}
}

/* Move the layers of src into dst (whose layers must be done); src's are then empty. */
static void layers_move(struct analysis *dst, struct analysis *src)
{
	dst->cpu = src->cpu;
	dst->mem = src->mem;
	dst->io = src->io;
	dst->bpf = src->bpf;
	dst->hw = src->hw;
	dst->host = src->host;
	src->host = NULL;
}

static double layers_span_s(const struct analysis *an)
{
	return an->cpu.nsamples ? (double)(an->cpu.last_ns - an->cpu.first_ns) / 1e9 : 0;
}

void analysis_init(struct analysis *an, const struct sample *statics, const char *source)
{
	memset(an, 0, sizeof(*an));
	an->statics = statics;
	an->source = source;
	layers_init(an);
}

void analysis_damaged(struct analysis *an, const char *fmt, ...)
{
	if (an->ndamage >= ANALYSIS_MAX_DAMAGE)
		return;
	va_list ap;
	va_start(ap, fmt);
	an->damage[an->ndamage++] = xvasprintf(fmt, ap);
	va_end(ap);
}

/*
 * A gap before sample s: keep the longer of the stretch so far and the best
 * earlier one, and start a new stretch with s.
 */
static void split_at_gap(struct analysis *an, uint64_t dt)
{
	an->ngaps++;
	if (dt > an->gap_worst_ns) {
		an->gap_worst_ns = dt;
		an->gap_worst_at = an->nfed;
	}
	if (!an->kept || layers_span_s(an) > layers_span_s(an->kept)) {
		if (an->kept)
			layers_done(an->kept);
		else
			an->kept = xcalloc(1, sizeof(*an->kept));
		layers_move(an->kept, an);
		an->kept_first = an->stretch_first;
		an->kept_last = an->nfed - 1;
	} else {
		layers_done(an);
	}
	layers_init(an);
	an->stretch_first = an->nfed;
}

void analysis_feed(struct analysis *an, const struct sample *s)
{
	if (an->nfed && !an->no_gap_split) {
		uint64_t dt = s->mono_ns > an->prev_mono_ns ? s->mono_ns - an->prev_mono_ns : 0;
		uint64_t unit = an->interval_ns ? an->interval_ns : an->min_dt_ns;
		if (dt > ANALYSIS_GAP_MIN_NS && unit && dt / ANALYSIS_GAP_FACTOR > unit)
			split_at_gap(an, dt);
		else if (dt && (!an->min_dt_ns || dt < an->min_dt_ns))
			an->min_dt_ns = dt;
	}
	an->prev_mono_ns = s->mono_ns;
	an->nfed++;
	layers_feed(an, s);
}

/* Name what was damaged in the samples the layers saw, once they are complete. */
static void collect_damage(struct analysis *an)
{
	unsigned n = an->cpu.nsamples;
	if (an->cpu.procstat_bad)
		analysis_damaged(an, "%u of %u sample%s had an unreadable, truncated or inconsistent proc/stat; "
				     "%s left out",
				 an->cpu.procstat_bad, n, plural_s(n), plural(an->cpu.procstat_bad, "it was", "they were"));
	if (an->cpu.psi_bad)
		analysis_damaged(an, "%u PSI file(s) (proc/pressure) did not parse; the intervals around them were "
				     "left out",
				 an->cpu.psi_bad);
	if (an->mem.vmstat_bad || an->mem.meminfo_bad)
		analysis_damaged(an, "%u copies of proc/vmstat and %u of proc/meminfo had none of the counters every "
				     "kernel has; they were left out",
				 an->mem.vmstat_bad, an->mem.meminfo_bad);
	if (an->io.diskstats_bad)
		analysis_damaged(an, "%u %s of proc/diskstats did not parse", an->io.diskstats_bad,
				 plural(an->io.diskstats_bad, "copy", "copies"));
	if (an->mem.stalls_bad || an->mem.kmsg_bad)
		analysis_damaged(an, "%u stall sampler and %u kernel-log documents (.hiddenq/stalls.json, kmsg.json) "
				     "were not JSON objects",
				 an->mem.stalls_bad, an->mem.kmsg_bad);
	const struct bpfhist_src *b[] = { &an->bpf.runqlat, &an->bpf.biolat, &an->bpf.compact };
	static const char *const bn[] = { "runqlat", "biolat", "compact" };
	for (size_t i = 0; i < ARRAY_SIZE(b); i++)
		if (b[i]->nbad)
			analysis_damaged(an, "%u eBPF histogram document(s) (.hiddenq/%s.json) did not parse or had the "
					     "wrong shape",
					 b[i]->nbad, bn[i]);
	if (an->host && an->host->nbad_json)
		analysis_damaged(an, "%u of %u host-mode documents (.hiddenq/vms.json) were not JSON objects%s",
				 an->host->nbad_json, an->host->nbad_json + an->host->njson,
				 an->host->njson ? "" : ": the VMs on this machine are not known");
}

void analysis_finish(struct analysis *an)
{
	if (an->kept) {
		/* the longest stretch between gaps is the one analysed */
		unsigned first = an->stretch_first, last = an->nfed ? an->nfed - 1 : 0;
		if (layers_span_s(an->kept) > layers_span_s(an)) {
			layers_done(an);
			layers_move(an, an->kept);
			first = an->kept_first;
			last = an->kept_last;
		} else {
			layers_done(an->kept);
		}
		free(an->kept);
		an->kept = NULL;
		analysis_damaged(an,
				 "%u gap%s in time, the longest %.1f s before sample %u (sampled every %.3f s): the machine or "
				 "the capture was stopped.  Rates across a gap would average over time nobody watched, so only "
				 "samples %u to %u (%.1f s) were analysed and %u other sample(s) left out",
				 an->ngaps, an->ngaps == 1 ? "" : "s", (double)an->gap_worst_ns / 1e9, an->gap_worst_at,
				 (double)(an->interval_ns ? an->interval_ns : an->min_dt_ns) / 1e9, first, last,
				 layers_span_s(an), an->nfed - (last - first + 1));
	}
	cpu_finish(&an->cpu);
	if (an->host)
		vms_finish(an->host);
	an->ndamage_fed = an->ndamage;
	collect_damage(an);
}

/*
 * After analysis_finish, let feeding go on (the continuous engine): the
 * windows cpu_finish closed are opened again and the damage it named is
 * named again at the next finish.  Continuous epochs do not split at gaps
 * (the engine starts over instead), so nothing else was moved.
 */
void analysis_unfinish(struct analysis *an)
{
	cpu_unfinish(&an->cpu);
	while (an->ndamage > an->ndamage_fed)
		free(an->damage[--an->ndamage]);
}

size_t analysis_state_bytes(const struct analysis *an)
{
	const struct cpu_analysis *c = &an->cpu;
	size_t n = c->capslots * sizeof(*c->slots) + c->capwins * sizeof(*c->wins) +
		   c->tasks_cap * sizeof(*c->tasks) + c->capcgs * sizeof(*c->cgs) +
		   (size_t)c->rq_ncpu * 2 * sizeof(uint64_t);
	for (size_t i = 0; i < c->nwins; i++)
		n += c->wins[i].nslots * sizeof(*c->wins[i].cpu);
	for (size_t i = 0; i < c->ncgs; i++)
		n += strlen(c->cgs[i].path) + 1;
	const struct mem_analysis *m = &an->mem;
	n += m->cappts * sizeof(*m->pts) + m->capstalls * sizeof(*m->stalls);
	const struct io_analysis *io = &an->io;
	n += io->ndisks * sizeof(*io->disks) + io->nifs * sizeof(*io->ifs) + io->nsn * sizeof(*io->sn) +
	     io->nqd * sizeof(*io->qd) + (io->nqs_first + io->nqs_last) * sizeof(*io->qs_first);
	if (an->host)
		n += sizeof(*an->host) + an->host->cap * sizeof(*an->host->vms) +
		     an->host->map_cap * sizeof(*an->host->map);
	return n;
}

void analysis_done(struct analysis *an)
{
	layers_done(an);
	if (an->kept) {
		layers_done(an->kept);
		free(an->kept);
		an->kept = NULL;
	}
	for (unsigned i = 0; i < an->ndamage; i++)
		free(an->damage[i]);
	an->ndamage = 0;
}

const char *analysis_switched_off(const struct analysis *an, const char *name)
{
	static const char *const flags[][2] = {
		{ "stalls", "--no-stalls" }, { "kmsg", "--no-stalls" }, { "tasks", "--no-tasks" },
		{ "cgroups", "--no-cgroups" }, { "bpf", "--no-bpf" },
	};
	const struct sfile *f = an->statics ? sample_find(an->statics, SWITCHES_PATH) : NULL;
	if (!f)
		return NULL;
	json_t *o = json_loadb(f->data, f->len, 0, NULL);
	enum source_id s = source_by_name(name);
	json_t *src = json_object_get(o, "sources");
	if (s != SRC_COUNT && json_is_object(src)) {
		bool off = json_is_false(json_object_get(src, name));
		json_decref(o);
		return off ? source_defs[s].no_flag : NULL;
	}
	bool off = json_is_object(o) && json_is_false(json_object_get(o, name));
	json_decref(o);
	if (!off)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
		if (strcmp(flags[i][0], name) == 0)
			return flags[i][1];
	return "switched off";
}

/* Copy a one-line static file into dst, trimmed; "" if absent. */
static void static_line(const struct sample *st, const char *path, char *dst, size_t n)
{
	dst[0] = '\0';
	const struct sfile *f = sample_find(st, path);
	if (!f)
		return;
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
}

void environment_build(const struct analysis *an, struct environment *env)
{
	memset(env, 0, sizeof(*env));
	const struct sample *st = an->statics;
	const struct identity *id = &an->cpu.id;
	static_line(st, "proc/sys/kernel/hostname", env->hostname, sizeof(env->hostname));
	static_line(st, "proc/sys/kernel/osrelease", env->kernel, sizeof(env->kernel));
	static_line(st, "sys/class/dmi/id/product_name", env->product, sizeof(env->product));
	static_line(st, "sys/devices/system/clocksource/clocksource0/current_clocksource", env->clocksource,
		    sizeof(env->clocksource));
	static_line(st, "sys/devices/system/cpu/cpuidle/current_driver", env->cpuidle, sizeof(env->cpuidle));
	char xen[16];
	static_line(st, "sys/hypervisor/type", xen, sizeof(xen));
	const char *hv = identity_hv_name(id);
	if (hv)
		snprintf(env->hypervisor, sizeof(env->hypervisor), "%s", hv);
	else if (strcmp(xen, "xen") == 0)
		snprintf(env->hypervisor, sizeof(env->hypervisor), "Xen");
	else if (id->known && id->cpuid_available && !id->hv_bit)
		snprintf(env->hypervisor, sizeof(env->hypervisor), "none (bare metal)");
	else
		snprintf(env->hypervisor, sizeof(env->hypervisor), "unknown");
	bool virt = hv || strcmp(xen, "xen") == 0 || id->hv_bit;
	env->mode = virt ? "guest" : "host";
	size_t o = 0;
	for (unsigned i = 0; i < id->nmarkers && o < sizeof(env->containers) - 50; i++)
		o += (size_t)snprintf(env->containers + o, sizeof(env->containers) - o, "%s/%s", i ? ", " : "",
				      id->markers[i]);
	env->vcpus = analysis_vcpus(an);
}

static void count_cb(int id, void *arg)
{
	(void)id;
	(*(unsigned *)arg)++;
}

unsigned analysis_vcpus(const struct analysis *an)
{
	if (an->cpu.cpus_online_last)
		return an->cpu.cpus_online_last;
	if (an->cpu.nslots)
		return (unsigned)an->cpu.nslots;
	/* no usable /proc/stat: the topology the run recorded, if any */
	const struct sfile *f = an->statics ? sample_find(an->statics, "sys/devices/system/cpu/online") : NULL;
	unsigned n = 0;
	if (f && cpulist_parse(f->data, f->len, 8191, count_cb, &n) > 0)
		return n;
	return 0;
}

static void cap_add(struct capabilities *c, const char *name, bool ok, char *detail)
{
	if (c->n >= ARRAY_SIZE(c->v)) {
		free(detail);
		return;
	}
	c->v[c->n].name = name;
	c->v[c->n].ok = ok;
	c->v[c->n].detail = detail;
	c->n++;
}

void capabilities_build(const struct analysis *an, struct capabilities *caps)
{
	memset(caps, 0, sizeof(*caps));
	const struct cpu_analysis *a = &an->cpu;
	const char *why;
	bool steal = cpu_steal_reported(a, &why);
	cap_add(caps, "steal", steal, xstrdup(why));

	bool psi = a->psi_seen[PSI_CPU] || a->psi_seen[PSI_MEM] || a->psi_seen[PSI_IO];
	cap_add(caps, "psi", psi,
		xstrdup(psi ? "pressure stall information (/proc/pressure)"
			    : "no /proc/pressure: kernel without CONFIG_PSI or booted with psi=0"));
	const char *tasks_off = analysis_switched_off(an, "tasks");
	cap_add(caps, "run delay", a->task_samples > 0,
		a->task_samples ? xasprintf("per-task schedstat for %zu task%s", a->ntasks, plural_s(a->ntasks))
		: tasks_off	? xasprintf("per-task schedstat not read: switched off (%s)", tasks_off)
				: xstrdup("no /proc/PID/task/TID/schedstat (CONFIG_SCHED_INFO off or not readable)"));
	cap_add(caps, "schedstat", a->have_proc_schedstat,
		a->have_proc_schedstat ? xasprintf("/proc/schedstat version %u", a->proc_schedstat_version)
				       : xstrdup("no /proc/schedstat (CONFIG_SCHEDSTATS off): per-CPU run delay comes "
						 "from per-task schedstat instead"));
	char dacct[8];
	static_line(an->statics, "proc/sys/kernel/task_delayacct", dacct, sizeof(dacct));
	bool dok = strcmp(dacct, "1") == 0;
	cap_add(caps, "delay accounting", dok,
		dacct[0] ? xstrdup(dok ? "kernel.task_delayacct=1"
				       : "off (kernel.task_delayacct=0; sysctl -w kernel.task_delayacct=1 to enable)")
			 : xstrdup("unknown (no kernel.task_delayacct sysctl)"));
	const struct identity *id = &a->id;
	cap_add(caps, "root", id->known && id->euid == 0,
		!id->known ? xstrdup("unknown (no identity in bundle)")
		: id->euid == 0 ? xstrdup("running as root")
				: xasprintf("running as uid %u: other users' tasks and eBPF are not visible", id->euid));
	cap_add(caps, "BTF", id->btf,
		xstrdup(id->btf ? "/sys/kernel/btf/vmlinux present (eBPF CO-RE possible)"
				: "no /sys/kernel/btf/vmlinux: eBPF CO-RE tracing unavailable"));
	const char *rq_why, *bio_why;
	bool rq = bpfhist_available(an, "runqlat", &rq_why), bio = bpfhist_available(an, "biolat", &bio_why);
	const char *rq_mode = rq ? bpfhist_runq_mode(an) : NULL;
	if (!rq_mode)
		rq_mode = "?";
	cap_add(caps, "eBPF", rq || bio,
		rq && bio ? xasprintf("run-queue (%s) and block histograms", rq_mode)
		: rq	  ? xasprintf("run-queue histograms (%s); no block histograms: %s", rq_mode, bio_why)
		: bio	  ? xasprintf("block histograms; no run-queue histograms: %s", rq_why)
			  : xstrdup(rq_why));
	/* execution stalls: which method watched, or why none did */
	const struct mem_analysis *mm = &an->mem;
	const char *sm = mm->stall_method;
	const char *how = !strcmp(sm, "bpf")	   ? "eBPF timer lateness (how late the kernel's hrtimers ran, every CPU)"
			  : !strcmp(sm, "coarse")  ? "coarse sampler (a thread sleeping 20 ms, 1 ms while stalls are seen)"
			  : !strcmp(sm, "sampler") ? "1 ms sampler (a thread sleeping 1 ms)"
						   : sm;
	if (mm->stalls_seen && !mm->stall_refused)
		cap_add(caps, "stalls", true,
			mm->stall_reason[0] ? xasprintf("%s; %s", how, mm->stall_reason) : xstrdup(how));
	else if (mm->stalls_seen)
		cap_add(caps, "stalls", false,
			xasprintf("%s did not run: %s", how, mm->stall_reason[0] ? mm->stall_reason : "unknown"));
	else
		cap_add(caps, "stalls", false, xstrdup("not watched (--no-stalls, or a bundle without them)"));
	/* the network sources beyond /proc: ethtool ioctl, rtnetlink qdisc dump, netdev qstats-get */
	const struct io_analysis *io = &an->io;
	bool eth = io->eth_n_stats > 0, qd = io->qdisc_seen, qs = io->qstats_seen;
	if (io->eth_read || qd || qs || io->qdisc_error[0] || io->qstats_error[0]) {
		char e1[160], e2[200], e3[200];
		if (eth)
			snprintf(e1, sizeof(e1), "ethtool ioctl ok (%u interface%s)%s%s", io->eth_n_stats,
				 io->eth_n_stats == 1 ? "" : "s", io->eth_iface_error[0] ? ", not on " : "",
				 io->eth_iface_error);
		else
			snprintf(e1, sizeof(e1), "ethtool ioctl: %s",
				 io->eth_error[0] ? io->eth_error
				 : io->eth_iface_error[0] ? io->eth_iface_error
				 : io->eth_read ? "no interface answered" : "not in the samples");
		snprintf(e2, sizeof(e2), "netlink qdisc dump %s%s", qd ? "ok" : "failed: ",
			 qd ? "" : io->qdisc_error[0] ? io->qdisc_error : "not in the samples");
		snprintf(e3, sizeof(e3), "netdev qstats-get %s%s", qs ? "ok" : "failed: ",
			 qs ? "" : io->qstats_error[0] ? io->qstats_error : "not in the samples");
		cap_add(caps, "network", eth || qd || qs, xasprintf("%s; %s; %s", e1, e2, e3));
	}
	bool v2 = sample_find(an->statics, "sys/fs/cgroup/cgroup.controllers") != NULL;
	bool hybrid = sample_find(an->statics, "sys/fs/cgroup/unified/cgroup.controllers") != NULL;
	bool cg = v2 || hybrid || a->cg_v1_seen;
	const char *cg_off = analysis_switched_off(an, "cgroups");
	if (cg_off && !a->cg_samples)
		cap_add(caps, "cgroup", false, xasprintf("cgroup cpu.stat not read: switched off (%s)", cg_off));
	else
		cap_add(caps, "cgroup", cg,
			cg ? xasprintf("%s%s%s", v2 ? "v2 (unified)" : hybrid ? "v2 (hybrid, /sys/fs/cgroup/unified)" : "",
				       (v2 || hybrid) && a->cg_v1_seen ? " + " : "", a->cg_v1_seen ? "v1 cpu controller" : "")
			   : xstrdup("no cgroup filesystem seen (no cgroup.controllers, no v1 cpu controller): CPU limits "
				     "cannot be checked"));
	/* host mode: how each tick read the vCPUs' schedstat (host/vmscan.h) */
	if (an->host && an->host->n && an->host->ss_source[0]) {
		bool it = strcmp(an->host->ss_source, "bpf_iter") == 0;
		const char *prog = an->host->ss_iter, *fb = an->host->ss_iter_why;
		cap_add(caps, "host mode", true,
			it ? (prog[0] ? xasprintf("VM vCPU schedstat by one eBPF read per tick (program %s%s%s)", prog,
						  fb[0] ? ", as " : "", fb)
				      : xstrdup("VM vCPU schedstat by one eBPF task-iterator read per tick"))
			   : xasprintf("VM vCPU schedstat by one /proc read per vCPU per tick%s%s",
				       an->host->ss_why[0] ? ": " : "", an->host->ss_why));
	}
	if (id->nmarkers) {
		struct environment env;
		environment_build(an, &env);
		cap_add(caps, "container", true,
			xasprintf("container markers %s%s", env.containers,
				  strcmp(env.mode, "guest") == 0
					  ? " inside a VM: both layers apply (markers can be left over in VM images)"
					  : ""));
	}
}

void capabilities_done(struct capabilities *caps)
{
	for (size_t i = 0; i < caps->n; i++)
		free(caps->v[i].detail);
	caps->n = 0;
}
