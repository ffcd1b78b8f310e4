/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The probes' and the lab's output: the context a probe ran in, each probe's
 * result as text (the JSON is the result itself), the wrapper every probe
 * prints, and errors that respect --json.  Results are the JSON objects the
 * probes return (probe/probe.h); nothing here measures.
 */
#include "probe.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../core/json.h"
#include "../core/util.h"
#include "report.h"

/* ---- shared ---- */

const char *fmt_ns(double ns, char *buf, size_t len)
{
	if (ns < 1000)
		snprintf(buf, len, "%.0f ns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, "%.*f µs", ns < 1e4 ? 2 : 1, ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, len, "%.*f ms", ns < 1e7 ? 2 : 1, ns / 1e6);
	else
		snprintf(buf, len, "%.2f s", ns / 1e9);
	return buf;
}

const char *fmt_bytes(double b, char *buf, size_t len)
{
	if (b >= 1073741824.0)
		snprintf(buf, len, "%.2f GiB", b / 1073741824.0);
	else if (b >= 1048576.0)
		snprintf(buf, len, "%.1f MiB", b / 1048576.0);
	else if (b >= 1024.0)
		snprintf(buf, len, "%.0f KiB", b / 1024.0);
	else
		snprintf(buf, len, "%.0f B", b);
	return buf;
}

/* "KVM guest, 2 CPUs, kernel 6.1" from a probe context, for the header line */
static void env_subject(json_t *c, char *buf, size_t n)
{
	const char *hv = json_string_value(json_object_get(c, "hypervisor"));
	bool guest = json_is_true(json_object_get(c, "guest"));
	int cpus = (int)pjget(c, "cpus");
	const char *k = json_string_value(json_object_get(c, "kernel"));
	char who[64];
	if (guest)
		snprintf(who, sizeof(who), "%s guest", hv && strcmp(hv, "none") ? hv : "unknown hypervisor's");
	else
		snprintf(who, sizeof(who), "host");
	snprintf(buf, n, "%s, %d %s%s, kernel %s", who, cpus, guest ? "vCPU" : "CPU",
		 plural_s((uint64_t)(cpus > 0 ? cpus : 0)), k ? k : "?");
}

void probe_env_text(FILE *out, json_t *c)
{
	if (!json_is_object(c))
		return;
	json_t *ci = json_object_get(c, "cpuidle");
	double st = pjget(c, "steal_pct");
	fprintf(out, "context: page %d B, THP %s, cpuidle %s", (int)pjget(c, "page_size"),
		json_string_value(json_object_get(c, "thp")) ?: "?",
		json_string_value(json_object_get(ci, "driver")) ?: "?");
	double mx = pjget(ci, "max_exit_latency_us");
	if (isfinite(mx))
		fprintf(out, " (deepest exit %g µs)", mx);
	fputc('\n', out);
	if (isfinite(st))
		fprintf(out, "         steal %.1f %%", st);
	else
		fputs("         steal ?", out);
	json_t *psi = json_object_get(c, "psi");
	static const char *const names[3] = { "cpu", "memory", "io" };
	for (int i = 0; i < 3; i++) {
		json_t *p = json_object_get(psi, names[i]);
		if (json_is_object(p))
			fprintf(out, ", PSI %s some %.1f %%", names[i], pjget(p, "some_pct"));
	}
	fprintf(out, " over %.1f s\n", pjget(c, "duration_s"));
}

void probe_header(FILE *out, const char *command, json_t *ctx, const char *extra)
{
	char subj[256];
	env_subject(ctx, subj, sizeof(subj));
	text_header(out, command, "%s, ran %.1f s%s", subj, pjget(ctx, "duration_s"), extra ? extra : "");
}

int probe_fail(bool json, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (json || hq_json) {
		json_t *j = report_json_error(msg ? msg : "error");
		json_print(stdout, j);
		json_decref(j);
		fflush(stdout);
	}
	log_err("%s", msg ? msg : "error");
	free(msg);
	return 3;
}

void probe_emit(bool json, const char *name, json_t *result, json_t *context,
		void (*print)(FILE *out, json_t *result), bool failed)
{
	json_t *o = json_object();
	json_object_set_new(o, "hiddenq", json_string(HQ_VERSION));
	json_object_set_new(o, "probe", jstr(name));
	json_object_set_new(o, "interrupted", json_boolean(hq_exiting != 0));
	if (failed) {
		json_object_set(o, "error", json_object_get(result, "error"));
		json_object_set_new(o, "exit", json_integer(3));
	}
	json_object_set_new(o, "context", context);
	json_object_set_new(o, "result", json_incref(result));
	if (json) {
		char *t = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		if (t)
			printf("%s\n", t);
		free(t);
	} else {
		char cmd[48];
		snprintf(cmd, sizeof(cmd), "probe %s", name);
		probe_header(stdout, cmd, json_object_get(o, "context"),
			     hq_exiting ? " (interrupted: partial results)" : NULL);
		probe_env_text(stdout, json_object_get(o, "context"));
		print(stdout, result);
	}
	fflush(stdout);
	json_decref(o);
}

/* A time for a text table: "-" where nothing was measured (no sample, or interrupted before one) */
static const char *fmt_us(double us, char *buf, size_t len)
{
	if (!isfinite(us)) {
		snprintf(buf, len, "-");
		return buf;
	}
	return fmt_ns(us * 1e3, buf, len);
}

/* One histogram (hist_json) on a line, its label padded to width. */
static void hist_line(FILE *out, int width, const char *label, json_t *h)
{
	char a[24], b[24], c[24], d[24], e[24];
	double n = pjget(h, "count");
	fprintf(out, "  %-*s p50 %-9s p90 %-9s p99 %-9s p99.9 %-9s max %-9s n=%.0f\n", width, label,
		fmt_us(pjget(h, "p50_us"), a, sizeof(a)), fmt_us(pjget(h, "p90_us"), b, sizeof(b)),
		fmt_us(pjget(h, "p99_us"), c, sizeof(c)), fmt_us(pjget(h, "p999_us"), d, sizeof(d)),
		fmt_us(pjget(h, "max_us"), e, sizeof(e)), isfinite(n) ? n : 0);
}

/* ---- jitter ---- */

void jitter_print(FILE *out, json_t *r);
void jitter_print(FILE *out, json_t *r)
{
	fprintf(out, "\nwake-up latency of a %.0f µs absolute sleep (timer slack %d ns), per CPU:\n",
		pjget(r, "interval_us"), (int)pjget(r, "timer_slack_ns"));
	size_t i, k;
	json_t *run, *c;
	json_array_foreach(json_object_get(r, "runs"), i, run) {
		hist_line(out, 34, json_string_value(json_object_get(run, "label")) ?: "?", json_object_get(run, "latency"));
		json_array_foreach(json_object_get(run, "per_cpu"), k, c) {
			char l[32];
			snprintf(l, sizeof(l), "  cpu %d", (int)pjget(c, "cpu"));
			hist_line(out, 34, l, json_object_get(c, "latency"));
		}
	}
	json_t *f = json_object_get(r, "sched_fifo"), *d = json_object_get(r, "cpu_dma_latency");
	if (json_is_string(f))
		fprintf(out, "  (no SCHED_FIFO run: %s)\n", json_string_value(f));
	if (json_is_string(d))
		fprintf(out, "  (no cpu_dma_latency run: %s)\n", json_string_value(d));
	json_t *g = json_object_get(r, "gaps");
	if (json_is_object(g)) {
		fprintf(out, "\ngaps in a busy loop (>= %.0f µs, SCHED_OTHER):\n", pjget(g, "threshold_us"));
		json_array_foreach(json_object_get(g, "per_cpu"), k, c) {
			char l[64];
			int ng = (int)pjget(c, "gaps");
			snprintf(l, sizeof(l), "cpu %d: %d gap%s, %.3f %% lost", (int)pjget(c, "cpu"), ng,
				 plural_s((uint64_t)(ng > 0 ? ng : 0)), pjget(c, "lost_pct"));
			hist_line(out, 34, l, json_object_get(c, "gap"));
		}
		json_array_foreach(json_object_get(g, "by_cause"), k, c) {
			int ng = (int)pjget(c, "gaps");
			fprintf(out, "  %-30s %6d %-4s  %10.1f µs\n", json_string_value(json_object_get(c, "cause")) ?: "?",
				ng, ng == 1 ? "gap" : "gaps", pjget(c, "time_us"));
		}
		json_array_foreach(json_object_get(g, "worst"), k, c)
			fprintf(out, "  worst: cpu %d %.1f µs (run delay %.1f µs) → %s\n", (int)pjget(c, "cpu"),
				pjget(c, "gap_us"), pjget(c, "run_delay_us"),
				json_string_value(json_object_get(c, "cause")) ?: "?");
	}
}

/* ---- mem ---- */

void mem_print(FILE *out, json_t *r)
{
	size_t i, k;
	json_t *c, *pt;
	json_t *cv = json_object_get(r, "curves");
	fprintf(out, "\nlatency per hop (random chain, one cache line per hop):\n  %10s", "size");
	json_array_foreach(cv, i, c) {
		double cov = pjget(c, "thp_coverage_pct");
		char h[48];
		snprintf(h, sizeof(h), "%s pages%s", json_string_value(json_object_get(c, "pages")), "");
		if (isfinite(cov) && !strcmp(json_string_value(json_object_get(c, "pages")), "thp"))
			snprintf(h, sizeof(h), "thp (%.0f %% huge)", cov);
		fprintf(out, "  %18s p99", h);
	}
	fputc('\n', out);
	json_t *first = json_array_get(cv, 0);
	json_array_foreach(json_object_get(first, "curve"), k, pt) {
		char sz[24];
		fprintf(out, "  %10s", fmt_bytes(pjget(pt, "size"), sz, sizeof(sz)));
		json_array_foreach(cv, i, c) {
			json_t *q = json_array_get(json_object_get(c, "curve"), k);
			fprintf(out, "  %12.1f ns %5.1f", pjget(q, "ns_per_hop"), pjget(json_object_get(q, "batch"), "p99_ns"));
		}
		fputc('\n', out);
	}
	json_t *pairs = json_object_get(r, "pairs");
	if (json_array_size(pairs)) {
		char sz[24];
		fprintf(out, "\nnode pairs (%s working set):\n", fmt_bytes(pjget(r, "pair_size"), sz, sizeof(sz)));
		fprintf(out, "  %-8s %-8s %12s %8s %12s %12s\n", "cpu", "memory", "latency", "ratio", "read", "write");
		json_array_foreach(pairs, i, c) {
			double ratio = pjget(c, "remote_local_ratio");
			fprintf(out, "  node %-3d node %-3d %9.1f ns %7.2fx %7.0f MiB/s %6.0f MiB/s\n", (int)pjget(c, "cpu_node"),
				(int)pjget(c, "mem_node"), pjget(c, "latency_ns"), isfinite(ratio) ? ratio : 0,
				pjget(c, "read_MiBps"), pjget(c, "write_MiBps"));
		}
	}
	json_t *n = json_object_get(r, "note");
	if (json_is_string(n))
		fprintf(out, "  note: %s\n", json_string_value(n));
}

/* ---- io ---- */

void io_print(FILE *out, json_t *r)
{
	json_t *e = json_object_get(r, "error");
	if (json_is_string(e)) {
		fprintf(out, "\nerror: %s\n", json_string_value(e));
		return;
	}
	char sz[24];
	fprintf(out, "\n%s, QD=1, 4 KiB, %s on %s (%s%s)\n", json_string_value(json_object_get(r, "mode")) ?: "?",
		json_is_true(json_object_get(r, "o_direct")) ? "O_DIRECT" : "buffered",
		json_string_value(json_object_get(r, "target")) ?: "?", fmt_bytes(pjget(r, "size"), sz, sizeof(sz)),
		json_is_true(json_object_get(r, "created")) ? ", created and removed by the probe" : ", read-only");
	hist_line(out, 22, "back to back", json_object_get(r, "back_to_back"));
	json_t *s = json_object_get(r, "spaced");
	if (json_is_object(s)) {
		char l[48], g[24];
		snprintf(l, sizeof(l), "spaced by %s", fmt_us(pjget(r, "gap_us"), g, sizeof(g)));
		hist_line(out, 22, l, s);
		double eff = pjget(r, "idle_gap_effect_us"), ratio = pjget(r, "idle_gap_ratio");
		if (isfinite(eff) && isfinite(ratio))
			fprintf(out, "  idle-gap effect: %+.1f µs at p50 (x%.2f): the cost of waking an idle vCPU for each "
				     "completion\n", eff, ratio);
		else
			fprintf(out, "  idle-gap effect: not measured (no spaced request completed)\n");
	}
	json_t *n = json_object_get(r, "note");
	if (json_is_string(n))
		fprintf(out, "  note: %s\n", json_string_value(n));
}

/* ---- oversub ---- */

void oversub_print(FILE *out, json_t *r)
{
	fprintf(out, "\nvictim: wakes every %.0f µs, %.0f µs of work; competitors are CPU-bound processes\n",
		pjget(r, "period_us"), pjget(r, "work_us"));
	fprintf(out, "  %5s %6s %10s %10s %10s %12s %9s %9s %7s\n", "comp", "tasks/", "p50", "p99", "wake p99",
		"run delay", "invol cs", "ctxt/s", "steal");
	fprintf(out, "  %5s %6s %10s %10s %10s %12s %9s %9s %7s\n", "", "CPU", "", "", "", "ms per s", "per s", "", "%");
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(r, "steps"), i, s) {
		json_t *l = json_object_get(s, "latency"), *w = json_object_get(s, "wake_late");
		char a[24], b[24], c[24];
		fprintf(out, "  %5d %6.1f %10s %10s %10s %12.1f %9.0f %9.0f %7.1f\n", (int)pjget(s, "competitors"),
			pjget(s, "tasks_per_cpu"), fmt_us(pjget(l, "p50_us"), a, sizeof(a)),
			fmt_us(pjget(l, "p99_us"), b, sizeof(b)), fmt_us(pjget(w, "p99_us"), c, sizeof(c)),
			pjget(s, "run_delay_ms_per_s"), pjget(s, "victim_ivcsw_per_s"), pjget(s, "system_ctxt_per_s"),
			pjget(s, "steal_pct"));
	}
	double k = pjget(r, "saturation_tasks_per_cpu");
	if (isfinite(k))
		fprintf(out, "  the victim's median latency doubled at %.1f tasks per CPU\n", k);
	json_t *sc = json_object_get(r, "scope");
	if (json_is_string(sc))
		fprintf(out, "  scope: %s\n", json_string_value(sc));
}

