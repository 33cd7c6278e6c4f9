/* Unit tests for ingest.c against a real SQLite file and the shipped topic: identity skips,
 * content-hash duplicates, verdicts, alerts queued with the item and sent once. Every test runs
 * twice: through ingest_doc, and staged as the daemon runs it (triage, preparation, commit). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <glob.h>
#include <sqlite3.h>

#include "alert.h"
#include "config.h"
#include "feed.h"
#include "ingest.h"
#include "store.h"
#include "topic.h"
#include "util.h"

static const char *ON_TITLE = "Minsk déploie des troupes à la frontière ukrainienne";
static const char *ON_TEXT =
    "L'armée biélorusse a déployé des bataillons et de l'artillerie près de la frontière avec "
    "l'Ukraine, dans la région de Gomel, selon les gardes-frontières ukrainiens. Loukachenko "
    "affirme que ces troupes répondent aux provocations de Kiev.";
static const char *OFF_TITLE = "Le marché des vins de Bordeaux se redresse";
static const char *OFF_TEXT = "Les négociants observent une reprise des ventes à l'export, portée "
			      "par les millésimes récents et la demande asiatique.";

struct fixture {
	char dir[64];
	struct config *cfg;
	struct topics topics;
	struct store *store;
	bool staged;   /* ingest() triages, prepares, then commits */
	size_t wanted; /* staged: items the last triage wanted prepared */
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/veille-ingest-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	char *errors = NULL;
	f->cfg = config_load(TEST_SOURCE_DIR "/conf/veille.conf", &errors);
	if (!f->cfg) {
		print_error("%s", errors);
		return -1;
	}
	char *err = NULL;
	if (topics_build(f->cfg, &f->topics, &err) < 0) {
		print_error("%s\n", err);
		return -1;
	}
	char *db = xasprintf("%s/v.db", f->dir);
	f->store = store_open(db, false, &err);
	free(db);
	if (!f->store) {
		print_error("%s\n", err);
		return -1;
	}
	alert_open(ALERT_NONE, "test");
	*state = f;
	return 0;
}

static int setup_staged(void **state)
{
	int r = setup(state);
	if (r == 0)
		((struct fixture *)*state)->staged = true;
	return r;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(f->store);
	topics_clear(&f->topics);
	config_free(f->cfg);
	char *cmd = xasprintf("rm -rf '%s'", f->dir);
	int r = system(cmd);
	free(cmd);
	free(f);
	return r == 0 ? 0 : -1;
}

static int ingest(struct fixture *f, const char *feed, struct feed_item *items, size_t n,
		  struct ingest_counts *c)
{
	struct feed_doc doc = {.format = FEED_FORMAT_RSS, .items = items, .nitems = n};
	struct ingest_prep *p = NULL;
	if (f->staged) {
		p = ingest_triage(f->store, feed, &doc, &f->wanted);
		ingest_prepare_digests(p, &doc);
		ingest_prepare_verdicts(p, &f->topics, &doc);
	}
	assert_int_equal(store_begin(f->store), 0);
	int r = f->staged ? ingest_commit(f->store, &f->topics, feed, &doc, p, true, now_unix(), c)
			  : ingest_doc(f->store, &f->topics, feed, &doc, now_unix(), c);
	assert_int_equal(store_commit(f->store), 0);
	ingest_prep_free(p);
	return r;
}

