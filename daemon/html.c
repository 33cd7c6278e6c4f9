/*
 * html.c - HTML fragments into plain text with libxml2's HTML parser.
 *
 * The input is one field of a feed, already bounded by the caller. html_to_text_parsed reads
 * the parser's SAX events as they come, with no tree (a tree of many elements took a hundred
 * times the field's size): it stops once max bytes of text exist, drops script/style and other
 * non-text elements, turns block elements into line breaks and collapses white space, giving
 * the text a walk of the tree libxml2 would have built gave (see sax_state).
 *
 * Most feed HTML is a few paragraphs of text with inline markup and entities, and libxml2's
 * parser was half of a feed's parse time. fast_text() reads that common case in one pass and
 * gives the same text the parser does; it declines (and the parser runs) at the first thing
 * whose meaning it would have to guess: a tag outside its short list, an element libxml2 would
 * close implicitly (its own htmlAutoCloseTag decides), a mismatched end tag, a comment, an
 * unknown or unterminated entity, a control character.
 */
#include "html.h"

#include "bounds.h"
#include "swar.h"
#include "util.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>
#include <libxml/SAX2.h>
#include <libxml/entities.h>
#include <libxml/parserInternals.h>

/* Elements whose content is not text a reader sees (sorted: searched with bsearch). */
static const char *const skipped[] = {
    "applet", "audio", "button",   "canvas",   "embed",	 "head",   "iframe",
    "map",    "math",  "noembed",  "noscript", "object", "script", "select",
    "style",  "svg",   "template", "textarea", "title",	 "video",
};

/* Elements that break a line (sorted). */
static const char *const blocks[] = {
    "address", "article", "aside", "blockquote", "br",	       "caption", "dd",	     "details",
    "div",     "dl",	  "dt",	   "fieldset",	 "figcaption", "figure",  "footer",  "form",
    "h1",      "h2",	  "h3",	   "h4",	 "h5",	       "h6",	  "header",  "hr",
    "li",      "main",	  "nav",   "ol",	 "p",	       "pre",	  "section", "summary",
    "table",   "td",	  "th",	   "tr",	 "ul",
};

