/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The exporter's HTTP side on libmicrohttpd (httpd.h); without it (the
 * static build) a small plain-HTTP server at the end of this file.
 */
#include "httpd.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <ini.h>

#include "../core/util.h"
#include "openmetrics.h"

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

/* ---------------- content negotiation (both servers) ---------------- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * The q-value an Accept or Accept-Encoding header gives `token` (a media
 * type or a coding, compared without case): the highest q of the elements
 * naming it, or if none does, of those naming `wild1` or `wild2` (NULL for
 * none); -1 when nothing matches.  Parameters other than q (version=...)
 * do not matter here.
 */
static double qvalue(const char *hdr, const char *token, const char *wild1, const char *wild2)
{
	double named = -1, wild = -1;
	const char *p = hdr;
	while (p && *p) {
		const char *end = strchr(p, ',');
		const char *e = end ? end : p + strlen(p);
		while (p < e && is_space(*p))
			p++;
		size_t tl = 0;
		while (p + tl < e && p[tl] != ';' && !is_space(p[tl]))
			tl++;
		double q = 1;
		for (const char *s = p + tl; s < e; s++) {
			if (*s != ';')
				continue;
			while (s + 1 < e && is_space(s[1]))
				s++;
			if (e - s > 2 && (s[1] == 'q' || s[1] == 'Q') && s[2] == '=') {
				char num[8];
				size_t k = 0;
				for (s += 3; s < e && k + 1 < sizeof(num) && (isdigit((unsigned char)*s) || *s == '.'); s++)
					num[k++] = *s;
				num[k] = '\0';
				q = k ? strtod(num, NULL) : 0;
				if (!(q >= 0 && q <= 1))
					q = 0;
				break;
			}
		}
		bool match = tl == strlen(token) && !strncasecmp(p, token, tl);
		bool wmatch = (wild1 && tl == strlen(wild1) && !strncasecmp(p, wild1, tl)) ||
			      (wild2 && tl == strlen(wild2) && !strncasecmp(p, wild2, tl));
		if (match && q > named)
			named = q;
		else if (wmatch && q > wild)
			wild = q;
		p = end ? end + 1 : e;
	}
	return named >= 0 ? named : wild;
}

/* OpenMetrics when the client ranks it at least as high as the text format
 * (Prometheus asks for it first); the text format for everything else. */
static bool wants_openmetrics(const char *accept)
{
	if (!accept)
		return false;
	double om = qvalue(accept, "application/openmetrics-text", NULL, NULL);
	double text = qvalue(accept, "text/plain", "text/*", "*/*");
	return om > 0 && om >= text;
}

/* ---------------- the plain server's request head (httpd.h) ---------------- */

/* A header's value in the head (case-insensitive name), copied into out; false if absent. */
static bool plain_header(const char *req, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);
	for (const char *p = strchr(req, '\n'); p && p[1] && p[1] != '\r' && p[1] != '\n'; p = strchr(p + 1, '\n')) {
		const char *l = p + 1;
		if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			const char *v = l + nl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			size_t k = strcspn(v, "\r\n");
			if (k >= n)
				k = n - 1;
			memcpy(out, v, k);
			out[k] = '\0';
			return true;
		}
	}
	return false;
}

int httpd_plain_parse(const char *req, struct httpd_plain_req *r)
{
	memset(r, 0, sizeof(*r));
	char method[16], path[256], version[16];
	if (sscanf(req, "%15s %255s %15s", method, path, version) != 3 || strncmp(version, "HTTP/1.", 7) != 0)
		return r->status = 400;
	r->head = !strcmp(method, "HEAD");
	if (strcmp(method, "GET") != 0 && !r->head)
		return r->status = 405;
	path[strcspn(path, "?")] = '\0'; /* the query string means nothing here, as in the full server */
	r->metrics = !strcmp(path, "/metrics");
	if (!r->metrics && strcmp(path, "/") != 0)
		return r->status = 404;
	r->openmetrics = plain_header(req, "Accept", r->accept, sizeof(r->accept)) && wants_openmetrics(r->accept);
	return r->status = 200;
}

#ifdef HQ_WITH_MHD

static char *read_text(const char *path, size_t max, size_t *len, char **why)
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
	*len = n;
	return buf;
}

/* ---------------- the server ---------------- */

