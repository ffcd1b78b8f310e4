/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The virtualization stack's tables and facts: NIC, disk and GPU kinds from
 * driver chains and PCI ids, the cost class of mitigation lines, nvidia-smi's
 * CSV, UUID and machine-id forms, and stack_build on statics of the kinds a
 * real run records (a KVM guest with virtio, an SR-IOV VF, a nested Hyper-V
 * guest, an SEV-SNP guest, a bundle from before stack.json).
 */
#include "harness.h"

#include "analysis/stack.h"
#include "core/paths.h"
#include "parse/stackparse.h"
#include "parse/vmconf.h"

static void test_nic_kinds(void **state)
{
	(void)state;
	struct dev_kind k;
	struct dev_desc d = { .drivers = { "virtio_net", "virtio-pci" }, .n = 2, .guest = true };
	nic_kind(&d, &k);
	assert_string_equal(k.kind, "virtio-net");
	assert_true(k.known);
	struct dev_desc vf = { .drivers = { "ixgbevf" }, .n = 1, .guest = true };
	nic_kind(&vf, &k);
	assert_string_equal(k.kind, "sr-iov-vf");
	assert_non_null(strstr(k.meaning, "live migration"));
	/* mlx5 is a VF only by its PCI id (or physfn) */
	struct dev_desc mlx = { .drivers = { "mlx5_core" }, .n = 1, .pci_vendor = 0x15b3, .pci_device = 0x101e, .guest = true };
	nic_kind(&mlx, &k);
	assert_string_equal(k.kind, "sr-iov-vf");
	mlx.pci_device = 0x101d;
	nic_kind(&mlx, &k);
	assert_string_equal(k.kind, "passthrough");
	mlx.guest = false;
	nic_kind(&mlx, &k);
	assert_string_equal(k.kind, "physical");
	struct dev_desc e1k = { .drivers = { "e1000" }, .n = 1, .guest = true };
	nic_kind(&e1k, &k);
	assert_string_equal(k.kind, "emulated");
	assert_non_null(strstr(k.meaning, "exit"));
	struct dev_desc ena = { .drivers = { "ena" }, .n = 1, .guest = true };
	nic_kind(&ena, &k);
	assert_string_equal(k.kind, "sr-iov-vf");
	struct dev_desc none = { .n = 0 };
	nic_kind(&none, &k);
	assert_false(k.known);
	assert_string_equal(k.kind, "unknown");
}

static void test_disk_kinds(void **state)
{
	(void)state;
	struct dev_kind k;
	struct dev_desc vb = { .drivers = { "virtio_blk", "virtio-pci" }, .n = 2, .guest = true };
	disk_kind(&vb, &k);
	assert_string_equal(k.kind, "virtio-blk");
	struct dev_desc vs = { .drivers = { "sd", "", "", "virtio_scsi", "virtio-pci" }, .n = 5, .guest = true };
	disk_kind(&vs, &k);
	assert_string_equal(k.kind, "virtio-scsi");
	struct dev_desc ahci = { .drivers = { "sd", "", "ahci" }, .n = 3, .guest = true };
	disk_kind(&ahci, &k);
	assert_string_equal(k.kind, "emulated");
	ahci.guest = false;
	disk_kind(&ahci, &k);
	assert_string_equal(k.kind, "physical");
	struct dev_desc ebs = { .drivers = { "nvme" }, .n = 1, .pci_vendor = 0x1d0f, .model = "Amazon Elastic Block Store",
				.guest = true };
	disk_kind(&ebs, &k);
	assert_string_equal(k.kind, "network-nvme");
	ebs.model = "Amazon EC2 NVMe Instance Storage";
	disk_kind(&ebs, &k);
	assert_string_equal(k.kind, "local-nvme");
	struct dev_desc qn = { .drivers = { "nvme" }, .n = 1, .pci_vendor = 0x1b36, .guest = true };
	disk_kind(&qn, &k);
	assert_string_equal(k.kind, "emulated-nvme");
	struct dev_desc pn = { .drivers = { "nvme" }, .n = 1, .pci_vendor = 0x144d, .guest = true };
	disk_kind(&pn, &k);
	assert_string_equal(k.kind, "passthrough");
	/* only the SCSI host says what it is */
	struct dev_desc sh = { .drivers = { "sd" }, .n = 1, .scsi_host_driver = "storvsc", .guest = true };
	disk_kind(&sh, &k);
	assert_string_equal(k.kind, "paravirtual");
	assert_string_equal(k.source, "SCSI host driver");
}

