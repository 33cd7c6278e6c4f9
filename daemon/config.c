/*
 * config.c - the INI configuration.
 *
 * Format: "[section]" or "[kind NAME]" headers, "key = value" lines, comments starting with ';' or
 * '#' (also after a value when preceded by white space). Debian's inih is built with a 200-byte
 * line limit that truncates long feed URLs and then miscounts lines, so this small parser reads the
 * file itself: every problem is reported as "FILE:LINE: message" and parsing goes on, so one run of
 * `veilled --check` lists them all.
 */
#include "config.h"

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "util.h"

#define CONFIG_MAX_SIZE (4u << 20)

enum section { SEC_NONE, SEC_VEILLE, SEC_FEED, SEC_TOPIC, SEC_RETENTION, SEC_EXPORT };

struct parser {
	struct config *c;
	struct buf errors;
	int nerrors;
	enum section sec;
	int line;
	/* raw topic reference patterns, one per topic, resolved after parsing */
	char **topic_refs;
	int *topic_ref_line;
};

static void perr(struct parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void perr(struct parser *p, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		buf_printf(&p->errors, "%s:%d: %s\n", p->c->path, line, msg);
	else
		buf_printf(&p->errors, "%s: %s\n", p->c->path, msg);
	p->nerrors++;
}

/* Resolves path against the configuration's folder; returns a new string. */
static char *resolve(const struct config *c, const char *path)
{
	if (path[0] == '/')
		return xstrdup(path);
	return xasprintf("%s/%s", c->dir, path);
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= VEILLE_MAX_NAME)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

static bool http_url(const char *u)
{
	size_t n = strlen(u);
	if (n >= VEILLE_MAX_URL)
		return false;
	const char *rest;
	if (strncasecmp(u, "http://", 7) == 0)
		rest = u + 7;
	else if (strncasecmp(u, "https://", 8) == 0)
		rest = u + 8;
	else
		return false;
	if (*rest == '\0' || *rest == '/')
		return false;
	for (const char *q = u; *q; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return false;
	return true;
}

static int set_duration(struct parser *p, const char *key, const char *v, int64_t *out)
{
	int64_t s;
	if (parse_duration(v, &s) < 0 || s <= 0) {
		perr(p, p->line, "%s: '%s' is not a duration (e.g. 90s, 15m, 2h, 1d)", key, v);
		return -EINVAL;
	}
	*out = s;
	return 0;
}

static int set_uint(struct parser *p, const char *key, const char *v, uint64_t min, uint64_t max,
		    uint64_t *out)
{
	uint64_t u;
	if (parse_uint(v, min, max, &u) < 0) {
		perr(p, p->line, "%s: '%s' is not a whole number from %llu to %llu", key, v,
		     (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*out = u;
	return 0;
}

/* Sizes: a number of bytes with an optional K, M or G suffix (powers of 1024). */
static int set_size(struct parser *p, const char *key, const char *v, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	unsigned shift = 0;
	if (end == v || errno)
		goto bad;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	else if (*end != '\0')
		goto bad;
	if (shift && end[1] != '\0' && strcmp(end + 1, "B") != 0 && strcmp(end + 1, "iB") != 0)
		goto bad;
	if (n > (VEILLE_MAX_BODY_CEILING >> shift) || n == 0)
		goto bad;
	*out = (uint64_t)n << shift;
	return 0;
bad:
	perr(p, p->line, "%s: '%s' is not a size from 1 to 64M (bytes, or with K/M suffix)", key,
	     v);
	return -EINVAL;
}

static void key_veille(struct parser *p, const char *k, const char *v)
{
	struct config *c = p->c;
	uint64_t u;
	if (strcmp(k, "database") == 0) {
		free(c->database);
		c->database = resolve(c, v);
	} else if (strcmp(k, "aliases") == 0) {
		free(c->aliases);
		c->aliases = resolve(c, v);
		if (access(c->aliases, R_OK) < 0)
			perr(p, p->line, "aliases: cannot read '%s': %s", c->aliases,
			     strerror(errno));
	} else if (strcmp(k, "interval") == 0) {
		set_duration(p, k, v, &c->interval);
	} else if (strcmp(k, "min_interval") == 0) {
		set_duration(p, k, v, &c->min_interval);
	} else if (strcmp(k, "max_interval") == 0) {
		set_duration(p, k, v, &c->max_interval);
	} else if (strcmp(k, "timeout") == 0) {
		set_duration(p, k, v, &c->timeout);
	} else if (strcmp(k, "connect_timeout") == 0) {
		set_duration(p, k, v, &c->connect_timeout);
	} else if (strcmp(k, "max_body") == 0) {
		set_size(p, k, v, &c->max_body);
	} else if (strcmp(k, "max_connections") == 0) {
		if (set_uint(p, k, v, 1, 1024, &u) == 0)
			c->max_connections = (unsigned)u;
	} else if (strcmp(k, "max_host_connections") == 0) {
		if (set_uint(p, k, v, 1, 64, &u) == 0)
			c->max_host_connections = (unsigned)u;
	} else if (strcmp(k, "user_agent") == 0) {
		free(c->user_agent);
		c->user_agent = xstrdup(v);
	} else if (strcmp(k, "contact") == 0) {
		free(c->contact);
		c->contact = xstrdup(v);
	} else if (strcmp(k, "alerts") == 0) {
		if (strcmp(v, "auto") && strcmp(v, "journal") && strcmp(v, "syslog") &&
		    strcmp(v, "none"))
			perr(p, p->line, "alerts: '%s' is not one of auto, journal, syslog, none",
			     v);
		else {
			free(c->alerts);
			c->alerts = xstrdup(v);
		}
	} else {
		perr(p, p->line, "unknown key '%s' in [veille]", k);
	}
}

/* A duration, or "forever" (0). */
static void set_keep(struct parser *p, const char *key, const char *v, int64_t *out)
{
	int64_t s;
	if (strcmp(v, "forever") == 0)
		*out = 0;
	else if (parse_duration(v, &s) == 0 && s > 0)
		*out = s;
	else
		perr(p, p->line, "%s: '%s' is neither a duration (e.g. 90d) nor 'forever'", key, v);
}

static void key_retention(struct parser *p, const char *k, const char *v)
{
	if (strcmp(k, "relevant") == 0)
		set_keep(p, k, v, &p->c->keep_relevant);
	else if (strcmp(k, "irrelevant") == 0)
		set_keep(p, k, v, &p->c->keep_irrelevant);
	else
		perr(p, p->line, "unknown key '%s' in [retention]", k);
}

static void key_export(struct parser *p, const char *k, const char *v)
{
	struct config *c = p->c;
	uint64_t u;
	if (strcmp(k, "directory") == 0) {
		free(c->export_dir);
		c->export_dir = resolve(c, v);
	} else if (strcmp(k, "format") == 0) {
		if (strcmp(v, "jsonl") && strcmp(v, "csv") && strcmp(v, "atom")) {
			perr(p, p->line, "format: '%s' is not one of jsonl, csv, atom", v);
		} else {
			free(c->export_format);
			c->export_format = xstrdup(v);
		}
	} else if (strcmp(k, "relevant_only") == 0) {
		if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0)
			c->export_relevant = true;
		else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0)
			c->export_relevant = false;
		else
			perr(p, p->line, "relevant_only: '%s' is not yes or no", v);
	} else if (strcmp(k, "keep_days") == 0) {
		if (set_uint(p, k, v, 0, 36500, &u) == 0)
			c->export_keep_days = (unsigned)u;
	} else {
		perr(p, p->line, "unknown key '%s' in [export]", k);
	}
}

static void key_feed(struct parser *p, const char *k, const char *v)
{
	struct config_feed *f = &p->c->feeds[p->c->nfeeds - 1];
	if (strcmp(k, "url") == 0) {
		if (!http_url(v))
			perr(p, p->line, "url: '%s' is not an http:// or https:// URL", v);
		free(f->url);
		f->url = xstrdup(v);
	} else if (strcmp(k, "interval") == 0) {
		set_duration(p, k, v, &f->interval);
	} else {
		perr(p, p->line, "unknown key '%s' in [feed %s]", k, f->name);
	}
}

static void key_topic(struct parser *p, const char *k, const char *v)
{
	size_t i = p->c->ntopics - 1;
	struct config_topic *t = &p->c->topics[i];
	if (strcmp(k, "references") == 0) {
		free(p->topic_refs[i]);
		p->topic_refs[i] = xstrdup(v);
		p->topic_ref_line[i] = p->line;
	} else if (strcmp(k, "threshold") == 0) {
		char *end;
		errno = 0;
		double d = strtod(v, &end);
		if (end == v || *end || errno || !isfinite(d) || d <= 0 || d > 1) {
			perr(p, p->line, "threshold: '%s' is not a number in (0, 1]", v);
			t->threshold = 0; /* reported: not "missing" too */
		} else
			t->threshold = d;
	} else {
		perr(p, p->line, "unknown key '%s' in [topic %s]", k, t->name);
	}
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

static void section(struct parser *p, char *hdr)
{
	struct config *c = p->c;
	char *name = strpbrk(hdr, " \t");
	if (name) {
		*name++ = '\0';
		name = trim(name);
	}
	if (strcmp(hdr, "veille") == 0 && !name) {
		p->sec = SEC_VEILLE;
		return;
	}
	if (strcmp(hdr, "retention") == 0 && !name) {
		p->sec = SEC_RETENTION;
		return;
	}
	if (strcmp(hdr, "export") == 0 && !name) {
		p->sec = SEC_EXPORT;
		return;
	}
	p->sec = SEC_NONE;
	if (strcmp(hdr, "feed") != 0 && strcmp(hdr, "topic") != 0) {
		perr(p, p->line,
		     "unknown section [%s%s%s] (expected [veille], [retention], [export], [feed "
		     "NAME], "
		     "[topic NAME])",
		     hdr, name ? " " : "", name ? name : "");
		return;
	}
	if (!name || !valid_name(name)) {
		perr(p, p->line,
		     "[%s] needs a name of letters, digits, '-', '_' or '.' (at most %d)", hdr,
		     VEILLE_MAX_NAME - 1);
		return;
	}
	if (hdr[0] == 'f') {
		for (size_t i = 0; i < c->nfeeds; i++)
			if (strcmp(c->feeds[i].name, name) == 0) {
				perr(p, p->line, "feed '%s' is already defined at line %d", name,
				     c->feeds[i].line);
				return;
			}
		if (c->nfeeds >= VEILLE_MAX_FEEDS) {
			perr(p, p->line, "too many feeds (at most %d)", VEILLE_MAX_FEEDS);
			return;
		}
		c->feeds = xreallocarray(c->feeds, c->nfeeds + 1, sizeof(*c->feeds));
		c->feeds[c->nfeeds++] =
		    (struct config_feed){.name = xstrdup(name), .line = p->line};
		p->sec = SEC_FEED;
	} else {
		for (size_t i = 0; i < c->ntopics; i++)
			if (strcmp(c->topics[i].name, name) == 0) {
				perr(p, p->line, "topic '%s' is already defined at line %d", name,
				     c->topics[i].line);
				return;
			}
		if (c->ntopics >= VEILLE_MAX_TOPICS) {
			perr(p, p->line, "too many topics (at most %d)", VEILLE_MAX_TOPICS);
			return;
		}
		c->topics = xreallocarray(c->topics, c->ntopics + 1, sizeof(*c->topics));
		c->topics[c->ntopics] =
		    (struct config_topic){.name = xstrdup(name), .line = p->line, .threshold = -1};
		p->topic_refs = xreallocarray(p->topic_refs, c->ntopics + 1, sizeof(char *));
		p->topic_ref_line = xreallocarray(p->topic_ref_line, c->ntopics + 1, sizeof(int));
		p->topic_refs[c->ntopics] = NULL;
		p->topic_ref_line[c->ntopics] = 0;
		c->ntopics++;
		p->sec = SEC_TOPIC;
	}
}

/* Strips a comment: ';' or '#' at the start, or after white space. */
static void strip_comment(char *s)
{
	for (char *q = s; *q; q++)
		if ((*q == ';' || *q == '#') && (q == s || q[-1] == ' ' || q[-1] == '\t')) {
			*q = '\0';
			return;
		}
}

static void parse_line(struct parser *p, char *raw)
{
	strip_comment(raw);
	char *s = trim(raw);
	if (*s == '\0')
		return;
	if (*s == '[') {
		char *close = strchr(s, ']');
		if (!close || trim(close + 1)[0] != '\0') {
			perr(p, p->line, "malformed section header (expected [name])");
			p->sec = SEC_NONE;
			return;
		}
		*close = '\0';
		section(p, trim(s + 1));
		return;
	}
	char *eq = strchr(s, '=');
	if (!eq) {
		perr(p, p->line, "expected 'key = value' or '[section]'");
		return;
	}
	*eq = '\0';
	char *k = trim(s), *v = trim(eq + 1);
	if (*k == '\0') {
		perr(p, p->line, "missing key before '='");
		return;
	}
	if (*v == '\0') {
		perr(p, p->line, "%s: missing value", k);
		return;
	}
	switch (p->sec) {
	case SEC_VEILLE:
		key_veille(p, k, v);
		break;
	case SEC_FEED:
		key_feed(p, k, v);
		break;
	case SEC_TOPIC:
		key_topic(p, k, v);
		break;
	case SEC_RETENTION:
		key_retention(p, k, v);
		break;
	case SEC_EXPORT:
		key_export(p, k, v);
		break;
	case SEC_NONE:
		/* After a bad header the error was already reported; before any header, say so. */
		if (p->c->nfeeds == 0 && p->c->ntopics == 0)
			perr(p, p->line, "'%s' outside of any section", k);
		break;
	}
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Expands a topic's whitespace-separated reference patterns (globs) to readable files. */
static void resolve_references(struct parser *p, size_t i)
{
	struct config_topic *t = &p->c->topics[i];
	char *pat = p->topic_refs[i];
	int line = p->topic_ref_line[i];
	if (!pat) {
		perr(p, t->line, "[topic %s] has no 'references ='", t->name);
		return;
	}
	for (char *save = NULL, *w = strtok_r(pat, " \t", &save); w;
	     w = strtok_r(NULL, " \t", &save)) {
		char *full = resolve(p->c, w);
		glob_t g;
		int r = glob(full, GLOB_NOSORT, NULL, &g);
		if (r == GLOB_NOMATCH) {
			perr(p, line, "references: '%s' matches no file", full);
		} else if (r != 0) {
			perr(p, line, "references: cannot expand '%s'", full);
		} else {
			for (size_t j = 0; j < g.gl_pathc; j++) {
				if (access(g.gl_pathv[j], R_OK) < 0) {
					perr(p, line, "references: cannot read '%s': %s",
					     g.gl_pathv[j], strerror(errno));
					continue;
				}
				if (t->nreferences >= VEILLE_MAX_REFERENCES) {
					perr(p, line, "references: more than %d files",
					     VEILLE_MAX_REFERENCES);
					break;
				}
				t->references = xreallocarray(t->references, t->nreferences + 1,
							      sizeof(char *));
				t->references[t->nreferences++] = xstrdup(g.gl_pathv[j]);
			}
			globfree(&g);
		}
		free(full);
	}
	if (t->nreferences)
		qsort(t->references, t->nreferences, sizeof(char *), cmpstr);
}

static void defaults(struct config *c)
{
	c->interval = 15 * 60;
	c->timeout = 60;
	c->connect_timeout = 10;
	c->max_body = VEILLE_MAX_BODY;
	c->max_connections = 32;
	c->max_host_connections = 4;
	c->keep_relevant = 0; /* forever */
	c->keep_irrelevant = 90 * 86400;
	c->export_keep_days = 30;
}

static void finish(struct parser *p)
{
	struct config *c = p->c;
	if (!c->database) {
		const char *sd = getenv("STATE_DIRECTORY");
		c->database = sd && *sd ? xasprintf("%s/veille.db", sd)
					: xstrdup("/var/lib/veille/veille.db");
	}
	if (!c->alerts)
		c->alerts = xstrdup("auto");
	if (!c->export_format)
		c->export_format = xstrdup("jsonl");
	if (!c->export_dir) {
		/* Beside the database: under systemd, in the state folder both units share. */
		const char *slash = strrchr(c->database, '/');
		c->export_dir =
		    !slash ? xstrdup("exports")
		    : slash == c->database
			? xstrdup("/exports")
			: xasprintf("%.*s/exports", (int)(slash - c->database), c->database);
	}
	if (!c->min_interval)
		c->min_interval = c->interval < 300 ? c->interval : 300;
	if (!c->max_interval)
		c->max_interval = c->interval > 6 * 3600 ? c->interval : 6 * 3600;
	if (c->min_interval > c->max_interval)
		perr(p, 0, "min_interval is longer than max_interval");
	if (c->nfeeds == 0)
		perr(p, 0, "no [feed NAME] section: nothing to watch");
	for (size_t i = 0; i < c->nfeeds; i++) {
		struct config_feed *f = &c->feeds[i];
		if (!f->url)
			perr(p, f->line, "[feed %s] has no 'url ='", f->name);
		if (!f->interval)
			f->interval = c->interval;
	}
	for (size_t i = 0; i < c->ntopics; i++) {
		resolve_references(p, i);
		if (c->topics[i].threshold < 0)
			perr(p, c->topics[i].line, "[topic %s] has no 'threshold ='",
			     c->topics[i].name);
	}
}

struct config *config_load(const char *path, char **ret_errors)
{
	struct config *c = xcalloc(1, sizeof(*c));
	struct parser p = {.c = c};
	char *data = NULL;
	size_t len = 0;
	defaults(c);
	char abspath[PATH_MAX];
	c->path = xstrdup(realpath(path, abspath) ? abspath : path);
	char *slash = strrchr(c->path, '/');
	c->dir = slash ? xstrndup(c->path, (size_t)(slash - c->path)) : xstrdup(".");
	if (c->dir[0] == '\0') {
		free(c->dir);
		c->dir = xstrdup("/");
	}
	int r = read_file(path, CONFIG_MAX_SIZE, &data, &len);
	if (r < 0) {
		perr(&p, 0, "cannot read: %s", r == -EFBIG ? "file too large" : strerror(-r));
		goto out;
	}
	if (memchr(data, '\0', len)) {
		perr(&p, 0, "not a text file (NUL byte)");
		goto out;
	}
	char *line = data;
	while (line && *line) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		p.line++;
		parse_line(&p, line);
		line = nl ? nl + 1 : NULL;
	}
	finish(&p);
out:
	free(data);
	for (size_t i = 0; i < c->ntopics; i++)
		free(p.topic_refs[i]);
	free(p.topic_refs);
	free(p.topic_ref_line);
	if (p.nerrors) {
		*ret_errors = buf_steal(&p.errors);
		config_free(c);
		return NULL;
	}
	buf_free(&p.errors);
	*ret_errors = NULL;
	return c;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nfeeds; i++) {
		free(c->feeds[i].name);
		free(c->feeds[i].url);
	}
	free(c->feeds);
	for (size_t i = 0; i < c->ntopics; i++) {
		free(c->topics[i].name);
		for (size_t j = 0; j < c->topics[i].nreferences; j++)
			free(c->topics[i].references[j]);
		free(c->topics[i].references);
	}
	free(c->topics);
	free(c->path);
	free(c->dir);
	free(c->database);
	free(c->aliases);
	free(c->user_agent);
	free(c->contact);
	free(c->alerts);
	free(c->export_dir);
	free(c->export_format);
	free(c);
}
