// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The common loader of the eBPF sources: decides whether eBPF can work here
 * at all (built with it, kernel BTF present), opens each source, and writes
 * their JSON — or the reason they are missing — into every drained sample.
 * Each source's own file (runqlat.c, biolat.c, compact.c) owns its skeleton.
 */
#include "bpfsrc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/syscall.h>

#include "../../core/util.h"
#include "bpfsrc_int.h"

#ifdef HQ_WITH_BPF
#include <bpf/libbpf.h>
#endif

struct bpfsrc {
	struct bpfsrc_opts o;
	struct runqlat *rq;
	struct biolat *bio;
	struct compact *cpt;
	char *rq_why, *bio_why, *cpt_why;	/* why a requested source is not loaded */
};

static json_t *unavailable(const char *reason)
{
	json_t *j = json_object();
	json_object_set_new(j, "available", json_false());
	json_object_set_new(j, "reason", json_string(reason ? reason : "unknown"));
	return j;
}

json_t *bpfsrc_hist_json(const uint64_t *slots, unsigned n)
{
	while (n && slots[n - 1] == 0)
		n--;
	json_t *a = json_array();
	for (unsigned i = 0; i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)slots[i]));
	return a;
}

/* Whether capability cap is in this thread's effective set (capget: no libcap needed). */
static bool cap_effective(unsigned cap)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) != 0)
		return true; /* cannot tell: do not blame capabilities */
	return cap < 64 && (d[cap / 32].effective & (1u << (cap % 32)));
}

char *bpfsrc_reason(const char *what, int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case EPERM:
	case EACCES:
		/*
		 * As root, EACCES on load is the verifier refusing the program;
		 * EPERM is the kernel refusing it whatever its instructions (a
		 * lockdown, an LSM, a local restriction: docs/bpf-sources.md).
		 */
		if (geteuid() == 0 && err == EACCES)
			return xasprintf("%s: the kernel's verifier rejected the program (%s; HIDDENQ_DEBUG_BPF=1 "
					 "prints its log)", what, strerror(err));
		/* root with a bounding set (a systemd unit, a container): the capabilities, not the kernel */
		if (geteuid() == 0 && !cap_effective(CAP_SYS_ADMIN) &&
		    (!cap_effective(39 /* CAP_BPF */) || !cap_effective(38 /* CAP_PERFMON */)))
			return xasprintf("%s: permission denied: root here lacks CAP_BPF and CAP_PERFMON (and "
					 "CAP_SYS_ADMIN): a capability bounding set took them away", what);
		if (geteuid() == 0)
			return xasprintf("%s: this kernel refuses it to root (%s: a lockdown, LSM or local policy; "
					 "HIDDENQ_DEBUG_BPF=1 prints libbpf's and the verifier's log)", what, strerror(err));
		return xasprintf("%s: permission denied: eBPF needs root or CAP_BPF and CAP_PERFMON (running as uid %u)",
				 what, (unsigned)geteuid());
	case ENOENT:
	case ESRCH:
		return xasprintf("%s: not found in this kernel (tracepoint or kernel type missing)", what);
	case ENOTSUP:
	case EINVAL:
	case E2BIG:
		return xasprintf("%s: rejected by this kernel (%s): too old or built without a needed eBPF feature",
				 what, strerror(err));
	default:
		return xasprintf("%s: %s", what, strerror(err));
	}
}

#ifdef HQ_WITH_BPF
/* The last verifier message libbpf printed from a failed load ("" if none since the reset). */
static char verifier_said[200];
/* The first weak extern (a kfunc) libbpf did not find in the kernel ("" if none since the reset). */
static char unresolved[64];

/* Not the verifier's statistics or its register dumps: a line that says why. */
static bool says_why(const char *l, size_t n)
{
	static const char *const noise[] = { "verification time", "stack depth", "processed ", "func#", "Live regs",
					     "mark_precise", "max_states", "peak_states", "-- " };
	if (n == 0 || l[0] == ' ' || l[0] == ';' || (l[0] >= '0' && l[0] <= '9'))
		return false;
	for (size_t i = 0; i < sizeof(noise) / sizeof(noise[0]); i++)
		if (!strncmp(l, noise[i], strlen(noise[i])))
			return false;
	return true;
}

