/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The topology model, read from sysfs and procfs through an fsroot.
 *
 * Why sysfs and not hwloc for the model itself: the same code must run on a
 * capture bundle (a directory of copied files, read in confined mode) and in
 * the static binary that the test VMs and users' guests get, and a -static
 * link with hwloc is impossible on Debian (libhwloc.a needs libudev, which
 * has no static library).  hwloc, where it is linked, adds what sysfs does
 * not make obvious (I/O locality) and checks our counts (hwloc.c).
 *
 * Files read (relative to the root):
 *   sys/devices/system/cpu/{present,possible,online}, cpuN/online,
 *   cpuN/topology/{physical_package_id,die_id,core_id,thread_siblings_list},
 *   cpuN/cache/indexK/{level,type,size,shared_cpu_list},
 *   sys/devices/system/node/nodeN/{cpulist,distance,meminfo},
 *   sys/class/net/X/device/numa_node, sys/block/X/device/numa_node,
 *   sys/class/drm/cardN/device/numa_node,
 *   proc/cpuinfo (model name; the whole model when cpu/ is missing),
 *   proc/meminfo (MemTotal, against the nodes' own), proc/zoneinfo (present
 *   pages per node, when the nodes' MemTotal falls short of it).
 *
 * Devices: PCI devices have numa_node; the class devices above them often
 * do not (virtio-net's "device" is virtioN, whose parent is the PCI
 * function).  The kernel gives such a device its parent's node when it is
 * added (drivers/base/core.c device_add: set_dev_node(dev,
 * dev_to_node(parent))), so on a live root we walk up to two parents.  A
 * capture stores the node found at device/numa_node, which is the node the
 * kernel itself assigned to that device ("-1" when none).
 */
#include "topo.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/util.h"
#include "../parse/parse.h"
#include "../parse/topo.h"

#define MAX_TOPO_FILE (1u << 20)
#define MAX_CPUINFO (16u << 20)
#define MAX_WARNINGS 32
#define MAX_CACHE_INDEX 16
#define MAX_DEVICES 1024

struct rd {
	const struct fsroot *root;
	struct sample *rec;
	struct topo *t;
};

static void warn(struct topo *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct topo *t, const char *fmt, ...)
{
	if (t->nwarnings >= MAX_WARNINGS)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
	t->warnings = xrealloc(t->warnings, (t->nwarnings + 1) * sizeof(*t->warnings));
	t->warnings[t->nwarnings++] = m;
}

static void record(struct rd *r, const char *rel, const char *data, size_t len)
{
	if (r->rec && !sample_find(r->rec, rel))
		sample_add(r->rec, rel, data, len);
}

/* Read rel; 0 with *buf (caller frees) or -errno.  Recorded when asked. */
static int rd_file(struct rd *r, const char *rel, char **buf, size_t *len, size_t max)
{
	int ret = fsroot_read(r->root, rel, buf, len, max);
	if (ret == -EFBIG) {
		warn(r->t, "%s is larger than %zu bytes: read truncated", rel, max);
		ret = 0;
	}
	if (ret < 0)
		return ret;
	record(r, rel, *buf, *len);
	return 0;
}

static int rd_int(struct rd *r, const char *rel, int64_t *v)
{
	char *b;
	size_t n;
	int ret = rd_file(r, rel, &b, &n, 4096);
	if (ret < 0)
		return ret;
	ret = sysfs_int_parse(b, n, v);
	free(b);
	if (ret < 0)
		warn(r->t, "%s: not a number", rel);
	return ret;
}

/* ---- small sets of ids ---- */

struct idset {
	bool *on;	/* TOPO_MAX_CPUS entries */
	unsigned n;
};

static void idset_cb(int id, void *arg)
{
	struct idset *s = arg;
	if (!s->on[id]) {
		s->on[id] = true;
		s->n++;
	}
}

/* Parse a cpulist file into s; 0, or -errno (absent) / -EINVAL (malformed, warned). */
static int rd_cpulist(struct rd *r, const char *rel, struct idset *s)
{
	char *b;
	size_t n;
	int ret = rd_file(r, rel, &b, &n, MAX_TOPO_FILE);
	if (ret < 0)
		return ret;
	ret = cpulist_parse(b, n, TOPO_MAX_CPUS - 1, idset_cb, s);
	free(b);
	if (ret < 0) {
		warn(r->t, "%s: not a CPU list", rel);
		return -EINVAL;
	}
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

char *cpulist_format(const int *ids, size_t n)
{
	size_t cap = 16 + n * 12, o = 0;
	char *s = xmalloc(cap);
	s[0] = '\0';
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && ids[j + 1] == ids[j] + 1)
			j++;
		if (j == i)
			o += (size_t)snprintf(s + o, cap - o, "%s%d", o ? "," : "", ids[i]);
		else
			o += (size_t)snprintf(s + o, cap - o, "%s%d-%d", o ? "," : "", ids[i], ids[j]);
		i = j + 1;
	}
	return s;
}

