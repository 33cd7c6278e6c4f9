/*
 * export.c - JSON Lines, CSV and Atom writers over store records, and the nightly files' names.
 *
 * JSON Lines and CSV share one field table, so both always carry the same fields in the same
 * order; nested values (sources, verdicts) are JSON in both (a JSON text inside a CSV cell).
 * CSV follows RFC 4180: CRLF after every record, a field holding a comma, a quote, CR or LF is
 * quoted and its quotes doubled. Atom follows RFC 4287: a feed id, title, updated and author,
 * and per entry an id (from the content hash, stable across exports), title, link, published,
 * updated (when veille fetched it), author, summary, content, and one category per relevant topic.
 */
#include "export.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "feed.h"
#include "store.h"
#include "util.h"

static const char *const format_names[EXPORT_FORMAT_MAX] = {
    [EXPORT_JSONL] = "jsonl",
    [EXPORT_CSV] = "csv",
    [EXPORT_ATOM] = "atom",
};

int export_format_parse(const char *name, enum export_format *ret)
{
	for (int f = 0; f < EXPORT_FORMAT_MAX; f++)
		if (strcmp(name, format_names[f]) == 0) {
			*ret = (enum export_format)f;
			return 0;
		}
	return -EINVAL;
}

const char *export_format_name(enum export_format f)
{
	return f < EXPORT_FORMAT_MAX ? format_names[f] : "?";
}

/* --- the record's fields ------------------------------------------------------------------ */

enum kind { K_ID, K_STR, K_TIME, K_BOOL, K_FEEDS, K_SOURCES, K_VERDICTS };

static const struct field {
	const char *name;
	enum kind kind;
	size_t off; /* into struct store_record, for K_ID, K_STR, K_TIME, K_BOOL */
} fields[] = {
    {"id", K_ID, offsetof(struct store_record, id)},
    {"feeds", K_FEEDS, 0},
    {"guid", K_STR, offsetof(struct store_record, guid)},
    {"link", K_STR, offsetof(struct store_record, link)},
    {"canonical_link", K_STR, offsetof(struct store_record, canonical_link)},
    {"title", K_STR, offsetof(struct store_record, title)},
    {"author", K_STR, offsetof(struct store_record, author)},
    {"published", K_TIME, offsetof(struct store_record, published)},
    {"fetched", K_TIME, offsetof(struct store_record, fetched)},
    {"summary", K_STR, offsetof(struct store_record, summary)},
    {"content", K_STR, offsetof(struct store_record, content)},
    {"hash", K_STR, offsetof(struct store_record, hash)},
    {"relevant", K_BOOL, offsetof(struct store_record, relevant)},
    {"story", K_ID, offsetof(struct store_record, story)},
    {"story_size", K_ID, offsetof(struct store_record, story_size)},
    {"updated", K_TIME, offsetof(struct store_record, updated)},
    {"verdicts", K_VERDICTS, 0},
    {"sources", K_SOURCES, 0},
};

#define FIELD(r, f, type) (*(const type *)((const char *)(r) + (f)->off))

static void put_time(struct buf *b, int64_t t)
{
	char iso[21];
	time_iso8601(t, iso);
	json_put_string(b, iso);
}

/* The feeds an item was seen in, each once, first seen first. */
static void json_feeds(const struct store_record *r, struct buf *b)
{
	buf_putc(b, '[');
	size_t n = 0;
	for (size_t i = 0; i < r->nsources; i++) {
		size_t k;
		for (k = 0; k < i; k++)
			if (strcmp(r->sources[k].feed, r->sources[i].feed) == 0)
				break;
		if (k < i)
			continue;
		if (n++)
			buf_putc(b, ',');
		json_put_string(b, r->sources[i].feed);
	}
	buf_putc(b, ']');
}

