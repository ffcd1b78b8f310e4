/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * What the commands share: their options and errors (the conventions below),
 * the sources options, and "watch": run the live sampler or replay a bundle
 * into an analysis.
 */
#ifndef HQ_CMDUTIL_H
#define HQ_CMDUTIL_H

#include <stdbool.h>
#include <stdio.h>

#include "../analysis/analysis.h"
#include "../engine/engine.h"
#include "../sample/bundle.h"
#include "../sample/sampler.h"

/*
 * Command conventions (docs/architecture.md, "Command conventions"):
 *
 * - Options go through cmd_parse: it adds the global options (-j/--json,
 *   -q/--quiet, --color WHEN, -h/--help, -V/--version) to the command's
 *   table, knows --json before it reports anything, rejects unknown options,
 *   missing values and a single-valued option given twice with the one error
 *   shape, and checks that no operand is left.  A command never lists the
 *   global options in its own table and reads them from hq_json, hq_quiet
 *   and hq_color (core/util.h).
 * - Every error goes through cmd_fail / cmd_failf: "hiddenq: MESSAGE" on
 *   stderr, and with --json {"hiddenq": VERSION, "error": MESSAGE, "exit": 3}
 *   on stdout.  Exit 3.
 * - Options that only make sense live are refused with --replay
 *   (cmd_parse_refuse_with), never silently ignored.
 */

/* The error on stderr, and with --json (json or hq_json) also {"error": ...}
 * on stdout.  Returns EXIT_UNUSABLE (3). */
int cmd_fail(bool json, const char *msg);
int cmd_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Commands whose JSON is one object per line (watch) set this: errors on one line too. */
extern bool cmd_json_lines;
/* After getopt: a leftover operand is an error (EXIT_UNUSABLE, reported), else 0. */
int cmd_no_operands(bool json, int argc, char **argv);

struct option;
struct cmd_sources;
/*
 * One command's options:
 *
 *	struct cmd_parse p;
 *	cmd_parse_init(&p, "diagnose", argc, argv, "d:i:r:", opts, usage);
 *	p.cs = &cs;			(optional: the sources options, below)
 *	p.repeatable = (const char *const[]){ "threshold", NULL };
 *	while ((c = cmd_parse_next(&p)) != -1) {
 *		if (c == CMD_PARSE_EXIT)
 *			return p.exit_code;	(help or version printed, or an error reported)
 *		switch (c) { ... the command's own options ... }
 *	}
 *	if (cmd_parse_end(&p))
 *		return EXIT_UNUSABLE;		(an operand was left)
 *
 * Short options "j", "q", "h" and "V" belong to the global options: a
 * command's short option string must not use them for anything else.
 */
#define CMD_PARSE_EXIT (-2)
struct cmd_parse {
	const char *name;		/* "diagnose", "probe jitter": named in messages */
	int argc;
	char **argv;
	void (*usage)(FILE *out);
	struct cmd_sources *cs;		/* the sources options too (cmd_sources_*), or NULL */
	const char *const *repeatable;	/* long names that may be given more than once, NULL-ended */
	int exit_code;			/* when cmd_parse_next returned CMD_PARSE_EXIT */
	/* private */
	const char *shortopts, *base_short;
	const struct option *base;
	struct option *all;
	unsigned *seen;
	size_t nall;
	bool scanned;
};
void cmd_parse_init(struct cmd_parse *p, const char *name, int argc, char **argv, const char *shortopts,
		    const struct option *opts, void (*usage)(FILE *out));
/* The next of the command's own options (getopt_long's value, optarg set), -1 at the end, or
 * CMD_PARSE_EXIT with p->exit_code. */
int cmd_parse_next(struct cmd_parse *p);
/* After the loop: an operand left is reported; EXIT_UNUSABLE, else 0.  (The tables are static:
 * one command runs per process, and an early return leaks nothing.) */
int cmd_parse_end(struct cmd_parse *p);
/* How often the long option `name` was given (during the loop or after it). */
unsigned cmd_parse_count(const struct cmd_parse *p, const char *name);
/*
 * With --replay (a bundle or recording read instead of the machine), the
 * live-only options given are refused: the first of `names` (long names,
 * NULL-ended) that was given, and any sources option, is reported with why
 * and EXIT_UNUSABLE returned; 0 if none was given.  Call before cmd_parse_end.
 */
int cmd_parse_refuse_with(struct cmd_parse *p, const char *with, const char *const *names);

/*
 * The global options before a command's own name or operand ("hiddenq --json
 * vms", "hiddenq probe -q jitter"): from argv[1] on, set the output mode and
 * *next to the first other argument.  -1 to go on; or the exit code when
 * --help (usage printed), --version or a bad --color ended the command.
 */
