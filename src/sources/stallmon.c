/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "stallmon.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "../core/util.h"
#include "../parse/hwlog.h"
#include "../parse/memparse.h"
#include "../parse/parse.h"

#define RING 4096

struct stall {
	uint64_t t_ns;		/* monotonic time the late wake-up was seen */
	uint64_t late_ns;	/* how late */
	uint64_t rundelay_ns;	/* own run delay accrued over it */
	int cpu;
};

struct stallmon {
	pthread_t th;
	atomic_bool stop;
	uint64_t sleep_ns, threshold_ns;
	uint64_t tight_sleep_ns, tighten_ns, hold_ns;	/* tight_sleep_ns 0: fixed sleep */
	unsigned tight_permille;	/* the most of the time it may be tight, in the long run */
	pthread_mutex_t lock;
	struct stall ring[RING];
	unsigned head, count;	/* guarded by lock */
	unsigned long dropped;
	atomic_ulong loops;
	unsigned long loops_reported;
	atomic_ulong tight_ns;		/* time spent at tight_sleep_ns */
	unsigned long tight_reported;
	int schedfd;
};

static uint64_t read_rundelay(int fd)
{
	char buf[128];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	struct task_schedstat ts;
	if (task_schedstat_parse(buf, (size_t)n, &ts) < 0)
		return 0;
	return ts.delay_ns;
}

static void *stall_thread(void *arg)
{
	struct stallmon *m = arg;
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	prctl(PR_SET_NAME, "hiddenq-stall", 0, 0, 0);
	m->schedfd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	uint64_t last_delay = m->schedfd >= 0 ? read_rundelay(m->schedfd) : 0;
	unsigned since_read = 0;
	uint64_t tight_until = 0;	/* sleep tight_sleep_ns until then ... */
	uint64_t budget = m->hold_ns;	/* ... while this lasts: tight time left */
	while (!atomic_load(&m->stop)) {
		uint64_t before = mono_ns();
		bool tight = m->tight_sleep_ns && before < tight_until && budget > 0;
		uint64_t want = tight ? m->tight_sleep_ns : m->sleep_ns;
		struct timespec req = { (time_t)(want / 1000000000ull), (long)(want % 1000000000ull) };
		nanosleep(&req, NULL);
		uint64_t after = mono_ns();
		atomic_fetch_add(&m->loops, 1);
		uint64_t slept = after - before;
		if (m->tight_sleep_ns) {
			/* the budget grows by tight_permille of the time passed, up to one hold,
			 * and tight time spends it: trouble that never ends keeps the thread
			 * tight at most that share of the time, so its cost stays bounded */
			budget += slept / 1000 * m->tight_permille;
			if (budget > m->hold_ns)
				budget = m->hold_ns;
			if (tight) {
				atomic_fetch_add(&m->tight_ns, slept);
				budget = budget > slept ? budget - slept : 0;
			}
		}
		/* Re-read our run delay now and then, so that the delta seen at a
		 * stall belongs to that stall (the thread sleeps otherwise). */
		if (slept >= want + m->threshold_ns) {
			uint64_t d = m->schedfd >= 0 ? read_rundelay(m->schedfd) : 0;
			struct stall s = {
				.t_ns = after,
				.late_ns = slept - want,
				.rundelay_ns = d >= last_delay ? d - last_delay : 0,
				.cpu = sched_getcpu(),
			};
			last_delay = d;
			since_read = 0;
			if (s.late_ns >= m->tighten_ns)
				tight_until = after + m->hold_ns;
			pthread_mutex_lock(&m->lock);
			if (m->count == RING) {
				m->dropped++;
			} else {
				m->ring[(m->head + m->count) % RING] = s;
				m->count++;
			}
			pthread_mutex_unlock(&m->lock);
		} else if (++since_read >= 100 && m->schedfd >= 0) {
			last_delay = read_rundelay(m->schedfd);
			since_read = 0;
		}
	}
	return NULL;
}

