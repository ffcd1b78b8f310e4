// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The schedstat of many threads in one read, the user half (taskstat.h):
 * loads the first of taskstat.bpf.c's three programs that this kernel
 * accepts, trying each in turn and keeping every refusal's reason:
 *  - hq_taskstat_run, a syscall program: per read, one BPF_PROG_RUN; the
 *    records are read where it wrote them, in an array mmap'ed here;
 *  - hq_taskstat_list, an iterator over an array of tids;
 *  - hq_taskstat_all, an iterator over every task.
 * For an iterator, a read creates an iterator fd from the link, reads it to
 * the end into a buffer kept between reads, and closes it.  What a program
 * reads (the tid array, or the bitmap of tids) is an array map mmap'ed
 * here: changing it costs no system call, except when the tids outgrow
 * their array (a larger one: for the iterator a new array and link, for
 * the syscall program the program loaded again with larger maps).
 */
#include "taskstat.h"

#include <errno.h>
#include <string.h>

/* ---- records and their text: always built ---- */

int taskstat_next(const char **p, const char *end, struct taskstat_line *l)
{
	const char *s = *p;
	if (s >= end)
		return 0;
	if ((size_t)(end - s) < TASKSTAT_REC_SIZE) {
		*p = end;
		return -EINVAL;
	}
	*p = s + TASKSTAT_REC_SIZE;
	/* struct taskstat_rec: native order, as the kernel on this machine wrote it */
	memcpy(&l->tgid, s, 4);
	memcpy(&l->tid, s + 4, 4);
	memcpy(&l->sum_exec_runtime, s + 8, 8);
	memcpy(&l->run_delay, s + 16, 8);
	memcpy(&l->pcount, s + 24, 8);
	return l->tgid && l->tid ? 1 : -EINVAL;
}

/* v in decimal at out; returns the digits written */
static size_t put_u64(char *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

size_t taskstat_format(const struct taskstat_line *l, char *out)
{
	size_t n = put_u64(out, l->sum_exec_runtime);
	out[n++] = ' ';
	n += put_u64(out + n, l->run_delay);
	out[n++] = ' ';
	n += put_u64(out + n, l->pcount);
	out[n++] = '\n';
	out[n] = '\0';
	return n;
}

#ifdef HQ_WITH_BPF
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include "../../core/util.h"
#include "../../bpf/taskstat.h"
#include "bpfsrc_int.h"
#include "taskstat.skel.h"

_Static_assert(sizeof(struct taskstat_rec) == TASKSTAT_REC_SIZE, "taskstat_next decodes this layout");

#define LIST_MIN 256		/* slots of the first tid array */
#define LIST_MAX (1u << 22)	/* PID_MAX_LIMIT: more vCPUs than tids cannot be */

/* The programs, in the order they are tried (taskstat.bpf.c). */
enum kind { K_RUN, K_LIST, K_ALL, K_N };

static const struct {
	const char *name;	/* vms.json's "schedstat_iter" */
	const char *env;	/* HIDDENQ_TASKSTAT_PROG's value that picks it alone */
	const char *what;	/* its load failing, for the reason */
} kinds[K_N] = {
	[K_RUN] = { "tid_run", "run",
		    "failed to load the tid-list program run by BPF_PROG_RUN (a syscall program calling "
		    "bpf_task_from_pid: Linux 6.10)" },
	[K_LIST] = { "tid_list", "list",
		     "failed to load the task iterator over a tid list (iter/bpf_map_elem calling "
		     "bpf_task_from_pid: Linux 6.2)" },
	[K_ALL] = { "all_tasks", "all", "failed to load the task iterator over every task (iter/task: Linux 5.8)" },
};

struct taskstat {
	enum kind kind;
	struct taskstat_bpf *skel;
	struct bpf_link *link;	/* the iterators' */
	/* K_ALL: the bitmap, mmap'ed */
	uint64_t *bits;
	size_t words;
	/* K_LIST: the array the link iterates (made here); K_RUN: run_tids */
	int list_fd;
	uint64_t *slots;	/* mmap'ed: one tid per slot, 0 unused */
	size_t nslots;
	size_t map_len;		/* bytes mapped at bits or slots */
	/* K_RUN: run_recs, mmap'ed */
	char *recs;
	size_t recs_len;
	uint32_t *tid;		/* the tids set, in the order given */
	size_t n;
	char *buf;		/* the iterators: the last read's records */
	size_t bufcap;
	char *fallback_why;	/* why not the programs tried before this one; NULL: none were */
};

static size_t page_round(size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	return (len + pg - 1) / pg * pg;
}

/* Words for every tid below pid_max (whole pages of them: the map is mmap'ed). */
static size_t filter_words(void)
{
	unsigned long pid_max = HQ_TASKSTAT_WORDS * 64ul;
	char b[32];
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
	if (f) {
		if (fgets(b, sizeof(b), f))
			pid_max = strtoul(b, NULL, 10);
		fclose(f);
	}
	if (pid_max == 0 || pid_max > HQ_TASKSTAT_WORDS * 64ul)
		pid_max = HQ_TASKSTAT_WORDS * 64ul;
	return page_round((pid_max + 63) / 64 * sizeof(uint64_t)) / sizeof(uint64_t);
}

/*
 * Open the skeleton and load kind k's program alone; each map sized for it
 * (the ones it does not use at one entry).  0 or a negative errno.
 */
static int skel_load(enum kind k, size_t nslots, size_t words, struct taskstat_bpf **out)
{
	struct taskstat_bpf *skel = taskstat_bpf__open();
	if (!skel)
		return errno ? -errno : -EINVAL;
	bpf_program__set_autoload(skel->progs.hq_taskstat_run, k == K_RUN);
	bpf_program__set_autoload(skel->progs.hq_taskstat_list, k == K_LIST);
	bpf_program__set_autoload(skel->progs.hq_taskstat_all, k == K_ALL);
	int err = bpf_map__set_max_entries(skel->maps.tids, (__u32)(k == K_ALL ? words : 1));
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.run_tids, (__u32)(k == K_RUN ? nslots : 1));
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.run_recs, (__u32)(k == K_RUN ? nslots : 1));
	if (!err)
		err = taskstat_bpf__load(skel);
	if (err) {
		taskstat_bpf__destroy(skel);
		return err;
	}
	*out = skel;
	return 0;
}

