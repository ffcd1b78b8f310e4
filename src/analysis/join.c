/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "join.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/json.h"
#include "../core/util.h"

/* A guest's own virtual disk: vda, sdb, xvdc, hda, nvme0n1 (not partitions, not loop or dm). */
static bool vm_disk_name(const char *n)
{
	static const char *const pfx[] = { "vd", "sd", "xvd", "hd" };
	for (size_t i = 0; i < ARRAY_SIZE(pfx); i++) {
		size_t l = strlen(pfx[i]);
		if (!strncmp(n, pfx[i], l) && n[l] && strspn(n + l, "abcdefghijklmnopqrstuvwxyz") == strlen(n + l))
			return true;
	}
	unsigned a, b;
	char tail;
	return sscanf(n, "nvme%un%u%c", &a, &b, &tail) == 2;
}

static void match(const struct analysis *host, struct join_result *j)
{
	const struct vms_analysis *h = host->host;
	const struct stack_ids *g = &j->guest;
	if (!h || !h->n) {
		snprintf(j->why, sizeof(j->why),
			 "the host's samples hold no VM processes (take them on the host, with the vms source on: "
			 "hiddenq capture or record there)");
		return;
	}
	for (int pass = 0; pass < 2 && !j->vm; pass++) {
		const char *key = pass ? g->machine_id : g->uuid;
		if (!key[0])
			continue;
		for (size_t i = 0; i < h->n; i++) {
			const struct vms_vm *vm = &h->vms[i];
			if (!strcmp(pass ? vm->machine_id : vm->uuid, key)) {
				j->vm = vm;
				j->matched_by = pass ? "machine-id" : "system UUID";
				snprintf(j->key, sizeof(j->key), "%s", key);
				break;
			}
		}
	}
	if (j->vm) {
		j->matched = true;
		return;
	}
	size_t o = (size_t)snprintf(j->why, sizeof(j->why), "no VM on the host matches the guest (system UUID %s, "
							     "machine-id %s); the host's VMs:",
				    g->uuid[0] ? g->uuid : "unknown", g->machine_id[0] ? g->machine_id : "unknown");
	for (size_t i = 0; i < h->n && o + 80 < sizeof(j->why); i++)
		o += (size_t)snprintf(j->why + o, sizeof(j->why) - o, "%s %s (uuid %s%s%s)", i ? "," : "", h->vms[i].name,
				      h->vms[i].uuid[0] ? h->vms[i].uuid : "not given",
				      h->vms[i].machine_id[0] ? ", machine-id " : "", h->vms[i].machine_id);
	if (!g->uuid[0] && !g->machine_id[0] && o + 120 < sizeof(j->why))
		snprintf(j->why + o, sizeof(j->why) - o,
			 ". The guest's bundle names no identifier: its product_uuid is readable by root only, and "
			 "microVMs without SMBIOS need a machine-id handed in (systemd.machine_id=)");
}

static void vcpu_verdict(const struct join_result *j, struct join_vcpu *v)
{
	double s = v->steal_pct, d = v->delay_pct;
	if (d < 0) {
		v->verdict = "no host thread";
		snprintf(v->why, sizeof(v->why), "the host's samples have no thread for vCPU %d of %s (its threads are "
						 "unnamed, or the vCPU was added later)%s",
			 v->vcpu, j->vm->name, s < 0 ? ", and the guest has no steal figure for it either" : "");
		return;
	}
	if (s < 0 && !j->steal_reported) {
		v->verdict = "no steal reported";
		snprintf(v->why, sizeof(v->why),
			 "the guest does not report steal (%s): the host's run delay, %.1f %%, is the only view of the "
			 "time this vCPU waited for a CPU",
			 j->steal_why, d);
		return;
	}
	if (s < 0) {
		v->verdict = "no guest CPU";
		snprintf(v->why, sizeof(v->why), "the guest's samples have no figures for CPU %d (offline, or not "
						 "in its /proc/stat)",
			 v->vcpu);
		return;
	}
	double diff = s - d, big = s > d ? s : d;
	if (fabs(diff) <= JOIN_AGREE_POINTS || fabs(diff) <= JOIN_AGREE_SHARE * big) {
		v->verdict = "agree";
		if (big < JOIN_QUIET_PCT)
			snprintf(v->why, sizeof(v->why), "neither side saw this vCPU wait for a CPU");
		else
			snprintf(v->why, sizeof(v->why), "the host's run queue is where this vCPU waited: the host ran "
							 "other threads on its CPU while it had work");
		return;
	}
	if (diff > 0) {
		v->verdict = "steal above delay";
		int o = snprintf(v->why, sizeof(v->why),
				 "the guest lost %.1f points more than the host's scheduler counted as run delay for this "
				 "vCPU's thread: time taken where this host's run queue does not see it",
				 diff);
		if (j->host_steal_pct >= JOIN_AGREE_POINTS)
			snprintf(v->why + o, sizeof(v->why) - (size_t)o,
				 "; this host is itself a guest and lost %.1f %% to steal in the same period (a hypervisor "
				 "or a CPU cap below it, such as cloud credits)",
				 j->host_steal_pct);
		else
			snprintf(v->why + o, sizeof(v->why) - (size_t)o,
				 " (a CPU cap enforced below this host, the vCPU's thread replaced during the period, or "
				 "periods that do not cover the same time)");
		return;
	}
	v->verdict = "delay above steal";
	snprintf(v->why, sizeof(v->why),
		 "the host counted %.1f points more run delay than the guest reported as steal: delay the guest has "
		 "not been told of yet (KVM adds it at the vCPU's next entry), a guest that accounts steal only "
		 "at its ticks (tickless idle vCPUs), or periods that do not cover the same time",
		 -diff);
}

