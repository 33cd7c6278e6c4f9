/*
 * opml.h - the feed subscriptions of an OPML file (what feed readers export), with libxml2.
 *
 * Every <outline> carrying an xmlUrl attribute, at any depth (readers nest them in folders), in
 * document order. The parser never touches the network, never loads a DTD and refuses documents
 * that declare one (no OPML exporter writes a DOCTYPE, and refusing it leaves no entity to
 * expand). It never logs.
 */
#ifndef VEILLE_OPML_H
#define VEILLE_OPML_H

#include <stddef.h>

struct opml_feed {
	char *url;   /* xmlUrl, white space trimmed */
	char *title; /* title, else text; NULL when neither; cut to VEILLE_MAX_TITLE */
	int line;    /* where the outline is */
};

/*
 * Parses data[0..len). Returns 0 with a new array in *ret_feeds (free with opml_feeds_free) and
 * its length in *ret_n, or -EINVAL (not OPML, broken XML, a DTD, too deep, too many outlines)
 * with a one-line reason in err, which names the line when there is one ("line 12: ...").
 */
int opml_parse(const char *data, size_t len, struct opml_feed **ret_feeds, size_t *ret_n, char *err,
	       size_t errlen);
void opml_feeds_free(struct opml_feed *v, size_t n);

#endif
