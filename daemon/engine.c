/*
 * engine.c - feeds, timers, fetches and the ingestion of what they bring.
 *
 * Each feed has a runtime record (struct feed_rt) holding its stored fetch state. A timer fires,
 * the feed is fetched with its validators, and the completion (on the loop, never inside
 * libcurl) decides: 304 costs nothing; 200 is parsed and ingested together with the new fetch
 * state, in a transaction the documents that come in a row share (batch_add); failures count
 * towards backoff. Problems are logged when a feed's state changes (starts failing, recovers, is
 * gone), not at every attempt.
 */
#include "engine.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "bounds.h"
#include "config.h"
#include "corpus.h"
#include "feed.h"
#include "fetch.h"
#include "ingest.h"
#include "log.h"
#include "sched.h"
#include "store.h"
#include "util.h"
#include "worker.h"

struct feed_rt {
	struct engine *e;
	size_t index;
	const struct config_feed *cf;
	struct store_feed st;
	bool inflight;		 /* fetching, or its document on its way to the store */
	bool queued;		 /* due, waiting for a free transfer slot */
	bool host_wait;		 /* due, waiting for its host's transfers to drop below the limit */
	bool host_held;		 /* its transfer is counted in its host's */
	size_t host;		 /* its host's entry in e->hosts, while host_wait or host_held */
	size_t host_next;	 /* the feed waiting after it for the same host (NO_FEED: none) */
	bool done_once;		 /* --once: this feed's cycle is over */
	bool saved_in_batch;	 /* its state was saved in the open transaction (fetch_close) */
	bool commit_alone;	 /* its document failed in a transaction shared with others */
	unsigned store_failures; /* its documents the database refused in a row (in memory) */
};

struct engine {
	struct event_base *base;
	struct config *cfg;
	struct topics topics;
	struct store *store;
	struct fetch *fetch;
	struct sched *sched;
	struct feed_rt *feeds;
	size_t nfeeds;
	/* Due feeds beyond max_connections wait here, first come first served: libcurl's total
	 * timeout runs from the moment a transfer is added, so queueing thousands inside libcurl
	 * would time them out before they ever connect. */
	size_t *waitq;
	size_t wq_head, wq_len;
	/* Transfers per host (fetch_host_key of the feed's URL: the entry's value), at most
	 * max_host_connections at once, for the same reason: libcurl would hold the others with
	 * their timeout running, and a slow host with many feeds would time some out before they
	 * connect. A due feed whose host has as many waits in the host's queue (hostq, by entry
	 * index), first come first served; a host whose transfers dropped below the limit while
	 * feeds wait for it is on the ready stack, and drain_queue starts its next feed before
	 * the feeds of waitq. */
	struct strtab hosts;
	struct host_queue {
		size_t first, last; /* NO_FEED: none */
		bool ready;
	} * hostq;
	size_t caphostq;
	size_t *ready;
	size_t nready;
	/* Transfers started, and documents they brought not yet stored: a document keeps its
	 * transfer's slot until it is in the open transaction (and freed), so max_connections
	 * bounds the bodies held too. */
	size_t active;
	/* Parsing, digests and scoring run on the worker's threads (struct job); the store and
	 * everything else stay on the loop's thread. Documents wait in jobq until fewer than
	 * jobs_max are parsed and not yet committed: that bounds the memory of parsed documents;
	 * and no transfer starts while jobs_max wait: that bounds the bodies held. */
	struct worker *worker;
	struct job *jobq, **jobq_tail;
	size_t jobq_len, jobs_open, jobs_max;
	/* Beyond jobs_min open documents, another is handed to the worker only while the bodies of
	 * those open, decoded, stay within JOBS_AHEAD_BYTES (jobs_bytes: their estimated sizes). */
	size_t jobs_min, jobs_bytes;
	/* The worker scores with the read lock held; the loop re-weights the topics
	 * (topics_load_background) with the write lock, and counts each re-weighting in
	 * topics_gen: verdicts prepared under an older generation are computed again, from the
	 * items' bags the worker kept (topic_bag_new), without reading their texts again. */
	pthread_rwlock_t topics_lock;
	unsigned topics_gen;
	/* The worker scans the story window of e->store (ingest_prepare_stories) with the read
	 * lock held; the loop swaps e->store for another with the write lock. */
	pthread_rwlock_t store_lock;
	/* Read-only connections for the worker's triage (ingest_triage), at most one per thread:
	 * a job takes one from the pool and gives it back (triage_take, triage_give). */
	pthread_mutex_t triage_mu;
	struct store *triage[WORKER_MAX_THREADS];
	unsigned ntriage;
	int64_t triage_retry; /* opening one failed: not tried again before then */
	/*
	 * Documents and preparations the worker made, committed and waiting for the worker to
	 * free them (trash_empty, at the start of its next job): each thread frees what it
	 * allocated. glibc's malloc gives the worker an arena of its own, and a free() on the
	 * loop's thread of a block from it takes that arena's lock, which the worker holds at
	 * every allocation: the two threads contended for it thousands of times a cycle (most
	 * of the loop's futex waits). The loop frees them itself when the worker has no job
	 * (trash_empty). The array belongs to the loop's thread; the worker only takes entries.
	 */
	pthread_mutex_t trash_mu;
	struct trash {
		struct feed_doc *doc;
		struct ingest_prep *prep;
	} * trash;
	size_t ntrash, captrash;
	/* Documents stored in the open transaction, their fetches ended when it commits (see
	 * batch_add). */
	struct job *batch, **batch_tail;
	size_t batch_docs;
	unsigned batch_added;
	/* Feeds whose fetch ended without a document (a 304, an error, a 410...) while the
	 * transaction was open, their state saved in it: saved again should it roll back. */
	size_t *batch_saved;
	size_t nbatch_saved, capbatch_saved;
	/* The topics were re-weighted inside the open transaction (prepared_cb): their document
	 * frequencies count the documents it holds. Should it roll back, batch_fail re-weights
	 * them from what is stored; should that fail, the next commit does (reweigh_at_commit). */
	bool batch_reweighed;
	bool reweigh_at_commit;
	struct event *batch_ev;
	bool once;
	bool stopping;
	size_t once_left;
	int failed;
	/* The database refused a write: what failed, so it is logged once and its recovery once. A
	 * feed-state save succeeding does not prove that an ingest transaction would. */
	enum { STORE_OK, STORE_SAVE_FAILING, STORE_INGEST_FAILING } store_failing;
	bool store_reopen; /* the connection is read-only: open the file again before writing */
	struct ingest_outbox outbox;
	/* retention and PRAGMA optimize, on a timer of their own */
	struct event *maint_ev;
	int64_t next_optimize;
	bool maint_failing;
	bool alerts_failing; /* the last flush left alerts queued: logged once, and its end once */
	/* counters for STATUS= */
	int64_t day;
	unsigned items_today, alerts_today;
};

static void feed_fetched_cb(const struct fetch_result *res, void *arg);
static void feed_due_cb(size_t i, void *arg);
static int load_background(struct engine *e, bool only_when_stale);
static void fetch_close(struct feed_rt *f, bool release, bool stored);
static void set_error(struct feed_rt *f, const char *what, const char *msg, int64_t retry_after);
static struct sched_policy policy(const struct feed_rt *f);
static void maint_cb(evutil_socket_t fd, short what, void *arg);
static void jobs_cancel(struct engine *e);
static void batch_cb(evutil_socket_t fd, short what, void *arg);
static void batch_commit(struct engine *e);
static void triage_close(struct engine *e);
static void trash_empty(struct engine *e);

/* Retention runs an hour apart, deleting MAINT_BATCH items per transaction for at most
 * MAINT_BUDGET_MS at a time (then again a second later), so fetches never wait long. */
#define MAINT_FIRST	  60
#define MAINT_INTERVAL	  3600
#define MAINT_AGAIN	  1
#define MAINT_BATCH	  500
#define MAINT_BUDGET_MS	  200
#define OPTIMIZE_INTERVAL (6 * 3600)

/* One transaction stores the documents that come in a row, up to BATCH_ITEMS new items or
 * BATCH_MS after the first, and commits as soon as no other document is on its way. */
/* 1000 rather than 500: each commit writes every page its items touched, and the hash and link
 * indexes take theirs all over the file; a cold cycle of 50,000 items wrote 22% fewer blocks and
 * its loop used 4% less CPU, for the same peak RSS. */
#define BATCH_ITEMS 1000
#define BATCH_MS    1000

/* Documents prepared ahead of the loop while it commits (see engine_new), as long as the open
 * documents' bodies stay within JOBS_AHEAD_BYTES decoded: a few large feeds do not hold 16 parsed
 * documents. */
#define JOBS_AHEAD	 13
#define JOBS_AHEAD_BYTES (2u << 20)

