/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq join GUEST HOST: a guest's bundle (or recording) and its host's,
 * taken over the same period, in one report (analysis/join.h): the guest
 * found among the host's VMs by its system UUID or machine-id, then per
 * vCPU the guest's steal beside the host's run delay of that vCPU's thread,
 * and the guest's await beside the VMM's time for its disks.  Only the
 * period both cover is analysed, by wall-clock time (CLOCK_REALTIME of each
 * sample).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../analysis/join.h"
#include "../core/util.h"
#include "../sample/bundle.h"
#include "../sinks/join.h"
#include "../sinks/report.h"
#include "cmd.h"
#include "cmdutil.h"

static void usage(FILE *out)
{
	fputs("Usage: hiddenq join [OPTIONS] GUEST HOST\n"
	      "\n"
	      "Set a guest beside the host that runs it, offline: GUEST and HOST are capture\n"
	      "bundles or recordings (hiddenq capture, hiddenq record) taken over the same\n"
	      "period, one inside the guest and one on its host (with the vms source on).\n"
	      "The guest is found among the host's VMs by the system UUID it reports (QEMU\n"
	      "-uuid, libvirt <uuid>) or a machine-id its host handed it; then, per vCPU, the\n"
	      "steal the guest saw beside the run delay of that vCPU's thread on the host, and\n"
	      "where they disagree, why; and the guest's await beside the VMM's time for its\n"
	      "disks (when the host's run had --qmp for the VM).  Only the time both cover is\n"
	      "used, by each side's wall clock: keep guest and host in sync (NTP, PTP/kvm-ptp).\n"
	      "Prometheus does the same live with the hiddenq-join rules.\n"
	      "\n"
	      "\n"
	      "With --json: one object (guest, host, vcpus, disks; matched false and error\n"
	      "when nothing joins).\n"
	      "\n"
	      "Example:\n"
	      "  guest# hiddenq capture -o /tmp/g -d 60s        host# hiddenq capture -o /tmp/h -d 60s\n"
	      "  hiddenq join /tmp/g /tmp/h\n",
	      out);
	cmd_help_end(out, "0 joined, 3 not joined (no VM of the host matches the guest, the two\n"
			  "do not overlap in time) or unusable input.");
}

/* The first and last CLOCK_REALTIME of a bundle's usable samples. */
static int time_range(const char *path, uint64_t *first, uint64_t *last, char **why)
{
	struct bundle_reader br;
	int r = bundle_open(&br, path, why);
	if (r < 0)
		return r;
	*first = *last = 0;
	struct sample s;
	while (bundle_next(&br, &s) > 0) {
		if (!*first || s.real_ns < *first)
			*first = s.real_ns;
		if (s.real_ns > *last)
			*last = s.real_ns;
		sample_done(&s);
	}
	bundle_close(&br);
	if (!*first) {
		*why = xasprintf("%s: no usable sample with a wall-clock time", path);
		return -EINVAL;
	}
	return 0;
}

struct side {
	struct bundle_reader br;
	struct analysis an;
	bool open;
};

/* Analyse the samples of path in [from, to]. */
static int analyse(struct side *sd, const char *path, uint64_t from, uint64_t to, char **why)
{
	memset(sd, 0, sizeof(*sd));
	int r = bundle_open(&sd->br, path, why);
	if (r < 0)
		return r;
	sd->open = true;
	struct sample s;
	/* the statics come with the first usable sample */
	if (bundle_next(&sd->br, &s) <= 0) {
		*why = xasprintf("%s: no usable sample", path);
		return -EINVAL;
	}
	analysis_init(&sd->an, &sd->br.statics, path);
	sd->an.interval_ns = sd->br.interval_ns;
	bundle_range(&sd->br, from, to);
	if (s.real_ns >= from && s.real_ns <= to)
		analysis_feed(&sd->an, &s);
	sample_done(&s);
	while (bundle_next(&sd->br, &s) > 0) {
		analysis_feed(&sd->an, &s);
		sample_done(&s);
	}
	analysis_finish(&sd->an);
	return 0;
}

static void side_done(struct side *sd)
{
	if (!sd->open)
		return;
	analysis_done(&sd->an);
	bundle_close(&sd->br);
}

int cmd_join(int argc, char **argv)
{
	static const struct option opts[] = { { 0 } };
	int c;
	struct cmd_parse p;
	cmd_parse_init(&p, "join", argc, argv, "", opts, usage);
	while ((c = cmd_parse_next(&p)) != -1)
		if (c == CMD_PARSE_EXIT)
			return p.exit_code;
	bool json = hq_json;
	if (argc - optind < 2)
		return cmd_failf("join: needs two operands, GUEST HOST (bundles or recordings), got %s%s%s (hiddenq join "
				 "--help)",
				 optind < argc ? "only '" : "none", optind < argc ? argv[optind] : "", optind < argc ? "'" : "");
	optind += 2;
	if (cmd_parse_end(&p))
		return EXIT_UNUSABLE;
	const char *gp = argv[optind - 2], *hp = argv[optind - 1];
	char *why = NULL;
	uint64_t g0, g1, h0, h1;
	if (time_range(gp, &g0, &g1, &why) < 0 || time_range(hp, &h0, &h1, &why) < 0) {
		int r = cmd_fail(json, why);
		free(why);
		return r;
	}
	uint64_t from = g0 > h0 ? g0 : h0, to = g1 < h1 ? g1 : h1;
	if (to <= from) {
		char *m = xasprintf("the two do not cover the same time: the guest's samples span %.1f s ending %.1f s "
				    "%s the host's start (take both over the same period)",
				    (double)(g1 - g0) / 1e9,
				    (double)(g1 > h0 ? g1 - h0 : h0 - g1) / 1e9, g1 > h0 ? "after" : "before");
		int r = cmd_fail(json, m);
		free(m);
		return r;
	}
	struct side *g = xcalloc(1, sizeof(*g)), *h = xcalloc(1, sizeof(*h));
	int rc = EXIT_OK;
	if (analyse(g, gp, from, to, &why) < 0 || analyse(h, hp, from, to, &why) < 0) {
		rc = cmd_fail(json, why);
		free(why);
		goto out;
	}
	struct join_result *j = xcalloc(1, sizeof(*j));
	join_build(&g->an, &h->an, j);
	if (json) {
		json_t *o = join_json(j);
		json_object_set_new(o, "hiddenq", json_string(HQ_VERSION));
		json_object_set_new(o, "overlap_s", json_real((double)(to - from) / 1e9));
		if (!j->matched) { /* the one error shape, with the join's figures beside it */
			json_object_set_new(o, "error", json_string(j->why));
			json_object_set_new(o, "exit", json_integer(EXIT_UNUSABLE));
		}
		json_print(stdout, o);
		json_decref(o);
	} else {
		join_print(stdout, j, gp, hp);
	}
	if (!j->matched) {
		if (!json)
			log_err("join: not joined: %s", j->why);
		rc = EXIT_UNUSABLE;
	}
	free(j);
out:
	side_done(g);
	side_done(h);
	free(g);
	free(h);
	return rc;
}