/*
 * Responses are made once and shared by every connection that sends them:
 * one per snapshot and format (the text format derived from the OpenMetrics
 * body, and each gzip, by the first request that asks for it), and one per
 * fixed answer.  libmicrohttpd counts the connections still sending a
 * response; a snapshot's responses are released when the next one is
 * published and freed when the last connection has sent them.  A request
 * copies no body.
 */
enum { R_TEXT, R_OM, R_TEXT_GZ, R_OM_GZ, R_INDEX, R_SNAP_N };
enum { F_401, F_404, F_405, F_503, F_INDEX_EMPTY, F_N };

#define TEXT_PLAIN "text/plain; charset=utf-8"
#define TYPE_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define TYPE_OM "application/openmetrics-text; version=1.0.0; charset=utf-8"
#define TYPE_HTML "text/html; charset=utf-8"

/*
 * Every open connection, for the limits libmicrohttpd has not got.  Its
 * timeout is an idle timeout: a client that sends a byte every few seconds
 * keeps its slot for ever, and 64 such clients (four addresses at 16 each)
 * shut Prometheus out.  So a request must arrive, and its answer leave,
 * within the timeout of the phase's start whatever trickles in; and when
 * every slot is taken, the connection that has waited longest for a request
 * is closed to make room for the newcomer.  A slow client holds its own slot
 * for a bounded time and never keeps a scrape out.
 *
 * Only the server thread touches these (connection and request callbacks).
 * We close a connection with shutdown(2) of its socket: libmicrohttpd reads
 * the end of the stream and cleans up as after any other close; the
 * descriptor stays libmicrohttpd's to close.
 */
struct hconn {
	struct hconn *prev, *next;
	int fd;
	uint64_t since_ns;	/* start of the current phase: waiting for a request, or answering one */
	bool answering;		/* a request's headers are in and its answer is not sent yet */
	bool closing;		/* shut down by us, not yet cleaned up by libmicrohttpd */
};

#define MAX_USERS ARRAY_SIZE(((struct httpd_webcfg *)0)->users)

struct httpd {
	struct MHD_Daemon *d;
	pthread_mutex_t mu;			/* resp[], body[], gz_tried[] */
	struct MHD_Response *resp[R_SNAP_N];	/* the last snapshot's; NULL before the first */
	const char *body[2];			/* text, om: owned by resp[R_TEXT], resp[R_OM] */
	size_t body_len[2];
	bool gz_tried[2];
	struct MHD_Response *fixed[F_N];
	struct httpd_webcfg cfg;
	char *cert, *key;
	/* server thread only */
	char *good_pass[MAX_USERS];		/* per user, the last password that verified (auth_ok) */
	struct hconn *conns;
	unsigned nopen;				/* open and not being closed by us */
	unsigned max_open;
	uint64_t deadline_ns;
	/* statistics, any thread */
	atomic_uint_least64_t answered[4];
	atomic_uint_least64_t cpu_ns;
	atomic_uint_least64_t compressions;
	atomic_uint_least64_t evicted;
	unsigned port;
};

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

static bool wants_gzip(const char *ae)
{
	return ae && qvalue(ae, "gzip", "x-gzip", "*") > 0;
}

/* ---- basic auth ---- */

/* Constant time in the length of `want`. */
static bool same_secret(const char *got, const char *want)
{
	size_t lg = strlen(got), lw = strlen(want);
	unsigned char diff = lg != lw;
	for (size_t k = 0; k < lw; k++)
		diff |= (unsigned char)(got[k < lg ? k : 0] ^ want[k]);
	return diff == 0;
}

/*
 * A crypt(3) check (bcrypt at cost 10: ~60 ms here) on every scrape would
 * cost more than everything else serve does and hold up the one server
 * thread, so the last password that verified for each user is kept and a
 * request presenting it again is compared, not hashed (the Prometheus
 * exporter toolkit caches the same way).  A wrong password is always hashed.
 */
static bool auth_ok(struct httpd *h, struct MHD_Connection *c)
{
	if (!h->cfg.nusers)
		return true;
	char *pass = NULL;
	char *user = MHD_basic_auth_get_username_password(c, &pass);
	bool ok = false;
	for (unsigned i = 0; user && pass && i < h->cfg.nusers; i++) {
		if (strcmp(user, h->cfg.users[i].name) != 0)
			continue;
		if (h->good_pass[i] && same_secret(pass, h->good_pass[i])) {
			ok = true;
			break;
		}
		struct crypt_data *cd = xcalloc(1, sizeof(*cd));
		const char *got = crypt_r(pass, h->cfg.users[i].hash, cd);
		ok = got && got[0] != '*' && same_secret(got, h->cfg.users[i].hash);
		free(cd);
		if (ok) {
			free(h->good_pass[i]);
			h->good_pass[i] = xstrdup(pass);
		}
		break;
	}
	if (user)
		MHD_free(user);
	if (pass)
		MHD_free(pass);
	return ok;
}