const struct topo_cpu *topo_cpu(const struct topo *t, int id)
{
	size_t lo = 0, hi = t->ncpus;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (t->cpus[mid].id == id)
			return &t->cpus[mid];
		if (t->cpus[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct topo_node *topo_node(const struct topo *t, int id)
{
	for (size_t i = 0; i < t->nnodes; i++)
		if (t->nodes[i].id == id)
			return &t->nodes[i];
	return NULL;
}

int topo_distance(const struct topo *t, int a, int b)
{
	const struct topo_node *na = topo_node(t, a);
	if (!na)
		return -1;
	for (size_t j = 0; j < t->nnodes; j++)
		if (t->nodes[j].id == b)
			return j < na->ndist ? na->dist[j] : -1;
	return -1;
}

void topo_cache_name(const struct topo_cache *c, char *buf, size_t n)
{
	const char *suffix = "";
	if (!strcmp(c->type, "Data"))
		suffix = "d";
	else if (!strcmp(c->type, "Instruction"))
		suffix = "i";
	snprintf(buf, n, "L%u%s", c->level, suffix);
}

/* ---- directory listing through the root ---- */

/* Names in dir matching prefix+digits, as numbers, sorted.  Returns count. */
static size_t list_numbered(const struct fsroot *root, const char *dir, const char *prefix, int max_id,
			    int **out)
{
	*out = NULL;
	int fd = fsroot_opendir(root, dir);
	if (fd < 0)
		return 0;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	size_t n = 0, cap = 0, pl = strlen(prefix);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, pl) != 0)
			continue;
		const char *p = de->d_name + pl;
		if (!*p)
			continue;
		long v = 0;
		bool ok = true;
		for (; *p; p++) {
			if (*p < '0' || *p > '9' || v > max_id) {
				ok = false;
				break;
			}
			v = v * 10 + (*p - '0');
		}
		if (!ok || v > max_id)
			continue;
		xgrow((void **)out, sizeof(**out), &cap, n);
		(*out)[n++] = (int)v;
	}
	closedir(d);
	if (n)
		qsort(*out, n, sizeof(**out), cmp_int);
	return n;
}

/* Entry names of a directory (not "." / ".."), sorted.  Caller frees each and the array. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t list_names(const struct fsroot *root, const char *dir, char ***out)
{
	*out = NULL;
	int fd = fsroot_opendir(root, dir);
	if (fd < 0)
		return 0;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < MAX_DEVICES) {
		if (de->d_name[0] == '.')
			continue;
		xgrow((void **)out, sizeof(**out), &cap, n);
		(*out)[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(*out, n, sizeof(**out), cmp_str);
	return n;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* ---- CPUs ---- */

static void add_cpu(struct topo *t, int id)
{
	t->cpus = xrealloc(t->cpus, (t->ncpus + 1) * sizeof(*t->cpus));
	t->cpus[t->ncpus++] = (struct topo_cpu){
		.id = id, .package = -1, .die = -1, .core = -1, .node = -1, .thread = 0,
	};
}

