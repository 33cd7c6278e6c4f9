/*
 * date.c - dates as feeds write them into seconds since the epoch (UTC).
 *
 * Two readers: ISO 8601 / RFC 3339 / W3C-DTF, strict; and a token reader for everything else
 * (RFC 822/1123 and its many relatives, names of days and months in French, English, German,
 * Italian and Spanish, numeric dd/mm/yyyy). The token reader refuses any word it does not know,
 * so text that is not a date is rejected rather than misread. Times without a zone are UTC.
 * Seconds are computed from the civil date directly (no timegm, no TZ).
 */
#include "date.h"

#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* 0 = Sunday .. 6 = Saturday. */
static int weekday(int y, int m, int d)
{
	int64_t days = days_from_civil(y, m, d);
	int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */
	return (int)(w < 0 ? w + 7 : w);
}

struct when {
	int y, m, d, hh, mm, ss;
	int off; /* seconds east of UTC */
};

static int finish(const struct when *w, int64_t *ret)
{
	if (w->y < 1900 || w->y > 2200 || w->m < 1 || w->m > 12 || w->d < 1 ||
	    w->d > month_days(w->y, w->m) || w->hh < 0 || w->hh > 23 || w->mm < 0 || w->mm > 59 ||
	    w->ss < 0 || w->ss > 60 || w->off < -18 * 3600 || w->off > 18 * 3600)
		return -EINVAL;
	*ret =
	    days_from_civil(w->y, w->m, w->d) * 86400 + w->hh * 3600 + w->mm * 60 + w->ss - w->off;
	return 0;
}

