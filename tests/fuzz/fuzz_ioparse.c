/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Every IO/network parser on the same bytes (diskstats, net/dev, softnet,
 * snmp pairs, per-CPU tables, cpu masks and their CPU lists, ethtool/qdisc/qstats JSON as read
 * back, biolat histograms), then two samples made of the input split at its
 * first form feed through the whole IO analysis and its two rules.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"
#include "analysis/io.h"
#include "parse/ioparse.h"

static const char *const paths[] = {
	"proc/diskstats", "proc/net/dev", "proc/net/softnet_stat", "proc/net/snmp", "proc/net/netstat",
	"proc/net/snmp6", "proc/interrupts", "proc/softirqs", ".hiddenq/qdisc.json", ".hiddenq/ethtool.json",
	".hiddenq/qstats.json", ".hiddenq/biolat.json", "proc/pressure/io",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct diskstats ds;
	if (diskstats_parse(buf, size, &ds) == 0) {
		for (size_t i = 0; i < ds.n; i++)
			if (ds.v[i].nfields < 11 || ds.v[i].nfields > DS_N)
				abort();
		if (ds.n >= 2) {
			uint64_t d[DS_N];
			disk_delta(&ds.v[0], &ds.v[1], d);
		}
		diskstats_done(&ds);
	}
	struct netdevs nd;
	if (netdev_parse(buf, size, &nd) == 0)
		netdevs_done(&nd);
	struct softnet sn;
	if (softnet_parse(buf, size, &sn) == 0) {
		for (size_t i = 0; i < sn.n; i++)
			if (sn.v[i].cpu < 0)
				abort();
		softnet_done(&sn);
	}
	const char *keys[] = { "RetransSegs", "OutSegs", "TCPTimeouts" };
	int64_t v[3];
	bool found[3];
	snmp_pairs_extract(buf, size, "Tcp", keys, 3, v, found);
	snmp_pairs_extract(buf, size, "TcpExt", keys, 3, v, found);
	struct pcpu_table t;
	if (pcpu_table_parse(buf, size, &t) == 0) {
		for (size_t i = 0; i < t.nrows; i++) {
			struct virtio_irq vi;
			virtio_irq_classify(t.rows[i].action, &vi);
		}
		pcpu_table_done(&t);
	}
	uint64_t m[16];
	int first;
	if (cpumask_hex_parse(buf, size, m, &first) >= 0) {
		char list[40];
		cpumask_list_format(m, list, sizeof(list));
		if (strnlen(list, sizeof(list)) >= sizeof(list) || !list[0])
			abort();
	}
	struct qdisc_rec *q;
	size_t n;
	char err[64];
	qdisc_json_parse(buf, size, &q, &n, err, sizeof(err));
	free(q);
	struct eth_doc ed;
	if (eth_json_parse(buf, size, &ed) == 0)
		eth_doc_done(&ed);
	struct qstat_rec *qs;
	qstats_json_parse(buf, size, &qs, &n, err, sizeof(err));
	free(qs);

	/* the whole analysis on two samples */
	const char *ff = memchr(buf, '\f', size);
	size_t cut = ff ? (size_t)(ff - buf) : size / 2;
	size_t which = size ? (unsigned char)buf[0] % (sizeof(paths) / sizeof(paths[0])) : 0;
	struct sample statics, s[2];
	sample_init(&statics);
	sample_add(&statics, ".hiddenq/devices.json", buf, cut);
	/* an interface's RPS/XPS masks, from the same bytes */
	sample_add(&statics, "sys/class/net/eth0/queues/rx-0/rps_cpus", buf, cut);
	sample_add(&statics, "sys/class/net/eth0/queues/tx-0/xps_cpus", buf + cut, size - cut);
	struct analysis an;
	analysis_init(&an, &statics, "fuzz");
	for (int i = 0; i < 2; i++) {
		sample_init(&s[i]);
		s[i].mono_ns = 1000000000ull * (uint64_t)(i + 1) * 2;
		s[i].slow = true;
		const char *p = i ? buf + (ff ? cut + 1 : cut) : buf;
		size_t l = i ? size - cut - (ff ? 1 : 0) : cut;
		sample_add(&s[i], paths[which], p, l);
		sample_add(&s[i], paths[(which + 1) % (sizeof(paths) / sizeof(paths[0]))], p, l);
		analysis_feed(&an, &s[i]);
		sample_done(&s[i]);
	}
	analysis_finish(&an);
	int cpus[64];
	double per_s[64];
	size_t nr = io_softirq_rates(&an.io, "NET_RX", cpus, per_s, 64);
	for (size_t i = 0; i < nr; i++)
		if (!(per_s[i] >= 0))
			abort();
	struct capabilities caps;
	capabilities_build(&an, &caps);
	capabilities_done(&caps);
	struct findings fs = { 0 };
	rules_evaluate(&an, &fs);
	findings_done(&fs);
	analysis_done(&an);
	sample_done(&statics);
	return 0;
}
