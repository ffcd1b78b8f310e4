/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The memory layer: its parsers (src/parse/memparse.c) on real-looking and
 * damaged text, and the stall attribution of src/analysis/mem.c through
 * mem_feed() on synthetic samples (stalls JSON, /proc/stat steal, /proc/vmstat
 * counters written by hand at chosen monotonic times).  Expected numbers are
 * computed here from what the test put in.
 */
#include "harness.h"

#include <math.h>

#include "analysis/analysis.h"
#include "analysis/bpfhist.h"
#include "analysis/mem.h"
#include "parse/memparse.h"
#include "sources/stallmon.h"

/* ---------------- kv_extract ---------------- */

static void test_key_tables_sorted(void **state)
{
	(void)state;
	for (int i = 1; i < VK_N; i++)
		assert_true(strcmp(vm_keys[i - 1], vm_keys[i]) < 0);
	for (int i = 1; i < MI_N; i++)
		assert_true(strcmp(mi_keys[i - 1], mi_keys[i]) < 0);
	for (int i = 1; i < NS_N; i++)
		assert_true(strcmp(ns_keys[i - 1], ns_keys[i]) < 0);
}

static void test_kv_vmstat_unsorted(void **state)
{
	(void)state;
	/* the kernel's order is not alphabetical; keys the table lacks are skipped */
	const char *txt = "nr_free_pages 12345\n"
			  "pswpout 77\n"
			  "numa_hit 1000\n"
			  "pgmajfault 9\n"
			  "compact_stall 3\n"
			  "pswpin 42\n"
			  "thp_fault_fallback 18446744073709551615\n"
			  "allocstall_normal 5\n"
			  "numa_hint_faults_local 8\n"
			  "numa_hint_faults 10\n";
	uint64_t v[VK_N];
	bool found[VK_N];
	assert_int_equal(kv_extract(txt, strlen(txt), vm_keys, VK_N, v, found), 9);
	assert_true(found[VK_PSWPIN] && v[VK_PSWPIN] == 42);
	assert_true(found[VK_PSWPOUT] && v[VK_PSWPOUT] == 77);
	assert_true(found[VK_NUMA_HIT] && v[VK_NUMA_HIT] == 1000);
	assert_true(found[VK_PGMAJFAULT] && v[VK_PGMAJFAULT] == 9);
	assert_true(found[VK_COMPACT_STALL] && v[VK_COMPACT_STALL] == 3);
	assert_true(found[VK_ALLOCSTALL_NORMAL] && v[VK_ALLOCSTALL_NORMAL] == 5);
	/* a prefix of another key must not match it, either way */
	assert_true(found[VK_NUMA_HINT_FAULTS] && v[VK_NUMA_HINT_FAULTS] == 10);
	assert_true(found[VK_NUMA_HINT_FAULTS_LOCAL] && v[VK_NUMA_HINT_FAULTS_LOCAL] == 8);
	assert_true(found[VK_THP_FAULT_FALLBACK] && v[VK_THP_FAULT_FALLBACK] == UINT64_MAX);
	/* missing keys: not found, 0 */
	assert_false(found[VK_BALLOON_INFLATE]);
	assert_int_equal(v[VK_BALLOON_INFLATE], 0);
	assert_false(found[VK_COMPACT_FAIL]);
}

static void test_kv_meminfo_units_and_node_prefix(void **state)
{
	(void)state;
	const char *mi = "MemTotal:       24683960 kB\n"
			 "MemFree:        20000000 kB\n"
			 "MemAvailable:   22000000 kB\n"
			 "Active(anon):     123456 kB\n"
			 "SwapTotal:        524284 kB\n"
			 "SwapFree:         524284 kB\n"
			 "AnonHugePages:      2048 kB\n"
			 "HugePages_Total:       0\n";
	uint64_t v[MI_N];
	bool found[MI_N];
	assert_int_equal(kv_extract(mi, strlen(mi), mi_keys, MI_N, v, found), 6);
	assert_int_equal(v[MI_TOTAL], 24683960); /* in kB, as printed */
	assert_int_equal(v[MI_AVAILABLE], 22000000);
	assert_int_equal(v[MI_SWAPTOTAL], 524284);
	assert_int_equal(v[MI_ANONHUGE], 2048);
	assert_false(found[MI_BALLOON]);

	/* node meminfo: "Node N " prefix */
	static const char *const k[] = { "MemFree", "MemTotal", "MemUsed" };
	const char *nm = "Node 1 MemTotal:        8388608 kB\n"
			 "Node 1 MemFree:         4194304 kB\n"
			 "Node 1 MemUsed:         4194304 kB\n"
			 "Node 1 Active:           100 kB\n";
	uint64_t w[3];
	bool fw[3];
	assert_int_equal(kv_extract(nm, strlen(nm), k, 3, w, fw), 3);
	assert_int_equal(w[0], 4194304);
	assert_int_equal(w[1], 8388608);

	/* node numastat: names differ from /proc/vmstat */
	const char *ns = "numa_hit 500\nnuma_miss 20\nnuma_foreign 0\ninterleave_hit 7\nlocal_node 480\nother_node 40\n";
	uint64_t x[NS_N];
	bool fx[NS_N];
	assert_int_equal(kv_extract(ns, strlen(ns), ns_keys, NS_N, x, fx), 6);
	assert_int_equal(x[NS_HIT], 500);
	assert_int_equal(x[NS_MISS], 20);
	assert_int_equal(x[NS_OTHER], 40);
	assert_int_equal(x[NS_INTERLEAVE], 7);
}