/* ---- dirty ---- */

void dirty_print(FILE *out, json_t *r);
void dirty_print(FILE *out, json_t *r)
{
	const char *k;
	json_t *v;
	fprintf(out, "\nself-tests:");
	json_object_foreach(json_object_get(r, "self_tests"), k, v)
		fprintf(out, " %s: %s;", k, json_string_value(v) ?: "?");
	fprintf(out, "\nmethod: %s\n", json_string_value(json_object_get(r, "method")) ?: "none");
	json_t *e = json_object_get(r, "error");
	if (json_is_string(e)) {
		fprintf(out, "error: %s\n", json_string_value(e));
		return;
	}
	size_t i;
	json_t *x;
	char b[24];
	fprintf(out, "unique pages dirtied W(t):\n");
	json_array_foreach(json_object_get(r, "w"), i, x)
		fprintf(out, "  t = %6.2f s  %10d pages  %s\n", pjget(x, "t_s"), (int)pjget(x, "pages"),
			fmt_bytes(pjget(x, "bytes"), b, sizeof(b)));
	fprintf(out, "dirty rate %s/s (first %.1f s); writable working set %s\n",
		fmt_bytes(pjget(r, "dirty_rate_Bps"), b, sizeof(b)), pjget(r, "rate_window_s"),
		fmt_bytes(pjget(r, "writable_working_set"), (char[24]){ 0 }, 24));
	json_t *pc = json_object_get(r, "precopy");
	char c[24], d[24];
	fprintf(out, "pre-copy of %s at %s/s, downtime target %.0f ms: ", fmt_bytes(pjget(pc, "memory"), c, sizeof(c)),
		fmt_bytes(pjget(pc, "bandwidth_Bps"), d, sizeof(d)), pjget(pc, "downtime_target_s") * 1e3);
	if (json_is_true(json_object_get(pc, "converges")))
		fprintf(out, "converges after %d round%s, %.2f s in all, downtime %.1f ms\n", (int)pjget(pc, "rounds"),
			pjget(pc, "rounds") == 1 ? "" : "s", pjget(pc, "total_s"), pjget(pc, "downtime_s") * 1e3);
	else
		fprintf(out, "does NOT converge (stuck at %s, a %.0f ms pause); %s%s\n",
			fmt_bytes(pjget(pc, "stuck_bytes"), c, sizeof(c)), pjget(pc, "stuck_downtime_s") * 1e3,
			isfinite(pjget(pc, "throttle_needed_pct")) ? "" : "",
			json_string_value(json_object_get(pc, "advice")) ?: "");
	double th = pjget(pc, "throttle_needed_pct");
	if (isfinite(th))
		fprintf(out, "  throttle needed: %.0f %%\n", th);
	if (json_is_true(json_object_get(pc, "used_w_beyond_measured")))
		fprintf(out, "  (the model extended W(t) past the longest window measured)\n");
	json_t *q = json_object_get(r, "qmp");
	if (json_is_object(q))
		fprintf(out, "QMP %s, %d pages sampled per GiB (%.0f in all), QEMU %s guest\n",
			json_string_value(json_object_get(q, "mode")) ?: "?", (int)pjget(q, "sample_pages_per_GiB"),
			pjget(q, "sampled_pages"),
			json_string_value(json_object_get(json_object_get(r, "target"), "accel")) ?: "?");
	json_t *n = json_object_get(r, "note");
	if (json_is_string(n))
		fprintf(out, "note: %s\n", json_string_value(n));
}

