/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "json.h"

#include <math.h>
#include <stdlib.h>

#include "util.h"

json_t *jstr(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	if (j)
		return j;
	char *c = xstrdup(s);
	for (char *p = c; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(c);
	free(c);
	return j ? j : json_null();
}

json_t *pjnum(double v)
{
	if (!isfinite(v))
		return json_null();
	return json_real(round(v * 1000.0) / 1000.0);
}

double pjget(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}
