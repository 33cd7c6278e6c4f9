/*
 * veillectl.c - the operator's tool: parse, score, profile, feeds, items, search, stats.
 *
 * Output for people is a table; --json gives one JSON object per line for scripts (parse and
 * score always print JSON Lines, as the command-line contract says). Exit status: 0 success,
 * 1 runtime failure, 2 usage error. Errors go to stderr, one line each.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "config.h"
#include "feed.h"
#include "ingest.h"
#include "store.h"
#include "topic.h"
#include "util.h"

#define DEFAULT_CONFIG VEILLE_CONFDIR "/veille.conf"
#define MAX_INPUT      (64u << 20)

static const char *config_path = DEFAULT_CONFIG;
static const char *progname = "veillectl";

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: veillectl [-c FILE] COMMAND [ARGS]\n"
	    "  parse FILE...                  feed documents to JSON Lines, one object per item\n"
	    "  score [--topic NAME] [FILE...] score plain-text articles (stdin when no FILE)\n"
	    "  profile [--topic NAME] [--json] a topic's derived terms and weights\n"
	    "  feeds [--json]                 each feed's fetch state\n"
	    "  items [--since WHEN] [--relevant] [--limit N] [--json]\n"
	    "  search [--limit N] [--json] QUERY\n"
	    "  stats [--json]\n"
	    "WHEN: an ISO-8601 date or time, or a duration back from now (24h, 7d).\n"
	    "-c FILE: configuration (default " DEFAULT_CONFIG ").\n");
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", progname);
	fprintf(stderr, fmt, arg);
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
	if (argc < 2)
		return usage_error("parse: %s", "needs at least one FILE");
	int rc = 0;
	struct buf b = {0};
	for (int i = 1; i < argc; i++) {
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
		if (feed_parse(data, len, NULL, NULL, &doc, err, sizeof(err)) < 0) {
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

static void profile_cb(const char *term, double weight, void *arg)
{
	struct profile_ctx *p = arg;
	if (p->json) {
		buf_putc(&p->b, '{');
		put_key(&p->b, "topic", true);
		json_put_string(&p->b, p->topic);
		put_str(&p->b, "term", term);
		put_key(&p->b, "weight", false);
		buf_printf(&p->b, "%.6g}", weight);
		emit(&p->b);
	} else {
		printf("%-32s %10.6g\n", term, weight);
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
				printf("# topic %s, threshold %.3f\n", p.topic,
				       topic_threshold(t.v[i]));
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
		fprintf(stderr, "%s: %s: %s\n", progname, c->database, err ? err : "cannot open");
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
	const struct store_feed **known;
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
			struct store_feed *copy = xcalloc(1, sizeof(*copy));
			*copy = *f;
			copy->name = xstrdup(f->name);
			copy->url = f->url ? xstrdup(f->url) : NULL;
			copy->etag = copy->last_modified = NULL;
			copy->last_error = f->last_error ? xstrdup(f->last_error) : NULL;
			x->known[i] = copy;
		}
	return 0;
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
	if (!x.json && rc == 0)
		printf("%-24s %-20s %-20s %6s %6s %6s  %s\n", "NAME", "LAST FETCH", "NEXT FETCH",
		       "STATUS", "ITEMS", "ERRORS", "URL / LAST ERROR");
	for (size_t i = 0; rc == 0 && i < c->nfeeds; i++) {
		const struct store_feed *f = x.known[i];
		const char *url = f && f->url ? f->url : c->feeds[i].url;
		char last[21], next[21];
		fmt_time(f ? f->last_fetch : 0, last);
		fmt_time(f ? f->next_fetch : 0, next);
		if (x.json) {
			buf_putc(&x.b, '{');
			put_key(&x.b, "name", true);
			json_put_string(&x.b, c->feeds[i].name);
			put_str(&x.b, "url", url);
			put_time(&x.b, "last_fetch", f ? f->last_fetch : 0, f && f->last_fetch);
			put_key(&x.b, "status", false);
			buf_printf(&x.b, "%d", f ? f->last_status : 0);
			put_key(&x.b, "items", false);
			buf_printf(&x.b, "%llu", f ? (unsigned long long)f->items : 0ull);
			put_key(&x.b, "errors", false);
			buf_printf(&x.b, "%u", f ? f->errors : 0u);
			put_str(&x.b, "last_error", f ? f->last_error : NULL);
			put_time(&x.b, "next_fetch", f ? f->next_fetch : 0, f && f->next_fetch);
			put_key(&x.b, "disabled", false);
			buf_puts(&x.b, f && f->disabled ? "true}" : "false}");
			emit(&x.b);
		} else {
			printf("%-24s %-20s %-20s %6d %6llu %6u  %s%s%s\n", c->feeds[i].name, last,
			       f && f->disabled ? "disabled" : next, f ? f->last_status : 0,
			       f ? (unsigned long long)f->items : 0ull, f ? f->errors : 0u, url,
			       f && f->last_error ? " -- " : "",
			       f && f->last_error ? f->last_error : "");
		}
	}
	for (size_t i = 0; i < c->nfeeds; i++)
		if (x.known[i]) {
			store_feed_clear((struct store_feed *)x.known[i]);
			free((void *)x.known[i]);
		}
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

static int cmd_stats(int argc, char **argv)
{
	bool json = argc > 1 && strcmp(argv[1], "--json") == 0;
	if (argc > (json ? 2 : 1))
		return usage_error("stats: unexpected argument '%s'", argv[json ? 2 : 1]);
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
	const char *cmd = argv[0];
	optind = 0; /* reset getopt for the command's own options (argv[0] is the command) */
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "parse") == 0)
		return cmd_parse(argc, argv);
	if (strcmp(cmd, "score") == 0)
		return cmd_score(argc, argv);
	if (strcmp(cmd, "profile") == 0)
		return cmd_profile(argc, argv);
	if (strcmp(cmd, "feeds") == 0)
		return cmd_feeds(argc, argv);
	if (strcmp(cmd, "items") == 0)
		return cmd_items(argc, argv, false);
	if (strcmp(cmd, "search") == 0)
		return cmd_items(argc, argv, true);
	if (strcmp(cmd, "stats") == 0)
		return cmd_stats(argc, argv);
	return usage_error("unknown command '%s'", cmd);
}
