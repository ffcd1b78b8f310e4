/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The simulator's state, shared by its files (not part of the API):
 *
 *   heap.c     the timer heap: every pending event is one slot with one time
 *   hist.c     latency histograms (log-linear, 128 buckets an octave)
 *   station.c  plain queueing stations (FCFS with c servers, processor sharing)
 *   sched.c    physical CPUs, vCPUs, the host scheduler, the work a vCPU runs
 *   work.c     what feeds the vCPUs and the devices: requests, CPU bursts,
 *              virtqueues, block IO, host memory and balloons, compaction,
 *              migration
 *   view.c     the files a guest (or the host) would show, for bundles
 *   sim.c      the run loop and the results
 *
 * Time is a double in seconds.  Every random draw comes from the stream of
 * the thing it belongs to (a station, a VM, the device), so the run is a
 * function of the scenario only.
 */
#ifndef HQ_SIM_INTERNAL_H
#define HQ_SIM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"

/* ---- timer heap ---- */

/* an entry: the time's bits (a double >= 0 orders like its bits) above the
 * slot, one 128-bit key, so that (time, slot) compares without branches */
typedef unsigned __int128 hkey;
static inline hkey hkey_make(double t, uint32_t slot)
{
	uint64_t b;
	memcpy(&b, &t, sizeof(b));
	return ((hkey)b << 64) | slot;
}
static inline double hkey_time(hkey k)
{
	uint64_t b = (uint64_t)(k >> 64);
	double t;
	memcpy(&t, &b, sizeof(t));
	return t;
}
static inline uint32_t hkey_slot(hkey k)
{
	return (uint32_t)k;
}
struct hent {
	double t;
	uint32_t slot;
};

/*
 * The pending events: a small 4-ary heap of the near ones and a timing
 * wheel of buckets for the rest (a ladder queue).  Bucket k holds the
 * events with floor(t / width) = k; the heap holds every event of a bucket
 * before `cur`, so its top is always the earliest event.  The order is
 * (time, slot), whichever part an event sits in: the same as one heap.
 * The bucket width adapts to the event density (see base.c).
 */
struct theap {
	hkey *h;		/* the heap, from h[3] (see base.c); th_top for the first */
	uint32_t n, cap;
	uint8_t *where;		/* per slot: 0 not pending, 1 heap, 2 wheel */
	uint32_t *idx;		/* heap index */
	/* in the wheel: a doubly linked list per bucket, through slot-indexed arrays */
	hkey *wkey;
	uint32_t *wnext, *wprev, *bk;	/* bk: its bucket (nb: the overflow) */
	uint32_t nslots;
	uint32_t firing;	/* the slot being handled (UINT32_MAX: none) */
	bool kept;		/* it was set again while handled */
	/* the wheel */
	double inv_w;		/* 1 / bucket width */
	uint64_t cur;		/* the first bucket not yet in the heap */
	uint32_t *head;		/* nb buckets, then the overflow (far beyond the wheel) */
	uint32_t nb;
	uint64_t in_wheel, in_over;
	uint64_t adv, moved;	/* for adapting the width */
};

void th_init(struct theap *th, uint32_t nslots);
void th_reserve(struct theap *th, uint32_t nslots);
void th_done(struct theap *th);
void th_set(struct theap *th, uint32_t slot, double t);
void th_cancel(struct theap *th, uint32_t slot);
/* make the heap's top the earliest event: false when nothing is pending */
bool th_fill(struct theap *th);
static inline bool th_pending(const struct theap *th, uint32_t slot)
{
	return th->where[slot] != 0;
}
static inline bool th_empty(struct theap *th)
{
	return th->n == 0 && !th_fill(th);
}
static inline struct hent th_top(const struct theap *th)
{
	struct hent e = { hkey_time(th->h[3]), hkey_slot(th->h[3]) };
	return e;
}

/* ---- histograms ---- */

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_EXP 47
#define HIST_N ((HIST_MAX_EXP - HIST_SUB_BITS + 2) * HIST_SUB)

struct shist {
	uint32_t *c;		/* HIST_N counts, allocated on first use */
	uint64_t n;
	double sum, max;
};

