/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "cpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

static const char *const psi_paths[PSI_N] = {
	"proc/pressure/cpu", "proc/pressure/memory", "proc/pressure/io",
};

void cpu_init(struct cpu_analysis *a, const struct sample *statics)
{
	memset(a, 0, sizeof(*a));
	a->window_ns = 1000000000ull;
	a->statics = statics;
	a->min_nfields = CT_NFIELDS;
	const struct sfile *f = sample_find(statics, IDENTITY_PATH);
	if (f)
		identity_parse(f->data, f->len, &a->id);
	a->self_pid = a->id.pid;
}

/* ---------------- slots and windows ---------------- */

static size_t slot_for(struct cpu_analysis *a, int cpu)
{
	for (size_t i = 0; i < a->nslots; i++)
		if (a->slots[i].cpu == cpu)
			return i;
	xgrow((void **)&a->slots, sizeof(*a->slots), &a->capslots, a->nslots);
	struct cpu_slot *s = &a->slots[a->nslots];
	memset(s, 0, sizeof(*s));
	s->cpu = cpu;
	return a->nslots++;
}

static void win_ensure_slots(struct cpu_window *w, size_t nslots)
{
	if (w->nslots >= nslots)
		return;
	w->cpu = xrealloc(w->cpu, nslots * sizeof(*w->cpu));
	memset(w->cpu + w->nslots, 0, (nslots - w->nslots) * sizeof(*w->cpu));
	w->nslots = nslots;
}

static void win_merge(struct cpu_window *into, const struct cpu_window *from)
{
	win_ensure_slots(into, from->nslots);
	for (size_t i = 0; i < from->nslots; i++) {
		into->cpu[i].steal += from->cpu[i].steal;
		into->cpu[i].total += from->cpu[i].total;
		into->cpu[i].busy += from->cpu[i].busy;
		into->cpu[i].present |= from->cpu[i].present;
	}
	for (int r = 0; r < PSI_N; r++) {
		into->psi_some_us[r] += from->psi_some_us[r];
		into->psi_full_us[r] += from->psi_full_us[r];
		into->psi_ok[r] = into->psi_ok[r] && from->psi_ok[r];
	}
	if (from->running_max > into->running_max)
		into->running_max = from->running_max;
	into->end_ns = from->end_ns;
}

static void win_push(struct cpu_analysis *a)
{
	xgrow((void **)&a->wins, sizeof(*a->wins), &a->capwins, a->nwins);
	a->wins[a->nwins++] = a->cur;
	memset(&a->cur, 0, sizeof(a->cur));
	a->cur_open = false;
}

static void win_open(struct cpu_analysis *a, uint64_t start)
{
	memset(&a->cur, 0, sizeof(a->cur));
	a->cur.start_ns = start;
	a->cur.end_ns = start;
	for (int r = 0; r < PSI_N; r++)
		a->cur.psi_ok[r] = true;
	a->cur_open = true;
}

/* ---------------- per-family feeds ---------------- */

