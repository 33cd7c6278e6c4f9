/*
 * test_store.c - the SQLite store, on real database files in a temporary directory.
 *
 * sqlite3 is used directly here only to look at the file from outside (user_version, journal
 * mode) and to build databases the store did not create.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <glob.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "dedup.h"
#include "fts_ref.h"
#include "feed.h"
#include "store.h"
#include "util.h"

struct fx {
	char dir[512];
	char *path;
};

static int setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));
	const char *tmp = getenv("TMPDIR");
	snprintf(fx->dir, sizeof(fx->dir), "%s/test_store.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(fx->dir))
		return -1;
	fx->path = xasprintf("%s/veille.db", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	chmod(fx->dir, 0700); /* test_readonly_file may have failed half-way */
	const char *sfx[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < ARRAY_SIZE(sfx); i++) {
		char *p = xasprintf("%s%s", fx->path, sfx[i]);
		unlink(p);
		free(p);
	}
	rmdir(fx->dir);
	free(fx->path);
	free(fx);
	return 0;
}

static struct store *open_ok(const char *path, bool readonly)
{
	char *err = NULL;
	struct store *s = store_open(path, readonly, &err);
	if (!s)
		fail_msg("store_open: %s", err);
	return s;
}

/* Opens path from outside the store, with the reference tokenizer as "veille". */
static sqlite3 *open_outside(const char *path, int flags)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open_v2(path, &db, flags, NULL), SQLITE_OK);
	fts_ref_register(db);
	return db;
}

