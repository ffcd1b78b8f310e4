/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Host mode: thread-name classification for every VMM, QEMU command lines
 * (-drive, -blockdev key=value and JSON, -device, -netdev, -smp, -numa,
 * memory backends), per-task files, the vms analysis on synthetic samples
 * (run delay rates, the overlap matrix, demand per CPU, the pinning rule),
 * and the audit on libvirt XML fixtures and a fixture root.
 */
#include "harness.h"

#include "analysis/analysis.h"
#include "analysis/rules_host.h"
#include "analysis/vms.h"
#include "host/audit.h"
#include "host/vmscan.h"
#include "sinks/audit.h"
#include "sinks/vms.h"
#include "parse/vmconf.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#ifndef FIXTURES
#define FIXTURES "tests/fixtures/libvirt"
#endif

static void test_classify(void **state)
{
	(void)state;
	static const struct {
		const char *comm;
		int vmm_in;
		enum tkind kind;
		int vcpu;
		enum vmm vmm;
	} cases[] = {
		{ "CPU 0/KVM", -1, TK_VCPU, 0, VMM_QEMU },
		{ "CPU 12/TCG", -1, TK_VCPU, 12, VMM_QEMU },
		{ "fc_vcpu 3", -1, TK_VCPU, 3, VMM_FIRECRACKER },
		{ "vcpu7", -1, TK_VCPU, 7, VMM_CLOUD_HYPERVISOR },
		{ "crosvm_vcpu2", -1, TK_VCPU, 2, VMM_CROSVM },
		{ "kvm-vcpu-1", -1, TK_VCPU, 1, VMM_KVMTOOL },
		{ "vhost-4242", VMM_QEMU, TK_VHOST, -1, VMM_QEMU },
		{ "IO iothread0", VMM_QEMU, TK_IO, -1, VMM_QEMU },
		{ "_disk0_q0", VMM_CLOUD_HYPERVISOR, TK_IO, -1, VMM_CLOUD_HYPERVISOR },
		{ "worker", VMM_QEMU, TK_WORKER, -1, VMM_QEMU },
		{ "call_rcu", VMM_QEMU, TK_OTHER, -1, VMM_QEMU },
		{ "CPU x/KVM", -1, TK_OTHER, -1, VMM_QEMU },
		{ "fc_api", VMM_FIRECRACKER, TK_OTHER, -1, VMM_FIRECRACKER },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		enum vmm v = VMM_COUNT;
		int idx;
		enum tkind k = vmscan_classify(cases[i].comm, cases[i].vmm_in, &v, &idx);
		assert_int_equal(k, cases[i].kind);
		assert_int_equal(idx, cases[i].vcpu);
		if (k == TK_VCPU)
			assert_int_equal(v, cases[i].vmm);
	}
	assert_int_equal(vmscan_vmm_of_process("qemu-system-x86"), VMM_QEMU);
	assert_int_equal(vmscan_vmm_of_process("qemu-kvm"), VMM_QEMU);
	assert_int_equal(vmscan_vmm_of_process("firecracker"), VMM_FIRECRACKER);
	assert_int_equal(vmscan_vmm_of_process("cloud-hyperviso"), VMM_CLOUD_HYPERVISOR);
	assert_int_equal(vmscan_vmm_of_process("crosvm"), VMM_CROSVM);
	assert_int_equal(vmscan_vmm_of_process("lkvm"), VMM_KVMTOOL);
	assert_int_equal(vmscan_vmm_of_process("bash"), -1);
}

/* argv as NUL-separated bytes */
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

static void test_cmdline_drive_netdev(void **state)
{
	(void)state;
	static const char *const argv[] = {
		"/usr/bin/qemu-system-x86_64", "-name", "guest=db,,prod,debug-threads=on", "-enable-kvm", "-m", "4G",
		"-smp", "4,sockets=2,cores=2,threads=1", "-cpu", "host,+invtsc", "-numa", "node,nodeid=0,cpus=0-1,memdev=m0",
		"-numa", "node,nodeid=1,cpus=2-3,memdev=m1", "-numa", "dist,src=0,dst=1,val=21",
		"-object", "memory-backend-file,id=m0,size=2G,mem-path=/dev/hugepages,prealloc=on",
		"-drive", "file=/img/a.qcow2,format=qcow2,cache=writeback,aio=native,if=none,id=drive0",
		"-device", "virtio-blk-pci,drive=drive0,num-queues=2,id=vblk0",
		"-drive", "file=/img/old.raw,format=raw,if=ide",
		"-netdev", "tap,id=net0,ifname=tap0,queues=4,vhost=on",
		"-device", "virtio-net-pci,netdev=net0,mq=on,vectors=10",
		"-netdev", "user,id=net1", "-device", "e1000,netdev=net1", "-nodefaults", NULL
	};
	char buf[4096];
	size_t len = argv_buf(buf, sizeof(buf), argv);
	struct vmconf c;
	assert_int_equal(qemu_cmdline_parse(buf, len, &c), 0);
	assert_string_equal(c.name, "db,prod");
	assert_true(c.debug_threads);
	assert_string_equal(c.accel, "kvm");
	assert_int_equal(c.mem_mib, 4096);
	assert_int_equal(c.vcpus, 4);
	assert_int_equal(c.sockets, 2);
	assert_string_equal(c.cpu_model, "host");
	assert_int_equal(c.numa_nodes, 2);
	assert_true(c.hugepages);
	assert_string_equal(c.mem_path, "/dev/hugepages");
	assert_int_equal(c.ndisks, 2);
	assert_string_equal(c.disks[0].model, "virtio-blk-pci");
	assert_string_equal(c.disks[0].format, "qcow2");
	assert_string_equal(c.disks[0].cache, "writeback");
	assert_string_equal(c.disks[0].aio, "native");
	assert_string_equal(c.disks[0].file, "/img/a.qcow2");
	assert_int_equal(c.disks[0].num_queues, 2);
	assert_true(vmconf_disk_is_virtio(&c.disks[0]));
	assert_string_equal(c.disks[1].bus, "ide");
	assert_false(vmconf_disk_is_virtio(&c.disks[1]));
	assert_int_equal(c.nnics, 2);
	assert_string_equal(c.nics[0].backend, "tap");
	assert_string_equal(c.nics[0].ifname, "tap0");
	assert_int_equal(c.nics[0].queues, 4);
	assert_int_equal(c.nics[0].vhost, 1);
	assert_string_equal(c.nics[0].model, "virtio-net-pci");
	assert_string_equal(c.nics[1].model, "e1000");
	assert_false(vmconf_nic_is_virtio(&c.nics[1]));
}