static void feed_procstat(struct cpu_analysis *a, const struct sample *s, bool interval)
{
	const struct sfile *f = sample_find(s, "proc/stat");
	if (!f)
		return;
	struct procstat ps;
	/* The kernel always ends /proc/stat with a newline: without one the
	 * copy was cut short, and its last line may have lost columns. */
	if (f->len == 0 || f->data[f->len - 1] != '\n' || procstat_parse(f->data, f->len, &ps) < 0) {
		a->procstat_bad++;
		return;
	}
	/* A kernel's column count is fixed: a sample with fewer columns than
	 * one seen before is damaged; with more, the earlier ones were. */
	unsigned lo = ps.has_all ? ps.all.nfields : CT_NFIELDS, hi = ps.has_all ? ps.all.nfields : 0;
	for (size_t i = 0; i < ps.ncpus; i++) {
		if (ps.cpus[i].nfields < lo)
			lo = ps.cpus[i].nfields;
		if (ps.cpus[i].nfields > hi)
			hi = ps.cpus[i].nfields;
	}
	if (lo < a->ref_nfields || lo < hi) {
		a->procstat_bad++;
		procstat_done(&ps);
		return;
	}
	if (a->ref_nfields && lo > a->ref_nfields) {
		a->procstat_bad++; /* count the damaged ones once more, loosely */
		a->min_nfields = lo;
		for (size_t i = 0; i < a->nslots; i++)
			a->slots[i].have_prev = false;
	}
	a->ref_nfields = lo;
	a->have_procstat = true;
	if (ps.has_all) {
		if (ps.all.nfields < a->min_nfields)
			a->min_nfields = ps.all.nfields;
		if (!a->have_steal_boot)
			a->steal_boot_first = ps.all.v[CT_STEAL];
		a->steal_boot_last = ps.all.v[CT_STEAL];
		a->have_steal_boot = true;
	}
	if (ps.has_running) {
		a->running_last = ps.procs_running;
		a->running_sum += ps.procs_running;
		a->running_n++;
		if (ps.procs_running > a->running_max)
			a->running_max = ps.procs_running;
		if (a->cur_open && ps.procs_running > a->cur.running_max)
			a->cur.running_max = ps.procs_running;
	}
	unsigned online = (unsigned)ps.ncpus;
	if (a->nsamples == 0)
		a->cpus_online_first = online;
	else if (online != a->cpus_online_last)
		a->cpus_changed = true;
	a->cpus_online_last = online;
	if (online > a->cpus_max)
		a->cpus_max = online;

	/* mark all slots absent; present ones are refreshed below */
	bool *seen = xcalloc(a->nslots + ps.ncpus + 1, sizeof(bool));
	for (size_t i = 0; i < ps.ncpus; i++) {
		const struct cpu_times *t = &ps.cpus[i];
		if (t->nfields < a->min_nfields)
			a->min_nfields = t->nfields;
		size_t si = slot_for(a, t->cpu);
		seen[si] = true;
		struct cpu_slot *sl = &a->slots[si];
		if (sl->have_prev && interval && s->mono_ns > sl->prev_ns) {
			uint64_t d[CT_NFIELDS];
			bool reset = false;
			/* Ticks can only grow at wall-clock pace per CPU (USER_HZ is 100
			 * almost everywhere, 1024 at most): a larger step, or sums that
			 * overflow, are a counter reset or garbage, not time. */
			double dt_s = (double)(s->mono_ns - sl->prev_ns) / 1e9;
			double most = dt_s * 1024.0 * 4.0 + 100.0;
			uint64_t tot = 0, dec = 0, busy;
			for (int k = 0; k < CT_NFIELDS; k++) {
				bool up = t->v[k] >= sl->prev.v[k];
				uint64_t step = up ? t->v[k] - sl->prev.v[k] : sl->prev.v[k] - t->v[k];
				d[k] = up ? step : 0;
				if ((double)step > most)
					reset = true;
				else if (k <= CT_STEAL)
					*(up ? &tot : &dec) += step;
			}
			/* the sum going backwards (beyond an iowait wobble) is a reset too */
			if (tot < dec)
				reset = true;
			if (reset) {
				sl->resets++;
			} else {
				busy = d[CT_USER] + d[CT_NICE] + d[CT_SYSTEM] + d[CT_IRQ] + d[CT_SOFTIRQ];
				for (int k = 0; k < CT_NFIELDS; k++)
					sl->sum[k] += d[k];
				sl->total += tot;
				sl->busy += busy;
				sl->intervals++;
				if (a->cur_open) {
					win_ensure_slots(&a->cur, a->nslots);
					struct win_cpu *wc = &a->cur.cpu[si];
					wc->steal += d[CT_STEAL];
					wc->total += tot;
					wc->busy += busy;
					wc->present = true;
				}
			}
		} else if (!sl->have_prev && a->nsamples > 0) {
			sl->resets += sl->intervals > 0; /* came back online */
		}
		sl->prev = *t;
		sl->prev_ns = s->mono_ns;
		sl->have_prev = true;
	}
	for (size_t i = 0; i < a->nslots; i++)
		if (!seen[i])
			a->slots[i].have_prev = false; /* offline: restart its deltas */
	free(seen);
	procstat_done(&ps);
}