/* From libbpf's "-- BEGIN PROG LOAD LOG --" message: its last line that says why. */
static void keep_verifier_line(const char *msg)
{
	const char *b = strstr(msg, "-- BEGIN PROG LOAD LOG --"), *e = strstr(msg, "-- END PROG LOAD LOG --");
	if (!b || !e || e < b)
		return;
	b = strchr(b, '\n');
	if (!b || b >= e)
		return;
	const char *found = NULL;
	size_t flen = 0;
	for (const char *l = b + 1; l < e;) {
		const char *nl = memchr(l, '\n', (size_t)(e - l));
		size_t n = nl ? (size_t)(nl - l) : (size_t)(e - l);
		if (says_why(l, n)) {
			found = l;
			flen = n;
		}
		l += n + 1;
	}
	if (found)
		snprintf(verifier_said, sizeof(verifier_said), "%.*s", (int)flen, found);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	static int debug = -1;
	if (debug < 0)
		debug = getenv("HIDDENQ_DEBUG_BPF") != NULL;
	bool log = level == LIBBPF_WARN && strstr(fmt, "PROG LOAD LOG");
	/* libbpf 1.x: "extern '%s' (weak): not resolved, defaulting to zero" */
	bool weak = !unresolved[0] && strstr(fmt, "(weak): not resolved");
	if (log || weak) {
		va_list aq;
		va_copy(aq, ap);
		char *msg = NULL;
		if (vasprintf(&msg, fmt, aq) >= 0) {
			const char *q = weak ? strchr(msg, '\'') : NULL;
			const char *q2 = q ? strchr(q + 1, '\'') : NULL;
			if (log)
				keep_verifier_line(msg);
			else if (q2)
				snprintf(unresolved, sizeof(unresolved), "%.*s", (int)(q2 - q - 1), q + 1);
			free(msg);
		}
		va_end(aq);
	}
	if (!debug || level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void bpfsrc_verifier_reset(void)
{
	verifier_said[0] = '\0';
	unresolved[0] = '\0';
}

const char *bpfsrc_verifier_said(void)
{
	return verifier_said[0] ? verifier_said : NULL;
}

const char *bpfsrc_unresolved(void)
{
	return unresolved[0] ? unresolved : NULL;
}

void bpfsrc_quiet_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
#else
void bpfsrc_quiet_libbpf(void)
{
}
#endif

char *bpfsrc_precheck(void)
{
#ifndef HQ_WITH_BPF
	return xstrdup("hiddenq was built without eBPF (make BPF=0)");
#else
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
		return xasprintf("no kernel BTF (/sys/kernel/btf/vmlinux: %s): tp_btf tracing needs a kernel built "
				 "with CONFIG_DEBUG_INFO_BTF",
				 strerror(errno));
	return NULL;
#endif
}

/* The reasons of the sources that did not load, one sentence; NULL if none. */
static char *join_reasons(const struct bpfsrc *b)
{
	const char *const label[] = { "run-queue histograms", "block IO histograms", "compaction durations" };
	const char *const r[] = { b->rq_why, b->bio_why, b->cpt_why };
	const char *one = NULL;
	bool same = true;
	for (size_t i = 0; i < ARRAY_SIZE(r); i++) {
		if (!r[i])
			continue;
		if (one && strcmp(one, r[i]) != 0)
			same = false;
		if (!one)
			one = r[i];
	}
	if (!one)
		return NULL;
	if (same)
		return xstrdup(one);
	char *s = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(r); i++) {
		if (!r[i])
			continue;
		char *t = xasprintf("%s%s%s: %s", s ? s : "", s ? "; " : "", label[i], r[i]);
		free(s);
		s = t;
	}
	return s;
}

struct bpfsrc *bpfsrc_open(const struct bpfsrc_opts *opts, char **why)
{
	struct bpfsrc *b = xcalloc(1, sizeof(*b));
	b->o = *opts;
	if (why)
		*why = NULL;
	char *pre = bpfsrc_precheck();
	if (b->o.runqlat) {
		if (pre)
			b->rq_why = xstrdup(pre);
#ifdef HQ_WITH_BPF
		else {
			bpfsrc_quiet_libbpf();
			b->rq = runqlat_open(&b->rq_why, !b->o.runqlat_no_cgroup, b->o.runqlat_split, b->o.runqlat_floor);
		}
#endif
	}
	if (b->o.biolat) {
		if (pre)
			b->bio_why = xstrdup(pre);
#ifdef HQ_WITH_BPF
		else {
			bpfsrc_quiet_libbpf();
			b->bio = biolat_open(&b->bio_why);
		}
#endif
	}
	if (b->o.compact) {
		if (pre)
			b->cpt_why = xstrdup(pre);
#ifdef HQ_WITH_BPF
		else {
			bpfsrc_quiet_libbpf();
			b->cpt = compact_open(&b->cpt_why);
		}
#endif
	}
	free(pre);
	if (why)
		*why = join_reasons(b);
	return b;
}

static void add_json(struct sample *out, const char *path, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (s)
		sample_add_take(out, path, s, strlen(s));
}

void bpfsrc_drain_one(struct bpfsrc *b, struct sample *out, const char *name)
{
	if (!b)
		return;
	if (b->o.runqlat && !strcmp(name, "runqlat")) {
		json_t *j = NULL;
#ifdef HQ_WITH_BPF
		if (b->rq)
			j = runqlat_read(b->rq);
#endif
		add_json(out, RUNQLAT_PATH, j ? j : unavailable(b->rq_why ? b->rq_why : "map read failed"));
	}
	if (b->o.biolat && !strcmp(name, "biolat")) {
		json_t *j = NULL;
#ifdef HQ_WITH_BPF
		if (b->bio)
			j = biolat_read(b->bio);
#endif
		add_json(out, BIOLAT_PATH, j ? j : unavailable(b->bio_why ? b->bio_why : "map read failed"));
	}
	if (b->o.compact && !strcmp(name, "compact")) {
		json_t *j = NULL;
#ifdef HQ_WITH_BPF
		if (b->cpt)
			j = compact_read(b->cpt);
#endif
		add_json(out, COMPACT_PATH, j ? j : unavailable(b->cpt_why ? b->cpt_why : "map read failed"));
	}
}

void bpfsrc_drain(struct bpfsrc *b, struct sample *out)
{
	bpfsrc_drain_one(b, out, "runqlat");
	bpfsrc_drain_one(b, out, "biolat");
	bpfsrc_drain_one(b, out, "compact");
}

bool bpfsrc_status(const struct bpfsrc *b, const char *source, const char **reason)
{
	*reason = NULL;
	if (!b) {
		*reason = "eBPF sources not requested (--no-bpf)";
		return false;
	}
	bool want, loaded;
	const char *why;
	if (strcmp(source, "runqlat") == 0) {
		want = b->o.runqlat, loaded = b->rq != NULL, why = b->rq_why;
	} else if (strcmp(source, "compact") == 0) {
		want = b->o.compact, loaded = b->cpt != NULL, why = b->cpt_why;
	} else {
		want = b->o.biolat, loaded = b->bio != NULL, why = b->bio_why;
	}
	if (!want) {
		*reason = "not requested";
		return false;
	}
	if (loaded)
		return true;
	*reason = why;
	return false;
}

void bpfsrc_close(struct bpfsrc *b)
{
	if (!b)
		return;
#ifdef HQ_WITH_BPF
	runqlat_close(b->rq);
	biolat_close(b->bio);
	compact_close(b->cpt);
#endif
	free(b->rq_why);
	free(b->bio_why);
	free(b->cpt_why);
	free(b);
}
