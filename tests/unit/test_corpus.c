/*
 * test_corpus.c - background document frequencies: counted per document, kept in a real SQLite
 * file, loaded into the shipped topic; an everyday word loses weight as the corpus grows.
 */
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "corpus.h"
#include "store.h"
#include "topic.h"
#include "util.h"

/* Everyday news written for this test: every one says "a déclaré" (stem "declar", a profile
 * key of the shipped topic), none is about Belarus. */
static const char *const everyday[] = {
    "Le maire a déclaré que les travaux du tramway reprendront en septembre.",
    "La ministre de la Santé a déclaré vouloir ouvrir de nouveaux centres de vaccination.",
    "L'entraîneur a déclaré après le match que son équipe avait manqué de réalisme.",
    "Le porte-parole du gouvernement a déclaré que le budget serait présenté mardi.",
    "Le président de la région a déclaré l'état de catastrophe naturelle après les orages.",
};

struct fx {
	char dir[64];
	struct topic *topic;
};

static struct topic *shipped_topic(void)
{
	glob_t g;
	if (glob(TEST_SOURCE_DIR "/conf/reference/*.txt", 0, NULL, &g) || !g.gl_pathc)
		return NULL;
	char *err = NULL;
	struct topic *t = topic_new("belarus-border", (const char *const *)g.gl_pathv, g.gl_pathc,
				    0.65, TEST_SOURCE_DIR "/conf/aliases.txt", &err);
	globfree(&g);
	if (!t)
		fprintf(stderr, "%s\n", err);
	free(err);
	return t;
}

static int setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/veille-corpus-XXXXXX");
	if (!mkdtemp(fx->dir) || !(fx->topic = shipped_topic()))
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	topic_free(fx->topic);
	char *cmd = xasprintf("rm -rf '%s'", fx->dir);
	int r = system(cmd);
	free(cmd);
	free(fx);
	return r == 0 ? 0 : -1;
}

/* Ingests n everyday documents into the store at path, as ingest_doc does: score, count the
 * keys, flush in the transaction. */
static void ingest_everyday(struct topic *t, struct corpus *c, struct store *st, unsigned n)
{
	assert_int_equal(store_begin(st), 0);
	for (unsigned i = 0; i < n; i++) {
		struct topic_verdict v;
		corpus_doc(c);
		/* twice through the callback, as with two topics: counted once */
		topic_score_keys(t, NULL, everyday[i % ARRAY_SIZE(everyday)], &v, corpus_key_cb, c);
		topic_score_keys(t, NULL, everyday[i % ARRAY_SIZE(everyday)], &v, corpus_key_cb, c);
	}
	assert_int_equal(corpus_flush(c, st), 0);
	assert_int_equal(store_commit(st), 0);
}

static struct store *open_db(struct fx *fx, const char *name)
{
	char *path = xasprintf("%s/%s", fx->dir, name);
	char *err = NULL;
	struct store *st = store_open(path, false, &err);
	if (!st)
		fail_msg("%s", err);
	free(path);
	return st;
}

static void test_common_word_loses_weight(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_db(fx, "a.db");
	struct corpus *c = corpus_new();
	static const unsigned steps[] = {0, 20, 180, 1800, 18000};
	double declar[ARRAY_SIZE(steps)], belarus[ARRAY_SIZE(steps)];
	double prior = topic_weight(fx->topic, "declar");
	assert_true(prior > 0);
	for (size_t k = 0; k < ARRAY_SIZE(steps); k++) {
		ingest_everyday(fx->topic, c, st, steps[k]);
		assert_int_equal(corpus_load(c, st, &fx->topic, 1), 0);
		declar[k] = topic_weight(fx->topic, "declar");
		belarus[k] = topic_weight(fx->topic, "belarus");
	}
	/* Before any corpus: the references' weights. */
	assert_true(declar[0] == prior);
	uint64_t docs = 0, df = 0;
	assert_int_equal(store_df_docs(st, &docs), 0);
	assert_int_equal(docs, 20000);
	assert_int_equal(store_df_get(st, "declar", &df), 0);
	assert_int_equal(df, 20000); /* once per document, though reported twice */
	assert_int_equal(corpus_loaded_docs(c), 20000);
	for (size_t k = 1; k < ARRAY_SIZE(steps); k++) {
		/* The everyday word weighs less at every step; a word the corpus never holds keeps
		 * its weight. */
		assert_true(declar[k] < declar[k - 1]);
		assert_true(belarus[k] == belarus[0]);
	}
	assert_true(declar[ARRAY_SIZE(steps) - 1] < 0.05 * prior);
	/* A small corpus moves the weights only a little: the start is the references' own. */
	assert_true(declar[1] > 0.9 * prior);

	/* Deterministic: the same documents in another file give the same weights. */
	struct store *st2 = open_db(fx, "b.db");
	struct corpus *c2 = corpus_new();
	ingest_everyday(fx->topic, c2, st2, 20000);
	assert_int_equal(corpus_load(c2, st2, &fx->topic, 1), 0);
	assert_true(topic_weight(fx->topic, "declar") == declar[ARRAY_SIZE(steps) - 1]);
	corpus_free(c2);
	store_close(st2);
	corpus_free(c);
	store_close(st);
}

static void test_discard_and_stale(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_db(fx, "c.db");
	struct corpus *c = corpus_new();
	assert_int_equal(corpus_load(c, st, &fx->topic, 1), 0);
	assert_false(corpus_stale(c));
	/* Counts of a fetch that is rolled back are forgotten. */
	assert_int_equal(store_begin(st), 0);
	struct topic_verdict v;
	corpus_doc(c);
	topic_score_keys(fx->topic, NULL, everyday[0], &v, corpus_key_cb, c);
	corpus_discard(c);
	assert_int_equal(corpus_flush(c, st), 0);
	assert_int_equal(store_commit(st), 0);
	uint64_t docs = 9;
	assert_int_equal(store_df_docs(st, &docs), 0);
	assert_int_equal(docs, 0);
	/* Reloaded after 100 documents, then after each quarter of growth. */
	ingest_everyday(fx->topic, c, st, 99);
	assert_false(corpus_stale(c));
	ingest_everyday(fx->topic, c, st, 1);
	assert_true(corpus_stale(c));
	assert_int_equal(corpus_load(c, st, &fx->topic, 1), 0);
	assert_false(corpus_stale(c));
	ingest_everyday(fx->topic, c, st, 900);
	assert_int_equal(corpus_load(c, st, &fx->topic, 1), 0);
	ingest_everyday(fx->topic, c, st, 249);
	assert_false(corpus_stale(c));
	ingest_everyday(fx->topic, c, st, 1);
	assert_true(corpus_stale(c));
	/* NULL corpus: nothing counted, nothing written. */
	corpus_doc(NULL);
	corpus_key_cb("x", NULL);
	assert_int_equal(corpus_flush(NULL, st), 0);
	corpus_free(c);
	store_close(st);
	topic_set_background(fx->topic, 0, NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_common_word_loses_weight),
	    cmocka_unit_test(test_discard_and_stale),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
