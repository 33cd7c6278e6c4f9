/*
 * test_fetch.c - fetch against the fixture feed server, run in-process on the same event_base
 * (127.0.0.1, ephemeral port): every outcome the daemon must tell apart, concurrency,
 * cancellation and memory bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fetch.h"
#include "fixture_server.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <zlib.h>
#include <unistd.h>

static struct event_base *base;
static struct fixture_server *srv;
static char root[64];
static char *feed; /* contents of ROOT/feed.xml */
static size_t feed_len;
static unsigned pending; /* transfers not yet reported */

#define BUSY_TURNS 200 /* test_busy_loop */

/* A copy of a fetch_result that outlives the callback. */
struct got {
	int calls;
	enum fetch_error error;
	char errmsg[256];
	long status;
	char *body;
	size_t body_len;
	char *etag, *last_modified, *content_type, *effective_url, *permanent_url;
	char *content_encoding;
	int64_t retry_after, max_age;
};

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void got_clear(struct got *g)
{
	free(g->body);
	free(g->etag);
	free(g->last_modified);
	free(g->content_type);
	free(g->effective_url);
	free(g->permanent_url);
	free(g->content_encoding);
	memset(g, 0, sizeof(*g));
}

static void done_cb(const struct fetch_result *r, void *arg)
{
	struct got *g = arg;
	g->calls++;
	g->error = r->error;
	snprintf(g->errmsg, sizeof(g->errmsg), "%s", r->errmsg);
	g->status = r->status;
	g->body = NULL;
	if (r->body) { /* a compressed body (keep_encoded) holds NUL bytes */
		g->body = xmalloc(r->body_len + 1);
		memcpy(g->body, r->body, r->body_len + 1);
	}
	g->body_len = r->body_len;
	g->etag = dup_or_null(r->etag);
	g->last_modified = dup_or_null(r->last_modified);
	g->content_type = dup_or_null(r->content_type);
	g->effective_url = dup_or_null(r->effective_url);
	g->permanent_url = dup_or_null(r->permanent_url);
	g->content_encoding = dup_or_null(r->content_encoding);
	g->retry_after = r->retry_after;
	g->max_age = r->max_age;
	if (pending && --pending == 0)
		event_base_loopbreak(base);
}

static void guard_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
	event_base_loopbreak(base);
}

/* Runs the loop until every started transfer reported, failing after limit_s seconds. */
static void run_until_done(int limit_s)
{
	int expired = 0;
	struct event *guard = evtimer_new(base, guard_cb, &expired);
	struct timeval tv = {limit_s, 0};
	evtimer_add(guard, &tv);
	if (pending)
		event_base_dispatch(base);
	event_free(guard);
	assert_false(expired);
	assert_int_equal(pending, 0);
}

/* Runs the loop for ms milliseconds. */
static void run_for(int ms)
{
	int expired = 0;
	struct event *guard = evtimer_new(base, guard_cb, &expired);
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(guard, &tv);
	event_base_dispatch(base);
	event_free(guard);
}

static char *url(const char *path)
{
	return xasprintf("http://127.0.0.1:%u%s", fixture_server_port(srv), path);
}

/* Fetches path once with opts (NULL = defaults) and the given validators. */
static void fetch_one(const struct fetch_options *opts, const char *path, const char *etag,
		      const char *last_modified, struct got *g)
{
	struct fetch *f = fetch_new(base, opts);
	assert_non_null(f);
	char *u = strncmp(path, "http", 4) == 0 || strncmp(path, "ftp", 3) == 0 ? xstrdup(path)
										: url(path);
	struct fetch_request req = {.url = u, .etag = etag, .last_modified = last_modified};
	memset(g, 0, sizeof(*g));
	pending = 1;
	assert_int_equal(fetch_start(f, &req, done_cb, g), 0);
	assert_int_equal(g->calls, 0); /* never synchronously */
	assert_int_equal(fetch_active(f), 1);
	run_until_done(30);
	assert_int_equal(g->calls, 1);
	assert_int_equal(fetch_active(f), 0);
	fetch_free(f);
	assert_int_equal(g->calls, 1);
	free(u);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/test_fetch.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	/* A ~50 KB RSS document. */
	struct buf b = {0};
	buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>"
		     "<title>Fixture</title>\n");
	for (int i = 0; b.len < 50000; i++)
		buf_printf(
		    &b,
		    "<item><title>Article %d sur la frontière</title><link>http://example.org/"
		    "a/%d</link><description>Texte de l'article numéro %d, répété pour "
		    "remplir.</description></item>\n",
		    i, i, i);
	buf_puts(&b, "</channel></rss>\n");
	feed_len = b.len;
	feed = buf_steal(&b);
	char *path = xasprintf("%s/feed.xml", root);
	FILE *fp = fopen(path, "w");
	free(path);
	if (!fp || fwrite(feed, 1, feed_len, fp) != feed_len || fclose(fp) != 0)
		return -1;
	fetch_global_init();
	base = event_base_new();
	srv = base ? fixture_server_new(base, root, 0, NULL) : NULL;
	return srv ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	fixture_server_free(srv);
	event_base_free(base);
	fetch_global_cleanup();
	char *path = xasprintf("%s/feed.xml", root);
	unlink(path);
	free(path);
	rmdir(root);
	free(feed);
	return 0;
}

