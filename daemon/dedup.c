/*
 * dedup.c - content hashes and canonical URLs: what makes two items the same story.
 *
 * The content hash is SHA-256 over a normalised reading of the title and the text:
 *   1. a text still holding tags or character references ("<p>", "</a>", "&amp;", "&#8217;":
 *      a feed that escaped its HTML twice; the parser already turned real markup into text)
 *      goes through html_to_text once more; in each line, a lower-case letter glued to an
 *      upper-case one ("Lire aussiKyiv craint", an HTML link flattened without a space) is
 *      split in two;
 *   2. the line is folded with text_fold (NFKC, case fold, accents stripped, white space
 *      collapsed);
 *   3. the line is reduced to its words: ASCII punctuation and the typographic marks listed in
 *      separators[] (French quotes, curly apostrophes, dashes, bullets) separate words and are
 *      otherwise dropped, so "l’armée" and "l'armee" or "frontière :" and "frontiere:" read alike;
 *   4. syndication boilerplate (the rules[] table below) is dropped;
 *   5. the remaining lines are joined with one space, so line breaks do not matter either.
 * The hash input is words(title) "\n" words(text).
 *
 * The canonical URL uses libcurl's URL parser (curl_url) rather than a hand-written one: URL
 * syntax (userinfo, IPv6 literals, percent-encoding, dot segments) is subtle and curl's parser is
 * the one fetch.c's transfers will interpret the URL with anyway, so both agree on what a URL
 * means. Only the URL API is used here; transfers stay in fetch.c. The plain URLs most feeds link
 * to, whose parts curl keeps as they are, are put together without it (canonical_plain).
 */
#include "dedup.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
/* XXH3 inlined here (the same functions, static, from the library's own header): a SimHash
 * hashes some 230 shingles of a few words per item, and the library's calls and dispatch were
 * a fifth of each hash. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "bounds.h"
#include "html.h"
#include "swar.h"
#include "text.h"
#include "util.h"

/*
 * Syndication boilerplate, written in the normalised word form of step 2 (lower case, no
 * accents, punctuation replaced by single spaces). Kept short on purpose: each entry is a phrase
 * seen in real French feeds that carries no information about the story.
 */
enum rule_kind {
	RULE_LINE,	  /* drop the line when it is exactly the phrase */
	RULE_LINE_PREFIX, /* drop the whole line when it starts with the phrase */
	RULE_PHRASE,	  /* drop the phrase wherever it stands as whole words */
	RULE_TAIL,	  /* from the phrase to the end of the line, when `marker` follows it (or
			     always, when marker is NULL) */
	RULE_MAX
};
/* Most lines hold no boilerplate, and the rules' phrase searches were a tenth of an item's cost.
 * A rule is tried on a line only when the line's first word starts its phrase (RULE_LINE,
 * RULE_LINE_PREFIX) or when the line holds, as a whole word, its `key` (RULE_PHRASE, RULE_TAIL):
 * one of the words of its phrase or marker (the rarest), without which it cannot match. */
static const struct rule {
	enum rule_kind kind;
	const char *phrase;
	const char *marker; /* RULE_TAIL only */
	const char *key;    /* RULE_PHRASE and RULE_TAIL */
} rules[] = {
    /* Cross-links to other articles, inserted between paragraphs ("Lire aussi : ...",
     * "VOIR ÉGALEMENT – ...", "À lire aussi"). */
    {RULE_LINE_PREFIX, "lire aussi", NULL, NULL},
    {RULE_LINE_PREFIX, "a lire aussi", NULL, NULL},
    {RULE_LINE_PREFIX, "lire egalement", NULL, NULL},
    {RULE_LINE_PREFIX, "a lire egalement", NULL, NULL},
    {RULE_LINE_PREFIX, "voir aussi", NULL, NULL},
    {RULE_LINE_PREFIX, "a voir aussi", NULL, NULL},
    {RULE_LINE_PREFIX, "voir egalement", NULL, NULL},
    {RULE_LINE_PREFIX, "sur le meme sujet", NULL, NULL},
    /* Share prompts (WordPress, Jetpack, press sites). */
    {RULE_LINE_PREFIX, "partager sur", NULL, NULL},
    {RULE_LINE_PREFIX, "partager cet article", NULL, NULL},
    {RULE_LINE_PREFIX, "partagez cet article", NULL, NULL},
    {RULE_LINE_PREFIX, "partager la publication", NULL, NULL},
    {RULE_LINE_PREFIX, "cliquez pour partager", NULL, NULL},
    {RULE_LINE_PREFIX, "cliquer pour partager", NULL, NULL},
    {RULE_LINE_PREFIX, "share this", NULL, NULL},
    {RULE_LINE, "partager", NULL, NULL},
    {RULE_LINE, "partagez", NULL, NULL},
    {RULE_LINE, "share", NULL, NULL},
    /* Advertising slots. */
    {RULE_LINE, "publicite", NULL, NULL},
    {RULE_LINE, "advertisement", NULL, NULL},
    /* Truncation and aggregator markers ("[ad_1]" reads "ad 1" once punctuation is gone). */
    {RULE_PHRASE, "lire la suite", NULL, "suite"},
    {RULE_PHRASE, "continuer la lecture", NULL, "continuer"},
    {RULE_PHRASE, "source link", NULL, "link"},
    {RULE_PHRASE, "ad 1", NULL, "ad"},
    {RULE_PHRASE, "ad 2", NULL, "ad"},
    {RULE_PHRASE, "ad 3", NULL, "ad"},
    /* Where the article was first printed: "Cet article est paru dans Le Monde (site web)",
     * "Cet article a été publié initialement sur ...". */
    {RULE_TAIL, "cet article est paru dans", NULL, "paru"},
    {RULE_TAIL, "cet article est paru sur", NULL, "paru"},
    {RULE_TAIL, "cet article a ete publie", NULL, "publie"},
    {RULE_TAIL, "cet article a initialement ete publie", NULL, "initialement"},
    {RULE_TAIL, "cet article a ete initialement publie", NULL, "initialement"},
    /* WordPress footers: "L'article X est apparu en premier sur Y." */
    {RULE_TAIL, "l article", "est apparu en premier sur", "apparu"},
    {RULE_TAIL, "the post", "appeared first on", "appeared"},
};

/* Non-ASCII code points that separate words like ASCII punctuation does (after NFKC, which
 * already maps the ellipsis to "..." and no-break spaces to white space). */
static const uint32_t separators[] = {
    0x00AB, /* « */ 0x00BB, /* » */ 0x00B7, /* · */ 0x2010, /* ‐ */ 0x2011, /* ‑ */
    0x2013, /* – */ 0x2014, /* — */ 0x2018, /* ‘ */ 0x2019, /* ’ */ 0x201A, /* ‚ */
    0x201C, /* “ */ 0x201D, /* ” */ 0x201E, /* „ */ 0x2022, /* • */ 0x2026, /* … */
    0x2039, /* ‹ */ 0x203A, /* › */ 0x2192, /* → */ 0x25BA,		    /* ► */
};

/* Length of the tag "<p>", "</a>", "<br/>", "<!-- x -->" at s (a '<'), at most 256 bytes and
 * with no '<' inside; 0 when s does not start one ("a < b" is text). */
static size_t tag_len(const char *s, size_t len)
{
	unsigned char c = len > 1 ? (unsigned char)s[1] : 0;
	if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '/' || c == '!'))
		return 0;
	for (size_t i = 2; i < len && i < 256; i++) {
		if (s[i] == '>')
			return i + 1;
		if (s[i] == '<')
			return 0;
	}
	return 0;
}