static int cmp_cpu(const void *a, const void *b)
{
	return cmp_int(&((const struct topo_cpu *)a)->id, &((const struct topo_cpu *)b)->id);
}

static void read_cpu_topology(struct rd *r, struct topo_cpu *c)
{
	char rel[128];
	int64_t v;
	bool any = false;
	snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/topology/physical_package_id", c->id);
	if (rd_int(r, rel, &v) == 0 && v >= 0 && v < 1 << 20) {
		c->package = (int)v;
		any = true;
	}
	snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/topology/die_id", c->id);
	if (rd_int(r, rel, &v) == 0 && v >= 0 && v < 1 << 20)
		c->die = (int)v;
	snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/topology/core_id", c->id);
	if (rd_int(r, rel, &v) == 0 && v >= 0 && v < 1 << 20) {
		c->core = (int)v;
		any = true;
	}
	snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", c->id);
	char *b;
	size_t n;
	if (rd_file(r, rel, &b, &n, MAX_TOPO_FILE) == 0) {
		/* this CPU's position among its siblings: how many are below it */
		struct idset tmp = { xcalloc(TOPO_MAX_CPUS, sizeof(bool)), 0 };
		if (cpulist_parse(b, n, TOPO_MAX_CPUS - 1, idset_cb, &tmp) < 0) {
			warn(r->t, "%s: not a CPU list", rel);
		} else if (tmp.on[c->id]) {
			int below = 0;
			for (int i = 0; i < c->id; i++)
				below += tmp.on[i];
			c->thread = below;
		}
		free(tmp.on);
		free(b);
	}
	c->has_topology = any;
	if (c->has_topology && c->package < 0)
		c->package = 0;
}

/* /proc/cpuinfo: model name always; the whole CPU model when cpu/ is missing. */
static void read_cpuinfo(struct rd *r, bool model_only)
{
	char *b;
	size_t n;
	if (rd_file(r, "proc/cpuinfo", &b, &n, MAX_CPUINFO) < 0) {
		if (!model_only)
			warn(r->t, "neither sys/devices/system/cpu nor proc/cpuinfo is readable");
		return;
	}
	struct cpuinfo_cpu *cc;
	size_t nc;
	int ret = cpuinfo_topo_parse(b, n, TOPO_MAX_CPUS - 1, &cc, &nc, r->t->model, sizeof(r->t->model));
	free(b);
	if (ret < 0) {
		warn(r->t, "proc/cpuinfo: malformed processor numbers");
		return;
	}
	if (!model_only) {
		struct topo *t = r->t;
		bool *seen = xcalloc(TOPO_MAX_CPUS, sizeof(bool));
		for (size_t i = 0; i < nc; i++) {
			if (seen[cc[i].cpu])
				continue; /* duplicate processor block */
			seen[cc[i].cpu] = true;
			add_cpu(t, cc[i].cpu);
			struct topo_cpu *c = &t->cpus[t->ncpus - 1];
			c->online = true; /* cpuinfo lists online CPUs only */
			c->package = cc[i].package >= 0 ? cc[i].package : 0;
			c->core = cc[i].core >= 0 ? cc[i].core : cc[i].cpu;
			c->has_topology = true;
		}
		free(seen);
		if (t->ncpus)
			qsort(t->cpus, t->ncpus, sizeof(*t->cpus), cmp_cpu);
		/* thread index: order among CPUs of the same (package, core) */
		for (size_t i = 0; i < t->ncpus; i++) {
			int k = 0;
			for (size_t j = 0; j < i; j++)
				if (t->cpus[j].package == t->cpus[i].package && t->cpus[j].core == t->cpus[i].core)
					k++;
			t->cpus[i].thread = k;
		}
		t->cpu_source = t->ncpus ? "cpuinfo" : "none";
	}
	free(cc);
}

