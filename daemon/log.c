/*
 * log.c - operational logging to stderr, journal-aware.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *log_progname = "veille";
static int log_level = LOG_INFO;
static bool log_journal; /* stderr is connected to the journal */

void log_init(const char *progname)
{
	const char *js = getenv("JOURNAL_STREAM");
	struct stat st;
	log_progname = progname;
	log_journal = false;
	if (js && fstat(2, &st) == 0) {
		unsigned long long dev, ino;
		if (sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
		    dev == (unsigned long long)st.st_dev && ino == (unsigned long long)st.st_ino)
			log_journal = true;
	}
}

void log_set_level(int level)
{
	log_level = level;
}

static void vlog(int prio, const char *err, const char *fmt, va_list ap)
{
	if (prio > log_level)
		return;
	char msg[2048];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* One write per line so concurrent writers never interleave inside a message. */
	if (log_journal)
		fprintf(stderr, "<%d>%s%s%s\n", prio, msg, err ? ": " : "", err ? err : "");
	else
		fprintf(stderr, "%s: %s%s%s\n", log_progname, msg, err ? ": " : "", err ? err : "");
}

#define LOGFN(name, prio)                                                                          \
	void name(const char *fmt, ...)                                                            \
	{                                                                                          \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		vlog(prio, NULL, fmt, ap);                                                         \
		va_end(ap);                                                                        \
	}
LOGFN(log_warnx, LOG_WARNING)
LOGFN(log_errx, LOG_ERR)
LOGFN(log_notice, LOG_NOTICE)
LOGFN(log_info, LOG_INFO)
LOGFN(log_debug, LOG_DEBUG)

void log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_WARNING, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

void fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