/* ---- responses ---- */

static struct MHD_Response *response(const char *body, size_t len, enum MHD_ResponseMemoryMode mode, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, mode);
	if (!r) {
		log_err("failed to make an HTTP response: out of memory");
		abort();
	}
	if (type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	return r;
}

static struct MHD_Response *metrics_response(const char *body, size_t len, enum MHD_ResponseMemoryMode mode,
					     const char *type, bool gz)
{
	struct MHD_Response *r = response(body, len, mode, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept, Accept-Encoding");
	if (gz)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	return r;
}

static void fixed_responses(struct httpd *h)
{
	static const char m401[] = "authentication required\n", m404[] = "not found: try /metrics\n",
			  m405[] = "method not allowed: GET or HEAD\n",
			  m503[] = "no sample yet: the first comes within a second of the start\n",
			  idx[] = "<p>hiddenq: no sample yet</p>\n";
	h->fixed[F_401] = response(m401, sizeof(m401) - 1, MHD_RESPMEM_PERSISTENT, TEXT_PLAIN);
	MHD_add_response_header(h->fixed[F_401], MHD_HTTP_HEADER_WWW_AUTHENTICATE,
				"Basic realm=\"hiddenq\", charset=\"UTF-8\"");
	h->fixed[F_404] = response(m404, sizeof(m404) - 1, MHD_RESPMEM_PERSISTENT, TEXT_PLAIN);
	h->fixed[F_405] = response(m405, sizeof(m405) - 1, MHD_RESPMEM_PERSISTENT, TEXT_PLAIN);
	MHD_add_response_header(h->fixed[F_405], MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	h->fixed[F_503] = response(m503, sizeof(m503) - 1, MHD_RESPMEM_PERSISTENT, TEXT_PLAIN);
	MHD_add_response_header(h->fixed[F_503], MHD_HTTP_HEADER_RETRY_AFTER, "1");
	h->fixed[F_INDEX_EMPTY] = response(idx, sizeof(idx) - 1, MHD_RESPMEM_PERSISTENT, TYPE_HTML);
}

static enum MHD_Result queue(struct httpd *h, struct MHD_Connection *c, unsigned code, struct MHD_Response *r)
{
	enum MHD_Result ret = MHD_queue_response(c, code, r);
	unsigned k = code < 300 ? 0 : code >= 400 && code < 500 ? 1 : code >= 500 && code < 600 ? 2 : 3;
	atomic_fetch_add(&h->answered[k], 1);
	return ret;
}

/* The response for /metrics in the format and encoding asked for, with
 * h->mu held (the caller queues it before unlocking); NULL before the first
 * sample. */
static struct MHD_Response *metrics_for(struct httpd *h, bool om, bool gz)
{
	int k = om ? 1 : 0;
	if (!om && !h->resp[R_TEXT] && h->body[1]) {
		size_t n;
		char *text = om_text_from_openmetrics(h->body[1], h->body_len[1], &n);
		h->resp[R_TEXT] = metrics_response(text, n, MHD_RESPMEM_MUST_FREE, TYPE_TEXT, false);
		h->body[0] = text;
		h->body_len[0] = n;
	}
	if (gz && !h->gz_tried[k] && h->body[k]) {
		h->gz_tried[k] = true;
		size_t n;
		char *z = gzip(h->body[k], h->body_len[k], &n);
		if (z) {
			h->resp[R_TEXT_GZ + k] = metrics_response(z, n, MHD_RESPMEM_MUST_FREE, om ? TYPE_OM : TYPE_TEXT, true);
			atomic_fetch_add(&h->compressions, 1);
		}
	}
	return gz && h->resp[R_TEXT_GZ + k] ? h->resp[R_TEXT_GZ + k] : h->resp[R_TEXT + k];
}

/* ---- connections ---- */

static int req_marker;

static struct hconn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static void conn_close(struct httpd *h, struct hconn *k)
{
	if (k->closing)
		return;
	k->closing = true;
	h->nopen--;
	if (k->fd >= 0)
		shutdown(k->fd, SHUT_RDWR);
	atomic_fetch_add(&h->evicted, 1);
}

/* A newcomer: close whoever is over its deadline, then, when the slots are
 * all taken, the connection that has waited longest for a request; if every
 * other is answering, the newcomer itself. */
static void make_room(struct httpd *h, struct hconn *newcomer)
{
	uint64_t now = newcomer->since_ns;
	struct hconn *oldest = NULL;
	for (struct hconn *k = h->conns; k; k = k->next) {
		if (k == newcomer || k->closing)
			continue;
		if (now - k->since_ns > h->deadline_ns) {
			conn_close(h, k);
			continue;
		}
		if (!k->answering && (!oldest || k->since_ns < oldest->since_ns))
			oldest = k;
	}
	if (h->nopen <= h->max_open)
		return;
	conn_close(h, oldest ? oldest : newcomer);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct httpd *h = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		struct hconn *k = xcalloc(1, sizeof(*k));
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		k->fd = ci ? ci->connect_fd : -1;
		k->since_ns = mono_ns();
		k->next = h->conns;
		if (h->conns)
			h->conns->prev = k;
		h->conns = k;
		h->nopen++;
		*socket_ctx = k;
		make_room(h, k);
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		struct hconn *k = *socket_ctx;
		if (!k)
			return;
		if (!k->closing)
			h->nopen--;
		if (k->prev)
			k->prev->next = k->next;
		else
			h->conns = k->next;
		if (k->next)
			k->next->prev = k->prev;
		free(k);
		*socket_ctx = NULL;
	}
}

/* A request is done (answered, or the connection failed): waiting again. */
static void on_completed(void *cls, struct MHD_Connection *c, void **req, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)req;
	(void)toe;
	struct hconn *k = conn_of(c);
	if (k) {
		k->answering = false;
		k->since_ns = mono_ns();
	}
}

