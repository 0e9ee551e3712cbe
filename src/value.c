/* SPDX-License-Identifier: MIT */
/*
 * value.c: configuration value parsers and their inverse formatters.
 *
 * Owns the syntax of numbers, durations, sizes, booleans, enums, rates,
 * host and domain names and tokens, and the wording of their errors;
 * value_net.c does socket addresses, host:port and CIDR prefixes.  Must not
 * do I/O, DNS lookups or logging, and must not keep state: the only library
 * call with side effects is libidn2's allocation, freed at once.  Strings
 * in error messages are quoted through value_quote(), so peer or operator
 * bytes can never break a log line.
 */
#include "value.h"

#include <errno.h>
#include <idn2.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "value_int.h"

struct value_unit {
	const char *name;
	uint64_t mult;
};

static const struct value_unit value_duration_units[] = {
    {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
};

static const struct value_unit value_size_units[] = {
    {"T", 1ull << 40},
    {"G", 1ull << 30},
    {"M", 1ull << 20},
    {"K", 1ull << 10},
};

/* See value_int.h. */
int
value_why(char *why, size_t whylen, int err, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* See value_int.h. */
const char *
value_quote(const char *s, char buf[VALUE_QUOTE_MAX + 4])
{
	size_t i;

	for (i = 0; s[i] != '\0' && i < VALUE_QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	buf[i] = '\0';
	if (s[i] != '\0')
		memcpy(buf + i, "...", 4);
	return buf;
}

/* See value_int.h. */
int
value_digits(const char **pp, uint64_t *r)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*pp = p;
	*r = v;
	return 0;
}

/* Parse a number followed by one of units (or none: bare_mult). */
static int
value_scaled(const char *s, const struct value_unit *units, size_t nunits,
	     bool icase, uint64_t bare_mult, uint64_t *r)
{
	const char *p = s;
	uint64_t v, mult = 0;
	int err;

	if ((err = value_digits(&p, &v)) < 0)
		return err;
	if (*p == '\0')
		mult = bare_mult;
	for (size_t i = 0; i < nunits && mult == 0; i++)
		if ((icase ? strcasecmp : strcmp)(p, units[i].name) == 0)
			mult = units[i].mult;
	if (mult == 0)
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*r = v * mult;
	return 0;
}

/* See value.h. */
int
value_duration(const char *s, uint64_t *ms_r, char *why, size_t whylen)
{
	char q[VALUE_QUOTE_MAX + 4];
	int err;

	if (*s == '\0')
		return value_why(why, whylen, -EINVAL, "empty duration");
	err = value_scaled(s, value_duration_units,
			   nitems(value_duration_units), false, 1000, ms_r);
	if (err == -ERANGE)
		return value_why(why, whylen, err, "duration '%s' is too large",
				 value_quote(s, q));
	if (err < 0)
		return value_why(
		    why, whylen, err,
		    "bad duration '%s': expected a number followed by ms, s, "
		    "m, h or d",
		    value_quote(s, q));
	return 0;
}

/* See value.h. */
int
value_size(const char *s, uint64_t *bytes_r, char *why, size_t whylen)
{
	char q[VALUE_QUOTE_MAX + 4];
	int err;

	if (*s == '\0')
		return value_why(why, whylen, -EINVAL, "empty size");
	err = value_scaled(s, value_size_units, nitems(value_size_units), true,
			   1, bytes_r);
	if (err == -ERANGE)
		return value_why(why, whylen, err, "size '%s' is too large",
				 value_quote(s, q));
	if (err < 0)
		return value_why(
		    why, whylen, err,
		    "bad size '%s': expected a number of bytes, optionally "
		    "followed by K, M, G or T",
		    value_quote(s, q));
	return 0;
}

/* See value.h. */
int
value_uint(const char *s, uint64_t min, uint64_t max, uint64_t *r, char *why,
	   size_t whylen)
{
	char q[VALUE_QUOTE_MAX + 4];
	const char *p = s;
	uint64_t v;
	int err;

	err = value_digits(&p, &v);
	if (err == -EINVAL || (err == 0 && *p != '\0'))
		return value_why(why, whylen, -EINVAL,
				 "bad number '%s': expected a whole number",
				 value_quote(s, q));
	if (err < 0 || v < min || v > max)
		return value_why(why, whylen, -ERANGE,
				 "%s is out of range: expected %" PRIu64
				 " to %" PRIu64,
				 value_quote(s, q), min, max);
	*r = v;
	return 0;
}

/* See value.h. */
int
value_bool(const char *s, bool *r, char *why, size_t whylen)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	char q[VALUE_QUOTE_MAX + 4];

	for (size_t i = 0; i < nitems(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*r = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*r = false;
			return 0;
		}
	}
	return value_why(
	    why, whylen, -EINVAL,
	    "bad boolean '%s': expected yes, no, true, false, on, off, 1 or 0",
	    value_quote(s, q));
}

/* See value.h. */
int
value_enum(const char *s, const char *const *names, int *r, char *why,
	   size_t whylen)
{
	char q[VALUE_QUOTE_MAX + 4], list[VALUE_WHY_MAX];
	size_t o = 0;

	for (int i = 0; names[i] != NULL; i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*r = i;
			return 0;
		}
	}
	list[0] = '\0';
	for (int i = 0; names[i] != NULL && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
				      i == 0                 ? ""
				      : names[i + 1] == NULL ? " or "
							     : ", ",
				      names[i]);
	return value_why(why, whylen, -EINVAL, "bad value '%s': expected %s",
			 value_quote(s, q), list);
}

