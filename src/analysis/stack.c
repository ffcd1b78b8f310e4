/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "stack.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/paths.h"
#include "../core/util.h"

/* Exits cost 0.1-2 us on a first-level guest of current hardware; an L2 exit
 * is handled by L0 and reflected to L1's hypervisor, 10x that or more. */
#define EXIT_L1_MAX_NS 2500
#define EXIT_NESTED_MIN_NS 6000

/* ---- small helpers ---- */

static void fact(struct sfact *f, bool known, const char *confidence, const char *source, const char *meaning,
		 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void fact(struct sfact *f, bool known, const char *confidence, const char *source, const char *meaning,
		 const char *fmt, ...)
{
	f->known = known;
	f->confidence = confidence;
	snprintf(f->source, sizeof(f->source), "%s", source ? source : "");
	snprintf(f->meaning, sizeof(f->meaning), "%s", meaning ? meaning : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->value, sizeof(f->value), fmt, ap);
	va_end(ap);
}

static void unknown(struct sfact *f, const char *source, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void unknown(struct sfact *f, const char *source, const char *fmt, ...)
{
	f->known = false;
	f->confidence = NULL;
	snprintf(f->value, sizeof(f->value), "unknown");
	snprintf(f->source, sizeof(f->source), "%s", source ? source : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->meaning, sizeof(f->meaning), fmt, ap);
	va_end(ap);
}

/* First line of a static file, printable and trimmed; "" when absent. */
static void sline(const struct sample *st, const char *path, char *dst, size_t n)
{
	dst[0] = '\0';
	const struct sfile *f = st ? sample_find(st, path) : NULL;
	if (!f)
		return;
	size_t k = 0;
	for (size_t i = 0; i < f->len && f->data[i] != '\n' && k + 1 < n; i++)
		dst[k++] = (f->data[i] >= 0x20 && f->data[i] < 0x7f) ? f->data[i] : '?';
	while (k && dst[k - 1] == ' ')
		k--;
	dst[k] = '\0';
}

static json_t *load_json(const struct sample *st, const char *path)
{
	const struct sfile *f = st ? sample_find(st, path) : NULL;
	if (!f)
		return NULL;
	json_t *j = json_loadb(f->data, f->len, JSON_REJECT_DUPLICATES, NULL);
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static const char *jget_str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* A word in the kernel command line ("swiotlb=force", "mitigations=off"): its value after '=', or NULL. */
static const char *cmdline_value(const char *cmdline, const char *key, char *buf, size_t n)
{
	size_t kl = strlen(key);
	for (const char *p = cmdline; p && *p;) {
		while (*p == ' ')
			p++;
		const char *e = strchr(p, ' ');
		size_t wl = e ? (size_t)(e - p) : strlen(p);
		if (wl > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			size_t vl = wl - kl - 1;
			if (vl >= n)
				vl = n - 1;
			memcpy(buf, p + kl + 1, vl);
			buf[vl] = '\0';
			return buf;
		}
		if (strcmp(p, "--") == 0 || (wl == 2 && strncmp(p, "--", 2) == 0))
			break; /* the rest is init's */
		p = e;
	}
	return NULL;
}

/* ---- hypervisor, platform, nesting ---- */

static void build_hypervisor(const struct sample *st, const struct identity *id, struct stack *s)
{
	char xen[16];
	sline(st, "sys/hypervisor/type", xen, sizeof(xen));
	const char *hv = identity_hv_name(id);
	const char *sig = id->hv_sig_inner[0] ? id->hv_sig_inner : id->hv_sig;
	s->guest = hv || strcmp(xen, "xen") == 0 || id->hv_bit;
	if (!id->known && !xen[0]) {
		unknown(&s->hypervisor, "CPUID (not recorded)", "the run recorded no CPUID identity (.hiddenq/identity.json)");
		return;
	}
	char src[192];
	if (hv) {
		snprintf(src, sizeof(src), "CPUID 0x%x signature \"%s\"%s", id->hv_sig_inner[0] ? id->hv_base + 0x100 : id->hv_base,
			 sig, id->hv_sig_inner[0] ? " (under a Hyper-V-compatible signature)" : "");
		const char *m;
		if (id->has_kvm_features)
			m = id->kvm_steal_bit ? "KVM reports steal time: the host's run queue shows in /proc/stat steal"
					      : "KVM without the steal-time feature: the time the host takes is invisible here";
		else if (!strcmp(hv, "QEMU TCG"))
			m = "QEMU's software emulation: no steal, and every timing is the emulator's, not hardware's";
		else if (!strcmp(hv, "Xen"))
			m = "Xen reports steal from the vCPU's runstate";
		else if (!strcmp(hv, "VMware"))
			m = "VMware reports steal only with stealclock enabled in the VM's configuration";
		else if (!strncmp(hv, "Hyper-V", 7))
			m = "Hyper-V reports no steal to Linux guests: the host's run queue is invisible here";
		else
			m = "";
		fact(&s->hypervisor, true, NULL, src, m, "%s", hv);
	} else if (!strcmp(xen, "xen")) {
		fact(&s->hypervisor, true, NULL, "sys/hypervisor/type", "Xen reports steal from the vCPU's runstate", "Xen");
	} else if (id->cpuid_available && !id->hv_bit) {
		fact(&s->hypervisor, true, "medium", "CPUID.1:ECX bit 31 clear",
		     "no hypervisor announces itself: bare metal (a hypervisor can hide, but rarely does)", "none (bare metal)");
	} else if (id->hv_bit) {
		unknown(&s->hypervisor, "CPUID.1:ECX bit 31", "the hypervisor bit is set but no signature was found");
	} else {
		unknown(&s->hypervisor, "CPUID", "this CPU has no CPUID (not x86) and no sys/hypervisor");
	}
}

static void build_platform(const struct sample *st, struct stack *s)
{
	char ven[96], prod[128], bios[96], tag[96];
	sline(st, "sys/class/dmi/id/sys_vendor", ven, sizeof(ven));
	sline(st, "sys/class/dmi/id/product_name", prod, sizeof(prod));
	sline(st, "sys/class/dmi/id/bios_vendor", bios, sizeof(bios));
	sline(st, "sys/class/dmi/id/chassis_asset_tag", tag, sizeof(tag));
	if (!ven[0] && !prod[0]) {
		if (s->guest)
			unknown(&s->platform, "DMI (sys/class/dmi/id)",
				"no DMI tables: Firecracker and other microVMs give none, so neither the cloud nor the VMM "
				"can be named from inside");
		else
			unknown(&s->platform, "DMI (sys/class/dmi/id)", "no DMI tables were readable");
		return;
	}
	const char *m = "";
	if (!strcmp(tag, "7783-7084-3265-9085-8269-3286-77"))
		m = "Microsoft Azure (its chassis asset tag)";
	else if (strcasestr(ven, "Amazon") || strcasestr(prod, "EC2"))
		m = strstr(prod, ".metal") ? "Amazon EC2 bare-metal instance" : "Amazon EC2";
	else if (strcasestr(ven, "Google") || strcasestr(prod, "Google Compute Engine"))
		m = "Google Compute Engine";
	else if (strcasestr(ven, "QEMU") || strcasestr(bios, "SeaBIOS"))
		m = "a QEMU machine (KVM or TCG: the hypervisor fact says which)";
	else if (strcasestr(ven, "Cloud Hypervisor"))
		m = "Cloud Hypervisor";
	else if (strcasestr(ven, "VMware"))
		m = "VMware";
	else if (strcasestr(ven, "Microsoft"))
		m = "Hyper-V";
	else if (strcasestr(prod, "OpenStack") || strcasestr(ven, "OpenStack"))
		m = "OpenStack Nova";
	else if (strcasestr(ven, "Xen"))
		m = "Xen";
	fact(&s->platform, true, NULL, "DMI sys_vendor, product_name", m, "%s%s%s", ven, ven[0] && prod[0] ? " " : "",
	     prod);
}

static void build_nesting(const struct sample *st, const struct identity *id, struct stack *s)
{
	(void)st;
	const char *hv = identity_hv_name(id);
	if (!s->hypervisor.known) {
		unknown(&s->nesting, "CPUID", "the hypervisor is not known");
	} else if (!s->guest) {
		fact(&s->nesting, true, "medium", "CPUID.1:ECX bit 31 clear",
		     "no hypervisor below: exits, steal and the host's queues do not apply", "L0 (bare metal)");
	} else if (hv && !strcmp(hv, "QEMU TCG")) {
		fact(&s->nesting, true, "high", "CPUID signature TCGTCGTCGTCG",
		     "software emulation: no hardware virtualization, so no VM exits and no nesting in the hardware "
		     "sense; QEMU's own thread is the vCPU, and whatever runs QEMU adds its layers below",
		     "emulated (QEMU TCG)");
	} else if (id->have_hyperv_hints && (id->hyperv_hints_eax & (1u << 12))) {
		fact(&s->nesting, true, "high", "CPUID Hyper-V hints (0x40000004 EAX bit 12)",
		     "Hyper-V says this guest runs nested: every exit goes to L0 and is reflected to the L1 "
		     "hypervisor, several times the cost of a first-level exit, and L1's own steal adds to this "
		     "guest's",
		     "nested: L2 (under Hyper-V)");
	} else if (!id->have_stack_cpuid || !id->cpuid_exit_ns) {
		unknown(&s->nesting, "CPUID exit cost (not recorded)",
			"this run did not time a VM exit (a bundle from before hiddenq did), and no hypervisor says "
			"whether it is nested");
	} else {
		/* the figure itself varies from run to run: the source names its range, topo shows it */
		s->exit_ns = id->cpuid_exit_ns;
		const char *src = id->cpuid_exit_ns >= EXIT_NESTED_MIN_NS ? "CPUID exit cost (6 µs or more)"
				  : id->cpuid_exit_ns <= EXIT_L1_MAX_NS   ? "CPUID exit cost (2.5 µs or less)"
									  : "CPUID exit cost (2.5 to 6 µs)";
		if (id->cpuid_exit_ns >= EXIT_NESTED_MIN_NS)
			fact(&s->nesting, true, "medium", src,
			     "an exit costs what a nested guest's does (first-level guests take 0.1-2 µs): each exit goes "
			     "to L0 and is reflected to the L1 hypervisor, so timer, IPI, halt and IO exits cost several "
			     "times more, and the L1 host's own steal is added to this guest's",
			     "nested: L2 or deeper");
		else if (id->cpuid_exit_ns <= EXIT_L1_MAX_NS)
			fact(&s->nesting, true, "medium", src,
			     "an exit costs what a first-level guest's does; a guest cannot prove it is not nested, but "
			     "nothing here says so",
			     "L1");
		else
			fact(&s->nesting, true, "low", src,
			     "an exit costs more than a first-level guest's and less than a typical nested one: a slow "
			     "or busy host, or nesting",
			     "L1 or L2 (unclear)");
	}
	if (id->have_stack_cpuid && s->guest && (id->vmx || id->svm))
		fact(&s->nested_capable, true, NULL, id->vmx ? "CPUID.1:ECX bit 5 (VMX)" : "CPUID 0x80000001:ECX bit 2 (SVM)",
		     "the host offers hardware virtualization to this guest: it can run VMs of its own (nested), "
		     "whose exits then pass through this guest's hypervisor too",
		     "yes");
	else if (id->have_stack_cpuid && s->guest)
		fact(&s->nested_capable, true, NULL, "CPUID (no VMX or SVM)", "this guest cannot run hardware-assisted VMs",
		     "no");
	else
		unknown(&s->nested_capable, "CPUID", "%s", s->guest ? "not recorded" : "not a guest");
}

/* ---- container ---- */

static void build_container(const struct sample *st, const struct identity *id, const json_t *sj, struct stack *s)
{
	char mk[200] = "", ctr[64];
	size_t o = 0;
	bool strong = false;
	for (unsigned i = 0; i < id->nmarkers && o + 50 < sizeof(mk); i++) {
		o += (size_t)snprintf(mk + o, sizeof(mk) - o, "%s/%s", i ? ", " : "", id->markers[i]);
		if (strcmp(id->markers[i], ".dockerenv") != 0)
			strong = true;
	}
	sline(st, "run/systemd/container", ctr, sizeof(ctr));
	const char *fs = jget_str(sj, "root_fstype");
	bool overlay = !strcmp(fs, "overlay") || !strcmp(fs, "aufs") || !strcmp(fs, "fuse-overlayfs");
	if (!id->known && !sj) {
		unknown(&s->container, "marker files", "the run recorded no identity");
		return;
	}
	if (!mk[0] && !overlay && !ctr[0]) {
		fact(&s->container, true, "medium", "marker files (/.dockerenv, /run/.containerenv, ...), root filesystem type",
		     "no container markers: processes here run directly in the machine", "none seen");
		return;
	}
	char src[320]; /* room for every part: markers (200), the fs name, the fixed words */
	snprintf(src, sizeof(src), "%s%s%s%s%s%s", mk[0] ? "markers " : "", mk, overlay ? (mk[0] ? ", " : "") : "",
		 overlay ? "root filesystem " : "", overlay ? fs : "", ctr[0] ? ", run/systemd/container" : "");
	const char *conf = strong || ctr[0] ? "high" : overlay ? "medium" : "low";
	const char *both = s->guest ? "a container inside a VM: both layers apply. The container's cgroup limits "
				      "(CPU quota, memory) queue inside the guest, the hypervisor's queues under it; "
				      "steal and throttling look alike from the application"
				    : "a container: its cgroup limits (CPU quota, memory) are queues of their own";
	char m[640];
	snprintf(m, sizeof(m), "%s%s", both,
		 !strong && !ctr[0] && !overlay ? " (only /.dockerenv: such markers can be left over in VM images)" : "");
	fact(&s->container, true, conf, src, m, "%s%s%s", ctr[0] ? ctr : "container", s->guest ? " inside a VM" : "", "");
}

/* ---- devices ---- */

/* Fill a dev_desc from a stack.json entry (or, for bundles without one, devices.json's driver). */
static void dev_desc_from(const json_t *e, const json_t *pci, const json_t *hosts, bool guest, struct dev_desc *d,
			  uint32_t *ven, uint32_t *dev)
{
	memset(d, 0, sizeof(*d));
	d->guest = guest;
	const json_t *chain = json_object_get(e, "chain");
	size_t i;
	const json_t *c;
	json_array_foreach(chain, i, c) {
		if (d->n >= 8)
			break;
		d->drivers[d->n] = jget_str(c, "driver");
		d->subsystems[d->n] = jget_str(c, "subsystem");
		d->n++;
	}
	if (!json_is_array(chain) && json_is_string(json_object_get(e, "driver"))) {
		d->drivers[0] = jget_str(e, "driver");
		d->n = 1;
	}
	const char *addr = jget_str(e, "pci");
	const json_t *p = addr[0] ? json_object_get(pci, addr) : NULL;
	if (p) {
		sysfs_hex_id(jget_str(p, "vendor"), ven);
		sysfs_hex_id(jget_str(p, "device"), dev);
		d->pci_vendor = *ven;
		d->pci_device = *dev;
		d->virtfn = json_is_true(json_object_get(p, "virtfn"));
	}
	const char *host = jget_str(e, "scsi_host");
	if (host[0])
		d->scsi_host_driver = jget_str(hosts, host);
	d->has_lower = json_array_size(json_object_get(e, "lower")) > 0;
}

static void chain_text(const struct dev_desc *d, char *buf, size_t n)
{
	size_t o = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < d->n && o + 2 < n; i++) {
		if (!d->drivers[i][0])
			continue;
		o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? " < " : "", d->drivers[i]);
	}
}

static void build_devices(const struct sample *st, const json_t *sj, struct stack *s)
{
	const json_t *pci = json_object_get(sj, "pci"), *hosts = json_object_get(sj, "scsi_hosts");
	json_t *old = NULL;
	const json_t *net = json_object_get(sj, "net"), *blk = json_object_get(sj, "block");
	const char *how = "sysfs driver chain";
	if (!sj) { /* a bundle from before stack.json: the drivers iosrc recorded */
		old = load_json(st, DEVICES_PATH);
		net = json_object_get(old, "net");
		blk = json_object_get(old, "block");
		how = "driver (devices.json)";
	}
	for (int pass = 0; pass < 2; pass++) {
		const json_t *set = pass ? blk : net;
		const char *k;
		json_t *e;
		json_object_foreach((json_t *)set, k, e) {
			unsigned *cnt = pass ? &s->ndisks : &s->nnics;
			struct stack_dev *sd = pass ? &s->disks[*cnt] : &s->nics[*cnt];
			if (*cnt >= STACK_MAX_DEVS)
				break;
			struct dev_desc d;
			uint32_t ven = 0, dev = 0;
			dev_desc_from(e, pci, hosts, s->guest, &d, &ven, &dev);
			if (!d.n || (d.n == 1 && !d.drivers[0][0]))
				continue; /* virtual (no device under it) */
			if (pass) {
				char mrel[160], model[96];
				snprintf(mrel, sizeof(mrel), "sys/block/%s/device/model", k);
				sline(st, mrel, model, sizeof(model));
				d.model = model;
				struct dev_kind dk;
				disk_kind(&d, &dk);
				snprintf(sd->name, sizeof(sd->name), "%s", k);
				snprintf(sd->kind, sizeof(sd->kind), "%s", dk.kind);
				char chain[160], src[192];
				chain_text(&d, chain, sizeof(chain));
				snprintf(src, sizeof(src), "%s%s%s%s", how, chain[0] ? " " : "", chain, ven ? " (PCI)" : "");
				if (dk.known)
					fact(&sd->f, true, NULL, src, dk.meaning, "%s", dk.name);
				else
					unknown(&sd->f, src, "%s", dk.meaning);
			} else {
				struct dev_kind dk;
				nic_kind(&d, &dk);
				snprintf(sd->name, sizeof(sd->name), "%s", k);
				snprintf(sd->kind, sizeof(sd->kind), "%s", dk.kind);
				char chain[160], src[192], m[640];
				chain_text(&d, chain, sizeof(chain));
				snprintf(src, sizeof(src), "%s%s%s", how, chain[0] ? " " : "", chain);
				snprintf(m, sizeof(m), "%s%s", dk.meaning,
					 d.has_lower ? "; another interface is stacked under it (an accelerated-networking "
						       "VF or a bond's members): that one carries the data" : "");
				if (dk.known)
					fact(&sd->f, true, NULL, src, m, "%s", dk.name);
				else
					unknown(&sd->f, src, "%s", dk.meaning);
			}
			(*cnt)++;
		}
	}
	json_decref(old);
}

/* ---- GPUs ---- */

static void build_gpus(const json_t *sj, struct stack *s)
{
	const json_t *pci = json_object_get(sj, "pci");
	if (!sj) {
		unknown(&s->gpu, "PCI (not recorded)", "this run recorded no PCI devices (a bundle from before hiddenq did)");
		return;
	}
	const json_t *nv = json_object_get(sj, "nvidia_smi");
	struct nv_gpu nvg[NV_MAX_GPUS];
	size_t nnv = 0;
	const char *nvout = jget_str(nv, "out");
	if (json_is_true(json_object_get(nv, "ran")) && json_integer_value(json_object_get(nv, "rc")) == 0)
		nnv = nvidia_smi_parse(nvout, strlen(nvout), nvg, NV_MAX_GPUS);
	unsigned compute = 0, unknown_n = 0;
	const char *k;
	json_t *e;
	json_object_foreach((json_t *)pci, k, e) {
		uint32_t cls = 0;
		if (!sysfs_hex_id(jget_str(e, "class"), &cls) || (cls >> 16) != 0x03)
			continue;
		if (s->ngpus >= STACK_MAX_GPUS)
			break;
		struct gpu_desc g = { 0 };
		sysfs_hex_id(jget_str(e, "vendor"), &g.vendor);
		sysfs_hex_id(jget_str(e, "device"), &g.device);
		g.driver = jget_str(e, "driver");
		g.virtfn = json_is_true(json_object_get(e, "virtfn"));
		g.mdev_types = json_is_true(json_object_get(e, "mdev_types"));
		json_int_t nvf = json_integer_value(json_object_get(e, "sriov_numvfs"));
		g.sriov_numvfs = nvf > 0 && nvf < 100000 ? (unsigned)nvf : 0;
		g.guest = s->guest;
		for (size_t i = 0; i < nnv; i++)
			if (nv_bus_id_match(nvg[i].bus_id, k)) {
				g.nv_mode = nvg[i].virt_mode;
				g.nv_mig = nvg[i].mig_mode;
				g.nv_name = nvg[i].name;
			}
		struct gpu_kind gk;
		gpu_kind(&g, &gk);
		struct stack_dev *sd = &s->gpus[s->ngpus++];
		snprintf(sd->name, sizeof(sd->name), "%s", k);
		snprintf(sd->kind, sizeof(sd->kind), "%s", gk.sharing);
		char src[192], m[640];
		snprintf(src, sizeof(src), "%s (PCI %04x:%04x%s%s)", gk.source, g.vendor, g.device, g.driver[0] ? ", driver " : "",
			 g.driver);
		if (!gk.known && g.vendor == 0x10de) {
			const char *why = !json_is_true(json_object_get(nv, "ran")) ? jget_str(nv, "why")
					  : json_integer_value(json_object_get(nv, "rc")) ? "it failed" : "it listed no such GPU";
			snprintf(m, sizeof(m), "%s (nvidia-smi: %s)", gk.meaning, why[0] ? why : "did not run");
		} else {
			snprintf(m, sizeof(m), "%s", gk.meaning);
		}
		if (gk.known)
			fact(&sd->f, true, NULL, src, m, "%s%s%s", gk.name, g.nv_name ? ": " : "", g.nv_name ? g.nv_name : "");
		else
			unknown(&sd->f, src, "%s", m);
		if (gk.compute)
			compute++;
		if (!gk.known)
			unknown_n++;
	}
	if (!compute)
		fact(&s->gpu, true, NULL, "PCI class 0x03 devices",
		     s->ngpus ? "only an emulated display: no GPU queue to share" : "no display or 3D controller on PCI", "none");
	else if (unknown_n)
		unknown(&s->gpu, "PCI class 0x03 devices", "%u GPU(s); how %s shared is not known (see each)", compute,
			compute == 1 ? "it is" : "they are");
	else
		fact(&s->gpu, true, NULL, "PCI class 0x03 devices", "each GPU's sharing mode is listed", "%u GPU%s", compute,
		     compute == 1 ? "" : "s");
}

/* ---- confidential VM, swiotlb ---- */

static bool kmsg_has(const json_t *sj, const char *needle, char *line, size_t n)
{
	const json_t *a = json_object_get(sj, "kmsg");
	size_t i;
	const json_t *v;
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);
		if (s && strstr(s, needle)) {
			if (line)
				snprintf(line, n, "%s", s);
			return true;
		}
	}
	return false;
}

