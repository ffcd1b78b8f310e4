/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "audit.h"

#include <stdlib.h>
#include <string.h>

const char *audit_result_name(enum audit_result r)
{
	return r == AU_PASS ? "pass" : r == AU_FAIL ? "fail" : "unknown";
}

void audit_out_done(struct audit_out *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free(o->v[i].evidence);
		free(o->v[i].note);
	}
	free(o->v);
	memset(o, 0, sizeof(*o));
}
