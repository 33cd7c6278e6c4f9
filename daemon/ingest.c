/*
 * ingest.c - from parsed items to stored, scored items and queued alerts.
 */
#include "ingest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "config.h"
#include "dedup.h"
#include "feed.h"
#include "store.h"
#include "topic.h"
#include "util.h"

int topics_build(const struct config *c, struct topics *ret, char **ret_err)
{
	struct topics t = {.v = xcalloc(c->ntopics ? c->ntopics : 1, sizeof(struct topic *))};
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
		if (i)
			buf_putc(b, ',');
		buf_putc(b, '[');
		json_put_string(b, v->terms[i].term);
		buf_printf(b, ",%.4f]", v->terms[i].weight);
	}
	buf_putc(b, ']');
}

/* The text an item is judged and hashed on: its fullest body. */
static const char *item_text(const struct feed_item *it)
{
	if (it->content && (!it->summary || strlen(it->content) >= strlen(it->summary)))
		return it->content;
	return it->summary;
}

/*
 * Scores item id (of story) against every topic, records the verdicts and queues an alert for each
 * topic it is relevant to, unless its story already had one for that topic: a story alerts once
 * per topic, whichever of its items (or versions) became relevant first. *ret_relevant says
 * whether it is relevant to any topic.
 */
static int judge(struct store *st, const struct topics *topics, int64_t id, int64_t story,
		 const char *title, const char *text, struct buf *terms, bool *ret_relevant)
{
	bool any = false;
	for (size_t t = 0; t < topics->n; t++) {
		struct topic_verdict v;
		const char *name = topic_name(topics->v[t]);
		topic_score(topics->v[t], title, text, &v);
		terms_json(&v, terms);
		int r = store_verdict_add(st, id, name, v.score, v.relevant, terms->p);
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
	struct ingest_counts n = {.items = (unsigned)doc->nitems};
	struct buf terms = {0};
	int r = 0;
	for (size_t i = 0; i < doc->nitems; i++) {
		const struct feed_item *it = &doc->items[i];
		const char *text = item_text(it);
		char hash[DEDUP_HASH_HEX];
		struct dedup_simhash sim = {0};
		bool digested = false;
		if ((!it->title || !*it->title) && (!text || !*text))
			continue; /* nothing a person could read */
		/* The cheap checks first: a warm cycle meets mostly items it stored before,
		 * unchanged, and must not normalise them again. */
		uint64_t fp = dedup_fingerprint(it->title, it->summary, it->content);
		const char *identity = it->id && *it->id       ? it->id
				       : it->link && *it->link ? it->link
							       : NULL;
		if (!identity) {
			dedup_digest(it->title, text, hash, &sim);
			digested = true;
			identity = hash;
		}
		struct store_source src;
		r = store_source_get(st, feed, identity, &src);
		if (r < 0)
			goto out;
		bool known = r > 0;
		if (known && src.has_fingerprint && src.fingerprint == fp) {
			n.seen++;
			continue;
		}
		if (!digested)
			dedup_digest(it->title, text, hash, &sim);
		char *canon = it->link ? dedup_canonical_url(it->link) : NULL;
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
				free(canon);
				r = store_source_fingerprint(st, feed, identity, fp);
				if (r < 0)
					goto out;
				n.seen++;
				continue;
			}
			r = store_item_revise(st, src.item_id, &si, &id);
			free(canon);
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
			free(canon);
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
		r = judge(st, topics, id, story, it->title, text, &terms, &relevant);
		if (r < 0)
			goto out;
		n.relevant += relevant;
	}
	r = 0;
out:
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

int ingest_flush_alerts(struct store *st, const struct topics *topics, unsigned *ret_sent)
{
	struct pending p = {0};
	unsigned sent = 0;
	/* Collect first: the alerts are marked sent while no statement iterates over them. */
	int r = store_alerts_pending(st, collect_cb, &p);
	for (size_t i = 0; r >= 0 && i < p.n; i++) {
		struct alert *a = &p.v[i];
		a->high = 1.0;
		for (size_t t = 0; t < topics->n; t++)
			if (strcmp(topic_name(topics->v[t]), a->topic) == 0)
				a->high = topics_high_mark(topics->v[t]);
		/* Not marked sent when the sink refused it: it goes out at the next flush. */
		r = alert_send(a);
		if (r < 0)
			break;
		r = store_alert_sent(st, a->item_id, a->topic);
		if (r >= 0)
			sent++;
	}
	for (size_t i = 0; i < p.n; i++) {
		free((char *)p.v[i].topic);
		free((char *)p.v[i].feed);
		free((char *)p.v[i].url);
		free((char *)p.v[i].title);
		free((char *)p.v[i].terms);
	}
	free(p.v);
	*ret_sent = sent;
	return r < 0 ? r : 0;
}
