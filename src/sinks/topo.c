/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * `hiddenq topo`, rendered: the machine's shape (topo/topo.h) and what
 * topo/view.h adds, as text (with a DPDK cpu_layout-style socket x core
 * table) and as JSON.
 */
#include "topo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../analysis/stack.h"
#include "../core/util.h"
#include "../parse/parse.h"

/* CPUs of (package, core), sorted, into out (cap t->ncpus); count. */
static size_t cell_cpus(const struct topo *t, int pkg, int core, int *out)
{
	size_t n = 0;
	for (size_t i = 0; i < t->ncpus; i++)
		if (t->cpus[i].online && t->cpus[i].package == pkg && t->cpus[i].core == core)
			out[n++] = t->cpus[i].id;
	return n;
}

static size_t offline_cpus(const struct topo *t, int *out)
{
	size_t n = 0;
	for (size_t i = 0; i < t->ncpus; i++)
		if (!t->cpus[i].online)
			out[n++] = t->cpus[i].id;
	return n;
}

/* Number of CPUs in a cpulist string (0 if malformed). */
static unsigned list_count(const char *s)
{
	int n = cpulist_parse(s, strlen(s), TOPO_MAX_CPUS - 1, NULL, NULL);
	return n > 0 ? (unsigned)n : 0;
}

static const char *cache_scope(const struct topo *t, const struct topo_cache *c, char *buf, size_t n)
{
	unsigned k = c->ngroups ? list_count(c->groups[0]) : 0;
	if (!k)
		return "?";
	if (k == 1 && t->threads_per_core <= 1)
		snprintf(buf, n, "per core");
	else if (k == 1)
		snprintf(buf, n, "per CPU");
	else if (t->threads_per_core > 1 && k == t->threads_per_core)
		snprintf(buf, n, "per core");
	else if (t->sockets && k == t->online / t->sockets && t->online % t->sockets == 0)
		snprintf(buf, n, t->sockets == 1 ? "all CPUs" : "per socket");
	else if (k == t->online)
		snprintf(buf, n, "all CPUs");
	else
		snprintf(buf, n, "%u CPUs each", k);
	return buf;
}

static void fmt_kib(uint64_t kib, char *buf, size_t n)
{
	if (kib >= 1024 && kib % 1024 == 0)
		snprintf(buf, n, "%llu MiB", (unsigned long long)(kib / 1024));
	else
		snprintf(buf, n, "%llu KiB", (unsigned long long)kib);
}

static const char *vnuma_text(const struct topo_view *v, char *buf, size_t n)
{
	const struct topo *t = v->t;
	if (t->nodes_synthetic)
		snprintf(buf, n, "unknown (no NUMA information in sysfs)");
	else if (v->guest_known && !v->guest)
		snprintf(buf, n, "n/a (not a guest: %zu physical NUMA node%s)", t->nnodes, t->nnodes == 1 ? "" : "s");
	else if (t->nnodes > 1)
		snprintf(buf, n, "yes: the guest was given %zu NUMA nodes", t->nnodes);
	else
		snprintf(buf, n, "no: one NUMA node (the guest cannot see how the host placed its memory)");
	return buf;
}

static bool vnuma_given(const struct topo_view *v)
{
	return !v->t->nodes_synthetic && (!v->guest_known || v->guest) && v->t->nnodes > 1;
}

/* ---- text ---- */

/* text at indent, wrapped at 96 columns */
static void wrap_at(FILE *o, const char *text, unsigned indent)
{
	unsigned col = 0;
	for (const char *p = text; *p;) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		unsigned wl = (unsigned)(p - w);
		if (!wl)
			break;
		if (col == 0) {
			fprintf(o, "%*s", (int)indent, "");
			col = indent;
		} else if (col + 1 + wl > 96) {
			fprintf(o, "\n%*s", (int)indent, "");
			col = indent;
		} else {
			fputc(' ', o);
			col++;
		}
		fwrite(w, 1, wl, o);
		col += wl;
	}
	if (col)
		fputc('\n', o);
}

static void print_fact(FILE *o, const char *label, const struct sfact *f)
{
	fprintf(o, "  %-18s %s", label, f->known ? f->value : "unknown");
	if (f->confidence)
		fprintf(o, " (%s confidence)", f->confidence);
	fputc('\n', o);
	if (f->source[0]) {
		char *s = xasprintf("from: %s", f->source);
		wrap_at(o, s, 21);
		free(s);
	}
	if (f->meaning[0]) {
		char *s = xasprintf("%s%s", f->known ? "" : "why: ", f->meaning);
		wrap_at(o, s, 21);
		free(s);
	}
}

