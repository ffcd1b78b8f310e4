/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hiddenq top: the engine on screen.  A panel per layer from the catalog's
 * series (sinks/top.def), coloured by the thresholds, findings on a status
 * line; or, off a terminal (or with --batch), one block of plain lines or
 * one JSON object per sample.
 *
 * Live, the engine runs where `watch` runs it (watch_run) on a thread of its
 * own, which turns each sample into a frame (sinks/top.h) and wakes the
 * screen through a pipe; the screen thread draws on a frame or a key and
 * otherwise sleeps in poll.  So top costs the engine's sampling plus one
 * frame and one redraw per sample.
 *
 * Replay reads the input itself: one sample per step forward; a step back
 * re-reads from the input only what the engine needs to stand where it
 * stood then (its longest window, one step and the sparklines' history
 * before the target), never from the start, so it costs the same anywhere
 * in a long recording.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/util.h"
#include "../engine/engine.h"
#include "../sinks/top.h"
#include "../sinks/topui.h"
#include "cmd.h"
#include "cmdutil.h"

static void usage(FILE *out)
{
	fputs("Usage: hiddenq top [OPTIONS]\n"
	      "\n"
	      "Every hidden queue on one screen, refreshed each sample: a panel per layer\n"
	      "(CPU and steal, the guest's run queue and CPU caps, memory, THP, swap and\n"
	      "NUMA, block IO, network queues, VMs on a KVM host), values coloured by the\n"
	      "thresholds, per-vCPU steal as a history, the findings on a status line.\n"
	      "Not on a terminal (or with --batch) it prints one block of plain lines per\n"
	      "sample instead, like top -b.\n"
	      "\n"
	      "Options:\n"
	      "  -i, --interval TIME     sampling interval (default 1s; at least 100ms; live)\n"
	      "  -w, --window TIME       judge every finding over this window (default: each\n"
	      "                          finding's own, 60 s)\n"
	      "  -r, --replay INPUT      a capture bundle or a recording instead of this machine;\n"
	      "                          starts paused at its beginning\n"
	      "      --from TIME         with --replay: from TIME (2026-12-03T02:00[:SS][Z]\n"
	      "      --to TIME           or @EPOCH-SECONDS) to TIME\n"
	      "  -b, --batch             plain blocks, even on a terminal\n"
	      "  -n, --count N           print N blocks, then exit (implies --batch)\n"
	      "  -t, --threshold NAME=WARN,CRIT  override a threshold (repeatable)\n"
	      "      --thresholds FILE   threshold overrides from an INI file\n"
	      "With --json (global): plain blocks as one JSON object per sample (implies --batch).\n",
	      out);
	cmd_sources_help(out);
	fputs("\n"
	      "Keys: h or ? help, q quit, space pause (replay: play / stop), Tab and\n"
	      "Shift-Tab or 1-7 panels, s S < > sort by a column, r reverse, up/down scroll;\n"
	      "in replay left/right one sample, PgUp/PgDn a minute of samples, Home/End.\n"
	      "\n"
	      "Values are rates over the last second (the last slow tick, 5 s, for cgroups,\n"
	      "qdiscs, NUMA and the eBPF histograms), gauges as last read.\n",
	      out);
	cmd_help_end(out, "0 quit, stopped by a signal or at the end of the blocks; 3 could\n"
			  "not start (bad arguments, unreadable input, bad thresholds).");
	fputs("\n"
	      "Examples:\n"
	      "  hiddenq top\n"
	      "  hiddenq top --replay /var/lib/hiddenq/rec.db --from 2026-12-03T02:00\n"
	      "  hiddenq top -b -n 5 --json | jq '.panels.CPU'\n",
	      out);
}

struct topopts {
	uint64_t interval, window, from, to;
	const char *replay;
	bool batch, json;
	unsigned long count;	/* blocks to print (0: until stopped) */
	struct cmd_sources cs;
};