/*
 * K_LIST: a tid array of nslots (zeroed), the iterator attached to it, the
 * old array and link let go.  0 or -errno (the old ones kept).
 */
static int list_resize(struct taskstat *ts, size_t nslots)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_MMAPABLE);
	/* __u64 values: an array's elements are 8-byte aligned, so mmap sees __u32 ones padded */
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "hq_tid_list", sizeof(__u32), sizeof(__u64), (__u32)nslots, &mo);
	if (fd < 0)
		return -errno;
	size_t len = page_round(nslots * sizeof(uint64_t));
	void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		int err = -errno;
		close(fd);
		return err;
	}
	union bpf_iter_link_info li = { .map = { .map_fd = (__u32)fd } };
	LIBBPF_OPTS(bpf_iter_attach_opts, ao, .link_info = &li, .link_info_len = sizeof(li));
	struct bpf_link *link = bpf_program__attach_iter(ts->skel->progs.hq_taskstat_list, &ao);
	if (!link) {
		int err = -errno;
		munmap(mem, len);
		close(fd);
		return err;
	}
	if (ts->link)
		bpf_link__destroy(ts->link);
	if (ts->slots)
		munmap(ts->slots, ts->map_len);
	if (ts->list_fd >= 0)
		close(ts->list_fd);
	ts->link = link;
	ts->list_fd = fd;
	ts->slots = mem;
	ts->nslots = nslots;
	ts->map_len = len;
	/* the new array is empty: the tids set are written again by the caller */
	ts->n = 0;
	return 0;
}

/*
 * K_RUN: the program loaded with tid and record arrays of nslots (zeroed)
 * and both mapped; the old program and mappings let go.  0 or -errno (the
 * old ones kept).
 */
static int run_resize(struct taskstat *ts, size_t nslots)
{
	struct taskstat_bpf *skel;
	int err = skel_load(K_RUN, nslots, 0, &skel);
	if (err)
		return err;
	size_t len = page_round(nslots * sizeof(uint64_t));
	size_t rlen = page_round(nslots * TASKSTAT_REC_SIZE);
	void *slots = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(skel->maps.run_tids), 0);
	if (slots == MAP_FAILED) {
		err = -errno;
		taskstat_bpf__destroy(skel);
		return err;
	}
	/* read-only here: the program writes the records */
	void *recs = mmap(NULL, rlen, PROT_READ, MAP_SHARED, bpf_map__fd(skel->maps.run_recs), 0);
	if (recs == MAP_FAILED) {
		err = -errno;
		munmap(slots, len);
		taskstat_bpf__destroy(skel);
		return err;
	}
	if (ts->slots)
		munmap(ts->slots, ts->map_len);
	if (ts->recs)
		munmap(ts->recs, ts->recs_len);
	taskstat_bpf__destroy(ts->skel);
	ts->skel = skel;
	ts->slots = slots;
	ts->map_len = len;
	ts->recs = recs;
	ts->recs_len = rlen;
	ts->nslots = nslots;
	ts->n = 0;
	return 0;
}