/* Length of the character reference "&amp;", "&#8217;", "&#x2019;" at s (a '&'); 0 when none. */
static size_t entity_len(const char *s, size_t len)
{
	size_t i = 1;
	bool num = i < len && s[i] == '#';
	if (num) {
		i++;
		if (i < len && (s[i] == 'x' || s[i] == 'X'))
			i++;
	}
	size_t start = i;
	for (; i < len && i < 12; i++) {
		unsigned char c = (unsigned char)s[i];
		bool ok =
		    (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		if (!ok)
			break;
	}
	if (i == start || i >= len || s[i] != ';')
		return 0;
	return i + 1;
}

/* Letter case of the character at s, for the glued-word split: ASCII and Latin-1 letters only
 * (the French alphabet). Returns 1 upper, -1 lower, 0 anything else. */
static int letter_case(const unsigned char *s, size_t len)
{
	if (s[0] >= 'A' && s[0] <= 'Z')
		return 1;
	if (s[0] >= 'a' && s[0] <= 'z')
		return -1;
	if (s[0] == 0xC3 && len > 1) { /* U+00C0..U+00FF */
		if (s[1] >= 0x80 && s[1] <= 0x9E && s[1] != 0x97)
			return 1;
		if (s[1] >= 0x9F && s[1] <= 0xBF && s[1] != 0xB7)
			return -1;
	}
	return 0;
}

/* letter_case of the character before s[i] (i > 0) in valid UTF-8: it starts at s[i - 1], or at
 * s[i - 2] when that is 0xC3 (a Latin-1 letter's lead byte); 0 for any other character. */
static inline int letter_before(const unsigned char *s, size_t i)
{
	if (s[i - 1] < 0x80)
		return letter_case(s + i - 1, 1);
	return i >= 2 && s[i - 2] == 0xC3 ? letter_case(s + i - 2, 2) : 0;
}

/* True when s[0..len) holds a tag or a character reference: HTML escaped twice by its feed. */
static bool has_markup(const char *s, size_t len)
{
	const char *end = s + len;
	for (const char *p = s; (p = memchr(p, '<', (size_t)(end - p))) != NULL; p++)
		if (tag_len(p, (size_t)(end - p)) > 0)
			return true;
	for (const char *p = s; (p = memchr(p, '&', (size_t)(end - p))) != NULL; p++)
		if (entity_len(p, (size_t)(end - p)) > 0)
			return true;
	return false;
}

/* True when the 8 bytes at p are ASCII without an upper-case letter: adding 0x80 - 'A' to each
 * byte sets its high bit from 'A' up, adding 0x7F - 'Z' from past 'Z' (no carry crosses bytes
 * of at most 0x7F). */
static bool ascii_no_upper8(const unsigned char *p)
{
	uint64_t x;
	memcpy(&x, p, 8);
	uint64_t ge_a = x + 0x3F3F3F3F3F3F3F3Full, gt_z = x + 0x2525252525252525ull;
	return !(x & SWAR_HIGHS) && !(ge_a & ~gt_z & SWAR_HIGHS);
}

/* Step 1 (glued words): copies the line s[0..len) to *out with a space between a lower-case
 * letter and an upper-case one that follows it. */
static void clean_line(const char *s, size_t len, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	buf_reset(out);
	size_t from = 0; /* start of the bytes not yet copied */
	int prev = 0;	 /* letter_case of the previous character */
	for (size_t i = 0; i < len;) {
		/* Most of a line is eight bytes at a time: none is upper case, so nothing is split
		 * there, and the case of the last one is what follows. */
		if (i + 8 <= len && ascii_no_upper8(p + i)) {
			prev = p[i + 7] >= 'a' && p[i + 7] <= 'z' ? -1 : 0;
			i += 8;
			continue;
		}
		/* Else the next eight bytes (or a little more) one character at a time. */
		for (size_t stop = i + 8; i < len && i < stop;) {
			if (p[i] < 0x80 && !(p[i] >= 'A' && p[i] <= 'Z') &&
			    !(p[i] >= 'a' && p[i] <= 'z')) {
				prev = 0; /* the common case, kept cheap */
				i++;
				continue;
			}
			int c = letter_case(p + i, len - i);
			if (c == 1 && prev == -1) {
				buf_append(out, s + from, i - from);
				buf_putc(out, ' ');
				from = i;
			}
			prev = c;
			i += p[i] < 0x80 ? 1 : p[i] < 0xE0 ? 2 : p[i] < 0xF0 ? 3 : 4;
		}
	}
	if (from < len)
		buf_append(out, s + from, len - from);
}

/* Decodes the UTF-8 sequence at s (valid: text_fold output); returns its length. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *ret)
{
	size_t n = s[0] < 0x80 ? 1 : s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : 4;
	if (n > len) {
		*ret = 0xFFFD;
		return len;
	}
	uint32_t cp = n == 1 ? s[0] : n == 2 ? s[0] & 0x1Fu : n == 3 ? s[0] & 0x0Fu : s[0] & 0x07u;
	for (size_t i = 1; i < n; i++)
		cp = (cp << 6) | (s[i] & 0x3Fu);
	*ret = cp;
	return n;
}

/* The ASCII letters and digits, by byte (0 from 0x80): one load where three range tests took
 * seven instructions, for every byte words_impl reads one at a time. */
/* clang-format off */
static const bool alnum_bytes[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, /* 0x30 */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, /* 0x50 */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, /* 0x70 */
};
/* clang-format on */

static inline bool ascii_alnum(uint32_t c)
{
	return c < 256 && alnum_bytes[c];
}

static bool is_separator(uint32_t cp)
{
	if (cp < 0x80)
		return !ascii_alnum(cp);
	for (size_t i = 0; i < ARRAY_SIZE(separators); i++)
		if (separators[i] == cp)
			return true;
	return false;
}

/* Appends the words of the folded line s to *out, each followed by one space. */
static void put_words(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), word = 0; /* start of the current word */
	bool in_word = false;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t k = utf8_decode(p + i, len - i, &cp);
		if (is_separator(cp)) {
			if (in_word) {
				buf_append(out, p + word, i - word);
				buf_putc(out, ' ');
			}
			in_word = false;
		} else if (!in_word) {
			word = i;
			in_word = true;
		}
		i += k;
	}
	if (in_word) {
		buf_append(out, p + word, len - word);
		buf_putc(out, ' ');
	}
}

/* Finds phrase in the word line w (words each followed by one space) as whole words, at or after
 * from. Returns its offset or -1. */
static ptrdiff_t find_words(const char *w, size_t from, const char *phrase)
{
	size_t plen = strlen(phrase);
	for (const char *p = w + from; (p = strstr(p, phrase)) != NULL; p++) {
		bool start = p == w || p[-1] == ' ';
		if (start && p[plen] == ' ')
			return p - w;
	}
	return -1;
}

/* Applies the rules of rules[] whose bit is set in which to the word line p[0..*len) (*len > 0,
 * ends with a space, NUL-terminated), in their order, in place; *len is its new length. */
static void drop_boilerplate(char *p, size_t *len, uint64_t which)
{
	for (size_t r = 0; r < ARRAY_SIZE(rules) && *len; r++) {
		const struct rule *rule = &rules[r];
		if (!(which >> r & 1u))
			continue;
		size_t plen = strlen(rule->phrase);
		ptrdiff_t at;
		switch (rule->kind) {
		case RULE_LINE:
			if (*len == plen + 1 && !memcmp(p, rule->phrase, plen))
				*len = 0;
			break;
		case RULE_LINE_PREFIX:
			if (find_words(p, 0, rule->phrase) == 0)
				*len = 0;
			break;
		case RULE_PHRASE:
			while ((at = find_words(p, 0, rule->phrase)) >= 0) {
				size_t cut = plen + 1; /* and its trailing space */
				memmove(p + at, p + at + cut, *len - (size_t)at - cut + 1);
				*len -= cut;
			}
			break;
		case RULE_TAIL:
			at = find_words(p, 0, rule->phrase);
			if (at >= 0 &&
			    (!rule->marker || find_words(p, (size_t)at + plen, rule->marker) >= 0))
				*len = (size_t)at;
			break;
		case RULE_MAX:
			break;
		}
		p[*len] = '\0';
	}
}

/*
 * The words that send a line to drop_boilerplate (see rules[]), each with the rules it sends it
 * to: the first word of each RULE_LINE and RULE_LINE_PREFIX phrase (which only matches at the
 * start of the line) and the key of each other rule (anywhere). Only those rules are tried:
 * the others cannot match. A rule that could (its phrase or marker holds the word) needs the
 * word in the line; rules only delete words, so a word missing from the line stays missing; and
 * the rules that look at the first word come before those that delete words (checked by
 * triggers_init). Built once from rules[]; a rule without a usable key is tried on every line.
 */
struct trigger {
	const char *w;
	size_t len;
	bool first;	/* only as the first word of a line */
	uint64_t rules; /* bit r: rules[r] */
};
static struct trigger triggers[ARRAY_SIZE(rules)];
static size_t ntriggers;
/* Bit n of [1][c]: a trigger of n bytes (n < 32) starts with byte c; of [0][c]: one that is not
 * first-only (the only ones a word past the first of its line can be). */
static uint32_t trigger_lens[2][256];
static uint8_t trigger_from[256]; /* the triggers starting with byte c: from[c]..to[c] */
static uint8_t trigger_to[256];
static uint64_t always_rules; /* rules without a usable key: tried on every line */
static pthread_once_t triggers_once = PTHREAD_ONCE_INIT;

/* True when the word w[0..len) is a whole word of the phrase p (NULL: none). */
static bool has_word(const char *p, const char *w, size_t len)
{
	for (; p && *p; p += strcspn(p, " "), p += *p == ' ') {
		size_t n = strcspn(p, " ");
		if (n == len && !memcmp(p, w, len))
			return true;
	}
	return false;
}