/* The first value of the first row of sql, read from outside the store (a copy to free). */
static char *text_outside(const char *path, const char *sql)
{
	sqlite3_stmt *st;
	sqlite3 *db = open_outside(path, SQLITE_OPEN_READONLY);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	char *v = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Reads a one-value PRAGMA from outside the store. */
static char *pragma(const char *path, const char *name)
{
	char *sql = xasprintf("PRAGMA %s", name);
	char *v = text_outside(path, sql);
	free(sql);
	return v;
}

static void exec_outside(const char *path, const char *sql)
{
	sqlite3 *db = open_outside(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* A count read from outside the store. */
static int64_t count_outside(const char *path, const char *sql)
{
	sqlite3_stmt *st;
	sqlite3 *db = open_outside(path, SQLITE_OPEN_READONLY);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* An item whose hash is computed from title and text, as the pipeline does. */
struct titem {
	struct store_item it;
	char hash[DEDUP_HASH_HEX];
};

static void mkitem(struct titem *t, const char *feed, const char *id, const char *link,
		   const char *title, const char *text, int64_t fetched)
{
	memset(t, 0, sizeof(*t));
	dedup_content_hash(title, text, t->hash);
	t->it = (struct store_item){
	    .feed = feed,
	    .identity = id,
	    .guid = id,
	    .link = link,
	    .canonical_link = link,
	    .title = title,
	    .summary = text,
	    .hash = t->hash,
	    .published = FEED_NO_DATE,
	    .fetched = fetched,
	};
}

static int64_t add(struct store *s, const struct titem *t, int want)
{
	int64_t id = -1;
	int r = store_item_add(s, &t->it, &id);
	if (r != want)
		fail_msg("store_item_add(%s) = %d, want %d: %s", t->it.identity, r, want,
			 store_errmsg(s));
	assert_true(id > 0);
	return id;
}

static void stats(struct store *s, struct store_stats *st)
{
	assert_int_equal(store_stats(s, st), 0);
}

static void test_create_reopen(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	/* A new file runs every step once, whatever the number of steps. */
	int version = store_schema_version(s);
	assert_true(version >= 2);
	assert_int_equal(store_migrations_applied(s), version);
	char want[16];
	snprintf(want, sizeof(want), "%d", version);
	struct titem t;
	mkitem(&t, "a", "id1", "https://example.com/1", "Titre", "Texte", 1000);
	int64_t id = add(s, &t, 1);
	store_close(s);

	char *v = pragma(fx->path, "user_version");
	assert_string_equal(v, want);
	free(v);

	s = open_ok(fx->path, false);
	assert_int_equal(store_schema_version(s), version);
	assert_int_equal(store_migrations_applied(s), 0); /* the step ran once, at creation */
	assert_int_equal(store_item_seen(s, "a", "id1"), 1);
	int64_t id2;
	assert_int_equal(store_item_add(s, &t.it, &id2), 0);
	assert_int_equal(id2, id);
	struct store_stats st;
	stats(s, &st);
	assert_int_equal(st.items, 1);
	assert_int_equal(st.feeds, 1);
	store_close(s);
	store_close(NULL);
}

static void test_migrate_from_v0(void **state)
{
	struct fx *fx = *state;
	/* A database that exists but has no schema (version 0), with a stray table. */
	exec_outside(fx->path, "CREATE TABLE unrelated (x); PRAGMA user_version = 0;");
	struct store *s = open_ok(fx->path, false);
	int version = store_schema_version(s);
	assert_int_equal(store_migrations_applied(s), version);
	store_close(s);
	s = open_ok(fx->path, false);
	assert_int_equal(store_migrations_applied(s), 0);
	store_close(s);
	char want[16];
	snprintf(want, sizeof(want), "%d", version);
	char *v = pragma(fx->path, "user_version");
	assert_string_equal(v, want);
	free(v);

	/* A version from the future is refused, not downgraded. */
	exec_outside(fx->path, "PRAGMA user_version = 99");
	char *err = NULL;
	assert_null(store_open(fx->path, false, &err));
	assert_non_null(strstr(err, "newer"));
	free(err);
	v = pragma(fx->path, "user_version");
	assert_string_equal(v, "99");
	free(v);
}

/* The steps that added feeds.config_url and items_per_week (version 3), then ttl (version 11): a
 * feed's state is kept; the configured URL, the rate and the <ttl> are unknown. */
static void test_migrate_feed_config_url(void **state)
{
	struct fx *fx = *state;
	/* A database of version 2, the last one before feeds knew their configured URL. */
	char *err = NULL;
	assert_int_equal(store_create_at_version(fx->path, 2, &err), 0);
	exec_outside(fx->path, "INSERT INTO feeds (name, url, etag, last_fetch, next_fetch, items)"
			       " VALUES ('lemonde', 'https://a.example/moved.xml', '\"e1\"', 100,"
			       " 200, 7);");
	struct store *s = open_ok(fx->path, false);
	int latest = store_version_latest();
	assert_int_equal(store_migrations_applied(s), latest - 2);
	assert_int_equal(store_schema_version(s), latest);
	struct store_feed f;
	assert_int_equal(store_feed_load(s, "lemonde", &f), 0);
	assert_string_equal(f.url, "https://a.example/moved.xml");
	assert_string_equal(f.etag, "\"e1\"");
	assert_int_equal(f.next_fetch, 200);
	assert_int_equal(f.items, 7);
	assert_null(f.config_url);
	assert_true(f.items_per_week < 0);
	assert_int_equal(f.ttl, 0); /* version 11's column: no <ttl> known */
	/* The new columns round-trip. */
	f.config_url = xstrdup("https://a.example/feed.xml");
	f.items_per_week = 42.5;
	f.ttl = 3600;
	assert_int_equal(store_feed_save(s, &f), 0);
	store_feed_clear(&f);
	assert_int_equal(store_feed_load(s, "lemonde", &f), 0);
	assert_string_equal(f.config_url, "https://a.example/feed.xml");
	assert_true(f.items_per_week > 42.4 && f.items_per_week < 42.6);
	assert_int_equal(f.ttl, 3600);
	f.items_per_week = 0; /* a silent feed is not an unknown rate */
	f.ttl = 0;	      /* nor a feed that dropped its <ttl> one that keeps it */
	assert_int_equal(store_feed_save(s, &f), 0);
	store_feed_clear(&f);
	assert_int_equal(store_feed_load(s, "lemonde", &f), 0);
	assert_true(f.items_per_week == 0);
	assert_int_equal(f.ttl, 0);
	store_feed_clear(&f);
	assert_int_equal(store_feed_load(s, "nosuchfeed", &f), -ENOENT);
	assert_true(f.items_per_week < 0);
	store_feed_clear(&f);
	store_close(s);
}

/* An FTS5 setting of items_fts (pgsz, automerge...), from outside the store. */
static int fts_config(const char *path, const char *key)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "SELECT v FROM items_fts_config WHERE k = ?1", -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static int fts_pgsz(const char *path)
{
	return fts_config(path, "pgsz");
}

/* A new file gets 8 KiB pages and FTS5 leaves to match; a file made with 4 KiB pages keeps them
 * and FTS5's default leaf size once migrated. */
static void test_page_size(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	store_close(s);
	char *v = pragma(fx->path, "page_size");
	assert_string_equal(v, "8192");
	free(v);
	assert_int_equal(fts_pgsz(fx->path), 8192 - 46);

	char *old = xasprintf("%s/old.db", fx->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(old, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "PRAGMA page_size = 4096; CREATE TABLE x (a); DROP TABLE x;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	char *err = NULL;
	assert_int_equal(store_create_at_version(old, 5, &err), 0);
	s = open_ok(old, false);
	assert_int_equal(store_migrations_applied(s), store_version_latest() - 5);
	struct titem t;
	mkitem(&t, "a", "id1", "https://example.com/1", "Frontière fermée", "Texte", 1000);
	add(s, &t, 1);
	store_close(s);
	v = pragma(old, "page_size");
	assert_string_equal(v, "4096");
	free(v);
	assert_int_equal(fts_pgsz(old), 4050);
	/* Merges wait for 64 segments on a level, new file or migrated one. */
	assert_int_equal(fts_config(fx->path, "automerge"), 64);
	assert_int_equal(fts_config(fx->path, "crisismerge"), 128);
	assert_int_equal(fts_config(old, "automerge"), 64);
	assert_int_equal(fts_config(old, "crisismerge"), 128);
	/* Nor a row of sizes per item (schema_v14_fts_no_sizes). */
	const char *sizes = "SELECT count(*) FROM sqlite_master WHERE name = 'items_fts_docsize'";
	assert_int_equal(count_outside(fx->path, sizes), 0);
	assert_int_equal(count_outside(old, sizes), 0);
	const char *sfx[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < ARRAY_SIZE(sfx); i++) {
		char *p = xasprintf("%s%s", old, sfx[i]);
		unlink(p);
		free(p);
	}
	free(old);
}

static void test_wal(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	assert_int_equal(store_meta_set(s, "k", "v"), 0);
	char *v = pragma(fx->path, "journal_mode");
	assert_string_equal(v, "wal");
	free(v);
	char *wal = xasprintf("%s-wal", fx->path);
	struct stat sb;
	assert_int_equal(stat(wal, &sb), 0);
	free(wal);
	store_close(s);
}

/* The WAL is copied back into the database once it holds 64 MiB, not after SQLite's 1000 pages
 * (8 MiB here): 12 MiB committed in small transactions all stay in it until the store closes. */
static void test_wal_checkpoint(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	char *big = xmalloc(100001);
	memset(big, 'x', 100000);
	big[100000] = '\0';
	for (int i = 0; i < 120; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(store_meta_set(s, key, big), 0);
	}
	free(big);
	char *wal = xasprintf("%s-wal", fx->path);
	struct stat sb;
	assert_int_equal(stat(wal, &sb), 0);
	assert_true(sb.st_size > 11 << 20);
	assert_int_equal(stat(fx->path, &sb), 0);
	assert_true(sb.st_size < 1 << 20);
	store_close(s);
	/* Closed, the WAL is in the database. */
	assert_int_equal(stat(fx->path, &sb), 0);
	assert_true(sb.st_size > 11 << 20);
	assert_int_equal(stat(wal, &sb), -1);
	free(wal);
}

static off_t file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* Pages a change frees are not written (secure_delete FAST, not SQLite's ON as Debian builds
 * it): a 1 MB value's overflow pages, freed, add a few pages to the WAL (the free list's, the
 * value's row), not the 1 MB of zeros they would be overwritten with. */
static void test_free_pages_unwritten(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	char *big = xmalloc(1000001);
	memset(big, 'z', 1000000);
	big[1000000] = '\0';
	assert_int_equal(store_meta_set(s, "big", big), 0);
	free(big);
	char *wal = xasprintf("%s-wal", fx->path);
	off_t before = file_size(wal);
	assert_true(before > 1000000);
	assert_int_equal(store_meta_set(s, "big", "small"), 0);
	off_t after = file_size(wal);
	assert_true(after > before);
	assert_true(after - before < 100000);
	char *v = NULL;
	assert_int_equal(store_meta_get(s, "big", &v), 0);
	assert_string_equal(v, "small");
	free(v);
	free(wal);
	store_close(s);
}

static void put_big(struct store *s, int from, int n)
{
	char *big = xmalloc(100001);
	memset(big, 'y', 100000);
	big[100000] = '\0';
	for (int i = from; i < from + n; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(store_meta_set(s, key, big), 0);
	}
	free(big);
}

/* With store_wal_background, a thread copies the WAL back while the store stays open and writes
 * (store_checkpoint_soon here, instead of waiting for 64 MiB); the first commit after it copies
 * what came meanwhile, and the next starts the WAL over: it grows no more. Closed, everything is
 * in the database and the WAL is gone. A read-only store is left as it is. */
static void test_wal_background(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	assert_int_equal(store_wal_background(s), 0);
	assert_int_equal(store_wal_background(s), 0); /* once is enough */
	put_big(s, 0, 120);
	char *wal = xasprintf("%s-wal", fx->path);
	off_t wal_size = file_size(wal);
	assert_true(wal_size > 11 << 20);
	assert_true(file_size(fx->path) < 1 << 20);
	char *pages = pragma(fx->path, "page_count"), *page = pragma(fx->path, "page_size");
	off_t want = (off_t)atoll(pages) * atoll(page);
	free(pages);
	free(page);
	store_checkpoint_soon(s);
	put_big(s, 120, 60); /* while it copies, likely: the WAL grows */
	wal_size = file_size(wal);
	for (int i = 0; i < 1000 && file_size(fx->path) < want; i++)
		usleep(10000);
	assert_true(file_size(fx->path) >= want);
	usleep(200000); /* the checkpoint's sync */
	/* 6 MB more: 6 MB more WAL too, had it not started over. */
	put_big(s, 180, 60);
	assert_true(file_size(wal) < wal_size + (1 << 20));
	struct store *ro = open_ok(fx->path, true);
	assert_int_equal(store_wal_background(ro), 0);
	char *v = NULL;
	assert_int_equal(store_meta_get(ro, "k239", &v), 0);
	assert_int_equal(strlen(v), 100000);
	free(v);
	store_close(ro);
	store_close(s);
	assert_true(file_size(fx->path) > 23 << 20);
	assert_int_equal(file_size(wal), -1);
	free(wal);
}

static void test_ping(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	assert_int_equal(store_ping(s), 0);
	store_close(s);
	s = open_ok(fx->path, true);
	assert_int_equal(store_ping(s), 0);
	store_close(s);
}

static int feed_names_cb(const struct store_feed *f, void *arg)
{
	struct buf *b = arg;
	buf_printf(b, "%s:%s:%u;", f->name, f->url ? f->url : "-", f->errors);
	return strcmp(f->name, "stop") == 0 ? 42 : 0;
}

static void test_feed_state(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	struct store_feed f;
	assert_int_equal(store_feed_load(s, "lemonde", &f), -ENOENT);
	assert_string_equal(f.name, "lemonde");
	assert_null(f.url);
	assert_int_equal(f.last_fetch, 0);
	f.url = xstrdup("https://www.lemonde.fr/rss.xml");
	f.etag = xstrdup("\"abc\"");
	f.last_modified = xstrdup("Tue, 10 Sep 2024 08:00:00 GMT");
	f.last_error = NULL;
	f.last_fetch = 1700000000;
	f.next_fetch = 1700000900;
	f.last_status = 304;
	f.errors = 3;
	f.items = 12345678901ull;
	f.disabled = true;
	assert_int_equal(store_feed_save(s, &f), 0);
	store_feed_clear(&f);
	store_feed_clear(&f); /* cleared twice is harmless */
	store_close(s);

	s = open_ok(fx->path, false);
	assert_int_equal(store_feed_load(s, "lemonde", &f), 0);
	assert_string_equal(f.name, "lemonde");
	assert_string_equal(f.url, "https://www.lemonde.fr/rss.xml");
	assert_string_equal(f.etag, "\"abc\"");
	assert_string_equal(f.last_modified, "Tue, 10 Sep 2024 08:00:00 GMT");
	assert_null(f.last_error);
	assert_int_equal(f.last_fetch, 1700000000);
	assert_int_equal(f.next_fetch, 1700000900);
	assert_int_equal(f.last_status, 304);
	assert_int_equal(f.errors, 3);
	assert_int_equal(f.items, 12345678901ull);
	assert_true(f.disabled);
	/* Replacing: validators gone, an error recorded. */
	free(f.etag);
	f.etag = NULL;
	f.last_error = xstrdup("HTTP 500");
	f.errors = 4;
	f.disabled = false;
	assert_int_equal(store_feed_save(s, &f), 0);
	store_feed_clear(&f);
	assert_int_equal(store_feed_load(s, "lemonde", &f), 0);
	assert_null(f.etag);
	assert_string_equal(f.last_error, "HTTP 500");
	assert_int_equal(f.errors, 4);
	assert_false(f.disabled);
	store_feed_clear(&f);

	struct store_feed g = {.name = "stop", .url = "https://example.com/"};
	assert_int_equal(store_feed_save(s, &g), 0);
	g.name = "afp";
	g.url = NULL;
	assert_int_equal(store_feed_save(s, &g), 0);
	struct buf b = {0};
	assert_int_equal(store_feeds_each(s, feed_names_cb, &b), 42);
	assert_string_equal(
	    b.p, "afp:-:0;lemonde:https://www.lemonde.fr/rss.xml:4;stop:https://example.com/:0;");
	buf_free(&b);
	store_close(s);
}

static void test_item_dedup(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	struct store_stats st;
	struct titem a, b, c, d, e;
	mkitem(&a, "lemonde", "guid-1", "https://www.lemonde.fr/a.html", "Minsk masse des troupes",
	       "Texte de l'article.", 100);
	assert_int_equal(store_item_seen(s, "lemonde", "guid-1"), 0);
	int64_t ida = add(s, &a, 1);
	assert_int_equal(store_item_seen(s, "lemonde", "guid-1"), 1);
	assert_int_equal(store_item_seen(s, "lefigaro", "guid-1"), 0);
	assert_int_equal(store_item_seen(s, "nosuchfeed", "x"), 0);

	/* Same story from another feed, other link: same content hash. */
	mkitem(&b, "lefigaro", "fig-9", "https://www.lefigaro.fr/b.html", "MINSK masse des troupes",
	       "Texte  de l’article.", 110);
	assert_string_equal(a.hash, b.hash);
	assert_int_equal(add(s, &b, 0), ida);
	assert_int_equal(store_item_seen(s, "lefigaro", "fig-9"), 1);

	/* Same canonical link from a third feed, text differs (an update): one item. */
	mkitem(&c, "agregateur", "agg-1", "https://www.lemonde.fr/a.html",
	       "Minsk masse des troupes", "Texte mis à jour.", 120);
	assert_string_not_equal(a.hash, c.hash);
	assert_int_equal(add(s, &c, 0), ida);
	assert_int_equal(store_item_seen(s, "agregateur", "agg-1"), 1);

	/* The same (feed, identity) again: nothing new, no second source. */
	assert_int_equal(add(s, &a, 0), ida);

	/* No canonical link on two different stories: both stored (the index is partial). */
	mkitem(&d, "afp", "afp-1", NULL, "Une autre histoire", "Un.", 130);
	mkitem(&e, "afp", "afp-2", NULL, "Encore une autre", "Deux.", 130);
	int64_t idd = add(s, &d, 1), ide = add(s, &e, 1);
	assert_true(idd != ide && idd != ida);

	stats(s, &st);
	assert_int_equal(st.items, 3);
	assert_int_equal(st.sources, 5);
	assert_int_equal(st.feeds, 4);

	/* An item without a content hash is refused. */
	struct store_item bad = a.it;
	bad.hash = NULL;
	int64_t id;
	assert_int_equal(store_item_add(s, &bad, &id), -EINVAL);
	store_close(s);
}

struct alerts_seen {
	int n;
	struct store *s;
	bool mark;
	char buf[512];
};

static int alert_cb(const struct store_alert *a, void *arg)
{
	struct alerts_seen *as = arg;
	as->n++;
	snprintf(as->buf, sizeof(as->buf), "%s|%.2f|%s|%s|%s|%s", a->topic, a->score,
		 a->terms_json ? a->terms_json : "-", a->feed, a->url, a->title);
	if (as->mark)
		assert_int_equal(store_alert_sent(as->s, a->item_id, a->topic), 0);
	return 0;
}

static void test_verdicts_alerts(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	struct titem a;
	mkitem(&a, "lemonde", "g1", "https://www.lemonde.fr/a.html", "Frontière", "Texte", 100);
	assert_int_equal(store_begin(s), 0);
	int64_t id = add(s, &a, 1);
	assert_int_equal(store_verdict_add(s, id, "belarus", 0.82, true, "[[\"frontier\",0.5]]"),
			 0);
	assert_int_equal(store_verdict_add(s, id, "other", 0.1, false, "[]"), 0);
	assert_int_equal(store_alert_queue(s, id, "belarus"), 1);
	assert_int_equal(store_alert_queue(s, id, "belarus"), 0); /* queued once */
	assert_int_equal(store_commit(s), 0);
	/* A verdict for an item that does not exist violates the foreign key. */
	assert_int_equal(store_verdict_add(s, id + 100, "belarus", 0.5, true, "[]"), -EINVAL);
	assert_non_null(strstr(store_errmsg(s), "FOREIGN KEY"));

	struct alerts_seen as = {.s = s};
	assert_int_equal(store_alerts_pending(s, alert_cb, &as), 0);
	assert_int_equal(as.n, 1);
	assert_string_equal(as.buf, "belarus|0.82|[[\"frontier\",0.5]]|lemonde|"
				    "https://www.lemonde.fr/a.html|Frontière");
	struct store_stats st;
	stats(s, &st);
	assert_int_equal(st.alerts_pending, 1);
	assert_int_equal(st.alerts_sent, 0);
	assert_int_equal(st.relevant, 1);

	/* Marking sent from inside the callback is allowed. */
	as = (struct alerts_seen){.s = s, .mark = true};
	assert_int_equal(store_alerts_pending(s, alert_cb, &as), 0);
	assert_int_equal(as.n, 1);
	as = (struct alerts_seen){.s = s};
	assert_int_equal(store_alerts_pending(s, alert_cb, &as), 0);
	assert_int_equal(as.n, 0);
	assert_int_equal(store_alert_sent(s, id, "belarus"), -ENOENT);
	stats(s, &st);
	assert_int_equal(st.alerts_pending, 0);
	assert_int_equal(st.alerts_sent, 1);
	store_close(s);
}

static void test_rollback(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	struct titem a, b;
	mkitem(&a, "lemonde", "g1", "https://www.lemonde.fr/a.html", "Un", "Texte un", 100);
	mkitem(&b, "newfeed", "g2", "https://www.lemonde.fr/b.html", "Deux", "Texte deux", 100);
	assert_int_equal(store_begin(s), 0);
	int64_t ida = add(s, &a, 1);
	assert_int_equal(store_commit(s), 0);

	assert_int_equal(store_begin(s), 0);
	add(s, &b, 1); /* creates feed "newfeed" inside the transaction */
	assert_int_equal(store_alert_queue(s, ida, "t"), 1);
	assert_int_equal(store_rollback(s), 0);
	assert_int_equal(store_rollback(s), 0); /* nothing to roll back: no error */

	assert_int_equal(store_item_seen(s, "lemonde", "g1"), 1);
	assert_int_equal(store_item_seen(s, "newfeed", "g2"), 0);
	struct store_stats st;
	stats(s, &st);
	assert_int_equal(st.items, 1);
	assert_int_equal(st.feeds, 1);
	assert_int_equal(st.alerts_pending, 0);
	/* The feed rolled back is created again, not looked up from a stale cache. */
	add(s, &b, 1);
	stats(s, &st);
	assert_int_equal(st.items, 2);
	assert_int_equal(st.feeds, 2);
	store_close(s);
}

/* A feed looked up before its row exists is remembered as missing for the rest of the
 * transaction only: the row this connection then creates, or another one does after it, is
 * found. */
static void test_feed_absent(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	struct store *other = open_ok(fx->path, false);
	struct titem a, b, c;
	mkitem(&a, "x", "a", "https://e.fr/a", "Alpha", "premier texte", 100);
	mkitem(&b, "y", "b", "https://e.fr/b", "Bravo", "deuxième texte", 100);
	mkitem(&c, "z", "c", "https://e.fr/c", "Charlie", "troisième texte", 100);

	/* Created by the feed's state, then by an item of it, in the same transaction. */
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_item_seen(s, "x", "a"), 0);
	struct store_feed f = {.name = "x", .items_per_week = -1};
	assert_int_equal(store_feed_save(s, &f), 0);
	add(s, &a, 1);
	assert_int_equal(store_item_seen(s, "x", "a"), 1);
	assert_int_equal(store_commit(s), 0);

	/* Created by an item in this transaction. */
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_item_seen(s, "z", "c"), 0);
	add(s, &c, 1);
	assert_int_equal(store_item_seen(s, "z", "c"), 1);
	assert_int_equal(store_commit(s), 0);

	/* Created by another connection once the reading transaction has ended. */
	assert_int_equal(store_begin_read(s), 0);
	assert_int_equal(store_item_seen(s, "y", "b"), 0);
	assert_int_equal(store_commit(s), 0);
	add(other, &b, 1);
	assert_int_equal(store_item_seen(s, "y", "b"), 1);
	store_close(other);
	store_close(s);
}

/* items_fts is written at commit (one FTS5 segment per transaction): every committed item is
 * indexed once, a rolled-back one not at all, an item stored outside a transaction at once. */
static void test_fts_at_commit(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	struct titem a, b, c, d;
	mkitem(&a, "f", "a", "https://e.fr/a", "Alpha", "premier texte", 100);
	mkitem(&b, "f", "b", "https://e.fr/b", "Bravo", "deuxième texte", 100);
	mkitem(&c, "f", "c", "https://e.fr/c", "Charlie", "troisième texte", 100);
	mkitem(&d, "f", "d", "https://e.fr/d", "Delta", "quatrième texte", 100);
	c.it.content = "contenu complet";
	int64_t ida = add(s, &a, 1); /* no transaction: indexed by its own commit */
	const char *q_alpha = "SELECT count(*) FROM items_fts WHERE items_fts MATCH 'alpha'";
	const char *q_bravo = "SELECT count(*) FROM items_fts WHERE items_fts MATCH 'bravo'";
	assert_int_equal(count_outside(fx->path, q_alpha), 1);

	assert_int_equal(store_begin(s), 0);
	add(s, &b, 1);
	assert_int_equal(count_outside(fx->path, q_bravo), 0); /* not committed yet */
	assert_int_equal(store_rollback(s), 0);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(count_outside(fx->path, q_bravo), 0);

	const char *q_segs = "SELECT count(DISTINCT segid) FROM items_fts_idx";
	int64_t segs = count_outside(fx->path, q_segs);
	assert_int_equal(store_begin(s), 0);
	int64_t idb = add(s, &b, 1);
	int64_t id2;
	assert_int_equal(store_item_add(s, &a.it, &id2), 0); /* a duplicate: not indexed again */
	assert_int_equal(id2, ida);
	add(s, &c, 1);
	add(s, &d, 1);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(count_outside(fx->path, q_alpha), 1);
	assert_int_equal(count_outside(fx->path, q_bravo), 1);
	/* Every text holds "texte": four documents (a full scan of items_fts is refused: it keeps
	 * no row per item, schema_v14_fts_no_sizes). */
	assert_int_equal(count_outside(fx->path, "SELECT count(*) FROM items_fts WHERE items_fts"
						 " MATCH 'texte'"),
			 4);
	assert_int_equal(count_outside(fx->path, q_segs), segs + 1); /* the three make one */
	assert_int_equal(count_outside(fx->path, "SELECT rowid FROM items_fts WHERE items_fts"
						 " MATCH 'bravo'"),
			 idb);
	/* Summary and content are both indexed, in the text column. */
	assert_int_equal(count_outside(fx->path, "SELECT count(*) FROM items_fts WHERE items_fts"
						 " MATCH 'text : (troisieme AND complet)'"),
			 1);
	assert_int_equal(count_outside(fx->path,
				       "SELECT count(*) FROM sqlite_master"
				       " WHERE type = 'trigger' AND name = 'items_fts_insert'"),
			 0);
	store_close(s);
}

/* An item added, then revised, in one transaction (a feed repeating a guid with another text in
 * one document): the index holds its last text once, and FTS5's integrity check passes. */
static void test_fts_revise_pending(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	struct titem a, b, c;
	mkitem(&c, "f", "c", "https://e.fr/c", "Charlie", "texte commun avant", 100);
	mkitem(&a, "f", "g", "https://e.fr/a", "Alpha", "texte commun premier", 100);
	mkitem(&b, "f", "g", "https://e.fr/a", "Alpha", "texte commun corrige", 200);
	assert_int_equal(store_begin(s), 0);
	int64_t idc = add(s, &c, 1);
	int64_t ida = add(s, &a, 1);
	assert_true(ida > idc);
	int64_t id;
	int rv = store_item_revise(s, ida, &b.it, &id);
	if (rv != 1)
		fail_msg("store_item_revise: %d %s", rv, store_errmsg(s));
	assert_int_equal(id, ida);
	assert_int_equal(store_commit(s), 0);
	const char *q = "SELECT count(*) FROM items_fts WHERE items_fts MATCH '%s'";
	char sql[128];
	snprintf(sql, sizeof(sql), q, "premier");
	assert_int_equal(count_outside(fx->path, sql), 0);
	snprintf(sql, sizeof(sql), q, "corrige");
	assert_int_equal(count_outside(fx->path, sql), 1);
	snprintf(sql, sizeof(sql), q, "commun");
	assert_int_equal(count_outside(fx->path, sql), 2);
	/* Deleting both must leave an index FTS5 finds sound, and empty. */
	exec_outside(fx->path, "DELETE FROM items; INSERT INTO items_fts(items_fts, rank) VALUES "
			       "('integrity-check', 0)");
	snprintf(sql, sizeof(sql), q, "commun");
	assert_int_equal(count_outside(fx->path, sql), 0);
	store_close(s);
}

struct rows {
	struct buf ids;
	int n;
	int stop_after;
};

static int rows_cb(const struct store_row *r, void *arg)
{
	struct rows *rs = arg;
	buf_printf(&rs->ids, "%s%s", rs->ids.len ? "," : "", r->title);
	if (r->topic)
		buf_printf(&rs->ids, "(%s %.1f%s)", r->topic, r->score, r->relevant ? " R" : "");
	rs->n++;
	return rs->stop_after && rs->n == rs->stop_after ? 7 : 0;
}

static const char *items(struct store *s, struct rows *rs, int64_t since, bool rel, int64_t limit,
			 const char *match)
{
	struct store_query q = {
	    .since = since, .relevant_only = rel, .limit = limit, .match = match};
	buf_free(&rs->ids);
	rs->n = 0;
	int r = store_items_each(s, &q, rows_cb, rs);
	if (r != 0)
		fail_msg("store_items_each: %d %s", r, store_errmsg(s));
	return rs->ids.p ? rs->ids.p : "";
}

static void test_items_each(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	struct titem t[4];
	mkitem(&t[0], "f1", "1", "https://e.fr/1", "A",
	       "Loukachenko inspecte la frontière avec la Pologne", 100);
	mkitem(&t[1], "f1", "2", "https://e.fr/2", "B", "Météo : du soleil à Lyon", 200);
	mkitem(&t[2], "f2", "3", "https://e.fr/3", "C", "L'armée biélorusse en manœuvres", 300);
	mkitem(&t[3], "f2", "4", "https://e.fr/4", "D", "Rien à voir", 300);
	t[0].it.published = 50;
	t[0].it.author = "Jean";
	int64_t id[4];
	assert_int_equal(store_begin(s), 0);
	for (int i = 0; i < 4; i++)
		id[i] = add(s, &t[i], 1);
	assert_int_equal(store_verdict_add(s, id[0], "belarus", 0.9, true, "[]"), 0);
	assert_int_equal(store_verdict_add(s, id[0], "weather", 0.95, false, "[]"), 0);
	assert_int_equal(store_verdict_add(s, id[1], "weather", 0.7, true, "[]"), 0);
	assert_int_equal(store_verdict_add(s, id[1], "belarus", 0.2, false, "[]"), 0);
	assert_int_equal(store_verdict_add(s, id[2], "belarus", 0.3, false, "[]"), 0);
	assert_int_equal(store_commit(s), 0);

	struct rows rs = {0};
	/* Newest first (fetched, then id); best verdict: relevant first, then score. */
	assert_string_equal(items(s, &rs, 0, false, 0, NULL),
			    "D,C(belarus 0.3),B(weather 0.7 R),A(belarus 0.9 R)");
	assert_string_equal(items(s, &rs, 200, false, 0, NULL),
			    "D,C(belarus 0.3),B(weather 0.7 R)");
	assert_string_equal(items(s, &rs, 0, false, 2, NULL), "D,C(belarus 0.3)");
	assert_string_equal(items(s, &rs, 0, true, 0, NULL), "B(weather 0.7 R),A(belarus 0.9 R)");
	assert_string_equal(items(s, &rs, 0, true, 1, NULL), "B(weather 0.7 R)");
	/* Full-text: accents and case do not matter either way. */
	assert_string_equal(items(s, &rs, 0, false, 0, "loukachenko frontiere"),
			    "A(belarus 0.9 R)");
	assert_string_equal(items(s, &rs, 0, false, 0, "FRONTIÈRE"), "A(belarus 0.9 R)");
	assert_string_equal(items(s, &rs, 0, false, 0, "meteo"), "B(weather 0.7 R)");
	assert_string_equal(items(s, &rs, 0, false, 0, "loukachenko lyon"), "");
	assert_string_equal(items(s, &rs, 0, false, 0, "loukachenko OR lyon"),
			    "B(weather 0.7 R),A(belarus 0.9 R)");
	assert_string_equal(items(s, &rs, 0, true, 0, "loukachenko OR lyon OR armee"),
			    "B(weather 0.7 R),A(belarus 0.9 R)");
	assert_string_equal(items(s, &rs, 250, false, 0, "loukachenko OR armee"), "C(belarus 0.3)");
	/* œ and æ are letters to FTS5: the query asks for both spellings. */
	assert_string_equal(items(s, &rs, 0, false, 0, "manoeuvres"), "C(belarus 0.3)");
	assert_string_equal(items(s, &rs, 0, false, 0, "MANOEUVRES"), "C(belarus 0.3)");
	assert_string_equal(items(s, &rs, 0, false, 0, "manœuvres"), "C(belarus 0.3)");
	assert_string_equal(items(s, &rs, 0, false, 0, "manoeuvr*"), "C(belarus 0.3)");
	assert_string_equal(items(s, &rs, 0, false, 0, "\"en manoeuvres\""), "C(belarus 0.3)");
	assert_string_equal(items(s, &rs, 0, false, 0, "text : manoeuvres"), "C(belarus 0.3)");
	assert_string_equal(items(s, &rs, 0, false, 0, "armee AND manoeuvres NOT lyon"),
			    "C(belarus 0.3)");
	assert_string_equal(items(s, &rs, 0, false, 0, "NEAR(armee manœuvres, 3)"),
			    "C(belarus 0.3)");
	assert_string_equal(items(s, &rs, 0, false, 0, "michael OR loukachenko"),
			    "A(belarus 0.9 R)");
	/* Not FTS syntax: searched as plain words. */
	assert_string_equal(items(s, &rs, 0, false, 0, "l'armée"), "C(belarus 0.3)");
	assert_string_equal(items(s, &rs, 0, false, 0, "l'armée manoeuvres"), "C(belarus 0.3)");
	assert_string_equal(items(s, &rs, 0, false, 0, "\"unbalanced"), "");
	/* The callback stops the walk. */
	rs.stop_after = 2;
	struct store_query q = {0};
	assert_int_equal(store_items_each(s, &q, rows_cb, &rs), 7);
	buf_free(&rs.ids);
	store_close(s);
}

static int count_cb(const struct store_row *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

static int search_count(struct store *s, const char *match)
{
	struct store_query q = {.match = match};
	int n = 0;
	assert_int_equal(store_items_each(s, &q, count_cb, &n), 0);
	return n;
}

/* Pieces of text for test_fts_tokens: accents composed and not, ligatures, typographic
 * punctuation and spaces, other scripts, characters beyond the tokenizer's tables, bytes that are
 * not UTF-8, long words. */
static const char *const tok_pieces[] = {
    "Élysée",
    "l’armée",
    "ÉTÉ",
    "été",
    "e\u0301te\u0301",
    "\u0301",
    "\u0327c",
    "cœur",
    "CŒUR",
    "œuvre",
    "Æsop",
    "naïve",
    "Noël",
    "ça",
    "«",
    "»",
    "\u00a0",
    "\u202f",
    "\u2009",
    "—",
    "–",
    "…",
    "“",
    "”",
    "‘",
    "’",
    "12,5",
    "3.14",
    "A380",
    "x86_64",
    "Ελλάδα",
    "ΣΊΣΥΦΟΣ",
    "Москва",
    "ЁЖИК",
    "Straße",
    "İstanbul",
    "ı",
    "ǅ",
    "Ÿ",
    "ÿ",
    "ﬁn",
    "ⅷ",
    "中文",
    "😀",
    "\u2070",
    "€",
    "\xc3",
    "\x80",
    "\xbf",
    "\xb0", /* a stray continuation byte whose low 7 bits are an ASCII digit */
    "x\xb9y",
    "\xc0\x80",
    "\xe2\x80",
    "\xed\xa0\x80",
    "\xf0\x9f",
    "\xff",
    "\xc3\xa9\x80",
    "\xe2\x80\x99\x80",
    "foo_bar",
    "e-mail",
    "l'école",
    "aujourd'hui",
    "C++",
    "#tag",
    "@nom",
    "https://www.lemonde.fr/europe/article/2024/01/01/x_123.html",
    "\t",
    "\n",
    " ",
    " ",
    " ",
    ",",
    ".",
    "(",
    ")",
    "Loukachenko",
    "Biélorussie",
    "frontière",
    "MANŒUVRES",
    "Ἀθῆναι",
    "Україна",
    "ﺍﻟﻌﺮﺑﻴﺔ",
    "اردو",
    "עברית",
    "ᄀ",
};

/* Every text the store indexes writes the same index as SQLite's own unicode61 without the
 * function words (fts_ref.h), byte for byte: generated texts, the shipped reference texts and the
 * real feeds' expected items, cut in pieces (so some start or end inside a character). */
static void test_fts_tokens(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	assert_true(store_fts_fast(s));
	struct buf texts = {0}; /* texts, each NUL-terminated */
	uint64_t x = 0x9E3779B97F4A7C15ull;
	for (int i = 0; i < 300; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int n = 1 + (int)(x % 80);
		for (int k = 0; k < n; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf_puts(&texts, tok_pieces[x % ARRAY_SIZE(tok_pieces)]);
			if (x >> 60 < 10)
				buf_putc(&texts, x >> 60 < 7 ? ' ' : '\'');
		}
		if (i == 0) /* a long word, past the tokenizer's buffer */
			for (int k = 0; k < 400; k++)
				buf_puts(&texts, k % 50 ? "a" : "é");
		if (i == 1) /* ASCII words of every length around the buffer's, eight at a time */
			for (int len = 240; len < 270; len++) {
				buf_putc(&texts, ' ');
				for (int k = 0; k < len; k++)
					buf_putc(&texts, "Ab9xYz0Q"[(k + len) % 8]);
			}
		if (i == 2) /* ASCII words and separators of every length around sixteen bytes,
			     * some next to an accented letter or a separator from 0x80 */
			for (int len = 1; len < 36; len++)
				for (int gap = 1; gap < 19; gap++) {
					for (int k = 0; k < len; k++)
						buf_putc(&texts, "zAb9xYz0Q@[`{/:"[(k + gap) % 15]);
					if ((len + gap) % 5 == 0)
						buf_puts(&texts, (len + gap) % 10 ? "é" : "\u00a0");
					for (int k = 0; k < gap; k++)
						buf_putc(&texts, " ,.\n'-"[(k + len) % 6]);
				}
		buf_putc(&texts, '\0');
	}
	const char *globs[] = {TEST_SOURCE_DIR "/conf/reference/*.txt",
			       TEST_DATA_DIR "/real/*.expected"};
	for (size_t g = 0; g < ARRAY_SIZE(globs); g++) {
		glob_t gl;
		assert_int_equal(glob(globs[g], 0, NULL, &gl), 0);
		for (size_t i = 0; i < gl.gl_pathc; i++) {
			char *data;
			size_t len;
			assert_int_equal(read_file(gl.gl_pathv[i], 1u << 20, &data, &len), 0);
			for (size_t off = 0; off < len; off += 1000) {
				size_t n = len - off < 1000 ? len - off : 1000;
				buf_append(&texts, data + off, strnlen(data + off, n));
				buf_putc(&texts, '\0');
			}
			free(data);
		}
		globfree(&gl);
	}
	assert_int_equal(store_begin(s), 0);
	int n = 0;
	for (size_t off = 0; off < texts.len; off += strlen(texts.p + off) + 1, n++) {
		char id[32], title[64];
		snprintf(id, sizeof(id), "t%d", n);
		/* the title: the text's first bytes, with the item's number (each is new) */
		snprintf(title, sizeof(title), "%d %.40s", n, texts.p + off);
		struct titem t;
		mkitem(&t, "f", id, NULL, title, texts.p + off, 100);
		add(s, &t, 1);
	}
	assert_int_equal(store_commit(s), 0);
	store_close(s);
	buf_free(&texts);
	assert_true(n > 500);

	/* The same table beside it, written by SQLite's tokenizer and fts_ref.h's list from the
	 * same rows. */
	sqlite3 *db = open_outside(fx->path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT replace(sql, 'items_fts', 'ref_fts')"
					    " FROM sqlite_master WHERE name = 'items_fts'",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	char *create = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_exec(db, create, NULL, NULL, NULL), SQLITE_OK);
	free(create);
	assert_int_equal(sqlite3_exec(db,
				      "INSERT INTO ref_fts (ref_fts, rank) SELECT k, v"
				      " FROM items_fts_config WHERE k <> 'version';"
				      "INSERT INTO ref_fts (rowid, title, text) SELECT id, title,"
				      " coalesce(summary, '') || ' ' || coalesce(content, '')"
				      " FROM items ORDER BY id;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	/* The structure record (id 10) begins with a counter of configuration changes, which
	 * items_fts had more of. */
#define FTS_BLOCK "id, CASE id WHEN 10 THEN substr(block, 5) ELSE block END"
	const char *same[] = {
	    "SELECT count(*) FROM (SELECT " FTS_BLOCK " FROM items_fts_data"
	    " EXCEPT SELECT " FTS_BLOCK " FROM ref_fts_data)",
	    "SELECT count(*) FROM (SELECT " FTS_BLOCK " FROM ref_fts_data"
	    " EXCEPT SELECT " FTS_BLOCK " FROM items_fts_data)",
	    "SELECT count(*) FROM (SELECT * FROM items_fts_idx EXCEPT SELECT * FROM ref_fts_idx)",
	    "SELECT count(*) FROM (SELECT * FROM ref_fts_idx EXCEPT SELECT * FROM items_fts_idx)",
	};
#undef FTS_BLOCK
	for (size_t i = 0; i < ARRAY_SIZE(same); i++)
		assert_int_equal(count_outside(fx->path, same[i]), 0);
	assert_true(count_outside(fx->path, "SELECT count(*) FROM items_fts_data") > 10);
	assert_int_equal(count_outside(fx->path, "SELECT count(*) FROM items_fts_data"),
			 count_outside(fx->path, "SELECT count(*) FROM ref_fts_data"));
}

/* Search across many FTS5 segments (a commit writes one), merged and not: 200 commits of one
 * item each, then the older half pruned. Phrases, prefixes, œ written either way and NEAR find
 * exactly the items that hold them. */
static void test_fts_segments(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	enum { N = 200 };
	for (int i = 0; i < N; i++) {
		char id[16], link[64], title[64], text[160];
		snprintf(id, sizeof(id), "g%d", i);
		snprintf(link, sizeof(link), "https://x.fr/%d", i);
		snprintf(title, sizeof(title), "Dépêche numero%d", i);
		/* i % 3 == 0: the phrase with œ; 1: with "oe" and another verb; 2: words apart */
		snprintf(text, sizeof(text), "%s",
			 i % 3 == 0   ? "La mise en œuvre du plan de la frontière"
			 : i % 3 == 1 ? "Le plan est mis en oeuvre à la frontière"
				      : "Une œuvre mise à part, en plan fixe");
		struct titem t;
		mkitem(&t, "a", id, link, title, text, 1000 + i);
		assert_int_equal(store_begin(s), 0);
		add(s, &t, 1);
		assert_int_equal(store_commit(s), 0);
	}
	int64_t segs = count_outside(fx->path, "SELECT count(DISTINCT segid) FROM items_fts_idx");
	assert_true(segs > 1 && segs < N); /* merged, but not into one */
	int phrase = (N + 2) / 3, mis = (N + 1) / 3, apart = N / 3;
	assert_int_equal(search_count(s, "\"mise en oeuvre\""), phrase);
	assert_int_equal(search_count(s, "\"mise en œuvre\""), phrase);
	assert_int_equal(search_count(s, "\"mis en œuvre\""), mis);
	assert_int_equal(search_count(s, "oeuvre"), N);
	assert_int_equal(search_count(s, "frontiere"), phrase + mis);
	/* NEAR groups are not expanded: œ as stored; "œuvre mise" is near too */
	assert_int_equal(search_count(s, "NEAR(mise œuvre, 1)"), phrase + apart);
	assert_int_equal(search_count(s, "NEAR(mise oeuvre, 1)"), 0);
	assert_int_equal(search_count(s, "mise AND part"), apart);
	assert_int_equal(search_count(s, "numero42"), 1);
	assert_int_equal(search_count(s, "numero1*"), 111); /* 1, 10-19, 100-199 */
	assert_int_equal(search_count(s, "title : oeuvre"), 0);

	/* Items 0 to 99 pruned: their rows leave the index too. */
	int64_t n;
	assert_int_equal(store_prune(s, 1000 + N / 2, 0, 1000, &n), 0);
	assert_int_equal(n, N / 2);
	assert_int_equal(search_count(s, "\"mise en oeuvre\""), phrase - (N / 2 + 2) / 3);
	assert_int_equal(search_count(s, "oeuvre"), N / 2);
	assert_int_equal(search_count(s, "numero42"), 0);
	assert_int_equal(search_count(s, "numero1*"), 100);
	store_close(s);
}

/* items_fts leaves French function words and single letters out, in texts and in queries: a
 * phrase skips them ("ministre de la défense" finds "ministre à la défense"), an implicit AND, a
 * NEAR group or a column filter ignores them, a prefix keeps them ("de*"), and a query of nothing
 * else is refused with a message. */
static void test_fts_function_words(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	static const char *const texts[] = {
	    "Des chars à la frontière de la Pologne",	  /* 1 */
	    "La Pologne ferme sa frontière",		  /* 2 */
	    "Le ministre de la Défense est arrivé",	  /* 3 */
	    "Le ministre à la défense nationale",	  /* 4 */
	    "Défense : le ministre parle de l'armée",	  /* 5 */
	    "Plan B et vitamine C pour la défense d'Est", /* 6 */
	    "Le traité de non-prolifération signé avant", /* 7 */
	    "La prolifération plus loin",		  /* 8 */
	};
	assert_int_equal(store_begin(s), 0);
	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		char id[16];
		snprintf(id, sizeof(id), "g%zu", i + 1);
		struct titem t;
		mkitem(&t, "a", id, NULL, "Dépêche", texts[i], 1000 + (int)i);
		add(s, &t, 1);
	}
	assert_int_equal(store_commit(s), 0);
	/* A third of the tokens are not indexed: no "la", "de", "l", "a" in the index. */
	assert_int_equal(count_outside(fx->path, "SELECT count(*) FROM items_fts WHERE items_fts"
						 " MATCH 'pologne'"),
			 2);
	assert_int_equal(search_count(s, "frontière de la Pologne"), 2);
	assert_int_equal(search_count(s, "\"frontière de la Pologne\""), 1);
	assert_int_equal(search_count(s, "\"ministre de la défense\""), 2);
	assert_int_equal(search_count(s, "\"ministre à la défense\""), 2);
	assert_int_equal(search_count(s, "\"l'armée\""), 1);
	assert_int_equal(search_count(s, "l'armée"), 1);
	assert_int_equal(search_count(s, "NEAR(ministre de la défense, 0)"), 3); /* 3, 4, 5 */
	assert_int_equal(search_count(s, "text : la pologne"), 2);
	/* An explicit AND with function words alone on one side: that side is left out (FTS5's
	 * AND with an empty phrase would find nothing). */
	assert_int_equal(search_count(s, "pologne AND la"), 2);
	assert_int_equal(search_count(s, "la AND pologne"), 2);
	assert_int_equal(search_count(s, "\"de la\" AND pologne AND \"l'\""), 2);
	assert_int_equal(search_count(s, "(pologne OR armée) AND de"), 3);
	assert_int_equal(search_count(s, "le AND (pologne OR armée)"), 3);
	assert_int_equal(search_count(s, "ministre AND la AND défense"), 3);
	assert_int_equal(search_count(s, "ministre AND de* AND nationale"), 1);
	assert_int_equal(search_count(s, "pologne NOT la"), 2);
	assert_int_equal(search_count(s, "pologne NOT la AND frontière"), 2);
	assert_int_equal(search_count(s, "pologne NOT la AND chars"), 1);
	assert_int_equal(search_count(s, "pologne OR le"), 2);
	/* Beside another word, a function word goes alone and its AND stays: "a NOT b AND la c"
	 * is "a NOT b AND c", not "a NOT (b c)" (juxtaposition binds tighter than NOT). */
	assert_int_equal(search_count(s, "pologne NOT ferme AND chars"), 1);
	assert_int_equal(search_count(s, "pologne NOT ferme AND la chars"), 1);
	assert_int_equal(search_count(s, "pologne NOT ferme la AND chars"), 1);
	assert_int_equal(search_count(s, "frontière AND la de pologne"), 2);
	assert_int_equal(search_count(s, "vitamine"), 1);
	/* Stop words with a meaning of their own stay: "non-prolifération" is not "prolifération".
	 */
	assert_int_equal(search_count(s, "\"non-prolifération\""), 1);
	assert_int_equal(search_count(s, "non-prolifération"), 1);
	assert_int_equal(search_count(s, "prolifération"), 2);
	assert_int_equal(search_count(s, "avant"), 1);
	assert_int_equal(search_count(s, "\"prolifération plus\""), 1);
	/* A prefix keeps its last token: "de*" finds "défense" (and "Dépêche", every title). */
	assert_int_equal(search_count(s, "de*"), 8);
	assert_int_equal(search_count(s, "defense de*"), 4);
	assert_int_equal(search_count(s, "\"ministre de la def\"*"), 2);
	char longer[400]; /* a prefix past the tokenizer's buffer */
	memset(longer, 'x', sizeof(longer) - 2);
	memcpy(longer + sizeof(longer) - 2, "*", 2);
	assert_int_equal(search_count(s, longer), 0);
	/* Only function words: refused, with a message that says why. */
	const char *only[] = {"de la",	   "\"de la\"", "le OR la", "title : la",
			      "la AND le", "l'",	"à",	    "C"};
	for (size_t i = 0; i < ARRAY_SIZE(only); i++) {
		struct store_query q = {.match = only[i]};
		int n = 0;
		assert_int_equal(store_items_each(s, &q, count_cb, &n), -EINVAL);
		assert_int_equal(n, 0);
		assert_non_null(strstr(store_errmsg(s), "function words"));
	}
	/* A word that finds nothing is no function word. */
	assert_int_equal(search_count(s, "marmotte"), 0);
	assert_int_equal(search_count(s, "marmotte de"), 0);
	store_close(s);
}

/* Story and revision columns of one item, through store_items_each. */
struct story_row {
	int64_t id, story, size, revisions, updated;
	char title[64];
};

static int story_row_cb(const struct store_row *r, void *arg)
{
	struct story_row *o = arg;
	if (r->id != o->id)
		return 0;
	o->story = r->story;
	o->size = r->story_size;
	o->revisions = r->revisions;
	o->updated = r->updated;
	snprintf(o->title, sizeof(o->title), "%s", r->title ? r->title : "");
	return 0;
}

static struct story_row row_of(struct store *s, int64_t id)
{
	struct story_row o = {.id = id};
	struct store_query q = {0};
	assert_int_equal(store_items_each(s, &q, story_row_cb, &o), 0);
	return o;
}

static void test_sources_revisions(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	struct titem a, b, c;
	struct store_delivered src;
	mkitem(&a, "lemonde", "g1", "https://www.lemonde.fr/a.html", "Minsk masse des troupes",
	       "Première version.", 100);
	a.it.fingerprint = 0x1234;
	assert_int_equal(store_source_get(s, "lemonde", "g1", &src), 0);
	int64_t ida = add(s, &a, 1);
	assert_int_equal(store_source_get(s, "lemonde", "g1", &src), 1);
	assert_int_equal(src.item_id, ida);
	assert_true(src.has_fingerprint && src.fingerprint == 0x1234);
	assert_string_equal(src.hash, a.hash);
	assert_int_equal(src.story, ida);
	assert_int_equal(store_source_get(s, "lefigaro", "g1", &src), 0);

	/* Bytes changed, content did not: only the fingerprint moves. */
	assert_int_equal(store_source_fingerprint(s, "lemonde", "g1", 0xFFFFFFFFFFFFFFFFull), 0);
	assert_int_equal(store_source_get(s, "lemonde", "g1", &src), 1);
	assert_true(src.fingerprint == 0xFFFFFFFFFFFFFFFFull);

	/* A new version: the item holds it, the old hash is kept, search follows. */
	mkitem(&b, "lemonde", "g1", "https://www.lemonde.fr/a.html", "Minsk masse des troupes",
	       "Version corrigée : des chars arrivent à Gomel.", 200);
	b.it.fingerprint = 0x5678;
	int64_t id;
	assert_int_equal(store_item_revise(s, ida, &b.it, &id), 1);
	assert_int_equal(id, ida);
	assert_int_equal(store_source_get(s, "lemonde", "g1", &src), 1);
	assert_string_equal(src.hash, b.hash);
	assert_true(src.fingerprint == 0x5678);
	struct story_row o = row_of(s, ida);
	assert_int_equal(o.revisions, 1);
	assert_int_equal(o.updated, 200);
	struct rows rs = {0};
	assert_string_equal(items(s, &rs, 0, false, 0, "gomel"), "Minsk masse des troupes");
	assert_string_equal(items(s, &rs, 0, false, 0, "premiere"), "");
	buf_free(&rs.ids);
	/* The earlier version's text is kept with its hash. */
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM revisions WHERE item_id = %lld AND hash = '%s' AND title = "
		 "'Minsk masse des troupes' AND summary = 'Première version.' AND content IS NULL",
		 (long long)ida, a.hash);
	assert_int_equal(count_outside(fx->path, sql), 1);
	/* The same version again is no revision. */
	assert_int_equal(store_item_revise(s, ida, &b.it, &id), 0);
	assert_int_equal(id, ida);
	assert_int_equal(row_of(s, ida).revisions, 1);
	/* A version that reads like another stored item: the source moves to that item. */
	mkitem(&c, "afp", "x", NULL, "Autre", "Autre texte.", 300);
	int64_t idc = add(s, &c, 1);
	struct titem d = c;
	d.it.feed = "lemonde";
	d.it.identity = "g1";
	d.it.fingerprint = 0x9;
	assert_int_equal(store_item_revise(s, ida, &d.it, &id), 0);
	assert_int_equal(id, idc);
	assert_int_equal(store_source_get(s, "lemonde", "g1", &src), 1);
	assert_int_equal(src.item_id, idc);
	assert_int_equal(row_of(s, ida).revisions, 1);
	/* Revising an item that does not exist fails and changes nothing. */
	struct titem f;
	mkitem(&f, "lemonde", "g1", NULL, "Neuf", "Jamais vu.", 400);
	assert_int_equal(store_item_revise(s, 999, &f.it, &id), -ENOENT);
	assert_int_equal(store_source_get(s, "lemonde", "g1", &src), 1);
	assert_int_equal(src.item_id, idc);
	store_close(s);
}

static void test_stories(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	struct titem a, b, c, d;
	int64_t story = -1;
	uint64_t sa[2] = {0x0F0F0F0F0F0F0F0Full, 0x123456789ABCDEF0ull};
	uint64_t near[2] = {sa[0] ^ 0x7, sa[1] ^ 0x30}; /* 5 bits away */
	uint64_t none[2] = {0, 0};
	assert_int_equal(store_story_find(s, sa, 0, 28, &story), 0);

	mkitem(&a, "f1", "1", "https://e.fr/1", "A", "texte a", 1000);
	memcpy(a.it.simhash, sa, sizeof(sa));
	int64_t ida = add(s, &a, 1);
	assert_int_equal(store_story_find(s, near, 0, 28, &story), 1);
	assert_int_equal(story, ida);
	assert_int_equal(store_story_find(s, near, 0, 4, &story), 0);	  /* too far for 4 */
	assert_int_equal(store_story_find(s, near, 1001, 28, &story), 0); /* outside the window */
	assert_int_equal(store_story_find(s, none, 0, 128, &story), 0);

	/* A member joins; a third item close to the member joins the same story. */
	mkitem(&b, "f2", "2", "https://e.fr/2", "B", "texte b", 1100);
	memcpy(b.it.simhash, near, sizeof(near));
	b.it.story = ida;
	int64_t idb = add(s, &b, 1);
	uint64_t near_b[2] = {near[0] ^ 0x100, near[1]};
	assert_int_equal(store_story_find(s, near_b, 1050, 28, &story), 1);
	assert_int_equal(story, ida);
	mkitem(&c, "f3", "3", "https://e.fr/3", "C", "texte c", 1200);
	c.it.story = ida;
	int64_t idc = add(s, &c, 1);
	mkitem(&d, "f3", "4", "https://e.fr/4", "D", "texte d", 1300);
	int64_t idd = add(s, &d, 1);
	struct story_row o = row_of(s, ida);
	assert_int_equal(o.story, ida);
	assert_int_equal(o.size, 3);
	o = row_of(s, idb);
	assert_int_equal(o.story, ida);
	assert_int_equal(o.size, 3);
	assert_int_equal(row_of(s, idc).size, 3);
	o = row_of(s, idd);
	assert_int_equal(o.story, idd);
	assert_int_equal(o.size, 1);

	/* One alert per story and topic, whichever member had it. */
	assert_int_equal(store_story_alerted(s, ida, "belarus"), 0);
	assert_int_equal(store_alert_queue(s, idb, "belarus"), 1);
	assert_int_equal(store_story_alerted(s, ida, "belarus"), 1);
	assert_int_equal(store_story_alerted(s, ida, "weather"), 0);
	assert_int_equal(store_story_alerted(s, idd, "belarus"), 0);
	/* An alert of the story's first item counts too; one of another story does not. */
	assert_int_equal(store_alert_queue(s, ida, "weather"), 1);
	assert_int_equal(store_story_alerted(s, ida, "weather"), 1);
	assert_int_equal(store_alert_queue(s, idd, "snow"), 1);
	assert_int_equal(store_story_alerted(s, ida, "snow"), 0);
	assert_int_equal(store_story_alerted(s, idd, "snow"), 1);

	/* A rollback takes the window's new entries with it. */
	assert_int_equal(store_begin(s), 0);
	struct titem e;
	uint64_t se[2] = {~sa[0], ~sa[1]};
	mkitem(&e, "f1", "5", "https://e.fr/5", "E", "texte e", 1400);
	memcpy(e.it.simhash, se, sizeof(se));
	int64_t ide = add(s, &e, 1);
	assert_int_equal(store_story_find(s, se, 0, 0, &story), 1);
	assert_int_equal(story, ide);
	assert_int_equal(store_rollback(s), 0);
	assert_int_equal(store_story_find(s, se, 0, 0, &story), 0);
	/* The window as loaded from the file, by a new connection. */
	store_close(s);
	s = open_ok(fx->path, false);
	assert_int_equal(store_story_find(s, near_b, 0, 28, &story), 1);
	assert_int_equal(story, ida);
	store_close(s);
}

/* A window entry as the test keeps it, for the reference scan. */
struct ref_entry {
	uint64_t sim[2];
	int64_t fetched, story;
};

static uint64_t rnd_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* base with about k of its 128 bits flipped at random. */
static void mutate(const uint64_t base[2], unsigned k, uint64_t out[2])
{
	out[0] = base[0];
	out[1] = base[1];
	for (unsigned i = 0; i < k; i++) {
		unsigned bit = (unsigned)(rnd() % 128);
		out[bit / 64] ^= 1ull << (bit % 64);
	}
}

#define ROUND_QUERIES 12

/*
 * A round of the window tests over the n entries of e: returns its since (sorted: mostly forward
 * with the entries' fetch times, now and then back, so that the window is loaded again; else at
 * random) and puts its *ret_nq queries in q: the first a SimHash of one of the last 100 entries
 * (when there is one), the others near one of the three bases.
 */
static int64_t round_queries(bool sorted, unsigned round, const struct ref_entry *e, size_t n,
			     uint64_t (*bases)[2], uint64_t (*q)[2], size_t *ret_nq)
{
	int64_t now = 1000 + (int64_t)n / 8, since;
	if (sorted)
		since = round % 11 == 3 ? now - 300 : now - 40 - (int64_t)(rnd() % 20);
	else
		since = round % 3 ? 1000 + (int64_t)(rnd() % 300) : 0;
	size_t nq = 1 + rnd() % ROUND_QUERIES;
	for (size_t i = 0; i < nq; i++) {
		if (n && i == 0)
			memcpy(q[i], e[n - 1 - rnd() % (n < 100 ? n : 100)].sim, sizeof(q[i]));
		else
			mutate(bases[rnd() % 3], (unsigned)(rnd() % 40), q[i]);
	}
	*ret_nq = nq;
	return since;
}

/*
 * Stores item id of feed as entry *n of e (then counts it): its SimHash about 0 to 29 bits from
 * one of the nq queries q or one of the three bases, at random; fetched after the entries before
 * it when sorted, else at random.
 */
static void add_near(struct store *s, const char *feed, const char *id, bool sorted,
		     uint64_t (*q)[2], size_t nq, uint64_t (*bases)[2], struct ref_entry *e,
		     size_t *n)
{
	struct titem t;
	int64_t fetched = sorted ? 1000 + (int64_t)*n / 8 : 1000 + (int64_t)(rnd() % 400);
	mkitem(&t, feed, id, NULL, "T", id, fetched);
	mutate(rnd() % 2 ? q[rnd() % nq] : bases[rnd() % 3], (unsigned)(rnd() % 30), t.it.simhash);
	if (!t.it.simhash[0] && !t.it.simhash[1])
		t.it.simhash[0] = 1;
	int64_t rowid = add(s, &t, 1);
	e[(*n)++] = (struct ref_entry){
	    .sim = {t.it.simhash[0], t.it.simhash[1]},
	    .fetched = t.it.fetched,
	    .story = rowid,
	};
}

/* The plain loop store_story_find must agree with: the first entry, in id order, of smallest
 * distance among those fetched at or after since. */
static int64_t ref_find(const struct ref_entry *e, size_t n, const uint64_t x[2], int64_t since,
			int max_distance)
{
	int best = max_distance + 1;
	int64_t story = 0;
	for (size_t i = 0; i < n; i++) {
		int d = __builtin_popcountll(e[i].sim[0] ^ x[0]) +
			__builtin_popcountll(e[i].sim[1] ^ x[1]);
		if (d < best && e[i].fetched >= since) {
			best = d;
			story = e[i].story;
		}
	}
	return story;
}

/* Every scan implementation this CPU runs against the plain loop, on random windows: SimHashes
 * near a few bases (so that distances range from 0 up, with ties), fetch times out of order,
 * windows that end inside a vector and a block, since filters that drop entries here and there.
 */
static void test_story_scan(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	const char *impls[] = {"avx512", "avx2", "popcnt", "portable"};
	assert_int_equal(store_scan_select(s, "nonesuch"), -ENOENT);
	assert_int_equal(store_scan_select(s, NULL), 0);
	const char *chosen = store_scan_name(s);
	bool known = false;
	for (size_t k = 0; k < ARRAY_SIZE(impls); k++)
		known |= !strcmp(chosen, impls[k]);
	assert_true(known);
	assert_int_equal(store_scan_select(s, "portable"), 0);

	uint64_t bases[4][2];
	for (size_t b = 0; b < ARRAY_SIZE(bases); b++) {
		bases[b][0] = rnd();
		bases[b][1] = rnd();
	}
	size_t cap = 1700, n = 0;
	struct ref_entry *e = xcalloc(cap, sizeof(*e));
	unsigned checked = 0, found = 0, tested[ARRAY_SIZE(impls)] = {0};
	/* Windows of growing size: each round adds a few entries, then queries. */
	for (unsigned round = 0; n < cap; round++) {
		size_t more = round < 40 ? 1 + rnd() % 3 : 1 + rnd() % 97;
		assert_int_equal(store_begin(s), 0);
		for (size_t j = 0; j < more && n < cap; j++, n++) {
			char id[32], text[64];
			snprintf(id, sizeof(id), "scan-%zu", n);
			snprintf(text, sizeof(text), "texte %zu", n);
			struct titem t;
			mkitem(&t, "scan", id, NULL, "T", text, 1000 + (int64_t)(rnd() % 500));
			mutate(bases[rnd() % ARRAY_SIZE(bases)], (unsigned)(rnd() % 40),
			       t.it.simhash);
			if (!t.it.simhash[0] && !t.it.simhash[1])
				t.it.simhash[0] = 1;
			if (n && rnd() % 4 == 0)
				t.it.story = e[rnd() % n].story;
			int64_t rowid = add(s, &t, 1);
			e[n] = (struct ref_entry){
			    .sim = {t.it.simhash[0], t.it.simhash[1]},
			    .fetched = t.it.fetched,
			    .story = t.it.story > 0 ? t.it.story : rowid,
			};
		}
		assert_int_equal(store_commit(s), 0);
		for (unsigned q = 0; q < 6; q++) {
			uint64_t x[2];
			if (q == 0) /* an entry's own SimHash: distance 0, maybe more than once */
				memcpy(x, e[rnd() % n].sim, sizeof(x));
			else
				mutate(bases[rnd() % ARRAY_SIZE(bases)], (unsigned)(rnd() % 60), x);
			int64_t since = q < 2 ? 0 : 1000 + (int64_t)(rnd() % 520);
			int maxd = q == 5 ? 128 : (int)(rnd() % 40);
			int64_t want = ref_find(e, n, x, since, maxd);
			for (size_t k = 0; k < ARRAY_SIZE(impls); k++) {
				int r = store_scan_select(s, impls[k]);
				if (r == -ENOTSUP || r == -ENOENT)
					continue;
				assert_int_equal(r, 0);
				int64_t story = 0;
				r = store_story_find(s, x, since, maxd, &story);
				if (r != (want != 0) || (r == 1 && story != want))
					fail_msg(
					    "%s, %zu entries, since %lld, max %d: %d story %lld, "
					    "want %lld",
					    impls[k], n, (long long)since, maxd, r,
					    (long long)story, (long long)want);
				tested[k]++;
			}
			checked++;
			found += want != 0;
		}
	}
	/* The automatic choice, on the window loaded from the file by a new connection. */
	store_close(s);
	s = open_ok(fx->path, false);
	for (unsigned q = 0; q < 200; q++) {
		uint64_t x[2];
		mutate(bases[q % ARRAY_SIZE(bases)], q % 50, x);
		int64_t since = q % 2 ? 0 : 1000 + (int64_t)(rnd() % 520), story = 0;
		int64_t want = ref_find(e, n, x, since, 30);
		assert_int_equal(store_story_find(s, x, since, 30, &story), want != 0);
		if (want)
			assert_int_equal(story, want);
	}
	/* The queries were not all misses nor all hits, and the portable scan always ran. */
	assert_true(found > checked / 10 && found < checked);
	assert_int_equal(tested[ARRAY_SIZE(impls) - 1], checked);
	print_message("story scan: %u queries on windows up to %zu entries, %u found; checked "
		      "avx512 %u, avx2 %u, popcnt %u, portable %u\n",
		      checked, n, found, tested[0], tested[1], tested[2], tested[3]);
	free(e);
	store_close(s);
}

/*
 * store_story_prefetch then store_story_find must answer exactly as store_story_find alone,
 * whatever happens in between: entries added to the window (closer, as close, farther), lookups
 * for SimHashes not prefetched or with a later since, a rollback, windows crossing blocks; with
 * each scan this CPU runs. sorted: fetch times only go forward, as when the clock does, and the
 * window drops old entries by trimming (with and without compacting) and skips them unread;
 * else they go back and forth, and the scans check every entry's.
 */
static void story_prefetch_run(struct fx *fx, bool sorted)
{
	struct store *s = open_ok(fx->path, false);
	const char *impls[] = {"avx512", "avx2", "popcnt", "portable"};
	uint64_t bases[3][2];
	for (size_t b = 0; b < ARRAY_SIZE(bases); b++) {
		bases[b][0] = rnd();
		bases[b][1] = rnd();
	}
	size_t cap = 2600, n = 0;
	struct ref_entry *e = xcalloc(cap, sizeof(*e));
	unsigned checked = 0, found = 0, prefetched = 0, tested = 0;
	for (unsigned round = 0; n < cap; round++) {
		uint64_t q[ROUND_QUERIES][2];
		size_t nq;
		int64_t since = round_queries(sorted, round, e, n, bases, q, &nq);
		if (nq > 2) /* all zero: no SimHash, never looked up */
			q[nq - 1][0] = q[nq - 1][1] = 0;
		assert_int_equal(store_begin(s), 0);
		assert_int_equal(store_story_prefetch(s, (const uint64_t(*)[2])q, nq, since), 0);
		if (round % 17 == 5) { /* the window goes with the rollback, the answers with it */
			assert_int_equal(store_rollback(s), 0);
			assert_int_equal(store_begin(s), 0);
		}
		size_t more = round < 30 ? 1 + rnd() % 4 : 1 + rnd() % 150;
		for (size_t j = 0; j < more + nq && n < cap; j++) {
			if (j % 2 == 0 || j / 2 >= nq) { /* an entry, often near a query */
				char id[32];
				snprintf(id, sizeof(id), "pre-%zu", n);
				add_near(s, "pre", id, sorted, q, nq, bases, e, &n);
				continue;
			}
			/* A lookup: a prefetched SimHash (mostly), another one, a later since. */
			uint64_t x[2];
			int64_t at = since;
			bool pre = rnd() % 4 != 0;
			if (pre)
				memcpy(x, q[(j / 2) % nq], sizeof(x));
			else
				mutate(bases[rnd() % ARRAY_SIZE(bases)], (unsigned)(rnd() % 40), x);
			if (rnd() % 8 == 0)
				at = since + 1 + (int64_t)(rnd() % 50);
			int maxd = (int)(rnd() % 40);
			int64_t want = (x[0] || x[1]) ? ref_find(e, n, x, at, maxd) : 0;
			/* Each scan in turn: the answers were prefetched with the automatic one,
			 * and are the same whichever scans. The first lookup with at != since drops
			 * them. */
			for (size_t k = 0; k < ARRAY_SIZE(impls); k++) {
				int r = store_scan_select(s, impls[k]);
				if (r == -ENOTSUP || r == -ENOENT)
					continue;
				int64_t story = 0;
				r = store_story_find(s, x, at, maxd, &story);
				if (r != (want != 0) || (r == 1 && story != want))
					fail_msg(
					    "%s, round %u, %zu entries, since %lld, max %d: %d "
					    "story %lld, want %lld",
					    impls[k], round, n, (long long)at, maxd, r,
					    (long long)story, (long long)want);
				tested++;
			}
			assert_int_equal(store_scan_select(s, NULL), 0);
			checked++;
			prefetched += pre && at == since;
			found += want != 0;
		}
		assert_int_equal(store_commit(s), 0);
	}
	assert_true(found > checked / 10 && found < checked);
	assert_true(prefetched > checked / 2);
	print_message("story prefetch (%s): %u lookups (%u prefetched) on windows up to %zu "
		      "entries, %u found; %u scans\n",
		      sorted ? "fetch times in order" : "fetch times out of order", checked,
		      prefetched, n, found, tested);
	free(e);
	store_close(s);
}

static void test_story_prefetch(void **state)
{
	story_prefetch_run(*state, false);
}

static void test_story_prefetch_sorted(void **state)
{
	story_prefetch_run(*state, true);
}

/* Entries of e[0, n) at distance d from x fetched at or after since: the first in *first, the
 * number of them returned. */
static size_t ref_count(const struct ref_entry *e, size_t n, const uint64_t x[2], int64_t since,
			int d, size_t *first)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++) {
		if (e[i].fetched < since || __builtin_popcountll(e[i].sim[0] ^ x[0]) +
						    __builtin_popcountll(e[i].sim[1] ^ x[1]) !=
						d)
			continue;
		if (!c++)
			*first = i;
	}
	return c;
}

/*
 * The group scans of store_story_prefetch (each entry compared with several SimHashes while in
 * registers), with each implementation this CPU runs, against the plain loop: 1 to 20 SimHashes
 * a call (groups of every size, and several groups), windows ending at every offset of a vector
 * and around block boundaries, ties within and across vectors and blocks (the first entry must
 * win), SimHashes at distance 0 (done before the last block), entries fetched before since
 * skipped (sorted) or masked one by one (fetch times out of order). max_distance is mostly 128:
 * the answer is then the first entry of smallest distance, whatever it is.
 */
static void story_groups_run(struct fx *fx, bool sorted)
{
	struct store *s = open_ok(fx->path, false);
	const char *impls[] = {"avx512", "avx2", "popcnt", "portable"};
	static const size_t stops[] = {1,    2,	   3,	 4,    5,    6,	   7,	 8,    9,   10,
				       11,   12,   13,	 15,   16,   17,   23,	 24,   25,  33,
				       100,  505,  510,	 511,  512,  513,  514,	 519,  520, 521,
				       1023, 1024, 1025, 1026, 1029, 1031, 1032, 1033, 1100};
	uint64_t bases[3][2];
	for (size_t b = 0; b < ARRAY_SIZE(bases); b++) {
		bases[b][0] = rnd();
		bases[b][1] = rnd();
	}
	size_t cap = stops[ARRAY_SIZE(stops) - 1], n = 0;
	struct ref_entry *e = xcalloc(cap, sizeof(*e));
	unsigned checked = 0, tested[ARRAY_SIZE(impls)] = {0}, ties_vector = 0, ties_block = 0,
		 zero = 0, masked = 0;
	for (size_t st = 0; st < ARRAY_SIZE(stops); st++) {
		assert_int_equal(store_begin(s), 0);
		for (; n < stops[st]; n++) {
			char id[32];
			snprintf(id, sizeof(id), "grp-%zu", n);
			struct titem t;
			int64_t fetched =
			    sorted ? 1000 + (int64_t)n / 4 : 1000 + (int64_t)(rnd() % 400);
			mkitem(&t, "grp", id, NULL, "T", id, fetched);
			if (n && (n % 8 == 0 || rnd() % 8 == 0)) /* the same as an entry before */
				memcpy(t.it.simhash, e[n % 8 ? rnd() % n : n - 1 - rnd() % 2].sim,
				       sizeof(t.it.simhash));
			else
				mutate(bases[rnd() % ARRAY_SIZE(bases)], (unsigned)(rnd() % 40),
				       t.it.simhash);
			if (!t.it.simhash[0] && !t.it.simhash[1])
				t.it.simhash[0] = 1;
			int64_t rowid = add(s, &t, 1);
			e[n] = (struct ref_entry){
			    .sim = {t.it.simhash[0], t.it.simhash[1]},
			    .fetched = t.it.fetched,
			    .story = rowid,
			};
		}
		assert_int_equal(store_commit(s), 0);
		for (unsigned rep = 0; rep < 3; rep++) {
			uint64_t q[20][2];
			size_t nq = 1 + (st * 3 + rep) % ARRAY_SIZE(q);
			for (size_t i = 0; i < nq; i++) {
				size_t at = rnd() % n;
				if (n > 512 && rnd() % 3 == 0) /* near a block boundary */
					at = 508 + rnd() % 8 + (n > 1024 && rnd() % 2 ? 512 : 0);
				if (rnd() % 4 == 0)
					memcpy(q[i], e[at].sim, sizeof(q[i]));
				else
					mutate(rnd() % 2 ? e[at].sim
							 : bases[rnd() % ARRAY_SIZE(bases)],
					       (unsigned)(rnd() % 30), q[i]);
				if (!q[i][0] && !q[i][1])
					q[i][1] = 1;
			}
			int64_t last = sorted ? 1000 + (int64_t)(n - 1) / 4 : 1399;
			int64_t since = rep == 0 ? 0 : 1000 + (int64_t)(rnd() % (last - 999 + 1));
			for (size_t k = 0; k < ARRAY_SIZE(impls); k++) {
				int r = store_scan_select(s, impls[k]);
				if (r == -ENOTSUP || r == -ENOENT)
					continue;
				assert_int_equal(r, 0);
				assert_int_equal(
				    store_story_prefetch(s, (const uint64_t(*)[2])q, nq, since), 0);
				for (size_t i = 0; i < nq; i++) {
					int maxd = i % 4 == 3 ? (int)(rnd() % 40) : 128;
					int64_t want = ref_find(e, n, q[i], since, maxd), story = 0;
					r = store_story_find(s, q[i], since, maxd, &story);
					if (r != (want != 0) || (r == 1 && story != want))
						fail_msg("%s, %zu entries, %zu SimHashes (#%zu), "
							 "since %lld, max %d: %d story %lld, "
							 "want %lld",
							 impls[k], n, nq, i, (long long)since, maxd,
							 r, (long long)story, (long long)want);
					tested[k]++;
				}
			}
			/* What the queries met: ties, distance 0, entries left out by since. */
			for (size_t i = 0; i < nq; i++) {
				int best = 129;
				for (size_t j = 0; j < n; j++) {
					int d = __builtin_popcountll(e[j].sim[0] ^ q[i][0]) +
						__builtin_popcountll(e[j].sim[1] ^ q[i][1]);
					if (e[j].fetched >= since && d < best)
						best = d;
				}
				size_t first = 0, c = ref_count(e, n, q[i], since, best, &first);
				if (c > 1 && (first + 1) % 8 == 0 && first + 1 < n &&
				    ref_count(e + first + 1, 1, q[i], since, best, &first))
					ties_vector++;
				if (c > 1 && first < 512 && n > 512 &&
				    ref_count(e + 512, n - 512, q[i], since, best, &first))
					ties_block++;
				zero += best == 0;
				masked += since > 1000 && e[0].fetched < since;
				checked++;
			}
		}
	}
	assert_true(ties_vector > 0 && ties_block > 0 && zero > 0 && masked > checked / 4);
	assert_int_equal(tested[ARRAY_SIZE(impls) - 1], checked);
	print_message("story group scans (%s): %u lookups on windows up to %zu entries (%u ties "
		      "across vectors, %u across blocks, %u at distance 0); checked avx512 %u, "
		      "avx2 %u, popcnt %u, portable %u\n",
		      sorted ? "fetch times in order" : "fetch times out of order", checked, n,
		      ties_vector, ties_block, zero, tested[0], tested[1], tested[2], tested[3]);
	free(e);
	store_close(s);
}

static void test_story_groups(void **state)
{
	story_groups_run(*state, false);
}

static void test_story_groups_sorted(void **state)
{
	story_groups_run(*state, true);
}

/* An entry for test_story_ahead_refused: sim at distance d from x (its low bits flipped). */
static int64_t ahead_add(struct store *s, const char *id, const uint64_t x[2], unsigned d,
			 int64_t fetched)
{
	struct titem t;
	mkitem(&t, "ahead", id, NULL, "T", id, fetched);
	t.it.simhash[0] = x[0] ^ ((1ull << d) - 1);
	t.it.simhash[1] = x[1];
	return add(s, &t, 1);
}

/*
 * store_story_adopt refuses answers that no longer hold, and store_story_find then answers as
 * the plain loop: a later since than the loop's, an entry found that the loop's since leaves
 * out, a rollback, a trim that moves entries, a reload. Those that hold are taken.
 */
static void test_story_ahead_refused(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	const uint64_t x[1][2] = {{0x0123456789abcdefull, 0x0fedcba987654321ull}};
	const uint64_t far[2] = {~x[0][0], ~x[0][1]};
	struct store_story_ahead ah = {0};
	int64_t story = 0;
	assert_int_equal(store_begin(s), 0);
	int64_t a = ahead_add(s, "a", x[0], 0, 100);
	int64_t b = ahead_add(s, "b", x[0], 1, 300);
	for (int i = 0; i < 3; i++)
		ahead_add(s, i == 0 ? "c0" : i == 1 ? "c1" : "c2", far, 0, 400);
	assert_int_equal(store_commit(s), 0);
	/* Nothing to scan before the window is loaded. */
	store_story_scan_ahead(s, x, 1, 0, &ah);
	assert_int_equal(ah.gen, 0);
	assert_int_equal(store_story_adopt(s, &ah, 0), 0);
	assert_int_equal(store_story_find(s, far, 0, 0, &story), 1);
	/* Taken: the same since, the same window. */
	store_story_scan_ahead(s, x, 1, 0, &ah);
	assert_int_equal(ah.upto, 5);
	assert_int_equal(store_story_adopt(s, &ah, 0), 1);
	assert_int_equal(store_story_find(s, x[0], 0, 128, &story), 1);
	assert_int_equal(story, a);
	/* Scanned with a later since than the loop's: refused. */
	store_story_scan_ahead(s, x, 1, 200, &ah);
	assert_int_equal(store_story_adopt(s, &ah, 100), 0);
	assert_int_equal(store_story_find(s, x[0], 100, 128, &story), 1);
	assert_int_equal(story, a);
	/* The entry found (a) is fetched before the loop's since: refused, the loop's is b. The
	 * window trims without moving entries (a is not half of it). */
	store_story_scan_ahead(s, x, 1, 0, &ah);
	assert_int_equal(store_story_adopt(s, &ah, 200), 0);
	assert_int_equal(store_story_find(s, x[0], 200, 128, &story), 1);
	assert_int_equal(story, b);
	/* Taken with an earlier since when the entry found is within the loop's. */
	store_story_scan_ahead(s, x, 1, 150, &ah);
	assert_int_equal(store_story_adopt(s, &ah, 200), 1);
	assert_int_equal(store_story_find(s, x[0], 200, 128, &story), 1);
	assert_int_equal(story, b);
	/* Entries of a transaction rolled back after the scan: refused. */
	assert_int_equal(store_begin(s), 0);
	ahead_add(s, "d", x[0], 0, 400);
	store_story_scan_ahead(s, x, 1, 200, &ah);
	assert_int_equal(ah.upto, 6);
	assert_int_equal(store_rollback(s), 0);
	assert_int_equal(store_story_adopt(s, &ah, 200), 0);
	assert_int_equal(store_story_find(s, x[0], 200, 128, &story), 1);
	assert_int_equal(story, b);
	/* A trim that moves entries (a and b go, c0 takes index 0): refused. */
	assert_int_equal(store_begin(s), 0);
	int64_t e = ahead_add(s, "e", x[0], 2, 500);
	ahead_add(s, "f", far, 0, 500);
	assert_int_equal(store_commit(s), 0);
	store_story_scan_ahead(s, x, 1, 200, &ah);
	assert_int_equal(store_story_adopt(s, &ah, 401), 0);
	assert_int_equal(store_story_find(s, x[0], 401, 128, &story), 1);
	assert_int_equal(story, e);
	/* A reload (an earlier since than the window's): refused. */
	store_story_scan_ahead(s, x, 1, 401, &ah);
	assert_int_equal(store_story_find(s, far, 0, 0, &story), 1);
	assert_int_equal(store_story_adopt(s, &ah, 401), 0);
	assert_int_equal(store_story_find(s, x[0], 401, 128, &story), 1);
	assert_int_equal(story, e);
	store_story_ahead_clear(&ah);
	store_close(s);
}

/* The worker's side of story_ahead_run: scans the window of s once for each request the loop's
 * side posts, as soon as it sees it, and keeps the answers. */
struct ahead_reader {
	struct store *s;
	pthread_mutex_t mu;
	unsigned req; /* posted, 0 for none yet */
	uint64_t q[12][2];
	size_t nq;
	int64_t since;
	bool stop;
	unsigned answered; /* the request whose answers ans holds */
	struct store_story_ahead ans;
	unsigned scans;
};

static void *ahead_reader_run(void *arg)
{
	struct ahead_reader *rd = arg;
	struct store_story_ahead a = {0};
	uint64_t q[12][2];
	for (;;) {
		pthread_mutex_lock(&rd->mu);
		bool stop = rd->stop;
		unsigned req = rd->req, answered = rd->answered;
		size_t nq = rd->nq;
		int64_t since = rd->since;
		memcpy(q, rd->q, sizeof(q));
		pthread_mutex_unlock(&rd->mu);
		if (stop)
			break;
		if (!req || answered == req) {
			sched_yield();
			continue;
		}
		store_story_scan_ahead(rd->s, (const uint64_t(*)[2])q, nq, since, &a);
		pthread_mutex_lock(&rd->mu);
		if (rd->req == req) {
			struct store_story_ahead t = rd->ans;
			rd->ans = a;
			a = t;
			rd->answered = req;
		}
		rd->scans++;
		pthread_mutex_unlock(&rd->mu);
	}
	store_story_ahead_clear(&a);
	return NULL;
}

static void ahead_post(struct ahead_reader *rd, unsigned req, const uint64_t (*q)[2], size_t nq,
		       int64_t since)
{
	pthread_mutex_lock(&rd->mu);
	rd->req = req;
	memcpy(rd->q, q, nq * sizeof(*q));
	rd->nq = nq;
	rd->since = since;
	pthread_mutex_unlock(&rd->mu);
}

/* Waits for the answers to request req, and swaps them into *a. */
static void ahead_wait(struct ahead_reader *rd, unsigned req, struct store_story_ahead *a)
{
	for (bool got = false; !got;) {
		pthread_mutex_lock(&rd->mu);
		got = rd->answered == req;
		if (got) {
			struct store_story_ahead t = rd->ans;
			rd->ans = *a;
			*a = t;
		}
		pthread_mutex_unlock(&rd->mu);
		if (!got)
			sched_yield();
	}
}

/*
 * Answers scanned on another thread while this one appends to the window (growing it), trims
 * it, rolls back and reloads it, then taken by store_story_adopt when they hold: every lookup
 * answers as the plain loop. The request goes out before, during or after the appends; in some
 * rounds its answers come back before a rollback or a reload (refused). The worker's since is
 * mostly a little earlier than the loop's (its clock read first), now and then later (refused).
 * sorted as in story_prefetch_run.
 */
static void story_ahead_run(struct fx *fx, bool sorted)
{
	struct store *s = open_ok(fx->path, false);
	struct ahead_reader rd = {.s = s};
	pthread_mutex_init(&rd.mu, NULL);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, ahead_reader_run, &rd), 0);
	uint64_t bases[3][2];
	for (size_t b = 0; b < ARRAY_SIZE(bases); b++) {
		bases[b][0] = rnd();
		bases[b][1] = rnd();
	}
	size_t cap = 3000, n = 0;
	struct ref_entry *e = xcalloc(cap, sizeof(*e));
	struct store_story_ahead mine = {0};
	unsigned checked = 0, found = 0, taken = 0, refused = 0;
	for (unsigned round = 0; n < cap; round++) {
		uint64_t q[ROUND_QUERIES][2];
		size_t nq;
		int64_t since = round_queries(sorted, round, e, n, bases, q, &nq);
		int64_t wsince = round % 7 == 2 ? since + 1 + (int64_t)(rnd() % 20)
						: since - (int64_t)(rnd() % 30);
		unsigned mode = round % 5, req = round + 1;
		bool posted = false;
		if (mode == 0) {
			ahead_post(&rd, req, (const uint64_t(*)[2])q, nq, wsince);
			posted = true;
		}
		/* Meanwhile: a lookup (the window loaded again, or trimmed, while the other
		 * thread may be scanning it), entries appended (the window grows). */
		int64_t story = 0;
		assert_true(store_story_find(s, q[0], since, 0, &story) >= 0);
		assert_int_equal(store_begin(s), 0);
		size_t committed = n;
		size_t more = round < 30 ? 1 + rnd() % 4 : 1 + rnd() % 80;
		for (size_t j = 0; j < more && n < cap; j++) {
			if (j == more / 2 && !posted && mode != 4) {
				ahead_post(&rd, req, (const uint64_t(*)[2])q, nq, wsince);
				posted = true;
				if (mode == 2 || mode == 3) /* scanned before what follows */
					ahead_wait(&rd, req, &mine);
				if (mode == 2) {
					assert_int_equal(store_rollback(s), 0);
					n = committed;
					assert_int_equal(store_begin(s), 0);
				} else if (mode == 3) { /* an earlier since: loaded again */
					assert_true(
					    store_story_find(s, q[0], since - 500, 0, &story) >= 0);
				}
			}
			char id[32];
			snprintf(id, sizeof(id), "ahead-%u-%zu", round, j);
			add_near(s, "ahead", id, sorted, q, nq, bases, e, &n);
		}
		bool stale = posted && (mode == 2 || mode == 3);
		if (!posted)
			ahead_post(&rd, req, (const uint64_t(*)[2])q, nq, wsince);
		if (!stale)
			ahead_wait(&rd, req, &mine);
		int r = store_story_adopt(s, &mine, since);
		assert_true(r >= 0);
		if (wsince > since || stale)
			assert_int_equal(r, 0);
		taken += r == 1;
		refused += r == 0;
		for (size_t i = 0; i < nq; i++) {
			int maxd = i % 3 == 0 ? 128 : (int)(rnd() % 40);
			int64_t want = ref_find(e, n, q[i], since, maxd);
			story = 0;
			r = store_story_find(s, q[i], since, maxd, &story);
			if (r != (want != 0) || (r == 1 && story != want))
				fail_msg(
				    "round %u, %zu entries, since %lld (worker's %lld), max %d: "
				    "%d story %lld, want %lld",
				    round, n, (long long)since, (long long)wsince, maxd, r,
				    (long long)story, (long long)want);
			checked++;
			found += want != 0;
		}
		assert_int_equal(store_commit(s), 0);
	}
	pthread_mutex_lock(&rd.mu);
	rd.stop = true;
	pthread_mutex_unlock(&rd.mu);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(found > checked / 10 && found < checked);
	assert_true(taken > 0 && refused > 0);
	print_message("story ahead (%s): %u lookups, %u found; answers taken %u, refused %u; %u "
		      "scans\n",
		      sorted ? "fetch times in order" : "fetch times out of order", checked, found,
		      taken, refused, rd.scans);
	store_story_ahead_clear(&mine);
	store_story_ahead_clear(&rd.ans);
	pthread_mutex_destroy(&rd.mu);
	free(e);
	store_close(s);
}

static void test_story_ahead(void **state)
{
	story_ahead_run(*state, false);
}

static void test_story_ahead_sorted(void **state)
{
	story_ahead_run(*state, true);
}

struct one_row {
	int64_t published;
	char author[16], feed[16];
};

static int one_row_cb(const struct store_row *r, void *arg)
{
	struct one_row *o = arg;
	o->published = r->published;
	snprintf(o->author, sizeof(o->author), "%s", r->author ? r->author : "-");
	snprintf(o->feed, sizeof(o->feed), "%s", r->feed);
	assert_int_equal(strlen(r->hash), 64);
	return 0;
}

static void test_item_fields(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	struct titem a;
	mkitem(&a, "f1", "1", "https://e.fr/1", "A", "x", 100);
	add(s, &a, 1);
	struct one_row o;
	struct store_query q = {.limit = 1};
	assert_int_equal(store_items_each(s, &q, one_row_cb, &o), 0);
	assert_true(o.published == FEED_NO_DATE);
	assert_string_equal(o.author, "-");
	assert_string_equal(o.feed, "f1");
	mkitem(&a, "f1", "2", "https://e.fr/2", "B", "y", 200);
	a.it.published = -86400; /* before 1970 is a date, not "none" */
	a.it.author = "Anne";
	add(s, &a, 1);
	assert_int_equal(store_items_each(s, &q, one_row_cb, &o), 0);
	assert_int_equal(o.published, -86400);
	assert_string_equal(o.author, "Anne");
	store_close(s);
}

static void test_readonly(void **state)
{
	struct fx *fx = *state;
	char *err = NULL;
	/* A missing file is an error that names it, and is not created. */
	assert_null(store_open(fx->path, true, &err));
	assert_non_null(strstr(err, fx->path));
	assert_non_null(strstr(err, "No such file"));
	free(err);
	struct stat sb;
	assert_int_equal(stat(fx->path, &sb), -1);

	/* No schema: refused, and not migrated. */
	exec_outside(fx->path, "PRAGMA user_version = 0; CREATE TABLE x (a);");
	err = NULL;
	assert_null(store_open(fx->path, true, &err));
	assert_non_null(strstr(err, "not a veille database"));
	free(err);
	char *v = pragma(fx->path, "user_version");
	assert_string_equal(v, "0");
	free(v);

	struct store *w = open_ok(fx->path, false);
	struct titem a, b;
	mkitem(&a, "f1", "1", "https://e.fr/1", "A", "x", 100);
	mkitem(&b, "f1", "2", "https://e.fr/2", "B", "y", 100);
	add(w, &a, 1);
	store_close(w);

	struct store *s = open_ok(fx->path, true);
	assert_int_equal(store_item_seen(s, "f1", "1"), 1);
	int64_t id;
	assert_int_equal(store_item_add(s, &b.it, &id), -EROFS);
	assert_true(strlen(store_errmsg(s)) > 0);
	assert_int_equal(store_meta_set(s, "k", "v"), -EROFS);
	struct store_feed f = {.name = "f1"};
	assert_int_equal(store_feed_save(s, &f), -EROFS);
	struct store_stats st;
	stats(s, &st);
	assert_int_equal(st.items, 1);
	store_close(s);
}

/* A database file the process may not write (mode 0444). Root writes anyway, so this case only
 * runs unprivileged; test_readonly covers SQLITE_OPEN_READONLY. */
static void test_readonly_file(void **state)
{
	struct fx *fx = *state;
	if (geteuid() == 0)
		skip();
	struct store *w = open_ok(fx->path, false);
	struct titem a, b;
	mkitem(&a, "f1", "1", "https://e.fr/1", "A", "x", 100);
	mkitem(&b, "f1", "2", "https://e.fr/2", "B", "y", 100);
	add(w, &a, 1);
	store_close(w);
	assert_int_equal(chmod(fx->path, 0444), 0);
	struct store *s = open_ok(fx->path, false);
	assert_int_equal(store_item_seen(s, "f1", "1"), 1);
	int64_t id;
	assert_int_equal(store_item_add(s, &b.it, &id), -EROFS);
	/* Inside a transaction as the daemon does it (BEGIN itself writes nothing). */
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_item_add(s, &b.it, &id), -EROFS);
	assert_int_equal(store_rollback(s), 0);
	assert_int_equal(store_item_seen(s, "f1", "2"), 0);
	store_close(s);

	/* In a read-only directory too: SQLite needs the WAL index (-shm) even to read, so either
	 * the one left behind lets it open and writes fail, or the open fails and says why. */
	assert_int_equal(chmod(fx->dir, 0555), 0);
	char *err = NULL;
	s = store_open(fx->path, false, &err);
	if (s) {
		assert_int_equal(store_item_add(s, &b.it, &id), -EROFS);
		assert_int_equal(store_item_seen(s, "f1", "1"), 1);
		store_close(s);
	} else {
		assert_non_null(strstr(err, "readonly"));
		free(err);
	}
	chmod(fx->dir, 0700);
	chmod(fx->path, 0600);
}

