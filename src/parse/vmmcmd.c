// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The command lines of the VMMs that are not QEMU, into a struct vmconf: the
 * VM's name, vCPUs, memory, disks and taps, so host mode can put each disk's
 * backing device beside the VM as it does for QEMU.  Each VMM has its own
 * syntax:
 *
 *   cloud-hypervisor --cpus boot=4 --memory size=1G
 *                    --disk path=/a.raw path=/b.qcow2,num_queues=2,direct=on
 *                    --net tap=tap0,num_queues=4
 *       (an option takes every following argument up to the next "--x")
 *   crosvm run --cpus 4 --mem 1024 --rwdisk /a.img --disk /b.img,o_direct=true
 *              --block path=/c.img,ro=false --root /r.img --tap-name tap0 KERNEL
 *   lkvm run -c 2 -m 1024 -d /a.img,direct --disk /b.img -n mode=tap,tapif=tap0
 *   firecracker --id vm1 --config-file cfg.json
 *       (the configuration is a JSON file: vmmcmd_firecracker_config reads it;
 *       drives added later over the API socket are not visible here)
 *
 * "--opt=value" is accepted wherever "--opt value" is.  All of these VMMs
 * offer only virtio devices, so disks are "virtio-blk" and NICs
 * "virtio-net"; image formats are not on the command line ("" = not said).
 */
#include "vmconf.h"
#include "stackparse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define MAX_ARGS 4096
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct argv {
	const char *a[MAX_ARGS];
	size_t n;
};

static void split_argv(const char *buf, size_t len, struct argv *v)
{
	v->n = 0;
	for (size_t i = 0; i < len && v->n < MAX_ARGS;) {
		size_t l = strnlen(buf + i, len - i);
		if (i + l >= len)	/* the last argument must be NUL-terminated inside buf */
			break;
		v->a[v->n++] = buf + i;
		i += l + 1;
	}
}

/* "--name" or "--name=value": the value (after '=' or the next argument), or NULL. Advances *i past it. */
static const char *opt_value(const struct argv *v, size_t *i, const char *name)
{
	const char *a = v->a[*i];
	size_t l = strlen(name);
	if (strncmp(a, name, l) != 0)
		return NULL;
	if (a[l] == '=')
		return a + l + 1;
	if (a[l] != '\0' || *i + 1 >= v->n)
		return NULL;
	return v->a[++*i];
}

/* key=value in a comma list ("path=/a,num_queues=2"); a bare first item is `implied`'s value. */
static bool kv_get(const char *s, const char *key, const char *implied, char *out, size_t cap)
{
	size_t kl = strlen(key);
	bool first = true;
	for (const char *p = s; *p;) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		if (eq && (size_t)(eq - p) == kl && !strncmp(p, key, kl)) {
			snprintf(out, cap, "%.*s", (int)(n - kl - 1), eq + 1);
			return true;
		}
		if (!eq && first && implied && !strcmp(implied, key)) {
			snprintf(out, cap, "%.*s", (int)n, p);
			return true;
		}
		first = false;
		p += n + (e ? 1 : 0);
	}
	return false;
}

static bool kv_flag(const char *s, const char *flag)
{
	char v[16];
	if (kv_get(s, flag, NULL, v, sizeof(v)))
		return !strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes");
	size_t fl = strlen(flag);
	for (const char *p = s; (p = strstr(p, flag)) != NULL; p += fl)	/* a bare word: "path,direct" */
		if ((p == s || p[-1] == ',') && (p[fl] == ',' || p[fl] == '\0'))
			return true;
	return false;
}

static struct vm_disk *add_disk(struct vmconf *c, const char *file)
{
	if (c->ndisks >= VMCONF_MAX_DISKS || !file[0])
		return NULL;
	struct vm_disk *d = &c->disks[c->ndisks];
	memset(d, 0, sizeof(*d));
	snprintf(d->id, sizeof(d->id), "disk%u", c->ndisks);
	str_copy(d->model, sizeof(d->model), "virtio-blk");
	str_copy(d->bus, sizeof(d->bus), "virtio");
	str_copy(d->file, sizeof(d->file), file);
	c->ndisks++;
	return d;
}