static void test_kv_garbage(void **state)
{
	(void)state;
	uint64_t v[VK_N];
	bool found[VK_N];
	/* nothing parses: -EINVAL, outputs zeroed */
	const char *g = "\x01\x02 zz\n: \n\n   \nnumber\n";
	v[0] = 99;
	assert_int_equal(kv_extract(g, strlen(g), vm_keys, VK_N, v, found), -EINVAL);
	assert_int_equal(v[0], 0);
	assert_int_equal(kv_extract("", 0, vm_keys, VK_N, v, found), -EINVAL);
	/* lines parse but no key matches: 0 */
	const char *o = "nr_free_pages 1\nworkingset_refault 2\n";
	assert_int_equal(kv_extract(o, strlen(o), vm_keys, VK_N, v, found), 0);
	/* negative, overflowing and half-numeric values are rejected per line */
	const char *b = "pswpin -5\npswpout 99999999999999999999999\ncompact_stall 12abc\npgmajfault 7\n";
	int r = kv_extract(b, strlen(b), vm_keys, VK_N, v, found);
	assert_true(r >= 1);
	assert_false(found[VK_PSWPIN]);
	assert_false(found[VK_PSWPOUT]);
	assert_true(found[VK_PGMAJFAULT] && v[VK_PGMAJFAULT] == 7);
	/* duplicated key: the first value wins */
	const char *d = "pswpin 1\npswpin 2\n";
	assert_int_equal(kv_extract(d, strlen(d), vm_keys, VK_N, v, found), 1);
	assert_int_equal(v[VK_PSWPIN], 1);
	/* no trailing newline, CRLF-free last line cut at len */
	const char *t = "pswpin 123456";
	assert_int_equal(kv_extract(t, 9, vm_keys, VK_N, v, found), 1);
	assert_int_equal(v[VK_PSWPIN], 12); /* "pswpin 12" */
	/* "Node" without a number, or a number without a key */
	const char *n = "Node x MemTotal: 5 kB\nNode 3\nNode 3 MemTotal: 9 kB\n";
	static const char *const k[] = { "MemTotal" };
	uint64_t w[1];
	bool fw[1];
	assert_int_equal(kv_extract(n, strlen(n), k, 1, w, fw), 1);
	assert_int_equal(w[0], 9);
}

/* ---------------- bracket_choice ---------------- */

static void test_bracket_choice(void **state)
{
	(void)state;
	char out[24];
	const char *e = "always [madvise] never\n";
	assert_int_equal(bracket_choice(e, strlen(e), out, sizeof(out)), 0);
	assert_string_equal(out, "madvise");
	const char *d = "always defer [defer+madvise] madvise never\n";
	assert_int_equal(bracket_choice(d, strlen(d), out, sizeof(out)), 0);
	assert_string_equal(out, "defer+madvise");
	const char *s = "always within_size advise [never] deny force\n";
	assert_int_equal(bracket_choice(s, strlen(s), out, sizeof(out)), 0);
	assert_string_equal(out, "never");
	/* no choice, empty brackets, unterminated bracket: "" and -EINVAL */
	assert_int_equal(bracket_choice("always madvise never\n", 21, out, sizeof(out)), -EINVAL);
	assert_string_equal(out, "");
	assert_int_equal(bracket_choice("[]", 2, out, sizeof(out)), -EINVAL);
	assert_int_equal(bracket_choice("always [madv", 12, out, sizeof(out)), -EINVAL);
	/* the ']' past len is not seen */
	assert_int_equal(bracket_choice("[ab]", 3, out, sizeof(out)), -EINVAL);
	/* truncated to the output size */
	char small[4];
	assert_int_equal(bracket_choice("[madvise]", 9, small, sizeof(small)), 0);
	assert_string_equal(small, "mad");
	assert_int_equal(bracket_choice("[x]", 3, small, 0), -EINVAL);
}

/* ---------------- numa_maps_parse ---------------- */

static void test_numa_maps(void **state)
{
	(void)state;
	const char *txt =
		"00400000 default file=/usr/bin/app mapped=10 mapmax=2 N0=6 N1=4 kernelpagesize_kB=4\n"
		"7f0000000000 default anon=512 dirty=512 active=0 N0=512 kernelpagesize_kB=4\n"
		"7f2000000000 bind:1 anon=100 dirty=100 N1=100 kernelpagesize_kB=2048\n"
		"7f4000000000 default file=/dev/hugepages/x huge dirty=3 N0=1 N1=2 kernelpagesize_kB=2048\n"
		"7ffd00000000 default stack anon=3 dirty=3 N1=3 kernelpagesize_kB=4\n"
		"7fff00000000 default\n";
	struct numa_maps_sum s;
	assert_int_equal(numa_maps_parse(txt, strlen(txt), &s), 0);
	assert_int_equal(s.vmas, 6);
	assert_int_equal(s.nodes_seen, 2);
	assert_int_equal(s.kb_on_node[0], 6 * 4 + 512 * 4 + 1 * 2048);
	assert_int_equal(s.kb_on_node[1], 4 * 4 + 100 * 2048 + 2 * 2048 + 3 * 4);
	assert_int_equal(s.total_kb, s.kb_on_node[0] + s.kb_on_node[1]);
	assert_int_equal(s.huge_kb, 100 * 2048 + 3 * 2048);
	assert_int_equal(s.anon_kb, 512 * 4 + 100 * 2048 + 3 * 4);

	/* a high node index; out-of-range and malformed N= fields are skipped */
	const char *h = "1000 default N63=1 N64=5 Nx=3 N=4 N2=abc N3=7x kernelpagesize_kB=0\n";
	assert_int_equal(numa_maps_parse(h, strlen(h), &s), 0);
	assert_int_equal(s.nodes_seen, 64);
	assert_int_equal(s.kb_on_node[63], 4); /* page size 0 rejected: 4 kB */
	assert_int_equal(s.total_kb, 4);
	/* empty input: -EINVAL */
	assert_int_equal(numa_maps_parse("", 0, &s), -EINVAL);
	assert_int_equal(numa_maps_parse("\n\n", 2, &s), -EINVAL);
}

/* ---------------- kmsg ---------------- */

