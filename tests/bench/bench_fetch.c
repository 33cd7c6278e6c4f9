/*
 * bench_fetch.c - throughput of fetch against the fixture feed server on 127.0.0.1.
 *
 *   bench_fetch FEEDSERVER N [CONNECTIONS]
 *
 * Writes one feed file of ~50 KB into a temporary directory and N names for it (hard links, so
 * N = 10000 costs no disk), starts FEEDSERVER on it (ephemeral port), then runs two cycles of N
 * transfers through one struct fetch: cold (no validators, every answer a 200 with the body,
 * gzip-encoded) and warm (ETag and Last-Modified from the cold cycle, every answer a 304). Like
 * the engine, it keeps at most CONNECTIONS transfers started and starts the next as one
 * completes (libcurl's total timeout runs from the moment a transfer is added). Prints, for each
 * cycle, wall time, requests/s, and the CPU time of this process (the fetcher) and of the server.
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
static struct fetch *fetcher;
static struct slot *slots;
static size_t nslots, next_slot, pending;
static bool warm, start_failed;
static pid_t server_pid;

static void start_next(void);

static void done_cb(const struct fetch_result *r, void *arg)
{
	struct slot *s = arg;
	s->status = r->status;
	s->error = r->error;
	if (r->etag && !s->etag)
		s->etag = xstrdup(r->etag);
	if (r->last_modified && !s->last_modified)
		s->last_modified = xstrdup(r->last_modified);
	start_next();
	if (--pending == 0)
		event_base_loopbreak(base);
}

static void start_next(void)
{
	if (next_slot >= nslots)
		return;
	struct slot *s = &slots[next_slot++];
	struct fetch_request req = {.url = s->url};
	if (warm) {
		req.etag = s->etag;
		req.last_modified = s->last_modified;
	}
	if (fetch_start(fetcher, &req, done_cb, s) != 0) {
		start_failed = true;
		event_base_loopbreak(base);
	}
}

/* CPU seconds (user + system) the server used so far, from /proc; -1 when unknown. */
static double server_cpu(void)
{
	char path[64], *stat = NULL;
	size_t len;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)server_pid);
	if (read_file(path, 4096, &stat, &len) != 0)
		return -1;
	/* Fields 14 and 15 (utime, stime) follow the ")" closing the command name. */
	const char *p = strrchr(stat, ')');
	unsigned long long ut = 0, st = 0;
	int ok = p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			     &st) == 2;
	free(stat);
	return ok ? (double)(ut + st) / (double)sysconf(_SC_CLK_TCK) : -1;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static int cycle(size_t n, size_t conns, bool is_warm)
{
	uint64_t t0 = now_mono_ms();
	double c0 = cpu_seconds(), s0 = server_cpu();
	warm = is_warm;
	pending = nslots = n;
	next_slot = 0;
	for (size_t i = 0; i < conns && i < n; i++)
		start_next();
	if (!start_failed)
		event_base_dispatch(base);
	if (start_failed) {
		fprintf(stderr, "bench_fetch: fetch_start failed\n");
		return -1;
	}
	double wall = (double)(now_mono_ms() - t0) / 1000.0;
	double cpu = cpu_seconds() - c0, scpu = server_cpu() - s0;
	size_t ok = 0, expect = warm ? 304 : 200;
	for (size_t i = 0; i < n; i++)
		ok += slots[i].error == FETCH_OK && slots[i].status == (long)expect;
	printf("%s: N=%zu %zu/%zu answered %zu, wall %.3f s, %.0f req/s, fetcher cpu %.3f s "
	       "(%.0f us/request), server cpu %.2f s\n",
	       warm ? "warm" : "cold", n, ok, n, expect, wall, wall > 0 ? (double)n / wall : 0.0,
	       cpu, cpu * 1e6 / (double)n, scpu);
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
	char *first = xasprintf("%s/feed-%05llu.xml", dir, 0ull);
	FILE *fp = fopen(first, "w");
	if (!fp || fwrite(doc.p, 1, doc.len, fp) != doc.len || fclose(fp) != 0) {
		perror(first);
		return 1;
	}
	for (uint64_t i = 1; i < n; i++) {
		char *p = xasprintf("%s/feed-%05llu.xml", dir, (unsigned long long)i);
		if (link(first, p) != 0) {
			perror(p);
			return 1;
		}
		free(p);
	}
	free(first);

	char *port_file = xasprintf("%s/port", dir);
	pid_t pid = fork();
	server_pid = pid;
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

	slots = xcalloc(n, sizeof(*slots));
	for (uint64_t i = 0; i < n; i++)
		slots[i].url =
		    xasprintf("http://127.0.0.1:%s/feed-%05llu.xml", port, (unsigned long long)i);
	fetch_global_init();
	base = event_base_new();
	struct fetch_options o = {.max_connections = (unsigned)conns,
				  .max_host_connections = (unsigned)conns};
	fetcher = fetch_new(base, &o);
	printf("feed %zu bytes, %llu connections\n", doc.len, (unsigned long long)conns);
	int rc = cycle(n, conns, false);
	rc |= cycle(n, conns, true);

	fetch_free(fetcher);
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