/* ---------------- replay: the input read forward, re-read to step back ---------------- */

struct replay {
	const char *path;
	uint64_t from, to;		/* the slice asked for (0: open) */
	struct engine_opts eo;
	struct bundle_reader br;
	bool open;
	struct engine *e;
	uint64_t *real;			/* CLOCK_REALTIME of every sample seen so far, by number */
	size_t nreal, capreal;
	long pos;			/* the number of the last sample fed (-1: none) */
	long next;			/* the number the next sample read will have */
	struct sample ahead;		/* the next sample, read ahead to know where the input ends */
	bool have_ahead, at_end;
	uint64_t interval_ns;
	unsigned long reads;		/* samples read since the start (for the bench and tests) */
};

static void replay_close(struct replay *r)
{
	if (r->have_ahead)
		sample_done(&r->ahead);
	r->have_ahead = false;
	engine_free(r->e);
	r->e = NULL;
	if (r->open)
		bundle_close(&r->br);
	r->open = false;
}

static bool in_slice(const struct replay *r, uint64_t real, uint64_t from)
{
	return (!from || real >= from) && (!r->to || real <= r->to);
}

static void read_ahead(struct replay *r)
{
	r->have_ahead = bundle_next(&r->br, &r->ahead) > 0;
	r->at_end = !r->have_ahead;
	if (r->have_ahead)
		r->reads++;
}

/* The first number whose sample is at or after `real` (the samples seen so far are in time order). */
static long number_at(const struct replay *r, uint64_t real)
{
	size_t a = 0, b = r->nreal;
	while (a < b) {
		size_t m = (a + b) / 2;
		if (r->real[m] < real)
			a = m + 1;
		else
			b = m;
	}
	return (long)a;
}

/*
 * (Re)open the input at the first sample at or after `from` (within the
 * slice) with a fresh engine; nothing fed yet.  0, or -1 with *why.
 */
static int replay_open(struct replay *r, uint64_t from, char **why)
{
	replay_close(r);
	if (bundle_open(&r->br, r->path, why) < 0)
		return -1;
	r->open = true;
	/* the statics come with the first sample: read it before the engine starts (as watch_run does) */
	struct sample s;
	if (bundle_next(&r->br, &s) <= 0) {
		*why = xasprintf("%s: no usable sample in the input", r->path);
		replay_close(r);
		return -1;
	}
	r->reads++;
	struct engine_opts o = r->eo;
	o.interval_ns = r->br.interval_ns;
	r->interval_ns = r->br.interval_ns;
	r->e = engine_new(&r->br.statics, r->path, &o);
	if (from < r->from)
		from = r->from;
	bundle_range(&r->br, from, r->to);
	if (in_slice(r, s.real_ns, from)) {
		r->ahead = s;
		r->have_ahead = true;
		r->at_end = false;
	} else {
		sample_done(&s);
		read_ahead(r);
	}
	if (!r->have_ahead) {
		*why = xasprintf("%s: no sample in the --from/--to range", r->path);
		replay_close(r);
		return -1;
	}
	r->next = number_at(r, r->ahead.real_ns);
	r->pos = r->next - 1;
	return 0;
}

/* Feed the next sample to the engine and push its frame into v (findings with `judge`).  false at the end. */
static bool replay_step(struct replay *r, struct top_view *v, bool judge)
{
	if (!r->have_ahead)
		return false;
	struct sample s = r->ahead;
	r->have_ahead = false;
	long n = r->next++;
	if ((size_t)n == r->nreal) {
		xgrow((void **)&r->real, sizeof(*r->real), &r->capreal, r->nreal);
		r->real[r->nreal++] = s.real_ns;
	} else if (NEVER((size_t)n > r->nreal)) {
		return false;
	} else if (r->real[n] != s.real_ns) {
		/* the input changed under us (a recording still growing and rotating): trust what is read now */
		r->real[n] = s.real_ns;
		r->nreal = (size_t)n + 1;
	}
	if (r->interval_ns == 0 && n > 0 && s.real_ns > r->real[n - 1])
		r->interval_ns = s.real_ns - r->real[n - 1];
	engine_feed(r->e, &s);
	r->pos = n;
	read_ahead(r);
	if (v)
		top_view_push(v, top_frame_new(r->e, s.mono_ns, s.real_ns, judge || r->at_end));
	sample_done(&s);
	return true;
}