static void test_kmsg_parse_and_classify(void **state)
{
	(void)state;
	struct kmsg_rec r;
	const char *a = "4,1234,98765432,-;watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [test:123]\n"
			" SUBSYSTEM=cpu\n";
	assert_int_equal(kmsg_parse(a, strlen(a), &r), 0);
	assert_int_equal(r.prio, 4);
	assert_int_equal(r.seq, 1234);
	assert_int_equal(r.usec, 98765432);
	assert_int_equal(r.msglen, strlen("watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [test:123]"));
	assert_memory_equal(r.msg, "watchdog:", 9);
	assert_string_equal(kmsg_classify(r.msg, r.msglen), "soft-lockup");

	/* facility bits are stripped: <12> is user.warning */
	const char *b = "12,77,5,c;rcu: INFO: rcu_sched detected stalls on CPUs/tasks:";
	assert_int_equal(kmsg_parse(b, strlen(b), &r), 0);
	assert_int_equal(r.prio, 4);
	assert_string_equal(kmsg_classify(r.msg, r.msglen), "rcu-stall");

	static const struct {
		const char *msg, *kind;
	} cases[] = {
		{ "NMI watchdog: Watchdog detected hard LOCKUP on cpu 1", "hard-lockup" },
		{ "rcu: INFO: rcu_preempt self-detected stall on CPU", "rcu-stall" },
		{ "rcu: rcu_sched kthread starved for 10002 jiffies!", "rcu-stall" },
		{ "hrtimer: interrupt took 3419310 ns", "hrtimer-interrupt-took" },
		{ "clocksource: timekeeping watchdog on CPU1: Marking clocksource 'tsc' as unstable because the skew is too large:",
		  "clocksource-unstable" },
		{ "clocksource: Switched to clocksource hpet; tsc marked unstable", "clocksource-unstable" },
		{ "tsc: Marking TSC unstable due to clocksource watchdog", "clocksource-unstable" },
		{ "Out of memory: Killed process 4242 (python3) total-vm:1000kB", "oom-kill" },
		{ "Memory cgroup out of memory: Killed process 77 (x)", "oom-kill" },
		{ "INFO: task kworker/0:1:12 blocked for more than 120 seconds.", "hung-task" },
		{ "virtio_net virtio1 eth0: renamed from eth1", NULL },
		{ "", NULL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *k = kmsg_classify(cases[i].msg, strlen(cases[i].msg));
		if (cases[i].kind)
			assert_string_equal(k, cases[i].kind);
		else
			assert_null(k);
	}
	/* the needle must lie within len */
	const char *cut = "soft lockup";
	assert_null(kmsg_classify(cut, 10));

	/* damaged records */
	static const char *const bad[] = {
		"no semicolon at all", "x,1,2,-;msg", "4;msg", "4,1;msg", "4,1,;msg", "4 1 2;msg", ";msg", "",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(kmsg_parse(bad[i], strlen(bad[i]), &r), -EINVAL);
	/* a record with no message and no newline */
	assert_int_equal(kmsg_parse("6,1,2;", 6, &r), 0);
	assert_int_equal(r.msglen, 0);
	/* extra header fields (caller id) before ';' */
	const char *c = "6,9,10,-,caller=T12;hello\n";
	assert_int_equal(kmsg_parse(c, strlen(c), &r), 0);
	assert_int_equal(r.msglen, 5);
}

/* ---------------- attribution through mem_feed ---------------- */

#define MS NS_PER_MS

struct step {
	uint64_t steal_ticks_cpu0;	/* cumulative */
	uint64_t compact_stall, pgscan_direct, allocstall_normal, pswpin, pswpout; /* cumulative */
	const char *stalls;		/* JSON array body or NULL */
};

static void put_vmstat(struct sample *s, const struct step *st)
{
	char *txt = xasprintf("nr_free_pages 1000\npswpin %llu\npswpout %llu\npgmajfault 0\n"
			      "pgscan_kswapd 0\npgscan_direct %llu\nallocstall_normal %llu\n"
			      "compact_stall %llu\ncompact_fail 0\nballoon_inflate 0\nballoon_deflate 0\n",
			      (unsigned long long)st->pswpin, (unsigned long long)st->pswpout,
			      (unsigned long long)st->pgscan_direct, (unsigned long long)st->allocstall_normal,
			      (unsigned long long)st->compact_stall);
	sample_put(s, "proc/vmstat", txt);
	free(txt);
}

static void put_stat(struct sample *s, const struct step *st, uint64_t k)
{
	struct fake_cpu c[2] = {
		{ 0, true, { 100 + 5 * k, 0, 50, 1000 + 5 * k, 0, 0, 0, st->steal_ticks_cpu0, 0, 0 } },
		{ 1, true, { 100 + 5 * k, 0, 50, 1000 + 5 * k, 0, 0, 0, 0, 0, 0 } },
	};
	char *txt = fake_procstat(c, 2, 10, 1);
	sample_put(s, "proc/stat", txt);
	free(txt);
}

static void feed_steps(struct mem_analysis *m, const struct step *steps, size_t n)
{
	mem_init(m);
	for (size_t k = 0; k < n; k++) {
		struct sample s;
		sample_init(&s);
		s.mono_ns = 1000 * NS_PER_S + k * 100 * MS;
		s.index = (unsigned)k;
		put_stat(&s, &steps[k], k);
		put_vmstat(&s, &steps[k]);
		char *j = xasprintf("{\"sleep_ns\":1000000,\"threshold_ns\":2000000,\"loops\":90,\"dropped\":0,"
				    "\"stalls\":[%s]}",
				    steps[k].stalls ? steps[k].stalls : "");
		sample_put(&s, STALLS_PATH, j);
		free(j);
		mem_feed(m, &s);
		sample_done(&s);
	}
}

static void assert_share(const struct stall_rec *r, enum stall_cause c, uint64_t ns)
{
	if (r->share_ns[c] != ns)
		fail_msg("stall of %llu ns: %s share %llu, expected %llu", (unsigned long long)r->late_ns,
			 stall_cause_names[c], (unsigned long long)r->share_ns[c], (unsigned long long)ns);
}

static void test_attribution_each_cause(void **state)
{
	(void)state;
	/* counters are cumulative; each step's stalls are attributed from what
	 * moved between the previous sample and this one */
	const struct step steps[] = {
		/* 0: baseline; a stall here has no previous sample: run delay, then below */
		{ 0, 0, 0, 0, 0, 0, "{\"t_ns\":1,\"late_ns\":30000000,\"rundelay_ns\":10000000,\"cpu\":0}" },
		/* 1: run delay covers the whole stall (and more) -> guest run queue */
		{ 0, 0, 0, 0, 0, 0, "{\"t_ns\":2,\"late_ns\":50000000,\"rundelay_ns\":60000000,\"cpu\":0}" },
		/* 2: 3 ticks of steal on cpu0 (30 ms) for a 40 ms stall with 5 ms run delay */
		{ 3, 0, 0, 0, 0, 0, "{\"t_ns\":3,\"late_ns\":40000000,\"rundelay_ns\":5000000,\"cpu\":0}" },
		/* 3: steal moved but the stall is under two ticks (15 ms): not steal */
		{ 4, 0, 0, 0, 0, 0, "{\"t_ns\":4,\"late_ns\":15000000,\"rundelay_ns\":0,\"cpu\":0}" },
		/* 4: steal on cpu0 only; a stall on cpu1 does not get it */
		{ 9, 0, 0, 0, 0, 0, "{\"t_ns\":5,\"late_ns\":40000000,\"rundelay_ns\":0,\"cpu\":1}" },
		/* 5: compaction stall counter moved (and reclaim too: compaction wins) */
		{ 9, 1, 64, 0, 0, 0, "{\"t_ns\":6,\"late_ns\":8000000,\"rundelay_ns\":1000000,\"cpu\":1}" },
		/* 6: direct reclaim scan */
		{ 9, 1, 128, 0, 0, 0, "{\"t_ns\":7,\"late_ns\":8000000,\"rundelay_ns\":0,\"cpu\":1}" },
		/* 7: allocstall alone is reclaim too */
		{ 9, 1, 128, 2, 0, 0, "{\"t_ns\":8,\"late_ns\":6000000,\"rundelay_ns\":0,\"cpu\":1}" },
		/* 8: swap in */
		{ 9, 1, 128, 2, 10, 0, "{\"t_ns\":9,\"late_ns\":7000000,\"rundelay_ns\":0,\"cpu\":1}" },
		/* 9: swap out */
		{ 9, 1, 128, 2, 10, 4, "{\"t_ns\":10,\"late_ns\":7000000,\"rundelay_ns\":0,\"cpu\":1}" },
		/* 10: nothing moved -> below the guest; two stalls in one sample;
		 * damaged entries (no t_ns, negative late, string cpu) skipped or defaulted */
		{ 9, 1, 128, 2, 10, 4,
		  "{\"t_ns\":11,\"late_ns\":300000000,\"rundelay_ns\":-5,\"cpu\":0},"
		  "{\"late_ns\":5},{\"t_ns\":12,\"late_ns\":-1},{\"t_ns\":13,\"late_ns\":3000000,\"cpu\":\"x\"},"
		  "7,null" },
		/* 11: a counter going backwards (reset) is not a movement */
		{ 9, 0, 0, 0, 0, 0, "{\"t_ns\":14,\"late_ns\":25000000,\"rundelay_ns\":0,\"cpu\":0}" },
	};
	struct mem_analysis m;
	feed_steps(&m, steps, ARRAY_SIZE(steps));
	assert_int_equal(m.nstalls, 13);
	assert_true(m.stalls_seen);
	assert_int_equal(m.loops, 90 * ARRAY_SIZE(steps));
	const struct stall_rec *r = m.stalls;

	assert_share(&r[0], SC_RUNQ, 10 * MS);
	assert_share(&r[0], SC_BELOW, 20 * MS);
	assert_int_equal(r[0].main, SC_BELOW);

	assert_share(&r[1], SC_RUNQ, 50 * MS);
	assert_share(&r[1], SC_BELOW, 0);
	assert_int_equal(r[1].main, SC_RUNQ);

	assert_share(&r[2], SC_RUNQ, 5 * MS);
	assert_share(&r[2], SC_STEAL, 30 * MS);
	assert_share(&r[2], SC_BELOW, 5 * MS);
	assert_int_equal(r[2].main, SC_STEAL);

	assert_share(&r[3], SC_STEAL, 0);
	assert_share(&r[3], SC_BELOW, 15 * MS);
	assert_int_equal(r[3].main, SC_BELOW);

	assert_share(&r[4], SC_STEAL, 0);
	assert_share(&r[4], SC_BELOW, 40 * MS);
	assert_int_equal(r[4].cpu, 1);

	assert_share(&r[5], SC_RUNQ, 1 * MS);
	assert_share(&r[5], SC_COMPACTION, 7 * MS);
	assert_share(&r[5], SC_RECLAIM, 0);
	assert_int_equal(r[5].main, SC_COMPACTION);

	assert_share(&r[6], SC_RECLAIM, 8 * MS);
	assert_int_equal(r[6].main, SC_RECLAIM);
	assert_share(&r[7], SC_RECLAIM, 6 * MS);
	assert_int_equal(r[7].main, SC_RECLAIM);

	assert_share(&r[8], SC_SWAP, 7 * MS);
	assert_int_equal(r[8].main, SC_SWAP);
	assert_share(&r[9], SC_SWAP, 7 * MS);
	assert_int_equal(r[9].main, SC_SWAP);

	assert_share(&r[10], SC_RUNQ, 0); /* negative run delay read as 0 */
	assert_share(&r[10], SC_BELOW, 300 * MS);
	assert_int_equal(r[10].main, SC_BELOW);
	assert_int_equal(r[11].late_ns, 3 * MS);
	assert_int_equal(r[11].cpu, -1);
	assert_share(&r[11], SC_BELOW, 3 * MS);

	assert_share(&r[12], SC_BELOW, 25 * MS);
	assert_int_equal(r[12].main, SC_BELOW);

	/* every stall is fully attributed */
	for (size_t i = 0; i < m.nstalls; i++) {
		uint64_t sum = 0;
		for (int c = 0; c < SC_N; c++)
			sum += m.stalls[i].share_ns[c];
		assert_int_equal(sum, m.stalls[i].late_ns);
	}
	/* counters summed over non-negative steps (the reset is not negative) */
	assert_int_equal(mem_delta(&m, VK_PSWPIN), 10);
	assert_int_equal(mem_delta(&m, VK_COMPACT_STALL), 1);
	assert_int_equal(mem_delta_between(&m, VK_PGSCAN_DIRECT, 1000 * NS_PER_S + 550 * MS, 1000 * NS_PER_S + 650 * MS),
			 64);
	mem_done(&m);
}

static void test_attribution_steal_capped(void **state)
{
	(void)state;
	/* 10 ticks (100 ms) of steal cannot take more than the 25 ms left of a
	 * 30 ms stall after its 5 ms of run delay */
	const struct step steps[] = {
		{ 0, 0, 0, 0, 0, 0, NULL },
		{ 10, 0, 0, 0, 0, 0, "{\"t_ns\":2,\"late_ns\":30000000,\"rundelay_ns\":5000000,\"cpu\":0}" },
		/* a stall on a CPU /proc/stat does not list */
		{ 20, 0, 0, 0, 0, 0, "{\"t_ns\":3,\"late_ns\":30000000,\"rundelay_ns\":0,\"cpu\":7}" },
		{ 30, 0, 0, 0, 0, 0, "{\"t_ns\":3,\"late_ns\":30000000,\"rundelay_ns\":0,\"cpu\":-2147483648}" },
	};
	struct mem_analysis m;
	feed_steps(&m, steps, ARRAY_SIZE(steps));
	assert_int_equal(m.nstalls, 3);
	assert_share(&m.stalls[0], SC_RUNQ, 5 * MS);
	assert_share(&m.stalls[0], SC_STEAL, 25 * MS);
	assert_share(&m.stalls[0], SC_BELOW, 0);
	assert_share(&m.stalls[1], SC_STEAL, 0);
	assert_share(&m.stalls[1], SC_BELOW, 30 * MS);
	assert_share(&m.stalls[2], SC_BELOW, 30 * MS);
	mem_done(&m);
}

static void test_stalls_json_damage(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "{", "[]", "null", "{\"stalls\":5}", "{\"stalls\":{}}", "{\"loops\":-3,\"dropped\":\"x\"}",
		"{\"stalls\":[{\"t_ns\":1.5,\"late_ns\":2}]}",
	};
	struct mem_analysis m;
	mem_init(&m);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct sample s;
		sample_init(&s);
		s.mono_ns = (i + 1) * 100 * MS;
		sample_put(&s, STALLS_PATH, bad[i]);
		sample_put(&s, KMSG_PATH, bad[i]);
		mem_feed(&m, &s);
		sample_done(&s);
	}
	assert_int_equal(m.nstalls, 0);
	assert_int_equal(m.loops, 0);
	assert_false(m.vm_seen);
	mem_done(&m);
}