static void test_ingest(void **state)
{
	struct fixture *f = *state;
	struct feed_item items[] = {
	    {.id = "a1",
	     .link = "https://a.example.fr/1",
	     .title = (char *)ON_TITLE,
	     .summary = (char *)ON_TEXT,
	     .published = 1700000000},
	    {.id = "a2",
	     .link = "https://a.example.fr/2",
	     .title = (char *)OFF_TITLE,
	     .summary = (char *)OFF_TEXT,
	     .published = FEED_NO_DATE},
	    /* the same story again under another identity, with other spacing and case */
	    {.id = "a3",
	     .link = "https://a.example.fr/3?utm_source=x",
	     .title = "MINSK déploie des troupes  à la frontière ukrainienne",
	     .summary = (char *)ON_TEXT,
	     .published = FEED_NO_DATE},
	    /* nothing a person could read */
	    {.id = "a4", .link = "https://a.example.fr/4"},
	};
	struct ingest_counts c;
	assert_int_equal(ingest(f, "feed-a", items, 4, &c), 0);
	assert_int_equal(c.items, 4);
	assert_int_equal(c.added, 2);
	assert_int_equal(c.duplicates, 1);
	assert_int_equal(c.relevant, 1);
	assert_int_equal(c.seen, 0);

	/* The same document again: every identity is known, nothing is hashed or scored. */
	assert_int_equal(ingest(f, "feed-a", items, 4, &c), 0);
	assert_int_equal(c.seen, 3);
	assert_int_equal(c.added, 0);
	if (f->staged)
		assert_int_equal(f->wanted, 0);

	/* Another feed carrying the same story: a duplicate, no new alert. */
	assert_int_equal(ingest(f, "feed-b", items, 1, &c), 0);
	assert_int_equal(c.duplicates, 1);
	assert_int_equal(c.added, 0);

	struct store_stats st;
	assert_int_equal(store_stats(f->store, &st), 0);
	assert_int_equal(st.items, 2);
	assert_int_equal(st.relevant, 1);
	assert_int_equal(st.alerts_pending, 1);
	/* Background document frequencies: the two stored items, not the duplicates. */
	uint64_t df = 0;
	assert_int_equal(store_df_docs(f->store, &df), 0);
	assert_int_equal(df, 2);
	assert_int_equal(store_df_get(f->store, "belarus", &df), 0);
	assert_int_equal(df, 1);

	struct ingest_outbox ob = {0};
	struct ingest_flushed fl;
	assert_int_equal(ingest_flush_alerts(f->store, &f->topics, &ob, false, &fl), 0);
	assert_int_equal(fl.pending, 1);
	assert_int_equal(fl.sent, 1);
	assert_int_equal(ingest_flush_alerts(f->store, &f->topics, &ob, true, &fl), 0);
	assert_int_equal(fl.pending, 0);
	assert_int_equal(fl.sent, 0);
	assert_int_equal(ob.nunmarked, 0);
	ingest_outbox_clear(&ob);
	assert_int_equal(store_stats(f->store, &st), 0);
	assert_int_equal(st.alerts_sent, 1);
	assert_int_equal(st.alerts_pending, 0);
}

/* An alert sent whose "sent" mark the database refused is remembered, and the next flush marks
 * it without sending it again. The refusal: another connection holds the write lock. */
static void test_unmarked(void **state)
{
	struct fixture *f = *state;
	struct feed_item items[] = {{.id = "u1",
				     .link = "https://u.example.fr/1",
				     .title = (char *)ON_TITLE,
				     .summary = (char *)ON_TEXT,
				     .published = FEED_NO_DATE}};
	struct ingest_counts c;
	assert_int_equal(ingest(f, "feed-u", items, 1, &c), 0);
	assert_int_equal(c.relevant, 1);

	char *err = NULL;
	char *db = xasprintf("%s/v.db", f->dir);
	struct store *other = store_open(db, false, &err);
	free(db);
	assert_non_null(other);
	assert_int_equal(store_begin(other), 0);
	struct ingest_outbox ob = {0};
	struct ingest_flushed fl;
	assert_int_equal(ingest_flush_alerts(f->store, &f->topics, &ob, false, &fl), -EBUSY);
	assert_int_equal(fl.sent, 1);
	assert_int_equal(ob.nunmarked, 1);
	assert_int_equal(store_rollback(other), 0);
	store_close(other);

	assert_int_equal(ingest_flush_alerts(f->store, &f->topics, &ob, false, &fl), 0);
	assert_int_equal(fl.pending, 1);
	assert_int_equal(fl.sent, 0);
	assert_int_equal(ob.nunmarked, 0);
	struct store_stats st;
	assert_int_equal(store_stats(f->store, &st), 0);
	assert_int_equal(st.alerts_pending, 0);
	assert_int_equal(st.alerts_sent, 1);
	ingest_outbox_clear(&ob);
}