static bool isdig(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads exactly n digits. */
static bool num(const char **p, int n, int *ret)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdig((*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*ret = v;
	return true;
}

/* Numeric offset: +hh, +hhmm, +hh:mm. */
static bool offset(const char **p, int *ret)
{
	const char *q = *p;
	int sign = *q == '-' ? -1 : 1, h, m = 0;
	if (*q != '+' && *q != '-')
		return false;
	q++;
	if (!num(&q, 2, &h))
		return false;
	if (*q == ':')
		q++;
	if (isdig(*q) && !num(&q, 2, &m))
		return false;
	if (h > 18 || m > 59)
		return false;
	*ret = sign * (h * 3600 + m * 60);
	*p = q;
	return true;
}

/* hh:mm[:ss[.frac]] */
static bool clock_time(const char **p, struct when *w)
{
	const char *q = *p;
	int h, m, s = 0;
	if (!num(&q, 2, &h) && !(num(&q, 1, &h)))
		return false;
	if (*q != ':')
		return false;
	q++;
	if (!num(&q, 2, &m))
		return false;
	if (*q == ':') {
		q++;
		if (!num(&q, 2, &s))
			return false;
		if (*q == '.' || *q == ',')
			for (q++; isdig(*q); q++)
				;
	}
	w->hh = h;
	w->mm = m;
	w->ss = s;
	*p = q;
	return true;
}

/* ISO 8601 / RFC 3339 / W3C-DTF: YYYY-MM[-DD[(T| )hh:mm[:ss[.f]][Z|±hh[:mm]]]]. */
static int parse_iso(const char *s, int64_t *ret)
{
	struct when w = {.d = 1};
	const char *p = s;
	if (!num(&p, 4, &w.y) || *p++ != '-' || !num(&p, 2, &w.m))
		return -EINVAL;
	if (*p == '-') {
		p++;
		if (!num(&p, 2, &w.d))
			return -EINVAL;
		if (*p == 'T' || *p == 't' || (*p == ' ' && isdig(p[1]))) {
			p++;
			if (!clock_time(&p, &w))
				return -EINVAL;
			while (*p == ' ')
				p++;
			if (*p == 'Z' || *p == 'z')
				p++;
			else if ((*p == '+' || *p == '-') && !offset(&p, &w.off))
				return -EINVAL;
			else if (strncmp(p, "UTC", 3) == 0 || strncmp(p, "GMT", 3) == 0)
				p += 3;
		}
	}
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p)
		return -EINVAL;
	return finish(&w, ret);
}

/* ---- the token reader --------------------------------------------------------------------- */

struct name {
	const char *s;
	int v;
};

/* Month names and abbreviations (lower case, accents as written). */
static const struct name months[] = {
    /* English */
    {"january", 1},
    {"jan", 1},
    {"february", 2},
    {"feb", 2},
    {"march", 3},
    {"mar", 3},
    {"april", 4},
    {"apr", 4},
    {"may", 5},
    {"june", 6},
    {"jun", 6},
    {"july", 7},
    {"jul", 7},
    {"august", 8},
    {"aug", 8},
    {"september", 9},
    {"sep", 9},
    {"sept", 9},
    {"october", 10},
    {"oct", 10},
    {"november", 11},
    {"nov", 11},
    {"december", 12},
    {"dec", 12},
    /* French */
    {"janvier", 1},
    {"janv", 1},
    {"février", 2},
    {"fevrier", 2},
    {"févr", 2},
    {"fevr", 2},
    {"fév", 2},
    {"fev", 2},
    {"mars", 3},
    {"avril", 4},
    {"avr", 4},
    {"mai", 5},
    {"juin", 6},
    {"juillet", 7},
    {"juil", 7},
    {"août", 8},
    {"aout", 8},
    {"aoû", 8},
    {"septembre", 9},
    {"octobre", 10},
    {"novembre", 11},
    {"décembre", 12},
    {"decembre", 12},
    {"déc", 12},
    /* German */
    {"januar", 1},
    {"jänner", 1},
    {"jän", 1},
    {"februar", 2},
    {"märz", 3},
    {"maerz", 3},
    {"mär", 3},
    {"mrz", 3},
    {"juni", 6},
    {"juli", 7},
    {"oktober", 10},
    {"okt", 10},
    {"dezember", 12},
    {"dez", 12},
    /* Italian */
    {"gennaio", 1},
    {"gen", 1},
    {"febbraio", 2},
    {"marzo", 3},
    {"aprile", 4},
    {"maggio", 5},
    {"mag", 5},
    {"giugno", 6},
    {"giu", 6},
    {"luglio", 7},
    {"lug", 7},
    {"agosto", 8},
    {"ago", 8},
    {"settembre", 9},
    {"set", 9},
    {"ottobre", 10},
    {"ott", 10},
    {"dicembre", 12},
    {"dic", 12},
    /* Spanish */
    {"enero", 1},
    {"ene", 1},
    {"febrero", 2},
    {"abril", 4},
    {"abr", 4},
    {"mayo", 5},
    {"junio", 6},
    {"julio", 7},
    {"septiembre", 9},
    {"setiembre", 9},
    {"octubre", 10},
    {"noviembre", 11},
    {"diciembre", 12},
};

/* Day names (0 = Sunday). */
static const struct name wdays[] = {
    {"sunday", 0},
    {"sun", 0},
    {"monday", 1},
    {"mon", 1},
    {"tuesday", 2},
    {"tue", 2},
    {"tues", 2},
    {"wednesday", 3},
    {"wed", 3},
    {"thursday", 4},
    {"thu", 4},
    {"thur", 4},
    {"thurs", 4},
    {"friday", 5},
    {"fri", 5},
    {"saturday", 6},
    {"sat", 6},
    /* French */
    {"dimanche", 0},
    {"dim", 0},
    {"lundi", 1},
    {"lun", 1},
    {"mardi", 2},
    {"mar", 2},
    {"mercredi", 3},
    {"mer", 3},
    {"jeudi", 4},
    {"jeu", 4},
    {"vendredi", 5},
    {"ven", 5},
    {"samedi", 6},
    {"sam", 6},
    /* German */
    {"sonntag", 0},
    {"so", 0},
    {"montag", 1},
    {"mo", 1},
    {"dienstag", 2},
    {"di", 2},
    {"mittwoch", 3},
    {"mi", 3},
    {"donnerstag", 4},
    {"do", 4},
    {"freitag", 5},
    {"fr", 5},
    {"samstag", 6},
    {"sonnabend", 6},
    {"sa", 6},
    /* Italian */
    {"domenica", 0},
    {"dom", 0},
    {"lunedì", 1},
    {"lunedi", 1},
    {"martedì", 2},
    {"martedi", 2},
    {"mercoledì", 3},
    {"mercoledi", 3},
    {"giovedì", 4},
    {"giovedi", 4},
    {"gio", 4},
    {"venerdì", 5},
    {"venerdi", 5},
    {"sabato", 6},
    {"sab", 6},
    /* Spanish */
    {"domingo", 0},
    {"lunes", 1},
    {"martes", 2},
    {"miércoles", 3},
    {"miercoles", 3},
    {"mié", 3},
    {"mie", 3},
    {"jueves", 4},
    {"jue", 4},
    {"viernes", 5},
    {"vie", 5},
    {"sábado", 6},
    {"sabado", 6},
    {"sáb", 6},
};

/* Named zones, offsets in minutes east of UTC. */
static const struct name zones[] = {
    {"gmt", 0},	    {"ut", 0},	   {"utc", 0},	  {"z", 0},	 {"wet", 0},	{"west", 60},
    {"bst", 60},    {"ist", 60},   {"cet", 60},	  {"mez", 60},	 {"cest", 120}, {"mesz", 120},
    {"eet", 120},   {"eest", 180}, {"msk", 180},  {"est", -300}, {"edt", -240}, {"cst", -360},
    {"cdt", -300},  {"mst", -420}, {"mdt", -360}, {"pst", -480}, {"pdt", -420}, {"akst", -540},
    {"akdt", -480}, {"hst", -600}, {"ast", -240}, {"adt", -180}, {"nzst", 720}, {"nzdt", 780},
    {"aest", 600},  {"aedt", 660}, {"jst", 540},  {"kst", 540},
};

/* Words that may sit between the parts of a date. */
static const char *const fillers[] = {"at", "à",   "a",	  "um",	 "uhr", "le", "de",   "del", "el",
				      "du", "den", "der", "the", "of",	"h",  "alle", "ore"};

/* The names of each table chained by first byte: first[c] is the first entry that starts with
 * c, next[i] the entry after i that starts alike (-1 ends a chain). A date's words were looked
 * up in some three hundred names each; a chain holds a few. Built once, read by any thread. */
struct name_index {
	const struct name *t;
	short first[256];
	short next[256];
};

static struct name_index month_index = {.t = months}, wday_index = {.t = wdays},
			 zone_index = {.t = zones};
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

_Static_assert(ARRAY_SIZE(months) <= 256 && ARRAY_SIZE(wdays) <= 256 && ARRAY_SIZE(zones) <= 256,
	       "name_index holds 256 names");

static void index_build(struct name_index *x, size_t n)
{
	for (size_t c = 0; c < 256; c++)
		x->first[c] = -1;
	for (size_t i = n; i-- > 0;) {
		unsigned char c = (unsigned char)x->t[i].s[0];
		x->next[i] = x->first[c];
		x->first[c] = (short)i;
	}
}

static void indexes_build(void)
{
	index_build(&month_index, ARRAY_SIZE(months));
	index_build(&wday_index, ARRAY_SIZE(wdays));
	index_build(&zone_index, ARRAY_SIZE(zones));
}

/* The first entry of x's table spelled w (not empty), or -1. The second characters (a NUL for a
 * word of one) are compared before the call: most entries with w's first differ there. */
static int lookup(const struct name_index *x, const char *w)
{
	for (int i = x->first[(unsigned char)w[0]]; i >= 0; i = x->next[i])
		if (x->t[i].s[1] == w[1] && strcmp(x->t[i].s, w) == 0)
			return i;
	return -1;
}

#define MAX_NUMS 4

struct tokens {
	int nums[MAX_NUMS];
	int numlen[MAX_NUMS];
	int nnum;
	int month_only;	  /* month from a word that is not also a day name, 0 when none */
	int ambiguous[2]; /* words that are both (French/Italian/Spanish "mar") */
	int nambiguous;
	int wday; /* -1 when absent */
	bool have_time, have_zone, pm, am;
	struct when w;
	/* numeric date a/b/c */
	bool have_numdate;
	int na, nb, nc, nalen;
};

/* Lower-cases ASCII letters of a word in place. */
static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static bool word_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static int word(struct tokens *t, char *w)
{
	lower(w);
	size_t n = strlen(w);
	if (n > 0 && w[n - 1] == '.')
		w[--n] = '\0';
	if (w[0] == 'p' && (strcmp(w, "pm") == 0 || strcmp(w, "p.m") == 0)) {
		t->pm = true;
		return 0;
	}
	if (w[0] == 'a' && (strcmp(w, "am") == 0 || strcmp(w, "a.m") == 0)) {
		t->am = true;
		return 0;
	}
	pthread_once(&index_once, indexes_build);
	int mi = lookup(&month_index, w);
	int wi = lookup(&wday_index, w);
	if (mi >= 0 && wi >= 0) {
		if (t->nambiguous >= 2)
			return -EINVAL;
		t->ambiguous[t->nambiguous++] = months[mi].v * 8 + wdays[wi].v;
		return 0;
	}
	if (mi >= 0) {
		if (t->month_only)
			return -EINVAL;
		t->month_only = months[mi].v;
		return 0;
	}
	if (wi >= 0) {
		if (t->wday >= 0 && t->wday != wdays[wi].v)
			return -EINVAL;
		t->wday = wdays[wi].v;
		return 0;
	}
	int zi = lookup(&zone_index, w);
	if (zi >= 0 && t->have_time && !t->have_zone) {
		t->w.off = zones[zi].v * 60;
		t->have_zone = true;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(fillers); i++)
		if (fillers[i][0] == w[0] && strcmp(w, fillers[i]) == 0)
			return 0;
	return -EINVAL;
}

/* Parses one token starting with a digit; advances *p. */
static int number_token(struct tokens *t, const char **p)
{
	const char *q = *p;
	const char *start = q;
	while (isdig(*q))
		q++;
	size_t len = (size_t)(q - start);
	/* a clock time */
	if (*q == ':' && len <= 2) {
		if (t->have_time || !clock_time(p, &t->w))
			return -EINVAL;
		t->have_time = true;
		return 0;
	}
	/* 11h30 (French) */
	if ((*q == 'h' || *q == 'H') && len <= 2 && isdig(q[1]) && isdig(q[2]) &&
	    !word_char((unsigned char)q[3])) {
		if (t->have_time)
			return -EINVAL;
		int h = 0;
		for (const char *r = start; r < q; r++)
			h = h * 10 + (*r - '0');
		t->w.hh = h;
		t->w.mm = (q[1] - '0') * 10 + (q[2] - '0');
		t->w.ss = 0;
		t->have_time = true;
		*p = q + 3;
		return 0;
	}
	/* a numeric date: a/b/c, a.b.c, a-b-c */
	if ((*q == '/' || *q == '.' || *q == '-') && isdig(q[1]) && len <= 4) {
		char sep = *q;
		int v[3] = {0, 0, 0};
		int vl[3] = {0, 0, 0};
		const char *r = start;
		for (int i = 0; i < 3; i++) {
			if (i > 0) {
				if (*r != sep)
					return -EINVAL;
				r++;
			}
			const char *s0 = r;
			while (isdig(*r) && r - s0 < 5)
				v[i] = v[i] * 10 + (*r++ - '0');
			vl[i] = (int)(r - s0);
			if (vl[i] == 0)
				return -EINVAL;
		}
		if (t->have_numdate || word_char((unsigned char)*r) || isdig(*r))
			return -EINVAL;
		t->have_numdate = true;
		t->na = v[0];
		t->nb = v[1];
		t->nc = v[2];
		t->nalen = vl[0];
		if (vl[0] != 4 && vl[2] != 4 && vl[2] != 2)
			return -EINVAL;
		*p = r;
		return 0;
	}
	if (len > 4)
		return -EINVAL;
	int v = 0;
	for (const char *r = start; r < q; r++)
		v = v * 10 + (*r - '0');
	/* ordinal suffixes and the German "10." */
	if (*q == '.') {
		q++;
	} else {
		static const char *const suffix[] = {"st", "nd", "rd", "th", "er", "eme", "º"};
		for (size_t i = 0; i < ARRAY_SIZE(suffix); i++) {
			size_t sl = strlen(suffix[i]);
			if (strncmp(q, suffix[i], sl) == 0 && !word_char((unsigned char)q[sl])) {
				q += sl;
				break;
			}
		}
	}
	if (word_char((unsigned char)*q))
		return -EINVAL;
	if (t->nnum >= MAX_NUMS)
		return -EINVAL;
	t->nums[t->nnum] = v;
	t->numlen[t->nnum++] = (int)len;
	*p = q;
	return 0;
}

static int full_year(int y, int len)
{
	if (len == 2)
		return y < 50 ? 2000 + y : 1900 + y;
	return len == 4 ? y : -1;
}

/* Resolves a numeric date (dd/mm/yyyy by default; mm/dd when only that is possible or when it
 * alone agrees with the day name). */
static int numeric_date(struct tokens *t)
{
	if (t->nalen == 4) { /* yyyy/mm/dd */
		t->w.y = t->na;
		t->w.m = t->nb;
		t->w.d = t->nc;
		return 0;
	}
	int y = full_year(t->nc, t->nc >= 100 ? 4 : 2);
	int a = t->na, b = t->nb;
	bool dm_ok = b >= 1 && b <= 12 && a >= 1 && a <= month_days(y, b);
	bool md_ok = a >= 1 && a <= 12 && b >= 1 && b <= month_days(y, a);
	t->w.y = y;
	if (dm_ok && md_ok && t->wday >= 0 && weekday(y, b, a) != t->wday &&
	    weekday(y, a, b) == t->wday)
		dm_ok = false;
	if (dm_ok) {
		t->w.d = a;
		t->w.m = b;
	} else if (md_ok) {
		t->w.d = b;
		t->w.m = a;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int parse_tokens(const char *s, int64_t *ret)
{
	struct tokens t = {.wday = -1};
	const char *p = s;
	while (*p) {
		unsigned char c = (unsigned char)*p;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ';' ||
		    c == '|') {
			p++;
			continue;
		}
		if ((c == '+' || c == '-') && isdig(p[1]) && t.have_time) {
			int off;
			if (!offset(&p, &off))
				return -EINVAL;
			if (t.have_zone && t.w.off != 0) /* GMT+0100 adds; a second zone is odd */
				return -EINVAL;
			t.w.off = off;
			t.have_zone = true;
			continue;
		}
		const char *close;
		if (c == '(' && t.have_zone && (close = strchr(p, ')'))) {
			/* RFC 5322's comment after the zone, "+0200 (CEST)": its name says again
			 * what the offset said. */
			p = close + 1;
			continue;
		}
		if (c == '-' || c == '(' || c == ')') {
			p++;
			continue;
		}
		if (isdig(c)) {
			if (number_token(&t, &p) < 0)
				return -EINVAL;
			continue;
		}
		if (word_char(c)) {
			char w[32];
			size_t n = 0;
			while (word_char((unsigned char)*p) || *p == '.') {
				if (n + 1 >= sizeof(w))
					return -EINVAL;
				w[n++] = *p++;
				if (p[-1] == '.')
					break;
			}
			w[n] = '\0';
			if (word(&t, w) < 0)
				return -EINVAL;
			continue;
		}
		return -EINVAL;
	}

	/* Which word is the month: an unambiguous month name, else the last ambiguous word. */
	int month = t.month_only;
	for (int i = 0; i < t.nambiguous && i < (int)ARRAY_SIZE(t.ambiguous); i++) {
		bool is_month = !month && i == t.nambiguous - 1;
		if (is_month) {
			month = t.ambiguous[i] / 8;
		} else {
			int wd = t.ambiguous[i] % 8;
			if (t.wday >= 0 && t.wday != wd)
				return -EINVAL;
			t.wday = wd;
		}
	}

	if (t.have_numdate) {
		if (month || t.nnum > 0 || numeric_date(&t) < 0)
			return -EINVAL;
	} else {
		if (!month)
			return -EINVAL;
		t.w.m = month;
		/* numbers: a day (1-2 digits) and a year (4 digits, or 2 after the day) */
		int day = -1, year = -1;
		for (int i = 0; i < t.nnum; i++) {
			if (t.numlen[i] == 4 || t.numlen[i] == 3) {
				if (year >= 0 || t.numlen[i] != 4)
					return -EINVAL;
				year = t.nums[i];
			} else if (day < 0) {
				day = t.nums[i];
			} else if (year < 0 && t.numlen[i] == 2) {
				year = full_year(t.nums[i], 2);
			} else {
				return -EINVAL;
			}
		}
		if (day < 0 || year < 0)
			return -EINVAL;
		t.w.d = day;
		t.w.y = year;
	}
	if (t.pm || t.am) {
		if (!t.have_time || t.w.hh < 1 || t.w.hh > 12)
			return -EINVAL;
		if (t.pm && t.w.hh != 12)
			t.w.hh += 12;
		if (t.am && t.w.hh == 12)
			t.w.hh = 0;
	}
	return finish(&t.w, ret);
}

int date_parse(const char *s, int64_t *ret)
{
	if (!s)
		return -EINVAL;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	size_t n = strlen(s);
	if (n == 0 || n > 128)
		return -EINVAL;
	if (n >= 7 && isdig(s[0]) && isdig(s[1]) && isdig(s[2]) && isdig(s[3]) && s[4] == '-') {
		/* ISO 8601 (and "2020-05-03 10:00:00 +0200", read by the token reader) */
		if (parse_iso(s, ret) == 0)
			return 0;
		if (n < 10)
			return -EINVAL;
	}
	return parse_tokens(s, ret);
}
