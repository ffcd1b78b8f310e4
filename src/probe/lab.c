/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq lab: the five classic experiments of virtualized Linux, and the
 * idle-vCPU wake-up (hiddenq probe wakeup), run as far as this machine allows, each with its setup, what it measured and what it
 * teaches.  Where the machine cannot host one (a single NUMA node, no host
 * access from inside a guest, a TCG guest whose layer costs are emulation),
 * the experiment says what it would need instead of giving a false figure.
 *
 * Bounded: about 60 s by default, about 15 s with --quick; it creates a
 * temporary file, two network namespaces and a memory cgroup, and removes
 * them at exit, also on Ctrl-C.  The options are cmd/lab.c, the text
 * sinks/lab.c.
 */
#include "lab.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/json.h"
#include "../core/util.h"
#include "../parse/vmconf.h"	/* str_copy */
#include "../sys/proc_run.h"
#include "probe.h"

const char *const lab_ids[LAB_NEXP] = { "cross-numa", "vcpu-oversubscription", "memory-overcommit",
					"single-vs-multi-queue", "io-layer-stacking", "idle-vcpu-wakeup" };

static json_t *experiment(const char *id, const char *name, const char *setup)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", jstr(id));
	json_object_set_new(o, "name", jstr(name));
	json_object_set_new(o, "setup", jstr(setup));
	return o;
}

