/*
 * date.h - dates as feeds write them into seconds since the epoch (UTC).
 */
#ifndef VEILLE_DATE_H
#define VEILLE_DATE_H

#include <stdint.h>

/* RFC 822/1123 (2- or 4-digit years, named and numeric zones), RFC 3339 / ISO 8601 / W3C-DTF,
 * French and other common languages' day and month names, numeric dd/mm/yyyy. Returns 0 and sets
 * *ret, or -EINVAL when the text is not a date it can read with certainty. */
int date_parse(const char *s, int64_t *ret);

#endif
