/* SPDX-License-Identifier: MIT */
/*
 * smtp_path.c: the RFC 5321 grammar below a command: character classes,
 * domains and address literals, Mailbox and Path (<...>, source routes,
 * quoted local parts, U-labels), rendering a path back, and xtext
 * (RFC 3461).  Split from smtp_parse.c, which frames lines and parses
 * commands and parameters with these.
 *
 * Owns nothing.  Must not do I/O, allocate or interpret an address: paths
 * are checked against the grammar and copied, nothing more.  Parsers work
 * on (pointer, length) and never rely on NUL termination of the input.
 */
#include "smtp_path.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "compat.h"
/* ---- character classes ------------------------------------------------- */

/* ASCII letter (smtp_path.h). */
bool
smtpp_is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
smtpp_is_alnum(unsigned char c)
{
	return smtpp_is_alpha(c) || (c >= '0' && c <= '9');
}

/* RFC 5321 atext (RFC 5322 3.2.3). */
bool
smtpp_is_atext(unsigned char c)
{
	return smtpp_is_alnum(c) ||
	       (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/*
 * Length of the valid non-ASCII UTF-8 sequence at s (2..4), or 0: no
 * overlong forms, no surrogates, nothing above U+10FFFF.
 */
static size_t
smtpp_utf8_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* Case-insensitive compare of a[0..alen) with b (smtp_path.h). */
bool
smtpp_memcaseeq(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);

	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x >= 'a' && x <= 'z')
			x = (unsigned char)(x - 'a' + 'A');
		if (y >= 'a' && y <= 'z')
			y = (unsigned char)(y - 'a' + 'A');
		if (x != y)
			return false;
	}
	return true;
}

/* Parse 1*DIGIT fully; saturate at UINT64_MAX.  -EBADMSG if not digits,
 * -ERANGE (value still saturated) on overflow. */
int
smtpp_parse_u64(const char *s, size_t len, uint64_t *v_r)
{
	uint64_t v = 0;
	int rc = 0;

	if (len == 0)
		return -EBADMSG;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)((unsigned char)s[i] - '0');

		if (d > 9)
			return -EBADMSG;
		if (v > (UINT64_MAX - d) / 10) {
			v = UINT64_MAX;
			rc = -ERANGE;
		} else if (rc == 0) {
			v = v * 10 + d;
		}
	}
	*v_r = v;
	return rc;
}

/* ---- domains and address literals -------------------------------------- */

static int
smtpp_parse_literal(const char *s, size_t len, size_t *used_r)
{
	char tmp[64];
	size_t j;

	for (j = 1; j < len && s[j] != ']'; j++) {
		unsigned char c = (unsigned char)s[j];

		/* dcontent: %d33-90 / %d94-126 */
		if (c < 33 || c > 126 || (c >= 91 && c <= 93))
			return -EBADMSG;
		if (j > sizeof(tmp) - 1)
			return -EBADMSG;
	}
	if (j >= len || j == 1)
		return -EBADMSG;
	size_t n = j - 1;

	memcpy(tmp, s + 1, n);
	tmp[n] = '\0';
	*used_r = j + 1;
	if (n > 5 && smtpp_memcaseeq(tmp, 5, "IPv6:")) {
		struct in6_addr a6;

		return inet_pton(AF_INET6, tmp + 5, &a6) == 1 ? 0 : -EBADMSG;
	}
	struct in_addr a4;

	/* A General-address-literal (tag:content) is refused here too. */
	return inet_pton(AF_INET, tmp, &a4) == 1 ? 0 : -EBADMSG;
}

/*
 * Parse a Domain (sub-domain *("." sub-domain), U-labels allowed and
 * flagged) or an address literal at s.  Sets *used_r; returns 0, -EBADMSG
 * or -EMSGSIZE.  The domain ends at the first byte that cannot continue it.
 */
