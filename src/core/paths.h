/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Where a sample keeps what is not a file: every source that is not a
 * plain read (CPUID, eBPF maps, netlink and ethtool replies, the stall
 * sampler, VM discovery) writes its JSON under ".hiddenq/" of the sample.
 * The sources that write them and the analysis that reads them back (live
 * or from a bundle) find them here, so neither includes the other.
 */
#ifndef HQ_PATHS_H
#define HQ_PATHS_H

#define IDENTITY_PATH ".hiddenq/identity.json"	/* sys/identity.c: CPUID, privileges, markers */
#define STALLS_PATH ".hiddenq/stalls.json"	/* sources/stallmon.c: late wake-ups */
#define KMSG_PATH ".hiddenq/kmsg.json"		/* sources/stallmon.c: kernel log lines */
#define DEVICES_PATH ".hiddenq/devices.json"	/* sources/iosrc.c: block and net devices */
#define ETHTOOL_PATH ".hiddenq/ethtool.json"	/* sources/net: ethtool statistics */
#define QDISC_PATH ".hiddenq/qdisc.json"	/* sources/net: rtnetlink qdisc dump */
#define QSTATS_PATH ".hiddenq/qstats.json"	/* sources/net: netdev qstats-get */
#define RUNQLAT_PATH ".hiddenq/runqlat.json"	/* sources/bpf: run-queue histograms */
#define BIOLAT_PATH ".hiddenq/biolat.json"	/* sources/bpf: block IO histograms */
#define COMPACT_PATH ".hiddenq/compact.json"	/* sources/bpf: direct compaction */
#define STACK_PATH ".hiddenq/stack.json"		/* sys/stackprobe.c: device chains, PCI, nvidia-smi, kernel log */
#define VMSCAN_JSON_PATH ".hiddenq/vms.json"	/* host/vmscan.c: VM processes and threads */

#endif
