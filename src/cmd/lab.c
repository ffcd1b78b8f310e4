/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq lab: the five classic experiments of virtualized Linux, run as far
 * as this machine allows, each with its setup, what it measured and what it
 * teaches.  Where the machine cannot host one (a single NUMA node, no host
 * access from inside a guest, a TCG guest whose layer costs are emulation),
 * the experiment says what it would need instead of giving a false figure.
 *
 * Bounded: about 60 s by default, about 15 s with --quick; it creates a
 * temporary file, two network namespaces and a memory cgroup, and removes
 * them at exit, also on Ctrl-C.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/util.h"
#include "../probe/probe.h"
#include "cmd.h"

static json_t *experiment(const char *id, const char *name, const char *setup)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", pjstr(id));
	json_object_set_new(o, "name", pjstr(name));
	json_object_set_new(o, "setup", pjstr(setup));
	return o;
}

static void verdict(json_t *o, const char *status, const char *measured, const char *teaches, const char *needs)
{
	json_object_set_new(o, "status", pjstr(status));
	json_object_set_new(o, "measured", pjstr(measured));
	json_object_set_new(o, "teaches", pjstr(teaches));
	json_object_set_new(o, "needs", needs ? pjstr(needs) : json_null());
}

/* ---- 1: cross-NUMA ---- */
static json_t *ex_numa(bool quick, const struct probe_env *e)
{
	json_t *o = experiment("cross-numa", "Cross-NUMA memory access penalty",
			       "pointer chase and streaming read/write with the thread on each CPU node and the "
			       "buffer bound to each memory node (libnuma)");
	json_t *r = mem_lab(quick, e);
	json_object_set_new(o, "result", r);
	int nodes = (int)pjget(r, "nodes_with_memory");
	json_t *p0 = json_array_get(json_object_get(r, "pairs"), 0);
	char m[256];
	snprintf(m, sizeof(m), "%d node(s) with memory; local latency %.0f ns per hop, read %.0f MiB/s", nodes,
		 pjget(p0, "latency_ns"), pjget(p0, "read_MiBps"));
	if (nodes < 2)
		verdict(o, "not-possible", m, "remote memory costs 1.4-2.5x local on real hardware, and it shows in the tail",
			"a machine or VM with two or more NUMA nodes with memory, with vNUMA pinned to host nodes "
			"(a TCG test VM has the nodes but no penalty)");
	else if (e->tcg)
		verdict(o, "emulated", m, "the nodes here are labels: TCG charges the same for every node",
			"KVM with host-pinned vNUMA, or bare metal");
	else
		verdict(o, "measured", m, "the remote/local ratio is the NUMA penalty; placement, not average use, "
					  "decides whether you pay it", NULL);
	return o;
}

/* ---- 2: oversubscription ---- */
static json_t *ex_oversub(bool quick, const struct probe_env *e)
{
	json_t *o = experiment("vcpu-oversubscription", "vCPU oversubscription breaking point",
			       "a periodic victim (5 ms period, 200 us work) against 0 to 4x CPUs of CPU-bound "
			       "competitors");
	json_t *r = oversub_lab(quick, e);
	json_object_set_new(o, "result", r);
	json_t *st = json_object_get(r, "steps");
	json_t *a = json_array_get(st, 0), *b = json_array_get(st, json_array_size(st) - 1);
	char m[320];
	snprintf(m, sizeof(m), "victim p99 %.0f us alone, %.0f us at %.1f tasks per CPU; its run delay %.0f -> %.0f ms/s",
		 pjget(json_object_get(a, "latency"), "p99_us"), pjget(json_object_get(b, "latency"), "p99_us"),
		 pjget(b, "tasks_per_cpu"), pjget(a, "run_delay_ms_per_s"), pjget(b, "run_delay_ms_per_s"));
	verdict(o, e->guest ? "partial" : "measured", m,
		"latency does not degrade linearly: once runnable tasks outnumber CPUs, every wake-up waits a "
		"time slice, and the same happens one level down to vCPUs on pCPUs (seen as steal)",
		e->guest ? "the vCPU:pCPU curve needs the host: k test VMs on m CPUs, reading each vCPU thread's run "
			   "delay there (hiddenq vms)"
			 : NULL);
	return o;
}

