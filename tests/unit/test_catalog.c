/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The metric catalog (src/core/metrics.def) and the sources table
 * (sources.def): every row well-formed and unique, the Prometheus names
 * following the conventions (base units, _total for counters, ratios 0-1),
 * the display units from one small set, thresholds in the unit of the
 * metric they judge, and evidence labels rendering the subject.
 */
#include "harness.h"

#include <ctype.h>
#include <math.h>

#include "analysis/findings.h"
#include "core/catalog.h"

static bool ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);
	return n >= k && !strcmp(s + n - k, suf);
}

static bool prom_name_ok(const char *s)
{
	if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
			return false;
	return true;
}

static void test_rows_unique_and_named(void **state)
{
	(void)state;
	for (int i = 0; i < M_COUNT; i++) {
		const struct metric_def *d = metric_def(i);
		assert_non_null(d->name);
		assert_true(prom_name_ok(d->name));
		assert_true(prom_name_ok(d->prom));
		assert_true(!strncmp(d->prom, "hiddenq_", 8));
		assert_true(strlen(d->help) > 10);
		assert_true(d->scale > 0 && isfinite(d->scale));
		assert_true(d->source < SRC_COUNT);
		assert_ptr_equal(metric_by_name(d->name), d);
		assert_ptr_equal(metric_by_name(d->prom), d);
		assert_int_equal(metric_id_of(d), i);
		for (int k = i + 1; k < M_COUNT; k++) {
			assert_string_not_equal(d->name, metric_def(k)->name);
			assert_string_not_equal(d->prom, metric_def(k)->prom);
		}
	}
	assert_null(metric_by_name("no_such_metric"));
	assert_null(metric_by_name(NULL));
}

/* Prometheus conventions: counters end in _total, the base unit is in the
 * name (before _total), no display units (ms, pct, mib) in exported names. */
static void test_prometheus_conventions(void **state)
{
	(void)state;
	static const char *const display_words[] = { "pct", "ms", "us", "mib", "kb", "percent", "pkts", "ticks" };
	for (int i = 0; i < M_COUNT; i++) {
		const struct metric_def *d = metric_def(i);
		char base[160];
		snprintf(base, sizeof(base), "%s", d->prom);
		if (d->type == MT_COUNTER) {
			assert_true(ends_with(base, "_total"));
			base[strlen(base) - 6] = '\0';
		} else {
			assert_false(ends_with(base, "_total"));
		}
		if (d->type == MT_INFO)
			assert_true(ends_with(base, "_info"));
		char words[160];
		snprintf(words, sizeof(words), "%s", base);
		for (char *save = NULL, *w = strtok_r(words, "_", &save); w; w = strtok_r(NULL, "_", &save))
			for (size_t k = 0; k < ARRAY_SIZE(display_words); k++)
				if (!strcmp(w, display_words[k]))
					fail_msg("%s: display unit %s in an exported name", d->prom, w);
		switch (d->unit) {
		case U_SECONDS:
			if (!ends_with(base, "_seconds"))
				fail_msg("%s: unit seconds but the name does not say so", d->prom);
			break;
		case U_RATIO:
			if (!ends_with(base, "_ratio"))
				fail_msg("%s: unit ratio but the name does not say so", d->prom);
			break;
		case U_BYTES:
			if (!ends_with(base, "_bytes"))
				fail_msg("%s: unit bytes but the name does not say so", d->prom);
			break;
		case U_SECONDS_PER_SECOND:
			/* a ratio of times: exported as _ratio */
			if (!ends_with(base, "_ratio"))
				fail_msg("%s: time per time is a ratio", d->prom);
			break;
		case U_EVENTS_PER_SECOND:
		case U_PACKETS_PER_SECOND:
		case U_PAGES_PER_SECOND:
		case U_BYTES_PER_SECOND:
		case U_REQUESTS_PER_SECOND:
			if (!ends_with(base, "_per_second"))
				fail_msg("%s: a rate whose name does not say per_second", d->prom);
			break;
		default:
			break;
		}
		/* a display scale that disagrees with the unit is a bug waiting to happen */
		if (!strcmp(d->display, "%"))
			assert_true(d->scale == 100 && (d->unit == U_RATIO));
		if (!strcmp(d->display, "ms") || !strcmp(d->display, "ms/s"))
			assert_true(d->scale == 1000);
		if (!strcmp(d->display, "us"))
			assert_true(d->scale == 1e6);
		if (!strcmp(d->display, "MiB") || !strcmp(d->display, "MiB/s"))
			assert_true(d->scale == 1.0 / 1048576);
	}
}

