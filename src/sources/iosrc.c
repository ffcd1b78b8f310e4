/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "iosrc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/util.h"
#include "net/net.h"

static void add_rel(const struct fsroot *root, struct sample *out, const char *rel, size_t max)
{
	char *data;
	size_t len;
	int r = fsroot_read(root, rel, &data, &len, max);
	if (r == 0 || r == -EFBIG)
		sample_add_take(out, rel, data, len);
}

/* basename of a symlink's target under the root, or "" */
static void link_base(const struct fsroot *root, const char *rel, char *dst, size_t n)
{
	char buf[512];
	dst[0] = '\0';
	ssize_t l = readlinkat(root->dirfd, rel, buf, sizeof(buf) - 1);
	if (l <= 0)
		return;
	buf[l] = '\0';
	const char *b = strrchr(buf, '/');
	b = b ? b + 1 : buf;
	size_t bl = strlen(b);
	if (bl >= n)
		bl = n - 1;
	memcpy(dst, b, bl);
	dst[bl] = '\0';
}

/* whether a symlink's full target mentions "/virtio" (the device path) */
static bool link_has_virtio(const struct fsroot *root, const char *rel)
{
	char buf[1024];
	ssize_t l = readlinkat(root->dirfd, rel, buf, sizeof(buf) - 1);
	if (l <= 0)
		return false;
	buf[l] = '\0';
	return strstr(buf, "/virtio") != NULL;
}

static unsigned each_entry(const struct fsroot *root, const char *dir, unsigned max, bool (*want)(const char *),
			   void (*fn)(const struct fsroot *, struct sample *, const char *, const char *, void *),
			   struct sample *out, void *arg)
{
	int fd = fsroot_opendir(root, dir);
	if (fd < 0)
		return 0;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	/* sorted, so that the statics (and bundles) do not depend on readdir order */
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < max) {
		if (de->d_name[0] == '.' || (want && !want(de->d_name)))
			continue;
		xgrow((void **)&names, sizeof(*names), &cap, n);
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		fn(root, out, dir, names[i], arg);
		free(names[i]);
	}
	free(names);
	return (unsigned)n;
}

static bool is_mq_dir(const char *name)
{
	for (const char *c = name; *c; c++)
		if (*c < '0' || *c > '9')
			return false;
	return *name != '\0';
}

static void mq_entry(const struct fsroot *root, struct sample *out, const char *dir, const char *name, void *arg)
{
	(void)arg;
	static const char *const files[] = { "cpu_list", "nr_tags", "nr_reserved_tags" };
	char rel[512];
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(rel, sizeof(rel), "%s/%s/%s", dir, name, files[i]);
		add_rel(root, out, rel, 65536);
	}
}

static void block_entry(const struct fsroot *root, struct sample *out, const char *dir, const char *name, void *arg)
{
	json_t *devs = arg;
	static const char *const qfiles[] = { "scheduler", "nr_requests", "rotational", "write_cache",
					      "hw_sector_size", "max_sectors_kb", "nr_hw_queues" };
	static const char *const dfiles[] = { "device/vendor", "device/model", "size", "removable" };
	char rel[512];
	for (size_t i = 0; i < ARRAY_SIZE(qfiles); i++) {
		snprintf(rel, sizeof(rel), "%s/%s/queue/%s", dir, name, qfiles[i]);
		add_rel(root, out, rel, 4096);
	}
	for (size_t i = 0; i < ARRAY_SIZE(dfiles); i++) {
		snprintf(rel, sizeof(rel), "%s/%s/%s", dir, name, dfiles[i]);
		add_rel(root, out, rel, 4096);
	}
	snprintf(rel, sizeof(rel), "%s/%s/mq", dir, name);
	each_entry(root, rel, IOSRC_MAX_QUEUES, is_mq_dir, mq_entry, out, NULL);

	json_t *o = json_object();
	char drv[128], dev[128];
	snprintf(rel, sizeof(rel), "%s/%s/device/driver", dir, name);
	link_base(root, rel, drv, sizeof(drv));
	snprintf(rel, sizeof(rel), "%s/%s/device", dir, name);
	link_base(root, rel, dev, sizeof(dev));
	bool virt = strncmp(drv, "virtio", 6) == 0 || strncmp(dev, "virtio", 6) == 0;
	snprintf(rel, sizeof(rel), "%s/%s", dir, name);
	virt = virt || link_has_virtio(root, rel);
	if (drv[0])
		json_object_set_new(o, "driver", json_string(drv));
	if (dev[0])
		json_object_set_new(o, "device", json_string(dev));
	json_object_set_new(o, "virtio", json_boolean(virt));
	json_object_set_new(devs, name, o);
}

