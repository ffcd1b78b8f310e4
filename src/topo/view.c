/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "view.h"

#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../sys/identity.h"

void topo_identity(const struct fsroot *root, bool live, struct identity *id)
{
	if (live) {
		char *j = identity_probe_json(root);
		identity_parse(j, strlen(j), id);
		free(j);
		return;
	}
	char *b;
	size_t n;
	memset(id, 0, sizeof(*id));
	if (fsroot_read(root, IDENTITY_PATH, &b, &n, 1 << 20) == 0)
		identity_parse(b, n, id);
	free(b);
}

/* One line of a small text file under the root, trimmed ("" if absent). */
static void read_line(const struct fsroot *root, const char *rel, char *out, size_t cap)
{
	char *b;
	size_t n;
	out[0] = '\0';
	if (fsroot_read(root, rel, &b, &n, 4096) < 0) {
		free(b);
		return;
	}
	size_t k = 0;
	for (size_t i = 0; i < n && b[i] != '\n' && k + 1 < cap; i++)
		out[k++] = (b[i] >= 0x20 && b[i] < 0x7f) ? b[i] : '?';
	while (k && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
	free(b);
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static size_t uniq(int *a, size_t n)
{
	if (!n)
		return 0;
	qsort(a, n, sizeof(*a), cmp_int);
	size_t k = 1;
	for (size_t i = 1; i < n; i++)
		if (a[i] != a[k - 1])
			a[k++] = a[i];
	return k;
}

void topo_view_init(struct topo_view *v, const struct topo *t, const struct fsroot *root, bool live,
		    const char *source)
{
	memset(v, 0, sizeof(*v));
	v->t = t;
	v->source = source;
	topo_identity(root, live, &v->id);
	read_line(root, "sys/class/dmi/id/sys_vendor", v->dmi_vendor, sizeof(v->dmi_vendor));
	read_line(root, "sys/class/dmi/id/product_name", v->dmi_product, sizeof(v->dmi_product));
	read_line(root, "sys/hypervisor/type", v->hv_type, sizeof(v->hv_type));
	v->hv = identity_hv_name(&v->id);
	if (v->id.known && v->id.cpuid_available) {
		v->guest_known = true;
		v->guest = v->id.hv_bit;
	} else if (v->hv_type[0]) {
		v->guest_known = v->guest = true;
		v->hv = !strcmp(v->hv_type, "xen") ? "Xen" : v->hv_type;
	}
	v->sockets = xcalloc(t->ncpus + 1, sizeof(int));
	v->coreids = xcalloc(t->ncpus + 1, sizeof(int));
	for (size_t i = 0; i < t->ncpus; i++) {
		const struct topo_cpu *c = &t->cpus[i];
		if (!c->online || c->package < 0)
			continue;
		v->sockets[v->nsockets++] = c->package;
		v->coreids[v->ncoreids++] = c->core;
	}
	v->nsockets = uniq(v->sockets, v->nsockets);
	v->ncoreids = uniq(v->coreids, v->ncoreids);
	v->hwloc = 1;
}

void topo_view_done(struct topo_view *v)
{
	free(v->sockets);
	free(v->coreids);
}
