/*
 * text.c - text normalisation (utf8proc) and French tokens (libstemmer).
 */
#include "text.h"

#include <libstemmer.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "swar.h"
#include "util.h"

/* Appends to out the characters of s[0..len) that are valid UTF-8, dropping invalid bytes. */
static void valid_chars(const char *s, size_t len, struct buf *out)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
	for (size_t i = 0; i < len;) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
		if (k < 0) {
			i++;
			continue;
		}
		buf_append(out, p + i, (size_t)k);
		i += (size_t)k;
	}
}

/* NFKC + case fold + strip marks (accents): "Biélorussie" and "BIELORUSSIE" fold alike.
 * STRIPMARK needs a decomposition, so COMPOSE re-composes what is left afterwards. */
#define FOLD_OPTIONS                                                                               \
	(UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK |             \
	 UTF8PROC_IGNORE)
/* The same but for the case, which decides TEXT_TOKEN_CAPITAL and is folded per character. */
#define TOKEN_OPTIONS (UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_STRIPMARK | UTF8PROC_IGNORE)

/* utf8proc of s[0..len) (no ASCII byte after its first one) appended to out; -1 on invalid
 * UTF-8. Most segments are a letter and its accent: a stack buffer spares utf8proc_map's
 * allocation. */
static int map_segment(const utf8proc_uint8_t *s, size_t len, utf8proc_option_t options,
		       struct buf *out)
{
	utf8proc_int32_t stack[64], *v = stack;
	utf8proc_ssize_t n = utf8proc_decompose(s, (utf8proc_ssize_t)len, v, 64, options);
	if (n > 64) {
		v = xreallocarray(NULL, (size_t)n, sizeof(*v));
		n = utf8proc_decompose(s, (utf8proc_ssize_t)len, v, n, options);
	}
	if (n >= 0)
		n = utf8proc_reencode(v, n, options);
	if (n >= 0)
		buf_append(out, v, (size_t)n);
	if (v != stack)
		free(v);
	return n < 0 ? -1 : 0;
}

/*
 * utf8proc_map(s, len, options) appended to out, without utf8proc for ASCII runs: an ASCII
 * character maps to itself (to lower case under CASEFOLD), has no decomposition, never reorders
 * and never composes with what precedes it, so normalisation may restart before any ASCII
 * character. Only a non-ASCII run goes through utf8proc, with the ASCII character before it (a
 * base letter its marks may follow). -1 on invalid UTF-8, with out partly written.
 */
static int normalise_ref(const char *str, size_t len, utf8proc_option_t options, struct buf *out)
{
	const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)str;
	bool fold = options & UTF8PROC_CASEFOLD;
	size_t i = 0;
	while (i < len) {
		size_t j = i;
		while (j < len && s[j] < 0x80)
			j++;
		/* s[i..j) is ASCII; the last one goes with the run after it, if any. */
		size_t plain = j < len && j > i ? j - 1 : j;
		buf_append(out, s + i, plain - i);
		if (fold) {
			char *p = out->p + out->len - (plain - i);
			for (size_t k = 0; k < plain - i; k++)
				if (p[k] >= 'A' && p[k] <= 'Z')
					p[k] = (char)(p[k] - 'A' + 'a');
		}
		if (j == len)
			break;
		size_t e = j;
		while (e < len && s[e] >= 0x80)
			e++;
		if (map_segment(s + plain, e - plain, options, out) < 0)
			return -1;
		i = e;
	}
	if (!out->p)
		buf_append(out, "", 0);
	return 0;
}

/*
 * The fast path of normalise: a table of what each code point of the common pages maps to.
 *
 * utf8proc maps a string in three steps: every code point c is decomposed on its own (d(c):
 * compatibility decomposition, case fold, marks and ignorable characters dropped), the whole
 * sequence is put in canonical order (only code points of a non-zero combining class move, and
 * never across one of class zero), then composed from left to right (a code point joins the
 * last starter when the two are a canonical composition). So when d(c) starts with a starter
 * (class zero) that is never the second of a composition, map(x c y) = map(x) map(c y) for any
 * x and y: nothing is reordered across d(c)[0] and composition restarts at it. Such a c is a
 * boundary. A boundary followed by another boundary maps on its own: the table holds map(c)
 * for the boundaries, computed at start-up by utf8proc itself; every other code point (marks,
 * Hangul, ignorable characters, pages not in the table, invalid bytes) goes to utf8proc in one
 * segment with the boundary before it and every non-boundary after it, as normalise_ref does.
 *
 * The seconds of compositions are found at start-up too: a code point without a decomposition
 * that is the second of the pair a primary composite decomposes to sits past the first place of
 * that composite's full canonical decomposition. Hangul syllables compose by arithmetic, not by
 * table: their vowel and trailing jamo are added by hand.
 */
struct fold_char {
	uint8_t len; /* bytes in s; 0: not a boundary, or not known: utf8proc maps it */
	char s[7];
};

/* The pages (of 256 code points) of the table: Latin, Greek, Cyrillic, Hebrew, Arabic, Latin
 * Extended Additional, punctuation, currency and letter-like symbols, arrows, mathematical
 * operators, geometric shapes, ligatures and full-width forms. */
static const uint8_t fold_page_list[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
					 0x1E, 0x20, 0x21, 0x22, 0x25, 0xFB, 0xFF};

struct fold_table {
	const struct fold_char *page[256]; /* by code point >> 8, below U+10000; NULL: none */
};

enum { FOLD_TABLE_FOLD, FOLD_TABLE_TOKEN, FOLD_TABLE_MAX };
static const utf8proc_option_t fold_table_options[FOLD_TABLE_MAX] = {FOLD_OPTIONS, TOKEN_OPTIONS};
static struct fold_char fold_chars[FOLD_TABLE_MAX][ARRAY_SIZE(fold_page_list)][256];
static struct fold_table fold_tables[FOLD_TABLE_MAX];
static bool fold_ready[FOLD_TABLE_MAX];
static pthread_once_t fold_once = PTHREAD_ONCE_INIT;

#define UNICODE_MAX 0x110000

/* No code point from here up has a decomposition (the last is U+2FA1D, in the CJK compatibility
 * ideographs supplement; planes 3 to 16 hold unified ideographs, tags, variation selectors and
 * private use). Four fifths of the code points, which find_seconds looked up one by one at
 * start-up: 25 million instructions. */
#define DECOMPOSED_END 0x30000

/* Marks in *sec (a bit per code point) every code point that may be the second of a
 * composition. */
static void find_seconds(uint8_t *sec)
{
	for (utf8proc_int32_t v = 0x1161; v < 0x1161 + 21; v++) /* Hangul vowel jamo */
		sec[v / 8] |= (uint8_t)(1u << (v % 8));
	for (utf8proc_int32_t t = 0x11A7; t < 0x11A7 + 28; t++) /* trailing jamo */
		sec[t / 8] |= (uint8_t)(1u << (t % 8));
	for (utf8proc_int32_t cp = 0; cp < DECOMPOSED_END; cp++) {
		if (cp >= 0xAC00 && cp < 0xAC00 + 11172)
			continue; /* Hangul syllables: their jamo are marked above */
		if (utf8proc_get_property(cp)->decomp_seqindex == UINT16_MAX)
			continue;
		utf8proc_int32_t d[32];
		int bc = UTF8PROC_BOUNDCLASS_START;
		utf8proc_ssize_t n = utf8proc_decompose_char(cp, d, 32, UTF8PROC_DECOMPOSE, &bc);
		for (utf8proc_ssize_t i = 1; i < n && i < 32; i++)
			if (d[i] >= 0 && d[i] < UNICODE_MAX)
				sec[d[i] / 8] |= (uint8_t)(1u << (d[i] % 8));
	}
}

