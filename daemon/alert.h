/*
 * alert.h - one alert per new relevant item, to the systemd journal (structured fields, a fixed
 * MESSAGE_ID) or to syslog(3).
 */
#ifndef VEILLE_ALERT_H
#define VEILLE_ALERT_H

#include <stddef.h>
#include <stdint.h>

/* journalctl MESSAGE_ID=... lists every alert; systemd/veille.catalog explains it. */
#define ALERT_MESSAGE_ID "6f1c3a9e2b7d4e58a0c4d9b1e7f2a365"

enum alert_sink { ALERT_NONE, ALERT_JOURNAL, ALERT_SYSLOG, ALERT_SINK_MAX };

struct alert {
	const char *topic;
	double score;
	double high; /* score at or above which the alert is a WARNING, not a NOTICE */
	const char *feed;
	const char *url;
	const char *title;
	const char *terms; /* JSON array of [term, weight], may be NULL */
	int64_t item_id;
};

/* Picks the sink for mode "auto" (journal when its socket exists, else syslog), "journal",
 * "syslog" or "none". ident is the syslog identifier. */
enum alert_sink alert_sink_from(const char *mode);
void alert_open(enum alert_sink sink, const char *ident);
void alert_close(void);
/* Sends one alert; 0 or -errno (the journal refused it). */
int alert_send(const struct alert *a);
/* Formats the human line: ALERT topic=... score=... feed=... url=... title="..." */
void alert_format(const struct alert *a, char *out, size_t outlen);

#endif
