/* Unit tests for config.c: the shipped file, relative paths, and line-numbered errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "util.h"

static char dir[] = "/tmp/veille-config-XXXXXX";

static char *write_conf(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_shipped(void **state)
{
	(void)state;
	char *errors = NULL;
	struct config *c = config_load(TEST_SOURCE_DIR "/conf/veille.conf", &errors);
	if (!c)
		fail_msg("%s", errors);
	assert_true(c->nfeeds >= 15);
	assert_int_equal(c->ntopics, 1);
	assert_string_equal(c->topics[0].name, "belarus-border");
	assert_int_equal(c->topics[0].nreferences, 5);
	/* Relative paths resolve against the file's folder, whatever the working directory. */
	assert_non_null(strstr(c->topics[0].references[0], "/conf/reference/000_"));
	assert_true(c->topics[0].references[0][0] == '/');
	assert_non_null(strstr(c->aliases, "/conf/aliases.txt"));
	assert_true(c->topics[0].threshold > 0 && c->topics[0].threshold <= 1);
	assert_int_equal(c->interval, 15 * 60);
	for (size_t i = 0; i < c->nfeeds; i++) {
		assert_int_equal(strncmp(c->feeds[i].url, "https://", 8), 0);
		assert_int_equal(c->feeds[i].interval, c->interval);
		assert_false(c->feeds[i].interval_fixed);
	}
	assert_int_equal(c->low_speed_limit, 100);
	assert_int_equal(c->low_speed_time, 20);
	config_free(c);
}

static void test_values(void **state)
{
	(void)state;
	char *path = write_conf("ok.conf", "; comment\n"
					   "[veille]\n"
					   "database = data/v.db   ; inline comment\n"
					   "interval = 2h\n"
					   "max_body = 512K\n"
					   "max_connections = 8\n"
					   "low_speed_limit = 2000\n"
					   "low_speed_time = 1m\n"
					   "[feed x]\n"
					   "url = https://example.org/feed?a=1&b=2#frag\n"
					   "interval = 90s\n"
					   "[feed y]\n"
					   "url = https://example.org/y\n");
	char *errors = NULL;
	struct config *c = config_load(path, &errors);
	if (!c)
		fail_msg("%s", errors);
	char *want = xasprintf("%s/data/v.db", dir);
	assert_string_equal(c->database, want);
	assert_int_equal(c->interval, 7200);
	assert_int_equal(c->max_body, 512 * 1024);
	assert_int_equal(c->max_connections, 8);
	assert_int_equal(c->feeds[0].interval, 90);
	assert_true(c->feeds[0].interval_fixed);
	assert_int_equal(c->feeds[1].interval, 7200);
	assert_false(c->feeds[1].interval_fixed);
	assert_int_equal(c->low_speed_limit, 2000);
	assert_int_equal(c->low_speed_time, 60);
	assert_string_equal(c->feeds[0].url, "https://example.org/feed?a=1&b=2#frag");
	assert_int_equal(c->ntopics, 0);
	free(want);
	config_free(c);
	free(path);
}

static void test_long_url(void **state)
{
	(void)state;
	struct buf b = {0};
	buf_puts(&b, "[feed long]\nurl = https://example.org/");
	for (int i = 0; i < 300; i++)
		buf_puts(&b, "abc");
	buf_puts(&b, "\n");
	char *path = write_conf("long.conf", b.p);
	char *errors = NULL;
	struct config *c = config_load(path, &errors);
	if (!c)
		fail_msg("%s", errors);
	assert_int_equal(strlen(c->feeds[0].url), strlen("https://example.org/") + 900);
	config_free(c);
	free(path);
	buf_free(&b);
}

static void expect_error(const char *text, int line, const char *words)
{
	char *path = write_conf("bad.conf", text);
	char *errors = NULL;
	struct config *c = config_load(path, &errors);
	assert_null(c);
	assert_non_null(errors);
	char *prefix = line ? xasprintf("%s:%d: ", path, line) : xasprintf("%s: ", path);
	char *at = strstr(errors, prefix);
	if (!at || !strstr(at, words))
		fail_msg("expected '%s...%s' in:\n%s", prefix, words, errors);
	free(prefix);
	free(errors);
	free(path);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("[feed a]\nurl = gopher://x/\n", 2, "not an http");
	expect_error("[feed a]\nurl = http://x/\n[feed a]\nurl = http://y/\n", 3,
		     "already defined");
	expect_error("[veille]\ninterval = 5 minutes\n[feed a]\nurl = http://x/\n", 2, "duration");
	expect_error("[veille]\nlow_speed_limit = 0\n[feed a]\nurl = http://x/\n", 2,
		     "whole number");
	expect_error("[veille]\nlow_speed_time = fast\n[feed a]\nurl = http://x/\n", 2, "duration");
	expect_error("[veille]\nmax_body = 1T\n[feed a]\nurl = http://x/\n", 2, "size");
	expect_error("[veille]\nnope = 1\n[feed a]\nurl = http://x/\n", 2, "unknown key 'nope'");
	expect_error("[bogus]\n[feed a]\nurl = http://x/\n", 1, "unknown section");
	expect_error("[feed a b]\nurl = http://x/\n", 1, "needs a name");
	expect_error("[feed a]\n", 1, "has no 'url ='");
	expect_error("[veille]\n", 0, "no [feed NAME]");
	expect_error("[feed a]\nurl = http://x/\n[topic t]\nthreshold = 0.5\n", 3,
		     "no 'references");
	expect_error(
	    "[feed a]\nurl = http://x/\n[topic t]\nreferences = none/*.txt\nthreshold = 0.5\n", 4,
	    "matches no file");
	expect_error(
	    "[feed a]\nurl = http://x/\n[topic t]\nreferences = none/*.txt\nthreshold = 2\n", 5,
	    "threshold");
	expect_error("[feed a]\nurl\n", 2, "key = value");
	expect_error("[feed a\nurl = http://x/\n", 1, "malformed section");
	expect_error("[veille]\nmax_connections = 0\n[feed a]\nurl = http://x/\n", 2,
		     "whole number");
	/* Every problem is reported, not just the first. */
	char *path =
	    write_conf("many.conf", "[veille]\ninterval = x\nfoo = 1\n[feed a]\nurl = ftp://x/\n");
	char *errors = NULL;
	assert_null(config_load(path, &errors));
	int lines = 0;
	for (char *p = errors; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 3);
	free(errors);
	free(path);
}

static void test_missing_file(void **state)
{
	(void)state;
	char *errors = NULL;
	assert_null(config_load("/nonexistent/veille.conf", &errors));
	assert_non_null(strstr(errors, "/nonexistent/veille.conf: cannot read"));
	free(errors);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char *cmd = xasprintf("rm -rf '%s'", dir);
	int r = system(cmd);
	free(cmd);
	return r == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shipped),	 cmocka_unit_test(test_values),
	    cmocka_unit_test(test_long_url),	 cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_missing_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