static void test_ok_200(void **state)
{
	struct got g;
	(void)state;
	unsigned long gz = fixture_server_gzipped(srv);
	fetch_one(NULL, "/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_OK);
	assert_string_equal(g.errmsg, "");
	assert_int_equal(g.status, 200);
	assert_int_equal(g.body_len, feed_len);
	assert_memory_equal(g.body, feed, feed_len);
	assert_non_null(g.etag);
	assert_non_null(g.last_modified);
	assert_string_equal(g.content_type, "application/xml");
	assert_non_null(strstr(g.effective_url, "/feed.xml"));
	assert_null(g.permanent_url);
	assert_int_equal(g.retry_after, -1);
	assert_int_equal(g.max_age, -1);
	/* We asked for compression and got it, decoded. */
	assert_int_equal(fixture_server_gzipped(srv), gz + 1);
	got_clear(&g);
}

/* Writes ROOT/NAME with text, gzip-compressed when gz. */
static void write_file(const char *name, const char *text, bool gz)
{
	char *path = xasprintf("%s/%s", root, name);
	if (gz) {
		gzFile z = gzopen(path, "wb");
		assert_non_null(z);
		assert_int_equal(gzputs(z, text), (int)strlen(text));
		assert_int_equal(gzclose(z), Z_OK);
	} else {
		FILE *fp = fopen(path, "w");
		assert_non_null(fp);
		assert_int_equal(fputs(text, fp) >= 0, 1);
		assert_int_equal(fclose(fp), 0);
	}
	free(path);
}

/* The fixture server sends FILE.gz as it is when it is no older than FILE (gzip_static), and
 * compresses FILE itself otherwise. The two texts differ here, to tell which was sent. */
static void test_gzip_static(void **state)
{
	struct got g;
	(void)state;
	const char *plain = "<rss version=\"2.0\"><channel><title>compressed for the request"
			    "</title></channel></rss>\n";
	const char *stored = "<rss version=\"2.0\"><channel><title>sent from the .gz file as it "
			     "is</title></channel></rss>\n";
	write_file("static.xml", plain, false);
	write_file("static.xml.gz", stored, true);
	unsigned long gz = fixture_server_gzipped(srv);
	fetch_one(NULL, "/static.xml", NULL, NULL, &g);
	assert_int_equal(g.status, 200);
	assert_int_equal(g.body_len, strlen(stored));
	assert_memory_equal(g.body, stored, g.body_len);
	assert_int_equal(fixture_server_gzipped(srv), gz + 1);
	got_clear(&g);

	/* An older .gz is stale: the file itself is compressed. */
	char *gzpath = xasprintf("%s/static.xml.gz", root);
	struct timespec old[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
	assert_int_equal(utimensat(AT_FDCWD, gzpath, old, 0), 0);
	fetch_one(NULL, "/static.xml", NULL, NULL, &g);
	assert_int_equal(g.status, 200);
	assert_int_equal(g.body_len, strlen(plain));
	assert_memory_equal(g.body, plain, g.body_len);
	assert_int_equal(fixture_server_gzipped(srv), gz + 2);
	got_clear(&g);
	unlink(gzpath);
	free(gzpath);
	char *path = xasprintf("%s/static.xml", root);
	unlink(path);
	free(path);
}

static void test_not_modified(void **state)
{
	struct got g, g2;
	(void)state;
	fetch_one(NULL, "/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.status, 200);
	unsigned long n304 = fixture_server_count(srv, 304);

	fetch_one(NULL, "/feed.xml", g.etag, NULL, &g2);
	assert_int_equal(g2.error, FETCH_OK);
	assert_int_equal(g2.status, 304);
	assert_null(g2.body);
	assert_int_equal(g2.body_len, 0);
	assert_string_equal(g2.etag, g.etag);
	got_clear(&g2);

	fetch_one(NULL, "/feed.xml", NULL, g.last_modified, &g2);
	assert_int_equal(g2.status, 304);
	assert_null(g2.body);
	got_clear(&g2);

	/* A stale validator gets the full body again. */
	fetch_one(NULL, "/feed.xml", "\"stale\"", NULL, &g2);
	assert_int_equal(g2.status, 200);
	assert_int_equal(g2.body_len, feed_len);
	got_clear(&g2);

	assert_int_equal(fixture_server_count(srv, 304), n304 + 2);
	got_clear(&g);

	/* An ETag longer than is kept is not kept at all (cut short, it would never match); the
	 * Last-Modified beside it still makes a 304. One just short enough is kept whole. */
	fetch_one(NULL, "/long-etag/2000/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.status, 200);
	assert_null(g.etag);
	assert_non_null(g.last_modified);
	fetch_one(NULL, "/long-etag/2000/feed.xml", NULL, g.last_modified, &g2);
	assert_int_equal(g2.status, 304);
	got_clear(&g2);
	got_clear(&g);
	fetch_one(NULL, "/feed.xml", NULL, NULL, &g);
	size_t plain = strlen(g.etag);
	got_clear(&g);
	fetch_one(NULL, "/long-etag/990/feed.xml", NULL, NULL, &g);
	assert_non_null(g.etag);
	assert_int_equal(strlen(g.etag), plain + 990);
	fetch_one(NULL, "/long-etag/990/feed.xml", g.etag, NULL, &g2);
	assert_int_equal(g2.status, 304);
	got_clear(&g2);
	got_clear(&g);
}

static long maxrss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void test_gzip_bomb(void **state)
{
	struct got g;
	(void)state;
	struct fetch_options o = {.max_body = 1u << 20};
	long before = maxrss_kb();
	fetch_one(&o, "/bomb/256/feed.xml", NULL, NULL, &g);
	long after = maxrss_kb();
	assert_int_equal(g.error, FETCH_E_TOO_BIG);
	assert_string_equal(g.errmsg, "body larger than 1 MiB once decoded (gzip)");
	assert_null(g.body);
	/* 256 MiB inflated would show; the cap keeps growth to a few MiB. */
	assert_true(after - before < 64 * 1024);
	got_clear(&g);

	/* keep_encoded: the bomb arrives as it was sent (a few hundred KiB), for the caller's
	 * fetch_decode to refuse. */
	o.keep_encoded = true;
	fetch_one(&o, "/bomb/256/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_OK);
	assert_string_equal(g.content_encoding, "gzip");
	assert_true(g.body_len < (1u << 20));
	char *out = NULL, msg[256];
	size_t len = 0;
	assert_int_equal(fetch_decode(g.content_encoding, g.body, g.body_len, 1u << 20, &out, &len,
				      msg, sizeof(msg)),
			 -EFBIG);
	assert_null(out);
	assert_string_equal(msg, "body larger than 1 MiB once decoded (gzip)");
	got_clear(&g);
}

/* z-compresses text with zlib's windowBits wbits (15 + 16 gzip, 15 zlib, -15 raw deflate). */
static char *zcompress(const char *text, size_t len, int wbits, size_t *ret_len)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
	size_t cap = deflateBound(&z, (uLong)len);
	char *out = xmalloc(cap);
	z.next_in = (Bytef *)(uintptr_t)text;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	*ret_len = z.total_out;
	deflateEnd(&z);
	return out;
}

/* fetch_decode: every coding it knows gives the text back, within max and not over it. */
static void test_decode(void **state)
{
	(void)state;
	const char *text = feed;
	size_t tlen = feed_len, zlen, zlen2, glen;
	char *out, msg[256];
	size_t len;
	static const struct {
		const char *encoding;
		int wbits;
	} ok[] = {{"gzip", 15 + 16}, {"x-gzip", 15 + 16}, {"GZip", 15 + 16},
		  {"deflate", 15},   {"deflate", -15},	  {" identity , gzip ", 15 + 16}};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		char *z = zcompress(text, tlen, ok[i].wbits, &zlen);
		out = NULL;
		assert_int_equal(
		    fetch_decode(ok[i].encoding, z, zlen, tlen, &out, &len, msg, sizeof(msg)), 0);
		assert_int_equal(len, tlen);
		assert_memory_equal(out, text, tlen);
		assert_int_equal(out[len], '\0');
		assert_string_equal(msg, "");
		free(out);
		/* One byte under the decoded size is too big. */
		out = NULL;
		assert_int_equal(
		    fetch_decode(ok[i].encoding, z, zlen, tlen - 1, &out, &len, msg, sizeof(msg)),
		    -EFBIG);
		assert_null(out);
		assert_non_null(strstr(msg, "once decoded"));
		/* Cut short, the data is refused. */
		assert_int_equal(
		    fetch_decode(ok[i].encoding, z, zlen / 2, tlen, &out, &len, msg, sizeof(msg)),
		    -EBADMSG);
		assert_non_null(strstr(msg, "truncated"));
		free(z);
	}

	/* Two gzip members decode to both texts; two codings are undone last first. */
	char *g1 = zcompress("abc", 3, 15 + 16, &zlen);
	char *g2 = zcompress("defg", 4, 15 + 16, &zlen2);
	char *two = xmalloc(zlen + zlen2);
	memcpy(two, g1, zlen);
	memcpy(two + zlen, g2, zlen2);
	assert_int_equal(fetch_decode("gzip", two, zlen + zlen2, 100, &out, &len, msg, sizeof(msg)),
			 0);
	assert_int_equal(len, 7);
	assert_string_equal(out, "abcdefg");
	free(out);
	char *gz = zcompress(text, tlen, 15 + 16, &glen);
	char *dz = zcompress(gz, glen, 15, &zlen);
	assert_int_equal(
	    fetch_decode("gzip, deflate", dz, zlen, tlen, &out, &len, msg, sizeof(msg)), 0);
	assert_int_equal(len, tlen);
	assert_memory_equal(out, text, tlen);
	free(out);

	/* The size expected: exact for one gzip member or no coding, a guess otherwise. */
	assert_int_equal(fetch_decoded_size("gzip", gz, glen), tlen);
	assert_int_equal(fetch_decoded_size(NULL, text, tlen), tlen);
	assert_int_equal(fetch_decoded_size("identity", text, tlen), tlen);
	assert_int_equal(fetch_decoded_size("deflate", dz, zlen), 4 * zlen);
	assert_int_equal(fetch_decoded_size("br", gz, glen), 4 * glen);

	free(dz);

	/* Nothing to decode in an empty body, whatever its codings. */
	assert_int_equal(fetch_decode("gzip", "", 0, 10, &out, &len, msg, sizeof(msg)), 0);
	assert_int_equal(len, 0);
	assert_string_equal(out, "");
	free(out);

	/* No coding: the body as it is, still bounded. */
	assert_int_equal(fetch_decode(NULL, "plain", 5, 5, &out, &len, msg, sizeof(msg)), 0);
	assert_string_equal(out, "plain");
	free(out);
	assert_int_equal(fetch_decode("identity", "plain", 5, 4, &out, &len, msg, sizeof(msg)),
			 -EFBIG);
	assert_string_equal(msg, "body larger than 4 bytes");

	/* Unknown codings, and corrupt data. */
	assert_int_equal(fetch_decode("br", gz, glen, tlen, &out, &len, msg, sizeof(msg)),
			 -ENOTSUP);
	assert_string_equal(msg, "unsupported content encoding 'br'");
	assert_int_equal(fetch_decode("gzip, zstd", gz, glen, tlen, &out, &len, msg, sizeof(msg)),
			 -ENOTSUP);
	assert_string_equal(msg, "unsupported content encoding 'zstd'");
	assert_int_equal(
	    fetch_decode("gzip,gzip,gzip,gzip,gzip", gz, glen, tlen, &out, &len, msg, sizeof(msg)),
	    -ENOTSUP);
	assert_int_equal(
	    fetch_decode("gzip", "not gzip at all", 15, tlen, &out, &len, msg, sizeof(msg)),
	    -EBADMSG);
	assert_non_null(strstr(msg, "bad gzip data"));
	gz[glen / 2] ^= 0x55;
	gz[glen / 2 + 1] ^= 0x55;
	assert_true(fetch_decode("gzip", gz, glen, tlen, &out, &len, msg, sizeof(msg)) < 0);
	free(gz);
	free(two);
	free(g1);
	free(g2);
}

/* a ++ b, as a new buffer of *ret_len bytes. */
static char *concat(const char *a, size_t alen, const char *b, size_t blen, size_t *ret_len)
{
	char *out = xmalloc(alen + blen);
	memcpy(out, a, alen);
	memcpy(out + alen, b, blen);
	*ret_len = alen + blen;
	return out;
}

/* fetch_decode with max, expecting 0 and want[0..wlen). */
static void decode_ok(const char *encoding, const char *z, size_t zlen, size_t max,
		      const char *want, size_t wlen)
{
	char *out = NULL, msg[256];
	size_t len = 0;
	assert_int_equal(fetch_decode(encoding, z, zlen, max, &out, &len, msg, sizeof(msg)), 0);
	assert_int_equal(len, wlen);
	assert_memory_equal(out, want, wlen);
	assert_int_equal(out[len], '\0');
	free(out);
}

/* fetch_decode with max, expecting the error r with a message holding what. */
static void decode_fails(const char *encoding, const char *z, size_t zlen, size_t max, int r,
			 const char *what)
{
	char *out = NULL, msg[256];
	size_t len = 0;
	assert_int_equal(fetch_decode(encoding, z, zlen, max, &out, &len, msg, sizeof(msg)), r);
	assert_null(out);
	assert_non_null(strstr(msg, what));
}

/*
 * The output buffer: sized first by the last gzip member's trailer (four times the input
 * without one), doubled while the output does not fit, never past one byte over max. Members
 * after the first, bytes after the last, corrupt members and checks.
 */
static void test_decode_sizes(void **state)
{
	(void)state;
	size_t tlen = feed_len, glen, tail_len, two_len, len;
	char *gz = zcompress(feed, tlen, 15 + 16, &glen);
	char *tail = zcompress("tail", 4, 15 + 16, &tail_len);

	/* The feed then "tail": the trailer says 4, the buffer grows from 4096 to the feed's size.
	 * Exactly max decodes, one byte more does not, nor does a cap met in the first member. */
	char *two = concat(gz, glen, tail, tail_len, &two_len);
	char *want = concat(feed, tlen, "tail", 4, &len);
	assert_true(tlen > 3 * 4096);
	decode_ok("gzip", two, two_len, tlen + 4, want, tlen + 4);
	decode_ok("gzip", two, two_len, 8 << 20, want, tlen + 4);
	decode_fails("gzip", two, two_len, tlen + 3, -EFBIG, "larger than");
	decode_fails("gzip", two, two_len, tlen - 1, -EFBIG, "once decoded (gzip)");
	decode_fails("gzip", two, two_len, 4096, -EFBIG, "larger than 4096 bytes once decoded");

	/* A cap under the smallest first size tried (4096 bytes). */
	char a[1000];
	memset(a, 'a', sizeof(a));
	size_t alen;
	char *az = zcompress(a, sizeof(a), 15 + 16, &alen);
	decode_ok("gzip", az, alen, 1000, a, 1000);
	decode_fails("gzip", az, alen, 999, -EFBIG, "larger than 999 bytes once decoded (gzip)");
	free(az);

	/* Bytes after the last member are ignored; a second member that is corrupt is not. */
	char *junk = concat(tail, tail_len, "\n\0junk", 7, &len);
	decode_ok("gzip", junk, len, 100, "tail", 4);
	free(junk);
	junk = concat(tail, tail_len, "\x1f\x8b", 2, &len);
	decode_fails("gzip", junk, len, 100, -EBADMSG, "bad gzip data");
	free(junk);
	two[glen + tail_len / 2] ^= 0x40;
	decode_fails("gzip", two, two_len, tlen + 4, -EBADMSG, "bad gzip data");
	two[glen + tail_len / 2] ^= 0x40;
	/* The CRC and the size in a trailer are checked. */
	two[glen - 8] ^= 1;
	decode_fails("gzip", two, two_len, tlen + 4, -EBADMSG, "corrupt or truncated");
	two[glen - 8] ^= 1;
	two[glen - 4] ^= 1;
	decode_fails("gzip", two, two_len, 8 << 20, -EBADMSG, "bad gzip data");
	two[glen - 4] ^= 1;
	decode_ok("gzip", two, two_len, tlen + 4, want, tlen + 4);

	/* deflate has no trailer to size from: 1 MiB of zeros (about a thousand times smaller)
	 * grows its buffer to exactly max; the adler32 of a zlib stream is checked. */
	size_t zeros_len = 1u << 20, zlen;
	char *zeros = xcalloc(1, zeros_len);
	static const int wbits[] = {15, -15};
	for (size_t i = 0; i < ARRAY_SIZE(wbits); i++) {
		char *z = zcompress(zeros, zeros_len, wbits[i], &zlen);
		assert_true(zlen * 500 < zeros_len);
		decode_ok("deflate", z, zlen, zeros_len, zeros, zeros_len);
		decode_fails("deflate", z, zlen, zeros_len - 1, -EFBIG,
			     "larger than 1048575 bytes once decoded (deflate)");
		char *more = concat(z, zlen, "more", 4, &len);
		decode_ok("deflate", more, len, zeros_len, zeros, zeros_len);
		free(more);
		if (wbits[i] > 0) {
			z[zlen - 1] ^= 1;
			decode_fails("deflate", z, zlen, zeros_len, -EBADMSG, "bad deflate data");
		}
		free(z);
	}
	free(zeros);
	free(want);
	free(two);
	free(tail);
	free(gz);
}

struct decode_job {
	const char *z;
	size_t zlen;
	size_t len; /* decoded */
	int r;
};

/* Decodes j's gzip body twice (the second time with the decompressor the first made) on a
 * thread of its own. */
static void *decode_thread(void *arg)
{
	struct decode_job *j = arg;
	for (int i = 0; i < 2 && j->r == 0; i++) {
		char *out, msg[256];
		j->r =
		    fetch_decode("gzip", j->z, j->zlen, 1u << 20, &out, &j->len, msg, sizeof(msg));
		if (j->r == 0)
			free(out);
	}
	return NULL;
}

/* Threads decode at once, each with its own decompressor, freed when the thread exits: without
 * that, the sanitizer build's leak check fails this test. */
static void test_decode_threads(void **state)
{
	(void)state;
	size_t glen;
	char *gz = zcompress(feed, feed_len, 15 + 16, &glen);
	struct decode_job jobs[3];
	pthread_t th[ARRAY_SIZE(jobs)];
	for (size_t i = 0; i < ARRAY_SIZE(jobs); i++) {
		jobs[i] = (struct decode_job){.z = gz, .zlen = glen};
		assert_int_equal(pthread_create(&th[i], NULL, decode_thread, &jobs[i]), 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(jobs); i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(jobs[i].r, 0);
		assert_int_equal(jobs[i].len, feed_len);
	}
	free(gz);
}

/* Requests advertise gzip and deflate only; each response's coding is undone, or kept with its
 * name (keep_encoded); an unknown one fails the transfer. */
static void test_content_encoding(void **state)
{
	struct got g;
	(void)state;
	static const char *const names[] = {"gzip", "x-gzip", "deflate", "raw-deflate"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char *path = xasprintf("/encoding/%s/feed.xml", names[i]);
		fetch_one(NULL, path, NULL, NULL, &g);
		assert_int_equal(g.error, FETCH_OK);
		assert_int_equal(g.status, 200);
		assert_int_equal(g.body_len, feed_len);
		assert_memory_equal(g.body, feed, feed_len);
		assert_null(g.content_encoding);
		got_clear(&g);

		struct fetch_options o = {.keep_encoded = true};
		fetch_one(&o, path, NULL, NULL, &g);
		assert_int_equal(g.error, FETCH_OK);
		assert_true(g.body_len < feed_len / 2);
		assert_string_equal(g.content_encoding, i == 3 ? "deflate" : names[i]);
		char *out, msg[256];
		size_t len;
		assert_int_equal(fetch_decode(g.content_encoding, g.body, g.body_len, feed_len,
					      &out, &len, msg, sizeof(msg)),
				 0);
		assert_int_equal(len, feed_len);
		assert_memory_equal(out, feed, feed_len);
		free(out);
		got_clear(&g);
		free(path);
	}

	/* identity, or no coding: nothing to decode, kept or not. */
	struct fetch_options keep = {.keep_encoded = true};
	fetch_one(&keep, "/encoding/identity/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_OK);
	assert_null(g.content_encoding);
	assert_int_equal(g.body_len, feed_len);
	got_clear(&g);

	fetch_one(NULL, "/encoding/br/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_E_PROTOCOL);
	assert_string_equal(g.errmsg, "unsupported content encoding 'br'");
	assert_null(g.body);
	got_clear(&g);
	fetch_one(&keep, "/encoding/br/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_OK);
	assert_string_equal(g.content_encoding, "br");
	got_clear(&g);

	/* A 304 has no body to decode; the validators still work. */
	fetch_one(&keep, "/feed.xml", NULL, NULL, &g);
	assert_string_equal(g.content_encoding, "gzip");
	struct got g2;
	fetch_one(&keep, "/feed.xml", g.etag, NULL, &g2);
	assert_int_equal(g2.status, 304);
	assert_null(g2.body);
	assert_null(g2.content_encoding);
	got_clear(&g2);
	got_clear(&g);
	assert_string_equal(FETCH_ACCEPT_ENCODING, "gzip, deflate");
}

static void test_too_big(void **state)
{
	struct got g;
	(void)state;
	fetch_one(NULL, "/big/16/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_E_TOO_BIG);
	assert_string_equal(g.errmsg, "body larger than 8 MiB");
	got_clear(&g);
	/* Exactly at the cap is fine, one byte over is not. */
	struct fetch_options o = {.max_body = feed_len};
	fetch_one(&o, "/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_OK);
	got_clear(&g);
	o.max_body = feed_len - 1;
	fetch_one(&o, "/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_E_TOO_BIG);
	got_clear(&g);
}

static void test_trickle_low_speed(void **state)
{
	struct got g;
	(void)state;
	struct fetch_options o = {.low_speed_bytes = 100, .low_speed_seconds = 1};
	fetch_one(&o, "/trickle/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_E_TIMEOUT);
	assert_non_null(strstr(g.errmsg, "too slow"));
	got_clear(&g);
}

static void test_trickle_total_timeout(void **state)
{
	struct got g;
	(void)state;
	struct fetch_options o = {
	    .timeout_ms = 1500, .low_speed_bytes = 1, .low_speed_seconds = 30};
	fetch_one(&o, "/trickle/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_E_TIMEOUT);
	assert_string_equal(g.errmsg, "timed out after 1.5 s");
	got_clear(&g);
}

static void test_hang(void **state)
{
	struct got g;
	(void)state;
	struct fetch_options o = {.timeout_ms = 1000};
	fetch_one(&o, "/hang/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_E_TIMEOUT);
	assert_int_equal(g.status, 0);
	got_clear(&g);
}

static void test_server_error(void **state)
{
	struct got g;
	(void)state;
	fetch_one(NULL, "/status/500/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_OK);
	assert_int_equal(g.status, 500);
	got_clear(&g);
	fetch_one(NULL, "/status/410/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.status, 410);
	got_clear(&g);
	fetch_one(NULL, "/missing.xml", NULL, NULL, &g);
	assert_int_equal(g.status, 404);
	got_clear(&g);
}

static void test_retry_after(void **state)
{
	struct got g;
	(void)state;
	fetch_one(NULL, "/retry-after/120/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_OK);
	assert_int_equal(g.status, 429);
	assert_int_equal(g.retry_after, 120);
	got_clear(&g);
	fetch_one(NULL, "/retry-after-date/300/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.status, 429);
	assert_in_range(g.retry_after, 290, 300);
	got_clear(&g);
}

static void test_max_age(void **state)
{
	struct got g;
	(void)state;
	fetch_one(NULL, "/max-age/1800/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.status, 200);
	assert_int_equal(g.max_age, 1800);
	got_clear(&g);
}

static void test_permanent_redirects(void **state)
{
	struct got g;
	(void)state;
	fetch_one(NULL, "/redirect/3/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_OK);
	assert_int_equal(g.status, 200);
	assert_int_equal(g.body_len, feed_len);
	assert_non_null(g.permanent_url);
	assert_non_null(strstr(g.permanent_url, "/redirect/0/feed.xml"));
	assert_string_equal(g.permanent_url, g.effective_url);
	/* Validators are the final response's, not a redirect's. */
	assert_non_null(g.etag);
	got_clear(&g);
	fetch_one(NULL, "/redirect308/2/feed.xml", NULL, NULL, &g);
	assert_non_null(g.permanent_url);
	got_clear(&g);
}

static void test_temporary_redirects(void **state)
{
	struct got g;
	(void)state;
	fetch_one(NULL, "/redirect302/2/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_OK);
	assert_int_equal(g.status, 200);
	assert_null(g.permanent_url);
	assert_non_null(strstr(g.effective_url, "/redirect302/0/feed.xml"));
	got_clear(&g);
	/* 301 then 302: not permanent as a whole. */
	fetch_one(NULL, "/redirect/1/redirect302/1/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.status, 200);
	assert_null(g.permanent_url);
	got_clear(&g);
}

static void test_redirect_errors(void **state)
{
	struct got g;
	(void)state;
	fetch_one(NULL, "/loop/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_E_REDIRECT);
	assert_non_null(strstr(g.errmsg, "too many redirects"));
	got_clear(&g);
	fetch_one(NULL, "/redirect/9/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_E_REDIRECT);
	got_clear(&g);
	fetch_one(NULL, "/to-file/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_E_REDIRECT);
	assert_string_equal(g.errmsg, "redirect to a scheme other than http/https refused");
	assert_null(g.body);
	got_clear(&g);
}

static void test_connect_refused(void **state)
{
	struct got g;
	(void)state;
	/* A port that was just free: bind, read it back, close. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	char *u = xasprintf("http://127.0.0.1:%u/feed.xml", ntohs(sa.sin_port));
	fetch_one(NULL, u, NULL, NULL, &g);
	free(u);
	assert_int_equal(g.error, FETCH_E_CONNECT);
	assert_string_equal(g.errmsg, "connection refused");
	got_clear(&g);
}

static void test_dns(void **state)
{
	struct got g;
	(void)state;
	struct fetch_options o = {.connect_timeout_ms = 10000};
	fetch_one(&o, "http://nonexistent.invalid/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_E_DNS);
	assert_string_equal(g.errmsg, "could not resolve host 'nonexistent.invalid'");
	got_clear(&g);
}

static void test_protocol_errors(void **state)
{
	struct got g;
	(void)state;
	fetch_one(NULL, "ftp://127.0.0.1/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_E_PROTOCOL);
	assert_non_null(strstr(g.errmsg, "scheme"));
	got_clear(&g);
	fetch_one(NULL, "/truncated/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.error, FETCH_E_PROTOCOL);
	assert_non_null(strstr(g.errmsg, "truncated"));
	assert_null(g.body);
	got_clear(&g);

	struct fetch *f = fetch_new(base, NULL);
	struct fetch_request req = {.url = NULL};
	assert_int_equal(fetch_start(f, &req, done_cb, &g), -EINVAL);
	fetch_free(f);
}

static void test_content_type(void **state)
{
	struct got g;
	(void)state;
	fetch_one(NULL, "/type/text%2Fhtml/feed.xml", NULL, NULL, &g);
	assert_int_equal(g.status, 200);
	assert_string_equal(g.content_type, "text/html");
	got_clear(&g);
}

/* Retrying from inside the callback (what the daemon's scheduler does) works. */
struct retry {
	struct fetch *f;
	char *url;
	struct got first, second;
};

static void retry_cb(const struct fetch_result *r, void *arg)
{
	struct retry *rt = arg;
	if (rt->first.calls == 0) {
		rt->first.calls = 1;
		rt->first.status = r->status;
		struct fetch_request req = {.url = rt->url};
		pending++;
		assert_int_equal(fetch_start(rt->f, &req, done_cb, &rt->second), 0);
	}
	if (--pending == 0)
		event_base_loopbreak(base);
}

static void test_flaky_retry_from_callback(void **state)
{
	(void)state;
	struct retry rt = {0};
	rt.f = fetch_new(base, NULL);
	rt.url = url("/flaky/1/feed.xml");
	struct fetch_request req = {.url = rt.url};
	pending = 1;
	assert_int_equal(fetch_start(rt.f, &req, retry_cb, &rt), 0);
	run_until_done(30);
	assert_int_equal(rt.first.status, 500);
	assert_int_equal(rt.second.calls, 1);
	assert_int_equal(rt.second.status, 200);
	assert_int_equal(rt.second.body_len, feed_len);
	got_clear(&rt.second);
	fetch_free(rt.f);
	free(rt.url);
}

static void test_concurrent(void **state)
{
	(void)state;
	enum { N = 100 };
	struct fetch_options o = {.max_host_connections = 16};
	struct fetch *f = fetch_new(base, &o);
	struct got *g = xcalloc(N, sizeof(*g));
	unsigned long before = fixture_server_count(srv, 200);
	pending = N;
	for (int i = 0; i < N; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/feed.xml?n=%d", i);
		char *u = url(path);
		struct fetch_request req = {.url = u};
		assert_int_equal(fetch_start(f, &req, done_cb, &g[i]), 0);
		free(u);
	}
	assert_int_equal(fetch_active(f), N);
	run_until_done(60);
	for (int i = 0; i < N; i++) {
		assert_int_equal(g[i].calls, 1);
		assert_int_equal(g[i].error, FETCH_OK);
		assert_int_equal(g[i].status, 200);
		assert_int_equal(g[i].body_len, feed_len);
		got_clear(&g[i]);
	}
	assert_int_equal(fixture_server_count(srv, 200), before + N);
	assert_int_equal(fetch_active(f), 0);
	fetch_free(f);
	free(g);
}

static void count_cb(const struct fetch_result *r, void *arg)
{
	struct got *g = arg;
	g->calls++;
	g->error = r->error;
	assert_null(r->body);
}

static void test_cancel(void **state)
{
	(void)state;
	enum { N = 20 };
	struct got g[N];
	memset(g, 0, sizeof(g));
	struct fetch *f = fetch_new(base, NULL);
	for (int i = 0; i < N; i++) {
		char *u = url(i % 2 ? "/hang/feed.xml" : "/trickle/feed.xml");
		struct fetch_request req = {.url = u};
		assert_int_equal(fetch_start(f, &req, count_cb, &g[i]), 0);
		free(u);
	}
	run_for(300); /* connections established, requests sent */
	assert_int_equal(fetch_active(f), N);
	for (int i = 0; i < N; i++)
		assert_int_equal(g[i].calls, 0);

	/* fetch_cancel_all leaves a usable fetcher. */
	fetch_cancel_all(f);
	assert_int_equal(fetch_active(f), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(g[i].calls, 1);
		assert_int_equal(g[i].error, FETCH_E_CANCELLED);
	}
	memset(g, 0, sizeof(g));
	for (int i = 0; i < N; i++) {
		char *u = url("/hang/feed.xml");
		struct fetch_request req = {.url = u};
		assert_int_equal(fetch_start(f, &req, count_cb, &g[i]), 0);
		free(u);
	}
	run_for(200);
	fetch_free(f);
	for (int i = 0; i < N; i++) {
		assert_int_equal(g[i].calls, 1);
		assert_int_equal(g[i].error, FETCH_E_CANCELLED);
	}
	run_for(100); /* nothing left to fire: no use after free */
	for (int i = 0; i < N; i++)
		assert_int_equal(g[i].calls, 1);
}

/*
 * Transfers get under way while another event is ready at every turn of the loop and starts a
 * transfer each time (the engine does, storing a document the worker prepared): curl asks for a
 * zero timeout at every transfer added, and that timer must still run at the next turn.
 */
struct busy {
	struct fetch *f;
	struct event *ev;
	char *url;
	int turns, first_done; /* the turn at which the first transfer completed (0: none yet) */
};

static void busy_done_cb(const struct fetch_result *r, void *arg)
{
	struct busy *b = arg;
	if (!b->first_done)
		b->first_done = b->turns;
	assert_int_equal(r->error, FETCH_OK);
	if (pending && --pending == 0)
		event_base_loopbreak(base);
}

static void busy_cb(evutil_socket_t fd, short what, void *arg)
{
	struct busy *b = arg;
	(void)fd;
	(void)what;
	if (b->first_done || b->turns == BUSY_TURNS) {
		event_del(b->ev);
		return;
	}
	struct fetch_request req = {.url = b->url};
	pending++;
	assert_int_equal(fetch_start(b->f, &req, busy_done_cb, b), 0);
	b->turns++;
}

static void test_busy_loop(void **state)
{
	(void)state;
	struct busy *b = xcalloc(1, sizeof(*b));
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "", 1), 1); /* never read: ready at every turn */
	b->f = fetch_new(base, NULL);
	b->url = url("/feed.xml");
	b->ev = event_new(base, fds[0], EV_READ | EV_PERSIST, busy_cb, b);
	event_add(b->ev, NULL);
	struct fetch_request req = {.url = b->url};
	pending = 1;
	assert_int_equal(fetch_start(b->f, &req, busy_done_cb, b), 0);
	run_until_done(60);
	assert_true(b->first_done > 0);
	assert_true(b->first_done < BUSY_TURNS / 2);
	event_free(b->ev);
	fetch_free(b->f);
	free(b->url);
	free(b);
	close(fds[0]);
	close(fds[1]);
}

static void test_error_names(void **state)
{
	(void)state;
	assert_string_equal(fetch_error_name(FETCH_OK), "ok");
	assert_string_equal(fetch_error_name(FETCH_E_TOO_BIG), "too-big");
	assert_string_equal(fetch_error_name(FETCH_E_CANCELLED), "cancelled");
	assert_string_equal(fetch_error_name(FETCH_E_MAX), "unknown");
	for (int e = 0; e < FETCH_E_MAX; e++)
		assert_string_not_equal(fetch_error_name((enum fetch_error)e), "unknown");
	fetch_free(NULL);
	fetch_cancel_all(NULL);
	assert_int_equal(fetch_active(NULL), 0);
}

/* The host key the engine counts transfers by: libcurl's host name, lower case, and the port. */
static void test_host_key(void **state)
{
	(void)state;
	static const struct {
		const char *url, *key;
	} cases[] = {
	    {"https://WWW.LeMonde.fr/rss/une.xml", "www.lemonde.fr:443"},
	    {"http://www.lemonde.fr/rss", "www.lemonde.fr:80"},
	    {"http://www.lemonde.fr:80/a", "www.lemonde.fr:80"},
	    {"https://127.0.0.1:8443/feed?x=1#top", "127.0.0.1:8443"},
	    {"http://[::1]:8080/feed", "[::1]:8080"},
	    {"http://user:pw@Example.ORG/", "example.org:80"},
	    {"file:///etc/passwd", NULL},
	    {"not a url", NULL},
	    {"", NULL},
	    {NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *k = fetch_host_key(cases[i].url);
		if (cases[i].key)
			assert_string_equal(k, cases[i].key);
		else
			assert_null(k);
		free(k);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gzip_static),
	    cmocka_unit_test(test_gzip_bomb),
	    cmocka_unit_test(test_decode),
	    cmocka_unit_test(test_decode_sizes),
	    cmocka_unit_test(test_decode_threads),
	    cmocka_unit_test(test_content_encoding),
	    cmocka_unit_test(test_ok_200),
	    cmocka_unit_test(test_not_modified),
	    cmocka_unit_test(test_too_big),
	    cmocka_unit_test(test_trickle_low_speed),
	    cmocka_unit_test(test_trickle_total_timeout),
	    cmocka_unit_test(test_hang),
	    cmocka_unit_test(test_server_error),
	    cmocka_unit_test(test_retry_after),
	    cmocka_unit_test(test_max_age),
	    cmocka_unit_test(test_permanent_redirects),
	    cmocka_unit_test(test_temporary_redirects),
	    cmocka_unit_test(test_redirect_errors),
	    cmocka_unit_test(test_connect_refused),
	    cmocka_unit_test(test_dns),
	    cmocka_unit_test(test_protocol_errors),
	    cmocka_unit_test(test_content_type),
	    cmocka_unit_test(test_flaky_retry_from_callback),
	    cmocka_unit_test(test_concurrent),
	    cmocka_unit_test(test_cancel),
	    cmocka_unit_test(test_busy_loop),
	    cmocka_unit_test(test_error_names),
	    cmocka_unit_test(test_host_key),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