int
smtpp_parse_domain(const char *s, size_t len, size_t *used_r, unsigned *flags)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	if (len > 0 && s[0] == '[') {
		*flags |= SMTPP_PATH_F_LITERAL;
		return smtpp_parse_literal(s, len, used_r);
	}
	for (;;) {
		size_t start = i;
		bool hyphen = false;

		while (i < len) {
			size_t n = 1;

			if (u[i] >= 0x80) {
				n = smtpp_utf8_len(u + i, len - i);
				if (n == 0)
					return -EBADMSG;
				*flags |= SMTPP_PATH_F_UTF8;
			} else if (u[i] == '-' && i > start) {
				/* fine inside a label */
			} else if (!smtpp_is_alnum(u[i])) {
				break;
			}
			hyphen = u[i] == '-';
			i += n;
		}
		if (i == start || hyphen || i - start > 63)
			return -EBADMSG;
		if (i >= len || s[i] != '.')
			break;
		i++;
	}
	if (i > SMTPP_DOMAIN_MAX)
		return -EMSGSIZE;
	*used_r = i;
	return 0;
}

/* ---- paths ------------------------------------------------------------- */

/* Count '@' outside quoted strings in s up to the first unquoted '>'. */
static unsigned
smtpp_count_at(const char *s, size_t len)
{
	bool quoted = false;
	unsigned n = 0;

	for (size_t i = 0; i < len; i++) {
		if (quoted && s[i] == '\\') {
			i++;
		} else if (s[i] == '"') {
			quoted = !quoted;
		} else if (!quoted && s[i] == '>') {
			break;
		} else if (!quoted && s[i] == '@') {
			n++;
		}
	}
	return n;
}

static void
smtpp_local_char(struct smtpp_path *p, unsigned char c)
{
	if (c == '%')
		p->flags |= SMTPP_PATH_F_PERCENT;
	else if (c == '!')
		p->flags |= SMTPP_PATH_F_BANG;
	else if (c == '@')
		p->flags |= SMTPP_PATH_F_QUOTED_AT;
}

/* Dot-string local part at s; copies it to p->local. */
static int
smtpp_parse_dot_string(const char *s, size_t len, size_t *used_r,
		       struct smtpp_path *p)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	bool need_atext = true;

	while (i < len) {
		size_t n = 1;

		if (u[i] == '.' && !need_atext) {
			need_atext = true;
		} else if (u[i] >= 0x80) {
			n = smtpp_utf8_len(u + i, len - i);
			if (n == 0)
				return -EBADMSG;
			p->flags |= SMTPP_PATH_F_UTF8;
			need_atext = false;
		} else if (smtpp_is_atext(u[i])) {
			smtpp_local_char(p, u[i]);
			need_atext = false;
		} else {
			break;
		}
		i += n;
	}
	if (need_atext)
		return -EBADMSG;
	if (i > SMTPP_LOCAL_HARD_MAX)
		return -EMSGSIZE;
	memcpy(p->local, s, i);
	p->local[i] = '\0';
	p->local_len = i;
	*used_r = i;
	return 0;
}

/* Quoted-string local part at s (s[0] == '"'); decodes it to p->local. */
static int
smtpp_parse_quoted(const char *s, size_t len, size_t *used_r,
		   struct smtpp_path *p)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 1, o = 0;

	p->flags |= SMTPP_PATH_F_QUOTED;
	while (i < len && u[i] != '"') {
		size_t n = 1;

		if (u[i] == '\\') {
			/* quoted-pairSMTP = %d92 %d32-126 */
			if (i + 1 >= len || u[i + 1] < 32 || u[i + 1] > 126)
				return -EBADMSG;
			i++;
		} else if (u[i] >= 0x80) {
			n = smtpp_utf8_len(u + i, len - i);
			if (n == 0)
				return -EBADMSG;
			p->flags |= SMTPP_PATH_F_UTF8;
		} else if (u[i] < 32 || u[i] > 126) {
			return -EBADMSG;
		}
		/* Raw length, quotes included, is what the limit counts. */
		if (i + n >= SMTPP_LOCAL_HARD_MAX)
			return -EMSGSIZE;
		smtpp_local_char(p, u[i]);
		memcpy(p->local + o, s + i, n);
		o += n;
		i += n;
	}
	if (i >= len)
		return -EBADMSG;
	p->local[o] = '\0';
	p->local_len = o;
	*used_r = i + 1;
	return 0;
}

