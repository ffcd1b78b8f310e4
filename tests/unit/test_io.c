/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The IO and network parsers and analysis: diskstats of every column
 * generation, counter resets and 2^32 wraps, softnet 13 vs 15 columns with
 * the CPU from column 13, snmp/netstat by header name when columns move,
 * virtio interrupt names, mq de-duplication, the JSON of the live sources as
 * read back, log2 histogram quantiles, and the two findings on synthetic
 * samples.
 */
#include "harness.h"

#include <jansson.h>
#include <math.h>

#include "analysis/analysis.h"
#include "analysis/io.h"
#include "analysis/rules_io.h"
#include "parse/ioparse.h"

/* Whole file into a malloc'd, NUL-terminated buffer.  0 or -errno. */
static int io_slurp(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	size_t cap = 4096, n = 0;
	char *b = xmalloc(cap);
	size_t r;
	while ((r = fread(b + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (cap - n - 1 == 0)
			b = xrealloc(b, cap *= 2);
	}
	fclose(f);
	b[n] = '\0';
	*out = b;
	*len = n;
	return 0;
}

static void test_diskstats_generations(void **st)
{
	(void)st;
	const char *txt = "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n"
			  " 252       0 vda 100 0 800 50 20 0 160 40 1 60 90 0 0 0 0\n"
			  " 259       0 nvme0n1 10 0 80 5 2 0 16 4 0 6 9 0 0 0 0 7 3\n"
			  "   7       0 loop0 1 2 3\n"
			  "garbage line\n";
	struct diskstats ds;
	assert_int_equal(diskstats_parse(txt, strlen(txt), &ds), 0);
	assert_int_equal(ds.n, 3);
	assert_int_equal(ds.v[0].nfields, 11);
	assert_int_equal(ds.v[1].nfields, 15);
	assert_int_equal(ds.v[2].nfields, 17);
	assert_int_equal(ds.v[2].f[DS_FL_IOS], 7);
	assert_int_equal(ds.v[2].f[DS_FL_MS], 3);
	assert_int_equal(ds.v[1].f[DS_WEIGHTED_MS], 90);
	assert_int_equal(ds.v[0].f[DS_DC_IOS], 0);
	assert_non_null(diskstats_find(&ds, "vda"));
	assert_null(diskstats_find(&ds, "loop0"));
	diskstats_done(&ds);
	assert_int_equal(diskstats_parse("", 0, &ds), -EINVAL);
	/* not NUL-terminated: the parser must stop at len */
	char buf[64];
	memset(buf, '7', sizeof(buf));
	assert_int_equal(diskstats_parse(buf, sizeof(buf), &ds), -EINVAL);
}

static void test_diskstats_reset_and_wrap(void **st)
{
	(void)st;
	struct disk_stat a = { .major = 252, .minor = 0, .nfields = 17 }, b = a;
	uint64_t d[DS_N];
	a.f[DS_RD_IOS] = 100;
	b.f[DS_RD_IOS] = 150;
	a.f[DS_RD_MS] = 4294967000ull;	/* near 2^32 */
	b.f[DS_RD_MS] = 200;		/* wrapped */
	a.f[DS_IO_MS] = 10;
	b.f[DS_IO_MS] = 30;
	assert_true(disk_delta(&a, &b, d));
	assert_int_equal(d[DS_RD_IOS], 50);
	assert_int_equal(d[DS_RD_MS], 200 + 4294967296ull - 4294967000ull);
	assert_int_equal(d[DS_IO_MS], 20);
	/* an io counter that goes backwards is a reset: the interval is unusable */
	b.f[DS_RD_IOS] = 5;
	assert_false(disk_delta(&a, &b, d));
	/* a 64-bit ms value cannot have wrapped at 2^32 */
	b.f[DS_RD_IOS] = 150;
	a.f[DS_RD_MS] = 5000000000ull;
	assert_false(disk_delta(&a, &b, d));
	/* column count changed */
	a.f[DS_RD_MS] = 1;
	b.nfields = 15;
	assert_false(disk_delta(&a, &b, d));
}

static void test_partitions(void **st)
{
	(void)st;
	assert_true(disk_name_is_partition("sda1", NULL, 0));
	assert_true(disk_name_is_partition("vda15", NULL, 0));
	assert_true(disk_name_is_partition("xvdb2", NULL, 0));
	assert_true(disk_name_is_partition("nvme0n1p1", NULL, 0));
	assert_true(disk_name_is_partition("mmcblk0p2", NULL, 0));
	assert_false(disk_name_is_partition("sda", NULL, 0));
	assert_false(disk_name_is_partition("nvme0n1", NULL, 0));
	assert_false(disk_name_is_partition("loop0", NULL, 0));
	assert_false(disk_name_is_partition("dm-0", NULL, 0));
	assert_false(disk_name_is_partition("md127", NULL, 0));
	const char *whole[] = { "vda", "loop3" };
	assert_false(disk_name_is_partition("loop3", whole, 2));
	assert_true(disk_name_is_partition("vda1", whole, 2));
}

static void test_diskstats_peer(void **st)
{
	(void)st;
	PEER_OR_SKIP(p, "procfs-fixtures/proc/diskstats");
	char *txt;
	size_t len;
	assert_int_equal(io_slurp(p, &txt, &len), 0);
	struct diskstats ds;
	assert_int_equal(diskstats_parse(txt, len, &ds), 0);
	assert_true(ds.n > 10);
	bool twenty = false;
	for (size_t i = 0; i < ds.n; i++)
		twenty |= ds.v[i].nfields == 17;
	assert_true(twenty);
	diskstats_done(&ds);
	free(txt);
	free(p);
}

/* sysstat roots: counters that decrease and devices that disappear, as a stream of samples */
static void test_diskstats_sysstat_roots(void **st)
{
	(void)st;
	PEER_OR_SKIP(base, "sysstat-roots");
	static const char *const roots[] = { "root1", "root2", "root3", "root4", "root5", "root6", "root7" };
	struct io_analysis io;
	io_init(&io);
	unsigned fed = 0;
	for (size_t i = 0; i < ARRAY_SIZE(roots); i++) {
		char *p = xasprintf("%s/%s/proc/diskstats", base, roots[i]);
		char *txt;
		size_t len;
		if (io_slurp(p, &txt, &len) == 0) {
			struct sample s;
			sample_init(&s);
			s.mono_ns = 1000000000ull * (i + 1);
			sample_add(&s, "proc/diskstats", txt, len);
			io_feed(&io, &s, NULL);
			sample_done(&s);
			free(txt);
			fed++;
		}
		free(p);
	}
	assert_true(fed >= 5);
	assert_true(io.diskstats_seen);
	const struct disk_acc *sda = io_disk(&io, "sda");
	assert_non_null(sda);
	assert_null(io_disk(&io, "sda1"));	/* a partition */
	/* root3 → root4 decreases: a reset, not a negative or huge delta */
	assert_true(sda->resets >= 1);
	assert_true(sda->d[DS_RD_IOS] < 1000000);
	io_done(&io);
	free(base);
}

static void test_softnet_columns(void **st)
{
	(void)st;
	/* 6.1: 13 columns; CPU 1 offline so the third line is CPU 2 */
	const char *v61 = "00000010 00000001 00000002 00000000 00000000 00000000 00000000 00000000 00000000 00000003 00000000 00000000 00000000\n"
			  "00000020 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000002\n";
	struct softnet sn;
	assert_int_equal(softnet_parse(v61, strlen(v61), &sn), 0);
	assert_int_equal(sn.n, 2);
	assert_int_equal(sn.v[0].ncols, 13);
	assert_int_equal(sn.v[1].cpu, 2);
	assert_true(sn.v[1].cpu_from_column);
	assert_int_equal(sn.v[0].dropped, 1);
	assert_int_equal(sn.v[0].time_squeeze, 2);
	assert_int_equal(sn.v[0].received_rps, 3);
	assert_null(softnet_cpu(&sn, 1));
	softnet_done(&sn);
	/* 6.18: 15 columns */
	const char *v618 = "ffffffff 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001 00000005 00000006\n";
	assert_int_equal(softnet_parse(v618, strlen(v618), &sn), 0);
	assert_int_equal(sn.v[0].ncols, 15);
	assert_int_equal(sn.v[0].cpu, 1);
	assert_int_equal(sn.v[0].input_qlen, 5);
	assert_int_equal(sn.v[0].process_qlen, 6);
	assert_int_equal(sn.v[0].processed, 0xffffffffu);
	softnet_done(&sn);
	/* u32 wrap */
	assert_int_equal(u32_delta(0xfffffff0u, 0x10), 0x20);
}

static void test_softnet_peer(void **st)
{
	(void)st;
	PEER_OR_SKIP(p, "procfs-fixtures/proc/net/softnet_stat");
	char *txt;
	size_t len;
	assert_int_equal(io_slurp(p, &txt, &len), 0);
	struct softnet sn;
	assert_int_equal(softnet_parse(txt, len, &sn), 0);
	assert_true(sn.n >= 2);
	softnet_done(&sn);
	free(txt);
	char *b = xasprintf("%s.broken", p);
	assert_int_equal(io_slurp(b, &txt, &len), 0);
	/* four columns: not a softnet line of any kernel, rejected, no crash */
	assert_int_equal(softnet_parse(txt, len, &sn), -EINVAL);
	free(txt);
	free(b);
	free(p);
}

static void test_snmp_by_name(void **st)
{
	(void)st;
	/* TcpExt columns in two orders: the value follows the name, not the position */
	const char *a = "TcpExt: SyncookiesSent TCPLostRetransmit TCPTimeouts\n"
			"TcpExt: 1 35 7\n"
			"IpExt: InNoRoutes\nIpExt: 0\n";
	const char *b = "TcpExt: SyncookiesSent A B C D TCPTimeouts TCPLostRetransmit\n"
			"TcpExt: 1 0 0 0 0 7 39\n";
	const char *keys[] = { "TCPLostRetransmit", "TCPTimeouts", "Missing" };
	int64_t v[3];
	bool found[3];
	assert_int_equal(snmp_pairs_extract(a, strlen(a), "TcpExt", keys, 3, v, found), 2);
	assert_int_equal(v[0], 35);
	assert_int_equal(v[1], 7);
	assert_false(found[2]);
	assert_int_equal(snmp_pairs_extract(b, strlen(b), "TcpExt", keys, 3, v, found), 2);
	assert_int_equal(v[0], 39);
	assert_int_equal(v[1], 7);
	/* MaxConn is -1; Udp has RcvbufErrors */
	const char *snmp = "Tcp: RtoAlgorithm MaxConn OutSegs RetransSegs\nTcp: 1 -1 1000 12\n"
			   "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n"
			   "Udp: 5 0 3 4 3 0\n";
	const char *tk[] = { "MaxConn", "RetransSegs" };
	assert_int_equal(snmp_pairs_extract(snmp, strlen(snmp), "Tcp", tk, 2, v, found), 2);
	assert_int_equal(v[0], -1);
	assert_int_equal(v[1], 12);
	const char *uk[] = { "RcvbufErrors" };
	assert_int_equal(snmp_pairs_extract(snmp, strlen(snmp), "Udp", uk, 1, v, found), 1);
	assert_int_equal(v[0], 3);
	/* a value line with a different count is broken */
	const char *bad = "Tcp: A B\nTcp: 1\n";
	assert_int_equal(snmp_pairs_extract(bad, strlen(bad), "Tcp", tk, 2, v, found), -EINVAL);
	assert_int_equal(snmp_pairs_extract(snmp, strlen(snmp), "Icmp", tk, 2, v, found), -EINVAL);
}

static void test_interrupts_virtio(void **st)
{
	(void)st;
	const char *txt = "           CPU0       CPU2\n"
			  " 36:          0     214394 PCI-MSIX-0000:00:02.0   1-edge      virtio1-req.0\n"
			  " 38:        100       2173 PCI-MSIX-0000:00:03.0   1-edge      virtio2-input.1\n"
			  " 39:       1342          0 PCI-MSIX-0000:00:03.0   2-edge      virtio2-output.0\n"
			  " 40:          0          0 PCI-MSIX-0000:00:04.0   0-edge      virtio3-config\n"
			  " 22:          0          5   IO-APIC  22-fasteoi   virtio0\n"
			  "NMI:          0          0   Non-maskable interrupts\n"
			  "ERR:          0\n";
	struct pcpu_table t;
	assert_int_equal(pcpu_table_parse(txt, strlen(txt), &t), 0);
	assert_int_equal(t.ncpus, 2);
	assert_int_equal(t.cpu[1], 2);
	assert_int_equal(pcpu_table_col(&t, 2), 1);
	assert_int_equal(pcpu_table_col(&t, 1), -1);
	const struct pcpu_row *r = pcpu_table_find(&t, "38");
	assert_non_null(r);
	assert_string_equal(r->action, "virtio2-input.1");
	assert_int_equal(r->count[1], 2173);
	assert_non_null(pcpu_table_find(&t, "ERR"));
	struct virtio_irq vi;
	virtio_irq_classify(r->action, &vi);
	assert_int_equal(vi.kind, VIRQ_NET_RX);
	assert_int_equal(vi.dev, 2);
	assert_int_equal(vi.queue, 1);
	virtio_irq_classify("virtio2-output.0", &vi);
	assert_int_equal(vi.kind, VIRQ_NET_TX);
	virtio_irq_classify("virtio1-req.0", &vi);
	assert_int_equal(vi.kind, VIRQ_BLK);
	virtio_irq_classify("virtio3-config", &vi);
	assert_int_equal(vi.kind, VIRQ_CONFIG);
	virtio_irq_classify("virtio0", &vi);
	assert_int_equal(vi.kind, VIRQ_INTX);
	virtio_irq_classify("virtio4-virtqueues", &vi);
	assert_int_equal(vi.kind, VIRQ_SHARED);
	virtio_irq_classify("virtio0-inflate", &vi);
	assert_int_equal(vi.kind, VIRQ_OTHER);
	virtio_irq_classify("i8042", &vi);
	assert_int_equal(vi.kind, VIRQ_NONE);
	virtio_irq_classify("virtioX-input.0", &vi);
	assert_int_equal(vi.kind, VIRQ_NONE);
	pcpu_table_done(&t);
	assert_int_equal(pcpu_table_parse("nonsense\n", 9, &t), -EINVAL);
}

static void test_interrupts_peer(void **st)
{
	(void)st;
	PEER_OR_SKIP(p, "procfs-fixtures/proc/interrupts");
	char *txt;
	size_t len;
	assert_int_equal(io_slurp(p, &txt, &len), 0);
	struct pcpu_table t;
	assert_int_equal(pcpu_table_parse(txt, len, &t), 0);
	assert_int_equal(t.ncpus, 4);
	const struct pcpu_row *r = pcpu_table_find(&t, "22");
	assert_non_null(r);
	struct virtio_irq vi;
	virtio_irq_classify(r->action, &vi);
	assert_int_equal(vi.kind, VIRQ_INTX);
	pcpu_table_done(&t);
	free(txt);
	free(p);
}

static void test_netdev(void **st)
{
	(void)st;
	const char *txt = "Inter-|   Receive                                                |  Transmit\n"
			  " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
			  "    lo: 100 2 0 0 0 0 0 0 100 2 0 0 0 0 0 0\n"
			  "  eth0:1000 10 0 3 0 0 0 0 2000 20 0 4 0 0 0 0\n"
			  "broken: 1 2\n";
	struct netdevs nd;
	assert_int_equal(netdev_parse(txt, strlen(txt), &nd), 0);
	assert_int_equal(nd.n, 2);
	const struct netdev_stat *e = netdevs_find(&nd, "eth0");
	assert_non_null(e);
	assert_int_equal(e->f[ND_RX_BYTES], 1000);
	assert_int_equal(e->f[ND_RX_DROP], 3);
	assert_int_equal(e->f[ND_TX_DROP], 4);
	netdevs_done(&nd);
}

static void test_cpumask(void **st)
{
	(void)st;
	uint64_t m[16];
	int first;
	assert_int_equal(cpumask_hex_parse("00000000,00000003\n", 18, m, &first), 2);
	assert_int_equal(first, 0);
	assert_int_equal(cpumask_hex_parse("2\n", 2, m, &first), 1);
	assert_int_equal(first, 1);
	assert_int_equal(cpumask_hex_parse("0\n", 2, m, &first), 0);
	assert_int_equal(first, -1);
	assert_int_equal(cpumask_hex_parse("1,00000000\n", 11, m, &first), 1);
	assert_int_equal(first, 32);
	assert_int_equal(cpumask_hex_parse("zz", 2, m, &first), -EINVAL);
}

static void test_eth_queue_names(void **st)
{
	(void)st;
	bool tx;
	unsigned q;
	char field[40];
	assert_true(eth_queue_name("rx_queue_3_packets", &tx, &q, field, sizeof(field)));
	assert_false(tx);
	assert_int_equal(q, 3);
	assert_string_equal(field, "packets");
	assert_true(eth_queue_name("tx1_kicks", &tx, &q, field, sizeof(field)));
	assert_true(tx);
	assert_int_equal(q, 1);
	assert_string_equal(field, "kicks");
	assert_true(eth_queue_name("rx0_xdp_drops", &tx, &q, field, sizeof(field)));
	assert_string_equal(field, "xdp_drops");
	assert_false(eth_queue_name("rx_drops", &tx, &q, field, sizeof(field)));	/* 6.10 totals */
	assert_false(eth_queue_name("tx_tx_timeouts", &tx, &q, field, sizeof(field)));
	assert_false(eth_queue_name("rx_queue_x_packets", &tx, &q, field, sizeof(field)));
}

static struct qdisc_acc qa(int ifx, const char *kind, const char *handle, const char *parent, uint64_t drops)
{
	struct qdisc_acc q;
	memset(&q, 0, sizeof(q));
	q.last.ifindex = ifx;
	snprintf(q.last.kind, sizeof(q.last.kind), "%s", kind);
	snprintf(q.last.handle, sizeof(q.last.handle), "%s", handle);
	snprintf(q.last.parent, sizeof(q.last.parent), "%s", parent);
	q.d[QD_DROPS] = drops;
	return q;
}

static void test_mq_dedup(void **st)
{
	(void)st;
	/* mq root = sum of its children (642 = 516 + 126 in the fact sheet) */
	struct qdisc_acc q[5] = {
		qa(2, "mq", "0:0", "root", 642),
		qa(2, "fq_codel", "0:0", "0:1", 516),
		qa(2, "fq_codel", "0:0", "0:2", 126),
		qa(3, "pfifo_fast", "0:0", "root", 5),
		qa(4, "tbf", "1:0", "root", 9),
	};
	qdisc_mark_parents(q, 5);
	assert_true(q[0].is_parent);
	assert_false(q[1].is_parent);
	assert_int_equal(q[1].txq, 0);
	assert_int_equal(q[2].txq, 1);
	assert_false(q[3].is_parent);
	assert_false(q[4].is_parent);
	uint64_t sum = 0;
	for (int i = 0; i < 5; i++)
		if (!q[i].is_parent && q[i].last.ifindex == 2)
			sum += q[i].d[QD_DROPS];
	assert_int_equal(sum, 642);
	/* mq with a real handle, as after `tc qdisc add dev X root handle 8001: mq` */
	struct qdisc_acc r[3] = {
		qa(5, "mq", "8001:0", "root", 10),
		qa(5, "pfifo", "0:0", "8001:1", 4),
		qa(5, "pfifo", "0:0", "8001:2", 6),
	};
	qdisc_mark_parents(r, 3);
	assert_true(r[0].is_parent);
	assert_int_equal(r[2].txq, 1);
	/* htb root with a leaf */
	struct qdisc_acc h[2] = { qa(6, "htb", "1:0", "root", 3), qa(6, "pfifo", "10:0", "1:10", 3) };
	qdisc_mark_parents(h, 2);
	assert_true(h[0].is_parent);
	assert_int_equal(h[1].txq, -1);
}

static void test_source_json(void **st)
{
	(void)st;
	const char *qj = "[{\"ifindex\":2,\"ifname\":\"eth0\",\"kind\":\"mq\",\"handle\":\"0:0\",\"parent\":\"root\","
			 "\"bytes\":642,\"packets\":9,\"qlen\":0,\"backlog\":0,\"drops\":1,\"requeues\":2,\"overlimits\":0},"
			 "7,{\"ifindex\":-3,\"kind\":5}]";
	struct qdisc_rec *v;
	size_t n;
	char err[64];
	assert_int_equal(qdisc_json_parse(qj, strlen(qj), &v, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].c[QD_BYTES], 642);
	assert_int_equal(v[0].c[QD_REQUEUES], 2);
	assert_int_equal(v[1].ifindex, -1);
	assert_string_equal(v[1].kind, "");
	free(v);
	const char *ej = "{\"error\":\"failed to dump qdiscs: Operation not permitted\"}";
	assert_int_equal(qdisc_json_parse(ej, strlen(ej), &v, &n, err, sizeof(err)), -ENODATA);
	assert_non_null(strstr(err, "failed to dump"));
	free(v);
	assert_int_equal(qdisc_json_parse("{", 1, &v, &n, err, sizeof(err)), -EINVAL);
	free(v);

	/* 6.10+ virtio_net: no per-queue packets in ethtool; channels combined */
	const char *ej2 = "{\"eth0\":{\"driver\":\"virtio_net\",\"channels\":{\"combined_count\":2,\"max_combined\":4},"
			  "\"stats\":{\"rx_drops\":0,\"rx0_drops\":3,\"tx0_kicks\":9,\"rx_queue_1_packets\":100}},"
			  "\"error\":\"x\",\"../x\":{}}";
	struct eth_doc d;
	assert_int_equal(eth_json_parse(ej2, strlen(ej2), &d), 0);
	assert_int_equal(d.n, 1);
	const struct eth_iface *e = eth_doc_find(&d, "eth0");
	assert_non_null(e);
	assert_int_equal(e->combined, 2);
	assert_int_equal(e->max_combined, 4);
	uint64_t val;
	assert_true(eth_stat_get(e, "rx0_drops", &val));
	assert_int_equal(val, 3);
	assert_false(eth_stat_get(e, "rx1_drops", &val));
	eth_doc_done(&d);

	const char *qs = "[{\"ifindex\":4,\"ifname\":\"eth0\",\"type\":\"rx\",\"queue\":0,\"rx-packets\":2625},"
			 "{\"ifname\":\"eth0\",\"type\":\"tx\",\"queue\":0,\"tx-packets\":5,\"tx-stop\":1},{\"queue\":-1}]";
	struct qstat_rec *q;
	assert_int_equal(qstats_json_parse(qs, strlen(qs), &q, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(q[0].packets, 2625);
	assert_true(q[1].tx);
	assert_int_equal(q[1].stops, 1);
	free(q);
}

/* ---- synthetic samples through the analysis and the rules ---- */

static void add_stat(struct sample *s, unsigned k)
{
	/* two vCPUs: CPU0 busy in softirq, CPU1 idle */
	char *t = xasprintf("cpu  0 0 0 %u 0 0 %u 0 0 0\ncpu0 %u 0 0 %u 0 0 %u 0 0 0\ncpu1 0 0 0 %u 0 0 0 0 0 0\n",
			    100 * k + 5 * k, 95 * k, 5 * k, 0u, 95 * k, 100 * k);
	sample_add(s, "proc/stat", t, strlen(t));
	free(t);
}

static const struct finding *find_rule(const struct findings *fs, const char *id)
{
	for (size_t i = 0; i < fs->n; i++)
		if (strcmp(fs->v[i].id, id) == 0)
			return &fs->v[i];
	return NULL;
}

static void test_rules_qdisc_drops(void **st)
{
	(void)st;
	struct sample statics;
	sample_init(&statics);
	const char *dj = "{\"net\":{\"eth0\":{\"driver\":\"virtio_net\",\"device\":\"virtio2\",\"virtio\":true}},"
			 "\"virtio\":{\"virtio2\":\"virtio_net\"}}";
	sample_add(&statics, ".hiddenq/devices.json", dj, strlen(dj));
	sample_add(&statics, "sys/class/net/eth0/queues/rx-0/rps_cpus", "0\n", 2);
	struct analysis an;
	analysis_init(&an, &statics, "synthetic");
	for (unsigned k = 0; k <= 5; k++) {
		struct sample s;
		sample_init(&s);
		s.index = k;
		s.slow = true;
		s.mono_ns = 1000000000ull * (k + 1);
		add_stat(&s, k);
		char *q = xasprintf("[{\"ifindex\":2,\"ifname\":\"eth0\",\"kind\":\"mq\",\"handle\":\"0:0\",\"parent\":\"root\","
				    "\"drops\":%u,\"backlog\":%u},"
				    "{\"ifindex\":2,\"ifname\":\"eth0\",\"kind\":\"pfifo\",\"handle\":\"0:0\",\"parent\":\"0:1\","
				    "\"drops\":%u,\"backlog\":%u,\"packets\":%u},"
				    "{\"ifindex\":2,\"ifname\":\"eth0\",\"kind\":\"pfifo\",\"handle\":\"0:0\",\"parent\":\"0:2\","
				    "\"drops\":0,\"packets\":%u}]",
				    500 * k, 3000, 500 * k, 3000, 10000 * k, 100 * k);
		sample_add(&s, ".hiddenq/qdisc.json", q, strlen(q));
		free(q);
		char *ir = xasprintf("           CPU0       CPU1\n 38: %u 0 PCI-MSIX 1-edge virtio2-input.0\n"
				     " 39: %u 0 PCI-MSIX 2-edge virtio2-output.0\n", 1000 * k, 10 * k);
		sample_add(&s, "proc/interrupts", ir, strlen(ir));
		free(ir);
		char *nd = xasprintf("Inter-| x\n face | y\n  eth0: 0 %u 0 0 0 0 0 0 0 %u 0 0 0 0 0 0\n", 9000 * k,
				     10100 * k);
		sample_add(&s, "proc/net/dev", nd, strlen(nd));
		free(nd);
		analysis_feed(&an, &s);
		sample_done(&s);
	}
	analysis_finish(&an);
	struct findings fs = { 0 };
	rules_evaluate(&an, &fs);
	const struct finding *f = find_rule(&fs, "virtqueue-saturation");
	assert_non_null(f);
	assert_int_equal(f->failure_mode, 4);
	assert_true(f->sev >= SEV_WARN);
	/* the child that dropped is named, with its TX queue; the mq root is not counted again */
	assert_non_null(strstr(f->title, "eth0 tx-0 qdisc pfifo"));
	assert_non_null(strstr(f->title, "dropped 2500 packets"));
	bool root_named = false, irq_cpu = false, sirq = false;
	for (size_t i = 0; i < f->nev; i++) {
		const struct evidence *e = &f->ev[i];
		if (e->subject && strstr(e->subject, "qdisc mq"))
			root_named = true;
		if (!strcmp(e->metric, "queue_irq_cpu") && e->subject && strstr(e->subject, "eth0 rx-0") && e->value == 0)
			irq_cpu = true;
		if (!strcmp(e->metric, "softirq_pct") && e->cpu == 0 && e->value > 90)
			sirq = true;
	}
	assert_false(root_named);
	assert_true(irq_cpu);
	assert_true(sirq);
	assert_non_null(strstr(f->explain, "tap"));
	findings_done(&fs);
	analysis_done(&an);
	sample_done(&statics);
}

static void feed_bio(struct analysis *an, unsigned k, bool bimodal, bool with_bpf)
{
	struct sample s;
	sample_init(&s);
	s.index = k;
	s.slow = true;
	s.mono_ns = 1000000000ull * (k + 1);
	add_stat(&s, k);
	char *d = xasprintf(" 252 0 vda %u 0 %u %u 0 0 0 0 0 %u %u 0 0 0 0 0 0\n 252 1 vda1 1 0 1 1 0 0 0 0 0 1 1 0 0 0 0 0 0\n",
			    1000 * k, 8000 * k, 2000 * k, 300 * k, 2000 * k);
	sample_add(&s, "proc/diskstats", d, strlen(d));
	free(d);
	char *p = xasprintf("some avg10=0 avg60=0 avg300=0 total=%u\nfull avg10=0 avg60=0 avg300=0 total=0\n", 10000 * k);
	sample_add(&s, "proc/pressure/io", p, strlen(p));
	free(p);
	if (with_bpf) {
		/* below: 970 fast (128-256 us) + 30 slow (64-128 ms) per second when bimodal */
		json_t *below = json_array(), *queued = json_array();
		for (int i = 0; i < 20; i++) {
			json_array_append_new(below, json_integer(i == 7 ? (bimodal ? 970 : 1000) * k
								 : i == 16 && bimodal ? 30 * k : 0));
			json_array_append_new(queued, json_integer(i == 3 ? 1000 * k : 0));
		}
		json_t *doc = json_pack("{s:b,s:s,s:s,s:{s:{s:{s:o},s:{s:o}}}}", "available", 1, "unit", "us", "buckets",
					"log2", "devices", "vda", "queued", "read", queued, "below", "read", below);
		char *txt = json_dumps(doc, JSON_COMPACT);
		sample_add(&s, ".hiddenq/biolat.json", txt, strlen(txt));
		free(txt);
		json_decref(doc);
	}
	analysis_feed(an, &s);
	sample_done(&s);
}

static const struct finding *run_io(struct analysis *an, struct sample *statics, struct findings *fs, bool bimodal,
				    bool bpf)
{
	analysis_init(an, statics, "synthetic");
	for (unsigned k = 0; k <= 5; k++)
		feed_bio(an, k, bimodal, bpf);
	analysis_finish(an);
	memset(fs, 0, sizeof(*fs));
	rules_evaluate(an, fs);
	return find_rule(fs, "io-layer-latency");
}

static void test_rules_io_latency(void **st)
{
	(void)st;
	struct sample statics;
	sample_init(&statics);
	const char *dj = "{\"block\":{\"vda\":{\"driver\":\"virtio_blk\",\"device\":\"virtio1\",\"virtio\":true}}}";
	sample_add(&statics, ".hiddenq/devices.json", dj, strlen(dj));
	sample_add(&statics, "sys/block/vda/queue/scheduler", "none [mq-deadline] kyber\n", 25);
	sample_add(&statics, "sys/block/vda/queue/rotational", "1\n", 2);
	sample_add(&statics, "sys/block/vda/mq/0/cpu_list", "0, 1\n", 5);
	struct analysis an;
	struct findings fs;

	/* bimodal below the guest: p99/p50 >= 100 with p99 >= 50 ms → crit, layer named */
	const struct finding *f = run_io(&an, &statics, &fs, true, true);
	assert_non_null(f);
	assert_int_equal(f->failure_mode, 5);
	assert_int_equal(f->sev, SEV_CRIT);
	assert_non_null(strstr(f->title, "below the guest (virtio"));
	assert_non_null(strstr(f->explain, "rotational=1"));
	assert_non_null(strstr(f->explain, "scheduler"));
	findings_done(&fs);
	analysis_done(&an);

	/* unimodal: ok */
	f = run_io(&an, &statics, &fs, false, true);
	assert_int_equal(f->sev, SEV_OK);
	findings_done(&fs);
	analysis_done(&an);

	/* no eBPF: averages only, the text says bimodality cannot be judged */
	f = run_io(&an, &statics, &fs, true, false);
	assert_int_equal(f->sev, SEV_UNKNOWN);
	assert_non_null(strstr(f->explain, "cannot be judged from averages"));
	bool aw = false;
	for (size_t i = 0; i < f->nev; i++)
		if (!strcmp(f->ev[i].metric, "r_await_ms") && fabs(f->ev[i].value - 2.0) < 1e-9)
			aw = true;
	assert_true(aw);
	findings_done(&fs);
	analysis_done(&an);
	sample_done(&statics);
}

static void test_cpumask_list(void **st)
{
	(void)st;
	uint64_t m[16] = { 0 };
	char b[40];
	cpumask_list_format(m, b, sizeof(b));
	assert_string_equal(b, "none");
	m[0] = 0xb;	/* 0,1,3 */
	cpumask_list_format(m, b, sizeof(b));
	assert_string_equal(b, "0-1,3");
	m[0] = 1ull << 63;
	m[1] = 3;	/* 63-65 across a word */
	m[15] = 1ull << 63;	/* 1023 */
	cpumask_list_format(m, b, sizeof(b));
	assert_string_equal(b, "63-65,1023");
	for (int i = 0; i < 16; i++)
		m[i] = 0x5555555555555555ull;	/* 512 single CPUs: truncated */
	cpumask_list_format(m, b, sizeof(b));
	assert_true(strlen(b) < sizeof(b));
	assert_non_null(strstr(b, "..."));
	assert_true(strncmp(b, "0,2,4,", 6) == 0);
	/* through the hex parser, as sysfs writes it */
	const char *hex = "00000000,00000005\n";
	int first;
	assert_int_equal(cpumask_hex_parse(hex, strlen(hex), m, &first), 2);
	cpumask_list_format(m, b, sizeof(b));
	assert_string_equal(b, "0,2");
}

/* NET_RX on one vCPU that is saturated in softirq, RPS off: the text says so and says what to do */
static void test_rules_softirq_rps(void **st)
{
	(void)st;
	for (int with_rps = 0; with_rps < 2; with_rps++) {
		struct sample statics;
		sample_init(&statics);
		const char *dj = "{\"net\":{\"eth0\":{\"driver\":\"virtio_net\",\"device\":\"virtio2\",\"virtio\":true}},"
				 "\"virtio\":{\"virtio2\":\"virtio_net\"}}";
		sample_add(&statics, ".hiddenq/devices.json", dj, strlen(dj));
		const char *rps = with_rps ? "2\n" : "0\n";
		sample_add(&statics, "sys/class/net/eth0/queues/rx-0/rps_cpus", rps, strlen(rps));
		sample_add(&statics, "sys/class/net/eth0/queues/tx-0/xps_cpus", "3\n", 2);
		sample_add(&statics, "sys/class/net/eth0/queues/tx-0/tx_maxrate", "0\n", 2);
		struct analysis an;
		analysis_init(&an, &statics, "synthetic");
		for (unsigned k = 0; k <= 5; k++) {
			struct sample s;
			sample_init(&s);
			s.index = k;
			s.slow = true;
			s.mono_ns = 1000000000ull * (k + 1);
			add_stat(&s, k);
			char *si = xasprintf("                    CPU0       CPU1\n          HI:          0          0\n"
					     "      NET_TX:   %u   %u\n      NET_RX:   %u   %u\n", 10 * k, 5 * k, 20000 * k,
					     10 * k);
			sample_add(&s, "proc/softirqs", si, strlen(si));
			free(si);
			char *nd = xasprintf("Inter-| x\n face | y\n  eth0: 0 %u 0 0 0 0 0 0 0 %u 0 0 0 0 0 0\n",
					     90000 * k, 100 * k);
			sample_add(&s, "proc/net/dev", nd, strlen(nd));
			free(nd);
			const char *eth = "{\"eth0\":{\"driver\":\"virtio_net\",\"stats\":{\"rx0_drops\":0}},"
					  "\"veth1\":{\"stats_error\":\"Operation not supported\"}}";
			sample_add(&s, ".hiddenq/ethtool.json", eth, strlen(eth));
			const char *qd = "[]";
			sample_add(&s, ".hiddenq/qdisc.json", qd, strlen(qd));
			const char *qs = "{\"error\":\"no 'netdev' generic netlink family (kernel before 6.5): No such file "
					 "or directory\"}";
			sample_add(&s, ".hiddenq/qstats.json", qs, strlen(qs));
			analysis_feed(&an, &s);
			sample_done(&s);
		}
		analysis_finish(&an);
		struct findings fs = { 0 };
		rules_evaluate(&an, &fs);
		const struct finding *f = find_rule(&fs, "virtqueue-saturation");
		assert_non_null(f);
		assert_true(f->sev >= SEV_WARN);
		bool rx0 = false, rx1 = false, tx0 = false, rpsev = false, xpsev = false;
		for (size_t i = 0; i < f->nev; i++) {
			const struct evidence *e = &f->ev[i];
			if (!strcmp(e->metric, "net_rx_softirqs_per_s") && e->cpu == 0)
				rx0 = fabs(e->value - 20000) < 1;
			if (!strcmp(e->metric, "net_rx_softirqs_per_s") && e->cpu == 1)
				rx1 = fabs(e->value - 10) < 1e-6;
			if (!strcmp(e->metric, "net_tx_softirqs_per_s") && e->cpu == 0)
				tx0 = fabs(e->value - 10) < 1e-6;
			if (!strcmp(e->metric, "rps_cpus") && e->subject)
				rpsev = with_rps ? !strcmp(e->subject, "eth0 rx-0 rps_cpus=1") && e->value == 1
						 : !strcmp(e->subject, "eth0 rx-0 rps_cpus=none") && e->value == 0;
			if (!strcmp(e->metric, "xps_cpus") && e->subject)
				xpsev = !strcmp(e->subject, "eth0 tx-0 xps_cpus=0-1") && e->value == 2;
		}
		assert_true(rx0 && rx1 && tx0 && rpsev && xpsev);
		bool next_rps = false;
		for (size_t i = 0; i < f->nnext; i++)
			if (strstr(f->next[i], "enable RPS") && strstr(f->next[i], "echo 3 > /sys/class/net/eth0/queues/"))
				next_rps = true;
		if (with_rps) {
			assert_null(strstr(f->explain, "RPS is off"));
			assert_false(next_rps);
		} else {
			assert_non_null(strstr(f->explain, "ran on vCPU 0 and RPS is off on eth0"));
			assert_true(next_rps);
		}
		/* the network sources' capability line: which worked and why not */
		struct capabilities caps;
		capabilities_build(&an, &caps);
		const char *net = NULL;
		for (size_t i = 0; i < caps.n; i++)
			if (!strcmp(caps.v[i].name, "network"))
				net = caps.v[i].detail;
		assert_non_null(net);
		assert_non_null(strstr(net, "ethtool ioctl ok (1 interface), not on veth1: Operation not supported"));
		assert_non_null(strstr(net, "netlink qdisc dump ok"));
		assert_non_null(strstr(net, "netdev qstats-get failed: no 'netdev' generic netlink family"));
		capabilities_done(&caps);
		findings_done(&fs);
		analysis_done(&an);
		sample_done(&statics);
	}
}

/* diagnose and the audit call the same judgement: one table of what each device should have */
static void test_io_sched_judge(void **state)
{
	(void)state;
	static const struct {
		const char *dev;
		bool virtio;
		int rot;
		const char *sched;
		enum io_sched_fit fit;
	} cases[] = {
		{ "vda", true, 1, "none", IO_SCHED_BEST },	   { "vda", true, 1, "mq-deadline", IO_SCHED_FINE },
		{ "vdb", false, 0, "bfq", IO_SCHED_POOR },	   { "vda", true, 0, "kyber", IO_SCHED_POOR },
		{ "nvme0n1", false, 0, "none", IO_SCHED_BEST },	   { "nvme0n1", false, 0, "mq-deadline", IO_SCHED_POOR },
		{ "sda", false, 1, "mq-deadline", IO_SCHED_BEST }, { "sda", false, 1, "bfq", IO_SCHED_BEST },
		{ "sda", false, 1, "none", IO_SCHED_POOR },	   { "sdb", false, 0, "none", IO_SCHED_BEST },
		{ "sdb", false, 0, "kyber", IO_SCHED_POOR },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *want = NULL, *why = NULL;
		const char *kind = io_sched_kind(cases[i].dev, cases[i].virtio, cases[i].rot);
		assert_int_equal(io_sched_judge(kind, cases[i].sched, &want, &why), cases[i].fit);
		assert_non_null(want);
		assert_non_null(why);
		assert_true(*want && *why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diskstats_generations),
		cmocka_unit_test(test_diskstats_reset_and_wrap),
		cmocka_unit_test(test_partitions),
		cmocka_unit_test(test_diskstats_peer),
		cmocka_unit_test(test_diskstats_sysstat_roots),
		cmocka_unit_test(test_softnet_columns),
		cmocka_unit_test(test_softnet_peer),
		cmocka_unit_test(test_snmp_by_name),
		cmocka_unit_test(test_interrupts_virtio),
		cmocka_unit_test(test_interrupts_peer),
		cmocka_unit_test(test_netdev),
		cmocka_unit_test(test_cpumask),
		cmocka_unit_test(test_eth_queue_names),
		cmocka_unit_test(test_mq_dedup),
		cmocka_unit_test(test_source_json),
		cmocka_unit_test(test_rules_qdisc_drops),
		cmocka_unit_test(test_rules_io_latency),
		cmocka_unit_test(test_cpumask_list),
		cmocka_unit_test(test_rules_softirq_rps),
		cmocka_unit_test(test_io_sched_judge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
