/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Run-queue delay, from two places:
 *  - /proc/PID/task/TID/schedstat (CONFIG_SCHED_INFO): three numbers, the
 *    second is nanoseconds spent runnable but waiting for a CPU.  On a KVM
 *    host the vCPU thread's value is exactly what the guest sees as steal.
 *  - /proc/schedstat (CONFIG_SCHEDSTATS, absent on many cloud kernels): per
 *    CPU lines "cpuN yld 0 sched goidle ttwu ttwu_local rq_cpu_time run_delay
 *    pcount".  Fields 7 and 8 are ns although the kernel doc says jiffies.
 */
#include "parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

int task_schedstat_parse(const char *buf, size_t len, struct task_schedstat *out)
{
	const char *p = buf, *end = buf + len;
	memset(out, 0, sizeof(*out));
	if (!scan_u64(&p, end, &out->cpu_ns) || !scan_u64(&p, end, &out->delay_ns))
		return -EINVAL;
	if (!scan_u64(&p, end, &out->slices))
		out->slices = 0;
	return 0;
}

int proc_schedstat_parse(const char *buf, size_t len, struct proc_schedstat *out)
{
	memset(out, 0, sizeof(*out));
	struct scan s = { buf, buf + len };
	const char *ls, *le;
	size_t cap = 0;
	bool have_version = false;
	while (scan_line(&s, &ls, &le)) {
		const char *p = ls, *ws, *we;
		if (!scan_word(&p, le, &ws, &we))
			continue;
		if (word_eq(ws, we, "version")) {
			uint64_t v;
			if (scan_u64(&p, le, &v) && v < 1000) {
				out->version = (unsigned)v;
				have_version = true;
			}
			continue;
		}
		if (we - ws < 4 || memcmp(ws, "cpu", 3) != 0)
			continue;
		const char *q = ws + 3;
		uint64_t id;
		if (!scan_u64(&q, we, &id) || q != we || id > 65535)
			continue;
		uint64_t f[9];
		int n = 0;
		while (n < 9 && scan_u64(&p, le, &f[n]))
			n++;
		if (n < 8)
			continue;
		xgrow((void **)&out->cpus, sizeof(*out->cpus), &cap, out->ncpus);
		struct cpu_schedstat *c = &out->cpus[out->ncpus++];
		c->cpu = (int)id;
		c->run_ns = f[6];
		c->delay_ns = f[7];
		c->slices = n >= 9 ? f[8] : 0;
	}
	if (!have_version || out->ncpus == 0) {
		proc_schedstat_done(out);
		return -EINVAL;
	}
	return 0;
}

void proc_schedstat_done(struct proc_schedstat *ps)
{
	free(ps->cpus);
	ps->cpus = NULL;
	ps->ncpus = 0;
}

int loadavg_parse(const char *buf, size_t len, struct loadavg *out)
{
	const char *p = buf, *end = buf + len;
	memset(out, 0, sizeof(*out));
	if (!scan_double(&p, end, &out->load1) || !scan_double(&p, end, &out->load5) ||
	    !scan_double(&p, end, &out->load15) || !scan_u64(&p, end, &out->running) ||
	    p >= end || *p != '/')
		return -EINVAL;
	p++;
	if (!scan_u64(&p, end, &out->total))
		return -EINVAL;
	scan_u64(&p, end, &out->last_pid);
	return 0;
}

int cg_cpustat_parse(const char *buf, size_t len, struct cg_cpustat *out)
{
	memset(out, 0, sizeof(*out));
	struct scan s = { buf, buf + len };
	const char *ls, *le;
	bool any = false;
	while (scan_line(&s, &ls, &le)) {
		const char *p = ls, *ws, *we;
		uint64_t v;
		if (!scan_word(&p, le, &ws, &we) || !scan_u64(&p, le, &v))
			continue;
		any = true;
		if (word_eq(ws, we, "nr_periods")) {
			out->nr_periods = v;
			out->has_periods = true;
		} else if (word_eq(ws, we, "nr_throttled")) {
			out->nr_throttled = v;
		} else if (word_eq(ws, we, "throttled_usec")) { /* v2 */
			out->throttled_ns = v > UINT64_MAX / 1000 ? UINT64_MAX : v * 1000;
			out->has_throttled_time = true;
		} else if (word_eq(ws, we, "throttled_time")) { /* v1, ns */
			out->throttled_ns = v;
			out->has_throttled_time = true;
		} else if (word_eq(ws, we, "usage_usec")) {
			out->usage_ns = v > UINT64_MAX / 1000 ? UINT64_MAX : v * 1000;
			out->has_usage = true;
		}
	}
	return any ? 0 : -EINVAL;
}

int cg_cpumax_parse(const char *buf, size_t len, int64_t *quota_us, uint64_t *period_us)
{
	const char *p = buf, *end = buf + len, *ws, *we;
	if (!scan_word(&p, end, &ws, &we))
		return -EINVAL;
	if (word_eq(ws, we, "max")) {
		*quota_us = -1;
	} else {
		const char *q = ws;
		uint64_t v;
		if (!scan_u64(&q, we, &v) || q != we || v > INT64_MAX)
			return -EINVAL;
		*quota_us = (int64_t)v;
	}
	uint64_t per = 100000;
	scan_u64(&p, end, &per);
	*period_us = per;
	return 0;
}
