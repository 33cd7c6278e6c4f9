/*
 * ingest.h - a parsed feed document into the store: identity check, content hash, scoring against
 * every topic, storage, alert queueing; then the sending of queued alerts after the commit.
 */
#ifndef VEILLE_INGEST_H
#define VEILLE_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct feed_doc;
struct store;
struct topic;

struct ingest_counts {
	unsigned items;	     /* items in the document */
	unsigned seen;	     /* skipped: this feed delivered the same identity, unchanged, before */
	unsigned duplicates; /* same content already stored (another feed or URL) */
	unsigned added;	     /* new items stored */
	unsigned grouped;    /* of those, near-duplicates joined to an earlier item's story */
	unsigned revised;    /* items seen before whose content changed: new version stored */
	unsigned relevant;   /* added or revised items relevant for at least one topic (alerts
				queued, once per story and topic) */
};

struct corpus;

/* How far back a new item looks for a story to join (seconds of fetch time): rewrites of one
 * dispatch come within hours; a longer window only adds comparisons. */
#define INGEST_STORY_WINDOW (3 * 86400)

/* The topics of a configuration, built from their reference articles, and the background
 * document frequencies counted for them (corpus.h). */
struct topics {
	struct topic **v;
	size_t n;
	struct corpus *corpus;
};
/* Builds every topic of c. 0, or -EINVAL with a new message (naming the file) in *ret_err. */
int topics_build(const struct config *c, struct topics *ret, char **ret_err);
void topics_clear(struct topics *t);
/* Loads the background document frequencies stored in st into every topic: at start, at reload,
 * and (with only_when_stale) after a commit once the corpus has grown by a quarter since the last
 * load. 0 or -errno (the topics then keep their reference weights). */
int topics_load_background(struct store *st, struct topics *t, bool only_when_stale);
/* Score at or above which an alert of t is a WARNING rather than a NOTICE. */
double topics_high_mark(const struct topic *t);

/*
 * Adds the items of doc, fetched from feed at time now, to the store. Runs inside the caller's
 * transaction (the caller commits or rolls back), background document frequencies of the new
 * items included. Counts go to *ret. 0 or -errno (store error).
 *
 * Per item: an identity (guid, else link) this feed delivered before with the same raw bytes
 * (dedup_fingerprint) is skipped before any normalisation. Other bytes under a known identity:
 * when the content hash changed too, the item is revised (old version kept, re-scored). A new
 * identity: an exact duplicate (content hash or canonical link) adds a source; otherwise the item
 * is stored, joined to the story of a near-duplicate (SimHash within DEDUP_STORY_DISTANCE) fetched
 * in the last INGEST_STORY_WINDOW, and scored. Alerts are queued once per story and topic.
 */
int ingest_doc(struct store *st, const struct topics *topics, const char *feed,
	       const struct feed_doc *doc, int64_t now, struct ingest_counts *ret);

/*
 * ingest_doc in three steps, so that its CPU work can run on another thread:
 *
 * 1. ingest_triage, on the store's thread, outside a transaction (it reads in one of its own):
 *    the items' fingerprints, and which items the store holds already, unchanged (those are
 *    skipped at the commit and need no preparing). A read error makes every later item wanted:
 *    triage is only a hint, the commit looks everything up again.
 * 2. ingest_prepare_digests, then ingest_prepare_verdicts, on any thread: content hashes,
 *    SimHashes and canonical links of the wanted items, then their verdicts against every topic
 *    (scores, terms, profile keys). They read doc and topics and write only p: nobody may change
 *    either meanwhile (topics_load_background re-weights the topics).
 * 3. ingest_commit, on the store's thread, inside the caller's transaction: exactly ingest_doc,
 *    taking from p what it holds and working out inline what it does not. verdicts_current: the
 *    topics have not been re-weighted since ingest_prepare_verdicts (else the verdicts are
 *    computed again under the current weights, from what p kept of each item's reading: the
 *    same verdicts as from the text, without reading it again).
 *
 * The preparation belongs to doc (same items, same order; one for another document is ignored)
 * and is freed by ingest_prep_free.
 */