/* The table entry of cp under options: map(cp) when cp is a boundary; len 0 otherwise. */
static struct fold_char fold_entry(utf8proc_int32_t cp, utf8proc_option_t options,
				   const uint8_t *sec)
{
	struct fold_char fc = {0};
	utf8proc_uint8_t u[4];
	utf8proc_ssize_t ulen = utf8proc_encode_char(cp, u);
	utf8proc_int32_t v[32];
	utf8proc_ssize_t n = ulen > 0 ? utf8proc_decompose(u, ulen, v, 32, options) : -1;
	if (n <= 0 || n > 32)
		return fc; /* nothing left (ignorable, a mark), an error, or long */
	utf8proc_int32_t first = v[0], d[4];
	int bc = UTF8PROC_BOUNDCLASS_START;
	if (first < 0 || first >= UNICODE_MAX ||
	    utf8proc_get_property(first)->combining_class != 0 ||
	    (sec[first / 8] >> (first % 8)) & 1u ||
	    utf8proc_decompose_char(first, d, 4, UTF8PROC_DECOMPOSE, &bc) != 1 || d[0] != first)
		return fc;
	utf8proc_ssize_t m = utf8proc_reencode(v, n, options);
	if (m <= 0 || m > (utf8proc_ssize_t)sizeof(fc.s))
		return fc;
	memcpy(fc.s, v, (size_t)m);
	fc.len = (uint8_t)m;
	return fc;
}

static void fold_init(void)
{
	uint8_t *sec = xcalloc(UNICODE_MAX / 8, 1);
	find_seconds(sec);
	for (int t = 0; t < FOLD_TABLE_MAX; t++) {
		utf8proc_option_t options = fold_table_options[t];
		bool ok = true;
		for (size_t p = 0; p < ARRAY_SIZE(fold_page_list); p++) {
			unsigned page = fold_page_list[p];
			for (unsigned k = 0; k < 256; k++)
				fold_chars[t][p][k] =
				    fold_entry((utf8proc_int32_t)(page << 8 | k), options, sec);
			fold_tables[t].page[page] = fold_chars[t][p];
		}
		/* The fast path copies ASCII (lower-cased under CASEFOLD) without a look at the
		 * table: it must be what utf8proc makes of it, and every ASCII character a
		 * boundary. */
		for (unsigned c = 0; c < 0x80 && ok; c++) {
			char want = (char)((options & UTF8PROC_CASEFOLD) && c >= 'A' && c <= 'Z'
					       ? c - 'A' + 'a'
					       : c);
			const struct fold_char *fc = &fold_chars[t][0][c];
			ok = fc->len == 1 && fc->s[0] == want;
		}
		fold_ready[t] = ok;
	}
	free(sec);
}

/* Length of the valid UTF-8 sequence of 2 or 3 bytes at s (below U+10000, no surrogate) and its
 * code point in *cp; 0 for anything else (4 bytes, invalid, truncated). */
static size_t decode_bmp(const utf8proc_uint8_t *s, size_t len, utf8proc_int32_t *cp)
{
	unsigned c = s[0];
	if (c >= 0xC2 && c <= 0xDF) {
		if (len < 2 || (s[1] & 0xC0) != 0x80)
			return 0;
		*cp = (utf8proc_int32_t)((c & 0x1Fu) << 6 | (s[1] & 0x3Fu));
		return 2;
	}
	if (c >= 0xE0 && c <= 0xEF) {
		if (len < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
		    (c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F))
			return 0;
		*cp = (utf8proc_int32_t)((c & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu));
		return 3;
	}
	return 0;
}

/* The table entry of the character at s (not ASCII) and its length in *k; NULL when it is not a
 * boundary of the table (*k is then 1: the next byte is looked at next). */
static inline const struct fold_char *fold_lookup(const struct fold_table *t,
						  const utf8proc_uint8_t *s, size_t len, size_t *k)
{
	utf8proc_int32_t cp;
	size_t n = decode_bmp(s, len, &cp);
	const struct fold_char *page = n ? t->page[cp >> 8] : NULL;
	if (page && page[cp & 0xFF].len) {
		*k = n;
		return &page[cp & 0xFF];
	}
	*k = 1;
	return NULL;
}

/* In the high bit of each byte of x (from load8_le): the bytes that end an ASCII word for
 * fold_impl, white space and controls (up to ' '), DEL and every byte from 0x80. Exact for every
 * byte: the high bits are cleared before the additions, so no carry crosses a byte. */
static uint64_t word_end8(uint64_t x)
{
	uint64_t t = x & ~SWAR_HIGHS;
	uint64_t above_space = t + 0x5F5F5F5F5F5F5F5Full; /* high bit: t >= 0x21 */
	uint64_t del = t + 0x0101010101010101ull;	  /* high bit: t == 0x7F */
	return (~above_space | del | x) & SWAR_HIGHS;
}

/* Copies the ASCII bytes s[0..n) to d, lower-cased when fold, eight at a time: in each byte of
 * an ASCII word, adding 0x80 - 'A' sets the high bit from 'A' up and adding 0x7F - 'Z' from past
 * 'Z' (no carry leaves a byte of at most 0x7F). */
static void ascii_copy(char *d, const utf8proc_uint8_t *s, size_t n, bool fold)
{
	if (!fold) {
		memcpy(d, s, n);
		return;
	}
	size_t i = 0;
	uint64_t x;
	for (; i + 8 <= n; i += 8) {
		memcpy(&x, s + i, 8);
		uint64_t ge_a = x + 0x3F3F3F3F3F3F3F3Full, gt_z = x + 0x2525252525252525ull;
		x |= (ge_a & ~gt_z & SWAR_HIGHS) >> 2;
		memcpy(d + i, &x, 8);
	}
	if (i == n)
		return;
	if (n >= 8) {
		/* The last eight bytes, over some already copied: lower-casing twice is once. */
		memcpy(&x, s + n - 8, 8);
		uint64_t ge_a = x + 0x3F3F3F3F3F3F3F3Full, gt_z = x + 0x2525252525252525ull;
		x |= (ge_a & ~gt_z & SWAR_HIGHS) >> 2;
		memcpy(d + n - 8, &x, 8);
		return;
	}
	for (; i < n; i++)
		d[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
}

/* normalise_ref through the table: the same bytes, utf8proc only around non-boundaries. */
static int normalise_fast(const char *str, size_t len, const struct fold_table *t, bool fold,
			  utf8proc_option_t options, struct buf *out)
{
	const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)str;
	/* Most characters map to no more bytes than they have: room for the whole string once,
	 * then more only when a table entry or a segment needs it. */
	buf_reserve(out, len + 8);
	size_t i = 0, prev = SIZE_MAX, prev_out = 0; /* the boundary before i, where it went */
	while (i < len) {
		if (s[i] < 0x80) {
			size_t j = i;
#ifdef SWAR_SSE2
			/* Unfolded (tokens): the run copied as it is scanned, sixteen bytes at a
			 * time within s (what lies past the run is overwritten or never read),
			 * rather than by a call to memcpy after the scan, when out has room for
			 * the rest of s. */
			char *d = out->p + out->len;
			if (!fold && out->cap - out->len > len - i) {
				for (; j + 16 <= len; j += 16) {
					__m128i x = load16(s + j);
					_mm_storeu_si128((__m128i *)(void *)(d + (j - i)), x);
					unsigned m = high16(x);
					if (m) {
						j += first_bit(m);
						break;
					}
				}
				if (j + 16 > len) {
					size_t from = j;
					j = ascii_end(s, j, len);
					memcpy(d + (from - i), s + from, j - from);
				}
				out->len += j - i;
				prev = j - 1;
				prev_out = out->len - 1;
				i = j;
				continue;
			}
#endif
			j = ascii_end(s, i, len);
			if (out->cap - out->len <= j - i + 8)
				buf_reserve(out, j - i + 8);
			ascii_copy(out->p + out->len, s + i, j - i, fold);
			out->len += j - i;
			prev = j - 1; /* an ASCII character is a boundary (fold_init checked) */
			prev_out = out->len - 1;
			i = j;
			continue;
		}
		size_t k;
		const struct fold_char *fc = fold_lookup(t, s + i, len - i, &k);
		if (fc) {
			if (out->cap - out->len <= sizeof(fc->s))
				buf_reserve(out, sizeof(fc->s));
			prev = i;
			prev_out = out->len;
			memcpy(out->p + out->len, fc->s, sizeof(fc->s));
			out->len += fc->len;
			i += k;
			continue;
		}
		/* A segment: the boundary just before (its output taken back), this character
		 * and every non-boundary after it. */
		size_t from = i;
		if (prev != SIZE_MAX) {
			from = prev;
			out->len = prev_out;
		}
		size_t e = i + k;
		while (e < len && s[e] >= 0x80 && !fold_lookup(t, s + e, len - e, &k))
			e += k;
		out->p[out->len] = '\0';
		if (map_segment(s + from, e - from, options, out) < 0)
			return -1;
		prev = SIZE_MAX;
		i = e;
	}
	if (!out->p)
		buf_append(out, "", 0);
	out->p[out->len] = '\0';
	return 0;
}

