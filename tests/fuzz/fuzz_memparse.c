/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The memory-layer parsers and analysis on arbitrary input:
 *   - kv_extract with the /proc/vmstat, /proc/meminfo and node numastat key
 *     tables, bracket_choice, numa_maps_parse, kmsg_parse/kmsg_classify on the
 *     whole input;
 *   - the input split at its first two form feeds into A, B and C: A is the
 *     stall sampler's .hiddenq/stalls.json and B the kernel-log reader's
 *     .hiddenq/kmsg.json of two samples, C their /proc/vmstat, numa_maps and
 *     node numastat; then the whole analysis and every rule.
 * Invariants: found flags agree with the count, missing keys are 0, outputs
 * stay inside their buffers, every stall is fully attributed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"
#include "analysis/mem.h"
#include "core/util.h"
#include "parse/memparse.h"
#include "sources/stallmon.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	hq_quiet = true;
	return 0;
}

static void check_kv(const char *buf, size_t len, const char *const *keys, size_t n)
{
	uint64_t v[64];
	bool found[64];
	if (n > 64)
		abort();
	int r = kv_extract(buf, len, keys, n, v, found);
	int cnt = 0;
	for (size_t i = 0; i < n; i++) {
		if (found[i])
			cnt++;
		else if (v[i] != 0)
			abort();
	}
	if (r >= 0 ? r != cnt : cnt != 0)
		abort();
}

static const char *const node_meminfo_keys[] = { "MemFree", "MemTotal" };
static const char *const rollup_keys[] = { "AnonHugePages", "Rss", "Swap" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;

	check_kv(buf, size, vm_keys, VK_N);
	check_kv(buf, size, mi_keys, MI_N);
	check_kv(buf, size, ns_keys, NS_N);
	check_kv(buf, size, node_meminfo_keys, 2);
	check_kv(buf, size, rollup_keys, 3);

	char choice[8];
	memset(choice, 'x', sizeof(choice));
	int r = bracket_choice(buf, size, choice, sizeof(choice));
	if (strnlen(choice, sizeof(choice)) >= sizeof(choice) || (r < 0 && choice[0]))
		abort();

	struct numa_maps_sum nm;
	if (numa_maps_parse(buf, size, &nm) == 0) {
		uint64_t sum = 0;
		for (unsigned i = 0; i < NUMA_MAPS_MAX_NODES; i++) {
			if (i >= nm.nodes_seen && nm.kb_on_node[i])
				abort();
			sum += nm.kb_on_node[i];
		}
		if (sum != nm.total_kb || nm.nodes_seen > NUMA_MAPS_MAX_NODES || nm.vmas == 0)
			abort();
	}

	struct kmsg_rec k;
	if (kmsg_parse(buf, size, &k) == 0) {
		if (k.prio > 7 || k.msg < buf || k.msg + k.msglen > buf + size || memchr(k.msg, '\n', k.msglen))
			abort();
		kmsg_classify(k.msg, k.msglen);
	}
	kmsg_classify(buf, size);

	/* split into A (stalls.json), B (kmsg.json), C (vmstat, numa_maps, numastat) */
	const char *end = buf + size;
	const char *f1 = memchr(buf, '\f', size);
	const char *a = buf, *b = f1 ? f1 + 1 : end;
	size_t alen = (size_t)((f1 ? f1 : end) - a);
	const char *f2 = memchr(b, '\f', (size_t)(end - b));
	size_t blen = (size_t)((f2 ? f2 : end) - b);
	const char *c = f2 ? f2 + 1 : end;
	size_t clen = (size_t)(end - c);

	struct sample statics;
	sample_init(&statics);
	static const char id[] = "{\"cpuid_available\":true,\"hypervisor_bit\":true,\"hypervisor_signature\":"
				 "\"KVMKVMKVM\",\"kvm_features_eax\":32,\"euid\":0,"
				 "\"exists\":{\"sys/bus/virtio/drivers/virtio_balloon\":true}}";
	sample_add(&statics, ".hiddenq/identity.json", id, strlen(id));
	sample_add(&statics, "proc/sys/kernel/numa_balancing", "1\n", 2);
	sample_add(&statics, "sys/kernel/mm/transparent_hugepage/defrag", c, clen);

	struct analysis an;
	analysis_init(&an, &statics, "fuzz");
	for (unsigned i = 0; i < 5; i++) {
		struct sample s;
		sample_init(&s);
		s.index = i;
		s.slow = true;
		s.mono_ns = 1000000000ull * (i + 1);
		char stat[256];
		int n = snprintf(stat, sizeof(stat),
				 "cpu  %u 0 10 %u 0 0 0 %u 0 0\ncpu0 %u 0 5 %u 0 0 0 %u 0 0\ncpu1 %u 0 5 %u 0 0 0 0 0 0\n",
				 100 * i, 100 * i, 30 * i, 50 * i, 50 * i, 30 * i, 50 * i, 50 * i);
		sample_add(&s, "proc/stat", stat, (size_t)n);
		if (i > 0) {
			sample_add(&s, STALLS_PATH, a, alen);
			sample_add(&s, KMSG_PATH, b, blen);
		}
		if (i != 2) {
			sample_add(&s, "proc/vmstat", c, clen);
			sample_add(&s, "proc/meminfo", c, clen);
			sample_add(&s, "sys/devices/system/node/node0/numastat", c, clen);
			sample_add(&s, "sys/devices/system/node/node1/numastat", buf, size);
			sample_add(&s, "sys/devices/system/node/node1/cpulist", c, clen);
			sample_add(&s, "proc/7/numa_maps", c, clen);
			sample_add(&s, "proc/7/smaps_rollup", c, clen);
			sample_add(&s, "proc/7/comm", b, blen);
			sample_add(&s, "proc/7/task/7/stat", a, alen);
		}
		char psi[128];
		n = snprintf(psi, sizeof(psi), "some avg10=1.00 avg60=0 avg300=0 total=%u\nfull avg10=0 avg60=0 avg300=0 total=%u\n",
			     200000 * i, 20000 * i);
		sample_add(&s, "proc/pressure/memory", psi, (size_t)n);
		analysis_feed(&an, &s);
		sample_done(&s);
	}
	analysis_finish(&an);
	const struct mem_analysis *m = &an.mem;
	for (size_t i = 0; i < m->nstalls; i++) {
		uint64_t sum = 0;
		for (int cause = 0; cause < SC_N; cause++)
			sum += m->stalls[i].share_ns[cause];
		if (sum != m->stalls[i].late_ns || m->stalls[i].main >= SC_N)
			abort();
	}
	if (m->nhits > ARRAY_SIZE(m->hits))
		abort();
	struct findings fs;
	memset(&fs, 0, sizeof(fs));
	rules_evaluate(&an, &fs);
	findings_done(&fs);
	analysis_done(&an);
	sample_done(&statics);
	return 0;
}