static void test_gpu_kinds(void **state)
{
	(void)state;
	struct gpu_kind k;
	struct gpu_desc vg = { .vendor = 0x1af4, .device = 0x1050, .guest = true };
	gpu_kind(&vg, &k);
	assert_string_equal(k.sharing, "emulated-display");
	assert_false(k.compute);
	struct gpu_desc nv = { .vendor = 0x10de, .device = 0x20b0, .driver = "nvidia", .guest = true,
			       .nv_mode = "VGPU", .nv_mig = "Disabled", .nv_name = "GRID A100-1-5C" };
	gpu_kind(&nv, &k);
	assert_string_equal(k.sharing, "vgpu-mig");
	nv.nv_name = "GRID A100-4C";
	gpu_kind(&nv, &k);
	assert_string_equal(k.sharing, "vgpu");
	nv.nv_mode = "Pass-Through";
	gpu_kind(&nv, &k);
	assert_string_equal(k.sharing, "passthrough");
	nv.nv_mig = "Enabled";
	gpu_kind(&nv, &k);
	assert_string_equal(k.sharing, "mig");
	struct gpu_desc nosmi = { .vendor = 0x10de, .device = 0x20b0, .driver = "nvidia", .guest = true };
	gpu_kind(&nosmi, &k);
	assert_false(k.known);
	assert_string_equal(k.sharing, "unknown");
	struct gpu_desc host = { .vendor = 0x10de, .device = 0x20b0, .driver = "vfio-pci" };
	gpu_kind(&host, &k);
	assert_string_equal(k.sharing, "host-vfio");
	struct gpu_desc amdvf = { .vendor = 0x1002, .device = 0x7312, .driver = "amdgpu", .virtfn = true, .guest = true };
	gpu_kind(&amdvf, &k);
	assert_string_equal(k.sharing, "sr-iov-vf");
}

static void test_mitigation_cost(void **state)
{
	(void)state;
	bool v;
	const char *why;
	static const struct {
		const char *name, *line;
		enum cost_class c;
		bool vuln;
	} cases[] = {
		{ "meltdown", "Mitigation: PTI\n", COST_HIGH, false },
		{ "meltdown", "Not affected\n", COST_NONE, false },
		{ "spectre_v2", "Mitigation: Retpolines; STIBP: disabled; RSB filling; PBRSB-eIBRS: Not affected; BHI: Retpoline",
		  COST_MEDIUM, false },
		{ "spectre_v2", "Mitigation: Enhanced / Automatic IBRS; IBPB: conditional; RSB filling", COST_LOW, false },
		{ "spectre_v2", "Mitigation: IBRS", COST_HIGH, false },
		{ "retbleed", "Vulnerable", COST_NONE, true },
		{ "mds", "Mitigation: Clear CPU buffers; SMT vulnerable", COST_MEDIUM, false },
		{ "l1tf", "Mitigation: PTE Inversion; VMX: conditional cache flushes, SMT vulnerable", COST_MEDIUM, false },
		{ "l1tf", "Mitigation: PTE Inversion", COST_LOW, false },
		{ "spec_store_bypass", "Mitigation: Speculative Store Bypass disabled via prctl", COST_LOW, false },
		{ "spec_rstack_overflow", "Mitigation: Safe RET", COST_HIGH, false },
		{ "itlb_multihit", "KVM: Mitigation: Split huge pages", COST_MEDIUM, false },
		{ "made_up", "Mitigation: something new", COST_UNKNOWN, false },
		{ "made_up", "", COST_UNKNOWN, false },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		enum cost_class c = mitigation_cost(cases[i].name, cases[i].line, strlen(cases[i].line), &v, &why);
		assert_int_equal(c, cases[i].c);
		assert_int_equal(v, cases[i].vuln);
		assert_non_null(why);
	}
}