static void test_full(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	struct titem a;
	mkitem(&a, "f1", "first", "https://e.fr/first", "Premier", "Avant le plein", 100);
	add(s, &a, 1);
	assert_int_equal(store_limit_size(s, 256 << 10), 0);
	char big[4096];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	int r = 0, i;
	assert_int_equal(store_begin(s), 0);
	for (i = 0; i < 1000 && r >= 0; i++) {
		char id[32], title[32];
		snprintf(id, sizeof(id), "n%d", i);
		snprintf(title, sizeof(title), "Article %d", i);
		mkitem(&a, "f1", id, NULL, title, big, 200);
		int64_t rid;
		r = store_item_add(s, &a.it, &rid);
	}
	if (r != -ENOSPC)
		fail_msg("after %d items: %d %s", i, r, store_errmsg(s));
	assert_true(i > 1);
	assert_non_null(strstr(store_errmsg(s), "full"));
	/* The failed item may be half stored: the transaction cannot be committed. */
	assert_int_equal(store_commit(s), -EIO);
	assert_non_null(strstr(store_errmsg(s), "rolled back"));
	assert_int_equal(store_rollback(s), 0);
	struct store_stats st;
	stats(s, &st);
	assert_int_equal(st.items, 1);
	assert_int_equal(store_item_seen(s, "f1", "first"), 1);
	/* Room again: writing works. */
	assert_int_equal(store_limit_size(s, 0), 0);
	mkitem(&a, "f1", "after", NULL, "Après", "Place", 300);
	add(s, &a, 1);
	assert_int_equal(store_begin(s), 0);
	mkitem(&a, "f1", "after2", NULL, "Après encore", "Place", 300);
	add(s, &a, 1);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_item_seen(s, "f1", "after2"), 1);
	store_close(s);
}

