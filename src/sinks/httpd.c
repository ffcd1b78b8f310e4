/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The exporter's HTTP side on libmicrohttpd (httpd.h).
 */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <ini.h>

#include "../core/util.h"

#ifdef HQ_WITH_MHD
#include <crypt.h>
#include <microhttpd.h>
#include <zlib.h>
#endif

#define MAX_PEM (256u << 10)

/* ---------------- the listen address ---------------- */

int httpd_parse_listen(const char *s, struct sockaddr_storage *ss, unsigned *len, char **why)
{
	memset(ss, 0, sizeof(*ss));
	const char *colon = strrchr(s ? s : "", ':');
	if (!s || !colon) {
		*why = xasprintf("bad --listen '%s': use HOST:PORT, [IPv6]:PORT or :PORT", s ? s : "");
		return -EINVAL;
	}
	uint64_t port;
	if (parse_uint(colon + 1, 65535, &port) < 0) {
		*why = xasprintf("bad --listen '%s': the port is a number 0-65535", s);
		return -EINVAL;
	}
	char host[64];
	size_t hl = (size_t)(colon - s);
	if (hl >= sizeof(host)) {
		*why = xasprintf("bad --listen '%s': the address is too long", s);
		return -EINVAL;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (hl == 0) { /* every address, IPv6 and IPv4 */
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_any;
		a->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a);
		return 0;
	}
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1) {
			*why = xasprintf("bad --listen '%s': '%s' is not an IPv6 address", s, host + 1);
			return -EINVAL;
		}
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a);
		return 0;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
		*why = xasprintf("bad --listen '%s': '%s' is not an IPv4 address (IPv6 goes in brackets)", s, host);
		return -EINVAL;
	}
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	*len = sizeof(*a);
	return 0;
}

/* ---------------- the web config ---------------- */

struct wc_ctx {
	struct httpd_webcfg *w;
	char *why;
};

static int wc_line(void *user, const char *section, const char *name, const char *value)
{
	struct wc_ctx *c = user;
	if (c->why)
		return 0;
	struct httpd_webcfg *w = c->w;
	if (!strcmp(section, "tls")) {
		char **dst = !strcmp(name, "cert_file") ? &w->cert_file : !strcmp(name, "key_file") ? &w->key_file : NULL;
		if (!dst) {
			c->why = xasprintf("[tls] %s is not known (cert_file, key_file)", name);
			return 0;
		}
		if (*dst || !*value) {
			c->why = xasprintf("[tls] %s given twice or empty", name);
			return 0;
		}
		*dst = xstrdup(value);
		return 1;
	}
	if (!strcmp(section, "basic_auth_users")) {
		if (w->nusers >= ARRAY_SIZE(w->users)) {
			c->why = xasprintf("more than %zu users", ARRAY_SIZE(w->users));
			return 0;
		}
		/* a crypt(3) hash: "$2y$..." (bcrypt), "$6$...", "$y$..." (yescrypt); never a password */
		if (value[0] != '$' || strlen(value) < 20 || strchr(name, ':') || !*name) {
			c->why = xasprintf("user '%s': the value must be a crypt hash such as bcrypt's $2y$... "
					   "(htpasswd -nBC 10 USER), not a password, and the name has no ':'", name);
			return 0;
		}
		for (unsigned i = 0; i < w->nusers; i++)
			if (!strcmp(w->users[i].name, name)) {
				c->why = xasprintf("user '%s' given twice", name);
				return 0;
			}
		w->users[w->nusers].name = xstrdup(name);
		w->users[w->nusers].hash = xstrdup(value);
		w->nusers++;
		return 1;
	}
	c->why = xasprintf("section [%s] is not known ([tls], [basic_auth_users])", section);
	return 0;
}

