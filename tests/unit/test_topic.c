/*
 * test_topic.c - the topic built from the shipped reference articles and alias file.
 */
#include <glob.h>
#include <math.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "topic.h"
#include "util.h"

#define THRESHOLD 0.65

static struct topic *topic;

/* Texts written for these tests (not taken from any data set). */
static const char on_topic[] =
    "Le ministère biélorusse de la Défense a annoncé l'envoi de troupes et de blindés "
    "supplémentaires près de la frontière avec l'Ukraine. Selon Minsk, les militaires "
    "russes et biélorusses mèneront des exercices conjoints dans la région de Gomel. "
    "Kiev a renforcé ses gardes-frontières dans le nord du pays et dénonce une provocation "
    "d'Alexandre Loukachenko, proche allié de Vladimir Poutine.";
static const char off_topic[] =
    "Le Tour de France cycliste s'élance samedi de Lille. Les coureurs affronteront la "
    "chaleur dès la première étape, et les organisateurs promettent une arrivée spectaculaire "
    "sur les Champs-Élysées. Les supporters sont attendus nombreux au bord des routes.";
/* Shares the war vocabulary but has no Belarus angle. */
static const char hard_negative[] =
    "Les troupes russes ont intensifié leurs attaques dans le Donbass, près de Pokrovsk, "
    "selon l'état-major ukrainien. Kiev réclame davantage de missiles de défense aérienne à "
    "ses alliés occidentaux, tandis que Moscou affirme avoir repoussé une contre-offensive. "
    "Les combats se poursuivent dans la région de Donetsk où l'artillerie pilonne les "
    "positions ukrainiennes.";
/* Belarus without the military or border story: sport. */
static const char belarus_sport[] =
    "La joueuse biélorusse a remporté dimanche la finale du tournoi de tennis de Melbourne "
    "après un match de deux heures. Championne en titre, elle a dominé son adversaire "
    "américaine en deux sets et conserve sa place de numéro deux mondiale au classement.";