static int cmp_name(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

/* libxml2's HTML parser gives element names in lower case. */
static bool in_list(const char *name, const char *const *list, size_t n)
{
	return bsearch(name, list, n, sizeof(*list), cmp_name) != NULL;
}

struct out {
	struct buf b;
	size_t max;
	int pending; /* 0 nothing, 1 a space, 2 a line break owed before the next text */
};

static bool out_full(const struct out *o)
{
	return o->b.len > o->max;
}

static void out_break(struct out *o, int kind)
{
	if (o->pending < kind)
		o->pending = kind;
}

/* The white space out_text collapses: ' ', '\t', '\n', '\v', '\f', '\r' (bit c set for c). */
#define SPACE_CHARS                                                                                \
	(1ull << ' ' | 1ull << '\t' | 1ull << '\n' | 1ull << '\v' | 1ull << '\f' | 1ull << '\r')

static bool is_space_char(unsigned char c)
{
	return c <= ' ' && (SPACE_CHARS >> c & 1u);
}

/* In the high bit of each byte of x (the 8 bytes at p, the first in the low byte): the white
 * space bytes of SPACE_CHARS, and among them the spaces ' '. Exact for every byte. */
static uint64_t spaces8(const unsigned char *p, uint64_t *ret_blank)
{
	uint64_t x = load8_le(p);
	uint64_t t = x & ~SWAR_HIGHS, y = (x ^ SWAR_ONES * ' ') & ~SWAR_HIGHS;
	uint64_t blank = ~(y + ~SWAR_HIGHS) & ~x & SWAR_HIGHS;			      /* == ' ' */
	uint64_t ctl = (t + SWAR_ONES * (0x80 - 9)) & ~(t + SWAR_ONES * (0x80 - 14)); /* 9..13 */
	*ret_blank = blank;
	return blank | (ctl & ~x & SWAR_HIGHS);
}

/*
 * Where the run of out_text that starts with the word at q (not white space) ends: at the first
 * white space that is not a single ' ' between two words, or at the limit'th byte from q (one
 * further when that byte follows such a ' ': the run steps over a ' ' and the byte after it at
 * once). What a loop over the bytes gave, eight bytes at a time.
 */
static const unsigned char *run_end(const unsigned char *q, const unsigned char *end, size_t limit)
{
	if (limit == 0)
		limit = 1; /* the word's first byte is always taken (finish() cuts past max) */
	const unsigned char *lim = (size_t)(end - q) > limit ? q + limit : end, *p = q + 1;
	const unsigned char *scan = lim < end ? lim + 1 : end, *stop = scan;
	/* Eight bytes at a time, the white space that stops the run at once: any but ' ', and a
	 * ' ' followed by white space (the next byte's flag moved down onto it) or by the end; the
	 * last ' ' of the eight looks at the byte after them. */
#ifdef SWAR_SSE2
	for (; p + 16 <= scan; p += 16) {
		__m128i x = load16(p);
		unsigned blank = eq16(x, ' '), ws = blank | (below16(x, 14) & ~below16(x, 9));
		unsigned next = ws >> 1;
		if (p + 16 >= end || is_space_char(p[16]))
			next |= 1u << 15;
		unsigned m = (ws & ~blank) | (blank & next);
		if (m) {
			stop = p + first_bit(m);
			goto found;
		}
	}
#endif
	for (; p + 8 <= scan; p += 8) {
		uint64_t blank, ws = spaces8(p, &blank), next = ws >> 8;
		if (p + 8 >= end || is_space_char(p[8]))
			next |= (uint64_t)0x80 << 56;
		uint64_t m = (ws & ~blank) | (blank & next);
		if (m) {
			stop = p + first_flagged(m);
			goto found;
		}
	}
	/* The last few bytes, one at a time: a ' ' followed by a word does not stop the run. */
	for (; p < scan; p++) {
		if (is_space_char(*p) && (*p != ' ' || p + 1 >= end || is_space_char(p[1]))) {
			stop = p;
			goto found;
		}
	}
found:
	if (stop <= lim)
		return stop;
	return lim[-1] == ' ' ? lim + 1 : lim;
}

/* Appends the text s[0..len) (no NUL inside), collapsing white space runs (which count as one
 * space). Text that needs no collapsing (words one space apart) is copied a run at a time:
 * this runs over every byte of every item's text. */
static void out_text(struct out *o, const char *s, size_t len)
{
	const unsigned char *q = (const unsigned char *)s, *end = q + len;
	struct buf *b = &o->b;
	if (!len)
		return;
	/* The output is at most the input and one separator before it; past max nothing is kept. */
	buf_reserve(b, (len < o->max ? len : o->max) + 2);
	while (q < end && !out_full(o)) {
		if (is_space_char(*q)) {
			out_break(o, 1);
			q++;
			continue;
		}
		if (b->len > 0 && o->pending)
			b->p[b->len++] = o->pending == 2 ? '\n' : ' ';
		o->pending = 0;
		/* Words and the single spaces between them, as they are, up to one byte past max
		 * (finish() cuts there): the first space that is not alone ends the run. */
		size_t limit = o->max + 1 - b->len;
		const unsigned char *e = run_end(q, end, limit);
		size_t n = (size_t)(e - q);
		if (b->cap - b->len < n + 2)
			buf_reserve(b, n + 1);
		memcpy(b->p + b->len, q, n);
		b->len += n;
		q = e;
	}
	b->p[b->len] = '\0';
}

/* Replaces invalid UTF-8 bytes with U+FFFD so the parser never falls back to Latin-1. */
static char *repair_utf8(const char *s, size_t len)
{
	struct buf b = {0};
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t want = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
		if (want <= len - i && utf8_valid(s + i, want)) {
			buf_append(&b, s + i, want);
			i += want;
		} else {
			buf_puts(&b, "\xef\xbf\xbd");
			i++;
		}
	}
	return buf_steal(&b);
}

static char *finish(struct out *o)
{
	if (!o->b.p)
		return xstrdup("");
	o->b.len = utf8_cut(o->b.p, o->b.len, o->max);
	while (o->b.len > 0 && (o->b.p[o->b.len - 1] == ' ' || o->b.p[o->b.len - 1] == '\n'))
		o->b.len--;
	o->b.p[o->b.len] = '\0';
	return buf_steal(&o->b);
}

/* What fast_text() knows of an element. */
enum fast_kind {
	FAST_INLINE, /* text-level: no line break */
	FAST_BLOCK,  /* a line break before and after */
	FAST_VOID,   /* no content, no end tag: br, hr (blocks), img (a space) */
};

/* The elements fast_text() reads (sorted). Inline ones are all in libxml2's allowPCData list, so
 * its parser keeps white space between them as we do. */
