/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The metric catalog (metrics.def) as data: one struct metric_def per row,
 * the base units, and the label names.  Everything that names a value
 * (evidence, the exporter, `hiddenq metrics`, the live view, the report)
 * takes the name, unit, labels and help from here, so a metric added once
 * shows up everywhere.
 */
#ifndef HQ_CATALOG_H
#define HQ_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Base units: what the Prometheus name ends in, and what values are stored in. */
#define HQ_UNITS(X)                                                                                                    \
	X(U_NONE, "", "a count or a plain number")                                                                   \
	X(U_RATIO, "ratio", "a share, 0 to 1")                                                                        \
	X(U_SECONDS, "seconds", "time")                                                                               \
	X(U_BYTES, "bytes", "memory or data")                                                                         \
	X(U_PACKETS, "packets", "network packets")                                                                    \
	X(U_PAGES, "pages", "memory pages")                                                                           \
	X(U_TASKS, "tasks", "tasks (threads)")                                                                        \
	X(U_CPUS, "cpus", "CPUs")                                                                                     \
	X(U_WINDOWS, "windows", "1 s windows")                                                                        \
	X(U_EVENTS, "events", "occurrences")                                                                          \
	X(U_REQUESTS, "requests", "block requests")                                                                   \
	X(U_EVENTS_PER_SECOND, "per_second", "occurrences per second")                                                \
	X(U_PACKETS_PER_SECOND, "packets_per_second", "packets per second")                                           \
	X(U_PAGES_PER_SECOND, "pages_per_second", "pages per second")                                                 \
	X(U_BYTES_PER_SECOND, "bytes_per_second", "bytes per second")                                                 \
	X(U_REQUESTS_PER_SECOND, "requests_per_second", "block requests per second")                                  \
	X(U_SECONDS_PER_SECOND, "seconds_per_second", "time per second of wall time (a ratio of times)")

enum unit_id {
#define X(e, name, help) e,
	HQ_UNITS(X)
#undef X
	U_COUNT
};

/*
 * Label names, and how each renders in an evidence's `subject` (the
 * labels joined in the order they were set; cpu has its own field).  The
 * format's leading space is dropped for the first label rendered.
 */
#define HQ_LABELS(X)                                                                                                   \
	X(CPU, "cpu", NULL)                                                                                           \
	X(NODE, "node", " node%s")                                                                                    \
	X(DEVICE, "device", " %s")                                                                                    \
	X(INTERFACE, "interface", " %s")                                                                              \
	X(QUEUE, "queue", " %s")                                                                                      \
	X(DIRECTION, "direction", " %s")                                                                              \
	X(OP, "op", " %s")                                                                                            \
	X(LAYER, "layer", " %s")                                                                                      \
	X(CGROUP, "cgroup", " %s")                                                                                    \
	X(VM, "vm", " %s")                                                                                            \
	X(VCPU, "vcpu", " vCPU %s")                                                                                   \
	X(THREAD, "thread", "/%s")                                                                                    \
	X(TASK, "task", " %s")                                                                                        \
	X(PROCESS, "process", " %s")                                                                                  \
	X(QDISC, "qdisc", " qdisc %s")                                                                                \
	X(PARENT, "parent", " (parent %s)")                                                                           \
	X(VIRTQUEUE, "virtqueue", " (%s)")                                                                            \
	X(STAT, "stat", " (%s)")                                                                                      \
	X(RPS_CPUS, "rps_cpus", " rps_cpus=%s")                                                                       \
	X(XPS_CPUS, "xps_cpus", " xps_cpus=%s")                                                                       \
	X(PROTOCOL, "protocol", " %s")                                                                                \
	X(WHERE, "where", " %s")                                                                                      \
	X(CAUSE, "cause", " %s")                                                                                      \
	X(KIND, "kind", " %s:")                                                                                       \
	X(MESSAGE, "message", " %s")                                                                                  \
	X(REASON, "reason", " %s")                                                                                    \
	X(RANGE, "range", " %s")                                                                                      \
	X(RESOURCE, "resource", " %s")                                                                                \
	X(UUID, "uuid", " %s")                                                                                        \
	X(VMM, "vmm", " %s")                                                                                          \
	X(PID, "pid", " %s")                                                                                          \
	X(OTHER_VM, "other_vm", " %s")                                                                                \
	X(ID, "id", " %s")                                                                                            \
	X(FAILURE_MODE, "failure_mode", " %s")                                                                        \
	X(VERSION, "version", " %s")                                                                                  \
	X(FEATURES, "features", " %s")                                                                                \
	X(SOURCE, "source", " %s")                                                                                    \
	X(CODE, "code", " %s")                                                                                        \
	X(METHOD, "method", " %s")                                                                                    \
	X(DRIVER, "driver", " %s")                                                                                    \
	X(GOVERNOR, "governor", " governor %s")                                                                       \
	X(MACHINE_ID, "machine_id", " machine-id %s")                                                                 \
	X(HYPERVISOR, "hypervisor", " %s")                                                                            \
	X(PASS, "pass", " pass %s")