static void verdict(json_t *o, const char *status, const char *measured, const char *teaches, const char *needs)
{
	json_object_set_new(o, "status", jstr(status));
	json_object_set_new(o, "measured", jstr(measured));
	json_object_set_new(o, "teaches", jstr(teaches));
	json_object_set_new(o, "needs", needs ? jstr(needs) : json_null());
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
			       "a periodic victim (5 ms period, 200 µs work) against 0 to 4x CPUs of CPU-bound "
			       "competitors");
	json_t *r = oversub_lab(quick, e);
	json_object_set_new(o, "result", r);
	json_t *st = json_object_get(r, "steps");
	json_t *a = json_array_get(st, 0), *b = json_array_get(st, json_array_size(st) - 1);
	char m[320];
	snprintf(m, sizeof(m), "victim p99 %.0f µs alone, %.0f µs at %.1f tasks per CPU; its run delay %.0f → %.0f ms/s",
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
	/* NORESERVE: a working set grows by touching, it is not refused up front by the
	 * overcommit heuristic (a ballooned guest's MemTotal can be below the spike) */
	char *b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
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

/* MemTotal and MemAvailable in MiB (-1 if unknown) */
static void meminfo_mib(double *total, double *avail)
{
	*total = *avail = -1;
	FILE *f = fopen("/proc/meminfo", "re");
	char l[256];
	double kb;
	while (f && fgets(l, sizeof(l), f)) {
		if (sscanf(l, "MemTotal: %lf kB", &kb) == 1)
			*total = kb / 1024;
		else if (sscanf(l, "MemAvailable: %lf kB", &kb) == 1)
			*avail = kb / 1024;
	}
	if (f)
		fclose(f);
}

/*
 * A child grows its working set to `spike` MiB, timing each 4 MiB; in the
 * cgroup `cgdir` (limited to `limit` MiB) when given, else unconstrained (in
 * a ballooned test VM).  Killed at the deadline.
 */
static json_t *spike_run(const char *cgdir, bool v2, unsigned limit, unsigned spike, uint64_t timeout_ns)
{
	json_t *r = json_object();
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		json_object_set_new(r, "error", jstr(strerror(errno)));
		return r;
	}
	double mt, ma;
	meminfo_mib(&mt, &ma);
	uint64_t t_start = mono_ns();
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		char me[32];
		snprintf(me, sizeof(me), "%d", (int)getpid());
		if (cgdir && put_file(cgdir, v2 ? "cgroup.procs" : "tasks", me) < 0)
			_exit(4);
		spike_child(pfd[1], limit / 2, spike);
	}
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		json_object_set_new(r, "error", jstr(strerror(errno)));
		return r;
	}
	probe_track_pid(pid);
	uint64_t deadline = mono_ns() + timeout_ns;
	char buf[8192];
	size_t got = 0;
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	int status = 0;
	bool timed_out = false;
	for (;;) {
		ssize_t n = read(pfd[0], buf + got, sizeof(buf) - 1 - got);
		if (n > 0)
			got += (size_t)n;
		if (waitpid(pid, &status, WNOHANG) == pid) {
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
		struct pollfd pp = { .fd = pfd[0], .events = POLLIN };
		poll(&pp, 1, 20); /* wakes on each step the child reports */
	}
	double elapsed_s = (double)(mono_ns() - t_start) / 1e9;
	close(pfd[0]);
	buf[got] = '\0';
	/* MiB/s below half the limit vs above the limit */
	double below_us = 0, above_us = 0, all_us = 0;
	unsigned nb = 0, na = 0, reached = 0;
	json_t *steps = json_array();
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		unsigned mb;
		double us;
		if (sscanf(l, "%u %lf", &mb, &us) != 2)
			continue;
		reached = mb;
		all_us += us;
		json_t *st = json_object();
		json_object_set_new(st, "mib", json_integer(mb));
		json_object_set_new(st, "us", pjnum(us));
		json_array_append_new(steps, st);
		if (!limit)
			continue;
		if (mb <= limit / 2)
			below_us += us, nb++;
		else if (mb > limit)
			above_us += us, na++;
	}
	if (limit)
		json_object_set_new(r, "limit_mib", json_integer(limit));
	json_object_set_new(r, "spike_mib", json_integer(spike));
	if (cgdir)
		json_object_set_new(r, "cgroup", jstr(v2 ? "v2" : "v1"));
	json_object_set_new(r, "mem_total_mib", pjnum(mt));
	json_object_set_new(r, "mem_available_mib", pjnum(ma));
	json_object_set_new(r, "swap", json_boolean(have_swap()));
	json_object_set_new(r, "reached_mib", json_integer(reached));
	if (limit) {
		double rb = nb ? 4.0 * nb / (below_us / 1e6) : NAN, ra = na ? 4.0 * na / (above_us / 1e6) : NAN;
		json_object_set_new(r, "touch_MiBps_below_limit", pjnum(rb));
		json_object_set_new(r, "touch_MiBps_above_limit", pjnum(ra));
	}
	json_object_set_new(r, "touch_MiBps", pjnum(reached && all_us > 0 ? reached / (all_us / 1e6) : NAN));
	json_object_set_new(r, "elapsed_s", pjnum(elapsed_s));
	const char *outcome = timed_out			     ? "still crawling when the time ran out"
			      : WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? "OOM-killed"
			      : WIFEXITED(status) && WEXITSTATUS(status) == 0	    ? "completed"
			      : WIFEXITED(status) && WEXITSTATUS(status) == 2	    ? "refused (mmap failed)"
										    : "failed";
	json_object_set_new(r, "outcome", jstr(outcome));
	json_object_set_new(r, "steps", steps);
	return r;
}

/* what the test VM's balloon showed (the VM driver's "overcommit"), in one line; false if it did not run */
static bool balloon_line(json_t *oc, char *m, size_t n)
{
	json_t *b = json_object_get(oc, "before"), *a = json_object_get(oc, "after");
	json_t *sb = json_object_get(b, "spike"), *sa = json_object_get(a, "spike");
	if (!json_is_object(oc) || json_is_string(json_object_get(oc, "error")) || !json_is_object(sb) ||
	    !json_is_object(sa))
		return false;
	snprintf(m, n,
		 "a %d MiB test VM ballooned to %.0f MiB (guest MemTotal %.0f → %.0f MiB): the same %d MiB spike "
		 "%s at %d MiB before, %s at %d MiB after",
		 (int)pjget(oc, "memory_mib"), pjget(oc, "balloon_actual_mib"), pjget(sb, "mem_total_mib"),
		 pjget(sa, "mem_total_mib"), (int)pjget(oc, "spike_mib"),
		 json_string_value(json_object_get(sb, "outcome")) ?: "?", (int)pjget(sb, "reached_mib"),
		 json_string_value(json_object_get(sa, "outcome")) ?: "?", (int)pjget(sa, "reached_mib"));
	return true;
}

