/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * identity_parse on arbitrary JSON: strings stay NUL-terminated within their
 * fields, the marker count stays within its array, and the derived names and
 * the steal-reporting verdict never crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/cpu.h"
#include "sys/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct identity id;
	int ret = identity_parse((const char *)data, size, &id);
	if (ret < 0 && id.known)
		abort();
	if (memchr(id.hv_sig, '\0', sizeof(id.hv_sig)) == NULL ||
	    memchr(id.hv_sig_inner, '\0', sizeof(id.hv_sig_inner)) == NULL)
		abort();
	if (id.nmarkers > sizeof(id.markers) / sizeof(id.markers[0]))
		abort();
	for (unsigned i = 0; i < id.nmarkers; i++)
		if (memchr(id.markers[i], '\0', sizeof(id.markers[i])) == NULL)
			abort();
	const char *name = identity_hv_name(&id);
	if (name && !*name)
		abort();

	/* the same JSON as a sample's identity, judged for steal */
	struct sample st;
	sample_init(&st);
	sample_add(&st, IDENTITY_PATH, (const char *)data, size);
	struct cpu_analysis a;
	cpu_init(&a, &st);
	cpu_finish(&a);
	const char *why = NULL;
	cpu_steal_reported(&a, &why);
	if (!why)
		abort();
	cpu_done(&a);
	sample_done(&st);
	return 0;
}