static void json_sources(const struct store_record *r, struct buf *b)
{
	buf_putc(b, '[');
	for (size_t i = 0; i < r->nsources; i++) {
		const struct store_source *s = &r->sources[i];
		buf_puts(b, i ? ",{\"feed\":" : "{\"feed\":");
		json_put_string(b, s->feed);
		buf_puts(b, ",\"identity\":");
		json_put_string(b, s->identity);
		buf_puts(b, ",\"link\":");
		json_put_string(b, s->link);
		buf_puts(b, ",\"first_seen\":");
		put_time(b, s->first_seen);
		buf_putc(b, '}');
	}
	buf_putc(b, ']');
}

static void json_verdicts(const struct store_record *r, struct buf *b)
{
	buf_putc(b, '[');
	for (size_t i = 0; i < r->nverdicts; i++) {
		const struct store_verdict *v = &r->verdicts[i];
		buf_puts(b, i ? ",{\"topic\":" : "{\"topic\":");
		json_put_string(b, v->topic);
		buf_printf(b, ",\"score\":%.4f,\"relevant\":%s,\"terms\":%s}", v->score,
			   v->relevant ? "true" : "false", v->terms_json);
	}
	buf_putc(b, ']');
}

/* Appends the JSON value of field f. */
static void json_value(const struct store_record *r, const struct field *f, struct buf *b)
{
	switch (f->kind) {
	case K_ID:
		buf_printf(b, "%lld", (long long)FIELD(r, f, int64_t));
		break;
	case K_STR:
		json_put_string(b, FIELD(r, f, char *));
		break;
	case K_TIME:
		if (FIELD(r, f, int64_t) == FEED_NO_DATE)
			buf_puts(b, "null");
		else
			put_time(b, FIELD(r, f, int64_t));
		break;
	case K_BOOL:
		buf_puts(b, FIELD(r, f, bool) ? "true" : "false");
		break;
	case K_FEEDS:
		json_feeds(r, b);
		break;
	case K_SOURCES:
		json_sources(r, b);
		break;
	case K_VERDICTS:
		json_verdicts(r, b);
		break;
	}
}

static void jsonl_record(const struct store_record *r, struct buf *b)
{
	buf_putc(b, '{');
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		if (i)
			buf_putc(b, ',');
		json_put_string(b, fields[i].name);
		buf_putc(b, ':');
		json_value(r, &fields[i], b);
	}
	buf_puts(b, "}\n");
}

/* --- CSV ---------------------------------------------------------------------------------- */

static void csv_cell(struct buf *b, const char *s, size_t len)
{
	bool quote = false;
	for (size_t i = 0; i < len && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
	if (!quote) {
		buf_append(b, s, len);
		return;
	}
	buf_putc(b, '"');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			buf_putc(b, '"');
		buf_putc(b, s[i]);
	}
	buf_putc(b, '"');
}

static void csv_record(const struct store_record *r, struct buf *b)
{
	struct buf v = {0};
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		const struct field *f = &fields[i];
		if (i)
			buf_putc(b, ',');
		buf_reset(&v);
		switch (f->kind) {
		case K_STR: {
			const char *s = FIELD(r, f, char *);
			if (s)
				csv_cell(b, s, strlen(s));
			continue;
		}
		case K_TIME:
			if (FIELD(r, f, int64_t) != FEED_NO_DATE) {
				char iso[21];
				time_iso8601(FIELD(r, f, int64_t), iso);
				buf_puts(b, iso);
			}
			continue;
		case K_FEEDS:
			/* Feed names hold no white space: a space-separated list. */
			for (size_t k = 0; k < r->nsources; k++) {
				size_t j;
				for (j = 0; j < k; j++)
					if (strcmp(r->sources[j].feed, r->sources[k].feed) == 0)
						break;
				if (j == k) {
					if (v.len)
						buf_putc(&v, ' ');
					buf_puts(&v, r->sources[k].feed);
				}
			}
			break;
		default:
			json_value(r, f, &v);
			break;
		}
		if (v.len)
			csv_cell(b, v.p, v.len);
	}
	buf_puts(b, "\r\n");
	buf_free(&v);
}

/* --- Atom --------------------------------------------------------------------------------- */

