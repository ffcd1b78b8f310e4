/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "stackprobe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/util.h"
#include "../parse/memparse.h"	/* kmsg_parse */
#include "identity.h"
#include "proc_run.h"

#define MAX_PCI 512
#define MAX_DEVS 256
#define MAX_CHAIN 8
#define MAX_KMSG_LINES 24

const char *const stack_swiotlb_files[] = {
	"sys/kernel/debug/swiotlb/io_tlb_nslabs",
	"sys/kernel/debug/swiotlb/io_tlb_used",
	"sys/kernel/debug/swiotlb/io_tlb_used_hiwater",
};

/* Sorted directory entries of rel under the root (no dot files), at most max; caller frees. */
static size_t list_dir(const struct fsroot *root, const char *rel, size_t max, char ***out)
{
	*out = NULL;
	int fd = fsroot_opendir(root, rel);
	if (fd < 0)
		return 0;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < max) {
		if (de->d_name[0] == '.')
			continue;
		xgrow((void **)&v, sizeof(*v), &cap, n);
		v[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			char *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*out = v;
	return n;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* First line of a small file, trimmed; "" when absent. */
static void read_word(const struct fsroot *root, const char *rel, char *out, size_t n)
{
	char *b;
	size_t len;
	out[0] = '\0';
	if (fsroot_read(root, rel, &b, &len, 4096) < 0) {
		free(b);
		return;
	}
	size_t k = 0;
	for (size_t i = 0; i < len && b[i] != '\n' && k + 1 < n; i++)
		out[k++] = (b[i] >= 0x20 && b[i] < 0x7f) ? b[i] : '?';
	while (k && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
	free(b);
}

/* Copy s into d (capacity n), truncating. */
static void copy_trunc(char *d, size_t n, const char *s)
{
	size_t l = strnlen(s, n - 1);
	memcpy(d, s, l);
	d[l] = '\0';
}

/* Basename of a symlink's target under the root; "" when it is not a link. */
static void link_base(const struct fsroot *root, const char *rel, char *dst, size_t n)
{
	char buf[PATH_MAX];
	dst[0] = '\0';
	ssize_t l = readlinkat(root->dirfd, rel, buf, sizeof(buf) - 1);
	if (l <= 0)
		return;
	buf[l] = '\0';
	const char *b = strrchr(buf, '/');
	copy_trunc(dst, n, b ? b + 1 : buf);
}

/*
 * The canonical path of rel, relative to the root ("sys/devices/pci0000:00/
 * 0000:00:03.0/virtio2"), into out; false when it does not resolve inside
 * the root.  Live only: a bundle has no symlinks to resolve.
 */
static bool root_realpath(const struct fsroot *root, const char *rel, char *out, size_t n)
{
	const char *rp = root->path && *root->path ? root->path : "/";
	char *full = xasprintf("%s%s%s", rp, rp[strlen(rp) - 1] == '/' ? "" : "/", rel);
	char canon[PATH_MAX], rootc[PATH_MAX];
	bool ok = realpath(full, canon) && realpath(rp, rootc);
	free(full);
	if (!ok)
		return false;
	size_t rl = strlen(rootc);
	if (strcmp(rootc, "/") == 0)
		rl = 0;
	else if (strncmp(canon, rootc, rl) != 0 || canon[rl] != '/')
		return false;
	copy_trunc(out, n, canon + rl + 1);
	return true;
}

static bool is_pci_addr(const char *s)
{
	/* dddd:bb:dd.f */
	unsigned a, b, c, d;
	char tail;
	return strlen(s) == 12 && sscanf(s, "%4x:%2x:%2x.%1x%c", &a, &b, &c, &d, &tail) == 4;
}

/*
 * The chain of devices from a class device's "device" up the sysfs tree:
 * each ancestor's name, subsystem and driver, until sys/devices (at most
 * MAX_CHAIN).  Sets *pci to the first PCI function met and *scsi_host to the
 * first "hostN" met ("" when none).
 */
static json_t *device_chain(const struct fsroot *root, const char *devrel, char *pci, size_t pn, char *host,
			    size_t hn)
{
	json_t *chain = json_array();
	char path[PATH_MAX];
	pci[0] = host[0] = '\0';
	if (!root_realpath(root, devrel, path, sizeof(path)))
		return chain;
	for (int depth = 0; depth < MAX_CHAIN; depth++) {
		if (strncmp(path, "sys/devices/", 12) != 0)
			break;
		char *slash = strrchr(path, '/');
		const char *name = slash ? slash + 1 : path;
		char rel[PATH_MAX + 16], drv[128], sub[64];
		snprintf(rel, sizeof(rel), "%s/driver", path);
		link_base(root, rel, drv, sizeof(drv));
		snprintf(rel, sizeof(rel), "%s/subsystem", path);
		link_base(root, rel, sub, sizeof(sub));
		if (sub[0] || drv[0]) {
			json_t *e = json_object();
			json_object_set_new(e, "dev", json_string(name));
			json_object_set_new(e, "subsystem", json_string(sub));
			json_object_set_new(e, "driver", json_string(drv));
			json_array_append_new(chain, e);
		}
		if (!pci[0] && is_pci_addr(name))
			copy_trunc(pci, pn, name);
		if (!host[0] && strncmp(name, "host", 4) == 0 && name[4] >= '0' && name[4] <= '9')
			copy_trunc(host, hn, name);
		if (!slash)
			break;
		*slash = '\0';
	}
	return chain;
}

static json_t *pci_entry(const struct fsroot *root, const char *addr)
{
	static const char *const words[] = { "vendor", "device", "class", "subsystem_vendor", "subsystem_device" };
	json_t *o = json_object();
	char rel[256], val[64];
	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/%s", addr, words[i]);
		read_word(root, rel, val, sizeof(val));
		json_object_set_new(o, words[i], json_string(val));
	}
	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/driver", addr);
	link_base(root, rel, val, sizeof(val));
	json_object_set_new(o, "driver", json_string(val));
	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/physfn", addr);
	json_object_set_new(o, "virtfn", json_boolean(fsroot_exists(root, rel)));
	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/sriov_totalvfs", addr);
	read_word(root, rel, val, sizeof(val));
	json_object_set_new(o, "sriov_totalvfs", json_integer(atoi(val)));
	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/sriov_numvfs", addr);
	read_word(root, rel, val, sizeof(val));
	json_object_set_new(o, "sriov_numvfs", json_integer(atoi(val)));
	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/mdev_supported_types", addr);
	json_object_set_new(o, "mdev_types", json_boolean(fsroot_exists(root, rel)));
	return o;
}

/* Interfaces stacked on an interface (lower_*: an Azure VF under hv_netvsc, a bond's slaves). */
static json_t *lower_links(const struct fsroot *root, const char *ifname)
{
	json_t *a = json_array();
	char rel[256];
	snprintf(rel, sizeof(rel), "sys/class/net/%s", ifname);
	char **names;
	size_t n = list_dir(root, rel, 512, &names);
	for (size_t i = 0; i < n; i++)
		if (strncmp(names[i], "lower_", 6) == 0 && names[i][6])
			json_array_append_new(a, json_string(names[i] + 6));
	free_list(names, n);
	return a;
}

static void class_devices(const struct fsroot *root, const char *dir, json_t *out, json_t *hosts)
{
	char **names;
	size_t n = list_dir(root, dir, MAX_DEVS, &names);
	for (size_t i = 0; i < n; i++) {
		char rel[512], pci[32], host[32];
		snprintf(rel, sizeof(rel), "%s/%s/device", dir, names[i]);
		if (!fsroot_exists(root, rel))
			continue; /* virtual: lo, veth, loop, zram, dm */
		json_t *o = json_object();
		json_object_set_new(o, "chain", device_chain(root, rel, pci, sizeof(pci), host, sizeof(host)));
		if (pci[0])
			json_object_set_new(o, "pci", json_string(pci));
		if (host[0]) {
			json_object_set_new(o, "scsi_host", json_string(host));
			char hrel[128], pn[64];
			snprintf(hrel, sizeof(hrel), "sys/class/scsi_host/%s/proc_name", host);
			read_word(root, hrel, pn, sizeof(pn));
			json_object_set_new(hosts, host, json_string(pn));
		}
		if (strcmp(dir, "sys/class/net") == 0)
			json_object_set_new(o, "lower", lower_links(root, names[i]));
		json_object_set_new(out, names[i], o);
	}
	free_list(names, n);
}

static bool nvidia_display_present(json_t *pci)
{
	const char *k;
	json_t *v;
	json_object_foreach(pci, k, v) {
		const char *ven = json_string_value(json_object_get(v, "vendor"));
		const char *cls = json_string_value(json_object_get(v, "class"));
		if (ven && cls && strcmp(ven, "0x10de") == 0 && strncmp(cls, "0x03", 4) == 0)
			return true;
	}
	return false;
}

static json_t *nvidia_smi(json_t *pci)
{
	json_t *o = json_object();
	if (!nvidia_display_present(pci)) {
		json_object_set_new(o, "ran", json_false());
		json_object_set_new(o, "why", json_string("no NVIDIA display device"));
		return o;
	}
	char *const argv[] = { (char *)"nvidia-smi",
			       (char *)"--query-gpu=index,pci.bus_id,name,virtualization_mode,mig.mode.current,compute_mode",
			       (char *)"--format=csv,noheader", NULL };
	struct proc_run r = { .argv = argv, .timeout_ms = 5000, .grace_ms = 500, .out_max = 65536, .err_max = 4096 };
	int rc = proc_run(&r);
	json_object_set_new(o, "ran", json_boolean(rc >= 0));
	if (rc < 0) {
		json_object_set_new(o, "why", json_string(r.why));
	} else {
		json_object_set_new(o, "rc", json_integer(rc));
		json_object_set_new(o, "out", json_stringn(r.out, r.out_len));
		if (rc != 0)
			json_object_set_new(o, "err", json_stringn(r.err, r.err_len));
	}
	proc_run_done(&r);
	return o;
}

/* Kernel-log lines about memory encryption, bounce buffers and the hypervisor, from the ring's start. */
static void kmsg_lines(json_t *o)
{
	static const char *const pats[] = { "Memory Encryption Features active", "tdx: Guest detected", "SEV",
					    "software IO TLB", "SWIOTLB", "swiotlb", "Hypervisor detected",
					    "Booting paravirtualized kernel", "running on a nested hypervisor",
					    "Isolation Config", "TDX", "Confidential" };
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		json_object_set_new(o, "kmsg_error", json_string(strerror(errno)));
		return;
	}
	json_t *a = json_array();
	char buf[8192];
	for (unsigned recs = 0; recs < 200000; recs++) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		if (n < 0 && errno == EPIPE)
			continue; /* overwritten while reading: the next record */
		if (n <= 0)
			break;
		struct kmsg_rec r;
		if (kmsg_parse(buf, (size_t)n, &r) < 0)
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(pats); i++) {
			if (!memmem(r.msg, r.msglen, pats[i], strlen(pats[i])))
				continue;
			if (json_array_size(a) < MAX_KMSG_LINES) {
				char line[240];
				size_t k = 0;
				for (size_t j = 0; j < r.msglen && k + 1 < sizeof(line); j++)
					line[k++] = (r.msg[j] >= 0x20 && r.msg[j] < 0x7f) ? r.msg[j] : '?';
				line[k] = '\0';
				json_array_append_new(a, json_string(line));
			}
			break;
		}
	}
	close(fd);
	json_object_set_new(o, "kmsg", a);
}