static void print_stack(FILE *o, const struct stack *s)
{
	fprintf(o, "\nVirtualization stack\n");
	print_fact(o, "hypervisor", &s->hypervisor);
	print_fact(o, "platform", &s->platform);
	print_fact(o, "nesting", &s->nesting);
	if (s->exit_ns)
		fprintf(o, "%21s measured: one CPUID exit took %.1f µs (least of 8 rounds of 16)\n", "",
			(double)s->exit_ns / 1000.0);
	if (s->guest)
		print_fact(o, "nested VMs offered", &s->nested_capable);
	print_fact(o, "container", &s->container);
	char lab[64];
	for (unsigned i = 0; i < s->nnics; i++) {
		snprintf(lab, sizeof(lab), "NIC %s", s->nics[i].name);
		print_fact(o, lab, &s->nics[i].f);
	}
	for (unsigned i = 0; i < s->ndisks; i++) {
		snprintf(lab, sizeof(lab), "disk %s", s->disks[i].name);
		print_fact(o, lab, &s->disks[i].f);
	}
	print_fact(o, "confidential VM", &s->confidential);
	print_fact(o, "swiotlb", &s->swiotlb);
	print_fact(o, "GPU", &s->gpu);
	for (unsigned i = 0; i < s->ngpus; i++) {
		snprintf(lab, sizeof(lab), "GPU %s", s->gpus[i].name);
		print_fact(o, lab, &s->gpus[i].f);
	}
	print_fact(o, "mitigations", &s->mitigations);
	for (unsigned i = 0; i < s->nmits; i++)
		if (s->mits[i].cost >= COST_MEDIUM || s->mits[i].vulnerable)
			fprintf(o, "    %-22s %-7s %s\n", s->mits[i].name,
				s->mits[i].vulnerable ? "exposed" : cost_class_name(s->mits[i].cost), s->mits[i].line);
	print_fact(o, "system UUID", &s->uuid);
	print_fact(o, "machine-id", &s->machine_id);
}

