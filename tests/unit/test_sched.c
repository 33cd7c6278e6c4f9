/*
 * test_sched.c - the polling policy's arithmetic, and per-feed timers firing in order on a real
 * event_base.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sched.h"
#include "util.h"

#include <event2/event.h>
#include <math.h>
#include <string.h>

static const struct sched_policy pol = {.interval = 900, .min_interval = 300, .max_interval = 7200};

static void test_interval_adaptive(void **state)
{
	(void)state;
	/* Unknown rate: the configured interval. */
	assert_int_equal(sched_interval(&pol, -1, 0, -1), 900);
	/* One item an hour: poll hourly. */
	assert_int_equal(sched_interval(&pol, 168, 0, -1), 3600);
	/* Very busy feed: clamped to min. */
	assert_int_equal(sched_interval(&pol, 100000, 0, -1), 300);
	/* Silent or nearly silent feed: clamped to max. */
	assert_int_equal(sched_interval(&pol, 0, 0, -1), 7200);
	assert_int_equal(sched_interval(&pol, 1, 0, -1), 7200);
	assert_int_equal(sched_interval(&pol, NAN, 0, -1), 900);
	/* Default clamps sit around the interval: /4 .. *4. */
	struct sched_policy p = {.interval = 900};
	assert_int_equal(sched_interval(&p, 100000, 0, -1), 225);
	assert_int_equal(sched_interval(&p, 0, 0, -1), 3600);
	/* A configured min_interval is honoured, seconds included; the derived floor (interval / 4)
	 * is never below a minute. */
	struct sched_policy tiny = {.interval = 5, .min_interval = 1, .max_interval = 10};
	assert_int_equal(sched_interval(&tiny, 1e7, 0, -1), 1);
	assert_int_equal(sched_interval(&tiny, -1, 0, -1), 5);
	struct sched_policy derived = {.interval = 120};
	assert_int_equal(sched_interval(&derived, 100000, 0, -1), 60);
	/* Max below min is repaired rather than inverted. */
	struct sched_policy bad = {.interval = 900, .min_interval = 1000, .max_interval = 10};
	assert_int_equal(sched_interval(&bad, -1, 0, -1), 1000);
}

static void test_interval_ttl_max_age(void **state)
{
	(void)state;
	/* ttl and max-age are minimums... */
	assert_int_equal(sched_interval(&pol, 168, 5000, -1), 5000);
	assert_int_equal(sched_interval(&pol, 168, 0, 6000), 6000);
	assert_int_equal(sched_interval(&pol, 168, 5000, 6000), 6000);
	/* ...that never shorten the wait... */
	assert_int_equal(sched_interval(&pol, 168, 60, 60), 3600);
	assert_int_equal(sched_interval(&pol, 168, 0, 0), 3600);
	/* ...and are trusted up to a day. */
	assert_int_equal(sched_interval(&pol, 168, 10 * 86400, -1), 86400);
	assert_int_equal(sched_interval(&pol, 168, 0, 31536000), 86400);
	struct sched_policy slow = {
	    .interval = 86400, .min_interval = 3600, .max_interval = 3 * 86400};
	assert_int_equal(sched_interval(&slow, 0, 0, 31536000), 3 * 86400);
}