static struct store_stats stats(struct fixture *f)
{
	struct store_stats st;
	assert_int_equal(store_stats(f->store, &st), 0);
	return st;
}

/* The story, revisions and verdict of the item titled title. */
struct found {
	const char *title;
	int n;
	int64_t id, story, story_size, revisions;
	bool relevant;
};

static int find_cb(const struct store_row *r, void *arg)
{
	struct found *o = arg;
	if (!r->title || strcmp(r->title, o->title))
		return 0;
	o->n++;
	o->id = r->id;
	o->story = r->story;
	o->story_size = r->story_size;
	o->revisions = r->revisions;
	o->relevant = r->relevant;
	return 0;
}

static struct found find(struct fixture *f, const char *title)
{
	struct found o = {.title = title};
	struct store_query q = {0};
	assert_int_equal(store_items_each(f->store, &q, find_cb, &o), 0);
	return o;
}

/* One link under its variants (tracking parameters, fragment, host case) is one item. */
static void test_url_variants(void **state)
{
	struct fixture *f = *state;
	struct feed_item a = {
	    .id = "x1",
	    .link = "https://www.Example.fr/monde/minsk.html?utm_source=rss&xtor=RSS-1",
	    .title = (char *)ON_TITLE,
	    .summary = (char *)ON_TEXT,
	    .published = FEED_NO_DATE};
	struct feed_item b = {.id = "y1",
			      .link = "https://WWW.EXAMPLE.FR/monde/minsk.html#commentaires",
			      .title = "Minsk déploie des troupes (mis à jour)",
			      .summary = "Texte complété par l'agrégateur.",
			      .published = FEED_NO_DATE};
	struct feed_item c = {.id = "z1",
			      .link =
				  "https://www.example.fr/monde/minsk.html?at_medium=rss&fbclid=1",
			      .title = "Autre titre",
			      .summary = "Autre texte.",
			      .published = FEED_NO_DATE};
	struct ingest_counts n;
	assert_int_equal(ingest(f, "feed-a", &a, 1, &n), 0);
	assert_int_equal(n.added, 1);
	assert_int_equal(n.relevant, 1);
	assert_int_equal(ingest(f, "feed-b", &b, 1, &n), 0);
	assert_int_equal(n.duplicates, 1);
	assert_int_equal(ingest(f, "feed-c", &c, 1, &n), 0);
	assert_int_equal(n.duplicates, 1);
	struct store_stats st = stats(f);
	assert_int_equal(st.items, 1);
	assert_int_equal(st.sources, 3);
	assert_int_equal(st.alerts_pending, 1);
}

