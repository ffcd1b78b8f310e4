/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Small per-task /proc files for the host mode: task stat (where a thread
 * last ran and its CPU time), one field of a status file, and the fdinfo of
 * a tun/tap fd.  Same contract as parse.h: (buf, len), never past len.
 */
#include <errno.h>
#include <string.h>

#include "parse.h"
#include "vmconf.h"

/*
 * One numeric field of a stat line: a word of digits, optionally signed.
 * Fields are of mixed types in the kernel (%d, %ld, %lu, %llu), and the
 * unsigned ones reach ULONG_MAX: rsslim is 18446744073709551615 for every
 * task without a limit, kstkesp/kstkeip/wchan and the signal masks may be
 * all ones.  So every field is read as a word and only the ones we keep are
 * converted; a value that does not fit what we keep is "unknown", never the
 * end of the line.  *neg is set for a leading '-'; *v holds the magnitude.
 */
static bool stat_field(const char **p, const char *end, uint64_t *v, bool *neg)
{
	const char *ws, *we;
	if (!scan_word(p, end, &ws, &we))
		return false;
	*neg = *ws == '-';
	if (*ws == '-' || *ws == '+')
		ws++;
	if (ws == we)
		return false;
	for (const char *c = ws; c < we; c++)
		if (*c < '0' || *c > '9')
			return false;
	if (!scan_u64(&ws, we, v))
		*v = UINT64_MAX; /* more than 64 bits: no kernel's, kept as "too large" */
	return true;
}

int task_stat_parse(const char *buf, size_t len, struct task_stat *out)
{
	memset(out, 0, sizeof(*out));
	out->processor = -1;
	/* comm is "(...)" and may contain ')' itself: the last one ends it */
	const char *rp = NULL;
	for (size_t i = 0; i < len; i++)
		if (buf[i] == ')')
			rp = buf + i;
	if (!rp)
		return -EINVAL;
	const char *p = rp + 1, *end = buf + len;
	const char *ws, *we;
	if (!scan_word(&p, end, &ws, &we) || we - ws != 1)
		return -EINVAL;
	out->state = *ws;
	/* fields 4.. ; field 14 utime, 15 stime, 39 processor */
	for (int field = 4; field <= 39; field++) {
		uint64_t v;
		bool neg;
		if (!stat_field(&p, end, &v, &neg))
			return field > 15 ? 0 : -EINVAL; /* old kernels stop early */
		if (field == 14)
			out->utime = neg || v == UINT64_MAX ? 0 : v;
		else if (field == 15)
			out->stime = neg || v == UINT64_MAX ? 0 : v;
		else if (field == 39)
			out->processor = neg || v > 1 << 20 ? -1 : (int)v;
	}
	return 0;
}

int status_field(const char *buf, size_t len, const char *name, char *out, size_t outlen)
{
	if (outlen == 0)
		return -EINVAL;
	out[0] = '\0';
	size_t nl = strlen(name);
	struct scan s = { buf, buf + len };
	const char *ls, *le;
	while (scan_line(&s, &ls, &le)) {
		if ((size_t)(le - ls) <= nl || memcmp(ls, name, nl) != 0 || ls[nl] != ':')
			continue;
		const char *p = ls + nl + 1;
		while (p < le && (*p == ' ' || *p == '\t'))
			p++;
		while (le > p && (le[-1] == ' ' || le[-1] == '\t' || le[-1] == '\r'))
			le--;
		size_t n = (size_t)(le - p);
		if (n >= outlen)
			n = outlen - 1;
		memcpy(out, p, n);
		out[n] = '\0';
		return 0;
	}
	return -ENOENT;
}

int tun_fdinfo_iff(const char *buf, size_t len, char *ifname, size_t n)
{
	return status_field(buf, len, "iff", ifname, n);
}
