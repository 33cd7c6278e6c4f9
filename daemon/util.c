/*
 * util.c - allocation, buffers, JSON strings, UTF-8 cuts, time and number parsing.
 */
#include "util.h"

#include "swar.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static _Noreturn void oom(void)
{
	static const char msg[] = "veille: out of memory\n";
	ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)r;
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		oom();
	size_t bytes = n * size;
	void *q = realloc(p, bytes ? bytes : 1);
	if (!q)
		oom();
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	struct buf b = {0};
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	b.cap = (size_t)n + 1;
	b.p = xmalloc(b.cap);
	va_start(ap, fmt);
	vsnprintf(b.p, b.cap, fmt, ap);
	va_end(ap);
	return b.p;
}

void buf_reserve(struct buf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->len - 1)
		oom();
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->p = xreallocarray(b->p, cap, 1);
	b->cap = cap;
}

void buf_append(struct buf *b, const void *data, size_t len)
{
	buf_reserve(b, len);
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void buf_putc(struct buf *b, char c)
{
	buf_append(b, &c, 1);
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	/* Formatted once into the room the buffer has (at least 64 bytes), and again only when it
	 * did not fit: most calls format one number or a short string. */
	buf_reserve(b, 63);
	size_t room = b->cap - b->len;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b->p + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->p[b->len] = '\0';
		return;
	}
	if ((size_t)n >= room) {
		buf_reserve(b, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/*
 * printf's "%.4f" rounds the exact binary value of v to four decimals, a tie to the even last
 * digit (the default rounding mode). v = m 2^-s (m < 2^53, from frexp) times 10^4 fits 128 bits
 * when |v| < 2^32: the quotient and remainder by 2^s give the rounding exactly. Anything else
 * (infinities, NaN, larger values, no 128-bit integers) goes to buf_printf.
 */
void buf_put_fixed4(struct buf *b, double v)
{
#ifdef __SIZEOF_INT128__
	int ex;
	double f = frexp(v, &ex); /* v = f 2^ex, 0.5 <= |f| < 1 */
	if (isfinite(v) && ex <= 32) {
		bool neg = signbit(v);
		uint64_t m = (uint64_t)ldexp(neg ? -f : f, 53); /* exact: 53 bits */
		unsigned s = (unsigned)(53 - ex);		/* v = m 2^-s, s >= 21 */
		unsigned __int128 n = (unsigned __int128)m * 10000u, q = 0;
		if (s < 128) {
			unsigned __int128 one = 1, r = n & ((one << s) - 1), half = one << (s - 1);
			q = n >> s;
			if (r > half || (r == half && (q & 1)))
				q++;
		} /* else v * 10^4 < 2^67 / 2^128: rounds to 0 */
		/* q < 2^46 (|v| < 2^32, ex <= 32): 64-bit division, not the 128-bit one's call */
		uint64_t q64 = (uint64_t)q, whole = q64 / 10000, frac = q64 % 10000;
		char tmp[32], *p = tmp + sizeof(tmp);
		for (int i = 0; i < 4; i++, frac /= 10)
			*--p = (char)('0' + frac % 10);
		*--p = '.';
		do {
			*--p = (char)('0' + whole % 10);
			whole /= 10;
		} while (whole);
		if (neg)
			*--p = '-';
		buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
		return;
	}
#endif
	buf_printf(b, "%.4f", v);
}

char *buf_steal(struct buf *b)
{
	char *p = b->p ? b->p : xstrdup("");
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		i = ascii_end(p, utf8_pairs_end(p, i, len, NULL), len);
		if (i == len)
			break;
		/* a 2-byte sequence (é, à, ç...) without a call */
		if (p[i] >= 0xc2 && p[i] <= 0xdf && i + 1 < len && (p[i + 1] & 0xc0) == 0x80) {
			i += 2;
			continue;
		}
		size_t n = utf8_seq(p + i, len - i);
		if (!n)
			return false;
		i += n;
	}
	return true;
}

uint64_t hash_mix(uint64_t x)
{
	x ^= x >> 32;
	x *= 0xD6E8FEB86659FD93ull;
	x ^= x >> 32;
	x *= 0xD6E8FEB86659FD93ull;
	x ^= x >> 32;
	return x;
}

static uint64_t read64(const unsigned char *p)
{
	uint64_t x;
	memcpy(&x, p, 8);
	return x;
}

static uint64_t read32(const unsigned char *p)
{
	uint32_t x;
	memcpy(&x, p, 4);
	return x;
}

uint64_t hash_bytes(const void *s, size_t n)
{
	const unsigned char *p = s;
	const uint64_t k = 0x9E3779B97F4A7C15ull;
	uint64_t h = n * k, x;
	if (n >= 8) {
		/* whole words, then the last eight bytes (overlapping the previous word) */
		for (; n > 8; n -= 8, p += 8) {
			uint64_t y = h ^ read64(p) * k;
			h = (y << 29 | y >> 35) * 0xBF58476D1CE4E5B9ull;
		}
		x = read64(p + n - 8);
	} else if (n >= 4) {
		x = read32(p) | read32(p + n - 4) << 32;
	} else {
		x = n ? p[0] | (uint64_t)p[n / 2] << 8 | (uint64_t)p[n - 1] << 16 : 0;
	}
	return hash_mix(h ^ x * k);
}

size_t utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t cut = max;
	/* Back up over continuation bytes to the start of the sequence that straddles max. */
	while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
		cut--;
	return cut;
}

void json_put_string(struct buf *b, const char *s)
{
	if (!s) {
		buf_puts(b, "null");
		return;
	}
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s);
	buf_putc(b, '"');
	for (size_t i = 0; i < len;) {
		/* The characters that stand for themselves, a run at a time. */
		size_t run = i;
		for (;;) {
			if (run < len && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' &&
			    p[run] != '\\') {
				run++;
				continue;
			}
			size_t n = run < len && p[run] >= 0x80 ? utf8_seq(p + run, len - run) : 0;
			if (!n)
				break;
			run += n;
		}
		if (run > i) {
			buf_append(b, p + i, run - i);
			i = run;
			continue;
		}
		unsigned char c = p[i];
		if (c >= 0x80) { /* the run stopped at it: not valid UTF-8 */
			buf_puts(b, "\xef\xbf\xbd");
			i++;
			continue;
		}
		switch (c) {
		case '"':
			buf_puts(b, "\\\"");
			break;
		case '\\':
			buf_puts(b, "\\\\");
			break;
		case '\n':
			buf_puts(b, "\\n");
			break;
		case '\r':
			buf_puts(b, "\\r");
			break;
		case '\t':
			buf_puts(b, "\\t");
			break;
		default: { /* a control character: the run took every other one */
			char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
			buf_puts(b, esc);
		}
		}
		i++;
	}
	buf_putc(b, '"');
}

