/* SPDX-License-Identifier: MIT */
/*
 * value.c: configuration value parsers and their inverse formatters.
 *
 * Owns the syntax of every typed value (durations, sizes, addresses, CIDR
 * prefixes, rates, host and domain names) and the wording of their errors.
 * Must not do I/O, DNS lookups or logging, and must not keep state: the only
 * library call with side effects is libidn2's allocation, freed at once.
 * Strings in error messages are quoted through value_quote(), so peer or
 * operator bytes can never break a log line.
 */
#include "value.h"

#include <arpa/inet.h>
#include <errno.h>
#include <idn2.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define VALUE_QUOTE_MAX 64  /* bytes of a value quoted in an error */
#define VALUE_ITEM_MAX  256 /* longest element of a comma list */

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

static int value_why(char *why, size_t whylen, int err, const char *fmt, ...)
    ATTR_FMT(4, 5);

/* Write a reason into why (if any room) and return err. */
static int
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

/* A printable, bounded copy of s for error messages. */
static const char *
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

/* Parse [0-9]+ at *pp, advancing it.  -EINVAL: no digit; -ERANGE. */
static int
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

/* Parse a decimal port; 0 only if zero_ok. */
static int
value_port(const char *s, bool zero_ok, uint16_t *r, char *why, size_t whylen)
{
	char q[VALUE_QUOTE_MAX + 4];
	const char *p = s;
	uint64_t v;

	if (value_digits(&p, &v) < 0 || *p != '\0' || v > 65535)
		return value_why(why, whylen, -EINVAL,
				 "bad port '%s': expected 1 to 65535",
				 value_quote(s, q));
	if (v == 0 && !zero_ok)
		return value_why(why, whylen, -EINVAL,
				 "port 0 is not allowed here");
	*r = (uint16_t)v;
	return 0;
}

/* Fill r from a numeric host (no brackets) and a port; 0 or -EINVAL. */
static int
value_sa_set(struct value_sockaddr *r, const char *host, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&r->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&r->ss;

	memset(r, 0, sizeof(*r));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		r->len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		r->len = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

static bool
value_sa_is_wildcard(const struct value_sockaddr *a)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->ss;

	if (a->ss.ss_family == AF_INET)
		return sin->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
}

/* Split "[v6]:port", "*:port" or "v4:port" into host (copied to buf,
 * NUL-terminated, brackets removed) and a pointer to the port text. */
static int
value_split_hostport(const char *s, char *buf, size_t buflen,
		     const char **port_r, char *why, size_t whylen)
{
	char q[VALUE_QUOTE_MAX + 4];
	const char *end, *colon;

	if (*s == '[') {
		end = strchr(s, ']');
		if (end == NULL)
			return value_why(why, whylen, -EINVAL,
					 "missing ']' in '%s'",
					 value_quote(s, q));
		s++;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != ':' && end[1] != '\0')
			return value_why(why, whylen, -EINVAL,
					 "junk after ']' in '%s'",
					 value_quote(s - 1, q));
	} else {
		colon = strrchr(s, ':');
		if (colon != NULL && memchr(s, ':', (size_t)(colon - s)))
			return value_why(
			    why, whylen, -EINVAL,
			    "IPv6 addresses need brackets, as in [::1]:25: "
			    "'%s'",
			    value_quote(s, q));
		end = colon != NULL ? colon : s + strlen(s);
	}
	if ((size_t)(end - s) >= buflen || end == s)
		return value_why(why, whylen, -EINVAL, "bad host in '%s'",
				 value_quote(s, q));
	memcpy(buf, s, (size_t)(end - s));
	buf[end - s] = '\0';
	*port_r = colon != NULL ? colon + 1 : NULL;
	return 0;
}

