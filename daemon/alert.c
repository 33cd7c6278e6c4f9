/*
 * alert.c - alerts to the journal or syslog.
 *
 * The line is the same in both: "ALERT topic=T score=0.82 feed=F url=U title="..."": key=value
 * pairs an operator can grep, the free-text title last and quoted. In the journal it comes with
 * VEILLE_* fields and a fixed MESSAGE_ID.
 */
#include "alert.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "bounds.h"
#include "util.h"

static enum alert_sink sink = ALERT_NONE;
static const char *alert_ident = "veilled";

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

/* Copies s into out for a one-line, quoted field: newlines become spaces, '"' and '\' escaped. */
static void quoted(const char *s, char *out, size_t outlen)
{
	size_t o = 0;
	for (; s && *s && o + 3 < outlen; s++) {
		char c = *s;
		if (c == '\n' || c == '\r' || c == '\t')
			c = ' ';
		if (c == '"' || c == '\\')
			out[o++] = '\\';
		out[o++] = c;
	}
	out[o] = '\0';
}

void alert_format(const struct alert *a, char *out, size_t outlen)
{
	char title[600], url[VEILLE_URL_PRINT];
	quoted(a->title ? a->title : "", title, sizeof(title));
	/* URLs carry no spaces once canonical; replace any so the field stays one token. */
	snprintf(url, sizeof(url), "%s", a->url ? a->url : "-");
	for (char *p = url; *p; p++)
		if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
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
		    a->terms ? a->terms : "[]", "VEILLE_ITEM=%lld", (long long)a->item_id, NULL);
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