static void test_nvidia_smi_and_ids(void **state)
{
	(void)state;
	static const char out[] = "0, 00000000:05:00.0, NVIDIA A100-SXM4-40GB, Pass-Through, Enabled, Default\n"
				  "1, 00000000:06:00.0, GRID A100-4C, VGPU, [N/A], Default\n"
				  "garbage line\n"
				  "2, , empty bus, None, Disabled, Default\n";
	struct nv_gpu g[4];
	size_t n = nvidia_smi_parse(out, strlen(out), g, 4);
	assert_int_equal(n, 2);
	assert_string_equal(g[0].virt_mode, "Pass-Through");
	assert_string_equal(g[0].mig_mode, "Enabled");
	assert_string_equal(g[1].name, "GRID A100-4C");
	assert_true(nv_bus_id_match(g[0].bus_id, "0000:05:00.0"));
	assert_false(nv_bus_id_match(g[0].bus_id, "0000:06:00.0"));
	char u[37], m[33];
	assert_true(uuid_canon("4C4C4544-0042-3510-8052-B4C04F4A4E31\n", 37, u));
	assert_string_equal(u, "4c4c4544-0042-3510-8052-b4c04f4a4e31");
	assert_false(uuid_canon("00000000-0000-0000-0000-000000000000", 36, u));
	assert_false(uuid_canon("Not Settable", 12, u));
	assert_true(uuid_canon("4c4c454400423510 8052b4c04f4a4e31", 33, u) == false);
	assert_true(machine_id_canon("3D1219C7C4C5404AAA1F6D2A48ADFDA4\n", 33, m));
	assert_string_equal(m, "3d1219c7c4c5404aaa1f6d2a48adfda4");
	assert_false(machine_id_canon("uninitialized\n", 14, m));
}

static void put(struct sample *s, const char *path, const char *data)
{
	sample_add(s, path, data, strlen(data));
}

static void build(struct sample *st, struct stack *s)
{
	struct identity id;
	const struct sfile *f = sample_find(st, IDENTITY_PATH);
	if (f)
		identity_parse(f->data, f->len, &id);
	else
		memset(&id, 0, sizeof(id));
	stack_build(st, &id, s);
}

static void test_stack_kvm_guest(void **state)
{
	(void)state;
	struct sample st;
	sample_init(&st);
	put(&st, IDENTITY_PATH,
	    "{\"cpuid_available\":true,\"hypervisor_bit\":true,\"hypervisor_signature\":\"KVMKVMKVM\","
	    "\"hypervisor_base\":1073741824,\"kvm_features_eax\":16777215,\"euid\":0,\"cpu_vendor\":\"GenuineIntel\","
	    "\"vmx\":false,\"svm\":false,\"tdx_guest_leaf\":false,\"cpuid_exit_ns\":900,\"container_markers\":[],"
	    "\"exists\":{}}");
	put(&st, STACK_PATH,
	    "{\"pci\":{\"0000:00:03.0\":{\"vendor\":\"0x1af4\",\"device\":\"0x1041\",\"class\":\"0x020000\","
	    "\"driver\":\"virtio-pci\",\"virtfn\":false},\"0000:00:05.0\":{\"vendor\":\"0x8086\",\"device\":\"0x10ed\","
	    "\"class\":\"0x020000\",\"driver\":\"ixgbevf\",\"virtfn\":true},\"0000:00:06.0\":{\"vendor\":\"0x10de\","
	    "\"device\":\"0x20b0\",\"class\":\"0x030200\",\"driver\":\"nvidia\",\"virtfn\":false}},"
	    "\"net\":{\"eth0\":{\"chain\":[{\"dev\":\"virtio2\",\"subsystem\":\"virtio\",\"driver\":\"virtio_net\"},"
	    "{\"dev\":\"0000:00:03.0\",\"subsystem\":\"pci\",\"driver\":\"virtio-pci\"}],\"pci\":\"0000:00:03.0\"},"
	    "\"eth1\":{\"chain\":[{\"dev\":\"0000:00:05.0\",\"subsystem\":\"pci\",\"driver\":\"ixgbevf\"}],"
	    "\"pci\":\"0000:00:05.0\"}},"
	    "\"block\":{\"vda\":{\"chain\":[{\"dev\":\"virtio1\",\"subsystem\":\"virtio\",\"driver\":\"virtio_blk\"}]}},"
	    "\"nvidia_smi\":{\"ran\":true,\"rc\":0,\"out\":\"0, 00000000:00:06.0, GRID A100-1-5C, VGPU, Disabled, Default\\n\"},"
	    "\"kmsg\":[],\"root_fstype\":\"ext4\"}");
	put(&st, "sys/class/dmi/id/sys_vendor", "QEMU\n");
	put(&st, "sys/class/dmi/id/product_name", "Standard PC (Q35 + ICH9, 2009)\n");
	put(&st, "sys/class/dmi/id/product_uuid", "6A0D5F1E-0C3B-4F7A-9E4D-2B8C1A7F3E55\n");
	put(&st, "etc/machine-id", "3d1219c7c4c5404aaa1f6d2a48adfda4\n");
	put(&st, "sys/devices/system/cpu/vulnerabilities/meltdown", "Mitigation: PTI\n");
	put(&st, "sys/devices/system/cpu/vulnerabilities/mds", "Not affected\n");
	put(&st, "proc/cmdline", "root=/dev/vda swiotlb=force\n");
	struct stack *s = xcalloc(1, sizeof(*s));
	build(&st, s);
	assert_true(s->guest);
	assert_string_equal(s->hypervisor.value, "KVM");
	assert_string_equal(s->nesting.value, "L1");
	assert_string_equal(s->nesting.confidence, "medium");
	assert_string_equal(s->container.value, "none seen");
	assert_int_equal(s->nnics, 2);
	assert_string_equal(s->nics[0].kind, "virtio-net");
	assert_string_equal(s->nics[1].kind, "sr-iov-vf");
	assert_int_equal(s->ndisks, 1);
	assert_string_equal(s->disks[0].kind, "virtio-blk");
	assert_int_equal(s->ngpus, 1);
	assert_string_equal(s->gpus[0].kind, "vgpu-mig");
	assert_string_equal(s->confidential.value, "no");
	assert_string_equal(s->swiotlb.value, "forced for all DMA");
	assert_int_equal(s->mit_worst, COST_HIGH);
	assert_string_equal(s->uuid_canon, "6a0d5f1e-0c3b-4f7a-9e4d-2b8c1a7f3e55");
	assert_string_equal(s->machine_id_canon, "3d1219c7c4c5404aaa1f6d2a48adfda4");
	json_t *j = stack_json(s);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "nesting"), "value")), "L1");
	json_decref(j);
	char line[512];
	stack_summary(s, line, sizeof(line));
	assert_non_null(strstr(line, "eth1 SR-IOV"));
	free(s);
	sample_done(&st);
}