static void print_text(FILE *o, const struct topo_view *v)
{
	const struct topo *t = v->t;
	char buf[256];
	int *tmp = xcalloc(t->ncpus + 1, sizeof(int));

	fprintf(o, "hiddenq %s topo — ", HQ_VERSION);
	if (v->guest_known && v->guest)
		fprintf(o, "%s guest", v->hv ? v->hv : "unknown hypervisor");
	else if (v->guest_known)
		fprintf(o, "no hypervisor seen (bare metal, or a hypervisor that hides itself)");
	else
		fprintf(o, "hypervisor unknown (no CPUID)");
	if (v->dmi_vendor[0] || v->dmi_product[0])
		fprintf(o, " (%s%s%s)", v->dmi_vendor, v->dmi_vendor[0] && v->dmi_product[0] ? " " : "", v->dmi_product);
	fprintf(o, ", source: %s\n", v->source);
	if (t->model[0])
		fprintf(o, "  model: %s\n", t->model);
	fprintf(o, "  vNUMA: %s\n\n", vnuma_text(v, buf, sizeof(buf)));

	fprintf(o, "  %u socket%s × %u core%s × %u thread%s = %u CPU%s online", t->sockets, t->sockets == 1 ? "" : "s",
		t->cores_per_socket, t->cores_per_socket == 1 ? "" : "s", t->threads_per_core,
		t->threads_per_core == 1 ? "" : "s", t->online, t->online == 1 ? "" : "s");
	if (t->offline)
		fprintf(o, " (+%u offline)", t->offline);
	fprintf(o, ", %zu NUMA node%s", t->nnodes, t->nnodes == 1 ? "" : "s");
	if (t->dies_per_socket > 1)
		fprintf(o, ", %u dies per socket", t->dies_per_socket);
	fputc('\n', o);
	if (!t->uniform)
		fprintf(o, "  (not uniform: the numbers above are the largest socket and core; see the table)\n");
	if (strcmp(t->cpu_source, "sysfs"))
		fprintf(o, "  (CPUs from %s: sys/devices/system/cpu is missing)\n", t->cpu_source);

	fprintf(o, "\nNUMA nodes%s\n", t->nodes_synthetic ? " (none in sysfs: one node assumed)" : "");
	fprintf(o, "  %-6s %-16s %12s ", "node", "CPUs", "memory");
	for (size_t j = 0; j < t->nnodes && t->nnodes > 1; j++)
		fprintf(o, " %4d", t->nodes[j].id);
	if (t->nnodes > 1)
		fprintf(o, "   (distances; 10 = local)");
	fputc('\n', o);
	for (size_t i = 0; i < t->nnodes; i++) {
		const struct topo_node *nd = &t->nodes[i];
		char *cl = cpulist_format(nd->cpus, nd->ncpus);
		char mem[32] = "?";
		if (nd->has_mem)
			snprintf(mem, sizeof(mem), "%llu MiB", (unsigned long long)(nd->mem_total_kib / 1024));
		fprintf(o, "  %-6d %-16s %12s ", nd->id, *cl ? cl : "(none)", mem);
		for (size_t j = 0; j < t->nnodes && t->nnodes > 1; j++) {
			if (j < nd->ndist)
				fprintf(o, " %4d", nd->dist[j]);
			else
				fprintf(o, " %4s", "?");
		}
		fputc('\n', o);
		free(cl);
	}

	/* which figure is the memory column, and why when it is not simply the nodes' own */
	fprintf(o, "  memory: %s%s%s%s\n", t->node_mem_source ? t->node_mem_source : "?", t->node_mem_note[0] ? " (" : "",
		t->node_mem_note, t->node_mem_note[0] ? ")" : "");

	/* cpu_layout: rows = core ids, columns = sockets, cells = [cpu, sibling] */
	fprintf(o, "\nCPU layout (rows: core id, columns: socket, [cpu, hyper-thread siblings])\n");
	size_t w = 6;
	for (size_t r = 0; r < v->ncoreids; r++)
		for (size_t s = 0; s < v->nsockets; s++) {
			size_t n = cell_cpus(t, v->sockets[s], v->coreids[r], tmp), len = 2;
			for (size_t k = 0; k < n; k++)
				len += (size_t)snprintf(NULL, 0, "%s%d", k ? ", " : "", tmp[k]);
			if (len > w)
				w = len;
		}
	w += 2;
	fprintf(o, "  %-9s", "");
	for (size_t s = 0; s < v->nsockets; s++) {
		snprintf(buf, sizeof(buf), "Socket %d", v->sockets[s]);
		fprintf(o, "%-*s", (int)(w > 10 ? w : 10), buf);
	}
	fprintf(o, "\n  %-9s", "");
	for (size_t s = 0; s < v->nsockets; s++)
		fprintf(o, "%-*s", (int)(w > 10 ? w : 10), "--------");
	fputc('\n', o);
	for (size_t r = 0; r < v->ncoreids; r++) {
		snprintf(buf, sizeof(buf), "Core %d", v->coreids[r]);
		fprintf(o, "  %-9s", buf);
		for (size_t s = 0; s < v->nsockets; s++) {
			size_t n = cell_cpus(t, v->sockets[s], v->coreids[r], tmp), len = 0;
			char cell[512];
			cell[0] = '\0';
			if (n) {
				len += (size_t)snprintf(cell + len, sizeof(cell) - len, "[");
				for (size_t k = 0; k < n && len < sizeof(cell) - 16; k++)
					len += (size_t)snprintf(cell + len, sizeof(cell) - len, "%s%d", k ? ", " : "", tmp[k]);
				snprintf(cell + len, sizeof(cell) - len, "]");
			}
			fprintf(o, "%-*s", (int)(w > 10 ? w : 10), cell);
		}
		fputc('\n', o);
	}

	fprintf(o, "\nCaches\n");
	if (!t->ncaches)
		fprintf(o, "  (no cache information)\n");
	for (size_t i = 0; i < t->ncaches; i++) {
		const struct topo_cache *c = &t->caches[i];
		char name[16], size[32], scope[48];
		topo_cache_name(c, name, sizeof(name));
		fmt_kib(c->size_kib, size, sizeof(size));
		fprintf(o, "  %-4s %9s  %-10s %3zu instance%s: ", name, c->size_kib ? size : "?",
			cache_scope(t, c, scope, sizeof(scope)), c->ngroups, c->ngroups == 1 ? " " : "s");
		for (size_t g = 0; g < c->ngroups && g < 16; g++)
			fprintf(o, "%s%s", g ? " | " : "", c->groups[g]);
		if (c->ngroups > 16)
			fprintf(o, " | … (%zu more)", c->ngroups - 16);
		fputc('\n', o);
	}

	size_t noff = offline_cpus(t, tmp);
	char *offl = cpulist_format(tmp, noff);
	fprintf(o, "\nOffline CPUs: %s\n", noff ? offl : "none");
	free(offl);

	fprintf(o, "\nDevices → NUMA node\n");
	if (!t->ndevs)
		fprintf(o, "  (no NIC, disk or GPU with a device behind it)\n");
	for (size_t i = 0; i < t->ndevs; i++) {
		const struct topo_device *d = &t->devs[i];
		if (d->node >= 0)
			fprintf(o, "  %-6s %-16s node %d%s\n", d->cls, d->name, d->node,
				!strcmp(d->source, "hwloc") ? "  (from hwloc)" : "");
		else
			fprintf(o, "  %-6s %-16s no node info\n", d->cls, d->name);
	}
	if (v->hwloc == -ENOTSUP)
		fprintf(o, "  (built without hwloc: locality from sysfs only)\n");
	else if (v->hwloc == -EIO)
		fprintf(o, "  (hwloc failed to load the topology: locality from sysfs only)\n");

	if (v->stack)
		print_stack(o, v->stack);

	for (size_t i = 0; i < t->nwarnings; i++)
		log_warn("%s", t->warnings[i]);
	free(tmp);
}

