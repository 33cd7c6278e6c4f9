/*
 * dedup.h - what makes two items the same story: content hashes and canonical URLs.
 */
#ifndef VEILLE_DEDUP_H
#define VEILLE_DEDUP_H

#include <stddef.h>

#define DEDUP_HASH_HEX 65 /* SHA-256 as lower-case hex, NUL included */

/* SHA-256 over the normalised title and text (text_fold, boilerplate dropped). Either may be NULL.
 * Two items that read the same to a person hash the same. */
void dedup_content_hash(const char *title, const char *text, char out[DEDUP_HASH_HEX]);

/* The canonical form of an http(s) URL: lower-case scheme and host, no default port, no fragment,
 * tracking parameters (utm_*, xtor, fbclid, gclid, ...) removed. Returns a new string, or NULL when
 * url is not an absolute http(s) URL. */
char *dedup_canonical_url(const char *url);

#endif
