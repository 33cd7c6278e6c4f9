/* Unit tests for util.c: buffers, JSON strings, UTF-8 cuts, durations, WHEN, read_file. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "swar.h"
#include "util.h"

static void test_buf(void **state)
{
	(void)state;
	struct buf b = {0};
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%d,", i);
	assert_int_equal(b.len, strlen(b.p));
	assert_true(strncmp(b.p, "0,1,2,", 6) == 0);
	assert_true(strstr(b.p, "999,") != NULL);
	char *s = buf_steal(&b);
	assert_null(b.p);
	free(s);
	s = buf_steal(&b);
	assert_string_equal(s, "");
	free(s);
}

/* Formats that fit the buffer's room, fill it exactly, or overflow it (the second pass). */
static void test_buf_printf_room(void **state)
{
	(void)state;
	char big[400], want[1200];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (size_t pre = 0; pre < 140; pre += 7) {
		for (size_t n = 0; n < sizeof(big); n += 13) {
			struct buf b = {0};
			for (size_t i = 0; i < pre; i++)
				buf_putc(&b, (char)('a' + i % 26));
			buf_printf(&b, "[%.*s|%d]", (int)n, big, (int)n);
			snprintf(want, sizeof(want), "%.*s[%.*s|%d]", (int)pre, b.p, (int)n, big,
				 (int)n);
			assert_string_equal(b.p, want);
			assert_int_equal(b.len, strlen(want));
			assert_true(b.cap > b.len);
			buf_free(&b);
		}
	}
}

static void test_json_string(void **state)
{
	(void)state;
	struct buf b = {0};
	json_put_string(&b, "a\"b\\c\n\t\x01é");
	assert_string_equal(b.p, "\"a\\\"b\\\\c\\n\\t\\u0001é\"");
	buf_reset(&b);
	json_put_string(&b, "bad\xff\xfe ok");
	assert_string_equal(b.p, "\"bad\xef\xbf\xbd\xef\xbf\xbd ok\"");
	buf_reset(&b);
	/* A truncated sequence, DEL and \r between runs of plain and multi-byte characters. */
	json_put_string(&b, "«x\xc3» \x7f\r€y\xe2\x82");
	assert_string_equal(b.p, "\"«x\xef\xbf\xbd» \\u007f\\r€y\xef\xbf\xbd\xef\xbf\xbd\"");
	buf_reset(&b);
	json_put_string(&b, NULL);
	assert_string_equal(b.p, "null");
	buf_free(&b);
}