/* ---- 3: memory overcommit with a working-set spike ---- */
static const char *memcg_root(bool *v2)
{
	static const char *const v2s[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
	for (size_t i = 0; i < ARRAY_SIZE(v2s); i++) {
		char p[128], buf[256] = "";
		snprintf(p, sizeof(p), "%s/cgroup.controllers", v2s[i]);
		FILE *f = fopen(p, "re");
		if (f) {
			if (!fgets(buf, sizeof(buf), f))
				buf[0] = '\0';
			fclose(f);
		}
		if (strstr(buf, "memory")) {
			*v2 = true;
			return v2s[i];
		}
	}
	if (access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0) {
		*v2 = false;
		return "/sys/fs/cgroup/memory";
	}
	return NULL;
}

static int put_file(const char *dir, const char *name, const char *val)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, val, strlen(val));
	int r = n == (ssize_t)strlen(val) ? 0 : -errno;
	close(fd);
	return r;
}

static bool have_swap(void)
{
	FILE *f = fopen("/proc/swaps", "re");
	char l[256];
	int n = 0;
	while (f && fgets(l, sizeof(l), f))
		n++;
	if (f)
		fclose(f);
	return n > 1;
}

/* the child: touch `base` MiB, report MiB/s, then spike to `spike` MiB in 4 MiB steps */
static void spike_child(int wfd, unsigned base, unsigned spike)
{
	size_t len = (size_t)spike << 20;
	char *b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		_exit(2);
	for (unsigned mb = 0; mb < spike; mb += 4) {
		uint64_t t0 = mono_ns();
		for (size_t o = (size_t)mb << 20; o < ((size_t)mb + 4) << 20; o += 4096)
			b[o] = 1;
		double us = (double)(mono_ns() - t0) / 1e3;
		char line[64];
		int n = snprintf(line, sizeof(line), "%u %.1f\n", mb + 4, us);
		if (write(wfd, line, (size_t)n) != n)
			_exit(3);
		(void)base;
	}
	_exit(0);
}