/* Source route "@a,@b:" at s (s[0] == '@'): validated, flagged, dropped. */
static int
smtpp_parse_route(const char *s, size_t len, size_t *used_r, unsigned *flags)
{
	size_t i = 0;

	*flags |= SMTPP_PATH_F_ROUTE;
	for (;;) {
		size_t n;
		unsigned ignored = 0;
		int rc;

		if (i >= len || s[i] != '@')
			return -EBADMSG;
		i++;
		rc = smtpp_parse_domain(s + i, len - i, &n, &ignored);
		if (rc < 0)
			return rc;
		i += n;
		if (i < len && s[i] == ',') {
			i++;
			continue;
		}
		if (i < len && s[i] == ':')
			break;
		return -EBADMSG;
	}
	*used_r = i + 1;
	return 0;
}

static int
smtpp_parse_mailbox(const char *s, size_t len, size_t *used_r, bool is_mail,
		    struct smtpp_path *p)
{
	size_t i = 0, n;
	int rc;

	if (smtpp_count_at(s, len) > 1) {
		p->flags |= SMTPP_PATH_F_MULTI_AT;
		return -EPERM;
	}
	if (len > 0 && s[0] == '"')
		rc = smtpp_parse_quoted(s, len, &n, p);
	else
		rc = smtpp_parse_dot_string(s, len, &n, p);
	if (rc < 0)
		return rc;
	i = n;
	if (p->local_len > SMTPP_LOCAL_MAX)
		p->flags |= SMTPP_PATH_F_LONG_LOCAL;
	if (i < len && s[i] == '>' && !is_mail &&
	    !(p->flags & (SMTPP_PATH_F_ROUTE | SMTPP_PATH_F_QUOTED)) &&
	    smtpp_memcaseeq(p->local, p->local_len, "postmaster")) {
		p->flags |= SMTPP_PATH_F_POSTMASTER;
		*used_r = i;
		return 0;
	}
	if (i >= len || s[i] != '@')
		return -EBADMSG;
	i++;
	rc = smtpp_parse_domain(s + i, len - i, &n, &p->flags);
	if (rc < 0)
		return rc;
	memcpy(p->domain, s + i, n);
	p->domain[n] = '\0';
	p->domain_len = n;
	*used_r = i + n;
	return 0;
}

/*
 * Parse "<...>" at s.  Returns 0 (*used_r past '>'), -EBADMSG (syntax),
 * -EMSGSIZE (too long) or -EPERM (a@b@c, flagged).
 */
int
smtpp_parse_path(const char *s, size_t len, bool is_mail, size_t *used_r,
		 struct smtpp_path *p)
{
	size_t i = 1, n;
	int rc;

	if (len == 0 || s[0] != '<')
		return -EBADMSG;
	if (len > 1 && s[1] == '>') {
		if (!is_mail)
			return -EBADMSG;
		p->flags |= SMTPP_PATH_F_NULL;
		*used_r = 2;
		return 0;
	}
	if (i < len && s[i] == '@') {
		rc = smtpp_parse_route(s + i, len - i, &n, &p->flags);
		if (rc < 0)
			return rc;
		i += n;
	}
	rc = smtpp_parse_mailbox(s + i, len - i, &n, is_mail, p);
	if (rc < 0)
		return rc;
	i += n;
	if (i >= len || s[i] != '>')
		return -EBADMSG;
	i++;
	if (i > SMTPP_PATH_MAX)
		return -EMSGSIZE;
	*used_r = i;
	return 0;
}