static void test_cmdline_blockdev(void **state)
{
	(void)state;
	/* the harness's shape (key=value) and libvirt's (JSON) */
	static const char *const argv[] = {
		"qemu-system-x86_64", "-name", "guest=t,debug-threads=on", "-accel", "tcg", "-m", "256", "-smp", "2",
		"-blockdev", "driver=file,node-name=file0,filename=/w/disk0.raw,cache.direct=on,cache.no-flush=off",
		"-blockdev", "driver=raw,node-name=disk0,file=file0",
		"-device", "virtio-blk-pci,drive=disk0,id=vblk0,num-queues=1,write-cache=on",
		"-blockdev",
		"{\"driver\":\"file\",\"filename\":\"/v/l.qcow2\",\"node-name\":\"libvirt-1-storage\",\"aio\":\"io_uring\","
		"\"cache\":{\"direct\":true,\"no-flush\":false}}",
		"-blockdev",
		"{\"node-name\":\"libvirt-1-format\",\"driver\":\"qcow2\",\"file\":\"libvirt-1-storage\","
		"\"cache\":{\"direct\":true,\"no-flush\":false}}",
		"-device", "{\"driver\":\"virtio-blk-pci\",\"drive\":\"libvirt-1-format\",\"id\":\"virtio-disk0\"}",
		"-netdev", "{\"type\":\"tap\",\"fd\":\"34\",\"vhost\":true,\"id\":\"hostnet0\"}",
		"-device", "{\"driver\":\"virtio-net-pci\",\"netdev\":\"hostnet0\",\"id\":\"net0\"}", NULL
	};
	char buf[4096];
	size_t len = argv_buf(buf, sizeof(buf), argv);
	struct vmconf c;
	assert_int_equal(qemu_cmdline_parse(buf, len, &c), 0);
	assert_string_equal(c.accel, "tcg");
	assert_int_equal(c.vcpus, 2);
	assert_int_equal(c.mem_mib, 256);
	assert_int_equal(c.ndisks, 2);
	assert_string_equal(c.disks[0].format, "raw");
	assert_string_equal(c.disks[0].cache, "none");
	assert_string_equal(c.disks[0].aio, "threads");
	assert_string_equal(c.disks[0].file, "/w/disk0.raw");
	assert_string_equal(c.disks[1].format, "qcow2");
	assert_string_equal(c.disks[1].cache, "none");
	assert_string_equal(c.disks[1].aio, "io_uring");
	assert_string_equal(c.disks[1].file, "/v/l.qcow2");
	assert_int_equal(c.nnics, 1);
	assert_int_equal(c.nics[0].vhost, 1);
	assert_string_equal(c.nics[0].model, "virtio-net-pci");
	/* not QEMU */
	static const char *const sh[] = { "/bin/sh", "-c", "x", NULL };
	len = argv_buf(buf, sizeof(buf), sh);
	assert_int_equal(qemu_cmdline_parse(buf, len, &c), -EINVAL);
	/* writethrough: write-cache=off without direct */
	static const char *const wt[] = { "qemu-kvm", "-drive", "file=/a,if=virtio,cache=writethrough", "-mem-path",
					   "/dev/hugepages1G", NULL };
	len = argv_buf(buf, sizeof(buf), wt);
	assert_int_equal(qemu_cmdline_parse(buf, len, &c), 0);
	assert_int_equal(c.ndisks, 1);
	assert_string_equal(c.disks[0].bus, "virtio");
	assert_string_equal(c.disks[0].cache, "writethrough");
	assert_true(c.hugepages);
	assert_int_equal(c.vcpus, 1);
	assert_int_equal(c.mem_mib, 128);
}

/* Cloud Hypervisor, crosvm, kvmtool and Firecracker command lines (parse/vmmcmd.c) */
static void test_cmdline_other_vmms(void **state)
{
	(void)state;
	char buf[4096], cfg[256];
	size_t len;
	struct vmconf c;
	static const char *const ch[] = { "cloud-hypervisor", "--api-socket", "/run/ch.sock", "--cpus", "boot=4,max=8",
					   "--memory", "size=2G,hugepages=on", "--kernel", "/k", "--disk",
					   "path=/img/a.raw", "path=/img/b.qcow2,num_queues=2,direct=on",
					   "vhost_user=true,socket=/s", "--net=tap=tap7,num_queues=4", NULL };
	len = argv_buf(buf, sizeof(buf), ch);
	assert_int_equal(vmm_cmdline_parse("cloud-hypervisor", buf, len, &c, cfg, sizeof(cfg)), 0);
	assert_true(c.vcpus == 4 && c.max_vcpus == 8 && c.mem_mib == 2048 && c.hugepages);
	assert_int_equal(c.ndisks, 2);	/* the vhost-user disk has no path */
	assert_string_equal(c.disks[0].file, "/img/a.raw");
	assert_string_equal(c.disks[1].file, "/img/b.qcow2");
	assert_int_equal(c.disks[1].num_queues, 2);
	assert_string_equal(c.disks[1].cache, "none");
	assert_string_equal(c.disks[0].cache, "");
	assert_true(vmconf_disk_is_virtio(&c.disks[0]));
	assert_int_equal(c.nnics, 1);
	assert_string_equal(c.nics[0].ifname, "tap7");
	assert_int_equal(c.nics[0].queues, 2);	/* 4 = 2 RX + 2 TX */

	static const char *const cv[] = { "crosvm", "run", "--cpus", "4", "--mem=1024", "--rwdisk", "/img/r.img",
					   "--disk", "/img/d.img,o_direct=true", "--block", "path=/img/b.img,ro=false",
					   "--tap-name", "tap3", "--name", "cv1", "/vmlinux", NULL };
	len = argv_buf(buf, sizeof(buf), cv);
	assert_int_equal(vmm_cmdline_parse("crosvm", buf, len, &c, NULL, 0), 0);
	assert_true(c.vcpus == 4 && c.mem_mib == 1024 && c.ndisks == 3 && c.nnics == 1);
	assert_string_equal(c.name, "cv1");
	assert_string_equal(c.disks[1].file, "/img/d.img");
	assert_string_equal(c.disks[1].cache, "none");
	assert_string_equal(c.disks[2].file, "/img/b.img");
	assert_string_equal(c.nics[0].ifname, "tap3");

	static const char *const kt[] = { "lkvm", "run", "-c", "2", "-m", "512", "-d", "/img/k.img,direct", "--disk",
					   "/img/l.img", "-n", "mode=tap,tapif=tap9", "-n", "mode=user", NULL };
	len = argv_buf(buf, sizeof(buf), kt);
	assert_int_equal(vmm_cmdline_parse("kvmtool", buf, len, &c, NULL, 0), 0);
	assert_true(c.vcpus == 2 && c.mem_mib == 512 && c.ndisks == 2 && c.nnics == 1);
	assert_string_equal(c.disks[0].file, "/img/k.img");
	assert_string_equal(c.disks[0].cache, "none");
	assert_string_equal(c.nics[0].ifname, "tap9");

	static const char *const fc[] = { "firecracker", "--api-sock", "/run/fc.sock", "--id", "fc-web",
					   "--config-file", "vm.json", NULL };
	len = argv_buf(buf, sizeof(buf), fc);
	assert_int_equal(vmm_cmdline_parse("firecracker", buf, len, &c, cfg, sizeof(cfg)), 0);
	assert_string_equal(c.name, "fc-web");
	assert_string_equal(cfg, "vm.json");
	assert_int_equal(c.ndisks, 0);	/* drives are in the configuration file */
	static const char fcjson[] =
		"{\"drives\":[{\"drive_id\":\"rootfs\",\"path_on_host\":\"/img/rootfs.ext4\",\"is_root_device\":true,"
		"\"io_engine\":\"Async\"},{\"drive_id\":\"data\"}],"
		"\"network-interfaces\":[{\"iface_id\":\"eth0\",\"host_dev_name\":\"tapfc0\"}],"
		"\"machine-config\":{\"vcpu_count\":2,\"mem_size_mib\":1024}}";
	assert_int_equal(vmm_firecracker_config(fcjson, sizeof(fcjson) - 1, &c), 0);
	assert_true(c.ndisks == 1 && c.nnics == 1 && c.vcpus == 2 && c.mem_mib == 1024);
	assert_string_equal(c.disks[0].id, "rootfs");
	assert_string_equal(c.disks[0].aio, "io_uring");
	assert_string_equal(c.nics[0].ifname, "tapfc0");
	assert_int_equal(vmm_firecracker_config("[1]", 3, &c), -EINVAL);
	assert_int_equal(vmm_firecracker_config("{", 1, &c), -EINVAL);

	/* another VMM name; an unterminated last argument is dropped, not read past */
	assert_int_equal(vmm_cmdline_parse("qemu", buf, len, &c, cfg, sizeof(cfg)), -EINVAL);
	static const char cut[] = { '-', '-', 'd', 'i', 's', 'k', 0, 'p', 'a', 't', 'h', '=', '/', 'x' };
	assert_int_equal(vmm_cmdline_parse("cloud-hypervisor", cut, sizeof(cut), &c, NULL, 0), 0);
	assert_int_equal(c.ndisks, 0);
}

