/*
 * fetch.c - concurrent HTTP(S) GETs with libcurl's multi_socket API on a libevent loop.
 *
 * Ownership: struct fetch owns the CURLM, one timer event and the list of live transfers; each
 * transfer (struct xfer) owns its easy handle, its bounded body buffer and its error buffer and
 * is found again through CURLOPT_PRIVATE; each socket context (struct sock) owns one persistent
 * struct event and is attached to curl's socket with curl_multi_assign, so socket state is keyed
 * by that context and never by a file descriptor number (fds are reused); libcurl owns the fds.
 *
 * The rules that keep this correct:
 *  - curl_multi_socket_action is only called from our own libevent callbacks, never from inside
 *    a libcurl callback: a timer request of 0 ms arms a zero timeout instead;
 *  - after every socket_action the message queue is drained; a finished transfer is removed from
 *    the multi, reported, then its easy handle is cleaned up, all outside libcurl's callbacks;
 *  - a transfer is aborted from inside libcurl only by returning an error from a callback (the
 *    write callback does so when the body would exceed max_body);
 *  - teardown removes every transfer (reporting FETCH_E_CANCELLED), then curl_multi_cleanup (which
 *    may still call the socket callback, so every loop object is still alive), then frees the
 *    leftover socket contexts and the timer. The caller frees the event_base afterwards and calls
 *    fetch_global_cleanup last.
 */
#include "fetch.h"

#include "bounds.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#ifndef VEILLE_VERSION
#define VEILLE_VERSION "0"
#endif

#define FETCH_MAX_HEADER 1024 /* bytes kept of one captured header value */

struct sock {
	struct fetch *f;
	struct event *ev;
	curl_socket_t fd;
	struct sock *prev, *next;
};

struct xfer {
	struct fetch *f;
	CURL *easy;
	fetch_done_cb cb;
	void *arg;
	struct curl_slist *headers;
	struct buf body;
	bool too_big;
	/* Captured from the header callback; reset at each response's status line. */
	long status;
	char *etag, *last_modified, *content_type, *content_encoding;
	int64_t retry_after, max_age;
	/* Redirect bookkeeping: responses seen, and whether each 3xx was a 301/308. */
	unsigned redirects;
	bool only_permanent;
	bool saw_redirect;
	char errbuf[CURL_ERROR_SIZE];
	struct xfer *prev, *next;
};

struct fetch {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	bool timer_now; /* timer is armed with curl's zero timeout (timer_cb) */
	struct xfer *xfers;
	struct sock *socks;
	size_t active;
	struct fetch_options opts;
	char *user_agent;
};

void fetch_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void thread_decompressor_free(void);

void fetch_global_cleanup(void)
{
	curl_global_cleanup();
	thread_decompressor_free();
}

const char *fetch_error_name(enum fetch_error e)
{
	static const char *const names[FETCH_E_MAX] = {
	    [FETCH_OK] = "ok",
	    [FETCH_E_CONNECT] = "connect",
	    [FETCH_E_DNS] = "dns",
	    [FETCH_E_TIMEOUT] = "timeout",
	    [FETCH_E_TOO_BIG] = "too-big",
	    [FETCH_E_REDIRECT] = "redirect",
	    [FETCH_E_PROTOCOL] = "protocol",
	    [FETCH_E_CANCELLED] = "cancelled",
	};
	if ((unsigned)e >= FETCH_E_MAX)
		return "unknown";
	return names[e];
}

/* ---- lists ---- */

static void xfer_link(struct fetch *f, struct xfer *x)
{
	x->prev = NULL;
	x->next = f->xfers;
	if (f->xfers)
		f->xfers->prev = x;
	f->xfers = x;
	f->active++;
}

static void xfer_unlink(struct fetch *f, struct xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		f->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
	f->active--;
}

static void sock_free(struct sock *s)
{
	struct fetch *f = s->f;
	if (s->prev)
		s->prev->next = s->next;
	else
		f->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->ev)
		event_free(s->ev);
	free(s);
}

