/*
 * test_text.c - folding, French tokens, stop words, stems, aliases.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <utf8proc.h>

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

static uint32_t lcg(uint32_t *x)
{
	*x = *x * 1103515245u + 12345u;
	return *x >> 16;
}

/* Pseudo-French words: a stem-like start and a French ending, many distinct. */
static char *word_list(size_t n)
{
	static const char *const starts[] = {"front", "milit", "arm",	 "manœuvr", "déploi", "bél",
					     "exerc", "sold",  "ukrain", "pologn",  "mobilis"};
	static const char *const ends[] = {"ières", "aire", "ées", "ement", "ions", "eraient",
					   "ité",   "iste", "a",   "ent",   "euse", "ances"};
	struct buf b = {0};
	uint32_t x = 7;
	for (size_t i = 0; i < n; i++) {
		uint32_t r = lcg(&x);
		buf_printf(&b, "%s%s%c%c%s ", starts[r % ARRAY_SIZE(starts)], i % 3 ? "" : "Q",
			   (char)('a' + i % 26), (char)('a' + (i / 26) % 26),
			   ends[(r / 16) % ARRAY_SIZE(ends)]);
		if (i % 7 == 0)
			buf_puts(&b, "les ");
	}
	return buf_steal(&b);
}

static void *tokens_thread(void *arg)
{
	struct text_stemmer *st = text_stemmer_new();
	char *r = tokens(st, NULL, arg);
	text_stemmer_free(st);
	return r;
}

/* Stems come from a per-thread memo that forgets everything when full: tokens read from it
 * (warm, and after it was emptied several times) equal those of a thread whose memo is new. */
static void test_stem_memo(void **state)
{
	(void)state;
	char *words = word_list(30000); /* more distinct words than the memo holds */
	struct text_stemmer *st = text_stemmer_new();
	char *first = tokens(st, NULL, words);
	char *again = tokens(st, NULL, words);
	text_stemmer_free(st);
	pthread_t t;
	void *fresh = NULL;
	assert_int_equal(pthread_create(&t, NULL, tokens_thread, words), 0);
	assert_int_equal(pthread_join(t, &fresh), 0);
	assert_string_equal(first, fresh);
	assert_string_equal(again, fresh);
	assert_null(strstr(again, " les ")); /* stop words stay dropped */
	/* No stemmer: the memo's stems are not used. */
	char *plain = tokens(NULL, NULL, "frontières militaires");
	assert_string_equal(plain, "frontieres militaires");
	free(plain);
	free(first);
	free(again);
	free(fresh);
	free(words);
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

/*
 * text_fold and text_tokens skip utf8proc for ASCII runs. Reference: utf8proc_map over the whole
 * string, as they did before, on pseudo-random strings mixing ASCII with what normalisation
 * acts on (precomposed and decomposed accents, marks on ASCII letters, marks to reorder,
 * ligatures, compatibility forms, Hangul jamo that compose, ignorable and invalid bytes).
 */
static const char *const pieces[] = {
    "a",
    "E",
    "z",
    "Q",
    " ",
    "\t",
    "\n",
    "\x01",
    "\x7f",
    "'",
    "-",
    ".",
    "1",
    "l'",
    "é",
    "É",
    "e\xcc\x81",
    "\xcc\x81",
    "\xcc\xa7",
    "\xcc\x96",
    "\xcc\x80",
    "œ",
    "Œ",
    "æ",
    "ﬁ",
    "Ａ",
    "²",
    "ß",
    "İ",
    "ǅ",
    "\xc2\xa0",
    "\xe2\x80\x99",
    "\xe2\x80\x8b",
    "\xc2\xad",
    "\xe1\x84\x80",
    "\xe1\x85\xa1",
    "한",
    "Ω",
    "\xe2\x84\xab",
    "ḱ",
    "«",
    "»",
    "😀",
    "\xff",
    "\xc3",
    "Biélorussie",
    "frontière",
    "K",
};

/* What text_fold computed before its ASCII fast path. */
static char *ref_fold(const char *s, size_t len)
{
	utf8proc_uint8_t *m = NULL;
	utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &m,
					  UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
					      UTF8PROC_STRIPMARK | UTF8PROC_IGNORE);
	if (n < 0) {
		struct buf clean = {0};
		for (size_t i = 0; i < len;) {
			utf8proc_int32_t cp;
			utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
							      (utf8proc_ssize_t)(len - i), &cp);
			if (k < 0) {
				i++;
				continue;
			}
			buf_append(&clean, s + i, (size_t)k);
			i += (size_t)k;
		}
		char *r = clean.len ? ref_fold(clean.p, clean.len) : xstrdup("");
		buf_free(&clean);
		return r;
	}
	struct buf out = {0};
	bool space = true;
	for (utf8proc_ssize_t i = 0; i < n;) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(m + i, n - i, &cp);
		utf8proc_category_t cat = utf8proc_category(cp);
		if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' ||
		    cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
		    cat == UTF8PROC_CATEGORY_ZP || cat == UTF8PROC_CATEGORY_CC ||
		    cat == UTF8PROC_CATEGORY_CF) {
			space = true;
		} else {
			if (space && out.len)
				buf_putc(&out, ' ');
			space = false;
			buf_append(&out, m + i, (size_t)k);
		}
		i += k;
	}
	free(m);
	return buf_steal(&out);
}

