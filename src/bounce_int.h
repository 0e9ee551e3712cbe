/* SPDX-License-Identifier: MIT */
/*
 * bounce_int.h: what bounce.c (names, buffers, cleaning, dates, wrapping,
 * the seeded generator, the RFC 3461 decisions) and bounce_mime.c (the
 * multipart/report writer) share.  Not for other modules: everything else
 * goes through bounce.h.
 */
#ifndef RINGMTA_BOUNCE_INT_H
#define RINGMTA_BOUNCE_INT_H

#include "bounce.h"

/* A growing heap buffer; p is NULL until the first byte. */
struct bounce_buf {
	char *p;
	size_t len, cap;
};

/* Append n bytes (aborts on allocation failure, like xrealloc). */
void bounce_buf_put(struct bounce_buf *b, const void *s, size_t n);
void bounce_buf_puts(struct bounce_buf *b, const char *s);
void bounce_buf_putc(struct bounce_buf *b, char c);
/* Short fixed texts only (< 512 bytes formatted; longer is a bug). */
void bounce_buf_printf(struct bounce_buf *b, const char *fmt, ...)
    ATTR_FMT(2, 3);
void bounce_buf_free(struct bounce_buf *b);

/* Remote text -> dst[BOUNCE_DIAG_MAX + 1], printable ASCII; the length. */
size_t bounce_clean_text(char *dst, const char *src, size_t n);
/* An address -> dst[BOUNCE_ADDR_MAX + 1] (UTF-8 kept if utf8). */
size_t bounce_clean_addr(char *dst, const char *src, bool utf8);
/* A name or token -> dst[max + 1]: [A-Za-z0-9-._:[]+], else '?'. */
size_t bounce_clean_name(char *dst, const char *src, size_t n, size_t max);
/* Whether s[0..n) holds a byte >= 0x80. */
bool bounce_has_8bit(const char *s, size_t n);
/* The RFC 3463 status of a recipient into dst[16], class from action. */
void bounce_status(char *dst, const char *st, enum bounce_action action);
/* RFC 5322 date-time (UTC) into buf[40]; -EINVAL out of range. */
int bounce_date(char *buf, int64_t t);

/*
 * Append s[0..n) at column *col within 78 columns: indent NULL folds a
 * header (CRLF before a space run), else text lines start with indent;
 * hard splits words too long for a line.
 */
void bounce_wrap(struct bounce_buf *b, size_t *col, const char *s, size_t n,
		 const char *indent, bool hard);
/* "Name: value" CRLF, folded. */
void bounce_field(struct bounce_buf *b, const char *name, const char *v,
		  size_t n, bool hard);
/* A paragraph at column 0, wrapped, ending in CRLF. */
void bounce_para(struct bounce_buf *b, const char *s);

/* The seeded generator of boundaries and Message-IDs (splitmix64). */
struct bounce_rng {
	uint64_t s;
};
void bounce_rng_init(struct bounce_rng *r, const uint8_t *seed, size_t n);
uint64_t bounce_rng_next(struct bounce_rng *r);

#endif
