/*
 * ingest.c - from parsed items to stored, scored items and queued alerts.
 */
#include "ingest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "alert.h"
#include "config.h"
#include "corpus.h"
#include "dedup.h"
#include "feed.h"
#include "store.h"
#include "topic.h"
#include "util.h"

int topics_build(const struct config *c, struct topics *ret, char **ret_err)
{
	struct topics t = {.v = xcalloc(c->ntopics ? c->ntopics : 1, sizeof(struct topic *)),
			   .corpus = corpus_new()};
	for (size_t i = 0; i < c->ntopics; i++) {
		const struct config_topic *ct = &c->topics[i];
		char *err = NULL;
		t.v[i] = topic_new(ct->name, (const char *const *)ct->references, ct->nreferences,
				   ct->threshold, c->aliases, &err);
		if (!t.v[i]) {
			*ret_err = xasprintf("topic %s: %s", ct->name, err ? err : "cannot build");
			free(err);
			topics_clear(&t);
			return -EINVAL;
		}
		t.n++;
	}
	*ret = t;
	return 0;
}

void topics_clear(struct topics *t)
{
	for (size_t i = 0; i < t->n; i++)
		topic_free(t->v[i]);
	free(t->v);
	t->v = NULL;
	t->n = 0;
	corpus_free(t->corpus);
	t->corpus = NULL;
}

bool topics_background_stale(const struct topics *t)
{
	return corpus_stale(t->corpus);
}

int topics_load_background(struct store *st, struct topics *t, bool only_when_stale)
{
	if (only_when_stale && !corpus_stale(t->corpus))
		return 0;
	return corpus_load(t->corpus, st, t->v, t->n);
}

double topics_high_mark(const struct topic *t)
{
	double th = topic_threshold(t);
	return th + (1.0 - th) / 2.0;
}

static void terms_json(const struct topic_verdict *v, struct buf *b)
{
	buf_reset(b);
	buf_putc(b, '[');
	for (size_t i = 0; i < v->nterms; i++) {
		buf_append(b, i ? ",[" : "[", i ? 2 : 1);
		json_put_string(b, v->terms[i].term);
		buf_putc(b, ',');
		buf_put_fixed4(b, v->terms[i].weight); /* "%.4f" without printf: every item */
		buf_putc(b, ']');
	}
	buf_putc(b, ']');
}

/* The text an item is judged and hashed on: its fullest body. */
static const char *fullest_text(const char *summary, const char *content)
{
	if (content && (!summary || strlen(content) >= strlen(summary)))
		return content;
	return summary;
}

static const char *item_text(const struct feed_item *it)
{
	return fullest_text(it->summary, it->content);
}

/* --- preparation: what an item needs that the store does not decide --------------------------- */

/* One topic's verdict on an item, worked out ahead of the commit. */
struct prep_verdict {
	double score;
	bool relevant;
	char *terms; /* terms_json */
};

struct prep_item {
	uint64_t fp;
	bool want;     /* not known unchanged at triage: worth preparing */
	bool digested; /* hash, sim and canon are set */
	char hash[DEDUP_HASH_HEX];
	struct dedup_simhash sim;
	char *canon;		/* dedup_canonical_url of the link, NULL when none */
	struct prep_verdict *v; /* one per topic once scored, else NULL */
	/* The item as each topic read it (one per topic with v): its profile keys, and its verdicts
	 * again, without reading its text, when the topics were re-weighted meanwhile. */
	struct topic_bag **bags;
};

struct ingest_prep {
	size_t n; /* the document's items */
	size_t ntopics;
	struct prep_item *v;
	struct store_story_ahead stories; /* ingest_prepare_stories */
};

static bool readable(const struct feed_item *it, const char *text)
{
	return (it->title && *it->title) || (text && *text);
}

static const char *item_identity(const struct feed_item *it)
{
	return it->id && *it->id ? it->id : it->link && *it->link ? it->link : NULL;
}

