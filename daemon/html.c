/*
 * html.c - HTML fragments into plain text with libxml2's HTML parser.
 *
 * The input is one field of a feed, already bounded by the caller, so a tree is fine here. The
 * walk is iterative (no recursion on hostile nesting), stops once max bytes of text exist, drops
 * script/style and other non-text elements, turns block elements into line breaks and collapses
 * white space.
 */
#include "html.h"

#include "bounds.h"
#include "util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>

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

/* Appends text, collapsing white space runs (which count as one space). */
static void out_text(struct out *o, const char *s)
{
	for (const char *q = s; *q && !out_full(o);) {
		unsigned char c = (unsigned char)*q;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
			out_break(o, 1);
			q++;
			continue;
		}
		size_t k = strcspn(q, " \t\n\r\f\v");
		if (o->b.len > 0 && o->pending)
			buf_putc(&o->b, o->pending == 2 ? '\n' : ' ');
		o->pending = 0;
		buf_append(&o->b, q, k);
		q += k;
	}
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

char *html_to_text(const char *html, size_t len, size_t max)
{
	struct out o = {.max = max};
	if (!html || len == 0 || max == 0)
		return xstrdup("");
	/* Plain text needs no parser: only white space to collapse. */
	if (!memchr(html, '<', len) && !memchr(html, '&', len) && utf8_valid(html, len)) {
		char *t = xstrndup(html, len);
		out_text(&o, t);
		free(t);
		return finish(&o);
	}
	char *fixed = NULL;
	if (!utf8_valid(html, len)) {
		fixed = repair_utf8(html, len);
		html = fixed;
		len = strlen(fixed);
	}
	if (len > INT32_MAX)
		len = utf8_cut(html, INT32_MAX, INT32_MAX - 1);
	htmlDocPtr doc =
	    htmlReadMemory(html, (int)len, NULL, "UTF-8",
			   HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
			       HTML_PARSE_RECOVER | HTML_PARSE_COMPACT);
	free(fixed);
	if (!doc)
		return xstrdup("");
	/* Iterative pre-order walk; depth counted to honour VEILLE_MAX_DEPTH. */
	xmlNodePtr n = doc->children;
	int depth = 0;
	while (n && !out_full(&o)) {
		bool descend = false;
		if (n->type == XML_ELEMENT_NODE) {
			const char *name = (const char *)n->name;
			bool block = in_list(name, blocks, ARRAY_SIZE(blocks));
			if (block)
				out_break(&o, 2);
			else if (strcmp(name, "img") == 0)
				out_break(&o, 1);
			descend = !in_list(name, skipped, ARRAY_SIZE(skipped)) && n->children &&
				  depth < VEILLE_MAX_DEPTH;
		} else if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
			if (n->content)
				out_text(&o, (const char *)n->content);
		} else if (n->type == XML_DTD_NODE || n->type == XML_COMMENT_NODE) {
			/* nothing */
		} else if (n->children && depth < VEILLE_MAX_DEPTH) {
			descend = true;
		}
		if (descend) {
			n = n->children;
			depth++;
			continue;
		}
		/* Next sibling, climbing up (closing blocks) as needed. */
		while (n && !n->next) {
			n = n->parent;
			depth--;
			if (!n || depth < 0 || (xmlDocPtr)n == doc) {
				n = NULL;
				break;
			}
			if (n->type == XML_ELEMENT_NODE &&
			    in_list((const char *)n->name, blocks, ARRAY_SIZE(blocks)))
				out_break(&o, 2);
		}
		if (n) {
			if (n->type == XML_ELEMENT_NODE &&
			    in_list((const char *)n->name, blocks, ARRAY_SIZE(blocks)))
				out_break(&o, 2);
			n = n->next;
		}
	}
	xmlFreeDoc(doc);
	return finish(&o);
}