static void test_procfiles(void **state)
{
	(void)state;
	const char *st = "1234 (CPU 0/KVM) R 1 2 3 4 5 6 7 8 9 10 250 30 0 0 20 0 1 0 100 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 "
			 "17 5 0 0 0 0 0\n";
	struct task_stat ts;
	assert_int_equal(task_stat_parse(st, strlen(st), &ts), 0);
	assert_int_equal(ts.processor, 5);
	assert_int_equal(ts.utime, 250);
	assert_int_equal(ts.state, 'R');
	const char *tricky = "9 (a) b) S 1 2 3 4 5 6 7 8 9 10 11 12 0 0 20 0 1 0 100 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 17 1\n";
	assert_int_equal(task_stat_parse(tricky, strlen(tricky), &ts), 0);
	assert_int_equal(ts.processor, 1);
	/* a real line (Linux 6.18): rsslim (field 25) is ULONG_MAX for a task without a limit, and the
	 * processor (39) comes after it; signed fields (-1 tty, nice) and other all-ones words too */
	const char *real = "14837 (CPU 1/KVM) R 14834 14834 13137 0 -1 4194304 98 0 0 0 7 3 -1 0 20 -5 1 0 48736 "
			   "3133440 362 18446744073709551615 94786762514432 94786762534313 140726908775920 0 0 0 0 "
			   "18446744073709551615 0 0 0 0 17 1 0 0 0 0 0 94786762550320 94786762551936 94786835726336 "
			   "140726908779136 140726908779156 140726908779156 140726908780523 0\n";
	assert_int_equal(task_stat_parse(real, strlen(real), &ts), 0);
	assert_int_equal(ts.processor, 1);
	assert_int_equal(ts.utime, 7);
	assert_int_equal(ts.stime, 3);
	/* more than 64 bits in a field we do not keep is skipped, in one we keep it is "unknown" */
	const char *huge = "1 (x) S 1 2 3 4 5 6 7 8 9 10 99999999999999999999 30 0 0 20 0 1 0 100 0 0 "
			   "99999999999999999999 0 0 0 0 0 0 0 0 0 0 0 0 17 99999999999999999999\n";
	assert_int_equal(task_stat_parse(huge, strlen(huge), &ts), 0);
	assert_int_equal(ts.utime, 0);
	assert_int_equal(ts.stime, 30);
	assert_int_equal(ts.processor, -1);
	const char *junk = "1 (x) S 1 2 3 4 5 6 7 8 9 10 abc 30\n";
	assert_int_equal(task_stat_parse(junk, strlen(junk), &ts), -EINVAL);
	const char *status = "Name:\tCPU 0/KVM\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\nVmSwap:\t  12 kB\n";
	char out[64];
	assert_int_equal(status_field(status, strlen(status), "Cpus_allowed_list", out, sizeof(out)), 0);
	assert_string_equal(out, "0-1");
	assert_int_equal(status_field(status, strlen(status), "Nope", out, sizeof(out)), -ENOENT);
	const char *fdi = "pos:\t0\nflags:\t0104002\nmnt_id:\t15\nino:\t1057\niff:\thqtap0\n";
	assert_int_equal(tun_fdinfo_iff(fdi, strlen(fdi), out, sizeof(out)), 0);
	assert_string_equal(out, "hqtap0");
}

/* ---- the analysis on synthetic samples ---- */

static void add_thread_files(struct sample *s, int pid, int tid, uint64_t cpu, uint64_t delay, const char *allowed,
			     bool slow)
{
	char path[96], data[128];
	snprintf(path, sizeof(path), "proc/%d/task/%d/schedstat", pid, tid);
	snprintf(data, sizeof(data), "%llu %llu 10\n", (unsigned long long)cpu, (unsigned long long)delay);
	sample_add(s, path, data, strlen(data));
	if (!slow)
		return;
	snprintf(path, sizeof(path), "proc/%d/task/%d/status", pid, tid);
	snprintf(data, sizeof(data), "Name:\tx\nCpus_allowed_list:\t%s\n", allowed);
	sample_add(s, path, data, strlen(data));
}

/*
 * Three VMs on 4 CPUs: A and B pinned to CPU 0 and busy (each waits half the
 * time), C on CPUs 1-2 and idle, D on CPUs 2-3 and idle (overlaps C).
 */
static void feed_scenario(struct vms_analysis *a, double b_delay_share)
{
	const char *js = "{\"vms\":["
			 "{\"pid\":100,\"vmm\":\"qemu\",\"name\":\"A\",\"threads\":[{\"tid\":101,\"kind\":\"vcpu\",\"vcpu\":0,"
			 "\"comm\":\"CPU 0/KVM\"}],\"taps\":[]},"
			 "{\"pid\":200,\"vmm\":\"qemu\",\"name\":\"B\",\"threads\":[{\"tid\":201,\"kind\":\"vcpu\",\"vcpu\":0,"
			 "\"comm\":\"CPU 0/KVM\"}],\"taps\":[]},"
			 "{\"pid\":300,\"vmm\":\"qemu\",\"name\":\"C\",\"threads\":[{\"tid\":301,\"kind\":\"vcpu\",\"vcpu\":0,"
			 "\"comm\":\"CPU 0/KVM\"}],\"taps\":[]},"
			 "{\"pid\":400,\"vmm\":\"firecracker\",\"name\":\"D\",\"threads\":[{\"tid\":401,\"kind\":\"vcpu\","
			 "\"vcpu\":0,\"comm\":\"fc_vcpu 0\"}],\"taps\":[]}],\"root\":true}";
	for (int i = 0; i <= 5; i++) {
		struct sample s;
		sample_init(&s);
		s.mono_ns = (uint64_t)i * 1000000000ull;
		bool slow = i == 0 || i == 5;
		if (slow)
			sample_add(&s, VMSCAN_JSON_PATH, js, strlen(js));
		uint64_t t = (uint64_t)i * 1000000000ull;
		add_thread_files(&s, 100, 101, t / 2, t / 2, "0", slow);
		add_thread_files(&s, 200, 201, t / 2, (uint64_t)((double)t * b_delay_share), "0", slow);
		add_thread_files(&s, 300, 301, t / 100, 0, "1-2", slow);
		add_thread_files(&s, 400, 401, t / 100, 0, "2-3", slow);
		vms_feed(a, &s);
		sample_done(&s);
	}
	vms_finish(a);
}

static void host_statics(struct sample *st)
{
	sample_init(st);
	sample_add(st, "sys/devices/system/cpu/online", "0-3\n", 4);
}

static void test_overlap_and_demand(void **state)
{
	(void)state;
	struct sample st;
	host_statics(&st);
	struct vms_analysis a;
	vms_init(&a, &st);
	feed_scenario(&a, 0.5);
	assert_int_equal(a.n, 4);
	assert_int_equal(a.ncpus_online, 4);
	assert_true(vms_watch_s(&a) > 4.9);
	const struct vms_thread *ta = &a.vms[0].th[0];
	assert_true(ta->delay_pct > 49 && ta->delay_pct < 51);
	assert_true(ta->cpu_pct > 49 && ta->cpu_pct < 51);
	assert_int_equal(ta->nwins, 5);
	assert_int_equal(ta->win_ge20, 5);
	assert_int_equal(vms_thread_level(ta), 2);
	assert_int_equal(vms_thread_level(&a.vms[2].th[0]), 0);
	/* the matrix: A-B share CPU 0, C-D share CPU 2, nothing else */
	struct cpumask sh;
	assert_int_equal(vms_overlap(&a, 0, 1, &sh), 1);
	assert_true(cpumask_test(&sh, 0));
	assert_int_equal(vms_overlap(&a, 0, 2, NULL), 0);
	assert_int_equal(vms_overlap(&a, 2, 3, &sh), 1);
	assert_true(cpumask_test(&sh, 2));
	assert_int_equal(vms_overlap(&a, 1, 3, NULL), 0);
	/* demand: CPU 0 asked for 2 CPUs (2 x (0.5 run + 0.5 wait)) */
	struct vms_cpu_demand d[8];
	size_t nd = vms_cpu_demand(&a, d, 8);
	assert_int_equal(nd, 4);
	assert_int_equal(d[0].vcpus_allowed, 2);
	assert_true(d[0].demand > 1.95 && d[0].demand < 2.05);
	assert_true(d[0].delay > 0.95 && d[0].delay < 1.05);
	assert_int_equal(d[2].vcpus_allowed, 2);
	assert_true(d[2].vcpus_weighted > 0.99 && d[2].vcpus_weighted < 1.01);
	assert_int_equal(d[2].vms, 2);
	assert_int_equal(vms_total_vcpus(&a), 4);
	char buf[64];
	cpumask_format(&a.vms[3].cpus, buf, sizeof(buf));
	assert_string_equal(buf, "2-3");
	vms_done(&a);
	sample_done(&st);
}

