// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The schedstat of many threads in one read, the user half (taskstat.h):
 * loads one of taskstat.bpf.c's two programs through its skeleton once
 * (hq_taskstat_list where the kernel has bpf_task_from_pid, 6.2, else
 * hq_taskstat_all), creates the iterator's link, and per read creates an
 * iterator fd from the link, reads it to the end into a buffer kept between
 * reads, and closes it.  What the program reads (the tid list, or the
 * bitmap of tids) is an array map mmap'ed here: changing it costs no system
 * call, except when the list outgrows its array (a new, larger one and a
 * new link).
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
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include "../../core/util.h"
#include "../../bpf/taskstat.h"
#include "bpfsrc_int.h"
#include "taskstat.skel.h"

_Static_assert(sizeof(struct taskstat_rec) == TASKSTAT_REC_SIZE, "taskstat_next decodes this layout");

#define LIST_MIN 256		/* slots of the first tid list */
#define LIST_MAX (1u << 22)	/* PID_MAX_LIMIT: more vCPUs than tids cannot be */

struct taskstat {
	struct taskstat_bpf *skel;
	bool list;		/* hq_taskstat_list; else hq_taskstat_all */
	struct bpf_link *link;
	/* hq_taskstat_all: the bitmap, mmap'ed */
	uint64_t *bits;
	size_t words;
	/* hq_taskstat_list: the tid array the link iterates, mmap'ed */
	int list_fd;
	uint64_t *slots;
	size_t nslots;
	size_t map_len;		/* bytes mapped (bits or slots) */
	uint32_t *tid;		/* the tids set, in the order given */
	size_t n;
	char *buf;		/* the last read's records */
	size_t bufcap;
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

/* Whether the kernel has the bpf_task_from_pid kfunc (6.2) that hq_taskstat_list calls. */
static bool has_task_from_pid(void)
{
	struct btf *vm = btf__load_vmlinux_btf();
	if (!vm)
		return false;
	bool ok = btf__find_by_name_kind(vm, "bpf_task_from_pid", BTF_KIND_FUNC) >= 0;
	btf__free(vm);
	return ok;
}

/*
 * hq_taskstat_list: a tid array of nslots (zeroed), the iterator attached
 * to it, the old array and link let go.  0 or -errno (the old ones kept).
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

/* Load one of the two programs (taskstat.bpf.c); NULL with *why. */
static struct taskstat *open_variant(bool list, char **why)
{
	struct taskstat_bpf *skel = taskstat_bpf__open();
	if (!skel) {
		*why = bpfsrc_reason("failed to open the task iterator eBPF object", errno);
		return NULL;
	}
	size_t words = list ? 1 : filter_words();
	bpf_program__set_autoload(list ? skel->progs.hq_taskstat_all : skel->progs.hq_taskstat_list, false);
	int err = bpf_map__set_max_entries(skel->maps.tids, (__u32)words);
	if (!err)
		err = taskstat_bpf__load(skel);
	if (err) {
		*why = bpfsrc_reason(list ? "failed to load the task iterator over a tid list (Linux 6.2)"
					  : "failed to load the task iterator (bpf_iter task needs Linux 5.8)",
				     err);
		taskstat_bpf__destroy(skel);
		return NULL;
	}
	struct taskstat *ts = xcalloc(1, sizeof(*ts));
	ts->skel = skel;
	ts->list = list;
	ts->list_fd = -1;
	if (list) {
		err = list_resize(ts, LIST_MIN);
		if (err)
			*why = bpfsrc_reason("failed to attach the task iterator to its tid list", err);
	} else {
		size_t len = words * sizeof(uint64_t);
		void *bits = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(skel->maps.tids), 0);
		if (bits == MAP_FAILED) {
			err = -errno;
			*why = bpfsrc_reason("failed to map the task iterator's filter", err);
		} else {
			ts->bits = bits;
			ts->words = words;
			ts->map_len = len;
			ts->link = bpf_program__attach_iter(skel->progs.hq_taskstat_all, NULL);
			if (!ts->link) {
				err = -errno;
				*why = bpfsrc_reason("failed to create the task iterator link", err);
			}
		}
	}
	if (err) {
		taskstat_close(ts);
		return NULL;
	}
	ts->bufcap = 64 * 1024;
	ts->buf = xmalloc(ts->bufcap);
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
	/* HIDDENQ_TASKSTAT_PROG=all: the program for kernels before 6.2 (tests, bench) */
	const char *prog = getenv("HIDDENQ_TASKSTAT_PROG");
	bool want_all = prog && !strcmp(prog, "all");
	if (!want_all && has_task_from_pid()) {
		struct taskstat *ts = open_variant(true, why);
		if (ts)
			return ts;
		free(*why); /* try the other one; its reason is the one to give */
		*why = NULL;
	}
	return open_variant(false, why);
}

bool taskstat_visits_all(const struct taskstat *ts)
{
	return !ts->list;
}

uint32_t taskstat_tid_limit(const struct taskstat *ts)
{
	if (ts->list)
		return UINT32_MAX;
	return ts->words * 64 > UINT32_MAX ? UINT32_MAX : (uint32_t)(ts->words * 64);
}

int taskstat_set(struct taskstat *ts, const uint32_t *tid, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (tid[i] == 0 || tid[i] >= taskstat_tid_limit(ts))
			return -ERANGE;
	if (ts->list) {
		if (n > LIST_MAX)
			return -ERANGE;
		if (n > ts->nslots) {
			size_t want = ts->nslots;
			while (want < n)
				want *= 2;
			int err = list_resize(ts, want);
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

int taskstat_read(struct taskstat *ts, const char **buf, size_t *len)
{
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
	if (ts->list_fd >= 0)
		close(ts->list_fd);
	taskstat_bpf__destroy(ts->skel);
	free(ts->tid);
	free(ts->buf);
	free(ts);
}
#else
#include "../../core/util.h"

struct taskstat *taskstat_open(char **why)
{
	*why = xstrdup("hiddenq was built without eBPF (make BPF=0)");
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