static json_t *ex_overcommit(bool quick)
{
	json_t *o = experiment("memory-overcommit", "Memory overcommit with a working-set spike",
			       "a process in a memory cgroup limited to 64 MiB grows its working set from 0 to "
			       "160 MiB, timing each 4 MiB it touches");
	json_t *r = json_object();
	json_object_set_new(o, "result", r);
	bool v2 = false;
	const char *root = memcg_root(&v2);
	if (!root || geteuid() != 0) {
		verdict(o, "not-possible", "nothing", "a working set that outgrows its memory swaps or is killed",
			root ? "root, to create a memory cgroup" : "a memory cgroup controller (v1 or v2)");
		return o;
	}
	char *dir = xasprintf("%s/hq-lab-%d", root, (int)getpid());
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		verdict(o, "not-possible", "nothing", "a working set that outgrows its memory swaps or is killed",
			"a writable memory cgroup hierarchy");
		free(dir);
		return o;
	}
	probe_track_cgroup(dir);
	const unsigned limit = 64, spike = 160;
	int r1 = v2 ? put_file(dir, "memory.max", "67108864") : put_file(dir, "memory.limit_in_bytes", "67108864");
	if (r1 < 0) {
		verdict(o, "not-possible", "nothing", "", "could not set the cgroup memory limit");
		free(dir);
		return o;
	}
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		free(dir);
		return o;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		char me[32];
		snprintf(me, sizeof(me), "%d", (int)getpid());
		if (put_file(dir, v2 ? "cgroup.procs" : "tasks", me) < 0)
			_exit(4);
		spike_child(pfd[1], limit / 2, spike);
	}
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		free(dir);
		return o;
	}
	probe_track_pid(pid);
	uint64_t deadline = mono_ns() + (quick ? 4000000000ull : 10000000000ull);
	char buf[8192];
	size_t got = 0;
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	int status = 0;
	bool done = false, timed_out = false;
	while (!done) {
		ssize_t n = read(pfd[0], buf + got, sizeof(buf) - 1 - got);
		if (n > 0)
			got += (size_t)n;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			done = true;
			probe_untrack_pid(pid);
			while ((n = read(pfd[0], buf + got, sizeof(buf) - 1 - got)) > 0)
				got += (size_t)n;
			break;
		}
		if (mono_ns() > deadline || hq_exiting) {
			timed_out = true;
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			probe_untrack_pid(pid);
			break;
		}
		usleep(20000);
	}
	close(pfd[0]);
	buf[got] = '\0';
	/* MiB/s below half the limit vs above the limit */
	double below_us = 0, above_us = 0;
	unsigned nb = 0, na = 0, reached = 0;
	json_t *steps = json_array();
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		unsigned mb;
		double us;
		if (sscanf(l, "%u %lf", &mb, &us) != 2)
			continue;
		reached = mb;
		json_t *s = json_object();
		json_object_set_new(s, "mib", json_integer(mb));
		json_object_set_new(s, "us", pjnum(us));
		json_array_append_new(steps, s);
		if (mb <= limit / 2)
			below_us += us, nb++;
		else if (mb > limit)
			above_us += us, na++;
	}
	json_object_set_new(r, "limit_mib", json_integer(limit));
	json_object_set_new(r, "spike_mib", json_integer(spike));
	json_object_set_new(r, "cgroup", pjstr(v2 ? "v2" : "v1"));
	json_object_set_new(r, "swap", json_boolean(have_swap()));
	json_object_set_new(r, "reached_mib", json_integer(reached));
	double rb = nb ? 4.0 * nb / (below_us / 1e6) : NAN, ra = na ? 4.0 * na / (above_us / 1e6) : NAN;
	json_object_set_new(r, "touch_MiBps_below_limit", pjnum(rb));
	json_object_set_new(r, "touch_MiBps_above_limit", pjnum(ra));
	const char *outcome = timed_out			     ? "still crawling when the time ran out"
			      : WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? "OOM-killed"
			      : WIFEXITED(status) && WEXITSTATUS(status) == 0	    ? "completed"
										    : "failed";
	json_object_set_new(r, "outcome", pjstr(outcome));
	json_object_set_new(r, "steps", steps);
	char m[320], past[64] = "nothing got past it";
	if (isfinite(ra))
		snprintf(past, sizeof(past), "%.0f MiB/s past it", ra);
	snprintf(m, sizeof(m), "touching ran at %.0f MiB/s within the limit, %s; %s at %u MiB (%s swap)", rb, past,
		 outcome, reached, have_swap() ? "with" : "no");
	verdict(o, "measured", m,
		"past the limit a spike either crawls through reclaim and swap or is killed; inside a VM the same "
		"happens below the guest when the host overcommits, where the guest sees only slowness (steal is not "
		"swap)",
		"with a test VM's balloon (QMP balloon under a spiking guest): hiddenq lab --with-vm is not built yet");
	free(dir);
	return o;
}