static void test_rate(void **state)
{
	(void)state;
	const int64_t now = 1700000000, H = 3600, D = 86400;
	/* One item a day for the last week: 7 a week. */
	int64_t daily[7];
	for (int i = 0; i < 7; i++)
		daily[i] = now - (i + 1) * D;
	assert_true(fabs(sched_rate(daily, 7, now) - 7.0) < 1e-9);
	/* Order does not matter. */
	int64_t shuffled[7] = {daily[3], daily[6], daily[0], daily[5],
			       daily[1], daily[4], daily[2]};
	assert_true(fabs(sched_rate(shuffled, 7, now) - 7.0) < 1e-9);
	/* Hourly items over the last day: 24 * 7 a week, which the policy turns into an hour. */
	int64_t hourly[24];
	for (int i = 0; i < 24; i++)
		hourly[i] = now - (i + 1) * H;
	double r = sched_rate(hourly, 24, now);
	assert_true(fabs(r - 168.0) < 1e-9);
	assert_int_equal(sched_interval(&pol, r, 0, -1), 3600);
	/* Gone quiet: the same 24 items a week ago are 24 in two weeks, 12 a week. */
	int64_t quiet[24];
	for (int i = 0; i < 24; i++)
		quiet[i] = now - 7 * D - (i + 1) * (7 * D / 24);
	assert_true(fabs(sched_rate(quiet, 24, now) - 12.0) < 1e-9);
	/* Unknown: no date, one date, or one instant for every item (the build time). */
	assert_true(sched_rate(NULL, 0, now) < 0);
	assert_true(sched_rate(daily, 1, now) < 0);
	int64_t same[3] = {now - 60, now - 60, now - 60};
	assert_true(sched_rate(same, 3, now) < 0);
	/* Dates far in the future are ignored; a little ahead counts as now. */
	int64_t future[4] = {now + 30 * D, now + 60, now - D, now + 2 * H};
	assert_true(fabs(sched_rate(future, 4, now) - 14.0) < 1e-9);
	int64_t onlyfuture[2] = {now + 30 * D, now + 40 * D};
	assert_true(sched_rate(onlyfuture, 2, now) < 0);
	/* A burst within the last minutes counts over at least an hour. */
	int64_t burst[6] = {now - 60, now - 120, now - 180, now - 240, now - 300, now - 360};
	assert_true(fabs(sched_rate(burst, 6, now) - 6.0 * 168) < 1e-9);
	assert_int_equal(sched_interval(&pol, sched_rate(burst, 6, now), 0, -1), 600);
}

static void test_backoff(void **state)
{
	(void)state;
	assert_int_equal(sched_backoff(&pol, 1, -1), 900);
	assert_int_equal(sched_backoff(&pol, 2, -1), 1800);
	assert_int_equal(sched_backoff(&pol, 3, -1), 3600);
	assert_int_equal(sched_backoff(&pol, 7, -1), 57600);
	/* Capped at a day, even for absurd counts (no overflow). */
	assert_int_equal(sched_backoff(&pol, 8, -1), 86400);
	assert_int_equal(sched_backoff(&pol, 64, -1), 86400);
	assert_int_equal(sched_backoff(&pol, ~0u, -1), 86400);
	/* Monotonic. */
	for (unsigned e = 1; e < 40; e++)
		assert_true(sched_backoff(&pol, e + 1, -1) >= sched_backoff(&pol, e, -1));
	/* Retry-After is a minimum, trusted up to a week. */
	assert_int_equal(sched_backoff(&pol, 1, 7200), 7200);
	assert_int_equal(sched_backoff(&pol, 1, 100), 900);
	assert_int_equal(sched_backoff(&pol, 8, 3 * 86400), 3 * 86400);
	assert_int_equal(sched_backoff(&pol, 1, 30 * 86400), 7 * 86400);
	assert_int_equal(sched_backoff(&pol, 3, 0), 3600);
	/* A tiny interval still backs off from a minute. */
	struct sched_policy tiny = {.interval = 1};
	assert_int_equal(sched_backoff(&tiny, 1, -1), 60);
	assert_int_equal(sched_backoff(&tiny, 2, -1), 120);
	assert_int_equal(sched_backoff(NULL, 1, -1), 900);
}

/* The database refused a feed's document: retried from min(min_interval, 60 s), doubling, up to
 * the wait a success would give, so a long outage costs no more fetches than normal polling. */
static void test_store_retry(void **state)
{
	(void)state;
	struct sched_policy p = {.interval = 900, .min_interval = 300, .max_interval = 21600};
	assert_int_equal(sched_store_retry(&p, 1, 900), 60);
	assert_int_equal(sched_store_retry(&p, 2, 900), 120);
	assert_int_equal(sched_store_retry(&p, 4, 900), 480);
	assert_int_equal(sched_store_retry(&p, 5, 900), 900);
	assert_int_equal(sched_store_retry(&p, ~0u, 900), 900);
	assert_int_equal(sched_store_retry(&p, ~0u, 30 * 86400), 86400); /* a day at most */
	for (unsigned k = 1; k < 40; k++)
		assert_true(sched_store_retry(&p, k + 1, 21600) >= sched_store_retry(&p, k, 21600));
	/* A short min_interval starts lower; never below a second. */
	struct sched_policy fast = {.interval = 2, .min_interval = 1, .max_interval = 4};
	assert_int_equal(sched_store_retry(&fast, 1, 2), 1);
	assert_int_equal(sched_store_retry(&fast, 2, 2), 2);
	assert_int_equal(sched_store_retry(&fast, 9, 2), 2);
	struct sched_policy zero = {0};
	assert_int_equal(sched_store_retry(&zero, 1, 100), 1);
	assert_int_equal(sched_store_retry(&zero, 3, 0), 4); /* no cap known: a day */
	/* A cap below the first wait wins. */
	assert_int_equal(sched_store_retry(&p, 1, 30), 30);
}