static void disks(const struct analysis *guest, struct join_result *j)
{
	double ms = 0, ios = 0;
	for (size_t i = 0; i < guest->io.ndisks; i++) {
		const struct disk_acc *d = &guest->io.disks[i];
		if (!vm_disk_name(d->name))
			continue;
		j->guest_disks++;
		ms += (double)(d->d[DS_RD_MS] + d->d[DS_WR_MS]);
		ios += (double)(d->d[DS_RD_IOS] + d->d[DS_WR_IOS]);
	}
	j->guest_await_ms = ios > 0 ? ms / ios : -1;
	double secs = j->host_span_s;
	struct vms_blk b[32];
	size_t nb = secs > 0 ? vms_blockstats(j->vm, b, ARRAY_SIZE(b), secs) : 0;
	double t = 0, n = 0;
	for (size_t i = 0; i < nb; i++) {
		if (b[i].rd_lat_us >= 0) {
			t += b[i].rd_ops_s * b[i].rd_lat_us;
			n += b[i].rd_ops_s;
		}
		if (b[i].wr_lat_us >= 0) {
			t += b[i].wr_ops_s * b[i].wr_lat_us;
			n += b[i].wr_ops_s;
		}
	}
	j->vmm_await_ms = n > 0 ? t / n / 1000 : -1;
	double dt = 0, dn = 0;
	for (unsigned i = 0; i < j->vm->ndisks; i++) {
		struct vms_disk_rate r;
		if (vms_disk_rate(&j->vm->disks[i], &r) && r.await_ms >= 0) {
			dt += r.await_ms * (r.rd_s + r.wr_s);
			dn += r.rd_s + r.wr_s;
		}
	}
	j->host_dev_await_ms = dn > 0 ? dt / dn : -1;
	if (j->guest_await_ms < 0)
		snprintf(j->io_why, sizeof(j->io_why), "the guest completed no request on a virtual disk in the period");
	else if (j->vmm_await_ms >= 0)
		snprintf(j->io_why, sizeof(j->io_why),
			 "%.2f ms of the guest's %.2f ms await was spent above the VMM: the guest's own block layer, "
			 "the virtqueue and the vCPU's wake-up",
			 j->guest_await_ms - j->vmm_await_ms, j->guest_await_ms);
	else if (!nb)
		snprintf(j->io_why, sizeof(j->io_why),
			 "the host's samples hold no block statistics of this VM's VMM (QMP query-blockstats: give the "
			 "host's run --qmp NAME=SOCKET)");
	else
		snprintf(j->io_why, sizeof(j->io_why), "the VMM completed no request of this VM in the period");
}

