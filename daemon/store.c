/*
 * store.c - the SQLite store. The only file that includes sqlite3.h.
 *
 * One connection in WAL mode (readers never block the writer, a crash loses at most the
 * transaction in flight). Every statement is prepared once at open from the stmt_sql[] table and
 * reset and cleared after each use. An item is looked up before it is stored, by its content
 * hash or its canonical link through compact keys (schema_v8_item_keys); sources(feed_id,
 * identity) is a primary key. The schema is
 * versioned with PRAGMA user_version; migrations[] holds one step per version, applied in its own
 * transaction, so a later version only appends a step.
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "feed.h"
#include "swar.h"
#include "text.h"
#include "util.h"

/* Version 1: the first schema. */
static const char schema_v1[] =
    "CREATE TABLE feeds ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " url TEXT, etag TEXT, last_modified TEXT, last_error TEXT,"
    " last_fetch INTEGER NOT NULL DEFAULT 0,"
    " next_fetch INTEGER NOT NULL DEFAULT 0,"
    " last_status INTEGER NOT NULL DEFAULT 0,"
    " errors INTEGER NOT NULL DEFAULT 0,"
    " items INTEGER NOT NULL DEFAULT 0,"
    " disabled INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE items ("
    " id INTEGER PRIMARY KEY,"
    " guid TEXT, link TEXT, canonical_link TEXT, title TEXT, author TEXT,"
    " summary TEXT, content TEXT,"
    " hash TEXT NOT NULL UNIQUE,"
    " published INTEGER," /* NULL when unknown */
    " fetched INTEGER NOT NULL,"
    " feed_id INTEGER NOT NULL REFERENCES feeds(id));" /* the first feed it was seen in */
    /* The same link in two feeds is one item. */
    "CREATE UNIQUE INDEX items_canonical ON items(canonical_link)"
    " WHERE canonical_link IS NOT NULL;"
    "CREATE INDEX items_fetched ON items(fetched);"
    "CREATE TABLE sources ("
    " item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,"
    " feed_id INTEGER NOT NULL REFERENCES feeds(id),"
    " identity TEXT NOT NULL,"
    " link TEXT,"
    " first_seen INTEGER NOT NULL,"
    " PRIMARY KEY (feed_id, identity)) WITHOUT ROWID;"
    "CREATE INDEX sources_item ON sources(item_id);"
    "CREATE TABLE verdicts ("
    " item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,"
    " topic TEXT NOT NULL,"
    " score REAL NOT NULL,"
    " relevant INTEGER NOT NULL,"
    " terms TEXT,"
    " PRIMARY KEY (item_id, topic)) WITHOUT ROWID;"
    "CREATE TABLE alerts ("
    " item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,"
    " topic TEXT NOT NULL,"
    " queued INTEGER NOT NULL,"
    " sent INTEGER," /* NULL until sent */
    " PRIMARY KEY (item_id, topic)) WITHOUT ROWID;"
    "CREATE INDEX alerts_unsent ON alerts(queued) WHERE sent IS NULL;"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
    /* Contentless full-text index (the text lives in items once): title, and summary + content
     * as `text`. remove_diacritics 2 lets "frontiere" find "frontière". */
    "CREATE VIRTUAL TABLE items_fts USING fts5(title, text, content='',"
    " tokenize='unicode61 remove_diacritics 2');"
    "CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN"
    " INSERT INTO items_fts(rowid, title, text) VALUES (new.id, new.title,"
    "  coalesce(new.summary, '') || ' ' || coalesce(new.content, ''));"
    "END;"
    "CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN"
    " INSERT INTO items_fts(items_fts, rowid, title, text) VALUES ('delete', old.id, old.title,"
    "  coalesce(old.summary, '') || ' ' || coalesce(old.content, ''));"
    "END;";

/* Version 2: background document frequencies of the topics' profile keys over every stored item
 * (the corpus size is the meta key 'corpus_docs'). */
static const char schema_v2_term_df[] =
    "CREATE TABLE term_df (term TEXT PRIMARY KEY, docs INTEGER NOT NULL) WITHOUT ROWID;";

/* Version 3: a feed's state remembers the configured URL it belongs to (config_url), so a
 * permanent redirect stored in url survives a restart while a changed configuration starts
 * afresh; and the publishing rate last observed (items_per_week, NULL when unknown) that the
 * adaptive schedule uses when a fetch brings no document (304). */
static const char schema_v3_feed_url[] = "ALTER TABLE feeds ADD COLUMN config_url TEXT;"
					 "ALTER TABLE feeds ADD COLUMN items_per_week REAL;";

/* Version 4: edited items and stories. */
static const char schema_v4_stories[] =
    /* dedup_fingerprint of the raw fields this source delivered last; NULL before version 4 */
    "ALTER TABLE sources ADD COLUMN fingerprint INTEGER;"
    /* The story an item belongs to: the id of the story's first item, NULL when it is that
     * first item. */
    "ALTER TABLE items ADD COLUMN story INTEGER;"
    /* The 128-bit SimHash of its text (dedup_simhash) as two signed 64-bit halves; NULL when the
     * text is too short. */
    "ALTER TABLE items ADD COLUMN sim0 INTEGER;"
    "ALTER TABLE items ADD COLUMN sim1 INTEGER;"
    "ALTER TABLE items ADD COLUMN updated INTEGER;" /* last revision, NULL when never edited */
    "CREATE INDEX items_story ON items(story) WHERE story IS NOT NULL;"
    /* Earlier versions of edited items: content hash and when that version was first seen. */
    "CREATE TABLE revisions ("
    " item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,"
    " seen INTEGER NOT NULL,"
    " hash TEXT NOT NULL,"
    " PRIMARY KEY (item_id, seen, hash)) WITHOUT ROWID;"
    "CREATE TRIGGER items_fts_update AFTER UPDATE OF title, summary, content ON items BEGIN"
    " INSERT INTO items_fts(items_fts, rowid, title, text) VALUES ('delete', old.id, old.title,"
    "  coalesce(old.summary, '') || ' ' || coalesce(old.content, ''));"
    " INSERT INTO items_fts(rowid, title, text) VALUES (new.id, new.title,"
    "  coalesce(new.summary, '') || ' ' || coalesce(new.content, ''));"
    "END;";
/* Version 5: items_fts is filled by store.c at commit (fts_flush) instead of by a trigger. SQLite
 * 3.40's FTS5 writes its pending index to disk at every savepoint, and each item had two (its own
 * and the trigger's statement journal): one tiny index segment per item, merged again and again,
 * was a sixth of a cold cycle. Queued and written after the transaction's last savepoint, a
 * feed's items make one segment. FTS5 merges segments 16 at a time (default 4) and forces a merge
 * at 32 on a level (default 16): a third less indexing work for the same index size, searches
 * reading a few more segments. */
static const char schema_v5_fts_commit[] =
    "DROP TRIGGER items_fts_insert;"
    "INSERT INTO items_fts (items_fts, rank) VALUES ('automerge', 16);"
    "INSERT INTO items_fts (items_fts, rank) VALUES ('crisismerge', 32);";

/* Version 6: FTS5 leaf pages as large as the database's pages (store_open creates new files with
 * 8 KiB pages; a file created with 4 KiB keeps FTS5's default, 4050 bytes, which is this). Half
 * as many index pages to write and link per commit. */
static const char schema_v6_fts_pgsz[] =
    "INSERT INTO items_fts (items_fts, rank) SELECT 'pgsz', page_size - 46 FROM pragma_page_size;";

/* Version 7: FTS5 begins merging a level when it holds 64 segments (was 16) and forces it at 128
 * (was 32). Automerge does merge work in proportion to what each commit writes, for as long as a
 * level holds enough segments, and each merge pass rewrites every row's positions, at several
 * times the cost of writing them first: at 1,000 commits of 50 items, 16 merged every item about
 * twice, 64 once, a sixth of the cost of indexing an item. Searches read up to a few hundred
 * segments, still milliseconds at 50,000 items. */
static const char schema_v7_fts_merge[] =
    "INSERT INTO items_fts (items_fts, rank) VALUES ('automerge', 64);"
    "INSERT INTO items_fts (items_fts, rank) VALUES ('crisismerge', 128);";

/*
 * Version 8: items are found by 64-bit keys of their content hash and canonical link
 * (hash_key, link_key: item_key(), XXH3) instead of UNIQUE indexes on the texts themselves. Those
 * two indexes took 75 and 70 bytes an item, in random order: every commit rewrote most of their
 * pages, which outgrew the writer's page cache at a few ten thousand items. Keyed, they take a
 * fifth of that, and a cold cycle of 50,000 items writes a sixth fewer bytes. A key is not unique
 * (two texts may share one): the lookup compares the text too, and item_add looks before it
 * inserts, under the write lock, instead of relying on a constraint.
 *
 * SQLite cannot drop a column's UNIQUE constraint, so items is rebuilt the documented way (create,
 * copy, drop, rename) with the same row ids, which items_fts and every other table refer to. The
 * step runs with foreign keys off (migrate_to): with them on, dropping items would delete the
 * rows that refer to it. veille_key() is item_key() as an SQL function, registered on the
 * store's writable connections for this step.
 */
static const char schema_v8_item_keys[] =
    "CREATE TABLE items_v8 ("
    " id INTEGER PRIMARY KEY,"
    " guid TEXT, link TEXT, canonical_link TEXT, title TEXT, author TEXT,"
    " summary TEXT, content TEXT,"
    " hash TEXT NOT NULL,"
    " published INTEGER,"
    " fetched INTEGER NOT NULL,"
    " feed_id INTEGER NOT NULL REFERENCES feeds(id),"
    " story INTEGER, sim0 INTEGER, sim1 INTEGER, updated INTEGER,"
    " hash_key INTEGER NOT NULL," /* item_key(hash) */
    " link_key INTEGER);"	  /* item_key(canonical_link), NULL without one */
    "INSERT INTO items_v8 SELECT id, guid, link, canonical_link, title, author, summary, content,"
    " hash, published, fetched, feed_id, story, sim0, sim1, updated, veille_key(hash),"
    " veille_key(canonical_link) FROM items ORDER BY id;"
    "DROP TABLE items;"
    "ALTER TABLE items_v8 RENAME TO items;"
    "CREATE INDEX items_hash ON items(hash_key);"
    "CREATE INDEX items_link ON items(link_key) WHERE link_key IS NOT NULL;"
    "CREATE INDEX items_fetched ON items(fetched);"
    "CREATE INDEX items_story ON items(story) WHERE story IS NOT NULL;"
    "CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN"
    " INSERT INTO items_fts(items_fts, rowid, title, text) VALUES ('delete', old.id, old.title,"
    "  coalesce(old.summary, '') || ' ' || coalesce(old.content, ''));"
    "END;"
    "CREATE TRIGGER items_fts_update AFTER UPDATE OF title, summary, content ON items BEGIN"
    " INSERT INTO items_fts(items_fts, rowid, title, text) VALUES ('delete', old.id, old.title,"
    "  coalesce(old.summary, '') || ' ' || coalesce(old.content, ''));"
    " INSERT INTO items_fts(rowid, title, text) VALUES (new.id, new.title,"
    "  coalesce(new.summary, '') || ' ' || coalesce(new.content, ''));"
    "END;";

/* What follows the creation of a new items_fts (versions 9 and 14): its settings (schema_v6,
 * schema_v7), then every stored item indexed again. */
#define FTS_SETTINGS_AND_FILL                                                                      \
	"INSERT INTO items_fts (items_fts, rank) VALUES ('automerge', 64);"                        \
	"INSERT INTO items_fts (items_fts, rank) VALUES ('crisismerge', 128);"                     \
	"INSERT INTO items_fts (items_fts, rank) SELECT 'pgsz', page_size - 46 FROM "              \
	"pragma_page_size;"                                                                        \
	"INSERT INTO items_fts (rowid, title, text) SELECT id, title,"                             \
	" coalesce(summary, '') || ' ' || coalesce(content, '') FROM items ORDER BY id;"

/* Version 9: items_fts leaves French function words out ("de", "la", "les", "et", "que", elided
 * "l'" and "qu'", every single letter: text_function_words), as search engines for French do: a
 * third of the tokens of news text, and of the cost of indexing it. Its tokenizer is the store's
 * own ("veille", tok_register) and is needed to write the index, so the table is rebuilt from
 * items with the same options. The triggers on items refer to it by name and stay. */
static const char schema_v9_fts_stop[] =
    "DROP TABLE items_fts;"
    "CREATE VIRTUAL TABLE items_fts USING fts5(title, text, content='',"
    " tokenize='veille remove_diacritics 2');" FTS_SETTINGS_AND_FILL;

/* Version 10: the items whose record changed after it was stored, so that an export since the
 * last one (its watermark: a row id and a change) writes them again. An item changes when its
 * text is edited, or when a topic finds it relevant (a rescore, a new topic, an edit), including
 * at its insertion: the relevant few, so that the trigger needs no "was it stored before" (since
 * version 13, store_verdict_add records those itself). Rows go once every export chain has passed
 * them (store_changes_prune); AUTOINCREMENT, so that a number is never handed out again once they
 * have all gone. */
static const char schema_v10_changes[] =
    "CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, item_id INTEGER NOT NULL);"
    "CREATE TRIGGER items_changed AFTER UPDATE OF title, summary, content ON items BEGIN"
    " INSERT INTO changes (item_id) VALUES (new.id);"
    "END;"
    "CREATE TRIGGER verdicts_relevant_new AFTER INSERT ON verdicts WHEN new.relevant BEGIN"
    " INSERT INTO changes (item_id) VALUES (new.item_id);"
    "END;"
    "CREATE TRIGGER verdicts_relevant AFTER UPDATE OF relevant ON verdicts"
    " WHEN new.relevant AND NOT old.relevant BEGIN"
    " INSERT INTO changes (item_id) VALUES (new.item_id);"
    "END;";

/* Version 11: a feed's <ttl> (seconds, NULL when it gives none), from the last document stored, so
 * that the schedule after a 304, which brings no document, still honours it, across restarts. */
static const char schema_v11_feed_ttl[] = "ALTER TABLE feeds ADD COLUMN ttl INTEGER;";

/* Version 12: retention's floor (store_prune) holds while no item below it loses its relevance
 * or moves below it. A verdict that stops being relevant, or goes, or an item's fetch time moved
 * back (by hand: veille never does) forgets it, whoever writes (the daemon, a rescore, sqlite3):
 * the next pass reads from the start again. */
static const char schema_v12_retention_floor[] =
    "CREATE TRIGGER verdicts_unrelevant AFTER UPDATE OF relevant ON verdicts"
    " WHEN old.relevant AND NOT new.relevant BEGIN"
    " DELETE FROM meta WHERE key = 'retention.floor';"
    "END;"
    "CREATE TRIGGER verdicts_relevant_gone AFTER DELETE ON verdicts WHEN old.relevant BEGIN"
    " DELETE FROM meta WHERE key = 'retention.floor';"
    "END;"
    "CREATE TRIGGER items_fetched_back AFTER UPDATE OF fetched ON items"
    " WHEN new.fetched < old.fetched BEGIN"
    " DELETE FROM meta WHERE key = 'retention.floor';"
    "END;";

/* Version 13: store_verdict_add records a verdict found relevant at its insertion in changes
 * itself, instead of a trigger. A statement that fires a trigger checks the foreign keys at its
 * end, so SQLite gave each verdict insert a statement journal, into which it copied every page the
 * insert wrote that was there before it: the verdicts' last leaf page, 8 KiB for each new item's
 * verdict of about 200 bytes. A cold cycle of 50,000 items copied 330 MB into it (into a file in
 * the temporary folder once one statement of the transaction outgrew the journal's 64 KiB in
 * memory). A verdict that becomes relevant later is still recorded by verdicts_relevant. */
static const char schema_v13_verdict_change[] = "DROP TRIGGER verdicts_relevant_new;";

/* Version 14: items_fts keeps no size of each item's columns (columnsize=0). FTS5 wrote a row of
 * items_fts_docsize per item for its bm25() ranking, which veille never asks for (searches list
 * items by date) and which no other program can run (the index needs veille's tokenizer): the
 * full-text statement of a cold cycle of 50,000 items took 0.12 to 0.17 s less without it. The
 * options cannot be changed in place: the table is rebuilt from items, as in version 9. */
static const char schema_v14_fts_no_sizes[] =
    "DROP TABLE items_fts;"
    "CREATE VIRTUAL TABLE items_fts USING fts5(title, text, content='', columnsize=0,"
    " tokenize='veille remove_diacritics 2');" FTS_SETTINGS_AND_FILL;

/* Version 15: an earlier version of an edited item keeps its text, not only its hash. A new
 * version replaces the item's title, summary and content: a feed that later serves the item
 * with no description (a glitch, a truncated feed) used to leave nothing of the text stored. The
 * versions stored before this one have their hash only (NULL text). */
static const char schema_v15_revision_text[] = "ALTER TABLE revisions ADD COLUMN title TEXT;"
					       "ALTER TABLE revisions ADD COLUMN summary TEXT;"
					       "ALTER TABLE revisions ADD COLUMN content TEXT;";

/* One step per schema version: migrations[i] takes version i to i + 1. Append, never edit.
 * rebuild: the step drops and recreates a table that others refer to (foreign keys off). */
static const struct migration {
	const char *sql;
	bool rebuild;
} migrations[] = {
    {schema_v1, false},
    {schema_v2_term_df, false},
    {schema_v3_feed_url, false},
    {schema_v4_stories, false},
    {schema_v5_fts_commit, false},
    {schema_v6_fts_pgsz, false},
    {schema_v7_fts_merge, false},
    {schema_v8_item_keys, true},
    {schema_v9_fts_stop, false},
    {schema_v10_changes, false},
    {schema_v11_feed_ttl, false},
    {schema_v12_retention_floor, false},
    {schema_v13_verdict_change, false},
    {schema_v14_fts_no_sizes, false},
    {schema_v15_revision_text, false},
};
#define STORE_VERSION ((int)ARRAY_SIZE(migrations))

enum stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_FEED_ID,
	ST_FEED_CREATE,
	ST_FEED_LOAD,
	ST_FEED_SAVE,
	ST_FEEDS_EACH,
	ST_SEEN,
	ST_ITEM_INSERT,
	ST_ITEM_FIND,
	ST_SOURCE_ADD,
	ST_VERDICT_ADD,
	ST_VERDICT_SET,
	ST_CHANGE_ADD,
	ST_ALERT_QUEUE,
	ST_ALERTS_PENDING,
	ST_ALERT_SENT,
	ST_ITEMS_EACH,
	ST_ITEMS_MATCH,
	ST_STATS,
	ST_PING,
	ST_SOURCE_GET,
	ST_SOURCE_FINGERPRINT,
	ST_SOURCE_MOVE,
	ST_REVISION_ADD,
	ST_ITEM_REVISE,
	ST_STORY_WINDOW,
	ST_STORY_ALERTED,
	ST_META_GET,
	ST_META_SET,
	ST_DF_ADD,
	ST_DF_GET,
	ST_DF_EACH,
	ST_DOCS_ADD,
	ST_DOCS_GET,
	ST_TOPIC_ITEMS,
	ST_BEGIN_READ,
	ST_RECORDS,
	ST_RECORDS_CHANGED,
	ST_RECORD_SOURCES,
	ST_RECORD_VERDICTS,
	ST_LAST_ID,
	ST_LAST_CHANGE,
	ST_CHANGES_PRUNE,
	ST_PRUNE,
	ST_FLOOR_BROKEN,
	ST_NEWEST,
	ST_OPTIMIZE,
	ST_FTS_ADD,
	ST_MAX
};

#define FEED_COLUMNS                                                                               \
	"url, etag, last_modified, last_error, last_fetch, next_fetch, last_status, errors, "      \
	"items, disabled, config_url, items_per_week, ttl"

/* The columns store_items_each reads, and its best verdict per item: relevant first, then the
 * highest score. */
#define ITEM_SELECT                                                                                \
	"SELECT i.id, f.name, i.guid, i.link, i.title, i.author, i.summary, i.content, i.hash,"    \
	" i.published, i.fetched, v.topic, v.score, v.relevant, v.terms,"                          \
	" coalesce(i.story, i.id),"                                                                \
	" (SELECT count(*) FROM items m WHERE m.id = coalesce(i.story, i.id)"                      \
	"  OR m.story = coalesce(i.story, i.id)),"                                                 \
	" (SELECT count(*) FROM revisions r WHERE r.item_id = i.id), i.updated"                    \
	" FROM items i JOIN feeds f ON f.id = i.feed_id"                                           \
	" LEFT JOIN verdicts v ON v.item_id = i.id AND v.topic = (SELECT topic FROM verdicts"      \
	"  WHERE item_id = i.id ORDER BY relevant DESC, score DESC, topic LIMIT 1)"                \
	" WHERE i.fetched >= ?1"                                                                   \
	" AND (?2 = 0 OR EXISTS (SELECT 1 FROM verdicts WHERE item_id = i.id AND relevant))"
