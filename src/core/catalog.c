/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "catalog.h"

#include <string.h>

#define GAUGE MT_GAUGE
#define COUNTER MT_COUNTER
#define HISTOGRAM MT_HISTOGRAM
#define INFO MT_INFO
#define WINDOW MS_WINDOW
#define SAMPLE MS_SAMPLE
#define CONFIG MS_CONFIG

const struct metric_def metric_defs[M_COUNT] = {
#define METRIC(e, name, prom, type, scope, unit, display, scale, labels, source, help)                               \
	[e] = { name, prom, type, scope, unit, display, scale, labels, source, help },
#include "metrics.def"
#undef METRIC
};

#define HOT TICK_HOT
#define SLOW TICK_SLOW
#define STATIC TICK_STATIC
#define THREAD TICK_THREAD

const struct source_def source_defs[SRC_COUNT] = {
#define SOURCE(e, name, on, tick, reads, help) [e] = { name, on, tick, reads, help, "--no-" name },
#include "sources.def"
#undef SOURCE
};

const char *source_tick_name(enum source_tick t)
{
	switch (t) {
	case TICK_HOT: return "hot";
	case TICK_SLOW: return "slow";
	case TICK_STATIC: return "static";
	case TICK_THREAD: return "thread";
	}
	return "unknown";
}

enum source_id source_by_name(const char *name)
{
	for (int i = 0; i < SRC_COUNT; i++)
		if (!strcmp(source_defs[i].name, name))
			return (enum source_id)i;
	return SRC_COUNT;
}

static const struct {
	const char *name, *help;
} units[U_COUNT] = {
#define X(e, name, help) [e] = { name, help },
	HQ_UNITS(X)
#undef X
};

static const struct {
	const char *name, *fmt;
} labels[LBL_COUNT] = {
#define X(e, name, fmt) [LBL_##e] = { name, fmt },
	HQ_LABELS(X)
#undef X
};

const struct metric_def *metric_by_name(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < M_COUNT; i++)
		if (!strcmp(metric_defs[i].name, name) || !strcmp(metric_defs[i].prom, name))
			return &metric_defs[i];
	return NULL;
}

enum metric_id metric_id_of(const struct metric_def *d)
{
	return (enum metric_id)(d - metric_defs);
}

const char *metric_type_name(enum metric_type t)
{
	switch (t) {
	case MT_GAUGE: return "gauge";
	case MT_COUNTER: return "counter";
	case MT_HISTOGRAM: return "histogram";
	case MT_INFO: return "info";
	}
	return "unknown";
}

const char *metric_scope_name(enum metric_scope s)
{
	switch (s) {
	case MS_WINDOW: return "window";
	case MS_SAMPLE: return "sample";
	case MS_CONFIG: return "config";
	}
	return "unknown";
}

const char *unit_name(enum unit_id u)
{
	return u < U_COUNT ? units[u].name : "";
}

const char *unit_help(enum unit_id u)
{
	return u < U_COUNT ? units[u].help : "";
}

const char *label_name(enum label_id l)
{
	return l < LBL_COUNT ? labels[l].name : "";
}

const char *label_subject_fmt(enum label_id l)
{
	return l < LBL_COUNT ? labels[l].fmt : NULL;
}

enum label_id label_by_name(const char *name)
{
	for (int i = 0; i < LBL_COUNT; i++)
		if (!strcmp(labels[i].name, name))
			return (enum label_id)i;
	return LBL_COUNT;
}