/* vm: the VM driver's output (NULL without --with-vm); vm_why: why it has none */
static json_t *ex_overcommit(bool quick, json_t *vm, const char *vm_why)
{
	json_t *o = experiment("memory-overcommit", "Memory overcommit with a working-set spike",
			       vm ? "a process in a memory cgroup limited to 64 MiB grows its working set from 0 to "
				    "160 MiB, timing each 4 MiB it touches; then the same spike inside a test VM before "
				    "and after the host takes memory back with the balloon"
				  : "a process in a memory cgroup limited to 64 MiB grows its working set from 0 to "
				    "160 MiB, timing each 4 MiB it touches");
	json_t *r = NULL;
	const char *teaches = "past the limit a spike either crawls through reclaim and swap or is killed; inside "
			      "a VM the same happens below the guest when the host overcommits, where the guest sees "
			      "only slowness (steal is not swap)";
	char vmline[400] = "";
	json_t *oc = json_object_get(vm, "overcommit");
	bool have_vm = balloon_line(oc, vmline, sizeof(vmline));
	const char *vm_needs = NULL;
	char vm_needs_buf[600];
	/* only a VM driver that ran can be blamed for giving no result: without --with-vm none ran */
	if (vm && !vm_why && !have_vm) {
		json_t *e = json_object_get(oc, "error");
		vm_why = json_is_string(e) ? json_string_value(e) : "the VM driver gave no balloon result";
	}
	if (vm_why) {
		snprintf(vm_needs_buf, sizeof(vm_needs_buf), "the balloon half (test VM): %.560s", vm_why);
		vm_needs = vm_needs_buf;
	} else if (!vm) {
		vm_needs = "with a test VM's balloon (a spike inside a guest the host has ballooned): hiddenq lab "
			   "--with-vm";
	}
	bool v2 = false;
	const char *root = memcg_root(&v2);
	char *dir = NULL;
	const char *cg_fail = NULL;
	if (!root || geteuid() != 0)
		cg_fail = root ? "root, to create a memory cgroup" : "a memory cgroup controller (v1 or v2)";
	else {
		dir = xasprintf("%s/hq-lab-%d", root, (int)getpid());
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			cg_fail = "a writable memory cgroup hierarchy";
		else {
			probe_track_cgroup(dir);
			int r1 = v2 ? put_file(dir, "memory.max", "67108864")
				    : put_file(dir, "memory.limit_in_bytes", "67108864");
			if (r1 < 0)
				cg_fail = "could not set the cgroup memory limit";
		}
	}
	char m[900];
	if (cg_fail) {
		r = json_object();
		if (have_vm) {
			json_object_set_new(r, "vm_balloon", json_incref(oc));
			snprintf(m, sizeof(m), "no cgroup here; %s", vmline);
			verdict(o, "partial", m, teaches, cg_fail);
		} else {
			char nb[800];
			snprintf(nb, sizeof(nb), "%s%s%s", cg_fail, vm_needs ? "; " : "", vm_needs ? vm_needs : "");
			verdict(o, "not-possible", "nothing", teaches, nb);
		}
		json_object_set_new(o, "result", r);
		free(dir);
		return o;
	}
	const unsigned limit = 64, spike = 160;
	r = spike_run(dir, v2, limit, spike, quick ? 4000000000ull : 10000000000ull);
	if (have_vm)
		json_object_set_new(r, "vm_balloon", json_incref(oc));
	else if (vm)
		json_object_set_new(r, "vm_balloon", json_pack("{s:s}", "error", vm_why ? vm_why : "no result"));
	json_object_set_new(o, "result", r);
	double rb = pjget(r, "touch_MiBps_below_limit"), ra = pjget(r, "touch_MiBps_above_limit");
	char past[64] = "nothing got past it";
	if (isfinite(ra))
		snprintf(past, sizeof(past), "%.0f MiB/s past it", ra);
	snprintf(m, sizeof(m), "touching ran at %.0f MiB/s within the limit, %s; %s at %d MiB (%s swap)%s%s", rb, past,
		 json_string_value(json_object_get(r, "outcome")) ?: "?", (int)pjget(r, "reached_mib"),
		 have_swap() ? "with" : "no", have_vm ? "; " : "", vmline);
	verdict(o, "measured", m, teaches, vm_needs);
	free(dir);
	return o;
}