static void build_confidential(const struct sample *st, const struct identity *id, const json_t *sj, struct stack *s)
{
	static const char M_CVM[] =
		"memory is encrypted against the host: every device's DMA goes through bounce buffers (swiotlb), a "
		"copy and a queue of its own on every IO, and exits cost more (the hardware saves and checks state)";
	char line[240], src[192];
	char flags[4096] = "";
	const struct sfile *ci = sample_find(st, "proc/cpuinfo");
	if (ci) {
		const char *fl = strstr(ci->data, "\nflags");
		if (fl) {
			const char *e = strchr(fl + 1, '\n');
			size_t l = e ? (size_t)(e - fl) : strlen(fl);
			snprintf(flags, sizeof(flags), "%.*s ", (int)(l < sizeof(flags) - 2 ? l : sizeof(flags) - 2), fl);
		}
	}
	if (id->have_sev_status && (id->sev_status & 7)) {
		unsigned v = id->sev_status;
		fact(&s->confidential, true, "high", "MSR 0xC0010131 (SEV_STATUS)", M_CVM, "AMD %s",
		     (v & 4) ? "SEV-SNP" : (v & 2) ? "SEV-ES" : "SEV");
		return;
	}
	if (kmsg_has(sj, "Memory Encryption Features active", line, sizeof(line))) {
		const char *what = strstr(line, "SEV-SNP") ? "AMD SEV-SNP" : strstr(line, "SEV-ES") ? "AMD SEV-ES"
				   : strstr(line, "SEV")       ? "AMD SEV" : strstr(line, "TDX") ? "Intel TDX" : "memory encryption";
		snprintf(src, sizeof(src), "kernel log: \"%.150s\"", line);
		fact(&s->confidential, true, "high", src, M_CVM, "%s", what);
		return;
	}
	if (id->tdx_guest || id->tdx_guest_dev || strstr(flags, " tdx_guest ") || kmsg_has(sj, "tdx: Guest detected", NULL, 0)) {
		fact(&s->confidential, true, "high",
		     id->tdx_guest ? "CPUID 0x21 \"IntelTDX\"" : id->tdx_guest_dev ? "/dev/tdx_guest"
		     : strstr(flags, " tdx_guest ") ? "cpuinfo flag tdx_guest" : "kernel log \"tdx: Guest detected\"",
		     M_CVM, "Intel TDX");
		return;
	}
	if (id->sev_guest_dev || strstr(flags, " sev_snp ") || strstr(flags, " sev_es ")) {
		fact(&s->confidential, true, "high", id->sev_guest_dev ? "/dev/sev-guest" : "cpuinfo flags", M_CVM, "AMD %s",
		     id->sev_guest_dev || strstr(flags, " sev_snp ") ? "SEV-SNP" : "SEV-ES");
		return;
	}
	if (id->have_hyperv_isolation && (id->hyperv_isolation_ebx & 0xf)) {
		unsigned t = id->hyperv_isolation_ebx & 0xf;
		fact(&s->confidential, true, "high", "CPUID Hyper-V isolation (0x4000000C EBX)", M_CVM, "Hyper-V isolated VM (%s)",
		     t == 1 ? "VBS" : t == 2 ? "SEV-SNP" : t == 3 ? "TDX" : "other");
		return;
	}
	if (id->cca_dev) {
		fact(&s->confidential, true, "high", "sys/devices/platform/arm-cca-dev", M_CVM, "Arm CCA realm");
		return;
	}
	if (!id->known || !id->have_stack_cpuid) {
		unknown(&s->confidential, "CPUID, /dev, kernel log (not recorded)",
			"this run recorded none of the signs (a bundle from before hiddenq did)");
		return;
	}
	if (id->have_amd_mem_encrypt && (id->amd_mem_encrypt_eax & 2) && s->guest && !id->have_sev_status &&
	    !json_is_array(json_object_get(sj, "kmsg"))) {
		unknown(&s->confidential, "CPUID 0x8000001F",
			"the CPU offers SEV but neither the SEV_STATUS MSR (%s) nor the kernel log (%s) could be read to "
			"tell whether this guest uses it",
			id->sev_status_error[0] ? id->sev_status_error : "not read", jget_str(sj, "kmsg_error"));
		return;
	}
	fact(&s->confidential, true, json_is_array(json_object_get(sj, "kmsg")) ? "high" : "medium",
	     json_is_array(json_object_get(sj, "kmsg")) ? "CPUID, /dev/sev-guest, /dev/tdx_guest, cpuinfo flags, kernel log"
							 : "CPUID, /dev/sev-guest, /dev/tdx_guest, cpuinfo flags (kernel log not readable)",
	     "memory is not encrypted against the host: DMA goes to guest memory directly", "no");
}