static void feed_psi(struct cpu_analysis *a, const struct sample *s, uint64_t dt_ns)
{
	for (int r = 0; r < PSI_N; r++) {
		const struct sfile *f = sample_find(s, psi_paths[r]);
		struct psi p;
		if (!f || psi_parse(f->data, f->len, &p) < 0) {
			a->psi_bad += f != NULL;
			a->psi_have_prev[r] = false;
			if (a->cur_open)
				a->cur.psi_ok[r] = false;
			continue;
		}
		a->psi_seen[r] = true;
		if (p.has_full)
			a->psi_full_seen[r] = true;
		a->psi_avg10_last[r] = p.some.avg10;
		if (a->psi_have_prev[r] && dt_ns) {
			const struct psi *q = &a->psi_prev[r];
			/* totals only grow; a decrease means a reset, count nothing */
			uint64_t ds = p.some.total_us >= q->some.total_us ? p.some.total_us - q->some.total_us : 0;
			uint64_t df = p.full.total_us >= q->full.total_us ? p.full.total_us - q->full.total_us : 0;
			/* stall time cannot exceed wall time; clamp garbage */
			uint64_t cap = dt_ns / 1000 + 1000;
			if (ds > cap)
				ds = cap;
			if (df > cap)
				df = cap;
			a->psi_some_us[r] += ds;
			a->psi_full_us[r] += df;
			a->psi_time_ns[r] += dt_ns;
			if (a->cur_open) {
				a->cur.psi_some_us[r] += ds;
				a->cur.psi_full_us[r] += df;
			}
		} else if (a->cur_open && a->nsamples > 0) {
			a->cur.psi_ok[r] = false;
		}
		a->psi_prev[r] = p;
		a->psi_have_prev[r] = true;
	}
}

static void feed_loadavg(struct cpu_analysis *a, const struct sample *s)
{
	const struct sfile *f = sample_find(s, "proc/loadavg");
	struct loadavg la;
	if (f && loadavg_parse(f->data, f->len, &la) == 0) {
		a->load1_last = la.load1;
		a->have_loadavg = true;
	}
}

static void feed_proc_schedstat(struct cpu_analysis *a, const struct sample *s)
{
	const struct sfile *f = sample_find(s, "proc/schedstat");
	struct proc_schedstat ps;
	if (!f || proc_schedstat_parse(f->data, f->len, &ps) < 0)
		return;
	int maxid = -1;
	for (size_t i = 0; i < ps.ncpus; i++)
		if (ps.cpus[i].cpu > maxid)
			maxid = ps.cpus[i].cpu;
	if (!a->have_proc_schedstat) {
		a->rq_ncpu = maxid + 1;
		a->rq_delay_first = xcalloc((size_t)a->rq_ncpu, sizeof(uint64_t));
		a->rq_delay_last = xcalloc((size_t)a->rq_ncpu, sizeof(uint64_t));
		for (size_t i = 0; i < ps.ncpus; i++)
			a->rq_delay_first[ps.cpus[i].cpu] = a->rq_delay_last[ps.cpus[i].cpu] = ps.cpus[i].delay_ns;
		a->rq_first_ns = s->mono_ns;
		a->proc_schedstat_version = ps.version;
		a->have_proc_schedstat = true;
	} else {
		for (size_t i = 0; i < ps.ncpus; i++)
			if (ps.cpus[i].cpu < a->rq_ncpu)
				a->rq_delay_last[ps.cpus[i].cpu] = ps.cpus[i].delay_ns;
	}
	a->rq_last_ns = s->mono_ns;
	proc_schedstat_done(&ps);
}

/* open-addressing table keyed by tid */
static struct task_acc *task_slot(struct cpu_analysis *a, int tid)
{
	if ((a->ntasks + 1) * 2 > a->tasks_cap) {
		size_t ncap = a->tasks_cap ? a->tasks_cap * 2 : 1024;
		struct task_acc *nt = xcalloc(ncap, sizeof(*nt));
		for (size_t i = 0; i < a->tasks_cap; i++) {
			if (!a->tasks[i].used)
				continue;
			size_t h = ((unsigned)a->tasks[i].tid * 2654435761u) & (ncap - 1);
			while (nt[h].used)
				h = (h + 1) & (ncap - 1);
			nt[h] = a->tasks[i];
		}
		free(a->tasks);
		a->tasks = nt;
		a->tasks_cap = ncap;
	}
	size_t h = ((unsigned)tid * 2654435761u) & (a->tasks_cap - 1);
	while (a->tasks[h].used && a->tasks[h].tid != tid)
		h = (h + 1) & (a->tasks_cap - 1);
	return &a->tasks[h];
}

