/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Per-interface driver statistics through the ethtool ioctl (SIOCETHTOOL):
 * the string set of ETH_SS_STATS, then the values, matched by name later
 * (virtio_net renamed its per-queue counters in 6.10 and moved packets and
 * bytes to netlink qstats).  GSTRINGS and GSTATS are two calls, so a channel
 * change in between (ethtool -L) can change the count: a mismatch is
 * reported, never zipped.
 */
#include "net.h"

#include <errno.h>
#include <jansson.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../core/util.h"

#define MAX_STATS 20000

static int eth_ioctl(int fd, const char *ifname, void *data)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = data;
	return ioctl(fd, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
}

static void add_stats(int fd, const char *ifname, json_t *o)
{
	struct {
		struct ethtool_sset_info hdr;
		uint32_t data[1];
	} ss;
	memset(&ss, 0, sizeof(ss));
	ss.hdr.cmd = ETHTOOL_GSSET_INFO;
	ss.hdr.sset_mask = 1ull << ETH_SS_STATS;
	int r = eth_ioctl(fd, ifname, &ss);
	if (r < 0) {
		json_object_set_new(o, "stats_error", json_string(strerror(-r)));
		return;
	}
	uint32_t n = (ss.hdr.sset_mask & (1ull << ETH_SS_STATS)) ? ss.data[0] : 0;
	if (n == 0 || n > MAX_STATS) {
		if (n)
			json_object_set_new(o, "stats_error", json_string("implausible number of statistics"));
		return;
	}
	struct ethtool_gstrings *gs = xcalloc(1, sizeof(*gs) + (size_t)n * ETH_GSTRING_LEN);
	gs->cmd = ETHTOOL_GSTRINGS;
	gs->string_set = ETH_SS_STATS;
	gs->len = n;
	struct ethtool_stats *st = xcalloc(1, sizeof(*st) + (size_t)n * sizeof(uint64_t));
	st->cmd = ETHTOOL_GSTATS;
	st->n_stats = n;
	r = eth_ioctl(fd, ifname, gs);
	if (r == 0)
		r = eth_ioctl(fd, ifname, st);
	if (r < 0) {
		json_object_set_new(o, "stats_error", json_string(strerror(-r)));
	} else if (gs->len != n || st->n_stats != n) {
		json_object_set_new(o, "stats_error",
				    json_string("the number of statistics changed between GSTRINGS and GSTATS"));
	} else {
		json_t *s = json_object();
		for (uint32_t i = 0; i < n; i++) {
			char name[ETH_GSTRING_LEN + 1];
			memcpy(name, gs->data + (size_t)i * ETH_GSTRING_LEN, ETH_GSTRING_LEN);
			name[ETH_GSTRING_LEN] = '\0';
			/* names are ASCII in every driver; anything else would not be valid JSON keys */
			bool ok = name[0] != '\0';
			for (char *c = name; *c; c++)
				if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
					ok = false;
			if (ok)
				json_object_set_new(s, name, json_integer((json_int_t)(st->data[i] & INT64_MAX)));
		}
		json_object_set_new(o, "stats", s);
	}
	free(gs);
	free(st);
}

static void add_interface(int fd, const char *ifname, json_t *root)
{
	json_t *o = json_object();
	struct ethtool_drvinfo di;
	memset(&di, 0, sizeof(di));
	di.cmd = ETHTOOL_GDRVINFO;
	if (eth_ioctl(fd, ifname, &di) == 0) {
		di.driver[sizeof(di.driver) - 1] = '\0';
		json_object_set_new(o, "driver", json_string(di.driver));
	}
	struct ethtool_channels ch;
	memset(&ch, 0, sizeof(ch));
	ch.cmd = ETHTOOL_GCHANNELS;
	int r = eth_ioctl(fd, ifname, &ch);
	if (r == 0) {
		json_t *c = json_object();
		json_object_set_new(c, "max_rx", json_integer(ch.max_rx));
		json_object_set_new(c, "max_tx", json_integer(ch.max_tx));
		json_object_set_new(c, "max_other", json_integer(ch.max_other));
		json_object_set_new(c, "max_combined", json_integer(ch.max_combined));
		json_object_set_new(c, "rx_count", json_integer(ch.rx_count));
		json_object_set_new(c, "tx_count", json_integer(ch.tx_count));
		json_object_set_new(c, "other_count", json_integer(ch.other_count));
		json_object_set_new(c, "combined_count", json_integer(ch.combined_count));
		json_object_set_new(o, "channels", c);
	} else {
		json_object_set_new(o, "channels_error", json_string(strerror(-r)));
	}
	add_stats(fd, ifname, o);
	json_object_set_new(root, ifname, o);
}

char *ethtool_collect_json(void)
{
	json_t *root = json_object();
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct if_nameindex *ifs = fd >= 0 ? if_nameindex() : NULL;
	if (fd < 0 || !ifs) {
		/* not an interface: analysis skips members that are not objects */
		json_object_set_new(root, "error", json_string(strerror(errno)));
	} else {
		unsigned n = 0;
		for (struct if_nameindex *p = ifs; p->if_index && p->if_name && n < NET_MAX_IFACES; p++) {
			if (strcmp(p->if_name, "lo") == 0)
				continue;
			add_interface(fd, p->if_name, root);
			n++;
		}
	}
	if (ifs)
		if_freenameindex(ifs);
	if (fd >= 0)
		close(fd);
	char *txt = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return txt ? txt : xstrdup("{}");
}
