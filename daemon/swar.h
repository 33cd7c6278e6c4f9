/*
 * swar.h - eight bytes at a time in a 64-bit word ("SIMD within a register"), for the scans of
 * feed.c, html.c, text.c, dedup.c and util.c.
 */
#ifndef VEILLE_SWAR_H
#define VEILLE_SWAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SWAR_ONES  0x0101010101010101ull
#define SWAR_HIGHS 0x8080808080808080ull

/* The 8 bytes at p, the first in the low byte whatever the host's byte order. */
static inline uint64_t load8_le(const void *p)
{
	uint64_t x;
	memcpy(&x, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	return x;
}

/* Stores x at p as load8_le reads it back. */
static inline void store8_le(void *p, uint64_t x)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	memcpy(p, &x, 8);
}

/* Nonzero when a byte of x is below n (n <= 0x80), in that byte's high bit. A borrow may flag
 * a byte above a flagged one, never below: the lowest flag is exact. */
static inline uint64_t has_below(uint64_t x, unsigned char n)
{
	return (x - SWAR_ONES * n) & ~x & SWAR_HIGHS;
}

/* Nonzero when a byte of x is c (the lowest flag exact, as has_below). */
static inline uint64_t has_byte(uint64_t x, unsigned char c)
{
	return has_below(x ^ (SWAR_ONES * c), 1);
}

/* The index (from p, for load8_le(p)) of the first byte flagged in m (nonzero). */
static inline size_t first_flagged(uint64_t m)
{
	return (size_t)__builtin_ctzll(m) / 8;
}

/* The bytes of x (ASCII or not) that are no ASCII letter or digit, flagged in their high bit:
 * exact for every byte (the high bits are cleared before the additions). */
static inline uint64_t not_alnum8(uint64_t x)
{
	uint64_t t = x & ~SWAR_HIGHS;
	uint64_t digit = (t + 0x5050505050505050ull) & ~(t + 0x4646464646464646ull);
	uint64_t upper = (t + 0x3F3F3F3F3F3F3F3Full) & ~(t + 0x2525252525252525ull);
	uint64_t lower = (t + 0x1F1F1F1F1F1F1F1Full) & ~(t + 0x0505050505050505ull);
	return ~((digit | upper | lower) & ~x) & SWAR_HIGHS;
}

/* memcpy(d, s, n) for the short strings of tokens and stems, without a call: whole words, the
 * last one overlapping the one before, never reading or writing outside s[0..n) and d[0..n). */
static inline void copy_short(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;
	uint64_t x;
	uint32_t y;
	if (n >= 8) {
		for (size_t i = 0; i + 8 < n; i += 8) {
			memcpy(&x, sp + i, 8);
			memcpy(dp + i, &x, 8);
		}
		memcpy(&x, sp + n - 8, 8);
		memcpy(dp + n - 8, &x, 8);
	} else if (n >= 4) {
		uint32_t z;
		memcpy(&y, sp, 4);
		memcpy(&z, sp + n - 4, 4);
		memcpy(dp, &y, 4);
		memcpy(dp + n - 4, &z, 4);
	} else if (n) {
		unsigned char a = sp[0], b = sp[n / 2], c = sp[n - 1];
		dp[0] = a;
		dp[n / 2] = b;
		dp[n - 1] = c;
	}
}

/* memcmp(a, b, n) == 0 for the short strings of tokens and stems, without a call: whole words
 * compared as copy_short copies them, never reading outside a[0..n) and b[0..n). */
static inline bool same_short(const void *a, const void *b, size_t n)
{
	const unsigned char *ap = a, *bp = b;
	uint64_t x, y;
	uint32_t u, v, w, z;
	if (n >= 8) {
		for (size_t i = 0; i + 8 < n; i += 8) {
			memcpy(&x, ap + i, 8);
			memcpy(&y, bp + i, 8);
			if (x != y)
				return false;
		}
		memcpy(&x, ap + n - 8, 8);
		memcpy(&y, bp + n - 8, 8);
		return x == y;
	}
	if (n >= 4) {
		memcpy(&u, ap, 4);
		memcpy(&v, bp, 4);
		memcpy(&w, ap + n - 4, 4);
		memcpy(&z, bp + n - 4, 4);
		return !((u ^ v) | (w ^ z));
	}
	return !n || (ap[0] == bp[0] && ap[n / 2] == bp[n / 2] && ap[n - 1] == bp[n - 1]);
}

