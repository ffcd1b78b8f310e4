/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Numbers in a VM's configuration (QEMU and other VMMs' command lines,
 * libvirt domain XML, Firecracker's JSON) are held to the rules our own
 * command line follows: whole numbers are digits only (no sign, no junk
 * after them, no overflow) within a range, sizes are a number and a known
 * unit within 1 MiB .. 1 PiB.  A value that breaks them is not clamped,
 * wrapped or replaced by a default: the field stays 0 ("not known") and the
 * value goes into vmconf.rejected, for the audit and the host mode to show.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

#include "vmconf.h"

void vmconf_reject(struct vmconf *c, const char *fmt, ...)
{
	size_t n = strlen(c->rejected);
	if (n + 8 >= sizeof(c->rejected))
		return; /* full: the first ones are shown */
	if (n) {
		memcpy(c->rejected + n, "; ", 3);
		n += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->rejected + n, sizeof(c->rejected) - n, fmt, ap);
	va_end(ap);
	/* a value from the file is shown, not obeyed: keep it printable */
	for (char *p = c->rejected + n; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
}

int conf_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (!s || !*s)
		return -EINVAL;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v < lo || v > hi)
		return -ERANGE;
	*out = v;
	return 0;
}

bool vmconf_uint(struct vmconf *c, const char *what, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (conf_uint(s, lo, hi, out) == 0)
		return true;
	vmconf_reject(c, "%s '%.40s' is not a whole number from %llu to %llu", what, s, (unsigned long long)lo,
		      (unsigned long long)hi);
	return false;
}

static const struct unit {
	const char *name;
	double mib;	/* the unit in MiB */
	bool exact;	/* case matters (libvirt's decimal KB/MB/GB... against k/M/G) */
} units[] = {
	{ "b", 1.0 / 1048576, false },	 { "bytes", 1.0 / 1048576, false },
	{ "k", 1.0 / 1024, false },	 { "KiB", 1.0 / 1024, false },	     { "KB", 1e3 / 1048576, true },
	{ "m", 1, false },		 { "MiB", 1, false },		     { "MB", 1e6 / 1048576, true },
	{ "g", 1024, false },		 { "GiB", 1024, false },	     { "GB", 1e9 / 1048576, true },
	{ "t", 1048576, false },	 { "TiB", 1048576, false },	     { "TB", 1e12 / 1048576, true },
	{ "p", 1073741824.0, false },	 { "PiB", 1073741824.0, false },     { "PB", 1e15 / 1048576, true },
	{ "e", 1099511627776.0, false }, { "EiB", 1099511627776.0, false }, { "EB", 1e18 / 1048576, true },
};

int conf_size_mib(const char *s, const char *dflt_unit, bool fraction, bool decimal_units, uint64_t *mib)
{
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	const char *p = s;
	double v = 0;
	while (*p >= '0' && *p <= '9')
		v = v * 10 + (*p++ - '0');
	if (*p == '.' && fraction) {
		double scale = 0.1;
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			v += (*p - '0') * scale;
	}
	const char *u = *p ? p : dflt_unit;
	double per = -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && per < 0; i++) {
		if (units[i].exact && !decimal_units)
			continue;
		if (units[i].exact ? strcmp(u, units[i].name) == 0 : strcasecmp(u, units[i].name) == 0)
			per = units[i].mib;
	}
	if (per < 0)
		return -EINVAL;
	double m = v * per;
	if (!(m >= 1) || m > (double)VMCONF_MAX_MEM_MIB)
		return -ERANGE;
	*mib = (uint64_t)m;
	return 0;
}

bool vmconf_mib(struct vmconf *c, const char *what, const char *s, const char *dflt_unit, bool fraction,
		bool decimal_units, uint64_t *mib)
{
	int r = conf_size_mib(s, dflt_unit, fraction, decimal_units, mib);
	if (r == 0)
		return true;
	vmconf_reject(c, "%s '%.40s' is %s", what, s,
		      r == -ERANGE ? "outside 1 MiB to 1 PiB" : "not a size (a number and K, M, G or T)");
	return false;
}