/* hiddenq lab --spike MIB: the spike alone, no cgroup (run by the VM driver inside a test VM) */
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

/* ---- 6: the idle-vCPU wake-up ---- */
static json_t *ex_wakeup(bool quick, const struct probe_env *e)
{
	json_t *o = experiment("idle-vcpu-wakeup", "Waking an idle vCPU",
			       "one thread wakes another on a second CPU after it idled 0 to 100 ms (hiddenq probe "
			       "wakeup), beside a ping-pong on one CPU where nothing idles");
	json_t *r = wakeup_lab(quick);
	json_object_set_new(o, "result", r);
	json_t *err = json_object_get(r, "error");
	if (json_is_string(err)) {
		verdict(o, "not-possible", json_string_value(err), "", "two CPUs this process may run on");
		return o;
	}
	json_t *sum = json_object_get(r, "summary");
	char m[400];
	snprintf(m, sizeof(m), "%s", json_is_string(sum) ? json_string_value(sum) : "no wake-up after an idle gap measured");
	const char *teaches = "a vCPU with nothing to do halts to the host, and the next interrupt pays its wake-up "
			      "(delivery, the host's wake-up, the host's run queue): work spaced out in time is slower "
			      "than the same work back to back, and halt polling trades CPU for it";
	if (e->tcg)
		verdict(o, "emulated", m, teaches, "KVM: under TCG an idle vCPU is a QEMU thread waiting, not a halt exit");
	else if (!e->guest)
		verdict(o, "partial", m, teaches,
			"a guest: on bare metal this is only the CPU's C-state exit, the host's part is absent");
	else
		verdict(o, "measured", m, teaches, NULL);
	return o;
}