/* The URL as it came: the two paths served need no unescaping, and none
 * means "/metrics%00" is not "/metrics". */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

/* Whether a request says a body follows. */
static bool has_body(struct MHD_Connection *c)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	return (cl && strspn(cl, "0") != strlen(cl)) ||
	       MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/*
 * A GET or HEAD without a body is answered on the handler's second call,
 * which follows the first at once: libmicrohttpd 0.9.75 closes the
 * connection after a response queued on the first call, and Prometheus, wrk
 * and pipelining clients keep theirs open.  Anything else (another method,
 * or a body nobody asked for) is answered on the first call, from the
 * headers alone: the body is never read (libmicrohttpd discards it and
 * closes the connection), and "Expect: 100-continue" gets the answer, not a
 * 100.
 */
static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_size, void **req)
{
	(void)version;
	(void)upload_data;
	(void)upload_size;
	struct httpd *h = cls;
	bool get = !strcmp(method, MHD_HTTP_METHOD_GET), head = !strcmp(method, MHD_HTTP_METHOD_HEAD);
	if (!*req) {
		struct hconn *k = conn_of(c);
		if (k) {
			k->answering = true;
			k->since_ns = mono_ns();
		}
		*req = &req_marker;
		if ((get || head) && !has_body(c))
			return MHD_YES;
	}
	uint64_t t0 = thread_cpu_ns();
	enum MHD_Result ret;
	if (!get && !head) {
		ret = queue(h, c, 405, h->fixed[F_405]);
	} else if (!auth_ok(h, c)) {
		ret = queue(h, c, 401, h->fixed[F_401]);
	} else if (!strcmp(url, "/metrics")) {
		bool om = wants_openmetrics(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
		bool gz = wants_gzip(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING));
		pthread_mutex_lock(&h->mu);
		struct MHD_Response *r = metrics_for(h, om, gz);
		ret = r ? queue(h, c, 200, r) : queue(h, c, 503, h->fixed[F_503]);
		pthread_mutex_unlock(&h->mu);
	} else if (!strcmp(url, "/")) {
		pthread_mutex_lock(&h->mu);
		struct MHD_Response *r = h->resp[R_INDEX];
		ret = queue(h, c, 200, r ? r : h->fixed[F_INDEX_EMPTY]);
		pthread_mutex_unlock(&h->mu);
	} else {
		ret = queue(h, c, 404, h->fixed[F_404]);
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

bool httpd_tls_available(void)
{
	return true;
}

/* A PEM file's first block of the kind asked for, or a reason it has none. */
static bool has_pem(const char *text, const char *kind)
{
	for (const char *p = text; (p = strstr(p, "-----BEGIN ")); p += 11) {
		const char *end = strstr(p + 11, "-----");
		if (!end)
			return false;
		size_t n = (size_t)(end - (p + 11));
		size_t kl = strlen(kind);
		if (n >= kl && !memcmp(end - kl, kind, kl))
			return true;
	}
	return false;
}

static int load_web_config(struct httpd *h, const char *path, char **why)
{
	char *err = NULL;
	size_t len = 0;
	char *text = read_text(path, 1u << 20, &len, &err);
	if (text && memchr(text, '\0', len))
		err = xstrdup("holds a NUL byte: not a text file");
	if (!err && httpd_webcfg_parse(text, &h->cfg, &err) == 0 && !h->cfg.cert_file && !h->cfg.nusers)
		err = xstrdup("sets neither [tls] nor [basic_auth_users]: give one, or leave out --web-config");
	free(text);
	if (!err && h->cfg.cert_file) {
		h->cert = read_text(h->cfg.cert_file, MAX_PEM, &len, &err);
		if (h->cert && !has_pem(h->cert, "CERTIFICATE"))
			err = xasprintf("cert_file %s holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
					h->cfg.cert_file);
		if (!err)
			h->key = read_text(h->cfg.key_file, MAX_PEM, &len, &err);
		if (h->key && !err && !has_pem(h->key, "PRIVATE KEY"))
			err = xasprintf("key_file %s holds no PEM private key (-----BEGIN ... PRIVATE KEY-----)",
					h->cfg.key_file);
	}
	if (err) {
		*why = xasprintf("web config %s: %s", path, err);
		free(err);
		return -EINVAL;
	}
	return 0;
}

int httpd_start(struct httpd **out, const struct httpd_opts *o, char **why)
{
	*out = NULL;
	*why = NULL;
	struct sockaddr_storage ss;
	unsigned slen;
	if (httpd_parse_listen(o->listen, &ss, &slen, why) < 0)
		return -EINVAL;
	(void)slen;
	struct httpd *h = xcalloc(1, sizeof(*h));
	pthread_mutex_init(&h->mu, NULL);
	fixed_responses(h);
	if (o->web_config && load_web_config(h, o->web_config, why) < 0) {
		httpd_stop(h);
		return -EINVAL;
	}
	unsigned timeout_s = o->timeout_s ? o->timeout_s : 10;
	h->max_open = o->max_connections ? o->max_connections : 64;
	h->deadline_ns = (uint64_t)timeout_s * 1000000000ull;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (ss.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr))
		flags |= MHD_USE_DUAL_STACK;
	if (h->cert)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem opts[20];
	int n = 0;
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
	/* room above max_open for the newcomers that make_room admits by closing another */
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, h->max_open + 16, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_per_ip ? o->max_per_ip : 16,
					     NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT,
					     (intptr_t)(o->conn_memory ? o->conn_memory : 32768), NULL };
	/* HTTP/1.1 requests without Host, and spaces in URLs, are refused (400) */
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)no_unescape, NULL };
	if (h->cert) {
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert };
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, h->key };
	}
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	errno = 0;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, h, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!h->d) {
		int e = errno;
		if (h->cert)
			*why = xasprintf("cannot listen on %s: %s (web config %s: or the TLS certificate and key do not "
					 "load or do not match)", o->listen, e ? strerror(e) : "libmicrohttpd refused",
					 o->web_config);
		else
			*why = xasprintf("cannot listen on %s: %s", o->listen, e ? strerror(e) : "libmicrohttpd refused");
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
	struct MHD_Response *fresh[R_SNAP_N] = { 0 }, *old[R_SNAP_N];
	if (s->text)
		fresh[R_TEXT] = metrics_response(s->text, s->text_len, MHD_RESPMEM_MUST_FREE, TYPE_TEXT, false);
	fresh[R_OM] = metrics_response(s->om, s->om_len, MHD_RESPMEM_MUST_FREE, TYPE_OM, false);
	fresh[R_INDEX] = response(s->index, s->index_len, MHD_RESPMEM_MUST_FREE, TYPE_HTML);
	pthread_mutex_lock(&h->mu);
	memcpy(old, h->resp, sizeof(old));
	memcpy(h->resp, fresh, sizeof(fresh));
	h->body[0] = s->text;
	h->body_len[0] = s->text_len;
	h->body[1] = s->om;
	h->body_len[1] = s->om_len;
	h->gz_tried[0] = h->gz_tried[1] = false;
	pthread_mutex_unlock(&h->mu);
	memset(s, 0, sizeof(*s));
	/* our references; a connection still sending one keeps it until done */
	for (int i = 0; i < R_SNAP_N; i++)
		if (old[i])
			MHD_destroy_response(old[i]);
}