struct ingest_prep;
/* st may be NULL: every readable item is wanted. Returns a new preparation; *ret_want is the
 * number of items wanted (0: step 2 has nothing to do). */
struct ingest_prep *ingest_triage(struct store *st, const char *feed, const struct feed_doc *doc,
				  size_t *ret_want);
void ingest_prepare_digests(struct ingest_prep *p, const struct feed_doc *doc);
void ingest_prepare_verdicts(struct ingest_prep *p, const struct topics *topics,
			     const struct feed_doc *doc);
/* After ingest_prepare_digests, on any thread: the story window of st, the store the commit will
 * use (its thread goes on writing meanwhile), scanned for the SimHashes prepared as of time now
 * (store_story_scan_ahead); the commit takes the answers when they still hold. st must stay open
 * through the call. */
void ingest_prepare_stories(struct ingest_prep *p, struct store *st, int64_t now);
/* prep may be NULL: ingest_doc. 0 or -errno, as ingest_doc. */
int ingest_commit(struct store *st, const struct topics *topics, const char *feed,
		  const struct feed_doc *doc, const struct ingest_prep *prep, bool verdicts_current,
		  int64_t now, struct ingest_counts *ret);
void ingest_prep_free(struct ingest_prep *p);

/* True when topics_load_background(only_when_stale) would load the frequencies again. */
bool topics_background_stale(const struct topics *t);

/* What the caller keeps from one flush to the next. Zero-initialise; ingest_outbox_clear frees. */
struct ingest_outbox {
	/* Alerts sent whose "sent" mark the database refused (disk full, read-only): marked at
	 * the next flush, never sent again by this process. */
	struct ingest_unmarked {
		int64_t item_id;
		char *topic;
	} * unmarked;
	size_t nunmarked;
};
void ingest_outbox_clear(struct ingest_outbox *ob);

struct ingest_flushed {
	unsigned pending; /* queued and unsent when the flush began */
	unsigned sent;	  /* sent now */
	unsigned found;	  /* found in the sink already (sent before a crash), marked, not resent */
	int recall;	  /* after_crash: 0 when the sink was read back, else why not (-errno) */
};

/*
 * Sends every queued, unsent alert and marks each sent. Call after a commit, and at start-up
 * (after_crash) for alerts a crash left pending: those are first looked up in the sink when it
 * can be read back (the journal), so an alert sent just before the crash is not sent twice.
 * Counts go to *ret. 0 or -errno (the sink refused an alert, or the database a mark).
 */
int ingest_flush_alerts(struct store *st, const struct topics *topics, struct ingest_outbox *ob,
			bool after_crash, struct ingest_flushed *ret);

/* One verdict that changed during ingest_rescore. Strings are borrowed for the callback. */
struct ingest_change {
	int64_t item_id;
	const char *topic, *title, *link;
	bool had_verdict; /* false: the item had never been scored for this topic */
	bool was_relevant, relevant;
	double old_score, score;
	bool alert_queued;
};
struct ingest_rescore_counts {
	unsigned items;		     /* verdicts computed */
	unsigned changed;	     /* verdicts written: new, or a different score or relevance */
	unsigned became_relevant;    /* of which now relevant, and not before */
	unsigned no_longer_relevant; /* of which relevant before, and not now */
	unsigned alerts;	     /* alerts queued (only with alert) */
};
/*
 * Re-scores every stored item against topic (NULL: every topic of topics) after references,
 * thresholds or document frequencies changed, in transactions of a few hundred items, and stores
 * each verdict that changed (cb, when not NULL, is told of each before its batch commits). With
 * alert, an alert is queued for each item that became relevant (the daemon sends queued alerts
 * after its next fetch, or at start or reload); an item alerted once for a topic is never queued
 * again. Counts go to *ret (those of the batches committed). 0 or -errno.
 */
int ingest_rescore(struct store *st, const struct topics *topics, const char *topic, bool alert,
		   void (*cb)(const struct ingest_change *c, void *arg), void *arg,
		   struct ingest_rescore_counts *ret);

#endif