/* ---- 5: IO path latency stacking ---- */
static json_t *ex_io(bool quick, const struct probe_env *e, json_t *vm, json_t *host_io, const char *vm_why)
{
	json_t *guest = json_object_get(json_object_get(vm, "io"), "result");
	bool with_guest = json_is_object(guest) && !json_object_get(guest, "error") && json_is_object(host_io) &&
			  !json_object_get(host_io, "error");
	json_t *o = experiment("io-layer-stacking", "IO path latency stacking",
			       with_guest ? "QD=1 random 4 KiB O_DIRECT reads, back to back and spaced out, on a file "
					    "of this machine's disk, then read-only on the same file as a test VM's "
					    "virtio-blk disk (raw, cache=none) from inside the VM"
					  : "QD=1 random 4 KiB O_DIRECT reads on a file of this machine's disk, back to "
					    "back and spaced out");
	json_t *r = host_io && !json_object_get(host_io, "error") ? json_incref(host_io) : io_lab(quick, NULL, NULL);
	json_object_set_new(o, "result", r);
	json_t *err = json_object_get(r, "error");
	if (json_is_string(err)) {
		verdict(o, "not-possible", json_string_value(err), "", "a writable directory with free space");
		return o;
	}
	json_t *hb = json_object_get(r, "back_to_back");
	char m[700];
	int k = snprintf(m, sizeof(m), "p50 %.1f µs, p99 %.1f µs back to back; +%.1f µs at p50 when the vCPU idles "
				       "between requests",
			 pjget(hb, "p50_us"), pjget(hb, "p99_us"), pjget(r, "idle_gap_effect_us"));
	const char *teaches = "each layer (guest block layer, virtio, the host's IO path, the device) adds to QD=1 "
			      "latency, and an idle vCPU adds its wake-up; throughput hides this, QD=1 shows it";
	if (!with_guest) {
		char nb[700];
		const char *why = vm_why;
		json_t *ge = json_object_get(guest, "error"), *ie = json_object_get(json_object_get(vm, "io"), "error");
		if (!why)
			why = json_is_string(ge) ? json_string_value(ge) : json_is_string(ie) ? json_string_value(ie) : NULL;
		if (vm) {
			json_object_set_new(r, "vm", json_pack("{s:s}", "error", why ? why : "no result from the VM driver"));
			snprintf(nb, sizeof(nb), "the VM half: %s", why ? why : "no result from the VM driver");
		} else {
			snprintf(nb, sizeof(nb), "%s",
				 e->guest ? "the layer below: the same probe on the host against the file backing this "
					    "disk, and inside a test VM on virtio-blk (cache=none) over that file "
					    "(hiddenq lab --with-vm; a TCG VM's difference is emulation, not virtio)"
					  : "the same probe inside a VM whose virtio-blk disk is this file (cache=none): "
					    "hiddenq lab --with-vm");
		}
		verdict(o, "partial", m, teaches, nb);
		return o;
	}
	json_t *gb = json_object_get(guest, "back_to_back");
	json_t *disk = json_object_get(vm, "disk");
	const char *accel = json_string_value(json_object_get(vm, "accel")) ?: "unknown";
	bool tcg = strcmp(accel, "kvm") != 0;
	const char *label = tcg ? "emulated (TCG): not a virtio cost"
				: "virtio-blk + the guest block layer + QEMU's block layer (KVM)";
	double hp50 = pjget(hb, "p50_us"), hp99 = pjget(hb, "p99_us");
	double gp50 = pjget(gb, "p50_us"), gp99 = pjget(gb, "p99_us");
	json_t *c = json_object();
	json_object_set_new(c, "host_file_p50_us", pjnum(hp50));
	json_object_set_new(c, "host_file_p99_us", pjnum(hp99));
	json_object_set_new(c, "guest_virtio_p50_us", pjnum(gp50));
	json_object_set_new(c, "guest_virtio_p99_us", pjnum(gp99));
	json_object_set_new(c, "difference_p50_us", pjnum(gp50 - hp50));
	json_object_set_new(c, "difference_p99_us", pjnum(gp99 - hp99));
	json_object_set_new(c, "guest_idle_gap_effect_us", pjnum(pjget(guest, "idle_gap_effect_us")));
	json_object_set_new(c, "accel", jstr(accel));
	json_object_set_new(c, "label", jstr(label));
	json_object_set_new(r, "comparison", c);
	json_t *vmi = json_object();
	json_object_set_new(vmi, "qemu", json_incref(json_object_get(vm, "qemu")));
	json_object_set_new(vmi, "accel", jstr(accel));
	json_object_set_new(vmi, "disk", json_incref(disk));
	json_object_set_new(vmi, "guest_target", json_incref(json_object_get(guest, "target")));
	json_object_set_new(r, "vm", vmi);
	json_object_set_new(r, "guest", json_incref(guest));
	snprintf(m + k, sizeof(m) - (size_t)k,
		 "; same file as a VM's virtio-blk (cache=none, aio=%s): p50 %.1f µs, p99 %.1f µs inside the guest, "
		 "%+.1f µs at p50 and %+.1f µs at p99 over the host file: %s",
		 json_string_value(json_object_get(disk, "aio")) ?: "?", gp50, gp99, gp50 - hp50, gp99 - hp99, label);
	verdict(o, tcg ? "emulated" : "measured", m, teaches,
		tcg ? "KVM for a real virtio cost: the same probe in a KVM guest whose virtio-blk disk is this file "
		      "(cache=none); under TCG every request runs QEMU's device model in software"
		    : NULL);
	return o;
}

