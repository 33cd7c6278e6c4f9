/*
 * feed.c - RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 documents into items.
 *
 * Three passes over a bounded body, none of which builds a tree of the whole document:
 *  1. decode: pick the encoding (BOM, then valid UTF-8 wins over labels, then the HTTP charset,
 *     then the XML declaration, else windows-1252) and transcode to UTF-8 with iconv, replacing
 *     invalid bytes with U+FFFD. Declared ISO-8859-1 is read as windows-1252 (its superset that
 *     feeds really use). Transcoding first means libxml2 only ever sees UTF-8 and the encoding
 *     declaration is ignored (XML_PARSE_IGNORE_ENC).
 *  2. tidy: the well-formedness errors real feeds make and that stop libxml2's reader for good
 *     are mended lexically: text before the XML declaration, HTML named entities XML does not
 *     define (turned into character references), bare '&' and '<', forbidden control characters
 *     and references to them. Comments and the DTD are copied verbatim. Text with references or
 *     non-ASCII characters, and the content of CDATA sections, is decoded by tidy and kept
 *     aside, the reader reading a short mark in its place (see side_text), unless that reading
 *     turns out broken (the text is then copied as it is, a section as escaped text). What
 *     libxml2 would read in more than linear time is bounded there too (TIDY_*, bound_markup).
 *  3. read: libxml2's xmlReader (streaming) with XML_PARSE_NONET | XML_PARSE_RECOVER, never
 *     XML_PARSE_NOENT, no DTD loading, no XML_PARSE_HUGE. Entities declared in the document come
 *     out as entity reference nodes and are dropped from text, never expanded; in attribute
 *     values they are read as libxml2 reads them, within a bound on the work (attr_value). When
 *     the XML is still broken the reader stops at the damage and the items completed before it
 *     are kept.
 * Elements are matched by namespace URI and local name, never by prefix.
 */
#include "feed.h"

#include "date.h"
#include "html.h"
#include "bounds.h"
#include "swar.h"
#include "util.h"

#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/parserInternals.h>
#include <libxml/uri.h>
#include <libxml/xmlreader.h>

/* Raw bytes kept for an HTML field before it is turned into text (markup costs bytes). */
#define RAW_HTML_MAX (4 * (size_t)VEILLE_MAX_TEXT)

enum ns {
	NS_NONE,
	NS_RSS, /* RSS 1.0, RSS 0.90 (Netscape), the userland RSS 2.0 namespace */
	NS_ATOM,
	NS_CONTENT,
	NS_DC,
	NS_DCTERMS,
	NS_MEDIA,
	NS_RDF,
	NS_XHTML,
	NS_OTHER,
};

#define URI(s) s, sizeof(s) - 1

static const struct {
	const char *uri;
	size_t len;
	enum ns ns;
} namespaces[] = {
    {URI("http://purl.org/rss/1.0/"), NS_RSS},
    {URI("http://my.netscape.com/rdf/simple/0.9/"), NS_RSS},
    {URI("http://backend.userland.com/rss2"), NS_RSS},
    {URI("http://www.w3.org/2005/Atom"), NS_ATOM},
    {URI("http://purl.org/atom/ns#"), NS_ATOM},
    {URI("http://purl.org/rss/1.0/modules/content/"), NS_CONTENT},
    {URI("http://purl.org/dc/elements/1.1/"), NS_DC},
    {URI("http://purl.org/dc/terms/"), NS_DCTERMS},
    {URI("http://search.yahoo.com/mrss/"), NS_MEDIA},
    {URI("http://search.yahoo.com/mrss"), NS_MEDIA},
    {URI("http://www.w3.org/1999/02/22-rdf-syntax-ns#"), NS_RDF},
    {URI("http://www.w3.org/1999/xhtml"), NS_XHTML},
};

#define RDF_NS "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

/* The raw values gathered for one item (or the channel) before they become a feed_item. */
enum slot {
	S_ID,
	S_LINK,
	S_TITLE,
	S_AUTHOR_DC,
	S_AUTHOR,
	S_AUTHOR_NAME, /* atom author/name */
	S_SUMMARY,
	S_CONTENT,
	S_MEDIA_DESC,
	S_PUBLISHED,
	S_UPDATED,
	S_TTL,
	S_MAX
};

enum kind {
	K_TEXT,	 /* plain text: children's text concatenated */
	K_HTML,	 /* text nodes are HTML source; child elements are re-serialised */
	K_XHTML, /* child elements are markup, text nodes are text (escaped when re-serialised) */
};

struct capture {
	bool active;
	enum slot slot;
	enum kind kind;
	int depth;
	size_t limit; /* raw bytes kept */
	struct buf b;
};

/* The slots kept raw until the item is complete, when their kind decides how they become text. */
static bool raw_slot(enum slot s)
{
	return s == S_TITLE || s == S_SUMMARY || s == S_CONTENT || s == S_MEDIA_DESC;
}

struct record {
	char *v[S_MAX]; /* new memory, but for the raw slots: their text in raw[] */
	/* The raw slots' text: capture_end swaps the capture's buffer with the slot's, so that the
	 * buffers serve one item after the other (no copy, no allocation per item) */
	struct buf raw[S_MAX];
	enum kind kind[S_MAX];
	bool guid_not_permalink;
};

/*
 * Text the reader is spared (see side_text): tidy reads it itself, keeps what the reader would
 * have made of it here and hands the reader a mark in its place, which capture_node replaces
 * with the text. A mark is two characters of the private use area U+E000..U+EFFF (whose UTF-8
 * starts with the byte 0xEE) holding where the text starts among those kept, 12 bits in each.
 */
#define MARK_LEN 6
#define MARK_MAX ((size_t)1 << 24) /* the texts kept start below */

struct side {
	struct buf text;    /* the texts, each followed by a NUL */
	size_t n;	    /* how many */
	bool clash;	    /* tidy wrote a reference to a character of the marks' range */
	struct buf scratch; /* a text node with its marks replaced */
};

struct parser {
	xmlTextReaderPtr r;
	struct feed_doc *doc;
	struct side *side; /* the texts of the marks (none in a plain reading) */
	size_t items_cap;
	int channel_depth; /* depth of <channel> / <feed>, -1 outside */
	int item_depth;	   /* depth of the open item, -1 outside */
	int author_depth;  /* depth of an open atom <author>, -1 outside */
	struct record item;
	struct record chan;
	struct capture cap;
	char error[160]; /* first error libxml2 reported */
	int error_line, error_col;
	size_t attr_visits; /* nodes visited reading attribute values in the document (attr_text) */
	size_t errors;	    /* errors libxml2 reported in this pass (MAX_ERRORS) */
	size_t nodes;	    /* nodes read in this pass (MAX_NAMES is checked every 64) */
	/* namespace declarations in scope of the open element at each depth (NS_IN_SCOPE) */
	unsigned ns_scope[VEILLE_MAX_DEPTH + 1];
};

/* Strings in libxml2's dictionary (the names of elements, attributes, prefixes, URIs, and short
 * or blank texts it interns). Its table stops growing at 16384 buckets: past that, each lookup
 * walks a chain that grows with the strings, and an 8 MB feed of distinct element names took
 * 27 s (xmllint too). A real feed holds a few hundred; the reading stops past the bound. */
#define MAX_NAMES 65536

/* Namespace declarations in scope of one element. libxml2 looks a prefix up by walking every
 * declaration of every ancestor: 250 on each of 200 nested elements made each prefixed name
 * below them cost 50,000 comparisons, an hour for an 8 MB feed. Real feeds hold a few dozen. */
#define NS_IN_SCOPE 128

static enum ns ns_of(const xmlChar *uri)
{
	if (!uri || !*uri)
		return NS_NONE;
	size_t n = strlen((const char *)uri); /* one or two of the URIs have that length */
	for (size_t i = 0; i < ARRAY_SIZE(namespaces); i++)
		if (namespaces[i].len == n && memcmp(uri, namespaces[i].uri, n) == 0)
			return namespaces[i].ns;
	return NS_OTHER;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- pass 1: encoding ------------------------------------------------------------------- */

enum charset { CS_NONE, CS_UTF8, CS_LATIN1, CS_UTF16, CS_OTHER };

static enum charset charset_class(const char *name)
{
	static const char *const utf8[] = {"utf-8", "utf8", "unicode-1-1-utf-8"};
	static const char *const latin1[] = {
	    "iso-8859-1", "iso8859-1",	  "iso_8859-1", "latin1",     "latin-1",
	    "l1",	  "us-ascii",	  "ascii",	"iso-ir-100", "cp819",
	    "ibm819",	  "windows-1252", "cp1252",	"x-cp1252"};
	if (!name || !*name)
		return CS_NONE;
	for (size_t i = 0; i < ARRAY_SIZE(utf8); i++)
		if (strcasecmp(name, utf8[i]) == 0)
			return CS_UTF8;
	for (size_t i = 0; i < ARRAY_SIZE(latin1); i++)
		if (strcasecmp(name, latin1[i]) == 0)
			return CS_LATIN1;
	if (strncasecmp(name, "utf-16", 6) == 0 || strncasecmp(name, "utf-32", 6) == 0 ||
	    strncasecmp(name, "ucs", 3) == 0)
		return CS_UTF16;
	return CS_OTHER;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Copies the encoding named by an XML declaration at the start of data (after white space)
 * into out; empty when there is none. */
static void decl_encoding(const char *data, size_t len, char *out, size_t outlen)
{
	out[0] = '\0';
	size_t i = 0;
	while (i < len && i < 4096 && is_space(data[i]))
		i++;
	if (len - i < 6 || memcmp(data + i, "<?xml", 5) != 0)
		return;
	size_t end = i + 5;
	while (end < len && end < i + 512 && data[end] != '>')
		end++;
	const char *d = data + i;
	size_t n = end - i;
	const char *e = memmem(d, n, "encoding", 8);
	if (!e)
		return;
	size_t k = (size_t)(e - d) + 8;
	while (k < n && is_space(d[k]))
		k++;
	if (k >= n || d[k] != '=')
		return;
	k++;
	while (k < n && is_space(d[k]))
		k++;
	if (k >= n || (d[k] != '"' && d[k] != '\''))
		return;
	char q = d[k++];
	size_t o = 0;
	while (k < n && d[k] != q && o + 1 < outlen) {
		char c = d[k++];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == ':')) {
			o = 0;
			break;
		}
		out[o++] = c;
	}
	out[o] = '\0';
}

/* Length of a valid UTF-8 sequence at p (n bytes available), 0 when invalid. */
static size_t utf8_len_at(const unsigned char *p, size_t n)
{
	size_t want = p[0] < 0x80 ? 1 : p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
	if (want > n)
		return 0;
	return utf8_valid((const char *)p, want) ? want : 0;
}

/* Copies UTF-8 with each invalid byte replaced by U+FFFD; counts both kinds. */
static void utf8_repair(const char *s, size_t len, struct buf *out, size_t *ret_multi,
			size_t *ret_bad)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0, multi = 0, bad = 0;
	while (i < len) {
		i = ascii_end(p, i, len);
		if (i == len)
			break;
		if (p[i] >= 0xC2 && p[i] <= 0xDF && i + 1 < len && (p[i + 1] & 0xC0) == 0x80) {
			multi++; /* a valid 2-byte sequence (é, à, ç...), without a call */
			i += 2;
			continue;
		}
		size_t n = utf8_len_at(p + i, len - i);
		if (n) {
			multi++;
			i += n;
			continue;
		}
		bad++;
		if (out) {
			buf_append(out, s + run, i - run);
			buf_puts(out, "\xef\xbf\xbd");
		}
		i++;
		run = i;
	}
	if (out)
		buf_append(out, s + run, len - run);
	*ret_multi = multi;
	*ret_bad = bad;
}