void shist_add(struct shist *h, double seconds);
void shist_reset(struct shist *h);
void shist_free(struct shist *h);
double shist_quantile(const struct shist *h, double q);
void shist_latency(const struct shist *h, struct sim_latency *out);

/* log2 microsecond histograms as the eBPF sources keep them */
#define LOG2_SLOTS 32
static inline unsigned log2_slot(double seconds)
{
	double us = seconds * 1e6;
	if (us < 2)
		return 0;
	unsigned s = 63 - (unsigned)__builtin_clzll((uint64_t)us);
	return s < LOG2_SLOTS ? s : LOG2_SLOTS - 1;
}

/* ---- bounded FIFO of fixed-size records ---- */

struct fifo {
	char *buf;
	uint32_t head, n, cap, max;
	uint32_t esz;
};

void fifo_init(struct fifo *f, uint32_t esz, uint32_t max);
void fifo_done(struct fifo *f);
/* false when full (max records) */
bool fifo_push(struct fifo *f, const void *rec);
static inline void *fifo_front(struct fifo *f)
{
	return f->buf + (size_t)f->head * f->esz;
}
static inline void fifo_pop(struct fifo *f)
{
	f->head = f->head + 1 == f->cap ? 0 : f->head + 1;
	f->n--;
}

/* ---- slots ---- */

enum slot_kind {
	SK_END,
	SK_STA_ARRIVE,	/* obj: station */
	SK_STA_SERVER,	/* obj: station server (global index) */
	SK_STA_PS,	/* obj: station */
	SK_PCPU,	/* obj: pCPU */
	SK_BALANCE,
	SK_VM_ARRIVE,	/* obj: VM */
	SK_VCPU_GAP,	/* obj: vCPU */
	SK_TX_ARRIVE,	/* obj: VM */
	SK_TX_SERVE,	/* obj: queue (global index) */
	SK_RX_ARRIVE,	/* obj: VM */
	SK_IO_ARRIVE,	/* obj: VM */
	SK_IO_DEV,	/* obj: device server */
	SK_COMPACT,	/* obj: VM */
	SK_MEMTICK,
	SK_MIG,		/* obj: migration */
	SK_SAMPLE,
	SK_WARMUP,
	SK_NKINDS
};

/* ---- stations ---- */

struct sta_cust {
	double arrival, service, start;
	uint64_t idx;
};

struct ps_job {
	double tag, arrival, service;
	uint64_t idx;
};

struct station {
	const struct sim_station *conf;
	struct rng rng;
	uint64_t arrivals, limit;	/* arrivals so far; stop after limit (0: by time) */
	uint32_t slot_arrive, slot_ps, server0;	/* first server slot */
	unsigned busy;			/* servers busy (FCFS) */
	struct fifo q;			/* FCFS waiting customers */
	struct sta_cust *serving;	/* per server */
	/* PS */
	struct ps_job *jobs;
	uint32_t njobs, capjobs;
	double vtime, vlast;
	/* statistics over the measured span */
	uint64_t served, dropped, waited, measured_arrivals;
	double area, area_busy, last_change, t_first, t_last;
	bool measuring, unstable;
	struct shist wait, resp;
};

/* ---- host ---- */

enum vstate { VS_IDLE, VS_WAIT, VS_RUN };
enum vkind { VK_NONE, VK_SIRQ, VK_SYS, VK_USER };

struct vcpu {
	uint32_t vm;
	uint16_t idx;
	uint8_t state, kind;
	int32_t cpu;		/* running on, or queued on; -1 */
	int32_t last_cpu;
	const uint64_t *allowed;	/* nw words */
	double vruntime;
	double since;		/* last state change (steal, idle) */
	double seg_start, item_end, slowdown;
	double sirq_left;	/* time left of the softirq batch in hand */
	/* work */
	double sys_left, sys_begin;
	double user_left;
	bool has_user;
	double req_arrival;	/* the request in hand (<0: a CPU burst) */
	uint32_t sirq_q;	/* queue of the batch in hand */
	uint32_t sirq_batch;
	uint32_t napi_run;	/* packets in this softirq run (for time_squeeze) */
	double ksoftirqd_until;	/* after a squeeze, user work goes first until then */
	uint32_t slot_gap;
	/* accounting (s) */
	double t_user, t_sys, t_sirq, t_steal, t_idle;
	double t_remote;	/* user time weighted by the remote share of its accesses */
	double hint_faults, hint_local;
	uint64_t irqs, softirqs_rx, squeeze, rx_processed, runs;
	/* at warm-up */
	double w_user, w_sys, w_sirq, w_steal, w_idle;
};