static int trigger_cmp(const void *a, const void *b)
{
	const struct trigger *x = a, *y = b;
	return (unsigned char)x->w[0] - (unsigned char)y->w[0];
}

static void triggers_init(void)
{
	_Static_assert(ARRAY_SIZE(rules) <= 64, "a rule mask is 64 bits");
	bool deleting = false; /* a rule that deletes words came before */
	for (size_t r = 0; r < ARRAY_SIZE(rules); r++) {
		const struct rule *rule = &rules[r];
		struct trigger t;
		if (rule->kind == RULE_LINE || rule->kind == RULE_LINE_PREFIX) {
			t = (struct trigger){rule->phrase, strcspn(rule->phrase, " "), true, 0};
			if (deleting) { /* it would see first words the line did not start with */
				always_rules |= (uint64_t)1 << r;
				continue;
			}
		} else {
			deleting = true;
			t = (struct trigger){rule->key, rule->key ? strlen(rule->key) : 0, false,
					     0};
			if (!t.len || strchr(t.w, ' ') ||
			    (!has_word(rule->phrase, t.w, t.len) &&
			     !has_word(rule->marker, t.w, t.len))) {
				always_rules |= (uint64_t)1 << r;
				continue;
			}
		}
		if (!t.len || t.len >= 32) {
			always_rules |= (uint64_t)1 << r;
			continue;
		}
		size_t i = 0;
		while (i < ntriggers &&
		       !(triggers[i].len == t.len && triggers[i].first == t.first &&
			 !memcmp(triggers[i].w, t.w, t.len)))
			i++;
		if (i == ntriggers)
			triggers[ntriggers++] = t;
		triggers[i].rules |= (uint64_t)1 << r;
		trigger_lens[1][(unsigned char)t.w[0]] |= 1u << t.len;
		if (!t.first)
			trigger_lens[0][(unsigned char)t.w[0]] |= 1u << t.len;
	}
	qsort(triggers, ntriggers, sizeof(*triggers), trigger_cmp);
	for (size_t i = ntriggers; i-- > 0;) {
		unsigned char c = (unsigned char)triggers[i].w[0];
		trigger_from[c] = (uint8_t)i;
		if (!trigger_to[c])
			trigger_to[c] = (uint8_t)(i + 1);
	}
}

/* memcmp(a, b, n) == 0 for the few bytes of a word: a call of memcmp cost more than comparing
 * them (the common words of a trigger's first byte and length, "au" for "ad", "pour" for "paru",
 * come here). */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* The rules the word w[0..len) (first: the first of its line) is a trigger of; 0 when none.
 * Called for the words that pass trigger_maybe. */
static uint64_t trigger_rules(const char *w, size_t len, bool first)
{
	unsigned char c = (unsigned char)w[0];
	uint64_t hit = 0;
	for (size_t i = trigger_from[c]; i < trigger_to[c]; i++)
		if (triggers[i].len == len && (first || !triggers[i].first) &&
		    same_bytes(triggers[i].w + 1, w + 1, len - 1)) /* w[0] == c */
			hit |= triggers[i].rules;
	return hit;
}

/* False for most words: none of the triggers a word in their place (first: the first of its
 * line) can be has their first byte and their length ("a" and "sur" inside a line pass no more).
 * A word of 32 bytes or more is looked up by its length modulo 32 (the shift the CPU makes of
 * it anyway): a word it lets through, trigger_rules finds no trigger of. */
static inline bool trigger_maybe(const char *w, size_t len, bool first)
{
	return trigger_lens[first][(unsigned char)w[0]] >> (len & 31u) & 1u;
}

/* The rules the word [word, end) is a trigger of, in its place (first: the first of its line). */
static inline uint64_t word_rules(const char *word, const char *end, bool first)
{
	size_t len = (size_t)(end - word);
	return trigger_maybe(word, len, first) ? trigger_rules(word, len, first) : 0;
}

/* Where the words of a word line start (offsets in the buffer the line is written to). */
struct starts {
	size_t *v;
	size_t n, cap;
};

/* Room for the starts of the words of a line of len bytes: at most one per two bytes. */
static void starts_reserve(struct starts *st, size_t len)
{
	size_t need = st->n + len / 2 + 2;
	if (need <= st->cap)
		return;
	st->cap = need > 2 * st->cap ? need : 2 * st->cap;
	st->v = xreallocarray(st->v, st->cap, sizeof(*st->v));
}

/* Records in st the starts of the words of the word line out->p[at..out->len). */
static void starts_scan(struct starts *st, const struct buf *out, size_t at)
{
	starts_reserve(st, out->len - at);
	for (size_t i = at; i < out->len; i++)
		if (i == at || out->p[i - 1] == ' ')
			st->v[st->n++] = i;
}

/*
 * put_folded_words' view of the characters of two bytes (U+0080..U+07FF: accented Latin letters,
 * no-break space, French quotes), by code point: each one's text_fold_char when it has one of at
 * most six bytes, and what put_words_fast makes of those bytes, when it makes one thing of all of
 * them. Built once from text_fold_char; kind FOLD2_OTHER sends a character to text_fold_char.
 */
enum fold2_kind {
	FOLD2_OTHER, /* no text_fold_char, a longer one, or one of word and separator characters */
	FOLD2_WORD,  /* every folded character is a part of a word */
	FOLD2_SEP,   /* every folded character separates words */
};
struct fold2 {
	char s[6];    /* the folded bytes, zero-padded: the entry is copied eight bytes at a time */
	uint8_t len;  /* of s */
	uint8_t kind; /* enum fold2_kind */
};
static struct fold2 fold2[0x800];
static bool fold2_ready; /* text_fold_chars_ready, and fold2 built */
static pthread_once_t fold2_once = PTHREAD_ONCE_INIT;

/* True when the code point cp of text_fold_append's output separates words for put_words_fast. */
static bool folded_separator(uint32_t cp)
{
	return cp < 0x80 ? !ascii_alnum(cp) : is_separator(cp) || text_fold_space(cp);
}

static void fold2_init(void)
{
	_Static_assert(sizeof(struct fold2) == 8, "a fold2 entry is copied as eight bytes");
	if (!text_fold_chars_ready())
		return;
	for (uint32_t cp = 0x80; cp < 0x800; cp++) {
		char u[2] = {(char)(0xC0 | cp >> 6), (char)(0x80 | (cp & 0x3F))};
		size_t k, n;
		const char *f = text_fold_char(u, 2, &k, &n);
		if (!f || k != 2 || !n || n > sizeof(fold2[cp].s))
			continue;
		unsigned words = 0, seps = 0;
		for (size_t j = 0; j < n;) {
			uint32_t c;
			j += utf8_decode((const unsigned char *)f + j, n - j, &c);
			if (folded_separator(c))
				seps++;
			else
				words++;
		}
		if (words && seps)
			continue;
		memcpy(fold2[cp].s, f, n);
		fold2[cp].len = (uint8_t)n;
		fold2[cp].kind = words ? FOLD2_WORD : FOLD2_SEP;
	}
	fold2_ready = true;
}

/* The bytes of the ASCII bytes of x lower-cased (any other byte unchanged): adding 0x80 - 'A'
 * to a byte sets its high bit from 'A' up, adding 0x7F - 'Z' from past 'Z' (the high bits are
 * cleared first, so no carry crosses a byte). */
static inline uint64_t lower8(uint64_t x)
{
	uint64_t t = x & ~SWAR_HIGHS;
	uint64_t upper = (t + 0x3F3F3F3F3F3F3F3Full) & ~(t + 0x2525252525252525ull) & ~x;
	return x | (upper & SWAR_HIGHS) >> 2;
}

/* The bytes of x that are an upper-case ASCII letter, flagged in their high bit (exact, as
 * not_alnum8). */
static inline uint64_t upper_ascii8(uint64_t x)
{
	uint64_t t = x & ~SWAR_HIGHS;
	return (t + 0x3F3F3F3F3F3F3F3Full) & ~(t + 0x2525252525252525ull) & ~x & SWAR_HIGHS;
}

/* The bytes of x that are a lower-case ASCII letter, flagged in their high bit (exact). */
static inline uint64_t lower_ascii8(uint64_t x)
{
	uint64_t t = x & ~SWAR_HIGHS;
	return (t + 0x1F1F1F1F1F1F1F1Full) & ~(t + 0x0505050505050505ull) & ~x & SWAR_HIGHS;
}

/* True when words_impl may split a word at the character that starts the rest bytes of its
 * line left to read: out has room for the space it writes and what is left of the line (see
 * words_impl), and the word starts for the new word and those of the rest. */
static inline bool split_room(const char *w, const char *limit, const size_t *sv,
			      const size_t *sv_end, size_t rest)
{
	return (size_t)(limit - w) >= rest + 10 && (size_t)(sv_end - sv) >= 2 + rest / 2;
}

