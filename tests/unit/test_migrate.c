/*
 * test_migrate.c - migrations from every earlier schema version, on real database files.
 *
 * For each version k from 0 to the latest, store_create_at_version builds a database by applying
 * only the first k migration steps; the rows of fills[] valid at version k (the latest fill at or
 * below k) are written into it with plain SQL, as a program of that version would have left
 * them; then the current store opens it, migrates it, and the test checks that every row came
 * through and that everything the current store does works on it. Nothing here names a version
 * but the fills: a new migration is covered as soon as it is appended, and one that changes the
 * shape of stored rows adds its own fill (the same logical rows, in the new shape).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <xxhash.h>

#include "feed.h"
#include "fts_ref.h"
#include "store.h"
#include "util.h"

#define T0 1700000000

/*
 * The same logical content at every version: two feeds; item 1, relevant, seen in both feeds,
 * its alert still queued; item 2, irrelevant, without a date; the export watermark at item 1.
 */
#define FILL_V1 FILL_FEEDS FILL_ITEMS("items") FILL_REST

#define FILL_FEEDS                                                                                 \
	"INSERT INTO feeds (id, name, url, etag, last_modified, last_error, last_fetch,"           \
	" next_fetch, last_status, errors, items, disabled) VALUES"                                \
	" (1, 'lemonde-europe', 'https://www.lemonde.fr/europe/rss_full.xml', '\"abc\"',"          \
	"  'Tue, 14 Nov 2023 22:13:20 GMT', NULL, 1700000000, 1700000900, 200, 0, 2, 0),"          \
	" (2, 'rfi-europe', 'https://www.rfi.fr/fr/europe/rss', NULL, NULL, 'HTTP 503',"           \
	"  1700000100, 1700001000, 503, 3, 0, 0);"

/* The items of the fill, into table T. */
#define FILL_ITEMS(T)                                                                              \
	"INSERT INTO " T " (id, guid, link, canonical_link, title, author, summary, content, "     \
	"hash,"                                                                                    \
	" published, fetched, feed_id) VALUES"                                                     \
	" (1, 'g1', 'https://www.lemonde.fr/europe/a1.html', "                                     \
	"'https://www.lemonde.fr/europe/a1.html',"                                                 \
	"  'Loukachenko masse des troupes à la frontière', 'Rédaction',"                        \
	"  'Des chars près de Gomel.', NULL, 'hash-1', 1699990000, 1700000000, 1),"               \
	" (2, 'g2', 'https://www.lemonde.fr/culture/a2.html', NULL, 'Festival de Cannes', NULL,"   \
	"  'Sélection officielle.', 'Vingt films en compétition.', 'hash-2', NULL, 1700000050, " \
	"1);"

/* What refers to the items. */
#define FILL_REST                                                                                  \
	"INSERT INTO sources (item_id, feed_id, identity, link, first_seen) VALUES"                \
	" (1, 1, 'g1', 'https://www.lemonde.fr/europe/a1.html', 1700000000),"                      \
	" (1, 2, 'rfi-1', 'https://www.rfi.fr/fr/europe/1', 1700000100),"                          \
	" (2, 1, 'g2', 'https://www.lemonde.fr/culture/a2.html', 1700000050);"                     \
	"INSERT INTO verdicts (item_id, topic, score, relevant, terms) VALUES"                     \
	" (1, 'belarus-border', 0.91, 1, '[[\"frontier\",0.5]]'),"                                 \
	" (2, 'belarus-border', 0.02, 0, '[]');"                                                   \
	"INSERT INTO alerts (item_id, topic, queued, sent) VALUES"                                 \
	" (1, 'belarus-border', 1700000001, NULL);"                                                \
	"INSERT INTO meta (key, value) VALUES ('export.last_id', '1');"

/* items_fts as the store writes it at commit (from version 5). */
#define FILL_FTS                                                                                   \
	"INSERT INTO items_fts (rowid, title, text) SELECT id, title,"                             \
	" coalesce(summary, '') || ' ' || coalesce(content, '') FROM items;"

/* From version 8 items hold the keys they are found by: XXH3 of the content hash and of the
 * canonical link, computed here apart from the store (veille_key in exec_sql). */
#define FILL_ITEMS_V8                                                                              \
	"CREATE TEMP TABLE fill_items (id, guid, link, canonical_link, title, author, summary,"    \
	" content, hash, published, fetched, feed_id);" FILL_ITEMS(                                \
	    "fill_items") "INSERT INTO items (id, guid, link, canonical_link, title, author, "     \
			  "summary, content, hash,"                                                \
			  " published, fetched, feed_id, hash_key, link_key) SELECT *, "           \
			  "veille_key(hash),"                                                      \
			  " veille_key(canonical_link) FROM fill_items;"