struct pcpu {
	int32_t cur;
	uint16_t node;
	uint32_t *rq;
	uint32_t nrq, caprq;
	double min_vr;
	double slice_end;
	uint32_t slot;
	double t_busy, busy_since;
	double rq_area, rq_since;
	double t_some;		/* time with a vCPU waiting here (host PSI) */
	double w_busy, w_rq;
};

struct txq {
	uint32_t vm, q, slot;
	uint32_t ring, qdisc;	/* packets in each */
	bool busy;
	uint64_t sent, qdisc_drops, ring_drops, offered, enq_qdisc;
};

struct rxq {
	uint32_t ring;
	uint32_t vcpu;		/* the vCPU that takes its interrupt (index in the VM) */
	uint64_t offered, delivered, host_drops, irqs;
};

struct io_rec {
	double arrival, issue, start;
	uint32_t vm;
	uint8_t write;
};

struct vm {
	struct sim_vmconf *conf;	/* the section it came from */
	char name[SIM_INST_MAX];
	struct rng rng;
	uint32_t vcpu0;		/* first vCPU index */
	unsigned nv;
	uint64_t *allowed;	/* nv masks of nw words */
	double mem_frac[SIM_MAX_NODES];
	double speed_factor;	/* host faults, throttle: work stretches by this */
	double mem_factor, post_factor;	/* its parts: host memory, post-copy faults */
	double throttle;	/* auto-converge, 0..1 */
	bool paused;
	/* requests */
	uint32_t slot_arrive;
	struct fifo gq;		/* waiting requests {arrival, service} */
	double gq_since;	/* PSI cpu: queue non-empty since */
	double psi_cpu, psi_mem, psi_io, psi_io_full;
	uint64_t arrived, served, rejected;
	double work_done;
	struct shist lat;
	/* network */
	struct txq *tx;		/* queues */
	struct rxq *rx;
	uint32_t slot_tx, slot_rx;
	/* IO */
	uint32_t slot_io;
	struct fifo ioq;	/* waiting in the guest {struct io_rec} */
	unsigned inflight;	/* issued below the guest */
	unsigned outstanding;	/* arrived and not done */
	double io_busy_since, io_ticks, io_area, io_last;
	uint64_t io_done[2], io_sectors[2], io_rejected;
	double io_ms[2];
	struct shist io_total, io_guest, io_host, io_dev;
	uint64_t bio_q[2][LOG2_SLOTS], bio_b[2][LOG2_SLOTS];
	/* compaction */
	uint32_t slot_compact;
	uint64_t compactions;
	double compact_time, compact_max;
	uint64_t compact_hist[LOG2_SLOTS];
	uint32_t compact_next;	/* round robin over vCPUs */
	/* memory (bytes) */
	double ws, balloon, host_swapped, gpress;
	double balloon_max, host_swapped_max;
	double host_faults, guest_faults;
	double guest_fault_frac;	/* share of its running time in guest swap-in */
	double balloon_in, balloon_out;	/* bytes moved, cumulative */
	double guest_swapout;
	double pressure_time;
	/* at warm-up */
	double w_work, w_host_faults, w_guest_faults, w_pressure, w_compact_time;
	uint64_t w_compactions;
	uint64_t w_tx[4], w_rx[4];
};

struct mig {
	const struct sim_migration *conf;
	int vm;			/* -1: none */
	bool running, done, converged, postcopy, paused;
	double round_start, pending, sent_total, throttle;
	unsigned high_cnt, rounds;
	double downtime, total, postcopy_time, t_start;
	unsigned steps;
	double throttle_max;
	struct sim_round *r;
	unsigned nr, capr;
	uint32_t slot;
	int phase;		/* 0 pre-copy, 1 stop-and-copy, 2 post-copy */
};