static struct fetch *make_fetch(struct engine *e)
{
	const struct config *c = e->cfg;
	char *ua = c->user_agent ? xstrdup(c->user_agent)
		   : c->contact	 ? xasprintf("veille/%s (+%s)", VEILLE_VERSION, c->contact)
				 : xasprintf("veille/%s", VEILLE_VERSION);
	struct fetch_options fo = {
	    .max_connections = c->max_connections,
	    .max_host_connections = c->max_host_connections,
	    .connect_timeout_ms = (long)c->connect_timeout * 1000,
	    .timeout_ms = (long)c->timeout * 1000,
	    .low_speed_bytes = (long)c->low_speed_limit,
	    .low_speed_seconds = (long)c->low_speed_time,
	    .max_body = (size_t)c->max_body,
	    .user_agent = ua,
	    .keep_encoded = true, /* decoded by the worker (document_run) */
	};
	struct fetch *f = fetch_new(e->base, &fo);
	free(ua);
	return f;
}

/* Opens the daemon's connection to path (store_open): its checkpoints run beside it, on a thread
 * of the store's own, so that no commit waits for one. */
static struct store *open_store(const char *path, char **ret_err)
{
	struct store *st = store_open(path, false, ret_err);
	if (st && store_wal_background(st) < 0)
		log_warnx("database %s: %s; commits copy the WAL back themselves", path,
			  store_errmsg(st));
	return st;
}

static void replace(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? xstrdup(src) : NULL;
}

/*
 * Reconciles a feed's stored state (known: there was one) with its configured URL. The state
 * remembers the configured URL it belongs to: while the configuration names the same URL, the
 * stored URL (where a permanent redirect led) and its validators are kept; when the configuration
 * changed it, the feed starts afresh from the new URL: no validators, no errors, not disabled, due
 * now. A state from before config_url was stored is kept when its URL is the configured one, and
 * starts afresh otherwise (a redirect and an edit cannot be told apart then).
 */
static void adopt_config_url(struct feed_rt *f, bool known)
{
	const char *want = f->cf->url;
	if (known && f->st.config_url && strcmp(f->st.config_url, want) == 0) {
		if (f->st.url && strcmp(f->st.url, want) != 0)
			log_debug("feed %s: fetching %s, where %s moved permanently", f->cf->name,
				  f->st.url, want);
		return;
	}
	if (known && !f->st.config_url && f->st.url && strcmp(f->st.url, want) == 0) {
		replace(&f->st.config_url, want);
		return;
	}
	if (known && f->st.config_url)
		log_info("feed %s: url changed in the configuration from %s to %s; its fetch state "
			 "starts afresh",
			 f->cf->name, f->st.config_url, want);
	replace(&f->st.url, want);
	replace(&f->st.config_url, want);
	replace(&f->st.etag, NULL);
	replace(&f->st.last_modified, NULL);
	replace(&f->st.last_error, NULL);
	f->st.errors = 0;
	f->st.disabled = false;
	f->st.last_status = 0;
	f->st.next_fetch = 0;
	f->st.items_per_week = -1;
	f->st.ttl = 0;
}

/* The states of a configuration's feeds, before they become its runtime records (build_feeds). */
struct feed_states {
	struct store_feed *v; /* feed i's, to be cleared */
	bool *known;	      /* the database had feed i's (or the engine holds it) */
	size_t *held; /* 1 + the running feed whose state feed i takes (states_take_held), or 0 */
	size_t n;
};

static void states_free(struct feed_states *fs)
{
	for (size_t i = 0; i < fs->n; i++)
		store_feed_clear(&fs->v[i]);
	free(fs->v);
	free(fs->known);
	free(fs->held);
	*fs = (struct feed_states){0};
}

/* The states of c's feeds, from st, except those the engine running (NULL: none) holds for a
 * feed of the same name (see states_take_held). On failure (a database error: a feed st has not
 * is no error), *ret_err says which feed, and fs is freed. */
static int states_load(struct feed_states *fs, struct store *st, const struct config *c,
		       const struct engine *running, char **ret_err)
{
	size_t n = c->nfeeds ? c->nfeeds : 1;
	*fs = (struct feed_states){.v = xcalloc(n, sizeof(*fs->v)),
				   .known = xcalloc(n, sizeof(*fs->known)),
				   .held = xcalloc(n, sizeof(*fs->held)),
				   .n = c->nfeeds};
	struct strtab names = {0};
	for (size_t i = 0; running && i < running->nfeeds; i++)
		strtab_get(&names, running->feeds[i].cf->name)->value = i + 1;
	int r = 0;
	for (size_t i = 0; i < c->nfeeds && r == 0; i++) {
		struct strtab_entry *held = strtab_find(&names, c->feeds[i].name);
		if (held) {
			fs->held[i] = held->value;
			continue;
		}
		r = store_feed_load(st, c->feeds[i].name, &fs->v[i]);
		fs->known[i] = r == 0;
		if (r == -ENOENT) {
			r = 0;
		} else if (r < 0) {
			*ret_err = xasprintf("%s: cannot load the state of feed %s: %s",
					     c->database, c->feeds[i].name, store_errmsg(st));
		}
	}
	strtab_free(&names);
	if (r < 0)
		states_free(fs);
	return r;
}

/* The feeds of fs that keep a running feed's state take it from e: the state the engine holds,
 * which it has stored by now (or, should the database have refused it, stores at the feed's next
 * fetch). */
static void states_take_held(struct feed_states *fs, struct engine *e)
{
	for (size_t i = 0; i < fs->n; i++) {
		if (!fs->held[i])
			continue;
		struct feed_rt *f = &e->feeds[fs->held[i] - 1];
		fs->v[i] = f->st;
		f->st = (struct store_feed){0};
		fs->known[i] = true;
		fs->held[i] = 0;
	}
}

/* Builds the runtime records for e->cfg's feeds from their states fs, which they take, and their
 * scheduler. */
static void build_feeds(struct engine *e, struct feed_states *fs)
{
	e->nfeeds = e->cfg->nfeeds;
	e->feeds = xcalloc(e->nfeeds ? e->nfeeds : 1, sizeof(*e->feeds));
	e->waitq = xcalloc(e->nfeeds ? e->nfeeds : 1, sizeof(*e->waitq));
	e->wq_head = e->wq_len = 0;
	for (size_t i = 0; i < e->nfeeds; i++) {
		struct feed_rt *f = &e->feeds[i];
		f->e = e;
		f->index = i;
		f->cf = &e->cfg->feeds[i];
		f->st = fs->v[i];
		fs->v[i] = (struct store_feed){0};
		adopt_config_url(f, fs->known[i]);
	}
	e->sched = sched_new(e->base, e->nfeeds, feed_due_cb, e);
	if (!e->sched)
		fatalx("cannot create the schedule of %zu feeds", e->nfeeds);
}

/* Builds the runtime records for e->cfg's feeds, loading their stored state. */
static int make_feeds(struct engine *e, char **ret_err)
{
	struct feed_states fs;
	int r = states_load(&fs, e->store, e->cfg, NULL, ret_err);
	if (r < 0)
		return r;
	build_feeds(e, &fs);
	states_free(&fs);
	return 0;
}

static void free_feeds(struct engine *e)
{
	sched_free(e->sched);
	e->sched = NULL;
	for (size_t i = 0; i < e->nfeeds; i++)
		store_feed_clear(&e->feeds[i].st);
	free(e->feeds);
	e->feeds = NULL;
	e->nfeeds = 0;
	free(e->waitq);
	e->waitq = NULL;
	e->wq_head = e->wq_len = 0;
	strtab_free(&e->hosts);
	free(e->hostq);
	e->hostq = NULL;
	e->caphostq = 0;
	free(e->ready);
	e->ready = NULL;
	e->nready = 0;
}

/* The database's identity, VEILLE_ORIGIN of its alerts: made once, kept in the meta table. When
 * it cannot be kept (read-only database), one for this run only: a crash then costs at most a
 * repeated alert, never a lost one. */
static void set_origin(struct store *st, const char *database)
{
	char *origin = NULL;
	int r = store_meta_get(st, "origin", &origin);
	if (r == -ENOENT) {
		uint64_t n[2];
		arc4random_buf(n, sizeof(n));
		origin =
		    xasprintf("%016llx%016llx", (unsigned long long)n[0], (unsigned long long)n[1]);
		r = store_meta_set(st, "origin", origin);
	}
	if (r < 0)
		log_warnx("database %s: cannot keep its identity (%s): an alert sent just before a "
			  "crash may be sent again",
			  database, strerror(-r));
	alert_set_origin(origin);
	free(origin);
}