static bool read_u64(const struct sample *st, const char *path, uint64_t *v)
{
	char b[32];
	sline(st, path, b, sizeof(b));
	char *end;
	if (!b[0])
		return false;
	unsigned long long x = strtoull(b, &end, 10);
	if (*end)
		return false;
	*v = x;
	return true;
}

static void build_swiotlb(const struct sample *st, const struct identity *id, const json_t *sj, struct stack *s)
{
	char cmd[4096], val[32], line[240];
	sline(st, "proc/cmdline", cmd, sizeof(cmd));
	const char *sw = cmdline_value(cmd, "swiotlb", val, sizeof(val));
	bool cvm = s->confidential.known && strcmp(s->confidential.value, "no") != 0;
	uint64_t nslabs = 0, used = 0, hi = 0;
	bool dbg = read_u64(st, "sys/kernel/debug/swiotlb/io_tlb_nslabs", &nslabs) &&
		   read_u64(st, "sys/kernel/debug/swiotlb/io_tlb_used", &used);
	bool have_hi = read_u64(st, "sys/kernel/debug/swiotlb/io_tlb_used_hiwater", &hi);
	char usage[200] = "";
	if (dbg && nslabs)
		snprintf(usage, sizeof(usage), "; at start %.1f of %.0f MiB in use%s%.1f MiB", (double)used * 2048 / 1048576,
			 (double)nslabs * 2048 / 1048576, have_hi ? ", at most " : "", have_hi ? (double)hi * 2048 / 1048576 : 0);
	else
		snprintf(usage, sizeof(usage), "; its use is unknown: %s",
			 id->swiotlb_debugfs ? "sys/kernel/debug/swiotlb was not readable"
					     : "debugfs is not mounted or not readable (sys/kernel/debug/swiotlb)");
	bool mapped = kmsg_has(sj, "software IO TLB: mapped", line, sizeof(line));
	char m[640];
	if (cvm) {
		snprintf(m, sizeof(m),
			 "every device's DMA is copied through this pool (memory encryption forces it): a full pool makes "
			 "IO wait for a slot%s",
			 usage);
		fact(&s->swiotlb, true, "high", "confidential VM (memory encryption forces bounce buffering)", m,
		     "forced for all DMA");
	} else if (sw && strstr(sw, "force") && !strstr(sw, "noforce")) {
		snprintf(m, sizeof(m), "swiotlb=%s: every DMA is copied through the pool%s", sw, usage);
		fact(&s->swiotlb, true, "high", "kernel command line", m, "forced for all DMA");
	} else if (sw && strstr(sw, "noforce")) {
		snprintf(m, sizeof(m), "swiotlb=%s: no bounce pool for devices that cannot reach all memory%s", sw,
			 dbg ? usage : "");
		fact(&s->swiotlb, true, "high", "kernel command line", m, "off (swiotlb=noforce)");
	} else if (mapped || dbg) {
		snprintf(m, sizeof(m),
			 "a bounce pool exists for devices that cannot reach all memory; virtio and most devices do not "
			 "use it here%s",
			 usage);
		char src[192];
		if (mapped)
			snprintf(src, sizeof(src), "kernel log: \"%.150s\"", line);
		else
			snprintf(src, sizeof(src), "debugfs swiotlb");
		fact(&s->swiotlb, true, "medium", src, m, "present, not forced");
	} else {
		unknown(&s->swiotlb, "kernel log, debugfs", "neither the kernel log nor debugfs was readable%s",
			s->guest ? "" : " (and not a guest)");
	}
}