int httpd_webcfg_parse(const char *text, struct httpd_webcfg *w, char **why)
{
	memset(w, 0, sizeof(*w));
	struct wc_ctx c = { .w = w };
	int r = ini_parse_string(text, wc_line, &c);
	if (!c.why && r > 0)
		c.why = xasprintf("line %d does not parse", r);
	if (!c.why && !w->cert_file != !w->key_file)
		c.why = xstrdup("[tls] needs both cert_file and key_file");
	if (c.why) {
		httpd_webcfg_done(w);
		*why = c.why;
		return -EINVAL;
	}
	return 0;
}

void httpd_webcfg_done(struct httpd_webcfg *w)
{
	free(w->cert_file);
	free(w->key_file);
	for (unsigned i = 0; i < w->nusers; i++) {
		free(w->users[i].name);
		free(w->users[i].hash);
	}
	memset(w, 0, sizeof(*w));
}

#ifdef HQ_WITH_MHD

static char *read_text(const char *path, size_t max, char **why)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		*why = xasprintf("%s: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = xmalloc(max + 1);
	size_t n = fread(buf, 1, max + 1, f);
	bool err = ferror(f);
	fclose(f);
	if (err || n > max) {
		*why = xasprintf("%s: %s", path, err ? "read error" : "too large");
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* ---------------- the server ---------------- */

struct httpd {
	struct MHD_Daemon *d;
	pthread_mutex_t mu;
	struct httpd_snapshot snap;	/* under mu */
	bool have;
	char *gz[2];			/* gzip of text and om, made by the first request that wants it */
	size_t gz_len[2];
	struct httpd_webcfg cfg;
	char *cert, *key;
	atomic_uint_least64_t answered[4];
	atomic_uint_least64_t cpu_ns;
	atomic_uint_least64_t compressions;
	unsigned port;
};

static int marker;

static void snap_free(struct httpd_snapshot *s)
{
	free(s->text);
	free(s->om);
	free(s->index);
	memset(s, 0, sizeof(*s));
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static char *gzip(const char *in, size_t n, size_t *out_len)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	size_t cap = deflateBound(&z, (uLong)n) + 32;
	char *out = xmalloc(cap);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	int r = deflate(&z, Z_FINISH);
	*out_len = z.total_out;
	deflateEnd(&z);
	if (r != Z_STREAM_END) {
		free(out);
		return NULL;
	}
	return out;
}

/* Accept-Encoding names gzip, and not with q=0 */
static bool wants_gzip(const char *ae)
{
	if (!ae)
		return false;
	for (const char *p = ae; (p = strcasestr(p, "gzip")); p += 4) {
		const char *end = strchr(p, ',');
		const char *q = strstr(p, "q=");
		if (q && (!end || q < end)) {
			double v = atof(q + 2);
			if (v <= 0)
				continue;
		}
		return true;
	}
	return false;
}

static bool auth_ok(struct httpd *h, struct MHD_Connection *c)
{
	if (!h->cfg.nusers)
		return true;
	char *pass = NULL;
	char *user = MHD_basic_auth_get_username_password(c, &pass);
	bool ok = false;
	if (user && pass) {
		for (unsigned i = 0; i < h->cfg.nusers; i++) {
			if (strcmp(user, h->cfg.users[i].name) != 0)
				continue;
			struct crypt_data *cd = xcalloc(1, sizeof(*cd));
			const char *got = crypt_r(pass, h->cfg.users[i].hash, cd);
			const char *want = h->cfg.users[i].hash;
			size_t lw = strlen(want);
			if (got && got[0] != '*' && strlen(got) == lw) {
				unsigned char diff = 0;
				for (size_t k = 0; k < lw; k++)
					diff |= (unsigned char)(got[k] ^ want[k]);
				ok = diff == 0;
			}
			free(cd);
		}
	}
	if (user)
		MHD_free(user);
	if (pass)
		MHD_free(pass);
	return ok;
}

static enum MHD_Result reply(struct httpd *h, struct MHD_Connection *c, unsigned code, const char *type,
			     const void *body, size_t len, const char *encoding)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	if (type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (encoding)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, encoding);
	if (code == 405)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result ret;
	if (code == 401) {
		ret = MHD_queue_basic_auth_fail_response(c, "hiddenq", r);
	} else {
		ret = MHD_queue_response(c, code, r);
	}
	MHD_destroy_response(r);
	unsigned k = code < 300 ? 0 : code < 500 ? (code >= 400 ? 1 : 3) : code < 600 ? 2 : 3;
	atomic_fetch_add(&h->answered[k], 1);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_size, void **req)
{
	(void)version;
	(void)upload_data;
	struct httpd *h = cls;
	if (!*req) { /* headers in: come back for the body */
		*req = &marker;
		return MHD_YES;
	}
	if (*upload_size) { /* a body we do not want: drop it */
		*upload_size = 0;
		return MHD_YES;
	}
	uint64_t t0 = thread_cpu_ns();
	enum MHD_Result ret;
	static const char text_plain[] = "text/plain; charset=utf-8";
	bool get = !strcmp(method, MHD_HTTP_METHOD_GET), head = !strcmp(method, MHD_HTTP_METHOD_HEAD);
	if (!get && !head) {
		static const char m[] = "method not allowed: GET or HEAD\n";
		ret = reply(h, c, 405, text_plain, m, sizeof(m) - 1, NULL);
	} else if (!auth_ok(h, c)) {
		static const char m[] = "authentication required\n";
		ret = reply(h, c, 401, text_plain, m, sizeof(m) - 1, NULL);
	} else if (!strcmp(url, "/metrics")) {
		const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
		bool om = accept && strcasestr(accept, "application/openmetrics-text");
		bool gz = wants_gzip(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING));
		pthread_mutex_lock(&h->mu);
		if (!h->have) {
			pthread_mutex_unlock(&h->mu);
			static const char m[] = "no sample yet: the first comes within a second of the start\n";
			ret = reply(h, c, 503, text_plain, m, sizeof(m) - 1, NULL);
		} else {
			const char *body = om ? h->snap.om : h->snap.text;
			size_t len = om ? h->snap.om_len : h->snap.text_len;
			int k = om ? 1 : 0;
			if (gz && !h->gz[k]) {
				h->gz[k] = gzip(body, len, &h->gz_len[k]);
				atomic_fetch_add(&h->compressions, 1);
			}
			bool use_gz = gz && h->gz[k];
			const char *type = om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
					      : "text/plain; version=0.0.4; charset=utf-8";
			ret = reply(h, c, 200, type, use_gz ? h->gz[k] : body, use_gz ? h->gz_len[k] : len,
				    use_gz ? "gzip" : NULL);
			pthread_mutex_unlock(&h->mu);
		}
	} else if (!strcmp(url, "/")) {
		pthread_mutex_lock(&h->mu);
		if (h->have)
			ret = reply(h, c, 200, "text/html; charset=utf-8", h->snap.index, h->snap.index_len, NULL);
		else
			ret = reply(h, c, 200, "text/html; charset=utf-8", "<p>hiddenq: no sample yet</p>\n", 30, NULL);
		pthread_mutex_unlock(&h->mu);
	} else {
		static const char m[] = "not found: try /metrics\n";
		ret = reply(h, c, 404, text_plain, m, sizeof(m) - 1, NULL);
	}
	atomic_fetch_add(&h->cpu_ns, thread_cpu_ns() - t0);
	return ret;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	if (hq_quiet)
		return;
	char buf[256];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	size_t n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	/* libmicrohttpd reports every client's misbehaviour; keep it short */
	static atomic_uint logged;
	if (atomic_fetch_add(&logged, 1) < 20)
		log_warn("http: %s", buf);
}