static bool parse_task_path(const char *p, int *pid, int *tid, const char **leaf)
{
	/* proc/<pid>/task/<tid>/<leaf> */
	if (strncmp(p, "proc/", 5) != 0)
		return false;
	p += 5;
	char *end;
	long v = strtol(p, &end, 10);
	if (end == p || v <= 0 || v > 0x7fffffff || strncmp(end, "/task/", 6) != 0)
		return false;
	*pid = (int)v;
	p = end + 6;
	v = strtol(p, &end, 10);
	if (end == p || v <= 0 || v > 0x7fffffff || *end != '/')
		return false;
	*tid = (int)v;
	*leaf = end + 1;
	return true;
}

static void feed_tasks(struct cpu_analysis *a, const struct sample *s)
{
	bool any = false;
	for (size_t i = 0; i < s->nfiles; i++) {
		int pid, tid;
		const char *leaf;
		if (!parse_task_path(s->files[i].path, &pid, &tid, &leaf) || strcmp(leaf, "schedstat") != 0)
			continue;
		struct task_schedstat ts;
		if (task_schedstat_parse(s->files[i].data, s->files[i].len, &ts) < 0)
			continue;
		any = true;
		struct task_acc *t = task_slot(a, tid);
		if (!t->used || t->pid != pid || ts.delay_ns < t->last_delay || ts.cpu_ns < t->last_cpu) {
			/* new task, or the tid was reused */
			if (!t->used)
				a->ntasks++;
			memset(t, 0, sizeof(*t));
			t->used = true;
			t->tid = tid;
			t->pid = pid;
			t->first_delay = ts.delay_ns;
			t->first_cpu = ts.cpu_ns;
			t->first_ns = s->mono_ns;
		}
		t->last_delay = ts.delay_ns;
		t->last_cpu = ts.cpu_ns;
		t->last_ns = s->mono_ns;
		if (!t->comm[0]) {
			char cpath[96];
			snprintf(cpath, sizeof(cpath), "proc/%d/task/%d/comm", pid, tid);
			const struct sfile *c = sample_find(s, cpath);
			if (c) {
				size_t n = c->len < sizeof(t->comm) - 1 ? c->len : sizeof(t->comm) - 1;
				memcpy(t->comm, c->data, n);
				t->comm[n] = '\0';
				for (size_t k = 0; k < n; k++)
					if (t->comm[k] == '\n' || (unsigned char)t->comm[k] < 0x20)
						t->comm[k] = k + 1 == n ? '\0' : '?';
			}
		}
	}
	if (any) {
		if (!a->task_samples)
			a->tasks_first_ns = s->mono_ns;
		a->tasks_last_ns = s->mono_ns;
		a->task_samples++;
	}
}

static struct cg_acc *cg_find(struct cpu_analysis *a, const char *dir, size_t dlen)
{
	for (size_t i = 0; i < a->ncgs; i++)
		if (strlen(a->cgs[i].path) == dlen && memcmp(a->cgs[i].path, dir, dlen) == 0)
			return &a->cgs[i];
	if (a->ncgs >= 4096)
		return NULL;
	xgrow((void **)&a->cgs, sizeof(*a->cgs), &a->capcgs, a->ncgs);
	struct cg_acc *c = &a->cgs[a->ncgs++];
	memset(c, 0, sizeof(*c));
	c->path = xstrndup(dir, dlen);
	c->quota_us = -2;
	return c;
}

