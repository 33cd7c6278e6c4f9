/* Unit tests for alert.c: the line an operator greps. Delivery is tested for real by the
 * integration tests (a private rsyslogd and a private journald). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alert.h"
#include "util.h"

static void test_format(void **state)
{
	(void)state;
	char line[1024];
	struct alert a = {.topic = "belarus-border",
			  .score = 0.8234,
			  .feed = "lemonde-international",
			  .url = "https://www.lemonde.fr/a b",
			  .title = "Minsk \"masse\" des troupes\nà la frontière \\ Kiev",
			  .item_id = 7};
	alert_format(&a, line, sizeof(line));
	assert_string_equal(line,
			    "ALERT topic=belarus-border score=0.82 feed=lemonde-international "
			    "url=https://www.lemonde.fr/a+b title=\"Minsk \\\"masse\\\" des "
			    "troupes à la frontière \\\\ Kiev\"");
	struct alert b = {.topic = "t", .score = 1};
	alert_format(&b, line, sizeof(line));
	assert_string_equal(line, "ALERT topic=t score=1.00 feed=- url=- title=\"\"");
	/* Truncation keeps the line NUL-terminated. */
	char small[24];
	alert_format(&a, small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

/* A long title is cut between two characters and ends with "…"; control characters become
 * spaces in the title and '+' in the URL: the line stays one line of UTF-8. */
static void test_format_cut(void **state)
{
	(void)state;
	char title[1400 + 1], line[1024];
	for (size_t i = 0; i + 1 < sizeof(title); i += 2)
		memcpy(title + i, "\xC3\xA9", 2); /* é */
	title[sizeof(title) - 1] = '\0';
	/* One ASCII byte first: every cut place, odd and even, is met by one of the two. */
	for (int shift = 0; shift < 2; shift++) {
		char t[sizeof(title) + 1] = "x";
		strcpy(t + shift, title);
		struct alert a = {.topic = "t", .score = 0.9, .url = "u", .title = t};
		alert_format(&a, line, sizeof(line));
		size_t n = strlen(line);
		assert_true(utf8_valid(line, n));
		assert_true(n > 500 && n < 700);
		assert_memory_equal(line + n - 4, "\xE2\x80\xA6\"", 4);
	}
	struct alert c = {.topic = "t",
			  .score = 0.9,
			  .url = "https://x.fr/\x1b[0m\x7f",
			  .title = "Minsk\x1b[31m\x7f\vKiev"};
	alert_format(&c, line, sizeof(line));
	assert_string_equal(
	    line,
	    "ALERT topic=t score=0.90 feed=- url=https://x.fr/+[0m+ title=\"Minsk [31m  Kiev\"");
}

static void test_sink(void **state)
{
	(void)state;
	assert_int_equal(alert_sink_from("journal"), ALERT_JOURNAL);
	assert_int_equal(alert_sink_from("syslog"), ALERT_SYSLOG);
	assert_int_equal(alert_sink_from("none"), ALERT_NONE);
	enum alert_sink s = alert_sink_from("auto");
	assert_true(s == ALERT_JOURNAL || s == ALERT_SYSLOG);
	struct alert a = {.topic = "t", .score = 0.5, .high = 0.9};
	alert_open(ALERT_NONE, "test");
	assert_int_equal(alert_send(&a), 0);
	alert_close();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_format_cut),
	    cmocka_unit_test(test_sink),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
