/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq sim: read a scenario, run the model (src/sim), print it
 * (src/sinks/sim.c); --bundle writes a VM's view as a capture bundle that
 * diagnose --replay reads; --sweep runs one key over a range on every core.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/util.h"
#include "../sample/bundle.h"
#include "../sim/sim.h"
#include "../sinks/sim.h"
#include "cmd.h"
#include "cmdutil.h"

#define MAX_SCENARIO (4u << 20)
#define MAX_POINTS 10000
#define MAX_SETS 64

static void usage(FILE *out)
{
	fputs("Usage: hiddenq sim [OPTIONS] SCENARIO.ini\n"
	      "\n"
	      "A discrete-event model of a virtualized host: physical CPUs in NUMA nodes, a\n"
	      "fair-share host scheduler, VMs with vCPUs (steal), requests or CPU work, NUMA\n"
	      "cost, virtqueues, a block device under two queues, memory overcommit with\n"
	      "balloons and host swap, direct compaction, pre-copy live migration; and plain\n"
	      "queueing stations (M/M/1, M/M/c, M/G/1, PS).  Deterministic: the same scenario\n"
	      "and seed print the same bytes.  The scenario format is in hiddenq(1) and\n"
	      "examples/sim/.\n"
	      "\n"
	      "Options:\n"
	      "      --bundle DIR      also write what a VM's guest sees (or, with --view host,\n"
	      "                        what the host sees) as a capture bundle for\n"
	      "                        hiddenq diagnose --replay DIR\n"
	      "      --vm NAME         the VM --bundle writes (default: [bundle] vm, else the first)\n"
	      "      --view guest|host which side --bundle writes (default: [bundle] view, guest)\n"
	      "      --seed N          the random seed (default: [sim] seed, else 1)\n"
	      "      --set KEY=VALUE   change one key before running: SECTION.KEY, e.g.\n"
	      "                        host.cpus=32, vm.web.count=6, station.q.arrival=0.9\n"
	      "                        (a bare number for a distribution sets its rate)\n"
	      "      --sweep KEY=A..B[:STEP]\n"
	      "                        run once per value of KEY (STEP 1 for whole numbers,\n"
	      "                        else a tenth of the range) and print one row each\n"
	      "      --csv             the sweep as CSV\n"
	      "  -J, --jobs N          runs of a sweep at once (default: the online CPUs)\n"
	      "With --json (global): the result, or the sweep's rows, as one JSON document.\n",
	      out);
	cmd_help_end(out, "0 when the model ran, 3 when it could not (a bad scenario says\n"
			  "FILE:LINE: why).");
}

static char *read_all(const char *path, char **why)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f) {
		*why = xasprintf("%s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 8192, n = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		if (n + 1 >= cap) {
			if (cap >= MAX_SCENARIO) {
				*why = xasprintf("%s: larger than %u MiB, not a scenario", path, MAX_SCENARIO >> 20);
				free(buf);
				if (f != stdin)
					fclose(f);
				return NULL;
			}
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		if (!r)
			break;
		n += r;
	}
	bool err = ferror(f);
	if (f != stdin)
		fclose(f);
	if (err) {
		*why = xasprintf("%s: read error", path);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (strlen(buf) != n) {
		*why = xasprintf("%s: contains a NUL byte, not a scenario", path);
		free(buf);
		return NULL;
	}
	return buf;
}

static int scenario_fail(bool json, const char *path, const struct sim_error *e)
{
	char *m = e->line > 0 ? xasprintf("%s:%d: %s", path, e->line, e->msg) : xasprintf("%s: %s", path, e->msg);
	int r = cmd_fail(json, m);
	free(m);
	return r;
}

/* ---- bundle writing ---- */

struct bundle_out {
	const char *dir;
	struct bundle_writer w;
	bool open;
	char *why;
};

static int on_sample(void *arg, const struct sample *s, const struct sample *statics, json_t *meta)
{
	struct bundle_out *b = arg;
	if (!b->open) {
		if (!meta) {
			b->why = xstrdup("the first sample came without meta.json");
			return -EINVAL;
		}
		int r = bundle_create(&b->w, b->dir, meta, &b->why);
		if (r < 0)
			return r;
		b->open = true;
	} else if (meta) {
		json_decref(meta);
	}
	int r = bundle_write_sample(&b->w, s, statics);
	if (r < 0)
		b->why = xasprintf("cannot write a sample into %s: %s", b->dir, strerror(-r));
	return r;
}

/* the directory must not exist, or be empty */
static int bundle_dir_ok(const char *dir, char **why)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return errno == ENOENT ? 0 : (*why = xasprintf("%s: %s", dir, strerror(errno)), -errno);
	if (!S_ISDIR(st.st_mode)) {
		*why = xasprintf("%s exists and is not a directory", dir);
		return -ENOTDIR;
	}
	if (rmdir(dir) == 0) /* empty: bundle_create makes it again */
		return 0;
	*why = xasprintf("%s is not empty; give a new directory", dir);
	return -EEXIST;
}