/* ---------------- kernel log hits ---------------- */

static void feed_kmsg_json(struct mem_analysis *m, uint64_t t_ns, const char *json)
{
	struct sample s;
	sample_init(&s);
	s.mono_ns = t_ns;
	sample_put(&s, KMSG_PATH, json);
	mem_feed(m, &s);
	sample_done(&s);
}

static void test_kmsg_during_and_before(void **state)
{
	(void)state;
	struct mem_analysis m;
	mem_init(&m);
	/* the watch starts at 100 s; a hit at 90 s is from before it */
	feed_kmsg_json(&m, 100 * NS_PER_S,
		       "{\"available\":true,\"matches\":[{\"usec\":90000000,\"prio\":4,\"kind\":\"soft-lockup\","
		       "\"msg\":\"watchdog: BUG: soft lockup\"}]}");
	feed_kmsg_json(&m, 101 * NS_PER_S,
		       "{\"available\":true,\"matches\":[{\"usec\":100500000,\"prio\":4,\"kind\":\"rcu-stall\","
		       "\"msg\":\"rcu: INFO: rcu_sched detected stalls on CPUs/tasks\\u0001\"},{\"kind\":\"x\"}]}");
	assert_true(m.kmsg_seen && m.kmsg_available);
	assert_int_equal(m.nhits, 2);
	assert_false(m.hits[0].during);
	assert_true(m.hits[1].during);
	assert_string_equal(m.hits[1].kind, "rcu-stall");
	assert_null(strchr(m.hits[1].msg, '\x01')); /* control bytes replaced */
	mem_done(&m);

	/* the reader says which records were already in the ring when it opened
	 * /dev/kmsg: that wins over the timestamp (printk's clock drifts from
	 * CLOCK_MONOTONIC) */
	mem_init(&m);
	feed_kmsg_json(&m, 100 * NS_PER_S,
		       "{\"available\":true,\"matches\":[{\"usec\":100000001,\"kind\":\"soft-lockup\",\"history\":true},"
		       "{\"usec\":99999000,\"kind\":\"rcu-stall\",\"history\":false}]}");
	assert_int_equal(m.nhits, 2);
	assert_false(m.hits[0].during);
	assert_true(m.hits[1].during);
	mem_done(&m);

	/* unreadable /dev/kmsg */
	mem_init(&m);
	feed_kmsg_json(&m, 1, "{\"available\":false,\"error\":\"Operation not permitted\",\"matches\":[]}");
	assert_true(m.kmsg_seen);
	assert_false(m.kmsg_available);
	assert_string_equal(m.kmsg_error, "Operation not permitted");
	mem_done(&m);
}

