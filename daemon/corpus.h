/*
 * corpus.h - background document frequencies of the topics' profile keys.
 *
 * Everyday news words ("déclaré", "région", "ministre") should weigh less than the words that
 * make the topic, and the daemon learns which are which from what it ingests: for every new item
 * it counts, in memory, the profile keys the item holds (the keys come out of the scoring pass,
 * topic_score_keys, so nothing is tokenised twice). The counts and the number of items counted
 * are added to the store in the feed's transaction, and loaded back into the topics
 * (topic_set_background) at start, at reload, and whenever the corpus has grown by a quarter.
 * Only profile keys are counted: the table stays as small as the profiles.
 */
#ifndef VEILLE_CORPUS_H
#define VEILLE_CORPUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct topic;
struct corpus;

struct corpus *corpus_new(void);
void corpus_free(struct corpus *c);

/* Starts counting one more document (c may be NULL: nothing is counted). */
void corpus_doc(struct corpus *c);
/* A topic_score_keys callback (arg: the corpus): counts key once for the current document,
 * however many topics report it. */
void corpus_key_cb(const char *key, void *arg);

/* Adds the counts gathered since the last flush to the store, inside the caller's transaction,
 * and forgets them. 0 or -errno (the caller then rolls back, which drops the counted items too). */
int corpus_flush(struct corpus *c, struct store *st);
/* Forgets the counts gathered since the last flush (their items were not stored). */
void corpus_discard(struct corpus *c);

/* Loads the stored frequencies into the n topics of v. 0 or -errno (the topics then keep their
 * reference weights). */
int corpus_load(struct corpus *c, struct store *st, struct topic *const *v, size_t n);
/* True when the corpus has grown enough since the last corpus_load to load it again. */
bool corpus_stale(const struct corpus *c);
/* Documents in the corpus at the last corpus_load. */
uint64_t corpus_loaded_docs(const struct corpus *c);

#endif
