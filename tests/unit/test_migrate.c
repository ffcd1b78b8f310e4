/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * A live migration in flight: QEMU's query-migrate answers (parse/migparse.c,
 * real answers of QEMU 7.2 under TCG), the pass tracker (analysis/migrate.c)
 * and migration-convergence on vms.json samples as host/vmscan.c writes them.
 */
#include "harness.h"

#include <errno.h>
#include <math.h>

#include "analysis/analysis.h"
#include "analysis/migrate.h"
#include "analysis/rules_host.h"
#include "analysis/vms.h"
#include "parse/migparse.h"
#include "sinks/vms.h"

/* QEMU 7.2, source side, first pass of a 128 MiB TCG guest at a 4 MiB/s cap */
static const char *const ANSWER =
	"{\"expected-downtime\": 300, \"status\": \"active\", \"setup-time\": 1, \"total-time\": 6017, \"ram\": "
	"{\"total\": 134750208, \"postcopy-requests\": 0, \"dirty-sync-count\": 1, \"multifd-bytes\": 0, "
	"\"pages-per-second\": 1030, \"downtime-bytes\": 0, \"page-size\": 4096, \"remaining\": 104435712, "
	"\"postcopy-bytes\": 0, \"mbps\": 33.818400000000004, \"transferred\": 25357816, "
	"\"dirty-sync-missed-zero-copy\": 0, \"precopy-bytes\": 25357816, \"duplicate\": 1225, "
	"\"dirty-pages-rate\": 0, \"skipped\": 0, \"normal-bytes\": 25296896, \"normal\": 6176}}";

static json_t *J(const char *s)
{
	json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
	assert_non_null(j);
	return j;
}

static void test_parse_answers(void **state)
{
	(void)state;
	struct mig_info m;
	json_t *j = J(ANSWER);
	assert_int_equal(mig_parse(j, &m), 0);
	json_decref(j);
	assert_int_equal(m.status, MIG_ACTIVE);
	assert_true(mig_status_running(m.status));
	assert_true(m.have_ram);
	assert_int_equal(m.total, 134750208);
	assert_int_equal(m.remaining, 104435712);
	assert_int_equal(m.transferred, 25357816);
	assert_int_equal(m.dirty_sync_count, 1);
	assert_int_equal(m.dirty_pages_rate, 0);
	assert_int_equal(m.expected_downtime_ms, 300);
	assert_int_equal(m.total_time_ms, 6017);
	assert_int_equal(m.cpu_throttle_pct, -1);
	assert_true(fabs(m.mbps - 33.8184) < 1e-3);
	assert_true(mig_dirty_bytes_per_s(&m) == 0);

	/* the states QEMU names, new ones kept by name; absent and impossible numbers are unknown */
	j = J("{\"status\": \"postcopy-paused\", \"cpu-throttle-percentage\": 140}");
	mig_parse(j, &m);
	json_decref(j);
	assert_int_equal(m.status, MIG_POSTCOPY);
	assert_int_equal(m.cpu_throttle_pct, -1);
	assert_false(m.have_ram);
	j = J("{\"status\": \"x-new-state\", \"ram\": {\"remaining\": -5, \"dirty-sync-count\": \"3\", "
	      "\"page-size\": 3000, \"mbps\": -1}}");
	mig_parse(j, &m);
	json_decref(j);
	assert_int_equal(m.status, MIG_OTHER);
	assert_string_equal(m.status_name, "x-new-state");
	assert_int_equal(m.remaining, -1);
	assert_int_equal(m.dirty_sync_count, -1);
	assert_int_equal(m.page_size, 4096);
	assert_true(m.mbps == -1);
	j = J("{\"status\": \"failed\", \"error-desc\": \"Unable to write to socket: Broken pipe\"}");
	mig_parse(j, &m);
	json_decref(j);
	assert_int_equal(m.status, MIG_FAILED);
	assert_string_equal(m.error_desc, "Unable to write to socket: Broken pipe");
	/* no migration since QEMU started: QEMU answers {} */
	j = J("{}");
	assert_int_equal(mig_parse(j, &m), 0);
	json_decref(j);
	assert_int_equal(m.status, MIG_NONE);
	j = J("[1]");
	assert_int_equal(mig_parse(j, &m), -EINVAL);
	json_decref(j);

	struct mig_params p;
	mig_params_init(&p);
	j = J("{\"cpu-throttle-initial\": 20, \"downtime-limit\": 300, \"max-cpu-throttle\": 99, "
	      "\"max-bandwidth\": 16777216, \"cpu-throttle-increment\": 10}");
	assert_int_equal(mig_params_parse(j, &p), 0);
	json_decref(j);
	j = J("[{\"state\": false, \"capability\": \"xbzrle\"}, {\"state\": true, \"capability\": \"auto-converge\"}, "
	      "{\"state\": false, \"capability\": \"postcopy-ram\"}]");
	assert_int_equal(mig_caps_parse(j, &p), 0);
	json_decref(j);
	assert_int_equal(p.downtime_limit_ms, 300);
	assert_int_equal(p.max_bandwidth, 16777216);
	assert_int_equal(p.cpu_throttle_initial, 20);
	assert_int_equal(p.auto_converge, 1);
	assert_int_equal(p.postcopy_ram, 0);
}

