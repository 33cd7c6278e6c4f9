/*
 * text.h - French-aware text normalisation (utf8proc, libstemmer).
 *
 * text_fold is the one normalisation every module shares (dedup hashes, search, scoring).
 */
#ifndef VEILLE_TEXT_H
#define VEILLE_TEXT_H

#include <stddef.h>

/* Unicode NFKC, case folded, accents stripped, every run of white space (and control characters)
 * collapsed to one space, trimmed. Invalid UTF-8 bytes are dropped. Returns a new string (never
 * NULL) the caller frees. */
char *text_fold(const char *s, size_t len);

#endif
