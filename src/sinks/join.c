/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "join.h"

#include <string.h>

#include "../core/util.h"

static void pct(FILE *out, double v)
{
	if (v < 0)
		fprintf(out, " %14s", "unknown");
	else
		fprintf(out, " %12.1f %%", v);
}

void join_print(FILE *out, const struct join_result *j, const char *guest_src, const char *host_src)
{
	fprintf(out, "hiddenq %s join — guest %s, host %s\n", HQ_VERSION, guest_src, host_src);
	fprintf(out, "  guest: %s, system UUID %s, machine-id %s\n", j->guest.hypervisor ? j->guest.hypervisor : "?",
		j->guest.uuid[0] ? j->guest.uuid : "unknown", j->guest.machine_id[0] ? j->guest.machine_id : "unknown");
	if (!j->matched) {
		fprintf(out, "\n  not joined: %s\n", j->why);
		return;
	}
	fprintf(out, "  host:  VM %s (%s, PID %d), matched by %s %s\n", j->vm->name, j->vm->vmm, j->vm->pid,
		j->matched_by, j->key);
	fprintf(out, "  period: %.1f s of the guest's samples, %.1f s of the host's, over the time both cover\n",
		j->guest_span_s, j->host_span_s);
	if (j->host_steal_pct >= 0)
		fprintf(out, "  the host itself lost %.1f %% to steal (it is a guest too)\n", j->host_steal_pct);
	fprintf(out, "\n  %-5s %14s %14s %10s  %s\n", "vCPU", "guest steal", "host delay", "diff", "verdict");
	for (unsigned i = 0; i < j->nv; i++) {
		const struct join_vcpu *v = &j->v[i];
		fprintf(out, "  %-5d", v->vcpu);
		pct(out, v->steal_pct);
		pct(out, v->delay_pct);
		if (v->steal_pct >= 0 && v->delay_pct >= 0)
			fprintf(out, " %+10.1f", v->steal_pct - v->delay_pct);
		else
			fprintf(out, " %10s", "-");
		fprintf(out, "  %s\n", v->verdict);
	}
	const char *last = NULL;
	for (unsigned i = 0; i < j->nv; i++) {
		const struct join_vcpu *v = &j->v[i];
		if (last && !strcmp(last, v->why))
			continue;
		fprintf(out, "    %s: %s\n", v->verdict, v->why);
		last = v->why;
	}
	fprintf(out, "\n  disks: guest await ");
	if (j->guest_await_ms >= 0)
		fprintf(out, "%.2f ms (%u virtual disk%s)", j->guest_await_ms, j->guest_disks, j->guest_disks == 1 ? "" : "s");
	else
		fprintf(out, "unknown");
	if (j->vmm_await_ms >= 0)
		fprintf(out, ", the VMM's time for them %.2f ms", j->vmm_await_ms);
	if (j->host_dev_await_ms >= 0)
		fprintf(out, ", the host device under the images %.2f ms", j->host_dev_await_ms);
	fprintf(out, "\n    %s\n", j->io_why);
}
