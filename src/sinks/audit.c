/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* `hiddenq audit`: the checklist's results (analysis/audit.h) as JSON and text. */
#include "audit.h"
#include "report.h"

#include <string.h>

#include "../core/util.h"

json_t *audit_json(const struct audit_ctx *c, const struct audit_out *o)
{
	json_t *j = json_object();
	json_object_set_new(j, "hiddenq", json_string(HQ_VERSION));
	json_t *m = json_array();
	if (c->host)
		json_array_append_new(m, json_string("host"));
	if (c->guest)
		json_array_append_new(m, json_string("guest"));
	json_object_set_new(j, "mode", m);
	json_object_set_new(j, "cpus", c->ncpus ? json_integer(c->ncpus) : json_null());
	json_t *vms = json_array();
	for (size_t i = 0; i < c->nvms; i++) {
		const struct audit_vm *v = &c->vms[i];
		json_t *x = json_object();
		json_object_set_new(x, "name", json_string(v->conf.name));
		json_object_set_new(x, "origin", json_string(v->origin));
		json_object_set_new(x, "source", json_string(v->conf.source));
		json_object_set_new(x, "pid", v->pid ? json_integer(v->pid) : json_null());
		json_object_set_new(x, "vcpus", v->conf.vcpus ? json_integer(v->conf.vcpus) : json_null());
		json_object_set_new(x, "memory_mib", v->conf.mem_mib ? json_integer((json_int_t)v->conf.mem_mib) : json_null());
		if (v->conf.rejected[0])
			json_object_set_new(x, "rejected", json_string(v->conf.rejected));
		json_object_set_new(x, "cpu_model", json_string(v->conf.cpu_model));
		json_object_set_new(x, "accel", json_string(v->conf.accel));
		json_t *ds = json_array();
		for (unsigned k = 0; k < v->conf.ndisks; k++) {
			const struct vm_disk *d = &v->conf.disks[k];
			json_t *dj = json_object();
			json_object_set_new(dj, "id", json_string(d->id));
			json_object_set_new(dj, "model", json_string(d->model));
			json_object_set_new(dj, "bus", json_string(d->bus));
			json_object_set_new(dj, "file", json_string(d->file));
			json_object_set_new(dj, "format", json_string(d->format));
			json_object_set_new(dj, "cache", json_string(d->cache));
			json_object_set_new(dj, "aio", json_string(d->aio));
			json_object_set_new(dj, "num_queues", json_integer(d->num_queues));
			json_object_set_new(dj, "cdrom", json_boolean(d->cdrom));
			if (k < VMCONF_MAX_DISKS && v->chain[k].n) {
				json_t *cj = image_chain_json(&v->chain[k]);
				json_object_set_new(cj, "depth", json_integer(v->chain[k].n));
				json_object_set_new(cj, "layers_on_other_queues", json_integer(image_chain_queues(&v->chain[k])));
				json_object_set_new(dj, "chain", cj);
			} else if (k < VMCONF_MAX_DISKS && v->chain_why[k][0]) {
				json_object_set_new(dj, "chain_error", json_string(v->chain_why[k]));
			}
			json_array_append_new(ds, dj);
		}
		json_object_set_new(x, "disks", ds);
		json_t *ns = json_array();
		for (unsigned k = 0; k < v->conf.nnics; k++) {
			const struct vm_nic *n = &v->conf.nics[k];
			json_t *nj = json_object();
			json_object_set_new(nj, "id", json_string(n->id));
			json_object_set_new(nj, "model", json_string(n->model));
			json_object_set_new(nj, "backend", json_string(n->backend));
			json_object_set_new(nj, "ifname", json_string(n->ifname));
			json_object_set_new(nj, "queues", json_integer(n->queues));
			json_object_set_new(nj, "tap_queues_on_host", json_integer(v->tap_queues[k]));
			json_array_append_new(ns, nj);
		}
		json_object_set_new(x, "nics", ns);
		json_array_append_new(vms, x);
	}
	json_object_set_new(j, "vms", vms);
	if (c->check_images) {
		json_t *ck = json_array();
		for (size_t i = 0; i < c->nchecks; i++) {
			const struct audit_img_check *x = &c->checks[i];
			const struct img_layer *l = &c->vms[x->vm].chain[x->disk].layer[x->layer];
			json_t *y = json_object();
			json_object_set_new(y, "vm", json_string(c->vms[x->vm].conf.name));
			json_object_set_new(y, "file", json_string(l->file));
			json_object_set_new(y, "format", json_string(l->format));
			json_object_set_new(y, "exit", json_integer(x->rc));
			json_object_set_new(y, "corruptions", x->corruptions < 0 ? json_null() : json_integer(x->corruptions));
			json_object_set_new(y, "leaks", x->leaks < 0 ? json_null() : json_integer(x->leaks));
			json_object_set_new(y, "check_errors", x->check_errors < 0 ? json_null() : json_integer(x->check_errors));
			if (x->why[0])
				json_object_set_new(y, "message", json_string(x->why));
			json_array_append_new(ck, y);
		}
		json_object_set_new(j, "image_checks", ck);
		json_object_set_new(j, "qemu_img", c->qemu_img[0] ? json_string(c->qemu_img) : json_null());
	}
	json_t *items = json_array();
	unsigned np = 0, nf = 0, nu = 0;
	for (size_t i = 0; i < o->n; i++) {
		const struct audit_res *r = &o->v[i];
		json_t *x = json_object();
		json_object_set_new(x, "id", json_string(r->id));
		json_object_set_new(x, "title", json_string(r->title));
		json_object_set_new(x, "scope", json_string(r->scope));
		json_object_set_new(x, "subject", r->subject[0] ? json_string(r->subject) : json_null());
		json_object_set_new(x, "result", json_string(audit_result_name(r->r)));
		json_object_set_new(x, "evidence", json_string(r->evidence));
		if (r->note)
			json_object_set_new(x, "note", json_string(r->note));
		json_object_set_new(x, "fix", json_string(r->fix));
		json_array_append_new(items, x);
		np += r->r == AU_PASS;
		nf += r->r == AU_FAIL;
		nu += r->r == AU_UNKNOWN;
	}
	json_object_set_new(j, "items", items);
	json_t *s = json_object();
	json_object_set_new(s, "pass", json_integer(np));
	json_object_set_new(s, "fail", json_integer(nf));
	json_object_set_new(s, "unknown", json_integer(nu));
	json_object_set_new(j, "summary", s);
	if (c->notes)
		json_object_set_new(j, "notes", json_string(c->notes));
	return j;
}

