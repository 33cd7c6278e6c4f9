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
/* The notice a restarted daemon writes before it looks up its pending alerts in the journal. */
#define ALERT_RECALL_MESSAGE_ID "b3e5d2a04c7f4f9e8a61c0d7e95b2f18"
/* Longest wait for the journal to show that notice (it then holds every earlier alert). */
#define ALERT_RECALL_TIMEOUT_MS 3000

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
/*
 * Names the database the alerts come from (VEILLE_ORIGIN in the journal, copied): item ids restart
 * at 1 in a new database, so an alert is known by (origin, item, topic). NULL or "" for none.
 */
void alert_set_origin(const char *origin);

/*
 * At-least-once becomes exactly-once where the sink can be read back. An alert is sent, then
 * marked sent in the database; a crash between the two leaves it pending. At start-up the pending
 * alerts are looked up in the sink before being sent again. Only the journal can be read back:
 * alert_recall_open first writes a notice and waits (at most timeout_ms) until the journal shows
 * it, so every alert sent before it (by the process that crashed) is in the journal too.
 * Returns 0 and a new handle in *ret; -EOPNOTSUPP for syslog (the crash window stays open: the
 * alert is sent again), -ETIMEDOUT or another -errno when the journal cannot be read (the
 * daemon lacks the right, journald is gone).
 */
struct alert_recall;
int alert_recall_open(unsigned pending, int timeout_ms, struct alert_recall **ret);
/* 1 when the journal holds alert a of this origin (same item and topic), 0 when not, -errno. */
int alert_recall_find(struct alert_recall *r, const struct alert *a);
void alert_recall_free(struct alert_recall *r);

/* Formats the human line: ALERT topic=... score=... feed=... url=... title="..." */
void alert_format(const struct alert *a, char *out, size_t outlen);

#endif
