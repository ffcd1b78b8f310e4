/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Hardware and hypervisor errors in the kernel log: /dev/kmsg records made
 * from the kernel's own printk formats (the source of each is named in
 * parse/hwlog.h; pr_fmt prefixes included as the kernel adds them) through
 * the record parser and the classifier, then kmsg.json documents as the
 * reader writes them through the analysis and hardware-errors, with the
 * attribution of a split lock to the VM whose vCPU thread trapped.
 */
#include "harness.h"

#include "analysis/analysis.h"
#include "analysis/hwlog.h"
#include "analysis/rules_hw.h"
#include "analysis/vms.h"
#include "parse/hwlog.h"
#include "parse/memparse.h"

/* The message of a /dev/kmsg record, parsed as the reader parses it. */
static const char *msg_of(const char *rec, struct kmsg_rec *r)
{
	assert_int_equal(kmsg_parse(rec, strlen(rec), r), 0);
	return r->msg;
}

static void expect(const char *rec, const char *kind, bool uncorrected, unsigned count, const char *where)
{
	struct kmsg_rec r;
	struct hwlog_rec h;
	const char *m = msg_of(rec, &r);
	assert_int_equal(r.facility, 0);
	if (hwlog_parse(m, r.msglen, &h) != 0)
		fail_msg("not recognised: %s", rec);
	assert_string_equal(h.kind, kind);
	assert_true(hwlog_kind(h.kind));
	assert_int_equal(h.uncorrected, uncorrected);
	assert_int_equal(h.count, count);
	if (where)
		assert_string_equal(h.where, where);
	/* none of them is a sign of a stall to execution-stalls, but a hard lockup is both */
	const char *stall = kmsg_classify(m, r.msglen);
	if (strcmp(kind, "nmi-watchdog") == 0)
		assert_string_equal(stall, "hard-lockup");
	else
		assert_null(stall);
}