/* ---- the VM half (--with-vm): scripts/labvm.py boots one TCG guest ---- */

struct vmhalf {
	json_t *doc;		/* the driver's JSON */
	json_t *host_io;	/* the io probe on the disk file, here */
	char why[600];		/* set when there is no doc */
	char driver[4096];
	double elapsed_s;
};

static bool readable(const char *p)
{
	return p && *p && access(p, R_OK) == 0;
}

/* the driver: --vm-driver, $HIDDENQ_LAB_VM, then next to the binary's tree */
static bool find_driver(const char *opt, char *out, size_t n, char *why, size_t wn)
{
	const char *env = getenv("HIDDENQ_LAB_VM");
	if (opt || (env && *env)) {
		const char *p = opt ? opt : env;
		if (!readable(p)) {
			snprintf(why, wn, "the VM driver %s (%s) is not readable", p, opt ? "--vm-driver" : "HIDDENQ_LAB_VM");
			return false;
		}
		snprintf(out, n, "%s", p);
		return true;
	}
	char exe[4096];
	ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (l > 0) {
		exe[l] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		static const char *const rel[] = { "../scripts/labvm.py", "../share/hiddenq/labvm.py", "labvm.py" };
		for (size_t i = 0; i < ARRAY_SIZE(rel); i++) {
			if (snprintf(out, n, "%s/%s", exe, rel[i]) < (int)n && readable(out)) {
				char *rp = realpath(out, NULL);
				if (rp && strlen(rp) < n)
					strcpy(out, rp);
				free(rp);
				return true;
			}
		}
	}
	snprintf(why, wn, "the VM driver scripts/labvm.py was not found next to this binary (looked in %.160s/../scripts): "
			  "run the hiddenq of a source tree's build/, or give --vm-driver PATH or HIDDENQ_LAB_VM, with "
			  "/usr/bin/python3, QEMU (qemu-system-x86), a guest kernel (linux-image-cloud-amd64) and "
			  "busybox-static",
		 l > 0 ? exe : "?");
	return false;
}

/*
 * Run argv with stdout and stderr captured (stderr, the driver's progress,
 * also passed on when forward), at most timeout_s: then (or on Ctrl-C)
 * SIGTERM, which the driver turns into stopping its VM, and SIGKILL 15 s
 * later.  Exit status, or -1 (why filled).
 */
static int run_driver(char *const argv[], int timeout_s, bool forward, char **out, char **err, char *why, size_t wn)
{
	struct proc_run r = {
		.argv = argv,
		.timeout_ms = timeout_s * 1000,
		.grace_ms = 15000,
		.out_max = 8u << 20,
		.err_max = 65536,
		.forward_err = forward,
		.stop = &hq_exiting,
	};
	int rc = proc_start(&r);
	if (rc < 0) {
		snprintf(why, wn, "%s", r.why);
	} else {
		probe_track_pid(r.pid);
		rc = proc_wait(&r);
		probe_untrack_pid(r.pid);
		if (r.timed_out || hq_exiting) {
			if (r.timed_out)
				snprintf(why, wn, "the VM driver did not finish within %d s (stopped it)", timeout_s);
			else
				snprintf(why, wn, "interrupted");
			rc = -1;
		}
	}
	*out = r.out;
	*err = r.err;
	r.out = r.err = NULL;
	proc_run_done(&r);
	return rc;
}

/* the last non-empty line of s (for quoting a driver's stderr) */
static const char *last_line(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	char *nl = strrchr(s, '\n');
	return nl ? nl + 1 : s;
}

