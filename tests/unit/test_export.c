/*
 * test_export.c - the export writers on hand-made records (quoting, escaping, characters XML
 * forbids, invalid UTF-8) and the nightly files' names and pruning, on a real folder.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "export.h"
#include "feed.h"
#include "store.h"
#include "util.h"

static const struct store_source sources[] = {
    {"lemonde", "g1", "https://www.lemonde.fr/a.html", 1700000000},
    {"rfi", "r1", "https://www.rfi.fr/a", 1700000100},
    {"lemonde", "g1-bis", "https://www.lemonde.fr/a.html?x", 1700000200},
};
static const struct store_verdict verdicts[] = {
    {"belarus-border", 0.91234, true, "[[\"frontier\",0.5]]"},
    {"other", 0.1, false, "[]"},
};

static struct store_record record(const char *title, const char *summary)
{
	return (struct store_record){
	    .id = 42,
	    .guid = "g1",
	    .link = "https://www.lemonde.fr/a.html?a=1&b=2",
	    .canonical_link = "https://www.lemonde.fr/a.html",
	    .title = title,
	    .author = NULL,
	    .summary = summary,
	    .content = NULL,
	    .hash = "abc123",
	    .published = FEED_NO_DATE,
	    .fetched = 1700000000,
	    .relevant = true,
	    .story = 40,
	    .story_size = 3,
	    .updated = FEED_NO_DATE,
	    .sources = sources,
	    .nsources = ARRAY_SIZE(sources),
	    .verdicts = verdicts,
	    .nverdicts = ARRAY_SIZE(verdicts),
	};
}

static void test_formats(void **state)
{
	(void)state;
	enum export_format f;
	assert_int_equal(export_format_parse("csv", &f), 0);
	assert_int_equal(f, EXPORT_CSV);
	assert_string_equal(export_format_name(EXPORT_ATOM), "atom");
	assert_int_equal(export_format_parse("xml", &f), -EINVAL);
}

static void test_jsonl(void **state)
{
	(void)state;
	struct buf b = {0};
	struct store_record r = record("Titre \"cité\"", "ligne 1\nligne 2");
	export_begin(EXPORT_JSONL, "urn:x", "t", 0, &b);
	assert_int_equal(b.len, 0);
	export_record(EXPORT_JSONL, &r, &b);
	export_end(EXPORT_JSONL, &b);
	assert_non_null(strstr(b.p, "{\"id\":42,\"feeds\":[\"lemonde\",\"rfi\"],"));
	assert_non_null(strstr(b.p, "\"title\":\"Titre \\\"cité\\\"\""));
	assert_non_null(strstr(b.p, "\"author\":null"));
	assert_non_null(strstr(b.p, "\"published\":null,\"fetched\":\"2023-11-14T22:13:20Z\""));
	assert_non_null(strstr(b.p, "\"summary\":\"ligne 1\\nligne 2\""));
	assert_non_null(strstr(b.p, "\"relevant\":true,\"story\":40,\"story_size\":3,"
				    "\"updated\":null,"));
	assert_non_null(strstr(b.p, "\"verdicts\":[{\"topic\":\"belarus-border\",\"score\":0.9123,"
				    "\"relevant\":true,\"terms\":[[\"frontier\",0.5]]},"));
	assert_non_null(strstr(b.p, "\"sources\":[{\"feed\":\"lemonde\",\"identity\":\"g1\","));
	assert_int_equal(b.p[b.len - 1], '\n');
	assert_null(strchr(b.p, '\n') + 1 < b.p + b.len ? strchr(strchr(b.p, '\n') + 1, '\n')
							: NULL);
	buf_free(&b);
}

static void test_csv(void **state)
{
	(void)state;
	struct buf b = {0};
	struct store_record r = record("a,\"b\"\r\nc", "plain");
	export_begin(EXPORT_CSV, "urn:x", "t", 0, &b);
	assert_true(strncmp(b.p, "id,feeds,guid,link,canonical_link,title,", 40) == 0);
	assert_int_equal(b.p[b.len - 2], '\r');
	size_t header = b.len;
	export_record(EXPORT_CSV, &r, &b);
	const char *row = b.p + header;
	assert_true(strncmp(row, "42,lemonde rfi,g1,https://www.lemonde.fr/a.html?a=1&b=2,", 55) ==
		    0);
	assert_non_null(strstr(row, ",\"a,\"\"b\"\"\r\nc\",,,2023-11-14T22:13:20Z,plain,,abc123,"
				    "true,40,3,,\"[{\"\"topic\"\":\"\"belarus-border\"\","));
	assert_true(b.len > 2 && b.p[b.len - 2] == '\r' && b.p[b.len - 1] == '\n');
	buf_free(&b);
}

static void test_atom(void **state)
{
	(void)state;
	struct buf b = {0};
	/* Markup, a control character, an invalid byte, U+FFFF: escaped, dropped, U+FFFD, dropped.
	 */
	struct store_record r = record("<b>Chars</b> & \x01troupes \xff fin\xef\xbf\xbf", "résumé");
	struct store_record r2 = record("Sans lien", NULL);
	r2.link = r2.canonical_link = NULL;
	r2.hash = "def456";
	r2.relevant = false;
	r2.nverdicts = 0;
	export_begin(EXPORT_ATOM, "urn:veille:export", "veille & co", 1700000000, &b);
	export_record(EXPORT_ATOM, &r, &b);
	export_record(EXPORT_ATOM, &r2, &b);
	export_end(EXPORT_ATOM, &b);
	assert_non_null(
	    strstr(b.p, "&lt;b&gt;Chars&lt;/b&gt; &amp; troupes \xef\xbf\xbd fin</title>"));
	assert_non_null(strstr(b.p, "href=\"https://www.lemonde.fr/a.html?a=1&amp;b=2\""));
	assert_non_null(
	    strstr(b.p, "<category scheme=\"urn:veille:topic\" term=\"belarus-border\""));
	assert_null(strstr(b.p, "term=\"other\""));

	/* Well-formed, and the project's own parser reads it back. */
	struct feed_doc *doc = NULL;
	char err[256];
	assert_int_equal(feed_parse(b.p, b.len, NULL, NULL, &doc, err, sizeof(err)), 0);
	assert_int_equal(doc->format, FEED_FORMAT_ATOM);
	assert_false(doc->recovered);
	assert_int_equal(doc->nitems, 2);
	assert_string_equal(doc->items[0].id, "urn:veille:item:abc123");
	assert_string_equal(doc->items[0].title, "<b>Chars</b> & troupes \xef\xbf\xbd fin");
	assert_string_equal(doc->items[0].link, "https://www.lemonde.fr/a.html?a=1&b=2");
	assert_string_equal(doc->items[0].summary, "résumé");
	/* No <published>: the parser falls back to <updated>, when veille fetched it. */
	assert_int_equal(doc->items[0].published, 1700000000);
	assert_null(doc->items[1].link);
	assert_string_equal(doc->items[1].title, "Sans lien");
	feed_doc_free(doc);
	buf_free(&b);
}

