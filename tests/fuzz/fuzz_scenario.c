/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Scenario files (src/sim/scenario.c) on arbitrary bytes, then the model on
 * what parses.  Invariants: a refused file says why and, when it names a
 * line, a line that exists; a parsed one is sane (counts within their
 * bounds, shares adding up, times finite) and runs: at most 5 000 events,
 * with the guest view built at every sample, and then again with one key
 * changed as --set and --sweep change it.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

static int discard(void *arg, const struct sample *s, const struct sample *statics, json_t *meta)
{
	(void)arg;
	(void)statics;
	if (!s || (s->nfiles && !s->files[0].path))
		abort();
	json_decref(meta);
	return 0;
}

static void check(const struct sim_scenario *sc)
{
	if (!(sc->duration >= 0) || !isfinite(sc->duration) || !(sc->warmup >= 0))
		abort();
	for (unsigned i = 0; i < sc->nstations; i++)
		if (!sc->stations[i].servers || sc->stations[i].arrival.kind == DIST_NONE)
			abort();
	for (unsigned i = 0; i < sc->nvms; i++) {
		const struct sim_vmconf *v = &sc->vms[i];
		if (!v->vcpus || v->vcpus > SIM_MAX_VCPUS || !v->count)
			abort();
		if (v->mem_nodes_set) {
			double s = 0;
			for (unsigned n = 0; n < SIM_MAX_NODES; n++)
				s += v->mem_frac[n];
			if (fabs(s - 1) > 1e-9)
				abort();
		}
	}
}

static void run(const struct sim_scenario *sc)
{
	if (sc->nstations > 32 || sim_scenario_instances(sc) > 32 || sc->nmigs > 32 || sc->host.cpus > 256)
		return;
	struct sim_scenario s2;
	sim_scenario_copy(&s2, sc);
	s2.max_events = 5000;
	if (s2.bundle.interval < 0.01)
		s2.bundle.interval = 0.01;
	struct sim_opts o = { .on_sample = discard };
	struct sim_result *r = NULL;
	char *why = NULL;
	if (sim_run(&s2, &o, &r, &why) < 0) {
		free(why);
	} else {
		for (unsigned i = 0; i < r->nst; i++)
			if (r->st[i].utilization < 0 || r->st[i].p_wait < 0 || r->st[i].p_wait > 1)
				abort();
		for (unsigned i = 0; i < r->nvm; i++)
			if (!(r->vm[i].steal_avg_pct >= -1e-6) || r->vm[i].steal_avg_pct > 100 + 1e-6)
				abort();
		sim_result_free(r);
	}
	sim_scenario_free(&s2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct sim_scenario sc;
	struct sim_error e = { 0 };
	if (sim_scenario_parse(text, &sc, &e) < 0) {
		if (!e.msg || !*e.msg)
			abort(); /* refused without a reason */
		int lines = 1;
		for (const char *p = text; *p; p++)
			lines += *p == '\n';
		if (e.line < 0 || e.line > lines)
			abort(); /* a line that is not in the file */
		free(e.msg);
		free(text);
		return 0;
	}
	check(&sc);
	run(&sc);
	/* one key changed, as --set and --sweep do: the first station's or VM's rate, the seed */
	char key[96];
	if (sc.nstations)
		snprintf(key, sizeof(key), "station.%s.arrival", sc.stations[0].name);
	else if (sc.nvms)
		snprintf(key, sizeof(key), "vm.%s.count", sc.vms[0].name);
	else
		snprintf(key, sizeof(key), "sim.seed");
	const char *val = size ? (data[0] & 1 ? "3" : "0.5") : "2";
	if (sim_scenario_set(&sc, key, val, &e) == 0) {
		check(&sc);
		run(&sc);
	} else {
		if (!e.msg)
			abort();
		free(e.msg);
	}
	sim_scenario_free(&sc);
	free(text);
	return 0;
}
