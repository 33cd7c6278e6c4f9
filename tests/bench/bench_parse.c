/*
 * bench_parse.c - parse throughput of feed_parse over a set of feed documents, next to a bare
 * libxml2 streaming read (what `xmllint --stream --noout` does) of the same bytes.
 *
 * usage: bench_parse [-t SECONDS] FILE...
 * Every file is read into memory first; each pass parses all of them; passes repeat until
 * SECONDS (default 3) have elapsed. Prints MB/s and items/s for feed_parse and MB/s for the
 * bare reader.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlreader.h>

#include "feed.h"
#include "bounds.h"
#include "util.h"

struct doc {
	char *data;
	size_t len;
};

static void quiet_cb(void *arg, xmlErrorPtr e)
{
	(void)arg;
	(void)e;
}

/* One streaming read of every node, as xmllint --stream --noout does. */
static void bare_read(const struct doc *d)
{
	xmlTextReaderPtr r =
	    xmlReaderForMemory(d->data, (int)d->len, NULL, NULL,
			       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!r)
		return;
	xmlTextReaderSetStructuredErrorHandler(r, quiet_cb, NULL);
	while (xmlTextReaderRead(r) == 1)
		;
	xmlFreeTextReader(r);
}

int main(int argc, char **argv)
{
	double seconds = 3;
	int first = 1;
	if (argc > 2 && strcmp(argv[1], "-t") == 0) {
		seconds = strtod(argv[2], NULL);
		first = 3;
	}
	if (first >= argc || seconds <= 0) {
		fprintf(stderr, "usage: bench_parse [-t SECONDS] FILE...\n");
		return 2;
	}
	size_t n = (size_t)(argc - first), total = 0;
	struct doc *docs = xcalloc(n, sizeof(*docs));
	for (size_t i = 0; i < n; i++) {
		int r = read_file(argv[first + (int)i], VEILLE_MAX_BODY_CEILING, &docs[i].data,
				  &docs[i].len);
		if (r < 0) {
			fprintf(stderr, "bench_parse: %s: %s\n", argv[first + (int)i],
				strerror(-r));
			return 1;
		}
		total += docs[i].len;
	}

	uint64_t t0 = now_mono_ms(), items = 0, passes = 0;
	size_t failed = 0;
	do {
		for (size_t i = 0; i < n; i++) {
			struct feed_doc *doc = NULL;
			char err[256];
			if (feed_parse(docs[i].data, docs[i].len, NULL, NULL, &doc, err,
				       sizeof(err)) == 0) {
				items += doc->nitems;
				feed_doc_free(doc);
			} else if (passes == 0) {
				failed++;
			}
		}
		passes++;
	} while (now_mono_ms() - t0 < (uint64_t)(seconds * 1000));
	double feed_s = (double)(now_mono_ms() - t0) / 1000;

	uint64_t t1 = now_mono_ms(), bare_passes = 0;
	do {
		for (size_t i = 0; i < n; i++)
			bare_read(&docs[i]);
		bare_passes++;
	} while (now_mono_ms() - t1 < (uint64_t)(seconds * 1000));
	double bare_s = (double)(now_mono_ms() - t1) / 1000;

	double mb = (double)total / 1e6;
	printf("documents %zu, %.2f MB, %zu rejected (not a feed / nothing recoverable)\n", n, mb,
	       failed);
	printf("feed_parse: %llu passes in %.2f s: %.1f MB/s, %.0f items/s, %.2f ms per pass\n",
	       (unsigned long long)passes, feed_s, mb * (double)passes / feed_s,
	       (double)items / feed_s, feed_s * 1000 / (double)passes);
	printf("bare xmlReader: %llu passes in %.2f s: %.1f MB/s, %.2f ms per pass\n",
	       (unsigned long long)bare_passes, bare_s, mb * (double)bare_passes / bare_s,
	       bare_s * 1000 / (double)bare_passes);
	for (size_t i = 0; i < n; i++)
		free(docs[i].data);
	free(docs);
	return 0;
}
