/*
 * veillectl.c - the operator's tool: parse, score, profile, feeds, items, search, stats, export,
 * import-opml.
 *
 * Output for people is a table; --json gives one JSON object per line for scripts (parse and
 * score always print JSON Lines, as the command-line contract says). Exit status: 0 success,
 * 1 runtime failure, 2 usage error. Errors go to stderr, one line each.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "config.h"
#include "export.h"
#include "feed.h"
#include "ingest.h"
#include "opml.h"
#include "store.h"
#include "text.h"
#include "topic.h"
#include "util.h"

#define DEFAULT_CONFIG VEILLE_CONFDIR "/veille.conf"
#define MAX_INPUT      (64u << 20)

static const char *config_path = DEFAULT_CONFIG;
static const char *progname = "veillectl";

/* The command being run, for messages ("see veillectl items --help"). */
static const char *command = NULL;

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: veillectl [-c FILE] COMMAND [ARGS]\n"
	    "  parse [--url URL] [--charset CS] FILE...\n"
	    "                                 feed documents to JSON Lines, one object per item\n"
	    "  score [--topic NAME] [FILE...] score plain-text articles (stdin when no FILE)\n"
	    "  profile [--topic NAME] [--json] a topic's derived terms by group\n"
	    "  feeds [--json]                 each feed's fetch state\n"
	    "  items [--since WHEN] [--relevant] [--limit N] [--json]\n"
	    "  search [--limit N] [--json] QUERY\n"
	    "  stats [--json]\n"
	    "  export [--since WHEN | --since-last] [--format jsonl|csv|atom] [--relevant-only]\n"
	    "         [--output FILE | --nightly]\n"
	    "  import-opml [--dry-run] [--json] FILE\n"
	    "  rescore [--topic NAME] [--alert]\n"
	    "WHEN: an ISO-8601 date or time, or a duration back from now (24h, 7d).\n"
	    "-c FILE: configuration (default " DEFAULT_CONFIG ").\n"
	    "veillectl COMMAND --help: that command's options.\n"
	    "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", progname);
	fprintf(stderr, fmt, arg);
	if (command)
		fprintf(stderr, " (see veillectl %s --help)\n", command);
	else
		fprintf(stderr, " (see veillectl --help)\n");
	return 2;
}

static void emit(struct buf *b)
{
	buf_putc(b, '\n');
	fwrite(b->p, 1, b->len, stdout);
	buf_reset(b);
}

static void put_key(struct buf *b, const char *key, bool first)
{
	if (!first)
		buf_putc(b, ',');
	json_put_string(b, key);
	buf_putc(b, ':');
}

static void put_str(struct buf *b, const char *key, const char *val)
{
	put_key(b, key, false);
	json_put_string(b, val);
}

static void put_time(struct buf *b, const char *key, int64_t t, bool known)
{
	put_key(b, key, false);
	if (!known) {
		buf_puts(b, "null");
		return;
	}
	char iso[21];
	time_iso8601(t, iso);
	json_put_string(b, iso);
}

static struct config *load_config(void)
{
	char *errors = NULL;
	struct config *c = config_load(config_path, &errors);
	if (!c) {
		fputs(errors, stderr);
		free(errors);
	}
	return c;
}

/* --- parse ------------------------------------------------------------------------------- */

static int cmd_parse(int argc, char **argv)
{
	/* --url: the address the documents came from, against which relative links resolve, as the
	 * daemon resolves them against the URL it fetched; --charset: an HTTP Content-Type charset.
	 */
	static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
					     {"charset", required_argument, NULL, 'C'},
					     {NULL, 0, NULL, 0}};
	const char *url = NULL, *charset = NULL;
	int ch;
	while ((ch = getopt_long(argc, argv, "u:C:", opts, NULL)) != -1) {
		if (ch == 'u')
			url = optarg;
		else if (ch == 'C')
			charset = optarg;
		else
			return 2;
	}
	if (optind == argc)
		return usage_error("parse: %s", "needs at least one FILE");
	int rc = 0;
	struct buf b = {0};
	for (int i = optind; i < argc; i++) {
		char *data;
		size_t len;
		int r = read_file(argv[i], VEILLE_MAX_BODY_CEILING, &data, &len);
		if (r < 0) {
			fprintf(stderr, "%s: %s: %s\n", progname, argv[i],
				r == -EFBIG ? "file too large" : strerror(-r));
			rc = 1;
			continue;
		}
		struct feed_doc *doc;
		char err[256];
		if (feed_parse(data, len, url, charset, &doc, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: %s: %s\n", progname, argv[i], err);
			free(data);
			rc = 1;
			continue;
		}
		for (size_t k = 0; k < doc->nitems; k++) {
			const struct feed_item *it = &doc->items[k];
			buf_putc(&b, '{');
			put_key(&b, "source", true);
			json_put_string(&b, argv[i]);
			put_str(&b, "id", it->id);
			put_str(&b, "link", it->link);
			put_str(&b, "title", it->title);
			put_time(&b, "published", it->published, it->published != FEED_NO_DATE);
			put_str(&b, "author", it->author);
			put_str(&b, "summary", it->summary);
			put_str(&b, "content", it->content);
			buf_putc(&b, '}');
			emit(&b);
		}
		if (doc->recovered)
			fprintf(stderr,
				"%s: %s: broken XML, %zu items recovered before the damage\n",
				progname, argv[i], doc->nitems);
		feed_doc_free(doc);
		free(data);
	}
	buf_free(&b);
	return rc;
}

/* --- score and profile ------------------------------------------------------------------- */

/* Finds the topic named name, or every topic when name is NULL. */
static int pick_topics(const struct topics *all, const char *name, size_t *ret_first,
		       size_t *ret_count)
{
	if (all->n == 0) {
		fprintf(stderr, "%s: %s: no [topic NAME] in the configuration\n", progname,
			config_path);
		return -ENOENT;
	}
	if (!name) {
		*ret_first = 0;
		*ret_count = all->n;
		return 0;
	}
	for (size_t i = 0; i < all->n; i++)
		if (strcmp(topic_name(all->v[i]), name) == 0) {
			*ret_first = i;
			*ret_count = 1;
			return 0;
		}
	fprintf(stderr, "%s: %s: no topic named '%s'\n", progname, config_path, name);
	return -ENOENT;
}

static int load_topics(struct config **ret_c, struct topics *ret_t)
{
	struct config *c = load_config();
	if (!c)
		return -EINVAL;
	char *err = NULL;
	if (topics_build(c, ret_t, &err) < 0) {
		fprintf(stderr, "%s: %s\n", progname, err);
		free(err);
		config_free(c);
		return -EINVAL;
	}
	/* Weigh terms as the daemon does now: with the corpus's document frequencies when its
	 * database exists (the reference weights alone before any corpus). */
	if (access(c->database, F_OK) == 0) {
		struct store *s = store_open(c->database, true, &err);
		if (!s)
			fprintf(stderr, "%s: %s; scoring with the reference weights alone\n",
				progname, err ? err : c->database); /* err names the file */
		else if (topics_load_background(s, ret_t, false) < 0)
			fprintf(stderr, "%s: %s: %s; scoring with the reference weights alone\n",
				progname, c->database, store_errmsg(s));
		free(err);
		store_close(s);
	}
	*ret_c = c;
	return 0;
}

/*
 * A plain-text article's title is its first line when a blank line follows it and it is short
 * (how articles are saved as text, and how the reference articles are written); the rest is the
 * body. A "date ..." first line (the reference articles' header) is skipped.
 */