static struct vm_nic *add_tap(struct vmconf *c, const char *ifname)
{
	if (c->nnics >= VMCONF_MAX_NICS)
		return NULL;
	struct vm_nic *n = &c->nics[c->nnics];
	memset(n, 0, sizeof(*n));
	snprintf(n->id, sizeof(n->id), "net%u", c->nnics);
	str_copy(n->model, sizeof(n->model), "virtio-net");
	str_copy(n->backend, sizeof(n->backend), "tap");
	str_copy(n->ifname, sizeof(n->ifname), ifname);
	n->vhost = -1;
	c->nnics++;
	return n;
}

/* "1024", "1024M", "2G", "512K" in MiB (a bare number is MiB, as all four VMMs read it); 0 and
 * recorded in c->rejected when it is not a size within 1 MiB .. 1 PiB */
static uint64_t size_mib(struct vmconf *c, const char *what, const char *s)
{
	uint64_t mib;
	return vmconf_mib(c, what, s, "M", false, false, &mib) ? mib : 0;
}

/* a whole number lo..hi, else 0 and recorded in c->rejected */
static unsigned whole(struct vmconf *c, const char *what, const char *s, unsigned lo, unsigned hi)
{
	uint64_t v;
	return vmconf_uint(c, what, s, lo, hi, &v) ? (unsigned)v : 0;
}

static void ch_parse(const struct argv *v, struct vmconf *c)
{
	for (size_t i = 0; i < v->n; i++) {
		const char *a = v->a[i];
		if (strncmp(a, "--", 2) != 0)
			continue;
		/* the option's values: "--x=v" alone, or the arguments up to the next "--" */
		const char *eq = strchr(a, '=');
		size_t nl = eq ? (size_t)(eq - a) : strlen(a);
		const char *vals[64];
		size_t nv = 0;
		if (eq)
			vals[nv++] = eq + 1;
		else
			while (i + 1 < v->n && strncmp(v->a[i + 1], "--", 2) != 0 && nv < ARRAY_LEN(vals))
				vals[nv++] = v->a[++i];
		char buf[256];
		for (size_t k = 0; k < nv; k++) {
			const char *s = vals[k];
			if (nl == 6 && !strncmp(a, "--disk", 6)) {
				if (!kv_get(s, "path", NULL, buf, sizeof(buf)))
					continue;	/* vhost-user disks have a socket, no path */
				struct vm_disk *d = add_disk(c, buf);
				if (!d)
					continue;
				char q[32];
				if (kv_get(s, "num_queues", NULL, q, sizeof(q)))
					d->num_queues = (int)whole(c, "--disk num_queues=", q, 1, VMCONF_MAX_QUEUES);
				if (kv_flag(s, "direct"))
					str_copy(d->cache, sizeof(d->cache), "none");
			} else if (nl == 5 && !strncmp(a, "--net", 5)) {
				if (!kv_get(s, "tap", NULL, buf, sizeof(buf)))
					buf[0] = '\0';
				struct vm_nic *n = add_tap(c, buf);
				char q[32];
				if (n && kv_get(s, "num_queues", NULL, q, sizeof(q)))	/* CH counts RX and TX queues */
					n->queues = (int)(whole(c, "--net num_queues=", q, 2, 2 * VMCONF_MAX_QUEUES) / 2);
			} else if (nl == 6 && !strncmp(a, "--cpus", 6)) {
				if (kv_get(s, "boot", NULL, buf, sizeof(buf)))
					c->vcpus = whole(c, "--cpus boot=", buf, 1, VMCONF_MAX_VCPUS);
				if (kv_get(s, "max", NULL, buf, sizeof(buf)))
					c->max_vcpus = whole(c, "--cpus max=", buf, 1, VMCONF_MAX_VCPUS);
			} else if (nl == 10 && !strncmp(a, "--platform", 10)) {
				if (kv_get(s, "uuid", NULL, buf, sizeof(buf)))
					uuid_canon(buf, strlen(buf), c->uuid);
			} else if (nl == 9 && !strncmp(a, "--cmdline", 9)) {
				kernel_cmdline_machine_id(s, strlen(s), c->machine_id);
			} else if (nl == 8 && !strncmp(a, "--memory", 8)) {
				if (kv_get(s, "size", NULL, buf, sizeof(buf)))
					c->mem_mib = size_mib(c, "--memory size=", buf);
				if (kv_flag(s, "hugepages"))
					c->hugepages = true;
			}
		}
	}
}

