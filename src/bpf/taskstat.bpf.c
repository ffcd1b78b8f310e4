// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Per-thread schedstat of many threads in one read, the kernel half: for each
 * thread user space asks for, one struct taskstat_rec (taskstat.h) with its
 * tgid and tid and the three numbers /proc/TGID/task/TID/schedstat prints
 * (fs/proc/base.c, proc_pid_schedstat(), unchanged from 4.x to 6.18:
 * seq_printf(m, "%llu %llu %lu\n", se.sum_exec_runtime,
 * sched_info.run_delay, sched_info.pcount)).  User space formats them the
 * same way and stores the text under the /proc path, so a sample is the
 * same whichever way it was read.
 *
 * Why: host mode reads every vCPU thread's schedstat each tick, and one
 * pread of a /proc file costs 1.2-1.8 us of seq_file machinery in the
 * kernel (bench/README.md): 7 ms for 4,000 vCPUs.  One program run (or one
 * iterator pass) writes them all at once.
 *
 * Three programs; user space loads the first that this kernel accepts
 * (sources/bpf/taskstat.c, docs/bpf-sources.md):
 *  - hq_taskstat_run (a BPF_PROG_TYPE_SYSCALL program calling the
 *    bpf_task_from_pid kfunc: Linux 6.10, a8e03b6bbb2c) is run once per
 *    read with BPF_PROG_RUN: it walks an array of the vCPU tids (one __u64
 *    per tid, 0 for an unused slot) with bpf_loop, looks each task up and
 *    packs the records of those it found into an output array, both arrays
 *    mmap'ed by user space.  The cost follows the vCPU count.
 *  - hq_taskstat_list (Linux 6.2: the bpf_task_from_pid kfunc) iterates the
 *    same kind of tid array (a map user space makes and attaches the
 *    iterator to) and looks each task up: the same cost, through
 *    iter/bpf_map_elem, which some kernels refuse (6.18.44-fc refuses every
 *    map-element iterator with EPERM) and 6.2 to 6.9 need, since their
 *    syscall programs cannot call kfuncs.
 *  - hq_taskstat_all (Linux 5.8: bpf_iter task) visits every task on the
 *    machine and writes those whose bit is set in the `tids` bitmap: the
 *    cost follows the machine's task count (about 0.5 us a task, against
 *    1.8 us a pread), so user space compares it with the preads.
 * A record carries the thread's tgid so that user space can drop a thread
 * id that was reused in another process.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "taskstat.h"

/* hq_taskstat_all's filter: bit tid % 64 of word tid / 64 (user space writes it through mmap) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, HQ_TASKSTAT_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} tids SEC(".maps");

/*
 * hq_taskstat_run's input: the tids, one __u64 each (0: an unused slot),
 * and its output: the records of the threads found, packed from index 0.
 * User space sizes both between open and load and writes/reads them
 * through mmap.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} run_tids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct taskstat_rec);
} run_recs SEC(".maps");

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;

static __always_inline void fill(struct taskstat_rec *r, struct task_struct *task)
{
	r->tgid = task->tgid;
	r->tid = task->pid;
	r->sum_exec_runtime = task->se.sum_exec_runtime;
	/*
	 * Without CONFIG_SCHED_INFO task_struct has no sched_info (and /proc
	 * no schedstat file); when sched_info was off at run time, /proc
	 * printed "0 0 0" (before 5.14, sched_info_on()).  Write that: the
	 * CO-RE check is resolved at load time, so this kernel's BTF decides.
	 */
	if (bpf_core_field_exists(task->sched_info)) {
		r->run_delay = task->sched_info.run_delay;
		r->pcount = task->sched_info.pcount;
	} else {
		r->sum_exec_runtime = 0;
		r->run_delay = 0;
		r->pcount = 0;
	}
}

static __always_inline void put(struct seq_file *seq, struct task_struct *task)
{
	struct taskstat_rec r;

	fill(&r, task);
	bpf_seq_write(seq, &r, sizeof(r));
}

/* One slot of run_tids (bpf_loop's callback); 1 stops the loop. */
static long run_one(__u32 i, void *data)
{
	__u32 *out = data;
	struct taskstat_rec *r;
	struct task_struct *task;
	__u64 *tid;

	tid = bpf_map_lookup_elem(&run_tids, &i);
	if (!tid)
		return 1;	/* past the array */
	if (!*tid)
		return 0;
	task = bpf_task_from_pid((s32)*tid);
	if (!task)
		return 0;	/* exited: no record, as ESRCH from a pread */
	r = bpf_map_lookup_elem(&run_recs, out);
	if (r) {
		fill(r, task);
		(*out)++;
	}
	bpf_task_release(task);
	return 0;
}

/* Returns the number of records written to run_recs. */
SEC("syscall")
int hq_taskstat_run(struct taskstat_args *args)
{
	__u32 out = 0;

	bpf_loop(args->n, run_one, &out, 0);
	return out;
}

SEC("iter/bpf_map_elem")
int hq_taskstat_list(struct bpf_iter__bpf_map_elem *ctx)
{
	__u64 *tid = ctx->value;
	struct task_struct *task;

	if (!tid || !*tid)
		return 0;
	task = bpf_task_from_pid((s32)*tid);
	if (!task)
		return 0;
	put(ctx->meta->seq, task);
	bpf_task_release(task);
	return 0;
}

SEC("iter/task")
int hq_taskstat_all(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	__u32 tid, key;
	__u64 *word;

	if (!task)
		return 0;
	tid = task->pid;
	key = tid / 64;
	word = bpf_map_lookup_elem(&tids, &key);
	if (!word || !((*word >> (tid % 64)) & 1))
		return 0;
	put(ctx->meta->seq, task);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