struct engine *engine_new(struct event_base *base, struct config *c, bool once, char **ret_err)
{
	struct engine *e = xcalloc(1, sizeof(*e));
	char *err = NULL;
	e->base = base;
	e->cfg = c;
	e->once = once;
	e->jobq_tail = &e->jobq;
	e->batch_tail = &e->batch;
	/* A waiting writer goes first: the loop never waits for more than one document. */
	pthread_rwlockattr_t la;
	pthread_rwlockattr_init(&la);
	pthread_rwlockattr_setkind_np(&la, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&e->topics_lock, &la);
	pthread_rwlock_init(&e->store_lock, &la);
	pthread_rwlockattr_destroy(&la);
	pthread_mutex_init(&e->triage_mu, NULL);
	pthread_mutex_init(&e->trash_mu, NULL);
	if (topics_build(c, &e->topics, ret_err) < 0)
		goto fail;
	e->store = open_store(c->database, &err);
	if (!e->store) {
		*ret_err = xasprintf("%s: %s", c->database, err ? err : "cannot open");
		free(err);
		goto fail;
	}
	set_origin(e->store, c->database);
	e->fetch = make_fetch(e);
	if (!e->fetch) {
		*ret_err = xstrdup("cannot initialise libcurl");
		goto fail;
	}
	if (make_feeds(e, ret_err) < 0)
		goto fail;
	load_background(e, false);
	feed_global_init();
	unsigned nthreads = worker_threads_default();
	/* Documents handed to the worker and not yet in the open transaction. The loop commits
	 * a transaction in one go, FTS5's index of its items included: half of the loop's CPU in a
	 * cold cycle, 25 ms on average and up to 100 ms for 500 items, while the worker prepares a
	 * document of 50 items in about 6 ms. With one document per thread and two more, the worker
	 * waited for every commit to end; JOBS_AHEAD more keep it working through one. Each costs
	 * its parsed document (~150 KB for 50 items of ~95 KB), which the bodies held compressed
	 * pay for; JOBS_AHEAD_BYTES keeps large feeds from holding as many. */
	e->jobs_min = nthreads + 2;
	e->jobs_max = e->jobs_min + JOBS_AHEAD;
	e->worker = worker_new(base, nthreads);
	if (!e->worker && (e->worker = worker_new(base, 0)))
		log_warnx("cannot start a worker thread: parsing and scoring on the main thread");
	if (!e->worker) {
		*ret_err = xstrdup("cannot create the worker's pipe");
		goto fail;
	}
	e->maint_ev = evtimer_new(base, maint_cb, e);
	e->batch_ev = evtimer_new(base, batch_cb, e);
	if (!e->maint_ev || !e->batch_ev) {
		*ret_err = xstrdup("cannot create the engine's timers");
		goto fail;
	}
	e->next_optimize = now_unix() + OPTIMIZE_INTERVAL;
	return e;
fail:
	engine_free(e);
	return NULL;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	/* fetch_free completes transfers (cancelled) while the feed records still exist; the
	 * documents already with the worker are stored, those waiting for it are dropped. */
	e->stopping = true;
	fetch_free(e->fetch);
	e->fetch = NULL;
	jobs_cancel(e);
	worker_free(e->worker);
	triage_close(e);
	batch_commit(e);
	trash_empty(e);
	free_feeds(e);
	if (e->maint_ev)
		event_free(e->maint_ev);
	if (e->batch_ev)
		event_free(e->batch_ev);
	store_close(e->store);
	free(e->batch_saved);
	ingest_outbox_clear(&e->outbox);
	topics_clear(&e->topics);
	pthread_rwlock_destroy(&e->topics_lock);
	pthread_rwlock_destroy(&e->store_lock);
	pthread_mutex_destroy(&e->triage_mu);
	pthread_mutex_destroy(&e->trash_mu);
	free(e->trash);
	config_free(e->cfg);
	free(e);
}

static void count_day(struct engine *e)
{
	int64_t day = now_unix() / 86400;
	if (day != e->day) {
		e->day = day;
		e->items_today = e->alerts_today = 0;
	}
}

/* A write failed: logged when the database starts failing, not at every attempt. ingest: the
 * failure was an items transaction (else a feed-state save). */
static void store_problem(struct engine *e, bool ingest, int r)
{
	e->failed = 1;
	if (e->store_failing == STORE_OK)
		log_warnx("database %s: %s failed: %s (%s); %s", e->cfg->database,
			  ingest ? "storing items" : "saving a feed's state",
			  store_errmsg(e->store), strerror(-r),
			  ingest ? "the feed's items and validators stay as they were, fetching it "
				   "again later"
				 : "retrying at its next fetch");
	if (ingest || e->store_failing == STORE_OK)
		e->store_failing = ingest ? STORE_INGEST_FAILING : STORE_SAVE_FAILING;
	/* A connection opened on a read-only file stays read-only: reopen before the next write,
	 * so the daemon resumes once the file is writable again. */
	if (r == -EROFS)
		e->store_reopen = true;
}

/* The corpus's document frequencies into the topics: at start, reload, and as the corpus grows.
 * Returns 0, or a negative errno when they could not be read (the topics keep their reference
 * weights meanwhile). */
static int load_background(struct engine *e, bool only_when_stale)
{
	if (only_when_stale && !topics_background_stale(&e->topics))
		return 0;
	pthread_rwlock_wrlock(&e->topics_lock);
	int r = topics_load_background(e->store, &e->topics, only_when_stale);
	e->topics_gen++;
	pthread_rwlock_unlock(&e->topics_lock);
	if (r < 0)
		log_warnx("database %s: cannot read the document frequencies, topics keep their "
			  "reference weights: %s",
			  e->cfg->database, store_errmsg(e->store));
	else
		log_debug("topics: weighted by the document frequencies of %llu documents%s",
			  (unsigned long long)corpus_loaded_docs(e->topics.corpus),
			  e->batch ? ", the open transaction's included" : "");
	return r;
}

/* A write succeeded: logs the recovery when it proves the failure over. */
static void store_ok(struct engine *e, bool ingest)
{
	if (e->store_failing == STORE_OK || (!ingest && e->store_failing == STORE_INGEST_FAILING))
		return;
	log_notice("database %s: writable again", e->cfg->database);
	bool ingest_was_failing = e->store_failing == STORE_INGEST_FAILING;
	e->store_failing = STORE_OK;
	if (!ingest_was_failing || e->once)
		return;
	/* The feeds whose documents it refused, waiting for a retry that backed off: due again
	 * as after their first refusal (min(min_interval, 60 s)), not later. Not at once: a
	 * document the database refuses for what it holds (not for a full disk) would otherwise
	 * be fetched again every time another feed's is stored. */
	size_t n = 0;
	int64_t now = now_unix();
	for (size_t i = 0; i < e->nfeeds; i++) {
		struct feed_rt *f = &e->feeds[i];
		if (!f->store_failures || f->inflight || f->queued || f->host_wait ||
		    f->st.disabled)
			continue;
		struct sched_policy p = policy(f);
		int64_t soon = now + sched_store_retry(&p, 1, 0);
		if (f->st.next_fetch > soon) {
			f->st.next_fetch = soon;
			sched_at(e->sched, f->index, soon);
			n++;
		}
	}
	if (n)
		log_info("database %s: fetching again soon the %zu feed%s whose documents it "
			 "refused",
			 e->cfg->database, n, n == 1 ? "" : "s");
}

/* Opens the database again when the connection was read-only. Keeps the old one on failure. */
static void store_refresh(struct engine *e)
{
	if (!e->store_reopen || e->batch)
		return;
	char *err = NULL;
	struct store *st = open_store(e->cfg->database, &err);
	if (!st) {
		log_debug("database %s: cannot open it again: %s", e->cfg->database, err);
		free(err);
		return;
	}
	pthread_rwlock_wrlock(&e->store_lock);
	struct store *old = e->store;
	e->store = st;
	pthread_rwlock_unlock(&e->store_lock);
	store_close(old);
	e->store_reopen = false;
}

static void flush_alerts(struct engine *e, bool after_crash)
{
	struct ingest_flushed n;
	int r = ingest_flush_alerts(e->store, &e->topics, &e->outbox, after_crash, &n);
	count_day(e);
	e->alerts_today += n.sent;
	if (after_crash && n.pending) {
		if (n.recall == 0)
			log_notice("alerts: %u left pending by an unclean stop: %u already in the "
				   "journal, %u sent now",
				   n.pending, n.found, n.sent);
		else
			log_notice("alerts: %u left pending by an unclean stop sent now, without "
				   "knowing whether they went out before it (%s)",
				   n.sent,
				   n.recall == -EOPNOTSUPP ? "syslog cannot be read back"
							   : strerror(-n.recall));
	}
	if (r < 0 && !e->alerts_failing)
		log_warnx("alerts: %u sent, the others stay queued and go out at a later flush: %s",
			  n.sent, strerror(-r));
	else if (r >= 0 && e->alerts_failing)
		log_notice("alerts: the queued alerts went out");
	e->alerts_failing = r < 0;
}

static void human_span(int64_t secs, char *out, size_t len)
{
	if (secs == 0)
		snprintf(out, len, "forever");
	else if (secs % 86400 == 0)
		snprintf(out, len, "%lldd", (long long)(secs / 86400));
	else
		snprintf(out, len, "%llds", (long long)secs);
}

/*
 * Applies the retention policy ([retention]) and, every few hours, PRAGMA optimize. Deletes in
 * batches until done, or (unless all) until its time budget is spent. Returns true when items
 * older than the policy remain.
 */