#define RELEVANT_EXISTS " EXISTS (SELECT 1 FROM verdicts WHERE item_id = i.id AND relevant)"
#define ITEM_ORDER	" ORDER BY i.fetched DESC, i.published DESC, i.id DESC LIMIT ?3"
#define RECORD_COLUMNS                                                                             \
	"SELECT i.id, i.guid, i.link, i.canonical_link, i.title, i.author, i.summary, i.content,"  \
	" i.hash, i.published, i.fetched," RELEVANT_EXISTS ", coalesce(i.story, i.id),"            \
	" 1 + (SELECT count(*) FROM items j WHERE j.story = coalesce(i.story, i.id)), i.updated"

static const char *const stmt_sql[ST_MAX] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT store_item",
    [ST_RELEASE] = "RELEASE store_item",
    [ST_ROLLBACK_TO] = "ROLLBACK TO store_item",
    [ST_FEED_ID] = "SELECT id FROM feeds WHERE name = ?1",
    [ST_FEED_CREATE] = "INSERT INTO feeds (name) VALUES (?1)",
    [ST_FEED_LOAD] = "SELECT " FEED_COLUMNS " FROM feeds WHERE name = ?1",
    [ST_FEED_SAVE] = "INSERT INTO feeds (name, url, etag, last_modified, last_error, last_fetch,"
		     " next_fetch, last_status, errors, items, disabled, config_url,"
		     " items_per_week, ttl)"
		     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
		     " ON CONFLICT (name) DO UPDATE SET url = excluded.url,"
		     " etag = excluded.etag, last_modified = excluded.last_modified,"
		     " last_error = excluded.last_error, last_fetch = excluded.last_fetch,"
		     " next_fetch = excluded.next_fetch, last_status = excluded.last_status,"
		     " errors = excluded.errors, items = excluded.items,"
		     " disabled = excluded.disabled, config_url = excluded.config_url,"
		     " items_per_week = excluded.items_per_week, ttl = excluded.ttl",
    [ST_FEEDS_EACH] = "SELECT name, " FEED_COLUMNS " FROM feeds ORDER BY name",
    [ST_SEEN] = "SELECT 1 FROM sources WHERE feed_id = ?1 AND identity = ?2",
    [ST_ITEM_INSERT] = "INSERT INTO items (feed_id, guid, link, canonical_link, title, author,"
		       " summary, content, hash, published, fetched, story, sim0, sim1, hash_key,"
		       " link_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
		       " ?14, ?15, ?16)",
    /* ?3 = item_key(?1), ?4 = item_key(?2) */
    [ST_ITEM_FIND] = "SELECT id FROM items WHERE hash_key = ?3 AND hash = ?1"
		     " UNION ALL SELECT id FROM items WHERE link_key = ?4 AND canonical_link = ?2"
		     " LIMIT 1",
    [ST_SOURCE_ADD] = "INSERT INTO sources (item_id, feed_id, identity, link, first_seen,"
		      " fingerprint) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
    [ST_SOURCE_GET] = "SELECT s.item_id, s.fingerprint, i.hash, coalesce(i.story, i.id)"
		      " FROM sources s JOIN items i ON i.id = s.item_id"
		      " WHERE s.feed_id = ?1 AND s.identity = ?2",
    [ST_SOURCE_FINGERPRINT] = "UPDATE sources SET fingerprint = ?3"
			      " WHERE feed_id = ?1 AND identity = ?2",
    [ST_SOURCE_MOVE] = "UPDATE sources SET item_id = ?3, fingerprint = ?4"
		       " WHERE feed_id = ?1 AND identity = ?2",
    /* The version being replaced: its hash, and since when it was the current one. */
    [ST_REVISION_ADD] = "INSERT INTO revisions (item_id, seen, hash, title, summary, content)"
			" SELECT id, coalesce(updated, fetched), hash, title, summary, content"
			" FROM items WHERE id = ?1 ON CONFLICT DO NOTHING",
    [ST_ITEM_REVISE] = "UPDATE items SET title = ?2, author = ?3, summary = ?4, content = ?5,"
		       " hash = ?6, published = coalesce(?7, published), sim0 = ?8, sim1 = ?9,"
		       " updated = ?10, hash_key = ?11 WHERE id = ?1",
    [ST_STORY_WINDOW] = "SELECT coalesce(story, id), sim0, sim1, fetched FROM items"
			" WHERE fetched >= ?1 AND sim0 IS NOT NULL ORDER BY id",
    /* Two searches, not `item_id IN (SELECT ...)`: that list is an ephemeral table, built for
     * each call at five times the cost of the whole query. */
    [ST_STORY_ALERTED] = "SELECT 1 FROM alerts WHERE item_id = ?1 AND topic = ?2"
			 " UNION ALL SELECT 1 FROM items i CROSS JOIN alerts a"
			 " ON a.item_id = i.id AND a.topic = ?2 WHERE i.story = ?1 LIMIT 1",
    /* Neither an upsert nor a conflict clause that replaces: either would have the insert write
     * more than one row, and thus a statement journal (schema_v13_verdict_change). */
    [ST_VERDICT_ADD] = "INSERT OR IGNORE INTO verdicts (item_id, topic, score, relevant, terms)"
		       " VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_VERDICT_SET] = "UPDATE verdicts SET score = ?3, relevant = ?4, terms = ?5"
		       " WHERE item_id = ?1 AND topic = ?2",
    [ST_CHANGE_ADD] = "INSERT INTO changes (item_id) VALUES (?1)",
    [ST_ALERT_QUEUE] = "INSERT INTO alerts (item_id, topic, queued) VALUES (?1, ?2, ?3)"
		       " ON CONFLICT DO NOTHING",
    [ST_ALERTS_PENDING] = "SELECT a.item_id, a.topic, coalesce(v.score, 0), v.terms, f.name,"
			  " coalesce(i.link, i.canonical_link), i.title"
			  " FROM alerts a JOIN items i ON i.id = a.item_id"
			  " JOIN feeds f ON f.id = i.feed_id"
			  " LEFT JOIN verdicts v ON v.item_id = a.item_id AND v.topic = a.topic"
			  " WHERE a.sent IS NULL ORDER BY a.queued, a.item_id, a.topic",
    [ST_ALERT_SENT] = "UPDATE alerts SET sent = ?3 WHERE item_id = ?1 AND topic = ?2"
		      " AND sent IS NULL",
    [ST_ITEMS_EACH] = ITEM_SELECT ITEM_ORDER,
    [ST_ITEMS_MATCH] = ITEM_SELECT " AND i.id IN (SELECT rowid FROM items_fts"
				   " WHERE items_fts MATCH ?4)" ITEM_ORDER,
    /* the feeds table stays small: a read that proves the database answers, at no cost */
    [ST_PING] = "SELECT count(*) FROM feeds",
    [ST_STATS] = "SELECT (SELECT count(*) FROM feeds), (SELECT count(*) FROM items),"
		 " (SELECT count(DISTINCT item_id) FROM verdicts WHERE relevant),"
		 " (SELECT count(*) FROM alerts WHERE sent IS NOT NULL),"
		 " (SELECT count(*) FROM alerts WHERE sent IS NULL),"
		 " (SELECT count(*) FROM sources)",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_META_SET] = "INSERT INTO meta (key, value) VALUES (?1, ?2)"
		    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [ST_DF_ADD] = "INSERT INTO term_df (term, docs) VALUES (?1, ?2)"
		  " ON CONFLICT (term) DO UPDATE SET docs = docs + excluded.docs",
    [ST_DF_GET] = "SELECT docs FROM term_df WHERE term = ?1",
    [ST_DF_EACH] = "SELECT term, docs FROM term_df",
    [ST_DOCS_ADD] = "INSERT INTO meta (key, value) VALUES ('corpus_docs', ?1)"
		    " ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + ?1",
    [ST_DOCS_GET] = "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'corpus_docs'",
    [ST_TOPIC_ITEMS] = "SELECT i.id, i.title, i.summary, i.content,"
		       " coalesce(i.link, i.canonical_link), v.score, v.relevant,"
		       " coalesce(i.story, i.id)"
		       " FROM items i LEFT JOIN verdicts v ON v.item_id = i.id AND v.topic = ?1"
		       " WHERE i.id > ?2 ORDER BY i.id LIMIT ?3",
    [ST_BEGIN_READ] = "BEGIN",
    /* Two statements rather than one with OR: SQLite would sort the whole result (every
     * text of a full export) for its ORDER BY. */
    [ST_RECORDS] =
	RECORD_COLUMNS " FROM items i WHERE i.id > ?1 AND i.id <= ?2"
		       " AND i.fetched >= ?3 AND (?4 = 0 OR " RELEVANT_EXISTS ") ORDER BY i.id",
    [ST_RECORDS_CHANGED] =
	RECORD_COLUMNS " FROM items i WHERE i.id <= ?1 AND i.id IN"
		       " (SELECT item_id FROM changes WHERE seq > ?2 AND seq <= ?5)"
		       " AND i.fetched >= ?3 AND (?4 = 0 OR " RELEVANT_EXISTS ") ORDER BY i.id",
    [ST_RECORD_SOURCES] = "SELECT f.name, s.identity, s.link, s.first_seen FROM sources s"
			  " JOIN feeds f ON f.id = s.feed_id WHERE s.item_id = ?1"
			  " ORDER BY s.first_seen, f.name, s.identity",
    [ST_RECORD_VERDICTS] = "SELECT topic, score, relevant, coalesce(terms, '[]') FROM verdicts"
			   " WHERE item_id = ?1 ORDER BY topic",
    [ST_LAST_ID] = "SELECT coalesce(max(id), 0) FROM items",
    [ST_LAST_CHANGE] =
	"SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)",
    [ST_CHANGES_PRUNE] = "DELETE FROM changes WHERE seq <= ?1",
    /* Oldest fetched first, a batch at a time (one short transaction each); the newest row
     * stays so that SQLite never hands its id out again. The bound on fetched before the two
     * cases and the order of items_fetched let SQLite read that index from its start to the
     * later cutoff only: the items deleted, and the relevant ones kept longer (a few in a
     * hundred). Ordered by id, it read every row of items (36 ms at 50,000 items, on the loop's
     * thread) to delete none. */
    [ST_PRUNE] = "DELETE FROM items WHERE id IN (SELECT i.id FROM items i"
		 " WHERE i.id < (SELECT max(id) FROM items) AND i.fetched < max(?1, ?2)"
		 " AND i.fetched >= ?4"
		 " AND ((i.fetched < ?1 AND NOT " RELEVANT_EXISTS ")"
		 "  OR (?2 > 0 AND i.fetched < ?2 AND " RELEVANT_EXISTS "))"
		 " ORDER BY i.fetched, i.id LIMIT ?3)",
    /* by row id: the items stored since the floor was set (+: not the fetch-time index) */
    [ST_FLOOR_BROKEN] = "SELECT 1 FROM items WHERE id > ?1 AND +fetched < ?2 LIMIT 1",
    [ST_NEWEST] = "SELECT id, fetched FROM items ORDER BY id DESC LIMIT 1",
    [ST_OPTIMIZE] = "PRAGMA optimize",
    /* The items of ids ?1 to ?2, their indexed columns as items_fts_delete reads them, in one
     * statement: FTS5 writes its pending index at the statement's savepoint (it has one, an
     * INSERT ... SELECT), so this makes one segment when it runs last in the transaction
     * (schema_v5_fts_commit), for 7k instructions an item less than a read-back and an insert
     * each. */
    [ST_FTS_ADD] = "INSERT INTO items_fts (rowid, title, text)"
		   " SELECT id, title, coalesce(summary, '') || ' ' || coalesce(content, '')"
		   " FROM items WHERE id BETWEEN ?1 AND ?2",
};

struct story_pre {
	uint64_t sim[2];
	unsigned best; /* SCAN_NONE or above: no entry */
	size_t from;   /* the first block holding an entry at distance best */
};

/*
 * The story window as parallel arrays: the scan reads sim0, sim1 and fetched (24 bytes an entry,
 * contiguous, in vector-sized loads); story is read for the one entry chosen.
 */
struct story_window {
	uint64_t *sim0, *sim1; /* the SimHash halves */
	int64_t *fetched;
	int64_t *story; /* the story an entry belongs to (its own id when it began it) */
	size_t n, cap;
	int64_t since;
	bool loaded;
	/* Entries come in id order, and so, unless the clock went back, in fetch time order:
	 * then the first `old` were fetched before since, and every other one after it, so the
	 * scan skips those and reads no fetch time. unsorted: fetch times went back somewhere,
	 * and the scan checks each entry's. */
	atomic_bool unsorted;
	size_t old;
	/* store_story_prefetch's answers (or those store_story_adopt took): for each of npre
	 * SimHashes, the smallest distance among entries [0, pre_upto) fetched at or after `since`,
	 * and the block (or the entry) where it first occurs. Forgotten whenever since changes or
	 * entries move or go (trim, load, drop). */
	struct story_pre *pre;
	size_t npre, pre_cap, pre_upto;
	/* For store_story_scan_ahead on other threads. The store's thread alone writes the window.
	 * It publishes each entry it appends, once written, by storing the new count in pub
	 * (release); a reader takes pub (acquire) and reads entries [0, pub). Whatever moves or
	 * removes entries (growth, trim, drop, load) holds store->window_lock for writing; a reader
	 * holds it for reading through its scan. An entry's index stays valid until gen changes:
	 * trim's compaction and drop (rollback, reload, close) give the window a new gen, unique in
	 * the process. */
	atomic_size_t pub;
	uint64_t gen;
};

/*
 * A scan of entries [0, n) of a window for k SimHashes x[0..k) at once (1 to SCAN_GROUP): best[q]
 * is the smallest distance to x[q] among the entries fetched at or after since (0 to 128), or
 * more than 128 (SCAN_NONE or above) when no entry was fetched since. fetched NULL: every entry
 * was (the window knows it), and the vector scans skip the fetch times. Each entry is loaded
 * once for all k, and compared with each of them while in registers.
 */
typedef void scan_group_fn(const uint64_t *sim0, const uint64_t *sim1, const int64_t *fetched,
			   size_t n, const uint64_t (*x)[2], size_t k, int64_t since,
			   unsigned *best);
struct scan_impl {
	const char *name;
	scan_group_fn *group;
	bool (*usable)(void); /* this CPU runs it */
};

/* New items waiting for items_fts: ids first to last, n of them (0: none). */
struct fts_queue {
	int64_t first, last;
	size_t n;
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_MAX];
	bool readonly;
	int rc; /* SQLite's last error code */
	int version;
	int migrated;
	/* The last feed name resolved to a row id (items come feed by feed); forgotten on
	 * rollback, since the row may have been created in the transaction rolled back. feed_id 0:
	 * no such row in the open transaction (feed_forget_absent). */
	char *feed_name;
	int64_t feed_id;
	/* SimHashes of the items fetched since `window.since`, in id order, for store_story_find;
	 * loaded on first use, kept up to date by this connection's writes, dropped on rollback
	 * (rows may have gone with it). */
	struct story_window window;
	pthread_rwlock_t window_lock;
	const struct scan_impl *scan; /* how store_story_find scans it */
	/* A change failed inside the open transaction and may be half done: only a rollback
	 * ends it. */
	bool failed;
	/* A transaction begun by store_begin or store_begin_read and not yet ended by store_commit
	 * or store_rollback (tx_lost). */
	bool tx;
	/* Items of the open transaction waiting for items_fts (fts_flush). */
	struct fts_queue fts;
	/* Background document frequencies added inside the open transaction, written at its
	 * commit (df_flush): one row update per key and transaction instead of one per key and
	 * document. df holds each term's count (value), df_docs the meta key 'corpus_docs'. */
	struct strtab df;
	uint64_t df_docs;
	/* items_fts's tokenizer, registered on the connection (tok_register), owned by SQLite. */
	struct tok_module *tok;
	struct ckpt *ckpt; /* store_wal_background's thread, NULL when commits checkpoint */
	char err[512];
};

/* SQLite ends the whole transaction by itself after some errors (SQLITE_FULL, an I/O error,
 * SQLITE_NOMEM): a statement that fails inside it, such as a feed's state saved while several
 * documents wait for their commit, takes every change before it along. The statements after it
 * would then each commit on their own, half a document at a time. True when the store's open
 * transaction has been lost that way: it is marked failed (the first time, s->err says so after
 * the error that ended it, which fail wrote), and nothing is run in it any more (run, step)
 * until store_rollback ends it; store_commit refuses it. */
static bool tx_lost(struct store *s)
{
	if (!s->tx || !s->db || !sqlite3_get_autocommit(s->db))
		return false;
	if (!s->failed) {
		size_t n = strlen(s->err);
		snprintf(s->err + n, sizeof(s->err) - n, " (the open transaction is undone)");
	}
	s->failed = true;
	return true;
}

/* Remembers SQLite's message for rc and translates rc into -errno. */
static int fail(struct store *s, int rc)
{
	s->rc = rc;
	snprintf(s->err, sizeof(s->err), "%s", s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
	tx_lost(s);
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
		return -EINVAL;
	default:
		return -EIO;
	}
}

static int prepare(struct store *s, enum stmt id)
{
	int rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
				    &s->stmt[id], NULL);
	return rc == SQLITE_OK ? 0 : fail(s, rc);
}

/* Statement id, idle and unbound: every use ends with done(). A read-only connection prepares
 * it here, at its first use; NULL when that fails (run and step then return its error). */
static sqlite3_stmt *stmt(struct store *s, enum stmt id)
{
	if (!s->stmt[id])
		prepare(s, id);
	return s->stmt[id];
}