/*
 * The words of words_impl, sixteen bytes at a time. Bit k of each mask is p[k]: the ASCII
 * letters and digits (alnum), the bytes from 0x80 (high), and among the ASCII letters the
 * upper-case ones (upper) and the lower-case ones (lower). class16 also writes the sixteen bytes
 * to d as words_impl writes an ASCII line: letters lower-cased when fold, and every byte that is
 * no letter or digit a space. With SSE2, a compare and a movemask per class; else the same
 * masks and bytes from two eight-byte SWAR words.
 */
struct class16 {
	unsigned alnum, high, upper, lower;
};

#ifndef SWAR_SSE2
/* The high bits of the eight bytes of f (load8_le order) as eight bits, byte k in bit k: the
 * multiplication moves bit 8k + 7 to bit 56 + k, and no two of its partial products meet. */
static inline unsigned flags8(uint64_t f)
{
	return (unsigned)(((f >> 7) * 0x0102040810204080ull) >> 56);
}
#endif

static inline struct class16 class16(const unsigned char *p, char *d, bool fold)
{
	struct class16 c;
#ifdef SWAR_SSE2
	__m128i x = load16(p);
	/* as signed bytes, those from 0x80 are below every ASCII one: in no range */
	__m128i t = _mm_or_si128(x, _mm_set1_epi8(0x20)); /* letters in lower case */
	__m128i letter = _mm_and_si128(_mm_cmpgt_epi8(t, _mm_set1_epi8('a' - 1)),
				       _mm_cmplt_epi8(t, _mm_set1_epi8('z' + 1)));
	__m128i digit = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)),
				      _mm_cmplt_epi8(x, _mm_set1_epi8('9' + 1)));
	__m128i alnum = _mm_or_si128(letter, digit);
	unsigned letters = (unsigned)_mm_movemask_epi8(letter);
	/* bit 5 of each byte (0x20, set in lower-case letters) moved to its high bit */
	unsigned case_bit = (unsigned)_mm_movemask_epi8(_mm_slli_epi16(x, 2));
	c.alnum = (unsigned)_mm_movemask_epi8(alnum);
	c.high = high16(x);
	c.upper = letters & ~case_bit;
	c.lower = letters & case_bit;
	/* the letters lower-cased (digits hold 0x20 already), every other byte a space */
	__m128i y = _mm_or_si128(_mm_and_si128(alnum, fold ? t : x),
				 _mm_andnot_si128(alnum, _mm_set1_epi8(' ')));
	_mm_storeu_si128((__m128i *)d, y);
#else
	c = (struct class16){0};
	for (unsigned h = 0; h < 16; h += 8) {
		uint64_t x = load8_le(p + h), other = not_alnum8(x);
		/* the letters lower-cased (digits hold 0x20 already), every other byte a space */
		uint64_t y = fold ? x | SWAR_ONES * 0x20 : x, spaces = (other >> 7) * 0xFF;
		store8_le(d + h, (y & ~spaces) | (spaces & SWAR_ONES * 0x20));
		c.alnum |= flags8(other ^ SWAR_HIGHS) << h;
		c.high |= flags8(x & SWAR_HIGHS) << h;
		c.upper |= flags8(upper_ascii8(x)) << h;
		c.lower |= flags8(lower_ascii8(x)) << h;
	}
#endif
	return c;
}

/* Ends the word begun at *word, written up to *w: its rules (as a word past the first of its
 * line) into *hit, then the space after it. */
static inline __attribute__((always_inline)) void word_end(const char **word, char **w,
							   uint64_t *hit)
{
	*hit |= word_rules(*word, *w, false);
	*(*w)++ = ' ';
	*word = NULL;
}

/* Begins a word at w unless one is begun, its start (from base) recorded in *sv. */
static inline __attribute__((always_inline)) void word_begin(const char **word, char *w,
							     size_t **sv, const char *base)
{
	if (!*word) {
		*word = w;
		*(*sv)++ = (size_t)(w - base);
	}
}

/*
 * words_impl's words in the sixteen bytes at s + i (s[i] an ASCII letter or digit) as far as they
 * hold only ASCII letters and digits with single ASCII separators between them and, when fold,
 * no upper-case letter glued to a lower-case one (nor to one of *word before s[i]): written to
 * *w, their starts to *sv and their rules to *hit as words_impl writes them one by one. Returns
 * how many bytes it took: 16, or the offset of the first it leaves to words_impl (0: s[i]).
 */
static inline __attribute__((always_inline)) size_t words16(const unsigned char *s, size_t i,
							    bool fold, char *base, char **w,
							    const char **word, size_t **sv,
							    uint64_t *hit)
{
	const unsigned char *p = s + i;
	char *out = *w;
	struct class16 c = class16(p, out, fold);
	unsigned sep = ~(c.alnum | c.high) & 0xFFFFu;
	unsigned stop = c.high | (sep & sep << 1);
	if (fold) {
		stop |= c.lower << 1 & c.upper;
		/* s[i] upper case after a lower-case letter of the word: seldom */
		if (c.upper & 1u && *word && letter_before(s, i) == -1)
			stop |= 1u;
	}
	size_t n = (size_t)__builtin_ctz(stop | 0x10000u);
	if (!n)
		return 0;
	word_begin(word, out, sv, base);
	/* each separator ends a word and, unless it is the last byte taken, a word follows it */
	for (unsigned m = sep & ((1u << n) - 1); m; m &= m - 1) {
		size_t j = (size_t)__builtin_ctz(m);
		*hit |= word_rules(*word, out + j, false);
		*word = NULL;
		if (j + 1 < n)
			word_begin(word, out + j + 1, sv, base);
	}
	*w = out + n;
	return n;
}

/*
 * words_impl's ASCII word at p[i] (a letter or digit), eight bytes at a time: begun unless
 * *word was, written to *w up to the first byte of the line that is no ASCII letter or digit,
 * where it returns. When fold, lower-cased, and it returns at an upper-case letter glued to a
 * lower-case one too (*ret_split: clean_line's glued words).
 */
static inline __attribute__((always_inline)) size_t word8(const unsigned char *p, size_t i,
							  size_t len, bool fold, char *base,
							  char **w, const char **word, size_t **sv,
							  bool *ret_split)
{
	char *out = *w;
	/* 0x80 when the character before p[i] is a lower-case letter of the word (fold) */
	uint64_t carry = 0;
	if (!*word) {
		*word = out;
		*(*sv)++ = (size_t)(out - base);
	} else if (fold && letter_before(p, i) == -1) {
		carry = 0x80;
	}
	for (;;) {
		if (i + 8 > len) {
			while (i < len && ascii_alnum(p[i])) {
				unsigned char c = p[i];
				bool upper = c >= 'A' && c <= 'Z';
				if (fold && upper && carry)
					break;
				if (fold) {
					carry = c >= 'a' && c <= 'z' ? 0x80 : 0;
					c |= 0x20;
				}
				*out++ = (char)c;
				i++;
			}
			break;
		}
		uint64_t raw;
		memcpy(&raw, p + i, 8);
		uint64_t x = load8_le(&raw);
		uint64_t m = not_alnum8(x);
		if (fold) {
			uint64_t lo = lower_ascii8(x);
			m |= (lo << 8 | carry) & upper_ascii8(x);
			carry = lo >> 56;
			raw = lower8(raw);
		}
		memcpy(out, &raw, 8);
		size_t n = m ? first_flagged(m) : 8;
		out += n;
		i += n;
		if (m)
			break;
	}
	*w = out;
	*ret_split = fold && i < len && ascii_alnum(p[i]);
	return i;
}

/*
 * put_words_fast, and with fold set put_folded_words: the same loop, the second folding each
 * character as it reads it. fold: s is a line neither cleaned (step 1) nor folded; a word ends
 * where clean_line would put a space (an upper-case letter after a lower-case one, ASCII or
 * Latin-1), its ASCII letters are lower-cased and its other characters replaced by their
 * text_fold_char; false in *ret_ok, with nothing recorded (out->len and st->n as they were),
 * when a character has no text_fold_char or the room reserved runs out (a character that folds
 * longer than it is, or a split): the caller cleans and folds the line the slow way instead.
 * Room: out keeps len + 9 bytes past the word being written plus what the line's characters not
 * yet read grew by; st one start per two bytes of the line (a folded character or a split may
 * start more words than that: checked for each of those).
 */