/* One answer: pass n, remaining, transferred so far (MiB), dirty rate (MiB/s), throttle */
static struct mig_info answer(int64_t n, double rem, double xfer, double dirty, int throttle)
{
	struct mig_info m;
	json_t *j = json_pack("{s:s, s:i, s:{s:I, s:I, s:I, s:I, s:I, s:f}}", "status", "active", "expected-downtime",
			      2000, "ram", "total", (json_int_t)160 << 20, "remaining", (json_int_t)(rem * 1048576),
			      "transferred", (json_int_t)(xfer * 1048576), "dirty-sync-count", (json_int_t)n,
			      "dirty-pages-rate", (json_int_t)(dirty * 256), "mbps", 134.0);
	if (throttle >= 0)
		json_object_set_new(j, "cpu-throttle-percentage", json_integer(throttle));
	mig_parse(j, &m);
	json_decref(j);
	return m;
}

/*
 * A guest that rewrites a 30 MiB working set at a 16 MiB/s cap: one answer a
 * second, a pass every two; the dirty rate reported in each pass is the one
 * QEMU measured over the pass before, about the throughput.
 */
static void feed_capped(struct mig_track *t, double dirty, double shrink)
{
	double xfer = 0, backlog = 30;
	uint64_t now = 1000000000ull;
	for (int n = 2; n <= 9; n++) {
		for (int k = 0; k < 2; k++) {
			struct mig_info m = answer(n, backlog - 16 * k, xfer, dirty, -1);
			mig_track_feed(t, &m, now);
			now += 1000000000ull;
			xfer += 16;
		}
		backlog *= shrink;
	}
}

static void test_track_passes(void **state)
{
	(void)state;
	struct mig_track t;
	mig_track_init(&t);
	feed_capped(&t, 15.9, 1.0);
	assert_int_equal(t.npass, 8);
	assert_int_equal(mig_track_passes(&t), 9);
	const struct mig_pass *p = mig_track_pass(&t, 3);
	assert_int_equal(p->n, 5);
	assert_true(fabs((double)p->backlog / 1048576 - 30) < 0.01);
	assert_true(fabs(mig_pass_throughput(p) / 1048576 - 16) < 0.01);
	struct mig_verdict v;
	mig_track_verdict(&t, 3, &v);
	assert_int_equal(v.judged, 3);
	assert_true(v.dirty_pct > 99 && v.dirty_pct < 100);
	assert_true(fabs(v.kept_pct - 100) < 0.01);
	/* a same-time answer again is ignored */
	struct mig_info m = t.last;
	mig_track_feed(&t, &m, t.last_ns);
	assert_int_equal(t.npass, 8);

	/* converging: the guest dirties half of what is sent and the backlog halves each pass */
	mig_track_init(&t);
	feed_capped(&t, 8, 0.5);
	mig_track_verdict(&t, 3, &v);
	assert_true(v.dirty_pct > 49 && v.dirty_pct < 51);
	assert_true(v.kept_pct >= 0 && v.kept_pct < 20);

	/* too few passes: no figure */
	mig_track_init(&t);
	struct mig_info a = answer(2, 10, 0, 15, -1), b = answer(2, 5, 16, 15, -1);
	mig_track_feed(&t, &a, 1000000000ull);
	mig_track_feed(&t, &b, 2000000000ull);
	mig_track_verdict(&t, 3, &v);
	assert_true(v.dirty_pct == -1 && v.kept_pct == -1);

	/* a second migration (its passes start over) forgets the first one's */
	mig_track_init(&t);
	feed_capped(&t, 15.9, 1.0);
	struct mig_info c = answer(1, 150, 0, 0, -1);
	mig_track_feed(&t, &c, t.last_ns + 1000000000ull);
	assert_int_equal(t.npass, 1);

	/* the ring keeps the newest MIG_MAX_PASSES passes */
	mig_track_init(&t);
	for (int n = 1; n <= MIG_MAX_PASSES + 10; n++) {
		struct mig_info m2 = answer(n, 10, n * 16.0, 15, 20 + n);
		mig_track_feed(&t, &m2, (uint64_t)n * 1000000000ull);
	}
	assert_int_equal(t.npass, MIG_MAX_PASSES);
	assert_int_equal(mig_track_pass(&t, 0)->n, 11);
	assert_int_equal(t.throttle_first, 21);
	assert_int_equal(t.throttle_max, 20 + MIG_MAX_PASSES + 10);
}