/* ---- CPU vulnerabilities ---- */

static int cmp_mit(const void *a, const void *b)
{
	return strcmp(((const struct stack_mit *)a)->name, ((const struct stack_mit *)b)->name);
}

static void build_mitigations(const struct sample *st, struct stack *s)
{
	static const char pfx[] = "sys/devices/system/cpu/vulnerabilities/";
	for (size_t i = 0; st && i < st->nfiles && s->nmits < STACK_MAX_MITS; i++) {
		const struct sfile *f = &st->files[i];
		if (strncmp(f->path, pfx, sizeof(pfx) - 1) != 0 || strchr(f->path + sizeof(pfx) - 1, '/'))
			continue;
		struct stack_mit *m = &s->mits[s->nmits++];
		snprintf(m->name, sizeof(m->name), "%s", f->path + sizeof(pfx) - 1);
		size_t k = 0;
		for (size_t j = 0; j < f->len && f->data[j] != '\n' && k + 1 < sizeof(m->line); j++)
			m->line[k++] = (f->data[j] >= 0x20 && f->data[j] < 0x7f) ? f->data[j] : '?';
		m->line[k] = '\0';
		m->cost = mitigation_cost(m->name, f->data, f->len, &m->vulnerable, &m->why);
	}
	qsort(s->mits, s->nmits, sizeof(s->mits[0]), cmp_mit);
	if (!s->nmits) {
		unknown(&s->mitigations, "sys/devices/system/cpu/vulnerabilities", "not readable, or not recorded by this run");
		s->mit_worst = COST_UNKNOWN;
		return;
	}
	enum cost_class worst = COST_NONE;
	char list[400] = "";
	size_t o = 0;
	unsigned vuln = 0, unk = 0;
	for (unsigned i = 0; i < s->nmits; i++) {
		const struct stack_mit *m = &s->mits[i];
		if (m->vulnerable)
			vuln++;
		if (m->cost == COST_UNKNOWN) {
			unk++;
			continue;
		}
		if (m->cost > worst)
			worst = m->cost;
	}
	for (int c = COST_HIGH; c >= COST_MEDIUM; c--)
		for (unsigned i = 0; i < s->nmits; i++)
			if (s->mits[i].cost == (enum cost_class)c && o + 60 < sizeof(list))
				o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s (%s)", o ? ", " : "", s->mits[i].name,
						      cost_class_name(s->mits[i].cost));
	s->mit_worst = worst;
	char cmd[4096], v[96];
	sline(st, "proc/cmdline", cmd, sizeof(cmd));
	const char *mo = cmdline_value(cmd, "mitigations", v, sizeof(v));
	char m[640];
	snprintf(m, sizeof(m), "%s%s%s%u of %u not mitigated%s%s%s%s", list[0] ? "costly in force: " : "", list,
		 list[0] ? "; " : "", vuln, s->nmits, unk ? "; " : "", unk ? "some mitigations not in hiddenq's table" : "",
		 mo ? "; kernel command line mitigations=" : "", mo ? mo : "");
	if (s->guest && strlen(m) + 160 < sizeof(m))
		strcat(m, ". In a guest these are computed from the CPU the host shows it; the host's own (buffer "
			  "clearing and L1D flushes on VM entry, IBPB between VMs) cost this guest too and are not visible here");
	fact(&s->mitigations, true, NULL, "sys/devices/system/cpu/vulnerabilities", m, "cost %s", cost_class_name(worst));
}

