/*
 * store.h - the SQLite store: feeds' fetch state, items, verdicts, pending alerts.
 *
 * store alone owns the sqlite3 handle. Statements are prepared once. The database is in WAL mode
 * with a busy timeout; the schema is versioned with PRAGMA user_version and migrated on open.
 * Every function returns 0 (or a documented positive value) on success and -errno on failure
 * (-ENOSPC for SQLITE_FULL, -EROFS for a read-only database, -EBUSY when locked past the busy
 * timeout, -EINVAL for a violated constraint or a bad search query, -EIO otherwise); store_errmsg()
 * then says what SQLite said.
 */
#ifndef VEILLE_STORE_H
#define VEILLE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* Opens (creating and migrating as needed) the database at path. readonly opens an existing
 * database without writing (veillectl's queries). Returns NULL and a new message in *ret_err. */
struct store *store_open(const char *path, bool readonly, char **ret_err);
void store_close(struct store *s);
const char *store_errmsg(const struct store *s);
/*
 * From now on, the WAL is copied back into the database by a thread of the store's own, with a
 * connection of its own, while this connection goes on writing: its commits no longer wait for a
 * checkpoint (copying and syncing the file). For the daemon's connection; a read-only connection
 * is left as it is. store_close stops the thread (after the checkpoint under way, if any). 0 or
 * -errno: the commits then go on checkpointing themselves.
 */
int store_wal_background(struct store *s);
/* Asks store_wal_background's thread to checkpoint now, whatever the WAL holds (before work that
 * does not write much, so that closing finds little left to copy). Nothing without the thread. */
void store_checkpoint_soon(struct store *s);
/* The CPU time store_wal_background's thread has used, in seconds (0 without it). */
double store_checkpoint_cpu(const struct store *s);

int store_begin(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);

/* A feed's fetch state, keyed by its configured name. Strings are owned by the struct: free them
 * with store_feed_clear. */
struct store_feed {
	char *name;
	char *url;	  /* the URL fetched (a permanent redirect updates it) */
	char *config_url; /* the configured URL this state belongs to, NULL when unknown */
	char *etag;	  /* validators for conditional GET, NULL when none */
	char *last_modified;
	char *last_error;      /* NULL when the last fetch succeeded */
	int64_t last_fetch;    /* unix time, 0 = never */
	int64_t next_fetch;    /* unix time, 0 = as soon as possible */
	int last_status;       /* HTTP status of the last fetch, 0 = none / transport error */
	unsigned errors;       /* consecutive failures */
	uint64_t items;	       /* items stored from this feed, all time */
	bool disabled;	       /* 410 Gone */
	double items_per_week; /* publishing rate last observed, <0 when unknown */
	int64_t ttl;	       /* the <ttl> of the last document stored, in seconds, 0 = none */
};
void store_feed_clear(struct store_feed *f);
/* Loads the state of feed name into *ret: 0, or -ENOENT when never seen (ret is then zeroed with
 * name set and items_per_week -1). */
int store_feed_load(struct store *s, const char *name, struct store_feed *ret);
/* Inserts or replaces the state of f->name. */
int store_feed_save(struct store *s, const struct store_feed *f);
/* Calls cb for every known feed, by name; a non-zero return from cb stops and is returned. */
int store_feeds_each(struct store *s, int (*cb)(const struct store_feed *f, void *arg), void *arg);

/* Item identity within a feed (guid, else link): 1 when feed already delivered an item with this
 * identity, 0 when not. The cheap check made before any hashing or scoring. */
int store_item_seen(struct store *s, const char *feed, const char *identity);

/* An item on its way in. Strings are borrowed. */
struct store_item {
	const char *feed;     /* configured feed name it came from */
	const char *identity; /* guid, else link: the per-feed identity */
	const char *guid;
	const char *link;
	const char *canonical_link;
	const char *title;
	const char *author;
	const char *summary;
	const char *content;
	const char *hash;  /* dedup_content_hash */
	int64_t published; /* FEED_NO_DATE when unknown */
	int64_t fetched;
	uint64_t fingerprint; /* dedup_fingerprint of the raw fields, kept with the source */
	uint64_t simhash[2];  /* dedup_simhash of the text; both 0 when none */
	int64_t story;	      /* the story it joins (store_story_find), 0 = a story of its own */
};
/*
 * Stores it. Returns 1 when it is a new item (*ret_id is its row id); 0 when an item with the same
 * content hash (or canonical link) is already stored: the (feed, identity) is recorded as one more
 * source of that item and *ret_id is the existing row id. Negative on error: outside a transaction
 * nothing is stored; inside one (store_begin) the item may be half stored, and store_commit then
 * fails until store_rollback ends the transaction.
 */
int store_item_add(struct store *s, const struct store_item *it, int64_t *ret_id);

/* What a feed delivered before under one identity: the item it became (or was a duplicate of),
 * the fingerprint of its raw fields (has_fingerprint false for sources stored before schema
 * version 2), that item's current content hash and story. */
struct store_delivered {
	int64_t item_id;
	uint64_t fingerprint;
	bool has_fingerprint;
	char hash[65];
	int64_t story; /* the item's story: its own id when it started it */
};
/* 1 and *ret when feed delivered identity before, 0 when not. Costs what store_item_seen costs. */
int store_source_get(struct store *s, const char *feed, const char *identity,
		     struct store_delivered *ret);
/* Records the fingerprint of what (feed, identity) delivered last, when its bytes changed but its
 * content hash did not (or the source predates fingerprints). */
int store_source_fingerprint(struct store *s, const char *feed, const char *identity,
			     uint64_t fingerprint);
/*
 * A new version of item_id, delivered by (it->feed, it->identity) with other content. Returns 1
 * when item_id now holds it (title, author, summary, content, hash, SimHash, published when known;
 * the full-text index follows); the version it replaces is kept in revisions (hash and since
 * when). Returns 0 when the new content is already stored: as another item (the source now
 * points at that one; *ret_id is its id) or as item_id itself. The source's fingerprint is
 * updated either way; links, story and first fetch time are kept. Negative on error.
 */
int store_item_revise(struct store *s, int64_t item_id, const struct store_item *it,
		      int64_t *ret_id);

/*
 * Near-duplicate lookup: the story of the stored item, fetched at or after since, whose SimHash is
 * closest to simhash and at most max_distance bits from it (the first such item, by row id, when
 * several are as close). 1 and *ret_story, or 0 when none (or simhash is all zero). The SimHashes
 * of that window are scanned in memory (24 bytes and a story id per item, loaded at the first
 * call, kept up to date by store_item_add and store_item_revise) with the CPU's vector units when
 * it has them. A linear scan; per item in the window, bench_store measured 0.4 ns with AVX-512
 * VPOPCNTDQ, 0.7 ns with AVX2, 1.1 ns with POPCNT alone, 3.1 ns without (60,000 items). A window
 * larger than the caches costs more (1.8-2.0 ns with AVX-512 at 410,000 items), which
 * store_story_prefetch avoids.
 */
int store_story_find(struct store *s, const uint64_t simhash[2], int64_t since, int max_distance,
		     int64_t *ret_story);
/*
 * Scans the story window once for the n SimHashes of simhash (the new items of a document), and
 * keeps the answers: store_story_find for one of them, with the same since, then only scans the
 * entries added after this call. Results are exactly those of store_story_find alone; the
 * window, read from memory once per document instead of once per item, is scanned block by
 * block while each block is in the first-level cache: with AVX-512, bench_store measured 0.56-0.73
 * instead of 1.8-2.0 ns per item in a window of 410,000, and 0.31 instead of 0.41 ns in one of
 * 60,000 (50 SimHashes a call). Each entry of a block is then compared with up to 8 of the
 * SimHashes at once: bench_store --scan measured 0.19-0.20 instead of 0.24-0.25 ns per SimHash and
 * entry with AVX-512, 0.58-0.65 instead of 0.73-0.77 with AVX2, in windows of 10,000 to 500,000
 * (CPU time). 0 or negative (error: store_story_find meets it again).
 */
int store_story_prefetch(struct store *s, const uint64_t (*simhash)[2], size_t n, int64_t since);
/*
 * store_story_prefetch done ahead on another thread (a worker's), while the store's own thread
 * goes on adding to the window. store_story_scan_ahead (any thread, concurrently with the store's
 * thread; one connection per call) scans the entries the window held when it began, for the n
 * SimHashes of simhash, with fetch times at or after since, and keeps the answers in *ret (its
 * own memory: store_story_ahead_clear frees it). store_story_adopt, on the store's thread, takes
 * them in place of a store_story_prefetch(since) when they still hold: the window's entries have
 * not moved or gone since (no trim, rollback or reload), ret's since is not later than since,
 * and each entry found is fetched at or after since. 1 taken, 0 refused (then prefetch), or
 * negative (error: store_story_find meets it again). The store must outlive the scan.
 */
struct story_pre;
struct store_story_ahead {
	uint64_t gen;	     /* the window's generation scanned, 0 for no answers */
	size_t upto;	     /* entries [0, upto) were scanned */
	int64_t since;	     /* fetched at or after since */
	struct story_pre *v; /* the answers, one per SimHash not all zero */
	size_t n, cap;
};
void store_story_scan_ahead(struct store *s, const uint64_t (*simhash)[2], size_t n, int64_t since,
			    struct store_story_ahead *ret);
int store_story_adopt(struct store *s, const struct store_story_ahead *a, int64_t since);
void store_story_ahead_clear(struct store_story_ahead *a);
/* For tests and benchmarks: makes store_story_find scan with the implementation name ("avx512",
 * "avx2", "popcnt" on x86-64; "portable" everywhere), or with the fastest this CPU runs when
 * name is NULL (what store_open chooses). -ENOTSUP when this CPU cannot run it, -ENOENT when this
 * build has no such implementation. store_scan_name says which is in use. */
int store_scan_select(struct store *s, const char *name);
const char *store_scan_name(const struct store *s);

/* Whether items_fts's texts and queries are tokenized by the store's table-driven copy of
 * SQLite's unicode61 (else by SQLite's own: the same tokens either way, more slowly). */
bool store_fts_fast(const struct store *s);
/* 1 when an alert of topic was queued (sent or not) for any item of story, 0 when not. */
int store_story_alerted(struct store *s, int64_t story, const char *topic);

/* Records item_id's verdict for topic (terms_json: a JSON array of [term, weight] pairs). */
int store_verdict_add(struct store *s, int64_t item_id, const char *topic, double score,
		      bool relevant, const char *terms_json);

/* Alerts: queued in the same transaction as the item, sent after the commit, then marked sent, so
 * a crash between commit and send still alerts at the next start. */
/* Returns 1 when queued, 0 when item_id already has an alert for topic (queued or sent). */
int store_alert_queue(struct store *s, int64_t item_id, const char *topic);
struct store_alert {
	int64_t item_id;
	const char *topic;
	double score;
	const char *terms_json;
	const char *feed;
	const char *url;
	const char *title;
};
/* Calls cb for every queued, unsent alert, oldest first. Pointers are valid during the call. */
int store_alerts_pending(struct store *s, int (*cb)(const struct store_alert *a, void *arg),
			 void *arg);
int store_alert_sent(struct store *s, int64_t item_id, const char *topic);

/* Stored items for veillectl. */
struct store_query {
	int64_t since;	    /* fetched at or after, unix time; 0 = all */
	bool relevant_only; /* relevant for at least one topic */
	int64_t limit;	    /* 0 = no limit */
	const char *match;  /* FTS query or NULL */
};
struct store_row {
	int64_t id;
	const char *feed; /* the first feed it was seen in */
	const char *guid, *link, *title, *author, *summary, *content, *hash;
	int64_t published, fetched;
	const char *topic; /* best verdict: topic, score, relevance, terms (NULL when none) */
	double score;
	bool relevant;
	const char *terms_json;
	int64_t story; /* story id: the id of the story's first item (its own when it started it) */
	int64_t story_size; /* items in that story, this one included */
	int64_t revisions;  /* earlier versions kept (edits seen) */
	int64_t updated;    /* last edit, unix time; 0 = never edited */
};
/* Newest first. Pointers are valid during the call. -EINVAL (store_errmsg says why) when match
 * does not parse even as plain words, or finds nothing and searches only for function words,
 * which items_fts leaves out. */
int store_items_each(struct store *s, const struct store_query *q,
		     int (*cb)(const struct store_row *r, void *arg), void *arg);

/*
 * Whole records, for the export: every field stored for an item, every (feed, identity) it was
 * seen in and every topic's verdict. New per-item data (story grouping...) belongs here.
 */
struct store_source {
	const char *feed; /* configured feed name */
	const char *identity;
	const char *link;
	int64_t first_seen;
};
struct store_verdict {
	const char *topic;
	double score;
	bool relevant;
	const char *terms_json; /* JSON array of [term, weight] pairs, never NULL */
};
struct store_record {
	int64_t id; /* row id: grows with every new item, the export watermark's key */
	const char *guid, *link, *canonical_link, *title, *author, *summary, *content, *hash;
	int64_t published; /* FEED_NO_DATE when unknown */
	int64_t fetched;
	bool relevant;	    /* relevant for at least one topic */
	int64_t story;	    /* the row id of its story's first item (its own when it began it) */
	int64_t story_size; /* items in that story, 1 when alone */
	int64_t updated;    /* when its content last changed, FEED_NO_DATE when never edited */
	const struct store_source *sources; /* first seen first */
	size_t nsources;
	const struct store_verdict *verdicts; /* by topic name */
	size_t nverdicts;
};
struct store_record_query {
	int64_t after_id; /* only items with a larger row id */
	int64_t upto_id;  /* and at most this one; 0 = no bound */
	/* and the items up to after_id whose record changed (store_last_change) after
	 * changed_after, up to changed_upto (0, 0: none) */
	int64_t changed_after, changed_upto;
	int64_t since;	    /* fetched at or after, unix time; 0 = all */
	bool relevant_only; /* relevant for at least one topic */
};
/* Calls cb for each matching item, by increasing row id; a non-zero return from cb stops and is
 * returned. Pointers are valid during the call. Run it inside store_begin_read for a consistent
 * snapshot with store_last_item_id. */
int store_records_each(struct store *s, const struct store_record_query *q,
		       int (*cb)(const struct store_record *r, void *arg), void *arg);
/* The last change of an item's record after it was stored (edited, found relevant): a number
 * that grows with each, 0 when none is kept. */
int store_last_change(struct store *s, int64_t *ret_seq);
/* Forgets the changes up to upto: every export chain has passed them. */
int store_changes_prune(struct store *s, int64_t upto);
/* The largest item row id (0 when there is no item). */
int store_last_item_id(struct store *s, int64_t *ret_id);
/* A read transaction: what it reads is one snapshot, whatever the daemon commits meanwhile. End
 * it with store_commit. */
int store_begin_read(struct store *s);
/* True inside a transaction (store_begin or store_begin_read, not yet committed). */
bool store_in_transaction(struct store *s);
/* Caps the connection's page cache at kib KiB (SQLite's default is 2000 KiB). 0 or -errno. */
int store_cache_limit(struct store *s, int kib);

/*
 * Retention: deletes at most batch items fetched before irrelevant_before that no topic found
 * relevant, and (when relevant_before > 0) relevant ones fetched before relevant_before, with
 * their sources, verdicts, alerts and full-text entries. The newest item is never deleted, so
 * row ids never go back (the export watermark relies on it). Sets *ret_deleted; a count equal to
 * batch means more may remain. Runs in its own transaction.
 */
int store_prune(struct store *s, int64_t irrelevant_before, int64_t relevant_before, int64_t batch,
		int64_t *ret_deleted);
/* The virtual machine steps SQLite took for the store's own statements since it was opened (their
 * sqlite3_stmt_status SQLITE_STMTSTATUS_VM_STEP): how much a call read, for the tests. */
uint64_t store_vm_steps(struct store *s);
/* PRAGMA optimize: lets SQLite refresh the statistics its query planner uses. */
int store_optimize(struct store *s);

struct store_stats {
	int64_t feeds, items, relevant, alerts_sent, alerts_pending, sources;
};
int store_stats(struct store *s, struct store_stats *ret);
/* A cheap read that proves the database answers (the watchdog's test; store_stats scans whole
 * tables). 0 or -errno. */
int store_ping(struct store *s);

/* Small persistent key/value settings (the export watermark). store_meta_get returns a new string
 * the caller frees in *ret_value, or -ENOENT. store_meta_set borrows both strings. */
int store_meta_get(struct store *s, const char *key, char **ret_value);
int store_meta_set(struct store *s, const char *key, const char *value);

/*
 * Background document frequencies (see topic_set_background): how many stored items hold each
 * profile key, and how many items were counted. The adds belong to the caller's transaction
 * (the feed's), so the counts always match the items stored: inside one they are written when it
 * commits (a read in it sees them), outside one at once. A term never counted reads 0.
 * store_df_each calls cb for every term counted, in no particular order, until cb returns
 * non-zero (returned).
 */
int store_df_add(struct store *s, const char *term, uint64_t delta);
int store_df_docs_add(struct store *s, uint64_t delta);
int store_df_get(struct store *s, const char *term, uint64_t *ret);
int store_df_docs(struct store *s, uint64_t *ret);
int store_df_each(struct store *s, int (*cb)(const char *term, uint64_t docs, void *arg),
		  void *arg);

/* A stored item with its verdict for one topic, for re-scoring. Pointers are valid during the
 * call. */
struct store_judged {
	int64_t id;
	const char *title, *summary, *content, *link;
	bool has_verdict; /* false: never scored for this topic */
	double score;
	bool relevant;
	int64_t story; /* the id of its story's first item (its own id when it has none) */
};
/* Calls cb for up to limit items (0 = all) with an id above after, in id order, each with its
 * verdict for topic. The callback must not write to the store. */
int store_topic_items(struct store *s, const char *topic, int64_t after, int64_t limit,
		      int (*cb)(const struct store_judged *j, void *arg), void *arg);

/* Caps the database file at about max_bytes (0 = SQLite's own limit): writes that would grow it
 * further fail with -ENOSPC, leaving the data stored so far intact. */
int store_limit_size(struct store *s, uint64_t max_bytes);

/*
 * For tests and tooling: creates the database at path (or migrates an existing one) up to schema
 * version exactly, applying only the first `version` migration steps, and closes it. 0 or -errno
 * with a new message in *ret_err. store_version_latest() is the version store_open migrates to.
 */
int store_create_at_version(const char *path, int version, char **ret_err);
int store_version_latest(void);

/* The schema version of the open database, and how many migration steps this store_open applied
 * (0 when the database was already current). */
int store_schema_version(const struct store *s);
int store_migrations_applied(const struct store *s);

/* While store_open upgrades a database's schema, hook(from, to) is called before the first step
 * and then about every every_ms milliseconds of the steps' work (0: at every check, every 1,000
 * SQLite virtual machine instructions): a step may rebuild the full-text index, seconds per
 * 100,000 items, and the daemon tells systemd meanwhile that it is still starting. from is 0 for
 * a new file. Process-wide: set it before opening a store; NULL for none. */
void store_set_upgrade_hook(void (*hook)(int from, int to), unsigned every_ms);

#endif
