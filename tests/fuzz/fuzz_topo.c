/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The topology parsers on raw bytes, topo_read over a small sysfs tree whose
 * files are the input split at form feeds (in a fixed order of paths, so the
 * fuzzer learns which piece lands where), and fit_compute on shapes taken
 * from the first bytes.  Invariants: no crash, counts consistent, every
 * verdict that fits has cells adding up to the VM.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parse/topo.h"
#include "topo/fit.h"
#include "topo/topo.h"

static const char *const paths[] = {
	"sys/devices/system/cpu/present",
	"sys/devices/system/cpu/online",
	"sys/devices/system/cpu/cpu0/topology/physical_package_id",
	"sys/devices/system/cpu/cpu0/topology/core_id",
	"sys/devices/system/cpu/cpu0/topology/thread_siblings_list",
	"sys/devices/system/cpu/cpu1/topology/physical_package_id",
	"sys/devices/system/cpu/cpu1/topology/core_id",
	"sys/devices/system/cpu/cpu1/topology/thread_siblings_list",
	"sys/devices/system/cpu/cpu0/cache/index0/level",
	"sys/devices/system/cpu/cpu0/cache/index0/size",
	"sys/devices/system/cpu/cpu0/cache/index0/shared_cpu_list",
	"sys/devices/system/node/node0/cpulist",
	"sys/devices/system/node/node0/distance",
	"sys/devices/system/node/node0/meminfo",
	"sys/devices/system/node/node1/cpulist",
	"sys/devices/system/node/node1/distance",
	"sys/class/net/eth0/device/numa_node",
	"proc/cpuinfo",
	"proc/meminfo",		/* after the others: older seeds keep their split */
	"proc/zoneinfo",
};

static char *root;

static void mkparents(const char *path)
{
	char *p = strdup(path);
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	free(p);
}

static void put(const char *rel, const char *data, size_t len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	mkparents(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, data, len) < 0) {
		/* nothing to do: the file is then short */
	}
	close(fd);
}

static void drop(const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	unlink(path);
}

static void fuzz_fit(const uint8_t *d, size_t n)
{
	if (n < 8)
		return;
	struct fit_host h = { .sockets = d[0] % 9, .cores_per_socket = d[1] % 65, .threads_per_core = d[2] % 5,
			      .nodes = d[3] % 10, .mem_per_node_mib = (uint64_t)d[4] << (d[5] % 20) };
	struct fit_vm vm = { .vcpus = (unsigned)d[6] * 3, .mem_mib = (uint64_t)d[7] << (d[5] % 22) };
	struct fit_verdict v;
	enum fit_kind k = fit_compute(&h, &vm, &v);
	if (k == FIT_ONE_NODE || k == FIT_SPLIT || k == FIT_UNEVEN) {
		unsigned cpus = 0;
		uint64_t mem = 0;
		for (unsigned i = 0; i < v.ncells; i++) {
			if (v.cells[i].first_cpu != cpus)
				abort();
			cpus += v.cells[i].ncpus;
			mem += v.cells[i].mem_mib;
		}
		if (cpus != vm.vcpus || mem != vm.mem_mib || !v.libvirt || !v.qemu)
			abort();
		if (k != FIT_UNEVEN && v.sockets * v.cores * v.threads != vm.vcpus)
			abort();
	}
	fit_done(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	int dist[64];
	size_t nd;
	int64_t iv;
	uint64_t u;
	struct node_meminfo mi;
	node_distance_parse(buf, size, dist, 64, &nd);
	node_meminfo_parse(buf, size, &mi);
	cache_size_parse(buf, size, &u);
	static uint64_t pages[64];
	if (zoneinfo_present_parse(buf, size, pages, 64) > 64)
		abort();
	sysfs_int_parse(buf, size, &iv);
	struct cpuinfo_cpu *cc;
	char model[32];
	if (cpuinfo_topo_parse(buf, size, TOPO_MAX_CPUS - 1, &cc, &nd, model, sizeof(model)) == 0)
		free(cc);
	fuzz_fit(data, size);

	if (!root) {
		char tmpl[] = "/tmp/hq-fuzz-topo-XXXXXX";
		if (!mkdtemp(tmpl))
			return 0;
		root = strdup(tmpl);
	}
	const char *p = buf, *end = buf + size;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (p >= end) {
			drop(paths[i]);
			continue;
		}
		const char *ff = memchr(p, '\f', (size_t)(end - p));
		size_t len = ff ? (size_t)(ff - p) : (size_t)(end - p);
		put(paths[i], p, len);
		p += len + (ff ? 1 : 0);
	}
	struct fsroot r;
	if (fsroot_init(&r, root, true) < 0)
		return 0;
	struct topo t;
	if (topo_read(&r, &t) == 0) {
		if (t.online + t.offline != t.ncpus || t.cores < t.sockets || t.nnodes < 1)
			abort();
		uint64_t sum = 0;
		for (size_t i = 0; i < t.nnodes; i++) {
			char *cl = cpulist_format(t.nodes[i].cpus, t.nodes[i].ncpus);
			free(cl);
			sum += t.nodes[i].mem_total_kib;
		}
		/* a node is never sized above the machine once the machine's total was used */
		if (!t.node_mem_source || (strstr(t.node_mem_source, "proc/meminfo") && t.meminfo_total_kib &&
					   !t.nodes_synthetic && sum > t.meminfo_total_kib + t.nnodes))
			abort();
	}
	topo_done(&t);
	fsroot_done(&r);
	return 0;
}