static const struct fast_tag {
	const char *name;
	enum fast_kind kind;
} fast_tags[] = {
    {"a", FAST_INLINE},		{"abbr", FAST_INLINE},	{"b", FAST_INLINE},
    {"blockquote", FAST_BLOCK}, {"br", FAST_VOID},	{"cite", FAST_INLINE},
    {"code", FAST_INLINE},	{"div", FAST_BLOCK},	{"em", FAST_INLINE},
    {"h1", FAST_BLOCK},		{"h2", FAST_BLOCK},	{"h3", FAST_BLOCK},
    {"h4", FAST_BLOCK},		{"h5", FAST_BLOCK},	{"h6", FAST_BLOCK},
    {"hr", FAST_VOID},		{"i", FAST_INLINE},	{"img", FAST_VOID},
    {"li", FAST_BLOCK},		{"ol", FAST_BLOCK},	{"p", FAST_BLOCK},
    {"q", FAST_INLINE},		{"small", FAST_INLINE}, {"span", FAST_INLINE},
    {"strong", FAST_INLINE},	{"u", FAST_INLINE},	{"ul", FAST_BLOCK},
};

static int cmp_fast_tag(const void *key, const void *elem)
{
	return strcmp(key, ((const struct fast_tag *)elem)->name);
}

#define FAST_DEPTH 16

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(unsigned char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Skips a tag's attributes from s[i]: returns the index after its '>' (*selfclose when it ends
 * with "/>"), or 0 when they are not plain name[=value] pairs. */