struct ingest_prep *ingest_triage(struct store *st, const char *feed, const struct feed_doc *doc,
				  size_t *ret_want)
{
	struct ingest_prep *p = xcalloc(1, sizeof(*p));
	size_t want = 0;
	/* One read transaction: one snapshot for every lookup, not one each. Inside the caller's
	 * open transaction, the lookups see what it has stored. */
	bool nested = st && store_in_transaction(st);
	bool lookups = st && (nested || store_begin_read(st) == 0);
	bool reading = lookups && !nested;
	p->n = doc->nitems;
	p->v = xcalloc(p->n ? p->n : 1, sizeof(*p->v));
	for (size_t i = 0; i < p->n; i++) {
		const struct feed_item *it = &doc->items[i];
		struct prep_item *pi = &p->v[i];
		if (!readable(it, item_text(it)))
			continue;
		pi->fp = dedup_fingerprint(it->title, it->summary, it->content);
		pi->want = true;
		const char *identity = item_identity(it);
		struct store_delivered src;
		if (identity && lookups) {
			int r = store_source_get(st, feed, identity, &src);
			if (r < 0)
				lookups = false; /* a hint only: the commit meets the error again */
			else if (r > 0 && src.has_fingerprint && src.fingerprint == pi->fp)
				pi->want = false;
		}
		want += pi->want;
	}
	if (reading)
		store_commit(st);
	*ret_want = want;
	return p;
}

void ingest_prepare_digests(struct ingest_prep *p, const struct feed_doc *doc)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct feed_item *it = &doc->items[i];
		struct prep_item *pi = &p->v[i];
		if (!pi->want || pi->digested)
			continue;
		dedup_digest(it->title, item_text(it), pi->hash, &pi->sim);
		pi->canon = it->link ? dedup_canonical_url(it->link) : NULL;
		pi->digested = true;
	}
}

void ingest_prepare_verdicts(struct ingest_prep *p, const struct topics *topics,
			     const struct feed_doc *doc)
{
	struct buf terms = {0};
	for (size_t i = 0; i < p->n; i++) {
		const struct feed_item *it = &doc->items[i];
		struct prep_item *pi = &p->v[i];
		if (!pi->want || pi->v)
			continue;
		pi->v = xcalloc(topics->n ? topics->n : 1, sizeof(*pi->v));
		pi->bags = xcalloc(topics->n ? topics->n : 1, sizeof(*pi->bags));
		for (size_t t = 0; t < topics->n; t++) {
			struct topic_verdict v;
			pi->bags[t] = topic_bag_new(topics->v[t], it->title, item_text(it));
			topic_bag_score(topics->v[t], pi->bags[t], &v, NULL, NULL);
			terms_json(&v, &terms);
			pi->v[t] = (struct prep_verdict){v.score, v.relevant, xstrdup(terms.p)};
		}
	}
	p->ntopics = topics->n;
	buf_free(&terms);
}

void ingest_prep_free(struct ingest_prep *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		struct prep_item *pi = &p->v[i];
		free(pi->canon);
		if (pi->v)
			for (size_t t = 0; t < p->ntopics; t++) {
				free(pi->v[t].terms);
				topic_bag_free(pi->bags[t]);
			}
		free(pi->v);
		free(pi->bags);
	}
	free(p->v);
	store_story_ahead_clear(&p->stories);
	free(p);
}

/*
 * Scores item id (of story) against every topic, records the verdicts and queues an alert for each
 * topic it is relevant to, unless its story already had one for that topic: a story alerts once
 * per topic, whichever of its items (or versions) became relevant first. *ret_relevant says
 * whether it is relevant to any topic. count: the item is new, its profile keys go to the
 * background document frequencies. pi (may be NULL): what was prepared for the item, for the
 * same topics: its verdicts, used when current (the topics were not re-weighted since), else its
 * bags, scored again under the current weights without reading the text.
 */