/* utf8proc_map(str, len, options) appended to out (options: FOLD_OPTIONS or TOKEN_OPTIONS),
 * through the table unless reference is set. -1 on invalid UTF-8, with out partly written. */
static int normalise(const char *str, size_t len, utf8proc_option_t options, bool reference,
		     struct buf *out)
{
	int t = options == FOLD_OPTIONS ? FOLD_TABLE_FOLD : FOLD_TABLE_TOKEN;
	if (!reference) {
		pthread_once(&fold_once, fold_init);
		if (fold_ready[t])
			return normalise_fast(str, len, &fold_tables[t],
					      options & UTF8PROC_CASEFOLD, options, out);
	}
	return normalise_ref(str, len, options, out);
}

/* The code point at s[0..len) (valid UTF-8) in *cp; returns its length. */
static size_t next_char(const utf8proc_uint8_t *s, size_t len, utf8proc_int32_t *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	utf8proc_ssize_t k = utf8proc_iterate(s, (utf8proc_ssize_t)len, cp);
	return k > 0 ? (size_t)k : len;
}

/* White space, and control and format characters: collapsed to one space by text_fold. */
static bool fold_space(utf8proc_int32_t cp)
{
	if (cp < 0x80)
		return cp <= ' ' || cp == 0x7F;
	utf8proc_category_t cat = utf8proc_category(cp);
	return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
	       cat == UTF8PROC_CATEGORY_ZP || cat == UTF8PROC_CATEGORY_CC ||
	       cat == UTF8PROC_CATEGORY_CF;
}

static char *fold_impl(const char *s, size_t len, bool reference)
{
	if (!s || !len)
		return xstrdup("");
	struct buf norm = {0};
	if (normalise(s, len, FOLD_OPTIONS, reference, &norm) < 0) {
		/* Invalid UTF-8 somewhere: fold the valid characters only. */
		struct buf clean = {0};
		valid_chars(s, len, &clean);
		char *r = clean.len ? fold_impl(clean.p, clean.len, reference) : xstrdup("");
		buf_free(&clean);
		buf_free(&norm);
		return r;
	}
	/* Collapse white space and control characters, in place (the result is never longer). */
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)norm.p;
	size_t n = norm.len, w = 0;
	bool space = true; /* drops leading space */
	for (size_t i = 0; i < n;) {
		if (p[i] < 0x80) { /* fold_space and the copy below, for ASCII */
			if (p[i] <= ' ' || p[i] == 0x7F) {
				space = true;
				i++;
				continue;
			}
			if (space && w)
				norm.p[w++] = ' ';
			space = false;
			/* The rest of an ASCII word at once; it moves only after a collapse. */
			size_t j = i + 1;
			for (;;) {
				if (j + 8 > n) {
					while (j < n && p[j] > ' ' && p[j] < 0x7F)
						j++;
					break;
				}
				uint64_t m = word_end8(load8_le(p + j));
				if (m) {
					j += first_flagged(m);
					break;
				}
				j += 8;
			}
			if (w != i)
				for (size_t k = i; k < j; k++)
					norm.p[w + k - i] = (char)p[k];
			w += j - i;
			i = j;
			continue;
		}
		utf8proc_int32_t cp;
		size_t k = next_char(p + i, n - i, &cp);
		if (fold_space(cp)) {
			space = true;
		} else {
			if (space && w)
				norm.p[w++] = ' ';
			space = false;
			memmove(norm.p + w, p + i, k);
			w += k;
		}
		i += k;
	}
	norm.p[w] = '\0';
	norm.len = w;
	return buf_steal(&norm);
}

bool text_fold_chars_ready(void)
{
	pthread_once(&fold_once, fold_init);
	return fold_ready[FOLD_TABLE_FOLD];
}

const char *text_fold_char(const char *s, size_t len, size_t *ret_k, size_t *ret_n)
{
	size_t k;
	const struct fold_char *fc =
	    fold_lookup(&fold_tables[FOLD_TABLE_FOLD], (const utf8proc_uint8_t *)s, len, &k);
	if (!fc)
		return NULL;
	*ret_k = k;
	*ret_n = fc->len;
	return fc->s;
}

int text_fold_append(const char *s, size_t len, struct buf *out)
{
	return normalise(s, len, FOLD_OPTIONS, false, out);
}

bool text_fold_space(unsigned long cp)
{
	return cp < UNICODE_MAX && fold_space((utf8proc_int32_t)cp);
}

char *text_fold(const char *s, size_t len)
{
	return fold_impl(s, len, false);
}

char *text_fold_reference(const char *s, size_t len)
{
	return fold_impl(s, len, true);
}

/*
 * Tokens.
 */

/* French function words, accent-folded, sorted (bsearch): the Snowball French stop list plus the
 * prepositions, conjunctions, determiners and adverbs it leaves out. Grammar, not topic. */
static const char *const stopwords[] = {
    "ai",	"aie",	   "aient",	"aies",	    "ainsi",   "ait",	  "alors",    "apres",
    "as",	"au",	   "aucun",	"aucune",   "aujourd", "aupres",  "aura",     "aurai",
    "auraient", "aurais",  "aurait",	"auras",    "aurez",   "auriez",  "aurions",  "aurons",
    "auront",	"aussi",   "autre",	"autres",   "aux",     "avaient", "avais",    "avait",
    "avant",	"avec",	   "avez",	"aviez",    "avions",  "avoir",	  "avons",    "ayant",
    "ayez",	"ayons",   "bien",	"car",	    "ce",      "ceci",	  "cela",     "celle",
    "celles",	"celui",   "cependant", "ces",	    "cet",     "cette",	  "ceux",     "chaque",
    "chez",	"comme",   "comment",	"dans",	    "de",      "deja",	  "depuis",   "des",
    "donc",	"dont",	   "du",	"elle",	    "elles",   "en",	  "encore",   "entre",
    "es",	"est",	   "et",	"etaient",  "etais",   "etait",	  "etant",    "ete",
    "etes",	"etiez",   "etions",	"etre",	    "eu",      "eue",	  "eues",     "eumes",
    "eurent",	"eus",	   "eusse",	"eussent",  "eusses",  "eussiez", "eussions", "eut",
    "eutes",	"eux",	   "fait",	"fois",	    "fumes",   "furent",  "fus",      "fusse",
    "fussent",	"fusses",  "fussiez",	"fussions", "fut",     "futes",	  "ici",      "il",
    "ils",	"je",	   "jusqu",	"jusque",   "la",      "le",	  "les",      "leur",
    "leurs",	"lors",	   "lorsqu",	"lorsque",  "lui",     "ma",	  "mais",     "me",
    "meme",	"memes",   "mes",	"moi",	    "moins",   "mon",	  "ne",	      "ni",
    "non",	"nos",	   "notre",	"nous",	    "on",      "ont",	  "ou",	      "oui",
    "par",	"parce",   "pas",	"pendant",  "peu",     "plus",	  "plutot",   "pour",
    "pourquoi", "puis",	   "puisqu",	"puisque",  "qu",      "quand",	  "que",      "quel",
    "quelle",	"quelles", "quels",	"qui",	    "quoi",    "sa",	  "sans",     "se",
    "selon",	"sera",	   "serai",	"seraient", "serais",  "serait",  "seras",    "serez",
    "seriez",	"serions", "serons",	"seront",   "ses",     "si",	  "sien",     "sienne",
    "soi",	"soient",  "sois",	"soit",	    "sommes",  "son",	  "sont",     "sous",
    "soyez",	"soyons",  "suis",	"sur",	    "ta",      "tandis",  "tant",     "te",
    "tel",	"telle",   "telles",	"tels",	    "tes",     "toi",	  "ton",      "tous",
    "tout",	"toute",   "toutes",	"tres",	    "trop",    "tu",	  "un",	      "une",
    "unes",	"uns",	   "vers",	"via",	    "voici",   "voila",	  "vos",      "votre",
    "vous",	"vu",
};

