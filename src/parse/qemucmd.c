/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * QEMU command lines (/proc/PID/cmdline) into a struct vmconf.
 *
 * QEMU takes options as "-opt ARG" where ARG is either QemuOpts text
 * ("key=val,key=val", ",," is a literal comma, a leading bare word is the
 * option's implied key: the driver of -device, the type of -netdev) or, for
 * -device, -blockdev, -netdev and -object, a JSON object (what libvirt passes
 * since 7.x).  Both are read through one accessor, arg_get().
 *
 * Disks are assembled the way QEMU wires them: a -device names a -drive id or
 * a -blockdev node; -blockdev nodes are followed down their "file" child from
 * the format layer (qcow2, raw) to the protocol layer (file, host_device),
 * which holds the path, cache.direct/no-flush and aio.  The cache mode is
 * derived from those flags and the device's write-cache, as QEMU documents
 * for -drive cache=.
 */
#include "vmconf.h"
#include "stackparse.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define MAX_ARGS 4096
#define MAX_NODES 64

/* One option argument: QemuOpts text or a parsed JSON object. */
struct arg {
	const char *s;
	size_t n;
	json_t *j;		/* owned; NULL for text */
	const char *implied;	/* the implied key of a leading bare word */
};

static void copy_str(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[k] = '\0';
}

static bool json_get(json_t *o, const char *key, char *out, size_t cap)
{
	json_t *v = json_object_get(o, key);
	if (!v) {
		/* "cache.direct" may be nested: {"cache":{"direct":true}} */
		const char *dot = strchr(key, '.');
		if (!dot || (size_t)(dot - key) >= 64)
			return false;
		char head[64];
		memcpy(head, key, (size_t)(dot - key));
		head[dot - key] = '\0';
		json_t *sub = json_object_get(o, head);
		if (!json_is_object(sub))
			return false;
		return json_get(sub, dot + 1, out, cap);
	}
	if (json_is_string(v))
		copy_str(out, cap, json_string_value(v), json_string_length(v));
	else if (json_is_true(v))
		copy_str(out, cap, "on", 2);
	else if (json_is_false(v))
		copy_str(out, cap, "off", 3);
	else if (json_is_integer(v))
		snprintf(out, cap, "%lld", (long long)json_integer_value(v));
	else
		return false;
	return true;
}

/*
 * Value of `key` in the argument into out (",," unescaped).  A bare word
 * without '=' is the implied key (first element only) or a flag ("on").
 */
static bool arg_get(const struct arg *a, const char *key, char *out, size_t cap)
{
	if (cap == 0)
		return false;
	out[0] = '\0';
	if (a->j) {
		if (a->implied && strcmp(key, a->implied) == 0 && !json_object_get(a->j, key)) {
			/* JSON -device uses "driver", -netdev "type", -object "qom-type": same names */
			return false;
		}
		return json_get(a->j, key, out, cap);
	}
	const char *p = a->s, *end = a->s + a->n;
	size_t klen = strlen(key);
	bool first = true;
	while (p < end) {
		/* element [p, e): ends at a ',' that is not ",," */
		const char *e = p;
		while (e < end) {
			if (*e == ',') {
				if (e + 1 < end && e[1] == ',') {
					e += 2;
					continue;
				}
				break;
			}
			e++;
		}
		const char *eq = memchr(p, '=', (size_t)(e - p));
		const char *vs = NULL, *ks = p, *ke;
		if (eq) {
			ke = eq;
			vs = eq + 1;
		} else {
			ke = e;
		}
		bool match;
		if (!eq && first && a->implied) {
			match = strcmp(a->implied, key) == 0;
			vs = p;
		} else {
			match = (size_t)(ke - ks) == klen && memcmp(ks, key, klen) == 0;
			if (match && !eq)
				vs = NULL; /* a flag */
		}
		if (match) {
			if (!vs) {
				copy_str(out, cap, "on", 2);
				return true;
			}
			size_t k = 0;
			for (const char *q = vs; q < e && k + 1 < cap; q++) {
				unsigned char c = (unsigned char)*q;
				if (c == ',' && q + 1 < e && q[1] == ',')
					q++;
				out[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
			}
			out[k] = '\0';
			return true;
		}
		first = false;
		p = e < end ? e + 1 : e;
	}
	return false;
}

static bool arg_is(const struct arg *a, const char *key, const char *val)
{
	char b[64];
	return arg_get(a, key, b, sizeof(b)) && strcmp(b, val) == 0;
}

static bool on_value(const char *v)
{
	return !strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1");
}

/*
 * A whole number option, lo..hi, checked like our own command line's: 0 when
 * absent; a value that is not one (a sign, junk, too large) is recorded in
 * c->rejected and also gives 0, never a clamped or wrapped number.
 */
static unsigned arg_uint(struct vmconf *c, const struct arg *a, const char *opt, const char *key, unsigned lo,
			 unsigned hi)
{
	char b[64], what[64];
	if (!arg_get(a, key, b, sizeof(b)))
		return 0;
	snprintf(what, sizeof(what), "-%s %s=", opt, key);
	uint64_t v;
	return vmconf_uint(c, what, b, lo, hi, &v) ? (unsigned)v : 0;
}

/* A -blockdev node (or a -drive, which is a node with a device of its own). */
struct node {
	char name[64], driver[24], file[64], filename[256], direct[8], noflush[8], aio[16], cache[16];
	char iface[16], media[16], format[16];
	bool is_drive, used;
};

static bool is_format_driver(const char *d)
{
	static const char *const f[] = { "raw", "qcow2", "qcow", "vmdk", "vpc", "vhdx", "qed", "vdi", "parallels",
					 "luks", "dmg", "bochs", "cloop" };
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (!strcmp(d, f[i]))
			return true;
	return false;
}

static struct node *node_find(struct node *nodes, unsigned n, const char *name)
{
	if (!name[0])
		return NULL;
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(nodes[i].name, name))
			return &nodes[i];
	return NULL;
}

static void cache_from_flags(char *out, size_t cap, const char *direct, const char *noflush, int write_cache)
{
	bool d = direct[0] && on_value(direct), nf = noflush[0] && on_value(noflush);
	const char *c = nf ? "unsafe" : d ? (write_cache == 0 ? "directsync" : "none")
					  : (write_cache == 0 ? "writethrough" : "writeback");
	snprintf(out, cap, "%s", c);
}

/* Fill a disk from the node chain starting at top. */
static void disk_from_nodes(struct vm_disk *d, struct node *nodes, unsigned nn, struct node *top, int write_cache)
{
	char direct[8] = "", noflush[8] = "";
	struct node *n = top;
	for (int depth = 0; n && depth < 8; depth++) {
		n->used = true;
		if (n->is_drive) {
			str_copy(d->file, sizeof(d->file), n->filename);
			str_copy(d->format, sizeof(d->format), n->format[0] ? n->format : "");
			str_copy(d->aio, sizeof(d->aio), n->aio[0] ? n->aio : "threads");
			if (n->cache[0])
				str_copy(d->cache, sizeof(d->cache), n->cache);
			else
				cache_from_flags(d->cache, sizeof(d->cache), n->direct, n->noflush, write_cache);
			if (!strcmp(n->media, "cdrom"))
				d->cdrom = true;
			return;
		}
		if (!direct[0] && n->direct[0])
			str_copy(direct, sizeof(direct), n->direct);
		if (!noflush[0] && n->noflush[0])
			str_copy(noflush, sizeof(noflush), n->noflush);
		if (is_format_driver(n->driver)) {
			if (!d->format[0])
				str_copy(d->format, sizeof(d->format), n->driver);
			n = node_find(nodes, nn, n->file);
			continue;
		}
		if (n->filename[0] || !n->file[0]) {
			/* protocol layer: file, host_device, nbd, rbd ... */
			str_copy(d->file, sizeof(d->file), n->filename);
			if (n->aio[0])
				str_copy(d->aio, sizeof(d->aio), n->aio);
			break;
		}
		n = node_find(nodes, nn, n->file); /* a filter (throttle, copy-on-read) */
	}
	if (!d->format[0])
		snprintf(d->format, sizeof(d->format), "raw");
	if (!d->aio[0])
		snprintf(d->aio, sizeof(d->aio), "threads");
	cache_from_flags(d->cache, sizeof(d->cache), direct, noflush, write_cache);
}

static const char *blk_bus_of_model(const char *m)
{
	if (!strncmp(m, "virtio-blk", 10) || !strncmp(m, "vhost-user-blk", 14))
		return "virtio";
	if (!strncmp(m, "scsi-", 5))
		return "scsi";
	if (!strncmp(m, "ide-", 4))
		return "ide";
	if (!strcmp(m, "nvme"))
		return "nvme";
	if (!strcmp(m, "usb-storage"))
		return "usb";
	if (!strcmp(m, "floppy"))
		return "fdc";
	return NULL;
}

static bool is_nic_model(const char *m)
{
	static const char *const nics[] = { "virtio-net", "e1000", "e1000e", "rtl8139", "ne2k_pci", "ne2k_isa", "pcnet",
					    "vmxnet3", "i82550", "i82551", "i82557", "i82559", "igb", "tulip",
					    "usb-net" };
	for (size_t i = 0; i < sizeof(nics) / sizeof(nics[0]); i++)
		if (!strncmp(m, nics[i], strlen(nics[i])))
			return true;
	return false;
}

bool vmconf_disk_is_virtio(const struct vm_disk *d)
{
	return !strcmp(d->bus, "virtio") || !strncmp(d->model, "virtio", 6) || !strncmp(d->model, "vhost-user-blk", 14);
}

bool vmconf_nic_is_virtio(const struct vm_nic *n)
{
	return !strncmp(n->model, "virtio", 6) || !strcmp(n->backend, "vhost-user");
}

static bool flag_option(const char *o)
{
	static const char *const flags[] = { "enable-kvm", "nodefaults", "no-user-config", "no-reboot", "no-shutdown",
					     "daemonize", "S", "nographic", "snapshot", "mem-prealloc", "no-hpet",
					     "no-acpi", "enable-fips", "no-fd-bootchk", "only-migratable", "full-screen",
					     "no-quit", "preconfig", "s", "singlestep", "win2k-hack", "old-param",
					     "semihosting", "usb", "no-graphic" };
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (!strcmp(o, flags[i]))
			return true;
	return false;
}

static void arg_init(struct arg *a, const char *s, size_t n, const char *implied)
{
	memset(a, 0, sizeof(*a));
	a->s = s;
	a->n = n;
	a->implied = implied;
	if (n && s[0] == '{')
		a->j = json_loadb(s, n, JSON_REJECT_DUPLICATES, NULL);
	if (a->j && !json_is_object(a->j)) {
		json_decref(a->j);
		a->j = NULL;
	}
}

struct pending_nic {
	char netdev[64];
	char model[32];
	int mq;
};

void kernel_cmdline_machine_id(const char *s, size_t len, char out[33])
{
	static const char key[] = "systemd.machine_id=";
	for (size_t i = 0; i + sizeof(key) - 1 < len; i++) {
		if ((i && s[i - 1] != ' ') || memcmp(s + i, key, sizeof(key) - 1) != 0)
			continue;
		size_t st = i + sizeof(key) - 1, e = st;
		while (e < len && s[e] != ' ' && s[e] != '\0')
			e++;
		if (machine_id_canon(s + st, e - st, out))
			return;
	}
}

int qemu_cmdline_parse(const char *buf, size_t len, struct vmconf *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->source, sizeof(out->source), "cmdline");
	/* split argv */
	const char *argv[MAX_ARGS];
	size_t argl[MAX_ARGS];
	unsigned argc = 0;
	for (size_t i = 0; i < len && argc < MAX_ARGS;) {
		const char *z = memchr(buf + i, '\0', len - i);
		size_t l = z ? (size_t)(z - (buf + i)) : len - i;
		argv[argc] = buf + i;
		argl[argc++] = l;
		i += l + 1;
	}
	if (argc == 0)
		return -EINVAL;
	{
		/* argv[0] must look like QEMU (or a wrapper's last element is) */
		const char *a0 = argv[0];
		size_t l0 = argl[0];
		const char *base = a0;
		for (size_t i = 0; i < l0; i++)
			if (a0[i] == '/')
				base = a0 + i + 1;
		size_t bl = (size_t)(a0 + l0 - base);
		if (!(bl >= 4 && !memcmp(base, "qemu", 4)) && !(bl >= 3 && !memcmp(base, "kvm", 3)))
			return -EINVAL;
	}

	struct node *nodes = calloc(MAX_NODES, sizeof(*nodes));
	struct pending_nic *pn = calloc(VMCONF_MAX_NICS, sizeof(*pn));
	if (!nodes || !pn) {
		free(nodes);
		free(pn);
		return -ENOMEM;
	}
	unsigned nn = 0, npn = 0;
	/* netdevs: kept in out->nics as they come, models filled by devices */
	struct dev {
		char driver[32], drive[64], id[64], netdev[64];
		int num_queues, write_cache, mq;
	} *devs = calloc(64, sizeof(*devs));
	if (!devs) {
		free(nodes);
		free(pn);
		return -ENOMEM;
	}
	unsigned ndev = 0;
	bool q35 = false, smp_given = false, m_given = false;
	char v[256];

	for (unsigned i = 1; i < argc; i++) {
		const char *o = argv[i];
		size_t ol = argl[i];
		if (ol < 2 || o[0] != '-')
			continue;
		o++;
		ol--;
		if (o[0] == '-') {
			o++;
			ol--;
		}
		char opt[32];
		if (ol >= sizeof(opt))
			continue;
		memcpy(opt, o, ol);
		opt[ol] = '\0';
		if (flag_option(opt)) {
			if (!strcmp(opt, "enable-kvm"))
				snprintf(out->accel, sizeof(out->accel), "kvm");
			continue;
		}
		if (i + 1 >= argc)
			break;
		const char *as = argv[i + 1];
		size_t al = argl[i + 1];
		i++;
		struct arg a = { 0 }; /* stays empty for options we do not read */
		if (!strcmp(opt, "name")) {
			arg_init(&a, as, al, "guest");
			if (arg_get(&a, "guest", v, sizeof(v)))
				str_copy(out->name, sizeof(out->name), v);
			if (arg_get(&a, "debug-threads", v, sizeof(v)) && on_value(v))
				out->debug_threads = true;
		} else if (!strcmp(opt, "uuid")) {
			char u[64];
			size_t ul = al < sizeof(u) - 1 ? al : sizeof(u) - 1;
			memcpy(u, as, ul);
			u[ul] = '\0';
			uuid_canon(u, ul, out->uuid);
		} else if (!strcmp(opt, "smbios")) {
			arg_init(&a, as, al, "file");
			if (arg_get(&a, "type", v, sizeof(v)) && !strcmp(v, "1") && !out->uuid[0] &&
			    arg_get(&a, "uuid", v, sizeof(v)))
				uuid_canon(v, strlen(v), out->uuid);
			static const char cred[] = "io.systemd.credential:system.machine_id=";
			if (arg_get(&a, "type", v, sizeof(v)) && !strcmp(v, "11") && arg_get(&a, "value", v, sizeof(v)) &&
			    !strncmp(v, cred, sizeof(cred) - 1))
				machine_id_canon(v + sizeof(cred) - 1, strlen(v + sizeof(cred) - 1), out->machine_id);
		} else if (!strcmp(opt, "append")) {
			if (!out->machine_id[0])
				kernel_cmdline_machine_id(as, al, out->machine_id);
		} else if (!strcmp(opt, "m")) {
			arg_init(&a, as, al, "size");
			m_given = true;
			uint64_t mib;
			if (arg_get(&a, "size", v, sizeof(v)))
				out->mem_mib = vmconf_mib(out, "-m size=", v, "M", true, false, &mib) ? mib : 0;
		} else if (!strcmp(opt, "smp")) {
			arg_init(&a, as, al, "cpus");
			smp_given = true;
			out->vcpus = arg_uint(out, &a, "smp", "cpus", 1, VMCONF_MAX_VCPUS);
			out->sockets = arg_uint(out, &a, "smp", "sockets", 1, VMCONF_MAX_SOCKETS);
			out->cores = arg_uint(out, &a, "smp", "cores", 1, VMCONF_MAX_CORES);
			out->threads = arg_uint(out, &a, "smp", "threads", 1, VMCONF_MAX_THREADS);
			out->max_vcpus = arg_uint(out, &a, "smp", "maxcpus", 1, VMCONF_MAX_VCPUS);
			unsigned dies = arg_uint(out, &a, "smp", "dies", 1, VMCONF_MAX_SOCKETS);
			if (!out->vcpus && out->sockets) {
				uint64_t n = (uint64_t)out->sockets * (dies ? dies : 1) * (out->cores ? out->cores : 1) *
					     (out->threads ? out->threads : 1);
				if (n <= VMCONF_MAX_VCPUS)
					out->vcpus = (unsigned)n;
				else
					vmconf_reject(out, "-smp sockets x dies x cores x threads = %llu is more than %u vCPUs",
						      (unsigned long long)n, VMCONF_MAX_VCPUS);
			}
			if (out->max_vcpus && out->vcpus > out->max_vcpus) {
				vmconf_reject(out, "-smp cpus=%u is more than maxcpus=%u", out->vcpus, out->max_vcpus);
				out->vcpus = 0;
			}
		} else if (!strcmp(opt, "cpu")) {
			arg_init(&a, as, al, "model");
			if (arg_get(&a, "model", v, sizeof(v)))
				str_copy(out->cpu_model, sizeof(out->cpu_model), v);
		} else if (!strcmp(opt, "accel")) {
			arg_init(&a, as, al, "accel");
			if (arg_get(&a, "accel", v, sizeof(v)))
				str_copy(out->accel, sizeof(out->accel), v);
		} else if (!strcmp(opt, "machine") || !strcmp(opt, "M")) {
			arg_init(&a, as, al, "type");
			if (arg_get(&a, "accel", v, sizeof(v))) {
				char *c = strchr(v, ':');
				if (c)
					*c = '\0';
				str_copy(out->accel, sizeof(out->accel), v);
			}
			if (arg_get(&a, "type", v, sizeof(v)) && strstr(v, "q35"))
				q35 = true;
		} else if (!strcmp(opt, "numa")) {
			arg_init(&a, as, al, "type");
			if (arg_is(&a, "type", "node"))
				out->numa_nodes++;
		} else if (!strcmp(opt, "mem-path")) {
			copy_str(out->mem_path, sizeof(out->mem_path), as, al);
			out->hugepages = strstr(out->mem_path, "huge") != NULL;
		} else if (!strcmp(opt, "object")) {
			arg_init(&a, as, al, "qom-type");
			if (arg_get(&a, "qom-type", v, sizeof(v))) {
				if (!strcmp(v, "memory-backend-file")) {
					if (arg_get(&a, "mem-path", v, sizeof(v))) {
						str_copy(out->mem_path, sizeof(out->mem_path), v);
						if (strstr(v, "huge"))
							out->hugepages = true;
					}
				} else if (!strcmp(v, "memory-backend-memfd")) {
					if (arg_get(&a, "hugetlb", v, sizeof(v)) && on_value(v))
						out->hugepages = true;
				} else if (!strcmp(v, "iothread")) {
					out->iothreads++;
				}
			}
		} else if (!strcmp(opt, "drive") && nn < MAX_NODES) {
			arg_init(&a, as, al, NULL);
			struct node *n = &nodes[nn++];
			n->is_drive = true;
			if (!arg_get(&a, "id", n->name, sizeof(n->name)))
				snprintf(n->name, sizeof(n->name), "drive%u", nn - 1);
			arg_get(&a, "file", n->filename, sizeof(n->filename));
			arg_get(&a, "format", n->format, sizeof(n->format));
			arg_get(&a, "cache", n->cache, sizeof(n->cache));
			arg_get(&a, "cache.direct", n->direct, sizeof(n->direct));
			arg_get(&a, "cache.no-flush", n->noflush, sizeof(n->noflush));
			arg_get(&a, "aio", n->aio, sizeof(n->aio));
			arg_get(&a, "if", n->iface, sizeof(n->iface));
			arg_get(&a, "media", n->media, sizeof(n->media));
		} else if (!strcmp(opt, "blockdev") && nn < MAX_NODES) {
			arg_init(&a, as, al, NULL);
			struct node *n = &nodes[nn++];
			arg_get(&a, "node-name", n->name, sizeof(n->name));
			arg_get(&a, "driver", n->driver, sizeof(n->driver));
			/* "file" is a child node name, or (JSON) an inline object we do not follow */
			if (!arg_get(&a, "file", n->file, sizeof(n->file)) && a.j) {
				json_t *f = json_object_get(a.j, "file");
				if (json_is_object(f)) {
					json_get(f, "filename", n->filename, sizeof(n->filename));
					json_get(f, "aio", n->aio, sizeof(n->aio));
				}
			}
			arg_get(&a, "filename", n->filename, sizeof(n->filename));
			arg_get(&a, "cache.direct", n->direct, sizeof(n->direct));
			arg_get(&a, "cache.no-flush", n->noflush, sizeof(n->noflush));
			arg_get(&a, "aio", n->aio, sizeof(n->aio));
		} else if (!strcmp(opt, "device") && ndev < 64) {
			arg_init(&a, as, al, "driver");
			struct dev *d = &devs[ndev++];
			arg_get(&a, "driver", d->driver, sizeof(d->driver));
			arg_get(&a, "drive", d->drive, sizeof(d->drive));
			arg_get(&a, "id", d->id, sizeof(d->id));
			arg_get(&a, "netdev", d->netdev, sizeof(d->netdev));
			d->num_queues = (int)arg_uint(out, &a, "device", "num-queues", 1, VMCONF_MAX_QUEUES);
			d->write_cache = -1;
			if (arg_get(&a, "write-cache", v, sizeof(v)))
				d->write_cache = on_value(v) ? 1 : !strcmp(v, "auto") ? -1 : 0;
			d->mq = arg_get(&a, "mq", v, sizeof(v)) && on_value(v);
		} else if ((!strcmp(opt, "netdev") || !strcmp(opt, "nic")) && out->nnics < VMCONF_MAX_NICS) {
			arg_init(&a, as, al, "type");
			struct vm_nic *n = &out->nics[out->nnics++];
			arg_get(&a, "type", n->backend, sizeof(n->backend));
			arg_get(&a, "id", n->id, sizeof(n->id));
			arg_get(&a, "ifname", n->ifname, sizeof(n->ifname));
			n->queues = (int)arg_uint(out, &a, opt, "queues", 1, VMCONF_MAX_QUEUES);
			n->vhost = -1;
			if (arg_get(&a, "vhost", v, sizeof(v)))
				n->vhost = on_value(v);
			if (!strcmp(opt, "nic")) {
				if (!arg_get(&a, "model", n->model, sizeof(n->model)))
					snprintf(n->model, sizeof(n->model), "e1000"); /* QEMU's default NIC on pc/q35 */
			}
		} else if (!strcmp(opt, "net")) {
			arg_init(&a, as, al, "type");
			if (arg_is(&a, "type", "nic")) {
				if (npn < VMCONF_MAX_NICS) {
					struct pending_nic *p = &pn[npn++];
					if (!arg_get(&a, "model", p->model, sizeof(p->model)))
						snprintf(p->model, sizeof(p->model), "e1000");
				}
			} else if (out->nnics < VMCONF_MAX_NICS && arg_get(&a, "type", v, sizeof(v)) &&
				   strcmp(v, "none") != 0) {
				struct vm_nic *n = &out->nics[out->nnics++];
				str_copy(n->backend, sizeof(n->backend), v);
				arg_get(&a, "ifname", n->ifname, sizeof(n->ifname));
				n->queues = (int)arg_uint(out, &a, "net", "queues", 1, VMCONF_MAX_QUEUES);
				n->vhost = -1;
				if (arg_get(&a, "vhost", v, sizeof(v)))
					n->vhost = on_value(v);
			}
		}
		if (a.j)
			json_decref(a.j);
	}

	/* devices: disks and NIC models */
	for (unsigned i = 0; i < ndev; i++) {
		struct dev *d = &devs[i];
		const char *bus = blk_bus_of_model(d->driver);
		if (bus && out->ndisks < VMCONF_MAX_DISKS) {
			struct vm_disk *k = &out->disks[out->ndisks];
			str_copy(k->model, sizeof(k->model), d->driver);
			str_copy(k->bus, sizeof(k->bus), bus);
			str_copy(k->id, sizeof(k->id), d->id[0] ? d->id : d->drive);
			k->num_queues = d->num_queues;
			if (!strcmp(d->driver, "ide-cd") || !strcmp(d->driver, "scsi-cd"))
				k->cdrom = true;
			struct node *top = node_find(nodes, nn, d->drive);
			if (top)
				disk_from_nodes(k, nodes, nn, top, d->write_cache);
			if (!top && strncmp(d->driver, "vhost-user", 10) != 0 && !d->drive[0])
				continue; /* e.g. an empty CD-ROM drive */
			out->ndisks++;
		} else if (is_nic_model(d->driver)) {
			struct vm_nic *n = NULL;
			for (unsigned k = 0; k < out->nnics; k++)
				if (d->netdev[0] && !strcmp(out->nics[k].id, d->netdev))
					n = &out->nics[k];
			if (!n && out->nnics < VMCONF_MAX_NICS) {
				n = &out->nics[out->nnics++];
				n->vhost = -1;
				str_copy(n->id, sizeof(n->id), d->netdev);
			}
			if (n)
				str_copy(n->model, sizeof(n->model), d->driver);
		}
	}
	/* drives with their own interface (if=virtio, if=ide by default) */
	for (unsigned i = 0; i < nn && out->ndisks < VMCONF_MAX_DISKS; i++) {
		struct node *n = &nodes[i];
		if (!n->is_drive || n->used || !strcmp(n->iface, "none") || !strcmp(n->iface, "pflash") ||
		    !strcmp(n->iface, "mtd"))
			continue;
		if (!n->filename[0] && strcmp(n->media, "cdrom") != 0)
			continue;
		struct vm_disk *k = &out->disks[out->ndisks++];
		const char *iface = n->iface[0] ? n->iface : q35 ? "sata" : "ide";
		str_copy(k->bus, sizeof(k->bus), iface);
		snprintf(k->model, sizeof(k->model), "%s",
			 !strcmp(iface, "virtio") ? "virtio-blk" : !strcmp(iface, "scsi") ? "scsi-hd" : "ide-hd");
		str_copy(k->id, sizeof(k->id), n->name);
		disk_from_nodes(k, nodes, nn, n, -1);
	}
	/* old style -net nic,model=X ... -net tap: pair them in order */
	for (unsigned i = 0, k = 0; i < npn; i++) {
		while (k < out->nnics && out->nics[k].model[0])
			k++;
		if (k < out->nnics)
			str_copy(out->nics[k].model, sizeof(out->nics[k].model), pn[i].model);
		else if (out->nnics < VMCONF_MAX_NICS) {
			struct vm_nic *n = &out->nics[out->nnics++];
			n->vhost = -1;
			str_copy(n->model, sizeof(n->model), pn[i].model);
		}
	}
	/* a NIC model for netdevs no device used stays "" (an unused backend) */
	/* QEMU's defaults, for what the command line does not say (not for a rejected value) */
	if (!out->vcpus && !smp_given)
		out->vcpus = 1;
	if (!out->mem_mib && !m_given)
		out->mem_mib = 128;
	free(nodes);
	free(pn);
	free(devs);
	return 0;
}