static void test_kmsg_history_does_not_hide_the_watch(void **state)
{
	(void)state;
	/* A kernel ring full of old matches must not push out the ones logged
	 * during the watch. */
	struct mem_analysis m;
	mem_init(&m);
	size_t cap = 64 * 120 + 64;
	char *j = xmalloc(cap);
	size_t o = (size_t)snprintf(j, cap, "{\"available\":true,\"matches\":[");
	for (int i = 0; i < 100; i++)
		o += (size_t)snprintf(j + o, cap - o, "%s{\"usec\":%d,\"kind\":\"oom-kill\",\"msg\":\"old\"}", i ? "," : "",
				      1000 + i);
	snprintf(j + o, cap - o, "]}");
	feed_kmsg_json(&m, 100 * NS_PER_S, j);
	free(j);
	feed_kmsg_json(&m, 101 * NS_PER_S,
		       "{\"available\":true,\"matches\":[{\"usec\":100500000,\"kind\":\"soft-lockup\",\"msg\":\"new\"}]}");
	unsigned during = 0;
	for (unsigned i = 0; i < m.nhits; i++)
		if (m.hits[i].during) {
			during++;
			assert_string_equal(m.hits[i].kind, "soft-lockup");
		}
	assert_int_equal(during, 1);
	/* of the 100 old ones, the most recent are kept: the last one logged
	 * before the watch (usec 1099) must be there, the first ones not */
	bool newest_old = false, oldest_old = false;
	for (unsigned i = 0; i < m.nhits; i++) {
		newest_old |= !m.hits[i].during && m.hits[i].usec == 1099;
		oldest_old |= !m.hits[i].during && m.hits[i].usec == 1000;
	}
	assert_true(newest_old);
	assert_false(oldest_old);
	mem_done(&m);
}