static void crosvm_parse(const struct argv *v, struct vmconf *c)
{
	static const char *const disk_opts[] = { "--disk", "--rwdisk", "--root", "--rwroot", "--block" };
	for (size_t i = 0; i < v->n; i++) {
		const char *val;
		bool done = false;
		for (size_t k = 0; k < ARRAY_LEN(disk_opts) && !done; k++) {
			size_t j = i;
			if (!(val = opt_value(v, &j, disk_opts[k])))
				continue;
			i = j;
			done = true;
			char path[256];
			/* --block path=X,...; the others PATH[,key=value...] */
			if (!kv_get(val, "path", "path", path, sizeof(path)))
				continue;
			struct vm_disk *d = add_disk(c, path);
			if (d && kv_flag(val, "o_direct"))
				str_copy(d->cache, sizeof(d->cache), "none");
		}
		if (done)
			continue;
		size_t j = i;
		if ((val = opt_value(v, &j, "--tap-name"))) {
			add_tap(c, val);
		} else if ((val = opt_value(v, &j, "--cpus"))) {
			char n[32];
			if (kv_get(val, "num-cores", "num-cores", n, sizeof(n)))
				c->vcpus = whole(c, "--cpus num-cores=", n, 1, VMCONF_MAX_VCPUS);
		} else if ((val = opt_value(v, &j, "--mem")) || (val = opt_value(v, &j, "-m"))) {
			char n[32];
			if (kv_get(val, "size", "size", n, sizeof(n)))
				c->mem_mib = size_mib(c, "--mem size=", n);
		} else if ((val = opt_value(v, &j, "--name"))) {
			str_copy(c->name, sizeof(c->name), val);
		}
		i = j;
	}
}

static void kvmtool_parse(const struct argv *v, struct vmconf *c)
{
	for (size_t i = 0; i < v->n; i++) {
		const char *val;
		size_t j = i;
		if ((val = opt_value(v, &j, "--disk")) || (val = opt_value(v, &j, "-d"))) {
			char path[256];
			if (kv_get(val, "path", "path", path, sizeof(path))) {
				struct vm_disk *d = add_disk(c, path);
				if (d && kv_flag(val, "direct"))
					str_copy(d->cache, sizeof(d->cache), "none");
			}
		} else if ((val = opt_value(v, &j, "--network")) || (val = opt_value(v, &j, "-n"))) {
			char mode[16], tap[32];
			if (kv_get(val, "mode", NULL, mode, sizeof(mode)) && !strcmp(mode, "tap"))
				add_tap(c, kv_get(val, "tapif", NULL, tap, sizeof(tap)) ? tap : "");
		} else if ((val = opt_value(v, &j, "--cpus")) || (val = opt_value(v, &j, "-c"))) {
			c->vcpus = whole(c, "--cpus", val, 1, VMCONF_MAX_VCPUS);
		} else if ((val = opt_value(v, &j, "--mem")) || (val = opt_value(v, &j, "-m"))) {
			c->mem_mib = size_mib(c, "--mem", val);
		} else if ((val = opt_value(v, &j, "--name"))) {
			str_copy(c->name, sizeof(c->name), val);
		}
		i = j;
	}
}

static void firecracker_parse(const struct argv *v, struct vmconf *c, char *config, size_t cap)
{
	for (size_t i = 0; i < v->n; i++) {
		const char *val;
		size_t j = i;
		if ((val = opt_value(v, &j, "--id")))
			str_copy(c->name, sizeof(c->name), val);
		else if ((val = opt_value(v, &j, "--config-file")) && config)
			str_copy(config, cap, val);
		i = j;
	}
}

