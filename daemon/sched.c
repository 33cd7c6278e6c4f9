/*
 * sched.c - per-feed timers on the event loop, and the polling policy that sets them.
 *
 * Timers: one libevent timer (evtimer) per feed, created with the scheduler; arming a feed again
 * replaces its previous deadline. A timer that fires is disarmed before the callback runs, so the
 * callback may re-arm it. Deadlines are unix seconds; libevent measures the delay on its
 * monotonic clock, so a wall-clock step does not fire every feed at once.
 *
 * Policy (all results in seconds):
 *  - interval: a feed's mean gap between items is 7 days / items_per_week. That gap, clamped to
 *    [min_interval, max_interval], is the next wait; unknown rate (items_per_week < 0) keeps the
 *    configured interval (clamped the same way); a silent feed (0 items a week) waits
 *    max_interval. Unset clamps (<= 0) default to interval / 4 and interval * 4, so adaptation
 *    stays around the configured interval; that default floor is never below SCHED_MIN_WAIT, while
 *    a configured min_interval is honoured as is (seconds are allowed: tests, local feeds). The
 *    publisher's RSS <ttl> and HTTP Cache-Control max-age are then honoured as minimums, but
 *    trusted only up to a day (or max_interval when that is longer), so a bogus
 *    "max-age=31536000" cannot park a feed.
 *  - rate: from the published dates of the items of the document just fetched: k dated items,
 *    the oldest published at t, make k items in (now - t), that is k * week / (now - t) items a
 *    week. A feed document is a window on the publisher's latest items, so this is the recent
 *    rate, and measuring up to now (not up to the newest item) lowers it when the feed has gone
 *    quiet since. The published dates rather than the store's count of new items over the last
 *    week, because the dates are known from the first fetch (the store would count the whole
 *    backlog as new on the first fetch, and nothing at all while veilled was stopped), and they
 *    do not depend on how often we polled. Dates more than an hour ahead are ignored (a clock or
 *    time-zone error), less than that count as now; a window under an hour counts as an hour.
 *    Undated items, a single date, or every item stamped with one instant (feeds that date
 *    everything with the build time) tell nothing: the rate is unknown.
 *  - backoff: after the n-th consecutive failure wait base * 2^(n-1), base being the interval
 *    (at least SCHED_MIN_WAIT), capped at one day. A Retry-After (429/503) is a minimum, trusted
 *    up to a week.
 *  - jitter: +-10% uniformly (at least +-2 s), never below 0, so feeds configured alike spread
 *    out instead of firing together.
 */
#include "sched.h"

#include "util.h"

#include <event2/event.h>
#include <stdlib.h>

#define SCHED_MIN_WAIT	      60  /* seconds: the shortest derived interval and backoff base */
#define SCHED_DEFAULT	      900 /* seconds: interval when none is configured */
#define SCHED_DAY	      86400
#define SCHED_WEEK	      (7 * SCHED_DAY)
#define SCHED_MAX_RETRY_AFTER SCHED_WEEK
#define SCHED_RATE_SKEW	      3600 /* seconds: future dates tolerated, and the shortest window */

struct slot {
	struct sched *s;
	size_t index;
	struct event *ev;
	int64_t at; /* armed deadline, 0 when idle */
};

struct sched {
	struct event_base *base;
	sched_due_cb cb;
	void *arg;
	size_t n;
	struct slot *slots;
};

static void slot_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slot *sl = arg;
	(void)fd;
	(void)what;
	sl->at = 0;
	sl->s->cb(sl->index, sl->s->arg);
}

struct sched *sched_new(struct event_base *base, size_t nfeeds, sched_due_cb cb, void *arg)
{
	if (!base || !cb)
		return NULL;
	struct sched *s = xcalloc(1, sizeof(*s));
	s->base = base;
	s->cb = cb;
	s->arg = arg;
	s->slots = xcalloc(nfeeds, sizeof(*s->slots));
	for (size_t i = 0; i < nfeeds; i++) {
		struct slot *sl = &s->slots[i];
		sl->s = s;
		sl->index = i;
		sl->ev = evtimer_new(base, slot_cb, sl);
		if (!sl->ev) {
			sched_free(s);
			return NULL;
		}
		s->n = i + 1;
	}
	return s;
}

void sched_free(struct sched *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		event_free(s->slots[i].ev);
	free(s->slots);
	free(s);
}