static void xfer_free(struct xfer *x)
{
	if (!x)
		return;
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	buf_free(&x->body);
	free(x->etag);
	free(x->last_modified);
	free(x->content_type);
	free(x->content_encoding);
	free(x);
}

/* ---- libcurl callbacks: they only record; they never call back into the multi ---- */

static size_t write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;
	if (len > x->f->opts.max_body - x->body.len) {
		x->too_big = true;
		return 0; /* CURLE_WRITE_ERROR: libcurl stops reading */
	}
	buf_append(&x->body, data, len);
	return len;
}

static bool header_is(const char *line, size_t len, const char *name, const char **ret_value,
		      size_t *ret_len)
{
	size_t nlen = strlen(name);
	if (len <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen) != 0)
		return false;
	const char *v = line + nlen + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*ret_value = v;
	*ret_len = (size_t)(end - v);
	return true;
}

static char *header_dup(const char *v, size_t len)
{
	return xstrndup(v, len < FETCH_MAX_HEADER ? len : FETCH_MAX_HEADER);
}

/* A validator (ETag, Last-Modified) is kept whole or not at all: cut short, it would be sent back
 * and never match, and the server would answer every conditional request in full. */
static char *validator_dup(const char *v, size_t len)
{
	return len <= FETCH_MAX_HEADER ? xstrndup(v, len) : NULL;
}

/* Parses a decimal number of seconds (at most 10 digits) from v[0..len); -1 when it is not one. */
static int64_t parse_seconds(const char *v, size_t len)
{
	int64_t n = 0;
	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	return n;
}

/* Retry-After is either delta-seconds or an HTTP date; the date becomes seconds from now. */
static int64_t parse_retry_after(const char *v, size_t len)
{
	int64_t n = parse_seconds(v, len);
	if (n >= 0)
		return n;
	char tmp[128];
	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, v, len);
	tmp[len] = '\0';
	time_t t = curl_getdate(tmp, NULL);
	if (t == (time_t)-1)
		return -1;
	int64_t d = (int64_t)t - now_unix();
	return d > 0 ? d : 0;
}

/* Finds max-age=N among the comma-separated Cache-Control directives ("s-maxage" is not it). */
static int64_t parse_max_age(const char *v, size_t len)
{
	const char *p = v, *end = v + len;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *tok_end = comma ? comma : end;
		while (p < tok_end && (*p == ' ' || *p == '\t'))
			p++;
		size_t tlen = (size_t)(tok_end - p);
		if (tlen > 8 && strncasecmp(p, "max-age=", 8) == 0) {
			const char *num = p + 8;
			size_t nlen = tlen - 8;
			while (nlen > 0 && (num[nlen - 1] == ' ' || num[nlen - 1] == '\t'))
				nlen--;
			if (nlen >= 2 && num[0] == '"' && num[nlen - 1] == '"') {
				num++;
				nlen -= 2;
			}
			return parse_seconds(num, nlen);
		}
		p = comma ? comma + 1 : end;
	}
	return -1;
}

static void xfer_reset_response(struct xfer *x)
{
	free(x->etag);
	free(x->last_modified);
	free(x->content_type);
	free(x->content_encoding);
	x->etag = x->last_modified = x->content_type = x->content_encoding = NULL;
	x->retry_after = x->max_age = -1;
}

static size_t header_cb(char *line, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;
	const char *v;
	size_t vlen;

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* A new response starts: "HTTP/1.1 301 Moved". 1xx interim responses are ignored.
		 */
		const char *sp = memchr(line, ' ', len);
		long status = 0;
		if (sp && (size_t)(line + len - (sp + 1)) >= 3) {
			int64_t code = parse_seconds(sp + 1, 3);
			status = code > 0 ? (long)code : 0;
		}
		if (status >= 100 && status < 200)
			return len;
		if (x->status >= 300 && x->status < 400) {
			/* The previous response was a redirect that libcurl is following. */
			x->redirects++;
			if (x->status != 301 && x->status != 308)
				x->only_permanent = false;
		}
		x->status = status;
		if (status >= 300 && status < 400)
			x->saw_redirect = true;
		xfer_reset_response(x);
		return len;
	}
	if (header_is(line, len, "ETag", &v, &vlen)) {
		free(x->etag);
		x->etag = validator_dup(v, vlen);
	} else if (header_is(line, len, "Last-Modified", &v, &vlen)) {
		free(x->last_modified);
		x->last_modified = validator_dup(v, vlen);
	} else if (header_is(line, len, "Content-Type", &v, &vlen)) {
		free(x->content_type);
		x->content_type = header_dup(v, vlen);
	} else if (header_is(line, len, "Content-Encoding", &v, &vlen)) {
		free(x->content_encoding);
		x->content_encoding = header_dup(v, vlen);
	} else if (header_is(line, len, "Retry-After", &v, &vlen)) {
		x->retry_after = parse_retry_after(v, vlen);
	} else if (header_is(line, len, "Cache-Control", &v, &vlen)) {
		int64_t ma = parse_max_age(v, vlen);
		if (ma >= 0)
			x->max_age = ma;
	}
	return len;
}