/* vms.json of one QEMU VM with its QMP answers at time t */
static void add_vms_json(struct sample *s, const char *migrate, uint64_t t_ns, bool with_qmp)
{
	char *js;
	if (with_qmp)
		js = xasprintf("{\"vms\":[{\"pid\":100,\"vmm\":\"qemu\",\"name\":\"src\",\"threads\":[{\"tid\":101,"
			       "\"kind\":\"vcpu\",\"vcpu\":0,\"comm\":\"CPU 0/TCG\"}],\"taps\":[],\"qmp\":{\"socket\":"
			       "\"/x.sock\",\"t_ns\":%llu,\"migrate\":%s,\"migrate_parameters\":{\"downtime-limit\":300,"
			       "\"max-bandwidth\":16777216},\"migrate_capabilities\":[{\"capability\":\"auto-converge\","
			       "\"state\":false}]}}],\"root\":true}",
			       (unsigned long long)t_ns, migrate);
	else
		js = xasprintf("{\"vms\":[{\"pid\":100,\"vmm\":\"qemu\",\"name\":\"src\",\"threads\":[],\"taps\":[]}],"
			       "\"root\":true}");
	sample_add(s, VMSCAN_JSON_PATH, js, strlen(js));
	free(js);
}

/* The rule on samples: each answer in its own sample, one a second, then the verdict. */
static enum severity rule_on(const char *const *answers, size_t n, bool with_qmp, char *title, size_t tn)
{
	struct sample st;
	sample_init(&st);
	sample_add(&st, "sys/devices/system/cpu/online", "0-1\n", 4);
	struct analysis an;
	memset(&an, 0, sizeof(an));
	an.statics = &st;
	an.host = xmalloc(sizeof(*an.host));
	vms_init(an.host, &st);
	for (size_t i = 0; i < n; i++) {
		struct sample s;
		sample_init(&s);
		s.mono_ns = (uint64_t)(i + 1) * 1000000000ull;
		add_vms_json(&s, answers[i], s.mono_ns, with_qmp);
		/* the same answers again in the next tick's copy of vms.json: fed once */
		vms_feed(an.host, &s);
		vms_feed(an.host, &s);
		sample_done(&s);
	}
	vms_finish(an.host);
	struct findings fs = { 0 };
	struct finding *f = findings_add(&fs, "migration-convergence", 0, "host-migration", "live migration");
	rule_migration(&an, f);
	enum severity sev = f->sev;
	snprintf(title, tn, "%s", f->title);
	findings_done(&fs);
	vms_done(an.host);
	free(an.host);
	sample_done(&st);
	return sev;
}

