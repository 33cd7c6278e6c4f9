/*
 * ingest.h - a parsed feed document into the store: identity check, content hash, scoring against
 * every topic, storage, alert queueing; then the sending of queued alerts after the commit.
 */
#ifndef VEILLE_INGEST_H
#define VEILLE_INGEST_H

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

/* How far back a new item looks for a story to join (seconds of fetch time): rewrites of one
 * dispatch come within hours; a longer window only adds comparisons. */
#define INGEST_STORY_WINDOW (3 * 86400)

/* The topics of a configuration, built from their reference articles. */
struct topics {
	struct topic **v;
	size_t n;
};
/* Builds every topic of c. 0, or -EINVAL with a new message (naming the file) in *ret_err. */
int topics_build(const struct config *c, struct topics *ret, char **ret_err);
void topics_clear(struct topics *t);
/* Score at or above which an alert of t is a WARNING rather than a NOTICE. */
double topics_high_mark(const struct topic *t);

/*
 * Adds the items of doc, fetched from feed at time now, to the store. Runs inside the caller's
 * transaction (the caller commits or rolls back). Counts go to *ret. 0 or -errno (store error).
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

/* Sends every queued, unsent alert and marks each sent. Call after a commit, and at start-up for
 * alerts a crash left pending. Sets *ret_sent to how many were sent. 0 or -errno. */
int ingest_flush_alerts(struct store *st, const struct topics *topics, unsigned *ret_sent);

#endif