static void test_formats(void **state)
{
	(void)state;
	/* drivers/edac/edac_mc.c, edac_mc_printk: "EDAC MC%d: " "%d CE %s%son %s (%s %s - %s)" */
	expect("4,1201,93826117,-;EDAC MC0: 1 CE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0 (channel:1 "
	       "slot:0 page:0x2d6a3 offset:0x40 grain:32 syndrome:0x0 - area:DRAM err_code:0001:0091 socket:0 ha:0 "
	       "channel_mask:2 rank:0)\n",
	       "edac-ce", false, 1, "MC0 CPU_SrcID#0_Ha#0_Chan#1_DIMM#0");
	expect("4,1202,93826120,-;EDAC MC1: 3 CE on DIMM_B2 (csrow:2 channel:0 page:0x1f offset:0x0 grain:8 "
	       "syndrome:0x9b)\n",
	       "edac-ce", false, 3, "MC1 DIMM_B2");
	expect("4,1203,93826190,-;EDAC MC0: 1 UE memory read error on any memory (page:0x0 offset:0x0 grain:32)\n",
	       "edac-ue", true, 1, "MC0 any memory");
	/* arch/x86/kernel/cpu/mce/core.c, __print_mce (pr_fmt "mce: ", HW_ERR "[Hardware Error]: ") */
	expect("0,1300,120000000,-;mce: [Hardware Error]: CPU 3: Machine Check: 0 Bank 7: 8c00004000010091\n", "mce",
	       false, 1, "CPU 3 bank 7");
	expect("0,1301,120000001,-;mce: [Hardware Error]: CPU 0: Machine Check Exception: 5 Bank 1: "
	       "b200000000000000\n",
	       "mce", true, 1, "CPU 0 bank 1");
	expect("6,1302,120000002,-;mce: [Hardware Error]: Machine check events logged\n", "mce-logged", false, 1, "");
	/* drivers/firmware/efi/cper.c through ghes */
	expect("3,1400,130000000,-;{1}[Hardware Error]: event severity: corrected\n", "apei", false, 1, NULL);
	expect("0,1401,130000001,-;{2}[Hardware Error]: event severity: fatal\n", "apei", true, 1, NULL);
	/* mm/memory-failure.c (pr_fmt "Memory failure: ") */
	expect("3,1500,140000000,-;Memory failure: 0x2d6a3: recovery action for dirty LRU page: Recovered\n",
	       "memory-failure", true, 1, "pfn 0x2d6a3");
	/* arch/x86/kernel/cpu/mce/therm_throt.c */
	expect("4,1600,150000000,-;mce: CPU2: Core temperature is above threshold, cpu clock is throttled (total "
	       "events = 183)\n",
	       "thermal-throttle", false, 1, NULL);
	/* arch/x86/kvm/vmx/vmx.c dump_vmcs (pr_fmt KBUILD_MODNAME ": "), svm.c dump_vmcb */
	expect("4,1700,160000000,-;kvm_intel: set kvm_intel.dump_invalid_vmcs=1 to dump internal KVM state.\n",
	       "kvm-entry-failed", false, 1, NULL);
	expect("3,1701,160000001,-;kvm_intel: VMCS 00000000a5c3f2e1, last attempted VM-entry on CPU 5\n",
	       "kvm-entry-failed", false, 1, NULL);
	expect("4,1702,160000002,-;kvm_amd: set kvm_amd.dump_invalid_vmcb=1 to dump internal KVM state.\n",
	       "kvm-entry-failed", false, 1, NULL);
	/* kernel/sched/rt.c */
	expect("4,1800,170000000,-;sched: RT throttling activated\n", "rt-throttling", false, 1, NULL);
	/* arch/x86/kernel/nmi.c */
	expect("0,1900,180000000,-;Uhhuh. NMI received for unknown reason 21 on CPU 0.\n", "nmi-unknown", false, 1, NULL);
	expect("0,1901,180000001,-;NMI: PCI system error (SERR) for reason a0 on CPU 0.\n", "nmi-serr", true, 1, NULL);
	expect("0,1902,180000002,-;NMI: IOCK error (debug interrupt?) for reason 71 on CPU 0.\n", "nmi-iochk", true, 1,
	       NULL);
	/* kernel/watchdog_perf.c (pr_fmt "NMI watchdog: ") */
	expect("0,1950,185000000,-;NMI watchdog: Watchdog detected hard LOCKUP on cpu 3\n", "nmi-watchdog", false, 1,
	       NULL);

	/* arch/x86/kernel/cpu/bus_lock.c (pr_fmt "x86/split lock detection: "): the thread that trapped */
	struct kmsg_rec r;
	struct hwlog_rec h;
	const char *m = msg_of("4,2000,190000000,-;x86/split lock detection: #AC: CPU 1/KVM/4321 took a split_lock trap "
			       "at address: 0xfffff80104613be8\n", &r);
	assert_int_equal(hwlog_parse(m, r.msglen, &h), 0);
	assert_string_equal(h.kind, "split-lock");
	assert_int_equal(h.pid, 4321);
	assert_string_equal(h.comm, "CPU 1/KVM");
	m = msg_of("4,2001,190000001,-;x86/split lock detection: #DB: CHTTPClientThre/90929 took a bus_lock trap at "
		   "address: 0xf098fc4f\n", &r);
	assert_int_equal(hwlog_parse(m, r.msglen, &h), 0);
	assert_string_equal(h.kind, "bus-lock");
	assert_int_equal(h.pid, 90929);
	assert_string_equal(h.comm, "CHTTPClientThre");
	m = msg_of("4,2002,190000002,-;x86/split lock detection: #AC: fc_vcpu 0/257319 fatal split_lock trap at "
		   "address: 0x40179d\n", &r);
	assert_int_equal(hwlog_parse(m, r.msglen, &h), 0);
	assert_int_equal(h.pid, 257319);
	assert_string_equal(h.comm, "fc_vcpu 0");
	/* memory failure that names the process it killed */
	m = msg_of("3,2100,200000000,-;Memory failure: 0x12345: Sending SIGBUS to qemu-system-x86:7788 due to hardware "
		   "memory corruption\n", &r);
	assert_int_equal(hwlog_parse(m, r.msglen, &h), 0);
	assert_int_equal(h.pid, 7788);
	assert_string_equal(h.comm, "qemu-system-x86");

	/* not hardware: ordinary lines, the "info" severity, and cut-off records */
	static const char *const no[] = {
		"6,1,2,-;EDAC MC: Ver: 3.0.0\n",
		"6,1,2,-;EDAC sbridge: Seeking for: PCI ID 8086:2fa0\n",
		"3,1,2,-;{1}[Hardware Error]: event severity: info\n",
		"6,1,2,-;mce: CPU0: Thermal monitoring enabled (TM1)\n",
		"4,1,2,-;x86/split lock detection: #AC: crashing the kernel on kernel split_locks and warning on user-space split_locks\n",
		"4,1,2,-;x86/split lock detection: #AC: /0 took a split_lock trap at address: 0x0\n",
		"4,1,2,-;EDAC MC0: 1",
		"0,1,2,-;mce: [Hardware Error]: CPU 3: Machine Check: 0 Bank 7",
	};
	for (size_t i = 0; i < ARRAY_SIZE(no); i++) {
		m = msg_of(no[i], &r);
		int rc = hwlog_parse(m, r.msglen, &h);
		if (rc == 0 && strcmp(h.kind, "split-lock") == 0)
			assert_int_equal(h.pid, -1); /* "/0": not a task */
		else if (rc == 0)
			fail_msg("recognised: %s as %s", no[i], h.kind);
	}
	/* a line someone wrote to /dev/kmsg carries the user facility: the reader takes none of these from it */
	m = msg_of("12,3000,210000000,-;EDAC MC0: 1 UE memory read error on DIMM_A1 (page:0x0 offset:0x0 grain:32)\n", &r);
	assert_int_equal(r.facility, 1);
}