static void run_rule(double b_share, enum severity want)
{
	struct sample st;
	host_statics(&st);
	struct analysis an;
	memset(&an, 0, sizeof(an));
	an.statics = &st;
	an.host = xmalloc(sizeof(*an.host));
	vms_init(an.host, &st);
	feed_scenario(an.host, b_share);
	struct findings fs = { 0 };
	struct finding *f = findings_add(&fs, "cpu-pinning-conflict", 6, "host-cpu-pinning", "VM pinning");
	rule_pinning(&an, f);
	assert_int_equal(f->sev, want);
	if (want >= SEV_WARN)
		assert_non_null(strstr(f->title, "shared with"));
	findings_done(&fs);
	vms_done(an.host);
	free(an.host);
	sample_done(&st);
}

static void test_pinning_rule(void **state)
{
	(void)state;
	run_rule(0.5, SEV_CRIT);
	run_rule(0.15, SEV_CRIT); /* A still waits half the time */
	/* no VMs: unknown */
	struct analysis an;
	memset(&an, 0, sizeof(an));
	struct findings fs = { 0 };
	struct finding *f = findings_add(&fs, "cpu-pinning-conflict", 6, "host-cpu-pinning", "VM pinning");
	rule_pinning(&an, f);
	assert_int_equal(f->sev, SEV_UNKNOWN);
	findings_done(&fs);
}

static void test_overlap_idle_is_ok(void **state)
{
	(void)state;
	/* C and D overlap but do not wait: with A and B gone, the rule is ok */
	struct sample st;
	host_statics(&st);
	struct analysis an;
	memset(&an, 0, sizeof(an));
	an.statics = &st;
	an.host = xmalloc(sizeof(*an.host));
	vms_init(an.host, &st);
	const char *js = "{\"vms\":[{\"pid\":300,\"vmm\":\"qemu\",\"name\":\"C\",\"threads\":[{\"tid\":301,\"kind\":"
			 "\"vcpu\",\"vcpu\":0,\"comm\":\"CPU 0/KVM\"}]},{\"pid\":400,\"vmm\":\"qemu\",\"name\":\"D\","
			 "\"threads\":[{\"tid\":401,\"kind\":\"vcpu\",\"vcpu\":0,\"comm\":\"CPU 0/KVM\"}]}]}";
	for (int i = 0; i <= 3; i++) {
		struct sample s;
		sample_init(&s);
		s.mono_ns = (uint64_t)i * 1000000000ull;
		sample_add(&s, VMSCAN_JSON_PATH, js, strlen(js));
		add_thread_files(&s, 300, 301, (uint64_t)i * 1000000, 0, "1-2", true);
		add_thread_files(&s, 400, 401, (uint64_t)i * 1000000, 0, "2-3", true);
		vms_feed(an.host, &s);
		sample_done(&s);
	}
	vms_finish(an.host);
	struct findings fs = { 0 };
	struct finding *f = findings_add(&fs, "cpu-pinning-conflict", 6, "host-cpu-pinning", "VM pinning");
	rule_pinning(&an, f);
	assert_int_equal(f->sev, SEV_OK);
	assert_non_null(strstr(f->title, "1 VM pair share CPUs"));
	findings_done(&fs);
	vms_done(an.host);
	free(an.host);
	sample_done(&st);
}

/* ---- the audit ---- */

static const struct audit_res *find_res(const struct audit_out *o, const char *id, const char *subject)
{
	for (size_t i = 0; i < o->n; i++)
		if (!strcmp(o->v[i].id, id) && (!subject || strstr(o->v[i].subject, subject)))
			return &o->v[i];
	return NULL;
}

static void audit_fixture(const char *file, struct audit_ctx *c, struct audit_out *o, struct fsroot *fr, char **dir)
{
	*dir = make_tempdir();
	put_file(*dir, "proc/meminfo", "MemTotal: 134217728 kB\n");
	put_file(*dir, "sys/devices/system/cpu/online", "0-15\n");
	put_file(*dir, "sys/devices/system/node/node0/cpulist", "0-7\n");
	put_file(*dir, "sys/devices/system/node/node1/cpulist", "8-15\n");
	put_file(*dir, "sys/devices/system/node/node0/meminfo", "Node 0 MemTotal: 67108864 kB\n");
	put_file(*dir, "sys/devices/system/node/node1/meminfo", "Node 1 MemTotal: 67108864 kB\n");
	put_file(*dir, "sys/block/nvme0n1/queue/scheduler", "[mq-deadline] none\n");
	put_file(*dir, "sys/block/nvme0n1/queue/rotational", "0\n");
	put_file(*dir, "sys/block/sda/queue/scheduler", "[mq-deadline] none\n");
	put_file(*dir, "sys/block/sda/queue/rotational", "1\n");
	put_file(*dir, "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "powersave\n");
	put_file(*dir, "sys/devices/system/cpu/cpu0/cpufreq/scaling_driver", "intel_pstate\n");
	put_file(*dir, "sys/devices/system/cpu/cpu0/cpufreq/energy_performance_preference", "balance_power\n");
	put_file(*dir, "sys/devices/system/cpu/cpu0/cpuidle/state0/latency", "0\n");
	put_file(*dir, "sys/devices/system/cpu/cpu0/cpuidle/state0/name", "POLL\n");
	put_file(*dir, "sys/devices/system/cpu/cpu0/cpuidle/state1/latency", "133\n");
	put_file(*dir, "sys/devices/system/cpu/cpu0/cpuidle/state1/name", "C6\n");
	put_file(*dir, "sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n");
	put_file(*dir, "sys/kernel/mm/transparent_hugepage/defrag", "[always] defer madvise never\n");
	put_file(*dir, "sys/devices/system/cpu/vulnerabilities/meltdown", "Not affected\n");
	put_file(*dir, "sys/devices/system/cpu/vulnerabilities/spectre_v2", "Mitigation: Retpolines\n");
	put_file(*dir, "proc/cpuinfo", "flags\t: fpu vme\n");
	assert_int_equal(fsroot_init(fr, *dir, true), 0);
	audit_ctx_init(c, fr);
	assert_false(c->guest);
	assert_true(c->host);
	assert_int_equal(c->nnodes, 2);
	char *why = NULL;
	char *path = xasprintf("%s/%s", FIXTURES, file);
	int r = audit_add_xml_file(c, path, &why);
	free(path);
	if (!libvirt_xml_available()) {
		assert_int_equal(r, -ENOTSUP);
		free(why);
		return;
	}
	assert_int_equal(r, 0);
	audit_run(c, o);
}

static void audit_cleanup(struct audit_ctx *c, struct audit_out *o, struct fsroot *fr, char *dir)
{
	audit_out_done(o);
	audit_ctx_done(c);
	fsroot_done(fr);
	rm_tree(dir);
	free(dir);
}

/* QEMU's latency histograms in query-blockstats, through vms_blockstats, the JSON and the text */
static void test_qmp_latency_histograms(void **state)
{
	(void)state;
	struct sample st;
	host_statics(&st);
	struct vms_analysis a;
	vms_init(&a, &st);
	/* read: 100 more in [1, 2) ms; write: reset (bins went down); flush: 1 more in the open bin */
	static const char *const js[2] = {
		"{\"vms\":[{\"pid\":100,\"vmm\":\"qemu\",\"name\":\"A\",\"threads\":[],\"taps\":[],\"qmp\":{\"blockstats\":["
		"{\"device\":\"\",\"qdev\":\"/machine/peripheral/vblk0/virtio-backend\",\"stats\":{"
		"\"rd_operations\":10,\"rd_total_time_ns\":10000000,\"wr_operations\":0,\"flush_operations\":0,"
		"\"rd_latency_histogram\":{\"boundaries\":[1000000,2000000],\"bins\":[10,0,0]},"
		"\"wr_latency_histogram\":{\"boundaries\":[1000000],\"bins\":[5,5]},"
		"\"flush_latency_histogram\":{\"boundaries\":[1000000],\"bins\":[0,0]}}}]}}],\"root\":true}",
		"{\"vms\":[{\"pid\":100,\"vmm\":\"qemu\",\"name\":\"A\",\"threads\":[],\"taps\":[],\"qmp\":{\"blockstats\":["
		"{\"device\":\"\",\"qdev\":\"/machine/peripheral/vblk0/virtio-backend\",\"stats\":{"
		"\"rd_operations\":110,\"rd_total_time_ns\":160000000,\"wr_operations\":4,\"flush_operations\":1,"
		"\"rd_latency_histogram\":{\"boundaries\":[1000000,2000000],\"bins\":[10,100,0]},"
		"\"wr_latency_histogram\":{\"boundaries\":[1000000],\"bins\":[4,0]},"
		"\"flush_latency_histogram\":{\"boundaries\":[1000000],\"bins\":[0,1]}}}]}}],\"root\":true}",
	};
	for (int i = 0; i < 2; i++) {
		struct sample s;
		sample_init(&s);
		s.mono_ns = (uint64_t)(i * 5 + 1) * 1000000000ull;
		sample_add(&s, VMSCAN_JSON_PATH, js[i], strlen(js[i]));
		vms_feed(&a, &s);
		sample_done(&s);
	}
	vms_finish(&a);
	assert_int_equal(a.n, 1);
	struct vms_blk b[4];
	assert_int_equal(vms_blockstats(&a.vms[0], b, 4, 5.0), 1);
	const struct vms_blk_hist *rd = &b[0].hist[VMS_BLK_RD], *wr = &b[0].hist[VMS_BLK_WR],
				  *fl = &b[0].hist[VMS_BLK_FLUSH];
	assert_true(rd->have && !rd->reset && rd->n == 100 && !rd->p99_open);
	assert_true(rd->p50_us > 1000 && rd->p50_us < 2000 && rd->p99_us > rd->p50_us && rd->p99_us <= 2000);
	assert_true(wr->have && wr->reset && wr->n == 4);	/* counts since the reset */
	assert_true(fl->have && fl->n == 1 && fl->p50_open && fl->p99_open && fl->p99_us == 1000);
	assert_false(rd->p50_open);
	assert_true(b[0].rd_lat_us > 1499 && b[0].rd_lat_us < 1501);	/* the mean, beside: 150 ms / 100 */
	json_t *j = vms_json(&a);
	json_t *h = json_object_get(json_array_get(json_object_get(json_object_get(json_array_get(
					   json_object_get(j, "vms"), 0), "qmp"), "blockstats"), 0), "latency_histograms");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(h, "read"), "requests")), 100);
	assert_true(json_is_true(json_object_get(json_object_get(h, "write"), "reset_during_watch")));
	assert_true(json_is_true(json_object_get(json_object_get(h, "flush"), "p99_at_least")));
	json_decref(j);
	char *txt = NULL;
	size_t tl = 0;
	FILE *m = open_memstream(&txt, &tl);
	vms_print(m, &a, false);
	fclose(m);
	assert_non_null(strstr(txt, "QEMU latency: read p50 "));
	assert_non_null(strstr(txt, "write p50 "));
	assert_non_null(strstr(txt, "since a reset"));
	assert_non_null(strstr(txt, "flush p50 >= 1000 µs p99 >= 1000 µs (1)"));
	free(txt);
	vms_done(&a);
	sample_done(&st);
}