/* Appends s as XML character data: markup escaped, characters XML 1.0 forbids (controls, U+FFFE,
 * U+FFFF) dropped, invalid UTF-8 bytes as U+FFFD. */
static void xml_text(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s);
	for (size_t i = 0; i < len;) {
		unsigned char c = p[i];
		if (c >= 0x80) {
			size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			if (n > len - i || !utf8_valid(s + i, n)) {
				buf_puts(b, "\xef\xbf\xbd");
				i++;
				continue;
			}
			if (!(n == 3 && c == 0xef && p[i + 1] == 0xbf && p[i + 2] >= 0xbe))
				buf_append(b, s + i, n);
			i += n;
			continue;
		}
		switch (c) {
		case '<':
			buf_puts(b, "&lt;");
			break;
		case '>':
			buf_puts(b, "&gt;");
			break;
		case '&':
			buf_puts(b, "&amp;");
			break;
		case '"':
			buf_puts(b, "&quot;");
			break;
		default:
			if (c >= 0x20 || c == '\t' || c == '\n' || c == '\r')
				buf_putc(b, (char)c);
			break;
		}
		i++;
	}
}

static void xml_element(struct buf *b, const char *indent, const char *name, const char *attrs,
			const char *text)
{
	buf_printf(b, "%s<%s%s>", indent, name, attrs);
	xml_text(b, text);
	buf_printf(b, "</%s>\n", name);
}

static void xml_time(struct buf *b, const char *indent, const char *name, int64_t t)
{
	char iso[21];
	time_iso8601(t, iso);
	xml_element(b, indent, name, "", iso);
}

static void atom_begin(const char *feed_id, const char *title, int64_t now, struct buf *b)
{
	buf_puts(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		    "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
	xml_element(b, "  ", "id", "", feed_id);
	xml_element(b, "  ", "title", " type=\"text\"", title);
	xml_time(b, "  ", "updated", now);
	buf_puts(b, "  <author><name>veille</name></author>\n");
	buf_printf(b, "  <generator version=\"%s\">veille</generator>\n", VEILLE_VERSION);
}

static void atom_record(const struct store_record *r, struct buf *b)
{
	const char *link = r->link ? r->link : r->canonical_link;
	buf_puts(b, "  <entry>\n");
	/* The content hash identifies the story: the same item exported twice is one entry. */
	buf_puts(b, "    <id>urn:veille:item:");
	xml_text(b, r->hash ? r->hash : "");
	buf_puts(b, "</id>\n");
	xml_element(b, "    ", "title", " type=\"text\"", r->title ? r->title : "");
	if (link) {
		buf_puts(b, "    <link rel=\"alternate\" href=\"");
		xml_text(b, link);
		buf_puts(b, "\"/>\n");
	}
	if (r->canonical_link && link && strcmp(r->canonical_link, link) != 0) {
		buf_puts(b, "    <link rel=\"related\" href=\"");
		xml_text(b, r->canonical_link);
		buf_puts(b, "\"/>\n");
	}
	if (r->published != FEED_NO_DATE)
		xml_time(b, "    ", "published", r->published);
	xml_time(b, "    ", "updated", r->fetched);
	if (r->author) {
		buf_puts(b, "    <author>");
		xml_element(b, "", "name", "", r->author);
		b->len--; /* the newline xml_element ends with */
		buf_puts(b, "</author>\n");
	}
	for (size_t i = 0; i < r->nverdicts; i++) {
		const struct store_verdict *v = &r->verdicts[i];
		if (!v->relevant)
			continue;
		char label[32];
		snprintf(label, sizeof(label), " %.4f", v->score);
		buf_puts(b, "    <category scheme=\"urn:veille:topic\" term=\"");
		xml_text(b, v->topic);
		buf_puts(b, "\" label=\"");
		xml_text(b, v->topic);
		xml_text(b, label);
		buf_puts(b, "\"/>\n");
	}
	if (r->summary)
		xml_element(b, "    ", "summary", " type=\"text\"", r->summary);
	/* An entry without a link must have content (RFC 4287, 4.1.2). */
	if (r->content || !link)
		xml_element(b, "    ", "content", " type=\"text\"",
			    r->content	 ? r->content
			    : r->summary ? r->summary
					 : "");
	buf_puts(b, "  </entry>\n");
}

void export_begin(enum export_format f, const char *feed_id, const char *title, int64_t now,
		  struct buf *out)
{
	if (f == EXPORT_CSV) {
		for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
			if (i)
				buf_putc(out, ',');
			buf_puts(out, fields[i].name);
		}
		buf_puts(out, "\r\n");
	} else if (f == EXPORT_ATOM) {
		atom_begin(feed_id, title, now, out);
	}
}

