/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * probe net: packets per second and drops through a veth pair between two
 * private network namespaces the probe creates (hq-probe-PID-a and -b, via
 * ip(8)), first with one queue and one sending flow, then with one queue and
 * one flow per CPU.  Small UDP packets make it a packet-rate test, not a
 * bandwidth one.  Receive processing of a veth runs in softirq on the CPU
 * that sent the packet, so one flow is held to what one CPU's softirq can do,
 * and more queues with more flows spread it.  Per-CPU softirq time
 * (/proc/stat) shows where it went.
 *
 * Nothing leaves the namespaces; they are deleted at exit, also on Ctrl-C,
 * and ones left by a probe that was killed are removed by the next run.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "../core/util.h"
#include "../parse/parse.h"
#include "probe.h"

struct flow {
	pthread_t th;
	const char *ns;
	int cpu;
	uint64_t end_ns;
	uint64_t count;		/* sent or received */
	int err;
	bool rx;
	unsigned pkt;
	_Atomic int *ready;
};

static int enter_ns(const char *ns)
{
	char p[128];
	snprintf(p, sizeof(p), "/run/netns/%s", ns);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
	close(fd);
	return r;
}

static void pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	sched_setaffinity(0, sizeof(s), &s);
}

static void *flow_main(void *arg)
{
	struct flow *f = arg;
	int r = enter_ns(f->ns);
	if (r < 0) {
		f->err = -r;
		atomic_fetch_add(f->ready, 1);
		return NULL;
	}
	pin(f->cpu);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(9000) };
	inet_pton(AF_INET, "10.203.0.2", &dst.sin_addr);
	int one = 1, big = 4 << 20;
	if (f->rx) {
		setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
		struct timeval tv = { 0, 100000 };
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (bind(s, (struct sockaddr *)&dst, sizeof(dst)) < 0)
			f->err = errno;
		atomic_fetch_add(f->ready, 1);
		struct mmsghdr m[64];
		char buf[64][256];
		struct iovec iov[64];
		for (int i = 0; i < 64; i++) {
			iov[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
			m[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		while (!f->err && !hq_exiting && mono_ns() < f->end_ns + 200000000ull) {
			int n = recvmmsg(s, m, 64, 0, NULL);
			if (n > 0)
				f->count += (uint64_t)n;
		}
	} else {
		struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons((uint16_t)(10000 + f->cpu * 7 + 1)) };
		inet_pton(AF_INET, "10.203.0.1", &src.sin_addr);
		if (bind(s, (struct sockaddr *)&src, sizeof(src)) < 0 || connect(s, (struct sockaddr *)&dst, sizeof(dst)) < 0)
			f->err = errno;
		atomic_fetch_add(f->ready, 1);
		char buf[1500] = { 0 };
		struct mmsghdr m[32];
		struct iovec iov = { buf, f->pkt };
		for (int i = 0; i < 32; i++)
			m[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov, .msg_iovlen = 1 } };
		while (!f->err && !hq_exiting && mono_ns() < f->end_ns) {
			int n = sendmmsg(s, m, 32, 0);
			if (n > 0)
				f->count += (uint64_t)n;
			else if (errno != ENOBUFS && errno != EAGAIN)
				break;
		}
	}
	close(s);
	return NULL;
}

#define IP(...) probe_exec((char *const[]){ (char *)"ip", __VA_ARGS__, NULL }, NULL, 0, 10)

/* namespaces of probes that no longer run */
static void reap_stale(void)
{
	char out[8192];
	char *av[] = { (char *)"ip", (char *)"netns", (char *)"list", NULL };
	if (probe_exec(av, out, sizeof(out), 5) != 0)
		return;
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		long pid;
		char side;
		if (sscanf(l, "hq-probe-%ld-%c", &pid, &side) == 2 && pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
			char name[64];
			snprintf(name, sizeof(name), "hq-probe-%ld-%c", pid, side);
			char *d[] = { (char *)"ip", (char *)"netns", (char *)"delete", name, NULL };
			probe_exec(d, NULL, 0, 5);
		}
	}
}

static char *stat_now(void)
{
	FILE *f = fopen("/proc/stat", "re");
	if (!f)
		return NULL;
	char *b = xcalloc(1, 1 << 16);
	size_t n = fread(b, 1, (1 << 16) - 1, f);
	b[n] = '\0';
	fclose(f);
	return b;
}