/* See value.h. */
int
value_sockaddr(const char *s, unsigned flags, struct value_sockaddr *r,
	       char *why, size_t whylen)
{
	char q[VALUE_QUOTE_MAX + 4], host[INET6_ADDRSTRLEN + 1];
	const char *port_s;
	uint16_t port;
	int err;

	if (*s == '\0')
		return value_why(why, whylen, -EINVAL, "empty address");
	err = value_split_hostport(s, host, sizeof(host), &port_s, why, whylen);
	if (err < 0)
		return err;
	if (port_s == NULL)
		return value_why(why, whylen, -EINVAL,
				 "missing port in '%s': expected host:port",
				 value_quote(s, q));
	err = value_port(port_s, flags & VALUE_SA_PORT0, &port, why, whylen);
	if (err < 0)
		return err;
	if ((*s == '[') != (strchr(host, ':') != NULL) ||
	    value_sa_set(r, strcmp(host, "*") == 0 ? "0.0.0.0" : host, port) <
		0)
		return value_why(
		    why, whylen, -EINVAL,
		    "bad address '%s': expected a numeric IPv4 address or a "
		    "bracketed IPv6 address",
		    value_quote(host, q));
	if (!(flags & VALUE_SA_WILDCARD) && value_sa_is_wildcard(r))
		return value_why(
		    why, whylen, -EINVAL,
		    "the wildcard address '%s' is not allowed here",
		    value_quote(host, q));
	return 0;
}

/* See value.h. */
int
value_ip(const char *s, struct value_sockaddr *r, char *why, size_t whylen)
{
	char q[VALUE_QUOTE_MAX + 4];

	if (value_sa_set(r, s, 0) < 0)
		return value_why(
		    why, whylen, -EINVAL,
		    "bad IP address '%s': expected a numeric IPv4 or IPv6 "
		    "address",
		    value_quote(s, q));
	if (value_sa_is_wildcard(r))
		return value_why(
		    why, whylen, -EINVAL,
		    "the wildcard address '%s' is not allowed here",
		    value_quote(s, q));
	return 0;
}

typedef int value_item_fn(const char *item, void *arg, char *why,
			  size_t whylen);

/* Call fn on each blank-trimmed element of the comma list s. */
static int
value_each(const char *s, value_item_fn *fn, void *arg, char *why,
	   size_t whylen)
{
	char item[VALUE_ITEM_MAX + 1], q[VALUE_QUOTE_MAX + 4];
	size_t count = 0;
	int err;

	if (*s == '\0')
		return 0;
	for (;;) {
		size_t n = strcspn(s, ","), a = 0, b = n;

		while (a < b && (s[a] == ' ' || s[a] == '\t'))
			a++;
		while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
			b--;
		if (a == b)
			return value_why(why, whylen, -EINVAL,
					 "empty element in list");
		if (b - a > VALUE_ITEM_MAX)
			return value_why(why, whylen, -EINVAL,
					 "list element '%s' is too long",
					 value_quote(s, q));
		if (++count > VALUE_LIST_MAX)
			return value_why(why, whylen, -ERANGE,
					 "more than %d elements in list",
					 VALUE_LIST_MAX);
		memcpy(item, s + a, b - a);
		item[b - a] = '\0';
		if ((err = fn(item, arg, why, whylen)) < 0)
			return err;
		if (s[n] == '\0')
			return 0;
		s += n + 1;
	}
}

struct value_sa_arg {
	struct value_sockaddr_list *l;
	unsigned flags;
	bool plain_ip;
};

static int
value_sa_item(const char *item, void *arg, char *why, size_t whylen)
{
	struct value_sa_arg *a = arg;
	struct value_sockaddr sa;
	char q[VALUE_QUOTE_MAX + 4];
	int err;

	err = a->plain_ip ? value_ip(item, &sa, why, whylen)
			  : value_sockaddr(item, a->flags, &sa, why, whylen);
	if (err < 0)
		return err;
	for (size_t i = 0; i < a->l->n; i++)
		if (a->l->v[i].len == sa.len &&
		    memcmp(&a->l->v[i].ss, &sa.ss, sa.len) == 0)
			return value_why(why, whylen, -EINVAL,
					 "duplicate address '%s' in list",
					 value_quote(item, q));
	a->l->v = xreallocarray(a->l->v, a->l->n + 1, sizeof(sa));
	a->l->v[a->l->n++] = sa;
	return 0;
}