static void done(sqlite3_stmt *st)
{
	if (!st)
		return;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Steps st to its end (a statement without result rows, or whose rows are ignored). */
static int run(struct store *s, sqlite3_stmt *st)
{
	if (!st)
		return -EIO; /* not prepared: s->err says why */
	if (tx_lost(s)) {
		done(st);
		return -EIO;
	}
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	int r = rc == SQLITE_DONE ? 0 : fail(s, rc);
	done(st);
	return r;
}

/* Steps st once: 1 with a row (the caller reads it, then calls done), 0 at the end (st is then
 * done), negative on error (st is then done). */
static int step(struct store *s, sqlite3_stmt *st)
{
	if (!st)
		return -EIO; /* not prepared: s->err says why */
	if (tx_lost(s)) {
		done(st);
		return -EIO;
	}
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 1;
	int r = rc == SQLITE_DONE ? 0 : fail(s, rc);
	done(st);
	return r;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* The key an item is found by, from its content hash or canonical link (schema_v8_item_keys):
 * XXH3's 64 bits, whose output is fixed by its specification. Stored: never change it. */
static int64_t item_key(const char *text)
{
	uint64_t h = XXH3_64bits(text, strlen(text));
	int64_t k;
	memcpy(&k, &h, sizeof(k));
	return k;
}

/* item_key(v), or NULL when v is. */
static void bind_key(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_int64(st, i, item_key(v));
	else
		sqlite3_bind_null(st, i);
}

/* veille_key(text): item_key in SQL, for the migration that fills the keys. */
static void key_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	const unsigned char *v = sqlite3_value_text(argv[0]);
	if (v)
		sqlite3_result_int64(ctx, item_key((const char *)v));
	else
		sqlite3_result_null(ctx);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* A time column that may be NULL (unknown): FEED_NO_DATE then. */
static int64_t col_time(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? FEED_NO_DATE
							 : sqlite3_column_int64(st, i);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const char *v = col_text(st, i);
	return v ? xstrdup(v) : NULL;
}

static int exec(struct store *s, const char *sql)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : fail(s, rc);
}

/*
 * The story window scan. store_story_find runs through the whole window for every new item
 * with a SimHash, so it is written for the vector units, chosen at run time (the build targets
 * baseline x86-64): AVX-512 VPOPCNTDQ counts the bits of 8 SimHash halves in one instruction,
 * AVX2 counts them by nibble lookups (pshufb), and the scalar forms use POPCNT or a bit-twiddled
 * count. Each scans a block for its smallest distance only; store_story_find then looks for
 * the first entry at that distance in the one block where it occurs first, which keeps the
 * result exactly that of a plain loop (the first entry, in id order, of smallest distance).
 * Each entry is loaded once for up to SCAN_GROUP SimHashes held in registers (store_story_prefetch
 * scans for a document's new items at once; store_story_find for one), which leaves the bit
 * counts (and with AVX2 the lookups) alone to do. No bound skips a block: SimHashes of unrelated
 * texts differ in about 64 bits, give or take 6, so a block of them always holds entries nearer
 * than any bound on it would exclude.
 */
#define SCAN_NONE  0x100u /* added to the distance of an entry fetched before since */
#define SCAN_BLOCK 512	  /* entries a scan covers at once */
#define SCAN_GROUP 8	  /* SimHashes a group scan compares each entry with, at most */

/* Bits set in x. Without -mpopcnt (a baseline x86-64 build) __builtin_popcountll is a call into
 * libgcc, ten times slower in the scan's loop: written out then. */
static inline unsigned popcount64(uint64_t x)
{
#if defined(__POPCNT__) || defined(__aarch64__)
	return (unsigned)__builtin_popcountll(x);
#else
	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
	return (unsigned)((x * 0x0101010101010101ull) >> 56);
#endif
}

/* The plain loop: the branch is almost never taken, so it costs the count alone. */
static unsigned scan_portable(const uint64_t *sim0, const uint64_t *sim1, const int64_t *fetched,
			      size_t n, const uint64_t x[2], int64_t since)
{
	unsigned best = SCAN_NONE;
	for (size_t i = 0; i < n; i++) {
		unsigned d = popcount64(sim0[i] ^ x[0]) + popcount64(sim1[i] ^ x[1]);
		if (d < best && (!fetched || fetched[i] >= since))
			best = d;
	}
	return best;
}

/* scan_portable for k SimHashes: one scan each, the block in the first-level cache. The
 * compiler vectorises scan_portable's loop over entries (with SSE2 on x86-64), which a loop over
 * the k SimHashes inside it prevents: bench_store measured 10-15% more time that way. */
static void scan_portable_group(const uint64_t *sim0, const uint64_t *sim1, const int64_t *fetched,
				size_t n, const uint64_t (*x)[2], size_t k, int64_t since,
				unsigned *best)
{
	for (size_t q = 0; q < k; q++)
		best[q] = scan_portable(sim0, sim1, fetched, n, x[q], since);
}

/* Calls run(K) with K = k, 1 to SCAN_GROUP, a constant in each call: the group scans' loops
 * over the k SimHashes unroll, and their vectors stay in registers. */
#define SCAN_GROUP_DISPATCH(k, run)                                                                \
	switch (k) {                                                                               \
	case 1:                                                                                    \
		run(1);                                                                            \
		break;                                                                             \
	case 2:                                                                                    \
		run(2);                                                                            \
		break;                                                                             \
	case 3:                                                                                    \
		run(3);                                                                            \
		break;                                                                             \
	case 4:                                                                                    \
		run(4);                                                                            \
		break;                                                                             \
	case 5:                                                                                    \
		run(5);                                                                            \
		break;                                                                             \
	case 6:                                                                                    \
		run(6);                                                                            \
		break;                                                                             \
	case 7:                                                                                    \
		run(7);                                                                            \
		break;                                                                             \
	default:                                                                                   \
		run(SCAN_GROUP);                                                                   \
		break;                                                                             \
	}

static bool usable_always(void)
{
	return true;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SCAN_X86 1

__attribute__((target("popcnt"))) static unsigned scan_popcnt(const uint64_t *sim0,
							      const uint64_t *sim1,
							      const int64_t *fetched, size_t n,
							      const uint64_t x[2], int64_t since)
{
	unsigned best = SCAN_NONE;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(__builtin_popcountll(sim0[i] ^ x[0]) +
					__builtin_popcountll(sim1[i] ^ x[1]));
		if (d < best && (!fetched || fetched[i] >= since))
			best = d;
	}
	return best;
}

__attribute__((target("popcnt"))) static void
scan_popcnt_group(const uint64_t *sim0, const uint64_t *sim1, const int64_t *fetched, size_t n,
		  const uint64_t (*x)[2], size_t k, int64_t since, unsigned *best)
{
	unsigned b[SCAN_GROUP];
	for (size_t q = 0; q < k; q++)
		b[q] = SCAN_NONE;
	for (size_t i = 0; i < n; i++) {
		if (fetched && fetched[i] < since)
			continue;
		for (size_t q = 0; q < k; q++) {
			unsigned d = (unsigned)(__builtin_popcountll(sim0[i] ^ x[q][0]) +
						__builtin_popcountll(sim1[i] ^ x[q][1]));
			if (d < b[q])
				b[q] = d;
		}
	}
	memcpy(best, b, k * sizeof(*best));
}

/* The smallest of the low 32 bits of best's four 64-bit lanes. */
__attribute__((target("avx2"), always_inline)) static inline unsigned avx2_min(__m256i best)
{
	__m128i m = _mm_min_epu32(_mm256_castsi256_si128(best), _mm256_extracti128_si256(best, 1));
	m = _mm_min_epu32(m, _mm_unpackhi_epi64(m, m));
	return (unsigned)_mm_cvtsi128_si32(m);
}

/* 4 entries at a time, for k SimHashes (a constant where it is inlined), each entry loaded once,
 * their fetch times compared once. The nibbles of an entry's half xored with x's are those of the
 * half xored with those of x: the entries' are split once for all k, x's once for the whole scan,
 * and each SimHash costs two xors and two lookups a half. */
__attribute__((target("avx2"), always_inline)) static inline void
avx2_group_run(const uint64_t *sim0, const uint64_t *sim1, const int64_t *fetched, size_t n,
	       const uint64_t (*x)[2], size_t k, int64_t since, unsigned *ret, bool masked)
{
	const __m256i nibble = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0,
						1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
	const __m256i low = _mm256_set1_epi8(0x0f);
	const __m256i vsince = _mm256_set1_epi64x(since);
	const __m256i none = _mm256_set1_epi64x(SCAN_NONE);
	/* x's nibbles: half 0 low and high, half 1 low and high. */
	__m256i xn[SCAN_GROUP][4], best[SCAN_GROUP];
#pragma GCC unroll 8
	for (size_t q = 0; q < k; q++) {
		__m256i x0 = _mm256_set1_epi64x((long long)x[q][0]);
		__m256i x1 = _mm256_set1_epi64x((long long)x[q][1]);
		xn[q][0] = _mm256_and_si256(x0, low);
		xn[q][1] = _mm256_and_si256(_mm256_srli_epi16(x0, 4), low);
		xn[q][2] = _mm256_and_si256(x1, low);
		xn[q][3] = _mm256_and_si256(_mm256_srli_epi16(x1, 4), low);
		best[q] = none;
	}
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		__m256i a = _mm256_loadu_si256((const __m256i *)(sim0 + i));
		__m256i b = _mm256_loadu_si256((const __m256i *)(sim1 + i));
		__m256i alo = _mm256_and_si256(a, low);
		__m256i ahi = _mm256_and_si256(_mm256_srli_epi16(a, 4), low);
		__m256i blo = _mm256_and_si256(b, low);
		__m256i bhi = _mm256_and_si256(_mm256_srli_epi16(b, 4), low);
		/* Opaque to the compiler, which would otherwise fold the masks back into each
		 * SimHash's xors ((a & m) ^ (x & m) is (a ^ x) & m): twice the work. */
		__asm__("" : "+x"(alo), "+x"(ahi), "+x"(blo), "+x"(bhi));
		__m256i old = _mm256_setzero_si256();
		if (masked) {
			__m256i f = _mm256_loadu_si256((const __m256i *)(fetched + i));
			old = _mm256_and_si256(_mm256_cmpgt_epi64(vsince, f), none);
		}
#pragma GCC unroll 8
		for (size_t q = 0; q < k; q++) {
			__m256i ca = _mm256_add_epi8(
			    _mm256_shuffle_epi8(nibble, _mm256_xor_si256(alo, xn[q][0])),
			    _mm256_shuffle_epi8(nibble, _mm256_xor_si256(ahi, xn[q][1])));
			__m256i cb = _mm256_add_epi8(
			    _mm256_shuffle_epi8(nibble, _mm256_xor_si256(blo, xn[q][2])),
			    _mm256_shuffle_epi8(nibble, _mm256_xor_si256(bhi, xn[q][3])));
			__m256i d =
			    _mm256_sad_epu8(_mm256_add_epi8(ca, cb), _mm256_setzero_si256());
			if (masked)
				d = _mm256_or_si256(d, old);
			best[q] = _mm256_min_epu32(best[q], d);
		}
	}
#pragma GCC unroll 8
	for (size_t q = 0; q < k; q++) {
		unsigned r = avx2_min(best[q]);
		unsigned tail = scan_popcnt(sim0 + i, sim1 + i, fetched ? fetched + i : NULL, n - i,
					    x[q], since);
		ret[q] = tail < r ? tail : r;
	}
}

__attribute__((target("avx2"))) static void
scan_avx2_group(const uint64_t *sim0, const uint64_t *sim1, const int64_t *fetched, size_t n,
		const uint64_t (*x)[2], size_t k, int64_t since, unsigned *best)
{
#define AVX2_GROUP(K)                                                                              \
	(fetched ? avx2_group_run(sim0, sim1, fetched, n, x, K, since, best, true)                 \
		 : avx2_group_run(sim0, sim1, fetched, n, x, K, since, best, false))
	SCAN_GROUP_DISPATCH(k, AVX2_GROUP)
#undef AVX2_GROUP
}

/* 8 entries at a time, the bit counts by vpopcntq, for k SimHashes (a constant where it is
 * inlined): each entry loaded once, their fetch times compared once; an entry fetched before
 * since leaves every minimum as it was (masked), and so does a lane past n (the last, partial
 * vector's loads are masked too). */
__attribute__((target("avx512f,avx512vpopcntdq"), always_inline)) static inline void
avx512_group_run(const uint64_t *sim0, const uint64_t *sim1, const int64_t *fetched, size_t n,
		 const uint64_t (*x)[2], size_t k, int64_t since, unsigned *ret, bool masked)
{
	const __m512i vsince = _mm512_set1_epi64(since);
	__m512i x0[SCAN_GROUP], x1[SCAN_GROUP], best[SCAN_GROUP];
#pragma GCC unroll 8
	for (size_t q = 0; q < k; q++) {
		x0[q] = _mm512_set1_epi64((long long)x[q][0]);
		x1[q] = _mm512_set1_epi64((long long)x[q][1]);
		best[q] = _mm512_set1_epi64(SCAN_NONE);
	}
	/* Whole vectors, then the last, partial one (masked loads, its lanes past n left out). */
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m512i a = _mm512_loadu_si512(sim0 + i);
		__m512i b = _mm512_loadu_si512(sim1 + i);
		__mmask8 live = 0xff;
		if (masked)
			live = _mm512_cmpge_epi64_mask(_mm512_loadu_si512(fetched + i), vsince);
#pragma GCC unroll 8
		for (size_t q = 0; q < k; q++) {
			__m512i d =
			    _mm512_add_epi64(_mm512_popcnt_epi64(_mm512_xor_si512(a, x0[q])),
					     _mm512_popcnt_epi64(_mm512_xor_si512(b, x1[q])));
			best[q] = masked ? _mm512_mask_min_epu64(best[q], live, best[q], d)
					 : _mm512_min_epu64(best[q], d);
		}
	}
	if (i < n) {
		__mmask8 live = (__mmask8)((1u << (n - i)) - 1);
		__m512i a = _mm512_maskz_loadu_epi64(live, sim0 + i);
		__m512i b = _mm512_maskz_loadu_epi64(live, sim1 + i);
		if (masked)
			live = _mm512_mask_cmpge_epi64_mask(
			    live, _mm512_maskz_loadu_epi64(live, fetched + i), vsince);
#pragma GCC unroll 8
		for (size_t q = 0; q < k; q++) {
			__m512i d =
			    _mm512_add_epi64(_mm512_popcnt_epi64(_mm512_xor_si512(a, x0[q])),
					     _mm512_popcnt_epi64(_mm512_xor_si512(b, x1[q])));
			best[q] = _mm512_mask_min_epu64(best[q], live, best[q], d);
		}
	}
#pragma GCC unroll 8
	for (size_t q = 0; q < k; q++)
		ret[q] = (unsigned)_mm512_reduce_min_epu64(best[q]);
}

__attribute__((target("avx512f,avx512vpopcntdq"))) static void
scan_avx512_group(const uint64_t *sim0, const uint64_t *sim1, const int64_t *fetched, size_t n,
		  const uint64_t (*x)[2], size_t k, int64_t since, unsigned *best)
{
#define AVX512_GROUP(K)                                                                            \
	(fetched ? avx512_group_run(sim0, sim1, fetched, n, x, K, since, best, true)               \
		 : avx512_group_run(sim0, sim1, fetched, n, x, K, since, best, false))
	SCAN_GROUP_DISPATCH(k, AVX512_GROUP)
#undef AVX512_GROUP
}

static bool usable_popcnt(void)
{
	return __builtin_cpu_supports("popcnt");
}

static bool usable_avx2(void)
{
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
}

static bool usable_avx512(void)
{
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq") &&
	       __builtin_cpu_supports("popcnt");
}
#endif

/* Fastest first: the automatic choice is the first usable one. */
static const struct scan_impl scan_impls[] = {
#ifdef SCAN_X86
    {"avx512", scan_avx512_group, usable_avx512},
    {"avx2", scan_avx2_group, usable_avx2},
    {"popcnt", scan_popcnt_group, usable_popcnt},
#endif
    {"portable", scan_portable_group, usable_always},
};

static const struct scan_impl *scan_auto(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(scan_impls); i++)
		if (scan_impls[i].usable())
			return &scan_impls[i];
	return &scan_impls[ARRAY_SIZE(scan_impls) - 1];
}

int store_scan_select(struct store *s, const char *name)
{
	if (!name) {
		s->scan = scan_auto();
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(scan_impls); i++) {
		if (strcmp(scan_impls[i].name, name))
			continue;
		if (!scan_impls[i].usable())
			return -ENOTSUP;
		s->scan = &scan_impls[i];
		return 0;
	}
	return -ENOENT;
}

const char *store_scan_name(const struct store *s)
{
	return s->scan->name;
}

/* Window generations: 0 is none, and each is given once in the process, so that answers
 * scanned in one window (or one state of it) are never taken for another's. */
static atomic_uint_fast64_t window_gens;

static uint64_t window_gen_next(void)
{
	return (uint64_t)atomic_fetch_add(&window_gens, 1) + 1;
}

static void window_init(struct store *s)
{
	pthread_rwlockattr_t la;
	pthread_rwlockattr_init(&la);
	/* The store's thread, the writer, waits for no reader that came after it. */
	pthread_rwlockattr_setkind_np(&la, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&s->window_lock, &la);
	pthread_rwlockattr_destroy(&la);
	s->window.gen = window_gen_next();
}

static void window_drop(struct store *s)
{
	struct story_window *w = &s->window;
	pthread_rwlock_wrlock(&s->window_lock);
	free(w->sim0);
	free(w->sim1);
	free(w->fetched);
	free(w->story);
	free(w->pre);
	*w = (struct story_window){.gen = window_gen_next()};
	pthread_rwlock_unlock(&s->window_lock);
}

static void window_push(struct store *s, const uint64_t sim[2], int64_t fetched, int64_t story)
{
	struct story_window *w = &s->window;
	if (w->n == w->cap) { /* the entries move, their indices stay: gen too */
		pthread_rwlock_wrlock(&s->window_lock);
		w->cap = w->cap ? 2 * w->cap : 1024;
		w->sim0 = xreallocarray(w->sim0, w->cap, sizeof(*w->sim0));
		w->sim1 = xreallocarray(w->sim1, w->cap, sizeof(*w->sim1));
		w->fetched = xreallocarray(w->fetched, w->cap, sizeof(*w->fetched));
		w->story = xreallocarray(w->story, w->cap, sizeof(*w->story));
		pthread_rwlock_unlock(&s->window_lock);
	}
	if (w->n && fetched < w->fetched[w->n - 1])
		atomic_store_explicit(&w->unsorted, true, memory_order_relaxed);
	w->sim0[w->n] = sim[0];
	w->sim1[w->n] = sim[1];
	w->fetched[w->n] = fetched;
	w->story[w->n] = story;
	w->n++;
	atomic_store_explicit(&w->pub, w->n, memory_order_release);
}

/* Adds item id to the story window, when it is loaded and the item has a SimHash. */
static void window_add(struct store *s, int64_t id, const struct store_item *it)
{
	struct story_window *w = &s->window;
	if (!w->loaded || (!it->simhash[0] && !it->simhash[1]) || it->fetched < w->since)
		return;
	window_push(s, it->simhash, it->fetched, it->story > 0 ? it->story : id);
}

/* Loads the window of items fetched since `since`. */
static int window_load(struct store *s, int64_t since)
{
	window_drop(s);
	sqlite3_stmt *st = stmt(s, ST_STORY_WINDOW);
	sqlite3_bind_int64(st, 1, since);
	int r;
	while ((r = step(s, st)) == 1) {
		uint64_t sim[2] = {(uint64_t)sqlite3_column_int64(st, 1),
				   (uint64_t)sqlite3_column_int64(st, 2)};
		window_push(s, sim, sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 0));
	}
	if (r < 0) {
		window_drop(s);
		return r;
	}
	s->window.since = since;
	s->window.loaded = true;
	return 0;
}

/* Forgets the entries fetched before since, once they are at least half the window. */
static void window_trim(struct store *s, int64_t since)
{
	struct story_window *w = &s->window;
	size_t old = 0;
	while (old < w->n && w->fetched[old] < since)
		old++;
	if (old && 2 * old >= w->n) {
		pthread_rwlock_wrlock(&s->window_lock);
		size_t keep = 0;
		for (size_t i = 0; i < w->n; i++) {
			if (w->fetched[i] < since)
				continue;
			w->sim0[keep] = w->sim0[i];
			w->sim1[keep] = w->sim1[i];
			w->fetched[keep] = w->fetched[i];
			w->story[keep] = w->story[i];
			keep++;
		}
		w->n = keep;
		atomic_store_explicit(&w->pub, keep, memory_order_relaxed);
		w->gen = window_gen_next();
		pthread_rwlock_unlock(&s->window_lock);
		old = 0;
	}
	w->old = w->unsorted ? 0 : old;
	w->since = since;
	w->npre = 0;
}

/* The window holds the entries fetched since `since`, at least: loaded, or trimmed. */
static int window_ready(struct store *s, int64_t since)
{
	if (!s->window.loaded || since < s->window.since)
		return window_load(s, since);
	if (since > s->window.since)
		window_trim(s, since);
	return 0;
}

/* The smallest distance to x in the block of len entries at b (a group of one). */
static unsigned block_scan(const struct store *s, size_t b, size_t len, const uint64_t x[2],
			   int64_t since)
{
	const struct story_window *w = &s->window;
	const uint64_t one[1][2] = {{x[0], x[1]}};
	unsigned best;
	s->scan->group(w->sim0 + b, w->sim1 + b, w->unsorted ? w->fetched + b : NULL, len, one, 1,
		       since, &best);
	return best;
}

/* Scans entries [start, w->n) for simhash: lowers *best to the smallest distance found, and
 * sets *from to the first block where it occurs, when it is smaller than *best was. */
static void window_scan(const struct store *s, size_t start, const uint64_t simhash[2],
			int64_t since, unsigned *best, size_t *from)
{
	const struct story_window *w = &s->window;
	for (size_t b = start > w->old ? start : w->old; b < w->n && *best; b += SCAN_BLOCK) {
		size_t len = w->n - b < SCAN_BLOCK ? w->n - b : SCAN_BLOCK;
		unsigned d = block_scan(s, b, len, simhash, since);
		if (d < *best) {
			*best = d;
			*from = b;
		}
	}
}

/* The answers for the SimHashes of simhash not all zero, none found yet, in p (grown to fit). */
static size_t pre_fill(struct story_pre **p, size_t *cap, const uint64_t (*simhash)[2], size_t n)
{
	if (n > *cap) {
		*p = xreallocarray(*p, n, sizeof(**p));
		*cap = n;
	}
	size_t np = 0;
	for (size_t q = 0; q < n; q++)
		if (simhash[q][0] || simhash[q][1])
			(*p)[np++] = (struct story_pre){.sim = {simhash[q][0], simhash[q][1]},
							.best = SCAN_NONE};
	return np;
}