static bool maintain(struct engine *e, bool all)
{
	const struct config *c = e->cfg;
	int64_t now = now_unix(), total = 0, n = 0;
	bool more = false;
	if (c->keep_irrelevant || c->keep_relevant) {
		int64_t irr = c->keep_irrelevant ? now - c->keep_irrelevant : 0;
		int64_t rel = c->keep_relevant ? now - c->keep_relevant : 0;
		uint64_t start = now_mono_ms();
		do {
			int r = store_prune(e->store, irr, rel, MAINT_BATCH, &n);
			if (r < 0) {
				if (!e->maint_failing)
					log_warnx(
					    "database %s: retention failed: %s (%s); retrying in "
					    "%ds",
					    c->database, store_errmsg(e->store), strerror(-r),
					    MAINT_INTERVAL);
				e->maint_failing = true;
				return false;
			}
			total += n;
			more = n == MAINT_BATCH;
		} while (more && (all || now_mono_ms() - start < MAINT_BUDGET_MS));
		e->maint_failing = false;
	}
	if (total) {
		char irr[24], rel[24];
		human_span(c->keep_irrelevant, irr, sizeof(irr));
		human_span(c->keep_relevant, rel, sizeof(rel));
		log_info(
		    "retention: %lld old items deleted (irrelevant kept %s, relevant kept %s)%s",
		    (long long)total, irr, rel, more ? ", more to come" : "");
	}
	if (now >= e->next_optimize) {
		e->next_optimize = now + OPTIMIZE_INTERVAL;
		if (store_optimize(e->store) < 0)
			log_warnx("database %s: PRAGMA optimize failed: %s", c->database,
				  store_errmsg(e->store));
	}
	return more;
}

static void maint_arm(struct engine *e, int seconds)
{
	struct timeval tv = {.tv_sec = seconds};
	evtimer_add(e->maint_ev, &tv);
}

static void maint_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;
	(void)fd;
	(void)what;
	if (e->stopping)
		return;
	batch_commit(e); /* retention runs transactions of its own */
	maint_arm(e, maintain(e, false) ? MAINT_AGAIN : MAINT_INTERVAL);
}

/* --once: the cycle is over; apply retention and optimize before the loop ends. */
static void once_finish(struct engine *e)
{
	/* The WAL is copied back while the statistics are computed: closing then finds little
	 * left to copy. */
	store_checkpoint_soon(e->store);
	e->next_optimize = 0;
	maintain(e, true);
	event_base_loopexit(e->base, NULL);
}

/* Arms every feed's timer, and retention's. */
static void start_feeds(struct engine *e)
{
	int64_t now = now_unix();
	for (size_t i = 0; i < e->nfeeds; i++) {
		struct feed_rt *f = &e->feeds[i];
		if (f->st.disabled) {
			log_info("feed %s (%s) is disabled (410 Gone); change its url to enable it",
				 f->cf->name, f->st.url);
			f->done_once = true;
			continue;
		}
		if (e->once) {
			e->once_left++;
			sched_at(e->sched, i, now);
		} else {
			/* Feeds never fetched, or due, start now with a little spread. */
			int64_t at =
			    f->st.next_fetch > now ? f->st.next_fetch : now + (int64_t)(i % 10);
			sched_at(e->sched, i, at);
		}
	}
	if (e->once && e->once_left == 0)
		once_finish(e);
	if (!e->once && !evtimer_pending(e->maint_ev, NULL))
		maint_arm(e, MAINT_FIRST);
}

int engine_start(struct engine *e)
{
	flush_alerts(e, true);
	start_feeds(e);
	return 0;
}

void engine_flush_alerts(struct engine *e)
{
	flush_alerts(e, false);
}

#define NO_FEED SIZE_MAX

/* f's host (fetch_host_key of its URL, which a permanent move may have changed since its last
 * transfer): its entry in e->hosts, made when new. A URL libcurl cannot fetch has the host ""
 * (its transfer fails to start, and holds nothing). */
static size_t host_of(struct feed_rt *f)
{
	struct engine *e = f->e;
	char *key = fetch_host_key(f->st.url);
	struct strtab_entry *en = strtab_get(&e->hosts, key ? key : "");
	free(key);
	size_t h = (size_t)(en - e->hosts.v);
	if (e->hosts.n > e->caphostq) {
		size_t cap = e->caphostq ? 2 * e->caphostq : 16;
		while (cap < e->hosts.n)
			cap *= 2;
		e->hostq = xreallocarray(e->hostq, cap, sizeof(*e->hostq));
		e->ready = xreallocarray(e->ready, cap, sizeof(*e->ready));
		for (size_t i = e->caphostq; i < cap; i++)
			e->hostq[i] = (struct host_queue){NO_FEED, NO_FEED, false};
		e->caphostq = cap;
	}
	f->host = h;
	return h;
}

/* Transfers at once per host: max_host_connections, as fetch_new takes it (0: its default). */
static uint64_t host_limit(const struct engine *e)
{
	return e->cfg->max_host_connections ? e->cfg->max_host_connections : 4;
}

/* Host h has fewer transfers than the limit. */
static bool host_room(const struct engine *e, size_t h)
{
	return e->hosts.v[h].value < host_limit(e);
}

/* Host h has room for another transfer, and no feed waits for it before. */
static bool host_free(const struct engine *e, size_t h)
{
	return host_room(e, h) && e->hostq[h].first == NO_FEED;
}

static void host_enqueue(struct feed_rt *f)
{
	struct engine *e = f->e;
	struct host_queue *q = &e->hostq[f->host];
	f->host_next = NO_FEED;
	if (q->last == NO_FEED)
		q->first = f->index;
	else
		e->feeds[q->last].host_next = f->index;
	q->last = f->index;
	f->host_wait = true;
}

/* f's transfer is over: its host's count drops, and a feed waiting for the host may start. */
static void host_release(struct feed_rt *f)
{
	struct engine *e = f->e;
	if (!f->host_held)
		return;
	f->host_held = false;
	e->hosts.v[f->host].value--;
	struct host_queue *q = &e->hostq[f->host];
	if (q->first != NO_FEED && !q->ready) {
		q->ready = true;
		e->ready[e->nready++] = f->host;
	}
}

/* Returns whether f's transfer started: otherwise f's fetch has ended, failed. */
static bool start_fetch(struct feed_rt *f)
{
	struct engine *e = f->e;
	struct fetch_request req = {
	    .url = f->st.url,
	    .etag = f->st.etag,
	    .last_modified = f->st.last_modified,
	};
	int r = fetch_start(e->fetch, &req, feed_fetched_cb, f);
	if (r < 0) {
		/* A failed fetch (counted, backed off, saved; in --once, done), without a transfer.
		 * fetch_close, not fetch_end: from drain_queue, its call back into drain_queue
		 * would nest once per waiting feed. */
		char msg[128];
		snprintf(msg, sizeof(msg), "cannot start a transfer: %s", strerror(-r));
		set_error(f, "", msg, 0);
		fetch_close(f, false, false);
		return false;
	}
	f->inflight = true;
	e->active++;
	f->host_held = true;
	e->hosts.v[f->host].value++;
	return true;
}

/* A transfer may start: a slot is free, and the worker is not behind (documents waiting for it
 * would only pile up, each holding its body). */
static bool may_start(const struct engine *e)
{
	return e->active < e->cfg->max_connections && e->jobq_len < e->jobs_max;
}

/* Starts waiting feeds while transfer slots are free: first those of the hosts that have room
 * again, then those of waitq, each unless its host has none (it then waits for its host). */
static void drain_queue(struct engine *e)
{
	while (!e->stopping && may_start(e)) {
		struct feed_rt *f;
		if (e->nready) {
			size_t h = e->ready[--e->nready];
			struct host_queue *q = &e->hostq[h];
			q->ready = false;
			if (q->first == NO_FEED || !host_room(e, h))
				continue;
			f = &e->feeds[q->first];
			q->first = f->host_next;
			if (q->first == NO_FEED)
				q->last = NO_FEED;
			f->host_wait = false;
			start_fetch(f);
			/* Still room, and feeds waiting: the host stays ready (a failed start took
			 * nothing). */
			if (q->first != NO_FEED && host_room(e, h)) {
				q->ready = true;
				e->ready[e->nready++] = h;
			}
			continue;
		}
		if (!e->wq_len)
			break;
		f = &e->feeds[e->waitq[e->wq_head]];
		e->wq_head = (e->wq_head + 1) % e->nfeeds;
		e->wq_len--;
		f->queued = false;
		/* f->host: feed_due_cb found it, and the URL changes only when a fetch ends. */
		if (!host_free(e, f->host)) {
			host_enqueue(f);
			continue;
		}
		start_fetch(f);
	}
}