bool httpd_available(void)
{
	return true;
}

int httpd_start(struct httpd **out, const struct httpd_opts *o, char **why)
{
	*out = NULL;
	*why = NULL;
	struct sockaddr_storage ss;
	unsigned slen;
	if (httpd_parse_listen(o->listen, &ss, &slen, why) < 0)
		return -EINVAL;
	struct httpd *h = xcalloc(1, sizeof(*h));
	pthread_mutex_init(&h->mu, NULL);
	if (o->web_config) {
		char *err = NULL;
		char *text = read_text(o->web_config, 1u << 20, &err);
		if (!text || httpd_webcfg_parse(text, &h->cfg, &err) < 0) {
			*why = xasprintf("web config %s: %s", o->web_config, err ? err : "?");
			free(err);
			free(text);
			httpd_stop(h);
			return -EINVAL;
		}
		free(text);
		if (h->cfg.cert_file) {
			h->cert = read_text(h->cfg.cert_file, MAX_PEM, &err);
			if (h->cert)
				h->key = read_text(h->cfg.key_file, MAX_PEM, &err);
			if (!h->cert || !h->key) {
				*why = xasprintf("web config %s: %s", o->web_config, err);
				free(err);
				httpd_stop(h);
				return -EINVAL;
			}
		}
	}
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (ss.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr))
		flags |= MHD_USE_DUAL_STACK;
	if (h->cert)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem opts[16];
	int n = 0;
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, o->max_connections ? o->max_connections : 64,
					     NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_per_ip ? o->max_per_ip : 16,
					     NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s ? o->timeout_s : 10, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT,
					     (intptr_t)(o->conn_memory ? o->conn_memory : 32768), NULL };
	if (h->cert) {
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert };
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, h->key };
	}
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	(void)slen;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, h, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!h->d) {
		int e = errno;
		*why = xasprintf("cannot listen on %s: %s%s", o->listen, e ? strerror(e) : "libmicrohttpd refused",
				 h->cert ? " (or the TLS certificate and key do not load)" : "");
		httpd_stop(h);
		return e ? -e : -EINVAL;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = di ? di->port : 0;
	*out = h;
	return 0;
}