/* ---- completion ---- */

static void host_of(const char *url, char *out, size_t outlen)
{
	CURLU *u = curl_url();
	char *host = NULL;
	out[0] = '\0';
	if (u && url &&
	    curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		snprintf(out, outlen, "%s", host);
	curl_free(host);
	curl_url_cleanup(u);
}

char *fetch_host_key(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *key = NULL;
	if (u && url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
		key = xasprintf("%s:%s", host, port);
		for (char *c = key; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
	}
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return key;
}

static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\r' || *s == '\n')
			*s = ' ';
}

/* "body larger than 8 MiB", then what (may be ""). */
static void too_big_msg(size_t max, const char *what, char *msg, size_t msglen)
{
	if (max % (1u << 20) == 0)
		snprintf(msg, msglen, "body larger than %zu MiB%s", max >> 20, what);
	else
		snprintf(msg, msglen, "body larger than %zu bytes%s", max, what);
}

static enum fetch_error map_error(struct xfer *x, CURLcode rc, char *msg, size_t msglen)
{
	const struct fetch_options *o = &x->f->opts;
	const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
	char host[256];
	long oserr = 0;
	char *url = NULL;

	switch (rc) {
	case CURLE_OK:
		msg[0] = '\0';
		return FETCH_OK;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		if (rc == CURLE_FILESIZE_EXCEEDED || x->too_big) {
			too_big_msg(o->max_body, "", msg, msglen);
			return FETCH_E_TOO_BIG;
		}
		snprintf(msg, msglen, "write error: %.200s", detail);
		return FETCH_E_PROTOCOL;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &url);
		host_of(url, host, sizeof(host));
		snprintf(msg, msglen, "could not resolve %shost '%s'",
			 rc == CURLE_COULDNT_RESOLVE_PROXY ? "proxy " : "", host);
		return FETCH_E_DNS;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr);
		if (oserr == ECONNREFUSED)
			snprintf(msg, msglen, "connection refused");
		else if (oserr)
			snprintf(msg, msglen, "could not connect: %s", strerror((int)oserr));
		else
			snprintf(msg, msglen, "could not connect: %.200s", detail);
		return FETCH_E_CONNECT;
	case CURLE_OPERATION_TIMEDOUT: {
		/* Connect time is 0 on a reused keep-alive connection too: whether the request was
		 * ever sent (pre-transfer time) tells a connect timeout from a slow answer. */
		double sent = 0;
		curl_easy_getinfo(x->easy, CURLINFO_PRETRANSFER_TIME, &sent);
		if (strncmp(x->errbuf, "Operation too slow", 18) == 0)
			snprintf(msg, msglen, "too slow: under %ld bytes/s for %ld s",
				 o->low_speed_bytes, o->low_speed_seconds);
		else if (sent <= 0)
			snprintf(msg, msglen, "connect timed out after %g s",
				 (double)o->connect_timeout_ms / 1000.0);
		else
			snprintf(msg, msglen, "timed out after %g s",
				 (double)o->timeout_ms / 1000.0);
		return FETCH_E_TIMEOUT;
	}
	case CURLE_TOO_MANY_REDIRECTS:
		snprintf(msg, msglen, "too many redirects (more than %u)", o->max_redirects);
		return FETCH_E_REDIRECT;
	case CURLE_UNSUPPORTED_PROTOCOL:
		if (x->saw_redirect) {
			snprintf(msg, msglen, "redirect to a scheme other than http/https refused");
			return FETCH_E_REDIRECT;
		}
		snprintf(msg, msglen, "URL scheme other than http/https refused");
		return FETCH_E_PROTOCOL;
	case CURLE_URL_MALFORMAT:
		snprintf(msg, msglen, "malformed URL: %.200s", detail);
		return FETCH_E_PROTOCOL;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_USE_SSL_FAILED:
		snprintf(msg, msglen, "TLS: %.200s", detail);
		return FETCH_E_CONNECT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		snprintf(msg, msglen, "connection error: %.200s", detail);
		return FETCH_E_CONNECT;
	case CURLE_PARTIAL_FILE:
		snprintf(msg, msglen, "truncated body: %.200s", detail);
		return FETCH_E_PROTOCOL;
	case CURLE_BAD_CONTENT_ENCODING:
		snprintf(msg, msglen, "bad content encoding: %.200s", detail);
		return FETCH_E_PROTOCOL;
	case CURLE_GOT_NOTHING:
		snprintf(msg, msglen, "empty reply from server");
		return FETCH_E_PROTOCOL;
	default:
		snprintf(msg, msglen, "%.250s", detail);
		return FETCH_E_PROTOCOL;
	}
}

