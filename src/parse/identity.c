/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "identity.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "../core/util.h"

static const struct {
	const char *sig;
	const char *name;
} hv_names[] = {
	{ "KVMKVMKVM", "KVM" },
	{ "TCGTCGTCGTCG", "QEMU TCG" },
	{ "Microsoft Hv", "Hyper-V" },
	{ "Linux KVM Hv", "KVM (Hyper-V enlightenments)" },
	{ "VMwareVMware", "VMware" },
	{ "XenVMMXenVMM", "Xen" },
	{ "bhyve bhyve ", "bhyve" },
	{ "QNXQVMBSQG", "QNX" },
	{ "ACRNACRNACRN", "ACRN" },
	{ "SRESRESRESRE", "SRE" },
	{ "Apple VZ", "Apple Virtualization" },
	{ "VBoxVBoxVBox", "VirtualBox" },
};

const char *identity_hv_name(const struct identity *id)
{
	const char *sig = id->hv_sig_inner[0] ? id->hv_sig_inner : id->hv_sig;
	if (!sig[0])
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(hv_names); i++)
		if (strncmp(sig, hv_names[i].sig, strlen(hv_names[i].sig)) == 0)
			return hv_names[i].name;
	return "unknown hypervisor";
}

static void copy_str(char *dst, size_t n, json_t *v)
{
	const char *s = json_is_string(v) ? json_string_value(v) : "";
	snprintf(dst, n, "%s", s);
}

int identity_parse(const char *buf, size_t len, struct identity *id)
{
	memset(id, 0, sizeof(*id));
	json_error_t err;
	json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	if (!o || !json_is_object(o)) {
		json_decref(o);
		return -EINVAL;
	}
	id->known = true;
	id->cpuid_available = json_is_true(json_object_get(o, "cpuid_available"));
	id->hv_bit = json_is_true(json_object_get(o, "hypervisor_bit"));
	copy_str(id->hv_sig, sizeof(id->hv_sig), json_object_get(o, "hypervisor_signature"));
	copy_str(id->hv_sig_inner, sizeof(id->hv_sig_inner), json_object_get(o, "hypervisor_signature_inner"));
	json_t *v = json_object_get(o, "hypervisor_base");
	id->hv_base = json_is_integer(v) ? (uint32_t)json_integer_value(v) : 0;
	v = json_object_get(o, "kvm_features_eax");
	if (json_is_integer(v)) {
		id->has_kvm_features = true;
		id->kvm_features_eax = (uint32_t)json_integer_value(v);
		id->kvm_steal_bit = (id->kvm_features_eax >> 5) & 1;
	}
	v = json_object_get(o, "euid");
	id->euid = json_is_integer(v) ? (unsigned)json_integer_value(v) : 65534;
	v = json_object_get(o, "pid");
	id->pid = json_is_integer(v) ? (long)json_integer_value(v) : 0;
	id->btf = json_is_true(json_object_get(o, "btf"));
	json_t *ex = json_object_get(o, "exists");
	if (json_is_object(ex)) {
		id->have_exists = true;
		id->balloon_driver = json_is_true(json_object_get(ex, "sys/bus/virtio/drivers/virtio_balloon"));
		id->sev_guest_dev = json_is_true(json_object_get(ex, "dev/sev-guest"));
		id->tdx_guest_dev = json_is_true(json_object_get(ex, "dev/tdx_guest"));
		id->cca_dev = json_is_true(json_object_get(ex, "sys/devices/platform/arm-cca-dev"));
		id->swiotlb_debugfs = json_is_true(json_object_get(ex, "sys/kernel/debug/swiotlb"));
	}
	v = json_object_get(o, "kvm_hints_edx");
	if (json_is_integer(v))
		id->kvm_hints_edx = (uint32_t)json_integer_value(v);
	v = json_object_get(o, "cpu_vendor");
	if (json_is_string(v)) {
		id->have_stack_cpuid = true;
		copy_str(id->cpu_vendor, sizeof(id->cpu_vendor), v);
		id->vmx = json_is_true(json_object_get(o, "vmx"));
		id->svm = json_is_true(json_object_get(o, "svm"));
		id->tdx_guest = json_is_true(json_object_get(o, "tdx_guest_leaf"));
		v = json_object_get(o, "cpuid_exit_ns");
		id->cpuid_exit_ns = json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
	}
	v = json_object_get(o, "amd_mem_encrypt_eax");
	if (json_is_integer(v)) {
		id->have_amd_mem_encrypt = true;
		id->amd_mem_encrypt_eax = (uint32_t)json_integer_value(v);
	}
	v = json_object_get(o, "hyperv_hints_eax");
	if (json_is_integer(v)) {
		id->have_hyperv_hints = true;
		id->hyperv_hints_eax = (uint32_t)json_integer_value(v);
	}
	v = json_object_get(o, "hyperv_isolation_ebx");
	if (json_is_integer(v)) {
		id->have_hyperv_isolation = true;
		id->hyperv_isolation_ebx = (uint32_t)json_integer_value(v);
	}
	v = json_object_get(o, "sev_status_msr");
	if (json_is_integer(v)) {
		id->have_sev_status = true;
		id->sev_status = (uint32_t)json_integer_value(v);
	}
	copy_str(id->sev_status_error, sizeof(id->sev_status_error), json_object_get(o, "sev_status_error"));
	json_t *m = json_object_get(o, "container_markers");
	size_t i;
	json_t *e;
	if (json_is_array(m))
		json_array_foreach(m, i, e) {
			if (id->nmarkers >= ARRAY_SIZE(id->markers) || !json_is_string(e))
				break;
			snprintf(id->markers[id->nmarkers++], sizeof(id->markers[0]), "%s", json_string_value(e));
		}
	json_decref(o);
	return 0;
}