static void test_utf8(void **state)
{
	(void)state;
	const char *s = "aé€😀"; /* 1 + 2 + 3 + 4 bytes */
	size_t len = strlen(s);
	assert_int_equal(len, 10);
	assert_int_equal(utf8_cut(s, len, 100), 10);
	assert_int_equal(utf8_cut(s, len, 2), 1);
	assert_int_equal(utf8_cut(s, len, 3), 3);
	assert_int_equal(utf8_cut(s, len, 5), 3);
	assert_int_equal(utf8_cut(s, len, 6), 6);
	assert_int_equal(utf8_cut(s, len, 9), 6);
	assert_true(utf8_valid(s, len));
	assert_false(utf8_valid("\xc3", 1));
	assert_false(utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
	assert_false(utf8_valid("\xc0\xaf", 2));     /* overlong */
}

/* RFC 3629, one character at a time: what utf8_valid must answer, however it skips ahead. */
static bool utf8_valid_slowly(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned c = s[i];
		size_t n = c < 0x80		    ? 1
			   : c >= 0xc2 && c <= 0xdf ? 2
			   : c >= 0xe0 && c <= 0xef ? 3
			   : c >= 0xf0 && c <= 0xf4 ? 4
						    : 0;
		if (!n || i + n > len)
			return false;
		uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

/* utf8_valid skips ASCII eight bytes at a time and 2-byte characters without a call: random
 * strings of ASCII runs, characters of every length and broken sequences, cut anywhere. */
static void test_utf8_valid_random(void **state)
{
	(void)state;
	static const char *const pieces[] = {
	    "a",
	    "bcdefgh",
	    "ijklmnopqrstu",
	    "é",
	    "à la",
	    "€",
	    "😀",
	    "\xc3",
	    "\x80",
	    "\xbf",
	    "\xc0\xaf",
	    "\xed\xa0\x80",
	    "\xed\x9f\xbf",
	    "\xef\xbf\xbf",
	    "\xf4\x8f\xbf\xbf",
	    "\xf4\x90\x80\x80",
	    "\xe0\x9f\xbf",
	    "\xf0\x8f\xbf\xbf",
	    "\xc2\xa0",
	    "\xdf\xbf",
	    "\xc1\xbf",
	    "\xff",
	    " ",
	};
	uint32_t x = 7;
	for (int round = 0; round < 20000; round++) {
		unsigned char b[96];
		size_t len = 0;
		for (;;) {
			x = x * 1103515245u + 12345u;
			const char *p = pieces[(x >> 16) % ARRAY_SIZE(pieces)];
			size_t n = strlen(p);
			if (len + n > sizeof(b) || (x >> 8) % 13 == 0)
				break;
			memcpy(b + len, p, n);
			len += n;
		}
		for (size_t cut = 0; cut <= len; cut += 1 + cut / 8)
			if (utf8_valid((const char *)b, cut) != utf8_valid_slowly(b, cut))
				fail_msg("utf8_valid wrong on a string of %zu bytes (round %d)",
					 cut, round);
	}
}

/* hash_bytes reads only its bytes (ASan checks the copies below, made to the exact length), gives
 * the same hash wherever they lie, and tells apart the prefixes of a text and one-byte changes. */
static void test_hash_bytes(void **state)
{
	(void)state;
	static const char text[] =
	    "frontière biélorusse, exercices militaires et gardes-frontières";
	uint64_t seen[2 * sizeof(text)];
	size_t nseen = 0;
	for (size_t n = 0; n < sizeof(text); n++) {
		char *copy = xmalloc(n ? n : 1);
		memcpy(copy, text, n);
		uint64_t h = hash_bytes(copy, n);
		assert_true(h == hash_bytes(text, n));
		free(copy);
		for (size_t k = 0; k < nseen; k++)
			assert_true(seen[k] != h);
		seen[nseen++] = h;
		if (n) {
			char changed[sizeof(text)];
			memcpy(changed, text, n);
			changed[n / 2] ^= 1;
			h = hash_bytes(changed, n);
			for (size_t k = 0; k < nseen; k++)
				assert_true(seen[k] != h);
			seen[nseen++] = h;
		}
	}
	assert_true(hash_mix(1) != hash_mix(2));
}

/* buf_put_fixed4 writes what printf's "%.4f" writes: ties (1/32 is 0.03125) to the even digit,
 * values just off a tie, signs, zeros, tiny and large values, and what it leaves to printf. */
static void check_fixed4(double v)
{
	struct buf b = {0};
	char want[512];
	buf_put_fixed4(&b, v);
	snprintf(want, sizeof(want), "%.4f", v);
	if (strcmp(b.p, want))
		fail_msg("buf_put_fixed4(%a) = \"%s\", printf \"%s\"", v, b.p, want);
	buf_free(&b);
}

static void test_fixed4(void **state)
{
	(void)state;
	const double special[] = {
	    0.0,	  -0.0,	   1.0,	   -1.0,     0.5,	0.00005, 0.00015,
	    0.99995,	  9.99995, 1e-300, -1e-300,  5e-324,	1e9,	 4294967295.99995,
	    4294967296.0, 1e300,   -1e300, INFINITY, -INFINITY, NAN};
	for (size_t i = 0; i < ARRAY_SIZE(special); i++)
		check_fixed4(special[i]);
	for (int p = 0; p <= 20; p++)
		for (int j = -300; j <= 300; j++) {
			double v = ldexp(j, -p);
			check_fixed4(v);
			check_fixed4(nextafter(v, INFINITY));
			check_fixed4(nextafter(v, -INFINITY));
		}
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		double v = ldexp((double)(x >> 11), -53 - (int)(x % 40)) * (double)(x % 1000);
		check_fixed4(x & 1 ? -v : v);
	}
}

static void test_duration(void **state)
{
	(void)state;
	int64_t s;
	assert_int_equal(parse_duration("90", &s), 0);
	assert_int_equal(s, 90);
	assert_int_equal(parse_duration("15m", &s), 0);
	assert_int_equal(s, 900);
	assert_int_equal(parse_duration("2h", &s), 0);
	assert_int_equal(s, 7200);
	assert_int_equal(parse_duration("7d", &s), 0);
	assert_int_equal(s, 7 * 86400);
	assert_int_equal(parse_duration("soon", &s), -EINVAL);
	assert_int_equal(parse_duration("-5m", &s), -EINVAL);
	assert_int_equal(parse_duration("5y", &s), -EINVAL);
	assert_int_equal(parse_duration("99999999999d", &s), -EINVAL);
}

static void test_when(void **state)
{
	(void)state;
	int64_t t, now = 1700000000;
	assert_int_equal(parse_when("24h", now, &t), 0);
	assert_int_equal(t, now - 86400);
	assert_int_equal(parse_when("7d", now, &t), 0);
	assert_int_equal(t, now - 7 * 86400);
	assert_int_equal(parse_when("2023-01-25", now, &t), 0);
	assert_int_equal(t, 1674604800);
	assert_int_equal(parse_when("2023-01-25T10:30:00Z", now, &t), 0);
	assert_int_equal(t, 1674642600);
	assert_int_equal(parse_when("2023-01-25T12:30:00+02:00", now, &t), 0);
	assert_int_equal(t, 1674642600);
	assert_int_equal(parse_when("2023-01-25T10:30", now, &t), 0);
	assert_int_equal(t, 1674642600);
	char iso[21];
	time_iso8601(1674642600, iso);
	assert_string_equal(iso, "2023-01-25T10:30:00Z");
	assert_int_equal(parse_when("yesterday", now, &t), -EINVAL);
	assert_int_equal(parse_when("2023-13-01", now, &t), -EINVAL);
	assert_int_equal(parse_when("2023-01-25T25:00", now, &t), -EINVAL);
	assert_int_equal(parse_when("", now, &t), -EINVAL);
}

static void test_uint(void **state)
{
	(void)state;
	uint64_t u;
	assert_int_equal(parse_uint("42", 1, 100, &u), 0);
	assert_int_equal(u, 42);
	assert_int_equal(parse_uint("0", 1, 100, &u), -ERANGE);
	assert_int_equal(parse_uint("101", 1, 100, &u), -ERANGE);
	assert_int_equal(parse_uint("-3", 1, 100, &u), -EINVAL);
	assert_int_equal(parse_uint("4x", 1, 100, &u), -EINVAL);
}

/* Keys past several growths are all found with their counters; a missing key is not; clearing
 * empties the table and it fills again. */
static void test_strtab(void **state)
{
	(void)state;
	struct strtab t = {0};
	assert_null(strtab_find(&t, "absent"));
	char key[32];
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 1000; i++) {
			snprintf(key, sizeof(key), "k%d", i);
			struct strtab_entry *e = strtab_get(&t, key);
			assert_string_equal(e->key, key);
			e->value += (uint64_t)i;
			e->mark = (uint64_t)round;
		}
		for (int i = 0; i < 1000; i += 7) { /* again: the same entries */
			snprintf(key, sizeof(key), "k%d", i);
			strtab_get(&t, key)->value++;
		}
		assert_int_equal(t.n, 1000);
		assert_true(t.nslots >= 2000);
		for (int i = 0; i < 1000; i++) {
			snprintf(key, sizeof(key), "k%d", i);
			const struct strtab_entry *e = strtab_find(&t, key);
			assert_non_null(e);
			assert_ptr_equal(e, &t.v[i]); /* in the order added */
			assert_int_equal(e->value, (uint64_t)i + (i % 7 == 0));
			assert_int_equal(e->mark, (uint64_t)round);
		}
		assert_null(strtab_find(&t, "k1000"));
		assert_null(strtab_find(&t, "k"));
		strtab_clear(&t);
		assert_int_equal(t.n, 0);
		assert_null(strtab_find(&t, "k1"));
	}
	strtab_free(&t);
	assert_null(t.v);
}

