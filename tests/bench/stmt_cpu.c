/*
 * stmt_cpu.c - where a process's SQLite time goes, statement by statement: a library preloaded
 * into it (LD_PRELOAD) that wraps sqlite3_step and adds up, for each SQL text, its calls and the
 * CPU time of the calling thread during them. At exit it prints them to stderr, the most
 * expensive first, as "calls  ms  SQL".
 *
 * Usage: LD_PRELOAD=build-rel/tests/bench/libstmt_cpu.so build-rel/veilled -c CONF --once
 *
 * A statement that runs others inside it (a trigger, FTS5's writes into its shadow tables)
 * counts their time too: its figure includes theirs, listed again on their own lines. The time
 * is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID): waits for the disk are not in it, the
 * kernel's work for the thread is. The two clock reads cost about a microsecond a step.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SQL 512 /* distinct statements counted; the others go to one line */

struct entry {
	char *sql;
	uint64_t calls;
	uint64_t ns;
};

static struct entry entries[MAX_SQL];
static size_t nentries;
static struct entry others; /* every statement past MAX_SQL, or whose text could not be kept */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int (*real_step)(sqlite3_stmt *);
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void find_real(void)
{
	real_step = (int (*)(sqlite3_stmt *))dlsym(RTLD_NEXT, "sqlite3_step");
}

static uint64_t thread_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The entry of sql (compared by text: a statement prepared again is the same one). */
static struct entry *entry_of(const char *sql)
{
	for (size_t i = 0; i < nentries; i++)
		if (!strcmp(entries[i].sql, sql))
			return &entries[i];
	char *copy = nentries < MAX_SQL ? strdup(sql) : NULL;
	if (!copy)
		return &others;
	entries[nentries].sql = copy;
	return &entries[nentries++];
}

int sqlite3_step(sqlite3_stmt *st)
{
	pthread_once(&once, find_real);
	if (!real_step)
		return SQLITE_MISUSE;
	uint64_t t0 = thread_ns();
	int rc = real_step(st);
	uint64_t dt = thread_ns() - t0;
	const char *sql = sqlite3_sql(st);
	pthread_mutex_lock(&mu);
	struct entry *e = entry_of(sql ? sql : "(no SQL text)");
	e->calls++;
	e->ns += dt;
	pthread_mutex_unlock(&mu);
	return rc;
}

static int by_time(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : 0;
}

__attribute__((destructor)) static void report(void)
{
	pthread_mutex_lock(&mu);
	qsort(entries, nentries, sizeof(entries[0]), by_time);
	fprintf(stderr, "stmt_cpu: %10s %10s  SQL\n", "calls", "CPU ms");
	for (size_t i = 0; i < nentries; i++)
		fprintf(stderr, "stmt_cpu: %10llu %10.1f  %.160s%s\n",
			(unsigned long long)entries[i].calls, (double)entries[i].ns / 1e6,
			entries[i].sql, strlen(entries[i].sql) > 160 ? "..." : "");
	if (others.calls)
		fprintf(stderr, "stmt_cpu: %10llu %10.1f  (other statements)\n",
			(unsigned long long)others.calls, (double)others.ns / 1e6);
	pthread_mutex_unlock(&mu);
}
