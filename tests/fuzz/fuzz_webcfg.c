/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The exporter's configuration from untrusted text: the web config (INI,
 * TLS files and basic-auth users) and --listen addresses.  Any input is
 * either parsed into something consistent or refused with a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sinks/httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct httpd_webcfg w;
	char *why = NULL;
	if (httpd_webcfg_parse(text, &w, &why) == 0) {
		if (!w.cert_file != !w.key_file || w.nusers > 64)
			abort();
		for (unsigned i = 0; i < w.nusers; i++)
			if (!w.users[i].name || !w.users[i].hash || w.users[i].hash[0] != '$')
				abort();
		httpd_webcfg_done(&w);
	} else if (!why) {
		abort();
	}
	free(why);
	why = NULL;
	struct sockaddr_storage ss;
	unsigned len = 0;
	if (httpd_parse_listen(text, &ss, &len, &why) == 0) {
		if (len == 0 || len > sizeof(ss) || (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
			abort();
	} else if (!why) {
		abort();
	}
	free(why);
	free(text);
	return 0;
}