/* Elided words (before an apostrophe): dropped with the apostrophe. Those of one letter ("l'",
 * "d'"), a bit each; the longer ones end in "qu" (an elided "que"), sorted (bsearch). */
#define LETTER_BIT(c) (1u << ((c) - 'a'))
static const uint32_t elided_letters = LETTER_BIT('c') | LETTER_BIT('d') | LETTER_BIT('j') |
				       LETTER_BIT('l') | LETTER_BIT('m') | LETTER_BIT('n') |
				       LETTER_BIT('s') | LETTER_BIT('t');
#undef LETTER_BIT
static const char *const elisions[] = {"jusqu", "lorsqu", "presqu", "puisqu",
				       "qu",	"quelqu", "quoiqu"};

struct word {
	const char *w;
	size_t len;
};

static int word_cmp(const void *key, const void *elem)
{
	const struct word *k = key;
	const char *e = *(const char *const *)elem;
	size_t el = strlen(e);
	int c = memcmp(k->w, e, k->len < el ? k->len : el);
	if (c)
		return c;
	return k->len < el ? -1 : k->len > el;
}

static bool in_list(const char *const *list, size_t n, const char *w, size_t len)
{
	struct word k = {w, len};
	return bsearch(&k, list, n, sizeof(*list), word_cmp) != NULL;
}

bool text_is_stopword(const char *w, size_t len)
{
	return in_list(stopwords, ARRAY_SIZE(stopwords), w, len);
}

/* True when the folded word w[0..len) is elided before an apostrophe: a letter is looked up in
 * its bit, and only a word ending in "qu" in the list. */
static bool is_elision(const char *w, size_t len)
{
	if (len == 1)
		return w[0] >= 'a' && w[0] <= 'z' && (elided_letters >> (w[0] - 'a') & 1u);
	return len >= 2 && w[len - 2] == 'q' && w[len - 1] == 'u' &&
	       in_list(elisions, ARRAY_SIZE(elisions), w, len);
}

/* Stop words with a meaning of their own, which the full-text index keeps: negation, quantity,
 * comparison, time and place. An analyst may search for them ("non", "sans", "plus", "avant",
 * "depuis", "entre"), and they begin compounds ("non-prolifération", "sans-papiers",
 * "après-guerre", "avant-garde") whose phrases would otherwise lose them. Sorted (bsearch). */
static const char *const stop_searchable[] = {
    "apres",  "aucun", "aucune", "aujourd", "aupres", "avant", "bien", "depuis",
    "encore", "entre", "fait",	 "fois",    "moins",  "non",   "oui",  "pendant",
    "peu",    "plus",  "sans",	 "selon",   "sous",   "tres",  "trop", "vers",
};

static bool sorted(const char *const *list, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (strcmp(list[i - 1], list[i]) >= 0)
			return false;
	return true;
}

bool text_lists_sorted(void)
{
	return sorted(stopwords, ARRAY_SIZE(stopwords)) && sorted(elisions, ARRAY_SIZE(elisions)) &&
	       sorted(stop_searchable, ARRAY_SIZE(stop_searchable));
}

void text_function_words(void (*cb)(void *ctx, const char *w), void *ctx)
{
	for (size_t i = 0; i < ARRAY_SIZE(stopwords); i++)
		if (!in_list(stop_searchable, ARRAY_SIZE(stop_searchable), stopwords[i],
			     strlen(stopwords[i])))
			cb(ctx, stopwords[i]);
	for (size_t i = 0; i < ARRAY_SIZE(elisions); i++)
		if (!text_is_stopword(elisions[i], strlen(elisions[i])))
			cb(ctx, elisions[i]);
}

struct text_stemmer {
	struct sb_stemmer *sb;
};

struct text_stemmer *text_stemmer_new(void)
{
	struct sb_stemmer *sb = sb_stemmer_new("french", "UTF_8");
	if (!sb)
		return NULL;
	struct text_stemmer *st = xcalloc(1, sizeof(*st));
	st->sb = sb;
	return st;
}

void text_stemmer_free(struct text_stemmer *st)
{
	if (!st)
		return;
	sb_stemmer_delete(st->sb);
	free(st);
}

static _Thread_local struct text_stemmer *thread_stemmer;

static void stemmer_free_cb(void *st)
{
	text_stemmer_free(st);
}

static struct thread_slot stemmer_slot = THREAD_SLOT(stemmer_free_cb);

struct text_stemmer *text_stemmer_thread(void)
{
	if (thread_stemmer)
		return thread_stemmer;
	struct text_stemmer *st = text_stemmer_new();
	if (st && !thread_slot_keep(&stemmer_slot, st)) {
		text_stemmer_free(st);
		return NULL;
	}
	return thread_stemmer = st;
}

static uint32_t hash_word(const char *s, size_t n)
{
	return (uint32_t)hash_bytes(s, n);
}

/*
 * What tok_emit learns of a word that does not depend on the alias table: whether it is a stop
 * word, and its Snowball stem. Stemming was most of a cold cycle's scoring, and news repeats
 * its words: each thread keeps the answers for the last few thousand distinct words (stemmers
 * are per call, the words are not). Open addressing; the keys and stems live in one arena;
 * everything is forgotten at once when it is full. Freed when the thread exits.
 */
#define STEM_BITS	14
#define STEM_SLOTS	(1u << STEM_BITS) /* at most half of them used */
#define STEM_ENTRIES	(STEM_SLOTS / 2)
#define STEM_ARENA	(STEM_ENTRIES * 32u)
#define NORM_KEEP_BYTES (256u << 10) /* a longer tokens_impl buffer is not kept */

struct stem_slot {
	uint64_t head;	 /* stem_head of the word: the whole word for most, compared at once */
	uint32_t off;	 /* of the word in the arena; its stem follows it, NUL-terminated (handed
			    to the callback from there), then the stem's hash_bytes (8 bytes,
			    unaligned), then no_alias (4 bytes, unaligned: the generation of an
			    alias table that has no entry for the word, 0 for none known) */
	uint8_t len;	 /* of the word, 0 = empty slot */
	uint8_t stemlen; /* of the stem */
	bool stop;	 /* a stop word (no stem) */
};

struct stem_cache {
	/* First: sixteen-byte slots at a multiple of sixteen (malloc's alignment), none across
	 * two cache lines. */
	struct stem_slot slot[STEM_SLOTS];
	struct buf norm; /* tokens_impl's buffer, kept between calls (empty while lent) */
	size_t n;
	size_t used;		    /* arena bytes */
	char arena[STEM_ARENA + 8]; /* same_bytes reads up to 7 bytes past a word */
};

static _Thread_local struct stem_cache *stem_cache;

static void stem_cache_free_cb(void *arg)
{
	struct stem_cache *c = arg;
	buf_free(&c->norm);
	free(c);
}

static struct thread_slot stem_slot = THREAD_SLOT(stem_cache_free_cb);

