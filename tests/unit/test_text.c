/*
 * test_text.c - folding, French tokens, stop words, stems, aliases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "text.h"
#include "util.h"

struct toks {
	struct buf b; /* tokens joined by one space */
	unsigned flags[64];
	size_t n;
};

static void toks_cb(const char *tok, size_t len, size_t index, unsigned flags, void *arg)
{
	struct toks *t = arg;
	assert_int_equal(index, t->n);
	assert_int_equal(strlen(tok), len);
	if (t->b.len)
		buf_putc(&t->b, ' ');
	buf_append(&t->b, tok, len);
	if (t->n < 64)
		t->flags[t->n] = flags;
	t->n++;
}

/* Tokens of s joined by spaces (new string). */
static char *tokens(struct text_stemmer *st, const struct text_aliases *al, const char *s)
{
	struct toks t = {0};
	size_t n = text_tokens(st, al, s, strlen(s), toks_cb, &t);
	assert_int_equal(n, t.n);
	return buf_steal(&t.b);
}

static void test_fold(void **state)
{
	(void)state;
	char *f =
	    text_fold("  BIÉLORUSSIE\t\n et  Bélarus ", strlen("  BIÉLORUSSIE\t\n et  Bélarus "));
	assert_string_equal(f, "bielorussie et belarus");
	free(f);
}

static void test_elisions(void **state)
{
	(void)state;
	/* Without a stemmer: words only. Both apostrophes, and jusqu'/lorsqu'/qu'. */
	char *s = tokens(NULL, NULL, "l'armée d’Ukraine jusqu'à Minsk lorsqu’il qu'elle s'est");
	assert_string_equal(s, "armee ukraine minsk");
	free(s);
	/* An apostrophe after a word that is not an elision splits it (no word is lost). */
	s = tokens(NULL, NULL, "O'Donnell aujourd'hui");
	assert_string_equal(s, "donnell hui");
	free(s);
}

static void test_stopwords_numbers_hyphens(void **state)
{
	(void)state;
	assert_true(text_is_stopword("les", 3));
	assert_true(text_is_stopword("apres", 5));
	assert_false(text_is_stopword("frontiere", 9));
	assert_false(text_is_stopword("", 0));
	char *s =
	    tokens(NULL, NULL,
		   "Les gardes-frontières et les S-400 de Zapad-2025, le 3 mars, 9000 soldats");
	assert_string_equal(s, "gardes frontieres zapad mars soldats");
	free(s);
	s = tokens(NULL, NULL, "manœuvre MANOEUVRE");
	assert_string_equal(s, "manoeuvre manoeuvre");
	free(s);
}

static void test_stems(void **state)
{
	(void)state;
	struct text_stemmer *st = text_stemmer_new();
	assert_non_null(st);
	/* Accented and unaccented spellings meet the same stem. */
	char *a = tokens(st, NULL, "frontières militaires déployées exercices");
	char *b = tokens(st, NULL, "frontieres militaires deployees exercices");
	assert_string_equal(a, b);
	assert_string_equal(a, "frontier militair deploye exercic");
	free(a);
	free(b);
	a = tokens(st, NULL, "frontière frontières frontalière");
	assert_string_equal(a, "frontier frontier frontalier");
	free(a);
	text_stemmer_free(st);
	text_stemmer_free(NULL);
}