int cmd_globals(int argc, char **argv, int *next, void (*usage)(FILE *out));
/* Before reporting that argv[from] names nothing: a later --json still asks for a JSON error. */
void cmd_json_anywhere(int argc, char **argv, int from);

/* The end of every command's --help: the global options, then "Exit status: " and the
 * command's codes (a sentence or more, wrapped by the caller with \n). */
void cmd_help_end(FILE *out, const char *exit_status);

/* "hiddenq 0.1.0" and the features this build has, as text or (hq_json) JSON on stdout.  EXIT_OK. */
int cmd_version(void);
/* "bpf,numa,hwloc,libxml2,http": what this build can do (the static build lacks some). */
const char *cmd_features(void);

/*
 * Thresholds from the command line: back to thresholds.def, then the file
 * (--thresholds), then each -t.  0; or -EINVAL with *why (malloc'd) and
 * the thresholds as they were before the call.
 */
int thresholds_apply_args(const char *file, const char *const *specs, size_t n, char **why);

/*
 * A point in time from the command line: "2026-12-03T02:00[:SS][.fff][Z]"
 * (local time unless Z; the date alone is its midnight) or "@EPOCH" seconds.
 * 0 with *out in CLOCK_REALTIME ns, or -EINVAL with *why.
 */
int parse_time_arg(const char *s, uint64_t *out, char **why);

/*
 * --qmp NAME=SOCKET (vms, diagnose, capture, serve: repeatable, live only): the
 * shape checked and arg appended to qmp (room for VMSCAN_MAX_QMP + 1, kept
 * NULL-ended); 0, or the error reported and EXIT_UNUSABLE.  cmd_qmp_check,
 * after the options (so that --replay's refusal comes first): NULL when the
 * socket is there, else why not (malloc'd).
 */
int cmd_qmp_arg(const char **qmp, unsigned *nqmp, const char *arg);
char *cmd_qmp_check(const char *spec);

/* meta.json of a capture or a recording of the live machine (count 0: until stopped). */
json_t *capture_meta(const struct sampler *sp, uint64_t interval_ns, uint64_t count);

/*
 * The sources table on the command line, the same in every command that
 * samples: --no-NAME for every source that can be switched off, --sources
 * LIST (NAME, +NAME, -NAME, comma separated: bare names are the whole set,
 * signs change the defaults), --stalls METHOD and --no-bpf (the three eBPF
 * histogram sources).  A command adds them with cmd_options_with_sources
 * (base plus those, a static {0}-ended table), hands every option it does
 * not know itself to cmd_sources_arg, and builds its sampler options with
 * cmd_sources_apply: never the sampler's booleans by hand.
 */
struct cmd_sources {
	uint64_t mask;			/* SRC_BIT of core/catalog.h */
	enum stall_method stalls;
};
#define SRC_BPF_MASK (SRC_BIT(SRC_RUNQLAT) | SRC_BIT(SRC_BIOLAT) | SRC_BIT(SRC_COMPACT))
void cmd_sources_init(struct cmd_sources *cs);
struct option *cmd_options_with_sources(const struct option *base);
/* 1: handled; 0: not a sources option; -1: bad (reported via cmd_fail(json)) */
int cmd_sources_arg(struct cmd_sources *cs, int c, const char *arg, bool json);
/* Sets so's sources, booleans and stall method (keeps interval, count, ...). */
void cmd_sources_apply(const struct cmd_sources *cs, struct sampler_opts *so);
/* Whether source s may be switched off (not cpu, identity, topology, the engine, memory). */
bool cmd_source_switchable(enum source_id s);
/* The --stalls, --no-bpf, --sources and --no-NAME lines of --help, from the table */
void cmd_sources_help(FILE *out);

struct watch {
	bool live;
	struct sampler sp;
	struct bundle_reader br;
	struct engine *engine;	/* fed every sample; freed by watch_done */
	/* called after each sample is fed (continuous commands evaluate here) */
	void (*after)(struct watch *w, const struct sample *s, void *arg);
	void *after_arg;
	uint64_t from_real, to_real;	/* replay only this slice (0: open); set before watch_run */
};

/*
 * Open the live machine with `so` (replay == NULL) or the bundle `replay`,
 * start w->engine (with `eo`) on its statics, and feed it every sample,
 * calling w->after (set before, or NULL) after each.  Live, it runs
 * so->count ticks (0: until SIGINT/SIGTERM).  `progress` ("watching VMs")
 * is shown on a terminal for live runs.  On failure the reason is reported
 * with cmd_fail and EXIT_UNUSABLE returned, with nothing left to clean up;
 * on success 0, and watch_done() must follow.
 */
int watch_run(struct watch *w, const char *replay, const struct sampler_opts *so, const struct engine_opts *eo,
	      bool json, const char *progress);
void watch_done(struct watch *w);

#endif