static void split_article(char *text, const char **ret_title, const char **ret_body)
{
	char *p = text;
	if (strncmp(p, "date ", 5) == 0 && strchr(p, '\n'))
		p = strchr(p, '\n') + 1;
	while (*p == '\n' || *p == '\r' || *p == ' ')
		p++;
	char *nl = strchr(p, '\n');
	*ret_title = NULL;
	*ret_body = p;
	if (nl && (size_t)(nl - p) <= 300) {
		char *q = nl + 1;
		if (*q == '\r')
			q++;
		if (*q == '\n') {
			*nl = '\0';
			if (nl > p && nl[-1] == '\r')
				nl[-1] = '\0';
			*ret_title = p;
			*ret_body = q + 1;
		}
	}
}

static int score_one(const struct topics *t, size_t first, size_t count, const char *source,
		     char *text, struct buf *b)
{
	const char *title, *body;
	split_article(text, &title, &body);
	for (size_t i = first; i < first + count; i++) {
		struct topic_verdict v;
		topic_score(t->v[i], title, body, &v);
		buf_putc(b, '{');
		put_key(b, "source", true);
		json_put_string(b, source);
		put_str(b, "topic", topic_name(t->v[i]));
		put_key(b, "score", false);
		buf_printf(b, "%.4f", v.score);
		put_key(b, "relevant", false);
		buf_puts(b, v.relevant ? "true" : "false");
		put_key(b, "terms", false);
		buf_putc(b, '[');
		for (size_t k = 0; k < v.nterms; k++) {
			buf_puts(b, k ? ",[" : "[");
			json_put_string(b, v.terms[k].term);
			buf_printf(b, ",%.4f]", v.terms[k].weight);
		}
		buf_puts(b, "]}");
		emit(b);
	}
	return 0;
}

static int cmd_score(int argc, char **argv)
{
	static const struct option opts[] = {{"topic", required_argument, NULL, 't'},
					     {NULL, 0, NULL, 0}};
	const char *topic = NULL;
	int ch;
	while ((ch = getopt_long(argc, argv, "t:", opts, NULL)) != -1) {
		if (ch == 't')
			topic = optarg;
		else
			return 2;
	}
	struct config *c;
	struct topics t;
	size_t first, count;
	if (load_topics(&c, &t) < 0)
		return 1;
	int rc = 0;
	struct buf b = {0};
	if (pick_topics(&t, topic, &first, &count) < 0) {
		rc = 1;
		goto out;
	}
	if (optind == argc) {
		char *data;
		int r = read_file("/dev/stdin", MAX_INPUT, &data, NULL);
		if (r < 0) {
			fprintf(stderr, "%s: stdin: %s\n", progname, strerror(-r));
			rc = 1;
			goto out;
		}
		score_one(&t, first, count, "-", data, &b);
		free(data);
	}
	for (int i = optind; i < argc; i++) {
		char *data;
		int r = read_file(argv[i], MAX_INPUT, &data, NULL);
		if (r < 0) {
			fprintf(stderr, "%s: %s: %s\n", progname, argv[i],
				r == -EFBIG ? "file too large" : strerror(-r));
			rc = 1;
			continue;
		}
		score_one(&t, first, count, argv[i], data, &b);
		free(data);
	}
out:
	buf_free(&b);
	topics_clear(&t);
	config_free(c);
	return rc;
}

struct profile_ctx {
	const char *topic;
	bool json;
	struct buf b;
};

static void profile_cb(const char *term, enum topic_group group, double weight, void *arg)
{
	struct profile_ctx *p = arg;
	if (p->json) {
		buf_putc(&p->b, '{');
		put_key(&p->b, "topic", true);
		json_put_string(&p->b, p->topic);
		put_str(&p->b, "group", topic_group_name(group));
		put_str(&p->b, "term", term);
		put_key(&p->b, "weight", false);
		buf_printf(&p->b, "%.6g}", weight);
		emit(&p->b);
	} else {
		printf("%-8s %-32s %8.4f\n", topic_group_name(group), term, weight);
	}
}

static int cmd_profile(int argc, char **argv)
{
	static const struct option opts[] = {{"topic", required_argument, NULL, 't'},
					     {"json", no_argument, NULL, 'j'},
					     {NULL, 0, NULL, 0}};
	const char *topic = NULL;
	struct profile_ctx p = {0};
	int ch;
	while ((ch = getopt_long(argc, argv, "t:j", opts, NULL)) != -1) {
		if (ch == 't')
			topic = optarg;
		else if (ch == 'j')
			p.json = true;
		else
			return 2;
	}
	if (optind != argc)
		return usage_error("profile: unexpected argument '%s'", argv[optind]);
	struct config *c;
	struct topics t;
	size_t first, count;
	if (load_topics(&c, &t) < 0)
		return 1;
	int rc = 0;
	if (pick_topics(&t, topic, &first, &count) < 0) {
		rc = 1;
	} else {
		for (size_t i = first; i < first + count; i++) {
			p.topic = topic_name(t.v[i]);
			if (!p.json)
				printf("# topic %s, threshold %.3f\n# %-6s %-32s %8s (share of "
				       "its group)\n",
				       p.topic, topic_threshold(t.v[i]), "group", "term", "weight");
			topic_profile(t.v[i], profile_cb, &p);
		}
	}
	buf_free(&p.b);
	topics_clear(&t);
	config_free(c);
	return rc;
}

/* --- store queries ----------------------------------------------------------------------- */

static struct store *open_store(struct config **ret_c)
{
	struct config *c = load_config();
	if (!c)
		return NULL;
	char *err = NULL;
	struct store *s = store_open(c->database, true, &err);
	if (!s) {
		/* err names the file */
		fprintf(stderr, "%s: %s\n", progname, err ? err : c->database);
		free(err);
		config_free(c);
		return NULL;
	}
	*ret_c = c;
	return s;
}

struct feeds_ctx {
	const struct config *c;
	bool json;
	struct buf b;
	struct store_feed *known; /* per configured feed; name NULL when never stored */
};

static void fmt_time(int64_t t, char out[21])
{
	if (t <= 0)
		snprintf(out, 21, "-");
	else
		time_iso8601(t, out);
}

static int feeds_collect_cb(const struct store_feed *f, void *arg)
{
	struct feeds_ctx *x = arg;
	for (size_t i = 0; i < x->c->nfeeds; i++)
		if (strcmp(x->c->feeds[i].name, f->name) == 0) {
			struct store_feed *k = &x->known[i];
			*k = *f;
			k->name = xstrdup(f->name);
			k->url = f->url ? xstrdup(f->url) : NULL;
			k->config_url = f->config_url ? xstrdup(f->config_url) : NULL;
			k->last_error = f->last_error ? xstrdup(f->last_error) : NULL;
			k->etag = k->last_modified = NULL;
		}
	return 0;
}

/* One feed as veillectl shows it: the stored state as veilled will use it. */
struct feed_view {
	const char *name;
	const char *url;	/* fetched: the configured one, or where it moved permanently */
	const char *config_url; /* configured */
	const char *state;	/* ok, failing, disabled, or new (never fetched) */
	const char *last_error;
	int64_t last_fetch, next_fetch;
	int status;
	uint64_t items;
	unsigned errors;
	double items_per_week;
	int64_t ttl; /* the feed's <ttl> in seconds, 0 when none */
};