/*
 * Lowers each p[q].best to the smallest distance to p[q].sim among entries [start, end) of sim0
 * and sim1 (fetched: their fetch times, or NULL when every one was fetched since), and sets
 * p[q].from to the first block where it occurs. Block by block, every SimHash against the block
 * while it is in the first-level cache: the window is read from memory once, not once per
 * SimHash. Within a block, the SimHashes go by groups of SCAN_GROUP, each entry loaded once per
 * group; those already at distance 0 are done (no later entry comes first).
 */
static void pre_scan(const struct scan_impl *scan, const uint64_t *sim0, const uint64_t *sim1,
		     const int64_t *fetched, size_t start, size_t end, struct story_pre *pre,
		     size_t npre, int64_t since)
{
	for (size_t b = start; b < end; b += SCAN_BLOCK) {
		size_t len = end - b < SCAN_BLOCK ? end - b : SCAN_BLOCK;
		for (size_t q = 0; q < npre;) {
			uint64_t x[SCAN_GROUP][2];
			struct story_pre *p[SCAN_GROUP];
			unsigned d[SCAN_GROUP];
			size_t k = 0;
			for (; q < npre && k < SCAN_GROUP; q++) {
				if (!pre[q].best)
					continue;
				p[k] = &pre[q];
				x[k][0] = p[k]->sim[0];
				x[k][1] = p[k]->sim[1];
				k++;
			}
			if (!k)
				break;
			scan->group(sim0 + b, sim1 + b, fetched ? fetched + b : NULL, len,
				    (const uint64_t(*)[2])x, k, since, d);
			for (size_t j = 0; j < k; j++) {
				if (d[j] < p[j]->best) {
					p[j]->best = d[j];
					p[j]->from = b;
				}
			}
		}
	}
}

int store_story_prefetch(struct store *s, const uint64_t (*simhash)[2], size_t n, int64_t since)
{
	int r = window_ready(s, since);
	if (r < 0)
		return r;
	struct story_window *w = &s->window;
	w->npre = pre_fill(&w->pre, &w->pre_cap, simhash, n);
	pre_scan(s->scan, w->sim0, w->sim1, w->unsorted ? w->fetched : NULL, w->old, w->n, w->pre,
		 w->npre, since);
	w->pre_upto = w->n;
	return 0;
}

/* The first entry of [from, end) at distance p->best from p->sim among those fetched at or after
 * since (fetched: as for pre_scan), which must exist: narrowed down to 32 entries by the vector
 * scan, then found one by one. */
static size_t pre_first(const struct scan_impl *scan, const uint64_t *sim0, const uint64_t *sim1,
			const int64_t *fetched, size_t from, size_t end, const struct story_pre *p,
			int64_t since)
{
	const uint64_t one[1][2] = {{p->sim[0], p->sim[1]}};
	size_t i = from;
	for (;;) {
		size_t len = end - i < 32 ? end - i : 32;
		unsigned d;
		scan->group(sim0 + i, sim1 + i, fetched ? fetched + i : NULL, len, one, 1, since,
			    &d);
		if (d == p->best)
			break;
		i += len;
	}
	while ((fetched && fetched[i] < since) ||
	       popcount64(sim0[i] ^ p->sim[0]) + popcount64(sim1[i] ^ p->sim[1]) != p->best)
		i++;
	return i;
}

void store_story_scan_ahead(struct store *s, const uint64_t (*simhash)[2], size_t n, int64_t since,
			    struct store_story_ahead *ret)
{
	const struct story_window *w = &s->window;
	ret->gen = 0;
	ret->n = 0;
	pthread_rwlock_rdlock(&s->window_lock);
	size_t upto = atomic_load_explicit(&w->pub, memory_order_acquire);
	/* Set before the count that covers the entry which went back: read after it. */
	bool unsorted = atomic_load_explicit(&w->unsorted, memory_order_relaxed);
	if (!upto)
		goto out;
	ret->n = pre_fill(&ret->v, &ret->cap, simhash, n);
	/* In fetch time order, the entries fetched before since come first: skipped. */
	size_t lo = 0, hi = upto;
	while (!unsorted && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->fetched[mid] < since)
			lo = mid + 1;
		else
			hi = mid;
	}
	const int64_t *fetched = unsorted ? w->fetched : NULL;
	pre_scan(s->scan, w->sim0, w->sim1, fetched, lo, upto, ret->v, ret->n, since);
	/* The entry itself, not its block: store_story_adopt checks its fetch time. */
	for (size_t q = 0; q < ret->n; q++)
		if (ret->v[q].best < SCAN_NONE)
			ret->v[q].from = pre_first(s->scan, w->sim0, w->sim1, fetched,
						   ret->v[q].from, upto, &ret->v[q], since);
	ret->gen = w->gen;
	ret->upto = upto;
	ret->since = since;
out:
	pthread_rwlock_unlock(&s->window_lock);
}

/*
 * Why the answers taken equal store_story_prefetch's (and so, with store_story_find's scan of
 * the entries after upto, the plain loop's: the first entry in id order at the smallest
 * distance, among those fetched at or after since). The generation is the one scanned: entries
 * [0, upto) are the ones the scan read, at the same indices (only the store's thread appends,
 * after writing each entry; nothing moved or went, else the generation would have changed).
 * The scan's since is not later: the entries it considered are a superset S of those
 * store_story_prefetch(since) would, T (T is S less those fetched before since). For a SimHash
 * with no entry in S, there is none in T. Else let e be the first entry of S at the smallest
 * distance d: when e is fetched at or after since, e is in T, nothing in T (a part of S) is
 * closer than d, and nothing in T before e is at d (it would be in S before e): e is T's answer
 * too. When it is not, the answers are refused.
 */
int store_story_adopt(struct store *s, const struct store_story_ahead *a, int64_t since)
{
	if (!a->gen || a->since > since)
		return 0;
	int r = window_ready(s, since);
	if (r < 0)
		return r;
	struct story_window *w = &s->window;
	if (a->gen != w->gen)
		return 0;
	for (size_t q = 0; q < a->n; q++)
		if (a->v[q].best < SCAN_NONE && w->fetched[a->v[q].from] < since)
			return 0;
	if (a->n > w->pre_cap) {
		w->pre = xreallocarray(w->pre, a->n, sizeof(*w->pre));
		w->pre_cap = a->n;
	}
	if (a->n)
		memcpy(w->pre, a->v, a->n * sizeof(*a->v));
	w->npre = a->n;
	w->pre_upto = a->upto;
	return 1;
}

void store_story_ahead_clear(struct store_story_ahead *a)
{
	free(a->v);
	*a = (struct store_story_ahead){0};
}

int store_story_find(struct store *s, const uint64_t simhash[2], int64_t since, int max_distance,
		     int64_t *ret_story)
{
	if (!simhash[0] && !simhash[1])
		return 0;
	int r = window_ready(s, since);
	if (r < 0)
		return r;
	const struct story_window *w = &s->window;
	/* The smallest distance, and the first block where it occurs: entries before pre_upto
	 * as store_story_prefetch found them, when it was asked; those after it come later in id
	 * order, so they win only by being closer. */
	unsigned best = SCAN_NONE;
	size_t from = 0, start = 0;
	for (size_t q = 0; q < w->npre; q++) {
		const struct story_pre *p = &w->pre[q];
		if (p->sim[0] == simhash[0] && p->sim[1] == simhash[1]) {
			best = p->best;
			from = p->from;
			start = w->pre_upto;
			break;
		}
	}
	window_scan(s, start, simhash, since, &best, &from);
	if (max_distance < 0 || best > (unsigned)max_distance)
		return 0;
	for (size_t i = from; i < w->n; i++) {
		if (w->fetched[i] >= since &&
		    popcount64(w->sim0[i] ^ simhash[0]) + popcount64(w->sim1[i] ^ simhash[1]) ==
			best) {
			*ret_story = w->story[i];
			return 1;
		}
	}
	snprintf(s->err, sizeof(s->err), "story window scan found distance %u but no entry", best);
	return -EIO;
}

/* Forgets the pending document frequencies (they were written, or rolled back). */
static void df_drop(struct store *s)
{
	strtab_clear(&s->df);
	s->df_docs = 0;
}

/* Writes the pending document frequencies into term_df and meta, in the open transaction, and
 * forgets them. On failure the transaction is half done: only a rollback ends it. */
static int df_flush(struct store *s)
{
	if (!s->df.n && !s->df_docs)
		return 0;
	int r = 0;
	for (size_t i = 0; i < s->df.n && r == 0; i++) {
		sqlite3_stmt *st = stmt(s, ST_DF_ADD);
		bind_text(st, 1, s->df.v[i].key);
		sqlite3_bind_int64(st, 2, (int64_t)s->df.v[i].value);
		r = run(s, st);
	}
	if (r == 0 && s->df_docs) {
		sqlite3_stmt *st = stmt(s, ST_DOCS_ADD);
		sqlite3_bind_int64(st, 1, (int64_t)s->df_docs);
		r = run(s, st);
	}
	df_drop(s);
	if (r < 0)
		s->failed = true;
	return r;
}

/* Forgets the queued items (they were indexed, or rolled back). */
static void fts_drop(struct store *s)
{
	s->fts = (struct fts_queue){0};
}

/* Writes the queued items into items_fts, in the open transaction, and forgets them. An item
 * already gone is skipped. */
static int fts_flush(struct store *s)
{
	if (!s->fts.n)
		return 0;
	sqlite3_stmt *st = stmt(s, ST_FTS_ADD);
	sqlite3_bind_int64(st, 1, s->fts.first);
	sqlite3_bind_int64(st, 2, s->fts.last);
	int r = run(s, st);
	fts_drop(s);
	return r;
}

/* Queues new item id. Only the range of ids waits: a transaction holding several documents
 * would otherwise hold their texts twice. The items a transaction adds have consecutive ids
 * (SQLite gives a new row the largest id plus one); should one not follow, those queued before
 * it are indexed first, so that the range never takes in an item indexed already. */
static int fts_queue(struct store *s, int64_t id)
{
	if (s->fts.n && id != s->fts.last + 1) {
		int r = fts_flush(s);
		if (r < 0)
			return r;
	}
	if (!s->fts.n)
		s->fts.first = id;
	s->fts.last = id;
	s->fts.n++;
	return 0;
}

/*
 * items_fts's tokenizer, table-driven. FTS5's unicode61 decodes every character and looks up its
 * Unicode category and case folding through general-purpose tables: two fifths of the cost of
 * indexing an item (FTS5's hash of the tokens is most of the rest), a sixth of storing it, 58k
 * instructions for an article of 1,500 bytes; this takes 33k. store_open registers, on its
 * connection only, a tokenizer ("veille", with unicode61's arguments) that finds the same tokens
 * at the same positions: each code point it knows (ASCII, two-byte UTF-8, General Punctuation) is
 * classified and folded in one lookup, in tables filled at creation by asking SQLite's own
 * unicode61, created with the same arguments, what it makes of each of them; any other character,
 * or bytes that are not UTF-8 as SQLite reads it, go to SQLite's tokenizer, from where the store's
 * stopped to the next ASCII separator (ASCII separators always end a token). Should SQLite's
 * tokenizer ever not behave as this expects, the check at creation sees it and every text goes to
 * SQLite's. Of those tokens, the French function words and single letters are left out of the
 * index (schema_v9_fts_stop), in queries too. Other programs read the file as usual, but cannot
 * touch items_fts (search it, or delete or change items: its triggers write it) without the
 * store's tokenizer.
 */
#define TOK_CP2_FIRST	0x80 /* two-byte UTF-8: Latin, combining accents, Greek, Cyrillic... */
#define TOK_CP2_LAST	0x7FF
#define TOK_PUNCT_FIRST 0x2000 /* General Punctuation: ’ “ ” – — … and the narrow spaces */
#define TOK_PUNCT_LAST	0x206F
#define TOK_STOP_MAX	9
#define TOK_STOP_BITS	10
#define TOK_BUF		256 /* longer tokens (rare) go to SQLite's tokenizer */

enum tok_class {
	TOK_SEP,   /* a separator */
	TOK_START, /* begins or continues a token (a letter, a digit) */
	TOK_CONT,  /* continues a token, else a separator (a combining accent) */
};

/* What unicode61 makes of one code point: its class, and what it writes in a token. */
struct tok_char {
	uint8_t cls;
	uint8_t len;
	char fold[4];
};

/* The registration: SQLite's unicode61, which each instance also creates. Owned by SQLite
 * (tok_destroy, when the connection closes). */
struct tok_module {
	fts5_tokenizer orig;
	void *orig_ctx;
	bool fast; /* the last instance created passed its check */
	/* The function words (text_function_words) and single letters, left out of the index: a
	 * word of TOK_STOP_MAX bytes at most is a key (tok_stop_key), in an open-addressed set.
	 * Most tokens are looked up, about half of them not found: with the set under a quarter
	 * full, a lookup reads 1.2 slots on average (1.65 at twice the load). */
	struct tok_stop_key {
		uint64_t a, b;
	} stop[1u << TOK_STOP_BITS];
};

struct tok {
	const struct tok_module *m;
	Fts5Tokenizer *orig;
	bool fast; /* else every text goes to orig */
	/* This call leaves the function words out: not while checking the tokens at creation, nor
	 * in a prefix query (tok_tokenize) */
	bool drop;
	/* ascii[] folds the ASCII letters and digits to lower case and makes every other ASCII
	 * byte a separator (unicode61's default): runs of them are copied eight bytes at a time */
	bool swar;
	/* byte -> its folded form for an ASCII token character, 0 for an ASCII separator, 0x80
	 * for the first byte of anything else */
	unsigned char ascii[256];
	struct tok_char cp2[TOK_CP2_LAST - TOK_CP2_FIRST + 1];
	struct tok_char punct[TOK_PUNCT_LAST - TOK_PUNCT_FIRST + 1];
	char buf[TOK_BUF + 4];
};

typedef int tok_emit_fn(void *ctx, int flags, const char *token, int n, int start, int end);

static void tok_delete(Fts5Tokenizer *p)
{
	struct tok *t = (struct tok *)p;
	if (!t)
		return;
	if (t->orig)
		t->m->orig.xDelete(t->orig);
	free(t);
}

/* The first token a probe text makes, and how many. */
struct tok_probe {
	int n, len;
	char token[16];
};

static int tok_probe_cb(void *ctx, int flags, const char *token, int n, int start, int end)
{
	(void)flags;
	(void)start;
	(void)end;
	struct tok_probe *p = ctx;
	if (p->n++ == 0 && n >= 0 && (size_t)n <= sizeof(p->token)) {
		memcpy(p->token, token, (size_t)n);
		p->len = n;
	}
	return SQLITE_OK;
}