static void feed_cgroups(struct cpu_analysis *a, const struct sample *s)
{
	bool any = false;
	for (size_t i = 0; i < s->nfiles; i++) {
		const struct sfile *f = &s->files[i];
		if (strncmp(f->path, "sys/fs/cgroup/", 14) != 0)
			continue;
		const char *slash = strrchr(f->path, '/');
		const char *leaf = slash + 1;
		size_t dlen = (size_t)(slash - f->path);
		if (strcmp(leaf, "cpu.stat") == 0) {
			struct cg_cpustat st;
			if (cg_cpustat_parse(f->data, f->len, &st) < 0)
				continue;
			struct cg_acc *c = cg_find(a, f->path, dlen);
			if (!c)
				continue;
			any = true;
			bool v1 = strstr(f->path, "/unified") == NULL &&
				  (strncmp(f->path, "sys/fs/cgroup/cpu/", 18) == 0 ||
				   strncmp(f->path, "sys/fs/cgroup/cpu,cpuacct/", 26) == 0 ||
				   strcmp(f->path, "sys/fs/cgroup/cpu/cpu.stat") == 0);
			c->version = v1 ? 1 : 2;
			if (v1)
				a->cg_v1_seen = true;
			else
				a->cg_v2_seen = true;
			if (!c->have_first ||
			    st.nr_periods < c->last.nr_periods || st.throttled_ns < c->last.throttled_ns) {
				c->first = st;
				c->have_first = true;
				c->first_ns = s->mono_ns;
			}
			c->last = st;
			c->have_last = true;
			c->last_ns = s->mono_ns;
		} else if (strcmp(leaf, "cpu.max") == 0) {
			struct cg_acc *c = cg_find(a, f->path, dlen);
			int64_t q;
			uint64_t per;
			if (c && cg_cpumax_parse(f->data, f->len, &q, &per) == 0) {
				c->quota_us = q;
				c->period_us = per;
			}
		} else if (strcmp(leaf, "cpu.cfs_quota_us") == 0) {
			struct cg_acc *c = cg_find(a, f->path, dlen);
			const char *p = f->data, *end = f->data + f->len;
			int64_t q;
			if (c && scan_i64(&p, end, &q))
				c->quota_us = q < 0 ? -1 : q;
		} else if (strcmp(leaf, "cpu.cfs_period_us") == 0) {
			struct cg_acc *c = cg_find(a, f->path, dlen);
			const char *p = f->data, *end = f->data + f->len;
			uint64_t per;
			if (c && scan_u64(&p, end, &per))
				c->period_us = per;
		}
	}
	if (any)
		a->cg_samples++;
}

void cpu_feed(struct cpu_analysis *a, const struct sample *s)
{
	bool interval = a->nsamples > 0 && s->mono_ns > a->prev_ns;
	uint64_t dt = interval ? s->mono_ns - a->prev_ns : 0;
	if (a->nsamples == 0) {
		a->first_ns = s->mono_ns;
		a->first_real = s->real_ns;
		win_open(a, s->mono_ns);
	}
	feed_procstat(a, s, interval);
	feed_psi(a, s, dt);
	feed_loadavg(a, s);
	feed_proc_schedstat(a, s);
	feed_tasks(a, s);
	feed_cgroups(a, s);
	if (interval) {
		a->cur.end_ns = s->mono_ns;
		/* close the window when it is a full window long, give or take
		 * half an interval (sample times jitter) */
		if (a->cur.end_ns - a->cur.start_ns + dt / 2 >= a->window_ns) {
			win_ensure_slots(&a->cur, a->nslots);
			win_push(a);
			win_open(a, s->mono_ns);
		}
	}
	a->nsamples++;
	a->prev_ns = s->mono_ns;
	a->last_ns = s->mono_ns;
	a->last_real = s->real_ns;
}

/* ---------------- results ---------------- */

double cpu_window_steal_pct(const struct cpu_window *w, size_t slot)
{
	if (slot >= w->nslots || !w->cpu[slot].present || w->cpu[slot].total == 0)
		return -1;
	return 100.0 * (double)w->cpu[slot].steal / (double)w->cpu[slot].total;
}

double cpu_window_psi_pct(const struct cpu_window *w, int res, bool full)
{
	uint64_t len = w->end_ns - w->start_ns;
	if (!w->psi_ok[res] || len == 0)
		return -1;
	uint64_t us = full ? w->psi_full_us[res] : w->psi_some_us[res];
	double pct = 100.0 * (double)us * 1000.0 / (double)len;
	return pct > 100 ? 100 : pct;
}