/* ---- net ---- */

void net_print(FILE *out, json_t *r)
{
	size_t i, k;
	json_t *o, *v;
	fprintf(out, "\nUDP, %d-byte payloads, veth pair between two private namespaces:\n", (int)pjget(r, "packet_bytes"));
	fprintf(out, "  %6s %5s %12s %12s %8s %10s  %s\n", "queues", "flows", "sent pps", "received pps", "lost",
		"max softirq", "softirq per CPU");
	json_array_foreach(json_object_get(r, "runs"), i, o) {
		fprintf(out, "  %6d %5d %12.0f %12.0f %7.1f%% %9.1f%%  ", (int)pjget(o, "queues"), (int)pjget(o, "flows"),
			pjget(o, "tx_pps"), pjget(o, "rx_pps"), pjget(o, "dropped_pct"), pjget(o, "softirq_pct_max"));
		json_array_foreach(json_object_get(o, "softirq_pct_per_cpu"), k, v)
			fprintf(out, "%s%.0f%%", k ? " " : "", json_number_value(v));
		fputc('\n', out);
	}
	double m = pjget(r, "multi_over_single");
	if (isfinite(m))
		fprintf(out, "  several queues received %.2fx the packets of one\n", m);
	json_t *e = json_object_get(r, "error");
	if (json_is_string(e))
		fprintf(out, "  error: %s\n", json_string_value(e));
	json_t *n = json_object_get(r, "note");
	if (json_is_string(n))
		fprintf(out, "  note: %s\n", json_string_value(n));
}