static void test_audit_tuned(void **state)
{
	(void)state;
	struct audit_ctx c;
	struct audit_out o = { 0 };
	struct fsroot fr;
	char *dir;
	audit_fixture("tuned.xml", &c, &o, &fr, &dir);
	if (!libvirt_xml_available()) {
		audit_cleanup(&c, &o, &fr, dir);
		SKIP_BECAUSE("built without libxml2");
	}
	assert_int_equal(c.nvms, 1);
	assert_string_equal(c.vms[0].conf.name, "db1");
	assert_int_equal(c.vms[0].conf.mem_mib, 32768);
	static const char *const pass[] = { "vm-virtio-disk", "vm-virtio-nic", "vm-disk-cache-io", "vm-disk-format",
					    "vm-nic-multiqueue", "vm-numa-pinning", "vm-larger-than-node",
					    "vm-hugepages", "vm-cpu-model", "mitigations" };
	for (size_t i = 0; i < ARRAY_SIZE(pass); i++) {
		const struct audit_res *r = find_res(&o, pass[i], NULL);
		assert_non_null(r);
		if (r->r != AU_PASS)
			fail_msg("%s: %s %s", pass[i], audit_result_name(r->r), r->evidence);
	}
	/* host facts from the fixture root */
	assert_int_equal(find_res(&o, "host-io-scheduler", "nvme0n1")->r, AU_FAIL);
	assert_int_equal(find_res(&o, "host-io-scheduler", "sda")->r, AU_PASS);
	assert_int_equal(find_res(&o, "host-cpufreq", NULL)->r, AU_FAIL);
	assert_int_equal(find_res(&o, "host-cstates", NULL)->r, AU_FAIL);
	assert_int_equal(find_res(&o, "thp", NULL)->r, AU_FAIL);
	assert_null(find_res(&o, "guest-clocksource", NULL));
	audit_cleanup(&c, &o, &fr, dir);
}

static void test_audit_legacy(void **state)
{
	(void)state;
	struct audit_ctx c;
	struct audit_out o = { 0 };
	struct fsroot fr;
	char *dir;
	audit_fixture("legacy.xml", &c, &o, &fr, &dir);
	if (!libvirt_xml_available()) {
		audit_cleanup(&c, &o, &fr, dir);
		SKIP_BECAUSE("built without libxml2");
	}
	assert_int_equal(c.vms[0].conf.vcpus, 48);
	assert_int_equal(c.vms[0].conf.max_vcpus, 64);
	assert_int_equal(find_res(&o, "vm-virtio-disk", "legacy")->r, AU_FAIL);
	assert_non_null(strstr(find_res(&o, "vm-virtio-disk", "legacy")->evidence, "hda"));
	assert_int_equal(find_res(&o, "vm-disk-cache-io", "hda")->r, AU_FAIL);
	assert_int_equal(find_res(&o, "vm-disk-cache-io", "sdb")->r, AU_PASS);
	assert_int_equal(find_res(&o, "vm-disk-format", "hda")->r, AU_FAIL);
	assert_int_equal(find_res(&o, "vm-disk-format", "sdb")->r, AU_PASS);
	assert_int_equal(find_res(&o, "vm-hugepages", NULL)->r, AU_FAIL);
	assert_int_equal(find_res(&o, "vm-larger-than-node", NULL)->r, AU_FAIL);
	assert_int_equal(find_res(&o, "vm-nic-multiqueue", NULL)->r, AU_FAIL);
	unsigned nic_fail = 0, nic_pass = 0;
	for (size_t i = 0; i < o.n; i++)
		if (!strcmp(o.v[i].id, "vm-virtio-nic")) {
			nic_fail += o.v[i].r == AU_FAIL;
			nic_pass += o.v[i].r == AU_PASS;
		}
	assert_int_equal(nic_fail, 1);
	assert_int_equal(nic_pass, 1);
	assert_int_equal(find_res(&o, "vm-cpu-model", NULL)->r, AU_PASS);
	audit_cleanup(&c, &o, &fr, dir);
}