double cpu_watch_s(const struct cpu_analysis *a)
{
	return a->nsamples ? (double)(a->last_ns - a->first_ns) / 1e9 : 0;
}

unsigned cpu_psi_longest_run(const struct cpu_analysis *a, int res, double thr, double *worst)
{
	unsigned best = 0, run = 0;
	double w = -1;
	for (size_t i = 0; i < a->nwins; i++) {
		double p = cpu_window_psi_pct(&a->wins[i], res, false);
		if (p > w)
			w = p;
		if (p >= thr) {
			run++;
			if (run > best)
				best = run;
		} else {
			run = 0;
		}
	}
	if (worst)
		*worst = w;
	return best;
}

static int cmp_task_wait(const void *x, const void *y)
{
	const struct task_acc *a = *(const struct task_acc *const *)x;
	const struct task_acc *b = *(const struct task_acc *const *)y;
	uint64_t da = a->last_delay - a->first_delay, db = b->last_delay - b->first_delay;
	if (da != db)
		return da < db ? 1 : -1;
	return (a->tid > b->tid) - (a->tid < b->tid);
}

static struct cpu_window win_copy(const struct cpu_window *w)
{
	struct cpu_window c = *w;
	c.cpu = w->nslots ? xmemdup(w->cpu, w->nslots * sizeof(*w->cpu)) : NULL;
	return c;
}

void cpu_finish(struct cpu_analysis *a)
{
	if (a->finished)
		return;
	a->finished = true;
	a->fin_pushed = a->fin_merged = false;
	/*
	 * The trailing partial window joins the judged windows for this
	 * evaluation only (cpu_unfinish takes it back out, so feeding can go
	 * on): kept as a window of its own if at least half a window long,
	 * else merged into the previous one.
	 */
	if (a->cur_open && a->cur.end_ns > a->cur.start_ns) {
		struct cpu_window c = win_copy(&a->cur);
		win_ensure_slots(&c, a->nslots);
		if (a->nwins == 0 || a->cur.end_ns - a->cur.start_ns >= a->window_ns / 2) {
			xgrow((void **)&a->wins, sizeof(*a->wins), &a->capwins, a->nwins);
			a->wins[a->nwins++] = c;
			a->fin_pushed = true;
		} else {
			a->fin_saved = win_copy(&a->wins[a->nwins - 1]);
			win_merge(&a->wins[a->nwins - 1], &c);
			free(c.cpu);
			a->fin_merged = true;
		}
	}
	for (size_t i = 0; i < a->nwins; i++)
		win_ensure_slots(&a->wins[i], a->nslots);

	for (size_t si = 0; si < a->nslots; si++) {
		struct cpu_slot *sl = &a->slots[si];
		sl->steal_ticks = sl->sum[CT_STEAL];
		sl->steal_avg = sl->total ? 100.0 * (double)sl->sum[CT_STEAL] / (double)sl->total : -1;
		sl->busy_pct = sl->total ? 100.0 * (double)sl->busy / (double)sl->total : -1;
		uint64_t wanted = sl->sum[CT_STEAL] + sl->busy;
		sl->steal_share_wanted = wanted ? 100.0 * (double)sl->sum[CT_STEAL] / (double)wanted : 0;
		sl->steal_worst = -1;
		sl->nwin_judged = sl->win_ge10 = sl->win_ge20 = sl->win_ge50 = 0;
		for (size_t w = 0; w < a->nwins; w++) {
			double p = cpu_window_steal_pct(&a->wins[w], si);
			if (p < 0)
				continue;
			sl->nwin_judged++;
			if (p > sl->steal_worst)
				sl->steal_worst = p;
			sl->win_ge10 += p >= 10;
			sl->win_ge20 += p >= 20;
			sl->win_ge50 += p >= 50;
		}
	}

	/* tasks that waited most over the watch */
	uint64_t total_delay = 0;
	size_t n = 0;
	free(a->top_tasks);
	a->top_tasks = xcalloc(a->ntasks + 1, sizeof(*a->top_tasks));
	for (size_t i = 0; i < a->tasks_cap; i++) {
		struct task_acc *t = &a->tasks[i];
		if (!t->used || t->last_ns == t->first_ns)
			continue;
		total_delay += t->last_delay - t->first_delay;
		a->top_tasks[n++] = t;
	}
	qsort(a->top_tasks, n, sizeof(*a->top_tasks), cmp_task_wait);
	a->ntop = n;
	uint64_t span = a->tasks_last_ns - a->tasks_first_ns;
	a->runq_wait_tasks_avg = span ? (double)total_delay / (double)span : 0;

	for (size_t i = 0; i < a->ncgs; i++) {
		struct cg_acc *c = &a->cgs[i];
		if (!c->have_first || !c->have_last || c->last_ns <= c->first_ns)
			continue;
		c->d_periods = c->last.nr_periods - c->first.nr_periods;
		c->d_throttled = c->last.nr_throttled >= c->first.nr_throttled ? c->last.nr_throttled - c->first.nr_throttled : 0;
		c->d_throttled_ns = c->last.throttled_ns >= c->first.throttled_ns ? c->last.throttled_ns - c->first.throttled_ns : 0;
		c->throttled_pct = c->d_periods ? 100.0 * (double)c->d_throttled / (double)c->d_periods : 0;
		c->throttled_ms_per_s = (double)c->d_throttled_ns / 1e6 / ((double)(c->last_ns - c->first_ns) / 1e9);
	}
}

