/*
 * log.h - operational logging of the daemon and the operator's tool.
 *
 * Messages go to stderr: under systemd (JOURNAL_STREAM names our stderr) each line carries an
 * sd-daemon "<N>" priority prefix so the journal files it at the right level; on a terminal each
 * line starts with the program name. Alerts are not logged here: they go through alert.h.
 */
#ifndef VEILLE_LOG_H
#define VEILLE_LOG_H

#include <syslog.h>

void log_init(const char *progname);
/* Messages above this syslog level are dropped (default LOG_INFO). */
void log_set_level(int level);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  /* appends strerror */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* does not */
void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For broken invariants only: logs and exits 1. */
_Noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