static size_t fast_attrs(const char *s, size_t len, size_t i, bool *selfclose)
{
	*selfclose = false;
	for (;;) {
		while (i < len && is_ws((unsigned char)s[i]))
			i++;
		if (i >= len)
			return 0;
		if (s[i] == '>')
			return i + 1;
		if (s[i] == '/' && i + 1 < len && s[i + 1] == '>') {
			*selfclose = true;
			return i + 2;
		}
		if (!is_alpha((unsigned char)s[i]))
			return 0;
		while (i < len &&
		       (is_alnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_' || s[i] == ':'))
			i++;
		while (i < len && is_ws((unsigned char)s[i]))
			i++;
		if (i < len && s[i] == '=') {
			i++;
			while (i < len && is_ws((unsigned char)s[i]))
				i++;
			if (i < len && (s[i] == '"' || s[i] == '\'')) {
				const char *q = memchr(s + i + 1, s[i], len - i - 1);
				if (!q || memchr(s + i + 1, '<', (size_t)(q - s) - i - 1))
					return 0;
				i = (size_t)(q - s) + 1;
			} else {
				size_t v = i;
				while (i < len && !is_ws((unsigned char)s[i]) && s[i] != '>' &&
				       !strchr("\"'=<`", s[i]))
					i++;
				if (i == v)
					return 0;
			}
		}
	}
}

/* HTML 4's named character entities, libxml2's table (read through htmlEntityValueLookup, value
 * by value, the first time one is looked up) sorted by name: htmlEntityLookup compares a name
 * with all 253 names in turn, which a feed of a million unknown references made 2 s of work. */
static struct html_entity {
	const char *name;
	unsigned value;
} html_entities[300];
static size_t html_nentities;
static pthread_once_t html_entities_once = PTHREAD_ONCE_INIT;

static int html_entity_cmp(const void *a, const void *b)
{
	return strcmp(((const struct html_entity *)a)->name, ((const struct html_entity *)b)->name);
}

static void html_entities_init(void)
{
	/* HTML 4's largest value is 9830 (U+2666) */
	for (unsigned v = 1; v < 0x3000 && html_nentities < ARRAY_SIZE(html_entities); v++) {
		const htmlEntityDesc *e = htmlEntityValueLookup(v);
		if (e && e->name)
			html_entities[html_nentities++] =
			    (struct html_entity){(const char *)e->name, e->value};
	}
	qsort(html_entities, html_nentities, sizeof(html_entities[0]), html_entity_cmp);
}

unsigned html_entity_value(const char *name)
{
	pthread_once(&html_entities_once, html_entities_init);
	struct html_entity key = {name, 0};
	const struct html_entity *e =
	    bsearch(&key, html_entities, html_nentities, sizeof(html_entities[0]), html_entity_cmp);
	return e ? e->value : 0;
}

/* Decodes the reference at s[i] ('&'): appends its UTF-8 to b and returns the index after its
 * ';', or 0 when libxml2 might read it differently (unknown, unterminated, not a character). */
static size_t fast_ref(const char *s, size_t len, size_t i, struct buf *b)
{
	size_t j = i + 1;
	unsigned long v = 0;
	if (j < len && s[j] == '#') {
		j++;
		bool hex = j < len && (s[j] == 'x' || s[j] == 'X');
		j += hex;
		size_t start = j;
		for (; j < len && j - start < 7; j++) {
			unsigned char c = (unsigned char)s[j];
			int d = c >= '0' && c <= '9'	      ? c - '0'
				: hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
				: hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
							      : -1;
			if (d < 0)
				break;
			v = v * (hex ? 16 : 10) + (unsigned long)d;
		}
		if (j == start || j >= len || s[j] != ';')
			return 0;
	} else {
		char name[16];
		size_t n = 0;
		while (j < len && is_alnum((unsigned char)s[j]) && n < sizeof(name) - 1)
			name[n++] = s[j++];
		name[n] = '\0';
		if (!n || j >= len || s[j] != ';')
			return 0;
		if (!(v = html_entity_value(name)))
			return 0;
	}
	/* The characters XML allows but for the controls libxml2 would drop. */
	if (!(v == '\t' || v == '\n' || v == '\r' || (v >= 0x20 && v < 0xD800) ||
	      (v >= 0xE000 && v <= 0xFFFD) || (v >= 0x10000 && v <= 0x10FFFF)))
		return 0;
	unsigned char u[4];
	size_t k;
	if (v < 0x80) {
		u[0] = (unsigned char)v;
		k = 1;
	} else if (v < 0x800) {
		u[0] = (unsigned char)(0xC0 | (v >> 6));
		u[1] = (unsigned char)(0x80 | (v & 0x3F));
		k = 2;
	} else if (v < 0x10000) {
		u[0] = (unsigned char)(0xE0 | (v >> 12));
		u[1] = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
		u[2] = (unsigned char)(0x80 | (v & 0x3F));
		k = 3;
	} else {
		u[0] = (unsigned char)(0xF0 | (v >> 18));
		u[1] = (unsigned char)(0x80 | ((v >> 12) & 0x3F));
		u[2] = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
		u[3] = (unsigned char)(0x80 | (v & 0x3F));
		k = 4;
	}
	buf_append(b, u, k);
	return j + 1;
}

/* True when opening name would make libxml2 close the open element open (or when nesting one in
 * the other is something it repairs). */
static bool fast_closes(const char *name, const char *open, enum fast_kind kind,
			enum fast_kind open_kind)
{
	if (!strcmp(name, open))
		return true; /* p in p, li in li, a in a... */
	if (kind == FAST_BLOCK && open_kind == FAST_INLINE)
		return true; /* a block in a text-level element */
	xmlNode probe = {.type = XML_ELEMENT_NODE, .name = (const xmlChar *)name};
	return htmlAutoCloseTag(NULL, (const xmlChar *)open, &probe) != 0;
}

/* True when the 8 bytes at s are plain text to fast_text: none of '<', '&', a control
 * character, DEL or 0xEF (which starts U+FFFE and U+FFFF). Eight bytes per test where it
 * tested one. */
static bool plain8(const char *s)
{
	uint64_t x;
	memcpy(&x, s, 8);
	return !(has_below(x, 0x20) | has_byte(x, '<') | has_byte(x, '&') | has_byte(x, 0x7F) |
		 has_byte(x, 0xEF));
}

/*
 * The text of s[0..len) (valid UTF-8) into o, as html_to_text_parsed would give it;
 * false (o then holds a partial result) when the fragment needs libxml2's parser.
 */
static bool fast_text(const char *s, size_t len, struct out *o)
{
	const struct fast_tag *stack[FAST_DEPTH];
	size_t depth = 0;
	struct buf text = {0};
	bool ok = false;
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c == '&') {
			size_t j = fast_ref(s, len, i, &text);
			if (!j)
				goto out;
			i = j;
			continue;
		}
		if (c != '<') {
			size_t j = i;
#ifdef SWAR_SSE2
			for (; j + 16 <= len; j += 16) {
				__m128i x = load16(s + j);
				unsigned m = below16(x, 0x20) | eq16(x, '<') | eq16(x, '&') |
					     eq16(x, 0x7F) | eq16(x, 0xEF);
				if (m) {
					j += first_bit(m);
					break;
				}
			}
#endif
			while (j + 8 <= len && plain8(s + j))
				j += 8;
			while (j < len && s[j] != '<' && s[j] != '&') {
				unsigned char d = (unsigned char)s[j];
				if ((d < 0x20 && !is_ws(d)) || d == 0x7F)
					goto out; /* libxml2 drops these */
				if (d == 0xEF && j + 2 < len && (unsigned char)s[j + 1] == 0xBF &&
				    (unsigned char)s[j + 2] >= 0xBE)
					goto out; /* U+FFFE, U+FFFF */
				j++;
			}
			/* Text between two tags, the most common, goes to out_text as it is;
			 * text next to a reference is gathered first (out_text reads it whole). */
			if (!text.len && (j >= len || s[j] == '<'))
				out_text(o, s + i, j - i);
			else
				buf_append(&text, s + i, j - i);
			i = j;
			continue;
		}
		/* A tag: flush the text before it. */
		if (text.len) {
			out_text(o, text.p, text.len);
			buf_reset(&text);
		}
		bool end = i + 1 < len && s[i + 1] == '/';
		size_t j = i + 1 + end, n = 0;
		char name[12];
		while (j < len && is_alnum((unsigned char)s[j]) && n < sizeof(name) - 1) {
			char ch = s[j++];
			name[n++] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
		}
		name[n] = '\0';
		if (!n || !is_alpha((unsigned char)name[0]) ||
		    (j < len && is_alnum((unsigned char)s[j])))
			goto out;
		const struct fast_tag *t = bsearch(name, fast_tags, ARRAY_SIZE(fast_tags),
						   sizeof(*fast_tags), cmp_fast_tag);
		if (!t)
			goto out;
		if (end) {
			while (j < len && is_ws((unsigned char)s[j]))
				j++;
			if (j >= len || s[j] != '>' || t->kind == FAST_VOID || !depth ||
			    stack[depth - 1] != t)
				goto out;
			depth--;
			if (t->kind == FAST_BLOCK)
				out_break(o, 2);
			i = j + 1;
			continue;
		}
		bool selfclose;
		j = fast_attrs(s, len, j, &selfclose);
		if (!j)
			goto out;
		for (size_t k = 0; k < depth; k++)
			if (fast_closes(t->name, stack[k]->name, t->kind, stack[k]->kind))
				goto out;
		if (t->kind == FAST_VOID) {
			out_break(o, strcmp(t->name, "img") ? 2 : 1);
		} else if (selfclose) {
			goto out; /* "<b/>", "<p/>": left to libxml2 */
		} else {
			if (depth == FAST_DEPTH)
				goto out;
			stack[depth++] = t;
			if (t->kind == FAST_BLOCK)
				out_break(o, 2);
		}
		i = j;
	}
	if (text.len)
		out_text(o, text.p, text.len);
	ok = true;
out:
	buf_free(&text);
	return ok;
}