static void test_jitter(void **state)
{
	(void)state;
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	double sum = 0;
	for (int i = 0; i < 2000; i++) {
		int64_t v = sched_jitter(1000);
		assert_in_range(v, 900, 1100);
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
		sum += (double)v;
	}
	/* Spread over the range, centred. */
	assert_true(lo < 950 && hi > 1050);
	assert_true(fabs(sum / 2000 - 1000) < 10);
	/* At least a couple of seconds, never negative. */
	bool moved = false;
	for (int i = 0; i < 200; i++) {
		int64_t v = sched_jitter(5);
		assert_in_range(v, 3, 7);
		moved |= v != 5;
		assert_in_range(sched_jitter(0), 0, 2);
		assert_in_range(sched_jitter(-10), 0, 2);
	}
	assert_true(moved);
}

/* Timers. */
struct rec {
	struct sched *s;
	size_t order[16];
	size_t n;
	int rearm_left;
	struct event_base *base;
	size_t expect;
};

static void due_cb(size_t i, void *arg)
{
	struct rec *r = arg;
	if (r->n < 16)
		r->order[r->n++] = i;
	if (i == 4 && r->rearm_left > 0) {
		r->rearm_left--;
		sched_at(r->s, 4, 0); /* re-arming from the callback works */
	}
	if (r->n == r->expect)
		event_base_loopbreak(r->base);
}

struct guard {
	int expired;
	struct event_base *base;
};

static void guard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct guard *g = arg;
	(void)fd;
	(void)what;
	g->expired = 1;
	event_base_loopbreak(g->base);
}

static void test_timers(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	struct rec r = {.base = base};
	r.s = sched_new(base, 6, due_cb, &r);
	assert_non_null(r.s);
	assert_int_equal(sched_next(r.s), 0);

	int64_t now = now_unix();
	sched_at(r.s, 2, now + 2);
	sched_at(r.s, 0, now + 1);
	sched_at(r.s, 1, now - 100); /* in the past: as soon as possible */
	sched_at(r.s, 3, now + 100);
	sched_at(r.s, 3, now + 3); /* re-arming replaces */
	sched_at(r.s, 5, now + 1);
	sched_cancel(r.s, 5); /* cancelled: never fires */
	sched_at(r.s, 4, now + 2);
	sched_at(r.s, 4, now - 1); /* replaced by an earlier time */
	r.rearm_left = 1;
	sched_at(r.s, 99, now); /* out of range: ignored */
	assert_in_range(sched_next(r.s), now, now + 1);

	r.expect = 6; /* 1, 4, 4 again, 0, 2, 3 */
	struct guard guard = {0, base};
	struct event *g = evtimer_new(base, guard_cb, &guard);
	struct timeval tv = {10, 0};
	evtimer_add(g, &tv);
	event_base_dispatch(base);
	assert_false(guard.expired);
	assert_int_equal(r.n, 6);
	/* 1 and 4 are both due at once; their relative order is libevent's. */
	assert_true((r.order[0] == 1 && r.order[1] == 4) || (r.order[0] == 4 && r.order[1] == 1));
	assert_int_equal(r.order[2], 4);
	assert_int_equal(r.order[3], 0);
	assert_int_equal(r.order[4], 2);
	assert_int_equal(r.order[5], 3);
	assert_int_equal(sched_next(r.s), 0);

	/* Nothing else fires (5 was cancelled). */
	r.expect = 100;
	tv.tv_sec = 1;
	guard.expired = 0;
	evtimer_add(g, &tv);
	event_base_dispatch(base);
	assert_true(guard.expired);
	assert_int_equal(r.n, 6);

	sched_at(r.s, 5, now + 1000);
	sched_at(r.s, 2, now + 500);
	assert_int_equal(sched_next(r.s), now + 500);
	sched_cancel(r.s, 2);
	assert_int_equal(sched_next(r.s), now + 1000);
	sched_free(r.s); /* armed timers are freed with it */
	sched_free(NULL);
	event_free(g);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_interval_adaptive),
	    cmocka_unit_test(test_interval_ttl_max_age),
	    cmocka_unit_test(test_rate),
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_store_retry),
	    cmocka_unit_test(test_jitter),
	    cmocka_unit_test(test_timers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