static void test_rule(void **state)
{
	(void)state;
	char title[512];
	/* capped: 8 passes, the guest dirties about what is sent */
	const char *capped[16];
	char *bufs[16];
	double xfer = 0;
	for (int i = 0; i < 16; i++) {
		int n = 2 + i / 2;
		bufs[i] = xasprintf("{\"status\":\"active\",\"expected-downtime\":2022,\"ram\":{\"total\":167772160,"
				    "\"remaining\":%d,\"transferred\":%.0f,\"dirty-sync-count\":%d,\"dirty-pages-rate\":%d,"
				    "\"page-size\":4096,\"mbps\":134.2}}",
				    (30 - 16 * (i % 2)) << 20, xfer, n, n >= 2 ? 4070 : 0);
		capped[i] = bufs[i];
		xfer += 16 * 1048576.0;
	}
	assert_int_equal(rule_on(capped, 16, true, title, sizeof(title)), SEV_CRIT);
	assert_non_null(strstr(title, "not converging"));
	assert_non_null(strstr(title, "src"));
	/* too early: two passes */
	assert_int_equal(rule_on(capped, 3, true, title, sizeof(title)), SEV_UNKNOWN);
	assert_non_null(strstr(title, "too few passes"));
	for (int i = 0; i < 16; i++)
		free(bufs[i]);

	/* the throttle climbs: warn, even with few passes */
	const char *thr[] = {
		"{\"status\":\"active\",\"cpu-throttle-percentage\":20,\"ram\":{\"remaining\":1000,\"transferred\":1,"
		"\"dirty-sync-count\":3}}",
		"{\"status\":\"active\",\"cpu-throttle-percentage\":30,\"ram\":{\"remaining\":1000,\"transferred\":2,"
		"\"dirty-sync-count\":4}}",
	};
	assert_int_equal(rule_on(thr, 2, true, title, sizeof(title)), SEV_WARN);
	assert_non_null(strstr(title, "throttles the guest's vCPUs at 30 %"));
	/* completed during the watch: ok */
	const char *done[] = {
		"{\"status\":\"active\",\"ram\":{\"remaining\":5000,\"transferred\":1,\"dirty-sync-count\":1}}",
		"{\"status\":\"completed\",\"downtime\":42,\"ram\":{\"remaining\":0,\"transferred\":9,\"dirty-sync-count\":3}}",
	};
	assert_int_equal(rule_on(done, 2, true, title, sizeof(title)), SEV_OK);
	assert_non_null(strstr(title, "completed after 3 passes, downtime 42 ms"));
	/* failed during the watch: warn with QEMU's reason */
	const char *failed[] = {
		"{\"status\":\"active\",\"ram\":{\"remaining\":5000,\"transferred\":1,\"dirty-sync-count\":1}}",
		"{\"status\":\"failed\",\"error-desc\":\"Unable to write to socket: Broken pipe\"}",
	};
	assert_int_equal(rule_on(failed, 2, true, title, sizeof(title)), SEV_WARN);
	assert_non_null(strstr(title, "Broken pipe"));
	/* nothing in flight, and the last one ended before the watch: ok */
	const char *none[] = { "{}", "{}" };
	assert_int_equal(rule_on(none, 2, true, title, sizeof(title)), SEV_OK);
	assert_non_null(strstr(title, "no live migration in flight"));
	const char *old[] = { "{\"status\":\"completed\"}", "{\"status\":\"completed\"}" };
	assert_int_equal(rule_on(old, 2, true, title, sizeof(title)), SEV_OK);
	assert_non_null(strstr(title, "completed before the watch"));
	const char *same[] = {
		"{\"status\":\"completed\",\"total-time\":812,\"ram\":{\"dirty-sync-count\":4}}",
		"{\"status\":\"completed\",\"total-time\":812,\"ram\":{\"dirty-sync-count\":4}}",
	};
	assert_int_equal(rule_on(same, 2, true, title, sizeof(title)), SEV_OK);
	assert_non_null(strstr(title, "completed before the watch"));
	/* begun and ended between two answers (shorter than the interval): it ended during the watch */
	const char *quick[] = {
		"{}",
		"{\"status\":\"completed\",\"total-time\":640,\"downtime\":31,\"ram\":{\"remaining\":0,"
		"\"transferred\":9,\"dirty-sync-count\":3}}",
	};
	assert_int_equal(rule_on(quick, 2, true, title, sizeof(title)), SEV_OK);
	assert_non_null(strstr(title, "src: live migration completed after 3 passes, downtime 31 ms"));
	quick[0] = "{\"status\":\"cancelled\",\"total-time\":3000}";
	assert_int_equal(rule_on(quick, 2, true, title, sizeof(title)), SEV_OK);
	assert_non_null(strstr(title, "completed after 3 passes"));
	quick[0] = "{\"status\":\"completed\",\"total-time\":900,\"ram\":{\"dirty-sync-count\":5}}";
	assert_int_equal(rule_on(quick, 2, true, title, sizeof(title)), SEV_OK);
	assert_non_null(strstr(title, "completed after 3 passes"));
	/* one that failed between two answers: warn */
	const char *qfail[] = { "{}", "{\"status\":\"failed\",\"error-desc\":\"Connection refused\"}" };
	assert_int_equal(rule_on(qfail, 2, true, title, sizeof(title)), SEV_WARN);
	assert_non_null(strstr(title, "Connection refused"));
	/* no socket given: unknown, and says how to give one */
	assert_int_equal(rule_on(none, 2, false, title, sizeof(title)), SEV_UNKNOWN);
	assert_non_null(strstr(title, "no QMP socket given"));
}

