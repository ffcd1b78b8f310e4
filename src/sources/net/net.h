/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Live network sources that are not files.  Each returns the JSON text
 * (malloc'd, never NULL) that the sampler stores under .hiddenq/ in the
 * sample; a source that cannot run says why in an "error" member instead of
 * failing, so that a bundle records what was unavailable.
 *
 *   ethtool.json  {"eth0":{"driver":..,"channels":{..},"stats":{"name":value,..}},..}
 *                 (ETHTOOL_GDRVINFO, GCHANNELS, GSSET_INFO, GSTRINGS, GSTATS)
 *   qdisc.json    [{"ifindex","ifname","kind","handle","parent","bytes","packets",
 *                   "qlen","backlog","drops","requeues","overlimits"},..]  (RTM_GETQDISC dump)
 *   qstats.json   [{"ifindex","ifname","type":"rx"|"tx","queue","rx-packets",..},..]
 *                 (netdev generic netlink, qstats-get with scope=queue, 6.9+)
 *
 * All three only look at the network namespace the process runs in.  The
 * ethtool ioctls run under rtnl_lock(): call them at most once a second.
 */
#ifndef HQ_SOURCES_NET_H
#define HQ_SOURCES_NET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../../core/paths.h"	/* ETHTOOL_PATH, QDISC_PATH, QSTATS_PATH */

/* At most this many interfaces are asked (veth-heavy hosts have thousands). */
#define NET_MAX_IFACES 64

char *ethtool_collect_json(void);
char *qdisc_dump_json(void);
char *qstats_dump_json(void);
/*
 * Run the qdisc (qstats == false) or netdev qstats reply parser over a buffer
 * of netlink messages, appending what it recognises to the JSON array out.
 * For the fuzzer: the kernel's replies are input like any file.
 * Returns mnl_cb_run()'s result.
 */
int netlink_parse_replies(const void *buf, size_t len, bool qstats, json_t *out);

#endif