/* ---- identifiers ---- */

static void build_ids(const struct sample *st, const struct identity *id, struct stack *s)
{
	const struct sfile *u = sample_find(st, "sys/class/dmi/id/product_uuid");
	const struct sfile *xu = sample_find(st, "sys/hypervisor/uuid");
	char ven[8];
	sline(st, "sys/class/dmi/id/sys_vendor", ven, sizeof(ven));
	if (u && uuid_canon(u->data, u->len, s->uuid_canon))
		fact(&s->uuid, true, NULL, "SMBIOS system UUID (sys/class/dmi/id/product_uuid)",
		     "the UUID the VMM gave this VM (QEMU -uuid, libvirt <uuid>): its host knows the VM by it", "%s",
		     s->uuid_canon);
	else if (xu && uuid_canon(xu->data, xu->len, s->uuid_canon))
		fact(&s->uuid, true, NULL, "sys/hypervisor/uuid (Xen)", "the domain's UUID: its host knows the VM by it", "%s",
		     s->uuid_canon);
	else if (u)
		unknown(&s->uuid, "sys/class/dmi/id/product_uuid",
			"the firmware's UUID is empty or a placeholder (all zeros or all ones)");
	else if (ven[0])
		unknown(&s->uuid, "sys/class/dmi/id/product_uuid",
			"%s", id->known && id->euid != 0 ? "product_uuid is readable by root only: run hiddenq as root"
							  : "the firmware gives no system UUID");
	else
		unknown(&s->uuid, "sys/class/dmi/id/product_uuid",
			"no DMI tables (Firecracker and other microVMs give none): join this guest to its host by "
			"machine-id instead");
	const struct sfile *mi = sample_find(st, "etc/machine-id");
	if (mi && machine_id_canon(mi->data, mi->len, s->machine_id_canon))
		fact(&s->machine_id, true, NULL, "/etc/machine-id",
		     "the host knows it only when it gave it (systemd.machine_id= on the kernel command line, or an SMBIOS "
		     "type 11 credential)",
		     "%s", s->machine_id_canon);
	else
		unknown(&s->machine_id, "/etc/machine-id", "%s",
			mi ? "/etc/machine-id is empty or not 32 hex digits" : "no /etc/machine-id (not systemd, or not recorded)");
}