/* Mirrors veilled's start-up: a state recorded for another configured URL starts afresh. */
static struct feed_view feed_view(const struct config_feed *cf, const struct store_feed *st)
{
	struct feed_view v = {
	    .name = cf->name, .url = cf->url, .config_url = cf->url, .items_per_week = -1};
	if (!st->name)
		v.state = "new";
	else if (!(st->config_url ? !strcmp(st->config_url, cf->url)
				  : st->url && !strcmp(st->url, cf->url))) {
		v.state = "new";
		v.items = st->items;
	} else {
		v.url = st->url ? st->url : cf->url;
		v.state = st->disabled	   ? "disabled"
			  : st->errors	   ? "failing"
			  : st->last_fetch ? "ok"
					   : "new";
		v.last_error = st->last_error;
		v.last_fetch = st->last_fetch;
		v.next_fetch = st->disabled ? 0 : st->next_fetch;
		v.status = st->last_status;
		v.items = st->items;
		v.errors = st->errors;
		v.items_per_week = st->items_per_week;
		v.ttl = st->ttl;
	}
	return v;
}

static void feed_json(struct buf *b, const struct feed_view *v)
{
	buf_putc(b, '{');
	put_key(b, "name", true);
	json_put_string(b, v->name);
	put_str(b, "url", v->url);
	put_str(b, "config_url", v->config_url);
	put_key(b, "moved", false);
	buf_puts(b, strcmp(v->url, v->config_url) ? "true" : "false");
	put_str(b, "state", v->state);
	put_time(b, "last_fetch", v->last_fetch, v->last_fetch > 0);
	put_key(b, "status", false);
	buf_printf(b, "%d", v->status);
	put_key(b, "items", false);
	buf_printf(b, "%llu", (unsigned long long)v->items);
	put_key(b, "errors", false);
	buf_printf(b, "%u", v->errors);
	put_str(b, "last_error", v->last_error);
	put_time(b, "next_fetch", v->next_fetch, v->next_fetch > 0);
	put_key(b, "items_per_week", false);
	if (v->items_per_week >= 0)
		buf_printf(b, "%.1f", v->items_per_week);
	else
		buf_puts(b, "null");
	put_key(b, "ttl", false);
	if (v->ttl > 0)
		buf_printf(b, "%lld", (long long)v->ttl);
	else
		buf_puts(b, "null");
	put_key(b, "disabled", false);
	buf_puts(b, strcmp(v->state, "disabled") ? "false}" : "true}");
	emit(b);
}

/* One line of fixed columns per feed, the URL last; a moved feed's configured URL and a failing
 * feed's last error on indented lines below it. */
static void feed_row(const struct feed_view *v, int namew)
{
	char last[21], next[21];
	fmt_time(v->last_fetch, last);
	if (!strcmp(v->state, "disabled"))
		snprintf(next, sizeof(next), "never");
	else if (v->next_fetch <= 0)
		snprintf(next, sizeof(next), "at start");
	else
		fmt_time(v->next_fetch, next);
	char status[8] = "-";
	if (v->status)
		snprintf(status, sizeof(status), "%d", v->status);
	printf("%-*s %-8s %4s %7llu %6u  %-20s  %-20s  %s\n", namew, v->name, v->state, status,
	       (unsigned long long)v->items, v->errors, last, next, v->url);
	if (strcmp(v->url, v->config_url))
		printf("%*s   moved permanently from %s\n", namew, "", v->config_url);
	if (v->last_error)
		printf("%*s   last error: %s\n", namew, "", v->last_error);
}

static int cmd_feeds(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct feeds_ctx x = {0};
	int ch;
	while ((ch = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (ch == 'j')
			x.json = true;
		else
			return 2;
	}
	if (optind != argc)
		return usage_error("feeds: unexpected argument '%s'", argv[optind]);
	struct config *c;
	struct store *s = open_store(&c);
	if (!s)
		return 1;
	x.c = c;
	x.known = xcalloc(c->nfeeds, sizeof(*x.known));
	int rc = 0;
	if (store_feeds_each(s, feeds_collect_cb, &x) < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, c->database, store_errmsg(s));
		rc = 1;
	}
	int namew = 4;
	for (size_t i = 0; i < c->nfeeds; i++)
		if ((int)strlen(c->feeds[i].name) > namew)
			namew = (int)strlen(c->feeds[i].name);
	if (namew > 40)
		namew = 40;
	if (!x.json && rc == 0)
		printf("%-*s %-8s %4s %7s %6s  %-20s  %-20s  %s\n", namew, "NAME", "STATE", "HTTP",
		       "ITEMS", "ERRORS", "LAST FETCH", "NEXT FETCH", "URL");
	for (size_t i = 0; rc == 0 && i < c->nfeeds; i++) {
		struct feed_view v = feed_view(&c->feeds[i], &x.known[i]);
		if (x.json)
			feed_json(&x.b, &v);
		else
			feed_row(&v, namew);
	}
	for (size_t i = 0; i < c->nfeeds; i++)
		store_feed_clear(&x.known[i]);
	free(x.known);
	buf_free(&x.b);
	store_close(s);
	config_free(c);
	return rc;
}

struct items_ctx {
	bool json;
	struct buf b;
	int64_t count;
};

static int items_cb(const struct store_row *r, void *arg)
{
	struct items_ctx *x = arg;
	x->count++;
	if (x->json) {
		buf_putc(&x->b, '{');
		put_key(&x->b, "id", true);
		buf_printf(&x->b, "%lld", (long long)r->id);
		put_str(&x->b, "feed", r->feed);
		put_str(&x->b, "guid", r->guid);
		put_str(&x->b, "link", r->link);
		put_str(&x->b, "title", r->title);
		put_str(&x->b, "author", r->author);
		put_time(&x->b, "published", r->published, r->published != FEED_NO_DATE);
		put_time(&x->b, "fetched", r->fetched, true);
		put_str(&x->b, "summary", r->summary);
		put_str(&x->b, "content", r->content);
		put_str(&x->b, "hash", r->hash);
		put_str(&x->b, "topic", r->topic);
		put_key(&x->b, "score", false);
		if (r->topic)
			buf_printf(&x->b, "%.4f", r->score);
		else
			buf_puts(&x->b, "null");
		put_key(&x->b, "relevant", false);
		buf_puts(&x->b, r->relevant ? "true" : "false");
		put_key(&x->b, "terms", false);
		buf_puts(&x->b, r->terms_json ? r->terms_json : "[]");
		put_key(&x->b, "story", false);
		buf_printf(&x->b, "%lld", (long long)r->story);
		put_key(&x->b, "story_size", false);
		buf_printf(&x->b, "%lld", (long long)r->story_size);
		put_key(&x->b, "revisions", false);
		buf_printf(&x->b, "%lld", (long long)r->revisions);
		put_time(&x->b, "updated", r->updated, r->updated != 0);
		buf_putc(&x->b, '}');
		emit(&x->b);
	} else {
		char when[21], score[8] = "-", story[48] = "-";
		if (x->count == 1)
			printf("%-20s %5s %c %-9s %-20s %s\n", "FETCHED", "SCORE", 'R', "STORY",
			       "FEED", "TITLE");
		time_iso8601(r->fetched, when);
		if (r->topic)
			snprintf(score, sizeof(score), "%.2f", r->score);
		/* The story column: "-" alone, else its id and size ("#12/3"). */
		if (r->story_size > 1)
			snprintf(story, sizeof(story), "#%lld/%lld", (long long)r->story,
				 (long long)r->story_size);
		printf("%-20s %5s %c %-9s %-20.20s %s%s\n", when, score, r->relevant ? '*' : ' ',
		       story, r->feed ? r->feed : "-", r->title ? r->title : "(untitled)",
		       r->revisions ? " (edited)" : "");
	}
	return 0;
}