void export_record(enum export_format f, const struct store_record *r, struct buf *out)
{
	switch (f) {
	case EXPORT_CSV:
		csv_record(r, out);
		break;
	case EXPORT_ATOM:
		atom_record(r, out);
		break;
	default:
		jsonl_record(r, out);
		break;
	}
}

void export_end(enum export_format f, struct buf *out)
{
	if (f == EXPORT_ATOM)
		buf_puts(out, "</feed>\n");
}

/* --- the nightly files -------------------------------------------------------------------- */

#define DATED_PREFIX "veille-"

char *export_dated_name(int year, int month, int day, unsigned seq, enum export_format f)
{
	if (seq == 0)
		return xasprintf(DATED_PREFIX "%04d-%02d-%02d.%s", year, month, day,
				 export_format_name(f));
	return xasprintf(DATED_PREFIX "%04d-%02d-%02d.%u.%s", year, month, day, seq,
			 export_format_name(f));
}

/* The date of a nightly file's name as "YYYY-MM-DD" in date[11], or false for any other name. */
static bool dated_file(const char *name, char date[11])
{
	size_t n = strlen(DATED_PREFIX);
	if (strncmp(name, DATED_PREFIX, n) != 0)
		return false;
	const char *p = name + n;
	static const char shape[] = "dddd-dd-dd";
	for (size_t i = 0; i < 10; i++)
		if (shape[i] == 'd' ? (p[i] < '0' || p[i] > '9') : p[i] != shape[i])
			return false;
	memcpy(date, p, 10);
	date[10] = '\0';
	const char *rest = p + 10;
	if (*rest != '.')
		return false;
	rest++;
	size_t digits = strspn(rest, "0123456789");
	if (digits && rest[digits] == '.')
		rest += digits + 1;
	enum export_format f;
	return export_format_parse(rest, &f) == 0;
}

int export_prune_dir(const char *dir, unsigned keep_days, int64_t now,
		     void (*removed)(const char *name, void *arg), void *arg)
{
	/* The first day kept: noon today minus keep_days - 1 days, normalised by mktime, so a
	 * daylight-saving change never shifts the date. */
	time_t t = (time_t)now;
	struct tm tm;
	if (!localtime_r(&t, &tm))
		return -EINVAL;
	tm.tm_hour = 12;
	tm.tm_min = tm.tm_sec = 0;
	tm.tm_mday -= (int)(keep_days - 1);
	tm.tm_isdst = -1;
	if (mktime(&tm) == (time_t)-1)
		return -EINVAL;
	char first[48];
	snprintf(first, sizeof(first), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday);

	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	int n = 0, r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char date[11];
		struct stat st;
		if (!strncmp(de->d_name, EXPORT_TMP_PREFIX, strlen(EXPORT_TMP_PREFIX))) {
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(st.st_mode) || (int64_t)st.st_mtime > now - EXPORT_TMP_STALE)
				continue;
		} else if (keep_days == 0 || !dated_file(de->d_name, date) ||
			   strcmp(date, first) >= 0) {
			continue;
		}
		if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
			r = -errno;
			break;
		}
		n++;
		if (removed)
			removed(de->d_name, arg);
	}
	closedir(d);
	return r < 0 ? r : n;
}
