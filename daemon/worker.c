/*
 * worker.c - a small thread pool whose completions come back, in submission order, through a
 * pipe watched by the loop.
 *
 * One mutex guards two lists of the same jobs: those waiting for a thread (todo), and every job
 * not yet delivered, in submission order (order). A thread that finishes the job at the head of
 * order writes one byte to the pipe; the loop's event reads every byte, then takes the finished
 * jobs at the head of order. A job finished behind an unfinished one waits for it: the loop sees
 * completions in the order it submitted the jobs, as if they had run one after the other. A byte
 * can come with nothing to deliver (the loop took the jobs before the byte arrived): nothing
 * happens then.
 *
 * The loop's event delivers one job at a time: when more are ready, it writes a byte itself and
 * comes back at its next turn, after the other events ready meanwhile (libcurl's sockets and
 * timers). A done callback can take milliseconds (the engine stores a document in it), and the
 * worker keeps finishing jobs meanwhile: delivering every finished job in one go held the loop
 * for tens of milliseconds, during which no transfer progressed.
 */
#include "worker.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

struct job {
	worker_fn run, done;
	void *arg;
	struct job *next;      /* in order */
	struct job *next_todo; /* in todo */
	bool finished;
};

struct jobs {
	struct job *head, **tail;
};

struct worker {
	pthread_mutex_t mu;
	pthread_cond_t todo_cv; /* threads wait here for jobs */
	pthread_cond_t done_cv; /* worker_drain waits here for completions */
	struct jobs todo, order;
	bool stop;
	pthread_t *threads;
	unsigned nthreads;
	int pipe[2];
	struct event *ev;
	/* the loop's thread only */
	size_t pending;
	bool delivering;
};

unsigned worker_threads_default(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN) - 1;
	if (n < 1)
		return 1;
	return n > WORKER_MAX_THREADS ? WORKER_MAX_THREADS : (unsigned)n;
}

static void jobs_init(struct jobs *l)
{
	l->head = NULL;
	l->tail = &l->head;
}

/* A job has run. Called with w->mu held; returns true when the loop can deliver it, and must be
 * woken (wake) once w->mu is released. */
static bool finished(struct worker *w, struct job *j)
{
	j->finished = true;
	return j == w->order.head; /* else delivered after the jobs submitted before it */
}

/* Makes the loop's event run (wake_cb). */
static void poke(struct worker *w)
{
	/* Non-blocking: a full pipe already holds a wake-up. */
	ssize_t r;
	do
		r = write(w->pipe[1], "", 1);
	while (r < 0 && errno == EINTR);
}

/*
 * Wakes the loop, and worker_drain, after finished returned true. Called without w->mu: the write
 * makes the loop's thread runnable, and on a busy machine it may run at once, in this thread's
 * place, and go straight for w->mu (deliver); holding the mutex then would put it back to sleep
 * until this thread runs again. The loop looks at the jobs under w->mu after it reads the pipe, so
 * a byte written after the mutex is released loses nothing.
 */
static void wake(struct worker *w)
{
	pthread_cond_signal(&w->done_cv);
	poke(w);
}