char *text_collapse(const char *s, size_t len, size_t max)
{
	struct out o = {.max = max};
	out_text(&o, s, len);
	if (!o.b.len) {
		buf_free(&o.b);
		return NULL;
	}
	return finish(&o);
}

/* html_to_text, with valid saying whether html is known to be valid UTF-8. */
static char *to_text(const char *html, size_t len, size_t max, bool valid)
{
	struct out o = {.max = max};
	if (!html || len == 0 || max == 0)
		return xstrdup("");
	/* The text is never longer than the markup it is read from (a tag or a reference is
	 * longer than the break or the character it becomes): room for it at once, where
	 * out_text grew the buffer paragraph by paragraph. */
	buf_reserve(&o.b, (len < max ? len : max) + 2);
	/* Plain text needs no parser: only white space to collapse. */
	if (!memchr(html, '<', len) && !memchr(html, '&', len) &&
	    (valid || utf8_valid(html, len))) {
		out_text(&o, html, strnlen(html, len));
		return finish(&o);
	}
	if ((valid || utf8_valid(html, len)) && fast_text(html, len, &o))
		return finish(&o);
	buf_free(&o.b);
	return html_to_text_parsed(html, len, max);
}

char *html_to_text(const char *html, size_t len, size_t max)
{
	return to_text(html, len, max, false);
}

char *html_to_text_utf8(const char *html, size_t len, size_t max)
{
	return to_text(html, len, max, true);
}

/*
 * The references whose '&' is written "&amp;" before the parser reads them, for text that reads
 * the same ("&" then the name, as written) and no error less or more:
 *  - a name that holds a non-ASCII byte: libxml2 2.9's HTML parser reads it through
 *    htmlParseNameComplex, which, past 100 characters, asks for more input and, when the buffer
 *    has moved meanwhile, starts the name again from where it had got to: the name's start is
 *    lost, and whether the buffer moves depends on the heap, so the same text came out
 *    shortened in one run and whole in another. HTML's names are all ASCII: never an entity.
 *  - a name that is no HTML entity, followed by ';': htmlParseEntityRef reads the name
 *    (htmlParseName: a letter, '_' or ':', then letters, digits, '_', '-', ':', '.'), looks it up
 *    (htmlEntityLookup compares it with all 253 names in turn: 8 MB of "&zzzz;" took 2.4 s),
 *    finds nothing, raises no error and leaves the ';'; htmlParseReference then gives "&" and
 *    the name as text, and the ';' is read as text. Without the ';' it raises an error (which
 *    counts towards HTML_MAX_ERRORS), so that '&' is left as it is.
 * Numeric references ("&#") are left as they are. escape_refs gives NULL when there is no such
 * '&'.
 */
