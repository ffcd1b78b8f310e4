/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* `hiddenq fit`: the verdict (topo/fit.h) as JSON and as text. */
#include "fit.h"

#include <string.h>

#include "../core/util.h"

json_t *fit_json(const struct fit_verdict *v, const struct fit_host_src *hs, const struct fit_vm *vm)
{
	json_t *o = json_object();
	json_object_set_new(o, "hiddenq", json_string(HQ_VERSION));
	json_t *h = json_object();
	json_object_set_new(h, "source", json_string(hs->source));
	json_object_set_new(h, "sockets", json_integer(hs->h.sockets));
	json_object_set_new(h, "cores_per_socket", json_integer(hs->h.cores_per_socket));
	json_object_set_new(h, "threads_per_core", json_integer(hs->h.threads_per_core));
	json_object_set_new(h, "nodes", json_integer(v->host_nodes));
	json_object_set_new(h, "cores_per_node", json_integer(v->host_cores_per_node));
	json_object_set_new(h, "mem_per_node_mib", json_integer((json_int_t)hs->h.mem_per_node_mib));
	json_object_set_new(h, "mem_source", json_string(hs->mem_source ? hs->mem_source : "?"));
	if (hs->mem_note[0])
		json_object_set_new(h, "mem_note", json_string(hs->mem_note));
	json_object_set_new(h, "mem_lower_bound", json_boolean(hs->mem_lazy));
	if (hs->why[0])
		json_object_set_new(h, "note", json_string(hs->why));
	json_object_set_new(o, "host", h);
	json_t *m = json_object();
	json_object_set_new(m, "vcpus", json_integer(vm->vcpus));
	json_object_set_new(m, "mem_mib", json_integer((json_int_t)vm->mem_mib));
	json_object_set_new(o, "vm", m);
	json_object_set_new(o, "verdict", json_string(fit_kind_name(v->kind)));
	bool fits = v->kind == FIT_ONE_NODE || v->kind == FIT_SPLIT || v->kind == FIT_UNEVEN;
	json_object_set_new(o, "fits", json_boolean(fits));
	json_object_set_new(o, "fits_one_node", json_boolean(v->kind == FIT_ONE_NODE));
	json_object_set_new(o, "cpus_fit_one_node", json_boolean(v->cpus_fit_one_node));
	json_object_set_new(o, "uses_threads", json_boolean(v->uses_threads));
	json_object_set_new(o, "headroom", json_boolean(fits && !v->no_headroom));
	json_object_set_new(o, "reason", json_string(v->reason));
	json_t *notes = json_array();
	for (unsigned i = 0; i < v->nnotes; i++)
		json_array_append_new(notes, json_string(v->notes[i]));
	json_object_set_new(o, "notes", notes);
	if (fits) {
		json_t *s = json_object();
		json_object_set_new(s, "sockets", json_integer(v->sockets));
		json_object_set_new(s, "dies", json_integer(v->dies));
		json_object_set_new(s, "cores", json_integer(v->cores));
		json_object_set_new(s, "threads", json_integer(v->threads));
		json_object_set_new(o, "shape", s);
		json_t *cells = json_array();
		for (unsigned i = 0; i < v->ncells; i++) {
			const struct fit_cell *c = &v->cells[i];
			json_t *e = json_object();
			char r[32];
			if (c->ncpus == 1)
				snprintf(r, sizeof(r), "%u", c->first_cpu);
			else
				snprintf(r, sizeof(r), "%u-%u", c->first_cpu, c->first_cpu + c->ncpus - 1);
			json_object_set_new(e, "id", json_integer(i));
			json_object_set_new(e, "cpus", json_string(r));
			json_object_set_new(e, "vcpus", json_integer(c->ncpus));
			json_object_set_new(e, "mem_mib", json_integer((json_int_t)c->mem_mib));
			json_object_set_new(e, "host_node", json_integer(c->host_node));
			json_array_append_new(cells, e);
		}
		json_object_set_new(o, "vnuma", cells);
		json_object_set_new(o, "libvirt", json_string(v->libvirt));
		json_object_set_new(o, "qemu", json_string(v->qemu));
	}
	if (v->kind == FIT_UNEVEN) {
		json_t *sg = json_array();
		if (v->suggest_lower)
			json_array_append_new(sg, json_integer(v->suggest_lower));
		if (v->suggest_upper)
			json_array_append_new(sg, json_integer(v->suggest_upper));
		json_object_set_new(o, "suggest_vcpus", sg);
	}
	json_object_set_new(o, "exit", json_integer(v->exit_code));
	return o;
}

static void print_block(FILE *out, const char *title, const char *text)
{
	fprintf(out, "\n%s\n", title);
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		fprintf(out, "  %.*s\n", (int)n, p);
		p += n + (nl ? 1 : 0);
	}
}

void fit_print(FILE *out, const struct fit_verdict *v, const struct fit_host_src *hs, const struct fit_vm *vm)
{
	char a[32], b[32];
	fit_fmt_mib(hs->h.mem_per_node_mib, a, sizeof(a));
	fit_fmt_mib(vm->mem_mib, b, sizeof(b));
	fprintf(out, "hiddenq %s fit — host (%s): %u socket%s × %u core%s × %u thread%s, %u NUMA node%s × %s "
	       "(%u core%s each)\n",
	       HQ_VERSION, hs->source, hs->h.sockets, plural_s(hs->h.sockets), hs->h.cores_per_socket,
	       plural_s(hs->h.cores_per_socket), hs->h.threads_per_core, plural_s(hs->h.threads_per_core), v->host_nodes,
	       plural_s(v->host_nodes), a, v->host_cores_per_node, plural_s(v->host_cores_per_node));
	if (hs->why[0])
		fprintf(out, "  (%s)\n", hs->why);
	fprintf(out, "  memory per node: %s%s%s%s\n", hs->mem_source ? hs->mem_source : "?", hs->mem_note[0] ? " (" : "",
		hs->mem_note, hs->mem_note[0] ? ")" : "");
	fprintf(out, "VM: %u vCPU%s, %s\n\n", vm->vcpus, vm->vcpus == 1 ? "" : "s", b);
	fprintf(out, "%s: %s\n", fit_kind_name(v->kind), v->reason);
	for (unsigned i = 0; i < v->nnotes; i++)
		fprintf(out, "  note: %s\n", v->notes[i]);
	if (v->libvirt)
		print_block(out, "libvirt domain XML:", v->libvirt);
	if (v->qemu)
		print_block(out, "QEMU:", v->qemu);
}