static void feed_due_cb(size_t i, void *arg)
{
	struct engine *e = arg;
	struct feed_rt *f = &e->feeds[i];
	if (f->inflight || f->queued || f->host_wait || e->stopping)
		return;
	if (!host_free(e, host_of(f))) {
		host_enqueue(f);
		return;
	}
	if (!may_start(e)) {
		/* Each feed is queued at most once, so nfeeds slots always suffice. */
		e->waitq[(e->wq_head + e->wq_len) % e->nfeeds] = i;
		e->wq_len++;
		f->queued = true;
		return;
	}
	start_fetch(f);
}

static void once_done(struct feed_rt *f)
{
	struct engine *e = f->e;
	/* Stopping, or reloading (which starts the cycle again): not the cycle's end. */
	if (!e->once || f->done_once || e->stopping)
		return;
	f->done_once = true;
	if (--e->once_left == 0)
		once_finish(e);
}

/* The feed's polling policy: a per-feed interval in the configuration is used as is (the
 * publishing rate is then not consulted), otherwise the interval adapts between the bounds. */
static struct sched_policy policy(const struct feed_rt *f)
{
	if (f->cf->interval_fixed)
		return (struct sched_policy){
		    .interval = f->cf->interval,
		    .min_interval = f->cf->interval,
		    .max_interval = f->cf->interval,
		};
	return (struct sched_policy){
	    .interval = f->cf->interval,
	    .min_interval = f->e->cfg->min_interval,
	    .max_interval = f->e->cfg->max_interval,
	};
}

/* Counts a failure and schedules the retry. The failure is logged (one line, prefixed by what,
 * e.g. a permanent move this fetch followed) only when the feed starts failing. */
static void set_error(struct feed_rt *f, const char *what, const char *msg, int64_t retry_after)
{
	struct sched_policy p = policy(f);
	f->st.errors++;
	int64_t base = sched_backoff(&p, f->st.errors, retry_after);
	int64_t wait = sched_jitter(base);
	/* The jitter spreads retries, but never earlier than a Retry-After the server asked for. */
	if (retry_after > 0 && wait < base)
		wait = 2 * base - wait;
	f->st.next_fetch = now_unix() + wait;
	/* A URL of up to VEILLE_MAX_URL bytes would leave little of a log line: the first 512. */
	if (f->st.errors == 1 || !f->st.last_error)
		log_warnx("feed %s (%.512s%s): %s%s; retrying in %llds", f->cf->name, f->st.url,
			  strlen(f->st.url) > 512 ? "..." : "", what, msg, (long long)wait);
	else if (*what)
		log_notice("feed %s: %s", f->cf->name, what);
	replace(&f->st.last_error, msg);
}

/* The wait after a success, before jitter: the policy's interval adapted to the publishing rate
 * (unless fixed), never below the <ttl> of the last document stored (a 304 brings none, and the
 * feed's still holds) nor max-age. */
static int64_t success_wait(const struct feed_rt *f, int64_t max_age)
{
	struct sched_policy p = policy(f);
	double rate = f->cf->interval_fixed ? -1 : f->st.items_per_week;
	return sched_interval(&p, rate, f->st.ttl, max_age);
}

/* Records a success and schedules the next fetch from the publishing rate, the <ttl> of the
 * last document stored (a 304 brings none, and the feed's still holds) and max-age. */
static void set_ok(struct feed_rt *f, int64_t max_age)
{
	f->st.errors = 0;
	replace(&f->st.last_error, NULL);
	int64_t wait = sched_jitter(success_wait(f, max_age));
	f->st.next_fetch = now_unix() + wait;
	log_debug("feed %s: next fetch in %llds (%s%.1f items a week, ttl %llds, max-age %llds)",
		  f->cf->name, (long long)wait, f->cf->interval_fixed ? "fixed interval; " : "",
		  f->st.items_per_week, (long long)f->st.ttl, (long long)max_age);
}

/* The publishing rate the dated items of doc show at time now (see sched_rate). */
static double doc_rate(const struct feed_doc *doc, int64_t now)
{
	int64_t *dates = xcalloc(doc->nitems ? doc->nitems : 1, sizeof(*dates));
	size_t n = 0;
	for (size_t i = 0; i < doc->nitems; i++)
		if (doc->items[i].published != FEED_NO_DATE)
			dates[n++] = doc->items[i].published;
	double rate = sched_rate(dates, n, now);
	free(dates);
	return rate;
}

/*
 * A document on its way from its transfer to the store. The loop's thread makes it from the
 * response (feed_fetched_cb) and queues it; a worker parses it, looks up which items the store
 * already has unchanged, and digests and scores the others (document_run), all in one job; the
 * loop stores it in the open transaction and frees it (batch_add), and ends the feed's fetch
 * once that transaction commits (batch_commit). The feed stays inflight meanwhile: one feed
 * never has two documents on the way.
 */
struct job {
	struct feed_rt *f;
	struct job *next; /* in e->jobq, then in e->batch */
	/* the response, until parsed: its body as it came, compressed with encoding's codings
	 * (NULL: none; the worker decodes a copy, at most max_body bytes) */
	char *body;
	size_t body_len;
	char *encoding;
	size_t max_body;
	char *url;
	char charset[64];
	/* what feed_fetched_cb knew when the response came */
	unsigned failed;	 /* the feed's failed attempts before this one */
	int64_t max_age;	 /* Cache-Control max-age, -1 when absent */
	struct buf what;	 /* the change of state this fetch brought, for its log line */
	char *old_etag, *old_lm; /* the validators of the last document stored */
	/* the decoding and the parse, then the preparation */
	int parse_r;
	char errmsg[512];
	struct feed_doc *doc;
	struct ingest_prep *prep;
	unsigned gen; /* topics_gen of the prepared verdicts */
	/* stored, its transaction not committed yet */
	bool closed;	 /* no longer counted in jobs_open: the document is freed */
	size_t weight;	 /* its body's decoded size, estimated, counted in jobs_bytes */
	bool released;	 /* its transfer slot is free for another feed */
	bool recovered;	 /* the document was broken XML, recovered */
	int64_t old_ttl; /* the feed's <ttl> before this document (seconds, 0: none) */
	double old_rate; /* the feed's publishing rate before this document */
	/* The feed's state before batch_add made it that of a success (set_ok), restored when the
	 * transaction fails: errors, last_error (owned) and next_fetch. */
	unsigned old_errors;
	char *old_error;
	int64_t old_next;
	bool state_stored; /* the feed's state after this document is in the transaction */
	struct ingest_counts n;
};

static void job_free(struct job *j)
{
	free(j->body);
	free(j->encoding);
	free(j->url);
	buf_free(&j->what);
	free(j->old_etag);
	free(j->old_lm);
	free(j->old_error);
	/* No document or preparation here: job_close gave them to the trash, or the worker never
	 * made them (jobs_cancel). */
	free(j);
}

/* A read-only connection for a worker's triage, from the pool or opened now; NULL when the
 * database cannot be opened (retried a minute later). Any thread. */
static struct store *triage_take(struct engine *e)
{
	struct store *st = NULL;
	pthread_mutex_lock(&e->triage_mu);
	if (e->ntriage) {
		st = e->triage[--e->ntriage];
	} else if (now_unix() >= e->triage_retry) {
		char *err = NULL;
		st = store_open(e->cfg->database, true, &err);
		/* Triage reads a few pages per item: SQLite's 2 MiB cache would only add to the
		 * peak memory. */
		if (st && store_cache_limit(st, 256) < 0) {
			err = xstrdup(store_errmsg(st));
			store_close(st);
			st = NULL;
		}
		if (!st) {
			log_debug("database %s: cannot open it to read: %s; every item of the "
				  "documents parsed meanwhile is digested and scored",
				  e->cfg->database, err ? err : "?");
			e->triage_retry = now_unix() + 60;
		}
		free(err);
	}
	pthread_mutex_unlock(&e->triage_mu);
	return st;
}

static void triage_give(struct engine *e, struct store *st)
{
	if (!st)
		return;
	pthread_mutex_lock(&e->triage_mu);
	if (e->ntriage < WORKER_MAX_THREADS)
		e->triage[e->ntriage++] = st;
	else
		store_close(st);
	pthread_mutex_unlock(&e->triage_mu);
}

/* Closes the pooled connections: no job runs (worker drained or freed). */
static void triage_close(struct engine *e)
{
	pthread_mutex_lock(&e->triage_mu);
	while (e->ntriage)
		store_close(e->triage[--e->ntriage]);
	e->triage_retry = 0;
	pthread_mutex_unlock(&e->triage_mu);
}

/* The loop's thread: doc and prep (either may be NULL), made by the worker, go to the worker to
 * be freed. */
static void trash_put(struct engine *e, struct feed_doc *doc, struct ingest_prep *prep)
{
	if (!doc && !prep)
		return;
	pthread_mutex_lock(&e->trash_mu);
	if (e->ntrash == e->captrash) {
		e->captrash = e->captrash ? 2 * e->captrash : 16;
		e->trash = xreallocarray(e->trash, e->captrash, sizeof(*e->trash));
	}
	e->trash[e->ntrash++] = (struct trash){doc, prep};
	pthread_mutex_unlock(&e->trash_mu);
}

