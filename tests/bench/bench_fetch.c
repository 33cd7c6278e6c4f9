/*
 * bench_fetch.c - throughput of fetch against the fixture feed server on 127.0.0.1.
 *
 *   bench_fetch FEEDSERVER N [CONNECTIONS]
 *
 * Writes N feed files of ~50 KB into a temporary directory, starts FEEDSERVER on it (ephemeral
 * port), then runs two cycles of N transfers through one struct fetch: cold (no validators, every
 * answer a 200 with the body, gzip-encoded) and warm (ETag and Last-Modified from the cold
 * cycle, every answer a 304). Prints wall time, requests/s and CPU time of this process for each.
 * CONNECTIONS (default 32) is both the total and the per-host connection limit.
 */
#include "fetch.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct slot {
	char *url;
	char *etag, *last_modified;
	long status;
	enum fetch_error error;
};

static struct event_base *base;
static size_t pending;

static void done_cb(const struct fetch_result *r, void *arg)
{
	struct slot *s = arg;
	s->status = r->status;
	s->error = r->error;
	if (r->etag && !s->etag)
		s->etag = xstrdup(r->etag);
	if (r->last_modified && !s->last_modified)
		s->last_modified = xstrdup(r->last_modified);
	if (--pending == 0)
		event_base_loopbreak(base);
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static int cycle(struct fetch *f, struct slot *slots, size_t n, bool warm)
{
	uint64_t t0 = now_mono_ms();
	double c0 = cpu_seconds();
	pending = n;
	for (size_t i = 0; i < n; i++) {
		struct fetch_request req = {.url = slots[i].url};
		if (warm) {
			req.etag = slots[i].etag;
			req.last_modified = slots[i].last_modified;
		}
		if (fetch_start(f, &req, done_cb, &slots[i]) != 0) {
			fprintf(stderr, "bench_fetch: fetch_start failed\n");
			return -1;
		}
	}
	event_base_dispatch(base);
	double wall = (double)(now_mono_ms() - t0) / 1000.0;
	double cpu = cpu_seconds() - c0;
	size_t ok = 0, expect = warm ? 304 : 200;
	for (size_t i = 0; i < n; i++)
		ok += slots[i].error == FETCH_OK && slots[i].status == (long)expect;
	printf("%s: N=%zu %zu/%zu answered %zu, wall %.3f s, %.0f req/s, cpu %.3f s\n",
	       warm ? "warm" : "cold", n, ok, n, expect, wall, wall > 0 ? (double)n / wall : 0.0,
	       cpu);
	return ok == n ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench_fetch FEEDSERVER N [CONNECTIONS]\n");
		return 2;
	}
	uint64_t n, conns = 32;
	if (parse_uint(argv[2], 1, 100000, &n) != 0 ||
	    (argc > 3 && parse_uint(argv[3], 1, 1024, &conns) != 0)) {
		fprintf(stderr, "bench_fetch: bad N or CONNECTIONS\n");
		return 2;
	}
	char dir[] = "/tmp/bench_fetch.XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	struct buf doc = {0};
	buf_puts(&doc,
		 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\n");
	for (int i = 0; doc.len < 50000; i++)
		buf_printf(&doc,
			   "<item><title>Article %d</title><link>http://example.org/a/%d</link>"
			   "<description>Texte de l'article %d, rédigé pour le banc d'essai.</"
			   "description></item>\n",
			   i, i, i);
	buf_puts(&doc, "</channel></rss>\n");
	for (uint64_t i = 0; i < n; i++) {
		char *p = xasprintf("%s/feed-%05llu.xml", dir, (unsigned long long)i);
		FILE *fp = fopen(p, "w");
		if (!fp || fwrite(doc.p, 1, doc.len, fp) != doc.len || fclose(fp) != 0) {
			perror(p);
			return 1;
		}
		free(p);
	}

	char *port_file = xasprintf("%s/port", dir);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		execl(argv[1], argv[1], "--root", dir, "--port", "0", "--port-file", port_file,
		      (char *)NULL);
		_exit(127);
	}
	char *port = NULL;
	size_t len;
	for (int i = 0; i < 500 && read_file(port_file, 64, &port, &len) != 0; i++)
		usleep(10000);
	if (!port) {
		fprintf(stderr, "bench_fetch: feedserver did not start\n");
		kill(pid, SIGTERM);
		return 1;
	}
	port[strcspn(port, "\n")] = '\0';

	struct slot *slots = xcalloc(n, sizeof(*slots));
	for (uint64_t i = 0; i < n; i++)
		slots[i].url =
		    xasprintf("http://127.0.0.1:%s/feed-%05llu.xml", port, (unsigned long long)i);
	fetch_global_init();
	base = event_base_new();
	struct fetch_options o = {.max_connections = (unsigned)conns,
				  .max_host_connections = (unsigned)conns};
	struct fetch *f = fetch_new(base, &o);
	printf("feed %zu bytes, %llu connections\n", doc.len, (unsigned long long)conns);
	int rc = cycle(f, slots, n, false) | cycle(f, slots, n, true);

	fetch_free(f);
	event_base_free(base);
	fetch_global_cleanup();
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	for (uint64_t i = 0; i < n; i++) {
		char *p = xasprintf("%s/feed-%05llu.xml", dir, (unsigned long long)i);
		unlink(p);
		free(p);
		free(slots[i].url);
		free(slots[i].etag);
		free(slots[i].last_modified);
	}
	unlink(port_file);
	rmdir(dir);
	free(port_file);
	free(port);
	free(slots);
	buf_free(&doc);
	return rc ? 1 : 0;
}
