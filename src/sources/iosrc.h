/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Readers of the IO and network layers for the sampler.
 *
 *  hot (every tick, kept open by the sampler): proc/diskstats, proc/net/dev,
 *      proc/net/softnet_stat (see IOSRC_HOT_* below).
 *  slow (about once a second): proc/net/snmp, netstat, snmp6, proc/interrupts,
 *      proc/softirqs, and the non-file sources of sources/net (ethtool under
 *      rtnl_lock, qdisc and qstats over netlink).
 *  static (sample 0): /sys/block/DEV/queue/{scheduler,nr_requests,rotational,
 *      write_cache,hw_sector_size}, mq/N/{cpu_list,nr_tags}, device vendor and
 *      model; /sys/class/net/DEV/{mtu,tx_queue_len}, queues/rx-N/rps_cpus,
 *      queues/tx-N/xps_cpus (ENOENT is normal on one queue); and, because a
 *      bundle stores no symlinks, ".hiddenq/devices.json" with the driver and
 *      bus device of each disk and interface and of each virtioN:
 *      {"block":{"vda":{"driver":"virtio_blk","device":"virtio1","virtio":true}},
 *       "net":{"eth0":{...}}, "virtio":{"virtio1":"virtio_blk"}}
 */
#ifndef HQ_IOSRC_H
#define HQ_IOSRC_H

#include <stdbool.h>

#include "../core/paths.h"	/* DEVICES_PATH */
#include "../core/sample.h"
#include "../sys/fsroot.h"

#define IOSRC_HOT_IO "proc/diskstats"
#define IOSRC_HOT_NET1 "proc/net/dev"
#define IOSRC_HOT_NET2 "proc/net/softnet_stat"

#define IOSRC_MAX_DISKS 256
#define IOSRC_MAX_QUEUES 256

void iosrc_statics(const struct fsroot *root, struct sample *out, bool io, bool net);
void iosrc_slow(const struct fsroot *root, struct sample *out, bool io, bool net);

#endif
