/*
 * engine.h - the daemon's work: every configured feed on its own timer, fetched on the event
 * loop, its items ingested in one transaction, alerts sent after the commit.
 */
#ifndef VEILLE_ENGINE_H
#define VEILLE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct engine;
struct event_base;

/*
 * Opens the store, builds the topics and prepares the fetcher for config c (the engine takes it).
 * once: fetch every feed once, then apply the retention policy and leave the loop. Otherwise
 * retention runs a minute after the start and then hourly, and PRAGMA optimize every 6 hours.
 * Returns NULL and a new message in *ret_err (the config is freed then).
 */
struct engine *engine_new(struct event_base *base, struct config *c, bool once, char **ret_err);
/* Sends alerts a crash left pending (those the journal already holds are only marked sent) and
 * arms every feed's timer. 0 or -errno. */
int engine_start(struct engine *e);
/* Swaps in configuration c (taken) when its topics and database open; in-flight fetches are
 * cancelled and their feeds rescheduled. On failure keeps the old configuration, frees c, and
 * returns -errno with a new message in *ret_err. Sends no alert: the caller opens the new
 * configuration's sink, then calls engine_flush_alerts. */
int engine_reload(struct engine *e, struct config *c, char **ret_err);
/* Sends the queued alerts (those `veillectl rescore --alert` queued, say). */
void engine_flush_alerts(struct engine *e);
/* Cancels transfers in flight; the loop can then exit. */
void engine_stop(struct engine *e);
void engine_free(struct engine *e);
/* True when the store answers (the watchdog's test). */
bool engine_healthy(struct engine *e);
/* One line for STATUS=: feeds ok/failing, items and alerts today, next fetch. */
void engine_status(struct engine *e, char *out, size_t len);
/* Non-zero when a database error happened (the --once exit status). */
int engine_failed(const struct engine *e);
/* The CPU time the worker threads (parsing, digests, scores) have used so far, in seconds. */
double engine_worker_cpu(const struct engine *e);
/* CPU seconds of the thread that checkpoints the daemon's database (0 when commits do it). */
double engine_checkpoint_cpu(const struct engine *e);

#endif