static bool escape_ref(const char *p, const char *end)
{
	const char *q = p;
	bool wide = false;
	for (; q < end; q++) {
		unsigned char c = (unsigned char)*q;
		if (c >= 0x80)
			wide = true;
		else if (!is_alnum(c) && c != '_' && c != '-' && c != ':' && c != '.')
			break;
	}
	if (wide)
		return true;
	/* An ASCII name: escaped when a ';' follows it and it is no entity. */
	size_t n = (size_t)(q - p);
	if (!n || q >= end || *q != ';' || !(is_alpha((unsigned char)*p) || *p == '_' || *p == ':'))
		return false;
	char name[16];
	if (n >= sizeof(name))
		return true; /* longer than any entity's */
	memcpy(name, p, n);
	name[n] = '\0';
	return html_entity_value(name) == 0;
}

static char *escape_refs(const char *s, size_t len, size_t *ret_len)
{
	const char *end = s + len;
	size_t n = 0;
	for (const char *p = s; (p = memchr(p, '&', (size_t)(end - p)));)
		n += escape_ref(++p, end);
	if (!n)
		return NULL;
	/* Written at its size at once: 8 MB of references grew a buffer to 16 MB. */
	struct buf b = {0};
	buf_reserve(&b, len + 4 * n + 1);
	size_t done = 0;
	for (const char *p = s; (p = memchr(p, '&', (size_t)(end - p)));) {
		if (!escape_ref(++p, end))
			continue;
		buf_append(&b, s + done, (size_t)(p - 1 - s) - done);
		buf_append(&b, "&amp;", 5);
		done = (size_t)(p - s);
	}
	buf_append(&b, s + done, len - done);
	*ret_len = b.len;
	return buf_steal(&b);
}

/* Errors the HTML parser goes on past. libxml2 2.9.14 formats each one even with
 * HTML_PARSE_NOERROR: 1 MB descriptions of bare '&' took 3 s. Past the bound the parser stops, and
 * the text is what it read before. */
#define HTML_MAX_ERRORS 1000

/*
 * The parser's events read as they come, with no tree: a 1 MB field of many elements built a
 * tree of 28 to 42 MB (libxml2's nodes) that was walked once and freed. The text is the one the
 * walk of that tree gave; what is kept is what the walk needed and what libxml2's tree builder
 * (SAX2.c's handlers, which built it from the same events) did that showed in it:
 *  - the open elements, at most as many as the builder allowed (its nodePush stopped the parser
 *    past xmlParserMaxDepth open nodes): for each, whether the walk reached it, whether it read
 *    its children (not an element of skipped[], at most VEILLE_MAX_DEPTH deep) and whether it
 *    breaks a line (blocks[]: a paragraph break on entering it and on leaving it; img owes a
 *    space);
 *  - the builder named an element by the local part of a prefixed name: "o:p" is a p;
 *  - text: the builder dropped text outside any element, and joined the characters of adjacent
 *    calls into one node, which the walk gave to out_text at once; each call's text goes to
 *    out_text as it comes, which gives the same (out_text's state between two calls, the text
 *    so far and the separator it owes, is what it has at that point of one call);
 *  - an element started with no element open (after </html>) went under the document's first
 *    node when that was the first html element (one level deeper), beside it otherwise (a
 *    DOCTYPE, which goes first, a comment, a processing instruction);
 *  - errors the builder raised, which count towards HTML_MAX_ERRORS: see sax_ids.
 * White space the HTML parser finds ignorable (areBlanks) is still given to characters in
 * libxml2 2.9.14 (ctxt->keepBlanks, never cleared without HTML_PARSE_NOBLANKS), and
 * ignorableWhitespace is set to nothing as SAX2's was. Once the output is full the parser is
 * stopped.
 */
enum sax_top {
	SAX_TOP_NONE,	 /* the document has no node yet */
	SAX_TOP_ELEMENT, /* its first node is the first html element */
	SAX_TOP_OTHER,	 /* a comment or a processing instruction */
};

struct sax_level {
	int depth;  /* in the tree, the first html element at 0 */
	bool shown; /* the walk reached it */
	bool read;  /* the walk read its children */
	bool block;
};

struct sax_state {
	htmlParserCtxtPtr ctxt;
	struct out o;
	struct sax_level *lv; /* max_open + 1 of them */
	size_t nlv, max_open;
	enum sax_top top;
	bool dtd;  /* a DOCTYPE was read: the builder made it the document's first node */
	bool done; /* stopped here: the rest of the events change nothing */
	uintptr_t errors;
	struct strtab ids; /* the IDs the builder registered */
};

/* One more error: past the bound the parser stops. */
static void sax_error(struct sax_state *st)
{
	if (++st->errors > HTML_MAX_ERRORS)
		xmlStopParser(st->ctxt);
}

