/*
 * sched.h - when each feed is fetched next: the per-feed timers on the event loop and the
 * policy (interval, jitter, backoff, Retry-After, ttl) that sets them.
 */
#ifndef VEILLE_SCHED_H
#define VEILLE_SCHED_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct sched;

typedef void (*sched_due_cb)(size_t feed_index, void *arg);

/* Returns a new scheduler for nfeeds feeds (indices 0..nfeeds-1) whose timers fire cb. */
struct sched *sched_new(struct event_base *base, size_t nfeeds, sched_due_cb cb, void *arg);
void sched_free(struct sched *s);
/* Arms feed i's timer to fire at unix time at (now if in the past). Re-arming replaces. */
void sched_at(struct sched *s, size_t i, int64_t at);
void sched_cancel(struct sched *s, size_t i);
/* Earliest armed time, or 0 when nothing is armed. */
int64_t sched_next(const struct sched *s);

/* Policy inputs for one feed after a fetch. */
struct sched_policy {
	int64_t interval;     /* configured interval, seconds */
	int64_t min_interval; /* clamps for the adaptive interval */
	int64_t max_interval;
};
/* Seconds to wait after a successful fetch, before jitter: the configured interval adapted to the
 * publishing rate (items_per_week, <0 when unknown), never below ttl_seconds or max_age (when
 * >0). */
int64_t sched_interval(const struct sched_policy *p, double items_per_week, int64_t ttl_seconds,
		       int64_t max_age);
/* The publishing rate, in items per week, that the published dates dates[0..n) of the items of one
 * fetched document show at time now (borrowed, any order), or -1 when they cannot tell: fewer
 * than two dates, or all the same instant. */
double sched_rate(const int64_t *dates, size_t n, int64_t now);
/* Seconds to wait after the errors-th consecutive failure (errors >= 1): exponential with the
 * interval as base, capped at a day; retry_after (>0) is honoured as a minimum. */
int64_t sched_backoff(const struct sched_policy *p, unsigned errors, int64_t retry_after);
/* Seconds to wait before fetching a feed again after the database refused its document the
 * failures-th time in a row (failures >= 1): min(min_interval, 60 s) (at least a second),
 * doubled at each failure, never past cap (the wait a success would give: sched_interval) nor
 * a day. */
int64_t sched_store_retry(const struct sched_policy *p, unsigned failures, int64_t cap);
/* Adds up to +-10% random jitter (at least a few seconds) so feeds do not fire together. */
int64_t sched_jitter(int64_t seconds);

#endif