static int judge(struct store *st, const struct topics *topics, int64_t id, int64_t story,
		 const char *title, const char *text, bool count, const struct prep_item *pi,
		 bool current, struct buf *terms, bool *ret_relevant)
{
	bool any = false;
	void (*key_cb)(const char *key, void *arg) = count ? corpus_key_cb : NULL;
	if (pi && !pi->v)
		pi = NULL;
	if (count)
		corpus_doc(topics->corpus);
	for (size_t t = 0; t < topics->n; t++) {
		const struct topic *tp = topics->v[t];
		const struct topic_bag *bag = pi ? pi->bags[t] : NULL;
		struct topic_verdict v;
		const char *name = topic_name(tp);
		const char *json;
		if (bag && current && topic_bag_score(tp, bag, NULL, key_cb, topics->corpus)) {
			v.score = pi->v[t].score;
			v.relevant = pi->v[t].relevant;
			json = pi->v[t].terms;
		} else {
			if (!bag || !topic_bag_score(tp, bag, &v, key_cb, topics->corpus))
				topic_score_keys(tp, title, text, &v, key_cb, topics->corpus);
			terms_json(&v, terms);
			json = terms->p;
		}
		int r = store_verdict_add(st, id, name, v.score, v.relevant, json);
		if (r < 0)
			return r;
		if (!v.relevant)
			continue;
		any = true;
		r = store_story_alerted(st, story, name);
		if (r == 0)
			r = store_alert_queue(st, id, name);
		if (r < 0)
			return r;
	}
	*ret_relevant = any;
	return 0;
}

int ingest_doc(struct store *st, const struct topics *topics, const char *feed,
	       const struct feed_doc *doc, int64_t now, struct ingest_counts *ret)
{
	return ingest_commit(st, topics, feed, doc, NULL, false, now, ret);
}

/* The SimHashes of the items prepared, *ret_k of them, in new memory. */
static uint64_t (*prep_simhashes(const struct ingest_prep *p, size_t *ret_k))[2]
{
	uint64_t(*v)[2] = xreallocarray(NULL, p->n ? p->n : 1, sizeof(*v));
	size_t k = 0;
	for (size_t i = 0; i < p->n; i++) {
		const struct prep_item *pi = &p->v[i];
		if (pi->want && pi->digested && (pi->sim.v[0] || pi->sim.v[1])) {
			v[k][0] = pi->sim.v[0];
			v[k][1] = pi->sim.v[1];
			k++;
		}
	}
	*ret_k = k;
	return v;
}

void ingest_prepare_stories(struct ingest_prep *p, struct store *st, int64_t now)
{
	size_t k;
	uint64_t(*v)[2] = prep_simhashes(p, &k);
	if (k)
		store_story_scan_ahead(st, (const uint64_t(*)[2])v, k, now - INGEST_STORY_WINDOW,
				       &p->stories);
	free(v);
}

/* The story window scanned once for every new item of the document: ahead, on the worker, when
 * its answers still hold (store_story_adopt), else now (store_story_prefetch). A shortcut only:
 * store_story_find meets any error again. */
static void prefetch_stories(struct store *st, const struct ingest_prep *p, int64_t since)
{
	if (store_story_adopt(st, &p->stories, since) != 0)
		return;
	size_t k;
	uint64_t(*v)[2] = prep_simhashes(p, &k);
	if (k)
		store_story_prefetch(st, (const uint64_t(*)[2])v, k, since);
	free(v);
}

