/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * A live migration in flight, as QEMU's monitor describes it: the "return"
 * value of query-migrate (qapi/migration.json MigrationInfo), and of
 * query-migrate-parameters and query-migrate-capabilities for what would
 * change it (downtime limit, bandwidth cap, auto-converge, post-copy).
 *
 * query-migrate on the source, during pre-copy (QEMU 7.2 under TCG):
 *   {"status": "active", "total-time": 6017, "expected-downtime": 300,
 *    "setup-time": 1, "ram": {"total": 134750208, "remaining": 104435712,
 *    "transferred": 25357816, "dirty-sync-count": 1, "dirty-pages-rate": 0,
 *    "page-size": 4096, "mbps": 33.8, "pages-per-second": 1030, ...}}
 * and, once auto-converge throttles the guest, "cpu-throttle-percentage".
 * "dirty-sync-count" counts the passes over guest memory: each sync starts a
 * pass that resends what the guest dirtied during the one before.
 * "dirty-pages-rate" (pages/s) is measured at each sync, over the time since
 * the last one.  A destination answers "active" without "ram".
 *
 * Numbers that are absent stay -1 (unknown), never 0; values QEMU would
 * never send (negative, not numbers) are refused one by one the same way.
 * Pure and fuzzed (tests/fuzz/fuzz_migparse.c).
 */
#ifndef HQ_MIGPARSE_H
#define HQ_MIGPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum mig_status {
	MIG_NONE,		/* "none" or no status: no migration since QEMU started */
	MIG_SETUP,
	MIG_ACTIVE,		/* pre-copy passes */
	MIG_PRE_SWITCHOVER,	/* paused before the switch-over (pause-before-switchover) */
	MIG_DEVICE,		/* device state in flight: the guest is stopped (the downtime) */
	MIG_POSTCOPY,		/* postcopy-active, -paused, -recover: the guest runs on the destination */
	MIG_COMPLETED,
	MIG_FAILED,
	MIG_CANCELLING,
	MIG_CANCELLED,
	MIG_OTHER,		/* colo, wait-unplug, a status newer than this parser */
};

/* "active", "postcopy-active" ... as QEMU spells the status; "" for MIG_NONE without one */
const char *mig_status_name(enum mig_status s);
/* Under way: setup, active, pre-switchover, device or post-copy. */
bool mig_status_running(enum mig_status s);

struct mig_info {
	enum mig_status status;
	char status_name[24];	/* as QEMU sent it, for statuses this parser does not know */
	bool have_ram;		/* a "ram" object: this QEMU is the source */
	int64_t total_time_ms, expected_downtime_ms, downtime_ms, setup_time_ms;
	/* ram */
	int64_t total, remaining, transferred;	/* bytes */
	int64_t dirty_sync_count;		/* passes begun */
	int64_t dirty_pages_rate;		/* pages/s, at the last sync */
	int64_t page_size;			/* bytes; 4096 when QEMU does not say (before 2.x) */
	double mbps;				/* throughput, megabits/s; -1 unknown */
	int64_t postcopy_requests;		/* pages the destination asked for (post-copy) */
	int cpu_throttle_pct;			/* auto-converge's throttle, -1 when not throttling */
	char error_desc[160];			/* "error-desc" of a failed migration */
};

/* The "return" of query-migrate.  0, or -EINVAL when j is not an object. */
int mig_parse(const json_t *j, struct mig_info *out);

/*
 * libvirt's job statistics of a domain, as `virsh -r domjobinfo NAME
 * --rawstats` prints them (virDomainGetJobStats): "Job type: N" (0 none,
 * 1 bounded, 2 unbounded: under way, 3 completed, 4 failed, 5 cancelled),
 * then one "field: value" line per typed parameter (libvirt-domain.h's
 * VIR_DOMAIN_JOB_* names: operation, time_elapsed, memory_total,
 * memory_processed, memory_remaining, memory_iteration, memory_dirty_rate,
 * memory_page_size, memory_bps, memory_postcopy_requests, downtime,
 * setup_time, auto_converge_throttle, errmsg).  libvirt fills them from the
 * same query-migrate answers; a job that is not an outgoing migration
 * (operation 5) reads as no migration.  0, or -EINVAL without a job type.
 */
int mig_parse_libvirt(const char *txt, size_t len, struct mig_info *out);

/* What would change the migration, from query-migrate-parameters and -capabilities. */
struct mig_params {
	int64_t downtime_limit_ms;	/* the longest pause QEMU accepts for the switch-over */
	int64_t max_bandwidth;		/* bytes/s, the cap on the migration stream */
	int cpu_throttle_initial, cpu_throttle_increment, max_cpu_throttle;	/* % */
	int auto_converge, postcopy_ram;	/* capabilities: 1 on, 0 off, -1 not said */
};
void mig_params_init(struct mig_params *p);
/* query-migrate-parameters' "return"; fields absent stay -1.  0 or -EINVAL. */
int mig_params_parse(const json_t *j, struct mig_params *p);
/* query-migrate-capabilities' "return" ([{"capability": ..., "state": ...}]).  0 or -EINVAL. */
int mig_caps_parse(const json_t *j, struct mig_params *p);

/* The guest's dirty rate in bytes/s (dirty-pages-rate x page size), -1 when unknown. */
double mig_dirty_bytes_per_s(const struct mig_info *m);

#endif