/* Frees what the trash holds, a few entries at a time taken under the lock and freed outside
 * it. Any thread: the worker before each job, the loop when the worker is idle or stopped. */
static void trash_empty(struct engine *e)
{
	for (;;) {
		struct trash v[16];
		size_t n = 0;
		pthread_mutex_lock(&e->trash_mu);
		while (n < ARRAY_SIZE(v) && e->ntrash)
			v[n++] = e->trash[--e->ntrash];
		pthread_mutex_unlock(&e->trash_mu);
		if (!n)
			return;
		for (size_t i = 0; i < n; i++) {
			feed_doc_free(v[i].doc);
			ingest_prep_free(v[i].prep);
		}
	}
}

/*
 * On a worker: the decoding of the body (its content codings: the loop holds bodies as they
 * came, several times smaller), the parse, the triage and the preparation of a document, in one
 * job so that the worker never waits for the loop between them. A body that decodes to more than
 * max_body, or does not decode, fails like a document that is not a feed. The triage reads through
 * a connection of its own: the feed's last document was committed before this fetch began, so what
 * it reads of the feed's items is what the loop's transaction holds. It is a hint (ingest_commit
 * checks every item again): without a connection, every item is prepared. Last, the story window
 * of the loop's store is scanned for the new items, under the store's own lock (the later, the
 * more of the loop's entries it covers); nothing else here touches what the loop's thread uses,
 * but the trash of documents committed since the last job, which it frees first.
 */
static void document_run(void *arg)
{
	struct job *j = arg;
	struct engine *e = j->f->e;
	trash_empty(e);
	/* j->body is the loop's: it frees it when the job comes back (prepared_cb). */
	const char *body = j->body;
	size_t len = j->body_len;
	char *decoded = NULL;
	if (j->encoding) {
		j->parse_r = fetch_decode(j->encoding, j->body, j->body_len, j->max_body, &decoded,
					  &len, j->errmsg, sizeof(j->errmsg));
		if (j->parse_r < 0)
			return;
		body = decoded;
	}
	j->parse_r = feed_parse(body, len, j->url, *j->charset ? j->charset : NULL, &j->doc,
				j->errmsg, sizeof(j->errmsg));
	free(decoded);
	if (j->parse_r < 0)
		return;
	struct store *st = triage_take(e);
	size_t want;
	j->prep = ingest_triage(st, j->f->cf->name, j->doc, &want);
	triage_give(e, st);
	if (!want)
		return;
	ingest_prepare_digests(j->prep, j->doc);
	pthread_rwlock_rdlock(&e->topics_lock);
	j->gen = e->topics_gen;
	ingest_prepare_verdicts(j->prep, &e->topics, j->doc);
	pthread_rwlock_unlock(&e->topics_lock);
	pthread_rwlock_rdlock(&e->store_lock);
	ingest_prepare_stories(j->prep, e->store, now_unix());
	pthread_rwlock_unlock(&e->store_lock);
}

static void prepared_cb(void *arg);

/* Hands waiting documents to the worker while fewer than jobs_max are open, and beyond jobs_min
 * while their bodies fit in JOBS_AHEAD_BYTES. */
static void jobs_start(struct engine *e)
{
	while (
	    e->jobq && e->jobs_open < e->jobs_max &&
	    (e->jobs_open < e->jobs_min || e->jobs_bytes + e->jobq->weight <= JOBS_AHEAD_BYTES)) {
		struct job *j = e->jobq;
		e->jobq = j->next;
		if (!e->jobq)
			e->jobq_tail = &e->jobq;
		e->jobq_len--;
		e->jobs_open++;
		e->jobs_bytes += j->weight;
		worker_submit(e->worker, document_run, prepared_cb, j);
	}
	drain_queue(e);
}

/* f's state was saved in the open transaction, or failed to be (which may have ended the
 * transaction: tx_lost in store.c): remembered until the transaction ends. */
static void batch_saved_add(struct feed_rt *f)
{
	struct engine *e = f->e;
	if (f->saved_in_batch)
		return;
	f->saved_in_batch = true;
	if (e->nbatch_saved == e->capbatch_saved) {
		e->capbatch_saved = e->capbatch_saved ? 2 * e->capbatch_saved : 16;
		e->batch_saved =
		    xreallocarray(e->batch_saved, e->capbatch_saved, sizeof(*e->batch_saved));
	}
	e->batch_saved[e->nbatch_saved++] = f->index;
}

/* The open transaction has ended: committed, or rolled back (resave), when the states saved in
 * it are saved again, each alone, as the engine holds them. */
static void batch_saved_end(struct engine *e, bool resave)
{
	for (size_t i = 0; i < e->nbatch_saved; i++) {
		struct feed_rt *f = &e->feeds[e->batch_saved[i]];
		f->saved_in_batch = false;
		if (!resave)
			continue;
		int r = store_feed_save(e->store, &f->st);
		if (r < 0)
			store_problem(e, false, r);
	}
	e->nbatch_saved = 0;
}

/* The end of a feed's fetch, whatever its outcome: its state saved (unless stored already, in the
 * transaction that stored its document), its next fetch scheduled, its transfer slot released
 * (unless released before). */
static void fetch_close(struct feed_rt *f, bool release, bool stored)
{
	struct engine *e = f->e;
	f->inflight = false;
	if (release)
		e->active--;
	if (!stored) {
		store_refresh(e);
		int r = store_feed_save(e->store, &f->st);
		if (e->batch)
			batch_saved_add(f);
		if (r < 0)
			store_problem(e, false, r);
		else if (!e->batch) /* else known at the commit */
			store_ok(e, false);
	}
	if (!f->st.disabled && !e->once)
		sched_at(e->sched, f->index, f->st.next_fetch);
	once_done(f);
}

/* fetch_close, then the slot to a waiting feed. */
static void fetch_end(struct feed_rt *f, bool release, bool stored)
{
	fetch_close(f, release, stored);
	drain_queue(f->e);
}

/* The feed of j goes back to the validators of its last document stored: j's was not stored,
 * and a 304 must not skip its items for good. */
static void restore_validators(struct job *j)
{
	struct feed_rt *f = j->f;
	free(f->st.etag);
	free(f->st.last_modified);
	f->st.etag = j->old_etag;
	f->st.last_modified = j->old_lm;
	j->old_etag = j->old_lm = NULL;
}

/* The feed of j goes back to its state before batch_add made it a success's: the transaction
 * that held it failed. */
static void restore_state(struct job *j)
{
	struct feed_rt *f = j->f;
	if (!j->state_stored)
		return;
	j->state_stored = false;
	f->st.errors = j->old_errors;
	free(f->st.last_error);
	f->st.last_error = j->old_error;
	j->old_error = NULL;
	f->st.next_fetch = j->old_next;
}

/* Drops the documents not handed to the worker yet (stop, reload), as a cancelled transfer: the
 * feed keeps the state of its last stored document and is fetched again. */
static void jobs_cancel(struct engine *e)
{
	while (e->jobq) {
		struct job *j = e->jobq;
		struct feed_rt *f = j->f;
		e->jobq = j->next;
		restore_validators(j);
		f->inflight = false;
		e->active--;
		job_free(j);
	}
	e->jobq_tail = &e->jobq;
	e->jobq_len = 0;
}

/* Hands j's document and preparation to the trash, and counts it out of jobs_open: another
 * document may go to the worker. */
static void job_close(struct job *j)
{
	struct engine *e = j->f->e;
	if (j->closed)
		return;
	j->closed = true;
	if (j->doc)
		j->recovered = j->doc->recovered;
	trash_put(e, j->doc, j->prep);
	j->doc = NULL;
	j->prep = NULL;
	e->jobs_open--;
	e->jobs_bytes -= j->weight;
	jobs_start(e);
	if (!e->jobs_open)
		trash_empty(e); /* the worker has no job: nobody contends */
}

/* The wait before f is fetched again, its document refused by the database (f->store_failures
 * in a row): a minute at first (or min_interval), doubling up to the wait a success would give,
 * plus up to a tenth more, so that the feeds refused together spread out (never sooner: the
 * first retries stay a second apart). A full disk that lasts costs the publishers no more
 * fetches than normal polling, and the first document stored once it is over brings the others
 * back to their first retry's wait (store_ok). */
static int64_t store_retry_wait(struct feed_rt *f, int64_t max_age)
{
	struct sched_policy p = policy(f);
	int64_t wait = sched_store_retry(&p, f->store_failures, success_wait(f, max_age));
	return wait + (int64_t)arc4random_uniform((uint32_t)(wait / 10 + 1));
}

/* The outcome of a 2xx document: r is 0 (stored and committed), -EBADMSG (no feed: j->errmsg
 * says why) or a store error. Logs the fetch's one line, ends the fetch and frees j. */