static void test_flags(void **state)
{
	(void)state;
	struct toks t = {0};
	const char *s = "Les troupes. La Biélorussie et Minsk « Kiev";
	text_tokens(NULL, NULL, s, strlen(s), toks_cb, &t);
	assert_string_equal(t.b.p, "troupes bielorussie minsk kiev");
	assert_int_equal(t.flags[0], 0);		  /* after a stop word */
	assert_int_equal(t.flags[1], TEXT_TOKEN_CAPITAL); /* "La" starts the sentence */
	assert_int_equal(t.flags[2], TEXT_TOKEN_CAPITAL);
	assert_int_equal(t.flags[3], TEXT_TOKEN_CAPITAL | TEXT_TOKEN_INITIAL);
	buf_free(&t.b);
	/* Both parts of a hyphenated compound are marked, a dash between words is not. */
	struct toks c = {0};
	const char *h = "des gardes-frontières, Minsk - Kiev, porte\u2011parole";
	text_tokens(NULL, NULL, h, strlen(h), toks_cb, &c);
	assert_string_equal(c.b.p, "gardes frontieres minsk kiev porte parole");
	assert_int_equal(c.flags[0], TEXT_TOKEN_JOINED);
	assert_int_equal(c.flags[1], TEXT_TOKEN_JOINED);
	assert_int_equal(c.flags[2], TEXT_TOKEN_CAPITAL);
	assert_int_equal(c.flags[3], TEXT_TOKEN_CAPITAL);
	assert_int_equal(c.flags[4], TEXT_TOKEN_JOINED);
	assert_int_equal(c.flags[5], TEXT_TOKEN_JOINED);
	buf_free(&c.b);
	/* "L'Ukraine" at a sentence start stays sentence-initial through the elision. */
	struct toks u = {0};
	text_tokens(NULL, NULL, "L'Ukraine", 9, toks_cb, &u);
	assert_int_equal(u.flags[0], TEXT_TOKEN_CAPITAL | TEXT_TOKEN_INITIAL);
	buf_free(&u.b);
}

static void test_aliases(void **state)
{
	(void)state;
	const char *conf = "# comment\n\nbelarus = Biélorussie, BÉLARUS ,biélorusses # trailing\n"
			   "kiev = kyiv, kyïv\n";
	char *err = NULL;
	struct text_aliases *al = text_aliases_parse("x.txt", conf, strlen(conf), &err);
	assert_non_null(al);
	assert_string_equal(text_alias(al, "bielorussie", 11), "belarus");
	assert_string_equal(text_alias(al, "belarus", 7), "belarus");
	assert_string_equal(text_alias(al, "kyiv", 4), "kiev");
	assert_null(text_alias(al, "minsk", 5));
	struct text_stemmer *st = text_stemmer_new();
	char *s = tokens(st, al, "La Biélorussie, le Bélarus, les Biélorusses; Kyïv et Kiev");
	assert_string_equal(s, "belarus belarus belarus kiev kiev");
	free(s);
	text_stemmer_free(st);
	text_aliases_free(al);
	text_aliases_free(NULL);
}

static void test_alias_errors(void **state)
{
	(void)state;
	static const struct {
		const char *conf;
		const char *err;
	} bad[] = {
	    {"a = b\nno equals sign\n", "bad.txt:2: expected"},
	    {"a = b c\n", "bad.txt:1: a variant must be one word"},
	    {"\n\n = b\n", "bad.txt:3: empty word"},
	    {"a = b\nc = b\n", "bad.txt:2: variant already maps"},
	    {"a = brest-litovsk\n", "bad.txt:1: a variant must be one word"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *err = NULL;
		assert_null(text_aliases_parse("bad.txt", bad[i].conf, strlen(bad[i].conf), &err));
		assert_non_null(err);
		assert_memory_equal(err, bad[i].err, strlen(bad[i].err));
		free(err);
	}
	char *err = NULL;
	assert_null(text_aliases_load(TEST_SOURCE_DIR "/conf/no-such-file.txt", &err));
	assert_non_null(strstr(err, "no-such-file.txt: "));
	free(err);
	/* The shipped file loads. */
	struct text_aliases *al = text_aliases_load(TEST_SOURCE_DIR "/conf/aliases.txt", &err);
	assert_non_null(al);
	assert_string_equal(text_alias(al, "lukashenko", 10), "loukachenko");
	assert_string_equal(text_alias(al, "zhytomyr", 8), "jytomyr");
	text_aliases_free(al);
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	char *s = tokens(NULL, NULL,
			 "arm\xff\xfe"
			 "ee troupes\xc3");
	assert_string_equal(s, "armee troupes");
	free(s);
	assert_int_equal(text_tokens(NULL, NULL, "", 0, toks_cb, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fold),
	    cmocka_unit_test(test_elisions),
	    cmocka_unit_test(test_stopwords_numbers_hyphens),
	    cmocka_unit_test(test_stems),
	    cmocka_unit_test(test_flags),
	    cmocka_unit_test(test_aliases),
	    cmocka_unit_test(test_alias_errors),
	    cmocka_unit_test(test_invalid_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