/*
 * libvirt's job statistics as `virsh -r domjobinfo NAME --rawstats` prints
 * them: written from libvirt's typed-parameter names (libvirt-domain.h,
 * VIR_DOMAIN_JOB_*) and virsh's raw format, since no libvirtd runs here.
 */
static char *lv_stats(int type, int pass, int remaining_mib, double sent_mib, int throttle)
{
	return xasprintf("Job type: %d\n\noperation: 5\ntime_elapsed: %d\ndata_total: 167772160\n"
			 "memory_total: 167772160\nmemory_processed: %.0f\nmemory_remaining: %d\n"
			 "memory_constant: 30000\nmemory_normal: 9000\nmemory_bps: 16777216\nmemory_dirty_rate: 4070\n"
			 "memory_page_size: 4096\nmemory_iteration: %d\nmemory_postcopy_requests: 0\ndowntime: %d\n"
			 "setup_time: 11\n%s",
			 type, 1000 * pass, sent_mib * 1048576, remaining_mib << 20, pass, type == 3 ? 48 : 2022,
			 throttle >= 0 ? (throttle == 20 ? "auto_converge_throttle: 20\n" : "auto_converge_throttle: 40\n")
				       : "");
}

static void test_parse_libvirt(void **state)
{
	(void)state;
	struct mig_info m;
	char *t = lv_stats(2, 5, 30, 100, 20);
	assert_int_equal(mig_parse_libvirt(t, strlen(t), &m), 0);
	assert_int_equal(m.status, MIG_ACTIVE);
	assert_true(m.have_ram);
	assert_int_equal(m.dirty_sync_count, 5);
	assert_int_equal(m.remaining, 30 << 20);
	assert_int_equal(m.transferred, 100 << 20);
	assert_int_equal(m.total, 167772160);
	assert_int_equal(m.dirty_pages_rate, 4070);
	assert_int_equal(m.expected_downtime_ms, 2022);
	assert_int_equal(m.downtime_ms, -1);
	assert_int_equal(m.total_time_ms, 5000);
	assert_int_equal(m.cpu_throttle_pct, 20);
	assert_true(fabs(m.mbps - 16777216 * 8 / 1e6) < 1e-6);
	free(t);
	/* completed: downtime is the pause it took */
	t = lv_stats(3, 7, 0, 200, -1);
	assert_int_equal(mig_parse_libvirt(t, strlen(t), &m), 0);
	assert_int_equal(m.status, MIG_COMPLETED);
	assert_int_equal(m.downtime_ms, 48);
	assert_int_equal(m.expected_downtime_ms, -1);
	assert_int_equal(m.cpu_throttle_pct, -1);
	free(t);
	/* failed, with libvirt's message */
	const char *f = "Job type: 4\n\noperation: 5\nerrmsg: operation failed: migration out job: unexpectedly failed\n";
	assert_int_equal(mig_parse_libvirt(f, strlen(f), &m), 0);
	assert_int_equal(m.status, MIG_FAILED);
	assert_string_equal(m.error_desc, "operation failed: migration out job: unexpectedly failed");
	/* a save to a file is a job, not a migration; no job at all */
	const char *save = "Job type: 2\n\noperation: 2\nmemory_total: 1000\nmemory_remaining: 10\n";
	assert_int_equal(mig_parse_libvirt(save, strlen(save), &m), 0);
	assert_int_equal(m.status, MIG_NONE);
	assert_false(m.have_ram);
	const char *none = "Job type: 0\n\n";
	assert_int_equal(mig_parse_libvirt(none, strlen(none), &m), 0);
	assert_int_equal(m.status, MIG_NONE);
	/* not virsh's output; numbers that are not numbers or do not fit */
	const char *bad[] = { "", "error: failed to get domain 'x'\n", "Job type: 9\n",
			      "Job type: 2\nmemory_remaining: -5\nmemory_iteration: 99999999999999999999\n" };
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(mig_parse_libvirt(bad[i], strlen(bad[i]), &m), -EINVAL);
	assert_int_equal(mig_parse_libvirt(bad[3], strlen(bad[3]), &m), 0);
	assert_int_equal(m.remaining, -1);
	assert_int_equal(m.dirty_sync_count, -1);
}