static void read_cpus(struct rd *r)
{
	struct topo *t = r->t;
	struct idset present = { xcalloc(TOPO_MAX_CPUS, sizeof(bool)), 0 };
	struct idset online = { xcalloc(TOPO_MAX_CPUS, sizeof(bool)), 0 };
	/* present, else possible, plus every cpuN directory */
	if (rd_cpulist(r, "sys/devices/system/cpu/present", &present) < 0 || present.n == 0)
		rd_cpulist(r, "sys/devices/system/cpu/possible", &present);
	int *dirs;
	size_t nd = list_numbered(r->root, "sys/devices/system/cpu", "cpu", TOPO_MAX_CPUS - 1, &dirs);
	for (size_t i = 0; i < nd; i++)
		idset_cb(dirs[i], &present);
	free(dirs);
	if (present.n == 0) {
		free(present.on);
		free(online.on);
		read_cpuinfo(r, false);
		return;
	}
	bool have_online = rd_cpulist(r, "sys/devices/system/cpu/online", &online) == 0 && online.n > 0;
	for (int id = 0; id < TOPO_MAX_CPUS; id++) {
		if (!present.on[id])
			continue;
		add_cpu(t, id);
		struct topo_cpu *c = &t->cpus[t->ncpus - 1];
		if (have_online) {
			c->online = online.on[id];
		} else {
			char rel[96];
			int64_t v;
			snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/online", id);
			/* cpu0 often has no online file: it cannot be unplugged */
			c->online = rd_int(r, rel, &v) < 0 || v != 0;
		}
		read_cpu_topology(r, c);
	}
	free(present.on);
	free(online.on);
	t->cpu_source = "sysfs";
	size_t with = 0;
	for (size_t i = 0; i < t->ncpus; i++)
		with += t->cpus[i].has_topology;
	if (with == 0) {
		warn(t, "no cpuN/topology files: sockets and cores are unknown");
		/* one package, one core per CPU: the least surprising guess */
		for (size_t i = 0; i < t->ncpus; i++)
			if (t->cpus[i].online) {
				t->cpus[i].package = 0;
				t->cpus[i].core = t->cpus[i].id;
			}
	}
	read_cpuinfo(r, true);
}

/* ---- NUMA nodes ---- */

static void read_nodes(struct rd *r)
{
	struct topo *t = r->t;
	int *ids;
	size_t n = list_numbered(r->root, "sys/devices/system/node", "node", TOPO_MAX_NODES - 1, &ids);
	if (n == 0) {
		/* no NUMA in this kernel (or not captured): one node of everything */
		t->nodes_synthetic = true;
		t->nodes = xcalloc(1, sizeof(*t->nodes));
		t->nnodes = 1;
		struct topo_node *nd = &t->nodes[0];
		nd->cpus = xcalloc(t->ncpus ? t->ncpus : 1, sizeof(int));
		for (size_t i = 0; i < t->ncpus; i++)
			if (t->cpus[i].online) {
				nd->cpus[nd->ncpus++] = t->cpus[i].id;
				t->cpus[i].node = 0;
			}
		nd->dist = xmalloc(sizeof(int));
		nd->dist[0] = 10;
		nd->ndist = 1;
		/* not recorded: proc/meminfo belongs to the per-tick memory family */
		char *b;
		size_t len;
		if (fsroot_read(r->root, "proc/meminfo", &b, &len, MAX_TOPO_FILE) == 0) {
			struct node_meminfo mi;
			if (node_meminfo_parse(b, len, &mi) == 0) {
				nd->mem_total_kib = mi.total_kib;
				nd->has_mem = true;
			}
		}
		free(b);
		return;
	}
	t->nodes = xcalloc(n, sizeof(*t->nodes));
	t->nnodes = n;
	struct idset s = { xcalloc(TOPO_MAX_CPUS, sizeof(bool)), 0 };
	for (size_t i = 0; i < n; i++) {
		struct topo_node *nd = &t->nodes[i];
		nd->id = ids[i];
		char rel[96];
		memset(s.on, 0, TOPO_MAX_CPUS * sizeof(bool));
		s.n = 0;
		snprintf(rel, sizeof(rel), "sys/devices/system/node/node%d/cpulist", nd->id);
		if (rd_cpulist(r, rel, &s) == 0 && s.n) {
			nd->cpus = xcalloc(s.n, sizeof(int));
			for (int id = 0; id < TOPO_MAX_CPUS; id++) {
				if (!s.on[id])
					continue;
				nd->cpus[nd->ncpus++] = id;
				struct topo_cpu *c = (struct topo_cpu *)topo_cpu(t, id);
				if (c)
					c->node = nd->id;
			}
		}
		snprintf(rel, sizeof(rel), "sys/devices/system/node/node%d/distance", nd->id);
		char *b;
		size_t len;
		if (rd_file(r, rel, &b, &len, MAX_TOPO_FILE) == 0) {
			nd->dist = xcalloc(TOPO_MAX_NODES, sizeof(int));
			if (node_distance_parse(b, len, nd->dist, TOPO_MAX_NODES, &nd->ndist) < 0) {
				warn(t, "%s: not a row of distances", rel);
				nd->ndist = 0;
			} else if (nd->ndist != n) {
				warn(t, "%s has %zu distances for %zu nodes", rel, nd->ndist, n);
			}
			free(b);
		}
		snprintf(rel, sizeof(rel), "sys/devices/system/node/node%d/meminfo", nd->id);
		if (rd_file(r, rel, &b, &len, MAX_TOPO_FILE) == 0) {
			struct node_meminfo mi;
			if (node_meminfo_parse(b, len, &mi) == 0) {
				nd->mem_total_kib = mi.total_kib;
				nd->has_mem = true;
			} else {
				warn(t, "%s: no MemTotal line", rel);
			}
			free(b);
		}
	}
	free(s.on);
	free(ids);
}

