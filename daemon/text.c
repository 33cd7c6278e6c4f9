/*
 * text.c - text normalisation with utf8proc.
 */
#include "text.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "util.h"

char *text_fold(const char *s, size_t len)
{
	struct buf out = {0};
	if (!s || !len)
		return xstrdup("");
	utf8proc_uint8_t *folded = NULL;
	/* NFKC + case fold + strip marks (accents): "Biélorussie" and "BIELORUSSIE" fold alike.
	 * STRIPMARK needs a decomposition, so COMPOSE re-composes what is left afterwards. */
	utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len,
					  &folded,
					  UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
						  UTF8PROC_STRIPMARK | UTF8PROC_IGNORE);
	if (n < 0) {
		/* Invalid UTF-8 somewhere: fold the valid characters only. */
		struct buf clean = {0};
		const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
		for (size_t i = 0; i < len;) {
			utf8proc_int32_t cp;
			utf8proc_ssize_t k =
				utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
			if (k < 0) {
				i++;
				continue;
			}
			buf_append(&clean, p + i, (size_t)k);
			i += (size_t)k;
		}
		char *r = clean.len ? text_fold(clean.p, clean.len) : xstrdup("");
		buf_free(&clean);
		return r;
	}
	/* Collapse white space and control characters. */
	bool space = true; /* drops leading space */
	for (utf8proc_ssize_t i = 0; i < n;) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(folded + i, n - i, &cp);
		if (k <= 0)
			break;
		utf8proc_category_t cat = utf8proc_category(cp);
		bool ws = cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' ||
			  cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
			  cat == UTF8PROC_CATEGORY_ZP || cat == UTF8PROC_CATEGORY_CC ||
			  cat == UTF8PROC_CATEGORY_CF;
		if (ws) {
			space = true;
		} else {
			if (space && out.len)
				buf_putc(&out, ' ');
			space = false;
			buf_append(&out, folded + i, (size_t)k);
		}
		i += k;
	}
	free(folded);
	return buf_steal(&out);
}