static bool is_queue_dir(const char *name)
{
	return strncmp(name, "rx-", 3) == 0 || strncmp(name, "tx-", 3) == 0;
}

static void queue_entry(const struct fsroot *root, struct sample *out, const char *dir, const char *name, void *arg)
{
	(void)arg;
	char rel[512];
	snprintf(rel, sizeof(rel), "%s/%s/%s", dir, name, name[0] == 'r' ? "rps_cpus" : "xps_cpus");
	add_rel(root, out, rel, 4096);
	if (name[0] == 't') {
		snprintf(rel, sizeof(rel), "%s/%s/tx_maxrate", dir, name);
		add_rel(root, out, rel, 4096);
	}
}

static void net_entry(const struct fsroot *root, struct sample *out, const char *dir, const char *name, void *arg)
{
	json_t *devs = arg;
	static const char *const files[] = { "mtu", "tx_queue_len", "operstate", "type" };
	char rel[512];
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(rel, sizeof(rel), "%s/%s/%s", dir, name, files[i]);
		add_rel(root, out, rel, 4096);
	}
	snprintf(rel, sizeof(rel), "%s/%s/queues", dir, name);
	each_entry(root, rel, IOSRC_MAX_QUEUES * 2, is_queue_dir, queue_entry, out, NULL);
	json_t *o = json_object();
	char drv[128], dev[128];
	snprintf(rel, sizeof(rel), "%s/%s/device/driver", dir, name);
	link_base(root, rel, drv, sizeof(drv));
	snprintf(rel, sizeof(rel), "%s/%s/device", dir, name);
	link_base(root, rel, dev, sizeof(dev));
	if (drv[0])
		json_object_set_new(o, "driver", json_string(drv));
	if (dev[0])
		json_object_set_new(o, "device", json_string(dev));
	json_object_set_new(o, "virtio", json_boolean(strncmp(drv, "virtio", 6) == 0 || strncmp(dev, "virtio", 6) == 0));
	json_object_set_new(devs, name, o);
}

static void virtio_entry(const struct fsroot *root, struct sample *out, const char *dir, const char *name, void *arg)
{
	(void)out;
	json_t *map = arg;
	char rel[512], drv[128];
	snprintf(rel, sizeof(rel), "%s/%s/driver", dir, name);
	link_base(root, rel, drv, sizeof(drv));
	json_object_set_new(map, name, json_string(drv));
}

void iosrc_statics(const struct fsroot *root, struct sample *out, bool io, bool net)
{
	json_t *j = json_object();
	if (io) {
		json_t *b = json_object();
		each_entry(root, "sys/block", IOSRC_MAX_DISKS, NULL, block_entry, out, b);
		json_object_set_new(j, "block", b);
	}
	if (net) {
		json_t *n = json_object();
		each_entry(root, "sys/class/net", NET_MAX_IFACES * 4, NULL, net_entry, out, n);
		json_object_set_new(j, "net", n);
	}
	json_t *v = json_object();
	each_entry(root, "sys/bus/virtio/devices", 1024, NULL, virtio_entry, out, v);
	json_object_set_new(j, "virtio", v);
	char *txt = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (txt)
		sample_add_take(out, DEVICES_PATH, txt, strlen(txt));
}

void iosrc_slow(const struct fsroot *root, struct sample *out, bool io, bool net)
{
	add_rel(root, out, "proc/interrupts", 4u << 20);
	if (!net)
		return;
	(void)io;
	add_rel(root, out, "proc/softirqs", 1u << 20);
	add_rel(root, out, "proc/net/snmp", 1u << 20);
	add_rel(root, out, "proc/net/netstat", 1u << 20);
	add_rel(root, out, "proc/net/snmp6", 1u << 20);
	/* the non-file sources only make sense on the live machine */
	if (root->confined)
		return;
	char *t = ethtool_collect_json();
	sample_add_take(out, ETHTOOL_PATH, t, strlen(t));
	t = qdisc_dump_json();
	sample_add_take(out, QDISC_PATH, t, strlen(t));
	t = qstats_dump_json();
	sample_add_take(out, QSTATS_PATH, t, strlen(t));
}