static void test_read_file(void **state)
{
	(void)state;
	char path[] = "/tmp/veille-util-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello", 5), 5);
	close(fd);
	char *data;
	size_t len;
	assert_int_equal(read_file(path, 100, &data, &len), 0);
	assert_int_equal(len, 5);
	assert_string_equal(data, "hello");
	free(data);
	assert_int_equal(read_file(path, 4, &data, &len), -EFBIG);
	unlink(path);
	assert_int_equal(read_file(path, 100, &data, &len), -ENOENT);
	assert_int_equal(read_file("/tmp", 100, &data, &len), -EISDIR);
}

/* same_short against memcmp: equal strings of every length up to a few words, and each byte
 * changed in turn (one bit, then every bit); the strings end where their allocations do, so
 * that the sanitizer pass sees a read past them. */
static void test_same_short(void **state)
{
	(void)state;
	for (size_t n = 0; n <= 40; n++) {
		unsigned char *a = malloc(n ? n : 1), *b = malloc(n ? n : 1);
		assert_true(a && b);
		for (size_t i = 0; i < n; i++)
			a[i] = b[i] = (unsigned char)('a' + (i * 7 + n) % 26);
		assert_true(same_short(a, b, n));
		for (size_t i = 0; i < n; i++) {
			b[i] ^= 1;
			assert_false(same_short(a, b, n));
			assert_false(same_short(b, a, n));
			b[i] ^= 0xFF;
			assert_false(same_short(a, b, n));
			b[i] ^= 0xFE;
			assert_true(same_short(a, b, n));
		}
		free(a);
		free(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buf),
	    cmocka_unit_test(test_buf_printf_room),
	    cmocka_unit_test(test_json_string),
	    cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_utf8_valid_random),
	    cmocka_unit_test(test_hash_bytes),
	    cmocka_unit_test(test_fixed4),
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_when),
	    cmocka_unit_test(test_uint),
	    cmocka_unit_test(test_strtab),
	    cmocka_unit_test(test_read_file),
	    cmocka_unit_test(test_same_short),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