/*
 * The reason kind k's program did not load: the error, and what libbpf saw
 * during the attempt: a kfunc it did not find in the kernel (the cause,
 * whatever the verifier then said), else the verifier's last words.
 */
static char *load_reason(enum kind k, int err)
{
	char *why = bpfsrc_reason(kinds[k].what, err);
	const char *missing = bpfsrc_unresolved(), *said = bpfsrc_verifier_said();
	char *w = NULL;
	if (missing)
		w = xasprintf("%s; libbpf found no %s in this kernel", why, missing);
	else if (said)
		w = xasprintf("%s; the verifier said: \"%s\"", why, said);
	if (w) {
		free(why);
		why = w;
	}
	return why;
}

/* Load kind k's program and what it reads; NULL with *why. */
static struct taskstat *open_kind(enum kind k, char **why)
{
	struct taskstat *ts = xcalloc(1, sizeof(*ts));
	ts->kind = k;
	ts->list_fd = -1;
	int err;
	bpfsrc_verifier_reset();
	if (k == K_RUN) {
		err = run_resize(ts, LIST_MIN);
		if (err)
			*why = load_reason(k, err);
	} else {
		size_t words = k == K_ALL ? filter_words() : 1;
		err = skel_load(k, 1, words, &ts->skel);
		if (err)
			*why = load_reason(k, err);
		else if (k == K_LIST) {
			err = list_resize(ts, LIST_MIN);
			if (err)
				*why = bpfsrc_reason("failed to attach the task iterator to its tid list", err);
		} else {
			size_t len = words * sizeof(uint64_t);
			void *bits = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
					  bpf_map__fd(ts->skel->maps.tids), 0);
			if (bits == MAP_FAILED) {
				err = -errno;
				*why = bpfsrc_reason("failed to map the task iterator's filter", err);
			} else {
				ts->bits = bits;
				ts->words = words;
				ts->map_len = len;
				ts->link = bpf_program__attach_iter(ts->skel->progs.hq_taskstat_all, NULL);
				if (!ts->link) {
					err = -errno;
					*why = bpfsrc_reason("failed to create the task iterator link", err);
				}
			}
		}
	}
	if (err) {
		taskstat_close(ts);
		return NULL;
	}
	if (k != K_RUN) {
		ts->bufcap = 64 * 1024;
		ts->buf = xmalloc(ts->bufcap);
	}
	return ts;
}

struct taskstat *taskstat_open(char **why)
{
	*why = NULL;
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		*why = xasprintf("no kernel BTF (/sys/kernel/btf/vmlinux: %s)", strerror(errno));
		return NULL;
	}
	bpfsrc_quiet_libbpf();
	/* HIDDENQ_TASKSTAT_PROG=run|list|all: that program alone (tests, bench) */
	const char *prog = getenv("HIDDENQ_TASKSTAT_PROG");
	int only = -1;
	if (prog && *prog) {
		for (int k = 0; k < K_N; k++)
			if (!strcmp(prog, kinds[k].env))
				only = k;
		if (only < 0) {
			*why = xasprintf("HIDDENQ_TASKSTAT_PROG=%s: not one of run, list, all", prog);
			return NULL;
		}
	}
	char *tried = NULL; /* the refusals so far, in order */
	for (int k = 0; k < K_N; k++) {
		if (only >= 0 && k != only)
			continue;
		char *w = NULL;
		struct taskstat *ts = open_kind((enum kind)k, &w);
		if (ts) {
			if (only > 0)
				ts->fallback_why = xasprintf("HIDDENQ_TASKSTAT_PROG=%s picked it", prog);
			else
				ts->fallback_why = tried;
			return ts;
		}
		if (!w)
			w = xstrdup(kinds[k].what);
		if (tried) {
			char *j = xasprintf("%s; %s", tried, w);
			free(tried);
			free(w);
			tried = j;
		} else {
			tried = w;
		}
	}
	*why = tried;
	return NULL;
}

const char *taskstat_kind(const struct taskstat *ts)
{
	return kinds[ts->kind].name;
}

const char *taskstat_fallback_why(const struct taskstat *ts)
{
	return ts->fallback_why;
}

bool taskstat_visits_all(const struct taskstat *ts)
{
	return ts->kind == K_ALL;
}

