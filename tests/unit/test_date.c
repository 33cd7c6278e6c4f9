/*
 * test_date.c - date_parse on the formats feeds use, and on text it must refuse.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "date.h"
#include "util.h"

struct good {
	const char *in;
	const char *utc;
};

static void check_good(const struct good *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t t = 0;
		int r = date_parse(cases[i].in, &t);
		if (r != 0)
			fail_msg("date_parse(\"%s\") = %d, expected %s", cases[i].in, r,
				 cases[i].utc);
		char out[21];
		time_iso8601(t, out);
		if (strcmp(out, cases[i].utc) != 0)
			fail_msg("date_parse(\"%s\") = %s, expected %s", cases[i].in, out,
				 cases[i].utc);
	}
}

static void test_rfc822(void **state)
{
	(void)state;
	static const struct good cases[] = {
	    {"Mon, 10 Feb 2025 12:40:04 +0100", "2025-02-10T11:40:04Z"},
	    {"Mon, 10 Feb 25 12:40:04 +0100", "2025-02-10T11:40:04Z"}, /* 2-digit year */
	    {"Sun, 16 Nov 2014 13:44:38 GMT", "2014-11-16T13:44:38Z"},
	    {"Sat, 04 Oct 2013 02:34:59 +0300", "2013-10-03T23:34:59Z"},
	    {"Tue, 5 Mar 2019 08:00:00 -0500", "2019-03-05T13:00:00Z"},
	    {"Tue, 05 Mar 2019 08:00 EST", "2019-03-05T13:00:00Z"},
	    {"Tue, 05 Mar 2019 08:00:00 EDT", "2019-03-05T12:00:00Z"},
	    {"Tue, 05 Mar 2019 08:00:00 PST", "2019-03-05T16:00:00Z"},
	    {"Tue, 05 Mar 2019 08:00:00 CEST", "2019-03-05T06:00:00Z"},
	    {"Tue, 05 Mar 2019 08:00:00 CET", "2019-03-05T07:00:00Z"},
	    /* RFC 5322's comment after the zone */
	    {"Tue, 10 Jun 2003 04:00:00 +0200 (CEST)", "2003-06-10T02:00:00Z"},
	    {"Tue, 10 Jun 2003 04:00:00 +0000 (UTC)", "2003-06-10T04:00:00Z"},
	    {"Tue, 05 Mar 2019 08:00:00 BST", "2019-03-05T07:00:00Z"},
	    {"Tue, 05 Mar 2019 08:00:00 UT", "2019-03-05T08:00:00Z"},
	    {"Tue, 05 Mar 2019 08:00:00 Z", "2019-03-05T08:00:00Z"},
	    {"05 Mar 99 08:00:00 GMT", "1999-03-05T08:00:00Z"},
	    {"Wed, 29 Feb 2012 23:59:59 +0000", "2012-02-29T23:59:59Z"},
	    {"Thu, 01 Jan 1970 00:00:00 GMT", "1970-01-01T00:00:00Z"},
	    {"Fri, 31 Dec 2049 23:00:00 -01:00", "2050-01-01T00:00:00Z"},
	    {"  Mon, 10 Feb 2025 12:40:04 +0100\n", "2025-02-10T11:40:04Z"},
	    {"Monday, February 10, 2025 12:40 PM", "2025-02-10T12:40:00Z"},
	    {"Feb 10 2025 01:05:00 AM", "2025-02-10T01:05:00Z"},
	    {"Sun Nov 16 13:44:38 2014", "2014-11-16T13:44:38Z"}, /* asctime */
	};
	check_good(cases, ARRAY_SIZE(cases));
}

static void test_iso8601(void **state)
{
	(void)state;
	static const struct good cases[] = {
	    {"2020-05-04T14:55:44Z", "2020-05-04T14:55:44Z"},
	    {"2020-05-04T14:55:44+02:00", "2020-05-04T12:55:44Z"},
	    {"2020-05-04T14:55:44-0330", "2020-05-04T18:25:44Z"},
	    {"2020-05-04T14:55:44.123456Z", "2020-05-04T14:55:44Z"},
	    {"2020-05-04T14:55Z", "2020-05-04T14:55:00Z"},
	    {"2020-05-04T14:55+01:00", "2020-05-04T13:55:00Z"},
	    {"2020-05-04", "2020-05-04T00:00:00Z"},
	    {"2020-05", "2020-05-01T00:00:00Z"},
	    {"2020-05-04 14:55:44", "2020-05-04T14:55:44Z"},
	    {"2020-05-04t14:55:44z", "2020-05-04T14:55:44Z"},
	    {"2020-05-04 14:55:44 +0200", "2020-05-04T12:55:44Z"},
	    {"2000-02-29T00:00:00Z", "2000-02-29T00:00:00Z"},
	};
	check_good(cases, ARRAY_SIZE(cases));
}

