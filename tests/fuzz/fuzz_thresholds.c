/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Threshold files (INI through libinih) and NAME=WARN,CRIT overrides: any
 * input either applies whole or leaves every threshold as it was, and what
 * is applied is always sane (finite, not negative but -1, warn <= crit).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/findings.h"

static void check_all(void)
{
	for (int i = 0; i < T_COUNT; i++) {
		double w = thresholds[i].warn, c = thresholds[i].crit;
		if (!isfinite(w) || !isfinite(c) || (w < 0 && w != -1) || (c < 0 && c != -1))
			abort();
		if (w >= 0 && c >= 0 && w > c)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	thresholds_reset();
	struct threshold before[T_COUNT];
	memcpy(before, thresholds, sizeof(before));
	char *why = NULL;
	if (thresholds_load_string(text, &why) < 0) {
		if (!why || memcmp(before, thresholds, sizeof(before)) != 0)
			abort(); /* a refused file says why and changes nothing */
		free(why);
	}
	check_all();
	/* the same text as one command-line override */
	const char *reason = NULL;
	if (threshold_override_why(text, &reason) < 0 && !reason)
		abort();
	check_all();
	free(text);
	return 0;
}
