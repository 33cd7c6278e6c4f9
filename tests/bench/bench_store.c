/*
 * bench_store.c - store_item_add throughput and the per-item cost of deduplication.
 *
 * Usage: bench_store DIR [N]   (N items, default 100000; DIR must exist, a fresh database file
 *                               bench.db is created in it)
 *        bench_store --scan DIR N...   (the story window scan alone, at window sizes N...)
 *
 * 1. Adds N distinct items in transactions of 50 (as the daemon does, one per fetched feed),
 *    each hashed with dedup_content_hash and checked with store_item_seen first: items/s.
 * 2. With the N items stored, times per item: dedup_content_hash alone; store_item_seen on a
 *    known (feed, identity); store_item_add of the same story from another feed (a duplicate
 *    by hash, which records a source), again in transactions of 50.
 * 3. With the N items stored (all of them in the story window: the worst case), the whole
 *    deduplication path of ingest_doc per item, scoring left out, for M = min(N, 5000) items of
 *    each kind: a new item; an exact duplicate from another feed; a near-duplicate (another
 *    first line, the rest kept: it joins a story); an unchanged item its feed delivered before.
 *
 * --scan: the story window filled with items of random SimHashes (a title, no text: quick to
 * add) up to each size N in turn; at each, with each scan this CPU runs, the story lookups of
 * cold documents of BATCH new items: store_story_prefetch of their BATCH random SimHashes (none
 * near an entry, as most new items), then store_story_find of each; the time per SimHash and
 * window entry, in CPU time, in the fastest of 15 rounds.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dedup.h"
#include "feed.h"
#include "store.h"
#include "util.h"

#define BATCH 50

static const char *const words[] = {
    "frontière", "Biélorussie", "Ukraine",	"Loukachenko", "troupes",    "armée",
    "Pologne",	 "Minsk",	"Kiev",		"exercices",   "militaires", "réfugiés",
    "la",	 "le",		"des",		"à",	       "en",	     "sur",
    "avec",	 "selon",	"gouvernement", "sanctions",   "Moscou",     "président",
    "mardi",	 "jeudi",	"région",	"Brest",       "Gomel",	     "déploiement",
    "manœuvres", "l'OTAN",	"économie",	"électricité", "hiver",	     "accord",
};

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static char *sentence(size_t nwords, unsigned serial)
{
	struct buf b = {0};
	buf_printf(&b, "N°%u ", serial);
	for (size_t i = 0; i < nwords; i++) {
		/* Half the words from a large vocabulary: texts built from 36 words alone would all
		 * share the same word pairs, and their SimHashes would be alike. */
		uint64_t x = next();
		if (x & 1)
			buf_printf(&b, "terme%u", (unsigned)(x >> 1) % 20000u);
		else
			buf_puts(&b, words[(x >> 1) % ARRAY_SIZE(words)]);
		buf_putc(&b, i % 17 == 16 ? '\n' : ' ');
	}
	return buf_steal(&b);
}

struct gen {
	char *title, *summary, *content, id[32], link[96];
};

static void gen_make(struct gen *g, unsigned i)
{
	g->title = sentence(10, i);
	g->summary = sentence(60, i);
	g->content = sentence(400, i);
	snprintf(g->id, sizeof(g->id), "urn:item:%u", i);
	snprintf(g->link, sizeof(g->link), "https://www.example.fr/monde/article-%u.html", i);
}

static void gen_free(struct gen *g)
{
	free(g->title);
	free(g->summary);
	free(g->content);
}

