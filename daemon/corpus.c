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

struct key {
	char *key;
	uint64_t count;	   /* documents holding it since the last flush */
	uint64_t last_doc; /* the document that counted it last (1-based) */
};

struct corpus {
	struct key *v; /* every key ever counted: bounded by the profiles' size */
	size_t n, cap;
	uint32_t *slots; /* open addressing: index + 1, 0 = empty */
	size_t nslots;
	uint64_t doc;	 /* documents started, all time (the current one is doc) */
	uint64_t docs;	 /* documents since the last flush */
	uint64_t loaded; /* corpus size at the last load */
	uint64_t since;	 /* documents flushed since the last load */
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

struct corpus *corpus_new(void)
{
	return xcalloc(1, sizeof(struct corpus));
}

void corpus_free(struct corpus *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].key);
	free(c->v);
	free(c->slots);
	free(c);
}

static void rehash(struct corpus *c)
{
	free(c->slots);
	c->nslots = c->nslots ? 2 * c->nslots : 256;
	c->slots = xcalloc(c->nslots, sizeof(*c->slots));
	size_t mask = c->nslots - 1;
	for (size_t j = 0; j < c->n; j++) {
		size_t i = hash_str(c->v[j].key) & mask;
		while (c->slots[i])
			i = (i + 1) & mask;
		c->slots[i] = (uint32_t)(j + 1);
	}
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
	if (2 * (c->n + 1) > c->nslots)
		rehash(c);
	size_t mask = c->nslots - 1;
	size_t i = hash_str(key) & mask;
	for (; c->slots[i]; i = (i + 1) & mask) {
		struct key *k = &c->v[c->slots[i] - 1];
		if (!strcmp(k->key, key)) {
			if (k->last_doc != c->doc) {
				k->last_doc = c->doc;
				k->count++;
			}
			return;
		}
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
	}
	c->v[c->n] = (struct key){xstrdup(key), 1, c->doc};
	c->slots[i] = (uint32_t)(++c->n);
}

void corpus_discard(struct corpus *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		c->v[i].count = 0;
	c->docs = 0;
}

int corpus_flush(struct corpus *c, struct store *st)
{
	if (!c || !c->docs)
		return 0;
	int r = 0;
	for (size_t i = 0; i < c->n && r == 0; i++)
		if (c->v[i].count)
			r = store_df_add(st, c->v[i].key, c->v[i].count);
	if (r == 0)
		r = store_df_docs_add(st, c->docs);
	if (r == 0)
		c->since += c->docs;
	corpus_discard(c);
	return r;
}

/* The background counts read for a load: term_df in memory, open addressing. */
struct load_ctx {
	struct df_row {
		char *key;
		uint64_t docs;
	} * v;
	size_t n, cap;
	uint32_t *slots; /* index + 1, 0 = empty; nslots a power of two, at most half full */
	size_t nslots;
};

static size_t load_slot(const struct load_ctx *x, const char *key)
{
	size_t mask = x->nslots - 1;
	size_t i = hash_str(key) & mask;
	while (x->slots[i] && strcmp(x->v[x->slots[i] - 1].key, key))
		i = (i + 1) & mask;
	return i;
}

static int row_cb(const char *term, uint64_t docs, void *arg)
{
	struct load_ctx *x = arg;
	if (2 * (x->n + 1) > x->nslots) {
		size_t n = x->nslots ? 2 * x->nslots : 256;
		free(x->slots);
		x->slots = xreallocarray(NULL, n, sizeof(*x->slots));
		memset(x->slots, 0, n * sizeof(*x->slots));
		x->nslots = n;
		for (size_t k = 0; k < x->n; k++)
			x->slots[load_slot(x, x->v[k].key)] = (uint32_t)(k + 1);
	}
	size_t i = load_slot(x, term);
	if (x->slots[i]) /* a primary key: never twice */
		return 0;
	if (x->n == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 256;
		x->v = xreallocarray(x->v, x->cap, sizeof(*x->v));
	}
	x->v[x->n] = (struct df_row){xstrdup(term), docs};
	x->slots[i] = (uint32_t)(++x->n);
	return 0;
}

static uint64_t df_cb(const char *key, void *arg)
{
	const struct load_ctx *x = arg;
	if (!x->nslots)
		return 0;
	size_t i = load_slot(x, key);
	return x->slots[i] ? x->v[x->slots[i] - 1].docs : 0;
}

/* term_df is read whole, in one statement: it holds the profiles' keys only, a few hundred
 * rows, where a query per key cost a few thousand instructions each. */
int corpus_load(struct corpus *c, struct store *st, struct topic *const *v, size_t n)
{
	uint64_t docs = 0;
	struct load_ctx x = {0};
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
	for (size_t i = 0; i < x.n; i++)
		free(x.v[i].key);
	free(x.v);
	free(x.slots);
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
