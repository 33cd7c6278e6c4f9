/*
 * feed.h - RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 documents into items (libxml2, streaming).
 *
 * The parser never touches the network or the file system, never substitutes entities declared in
 * the document and never loads a DTD. It never logs: it reports what went wrong through err.
 */
#ifndef VEILLE_FEED_H
#define VEILLE_FEED_H

#include <stddef.h>
#include <stdint.h>

#define FEED_NO_DATE INT64_MIN

enum feed_format {
	FEED_FORMAT_UNKNOWN,
	FEED_FORMAT_RSS,  /* RSS 0.9x and 2.0 */
	FEED_FORMAT_RDF,  /* RSS 0.90 and 1.0 */
	FEED_FORMAT_ATOM, /* Atom 0.3 and 1.0 */
	FEED_FORMAT_MAX
};

/* One entry. Every string is UTF-8, NUL-terminated, owned by the document, NULL when absent;
 * summary and content are plain text (HTML already turned into text). */
struct feed_item {
	char *id;   /* guid / atom:id / rdf:about */
	char *link; /* absolute URL, resolved against xml:base and the document URL */
	char *title;
	char *author;
	char *summary;
	char *content;
	int64_t
	    published; /* seconds since the epoch, UTC; FEED_NO_DATE when absent or unparseable */
};

struct feed_doc {
	enum feed_format format;
	char *title;
	char *link;
	int ttl_minutes; /* RSS <ttl>, 0 when absent */
	int recovered;	 /* 1 when the XML was broken and what came before the damage was kept */
	struct feed_item *items;
	size_t nitems;
};

/* libxml2's process-wide state: call once from the main thread before feed_parse runs on other
 * threads (feed_parse initialises it itself otherwise). */
void feed_global_init(void);

/*
 * Parses data[0..len) fetched from url (used to resolve relative links; may be NULL).
 * http_charset is the charset parameter of the HTTP Content-Type, or NULL.
 * On success returns 0 and *ret_doc (free with feed_doc_free). On failure returns -EINVAL (not a
 * feed, e.g. an HTML page, or nothing could be recovered) and writes a one-line reason to err.
 */
int feed_parse(const char *data, size_t len, const char *url, const char *http_charset,
	       struct feed_doc **ret_doc, char *err, size_t errlen);
/* feed_parse with all the text read by libxml2, never kept aside and marked (what feed_parse did
 * before): the tests hold feed_parse to the same result. */
int feed_parse_reference(const char *data, size_t len, const char *url, const char *http_charset,
			 struct feed_doc **ret_doc, char *err, size_t errlen);
void feed_doc_free(struct feed_doc *doc);
const char *feed_format_name(enum feed_format f);

#endif
