/* SPDX-License-Identifier: MIT */
/*
 * smtp_path.h: the pieces of smtp_path.c's RFC 5321 grammar that
 * smtp_parse.c's command and parameter parsers use.  Internal to the two:
 * other modules use smtp_parse.h (smtpp_command(), smtpp_path_str(),
 * smtpp_addr_str(), the xtext functions), which smtp_path.c implements in
 * part.  Pure functions on (pointer, length); nothing is allocated.
 */
#ifndef RINGMTA_SMTP_PATH_H
#define RINGMTA_SMTP_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_parse.h"

/* ASCII letter. */
bool smtpp_is_alpha(unsigned char c);

/* RFC 5321 atext (RFC 5322 3.2.3). */
bool smtpp_is_atext(unsigned char c);

/* a[0..alen) equals the NUL-terminated b, ASCII case-insensitively. */
bool smtpp_memcaseeq(const char *a, size_t alen, const char *b);

/*
 * Parse 1*DIGIT fully into *v_r; saturates at UINT64_MAX.  Returns 0,
 * -EBADMSG if not digits, -ERANGE (value still saturated) on overflow.
 */
int smtpp_parse_u64(const char *s, size_t len, uint64_t *v_r);

/*
 * Parse a Domain (sub-domain *("." sub-domain), U-labels allowed and
 * flagged in *flags) or an address literal at s.  Sets *used_r; returns 0,
 * -EBADMSG or -EMSGSIZE.  The domain ends at the first byte that cannot
 * continue it.
 */
int smtpp_parse_domain(const char *s, size_t len, size_t *used_r,
		       unsigned *flags);

/*
 * Parse "<...>" at s (a MAIL reverse-path when is_mail, else a RCPT
 * forward-path) into p.  Returns 0 (*used_r past '>'), -EBADMSG (syntax),
 * -EMSGSIZE (too long) or -EPERM (a@b@c, flagged).
 */
int smtpp_parse_path(const char *s, size_t len, bool is_mail, size_t *used_r,
		     struct smtpp_path *p);

#endif
