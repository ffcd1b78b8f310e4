/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Hardware and hypervisor errors in kernel messages (see hwlog.h). */
#include "hwlog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const kinds[] = {
	"edac-ce",	    "edac-ue",	 "apei",     "mce",	  "mce-logged",	   "memory-failure", "thermal-throttle",
	"kvm-entry-failed", "split-lock", "bus-lock", "rt-throttling", "nmi-unknown", "nmi-serr",	     "nmi-iochk",
	"nmi-watchdog",
};

bool hwlog_kind(const char *kind)
{
	for (size_t i = 0; kind && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kind, kinds[i]))
			return true;
	return false;
}

/* The first occurrence of needle in [s, end), or NULL. */
static const char *find(const char *s, const char *end, const char *needle)
{
	size_t n = strlen(needle);
	if (s >= end || (size_t)(end - s) < n)
		return NULL;
	return memmem(s, (size_t)(end - s), needle, n);
}

/* Decimal digits at *p (at most 9), advancing; -1 when there are none. */
static long dec(const char **p, const char *end)
{
	long v = 0;
	int n = 0;
	while (*p < end && **p >= '0' && **p <= '9' && n < 9) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	return n ? v : -1;
}

/* Hex digits at *p (an optional 0x, at most 16 digits), advancing; false when there are none. */
static bool hex(const char **p, const char *end, uint64_t *v)
{
	if (end - *p >= 2 && (*p)[0] == '0' && ((*p)[1] == 'x' || (*p)[1] == 'X'))
		*p += 2;
	*v = 0;
	int n = 0;
	while (*p < end && n < 16) {
		char c = **p;
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			break;
		*v = *v << 4 | (uint64_t)d;
		(*p)++;
		n++;
	}
	return n > 0;
}

/* Copy [s, e) into out (capacity n), printable ASCII only. */
static void copy(char *out, size_t n, const char *s, const char *e)
{
	size_t k = 0;
	for (; s < e && k + 1 < n; s++)
		out[k++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	out[k] = '\0';
}

/* " on CPU %d" (or "on cpu %d") after p: the CPU, -1 when not said. */
static int on_cpu(const char *p, const char *end)
{
	const char *c = find(p, end, " on CPU ");
	if (!c)
		c = find(p, end, " on cpu ");
	if (!c)
		return -1;
	c += 8;
	return (int)dec(&c, end);
}

/* "COMM/PID" ending right before sep: the thread that trapped (comm may hold '/'). */
static void task_before(struct hwlog_rec *r, const char *start, const char *sep)
{
	const char *slash = NULL;
	for (const char *q = sep; q > start; q--)
		if (q[-1] == '/') {
			slash = q - 1;
			break;
		}
	if (!slash)
		return;
	const char *d = slash + 1;
	long pid = dec(&d, sep);
	if (pid <= 0 || d != sep)
		return;
	r->pid = (int)pid;
	copy(r->comm, sizeof(r->comm), start, slash);
}

static int edac(const char *m, const char *end, struct hwlog_rec *r)
{
	const char *p = find(m, end, "EDAC MC");
	if (!p)
		return -ENOENT;
	p += 7;
	long mc = dec(&p, end);
	if (mc < 0 || end - p < 2 || p[0] != ':' || p[1] != ' ')
		return -ENOENT;
	p += 2;
	long n = dec(&p, end);
	if (n < 0 || end - p < 4 || p[0] != ' ' || p[3] != ' ')
		return -ENOENT;
	if (!memcmp(p + 1, "CE", 2))
		r->kind = "edac-ce";
	else if (!memcmp(p + 1, "UE", 2))
		r->kind = "edac-ue";
	else
		return -ENOENT;
	r->uncorrected = r->kind[5] == 'u';
	r->count = n > 0 ? (unsigned)n : 1;
	p += 4;
	/* the label: after the last "on " before the detail in parentheses */
	const char *paren = find(p, end, " (");
	const char *lab = NULL, *stop = paren ? paren : end;
	for (const char *q = p; q && q < stop;) {
		const char *o = find(q, stop, "on ");
		if (!o)
			break;
		if (o == p || o[-1] == ' ')
			lab = o + 3;
		q = o + 3;
	}
	char label[48] = "";
	if (lab)
		copy(label, sizeof(label), lab, stop);
	snprintf(r->where, sizeof(r->where), "MC%ld%s%.40s", mc, label[0] ? " " : "", label);
	return 0;
}

static int mce(const char *m, const char *end, struct hwlog_rec *r)
{
	const char *h = find(m, end, "[Hardware Error]: ");
	if (!h)
		return -ENOENT;
	h += 18;
	if (find(h, end, "Machine check events logged") == h) {
		r->kind = "mce-logged";
		return 0;
	}
	const char *sev = find(h, end, "event severity: ");
	if (sev == h) {
		sev += 16;
		if (find(sev, end, "corrected") == sev)
			r->uncorrected = false;
		else if (find(sev, end, "recoverable") == sev || find(sev, end, "fatal") == sev)
			r->uncorrected = true;
		else
			return -ENOENT; /* "info" */
		r->kind = "apei";
		copy(r->where, sizeof(r->where), sev, end);
		return 0;
	}
	if (find(h, end, "CPU ") != h)
		return -ENOENT;
	const char *p = h + 4;
	long cpu = dec(&p, end);
	const char *mc = find(p, end, ": Machine Check");
	if (cpu < 0 || mc != p)
		return -ENOENT;
	const char *b = find(mc, end, " Bank ");
	if (!b)
		return -ENOENT;
	p = b + 6;
	long bank = dec(&p, end);
	if (bank < 0 || end - p < 2 || p[0] != ':' || p[1] != ' ')
		return -ENOENT;
	p += 2;
	if (!hex(&p, end, &r->status))
		return -ENOENT;
	r->kind = "mce";
	r->cpu = (int)cpu;
	r->bank = (int)bank;
	r->uncorrected = (r->status >> 61) & 1;	/* MCi_STATUS.UC */
	snprintf(r->where, sizeof(r->where), "CPU %ld bank %ld", cpu, bank);
	return 0;
}

static int memory_failure(const char *m, const char *end, struct hwlog_rec *r)
{
	const char *p = find(m, end, "Memory failure: ");
	if (!p)
		return -ENOENT;
	p += 16;
	r->kind = "memory-failure";
	r->uncorrected = true;
	const char *q = p;
	uint64_t pfn;
	if (find(q, end, "0x") == q && hex(&q, end, &pfn))
		snprintf(r->where, sizeof(r->where), "pfn %#llx", (unsigned long long)pfn);
	const char *who = find(p, end, "Sending SIGBUS to ");
	const char *skip = who ? who + 18 : NULL;
	if (!who && (who = find(p, end, "Killing ")) != NULL)
		skip = who + 8;
	const char *due = skip ? find(skip, end, " due to") : NULL;
	if (due) {
		const char *colon = NULL;
		for (const char *c = due; c > skip; c--)
			if (c[-1] == ':') {
				colon = c - 1;
				break;
			}
		if (colon) {
			const char *d = colon + 1;
			long pid = dec(&d, due);
			if (pid > 0 && d == due) {
				r->pid = (int)pid;
				copy(r->comm, sizeof(r->comm), skip, colon);
			}
		}
	}
	return 0;
}

static int locks(const char *m, const char *end, struct hwlog_rec *r)
{
	static const struct {
		const char *prefix, *sep, *kind;
	} pats[] = {
		{ "#AC: ", " took a split_lock trap", "split-lock" },
		{ "#AC: ", " fatal split_lock trap", "split-lock" },
		{ "#AC: ", " bogus split_lock trap", "split-lock" },
		{ "#DB: ", " took a bus_lock trap", "bus-lock" },
	};
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
		const char *p = find(m, end, pats[i].prefix);
		if (!p)
			continue;
		p += 5;
		const char *sep = find(p, end, pats[i].sep);
		if (!sep)
			continue;
		r->kind = pats[i].kind;
		task_before(r, p, sep);
		return 0;
	}
	return -ENOENT;
}