void httpd_get_stats(struct httpd *h, struct httpd_stats *st)
{
	for (int i = 0; i < 4; i++)
		st->answered[i] = atomic_load(&h->answered[i]);
	st->cpu_s = (double)atomic_load(&h->cpu_ns) / 1e9;
	st->gzip_compressions = atomic_load(&h->compressions);
	st->evicted = atomic_load(&h->evicted);
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
	for (int i = 0; i < R_SNAP_N; i++)
		if (h->resp[i])
			MHD_destroy_response(h->resp[i]);
	for (int i = 0; i < F_N; i++)
		if (h->fixed[i])
			MHD_destroy_response(h->fixed[i]);
	for (size_t i = 0; i < MAX_USERS; i++)
		free(h->good_pass[i]);
	httpd_webcfg_done(&h->cfg);
	free(h->cert);
	free(h->key);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

#else /* !HQ_WITH_MHD */

/*
 * Without libmicrohttpd (the static build, copied into VMs): a small plain
 * HTTP/1.x server on one thread, enough for Prometheus and curl.  GET and
 * HEAD of /metrics (OpenMetrics or text 0.0.4 by the Accept header, never
 * compressed) and of /, 503 before the first snapshot, 404 and 405 for the
 * rest, one request per connection (Connection: close).  Bounded like the
 * full server: connections (max_connections, 64), request size (32 KiB of
 * request line and headers: 431 past it) and time (a request must arrive and
 * its answer leave within the timeout, 10 s).  No TLS and no basic auth: a
 * --web-config is refused rather than ignored.
 */
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#define PLAIN_MAX_REQ (32u << 10)

struct pconn {
	int fd;
	uint64_t since_ns;
	size_t len;
	char *buf;	/* PLAIN_MAX_REQ + 1 */
};

struct httpd {
	int lfd, wake[2];
	pthread_t th;
	pthread_mutex_t mu;	/* the snapshot */
	char *text, *om, *index;
	size_t text_len, om_len, index_len;
	bool have;
	unsigned max_conn, port;
	uint64_t timeout_ns;
	atomic_uint_least64_t answered[4];
	atomic_uint_least64_t cpu_ns, evicted;
};

bool httpd_available(void)
{
	return true;
}

bool httpd_tls_available(void)
{
	return false;
}

static uint64_t plain_mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint64_t plain_thread_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Write all of buf within the connection's deadline (the socket is non-blocking). */
static void plain_write(int fd, const char *buf, size_t n, uint64_t deadline)
{
	while (n) {
		ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
		if (w > 0) {
			buf += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return;
		uint64_t now = plain_mono_ns();
		if (now >= deadline)
			return;
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		poll(&p, 1, (int)((deadline - now) / 1000000 + 1));
	}
}

static void plain_answer(struct httpd *h, int fd, int code, const char *reason, const char *type, const char *body,
			 size_t len, bool head, const char *extra, uint64_t deadline)
{
	char hdr[512];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n", code,
			 reason, type, len, extra ? extra : "");
	plain_write(fd, hdr, (size_t)n, deadline);
	if (!head && len)
		plain_write(fd, body, len, deadline);
	atomic_fetch_add(&h->answered[code < 300 ? 0 : code < 500 ? 1 : 2], 1);
}

static void plain_request(struct httpd *h, struct pconn *c)
{
	uint64_t deadline = plain_mono_ns() + h->timeout_ns;
	struct httpd_plain_req rq;
	switch (httpd_plain_parse(c->buf, &rq)) {
	case 400:
		plain_answer(h, c->fd, 400, "Bad Request", "text/plain; charset=utf-8", "bad request\n", 12, false, NULL,
			     deadline);
		return;
	case 405:
		plain_answer(h, c->fd, 405, "Method Not Allowed", "text/plain; charset=utf-8", "method not allowed\n", 19,
			     false, "Allow: GET, HEAD\r\n", deadline);
		return;
	case 404:
		plain_answer(h, c->fd, 404, "Not Found", "text/plain; charset=utf-8", "not found: try /metrics\n", 24, rq.head, NULL,
			     deadline);
		return;
	}
	bool head = rq.head;
	pthread_mutex_lock(&h->mu);
	if (!h->have) {
		pthread_mutex_unlock(&h->mu);
		plain_answer(h, c->fd, 503, "Service Unavailable", "text/plain; charset=utf-8",
			     "no sample yet\n", 14, head, "Retry-After: 1\r\n", deadline);
		return;
	}
	if (!rq.metrics) {
		plain_answer(h, c->fd, 200, "OK", "text/html; charset=utf-8", h->index ? h->index : "", h->index_len, head,
			     NULL, deadline);
	} else {
		bool om = rq.openmetrics;
		if (!om && !h->text && h->om)
			h->text = om_text_from_openmetrics(h->om, h->om_len, &h->text_len);
		const char *b = om ? h->om : h->text;
		size_t bl = om ? h->om_len : h->text_len;
		plain_answer(h, c->fd, 200, "OK",
			     om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
				: "text/plain; version=0.0.4; charset=utf-8",
			     b ? b : "", b ? bl : 0, head, "Vary: Accept\r\n", deadline);
	}
	pthread_mutex_unlock(&h->mu);
}

static void *plain_thread(void *arg)
{
	struct httpd *h = arg;
	unsigned max = h->max_conn;
	struct pconn *cs = xcalloc(max, sizeof(*cs));
	struct pollfd *pf = xcalloc(max + 2, sizeof(*pf));
	for (unsigned i = 0; i < max; i++)
		cs[i].fd = -1;
	for (;;) {
		uint64_t t0 = plain_thread_ns();
		unsigned n = 0;
		pf[n++] = (struct pollfd){ .fd = h->wake[0], .events = POLLIN };
		pf[n++] = (struct pollfd){ .fd = h->lfd, .events = POLLIN };
		for (unsigned i = 0; i < max; i++)
			if (cs[i].fd >= 0)
				pf[n++] = (struct pollfd){ .fd = cs[i].fd, .events = POLLIN };
		atomic_fetch_add(&h->cpu_ns, plain_thread_ns() - t0);
		if (poll(pf, n, 1000) < 0 && errno != EINTR)
			break;
		t0 = plain_thread_ns();
		if (pf[0].revents)
			break;
		uint64_t now = plain_mono_ns();
		if (pf[1].revents & POLLIN) {
			int fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd >= 0) {
				unsigned slot = max, oldest = max;
				for (unsigned i = 0; i < max; i++) {
					if (cs[i].fd < 0 && slot == max)
						slot = i;
					if (cs[i].fd >= 0 && (oldest == max || cs[i].since_ns < cs[oldest].since_ns))
						oldest = i;
				}
				if (slot == max) { /* every slot taken: the longest waiting one makes room */
					close(cs[oldest].fd);
					cs[oldest].fd = -1;
					atomic_fetch_add(&h->evicted, 1);
					slot = oldest;
				}
				if (!cs[slot].buf)
					cs[slot].buf = xmalloc(PLAIN_MAX_REQ + 1);
				cs[slot].fd = fd;
				cs[slot].len = 0;
				cs[slot].since_ns = now;
			}
		}
		for (unsigned k = 2; k < n; k++) {
			if (!pf[k].revents)
				continue;
			struct pconn *c = NULL;
			for (unsigned i = 0; i < max && !c; i++)
				if (cs[i].fd == pf[k].fd)
					c = &cs[i];
			if (!c)
				continue;
			ssize_t r = read(c->fd, c->buf + c->len, PLAIN_MAX_REQ - c->len);
			if (r <= 0) {
				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				close(c->fd);
				c->fd = -1;
				continue;
			}
			c->len += (size_t)r;
			c->buf[c->len] = '\0';
			if (strstr(c->buf, "\r\n\r\n") || strstr(c->buf, "\n\n")) {
				plain_request(h, c);
			} else if (c->len >= PLAIN_MAX_REQ) {
				plain_answer(h, c->fd, 431, "Request Header Fields Too Large", "text/plain; charset=utf-8",
					     "request too large\n", 18, false, NULL, now + h->timeout_ns);
			} else {
				continue;
			}
			close(c->fd);
			c->fd = -1;
		}
		for (unsigned i = 0; i < max; i++)
			if (cs[i].fd >= 0 && now - cs[i].since_ns > h->timeout_ns) {
				close(cs[i].fd);
				cs[i].fd = -1;
				atomic_fetch_add(&h->evicted, 1);
			}
		atomic_fetch_add(&h->cpu_ns, plain_thread_ns() - t0);
	}
	for (unsigned i = 0; i < max; i++) {
		if (cs[i].fd >= 0)
			close(cs[i].fd);
		free(cs[i].buf);
	}
	free(cs);
	free(pf);
	return NULL;
}