/* ---- 4: single vs multi-queue networking ---- */
static json_t *ex_net(bool quick)
{
	json_t *o = experiment("single-vs-multi-queue", "Single-queue vs multi-queue network",
			       "64-byte UDP through a veth pair between two private namespaces: one queue and one "
			       "flow, then one queue and one flow per CPU");
	json_t *r = net_lab(quick);
	json_object_set_new(o, "result", r);
	json_t *e = json_object_get(r, "error");
	if (json_is_string(e)) {
		verdict(o, "not-possible", json_string_value(e), "", "root and iproute2 (ip netns)");
		return o;
	}
	json_t *a = json_array_get(json_object_get(r, "runs"), 0), *b = json_array_get(json_object_get(r, "runs"), 1);
	char m[256];
	snprintf(m, sizeof(m), "%.0f pps with one queue (max softirq %.0f %% of a CPU), %.0f pps with %d (x%.2f)",
		 pjget(a, "rx_pps"), pjget(a, "softirq_pct_max"), pjget(b, "rx_pps"), (int)pjget(b, "queues"),
		 pjget(r, "multi_over_single"));
	verdict(o, "measured", m,
		"a queue is served by one CPU's softirq: packets per second, not bandwidth, hit that ceiling first, "
		"and more queues only help when their interrupts land on different CPUs",
		"virtio-net queues and ethtool -L need a VM with a multi-queue NIC: the per-queue host side (vhost, "
		"tap drops) is seen from the host");
	return o;
}

/* ---- 5: IO path latency stacking ---- */
static json_t *ex_io(bool quick, const struct probe_env *e)
{
	json_t *o = experiment("io-layer-stacking", "IO path latency stacking",
			       "QD=1 random 4 KiB O_DIRECT reads on a file of this machine's disk, back to back and "
			       "spaced out");
	json_t *r = io_lab(quick, NULL);
	json_object_set_new(o, "result", r);
	json_t *err = json_object_get(r, "error");
	if (json_is_string(err)) {
		verdict(o, "not-possible", json_string_value(err), "", "a writable directory with free space");
		return o;
	}
	char m[256];
	snprintf(m, sizeof(m), "p50 %.1f us, p99 %.1f us back to back; +%.1f us at p50 when the vCPU idles between "
			       "requests",
		 pjget(json_object_get(r, "back_to_back"), "p50_us"), pjget(json_object_get(r, "back_to_back"), "p99_us"),
		 pjget(r, "idle_gap_effect_us"));
	verdict(o, "partial", m,
		"each layer (guest block layer, virtio, the host's IO path, the device) adds to QD=1 latency, and "
		"an idle vCPU adds its wake-up; throughput hides this, QD=1 shows it",
		e->guest ? "the layer below: the same probe on the host against the file backing this disk, and inside "
			   "a test VM on virtio-blk (cache=none) over that file; a TCG VM's difference is emulation, "
			   "not virtio (--with-vm is not built yet)"
			 : "the same probe inside a VM whose virtio-blk disk is this file (cache=none); --with-vm is "
			   "not built yet");
	return o;
}

static void print_lab(FILE *out, json_t *exps)
{
	size_t i;
	json_t *x;
	json_array_foreach(exps, i, x) {
		fprintf(out, "\n%zu. %s  [%s]\n", i + 1, json_string_value(json_object_get(x, "name")),
			json_string_value(json_object_get(x, "status")));
		fprintf(out, "   setup:    %s\n", json_string_value(json_object_get(x, "setup")));
		fprintf(out, "   measured: %s\n", json_string_value(json_object_get(x, "measured")));
		fprintf(out, "   teaches:  %s\n", json_string_value(json_object_get(x, "teaches")));
		json_t *n = json_object_get(x, "needs");
		if (json_is_string(n))
			fprintf(out, "   needs:    %s\n", json_string_value(n));
	}
}

static void usage(FILE *out)
{
	fputs("Usage: hiddenq lab [OPTIONS]\n"
	      "\n"
	      "The five classic experiments (cross-NUMA penalty, vCPU oversubscription,\n"
	      "memory overcommit with a working-set spike, single vs multi-queue networking,\n"
	      "IO path latency stacking) as far as this machine allows; for the rest, what\n"
	      "they would need.  About 60 s (--quick: about 15 s).\n"
	      "\n"
	      "Options:\n"
	      "      --quick           short runs\n"
	      "  -e, --only ID         one experiment: cross-numa, vcpu-oversubscription,\n"
	      "                        memory-overcommit, single-vs-multi-queue, io-layer-stacking\n"
	      "  -v, --verbose         each probe's full output too\n"
	      "  -j, --json            JSON on stdout\n"
	      "  -h, --help            this help\n",
	      out);
}