int ingest_commit(struct store *st, const struct topics *topics, const char *feed,
		  const struct feed_doc *doc, const struct ingest_prep *prep, bool verdicts_current,
		  int64_t now, struct ingest_counts *ret)
{
	struct ingest_counts n = {.items = (unsigned)doc->nitems};
	struct buf terms = {0};
	int r = 0;
	if (prep && prep->n != doc->nitems)
		prep = NULL;
	/* Prepared for other topics: nothing of it applies (judge gets no preparation, and
	 * verdicts_current says nothing then). */
	bool prepared = prep && prep->ntopics == topics->n;
	if (prep)
		prefetch_stories(st, prep, now - INGEST_STORY_WINDOW);
	for (size_t i = 0; i < doc->nitems; i++) {
		const struct feed_item *it = &doc->items[i];
		const struct prep_item *pi = prep ? &prep->v[i] : NULL;
		const char *text = item_text(it);
		char hash[DEDUP_HASH_HEX];
		struct dedup_simhash sim = {0};
		bool digested = false;
		if (!readable(it, text))
			continue; /* nothing a person could read */
		/* The cheap checks first: a warm cycle meets mostly items it stored before,
		 * unchanged, and must not normalise them again. */
		uint64_t fp = pi ? pi->fp : dedup_fingerprint(it->title, it->summary, it->content);
		const char *identity = item_identity(it);
		if (pi && pi->digested) {
			memcpy(hash, pi->hash, sizeof(hash));
			sim = pi->sim;
			digested = true;
		}
		if (!identity) {
			if (!digested)
				dedup_digest(it->title, text, hash, &sim);
			digested = true;
			identity = hash;
		}
		struct store_delivered src;
		r = store_source_get(st, feed, identity, &src);
		if (r < 0)
			goto out;
		bool known = r > 0;
		if (known && src.has_fingerprint && src.fingerprint == fp) {
			n.seen++;
			continue;
		}
		char *canon = NULL; /* owned when computed here, else borrowed from pi */
		if (pi && pi->digested) {
			canon = pi->canon;
		} else {
			if (!digested)
				dedup_digest(it->title, text, hash, &sim);
			canon = it->link ? dedup_canonical_url(it->link) : NULL;
		}
		char *owned = pi && pi->digested ? NULL : canon;
		struct store_item si = {
		    .feed = feed,
		    .identity = identity,
		    .guid = it->id,
		    .link = it->link,
		    .canonical_link = canon,
		    .title = it->title,
		    .author = it->author,
		    .summary = it->summary,
		    .content = it->content,
		    .hash = hash,
		    .published = it->published,
		    .fetched = now,
		    .fingerprint = fp,
		    .simhash = {sim.v[0], sim.v[1]},
		};
		int64_t id, story;
		if (known) {
			/* Seen before with other bytes. A source stored before fingerprints
			 * existed, or bytes that read the same: remember the fingerprint, nothing
			 * else changed. */
			if (!src.has_fingerprint || strcmp(src.hash, hash) == 0) {
				free(owned);
				r = store_source_fingerprint(st, feed, identity, fp);
				if (r < 0)
					goto out;
				n.seen++;
				continue;
			}
			r = store_item_revise(st, src.item_id, &si, &id);
			free(owned);
			if (r < 0)
				goto out;
			if (r == 0) {
				n.duplicates++;
				continue;
			}
			n.revised++;
			story = src.story;
		} else {
			r = store_story_find(st, si.simhash, now - INGEST_STORY_WINDOW,
					     DEDUP_STORY_DISTANCE, &si.story);
			if (r >= 0)
				r = store_item_add(st, &si, &id);
			free(owned);
			if (r < 0)
				goto out;
			if (r == 0) {
				n.duplicates++;
				continue;
			}
			n.added++;
			n.grouped += si.story > 0;
			story = si.story > 0 ? si.story : id;
		}
		bool relevant;
		/* A new item joins the background document frequencies; a revision was counted
		 * when it was new. */
		r = judge(st, topics, id, story, it->title, text, !known, prepared ? pi : NULL,
			  verdicts_current, &terms, &relevant);
		if (r < 0)
			goto out;
		n.relevant += relevant;
	}
	r = corpus_flush(topics->corpus, st);
out:
	if (r < 0)
		corpus_discard(topics->corpus);
	buf_free(&terms);
	*ret = n;
	return r;
}

struct pending {
	struct alert *v;
	size_t n;
};

static int collect_cb(const struct store_alert *a, void *arg)
{
	struct pending *p = arg;
	p->v = xreallocarray(p->v, p->n + 1, sizeof(*p->v));
	p->v[p->n++] = (struct alert){
	    .topic = xstrdup(a->topic),
	    .score = a->score,
	    .feed = a->feed ? xstrdup(a->feed) : NULL,
	    .url = a->url ? xstrdup(a->url) : NULL,
	    .title = a->title ? xstrdup(a->title) : NULL,
	    .terms = a->terms_json ? xstrdup(a->terms_json) : NULL,
	    .item_id = a->item_id,
	};
	return 0;
}