/* How far before a target a step back starts feeding: what the engine and the sparklines hold. */
static uint64_t replay_lookback(const struct replay *r, unsigned history)
{
	uint64_t iv = r->interval_ns ? r->interval_ns : 1000000000ull;
	uint64_t eng = r->e ? r->e->horizon_ns + r->e->o.step_ns : 70 * 1000000000ull;
	return eng + (uint64_t)history * iv + 2 * iv;
}

/*
 * Stand at sample number `target` (clamped to the input): forward by
 * feeding, back by re-reading from replay_lookback before it.  Every
 * sample fed pushes a frame; the last one is judged.
 */
static int replay_seek(struct replay *r, struct top_view *v, long target, unsigned history, char **why)
{
	if (target < 0)
		target = 0;
	if (target < r->pos || !r->e) {
		uint64_t look = replay_lookback(r, history);
		uint64_t at = (size_t)target < r->nreal ? r->real[target] : 0;
		if (replay_open(r, at > look ? at - look : 0, why) < 0)
			return -1;
		top_view_clear(v);
	}
	while (r->pos < target && r->have_ahead)
		replay_step(r, v, r->pos + 1 == target);
	return 0;
}

/* ---------------- batch ---------------- */

struct batch {
	struct top_view *v;
	bool json;
	unsigned long count, printed, sample;
	const char *source;
};

static void batch_print(struct batch *b)
{
	struct top_block_info bi = { .source = b->source, .sample = b->sample };
	if (b->json)
		top_print_json(stdout, b->v, &bi);
	else
		top_print_text(stdout, b->v, &bi);
	b->printed++;
}

static void batch_after(struct watch *w, const struct sample *s, void *arg)
{
	struct batch *b = arg;
	if (b->count && b->printed >= b->count)
		return; /* the sampler's closing sample after a signal */
	top_view_push(b->v, top_frame_new(w->engine, s->mono_ns, s->real_ns, true));
	b->sample++;
	if (top_view_frames(b->v) >= 2) /* rates need two samples */
		batch_print(b);
}

static int run_batch_live(const struct topopts *o, struct top_view *v, struct sampler_opts *so,
			  const struct engine_opts *eo)
{
	struct batch b = { .v = v, .json = o->json, .count = o->count, .source = "live" };
	so->count = o->count ? (unsigned)o->count + 1 : 0;
	struct watch w = { .after = batch_after, .after_arg = &b };
	if (watch_run(&w, NULL, so, eo, o->json, "sampling") != 0)
		return EXIT_UNUSABLE;
	watch_done(&w);
	return EXIT_OK;
}

/* The input opened by cmd_top: every sample in the slice, a block each from the second. */
static int run_batch_replay(const struct topopts *o, struct top_view *v, struct replay *r)
{
	struct batch b = { .v = v, .json = o->json, .count = o->count, .source = o->replay };
	while (!hq_exiting && (!b.count || b.printed < b.count) && replay_step(r, v, true)) {
		b.sample = (unsigned long)r->pos + 1;
		if (top_view_frames(v) >= 2)
			batch_print(&b);
	}
	return EXIT_OK;
}

/* ---------------- on a terminal ---------------- */

/* While the screen is ours, stderr goes to a file, shown once the screen is given back. */
struct errsave {
	int saved, tmp;
};