/* Transcodes from the named charset to UTF-8, invalid input replaced with U+FFFD. */
static void transcode(const char *from, const char *s, size_t len, struct buf *out)
{
	iconv_t cd = iconv_open("UTF-8", from);
	if (cd == (iconv_t)-1)
		cd = iconv_open("UTF-8", "WINDOWS-1252");
	if (cd == (iconv_t)-1) {
		size_t m, b;
		utf8_repair(s, len, out, &m, &b);
		return;
	}
	char tmp[16384];
	char *in = (char *)s;
	size_t inleft = len;
	while (inleft > 0) {
		char *o = tmp;
		size_t oleft = sizeof(tmp);
		size_t r = iconv(cd, &in, &inleft, &o, &oleft);
		buf_append(out, tmp, sizeof(tmp) - oleft);
		if (r == (size_t)-1) {
			if (errno == E2BIG)
				continue;
			/* EILSEQ or an incomplete sequence at the end: one byte becomes U+FFFD. */
			buf_puts(out, "\xef\xbf\xbd");
			in++;
			inleft--;
			iconv(cd, NULL, NULL, NULL, NULL);
		}
	}
	iconv_close(cd);
}

/* Decodes data into UTF-8: either into out, or, when data already is UTF-8, by pointing
 * *ret_s and *ret_len into data (no copy). */
static void decode(const char *data, size_t len, const char *http_charset, struct buf *out,
		   const char **ret_s, size_t *ret_len)
{
	*ret_s = NULL;
	*ret_len = 0;
	const unsigned char *u = (const unsigned char *)data;
	/* Byte order marks, and UTF-16 without one but starting with '<'. */
	if (len >= 3 && u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf) {
		data += 3;
		len -= 3;
	} else if (len >= 2 && ((u[0] == 0xff && u[1] == 0xfe) || (u[0] == 0xfe && u[1] == 0xff))) {
		transcode(u[0] == 0xff ? "UTF-16LE" : "UTF-16BE", data + 2, len - 2, out);
		return;
	} else if (len >= 4 && u[0] == '<' && u[1] == 0 && u[2] != 0 && u[3] == 0) {
		transcode("UTF-16LE", data, len, out);
		return;
	} else if (len >= 4 && u[0] == 0 && u[1] == '<' && u[2] == 0 && u[3] != 0) {
		transcode("UTF-16BE", data, len, out);
		return;
	}
	/* Valid UTF-8 wins over any label: single-byte text with accents is practically never
	 * valid UTF-8 by accident, while wrong labels are common. (utf8_valid is what
	 * utf8_repair finding no bad byte means, without counting the sequences.) */
	if (utf8_valid(data, len)) {
		*ret_s = data;
		*ret_len = len;
		return;
	}
	size_t multi, bad;
	utf8_repair(data, len, NULL, &multi, &bad);
	char declared[48];
	decl_encoding(data, len, declared, sizeof(declared));
	const char *label = http_charset && *http_charset ? http_charset : declared;
	switch (charset_class(label)) {
	case CS_UTF8:
		if (multi >= bad) { /* mostly UTF-8 with a few broken bytes */
			utf8_repair(data, len, out, &multi, &bad);
			return;
		}
		transcode("WINDOWS-1252", data, len, out);
		return;
	case CS_OTHER:
		transcode(label, data, len, out);
		return;
	case CS_NONE:	/* not UTF-8 and unlabelled: sniffed as windows-1252 */
	case CS_UTF16:	/* labelled UTF-16 but written in an 8-bit encoding */
	case CS_LATIN1: /* ISO-8859-1 labels are read as windows-1252 */
	default:
		transcode("WINDOWS-1252", data, len, out);
		return;
	}
}

/* ---- pass 2: tidy ----------------------------------------------------------------------- */

