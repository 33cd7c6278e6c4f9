/*
 * config.h - the INI configuration: what to watch, where to keep it, how to judge it.
 *
 * A config is built whole and validated before anyone uses it; reload builds a new one and swaps
 * it in only when valid. Relative paths are resolved against the configuration file's folder.
 */
#ifndef VEILLE_CONFIG_H
#define VEILLE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config_feed {
	char *name; /* [feed NAME] */
	char *url;
	int64_t interval; /* seconds; the global interval unless overridden */
	int line;	  /* where the section starts, for messages */
};

struct config_topic {
	char *name;	   /* [topic NAME] */
	char **references; /* expanded, absolute paths, sorted */
	size_t nreferences;
	double threshold;
	int line;
};

struct config {
	char *path; /* the file it was read from */
	char *dir;  /* its folder: base of relative paths */
	char *database;
	char *aliases; /* spelling-variant file shared by topics, NULL when none */
	char *user_agent;
	char *contact;	  /* URL or mail address put in the User-Agent */
	char *alerts;	  /* auto, journal, syslog or none */
	int64_t interval; /* default poll interval, seconds */
	int64_t min_interval, max_interval;
	int64_t timeout, connect_timeout; /* seconds */
	uint64_t max_body;
	unsigned max_connections, max_host_connections;
	/* [retention]: how long items are kept after they were fetched, seconds; 0 = forever */
	int64_t keep_relevant, keep_irrelevant;
	/* [export]: the nightly export (veillectl export --nightly) */
	char *export_dir;     /* where its dated files go (default: exports/ beside the database) */
	char *export_format;  /* jsonl, csv or atom */
	bool export_relevant; /* only items relevant to a topic */
	unsigned export_keep_days; /* dated files kept, days; 0 = all */
	struct config_feed *feeds;
	size_t nfeeds;
	struct config_topic *topics;
	size_t ntopics;
};

/*
 * Reads and validates the configuration at path. Returns a new config (free with config_free) or
 * NULL; then *ret_errors holds one "FILE:LINE: message" line per problem (new string).
 * Checks syntax, values, that feed URLs are http(s), and that reference globs match readable files;
 * the topics themselves are built by the caller.
 */
struct config *config_load(const char *path, char **ret_errors);
void config_free(struct config *c);

#endif