void audit_print(FILE *f, const struct audit_ctx *c, const struct audit_out *o, bool verbose)
{
	char ncpu[16] = "?", nnode[16] = "?";
	if (c->ncpus)
		snprintf(ncpu, sizeof(ncpu), "%u", c->ncpus);
	if (c->nnodes || c->ncpus) /* CPUs without a node directory: a kernel without NUMA, one node */
		snprintf(nnode, sizeof(nnode), "%u", c->nnodes ? c->nnodes : 1);
	text_header(f, "audit", "%s%s%s%s, %s CPU%s, %s NUMA node%s, %zu VM configuration%s", c->host ? "host" : "",
		    c->host && c->guest ? " + " : "", c->guest ? "guest" : "",
		    !c->host && !c->guest ? "machine of unknown kind" : "", ncpu, c->ncpus == 1 ? "" : "s", nnode,
		    c->nnodes > 1 ? "s" : "", c->nvms, plural_s(c->nvms));
	for (size_t i = 0; i < c->nvms; i++) {
		const struct vmconf *vc = &c->vms[i].conf;
		char nv[16] = "?", nm[24] = "?";
		if (vc->vcpus)
			snprintf(nv, sizeof(nv), "%u", vc->vcpus);
		if (vc->mem_mib)
			snprintf(nm, sizeof(nm), "%llu", (unsigned long long)vc->mem_mib);
		fprintf(f, "  %s: %s vCPU%s, %s MiB (%s)\n", vc->name[0] ? vc->name : "?", nv, vc->vcpus == 1 ? "" : "s", nm,
			c->vms[i].origin);
		if (vc->rejected[0])
			fprintf(f, "    rejected: %s\n", vc->rejected);
	}
	const char *last = NULL;
	unsigned np = 0, nf = 0, nu = 0;
	for (size_t i = 0; i < o->n; i++) {
		const struct audit_res *r = &o->v[i];
		np += r->r == AU_PASS;
		nf += r->r == AU_FAIL;
		nu += r->r == AU_UNKNOWN;
		if (!last || strcmp(last, r->id) != 0) {
			fprintf(f, "\n%s  (%s)\n", r->title, r->id);
			last = r->id;
		}
		fprintf(f, "  %-7s %s%s%s\n", r->r == AU_PASS ? "pass" : r->r == AU_FAIL ? "FAIL" : "?", r->subject,
			r->subject[0] ? ": " : "", r->evidence);
		if (r->note && (verbose || r->r != AU_PASS || strlen(r->note) < 100))
			fprintf(f, "          %s\n", r->note);
		if (r->r == AU_FAIL)
			fprintf(f, "          fix: %s\n", r->fix);
	}
	fprintf(f, "\n%u pass, %u fail, %u unknown\n", np, nf, nu);
	if (c->notes)
		fprintf(f, "notes:\n  %s\n", c->notes);
}