int hwlog_parse(const char *msg, size_t len, struct hwlog_rec *out)
{
	memset(out, 0, sizeof(*out));
	out->cpu = out->bank = out->pid = -1;
	out->count = 1;
	const char *end = msg + len;
	if (!msg || !len)
		return -ENOENT;
	if (edac(msg, end, out) == 0 || mce(msg, end, out) == 0 || memory_failure(msg, end, out) == 0 ||
	    locks(msg, end, out) == 0)
		return 0;
	const char *p;
	if (find(msg, end, "RT throttling activated")) {
		out->kind = "rt-throttling";
		return 0;
	}
	if ((p = find(msg, end, "NMI received for unknown reason ")) != NULL) {
		out->kind = "nmi-unknown";
		out->cpu = on_cpu(p, end);
		return 0;
	}
	if ((p = find(msg, end, "NMI: PCI system error (SERR)")) != NULL) {
		out->kind = "nmi-serr";
		out->uncorrected = true;
		out->cpu = on_cpu(p, end);
		return 0;
	}
	if ((p = find(msg, end, "NMI: IOCK error")) != NULL) {
		out->kind = "nmi-iochk";
		out->uncorrected = true;
		out->cpu = on_cpu(p, end);
		return 0;
	}
	if ((p = find(msg, end, "Watchdog detected hard LOCKUP on cpu ")) != NULL) {
		out->kind = "nmi-watchdog";
		out->cpu = on_cpu(p + 17, end);
		return 0;
	}
	if (find(msg, end, "to dump internal KVM state") ||
	    (p = find(msg, end, "last attempted VM-entry on CPU ")) != NULL ||
	    (p = find(msg, end, "last attempted VMRUN on CPU ")) != NULL) {
		out->kind = "kvm-entry-failed";
		if (p)
			out->cpu = on_cpu(p + 14, end);
		return 0;
	}
	if ((p = find(msg, end, "temperature is above threshold")) != NULL ||
	    (p = find(msg, end, "temperature above threshold")) != NULL) {
		out->kind = "thermal-throttle";
		const char *c = find(msg, p, "CPU");
		if (c) {
			c += 3;
			out->cpu = (int)dec(&c, p);
		}
		return 0;
	}
	return -ENOENT;
}
