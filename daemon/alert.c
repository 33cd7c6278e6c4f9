/*
 * alert.c - alerts to the journal or syslog.
 *
 * The line is the same in both: "ALERT topic=T score=0.82 feed=F url=U title="..."": key=value
 * pairs an operator can grep, the free-text title last and quoted. In the journal it comes with
 * VEILLE_* fields and a fixed MESSAGE_ID, and the journal is read back after a crash so an alert
 * already there is not sent twice (alert_recall_*).
 */
#include "alert.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "bounds.h"
#include "util.h"

static enum alert_sink sink = ALERT_NONE;
static const char *alert_ident = "veilled";
static char alert_origin[64];

enum alert_sink alert_sink_from(const char *mode)
{
	if (!mode || strcmp(mode, "auto") == 0)
		return access("/run/systemd/journal/socket", W_OK) == 0 ? ALERT_JOURNAL
									: ALERT_SYSLOG;
	if (strcmp(mode, "journal") == 0)
		return ALERT_JOURNAL;
	if (strcmp(mode, "syslog") == 0)
		return ALERT_SYSLOG;
	return ALERT_NONE;
}

void alert_open(enum alert_sink s, const char *ident)
{
	sink = s;
	alert_ident = ident;
	if (sink == ALERT_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void alert_close(void)
{
	if (sink == ALERT_SYSLOG)
		closelog();
	sink = ALERT_NONE;
}

void alert_set_origin(const char *origin)
{
	snprintf(alert_origin, sizeof(alert_origin), "%s", origin ? origin : "");
}

/* Copies s into out for a one-line, quoted field: control characters become spaces, '"' and '\'
 * escaped. A title longer than out is cut between two characters, never inside one (the line
 * stays UTF-8: the journal stores a field that is not as a blob), and ends with "…". */
static void quoted(const char *s, char *out, size_t outlen)
{
	static const char ellipsis[] = "\xE2\x80\xA6"; /* U+2026, in UTF-8 */
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t o = 0;
	/* Room for an escaped byte, the ellipsis and the NUL. */
	for (; *p && o + 2 + sizeof(ellipsis) <= outlen; p++) {
		unsigned char c = *p;
		if (c < 0x20 || c == 0x7F)
			c = ' ';
		if (c == '"' || c == '\\')
			out[o++] = '\\';
		out[o++] = (char)c;
	}
	if (*p) {
		/* Before the character the cut falls in: its bytes (none ASCII, so none escaped
		 * nor replaced) were copied one for one. */
		size_t used = (size_t)(p - (const unsigned char *)s);
		o -= used - utf8_cut(s, used + 1, used);
		memcpy(out + o, ellipsis, sizeof(ellipsis) - 1);
		o += sizeof(ellipsis) - 1;
	}
	out[o] = '\0';
}

void alert_format(const struct alert *a, char *out, size_t outlen)
{
	char title[600], url[VEILLE_URL_PRINT];
	quoted(a->title ? a->title : "", title, sizeof(title));
	/* URLs carry no spaces once canonical; replace any, and control characters, so the field
	 * stays one token. */
	snprintf(url, sizeof(url), "%s", a->url ? a->url : "-");
	for (char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7F)
			*p = '+';
	snprintf(out, outlen, "ALERT topic=%s score=%.2f feed=%s url=%s title=\"%s\"", a->topic,
		 a->score, a->feed ? a->feed : "-", url, title);
}

int alert_send(const struct alert *a)
{
	char line[4096];
	int prio = a->score >= a->high ? LOG_WARNING : LOG_NOTICE;
	alert_format(a, line, sizeof(line));
	switch (sink) {
	case ALERT_JOURNAL: {
		int r = sd_journal_send(
		    "MESSAGE=%s", line, "MESSAGE_ID=" ALERT_MESSAGE_ID, "PRIORITY=%d", prio,
		    "SYSLOG_IDENTIFIER=%s", alert_ident, "SYSLOG_FACILITY=%d", LOG_DAEMON >> 3,
		    "VEILLE_TOPIC=%s", a->topic, "VEILLE_SCORE=%.4f", a->score, "VEILLE_FEED=%s",
		    a->feed ? a->feed : "", "VEILLE_URL=%s", a->url ? a->url : "",
		    "VEILLE_TITLE=%s", a->title ? a->title : "", "VEILLE_TERMS=%s",
		    a->terms ? a->terms : "[]", "VEILLE_ITEM=%lld", (long long)a->item_id,
		    "VEILLE_ORIGIN=%s", alert_origin, NULL);
		return r < 0 ? r : 0;
	}
	case ALERT_SYSLOG:
		syslog(prio, "%s", line);
		return 0;
	case ALERT_NONE:
	case ALERT_SINK_MAX:
		break;
	}
	return 0;
}

struct alert_recall {
	sd_journal *j;
};

void alert_recall_free(struct alert_recall *r)
{
	if (!r)
		return;
	if (r->j)
		sd_journal_close(r->j);
	free(r);
}

static uint64_t now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int alert_recall_open(unsigned pending, int timeout_ms, struct alert_recall **ret)
{
	if (sink != ALERT_JOURNAL)
		return -EOPNOTSUPP;
	struct alert_recall *r = xcalloc(1, sizeof(*r));
	char nonce[40], match[64];
	uint64_t n[2];
	arc4random_buf(n, sizeof(n));
	snprintf(nonce, sizeof(nonce), "%016" PRIx64 "%016" PRIx64, n[0], n[1]);
	/* Open first: the notice then shows up as a change sd_journal_wait sees. */
	int rc = sd_journal_open(&r->j, SD_JOURNAL_LOCAL_ONLY);
	if (rc < 0)
		goto fail;
	/* journald reads its socket in order: once this notice is in the journal, so is every
	 * alert the crashed process handed to the same socket before it died. */
	rc = sd_journal_send("MESSAGE=%u alert%s left pending by an unclean stop: looking %s up in "
			     "the journal before sending",
			     pending, pending == 1 ? "" : "s", pending == 1 ? "it" : "them",
			     "MESSAGE_ID=" ALERT_RECALL_MESSAGE_ID, "PRIORITY=%d", LOG_NOTICE,
			     "SYSLOG_IDENTIFIER=%s", alert_ident, "VEILLE_RECALL=%s", nonce,
			     "VEILLE_ORIGIN=%s", alert_origin, NULL);
	if (rc < 0)
		goto fail;
	snprintf(match, sizeof(match), "VEILLE_RECALL=%s", nonce);
	if ((rc = sd_journal_add_match(r->j, match, 0)) < 0)
		goto fail;
	uint64_t end = now_usec() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000u;
	for (;;) {
		if ((rc = sd_journal_seek_head(r->j)) < 0)
			goto fail;
		rc = sd_journal_next(r->j);
		if (rc < 0)
			goto fail;
		if (rc > 0)
			break;
		uint64_t now = now_usec();
		if (now >= end) {
			rc = -ETIMEDOUT;
			goto fail;
		}
		rc = sd_journal_wait(r->j, end - now);
		if (rc < 0)
			goto fail;
	}
	sd_journal_flush_matches(r->j);
	*ret = r;
	return 0;
fail:
	alert_recall_free(r);
	return rc;
}

int alert_recall_find(struct alert_recall *r, const struct alert *a)
{
	char item[64], topic[VEILLE_MAX_NAME + 16], origin[96];
	if (!a->topic)
		return -EINVAL;
	snprintf(item, sizeof(item), "VEILLE_ITEM=%lld", (long long)a->item_id);
	int n = snprintf(topic, sizeof(topic), "VEILLE_TOPIC=%s", a->topic);
	if (n < 0 || (size_t)n >= sizeof(topic))
		return -ENAMETOOLONG;
	snprintf(origin, sizeof(origin), "VEILLE_ORIGIN=%s", alert_origin);
	sd_journal_flush_matches(r->j);
	int rc;
	if ((rc = sd_journal_add_match(r->j, "MESSAGE_ID=" ALERT_MESSAGE_ID, 0)) < 0 ||
	    (rc = sd_journal_add_match(r->j, origin, 0)) < 0 ||
	    (rc = sd_journal_add_match(r->j, item, 0)) < 0 ||
	    (rc = sd_journal_add_match(r->j, topic, 0)) < 0 ||
	    (rc = sd_journal_seek_head(r->j)) < 0)
		return rc;
	rc = sd_journal_next(r->j);
	return rc < 0 ? rc : rc > 0;
}
