/*
 * dedup.h - what makes two items the same story: content hashes and canonical URLs.
 */
#ifndef VEILLE_DEDUP_H
#define VEILLE_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#define DEDUP_HASH_HEX 65 /* SHA-256 as lower-case hex, NUL included */

/* SHA-256 over the normalised title and text (text_fold, boilerplate dropped). Either may be NULL.
 * Two items that read the same to a person hash the same. */
void dedup_content_hash(const char *title, const char *text, char out[DEDUP_HASH_HEX]);

/*
 * Near-duplicates. A 128-bit SimHash of the normalised text (title left out: outlets rewrite
 * headlines) over shingles of DEDUP_SHINGLE words. Two rewrites of one dispatch are a few bits
 * apart, two different articles about half the bits (dedup_distance). Texts of fewer than
 * DEDUP_SIMHASH_MIN_WORDS words get none (all zero): too short to tell a rewrite from a
 * coincidence.
 */
#define DEDUP_SHINGLE		2
#define DEDUP_SIMHASH_MIN_WORDS 40
/*
 * Two texts at most this many bits apart are one story. Measured by
 * tests/bench/simhash_threshold.py over 1335 texts (reference articles, test corpus, labelled
 * texts, real feed items): the closest of 252,405 pairs of distinct texts is 37 bits apart (median
 * 63), while rewrites (new first sentence, last one dropped, usual rewording) of texts of 100 words
 * or more are within 28 bits for 81% of them (400+ words: median 9). 28 leaves 9 bits of margin
 * below the closest distinct pair; for unrelated texts (about Binomial(128, 0.49)) the chance of a
 * distance <= 28 is about 2e-10 per pair, 2e-5 per new item against 100,000 stored. A text of 40
 * to 99 words rewritten this way is mostly a new text (median 47 bits) and stays its own story.
 */
#define DEDUP_STORY_DISTANCE 28
struct dedup_simhash {
	uint64_t v[2]; /* both zero: none */
};

/* dedup_content_hash and dedup_simhash(text) in one normalisation pass. ret_simhash may be NULL. */
void dedup_digest(const char *title, const char *text, char ret_hash[DEDUP_HASH_HEX],
		  struct dedup_simhash *ret_simhash);
/* dedup_digest the slow way: every line folded by text_fold_reference (utf8proc alone) and
 * searched for every boilerplate rule. The same results; the reference of the tests. */
void dedup_digest_reference(const char *title, const char *text, char ret_hash[DEDUP_HASH_HEX],
			    struct dedup_simhash *ret_simhash);
/* The SimHash of text (NULL: none). */
void dedup_simhash(const char *text, struct dedup_simhash *ret);
/* Hamming distance of two SimHashes, 0..128. */
int dedup_distance(const struct dedup_simhash *a, const struct dedup_simhash *b);

/* A cheap 64-bit hash (XXH3) of the raw fields as the feed delivered them, NULL distinct from "".
 * Equal fingerprints mean nothing changed; it is compared before anything is normalised. */
uint64_t dedup_fingerprint(const char *title, const char *summary, const char *content);

/* The canonical form of an http(s) URL: lower-case scheme and host, no default port, no fragment,
 * tracking parameters (utm_*, xtor, fbclid, gclid, ...) removed. Returns a new string, or NULL when
 * url is not an absolute http(s) URL. */
char *dedup_canonical_url(const char *url);
/* dedup_canonical_url with the whole URL printed by curl_url_get, which dedup_canonical_url
 * puts together from curl's parts for most URLs. The same strings; the reference of the tests. */
char *dedup_canonical_url_reference(const char *url);

#endif