static void err_capture(struct errsave *es)
{
	fflush(stderr);
	es->saved = dup(STDERR_FILENO);
	FILE *t = tmpfile();
	es->tmp = t ? dup(fileno(t)) : -1;
	if (t)
		fclose(t);
	if (es->saved >= 0 && es->tmp >= 0)
		dup2(es->tmp, STDERR_FILENO);
}

static void err_release(struct errsave *es)
{
	fflush(stderr);
	if (es->saved >= 0) {
		dup2(es->saved, STDERR_FILENO);
		close(es->saved);
	}
	if (es->tmp >= 0) {
		char buf[4096];
		ssize_t n;
		lseek(es->tmp, 0, SEEK_SET);
		while ((n = read(es->tmp, buf, sizeof(buf))) > 0)
			if (write(STDERR_FILENO, buf, (size_t)n) < 0)
				break;
		close(es->tmp);
	}
	es->saved = es->tmp = -1;
}

/* The keys every mode shares.  Returns true when the screen must be drawn again. */
static bool common_key(int a, struct top_view *v, struct top_ui_state *st, bool *quit)
{
	size_t np;
	const struct top_panel *ps = top_panels(&np);
	if (st->help && a != TA_RESIZE && a != TA_NONE) {
		st->help = false;
		if (a != TA_QUIT)
			return true;
	}
	int col;
	bool rev;
	top_view_get_sort(v, st->panel, &col, &rev);
	int t = top_panel_sort_table(st->panel);
	int ncols = t >= 0 ? (int)ps[st->panel].tables[t].ncols : 0;
	switch (a) {
	case TA_QUIT: *quit = true; return false;
	case TA_HELP: st->help = true; return true;
	case TA_PANEL_NEXT: st->panel = (st->panel + 1) % np; st->scroll = 0; return true;
	case TA_PANEL_PREV: st->panel = (st->panel + np - 1) % np; st->scroll = 0; return true;
	case TA_SORT_NEXT:
	case TA_SORT_PREV:
		if (!ncols)
			return false;
		/* -1 (the row labels), 0 .. ncols-1, round */
		col = a == TA_SORT_NEXT ? (col + 2) % (ncols + 1) - 1 : (col + ncols + 1) % (ncols + 1) - 1;
		top_view_sort(v, st->panel, col, false);
		return true;
	case TA_REVERSE: top_view_sort(v, st->panel, col, !rev); return true;
	case TA_UP: st->scroll = st->scroll > 0 ? st->scroll - 1 : 0; return true;
	case TA_DOWN: st->scroll++; return true;
	case TA_RESIZE:
	case TA_REDRAW: return true;
	default:
		if (a >= TA_PANEL0 && (size_t)(a - TA_PANEL0) < np) {
			st->panel = (size_t)(a - TA_PANEL0);
			st->scroll = 0;
			return true;
		}
		return false;
	}
}

/* The live engine on its own thread (sampling and the frames), the screen on the main one. */
struct live {
	pthread_mutex_t mu;
	struct top_frame *pending;	/* the newest frame the screen has not taken */
	unsigned long seq;		/* frames made */
	bool done;
	int rc;
	int pipe[2];			/* a byte per frame: wakes the screen */
	struct watch w;
	struct sampler_opts so;
	struct engine_opts eo;
};

static void wake(struct live *L)
{
	char c = 1;
	if (write(L->pipe[1], &c, 1) < 0) {
		/* full: the screen has a wake-up pending already */
	}
}

static void live_after(struct watch *w, const struct sample *s, void *arg)
{
	struct live *L = arg;
	struct top_frame *f = top_frame_new(w->engine, s->mono_ns, s->real_ns, true);
	pthread_mutex_lock(&L->mu);
	struct top_frame *old = L->pending;
	L->pending = f;
	L->seq++;
	pthread_mutex_unlock(&L->mu);
	top_frame_free(old);
	wake(L);
}