void sched_at(struct sched *s, size_t i, int64_t at)
{
	if (!s || i >= s->n)
		return;
	struct slot *sl = &s->slots[i];
	int64_t now = now_unix();
	int64_t delay = at > now ? at - now : 0;
	struct timeval tv = {.tv_sec = (time_t)delay, .tv_usec = 0};
	sl->at = at > now ? at : now;
	if (sl->at == 0)
		sl->at = 1;
	evtimer_add(sl->ev, &tv); /* re-adding a pending timer replaces its deadline */
}

void sched_cancel(struct sched *s, size_t i)
{
	if (!s || i >= s->n)
		return;
	evtimer_del(s->slots[i].ev);
	s->slots[i].at = 0;
}

int64_t sched_next(const struct sched *s)
{
	int64_t best = 0;
	if (!s)
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		int64_t at = s->slots[i].at;
		if (at && (!best || at < best))
			best = at;
	}
	return best;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* The policy's effective interval and clamps. */
static void bounds(const struct sched_policy *p, int64_t *ret_base, int64_t *ret_min,
		   int64_t *ret_max)
{
	int64_t base = p && p->interval > 0 ? p->interval : SCHED_DEFAULT;
	int64_t lo = p && p->min_interval > 0 ? p->min_interval : base / 4;
	int64_t hi = p && p->max_interval > 0 ? p->max_interval : base * 4;
	if (lo < SCHED_MIN_WAIT && !(p && p->min_interval > 0))
		lo = SCHED_MIN_WAIT;
	if (hi < lo)
		hi = lo;
	*ret_base = base;
	*ret_min = lo;
	*ret_max = hi;
}

int64_t sched_interval(const struct sched_policy *p, double items_per_week, int64_t ttl_seconds,
		       int64_t max_age)
{
	int64_t base, lo, hi, wait;
	bounds(p, &base, &lo, &hi);
	if (items_per_week < 0 || items_per_week != items_per_week)
		wait = clamp(base, lo, hi);
	else if (items_per_week * hi < SCHED_WEEK)
		wait = hi; /* fewer than one item per max_interval (includes 0) */
	else
		wait = clamp((int64_t)(SCHED_WEEK / items_per_week), lo, hi);

	int64_t trust = hi > SCHED_DAY ? hi : SCHED_DAY;
	if (ttl_seconds > 0 && ttl_seconds > wait)
		wait = ttl_seconds < trust ? ttl_seconds : trust;
	if (max_age > 0 && max_age > wait)
		wait = max_age < trust ? max_age : trust;
	return wait;
}

double sched_rate(const int64_t *dates, size_t n, int64_t now)
{
	size_t k = 0;
	int64_t oldest = 0, newest = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t d = dates[i];
		if (d > now + SCHED_RATE_SKEW)
			continue;
		if (d > now)
			d = now;
		if (k == 0 || d < oldest)
			oldest = d;
		if (k == 0 || d > newest)
			newest = d;
		k++;
	}
	if (k < 2 || oldest == newest)
		return -1;
	int64_t window = now - oldest;
	if (window < SCHED_RATE_SKEW)
		window = SCHED_RATE_SKEW;
	return (double)k * SCHED_WEEK / (double)window;
}

int64_t sched_backoff(const struct sched_policy *p, unsigned errors, int64_t retry_after)
{
	int64_t base, lo, hi;
	bounds(p, &base, &lo, &hi);
	if (base < SCHED_MIN_WAIT)
		base = SCHED_MIN_WAIT;
	int64_t wait = base;
	for (unsigned i = 1; i < errors && wait < SCHED_DAY; i++)
		wait *= 2;
	if (wait > SCHED_DAY)
		wait = SCHED_DAY;
	if (retry_after > 0) {
		int64_t ra =
		    retry_after < SCHED_MAX_RETRY_AFTER ? retry_after : SCHED_MAX_RETRY_AFTER;
		if (ra > wait)
			wait = ra;
	}
	return wait;
}

int64_t sched_store_retry(const struct sched_policy *p, unsigned failures, int64_t cap)
{
	int64_t wait = p->min_interval < 60 ? p->min_interval : 60;
	if (wait < 1)
		wait = 1;
	if (cap < 1 || cap > SCHED_DAY)
		cap = SCHED_DAY;
	for (unsigned i = 1; i < failures && wait < cap; i++)
		wait *= 2;
	return wait < cap ? wait : cap;
}

int64_t sched_jitter(int64_t seconds)
{
	if (seconds < 0)
		seconds = 0;
	int64_t spread = seconds / 10;
	if (spread < 2)
		spread = 2;
	if (spread > 0x3fffffff)
		spread = 0x3fffffff;
	int64_t r = (int64_t)arc4random_uniform((uint32_t)(2 * spread + 1)) - spread;
	int64_t v = seconds + r;
	return v < 0 ? 0 : v;
}
