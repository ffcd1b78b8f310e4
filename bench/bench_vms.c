/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Cost of host mode per sample as the VM count grows: forks N processes
 * named like QEMU, each with M sleeping threads named "CPU k/KVM", then times
 * discovery once and vmscan_sample (every vCPU thread's schedstat into a
 * sample) over 50 samples both ways: through kept-open fds (procfs) and
 * through one eBPF read (bpf_iter, when a program loads: root, BTF, a build
 * with eBPF; HIDDENQ_TASKSTAT_PROG=run|list|all picks one), beside the floor
 * (the preads alone, nothing kept) and sample_done.  Children are killed by PID; a watchdog alarm kills them
 * if the bench itself hangs.
 *
 *   build/bench/bench_vms [N1xM1[xK1] ...]     (default 100x4 500x4 1000x4)
 *
 * K (default 0): idle threads per process that are not vCPUs ("worker"),
 * as a real QEMU has (IO threads, RCU, worker pool).  The preads do not see
 * them, nor do the tid-list programs; the iterator over every task visits
 * every task on the machine, so it does.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "host/vmscan.h"
#include "sources/bpf/taskstat.h"

static pid_t *kids;
static size_t nkids;

static void kill_kids(void)
{
	for (size_t i = 0; i < nkids; i++)
		if (kids[i] > 0)
			kill(kids[i], SIGKILL);
	for (size_t i = 0; i < nkids; i++)
		if (kids[i] > 0)
			waitpid(kids[i], NULL, 0);
	nkids = 0;
}

static void on_alarm(int sig)
{
	(void)sig;
	for (size_t i = 0; i < nkids; i++)
		if (kids[i] > 0)
			kill(kids[i], SIGKILL);
	_exit(3);
}

static void *vcpu(void *arg)
{
	char name[16];
	snprintf(name, sizeof(name), "CPU %d/KVM", (int)(long)arg);
	prctl(PR_SET_NAME, name);
	for (;;)
		pause();
	return NULL;
}

static void *worker(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "worker");
	for (;;)
		pause();
	return NULL;
}

