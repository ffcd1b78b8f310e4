/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * What Prometheus and Grafana need to judge hiddenq's findings in a fleet,
 * generated from the tables (rules.def, twins.def, thresholds.def, the
 * metric catalog, dashboard.def): a Prometheus rule file (an alert per
 * finding and level on hiddenq_finding_severity, and the PromQL twin of each
 * rule over the raw series, recorded and alerted on), a Grafana dashboard,
 * and the doc that sets each rule beside its twin.  The thresholds are those
 * in force (thresholds[]), so -t overrides reach the rules as they reach serve.
 */
#ifndef HQ_PROMRULES_H
#define HQ_PROMRULES_H

#include <stdio.h>

struct promrules_opts {
	unsigned window_s;	/* judge every rule over this window (s); 0: each rule's own */
	const char *docs_url;	/* where README.md is: links are DOCS_URL#finding-id */
};

/*
 * Each writes its document to out and returns 0, or returns -1 with *why
 * (malloc'd) when the tables cannot make one: a threshold override with no
 * histogram bucket for its twin, a leg whose threshold unit is not its
 * evidence's display unit, a placeholder that names nothing.  Nothing is
 * written on failure.
 */
int promrules_prometheus(FILE *out, const struct promrules_opts *o, char **why);
int promrules_grafana(FILE *out, const struct promrules_opts *o, char **why);
int promrules_markdown(FILE *out, const struct promrules_opts *o, char **why);

#endif
