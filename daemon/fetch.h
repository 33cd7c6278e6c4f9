/*
 * fetch.h - concurrent HTTP(S) GETs with libcurl's multi_socket API on a libevent loop.
 *
 * One struct fetch owns the CURLM, its timer event and every live transfer. Completion is
 * reported through a callback from the event loop, never from inside a libcurl callback.
 */
#ifndef VEILLE_FETCH_H
#define VEILLE_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

struct event_base;
struct fetch;

struct fetch_options {
	/* libcurl holds transfers beyond these with their timeouts running: a caller that starts
	 * more at once should queue them itself (the engine does, fetch_host_key). */
	unsigned max_connections;      /* total, 0 = 32 */
	unsigned max_host_connections; /* per host, 0 = 4 */
	long connect_timeout_ms;       /* 0 = 10 s */
	long timeout_ms;	       /* whole transfer, 0 = 60 s */
	long low_speed_bytes;	       /* abort below this many bytes/s ... */
	long low_speed_seconds;	       /* ... for this long (0 = 20 s) */
	size_t max_body;	       /* body cap, as received and decoded, 0 = VEILLE_MAX_BODY */
	unsigned max_redirects;	       /* 0 = 5 */
	const char *user_agent;	       /* copied; NULL = "veille/VERSION" */
	/* Deliver a compressed body as it came, with its content_encoding, for the caller to
	 * decode elsewhere (fetch_decode); else fetch decodes it before delivering it. */
	bool keep_encoded;
};

/* What requests advertise in Accept-Encoding: the codings fetch_decode knows. */
#define FETCH_ACCEPT_ENCODING "gzip, deflate"

struct fetch_request {
	const char *url;	   /* http or https only */
	const char *etag;	   /* If-None-Match, or NULL */
	const char *last_modified; /* If-Modified-Since, or NULL */
};

enum fetch_error {
	FETCH_OK,	   /* a response was received (see status) */
	FETCH_E_CONNECT,   /* refused, unreachable, TLS failure */
	FETCH_E_DNS,	   /* host name not resolved */
	FETCH_E_TIMEOUT,   /* connect, total or low-speed timeout */
	FETCH_E_TOO_BIG,   /* body over max_body, as received or decoded */
	FETCH_E_REDIRECT,  /* too many redirects, a loop, or a redirect to another scheme */
	FETCH_E_PROTOCOL,  /* bad URL or scheme, malformed response, bad encoding */
	FETCH_E_CANCELLED, /* fetch_free / fetch_cancel_all while in flight */
	FETCH_E_MAX
};

/* What a finished transfer gives back. Every pointer is valid only during the callback. */
struct fetch_result {
	enum fetch_error error;
	char errmsg[256]; /* one line, "" on success */
	long status;	  /* HTTP status of the final response, 0 without one */
	const char *body; /* body (NUL-terminated), NULL on 304 or error: decoded, unless
			     keep_encoded and content_encoding is set */
	size_t body_len;
	/* keep_encoded: the codings body still has (its Content-Encoding), NULL when none;
	 * always NULL otherwise */
	const char *content_encoding;
	const char *etag; /* response validators, NULL when absent */
	const char *last_modified;
	const char *content_type;
	const char *effective_url; /* after redirects */
	const char *permanent_url; /* where a chain of only 301/308 led, NULL otherwise */
	int64_t retry_after;	   /* seconds asked by Retry-After (429/503), -1 when absent */
	int64_t max_age;	   /* Cache-Control max-age, -1 when absent */
	double seconds;		   /* total transfer time */
	struct buf *body_buf;	   /* private: what fetch_take_body takes */
};

/* Takes the body of res during its callback, without a copy: returns res->body (NUL-terminated,
 * res->body_len bytes), which the caller now owns and frees with free(); NULL when res has none. */
char *fetch_take_body(const struct fetch_result *res);

/*
 * Decodes body[0..len), sent with Content-Encoding encoding (codings in the order they were
 * applied: "gzip", "deflate" (zlib or raw), "x-gzip", "identity"), into a new NUL-terminated
 * buffer of at most max bytes, freed with free(); an empty body stays empty. Any thread. Returns 0
 * with *ret_body and *ret_len set; -EFBIG when a decoded body would exceed max, -ENOTSUP for a
 * coding it does not know, -EBADMSG for corrupt or truncated data, each with a one-line errmsg
 * saying why.
 */
int fetch_decode(const char *encoding, const char *body, size_t len, size_t max, char **ret_body,
		 size_t *ret_len, char *errmsg, size_t errlen);

/* What fetch_decode is expected to make of body[0..len): len without codings, the size a single
 * gzip member's trailer states, four times len otherwise. An estimate (the trailer may lie), for
 * sizing; any thread. */
size_t fetch_decoded_size(const char *encoding, const char *body, size_t len);

typedef void (*fetch_done_cb)(const struct fetch_result *res, void *arg);

/* libcurl's process-wide state: call fetch_global_init once before any fetch_new, and
 * fetch_global_cleanup once at exit, after every fetcher and the event_base are freed; it also
 * frees the calling thread's decompressor (fetch_decode keeps one per thread, freed at the exit
 * of every other thread). (fetch_new works without it, libcurl then initialises itself lazily.) */
void fetch_global_init(void);
void fetch_global_cleanup(void);

/* Returns a new fetcher bound to base (borrowed; must outlive it), or NULL. */
struct fetch *fetch_new(struct event_base *base, const struct fetch_options *opts);
/* Frees the fetcher; in-flight transfers complete with FETCH_E_CANCELLED first. NULL is a no-op.
 * Must not be called from inside a fetch_done_cb (fetch_cancel_all and fetch_start may be). */
void fetch_free(struct fetch *f);
/* Starts a GET. cb is always called exactly once, later, from the event loop. 0 or -errno. */
int fetch_start(struct fetch *f, const struct fetch_request *req, fetch_done_cb cb, void *arg);
/* Completes every in-flight transfer with FETCH_E_CANCELLED. */
void fetch_cancel_all(struct fetch *f);
size_t fetch_active(const struct fetch *f);
/* The host a transfer of url connects to, as libcurl counts connections per host: its name in
 * lower case, ":" and its port (the scheme's default made explicit), e.g.
 * "www.lemonde.fr:443". A new string, or NULL when url is not a URL libcurl can fetch. */
char *fetch_host_key(const char *url);
const char *fetch_error_name(enum fetch_error e);

#endif