/* ---- content codings ---- */

enum coding { CODING_GZIP, CODING_DEFLATE };

#define FETCH_MAX_CODINGS 4

/* The codings of a Content-Encoding value, in the order they were applied ("identity" left out)
 * into out[0..*ret_n). 0, or -ENOTSUP with msg. */
static int codings_parse(const char *encoding, enum coding out[FETCH_MAX_CODINGS], size_t *ret_n,
			 char *msg, size_t msglen)
{
	size_t n = 0;
	const char *p = encoding ? encoding : "";
	while (*p) {
		p += strspn(p, " \t,");
		size_t len = strcspn(p, ",");
		const char *name = p;
		p += len;
		while (len && (name[len - 1] == ' ' || name[len - 1] == '\t'))
			len--;
		if (!len || (len == 8 && strncasecmp(name, "identity", 8) == 0))
			continue;
		enum coding c;
		if ((len == 4 && strncasecmp(name, "gzip", 4) == 0) ||
		    (len == 6 && strncasecmp(name, "x-gzip", 6) == 0))
			c = CODING_GZIP;
		else if (len == 7 && strncasecmp(name, "deflate", 7) == 0)
			c = CODING_DEFLATE;
		else {
			snprintf(msg, msglen, "unsupported content encoding '%.*s'",
				 (int)(len < 40 ? len : 40), name);
			return -ENOTSUP;
		}
		if (n == FETCH_MAX_CODINGS) {
			snprintf(msg, msglen, "more than %d content codings", FETCH_MAX_CODINGS);
			return -ENOTSUP;
		}
		out[n++] = c;
	}
	*ret_n = n;
	return 0;
}

/*
 * One libdeflate decompressor per thread (its tables, about 11 KiB), made on the thread's first
 * body and reused for every later one, freed when the thread exits (a worker's, when the worker
 * is freed) or by fetch_global_cleanup (the calling thread's).
 */
static _Thread_local struct libdeflate_decompressor *thread_decomp;

static void decomp_free_cb(void *d)
{
	libdeflate_free_decompressor(d);
}

static struct thread_slot decomp_slot = THREAD_SLOT(decomp_free_cb);

/* The calling thread's decompressor, or NULL when it cannot keep one (each body then gets a
 * decompressor of its own: correct, slower). */
static struct libdeflate_decompressor *thread_decompressor(void)
{
	if (thread_decomp)
		return thread_decomp;
	struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
	if (d && !thread_slot_keep(&decomp_slot, d)) {
		libdeflate_free_decompressor(d);
		return NULL;
	}
	return thread_decomp = d;
}