static void test_libvirt_status_and_default(void **state)
{
	(void)state;
	if (!libvirt_xml_available())
		SKIP_BECAUSE("built without libxml2");
	char *data = NULL;
	size_t len = 0;
	struct fsroot fr;
	assert_int_equal(fsroot_init(&fr, FIXTURES, true), 0);
	assert_int_equal(fsroot_read(&fr, "status.xml", &data, &len, 1 << 20), 0);
	struct vmconf c;
	struct libvirt_status st;
	const char *why;
	assert_int_equal(libvirt_xml_parse(data, len, &c, &st, &why), 0);
	assert_int_equal(st.pid, 4242);
	assert_int_equal(st.nvcpu_tids, 2);
	assert_int_equal(st.vcpu_tids[1], 4251);
	assert_string_equal(c.name, "web");
	assert_string_equal(c.cpu_model, "Skylake-Server-IBRS");
	assert_string_equal(c.disks[0].cache, "directsync");
	free(data);
	assert_int_equal(fsroot_read(&fr, "test-default.xml", &data, &len, 1 << 20), 0);
	assert_int_equal(libvirt_xml_parse(data, len, &c, NULL, &why), 0);
	assert_string_equal(c.name, "test");
	assert_int_equal(c.vcpus, 2);
	assert_int_equal(c.mem_mib, 8192);
	assert_string_equal(c.nics[0].model, "rtl8139");
	assert_string_equal(c.nics[0].ifname, "testnet0");
	free(data);
	assert_int_equal(libvirt_xml_parse("<domain", 7, &c, NULL, &why), -EINVAL);
	assert_int_equal(libvirt_xml_parse("<foo/>", 6, &c, NULL, &why), -EINVAL);
	fsroot_done(&fr);
}

/* ---- numbers in configurations are range-checked like the command line's (issue 16) ---- */

