/*
 * fts_ref.h - items_fts's tokenizer as the store must write it, the plain way, for the tests'
 * connections from outside the store: SQLite's unicode61 without the function words
 * (text_function_words) and the single letters, each token looked for in a list, one word after
 * another. A prefix query's last token is dropped too: the tests search no prefix from outside.
 */
#ifndef VEILLE_FTS_REF_H
#define VEILLE_FTS_REF_H

#include <stdbool.h>
#include <string.h>

#include <sqlite3.h>

#include "text.h"
#include "util.h"

static fts5_tokenizer ref_uni;
static struct buf ref_words; /* the function words, each NUL-terminated */

static void ref_word_cb(void *ctx, const char *w)
{
	(void)ctx;
	buf_puts(&ref_words, w);
	buf_putc(&ref_words, '\0');
}

static bool ref_dropped(const char *w, int n)
{
	if (n == 1 && w[0] >= 'a' && w[0] <= 'z')
		return true;
	for (const char *p = ref_words.p; p < ref_words.p + ref_words.len; p += strlen(p) + 1)
		if ((int)strlen(p) == n && !memcmp(p, w, (size_t)n))
			return true;
	return false;
}

struct ref_emit {
	void *ctx;
	int (*emit)(void *ctx, int flags, const char *token, int n, int start, int end);
};

static int ref_cb(void *ctx, int flags, const char *token, int n, int start, int end)
{
	struct ref_emit *r = ctx;
	return ref_dropped(token, n) ? SQLITE_OK : r->emit(r->ctx, flags, token, n, start, end);
}

static int ref_create(void *ctx, const char **argv, int argc, Fts5Tokenizer **ret)
{
	return ref_uni.xCreate(ctx, argv, argc, ret);
}

static void ref_delete(Fts5Tokenizer *t)
{
	ref_uni.xDelete(t);
}

static int ref_tokenize(Fts5Tokenizer *t, void *ctx, int flags, const char *text, int n,
			int (*emit)(void *ctx, int flags, const char *token, int n, int start,
				    int end))
{
	struct ref_emit r = {ctx, emit};
	return ref_uni.xTokenize(t, &r, flags, text, n, ref_cb);
}

/* Registers the reference tokenizer on db as "veille". */
static void fts_ref_register(sqlite3 *db)
{
	fts5_api *api = NULL;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
	sqlite3_step(st);
	sqlite3_finalize(st);
	assert_non_null(api);
	void *uni_ctx;
	assert_int_equal(api->xFindTokenizer(api, "unicode61", &uni_ctx, &ref_uni), SQLITE_OK);
	if (!ref_words.len)
		text_function_words(ref_word_cb, NULL);
	fts5_tokenizer tk = {ref_create, ref_delete, ref_tokenize};
	assert_int_equal(api->xCreateTokenizer(api, "veille", uni_ctx, &tk, NULL), SQLITE_OK);
}

#endif
