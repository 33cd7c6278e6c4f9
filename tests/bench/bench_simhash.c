/*
 * bench_simhash.c - SimHashes of texts read from stdin, for scripts/simhash-threshold's
 * measurement, and the time one takes.
 *
 * Usage: bench_simhash < RECORDS   (records separated by NUL bytes; each is one text)
 * Prints one line per record: the SimHash as 32 hex digits (0 when the text is too short) and the
 * number of normalised words; then, on stderr, the time per text.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dedup.h"
#include "util.h"

int main(void)
{
	struct buf in = {0};
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		buf_append(&in, chunk, n);
	if (!in.p) {
		fprintf(stderr, "bench_simhash: no input\n");
		return 2;
	}
	struct timespec t0, t1;
	double total = 0;
	size_t count = 0, bytes = 0;
	for (size_t off = 0; off < in.len;) {
		const char *text = in.p + off;
		size_t len = strlen(text);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		struct dedup_simhash h;
		dedup_simhash(text, &h);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		total += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		size_t words = 0;
		for (const char *p = text; *p;) {
			p += strspn(p, " \t\n\r");
			if (*p)
				words++;
			p += strcspn(p, " \t\n\r");
		}
		printf("%016" PRIx64 "%016" PRIx64 " %zu\n", h.v[1], h.v[0], words);
		count++;
		bytes += len;
		off += len + 1;
	}
	fprintf(stderr, "bench_simhash: %zu texts, %zu bytes, %.1f us/text\n", count, bytes,
		count ? total / (double)count * 1e6 : 0.0);
	buf_free(&in);
	return 0;
}