static void test_config_numbers_range_checked(void **state)
{
	(void)state;
	struct vmconf c;
	const char *why;
	char buf[4096];
	size_t len;
	if (libvirt_xml_available()) {
		static const char bad[] =
			"<domain type='kvm'><name>bad</name><memory unit='KiB'>-5</memory>"
			"<vcpu>99999999999999999999</vcpu><cpu><topology sockets='0' cores='2' threads='99'/></cpu>"
			"<devices><disk type='file' device='disk'><driver name='qemu' type='raw' queues='-1'/>"
			"<source file='/x.img'/><target dev='vda' bus='virtio'/></disk>"
			"<interface type='bridge'><model type='virtio'/><driver name='vhost' queues='4096'/></interface>"
			"</devices></domain>";
		assert_int_equal(libvirt_xml_parse(bad, sizeof(bad) - 1, &c, NULL, &why), 0);
		/* not 4294967295 vCPUs and 18014398509481983 MiB: unknown, and said so */
		assert_int_equal(c.vcpus, 0);
		assert_int_equal(c.max_vcpus, 0);
		assert_int_equal(c.mem_mib, 0);
		assert_int_equal(c.sockets, 0);
		assert_int_equal(c.cores, 2);
		assert_int_equal(c.threads, 0);
		assert_int_equal(c.disks[0].num_queues, 0);
		assert_int_equal(c.nics[0].queues, 0);
		assert_non_null(strstr(c.rejected, "<vcpu> '99999999999999999999' is not a whole number from 1 to 4096"));
		assert_non_null(strstr(c.rejected, "<memory unit='KiB'> '-5'"));
		assert_non_null(strstr(c.rejected, "queues> '-1'"));
		assert_non_null(strstr(c.rejected, "queues> '4096'"));
		static const char units[] = "<domain><name>u</name><memory unit='GiB'>2</memory><vcpu current='2'>4</vcpu>"
					    "</domain>";
		assert_int_equal(libvirt_xml_parse(units, sizeof(units) - 1, &c, NULL, &why), 0);
		assert_true(c.mem_mib == 2048 && c.vcpus == 2 && c.max_vcpus == 4 && !c.rejected[0]);
		static const char more[] = "<domain><memory>1048576</memory><vcpu current='8'>4</vcpu></domain>";
		assert_int_equal(libvirt_xml_parse(more, sizeof(more) - 1, &c, NULL, &why), 0);
		assert_int_equal(c.mem_mib, 1024); /* KiB by default */
		assert_int_equal(c.vcpus, 0);
		assert_non_null(strstr(c.rejected, "more than <vcpu> 4"));
		static const char dec[] = "<domain><memory unit='GB'>1</memory><vcpu>1</vcpu></domain>";
		assert_int_equal(libvirt_xml_parse(dec, sizeof(dec) - 1, &c, NULL, &why), 0);
		assert_int_equal(c.mem_mib, 953); /* 10^9 bytes */
		static const char huge[] = "<domain><memory unit='EiB'>2</memory><vcpu>1</vcpu></domain>";
		assert_int_equal(libvirt_xml_parse(huge, sizeof(huge) - 1, &c, NULL, &why), 0);
		assert_int_equal(c.mem_mib, 0);
		assert_non_null(strstr(c.rejected, "outside 1 MiB to 1 PiB"));
	}
	/* QEMU: a rejected -smp or -m is unknown, not QEMU's default 1 vCPU / 128 MiB */
	static const char *const q1[] = { "qemu-system-x86_64", "-smp", "99999999999999999999", "-m", "-5",
					   "-netdev", "tap,id=n0,queues=-1", NULL };
	len = argv_buf(buf, sizeof(buf), q1);
	assert_int_equal(qemu_cmdline_parse(buf, len, &c), 0);
	assert_int_equal(c.vcpus, 0);
	assert_int_equal(c.mem_mib, 0);
	assert_int_equal(c.nics[0].queues, 0);
	assert_non_null(strstr(c.rejected, "-smp cpus= '99999999999999999999'"));
	assert_non_null(strstr(c.rejected, "-m size= '-5'"));
	assert_non_null(strstr(c.rejected, "-netdev queues= '-1'"));
	static const char *const q2[] = { "qemu-system-x86_64", "-smp", "sockets=1024,cores=4096,threads=8", "-m",
					   "1.5G", NULL };
	len = argv_buf(buf, sizeof(buf), q2);
	assert_int_equal(qemu_cmdline_parse(buf, len, &c), 0);
	assert_int_equal(c.vcpus, 0); /* 33554432 vCPUs: no product wraps around */
	assert_non_null(strstr(c.rejected, "is more than 4096 vCPUs"));
	assert_int_equal(c.mem_mib, 1536);
	static const char *const q3[] = { "qemu-system-x86_64", "-smp", "8,maxcpus=4", "-m", "4x", NULL };
	len = argv_buf(buf, sizeof(buf), q3);
	assert_int_equal(qemu_cmdline_parse(buf, len, &c), 0);
	assert_true(c.vcpus == 0 && c.mem_mib == 0);
	assert_non_null(strstr(c.rejected, "cpus=8 is more than maxcpus=4"));
	/* the other VMMs */
	static const char *const ch[] = { "cloud-hypervisor", "--cpus", "boot=-1,max=4", "--memory", "size=99999999999T",
					   NULL };
	len = argv_buf(buf, sizeof(buf), ch);
	assert_int_equal(vmm_cmdline_parse("cloud-hypervisor", buf, len, &c, NULL, 0), 0);
	assert_true(c.vcpus == 0 && c.max_vcpus == 4 && c.mem_mib == 0);
	assert_non_null(strstr(c.rejected, "--cpus boot= '-1'"));
	static const char *const kt[] = { "lkvm", "run", "-c", "2abc", "-m", "512", NULL };
	len = argv_buf(buf, sizeof(buf), kt);
	assert_int_equal(vmm_cmdline_parse("kvmtool", buf, len, &c, NULL, 0), 0);
	assert_true(c.vcpus == 0 && c.mem_mib == 512);
	static const char fc[] = "{\"machine-config\":{\"vcpu_count\":\"8\",\"mem_size_mib\":-1}}";
	memset(&c, 0, sizeof(c));
	assert_int_equal(vmm_firecracker_config(fc, sizeof(fc) - 1, &c), 0);
	assert_true(c.vcpus == 0 && c.mem_mib == 0);
	assert_non_null(strstr(c.rejected, "vcpu_count"));
	assert_non_null(strstr(c.rejected, "mem_size_mib"));
	/* the helpers at their limits */
	uint64_t v;
	assert_int_equal(conf_uint("4096", 1, 4096, &v), 0);
	assert_int_equal(conf_uint("4097", 1, 4096, &v), -ERANGE);
	assert_int_equal(conf_uint("0", 1, 4096, &v), -ERANGE);
	assert_int_equal(conf_uint("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(conf_uint("+4", 1, 4096, &v), -EINVAL);
	assert_int_equal(conf_uint(" 4", 1, 4096, &v), -EINVAL);
	assert_int_equal(conf_uint("", 1, 4096, &v), -EINVAL);
	assert_int_equal(conf_size_mib("1", "M", false, false, &v), 0);
	assert_int_equal(conf_size_mib("1023", "KiB", false, true, &v), -ERANGE); /* under 1 MiB */
	assert_int_equal(conf_size_mib("1P", "M", false, false, &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(conf_size_mib("1025T", "M", false, false, &v), -ERANGE);
	assert_int_equal(conf_size_mib("1GB", "M", false, false, &v), -EINVAL); /* decimal units: libvirt only */
	assert_int_equal(conf_size_mib("1.5", "G", false, false, &v), -EINVAL);
}

/* A VM larger than a single-node host is larger than its node; a rejected size is unknown, not a pass */
static void test_audit_sizes_on_a_small_host(void **state)
{
	(void)state;
	if (!libvirt_xml_available())
		SKIP_BECAUSE("built without libxml2");
	char *dir = make_tempdir();
	put_file(dir, "root/proc/meminfo", "MemTotal: 4194304 kB\n");
	put_file(dir, "root/proc/cpuinfo", "flags\t: fpu vme\n");
	put_file(dir, "root/sys/devices/system/cpu/online", "0-1\n");
	put_file(dir, "root/sys/devices/system/node/node0/cpulist", "0-1\n");
	put_file(dir, "root/sys/devices/system/cpu/cpu0/cpuidle/state0/name", "POLL\n");
	put_file(dir, "root/sys/devices/system/cpu/cpu0/cpuidle/state0/latency", "0\n");
	put_file(dir, "root/sys/devices/system/cpu/cpu0/cpuidle/state1/name", "C6\n");
	put_file(dir, "root/sys/devices/system/cpu/cpu0/cpuidle/state1/latency", "-133\n"); /* damaged */
	put_file(dir, "big.xml", "<domain type='kvm'><name>big</name><memory unit='GiB'>2</memory><vcpu>4</vcpu></domain>");
	put_file(dir, "bad.xml", "<domain type='kvm'><name>bad</name><memory unit='KiB'>-5</memory>"
				 "<vcpu>99999999999999999999</vcpu></domain>");
	put_file(dir, "fits.xml", "<domain type='kvm'><name>fits</name><memory unit='GiB'>1</memory><vcpu>2</vcpu></domain>");
	char *root = xasprintf("%s/root", dir);
	struct fsroot fr;
	assert_int_equal(fsroot_init(&fr, root, true), 0);
	struct audit_ctx c;
	audit_ctx_init(&c, &fr);
	assert_int_equal(c.ncpus, 2);
	static const char *const files[] = { "big.xml", "bad.xml", "fits.xml" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char *why = NULL, *p = xasprintf("%s/%s", dir, files[i]);
		assert_int_equal(audit_add_xml_file(&c, p, &why), 0);
		free(p);
	}
	struct audit_out o;
	audit_run(&c, &o);
	const struct audit_res *r = find_res(&o, "vm-larger-than-node", "big");
	assert_int_equal(r->r, AU_FAIL);
	assert_non_null(strstr(r->evidence, "larger than this single-node host (2 CPUs"));
	assert_int_equal(find_res(&o, "vm-larger-than-node", "fits")->r, AU_PASS);
	r = find_res(&o, "vm-larger-than-node", "bad");
	assert_int_equal(r->r, AU_UNKNOWN);
	assert_non_null(strstr(r->note, "99999999999999999999"));
	assert_int_equal(find_res(&o, "vm-hugepages", "bad")->r, AU_UNKNOWN);
	/* a C-state latency that is not a number is not 0 us, and not a pass */
	assert_int_equal(find_res(&o, "host-cstates", NULL)->r, AU_UNKNOWN);
	json_t *j = audit_json(&c, &o);
	json_t *vm = json_array_get(json_object_get(j, "vms"), 1);
	assert_true(json_is_null(json_object_get(vm, "vcpus")) && json_is_null(json_object_get(vm, "memory_mib")));
	assert_non_null(strstr(json_string_value(json_object_get(vm, "rejected")), "<vcpu>"));
	json_decref(j);
	audit_out_done(&o);
	audit_ctx_done(&c);
	fsroot_done(&fr);

	/* an empty root: nothing of the live machine stands in for it (issue 16, item 7) */
	put_file(dir, "empty/.keep", "");
	char *empty = xasprintf("%s/empty", dir);
	assert_int_equal(fsroot_init(&fr, empty, true), 0);
	audit_ctx_init(&c, &fr);
	assert_int_equal(c.ncpus, 0);
	assert_false(c.have_proc || c.have_sys || c.host || c.guest);
	audit_ctx_done(&c);
	fsroot_done(&fr);
	free(empty);
	free(root);
	rm_tree(dir);
	free(dir);
}

/* ---- KVM debugfs and the disks' backing devices, on fixture roots ---- */

static void test_kvm_debugfs_fixture(void **state)
{
	(void)state;
	char *dir = make_tempdir();
	put_file(dir, "a/sys/kernel/debug/kvm/1234-11/pages_4k", "1000\n");
	put_file(dir, "a/sys/kernel/debug/kvm/1234-11/pages_2m", "50\n");
	put_file(dir, "a/sys/kernel/debug/kvm/1234-11/pages_1g", "0\n");
	put_file(dir, "a/sys/kernel/debug/kvm/999-12/pages_2m", "7\n");
	put_file(dir, "c/sys/kernel/debug/tracing/README", "x\n");
	char *empty = xasprintf("%s/b/sys/kernel/debug/x", dir);
	mkparents(empty);
	free(empty);
	char *ra = xasprintf("%s/a", dir), *rb = xasprintf("%s/b", dir), *rc = xasprintf("%s/c", dir);
	struct fsroot fa, fb, fc;
	assert_int_equal(fsroot_init(&fa, ra, true), 0);
	assert_int_equal(fsroot_init(&fb, rb, true), 0);
	assert_int_equal(fsroot_init(&fc, rc, true), 0);
	char kd[32], why[128];
	assert_int_equal(vmscan_kvm_dir(&fa, 1234, kd, sizeof(kd), why, sizeof(why)), 0);
	assert_string_equal(kd, "1234-11");
	/* "12-" must not match "1234-11"; debugfs readable, no VM of this process */
	assert_int_equal(vmscan_kvm_dir(&fa, 12, kd, sizeof(kd), why, sizeof(why)), -ENOENT);
	assert_string_equal(kd, "");
	assert_string_equal(why, "");
	assert_true(vmscan_kvm_dir(&fb, 1234, kd, sizeof(kd), why, sizeof(why)) < 0);
	assert_non_null(strstr(why, "debugfs not mounted"));
	assert_true(vmscan_kvm_dir(&fc, 1234, kd, sizeof(kd), why, sizeof(why)) < 0);
	assert_non_null(strstr(why, "kvm module not loaded"));

	/* the sampler's files, through the analysis: a KVM VM with its pages, a TCG one, one without debugfs */
	const char *js = "{\"vms\":["
			 "{\"pid\":1234,\"vmm\":\"qemu\",\"name\":\"K\",\"threads\":[{\"tid\":1235,\"kind\":\"vcpu\","
			 "\"vcpu\":0,\"comm\":\"CPU 0/KVM\"}],\"kvm_debugfs\":{\"dir\":\"1234-11\"},"
			 "\"disks\":[{\"id\":\"d0\",\"file\":\"/img/k.raw\",\"dev\":\"sdz2\",\"devt\":\"8:2\","
			 "\"disk\":\"sdz\"},{\"id\":\"d1\",\"file\":\"/run/x.raw\",\"error\":\"no block device under it\"}]},"
			 "{\"pid\":200,\"vmm\":\"qemu\",\"name\":\"T\",\"threads\":[],"
			 "\"kvm_debugfs\":{\"error\":\"ignored under TCG\"}},"
			 "{\"pid\":300,\"vmm\":\"qemu\",\"name\":\"N\",\"threads\":[],"
			 "\"kvm_debugfs\":{\"error\":\"not readable (debugfs not mounted at /sys/kernel/debug; we do "
			 "not mount it)\"}}],\"root\":true}";
	struct sample st;
	sample_init(&st);
	sample_add(&st, "sys/devices/system/cpu/online", "0-3\n", 4);
	struct vms_analysis a;
	vms_init(&a, &st);
	for (int i = 0; i < 3; i++) {
		struct sample s;
		sample_init(&s);
		s.mono_ns = (uint64_t)i * 1000000000ull;
		sample_add(&s, VMSCAN_JSON_PATH, js, strlen(js));
		static const char cl[] = "qemu-system-x86_64\0-accel\0tcg\0";
		sample_add(&s, "proc/200/cmdline", cl, sizeof(cl) - 1);
		/* 100 reads and 100 writes a second, 2 ms each */
		char ds[512];
		unsigned n = (unsigned)i * 100;
		snprintf(ds, sizeof(ds),
			 "   8       0 sdz %u 0 %u %u %u 0 %u %u 0 %u %u 0 0 0 0 0 0\n"
			 "   8       2 sdz2 %u 0 %u %u %u 0 %u %u 0 %u %u 0 0 0 0 0 0\n",
			 n, n * 8, n * 2, n, n * 8, n * 2, (unsigned)i * 500, n * 4, n, n * 8, n * 2, n, n * 8, n * 2,
			 (unsigned)i * 500, n * 4);
		sample_add(&s, "proc/diskstats", ds, strlen(ds));
		char path[96], v[32];
		static const char *const pg[] = { "pages_4k", "pages_2m", "pages_1g" };
		static const unsigned vals[] = { 1000, 50, 0 };
		for (int k = 0; k < 3; k++) {
			snprintf(path, sizeof(path), "sys/kernel/debug/kvm/1234-11/%s", pg[k]);
			snprintf(v, sizeof(v), "%u\n", vals[k] + (unsigned)i);
			sample_add(&s, path, v, strlen(v));
		}
		vms_feed(&a, &s);
		sample_done(&s);
	}
	vms_finish(&a);
	assert_int_equal(a.n, 3);
	const struct vms_vm *k = &a.vms[0], *t = &a.vms[1], *nv = &a.vms[2];
	assert_true(k->have_kvm_pages);
	assert_int_equal(k->kvm_pages[1], 52);
	assert_null(vms_kvm_pages_why(k));
	assert_non_null(strstr(vms_kvm_pages_why(t), "not available under TCG"));
	assert_non_null(strstr(vms_kvm_pages_why(nv), "debugfs not mounted"));
	assert_int_equal(k->ndisks, 2);
	struct vms_disk_rate r;
	assert_true(vms_disk_rate(&k->disks[0], &r));
	assert_true(r.rd_s > 99 && r.rd_s < 101);
	assert_true(r.await_ms > 1.99 && r.await_ms < 2.01);
	assert_false(vms_disk_rate(&k->disks[1], &r));
	json_t *j = vms_json(&a);
	json_t *vm0 = json_array_get(json_object_get(j, "vms"), 0);
	json_t *kp = json_object_get(json_object_get(vm0, "memory"), "kvm_pages");
	assert_int_equal(json_integer_value(json_object_get(kp, "2m")), 52);
	json_t *bk = json_object_get(json_array_get(json_object_get(vm0, "disks"), 0), "backing");
	assert_string_equal(json_string_value(json_object_get(bk, "disk")), "sdz");
	assert_true(json_real_value(json_object_get(bk, "await_ms")) > 1.99);
	json_t *bk1 = json_object_get(json_array_get(json_object_get(vm0, "disks"), 1), "backing");
	assert_non_null(strstr(json_string_value(json_object_get(bk1, "error")), "no block device"));
	json_t *vm1 = json_array_get(json_object_get(j, "vms"), 1);
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(vm1, "memory"), "kvm_pages_unavailable")),
			       "TCG"));
	json_decref(j);
	vms_done(&a);
	sample_done(&st);
	fsroot_done(&fa);
	fsroot_done(&fb);
	fsroot_done(&fc);
	rm_tree(dir);
	free(ra);
	free(rb);
	free(rc);
	free(dir);
}