static void *live_thread(void *arg)
{
	struct live *L = arg;
	int rc = watch_run(&L->w, NULL, &L->so, &L->eo, false, "sampling");
	if (rc == 0)
		watch_done(&L->w);
	pthread_mutex_lock(&L->mu);
	L->done = true;
	L->rc = rc;
	pthread_mutex_unlock(&L->mu);
	wake(L);
	return NULL;
}

static int run_tui_live(const struct topopts *o, struct top_view *v, const struct sampler_opts *so,
			const struct engine_opts *eo)
{
	struct live L = { .so = *so, .eo = *eo, .pipe = { -1, -1 } };
	pthread_mutex_init(&L.mu, NULL);
	if (pipe2(L.pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return cmd_fail(false, "cannot make a pipe for the screen thread");
	L.w.after = live_after;
	L.w.after_arg = &L;
	install_exit_handlers();
	/* SIGWINCH to the screen's thread only: the sampler and its threads block it */
	sigset_t winch, old;
	sigemptyset(&winch);
	sigaddset(&winch, SIGWINCH);
	pthread_sigmask(SIG_BLOCK, &winch, &old);
	pthread_t th;
	int err = pthread_create(&th, NULL, live_thread, &L);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		close(L.pipe[0]);
		close(L.pipe[1]);
		return cmd_fail(false, "cannot start the sampling thread");
	}
	struct top_ui_state st = { .source = "live", .interval_ns = o->interval };
	bool quit = false, dirty = true;
	while (!quit && !hq_exiting) {
		struct pollfd pf[2] = { { .fd = STDIN_FILENO, .events = POLLIN }, { .fd = L.pipe[0], .events = POLLIN } };
		if (dirty) {
			top_ui_draw(v, &st);
			dirty = false;
		}
		/* a second's timeout only to notice a signal that reached the other thread */
		int n = poll(pf, 2, 1000);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (pf[1].revents & POLLIN)) {
			char buf[64];
			while (read(L.pipe[0], buf, sizeof(buf)) > 0) {
			}
			struct top_frame *f = NULL;
			pthread_mutex_lock(&L.mu);
			bool done = L.done;
			if (!st.paused) {
				f = L.pending;
				L.pending = NULL;
				st.sample = L.seq;
			}
			pthread_mutex_unlock(&L.mu);
			if (f) {
				top_view_push(v, f);
				dirty = true;
			}
			if (done)
				break;
		}
		for (int a; (a = top_ui_key()) != TA_NONE;) {
			bool help = st.help;
			if (common_key(a, v, &st, &quit))
				dirty = true;
			if (a == TA_PAUSE && !help) {
				st.paused = !st.paused;
				dirty = true;
				if (!st.paused)
					wake(&L); /* take the newest frame now */
			}
		}
	}
	hq_exiting = 1;
	pthread_kill(th, SIGINT); /* out of the sampler's sleep */
	pthread_join(th, NULL);
	top_frame_free(L.pending);
	close(L.pipe[0]);
	close(L.pipe[1]);
	pthread_mutex_destroy(&L.mu);
	return L.rc;
}