/* ---------------- nodes and processes ---------------- */

/* a task stat line with 52 fields, field 39 (processor) = cpu */
static char *task_stat_line(int pid, const char *comm, int cpu)
{
	char *s = xasprintf("%d (%s) S", pid, comm);
	for (int field = 4; field <= 52; field++) {
		char *t = xasprintf("%s %d", s, field == 39 ? cpu : field == 8 ? -1 : field);
		free(s);
		s = t;
	}
	char *t = xasprintf("%s\n", s);
	free(s);
	return t;
}

static void test_nodes_and_procs(void **state)
{
	(void)state;
	struct mem_analysis m;
	mem_init(&m);
	for (int k = 0; k < 2; k++) {
		struct sample s;
		sample_init(&s);
		s.mono_ns = (uint64_t)(k + 1) * NS_PER_S;
		char *t = xasprintf("numa_hit %d\nnuma_miss %d\nnuma_foreign 0\ninterleave_hit 0\nlocal_node 0\nother_node 0\n",
				    1000 + 600 * k, 400 * k);
		sample_put(&s, "sys/devices/system/node/node1/numastat", t);
		free(t);
		sample_put(&s, "sys/devices/system/node/node0/numastat", "numa_hit 5\nnuma_miss 0\n");
		sample_put(&s, "sys/devices/system/node/node0/cpulist", "0-1\n");
		sample_put(&s, "sys/devices/system/node/node1/cpulist", "2-3\n");
		sample_put(&s, "sys/devices/system/node/node0/distance", "10 21\n");
		sample_put(&s, "sys/devices/system/node/node1/meminfo", "Node 1 MemTotal: 100 kB\nNode 1 MemFree: 40 kB\n");
		sample_put(&s, "sys/devices/system/node/node99/numastat", "numa_hit 1\n"); /* beyond MEM_MAX_NODES */
		sample_put(&s, "sys/devices/system/node/nodeX/numastat", "numa_hit 1\n");
		sample_put(&s, "proc/42/numa_maps", "1000 default anon=10 N0=1 N1=9 kernelpagesize_kB=2048\n");
		sample_put(&s, "proc/42/comm", "db\x01server\n");
		sample_put(&s, "proc/42/smaps_rollup", "Rss: 20480 kB\nAnonHugePages: 18432 kB\nSwap: 0 kB\n");
		char *st = task_stat_line(42, "db", 1);
		sample_put(&s, "proc/42/task/42/stat", st);
		free(st);
		st = task_stat_line(43, "a) b", 0); /* ')' in comm: the last one ends it */
		sample_put(&s, "proc/42/task/43/stat", st);
		free(st);
		sample_put(&s, "proc/42/task/44/stat", "44 (short) R 1 2 3\n");
		mem_feed(&m, &s);
		sample_done(&s);
	}
	assert_int_equal(m.nnodes, 2);
	assert_true(m.nodes[1].seen);
	assert_int_equal(m.nodes[1].last[NS_MISS] - m.nodes[1].first[NS_MISS], 400);
	assert_int_equal(m.nodes[1].last[NS_HIT] - m.nodes[1].first[NS_HIT], 600);
	assert_int_equal(m.nodes[1].mem_total_kb, 100);
	assert_int_equal(m.nodes[1].mem_free_kb, 40);
	assert_true(m.nodes[0].have_cpus);
	assert_int_equal(m.nodes[0].cpumask[0], 0x3);
	assert_int_equal(m.nodes[1].cpumask[0], 0xc);
	assert_int_equal(m.nodes[0].ndist, 2);
	assert_int_equal(m.nodes[0].distance[1], 21);
	assert_int_equal(m.nprocs, 1);
	const struct proc_mem *p = &m.procs[0];
	assert_int_equal(p->pid, 42);
	assert_string_equal(p->comm, "db?server");
	assert_int_equal(p->nm.kb_on_node[1], 9 * 2048);
	assert_int_equal(p->rss_kb, 20480);
	assert_int_equal(p->anon_huge_kb, 18432);
	assert_int_equal(p->nthreads, 2); /* the short stat line has no field 39 */
	assert_int_equal(p->cpus_seen[0], 0x3);
	mem_done(&m);
}

/* ---------------- thp-compaction with eBPF compaction durations ---------------- */

/*
 * A watch of samples 1 s apart, each with /proc/vmstat (compact_stall
 * cumulative) and, when given, ".hiddenq/compact.json".  Fed through the
 * whole analysis and the rules, like diagnose --replay.
 */