/* ---- wakeup ---- */

void wakeup_print(FILE *out, json_t *r)
{
	json_t *e = json_object_get(r, "error");
	if (json_is_string(e) && !json_object_get(r, "gaps")) {
		fprintf(out, "\nerror: %s\n", json_string_value(e));
		return;
	}
	fprintf(out, "\none thread waking another on an idle CPU (cpu %d wakes cpu %d), by how long it idled:\n",
		(int)pjget(json_object_get(r, "cpus"), "waker"), (int)pjget(json_object_get(r, "cpus"), "sleeper"));
	size_t i;
	json_t *g;
	json_array_foreach(json_object_get(r, "gaps"), i, g) {
		char l[48], a[24];
		double gap = pjget(g, "gap_us");
		if (gap <= 0)
			snprintf(l, sizeof(l), "back to back");
		else
			snprintf(l, sizeof(l), "idle %s", fmt_ns(gap * 1e3, a, sizeof(a)));
		hist_line(out, 16, l, json_object_get(g, "thread"));
		json_t *ratio = json_object_get(g, "ratio_to_back_to_back");
		json_t *tm = json_object_get(g, "timer");
		if (json_is_object(tm) || (json_is_number(ratio) && gap > 0)) {
			char p50[24], p99[24];
			fprintf(out, "  %-16s", "");
			if (json_is_number(ratio) && gap > 0)
				fprintf(out, " %.1fx back to back", json_number_value(ratio));
			if (json_is_object(tm))
				fprintf(out, "%s the sleeping timer itself ran late p50 %s p99 %s",
					json_is_number(ratio) ? ";" : "", fmt_ns(pjget(tm, "p50_us") * 1e3, p50, sizeof(p50)),
					fmt_ns(pjget(tm, "p99_us") * 1e3, p99, sizeof(p99)));
			fputc('\n', out);
		}
	}
	json_t *fl = json_object_get(r, "same_cpu_floor");
	if (json_is_object(fl))
		hist_line(out, 16, "same CPU (floor)", fl);
	json_t *st = json_object_get(r, "settings");
	fprintf(out, "\n  cpuidle %s%s%s%s%s\n", json_string_value(json_object_get(st, "cpuidle_driver")),
		json_string_value(json_object_get(st, "cpuidle_governor"))[0] ? ", governor " : "",
		json_string_value(json_object_get(st, "cpuidle_governor")),
		json_is_string(json_object_get(st, "idle_option")) ? ", " : "",
		json_is_string(json_object_get(st, "idle_option")) ? json_string_value(json_object_get(st, "idle_option")) : "");
	fprintf(out, "  guest halt polling: %s\n", json_string_value(json_object_get(st, "guest_polling")));
	fprintf(out, "  host halt polling: %s\n", json_string_value(json_object_get(st, "host_polling")));
	json_t *hp = json_object_get(r, "host_halt_poll");
	if (json_is_string(hp))
		fprintf(out, "  what the host's halt_poll_ns would change: %s\n", json_string_value(hp));
	json_t *sm = json_object_get(r, "summary");
	if (json_is_string(sm))
		fprintf(out, "\n  %s\n", json_string_value(sm));
	if (json_is_string(e))
		fprintf(out, "  error: %s\n", json_string_value(e));
}