/* ---- sweeps ---- */

static int parse_sweep_num(const char *s, double *v)
{
	uint64_t u;
	if (sim_parse_number(s, v) == 0)
		return 0;
	if (parse_size(s, &u) == 0) {
		*v = (double)u;
		return 0;
	}
	return sim_parse_time(s, v);
}

/* "KEY=A..B[:STEP]" */
static int parse_sweep(const char *spec, char **key, double **vals, unsigned *n, char **why)
{
	const char *eq = strchr(spec, '=');
	const char *dots = eq ? strstr(eq, "..") : NULL;
	if (!eq || eq == spec || !dots) {
		*why = xasprintf("--sweep %s: expected KEY=A..B[:STEP], e.g. vm.web.count=4..8", spec);
		return -EINVAL;
	}
	char a[64], b[64], st[64] = "";
	size_t la = (size_t)(dots - eq - 1);
	const char *rest = dots + 2;
	const char *colon = strchr(rest, ':');
	size_t lb = colon ? (size_t)(colon - rest) : strlen(rest);
	if (la == 0 || la >= sizeof(a) || lb == 0 || lb >= sizeof(b) || (colon && strlen(colon + 1) >= sizeof(st))) {
		*why = xasprintf("--sweep %s: expected KEY=A..B[:STEP]", spec);
		return -EINVAL;
	}
	memcpy(a, eq + 1, la);
	a[la] = '\0';
	memcpy(b, rest, lb);
	b[lb] = '\0';
	if (colon)
		snprintf(st, sizeof(st), "%s", colon + 1);
	double va, vb, step;
	if (parse_sweep_num(a, &va) < 0 || parse_sweep_num(b, &vb) < 0 || (colon && parse_sweep_num(st, &step) < 0)) {
		*why = xasprintf("--sweep %s: A, B and STEP are numbers (with k/M/G, a size or a time unit)", spec);
		return -EINVAL;
	}
	if (vb < va) {
		*why = xasprintf("--sweep %s: B is below A", spec);
		return -EINVAL;
	}
	if (!colon)
		step = va == floor(va) && vb == floor(vb) ? 1 : (vb - va) / 10;
	if (!(step > 0) && vb > va) {
		*why = xasprintf("--sweep %s: STEP must be above 0", spec);
		return -EINVAL;
	}
	double cnt = vb > va ? floor((vb - va) / step + 1e-9) + 1 : 1;
	if (cnt > MAX_POINTS) {
		*why = xasprintf("--sweep %s: %.0f values, at most %d", spec, cnt, MAX_POINTS);
		return -EINVAL;
	}
	*n = (unsigned)cnt;
	*vals = xcalloc(*n, sizeof(double));
	for (unsigned i = 0; i < *n; i++)
		(*vals)[i] = va + step * i;
	*key = xstrndup(spec, (size_t)(eq - spec));
	return 0;
}

static void fmt_value(char *buf, size_t n, double v)
{
	if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, n, "%.0f", v);
	else
		snprintf(buf, n, "%.10g", v);
}

struct sweep {
	const struct sim_scenario *base;
	const char *key;
	const double *vals;
	unsigned n, next;
	struct sim_result **res;
	char **err;		/* per point */
	pthread_mutex_t lock;
};

static void *sweep_worker(void *arg)
{
	struct sweep *sw = arg;
	for (;;) {
		pthread_mutex_lock(&sw->lock);
		unsigned i = sw->next < sw->n && !hq_exiting ? sw->next++ : sw->n;
		pthread_mutex_unlock(&sw->lock);
		if (i >= sw->n)
			return NULL;
		struct sim_scenario sc;
		sim_scenario_copy(&sc, sw->base);
		char v[64];
		fmt_value(v, sizeof(v), sw->vals[i]);
		struct sim_error e = { 0 };
		if (sim_scenario_set(&sc, sw->key, v, &e) < 0) {
			sw->err[i] = xasprintf("--sweep %s=%s: %s", sw->key, v, e.msg);
			free(e.msg);
		} else {
			struct sim_opts o = { .stop = &hq_exiting };
			char *why = NULL;
			if (sim_run(&sc, &o, &sw->res[i], &why) < 0)
				sw->err[i] = why;
		}
		sim_scenario_free(&sc);
	}
}