static void touch(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
	free(p);
}

static bool exists(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	bool r = access(p, F_OK) == 0;
	free(p);
	return r;
}

static int removed;
static void removed_cb(const char *name, void *arg)
{
	(void)name;
	(void)arg;
	removed++;
}

static void test_prune(void **state)
{
	(void)state;
	char *name = export_dated_name(2026, 3, 9, 0, EXPORT_CSV);
	assert_string_equal(name, "veille-2026-03-09.csv");
	free(name);
	name = export_dated_name(2026, 3, 9, 2, EXPORT_JSONL);
	assert_string_equal(name, "veille-2026-03-09.2.jsonl");
	free(name);

	const char *tmp = getenv("TMPDIR");
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/test_export.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	/* Noon local time on 2026-03-29 (a daylight-saving day in Europe). */
	struct tm tm = {.tm_year = 126, .tm_mon = 2, .tm_mday = 29, .tm_hour = 12, .tm_isdst = -1};
	int64_t now = (int64_t)mktime(&tm);
	const char *gone[] = {"veille-2026-03-26.csv", "veille-2025-12-31.jsonl",
			      "veille-2026-03-26.3.atom"};
	const char *kept[] = {"veille-2026-03-27.csv",	  "veille-2026-03-28.1.jsonl",
			      "veille-2026-03-29.atom",	  "veille-2020-01-01.txt",
			      "veille-2020-01-01.csv.gz", "notes-2020-01-01.csv",
			      "veille-2020-1-01.csv",	  "veille-2020-01-01..csv"};
	for (size_t i = 0; i < ARRAY_SIZE(gone); i++)
		touch(dir, gone[i]);
	for (size_t i = 0; i < ARRAY_SIZE(kept); i++)
		touch(dir, kept[i]);
	assert_int_equal(export_prune_dir(dir, 0, now, removed_cb, NULL), 0);
	/* Temporary files of interrupted exports: swept when a day old, whatever keep_days. */
	touch(dir, EXPORT_TMP_PREFIX "stale1");
	touch(dir, EXPORT_TMP_PREFIX "young1");
	char *sp = xasprintf("%s/%s", dir, EXPORT_TMP_PREFIX "stale1");
	struct timespec ts[2] = {{.tv_sec = now - EXPORT_TMP_STALE - 60},
				 {.tv_sec = now - EXPORT_TMP_STALE - 60}};
	assert_int_equal(utimensat(AT_FDCWD, sp, ts, 0), 0);
	free(sp);
	sp = xasprintf("%s/%s", dir, EXPORT_TMP_PREFIX "young1");
	ts[0].tv_sec = ts[1].tv_sec = now - 60;
	assert_int_equal(utimensat(AT_FDCWD, sp, ts, 0), 0);
	assert_int_equal(export_prune_dir(dir, 0, now, removed_cb, NULL), 1);
	assert_false(exists(dir, EXPORT_TMP_PREFIX "stale1"));
	assert_true(exists(dir, EXPORT_TMP_PREFIX "young1"));
	unlink(sp);
	free(sp);
	removed = 0;
	assert_int_equal(export_prune_dir(dir, 3, now, removed_cb, NULL), 3);
	assert_int_equal(removed, 3);
	for (size_t i = 0; i < ARRAY_SIZE(gone); i++)
		assert_false(exists(dir, gone[i]));
	for (size_t i = 0; i < ARRAY_SIZE(kept); i++) {
		assert_true(exists(dir, kept[i]));
		char *p = xasprintf("%s/%s", dir, kept[i]);
		unlink(p);
		free(p);
	}
	rmdir(dir);
	assert_true(export_prune_dir(dir, 3, now, NULL, NULL) < 0); /* gone now */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_formats), cmocka_unit_test(test_jsonl),
	    cmocka_unit_test(test_csv),	    cmocka_unit_test(test_atom),
	    cmocka_unit_test(test_prune),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