/* The calling thread's cache, or NULL when it cannot keep one (every word is then stemmed:
 * correct, slower). */
static struct stem_cache *stem_cache_get(void)
{
	if (stem_cache)
		return stem_cache;
	struct stem_cache *c = xcalloc(1, sizeof(*c));
	if (!thread_slot_keep(&stem_slot, c)) {
		free(c);
		return NULL;
	}
	return stem_cache = c;
}

/* True when a[0..n) and b[0..n) are the same bytes, compared eight at a time: both buffers must
 * be readable up to 7 bytes past n (tok and the stem arena have the room). */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
	size_t i = 0;
	uint64_t x, y;
	for (; i + 8 <= n; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return false;
	}
	if (i == n)
		return true;
	x = load8_le(a + i) ^ load8_le(b + i);
	return !(x << (64 - 8 * (n - i))); /* the n - i bytes that count: the low ones */
}

/* The first eight bytes of the word w[0..len) (1 <= len; w readable up to 8 bytes past its
 * start) as load8_le reads them, the bytes past a shorter word zero: a word of at most eight
 * bytes (most of them) is its head, and its length (the head has as many bytes that are not
 * zero: no character's encoding has one). */
static inline uint64_t stem_head(const char *w, size_t len)
{
	uint64_t x = load8_le(w);
	return len >= 8 ? x : x & (~0ull >> (64 - 8 * len));
}

/* The slot of w[0..len) (hash h, head stem_head(w, len)): the word's, or the empty one where it
 * would go. w must be readable up to 7 bytes past len. */
static inline struct stem_slot *stem_find(struct stem_cache *c, const char *w, size_t len,
					  uint32_t h, uint64_t head)
{
	/* The high bits of h: they depend on every byte of a word stem_hash multiplies. */
	uint32_t i = h >> (32 - STEM_BITS);
	if (len <= 8) { /* the head is the whole word: a loop of its own, without the arena */
		for (;; i = (i + 1) & (STEM_SLOTS - 1)) {
			struct stem_slot *e = &c->slot[i];
			if (!e->len || (e->head == head && e->len == len))
				return e;
		}
	}
	for (;; i = (i + 1) & (STEM_SLOTS - 1)) {
		struct stem_slot *e = &c->slot[i];
		if (!e->len || (e->head == head && e->len == len &&
				same_bytes(c->arena + e->off + 8, w + 8, len - 8)))
			return e;
	}
}

/* The hash of the word w[0..len) (head stem_head(w, len)) in the stem cache, which keeps it to
 * itself: a word of at most eight bytes (most of them) is one multiplication of its head, one
 * of up to sixteen (most of the others) one more load (its last eight bytes) and two
 * multiplications, hash_bytes hashes the longer ones. */
static inline uint32_t stem_hash(const char *w, size_t len, uint64_t head)
{
	if (len > 16)
		return (uint32_t)hash_bytes(w, len);
	uint64_t x = head;
	if (len > 8)
		x ^= load8_le(w + len - 8) * 0xC2B2AE3D27D4EB4Full;
	return (uint32_t)(x * 0x9E3779B97F4A7C15ull >> 32);
}

/* Where the arena keeps the stem of the word in slot e (NUL-terminated); its hash_bytes and
 * no_alias follow it. */
static inline const char *stem_of(const struct stem_cache *c, const struct stem_slot *e)
{
	return c->arena + e->off + e->len;
}

static inline uint64_t stem_stemhash(const struct stem_cache *c, const struct stem_slot *e)
{
	uint64_t sh;
	memcpy(&sh, stem_of(c, e) + e->stemlen + 1, 8);
	return sh;
}

static inline uint32_t stem_no_alias(const struct stem_cache *c, const struct stem_slot *e)
{
	uint32_t gen;
	memcpy(&gen, stem_of(c, e) + e->stemlen + 9, 4);
	return gen;
}

/* Records the word w (hash h, head stem_head(w, len)) and its stem (or that it is a stop word)
 * in the empty slot e; stemhash is hash_bytes of the stem. */
static void stem_put(struct stem_cache *c, struct stem_slot *e, const char *w, size_t len,
		     uint32_t h, uint64_t head, bool stop, const char *stem, size_t stemlen,
		     uint64_t stemhash)
{
	if (len > UINT8_MAX || stemlen > UINT8_MAX)
		return;
	if (c->n == STEM_ENTRIES || c->used + len + stemlen + 13 > STEM_ARENA) {
		memset(c->slot, 0, sizeof(c->slot));
		c->n = c->used = 0;
		e = stem_find(c, w, len, h, head);
	}
	e->head = head;
	e->off = (uint32_t)c->used;
	e->len = (uint8_t)len;
	e->stemlen = (uint8_t)stemlen;
	e->stop = stop;
	char *p = c->arena + c->used;
	uint32_t no_alias = 0;
	memcpy(p, w, len);
	memcpy(p + len, stem, stemlen);
	p[len + stemlen] = '\0';
	memcpy(p + len + stemlen + 1, &stemhash, 8);
	memcpy(p + len + stemlen + 9, &no_alias, 4);
	c->used += len + stemlen + 13;
	c->n++;
}

/* Aliases: a sorted array of (variant, canonical) pairs; the strings live in one arena. */
struct alias {
	char *variant;
	const char *canonical;
};

struct alias_slot {
	uint32_t index; /* 1 + index in v, 0 = empty */
	uint32_t hash;	/* hash_word of its variant: most probes end without a string compare */
};

struct text_aliases {
	uint32_t gen; /* distinct for every table parsed (never 0): see stem_slot.no_alias */
	struct alias *v;
	size_t n, cap;
	struct alias_slot *slots; /* hash index of v; nslots a power of two */
	size_t nslots;
	char **words; /* every allocated string, for freeing */
	size_t nwords, capwords;
};

static char *aliases_keep(struct text_aliases *al, char *s)
{
	if (al->nwords == al->capwords) {
		al->capwords = al->capwords ? 2 * al->capwords : 32;
		al->words = xreallocarray(al->words, al->capwords, sizeof(*al->words));
	}
	al->words[al->nwords++] = s;
	return s;
}

void text_aliases_free(struct text_aliases *al)
{
	if (!al)
		return;
	for (size_t i = 0; i < al->nwords; i++)
		free(al->words[i]);
	free(al->words);
	free(al->v);
	free(al->slots);
	free(al);
}

static int alias_cmp(const void *a, const void *b)
{
	const struct alias *x = a, *y = b;
	return strcmp(x->variant, y->variant);
}

/* Folds one word of the alias file; NULL (and *why) when it is not a single word. */
static char *alias_word(const char *s, size_t len, const char **why)
{
	char *f = text_fold(s, len);
	if (!*f) {
		*why = "empty word";
		goto fail;
	}
	for (const unsigned char *p = (const unsigned char *)f; *p; p++) {
		if (*p == ' ' || *p == '\'' || *p == '-') {
			*why = "a variant must be one word (no space, apostrophe or hyphen)";
			goto fail;
		}
	}
	if (strlen(f) >= TEXT_MAX_TOKEN) {
		*why = "word too long";
		goto fail;
	}
	return f;
fail:
	free(f);
	return NULL;
}

static void trim(const char **b, const char **e)
{
	while (*b < *e && (**b == ' ' || **b == '\t' || **b == '\r'))
		(*b)++;
	while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
		(*e)--;
}

