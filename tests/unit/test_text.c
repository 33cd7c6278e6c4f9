/*
 * test_text.c - folding, French tokens, stop words, stems, aliases.
 */
#include <glob.h>
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

#include "feed.h"
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

static void test_every_elision(void **state)
{
	(void)state;
	/* An elided word is dropped with its apostrophe, and the word after it starts the text as
	 * it would have; any other word before an apostrophe is a word (dropped when it is one
	 * letter), and the word after it does not start the text. */
	static const char *const longer[] = {"jusqu", "lorsqu", "presqu", "puisqu",
					     "qu",    "quelqu", "quoiqu"};
	for (int i = 0; i < 26 + 2 * (int)ARRAY_SIZE(longer); i++) {
		char w[16];
		bool elided;
		if (i < 26) {
			snprintf(w, sizeof(w), "%c", 'a' + i);
			elided = strchr("cdjlmnst", 'a' + i) != NULL;
		} else {
			size_t k = (size_t)(i - 26) / 2;
			/* each, then each with one letter more (not elided) */
			snprintf(w, sizeof(w), "%s%s", longer[k], i % 2 ? "x" : "");
			elided = i % 2 == 0;
		}
		for (int quote = 0; quote < 2; quote++) {
			char *s = xasprintf("%s%sArmée", w, quote ? "\u2019" : "'");
			struct toks t = {0};
			text_tokens(NULL, NULL, s, strlen(s), toks_cb, &t);
			assert_true(t.n >= 1);
			const char *last = strrchr(t.b.p, ' ');
			assert_string_equal(last ? last + 1 : t.b.p, "armee");
			unsigned want = TEXT_TOKEN_CAPITAL | (elided ? TEXT_TOKEN_INITIAL : 0);
			assert_int_equal(t.flags[t.n - 1], want);
			assert_int_equal(t.n, elided || strlen(w) == 1 ? 1 : 2);
			buf_free(&t.b);
			free(s);
		}
	}
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
	/* A word holding a digit is dropped, met first or again (the stem cache knows it then),
	 * whatever the length of its run of letters and digits. */
	for (int i = 0; i < 2; i++) {
		a = tokens(
		    st, NULL,
		    "zapad2025 Zapad2025 x86 abcdefghijklmnopq7 abcdefgh7 7abcdefghijklmnopq "
		    "frontières 2abcdefghijklmnopqrstuvwxyz1");
		assert_string_equal(a, "frontier");
		free(a);
	}
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

/* The last token handed on, where it was handed from. */
static void last_cb(const char *tok, size_t len, size_t index, unsigned flags, void *arg)
{
	(void)len;
	(void)index;
	(void)flags;
	*(const char **)arg = tok;
}

/* Numbers are dropped without a place in the stem memo: a word's stem, handed on from where
 * the memo keeps it once the word is known, comes from the same place after more distinct
 * numbers than the memo holds words (which would have had it forget everything). */
static void test_numbers_not_memoised(void **state)
{
	(void)state;
	struct text_stemmer *st = text_stemmer_new();
	assert_non_null(st);
	static const char w[] = "gouvernementales gouvernementales";
	const char *before = NULL, *after = NULL;
	assert_int_equal(text_tokens(st, NULL, w, strlen(w), last_cb, &before), 2);
	struct buf b = {0};
	for (int i = 0; i < 20000; i++)
		buf_printf(&b, "%d a%d ", 100000 + i, i);
	assert_int_equal(text_tokens(st, NULL, b.p, b.len, last_cb, &after), 0);
	assert_int_equal(text_tokens(st, NULL, w, 16, last_cb, &after), 1);
	assert_non_null(before);
	assert_ptr_equal(before, after);
	buf_free(&b);
	text_stemmer_free(st);
}

static void *thread_stemmer_cb(void *arg)
{
	(void)arg;
	struct text_stemmer *st = text_stemmer_thread();
	assert_non_null(st);
	assert_ptr_equal(text_stemmer_thread(), st);
	return st;
}

/* Each thread keeps one stemmer of its own, which stems as a new one does. */
static void test_stemmer_thread(void **state)
{
	(void)state;
	struct text_stemmer *st = text_stemmer_thread();
	assert_non_null(st);
	assert_ptr_equal(text_stemmer_thread(), st);
	pthread_t t;
	void *other = NULL;
	assert_int_equal(pthread_create(&t, NULL, thread_stemmer_cb, NULL), 0);
	assert_int_equal(pthread_join(t, &other), 0);
	assert_ptr_not_equal(other, st);
	char *words = word_list(300);
	struct text_stemmer *fresh = text_stemmer_new();
	char *got = tokens(st, NULL, words), *want = tokens(fresh, NULL, words);
	assert_string_equal(got, want);
	text_stemmer_free(fresh);
	free(got);
	free(want);
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

/* Appends to out the valid UTF-8 sequences of s, dropping every invalid byte. */
static void valid_only(const char *s, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len;) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
						      (utf8proc_ssize_t)(len - i), &cp);
		if (k < 0) {
			i++;
			continue;
		}
		buf_append(out, s + i, (size_t)k);
		i += (size_t)k;
	}
}

