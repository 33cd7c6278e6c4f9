/*
 * notify.h - the systemd service protocol (sd_notify), one guarded wrapper for the daemon.
 * Every call is a no-op when NOTIFY_SOCKET is not set.
 */
#ifndef VEILLE_NOTIFY_H
#define VEILLE_NOTIFY_H

#include <stdint.h>

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
void notify_watchdog(void);
/* Asks for usec more to finish the current state (starting, reloading, stopping): to be sent
 * again before they run out while the work goes on. */
void notify_extend_timeout(uint64_t usec);
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The watchdog interval systemd asked for, in microseconds; 0 when disabled. */
uint64_t notify_watchdog_usec(void);

#endif
