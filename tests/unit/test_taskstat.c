/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The task iterator's records (src/sources/bpf/taskstat.c): decoding the
 * fixed-size records the kernel half writes, and their text, which must be
 * byte for byte what /proc/PID/task/TID/schedstat holds: the kernel's
 * "%llu %llu %lu\n", checked here against the C library's printf of the same
 * format.  And host mode's choice of source where the iterator cannot serve
 * (a root that is not the live one, HIDDENQ_VMS_SCHEDSTAT=procfs), and how
 * the program used and the reasons for the fallbacks reach vms --json, its
 * text and diagnose's capability line.
 */
#include "harness.h"

#include "analysis/analysis.h"
#include "analysis/vms.h"
#include "host/vmscan.h"
#include "sinks/vms.h"
#include "sources/bpf/taskstat.h"

/* A record as struct taskstat_rec lays it out: u32 tgid, u32 tid, three u64. */
static void put_rec(char *out, uint32_t tgid, uint32_t tid, uint64_t sum, uint64_t delay, uint64_t pcount)
{
	memcpy(out, &tgid, 4);
	memcpy(out + 4, &tid, 4);
	memcpy(out + 8, &sum, 8);
	memcpy(out + 16, &delay, 8);
	memcpy(out + 24, &pcount, 8);
}

static void expect_text(uint64_t sum, uint64_t delay, uint64_t pcount)
{
	struct taskstat_line l = { .tgid = 1, .tid = 1, .sum_exec_runtime = sum, .run_delay = delay, .pcount = pcount };
	char got[TASKSTAT_TEXT_MAX + 1], want[128];
	size_t n = taskstat_format(&l, got);
	int wn = snprintf(want, sizeof(want), "%llu %llu %lu\n", (unsigned long long)sum, (unsigned long long)delay,
			  (unsigned long)pcount);
	assert_int_equal(n, (size_t)wn);
	assert_string_equal(got, want);
	assert_true(n <= TASKSTAT_TEXT_MAX);
}

static void test_format_is_the_kernels_printf(void **state)
{
	(void)state;
	expect_text(0, 0, 0);
	expect_text(1, 9, 10);
	expect_text(145053903, 42869293, 172);
	expect_text(UINT64_MAX, UINT64_MAX, UINT64_MAX); /* the longest text: 63 bytes */
	uint64_t p = 1;
	for (int i = 0; i < 20; i++, p *= 10) {
		expect_text(p, p - 1, p + 1);
		expect_text(p * 9, p / 3, p * 7);
	}
}

static void test_decode_records(void **state)
{
	(void)state;
	char buf[3 * TASKSTAT_REC_SIZE];
	put_rec(buf, 4242, 4243, 145053903, 42869293, 172);
	put_rec(buf + TASKSTAT_REC_SIZE, 4242, 4244, 0, 0, 0);
	put_rec(buf + 2 * TASKSTAT_REC_SIZE, 7, 70000, UINT64_MAX, 1, 2);
	const char *p = buf, *end = buf + sizeof(buf);
	struct taskstat_line l;
	assert_int_equal(taskstat_next(&p, end, &l), 1);
	assert_int_equal(l.tgid, 4242);
	assert_int_equal(l.tid, 4243);
	assert_true(l.sum_exec_runtime == 145053903 && l.run_delay == 42869293 && l.pcount == 172);
	char txt[TASKSTAT_TEXT_MAX + 1];
	assert_int_equal(taskstat_format(&l, txt), strlen("145053903 42869293 172\n"));
	assert_string_equal(txt, "145053903 42869293 172\n");
	assert_int_equal(taskstat_next(&p, end, &l), 1);
	assert_int_equal(l.tid, 4244);
	taskstat_format(&l, txt);
	assert_string_equal(txt, "0 0 0\n");
	assert_int_equal(taskstat_next(&p, end, &l), 1);
	assert_int_equal(l.tid, 70000);
	taskstat_format(&l, txt);
	assert_string_equal(txt, "18446744073709551615 1 2\n");
	assert_ptr_equal(p, end);
	assert_int_equal(taskstat_next(&p, end, &l), 0);
	assert_int_equal(taskstat_next(&p, end, &l), 0); /* and stays at the end */
}