static void test_stack_nested_and_confidential(void **state)
{
	(void)state;
	struct sample st;
	sample_init(&st);
	/* Hyper-V says nested; an SEV-SNP status MSR */
	put(&st, IDENTITY_PATH,
	    "{\"cpuid_available\":true,\"hypervisor_bit\":true,\"hypervisor_signature\":\"Microsoft Hv\","
	    "\"hypervisor_base\":1073741824,\"euid\":0,\"cpu_vendor\":\"AuthenticAMD\",\"vmx\":false,\"svm\":true,"
	    "\"cpuid_exit_ns\":1000,\"hyperv_hints_eax\":4096,\"amd_mem_encrypt_eax\":27,\"sev_status_msr\":7,"
	    "\"container_markers\":[\"run/.containerenv\"],\"exists\":{}}");
	struct stack *s = xcalloc(1, sizeof(*s));
	build(&st, s);
	assert_string_equal(s->nesting.value, "nested: L2 (under Hyper-V)");
	assert_string_equal(s->nesting.confidence, "high");
	assert_string_equal(s->nested_capable.value, "yes");
	assert_string_equal(s->confidential.value, "AMD SEV-SNP");
	assert_string_equal(s->swiotlb.value, "forced for all DMA");
	assert_string_equal(s->container.confidence, "high");
	/* no stack.json (an old bundle): devices unknown-free, GPUs unknown with the reason */
	assert_false(s->gpu.known);
	assert_false(s->uuid.known);
	free(s);
	sample_done(&st);

	/* an exit cost in the nested range, and no identity at all */
	sample_init(&st);
	put(&st, IDENTITY_PATH,
	    "{\"cpuid_available\":true,\"hypervisor_bit\":true,\"hypervisor_signature\":\"KVMKVMKVM\","
	    "\"hypervisor_base\":1073741824,\"euid\":1000,\"cpu_vendor\":\"GenuineIntel\",\"cpuid_exit_ns\":13000}");
	put(&st, "sys/class/dmi/id/sys_vendor", "QEMU\n");
	s = xcalloc(1, sizeof(*s));
	build(&st, s);
	assert_string_equal(s->nesting.value, "nested: L2 or deeper");
	assert_null(strstr(s->nesting.source, "13")); /* the figure is not a fact: replay must match live */
	assert_false(s->uuid.known);
	assert_non_null(strstr(s->uuid.meaning, "root"));
	free(s);
	sample_done(&st);

	sample_init(&st);
	s = xcalloc(1, sizeof(*s));
	build(&st, s);
	assert_false(s->hypervisor.known);
	assert_false(s->nesting.known);
	assert_false(s->mitigations.known);
	free(s);
	sample_done(&st);
}