void stack_ids(const struct sample *statics, const struct identity *id, struct stack_ids *out)
{
	memset(out, 0, sizeof(*out));
	char xen[16];
	sline(statics, "sys/hypervisor/type", xen, sizeof(xen));
	const char *hv = identity_hv_name(id);
	out->guest = hv || !strcmp(xen, "xen") || id->hv_bit;
	out->hypervisor = hv ? hv : !strcmp(xen, "xen") ? "Xen" : "unknown";
	const struct sfile *u = sample_find(statics, "sys/class/dmi/id/product_uuid");
	if (!(u && uuid_canon(u->data, u->len, out->uuid))) {
		const struct sfile *x = sample_find(statics, "sys/hypervisor/uuid");
		if (x)
			uuid_canon(x->data, x->len, out->uuid);
	}
	const struct sfile *m = sample_find(statics, "etc/machine-id");
	if (m)
		machine_id_canon(m->data, m->len, out->machine_id);
}

void stack_build(const struct sample *statics, const struct identity *id, struct stack *st)
{
	memset(st, 0, sizeof(*st));
	json_t *sj = load_json(statics, STACK_PATH);
	build_hypervisor(statics, id, st);
	build_platform(statics, st);
	build_nesting(statics, id, st);
	build_container(statics, id, sj, st);
	build_devices(statics, sj, st);
	build_gpus(sj, st);
	build_confidential(statics, id, sj, st);
	build_swiotlb(statics, id, sj, st);
	build_mitigations(statics, st);
	build_ids(statics, id, st);
	json_decref(sj);
}