static void test_decode_refuses_bad_records(void **state)
{
	(void)state;
	char buf[2 * TASKSTAT_REC_SIZE + 5];
	put_rec(buf, 0, 5, 1, 2, 3);			/* tgid 0: no process has it */
	put_rec(buf + TASKSTAT_REC_SIZE, 5, 0, 1, 2, 3);	/* tid 0: the idle task, never printed */
	memset(buf + 2 * TASKSTAT_REC_SIZE, 0x7f, 5);	/* a record cut short */
	const char *p = buf, *end = buf + sizeof(buf);
	struct taskstat_line l;
	assert_int_equal(taskstat_next(&p, end, &l), -EINVAL);
	assert_ptr_equal(p, buf + TASKSTAT_REC_SIZE);
	assert_int_equal(taskstat_next(&p, end, &l), -EINVAL);
	assert_ptr_equal(p, buf + 2 * TASKSTAT_REC_SIZE);
	assert_int_equal(taskstat_next(&p, end, &l), -EINVAL);
	assert_ptr_equal(p, end);
	assert_int_equal(taskstat_next(&p, end, &l), 0);
	/* nothing at all */
	p = end = buf;
	assert_int_equal(taskstat_next(&p, end, &l), 0);
}

static void check_source(const struct vmscan *vs, const char *why_part)
{
	assert_string_equal(vmscan_schedstat_source(vs), "procfs");
	json_t *j = vmscan_json(vs);
	assert_string_equal(json_string_value(json_object_get(j, "schedstat_source")), "procfs");
	const char *why = json_string_value(json_object_get(j, "schedstat_source_why"));
	assert_non_null(why);
	assert_non_null(strstr(why, why_part));
	json_decref(j);
}

static void test_host_mode_source_when_the_iterator_cannot_serve(void **state)
{
	(void)state;
	char *dir = make_tempdir();
	char *p = xasprintf("%s/proc/1/comm", dir);
	mkparents(p);
	free(p);
	struct fsroot root;
	assert_int_equal(fsroot_init(&root, dir, true), 0);
	struct vmscan vs;
	assert_int_equal(vmscan_init(&vs, &root), 0);
	vmscan_discover(&vs);
	check_source(&vs, "not the live root");
	vmscan_done(&vs);
	fsroot_done(&root);
	rm_tree(dir);
	free(dir);

	/* the live root, forced to procfs by the environment, then by the caller */
	assert_int_equal(fsroot_init(&root, "/", false), 0);
	setenv("HIDDENQ_VMS_SCHEDSTAT", "procfs", 1);
	assert_int_equal(vmscan_init(&vs, &root), 0);
	unsetenv("HIDDENQ_VMS_SCHEDSTAT");
	check_source(&vs, "HIDDENQ_VMS_SCHEDSTAT=procfs");
	vmscan_done(&vs);
	assert_int_equal(vmscan_init(&vs, &root), 0);
	vmscan_schedstat_procfs(&vs, "eBPF off (--no-bpf)");
	check_source(&vs, "--no-bpf");
	vmscan_done(&vs);
	fsroot_done(&root);
}

/* vms.json as host mode writes it, one VM with one vCPU; `extra` are its schedstat fields */
static void feed_host(struct analysis *an, struct sample *st, const char *extra)
{
	char *js = xasprintf("{\"vms\":[{\"pid\":100,\"vmm\":\"qemu\",\"name\":\"A\",\"threads\":[{\"tid\":101,"
			     "\"kind\":\"vcpu\",\"vcpu\":0,\"comm\":\"CPU 0/KVM\"}],\"taps\":[]}],\"root\":true,%s}",
			     extra);
	sample_init(st);
	sample_add(st, "sys/devices/system/cpu/online", "0-1\n", 4);
	analysis_init(an, st, "test");
	for (int i = 0; i < 3; i++) {
		struct sample s;
		sample_init(&s);
		s.mono_ns = (uint64_t)(i + 1) * 1000000000ull;
		sample_add(&s, VMSCAN_JSON_PATH, js, strlen(js));
		char data[64];
		snprintf(data, sizeof(data), "%d 0 %d\n", i * 1000, i);
		sample_add(&s, "proc/100/task/101/schedstat", data, strlen(data));
		analysis_feed(an, &s);
		sample_done(&s);
	}
	analysis_finish(an);
	free(js);
}

/* diagnose's "host mode" capability line */
static char *host_cap(const struct analysis *an)
{
	struct capabilities caps;
	capabilities_build(an, &caps);
	char *out = NULL;
	for (size_t i = 0; i < caps.n; i++)
		if (!strcmp(caps.v[i].name, "host mode"))
			out = xstrdup(caps.v[i].detail);
	capabilities_done(&caps);
	assert_non_null(out);
	return out;
}