/* ---- caches ---- */

static char *trim_dup(const char *b, size_t n)
{
	while (n && (b[n - 1] == '\n' || b[n - 1] == ' '))
		n--;
	return xstrndup(b, n);
}

static void add_cache_group(struct topo *t, unsigned level, const char *type, uint64_t kib, char *group)
{
	struct topo_cache *c = NULL;
	for (size_t i = 0; i < t->ncaches; i++)
		if (t->caches[i].level == level && !strcmp(t->caches[i].type, type)) {
			c = &t->caches[i];
			break;
		}
	if (!c) {
		t->caches = xrealloc(t->caches, (t->ncaches + 1) * sizeof(*t->caches));
		c = &t->caches[t->ncaches++];
		memset(c, 0, sizeof(*c));
		c->level = level;
		snprintf(c->type, sizeof(c->type), "%s", type);
		c->size_kib = kib;
	}
	if (kib > c->size_kib)
		c->size_kib = kib;
	for (size_t i = 0; i < c->ngroups; i++)
		if (!strcmp(c->groups[i], group)) {
			free(group);
			return;
		}
	c->groups = xrealloc(c->groups, (c->ngroups + 1) * sizeof(*c->groups));
	c->groups[c->ngroups++] = group;
}

static void read_caches(struct rd *r)
{
	struct topo *t = r->t;
	for (size_t i = 0; i < t->ncpus; i++) {
		const struct topo_cpu *c = &t->cpus[i];
		if (!c->online)
			continue;
		for (int k = 0; k < MAX_CACHE_INDEX; k++) {
			char rel[128];
			int64_t level;
			snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/cache/index%d/level", c->id, k);
			int ret = rd_int(r, rel, &level);
			if (ret == -ENOENT || ret == -ENOTDIR)
				break;
			if (ret < 0 || level < 1 || level > 9)
				continue;
			char type[16] = "Unified", *b;
			size_t n;
			snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/cache/index%d/type", c->id, k);
			if (rd_file(r, rel, &b, &n, 4096) == 0) {
				char *tt = trim_dup(b, n);
				if (!strcmp(tt, "Data") || !strcmp(tt, "Instruction") || !strcmp(tt, "Unified"))
					snprintf(type, sizeof(type), "%s", tt);
				free(tt);
				free(b);
			}
			uint64_t kib = 0;
			snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/cache/index%d/size", c->id, k);
			if (rd_file(r, rel, &b, &n, 4096) == 0) {
				if (cache_size_parse(b, n, &kib) < 0)
					warn(t, "%s: not a size", rel);
				free(b);
			}
			snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/cache/index%d/shared_cpu_list", c->id, k);
			char *group;
			if (rd_file(r, rel, &b, &n, MAX_TOPO_FILE) == 0) {
				if (cpulist_parse(b, n, TOPO_MAX_CPUS - 1, NULL, NULL) < 0) {
					warn(t, "%s: not a CPU list", rel);
					group = xasprintf("%d", c->id);
				} else {
					group = trim_dup(b, n);
				}
				free(b);
			} else {
				group = xasprintf("%d", c->id);
			}
			add_cache_group(t, (unsigned)level, type, kib, group);
		}
	}
}

