/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* QEMU's migration state from QMP (see migparse.h). */
#include "migparse.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "vmconf.h"	/* str_copy */

static const struct {
	const char *name;
	enum mig_status s;
} statuses[] = {
	{ "none", MIG_NONE },
	{ "setup", MIG_SETUP },
	{ "active", MIG_ACTIVE },
	{ "pre-switchover", MIG_PRE_SWITCHOVER },
	{ "device", MIG_DEVICE },
	{ "postcopy-active", MIG_POSTCOPY },
	{ "postcopy-paused", MIG_POSTCOPY },
	{ "postcopy-recover", MIG_POSTCOPY },
	{ "postcopy-recover-setup", MIG_POSTCOPY },
	{ "completed", MIG_COMPLETED },
	{ "failed", MIG_FAILED },
	{ "cancelling", MIG_CANCELLING },
	{ "cancelled", MIG_CANCELLED },
};

const char *mig_status_name(enum mig_status s)
{
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (statuses[i].s == s)
			return statuses[i].name;
	return "other";
}

bool mig_status_running(enum mig_status s)
{
	return s == MIG_SETUP || s == MIG_ACTIVE || s == MIG_PRE_SWITCHOVER || s == MIG_DEVICE || s == MIG_POSTCOPY;
}

/* A count or size QEMU sends as a JSON integer (uint64 in the schema); -1 if absent or not one. */
static int64_t get_count(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	if (json_is_integer(v))
		return json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v) : -1;
	/* jansson turns integers beyond int64 into reals: keep them only while they fit */
	if (json_is_real(v)) {
		double d = json_real_value(v);
		return isfinite(d) && d >= 0 && d < 9.2e18 && d == floor(d) ? (int64_t)d : -1;
	}
	return -1;
}

static int get_pct(const json_t *o, const char *k)
{
	int64_t v = get_count(o, k);
	return v >= 0 && v <= 100 ? (int)v : -1;
}

static void info_init(struct mig_info *out);

int mig_parse(const json_t *j, struct mig_info *out)
{
	info_init(out);
	if (!json_is_object(j))
		return -EINVAL;
	const char *st = json_string_value(json_object_get(j, "status"));
	out->status = st ? MIG_OTHER : MIG_NONE;
	if (st) {
		str_copy(out->status_name, sizeof(out->status_name), st);
		for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
			if (!strcmp(st, statuses[i].name))
				out->status = statuses[i].s;
	}
	out->total_time_ms = get_count(j, "total-time");
	out->expected_downtime_ms = get_count(j, "expected-downtime");
	out->downtime_ms = get_count(j, "downtime");
	out->setup_time_ms = get_count(j, "setup-time");
	out->cpu_throttle_pct = get_pct(j, "cpu-throttle-percentage");
	const char *e = json_string_value(json_object_get(j, "error-desc"));
	if (e)
		str_copy(out->error_desc, sizeof(out->error_desc), e);
	const json_t *ram = json_object_get(j, "ram");
	if (json_is_object(ram)) {
		out->have_ram = true;
		out->total = get_count(ram, "total");
		out->remaining = get_count(ram, "remaining");
		out->transferred = get_count(ram, "transferred");
		out->dirty_sync_count = get_count(ram, "dirty-sync-count");
		out->dirty_pages_rate = get_count(ram, "dirty-pages-rate");
		out->postcopy_requests = get_count(ram, "postcopy-requests");
		int64_t ps = get_count(ram, "page-size");
		if (ps >= 512 && ps <= (1 << 30) && (ps & (ps - 1)) == 0)
			out->page_size = ps;
		const json_t *mb = json_object_get(ram, "mbps");
		if (json_is_number(mb) && isfinite(json_number_value(mb)) && json_number_value(mb) >= 0)
			out->mbps = json_number_value(mb);
	}
	return 0;
}

static void info_init(struct mig_info *out)
{
	memset(out, 0, sizeof(*out));
	out->total_time_ms = out->expected_downtime_ms = out->downtime_ms = out->setup_time_ms = -1;
	out->total = out->remaining = out->transferred = out->dirty_sync_count = out->dirty_pages_rate = -1;
	out->postcopy_requests = -1;
	out->page_size = 4096;
	out->mbps = -1;
	out->cpu_throttle_pct = -1;
}

