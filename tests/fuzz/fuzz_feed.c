/*
 * fuzz_feed.c - libFuzzer target: feed_parse on arbitrary bytes, under each kind of HTTP charset,
 * then checks what every caller relies on (caps, valid UTF-8, counts) and that feed_parse_reference
 * (all the text read by libxml2, none kept aside) gives the same result. Also feeds the same bytes
 * to date_parse and html_to_text.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "feed.h"
#include "html.h"
#include "bounds.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_field(const char *s, size_t max)
{
	if (!s)
		return;
	size_t n = strlen(s);
	if (n > max || !utf8_valid(s, n))
		abort();
}

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Aborts unless the two parses gave the same result. */
static void check_same(int r, const struct feed_doc *a, const char *err, int r2,
		       const struct feed_doc *b, const char *err2)
{
	if (r != r2 || strcmp(err, err2) || !a != !b)
		abort();
	if (!a)
		return;
	if (a->format != b->format || a->ttl_minutes != b->ttl_minutes ||
	    a->recovered != b->recovered || a->nitems != b->nitems || !same(a->title, b->title) ||
	    !same(a->link, b->link))
		abort();
	for (size_t i = 0; i < a->nitems; i++) {
		const struct feed_item *x = &a->items[i], *y = &b->items[i];
		if (x->published != y->published || !same(x->id, y->id) ||
		    !same(x->link, y->link) || !same(x->title, y->title) ||
		    !same(x->author, y->author) || !same(x->summary, y->summary) ||
		    !same(x->content, y->content))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const charsets[] = {NULL,	       "utf-8",	 "iso-8859-1",
					       "windows-1251", "utf-16", "x-unknown"};
	const char *cs = size ? charsets[data[0] % ARRAY_SIZE(charsets)] : NULL;
	struct feed_doc *doc = NULL;
	char err[256];
	int r = feed_parse((const char *)data, size, "https://example.org/feed/", cs, &doc, err,
			   sizeof(err));
	struct feed_doc *ref = NULL;
	char err2[256];
	int r2 = feed_parse_reference((const char *)data, size, "https://example.org/feed/", cs,
				      &ref, err2, sizeof(err2));
	check_same(r, doc, err, r2, ref, err2);
	feed_doc_free(ref);
	if (r == 0) {
		if (!doc || doc->nitems > VEILLE_MAX_ITEMS)
			abort();
		check_field(doc->title, VEILLE_MAX_TITLE);
		for (size_t i = 0; i < doc->nitems; i++) {
			const struct feed_item *it = &doc->items[i];
			check_field(it->id, VEILLE_MAX_SHORT);
			check_field(it->link, VEILLE_MAX_URL);
			check_field(it->title, VEILLE_MAX_TITLE);
			check_field(it->author, VEILLE_MAX_SHORT);
			check_field(it->summary, VEILLE_MAX_TEXT);
			check_field(it->content, VEILLE_MAX_TEXT);
		}
		feed_doc_free(doc);
	} else if (doc || strlen(err) == 0) {
		abort();
	}

	if (size <= 256) {
		char s[257];
		memcpy(s, data, size);
		s[size] = '\0';
		int64_t t;
		date_parse(s, &t);
		char *text = html_to_text(s, size, 64);
		check_field(text, 64);
		free(text);
	}
	return 0;
}