static void job_end(struct job *j, int r)
{
	struct feed_rt *f = j->f;
	if (r < 0)
		restore_state(j);
	if (r == -EBADMSG) {
		/* Not a feed: no validators kept, so the next try re-reads it whole. */
		replace(&f->st.etag, NULL);
		replace(&f->st.last_modified, NULL);
		set_error(f, j->what.p, j->errmsg, -1);
	} else if (r < 0) {
		/* Database trouble: the items were not stored, so the validators stay those of the
		 * last document stored (a 304 would otherwise skip these items for good), and the
		 * feed is fetched again after a backoff (store_retry_wait). */
		restore_validators(j);
		f->store_failures++;
		f->st.next_fetch = now_unix() + store_retry_wait(f, j->max_age);
	} else {
		f->store_failures = 0;
		/* The state of a success is stored already (batch_add). */
		const struct ingest_counts *n = &j->n;
		if (j->failed)
			buf_printf(&j->what, "recovered after %u failed attempt%s; ", j->failed,
				   j->failed == 1 ? "" : "s");
		bool notable = j->what.len > 0;
		buf_printf(&j->what,
			   "%u items, %u new, %u already seen, %u duplicates, %u relevant%s",
			   n->items, n->added, n->seen, n->duplicates, n->relevant,
			   j->recovered ? " (broken XML, recovered)" : "");
		if (notable)
			log_notice("feed %s: %s", f->cf->name, j->what.p);
		else
			log_info("feed %s: %s", f->cf->name, j->what.p);
	}
	bool release = !j->released;
	job_close(j);
	job_free(j);
	fetch_end(f, release, r == 0);
}

/* j's document was in a transaction shared with others, and that transaction failed: its feed
 * is fetched again at once (with the validators of its last document stored), and that document
 * is committed alone. One document the database refuses thus fails alone, and the others are
 * stored, in the same cycle. */
static void job_retry(struct job *j)
{
	struct feed_rt *f = j->f;
	struct engine *e = f->e;
	restore_validators(j);
	restore_state(j);
	f->commit_alone = true;
	bool release = !j->released;
	job_close(j);
	job_free(j);
	f->inflight = false;
	if (release)
		e->active--;
	log_debug("feed %s: fetching it again, to store its document alone", f->cf->name);
	feed_due_cb(f->index, e);
}

/* The open transaction failed (r), at failed's document (NULL: at the commit): rolled back. With
 * one document, it has failed as it would have alone; with several, each is fetched again and
 * committed alone (job_retry), failed's too, and the failure is logged if it happens again then.
 * While stopping, every document fails: its feed keeps the validators of its last document
 * stored. */
static void batch_fail(struct engine *e, struct job *failed, int r)
{
	size_t docs = e->batch_docs + (failed != NULL);
	bool shared = docs > 1 && !e->stopping;
	if (shared)
		log_debug("database: a transaction of %zu documents failed: %s (%s); storing each "
			  "alone",
			  docs, store_errmsg(e->store), strerror(-r));
	else
		store_problem(e, true, r);
	store_rollback(e->store);
	struct job *j = e->batch;
	e->batch = NULL;
	e->batch_tail = &e->batch;
	e->batch_docs = 0;
	e->batch_added = 0;
	evtimer_del(e->batch_ev);
	/* Weighted inside the transaction, the topics counted its documents: weighted again now,
	 * from what is stored, before any other document is scored (a new generation: verdicts
	 * prepared meanwhile are computed again). Should that fail, the next commit tries. */
	if (e->batch_reweighed && load_background(e, false) < 0)
		e->reweigh_at_commit = true;
	e->batch_reweighed = false;
	while (j) {
		struct job *next = j->next;
		j->f->st.items -= j->n.added;
		j->f->st.items_per_week = j->old_rate;
		j->f->st.ttl = j->old_ttl;
		if (shared)
			job_retry(j);
		else
			job_end(j, r);
		j = next;
	}
	if (failed && shared)
		job_retry(failed);
	else if (failed)
		job_end(failed, r);
	/* Last: a feed with a document in the transaction has its state as before it by now,
	 * not validators ahead of items that are not stored. */
	batch_saved_end(e, true);
}

/* Commits the open transaction, if any; then the fetches of its documents end (each logs its
 * line: what is logged stored is stored), and their alerts go out. */
static void batch_commit(struct engine *e)
{
	if (!e->batch)
		return;
	evtimer_del(e->batch_ev);
	int r = store_commit(e->store);
	if (r < 0) {
		batch_fail(e, NULL, r);
		return;
	}
	log_debug("database: %zu document%s stored in one transaction, %u new items", e->batch_docs,
		  e->batch_docs == 1 ? "" : "s", e->batch_added);
	batch_saved_end(e, false);
	struct job *j = e->batch;
	count_day(e);
	e->items_today += e->batch_added;
	e->batch = NULL;
	e->batch_tail = &e->batch;
	e->batch_docs = 0;
	e->batch_added = 0;
	store_ok(e, true);
	load_background(e, !e->reweigh_at_commit);
	e->reweigh_at_commit = false;
	e->batch_reweighed = false;
	/* Not only these documents' alerts: those `veillectl rescore --alert` queued, and those a
	 * failed mark left behind, go out too. */
	flush_alerts(e, false);
	while (j) {
		struct job *next = j->next;
		j->f->commit_alone = false;
		job_end(j, 0);
		j = next;
	}
}

static void batch_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	batch_commit(arg);
}

/*
 * Stores j's prepared document with the feed's new state in the open transaction (beginning one
 * when none is open), frees the document and the feed's transfer slot, and keeps j in e->batch
 * until the transaction commits. Several documents in one transaction write the pages they
 * share (FTS5's index, the tables' and indexes' last pages) once, not once each: half the bytes
 * written, a tenth less CPU for a cold cycle. Returns 0, or a store error: the transaction is
 * then rolled back and j has ended, with the other documents it held (batch_fail).
 */
static int batch_add(struct job *j)
{
	struct feed_rt *f = j->f;
	struct engine *e = f->e;
	const struct feed_doc *doc = j->doc;
	int r = 0;
	if (!e->batch) {
		store_refresh(e);
		if ((r = store_begin(e->store)) < 0) {
			store_problem(e, true, r);
			job_end(j, r);
			return r;
		}
	}
	int64_t now = now_unix();
	j->old_ttl = f->st.ttl;
	f->st.ttl = doc->ttl_minutes > 0 ? (int64_t)doc->ttl_minutes * 60 : 0;
	j->old_rate = f->st.items_per_week;
	f->st.items_per_week = doc_rate(doc, now);
	r = ingest_commit(e->store, &e->topics, f->cf->name, doc, j->prep, j->gen == e->topics_gen,
			  now, &j->n);
	if (r == 0) {
		/* The feed's state after a success goes into the same transaction: its commit ends
		 * the fetch with nothing more to write (a transaction per feed less, 2 pages of WAL
		 * each). A failure puts the old state back (restore_state). */
		f->st.items += j->n.added;
		j->old_errors = f->st.errors;
		j->old_error = f->st.last_error;
		f->st.last_error = NULL;
		j->old_next = f->st.next_fetch;
		j->state_stored = true;
		set_ok(f, j->max_age);
		r = store_feed_save(e->store, &f->st);
		if (r < 0)
			f->st.items -= j->n.added;
	}
	if (r < 0) {
		f->st.items_per_week = j->old_rate;
		f->st.ttl = j->old_ttl;
		batch_fail(e, j, r);
		return r;
	}
	*e->batch_tail = j;
	e->batch_tail = &j->next;
	j->next = NULL;
	e->batch_docs++;
	e->batch_added += j->n.added;
	j->released = true;
	e->active--;
	job_close(j);
	return 0;
}

/* On the loop: the document is prepared; into the store. The transaction commits now when
 * nothing else is on its way to it or when it holds enough, else within BATCH_MS. When the
 * corpus has grown enough to re-weight the topics, they are re-weighted now, inside the
 * transaction, which reads the document frequencies it added: the same weights for the next
 * document as if each document had its own transaction. (It used to commit there: a cold cycle
 * of 50,000 items made 25 of its 66 commits early, each rewriting the hash and link indexes'
 * leaves and writing one more full-text segment.) */
static void prepared_cb(void *arg)
{
	struct job *j = arg;
	struct feed_rt *f = j->f;
	struct engine *e = f->e;
	free(j->body); /* the worker is done with it */
	j->body = NULL;
	if (j->parse_r < 0) {
		job_end(j, -EBADMSG);
		return;
	}
	bool alone = f->commit_alone;
	if (alone)
		batch_commit(e);
	if (batch_add(j) < 0)
		return;
	if (alone || e->stopping || e->batch_added >= BATCH_ITEMS ||
	    (e->jobs_open == 0 && !e->jobq)) {
		batch_commit(e);
		return;
	}
	if (topics_background_stale(&e->topics)) {
		e->batch_reweighed = true;
		/* The frequencies could not be read, or the pending ones written: the transaction
		 * may be doomed. It is not filled further: committed now, or failed and undone. */
		if (load_background(e, true) < 0) {
			log_debug("database: ending the open transaction of %zu documents, as the "
				  "document frequencies failed in it",
				  e->batch_docs);
			batch_commit(e);
			return;
		}
	}
	if (!evtimer_pending(e->batch_ev, NULL)) {
		struct timeval tv = {.tv_sec = BATCH_MS / 1000, .tv_usec = BATCH_MS % 1000 * 1000};
		evtimer_add(e->batch_ev, &tv);
	}
}