/* ---- devices ---- */

static void add_dev(struct topo *t, const char *name, const char *cls, int node, const char *source)
{
	if (t->ndevs >= MAX_DEVICES)
		return;
	t->devs = xrealloc(t->devs, (t->ndevs + 1) * sizeof(*t->devs));
	struct topo_device *d = &t->devs[t->ndevs++];
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->cls = cls;
	d->node = node;
	d->source = source;
}

/* The node of the device behind DIR/NAME/device (see the file comment). */
static void read_dev_node(struct rd *r, const char *dir, const char *name, const char *cls)
{
	char *dev = xasprintf("%s/%s/device", dir, name);
	if (!fsroot_exists(r->root, dev)) {
		free(dev); /* virtual (lo, veth, loop, zram): no hardware under it */
		return;
	}
	static const char *const up[] = { "numa_node", "../numa_node", "../../numa_node" };
	int node = -1;
	const char *source = "none";
	for (size_t i = 0; i < ARRAY_SIZE(up); i++) {
		if (i > 0 && r->root->confined)
			break; /* a bundle has no symlinks to climb */
		char *rel = xasprintf("%s/%s", dev, up[i]);
		char *b;
		size_t n;
		int ret = fsroot_read(r->root, rel, &b, &n, 4096);
		free(rel);
		if (ret < 0 || !b) {
			free(b); /* -EFBIG keeps the data */
			continue;
		}
		int64_t v;
		if (sysfs_int_parse(b, n, &v) == 0 && v >= -1 && v < TOPO_MAX_NODES) {
			node = (int)v;
			source = i == 0 ? "sysfs" : "sysfs-parent";
			free(b);
			break;
		}
		free(b);
	}
	char *rel = xasprintf("%s/numa_node", dev);
	char val[16];
	int vl = snprintf(val, sizeof(val), "%d\n", node);
	record(r, rel, val, (size_t)vl);
	free(rel);
	free(dev);
	add_dev(r->t, name, cls, node, node >= 0 ? source : "none");
}

static void read_devices(struct rd *r)
{
	char **names;
	size_t n = list_names(r->root, "sys/class/net", &names);
	for (size_t i = 0; i < n; i++)
		read_dev_node(r, "sys/class/net", names[i], "net");
	free_names(names, n);
	n = list_names(r->root, "sys/block", &names);
	for (size_t i = 0; i < n; i++)
		read_dev_node(r, "sys/block", names[i], "block");
	free_names(names, n);
	n = list_names(r->root, "sys/class/drm", &names);
	for (size_t i = 0; i < n; i++) {
		/* cardN only; cardN-HDMI-A-1 are connectors, renderD* duplicate cards */
		const char *p = names[i];
		if (strncmp(p, "card", 4) != 0 || !p[4] || strspn(p + 4, "0123456789") != strlen(p + 4))
			continue;
		read_dev_node(r, "sys/class/drm", names[i], "gpu");
	}
	free_names(names, n);
}

/* ---- derived counts ---- */

struct key3 {
	int a, b, c;
};