uint32_t taskstat_tid_limit(const struct taskstat *ts)
{
	if (ts->kind != K_ALL)
		return UINT32_MAX;
	return ts->words * 64 > UINT32_MAX ? UINT32_MAX : (uint32_t)(ts->words * 64);
}

int taskstat_set(struct taskstat *ts, const uint32_t *tid, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (tid[i] == 0 || tid[i] >= taskstat_tid_limit(ts))
			return -ERANGE;
	if (ts->kind != K_ALL) {
		if (n > LIST_MAX)
			return -ERANGE;
		if (n > ts->nslots) {
			size_t want = ts->nslots;
			while (want < n)
				want *= 2;
			int err = ts->kind == K_RUN ? run_resize(ts, want) : list_resize(ts, want);
			if (err)
				return err;
		}
		for (size_t i = 0; i < n; i++)
			ts->slots[i] = tid[i];
		for (size_t i = n; i < ts->n; i++)
			ts->slots[i] = 0;
	} else {
		for (size_t i = 0; i < ts->n; i++)
			ts->bits[ts->tid[i] / 64] &= ~(1ull << (ts->tid[i] % 64));
		for (size_t i = 0; i < n; i++)
			ts->bits[tid[i] / 64] |= 1ull << (tid[i] % 64);
	}
	free(ts->tid);
	ts->tid = n ? xmalloc(n * sizeof(*tid)) : NULL;
	if (n)
		memcpy(ts->tid, tid, n * sizeof(*tid));
	ts->n = n;
	return 0;
}

/* K_RUN: one BPF_PROG_RUN; the records are where the program packed them. */
static int run_read(struct taskstat *ts, const char **buf, size_t *len)
{
	struct taskstat_args args = { .n = (__u32)ts->n };
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &args, .ctx_size_in = sizeof(args));
	*buf = ts->recs;
	*len = 0;
	if (bpf_prog_test_run_opts(bpf_program__fd(ts->skel->progs.hq_taskstat_run), &o) != 0)
		return errno ? -errno : -EIO;
	if (o.retval > ts->n)
		return -EIO; /* more records than tids: not this program's output */
	*len = (size_t)o.retval * TASKSTAT_REC_SIZE;
	return 0;
}

int taskstat_read(struct taskstat *ts, const char **buf, size_t *len)
{
	if (ts->kind == K_RUN)
		return run_read(ts, buf, len);
	int fd = bpf_iter_create(bpf_link__fd(ts->link));
	if (fd < 0)
		return -errno;
	size_t have = 0;
	int ret = 0;
	for (;;) {
		if (ts->bufcap - have < 4096) {
			ts->bufcap *= 2;
			ts->buf = xrealloc(ts->buf, ts->bufcap);
		}
		ssize_t r = read(fd, ts->buf + have, ts->bufcap - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			break;
		}
		if (r == 0)
			break;
		have += (size_t)r;
	}
	close(fd);
	*buf = ts->buf;
	*len = have;
	return ret;
}

void taskstat_close(struct taskstat *ts)
{
	if (!ts)
		return;
	bpf_link__destroy(ts->link);
	if (ts->bits)
		munmap(ts->bits, ts->map_len);
	if (ts->slots)
		munmap(ts->slots, ts->map_len);
	if (ts->recs)
		munmap(ts->recs, ts->recs_len);
	if (ts->list_fd >= 0)
		close(ts->list_fd);
	taskstat_bpf__destroy(ts->skel);
	free(ts->tid);
	free(ts->buf);
	free(ts->fallback_why);
	free(ts);
}
#else
#include "../../core/util.h"

struct taskstat *taskstat_open(char **why)
{
	*why = xstrdup("hiddenq was built without eBPF (make BPF=0)");
	return NULL;
}

const char *taskstat_kind(const struct taskstat *ts)
{
	(void)ts;
	return "";
}

const char *taskstat_fallback_why(const struct taskstat *ts)
{
	(void)ts;
	return NULL;
}

bool taskstat_visits_all(const struct taskstat *ts)
{
	(void)ts;
	return false;
}

uint32_t taskstat_tid_limit(const struct taskstat *ts)
{
	(void)ts;
	return 0;
}

int taskstat_set(struct taskstat *ts, const uint32_t *tid, size_t n)
{
	(void)ts, (void)tid, (void)n;
	return -ENOTSUP;
}

int taskstat_read(struct taskstat *ts, const char **buf, size_t *len)
{
	(void)ts;
	*buf = NULL;
	*len = 0;
	return -ENOTSUP;
}

void taskstat_close(struct taskstat *ts)
{
	(void)ts;
}
#endif