static const char *const fills[] = {
    [1] = FILL_V1,
    /* From version 5 items_fts is written by the store at commit, not by a trigger: rows
     * inserted behind its back are indexed by hand, as the store would. */
    [5] = FILL_V1 FILL_FTS,
    [8] = FILL_FEEDS FILL_ITEMS_V8 FILL_REST FILL_FTS,
};

/* The fill for a database at version k: the latest at or below it (NULL for k = 0). */
static const char *fill_for(int k)
{
	for (int v = k; v >= 1; v--)
		if ((size_t)v < ARRAY_SIZE(fills) && fills[v])
			return fills[v];
	return NULL;
}

static int user_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void key_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	const char *v = (const char *)sqlite3_value_text(argv[0]);
	if (v)
		sqlite3_result_int64(ctx, (sqlite3_int64)XXH3_64bits(v, strlen(v)));
	else
		sqlite3_result_null(ctx);
}

static void exec_sql(const char *path, const char *sql, int version)
{
	sqlite3 *db;
	char *err = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	fts_ref_register(db);
	assert_int_equal(
	    sqlite3_create_function(db, "veille_key", 1, SQLITE_UTF8, NULL, key_fn, NULL, NULL),
	    SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("the fill for version %d does not apply (a migration changed the rows' "
			 "shape: append a fill for it): %s",
			 version, err);
	sqlite3_close(db);
}

static int count_cb(const struct store_row *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

static int search(struct store *s, const char *q)
{
	struct store_query sq = {.match = q};
	int n = 0;
	assert_int_equal(store_items_each(s, &sq, count_cb, &n), 0);
	return n;
}

struct seen {
	int n;
	int64_t id[8];
	size_t nsources[8], nverdicts[8];
	bool relevant[8], dated[8];
	char title[8][64], content[8][64], feeds[8][64];
};

static int record_cb(const struct store_record *r, void *arg)
{
	struct seen *x = arg;
	assert_true(x->n < 8);
	int i = x->n++;
	x->id[i] = r->id;
	x->nsources[i] = r->nsources;
	x->nverdicts[i] = r->nverdicts;
	x->relevant[i] = r->relevant;
	x->dated[i] = r->published != FEED_NO_DATE;
	snprintf(x->title[i], sizeof(x->title[i]), "%s", r->title ? r->title : "");
	snprintf(x->content[i], sizeof(x->content[i]), "%s", r->content ? r->content : "");
	x->feeds[i][0] = '\0';
	for (size_t k = 0; k < r->nsources; k++) {
		size_t len = strlen(x->feeds[i]);
		snprintf(x->feeds[i] + len, sizeof(x->feeds[i]) - len, "%s%s", k ? "," : "",
			 r->sources[k].feed);
	}
	return 0;
}

/* What a database filled at an earlier version must still hold. */
static void check_filled(struct store *s)
{
	struct store_feed f;
	assert_int_equal(store_feed_load(s, "lemonde-europe", &f), 0);
	assert_string_equal(f.etag, "\"abc\"");
	assert_string_equal(f.last_modified, "Tue, 14 Nov 2023 22:13:20 GMT");
	assert_int_equal(f.last_status, 200);
	assert_int_equal(f.items, 2);
	assert_int_equal(f.next_fetch, 1700000900);
	store_feed_clear(&f);
	assert_int_equal(store_feed_load(s, "rfi-europe", &f), 0);
	assert_int_equal(f.errors, 3);
	assert_string_equal(f.last_error, "HTTP 503");
	store_feed_clear(&f);

	struct store_stats st;
	assert_int_equal(store_stats(s, &st), 0);
	assert_int_equal(st.feeds, 2);
	assert_int_equal(st.items, 2);
	assert_int_equal(st.relevant, 1);
	assert_int_equal(st.sources, 3);
	assert_int_equal(st.alerts_pending, 1);

	struct seen x = {0};
	struct store_record_query q = {0};
	assert_int_equal(store_records_each(s, &q, record_cb, &x), 0);
	assert_int_equal(x.n, 2);
	assert_string_equal(x.title[0], "Loukachenko masse des troupes à la frontière");
	assert_string_equal(x.feeds[0], "lemonde-europe,rfi-europe");
	assert_true(x.relevant[0] && x.dated[0]);
	assert_int_equal(x.nverdicts[0], 1);
	assert_false(x.relevant[1] || x.dated[1]);
	assert_string_equal(x.content[1], "Vingt films en compétition.");

	char *v = NULL;
	assert_int_equal(store_meta_get(s, "export.last_id", &v), 0);
	assert_string_equal(v, "1");
	free(v);
	assert_int_equal(store_item_seen(s, "rfi-europe", "rfi-1"), 1);
	/* The full-text index came through, accents folded. */
	assert_int_equal(search(s, "loukachenko frontiere"), 1);
	assert_int_equal(search(s, "competition"), 1);
	/* ... rebuilt without the function words (schema 9): «troupes à la frontière» holds the
	 * phrase "troupes frontière", and a query of function words alone is refused. */
	assert_int_equal(search(s, "\"troupes frontière\""), 1);
	struct store_query fw = {.match = "à la"};
	int n = 0;
	assert_int_equal(store_items_each(s, &fw, count_cb, &n), -EINVAL);
	/* The queued alert can still be sent. */
	assert_int_equal(store_alert_sent(s, 1, "belarus-border"), 0);
}

/* What the current store does, on a migrated database. */
static void check_working(struct store *s, bool filled)
{
	int64_t before = 0, id = 0, last = 0;
	assert_int_equal(store_last_item_id(s, &before), 0);
	assert_int_equal(before, filled ? 2 : 0);
	struct store_item it = {
	    .feed = "lemonde-europe",
	    .identity = "g3",
	    .guid = "g3",
	    .link = "https://www.lemonde.fr/europe/a3.html",
	    .canonical_link = "https://www.lemonde.fr/europe/a3.html",
	    .title = "Manœuvres biélorusses près de Brest",
	    .summary = "Exercices militaires à la frontière polonaise.",
	    .hash = "hash-3",
	    .published = T0 + 500,
	    .fetched = T0 + 600,
	};
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_item_add(s, &it, &id), 1);
	assert_int_equal(store_verdict_add(s, id, "belarus-border", 0.8, true, "[]"), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_last_item_id(s, &last), 0);
	assert_int_equal(last, id);
	assert_true(id > before);
	assert_int_equal(search(s, "bielorusses brest"), 1);

	/* The export's view after the watermark. */
	struct seen x = {0};
	struct store_record_query q = {.after_id = before};
	assert_int_equal(store_begin_read(s), 0);
	assert_int_equal(store_records_each(s, &q, record_cb, &x), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(x.n, 1);
	assert_int_equal(x.id[0], id);
	assert_true(x.relevant[0]);
	assert_int_equal(store_meta_set(s, "export.last_id", "3"), 0);

	/* Retention: the old irrelevant item goes, with its full-text entry. */
	int64_t n = 0;
	assert_int_equal(store_prune(s, T0 + 10000, 0, 100, &n), 0);
	assert_int_equal(n, filled ? 1 : 0);
	assert_int_equal(search(s, "cannes"), 0);
	assert_int_equal(search(s, "brest"), 1);
	assert_int_equal(store_optimize(s), 0);

	if (filled) {
		/* Items stored before are found by their content hash and by their canonical
		 * link: the keys the migration gave them are the store's. */
		int64_t found = 0;
		struct store_item same = it;
		same.identity = "same-hash";
		same.canonical_link = "https://www.rfi.fr/fr/europe/autre";
		same.hash = "hash-1";
		assert_int_equal(store_item_add(s, &same, &found), 0);
		assert_int_equal(found, 1);
		same.identity = "same-link";
		same.canonical_link = "https://www.lemonde.fr/europe/a1.html";
		same.hash = "hash-other";
		assert_int_equal(store_item_add(s, &same, &found), 0);
		assert_int_equal(found, 1);
		/* A revised item is found by its new content, no longer by its old. */
		struct store_item rev = {
		    .feed = "lemonde-europe",
		    .identity = "g1",
		    .title = "Loukachenko masse des troupes à la frontière",
		    .summary = "Des chars près de Gomel et de Mozyr.",
		    .hash = "hash-1b",
		    .published = FEED_NO_DATE,
		    .fetched = T0 + 700,
		};
		assert_int_equal(store_item_revise(s, 1, &rev, &found), 1);
		assert_int_equal(found, 1);
		same.identity = "rev-new";
		same.canonical_link = NULL;
		same.hash = "hash-1b";
		assert_int_equal(store_item_add(s, &same, &found), 0);
		assert_int_equal(found, 1);
		same.identity = "rev-old";
		same.hash = "hash-1";
		assert_int_equal(store_item_add(s, &same, &found), 1);
		assert_true(found > id);
	}
}

/* The path of a database file in a new directory, written to dir[0..n). */
static char *new_db(char *dir, size_t n)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, n, "%s/test_migrate.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	return xasprintf("%s/veille.db", dir);
}

/* Removes the database file path (freed), its WAL and shared memory, and its directory. */
static void remove_db(const char *dir, char *path)
{
	const char *sfx[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < ARRAY_SIZE(sfx); i++) {
		char *p = xasprintf("%s%s", path, sfx[i]);
		unlink(p);
		free(p);
	}
	rmdir(dir);
	free(path);
}

/* What store_set_upgrade_hook's hook was told. */
static struct {
	int calls, from, to;
} told;

static void upgrade_hook(int from, int to)
{
	told.calls++;
	told.from = from;
	told.to = to;
}

static void test_every_version(void **state)
{
	(void)state;
	char dir[512];
	int latest = store_version_latest();
	assert_true(latest >= 1);
	for (int k = 0; k <= latest; k++) {
		char *path = new_db(dir, sizeof(dir));
		char *err = NULL;
		if (store_create_at_version(path, k, &err) < 0)
			fail_msg("version %d: %s", k, err);
		assert_int_equal(user_version(path), k);
		const char *fill = fill_for(k);
		if (fill)
			exec_sql(path, fill, k);

		told.calls = 0;
		store_set_upgrade_hook(upgrade_hook, 60000);
		struct store *s = store_open(path, false, &err);
		store_set_upgrade_hook(NULL, 0);
		if (!s)
			fail_msg("opening a version %d database: %s", k, err);
		assert_int_equal(store_schema_version(s), latest);
		assert_int_equal(store_migrations_applied(s), latest - k);
		/* Told once (a minute between two), from the file's version to the latest; a
		 * current file is no upgrade. */
		assert_int_equal(told.calls, k < latest ? 1 : 0);
		if (k < latest) {
			assert_int_equal(told.from, k);
			assert_int_equal(told.to, latest);
		}
		if (fill)
			check_filled(s);
		check_working(s, fill != NULL);
		store_close(s);
		assert_int_equal(user_version(path), latest);

		/* The migrated file opens read-only too, as veillectl opens it. */
		s = store_open(path, true, &err);
		if (!s)
			fail_msg("read-only after migrating from version %d: %s", k, err);
		store_close(s);

		remove_db(dir, path);
	}
}

/* An upgrade that works for a while tells the hook again as it goes (every check, here): the
 * step to version 9 rebuilds the full-text index of 3,000 items. */
static void test_upgrade_told(void **state)
{
	(void)state;
	char dir[512];
	char *path = new_db(dir, sizeof(dir));
	char *err = NULL;
	int from = 8;
	if (store_create_at_version(path, from, &err) < 0)
		fail_msg("version %d: %s", from, err);
	exec_sql(path,
		 FILL_FEEDS
		 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)"
		 " INSERT INTO items (id, guid, title, summary, hash, fetched, feed_id,"
		 " hash_key) SELECT i, 'g' || i, 'Troupes à la frontière ' || i,"
		 " 'Des chars près de Gomel, le jour ' || i || ' de la manœuvre.',"
		 " 'hash-' || i, 1700000000 + i, 1, veille_key('hash-' || i) FROM n;",
		 from);
	told.calls = 0;
	store_set_upgrade_hook(upgrade_hook, 0);
	struct store *s = store_open(path, false, &err);
	store_set_upgrade_hook(NULL, 0);
	if (!s)
		fail_msg("opening a version %d database: %s", from, err);
	assert_int_equal(store_migrations_applied(s), store_version_latest() - from);
	assert_true(told.calls >= 3);
	assert_int_equal(told.from, from);
	assert_int_equal(told.to, store_version_latest());
	assert_int_equal(search(s, "manoeuvre"), 3000);
	store_close(s);
	remove_db(dir, path);
}

static void test_bad_version(void **state)
{
	(void)state;
	char *err = NULL;
	assert_int_equal(
	    store_create_at_version("/nonexistent/x.db", store_version_latest() + 1, &err),
	    -EINVAL);
	assert_non_null(strstr(err, "no schema version"));
	free(err);
	err = NULL;
	assert_int_equal(store_create_at_version("/nonexistent/dir/x.db", 1, &err), -EIO);
	assert_non_null(err);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_version),
	    cmocka_unit_test(test_upgrade_told),
	    cmocka_unit_test(test_bad_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