static inline __attribute__((always_inline)) uint64_t
words_impl(struct buf *out, const char *s, size_t len, struct starts *st, bool fold, bool *ret_ok)
{
	const unsigned char *p = (const unsigned char *)s;
	/* Every byte at most once and one space after the last word; ASCII runs are copied eight
	 * or sixteen bytes at a time, up to fifteen past the run's end (sixteen only while as many
	 * bytes of the line are left to read, so within that room). */
	buf_reserve(out, len + 8);
	/* Room for one start per two bytes of the line, and one: a word starts with a byte of its
	 * own and, but for the line's first, follows a separator of a byte or more, so a stretch
	 * of b bytes starts (b + 1) / 2 words or fewer. The characters folded one at a time
	 * (fold2 and ASCII) are no more; one folded through text_fold_char (two bytes or more)
	 * may start more words, and does so only when st has room for them and for what the rest
	 * of the line can start. */
	starts_reserve(st, len + 1);
	/* Where the next word start goes, and the start of out, in locals: the compiler must
	 * assume that every byte written through w may change st->n or out->p. */
	size_t *sv = st->v + st->n;
	size_t *const sv_end = st->v + st->cap;
	char *const base = out->p, *w = base + out->len;
	const char *const limit = base + out->cap;
	const char *word = NULL; /* start of the current word in out */
	uint64_t hit = 0;
	for (size_t i = 0; i < len;) {
		size_t k = 1;
		bool sep;
		if (p[i] < 0x80) {
			if (ascii_alnum(p[i])) {
				/* The rest of an ASCII word at once, then as long as ASCII
				 * separators and words follow each other, without a return to the
				 * top of the loop: sixteen bytes at a time while they hold only
				 * single separators between the words, else eight bytes at a time.
				 */
				for (;;) {
					/* p[i]: an ASCII letter or digit */
					while (i + 16 <= len) {
						size_t g =
						    words16(p, i, fold, base, &w, &word, &sv, &hit);
						i += g;
						if (g < 16 || i == len || !ascii_alnum(p[i]))
							break;
					}
					if (i == len || p[i] >= 0x80)
						break;
					if (ascii_alnum(p[i])) {
						bool split = false;
						i = word8(p, i, len, fold, base, &w, &word, &sv,
							  &split);
						if (i == len || p[i] >= 0x80)
							break;
						/* An upper-case letter the word stopped at (fold)
						 * ends it, as a separator does. */
						if (split) {
							if (!split_room(w, limit, sv, sv_end,
									len - i))
								goto bail;
							word_end(&word, &w, &hit);
							continue;
						}
					}
					/* An ASCII separator ends the word (as below). */
					if (word)
						word_end(&word, &w, &hit);
					do
						i++;
					while (i < len && p[i] < 0x80 && !ascii_alnum(p[i]));
					if (i == len || p[i] >= 0x80)
						break;
				}
				continue;
			}
			sep = true;
		} else if (fold) {
			/* An upper-case Latin-1 letter glued to a lower-case letter starts a new
			 * word, as an ASCII one does above. */
			if (word && letter_case(p + i, len - i) == 1 && letter_before(p, i) == -1) {
				if (!split_room(w, limit, sv, sv_end, len - i))
					goto bail;
				word_end(&word, &w, &hit);
			}
			/* Most characters here are of two bytes and fold to one thing. */
			if (p[i] >= 0xC2 && p[i] <= 0xDF && i + 1 < len &&
			    (p[i + 1] & 0xC0) == 0x80) {
				const struct fold2 *e =
				    &fold2[(p[i] & 0x1Fu) << 6 | (p[i + 1] & 0x3Fu)];
				if (e->kind == FOLD2_WORD &&
				    (size_t)(limit - w) >= e->len + (len - i - 2) + 10) {
					word_begin(&word, w, &sv, base);
					memcpy(w, e, 8);
					w += e->len;
					i += 2;
					continue;
				}
				if (e->kind == FOLD2_SEP) {
					if (word)
						word_end(&word, &w, &hit);
					i += 2;
					continue;
				}
			}
			/* Any other: its folded characters, read as put_words_fast reads
			 * text_fold_append's output, each a separator or a part of a word. */
			size_t n;
			const char *f = text_fold_char(s + i, len - i, &k, &n);
			if (!f || (size_t)(limit - w) < n + (len - i - k) + 10)
				goto bail;
			const unsigned char *q = (const unsigned char *)f;
			for (size_t j = 0; j < n;) {
				uint32_t cp;
				size_t kq = utf8_decode(q + j, n - j, &cp);
				if (folded_separator(cp)) {
					if (word)
						word_end(&word, &w, &hit);
				} else {
					if (!word) {
						/* Room for it and for the starts of the
						 * rest of the line (see above). */
						if ((size_t)(sv_end - sv) < 2 + (len - i) / 2)
							goto bail;
						word = w;
						*sv++ = (size_t)(w - base);
					}
					memcpy(w, q + j, kq);
					w += kq;
				}
				j += kq;
			}
			i += k;
			continue;
		} else {
			uint32_t cp;
			k = utf8_decode(p + i, len - i, &cp);
			sep = is_separator(cp) || text_fold_space(cp);
		}
		if (sep) {
			if (word)
				word_end(&word, &w, &hit);
		} else {
			word_begin(&word, w, &sv, base);
			memcpy(w, p + i, k);
			w += k;
		}
		i += k;
	}
	if (word)
		word_end(&word, &w, &hit);
	/* Each word was looked up as a word past the first of its line; the first one, once more
	 * as the first (the rules that only look at the first word). */
	if (w > base + out->len) {
		const char *first = base + out->len;
		hit |= word_rules(first, memchr(first, ' ', (size_t)(w - first)), true);
	}
	st->n = (size_t)(sv - st->v);
	out->len = (size_t)(w - base);
	base[out->len] = '\0';
	*ret_ok = true;
	return hit;
bail:
	base[out->len] = '\0';
	*ret_ok = false;
	return 0;
}

/* put_words(out, s) for the folded line s[0..len), in one reserved write; returns the rules
 * (bit r: rules[r]) the line's words are triggers of. s may also be text_fold_append's output,
 * its white space not yet collapsed: each text_fold_space character separates words too, so the
 * words are those of the line text_fold would have made. */
static uint64_t put_words_fast(struct buf *out, const char *s, size_t len, struct starts *st)
{
	bool ok;
	return words_impl(out, s, len, st, false, &ok);
}

/* put_words_fast(out, text_fold_append(clean_line(s[0..len)))) in one pass over the line s not
 * yet cleaned nor folded, when text_fold_char folds each of its characters (text_fold_chars_ready
 * returned true) and the room reserved suffices: *ret_ok then. Else false in *ret_ok, nothing
 * recorded in out or st. Only valid UTF-8 passes (ASCII, and the characters it decodes). */
static uint64_t put_folded_words(struct buf *out, const char *s, size_t len, struct starts *st,
				 bool *ret_ok)
{
	return words_impl(out, s, len, st, true, ret_ok);
}

/* Appends the normalised reading of s (NULL: nothing), slen bytes long (strlen), to *out, words
 * separated by one space, and the offsets in out->p of its words to *st (but with reference).
 * reference: through text_fold_reference, every line searched for boilerplate (the way the
 * content hashes already stored were computed, which the tests hold the fast path to). */
static void put_normalised(struct buf *out, const char *s, size_t slen, bool reference,
			   struct starts *st, struct buf *raw, struct buf *norm)
{
	if (!s)
		return;
	bool fold_chars = false; /* text_fold_char may fold the lines */
	if (!reference) {
		pthread_once(&triggers_once, triggers_init);
		pthread_once(&fold2_once, fold2_init);
		fold_chars = fold2_ready;
	}
	/* Step 1 (markup): libxml2's HTML parser, as for the feed's own markup. */
	char *plain = has_markup(s, slen) ? html_to_text(s, slen, VEILLE_MAX_TEXT) : NULL;
	if (plain) {
		s = plain;
		slen = strlen(s);
	}
	struct buf line = {0};
	size_t start = out->len;
	const char *end = s + slen;
	for (const char *p = s; *p;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
		const char *cleaned = NULL;
		size_t clen = 0;
		size_t at = out->len, nstarts = st->n;
		uint64_t which = 0;
		bool done = false; /* its words are in out */
		/* Steps 1 (glued words) to 3 in one pass, when text_fold_char folds the line. */
		if (!reference && fold_chars)
			which = put_folded_words(out, p, n, st, &done);
		if (!done) { /* a few lines in a thousand */
			clean_line(p, n, raw);
			cleaned = raw->p;
			clen = raw->len;
		}
		if (reference) {
			char *folded = text_fold_reference(cleaned, clen);
			buf_reset(&line);
			put_words(&line, folded);
			free(folded);
			if (line.len)
				drop_boilerplate(line.p, &line.len, ~(uint64_t)0);
			if (line.len)
				buf_append(out, line.p, line.len);
		} else {
			/* The words go straight to out, and the rules work on them there. */
			if (!done) {
				buf_reset(norm);
				if (text_fold_append(cleaned, clen, norm) == 0) {
					which = put_words_fast(out, norm->p, norm->len, st);
				} else {
					char *folded = text_fold(cleaned, clen);
					which = put_words_fast(out, folded, strlen(folded), st);
					free(folded);
				}
			}
			which |= always_rules;
			size_t wlen = out->len - at;
			if (wlen && which) {
				drop_boilerplate(out->p + at, &wlen, which);
				if (at + wlen != out->len) { /* words went: find the rest anew */
					out->len = at + wlen;
					st->n = nstarts;
					starts_scan(st, out, at);
				}
				out->len = at + wlen;
			}
		}
		p += n;
		if (*p)
			p++;
	}
	buf_free(&line);
	free(plain);
	/* Every word was followed by a space: drop the last one. */
	if (out->len > start)
		out->p[--out->len] = '\0';
}

