/* SPDX-License-Identifier: MIT */
/*
 * value.h: pure parsers (and formatters) for configuration values.
 *
 * Each parser takes a NUL-terminated string exactly as the operator wrote it
 * (the INI layer has already trimmed surrounding blanks), returns 0, -EINVAL
 * (syntax) or -ERANGE (out of range), and on failure writes one sentence into
 * the caller's why buffer saying what was wrong and what was expected.  No
 * parser does I/O, DNS or logging; value_domain() calls libidn2 only.
 * Lists own a heap array freed with their *_free(); everything else is plain
 * data the caller owns.
 */
#ifndef RINGMTA_VALUE_H
#define RINGMTA_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "compat.h"

#define VALUE_WHY_MAX  256 /* a why buffer this big is never truncated */
#define VALUE_HOST_MAX 253 /* longest host or domain name */
#define VALUE_LIST_MAX 256 /* most elements in one comma list */
#define VALUE_FMT_MAX  272 /* buffer size for any single *_fmt() */

/* A numeric socket address ready for bind() or connect(). */
struct value_sockaddr {
	struct sockaddr_storage ss;
	socklen_t len;
};

struct value_sockaddr_list {
	struct value_sockaddr *v;
	size_t n;
};

/* An address prefix; IPv4-mapped IPv6 prefixes (>= /96) are stored as IPv4. */
struct value_cidr {
	sa_family_t family; /* AF_INET or AF_INET6 */
	uint8_t prefix;     /* 0..32 or 0..128 */
	uint8_t addr[16];   /* network byte order, host bits zero */
};

struct value_cidr_list {
	struct value_cidr *v;
	size_t n;
};

/* count events per period_ms; count == 0 means unlimited. */
struct value_rate {
	uint64_t count;
	uint64_t period_ms;
};

/* A next hop: a host name or an address literal, and a port. */
struct value_hostport {
	char host[VALUE_HOST_MAX + 1]; /* name, or address without brackets */
	int family;                    /* 0: name, AF_INET, AF_INET6 */
	uint16_t port;                 /* 0 only when omitted and optional */
};

enum value_sa_flag {
	VALUE_SA_PORT0 = 1u << 0,    /* port 0 (kernel's choice) allowed */
	VALUE_SA_WILDCARD = 1u << 1, /* "*", 0.0.0.0 and [::] allowed */
};

enum value_hp_flag {
	VALUE_HP_PORT_OPTIONAL = 1u << 0, /* "host" alone gives port 0 */
};

/* "250ms", "30s", "5m", "2h", "5d"; a bare number is seconds. */
int value_duration(const char *s, uint64_t *ms_r, char *why,
		   size_t whylen) ATTR_WUR;
/* "512", "512K", "10M", "1G", "1T" (binary multiples, case-insensitive). */
int value_size(const char *s, uint64_t *bytes_r, char *why,
	       size_t whylen) ATTR_WUR;
/* A decimal integer in [min, max]. */
int value_uint(const char *s, uint64_t min, uint64_t max, uint64_t *r,
	       char *why, size_t whylen) ATTR_WUR;
/* yes/no, true/false, on/off, 1/0 (case-insensitive). */
int value_bool(const char *s, bool *r, char *why, size_t whylen) ATTR_WUR;
/* Index of s in the NULL-terminated names (case-insensitive). */
int value_enum(const char *s, const char *const *names, int *r, char *why,
	       size_t whylen) ATTR_WUR;

/* "127.0.0.1:25", "[::1]:25", "*:25" (IPv4 any) or "[::]:25"; numeric. */
int value_sockaddr(const char *s, unsigned flags, struct value_sockaddr *r,
		   char *why, size_t whylen) ATTR_WUR;
/* Comma list of value_sockaddr(); duplicates are an error.  "" gives n 0. */
int value_sockaddr_list(const char *s, unsigned flags,
			struct value_sockaddr_list *r, char *why,
			size_t whylen) ATTR_WUR;
void value_sockaddr_list_free(struct value_sockaddr_list *l);
/* A plain IPv4 or IPv6 address (no brackets, no port, not the wildcard). */
int value_ip(const char *s, struct value_sockaddr *r, char *why,
	     size_t whylen) ATTR_WUR;
/* Comma list of value_ip(); duplicates are an error.  "" gives n 0. */
int value_ip_list(const char *s, struct value_sockaddr_list *r, char *why,
		  size_t whylen) ATTR_WUR;
/* "host:port", "1.2.3.4:port" or "[v6]:port"; host names allowed. */
int value_hostport(const char *s, unsigned flags, struct value_hostport *r,
		   char *why, size_t whylen) ATTR_WUR;

/* "10.0.0.0/8", "::1/128"; a bare address is /32 or /128. */
int value_cidr(const char *s, struct value_cidr *r, char *why,
	       size_t whylen) ATTR_WUR;
/* Comma list of value_cidr().  "" gives n 0. */
int value_cidr_list(const char *s, struct value_cidr_list *r, char *why,
		    size_t whylen) ATTR_WUR;
void value_cidr_list_free(struct value_cidr_list *l);
/* True if sa (AF_INET or AF_INET6) lies in an entry of l; an IPv4-mapped
 * IPv6 address is matched as the IPv4 address it carries. */
bool value_cidr_match(const struct value_cidr_list *l,
		      const struct sockaddr *sa);

/* "N/period" ("100/1m", "10/s", "5/1h") or bare "N" = N per bare_period_ms.
 * N >= 1; the period must be positive. */
int value_rate(const char *s, uint64_t bare_period_ms, struct value_rate *r,
	       char *why, size_t whylen) ATTR_WUR;

/* An RFC 1123 host name: 1-253 bytes, LDH labels of 1-63, no trailing dot,
 * last label not all digits. */
int value_hostname(const char *s, char *why, size_t whylen) ATTR_WUR;
/* Normalise a domain into out (>= VALUE_HOST_MAX + 1 bytes): lower case,
 * one trailing dot removed, U-labels to A-labels (IDNA2008/TR46), then
 * checked as RFC 1035/5321 LDH syntax of at most 253 bytes. */
int value_domain(const char *s, char *out, size_t outlen, char *why,
		 size_t whylen) ATTR_WUR;
/* A name of [A-Za-z0-9_.-], 1..maxlen bytes (bindings, prefixes, ids). */
int value_token(const char *s, size_t maxlen, char *why,
		size_t whylen) ATTR_WUR;

/* Formatters: each writes text that the matching parser reads back to the
 * same value, truncated to len (VALUE_FMT_MAX is always enough). */
void value_duration_fmt(uint64_t ms, char *buf, size_t len);
void value_size_fmt(uint64_t bytes, char *buf, size_t len);
/* "1.2.3.4:25" / "[::1]:25", or without the port when with_port is false. */
void value_sockaddr_fmt(const struct sockaddr *sa, bool with_port, char *buf,
			size_t len);
void value_cidr_fmt(const struct value_cidr *c, char *buf, size_t len);
/* "N/period"; "" when unlimited. */
void value_rate_fmt(const struct value_rate *r, char *buf, size_t len);
/* "host:port", "[v6]:port"; the port is left out when 0. */
void value_hostport_fmt(const struct value_hostport *hp, char *buf, size_t len);

#endif
