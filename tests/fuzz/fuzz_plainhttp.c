/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The static build's HTTP server reads request heads from anyone who can
 * reach its port (inside a VM, through a port forward): any head is either
 * one of the four answers or a bad request, the Accept header is a
 * bounded string, and OpenMetrics is chosen only when it names it.  The server holds at most
 * 32 KiB of head, NUL-terminated; so does this target.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 32768)
		size = 32768;
	char *req = malloc(size + 1);
	memcpy(req, data, size);
	req[size] = '\0';
	struct httpd_plain_req r;
	int st = httpd_plain_parse(req, &r);
	if (st != r.status || (st != 200 && st != 400 && st != 404 && st != 405))
		abort();
	if (strnlen(r.accept, sizeof(r.accept)) >= sizeof(r.accept))
		abort();
	if (st != 200 && (r.accept[0] || r.metrics || r.openmetrics))
		abort();
	if (r.openmetrics && !strcasestr(r.accept, "application/openmetrics-text"))
		abort();
	free(req);
	return 0;
}