void ingest_outbox_clear(struct ingest_outbox *ob)
{
	for (size_t i = 0; i < ob->nunmarked; i++)
		free(ob->unmarked[i].topic);
	free(ob->unmarked);
	ob->unmarked = NULL;
	ob->nunmarked = 0;
}

/* Index of (item_id, topic) in ob's unmarked alerts, or -1. */
static ssize_t unmarked_find(const struct ingest_outbox *ob, int64_t item_id, const char *topic)
{
	for (size_t i = 0; i < ob->nunmarked; i++)
		if (ob->unmarked[i].item_id == item_id && strcmp(ob->unmarked[i].topic, topic) == 0)
			return (ssize_t)i;
	return -1;
}

static void unmarked_drop(struct ingest_outbox *ob, size_t i)
{
	free(ob->unmarked[i].topic);
	ob->unmarked[i] = ob->unmarked[--ob->nunmarked];
}

int ingest_flush_alerts(struct store *st, const struct topics *topics, struct ingest_outbox *ob,
			bool after_crash, struct ingest_flushed *ret)
{
	struct pending p = {0};
	struct ingest_flushed n = {0};
	struct alert_recall *recall = NULL;
	/* Collect first: the alerts are marked sent while no statement iterates over them. */
	int r = store_alerts_pending(st, collect_cb, &p);
	n.pending = (unsigned)p.n;
	if (r >= 0 && p.n && after_crash)
		n.recall = alert_recall_open(n.pending, ALERT_RECALL_TIMEOUT_MS, &recall);
	for (size_t i = 0; r >= 0 && i < p.n; i++) {
		struct alert *a = &p.v[i];
		a->high = 1.0;
		for (size_t t = 0; t < topics->n; t++)
			if (strcmp(topic_name(topics->v[t]), a->topic) == 0)
				a->high = topics_high_mark(topics->v[t]);
		ssize_t u = unmarked_find(ob, a->item_id, a->topic);
		bool found = u >= 0 || (recall && alert_recall_find(recall, a) == 1);
		/* Not marked sent when the sink refused it: it goes out at the next flush. */
		if (!found && (r = alert_send(a)) < 0)
			break;
		r = store_alert_sent(st, a->item_id, a->topic);
		if (r == -ENOENT)
			r = 0; /* marked meanwhile: nothing left to do */
		if (r < 0 && u < 0) {
			/* Sent but not marked: remember it, so the next flush only marks it. */
			ob->unmarked =
			    xreallocarray(ob->unmarked, ob->nunmarked + 1, sizeof(*ob->unmarked));
			ob->unmarked[ob->nunmarked++] = (struct ingest_unmarked){
			    .item_id = a->item_id, .topic = xstrdup(a->topic)};
		} else if (r >= 0 && u >= 0) {
			unmarked_drop(ob, (size_t)u);
		}
		if (u < 0 && !found)
			n.sent++;
		else if (u < 0)
			n.found++;
	}
	alert_recall_free(recall);
	for (size_t i = 0; i < p.n; i++) {
		free((char *)p.v[i].topic);
		free((char *)p.v[i].feed);
		free((char *)p.v[i].url);
		free((char *)p.v[i].title);
		free((char *)p.v[i].terms);
	}
	free(p.v);
	*ret = n;
	return r < 0 ? r : 0;
}

/* --- rescore ------------------------------------------------------------------------------ */

#define RESCORE_BATCH 500 /* items per transaction: the daemon waits at most one batch */

struct judged_copy {
	int64_t id, story;
	char *title, *text, *link;
	bool has_verdict, relevant;
	double score;
};

struct batch {
	struct judged_copy *v;
	size_t n;
};