void join_build(const struct analysis *guest, const struct analysis *host, struct join_result *j)
{
	memset(j, 0, sizeof(*j));
	j->host_steal_pct = j->guest_await_ms = j->vmm_await_ms = j->host_dev_await_ms = -1;
	stack_ids(guest->statics, &guest->cpu.id, &j->guest);
	j->guest_span_s = cpu_watch_s(&guest->cpu);
	j->host_span_s = host->host ? vms_watch_s(host->host) : 0;
	match(host, j);
	if (!j->matched)
		return;
	const char *why = NULL;
	j->steal_reported = cpu_steal_reported(&guest->cpu, &why);
	j->steal_why = why ? why : "";
	const char *hwhy;
	if (cpu_steal_reported(&host->cpu, &hwhy) && host->cpu.nslots) {
		uint64_t st = 0, tot = 0;
		for (size_t i = 0; i < host->cpu.nslots; i++) {
			st += host->cpu.slots[i].steal_ticks;
			tot += host->cpu.slots[i].total;
		}
		j->host_steal_pct = tot ? 100.0 * (double)st / (double)tot : -1;
	}
	/* the vCPUs: every CPU of the guest and every vCPU thread of the VM */
	for (size_t i = 0; i < guest->cpu.nslots && j->nv < JOIN_MAX_VCPUS; i++) {
		const struct cpu_slot *s = &guest->cpu.slots[i];
		struct join_vcpu *v = &j->v[j->nv++];
		v->vcpu = s->cpu;
		v->steal_pct = j->steal_reported && s->intervals ? s->steal_avg : -1;
		v->delay_pct = -1;
	}
	for (size_t k = 0; k < j->vm->nth; k++) {
		const struct vms_thread *t = &j->vm->th[k];
		if (t->kind != TK_VCPU || t->vcpu < 0)
			continue;
		struct join_vcpu *v = NULL;
		for (unsigned q = 0; q < j->nv && !v; q++)
			if (j->v[q].vcpu == t->vcpu)
				v = &j->v[q];
		if (!v && j->nv < JOIN_MAX_VCPUS) {
			v = &j->v[j->nv++];
			v->vcpu = t->vcpu;
			v->steal_pct = -1;
		}
		if (v)
			v->delay_pct = t->delay_pct;
	}
	for (unsigned q = 0; q < j->nv; q++)
		vcpu_verdict(j, &j->v[q]);
	disks(guest, j);
}

static json_t *num(double v)
{
	return v < 0 || !isfinite(v) ? json_null() : pjnum(round(v * 1000) / 1000);
}

json_t *join_json(const struct join_result *j)
{
	json_t *o = json_object();
	json_t *g = json_object();
	json_object_set_new(g, "system_uuid", j->guest.uuid[0] ? json_string(j->guest.uuid) : json_null());
	json_object_set_new(g, "machine_id", j->guest.machine_id[0] ? json_string(j->guest.machine_id) : json_null());
	json_object_set_new(g, "hypervisor", json_string(j->guest.hypervisor ? j->guest.hypervisor : "unknown"));
	json_object_set_new(g, "span_s", num(j->guest_span_s));
	json_object_set_new(g, "steal_reported", json_boolean(j->steal_reported));
	json_object_set_new(o, "guest", g);
	json_object_set_new(o, "matched", json_boolean(j->matched));
	if (!j->matched) {
		json_object_set_new(o, "why", json_string(j->why));
		return o;
	}
	json_object_set_new(o, "matched_by", json_string(j->matched_by));
	json_object_set_new(o, "key", json_string(j->key));
	json_t *h = json_object();
	json_object_set_new(h, "vm", json_string(j->vm->name));
	json_object_set_new(h, "vmm", json_string(j->vm->vmm));
	json_object_set_new(h, "pid", json_integer(j->vm->pid));
	json_object_set_new(h, "span_s", num(j->host_span_s));
	json_object_set_new(h, "host_steal_pct", num(j->host_steal_pct));
	json_object_set_new(o, "host", h);
	json_t *a = json_array();
	for (unsigned i = 0; i < j->nv; i++) {
		const struct join_vcpu *v = &j->v[i];
		json_t *e = json_object();
		json_object_set_new(e, "vcpu", json_integer(v->vcpu));
		json_object_set_new(e, "guest_steal_pct", num(v->steal_pct));
		json_object_set_new(e, "host_delay_pct", num(v->delay_pct));
		json_object_set_new(e, "difference_points",
				    v->steal_pct >= 0 && v->delay_pct >= 0 ? pjnum(round((v->steal_pct - v->delay_pct) * 1000) / 1000)
									   : json_null());
		json_object_set_new(e, "verdict", json_string(v->verdict));
		json_object_set_new(e, "why", json_string(v->why));
		json_array_append_new(a, e);
	}
	json_object_set_new(o, "vcpus", a);
	json_t *d = json_object();
	json_object_set_new(d, "guest_await_ms", num(j->guest_await_ms));
	json_object_set_new(d, "guest_disks", json_integer(j->guest_disks));
	json_object_set_new(d, "vmm_await_ms", num(j->vmm_await_ms));
	json_object_set_new(d, "host_device_await_ms", num(j->host_dev_await_ms));
	json_object_set_new(d, "why", json_string(j->io_why));
	json_object_set_new(o, "disks", d);
	return o;
}