static int run_tui_replay(const struct topopts *o, struct top_view *v, struct replay *r, unsigned history)
{
	(void)o;
	char *why = NULL;
	struct top_ui_state st = { .source = r->path, .replay = true, .paused = true };
	if (replay_seek(r, v, 1, history, &why) < 0) {
		top_ui_close();
		int code = cmd_fail(false, why);
		free(why);
		return code;
	}
	install_exit_handlers();
	bool quit = false, dirty = true;
	uint64_t next_play = 0;
	char note[160];
	while (!quit && !hq_exiting) {
		st.interval_ns = r->interval_ns;
		uint64_t iv = r->interval_ns ? r->interval_ns : 1000000000ull;
		st.big_step = (unsigned)(60000000000ull / iv);
		if (st.big_step < 10)
			st.big_step = 10;
		st.sample = (unsigned long)r->pos + 1;
		st.at_start = r->pos <= 0;
		st.at_end = r->at_end;
		if (dirty) {
			top_ui_draw(v, &st);
			st.note = NULL;
			dirty = false;
		}
		int timeout = 1000;
		if (!st.paused) {
			uint64_t now = mono_ns();
			timeout = next_play > now ? (int)((next_play - now) / 1000000) + 1 : 0;
		}
		struct pollfd pf = { .fd = STDIN_FILENO, .events = POLLIN };
		int n = poll(&pf, 1, timeout);
		if (n < 0 && errno != EINTR)
			break;
		long target = r->pos;
		for (int a; (a = top_ui_key()) != TA_NONE;) {
			bool help = st.help;
			if (common_key(a, v, &st, &quit))
				dirty = true;
			if (help)
				continue; /* that key closed the help */
			switch (a) {
			case TA_PAUSE:
				st.paused = !st.paused || r->at_end;
				next_play = mono_ns() + iv;
				dirty = true;
				break;
			case TA_STEP_BACK: target--; st.paused = true; break;
			case TA_STEP_FWD: target++; st.paused = true; break;
			case TA_PAGE_BACK: target -= st.big_step; st.paused = true; break;
			case TA_PAGE_FWD: target += st.big_step; st.paused = true; break;
			case TA_HOME: target = 0; st.paused = true; break;
			case TA_END: target = 0x7fffffffL; st.paused = true; break;
			default: break;
			}
		}
		if (!st.paused && mono_ns() >= next_play) {
			target = r->pos + 1;
			next_play += iv;
			if (next_play < mono_ns())
				next_play = mono_ns() + iv;
		}
		if (target != r->pos) {
			if (target < 1 && r->pos >= 1)
				target = 1; /* the first sample has no rates: the second is the start */
			unsigned long reads = r->reads;
			uint64_t t0 = mono_ns();
			bool back = target < r->pos;
			if (target != r->pos && replay_seek(r, v, target, history, &why) < 0) {
				top_ui_close();
				int code = cmd_fail(false, why);
				free(why);
				return code;
			}
			if (back) {
				snprintf(note, sizeof(note), "back to sample %ld: %lu samples re-read in %.0f ms", r->pos + 1,
					 r->reads - reads, (double)(mono_ns() - t0) / 1e6);
				st.note = note;
			}
			if (r->at_end && !st.paused)
				st.paused = true;
			dirty = true;
		}
	}
	return EXIT_OK;
}

/* ---------------- the command ---------------- */