int httpd_start(struct httpd **out, const struct httpd_opts *o, char **why)
{
	*out = NULL;
	*why = NULL;
	if (o->web_config) {
		*why = xstrdup("this hiddenq was built without libmicrohttpd (the static build): it serves plain HTTP only, "
			       "without TLS or basic auth; --web-config needs the dynamic build");
		return -ENOTSUP;
	}
	struct sockaddr_storage ss;
	unsigned sl;
	if (httpd_parse_listen(o->listen, &ss, &sl, why) < 0)
		return -EINVAL;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*why = xasprintf("socket: %s", strerror(errno));
		return -errno;
	}
	int one = 1, zero = 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0) {
		int e = errno;
		*why = xasprintf("cannot listen on %s: %s", o->listen, strerror(e));
		close(fd);
		return -e;
	}
	struct httpd *h = xcalloc(1, sizeof(*h));
	h->lfd = fd;
	h->max_conn = o->max_connections ? o->max_connections : 64;
	h->timeout_ns = (uint64_t)(o->timeout_s ? o->timeout_s : 10) * 1000000000ull;
	struct sockaddr_storage bound;
	socklen_t bl = sizeof(bound);
	if (getsockname(fd, (struct sockaddr *)&bound, &bl) == 0)
		h->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
							     : ((struct sockaddr_in *)&bound)->sin_port);
	if (pipe2(h->wake, O_CLOEXEC) < 0) {
		int e = errno;
		*why = xasprintf("failed to create the HTTP thread's wake-up pipe: %s", strerror(e));
		close(fd);
		free(h);
		return -e;
	}
	pthread_mutex_init(&h->mu, NULL);
	int e = pthread_create(&h->th, NULL, plain_thread, h);
	if (e) {
		*why = xasprintf("failed to start the HTTP thread: %s", strerror(e));
		close(h->wake[0]);
		close(h->wake[1]);
		pthread_mutex_destroy(&h->mu);
		close(fd);
		free(h);
		return -e;
	}
	*out = h;
	return 0;
}

