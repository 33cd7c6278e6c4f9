/*
 * corpus.c - counting profile keys per ingested document, the counts into and out of the store.
 */
#include "corpus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "topic.h"
#include "util.h"

/* Reload once the corpus has grown by this fraction of what was loaded, and by at least
 * RELOAD_MIN documents: a logarithmic number of reloads over the daemon's life. */
#define RELOAD_FRACTION 4 /* a quarter */
#define RELOAD_MIN	100

struct corpus {
	/* every key ever counted (bounded by the profiles' size): value, the documents holding it
	 * since the last flush; mark, the document that counted it last (1-based) */
	struct strtab keys;
	uint64_t doc;	 /* documents started, all time (the current one is doc) */
	uint64_t docs;	 /* documents since the last flush */
	uint64_t loaded; /* corpus size at the last load */
	uint64_t since;	 /* documents flushed since the last load */
};

struct corpus *corpus_new(void)
{
	return xcalloc(1, sizeof(struct corpus));
}

void corpus_free(struct corpus *c)
{
	if (!c)
		return;
	strtab_free(&c->keys);
	free(c);
}

void corpus_doc(struct corpus *c)
{
	if (!c)
		return;
	c->doc++;
	c->docs++;
}

void corpus_key_cb(const char *key, void *arg)
{
	struct corpus *c = arg;
	if (!c || !c->doc)
		return;
	struct strtab_entry *k = strtab_get(&c->keys, key);
	if (k->mark != c->doc) {
		k->mark = c->doc;
		k->value++;
	}
}

void corpus_discard(struct corpus *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->keys.n; i++)
		c->keys.v[i].value = 0;
	c->docs = 0;
}

int corpus_flush(struct corpus *c, struct store *st)
{
	if (!c || !c->docs)
		return 0;
	int r = 0;
	for (size_t i = 0; i < c->keys.n && r == 0; i++)
		if (c->keys.v[i].value)
			r = store_df_add(st, c->keys.v[i].key, c->keys.v[i].value);
	if (r == 0)
		r = store_df_docs_add(st, c->docs);
	if (r == 0)
		c->since += c->docs;
	corpus_discard(c);
	return r;
}

/* A row of term_df into the table of a load (value: its documents). */
static int row_cb(const char *term, uint64_t docs, void *arg)
{
	strtab_get(arg, term)->value = docs;
	return 0;
}

static uint64_t df_cb(const char *key, void *arg)
{
	const struct strtab_entry *e = strtab_find(arg, key);
	return e ? e->value : 0;
}

/* term_df is read whole, in one statement: it holds the profiles' keys only, a few hundred
 * rows, where a query per key cost a few thousand instructions each. */
int corpus_load(struct corpus *c, struct store *st, struct topic *const *v, size_t n)
{
	uint64_t docs = 0;
	struct strtab x = {0};
	int err = store_df_docs(st, &docs);
	if (!err && docs)
		err = store_df_each(st, row_cb, &x);
	for (size_t i = 0; i < n; i++)
		if (err)
			topic_set_background(v[i], 0, NULL, NULL);
		else
			topic_set_background(v[i], docs, df_cb, &x);
	if (err)
		docs = 0;
	strtab_free(&x);
	if (c) {
		c->loaded = docs;
		c->since = 0;
	}
	return err;
}

bool corpus_stale(const struct corpus *c)
{
	if (!c)
		return false;
	uint64_t grow = c->loaded / RELOAD_FRACTION;
	return c->since >= (grow > RELOAD_MIN ? grow : RELOAD_MIN);
}

uint64_t corpus_loaded_docs(const struct corpus *c)
{
	return c ? c->loaded : 0;
}