int cmd_top(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "window", required_argument, NULL, 'w' },
		{ "replay", required_argument, NULL, 'r' },
		{ "from", required_argument, NULL, 0x101 },
		{ "to", required_argument, NULL, 0x102 },
		{ "batch", no_argument, NULL, 'b' },
		{ "count", required_argument, NULL, 'n' },
		{ "threshold", required_argument, NULL, 't' },
		{ "thresholds", required_argument, NULL, 'T' },
		{ 0 },
	};
	struct topopts o = { .interval = 1000000000ull };
	const char *tspecs[64], *thr_file = NULL;
	size_t ntspecs = 0;
	cmd_sources_init(&o.cs);
	cmd_json_lines = true;
	struct cmd_parse p;
	cmd_parse_init(&p, "top", argc, argv, "i:w:r:bn:t:", opts, usage);
	p.cs = &o.cs;
	p.repeatable = (const char *const[]){ "threshold", NULL };
	int c;
	while ((c = cmd_parse_next(&p)) != -1) {
		switch (c) {
		case CMD_PARSE_EXIT: return p.exit_code;
		case 'i':
			if (parse_duration_range(optarg, 100000000ull, 3600000000000ull, &o.interval) < 0)
				return cmd_failf("bad --interval '%s': use e.g. 1s or 500ms (at least 100ms, at most 1h)",
						 optarg);
			break;
		case 'w':
			if (parse_duration_range(optarg, 3000000000ull, 86400000000000ull, &o.window) < 0)
				return cmd_failf("bad --window '%s': use e.g. 60s or 5m (at least 3s: a verdict needs "
						 "three 1 s windows; at most a day)", optarg);
			break;
		case 'r': o.replay = optarg; break;
		case 0x101:
		case 0x102: {
			char *why = NULL;
			if (parse_time_arg(optarg, c == 0x101 ? &o.from : &o.to, &why) < 0) {
				int code = cmd_failf("bad --%s: %s", c == 0x101 ? "from" : "to", why);
				free(why);
				return code;
			}
			break;
		}
		case 'b': o.batch = true; break;
		case 'n': {
			uint64_t n;
			if (parse_uint(optarg, 100000000, &n) < 0 || n == 0)
				return cmd_failf("bad --count '%s': a number of blocks, from 1 to 100000000", optarg);
			o.count = (unsigned long)n;
			o.batch = true;
			break;
		}
		case 't':
			if (ntspecs == ARRAY_SIZE(tspecs))
				return cmd_failf("too many --threshold options (64 at most)");
			tspecs[ntspecs++] = optarg;
			break;
		case 'T': thr_file = optarg; break;
		}
	}
	if (o.replay && cmd_parse_refuse_with(&p, "--replay", (const char *const[]){ "interval", NULL }))
		return EXIT_UNUSABLE;
	if (cmd_parse_end(&p))
		return EXIT_UNUSABLE;
	o.json = hq_json;
	if ((o.from || o.to) && !o.replay)
		return cmd_fail(o.json, "--from and --to take a slice of a --replay bundle or recording");
	if (o.from && o.to && o.from > o.to)
		return cmd_fail(o.json, "--from is after --to");
	char *why = NULL;
	if (thresholds_apply_args(thr_file, tspecs, ntspecs, &why) < 0) {
		int code = cmd_fail(o.json, why);
		free(why);
		return code;
	}
	if (o.json)
		o.batch = true;
	if (!o.batch && !(isatty(STDOUT_FILENO) && isatty(STDIN_FILENO)))
		o.batch = true; /* not on a terminal: plain lines */

	struct sampler_opts so = {
		.interval_ns = o.interval,
		.slow_interval_ns = 5000000000ull, /* per-task and cgroup walks every 5 s, as watch and serve */
	};
	cmd_sources_apply(&o.cs, &so);
	struct engine_opts eo = { .window_ns = o.window, .rule_windows = o.window == 0 };
	const unsigned history = 120;
	struct top_view_opts vo = { .slow_ns = so.slow_interval_ns, .history = history };
	struct top_view *v = top_view_new(&vo);
	struct replay r = { .path = o.replay, .from = o.from, .to = o.to, .eo = eo, .pos = -1 };
	int code = EXIT_OK;
	/* an input that cannot be read is said before the screen is taken */
	if (o.replay && replay_open(&r, 0, &why) < 0) {
		code = cmd_fail(o.json, why);
		free(why);
		top_view_free(v);
		return code;
	}
	struct errsave es = { -1, -1 };
	if (!o.batch) {
		err_capture(&es);
		if (top_ui_open(&why) < 0) {
			err_release(&es);
			log_warn("top: %s; printing plain blocks instead", why);
			free(why);
			why = NULL;
			o.batch = true;
		}
	}
	if (o.batch)
		code = o.replay ? run_batch_replay(&o, v, &r) : run_batch_live(&o, v, &so, &eo);
	else
		code = o.replay ? run_tui_replay(&o, v, &r, history) : run_tui_live(&o, v, &so, &eo);
	if (!o.batch) {
		top_ui_close();
		err_release(&es);
	}
	replay_close(&r);
	free(r.real);
	top_view_free(v);
	fflush(stdout);
	return code;
}