static void *thread_main(void *arg)
{
	struct worker *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->todo.head && !w->stop)
			pthread_cond_wait(&w->todo_cv, &w->mu);
		struct job *j = w->todo.head;
		if (!j)
			break; /* stopping, and nothing left to run */
		w->todo.head = j->next_todo;
		if (!w->todo.head)
			w->todo.tail = &w->todo.head;
		pthread_mutex_unlock(&w->mu);
		j->run(j->arg);
		pthread_mutex_lock(&w->mu);
		if (finished(w, j)) {
			pthread_mutex_unlock(&w->mu);
			wake(w);
			pthread_mutex_lock(&w->mu);
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* True when the job at the head of order has finished. Called with w->mu held. */
static bool deliverable(const struct worker *w)
{
	return w->order.head && w->order.head->finished;
}

/* Calls the done callbacks of the finished jobs at the head of order, at most max of them.
 * Returns true when the next job is finished too (not delivered yet: its thread, having found
 * another job at the head, wrote no byte for it). */
static bool deliver(struct worker *w, size_t max)
{
	struct job *first = NULL, *last = NULL;
	pthread_mutex_lock(&w->mu);
	for (size_t n = 0; n < max && deliverable(w); n++) {
		last = w->order.head;
		if (!first)
			first = last;
		w->order.head = last->next;
	}
	if (!w->order.head)
		w->order.tail = &w->order.head;
	if (last)
		last->next = NULL;
	bool more = deliverable(w);
	pthread_mutex_unlock(&w->mu);
	w->delivering = true;
	for (struct job *j = first, *next; j; j = next) {
		next = j->next;
		w->pending--;
		j->done(j->arg);
		free(j);
	}
	w->delivering = false;
	return more;
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	char b[64];
	(void)what;
	while (read(fd, b, sizeof(b)) > 0)
		;
	if (deliver(w, 1))
		poke(w); /* the next one at the loop's next turn */
}

static void stop_threads(struct worker *w, unsigned n)
{
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->todo_cv);
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < n; i++)
		pthread_join(w->threads[i], NULL);
}

struct worker *worker_new(struct event_base *base, unsigned nthreads)
{
	struct worker *w = xcalloc(1, sizeof(*w));
	w->pipe[0] = w->pipe[1] = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->todo_cv, NULL);
	pthread_cond_init(&w->done_cv, NULL);
	jobs_init(&w->todo);
	jobs_init(&w->order);
	if (pipe2(w->pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		goto fail;
	w->ev = event_new(base, w->pipe[0], EV_READ | EV_PERSIST, wake_cb, w);
	if (!w->ev || event_add(w->ev, NULL) < 0)
		goto fail;
	w->threads = xcalloc(nthreads ? nthreads : 1, sizeof(*w->threads));
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (; w->nthreads < nthreads; w->nthreads++)
		if (pthread_create(&w->threads[w->nthreads], NULL, thread_main, w) != 0)
			break;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (w->nthreads < nthreads)
		goto fail;
	return w;
fail:
	worker_free(w);
	return NULL;
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	worker_drain(w);
	stop_threads(w, w->nthreads);
	free(w->threads);
	if (w->ev)
		event_free(w->ev);
	for (int i = 0; i < 2; i++)
		if (w->pipe[i] >= 0)
			close(w->pipe[i]);
	pthread_cond_destroy(&w->done_cv);
	pthread_cond_destroy(&w->todo_cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

void worker_submit(struct worker *w, worker_fn run, worker_fn done, void *arg)
{
	struct job *j = xmalloc(sizeof(*j));
	*j = (struct job){.run = run, .done = done, .arg = arg};
	w->pending++;
	pthread_mutex_lock(&w->mu);
	*w->order.tail = j;
	w->order.tail = &j->next;
	if (!w->nthreads) {
		pthread_mutex_unlock(&w->mu);
		run(arg);
		pthread_mutex_lock(&w->mu);
		bool head = finished(w, j);
		pthread_mutex_unlock(&w->mu);
		if (head)
			wake(w);
		return;
	}
	*w->todo.tail = j;
	w->todo.tail = &j->next_todo;
	pthread_mutex_unlock(&w->mu);
	/* Signalled after the unlock: a thread woken with the mutex still held would only wait
	 * for it again. A thread that has not gone to sleep yet finds the job before waiting. */
	pthread_cond_signal(&w->todo_cv);
}

void worker_drain(struct worker *w)
{
	if (w->delivering)
		fatalx("worker_drain called from a done callback");
	while (w->pending) {
		/* pending > 0: the head of order is queued, running or finished. */
		pthread_mutex_lock(&w->mu);
		while (!deliverable(w))
			pthread_cond_wait(&w->done_cv, &w->mu);
		pthread_mutex_unlock(&w->mu);
		deliver(w, SIZE_MAX);
	}
}

size_t worker_pending(const struct worker *w)
{
	return w->pending;
}

double worker_cpu_seconds(const struct worker *w)
{
	double sum = 0;
	for (unsigned i = 0; i < w->nthreads; i++)
		sum += thread_cpu_seconds(w->threads[i]);
	return sum;
}
