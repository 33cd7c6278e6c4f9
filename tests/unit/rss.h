/*
 * rss.h - the tests' reading of their own resident memory.
 */
#ifndef VEILLE_TEST_RSS_H
#define VEILLE_TEST_RSS_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* This process's resident memory now, in KiB (/proc/self/statm). */
static inline long rss_kib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Runs run(arg) in a child: *ret_kib is the peak resident memory wait4 reports for it, in KiB,
 * less what this process holds now (the child starts with it; it may touch less of it), and
 * *ret_status the child's exit status (run's return value), -1 when it did not exit. False when
 * no child could be run. */
static inline bool child_peak_kib(int (*run)(void *arg), void *arg, long *ret_kib, int *ret_status)
{
	*ret_status = -1;
	long base = rss_kib();
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0)
		_exit(run(arg));
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) != pid)
		return false;
	*ret_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	*ret_kib = ru.ru_maxrss - base;
	return true;
}

#endif