static int
value_sa_list(const char *s, struct value_sa_arg *a, char *why, size_t whylen)
{
	int err;

	a->l->v = NULL;
	a->l->n = 0;
	err = value_each(s, value_sa_item, a, why, whylen);
	if (err < 0)
		value_sockaddr_list_free(a->l);
	return err;
}

/* See value.h. */
int
value_sockaddr_list(const char *s, unsigned flags,
		    struct value_sockaddr_list *r, char *why, size_t whylen)
{
	struct value_sa_arg a = {.l = r, .flags = flags};

	return value_sa_list(s, &a, why, whylen);
}

/* See value.h. */
int
value_ip_list(const char *s, struct value_sockaddr_list *r, char *why,
	      size_t whylen)
{
	struct value_sa_arg a = {.l = r, .plain_ip = true};

	return value_sa_list(s, &a, why, whylen);
}

/* See value.h.  Leaves l empty; safe to call twice. */
void
value_sockaddr_list_free(struct value_sockaddr_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* See value.h. */
int
value_hostport(const char *s, unsigned flags, struct value_hostport *r,
	       char *why, size_t whylen)
{
	char q[VALUE_QUOTE_MAX + 4];
	struct value_sockaddr sa;
	const char *port_s;
	int err;

	memset(r, 0, sizeof(*r));
	if (*s == '\0')
		return value_why(why, whylen, -EINVAL, "empty host");
	err = value_split_hostport(s, r->host, sizeof(r->host), &port_s, why,
				   whylen);
	if (err < 0)
		return err;
	if (port_s == NULL && !(flags & VALUE_HP_PORT_OPTIONAL))
		return value_why(why, whylen, -EINVAL,
				 "missing port in '%s': expected host:port",
				 value_quote(s, q));
	if (port_s != NULL &&
	    (err = value_port(port_s, false, &r->port, why, whylen)) < 0)
		return err;
	if (value_sa_set(&sa, r->host, 0) == 0) {
		r->family = sa.ss.ss_family;
		if ((*s == '[') != (r->family == AF_INET6))
			return value_why(
			    why, whylen, -EINVAL,
			    "bad host '%s': only IPv6 addresses go in brackets",
			    value_quote(s, q));
		return 0;
	}
	if (*s == '[')
		return value_why(why, whylen, -EINVAL, "bad IPv6 address '%s'",
				 value_quote(r->host, q));
	return value_hostname(r->host, why, whylen);
}

/* Zero the bits of addr past prefix; true if any were set. */
static bool
value_mask(uint8_t *addr, size_t alen, unsigned prefix)
{
	bool dirty = false;

	for (size_t i = 0; i < alen; i++) {
		unsigned keep = prefix >= 8 * (i + 1) ? 8
				: prefix > 8 * i      ? prefix - 8 * (unsigned)i
						      : 0;
		uint8_t m = (uint8_t)(0xff00u >> keep);

		dirty |= (addr[i] & ~m) != 0;
		addr[i] &= m;
	}
	return dirty;
}

static const uint8_t value_v4mapped[12] = {0, 0, 0, 0, 0,    0,
					   0, 0, 0, 0, 0xff, 0xff};

/* See value.h. */
int
value_cidr(const char *s, struct value_cidr *r, char *why, size_t whylen)
{
	char q[VALUE_QUOTE_MAX + 4], host[INET6_ADDRSTRLEN + 1], fix[80];
	const char *slash = strchr(s, '/'), *p;
	size_t hlen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned max;
	uint64_t pfx;

	memset(r, 0, sizeof(*r));
	if (hlen == 0 || hlen >= sizeof(host))
		return value_why(why, whylen, -EINVAL,
				 "bad network '%s': expected address/prefix",
				 value_quote(s, q));
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, r->addr) == 1)
		r->family = AF_INET;
	else if (inet_pton(AF_INET6, host, r->addr) == 1)
		r->family = AF_INET6;
	else
		return value_why(
		    why, whylen, -EINVAL,
		    "bad network '%s': expected a numeric IP address with an "
		    "optional /prefix",
		    value_quote(s, q));
	max = r->family == AF_INET ? 32 : 128;
	pfx = max;
	p = slash != NULL ? slash + 1 : "";
	if (slash != NULL && (value_digits(&p, &pfx) < 0 || *p != '\0' ||
			      pfx > max || p - slash > 4))
		return value_why(
		    why, whylen, -EINVAL,
		    "bad prefix length in '%s': expected /0 to /%u",
		    value_quote(s, q), max);
	r->prefix = (uint8_t)pfx;
	if (value_mask(r->addr, max / 8, r->prefix)) {
		value_cidr_fmt(r, fix, sizeof(fix));
		return value_why(why, whylen, -EINVAL,
				 "host bits set in '%s' (did you mean %s?)",
				 value_quote(s, q), fix);
	}
	if (r->family == AF_INET6 && r->prefix >= 96 &&
	    memcmp(r->addr, value_v4mapped, 12) == 0) {
		memmove(r->addr, r->addr + 12, 4);
		memset(r->addr + 4, 0, 12);
		r->family = AF_INET;
		r->prefix -= 96;
	}
	return 0;
}