struct text_aliases *text_aliases_parse(const char *name, const char *data, size_t len,
					char **ret_err)
{
	static _Atomic uint32_t last_gen;
	struct text_aliases *al = xcalloc(1, sizeof(*al));
	al->gen = atomic_fetch_add(&last_gen, 1) + 1;
	if (!al->gen) /* after 2^32 tables */
		al->gen = atomic_fetch_add(&last_gen, 1) + 1;
	const char *why = NULL;
	size_t lineno = 0;
	const char *p = data, *end = data + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		lineno++;
		const char *b = p, *e = eol;
		p = eol < end ? eol + 1 : end;
		const char *hash = memchr(b, '#', (size_t)(e - b));
		if (hash)
			e = hash;
		trim(&b, &e);
		if (b == e)
			continue;
		const char *eq = memchr(b, '=', (size_t)(e - b));
		if (!eq) {
			why = "expected \"canonical = variant, variant, ...\"";
			goto fail;
		}
		const char *cb = b, *ce = eq;
		trim(&cb, &ce);
		char *canon = alias_word(cb, (size_t)(ce - cb), &why);
		if (!canon)
			goto fail;
		aliases_keep(al, canon);
		/* The canonical form maps to itself, then each variant to it. */
		const char *q = cb;
		const char *qe = ce;
		bool first = true;
		const char *v = eq + 1;
		for (;;) {
			const char *vb, *ve;
			if (first) {
				vb = q;
				ve = qe;
			} else {
				if (v > e)
					break;
				const char *comma = memchr(v, ',', (size_t)(e - v));
				vb = v;
				ve = comma ? comma : e;
				v = ve + 1;
				trim(&vb, &ve);
				if (vb == ve) {
					if (comma)
						continue;
					break;
				}
			}
			char *var = alias_word(vb, (size_t)(ve - vb), &why);
			if (!var)
				goto fail;
			for (size_t i = 0; i < al->n; i++) {
				if (!strcmp(al->v[i].variant, var) &&
				    strcmp(al->v[i].canonical, canon)) {
					free(var);
					why = "variant already maps to another canonical form";
					goto fail;
				}
			}
			if (al->n == al->cap) {
				al->cap = al->cap ? 2 * al->cap : 64;
				al->v = xreallocarray(al->v, al->cap, sizeof(*al->v));
			}
			al->v[al->n].variant = aliases_keep(al, var);
			al->v[al->n].canonical = canon;
			al->n++;
			first = false;
		}
	}
	qsort(al->v, al->n, sizeof(*al->v), alias_cmp);
	/* Looked up for every word scored: a hash index, at most half full. */
	al->nslots = 16;
	while (al->nslots < 2 * al->n)
		al->nslots *= 2;
	al->slots = xcalloc(al->nslots, sizeof(*al->slots));
	for (size_t i = 0; i < al->n; i++) {
		const char *w = al->v[i].variant;
		uint32_t h = hash_word(w, strlen(w));
		size_t j = h & (al->nslots - 1);
		while (al->slots[j].index)
			j = (j + 1) & (al->nslots - 1);
		al->slots[j] = (struct alias_slot){(uint32_t)(i + 1), h};
	}
	return al;
fail:
	if (ret_err)
		*ret_err = xasprintf("%s:%zu: %s", name, lineno, why);
	text_aliases_free(al);
	return NULL;
}

struct text_aliases *text_aliases_load(const char *path, char **ret_err)
{
	char *data = NULL;
	size_t len = 0;
	int r = read_file(path, 1u << 20, &data, &len);
	if (r < 0) {
		if (ret_err)
			*ret_err = xasprintf("%s: %s", path, strerror(-r));
		return NULL;
	}
	struct text_aliases *al = text_aliases_parse(path, data, len, ret_err);
	free(data);
	return al;
}

/* text_alias, with h = hash_word(w, len) already known. */
static const char *alias_find(const struct text_aliases *al, const char *w, size_t len, uint32_t h)
{
	if (!al || !al->n)
		return NULL;
	for (size_t j = h & (al->nslots - 1); al->slots[j].index; j = (j + 1) & (al->nslots - 1)) {
		const struct alias *a = &al->v[al->slots[j].index - 1];
		if (al->slots[j].hash == h && !strncmp(a->variant, w, len) && !a->variant[len])
			return a->canonical;
	}
	return NULL;
}

const char *text_alias(const struct text_aliases *al, const char *w, size_t len)
{
	return al && al->n ? alias_find(al, w, len, hash_word(w, len)) : NULL;
}

/* The state of one tokenisation. */
struct tokenizer {
	struct text_stemmer *st;
	const struct text_aliases *al;
	text_token_cb cb;		/* one of the two is set */
	text_token_hashed_cb hashed_cb; /* wants hash_bytes of each token too */
	void *arg;
	/* Room for sixteen bytes past TEXT_MAX_TOKEN: tokens_impl stores a run's bytes sixteen or
	 * eight at a time, what lies past the run being overwritten or never read. */
	char tok[TEXT_MAX_TOKEN + 16];
	size_t len;	/* bytes in tok */
	size_t nchars;	/* code points in tok */
	bool digit;	/* tok holds a digit; tokens_impl's loop over ASCII runs leaves the
			   ASCII ones to tok_emit_slow */
	bool toolong;	/* tok overflowed: dropped */
	unsigned flags; /* of tok */
	size_t count;
	struct stem_cache *cache; /* the thread's (stem_cache_get), NULL when it has none */
	uint32_t alias_gen;	  /* al's generation, 0 when al is NULL or empty */
};

/* Stems tz->tok in place with Snowball French; unchanged when the stemmer fails. */
static void tok_stem(struct tokenizer *tz)
{
	const sb_symbol *s = sb_stemmer_stem(tz->st->sb, (const sb_symbol *)tz->tok, (int)tz->len);
	int n = sb_stemmer_length(tz->st->sb);
	if (s && n > 0 && (size_t)n < TEXT_MAX_TOKEN + 8) {
		memcpy(tz->tok, s, (size_t)n);
		tz->len = (size_t)n;
		tz->tok[n] = '\0';
	}
}

/* Hands the token tok[0..len) to the callback; hash is its hash_bytes when have_hash. */
static inline void tok_out(struct tokenizer *tz, const char *tok, size_t len, uint64_t hash,
			   bool have_hash)
{
	if (!tz->hashed_cb) {
		tz->cb(tok, len, tz->count++, tz->flags, tz->arg);
		return;
	}
	if (!have_hash)
		hash = hash_bytes(tok, len);
	tz->hashed_cb(tok, len, hash, tz->count++, tz->flags, tz->arg);
}

/* True when w[0..len) holds an ASCII digit. */
static bool memchr_digit(const char *w, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (w[i] >= '0' && w[i] <= '9')
			return true;
	return false;
}

/* tok_emit for the token that stem_find put in slot e (NULL: no cache) with hash h, unless
 * known and done inline: a stop word, an alias, a word met for the first time. */
static __attribute__((noinline)) void tok_emit_slow(struct tokenizer *tz, struct stem_slot *e,
						    uint32_t h, uint64_t head)
{
	tz->tok[tz->len] = '\0'; /* tok_emit handed on a known stem without it */
	struct stem_cache *c = tz->cache;
	bool known = e && e->len;
	/* A word holding an ASCII digit is dropped, and not kept in the cache: numbers, most of
	 * them met once, filled it (and had it forget every word) far more often than words. */
	if (!known && memchr_digit(tz->tok, tz->len))
		return;
	if (known ? e->stop : text_is_stopword(tz->tok, tz->len)) {
		if (e && !known)
			stem_put(c, e, tz->tok, tz->len, h, head, true, "", 0, 0);
		return;
	}
	/* Most words have no alias, and the cache remembers it for the table it looked in. */
	const char *canon = NULL;
	const struct text_aliases *al = tz->al;
	if (al && al->n && !(known && stem_no_alias(c, e) == al->gen)) {
		canon = alias_find(al, tz->tok, tz->len, hash_word(tz->tok, tz->len));
		if (!canon && known) /* the arena's copy: stem_no_alias reads it */
			memcpy(c->arena + e->off + e->len + e->stemlen + 9, &al->gen, 4);
	}
	if (canon) {
		tok_out(tz, canon, strlen(canon), 0, false);
		return;
	}
	if (tz->st && known) {
		tok_out(tz, stem_of(c, e), e->stemlen, stem_stemhash(c, e), true);
		return;
	}
	if (tz->st) {
		char word[sizeof(tz->tok)];
		size_t wlen = tz->len;
		memcpy(word, tz->tok, wlen);
		tok_stem(tz);
		uint64_t sh = hash_bytes(tz->tok, tz->len);
		if (e)
			stem_put(c, e, word, wlen, h, head, false, tz->tok, tz->len, sh);
		tok_out(tz, tz->tok, tz->len, sh, true);
		return;
	}
	tok_out(tz, tz->tok, tz->len, 0, false);
}