static void test_edits(void **state)
{
	struct fixture *f = *state;
	char on_edit[1024], off_edit[1024];
	struct feed_item it[] = {
	    {.id = "e1",
	     .link = "https://a.example.fr/e1",
	     .title = (char *)ON_TITLE,
	     .summary = (char *)ON_TEXT,
	     .published = FEED_NO_DATE},
	    {.id = "e2",
	     .link = "https://a.example.fr/e2",
	     .title = (char *)OFF_TITLE,
	     .summary = (char *)OFF_TEXT,
	     .published = FEED_NO_DATE},
	};
	struct ingest_counts n;
	assert_int_equal(ingest(f, "feed-a", it, 2, &n), 0);
	assert_int_equal(n.added, 2);
	assert_int_equal(n.relevant, 1);
	int64_t on_id = find(f, ON_TITLE).id;

	/* Other bytes, same reading (spacing, an escaped apostrophe): no revision. */
	snprintf(on_edit, sizeof(on_edit), "  %s\n", ON_TEXT);
	it[0].summary = on_edit;
	assert_int_equal(ingest(f, "feed-a", it, 2, &n), 0);
	assert_int_equal(n.seen, 2);
	assert_int_equal(n.revised, 0);
	assert_int_equal(find(f, ON_TITLE).revisions, 0);

	/* The relevant item edited: one revision, re-scored, no second alert. */
	snprintf(on_edit, sizeof(on_edit), "%s Des chars ont été vus près de Mozyr.", ON_TEXT);
	assert_int_equal(ingest(f, "feed-a", it, 2, &n), 0);
	assert_int_equal(n.revised, 1);
	assert_int_equal(n.seen, 1);
	assert_int_equal(n.added, 0);
	assert_int_equal(n.relevant, 1);
	struct found o = find(f, ON_TITLE);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.id, on_id);
	assert_int_equal(o.revisions, 1);
	assert_true(o.relevant);
	struct store_stats st = stats(f);
	assert_int_equal(st.items, 2);
	assert_int_equal(st.alerts_pending, 1);

	/* The same edit again: the fingerprint says nothing changed. */
	assert_int_equal(ingest(f, "feed-a", it, 2, &n), 0);
	assert_int_equal(n.seen, 2);

	/* The off-topic item rewritten into an on-topic one: relevant for the first time, alerts
	 * once, and only once. */
	snprintf(off_edit, sizeof(off_edit),
		 "Correction : %s Les gardes-frontières ukrainiens signalent des colonnes "
		 "blindées biélorusses.",
		 ON_TEXT);
	it[1].summary = off_edit;
	assert_int_equal(ingest(f, "feed-a", it, 2, &n), 0);
	assert_int_equal(n.revised, 1);
	assert_int_equal(n.relevant, 1);
	o = find(f, OFF_TITLE);
	assert_true(o.relevant);
	assert_int_equal(o.revisions, 1);
	st = stats(f);
	assert_int_equal(st.alerts_pending, 2);
	snprintf(off_edit + strlen(off_edit), sizeof(off_edit) - strlen(off_edit),
		 " Kiev proteste.");
	assert_int_equal(ingest(f, "feed-a", it, 2, &n), 0);
	assert_int_equal(n.revised, 1);
	assert_int_equal(find(f, OFF_TITLE).revisions, 2);
	assert_int_equal(stats(f).alerts_pending, 2);
}

/* A source stored before fingerprints existed (schema version 1) is not taken for an edit. */
static void test_legacy_source(void **state)
{
	struct fixture *f = *state;
	struct feed_item it = {.id = "l1",
			       .title = (char *)ON_TITLE,
			       .summary = (char *)ON_TEXT,
			       .published = FEED_NO_DATE};
	struct ingest_counts n;
	assert_int_equal(ingest(f, "feed-a", &it, 1, &n), 0);
	char *db = xasprintf("%s/v.db", f->dir);
	sqlite3 *h;
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "UPDATE sources SET fingerprint = NULL", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(h);
	free(db);
	it.title = "Minsk déploie des troupes à la frontière ukrainienne (nouvelle normalisation)";
	assert_int_equal(ingest(f, "feed-a", &it, 1, &n), 0);
	assert_int_equal(n.seen, 1);
	assert_int_equal(n.revised, 0);
	struct store_delivered src;
	assert_int_equal(store_source_get(f->store, "feed-a", "l1", &src), 1);
	assert_true(src.has_fingerprint);
}

static char *seed(const char *prefix)
{
	char *pattern = xasprintf("%s/conf/reference/%s_*.txt", TEST_SOURCE_DIR, prefix);
	glob_t g;
	assert_int_equal(glob(pattern, 0, NULL, &g), 0);
	char *data;
	size_t len;
	assert_int_equal(read_file(g.gl_pathv[0], 1u << 20, &data, &len), 0);
	globfree(&g);
	free(pattern);
	return data;
}

/* One dispatch rewritten by three outlets (own headline, own first sentence, trailers): one
 * story, one alert. Seeds 002 and 004 (two articles on the January 2023 troop train) share facts
 * but not text: two stories, two alerts. */