/* An unsigned decimal that fits int64, the whole of [s, e): else -1. */
static int64_t lv_count(const char *s, const char *e)
{
	if (s == e)
		return -1;
	int64_t v = 0;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

int mig_parse_libvirt(const char *txt, size_t len, struct mig_info *out)
{
	info_init(out);
	const char *p = txt, *end = txt + len;
	int64_t type = -1, op = -1, downtime = -1, bps = -1;
	bool memory = false;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *colon = memchr(p, ':', (size_t)(le - p));
		if (colon && colon + 1 < le && colon[1] == ' ') {
			size_t kl = (size_t)(colon - p);
			const char *v = colon + 2, *ve = le;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
				ve--;
			int64_t n = lv_count(v, ve);
#define KEY(k) (kl == sizeof(k) - 1 && memcmp(p, k, kl) == 0)
			if (KEY("Job type"))
				type = n;
			else if (KEY("operation"))
				op = n;
			else if (KEY("time_elapsed"))
				out->total_time_ms = n;
			else if (KEY("setup_time"))
				out->setup_time_ms = n;
			else if (KEY("downtime"))
				downtime = n;
			else if (KEY("memory_total"))
				memory = true, out->total = n;
			else if (KEY("memory_processed"))
				memory = true, out->transferred = n;
			else if (KEY("memory_remaining"))
				memory = true, out->remaining = n;
			else if (KEY("memory_iteration"))
				out->dirty_sync_count = n;
			else if (KEY("memory_dirty_rate"))
				out->dirty_pages_rate = n;
			else if (KEY("memory_postcopy_requests"))
				out->postcopy_requests = n;
			else if (KEY("memory_bps"))
				bps = n;
			else if (KEY("memory_page_size") && n >= 512 && n <= (1 << 30) && (n & (n - 1)) == 0)
				out->page_size = n;
			else if (KEY("auto_converge_throttle") && n >= 0 && n <= 100)
				out->cpu_throttle_pct = (int)n;
			else if (KEY("errmsg")) {
				size_t el = (size_t)(ve - v) < sizeof(out->error_desc) - 1 ? (size_t)(ve - v)
											: sizeof(out->error_desc) - 1;
				memcpy(out->error_desc, v, el);
				out->error_desc[el] = '\0';
			}
#undef KEY
		}
		p = nl ? nl + 1 : end;
	}
	if (type < 0 || type > 5)
		return -EINVAL;
	static const enum mig_status by_type[] = { MIG_NONE, MIG_ACTIVE, MIG_ACTIVE, MIG_COMPLETED, MIG_FAILED,
						    MIG_CANCELLED };
	/* VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT; a job of any other kind (a save, a dump) is not a migration */
	if (op >= 0 && op != 5) {
		info_init(out);
		return 0;
	}
	out->status = by_type[type];
	str_copy(out->status_name, sizeof(out->status_name), mig_status_name(out->status));
	out->have_ram = memory && type != 0;
	if (out->status == MIG_COMPLETED)
		out->downtime_ms = downtime;
	else if (mig_status_running(out->status))
		out->expected_downtime_ms = downtime;
	if (bps >= 0)
		out->mbps = (double)bps * 8 / 1e6;
	return 0;
}

double mig_dirty_bytes_per_s(const struct mig_info *m)
{
	if (m->dirty_pages_rate < 0)
		return -1;
	return (double)m->dirty_pages_rate * (double)m->page_size;
}

void mig_params_init(struct mig_params *p)
{
	p->downtime_limit_ms = p->max_bandwidth = -1;
	p->cpu_throttle_initial = p->cpu_throttle_increment = p->max_cpu_throttle = -1;
	p->auto_converge = p->postcopy_ram = -1;
}

int mig_params_parse(const json_t *j, struct mig_params *p)
{
	if (!json_is_object(j))
		return -EINVAL;
	p->downtime_limit_ms = get_count(j, "downtime-limit");
	p->max_bandwidth = get_count(j, "max-bandwidth");
	p->cpu_throttle_initial = get_pct(j, "cpu-throttle-initial");
	p->cpu_throttle_increment = get_pct(j, "cpu-throttle-increment");
	p->max_cpu_throttle = get_pct(j, "max-cpu-throttle");
	return 0;
}

int mig_caps_parse(const json_t *j, struct mig_params *p)
{
	if (!json_is_array(j))
		return -EINVAL;
	size_t i;
	const json_t *c;
	json_array_foreach(j, i, c) {
		const char *name = json_string_value(json_object_get(c, "capability"));
		const json_t *state = json_object_get(c, "state");
		if (!name || !json_is_boolean(state))
			continue;
		if (!strcmp(name, "auto-converge"))
			p->auto_converge = json_is_true(state);
		else if (!strcmp(name, "postcopy-ram"))
			p->postcopy_ram = json_is_true(state);
	}
	return 0;
}