/* ---- JSON ---- */

static json_t *int_array(const int *a, size_t n)
{
	json_t *j = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(j, json_integer(a[i]));
	return j;
}

json_t *topo_json(const struct topo_view *v)
{
	const struct topo *t = v->t;
	int *tmp = xcalloc(t->ncpus + 1, sizeof(int));
	json_t *o = json_object();
	char buf[256];
	json_object_set_new(o, "hiddenq", json_string(HQ_VERSION));
	json_object_set_new(o, "source", json_string(v->source));
	json_t *hv = json_object();
	json_object_set_new(hv, "guest", v->guest_known ? json_boolean(v->guest) : json_null());
	json_object_set_new(hv, "name", v->hv && v->guest ? json_string(v->hv) : json_null());
	json_object_set_new(hv, "signature", json_string(v->id.hv_sig));
	json_object_set_new(hv, "dmi_vendor", json_string(v->dmi_vendor));
	json_object_set_new(hv, "dmi_product", json_string(v->dmi_product));
	json_object_set_new(o, "hypervisor", hv);
	json_object_set_new(o, "vnuma", json_boolean(vnuma_given(v)));
	json_object_set_new(o, "vnuma_text", json_string(vnuma_text(v, buf, sizeof(buf))));
	json_object_set_new(o, "model", json_string(t->model));
	json_object_set_new(o, "cpu_source", json_string(t->cpu_source));

	json_t *s = json_object();
	json_object_set_new(s, "sockets", json_integer(t->sockets));
	json_object_set_new(s, "cores", json_integer(t->cores));
	json_object_set_new(s, "cores_per_socket", json_integer(t->cores_per_socket));
	json_object_set_new(s, "threads_per_core", json_integer(t->threads_per_core));
	json_object_set_new(s, "dies_per_socket", json_integer(t->dies_per_socket));
	json_object_set_new(s, "cpus_online", json_integer(t->online));
	json_object_set_new(s, "cpus_offline", json_integer(t->offline));
	json_object_set_new(s, "nodes", json_integer((json_int_t)t->nnodes));
	json_object_set_new(s, "uniform", json_boolean(t->uniform));
	json_object_set_new(o, "summary", s);

	json_t *cpus = json_array();
	for (size_t i = 0; i < t->ncpus; i++) {
		const struct topo_cpu *c = &t->cpus[i];
		json_t *e = json_object();
		json_object_set_new(e, "cpu", json_integer(c->id));
		json_object_set_new(e, "online", json_boolean(c->online));
		json_object_set_new(e, "socket", json_integer(c->package));
		json_object_set_new(e, "die", json_integer(c->die));
		json_object_set_new(e, "core", json_integer(c->core));
		json_object_set_new(e, "thread", json_integer(c->thread));
		json_object_set_new(e, "node", json_integer(c->node));
		json_array_append_new(cpus, e);
	}
	json_object_set_new(o, "cpus", cpus);

	json_t *nodes = json_array();
	for (size_t i = 0; i < t->nnodes; i++) {
		const struct topo_node *nd = &t->nodes[i];
		json_t *e = json_object();
		char *cl = cpulist_format(nd->cpus, nd->ncpus);
		json_object_set_new(e, "id", json_integer(nd->id));
		json_object_set_new(e, "cpus", json_string(cl));
		json_object_set_new(e, "cpu_list", int_array(nd->cpus, nd->ncpus));
		json_object_set_new(e, "mem_total_kib", nd->has_mem ? json_integer((json_int_t)nd->mem_total_kib) : json_null());
		json_object_set_new(e, "mem_node_kib", nd->mem_node_kib ? json_integer((json_int_t)nd->mem_node_kib) : json_null());
		json_object_set_new(e, "distances", int_array(nd->dist, nd->ndist));
		json_array_append_new(nodes, e);
		free(cl);
	}
	json_object_set_new(o, "nodes", nodes);
	json_object_set_new(o, "nodes_synthetic", json_boolean(t->nodes_synthetic));
	json_object_set_new(o, "node_mem_source", json_string(t->node_mem_source ? t->node_mem_source : "?"));
	if (t->node_mem_note[0])
		json_object_set_new(o, "node_mem_note", json_string(t->node_mem_note));
	json_object_set_new(o, "node_mem_lower_bound", json_boolean(t->node_mem_lazy));

	json_t *lay = json_object();
	json_object_set_new(lay, "sockets", int_array(v->sockets, v->nsockets));
	json_object_set_new(lay, "cores", int_array(v->coreids, v->ncoreids));
	json_t *rows = json_array();
	for (size_t r = 0; r < v->ncoreids; r++) {
		json_t *row = json_array();
		for (size_t k = 0; k < v->nsockets; k++) {
			size_t n = cell_cpus(t, v->sockets[k], v->coreids[r], tmp);
			json_array_append_new(row, int_array(tmp, n));
		}
		json_array_append_new(rows, row);
	}
	json_object_set_new(lay, "cells", rows);
	json_object_set_new(o, "layout", lay);

	json_t *caches = json_array();
	for (size_t i = 0; i < t->ncaches; i++) {
		const struct topo_cache *c = &t->caches[i];
		json_t *e = json_object(), *g = json_array();
		char name[16], scope[48];
		topo_cache_name(c, name, sizeof(name));
		json_object_set_new(e, "name", json_string(name));
		json_object_set_new(e, "level", json_integer(c->level));
		json_object_set_new(e, "type", json_string(c->type));
		json_object_set_new(e, "size_kib", json_integer((json_int_t)c->size_kib));
		json_object_set_new(e, "scope", json_string(cache_scope(t, c, scope, sizeof(scope))));
		for (size_t k = 0; k < c->ngroups; k++)
			json_array_append_new(g, json_string(c->groups[k]));
		json_object_set_new(e, "shared_by", g);
		json_array_append_new(caches, e);
	}
	json_object_set_new(o, "caches", caches);

	size_t noff = offline_cpus(t, tmp);
	json_object_set_new(o, "offline", int_array(tmp, noff));

	json_t *devs = json_array();
	for (size_t i = 0; i < t->ndevs; i++) {
		json_t *e = json_object();
		json_object_set_new(e, "name", json_string(t->devs[i].name));
		json_object_set_new(e, "class", json_string(t->devs[i].cls));
		json_object_set_new(e, "node", json_integer(t->devs[i].node));
		json_object_set_new(e, "source", json_string(t->devs[i].source));
		json_array_append_new(devs, e);
	}
	json_object_set_new(o, "devices", devs);
	json_object_set_new(o, "hwloc", json_string(v->hwloc == 0 ? topo_hwloc_version()
						   : v->hwloc == -ENOTSUP ? "not built in"
						   : v->hwloc == -EIO ? "failed" : "not used"));
	json_t *w = json_array();
	for (size_t i = 0; i < t->nwarnings; i++)
		json_array_append_new(w, json_string(t->warnings[i]));
	json_object_set_new(o, "warnings", w);
	if (v->stack) {
		json_t *sj = stack_json(v->stack);
		if (v->stack->exit_ns)
			json_object_set_new(json_object_get(sj, "nesting"), "cpuid_exit_ns",
					    json_integer((json_int_t)v->stack->exit_ns));
		json_object_set_new(o, "stack", sj);
	}
	free(tmp);
	return o;
}

void topo_print(FILE *out, const struct topo_view *v)
{
	/* print into memory, then drop the padding at line ends */
	char *txt = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&txt, &len);
	if (!m) {
		print_text(out, v);
		return;
	}
	print_text(m, v);
	fclose(m);
	for (char *p = txt, *nl; p && *p; p = *nl ? nl + 1 : nl) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		char *e = nl;
		while (e > p && e[-1] == ' ')
			e--;
		fprintf(out, "%.*s\n", (int)(e - p), p);
	}
	free(txt);
}