static void vm_half(struct vmhalf *v, bool quick, bool want_io, bool want_balloon, const char *driver_opt,
		    bool verbose_progress)
{
	uint64_t t0 = mono_ns();
	char *dir = NULL, *disk = NULL;
	if (!find_driver(driver_opt, v->driver, sizeof(v->driver), v->why, sizeof(v->why)))
		return;
	const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : NULL;
	if (!py) {
		snprintf(v->why, sizeof(v->why), "/usr/bin/python3 (Debian package python3) to run the VM driver %.300s",
			 v->driver);
		return;
	}
	if (want_io) {
		const char *base = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
		dir = xasprintf("%s/hiddenq-lab-XXXXXX", base);
		if (!mkdtemp(dir)) {
			snprintf(v->why, sizeof(v->why), "cannot create a directory in %s: %s", base, strerror(errno));
			free(dir);
			return;
		}
		probe_track_path(dir);
		disk = xasprintf("%s/disk.raw", dir);
		probe_track_path(disk);
		if (io_create_file(disk, quick ? 64ull << 20 : 256ull << 20, v->why, sizeof(v->why)) < 0)
			goto out;
	}
	/* the guest's hiddenq: the static build next to this binary, if there is one */
	char exe[4096], stat_bin[4200] = "";
	ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (l > 0) {
		exe[l] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(stat_bin, sizeof(stat_bin), "%s/hiddenq-static", exe);
			if (access(stat_bin, R_OK) != 0)
				stat_bin[0] = '\0';
		}
	}
	int budget = quick ? 45 : 90;
	char budget_s[16], dur[32], gap[32];
	snprintf(budget_s, sizeof(budget_s), "%d", budget);
	snprintf(dur, sizeof(dur), "%llums", (unsigned long long)(IO_LAB_PHASE_NS(quick) / 1000000ull));
	snprintf(gap, sizeof(gap), "%lluus", (unsigned long long)(IO_LAB_GAP_NS / 1000ull));
	char *argv[20];
	int a = 0;
	argv[a++] = (char *)py;
	argv[a++] = v->driver;
	argv[a++] = "--budget";
	argv[a++] = budget_s;
	if (disk) {
		argv[a++] = "--disk";
		argv[a++] = disk;
		argv[a++] = "--io-duration";
		argv[a++] = dur;
		argv[a++] = "--gap";
		argv[a++] = gap;
	}
	if (want_balloon)
		argv[a++] = "--balloon";
	if (stat_bin[0]) {
		argv[a++] = "--guest-hiddenq";
		argv[a++] = stat_bin;
	}
	argv[a] = NULL;
	if (verbose_progress)
		log_info("lab: test VM (%s, at most %d s)...", v->driver, budget);
	char *out = NULL, *err = NULL;
	int rc = run_driver(argv, budget + 15, verbose_progress, &out, &err, v->why, sizeof(v->why));
	if (rc >= 0) {
		json_error_t je;
		v->doc = json_loads(out, 0, &je);
		if (!json_is_object(v->doc)) {
			json_decref(v->doc);
			v->doc = NULL;
			snprintf(v->why, sizeof(v->why), "the VM driver %.200s exited %d without a JSON result: %.300s",
				 v->driver, rc, last_line(err));
		} else if (!json_is_true(json_object_get(v->doc, "ok"))) {
			json_t *e = json_object_get(v->doc, "error"), *nd = json_object_get(v->doc, "needs");
			snprintf(v->why, sizeof(v->why), "%.300s%s%.280s", json_is_string(e) ? json_string_value(e) : "failed",
				 json_is_string(nd) ? "; needs " : "", json_is_string(nd) ? json_string_value(nd) : "");
		}
	}
	free(out);
	free(err);
	/* the same probe on the same file, here (after the VM has gone) */
	if (disk && v->doc && !hq_exiting)
		v->host_io = io_lab(quick, NULL, disk);
out:
	if (disk) {
		unlink(disk);
		probe_untrack_path(disk);
	}
	if (dir) {
		rmdir(dir);
		probe_untrack_path(dir);
	}
	free(disk);
	free(dir);
	v->elapsed_s = (double)(mono_ns() - t0) / 1e9;
}