/* SHA-256 as libcrypto implements it, looked up once: SHA256() fetches it anew on every call
 * (OpenSSL 3), 15% of the cost of hashing an item. NULL when the lookup failed. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_init(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* SHA-256 of p[0..len) as hex in out. *ctx: a context kept from one call to the next (NULL: made
 * here), which EVP_Digest allocated, set up and freed anew for every item. */
static void sha256_hex(EVP_MD_CTX **ctx, const char *p, size_t len, char out[DEDUP_HASH_HEX])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	pthread_once(&sha256_once, sha256_init);
	if (sha256_md && !*ctx)
		*ctx = EVP_MD_CTX_new();
	if (!*ctx || !EVP_DigestInit_ex2(*ctx, sha256_md, NULL) ||
	    !EVP_DigestUpdate(*ctx, p, len) || !EVP_DigestFinal_ex(*ctx, md, NULL))
		SHA256((const unsigned char *)p, len, md); /* libcrypto's one-shot */
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xF];
	}
	out[64] = '\0';
}

/* The byte of a 128-bit hash (byte 0: the low byte of low64) that lies k-th in the memory of
 * {low64, high64}. */
static unsigned lane_byte(unsigned k)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return (k & 8u) | (7u - (k & 7u));
#else
	return k;
#endif
}

/*
 * SimHash (Charikar) of the word line w[0..len) (words separated by one space): every run of
 * DEDUP_SHINGLE consecutive words is one feature, hashed to 128 bits with XXH3; bit b of the result
 * is set when more features have bit b set than clear. Texts sharing most of their shingles get
 * hashes a few bits apart; unrelated texts differ in about half of the 128 bits. 128 bits rather
 * than 64: the same fraction of differing bits separates rewrites from unrelated texts with half
 * the relative spread (tests/bench/simhash_threshold.py measures both).
 */
static void simhash_words_reference(const char *w, size_t len, struct dedup_simhash *ret)
{
	*ret = (struct dedup_simhash){0};
	/* Word starts, then one shingle per window of DEDUP_SHINGLE words. */
	size_t nwords = 0, cap = 0, *starts = NULL;
	for (size_t i = 0; i < len; i++) {
		if (i == 0 || w[i - 1] == ' ') {
			if (nwords == cap) {
				cap = cap ? 2 * cap : 256;
				starts = xreallocarray(starts, cap, sizeof(*starts));
			}
			starts[nwords++] = i;
		}
	}
	if (nwords < DEDUP_SIMHASH_MIN_WORDS) {
		free(starts);
		return;
	}
	/* Bit counting in byte lanes: lane k of lanes[j] counts the features with bit j of their
	 * hash's byte k set, sixteen lanes in one vector (GCC and Clang vector extensions: SSE2 or
	 * NEON, else plain code); (x & bit) == bit is -1 in a lane that has the bit, so subtracting
	 * it counts. Lanes are emptied into ones[] (bit 8k + j) before they can overflow. */
	typedef uint8_t v16u8 __attribute__((vector_size(16)));
	uint32_t ones[128] = {0};
	v16u8 lanes[8] = {0};
	size_t nfeat = nwords - DEDUP_SHINGLE + 1;
	for (size_t i = 0; i < nfeat; i++) {
		size_t end = i + DEDUP_SHINGLE < nwords ? starts[i + DEDUP_SHINGLE] - 1 : len;
		XXH128_hash_t h = XXH3_128bits(w + starts[i], end - starts[i]);
		uint64_t halves[2] = {h.low64, h.high64};
		v16u8 x;
		memcpy(&x, halves, sizeof(x)); /* lane k: byte lane_byte(k) of the hash */
		for (unsigned j = 0; j < 8; j++) {
			v16u8 bit = (v16u8){0} + (uint8_t)(1u << j);
			lanes[j] -= (v16u8)((x & bit) == bit);
		}
		if (i % 255 == 254 || i == nfeat - 1) {
			for (unsigned j = 0; j < 8; j++) {
				for (unsigned k = 0; k < 16; k++)
					ones[8 * lane_byte(k) + j] += lanes[j][k];
				lanes[j] = (v16u8){0};
			}
		}
	}
	free(starts);
	for (unsigned b = 0; b < 128; b++)
		if (2u * ones[b] > nfeat)
			ret->v[b / 64] |= (uint64_t)1 << (b % 64);
	if (!ret->v[0] && !ret->v[1])
		ret->v[0] = 1; /* all zero means "no SimHash" */
}

typedef uint8_t v16u8 __attribute__((vector_size(16)));
typedef uint64_t v2u64 __attribute__((vector_size(16)));

/* The carry-save adder of three bit vectors: a + b + c = 2 *ret_h + *ret_l in every position. */
static void csa(v16u8 *ret_h, v16u8 *ret_l, v16u8 a, v16u8 b, v16u8 c)
{
	v16u8 u = a ^ b;
	*ret_h = (a & b) | (u & c);
	*ret_l = u ^ c;
}

/* Adds 1 to lane k of lanes[j] for each bit j of byte k set in x (see simhash_words_reference). */
static void lanes_add(v16u8 lanes[8], v16u8 x)
{
	for (unsigned j = 0; j < 8; j++) {
		v16u8 bit = (v16u8){0} + (uint8_t)(1u << j);
		lanes[j] -= (v16u8)((x & bit) == bit);
	}
}

/* Adds weight times the counts of the byte lanes to count[] (bit 8 lane_byte(k) + j), and
 * empties them. */
static void lanes_flush(v16u8 lanes[8], uint32_t weight, uint32_t count[128])
{
	for (unsigned j = 0; j < 8; j++) {
		for (unsigned k = 0; k < 16; k++)
			count[8 * lane_byte(k) + j] += weight * lanes[j][k];
		lanes[j] = (v16u8){0};
	}
}

/*
 * Sets in ret the bits that more than half the features have (2 count > nfeat, that is count >
 * half for half = nfeat / 2), from simhash_words' counts when none went to count[]: the count of
 * bit j of byte k is 8 lanes[j][k] plus r, the bits j of byte k of the planes read as the number
 * 4 fours + 2 twos + ones (under 8). With half = 8 q + s (s under 8), count > half when
 * lanes[j][k] > q, or lanes[j][k] == q and r > s; r > s is compared on the planes, from their
 * top bit. Without a branch: half the bits are set, at random, and a mispredicted branch for each
 * cost more than the count itself.
 */
static void simhash_bits(const v16u8 lanes[8], v16u8 ones, v16u8 twos, v16u8 fours, size_t half,
			 struct dedup_simhash *ret)
{
	const v16u8 planes[3] = {ones, twos, fours};
	uint8_t q = (uint8_t)(half / 8);
	v16u8 gt = {0}, eq = ~(v16u8){0}; /* r > s, r == s on the bits compared so far */
	for (unsigned i = 3; i-- > 0;) {
		v16u8 sbit = (v16u8){0} - (uint8_t)(half >> i & 1u); /* all ones or none */
		gt |= eq & planes[i] & ~sbit;
		eq &= ~(planes[i] ^ sbit);
	}
	v16u8 bits = {0};
	for (unsigned j = 0; j < 8; j++) {
		v16u8 bit = (v16u8){0} + (uint8_t)(1u << j);
		bits |= ((v16u8)(lanes[j] > q) | ((v16u8)(lanes[j] == q) & gt)) & bit;
	}
	memcpy(ret->v, &bits, sizeof(bits)); /* byte k of the vector: byte lane_byte(k) */
}