struct cwatch {
	struct sample statics, s[4];
	size_t n;
	struct analysis an;
	struct findings fs;
};

static void cwatch_add(struct cwatch *w, uint64_t compact_stall, const char *compact_json)
{
	struct sample *s = &w->s[w->n];
	sample_init(s);
	s->index = (unsigned)w->n;
	s->mono_ns = (uint64_t)(w->n + 1) * NS_PER_S;
	s->slow = true;
	char *vm = xasprintf("nr_free_pages 1000\ncompact_stall %llu\ncompact_fail 0\nthp_fault_alloc 0\n"
			     "thp_fault_fallback 0\n",
			     (unsigned long long)compact_stall);
	sample_put(s, "proc/vmstat", vm);
	free(vm);
	if (compact_json)
		sample_put(s, BPFHIST_COMPACT_PATH, compact_json);
	w->n++;
}

/* These watches have no /proc/stat, so no 1 s windows: they test the evaluator,
 * with the watch-length minimum (thp_min_windows, tested below) set aside. */
static const struct finding *cwatch_eval(struct cwatch *w, bool keep_minimum)
{
	analysis_init(&w->an, &w->statics, "test");
	for (size_t i = 0; i < w->n; i++)
		analysis_feed(&w->an, &w->s[i]);
	analysis_finish(&w->an);
	double min = thresholds[T_THP_MIN_WINDOWS].warn;
	if (!keep_minimum)
		thresholds[T_THP_MIN_WINDOWS].warn = -1;
	rules_evaluate(&w->an, &w->fs);
	thresholds[T_THP_MIN_WINDOWS].warn = min;
	for (size_t i = 0; i < w->fs.n; i++)
		if (strcmp(w->fs.v[i].id, "thp-compaction") == 0)
			return &w->fs.v[i];
	fail_msg("no thp-compaction finding");
	return NULL;
}

static const struct finding *cwatch_thp(struct cwatch *w)
{
	return cwatch_eval(w, false);
}

static void cwatch_done(struct cwatch *w)
{
	findings_done(&w->fs);
	analysis_done(&w->an);
	for (size_t i = 0; i < w->n; i++)
		sample_done(&w->s[i]);
	sample_done(&w->statics);
	free(w);
}

static struct cwatch *cwatch_new(void)
{
	struct cwatch *w = xcalloc(1, sizeof(*w));
	sample_init(&w->statics);
	return w;
}

/* the value of one evidence metric; fails when absent (or -1 when may_miss) */
static double ev_of(const struct finding *f, const char *metric, bool may_miss)
{
	for (size_t i = 0; i < f->nev; i++)
		if (strcmp(f->ev[i].metric, metric) == 0)
			return f->ev[i].value;
	if (!may_miss)
		fail_msg("thp-compaction has no evidence %s (title: %s)", metric, f->title);
	return -1;
}

#define CJ(direct, count, sum, max) \
	"{\"available\":true,\"unit\":\"us\",\"buckets\":\"log2\",\"direct\":[" direct "],\"count\":" #count \
	",\"sum_us\":" #sum ",\"max_us\":" #max "}"

/* slot 10 = [1024, 2048) us, slot 20 = [1048576, 2097152) us */
#define Z10 "0,0,0,0,0,0,0,0,0,0"

static void test_thp_compaction_durations_crit(void **state)
{
	(void)state;
	struct cwatch *w = cwatch_new();
	cwatch_add(w, 100, CJ("1", 1, 1, 1));
	cwatch_add(w, 102, CJ("1," Z10, 1, 1, 1));	/* a trailing zero slot is harmless */
	cwatch_add(w, 105, CJ("1,0,0,0,0,0,0,0,0,0,4,0,0,0,0,0,0,0,0,0,1", 6, 1506001, 1500000));
	const struct finding *f = cwatch_thp(w);
	/* watch: 4 runs in slot 10 and one in slot 20, 1.5 s the longest */
	assert_true(ev_of(f, "compaction_count", false) == 5);
	/* p50: rank 2.5 of 4 in [1024, 2048): 1024 + 1024 * 2.5 / 4 */
	assert_true(fabs(ev_of(f, "compaction_p50_us", false) - 1664.0) < 1e-6);
	/* p99: rank 4.95, 0.95 into [1048576, 2097152) */
	assert_true(fabs(ev_of(f, "compaction_p99_us", false) - (1048576.0 + 1048576.0 * 0.95)) < 1e-3);
	assert_true(fabs(ev_of(f, "compaction_max_ms", false) - 1500.0) < 1e-9);
	assert_true(fabs(ev_of(f, "compaction_total_ms", false) - 1506.0) < 1e-9);
	/* no PSI, no stall sampler: the compaction's own duration is the verdict (crit at 1000 ms) */
	assert_int_equal(f->sev, SEV_CRIT);
	assert_non_null(strstr(f->title, "longest compaction 1500 ms"));
	assert_non_null(strstr(f->detail, "5 direct compaction runs"));
	for (size_t i = 0; i < f->nev; i++)
		if (strcmp(f->ev[i].metric, "compaction_max_ms") == 0) {
			assert_true(f->ev[i].warn == 100 && f->ev[i].crit == 1000);
		}
	/* the PSI-based evidence is still there */
	assert_true(ev_of(f, "compaction_stall_pct", false) >= 0);
	assert_true(ev_of(f, "compaction_durations_unavailable", true) < 0);
	cwatch_done(w);
}