/* Hands the token in tz->tok to the callback, as its stem or alias, unless it is to be dropped.
 * Most tokens are words the stem cache knows, neither stop words nor aliases: those are handed
 * on here, inline in the tokeniser's loop; tok_emit_slow does the rest. */
static inline void tok_emit(struct tokenizer *tz)
{
	if (!tz->len || tz->digit || tz->toolong || tz->nchars < 2)
		return;
	struct stem_cache *c = tz->cache;
	uint64_t head = stem_head(tz->tok, tz->len);
	uint32_t h = stem_hash(tz->tok, tz->len, head);
	struct stem_slot *e = c ? stem_find(c, tz->tok, tz->len, h, head) : NULL;
	if (e && e->len) {
		if (e->stop)
			return;
		if (tz->st && (!tz->alias_gen || stem_no_alias(c, e) == tz->alias_gen)) {
			/* The stem as the cache holds it: no copy. */
			tok_out(tz, stem_of(c, e), e->stemlen, stem_stemhash(c, e), true);
			return;
		}
	}
	tok_emit_slow(tz, e, h, head);
}

static void tok_reset(struct tokenizer *tz)
{
	tz->len = 0;
	tz->nchars = 0;
	tz->digit = false;
	tz->toolong = false;
	tz->flags = 0;
}

/* What a separator does to the tokens around it (token_break). */
enum {
	BREAK_APOSTROPHE = 1, /* ends an elided word ("l'") */
	BREAK_HYPHEN = 2,     /* joins the parts of a compound */
	BREAK_SENTENCE = 4,   /* the next word starts a sentence */
};

/* The ASCII bytes in one lookup (tokens_impl's loop over ASCII text): TOK_ALNUM for a letter or a
 * digit, TOK_SEP for any other, with its BREAK_ classes in the low bits as break_class gives them
 * (is_apostrophe, is_hyphen, is_sentence_break below; one lookup instead of three chains of
 * compares); 0 for the bytes of other characters. */
#define TOK_SEP	  0x08u
#define TOK_ALNUM 0x10u
#define A	  TOK_ALNUM
#define S	  TOK_SEP
#define BA	  BREAK_APOSTROPHE
#define BH	  BREAK_HYPHEN
#define BS	  BREAK_SENTENCE
/* clang-format off */
static const uint8_t tok_class[256] = {
    S, S, S, S, S, S, S, S, S, S, S|BS, S, S, S, S, S, /* 0x00 */
    S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, /* 0x10 */
    S, S|BS, S|BS, S, S, S, S, S|BA, S|BS, S, S, S, S, S|BH, S|BS, S, /* 0x20 */
    A, A, A, A, A, A, A, A, A, A, S|BS, S, S, S, S, S|BS, /* 0x30 */
    S, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, /* 0x40 */
    A, A, A, A, A, A, A, A, A, A, A, S|BS, S, S, S, S, /* 0x50 */
    S|BA, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, /* 0x60 */
    A, A, A, A, A, A, A, A, A, A, A, S, S, S, S, S, /* 0x70 */
};
/* clang-format on */
#undef A
#undef S
#undef BA
#undef BH
#undef BS

static bool is_apostrophe(utf8proc_int32_t cp)
{
	return cp == '\'' || cp == 0x2019 || cp == 0x02BC || cp == 0x2018 || cp == 0x00B4 ||
	       cp == 0x0060;
}

/* Characters after which the next word starts a sentence. */
static bool is_sentence_break(utf8proc_int32_t cp)
{
	return cp == '.' || cp == '!' || cp == '?' || cp == ':' || cp == '\n' || cp == '"' ||
	       cp == 0x00AB || cp == 0x201C || cp == 0x2026 || cp == 0x2014 || cp == '[' ||
	       cp == '(';
}

/* Hyphens that join the parts of a compound word. */
static bool is_hyphen(utf8proc_int32_t cp)
{
	return cp == '-' || cp == 0x2010 || cp == 0x2011;
}

/* True when s[0..n) starts with a letter. */
static bool letter_at(const utf8proc_uint8_t *s, utf8proc_ssize_t n)
{
	utf8proc_int32_t cp;
	if (n <= 0 || utf8proc_iterate(s, n, &cp) <= 0)
		return false;
	utf8proc_category_t cat = utf8proc_category(cp);
	return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}

static void tok_add(struct tokenizer *tz, const char *s, size_t n)
{
	if (tz->len + n > TEXT_MAX_TOKEN) {
		tz->toolong = true;
		return;
	}
	memcpy(tz->tok + tz->len, s, n);
	tz->len += n;
}

/* The BREAK_ classes of the separator cp. */
static unsigned break_class(utf8proc_int32_t cp)
{
	return (is_apostrophe(cp) ? BREAK_APOSTROPHE : 0) | (is_hyphen(cp) ? BREAK_HYPHEN : 0) |
	       (is_sentence_break(cp) ? BREAK_SENTENCE : 0);
}

/* A separator of classes cls (rest[0..left) follows it) ends the token open, if any: emitted, or
 * dropped when it is an elided article. joined and initial carry the marks of the next token. */
static inline void token_break(struct tokenizer *tz, unsigned cls, const utf8proc_uint8_t *rest,
			       utf8proc_ssize_t left, bool *joined, bool *initial)
{
	if (tz->len || tz->toolong) {
		if ((cls & BREAK_APOSTROPHE) && !tz->toolong && is_elision(tz->tok, tz->len)) {
			/* "l'Ukraine": drop the article, keep the sentence position. */
			tok_reset(tz);
			return;
		}
		/* "porte-parole": both parts are marked, the second when it starts. */
		*joined = (cls & BREAK_HYPHEN) && letter_at(rest, left);
		if (*joined)
			tz->flags |= TEXT_TOKEN_JOINED;
		tok_emit(tz);
		tok_reset(tz);
		*initial = false;
	} else {
		*joined = false;
	}
	if (cls & BREAK_SENTENCE)
		*initial = true;
}

