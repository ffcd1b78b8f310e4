// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Timer lateness, the kernel half: how late the kernel's own high-resolution
 * timers run, as a stall detector that wakes nothing of its own.
 *
 * A hard hrtimer runs from the timer interrupt.  When its function runs
 * later than its expiry, the CPU could not take that interrupt for that long:
 * the vCPU was not running (the host preempted it, or did not wake it from
 * halt in time), or the guest kernel had interrupts off.  Nothing the guest's
 * scheduler does delays it, so a wait in the guest's run queue (a SCHED_FIFO
 * hog) or a stopped process is not seen here, by design.
 *
 * Which timers count, and why:
 *  - hard timers only: soft ones (HRTIMER_MODE_SOFT) run from the timer
 *    softirq, which can be deferred to ksoftirqd, a task in the guest's run
 *    queue;
 *  - CLOCK_MONOTONIC and CLOCK_BOOTTIME bases only: a timer on a settable
 *    clock (REALTIME, TAI) runs "late" by however far the clock was set
 *    forward;
 *  - every such timer, not only the tick: a busy CPU has its tick every
 *    1/HZ, but an idle NOHZ CPU has no tick at all and only the timers that
 *    sleepers armed (their lateness there is the host waking a halted vCPU
 *    late); an idle CPU with nothing due is not watched, and needs no
 *    watching;
 *  - a timer armed when already due (clock_nanosleep(TIMER_ABSTIME) on a
 *    time that passed, a periodic loop that fell behind) fires at once from
 *    an interrupt "late" by however far in the past it was set.  hrtimer_start
 *    remembers those (rare, an LRU hash by address), and their lateness is
 *    counted from the arming, for the late ones;
 *  - in low-resolution mode (highres=off) every hrtimer runs on the tick,
 *    up to 1/HZ late by design: counted in the histogram, never reported.
 *
 * Per CPU (a per-CPU array): a log2 histogram of lateness, the count, the
 * worst, the longest time between two counted timers (the blind spots);
 * and each timer at least targ_threshold_ns late goes through a ring
 * buffer, with the time it ran, its CPU, and whether the CPU was idle.
 * User space drains both every sample.
 */
#include <vmlinux.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "core_fixes.bpf.h"
#include "timerlate.h"

#define HQ_CLOCK_MONOTONIC 1
#define HQ_CLOCK_BOOTTIME 7

/* configuration, set by user space between open and load */
const volatile __u64 targ_threshold_ns = 2000000;	/* report timers at least this late */
const volatile bool targ_floor = false;			/* bench only: attach and do nothing */

/*
 * hrtimer_cpu_base with only the field read here: clang 14 cannot relocate
 * a bitfield of the cacheline-aligned original ("requiring too big
 * alignment"); CO-RE matches the flavour by name and field.
 */
struct hrtimer_cpu_base___hq {
	unsigned int hres_active : 1;
} __attribute__((preserve_access_index));

struct armed {
	__u64 expires;	/* the expiry it was armed with */
	__u64 armed_ns;	/* when, on the timer's own clock */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HQ_TL_PAST_MAX);
	__type(key, __u64);	/* the timer's address */
	__type(value, struct armed);
} past SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tl_cpu);
} cpus SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, HQ_TL_RINGBUF);
} events SEC(".maps");

/* The timer's clock if it is counted (now on that clock in *now), else -1. */
static __always_inline int counted_clock(struct hrtimer *t, __u64 *now)
{
	int id;

	if (t->is_soft)
		return -1;
	id = t->base->clockid;
	if (id == HQ_CLOCK_MONOTONIC)
		*now = bpf_ktime_get_ns();
	else if (id == HQ_CLOCK_BOOTTIME)
		*now = bpf_ktime_get_boot_ns();
	else
		return -1;
	return id;
}

SEC("tp_btf/hrtimer_start")
int BPF_PROG(hq_hrtimer_start, struct hrtimer *t)
{
	struct armed a = {};
	__u64 now, key;

	if (targ_floor || counted_clock(t, &now) < 0)
		return 0;
	a.expires = t->node.expires;
	if ((__s64)(a.expires - now) > 0)
		return 0;	/* the common case: armed in the future */
	a.armed_ns = now;
	key = (__u64)t;
	bpf_map_update_elem(&past, &key, &a, BPF_ANY);
	return 0;
}

SEC("tp_btf/hrtimer_expire_entry")
int BPF_PROG(hq_hrtimer_expire_entry, struct hrtimer *t)
{
	struct hrtimer_cpu_base___hq *cb;
	struct tl_event *e;
	struct tl_cpu *c;
	struct armed *a;
	__u64 now, mono, exp, late = 0, key;
	__u32 zero = 0, flags = 0;
	int id;

	if (targ_floor)
		return 0;
	id = counted_clock(t, &now);
	if (id < 0)
		return 0;
	c = bpf_map_lookup_elem(&cpus, &zero);
	if (!c)
		return 0;
	exp = t->node.expires;
	if ((__s64)(now - exp) > 0)
		late = now - exp;
	if (late >= targ_threshold_ns) {
		key = (__u64)t;
		a = bpf_map_lookup_elem(&past, &key);
		if (a && a->expires == exp) {
			flags |= TL_PAST;
			late = (__s64)(now - a->armed_ns) > 0 ? now - a->armed_ns : 0;
			bpf_map_delete_elem(&past, &key);
			c->past++;
		}
	}
	mono = now;
	if (id == HQ_CLOCK_BOOTTIME) {
		mono = bpf_ktime_get_ns();
		flags |= TL_BOOT;
	}
	if (c->last_ns && mono > c->last_ns && mono - c->last_ns > c->max_gap_ns)
		c->max_gap_ns = mono - c->last_ns;
	c->last_ns = mono;
	c->count++;
	c->slots[hq_slot_idx(late, HQ_TL_SLOTS)]++;
	if (late > c->max_ns)
		c->max_ns = late;
	if (late < targ_threshold_ns)
		return 0;
	cb = (void *)t->base->cpu_base;
	if (!BPF_CORE_READ_BITFIELD(cb, hres_active)) {
		c->lowres++;
		return 0;
	}
	if ((bpf_get_current_pid_tgid() >> 32) == 0)	/* the idle task was interrupted */
		flags |= TL_IDLE;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		c->dropped++;
		return 0;
	}
	e->t_ns = mono;
	e->late_ns = late;
	e->cpu = bpf_get_smp_processor_id();
	e->flags = flags;
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