/* Frees the calling thread's decompressor now (the main thread's: it has no exit of its own). */
static void thread_decompressor_free(void)
{
	if (!thread_decomp)
		return;
	thread_slot_keep(&decomp_slot, NULL);
	libdeflate_free_decompressor(thread_decomp);
	thread_decomp = NULL;
}

/*
 * Decodes in[0..len), coded with c, into out (empty), at most max bytes. 0 or -errno with msg.
 * HTTP's deflate is a zlib stream, but some servers send raw deflate: the header tells them
 * apart. gzip may hold several members; bytes after the last are ignored. libdeflate decodes a
 * whole member into a buffer that must hold all of it: the first size tried is the last gzip
 * member's trailer (exact for one member), and it doubles each time the output does not fit, up
 * to max: a member that does not fit then makes a body larger than max (a bomb stops there).
 */
static int inflate_one(struct libdeflate_decompressor *d, enum coding c, const unsigned char *in,
		       size_t len, size_t max, struct buf *out, char *msg, size_t msglen)
{
	const char *name = c == CODING_GZIP ? "gzip" : "deflate";
	bool zlib = false;
	size_t guess = len * 4;
	if (c == CODING_DEFLATE)
		zlib = len >= 2 && (in[0] & 0x0f) == 8 && ((in[0] << 8) | in[1]) % 31 == 0;
	else if (len >= 18) /* a single member's trailer ends with its size, modulo 2^32 */
		guess = (size_t)in[len - 4] | (size_t)in[len - 3] << 8 | (size_t)in[len - 2] << 16 |
			(size_t)in[len - 1] << 24;
	/* deflate inflates at most 1032 times */
	if (guess / 1032 > len)
		guess = len * 1032;
	size_t size = guess < 4096 ? 4096 : guess;
	if (size > max)
		size = max;
	out->p = xmalloc(size + 1);
	out->cap = size + 1;
	for (;;) {
		size_t used = 0, made = 0;
		char *to = out->p + out->len;
		size_t room = size - out->len;
		enum libdeflate_result rc;
		if (c == CODING_GZIP)
			rc = libdeflate_gzip_decompress_ex(d, in, len, to, room, &used, &made);
		else if (zlib)
			rc = libdeflate_zlib_decompress_ex(d, in, len, to, room, &used, &made);
		else
			rc = libdeflate_deflate_decompress_ex(d, in, len, to, room, &used, &made);
		if (rc == LIBDEFLATE_INSUFFICIENT_SPACE && size < max) {
			size = size < max - size ? 2 * size : max;
			out->p = xreallocarray(out->p, size + 1, 1);
			out->cap = size + 1;
			continue;
		}
		if (rc == LIBDEFLATE_INSUFFICIENT_SPACE) {
			too_big_msg(max,
				    c == CODING_GZIP ? " once decoded (gzip)"
						     : " once decoded (deflate)",
				    msg, msglen);
			return -EFBIG;
		}
		if (rc != LIBDEFLATE_SUCCESS) {
			if (c == CODING_GZIP && (len < 2 || in[0] != 0x1f || in[1] != 0x8b))
				snprintf(msg, msglen, "bad gzip data: no gzip header");
			else
				snprintf(msg, msglen, "bad %s data: corrupt or truncated", name);
			return -EBADMSG;
		}
		out->len += made;
		in += used;
		len -= used;
		if (c != CODING_GZIP || len < 2 || in[0] != 0x1f || in[1] != 0x8b)
			break;
	}
	out->p[out->len] = '\0';
	return 0;
}