/* See value.h. */
int
value_rate(const char *s, uint64_t bare_period_ms, struct value_rate *r,
	   char *why, size_t whylen)
{
	char q[VALUE_QUOTE_MAX + 4], per[VALUE_QUOTE_MAX + 2];
	const char *p = s, *slash;
	int err;

	err = value_digits(&p, &r->count);
	if (err == -ERANGE)
		return value_why(why, whylen, err, "rate '%s' is too large",
				 value_quote(s, q));
	if (err < 0 || (*p != '\0' && *p != '/'))
		return value_why(
		    why, whylen, -EINVAL,
		    "bad rate '%s': expected N or N/period, as in 100/1m",
		    value_quote(s, q));
	if (r->count == 0)
		return value_why(
		    why, whylen, -ERANGE,
		    "rate count must be at least 1 (leave the value empty for "
		    "unlimited)");
	if (*p == '\0') {
		r->period_ms = bare_period_ms;
		return 0;
	}
	slash = p++;
	if (strlen(p) > VALUE_QUOTE_MAX)
		return value_why(why, whylen, -EINVAL, "rate period too long");
	snprintf(per, sizeof(per), "%s%s", *p >= '0' && *p <= '9' ? "" : "1",
		 p);
	if (*p == '\0' || value_duration(per, &r->period_ms, NULL, 0) < 0)
		return value_why(
		    why, whylen, -EINVAL,
		    "bad rate period '%s': expected a duration such as s, 1m "
		    "or 30s",
		    value_quote(slash + 1, q));
	if (r->period_ms == 0)
		return value_why(why, whylen, -ERANGE,
				 "rate period must be positive");
	return 0;
}

static bool
value_is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-';
}

/* Check LDH labels of 1-63, total 1-253, no trailing dot. */
static int
value_ldh(const char *s, const char *what, char *why, size_t whylen)
{
	char q[VALUE_QUOTE_MAX + 4];
	size_t len = strlen(s), lab = 0;

	if (len == 0 || len > VALUE_HOST_MAX)
		return value_why(why, whylen, -EINVAL,
				 "bad %s '%s': must be 1 to 253 bytes long",
				 what, value_quote(s, q));
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.' || c == '\0') {
			if (lab == 0 || lab > 63)
				return value_why(
				    why, whylen, -EINVAL,
				    "bad %s '%s': each label must be 1 to 63 "
				    "bytes long",
				    what, value_quote(s, q));
			if (s[i - 1] == '-' || s[i - lab] == '-')
				return value_why(
				    why, whylen, -EINVAL,
				    "bad %s '%s': a label starts or ends "
				    "with '-'",
				    what, value_quote(s, q));
			lab = 0;
			continue;
		}
		if (!value_is_ldh(c))
			return value_why(
			    why, whylen, -EINVAL,
			    "bad %s '%s': only letters, digits, '-' and '.' "
			    "are allowed",
			    what, value_quote(s, q));
		lab++;
	}
	return 0;
}