static void html_error_cb(void *arg, xmlErrorPtr e)
{
	(void)e;
	htmlParserCtxtPtr ctxt = arg;
	if (ctxt && ctxt->_private)
		sax_error(ctxt->_private);
}

/*
 * The errors the builder (xmlSAX2AttributeInternal) raised for an element's attributes: an
 * "xml:id" whose value is no NCName, and an ID registered twice (xmlAddID, for "id", "xml:id"
 * and "name" on an <a>, when the value is not empty).
 */
static void sax_ids(struct sax_state *st, const char *local, const xmlChar **atts)
{
	for (size_t i = 0; atts && atts[i]; i += 2) {
		const char *name = (const char *)atts[i], *value = (const char *)atts[i + 1];
		if (!value)
			continue;
		bool xmlid = strcmp(name, "xml:id") == 0;
		if (xmlid && xmlValidateNCName(atts[i + 1], 1) != 0)
			sax_error(st);
		if (!xmlid && strcmp(name, "id") != 0 &&
		    !(strcmp(name, "name") == 0 && strcmp(local, "a") == 0))
			continue;
		if (*value && strtab_get(&st->ids, value)->value++) /* xmlAddID: registered twice */
			sax_error(st);
	}
}

static struct sax_state *sax_state(void *ctx)
{
	return ((htmlParserCtxtPtr)ctx)->_private;
}

static void sax_stop(struct sax_state *st)
{
	st->done = true;
	xmlStopParser(st->ctxt);
}

/* Text (or CDATA) in the open element: the walk read it when it read that element's children. */
static void sax_text(void *ctx, const xmlChar *s, int len)
{
	struct sax_state *st = sax_state(ctx);
	if (st->done || !st->nlv || len <= 0 || !st->lv[st->nlv - 1].read)
		return; /* the builder kept no text outside an element */
	out_text(&st->o, (const char *)s, (size_t)len);
	if (out_full(&st->o))
		sax_stop(st);
}

/* As SAX2's xmlSAX2IgnorableWhitespace: nothing. */
static void sax_ignorable(void *ctx, const xmlChar *s, int len)
{
	(void)ctx;
	(void)s;
	(void)len;
}

/* xmlSAX2InternalSubset made the first DOCTYPE the document's first node, and ignored others. */
static void sax_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id,
			const xmlChar *system_id)
{
	(void)name;
	(void)external_id;
	(void)system_id;
	sax_state(ctx)->dtd = true;
}

static void sax_start(void *ctx, const xmlChar *fullname, const xmlChar **atts)
{
	struct sax_state *st = sax_state(ctx);
	if (st->done)
		return;
	if (st->nlv > st->max_open) {
		sax_stop(st); /* nodePush's bound: the builder stopped the parser here */
		return;
	}
	int depth;
	bool shown;
	if (st->nlv) {
		const struct sax_level *p = &st->lv[st->nlv - 1];
		depth = p->depth + 1;
		shown = p->read;
	} else {
		depth =
		    !st->dtd && st->top == SAX_TOP_ELEMENT; /* under the first html, or beside */
		shown = true;
		if (st->top == SAX_TOP_NONE)
			st->top = SAX_TOP_ELEMENT;
	}
	/* The builder named the node by the local part of a prefixed name (xmlSplitQName, which
	 * raises its errors as it did then). */
	const xmlChar *name = fullname;
	xmlChar *local = NULL, *prefix = NULL;
	if (strchr((const char *)fullname, ':') &&
	    (local = xmlSplitQName(st->ctxt, fullname, &prefix)))
		name = xmlDictLookup(st->ctxt->dict, local, -1);
	xmlFree(local);
	xmlFree(prefix);
	if (!name)
		name = fullname;
	struct sax_level *l = &st->lv[st->nlv++];
	l->depth = depth;
	l->shown = shown;
	l->block = in_list((const char *)name, blocks, ARRAY_SIZE(blocks));
	l->read = shown && depth < VEILLE_MAX_DEPTH &&
		  !in_list((const char *)name, skipped, ARRAY_SIZE(skipped));
	if (shown) {
		if (l->block)
			out_break(&st->o, 2);
		else if (strcmp((const char *)name, "img") == 0)
			out_break(&st->o, 1);
	}
	sax_ids(st, (const char *)name, atts);
}

static void sax_end(void *ctx, const xmlChar *name)
{
	(void)name;
	struct sax_state *st = sax_state(ctx);
	if (st->done || !st->nlv)
		return;
	const struct sax_level *l = &st->lv[--st->nlv];
	if (l->shown && l->block)
		out_break(&st->o, 2);
}