static void test_thp_compaction_durations_short_and_old_max(void **state)
{
	(void)state;
	/* the maximum since load (5 s) predates the watch: the watch's longest is
	 * the lower edge of its highest slot (1024 us), not 5 s */
	struct cwatch *w = cwatch_new();
	cwatch_add(w, 100, CJ("0,0,0,0,0,0,0,0,0,0,1," Z10 ",0,0,1", 2, 5001000, 5000000));
	cwatch_add(w, 103, CJ("0,0,0,0,0,0,0,0,0,0,4," Z10 ",0,0,1", 5, 5005000, 5000000));
	const struct finding *f = cwatch_thp(w);
	assert_true(ev_of(f, "compaction_count", false) == 3);
	assert_true(fabs(ev_of(f, "compaction_max_ms", false) - 1.024) < 1e-9);
	assert_true(fabs(ev_of(f, "compaction_total_ms", false) - 4.0) < 1e-9);
	assert_int_equal(f->sev, SEV_OK);
	assert_non_null(strstr(f->detail, "(at least)"));
	cwatch_done(w);

	/* no compaction in the watch: a count of 0, no percentiles, still ok */
	w = cwatch_new();
	cwatch_add(w, 100, CJ("", 0, 0, 0));
	cwatch_add(w, 100, CJ("", 0, 0, 0));
	f = cwatch_thp(w);
	assert_true(ev_of(f, "compaction_count", false) == 0);
	assert_true(ev_of(f, "compaction_p50_us", true) < 0);
	assert_int_equal(f->sev, SEV_OK);
	assert_non_null(strstr(f->detail, "no direct compaction run traced"));
	cwatch_done(w);
}

/* Below thp_min_windows a watch cannot say "no compaction stall" (issue 16):
 * unknown with the reason; a compaction long enough to warn still counts. */
static void test_thp_short_watch(void **state)
{
	(void)state;
	struct cwatch *w = cwatch_new();
	cwatch_add(w, 100, CJ("", 0, 0, 0));
	cwatch_add(w, 100, CJ("", 0, 0, 0));
	const struct finding *f = cwatch_eval(w, true);
	assert_int_equal(f->sev, SEV_UNKNOWN);
	assert_non_null(strstr(f->title, "thp_min_windows"));
	assert_true(ev_of(f, "windows_1s", false) < 3);
	assert_true(ev_of(f, "compaction_count", false) == 0); /* what was seen is still there */
	cwatch_done(w);

	w = cwatch_new();
	cwatch_add(w, 100, CJ("1", 1, 1, 1));
	cwatch_add(w, 101, CJ("1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1", 2, 1500001, 1500000));
	f = cwatch_eval(w, true);
	assert_int_equal(f->sev, SEV_CRIT);
	cwatch_done(w);
}

static void test_thp_compaction_durations_missing(void **state)
{
	(void)state;
	/* unavailable: the reason is evidence, the PSI judgement alone decides */
	struct cwatch *w = cwatch_new();
	const char *un = "{\"available\":false,\"reason\":\"tracepoint mm_compaction_begin is not in this kernel's BTF\"}";
	cwatch_add(w, 100, un);
	cwatch_add(w, 104, un);
	const struct finding *f = cwatch_thp(w);
	assert_true(ev_of(f, "compaction_count", true) < 0);
	assert_true(ev_of(f, "compaction_durations_unavailable", false) == 1);
	bool subj = false;
	for (size_t i = 0; i < f->nev; i++)
		if (strcmp(f->ev[i].metric, "compaction_durations_unavailable") == 0)
			subj = f->ev[i].subject && strstr(f->ev[i].subject, "mm_compaction_begin");
	assert_true(subj);
	assert_int_equal(f->sev, SEV_OK);
	assert_non_null(strstr(f->detail, "compaction durations not traced"));
	cwatch_done(w);

	/* an older bundle without the file */
	w = cwatch_new();
	cwatch_add(w, 100, NULL);
	cwatch_add(w, 101, NULL);
	f = cwatch_thp(w);
	assert_true(ev_of(f, "compaction_durations_unavailable", false) == 1);
	cwatch_done(w);

	/* hostile: negative or non-integer counters and bad slots are refused, never trusted */
	static const char *const bad[] = {
		CJ("1", 1, -5, 1), CJ("1", 1, 1, "x"), CJ("-1", 1, 1, 1), CJ("1.5", 1, 1, 1),
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		w = cwatch_new();
		cwatch_add(w, 100, CJ("", 0, 0, 0));
		cwatch_add(w, 101, bad[i]);
		struct bpfhist_compact cd;
		f = cwatch_thp(w);
		assert_int_equal(bpfhist_compact_watch(&w->an, &cd), -EINVAL);
		assert_true(ev_of(f, "compaction_durations_unavailable", false) == 1);
		assert_true(ev_of(f, "compaction_count", true) < 0);
		cwatch_done(w);
	}
	/* "direct" must be there (an array): otherwise the document is malformed */
	w = cwatch_new();
	cwatch_add(w, 100, "{\"available\":true,\"direct\":7}");
	cwatch_add(w, 101, "{\"available\":true}");
	f = cwatch_thp(w);
	assert_int_equal(w->an.bpf.compact.nbad, 2);
	assert_true(ev_of(f, "compaction_durations_unavailable", false) == 1);
	cwatch_done(w);
}

int main(void)
{
	hq_quiet = true;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_tables_sorted),
		cmocka_unit_test(test_kv_vmstat_unsorted),
		cmocka_unit_test(test_kv_meminfo_units_and_node_prefix),
		cmocka_unit_test(test_kv_garbage),
		cmocka_unit_test(test_bracket_choice),
		cmocka_unit_test(test_numa_maps),
		cmocka_unit_test(test_kmsg_parse_and_classify),
		cmocka_unit_test(test_attribution_each_cause),
		cmocka_unit_test(test_attribution_steal_capped),
		cmocka_unit_test(test_stalls_json_damage),
		cmocka_unit_test(test_kmsg_during_and_before),
		cmocka_unit_test(test_kmsg_history_does_not_hide_the_watch),
		cmocka_unit_test(test_nodes_and_procs),
		cmocka_unit_test(test_thp_compaction_durations_crit),
		cmocka_unit_test(test_thp_compaction_durations_short_and_old_max),
		cmocka_unit_test(test_thp_compaction_durations_missing),
		cmocka_unit_test(test_thp_short_watch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