/* See value.h. */
int
value_hostname(const char *s, char *why, size_t whylen)
{
	char q[VALUE_QUOTE_MAX + 4];
	const char *last;
	int err;

	if ((err = value_ldh(s, "host name", why, whylen)) < 0)
		return err;
	last = strrchr(s, '.');
	last = last != NULL ? last + 1 : s;
	if (strspn(last, "0123456789") == strlen(last))
		return value_why(
		    why, whylen, -EINVAL,
		    "bad host name '%s': the last label is all digits",
		    value_quote(s, q));
	return 0;
}

/* See value.h. */
int
value_domain(const char *s, char *out, size_t outlen, char *why, size_t whylen)
{
	char q[VALUE_QUOTE_MAX + 4], buf[4 * VALUE_HOST_MAX + 2];
	size_t len = strlen(s);
	bool ascii = true;
	char *ace = NULL;
	int err;

	if (len >= sizeof(buf) - 1)
		return value_why(why, whylen, -EINVAL,
				 "bad domain '%s': too long",
				 value_quote(s, q));
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		ascii &= c < 0x80;
		buf[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : (char)c;
		if (c < 0x80 && !value_is_ldh(c) && c != '.')
			return value_why(
			    why, whylen, -EINVAL,
			    "bad domain '%s': only letters, digits, '-' and "
			    "'.' are allowed",
			    value_quote(s, q));
	}
	if (len > 1 && buf[len - 1] == '.')
		len--;
	buf[len] = '\0';
	if (!ascii || strstr(buf, "xn--") != NULL) {
		err = idn2_lookup_u8((const uint8_t *)buf, (uint8_t **)&ace,
				     IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
		if (err != IDN2_OK)
			return value_why(why, whylen, -EINVAL,
					 "bad domain '%s': %s",
					 value_quote(s, q), idn2_strerror(err));
		len = strlen(ace);
		if (len < sizeof(buf))
			memcpy(buf, ace, len + 1);
		idn2_free(ace);
		if (len >= sizeof(buf))
			return value_why(why, whylen, -EINVAL,
					 "bad domain '%s': too long",
					 value_quote(s, q));
	}
	if ((err = value_ldh(buf, "domain", why, whylen)) < 0)
		return err;
	if (len >= outlen)
		return value_why(why, whylen, -EINVAL,
				 "bad domain '%s': too long",
				 value_quote(s, q));
	memcpy(out, buf, len + 1);
	return 0;
}

/* See value.h. */
int
value_token(const char *s, size_t maxlen, char *why, size_t whylen)
{
	char q[VALUE_QUOTE_MAX + 4];
	size_t len = strlen(s);

	if (len == 0 || len > maxlen ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		      "0123456789_.-") != len)
		return value_why(
		    why, whylen, -EINVAL,
		    "bad name '%s': expected 1 to %zu of A-Z a-z 0-9 _ . -",
		    value_quote(s, q), maxlen);
	return 0;
}

/* Print v with the largest unit that divides it exactly. */
static void
value_scaled_fmt(uint64_t v, const struct value_unit *units, size_t n,
		 const char *bare, char *buf, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		if (v != 0 && v % units[i].mult == 0) {
			snprintf(buf, len, "%" PRIu64 "%s", v / units[i].mult,
				 units[i].name);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64 "%s", v, bare);
}

/* See value.h. */
void
value_duration_fmt(uint64_t ms, char *buf, size_t len)
{
	value_scaled_fmt(ms, value_duration_units, nitems(value_duration_units),
			 "s", buf, len);
}

/* See value.h. */
void
value_size_fmt(uint64_t bytes, char *buf, size_t len)
{
	value_scaled_fmt(bytes, value_size_units, nitems(value_size_units), "",
			 buf, len);
}

/* See value.h. */
void
value_rate_fmt(const struct value_rate *r, char *buf, size_t len)
{
	char per[32];

	if (r->count == 0) {
		snprintf(buf, len, "%s", "");
		return;
	}
	value_duration_fmt(r->period_ms, per, sizeof(per));
	snprintf(buf, len, "%" PRIu64 "/%s", r->count, per);
}