/* A comment or a processing instruction: nothing in the text, but maybe the document's first
 * node. */
static void sax_other(struct sax_state *st)
{
	if (!st->nlv && st->top == SAX_TOP_NONE)
		st->top = SAX_TOP_OTHER;
}

static void sax_comment(void *ctx, const xmlChar *value)
{
	(void)value;
	sax_other(sax_state(ctx));
}

static void sax_pi(void *ctx, const xmlChar *target, const xmlChar *data)
{
	(void)target;
	(void)data;
	sax_other(sax_state(ctx));
}

/* What libxml2's memory input (xmlInputReadCallbackNop, not exported) reads past its end. */
static int read_nothing(void *context, char *buffer, int len)
{
	(void)context;
	(void)buffer;
	(void)len;
	return 0;
}

/*
 * htmlCtxtReadMemory(ctxt, html, len, NULL, "UTF-8", options) as libxml2 2.9.14 has it (with its
 * htmlDoRead), public calls only, but for the input: htmlCtxtReadMemory copied it
 * (xmlParserInputBufferCreateMem) before the switch to UTF-8 converted it into a buffer of its
 * own, two copies of it at once; it is read where it is (xmlParserInputBufferCreateStatic, with
 * the memory input's read callback, which gives nothing). 8 MB of references that escape_refs
 * made 13 MB were three copies of 13 MB.
 */
static htmlDocPtr read_static(htmlParserCtxtPtr ctxt, const char *html, int len)
{
	xmlInitParser();
	htmlCtxtReset(ctxt);
	xmlParserInputBufferPtr in =
	    xmlParserInputBufferCreateStatic(html, len, XML_CHAR_ENCODING_NONE);
	if (!in)
		return NULL;
	in->readcallback = read_nothing;
	xmlParserInputPtr stream = xmlNewIOInputStream(ctxt, in, XML_CHAR_ENCODING_NONE);
	if (!stream) {
		xmlFreeParserInputBuffer(in);
		return NULL;
	}
	inputPush(ctxt, stream);
	htmlCtxtUseOptions(ctxt, HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
				     HTML_PARSE_RECOVER | HTML_PARSE_COMPACT);
	ctxt->html = 1;
	xmlCharEncodingHandlerPtr utf8 = xmlFindCharEncodingHandler("UTF-8");
	if (utf8) {
		xmlSwitchToEncoding(ctxt, utf8);
		xmlFree((xmlChar *)ctxt->input->encoding);
		ctxt->input->encoding = xmlStrdup((const xmlChar *)"UTF-8");
	}
	htmlParseDocument(ctxt);
	htmlDocPtr doc = ctxt->myDoc;
	ctxt->myDoc = NULL;
	return doc;
}

char *html_to_text_parsed(const char *html, size_t len, size_t max)
{
	if (!html || len == 0 || max == 0)
		return xstrdup("");
	char *fixed = NULL;
	if (!utf8_valid(html, len)) {
		fixed = repair_utf8(html, len);
		html = fixed;
		len = strlen(fixed);
	}
	size_t escaped_len;
	char *escaped = escape_refs(html, len, &escaped_len);
	if (escaped) {
		free(fixed);
		fixed = escaped;
		html = escaped;
		len = escaped_len;
	}
	if (len > INT32_MAX)
		len = utf8_cut(html, INT32_MAX, INT32_MAX - 1);
	struct sax_state st = {.o = {.max = max}};
	htmlParserCtxtPtr ctxt = htmlNewParserCtxt();
	st.max_open = xmlParserMaxDepth; /* nodePush's bound */
	st.lv = calloc(st.max_open + 1, sizeof(*st.lv));
	if (ctxt && st.lv) {
		htmlSAXHandler sax = {
		    .internalSubset = sax_doctype,
		    .startElement = sax_start,
		    .endElement = sax_end,
		    .characters = sax_text,
		    .cdataBlock = sax_text,
		    .ignorableWhitespace = sax_ignorable,
		    .comment = sax_comment,
		    .processingInstruction = sax_pi,
		    /* Errors counted through the structured handler, which gets the context:
		     * libxml2 calls it only from a handler marked as SAX2's. */
		    .serror = html_error_cb,
		    .initialized = XML_SAX2_MAGIC,
		};
		*ctxt->sax = sax;
		ctxt->_private = &st;
		st.ctxt = ctxt;
		xmlFreeDoc(read_static(ctxt, html, (int)len)); /* no document: no startDocument */
	}
	if (ctxt)
		htmlFreeParserCtxt(ctxt);
	free(st.lv);
	free(fixed);
	strtab_free(&st.ids);
	return finish(&st.o);
}