static int
value_cidr_item(const char *item, void *arg, char *why, size_t whylen)
{
	struct value_cidr_list *l = arg;
	struct value_cidr c;
	int err;

	if ((err = value_cidr(item, &c, why, whylen)) < 0)
		return err;
	l->v = xreallocarray(l->v, l->n + 1, sizeof(c));
	l->v[l->n++] = c;
	return 0;
}

/* See value.h. */
int
value_cidr_list(const char *s, struct value_cidr_list *r, char *why,
		size_t whylen)
{
	int err;

	r->v = NULL;
	r->n = 0;
	err = value_each(s, value_cidr_item, r, why, whylen);
	if (err < 0)
		value_cidr_list_free(r);
	return err;
}

/* See value.h.  Leaves l empty; safe to call twice. */
void
value_cidr_list_free(struct value_cidr_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* See value.h. */
bool
value_cidr_match(const struct value_cidr_list *l, const struct sockaddr *sa)
{
	uint8_t addr[16];
	sa_family_t fam = sa->sa_family;

	if (fam == AF_INET) {
		memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (fam == AF_INET6) {
		memcpy(addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		if (memcmp(addr, value_v4mapped, 12) == 0) {
			memmove(addr, addr + 12, 4);
			fam = AF_INET;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct value_cidr *c = &l->v[i];
		uint8_t a[16];

		if (c->family != fam)
			continue;
		memcpy(a, addr, sizeof(a));
		value_mask(a, fam == AF_INET ? 4 : 16, c->prefix);
		if (memcmp(a, c->addr, fam == AF_INET ? 4 : 16) == 0)
			return true;
	}
	return false;
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
value_sockaddr_fmt(const struct sockaddr *sa, bool with_port, char *buf,
		   size_t len)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	char a[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		if (with_port)
			snprintf(buf, len, "%s:%u", a, ntohs(sin->sin_port));
		else
			snprintf(buf, len, "%s", a);
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		if (with_port)
			snprintf(buf, len, "[%s]:%u", a,
				 ntohs(sin6->sin6_port));
		else
			snprintf(buf, len, "%s", a);
	} else {
		snprintf(buf, len, "?");
	}
}

/* See value.h. */
void
value_cidr_fmt(const struct value_cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(c->family, c->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, c->prefix);
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

/* See value.h. */
void
value_hostport_fmt(const struct value_hostport *hp, char *buf, size_t len)
{
	const char *l = hp->family == AF_INET6 ? "[" : "";
	const char *r = hp->family == AF_INET6 ? "]" : "";

	if (hp->port != 0)
		snprintf(buf, len, "%s%s%s:%u", l, hp->host, r, hp->port);
	else
		snprintf(buf, len, "%s%s%s", l, hp->host, r);
}