struct simctx {
	const struct sim_scenario *sc;
	const struct sim_opts *opts;
	struct theap th;
	uint8_t *skind;
	uint32_t *sobj;
	uint32_t nslots;
	double now, end, warm;
	bool warmed;
	uint64_t events;
	bool stop;
	/* stations */
	struct station *st;
	unsigned nst;
	unsigned st_done;	/* stations that reached their limit and drained */
	/* host */
	bool host;
	unsigned ncpu, nnodes, nw;
	struct pcpu *cpu;
	uint64_t *idle_mask;	/* idle physical CPUs */
	uint64_t *node_mask;	/* nnodes * nw */
	struct vcpu *vc;
	uint32_t nvc;
	struct vm *vm;
	uint32_t nvm;
	struct txq **txq;	/* by global index */
	uint32_t ntxq;
	double slice, gran;
	double remote_ratio;
	struct rng sched_rng;
	uint64_t *rq_mask;	/* physical CPUs with vCPUs waiting */
	uint32_t slot_balance;
	/* device */
	struct rng io_rng;
	struct fifo hostq;	/* issued, waiting for a device slot */
	struct io_rec *dev;	/* per device slot */
	bool *dev_busy;
	uint32_t dev_slot0;
	unsigned ndev, dev_free;
	uint32_t *dev_stack;	/* free device slots */
	/* memory */
	bool mem_model;
	double pressure_since;
	double host_pswpin, host_pswpout, host_swapped, host_swapped_max;
	/* migrations */
	struct mig *mig;
	unsigned nmig;
	/* bundle */
	int bundle_vm;		/* -1: none */
	bool host_view;
	unsigned nsamples;
	double sample_next;
	struct sample statics;
	bool statics_done;
	void *view;		/* view.c's state */
	int sample_err;
};

/* slots */
uint32_t slot_new(struct simctx *c, enum slot_kind k, uint32_t obj);

/* station.c */
void stations_init(struct simctx *c);
void stations_event(struct simctx *c, enum slot_kind k, uint32_t obj, uint32_t slot);
void stations_finish(struct simctx *c, struct sim_result *r);
void stations_free(struct simctx *c);

/* sched.c */
void sched_init(struct simctx *c);
void sched_free(struct simctx *c);
void pcpu_event(struct simctx *c, uint32_t p);
void balance_event(struct simctx *c);
/* new work for a vCPU: wake it if it sleeps, interrupt it if it runs user work and `urgent` */
void vcpu_kick(struct simctx *c, struct vcpu *v, bool urgent);
/* bring a vCPU's time counters up to now without changing what it does */
void vcpu_flush(struct simctx *c, struct vcpu *v);
void pcpu_flush(struct simctx *c, struct pcpu *p);
/* what a vCPU does when it gets a CPU: the next item, or none */
bool vcpu_has_work(const struct simctx *c, const struct vcpu *v);

/* work.c */
void work_init(struct simctx *c);
void work_free(struct simctx *c);
void work_event(struct simctx *c, enum slot_kind k, uint32_t obj);
/* a vCPU finished an item of user work (a request or a burst) */
void work_user_done(struct simctx *c, struct vcpu *v);
/* a vCPU is free for user work: give it the next request, if any */
bool work_take_request(struct simctx *c, struct vcpu *v);
/* a softirq batch of queue q's packets is done on v */
void work_rx_done(struct simctx *c, struct vcpu *v);
/* the RX queue with packets this vCPU takes the interrupt of, or -1 */
int work_rx_pending(const struct simctx *c, const struct vcpu *v);
void work_sys_done(struct simctx *c, struct vcpu *v);
void work_warmup(struct simctx *c);
void memory_tick(struct simctx *c);
void mig_event(struct simctx *c, uint32_t i);

/* view.c */
int view_init(struct simctx *c);
int view_sample(struct simctx *c);
void view_free(struct simctx *c);

#endif
