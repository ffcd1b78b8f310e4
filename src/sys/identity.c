/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/util.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define HAVE_CPUID 1
#endif

#ifdef HAVE_CPUID
static void sig_at(uint32_t leaf, char out[13], uint32_t *max_leaf)
{
	uint32_t a, b, c, d;
	__cpuid(leaf, a, b, c, d);
	memcpy(out, &b, 4);
	memcpy(out + 4, &c, 4);
	memcpy(out + 8, &d, 4);
	out[12] = '\0';
	/* keep it printable for JSON and humans */
	for (int i = 0; i < 12; i++)
		if (out[i] && (out[i] < 0x20 || out[i] > 0x7e))
			out[i] = '?';
	*max_leaf = a;
}
#endif

#ifdef HAVE_CPUID
/* The cheapest instruction that always exits to the hypervisor, timed: the
 * least of 8 rounds of 16, so a round the host preempted does not count
 * (about 2 ms on a nested guest, where one exit takes 13 us). */
static uint64_t cpuid_exit_ns(void)
{
	uint64_t best = UINT64_MAX;
	for (int r = 0; r < 8; r++) {
		struct timespec t0, t1;
		uint32_t a, b, c, d;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int i = 0; i < 16; i++)
			__cpuid_count(0, 0, a, b, c, d);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		(void)a, (void)b, (void)c, (void)d;
		uint64_t ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
		if (ns / 16 < best)
			best = ns / 16;
	}
	return best;
}

/*
 * What the rest of the stack needs from CPUID: the CPU vendor, whether this
 * CPU offers hardware virtualization itself (a guest that can host guests),
 * Hyper-V's nesting hint and isolation type, AMD's memory-encryption leaf,
 * Intel TDX's signature, and what one exit costs.
 */
static void probe_cpuid_stack(struct identity *id)
{
	uint32_t a, b, c, d, maxb, maxx;
	__cpuid(0, maxb, b, c, d);
	memcpy(id->cpu_vendor, &b, 4);
	memcpy(id->cpu_vendor + 4, &d, 4);
	memcpy(id->cpu_vendor + 8, &c, 4);
	id->cpu_vendor[12] = '\0';
	for (int i = 0; i < 12; i++)
		if (id->cpu_vendor[i] && (id->cpu_vendor[i] < 0x20 || id->cpu_vendor[i] > 0x7e))
			id->cpu_vendor[i] = '?';
	__cpuid(1, a, b, c, d);
	id->vmx = (c >> 5) & 1;
	__cpuid(0x80000000, maxx, b, c, d);
	if (maxx >= 0x80000001) {
		__cpuid(0x80000001, a, b, c, d);
		id->svm = (c >> 2) & 1;
	}
	if (maxx >= 0x8000001f && maxx < 0x80010000) {
		__cpuid(0x8000001f, a, b, c, d);
		id->have_amd_mem_encrypt = true;
		id->amd_mem_encrypt_eax = a;
	}
	if (maxb >= 0x21 && maxb < 0x10000) {
		char sig[13];
		__cpuid_count(0x21, 0, a, b, c, d);
		memcpy(sig, &b, 4);	/* "IntelTDX    ": EBX, EDX, ECX */
		memcpy(sig + 4, &d, 4);
		memcpy(sig + 8, &c, 4);
		sig[12] = '\0';
		id->tdx_guest = strcmp(sig, "IntelTDX    ") == 0;
	}
	if (id->hv_bit && strcmp(id->hv_sig, "Microsoft Hv") == 0) {
		uint32_t base = id->hv_base, maxl;
		__cpuid(base, maxl, b, c, d);
		if (maxl >= base + 4) {
			__cpuid(base + 4, a, b, c, d);
			id->have_hyperv_hints = true;
			id->hyperv_hints_eax = a;
		}
		if (maxl >= base + 0xc) {
			__cpuid(base + 0xc, a, b, c, d);
			id->have_hyperv_isolation = true;
			id->hyperv_isolation_ebx = b;
		}
	}
	id->cpuid_exit_ns = cpuid_exit_ns();
}
#endif

static void probe_cpuid(struct identity *id)
{
#ifdef HAVE_CPUID
	uint32_t a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return;
	id->cpuid_available = true;
	id->hv_bit = (c >> 31) & 1;
	if (!id->hv_bit) {
		probe_cpuid_stack(id);
		return;
	}
	/* Scan for the first base leaf with a signature (Linux does the same). */
	for (uint32_t base = 0x40000000; base < 0x40010000; base += 0x100) {
		char sig[13];
		uint32_t maxl;
		sig_at(base, sig, &maxl);
		if (!sig[0] || maxl < base)
			continue;
		memcpy(id->hv_sig, sig, sizeof(sig));
		id->hv_base = base;
		if (strcmp(sig, "Microsoft Hv") == 0 || strcmp(sig, "Linux KVM Hv") == 0) {
			char inner[13];
			uint32_t m2;
			sig_at(base + 0x100, inner, &m2);
			if (inner[0] && m2 >= base + 0x100)
				memcpy(id->hv_sig_inner, inner, sizeof(inner));
		}
		break;
	}
	const char *kvm_sig = id->hv_sig_inner[0] ? id->hv_sig_inner : id->hv_sig;
	if (strncmp(kvm_sig, "KVMKVMKVM", 9) == 0) {
		uint32_t base = id->hv_sig_inner[0] ? id->hv_base + 0x100 : id->hv_base;
		__cpuid(base + 1, a, b, c, d);
		id->has_kvm_features = true;
		id->kvm_features_eax = a;
		id->kvm_steal_bit = (a >> 5) & 1;
		id->kvm_hints_edx = d;
	}
	probe_cpuid_stack(id);
#else
	(void)id;
#endif
}

