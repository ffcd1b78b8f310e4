/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The exposition formats (src/sinks/openmetrics.c): serve renders
 * OpenMetrics after each sample and derives the text format from it when a
 * client asks (om_text_from_openmetrics).  The derived text must be the
 * bytes om_render writes for text 0.0.4 from the same engine; and the
 * converter's rules, line by line, on a body written by hand.
 */
#include "harness.h"

#include "engine/engine.h"
#include "sinks/openmetrics.h"

#define NCPU 2

/* An engine fed 40 s of synthetic samples: steal on cpu1, PSI cpu some,
 * so its series, a histogram and the findings' evidence are all there. */
static struct engine *fed_engine(struct sample *statics)
{
	sample_init(statics);
	sample_put(statics, ".hiddenq/identity.json",
		   "{\"cpuid_available\":true,\"hypervisor_bit\":true,"
		   "\"hypervisor_signature\":\"KVMKVMKVM\",\"kvm_features_eax\":32,\"euid\":0}");
	struct engine_opts o = { .window_ns = 30 * NS_PER_S };
	struct engine *e = engine_new(statics, "test", &o);
	struct fake_cpu cpu[NCPU] = { { .id = 0, .online = true }, { .id = 1, .online = true } };
	uint64_t psi_us = 0;
	for (int t = 0; t < 40; t++) {
		unsigned steal[NCPU] = { 0, t < 20 ? 35 : 3 };
		for (int i = 0; i < NCPU; i++) {
			cpu[i].v[CT_STEAL] += steal[i];
			cpu[i].v[CT_USER] += 40;
			cpu[i].v[CT_IDLE] += 60 - steal[i];
		}
		psi_us += 123457;
		struct sample s;
		sample_init(&s);
		s.mono_ns = (1000 + (uint64_t)t) * NS_PER_S;
		s.real_ns = 1700000000ull * NS_PER_S + s.mono_ns;
		s.slow = true;
		char *txt = fake_procstat(cpu, NCPU, 8, 1);
		sample_put(&s, "proc/stat", txt);
		free(txt);
		char psi[160];
		snprintf(psi, sizeof(psi), "some avg10=0.00 avg60=0.00 avg300=0.00 total=%llu\n"
					   "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
			 (unsigned long long)psi_us);
		sample_put(&s, "proc/pressure/cpu", psi);
		engine_feed(e, &s);
		sample_done(&s);
	}
	return e;
}

static void test_derived_text_is_rendered_text(void **state)
{
	(void)state;
	struct sample statics;
	struct engine *e = fed_engine(&statics);
	struct findings fs = { 0 };
	engine_evaluate(e, &fs);
	engine_release(e);
	struct om_self self = { .scrapes = { 3, 1, 0, 0 }, .scrape_cpu_s = 0.25, .sample_cpu_s = 1.5,
				.sample_last_s = 0.0021, .rss_bytes = 12345678, .features = "bpf,\"x\"" };
	size_t om_len, text_len, conv_len;
	char *om = om_render(e, &fs, &self, OM_OPENMETRICS_100, &om_len);
	char *text = om_render(e, &fs, &self, OM_TEXT_004, &text_len);
	char *conv = om_text_from_openmetrics(om, om_len, &conv_len);
	assert_true(om_len > 2000);
	assert_non_null(strstr(om, "# TYPE hiddenq_cpu_steal_seconds counter\n# UNIT hiddenq_cpu_steal_seconds seconds\n"));
	assert_non_null(strstr(om, "\nhiddenq_cpu_steal_window_ratio_bucket{cpu=\"1\",le=\"0.5\"} "));
	assert_non_null(strstr(om, "# TYPE hiddenq_build info\n"));
	assert_string_equal(om + om_len - 6, "# EOF\n");
	assert_int_equal(conv_len, text_len);
	assert_string_equal(conv, text);
	free(om);
	free(text);
	free(conv);
	findings_done(&fs);
	engine_free(e);
	sample_done(&statics);
}

static void test_converter_rules(void **state)
{
	(void)state;
	static const char om[] =
		"# HELP a_seconds a counter, \"quoted\" \\\\ and \\n escaped\n"
		"# TYPE a_seconds counter\n"
		"# UNIT a_seconds seconds\n"
		"a_seconds_total{x=\"# not a comment\"} 1.5\n"
		"# HELP b_build the build\n"
		"# TYPE b_build info\n"
		"b_build_info{version=\"1\"} 1\n"
		"# HELP c a histogram\n"
		"# TYPE c histogram\n"
		"c_bucket{le=\"+Inf\"} 2\n"
		"c_sum 3\n"
		"c_count 2\n"
		"# HELP d no type follows\n"
		"d 4\n"
		"# TYPE e gauge\n"
		"e NaN\n"
		"# HELP f last, and no newline at the end";
	static const char want[] =
		"# HELP a_seconds_total a counter, \"quoted\" \\\\ and \\n escaped\n"
		"# TYPE a_seconds_total counter\n"
		"a_seconds_total{x=\"# not a comment\"} 1.5\n"
		"# HELP b_build_info the build\n"
		"# TYPE b_build_info gauge\n"
		"b_build_info{version=\"1\"} 1\n"
		"# HELP c a histogram\n"
		"# TYPE c histogram\n"
		"c_bucket{le=\"+Inf\"} 2\n"
		"c_sum 3\n"
		"c_count 2\n"
		"# HELP d no type follows\n"
		"d 4\n"
		"# TYPE e gauge\n"
		"e NaN\n"
		"# HELP f last, and no newline at the end\n";
	size_t n;
	char *t = om_text_from_openmetrics(om, sizeof(om) - 1, &n);
	assert_string_equal(t, want);
	assert_int_equal(n, sizeof(want) - 1);
	free(t);
	/* EOF only, and nothing */
	t = om_text_from_openmetrics("# EOF\n", 6, &n);
	assert_int_equal(n, 0);
	free(t);
	t = om_text_from_openmetrics("", 0, &n);
	assert_int_equal(n, 0);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_derived_text_is_rendered_text),
		cmocka_unit_test(test_converter_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
