/*
 * veilled.c - the veille daemon: runs in the foreground under systemd (Type=notify).
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alert.h"
#include "config.h"
#include "engine.h"
#include "fetch.h"
#include "ingest.h"
#include "log.h"
#include "notify.h"
#include "store.h"
#include "util.h"

#define DEFAULT_CONFIG VEILLE_CONFDIR "/veille.conf"
#define STATUS_EVERY_S 5

struct daemon {
	struct event_base *base;
	struct engine *engine;
	const char *config_path;
	bool once;
	bool db_silent; /* the last watchdog check found the database not answering */
};

static void usage(FILE *out)
{
	fprintf(out, "usage: veilled [-c FILE] [--once] [--check] [-v]\n"
		     "  -c, --config FILE  configuration (default " DEFAULT_CONFIG ")\n"
		     "      --once         fetch every feed once, process everything, exit\n"
		     "      --check        validate the configuration and reference articles\n"
		     "  -v, --verbose      log debug messages\n"
		     "      --version      print the version\n");
}

static void print_errors(const char *errors)
{
	fputs(errors, stderr);
}

static int check(const char *path)
{
	char *errors = NULL;
	struct config *c = config_load(path, &errors);
	if (!c) {
		print_errors(errors);
		free(errors);
		return 1;
	}
	struct topics t;
	char *err = NULL;
	if (topics_build(c, &t, &err) < 0) {
		fprintf(stderr, "%s\n", err);
		free(err);
		config_free(c);
		return 1;
	}
	printf("%s: ok: %zu feeds, %zu topics, database %s\n", c->path, c->nfeeds, c->ntopics,
	       c->database);
	topics_clear(&t);
	config_free(c);
	return 0;
}

/* Creates the database's folder when it is missing (a first run from a checkout). */
static void make_db_dir(const char *db)
{
	char *copy = xstrdup(db);
	char *dir = dirname(copy);
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		log_warn("cannot create %s", dir);
	free(copy);
}

static void status(struct daemon *d)
{
	char line[400];
	engine_status(d->engine, line, sizeof(line));
	notify_status("%s", line);
}

/* store_open upgrading the database's schema: the first start after an upgrade of veille may
 * rebuild the full-text index (seconds per 100,000 items), so systemd is asked every second for
 * UPGRADE_EXTEND_S more to start (or reload), and an existing database's upgrade is logged once. */
#define UPGRADE_EXTEND_S 30
static void upgrade_cb(int from, int to)
{
	static int logged;
	notify_extend_timeout(UPGRADE_EXTEND_S * 1000000ull);
	if (from > 0 && logged != from) {
		logged = from;
		log_info(
		    "database: upgrading its schema from version %d to %d; this start may take "
		    "a while on a large database",
		    from, to);
		notify_status("upgrading the database schema from version %d to %d", from, to);
	}
}

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	(void)what;
	log_info("%s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	notify_stopping();
	engine_stop(d->engine);
	event_base_loopexit(d->base, NULL);
}

static void reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	char *errors = NULL;
	(void)sig;
	(void)what;
	notify_reloading();
	log_info("SIGHUP received, reloading %s", d->config_path);
	struct config *c = config_load(d->config_path, &errors);
	/* The sink is chosen before the engine takes c; it changes only when the reload succeeds.
	 */
	enum alert_sink sink = c ? alert_sink_from(c->alerts) : ALERT_NONE;
	if (!c) {
		/* One line per problem, then keep running on the old configuration. */
		for (char *save = NULL, *l = strtok_r(errors, "\n", &save); l;
		     l = strtok_r(NULL, "\n", &save))
			log_warnx("reload refused: %s", l);
		free(errors);
	} else if (engine_reload(d->engine, c, &errors) < 0) {
		log_warnx("reload refused, keeping the running configuration: %s", errors);
		free(errors);
	} else {
		alert_close();
		alert_open(sink, "veilled");
		engine_flush_alerts(d->engine); /* to the new sink */
		log_info("configuration reloaded");
	}
	status(d);
	notify_ready();
}