static void test_languages(void **state)
{
	(void)state;
	static const struct good cases[] = {
	    /* French, with and without accents and periods */
	    {"lun., 10 févr. 2025 12:40:04 +0100", "2025-02-10T11:40:04Z"},
	    {"lundi 10 février 2025 12:40", "2025-02-10T12:40:00Z"},
	    {"10 fevrier 2025", "2025-02-10T00:00:00Z"},
	    {"mar., 14 janv. 2025 08:00:00 +0100", "2025-01-14T07:00:00Z"},
	    {"mer 12 mars 2025 10:00 +0100", "2025-03-12T09:00:00Z"},
	    {"jeu., 3 avr. 2025 10:00", "2025-04-03T10:00:00Z"},
	    {"ven. 9 mai 2025 10:00", "2025-05-09T10:00:00Z"},
	    {"sam. 7 juin 2025", "2025-06-07T00:00:00Z"},
	    {"dim. 6 juil. 2025", "2025-07-06T00:00:00Z"},
	    {"15 août 2025 à 14h30", "2025-08-15T14:30:00Z"},
	    {"15 aout 2025", "2025-08-15T00:00:00Z"},
	    {"1er sept. 2025", "2025-09-01T00:00:00Z"},
	    {"2 oct. 2025", "2025-10-02T00:00:00Z"},
	    {"3 nov. 2025", "2025-11-03T00:00:00Z"},
	    {"mardi 9 déc. 2025", "2025-12-09T00:00:00Z"},
	    {"9 decembre 2025", "2025-12-09T00:00:00Z"},
	    /* "mar" as a day (mardi) and as a month (mars) in one date */
	    {"mar. 4 mar. 2025", "2025-03-04T00:00:00Z"},
	    {"4 mar 2025", "2025-03-04T00:00:00Z"},
	    /* Italian (Il Messaggero) */
	    {"mer, 16 nov 2022 00:38:15 +0100", "2022-11-15T23:38:15Z"},
	    {"16 novembre 2022", "2022-11-16T00:00:00Z"},
	    {"gio, 3 ago 2023 10:00:00 +0200", "2023-08-03T08:00:00Z"},
	    {"lunedì 6 maggio 2024", "2024-05-06T00:00:00Z"},
	    /* German */
	    {"Mo, 10. Februar 2025 12:40 MEZ", "2025-02-10T11:40:00Z"},
	    {"10. März 2025", "2025-03-10T00:00:00Z"},
	    {"Di, 4. Dez. 2018 09:00:00 +0100", "2018-12-04T08:00:00Z"},
	    {"1. Okt 2019 um 14:00 Uhr", "2019-10-01T14:00:00Z"},
	    /* Spanish */
	    {"mié, 12 ene 2022 10:00:00 +0100", "2022-01-12T09:00:00Z"},
	    {"12 de enero de 2022", "2022-01-12T00:00:00Z"},
	    {"sábado, 5 de abril de 2025", "2025-04-05T00:00:00Z"},
	};
	check_good(cases, ARRAY_SIZE(cases));
}

static void test_numeric(void **state)
{
	(void)state;
	static const struct good cases[] = {
	    {"25/12/2024", "2024-12-25T00:00:00Z"},
	    {"05/03/2020 11:30", "2020-03-05T11:30:00Z"}, /* dd/mm by default */
	    {"25/12/2024 - 18:05:09", "2024-12-25T18:05:09Z"},
	    {"25.12.2024 18:05", "2024-12-25T18:05:00Z"},
	    {"12/25/2024", "2024-12-25T00:00:00Z"}, /* only mm/dd is possible */
	    /* Marianne: 3 May 2020 was a Sunday, 5 March a Thursday: the day name decides */
	    {"dim, 05/03/2020 - 11:30", "2020-05-03T11:30:00Z"},
	    {"jeu, 05/03/2020 - 11:30", "2020-03-05T11:30:00Z"},
	    {"2024/12/25 08:00", "2024-12-25T08:00:00Z"},
	    {"25/12/24", "2024-12-25T00:00:00Z"},
	};
	check_good(cases, ARRAY_SIZE(cases));
}

static void test_rejects(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    "   ",
	    "hier",
	    "yesterday at noon",
	    "Mon, 32 Jan 2025 10:00:00 GMT", /* day 32 */
	    "Mon, 29 Feb 2025 10:00:00 GMT", /* not a leap year */
	    "Mon, 10 Foo 2025 10:00:00 GMT", /* unknown month */
	    "Mon, 10 Feb 2025 25:00:00 GMT", /* hour 25 */
	    "Mon, 10 Feb 2025 10:61:00 GMT",
	    "Mon, 10 Feb 2025 10:00:00 +2500", /* offset out of range */
	    "10 Feb",			       /* no year */
	    "Feb 2025",			       /* no day */
	    "2025",
	    "2020-13-01",
	    "2020-02-30",
	    "2020-05-04T14:55:44+",
	    "2020-05-04T1455",
	    "2020-05-04Tgarbage",
	    "32/12/2024",
	    "13/13/2024",
	    "1/2",
	    "12345678901234567890",
	    "Mon, 10 Feb 2025 10:00:00 GMT and then some words",
	    "10 Feb 2025 lorem ipsum",
	    "le 10 et le 11 février 2025",
	    "10 Feb 2025 10:00 11:00",
	    "10 janvier février 2025",
	    "1 Jan 1800", /* outside the accepted range */
	    "<script>alert(1)</script>",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int64_t t = 42;
		int r = date_parse(bad[i], &t);
		if (r != -EINVAL)
			fail_msg("date_parse(\"%s\") = %d, expected -EINVAL", bad[i], r);
		assert_int_equal(t, 42); /* untouched on failure */
	}
	int64_t t;
	assert_int_equal(date_parse(NULL, &t), -EINVAL);
}

static void test_epoch_values(void **state)
{
	(void)state;
	int64_t t;
	assert_int_equal(date_parse("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(date_parse("2000-03-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 951868800);
	assert_int_equal(date_parse("2100-03-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 4107542400LL); /* past 2038 */
	assert_int_equal(date_parse("1969-12-31T23:59:59Z", &t), 0);
	assert_int_equal(t, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc822),    cmocka_unit_test(test_iso8601),
	    cmocka_unit_test(test_languages), cmocka_unit_test(test_numeric),
	    cmocka_unit_test(test_rejects),   cmocka_unit_test(test_epoch_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
