/*
 * text.h - French-aware text normalisation (utf8proc, libstemmer).
 *
 * text_fold is the one normalisation every module shares (dedup hashes, search, scoring).
 */
#ifndef VEILLE_TEXT_H
#define VEILLE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Unicode NFKC, case folded, accents stripped, every run of white space (and control characters)
 * collapsed to one space, trimmed. Invalid UTF-8 bytes are dropped. Returns a new string (never
 * NULL) the caller frees. */
char *text_fold(const char *s, size_t len);

struct buf;
/* text_fold(s, len) before its white space is collapsed: the folded characters of s[0..len)
 * appended to out (NUL-terminated), white space and control characters as they come
 * (text_fold_space tells them). A caller that splits the result into words, with every
 * text_fold_space character a separator, gets the words of text_fold(s, len) without its extra
 * pass and copy. -1 on invalid UTF-8, with out partly written (text_fold drops the invalid
 * bytes: call it instead). */
int text_fold_append(const char *s, size_t len, struct buf *out);
/*
 * text_fold_append one character at a time, for a caller that works on the folded characters as
 * it reads them: text_fold_append of a string in which every character is ASCII or one that
 * text_fold_char knows is the concatenation of their folded forms, an ASCII character's being
 * itself, lower-cased. text_fold_char: the folded form of the character (not ASCII) at
 * s[0..len), *ret_n bytes (not NUL-terminated, borrowed for the life of the process), its length
 * in s in *ret_k; NULL when it is not such a character (it folds with its neighbours, is not
 * in the table, or is invalid UTF-8): fold the whole string with text_fold_append then. Call
 * text_fold_chars_ready first, once: text_fold_char may be called only when it returned true.
 */
bool text_fold_chars_ready(void);
const char *text_fold_char(const char *s, size_t len, size_t *ret_k, size_t *ret_n);
/* True for the characters text_fold collapses to one space (white space, control and format
 * characters), cp being a code point of text_fold_append's output. */
bool text_fold_space(unsigned long cp);

/*
 * Tokens for scoring.
 *
 * text_tokens normalises like text_fold (NFKC, accents stripped, lower case), splits words on
 * every character that is not a letter or a digit (so "gardes-frontières" gives "gardes" and
 * "frontieres", both flagged TEXT_TOKEN_JOINED as parts of a compound), drops French elided
 * articles and pronouns before an apostrophe (' or U+2019: "l'armée" gives "armee"; "jusqu'à" gives
 * nothing), drops tokens holding a digit, one-letter tokens and French stop words, maps spelling
 * variants through an alias table to their canonical form (not stemmed further), and stems what
 * remains with Snowball French.
 *
 * Stemming runs on the accent-folded word, not the original: feed text often arrives without its
 * accents ("bielorusse", "termine"), and the profile must meet the same stem whether or not the
 * writer typed them. Snowball French loses a few accent-driven distinctions that way (é/e
 * endings), which costs far less than missing every unaccented spelling.
 */
#define TEXT_MAX_TOKEN 64 /* bytes of one token; longer words are dropped (no French word is) */

/* Flags passed with each token. */
#define TEXT_TOKEN_CAPITAL 0x1u /* its first letter was upper case in the original text */
#define TEXT_TOKEN_INITIAL 0x2u /* it starts a sentence, a line or a quotation */
#define TEXT_TOKEN_JOINED  0x4u /* a part of a hyphenated compound ("porte-parole") */

/* Called for each token: tok (NUL-terminated, len bytes) is borrowed until the callback returns,
 * or until it tokenises another text, which may reuse the memory (a stem is handed over from
 * where the thread's stem cache keeps it); index counts kept tokens from 0. */
typedef void (*text_token_cb)(const char *tok, size_t len, size_t index, unsigned flags, void *arg);

struct text_stemmer;
struct text_aliases;

/* A French stemmer; NULL if libstemmer lacks French. One stemmer is not safe to share between
 * threads. Free with text_stemmer_free. */
struct text_stemmer *text_stemmer_new(void);
void text_stemmer_free(struct text_stemmer *st);
/* The calling thread's own stemmer, made at its first call and freed when the thread exits
 * (borrowed: never freed by the caller): spares a stemmer per scored item. NULL when none can
 * be kept (no French in libstemmer, no thread-specific key): use text_stemmer_new then. */
struct text_stemmer *text_stemmer_thread(void);

/*
 * Loads a spelling-variant file (format in conf/aliases.txt: "canonical = variant, variant, ...",
 * '#' comments, words folded like text_fold). Returns NULL and a new one-line message
 * "FILE:LINE: ..." in *ret_err on failure. Free with text_aliases_free.
 */
struct text_aliases *text_aliases_load(const char *path, char **ret_err);
/* As text_aliases_load, from a string; name is used in messages (borrowed). */
struct text_aliases *text_aliases_parse(const char *name, const char *data, size_t len,
					char **ret_err);
void text_aliases_free(struct text_aliases *al);
/* The canonical form of the folded word w[0..len), or NULL when it has none. Borrowed from al. */
const char *text_alias(const struct text_aliases *al, const char *w, size_t len);

/* True when the folded word w[0..len) is a French stop word (function word). */
bool text_is_stopword(const char *w, size_t len);
/* Calls cb with each French function word, folded, once: the stop words (text_is_stopword) but
 * those with a meaning of their own ("non", "sans", "plus", "avant", "entre"...), and the elided
 * words ("quelqu") that are not among them. */
void text_function_words(void (*cb)(void *ctx, const char *w), void *ctx);
/* Whether the word lists that text.c searches by bisection are strictly sorted (for the tests). */
bool text_lists_sorted(void);

/*
 * Tokenises s[0..len) as described above and calls cb for each token in order. al may be NULL.
 * Borrows everything; allocates one buffer per call, none per token. Returns the token count.
 */
size_t text_tokens(struct text_stemmer *st, const struct text_aliases *al, const char *s,
		   size_t len, text_token_cb cb, void *arg);

/* As text_token_cb, with hash = hash_bytes(tok, len) (util.h). */
typedef void (*text_token_hashed_cb)(const char *tok, size_t len, uint64_t hash, size_t index,
				     unsigned flags, void *arg);
/* text_tokens for a caller that hashes every token: the hash of a word's stem is kept with the
 * stem (see the stem cache in text.c) rather than worked out anew for each occurrence. */
size_t text_tokens_hashed(struct text_stemmer *st, const struct text_aliases *al, const char *s,
			  size_t len, text_token_hashed_cb cb, void *arg);

/*
 * text_fold and text_tokens normalise through a table of the common code points, built from
 * utf8proc at first use, and call utf8proc only around the others; text_tokens reads runs of
 * ASCII letters and digits at once. These two do everything through utf8proc, and tokenise one
 * character at a time: the reference the tests hold the fast path to, byte for byte (content
 * hashes already stored depend on it).
 */
char *text_fold_reference(const char *s, size_t len);
size_t text_tokens_reference(struct text_stemmer *st, const struct text_aliases *al, const char *s,
			     size_t len, text_token_cb cb, void *arg);

#endif
