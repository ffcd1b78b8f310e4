/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * libvirt domain XML into a struct vmconf, with libxml2.  Reads what the
 * audit needs: vCPUs and topology, memory, CPU mode, guest NUMA cells, huge
 * page backing, <cputune> pinning, <numatune>, iothreads, disks (driver type,
 * cache, io, queues, target bus) and interfaces (model, vhost, queues, tap).
 * A status XML (<domstatus pid=...> around the <domain>, libvirt's
 * /run/libvirt/qemu/NAME.xml) also gives the QEMU PID and the vCPU TIDs.
 *
 * Untrusted input: no network, no entity substitution, no DTD loading.
 * Built without libxml2 (the static binary), every call returns -ENOTSUP.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../parse/vmconf.h"
#include "../parse/stackparse.h"

#ifdef HQ_WITH_LIBXML2
#include <libxml/parser.h>
#include <libxml/tree.h>

bool libvirt_xml_available(void)
{
	return true;
}

static bool is(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static const xmlNode *child(const xmlNode *n, const char *name)
{
	for (const xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (is(c, name))
			return c;
	return NULL;
}

/* attribute into out ("" if absent) */
static bool attr(const xmlNode *n, const char *name, char *out, size_t cap)
{
	out[0] = '\0';
	if (!n)
		return false;
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	if (!v)
		return false;
	snprintf(out, cap, "%s", (const char *)v);
	xmlFree(v);
	return true;
}

static bool text(const xmlNode *n, char *out, size_t cap)
{
	out[0] = '\0';
	if (!n)
		return false;
	xmlChar *v = xmlNodeGetContent(n);
	if (!v)
		return false;
	const char *s = (const char *)v;
	while (*s == ' ' || *s == '\n' || *s == '\t')
		s++;
	snprintf(out, cap, "%s", s);
	size_t l = strlen(out);
	while (l && (out[l - 1] == ' ' || out[l - 1] == '\n' || out[l - 1] == '\t'))
		out[--l] = '\0';
	xmlFree(v);
	return true;
}

/* A whole number, lo..hi, as the command line's; a bad one is recorded in c->rejected and gives 0. */
static unsigned long long num(struct vmconf *c, const char *what, const char *s, uint64_t lo, uint64_t hi)
{
	uint64_t v;
	return vmconf_uint(c, what, s, lo, hi, &v) ? v : 0;
}

/* <memory unit='KiB'>N</memory> (KiB when no unit, as libvirt reads it) in MiB; 0 if absent or rejected */
static uint64_t mem_mib(const xmlNode *n, struct vmconf *c)
{
	char t[64], u[16], both[96];
	if (!text(n, t, sizeof(t)))
		return 0;
	attr(n, "unit", u, sizeof(u));
	snprintf(both, sizeof(both), "%s%s", t, u);
	uint64_t mib;
	int r = conf_size_mib(both, "KiB", false, true, &mib);
	if (r == 0 && (strspn(t, "0123456789") == strlen(t)))
		return mib;
	vmconf_reject(c, "<%s unit='%s'> '%.40s' is %s", (const char *)n->name, u[0] ? u : "KiB", t,
		      r == -ERANGE ? "outside 1 MiB to 1 PiB" : "not a whole number of a known unit");
	return 0;
}

static void disk(const xmlNode *n, struct vmconf *c)
{
	if (c->ndisks >= VMCONF_MAX_DISKS)
		return;
	struct vm_disk *d = &c->disks[c->ndisks];
	memset(d, 0, sizeof(*d));
	char dev[16];
	attr(n, "device", dev, sizeof(dev));
	d->cdrom = !strcmp(dev, "cdrom") || !strcmp(dev, "floppy");
	const xmlNode *drv = child(n, "driver");
	attr(drv, "type", d->format, sizeof(d->format));
	if (!attr(drv, "cache", d->cache, sizeof(d->cache)))
		snprintf(d->cache, sizeof(d->cache), "writeback"); /* QEMU's default */
	if (!attr(drv, "io", d->aio, sizeof(d->aio)))
		snprintf(d->aio, sizeof(d->aio), "threads");
	char q[32];
	if (attr(drv, "queues", q, sizeof(q)))
		d->num_queues = (int)num(c, "<disk><driver queues>", q, 1, VMCONF_MAX_QUEUES);
	const xmlNode *src = child(n, "source");
	if (!attr(src, "file", d->file, sizeof(d->file)) && !attr(src, "dev", d->file, sizeof(d->file)))
		attr(src, "name", d->file, sizeof(d->file));
	const xmlNode *tgt = child(n, "target");
	attr(tgt, "dev", d->id, sizeof(d->id));
	attr(tgt, "bus", d->bus, sizeof(d->bus));
	if (!strcmp(d->bus, "virtio"))
		snprintf(d->model, sizeof(d->model), "virtio-blk");
	else if (!strcmp(d->bus, "scsi"))
		snprintf(d->model, sizeof(d->model), "scsi-hd"); /* the controller model decides virtio-scsi */
	else
		str_copy(d->model, sizeof(d->model), d->bus);
	c->ndisks++;
}

static void iface(const xmlNode *n, struct vmconf *c)
{
	if (c->nnics >= VMCONF_MAX_NICS)
		return;
	struct vm_nic *i = &c->nics[c->nnics];
	memset(i, 0, sizeof(*i));
	i->vhost = -1;
	attr(n, "type", i->backend, sizeof(i->backend));
	if (!strcmp(i->backend, "vhostuser"))
		snprintf(i->backend, sizeof(i->backend), "vhost-user");
	if (!attr(child(n, "model"), "type", i->model, sizeof(i->model)))
		snprintf(i->model, sizeof(i->model), "rtl8139"); /* libvirt's QEMU default on x86 */
	const xmlNode *drv = child(n, "driver");
	char v[32];
	if (attr(drv, "name", v, sizeof(v)))
		i->vhost = !strcmp(v, "vhost");
	if (attr(drv, "queues", v, sizeof(v)))
		i->queues = (int)num(c, "<interface><driver queues>", v, 1, VMCONF_MAX_QUEUES);
	attr(child(n, "target"), "dev", i->ifname, sizeof(i->ifname));
	attr(child(n, "alias"), "name", i->id, sizeof(i->id));
	c->nnics++;
}

static void domain(const xmlNode *dom, struct vmconf *c)
{
	char v[128];
	attr(dom, "type", c->accel, sizeof(c->accel));
	text(child(dom, "name"), c->name, sizeof(c->name));
	if (text(child(dom, "uuid"), v, sizeof(v)))
		uuid_canon(v, strlen(v), c->uuid);
	/* <os><cmdline> of a direct kernel boot may hand the guest its machine-id */
	char cl[4096];
	if (text(child(child(dom, "os"), "cmdline"), cl, sizeof(cl)))
		kernel_cmdline_machine_id(cl, strlen(cl), c->machine_id);
	c->mem_mib = mem_mib(child(dom, "memory"), c);
	const xmlNode *vc = child(dom, "vcpu");
	if (text(vc, v, sizeof(v)))
		c->max_vcpus = (unsigned)num(c, "<vcpu>", v, 1, VMCONF_MAX_VCPUS);
	c->vcpus = c->max_vcpus;
	if (attr(vc, "current", v, sizeof(v))) {
		c->vcpus = (unsigned)num(c, "<vcpu current>", v, 1, VMCONF_MAX_VCPUS);
		if (c->max_vcpus && c->vcpus > c->max_vcpus) {
			vmconf_reject(c, "<vcpu current> %u is more than <vcpu> %u", c->vcpus, c->max_vcpus);
			c->vcpus = 0;
		}
	}
	const xmlNode *cpu = child(dom, "cpu");
	if (cpu) {
		char mode[32];
		attr(cpu, "mode", mode, sizeof(mode));
		if (!strcmp(mode, "host-passthrough") || !strcmp(mode, "host-model") || !strcmp(mode, "maximum"))
			str_copy(c->cpu_model, sizeof(c->cpu_model), mode);
		else if (text(child(cpu, "model"), v, sizeof(v)) && v[0])
			str_copy(c->cpu_model, sizeof(c->cpu_model), v);
		const xmlNode *topo = child(cpu, "topology");
		if (attr(topo, "sockets", v, sizeof(v)))
			c->sockets = (unsigned)num(c, "<topology sockets>", v, 1, VMCONF_MAX_SOCKETS);
		if (attr(topo, "cores", v, sizeof(v)))
			c->cores = (unsigned)num(c, "<topology cores>", v, 1, VMCONF_MAX_CORES);
		if (attr(topo, "threads", v, sizeof(v)))
			c->threads = (unsigned)num(c, "<topology threads>", v, 1, VMCONF_MAX_THREADS);
		for (const xmlNode *x = child(child(cpu, "numa"), "cell"); x; x = x->next)
			if (is(x, "cell"))
				c->numa_nodes++;
	}
	const xmlNode *mb = child(dom, "memoryBacking");
	if (child(mb, "hugepages"))
		c->hugepages = true;
	const xmlNode *ct = child(dom, "cputune");
	c->vcpupin = child(ct, "vcpupin") != NULL;
	c->emulatorpin = child(ct, "emulatorpin") != NULL;
	const xmlNode *nt = child(child(dom, "numatune"), "memory");
	if (nt) {
		if (!attr(nt, "mode", c->numatune_mode, sizeof(c->numatune_mode)))
			snprintf(c->numatune_mode, sizeof(c->numatune_mode), "strict");
		attr(nt, "nodeset", c->numatune_nodeset, sizeof(c->numatune_nodeset));
	}
	if (text(child(dom, "iothreads"), v, sizeof(v)))
		c->iothreads = (unsigned)num(c, "<iothreads>", v, 0, VMCONF_MAX_IOTHREADS);
	for (const xmlNode *d = child(child(dom, "devices"), "disk"); d; d = d->next) {
		if (is(d, "disk"))
			disk(d, c);
		else if (is(d, "interface"))
			iface(d, c);
	}
	/* interfaces before the first disk */
	for (const xmlNode *d = child(dom, "devices") ? child(dom, "devices")->children : NULL; d; d = d->next) {
		if (is(d, "disk"))
			break;
		if (is(d, "interface"))
			iface(d, c);
	}
	/* virtio-scsi controllers make scsi disks paravirtual */
	bool vscsi = false;
	for (const xmlNode *d = child(dom, "devices") ? child(dom, "devices")->children : NULL; d; d = d->next) {
		char t[32], m[32];
		if (is(d, "controller") && attr(d, "type", t, sizeof(t)) && !strcmp(t, "scsi") &&
		    attr(d, "model", m, sizeof(m)) && !strcmp(m, "virtio-scsi"))
			vscsi = true;
	}
	for (unsigned i = 0; vscsi && i < c->ndisks; i++)
		if (!strcmp(c->disks[i].bus, "scsi"))
			snprintf(c->disks[i].model, sizeof(c->disks[i].model), "virtio-scsi");
	c->debug_threads = true; /* libvirt always starts QEMU with debug-threads=on */
}

int libvirt_xml_parse(const char *buf, size_t len, struct vmconf *out, struct libvirt_status *st, const char **why)
{
	memset(out, 0, sizeof(*out));
	if (st)
		memset(st, 0, sizeof(*st));
	snprintf(out->source, sizeof(out->source), "libvirt");
	*why = NULL;
	if (len > (64u << 20) || len > 0x7fffffff) {
		*why = "XML larger than 64 MiB";
		return -EINVAL;
	}
	xmlDoc *doc = xmlReadMemory(buf, (int)len, "domain.xml", NULL,
				    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	if (!doc) {
		*why = "not well-formed XML";
		return -EINVAL;
	}
	const xmlNode *root = xmlDocGetRootElement(doc);
	const xmlNode *dom = NULL;
	if (is(root, "domain")) {
		dom = root;
	} else if (is(root, "domstatus")) {
		dom = child(root, "domain");
		char v[32];
		if (st && attr(root, "pid", v, sizeof(v)))
			st->pid = (int)num(out, "<domstatus pid>", v, 1, VMCONF_MAX_PID);
		for (const xmlNode *x = child(child(root, "vcpus"), "vcpu"); st && x; x = x->next) {
			if (!is(x, "vcpu"))
				continue;
			unsigned id = st->nvcpu_tids;
			uint64_t x64;
			if (attr(x, "id", v, sizeof(v)))
				id = conf_uint(v, 0, VMCONF_MAX_VCPUS - 1, &x64) == 0 ? (unsigned)x64 : UINT32_MAX;
			if (id >= sizeof(st->vcpu_tids) / sizeof(st->vcpu_tids[0]) || !attr(x, "pid", v, sizeof(v)))
				continue;
			st->vcpu_tids[id] = (int)num(out, "<vcpu pid>", v, 1, VMCONF_MAX_PID);
			if (id + 1 > st->nvcpu_tids)
				st->nvcpu_tids = id + 1;
		}
	}
	if (!dom) {
		xmlFreeDoc(doc);
		*why = "no <domain> element";
		return -EINVAL;
	}
	domain(dom, out);
	xmlFreeDoc(doc);
	return 0;
}

#else /* !HQ_WITH_LIBXML2 */

bool libvirt_xml_available(void)
{
	return false;
}

int libvirt_xml_parse(const char *buf, size_t len, struct vmconf *out, struct libvirt_status *st, const char **why)
{
	(void)buf;
	(void)len;
	memset(out, 0, sizeof(*out));
	if (st)
		memset(st, 0, sizeof(*st));
	*why = "built without libxml2 (the static binary): libvirt domain XML is not read; "
	       "use the dynamic build, or audit the running QEMU command lines instead";
	return -ENOTSUP;
}

#endif
