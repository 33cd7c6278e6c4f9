/*
 * opml.c - OPML subscription lists, read with libxml2's streaming reader.
 *
 * Options: XML_PARSE_NONET, never XML_PARSE_NOENT, no DTD loading, no recovery (a broken file
 * is reported with its line rather than half-imported). A document type declaration is refused
 * before libxml2 sees the document. Element names are matched without namespaces: OPML has none,
 * and exporters (Thunderbird) add attributes of their own namespace next to the standard ones.
 */
#include "opml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/xmlreader.h>

#include "bounds.h"
#include "util.h"

struct reader_error {
	char msg[256];
	int line;
};

static void error_cb(void *arg, xmlErrorPtr e)
{
	struct reader_error *re = arg;
	if (re->msg[0] || !e || e->level < XML_ERR_ERROR)
		return;
	snprintf(re->msg, sizeof(re->msg), "%s", e->message ? e->message : "XML error");
	re->msg[strcspn(re->msg, "\r\n")] = '\0';
	re->line = e->line;
}

/* A copy of s with surrounding white space removed, cut at max bytes on a UTF-8 boundary. */
static char *trimmed(const char *s, size_t max)
{
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	return xstrndup(s, utf8_cut(s, n, max));
}

/* The first of the attributes names present on the current element, or NULL (new string). */
static char *attribute(xmlTextReaderPtr r, const char *const *names)
{
	for (; *names; names++) {
		xmlChar *v = xmlTextReaderGetAttribute(r, (const xmlChar *)*names);
		if (v && *v)
			return (char *)v;
		xmlFree(v);
	}
	return NULL;
}

static bool has_doctype(const char *data, size_t len)
{
	for (size_t i = 0; i + 2 <= len; i++)
		if (data[i] == '<' && data[i + 1] == '!' &&
		    ((len - i >= 9 && strncasecmp(data + i + 2, "DOCTYPE", 7) == 0) ||
		     (len - i >= 8 && strncasecmp(data + i + 2, "ENTITY", 6) == 0)))
			return true;
	return false;
}

void opml_feeds_free(struct opml_feed *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].url);
		free(v[i].title);
	}
	free(v);
}

static void set_err(char *err, size_t errlen, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_err(char *err, size_t errlen, int line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(err, errlen, "line %d: %s", line, msg);
	else
		snprintf(err, errlen, "%s", msg);
}

int opml_parse(const char *data, size_t len, struct opml_feed **ret_feeds, size_t *ret_n, char *err,
	       size_t errlen)
{
	static const char *const url_names[] = {"xmlUrl", "xmlurl", "XMLURL", "xmlURL", NULL};
	static const char *const title_names[] = {"title", "text", NULL};
	if (len > (size_t)VEILLE_MAX_BODY_CEILING) {
		set_err(err, errlen, 0, "file too large");
		return -EINVAL;
	}
	if (has_doctype(data, len)) {
		set_err(err, errlen, 0, "document type declarations are refused in OPML");
		return -EINVAL;
	}
	xmlTextReaderPtr r = xmlReaderForMemory(data, (int)len, NULL, NULL,
						XML_PARSE_NONET | XML_PARSE_NOERROR |
						    XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	if (!r) {
		set_err(err, errlen, 0, "cannot start the XML reader");
		return -EINVAL;
	}
	struct reader_error re = {0};
	xmlTextReaderSetStructuredErrorHandler(r, error_cb, &re);
	struct opml_feed *v = NULL;
	size_t n = 0, cap = 0;
	bool root = false;
	int rc, res = 0;
	while ((rc = xmlTextReaderRead(r)) == 1) {
		int type = xmlTextReaderNodeType(r);
		if (type == XML_READER_TYPE_DOCUMENT_TYPE) {
			/* has_doctype reads the bytes: a document in another encoding (UTF-7,
			 * UTF-16, EBCDIC) hides its declaration from it, not from libxml2. Met
			 * before the root, so before any outline. */
			set_err(err, errlen, xmlTextReaderGetParserLineNumber(r),
				"document type declarations are refused in OPML");
			res = -EINVAL;
			break;
		}
		if (type != XML_READER_TYPE_ELEMENT)
			continue;
		int line = xmlTextReaderGetParserLineNumber(r);
		if (xmlTextReaderDepth(r) > VEILLE_MAX_DEPTH) {
			set_err(err, errlen, line, "outlines nested deeper than %d",
				VEILLE_MAX_DEPTH);
			res = -EINVAL;
			break;
		}
		const char *name = (const char *)xmlTextReaderConstLocalName(r);
		if (!root) {
			if (!name || strcmp(name, "opml") != 0) {
				set_err(err, errlen, line, "not OPML (the root element is <%s>)",
					name ? name : "?");
				res = -EINVAL;
				break;
			}
			root = true;
			continue;
		}
		if (!name || strcmp(name, "outline") != 0)
			continue;
		char *url = attribute(r, url_names);
		if (!url)
			continue; /* a folder */
		if (n >= VEILLE_MAX_FEEDS) {
			xmlFree(url);
			set_err(err, errlen, line, "more than %d feeds", VEILLE_MAX_FEEDS);
			res = -EINVAL;
			break;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		char *title = attribute(r, title_names);
		v[n++] = (struct opml_feed){
		    .url = trimmed(url, VEILLE_MAX_URL),
		    .title = title ? trimmed(title, VEILLE_MAX_TITLE) : NULL,
		    .line = line,
		};
		xmlFree(url);
		xmlFree(title);
	}
	if (res == 0 && rc < 0) {
		set_err(err, errlen, re.line, "%s", re.msg[0] ? re.msg : "broken XML");
		res = -EINVAL;
	} else if (res == 0 && !root) {
		set_err(err, errlen, 0, "not OPML (no root element)");
		res = -EINVAL;
	}
	xmlFreeTextReader(r);
	if (res < 0) {
		opml_feeds_free(v, n);
		return res;
	}
	*ret_feeds = v;
	*ret_n = n;
	return 0;
}