static void status_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	status(arg);
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	(void)fd;
	(void)what;
	/* Only while the loop turns (we are in it) and the database answers. Logged when that
	 * changes, not at every tick: systemd restarts us if it lasts a whole WatchdogSec. */
	if (engine_healthy(d->engine)) {
		if (d->db_silent)
			log_notice("database answers again: watchdog fed");
		d->db_silent = false;
		notify_watchdog();
	} else {
		if (!d->db_silent)
			log_warnx("database does not answer: watchdog not fed");
		d->db_silent = true;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"once", no_argument, NULL, 'o'},
					     {"check", no_argument, NULL, 'k'},
					     {"verbose", no_argument, NULL, 'v'},
					     {"help", no_argument, NULL, 'h'},
					     {"version", no_argument, NULL, 'V'},
					     {NULL, 0, NULL, 0}};
	struct daemon d = {.config_path = DEFAULT_CONFIG};
	bool do_check = false;
	int ch;
	log_init("veilled");
	while ((ch = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			d.config_path = optarg;
			break;
		case 'o':
			d.once = true;
			break;
		case 'k':
			do_check = true;
			break;
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("veilled %s\n", VEILLE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "veilled: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (do_check)
		return check(d.config_path);

	char *errors = NULL;
	struct config *c = config_load(d.config_path, &errors);
	if (!c) {
		print_errors(errors);
		free(errors);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	fetch_global_init();
	make_db_dir(c->database);
	alert_open(alert_sink_from(c->alerts), "veilled");
	d.base = event_base_new();
	if (!d.base)
		fatalx("cannot create the event loop");
	char *err = NULL;
	store_set_upgrade_hook(upgrade_cb, 1000);
	d.engine = engine_new(d.base, c, d.once, &err);
	if (!d.engine) {
		fprintf(stderr, "veilled: %s\n", err);
		free(err);
		event_base_free(d.base);
		fetch_global_cleanup();
		return 1;
	}
	struct event *ev_term = evsignal_new(d.base, SIGTERM, stop_cb, &d);
	struct event *ev_int = evsignal_new(d.base, SIGINT, stop_cb, &d);
	struct event *ev_hup = evsignal_new(d.base, SIGHUP, reload_cb, &d);
	struct event *ev_status = event_new(d.base, -1, EV_PERSIST, status_cb, &d);
	struct event *ev_wd = NULL;
	struct timeval every = {STATUS_EVERY_S, 0};
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	evsignal_add(ev_hup, NULL);
	event_add(ev_status, &every);
	uint64_t wd = notify_watchdog_usec();
	if (wd) {
		struct timeval half = {(time_t)(wd / 2 / 1000000), (suseconds_t)(wd / 2 % 1000000)};
		ev_wd = event_new(d.base, -1, EV_PERSIST, watchdog_cb, &d);
		event_add(ev_wd, &half);
	}
	engine_start(d.engine);
	status(&d);
	notify_ready();
	log_info("started%s", d.once ? " for one cycle" : "");
	uint64_t t0 = now_mono_ms();
	event_base_dispatch(d.base);
	int rc = d.once && engine_failed(d.engine) ? 1 : 0;
	if (d.once) {
		/* Where the cycle's time went: the main thread fetches and stores, the worker
		 * parses, skips what is stored, hashes, scores and looks for each new item's story,
		 * the store's own thread copies the WAL back into the database (scripts/bench
		 * reports the three). */
		struct timespec main_cpu = {0};
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &main_cpu);
		log_info("cycle done in %.2f s; CPU: main thread (fetch, store) %.2f s, worker "
			 "(parse, triage, digests, scores, stories) %.2f s, checkpoints %.2f s",
			 (double)(now_mono_ms() - t0) / 1e3,
			 (double)main_cpu.tv_sec + (double)main_cpu.tv_nsec / 1e9,
			 engine_worker_cpu(d.engine), engine_checkpoint_cpu(d.engine));
	}
	engine_free(d.engine);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	event_free(ev_status);
	if (ev_wd)
		event_free(ev_wd);
	event_base_free(d.base);
	fetch_global_cleanup();
	alert_close();
	return rc;
}