void httpd_publish(struct httpd *h, struct httpd_snapshot *s)
{
	pthread_mutex_lock(&h->mu);
	struct httpd_snapshot old = h->snap;
	char *g0 = h->gz[0], *g1 = h->gz[1];
	h->snap = *s;
	h->have = true;
	h->gz[0] = h->gz[1] = NULL;
	pthread_mutex_unlock(&h->mu);
	memset(s, 0, sizeof(*s));
	snap_free(&old);
	free(g0);
	free(g1);
}

void httpd_get_stats(struct httpd *h, struct httpd_stats *st)
{
	for (int i = 0; i < 4; i++)
		st->answered[i] = atomic_load(&h->answered[i]);
	st->cpu_s = (double)atomic_load(&h->cpu_ns) / 1e9;
	st->gzip_compressions = atomic_load(&h->compressions);
}

unsigned httpd_port(const struct httpd *h)
{
	return h->port;
}

void httpd_stop(struct httpd *h)
{
	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d);
	snap_free(&h->snap);
	free(h->gz[0]);
	free(h->gz[1]);
	httpd_webcfg_done(&h->cfg);
	free(h->cert);
	free(h->key);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

#else /* !HQ_WITH_MHD */

struct httpd {
	int unused;
};

bool httpd_available(void)
{
	return false;
}

int httpd_start(struct httpd **out, const struct httpd_opts *o, char **why)
{
	(void)o;
	*out = NULL;
	*why = xstrdup("this hiddenq was built without libmicrohttpd (the static build): use the dynamic build "
		       "to serve metrics");
	return -ENOTSUP;
}

void httpd_publish(struct httpd *h, struct httpd_snapshot *s)
{
	(void)h;
	free(s->text);
	free(s->om);
	free(s->index);
	memset(s, 0, sizeof(*s));
}

void httpd_get_stats(struct httpd *h, struct httpd_stats *st)
{
	(void)h;
	memset(st, 0, sizeof(*st));
}

unsigned httpd_port(const struct httpd *h)
{
	(void)h;
	return 0;
}

void httpd_stop(struct httpd *h)
{
	(void)h;
}

#endif