int fetch_decode(const char *encoding, const char *body, size_t len, size_t max, char **ret_body,
		 size_t *ret_len, char *errmsg, size_t errlen)
{
	enum coding codings[FETCH_MAX_CODINGS];
	size_t n;
	int r = codings_parse(encoding, codings, &n, errmsg, errlen);
	if (r < 0)
		return r;
	if (len > max) {
		too_big_msg(max, "", errmsg, errlen);
		return -EFBIG;
	}
	struct buf cur = {0};
	const char *in = body;
	size_t in_len = len;
	if (!len) /* an empty body (a 204, an error page) has nothing to decode */
		n = 0;
	if (!n)
		buf_append(&cur, body, len);
	struct libdeflate_decompressor *d = n ? thread_decompressor() : NULL, *own = NULL;
	if (n && !d && !(d = own = libdeflate_alloc_decompressor())) {
		snprintf(errmsg, errlen, "cannot decode: out of memory");
		return -ENOMEM;
	}
	/* The last coding applied is undone first. */
	while (n--) {
		struct buf out = {0};
		r = inflate_one(d, codings[n], (const unsigned char *)in, in_len, max, &out, errmsg,
				errlen);
		buf_free(&cur);
		cur = out;
		if (r < 0)
			break;
		in = cur.p;
		in_len = cur.len;
	}
	libdeflate_free_decompressor(own);
	if (r < 0) {
		buf_free(&cur);
		return r;
	}
	errmsg[0] = '\0';
	*ret_len = cur.len;
	*ret_body = buf_steal(&cur);
	return 0;
}

size_t fetch_decoded_size(const char *encoding, const char *body, size_t len)
{
	enum coding codings[FETCH_MAX_CODINGS];
	size_t n = 0;
	char msg[80];
	if (codings_parse(encoding, codings, &n, msg, sizeof(msg)) == 0 && n == 0)
		return len;
	if (n == 1 && codings[0] == CODING_GZIP && len >= 18) {
		const unsigned char *t = (const unsigned char *)body + len - 4;
		return (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
	}
	return len > SIZE_MAX / 4 ? SIZE_MAX : len * 4;
}

/* True when encoding names a coding other than identity. */
static bool encoded(const char *encoding)
{
	enum coding codings[FETCH_MAX_CODINGS];
	size_t n = 0;
	char msg[80];
	return encoding && (codings_parse(encoding, codings, &n, msg, sizeof(msg)) < 0 || n > 0);
}

char *fetch_take_body(const struct fetch_result *res)
{
	return res->body_buf && res->body_buf->p ? buf_steal(res->body_buf) : NULL;
}

/* The body of r, x's, with its content codings: left as it is (keep_encoded), or decoded in
 * place of x's body, or an error instead of the body. */
static void decode_body(struct xfer *x, struct fetch_result *r)
{
	if (x->f->opts.keep_encoded) {
		r->content_encoding = x->content_encoding;
		return;
	}
	char *body;
	size_t len;
	int rc = fetch_decode(x->content_encoding, x->body.p, x->body.len, x->f->opts.max_body,
			      &body, &len, r->errmsg, sizeof(r->errmsg));
	buf_free(&x->body);
	if (rc < 0) {
		r->error = rc == -EFBIG ? FETCH_E_TOO_BIG : FETCH_E_PROTOCOL;
		r->body = NULL;
		r->body_len = 0;
		r->body_buf = NULL;
		return;
	}
	x->body = (struct buf){.p = body, .len = len, .cap = len + 1};
	r->body = body;
	r->body_len = len;
}

/* Reports x to its callback and frees it. x is already out of the multi and the list. */
static void xfer_deliver(struct xfer *x, CURLcode rc, bool cancelled)
{
	struct fetch_result r;
	memset(&r, 0, sizeof(r));
	r.retry_after = -1;
	r.max_age = -1;

	if (cancelled) {
		r.error = FETCH_E_CANCELLED;
		snprintf(r.errmsg, sizeof(r.errmsg), "cancelled");
	} else {
		r.error = map_error(x, rc, r.errmsg, sizeof(r.errmsg));
		one_line(r.errmsg);
		char *eff = NULL;
		long code = 0;
		double total = 0;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &eff);
		curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &total);
		r.status = code;
		r.effective_url = eff;
		r.seconds = total;
		r.etag = x->etag;
		r.last_modified = x->last_modified;
		r.content_type = x->content_type;
		r.retry_after = x->retry_after;
		r.max_age = x->max_age;
		if (r.error == FETCH_OK) {
			if (x->redirects > 0 && x->only_permanent)
				r.permanent_url = eff;
			if (code != 304) {
				if (!x->body.p)
					buf_append(&x->body, "", 0);
				r.body = x->body.p;
				r.body_len = x->body.len;
				r.body_buf = &x->body;
				if (encoded(x->content_encoding))
					decode_body(x, &r);
			}
		}
	}
	x->cb(&r, x->arg);
	xfer_free(x);
}