void time_iso8601(int64_t t, char out[21])
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm) || strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 21, "1970-01-01T00:00:00Z");
}

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int parse_duration(const char *s, int64_t *ret_seconds)
{
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno == ERANGE || v > INT32_MAX)
		return -EINVAL;
	int64_t mult;
	if (*end == '\0' || strcmp(end, "s") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		mult = 60;
	else if (strcmp(end, "h") == 0)
		mult = 3600;
	else if (strcmp(end, "d") == 0)
		mult = 86400;
	else if (strcmp(end, "w") == 0)
		mult = 7 * 86400;
	else
		return -EINVAL;
	*ret_seconds = (int64_t)v * mult;
	return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char **p, int n, int *ret)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -EINVAL;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*ret = v;
	return 0;
}

int parse_when(const char *s, int64_t now, int64_t *ret_time)
{
	int64_t secs;
	if (!s || !*s)
		return -EINVAL;
	/* A duration back from now: digits followed by a unit (a bare number is a year). */
	if (strlen(s) < 4 || strspn(s, "0123456789") < 4) {
		if (parse_duration(s, &secs) < 0)
			return -EINVAL;
		*ret_time = now - secs;
		return 0;
	}
	const char *p = s;
	int y, mo = 1, d = 1, h = 0, mi = 0, se = 0;
	if (digits(&p, 4, &y) < 0)
		return -EINVAL;
	if (*p == '-') {
		p++;
		if (digits(&p, 2, &mo) < 0)
			return -EINVAL;
		if (*p == '-') {
			p++;
			if (digits(&p, 2, &d) < 0)
				return -EINVAL;
		}
	}
	int64_t off = 0;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &mi) < 0)
			return -EINVAL;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &se) < 0)
				return -EINVAL;
			if (*p == '.')
				for (p++; *p >= '0' && *p <= '9'; p++)
					;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
			if (digits(&p, 2, &oh) < 0)
				return -EINVAL;
			if (*p == ':')
				p++;
			if (*p && digits(&p, 2, &om) < 0)
				return -EINVAL;
			off = sign * (oh * 3600 + om * 60);
		}
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -EINVAL;
	*ret_time =
	    days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se - off;
	return 0;
}