/* A statement that fails with SQLITE_FULL and no statement journal of its own (a feed's state,
 * saved while documents wait in the open transaction for their commit) makes SQLite end the whole
 * transaction. The store's transaction is then lost: the changes after it are refused instead of
 * committed one by one, the pending document frequencies are not written on their own, and the
 * commit is refused until the rollback. */
static void test_full_lost_transaction(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	struct titem a;
	mkitem(&a, "f1", "first", "https://e.fr/first", "Premier", "Avant le plein", 100);
	int64_t first = add(s, &a, 1);
	struct store_feed f = {.name = xstrdup("f2"), .url = xstrdup("https://e.fr/rss")};
	assert_int_equal(store_feed_save(s, &f), 0);

	assert_int_equal(store_begin(s), 0);
	mkitem(&a, "f1", "kept", NULL, "Dans la transaction", "Un texte", 200);
	add(s, &a, 1);
	assert_int_equal(store_df_add(s, "frontier", 1), 0);
	assert_int_equal(store_limit_size(s, 1), 0);
	char big[64 << 10];
	memset(big, 'e', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	free(f.etag);
	f.etag = xstrdup(big);
	assert_int_equal(store_feed_save(s, &f), -ENOSPC);
	assert_non_null(strstr(store_errmsg(s), "undone"));
	assert_true(store_in_transaction(s));
	assert_int_equal(store_limit_size(s, 0), 0);

	/* Nothing more runs in it, not even in autocommit. */
	mkitem(&a, "f1", "after", NULL, "Après la perte", "Un autre texte", 300);
	int64_t id = 0;
	assert_int_equal(store_item_add(s, &a.it, &id), -EIO);
	assert_int_equal(store_verdict_add(s, first, "t", 0.9, true, NULL), -EIO);
	uint64_t docs;
	assert_int_equal(store_df_get(s, "frontier", &docs), -EIO);
	assert_int_equal(store_feed_save(s, &f), -EIO);
	assert_int_equal(store_commit(s), -EIO);
	assert_true(store_in_transaction(s));
	assert_int_equal(store_rollback(s), 0);
	assert_false(store_in_transaction(s));

	assert_int_equal(count_outside(fx->path, "SELECT count(*) FROM items"), 1);
	assert_int_equal(count_outside(fx->path, "SELECT count(*) FROM verdicts"), 0);
	assert_int_equal(count_outside(fx->path, "SELECT count(*) FROM term_df"), 0);
	assert_int_equal(
	    count_outside(fx->path, "SELECT count(*) FROM feeds WHERE etag IS NOT NULL"), 0);
	/* The next transaction works. */
	assert_int_equal(store_begin(s), 0);
	add(s, &a, 1);
	assert_int_equal(store_feed_save(s, &f), 0);
	assert_int_equal(store_commit(s), 0);
	assert_false(store_in_transaction(s));
	assert_int_equal(store_item_seen(s, "f1", "after"), 1);
	assert_int_equal(store_item_seen(s, "f1", "kept"), 0);
	store_feed_clear(&f);
	store_close(s);
}

/* A second writer waits for the busy timeout (5 s), then gets -EBUSY; the first is unharmed. */
static void test_busy(void **state)
{
	struct fx *fx = *state;
	struct store *a = open_ok(fx->path, false);
	struct store *b = open_ok(fx->path, false);
	assert_int_equal(store_begin(a), 0);
	assert_int_equal(store_meta_set(a, "k", "a"), 0);
	uint64_t t0 = now_mono_ms();
	assert_int_equal(store_begin(b), -EBUSY);
	assert_true(now_mono_ms() - t0 >= 4000);
	assert_non_null(strstr(store_errmsg(b), "locked"));
	/* Readers are not blocked by the writer (WAL). */
	char *v = NULL;
	assert_int_equal(store_meta_get(b, "k", &v), -ENOENT);
	assert_int_equal(store_commit(a), 0);
	assert_int_equal(store_meta_get(b, "k", &v), 0);
	assert_string_equal(v, "a");
	free(v);
	store_close(b);
	store_close(a);
}

static void test_meta(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	char *v = NULL;
	assert_int_equal(store_meta_get(s, "export.watermark", &v), -ENOENT);
	assert_null(v);
	assert_int_equal(store_meta_set(s, "export.watermark", "1700000000"), 0);
	assert_int_equal(store_meta_set(s, "export.watermark", "1700000600"), 0);
	store_close(s);
	s = open_ok(fx->path, false);
	assert_int_equal(store_meta_get(s, "export.watermark", &v), 0);
	assert_string_equal(v, "1700000600");
	free(v);
	store_close(s);
}

struct df_seen {
	uint64_t sum;
	size_t rows;
	size_t stop_at; /* returns 7 at that row, 0: never */
};

static int df_each_cb(const char *term, uint64_t docs, void *arg)
{
	struct df_seen *x = arg;
	assert_non_null(term);
	x->sum += docs;
	x->rows++;
	return x->rows == x->stop_at ? 7 : 0;
}

static void test_df(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	uint64_t n = 99;
	assert_int_equal(store_df_docs(s, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_df_get(s, "frontier", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_df_add(s, "frontier", 3), 0);
	assert_int_equal(store_df_add(s, "gard frontier", 1), 0);
	assert_int_equal(store_df_docs_add(s, 5), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_df_add(s, "frontier", 1), 0);
	assert_int_equal(store_df_docs_add(s, 3), 0);
	assert_int_equal(store_df_add(s, "frontier", 1), 0);
	/* A read inside the transaction sees what it added so far. */
	assert_int_equal(store_df_get(s, "frontier", &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(store_df_docs(s, &n), 0);
	assert_int_equal(n, 8);
	assert_int_equal(store_df_docs_add(s, 1), 0);
	assert_int_equal(store_commit(s), 0);
	/* Outside a transaction, written at once. */
	assert_int_equal(store_df_add(s, "gard", 2), 0);
	assert_int_equal(store_df_get(s, "gard", &n), 0);
	assert_int_equal(n, 2);
	/* Many keys in one transaction, each added twice. */
	assert_int_equal(store_begin(s), 0);
	for (int i = 0; i < 1000; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i % 500);
		assert_int_equal(store_df_add(s, key, 1), 0);
	}
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_df_get(s, "k0", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_df_get(s, "k499", &n), 0);
	assert_int_equal(n, 2);
	/* Every row once: frontier 5, gard frontier 1, gard 2, k0..k499 2 each; inside a
	 * transaction, with what it added so far. */
	struct df_seen seen = {0};
	assert_int_equal(store_df_each(s, df_each_cb, &seen), 0);
	assert_int_equal(seen.rows, 503);
	assert_int_equal(seen.sum, 1008);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_df_add(s, "neuf", 4), 0);
	seen = (struct df_seen){0};
	assert_int_equal(store_df_each(s, df_each_cb, &seen), 0);
	assert_int_equal(seen.rows, 504);
	assert_int_equal(seen.sum, 1012);
	seen = (struct df_seen){.stop_at = 3};
	assert_int_equal(store_df_each(s, df_each_cb, &seen), 7);
	assert_int_equal(seen.rows, 3);
	assert_int_equal(store_rollback(s), 0);
	/* Counts added in a transaction rolled back are gone with it. */
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_df_add(s, "frontier", 100), 0);
	assert_int_equal(store_df_docs_add(s, 100), 0);
	assert_int_equal(store_rollback(s), 0);
	assert_int_equal(store_df_add(s, "", 1), -EINVAL);
	store_close(s);
	/* Kept in the file; a read-only open (veillectl) reads them. */
	s = open_ok(fx->path, true);
	assert_int_equal(store_df_docs(s, &n), 0);
	assert_int_equal(n, 9);
	assert_int_equal(store_df_get(s, "frontier", &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(store_df_get(s, "gard frontier", &n), 0);
	assert_int_equal(n, 1);
	store_close(s);
}

static void test_prune(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	const int64_t day = 86400, now = 1800000000;
	struct titem it[6];
	int64_t id[6];
	/* 0: old, irrelevant verdict, seen in two feeds; 1: old, no verdict; 2: old, relevant,
	 * alert queued; 3: new, irrelevant; 4: old relevant for one topic out of two;
	 * 5: the newest row, old and irrelevant (row ids must never go back: it stays). */
	mkitem(&it[0], "a", "g0", "https://x.fr/0", "Marmotte alpine", "hiberne", now - 100 * day);
	mkitem(&it[1], "a", "g1", "https://x.fr/1", "Pelote de laine", "tricot", now - 100 * day);
	mkitem(&it[2], "a", "g2", "https://x.fr/2", "Frontière biélorusse", "chars",
	       now - 100 * day);
	mkitem(&it[3], "a", "g3", "https://x.fr/3", "Girafe du zoo", "cou", now - 1 * day);
	mkitem(&it[4], "b", "g4", "https://x.fr/4", "Manœuvres à Brest", "troupes",
	       now - 200 * day);
	mkitem(&it[5], "b", "g5", "https://x.fr/5", "Courgette géante", "potager", now - 100 * day);
	assert_int_equal(store_begin(s), 0);
	for (int i = 0; i < 6; i++)
		id[i] = add(s, &it[i], 1);
	struct titem again = it[0];
	again.it.feed = "b";
	again.it.identity = "other-g0";
	assert_int_equal(store_item_add(s, &again.it, &id[0]), 0);
	assert_int_equal(store_verdict_add(s, id[0], "t", 0.1, false, "[]"), 0);
	assert_int_equal(store_verdict_add(s, id[2], "t", 0.9, true, "[]"), 0);
	assert_int_equal(store_alert_queue(s, id[2], "t"), 1);
	assert_int_equal(store_verdict_add(s, id[3], "t", 0.1, false, "[]"), 0);
	assert_int_equal(store_verdict_add(s, id[4], "t", 0.2, false, "[]"), 0);
	assert_int_equal(store_verdict_add(s, id[4], "u", 0.8, true, "[]"), 0);
	assert_int_equal(store_verdict_add(s, id[5], "t", 0.1, false, "[]"), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(search_count(s, "marmotte"), 1);
	assert_int_equal(search_count(s, "tricot"), 1);

	/* Irrelevant items older than 30 days go, in batches of one to exercise the loop. */
	int64_t n = -1, total = 0;
	do {
		assert_int_equal(store_prune(s, now - 30 * day, 0, 1, &n), 0);
		total += n;
	} while (n == 1);
	assert_int_equal(total, 2);
	struct store_stats st;
	stats(s, &st);
	assert_int_equal(st.items, 4);
	/* Gone from the full-text index too, and their sources and verdicts with them. */
	assert_int_equal(search_count(s, "marmotte"), 0);
	assert_int_equal(search_count(s, "tricot"), 0);
	assert_int_equal(search_count(s, "frontiere"), 1);
	assert_int_equal(search_count(s, "potager"), 1);
	char *q = xasprintf("SELECT count(*) FROM sources WHERE item_id IN (%lld, %lld)",
			    (long long)id[0], (long long)id[1]);
	assert_int_equal(count_outside(fx->path, q), 0);
	free(q);
	q = xasprintf("SELECT count(*) FROM verdicts WHERE item_id = %lld", (long long)id[0]);
	assert_int_equal(count_outside(fx->path, q), 0);
	free(q);
	assert_int_equal(count_outside(fx->path, "SELECT count(*) FROM items_fts WHERE items_fts "
						 "MATCH 'hiberne OR tricot'"),
			 0);
	int64_t last = 0;
	assert_int_equal(store_last_item_id(s, &last), 0);
	assert_int_equal(last, id[5]);

	/* Relevant items are kept until a relevant limit is set; then their alerts go too. */
	assert_int_equal(store_prune(s, now - 30 * day, now - 150 * day, 100, &n), 0);
	assert_int_equal(n, 1); /* item 4 */
	assert_int_equal(store_prune(s, now - 30 * day, now - 50 * day, 100, &n), 0);
	assert_int_equal(n, 1); /* item 2 */
	stats(s, &st);
	assert_int_equal(st.items, 2);
	assert_int_equal(st.alerts_pending, 0);
	assert_int_equal(st.relevant, 0);
	assert_int_equal(count_outside(fx->path, "SELECT count(*) FROM verdicts"), 2);
	assert_int_equal(store_prune(s, 0, 0, 100, &n), 0); /* forever and forever */
	assert_int_equal(n, 0);
	assert_int_equal(store_optimize(s), 0);
	store_close(s);
	/* A read-only store refuses to prune. */
	s = open_ok(fx->path, true);
	assert_true(store_prune(s, now, 0, 10, &n) < 0);
	store_close(s);
}

/* Adds item number i of feed "a" (its own guid, link and title), fetched at fetched. */
static int64_t add_numbered(struct store *s, int i, int64_t fetched)
{
	char guid[16], link[32], title[32];
	snprintf(guid, sizeof(guid), "g%d", i);
	snprintf(link, sizeof(link), "https://x.fr/%d", i);
	snprintf(title, sizeof(title), "Titre numéro %d", i);
	struct titem t;
	mkitem(&t, "a", guid, link, title, "texte", fetched);
	return add(s, &t, 1);
}

/* Retention reads items_fetched up to the cutoff, oldest fetched first: with thousands of
 * recent items and none to delete, it reads none of them (it used to read every row of items,
 * by id). */
static void test_prune_reads_old_only(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	enum { N = 3000, OLD = 3 };
	const int64_t day = 86400, now = 1800000000;
	int64_t id[N];
	assert_int_equal(store_begin(s), 0);
	/* The first OLD items were fetched long ago, the later ones of them earlier. */
	for (int i = 0; i < N; i++)
		id[i] = add_numbered(s, i, i < OLD ? now - (100 + i) * day : now - (N - i));
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_optimize(s), 0);

	/* Oldest fetched first: the third item, then the second. */
	int64_t n = -1;
	assert_int_equal(store_prune(s, now - 30 * day, 0, 1, &n), 0);
	assert_int_equal(n, 1);
	char *q = xasprintf("SELECT count(*) FROM items WHERE id = %lld", (long long)id[OLD - 1]);
	assert_int_equal(count_outside(fx->path, q), 0);
	free(q);
	assert_int_equal(store_prune(s, now - 30 * day, 0, 100, &n), 0);
	assert_int_equal(n, OLD - 1);

	/* Nothing left to delete: a few steps, not a few per item. */
	uint64_t before = store_vm_steps(s);
	assert_int_equal(store_prune(s, now - 30 * day, now - 60 * day, 100, &n), 0);
	assert_int_equal(n, 0);
	uint64_t steps = store_vm_steps(s) - before;
	assert_true(steps > 0);
	assert_true(steps < 200);
	/* Irrelevant items kept forever, relevant ones up to now: none of these goes. */
	assert_int_equal(store_prune(s, 0, now + 1, 100, &n), 0);
	assert_int_equal(n, 0);
	struct store_stats st;
	stats(s, &st);
	assert_int_equal(st.items, N - OLD);
	store_close(s);
}

/* With relevant items kept forever, a pass reads the fetch-time index from retention's floor:
 * the thousands of old relevant items below it are not read again at every batch. The floor is
 * forgotten when one of them loses its relevance (that item then goes), and not trusted when an
 * item stored since was fetched before it (a clock set back: that item goes too). */
static void test_prune_floor(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	enum { N = 3000 };
	const int64_t day = 86400, now = 1800000000;
	int64_t id[N];
	assert_int_equal(store_begin(s), 0);
	/* Items 0 to N-2 fetched 100 days ago or earlier, every third irrelevant, the rest
	 * relevant; the last one new. */
	for (int i = 0; i < N; i++) {
		id[i] = add_numbered(s, i, i < N - 1 ? now - (100 * day + i) : now);
		assert_int_equal(store_verdict_add(s, id[i], "t", 0.5, i % 3 != 0, "[]"), 0);
	}
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_optimize(s), 0);
	int64_t n, total = 0;
	do {
		assert_int_equal(store_prune(s, now - 30 * day, 0, 500, &n), 0);
		total += n;
	} while (n == 500);
	assert_int_equal(total, (N - 1 + 2) / 3); /* 0, 3, ..., N-3 */
	assert_int_equal(count_outside(fx->path, "SELECT count(*) FROM meta WHERE key = "
						 "'retention.floor'"),
			 1);

	/* The next pass: a few steps, although 2,000 relevant items lie below the cutoff. */
	uint64_t before = store_vm_steps(s);
	assert_int_equal(store_prune(s, now - 29 * day, 0, 500, &n), 0);
	assert_int_equal(n, 0);
	uint64_t steps = store_vm_steps(s) - before;
	assert_true(steps > 0);
	assert_true(steps < 300);

	/* One of them rescored irrelevant: the floor goes, the next pass deletes it. */
	assert_int_equal(store_verdict_add(s, id[1], "t", 0.1, false, "[]"), 0);
	assert_int_equal(count_outside(fx->path, "SELECT count(*) FROM meta WHERE key = "
						 "'retention.floor'"),
			 0);
	assert_int_equal(store_prune(s, now - 29 * day, 0, 500, &n), 0);
	assert_int_equal(n, 1);
	char *q = xasprintf("SELECT count(*) FROM items WHERE id = %lld", (long long)id[1]);
	assert_int_equal(count_outside(fx->path, q), 0);
	free(q);
	/* The floor is back after that pass. */
	before = store_vm_steps(s);
	assert_int_equal(store_prune(s, now - 29 * day, 0, 500, &n), 0);
	assert_int_equal(n, 0);
	assert_true(store_vm_steps(s) - before < 300);

	/* An irrelevant item stored now but fetched 200 days ago (the clock was set back), and a
	 * newer one so that it is not the newest: it goes. */
	assert_int_equal(store_begin(s), 0);
	int64_t back = add_numbered(s, N, now - 200 * day);
	assert_int_equal(store_verdict_add(s, back, "t", 0.1, false, "[]"), 0);
	add_numbered(s, N + 1, now);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_prune(s, now - 29 * day, 0, 500, &n), 0);
	assert_int_equal(n, 1);
	q = xasprintf("SELECT count(*) FROM items WHERE id = %lld", (long long)back);
	assert_int_equal(count_outside(fx->path, q), 0);
	free(q);

	/* An item's fetch time moved back by hand: the floor goes too. */
	assert_int_equal(store_prune(s, now - 29 * day, 0, 500, &n), 0);
	exec_outside(fx->path, "UPDATE items SET fetched = fetched - 1 WHERE id = (SELECT max(id) "
			       "FROM items)");
	assert_int_equal(count_outside(fx->path, "SELECT count(*) FROM meta WHERE key = "
						 "'retention.floor'"),
			 0);
	struct store_stats st;
	stats(s, &st);
	assert_int_equal(st.items, N - (N - 1 + 2) / 3 - 1 + 1);
	store_close(s);
}

/* store_optimize analyses a bounded sample of each index: 3,000 items fetched in the same second
 * (a cycle's) are estimated, not counted, as sharing their fetched time. */
static void test_optimize_bounded(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	enum { N = 3000 };
	assert_int_equal(store_begin(s), 0);
	for (int i = 0; i < N; i++)
		add_numbered(s, i, 1800000000);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_optimize(s), 0);
	store_close(s);
	char *stat = text_outside(fx->path, "SELECT stat FROM sqlite_stat1 WHERE tbl = 'items' AND "
					    "idx = 'items_fetched'");
	long rows = 0, per_key = 0;
	assert_int_equal(sscanf(stat, "%ld %ld", &rows, &per_key), 2);
	free(stat);
	/* All N rows share one key: a full analysis says N per key, a bounded one far fewer. */
	assert_true(rows > 0);
	assert_true(per_key > 0 && per_key < N / 2);
}

/* The temporary files of SQLite this process holds open, as a set of descriptors (up to 1024),
 * read from /proc/self/fd: "etilqs_" names every one (statement journals, temporary tables,
 * sorts). With SQLITE_CONFIG_STMTJRNL_SPILL at 0 (main) a statement journal is one of them: SQLite
 * opens it, deleted at once, the first time a statement of a transaction needs one, and keeps it
 * open until the transaction ends. */
static void stmt_journals(bool open[1024])
{
	glob_t g;
	memset(open, 0, 1024 * sizeof(*open));
	assert_int_equal(glob("/proc/self/fd/*", 0, NULL, &g), 0);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		char target[512];
		int fd = atoi(g.gl_pathv[i] + strlen("/proc/self/fd/"));
		ssize_t n = readlink(g.gl_pathv[i], target, sizeof(target) - 1);
		if (n > 0 && fd >= 0 && fd < 1024) {
			target[n] = '\0';
			open[fd] = strstr(target, "etilqs_") != NULL;
		}
	}
	globfree(&g);
}