static json_t *one_run(const struct net_params *p, unsigned queues, unsigned flows, char *na, char *nb,
		       char *why, size_t wn)
{
	char q[16];
	snprintf(q, sizeof(q), "%u", queues);
	if (IP("netns", "add", na) || (probe_track_netns(na), IP("netns", "add", nb))) {
		snprintf(why, wn, "ip netns add failed (needs root / CAP_SYS_ADMIN and iproute2)");
		return NULL;
	}
	probe_track_netns(nb);
	if (IP("-n", na, "link", "add", "hqa", "numtxqueues", q, "numrxqueues", q, "type", "veth", "peer", "name",
	       "hqb", "netns", nb) ||
	    0) {
		snprintf(why, wn, "cannot create the veth pair");
		return NULL;
	}
	IP("-n", na, "addr", "add", "10.203.0.1/30", "dev", "hqa");
	IP("-n", nb, "addr", "add", "10.203.0.2/30", "dev", "hqb");
	IP("-n", na, "link", "set", "hqa", "up");
	IP("-n", nb, "link", "set", "hqb", "up");
	long nc = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned ncpu = nc > 0 ? (unsigned)nc : 1;
	struct flow *f = xcalloc(2 * flows, sizeof(*f));
	_Atomic int ready = 0;
	uint64_t end = mono_ns() + p->phase_ns + 300000000ull;
	for (unsigned i = 0; i < flows; i++) { /* receivers first */
		f[i] = (struct flow){ .ns = nb, .cpu = (int)((i + 1) % ncpu), .end_ns = end, .rx = true, .ready = &ready };
		pthread_create(&f[i].th, NULL, flow_main, &f[i]);
	}
	while (atomic_load(&ready) < (int)flows)
		usleep(1000);
	usleep(300000);
	char *s0 = stat_now();
	uint64_t t0 = mono_ns();
	end = t0 + p->phase_ns;
	for (unsigned i = 0; i < flows; i++) {
		f[flows + i] = (struct flow){ .ns = na, .cpu = (int)(i % ncpu), .end_ns = end, .pkt = p->pkt, .ready = &ready };
		pthread_create(&f[flows + i].th, NULL, flow_main, &f[flows + i]);
	}
	for (unsigned i = 0; i < flows; i++)
		pthread_join(f[flows + i].th, NULL);
	uint64_t t1 = mono_ns();
	char *s1 = stat_now();
	for (unsigned i = 0; i < flows; i++)
		pthread_join(f[i].th, NULL);
	uint64_t tx = 0, rx = 0;
	int err = 0;
	for (unsigned i = 0; i < 2 * flows; i++) {
		if (i < flows)
			rx += f[i].count;
		else
			tx += f[i].count;
		if (f[i].err)
			err = f[i].err;
	}
	double secs = (double)(t1 - t0) / 1e9;
	json_t *o = json_object();
	json_object_set_new(o, "queues", json_integer(queues));
	json_object_set_new(o, "flows", json_integer(flows));
	json_object_set_new(o, "tx_pps", pjnum((double)tx / secs));
	json_object_set_new(o, "rx_pps", pjnum((double)rx / secs));
	json_object_set_new(o, "dropped_pct", pjnum(tx ? 100.0 * (double)(tx > rx ? tx - rx : 0) / (double)tx : 0));
	if (err)
		json_object_set_new(o, "error", jstr(strerror(err)));
	/* softirq share per CPU */
	struct procstat a, b;
	json_t *si = json_array();
	double mx = 0;
	if (s0 && s1 && procstat_parse(s0, strlen(s0), &a) == 0) {
		if (procstat_parse(s1, strlen(s1), &b) == 0) {
			for (size_t i = 0; i < b.ncpus; i++) {
				const struct cpu_times *x = procstat_cpu(&a, b.cpus[i].cpu), *y = &b.cpus[i];
				if (!x)
					continue;
				uint64_t tot = cpu_times_total(y) - cpu_times_total(x);
				double pct = tot ? 100.0 * (double)(y->v[CT_SOFTIRQ] - x->v[CT_SOFTIRQ]) / (double)tot : 0;
				json_array_append_new(si, pjnum(pct));
				if (pct > mx)
					mx = pct;
			}
			procstat_done(&b);
		}
		procstat_done(&a);
	}
	json_object_set_new(o, "softirq_pct_per_cpu", si);
	json_object_set_new(o, "softirq_pct_max", pjnum(mx));
	free(s0);
	free(s1);
	free(f);
	return o;
}

json_t *net_run(const struct net_params *p)
{
	json_t *r = json_object();
	json_object_set_new(r, "packet_bytes", json_integer(p->pkt));
	if (geteuid() != 0) {
		json_object_set_new(r, "error", jstr("needs root (network namespaces and veth devices)"));
		return r;
	}
	reap_stale();
	char na[64], nb[64], why[160] = "";
	snprintf(na, sizeof(na), "hq-probe-%d-a", (int)getpid());
	snprintf(nb, sizeof(nb), "hq-probe-%d-b", (int)getpid());
	json_t *runs = json_array();
	unsigned cfg[2][2] = { { 1, 1 }, { p->queues, p->queues } };
	for (int i = 0; i < 2 && !hq_exiting; i++) {
		json_t *o = one_run(p, cfg[i][0], cfg[i][1], na, nb, why, sizeof(why));
		probe_cleanup(); /* the namespaces, before the next run */
		if (!o)
			break;
		json_array_append_new(runs, o);
	}
	json_object_set_new(r, "runs", runs);
	if (why[0])
		json_object_set_new(r, "error", jstr(why));
	json_t *a = json_array_get(runs, 0), *b = json_array_get(runs, 1);
	if (a && b) {
		double ra = pjget(a, "rx_pps"), rb = pjget(b, "rx_pps");
		json_object_set_new(r, "multi_over_single", pjnum(ra > 0 ? rb / ra : NAN));
	}
	json_object_set_new(r, "note", jstr("a veth pair has no ring to overflow: its receive work runs in softirq "
					     "on the sending CPU, so one flow is capped by one CPU; a virtio-net "
					     "queue adds the host side (vhost thread, tap) and its drops live there"));
	return r;
}

json_t *net_lab(bool quick)
{
	long nc = sysconf(_SC_NPROCESSORS_ONLN);
	struct net_params p = { .phase_ns = quick ? 800000000ull : 2500000000ull,
				.queues = nc < 2 ? 2 : nc > 8 ? 8 : (unsigned)nc, .pkt = 64 };
	return net_run(&p);
}