/*
 * simhash_words_reference of the word line that ends at w[len], whose words start at
 * starts[0..nwords) (offsets in w, from put_normalised): the same bits, counted eight features at
 * a time. A Harley-Seal tree of carry-save adders sums eight hashes into the running planes ones,
 * twos and fours (the count so far modulo 8 in each of the 128 positions: ones + 2 twos + 4
 * fours) and an eights plane, the positions whose count passed a multiple of 8. Only the eights
 * go to the byte lanes (each lane unit is 8 features): 35 vector operations and 24 for the lanes
 * per eight features, where the lanes took 24 per feature. Flattened: XXH3_128bits inlined in it
 * (the compiler kept it a call, and its entry, exit and dispatch on the length were a tenth of
 * each shingle's hash).
 */
static __attribute__((flatten)) void simhash_words(const char *w, size_t len, const size_t *starts,
						   size_t nwords, struct dedup_simhash *ret)
{
	*ret = (struct dedup_simhash){0};
	if (nwords < DEDUP_SIMHASH_MIN_WORDS)
		return;
	uint32_t count[128] = {0};
	v16u8 lanes[8] = {0}, ones = {0}, twos = {0}, fours = {0};
	size_t nfeat = nwords - DEDUP_SHINGLE + 1, blocks = 0;
	for (size_t i = 0; i < nfeat; i += 8) {
		/* all eight before the last feature (the one that ends at len): no checks */
		bool inner = i + 8 < nfeat;
		v16u8 x[8];
		for (unsigned k = 0; k < 8; k++) {
			x[k] = (v16u8){0}; /* past the last feature: adds nothing */
			if (!inner && i + k >= nfeat)
				continue;
			size_t f = i + k;
			size_t end = inner || f + DEDUP_SHINGLE < nwords
					 ? starts[f + DEDUP_SHINGLE] - 1
					 : len;
			XXH128_hash_t h = XXH3_128bits(w + starts[f], end - starts[f]);
			/* lane k: byte lane_byte(k) of {low64, high64} as they lie in memory,
			 * but put together from the two registers the hash comes back in: the
			 * halves stored and read back as sixteen bytes stalled (no store
			 * forwarding from two stores to one load) */
#ifdef SWAR_SSE2
			x[k] = (v16u8)_mm_unpacklo_epi64(_mm_cvtsi64_si128((long long)h.low64),
							 _mm_cvtsi64_si128((long long)h.high64));
#else
			x[k] = (v16u8)(v2u64){h.low64, h.high64};
#endif
		}
		v16u8 twos_a, twos_b, fours_a, fours_b, eights;
		csa(&twos_a, &ones, ones, x[0], x[1]);
		csa(&twos_b, &ones, ones, x[2], x[3]);
		csa(&fours_a, &twos, twos, twos_a, twos_b);
		csa(&twos_a, &ones, ones, x[4], x[5]);
		csa(&twos_b, &ones, ones, x[6], x[7]);
		csa(&fours_b, &twos, twos, twos_a, twos_b);
		csa(&eights, &fours, fours, fours_a, fours_b);
		lanes_add(lanes, eights);
		if (++blocks % 255 == 0)
			lanes_flush(lanes, 8, count);
	}
	if (blocks < 255) {
		simhash_bits(lanes, ones, twos, fours, nfeat / 2, ret);
	} else { /* more than 2,032 shingles: the lanes were emptied into count[] */
		lanes_flush(lanes, 8, count);
		lanes_add(lanes, ones);
		lanes_flush(lanes, 1, count);
		lanes_add(lanes, twos);
		lanes_flush(lanes, 2, count);
		lanes_add(lanes, fours);
		lanes_flush(lanes, 4, count);
		for (unsigned b = 0; b < 128; b++)
			if (2u * count[b] > nfeat)
				ret->v[b / 64] |= (uint64_t)1 << (b % 64);
	}
	if (!ret->v[0] && !ret->v[1])
		ret->v[0] = 1; /* all zero means "no SimHash" */
}

/*
 * The buffers of a digest (the word line, its word starts, put_normalised's line buffers) and its
 * SHA-256 context, kept by each thread from one item to the next: they were allocated, grown and
 * freed for every item. Freed when the thread exits; buffers grown past DIGEST_KEEP_BYTES are not
 * kept.
 */
#define DIGEST_KEEP_BYTES (256u << 10)

struct digest_bufs {
	struct buf in, raw, norm;
	struct starts st;
	EVP_MD_CTX *sha; /* sha256_hex's */
	bool busy;	 /* lent to a digest */
};

static _Thread_local struct digest_bufs *thread_bufs;

static void digest_bufs_clear(struct digest_bufs *b)
{
	buf_free(&b->in);
	buf_free(&b->raw);
	buf_free(&b->norm);
	free(b->st.v);
	b->st = (struct starts){0};
	EVP_MD_CTX_free(b->sha);
	b->sha = NULL;
}

static void digest_bufs_free_cb(void *arg)
{
	digest_bufs_clear(arg);
	free(arg);
}

static struct thread_slot bufs_slot = THREAD_SLOT(digest_bufs_free_cb);

/* The calling thread's buffers (emptied), or NULL when it has none to lend (every digest then
 * allocates its own: correct, slower). */
static struct digest_bufs *digest_bufs_take(void)
{
	struct digest_bufs *b = thread_bufs;
	if (!b) {
		b = xcalloc(1, sizeof(*b));
		if (!thread_slot_keep(&bufs_slot, b)) {
			free(b);
			return NULL;
		}
		thread_bufs = b;
	}
	if (b->busy)
		return NULL;
	b->busy = true;
	buf_reset(&b->in);
	b->st.n = 0;
	return b;
}

/* Gives back the buffers of digest_bufs_take, or frees them when they are not the thread's. */
static void digest_bufs_give(struct digest_bufs *b)
{
	if (b != thread_bufs) {
		digest_bufs_clear(b);
		return;
	}
	if (b->in.cap + b->raw.cap + b->norm.cap + b->st.cap * sizeof(*b->st.v) > DIGEST_KEEP_BYTES)
		digest_bufs_clear(b);
	b->busy = false;
}

static void digest(const char *title, const char *text, char ret_hash[DEDUP_HASH_HEX],
		   struct dedup_simhash *ret_simhash, bool reference)
{
	struct digest_bufs own = {0}, *b = reference ? NULL : digest_bufs_take();
	if (!b)
		b = &own;
	struct buf *in = &b->in;
	size_t title_len = title ? strlen(title) : 0, text_len = text ? strlen(text) : 0;
	/* The words are seldom longer than what they were read from: room for them at once. */
	buf_reserve(in, title_len + text_len + 16);
	put_normalised(in, title, title_len, reference, &b->st, &b->raw, &b->norm);
	buf_putc(in, '\n');
	size_t body = in->len;
	/* The SimHash's word starts are noted as the text's words are written. */
	b->st.n = 0;
	put_normalised(in, text, text_len, reference, &b->st, &b->raw, &b->norm);
	sha256_hex(&b->sha, in->p, in->len, ret_hash);
	if (ret_simhash && reference)
		simhash_words_reference(in->p + body, in->len - body, ret_simhash);
	else if (ret_simhash)
		simhash_words(in->p, in->len, b->st.v, b->st.n, ret_simhash);
	digest_bufs_give(b);
}

void dedup_digest(const char *title, const char *text, char ret_hash[DEDUP_HASH_HEX],
		  struct dedup_simhash *ret_simhash)
{
	digest(title, text, ret_hash, ret_simhash, false);
}

void dedup_digest_reference(const char *title, const char *text, char ret_hash[DEDUP_HASH_HEX],
			    struct dedup_simhash *ret_simhash)
{
	digest(title, text, ret_hash, ret_simhash, true);
}

void dedup_content_hash(const char *title, const char *text, char out[DEDUP_HASH_HEX])
{
	dedup_digest(title, text, out, NULL);
}

void dedup_simhash(const char *text, struct dedup_simhash *ret)
{
	struct buf in = {0}, raw = {0}, norm = {0};
	struct starts st = {0};
	put_normalised(&in, text, text ? strlen(text) : 0, false, &st, &raw, &norm);
	simhash_words(in.p, in.len, st.v, st.n, ret);
	free(st.v);
	buf_free(&in);
	buf_free(&raw);
	buf_free(&norm);
}

int dedup_distance(const struct dedup_simhash *a, const struct dedup_simhash *b)
{
	return __builtin_popcountll(a->v[0] ^ b->v[0]) + __builtin_popcountll(a->v[1] ^ b->v[1]);
}

/* A field as fingerprint input: its length (or a NULL marker) then its bytes, so ("ab", "c") and
 * ("a", "bc") or (NULL, "") differ. */
static uint64_t fp_field(uint64_t seed, const char *s)
{
	if (!s)
		return XXH3_64bits_withSeed("", 0, seed ^ 0x9e3779b97f4a7c15ull);
	return XXH3_64bits_withSeed(s, strlen(s), seed + 1);
}

uint64_t dedup_fingerprint(const char *title, const char *summary, const char *content)
{
	return fp_field(fp_field(fp_field(0, title), summary), content);
}