static void test_stories(void **state)
{
	struct fixture *f = *state;
	char *wire = seed("003"), *s002 = seed("002"), *s004 = seed("004");
	const char *body = strchr(wire, '.') + 1; /* past the first sentence */
	char *r1 = xasprintf("Selon l'agence, Minsk renforce sa frontière sud.%s", body);
	char *r2 =
	    xasprintf("<p>Le Bélarus envoie des renforts vers l'Ukraine.%s</p>\n[ad_1]", body);
	struct feed_item a = {.id = "w1",
			      .link = "https://a.example.fr/w1",
			      .title = "La Biélorussie déplace des troupes vers la frontière",
			      .content = wire,
			      .published = FEED_NO_DATE};
	struct feed_item b = {.id = "w2",
			      .link = "https://b.example.fr/w2",
			      .title = "Loukachenko envoie missiles et soldats vers l'Ukraine",
			      .content = r1,
			      .published = FEED_NO_DATE};
	struct feed_item c = {.id = "w3",
			      .link = "https://c.example.fr/w3",
			      .title = "Frontière : Minsk muscle son dispositif",
			      .content = r2,
			      .published = FEED_NO_DATE};
	struct ingest_counts n;
	assert_int_equal(ingest(f, "feed-a", &a, 1, &n), 0);
	assert_int_equal(n.added, 1);
	assert_int_equal(n.grouped, 0);
	assert_int_equal(n.relevant, 1);
	assert_int_equal(ingest(f, "feed-b", &b, 1, &n), 0);
	assert_int_equal(n.added, 1);
	assert_int_equal(n.grouped, 1);
	assert_int_equal(ingest(f, "feed-c", &c, 1, &n), 0);
	assert_int_equal(n.grouped, 1);
	struct found o = find(f, b.title);
	int64_t story = find(f, a.title).id;
	assert_int_equal(o.story, story);
	assert_int_equal(o.story_size, 3);
	assert_true(o.relevant);
	assert_int_equal(find(f, c.title).story, story);
	struct store_stats st = stats(f);
	assert_int_equal(st.items, 3);
	assert_int_equal(st.alerts_pending, 1);

	struct feed_item d = {.id = "t2",
			      .link = "https://d.example.fr/t2",
			      .title = "Un train de troupes russes arrive en Biélorussie",
			      .content = s002,
			      .published = FEED_NO_DATE};
	struct feed_item e = {.id = "t4",
			      .link = "https://e.example.fr/t4",
			      .title = "Minsk reçoit un train de matériel russe",
			      .content = s004,
			      .published = FEED_NO_DATE};
	assert_int_equal(ingest(f, "feed-d", &d, 1, &n), 0);
	assert_int_equal(n.grouped, 0);
	assert_int_equal(ingest(f, "feed-e", &e, 1, &n), 0);
	assert_int_equal(n.added, 1);
	assert_int_equal(n.grouped, 0);
	assert_int_equal(n.relevant, 1);
	assert_int_equal(find(f, d.title).story_size, 1);
	assert_int_equal(find(f, e.title).story_size, 1);
	assert_int_equal(stats(f).alerts_pending, 3);

	struct ingest_outbox ob = {0};
	struct ingest_flushed fl;
	assert_int_equal(ingest_flush_alerts(f->store, &f->topics, &ob, false, &fl), 0);
	assert_int_equal(fl.sent, 3);
	ingest_outbox_clear(&ob);
	free(r1);
	free(r2);
	free(wire);
	free(s002);
	free(s004);
}

/* The stored verdict of the item whose guid is guid: its score (-1 when none), and when ret_terms
 * is not NULL its relevance and a new copy of its terms. */