static bool xml_char_ok(unsigned long c)
{
	return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
	       (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

static bool name_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       c >= 0x80;
}

/* What follows an '&': a character reference "&#...;" or "&#x...;" (at most 8 digits), a name
 * "&name;" (at most 40 name characters), or neither (a bare '&'). */
struct amp {
	enum { AMP_BARE, AMP_CHAR, AMP_NAME } kind;
	size_t len;	 /* bytes of the reference, ';' included (1 when bare) */
	unsigned long v; /* AMP_CHAR: the code point written */
	bool upper_x;	 /* "&#X": libxml2 rejects it, whether or not it ends */
	char name[48];	 /* AMP_NAME: the name */
};

/* The XML predefined entities and their characters. */
static const struct {
	const char *name;
	char c;
} xml_predef[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};

/* Reads the reference at s[0] ('&', n bytes left) into *a. */
static void amp_scan(const char *s, size_t n, struct amp *a)
{
	size_t i = 1;
	a->kind = AMP_BARE;
	a->len = 1;
	a->upper_x = false;
	if (i < n && s[i] == '#') {
		i++;
		bool hex = i < n && (s[i] == 'x' || s[i] == 'X');
		a->upper_x = hex && s[i] == 'X';
		if (hex)
			i++;
		size_t start = i;
		unsigned long v = 0;
		while (i < n && i - start < 8 &&
		       ((s[i] >= '0' && s[i] <= '9') ||
			(hex && ((s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F'))))) {
			int d = s[i] <= '9' ? s[i] - '0' : (s[i] | 0x20) - 'a' + 10;
			v = v * (hex ? 16 : 10) + (unsigned long)d;
			i++;
		}
		if (i > start && i < n && s[i] == ';') {
			a->kind = AMP_CHAR;
			a->v = v;
			a->len = i + 1;
		}
		return;
	}
	if (i < n && name_start((unsigned char)s[i])) {
		size_t start = i;
		while (i < n && i - start < 40 &&
		       (name_start((unsigned char)s[i]) || (s[i] >= '0' && s[i] <= '9') ||
			s[i] == '-' || s[i] == '.'))
			i++;
		if (i < n && s[i] == ';') {
			size_t nl = i - start;
			memcpy(a->name, s + start, nl);
			a->name[nl] = '\0';
			a->kind = AMP_NAME;
			a->len = i + 1;
		}
	}
}

/* The predefined entity name's index in xml_predef, or -1. */
static int predef_index(const char *name)
{
	for (size_t k = 0; k < ARRAY_SIZE(xml_predef); k++)
		if (strcmp(name, xml_predef[k].name) == 0)
			return (int)k;
	return -1;
}

/*
 * Bounds on what libxml2 is handed, for work it does in more than proportion to the bytes:
 *  - TIDY_REFS: references to entities the document may declare, per document. libxml2 keeps a
 *    node for each one in the tree of the element that holds it (about 170 bytes): 2.6 million
 *    of them in a 7.8 MB feed took 450 MB. Past the bound they are dropped, which text does with
 *    them anyway (they are never expanded there); an attribute value loses them.
 *  - TIDY_ATTRS: attributes (and namespace declarations) of one start tag. libxml2 2.9.14 adds
 *    each one to the element by walking the list of those before it: 100,000 attributes in a
 *    1 MB feed held a worker for 100 s. The attributes past the bound are dropped, the tag kept.
 *  - TIDY_LONG: the bytes of one start tag's attributes, of a comment, of a processing
 *    instruction (bound_markup).
 *  - TIDY_SUBSET: the bytes of the internal DTD subset. libxml2 makes nodes of a declared
 *    entity's value, references included, when it is first referred to: one entity of 2.5
 *    million references took 447 MB. A longer subset is dropped (the DOCTYPE kept without it),
 *    and the document read as one that declares no entity.
 * A real feed comes nowhere near any of them (a root element declares a few dozen namespaces).
 */
#define TIDY_REFS   4096
#define TIDY_ATTRS  256
#define TIDY_SUBSET ((size_t)64 << 10)
#define TIDY_LONG   ((size_t)64 << 10)

/* Handles the '&' at s[0] (n bytes left); appends its replacement and returns bytes used. With
 * side, a reference to a character of the marks' range sets side->clash. *refs counts the
 * references left to the parser (TIDY_REFS). */
static size_t tidy_amp(const char *s, size_t n, bool has_subset, size_t *refs, struct side *side,
		       struct buf *out)
{
	struct amp a;
	amp_scan(s, n, &a);
	if (a.kind == AMP_CHAR) {
		if (xml_char_ok(a.v))
			buf_append(out, s, a.len);
		else
			buf_putc(out, ' ');
		if (side && a.v >= 0xE000 && a.v <= 0xEFFF)
			side->clash = true; /* the reader would write the character of a mark */
		return a.len;
	}
	if (a.kind == AMP_NAME) {
		unsigned v;
		if (predef_index(a.name) >= 0) {
			buf_append(out, s, a.len);
			return a.len;
		}
		if ((v = html_entity_value(a.name))) {
			buf_printf(out, "&#%u;", v);
			return a.len;
		}
		if (has_subset) { /* may be declared: left to the parser, never expanded */
			if (*refs < TIDY_REFS) {
				++*refs;
				buf_append(out, s, a.len);
			}
			return a.len;
		}
	}
	buf_puts(out, "&amp;");
	return 1;
}

/* Appends the bytes of s[0..n) with forbidden control characters turned into spaces. */
/* True for a control character XML forbids (all below 0x20 but tab and the line ends). */
static inline bool forbidden_control(unsigned char c)
{
	return c < 0x20 && c != '\t' && c != '\n' && c != '\r';
}

static void put_clean(struct buf *out, const char *s, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		if (forbidden_control((unsigned char)s[i])) {
			buf_append(out, s + run, i - run);
			buf_putc(out, ' ');
			run = i + 1;
		}
	}
	buf_append(out, s + run, n - run);
}

/* The content s[0..n) of a CDATA section as the text it stands for: '<', '>' and '&' escaped,
 * '\r' as a reference (a section keeps it, where text reads "\r\n" as "\n"), forbidden controls
 * as spaces. libxml2's reader looked for the section's end anew over all it
 * held at each 512-byte block it was given (15 to 25 s for one 8 MB section holding '>'); escaped
 * text reads as the same text node (XML_PARSE_NOCDATA) in one pass. */
static void put_cdata(struct buf *out, const char *s, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *rep = c == '<'		 ? "&lt;"
				  : c == '>'		 ? "&gt;"
				  : c == '&'		 ? "&amp;"
				  : c == '\r'		 ? "&#13;"
				  : forbidden_control(c) ? " "
							 : NULL;
		if (rep) {
			buf_append(out, s + run, i - run);
			buf_puts(out, rep);
			run = i + 1;
		}
	}
	buf_append(out, s + run, n - run);
}

/*
 * Text the reader is spared. libxml2's reader reads character data one character at a time
 * (xmlCurrentChar) from the first byte that is not ASCII to the next '<' or '&', and each
 * reference ("&lt;", "&#x27;") costs it about a thousand instructions: escaped HTML in French was
 * most of the reader's time (161k instructions per item of the generated feeds). As CDATA it
 * read the same text at about 29 instructions a byte (70k per item); a mark of six bytes costs it
 * the same whatever the text's length (26k per item). So the text between a tag and the next
 * markup, when it holds references or non-ASCII characters, is kept aside as what the reader
 * would have made of it: the references decoded, a bare '&' or '<' (which tidy escapes) as
 * itself, forbidden controls as spaces, line ends normalised ("\r\n" and "\r" read as "\n").
 * The reader reads the mark in its place and capture_node puts the text back: the same text
 * node. Text it would read differently is left as it is: an entity reference the document may
 * declare, "&#X..;" (an error to libxml2), U+FFFE and U+FFFF, a raw "]]>" (an error in text).
 * The content of a CDATA section is kept aside too (side_cdata): libxml2's push parser (under
 * the reader) searched anew for "]]>" over all it held at each block of a section it could not
 * see the end of, quadratic in the section's length.
 *
 * The marks are unambiguous when the reader makes no other character of their range: feed_parse
 * uses them only in a document without the byte 0xEE, and reads it again without them when tidy
 * wrote a reference to such a character (side->clash). A document of more than
 * XML_MAX_TEXT_LENGTH bytes is read without marks: its text nodes could pass libxml2's limit on
 * their length, which a mark would hide. Only a well-formed reading is trusted: when the pass
 * breaks, feed_parse reads the document again without marks, so that error positions and
 * salvage stay those of the plain text.
 */

/* The UTF-8 of the character v (below U+110000) in u; returns its length. */
static size_t utf8_encode(unsigned long v, char u[4])
{
	if (v < 0x80) {
		u[0] = (char)v;
		return 1;
	}
	if (v < 0x800) {
		u[0] = (char)(0xC0 | (v >> 6));
		u[1] = (char)(0x80 | (v & 0x3F));
		return 2;
	}
	if (v < 0x10000) {
		u[0] = (char)(0xE0 | (v >> 12));
		u[1] = (char)(0x80 | ((v >> 6) & 0x3F));
		u[2] = (char)(0x80 | (v & 0x3F));
		return 3;
	}
	u[0] = (char)(0xF0 | (v >> 18));
	u[1] = (char)(0x80 | ((v >> 12) & 0x3F));
	u[2] = (char)(0x80 | ((v >> 6) & 0x3F));
	u[3] = (char)(0x80 | (v & 0x3F));
	return 4;
}

/* What the reader makes of tidy_amp's output for the '&' at s[0] (n bytes left): the character
 * in *ret_c, and the bytes tidy_amp consumes; 0 when the reader would not read it as one
 * character (an entity reference, "&#X..;", which libxml2 rejects). */
static size_t side_amp(const char *s, size_t n, bool has_subset, unsigned long *ret_c)
{
	/* "&lt;" and "&gt;", most of escaped HTML's references, without the scan */
	if (n >= 4 && (s[1] == 'l' || s[1] == 'g') && s[2] == 't' && s[3] == ';') {
		*ret_c = s[1] == 'l' ? '<' : '>';
		return 4;
	}
	struct amp a;
	amp_scan(s, n, &a);
	*ret_c = '&'; /* what tidy_amp's "&amp;" stands for */
	if (a.upper_x)
		return 0;
	if (a.kind == AMP_CHAR) {
		*ret_c = xml_char_ok(a.v) ? a.v : ' ';
		return a.len;
	}
	if (a.kind == AMP_NAME) {
		unsigned v;
		int k = predef_index(a.name);
		if (k >= 0) {
			*ret_c = (unsigned char)xml_predef[k].c;
			return a.len;
		}
		if ((v = html_entity_value(a.name))) {
			*ret_c = v;
			return xml_char_ok(v) ? a.len : 0;
		}
		if (has_subset)
			return 0; /* may be declared: an entity reference node */
	}
	return 1;
}

/* The end of the tag whose '<' is just before s[i] (just past its '>', quoted values skipped),
 * or n. */
static size_t tag_end_at(const char *s, size_t n, size_t i)
{
	while (i < n) {
		for (;;) {
#ifdef SWAR_SSE2
			if (i + 16 <= n) {
				__m128i x = load16(s + i);
				unsigned m = eq16(x, '>') | eq16(x, '"') | eq16(x, '\'');
				if (m) {
					i += first_bit(m);
					break;
				}
				i += 16;
				continue;
			}
#endif
			if (i + 8 > n) {
				while (i < n && s[i] != '>' && s[i] != '"' && s[i] != '\'')
					i++;
				break;
			}
			uint64_t x = load8_le(s + i);
			uint64_t m = has_byte(x, '>') | has_byte(x, '"') | has_byte(x, '\'');
			if (m) {
				i += first_flagged(m);
				break;
			}
			i += 8;
		}
		if (i >= n)
			break;
		if (s[i] == '>')
			return i + 1;
		const char *q = memchr(s + i + 1, s[i], n - i - 1);
		if (!q)
			break;
		i = (size_t)(q - s) + 1;
	}
	return n;
}

/* True when tidy reads the '<' at s[0] (n bytes left) as markup, not as text. */
static bool markup_at(const char *s, size_t n)
{
	return n >= 2 &&
	       (name_start((unsigned char)s[1]) || s[1] == '/' || s[1] == '!' || s[1] == '?');
}

/* The first byte of s[j..e) that side_text (in_text) or side_cdata has to look at, or e: a
 * control (line ends included), 0xEF (which starts U+FFFE and U+FFFF) and, in text, '&', '<' and
 * '>'. */
static inline size_t special_at(const char *s, size_t j, size_t e, bool in_text)
{
	for (;;) {
#ifdef SWAR_SSE2
		if (j + 16 <= e) {
			__m128i x = load16(s + j);
			unsigned m = below16(x, 0x20) | eq16(x, 0xEF);
			if (in_text)
				m |= eq16(x, '&') | eq16(x, '<') | eq16(x, '>');
			if (m)
				return j + first_bit(m);
			j += 16;
			continue;
		}
#endif
		if (j + 8 > e) {
			for (; j < e; j++) {
				unsigned char b = (unsigned char)s[j];
				if (b < 0x20 || b == 0xEF ||
				    (in_text && (b == '&' || b == '<' || b == '>')))
					return j;
			}
			return e;
		}
		uint64_t x = load8_le(s + j), m = has_below(x, 0x20) | has_byte(x, 0xEF);
		if (in_text)
			m |= has_byte(x, '&') | has_byte(x, '<') | has_byte(x, '>');
		if (m)
			return j + first_flagged(m);
		j += 8;
	}
}

/* True when the 0xEF at s[0] (n bytes left) starts U+FFFE or U+FFFF (no characters to libxml2),
 * or a sequence cut short (no UTF-8). */
static bool noncharacter_at(const char *s, size_t n)
{
	return n < 3 || ((unsigned char)s[1] == 0xBF && (unsigned char)s[2] >= 0xBE);
}

/* memcpy without the call for the short runs of tidy and side_text (a tag, the text between two
 * references), which most are. */
static inline void copy_run(char *d, const char *s, size_t n)
{
	if (n <= 32)
		copy_short(d, s, n);
	else
		memcpy(d, s, n);
}

/* buf_append without the call when there is room (tidy reserves about the input's size). */
static void put(struct buf *out, const char *s, size_t n)
{
	if (out->cap - out->len > n) {
		copy_run(out->p + out->len, s, n);
		out->len += n;
		out->p[out->len] = '\0';
	} else {
		buf_append(out, s, n);
	}
}

/* Writes the mark of the text at i (below MARK_MAX) at w. */
static void mark_put(char *w, size_t i)
{
	w[0] = w[3] = (char)0xEE;
	w[1] = (char)(0x80 | (i >> 18 & 0x3F));
	w[2] = (char)(0x80 | (i >> 12 & 0x3F));
	w[4] = (char)(0x80 | (i >> 6 & 0x3F));
	w[5] = (char)(0x80 | (i & 0x3F));
}

/* Where the text whose mark is at s (n bytes left) starts, SIZE_MAX when s holds no mark. */
static size_t mark_get(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	if (n < MARK_LEN || u[0] != 0xEE || u[3] != 0xEE)
		return SIZE_MAX;
	return (size_t)(u[1] & 0x3F) << 18 | (size_t)(u[2] & 0x3F) << 12 |
	       (size_t)(u[4] & 0x3F) << 6 | (size_t)(u[5] & 0x3F);
}

/* Keeps the text written in sd->text from its end to w, and appends its mark to out. */
static void side_keep(struct side *sd, char *w, struct buf *out)
{
	char mark[MARK_LEN];
	mark_put(mark, sd->text.len);
	*w = '\0';
	sd->text.len = (size_t)(w + 1 - sd->text.p);
	sd->n++;
	put(out, mark, sizeof(mark));
}

/*
 * The text s[0..) up to the next markup (or n) kept in sd, its mark appended to out. Returns the
 * bytes of s it stands for; 0 (sd and out unchanged) when it declines: text the reader would read
 * otherwise, or text it reads fast enough as it is. Measured (callgrind, libxml2 2.9.14): the
 * reader takes about 9 instructions a byte for ASCII text, 77 from a non-ASCII character on,
 * 900 per reference. So ASCII text is kept aside only when it holds a reference per 48 bytes.
 */
static size_t side_text(const char *s, size_t n, bool has_subset, struct side *sd, struct buf *out)
{
	/* The text's extent, and whether it is worth converting. */
	size_t e = 0, refs = 0;
	uint64_t high = 0;
	for (;;) {
		for (;;) {
#ifdef SWAR_SSE2
			if (e + 16 <= n) {
				__m128i x = load16(s + e);
				unsigned m = eq16(x, '<') | eq16(x, '&'), h = high16(x);
				if (m) {
					size_t k = first_bit(m);
					if (h & ((1u << k) - 1))
						high |= SWAR_HIGHS;
					e += k;
					break;
				}
				if (h)
					high |= SWAR_HIGHS;
				e += 16;
				continue;
			}
#endif
			if (e + 8 > n) {
				while (e < n && s[e] != '<' && s[e] != '&')
					high |= (unsigned char)s[e++];
				break;
			}
			uint64_t x = load8_le(s + e), m = has_byte(x, '<') | has_byte(x, '&');
			if (m) {
				size_t k = first_flagged(m);
				high |= x & (((uint64_t)1 << (8 * k)) - 1);
				e += k;
				break;
			}
			high |= x;
			e += 8;
		}
		if (e >= n || (s[e] == '<' && markup_at(s + e, n - e)))
			break;
		refs++;
		e++;
	}
	if (!(high & SWAR_HIGHS) && (!refs || refs * 48 < e))
		return 0;
	if (sd->text.len >= MARK_MAX)
		return 0;

	/* Written in place: decoding never lengthens the text. */
	buf_reserve(&sd->text, e);
	char *w = sd->text.p + sd->text.len;
	size_t i = 0;
	while (i < e) {
		size_t j = special_at(s, i, e, true);
		copy_run(w, s + i, j - i);
		w += j - i;
		i = j;
		if (i >= e)
			break;
		unsigned char b = (unsigned char)s[i];
		unsigned long ch = b;
		size_t k = 1;
		if (b == '&') {
			k = side_amp(s + i, e - i, has_subset, &ch);
			if (!k)
				return 0;
		} else if (b == '\r') {
			ch = '\n';
			k = i + 1 < e && s[i + 1] == '\n' ? 2 : 1;
		} else if (b < 0x20) {
			ch = b == '\t' || b == '\n' ? b : ' ';
		} else if (b == 0xEF) { /* other characters as they are */
			if (noncharacter_at(s + i, e - i))
				return 0;
			memcpy(w, s + i, 3);
			w += 3;
			i += 3;
			continue;
		} else if (b == '>' && i >= 2 && s[i - 1] == ']' && s[i - 2] == ']') {
			return 0; /* "]]>" is an error in text */
		}
		/* ch, what the reader reads: a reference's character, a line end, a space for a
		 * control, or '<' (not markup, tidy's "&lt;") or '>' as it is */
		w += utf8_encode(ch, w);
		i += k;
	}
	side_keep(sd, w, out);
	return e;
}

/* The content s[0..n) of a CDATA section kept in sd, its mark appended to out. False (sd and
 * out unchanged) when the reader would read it otherwise: empty (no text at all), or holding
 * U+FFFE or U+FFFF (an error). Forbidden controls become spaces, as put_clean writes them; the
 * reader keeps a "\r" of a CDATA section as it is. */
static bool side_cdata(const char *s, size_t n, struct side *sd, struct buf *out)
{
	if (n == 0 || sd->text.len >= MARK_MAX)
		return false;
	buf_reserve(&sd->text, n);
	char *w = sd->text.p + sd->text.len;
	size_t i = 0;
	while (i < n) {
		size_t j = special_at(s, i, n, false);
		copy_run(w, s + i, j - i);
		w += j - i;
		i = j;
		if (i >= n)
			break;
		unsigned char b = (unsigned char)s[i];
		if (b == 0xEF) {
			if (noncharacter_at(s + i, n - i))
				return false;
			memcpy(w, s + i, 3);
			w += 3;
			i += 3;
			continue;
		}
		*w++ = b == '\t' || b == '\n' || b == '\r' ? (char)b : ' ';
		i++;
	}
	side_keep(sd, w, out);
	return true;
}

/* True for a byte that ends a name in a start tag: white space, '=', '>', '/', '<'. */
static inline bool name_end(char c)
{
	return is_space(c) || c == '=' || c == '>' || c == '/' || c == '<';
}

/* For the quote at s[j], the index just past its closing quote, or 0 when libxml2 would not read
 * a value there: no closing quote, or a '<' before it (which it refuses in a value). */
static size_t value_end(const char *s, size_t n, size_t j)
{
	const char *q = memchr(s + j + 1, s[j], n - j - 1);
	if (!q || memchr(s + j + 1, '<', (size_t)(q - s) - j - 1))
		return 0;
	return (size_t)(q - s) + 1;
}

/*
 * For the start tag whose '<' is just before s[i]: where its attributes past the TIDY_ATTRS-th,
 * or past TIDY_LONG bytes, start, with in *ret_stop where the attributes end (its closing "/>" or
 * ">", or where libxml2 stops reading attributes); SIZE_MAX when it has no more. The attributes are
 * read as libxml2 reads them (xmlParseStartTag2): a name, '=', a quoted value, white space between;
 * the first that is not so, and any '<' (which libxml2 refuses in a value), ends them. The tag is
 * read on its own, whatever came before it: no earlier damage can hide it.
 */
static size_t attrs_cut(const char *s, size_t n, size_t i, size_t *ret_stop)
{
	size_t j = i, k = 0, cut = SIZE_MAX;
	while (j < n && !is_space(s[j]) && s[j] != '>' && s[j] != '/' && s[j] != '<')
		j++; /* the element's name */
	for (;;) {
		while (j < n && is_space(s[j]))
			j++;
		size_t name = j;
		while (j < n && !name_end(s[j]))
			j++;
		while (j < n && is_space(s[j]))
			j++;
		if (j == name || j >= n || s[j] != '=')
			break;
		j++;
		while (j < n && is_space(s[j]))
			j++;
		size_t e;
		if (j >= n || (s[j] != '"' && s[j] != '\'') || !(e = value_end(s, n, j)))
			break;
		if (k++ == TIDY_ATTRS || e - 1 - i >= TIDY_LONG) {
			cut = name;
			break;
		}
		j = e;
	}
	if (cut == SIZE_MAX)
		return SIZE_MAX;
	/* the rest, dropped: up to the tag's end, quoted values stepped over */
	while (j < n && s[j] != '>' && s[j] != '/' && s[j] != '<') {
		if (s[j] != '"' && s[j] != '\'') {
			j++;
			continue;
		}
		size_t e = value_end(s, n, j);
		if (!e) /* no value: the tag stops here */
			break;
		j = e;
	}
	*ret_stop = j;
	return cut;
}

/*
 * Drops, in place, what libxml2's reader would read in more than linear time from tidy's output
 * s[0..*np), wherever the reading starts: salvage reads from any "<item", one in a comment
 * included, and past damage libxml2 may start a tag where tidy saw none. So every '<' is looked
 * at, cheaply: only markup with no other '<' in the next 5 * TIDY_ATTRS bytes can be at fault.
 *  - a start tag's attributes past the TIDY_ATTRS-th or past TIDY_LONG bytes (attrs_cut);
 *  - a comment or a processing instruction longer than TIDY_LONG, whole (the reader looked for
 *    its end anew over all it held at each 512-byte block it was given: 29 s for an 8 MB comment
 *    holding '>'; a start tag with such a value took 24 s).
 */
static void bound_markup(char *s, size_t *np)
{
	size_t n = *np, w = 0, r = 0;
	const size_t win = 5 * (size_t)TIDY_ATTRS;
	/* where the next "-->" and "?>" lie (n: nowhere) once looked for, from before: every
	 * comment starting before one ends there, and is not looked through again */
	size_t cmt_end = 0, pi_end = 0;
	const char *lt = memchr(s, '<', n);
	size_t at = lt ? (size_t)(lt - s) : n;
	while (at + 1 < n) {
		lt = memchr(s + at + 1, '<', n - at - 1);
		size_t next = lt ? (size_t)(lt - s) : n, from = SIZE_MAX, to = 0;
		char c = s[at + 1];
		bool cmt = c == '!' && n - at >= 4 && s[at + 2] == '-' && s[at + 3] == '-';
		if (cmt || c == '?') {
			size_t *end = cmt ? &cmt_end : &pi_end;
			if (*end < at + 2) {
				const char *em = cmt ? "-->" : "?>";
				const char *e = memmem(s + at + 2, n - at - 2, em, strlen(em));
				*end = e ? (size_t)(e - s) + strlen(em) : n;
			}
			to = *end;
			if (to - at > TIDY_LONG)
				from = at;
		} else if (next - at - 1 > win && name_start((unsigned char)c)) {
			/* it ends at the next '<' at the latest */
			from = attrs_cut(s, n, at + 1, &to);
		}
		if (from == SIZE_MAX) { /* what lies within is looked at too */
			at = next;
			continue;
		}
		memmove(s + w, s + r, from - r);
		w += from - r;
		r = to;
		if (to > next) {
			lt = memchr(s + to, '<', n - to);
			next = lt ? (size_t)(lt - s) : n;
		}
		at = next;
	}
	if (r) {
		memmove(s + w, s + r, n - r);
		*np = w + n - r;
		s[*np] = '\0';
	}
}

/* Copies s[0..n) (UTF-8) into out, mending what the reader would stop at. With side, the text
 * between tags and the content of CDATA sections may be kept there and marked (side_text,
 * side_cdata). */
static void tidy(const char *s, size_t n, struct side *side, struct buf *out)
{
	size_t i = 0;
	bool marking = side != NULL;
	/* About the input's size; with side, the text kept there leaves markup and marks, a
	 * fraction of it (the texts are given room in side at once) */
	buf_reserve(out, side ? n / 4 + 64 : n + n / 16 + 64);
	while (i < n && (is_space(s[i]) || (unsigned char)s[i] < 0x20))
		i++;
	if (n - i >= 3 && memcmp(s + i, "\xef\xbb\xbf", 3) == 0)
		i += 3;
	bool has_subset = false;
	/* With side: the end of the tag being copied (0 outside one), where text starts next
	 * (SIZE_MAX: nowhere), and whether a tag ended yet (no text is converted in the prolog).
	 * Anything odd (a '<' inside a tag) ends the conversions: the rest is copied plainly. */
	size_t tag_end = 0, text_at = SIZE_MAX;
	bool content = false;
	size_t refs = 0; /* references left to the parser (TIDY_REFS) */
	while (i < n) {
		if (marking && i == text_at) {
			size_t k = side_text(s + i, n - i, has_subset, side, out);
			text_at = SIZE_MAX;
			if (k) {
				i += k;
				continue;
			}
		}
		/* Copy a run of ordinary bytes at once (up to the end of the tag, when marking). */
		size_t j = i, lim = marking && tag_end ? tag_end : n;
		for (;;) {
#ifdef SWAR_SSE2
			if (j + 16 <= lim) {
				__m128i x = load16(s + j);
				unsigned m = eq16(x, '&') | eq16(x, '<') | below16(x, 0x20);
				if (m) {
					j += first_bit(m);
					break;
				}
				j += 16;
				continue;
			}
#endif
			if (j + 8 > lim) {
				while (j < lim && s[j] != '&' && s[j] != '<' &&
				       (unsigned char)s[j] >= 0x20)
					j++;
				break;
			}
			uint64_t x = load8_le(s + j);
			uint64_t m = has_byte(x, '&') | has_byte(x, '<') | has_below(x, 0x20);
			if (m) {
				j += first_flagged(m);
				break;
			}
			j += 8;
		}
		put(out, s + i, j - i);
		i = j;
		if (marking && tag_end && i == tag_end) {
			tag_end = 0;
			text_at = i;
			content = true;
			continue;
		}
		if (i >= n)
			break;
		char c = s[i];
		if (c == '&') {
			i += tidy_amp(s + i, n - i, has_subset, &refs, side, out);
			continue;
		}
		if (c != '<') { /* a control (the run stops at them), a line end mostly */
			put(out, forbidden_control((unsigned char)c) ? " " : &c, 1);
			i++;
			continue;
		}
		if (tag_end)
			marking = false;
		const char *rest = s + i;
		size_t left = n - i;
		if (left >= 2 && (name_start((unsigned char)rest[1]) || rest[1] == '/')) {
			/* a tag, the most common by far: the sections below start "<!" or "<?" */
			put(out, "<", 1);
			i++;
			if (marking)
				tag_end = tag_end_at(s, n, i);
			continue;
		}
		const char *endmark = NULL;
		if (left >= 9 && memcmp(rest, "<![CDATA[", 9) == 0)
			endmark = "]]>";
		else if (left >= 4 && memcmp(rest, "<!--", 4) == 0)
			endmark = "-->";
		else if (left >= 2 && rest[1] == '?')
			endmark = "?>";
		if (endmark) {
			const char *e = memmem(rest + 2, left - 2, endmark, strlen(endmark));
			size_t k = e ? (size_t)(e - rest) + strlen(endmark) : left;
			if (endmark[0] == ']') {
				if (!(marking && content && e &&
				      side_cdata(rest + 9, k - 12, side, out)))
					put_cdata(out, rest + 9, e ? k - 12 : k - 9);
			} else {
				put_clean(out, rest, k);
			}
			i += k;
			if (content)
				text_at = i;
			continue;
		}
		if (left >= 9 && strncasecmp(rest, "<!DOCTYPE", 9) == 0) {
			/* The declaration, internal subset included, up to its closing '>'. */
			size_t k = 9, subset = 0; /* where the internal subset starts */
			int brackets = 0;
			char quote = 0;
			for (; k < left; k++) {
				char d = rest[k];
				if (quote) {
					if (d == quote)
						quote = 0;
				} else if (d == '"' || d == '\'') {
					quote = d;
				} else if (brackets > 0 && d == '<' && left - k >= 4 &&
					   (memcmp(rest + k, "<!--", 4) == 0 ||
					    rest[k + 1] == '?')) {
					/* a comment or a processing instruction, which libxml2
					 * reads whole: its quotes and brackets are no markup */
					const char *em = rest[k + 1] == '?' ? "?>" : "-->";
					const char *e =
					    memmem(rest + k + 2, left - k - 2, em, strlen(em));
					k = e ? (size_t)(e - rest) + strlen(em) - 1 : left;
				} else if (d == '[') {
					if (!subset)
						subset = k;
					brackets++;
				} else if (d == ']') {
					brackets--;
				} else if (d == '>' && brackets <= 0) {
					k++;
					break;
				}
			}
			if (k > left)
				k = left;
			if (subset && k - subset > TIDY_SUBSET) {
				/* the declaration without its subset; references to the
				 * entities it declared are dropped, as past TIDY_REFS */
				put_clean(out, rest, subset);
				buf_putc(out, '>');
				has_subset = true;
				refs = TIDY_REFS;
			} else {
				put_clean(out, rest, k);
				has_subset = has_subset || subset;
			}
			i += k;
			if (content)
				text_at = i;
			continue;
		}
		if (left >= 2 && rest[1] == '!') {
			buf_putc(out, '<');
			i++;
			if (marking)
				tag_end = tag_end_at(s, n, i);
			continue;
		}
		buf_puts(out, "&lt;");
		i++;
	}
}

/* ---- pass 3: read ----------------------------------------------------------------------- */

/* Errors a pass goes on past (XML_PARSE_RECOVER). libxml2 formats each one and keeps going: 2
 * million broken start tags in one 8 MB title ("<a '") took 4.8 s and 723 MB in one read of the
 * reader (xmllint --recover: 31 s, 708 MB). Past the bound the parser is stopped: the pass ends
 * there, broken, and salvage takes over. */
#define MAX_ERRORS 1000

static void reader_error_cb(void *arg, xmlErrorPtr e)
{
	struct parser *p = arg;
	if (e && ++p->errors > MAX_ERRORS && e->domain == XML_FROM_PARSER && e->ctxt)
		xmlStopParser(e->ctxt);
	if (!e || p->error[0])
		return;
	snprintf(p->error, sizeof(p->error), "%s", e->message ? e->message : "XML error");
	size_t l = strlen(p->error);
	while (l > 0 && is_space(p->error[l - 1]))
		p->error[--l] = '\0';
	p->error_line = e->line;
	p->error_col = e->int2;
}

/* Empties rec (every field zero, as a new record), keeping the buffers of its raw slots (the
 * only slots whose buffers are used). */
static void record_clear(struct record *rec)
{
	for (int i = 0; i < S_MAX; i++) {
		if (raw_slot((enum slot)i))
			buf_reset(&rec->raw[i]);
		else
			free(rec->v[i]);
		rec->v[i] = NULL;
		rec->kind[i] = K_TEXT;
	}
	rec->guid_not_permalink = false;
}

static void record_free(struct record *rec)
{
	record_clear(rec);
	for (int i = 0; i < S_MAX; i++)
		buf_free(&rec->raw[i]);
}

/*
 * Attribute values are read as libxml2's reader reads them (xmlGetPropNodeValueInternal,
 * xmlNodeListGetString): text, with each reference to an entity the document declares replaced
 * by that entity's text, read the same way. libxml2 bounds what one reference expands to, not how
 * often the same nested entities are walked again: e2 made of a thousand &e1;, each a thousand
 * &e0; (empty), cost a million node visits at every read of an attribute that refers to e2, and a
 * 154 KB feed of such attributes took 92 s. The nodes visited in a document (every pass of it) are
 * counted: past ATTR_VISITS, a value made of more than one node reads as what was read before the
 * bound (nothing, in later reads). ATTR_LEVELS bounds the nesting read (libxml2 refuses chains of
 * ten entities in attributes).
 */
#define ATTR_VISITS ((size_t)1 << 20)
#define ATTR_LEVELS 40

static void attr_text(struct parser *p, const xmlNode *n, int level, struct buf *b)
{
	for (; n && p->attr_visits < ATTR_VISITS; n = n->next) {
		p->attr_visits++;
		if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
			if (n->content)
				buf_puts(b, (const char *)n->content);
		} else if (n->type == XML_ENTITY_REF_NODE) {
			xmlEntityPtr e = xmlGetDocEntity(n->doc, n->name);
			if (!e) {
				if (n->content)
					buf_puts(b, (const char *)n->content);
			} else if (level < ATTR_LEVELS) {
				attr_text(p, e->children, level + 1, b);
			}
		}
	}
}

/* The value of attribute a (as xmlHasNsProp finds it: a default from the DTD too), new memory
 * (freed with xmlFree), or NULL. */
static char *attr_value(struct parser *p, const xmlAttr *a)
{
	if (!a)
		return NULL;
	if (a->type == XML_ATTRIBUTE_DECL)
		return (char *)xmlStrdup(((const xmlAttribute *)a)->defaultValue);
	if (a->type != XML_ATTRIBUTE_NODE)
		return NULL;
	const xmlNode *c = a->children;
	if (c && !c->next && (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE))
		return (char *)xmlStrdup(c->content);
	struct buf b = {0};
	attr_text(p, c, 0, &b);
	char *v = (char *)xmlStrdup((const xmlChar *)(b.p ? b.p : ""));
	buf_free(&b);
	return v;
}

/* The attribute name in namespace uri (NULL: in none) of the reader's current element, new
 * memory (freed with xmlFree), or NULL. */
static char *attr_ns(struct parser *p, const char *name, const char *uri)
{
	xmlNodePtr node = xmlTextReaderCurrentNode(p->r);
	if (!node || node->type != XML_ELEMENT_NODE)
		return NULL;
	return attr_value(p, xmlHasNsProp(node, (const xmlChar *)name, (const xmlChar *)uri));
}

static char *attr(struct parser *p, const char *name)
{
	return attr_ns(p, name, NULL);
}

/* The type of an Atom text construct (and Atom 0.3's mode="escaped"/"xml"). */
static enum kind atom_kind(struct parser *p)
{
	char *type = attr(p, "type");
	char *mode = attr(p, "mode");
	enum kind k = K_TEXT;
	if (type) {
		if (strcasecmp(type, "xhtml") == 0 ||
		    strcasecmp(type, "application/xhtml+xml") == 0)
			k = K_XHTML;
		else if (strcasecmp(type, "html") == 0 || strcasecmp(type, "text/html") == 0)
			k = K_HTML;
	}
	if (mode && strcmp(mode, "xml") == 0 && k == K_HTML)
		k = K_XHTML;
	else if (mode && strcmp(mode, "escaped") == 0 && k == K_TEXT && type &&
		 strcasecmp(type, "text/plain") != 0)
		k = K_HTML;
	xmlFree(type);
	xmlFree(mode);
	return k;
}

static void capture_start(struct parser *p, enum slot slot, enum kind kind, size_t limit)
{
	struct capture *c = &p->cap;
	c->active = true;
	c->slot = slot;
	c->kind = kind;
	c->depth = xmlTextReaderDepth(p->r);
	c->limit = limit;
	buf_reset(&c->b);
}

static void cap_put(struct capture *c, const char *s, size_t n)
{
	if (c->b.len >= c->limit)
		return;
	if (n > c->limit - c->b.len)
		n = utf8_cut(s, n, c->limit - c->b.len);
	put(&c->b, s, n);
}

static void cap_put_escaped(struct capture *c, const char *s)
{
	for (const char *q = s; *q && c->b.len < c->limit;) {
		size_t k = strcspn(q, "<>&");
		cap_put(c, q, k);
		q += k;
		if (!*q)
			break;
		cap_put(c, *q == '<' ? "&lt;" : *q == '>' ? "&gt;" : "&amp;", *q == '&' ? 5 : 4);
		q++;
	}
}

static bool is_http(const char *s)
{
	return s && (strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0);
}

/* Length of the run of scheme characters (letters, digits, '+', '.', '-') that starts s: what
 * strspn with that set gives, without its table built at each call. */
static size_t scheme_chars(const char *s)
{
	size_t k = 0;
	for (;; k++) {
		char c = s[k];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '.' || c == '-'))
			return k;
	}
}