static int run_sweep(const char *path, const struct sim_scenario *sc, const char *spec, unsigned jobs, bool json,
		     bool csv)
{
	char *key = NULL, *why = NULL;
	double *vals = NULL;
	unsigned n = 0;
	if (parse_sweep(spec, &key, &vals, &n, &why) < 0) {
		int r = cmd_fail(json, why);
		free(why);
		return r;
	}
	struct sweep sw = { .base = sc, .key = key, .vals = vals, .n = n };
	sw.res = xcalloc(n, sizeof(*sw.res));
	sw.err = xcalloc(n, sizeof(*sw.err));
	pthread_mutex_init(&sw.lock, NULL);
	if (jobs > n)
		jobs = n;
	pthread_t *th = xcalloc(jobs, sizeof(*th));
	unsigned started = 0;
	for (unsigned i = 1; i < jobs; i++)
		if (pthread_create(&th[i], NULL, sweep_worker, &sw) == 0)
			started = i;
		else
			break;
	sweep_worker(&sw);
	for (unsigned i = 1; i <= started; i++)
		pthread_join(th[i], NULL);
	free(th);
	pthread_mutex_destroy(&sw.lock);
	int rc = 0;
	for (unsigned i = 0; i < n && !rc; i++)
		if (sw.err[i] || !sw.res[i]) {
			rc = cmd_fail(json, sw.err[i] ? sw.err[i] : "interrupted");
		}
	if (!rc) {
		struct sim_point *pt = xcalloc(n, sizeof(*pt));
		for (unsigned i = 0; i < n; i++) {
			pt[i].x = vals[i];
			pt[i].r = sw.res[i];
		}
		if (csv) {
			sim_sweep_csv(stdout, key, pt, n);
		} else if (json) {
			json_t *o = sim_sweep_json(path, key, pt, n);
			json_dumpf(o, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
			fputc('\n', stdout);
			json_decref(o);
		} else {
			sim_sweep_text(stdout, path, key, pt, n);
		}
		free(pt);
	}
	for (unsigned i = 0; i < n; i++) {
		sim_result_free(sw.res[i]);
		free(sw.err[i]);
	}
	free(sw.res);
	free(sw.err);
	free(vals);
	free(key);
	return rc;
}

int cmd_sim(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bundle", required_argument, NULL, 'b' }, { "vm", required_argument, NULL, 'm' },
		{ "view", required_argument, NULL, 'w' },   { "seed", required_argument, NULL, 's' },
		{ "set", required_argument, NULL, 'S' },    { "sweep", required_argument, NULL, 'W' },
		{ "csv", no_argument, NULL, 'c' },	    { "jobs", required_argument, NULL, 'J' },
		{ 0 },
	};
	bool csv = false;
	const char *bundle = NULL, *vm = NULL, *view = NULL, *seed = NULL, *sweep = NULL;
	const char *sets[MAX_SETS];
	unsigned nsets = 0;
	long jobs = sysconf(_SC_NPROCESSORS_ONLN);
	int c;
	struct cmd_parse p;
	cmd_parse_init(&p, "sim", argc, argv, "J:", opts, usage);
	p.repeatable = (const char *const[]){ "set", NULL };
	while ((c = cmd_parse_next(&p)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return p.exit_code;
		case 'b': bundle = optarg; break;
		case 'm': vm = optarg; break;
		case 'w':
			view = optarg;
			if (strcmp(view, "guest") && strcmp(view, "host"))
				return cmd_failf("bad --view '%s': guest or host", optarg);
			break;
		case 's': {
			uint64_t v;
			if (parse_uint(optarg, UINT64_MAX, &v) < 0)
				return cmd_failf("bad --seed '%s': a whole number from 0 to %llu", optarg,
						 (unsigned long long)UINT64_MAX);
			seed = optarg;
			break;
		}
		case 'S':
			if (nsets == MAX_SETS)
				return cmd_failf("too many --set options (%d at most)", MAX_SETS);
			sets[nsets++] = optarg;
			break;
		case 'W': sweep = optarg; break;
		case 'c': csv = true; break;
		case 'J': {
			uint64_t j;
			if (parse_uint(optarg, 1024, &j) < 0 || j == 0)
				return cmd_failf("bad --jobs '%s': a number from 1 to 1024", optarg);
			jobs = (long)j;
			break;
		}
		}
	}
	bool json = hq_json;
	if (optind >= argc)
		return cmd_fail(json, "sim: give a scenario file (hiddenq sim --help)");
	const char *path = argv[optind++];
	if (cmd_parse_end(&p))
		return EXIT_UNUSABLE;
	if (jobs < 1)
		jobs = 1;
	if (sweep && bundle)
		return cmd_fail(json, "--bundle writes one run: it does not go with --sweep");
	if ((vm || view) && !bundle)
		return cmd_failf("--%s chooses what --bundle writes: give --bundle DIR too", vm ? "vm" : "view");
	if (cmd_parse_count(&p, "jobs") && !sweep)
		return cmd_fail(json, "--jobs is for --sweep (one run is one thread)");
	if (csv && json)
		return cmd_fail(json, "--csv and --json: pick one");
	if (csv && !sweep)
		return cmd_fail(json, "--csv is for --sweep");
	char *why = NULL;
	char *text = read_all(path, &why);
	if (!text) {
		int r = cmd_fail(json, why);
		free(why);
		return r;
	}
	struct sim_scenario sc;
	struct sim_error e = { 0 };
	int rc = 0;
	if (sim_scenario_parse(text, &sc, &e) < 0) {
		rc = scenario_fail(json, path, &e);
		free(e.msg);
		free(text);
		return rc;
	}
	free(text);
	/* the command line over the file */
	for (unsigned i = 0; i < nsets; i++) {
		const char *eq = strchr(sets[i], '=');
		if (!eq || eq == sets[i]) {
			rc = cmd_fail(json, "--set: expected SECTION.KEY=VALUE");
			goto out;
		}
		char *k = xstrndup(sets[i], (size_t)(eq - sets[i]));
		int r = sim_scenario_set(&sc, k, eq + 1, &e);
		free(k);
		if (r < 0) {
			char *m = xasprintf("--set %s: %s", sets[i], e.msg);
			rc = cmd_fail(json, m);
			free(m);
			free(e.msg);
			goto out;
		}
	}
	struct {
		const char *key, *val;
	} ov[] = { { "sim.seed", seed }, { "bundle.vm", vm }, { "bundle.view", view } };
	for (size_t i = 0; i < ARRAY_SIZE(ov); i++) {
		if (!ov[i].val)
			continue;
		if (sim_scenario_set(&sc, ov[i].key, ov[i].val, &e) < 0) {
			char *m = xasprintf("--%s %s: %s", strchr(ov[i].key, '.') + 1, ov[i].val, e.msg);
			rc = cmd_fail(json, m);
			free(m);
			free(e.msg);
			goto out;
		}
	}
	install_exit_handlers();
	if (sweep) {
		rc = run_sweep(path, &sc, sweep, (unsigned)jobs, json, csv);
		goto out;
	}
	struct bundle_out bo = { .dir = bundle };
	struct sim_opts o = { .stop = &hq_exiting };
	if (bundle) {
		if (!sc.nvms) {
			rc = cmd_fail(json, "--bundle writes a VM's view: the scenario has no [vm]");
			goto out;
		}
		if (bundle_dir_ok(bundle, &why) < 0) {
			rc = cmd_fail(json, why);
			free(why);
			goto out;
		}
		o.on_sample = on_sample;
		o.arg = &bo;
	}
	struct sim_result *r = NULL;
	int sr = sim_run(&sc, &o, &r, &why);
	if (bo.open)
		bundle_finish(&bo.w, sr == 0 && !hq_exiting);
	if (sr < 0) {
		char *m = bo.why ? xasprintf("%s (%s)", why, bo.why) : xstrdup(why);
		rc = cmd_fail(json, m);
		free(m);
		free(why);
		free(bo.why);
		goto out;
	}
	free(bo.why);
	if (json) {
		json_t *doc = sim_result_json(path, &sc, r);
		json_dumpf(doc, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
		fputc('\n', stdout);
		json_decref(doc);
	} else {
		sim_print_text(stdout, path, &sc, r);
	}
	if (bundle && !json)
		fprintf(stdout, "wrote %s: hiddenq diagnose --replay %s\n", bundle, bundle);
	sim_result_free(r);
	if (hq_exiting)
		rc = EXIT_UNUSABLE;
out:
	sim_scenario_free(&sc);
	return rc;
}