/* Drains libcurl's message queue; called after every socket_action, outside curl callbacks. */
static void check_done(struct fetch *f)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(f->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *easy = m->easy_handle;
		CURLcode rc = m->data.result; /* m is invalid after remove_handle */
		struct xfer *x = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(f->multi, easy);
		xfer_unlink(f, x);
		xfer_deliver(x, rc, false);
	}
}

/* ---- libevent side ---- */

static void timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *f = arg;
	int running;
	(void)fd;
	(void)what;
	f->timer_now = false;
	curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(f);
}

static void sock_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sock *s = arg;
	struct fetch *f = s->f; /* s may be freed by socket_action */
	int running;
	int action =
	    ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	curl_multi_socket_action(f->multi, fd, action, &running);
	check_done(f);
}

/* CURLMOPT_SOCKETFUNCTION: (re)arms or drops the event watching one of curl's sockets. */
static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct fetch *f = arg;
	struct sock *s = sockp;
	(void)easy;

	if (what == CURL_POLL_REMOVE) {
		if (s)
			sock_free(s);
		curl_multi_assign(f->multi, fd, NULL);
		return 0;
	}
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		s->f = f;
		s->fd = fd;
		s->next = f->socks;
		if (f->socks)
			f->socks->prev = s;
		f->socks = s;
		curl_multi_assign(f->multi, fd, s);
	} else if (s->ev) {
		event_del(s->ev);
		event_free(s->ev);
		s->ev = NULL;
	}
	short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
		     ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	s->ev = event_new(f->base, fd, kind, sock_event_cb, s);
	if (!s->ev || event_add(s->ev, NULL) != 0)
		return -1;
	return 0;
}

/*
 * CURLMOPT_TIMERFUNCTION: -1 deletes the timer; 0 arms a zero timeout (never act from here), which
 * a timer already armed with one, or already expired, keeps. curl asks for 0 at every transfer
 * added, and libevent takes an expired timer off the loop's turn when it is added again: the
 * engine starts a transfer when it stores a document from the worker, before the timers of the
 * same turn run, so while a document came in at every turn, no new transfer got under way (and
 * the worker ran out of documents).
 */
static int timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct fetch *f = arg;
	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(f->timer);
		f->timer_now = false;
		return 0;
	}
	if (timeout_ms == 0 && f->timer_now && evtimer_pending(f->timer, NULL))
		return 0;
	f->timer_now = timeout_ms == 0;
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	return evtimer_add(f->timer, &tv) == 0 ? 0 : -1;
}

/* ---- public ---- */

struct fetch *fetch_new(struct event_base *base, const struct fetch_options *opts)
{
	struct fetch *f = xcalloc(1, sizeof(*f));
	f->base = base;
	if (opts)
		f->opts = *opts;
	struct fetch_options *o = &f->opts;
	if (!o->max_connections)
		o->max_connections = 32;
	if (!o->max_host_connections)
		o->max_host_connections = 4;
	if (o->connect_timeout_ms <= 0)
		o->connect_timeout_ms = 10000;
	if (o->timeout_ms <= 0)
		o->timeout_ms = 60000;
	if (o->low_speed_bytes <= 0)
		o->low_speed_bytes = 100;
	if (o->low_speed_seconds <= 0)
		o->low_speed_seconds = 20;
	if (!o->max_body)
		o->max_body = VEILLE_MAX_BODY;
	if (!o->max_redirects)
		o->max_redirects = 5;
	f->user_agent = xstrdup(o->user_agent ? o->user_agent : "veille/" VEILLE_VERSION);
	o->user_agent = f->user_agent;

	f->timer = evtimer_new(base, timer_event_cb, f);
	f->multi = curl_multi_init();
	if (!f->timer || !f->multi)
		goto fail;
	if (curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, socket_cb) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, timer_cb) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)o->max_connections) !=
		CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
			      (long)o->max_host_connections) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)o->max_connections) != CURLM_OK)
		goto fail;
	return f;
