/* SPDX-License-Identifier: MIT */
/*
 * value_int.h: private to value.c and value_net.c.
 *
 * The error-message helpers and the digit scanner both halves share.
 * value.c owns numbers, durations, sizes, rates and names; value_net.c owns
 * socket addresses, host:port and CIDR prefixes.  Nothing outside these two
 * files includes this.
 */
#ifndef RINGMTA_VALUE_INT_H
#define RINGMTA_VALUE_INT_H

#include "value.h"

#define VALUE_QUOTE_MAX 64 /* bytes of a value quoted in an error */

/* value.c: write a reason into why (if why is not NULL and whylen > 0) and
 * return err. */
int value_why(char *why, size_t whylen, int err, const char *fmt, ...)
    ATTR_FMT(4, 5);
/* value.c: a printable, bounded copy of s for error messages, in buf;
 * returns buf. */
const char *value_quote(const char *s, char buf[VALUE_QUOTE_MAX + 4]);
/* value.c: parse [0-9]+ at *pp, advancing it.  -EINVAL: no digit;
 * -ERANGE: does not fit in 64 bits. */
int value_digits(const char **pp, uint64_t *r);

#endif