/* What text_fold computed before its ASCII fast path. */
static char *ref_fold(const char *s, size_t len)
{
	utf8proc_uint8_t *m = NULL;
	utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &m,
					  UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
					      UTF8PROC_STRIPMARK | UTF8PROC_IGNORE);
	if (n < 0) {
		struct buf clean = {0};
		valid_only(s, len, &clean);
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

/*
 * text_fold and text_tokens normalise through a table of the common code points; the
 * reference functions do it all through utf8proc, as text_fold and text_tokens did when the
 * content hashes already stored were computed. They must agree byte for byte, flags included.
 */

/* Every token with its index and flags, in one string. */
static void all_cb(const char *tok, size_t len, size_t index, unsigned flags, void *arg)
{
	if (tok[len] || strlen(tok) != len)
		fail_msg("token \"%.*s\" is not NUL-terminated at %zu", (int)len, tok, len);
	buf_printf(arg, "%zu:%.*s/%u ", index, (int)len, tok, flags);
}

/* all_cb for text_tokens_hashed, which must hand over each token's hash_bytes. */
static void all_hashed_cb(const char *tok, size_t len, uint64_t hash, size_t index, unsigned flags,
			  void *arg)
{
	if (hash != hash_bytes(tok, len))
		fail_msg("text_tokens_hashed: hash of \"%.*s\" is not its hash_bytes", (int)len,
			 tok);
	all_cb(tok, len, index, flags, arg);
}

/* Fails unless the fast path and the reference fold and tokenise s[0..len) alike, and
 * text_tokens_hashed gives the tokens text_tokens gives. */
static void check_same(struct text_stemmer *st, const char *s, size_t len)
{
	char *got = text_fold(s, len), *want = text_fold_reference(s, len);
	if (strcmp(got, want)) {
		struct buf hex = {0};
		for (size_t i = 0; i < len; i++)
			buf_printf(&hex, "%02x", (unsigned char)s[i]);
		fail_msg("text_fold(%s) = \"%s\", reference \"%s\"", hex.p, got, want);
	}
	free(got);
	free(want);
	struct buf a = {0}, b = {0};
	size_t na = text_tokens(st, NULL, s, len, all_cb, &a);
	size_t nb = text_tokens_reference(st, NULL, s, len, all_cb, &b);
	if (na != nb || (a.p && strcmp(a.p, b.p))) {
		struct buf hex = {0};
		for (size_t i = 0; i < len; i++)
			buf_printf(&hex, "%02x", (unsigned char)s[i]);
		fail_msg("text_tokens(%s) = \"%s\", reference \"%s\"", hex.p, a.p ? a.p : "",
			 b.p ? b.p : "");
	}
	struct buf c = {0};
	size_t nc = text_tokens_hashed(st, NULL, s, len, all_hashed_cb, &c);
	if (nc != na || (a.p && strcmp(a.p, c.p)))
		fail_msg("text_tokens_hashed gives \"%s\", text_tokens \"%s\"", c.p ? c.p : "",
			 a.p ? a.p : "");
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
}

static void put_cp(struct buf *b, utf8proc_int32_t cp)
{
	utf8proc_uint8_t u[4];
	utf8proc_ssize_t n = utf8proc_encode_char(cp, u);
	buf_append(b, u, (size_t)n);
}

/* Code points around which normalisation does something: marks (to strip, to reorder, that
 * compose), Hangul jamo and syllables, Indic vowel signs that compose without being marks of
 * class zero, ignorable and format characters, spaces, compatibility forms. */
static const utf8proc_int32_t tricky[] = {
    0x0301, 0x0300, 0x0327, 0x0308, 0x0316,  0x0345,  0x0344,	0x0342,	 0x031B,  0x0323,  0x20D7,
    0x302A, 0x3099, 0x1100, 0x1161, 0x11A7,  0x11A8,  0xAC00,	0xAC01,	 0x0B47,  0x0B3E,  0x0B57,
    0x09C7, 0x09BE, 0x0DD9, 0x0DCF, 0x1B05,  0x1B35,  0x0CC6,	0x0CC2,	 0x0CD5,  0x00AD,  0x200B,
    0x200C, 0x200D, 0x2060, 0xFEFF, 0x034F,  0x180B,  0xFE0F,	0x00A0,	 0x2009,  0x202F,  0x2007,
    0x3000, 0x2028, 0x0085, 0x0130, 0x0131,  0x0149,  0x01C5,	0x03D3,	 0x1E9E,  0x212A,  0x2126,
    0x212B, 0x1E9B, 0xFB05, 0xFF21, 0xFF41,  0x0041,  0x0065,	0x03B1,	 0x0415,  0x0418,  0x05D0,
    0x0627, 0x0653, 0x0654, 0x0655, 0x1D400, 0x1F600, 0x10FFFD, 0xE0001, 0x11099, 0x110BA, 0x0F71,
    0x0F72, 0x0F80, 0x0FB5, 0x0FB7, 0x0F40,  0x0F92,  0x1025,	0x102E};

/* A random string biased to French news text and to what normalisation acts on. */
static void random_text(uint32_t *x, struct buf *b)
{
	static const char *const words[] = {
	    "Biélorussie",
	    "frontière",
	    "l'armée",
	    "l’armée",
	    "Kyiv",
	    "ŒUVRE",
	    "manœuvre",
	    "ex æquo",
	    "ﬁnancer",
	    "ﬂotte",
	    "«\xc2\xa0oui\xc2\xa0»",
	    "— dit-il",
	    "…",
	    "Ｂｅｌａｒｕｓ",
	    "n°\xe2\x80\xaf"
	    "3",
	    "Ⅻ",
	    "½",
	    "²",
	    "L'Élysée",
	    "garde-frontières",
	    "aujourd’hui",
	    "ÇA",
	    "où",
	    "Noël",
	    "naïf",
	    "Mañana",
	    "İstanbul",
	    "straße",
	    "ΣΟΦΙΑ",
	    "Ёлка",
	    "Україна",
	    "e\xcc\x81t\xc3\xa9",
	    "\xe2\x80\x89",
	    "\t",
	    "\n",
	    "  ",
	    "12,5 %",
	    "https://x.fr/a?b=1",
	    "Dépêche",
	    "COVID-19",
	    "A320neo",
	    "x86_64",
	    "2024-11-02",
	    "anticonstitutionnellementanticonstitutionnellementanticonstitutionnellement",
	    "Anticonstitutionnellementanticonstitutionnellementanticonstitutionnellementé",
	    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl",
	    "\xef\xbb\xbf",
	    "\xc2\xad",
	    "ǅemal",
	    "\xe2\x80\x8b"};
	int n = (int)(lcg(x) % 40);
	for (int i = 0; i < n; i++) {
		uint32_t r = lcg(x) % 100;
		if (r < 45) {
			buf_puts(b, words[lcg(x) % ARRAY_SIZE(words)]);
		} else if (r < 60) {
			static const char ascii[] =
			    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789 .,;:!?'\"()[]-_/\\@#&*+=<>\x01\x1f\x7f";
			int k = 1 + (int)(lcg(x) % 8);
			for (int j = 0; j < k; j++)
				buf_putc(b, ascii[lcg(x) % (sizeof(ascii) - 1)]);
		} else if (r < 72) {
			put_cp(b, 0xC0 + (utf8proc_int32_t)(lcg(x) % 0x1C0)); /* Latin */
		} else if (r < 80) {
			put_cp(b, tricky[lcg(x) % ARRAY_SIZE(tricky)]);
		} else if (r < 85) {
			put_cp(b, 0x2000 + (utf8proc_int32_t)(lcg(x) % 0x200)); /* punctuation */
		} else if (r < 88) {
			put_cp(b, 0xFB00 + (utf8proc_int32_t)(lcg(x) % 0x50)); /* ligatures */
		} else if (r < 91) {
			put_cp(b, 0xFF00 + (utf8proc_int32_t)(lcg(x) % 0xF0)); /* full width */
		} else if (r < 94) {
			put_cp(b, 0x300 + (utf8proc_int32_t)(lcg(x) % 0x70)); /* marks */
		} else if (r < 98) {
			utf8proc_int32_t cp;
			do
				cp = (utf8proc_int32_t)(((uint64_t)lcg(x) << 16 | lcg(x)) %
							0x110000);
			while (cp >= 0xD800 && cp < 0xE000);
			put_cp(b, cp);
		} else {
			static const char *const bad[] = {
			    "\xe9",	    "\xc3",	    "\x80",
			    "\xed\xa0\x80", "\xc0\xaf",	    "\xf5\x80\x80\x80",
			    "\xe2\x82",	    "\xf0\x9f\x98", "\xff"};
			buf_puts(b, bad[lcg(x) % ARRAY_SIZE(bad)]);
		}
	}
	if (!b->p)
		buf_append(b, "", 0);
}

/* The table's start-up looks for the seconds of compositions among the code points below
 * U+30000 only (text.c's DECOMPOSED_END): utf8proc knows no decomposition from there up, and
 * knows the last one below, U+2FA1D. */
static void test_no_decomposition_past_plane_2(void **state)
{
	(void)state;
	assert_int_not_equal(utf8proc_get_property(0x2FA1D)->decomp_seqindex, UINT16_MAX);
	for (utf8proc_int32_t cp = 0x30000; cp < 0x110000; cp++)
		if (utf8proc_get_property(cp)->decomp_seqindex != UINT16_MAX)
			fail_msg("U+%04X has a decomposition", (unsigned)cp);
}

static void test_table_matches_reference(void **state)
{
	(void)state;
	struct text_stemmer *st = text_stemmer_new();
	/* Every code point of the table's pages (and some past them) alone and between the
	 * code points normalisation acts on. */
	static const utf8proc_int32_t around[] = {0,	  'e',	  'E',	  0x0301, 0x0327,
						  0x1100, 0x1161, 0x0B47, 0x0B3E, 0x00E9,
						  0x200D, 0xAC00, 0x11A8, 0x0418, 0x03B9};
	for (utf8proc_int32_t cp = 0x80; cp < 0x10000; cp++) {
		if (cp >= 0xD800 && cp < 0xE000)
			continue;
		unsigned page = (unsigned)cp >> 8;
		bool tabled = page < 0x08 || page == 0x1E || (page >= 0x20 && page <= 0x22) ||
			      page == 0x25 || page == 0xFB || page == 0xFF;
		if (!tabled && cp % 61)
			continue;
		for (size_t a = 0; a < ARRAY_SIZE(around); a++) {
			for (size_t z = 0; z < ARRAY_SIZE(around); z += tabled ? 1 : 4) {
				struct buf b = {0};
				if (around[a])
					put_cp(&b, around[a]);
				put_cp(&b, cp);
				if (around[z])
					put_cp(&b, around[z]);
				check_same(st, b.p, b.len);
				buf_free(&b);
			}
		}
	}
	/* Every ASCII byte as the separator between words (elisions, compounds, sentences), also
	 * after and before words of sixteen bytes and more (read sixteen at a time). */
	static const char *const frames[] = {"l%cUkraine",
					     "qu%cil",
					     "porte%cparole",
					     "Fin%c Suite",
					     "%cDébut",
					     "mot%c",
					     "a%c%c b",
					     "x1%cY2",
					     "Anticonstitutionnel%cLement%c de la",
					     "abcdefghijklmnop%cQrstuvwxyz0123456789%cZ fin"};
	for (int c = 1; c < 0x80; c++)
		for (size_t f = 0; f < ARRAY_SIZE(frames); f++) {
			char t[80];
			int n = snprintf(t, sizeof(t), frames[f], c, c);
			check_same(st, t, (size_t)n);
		}
	/* Random strings. */
	uint32_t x = 20261102;
	for (int round = 0; round < 20000; round++) {
		struct buf b = {0};
		random_text(&x, &b);
		check_same(st, b.p, b.len);
		buf_free(&b);
	}
	text_stemmer_free(st);
}

/* text_fold by its definition (text.h), through utf8proc alone and one code point at a time:
 * invalid bytes dropped, NFKC, case folded, marks and ignorable characters dropped, then every
 * run of white space, control and format characters one space, the ends trimmed. */
static char *fold_by_definition(const char *s, size_t len)
{
	struct buf valid = {0}, out = {0};
	valid_only(s, len, &valid);
	utf8proc_uint8_t *m = NULL;
	utf8proc_ssize_t n = 0;
	if (valid.len)
		n = utf8proc_map((const utf8proc_uint8_t *)valid.p, (utf8proc_ssize_t)valid.len, &m,
				 UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
				     UTF8PROC_STRIPMARK | UTF8PROC_IGNORE);
	assert_true(n >= 0);
	bool space = false;
	for (utf8proc_ssize_t i = 0; i < n;) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(m + i, n - i, &cp);
		utf8proc_category_t cat = utf8proc_category(cp);
		if (cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
		    cat == UTF8PROC_CATEGORY_ZP || cat == UTF8PROC_CATEGORY_CC ||
		    cat == UTF8PROC_CATEGORY_CF || cp == ' ') {
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
	buf_free(&valid);
	if (!out.p)
		buf_append(&out, "", 0);
	return buf_steal(&out);
}

/* The fast and the reference text_fold share their collapsing of white space: both are held to
 * the definition, on the random strings above and runs of ASCII words and spaces. */
static void test_fold_definition(void **state)
{
	(void)state;
	uint32_t x = 4242;
	for (int round = 0; round < 20000; round++) {
		struct buf b = {0};
		if (round % 2) {
			random_text(&x, &b);
		} else {
			static const char *const parts[] = {"mot", " ",	   "  ",      "\t",
							    "\n ", "\x7f", "Bélarus", "\xc2\xa0",
							    "x",   "\x01"};
			for (int i = (int)(lcg(&x) % 30); i > 0; i--)
				buf_puts(&b, parts[lcg(&x) % ARRAY_SIZE(parts)]);
			if (!b.p)
				buf_append(&b, "", 0);
		}
		char *want = fold_by_definition(b.p, b.len);
		char *got = text_fold(b.p, b.len), *ref = text_fold_reference(b.p, b.len);
		if (strcmp(got, want) || strcmp(ref, want))
			fail_msg(
			    "text_fold(\"%s\") = \"%s\", reference \"%s\", by definition \"%s\"",
			    b.p, got, ref, want);
		free(got);
		free(ref);
		free(want);
		buf_free(&b);
	}
}

/* The reference articles, and every text of the real feeds when the shared test bed is there. */
static void test_real_texts_match_reference(void **state)
{
	(void)state;
	struct text_stemmer *st = text_stemmer_new();
	glob_t g;
	assert_int_equal(glob(TEST_SOURCE_DIR "/conf/reference/*.txt", 0, NULL, &g), 0);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		char *data;
		size_t len;
		assert_int_equal(read_file(g.gl_pathv[i], 1u << 22, &data, &len), 0);
		check_same(st, data, len);
		for (const char *p = data; *p;) { /* line by line, as dedup folds */
			size_t n = strcspn(p, "\n");
			check_same(st, p, n);
			p += n + (p[n] != '\0');
		}
		free(data);
	}
	globfree(&g);
	size_t docs = 0;
	if (glob(TEST_SHARED_DIR "/feeds/real/*.xml", 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++) {
			char *data, err[256];
			size_t len;
			struct feed_doc *doc;
			if (read_file(g.gl_pathv[i], 64u << 20, &data, &len) < 0)
				continue;
			/* raw bytes too: some documents are not UTF-8 */
			check_same(st, data, len < 65536 ? len : utf8_cut(data, len, 65536));
			if (feed_parse(data, len, NULL, NULL, &doc, err, sizeof(err)) == 0) {
				for (size_t k = 0; k < doc->nitems; k++) {
					const struct feed_item *it = &doc->items[k];
					const char *f[] = {it->title, it->summary, it->content,
							   it->author};
					for (size_t j = 0; j < ARRAY_SIZE(f); j++)
						if (f[j])
							check_same(st, f[j], strlen(f[j]));
				}
				feed_doc_free(doc);
				docs++;
			}
			free(data);
		}
		globfree(&g);
	}
	text_stemmer_free(st);
	if (!docs)
		skip(); /* the shared test bed is absent: the references passed */
}

/* Words between runs of one to three ASCII separators of every kind (of no break class, an
 * apostrophe, a hyphen, a sentence break; a letter or a digit after them or not): the fast
 * path, which ends most words at a separator of no break class and skips the same ones after
 * it, tokenises and flags them as the reference does. */
static void test_separator_runs(void **state)
{
	(void)state;
	static const char seps[] = " ,;-'.\n\"(";
	static const char *const after[] = {"Minsk", "l", "2", "porte", ""};
	struct text_stemmer *st = text_stemmer_new();
	size_t nsep = sizeof(seps) - 1;
	for (size_t a = 0; a < nsep; a++)
		for (size_t b = 0; b <= nsep; b++)
			for (size_t c = 0; c <= nsep; c++)
				for (size_t w = 0; w < ARRAY_SIZE(after); w++) {
					char s[64];
					int n =
					    snprintf(s, sizeof(s), "Les troupes%c%.1s%.1s%s parole",
						     seps[a], &seps[b], &seps[c], after[w]);
					assert_true(n > 0 && (size_t)n < sizeof(s));
					check_same(st, s, (size_t)n);
				}
	text_stemmer_free(st);
}

/* text_fold_char of the character at s (not ASCII) appended to b; false when it has none. */
static bool fold_char_put(struct buf *b, const char *s, size_t len, size_t *ret_k)
{
	size_t n;
	const char *f = text_fold_char(s, len, ret_k, &n);
	if (!f)
		return false;
	assert_true(*ret_k >= 2 && *ret_k <= len);
	assert_true(n >= 1 && n <= 7);
	buf_append(b, f, n);
	return true;
}

/* text_fold_append of strings of ASCII and of characters text_fold_char knows is what
 * text_fold_char says of each (text.h), for every code point below U+10000 it knows, standing
 * between letters, marks-free neighbours, and itself; and for random strings of them. */
static void test_fold_char(void **state)
{
	(void)state;
	assert_true(text_fold_chars_ready());
	struct buf s = {0}, want = {0}, got = {0};
	size_t k, known = 0;
	/* What it says of a few: the folded forms, their lengths in the string. */
	assert_true(fold_char_put(&want, "\xc3\x89t\xc3\xa9", 6, &k)); /* É */
	assert_int_equal(k, 2);
	assert_true(fold_char_put(&want, "\xe2\x80\x99", 3, &k)); /* ’ stays */
	assert_int_equal(k, 3);
	assert_true(fold_char_put(&want, "\xc2\xa0", 2, &k));	  /* no-break space: a space */
	assert_true(fold_char_put(&want, "\xef\xac\x81", 3, &k)); /* the ligature fi */
	assert_string_equal(want.p, "e\xe2\x80\x99 fi");
	assert_false(fold_char_put(&want, "\xcc\x81", 2, &k)); /* a mark: folds with its base */
	assert_false(fold_char_put(&want, "\xf0\x9f\x98\x80", 4, &k)); /* outside the table */
	assert_false(fold_char_put(&want, "\xc3", 1, &k));	       /* cut */
	assert_false(fold_char_put(&want, "\xc3\x28", 2, &k));	       /* invalid */
	for (utf8proc_int32_t cp = 0x80; cp < 0x10000; cp++) {
		if (cp >= 0xD800 && cp < 0xE000)
			continue;
		utf8proc_uint8_t u[4];
		size_t ulen = (size_t)utf8proc_encode_char(cp, u);
		buf_reset(&want);
		if (!fold_char_put(&want, (const char *)u, ulen, &k))
			continue;
		assert_int_equal(k, ulen);
		known++;
		const char *one = want.p;
		size_t onelen = want.len;
		/* "Ab" c "d" c c "E": b and d are ASCII, so every character maps on its own. */
		buf_reset(&s);
		buf_puts(&s, "Ab");
		buf_append(&s, u, ulen);
		buf_puts(&s, "d");
		buf_append(&s, u, ulen);
		buf_append(&s, u, ulen);
		buf_puts(&s, "E");
		struct buf exp = {0};
		buf_puts(&exp, "ab");
		buf_append(&exp, one, onelen);
		buf_puts(&exp, "d");
		buf_append(&exp, one, onelen);
		buf_append(&exp, one, onelen);
		buf_puts(&exp, "e");
		buf_reset(&got);
		assert_int_equal(text_fold_append(s.p, s.len, &got), 0);
		if (got.len != exp.len || memcmp(got.p, exp.p, exp.len))
			fail_msg("U+%04X: text_fold_append gives \"%s\", text_fold_char \"%s\"",
				 (unsigned)cp, got.p, exp.p);
		buf_free(&exp);
	}
	assert_true(known > 1000);
	/* Random strings of known characters next to each other. */
	static const char *const chars[] = {"a",
					    "Z",
					    "7",
					    " ",
					    "-",
					    "\xc3\xa9",
					    "\xc3\x89",
					    "\xc3\xa7",
					    "\xc2\xa0",
					    "\xc2\xab",
					    "\xc2\xbb",
					    "\xc5\x93",
					    "\xc5\x92",
					    "\xc2\xbd",
					    "\xe2\x80\x99",
					    "\xe2\x80\x94",
					    "\xe2\x80\xa6",
					    "\xef\xac\x81",
					    "\xef\xbc\xa2",
					    "\xe2\x84\x80",
					    "\xce\xa3",
					    "\xd0\x81",
					    "\xc3\x9f",
					    "\xe1\xba\x9e",
					    "\xe2\x80\xaf"};
	uint32_t x = 1;
	for (int round = 0; round < 2000; round++) {
		buf_reset(&s);
		buf_reset(&want);
		x = x * 1103515245u + 12345u;
		int n = (int)(x >> 16) % 40;
		for (int i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			const char *p = chars[(x >> 16) % ARRAY_SIZE(chars)];
			buf_puts(&s, p);
			if ((unsigned char)p[0] < 0x80) {
				buf_putc(&want,
					 p[0] >= 'A' && p[0] <= 'Z' ? p[0] - 'A' + 'a' : p[0]);
			} else if (!fold_char_put(&want, p, strlen(p), &k)) {
				fail_msg("no text_fold_char for \"%s\"", p);
			}
		}
		buf_reset(&got);
		assert_int_equal(text_fold_append(s.p ? s.p : "", s.len, &got), 0);
		if (got.len != want.len || (want.len && memcmp(got.p, want.p, want.len)))
			fail_msg("text_fold_append(\"%s\") = \"%s\", text_fold_char \"%s\"", s.p,
				 got.p, want.p);
	}
	buf_free(&s);
	buf_free(&want);
	buf_free(&got);
}

struct found {
	const char *w;
	bool seen;
};

static void find_cb(void *ctx, const char *w)
{
	struct found *f = ctx;
	f->seen |= !strcmp(w, f->w);
}

/* The lists searched by bisection are sorted (one out of order hid "apres" from bsearch: it went
 * out of the full-text index), and the stop words that the README and veillectl(1) say stay
 * searchable are no function words, while "de" and "la" are. */
static void test_function_words(void **state)
{
	(void)state;
	assert_true(text_lists_sorted());
	static const char *const kept[] = {"non",   "sans",  "plus",  "avant",
					   "apres", "entre", "depuis"};
	for (size_t i = 0; i < ARRAY_SIZE(kept); i++) {
		struct found f = {kept[i], false};
		assert_true(text_is_stopword(kept[i], strlen(kept[i])));
		text_function_words(find_cb, &f);
		if (f.seen)
			fail_msg("\"%s\" is left out of the index", kept[i]);
	}
	static const char *const dropped[] = {"de", "la", "les", "et", "que", "qu", "quelqu"};
	for (size_t i = 0; i < ARRAY_SIZE(dropped); i++) {
		struct found f = {dropped[i], false};
		text_function_words(find_cb, &f);
		assert_true(f.seen);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fold),
	    cmocka_unit_test(test_elisions),
	    cmocka_unit_test(test_every_elision),
	    cmocka_unit_test(test_stopwords_numbers_hyphens),
	    cmocka_unit_test(test_stems),
	    cmocka_unit_test(test_stem_memo),
	    cmocka_unit_test(test_numbers_not_memoised),
	    cmocka_unit_test(test_flags),
	    cmocka_unit_test(test_aliases),
	    cmocka_unit_test(test_alias_errors),
	    cmocka_unit_test(test_invalid_utf8),
	    cmocka_unit_test(test_fast_path_matches_utf8proc),
	    cmocka_unit_test(test_stemmer_thread),
	    cmocka_unit_test(test_no_decomposition_past_plane_2),
	    cmocka_unit_test(test_table_matches_reference),
	    cmocka_unit_test(test_fold_definition),
	    cmocka_unit_test(test_real_texts_match_reference),
	    cmocka_unit_test(test_separator_runs),
	    cmocka_unit_test(test_function_words),
	    cmocka_unit_test(test_fold_char),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