struct stallmon *stallmon_start(const struct stallmon_opts *o)
{
	struct stallmon *m = xcalloc(1, sizeof(*m));
	m->sleep_ns = o->sleep_ns;
	m->threshold_ns = o->threshold_ns;
	if (o->tight_sleep_ns && o->tight_sleep_ns != o->sleep_ns) {
		m->tight_sleep_ns = o->tight_sleep_ns;
		m->tighten_ns = o->tighten_ns;
		m->tight_permille = o->tight_permille;
		m->hold_ns = o->hold_ns;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->schedfd = -1; /* opened by the thread: thread-self must resolve to it */
	int err = pthread_create(&m->th, NULL, stall_thread, m);
	if (err) {
		log_warn("cannot start the stall sampler thread: %s", strerror(err));
		pthread_mutex_destroy(&m->lock);
		free(m);
		return NULL;
	}
	return m;
}

void stallmon_drain(struct stallmon *m, json_t *o)
{
	json_t *a = json_array();
	pthread_mutex_lock(&m->lock);
	while (m->count) {
		struct stall *s = &m->ring[m->head];
		json_t *e = json_object();
		json_object_set_new(e, "t_ns", json_integer((json_int_t)s->t_ns));
		json_object_set_new(e, "late_ns", json_integer((json_int_t)s->late_ns));
		json_object_set_new(e, "rundelay_ns", json_integer((json_int_t)s->rundelay_ns));
		json_object_set_new(e, "cpu", json_integer(s->cpu));
		json_array_append_new(a, e);
		m->head = (m->head + 1) % RING;
		m->count--;
	}
	unsigned long dropped = m->dropped;
	m->dropped = 0;
	pthread_mutex_unlock(&m->lock);
	unsigned long loops = atomic_load(&m->loops), tight = atomic_load(&m->tight_ns);
	json_object_set_new(o, "sleep_ns", json_integer((json_int_t)m->sleep_ns));
	if (m->tight_sleep_ns) {
		json_object_set_new(o, "tight_sleep_ns", json_integer((json_int_t)m->tight_sleep_ns));
		json_object_set_new(o, "tighten_ns", json_integer((json_int_t)m->tighten_ns));
		json_object_set_new(o, "tight_permille", json_integer(m->tight_permille));
		json_object_set_new(o, "hold_ns", json_integer((json_int_t)m->hold_ns));
		json_object_set_new(o, "tight_ns", json_integer((json_int_t)(tight - m->tight_reported)));
	}
	json_object_set_new(o, "threshold_ns", json_integer((json_int_t)m->threshold_ns));
	json_object_set_new(o, "loops", json_integer((json_int_t)(loops - m->loops_reported)));
	json_object_set_new(o, "dropped", json_integer((json_int_t)dropped));
	json_object_set_new(o, "stalls", a);
	m->loops_reported = loops;
	m->tight_reported = tight;
}

void stallmon_stop(struct stallmon *m)
{
	if (!m)
		return;
	atomic_store(&m->stop, true);
	pthread_join(m->th, NULL);
	if (m->schedfd >= 0)
		close(m->schedfd);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* ------------------------------------------------------------------ */
/* /dev/kmsg                                                           */
/* ------------------------------------------------------------------ */

struct kmsgmon {
	int fd;
	int err;
	json_t *pending;	/* matches not yet drained */
	unsigned long read_records;
};

/* history: records already in the ring when the reader opened /dev/kmsg */
static void kmsg_pump(struct kmsgmon *k, bool history)
{
	char buf[8192];
	for (unsigned i = 0; i < 100000; i++) {
		ssize_t n = read(k->fd, buf, sizeof(buf) - 1);
		if (n < 0) {
			if (errno == EPIPE) /* overwritten while we read: go on */
				continue;
			if (errno == EINTR)
				continue;
			break; /* EAGAIN: no more records */
		}
		if (n == 0)
			break;
		k->read_records++;
		struct kmsg_rec r;
		if (kmsg_parse(buf, (size_t)n, &r) < 0)
			continue;
		const char *kind = kmsg_classify(r.msg, r.msglen);
		/* hardware and hypervisor errors: the kernel's own lines only (anyone may write to /dev/kmsg) */
		struct hwlog_rec hw;
		if (!kind && r.facility == 0 && hwlog_parse(r.msg, r.msglen, &hw) == 0)
			kind = hw.kind;
		if (!kind)
			continue;
		json_t *e = json_object();
		json_object_set_new(e, "usec", json_integer((json_int_t)r.usec));
		json_object_set_new(e, "prio", json_integer(r.prio));
		json_object_set_new(e, "kind", json_string(kind));
		json_object_set_new(e, "history", json_boolean(history));
		json_object_set_new(e, "kernel", json_boolean(r.facility == 0));
		char *msg = xstrndup(r.msg, r.msglen > 300 ? 300 : r.msglen);
		for (char *p = msg; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				*p = '?';
		json_object_set_new(e, "msg", json_string(msg));
		free(msg);
		json_array_append_new(k->pending, e);
		if (json_array_size(k->pending) > 1000)
			json_array_remove(k->pending, 0);
	}
}

struct kmsgmon *kmsgmon_open(void)
{
	struct kmsgmon *k = xcalloc(1, sizeof(*k));
	k->pending = json_array();
	k->fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (k->fd < 0) {
		k->err = errno;
		return k;
	}
	kmsg_pump(k, true); /* the history still in the ring buffer */
	return k;
}

void kmsgmon_drain(struct kmsgmon *k, struct sample *out)
{
	if (!k)
		return;
	if (k->fd >= 0)
		kmsg_pump(k, false);
	json_t *o = json_object();
	json_object_set_new(o, "available", json_boolean(k->fd >= 0));
	if (k->fd < 0)
		json_object_set_new(o, "error", json_string(strerror(k->err)));
	json_object_set_new(o, "matches", k->pending);
	k->pending = json_array();
	char *txt = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (txt)
		sample_add_take(out, KMSG_PATH, txt, strlen(txt));
}

void kmsgmon_close(struct kmsgmon *k)
{
	if (!k)
		return;
	if (k->fd >= 0)
		close(k->fd);
	json_decref(k->pending);
	free(k);
}