/* Length of the scheme and ':' that start s ("https:"), 0 when s starts with none. */
static size_t scheme_len(const char *s)
{
	size_t k = scheme_chars(s);
	bool alpha = (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z');
	return k > 0 && alpha && s[k] == ':' ? k + 1 : 0;
}

/* The base URI of the reader's current node, for resolve(), as xmlNodeGetBase makes it of the
 * xml:base attributes of the node and its ancestors (read by attr_value) and of the document's
 * URL: new memory (freed with xmlFree), or NULL; NULL too when one of those attributes is longer
 * than a URL may be (no link resolved against it would be kept, and each link would copy and
 * parse it again). */
static xmlChar *base_of(struct parser *p)
{
	xmlNodePtr cur = xmlTextReaderCurrentNode(p->r);
	xmlDocPtr doc = cur ? cur->doc : NULL;
	xmlChar *base = NULL;
	for (; cur; cur = cur->parent) {
		if (cur->type != XML_ELEMENT_NODE)
			continue;
		xmlAttrPtr a = xmlHasNsProp(cur, (const xmlChar *)"base", XML_XML_NAMESPACE);
		const xmlNode *c = a && a->type == XML_ATTRIBUTE_NODE ? a->children : NULL;
		if (c && !c->next && c->content &&
		    strnlen((const char *)c->content, VEILLE_MAX_URL + 1) > VEILLE_MAX_URL)
			goto too_long; /* without copying it at every link */
		xmlChar *b = (xmlChar *)attr_value(p, a);
		if (!b)
			continue;
		if (strlen((const char *)b) > VEILLE_MAX_URL) {
			xmlFree(b);
			goto too_long;
		}
		if (base) {
			xmlChar *nb = xmlBuildURI(base, b);
			xmlFree(base);
			xmlFree(b);
			if (!nb)
				return NULL;
			base = nb;
		} else {
			base = b;
		}
		if (!xmlStrncmp(base, (const xmlChar *)"http://", 7) ||
		    !xmlStrncmp(base, (const xmlChar *)"ftp://", 6) ||
		    !xmlStrncmp(base, (const xmlChar *)"urn:", 4))
			return base;
	}
	if (!doc || !doc->URL)
		return base;
	if (!base)
		return xmlStrdup(doc->URL);
	xmlChar *nb = xmlBuildURI(base, doc->URL);
	xmlFree(base);
	return nb;
too_long:
	xmlFree(base);
	return NULL;
}

/* Resolves the reference ref (new memory, which it takes) against the base URI of the reader's
 * current node; returns new memory (ref itself when it needs no resolving) or NULL. A reference
 * that starts with a scheme is absolute: xmlBuildURI would return it as it is (or fail on it, and
 * the reference is kept as it is), so neither the base nor xmlBuildURI is asked for (most links
 * of a feed are absolute). */
static char *resolve(char *ref, struct parser *p)
{
	if (!ref || !*ref || strlen(ref) > VEILLE_MAX_URL) {
		free(ref);
		return NULL;
	}
	xmlChar *base = p && !scheme_len(ref) ? base_of(p) : NULL;
	xmlChar *u = base ? xmlBuildURI((const xmlChar *)ref, base) : NULL;
	xmlFree(base);
	char *r = ref;
	bool built = u != NULL;
	if (built) {
		r = xstrdup((const char *)u);
		xmlFree(u);
		free(ref);
	}
	/* Only web links: javascript:, data:, file: and the like are dropped. */
	size_t k = scheme_chars(r);
	bool foreign = k > 0 && r[k] == ':' && !is_http(r);
	if ((built && strlen(r) > VEILLE_MAX_URL) || foreign) {
		free(r);
		return NULL;
	}
	return r;
}

/* True when s[0..len) holds a byte below 0x21: white space, or a control character. */
static bool has_blank(const char *s, size_t len)
{
	size_t i = 0;
	for (; i + 8 <= len; i += 8)
		if (has_below(load8_le(s + i), 0x21))
			return true;
	for (; i < len; i++)
		if ((unsigned char)s[i] < 0x21)
			return true;
	return false;
}

/* Trims and collapses white space runs into one space; returns new memory of at most max
 * bytes, or NULL when nothing is left. */
static char *clean_text(const char *s, size_t len, size_t max)
{
	/* Most fields (ids, links, dates) hold no white space at all: what text_collapse makes
	 * of them is a copy. */
	if (len && len <= max && !has_blank(s, len)) {
		char *t = xmalloc(len + 1); /* no NUL in s either (has_blank): its length is len */
		memcpy(t, s, len);
		t[len] = '\0';
		return t;
	}
	return text_collapse(s, len, max);
}

/* True when plain text looks like escaped HTML (a tag or an entity). */
static bool looks_like_html(const char *s)
{
	for (const char *q = s; (q = strpbrk(q, "<&")); q++) {
		if (q[0] == '<' && (name_start((unsigned char)q[1]) || q[1] == '/'))
			return true;
		if (q[0] == '&') {
			const char *e = q + 1;
			if (*e == '#')
				e++;
			size_t k = strspn(
			    e, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
			if (k > 0 && k < 32 && e[k] == ';')
				return true;
		}
	}
	return false;
}

static void capture_end(struct parser *p)
{
	struct capture *c = &p->cap;
	struct record *rec = p->item_depth >= 0 ? &p->item : &p->chan;
	c->active = false;
	if (rec->v[c->slot]) /* the first occurrence wins */
		return;
	char *v = NULL;
	switch (c->slot) {
	case S_LINK: {
		/* not cut: a cut URL is a wrong URL; resolve() drops one that is too long */
		/* at the element's end: its base still */
		v = resolve(clean_text(c->b.p ? c->b.p : "", c->b.len, c->b.len), p);
		break;
	}
	case S_SUMMARY:
	case S_CONTENT:
	case S_MEDIA_DESC:
	case S_TITLE:
		/* Kept raw; turned into text when the item is complete (kind decides how). */
		if (c->b.len) {
			struct buf empty = rec->raw[c->slot]; /* emptied by record_clear */
			rec->raw[c->slot] = c->b;
			c->b = empty;
			v = rec->raw[c->slot].p;
		}
		rec->kind[c->slot] = c->kind;
		break;
	default:
		v = clean_text(c->b.p ? c->b.p : "", c->b.len, VEILLE_MAX_SHORT);
		break;
	}
	rec->v[c->slot] = v;
}

/* The text whose mark is at m (n bytes left), or NULL when m holds none. */
static const char *side_at(const struct side *sd, const char *m, size_t n)
{
	size_t at = mark_get(m, n);
	if (at >= sd->text.len || (at && sd->text.p[at - 1]))
		return NULL;
	return sd->text.p + at;
}

/* The text of the node whose value is v (*n bytes, NUL-terminated): v with each mark replaced by
 * its text (NUL-terminated too), and its length in *n. */
static const char *side_expand(struct side *sd, const char *v, size_t *n)
{
	const char *end = v + *n, *m = memchr(v, 0xEE, *n);
	if (!m)
		return v;
	const char *t = side_at(sd, m, (size_t)(end - m));
	if (*n == MARK_LEN && t) { /* one text alone, the most common */
		*n = strlen(t);
		return t;
	}
	struct buf *b = &sd->scratch;
	buf_reset(b);
	for (; m; m = memchr(v, 0xEE, (size_t)(end - v))) {
		t = side_at(sd, m, (size_t)(end - m));
		if (!t) { /* no mark (feed_parse makes sure it never happens) */
			buf_append(b, v, (size_t)(m + 1 - v));
			v = m + 1;
			continue;
		}
		buf_append(b, v, (size_t)(m - v));
		buf_puts(b, t);
		v = m + MARK_LEN;
	}
	buf_append(b, v, (size_t)(end - v));
	*n = b->len;
	return b->p;
}

/* Feeds one node (of the given type, at depth) to the open capture. */
static void capture_node(struct parser *p, int type, int depth)
{
	struct capture *c = &p->cap;
	switch (type) {
	case XML_READER_TYPE_END_ELEMENT:
		if (depth <= c->depth) {
			capture_end(p);
			return;
		}
		if (c->kind != K_TEXT) {
			const char *name = (const char *)xmlTextReaderConstLocalName(p->r);
			cap_put(c, "</", 2);
			cap_put(c, name, strlen(name));
			cap_put(c, ">", 1);
		}
		return;
	case XML_READER_TYPE_ELEMENT:
		if (c->kind != K_TEXT) {
			const char *name = (const char *)xmlTextReaderConstLocalName(p->r);
			bool empty = xmlTextReaderIsEmptyElement(p->r) != 0;
			cap_put(c, "<", 1);
			cap_put(c, name, strlen(name));
			cap_put(c, empty ? "/>" : ">", empty ? 2 : 1);
		}
		return;
	case XML_READER_TYPE_TEXT:
	case XML_READER_TYPE_CDATA:
	case XML_READER_TYPE_WHITESPACE:
	case XML_READER_TYPE_SIGNIFICANT_WHITESPACE: {
		const char *v = (const char *)xmlTextReaderConstValue(p->r);
		if (!v)
			return;
		size_t n = strlen(v);
		if (p->side->n)
			v = side_expand(p->side, v, &n);
		if (c->kind == K_XHTML)
			cap_put_escaped(c, v);
		else
			cap_put(c, v, n);
		return;
	}
	default:
		return; /* comments, PIs, entity references (never expanded) */
	}
}

/* The text of rec's raw slot, NULL when it is empty. */
static char *html_field(const struct record *rec, enum slot slot, enum kind kind, size_t max)
{
	const char *raw = rec->v[slot];
	size_t len = rec->raw[slot].len;
	if (!raw)
		return NULL;
	char *t;
	if (kind == K_TEXT) {
		t = clean_text(raw, len, max);
	} else {
		t = html_to_text_utf8(raw, len, max);
		if (!*t) {
			free(t);
			t = NULL;
		}
	}
	return t;
}

static void item_finish(struct parser *p)
{
	struct record *rec = &p->item;
	struct feed_doc *doc = p->doc;
	if (doc->nitems >= VEILLE_MAX_ITEMS) {
		record_clear(rec);
		return;
	}
	if (doc->nitems == p->items_cap) {
		p->items_cap = p->items_cap ? p->items_cap * 2 : 16;
		doc->items = xreallocarray(doc->items, p->items_cap, sizeof(*doc->items));
	}
	struct feed_item *it = &doc->items[doc->nitems++];
	memset(it, 0, sizeof(*it));
	it->id = rec->v[S_ID];
	rec->v[S_ID] = NULL;
	it->link = rec->v[S_LINK];
	rec->v[S_LINK] = NULL;
	if (!it->link && it->id && !rec->guid_not_permalink && doc->format == FEED_FORMAT_RSS &&
	    is_http(it->id))
		it->link = resolve(xstrdup(it->id), NULL);
	/* RSS titles are plain text by the letter of the spec but are often escaped HTML. */
	enum kind tk = rec->kind[S_TITLE];
	if (tk == K_TEXT && doc->format != FEED_FORMAT_ATOM && rec->v[S_TITLE] &&
	    looks_like_html(rec->v[S_TITLE]))
		tk = K_HTML;
	it->title = html_field(rec, S_TITLE, tk, VEILLE_MAX_TITLE);
	if (it->title) /* titles are one line */
		for (char *q = strchr(it->title, '\n'); q; q = strchr(q + 1, '\n'))
			*q = ' ';
	const enum slot authors[] = {S_AUTHOR_DC, S_AUTHOR_NAME, S_AUTHOR};
	for (size_t i = 0; i < ARRAY_SIZE(authors) && !it->author; i++) {
		it->author = rec->v[authors[i]];
		rec->v[authors[i]] = NULL;
	}
	it->summary = html_field(rec, S_SUMMARY, rec->kind[S_SUMMARY], VEILLE_MAX_TEXT);
	it->content = html_field(rec, S_CONTENT, rec->kind[S_CONTENT], VEILLE_MAX_TEXT);
	if (!it->content && !it->summary)
		it->content =
		    html_field(rec, S_MEDIA_DESC, rec->kind[S_MEDIA_DESC], VEILLE_MAX_TEXT);
	it->published = FEED_NO_DATE;
	int64_t t;
	if (rec->v[S_PUBLISHED] && date_parse(rec->v[S_PUBLISHED], &t) == 0)
		it->published = t;
	else if (rec->v[S_UPDATED] && date_parse(rec->v[S_UPDATED], &t) == 0)
		it->published = t;
	record_clear(rec);
}

/* RSS's own elements: no namespace (0.9x, 2.0) or one of the RSS namespaces (0.90, 1.0). */
static bool core_ns(enum ns ns)
{
	return ns == NS_NONE || ns == NS_RSS;
}

/* An atom <link>: takes rel="alternate" (or no rel) into the record's link. */
static void atom_link(struct parser *p, struct record *rec)
{
	if (rec->v[S_LINK])
		return;
	char *rel = attr(p, "rel");
	char *href = attr(p, "href");
	if ((!rel || strcmp(rel, "alternate") == 0) && href) {
		size_t n = strlen(href);
		rec->v[S_LINK] = resolve(clean_text(href, n, n), p);
	}
	xmlFree(rel);
	xmlFree(href);
}

/* Decides what an element inside an item means. */
static void item_element(struct parser *p, enum ns ns, const char *name, int depth, bool empty)
{
	struct record *rec = &p->item;
	bool child = depth == p->item_depth + 1;
	int slot = -1;
	enum kind kind = K_TEXT;
	size_t limit = VEILLE_MAX_SHORT * 4;

	if (ns == NS_ATOM && strcmp(name, "link") == 0 && child) {
		atom_link(p, rec);
		return;
	}
	if (ns == NS_ATOM && strcmp(name, "author") == 0 && child) {
		if (!empty)
			p->author_depth = depth;
		return;
	}
	if (ns == NS_ATOM && strcmp(name, "name") == 0 && p->author_depth >= 0 &&
	    depth == p->author_depth + 1) {
		slot = S_AUTHOR_NAME;
	} else if (ns == NS_MEDIA && strcmp(name, "description") == 0) {
		char *type = attr(p, "type");
		kind = type && strcasecmp(type, "html") == 0 ? K_HTML : K_TEXT;
		xmlFree(type);
		slot = S_MEDIA_DESC;
		limit = RAW_HTML_MAX;
	} else if (!child) {
		return;
	} else if (core_ns(ns) && p->doc->format != FEED_FORMAT_ATOM) {
		if (strcmp(name, "title") == 0) {
			slot = S_TITLE;
		} else if (strcmp(name, "link") == 0) {
			slot = S_LINK;
			limit = VEILLE_MAX_URL * 4;
		} else if (strcmp(name, "guid") == 0) {
			char *pl = attr(p, "isPermaLink");
			rec->guid_not_permalink = pl && strcasecmp(pl, "false") == 0;
			xmlFree(pl);
			slot = S_ID;
		} else if (strcmp(name, "description") == 0) {
			slot = S_SUMMARY;
			kind = K_HTML;
			limit = RAW_HTML_MAX;
		} else if (strcmp(name, "pubDate") == 0) {
			slot = S_PUBLISHED;
		} else if (strcmp(name, "author") == 0) {
			slot = S_AUTHOR;
		}
	} else if (ns == NS_ATOM || (ns == NS_NONE && p->doc->format == FEED_FORMAT_ATOM)) {
		if (strcmp(name, "id") == 0) {
			slot = S_ID;
		} else if (strcmp(name, "title") == 0) {
			slot = S_TITLE;
			kind = atom_kind(p);
		} else if (strcmp(name, "summary") == 0) {
			slot = S_SUMMARY;
			kind = atom_kind(p);
			limit = RAW_HTML_MAX;
		} else if (strcmp(name, "content") == 0) {
			slot = S_CONTENT;
			kind = atom_kind(p);
			limit = RAW_HTML_MAX;
		} else if (strcmp(name, "published") == 0 || strcmp(name, "issued") == 0 ||
			   strcmp(name, "created") == 0) {
			slot = S_PUBLISHED;
		} else if (strcmp(name, "updated") == 0 || strcmp(name, "modified") == 0) {
			slot = S_UPDATED;
		}
	} else if (ns == NS_CONTENT && strcmp(name, "encoded") == 0) {
		slot = S_CONTENT;
		kind = K_HTML;
		limit = RAW_HTML_MAX;
	} else if (ns == NS_DC && strcmp(name, "date") == 0) {
		slot = S_PUBLISHED;
	} else if (ns == NS_DC && strcmp(name, "creator") == 0) {
		slot = S_AUTHOR_DC;
	} else if (ns == NS_DCTERMS &&
		   (strcmp(name, "issued") == 0 || strcmp(name, "created") == 0)) {
		slot = S_PUBLISHED;
	} else if (ns == NS_DCTERMS && strcmp(name, "modified") == 0) {
		slot = S_UPDATED;
	}
	if (slot < 0 || empty || rec->v[slot])
		return;
	capture_start(p, (enum slot)slot, kind, limit);
}

static void channel_element(struct parser *p, enum ns ns, const char *name, int depth, bool empty)
{
	struct record *rec = &p->chan;
	if (depth != p->channel_depth + 1)
		return;
	bool atom = ns == NS_ATOM || (ns == NS_NONE && p->doc->format == FEED_FORMAT_ATOM);
	if (atom && strcmp(name, "link") == 0) {
		atom_link(p, rec);
		return;
	}
	if (empty)
		return;
	bool core = core_ns(ns) && p->doc->format != FEED_FORMAT_ATOM;
	if ((core || atom) && strcmp(name, "title") == 0 && !rec->v[S_TITLE])
		capture_start(p, S_TITLE, atom ? atom_kind(p) : K_TEXT, VEILLE_MAX_TITLE * 4);
	else if (core && strcmp(name, "link") == 0 && !rec->v[S_LINK])
		capture_start(p, S_LINK, K_TEXT, VEILLE_MAX_URL * 4);
	else if (core && strcmp(name, "ttl") == 0 && !rec->v[S_TTL])
		capture_start(p, S_TTL, K_TEXT, 64);
}

/* The root element decides the format; returns false when this is not a feed. */
static bool root_element(struct parser *p, enum ns ns, const char *name, char *err, size_t errlen)
{
	struct feed_doc *doc = p->doc;
	if (strcasecmp(name, "html") == 0 || ns == NS_XHTML) {
		set_err(err, errlen, "not a feed: HTML page");
		return false;
	}
	if (strcmp(name, "rss") == 0 && ns != NS_ATOM) {
		doc->format = FEED_FORMAT_RSS;
	} else if (strcmp(name, "RDF") == 0 && ns == NS_RDF) {
		doc->format = FEED_FORMAT_RDF;
		p->channel_depth = -2; /* set by <channel> */
	} else if (strcmp(name, "feed") == 0 && (ns == NS_ATOM || ns == NS_NONE)) {
		doc->format = FEED_FORMAT_ATOM;
		p->channel_depth = 0;
	} else if (strcmp(name, "channel") == 0 && core_ns(ns)) {
		doc->format = FEED_FORMAT_RSS; /* RSS 0.91 variants without <rss> */
		p->channel_depth = 0;
	} else {
		set_err(err, errlen, "not a feed: root element <%.40s>", name);
		return false;
	}
	return true;
}

static void element(struct parser *p, enum ns ns, const char *name, int depth, bool empty)
{
	struct feed_doc *doc = p->doc;
	if (p->item_depth >= 0) {
		item_element(p, ns, name, depth, empty);
		return;
	}
	bool is_item = false;
	if (doc->format == FEED_FORMAT_ATOM)
		is_item = strcmp(name, "entry") == 0 && (ns == NS_ATOM || ns == NS_NONE);
	else
		is_item = strcmp(name, "item") == 0 && core_ns(ns);
	if (is_item) {
		record_clear(&p->item);
		if (doc->format == FEED_FORMAT_RDF) {
			char *about = attr_ns(p, "about", RDF_NS);
			if (about)
				p->item.v[S_ID] =
				    clean_text(about, strlen(about), VEILLE_MAX_SHORT);
			xmlFree(about);
		}
		p->item_depth = depth;
		if (empty) {
			item_finish(p);
			p->item_depth = -1;
		}
		return;
	}
	if (doc->format != FEED_FORMAT_ATOM && strcmp(name, "channel") == 0 && core_ns(ns) &&
	    p->channel_depth < 0 && !empty) {
		p->channel_depth = depth;
		return;
	}
	if (p->channel_depth >= 0)
		channel_element(p, ns, name, depth, empty);
}

static void end_element(struct parser *p, int depth)
{
	if (p->item_depth >= 0) {
		if (depth == p->author_depth)
			p->author_depth = -1;
		if (depth == p->item_depth) {
			item_finish(p);
			p->item_depth = -1;
			p->author_depth = -1;
		}
		return;
	}
	if (depth == p->channel_depth && p->doc->format != FEED_FORMAT_ATOM)
		p->channel_depth = -2;
}

static void channel_finish(struct parser *p)
{
	struct record *rec = &p->chan;
	struct feed_doc *doc = p->doc;
	enum kind tk = rec->kind[S_TITLE];
	if (tk == K_TEXT && rec->v[S_TITLE] && looks_like_html(rec->v[S_TITLE]))
		tk = K_HTML;
	doc->title = html_field(rec, S_TITLE, tk, VEILLE_MAX_TITLE);
	doc->link = rec->v[S_LINK];
	rec->v[S_LINK] = NULL;
	uint64_t ttl;
	if (rec->v[S_TTL] && parse_uint(rec->v[S_TTL], 0, 525600, &ttl) == 0) /* up to a year */
		doc->ttl_minutes = (int)ttl;
	record_clear(rec);
}

/* A broken document that never reached a root element: is it an HTML page? */
static bool looks_like_html_page(const char *s, size_t len)
{
	size_t n = len < 2048 ? len : 2048;
	for (size_t i = 0; i + 5 <= n; i++)
		if (s[i] == '<' && (strncasecmp(s + i, "<html", 5) == 0 ||
				    (i + 14 <= n && strncasecmp(s + i, "<!doctype html", 14) == 0)))
			return true;
	return false;
}

/* Byte offset of line:col (1-based, as libxml2 reports them) in s. */
static size_t offset_of(const char *s, size_t len, int line, int col)
{
	size_t i = 0;
	for (int l = 1; l < line && i < len; i++)
		if (s[i] == '\n')
			l++;
	if (col > 1)
		i += (size_t)col - 1;
	return i < len ? i : len;
}

/* Position of the first item start tag (<item or <entry) at or after from; len when none. */
static size_t next_item_tag(const char *s, size_t len, size_t from, bool atom)
{
	const char *tag = atom ? "<entry" : "<item";
	size_t tl = strlen(tag);
	while (from < len) {
		const char *q = memmem(s + from, len - from, tag, tl);
		if (!q)
			return len;
		size_t at = (size_t)(q - s);
		char c = at + tl < len ? s[at + tl] : '\0';
		if (c == '>' || c == '/' || is_space(c))
			return at;
		from = at + 1;
	}
	return len;
}

/* End of the root element's start tag (just past its '>'), skipping the prolog; 0 if none. */
static size_t root_tag_end(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		const char *q = memchr(s + i, '<', len - i);
		if (!q)
			return 0;
		i = (size_t)(q - s);
		const char *endmark = NULL;
		if (len - i >= 4 && memcmp(s + i, "<!--", 4) == 0)
			endmark = "-->";
		else if (len - i >= 2 && s[i + 1] == '?')
			endmark = "?>";
		else if (len - i >= 2 && s[i + 1] == '!')
			endmark = "]>"; /* a DOCTYPE: approximate, good enough to skip the subset */
		if (endmark) {
			const char *e = memmem(s + i + 2, len - i - 2, endmark, 2);
			if (!e && s[i + 1] == '!')
				e = memchr(s + i, '>', len - i);
			if (!e)
				return 0;
			if (s[i + 1] == '!' && memcmp(endmark, "]>", 2) == 0) {
				/* a DOCTYPE without internal subset ends at its first '>' */
				const char *gt = memchr(s + i, '>', len - i);
				const char *br = memchr(s + i, '[', len - i);
				if (gt && (!br || gt < br))
					e = gt - 1;
			}
			i = (size_t)(e - s) + 2;
			continue;
		}
		char quote = 0;
		for (size_t k = i + 1; k < len; k++) {
			if (quote) {
				if (s[k] == quote)
					quote = 0;
			} else if (s[k] == '"' || s[k] == '\'') {
				quote = s[k];
			} else if (s[k] == '>') {
				return k + 1;
			}
		}
		return 0;
	}
	return 0;
}

enum pass_result {
	PASS_OK,
	PASS_BROKEN,
	PASS_TOO_DEEP,
	PASS_TOO_MANY_NS,
	PASS_TOO_MANY_NAMES,
	PASS_NO_ROOT,
	PASS_NOT_FEED
};

/* Runs the reader over s[0..len), appending items to p->doc. */
static enum pass_result run_pass(struct parser *p, const char *s, size_t len, const char *url,
				 char *err, size_t errlen)
{
	p->r = xmlReaderForMemory(s, (int)len, url, "UTF-8",
				  XML_PARSE_NONET | XML_PARSE_RECOVER | XML_PARSE_NOERROR |
				      XML_PARSE_NOWARNING | XML_PARSE_IGNORE_ENC |
				      XML_PARSE_NOCDATA | XML_PARSE_COMPACT);
	if (!p->r)
		return PASS_NO_ROOT;
	xmlTextReaderSetStructuredErrorHandler(p->r, reader_error_cb, p);
	p->error[0] = '\0';
	p->error_line = p->error_col = 0;
	p->errors = p->nodes = 0;
	p->item_depth = p->author_depth = -1;
	p->channel_depth = -2;
	p->cap.active = false;
	bool root = false;
	enum pass_result res = PASS_OK;
	int r;
	while ((r = xmlTextReaderRead(p->r)) == 1) {
		/* A text node is text to us, white space or not: the reader's node type, which
		 * tells white space apart by looking for xml:space up the tree, is asked for the
		 * others. */
		xmlNodePtr node = xmlTextReaderCurrentNode(p->r);
		int type =
		    node && (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE)
			? XML_READER_TYPE_TEXT
			: xmlTextReaderNodeType(p->r);
		int depth = xmlTextReaderDepth(p->r);
		if (depth > VEILLE_MAX_DEPTH) {
			res = PASS_TOO_DEEP;
			break;
		}
		if ((++p->nodes & 63) == 0 && node && node->doc && node->doc->dict &&
		    xmlDictSize(node->doc->dict) > MAX_NAMES) {
			p->error_line = (int)xmlGetLineNo(node);
			res = PASS_TOO_MANY_NAMES;
			break;
		}
		if (type == XML_READER_TYPE_ELEMENT && node && depth >= 0) {
			unsigned k = depth > 0 ? p->ns_scope[depth - 1] : 0;
			for (const xmlNs *d = node->nsDef; d && k <= NS_IN_SCOPE; d = d->next)
				k++;
			p->ns_scope[depth] = k;
			if (k > NS_IN_SCOPE) {
				p->error_line = (int)xmlGetLineNo(node);
				res = PASS_TOO_MANY_NS;
				break;
			}
		}
		if (p->cap.active) {
			capture_node(p, type, depth);
			continue;
		}
		if (type == XML_READER_TYPE_ELEMENT) {
			/* The element's own fields, which xmlTextReaderConstLocalName and
			 * xmlTextReaderConstNamespaceUri return (the latter after looking the URI
			 * up in the reader's dictionary) */
			const char *name = (const char *)node->name;
			enum ns ns = ns_of(node->ns ? node->ns->href : NULL);
			bool empty = xmlTextReaderIsEmptyElement(p->r) == 1;
			if (!name)
				continue;
			if (!root) {
				root = true;
				if (!root_element(p, ns, name, err, errlen)) {
					res = PASS_NOT_FEED;
					break;
				}
			}
			element(p, ns, name, depth, empty);
		} else if (type == XML_READER_TYPE_END_ELEMENT) {
			end_element(p, depth);
		}
	}
	if (res == PASS_OK && !root)
		res = PASS_NO_ROOT;
	else if (res == PASS_OK && r != 0)
		res = PASS_BROKEN;
	xmlFreeTextReader(p->r);
	p->r = NULL;
	record_clear(&p->item);
	return res;
}

/* Drops the items from index n on. */
static void items_truncate(struct feed_doc *doc, size_t n)
{
	while (doc->nitems > n) {
		struct feed_item *it = &doc->items[--doc->nitems];
		free(it->id);
		free(it->link);
		free(it->title);
		free(it->author);
		free(it->summary);
		free(it->content);
	}
}

/*
 * After the reader stopped at damage. The reader hands out nothing of the 512-byte chunk where
 * the error is, so complete items just before the damage would be lost: the part before the
 * damage is parsed again on its own, followed by white space, then parsing resumes at the next
 * item start tag after the damage. Each part is glued behind the prolog and the root start tag,
 * so the namespaces stay declared. At most MAX_SALVAGE parts, each starting further on.
 */
#define MAX_SALVAGE 16
#define SALVAGE_PAD 1024

static void salvage(struct parser *p, const char *clean, size_t len, const char *url)
{
	bool atom = p->doc->format == FEED_FORMAT_ATOM;
	size_t head = root_tag_end(clean, len);
	if (!head)
		return;
	size_t seg = head; /* where the part that broke starts in clean */
	const char *s = clean;
	size_t slen = len;
	size_t items_before = 0;
	struct buf syn = {0};
	char pad[SALVAGE_PAD];
	memset(pad, '\n', sizeof(pad));
	for (int pass = 0; pass < MAX_SALVAGE; pass++) {
		size_t at = offset_of(s, slen, p->error_line, p->error_col);
		if (at < head)
			break;
		at = seg + (at - head);
		if (at > len)
			at = len;
		/* libxml2 reports the position after the construct it choked on: cut before it. */
		while (at > seg && clean[at - 1] != '<')
			at--;
		if (at > seg)
			at--;
		/* The part before the damage, alone. */
		items_truncate(p->doc, items_before);
		buf_reset(&syn);
		buf_append(&syn, clean, head);
		buf_append(&syn, clean + seg, at - seg);
		buf_append(&syn, pad, sizeof(pad));
		char dummy[8];
		run_pass(p, syn.p, syn.len, url, dummy, sizeof(dummy));
		/* Then the rest, from the next item. */
		size_t next = next_item_tag(clean, len, at, atom);
		if (next >= len || next <= seg || p->doc->nitems >= VEILLE_MAX_ITEMS)
			break;
		seg = next;
		buf_reset(&syn);
		buf_append(&syn, clean, head);
		buf_append(&syn, clean + seg, len - seg);
		s = syn.p;
		slen = syn.len;
		items_before = p->doc->nitems;
		enum pass_result r = run_pass(p, s, slen, url, dummy, sizeof(dummy));
		/* broken again, possibly within its first chunk (nothing handed out) */
		if (r != PASS_BROKEN && !(r == PASS_NO_ROOT && p->error[0]))
			break;
	}
	buf_free(&syn);
}

/* Frees what sd holds. */
static void side_free(struct side *sd)
{
	buf_free(&sd->text);
	buf_free(&sd->scratch);
}

/* One reading of the document (feed_parse's contract). With marks, text may be kept aside and
 * marked (side_text); when that reading is not well-formed, or cannot be trusted, *ret_again is
 * set and the caller reads the document again without them. */
static int parse_doc(const char *data, size_t len, const char *url, const char *http_charset,
		     bool marks, struct feed_doc **ret_doc, char *err, size_t errlen,
		     bool *ret_again)
{
	struct buf utf8 = {0}, clean = {0};
	struct side side = {0};
	const char *u8;
	size_t u8len;
	decode(data, len, http_charset, &utf8, &u8, &u8len);
	if (!u8) {
		u8 = utf8.p ? utf8.p : "";
		u8len = utf8.len;
	}
	marks = marks && u8len <= XML_MAX_TEXT_LENGTH && !memchr(u8, 0xEE, u8len);
	if (marks) /* what is kept aside comes from the document: room for it at once */
		buf_reserve(&side.text, u8len);
	tidy(u8, u8len, marks ? &side : NULL, &clean);
	if (clean.p)
		bound_markup(clean.p, &clean.len);
	buf_free(&utf8);
	if (side.clash) {
		side_free(&side);
		buf_free(&clean);
		*ret_again = true;
		return -EINVAL;
	}
	if (clean.len == 0 || clean.len > INT32_MAX) {
		side_free(&side);
		buf_free(&clean);
		set_err(err, errlen, "empty document");
		return -EINVAL;
	}

	struct parser p = {
	    .channel_depth = -2, .item_depth = -1, .author_depth = -1, .side = &side};
	p.doc = xcalloc(1, sizeof(*p.doc));
	int rc = -EINVAL;
	enum pass_result res = run_pass(&p, clean.p, clean.len, url, err, errlen);
	if (res != PASS_OK && side.n) {
		*ret_again = true;
		goto out;
	}
	if (res == PASS_NOT_FEED)
		goto out;
	if (res == PASS_NO_ROOT && p.error[0]) {
		/* Broken within the first chunk, before the reader handed out anything: read the
		 * root start tag alone to learn the format, then salvage as below. */
		char saved[sizeof(p.error)];
		int line = p.error_line, col = p.error_col;
		memcpy(saved, p.error, sizeof(saved));
		size_t head = root_tag_end(clean.p, clean.len);
		if (head) {
			struct buf syn = {0};
			buf_append(&syn, clean.p, head);
			for (int i = 0; i < SALVAGE_PAD; i++)
				buf_putc(&syn, '\n');
			enum pass_result r2 = run_pass(&p, syn.p, syn.len, url, err, errlen);
			buf_free(&syn);
			if (r2 == PASS_NOT_FEED)
				goto out;
			if (p.doc->format != FEED_FORMAT_UNKNOWN)
				res = PASS_BROKEN;
		}
		memcpy(p.error, saved, sizeof(saved));
		p.error_line = line;
		p.error_col = col;
	}
	if (res == PASS_NO_ROOT) {
		if (looks_like_html_page(clean.p, clean.len))
			set_err(err, errlen, "not a feed: HTML page");
		else if (p.error[0])
			set_err(err, errlen, "not XML: %s (line %d)", p.error, p.error_line);
		else
			set_err(err, errlen, "not XML: no root element");
		goto out;
	}
	char first_error[sizeof(p.error)];
	int first_line = p.error_line;
	snprintf(first_error, sizeof(first_error), "%s",
		 res == PASS_TOO_DEEP	      ? "nesting too deep"
		 : res == PASS_TOO_MANY_NS    ? "too many namespace declarations"
		 : res == PASS_TOO_MANY_NAMES ? "too many distinct names"
		 : p.error[0]		      ? p.error
					      : "parse error");
	if (res != PASS_OK) {
		p.doc->recovered = 1;
		if (res == PASS_BROKEN)
			salvage(&p, clean.p, clean.len, url);
	}
	if (p.doc->recovered && p.doc->nitems == 0) {
		set_err(err, errlen, "broken XML: %s (line %d), no item recovered", first_error,
			first_line);
		goto out;
	}
	channel_finish(&p);
	if (p.doc->recovered)
		set_err(err, errlen, "broken XML: %s (line %d), kept %zu items", first_error,
			first_line, p.doc->nitems);
	*ret_doc = p.doc;
	p.doc = NULL;
	rc = 0;
out:
	record_free(&p.item);
	record_free(&p.chan);
	buf_free(&p.cap.b);
	buf_free(&clean);
	side_free(&side);
	feed_doc_free(p.doc);
	return rc;
}

/* feed_parse, with (marks) or without text kept aside. */
static int parse(const char *data, size_t len, const char *url, const char *http_charset,
		 bool marks, struct feed_doc **ret_doc, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!data || len == 0) {
		set_err(err, errlen, "empty document");
		return -EINVAL;
	}
	if (len > INT32_MAX / 2) {
		set_err(err, errlen, "document too large");
		return -EINVAL;
	}
	xmlInitParser();
	bool again = false;
	int r = parse_doc(data, len, url, http_charset, marks, ret_doc, err, errlen, &again);
	if (!again)
		return r;
	if (err && errlen)
		err[0] = '\0';
	return parse_doc(data, len, url, http_charset, false, ret_doc, err, errlen, &again);
}

int feed_parse(const char *data, size_t len, const char *url, const char *http_charset,
	       struct feed_doc **ret_doc, char *err, size_t errlen)
{
	return parse(data, len, url, http_charset, true, ret_doc, err, errlen);
}

int feed_parse_reference(const char *data, size_t len, const char *url, const char *http_charset,
			 struct feed_doc **ret_doc, char *err, size_t errlen)
{
	return parse(data, len, url, http_charset, false, ret_doc, err, errlen);
}

void feed_global_init(void)
{
	xmlInitParser();
}

void feed_doc_free(struct feed_doc *doc)
{
	if (!doc)
		return;
	items_truncate(doc, 0);
	free(doc->items);
	free(doc->title);
	free(doc->link);
	free(doc);
}

const char *feed_format_name(enum feed_format f)
{
	static const char *const names[FEED_FORMAT_MAX] = {
	    [FEED_FORMAT_UNKNOWN] = "unknown",
	    [FEED_FORMAT_RSS] = "rss",
	    [FEED_FORMAT_RDF] = "rdf",
	    [FEED_FORMAT_ATOM] = "atom",
	};
	if ((int)f < 0 || f >= FEED_FORMAT_MAX)
		return "unknown";
	return names[f];
}