static void test_fast_path_matches_utf8proc(void **state)
{
	(void)state;
	/* Every ASCII character alone, then random mixtures. */
	for (int c = 1; c < 128; c++) {
		char s[2] = {(char)c, 0};
		char *got = text_fold(s, 1), *want = ref_fold(s, 1);
		assert_string_equal(got, want);
		free(got);
		free(want);
	}
	uint32_t x = 2024;
	for (int round = 0; round < 5000; round++) {
		struct buf s = {0};
		int n = 1 + (int)(lcg(&x) % 24);
		for (int i = 0; i < n; i++)
			buf_puts(&s, pieces[lcg(&x) % ARRAY_SIZE(pieces)]);
		char *got = text_fold(s.p, s.len), *want = ref_fold(s.p, s.len);
		if (strcmp(got, want))
			fail_msg("text_fold(\"%s\") = \"%s\", utf8proc_map gives \"%s\"", s.p, got,
				 want);
		free(got);
		free(want);
		/* Tokens of the string and of its whole-string normalisation (normalisation is
		 * idempotent): equal when the fast path normalises like utf8proc_map. */
		utf8proc_uint8_t *m = NULL;
		utf8proc_ssize_t k = utf8proc_map(
		    (const utf8proc_uint8_t *)s.p, (utf8proc_ssize_t)s.len, &m,
		    UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_STRIPMARK | UTF8PROC_IGNORE);
		if (k >= 0) {
			char *a = tokens(NULL, NULL, s.p), *b = tokens(NULL, NULL, (const char *)m);
			struct toks ta = {0}, tb = {0};
			text_tokens(NULL, NULL, s.p, s.len, toks_cb, &ta);
			text_tokens(NULL, NULL, (const char *)m, (size_t)k, toks_cb, &tb);
			if (strcmp(a, b))
				fail_msg("text_tokens(\"%s\") = \"%s\", of its NFKC: \"%s\"", s.p,
					 a, b);
			assert_int_equal(ta.n, tb.n);
			for (size_t i = 0; i < ta.n && i < 64; i++)
				assert_int_equal(ta.flags[i], tb.flags[i]);
			buf_free(&ta.b);
			buf_free(&tb.b);
			free(a);
			free(b);
		}
		free(m);
		buf_free(&s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fold),
	    cmocka_unit_test(test_elisions),
	    cmocka_unit_test(test_stopwords_numbers_hyphens),
	    cmocka_unit_test(test_stems),
	    cmocka_unit_test(test_stem_memo),
	    cmocka_unit_test(test_flags),
	    cmocka_unit_test(test_aliases),
	    cmocka_unit_test(test_alias_errors),
	    cmocka_unit_test(test_invalid_utf8),
	    cmocka_unit_test(test_fast_path_matches_utf8proc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
