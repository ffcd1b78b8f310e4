/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../analysis/steal.h"
#include "../core/util.h"
#include "../parse/parse.h"
#include "../sys/fsroot.h"
#include "../sys/proc_run.h"
#include "../sys/identity.h"

extern char **environ;

static char *slurp(const char *rel)
{
	static struct fsroot root;
	static bool have;
	if (!have) {
		if (fsroot_init(&root, "/", false) < 0)
			return NULL;
		have = true;
	}
	char *buf = NULL;
	size_t len;
	int r = fsroot_read(&root, rel, &buf, &len, 1 << 20);
	if (r < 0 && r != -EFBIG) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void read_word(const char *rel, char *dst, size_t n)
{
	char *s = slurp(rel);
	dst[0] = '\0';
	if (!s)
		return;
	/* "always [madvise] never": the bracketed choice, else the first word */
	const char *b = strchr(s, '['), *e;
	if (b && (e = strchr(b, ']'))) {
		snprintf(dst, n, "%.*s", (int)(e - b - 1), b + 1);
	} else {
		s[strcspn(s, "\n")] = '\0';
		snprintf(dst, n, "%s", s);
	}
	free(s);
}

static const char *const psi_files[3] = { "proc/pressure/cpu", "proc/pressure/memory", "proc/pressure/io" };

void probe_env_begin(struct probe_env *e)
{
	memset(e, 0, sizeof(*e));
	e->page_size = sysconf(_SC_PAGESIZE);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	e->ncpus = n > 0 ? (unsigned)n : 1;
	struct utsname u;
	if (uname(&u) == 0)
		snprintf(e->kernel, sizeof(e->kernel), "%s", u.release);
	read_word("sys/devices/system/cpu/cpuidle/current_driver", e->cpuidle_driver, sizeof(e->cpuidle_driver));
	read_word("sys/devices/system/cpu/cpuidle/current_governor_ro", e->cpuidle_governor,
		  sizeof(e->cpuidle_governor));
	if (!e->cpuidle_governor[0])
		read_word("sys/devices/system/cpu/cpuidle/current_governor", e->cpuidle_governor,
			  sizeof(e->cpuidle_governor));
	read_word("sys/devices/system/clocksource/clocksource0/current_clocksource", e->clocksource,
		  sizeof(e->clocksource));
	read_word("sys/kernel/mm/transparent_hugepage/enabled", e->thp, sizeof(e->thp));
	e->cstates = json_array();
	e->cstate_max_exit_us = -1;
	for (int i = 0; i < 16; i++) {
		char p[96], name[32], lat[32];
		snprintf(p, sizeof(p), "sys/devices/system/cpu/cpu0/cpuidle/state%d/name", i);
		read_word(p, name, sizeof(name));
		if (!name[0])
			break;
		snprintf(p, sizeof(p), "sys/devices/system/cpu/cpu0/cpuidle/state%d/latency", i);
		read_word(p, lat, sizeof(lat));
		json_t *s = json_object();
		json_object_set_new(s, "name", jstr(name));
		int l = atoi(lat);
		json_object_set_new(s, "exit_latency_us", json_integer(l));
		json_array_append_new(e->cstates, s);
		if (l > e->cstate_max_exit_us)
			e->cstate_max_exit_us = l;
	}
	struct fsroot root;
	snprintf(e->hypervisor, sizeof(e->hypervisor), "none");
	if (fsroot_init(&root, "/", false) == 0) {
		char *j = identity_probe_json(&root);
		struct identity id;
		if (j && identity_parse(j, strlen(j), &id) == 0) {
			const char *hv = identity_hv_name(&id);
			if (hv)
				snprintf(e->hypervisor, sizeof(e->hypervisor), "%s", hv);
			e->guest = id.hv_bit;
			e->tcg = strstr(id.hv_sig, "TCG") != NULL;
		}
		free(j);
		fsroot_done(&root);
	}
	e->stat0 = slurp("proc/stat");
	for (int i = 0; i < 3; i++)
		e->psi0[i] = slurp(psi_files[i]);
	e->t0_ns = mono_ns();
}

void probe_env_end(struct probe_env *e)
{
	e->t1_ns = mono_ns();
	free(e->stat1);
	e->stat1 = slurp("proc/stat");
	for (int i = 0; i < 3; i++) {
		free(e->psi1[i]);
		e->psi1[i] = slurp(psi_files[i]);
	}
}

void probe_env_done(struct probe_env *e)
{
	free(e->stat0);
	free(e->stat1);
	for (int i = 0; i < 3; i++) {
		free(e->psi0[i]);
		free(e->psi1[i]);
	}
	json_decref(e->cstates);
	memset(e, 0, sizeof(*e));
}

double probe_steal_pct_cpu(const char *a, const char *b, int cpu)
{
	if (!a || !b)
		return -1;
	struct procstat pa, pb;
	if (procstat_parse(a, strlen(a), &pa) < 0)
		return -1;
	if (procstat_parse(b, strlen(b), &pb) < 0) {
		procstat_done(&pa);
		return -1;
	}
	const struct cpu_times *x = cpu < 0 ? (pa.has_all ? &pa.all : NULL) : procstat_cpu(&pa, cpu);
	const struct cpu_times *y = cpu < 0 ? (pb.has_all ? &pb.all : NULL) : procstat_cpu(&pb, cpu);
	double r = steal_pct_between(x, y);
	procstat_done(&pa);
	procstat_done(&pb);
	return r;
}

double probe_steal_pct(const char *a, const char *b)
{
	return probe_steal_pct_cpu(a, b, -1);
}

json_t *probe_env_json(const struct probe_env *e)
{
	json_t *o = json_object();
	json_object_set_new(o, "hypervisor", jstr(e->hypervisor));
	json_object_set_new(o, "guest", json_boolean(e->guest));
	json_object_set_new(o, "kernel", jstr(e->kernel));
	json_object_set_new(o, "cpus", json_integer(e->ncpus));
	json_object_set_new(o, "page_size", json_integer(e->page_size));
	json_object_set_new(o, "thp", jstr(e->thp));
	json_object_set_new(o, "clocksource", jstr(e->clocksource));
	json_t *ci = json_object();
	json_object_set_new(ci, "driver", jstr(e->cpuidle_driver[0] ? e->cpuidle_driver : "none"));
	json_object_set_new(ci, "governor", jstr(e->cpuidle_governor));
	json_object_set_new(ci, "states", json_incref(e->cstates));
	json_object_set_new(ci, "max_exit_latency_us", e->cstate_max_exit_us >= 0 ? json_integer(e->cstate_max_exit_us)
										  : json_null());
	json_object_set_new(o, "cpuidle", ci);
	double dur = e->t1_ns > e->t0_ns ? (double)(e->t1_ns - e->t0_ns) / 1e9 : 0;
	json_object_set_new(o, "duration_s", pjnum(dur));
	double st = probe_steal_pct(e->stat0, e->stat1);
	json_object_set_new(o, "steal_pct", st >= 0 ? pjnum(st) : json_null());
	json_t *psi = json_object();
	static const char *const names[3] = { "cpu", "memory", "io" };
	for (int i = 0; i < 3; i++) {
		struct psi a, b;
		if (!e->psi0[i] || !e->psi1[i] || psi_parse(e->psi0[i], strlen(e->psi0[i]), &a) < 0 ||
		    psi_parse(e->psi1[i], strlen(e->psi1[i]), &b) < 0 || !a.has_some || !b.has_some || dur <= 0) {
			json_object_set_new(psi, names[i], json_null());
			continue;
		}
		json_t *p = json_object();
		double some = b.some.total_us >= a.some.total_us ? (double)(b.some.total_us - a.some.total_us) : 0;
		json_object_set_new(p, "some_pct", pjnum(100.0 * some / 1e6 / dur));
		if (a.has_full && b.has_full) {
			double full = b.full.total_us >= a.full.total_us ? (double)(b.full.total_us - a.full.total_us) : 0;
			json_object_set_new(p, "full_pct", pjnum(100.0 * full / 1e6 / dur));
		}
		json_object_set_new(psi, names[i], p);
	}
	json_object_set_new(o, "psi", psi);
	return o;
}

void probe_env_text(FILE *out, json_t *c)
{
	if (!json_is_object(c))
		return;
	json_t *ci = json_object_get(c, "cpuidle");
	double st = pjget(c, "steal_pct");
	fprintf(out, "context: %s, kernel %s, %d CPUs, page %d B, THP %s, cpuidle %s", 
		json_string_value(json_object_get(c, "hypervisor")) ?: "?",
		json_string_value(json_object_get(c, "kernel")) ?: "?", (int)pjget(c, "cpus"),
		(int)pjget(c, "page_size"), json_string_value(json_object_get(c, "thp")) ?: "?",
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

/* ------------------------------------------------------------------ */
/* clean-up                                                             */
/* ------------------------------------------------------------------ */

#define TRACK_MAX 64
static char *t_paths[TRACK_MAX];
static char *t_netns[8];
static char *t_cgroups[4];
static pid_t t_pids[256];
static bool atexit_set;

static void put(char **arr, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!arr[i]) {
			arr[i] = xstrdup(s);
			return;
		}
	log_warn("clean-up list full: %s will not be removed at exit", s);
}

void probe_track_path(const char *p) { put(t_paths, TRACK_MAX, p); }
void probe_track_netns(const char *n) { put(t_netns, ARRAY_SIZE(t_netns), n); }
void probe_track_cgroup(const char *d) { put(t_cgroups, ARRAY_SIZE(t_cgroups), d); }

void probe_untrack_path(const char *p)
{
	for (size_t i = 0; i < TRACK_MAX; i++)
		if (t_paths[i] && !strcmp(t_paths[i], p)) {
			free(t_paths[i]);
			t_paths[i] = NULL;
		}
}

void probe_track_pid(pid_t pid)
{
	for (size_t i = 0; i < ARRAY_SIZE(t_pids); i++)
		if (!t_pids[i]) {
			t_pids[i] = pid;
			return;
		}
	/* no room: do not leave it running unreaped */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

void probe_untrack_pid(pid_t pid)
{
	for (size_t i = 0; i < ARRAY_SIZE(t_pids); i++)
		if (t_pids[i] == pid)
			t_pids[i] = 0;
}

void probe_cleanup(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(t_pids); i++)
		if (t_pids[i] > 0) {
			kill(t_pids[i], SIGKILL);
			waitpid(t_pids[i], NULL, 0);
			t_pids[i] = 0;
		}
	for (int i = TRACK_MAX - 1; i >= 0; i--)
		if (t_paths[i]) {
			if (unlink(t_paths[i]) < 0 && errno == EISDIR)
				rmdir(t_paths[i]);
			else if (errno == EISDIR || errno == EPERM)
				rmdir(t_paths[i]);
			free(t_paths[i]);
			t_paths[i] = NULL;
		}
	for (size_t i = 0; i < ARRAY_SIZE(t_netns); i++)
		if (t_netns[i]) {
			char *av[] = { (char *)"ip", (char *)"netns", (char *)"delete", t_netns[i], NULL };
			probe_exec(av, NULL, 0, 10);
			free(t_netns[i]);
			t_netns[i] = NULL;
		}
	for (size_t i = 0; i < ARRAY_SIZE(t_cgroups); i++)
		if (t_cgroups[i]) {
			for (int k = 0; k < 50 && rmdir(t_cgroups[i]) < 0 && errno == EBUSY; k++)
				usleep(20000);
			free(t_cgroups[i]);
			t_cgroups[i] = NULL;
		}
}

static void on_exit_cleanup(void)
{
	probe_cleanup();
}

void probe_setup_signals(void)
{
	install_exit_handlers();
	if (!atexit_set) {
		atexit(on_exit_cleanup);
		atexit_set = true;
	}
}

int probe_exec(char *const argv[], char *out_buf, size_t out_len, int timeout_s)
{
	struct proc_run r = {
		.argv = argv,
		.timeout_ms = timeout_s * 1000,
		.out_max = out_buf && out_len ? out_len - 1 : 0,
	};
	int rc = proc_run(&r);
	if (out_buf && out_len)
		memcpy(out_buf, r.out, r.out_len + 1);
	proc_run_done(&r);
	return rc;
}

/* ------------------------------------------------------------------ */
/* output                                                               */
/* ------------------------------------------------------------------ */

json_t *pjnum(double v)
{
	if (!isfinite(v))
		return json_null();
	return json_real(round(v * 1000.0) / 1000.0);
}

double pjget(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

int probe_fail(bool json, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (json) {
		json_t *j = json_object();
		json_object_set_new(j, "hiddenq", json_string(HQ_VERSION));
		json_object_set_new(j, "error", jstr(msg ? msg : "error"));
		char *t = json_dumps(j, JSON_INDENT(2));
		if (t)
			printf("%s\n", t);
		free(t);
		json_decref(j);
	}
	log_err("%s", msg ? msg : "error");
	free(msg);
	return 3;
}

void probe_emit(bool json, const char *name, json_t *result, const struct probe_env *e,
		void (*print)(FILE *out, json_t *result))
{
	json_t *o = json_object();
	json_object_set_new(o, "hiddenq", json_string(HQ_VERSION));
	json_object_set_new(o, "probe", jstr(name));
	json_object_set_new(o, "interrupted", json_boolean(hq_exiting != 0));
	json_object_set_new(o, "context", probe_env_json(e));
	json_object_set_new(o, "result", json_incref(result));
	if (json) {
		char *t = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		if (t)
			printf("%s\n", t);
		free(t);
	} else {
		printf("hiddenq probe %s%s\n", name, hq_exiting ? " (interrupted: partial results)" : "");
		probe_env_text(stdout, json_object_get(o, "context"));
		print(stdout, result);
	}
	fflush(stdout);
	json_decref(o);
}

/* ------------------------------------------------------------------ */
/* sizes and rates                                                      */
/* ------------------------------------------------------------------ */

int parse_size(const char *s, uint64_t *out)
{
	if (!s || !*s)
		return -EINVAL;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0 || !isfinite(v))
		return -EINVAL;
	double m = 1;
	if (*end) {
		switch (*end) {
		case 'k': case 'K': m = 1024.0; break;
		case 'm': case 'M': m = 1048576.0; break;
		case 'g': case 'G': m = 1073741824.0; break;
		case 't': case 'T': m = 1099511627776.0; break;
		case 'b': case 'B': m = 1; break;
		default: return -EINVAL;
		}
		end++;
		if (*end == 'i')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end)
			return -EINVAL;
	}
	v *= m;
	if (v > 1e15)
		return -EINVAL;
	*out = (uint64_t)v;
	return 0;
}

int parse_rate(const char *s, double *bps)
{
	if (!s || !*s)
		return -EINVAL;
	size_t n = strlen(s);
	bool bits = n > 3 && !strcasecmp(s + n - 3, "bit");
	char *c = xstrdup(s);
	if (bits) {
		c[n - 3] = '\0';
		/* bits use decimal units, as links are sold */
		char *end;
		double v = strtod(c, &end);
		double m = 1;
		if (*end == 'k' || *end == 'K')
			m = 1e3, end++;
		else if (*end == 'm' || *end == 'M')
			m = 1e6, end++;
		else if (*end == 'g' || *end == 'G')
			m = 1e9, end++;
		bool ok = end != c && !*end && v > 0 && isfinite(v);
		free(c);
		if (!ok)
			return -EINVAL;
		*bps = v * m / 8.0;
		return 0;
	}
	if (n > 2 && !strcmp(c + n - 2, "/s"))
		c[n - 2] = '\0';
	uint64_t v;
	int r = parse_size(c, &v);
	free(c);
	if (r < 0 || v == 0)
		return -EINVAL;
	*bps = (double)v;
	return 0;
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
