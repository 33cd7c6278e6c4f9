/*
 * worker.h - CPU work off the event loop: a few threads run jobs, and each job's completion is
 * delivered back on the loop.
 *
 * A job is two functions and an argument: run(arg) on a worker thread, then done(arg) on the
 * event loop's thread. Jobs run concurrently, but their done callbacks come in the order the jobs
 * were submitted (a job finished early waits for those before it): the loop sees the same
 * sequence of results whatever the number of threads. run must not touch what the loop's thread
 * may change meanwhile, nor log; done does everything else (the store, the log, freeing arg).
 */
#ifndef VEILLE_WORKER_H
#define VEILLE_WORKER_H

#include <stddef.h>

struct event_base;
struct worker;

typedef void (*worker_fn)(void *arg);

/* Most threads worth starting: parsing and scoring run beside one loop thread that commits. */
#define WORKER_MAX_THREADS 2

/* Threads for this machine: one per CPU beyond the loop's, at least 1, at most
 * WORKER_MAX_THREADS. */
unsigned worker_threads_default(void);

/*
 * Returns a pool of nthreads threads (0: each job runs inside worker_submit, its done callback
 * still later on the loop) whose completions are delivered on base (borrowed; must outlive the
 * pool). NULL when the threads, the pipe or the event cannot be made. The threads block every
 * signal: signals stay with the loop's thread.
 */
struct worker *worker_new(struct event_base *base, unsigned nthreads);
/* Drains (worker_drain), stops the threads and frees. NULL is a no-op. */
void worker_free(struct worker *w);

/* Queues a job. done is never called from inside worker_submit. */
void worker_submit(struct worker *w, worker_fn run, worker_fn done, void *arg);
/* Waits until every job submitted, those submitted by done callbacks meanwhile included, has
 * run, calling the done callbacks (from inside this call). For reload and exit:
 * the loop need not be running. Not to be called from a done callback. */
void worker_drain(struct worker *w);
/* Jobs submitted whose done callback has not been called yet. */
size_t worker_pending(const struct worker *w);
/* The CPU time the worker's threads have used so far, in seconds (0 without threads). */
double worker_cpu_seconds(const struct worker *w);

#endif