static int cmp_key3(const void *x, const void *y)
{
	const struct key3 *p = x, *q = y;
	if (p->a != q->a)
		return (p->a > q->a) - (p->a < q->a);
	if (p->b != q->b)
		return (p->b > q->b) - (p->b < q->b);
	return (p->c > q->c) - (p->c < q->c);
}

static void derive(struct topo *t)
{
	struct key3 *k = xcalloc(t->ncpus ? t->ncpus : 1, sizeof(*k));
	size_t n = 0;
	for (size_t i = 0; i < t->ncpus; i++) {
		const struct topo_cpu *c = &t->cpus[i];
		if (!c->online) {
			t->offline++;
			continue;
		}
		t->online++;
		if (c->package < 0)
			continue;
		k[n++] = (struct key3){ c->package, c->die < 0 ? 0 : c->die, c->core };
	}
	qsort(k, n, sizeof(*k), cmp_key3);
	/* walk the sorted (package, die, core) keys */
	unsigned cores_in_pkg = 0, dies_in_pkg = 0, threads = 0;
	unsigned first_cps = 0, first_tpc = 0;
	t->uniform = true;
	for (size_t i = 0; i < n; i++) {
		bool new_pkg = i == 0 || k[i].a != k[i - 1].a;
		bool new_die = new_pkg || k[i].b != k[i - 1].b;
		bool new_core = new_die || k[i].c != k[i - 1].c;
		if (new_core && i > 0) {
			if (threads > t->threads_per_core)
				t->threads_per_core = threads;
			if (first_tpc && threads != first_tpc)
				t->uniform = false;
			if (!first_tpc)
				first_tpc = threads;
			threads = 0;
		}
		if (new_pkg && i > 0) {
			if (cores_in_pkg > t->cores_per_socket)
				t->cores_per_socket = cores_in_pkg;
			if (first_cps && cores_in_pkg != first_cps)
				t->uniform = false;
			if (!first_cps)
				first_cps = cores_in_pkg;
			if (dies_in_pkg > t->dies_per_socket)
				t->dies_per_socket = dies_in_pkg;
			cores_in_pkg = dies_in_pkg = 0;
		}
		if (new_pkg)
			t->sockets++;
		if (new_die)
			dies_in_pkg++;
		if (new_core) {
			t->cores++;
			cores_in_pkg++;
		}
		threads++;
	}
	if (n) {
		if (threads > t->threads_per_core)
			t->threads_per_core = threads;
		if (first_tpc && threads != first_tpc)
			t->uniform = false;
		if (cores_in_pkg > t->cores_per_socket)
			t->cores_per_socket = cores_in_pkg;
		if (first_cps && cores_in_pkg != first_cps)
			t->uniform = false;
		if (dies_in_pkg > t->dies_per_socket)
			t->dies_per_socket = dies_in_pkg;
	}
	free(k);
}

/* ---- memory per node: which figure, and why ---- */

#define GIB(kib) ((double)(kib) / 1048576.0)

