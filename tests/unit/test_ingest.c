/* Unit tests for ingest.c against a real SQLite file and the shipped topic: identity skips,
 * content-hash duplicates, verdicts, alerts queued with the item and sent once. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alert.h"
#include "config.h"
#include "feed.h"
#include "ingest.h"
#include "store.h"
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
	assert_int_equal(store_begin(f->store), 0);
	int r = ingest_doc(f->store, &f->topics, feed, &doc, now_unix(), c);
	assert_int_equal(store_commit(f->store), 0);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ingest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unmarked, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