/* The type of the filesystem mounted on / (the last mount there wins): overlay marks a container image. */
static void root_fstype(const struct fsroot *root, json_t *o)
{
	char *b;
	size_t n;
	if (fsroot_read(root, "proc/self/mountinfo", &b, &n, 1u << 20) < 0) {
		free(b);
		return;
	}
	char fs[64] = "";
	for (char *line = b, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		/* id parent maj:min root mountpoint opts... - fstype source superopts */
		char mp[8];
		if (sscanf(line, "%*s %*s %*s %*s %7s", mp) != 1 || strcmp(mp, "/") != 0)
			continue;
		char *dash = strstr(line, " - ");
		if (dash)
			sscanf(dash + 3, "%63s", fs);
	}
	free(b);
	if (fs[0])
		json_object_set_new(o, "root_fstype", json_string(fs));
}

char *stack_probe_json(const struct fsroot *root)
{
	json_t *o = json_object();
	json_t *pci = json_object();
	char **names;
	size_t n = list_dir(root, "sys/bus/pci/devices", MAX_PCI, &names);
	for (size_t i = 0; i < n; i++)
		if (is_pci_addr(names[i]))
			json_object_set_new(pci, names[i], pci_entry(root, names[i]));
	free_list(names, n);
	json_t *hosts = json_object();
	json_t *net = json_object(), *blk = json_object();
	class_devices(root, "sys/class/net", net, hosts);
	class_devices(root, "sys/block", blk, hosts);
	json_object_set_new(o, "pci", pci);
	json_object_set_new(o, "net", net);
	json_object_set_new(o, "block", blk);
	json_object_set_new(o, "scsi_hosts", hosts);
	/* the kernel's log and installed tools are the machine's, whatever the root */
	bool real_root = !root->path || strcmp(root->path, "/") == 0;
	if (real_root) {
		json_object_set_new(o, "nvidia_smi", nvidia_smi(pci));
		kmsg_lines(o);
	}
	root_fstype(root, o);
	char *txt = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	char *ret = xstrdup(txt ? txt : "{}");
	free(txt);
	return ret;
}

