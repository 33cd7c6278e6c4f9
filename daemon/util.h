/*
 * util.h - checked allocation, a growable byte buffer, JSON string output, UTF-8 cuts and time
 * formatting shared by every module.
 */
#ifndef VEILLE_UTIL_H
#define VEILLE_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation that aborts on exhaustion or size overflow (a daemon cannot do useful work without
 * memory; every caller would otherwise repeat the same check). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a new string formatted like printf; never NULL. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer, always NUL-terminated once anything was appended. */
struct buf {
	char *p;
	size_t len;
	size_t cap;
};
/* Makes room for extra more bytes and a NUL after b->len (b->len unchanged). */
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* buf_printf(b, "%.4f", v), the same bytes, without printf for the values scores take. */
void buf_put_fixed4(struct buf *b, double v);
/* Gives up ownership of the bytes: returns them ("" if empty, never NULL) and resets b. */
char *buf_steal(struct buf *b);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

/* Appends s as a JSON string literal (quotes included); NULL appends null. Invalid UTF-8 bytes
 * are written as U+FFFD so the output is always valid JSON. */
void json_put_string(struct buf *b, const char *s);

/* Largest length <= max at which s (of length len) can be cut without splitting a UTF-8
 * sequence. */
size_t utf8_cut(const char *s, size_t len, size_t max);
/* True when s[0..len) is valid UTF-8. */
bool utf8_valid(const char *s, size_t len);

/* A 64-bit hash of s[0..n) for in-memory hash tables, never stored (it may change between
 * versions and hosts): eight bytes at a time, never reading outside s. */
uint64_t hash_bytes(const void *s, size_t n);
/* Mixes the bits of x (a bijection): hash_mix(a * K + b) combines two hashes. */
uint64_t hash_mix(uint64_t x);

/* Formats t (seconds since the epoch) as "YYYY-MM-DDTHH:MM:SSZ"; out must hold 21 bytes. */
void time_iso8601(int64_t t, char out[21]);
/* Parses a duration such as "90", "90s", "15m", "2h", "7d" into seconds. 0 or -EINVAL. */
int parse_duration(const char *s, int64_t *ret_seconds);
/* Parses WHEN of the command-line contract: an ISO-8601 date or time (UTC unless it has an
 * offset) or a duration back from now. 0 or -EINVAL. */
int parse_when(const char *s, int64_t now, int64_t *ret_time);
/* Parses an unsigned decimal integer in [min, max]. 0 or -EINVAL / -ERANGE. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/* Reads a whole file of at most max bytes into a new NUL-terminated buffer. 0 or -errno
 * (-EFBIG when larger than max). */
int read_file(const char *path, size_t max, char **ret_data, size_t *ret_len);

/*
 * Strings, each with two counters the caller gives a meaning to, found by open addressing (at
 * most half full). Zero-initialised it is empty. The keys are the table's own copies.
 */
struct strtab {
	struct strtab_entry {
		char *key;
		uint64_t value, mark;
	} * v; /* n of them, in the order they were added */
	size_t n, cap;
	uint32_t *slots; /* index + 1 into v, 0 = empty; nslots a power of two */
	size_t nslots;
};
/* key's entry, NULL when it has none. */
struct strtab_entry *strtab_find(const struct strtab *t, const char *key);
/* key's entry, added (value and mark 0) when it had none. */
struct strtab_entry *strtab_get(struct strtab *t, const char *key);
/* Empties t, keeping its memory for what comes next. */
void strtab_clear(struct strtab *t);
void strtab_free(struct strtab *t);

/*
 * An object each thread keeps for itself (a buffer, a decompressor, a cache), freed by destroy
 * when the thread exits. The caller holds it in a _Thread_local pointer (the fast path) and
 * registers it here once made: thread_slot_keep(slot, obj) is false when the key cannot be made
 * or set (obj is then the caller's to free, and the thread keeps none: correct, slower).
 * thread_slot_keep(slot, NULL) forgets the calling thread's object without freeing it. A slot is
 * a static initialised with THREAD_SLOT(destroy).
 */
struct thread_slot {
	int state; /* 0 not tried, 1 key made, -1 failed (under a lock of util.c's) */
	pthread_key_t key;
	void (*destroy)(void *);
};
#define THREAD_SLOT(fn)                                                                            \
	{                                                                                          \
		.destroy = (fn)                                                                    \
	}
bool thread_slot_keep(struct thread_slot *slot, void *obj);

/* Current time, seconds since the epoch, and monotonic milliseconds. */
int64_t now_unix(void);
uint64_t now_mono_ms(void);
/* The CPU time thread t has used, in seconds (0 when it cannot be read). */
double thread_cpu_seconds(pthread_t t);

#endif
