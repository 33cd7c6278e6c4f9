/*
 * bench_digest.c - the per-item text work of a cold cycle, alone: dedup_digest and text_tokens
 * (title and text, as topic scoring reads them) over every item of the given feed documents.
 *
 * Usage: bench_digest [-p] [-f] [-t] [-d] [-a ALIASES] [-r REFERENCE]... FILE...
 * Each FILE is a feed document, or with -t a plain text (its first line read as the title).
 * -f prints what feed_parse made of each document (its error, format, title, link, ttl, and each
 * item's fields, each as its length and its bytes): two builds must also parse alike.
 * -r: also score every item with topic_score_keys against a topic built from the REFERENCE
 * articles (and ALIASES), as the daemon does before its corpus holds any background.
 * -p prints, per item, the content hash, the SimHash, the canonical link, the tokens with their
 * flags and, with -r, the score, the profile keys and the top terms (doubles in %a, every bit):
 * two builds must print the same bytes (a check that a faster normalisation changed nothing).
 * -d leaves the tokens and scores out: the digests alone (content hash, SimHash and canonical
 * link: the worker's ingest_prepare_digests) are timed or printed.
 * Without -p it prints the item count and the time per item; `valgrind --tool=callgrind` on it
 * gives the instructions per item of dedup_digest, text_tokens and topic_score_keys.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dedup.h"
#include "feed.h"
#include "text.h"
#include "topic.h"
#include "util.h"

struct out {
	struct buf *b;
	bool print;
	size_t n;
};

static void tok_cb(const char *tok, size_t len, size_t index, unsigned flags, void *arg)
{
	struct out *o = arg;
	o->n++;
	if (o->print)
		buf_printf(o->b, " %zu:%.*s/%u", index, (int)len, tok, flags);
}

static void key_cb(const char *key, void *arg)
{
	struct out *o = arg;
	if (o->print)
		buf_printf(o->b, " %s", key);
}

/* A string as " LEN:BYTES", or " -" for NULL: exact, whatever the bytes. */
static void put_field(struct buf *b, const char *s)
{
	if (s)
		buf_printf(b, " %zu:%s", strlen(s), s);
	else
		buf_puts(b, " -");
}

/* What feed_parse made of a document, for -f. */
static void print_doc(const char *path, int r, const struct feed_doc *doc, const char *err)
{
	struct buf b = {0};
	buf_printf(&b, "doc %s %d", path, r);
	put_field(&b, err);
	if (doc) {
		buf_printf(&b, " %s %d %d %zu", feed_format_name(doc->format), doc->ttl_minutes,
			   doc->recovered, doc->nitems);
		put_field(&b, doc->title);
		put_field(&b, doc->link);
		for (size_t i = 0; i < doc->nitems; i++) {
			const struct feed_item *it = &doc->items[i];
			const char *f[] = {it->id,     it->link,    it->title,
					   it->author, it->summary, it->content};
			buf_printf(&b, "\nitem %" PRId64, it->published);
			for (size_t k = 0; k < ARRAY_SIZE(f); k++)
				put_field(&b, f[k]);
		}
	}
	buf_putc(&b, '\n');
	fwrite(b.p, 1, b.len, stdout);
	buf_free(&b);
}

/* The text an item is hashed and judged on (ingest.c's choice). */
static const char *fullest(const struct feed_item *it)
{
	if (it->content && (!it->summary || strlen(it->content) >= strlen(it->summary)))
		return it->content;
	return it->summary;
}

int main(int argc, char **argv)
{
	bool print = false, plain = false, fields = false, digests = false;
	const char *aliases = NULL;
	const char **refs = xcalloc((size_t)argc, sizeof(*refs));
	size_t nrefs = 0;
	int opt;
	while ((opt = getopt(argc, argv, "pftda:r:")) != -1) {
		if (opt == 'p')
			print = true;
		else if (opt == 'f')
			fields = true;
		else if (opt == 't')
			plain = true;
		else if (opt == 'd')
			digests = true;
		else if (opt == 'a')
			aliases = optarg;
		else if (opt == 'r')
			refs[nrefs++] = optarg;
		else
			return 2;
	}
	struct topic *topic = NULL;
	if (nrefs) {
		char *err = NULL;
		topic = topic_new("bench", refs, nrefs, 0.65, aliases, &err);
		if (!topic) {
			fprintf(stderr, "bench_digest: %s\n", err);
			return 1;
		}
	}
	struct text_aliases *al = NULL;
	if (aliases) {
		char *err = NULL;
		al = text_aliases_load(aliases, &err);
		if (!al) {
			fprintf(stderr, "bench_digest: %s\n", err);
			return 1;
		}
	}
	struct text_stemmer *st = text_stemmer_new();
	struct buf b = {0};
	struct out o = {.b = &b, .print = print};
	size_t items = 0;
	struct timespec t0, t1;
	double total = 0;
	for (int a = optind; a < argc; a++) {
		char *data = NULL, err[256];
		size_t len = 0;
		struct feed_doc *doc = NULL;
		struct feed_item one = {0};
		struct feed_doc single = {.items = &one, .nitems = 1};
		if (read_file(argv[a], 64u << 20, &data, &len) < 0) {
			continue;
		} else if (plain) {
			char *nl = strchr(data, '\n');
			one.title = data;
			one.content = nl ? nl + 1 : NULL;
			if (nl)
				*nl = '\0';
			doc = &single;
		} else {
			int r = feed_parse(data, len, NULL, NULL, &doc, err, sizeof(err));
			if (fields)
				print_doc(argv[a], r, doc, err);
			if (r < 0) {
				free(data);
				continue;
			}
		}
		for (size_t i = 0; i < doc->nitems; i++) {
			const struct feed_item *it = &doc->items[i];
			const char *text = fullest(it);
			char hash[DEDUP_HASH_HEX];
			struct dedup_simhash sim;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			dedup_digest(it->title, text, hash, &sim);
			char *canon = it->link ? dedup_canonical_url(it->link) : NULL;
			if (print)
				buf_printf(&b, "%s %016" PRIx64 "%016" PRIx64 " %s\n", hash,
					   sim.v[0], sim.v[1], canon ? canon : "-");
			free(canon);
			if (!digests && it->title && *it->title)
				text_tokens(st, al, it->title, strlen(it->title), tok_cb, &o);
			if (print)
				buf_putc(&b, '\n');
			if (!digests && text && *text)
				text_tokens(st, al, text, strlen(text), tok_cb, &o);
			if (topic && !digests) {
				struct topic_verdict v;
				if (print)
					buf_puts(&b, "\nkeys");
				topic_score_keys(topic, it->title, text, &v, key_cb, &o);
				if (print) {
					buf_printf(&b, "\nscore %a %d", v.score, v.relevant);
					for (size_t k = 0; k < v.nterms; k++)
						buf_printf(&b, " %s:%a", v.terms[k].term,
							   v.terms[k].weight);
				}
			}
			clock_gettime(CLOCK_MONOTONIC, &t1);
			total += (double)(t1.tv_sec - t0.tv_sec) +
				 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
			if (print) {
				buf_putc(&b, '\n');
				fwrite(b.p, 1, b.len, stdout);
				buf_reset(&b);
			}
			items++;
		}
		if (!plain)
			feed_doc_free(doc);
		free(data);
	}
	if (!print)
		printf("%zu items, %zu tokens, %.1f us per item\n", items, o.n,
		       items ? total * 1e6 / (double)items : 0.0);
	buf_free(&b);
	text_stemmer_free(st);
	text_aliases_free(al);
	topic_free(topic);
	free(refs);
	return 0;
}
