/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "identity.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
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

static void probe_cpuid(struct identity *id)
{
#ifdef HAVE_CPUID
	uint32_t a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return;
	id->cpuid_available = true;
	id->hv_bit = (c >> 31) & 1;
	if (!id->hv_bit)
		return;
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
	}
#else
	(void)id;
#endif
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
	}
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