enum label_id {
#define X(e, name, fmt) LBL_##e,
	HQ_LABELS(X)
#undef X
	LBL_COUNT
};

#define L(e) (UINT64_C(1) << LBL_##e)

/* The sources table (sources.def). */
enum source_tick { TICK_HOT, TICK_SLOW, TICK_STATIC, TICK_THREAD };

enum source_id {
#define SOURCE(e, name, on, tick, reads, help) e,
#include "sources.def"
#undef SOURCE
	SRC_COUNT
};

struct source_def {
	const char *name;
	bool default_on;
	enum source_tick tick;
	const char *reads;
	const char *help;
	const char *no_flag;	/* "--no-NAME": the switch that turns it off */
};

extern const struct source_def source_defs[SRC_COUNT];
#define SRC_BIT(s) (UINT64_C(1) << (s))
const char *source_tick_name(enum source_tick t);	/* "hot", "slow", "static", "thread" */
/* The source with this name, or SRC_COUNT. */
enum source_id source_by_name(const char *name);

enum metric_type { MT_GAUGE, MT_COUNTER, MT_HISTOGRAM, MT_INFO };
enum metric_scope { MS_WINDOW, MS_SAMPLE, MS_CONFIG };

enum metric_id {
#define METRIC(e, name, prom, type, scope, unit, display, scale, labels, source, help) e,
#include "metrics.def"
#undef METRIC
	M_COUNT
};

struct metric_def {
	const char *name;	/* evidence name, "steal_pct_avg" */
	const char *prom;	/* exporter name, "hiddenq_cpu_steal_ratio" */
	enum metric_type type;
	enum metric_scope scope;
	enum unit_id unit;	/* base unit of `prom` */
	const char *display;	/* unit of evidence values: value * scale */
	double scale;
	uint64_t labels;	/* L(...) bits */
	enum source_id source;	/* where it comes from (sources.def) */
	const char *help;
};

extern const struct metric_def metric_defs[M_COUNT];

static inline const struct metric_def *metric_def(enum metric_id m)
{
	return &metric_defs[m];
}

/* The row with this evidence name or Prometheus name; NULL if none. */
const struct metric_def *metric_by_name(const char *name);
enum metric_id metric_id_of(const struct metric_def *d);

const char *metric_type_name(enum metric_type t);	/* "gauge", "counter", "histogram", "info" */
const char *metric_scope_name(enum metric_scope s);	/* "window", "sample", "config" */
const char *unit_name(enum unit_id u);			/* "seconds"; "" for U_NONE */
const char *unit_help(enum unit_id u);
const char *label_name(enum label_id l);
const char *label_subject_fmt(enum label_id l);	/* NULL: not rendered in subjects */
/* The label with this name, or LBL_COUNT. */
enum label_id label_by_name(const char *name);

#endif