/* Display units come from one set: no "pkts/s" beside "packets/s". */
static void test_display_units(void **state)
{
	(void)state;
	static const char *const ok[] = { "",	   "%",	     "ms",	  "us",	     "s",	"ticks",
					  "windows", "tasks",   "CPUs",	  "waits",   "cgroups", "periods",
					  "pages/s", "/s",	     "MiB",	  "MiB/s",   "pages",	"faults",
					  "runs",    "nodes",   "stalls",	  "sleeps",  "packets", "packets/s",
					  "bytes",   "timeouts", "cpu",	  "queues",  "requests", "requests/s",
					  "x",	     "threads", "pairs",	  "samples", "compactions", "s since boot",
					  "ms/s", "scrapes", "timers", "passes", "events" };
	for (int i = 0; i < M_COUNT; i++) {
		bool found = false;
		for (size_t k = 0; k < ARRAY_SIZE(ok) && !found; k++)
			found = !strcmp(metric_def(i)->display, ok[k]);
		if (!found)
			fail_msg("%s: display unit '%s' is not one of the known set", metric_def(i)->name,
				 metric_def(i)->display);
	}
}

/* A threshold is compared with values in the unit of the metric it is named after. */
static void test_thresholds_match_metrics(void **state)
{
	(void)state;
	unsigned linked = 0;
	for (int t = 0; t < T_COUNT; t++) {
		const struct metric_def *d = metric_by_name(thresholds[t].name);
		if (!d)
			continue;
		linked++;
		if (strcmp(d->display, thresholds[t].unit) != 0)
			fail_msg("threshold %s is in '%s' but metric %s is shown in '%s'", thresholds[t].name,
				 thresholds[t].unit, d->name, d->display);
	}
	assert_true(linked >= 15);
}

static void test_sources_table(void **state)
{
	(void)state;
	for (int i = 0; i < SRC_COUNT; i++) {
		assert_true(prom_name_ok(source_defs[i].name));
		assert_true(strlen(source_defs[i].reads) > 3);
		assert_int_equal(source_by_name(source_defs[i].name), i);
		for (int k = i + 1; k < SRC_COUNT; k++)
			assert_string_not_equal(source_defs[i].name, source_defs[k].name);
	}
	assert_int_equal(source_by_name("nope"), SRC_COUNT);
	/* every source but the engine supplies at least one metric */
	for (int s = 0; s < SRC_COUNT; s++) {
		if (s == SRC_IDENTITY || s == SRC_TOPOLOGY)
			continue;
		bool any = false;
		for (int m = 0; m < M_COUNT && !any; m++)
			any = metric_def(m)->source == (enum source_id)s;
		if (!any)
			fail_msg("source %s supplies no metric", source_defs[s].name);
	}
}

static void test_labels_and_subject(void **state)
{
	(void)state;
	struct findings fs = { 0 };
	struct finding *f = findings_add(&fs, "x", 0, "l", "L");
	struct evidence *e = finding_ev(f, M_QDISC_DROPS_PER_S, 12.5, T_NET_DROPS);
	ev_label(ev_label(ev_label(e, LBL_INTERFACE, "eth0"), LBL_QUEUE, "tx-%d", 0), LBL_QDISC, "%s %s", "pfifo_fast",
		 "1:");
	assert_string_equal(e->metric, "qdisc_drops_per_s");
	assert_string_equal(e->unit, "packets/s");
	assert_int_equal(e->nlabels, 3);
	assert_string_equal(e->subject, "eth0 tx-0 qdisc pfifo_fast 1:");
	assert_string_equal(ev_label_value(e, LBL_QUEUE), "tx-0");
	assert_null(ev_label_value(e, LBL_CPU));
	assert_true(e->warn == thresholds[T_NET_DROPS].warn && e->crit == thresholds[T_NET_DROPS].crit);

	/* cpu has its own field and does not render */
	e = finding_ev_cpu(f, M_STEAL_PCT_AVG, 3, T_STEAL_AVG, 1);
	assert_int_equal(e->cpu, 1);
	assert_string_equal(ev_label_value(e, LBL_CPU), "1");
	assert_null(e->subject);
	e = ev_label(finding_ev(f, M_VM_THREAD_DELAY_PCT, 1, -1), LBL_VM, "web");
	ev_label(e, LBL_THREAD, "CPU 0/KVM");
	assert_string_equal(e->subject, "web/CPU 0/KVM");
	e = ev_label(finding_ev(f, M_NUMA_MISS_PCT, 1, -1), LBL_NODE, "%u", 3);
	assert_string_equal(e->subject, "node3");
	e = finding_ev(f, M_KMSG_DURING, 1, -1);
	ev_label(ev_label(e, LBL_KIND, "rcu"), LBL_MESSAGE, "stall on CPU 1");
	assert_string_equal(e->subject, "rcu: stall on CPU 1");
	/* more labels than fit are dropped, not written past the end */
	e = finding_ev(f, M_QUEUES, 1, -1);
	for (int i = 0; i < EV_MAX_LABELS + 3; i++)
		ev_label(e, LBL_INTERFACE, "if%d", i);
	assert_int_equal(e->nlabels, EV_MAX_LABELS);
	findings_done(&fs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_unique_and_named),
		cmocka_unit_test(test_prometheus_conventions),
		cmocka_unit_test(test_display_units),
		cmocka_unit_test(test_thresholds_match_metrics),
		cmocka_unit_test(test_sources_table),
		cmocka_unit_test(test_labels_and_subject),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