static int batch_cb(const struct store_judged *j, void *arg)
{
	struct batch *b = arg;
	const char *text = fullest_text(j->summary, j->content);
	b->v[b->n++] = (struct judged_copy){
	    .id = j->id,
	    .story = j->story,
	    .title = j->title ? xstrdup(j->title) : NULL,
	    .text = text ? xstrdup(text) : NULL,
	    .link = j->link ? xstrdup(j->link) : NULL,
	    .has_verdict = j->has_verdict,
	    .relevant = j->relevant,
	    .score = j->score,
	};
	return 0;
}

static void batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->v[i].title);
		free(b->v[i].text);
		free(b->v[i].link);
	}
	b->n = 0;
}

/* Re-scores one batch of items against topic t in the open transaction that read them, and ends
 * it: committed, or rolled back on failure. */
static int rescore_batch(struct store *st, const struct topic *t, struct batch *b, bool alert,
			 void (*cb)(const struct ingest_change *c, void *arg), void *arg,
			 struct ingest_rescore_counts *n)
{
	struct buf terms = {0};
	struct ingest_rescore_counts m = *n; /* kept when the batch commits */
	int r = 0;
	for (size_t i = 0; r == 0 && i < b->n; i++) {
		struct judged_copy *j = &b->v[i];
		struct topic_verdict v;
		topic_score(t, j->title, j->text, &v);
		m.items++;
		/* Scores are stored and printed with four decimals: smaller moves are no change. */
		bool moved = !j->has_verdict || j->relevant != v.relevant ||
			     (long)(j->score * 1e4 + 0.5) != (long)(v.score * 1e4 + 0.5);
		if (!moved)
			continue;
		terms_json(&v, &terms);
		r = store_verdict_add(st, j->id, topic_name(t), v.score, v.relevant, terms.p);
		bool queued = false;
		if (r == 0 && alert && v.relevant && !j->relevant) {
			/* As at ingestion: a story alerts once per topic. */
			r = store_story_alerted(st, j->story, topic_name(t));
			if (r == 0) {
				r = store_alert_queue(st, j->id, topic_name(t));
				queued = r == 1;
			}
			if (r > 0)
				r = 0;
		}
		if (r < 0)
			break;
		m.changed++;
		m.became_relevant += v.relevant && !j->relevant;
		m.no_longer_relevant += !v.relevant && j->relevant;
		m.alerts += queued;
		struct ingest_change c = {
		    .item_id = j->id,
		    .topic = topic_name(t),
		    .title = j->title,
		    .link = j->link,
		    .had_verdict = j->has_verdict,
		    .was_relevant = j->relevant,
		    .old_score = j->score,
		    .relevant = v.relevant,
		    .score = v.score,
		    .alert_queued = queued,
		};
		if (cb)
			cb(&c, arg);
	}
	if (r == 0)
		r = store_commit(st);
	if (r < 0)
		store_rollback(st);
	else
		*n = m;
	buf_free(&terms);
	return r;
}

int ingest_rescore(struct store *st, const struct topics *topics, const char *topic, bool alert,
		   void (*cb)(const struct ingest_change *c, void *arg), void *arg,
		   struct ingest_rescore_counts *ret)
{
	struct ingest_rescore_counts n = {0};
	struct batch b = {.v = xcalloc(RESCORE_BATCH, sizeof(*b.v))};
	int r = 0;
	for (size_t k = 0; r == 0 && k < topics->n; k++) {
		const struct topic *t = topics->v[k];
		if (topic && strcmp(topic, topic_name(t)) != 0)
			continue;
		int64_t after = 0;
		for (;;) {
			/* Read in the transaction that writes their verdicts: an item deleted
			 * (retention) or edited (the daemon) meanwhile is not judged from an old
			 * copy. */
			if ((r = store_begin(st)) < 0)
				break;
			r = store_topic_items(st, topic_name(t), after, RESCORE_BATCH, batch_cb,
					      &b);
			if (r < 0 || b.n == 0) {
				store_rollback(st);
				break;
			}
			after = b.v[b.n - 1].id;
			r = rescore_batch(st, t, &b, alert, cb, arg, &n);
			batch_clear(&b);
			if (r < 0)
				break;
		}
	}
	batch_clear(&b);
	free(b.v);
	*ret = n;
	return r;
}
