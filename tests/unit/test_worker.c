/*
 * test_worker.c - jobs run on the pool's threads, their completions come back on the event loop
 * (never inside worker_submit), every one exactly once and in submission order, and worker_drain
 * waits for all of them, those submitted by completions included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util.h"
#include "worker.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#define NJOBS 200

struct pool;

struct job {
	struct pool *p;
	int n;
	pthread_t ran_on;
	long sum; /* computed by run */
	bool ran, done;
	int again; /* done submits this job again this many times */
	int seq;   /* submission number */
};

struct pool {
	struct event_base *base;
	struct worker *w;
	pthread_t loop;
	struct job jobs[NJOBS];
	int done, submitted, delivered;
	bool inside_submit;
};

static void run(void *arg)
{
	struct job *j = arg;
	long s = 0;
	for (int i = 0; i <= 1000 * j->n; i++)
		s += i % 7;
	j->sum = s;
	j->ran_on = pthread_self();
	j->ran = true;
}

static void done(void *arg)
{
	struct job *j = arg;
	struct pool *p = j->p;
	assert_false(p->inside_submit);
	assert_true(pthread_equal(pthread_self(), p->loop));
	assert_true(j->ran);
	assert_false(j->done);
	assert_int_equal(j->seq, p->delivered++);
	long s = 0;
	for (int i = 0; i <= 1000 * j->n; i++)
		s += i % 7;
	assert_int_equal(j->sum, s);
	if (j->again) {
		j->again--;
		j->ran = false;
		j->seq = p->submitted++;
		p->inside_submit = true;
		worker_submit(p->w, run, done, j);
		p->inside_submit = false;
		return;
	}
	j->done = true;
	p->done++;
	if (p->done == NJOBS)
		event_base_loopexit(p->base, NULL);
}

static void submit_all(struct pool *p, int again)
{
	for (int i = 0; i < NJOBS; i++) {
		/* Long and short jobs mixed: they finish out of order on several threads. */
		p->jobs[i] = (struct job){
		    .p = p, .n = (i * 7) % 17, .again = i % 3 ? 0 : again, .seq = p->submitted++};
		p->inside_submit = true;
		worker_submit(p->w, run, done, &p->jobs[i]);
		p->inside_submit = false;
	}
}

static void check_pool(unsigned nthreads, bool drain)
{
	struct pool p = {.base = event_base_new(), .loop = pthread_self()};
	assert_non_null(p.base);
	p.w = worker_new(p.base, nthreads);
	assert_non_null(p.w);
	submit_all(&p, 2);
	assert_int_equal(p.done, 0); /* never inside worker_submit, even without threads */
	if (drain)
		worker_drain(p.w);
	else
		event_base_dispatch(p.base);
	assert_int_equal(p.done, NJOBS);
	assert_int_equal(worker_pending(p.w), 0);
	for (int i = 0; i < NJOBS; i++) {
		assert_true(p.jobs[i].done);
		assert_int_equal(pthread_equal(p.jobs[i].ran_on, p.loop), nthreads == 0);
	}
	worker_free(p.w);
	event_base_free(p.base);
}

static void test_threads_loop(void **state)
{
	(void)state;
	check_pool(2, false);
}

static void test_threads_drain(void **state)
{
	(void)state;
	check_pool(1, true);
}

static void test_inline(void **state)
{
	(void)state;
	check_pool(0, false);
	check_pool(0, true);
}

/* worker_free drains: nothing submitted is lost. */
static void test_free_drains(void **state)
{
	(void)state;
	struct pool p = {.base = event_base_new(), .loop = pthread_self()};
	p.w = worker_new(p.base, 2);
	assert_non_null(p.w);
	submit_all(&p, 1);
	worker_free(p.w);
	assert_int_equal(p.done, NJOBS);
	event_base_free(p.base);
}

/*
 * The loop takes one completion at a time, and the other events ready meanwhile run in between:
 * the jobs all finish before the loop runs, and a pipe that is always readable counts the turns.
 */
struct turns {
	struct event_base *base;
	atomic_int ran;
	int turns, delivered;
	int turn_of[NJOBS]; /* the turn at which each job was delivered */
};

static void turns_run(void *arg)
{
	atomic_fetch_add(&((struct turns *)arg)->ran, 1);
}

static void turns_done(void *arg)
{
	struct turns *t = arg;
	t->turn_of[t->delivered++] = t->turns;
	if (t->delivered == NJOBS)
		event_base_loopexit(t->base, NULL);
}

static void turn_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	((struct turns *)arg)->turns++;
}

static void test_one_per_turn(void **state)
{
	(void)state;
	struct turns t = {.base = event_base_new()};
	struct worker *w = worker_new(t.base, 1);
	assert_non_null(w);
	for (int i = 0; i < NJOBS; i++)
		worker_submit(w, turns_run, turns_done, &t);
	for (int i = 0; i < 10000 && atomic_load(&t.ran) < NJOBS; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&t.ran), NJOBS);
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "", 1), 1); /* never read: ready at every turn */
	struct event *ev = event_new(t.base, fds[0], EV_READ | EV_PERSIST, turn_cb, &t);
	event_add(ev, NULL);
	struct timeval limit = {10, 0}; /* a completion left behind fails, not hangs */
	event_base_loopexit(t.base, &limit);
	event_base_dispatch(t.base);
	assert_int_equal(t.delivered, NJOBS);
	for (int i = 1; i < NJOBS; i++)
		assert_true(t.turn_of[i] > t.turn_of[i - 1]);
	event_free(ev);
	close(fds[0]);
	close(fds[1]);
	worker_free(w);
	event_base_free(t.base);
}

static void test_default(void **state)
{
	(void)state;
	unsigned n = worker_threads_default();
	assert_true(n >= 1 && n <= WORKER_MAX_THREADS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_threads_loop), cmocka_unit_test(test_threads_drain),
	    cmocka_unit_test(test_inline),	 cmocka_unit_test(test_free_drains),
	    cmocka_unit_test(test_one_per_turn), cmocka_unit_test(test_default),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