int read_file(const char *path, size_t max, char **ret_data, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return -EISDIR;
	}
	struct buf b = {0};
	char chunk[65536];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = -errno;
			close(fd);
			buf_free(&b);
			return e;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > max) {
			close(fd);
			buf_free(&b);
			return -EFBIG;
		}
		buf_append(&b, chunk, (size_t)n);
	}
	close(fd);
	if (ret_len)
		*ret_len = b.len;
	*ret_data = buf_steal(&b);
	return 0;
}

int64_t now_unix(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

uint64_t now_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

double thread_cpu_seconds(pthread_t t)
{
	clockid_t id;
	struct timespec ts;
	if (pthread_getcpuclockid(t, &id) != 0 || clock_gettime(id, &ts) != 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The slot of key in t (nslots > 0): the one holding it, or the empty one where it goes. */
static size_t strtab_slot(const struct strtab *t, const char *key)
{
	size_t mask = t->nslots - 1;
	size_t i = (size_t)hash_bytes(key, strlen(key)) & mask;
	while (t->slots[i] && strcmp(t->v[t->slots[i] - 1].key, key))
		i = (i + 1) & mask;
	return i;
}

struct strtab_entry *strtab_find(const struct strtab *t, const char *key)
{
	if (!t->n)
		return NULL;
	size_t i = strtab_slot(t, key);
	return t->slots[i] ? &t->v[t->slots[i] - 1] : NULL;
}

struct strtab_entry *strtab_get(struct strtab *t, const char *key)
{
	if (2 * (t->n + 1) > t->nslots) {
		size_t n = t->nslots ? 2 * t->nslots : 256;
		free(t->slots);
		t->slots = xcalloc(n, sizeof(*t->slots));
		t->nslots = n;
		for (size_t k = 0; k < t->n; k++)
			t->slots[strtab_slot(t, t->v[k].key)] = (uint32_t)(k + 1);
	}
	size_t i = strtab_slot(t, key);
	if (t->slots[i])
		return &t->v[t->slots[i] - 1];
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 256;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->n] = (struct strtab_entry){xstrdup(key), 0, 0};
	t->slots[i] = (uint32_t)(++t->n);
	return &t->v[t->n - 1];
}

void strtab_clear(struct strtab *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].key);
	t->n = 0;
	if (t->slots)
		memset(t->slots, 0, t->nslots * sizeof(*t->slots));
}

void strtab_free(struct strtab *t)
{
	strtab_clear(t);
	free(t->v);
	free(t->slots);
	*t = (struct strtab){0};
}

/* Slots' keys are made on a thread's first object, rarely: one lock serves them all. */
static pthread_mutex_t slot_mu = PTHREAD_MUTEX_INITIALIZER;

bool thread_slot_keep(struct thread_slot *slot, void *obj)
{
	pthread_mutex_lock(&slot_mu);
	if (!slot->state)
		slot->state = pthread_key_create(&slot->key, slot->destroy) == 0 ? 1 : -1;
	bool ok = slot->state == 1;
	pthread_mutex_unlock(&slot_mu);
	return ok && pthread_setspecific(slot->key, obj) == 0;
}