static size_t tokens_impl(struct text_stemmer *st, const struct text_aliases *al, const char *s,
			  size_t len, text_token_cb cb, text_token_hashed_cb hashed_cb, void *arg,
			  bool reference)
{
	if (!s || !len || (!cb && !hashed_cb))
		return 0;
	/* The thread's buffer, taken (a nested call finds it empty) and given back at the end:
	 * one allocation per thread rather than one per call. */
	struct stem_cache *keep = stem_cache_get();
	struct tokenizer tz = {.st = st,
			       .al = al,
			       .cb = cb,
			       .hashed_cb = hashed_cb,
			       .arg = arg,
			       .cache = keep,
			       .alias_gen = al && al->n ? al->gen : 0};
	struct buf norm = {0};
	if (keep) {
		norm = keep->norm;
		keep->norm = (struct buf){0};
		buf_reset(&norm);
	}
	if (normalise(s, len, TOKEN_OPTIONS, reference, &norm) < 0) {
		/* Invalid UTF-8: keep the valid characters only, as text_fold does. */
		struct buf clean = {0};
		valid_chars(s, len, &clean);
		size_t r = clean.len ? tokens_impl(st, al, clean.p, clean.len, cb, hashed_cb, arg,
						   reference)
				     : 0;
		buf_free(&clean);
		buf_free(&norm);
		return r;
	}
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)norm.p;
	size_t n = norm.len;
	bool initial = true, joined = false;
	for (size_t i = 0; i < n;) {
		if (!reference && (tok_class[p[i]] & TOK_ALNUM)) {
			for (;;) {
				/* A run of ASCII letters and digits, in local variables: what the
				 * code below does one character at a time (and still does for the
				 * reference), for most of the bytes of French text once normalised.
				 * Only its first character may start the token. */
				if (!tz.len && !tz.toolong) {
					if (p[i] >= 'A' && p[i] <= 'Z')
						tz.flags |= TEXT_TOKEN_CAPITAL;
					if (initial)
						tz.flags |= TEXT_TOKEN_INITIAL;
					if (joined)
						tz.flags |= TEXT_TOKEN_JOINED;
				}
				size_t tlen = tz.len, nchars = tz.nchars;
				bool toolong = tz.toolong, ended = false;
#ifdef SWAR_SSE2
				/* Sixteen bytes at a time while they last, as the eight below:
				 * most words end in the first sixteen. */
				while (i + 16 <= n) {
					__m128i x = load16(p + i);
					__m128i lc = _mm_or_si128(x, _mm_set1_epi8(0x20));
					unsigned letter =
					    below16(_mm_sub_epi8(lc, _mm_set1_epi8('a')), 26);
					unsigned dig =
					    below16(_mm_sub_epi8(x, _mm_set1_epi8('0')), 10);
					/* ~run has bits 16 and up set: k is at most 16. */
					unsigned run = letter | dig;
					size_t k = first_bit(~run);
					/* A letter or a digit with 0x20 set is itself in
					 * lower case: the run's bytes in lc are. */
					_mm_storeu_si128((__m128i *)(void *)(tz.tok + tlen), lc);
					if (tlen + k <= TEXT_MAX_TOKEN) {
						tlen += k;
					} else {
						tlen = TEXT_MAX_TOKEN;
						toolong = true;
					}
					i += k;
					nchars += k;
					if (k < 16) {
						ended = true;
						break;
					}
				}
#endif
				/* Eight bytes at a time while they last: the run's bytes are
				 * lower-cased and copied at once (tok has room for eight past
				 * TEXT_MAX_TOKEN; what lies past the run is overwritten or never
				 * read). */
				while (!ended && i + 8 <= n) {
					uint64_t x;
					memcpy(&x, p + i, 8);
					uint64_t m = not_alnum8(load8_le(&x));
					size_t k = m ? first_flagged(m) : 8;
					/* Lower case, as above. */
					x |= 0x2020202020202020ull;
					memcpy(tz.tok + tlen, &x, 8);
					if (tlen + k <= TEXT_MAX_TOKEN) {
						tlen += k;
					} else {
						tlen = TEXT_MAX_TOKEN;
						toolong = true;
					}
					i += k;
					nchars += k;
					if (k < 8) {
						ended = true;
						break;
					}
				}
				while (!ended && i < n) {
					unsigned char c = p[i];
					if (c >= 'A' && c <= 'Z')
						c = (unsigned char)(c - 'A' + 'a');
					else if (!(tok_class[c] & TOK_ALNUM))
						break;
					if (tlen < TEXT_MAX_TOKEN) /* tok_add of one byte */
						tz.tok[tlen++] = (char)c;
					else
						toolong = true;
					i++;
					nchars++;
				}
				tz.len = tlen;
				tz.nchars = nchars;
				/* Stored only when set: tok_emit reads digit and toolong as one
				 * two-byte word, which a one-byte store just before it cannot be
				 * forwarded to (a stall for every token). */
				if (toolong)
					tz.toolong = true;
				unsigned cl;
				if (i == n || !((cl = tok_class[p[i]]) & TOK_SEP))
					break;
				/* Most words end at a separator of no break class (a space, a
				 * comma): token_break for a class known here, and the same ones
				 * that follow skipped, as they change nothing. */
				if (cl == TOK_SEP) {
					i++;
					token_break(&tz, 0, p + i, (utf8proc_ssize_t)(n - i),
						    &joined, &initial);
					while (i < n && (cl = tok_class[p[i]]) == TOK_SEP)
						i++;
					if (i < n && (cl & TOK_ALNUM))
						continue;
					if (i == n || !(cl & TOK_SEP))
						break;
				}
				/* ASCII separators, as below, up to the next word: no return to the
				 * top of the loop between the words of a sentence. */
				do {
					i++;
					token_break(&tz, cl & 7u, p + i, (utf8proc_ssize_t)(n - i),
						    &joined, &initial);
				} while (i < n && ((cl = tok_class[p[i]]) & TOK_SEP));
				if (i == n || !(cl & TOK_ALNUM))
					break;
			}
			continue;
		}
		if (!reference && p[i] < 0x80) {
			/* Any other ASCII character (white space, punctuation, a symbol): what the
			 * code below does for one, without looking up its category. */
			unsigned char c = p[i++];
			token_break(&tz, tok_class[c] & 7u, p + i, (utf8proc_ssize_t)(n - i),
				    &joined, &initial);
			continue;
		}
		utf8proc_int32_t cp;
		i += next_char(p + i, n - i, &cp);
		utf8proc_category_t cat;
		if (cp <
		    0x80) /* every other ASCII character is punctuation, a symbol or a control */
			cat = cp >= 'a' && cp <= 'z'   ? UTF8PROC_CATEGORY_LL
			      : cp >= 'A' && cp <= 'Z' ? UTF8PROC_CATEGORY_LU
			      : cp >= '0' && cp <= '9' ? UTF8PROC_CATEGORY_ND
						       : UTF8PROC_CATEGORY_PO;
		else
			cat = utf8proc_category(cp);
		bool letter = cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
		bool digit = cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO;
		if (letter || digit) {
			if (!tz.len && !tz.toolong) {
				if (cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LT)
					tz.flags |= TEXT_TOKEN_CAPITAL;
				if (initial)
					tz.flags |= TEXT_TOKEN_INITIAL;
				if (joined)
					tz.flags |= TEXT_TOKEN_JOINED;
			}
			if (digit)
				tz.digit = true;
			if (cp < 0x80) {
				char c = (char)(cat == UTF8PROC_CATEGORY_LU ? cp - 'A' + 'a' : cp);
				tok_add(&tz, &c, 1);
				tz.nchars++;
				continue;
			}
			utf8proc_int32_t lc = utf8proc_tolower(cp);
			if (lc == 0x0153) { /* œ: "manœuvre" and "manoeuvre" alike */
				tok_add(&tz, "oe", 2);
			} else if (lc == 0x00E6) {
				tok_add(&tz, "ae", 2);
			} else {
				utf8proc_uint8_t enc[4];
				utf8proc_ssize_t e = utf8proc_encode_char(lc, enc);
				tok_add(&tz, (const char *)enc, (size_t)e);
			}
			tz.nchars++;
			continue;
		}
		if (cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC ||
		    cat == UTF8PROC_CATEGORY_ME)
			continue; /* a mark left inside a word */
		token_break(&tz, break_class(cp), p + i, (utf8proc_ssize_t)(n - i), &joined,
			    &initial);
	}
	if (tz.len)
		tok_emit(&tz);
	if (keep && !keep->norm.p && norm.cap <= NORM_KEEP_BYTES)
		keep->norm = norm;
	else
		buf_free(&norm);
	return tz.count;
}

size_t text_tokens(struct text_stemmer *st, const struct text_aliases *al, const char *s,
		   size_t len, text_token_cb cb, void *arg)
{
	return tokens_impl(st, al, s, len, cb, NULL, arg, false);
}

size_t text_tokens_hashed(struct text_stemmer *st, const struct text_aliases *al, const char *s,
			  size_t len, text_token_hashed_cb cb, void *arg)
{
	return tokens_impl(st, al, s, len, NULL, cb, arg, false);
}

size_t text_tokens_reference(struct text_stemmer *st, const struct text_aliases *al, const char *s,
			     size_t len, text_token_cb cb, void *arg)
{
	return tokens_impl(st, al, s, len, cb, NULL, arg, true);
}