void cpu_unfinish(struct cpu_analysis *a)
{
	if (!a->finished)
		return;
	if (a->fin_pushed) {
		free(a->wins[--a->nwins].cpu);
	} else if (a->fin_merged) {
		free(a->wins[a->nwins - 1].cpu);
		a->wins[a->nwins - 1] = a->fin_saved;
		memset(&a->fin_saved, 0, sizeof(a->fin_saved));
	}
	a->fin_pushed = a->fin_merged = false;
	a->finished = false;
}

bool cpu_steal_reported(const struct cpu_analysis *a, const char **why)
{
	const struct identity *id = &a->id;
	const struct sfile *hv = sample_find(a->statics, "sys/hypervisor/type");
	if (a->have_procstat && a->min_nfields < 8) {
		*why = "this kernel's /proc/stat has no steal column";
		return false;
	}
	if (id->kvm_steal_bit) {
		*why = "KVM offers steal time (CPUID 0x40000001 EAX bit 5)";
		return true;
	}
	if ((hv && strncmp(hv->data, "xen", 3) == 0) || strncmp(id->hv_sig, "XenVMMXenVMM", 12) == 0) {
		*why = "Xen reports vCPU runstate as steal";
		return true;
	}
	if (a->have_steal_boot && a->steal_boot_last > 0) {
		*why = "the steal counter is nonzero since boot";
		return true;
	}
	if (!id->known)
		*why = "no identity in this bundle and no steal counted since boot";
	else if (!id->hv_bit)
		*why = "no hypervisor detected (bare metal or hidden): steal does not exist here";
	else if (strncmp(id->hv_sig, "TCGTCGTCGTCG", 12) == 0)
		*why = "QEMU TCG (emulation) does not report steal";
	else if (strncmp(id->hv_sig, "Microsoft Hv", 12) == 0 && !id->hv_sig_inner[0])
		*why = "Hyper-V does not report steal time to Linux guests";
	else if (id->has_kvm_features)
		*why = "KVM did not offer steal time (CPUID 0x40000001 EAX bit 5 clear)";
	else
		*why = "this hypervisor reports no steal and none was counted since boot";
	return false;
}

void cpu_done(struct cpu_analysis *a)
{
	free(a->slots);
	for (size_t i = 0; i < a->nwins; i++)
		free(a->wins[i].cpu);
	free(a->wins);
	free(a->cur.cpu);
	free(a->fin_saved.cpu);
	free(a->rq_delay_first);
	free(a->rq_delay_last);
	free(a->tasks);
	free(a->top_tasks);
	for (size_t i = 0; i < a->ncgs; i++)
		free(a->cgs[i].path);
	free(a->cgs);
	memset(a, 0, sizeof(*a));
}