/* migration-convergence on vms.json samples of a libvirt VM: libvirt_job as host/vmscan.c writes it */
static enum severity rule_on_libvirt(char **stats, size_t n, char *title, size_t tn, char *vmjson, size_t vn)
{
	struct sample st;
	sample_init(&st);
	sample_add(&st, "sys/devices/system/cpu/online", "0-1\n", 4);
	struct analysis an;
	memset(&an, 0, sizeof(an));
	an.statics = &st;
	an.host = xmalloc(sizeof(*an.host));
	vms_init(an.host, &st);
	for (size_t i = 0; i < n; i++) {
		struct sample s;
		sample_init(&s);
		s.mono_ns = (uint64_t)(i + 1) * 1000000000ull;
		json_t *lj = json_object();
		json_object_set_new(lj, "t_ns", json_integer((json_int_t)s.mono_ns));
		json_object_set_new(lj, "migrating", json_boolean(stats[i] != NULL));
		if (stats[i] && stats[i][0] == '!') /* "!why": virsh could not answer */
			json_object_set_new(lj, "error", json_string(stats[i] + 1));
		else if (stats[i])
			json_object_set_new(lj, "stats", json_string(stats[i]));
		json_t *vm = json_pack("{s:i,s:s,s:s,s:s,s:[],s:[],s:o}", "pid", 100, "vmm", "qemu", "name", "db1",
				       "name_source", "libvirt", "threads", "taps", "libvirt_job", lj);
		json_t *o = json_pack("{s:[o],s:b}", "vms", vm, "root", 1);
		char *js = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		sample_add(&s, VMSCAN_JSON_PATH, js, strlen(js));
		free(js);
		vms_feed(an.host, &s);
		sample_done(&s);
	}
	vms_finish(an.host);
	struct findings fs = { 0 };
	struct finding *f = findings_add(&fs, "migration-convergence", 0, "host-migration", "live migration");
	rule_migration(&an, f);
	enum severity sev = f->sev;
	snprintf(title, tn, "%s", f->title);
	json_t *vj = vms_json(an.host);
	char *vs = json_dumps(vj, JSON_COMPACT);
	snprintf(vmjson, vn, "%s", vs ? vs : "");
	free(vs);
	json_decref(vj);
	findings_done(&fs);
	vms_done(an.host);
	free(an.host);
	sample_done(&st);
	return sev;
}

static void test_rule_libvirt(void **state)
{
	(void)state;
	char title[512], vj[16384];
	/* no migration job: watched, ok */
	char *idle[3] = { NULL, NULL, NULL };
	assert_int_equal(rule_on_libvirt(idle, 3, title, sizeof(title), vj, sizeof(vj)), SEV_OK);
	assert_non_null(strstr(title, "no live migration in flight"));
	/* the guest outruns the stream: each pass resends 30 MiB at 16 MiB/s */
	char *capped[17];
	capped[0] = NULL;
	for (int i = 1; i < 17; i++)
		capped[i] = lv_stats(2, 1 + (i + 1) / 2, 30 - 16 * (i % 2), 16.0 * i, -1);
	assert_int_equal(rule_on_libvirt(capped, 17, title, sizeof(title), vj, sizeof(vj)), SEV_CRIT);
	assert_non_null(strstr(title, "db1: live migration not converging"));
	assert_non_null(strstr(vj, "\"via\":\"libvirt\""));
	for (int i = 1; i < 17; i++)
		free(capped[i]);
	/* completed during the watch, then no job: the completion stays the last word */
	char *done[4] = { lv_stats(2, 1, 100, 10, -1), lv_stats(2, 2, 5, 90, -1), lv_stats(3, 3, 0, 100, -1), NULL };
	assert_int_equal(rule_on_libvirt(done, 4, title, sizeof(title), vj, sizeof(vj)), SEV_OK);
	assert_non_null(strstr(title, "db1: live migration completed after 3 passes, downtime 48 ms"));
	for (int i = 0; i < 3; i++)
		free(done[i]);
	/* migrating, but virsh could not answer: unknown, and why */
	char *err[2] = { "!virsh domjobinfo: error: failed to connect to the hypervisor", NULL };
	err[1] = err[0];
	assert_int_equal(rule_on_libvirt(err, 2, title, sizeof(title), vj, sizeof(vj)), SEV_UNKNOWN);
	assert_non_null(strstr(title, "db1 migrates (libvirt's status says so), but its job statistics could not be "
				      "read: virsh domjobinfo: error: failed to connect"));
	assert_non_null(strstr(vj, "\"migration_error\":\"virsh domjobinfo"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_answers),
		cmocka_unit_test(test_track_passes),
		cmocka_unit_test(test_rule),
		cmocka_unit_test(test_parse_libvirt),
		cmocka_unit_test(test_rule_libvirt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
