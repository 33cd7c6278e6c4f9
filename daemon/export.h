/*
 * export.h - stored items as JSON Lines, CSV (RFC 4180) or an Atom feed, and the files the
 * nightly export leaves behind.
 *
 * The writers append to a struct buf record by record, so the caller streams any number of items
 * to its file. Every record carries the same fields in every format (the field table in
 * export.c): adding a field to struct store_record and to that table adds it to JSON Lines and CSV.
 * The writers never log and never fail.
 */
#ifndef VEILLE_EXPORT_H
#define VEILLE_EXPORT_H

#include <stdbool.h>
#include <stdint.h>

struct buf;
struct store_record;

enum export_format { EXPORT_JSONL, EXPORT_CSV, EXPORT_ATOM, EXPORT_FORMAT_MAX };

/* "jsonl", "csv" or "atom" to *ret: 0, or -EINVAL. */
int export_format_parse(const char *name, enum export_format *ret);
/* The format's name, also the extension of its files. */
const char *export_format_name(enum export_format f);

/*
 * What goes before the first record: the CSV header line, the Atom feed's head (feed_id: its
 * atom:id, title: its title, now: its atom:updated). Nothing for JSON Lines. Strings borrowed.
 */
void export_begin(enum export_format f, const char *feed_id, const char *title, int64_t now,
		  struct buf *out);
/* One record (borrowed). */
void export_record(enum export_format f, const struct store_record *r, struct buf *out);
/* What goes after the last record (the Atom feed's end). */
void export_end(enum export_format f, struct buf *out);

/*
 * The nightly files: DIR/veille-YYYY-MM-DD.FORMAT, or veille-YYYY-MM-DD.N.FORMAT when that day
 * already has one (local dates). export_dated_name returns that name (new string, no folder) for
 * the given day and sequence number seq (0 = the plain name).
 */
#define EXPORT_TMP_PREFIX ".veille-export."
#define EXPORT_TMP_STALE  86400
char *export_dated_name(int year, int month, int day, unsigned seq, enum export_format f);
/*
 * Removes from dir the nightly files (names as above, any format) dated before the first of the
 * last keep_days days (today, local time of now, included); other files are left alone.
 * keep_days 0 keeps everything. Also removes the named temporary files (EXPORT_TMP_PREFIX...)
 * older than EXPORT_TMP_STALE seconds: left by an export killed on a file system without
 * O_TMPFILE (a running export's file is younger). Calls removed(name, arg) for each file removed
 * (may be NULL). Returns the number removed, or -errno when dir cannot be read or a file cannot be
 * removed (files removed before that stay removed).
 */
int export_prune_dir(const char *dir, unsigned keep_days, int64_t now,
		     void (*removed)(const char *name, void *arg), void *arg);

#endif