static int setup(void **state)
{
	(void)state;
	glob_t g;
	if (glob(TEST_SOURCE_DIR "/conf/reference/*.txt", 0, NULL, &g) || !g.gl_pathc) {
		fprintf(stderr, "no reference articles\n");
		return -1;
	}
	char *err = NULL;
	topic = topic_new("belarus-border", (const char *const *)g.gl_pathv, g.gl_pathc, THRESHOLD,
			  TEST_SOURCE_DIR "/conf/aliases.txt", &err);
	globfree(&g);
	if (!topic) {
		fprintf(stderr, "%s\n", err);
		free(err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	topic_free(topic);
	return 0;
}

static double score(const char *title, const char *text)
{
	struct topic_verdict v;
	topic_score(topic, title, text, &v);
	assert_true(v.score >= 0.0 && v.score <= 1.0);
	assert_true(v.nterms <= VEILLE_MAX_TERMS);
	for (size_t i = 1; i < v.nterms; i++)
		assert_true(v.terms[i - 1].weight >= v.terms[i].weight);
	return v.score;
}

static void test_accessors(void **state)
{
	(void)state;
	assert_string_equal(topic_name(topic), "belarus-border");
	assert_true(topic_threshold(topic) == THRESHOLD);
}

static void test_on_and_off_topic(void **state)
{
	(void)state;
	struct topic_verdict v;
	topic_score(topic, NULL, on_topic, &v);
	assert_true(v.relevant);
	assert_true(v.score >= THRESHOLD);
	assert_true(v.nterms > 0);
	bool belarus = false;
	for (size_t i = 0; i < v.nterms; i++)
		belarus |= !strcmp(v.terms[i].term, "belarus");
	assert_true(belarus);
	/* Deterministic. */
	struct topic_verdict w;
	topic_score(topic, NULL, on_topic, &w);
	assert_memory_equal(&v, &w, sizeof(v));

	topic_score(topic, NULL, off_topic, &v);
	assert_false(v.relevant);
	assert_true(v.score < 0.1);
	assert_true(score(NULL, hard_negative) < THRESHOLD);
	assert_true(score(NULL, belarus_sport) < THRESHOLD);
}

static void test_empty(void **state)
{
	(void)state;
	struct topic_verdict v;
	topic_score(topic, NULL, NULL, &v);
	assert_true(v.score == 0.0);
	assert_false(v.relevant);
	assert_int_equal(v.nterms, 0);
	topic_score(topic, "", "  \n ", &v);
	assert_true(v.score == 0.0);
	assert_int_equal(v.nterms, 0);
}

static void test_aliases_unify(void **state)
{
	(void)state;
	/* The same sentence with other spellings of the names scores the same. */
	const char *a = "Loukachenko envoie des troupes biélorusses à la frontière, près de "
			"Jytomyr, affirme Kiev. La Biélorussie dément.";
	const char *b = "Lukashenko envoie des troupes bélarusses à la frontière, près de "
			"Zhytomyr, affirme Kyiv. Le Belarus dément.";
	assert_true(score(NULL, a) > 0.0);
	assert_true(score(NULL, a) == score(NULL, b));
}

static void test_title_weight(void **state)
{
	(void)state;
	/* The same words count for more in the title than in the body. */
	const char *words = "La Biélorussie masse des troupes à la frontière";
	const char *body = "Le gouvernement a publié un communiqué lundi. Le texte a été lu par le "
			   "porte-parole devant la presse, qui a posé plusieurs questions.";
	char *in_body = xasprintf("%s. %s", words, body);
	double as_title = score(words, body);
	double as_body = score(NULL, in_body);
	free(in_body);
	assert_true(as_title > as_body);
}

/* The weight the verdict on "title. text" gives term; 0 when it is not among its terms. */
static double term_weight(const char *title, const char *text, const char *term)
{
	struct topic_verdict v;
	topic_score(topic, title, text, &v);
	for (size_t i = 0; i < v.nterms; i++)
		if (!strcmp(v.terms[i].term, term))
			return v.terms[i].weight;
	return 0;
}

static void test_term_frequency(void **state)
{
	(void)state;
	/* A profile word met k times and a word foreign to the profile met once, then the other way
	 * round: the same norm, so the profile word's weights are as its term frequencies,
	 * 1 + log(k) and 1. Title occurrences count twice. */
	assert_true(topic_weight(topic, "troup") > 0);
	assert_true(topic_weight(topic, "zorglub") == 0);
	for (int k = 1; k <= 40; k++) {
		struct buf a = {0}, b = {0};
		for (int i = 0; i < k; i++) {
			buf_puts(&a, "troupes ");
			buf_puts(&b, "zorglub ");
		}
		buf_puts(&a, "zorglub");
		buf_puts(&b, "troupes");
		double many = term_weight(NULL, a.p, "troup"),
		       once = term_weight(NULL, b.p, "troup");
		double want = 1.0 + log(k);
		assert_true(once > 0);
		assert_true(fabs(many / once - want) < 1e-14 * want);
		if (k % 2 == 0) { /* k / 2 in the title: the same counts */
			buf_reset(&a);
			for (int i = 0; i < k / 2; i++)
				buf_puts(&a, "troupes ");
			assert_true(term_weight(a.p, "zorglub", "troup") == many);
		}
		buf_free(&a);
		buf_free(&b);
	}
}

static void test_length_does_not_win(void **state)
{
	(void)state;
	/* Padding an on-topic text with unrelated prose lowers its score. */
	struct buf b = {0};
	buf_puts(&b, on_topic);
	for (int i = 0; i < 20; i++) {
		buf_putc(&b, ' ');
		buf_puts(&b, off_topic);
	}
	assert_true(score(NULL, b.p) < score(NULL, on_topic));
	/* And repeating an off-topic text does not make it relevant. */
	buf_reset(&b);
	for (int i = 0; i < 20; i++)
		buf_puts(&b, hard_negative);
	assert_true(score(NULL, b.p) < THRESHOLD);
	buf_free(&b);
}

struct profile_seen {
	int group;	       /* of the last term */
	double last;	       /* its weight */
	double sq[3];	       /* sum of squared weights per group */
	size_t n;	       /* terms */
	double belarus;	       /* the alias canonical form, a name */
	bool port, port_parol; /* compound parts: only "porte-parole" as a phrase */
};

static void profile_cb(const char *term, enum topic_group group, double weight, void *arg)
{
	struct profile_seen *p = arg;
	assert_true(weight > 0 && weight <= 1);
	/* names, then context words, then phrases; strongest first within each */
	assert_true((int)group >= p->group);
	if ((int)group == p->group)
		assert_true(weight <= p->last);
	p->group = (int)group;
	p->last = weight;
	p->sq[group] += weight * weight;
	p->n++;
	assert_true((group == TOPIC_GROUP_PHRASE) == (strchr(term, ' ') != NULL));
	if (!strcmp(term, "belarus") && group == TOPIC_GROUP_NAME)
		p->belarus = weight;
	p->port |= !strcmp(term, "port");
	p->port_parol |= !strcmp(term, "port parol");
}

static void test_profile(void **state)
{
	(void)state;
	struct profile_seen p = {.group = -1};
	topic_profile(topic, profile_cb, &p);
	assert_true(p.n > 50);
	assert_true(p.belarus > 0.5); /* the subject outweighs every other name */
	assert_true(fabs(p.sq[TOPIC_GROUP_NAME] - 1.0) < 1e-9);
	assert_true(fabs(p.sq[TOPIC_GROUP_CONTEXT] + p.sq[TOPIC_GROUP_PHRASE] - 1.0) < 1e-9);
	/* "porte-parole" in the references: a phrase, not a port */
	assert_true(p.port_parol && !p.port);
	assert_string_equal(topic_group_name(TOPIC_GROUP_NAME), "name");
	assert_string_equal(topic_group_name(TOPIC_GROUP_CONTEXT), "context");
	assert_string_equal(topic_group_name(TOPIC_GROUP_PHRASE), "phrase");
}

/* Strikes out of a NULL-terminated list the keys seen. */
static void strike_key_cb(const char *key, void *arg)
{
	const char **want = arg;
	for (; *want; want++)
		if (!strcmp(key, *want))
			*want = "";
}

static void test_compounds(void **state)
{
	(void)state;
	/* A compound's parts count only together: the port of Klaipeda is not a spokesman. */
	assert_true(topic_weight(topic, "port") == 0);
	assert_true(topic_weight(topic, "port parol") > 0);
	assert_true(topic_weight(topic, "frontier") > 0);
	const char *joined[] = {"port parol", "frontier", NULL};
	topic_doc_keys(topic, NULL, "Les gardes-frontières et le porte-parole.", strike_key_cb,
		       joined);
	assert_string_equal(joined[0], "");
	assert_string_equal(joined[1], "frontier"); /* not a word of its own here */
	/* Written apart, the words are words again. */
	const char *apart[] = {"port parol", "frontier", NULL};
	topic_doc_keys(topic, NULL, "Les gardes frontières et le porte parole.", strike_key_cb,
		       apart);
	assert_string_equal(apart[0], "");
	assert_string_equal(apart[1], "");
}

/* Appends n distinct made-up words of letters, none a profile term. */
static void put_filler(struct buf *b, int n)
{
	for (int i = 0; i < n; i++) {
		char w[] = "zqaaaa";
		for (int j = 2, k = i; j < 6; j++, k /= 26)
			w[j] = (char)('a' + k % 26);
		buf_printf(b, "%s ", w);
	}
}

static void test_pairs_anywhere(void **state)
{
	(void)state;
	/* A pair is found whatever its first word: met before in the document ("ministère"), new
	 * to it ("troupes") or a compound's part ("porte"), after hundreds of distinct words
	 * have grown the document's buffers past what it reserved. */
	struct buf b = {0};
	buf_puts(&b, "Le ministère de Minsk. ");
	put_filler(&b, 700);
	buf_puts(&b, "Le ministère biélorusse, des troupes russes et leur porte-parole.");
	const char *want[] = {"minister belarus", "troup russ", "port parol", NULL};
	topic_doc_keys(topic, NULL, b.p, strike_key_cb, want);
	for (size_t i = 0; want[i]; i++)
		assert_string_equal(want[i], "");
	/* And without the filler: the pairs are no filler's doing. */
	const char *none[] = {"minister belarus", "troup russ", "port parol", NULL};
	topic_doc_keys(topic, NULL, "Le ministère de Minsk. Des troupes.", strike_key_cb, none);
	assert_string_equal(none[0], "minister belarus");
	assert_string_equal(none[1], "troup russ");
	assert_string_equal(none[2], "port parol");
	buf_free(&b);
}

static void test_name_pairs(void **state)
{
	(void)state;
	/* Two names side by side repeat the names: no term of their own... */
	assert_true(topic_weight(topic, "loukachenko") > 0);
	assert_true(topic_weight(topic, "alexandr") > 0);
	assert_true(topic_weight(topic, "alexandr loukachenko") == 0);
	assert_true(topic_weight(topic, "vladim poutine") == 0);
	/* ...while a name beside a word says what happens to it ("ministère biélorusse"). */
	assert_true(topic_weight(topic, "minister belarus") > 0);
	assert_true(topic_weight(topic, "troup russ") > 0);
}

/* Writes text to a new file in dir; returns its path (free it). */
static char *write_ref(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	return path;
}

static double score_with(struct topic *t, const char *text)
{
	struct topic_verdict v;
	topic_score(t, NULL, text, &v);
	return v.score;
}

static void test_reference_profiles(void **state)
{
	(void)state;
	/* Two sub-events of one topic, written for this test. */
	static const char troops[] =
	    "Le ministère biélorusse de la Défense annonce l'arrivée de troupes russes près de "
	    "la frontière ukrainienne. Les troupes biélorusses et russes renforcent la frontière "
	    "avec des blindés, selon Minsk. Kiev dénonce une provocation à sa frontière nord.";
	static const char missiles[] =
	    "La Biélorussie a reçu des systèmes de missiles livrés par la Russie, a annoncé "
	    "Minsk. Les missiles seront déployés dans le sud du pays, a déclaré le ministère "
	    "biélorusse, qui promet d'autres livraisons d'armes russes cette année.";
	char dir[] = "/tmp/test_topic_refsXXXXXX";
	assert_non_null(mkdtemp(dir));
	char *a = write_ref(dir, "a.txt", troops), *b = write_ref(dir, "b.txt", missiles);
	const char *ab[] = {a, b}, *ba[] = {b, a}, *aa[] = {a, a}, *one[] = {a};
	char *err = NULL;
	struct topic *t_ab = topic_new("t", ab, 2, 0.5, NULL, &err);
	struct topic *t_ba = topic_new("t", ba, 2, 0.5, NULL, &err);
	struct topic *t_aa = topic_new("t", aa, 2, 0.5, NULL, &err);
	struct topic *t_a = topic_new("t", one, 1, 0.5, NULL, &err);
	/* More references than topic_bag_score keeps on its stack. */
	const char *many[40];
	for (size_t i = 0; i < sizeof(many) / sizeof(*many); i++)
		many[i] = a;
	struct topic *t_many = topic_new("t", many, sizeof(many) / sizeof(*many), 0.5, NULL, &err);
	assert_true(t_ab && t_ba && t_aa && t_a && t_many);
	const char *texts[] = {troops, missiles, on_topic, hard_negative, belarus_sport};
	for (size_t i = 0; i < sizeof(texts) / sizeof(*texts); i++) {
		/* The order of the references does not matter... */
		assert_true(fabs(score_with(t_ab, texts[i]) - score_with(t_ba, texts[i])) < 1e-12);
		/* ...nor does a reference given twice. */
		assert_true(fabs(score_with(t_aa, texts[i]) - score_with(t_a, texts[i])) < 1e-9);
		assert_true(fabs(score_with(t_many, texts[i]) - score_with(t_a, texts[i])) < 1e-9);
	}
	/* Each reference is as close to the topic as a typical reference. */
	assert_true(score_with(t_ab, troops) > 0.9);
	assert_true(score_with(t_ab, missiles) > 0.9);
	topic_free(t_ab);
	topic_free(t_ba);
	topic_free(t_aa);
	topic_free(t_a);
	topic_free(t_many);
	unlink(a);
	unlink(b);
	rmdir(dir);
	free(a);
	free(b);
}

struct bg {
	const char *common; /* a key every background document holds */
	size_t calls;
};

static uint64_t bg_df(const char *key, void *arg)
{
	struct bg *b = arg;
	b->calls++;
	return !strcmp(key, b->common) ? 10000 : 3;
}

static void keys_cb(const char *key, void *arg)
{
	size_t *n = arg;
	assert_true(strlen(key) > 0);
	(*n)++;
}

static void test_background(void **state)
{
	(void)state;
	/* Make "declar" (declared) an everyday word: a text carried by it loses score. */
	const char *text = "La Biélorussie a déclaré, déclare et déclarera encore que ses troupes "
			   "restent à la frontière, a déclaré le ministère.";
	double before = score(NULL, text);
	struct bg b = {"declar", 0};
	topic_set_background(topic, 10000, bg_df, &b);
	assert_true(b.calls > 50);
	double after = score(NULL, text);
	assert_true(after != before);
	/* No background restores the references' weights. */
	topic_set_background(topic, 0, NULL, NULL);
	assert_true(score(NULL, text) == before);
	size_t n = 0;
	topic_doc_keys(topic, "Biélorussie", on_topic, keys_cb, &n);
	assert_true(n > 5);
}

/* The keys a reading gives, in order, NUL-separated. */
struct keylog {
	char v[8192];
	size_t len;
};

static void keylog_cb(const char *key, void *arg)
{
	struct keylog *k = arg;
	size_t n = strlen(key) + 1;
	assert_true(k->len + n <= sizeof(k->v));
	memcpy(k->v + k->len, key, n);
	k->len += n;
}

/* Scattered document frequencies: every key gains or loses weight, by its own amount. */
static uint64_t scatter_df(const char *key, void *arg)
{
	(void)arg;
	uint64_t h = 5381;
	for (const char *p = key; *p; p++)
		h = h * 33 + (unsigned char)*p;
	return h % 4000;
}

/* topic_bag_score against topic_score_keys on the same item under t's current weights: the same
 * verdict, bit for bit, and the same keys in the same order. */
static void assert_bag_scores_alike(const struct topic *t, const struct topic_bag *b,
				    const char *title, const char *text, struct topic_verdict *ret)
{
	struct topic_verdict v, w;
	struct keylog kv = {0}, kw = {0};
	topic_score_keys(t, title, text, &v, keylog_cb, &kv);
	assert_true(topic_bag_score(t, b, &w, keylog_cb, &kw));
	assert_memory_equal(&v, &w, sizeof(v));
	assert_int_equal(kv.len, kw.len);
	assert_memory_equal(kv.v, kw.v, kv.len);
	*ret = w;
}

/* A bag read before a re-weighting scores as the text does after it. */
static void test_bag_rescore(void **state)
{
	(void)state;
	static const char background_text[] =
	    "La Biélorussie a déclaré, déclare et déclarera encore que ses troupes restent à la "
	    "frontière, a déclaré le ministère.";
	const struct {
		const char *title, *text;
	} items[] = {
	    {"Minsk masse des troupes à la frontière", on_topic},
	    {NULL, on_topic},
	    {NULL, off_topic},
	    {"Donbass", hard_negative},
	    {NULL, belarus_sport},
	    {"Frontière", background_text},
	    {"Loukachenko et les gardes-frontières", NULL},
	    {NULL, NULL},
	    {"", "  \n "},
	};
	enum { N = sizeof(items) / sizeof(items[0]) };
	struct topic_bag *bags[N];
	struct topic_verdict before[N], after;
	for (size_t i = 0; i < N; i++) {
		bags[i] = topic_bag_new(topic, items[i].title, items[i].text);
		assert_bag_scores_alike(topic, bags[i], items[i].title, items[i].text, &before[i]);
	}
	/* Two re-weightings, then none again: each time every bag agrees with its text. */
	const struct {
		uint64_t ndocs;
		topic_df_cb df;
	} weights[] = {{5000, scatter_df}, {300, scatter_df}, {0, NULL}};
	for (size_t k = 0; k < sizeof(weights) / sizeof(weights[0]); k++) {
		topic_set_background(topic, weights[k].ndocs, weights[k].df, NULL);
		size_t moved = 0, terms_moved = 0;
		for (size_t i = 0; i < N; i++) {
			assert_bag_scores_alike(topic, bags[i], items[i].title, items[i].text,
						&after);
			moved += after.score != before[i].score;
			for (size_t j = 0; j < after.nterms && j < before[i].nterms; j++)
				terms_moved += after.terms[j].weight != before[i].terms[j].weight;
		}
		/* Or the comparison proves nothing: the weights must have moved the verdicts. */
		if (weights[k].ndocs) {
			assert_true(moved >= 4);
			assert_true(terms_moved >= 4);
		} else {
			assert_int_equal(moved, 0);
		}
	}

	/* A bag read for another topic is refused, not misread. */
	const char *refs[] = {TEST_SOURCE_DIR "/conf/reference/000_cc8d64833c64f7af.txt"};
	char *err = NULL;
	struct topic *other = topic_new("other", refs, 1, THRESHOLD, NULL, &err);
	assert_non_null(other);
	struct topic_verdict v;
	assert_false(topic_bag_score(other, bags[0], &v, NULL, NULL));
	topic_free(other);
	for (size_t i = 0; i < N; i++)
		topic_bag_free(bags[i]);
	topic_bag_free(NULL);
}

static void test_errors(void **state)
{
	(void)state;
	char *err = NULL;
	const char *refs[] = {TEST_SOURCE_DIR "/conf/reference/no-such.txt"};
	assert_null(topic_new("t", refs, 1, 0.5, NULL, &err));
	assert_non_null(strstr(err, "no-such.txt"));
	free(err);
	assert_null(topic_new("t", refs, 0, 0.5, NULL, &err));
	free(err);
	assert_null(topic_new("t", refs, 1, 1.5, NULL, &err));
	free(err);

	/* A bad alias file: the message names file and line. */
	char path[] = "/tmp/test_topic_aliasXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char bad[] = "# ok\nbelarus = bielorussie\nthis line is wrong\n";
	assert_int_equal(write(fd, bad, sizeof(bad) - 1), (ssize_t)(sizeof(bad) - 1));
	close(fd);
	glob_t g;
	assert_int_equal(glob(TEST_SOURCE_DIR "/conf/reference/*.txt", 0, NULL, &g), 0);
	assert_null(topic_new("t", (const char *const *)g.gl_pathv, g.gl_pathc, 0.5, path, &err));
	globfree(&g);
	char *want = xasprintf("%s:3: ", path);
	assert_memory_equal(err, want, strlen(want));
	free(want);
	free(err);
	unlink(path);
	topic_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accessors),
	    cmocka_unit_test(test_on_and_off_topic),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_aliases_unify),
	    cmocka_unit_test(test_title_weight),
	    cmocka_unit_test(test_term_frequency),
	    cmocka_unit_test(test_length_does_not_win),
	    cmocka_unit_test(test_profile),
	    cmocka_unit_test(test_compounds),
	    cmocka_unit_test(test_name_pairs),
	    cmocka_unit_test(test_pairs_anywhere),
	    cmocka_unit_test(test_reference_profiles),
	    cmocka_unit_test(test_background),
	    cmocka_unit_test(test_bag_rescore),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