/* ---- output ---- */

static json_t *fact_json(const struct sfact *f)
{
	json_t *o = json_object();
	json_object_set_new(o, "value", json_string(f->known ? f->value : "unknown"));
	json_object_set_new(o, "source", json_string(f->source));
	json_object_set_new(o, "confidence", f->confidence ? json_string(f->confidence) : json_null());
	json_object_set_new(o, f->known ? "meaning" : "why_unknown", json_string(f->meaning));
	return o;
}

static json_t *devs_json(const struct stack_dev *d, unsigned n)
{
	json_t *a = json_array();
	for (unsigned i = 0; i < n; i++) {
		json_t *o = fact_json(&d[i].f);
		json_object_set_new(o, "name", json_string(d[i].name));
		json_object_set_new(o, "kind", json_string(d[i].kind));
		json_array_append_new(a, o);
	}
	return a;
}

json_t *stack_json(const struct stack *st)
{
	json_t *o = json_object();
	json_object_set_new(o, "hypervisor", fact_json(&st->hypervisor));
	json_object_set_new(o, "platform", fact_json(&st->platform));
	json_object_set_new(o, "nesting", fact_json(&st->nesting));
	json_object_set_new(o, "nested_virtualization_offered", fact_json(&st->nested_capable));
	json_object_set_new(o, "container", fact_json(&st->container));
	json_object_set_new(o, "nics", devs_json(st->nics, st->nnics));
	json_object_set_new(o, "disks", devs_json(st->disks, st->ndisks));
	json_object_set_new(o, "confidential_vm", fact_json(&st->confidential));
	json_object_set_new(o, "swiotlb", fact_json(&st->swiotlb));
	json_object_set_new(o, "gpu", fact_json(&st->gpu));
	json_object_set_new(o, "gpus", devs_json(st->gpus, st->ngpus));
	json_t *m = fact_json(&st->mitigations);
	json_object_set_new(m, "cost_class", json_string(cost_class_name(st->mit_worst)));
	json_t *ml = json_array();
	for (unsigned i = 0; i < st->nmits; i++) {
		json_t *e = json_object();
		json_object_set_new(e, "name", json_string(st->mits[i].name));
		json_object_set_new(e, "state", json_string(st->mits[i].line));
		json_object_set_new(e, "cost_class", json_string(cost_class_name(st->mits[i].cost)));
		json_object_set_new(e, "vulnerable", json_boolean(st->mits[i].vulnerable));
		json_object_set_new(e, "why", json_string(st->mits[i].why ? st->mits[i].why : ""));
		json_array_append_new(ml, e);
	}
	json_object_set_new(m, "each", ml);
	json_object_set_new(o, "mitigations", m);
	json_object_set_new(o, "system_uuid", fact_json(&st->uuid));
	json_object_set_new(o, "machine_id", fact_json(&st->machine_id));
	return o;
}