/*
 * Sixteen bytes at a time where the compiler targets SSE2 (every x86-64): a compare and a
 * movemask per class of bytes, where SWAR takes three or four operations per class for eight
 * bytes. Each mask has bit k set for byte k of the sixteen: exact for every byte. The scans
 * run these over what they can, then the eight-byte SWAR over the rest, so that results do not
 * depend on which ran. VEILLE_NO_SSE2 (a CMake option) leaves them out: the sanitizer build of
 * scripts/test runs the suite on the SWAR code alone.
 */
#if defined(__SSE2__) && !defined(VEILLE_NO_SSE2)
#include <emmintrin.h>
#define SWAR_SSE2 1

static inline __m128i load16(const void *p)
{
	return _mm_loadu_si128((const __m128i *)p);
}

/* The bytes of x equal to c. */
static inline unsigned eq16(__m128i x, unsigned char c)
{
	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8((char)c)));
}

/* The bytes of x below n (1 <= n <= 0xFF, unsigned). */
static inline unsigned below16(__m128i x, unsigned char n)
{
	__m128i top = _mm_set1_epi8((char)(n - 1));
	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(x, top), top));
}

/* The bytes of x at or above 0x80. */
static inline unsigned high16(__m128i x)
{
	return (unsigned)_mm_movemask_epi8(x);
}

/* The index of the lowest bit set in m (nonzero). */
static inline size_t first_bit(unsigned m)
{
	return (size_t)__builtin_ctz(m);
}
#endif

/* The end of the run at s[i] of whole sixteen-byte blocks of ASCII and two-byte UTF-8 sequences
 * (C2..DF then 80..BF: the accented letters of French), each sequence within its block; adds
 * the sequences to *multi unless multi is NULL. i itself without SSE2: the callers go on byte by
 * byte from there. */
static inline size_t utf8_pairs_end(const unsigned char *s, size_t i, size_t len, size_t *multi)
{
#ifdef SWAR_SSE2
	for (; i + 16 <= len; i += 16) {
		__m128i x = load16(s + i);
		unsigned high = high16(x);
		if (!high)
			continue;
		/* as signed bytes: 80..BF are -128..-65, C2..DF are -62..-33 */
		unsigned cont = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(x, _mm_set1_epi8(-64)));
		unsigned lead = (unsigned)_mm_movemask_epi8(_mm_and_si128(
		    _mm_cmpgt_epi8(x, _mm_set1_epi8(-63)), _mm_cmplt_epi8(x, _mm_set1_epi8(-32))));
		if (high != (lead | cont) || (lead & 0x8000) || lead << 1 != cont)
			break;
		if (!multi)
			continue;
		/* the bits of lead counted in place (no popcount instruction in baseline x86-64:
		 * the builtin is a call) */
		unsigned c = lead - (lead >> 1 & 0x5555);
		c = (c & 0x3333) + (c >> 2 & 0x3333);
		c = (c + (c >> 4)) & 0x0F0F;
		*multi += (c + (c >> 8)) & 0x1F;
	}
#else
	(void)s;
	(void)len;
	(void)multi;
#endif
	return i;
}

/* The end of the ASCII run at s[i]: the index of the first byte of s[i..len) at or above 0x80,
 * or len; eight bytes at a time. */
static inline size_t ascii_end(const unsigned char *s, size_t i, size_t len)
{
#ifdef SWAR_SSE2
	for (; i + 16 <= len; i += 16) {
		unsigned m = high16(load16(s + i));
		if (m)
			return i + first_bit(m);
	}
#endif
	for (; i + 8 <= len; i += 8) {
		uint64_t m = load8_le(s + i) & SWAR_HIGHS;
		if (m)
			return i + first_flagged(m);
	}
	while (i < len && s[i] < 0x80)
		i++;
	return i;
}

#endif
