/*
 * rss.h - the tests' reading of their own resident memory.
 */
#ifndef VEILLE_TEST_RSS_H
#define VEILLE_TEST_RSS_H

#include <stdio.h>
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

#endif
