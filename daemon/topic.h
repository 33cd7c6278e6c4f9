/*
 * topic.h - a topic built from reference articles, and the scoring of items against it.
 */
#ifndef VEILLE_TOPIC_H
#define VEILLE_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"

struct topic;

struct topic_term {
	char term[VEILLE_MAX_TERM]; /* the stem or phrase, as printed to people */
	double weight;		    /* its contribution to this verdict */
};

struct topic_verdict {
	double score; /* in [0, 1] */
	bool relevant;
	size_t nterms; /* top contributors, strongest first */
	struct topic_term terms[VEILLE_MAX_TERMS];
};

/*
 * Builds a topic from the reference articles at ref_paths (plain-text files, borrowed).
 * alias_path names the spelling-variant file (may be NULL). threshold in [0,1].
 * Returns NULL and a new one-line message in *ret_err (naming the file) on failure.
 */
struct topic *topic_new(const char *name, const char *const *ref_paths, size_t nrefs,
			double threshold, const char *alias_path, char **ret_err);
void topic_free(struct topic *t);
const char *topic_name(const struct topic *t);
double topic_threshold(const struct topic *t);

/* Scores an item given its title and plain text (either may be NULL). Pure: no I/O, no logging. */
void topic_score(const struct topic *t, const char *title, const char *text,
		 struct topic_verdict *ret);
/* As topic_score, and calls key_cb (when not NULL) once for each distinct profile key the item
 * holds, from the same reading of the text: what the caller counts into its background document
 * frequencies (see topic_set_background). key is borrowed for the call. */
void topic_score_keys(const struct topic *t, const char *title, const char *text,
		      struct topic_verdict *ret, void (*key_cb)(const char *key, void *arg),
		      void *arg);

/*
 * An item read for t: what its verdict takes from its text whatever t's weights, so that a
 * verdict computed ahead of a re-weighting (topic_set_background) can be computed again without
 * reading the text. Holds the item's norms and the profile terms it holds (tens of bytes each),
 * no text. topic_score_keys(t, title, text, ...) is topic_bag_score(t, topic_bag_new(t, title,
 * text), ...), bit for bit, under the weights t has at topic_bag_score.
 */
struct topic_bag;
/* Reads title and text (either may be NULL; borrowed) for t. Returns a new bag, freed by
 * topic_bag_free; it borrows t, which must outlive it. */
struct topic_bag *topic_bag_new(const struct topic *t, const char *title, const char *text);
/* The verdict on b's item under t's current weights into *ret (NULL: none), and key_cb (when not
 * NULL) once for each distinct profile key the item holds, as topic_score_keys. False, and nothing
 * done, when b was not read for t. */
bool topic_bag_score(const struct topic *t, const struct topic_bag *b, struct topic_verdict *ret,
		     void (*key_cb)(const char *key, void *arg), void *arg);
void topic_bag_free(struct topic_bag *b);

/* The current weight of profile key (a stem, or two stems separated by one space), before the
 * per-group normalisation topic_profile applies; 0 when key is not in the profile. */
double topic_weight(const struct topic *t, const char *key);

/* The kinds of profile terms: names (written with a capital inside sentences: places, people,
 * institutions), context words (what happens there), phrases (two adjacent stems, context). */
enum topic_group { TOPIC_GROUP_NAME, TOPIC_GROUP_CONTEXT, TOPIC_GROUP_PHRASE };
/* "name", "context" or "phrase". */
const char *topic_group_name(enum topic_group g);

/* Calls cb for each derived term: names, then context words, then phrases, strongest first
 * within each. weight is the term's share of its group (the group's similarity to a text holding
 * that term alone; the squares of a group's shares add up to 1, names and context apart,
 * phrases sharing the context's): names and context are scored apart, so their weights are
 * compared within a group, never across. */
typedef void (*topic_profile_cb)(const char *term, enum topic_group group, double weight,
				 void *arg);
void topic_profile(const struct topic *t, topic_profile_cb cb, void *arg);

/*
 * Background document frequencies: how common each profile key is in everyday news, learned from
 * everything the daemon ingests (kept in SQLite by the caller). df(key, arg) returns how many of
 * ndocs background documents hold key (a stem, or two stems separated by one space). Keys common
 * in the background lose weight, in proportion to the confidence ndocs gives (no effect at 0,
 * half the effect at a few hundred documents). Recalibrates the topic; df is called once per
 * profile key during this call only. Not to be called while another thread scores with t.
 */
typedef uint64_t (*topic_df_cb)(const char *key, void *arg);
void topic_set_background(struct topic *t, uint64_t ndocs, topic_df_cb df, void *arg);

/* Calls cb once for each distinct profile key present in an item (title and text may be NULL):
 * what the caller counts into its background document frequencies. key is borrowed for the call. */
void topic_doc_keys(const struct topic *t, const char *title, const char *text,
		    void (*cb)(const char *key, void *arg), void *arg);

#endif