fail:
	fetch_free(f);
	return NULL;
}

void fetch_cancel_all(struct fetch *f)
{
	if (!f)
		return;
	/* Take one at a time: a callback may start new transfers or cancel again. */
	while (f->xfers) {
		struct xfer *x = f->xfers;
		curl_multi_remove_handle(f->multi, x->easy);
		xfer_unlink(f, x);
		xfer_deliver(x, CURLE_OK, true);
	}
}

void fetch_free(struct fetch *f)
{
	if (!f)
		return;
	if (f->multi) {
		fetch_cancel_all(f);
		curl_multi_cleanup(f->multi); /* may call socket_cb: everything below is alive */
	}
	while (f->socks)
		sock_free(f->socks);
	if (f->timer)
		event_free(f->timer);
	free(f->user_agent);
	free(f);
}

size_t fetch_active(const struct fetch *f)
{
	return f ? f->active : 0;
}

/* Appends "name: value" to x's request headers; the value is cut at the first CR or LF. */
static int add_header(struct xfer *x, const char *name, const char *value)
{
	char *line = xasprintf("%s: %.*s", name, (int)strcspn(value, "\r\n"), value);
	struct curl_slist *l = curl_slist_append(x->headers, line);
	free(line);
	if (!l)
		return -ENOMEM;
	x->headers = l;
	return 0;
}

#define SETOPT(opt, val)                                                                           \
	do {                                                                                       \
		if (curl_easy_setopt(x->easy, opt, val) != CURLE_OK)                               \
			goto fail;                                                                 \
	} while (0)

int fetch_start(struct fetch *f, const struct fetch_request *req, fetch_done_cb cb, void *arg)
{
	const struct fetch_options *o = &f->opts;
	if (!req || !req->url || !cb || strlen(req->url) > VEILLE_MAX_URL)
		return -EINVAL;

	struct xfer *x = xcalloc(1, sizeof(*x));
	x->f = f;
	x->cb = cb;
	x->arg = arg;
	x->retry_after = x->max_age = -1;
	x->only_permanent = true;
	x->easy = curl_easy_init();
	if (!x->easy)
		goto fail;

	if (req->etag && *req->etag && add_header(x, "If-None-Match", req->etag) != 0)
		goto fail;
	if (req->last_modified && *req->last_modified &&
	    add_header(x, "If-Modified-Since", req->last_modified) != 0)
		goto fail;

	SETOPT(CURLOPT_URL, req->url);
	SETOPT(CURLOPT_PRIVATE, (char *)x);
	SETOPT(CURLOPT_ERRORBUFFER, x->errbuf);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SETOPT(CURLOPT_FOLLOWLOCATION, 1L);
	SETOPT(CURLOPT_MAXREDIRS, (long)o->max_redirects);
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	SETOPT(CURLOPT_TIMEOUT_MS, o->timeout_ms);
	SETOPT(CURLOPT_LOW_SPEED_LIMIT, o->low_speed_bytes);
	SETOPT(CURLOPT_LOW_SPEED_TIME, o->low_speed_seconds);
	SETOPT(CURLOPT_ACCEPT_ENCODING, FETCH_ACCEPT_ENCODING);
	SETOPT(CURLOPT_HTTP_CONTENT_DECODING, 0L);
	SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_body);
	SETOPT(CURLOPT_WRITEFUNCTION, write_cb);
	SETOPT(CURLOPT_WRITEDATA, x);
	SETOPT(CURLOPT_HEADERFUNCTION, header_cb);
	SETOPT(CURLOPT_HEADERDATA, x);
	SETOPT(CURLOPT_USERAGENT, o->user_agent);
	if (x->headers)
		SETOPT(CURLOPT_HTTPHEADER, x->headers);

	/* Adding may call timer_cb (arming a zero timeout); the transfer starts from the loop. */
	if (curl_multi_add_handle(f->multi, x->easy) != CURLM_OK)
		goto fail;
	xfer_link(f, x);
	return 0;
fail:
	xfer_free(x);
	return -ENOMEM;
}