/*
 * AMD SEV: CPUID 0x8000001F says what the CPU could do; whether this guest's
 * memory is encrypted is MSR 0xC0010131 (SEV_STATUS: bit 0 SEV, 1 SEV-ES,
 * 2 SEV-SNP), readable through the msr driver by root.  Only asked on an
 * AMD CPU that offers SEV; the MSR faults elsewhere.
 */
static void probe_sev_msr(const struct fsroot *root, json_t *o, const struct identity *id)
{
	if (!id->have_amd_mem_encrypt || !(id->amd_mem_encrypt_eax & 2) || strcmp(id->cpu_vendor, "AuthenticAMD") != 0 ||
	    root->confined)
		return;
	int fd = openat(root->dirfd, "dev/cpu/0/msr", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		json_object_set_new(o, "sev_status_error", json_string(errno == ENOENT ? "no /dev/cpu/0/msr (modprobe msr)"
											 : strerror(errno)));
		return;
	}
	uint64_t v;
	if (pread(fd, &v, sizeof(v), 0xc0010131) == (ssize_t)sizeof(v))
		json_object_set_new(o, "sev_status_msr", json_integer((json_int_t)(v & 0xffffffff)));
	else
		json_object_set_new(o, "sev_status_error", json_string(strerror(errno)));
	close(fd);
}

char *identity_probe_json(const struct fsroot *root)
{
	struct identity id;
	memset(&id, 0, sizeof(id));
	probe_cpuid(&id);
	json_t *o = json_object();
	json_object_set_new(o, "cpuid_available", json_boolean(id.cpuid_available));
	json_object_set_new(o, "hypervisor_bit", json_boolean(id.hv_bit));
	json_object_set_new(o, "hypervisor_signature", json_string(id.hv_sig));
	json_object_set_new(o, "hypervisor_signature_inner", json_string(id.hv_sig_inner));
	json_object_set_new(o, "hypervisor_base", json_integer(id.hv_base));
	if (id.has_kvm_features) {
		json_object_set_new(o, "kvm_features_eax", json_integer(id.kvm_features_eax));
		json_object_set_new(o, "kvm_steal_time", json_boolean(id.kvm_steal_bit));
		json_object_set_new(o, "kvm_hints_edx", json_integer(id.kvm_hints_edx));
	}
	if (id.cpuid_available) {
		json_object_set_new(o, "cpu_vendor", json_string(id.cpu_vendor));
		json_object_set_new(o, "vmx", json_boolean(id.vmx));
		json_object_set_new(o, "svm", json_boolean(id.svm));
		json_object_set_new(o, "tdx_guest_leaf", json_boolean(id.tdx_guest));
		json_object_set_new(o, "cpuid_exit_ns", json_integer((json_int_t)id.cpuid_exit_ns));
	}
	if (id.have_amd_mem_encrypt)
		json_object_set_new(o, "amd_mem_encrypt_eax", json_integer(id.amd_mem_encrypt_eax));
	if (id.have_hyperv_hints)
		json_object_set_new(o, "hyperv_hints_eax", json_integer(id.hyperv_hints_eax));
	if (id.have_hyperv_isolation)
		json_object_set_new(o, "hyperv_isolation_ebx", json_integer(id.hyperv_isolation_ebx));
	probe_sev_msr(root, o, &id);
	json_object_set_new(o, "euid", json_integer(geteuid()));
	json_object_set_new(o, "pid", json_integer(getpid()));
	json_object_set_new(o, "btf", json_boolean(fsroot_exists(root, "sys/kernel/btf/vmlinux")));
	static const char *const markers[] = {
		".dockerenv", "run/.containerenv", "run/host/container-manager", "run/systemd/container",
	};
	json_t *m = json_array();
	for (size_t i = 0; i < ARRAY_SIZE(markers); i++)
		if (fsroot_exists(root, markers[i]))
			json_array_append_new(m, json_string(markers[i]));
	if (fsroot_exists(root, "proc/vz") && !fsroot_exists(root, "proc/bc"))
		json_array_append_new(m, json_string("proc/vz"));
	json_object_set_new(o, "container_markers", m);
	/* drivers and devices whose presence matters but which have no file to copy */
	static const char *const probes[] = {
		"sys/bus/virtio/drivers/virtio_balloon", "dev/kmsg", "sys/kernel/debug/kvm", "dev/kvm",
		"dev/sev-guest", "dev/tdx_guest", "sys/devices/platform/arm-cca-dev", "sys/kernel/debug/swiotlb",
		"dev/cpu/0/msr",
	};
	json_t *ex = json_object();
	for (size_t i = 0; i < ARRAY_SIZE(probes); i++)
		json_object_set_new(ex, probes[i], json_boolean(fsroot_exists(root, probes[i])));
	json_object_set_new(o, "exists", ex);
	char *txt = json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(o);
	char *ret = xstrdup(txt ? txt : "{}");
	free(txt);
	return ret;
}
