/*
 * bounds.h - every bound veille puts on untrusted input, in one place.
 *
 * Feeds, HTTP bodies and reference articles come from outside; each length, count and depth they
 * can reach is capped here once and checked where the data enters.
 */
#ifndef VEILLE_BOUNDS_H
#define VEILLE_BOUNDS_H

#define VEILLE_MAX_BODY		  (8u << 20)  /* decoded HTTP body, bytes (default, configurable) */
#define VEILLE_MAX_BODY_CEILING	  (64u << 20) /* the largest max_body the configuration accepts */
#define VEILLE_MAX_FEEDS	  20000	      /* feeds in one configuration */
#define VEILLE_MAX_TOPICS	  64	      /* topics in one configuration */
#define VEILLE_MAX_REFERENCES	  256	      /* reference articles per topic */
#define VEILLE_MAX_REFERENCE_SIZE (1u << 20)  /* one reference article, bytes */
#define VEILLE_MAX_ITEMS	  2000	      /* items kept from one feed document */
#define VEILLE_MAX_URL		  2048	      /* a URL, bytes */
#define VEILLE_MAX_TITLE	  1024	      /* an item title, bytes (cut at a UTF-8 boundary) */
#define VEILLE_MAX_SHORT	  1024	      /* id, author: bytes */
#define VEILLE_MAX_TEXT		  (256u << 10) /* summary or content, bytes */
#define VEILLE_MAX_DEPTH	  256	       /* XML/HTML element nesting */
#define VEILLE_MAX_NAME		  128	       /* feed and topic names */
#define VEILLE_MAX_TERMS	  8	       /* contributing terms reported with a verdict */
#define VEILLE_MAX_TERM		  64	       /* bytes of one reported term */
#define VEILLE_URL_PRINT	  (VEILLE_MAX_URL + 16) /* a URL as printed in an alert */

#endif