static int tok_utf8(char *z, uint32_t c)
{
	if (c < 0x80) {
		z[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		z[0] = (char)(0xC0 | c >> 6);
		z[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	z[0] = (char)(0xE0 | c >> 12);
	z[1] = (char)(0x80 | (c >> 6 & 0x3F));
	z[2] = (char)(0x80 | (c & 0x3F));
	return 3;
}

/* Asks SQLite's tokenizer about code point c, alone and between two letters: 0 with its entry,
 * or -1 when the answers fit none of the classes (the fast path is then off). */
static int tok_learn(struct tok *t, uint32_t c, struct tok_char *ret)
{
	char s[8];
	int n = tok_utf8(s + 1, c);
	s[0] = 'x';
	s[n + 1] = 'y';
	struct tok_probe alone = {0}, mid = {0};
	if (t->m->orig.xTokenize(t->orig, &alone, FTS5_TOKENIZE_DOCUMENT, s + 1, n, tok_probe_cb) !=
		SQLITE_OK ||
	    t->m->orig.xTokenize(t->orig, &mid, FTS5_TOKENIZE_DOCUMENT, s, n + 2, tok_probe_cb) !=
		SQLITE_OK)
		return -1;
	*ret = (struct tok_char){.cls = TOK_SEP};
	if (mid.n == 2 && alone.n == 0)
		return 0;
	/* One token: x, what c folds to, y. */
	if (mid.n != 1 || mid.len < 2 || mid.len > 2 + 4 || mid.token[0] != 'x' ||
	    mid.token[mid.len - 1] != 'y')
		return -1;
	ret->len = (uint8_t)(mid.len - 2);
	memcpy(ret->fold, mid.token + 1, ret->len);
	if (alone.n == 0) {
		ret->cls = TOK_CONT;
		return 0;
	}
	if (alone.n == 1 && alone.len == ret->len && !memcmp(alone.token, ret->fold, ret->len)) {
		ret->cls = TOK_START;
		return 0;
	}
	return -1;
}

/* The entry for the character at z[i], and its length in bytes; NULL when it is in no table, or
 * is not UTF-8 as SQLite reads it (which takes every continuation byte that follows a lead
 * byte). */
static inline const struct tok_char *tok_char(const struct tok *t, const unsigned char *z, int i,
					      int n, int *ret_len)
{
	unsigned char b = z[i];
	if (b >= 0xC2 && b <= 0xDF) {
		if (i + 1 >= n || (z[i + 1] & 0xC0) != 0x80 ||
		    (i + 2 < n && (z[i + 2] & 0xC0) == 0x80))
			return NULL;
		*ret_len = 2;
		return &t->cp2[((uint32_t)(b & 0x1F) << 6 | (z[i + 1] & 0x3F)) - TOK_CP2_FIRST];
	}
	if (b == 0xE2) { /* U+2000 to U+207F */
		if (i + 2 >= n || (z[i + 1] & 0xFE) != 0x80 || (z[i + 2] & 0xC0) != 0x80 ||
		    (i + 3 < n && (z[i + 3] & 0xC0) == 0x80))
			return NULL;
		uint32_t c = (uint32_t)(z[i + 1] & 0x3F) << 6 | (z[i + 2] & 0x3F);
		if (c > TOK_PUNCT_LAST - TOK_PUNCT_FIRST)
			return NULL;
		*ret_len = 3;
		return &t->punct[c];
	}
	return NULL;
}

/* The key of the word w[0..n), 0 < n <= TOK_STOP_MAX, read from TOK_STOP_MAX bytes at w (past
 * the word if need be): its first eight bytes, zero-padded, and its ninth and its length. */
static inline struct tok_stop_key tok_stop_key(const char *w, int n)
{
	uint64_t a = load8_le(w);
	if (n < 8)
		a &= (UINT64_C(1) << 8 * n) - 1;
	return (struct tok_stop_key){a, (n == 9 ? (unsigned char)w[8] : 0u) | (uint64_t)n << 8};
}

static inline size_t tok_stop_slot(struct tok_stop_key k)
{
	return (size_t)(((k.a ^ k.b) * UINT64_C(0x9e3779b97f4a7c15)) >> (64 - TOK_STOP_BITS));
}

static inline bool tok_stop_has(const struct tok_module *m, struct tok_stop_key k)
{
	for (size_t i = tok_stop_slot(k); m->stop[i].a; i = (i + 1) & ((1u << TOK_STOP_BITS) - 1))
		if (m->stop[i].a == k.a && m->stop[i].b == k.b)
			return true;
	return false;
}

/* Whether the folded token w[0..n) stays out of the index in this call (t->drop);
 * w[0..TOK_STOP_MAX) is readable. */
static inline bool tok_dropped(const struct tok *t, const char *w, int n)
{
	return t->drop && n <= TOK_STOP_MAX && tok_stop_has(t->m, tok_stop_key(w, n));
}

/* tok_stop_key of a word from anywhere (copied, so that nothing past it is read); false when it
 * is longer than TOK_STOP_MAX, and no key. */
static bool tok_stop_key_copy(const char *w, int n, struct tok_stop_key *ret)
{
	char b[16] = {0};
	if (n > TOK_STOP_MAX)
		return false;
	memcpy(b, w, (size_t)n);
	*ret = tok_stop_key(b, n);
	return true;
}

/* As tok_dropped, for a token from anywhere, with drop on. */
static bool tok_dropped_copy(const struct tok *t, const char *w, int n)
{
	struct tok_stop_key k;
	return tok_stop_key_copy(w, n, &k) && tok_stop_has(t->m, k);
}

/* SQLite's tokenizer on a piece of the text, its offsets made the whole text's. rc keeps what
 * the callback last said: SQLite's tokenizer reports a stop (SQLITE_DONE) as SQLITE_OK. */
struct tok_shift {
	const struct tok *t;
	void *ctx;
	tok_emit_fn *emit;
	int base, rc;
};

static int tok_shift_cb(void *ctx, int flags, const char *token, int n, int start, int end)
{
	struct tok_shift *sh = ctx;
	if (sh->t->drop && tok_dropped_copy(sh->t, token, n))
		return sh->rc = SQLITE_OK;
	return sh->rc = sh->emit(sh->ctx, flags, token, n, start + sh->base, end + sh->base);
}

/* The bytes of x (ASCII or not) that are no ASCII letter or digit, flagged in their high bit,
 * exactly for every byte; *ret_letters flags the ASCII letters (a flag >> 2 is their case bit).
 * Letters are found folded to lower case (| 0x20, which makes no other byte a letter). */
static inline uint64_t tok_not_alnum8(uint64_t x, uint64_t *ret_letters)
{
	uint64_t t = x & ~SWAR_HIGHS;
	uint64_t y = t | 0x2020202020202020ull;
	uint64_t digit = (t + 0x5050505050505050ull) & ~(t + 0x4646464646464646ull);
	uint64_t letter =
	    (y + 0x1F1F1F1F1F1F1F1Full) & ~(y + 0x0505050505050505ull) & ~x & SWAR_HIGHS;
	*ret_letters = letter;
	return ((digit & ~x) | letter | ~SWAR_HIGHS) ^ ~0ull;
}

#ifdef SWAR_SSE2
/* The sixteen bytes at p written to d with their ASCII letters lower-cased; *ret_alnum flags
 * (bit k for byte k) the ASCII letters and digits, *ret_high the bytes from 0x80. */
static inline void tok_fold16(const unsigned char *p, char *d, unsigned *ret_alnum,
			      unsigned *ret_high)
{
	__m128i x = load16(p);
	/* a byte is in a range of n from c when it is, moved by 0x80 - c, below -128 + n as
	 * signed bytes (the move wraps: no other byte lands there) */
	__m128i lower = _mm_or_si128(x, _mm_set1_epi8(0x20));
	__m128i letter = _mm_cmpgt_epi8(_mm_set1_epi8(-128 + 26),
					_mm_add_epi8(lower, _mm_set1_epi8((char)(0x80 - 'a'))));
	__m128i digit = _mm_cmpgt_epi8(_mm_set1_epi8(-128 + 10),
				       _mm_add_epi8(x, _mm_set1_epi8((char)(0x80 - '0'))));
	_mm_storeu_si128((__m128i *)d, _mm_or_si128(x, _mm_and_si128(letter, _mm_set1_epi8(0x20))));
	*ret_alnum = (unsigned)_mm_movemask_epi8(_mm_or_si128(letter, digit));
	*ret_high = high16(x);
}

/* The tokens in the sixteen bytes at z[i] made of ASCII letters and digits between ASCII
 * separators, emitted up to the first byte from 0x80 or the first token that may go on past
 * it or past the block: returns how many bytes it took. *ret_more: the caller can take the next
 * block where it stopped (it stopped at the start of a token that went on to the block's end,
 * or took the whole block), else it is at a byte from 0x80, or at a token that needs the
 * character loop. */
static inline int tok_block16(struct tok *t, void *ctx, const unsigned char *z, int i,
			      tok_emit_fn *emit, bool *ret_more, int *ret_rc)
{
	unsigned alnum, high;
	tok_fold16(z + i, t->buf, &alnum, &high);
	int lim = (int)first_bit(high | 0x10000u);
	unsigned a = alnum & ((1u << lim) - 1);
	while (a) {
		int s = (int)first_bit(a);
		int e = s + (int)first_bit(~(a >> s));
		if (e == lim) {
			*ret_more = lim == 16 && s > 0;
			return s;
		}
		if (!tok_dropped(t, t->buf + s, e - s) &&
		    (*ret_rc = emit(ctx, 0, t->buf + s, e - s, i + s, i + e)) != SQLITE_OK)
			return e;
		a &= ~0u << e;
	}
	*ret_more = lim == 16;
	return lim;
}
#endif

/* unicode61's loop: separators are skipped (a combining accent too), a token runs from a letter
 * or digit through letters, digits and accents, folded. */
static int tok_run(struct tok *t, void *ctx, int flags, const char *text, int n, tok_emit_fn *emit)
{
	const unsigned char *z = (const unsigned char *)text;
	int i = 0, rc = SQLITE_OK, len;
	while (rc == SQLITE_OK) {
		const struct tok_char *c;
		for (;;) {
			if (i >= n)
				goto done;
#ifdef SWAR_SSE2
			if (t->swar && i + 16 <= n) {
				bool more;
				i += tok_block16(t, ctx, z, i, emit, &more, &rc);
				if (rc != SQLITE_OK)
					goto done;
				if (more)
					continue;
			}
#endif
			unsigned char f = t->ascii[z[i]];
			if (f < 0x80) {
				if (f)
					break;
				i++;
				continue;
			}
			if (!(c = tok_char(t, z, i, n, &len)))
				goto slow;
			if (c->cls == TOK_START)
				break;
			i += len;
		}
		int start = i, o = 0;
		bool known = true;
		for (;;) {
			/* Runs of ASCII letters and digits, lower-cased sixteen or eight bytes at a
			 * time (the bytes past a run's end are written, and overwritten or never
			 * read); an ASCII byte that ends one ends the token. */
#ifdef SWAR_SSE2
			if (t->swar && i + 16 <= n && o <= TOK_BUF - 16) {
				unsigned alnum, high;
				tok_fold16(z + i, t->buf + o, &alnum, &high);
				int k = (int)first_bit(~alnum | 0x10000u);
				o += k;
				i += k;
				if (k == 16)
					continue;
				if (!(high >> k & 1))
					break;
			} else
#endif
			    if (t->swar && i + 8 <= n && o <= TOK_BUF - 8) {
				uint64_t letters;
				uint64_t x = load8_le(z + i);
				uint64_t m = tok_not_alnum8(x, &letters);
				store8_le(t->buf + o, x | letters >> 2);
				if (!m) {
					o += 8;
					i += 8;
					continue;
				}
				int k = (int)first_flagged(m);
				o += k;
				i += k;
				if (z[i] < 0x80)
					break;
			}
			/* One character: ASCII near the end of the text, else anything else. */
			if (i >= n)
				break;
			if (o > TOK_BUF - (int)sizeof(c->fold)) {
				known = false; /* a long token */
				break;
			}
			unsigned char f = t->ascii[z[i]];
			if (f < 0x80) {
				if (!f)
					break;
				t->buf[o++] = (char)f;
				i++;
				continue;
			}
			if (!(c = tok_char(t, z, i, n, &len))) {
				known = false;
				break;
			}
			if (c->cls == TOK_SEP)
				break;
			memcpy(t->buf + o, c->fold, sizeof(c->fold));
			o += c->len;
			i += len;
		}
		if (!known) {
			i = start;
			goto slow;
		}
		if (!tok_dropped(t, t->buf, o))
			rc = emit(ctx, 0, t->buf, o, start, i);
		continue;
	slow:;
		int end = i;
		while (end < n && t->ascii[z[end]])
			end++;
		struct tok_shift sh = {t, ctx, emit, i, SQLITE_OK};
		rc = t->m->orig.xTokenize(t->orig, &sh, flags, text + i, end - i, tok_shift_cb);
		if (rc == SQLITE_OK)
			rc = sh.rc;
		i = end;
	}
done:
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Tokens and offsets of a text, for the check at creation. */
struct tok_trace {
	char *p;
	size_t len, cap;
	bool overflow;
};

static int tok_trace_cb(void *ctx, int flags, const char *token, int n, int start, int end)
{
	struct tok_trace *tr = ctx;
	char head[48];
	int h = snprintf(head, sizeof(head), "%d %d %d %d:", flags, n, start, end);
	if (n < 0 || h < 0 || tr->len + (size_t)h + (size_t)n > tr->cap) {
		tr->overflow = true;
		return SQLITE_OK;
	}
	memcpy(tr->p + tr->len, head, (size_t)h);
	memcpy(tr->p + tr->len + h, token, (size_t)n);
	tr->len += (size_t)h + (size_t)n;
	return SQLITE_OK;
}

/* Letters with and without accents, composed and not, ligatures, typographic punctuation and
 * spaces, other scripts, a character beyond the tables and bytes that are not UTF-8. */
static const char tok_sample[] =
    "L\u2019\u00c9lys\u00e9e a dit \u00ab\u00a0non\u00a0\u00bb : C\u0152UR, c\u0153ur, "
    "na\u00efvet\u00e9, e\u0301te\u0301, \u0301x \u2014 12,5\u202f% \u2026 "
    "\u0391\u03b8\u03ae\u03bd\u03b1 \u041c\u043e\u0441\u043a\u0432\u0430 "
    "\u00df \u0130 \ufb01n \u4e2d\u6587 a\xc3 b\x80"
    "c \xe2\x80 \xed\xa0\x80 ok_1";

static int tok_create(void *ctx, const char **argv, int argc, Fts5Tokenizer **ret)
{
	struct tok_module *m = ctx;
	struct tok *t = calloc(1, sizeof(*t));
	if (!t)
		return SQLITE_NOMEM;
	t->m = m;
	int rc = m->orig.xCreate(m->orig_ctx, argv, argc, &t->orig);
	if (rc != SQLITE_OK) {
		free(t);
		return rc;
	}
	bool fast = true;
	for (uint32_t c = 0; c < 0x80 && fast; c++) {
		struct tok_char e = {.cls = TOK_SEP};
		/* NUL, which no probe text can hold: a separator to unicode61 */
		if (c && tok_learn(t, c, &e) < 0)
			fast = false;
		if (e.cls == TOK_CONT ||
		    (e.cls == TOK_START && (e.len != 1 || !e.fold[0] || e.fold[0] & 0x80)))
			fast = false;
		t->ascii[c] = e.cls == TOK_START ? (unsigned char)e.fold[0] : 0;
	}
	memset(t->ascii + 0x80, 0x80, 0x80);
	t->swar = fast;
	for (int c = 0; c < 0x80 && t->swar; c++) {
		int want = c >= 'A' && c <= 'Z'				      ? c - 'A' + 'a'
			   : (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c
									      : 0;
		t->swar = t->ascii[c] == want;
	}
	for (uint32_t c = TOK_CP2_FIRST; c <= TOK_CP2_LAST && fast; c++)
		fast = tok_learn(t, c, &t->cp2[c - TOK_CP2_FIRST]) == 0;
	for (uint32_t c = TOK_PUNCT_FIRST; c <= TOK_PUNCT_LAST && fast; c++)
		fast = tok_learn(t, c, &t->punct[c - TOK_PUNCT_FIRST]) == 0;
	if (fast) {
		char a[2048], b[2048];
		struct tok_trace ta = {.p = a, .cap = sizeof(a)}, tb = {.p = b, .cap = sizeof(b)};
		int n = (int)sizeof(tok_sample) - 1;
		fast = m->orig.xTokenize(t->orig, &ta, FTS5_TOKENIZE_DOCUMENT, tok_sample, n,
					 tok_trace_cb) == SQLITE_OK &&
		       tok_run(t, &tb, FTS5_TOKENIZE_DOCUMENT, tok_sample, n, tok_trace_cb) ==
			   SQLITE_OK &&
		       !ta.overflow && !tb.overflow && ta.len == tb.len && !memcmp(a, b, ta.len);
	}
	t->fast = fast;
	t->drop = true;
	m->fast = fast;
	*ret = (Fts5Tokenizer *)t;
	return SQLITE_OK;
}

/* A prefix query ("l'arm*"): its last token is a prefix and stays, even if it is a function word
 * ("de*" finds "défense"); the others are dropped as in the index. Each token is held until the
 * next one shows it is not the last. */
struct tok_last {
	const struct tok *t;
	void *ctx;
	tok_emit_fn *emit;
	bool held;
	struct buf tok; /* the token held */
	int start, end;
};

static int tok_last_cb(void *ctx, int flags, const char *token, int n, int start, int end)
{
	(void)flags;
	struct tok_last *l = ctx;
	int rc = SQLITE_OK;
	if (l->held && !tok_dropped_copy(l->t, l->tok.p, (int)l->tok.len))
		rc = l->emit(l->ctx, 0, l->tok.p, (int)l->tok.len, l->start, l->end);
	l->held = true;
	buf_reset(&l->tok);
	buf_append(&l->tok, token, (size_t)n);
	l->start = start;
	l->end = end;
	return rc;
}

/* Every token, or every token but the function words (t->drop). */
static int tok_each(struct tok *t, void *ctx, int flags, const char *text, int n, tok_emit_fn *emit)
{
	if (t->fast)
		return tok_run(t, ctx, flags, text, n, emit);
	struct tok_shift sh = {t, ctx, emit, 0, SQLITE_OK};
	return t->m->orig.xTokenize(t->orig, &sh, flags, text, n, tok_shift_cb);
}

static int tok_tokenize(Fts5Tokenizer *p, void *ctx, int flags, const char *text, int n,
			tok_emit_fn *emit)
{
	struct tok *t = (struct tok *)p;
	t->drop = !(flags & FTS5_TOKENIZE_PREFIX);
	if (t->drop)
		return tok_each(t, ctx, flags, text, n, emit);
	struct tok_last last = {.t = t, .ctx = ctx, .emit = emit};
	int rc = tok_each(t, &last, flags, text, n, tok_last_cb);
	if (rc == SQLITE_OK && last.held)
		rc = emit(ctx, 0, last.tok.p, (int)last.tok.len, last.start, last.end);
	buf_free(&last.tok);
	return rc;
}

static void tok_stop_add(void *ctx, const char *w)
{
	struct tok_module *m = ctx;
	struct tok_stop_key k;
	if (!tok_stop_key_copy(w, (int)strlen(w), &k))
		return;
	size_t i = tok_stop_slot(k);
	while (m->stop[i].a)
		i = (i + 1) & ((1u << TOK_STOP_BITS) - 1);
	m->stop[i] = k;
}

static void tok_destroy(void *p)
{
	free(p);
}

/* Registers items_fts's tokenizer, "veille", on s's connection. */
static int tok_register(struct store *s)
{
	fts5_api *api = NULL;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, "SELECT fts5(?1)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(s, rc);
	sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
	sqlite3_step(st);
	sqlite3_finalize(st);
	if (!api || api->iVersion < 2) {
		snprintf(s->err, sizeof(s->err), "SQLite has no FTS5");
		return -EIO;
	}
	struct tok_module *m = xcalloc(1, sizeof(*m));
	text_function_words(tok_stop_add, m);
	for (char c[2] = "a"; c[0] <= 'z'; c[0]++)
		tok_stop_add(m, c);
	if ((rc = api->xFindTokenizer(api, "unicode61", &m->orig_ctx, &m->orig)) != SQLITE_OK) {
		free(m);
		return fail(s, rc);
	}
	fts5_tokenizer tk = {tok_create, tok_delete, tok_tokenize};
	if ((rc = api->xCreateTokenizer(api, "veille", m, &tk, tok_destroy)) != SQLITE_OK) {
		free(m);
		return fail(s, rc);
	}
	s->tok = m;
	return 0;
}

bool store_fts_fast(const struct store *s)
{
	return s->tok && s->tok->fast;
}

static int user_version(struct store *s, int *ret)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(s, rc);
	rc = sqlite3_step(st);
	int r = 0;
	if (rc == SQLITE_ROW)
		*ret = sqlite3_column_int(st, 0);
	else
		r = fail(s, rc);
	sqlite3_finalize(st);
	return r;
}

static int migrate_steps(struct store *s, int target);

/* Applies the missing migration steps, each in one transaction. Another process may migrate the
 * same file at the same time: the version is read again under the write lock. */
static int migrate_to(struct store *s, int target)
{
	int r, v = 0;
	/* Current already (the common case): no write at all, so a read-only file opens too. */
	if ((r = user_version(s, &v)) < 0)
		return r;
	if (v == target) {
		s->version = v;
		return 0;
	}
	/* Foreign keys are off while a step rebuilds a table that others refer to (PRAGMA
	 * foreign_keys is a no-op inside a transaction): the rebuilt table keeps every row id. */
	bool rebuild = false;
	for (int k = v; k < target && k < STORE_VERSION; k++)
		rebuild |= migrations[k].rebuild;
	if (rebuild && (r = exec(s, "PRAGMA foreign_keys = OFF")) < 0)
		return r;
	r = migrate_steps(s, target);
	if (rebuild) {
		int rf = exec(s, "PRAGMA foreign_keys = ON");
		if (r >= 0)
			r = rf;
	}
	return r;
}

static void (*upgrade_hook)(int from, int to);
static unsigned upgrade_every_ms;

void store_set_upgrade_hook(void (*hook)(int from, int to), unsigned every_ms)
{
	upgrade_hook = hook;
	upgrade_every_ms = every_ms;
}

/* An upgrade under way: the versions upgrade_hook is told, and when it was told last. */
struct upgrade {
	int from, to;
	uint64_t told_ms;
};

static void upgrade_tell(struct upgrade *u)
{
	u->told_ms = now_mono_ms();
	upgrade_hook(u->from, u->to);
}

/* SQLite's progress handler during the steps: never interrupts (returns 0). */
static int upgrade_progress(void *arg)
{
	struct upgrade *u = arg;
	if (now_mono_ms() - u->told_ms >= upgrade_every_ms)
		upgrade_tell(u);
	return 0;
}

/* migrate_to's steps, each in its own transaction. */
static int migrate_steps(struct store *s, int target)
{
	int r, v = 0;
	struct upgrade u = {.to = target};
	bool told = false;
	for (;;) {
		if ((r = exec(s, "BEGIN IMMEDIATE")) < 0)
			goto fail; /* the progress handler goes too */
		if ((r = user_version(s, &v)) < 0)
			goto fail;
		if (v > STORE_VERSION) {
			snprintf(s->err, sizeof(s->err),
				 "database schema version %d is newer than this program's (%d)", v,
				 STORE_VERSION);
			r = -EPROTO;
			goto fail;
		}
		if (v >= target)
			break;
		if (upgrade_hook && !told) {
			told = true;
			u.from = v;
			upgrade_tell(&u);
			sqlite3_progress_handler(s->db, 1000, upgrade_progress, &u);
		}
		if ((r = exec(s, migrations[v].sql)) < 0)
			goto fail;
		char sql[64];
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if ((r = exec(s, sql)) < 0)
			goto fail;
		if ((r = exec(s, "COMMIT")) < 0)
			goto fail;
		s->migrated++;
	}
	s->version = v;
	r = exec(s, "COMMIT");
	sqlite3_progress_handler(s->db, 0, NULL, NULL);
	return r;
fail:
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_progress_handler(s->db, 0, NULL, NULL);
	return r;
}

static int migrate(struct store *s)
{
	return migrate_to(s, STORE_VERSION);
}

/* Readonly opens check the version without migrating. */
static int check_version(struct store *s)
{
	int r = user_version(s, &s->version);
	if (r < 0)
		return r;
	if (s->version == STORE_VERSION)
		return 0;
	if (s->version == 0)
		snprintf(s->err, sizeof(s->err), "not a veille database (no schema)");
	else
		snprintf(s->err, sizeof(s->err),
			 "database schema version %d, this program reads version %d%s", s->version,
			 STORE_VERSION, s->version < STORE_VERSION ? " (veilled migrates it)" : "");
	return -EPROTO;
}

/* The database's page size in bytes. */
static int page_size(struct store *s, int *ret)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(s, rc);
	rc = sqlite3_step(st);
	int r = 0;
	if (rc == SQLITE_ROW && sqlite3_column_int(st, 0) > 0)
		*ret = sqlite3_column_int(st, 0);
	else
		r = rc == SQLITE_ROW ? -EIO : fail(s, rc);
	sqlite3_finalize(st);
	return r;
}

/*
 * A checkpoint copies the WAL back into the database once it holds this many bytes, rather than
 * SQLite's 1000 pages: a page that several commits rewrite in between (the leaves of the hash
 * index, which every commit touches at random, FTS5's structure) is copied once. A cold cycle
 * of 1,000 feeds writes a sixth fewer bytes. The WAL file grows to about this size and keeps
 * it while the database is open; the last connection to close checkpoints and removes it.
 */
#define WAL_CHECKPOINT_BYTES (64 << 20)

static int configure(struct store *s)
{
	int r;
	if ((r = exec(s, "PRAGMA foreign_keys = ON")) < 0)
		return r;
	if (s->readonly)
		return exec(s, "PRAGMA query_only = ON");
	/* A file we may not write was opened read-only by SQLite: it keeps the journal mode it
	 * has, and writes fail with -EROFS where they are attempted. */
	if (sqlite3_db_readonly(s->db, "main") == 1)
		return 0;
	int rc = sqlite3_create_function(s->db, "veille_key", 1,
					 SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY,
					 NULL, key_fn, NULL, NULL);
	if (rc != SQLITE_OK)
		return fail(s, rc);
	if ((r = exec(s, "PRAGMA synchronous = NORMAL")) < 0)
		return r;
	/* Debian builds SQLite with secure_delete on: every page freed (FTS5's merged segments,
	 * pages a split or a deletion empties, a long row's overflow pages) is overwritten with
	 * zeros and written to the WAL, then to the file, though no table reads it again. FAST
	 * still zeros deleted content on the pages a change writes anyway, but leaves free pages
	 * unwritten: a cold cycle of 50,000 items writes 2% fewer blocks. The price: the text of
	 * a deleted item may stay in a free page of the file until the page is used again, which
	 * for published news is no secret (sqlite3's VACUUM rewrites the file without them). */
	if ((r = exec(s, "PRAGMA secure_delete = FAST")) < 0)
		return r;
	/* PRAGMA optimize (store_optimize: every few hours, and at the end of --once) reads about
	 * 400 entries of each index it analyses, as SQLite advises for it, instead of all of them:
	 * estimates as good for the query planner, in a millisecond instead of 60 to 110 ms at
	 * 50,000 items (growing with the database), during which the loop did nothing else. */
	if ((r = exec(s, "PRAGMA analysis_limit = 400")) < 0)
		return r;
	/* A new file gets 8 KiB pages (an existing one keeps its own): an item's row and FTS5's
	 * index pages (schema_v6_fts_pgsz) fit in fewer pages, a tenth less work per new item.
	 * 16 KiB pages cost more than they save (every page written is copied to the WAL). */
	if ((r = exec(s, "PRAGMA page_size = 8192")) < 0)
		return r;
	sqlite3_stmt *st;
	rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(s, rc);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		r = fail(s, rc);
	} else if (strcmp(col_text(st, 0), "wal")) {
		snprintf(s->err, sizeof(s->err), "cannot use WAL mode (journal mode stays %s)",
			 col_text(st, 0));
		r = -EIO;
	}
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	int page;
	if ((r = page_size(s, &page)) < 0)
		return r;
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA wal_autocheckpoint = %d", WAL_CHECKPOINT_BYTES / page);
	return exec(s, sql);
}

/*
 * Checkpoints on a thread of their own (store_wal_background). A commit that finds
 * WAL_CHECKPOINT_BYTES in the WAL copies them back into the database and syncs the file before
 * it returns; the daemon's loop waited meanwhile, and its worker too once it had prepared what it
 * could: a cold cycle of 1,000 feeds makes four such commits, each about 40 ms of copying and 60
 * to 110 ms of fsync on a virtual disk. A second connection copies them instead, beside the
 * first: SQLite lets a checkpoint run while one connection writes, copying the frames committed
 * before it started.
 *
 * The writer starts the WAL over (instead of growing it) only at its first write after a
 * checkpoint that left nothing to copy, and it commits again while the thread copies: so its
 * next commit after the thread's checkpoint copies what was committed meanwhile itself (a few
 * commits' pages instead of WAL_CHECKPOINT_BYTES), as SQLite's automatic checkpoint would have,
 * and the WAL starts over as it did. It holds about WAL_CHECKPOINT_BYTES at most, plus what is
 * committed during the thread's checkpoint.
 */
struct ckpt {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	sqlite3 *db;   /* the thread's connection */
	int threshold; /* frames: WAL_CHECKPOINT_BYTES */
	/* under mu */
	int copied; /* frames at the start of the WAL known to be in the database */
	bool want;  /* the thread is asked to checkpoint, or checkpointing */
	bool stop;
};

/* The WAL hook of the writing connection, after each commit: frames is the WAL's length. */
static int ckpt_hook_cb(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct ckpt *c = arg;
	pthread_mutex_lock(&c->mu);
	if (frames < c->copied)
		c->copied = 0; /* the WAL started over */
	bool go = false, finish = false;
	if (!c->want && frames - c->copied >= c->threshold)
		go = c->want = true;
	else if (!c->want && c->copied > 0 && frames > c->copied)
		finish = true; /* the rest, after the thread's checkpoint */
	pthread_mutex_unlock(&c->mu);
	if (go)
		pthread_cond_signal(&c->cv);
	if (finish) {
		int log = -1, done = -1;
		int rc =
		    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
		pthread_mutex_lock(&c->mu);
		if (rc == SQLITE_OK && done > c->copied)
			c->copied = done;
		pthread_mutex_unlock(&c->mu);
	}
	return SQLITE_OK;
}

static void *ckpt_main(void *arg)
{
	struct ckpt *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->want && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop)
			break;
		pthread_mutex_unlock(&c->mu);
		/* PASSIVE: never waits for the writer or a reader. A failure (the disk is full, a
		 * reader holds old frames) leaves the frames in the WAL: the next commit asks
		 * again, as SQLite's own automatic checkpoint would. */
		int log = -1, done = -1;
		int rc =
		    sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
		pthread_mutex_lock(&c->mu);
		if (rc == SQLITE_OK && done > c->copied)
			c->copied = done;
		c->want = false;
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* Stops and frees c: waits for a checkpoint under way. */
static void ckpt_free(struct ckpt *c)
{
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_mutex_unlock(&c->mu);
	pthread_cond_signal(&c->cv);
	pthread_join(c->thread, NULL);
	sqlite3_close(c->db);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int store_wal_background(struct store *s)
{
	if (s->ckpt || s->readonly || sqlite3_db_readonly(s->db, "main") != 0)
		return 0;
	int page, r;
	if ((r = page_size(s, &page)) < 0)
		return r;
	struct ckpt *c = xcalloc(1, sizeof(*c));
	c->threshold = WAL_CHECKPOINT_BYTES / page;
	const char *path = sqlite3_db_filename(s->db, "main");
	int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK)
		/* It reads no table: no lookaside buffers, no page cache worth the name. */
		rc = sqlite3_db_config(c->db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 0, 0);
	/* A read of the header opens the WAL for the connection (a checkpoint on one that has
	 * read nothing yet does nothing); the schema is not read. */
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(c->db, "PRAGMA synchronous = NORMAL; PRAGMA schema_version", NULL,
				  NULL, NULL);
	if (rc != SQLITE_OK) {
		snprintf(s->err, sizeof(s->err), "cannot open a connection to checkpoint: %s",
			 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		sqlite3_close(c->db);
		free(c);
		return -EIO;
	}
	sqlite3_wal_autocheckpoint(c->db, 0);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	/* Signals stay the loop's business. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&c->thread, NULL, ckpt_main, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		snprintf(s->err, sizeof(s->err), "cannot start a thread to checkpoint: %s",
			 strerror(r));
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		sqlite3_close(c->db);
		free(c);
		return -r;
	}
	s->ckpt = c;
	sqlite3_wal_hook(s->db, ckpt_hook_cb, c); /* replaces SQLite's automatic checkpoint */
	return 0;
}

double store_checkpoint_cpu(const struct store *s)
{
	return s->ckpt ? thread_cpu_seconds(s->ckpt->thread) : 0;
}

void store_checkpoint_soon(struct store *s)
{
	struct ckpt *c = s->ckpt;
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	bool go = !c->want;
	c->want = true;
	pthread_mutex_unlock(&c->mu);
	if (go)
		pthread_cond_signal(&c->cv);
}

/*
 * SQLite counts every allocation it makes under a global mutex, for sqlite3_memory_used() and
 * soft heap limits, neither of which veille uses; without it, several thousand instructions
 * less per stored item. The setting is only taken before SQLite initialises, at the first
 * open of the process.
 */
static void sqlite_setup(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

struct store *store_open(const char *path, bool readonly, char **ret_err)
{
	struct store *s = xcalloc(1, sizeof(*s));
	struct stat sb;
	int r;
	window_init(s);
	s->readonly = readonly;
	s->scan = scan_auto();
	if (readonly && stat(path, &sb) < 0) {
		*ret_err = xasprintf("%s: cannot open the database: %s", path, strerror(errno));
		goto fail;
	}
	sqlite_setup();
	int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	int rc = sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		*ret_err =
		    xasprintf("%s: %s", path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, 5000);
	if ((r = tok_register(s)) < 0 || (r = configure(s)) < 0 ||
	    (r = readonly ? check_version(s) : migrate(s)) < 0)
		goto fail_err;
	/* The daemon's connection prepares every statement now, so a statement SQLite refuses
	 * stops it at start; a read-only one (the worker's, veillectl's) prepares the few it uses
	 * when it uses them: a third of a megabyte less each. */
	for (int i = 0; i < ST_MAX && !readonly; i++)
		if ((r = prepare(s, i)) < 0)
			goto fail_err;
	return s;
fail_err:
	*ret_err = xasprintf("%s: %s", path, s->err);
fail:
	store_close(s);
	return NULL;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	/* First, so that this connection, the last, checkpoints what is left and removes the
	 * WAL. */
	if (s->ckpt) {
		sqlite3_wal_hook(s->db, NULL, NULL);
		ckpt_free(s->ckpt);
	}
	for (int i = 0; i < ST_MAX; i++)
		sqlite3_finalize(s->stmt[i]);
	/* A transaction left open is rolled back by close. */
	sqlite3_close(s->db);
	fts_drop(s);
	strtab_free(&s->df);
	free(s->feed_name);
	window_drop(s);
	pthread_rwlock_destroy(&s->window_lock);
	free(s);
}

const char *store_errmsg(const struct store *s)
{
	return s->err;
}

int store_schema_version(const struct store *s)
{
	return s->version;
}

int store_migrations_applied(const struct store *s)
{
	return s->migrated;
}

int store_limit_size(struct store *s, uint64_t max_bytes)
{
	char sql[96];
	if (max_bytes == 0) {
		snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %u", 0xfffffffeu);
	} else {
		int page, r = page_size(s, &page);
		if (r < 0)
			return r;
		uint64_t pages = max_bytes / (uint64_t)page;
		snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %llu",
			 (unsigned long long)(pages ? pages : 1));
	}
	return exec(s, sql);
}

/* Forgets a feed remembered as missing: another connection may create it once the transaction
 * ends, and store_feed_save creates it too. */
static void feed_forget_absent(struct store *s)
{
	if (s->feed_name && !s->feed_id) {
		free(s->feed_name);
		s->feed_name = NULL;
	}
}

/* A transaction SQLite ended by itself that the caller did not roll back: it is over, and what
 * was kept for it goes as store_rollback lets it go. */
static void tx_forget_lost(struct store *s)
{
	if (s->tx && sqlite3_get_autocommit(s->db))
		store_rollback(s);
}

int store_begin(struct store *s)
{
	tx_forget_lost(s);
	feed_forget_absent(s);
	int r = run(s, stmt(s, ST_BEGIN));
	if (r == 0) {
		s->failed = false;
		s->tx = true;
	}
	return r;
}

int store_commit(struct store *s)
{
	feed_forget_absent(s);
	/* SQLite may have rolled the transaction back by itself (SQLITE_FULL...): what was queued
	 * is gone with it, and COMMIT says so. */
	if (sqlite3_get_autocommit(s->db)) {
		fts_drop(s);
		df_drop(s);
	}
	if (tx_lost(s) || s->failed) {
		snprintf(s->err, sizeof(s->err),
			 "a change failed in this transaction: it must be rolled back");
		return -EIO;
	}
	/* term_df before items_fts, whose statement is best the transaction's last. */
	int r = df_flush(s);
	if (r == 0)
		r = fts_flush(s);
	if (r < 0)
		return r;
	r = run(s, stmt(s, ST_COMMIT));
	if (r == 0)
		s->tx = false;
	return r;
}

int store_rollback(struct store *s)
{
	s->failed = false;
	s->tx = false;
	free(s->feed_name);
	s->feed_name = NULL;
	window_drop(s);
	fts_drop(s);
	df_drop(s);
	/* SQLite rolls back by itself after some errors (SQLITE_FULL, SQLITE_IOERR...). */
	if (sqlite3_get_autocommit(s->db))
		return 0;
	return run(s, stmt(s, ST_ROLLBACK));
}

void store_feed_clear(struct store_feed *f)
{
	if (!f)
		return;
	free(f->name);
	free(f->url);
	free(f->etag);
	free(f->last_modified);
	free(f->last_error);
	free(f->config_url);
	memset(f, 0, sizeof(*f));
}

/* Fills f from FEED_COLUMNS starting at column first. */
static void feed_read(sqlite3_stmt *st, int first, struct store_feed *f)
{
	f->url = col_dup(st, first);
	f->etag = col_dup(st, first + 1);
	f->last_modified = col_dup(st, first + 2);
	f->last_error = col_dup(st, first + 3);
	f->last_fetch = sqlite3_column_int64(st, first + 4);
	f->next_fetch = sqlite3_column_int64(st, first + 5);
	f->last_status = sqlite3_column_int(st, first + 6);
	f->errors = (unsigned)sqlite3_column_int64(st, first + 7);
	f->items = (uint64_t)sqlite3_column_int64(st, first + 8);
	f->disabled = sqlite3_column_int(st, first + 9) != 0;
	f->config_url = col_dup(st, first + 10);
	f->items_per_week = sqlite3_column_type(st, first + 11) == SQLITE_NULL
				? -1
				: sqlite3_column_double(st, first + 11);
	int64_t ttl = sqlite3_column_int64(st, first + 12);
	f->ttl = ttl > 0 ? ttl : 0;
}

int store_feed_load(struct store *s, const char *name, struct store_feed *ret)
{
	sqlite3_stmt *st = stmt(s, ST_FEED_LOAD);
	bind_text(st, 1, name);
	int r = step(s, st);
	if (r < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	ret->name = xstrdup(name);
	ret->items_per_week = -1;
	if (r == 0)
		return -ENOENT;
	feed_read(st, 0, ret);
	done(st);
	return 0;
}

int store_feed_save(struct store *s, const struct store_feed *f)
{
	if (!f->name)
		return -EINVAL;
	feed_forget_absent(s);
	sqlite3_stmt *st = stmt(s, ST_FEED_SAVE);
	bind_text(st, 1, f->name);
	bind_text(st, 2, f->url);
	bind_text(st, 3, f->etag);
	bind_text(st, 4, f->last_modified);
	bind_text(st, 5, f->last_error);
	sqlite3_bind_int64(st, 6, f->last_fetch);
	sqlite3_bind_int64(st, 7, f->next_fetch);
	sqlite3_bind_int(st, 8, f->last_status);
	sqlite3_bind_int64(st, 9, f->errors);
	sqlite3_bind_int64(st, 10, (int64_t)f->items);
	sqlite3_bind_int(st, 11, f->disabled);
	bind_text(st, 12, f->config_url);
	if (f->items_per_week >= 0)
		sqlite3_bind_double(st, 13, f->items_per_week);
	else
		sqlite3_bind_null(st, 13);
	if (f->ttl > 0)
		sqlite3_bind_int64(st, 14, f->ttl);
	else
		sqlite3_bind_null(st, 14);
	return run(s, st);
}

int store_feeds_each(struct store *s, int (*cb)(const struct store_feed *f, void *arg), void *arg)
{
	sqlite3_stmt *st = stmt(s, ST_FEEDS_EACH);
	int r;
	while ((r = step(s, st)) == 1) {
		struct store_feed f = {0};
		f.name = col_dup(st, 0);
		feed_read(st, 1, &f);
		r = cb(&f, arg);
		store_feed_clear(&f);
		if (r) {
			done(st);
			return r;
		}
	}
	return r;
}

static void feed_remember(struct store *s, const char *name, int64_t id)
{
	if (!s->feed_name || strcmp(s->feed_name, name)) {
		free(s->feed_name);
		s->feed_name = xstrdup(name);
	}
	s->feed_id = id;
}

/* Sets *ret to the row id of feed name: 1, or 0 when there is no such feed. Feed rows are never
 * deleted or renamed, so the remembered one stays right outside a transaction too. A feed found
 * missing is remembered as such until the transaction ends: a new feed's first document looks up
 * each of its items before the row exists (ingest_triage). */
static int feed_find(struct store *s, const char *name, int64_t *ret)
{
	if (s->feed_name && !strcmp(s->feed_name, name)) {
		*ret = s->feed_id;
		return s->feed_id != 0;
	}
	sqlite3_stmt *st = stmt(s, ST_FEED_ID);
	bind_text(st, 1, name);
	int r = step(s, st);
	if (r == 0 && !sqlite3_get_autocommit(s->db))
		feed_remember(s, name, 0);
	if (r <= 0)
		return r;
	*ret = sqlite3_column_int64(st, 0);
	done(st);
	feed_remember(s, name, *ret);
	return 1;
}

/* Sets *ret to the row id of feed name, creating the row when missing. */
static int feed_id(struct store *s, const char *name, int64_t *ret)
{
	int r = feed_find(s, name, ret);
	if (r != 0)
		return r < 0 ? r : 0;
	sqlite3_stmt *st = stmt(s, ST_FEED_CREATE);
	bind_text(st, 1, name);
	if ((r = run(s, st)) < 0) /* no RETURNING: see item_add */
		return r;
	*ret = sqlite3_last_insert_rowid(s->db);
	feed_remember(s, name, *ret);
	return 0;
}

/* Steps statement id, looking up the source (feed, identity): 1 with its row in *ret_st (the
 * caller reads it, then calls done), 0 when the feed or the source is unknown, or an error. */
static int source_step(struct store *s, enum stmt id, const char *feed, const char *identity,
		       sqlite3_stmt **ret_st)
{
	if (!feed || !identity)
		return -EINVAL;
	int64_t fid;
	int r = feed_find(s, feed, &fid);
	if (r <= 0)
		return r;
	sqlite3_stmt *st = stmt(s, id);
	sqlite3_bind_int64(st, 1, fid);
	bind_text(st, 2, identity);
	*ret_st = st;
	return step(s, st);
}

int store_item_seen(struct store *s, const char *feed, const char *identity)
{
	sqlite3_stmt *st;
	int r = source_step(s, ST_SEEN, feed, identity, &st);
	if (r == 1)
		done(st);
	return r;
}

/* The body of store_item_add, inside its savepoint. */
static int item_add(struct store *s, const struct store_item *it, int64_t *ret_id)
{
	int64_t fid, id;
	int r = feed_id(s, it->feed, &fid);
	if (r < 0)
		return r;

	/* Already stored: the same content, or the same canonical link. Under the write lock, so
	 * nothing can store it between this look and the insert. */
	sqlite3_stmt *st = stmt(s, ST_ITEM_FIND);
	bind_text(st, 1, it->hash);
	bind_text(st, 2, it->canonical_link);
	bind_key(st, 3, it->hash);
	bind_key(st, 4, it->canonical_link);
	if ((r = step(s, st)) < 0)
		return r;
	int isnew = r == 0;
	if (!isnew) {
		id = sqlite3_column_int64(st, 0);
		done(st);
	} else {
		st = stmt(s, ST_ITEM_INSERT);
		sqlite3_bind_int64(st, 1, fid);
		bind_text(st, 2, it->guid);
		bind_text(st, 3, it->link);
		bind_text(st, 4, it->canonical_link);
		bind_text(st, 5, it->title);
		bind_text(st, 6, it->author);
		bind_text(st, 7, it->summary);
		bind_text(st, 8, it->content);
		bind_text(st, 9, it->hash);
		if (it->published == FEED_NO_DATE)
			sqlite3_bind_null(st, 10);
		else
			sqlite3_bind_int64(st, 10, it->published);
		sqlite3_bind_int64(st, 11, it->fetched);
		if (it->story > 0)
			sqlite3_bind_int64(st, 12, it->story);
		if (it->simhash[0] || it->simhash[1]) {
			sqlite3_bind_int64(st, 13, (int64_t)it->simhash[0]);
			sqlite3_bind_int64(st, 14, (int64_t)it->simhash[1]);
		}
		bind_key(st, 15, it->hash);
		bind_key(st, 16, it->canonical_link);
		/* No RETURNING: SQLite 3.40 runs it through an ephemeral table, a fifth of the
		 * statement's cost. */
		if ((r = run(s, st)) < 0)
			return r;
		id = sqlite3_last_insert_rowid(s->db);
		if ((r = fts_queue(s, id)) < 0)
			return r;
	}

	st = stmt(s, ST_SOURCE_ADD);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, fid);
	bind_text(st, 3, it->identity);
	bind_text(st, 4, it->link);
	sqlite3_bind_int64(st, 5, it->fetched);
	sqlite3_bind_int64(st, 6, (int64_t)it->fingerprint);
	if ((r = run(s, st)) < 0)
		return r;
	*ret_id = id;
	return isnew;
}

/* Ends the savepoint of a change that succeeded. */
static int release(struct store *s, bool own)
{
	if (own)
		feed_forget_absent(s);
	int r = run(s, stmt(s, ST_RELEASE));
	if (r < 0) {
		/* Releasing our own transaction is its commit: when that fails, do not leave it
		 * open for the next call to inherit. */
		if (own && !sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		free(s->feed_name);
		s->feed_name = NULL;
		window_drop(s);
	}
	return r;
}

/* Undoes the savepoint of a change that failed with r, keeping the store's message. */
static int undo(struct store *s, int r)
{
	char err[sizeof(s->err)];
	memcpy(err, s->err, sizeof(err));
	if (!sqlite3_get_autocommit(s->db)) {
		run(s, stmt(s, ST_ROLLBACK_TO));
		run(s, stmt(s, ST_RELEASE));
	}
	/* The feed row may have been created in what was just rolled back. */
	free(s->feed_name);
	s->feed_name = NULL;
	memcpy(s->err, err, sizeof(err));
	return r;
}

int store_item_add(struct store *s, const struct store_item *it, int64_t *ret_id)
{
	if (!it->feed || !it->identity || !it->hash) {
		snprintf(s->err, sizeof(s->err), "item without feed, identity or hash");
		return -EINVAL;
	}
	/* Its own transaction: a savepoint makes the item and its source one change. Inside the
	 * caller's transaction, a savepoint per item cost 9k instructions (SQLite's statement
	 * journal); a failure there leaves the transaction half done instead, and store_commit
	 * refuses it: the caller rolls it back, as it does after any error. */
	bool own = sqlite3_get_autocommit(s->db);
	struct fts_queue queued = s->fts;
	int r;
	if (own && (r = run(s, stmt(s, ST_SAVEPOINT))) < 0)
		return r;
	int64_t id = 0;
	r = item_add(s, it, &id);
	if (r >= 0 && own) {
		/* No store_commit will come: index it before the release commits it. */
		int rf = fts_flush(s);
		if (rf < 0)
			r = rf;
	}
	if (r < 0) {
		s->fts = queued;
		if (own)
			return undo(s, r);
		s->failed = true;
		return r;
	}
	int rr = own ? release(s, own) : 0;
	if (rr < 0)
		return rr;
	if (r == 1)
		window_add(s, id, it);
	*ret_id = id;
	return r;
}

int store_source_get(struct store *s, const char *feed, const char *identity,
		     struct store_delivered *ret)
{
	sqlite3_stmt *st;
	int r = source_step(s, ST_SOURCE_GET, feed, identity, &st);
	if (r <= 0)
		return r;
	const char *hash = col_text(st, 2);
	*ret = (struct store_delivered){
	    .item_id = sqlite3_column_int64(st, 0),
	    .has_fingerprint = sqlite3_column_type(st, 1) != SQLITE_NULL,
	    .fingerprint = (uint64_t)sqlite3_column_int64(st, 1),
	    .story = sqlite3_column_int64(st, 3),
	};
	snprintf(ret->hash, sizeof(ret->hash), "%s", hash ? hash : "");
	done(st);
	return 1;
}

int store_source_fingerprint(struct store *s, const char *feed, const char *identity,
			     uint64_t fingerprint)
{
	int64_t fid;
	int r = feed_id(s, feed, &fid);
	if (r < 0)
		return r;
	sqlite3_stmt *st = stmt(s, ST_SOURCE_FINGERPRINT);
	sqlite3_bind_int64(st, 1, fid);
	bind_text(st, 2, identity);
	sqlite3_bind_int64(st, 3, (int64_t)fingerprint);
	return run(s, st);
}

/* The body of store_item_revise, inside its savepoint. */
static int item_revise(struct store *s, int64_t item_id, const struct store_item *it,
		       int64_t *ret_id)
{
	int64_t fid;
	int r = feed_id(s, it->feed, &fid);
	if (r < 0)
		return r;
	/* Another stored item reads like the new version: this source is one more of it. */
	sqlite3_stmt *st = stmt(s, ST_ITEM_FIND);
	bind_text(st, 1, it->hash);
	bind_key(st, 3, it->hash);
	if ((r = step(s, st)) < 0)
		return r;
	if (r == 1) {
		int64_t other = sqlite3_column_int64(st, 0);
		done(st);
		if (other == item_id) { /* same content after all: only the bytes changed */
			*ret_id = item_id;
			return 0;
		}
		st = stmt(s, ST_SOURCE_MOVE);
		sqlite3_bind_int64(st, 1, fid);
		bind_text(st, 2, it->identity);
		sqlite3_bind_int64(st, 3, other);
		sqlite3_bind_int64(st, 4, (int64_t)it->fingerprint);
		if ((r = run(s, st)) < 0)
			return r;
		*ret_id = other;
		return 0;
	}
	st = stmt(s, ST_REVISION_ADD);
	sqlite3_bind_int64(st, 1, item_id);
	if ((r = run(s, st)) < 0)
		return r;
	st = stmt(s, ST_ITEM_REVISE);
	sqlite3_bind_int64(st, 1, item_id);
	bind_text(st, 2, it->title);
	bind_text(st, 3, it->author);
	bind_text(st, 4, it->summary);
	bind_text(st, 5, it->content);
	bind_text(st, 6, it->hash);
	if (it->published != FEED_NO_DATE)
		sqlite3_bind_int64(st, 7, it->published);
	if (it->simhash[0] || it->simhash[1]) {
		sqlite3_bind_int64(st, 8, (int64_t)it->simhash[0]);
		sqlite3_bind_int64(st, 9, (int64_t)it->simhash[1]);
	}
	sqlite3_bind_int64(st, 10, it->fetched);
	bind_key(st, 11, it->hash);
	if ((r = run(s, st)) < 0)
		return r;
	if (sqlite3_changes(s->db) != 1) {
		snprintf(s->err, sizeof(s->err), "no item %lld to revise", (long long)item_id);
		return -ENOENT;
	}
	st = stmt(s, ST_SOURCE_FINGERPRINT);
	sqlite3_bind_int64(st, 1, fid);
	bind_text(st, 2, it->identity);
	sqlite3_bind_int64(st, 3, (int64_t)it->fingerprint);
	if ((r = run(s, st)) < 0)
		return r;
	*ret_id = item_id;
	return 1;
}

int store_item_revise(struct store *s, int64_t item_id, const struct store_item *it,
		      int64_t *ret_id)
{
	if (!it->feed || !it->identity || !it->hash) {
		snprintf(s->err, sizeof(s->err), "item without feed, identity or hash");
		return -EINVAL;
	}
	bool own = sqlite3_get_autocommit(s->db);
	int r;
	/* The update trigger takes the item's old text out of items_fts, so it must be there: an
	 * item added in this transaction (a feed giving one guid two texts in one document) is
	 * indexed first. Deleting what the index does not hold corrupts it. */
	if (s->fts.n && item_id >= s->fts.first && item_id <= s->fts.last &&
	    (r = fts_flush(s)) < 0) {
		s->failed = true;
		return r;
	}
	if ((r = run(s, stmt(s, ST_SAVEPOINT))) < 0)
		return r;
	int64_t id = 0;
	r = item_revise(s, item_id, it, &id);
	if (r < 0)
		return undo(s, r);
	int rr = release(s, own);
	if (rr < 0)
		return rr;
	if (r == 1) /* its SimHash changed (edits are rare): reload the window when next needed */
		window_drop(s);
	*ret_id = id;
	return r;
}

int store_story_alerted(struct store *s, int64_t story, const char *topic)
{
	if (!topic)
		return -EINVAL;
	sqlite3_stmt *st = stmt(s, ST_STORY_ALERTED);
	sqlite3_bind_int64(st, 1, story);
	bind_text(st, 2, topic);
	int r = step(s, st);
	if (r == 1)
		done(st);
	return r;
}

/* store_verdict_add's writes. Most verdicts are new items': inserted. One already there is
 * updated instead, and its triggers record a change of relevance; a new relevant one is recorded
 * here. */
static int verdict_put(struct store *s, int64_t item_id, const char *topic, double score,
		       bool relevant, const char *terms_json)
{
	for (enum stmt which = ST_VERDICT_ADD;; which = ST_VERDICT_SET) {
		sqlite3_stmt *st = stmt(s, which);
		sqlite3_bind_int64(st, 1, item_id);
		bind_text(st, 2, topic);
		sqlite3_bind_double(st, 3, score);
		sqlite3_bind_int(st, 4, relevant);
		bind_text(st, 5, terms_json);
		int r = run(s, st);
		if (r < 0)
			return r;
		if (sqlite3_changes(s->db) > 0) {
			if (which == ST_VERDICT_SET || !relevant)
				return 0;
			st = stmt(s, ST_CHANGE_ADD);
			sqlite3_bind_int64(st, 1, item_id);
			return run(s, st);
		}
		if (which == ST_VERDICT_SET) { /* neither inserted nor there: a NULL ignored */
			snprintf(s->err, sizeof(s->err),
				 "verdict of item %lld for topic %s not stored", (long long)item_id,
				 topic);
			return -EINVAL;
		}
	}
}

int store_verdict_add(struct store *s, int64_t item_id, const char *topic, double score,
		      bool relevant, const char *terms_json)
{
	if (!topic)
		return -EINVAL;
	/* Alone, its own transaction: the verdict and its change are one. */
	bool own = sqlite3_get_autocommit(s->db);
	int r;
	if (own && (r = run(s, stmt(s, ST_SAVEPOINT))) < 0)
		return r;
	r = verdict_put(s, item_id, topic, score, relevant, terms_json);
	if (r < 0 && own)
		return undo(s, r);
	if (r < 0) {
		/* The verdict may be written without its change: store_commit refuses the rest. */
		s->failed = true;
		return r;
	}
	return own ? release(s, own) : 0;
}

int store_alert_queue(struct store *s, int64_t item_id, const char *topic)
{
	if (!topic)
		return -EINVAL;
	sqlite3_stmt *st = stmt(s, ST_ALERT_QUEUE);
	sqlite3_bind_int64(st, 1, item_id);
	bind_text(st, 2, topic);
	sqlite3_bind_int64(st, 3, now_unix());
	int r = run(s, st);
	return r < 0 ? r : sqlite3_changes(s->db) > 0;
}

struct alert_copy {
	struct store_alert a;
	char *topic, *terms, *feed, *url, *title;
};

/*
 * The unsent alerts are copied out before any callback runs: a callback typically sends and then
 * calls store_alert_sent, which must not update the rows of a statement still being stepped.
 */
int store_alerts_pending(struct store *s, int (*cb)(const struct store_alert *a, void *arg),
			 void *arg)
{
	sqlite3_stmt *st = stmt(s, ST_ALERTS_PENDING);
	struct alert_copy *v = NULL;
	size_t n = 0, cap = 0;
	int r;
	while ((r = step(s, st)) == 1) {
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		struct alert_copy *c = &v[n++];
		c->topic = col_dup(st, 1);
		c->terms = col_dup(st, 3);
		c->feed = col_dup(st, 4);
		c->url = col_dup(st, 5);
		c->title = col_dup(st, 6);
		c->a = (struct store_alert){
		    .item_id = sqlite3_column_int64(st, 0),
		    .topic = c->topic,
		    .score = sqlite3_column_double(st, 2),
		    .terms_json = c->terms,
		    .feed = c->feed,
		    .url = c->url,
		    .title = c->title,
		};
	}
	for (size_t i = 0; i < n && r == 0; i++)
		r = cb(&v[i].a, arg);
	for (size_t i = 0; i < n; i++) {
		free(v[i].topic);
		free(v[i].terms);
		free(v[i].feed);
		free(v[i].url);
		free(v[i].title);
	}
	free(v);
	return r;
}

int store_alert_sent(struct store *s, int64_t item_id, const char *topic)
{
	if (!topic)
		return -EINVAL;
	sqlite3_stmt *st = stmt(s, ST_ALERT_SENT);
	sqlite3_bind_int64(st, 1, item_id);
	bind_text(st, 2, topic);
	sqlite3_bind_int64(st, 3, now_unix());
	int r = run(s, st);
	if (r == 0 && sqlite3_changes(s->db) == 0) {
		snprintf(s->err, sizeof(s->err), "no unsent alert for item %lld, topic %s",
			 (long long)item_id, topic);
		return -ENOENT;
	}
	return r;
}

/* A plain-words reading of an FTS query that did not parse: every white-space separated word as
 * a quoted string, so "l'armée" or "Biélorussie-Ukraine" search as phrases. */
static char *fts_quote(const char *q)
{
	struct buf b = {0};
	for (const char *p = q; *p;) {
		p += strspn(p, " \t\n\r");
		size_t n = strcspn(p, " \t\n\r");
		if (!n)
			break;
		if (b.len)
			buf_putc(&b, ' ');
		buf_putc(&b, '"');
		for (size_t i = 0; i < n; i++) {
			if (p[i] == '"')
				buf_putc(&b, '"');
			buf_putc(&b, p[i]);
		}
		buf_putc(&b, '"');
		p += n;
	}
	return buf_steal(&b);
}

/* Whether the bareword p[0..len) of a query is one of FTS5's operators AND, OR, NOT. */
static bool fts_operator(const char *p, size_t len)
{
	return (len == 2 && !memcmp(p, "OR", 2)) || (len == 3 && !memcmp(p, "AND", 3)) ||
	       (len == 3 && !memcmp(p, "NOT", 3));
}

/* Reads the words of a query with the store's tokenizer, made when first needed. */
struct fts_reader {
	struct store *s;
	struct tok *t; /* NULL until made, or when it could not be */
	bool tried;
};

/* Whether a query's token q[start..end) is a word searched for: an operator or a column name
 * (before a colon) is not, and neither is a function word, which the index leaves out. */
struct fts_words {
	const struct tok *t;
	const char *q;
	bool found;
};

static int fts_words_cb(void *ctx, int flags, const char *token, int n, int start, int end)
{
	(void)flags;
	struct fts_words *w = ctx;
	const char *p = w->q + start;
	size_t len = (size_t)(end - start);
	bool op = fts_operator(p, len) || (len == 4 && !memcmp(p, "NEAR", 4));
	if (!op && w->q[end + strspn(w->q + end, " \t\r\n")] != ':' &&
	    !tok_dropped_copy(w->t, token, n))
		w->found = true;
	return SQLITE_OK;
}

/* Whether q[0..n) (in a NUL-terminated query) searches for a word the index holds; yes when
 * the tokenizer cannot be made or fails. */
static bool fts_words(struct fts_reader *r, const char *q, size_t n)
{
	static const char *const args[] = {"remove_diacritics", "2"};
	if (!r->tried) {
		Fts5Tokenizer *p;
		r->tried = true;
		if (r->s->tok && tok_create(r->s->tok, (const char **)args, 2, &p) == SQLITE_OK) {
			r->t = (struct tok *)p;
			r->t->drop = false;
		}
	}
	if (!r->t)
		return true;
	struct fts_words w = {r->t, q, false};
	if (tok_each(r->t, &w, FTS5_TOKENIZE_QUERY, q, (int)n, fts_words_cb) != SQLITE_OK)
		return true;
	return w.found;
}

/* Whether a query word holds a ligature or the letters it stands for: FTS5's unicode61 folds
 * accents but not œ and æ, which are letters of their own, so "manoeuvres" would never find
 * "manœuvres". */
static bool has_ligature(const char *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		unsigned char a = (unsigned char)p[i], b = (unsigned char)p[i + 1];
		if ((a | 0x20) == 'o' && (b | 0x20) == 'e')
			return true;
		if ((a | 0x20) == 'a' && (b | 0x20) == 'e')
			return true;
		if (a == 0xC5 && (b == 0x92 || b == 0x93)) /* Œ œ */
			return true;
		if (a == 0xC3 && (b == 0x86 || b == 0xA6)) /* Æ æ */
			return true;
	}
	return false;
}

/* p[0..n) with every ligature written out and every "oe"/"ae" written as the ligature, into b. */
static void put_swapped(struct buf *b, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char a = (unsigned char)p[i], c = i + 1 < n ? (unsigned char)p[i + 1] : 0;
		bool upper = a >= 'A' && a <= 'Z';
		if ((a | 0x20) == 'o' && (c | 0x20) == 'e') {
			buf_append(b, upper ? "\xC5\x92" : "\xC5\x93", 2);
			i++;
		} else if ((a | 0x20) == 'a' && (c | 0x20) == 'e') {
			buf_append(b, upper ? "\xC3\x86" : "\xC3\xA6", 2);
			i++;
		} else if (a == 0xC5 && (c == 0x92 || c == 0x93)) {
			buf_append(b, c == 0x92 ? "OE" : "oe", 2);
			i++;
		} else if (a == 0xC3 && (c == 0x86 || c == 0xA6)) {
			buf_append(b, c == 0x86 ? "AE" : "ae", 2);
			i++;
		} else {
			buf_putc(b, (char)a);
		}
	}
}

static bool fts_bareword_char(unsigned char c)
{
	return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c == '_' || c == 0x1A;
}

/* Whether an operand of the query starts at p (after white space): not its end, a closing
 * parenthesis or an operator. */
static bool fts_operand_at(const char *p)
{
	if (!*p || *p == ')')
		return false;
	size_t w = 0;
	while (fts_bareword_char((unsigned char)p[w]))
		w++;
	return !fts_operator(p, w);
}

/* The query with each word or phrase that holds œ, æ, oe or ae searched both ways: "coeur"
 * becomes (coeur OR cœur), "mise en œuvre" ("mise en œuvre" OR "mise en oeuvre"), and without
 * the operands of AND made of function words alone ("minsk AND la" becomes "minsk"). Column
 * names, operators, NEAR groups and phrases joined by + are left as they are. New string. */
static char *fts_expand(const char *q, struct fts_reader *r)
{
	struct buf b = {0};
	int near = 0;	      /* parentheses open in a NEAR group */
	bool group = false;   /* the last thing written is a group made here */
	bool operand = false; /* the last thing written ends a phrase or group, not an operator */
	char prev = ' ';      /* the last character written that is not white space */
	/* The AND written last, while nothing but white space follows it: where it starts in b,
	 * and group and prev before it (SIZE_MAX: none) */
	size_t and_at = SIZE_MAX;
	bool and_group = false;
	char and_prev = ' ';
	bool negated = false; /* the last thing written is NOT */
	for (const char *p = q; *p;) {
		size_t n;
		if (*p == '"') {
			n = 1;
			while (p[n] && !(p[n] == '"' && p[n + 1] != '"'))
				n += p[n] == '"' ? 2 : 1;
			if (p[n] == '"')
				n++;
		} else if (fts_bareword_char((unsigned char)*p)) {
			n = 0;
			while (fts_bareword_char((unsigned char)p[n]))
				n++;
		} else {
			if (near && *p == '(')
				near++;
			else if (near && *p == ')')
				near--;
			if (!strchr(" \t\r\n", *p)) {
				and_at = SIZE_MAX;
				negated = false;
				if (group && *p == '(')
					buf_append(&b, "AND ", 4);
				group = false;
				operand = *p == ')';
			}
			buf_putc(&b, *p);
			if (!strchr(" \t\r\n", *p))
				prev = *p;
			p++;
			continue;
		}
		size_t word = n; /* the word or phrase, without a prefix star */
		if (p[n] == '*')
			n++;
		const char *next = p + n + strspn(p + n, " \t\r\n");
		bool op = fts_operator(p, word);
		if (word == 4 && !strncmp(p, "NEAR", 4) && *next == '(') {
			near = 0; /* counted from the parenthesis */
			and_at = SIZE_MAX;
			negated = false;
			if (group)
				buf_append(&b, "AND ", 4);
			group = operand = false;
			buf_append(&b, p, n);
			p += n;
			p += strspn(p, " \t\r\n");
			if (*p == '(') {
				buf_putc(&b, '(');
				p++;
				near = 1;
			}
			prev = '(';
			continue;
		}
		/* A word or phrase of function words only, an operand of AND, is left out with its
		 * AND: the index holds none of them, and FTS5's AND with an empty phrase is empty
		 * ("minsk AND la" would find nothing), unlike its juxtaposition ("minsk la"). After
		 * NOT it stays: "a NOT la AND b" is (a NOT la) AND b, and FTS5's NOT of an empty
		 * phrase takes nothing away. */
		bool plain = !op && !near && n == word && prev != '^' && prev != '+' &&
			     prev != ':' && *next != '+' && *next != ':';
		bool and_next =
		    !strncmp(next, "AND", 3) && !fts_bareword_char((unsigned char)next[3]);
		if (plain && (and_at != SIZE_MAX || (and_next && !negated)) &&
		    !fts_words(r, p, word)) {
			/* Beside another operand ("a AND la b", "a la AND b"), the word alone
			 * goes: the AND joins what stays on its side ("a AND b"), as it did,
			 * where "a b" would bind tighter than a NOT before it. */
			if ((and_at != SIZE_MAX && fts_operand_at(next)) ||
			    (and_at == SIZE_MAX && operand)) {
				p += n;
				continue;
			}
			if (and_at != SIZE_MAX) {
				b.len = and_at;
				b.p[b.len] = '\0';
				group = and_group;
				prev = and_prev;
				operand = true;
				and_at = SIZE_MAX;
				p += n;
			} else {
				p = next + 3;
			}
			continue;
		}
		if (op && word == 3 && p[0] == 'A') {
			and_at = b.len;
			and_group = group;
			and_prev = prev;
		} else {
			and_at = SIZE_MAX;
		}
		negated = op && word == 3 && p[0] == 'N';
		/* SQLite 3.40's FTS5 joins phrases by juxtaposition, not a parenthesised group:
		 * "a (b OR c)" is a syntax error, "a AND (b OR c)" is not. */
		bool joined = operand;
		if (op || near || prev == '^' || prev == '+' || *next == '+' || *next == ':' ||
		    !has_ligature(p, word)) {
			if (group && !op)
				buf_append(&b, "AND ", 4);
			buf_append(&b, p, n);
			group = false;
			operand = !op;
		} else {
			operand = true;
			if (joined)
				buf_append(&b, "AND ", 4);
			group = true;
			buf_putc(&b, '(');
			buf_append(&b, p, n);
			buf_append(&b, " OR ", 4);
			put_swapped(&b, p, word);
			buf_append(&b, p + word, n - word);
			buf_putc(&b, ')');
		}
		prev = p[n - 1];
		p += n;
	}
	return buf_steal(&b);
}

static int items_query(struct store *s, const struct store_query *q, const char *match,
		       int (*cb)(const struct store_row *r, void *arg), void *arg, int *ret_rows)
{
	sqlite3_stmt *st = stmt(s, match ? ST_ITEMS_MATCH : ST_ITEMS_EACH);
	sqlite3_bind_int64(st, 1, q->since);
	sqlite3_bind_int(st, 2, q->relevant_only);
	sqlite3_bind_int64(st, 3, q->limit > 0 ? q->limit : -1);
	if (match)
		bind_text(st, 4, match);
	int r;
	*ret_rows = 0;
	while ((r = step(s, st)) == 1) {
		bool verdict = sqlite3_column_type(st, 11) != SQLITE_NULL;
		struct store_row row = {
		    .id = sqlite3_column_int64(st, 0),
		    .feed = col_text(st, 1),
		    .guid = col_text(st, 2),
		    .link = col_text(st, 3),
		    .title = col_text(st, 4),
		    .author = col_text(st, 5),
		    .summary = col_text(st, 6),
		    .content = col_text(st, 7),
		    .hash = col_text(st, 8),
		    .published = col_time(st, 9),
		    .fetched = sqlite3_column_int64(st, 10),
		    .topic = verdict ? col_text(st, 11) : NULL,
		    .score = verdict ? sqlite3_column_double(st, 12) : 0,
		    .relevant = verdict && sqlite3_column_int(st, 13),
		    .terms_json = verdict ? col_text(st, 14) : NULL,
		    .story = sqlite3_column_int64(st, 15),
		    .story_size = sqlite3_column_int64(st, 16),
		    .revisions = sqlite3_column_int64(st, 17),
		    .updated = sqlite3_column_int64(st, 18),
		};
		(*ret_rows)++;
		if ((r = cb(&row, arg)) != 0) {
			done(st);
			return r;
		}
	}
	return r;
}

int store_items_each(struct store *s, const struct store_query *q,
		     int (*cb)(const struct store_row *r, void *arg), void *arg)
{
	int rows;
	struct fts_reader rd = {s, NULL, false};
	char *match = q->match ? fts_expand(q->match, &rd) : NULL;
	int r = items_query(s, q, match, cb, arg, &rows);
	free(match);
	/* An FTS syntax error (SQLITE_ERROR) shows before the first row: retry with the words
	 * quoted. */
	if (r == -EIO && q->match && rows == 0 && s->rc == SQLITE_ERROR) {
		char *quoted = fts_quote(q->match);
		match = fts_expand(quoted, &rd);
		r = items_query(s, q, match, cb, arg, &rows);
		free(match);
		free(quoted);
		if (r == -EIO && s->rc == SQLITE_ERROR)
			r = -EINVAL;
	}
	if ((r == 0 || r == -EINVAL) && q->match && rows == 0 &&
	    !fts_words(&rd, q->match, strlen(q->match))) {
		snprintf(s->err, sizeof(s->err),
			 "nothing to search for in [%.200s]: the index leaves out French function "
			 "words (\"de\", \"la\", \"et\", \"l'\", single letters...); search "
			 "for other words with them",
			 q->match);
		r = -EINVAL;
	}
	if (rd.t)
		tok_delete((Fts5Tokenizer *)rd.t);
	return r;
}

int store_ping(struct store *s)
{
	sqlite3_stmt *st = stmt(s, ST_PING);
	int r = step(s, st);
	if (r < 0)
		return r;
	done(st);
	return r == 0 ? -EIO : 0;
}

int store_stats(struct store *s, struct store_stats *ret)
{
	sqlite3_stmt *st = stmt(s, ST_STATS);
	int r = step(s, st);
	if (r < 0)
		return r;
	if (r == 0)
		return -EIO;
	*ret = (struct store_stats){
	    .feeds = sqlite3_column_int64(st, 0),
	    .items = sqlite3_column_int64(st, 1),
	    .relevant = sqlite3_column_int64(st, 2),
	    .alerts_sent = sqlite3_column_int64(st, 3),
	    .alerts_pending = sqlite3_column_int64(st, 4),
	    .sources = sqlite3_column_int64(st, 5),
	};
	done(st);
	return 0;
}

int store_meta_get(struct store *s, const char *key, char **ret_value)
{
	sqlite3_stmt *st = stmt(s, ST_META_GET);
	bind_text(st, 1, key);
	int r = step(s, st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	const char *v = col_text(st, 0);
	*ret_value = xstrdup(v ? v : "");
	done(st);
	return 0;
}

int store_meta_set(struct store *s, const char *key, const char *value)
{
	if (!key || !value)
		return -EINVAL;
	sqlite3_stmt *st = stmt(s, ST_META_SET);
	bind_text(st, 1, key);
	bind_text(st, 2, value);
	return run(s, st);
}

/* Inside a transaction the counts wait for its commit (df_flush), outside one they are written
 * at once. */
int store_df_add(struct store *s, const char *term, uint64_t delta)
{
	if (!term || !*term || delta > INT64_MAX)
		return -EINVAL;
	if (!s->readonly && !sqlite3_get_autocommit(s->db)) {
		strtab_get(&s->df, term)->value += delta;
		return 0;
	}
	sqlite3_stmt *st = stmt(s, ST_DF_ADD);
	bind_text(st, 1, term);
	sqlite3_bind_int64(st, 2, (int64_t)delta);
	return run(s, st);
}

int store_df_docs_add(struct store *s, uint64_t delta)
{
	if (delta > INT64_MAX)
		return -EINVAL;
	if (!s->readonly && !sqlite3_get_autocommit(s->db)) {
		s->df_docs += delta;
		return 0;
	}
	sqlite3_stmt *st = stmt(s, ST_DOCS_ADD);
	sqlite3_bind_int64(st, 1, (int64_t)delta);
	return run(s, st);
}

/* One non-negative integer column of a one-row query, 0 when there is no row. */
static int get_count(struct store *s, sqlite3_stmt *st, uint64_t *ret)
{
	int r = step(s, st);
	if (r < 0)
		return r;
	*ret = 0;
	if (r == 1) {
		int64_t v = sqlite3_column_int64(st, 0);
		*ret = v > 0 ? (uint64_t)v : 0;
		done(st);
	}
	return 0;
}

int store_df_get(struct store *s, const char *term, uint64_t *ret)
{
	if (!term)
		return -EINVAL;
	/* Reads what the transaction added so far too. */
	int r = df_flush(s);
	if (r < 0)
		return r;
	sqlite3_stmt *st = stmt(s, ST_DF_GET);
	bind_text(st, 1, term);
	return get_count(s, st, ret);
}

int store_df_each(struct store *s, int (*cb)(const char *term, uint64_t docs, void *arg), void *arg)
{
	int r = df_flush(s);
	if (r < 0)
		return r;
	sqlite3_stmt *st = stmt(s, ST_DF_EACH);
	while ((r = step(s, st)) == 1) {
		const char *term = col_text(st, 0);
		int64_t v = sqlite3_column_int64(st, 1);
		if (term && (r = cb(term, v > 0 ? (uint64_t)v : 0, arg)) != 0) {
			done(st);
			return r;
		}
	}
	return r;
}

int store_df_docs(struct store *s, uint64_t *ret)
{
	int r = df_flush(s);
	if (r < 0)
		return r;
	return get_count(s, stmt(s, ST_DOCS_GET), ret);
}

int store_topic_items(struct store *s, const char *topic, int64_t after, int64_t limit,
		      int (*cb)(const struct store_judged *j, void *arg), void *arg)
{
	if (!topic)
		return -EINVAL;
	sqlite3_stmt *st = stmt(s, ST_TOPIC_ITEMS);
	bind_text(st, 1, topic);
	sqlite3_bind_int64(st, 2, after);
	sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
	int r;
	while ((r = step(s, st)) == 1) {
		bool verdict = sqlite3_column_type(st, 5) != SQLITE_NULL;
		struct store_judged j = {
		    .id = sqlite3_column_int64(st, 0),
		    .title = col_text(st, 1),
		    .summary = col_text(st, 2),
		    .content = col_text(st, 3),
		    .link = col_text(st, 4),
		    .has_verdict = verdict,
		    .score = verdict ? sqlite3_column_double(st, 5) : 0,
		    .relevant = verdict && sqlite3_column_int(st, 6),
		    .story = sqlite3_column_int64(st, 7),
		};
		if ((r = cb(&j, arg)) != 0) {
			done(st);
			return r;
		}
	}
	return r;
}
int store_begin_read(struct store *s)
{
	tx_forget_lost(s);
	feed_forget_absent(s);
	int r = run(s, stmt(s, ST_BEGIN_READ));
	if (r == 0) {
		s->failed = false;
		s->tx = true;
	}
	return r;
}

bool store_in_transaction(struct store *s)
{
	/* Also one SQLite ended after an error (tx_lost): still open until it is rolled back. */
	return s->tx || !sqlite3_get_autocommit(s->db);
}

int store_cache_limit(struct store *s, int kib)
{
	char sql[48];
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", kib);
	return exec(s, sql);
}

/* The one integer statement id reads (a row always comes back). */
static int read_int64(struct store *s, enum stmt id, int64_t *ret)
{
	sqlite3_stmt *st = stmt(s, id);
	int r = step(s, st);
	if (r < 0)
		return r;
	if (r == 0)
		return -EIO;
	*ret = sqlite3_column_int64(st, 0);
	done(st);
	return 0;
}

int store_last_change(struct store *s, int64_t *ret_seq)
{
	return read_int64(s, ST_LAST_CHANGE, ret_seq);
}

int store_changes_prune(struct store *s, int64_t upto)
{
	sqlite3_stmt *st = stmt(s, ST_CHANGES_PRUNE);
	sqlite3_bind_int64(st, 1, upto);
	return run(s, st);
}

int store_last_item_id(struct store *s, int64_t *ret_id)
{
	return read_int64(s, ST_LAST_ID, ret_id);
}

/* The strings of one record's sources and verdicts, copied out of their statements. */
struct record_parts {
	struct store_source *src;
	struct store_verdict *ver;
	size_t nsrc, nver, capsrc, capver;
};

static void parts_clear(struct record_parts *p)
{
	for (size_t i = 0; i < p->nsrc; i++) {
		free((char *)p->src[i].feed);
		free((char *)p->src[i].identity);
		free((char *)p->src[i].link);
	}
	for (size_t i = 0; i < p->nver; i++) {
		free((char *)p->ver[i].topic);
		free((char *)p->ver[i].terms_json);
	}
	p->nsrc = p->nver = 0;
}

static int parts_load(struct store *s, int64_t id, struct record_parts *p)
{
	sqlite3_stmt *st = stmt(s, ST_RECORD_SOURCES);
	sqlite3_bind_int64(st, 1, id);
	int r;
	while ((r = step(s, st)) == 1) {
		if (p->nsrc == p->capsrc) {
			p->capsrc = p->capsrc ? 2 * p->capsrc : 4;
			p->src = xreallocarray(p->src, p->capsrc, sizeof(*p->src));
		}
		p->src[p->nsrc++] = (struct store_source){
		    .feed = col_dup(st, 0),
		    .identity = col_dup(st, 1),
		    .link = col_dup(st, 2),
		    .first_seen = sqlite3_column_int64(st, 3),
		};
	}
	if (r < 0)
		return r;
	st = stmt(s, ST_RECORD_VERDICTS);
	sqlite3_bind_int64(st, 1, id);
	while ((r = step(s, st)) == 1) {
		if (p->nver == p->capver) {
			p->capver = p->capver ? 2 * p->capver : 4;
			p->ver = xreallocarray(p->ver, p->capver, sizeof(*p->ver));
		}
		p->ver[p->nver++] = (struct store_verdict){
		    .topic = col_dup(st, 0),
		    .score = sqlite3_column_double(st, 1),
		    .relevant = sqlite3_column_int(st, 2) != 0,
		    .terms_json = col_dup(st, 3),
		};
	}
	return r;
}

/* Calls cb for each item st finds (RECORD_COLUMNS), as store_records_each. */
static int records_run(struct store *s, sqlite3_stmt *st,
		       int (*cb)(const struct store_record *r, void *arg), void *arg)
{
	struct record_parts p = {0};
	int r;
	while ((r = step(s, st)) == 1) {
		struct store_record rec = {
		    .id = sqlite3_column_int64(st, 0),
		    .guid = col_text(st, 1),
		    .link = col_text(st, 2),
		    .canonical_link = col_text(st, 3),
		    .title = col_text(st, 4),
		    .author = col_text(st, 5),
		    .summary = col_text(st, 6),
		    .content = col_text(st, 7),
		    .hash = col_text(st, 8),
		    .published = col_time(st, 9),
		    .fetched = sqlite3_column_int64(st, 10),
		    .relevant = sqlite3_column_int(st, 11) != 0,
		    .story = sqlite3_column_int64(st, 12),
		    .story_size = sqlite3_column_int64(st, 13),
		    .updated = col_time(st, 14),
		};
		parts_clear(&p);
		if ((r = parts_load(s, rec.id, &p)) < 0) {
			done(st);
			break;
		}
		rec.sources = p.src;
		rec.nsources = p.nsrc;
		rec.verdicts = p.ver;
		rec.nverdicts = p.nver;
		if ((r = cb(&rec, arg)) != 0) {
			done(st);
			break;
		}
	}
	parts_clear(&p);
	free(p.src);
	free(p.ver);
	return r;
}

int store_records_each(struct store *s, const struct store_record_query *q,
		       int (*cb)(const struct store_record *r, void *arg), void *arg)
{
	int r = 0;
	/* The changed items first: their row ids are at most after_id, below the others'. */
	if (q->changed_upto > q->changed_after && q->after_id > 0) {
		sqlite3_stmt *st = stmt(s, ST_RECORDS_CHANGED);
		sqlite3_bind_int64(st, 1, q->after_id);
		sqlite3_bind_int64(st, 2, q->changed_after);
		sqlite3_bind_int64(st, 3, q->since);
		sqlite3_bind_int(st, 4, q->relevant_only);
		sqlite3_bind_int64(st, 5, q->changed_upto);
		if ((r = records_run(s, st, cb, arg)) != 0)
			return r;
	}
	sqlite3_stmt *st = stmt(s, ST_RECORDS);
	sqlite3_bind_int64(st, 1, q->after_id);
	sqlite3_bind_int64(st, 2, q->upto_id > 0 ? q->upto_id : INT64_MAX);
	sqlite3_bind_int64(st, 3, q->since);
	sqlite3_bind_int(st, 4, q->relevant_only);
	return records_run(s, st, cb, arg);
}

/*
 * Retention's floor, while relevant items are kept forever: a fetch time F and a row id I such
 * that every item fetched before F, of a row id up to I, has a relevant verdict. A pass reads
 * the fetch-time index from F, not from its start: the relevant items kept forever, which
 * pile up there year after year, are read once, not at every batch of every pass. It is the
 * meta key 'retention.floor', "F I", set by a batch that left nothing to delete below the
 * cutoff (F: the cutoff, or the newest item's fetch time if earlier, as that one stays),
 * forgotten by the triggers of schema_v12_retention_floor, and not trusted when an item stored
 * since (a row id past I) was fetched before F: a clock set back.
 */
#define RETENTION_FLOOR "retention.floor"

/* The floor (0 when none holds). */
static int floor_get(struct store *s, int64_t *ret_fetched)
{
	*ret_fetched = 0;
	char *v = NULL;
	long long f, id;
	int r = store_meta_get(s, RETENTION_FLOOR, &v);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	bool ok = sscanf(v, "%lld %lld", &f, &id) == 2;
	free(v);
	if (!ok)
		return 0;
	sqlite3_stmt *st = stmt(s, ST_FLOOR_BROKEN);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, f);
	if ((r = step(s, st)) < 0)
		return r;
	done(st);
	if (r == 0)
		*ret_fetched = f;
	return 0;
}

/* Nothing is left to delete below before but the relevant items and the newest: the floor goes
 * up to there. */
static int floor_raise(struct store *s, int64_t before, int64_t floor)
{
	sqlite3_stmt *st = stmt(s, ST_NEWEST);
	int r = step(s, st);
	if (r <= 0)
		return r;
	int64_t id = sqlite3_column_int64(st, 0), fetched = sqlite3_column_int64(st, 1);
	done(st);
	int64_t f = fetched < before ? fetched : before;
	if (f <= floor)
		return 0;
	char v[48];
	snprintf(v, sizeof(v), "%lld %lld", (long long)f, (long long)id);
	return store_meta_set(s, RETENTION_FLOOR, v);
}

int store_prune(struct store *s, int64_t irrelevant_before, int64_t relevant_before, int64_t batch,
		int64_t *ret_deleted)
{
	if (batch <= 0)
		return -EINVAL;
	int r = store_begin(s);
	if (r < 0)
		return r;
	/* Only relevant items kept forever lie below the floor: with a limit on them, it is not
	 * used (nor forgotten: it still holds). */
	bool use_floor = relevant_before <= 0 && irrelevant_before > 0;
	int64_t floor = 0;
	if (use_floor && (r = floor_get(s, &floor)) < 0)
		goto fail;
	sqlite3_stmt *st = stmt(s, ST_PRUNE);
	sqlite3_bind_int64(st, 1, irrelevant_before);
	sqlite3_bind_int64(st, 2, relevant_before);
	sqlite3_bind_int64(st, 3, batch);
	sqlite3_bind_int64(st, 4, floor);
	if ((r = run(s, st)) < 0)
		goto fail;
	int64_t n = sqlite3_changes(s->db);
	if (use_floor && n < batch && (r = floor_raise(s, irrelevant_before, floor)) < 0)
		goto fail;
	if ((r = store_commit(s)) < 0)
		goto fail;
	*ret_deleted = n;
	return 0;
fail:;
	char err[sizeof(s->err)];
	memcpy(err, s->err, sizeof(err));
	store_rollback(s);
	memcpy(s->err, err, sizeof(err));
	return r;
}

uint64_t store_vm_steps(struct store *s)
{
	uint64_t n = 0;
	for (size_t i = 0; i < ST_MAX; i++)
		if (s->stmt[i])
			n +=
			    (uint64_t)sqlite3_stmt_status(s->stmt[i], SQLITE_STMTSTATUS_VM_STEP, 0);
	return n;
}

int store_optimize(struct store *s)
{
	return run(s, stmt(s, ST_OPTIMIZE));
}

int store_version_latest(void)
{
	return STORE_VERSION;
}

int store_create_at_version(const char *path, int version, char **ret_err)
{
	if (version < 0 || version > STORE_VERSION) {
		*ret_err = xasprintf("%s: no schema version %d (this program knows 0 to %d)", path,
				     version, STORE_VERSION);
		return -EINVAL;
	}
	struct store *s = xcalloc(1, sizeof(*s));
	window_init(s);
	int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	int r;
	if (rc != SQLITE_OK) {
		*ret_err =
		    xasprintf("%s: %s", path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		r = -EIO;
	} else if ((r = tok_register(s)) < 0 || (r = configure(s)) < 0 ||
		   (r = migrate_to(s, version)) < 0) {
		*ret_err = xasprintf("%s: %s", path, s->err);
	}
	store_close(s);
	return r;
}