/* argv as /proc/PID/cmdline holds it: NUL-separated */
static size_t argv_buf(char *buf, size_t cap, const char *const *argv)
{
	size_t o = 0;
	for (; *argv; argv++) {
		size_t l = strlen(*argv) + 1;
		assert_true(o + l <= cap);
		memcpy(buf + o, *argv, l);
		o += l;
	}
	return o;
}

static void test_host_side_ids(void **state)
{
	(void)state;
	char buf[1024];
	struct vmconf *c = xcalloc(1, sizeof(*c));
	const char *const q1[] = { "qemu-system-x86_64", "-name", "guest=web1", "-uuid", "6A0D5F1E-0C3B-4F7A-9E4D-2B8C1A7F3E55",
				   "-append", "console=ttyS0 systemd.machine_id=3d1219c7c4c5404aaa1f6d2a48adfda4 quiet", NULL };
	assert_int_equal(qemu_cmdline_parse(buf, argv_buf(buf, sizeof(buf), q1), c), 0);
	assert_string_equal(c->uuid, "6a0d5f1e-0c3b-4f7a-9e4d-2b8c1a7f3e55");
	assert_string_equal(c->machine_id, "3d1219c7c4c5404aaa1f6d2a48adfda4");
	const char *const q2[] = { "qemu-system-x86_64", "-smbios", "type=1,manufacturer=x,uuid=11111111-2222-3333-4444-555555555555",
				   "-smbios", "type=11,value=io.systemd.credential:system.machine_id=0123456789abcdef0123456789abcdef",
				   NULL };
	assert_int_equal(qemu_cmdline_parse(buf, argv_buf(buf, sizeof(buf), q2), c), 0);
	assert_string_equal(c->uuid, "11111111-2222-3333-4444-555555555555");
	assert_string_equal(c->machine_id, "0123456789abcdef0123456789abcdef");
	const char *const q3[] = { "qemu-system-x86_64", "-uuid", "not-a-uuid", "-append",
				   "systemd.machine_id=short systemd.machine_id=0123456789abcdef0123456789abcdeX", NULL };
	assert_int_equal(qemu_cmdline_parse(buf, argv_buf(buf, sizeof(buf), q3), c), 0);
	assert_string_equal(c->uuid, "");
	assert_string_equal(c->machine_id, "");
	const char *const ch[] = { "cloud-hypervisor", "--platform", "serial_number=x,uuid=AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE",
				   "--cmdline", "root=/dev/vda systemd.machine_id=ffffffffffffffffffffffffffffff00", NULL };
	char config[64];
	assert_int_equal(vmm_cmdline_parse("cloud-hypervisor", buf, argv_buf(buf, sizeof(buf), ch), c, config, sizeof(config)), 0);
	assert_string_equal(c->uuid, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
	assert_string_equal(c->machine_id, "ffffffffffffffffffffffffffffff00");
	memset(c, 0, sizeof(*c));
	static const char fc[] = "{\"boot-source\": {\"kernel_image_path\": \"vmlinux\", \"boot_args\": "
				 "\"console=ttyS0 systemd.machine_id=00112233445566778899aabbccddeeff\"}}";
	assert_int_equal(vmm_firecracker_config(fc, strlen(fc), c), 0);
	assert_string_equal(c->machine_id, "00112233445566778899aabbccddeeff");
	if (libvirt_xml_available()) {
		static const char xml[] = "<domain type='kvm'><name>db1</name><uuid>C7A5FDBD-EDAF-9455-926A-D65C16DB1809</uuid>"
					  "<memory unit='MiB'>512</memory><vcpu>1</vcpu><os><type>hvm</type>"
					  "<cmdline>ro systemd.machine_id=aabbccddeeff00112233445566778899</cmdline></os></domain>";
		struct libvirt_status st;
		const char *why;
		memset(c, 0, sizeof(*c));
		assert_int_equal(libvirt_xml_parse(xml, strlen(xml), c, &st, &why), 0);
		assert_string_equal(c->uuid, "c7a5fdbd-edaf-9455-926a-d65c16db1809");
		assert_string_equal(c->machine_id, "aabbccddeeff00112233445566778899");
	}
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nic_kinds),
		cmocka_unit_test(test_disk_kinds),
		cmocka_unit_test(test_gpu_kinds),
		cmocka_unit_test(test_mitigation_cost),
		cmocka_unit_test(test_nvidia_smi_and_ids),
		cmocka_unit_test(test_stack_kvm_guest),
		cmocka_unit_test(test_stack_nested_and_confidential),
		cmocka_unit_test(test_host_side_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