/* kmsg.json as the reader writes it, one document per sample */
static void feed_doc(struct analysis *an, uint64_t t, const char *matches)
{
	struct sample s;
	sample_init(&s);
	s.mono_ns = t;
	char *doc = xasprintf("{\"available\":true,\"matches\":[%s]}", matches);
	sample_add(&s, ".hiddenq/kmsg.json", doc, strlen(doc));
	free(doc);
	analysis_feed(an, &s);
	sample_done(&s);
}

static struct finding *judge(struct analysis *an, struct findings *fs)
{
	analysis_finish(an);
	struct finding *f = findings_add(fs, "hardware-errors", 0, "hardware", "hardware / KVM");
	rule_hwlog(an, f);
	return f;
}

static const char *ev_label_of(const struct finding *f, enum metric_id m, enum label_id l)
{
	for (size_t i = 0; i < f->nev; i++)
		if (f->ev[i].id == m && ev_label_value(&f->ev[i], l))
			return ev_label_value(&f->ev[i], l);
	return NULL;
}

static void test_rule(void **state)
{
	(void)state;
	struct sample st;
	sample_init(&st);
	/* a host with one VM: vCPU 1 of web1 is thread 4321 */
	struct analysis an;
	analysis_init(&an, &st, "test");
	struct sample s;
	sample_init(&s);
	s.mono_ns = 1000000000ull;
	const char *vj = "{\"vms\":[{\"pid\":4300,\"vmm\":\"qemu\",\"name\":\"web1\",\"threads\":[{\"tid\":4321,\"kind\":"
			 "\"vcpu\",\"vcpu\":1,\"comm\":\"CPU 1/KVM\"}],\"taps\":[]}],\"root\":true}";
	sample_add(&s, VMSCAN_JSON_PATH, vj, strlen(vj));
	sample_add(&s, ".hiddenq/kmsg.json", "{\"available\":true,\"matches\":[]}", 32);
	analysis_feed(&an, &s);
	sample_done(&s);
	/* before the watch: an old corrected error (from the ring's history); during: the split lock */
	feed_doc(&an, 2000000000ull,
		 "{\"usec\":5000000,\"prio\":4,\"kind\":\"edac-ce\",\"history\":true,\"kernel\":true,\"msg\":\"EDAC MC0: "
		 "2 CE on DIMM_A1 (page:0x1 offset:0x0 grain:8 syndrome:0x0)\"},"
		 "{\"usec\":9000000,\"prio\":4,\"kind\":\"split-lock\",\"history\":false,\"kernel\":true,\"msg\":\"x86/split "
		 "lock detection: #AC: CPU 1/KVM/4321 took a split_lock trap at address: 0xfffff80104613be8\"},"
		 /* a line written to /dev/kmsg by someone: not counted */
		 "{\"usec\":9100000,\"prio\":4,\"kind\":\"edac-ue\",\"history\":false,\"kernel\":false,\"msg\":\"EDAC MC0: "
		 "1 UE on DIMM_A1 (page:0x1 offset:0x0 grain:8)\"}");
	struct findings fs = { 0 };
	struct finding *f = judge(&an, &fs);
	assert_int_equal(f->sev, SEV_WARN);
	assert_non_null(strstr(f->title, "split-lock traps: 1 by VM web1 (CPU 1/KVM/4321) during the watch; 2 other events"));
	assert_string_equal(ev_label_of(f, M_HWLOG_DURING, LBL_VM), "web1");
	assert_string_equal(ev_label_of(f, M_HWLOG_BEFORE, LBL_KIND), "edac-ce");
	assert_int_equal(an.hw.nkinds, 2);
	findings_done(&fs);
	analysis_unfinish(&an);
	/* the uncorrected error during the watch outranks it */
	feed_doc(&an, 3000000000ull,
		 "{\"usec\":9900000,\"prio\":0,\"kind\":\"mce\",\"history\":false,\"kernel\":true,\"msg\":\"mce: "
		 "[Hardware Error]: CPU 0: Machine Check Exception: 5 Bank 1: b200000000000000\"}");
	memset(&fs, 0, sizeof(fs));
	f = judge(&an, &fs);
	assert_int_equal(f->sev, SEV_CRIT);
	assert_non_null(strstr(f->title, "machine checks: 1 on CPU 0 bank 1 during the watch; 3 other events"));
	assert_true(f->nnext >= 2);
	findings_done(&fs);
	analysis_done(&an);

	/* only history, of a warn kind: ok, with the records as evidence */
	analysis_init(&an, &st, "test");
	feed_doc(&an, 1000000000ull,
		 "{\"usec\":1000,\"prio\":4,\"kind\":\"rt-throttling\",\"history\":true,\"kernel\":true,\"msg\":\"sched: "
		 "RT throttling activated\"}");
	feed_doc(&an, 2000000000ull, "");
	memset(&fs, 0, sizeof(fs));
	f = judge(&an, &fs);
	assert_int_equal(f->sev, SEV_OK);
	assert_non_null(strstr(f->title, "RT throttling: 1 logged before the watch"));
	findings_done(&fs);
	analysis_done(&an);

	/* nothing: ok; unreadable: unknown */
	analysis_init(&an, &st, "test");
	feed_doc(&an, 1000000000ull, "");
	memset(&fs, 0, sizeof(fs));
	assert_int_equal(judge(&an, &fs)->sev, SEV_OK);
	findings_done(&fs);
	analysis_done(&an);
	analysis_init(&an, &st, "test");
	struct sample u;
	sample_init(&u);
	u.mono_ns = 1;
	const char *ud = "{\"available\":false,\"error\":\"Operation not permitted\",\"matches\":[]}";
	sample_add(&u, ".hiddenq/kmsg.json", ud, strlen(ud));
	analysis_feed(&an, &u);
	sample_done(&u);
	memset(&fs, 0, sizeof(fs));
	f = judge(&an, &fs);
	assert_int_equal(f->sev, SEV_UNKNOWN);
	assert_non_null(strstr(f->title, "Operation not permitted"));
	findings_done(&fs);
	analysis_done(&an);
	sample_done(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