/* Query parameters that only say where a reader came from. A name ending in '*' is a prefix. */
static const char *const tracking_params[] = {
    "utm_*",					       /* Google Analytics campaigns */
    "xtor",	   "xts",	"xtref",       "at_*", /* AT Internet (XiTi), French press */
    "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname", "ns_fee", /* comScore */
    "pk_*",	   "mtm_*", /* Matomo (Piwik) campaigns */
    "fbclid",	   "gclid",	"dclid",       "msclkid",     "yclid",	"twclid",
    "ttclid",	   "li_fat_id", "srsltid",     "igshid",      "_ga", /* ad and click ids */
    "mc_cid",	   "mc_eid",					     /* Mailchimp */
    "_hsenc",	   "_hsmi",	"mkt_tok",		   /* HubSpot, Marketo newsletters */
    "ocid",	   "cmp",	"wt_mc",       "wt.mc_id", /* MSN, Le Monde-style, Webtrends */
};

static bool is_tracking(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(tracking_params); i++) {
		const char *t = tracking_params[i];
		size_t tl = strlen(t);
		if (t[tl - 1] == '*') {
			if (len >= tl - 1 && !strncasecmp(name, t, tl - 1))
				return true;
		} else if (len == tl && !strncasecmp(name, t, tl)) {
			return true;
		}
	}
	return false;
}

/* Rebuilds query q without its tracking parameters; returns a new string, NULL when none left. */
static char *strip_tracking(const char *q)
{
	struct buf b = {0};
	for (const char *p = q; *p;) {
		size_t n = strcspn(p, "&");
		size_t name = strcspn(p, "=&");
		if (n && !is_tracking(p, name)) {
			if (b.len)
				buf_putc(&b, '&');
			buf_append(&b, p, n);
		}
		p += n;
		if (*p)
			p++;
	}
	return b.len ? buf_steal(&b) : NULL;
}

/*
 * curl_url_get(u, CURLUPART_URL, ...) as xstrdup'd string, put together from the parts curl
 * gives for the URLs feeds link to: an http(s) URL without user, password or options, whose
 * host is no IPv6 literal and holds no '%', whose path starts with '/' and that has no fragment
 * reads "scheme://host[:port]path[?query]" (the query only when not empty), which is what curl's
 * URL get prints for it with flags 0. Its printf was half the cost of a canonical URL. NULL for
 * any other URL: the caller asks curl for the whole URL then. dedup_canonical_url_reference
 * always asks curl; the tests hold the two to the same strings.
 */
static char *url_join(CURLU *u)
{
	char *part[4] = {NULL}, *ret = NULL; /* scheme, host, path, query */
	char *x = NULL, *port = NULL;
	if (curl_url_get(u, CURLUPART_USER, &x, 0) != CURLUE_NO_USER ||
	    curl_url_get(u, CURLUPART_PASSWORD, &x, 0) != CURLUE_NO_PASSWORD ||
	    curl_url_get(u, CURLUPART_OPTIONS, &x, 0) != CURLUE_NO_OPTIONS ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &x, 0) != CURLUE_NO_FRAGMENT)
		goto out;
	CURLUPart which[3] = {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PATH};
	for (int i = 0; i < 3; i++)
		if (curl_url_get(u, which[i], &part[i], 0) != CURLUE_OK)
			goto out;
	CURLUcode qc = curl_url_get(u, CURLUPART_QUERY, &part[3], 0);
	CURLUcode pc = curl_url_get(u, CURLUPART_PORT, &port, 0);
	if ((qc != CURLUE_OK && qc != CURLUE_NO_QUERY) || (pc != CURLUE_OK && pc != CURLUE_NO_PORT))
		goto out;
	if ((strcmp(part[0], "http") && strcmp(part[0], "https")) || !part[1][0] ||
	    part[1][0] == '[' || strchr(part[1], '%') || part[2][0] != '/')
		goto out;
	struct buf b = {0};
	buf_puts(&b, part[0]);
	buf_puts(&b, "://");
	buf_puts(&b, part[1]);
	if (port) {
		buf_putc(&b, ':');
		buf_puts(&b, port);
	}
	buf_puts(&b, part[2]);
	if (part[3] && part[3][0]) {
		buf_putc(&b, '?');
		buf_puts(&b, part[3]);
	}
	ret = buf_steal(&b);
out:
	curl_free(x);
	curl_free(port);
	for (int i = 0; i < 4; i++)
		curl_free(part[i]);
	return ret;
}

/* True for the bytes curl keeps as they are in a path or a query when it is given no flags:
 * letters, digits and the URL punctuation but for '#' (the query's '?' is allowed in it too). */
static bool url_plain_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-._~!$&'()*+,;=:@%/?", c));
}

/*
 * The canonical form of the URLs most feeds link to, without curl: "http://" or "https://", a
 * host of lower-case letters, digits, '-' and '.' (no empty label) whose last label starts with
 * a letter (so no IPv4 address, which curl would normalise), then a path from '/' and an
 * optional query and fragment of url_plain_char bytes, without dot segments. curl parses such a
 * URL into the same parts and url_join prints them back: the URL with its fragment dropped and
 * its query stripped of tracking. NULL for any other URL: the caller asks curl.
 */
static char *canonical_plain(const char *url)
{
	size_t i = strncmp(url, "https://", 8) == 0 ? 8 : strncmp(url, "http://", 7) == 0 ? 7 : 0;
	if (!i)
		return NULL;
	size_t label = i; /* where the host's current label starts */
	for (; url[i] != '/'; i++) {
		char c = url[i];
		if (c == '.' && i > label)
			label = i + 1;
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return NULL;
	}
	if (i == label || url[label] < 'a' || url[label] > 'z')
		return NULL;
	size_t query = 0, end = i;
	for (; url[end] && url[end] != '#'; end++) {
		/* curl writes the hex digits of a query's escapes in lower case */
		if (!url_plain_char((unsigned char)url[end]) ||
		    (url[end] == '.' && url[end - 1] == '/' && !query) ||
		    (url[end] == '%' && query))
			return NULL;
		if (url[end] == '?' && !query)
			query = end;
	}
	for (size_t k = end; url[k]; k++) /* the fragment: anything curl's parser accepts */
		if ((unsigned char)url[k] <= ' ' || (unsigned char)url[k] >= 0x7f)
			return NULL;
	if (!query)
		return xstrndup(url, end);
	struct buf b = {0};
	buf_append(&b, url, query);
	char *q = xstrndup(url + query + 1, end - query - 1);
	char *kept = strip_tracking(q);
	if (kept) {
		buf_putc(&b, '?');
		buf_puts(&b, kept);
	}
	free(kept);
	free(q);
	return buf_steal(&b);
}

static char *canonical_url(const char *url, bool reference)
{
	char *ret = NULL, *scheme = NULL, *host = NULL, *port = NULL, *query = NULL;
	char *q = NULL;
	if (!url)
		return NULL;
	if (!reference && (ret = canonical_plain(url)) != NULL)
		return ret;
	CURLU *u = curl_url();
	if (!u)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		goto out;
	bool https = !strcasecmp(scheme, "https");
	if (!https && strcasecmp(scheme, "http"))
		goto out;
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
		goto out;
	bool upper = false;
	for (char *h = host; *h; h++) {
		if (*h >= 'A' && *h <= 'Z') {
			*h = (char)(*h - 'A' + 'a');
			upper = true;
		}
	}
	/* The scheme in lower case (set only when it is not: the same string otherwise). */
	const char *want = https ? "https" : "http";
	if ((upper && curl_url_set(u, CURLUPART_HOST, host, 0) != CURLUE_OK) ||
	    (strcmp(scheme, want) && curl_url_set(u, CURLUPART_SCHEME, want, 0) != CURLUE_OK))
		goto out;
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK &&
	    !strcmp(port, https ? "443" : "80") &&
	    curl_url_set(u, CURLUPART_PORT, NULL, 0) != CURLUE_OK)
		goto out;
	if (curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK) {
		q = strip_tracking(query);
		if (curl_url_set(u, CURLUPART_QUERY, q, 0) != CURLUE_OK)
			goto out;
	}
	if (!reference && (ret = url_join(u)) != NULL)
		goto out;
	char *s = NULL;
	if (curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK)
		goto out;
	ret = xstrdup(s);
	curl_free(s);
out:
	free(q);
	curl_free(query);
	curl_free(port);
	curl_free(host);
	curl_free(scheme);
	curl_url_cleanup(u);
	return ret;
}

char *dedup_canonical_url(const char *url)
{
	return canonical_url(url, false);
}

char *dedup_canonical_url_reference(const char *url)
{
	return canonical_url(url, true);
}