int cmd_lab(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'Q' }, { "only", required_argument, NULL, 'e' },
		{ "verbose", no_argument, NULL, 'v' }, { "json", no_argument, NULL, 'j' },
		{ "with-vm", no_argument, NULL, 'V' }, { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool json = false, quick = false, verbose = false;
	const char *only = NULL;
	int c;
	optind = 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			json = true;
	while ((c = getopt_long(argc, argv, "e:vjh", opts, NULL)) != -1) {
		switch (c) {
		case 'Q': quick = true; break;
		case 'e': only = optarg; break;
		case 'v': verbose = true; break;
		case 'j': json = true; break;
		case 'V': return probe_fail(json, "--with-vm is not built yet: lab runs on this machine only");
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return probe_fail(json, "bad arguments to lab");
		}
	}
	if (optind < argc)
		return probe_fail(json, "unexpected argument '%s'", argv[optind]);
	static const char *const ids[] = { "cross-numa", "vcpu-oversubscription", "memory-overcommit",
					   "single-vs-multi-queue", "io-layer-stacking" };
	bool known = !only;
	for (size_t i = 0; i < ARRAY_SIZE(ids) && only; i++)
		known |= !strcmp(only, ids[i]);
	if (!known)
		return probe_fail(json, "unknown experiment '%s'", only);
	probe_setup_signals();
	struct probe_env e;
	probe_env_begin(&e);
	json_t *exps = json_array();
	for (size_t i = 0; i < ARRAY_SIZE(ids) && !hq_exiting; i++) {
		if (only && strcmp(only, ids[i]))
			continue;
		if (!json && !hq_quiet)
			fprintf(stderr, "hiddenq lab: %s...\n", ids[i]);
		json_t *x = i == 0 ? ex_numa(quick, &e)
			    : i == 1 ? ex_oversub(quick, &e)
			    : i == 2 ? ex_overcommit(quick)
			    : i == 3 ? ex_net(quick)
				     : ex_io(quick, &e);
		json_array_append_new(exps, x);
		probe_cleanup();
	}
	probe_env_end(&e);
	json_t *o = json_object();
	json_object_set_new(o, "hiddenq", json_string(HQ_VERSION));
	json_object_set_new(o, "lab", json_true());
	json_object_set_new(o, "quick", json_boolean(quick));
	json_object_set_new(o, "interrupted", json_boolean(hq_exiting != 0));
	json_object_set_new(o, "context", probe_env_json(&e));
	json_object_set_new(o, "experiments", exps);
	if (json) {
		char *t = json_dumps(o, JSON_INDENT(2));
		if (t)
			printf("%s\n", t);
		free(t);
	} else {
		printf("hiddenq lab%s\n", quick ? " (quick)" : "");
		probe_env_text(stdout, json_object_get(o, "context"));
		print_lab(stdout, exps);
		if (verbose) {
			size_t i;
			json_t *x;
			json_array_foreach(exps, i, x) {
				const char *id = json_string_value(json_object_get(x, "id"));
				json_t *r = json_object_get(x, "result");
				printf("\n---- %s ----", id);
				if (!strcmp(id, "cross-numa"))
					mem_print(stdout, r);
				else if (!strcmp(id, "vcpu-oversubscription"))
					oversub_print(stdout, r);
				else if (!strcmp(id, "single-vs-multi-queue"))
					net_print(stdout, r);
				else if (!strcmp(id, "io-layer-stacking"))
					io_print(stdout, r);
				else {
					char *t = json_dumps(r, JSON_COMPACT);
					printf("\n%s\n", t ? t : "");
					free(t);
				}
			}
		}
	}
	fflush(stdout);
	json_decref(o);
	probe_env_done(&e);
	return EXIT_OK;
}
