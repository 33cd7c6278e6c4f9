/*
 * html.h - HTML fragments (feed descriptions and contents) into plain text, with libxml2's HTML
 * parser: tags dropped, block elements as line breaks, entities decoded, whitespace collapsed.
 */
#ifndef VEILLE_HTML_H
#define VEILLE_HTML_H

#include <stddef.h>

/* Returns new UTF-8 plain text of at most max bytes (cut at a character boundary); never NULL.
 * The caller frees it. */
char *html_to_text(const char *html, size_t len, size_t max);

/* html_to_text for html known to be valid UTF-8 (feed.c's fields: the reader hands out the
 * UTF-8 that decoding made valid), which it does not check again. */
char *html_to_text_utf8(const char *html, size_t len, size_t max);

/* The same, always through libxml2's HTML parser and its tree; html_to_text reads the common
 * simple fragments without it, to the same result (tests compare the two). */
char *html_to_text_parsed(const char *html, size_t len, size_t max);
/* Plain text s[0..len) (valid UTF-8) with its white space collapsed as html_to_text collapses it
 * (each run of ' ', '\t', '\n', '\v', '\f', '\r' one space, the ends trimmed) and cut at max
 * bytes: new memory, or NULL when s holds nothing but white space. */
char *text_collapse(const char *s, size_t len, size_t max);

/* The value of HTML 4's named character entity name ("eacute": 233), as libxml2's
 * htmlEntityLookup gives it, or 0 when there is none. */
unsigned html_entity_value(const char *name);

#endif
