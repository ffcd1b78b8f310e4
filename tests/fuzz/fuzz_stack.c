/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The virtualization stack on hostile input: the input is split at form
 * feeds into .hiddenq/stack.json, .hiddenq/identity.json, a CPU
 * vulnerability line, nvidia-smi's CSV, DMI product_uuid and machine-id.
 * The parsers and stack_build never crash; every fact's strings stay
 * NUL-terminated within their fields and the counts within their arrays.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/stack.h"
#include "core/paths.h"
#include "parse/stackparse.h"

static void check_fact(const struct sfact *f)
{
	if (!memchr(f->value, '\0', sizeof(f->value)) || !memchr(f->source, '\0', sizeof(f->source)) ||
	    !memchr(f->meaning, '\0', sizeof(f->meaning)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *parts[6];
	size_t lens[6], np = 0;
	const char *p = (const char *)data, *end = p + size;
	while (np < 6) {
		const char *ff = memchr(p, '\f', (size_t)(end - p));
		parts[np] = p;
		lens[np++] = ff ? (size_t)(ff - p) : (size_t)(end - p);
		if (!ff)
			break;
		p = ff + 1;
	}
	/* the pure parsers, each on its part */
	bool v;
	const char *why = NULL;
	if (np > 2) {
		enum cost_class c = mitigation_cost("spectre_v2", parts[2], lens[2], &v, &why);
		if (!why || c > COST_UNKNOWN)
			abort();
	}
	if (np > 3) {
		struct nv_gpu g[NV_MAX_GPUS];
		size_t n = nvidia_smi_parse(parts[3], lens[3], g, NV_MAX_GPUS);
		if (n > NV_MAX_GPUS)
			abort();
		for (size_t i = 0; i < n; i++)
			if (!memchr(g[i].name, '\0', sizeof(g[i].name)) || !g[i].bus_id[0])
				abort();
	}
	char u[37], m[33];
	if (np > 4 && uuid_canon(parts[4], lens[4], u) && strlen(u) != 36)
		abort();
	if (np > 5 && machine_id_canon(parts[5], lens[5], m) && strlen(m) != 32)
		abort();

	/* the same parts as a run's statics */
	struct sample st;
	sample_init(&st);
	static const char *const paths[] = { STACK_PATH, IDENTITY_PATH, "sys/devices/system/cpu/vulnerabilities/mds",
					     "proc/cmdline", "sys/class/dmi/id/product_uuid", "etc/machine-id" };
	for (size_t i = 0; i < np; i++)
		sample_add(&st, paths[i], parts[i], lens[i]);
	struct identity id;
	const struct sfile *f = sample_find(&st, IDENTITY_PATH);
	if (f)
		identity_parse(f->data, f->len, &id);
	else
		memset(&id, 0, sizeof(id));
	struct stack *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	stack_build(&st, &id, s);
	if (s->nnics > STACK_MAX_DEVS || s->ndisks > STACK_MAX_DEVS || s->ngpus > STACK_MAX_GPUS ||
	    s->nmits > STACK_MAX_MITS)
		abort();
	const struct sfact *all[] = { &s->hypervisor, &s->platform, &s->nesting, &s->nested_capable, &s->container,
				      &s->confidential, &s->swiotlb, &s->gpu, &s->mitigations, &s->uuid, &s->machine_id };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		check_fact(all[i]);
	for (unsigned i = 0; i < s->nnics; i++)
		check_fact(&s->nics[i].f);
	for (unsigned i = 0; i < s->ndisks; i++)
		check_fact(&s->disks[i].f);
	for (unsigned i = 0; i < s->ngpus; i++)
		check_fact(&s->gpus[i].f);
	json_t *j = stack_json(s);
	char *txt = json_dumps(j, 0);
	if (!txt)
		abort();
	free(txt);
	json_decref(j);
	char line[1024];
	stack_summary(s, line, sizeof(line));
	free(s);
	sample_done(&st);
	return 0;
}
