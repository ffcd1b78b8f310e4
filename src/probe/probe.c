/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
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
#include "../sys/identity.h"
#include "../sys/proc_run.h"

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