static void child(int m, int nworkers, int wfd)
{
	prctl(PR_SET_NAME, "qemu-system-x86");
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 65536);
	for (int k = 0; k < m; k++) {
		pthread_t t;
		if (pthread_create(&t, &at, vcpu, (void *)(long)k) != 0)
			_exit(1);
	}
	for (int i = 0; i < nworkers; i++) {
		pthread_t t;
		if (pthread_create(&t, &at, worker, NULL) != 0)
			_exit(1);
	}
	usleep(20000); /* let the threads name themselves */
	if (write(wfd, "x", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int run(int n, int m, int nworkers)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	kids = xcalloc((size_t)n, sizeof(*kids));
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			fprintf(stderr, "fork failed after %d processes: %s\n", i, strerror(errno));
			break;
		}
		if (pid == 0) {
			close(p[0]);
			child(m, nworkers, p[1]);
		}
		kids[nkids++] = pid;
	}
	close(p[1]);
	char c;
	size_t ready = 0;
	while (ready < nkids && read(p[0], &c, 1) == 1)
		ready++;
	close(p[0]);

	struct fsroot root;
	fsroot_init(&root, "/", false);
	struct vmscan vs, vb;
	vmscan_init(&vs, &root);
	vmscan_schedstat_procfs(&vs, "bench: the procfs row");
	uint64_t t0 = mono_ns();
	size_t nvm = vmscan_discover(&vs);
	uint64_t disc = mono_ns() - t0;
	vmscan_init(&vb, &root);
	vb.ss_always_iter = true; /* measure it even where the preads are cheaper */
	t0 = mono_ns();
	vmscan_discover(&vb);
	uint64_t disc_b = mono_ns() - t0;
	bool iter = !strcmp(vmscan_schedstat_source(&vb), "bpf_iter");
	/*
	 * Rounds interleave four measurements so that load from elsewhere on
	 * the machine hits them alike: the floor (one pread of each kept-open
	 * schedstat fd into a static buffer, nothing kept), vmscan_sample into a
	 * fresh sample through the fds, sample_done on it, and vmscan_sample
	 * through the eBPF program.  Wall and thread CPU time.
	 */
	enum { ROUNDS = 50 };
	uint64_t fl_w[ROUNDS], fl_c[ROUNDS], ns[ROUNDS], cpu[ROUNDS], dn[ROUNDS], it_w[ROUNDS], it_c[ROUNDS];
	size_t files = 0, it_files = 0;
	bool same = true;
	static char buf[128];
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t c0 = cpu_ns();
		t0 = mono_ns();
		for (size_t i = 0; i < vs.n; i++)
			for (size_t j = 0; j < vs.vms[i].nthreads; j++)
				if (vs.vms[i].threads[j].fd >= 0 &&
				    pread(vs.vms[i].threads[j].fd, buf, sizeof(buf) - 1, 0) < 0)
					break;
		fl_w[r] = mono_ns() - t0;
		fl_c[r] = cpu_ns() - c0;
		usleep(5000);
		struct sample s;
		sample_init(&s);
		c0 = cpu_ns();
		t0 = mono_ns();
		vmscan_sample(&vs, &s);
		ns[r] = mono_ns() - t0;
		cpu[r] = cpu_ns() - c0;
		files = s.nfiles;
		t0 = mono_ns();
		sample_done(&s);
		dn[r] = mono_ns() - t0;
		usleep(5000);
		it_w[r] = it_c[r] = 0;
		if (!iter)
			continue;
		sample_init(&s);
		c0 = cpu_ns();
		t0 = mono_ns();
		vmscan_sample(&vb, &s);
		it_w[r] = mono_ns() - t0;
		it_c[r] = cpu_ns() - c0;
		it_files = s.nfiles;
		/* the same files, each the three numbers and a newline */
		for (size_t i = 0; i < s.nfiles && same; i++) {
			int pid, tid;
			unsigned long long a, b, k;
			char nl;
			same = sscanf(s.files[i].path, "proc/%d/task/%d/schedstat", &pid, &tid) == 2 &&
			       sscanf(s.files[i].data, "%llu %llu %llu%c", &a, &b, &k, &nl) == 4 && nl == '\n';
		}
		same = same && !strcmp(vmscan_schedstat_source(&vb), "bpf_iter");
		sample_done(&s);
		usleep(5000);
	}
	qsort(fl_w, ROUNDS, sizeof(fl_w[0]), cmp_u64);
	qsort(fl_c, ROUNDS, sizeof(fl_c[0]), cmp_u64);
	qsort(ns, ROUNDS, sizeof(ns[0]), cmp_u64);
	qsort(cpu, ROUNDS, sizeof(cpu[0]), cmp_u64);
	qsort(dn, ROUNDS, sizeof(dn[0]), cmp_u64);
	qsort(it_w, ROUNDS, sizeof(it_w[0]), cmp_u64);
	qsort(it_c, ROUNDS, sizeof(it_c[0]), cmp_u64);
	if (nworkers)
		printf("%5dx%dx%d (%d worker threads per VM)\n", n, m, nworkers, nworkers);
	printf("%5dx%d  VMs %5zu  vCPU threads read %5zu  fds open %5lu  discovery %7.1f ms\n", n, m, nvm, files,
	       vs.fds_open, (double)disc / 1e6);
	printf("         per sample (median of %d): vmscan_sample %6.2f ms wall (p90 %6.2f, max %6.2f), %6.2f ms CPU;"
	       "  floor (pread only) %6.2f ms wall, %6.2f ms CPU;  sample_done %5.2f ms\n",
	       ROUNDS, (double)ns[ROUNDS / 2] / 1e6, (double)ns[ROUNDS * 9 / 10] / 1e6, (double)ns[ROUNDS - 1] / 1e6,
	       (double)cpu[ROUNDS / 2] / 1e6, (double)fl_w[ROUNDS / 2] / 1e6, (double)fl_c[ROUNDS / 2] / 1e6,
	       (double)dn[ROUNDS / 2] / 1e6);
	if (iter)
		printf("         bpf_iter (%s): vmscan_sample %6.2f ms wall (p90 %6.2f, max %6.2f), %6.2f ms CPU;  "
		       "vCPU threads read %5zu%s;  discovery with the iterator's load %7.1f ms\n",
		       taskstat_kind(vb.ts), (double)it_w[ROUNDS / 2] / 1e6, (double)it_w[ROUNDS * 9 / 10] / 1e6, (double)it_w[ROUNDS - 1] / 1e6,
		       (double)it_c[ROUNDS / 2] / 1e6, it_files, same && it_files == files ? "" : " (MISMATCH)",
		       (double)disc_b / 1e6);
	else
		printf("         bpf_iter: not loaded: %s\n", vb.ss_why);
	fflush(stdout);
	vmscan_done(&vb);
	vmscan_done(&vs);
	fsroot_done(&root);
	kill_kids();
	free(kids);
	kids = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGALRM, on_alarm);
	alarm(300);
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	setrlimit(RLIMIT_NPROC, &rl); /* root only; otherwise the fork error says so */
	printf("hiddenq vms: per-sample cost (schedstat of every vCPU thread: kept-open fds, and one eBPF "
	       "read)\n");
	static const char *const dflt[] = { "100x4", "500x4", "1000x4" };
	int nconf = argc > 1 ? argc - 1 : 3;
	for (int i = 0; i < nconf; i++) {
		const char *spec = argc > 1 ? argv[i + 1] : dflt[i];
		int n, m, k = 0;
		if (sscanf(spec, "%dx%dx%d", &n, &m, &k) < 2 || n < 1 || m < 1 || n > 5000 || m > 64 || k < 0 ||
		    k > 64) {
			fprintf(stderr, "bad size '%s': use NxM or NxMxK (processes x vCPU threads x other threads)\n", spec);
			return 3;
		}
		run(n, m, k);
	}
	return 0;
}