/* Whether a statement journal is open that was not in before (another test's, left open when it
 * failed). */
static bool stmt_journal_opened(const bool before[1024])
{
	bool now[1024];
	stmt_journals(now);
	for (int fd = 0; fd < 1024; fd++)
		if (now[fd] && !before[fd])
			return true;
	return false;
}

/* A verdict's insertion writes one row, with no statement journal (schema_v13_verdict_change);
 * the changes table still gets a row for each item found relevant, at its insertion or later,
 * and none for a verdict that stays as relevant as it was. */
static void test_verdict_changes(void **state)
{
	struct fx *fx = *state;
	struct store *s = open_ok(fx->path, false);
	struct titem t[3];
	int64_t id[3];
	const char *changes = "SELECT count(*) FROM changes";
	/* The migrations that made the file may leave one open on their connection. */
	store_close(s);
	bool before[1024];
	stmt_journals(before);
	s = open_ok(fx->path, false);
	assert_int_equal(store_begin(s), 0);
	for (int i = 0; i < 3; i++) {
		char g[8], link[64];
		snprintf(g, sizeof(g), "g%d", i);
		snprintf(link, sizeof(link), "https://example.com/%d", i);
		mkitem(&t[i], "f", g, link, g, "Texte", 100 + i);
		id[i] = add(s, &t[i], 1);
	}
	assert_false(stmt_journal_opened(before));
	assert_int_equal(store_verdict_add(s, id[0], "t", 0.9, true, "[]"), 0);
	assert_int_equal(store_verdict_add(s, id[1], "t", 0.1, false, "[]"), 0);
	assert_int_equal(store_verdict_add(s, id[2], "t", 0.8, true, "[]"), 0);
	assert_false(stmt_journal_opened(before));
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(count_outside(fx->path, changes), 2);
	char *sql = xasprintf("SELECT count(*) FROM changes WHERE item_id IN (%lld, %lld)",
			      (long long)id[0], (long long)id[2]);
	assert_int_equal(count_outside(fx->path, sql), 2);
	free(sql);

	/* Updates: made relevant (a change), relevant still with another score (none), no longer
	 * relevant (none), relevant again (a change). */
	assert_int_equal(store_verdict_add(s, id[1], "t", 0.7, true, "[[\"x\",1]]"), 0);
	assert_int_equal(count_outside(fx->path, changes), 3);
	assert_int_equal(store_verdict_add(s, id[0], "t", 0.95, true, "[]"), 0);
	assert_int_equal(store_verdict_add(s, id[2], "t", 0.2, false, "[]"), 0);
	assert_int_equal(count_outside(fx->path, changes), 3);
	assert_int_equal(store_verdict_add(s, id[2], "t", 0.85, true, "[]"), 0);
	assert_int_equal(count_outside(fx->path, changes), 4);
	char *v =
	    text_outside(fx->path, "SELECT group_concat(score || ':' || relevant || ':' ||"
				   " terms, ' ') FROM (SELECT * FROM verdicts ORDER BY item_id)");
	assert_string_equal(v, "0.95:1:[] 0.7:1:[[\"x\",1]] 0.85:1:[]");
	free(v);
	assert_int_equal(count_outside(fx->path, "SELECT count(*) FROM verdicts"), 3);
	/* Inside a transaction, a verdict that fails (an item that does not exist) leaves it to be
	 * rolled back: its commit is refused. */
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_verdict_add(s, id[2] + 100, "t", 0.9, true, "[]"), -EINVAL);
	assert_int_equal(store_commit(s), -EIO);
	assert_non_null(strstr(store_errmsg(s), "rolled back"));
	assert_int_equal(store_rollback(s), 0);
	assert_int_equal(count_outside(fx->path, changes), 4);
	/* A NaN score is bound as NULL: refused, and said. */
	assert_int_equal(store_verdict_add(s, id[0], "u", 0.0 / 0.0, true, "[]"), -EINVAL);
	assert_non_null(strstr(store_errmsg(s), "not stored"));
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_create_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_from_v0, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_feed_config_url, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_page_size, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wal_checkpoint, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_free_pages_unwritten, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wal_background, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ping, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_feed_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_item_dedup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sources_revisions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stories, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_story_scan, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_story_prefetch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_story_prefetch_sorted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_story_groups, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_story_groups_sorted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_story_ahead_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_story_ahead, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_story_ahead_sorted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verdicts_alerts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_feed_absent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fts_at_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fts_revise_pending, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_items_each, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fts_segments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fts_tokens, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fts_function_words, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_item_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readonly_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_lost_transaction, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_df, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune_reads_old_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune_floor, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_optimize_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verdict_changes, setup, teardown),
	};
	/* Statement journals as files from their first byte: stmt_journals sees them. */
	if (sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, 0) != SQLITE_OK) {
		fprintf(stderr, "test_store: cannot make statement journals files\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
