/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* `hiddenq fit`: the verdict, the host shape it was judged against and the VM, as JSON and text. */
#ifndef HQ_SINK_FIT_H
#define HQ_SINK_FIT_H

#include <stdio.h>

#include <jansson.h>

#include "../topo/fit.h"

json_t *fit_json(const struct fit_verdict *v, const struct fit_host_src *hs, const struct fit_vm *vm);
void fit_print(FILE *out, const struct fit_verdict *v, const struct fit_host_src *hs, const struct fit_vm *vm);

#endif
