/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The exporter's HTTP side (libmicrohttpd; in the static build a small
 * plain-HTTP server, no TLS, auth or gzip): /metrics from the last published
 * snapshot (Prometheus text 0.0.4 or OpenMetrics 1.0 by the Accept header,
 * gzip when asked), a small / page, 404 and 405 for the rest.  One event
 * thread (epoll): a slow client costs a socket, not a thread.  Connections,
 * connections per address, the memory a connection may use (request line
 * and headers) and idle time are bounded.  Optional TLS and basic auth from
 * a web config file.
 *
 * The sampling thread publishes a snapshot after each sample; a request
 * sends the snapshot's bytes, shared between connections, and never waits
 * for a sample.
 */
#ifndef HQ_HTTPD_H
#define HQ_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct httpd_opts {
	const char *listen;		/* "127.0.0.1:9814", "[::1]:9814", ":9814" (every address) */
	const char *web_config;		/* INI: [tls] cert_file, key_file; [basic_auth_users] NAME = crypt hash */
	unsigned max_connections;	/* 0: 64 */
	unsigned max_per_ip;		/* 0: 16 */
	unsigned timeout_s;		/* idle connection timeout; 0: 10 */
	size_t conn_memory;		/* per connection (request line and headers); 0: 32 KiB */
};

/* What /metrics and / serve until the next publish (httpd_publish takes the buffers). */
struct httpd_snapshot {
	char *text;	/* Prometheus text 0.0.4; NULL: derived from om when first asked for */
	size_t text_len;
	char *om;	/* OpenMetrics 1.0 */
	size_t om_len;
	char *index;	/* the / page, HTML */
	size_t index_len;
};

struct httpd_stats {
	uint64_t answered[4];	/* 2xx, 4xx, 5xx, other */
	double cpu_s;		/* CPU time of the HTTP thread */
	uint64_t gzip_compressions;
	uint64_t evicted;	/* connections closed to make room, or over their deadline */
};

struct httpd;

/* Whether this build can serve (true; the static build serves plain HTTP only: no TLS, no basic auth, no gzip). */
bool httpd_available(void);
/* Whether --web-config (TLS, basic auth) and gzip are there: not in the static build. */
bool httpd_tls_available(void);

/* Parse the web config and listen.  0, or -errno with *why (malloc'd). */
int httpd_start(struct httpd **out, const struct httpd_opts *o, char **why);
void httpd_publish(struct httpd *h, struct httpd_snapshot *s);
void httpd_get_stats(struct httpd *h, struct httpd_stats *st);
/* The port it listens on (after ":0"). */
unsigned httpd_port(const struct httpd *h);
void httpd_stop(struct httpd *h);

/* Parse "HOST:PORT", "[V6]:PORT" or ":PORT" into a socket address; 0 or -EINVAL. */
struct sockaddr_storage;
int httpd_parse_listen(const char *s, struct sockaddr_storage *ss, unsigned *len, char **why);
/* The web config (INI text): 0 or -EINVAL with *why; fills what it finds (for the fuzzer and tests). */
struct httpd_webcfg {
	char *cert_file, *key_file;
	unsigned nusers;
	struct {
		char *name, *hash;
	} users[64];
};
int httpd_webcfg_parse(const char *text, struct httpd_webcfg *w, char **why);
void httpd_webcfg_done(struct httpd_webcfg *w);

/*
 * The request head as the plain server (the static build's) reads it: req is
 * NUL-terminated, up to and including the blank line.  Returns and sets
 * status: 200 (GET or HEAD of / or /metrics), 400 (not an HTTP/1.x request
 * line), 405 (another method), 404 (another path).  Pure, for the fuzzer.
 */
struct httpd_plain_req {
	int status;
	bool head;		/* HEAD: headers only */
	bool metrics;		/* /metrics, else / */
	char accept[1024];	/* the Accept header, "" when absent */
	bool openmetrics;	/* it ranks OpenMetrics at least as high as the text format */
};
int httpd_plain_parse(const char *req, struct httpd_plain_req *r);

#endif