/* The permanent move (a chain of 301 and 308) the response res came through, if any: f's URL
 * becomes its end, said in what. Whatever the answer there (a document, a 304), the feed is
 * fetched from there from now on. */
static void follow_move(struct feed_rt *f, const struct fetch_result *res, struct buf *what)
{
	if (res->permanent_url && strlen(res->permanent_url) > VEILLE_MAX_URL) {
		/* No transfer would start from it: the feed keeps its URL, and follows the move at
		 * each fetch. */
		buf_printf(what,
			   "moved permanently to a URL of %zu bytes, longer than %d: kept "
			   "%s; ",
			   strlen(res->permanent_url), VEILLE_MAX_URL, f->st.url);
	} else if (res->permanent_url && strcmp(res->permanent_url, f->st.url) != 0) {
		buf_printf(what, "moved permanently from %s to %s; ", f->st.url,
			   res->permanent_url);
		replace(&f->st.url, res->permanent_url);
	}
}

/* A 2xx response: its body becomes a job, and the fetch ends in job_end. */
static void fetched_doc(struct feed_rt *f, const struct fetch_result *res)
{
	struct engine *e = f->e;
	struct job *j = xcalloc(1, sizeof(*j));
	j->f = f;
	j->failed = f->st.errors;
	j->max_age = res->max_age;
	buf_puts(&j->what, ""); /* what.p is a string from here on */
	follow_move(f, res, &j->what);
	j->old_etag = f->st.etag;
	j->old_lm = f->st.last_modified;
	f->st.etag = res->etag ? xstrdup(res->etag) : NULL;
	f->st.last_modified = res->last_modified ? xstrdup(res->last_modified) : NULL;
	j->body = fetch_take_body(res);
	j->body_len = j->body ? res->body_len : 0;
	j->encoding = res->content_encoding ? xstrdup(res->content_encoding) : NULL;
	j->weight = fetch_decoded_size(j->encoding, j->body, j->body_len);
	if (j->weight > e->cfg->max_body)
		j->weight = (size_t)e->cfg->max_body;
	j->max_body = (size_t)e->cfg->max_body;
	j->url = xstrdup(res->effective_url ? res->effective_url : f->st.url);
	const char *cs = res->content_type ? strcasestr(res->content_type, "charset=") : NULL;
	if (cs) {
		/* charset=ISO-8859-1, or quoted: charset="ISO-8859-1" */
		cs += 8;
		if (*cs == '"' || *cs == '\'')
			cs++;
		snprintf(j->charset, sizeof(j->charset), "%s", cs);
		j->charset[strcspn(j->charset, " ;\"'")] = '\0';
	}
	*e->jobq_tail = j;
	e->jobq_tail = &j->next;
	e->jobq_len++;
	jobs_start(e);
}

/*
 * A finished fetch. Every outcome logs at most one line about the feed: a 200 or a 304 one info
 * line (a notice when the feed recovers or has moved: the change of state leads the line); a
 * failure one warning when the feed starts failing, nothing while it keeps failing; a 410 one
 * warning. A 304 touches neither the parser nor the items: only the feed's state is saved. A 2xx
 * document goes to the worker (struct job), and the fetch ends when it is stored.
 */
static void feed_fetched_cb(const struct fetch_result *res, void *arg)
{
	struct feed_rt *f = arg;
	struct engine *e = f->e;
	char msg[512];
	unsigned failed = f->st.errors;
	host_release(f);
	if (res->error == FETCH_E_CANCELLED) {
		f->inflight = false;
		e->active--;
		return; /* stopping or reloading: the feed keeps its state */
	}
	f->st.last_fetch = now_unix();
	f->st.last_status = (int)res->status;
	if (res->error != FETCH_OK) {
		set_error(f, "", res->errmsg, -1);
	} else if (res->status == 304) {
		struct buf moved = {0};
		buf_puts(&moved, "");
		follow_move(f, res, &moved);
		set_ok(f, res->max_age);
		if (failed)
			log_notice(
			    "feed %s (%s): %srecovered after %u failed attempt%s; not modified "
			    "(304)",
			    f->cf->name, f->st.url, moved.p, failed, failed == 1 ? "" : "s");
		else if (moved.len)
			log_notice("feed %s: %snot modified (304), nothing parsed", f->cf->name,
				   moved.p);
		else
			log_info("feed %s: not modified (304), nothing parsed", f->cf->name);
		buf_free(&moved);
	} else if (res->status == 410) {
		f->st.disabled = true;
		replace(&f->st.last_error, "410 Gone: the publisher removed this feed");
		log_warnx(
		    "feed %s (%s): 410 Gone, feed disabled; change its url to enable it again",
		    f->cf->name, f->st.url);
	} else if (res->status >= 200 && res->status < 300) {
		fetched_doc(f, res);
		return;
	} else {
		snprintf(msg, sizeof(msg), "HTTP %ld", res->status);
		set_error(f, "", msg, res->retry_after);
	}
	fetch_end(f, true, false);
}

int engine_reload(struct engine *e, struct config *c, char **ret_err)
{
	struct topics topics;
	struct store *store = NULL;
	if (topics_build(c, &topics, ret_err) < 0) {
		config_free(c);
		return -EINVAL;
	}
	if (strcmp(c->database, e->cfg->database) != 0) {
		char *err = NULL;
		store = open_store(c->database, &err);
		if (!store) {
			*ret_err = xasprintf("%s: %s", c->database, err ? err : "cannot open");
			free(err);
			topics_clear(&topics);
			config_free(c);
			return -EIO;
		}
	}
	/* The feeds' stored states, read before anything changes: a database that cannot answer
	 * leaves the running configuration as it was. With the same database, a feed both
	 * configurations name goes on from the state the engine holds (states_take_held). */
	struct feed_states fs;
	int r = states_load(&fs, store ? store : e->store, c, store ? NULL : e, ret_err);
	if (r < 0) {
		store_close(store);
		topics_clear(&topics);
		config_free(c);
		return r;
	}
	/* Everything new is ready: cancel what is in flight, store what the worker holds, and
	 * swap. */
	e->stopping = true; /* starts no transfer meanwhile */
	fetch_free(e->fetch);
	e->fetch = NULL;
	jobs_cancel(e);
	worker_drain(e->worker);
	triage_close(e);
	batch_commit(e);
	e->stopping = false;
	states_take_held(&fs, e);
	free_feeds(e);
	topics_clear(&e->topics);
	e->topics = topics;
	if (store) {
		pthread_rwlock_wrlock(&e->store_lock);
		struct store *old = e->store;
		e->store = store;
		pthread_rwlock_unlock(&e->store_lock);
		store_close(old);
		e->store_reopen = false;
		e->store_failing = STORE_OK;
		ingest_outbox_clear(&e->outbox); /* those marks belong to the other database */
		set_origin(e->store, c->database);
	}
	config_free(e->cfg);
	e->cfg = c;
	e->fetch = make_fetch(e);
	if (!e->fetch)
		fatalx("cannot initialise libcurl after reload");
	load_background(e, false);
	build_feeds(e, &fs);
	states_free(&fs);
	/* --once: the cycle starts again on the new feeds (those cancelled never ended theirs). */
	e->once_left = 0;
	/* Queued alerts go out once the caller has opened the new sink (engine_flush_alerts):
	 * none is left by a crash here. */
	start_feeds(e);
	return 0;
}

void engine_stop(struct engine *e)
{
	e->stopping = true;
	fetch_cancel_all(e->fetch);
	jobs_cancel(e);
	event_del(e->maint_ev);
}

bool engine_healthy(struct engine *e)
{
	return store_ping(e->store) == 0;
}

void engine_status(struct engine *e, char *out, size_t len)
{
	size_t ok = 0, failing = 0, disabled = 0;
	for (size_t i = 0; i < e->nfeeds; i++) {
		if (e->feeds[i].st.disabled)
			disabled++;
		else if (e->feeds[i].st.errors)
			failing++;
		else if (e->feeds[i].st.last_fetch)
			ok++;
	}
	count_day(e);
	int64_t next = sched_next(e->sched);
	char when[21] = "-";
	if (next)
		time_iso8601(next, when);
	snprintf(out, len,
		 "%zu feeds: %zu ok, %zu failing, %zu disabled; today %u items, %u alerts; next "
		 "fetch %s",
		 e->nfeeds, ok, failing, disabled, e->items_today, e->alerts_today, when);
}

int engine_failed(const struct engine *e)
{
	return e->failed;
}

double engine_worker_cpu(const struct engine *e)
{
	return worker_cpu_seconds(e->worker);
}

double engine_checkpoint_cpu(const struct engine *e)
{
	return e->store ? store_checkpoint_cpu(e->store) : 0;
}