void stack_summary(const struct stack *st, char *buf, size_t n)
{
	size_t o = 0;
#define PUT(...)                                                                                                       \
	do {                                                                                                           \
		if (o < n)                                                                                             \
			o += (size_t)snprintf(buf + o, n - o, __VA_ARGS__);                                            \
	} while (0)
	buf[0] = '\0';
	PUT("%s", st->hypervisor.known ? st->hypervisor.value : "hypervisor unknown");
	if (st->guest)
		PUT(", %s%s%s%s", st->nesting.known ? st->nesting.value : "nesting unknown",
		    st->nesting.confidence ? " (" : "", st->nesting.confidence ? st->nesting.confidence : "",
		    st->nesting.confidence ? " confidence)" : "");
	if (st->platform.known)
		PUT(" on %s", st->platform.value);
	if (st->container.known && strcmp(st->container.value, "none seen") != 0)
		PUT(" · %s", st->container.value);
	for (unsigned i = 0; i < st->nnics && i < 4; i++)
		PUT(" · %s %s", st->nics[i].name, st->nics[i].f.known ? st->nics[i].f.value : "unknown NIC");
	for (unsigned i = 0; i < st->ndisks && i < 4; i++)
		PUT(" · %s %s", st->disks[i].name, st->disks[i].f.known ? st->disks[i].f.value : "unknown disk");
	if (st->confidential.known)
		PUT(" · %s", strcmp(st->confidential.value, "no") ? st->confidential.value : "not a confidential VM");
	else
		PUT(" · confidential VM unknown");
	if (st->gpu.known && strcmp(st->gpu.value, "none") != 0)
		for (unsigned i = 0; i < st->ngpus; i++)
			PUT(" · %s", st->gpus[i].f.known ? st->gpus[i].f.value : "GPU sharing unknown");
	PUT(" · mitigations cost %s", cost_class_name(st->mit_worst));
#undef PUT
}