/* Rendering buffer that records overflow instead of writing past size. */
struct smtpp_out {
	char *buf;
	size_t size, len;
	bool overflow;
};

static void
smtpp_out_put(struct smtpp_out *o, const char *s, size_t n)
{
	if (o->overflow || o->len + n >= o->size) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static bool
smtpp_is_dot_string(const char *s, size_t len)
{
	struct smtpp_path tmp = {0};
	size_t n;

	if (len == 0 || len > SMTPP_LOCAL_HARD_MAX)
		return false;
	return smtpp_parse_dot_string(s, len, &n, &tmp) == 0 && n == len;
}

static int
smtpp_render(const struct smtpp_path *p, char *buf, size_t size, bool brackets)
{
	struct smtpp_out o = {.buf = buf, .size = size};

	if (size == 0)
		return -EMSGSIZE;
	if (brackets)
		smtpp_out_put(&o, "<", 1);
	if (!(p->flags & SMTPP_PATH_F_NULL)) {
		if (smtpp_is_dot_string(p->local, p->local_len)) {
			smtpp_out_put(&o, p->local, p->local_len);
		} else {
			smtpp_out_put(&o, "\"", 1);
			for (size_t i = 0; i < p->local_len; i++) {
				if (p->local[i] == '"' || p->local[i] == '\\')
					smtpp_out_put(&o, "\\", 1);
				smtpp_out_put(&o, p->local + i, 1);
			}
			smtpp_out_put(&o, "\"", 1);
		}
		if (!(p->flags & SMTPP_PATH_F_POSTMASTER)) {
			smtpp_out_put(&o, "@", 1);
			smtpp_out_put(&o, p->domain, p->domain_len);
		}
	}
	if (brackets)
		smtpp_out_put(&o, ">", 1);
	if (o.overflow) {
		buf[0] = '\0';
		return -EMSGSIZE;
	}
	buf[o.len] = '\0';
	return (int)o.len;
}

/* Canonical "<path>" (see header). */
int
smtpp_path_str(const struct smtpp_path *p, char *buf, size_t size)
{
	return smtpp_render(p, buf, size, true);
}

/* Canonical address without brackets (see header). */
int
smtpp_addr_str(const struct smtpp_path *p, char *buf, size_t size)
{
	return smtpp_render(p, buf, size, false);
}

/* ---- xtext ------------------------------------------------------------- */

static int
smtpp_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Strict xtext decoder (see header). */
int
smtpp_xtext_decode(const char *src, size_t len, char *dst, size_t size,
		   size_t *len_r)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '+') {
			int hi, lo;

			if (len - i < 3)
				return -EBADMSG;
			hi = smtpp_hexval((unsigned char)src[i + 1]);
			lo = smtpp_hexval((unsigned char)src[i + 2]);
			if (hi < 0 || lo < 0)
				return -EBADMSG;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			return -EBADMSG;
		}
		if (o + 1 >= size)
			return -EMSGSIZE;
		dst[o++] = (char)c;
	}
	if (size == 0)
		return -EMSGSIZE;
	dst[o] = '\0';
	*len_r = o;
	return 0;
}

/* xtext encoder (see header). */
int
smtpp_xtext_encode(const char *src, size_t len, char *dst, size_t size,
		   size_t *len_r)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c >= 33 && c <= 126 && c != '+' && c != '=') {
			if (o + 1 >= size)
				return -EMSGSIZE;
			dst[o++] = (char)c;
			continue;
		}
		if (o + 3 >= size)
			return -EMSGSIZE;
		dst[o++] = '+';
		dst[o++] = hex[c >> 4];
		dst[o++] = hex[c & 15];
	}
	if (size == 0)
		return -EMSGSIZE;
	dst[o] = '\0';
	*len_r = o;
	return 0;
}