static void resolve_node_memory(struct rd *r)
{
	struct topo *t = r->t;
	char *b;
	size_t len;
	/* not recorded: proc/meminfo belongs to the per-tick memory family, and is in every sample */
	if (fsroot_read(r->root, "proc/meminfo", &b, &len, MAX_TOPO_FILE) == 0) {
		struct node_meminfo mi;
		if (node_meminfo_parse(b, len, &mi) == 0)
			t->meminfo_total_kib = mi.total_kib;
		free(b);
	}
	uint64_t sum = 0;
	size_t with = 0;
	for (size_t i = 0; i < t->nnodes; i++) {
		t->nodes[i].mem_node_kib = t->nodes[i].has_mem ? t->nodes[i].mem_total_kib : 0;
		sum += t->nodes[i].mem_node_kib;
		with += t->nodes[i].has_mem;
	}
	if (t->nodes_synthetic) {
		t->node_mem_source = "proc/meminfo MemTotal";
		snprintf(t->node_mem_note, sizeof(t->node_mem_note), "no NUMA nodes in sysfs: one node of all memory");
		return;
	}
	t->node_mem_source = "nodeN/meminfo MemTotal";
	/* The nodes' MemTotal and the machine's count the same pages (managed
	 * pages); anything beyond rounding short means per-node counts that are
	 * not filled in yet. */
	uint64_t all = t->meminfo_total_kib;
	if (!all || !with || sum >= all - all / 100)
		return;
	char why[160];
	snprintf(why, sizeof(why),
		 "the nodes' own MemTotal adds up to %.1f GiB of /proc/meminfo's %.1f GiB: this kernel fills "
		 "per-node counts lazily",
		 GIB(sum), GIB(all));
	uint64_t *pages = NULL;
	int nz = -EINVAL;
	if (rd_file(r, "proc/zoneinfo", &b, &len, 8u << 20) == 0) {
		pages = xcalloc(TOPO_MAX_NODES, sizeof(*pages));
		nz = zoneinfo_present_parse(b, len, pages, TOPO_MAX_NODES);
		free(b);
	}
	uint64_t present = 0;
	bool every = nz > 0;
	for (size_t i = 0; every && i < t->nnodes; i++) {
		if (t->nodes[i].has_mem && !pages[t->nodes[i].id])
			every = false;
		present += pages[t->nodes[i].id];
	}
	if (every && present) {
		for (size_t i = 0; i < t->nnodes; i++) {
			struct topo_node *nd = &t->nodes[i];
			uint64_t p = pages[nd->id];
			if (!p)
				continue;
			nd->mem_total_kib = (uint64_t)((long double)all * p / present);
			nd->has_mem = true;
		}
		t->node_mem_source = t->nnodes == 1 ? "proc/meminfo MemTotal" : "proc/meminfo MemTotal split by present pages";
		snprintf(t->node_mem_note, sizeof(t->node_mem_note), "%s; %s", why,
			 t->nnodes == 1 ? "one node holds all of it"
					: "each node gets its share by the pages present on it (proc/zoneinfo)");
	} else if (t->nnodes == 1) {
		t->nodes[0].mem_total_kib = all;
		t->nodes[0].has_mem = true;
		t->node_mem_source = "proc/meminfo MemTotal";
		snprintf(t->node_mem_note, sizeof(t->node_mem_note), "%s; one node holds all of it", why);
	} else {
		t->node_mem_lazy = true;
		snprintf(t->node_mem_note, sizeof(t->node_mem_note),
			 "%s, and proc/zoneinfo does not say how it splits: the per-node figures are lower bounds", why);
	}
	free(pages);
}

int topo_read_record(const struct fsroot *root, struct topo *t, struct sample *rec)
{
	memset(t, 0, sizeof(*t));
	t->cpu_source = "none";
	struct rd r = { root, rec, t };
	read_cpus(&r);
	read_nodes(&r);
	resolve_node_memory(&r);
	read_caches(&r);
	read_devices(&r);
	derive(t);
	if (t->ncpus == 0) {
		warn(t, "no CPU found under %s", root->path ? root->path : "the root");
		return -ENOENT;
	}
	return 0;
}

int topo_read(const struct fsroot *root, struct topo *t)
{
	return topo_read_record(root, t, NULL);
}

void topo_capture_static(const struct fsroot *root, struct sample *statics)
{
	struct topo t;
	topo_read_record(root, &t, statics);
	topo_done(&t);
}

void topo_done(struct topo *t)
{
	free(t->cpus);
	for (size_t i = 0; i < t->nnodes; i++) {
		free(t->nodes[i].cpus);
		free(t->nodes[i].dist);
	}
	free(t->nodes);
	for (size_t i = 0; i < t->ncaches; i++) {
		for (size_t j = 0; j < t->caches[i].ngroups; j++)
			free(t->caches[i].groups[j]);
		free(t->caches[i].groups);
	}
	free(t->caches);
	free(t->devs);
	for (size_t i = 0; i < t->nwarnings; i++)
		free(t->warnings[i]);
	free(t->warnings);
	memset(t, 0, sizeof(*t));
}