static double stored_verdict(struct fixture *f, const char *guid, bool *ret_relevant,
			     char **ret_terms)
{
	sqlite3 *h;
	sqlite3_stmt *q;
	double score = -1;
	char *db = xasprintf("%s/v.db", f->dir);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	free(db);
	assert_int_equal(sqlite3_prepare_v2(h,
					    "SELECT v.score, v.relevant, v.terms FROM verdicts v "
					    "JOIN items i ON i.id = v.item_id WHERE i.guid = ?",
					    -1, &q, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(q, 1, guid, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		score = sqlite3_column_double(q, 0);
		if (ret_terms) {
			*ret_relevant = sqlite3_column_int(q, 1) != 0;
			*ret_terms = xstrdup((const char *)sqlite3_column_text(q, 2));
		}
	}
	sqlite3_finalize(q);
	sqlite3_close(h);
	return score;
}

/* The verdict v stored for the item whose guid is guid, exactly: score, relevance, terms. */
static void assert_stored_verdict(struct fixture *f, const char *guid,
				  const struct topic_verdict *v)
{
	bool relevant;
	char *terms = NULL;
	assert_true(stored_verdict(f, guid, &relevant, &terms) == v->score);
	assert_true(relevant == v->relevant);
	struct buf want = {0};
	buf_putc(&want, '[');
	for (size_t i = 0; i < v->nterms; i++)
		buf_printf(&want, "%s[\"%s\",%.4f]", i ? "," : "", v->terms[i].term,
			   v->terms[i].weight);
	buf_putc(&want, ']');
	buf_putc(&want, '\0');
	assert_true(v->nterms > 0);
	assert_string_equal(terms, want.p);
	buf_free(&want);
	free(terms);
}

static uint64_t common_df(const char *key, void *arg)
{
	(void)arg;
	/* half the profile keys in almost every background document, the others in none */
	return strlen(key) % 2 ? 990 : 0;
}

/* Verdicts prepared before the topics were re-weighted are not stored: the commit scores the item
 * again with the weights of the moment, as ingest_doc would, to the bit. */
static void test_stale_verdicts(void **state)
{
	struct fixture *f = *state;
	struct feed_item it[] = {
	    {.id = "s1",
	     .link = "https://s.example.fr/1",
	     .title = (char *)ON_TITLE,
	     .summary = (char *)ON_TEXT,
	     .published = FEED_NO_DATE},
	    {.id = "s2",
	     .link = "https://s.example.fr/2",
	     .title = (char *)ON_TITLE,
	     .summary = "Des bataillons biélorusses près de la frontière, dit Kiev.",
	     .published = FEED_NO_DATE}};
	struct topic_verdict before, after;
	topic_score(f->topics.v[0], it[1].title, it[1].summary, &before);
	size_t wanted;
	struct feed_doc doc = {.format = FEED_FORMAT_RSS, .items = it, .nitems = 2};
	struct ingest_prep *p = ingest_triage(f->store, "feed-s", &doc, &wanted);
	assert_int_equal(wanted, 2);
	ingest_prepare_digests(p, &doc);
	ingest_prepare_verdicts(p, &f->topics, &doc);
	for (size_t t = 0; t < f->topics.n; t++)
		topic_set_background(f->topics.v[t], 1000, common_df, NULL);
	topic_score(f->topics.v[0], it[1].title, it[1].summary, &after);
	assert_true(fabs(after.score - before.score) > 0.01); /* or the test proves nothing */

	struct ingest_counts c;
	struct feed_doc one = {.format = FEED_FORMAT_RSS, .items = it, .nitems = 1};
	assert_int_equal(store_begin(f->store), 0);
	/* A preparation of another document is ignored, not misread. */
	assert_int_equal(
	    ingest_commit(f->store, &f->topics, "feed-s", &one, p, true, now_unix(), &c), 0);
	assert_int_equal(store_commit(f->store), 0);
	assert_int_equal(c.added, 1);
	struct topic_verdict v;
	topic_score(f->topics.v[0], it[0].title, it[0].summary, &v);
	assert_stored_verdict(f, "s1", &v);

	assert_int_equal(store_begin(f->store), 0);
	assert_int_equal(
	    ingest_commit(f->store, &f->topics, "feed-s", &doc, p, false, now_unix(), &c), 0);
	assert_int_equal(store_commit(f->store), 0);
	assert_int_equal(c.seen, 1);
	assert_int_equal(c.added, 1);
	/* Scored again from what the preparation kept of its text: as the text scores now. */
	assert_stored_verdict(f, "s2", &after);
	ingest_prep_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ingest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unmarked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_url_variants, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_edits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_legacy_source, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stories, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ingest, setup_staged, teardown),
	    cmocka_unit_test_setup_teardown(test_unmarked, setup_staged, teardown),
	    cmocka_unit_test_setup_teardown(test_url_variants, setup_staged, teardown),
	    cmocka_unit_test_setup_teardown(test_edits, setup_staged, teardown),
	    cmocka_unit_test_setup_teardown(test_legacy_source, setup_staged, teardown),
	    cmocka_unit_test_setup_teardown(test_stories, setup_staged, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_verdicts, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