void httpd_publish(struct httpd *h, struct httpd_snapshot *s)
{
	if (!h) {
		free(s->text);
		free(s->om);
		free(s->index);
		memset(s, 0, sizeof(*s));
		return;
	}
	pthread_mutex_lock(&h->mu);
	free(h->text);
	free(h->om);
	free(h->index);
	h->text = s->text;
	h->text_len = s->text_len;
	h->om = s->om;
	h->om_len = s->om_len;
	h->index = s->index;
	h->index_len = s->index_len;
	h->have = true;
	pthread_mutex_unlock(&h->mu);
	memset(s, 0, sizeof(*s));
}

void httpd_get_stats(struct httpd *h, struct httpd_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!h)
		return;
	for (int i = 0; i < 4; i++)
		st->answered[i] = atomic_load(&h->answered[i]);
	st->cpu_s = (double)atomic_load(&h->cpu_ns) / 1e9;
	st->evicted = atomic_load(&h->evicted);
}

unsigned httpd_port(const struct httpd *h)
{
	return h ? h->port : 0;
}

void httpd_stop(struct httpd *h)
{
	if (!h)
		return;
	if (write(h->wake[1], "x", 1) < 0) {
		/* the thread also wakes every second */
	}
	pthread_join(h->th, NULL);
	close(h->wake[0]);
	close(h->wake[1]);
	close(h->lfd);
	pthread_mutex_destroy(&h->mu);
	free(h->text);
	free(h->om);
	free(h->index);
	free(h);
}

#endif