static double secs(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void die(struct store *s, const char *what, int r)
{
	fprintf(stderr, "%s: %s (%s)\n", what, strerror(-r), s ? store_errmsg(s) : "");
	exit(1);
}

enum kind { K_NEW, K_EXACT, K_NEAR, K_SEEN, K_MAX };
static const char *const kind_name[K_MAX] = {[K_NEW] = "new item",
					     [K_EXACT] = "exact duplicate (other feed)",
					     [K_NEAR] = "near-duplicate (joins a story)",
					     [K_SEEN] = "unchanged, seen before"};

/* What ingest_doc does for one item before scoring; returns store_item_add's result, or 2 when
 * the item was skipped as seen. */
static int dedup_one(struct store *s, const char *feed, const char *identity, const char *link,
		     const char *title, const char *text, int64_t *ret_story)
{
	uint64_t fp = dedup_fingerprint(title, NULL, text);
	struct store_delivered src;
	int r = store_source_get(s, feed, identity, &src);
	if (r < 0)
		die(s, "source", r);
	if (r == 1 && src.has_fingerprint && src.fingerprint == fp)
		return 2;
	char hash[DEDUP_HASH_HEX];
	struct dedup_simhash sim;
	dedup_digest(title, text, hash, &sim);
	char *canon = dedup_canonical_url(link);
	struct store_item it = {
	    .feed = feed,
	    .identity = identity,
	    .link = link,
	    .canonical_link = canon,
	    .title = title,
	    .content = text,
	    .hash = hash,
	    .published = FEED_NO_DATE,
	    .fetched = 1900000000,
	    .fingerprint = fp,
	    .simhash = {sim.v[0], sim.v[1]},
	};
	if ((r = store_story_find(s, it.simhash, 0, DEDUP_STORY_DISTANCE, &it.story)) < 0)
		die(s, "story", r);
	*ret_story = it.story;
	int64_t id;
	if ((r = store_item_add(s, &it, &id)) < 0)
		die(s, "add", r);
	free(canon);
	return r;
}

static void dedup_path(struct store *s, struct gen *g, unsigned n)
{
	unsigned m = n < 5000 ? n : 5000;
	struct gen *fresh = xcalloc(m, sizeof(*fresh));
	char **near = xcalloc(m, sizeof(*near));
	for (unsigned i = 0; i < m; i++) {
		gen_make(&fresh[i], n + i);
		/* Another first line (17 words), the rest of the text kept. */
		char *first = sentence(16, 9000000 + i);
		const char *rest = strchr(g[i].content, '\n');
		near[i] = xasprintf("%s%s", first, rest ? rest : "");
		free(first);
	}
	struct store_stats st;
	int r;
	if ((r = store_stats(s, &st)) < 0)
		die(s, "stats", r);
	printf("dedup path per item (fingerprint, identity, hash + SimHash, canonical URL, story "
	       "lookup over %" PRId64 " items, add), %u of each kind, transactions of %d:\n",
	       st.items, m, BATCH);
	for (int k = 0; k < K_MAX; k++) {
		struct timespec t0, t1;
		unsigned outcome[4] = {0}, joined = 0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (unsigned i = 0; i < m; i++) {
			if (i % BATCH == 0 && (r = store_begin(s)) < 0)
				die(s, "begin", r);
			char id[48], link[96];
			int64_t story = 0;
			switch ((enum kind)k) {
			case K_NEW:
				r = dedup_one(s, "feed-n", fresh[i].id, fresh[i].link,
					      fresh[i].title, fresh[i].content, &story);
				break;
			case K_EXACT:
				snprintf(id, sizeof(id), "urn:copy:%u", i);
				r = dedup_one(s, "feed-x", id, g[i].link, g[i].title, g[i].content,
					      &story);
				break;
			case K_NEAR:
				snprintf(id, sizeof(id), "urn:near:%u", i);
				snprintf(link, sizeof(link), "https://autre.example.fr/%u", i);
				r = dedup_one(s, "feed-y", id, link, "Un autre titre", near[i],
					      &story);
				break;
			case K_SEEN:
			case K_MAX:
				r = dedup_one(s, "feed-n", fresh[i].id, fresh[i].link,
					      fresh[i].title, fresh[i].content, &story);
				break;
			}
			outcome[r]++;
			joined += story > 0;
			if ((i % BATCH == BATCH - 1 || i == m - 1) && (r = store_commit(s)) < 0)
				die(s, "commit", r);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf(
		    "  %-32s %7.1f us/item   (stored %u, duplicate %u, skipped %u; joined a story "
		    "%u)\n",
		    kind_name[k], secs(&t0, &t1) / m * 1e6, outcome[1], outcome[0], outcome[2],
		    joined);
	}
	/* The story lookup alone, with each scan this CPU runs (the automatic choice first). */
	struct dedup_simhash sim;
	char hash[DEDUP_HASH_HEX];
	dedup_digest(NULL, near[0], hash, &sim);
	if ((r = store_stats(s, &st)) < 0)
		die(s, "stats", r);
	const char *scans[] = {NULL, "avx512", "avx2", "popcnt", "portable"};
	for (size_t k = 0; k < ARRAY_SIZE(scans); k++) {
		if (store_scan_select(s, scans[k]) < 0)
			continue;
		struct timespec t0, t1;
		int64_t story;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (unsigned i = 0; i < m; i++)
			if ((r = store_story_find(s, sim.v, 0, DEDUP_STORY_DISTANCE, &story)) < 0)
				die(s, "story", r);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double us = secs(&t0, &t1) / m * 1e6;
		printf("  store_story_find alone (window of %" PRId64
		       " items, %s scan%s): %.1f us/lookup, %.2f ns/entry\n",
		       st.items, store_scan_name(s), scans[k] ? "" : ", the automatic choice", us,
		       us * 1e3 / (double)st.items);
		/* As ingest_commit does it: one store_story_prefetch for a document's BATCH new
		 * items, then their lookups. */
		uint64_t(*batch)[2] = xcalloc(BATCH, sizeof(*batch));
		for (unsigned i = 0; i < BATCH; i++) {
			batch[i][0] = sim.v[0] ^ (1ull << i);
			batch[i][1] = sim.v[1] ^ next();
		}
		unsigned rounds = m / BATCH ? m / BATCH : 1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (unsigned i = 0; i < rounds; i++) {
			if ((r = store_story_prefetch(s, (const uint64_t(*)[2])batch, BATCH, 0)) <
			    0)
				die(s, "prefetch", r);
			for (unsigned q = 0; q < BATCH; q++)
				if ((r = store_story_find(s, batch[q], 0, DEDUP_STORY_DISTANCE,
							  &story)) < 0)
					die(s, "story", r);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		us = secs(&t0, &t1) / (rounds * BATCH) * 1e6;
		printf("  store_story_prefetch of %d, then each (%s scan): %.1f us/lookup, %.2f "
		       "ns/entry\n",
		       BATCH, store_scan_name(s), us, us * 1e3 / (double)st.items);
		free(batch);
	}
	store_scan_select(s, NULL);
	for (unsigned i = 0; i < m; i++) {
		gen_free(&fresh[i]);
		free(near[i]);
	}
	free(fresh);
	free(near);
}

/* A new database, DIR/bench.db (an old one removed first); NULL after saying why. */
static struct store *open_fresh(const char *dir, char **ret_path)
{
	char *path = xasprintf("%s/bench.db", dir);
	unlink(path);
	char *err = NULL;
	struct store *s = store_open(path, false, &err);
	if (!s) {
		fprintf(stderr, "%s\n", err);
		free(err);
		free(path);
		return NULL;
	}
	*ret_path = path;
	return s;
}

static int scan_bench(const char *dir, char **sizes, int nsizes)
{
	char *path;
	struct store *s = open_fresh(dir, &path);
	if (!s)
		return 1;
	int r;
	unsigned n = 0;
	for (int z = 0; z < nsizes; z++) {
		unsigned want = (unsigned)strtoul(sizes[z], NULL, 10);
		for (; n < want; n++) {
			if (n % 1000 == 0 && (r = store_begin(s)) < 0)
				die(s, "begin", r);
			char id[32], hash[DEDUP_HASH_HEX];
			snprintf(id, sizeof(id), "urn:scan:%u", n);
			dedup_content_hash(id, NULL, hash);
			struct store_item it = {
			    .feed = "feed-s",
			    .identity = id,
			    .title = id,
			    .hash = hash,
			    .published = FEED_NO_DATE,
			    .fetched = 1900000000,
			    .simhash = {next(), next()},
			};
			int64_t id_;
			if ((r = store_item_add(s, &it, &id_)) != 1)
				die(s, "add", r < 0 ? r : -EEXIST);
			if ((n % 1000 == 999 || n == want - 1) && (r = store_commit(s)) < 0)
				die(s, "commit", r);
		}
		/* Rounds of documents enough for about 2e8 comparisons (at least 2 documents);
		 * the fastest round counts (the others met more of the machine's noise), in
		 * CPU time of this thread (on a shared machine, it waits for a core). */
		unsigned docs = (unsigned)(2e8 / ((double)n * BATCH)) + 2, rounds = 15;
		uint64_t(*batch)[2] = xcalloc(BATCH, sizeof(*batch));
		const char *scans[] = {"avx512", "avx2", "popcnt", "portable"};
		for (size_t k = 0; k < ARRAY_SIZE(scans); k++) {
			if (store_scan_select(s, scans[k]) < 0)
				continue;
			unsigned d = k < 2 ? docs : docs / 4 + 1;
			double fastest = 0;
			for (unsigned round = 0; round < rounds; round++) {
				struct timespec t0, t1;
				int64_t story;
				clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
				for (unsigned i = 0; i < d; i++) {
					for (unsigned q = 0; q < BATCH; q++) {
						batch[q][0] = next();
						batch[q][1] = next();
					}
					if ((r = store_story_prefetch(
						 s, (const uint64_t(*)[2])batch, BATCH, 0)) < 0)
						die(s, "prefetch", r);
					for (unsigned q = 0; q < BATCH; q++)
						if ((r = store_story_find(s, batch[q], 0,
									  DEDUP_STORY_DISTANCE,
									  &story)) < 0)
							die(s, "story", r);
				}
				clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
				double t = secs(&t0, &t1);
				if (!round || t < fastest)
					fastest = t;
			}
			printf(
			    "window %7u, %-8s scan: %.3f ns per SimHash and entry (fastest of %u "
			    "rounds of %u documents of %d)\n",
			    n, scans[k], fastest * 1e9 / ((double)d * BATCH * n), rounds, d, BATCH);
			fflush(stdout);
		}
		free(batch);
	}
	store_close(s);
	unlink(path);
	free(path);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 3 && !strcmp(argv[1], "--scan"))
		return scan_bench(argv[2], argv + 3, argc - 3);
	if (argc < 2) {
		fprintf(stderr, "usage: bench_store DIR [N]\n       bench_store --scan DIR N...\n");
		return 2;
	}
	unsigned n = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 100000;
	char *path;
	struct store *s = open_fresh(argv[1], &path);
	if (!s)
		return 1;
	struct gen *g = xcalloc(n, sizeof(*g));
	for (unsigned i = 0; i < n; i++)
		gen_make(&g[i], i);

	/* 1. Cold: every item new. */
	struct timespec t0, t1;
	int64_t id;
	int r;
	double in_add = 0; /* time inside store_item_add */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < n; i++) {
		if (i % BATCH == 0 && (r = store_begin(s)) < 0)
			die(s, "begin", r);
		char hash[DEDUP_HASH_HEX];
		struct dedup_simhash sim;
		dedup_digest(g[i].title, g[i].content, hash, &sim);
		if ((r = store_item_seen(s, "feed-a", g[i].id)) != 0)
			die(s, "seen", r < 0 ? r : -EEXIST);
		struct store_item it = {
		    .feed = "feed-a",
		    .identity = g[i].id,
		    .guid = g[i].id,
		    .link = g[i].link,
		    .canonical_link = g[i].link,
		    .title = g[i].title,
		    .summary = g[i].summary,
		    .content = g[i].content,
		    .hash = hash,
		    .published = FEED_NO_DATE,
		    .fetched = 1700000000 + i,
		    .fingerprint = dedup_fingerprint(g[i].title, g[i].summary, g[i].content),
		    .simhash = {sim.v[0], sim.v[1]},
		};
		struct timespec a0, a1;
		clock_gettime(CLOCK_MONOTONIC, &a0);
		if ((r = store_item_add(s, &it, &id)) != 1)
			die(s, "add", r < 0 ? r : -EEXIST);
		clock_gettime(CLOCK_MONOTONIC, &a1);
		in_add += secs(&a0, &a1);
		if ((i % BATCH == BATCH - 1 || i == n - 1) && (r = store_commit(s)) < 0)
			die(s, "commit", r);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double cold = secs(&t0, &t1);
	printf(
	    "cold: %u new items (hash + seen + add, transactions of %d) in %.2f s: %.0f items/s\n",
	    n, BATCH, cold, n / cold);
	printf("      of which inside store_item_add: %.1f us/item (%.0f items/s)\n",
	       in_add / n * 1e6, n / in_add);

	/* 2a. Hashing alone. */
	char hash[DEDUP_HASH_HEX];
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < n; i++)
		dedup_content_hash(g[i].title, g[i].content, hash);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double th = secs(&t0, &t1);
	/* 2b. The cheap per-feed check on known items. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < n; i++)
		if ((r = store_item_seen(s, "feed-a", g[i].id)) != 1)
			die(s, "seen", r < 0 ? r : -ENOENT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ts = secs(&t0, &t1);
	/* 2c. The same stories from another feed: hash, seen (no), add -> duplicate. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < n; i++) {
		if (i % BATCH == 0 && (r = store_begin(s)) < 0)
			die(s, "begin", r);
		dedup_content_hash(g[i].title, g[i].content, hash);
		if ((r = store_item_seen(s, "feed-b", g[i].id)) != 0)
			die(s, "seen b", r < 0 ? r : -EEXIST);
		struct store_item it = {
		    .feed = "feed-b",
		    .identity = g[i].id,
		    .link = g[i].link,
		    .title = g[i].title,
		    .content = g[i].content,
		    .hash = hash,
		    .published = FEED_NO_DATE,
		    .fetched = 1800000000,
		};
		if ((r = store_item_add(s, &it, &id)) != 0)
			die(s, "add dup", r < 0 ? r : -EEXIST);
		if ((i % BATCH == BATCH - 1 || i == n - 1) && (r = store_commit(s)) < 0)
			die(s, "commit", r);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double td = secs(&t0, &t1);
	struct store_stats st;
	if ((r = store_stats(s, &st)) < 0)
		die(s, "stats", r);
	printf("with %" PRId64 " items stored (%" PRId64 " sources):\n", st.items, st.sources);
	printf("  dedup_content_hash (title + ~3 KB text): %.1f us/item\n", th / n * 1e6);
	printf("  store_item_seen (known identity):         %.1f us/item\n", ts / n * 1e6);
	printf("  duplicate from another feed (hash + seen + add, tx of %d): %.1f us/item\n", BATCH,
	       td / n * 1e6);
	dedup_path(s, g, n);
	store_close(s);
	for (unsigned i = 0; i < n; i++)
		gen_free(&g[i]);
	free(g);
	free(path);
	return 0;
}