int vmm_cmdline_parse(const char *vmm, const char *buf, size_t len, struct vmconf *out, char *config, size_t cap)
{
	memset(out, 0, sizeof(*out));
	if (config && cap)
		config[0] = '\0';
	str_copy(out->source, sizeof(out->source), "cmdline");
	struct argv *v = malloc(sizeof(*v));
	if (!v)
		return -ENOMEM;
	split_argv(buf, len, v);
	int r = 0;
	if (!strcmp(vmm, "cloud-hypervisor"))
		ch_parse(v, out);
	else if (!strcmp(vmm, "crosvm"))
		crosvm_parse(v, out);
	else if (!strcmp(vmm, "kvmtool"))
		kvmtool_parse(v, out);
	else if (!strcmp(vmm, "firecracker"))
		firecracker_parse(v, out, config, cap);
	else
		r = -EINVAL;
	free(v);
	return r;
}

int vmm_firecracker_config(const char *buf, size_t len, struct vmconf *c)
{
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return -EINVAL;
	}
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(j, "drives"), i, d) {
		const char *p = json_string_value(json_object_get(d, "path_on_host"));
		struct vm_disk *k = p ? add_disk(c, p) : NULL;
		if (!k)
			continue;
		const char *id = json_string_value(json_object_get(d, "drive_id"));
		if (id)
			str_copy(k->id, sizeof(k->id), id);
		const char *eng = json_string_value(json_object_get(d, "io_engine"));
		if (eng)	/* "Sync" (blocking reads in the VMM) or "Async" (io_uring) */
			str_copy(k->aio, sizeof(k->aio), !strcmp(eng, "Async") ? "io_uring" : "threads");
	}
	json_array_foreach(json_object_get(j, "network-interfaces"), i, d) {
		const char *t = json_string_value(json_object_get(d, "host_dev_name"));
		if (t)
			add_tap(c, t);
	}
	const char *ba = json_string_value(json_object_get(json_object_get(j, "boot-source"), "boot_args"));
	if (ba)
		kernel_cmdline_machine_id(ba, strlen(ba), c->machine_id);
	json_t *m = json_object_get(j, "machine-config");
	json_t *x = json_object_get(m, "vcpu_count");
	if (x && (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > VMCONF_MAX_VCPUS))
		vmconf_reject(c, "machine-config vcpu_count is not a whole number from 1 to %u", VMCONF_MAX_VCPUS);
	else if (x)
		c->vcpus = (unsigned)json_integer_value(x);
	x = json_object_get(m, "mem_size_mib");
	if (x && (!json_is_integer(x) || json_integer_value(x) < 1 ||
		  (uint64_t)json_integer_value(x) > VMCONF_MAX_MEM_MIB))
		vmconf_reject(c, "machine-config mem_size_mib is not a whole number from 1 to %llu",
			      (unsigned long long)VMCONF_MAX_MEM_MIB);
	else if (x)
		c->mem_mib = (uint64_t)json_integer_value(x);
	json_decref(j);
	return 0;
}

/* ---- names (vmconf.h) ---- */

static const char *const vmm_names[VMM_COUNT] = { "qemu", "firecracker", "cloud-hypervisor", "crosvm", "kvmtool" };
static const char *const tkind_names[TK_COUNT] = { "vcpu", "main", "io", "vhost", "worker", "other" };

const char *vmm_name(enum vmm v)
{
	return (unsigned)v < VMM_COUNT ? vmm_names[v] : "unknown";
}

const char *tkind_name(enum tkind k)
{
	return (unsigned)k < TK_COUNT ? tkind_names[k] : "other";
}

int tkind_from_name(const char *s)
{
	for (int i = 0; i < TK_COUNT; i++)
		if (!strcmp(s, tkind_names[i]))
			return i;
	return -1;
}

int vmm_from_name(const char *s)
{
	for (int i = 0; i < VMM_COUNT; i++)
		if (!strcmp(s, vmm_names[i]))
			return i;
	return -1;
}