static void test_backing_device_fixture(void **state)
{
	(void)state;
	char *dir = make_tempdir();
	put_file(dir, "img/disk.raw", "x");
	char *img = xasprintf("%s/img/disk.raw", dir);
	struct stat sb;
	assert_int_equal(stat(img, &sb), 0);
	free(img);
	/* the image's real device, laid out as a partition sdz2 of disk sdz */
	char *devt = xasprintf("%u:%u", major(sb.st_dev), minor(sb.st_dev));
	put_file(dir, "sys/devices/pci0000:00/block/sdz/sdz2/partition", "2\n");
	char *lnk = xasprintf("%s/sys/dev/block/%s", dir, devt);
	mkparents(lnk);
	assert_int_equal(symlink("../../devices/pci0000:00/block/sdz/sdz2", lnk), 0);
	struct fsroot fr;
	assert_int_equal(fsroot_init(&fr, dir, false), 0);
	struct vm_backing b;
	memset(&b, 0, sizeof(b));
	assert_int_equal(vmscan_backing(&fr, 1, "/img/disk.raw", &b), 0);
	assert_string_equal(b.dev, "sdz2");
	assert_string_equal(b.disk, "sdz");
	assert_string_equal(b.devt, devt);
	assert_string_equal(b.err, "");
	/* a whole disk, not a partition */
	unlink(lnk);
	put_file(dir, "sys/devices/virtual/block/vdq/size", "1\n");
	assert_int_equal(symlink("../../devices/virtual/block/vdq", lnk), 0);
	assert_int_equal(vmscan_backing(&fr, 1, "/img/disk.raw", &b), 0);
	assert_string_equal(b.dev, "vdq");
	assert_string_equal(b.disk, "vdq");
	/* no block device (tmpfs, overlay): degrade with a reason */
	unlink(lnk);
	assert_true(vmscan_backing(&fr, 1, "/img/disk.raw", &b) < 0);
	assert_string_equal(b.dev, "");
	assert_non_null(strstr(b.err, "no block device"));
	assert_true(vmscan_backing(&fr, 1, "/img/missing.raw", &b) < 0);
	assert_non_null(strstr(b.err, "cannot stat"));
	assert_true(vmscan_backing(&fr, 1, "rbd:pool/img", &b) < 0);
	assert_non_null(strstr(b.err, "not a local file"));
	fsroot_done(&fr);
	rm_tree(dir);
	free(lnk);
	free(devt);
	free(dir);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_cmdline_drive_netdev),
		cmocka_unit_test(test_cmdline_blockdev),
		cmocka_unit_test(test_cmdline_other_vmms),
		cmocka_unit_test(test_qmp_latency_histograms),
		cmocka_unit_test(test_procfiles),
		cmocka_unit_test(test_overlap_and_demand),
		cmocka_unit_test(test_pinning_rule),
		cmocka_unit_test(test_overlap_idle_is_ok),
		cmocka_unit_test(test_audit_tuned),
		cmocka_unit_test(test_audit_legacy),
		cmocka_unit_test(test_libvirt_status_and_default),
		cmocka_unit_test(test_config_numbers_range_checked),
		cmocka_unit_test(test_audit_sizes_on_a_small_host),
		cmocka_unit_test(test_kvm_debugfs_fixture),
		cmocka_unit_test(test_backing_device_fixture),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
