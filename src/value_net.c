/* SPDX-License-Identifier: MIT */
/*
 * value_net.c: parsers and formatters for network values: ports, numeric
 * socket addresses and lists of them, host:port next hops and CIDR
 * prefixes (with matching).
 *
 * Same rules as value.c: no I/O, no DNS (host names are only checked for
 * syntax), no logging, no state; errors are one sentence in why, with the
 * operator's text quoted through value_quote().
 */
#include "value.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "value_int.h"

#define VALUE_ITEM_MAX 256 /* longest element of a comma list */

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
value_hostport_fmt(const struct value_hostport *hp, char *buf, size_t len)
{
	const char *l = hp->family == AF_INET6 ? "[" : "";
	const char *r = hp->family == AF_INET6 ? "]" : "";

	if (hp->port != 0)
		snprintf(buf, len, "%s%s%s:%u", l, hp->host, r, hp->port);
	else
		snprintf(buf, len, "%s%s%s", l, hp->host, r);
}