/* ---- the plain files ---- */

static void add_file(const struct fsroot *root, struct sample *st, const char *rel)
{
	if (sample_find(st, rel))
		return;
	char *data;
	size_t len;
	int r = fsroot_read(root, rel, &data, &len, 65536);
	if (r == 0 || r == -EFBIG)
		sample_add_take(st, rel, data, len);
	else
		free(data);
}

/* Every regular file directly in dir (at most max). */
static void add_dir_files(const struct fsroot *root, struct sample *st, const char *dir, size_t max)
{
	char **names;
	size_t n = list_dir(root, dir, max, &names);
	for (size_t i = 0; i < n; i++) {
		char *rel = xasprintf("%s/%s", dir, names[i]);
		add_file(root, st, rel);
		free(rel);
	}
	free_list(names, n);
}

void stack_capture_static(const struct fsroot *root, bool live, struct sample *statics)
{
	static const char *const files[] = {
		"sys/class/dmi/id/sys_vendor",	     "sys/class/dmi/id/product_name",
		"sys/class/dmi/id/product_version",  "sys/class/dmi/id/product_family",
		"sys/class/dmi/id/product_uuid",     "sys/class/dmi/id/bios_vendor",
		"sys/class/dmi/id/bios_version",     "sys/class/dmi/id/board_vendor",
		"sys/class/dmi/id/board_name",	     "sys/class/dmi/id/chassis_vendor",
		"sys/class/dmi/id/chassis_asset_tag", "sys/hypervisor/type",
		"sys/hypervisor/uuid",		     "etc/machine-id",
		"run/systemd/container",	     "proc/cmdline",
		"sys/devices/system/cpu/cpuidle/current_driver",
		"sys/devices/system/cpu/cpuidle/current_governor",
		"sys/devices/system/cpu/cpuidle/current_governor_ro",
		"sys/devices/system/cpu/cpuidle/available_governors",
		"sys/module/kvm/parameters/halt_poll_ns",
		"sys/module/kvm/parameters/halt_poll_ns_grow",
		"sys/module/kvm/parameters/halt_poll_ns_grow_start",
		"sys/module/kvm/parameters/halt_poll_ns_shrink",
		"sys/module/cpuidle_haltpoll/parameters/force",
		"sys/devices/system/clocksource/clocksource0/current_clocksource",
	};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		add_file(root, statics, files[i]);
	add_dir_files(root, statics, "sys/devices/system/cpu/vulnerabilities", 64);
	add_dir_files(root, statics, "sys/module/haltpoll/parameters", 16);
	for (int s = 0; s < 10; s++) {
		static const char *const sf[] = { "name", "latency", "residency", "disable" };
		for (size_t k = 0; k < ARRAY_SIZE(sf); k++) {
			char rel[96];
			snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu0/cpuidle/state%d/%s", s, sf[k]);
			add_file(root, statics, rel);
		}
	}
	for (size_t i = 0; i < STACK_SWIOTLB_NFILES; i++)
		add_file(root, statics, stack_swiotlb_files[i]);
	if (live && !root->confined) {
		if (!sample_find(statics, STACK_PATH)) {
			char *j = stack_probe_json(root);
			sample_add_take(statics, STACK_PATH, j, strlen(j));
		}
	} else {
		add_file(root, statics, STACK_PATH);
		add_file(root, statics, IDENTITY_PATH);
	}
}