static json_t *vm_summary(const struct vmhalf *v)
{
	json_t *o = json_object();
	json_object_set_new(o, "driver", v->driver[0] ? jstr(v->driver) : json_null());
	json_object_set_new(o, "ok", json_boolean(v->doc && !v->why[0]));
	json_object_set_new(o, "elapsed_s", pjnum(v->elapsed_s));
	if (v->why[0])
		json_object_set_new(o, "error", jstr(v->why));
	static const char *const keys[] = { "qemu", "accel", "guest_kernel", "boot_s", "elapsed_s", "tcg_limits" };
	for (size_t i = 0; v->doc && i < ARRAY_SIZE(keys); i++) {
		json_t *x = json_object_get(v->doc, keys[i]);
		if (x)
			json_object_set_new(o, i == 4 ? "driver_elapsed_s" : keys[i], json_incref(x));
	}
	return o;
}

json_t *lab_spike(unsigned mib)
{
	probe_setup_signals();
	json_t *r = spike_run(NULL, false, 0, mib, 20000000000ull);
	json_t *o = json_object();
	json_object_set_new(o, "hiddenq", json_string(HQ_VERSION));
	json_object_set_new(o, "spike", r);
	probe_cleanup();
	return o;
}

void lab_run(const struct lab_opts *lo, struct lab_result *res)
{
	bool quick = lo->quick, with_vm = lo->with_vm;
	const char *only = lo->only, *driver = lo->driver;
	probe_setup_signals();
	struct probe_env e;
	probe_env_begin(&e);
	struct vmhalf vm = { 0 };
	bool want_io = !only || !strcmp(only, "io-layer-stacking");
	bool want_balloon = !only || !strcmp(only, "memory-overcommit");
	bool vm_ran = with_vm && (want_io || want_balloon);
	if (vm_ran) {
		vm_half(&vm, quick, want_io, want_balloon, driver, lo->progress);
		probe_cleanup();
	}
	const char *vm_why = vm_ran && vm.why[0] ? vm.why : NULL;
	json_t *exps = json_array();
	for (size_t i = 0; i < LAB_NEXP && !hq_exiting; i++) {
		if (only && strcmp(only, lab_ids[i]))
			continue;
		if (lo->progress)
			log_info("lab: %s...", lab_ids[i]);
		json_t *x = i == 0 ? ex_numa(quick, &e)
			    : i == 1 ? ex_oversub(quick, &e)
			    : i == 2 ? ex_overcommit(quick, vm_ran ? (vm.doc ? vm.doc : json_object()) : NULL, vm_why)
			    : i == 3 ? ex_net(quick)
			    : i == 5 ? ex_wakeup(quick, &e)
				     : ex_io(quick, &e, vm_ran ? (vm.doc ? vm.doc : json_object()) : NULL, vm.host_io,
					     vm_why);
		json_array_append_new(exps, x);
		probe_cleanup();
	}
	probe_env_end(&e);
	json_t *o = json_object();
	json_object_set_new(o, "hiddenq", json_string(HQ_VERSION));
	json_object_set_new(o, "lab", json_true());
	json_object_set_new(o, "quick", json_boolean(quick));
	json_object_set_new(o, "with_vm", json_boolean(with_vm));
	json_object_set_new(o, "interrupted", json_boolean(hq_exiting != 0));
	json_object_set_new(o, "context", probe_env_json(&e));
	if (vm_ran)
		json_object_set_new(o, "vm", vm_summary(&vm));
	json_object_set_new(o, "experiments", exps);
	memset(res, 0, sizeof(*res));
	res->doc = o;
	res->vm_ran = vm_ran;
	str_copy(res->vm_why, sizeof(res->vm_why), vm.why);
	str_copy(res->vm_driver, sizeof(res->vm_driver), vm.driver);
	res->vm_elapsed_s = vm.elapsed_s;
	json_decref(vm.doc);
	json_decref(vm.host_io);
	probe_env_done(&e);
}

void lab_result_done(struct lab_result *res)
{
	json_decref(res->doc);
	res->doc = NULL;
}

bool lab_known(const char *id)
{
	for (size_t i = 0; i < LAB_NEXP; i++)
		if (!strcmp(id, lab_ids[i]))
			return true;
	return false;
}