static char *host_text(const struct analysis *an)
{
	char *txt = NULL;
	size_t tl = 0;
	FILE *m = open_memstream(&txt, &tl);
	vms_print(m, an->host, false);
	fclose(m);
	return txt;
}

static void test_program_and_fallback_reasons_are_shown(void **state)
{
	(void)state;
	/* the walk of every task, in use, after both tid-list programs were refused */
	static const char refused[] = "failed to load the tid-list program run by BPF_PROG_RUN: rejected; "
				      "failed to load the task iterator over a tid list: refused";
	char *extra = xasprintf("\"schedstat_source\":\"bpf_iter\",\"schedstat_iter\":\"all_tasks\","
				"\"schedstat_iter_why\":\"%s\"", refused);
	struct sample st;
	struct analysis an;
	feed_host(&an, &st, extra);
	free(extra);
	assert_non_null(an.host);
	json_t *j = vms_json(an.host);
	json_t *c = json_object_get(j, "cost");
	assert_string_equal(json_string_value(json_object_get(c, "schedstat_source")), "bpf_iter");
	assert_string_equal(json_string_value(json_object_get(c, "schedstat_iter")), "all_tasks");
	assert_string_equal(json_string_value(json_object_get(c, "schedstat_iter_why")), refused);
	assert_null(json_object_get(c, "schedstat_source_why"));
	json_decref(j);
	char *cap = host_cap(&an);
	assert_non_null(strstr(cap, "by one eBPF read per tick (program all_tasks, as "));
	assert_non_null(strstr(cap, refused));
	free(cap);
	char *txt = host_text(&an);
	assert_non_null(strstr(txt, "read by the eBPF program all_tasks, not one tried before it: "));
	assert_non_null(strstr(txt, refused));
	free(txt);
	analysis_done(&an);
	sample_done(&st);

	/* the first program, in use: nothing to explain */
	feed_host(&an, &st, "\"schedstat_source\":\"bpf_iter\",\"schedstat_iter\":\"tid_run\"");
	cap = host_cap(&an);
	assert_string_equal(cap, "VM vCPU schedstat by one eBPF read per tick (program tid_run)");
	free(cap);
	txt = host_text(&an);
	assert_null(strstr(txt, "vCPU schedstat read"));
	free(txt);
	analysis_done(&an);
	sample_done(&st);

	/* none loaded: the preads, with the load errors as the reason */
	feed_host(&an, &st, "\"schedstat_source\":\"procfs\",\"schedstat_source_why\":\"failed to load it: EPERM\"");
	cap = host_cap(&an);
	assert_string_equal(cap, "VM vCPU schedstat by one /proc read per vCPU per tick: failed to load it: EPERM");
	free(cap);
	txt = host_text(&an);
	assert_non_null(strstr(txt, "one /proc file at a time, not by an eBPF program: failed to load it: EPERM"));
	free(txt);
	analysis_done(&an);
	sample_done(&st);

	/* a bundle from before schedstat_iter: the line it always had */
	feed_host(&an, &st, "\"schedstat_source\":\"bpf_iter\"");
	cap = host_cap(&an);
	assert_string_equal(cap, "VM vCPU schedstat by one eBPF task-iterator read per tick");
	free(cap);
	analysis_done(&an);
	sample_done(&st);
}

/* An unknown HIDDENQ_TASKSTAT_PROG loads nothing and says so (or why nothing could load anyway). */
static void test_unknown_program_is_refused_with_its_name(void **state)
{
	(void)state;
	setenv("HIDDENQ_TASKSTAT_PROG", "tasks", 1);
	char *why = NULL;
	struct taskstat *ts = taskstat_open(&why);
	unsetenv("HIDDENQ_TASKSTAT_PROG");
	assert_null(ts);
	assert_non_null(why);
	assert_true(strstr(why, "HIDDENQ_TASKSTAT_PROG=tasks: not one of run, list, all") ||
		    strstr(why, "built without eBPF") || strstr(why, "no kernel BTF"));
	free(why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_is_the_kernels_printf),
		cmocka_unit_test(test_decode_records),
		cmocka_unit_test(test_decode_refuses_bad_records),
		cmocka_unit_test(test_host_mode_source_when_the_iterator_cannot_serve),
		cmocka_unit_test(test_program_and_fallback_reasons_are_shown),
		cmocka_unit_test(test_unknown_program_is_refused_with_its_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