static int run_items(struct store_query *q, bool json)
{
	struct config *c;
	struct store *s = open_store(&c);
	if (!s)
		return 1;
	struct items_ctx x = {.json = json};
	int rc = 0;
	if (store_items_each(s, q, items_cb, &x) < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, c->database, store_errmsg(s));
		rc = 1;
	}
	buf_free(&x.b);
	store_close(s);
	config_free(c);
	return rc;
}

static int cmd_items(int argc, char **argv, bool search)
{
	static const struct option opts[] = {{"since", required_argument, NULL, 's'},
					     {"relevant", no_argument, NULL, 'r'},
					     {"limit", required_argument, NULL, 'l'},
					     {"json", no_argument, NULL, 'j'},
					     {NULL, 0, NULL, 0}};
	struct store_query q = {0};
	bool json = false;
	uint64_t u;
	int64_t t;
	int ch;
	while ((ch = getopt_long(argc, argv, "s:rl:j", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (parse_when(optarg, now_unix(), &t) < 0)
				return usage_error("--since: '%s' is not a date, time or duration",
						   optarg);
			q.since = t;
			break;
		case 'r':
			q.relevant_only = true;
			break;
		case 'l':
			if (parse_uint(optarg, 1, INT64_MAX, &u) < 0)
				return usage_error("--limit: '%s' is not a positive number",
						   optarg);
			q.limit = (int64_t)u;
			break;
		case 'j':
			json = true;
			break;
		default:
			return 2;
		}
	}
	if (search) {
		if (optind + 1 != argc)
			return usage_error("search: %s", "needs exactly one QUERY");
		q.match = argv[optind];
	} else if (optind != argc) {
		return usage_error("items: unexpected argument '%s'", argv[optind]);
	}
	return run_items(&q, json);
}

/* --- export ------------------------------------------------------------------------------ */

/* The watermark: the largest item row id a --since-last export to a file has written, and the
 * last change of an item's record it has taken in (store_last_change: an edit, a topic finding it
 * relevant), so that an item stored before the last export and changed since is written again.
 * Relevant-only exports keep their own, so one never makes the other skip items. */
struct watermark_keys {
	const char *id, *change;
};
static const struct watermark_keys watermark_all = {"export.last_id", "export.last_change"};
static const struct watermark_keys watermark_relevant = {"export.last_id.relevant",
							 "export.last_change.relevant"};

/* Reads key's value into *ret (0 when absent). 0, or -1 with the error printed. */
static int watermark_get(struct store *s, const char *database, const char *key, int64_t *ret)
{
	char *v = NULL;
	uint64_t u = 0;
	int r = store_meta_get(s, key, &v);
	if (r < 0 && r != -ENOENT) {
		fprintf(stderr, "%s: %s: cannot read the export watermark: %s\n", progname,
			database, store_errmsg(s));
		return -1;
	}
	if (r == 0 && parse_uint(v, 0, INT64_MAX, &u) < 0) {
		fprintf(stderr, "%s: %s: export watermark %s '%s' is not a number\n", progname,
			database, key, v);
		free(v);
		return -1;
	}
	free(v);
	*ret = (int64_t)u;
	return 0;
}

static int watermark_set(struct store *s, const char *key, int64_t v)
{
	char text[24];
	snprintf(text, sizeof(text), "%lld", (long long)v);
	return store_meta_set(s, key, text);
}

/*
 * Moves chain's watermark to (id, change), read as (read_id, read_change) when the export began,
 * in one transaction: should another export have moved it meanwhile, never back from where that
 * one left it (the two files then share items).
 * Changes both chains have passed are forgotten. Returns 0, 1 when another export had moved it,
 * -1 on a database error (printed).
 */
static int watermark_advance(struct store *s, const char *database,
			     const struct watermark_keys *chain, int64_t read_id,
			     int64_t read_change, int64_t id, int64_t change)
{
	const struct watermark_keys *other =
	    chain == &watermark_all ? &watermark_relevant : &watermark_all;
	int64_t now_id = 0, now_change = 0, other_change = INT64_MAX;
	char *v = NULL;
	int r = store_begin(s);
	if (r == 0 && (watermark_get(s, database, chain->id, &now_id) < 0 ||
		       watermark_get(s, database, chain->change, &now_change) < 0)) {
		store_rollback(s);
		return -1;
	}
	if (r == 0) {
		/* A chain that has begun (its row id is kept) holds the changes it has not passed.
		 */
		r = store_meta_get(s, other->id, &v);
		free(v);
		if (r == 0 && watermark_get(s, database, other->change, &other_change) < 0) {
			store_rollback(s);
			return -1;
		}
		r = r == -ENOENT ? 0 : r;
	}
	/* Unmoved since this export read it, it may go back (a restored database: cmd_export). */
	bool moved = now_id != read_id || now_change != read_change;
	if (moved && id < now_id)
		id = now_id;
	if (moved && change < now_change)
		change = now_change;
	if (r == 0)
		r = watermark_set(s, chain->id, id);
	if (r == 0)
		r = watermark_set(s, chain->change, change);
	if (r == 0)
		r = store_changes_prune(s, change < other_change ? change : other_change);
	if (r == 0)
		r = store_commit(s);
	if (r < 0) {
		fprintf(stderr, "%s: %s: cannot save the export watermark: %s\n", progname,
			database, store_errmsg(s));
		store_rollback(s);
		return -1;
	}
	return moved ? 1 : 0;
}

struct export_ctx {
	enum export_format format;
	int fd;
	struct buf b;
	int64_t count;
	int64_t changed; /* of them, stored before the watermark and changed since */
	int64_t after_id;
	int err; /* -errno of a failed write */
};

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int export_flush(struct export_ctx *x)
{
	int r = write_all(x->fd, x->b.p, x->b.len);
	buf_reset(&x->b);
	if (r < 0 && !x->err)
		x->err = r;
	return r;
}

static int export_cb(const struct store_record *r, void *arg)
{
	struct export_ctx *x = arg;
	export_record(x->format, r, &x->b);
	x->count++;
	if (r->id <= x->after_id)
		x->changed++;
	if (x->b.len >= (64u << 10) && export_flush(x) < 0)
		return 1;
	return 0;
}

/* Makes what was written to dir (renames, new files) survive a crash. */
static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* Gives the finished export its dated name in dir, the first free one for today's local date;
 * never replaces a file. The file is fd: unnamed (O_TMPFILE) when tmp is NULL, linked into dir
 * through /proc; else named tmp, renamed. Returns the new path (new string) or NULL with errno
 * set. */
static char *publish_dated(const char *tmp, int fd, const char *dir, enum export_format f)
{
	time_t now = time(NULL);
	struct tm tm;
	if (!localtime_r(&now, &tm))
		return NULL;
	char proc[48];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	for (unsigned seq = 0; seq < 1000; seq++) {
		char *name =
		    export_dated_name(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, seq, f);
		char *path = xasprintf("%s/%s", dir, name);
		free(name);
		int r;
		if (!tmp) {
			/* A link never replaces a file: EEXIST moves on to the next name. */
			r = linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
		} else {
			r = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
			if (r < 0 && (errno == EINVAL || errno == ENOSYS)) {
				/* A file system without RENAME_NOREPLACE: check, then rename. */
				r = access(path, F_OK) == 0 ? (errno = EEXIST, -1)
							    : rename(tmp, path);
			}
		}
		if (r == 0)
			return path;
		int e = errno;
		free(path);
		if (e != EEXIST) {
			errno = e;
			return NULL;
		}
	}
	errno = EEXIST;
	return NULL;
}

static void removed_cb(const char *name, void *arg)
{
	bool stale = !strncmp(name, EXPORT_TMP_PREFIX, strlen(EXPORT_TMP_PREFIX));
	printf("removed %s/%s (%s)\n", (const char *)arg, name,
	       stale ? "a stale temporary file of an interrupted export"
		     : "older than the days kept");
}

/*
 * Serialises the exports that move a watermark: an exclusive lock (flock) on the file DATABASE
 * "-export" beside the database, created if need be, held until the export ends. A second such
 * export (the nightly timer and an operator's at once) waits for the first to end, then starts
 * from the watermark that one left: the two files never share an item. Waiting is said once.
 * Returns the descriptor holding the lock, or -1 when there is none (said why): the export then
 * runs without it, as the watermark never goes back (watermark_advance) and only its file may
 * repeat items.
 */
static int export_lock(const char *database)
{
	char *path = xasprintf("%s-export", database);
	/* Read-only (flock needs no more) and readable by all: whoever created it, root by hand
	 * or the service's user, the other can open it. Root gives it to the database's owner, as
	 * SQLite does with the files it makes beside a database. */
	int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		fprintf(stderr, "%s: %s: cannot open the export lock: %s; exporting without it\n",
			progname, path, strerror(errno));
		free(path);
		return -1;
	}
	struct stat db;
	if (geteuid() == 0 && stat(database, &db) == 0 && fchown(fd, db.st_uid, db.st_gid) < 0)
		fprintf(stderr, "%s: %s: cannot give the export lock to the database's owner: %s\n",
			progname, path, strerror(errno));
	int r = flock(fd, LOCK_EX | LOCK_NB);
	if (r < 0 && errno == EWOULDBLOCK) {
		fprintf(stderr, "%s: %s: another export is running, waiting for it to end\n",
			progname, database);
		while ((r = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
			;
	}
	if (r < 0) {
		fprintf(stderr, "%s: %s: cannot lock: %s; exporting without the lock\n", progname,
			path, strerror(errno));
		close(fd);
		fd = -1;
	}
	free(path);
	return fd;
}

static int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {{"since", required_argument, NULL, 's'},
					     {"since-last", no_argument, NULL, 'L'},
					     {"format", required_argument, NULL, 'f'},
					     {"relevant-only", no_argument, NULL, 'r'},
					     {"output", required_argument, NULL, 'o'},
					     {"nightly", no_argument, NULL, 'N'},
					     {NULL, 0, NULL, 0}};
	struct store_record_query q = {0};
	bool since = false, since_last = false, nightly = false, format_set = false;
	const char *output = NULL;
	struct export_ctx x = {.format = EXPORT_JSONL, .fd = STDOUT_FILENO};
	int ch;
	while ((ch = getopt_long(argc, argv, "s:Lf:ro:N", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (parse_when(optarg, now_unix(), &q.since) < 0)
				return usage_error("--since: '%s' is not a date, time or duration",
						   optarg);
			since = true;
			break;
		case 'L':
			since_last = true;
			break;
		case 'f':
			if (export_format_parse(optarg, &x.format) < 0)
				return usage_error("--format: '%s' is not jsonl, csv or atom",
						   optarg);
			format_set = true;
			break;
		case 'r':
			q.relevant_only = true;
			break;
		case 'o':
			output = optarg;
			break;
		case 'N':
			nightly = true;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc)
		return usage_error("export: unexpected argument '%s'", argv[optind]);
	if (since && since_last)
		return usage_error("export: %s", "--since and --since-last exclude each other");
	if (output && nightly)
		return usage_error("export: %s", "--output and --nightly exclude each other");

	struct config *c = load_config();
	if (!c)
		return 1;
	int rc = 1;
	struct store *s = NULL;
	char *tmp = NULL, *dir = NULL, *final = NULL, *err = NULL;
	int64_t wm_id = 0, wm_change = 0;
	int lock = -1;
	if (nightly) {
		if (!format_set)
			export_format_parse(c->export_format, &x.format);
		q.relevant_only = q.relevant_only || c->export_relevant;
		since_last = !since;
	}
	/* Only the --since-last chain written to files moves the watermark: ad-hoc exports never
	 * make the nightly one skip anything. */
	bool to_file = output || nightly;
	bool advance = to_file && since_last;
	const struct watermark_keys *chain = q.relevant_only ? &watermark_relevant : &watermark_all;
	if (access(c->database, F_OK) < 0) {
		fprintf(stderr, "%s: %s: no database (veilled creates it): %s\n", progname,
			c->database, strerror(errno));
		goto out;
	}
	if (advance)
		lock = export_lock(c->database);
	s = store_open(c->database, !advance, &err);
	if (!s) {
		fprintf(stderr, "%s: %s\n", progname, err ? err : c->database);
		goto out;
	}
	if (since_last) {
		if (watermark_get(s, c->database, chain->id, &wm_id) < 0 ||
		    watermark_get(s, c->database, chain->change, &wm_change) < 0)
			goto out;
		q.after_id = wm_id;
		q.changed_after = wm_change;
	}

	if (to_file) {
		if (nightly) {
			dir = xstrdup(c->export_dir);
			if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
				fprintf(stderr, "%s: %s: cannot create the export folder: %s\n",
					progname, dir, strerror(errno));
				goto out;
			}
			/* Unnamed until it is complete: an export killed half-way (a timeout, a
			 * crash) leaves nothing in the folder. Where the file system or /proc lacks
			 * what that needs, a named temporary file, swept when stale. */
			if (access("/proc/self/fd", X_OK) == 0)
				x.fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
			else
				x.fd = (errno = EOPNOTSUPP, -1);
			if (x.fd < 0 && errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL &&
			    errno != ENOENT) {
				fprintf(stderr, "%s: %s: cannot create a temporary file: %s\n",
					progname, dir, strerror(errno));
				goto out;
			}
			if (x.fd < 0)
				tmp = xasprintf("%s/" EXPORT_TMP_PREFIX "XXXXXX", dir);
		} else {
			const char *slash = strrchr(output, '/');
			dir = !slash		? xstrdup(".")
			      : slash == output ? xstrdup("/")
						: xstrndup(output, (size_t)(slash - output));
			tmp = xasprintf("%s/.%s.XXXXXX", dir, slash ? slash + 1 : output);
		}
		if (tmp) {
			x.fd = mkostemp(tmp, O_CLOEXEC);
			if (x.fd < 0) {
				fprintf(stderr, "%s: %s: cannot create a temporary file: %s\n",
					progname, dir, strerror(errno));
				free(tmp);
				tmp = NULL;
				goto out;
			}
			mode_t mask = umask(0);
			umask(mask);
			fchmod(x.fd, 0666 & ~mask);
		}
	}

	/* One snapshot: the items written and the watermark are the same state of the store. */
	int64_t last = 0, last_change = 0;
	int r = store_begin_read(s);
	if (r == 0)
		r = store_last_item_id(s, &last);
	if (r == 0)
		r = store_last_change(s, &last_change);
	if (r == 0 && q.after_id > last) {
		/* A database restored from an older copy: its next items get row ids below the
		 * watermark. Following the store, not the watermark, skips none of them. */
		fprintf(
		    stderr,
		    "%s: %s: the export watermark (%lld) is past the newest item (%lld), was the "
		    "database restored? Exporting from the newest item on\n",
		    progname, c->database, (long long)q.after_id, (long long)last);
		q.after_id = last;
	}
	if (r == 0 && since_last) {
		/* Changes past the newest: the same restored database; none is skipped. */
		if (q.changed_after > last_change)
			q.changed_after = last_change;
		q.changed_upto = last_change;
	}
	if (r == 0) {
		q.upto_id = last;
		x.after_id = q.after_id;
		export_begin(x.format,
			     q.relevant_only ? "urn:veille:export:relevant" : "urn:veille:export",
			     q.relevant_only ? "veille: relevant items" : "veille: stored items",
			     now_unix(), &x.b);
		r = store_records_each(s, &q, export_cb, &x);
	}
	store_commit(s);
	if (r < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, c->database, store_errmsg(s));
		goto out;
	}
	if (x.err == 0) {
		export_end(x.format, &x.b);
		export_flush(&x);
	}
	if (x.err) {
		fprintf(stderr, "%s: %s: cannot write: %s\n", progname,
			to_file ? tmp : "standard output", strerror(-x.err));
		goto out;
	}
	if (!to_file) {
		rc = 0;
		goto out;
	}
	/* Durable before visible, visible before the watermark moves: a crash at any point
	 * exports these items again, never skips them. */
	if (fsync(x.fd) < 0) {
		fprintf(stderr, "%s: %s: cannot write: %s\n", progname, tmp ? tmp : dir,
			strerror(errno));
		goto out;
	}
	if (nightly) {
		final = publish_dated(tmp, x.fd, dir, x.format);
	} else {
		final = xstrdup(output);
		if (rename(tmp, final) < 0) {
			free(final);
			final = NULL;
		}
	}
	if (!final) {
		fprintf(stderr, "%s: %s: cannot rename into place: %s\n", progname,
			nightly ? dir : output, strerror(errno));
		goto out;
	}
	int closed = close(x.fd);
	x.fd = -1;
	if (closed < 0) {
		fprintf(stderr, "%s: %s: cannot write: %s\n", progname, final, strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	if ((r = fsync_dir(dir)) < 0) {
		fprintf(stderr, "%s: %s: cannot sync the folder: %s\n", progname, dir,
			strerror(-r));
		goto out;
	}
	if (advance) {
		r = watermark_advance(s, c->database, chain, wm_id, wm_change, last, last_change);
		if (r < 0) {
			fprintf(stderr,
				"%s: %s: %s written, but the watermark was not saved: the next "
				"--since-last exports these items again\n",
				progname, c->database, final);
			goto out;
		}
		if (r > 0)
			fprintf(stderr,
				"%s: %s: another export moved the watermark while this one ran: "
				"%s repeats some of its items\n",
				progname, c->database, final);
	}
	if (x.changed)
		printf("exported %lld item%s (%lld stored before the last export and changed "
		       "since) to %s\n",
		       (long long)x.count, x.count == 1 ? "" : "s", (long long)x.changed, final);
	else
		printf("exported %lld item%s to %s\n", (long long)x.count, x.count == 1 ? "" : "s",
		       final);
	rc = 0;
	if (nightly) {
		r = export_prune_dir(dir, c->export_keep_days, now_unix(), removed_cb, dir);
		if (r < 0) {
			fprintf(stderr, "%s: %s: cannot remove old exports: %s\n", progname, dir,
				strerror(-r));
			rc = 1;
		}
	}
out:
	if (to_file && x.fd >= 0)
		close(x.fd);
	if (tmp)
		unlink(tmp);
	free(tmp);
	free(dir);
	free(final);
	free(err);
	buf_free(&x.b);
	store_close(s);
	if (lock >= 0)
		close(lock); /* after the watermark moved: the next export starts from it */
	config_free(c);
	return rc;
}

/* --- import-opml ------------------------------------------------------------------------- */

#define OPML_NAME_MAX 48 /* bytes of a derived feed name, before any -N suffix */

/* Folds s to a feed name: lower-case ASCII letters and digits, runs of anything else as one
 * '-', at most OPML_NAME_MAX bytes; "" when nothing is left. New string. */
static char *name_from(const char *s)
{
	char *folded = text_fold(s, strlen(s));
	struct buf b = {0};
	bool dash = false;
	for (const char *p = folded; *p && b.len < OPML_NAME_MAX; p++) {
		char ch = *p;
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
			if (dash && b.len)
				buf_putc(&b, '-');
			buf_putc(&b, ch);
			dash = false;
		} else {
			dash = true;
		}
	}
	free(folded);
	return buf_steal(&b);
}

/* The host of an http(s) URL without "www.", as a name (new string, maybe ""). */
static char *name_from_host(const char *url)
{
	const char *h = strstr(url, "://");
	h = h ? h + 3 : url;
	size_t n = strcspn(h, "/?#:@");
	if (h[n] == '@') { /* user info */
		h += n + 1;
		n = strcspn(h, "/?#:");
	}
	char *host = xstrndup(h, n);
	char *name = name_from(strncmp(host, "www.", 4) == 0 ? host + 4 : host);
	free(host);
	return name;
}

struct names {
	char **v;
	size_t n;
};

static bool names_has(const struct names *ns, const char *name)
{
	for (size_t i = 0; i < ns->n; i++)
		if (strcmp(ns->v[i], name) == 0)
			return true;
	return false;
}

static void names_add(struct names *ns, const char *name)
{
	ns->v = xreallocarray(ns->v, ns->n + 1, sizeof(*ns->v));
	ns->v[ns->n++] = xstrdup(name);
}

static void names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
}

/* A valid name for feed f not in taken: from its title, else its host, made unique with -2, -3...
 */
static char *derive_name(const struct opml_feed *f, const struct names *taken)
{
	char *base = f->title ? name_from(f->title) : xstrdup("");
	if (!*base) {
		free(base);
		base = name_from_host(f->url);
	}
	if (!*base) {
		free(base);
		base = xstrdup("feed");
	}
	char *name = xstrdup(base);
	for (unsigned k = 2; names_has(taken, name); k++) {
		free(name);
		name = xasprintf("%s-%u", base, k);
	}
	free(base);
	return name;
}

static bool http_url(const char *u)
{
	if (strncasecmp(u, "http://", 7) != 0 && strncasecmp(u, "https://", 8) != 0)
		return false;
	const char *rest = strstr(u, "://") + 3;
	if (*rest == '\0' || *rest == '/')
		return false;
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

/* One line of a comment: control characters (a title's line breaks) become spaces. */
static void put_comment_text(struct buf *b, const char *s)
{
	for (; *s; s++)
		buf_putc(b, (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
}

/* Writes text to path through a temporary file in the same folder: fsync, rename, fsync the
 * folder. The new file keeps the old one's mode and, when allowed, its owner. */
static int replace_file(const char *path, const char *text, size_t len, char **ret_tmp)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
	if (!*dir) {
		free(dir);
		dir = xstrdup("/");
	}
	char *tmp = xasprintf("%s/.%s.XXXXXX", dir, slash ? slash + 1 : path);
	int r = 0;
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (fchmod(fd, st.st_mode & 07777) < 0 || write_all(fd, text, len) < 0 || fsync(fd) < 0)
		r = -errno;
	if (fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EPERM && r == 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && ret_tmp) {
		/* The caller validates the new text where it will live before it replaces the old.
		 */
		*ret_tmp = tmp;
		tmp = NULL;
		goto out;
	}
out:
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	free(dir);
	return r;
}

static int commit_file(const char *tmp, const char *path)
{
	if (rename(tmp, path) < 0)
		return -errno;
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
	int r = fsync_dir(*dir ? dir : "/");
	free(dir);
	return r;
}

static void opml_report(bool json, const char *status, const struct opml_feed *f, const char *name,
			const char *why)
{
	if (json) {
		struct buf b = {0};
		buf_putc(&b, '{');
		put_key(&b, "status", true);
		json_put_string(&b, status);
		put_str(&b, "name", name);
		put_str(&b, "url", f->url);
		put_str(&b, "title", f->title);
		put_key(&b, "line", false);
		buf_printf(&b, "%d", f->line);
		put_str(&b, "reason", why);
		buf_putc(&b, '}');
		emit(&b);
		buf_free(&b);
	} else if (name && !why) {
		printf("added   %-32s %s\n", name, f->url);
	} else {
		printf("skipped %-32s %s (%s)\n", name ? name : "-", f->url, why);
	}
}

static int cmd_import_opml(int argc, char **argv)
{
	static const struct option opts[] = {{"dry-run", no_argument, NULL, 'n'},
					     {"json", no_argument, NULL, 'j'},
					     {NULL, 0, NULL, 0}};
	bool dry = false, json = false;
	int ch;
	while ((ch = getopt_long(argc, argv, "nj", opts, NULL)) != -1) {
		if (ch == 'n')
			dry = true;
		else if (ch == 'j')
			json = true;
		else
			return 2;
	}
	if (optind + 1 != argc)
		return usage_error("import-opml: %s", "needs exactly one FILE");
	const char *file = argv[optind];
	struct config *c = load_config();
	if (!c)
		return 1;
	int rc = 1;
	char *data = NULL, *conf_text = NULL, *tmp = NULL;
	struct opml_feed *feeds = NULL;
	size_t nfeeds = 0, conf_len = 0, added = 0;
	struct names taken = {0}, urls = {0};
	struct buf out = {0};
	char err[320];
	size_t len = 0;
	int r = read_file(file, VEILLE_MAX_BODY_CEILING, &data, &len);
	if (r < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, file,
			r == -EFBIG ? "file too large" : strerror(-r));
		goto out;
	}
	/* Its length, not strlen: a UTF-16 file holds NUL bytes. */
	if (opml_parse(data, len, &feeds, &nfeeds, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, file, err);
		goto out;
	}
	if ((r = read_file(c->path, 4u << 20, &conf_text, &conf_len)) < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, c->path, strerror(-r));
		goto out;
	}
	for (size_t i = 0; i < c->nfeeds; i++) {
		names_add(&taken, c->feeds[i].name);
		names_add(&urls, c->feeds[i].url);
	}
	buf_append(&out, conf_text, conf_len);
	if (conf_len && conf_text[conf_len - 1] != '\n')
		buf_putc(&out, '\n');
	char today[21];
	time_iso8601(now_unix(), today);
	today[10] = '\0';
	for (size_t i = 0; i < nfeeds; i++) {
		const struct opml_feed *f = &feeds[i];
		if (!http_url(f->url) || strlen(f->url) >= VEILLE_MAX_URL) {
			opml_report(json, "skipped", f, NULL, "not an http:// or https:// URL");
			continue;
		}
		size_t k;
		for (k = 0; k < urls.n; k++)
			if (strcmp(urls.v[k], f->url) == 0)
				break;
		if (k < urls.n) {
			opml_report(json, "exists", f, k < c->nfeeds ? c->feeds[k].name : NULL,
				    k < c->nfeeds ? "already configured" : "twice in the file");
			continue;
		}
		if (c->nfeeds + added >= VEILLE_MAX_FEEDS) {
			opml_report(json, "skipped", f, NULL, "too many feeds");
			continue;
		}
		char *name = derive_name(f, &taken);
		if (added == 0)
			buf_printf(&out,
				   "\n; --- imported from %s by veillectl import-opml, %s ---\n",
				   file, today);
		buf_puts(&out, "\n");
		if (f->title) {
			buf_puts(&out, "; ");
			put_comment_text(&out, f->title);
			buf_putc(&out, '\n');
		}
		buf_printf(&out, "[feed %s]\nurl = %s\n", name, f->url);
		names_add(&taken, name);
		names_add(&urls, f->url);
		opml_report(json, "added", f, name, NULL);
		free(name);
		added++;
	}
	if (added == 0 || dry) {
		if (!json)
			printf("%zu feed%s %s %s\n", added, added == 1 ? "" : "s",
			       dry ? "would be added to" : "added to", c->path);
		rc = 0;
		goto out;
	}
	/* Validate the whole new file where it will live, then swap it in. */
	if ((r = replace_file(c->path, out.p, out.len, &tmp)) < 0) {
		fprintf(stderr, "%s: %s: cannot write: %s\n", progname, c->path, strerror(-r));
		goto out;
	}
	char *errors = NULL;
	struct config *check = config_load(tmp, &errors);
	if (!check) {
		fprintf(stderr, "%s: %s: the new configuration would not load, left unchanged: %s",
			progname, c->path, errors);
		free(errors);
		goto out;
	}
	config_free(check);
	if ((r = commit_file(tmp, c->path)) < 0) {
		fprintf(stderr, "%s: %s: cannot replace: %s\n", progname, c->path, strerror(-r));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	if (!json)
		printf("%zu feed%s added to %s; reload veilled to fetch them "
		       "(systemctl reload veilled)\n",
		       added, added == 1 ? "" : "s", c->path);
	rc = 0;
out:
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	buf_free(&out);
	names_free(&taken);
	names_free(&urls);
	opml_feeds_free(feeds, nfeeds);
	free(data);
	free(conf_text);
	config_free(c);
	return rc;
}

static int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	bool json = false;
	int ch;
	while ((ch = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (ch == 'j')
			json = true;
		else
			return 2;
	}
	if (optind != argc)
		return usage_error("stats: unexpected argument '%s'", argv[optind]);
	struct config *c;
	struct store *s = open_store(&c);
	if (!s)
		return 1;
	struct store_stats st;
	int rc = 0;
	if (store_stats(s, &st) < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, c->database, store_errmsg(s));
		rc = 1;
	} else if (json) {
		printf("{\"feeds\":%lld,\"items\":%lld,\"relevant\":%lld,\"sources\":%lld,"
		       "\"alerts_sent\":%lld,\"alerts_pending\":%lld}\n",
		       (long long)st.feeds, (long long)st.items, (long long)st.relevant,
		       (long long)st.sources, (long long)st.alerts_sent,
		       (long long)st.alerts_pending);
	} else {
		printf("feeds           %lld\nitems           %lld\nrelevant        %lld\n"
		       "sources         %lld\nalerts sent     %lld\nalerts pending  %lld\n",
		       (long long)st.feeds, (long long)st.items, (long long)st.relevant,
		       (long long)st.sources, (long long)st.alerts_sent,
		       (long long)st.alerts_pending);
	}
	store_close(s);
	config_free(c);
	return rc;
}

/* --- rescore ------------------------------------------------------------------------------ */

static void rescore_cb(const struct ingest_change *c, void *arg)
{
	(void)arg;
	if (c->was_relevant == c->relevant)
		return; /* score moves are counted, relevance changes are listed */
	const char *was = !c->had_verdict ? "new" : c->was_relevant ? "relevant" : "not relevant";
	printf("item %lld %s: %s %.4f -> %s %.4f%s  %s\n", (long long)c->item_id, c->topic, was,
	       c->old_score, c->relevant ? "relevant" : "not relevant", c->score,
	       c->alert_queued ? " (alert queued)" : "", c->title ? c->title : "");
}

static int cmd_rescore(int argc, char **argv)
{
	static const struct option opts[] = {{"topic", required_argument, NULL, 't'},
					     {"alert", no_argument, NULL, 'a'},
					     {NULL, 0, NULL, 0}};
	const char *topic = NULL;
	bool alert = false;
	int ch;
	while ((ch = getopt_long(argc, argv, "t:a", opts, NULL)) != -1) {
		if (ch == 't')
			topic = optarg;
		else if (ch == 'a')
			alert = true;
		else
			return 2;
	}
	if (optind != argc)
		return usage_error("rescore: unexpected argument '%s'", argv[optind]);
	struct config *c;
	struct topics t;
	size_t first, count;
	if (load_topics(&c, &t) < 0)
		return 1;
	int rc = 1;
	char *err = NULL;
	struct store *s = NULL;
	if (pick_topics(&t, topic, &first, &count) < 0)
		goto out;
	/* Written to: opened read-write (and migrated) like the daemon does. */
	s = store_open(c->database, false, &err);
	if (!s) {
		fprintf(stderr, "%s: %s\n", progname, err ? err : c->database);
		goto out;
	}
	if (topics_load_background(s, &t, false) < 0)
		fprintf(stderr, "%s: %s: %s; scoring with the reference weights alone\n", progname,
			c->database, store_errmsg(s));
	struct ingest_rescore_counts n;
	int r = ingest_rescore(s, &t, topic, alert, rescore_cb, NULL, &n);
	printf("rescored %u verdicts: %u changed, %u became relevant, %u no longer relevant, "
	       "%u alerts queued\n",
	       n.items, n.changed, n.became_relevant, n.no_longer_relevant, n.alerts);
	if (r < 0) {
		fprintf(stderr,
			"%s: %s: rescore stopped: %s (%s); the batches counted above are "
			"stored\n",
			progname, c->database, store_errmsg(s), strerror(-r));
		goto out;
	}
	rc = 0;
out:
	free(err);
	store_close(s);
	topics_clear(&t);
	config_free(c);
	return rc;
}

static int cmd_items_list(int argc, char **argv)
{
	return cmd_items(argc, argv, false);
}

static int cmd_search(int argc, char **argv)
{
	return cmd_items(argc, argv, true);
}

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help; /* after "usage: veillectl [-c FILE] " */
} commands[] = {
    {"parse", cmd_parse,
     "parse [--url URL] [--charset CS] FILE...\n"
     "Parses feed documents (RSS, RDF, Atom) and prints one JSON object per item:\n"
     "  {source, id, link, title, published, author, summary, content}\n"
     "  --url URL      the address the documents came from: relative links resolve against it\n"
     "  --charset CS   the HTTP Content-Type charset, for a document that declares none\n"},
    {"score", cmd_score,
     "score [--topic NAME] [FILE...]\n"
     "Scores plain-text articles (standard input when no FILE) against the configured topics;\n"
     "one JSON object per article and topic: {source, topic, score, relevant, terms}.\n"
     "A first line followed by a blank line is the title.\n"
     "  --topic NAME   only this topic\n"},
    {"profile", cmd_profile,
     "profile [--topic NAME] [--json]\n"
     "Prints each topic's derived terms and weights, strongest first.\n"
     "  --topic NAME   only this topic\n"
     "  --json         one JSON object per term: {topic, term, weight}\n"},
    {"feeds", cmd_feeds,
     "feeds [--json]\n"
     "Each configured feed: last fetch, next fetch, HTTP status, items stored, consecutive\n"
     "errors, URL and last error.\n"
     "  --json         one JSON object per feed\n"},
    {"items", cmd_items_list,
     "items [--since WHEN] [--relevant] [--limit N] [--json]\n"
     "Stored items, newest first: fetched, best score, '*' when relevant, feed, title.\n"
     "  --since WHEN   fetched at or after WHEN (ISO-8601 date or time, or 24h, 7d...)\n"
     "  --relevant     only items relevant to a topic\n"
     "  --limit N      at most N items\n"
     "  --json         one JSON object per item\n"},
    {"search", cmd_search,
     "search [--since WHEN] [--relevant] [--limit N] [--json] QUERY\n"
     "Full-text search over titles, summaries and contents; case and accents are folded\n"
     "(\"loukachenko frontiere\" finds \"Loukachenko ... frontière\", \"manoeuvres\" finds\n"
     "\"manœuvres\"). QUERY is FTS5 syntax (words, \"phrases\", OR, NOT, prefix*);\n"
     "anything else is read as plain words.\n"
     "Options as for items.\n"},
    {"stats", cmd_stats,
     "stats [--json]\n"
     "Counts: feeds, items, relevant items, sources, alerts sent and pending.\n"
     "  --json         one JSON object\n"},
    {"export", cmd_export,
     "export [--since WHEN | --since-last] [--format jsonl|csv|atom] [--relevant-only]\n"
     "                         [--output FILE | --nightly]\n"
     "Writes stored items, oldest first, to standard output or a file.\n"
     "  --since WHEN      fetched at or after WHEN\n"
     "  --since-last      stored after the last --since-last export to a file (the watermark)\n"
     "  --format F        jsonl (every field, default), csv (RFC 4180) or atom (a feed)\n"
     "  --relevant-only   only items relevant to a topic (a watermark of its own)\n"
     "  --output FILE     write FILE atomically (temporary file, fsync, rename), then move\n"
     "                    the watermark when --since-last\n"
     "  --nightly         as the nightly timer: --since-last, the [export] section's format\n"
     "                    and folder, a dated file, old ones removed after keep_days\n"},
    {"import-opml", cmd_import_opml,
     "import-opml [--dry-run] [--json] FILE\n"
     "Adds the feeds of an OPML file (a feed reader's export) to the configuration file:\n"
     "one [feed NAME] per new URL, names derived from titles, URLs already configured skipped.\n"
     "The file is rewritten atomically and keeps its comments; reload veilled afterwards.\n"
     "  --dry-run      say what would be added, change nothing\n"
     "  --json         one JSON object per feed found: {status, name, url, title, line, reason}\n"},
    {"rescore", cmd_rescore,
     "rescore [--topic NAME] [--alert]\n"
     "Re-judges stored items after references or thresholds changed, updates their verdicts and\n"
     "lists each item whose relevance changed. Old items are not alerted again unless asked.\n"
     "  --topic NAME   only this topic\n"
     "  --alert        queue alerts for items that became relevant and were never alerted;\n"
     "                 veilled sends them after its next fetch or at reload\n"},
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"help", no_argument, NULL, 'h'},
					     {"version", no_argument, NULL, 'V'},
					     {NULL, 0, NULL, 0}};
	int ch;
	/* '+': stop at the command; its own options are parsed by the command. */
	while ((ch = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("veillectl %s\n", VEILLE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	argc -= optind;
	argv += optind;
	const struct command *cmd = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd)
		return usage_error("unknown command '%s'", argv[0]);
	command = cmd->name;
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: veillectl [-c FILE] %s", cmd->help);
			return 0;
		}
	/* getopt names argv[0] in its messages: "veillectl items: unrecognized option '--x'". */
	char label[64];
	snprintf(label, sizeof(label), "%s %s", progname, cmd->name);
	argv[0] = label;
	optind = 0; /* reset getopt for the command's own options (argv[0] is the command) */
	return cmd->run(argc, argv);
}
