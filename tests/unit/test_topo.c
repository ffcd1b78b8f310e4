/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The topology model (topo_read on hand-made sysfs trees, the cpuinfo
 * fallback, the peer fixtures, hwloc's counts on this machine), its parsers,
 * and the vNUMA fitting rules of `hiddenq fit`.
 */
#include "harness.h"

#include "parse/topo.h"
#include "topo/fit.h"
#include "topo/topo.h"

/* ---------------------------------------------------------------- fit */

static const struct fit_host classic = { .sockets = 2, .cores_per_socket = 10, .threads_per_core = 1,
					 .mem_per_node_mib = 128 * 1024 };

static bool has_note(const struct fit_verdict *v, const char *needle)
{
	for (unsigned i = 0; i < v->nnotes; i++)
		if (strstr(v->notes[i], needle))
			return true;
	return false;
}

/* 8 vCPUs and 128 GB on 2 x 10 cores, 128 GB per node: one node, no headroom. */
static void test_fit_classic_one_node(void **state)
{
	(void)state;
	struct fit_verdict v;
	struct fit_vm vm = { 8, 128 * 1024 };
	assert_int_equal(fit_compute(&classic, &vm, &v), FIT_ONE_NODE);
	assert_int_equal(v.sockets, 1);
	assert_int_equal(v.cores, 8);
	assert_int_equal(v.threads, 1);
	assert_int_equal(v.ncells, 1);
	assert_true(v.no_headroom);
	assert_true(has_note(&v, "leaves no headroom for the host"));
	assert_int_equal(v.exit_code, 1);
	assert_non_null(strstr(v.libvirt, "<topology sockets='1' dies='1' cores='8' threads='1'/>"));
	assert_non_null(strstr(v.libvirt, "<memory mode='strict' nodeset='0'/>"));
	assert_non_null(strstr(v.qemu, "-smp 8,sockets=1,cores=8,threads=1"));
	fit_done(&v);

	/* 64 GB leaves room: a clean fit */
	vm.mem_mib = 64 * 1024;
	assert_int_equal(fit_compute(&classic, &vm, &v), FIT_ONE_NODE);
	assert_false(v.no_headroom);
	assert_int_equal(v.exit_code, 0);
	fit_done(&v);
}

/* 8 vCPUs and 192 GB: the CPUs fit one node but the memory does not. */
static void test_fit_classic_memory_crosses_nodes(void **state)
{
	(void)state;
	struct fit_verdict v;
	struct fit_vm vm = { 8, 192 * 1024 };
	assert_int_equal(fit_compute(&classic, &vm, &v), FIT_SPLIT);
	assert_true(v.cpus_fit_one_node);
	assert_int_equal(v.sockets, 2);
	assert_int_equal(v.cores, 4);
	assert_int_equal(v.threads, 1);
	assert_int_equal(v.ncells, 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(v.cells[i].mem_mib, 96 * 1024);
		assert_int_equal(v.cells[i].ncpus, 4);
		assert_int_equal(v.cells[i].first_cpu, 4 * i);
		assert_int_equal(v.cells[i].host_node, (int)i);
	}
	assert_non_null(strstr(v.reason, "memory is a dimension too"));
	assert_non_null(strstr(v.reason, "1 socket × 8 cores"));
	assert_false(v.no_headroom);
	assert_int_equal(v.exit_code, 0);
	assert_non_null(strstr(v.libvirt, "<topology sockets='2' dies='1' cores='4' threads='1'/>"));
	assert_non_null(strstr(v.libvirt, "<cell id='0' cpus='0-3' memory='96' unit='GiB'/>"));
	assert_non_null(strstr(v.libvirt, "<cell id='1' cpus='4-7' memory='96' unit='GiB'/>"));
	assert_non_null(strstr(v.libvirt, "<memory mode='strict' nodeset='0-1'/>"));
	assert_non_null(strstr(v.libvirt, "<memnode cellid='1' mode='strict' nodeset='1'/>"));
	assert_non_null(strstr(v.qemu, "-smp 8,sockets=2,cores=4,threads=1"));
	assert_non_null(strstr(v.qemu, "-object memory-backend-ram,id=m0,size=96G"));
	assert_non_null(strstr(v.qemu, "-numa node,nodeid=0,cpus=0-3,memdev=m0"));
	assert_non_null(strstr(v.qemu, "-numa node,nodeid=1,cpus=4-7,memdev=m1"));
	fit_done(&v);
}

static void test_fit_larger_than_host(void **state)
{
	(void)state;
	struct fit_verdict v;
	struct fit_vm vm = { 48, 512 * 1024 };
	assert_int_equal(fit_compute(&classic, &vm, &v), FIT_TOO_BIG);
	assert_int_equal(v.exit_code, 2);
	assert_non_null(strstr(v.reason, "does not fit this host"));
	assert_non_null(strstr(v.reason, "48 vCPUs > 20 hardware threads"));
	assert_non_null(strstr(v.reason, "512 GiB > 256 GiB"));
	assert_null(v.libvirt);
	fit_done(&v);
	/* only the memory is too big */
	vm = (struct fit_vm){ 4, 300 * 1024 };
	assert_int_equal(fit_compute(&classic, &vm, &v), FIT_TOO_BIG);
	assert_null(strstr(v.reason, "vCPUs >"));
	fit_done(&v);
	/* cores that do not divide over the nodes: only whole per-node shares count */
	struct fit_host ragged = { .sockets = 3, .cores_per_socket = 13, .threads_per_core = 1, .nodes = 5,
				   .mem_per_node_mib = 51 * 1024 };
	vm = (struct fit_vm){ 36, 48 * 1024 };
	assert_int_equal(fit_compute(&ragged, &vm, &v), FIT_TOO_BIG);
	assert_non_null(strstr(v.reason, "36 vCPUs > 35 hardware threads (5 nodes × 7)"));
	assert_true(has_note(&v, "do not divide evenly"));
	fit_done(&v);
	vm.vcpus = 35;
	assert_int_equal(fit_compute(&ragged, &vm, &v), FIT_SPLIT);
	assert_int_equal(v.sockets, 5);
	assert_int_equal(v.cores, 7);
	fit_done(&v);
	/* the whole host, exactly: fits, over both nodes, with no headroom */
	vm = (struct fit_vm){ 20, 256 * 1024 };
	assert_int_equal(fit_compute(&classic, &vm, &v), FIT_SPLIT);
	assert_true(v.no_headroom);
	fit_done(&v);
}

static void test_fit_hyperthreads(void **state)
{
	(void)state;
	/* the test VM's shape: 2 sockets x 2 cores x 2 threads, 512 MiB per node */
	struct fit_host ht = { .sockets = 2, .cores_per_socket = 2, .threads_per_core = 2, .mem_per_node_mib = 512 };
	struct fit_verdict v;
	struct fit_vm vm = { 4, 256 };
	assert_int_equal(fit_compute(&ht, &vm, &v), FIT_ONE_NODE);
	assert_true(v.uses_threads);
	assert_int_equal(v.sockets, 1);
	assert_int_equal(v.cores, 2);
	assert_int_equal(v.threads, 2);
	assert_non_null(strstr(v.reason, "hyper-threads"));
	assert_int_equal(v.exit_code, 1);
	fit_done(&v);
	/* full cores are preferred when they suffice */
	vm.vcpus = 2;
	assert_int_equal(fit_compute(&ht, &vm, &v), FIT_ONE_NODE);
	assert_false(v.uses_threads);
	assert_int_equal(v.threads, 1);
	assert_true(has_note(&v, "full core"));
	fit_done(&v);
	/* 8 vCPUs need both nodes and the siblings: 2 sockets x 2 cores x 2 threads */
	vm.vcpus = 8;
	assert_int_equal(fit_compute(&ht, &vm, &v), FIT_SPLIT);
	assert_int_equal(v.sockets, 2);
	assert_int_equal(v.cores, 2);
	assert_int_equal(v.threads, 2);
	assert_true(v.uses_threads);
	fit_done(&v);
	/* 9 vCPUs: more than the 8 threads */
	vm.vcpus = 9;
	assert_int_equal(fit_compute(&ht, &vm, &v), FIT_TOO_BIG);
	fit_done(&v);
}

static void test_fit_odd_splits(void **state)
{
	(void)state;
	struct fit_verdict v;
	struct fit_vm vm = { 6, 192 * 1024 };
	assert_int_equal(fit_compute(&classic, &vm, &v), FIT_SPLIT);
	assert_int_equal(v.sockets, 2);
	assert_int_equal(v.cores, 3);
	fit_done(&v);

	vm.vcpus = 7;
	assert_int_equal(fit_compute(&classic, &vm, &v), FIT_UNEVEN);
	assert_int_equal(v.exit_code, 1);
	assert_non_null(strstr(v.reason, "cannot be split evenly"));
	assert_int_equal(v.suggest_lower, 6);
	assert_int_equal(v.suggest_upper, 8);
	assert_int_equal(v.ncells, 2);
	assert_int_equal(v.cells[0].ncpus, 4);
	assert_int_equal(v.cells[1].ncpus, 3);
	assert_int_equal(v.cells[1].first_cpu, 4);
	assert_int_equal(v.cells[0].mem_mib, 96 * 1024);
	/* one vCPU per socket: no vSocket spans two vNUMA nodes */
	assert_int_equal(v.sockets, 7);
	assert_int_equal(v.cores, 1);
	assert_non_null(strstr(v.qemu, "-numa node,nodeid=1,cpus=4-6,memdev=m1"));
	fit_done(&v);

	/* memory that does not divide: MiB units, 1 MiB to the first cell */
	vm = (struct fit_vm){ 8, 192 * 1024 + 1 };
	assert_int_equal(fit_compute(&classic, &vm, &v), FIT_SPLIT);
	assert_int_equal(v.cells[0].mem_mib, 96 * 1024 + 1);
	assert_int_equal(v.cells[1].mem_mib, 96 * 1024);
	assert_non_null(strstr(v.libvirt, "unit='MiB'"));
	fit_done(&v);
}

static void test_fit_bad_input(void **state)
{
	(void)state;
	struct fit_verdict v;
	struct fit_vm vm = { 0, 1024 };
	assert_int_equal(fit_compute(&classic, &vm, &v), FIT_BAD_INPUT);
	assert_int_equal(v.exit_code, 3);
	assert_true(strlen(v.reason) > 0);
	fit_done(&v);
	struct fit_host h = classic;
	h.nodes = 64;
	vm.vcpus = 2;
	assert_int_equal(fit_compute(&h, &vm, &v), FIT_BAD_INPUT); /* more nodes than cores */
	fit_done(&v);
	h = classic;
	h.mem_per_node_mib = 0;
	assert_int_equal(fit_compute(&h, &vm, &v), FIT_BAD_INPUT);
	fit_done(&v);
}

static void test_fit_parse_mem(void **state)
{
	(void)state;
	uint64_t m;
	assert_int_equal(fit_parse_mem("192G", &m), 0);
	assert_int_equal(m, 192 * 1024);
	assert_int_equal(fit_parse_mem("192GiB", &m), 0);
	assert_int_equal(m, 192 * 1024);
	assert_int_equal(fit_parse_mem("96gb", &m), 0);
	assert_int_equal(m, 96 * 1024);
	assert_int_equal(fit_parse_mem("512M", &m), 0);
	assert_int_equal(m, 512);
	assert_int_equal(fit_parse_mem("1.5T", &m), 0);
	assert_int_equal(m, 1536 * 1024);
	assert_int_equal(fit_parse_mem("4", &m), 0);
	assert_int_equal(m, 4096);
	assert_int_equal(fit_parse_mem("0", &m), -EINVAL);
	assert_int_equal(fit_parse_mem("-1G", &m), -EINVAL);
	assert_int_equal(fit_parse_mem("12X", &m), -EINVAL);
	assert_int_equal(fit_parse_mem("", &m), -EINVAL);
	assert_int_equal(fit_parse_mem("512K", &m), -EINVAL); /* below 1 MiB */
	assert_int_equal(fit_parse_mem("9999999T", &m), -EINVAL);
}

/* ---------------------------------------------------------------- parsers */

static void test_parsers(void **state)
{
	(void)state;
	int d[4];
	size_t n;
	assert_int_equal(node_distance_parse("10 21\n", 6, d, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(d[1], 21);
	assert_int_equal(node_distance_parse("10 21 x\n", 8, d, 4, &n), -EINVAL);
	assert_int_equal(node_distance_parse("10 21 31 41 51", 14, d, 4, &n), -EINVAL);
	assert_int_equal(node_distance_parse("", 0, d, 4, &n), -EINVAL);
	assert_int_equal(node_distance_parse("300", 3, d, 4, &n), -EINVAL);

	struct node_meminfo mi;
	const char *nm = "Node 1 MemTotal:        5466328 kB\nNode 1 MemFree:         4873284 kB\n";
	assert_int_equal(node_meminfo_parse(nm, strlen(nm), &mi), 0);
	assert_int_equal(mi.node, 1);
	assert_int_equal(mi.total_kib, 5466328);
	assert_int_equal(mi.free_kib, 4873284);
	const char *pm = "MemTotal:       16310952 kB\nMemFree: 1 kB\n";
	assert_int_equal(node_meminfo_parse(pm, strlen(pm), &mi), 0);
	assert_int_equal(mi.node, -1);
	assert_int_equal(mi.total_kib, 16310952);
	assert_int_equal(node_meminfo_parse("Node 0 MemFree: 3 kB\n", 21, &mi), -EINVAL);

	uint64_t kib;
	assert_int_equal(cache_size_parse("32K\n", 4, &kib), 0);
	assert_int_equal(kib, 32);
	assert_int_equal(cache_size_parse("2M", 2, &kib), 0);
	assert_int_equal(kib, 2048);
	assert_int_equal(cache_size_parse("K", 1, &kib), -EINVAL);
	assert_int_equal(cache_size_parse("32Kx", 4, &kib), -EINVAL);

	int64_t v;
	assert_int_equal(sysfs_int_parse("-1\n", 3, &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(sysfs_int_parse("1 2", 3, &v), -EINVAL);

	const char *ci = "processor\t: 0\nmodel name\t: Test CPU\nphysical id\t: 1\ncore id\t\t: 3\n\n"
			 "processor\t: 1\n";
	struct cpuinfo_cpu *cc;
	char model[32];
	assert_int_equal(cpuinfo_topo_parse(ci, strlen(ci), 63, &cc, &n, model, sizeof(model)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(cc[0].package, 1);
	assert_int_equal(cc[0].core, 3);
	assert_int_equal(cc[1].package, -1);
	assert_string_equal(model, "Test CPU");
	free(cc);
	assert_int_equal(cpuinfo_topo_parse("processor : 99\n", 15, 63, &cc, &n, NULL, 0), -EINVAL);
}

/* ---------------------------------------------------------------- topo_read */

#define CPU "sys/devices/system/cpu/"
#define NODE "sys/devices/system/node/"

/*
 * 2 sockets x 2 cores x 2 threads, numbered as QEMU does (thread fastest,
 * then core, then socket), 2 nodes with distances 10/21; CPU 7 offline (the
 * kernel removes an offline CPU's topology directory).
 */
static char *make_tree(void)
{
	char *d = make_tempdir();
	put_file(d, CPU "present", "0-7\n");
	put_file(d, CPU "possible", "0-7\n");
	put_file(d, CPU "online", "0-6\n");
	put_file(d, CPU "offline", "7\n");
	for (int i = 0; i < 8; i++) {
		char rel[160], val[32];
		snprintf(rel, sizeof(rel), CPU "cpu%d/online", i);
		put_file(d, rel, i == 7 ? "0\n" : "1\n");
		if (i == 7)
			continue;
		snprintf(rel, sizeof(rel), CPU "cpu%d/topology/physical_package_id", i);
		snprintf(val, sizeof(val), "%d\n", i / 4);
		put_file(d, rel, val);
		snprintf(rel, sizeof(rel), CPU "cpu%d/topology/die_id", i);
		put_file(d, rel, "0\n");
		snprintf(rel, sizeof(rel), CPU "cpu%d/topology/core_id", i);
		snprintf(val, sizeof(val), "%d\n", (i / 2) % 2);
		put_file(d, rel, val);
		snprintf(rel, sizeof(rel), CPU "cpu%d/topology/thread_siblings_list", i);
		snprintf(val, sizeof(val), i == 6 ? "6\n" : "%d-%d\n", i & ~1, (i & ~1) + 1);
		put_file(d, rel, val);
		/* L1d per core, L3 per socket */
		snprintf(rel, sizeof(rel), CPU "cpu%d/cache/index0/level", i);
		put_file(d, rel, "1\n");
		snprintf(rel, sizeof(rel), CPU "cpu%d/cache/index0/type", i);
		put_file(d, rel, "Data\n");
		snprintf(rel, sizeof(rel), CPU "cpu%d/cache/index0/size", i);
		put_file(d, rel, "32K\n");
		snprintf(rel, sizeof(rel), CPU "cpu%d/cache/index0/shared_cpu_list", i);
		put_file(d, rel, val);
		snprintf(rel, sizeof(rel), CPU "cpu%d/cache/index1/level", i);
		put_file(d, rel, "3\n");
		snprintf(rel, sizeof(rel), CPU "cpu%d/cache/index1/type", i);
		put_file(d, rel, "Unified\n");
		snprintf(rel, sizeof(rel), CPU "cpu%d/cache/index1/size", i);
		put_file(d, rel, "16384K\n");
		snprintf(rel, sizeof(rel), CPU "cpu%d/cache/index1/shared_cpu_list", i);
		put_file(d, rel, i < 4 ? "0-3\n" : "4-6\n");
	}
	put_file(d, NODE "node0/cpulist", "0-3\n");
	put_file(d, NODE "node0/distance", "10 21\n");
	put_file(d, NODE "node0/meminfo", "Node 0 MemTotal:  524288 kB\nNode 0 MemFree: 1000 kB\n");
	put_file(d, NODE "node1/cpulist", "4-6\n");
	put_file(d, NODE "node1/distance", "21 10\n");
	put_file(d, NODE "node1/meminfo", "Node 1 MemTotal:  262144 kB\n");
	put_file(d, "sys/class/net/eth0/device/numa_node", "1\n");
	put_file(d, "sys/class/net/lo/mtu", "65536\n");		/* virtual: no device */
	put_file(d, "sys/block/vda/device/vendor", "0x1af4\n");	/* no numa_node */
	put_file(d, "sys/class/drm/card0/device/numa_node", "0\n");
	put_file(d, "sys/class/drm/card0-HDMI-A-1/status", "connected\n");
	return d;
}

static const struct topo_device *dev(const struct topo *t, const char *name)
{
	for (size_t i = 0; i < t->ndevs; i++)
		if (!strcmp(t->devs[i].name, name))
			return &t->devs[i];
	return NULL;
}

static void check_tree(const struct topo *t)
{
	assert_string_equal(t->cpu_source, "sysfs");
	assert_int_equal(t->ncpus, 8);
	assert_int_equal(t->online, 7);
	assert_int_equal(t->offline, 1);
	assert_false(topo_cpu(t, 7)->online);
	assert_int_equal(t->sockets, 2);
	assert_int_equal(t->cores, 4);
	assert_int_equal(t->cores_per_socket, 2);
	assert_int_equal(t->threads_per_core, 2);
	assert_false(t->uniform); /* core 1 of socket 1 lost a thread */
	assert_int_equal(topo_cpu(t, 5)->package, 1);
	assert_int_equal(topo_cpu(t, 5)->core, 0);
	assert_int_equal(topo_cpu(t, 5)->thread, 1);
	assert_int_equal(topo_cpu(t, 5)->node, 1);
	assert_int_equal(t->nnodes, 2);
	assert_false(t->nodes_synthetic);
	assert_int_equal(t->nodes[0].ncpus, 4);
	assert_int_equal(t->nodes[1].ncpus, 3);
	assert_int_equal(t->nodes[0].mem_total_kib, 524288);
	assert_int_equal(topo_distance(t, 0, 1), 21);
	assert_int_equal(topo_distance(t, 1, 1), 10);
	assert_int_equal(t->ncaches, 2);
	assert_int_equal(t->caches[0].level, 1);
	assert_int_equal(t->caches[0].size_kib, 32);
	assert_int_equal(t->caches[0].ngroups, 4); /* 0-1 2-3 4-5 6 */
	assert_int_equal(t->caches[1].ngroups, 2);
	assert_string_equal(t->caches[1].groups[1], "4-6");
	assert_int_equal(t->ndevs, 3);
	assert_int_equal(dev(t, "eth0")->node, 1);
	assert_int_equal(dev(t, "vda")->node, -1);
	assert_string_equal(dev(t, "card0")->cls, "gpu");
	assert_null(dev(t, "lo"));
	assert_int_equal(t->nwarnings, 0);
}

static void test_topo_tree(void **state)
{
	(void)state;
	char *d = make_tree();
	struct fsroot r;
	assert_int_equal(fsroot_init(&r, d, true), 0);
	struct topo t;
	struct sample rec;
	sample_init(&rec);
	assert_int_equal(topo_read_record(&r, &t, &rec), 0);
	check_tree(&t);
	char *cl = cpulist_format(t.nodes[1].cpus, t.nodes[1].ncpus);
	assert_string_equal(cl, "4-6");
	free(cl);
	topo_done(&t);
	fsroot_done(&r);
	/* what was recorded is enough to read the same model back */
	assert_non_null(sample_find(&rec, NODE "node1/distance"));
	assert_non_null(sample_find(&rec, "sys/block/vda/device/numa_node"));
	char *d2 = make_tempdir();
	for (size_t i = 0; i < rec.nfiles; i++)
		put_file_len(d2, rec.files[i].path, rec.files[i].data, rec.files[i].len);
	put_file(d2, "sys/class/drm/card0-HDMI-A-1/status", "connected\n");
	assert_int_equal(fsroot_init(&r, d2, true), 0);
	assert_int_equal(topo_read(&r, &t), 0);
	check_tree(&t);
	topo_done(&t);
	fsroot_done(&r);
	sample_done(&rec);
	rm_tree(d);
	rm_tree(d2);
	free(d);
	free(d2);
}

/* No sys/devices/system/cpu (sysstat's root7 has none): /proc/cpuinfo instead. */
static void test_topo_cpuinfo_fallback(void **state)
{
	(void)state;
	char *d = make_tempdir();
	put_file(d, "proc/cpuinfo",
		 "processor\t: 0\nmodel name\t: Fallback CPU\nphysical id\t: 0\ncore id\t\t: 0\n\n"
		 "processor\t: 1\nphysical id\t: 0\ncore id\t\t: 1\n\n"
		 "processor\t: 2\nphysical id\t: 1\ncore id\t\t: 0\n\n"
		 "processor\t: 3\nphysical id\t: 1\ncore id\t\t: 1\n\n");
	put_file(d, "proc/meminfo", "MemTotal: 2097152 kB\n");
	struct fsroot r;
	assert_int_equal(fsroot_init(&r, d, true), 0);
	struct topo t;
	assert_int_equal(topo_read(&r, &t), 0);
	assert_string_equal(t.cpu_source, "cpuinfo");
	assert_string_equal(t.model, "Fallback CPU");
	assert_int_equal(t.online, 4);
	assert_int_equal(t.sockets, 2);
	assert_int_equal(t.cores, 4);
	assert_int_equal(t.threads_per_core, 1);
	assert_true(t.nodes_synthetic);
	assert_int_equal(t.nnodes, 1);
	assert_int_equal(t.nodes[0].ncpus, 4);
	assert_int_equal(t.nodes[0].mem_total_kib, 2097152);
	topo_done(&t);
	fsroot_done(&r);
	rm_tree(d);
	free(d);
}

/* Garbage and nothing: warnings and unknowns, never a crash. */
static void test_topo_bad_trees(void **state)
{
	(void)state;
	char *d = make_tempdir();
	struct fsroot r;
	struct topo t;
	assert_int_equal(fsroot_init(&r, d, true), 0);
	assert_int_equal(topo_read(&r, &t), -ENOENT);
	topo_done(&t);
	put_file(d, CPU "present", "0-1\n");
	put_file(d, CPU "online", "zero\n");
	put_file(d, CPU "cpu0/topology/physical_package_id", "x\n");
	put_file(d, CPU "cpu0/topology/thread_siblings_list", "9999999\n");
	put_file(d, CPU "cpu0/cache/index0/level", "1\n");
	put_file(d, CPU "cpu0/cache/index0/size", "lots\n");
	put_file(d, NODE "node0/distance", "10 abc\n");
	put_file(d, NODE "node0/meminfo", "nothing here\n");
	put_file(d, NODE "node0/cpulist", "1-0\n");
	put_fifo(d, "sys/class/net/eth0/device/numa_node");
	assert_int_equal(topo_read(&r, &t), 0);
	assert_int_equal(t.ncpus, 2);
	assert_true(t.nwarnings > 0);
	assert_int_equal(t.nnodes, 1);
	assert_false(t.nodes[0].has_mem);
	assert_int_equal(t.nodes[0].ndist, 0);
	topo_done(&t);
	fsroot_done(&r);
	rm_tree(d);
	free(d);
}

/*
 * Memory per node: nodeN/meminfo MemTotal, unless the nodes add up to less than
 * /proc/meminfo's (a kernel that fills per-node counts lazily; this guest's
 * node0 grew from 5.3 to 12.6 GiB of 23.5 in 40 minutes).  Then the total is
 * split by the pages present on each node, and the output says so (issue 16).
 */
static void test_topo_lazy_node_memory(void **state)
{
	(void)state;
	char *d = make_tree(); /* node0 512 MiB, node1 256 MiB by their own MemTotal */
	struct fsroot r;
	struct topo t;
	assert_int_equal(fsroot_init(&r, d, true), 0);
	/* complete counts: the nodes' own figures */
	put_file(d, "proc/meminfo", "MemTotal:  786432 kB\nMemFree: 1 kB\n");
	assert_int_equal(topo_read(&r, &t), 0);
	assert_string_equal(t.node_mem_source, "nodeN/meminfo MemTotal");
	assert_string_equal(t.node_mem_note, "");
	assert_int_equal(t.nodes[0].mem_total_kib, 524288);
	assert_false(t.node_mem_lazy);
	topo_done(&t);
	/* lazy counts, no zoneinfo: kept, but known to be lower bounds */
	put_file(d, "proc/meminfo", "MemTotal:  4194304 kB\n");
	assert_int_equal(topo_read(&r, &t), 0);
	assert_true(t.node_mem_lazy);
	assert_int_equal(t.nodes[0].mem_total_kib, 524288);
	assert_non_null(strstr(t.node_mem_note, "adds up to 0.8 GiB of /proc/meminfo's 4.0 GiB"));
	assert_non_null(strstr(t.node_mem_note, "lower bounds"));
	topo_done(&t);
	/* with zoneinfo: 4 GiB split 1:3 by present pages */
	put_file(d, "proc/zoneinfo", "Node 0, zone      DMA\n  pages free     3840\n        present  1000\n"
				     "Node 0, zone   Normal\n        present  261144\n        managed  100\n"
				     "Node 1, zone   Normal\n  per-node stats\n        present  786432\n");
	struct sample rec;
	sample_init(&rec);
	assert_int_equal(topo_read_record(&r, &t, &rec), 0);
	assert_false(t.node_mem_lazy);
	assert_string_equal(t.node_mem_source, "proc/meminfo MemTotal split by present pages");
	assert_int_equal(t.nodes[0].mem_total_kib, 1048576);
	assert_int_equal(t.nodes[1].mem_total_kib, 3145728);
	assert_int_equal(t.nodes[0].mem_node_kib, 524288);
	assert_non_null(sample_find(&rec, "proc/zoneinfo")); /* a capture keeps what sized the nodes */
	sample_done(&rec);
	topo_done(&t);
	fsroot_done(&r);
	rm_tree(d);
	free(d);

	/* one node: /proc/meminfo is that node's, zoneinfo or not */
	d = make_tempdir();
	put_file(d, CPU "present", "0-1\n");
	put_file(d, CPU "online", "0-1\n");
	put_file(d, NODE "node0/cpulist", "0-1\n");
	put_file(d, NODE "node0/meminfo", "Node 0 MemTotal:  5557452 kB\n");
	put_file(d, "proc/meminfo", "MemTotal:  24683664 kB\n");
	assert_int_equal(fsroot_init(&r, d, true), 0);
	assert_int_equal(topo_read(&r, &t), 0);
	assert_int_equal(t.nodes[0].mem_total_kib, 24683664);
	assert_string_equal(t.node_mem_source, "proc/meminfo MemTotal");
	assert_non_null(strstr(t.node_mem_note, "lazily"));
	topo_done(&t);
	fsroot_done(&r);
	rm_tree(d);
	free(d);

	/* the parser at its edges */
	uint64_t pages[4];
	static const char zi[] = "Node 3, zone Normal\n present 7\nNode 9, zone Normal\n present 5\nNode x\n present 1\n";
	assert_int_equal(zoneinfo_present_parse(zi, sizeof(zi) - 1, pages, 4), 1);
	assert_true(pages[3] == 7 && pages[0] == 0);
	assert_int_equal(zoneinfo_present_parse("present 5\n", 10, pages, 4), -EINVAL);
	assert_int_equal(zoneinfo_present_parse("", 0, pages, 4), -EINVAL);
}

/* The Prometheus procfs fixtures: a real machine's sys tree, parts of it. */
static void test_topo_peer_fixtures(void **state)
{
	(void)state;
	PEER_OR_SKIP(p, "procfs-fixtures");
	struct fsroot r;
	assert_int_equal(fsroot_init(&r, p, true), 0);
	struct topo t;
	int ret = topo_read(&r, &t);
	assert_true(ret == 0 || ret == -ENOENT);
	if (ret == 0) {
		assert_true(t.ncpus > 0);
		assert_true(t.nnodes >= 1);
		for (size_t i = 0; i < t.nnodes; i++)
			assert_true(t.nodes[i].ndist <= t.nnodes + 8);
	}
	topo_done(&t);
	fsroot_done(&r);
	free(p);
}

/* Our sysfs model agrees with hwloc on this machine (dynamic build only). */
static void test_topo_matches_hwloc(void **state)
{
	(void)state;
	struct topo_hw_counts hw;
	int ret = topo_hwloc_counts(&hw);
	if (ret == -ENOTSUP)
		SKIP_BECAUSE("built without hwloc");
	assert_int_equal(ret, 0);
	struct fsroot r;
	assert_int_equal(fsroot_init(&r, "/", false), 0);
	struct topo t;
	assert_int_equal(topo_read(&r, &t), 0);
	assert_int_equal(t.sockets, hw.packages);
	assert_int_equal(t.cores, hw.cores);
	assert_int_equal(t.online, hw.pus);
	assert_int_equal(t.nnodes, hw.nodes);
	for (size_t i = 0; i < t.nnodes && i < ARRAY_SIZE(hw.node_cpus); i++) {
		char *cl = cpulist_format(t.nodes[i].cpus, t.nodes[i].ncpus);
		assert_int_equal(t.nodes[i].id, hw.node_ids[i]);
		assert_non_null(hw.node_cpus[i]);
		assert_string_equal(cl, hw.node_cpus[i]);
		free(cl);
	}
	topo_done(&t);
	fsroot_done(&r);
	topo_hwloc_counts_done(&hw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fit_classic_one_node),
		cmocka_unit_test(test_fit_classic_memory_crosses_nodes),
		cmocka_unit_test(test_fit_larger_than_host),
		cmocka_unit_test(test_fit_hyperthreads),
		cmocka_unit_test(test_fit_odd_splits),
		cmocka_unit_test(test_fit_bad_input),
		cmocka_unit_test(test_fit_parse_mem),
		cmocka_unit_test(test_parsers),
		cmocka_unit_test(test_topo_tree),
		cmocka_unit_test(test_topo_cpuinfo_fallback),
		cmocka_unit_test(test_topo_bad_trees),
		cmocka_unit_test(test_topo_lazy_node_memory),
		cmocka_unit_test(test_topo_peer_fixtures),
		cmocka_unit_test(test_topo_matches_hwloc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
