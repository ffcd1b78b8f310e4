/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* `hiddenq lab` as text: the context, the test VM, each experiment, and with
 * verbose each probe's own report (sinks/probe.c).  The JSON is the lab's document. */
#include "lab.h"

#include <string.h>

#include "../core/json.h"
#include "../core/util.h"
#include "probe.h"

static void print_experiments(FILE *out, json_t *exps)
{
	size_t i;
	json_t *x;
	json_array_foreach(exps, i, x) {
		fprintf(out, "\n%zu. %s  [%s]\n", i + 1, json_string_value(json_object_get(x, "name")) ?: "?",
			json_string_value(json_object_get(x, "status")) ?: "?");
		static const char *const rows[][2] = { { "setup", "setup:   " }, { "measured", "measured:" },
						       { "teaches", "teaches: " } };
		for (size_t k = 0; k < ARRAY_SIZE(rows); k++) {
			const char *v = json_string_value(json_object_get(x, rows[k][0]));
			if (v && *v)
				fprintf(out, "   %s %s\n", rows[k][1], v);
		}
		json_t *n = json_object_get(x, "needs");
		if (json_is_string(n))
			fprintf(out, "   needs:    %s\n", json_string_value(n));
	}
}

void lab_print(FILE *out, json_t *doc, bool verbose, const char *vm_why, const char *vm_driver, double vm_elapsed_s)
{
	bool quick = json_is_true(json_object_get(doc, "quick"));
	bool vm_ran = json_object_get(doc, "vm") != NULL;
	json_t *exps = json_object_get(doc, "experiments");
	probe_header(out, "lab", json_object_get(doc, "context"), quick ? ", quick runs" : NULL);
	probe_env_text(out, json_object_get(doc, "context"));
	if (vm_ran) {
		json_t *s = json_object_get(doc, "vm");
		if (vm_why[0])
			fprintf(out, "test VM: not run: %s\n", vm_why);
		else
			fprintf(out, "test VM: QEMU %s (%s), booted in %.1f s, %.1f s in all (%s)\n",
				json_string_value(json_object_get(s, "qemu")) ?: "?",
				json_string_value(json_object_get(s, "accel")) ?: "?", pjget(s, "boot_s"),
				vm_elapsed_s, vm_driver);
	}
	print_experiments(out, exps);
	if (verbose) {
		size_t i;
		json_t *x;
		json_array_foreach(exps, i, x) {
			const char *id = json_string_value(json_object_get(x, "id")) ?: "?";
			json_t *r = json_object_get(x, "result");
			fprintf(out, "\n---- %s ----", id);
			if (!strcmp(id, "cross-numa"))
				mem_print(out, r);
			else if (!strcmp(id, "vcpu-oversubscription"))
				oversub_print(out, r);
			else if (!strcmp(id, "single-vs-multi-queue"))
				net_print(out, r);
			else if (!strcmp(id, "idle-vcpu-wakeup"))
				wakeup_print(out, r);
			else if (!strcmp(id, "io-layer-stacking")) {
				io_print(out, r);
				if (json_is_object(json_object_get(r, "guest"))) {
					fprintf(out, "inside the test VM:");
					io_print(out, json_object_get(r, "guest"));
				}
			} else {
				char *t = json_dumps(r, JSON_COMPACT);
				fprintf(out, "\n%s\n", t ? t : "");
				free(t);
			}
		}
	}
}

void lab_spike_print(FILE *out, json_t *doc, unsigned mib)
{
	json_t *r = json_object_get(doc, "spike");
	fprintf(out, "working-set spike to %u MiB (MemTotal %.0f MiB, MemAvailable %.0f MiB): %s at %d MiB, "
		"%.0f MiB/s\n",
		mib, pjget(r, "mem_total_mib"), pjget(r, "mem_available_mib"),
		json_string_value(json_object_get(r, "outcome")) ?: "error", (int)pjget(r, "reached_mib"),
		pjget(r, "touch_MiBps"));
}
