/* SPDX-License-Identifier: MIT */
/*
 * smtp_parse.c: command-line framing, command/path/parameter parsing and
 * xtext for the SMTP servers (ringsink, the injection listener).
 *
 * Owns only the line parser's buffer (allocated once at init).  Must not do
 * I/O, allocate per line, or interpret an address in any way: paths are
 * checked against the RFC 5321 grammar and copied, nothing more.  Every
 * input is bounded by the line cap and the RFC length limits; the parsers
 * work on (pointer, length) and never rely on NUL termination of the input.
 */
#include "smtp_parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "compat.h"

/* ---- tables ------------------------------------------------------------ */

static const char *const smtpp_err_tab[] = {
    [SMTPP_OK] = "250 2.0.0 OK",
    [SMTPP_ERR_LINE_TOO_LONG] = "500 5.5.6 Line too long",
    [SMTPP_ERR_BARE_LF] = "500 5.5.2 Bare <LF> received, use <CR><LF>",
    [SMTPP_ERR_BARE_CR] = "500 5.5.2 Bare <CR> received",
    [SMTPP_ERR_NUL] = "501 5.5.2 NUL character in command",
    [SMTPP_ERR_BAD_CHAR] = "501 5.5.2 Invalid character in command",
    [SMTPP_ERR_UNKNOWN_VERB] = "500 5.5.1 Command unrecognized",
    [SMTPP_ERR_NO_ARGS] = "501 5.5.4 Syntax error, no parameters allowed",
    [SMTPP_ERR_ARG_REQUIRED] = "501 5.5.4 Syntax error, argument required",
    [SMTPP_ERR_HELO_SYNTAX] = "501 5.5.2 Invalid HELO/EHLO argument",
    [SMTPP_ERR_MAIL_SYNTAX] = "501 5.5.4 Syntax: MAIL FROM:<address>",
    [SMTPP_ERR_RCPT_SYNTAX] = "501 5.5.4 Syntax: RCPT TO:<address>",
    [SMTPP_ERR_SENDER_SYNTAX] = "501 5.1.7 Bad sender address syntax",
    [SMTPP_ERR_RCPT_ADDR_SYNTAX] = "501 5.1.3 Bad recipient address syntax",
    [SMTPP_ERR_SENDER_TOO_LONG] = "501 5.1.7 Sender address too long",
    [SMTPP_ERR_RCPT_TOO_LONG] = "501 5.1.3 Recipient address too long",
    [SMTPP_ERR_RELAY_FORM] = "554 5.7.1 Relay access denied",
    [SMTPP_ERR_SMTPUTF8_REQUIRED] =
	"553 5.6.7 Non-ASCII address requires SMTPUTF8",
    [SMTPP_ERR_PARAM_UNKNOWN] = "555 5.5.4 Unsupported parameter",
    [SMTPP_ERR_PARAM_VALUE] = "501 5.5.4 Invalid parameter value",
    [SMTPP_ERR_PARAM_DUP] = "501 5.5.4 Duplicate parameter",
    [SMTPP_ERR_PARAM_UNSUPPORTED] = "555 5.5.4 Unsupported parameter value",
    [SMTPP_ERR_BDAT_SYNTAX] = "501 5.5.4 Syntax: BDAT chunk-size [LAST]",
    [SMTPP_ERR_SIZE_EXCEEDED] = "552 5.3.4 Message size exceeds fixed limit",
};
_Static_assert(nitems(smtpp_err_tab) == SMTPP_ERR__COUNT, "smtpp_err_tab");

static const char *const smtpp_verb_tab[] = {
    [SMTPP_VERB_UNKNOWN] = "UNKNOWN", [SMTPP_VERB_HELO] = "HELO",
    [SMTPP_VERB_EHLO] = "EHLO",       [SMTPP_VERB_MAIL] = "MAIL",
    [SMTPP_VERB_RCPT] = "RCPT",       [SMTPP_VERB_DATA] = "DATA",
    [SMTPP_VERB_BDAT] = "BDAT",       [SMTPP_VERB_RSET] = "RSET",
    [SMTPP_VERB_NOOP] = "NOOP",       [SMTPP_VERB_QUIT] = "QUIT",
    [SMTPP_VERB_HELP] = "HELP",       [SMTPP_VERB_VRFY] = "VRFY",
    [SMTPP_VERB_EXPN] = "EXPN",       [SMTPP_VERB_STARTTLS] = "STARTTLS",
    [SMTPP_VERB_AUTH] = "AUTH",
};
_Static_assert(nitems(smtpp_verb_tab) == SMTPP_VERB__COUNT, "smtpp_verb_tab");

static const char *const smtpp_path_flag_tab[] = {
    "null",      "postmaster", "quoted",  "route", "percent",    "bang",
    "quoted_at", "multi_at",   "literal", "utf8",  "long_local",
};
_Static_assert(nitems(smtpp_path_flag_tab) == SMTPP_PATH_F__BITS,
	       "smtpp_path_flag_tab");
_Static_assert(SMTPP_PATH_F_LONG_LOCAL == 1u << (SMTPP_PATH_F__BITS - 1),
	       "SMTPP_PATH_F__BITS");

static const char *const smtpp_body_tab[] = {
    [SMTPP_BODY_NONE] = "",
    [SMTPP_BODY_7BIT] = "7BIT",
    [SMTPP_BODY_8BITMIME] = "8BITMIME",
    [SMTPP_BODY_BINARYMIME] = "BINARYMIME",
};
_Static_assert(nitems(smtpp_body_tab) == SMTPP_BODY__COUNT, "smtpp_body_tab");

static const char *const smtpp_ret_tab[] = {
    [SMTPP_RET_NONE] = "",
    [SMTPP_RET_FULL] = "FULL",
    [SMTPP_RET_HDRS] = "HDRS",
};
_Static_assert(nitems(smtpp_ret_tab) == SMTPP_RET__COUNT, "smtpp_ret_tab");

/* Suggested reply for e (see header). */
const char *
smtpp_err_str(enum smtpp_err e)
{
	if ((unsigned)e >= SMTPP_ERR__COUNT)
		return "451 4.3.0 Internal error";
	return smtpp_err_tab[e];
}

/* Name of verb v (see header). */
const char *
smtpp_verb_str(enum smtpp_verb v)
{
	if ((unsigned)v >= SMTPP_VERB__COUNT)
		return "UNKNOWN";
	return smtpp_verb_tab[v];
}

/* Name of path flag 1u << bit (see header). */
const char *
smtpp_path_flag_str(unsigned bit)
{
	if (bit >= SMTPP_PATH_F__BITS)
		return "?";
	return smtpp_path_flag_tab[bit];
}

/* Keyword of BODY= value b ("" for none). */
const char *
smtpp_body_str(enum smtpp_body b)
{
	if ((unsigned)b >= SMTPP_BODY__COUNT)
		return "?";
	return smtpp_body_tab[b];
}

/* Keyword of RET= value r ("" for none). */
const char *
smtpp_ret_str(enum smtpp_ret r)
{
	if ((unsigned)r >= SMTPP_RET__COUNT)
		return "?";
	return smtpp_ret_tab[r];
}

/* Error called for by a framed line's flags (see header). */
enum smtpp_err
smtpp_line_err(unsigned line_flags)
{
	if (line_flags & SMTPP_LINE_F_NUL)
		return SMTPP_ERR_NUL;
	if (line_flags & SMTPP_LINE_F_BARE_CR)
		return SMTPP_ERR_BARE_CR;
	if (line_flags & SMTPP_LINE_F_BARE_LF)
		return SMTPP_ERR_BARE_LF;
	return SMTPP_OK;
}

/* ---- line framing ------------------------------------------------------ */

/* Set up lp with cap bytes of buffer (see header). */
int
smtpp_line_init(struct smtpp_lineparser *lp, size_t cap)
{
	memset(lp, 0, sizeof(*lp));
	if (cap < SMTPP_LINE_CAP_MIN || cap > SMTPP_LINE_CAP_MAX)
		return -EINVAL;
	lp->buf = xmalloc(cap);
	lp->buf[0] = '\0';
	lp->cap = cap;
	return 0;
}

/* Release lp's buffer (see header). */
void
smtpp_line_fini(struct smtpp_lineparser *lp)
{
	free(lp->buf);
	memset(lp, 0, sizeof(*lp));
}

/* Drop any partial line (see header). */
void
smtpp_line_reset(struct smtpp_lineparser *lp)
{
	lp->len = 0;
	lp->flags = 0;
	lp->cr = false;
	lp->skipping = false;
	lp->done = false;
	if (lp->buf != NULL)
		lp->buf[0] = '\0';
}

static void
smtpp_line_put(struct smtpp_lineparser *lp, unsigned char c)
{
	/* Content plus CRLF must fit the cap; the rest is discarded. */
	if (lp->skipping || lp->len + 2 >= lp->cap) {
		lp->skipping = true;
		lp->discarded++;
		return;
	}
	lp->buf[lp->len++] = (char)c;
}

static unsigned
smtpp_byte_flags(unsigned char c)
{
	if (c == 0)
		return SMTPP_LINE_F_NUL;
	if ((c < 0x20 && c != '\t') || c == 0x7f)
		return SMTPP_LINE_F_CTRL;
	if (c >= 0x80)
		return SMTPP_LINE_F_8BIT;
	return 0;
}

static int
smtpp_line_finish(struct smtpp_lineparser *lp, struct smtpp_line *line_r)
{
	lp->buf[lp->len] = '\0';
	line_r->ptr = lp->buf;
	line_r->len = lp->len;
	line_r->flags = lp->flags;
	lp->done = true;
	if (lp->skipping) {
		lp->skipping = false;
		return -EMSGSIZE;
	}
	return 1;
}

/* Frame the next command line (see header for the contract). */
int
smtpp_line(struct smtpp_lineparser *lp, const char *buf, size_t len,
	   size_t *used_r, struct smtpp_line *line_r)
{
	size_t i;

	if (lp->done) {
		lp->done = false;
		lp->len = 0;
		lp->flags = 0;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (lp->skipping && c != '\n') {
			/* Discard fast up to the next LF. */
			const char *nl = memchr(buf + i, '\n', len - i);
			size_t n =
			    nl != NULL ? (size_t)(nl - (buf + i)) : len - i;

			lp->discarded += n;
			if (n > 0)
				lp->cr = buf[i + n - 1] == '\r';
			i += n;
			if (nl == NULL)
				break;
			c = '\n';
		}
		if (c == '\n') {
			if (!lp->cr)
				lp->flags |= SMTPP_LINE_F_BARE_LF;
			lp->cr = false;
			*used_r = i + 1;
			return smtpp_line_finish(lp, line_r);
		}
		if (lp->cr) {
			lp->cr = false;
			lp->flags |= SMTPP_LINE_F_BARE_CR;
			smtpp_line_put(lp, '\r');
		}
		if (c == '\r') {
			lp->cr = true;
			continue;
		}
		lp->flags |= smtpp_byte_flags(c);
		smtpp_line_put(lp, c);
	}
	*used_r = len;
	return 0;
}

/* ---- character classes ------------------------------------------------- */

static bool
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
static bool
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

static bool
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
static int
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
static int
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
static int
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

/* ---- ESMTP parameters -------------------------------------------------- */

/* Decode an xtext parameter value that must be printable ASCII. */
static enum smtpp_err
smtpp_xtext_param(const char *v, size_t vlen, size_t max, char *dst,
		  size_t size, size_t *len_r)
{
	if (v == NULL || vlen == 0 || vlen > max)
		return SMTPP_ERR_PARAM_VALUE;
	if (smtpp_xtext_decode(v, vlen, dst, size, len_r) < 0)
		return SMTPP_ERR_PARAM_VALUE;
	/* 21Nails CVE-2020-28026: no CR, LF, NUL or other control byte. */
	for (size_t i = 0; i < *len_r; i++)
		if ((unsigned char)dst[i] < 0x20 ||
		    (unsigned char)dst[i] > 0x7e)
			return SMTPP_ERR_PARAM_VALUE;
	return SMTPP_OK;
}

typedef enum smtpp_err smtpp_param_fn(struct smtpp_cmd *cmd, const char *v,
				      size_t vlen);

static enum smtpp_err
smtpp_param_size(struct smtpp_cmd *cmd, const char *v, size_t vlen)
{
	/* Overflow saturates: such a SIZE is over any limit (552). */
	if (v == NULL || smtpp_parse_u64(v, vlen, &cmd->mail.size) == -EBADMSG)
		return SMTPP_ERR_PARAM_VALUE;
	return SMTPP_OK;
}

static enum smtpp_err
smtpp_param_body(struct smtpp_cmd *cmd, const char *v, size_t vlen)
{
	for (unsigned b = SMTPP_BODY_7BIT; b < SMTPP_BODY__COUNT; b++) {
		if (v != NULL && smtpp_memcaseeq(v, vlen, smtpp_body_tab[b])) {
			cmd->mail.body = (enum smtpp_body)b;
			return b == SMTPP_BODY_BINARYMIME
				   ? SMTPP_ERR_PARAM_UNSUPPORTED
				   : SMTPP_OK;
		}
	}
	return SMTPP_ERR_PARAM_VALUE;
}

static enum smtpp_err
smtpp_param_smtputf8(struct smtpp_cmd *cmd, const char *v, size_t vlen)
{
	(void)vlen;
	if (v != NULL)
		return SMTPP_ERR_PARAM_VALUE;
	cmd->mail.smtputf8 = true;
	return SMTPP_OK;
}

static enum smtpp_err
smtpp_param_ret(struct smtpp_cmd *cmd, const char *v, size_t vlen)
{
	for (unsigned r = SMTPP_RET_FULL; r < SMTPP_RET__COUNT; r++) {
		if (v != NULL && smtpp_memcaseeq(v, vlen, smtpp_ret_tab[r])) {
			cmd->mail.ret = (enum smtpp_ret)r;
			return SMTPP_OK;
		}
	}
	return SMTPP_ERR_PARAM_VALUE;
}

static enum smtpp_err
smtpp_param_envid(struct smtpp_cmd *cmd, const char *v, size_t vlen)
{
	return smtpp_xtext_param(v, vlen, SMTPP_ENVID_MAX, cmd->mail.envid,
				 sizeof(cmd->mail.envid), &cmd->mail.envid_len);
}

static enum smtpp_err
smtpp_param_auth(struct smtpp_cmd *cmd, const char *v, size_t vlen)
{
	return smtpp_xtext_param(v, vlen, SMTPP_AUTH_MAX, cmd->mail.auth,
				 sizeof(cmd->mail.auth), &cmd->mail.auth_len);
}

static enum smtpp_err
smtpp_param_notify(struct smtpp_cmd *cmd, const char *v, size_t vlen)
{
	static const char *const names[] = {"NEVER", "SUCCESS", "FAILURE",
					    "DELAY"};
	unsigned seen = 0;
	size_t i = 0;

	if (v == NULL)
		return SMTPP_ERR_PARAM_VALUE;
	while (i <= vlen) {
		const char *comma = memchr(v + i, ',', vlen - i);
		size_t n = comma != NULL ? (size_t)(comma - (v + i)) : vlen - i;
		unsigned bit = 0;

		for (unsigned k = 0; k < nitems(names); k++)
			if (smtpp_memcaseeq(v + i, n, names[k]))
				bit = 1u << k;
		if (bit == 0 || (seen & bit))
			return SMTPP_ERR_PARAM_VALUE;
		seen |= bit;
		i += n + 1;
	}
	if ((seen & SMTPP_NOTIFY_NEVER) && seen != SMTPP_NOTIFY_NEVER)
		return SMTPP_ERR_PARAM_VALUE;
	cmd->rcpt.notify = seen;
	return SMTPP_OK;
}

static enum smtpp_err
smtpp_param_orcpt(struct smtpp_cmd *cmd, const char *v, size_t vlen)
{
	const char *semi;
	size_t tlen;

	if (v == NULL || vlen > SMTPP_ORCPT_MAX)
		return SMTPP_ERR_PARAM_VALUE;
	semi = memchr(v, ';', vlen);
	if (semi == NULL)
		return SMTPP_ERR_PARAM_VALUE;
	tlen = (size_t)(semi - v);
	if (tlen == 0 || tlen > SMTPP_ORCPT_TYPE_MAX)
		return SMTPP_ERR_PARAM_VALUE;
	for (size_t i = 0; i < tlen; i++)
		if (!smtpp_is_atext((unsigned char)v[i]))
			return SMTPP_ERR_PARAM_VALUE;
	memcpy(cmd->rcpt.orcpt_type, v, tlen);
	cmd->rcpt.orcpt_type[tlen] = '\0';
	return smtpp_xtext_param(semi + 1, vlen - tlen - 1, SMTPP_ORCPT_MAX,
				 cmd->rcpt.orcpt, sizeof(cmd->rcpt.orcpt),
				 &cmd->rcpt.orcpt_len);
}

struct smtpp_param_def {
	const char *name;
	enum smtpp_verb verb;
	unsigned bit;
	smtpp_param_fn *fn;
};

static const struct smtpp_param_def smtpp_params[] = {
    {"SIZE", SMTPP_VERB_MAIL, SMTPP_PARAM_SIZE, smtpp_param_size},
    {"BODY", SMTPP_VERB_MAIL, SMTPP_PARAM_BODY, smtpp_param_body},
    {"SMTPUTF8", SMTPP_VERB_MAIL, SMTPP_PARAM_SMTPUTF8, smtpp_param_smtputf8},
    {"RET", SMTPP_VERB_MAIL, SMTPP_PARAM_RET, smtpp_param_ret},
    {"ENVID", SMTPP_VERB_MAIL, SMTPP_PARAM_ENVID, smtpp_param_envid},
    {"AUTH", SMTPP_VERB_MAIL, SMTPP_PARAM_AUTH, smtpp_param_auth},
    {"NOTIFY", SMTPP_VERB_RCPT, SMTPP_PARAM_NOTIFY, smtpp_param_notify},
    {"ORCPT", SMTPP_VERB_RCPT, SMTPP_PARAM_ORCPT, smtpp_param_orcpt},
};

/* One "keyword[=value]" token. */
static enum smtpp_err
smtpp_param_one(struct smtpp_cmd *cmd, const char *s, size_t len)
{
	const char *eq = memchr(s, '=', len);
	size_t klen = eq != NULL ? (size_t)(eq - s) : len;
	const char *v = eq != NULL ? eq + 1 : NULL;
	size_t vlen = eq != NULL ? len - klen - 1 : 0;

	/* esmtp-value = 1*(%d33-60 / %d62-126) */
	for (size_t i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 33 || c > 126 || c == '=')
			return SMTPP_ERR_PARAM_VALUE;
	}
	if (v != NULL && vlen == 0)
		return SMTPP_ERR_PARAM_VALUE;
	for (size_t i = 0; i < nitems(smtpp_params); i++) {
		const struct smtpp_param_def *d = &smtpp_params[i];

		if (d->verb != cmd->verb || !smtpp_memcaseeq(s, klen, d->name))
			continue;
		if (cmd->params & d->bit)
			return SMTPP_ERR_PARAM_DUP;
		cmd->params |= d->bit;
		return d->fn(cmd, v, vlen);
	}
	return SMTPP_ERR_PARAM_UNKNOWN;
}

/* Parameters after the path: (SP+ keyword[=value])*. */
static enum smtpp_err
smtpp_params_parse(struct smtpp_cmd *cmd, const char *s, size_t len,
		   enum smtpp_err syntax)
{
	size_t i = 0;

	if (len > 0 && s[0] != ' ')
		return syntax;
	while (i < len) {
		const char *sp;
		size_t n;
		enum smtpp_err e;

		while (i < len && s[i] == ' ')
			i++;
		if (i == len)
			break;
		sp = memchr(s + i, ' ', len - i);
		n = sp != NULL ? (size_t)(sp - (s + i)) : len - i;
		e = smtpp_param_one(cmd, s + i, n);
		if (e != SMTPP_OK)
			return e;
		i += n;
	}
	return SMTPP_OK;
}

/* ---- commands ---------------------------------------------------------- */

/* MAIL FROM:<path> [params] or RCPT TO:<path> [params]. */
static enum smtpp_err
smtpp_cmd_path(struct smtpp_cmd *cmd, const char *a, size_t len)
{
	bool is_mail = cmd->verb == SMTPP_VERB_MAIL;
	const char *kw = is_mail ? "FROM:" : "TO:";
	size_t kwlen = strlen(kw), i, n;
	enum smtpp_err syn =
	    is_mail ? SMTPP_ERR_MAIL_SYNTAX : SMTPP_ERR_RCPT_SYNTAX;
	int rc;

	if (len < kwlen || !smtpp_memcaseeq(a, kwlen, kw))
		return syn;
	i = kwlen;
	if (i < len && a[i] == ' ') {
		cmd->flags |= SMTPP_CMD_F_SPACE_AFTER_COLON;
		i++;
	}
	if (i >= len)
		return syn;
	rc = smtpp_parse_path(a + i, len - i, is_mail, &n, &cmd->path);
	if (rc == -EPERM)
		return SMTPP_ERR_RELAY_FORM;
	if (rc == -EMSGSIZE)
		return is_mail ? SMTPP_ERR_SENDER_TOO_LONG
			       : SMTPP_ERR_RCPT_TOO_LONG;
	if (rc < 0)
		return is_mail ? SMTPP_ERR_SENDER_SYNTAX
			       : SMTPP_ERR_RCPT_ADDR_SYNTAX;
	i += n;
	return smtpp_params_parse(cmd, a + i, len - i, syn);
}

static enum smtpp_err
smtpp_cmd_helo(struct smtpp_cmd *cmd, const char *a, size_t len)
{
	unsigned flags = 0;
	size_t n;

	if (len == 0)
		return SMTPP_ERR_ARG_REQUIRED;
	if (memchr(a, ' ', len) != NULL)
		return SMTPP_ERR_HELO_SYNTAX;
	if (smtpp_parse_domain(a, len, &n, &flags) < 0 || n != len)
		cmd->flags |= SMTPP_CMD_F_HELO_NOT_DOMAIN;
	return SMTPP_OK;
}

static enum smtpp_err
smtpp_cmd_bdat(struct smtpp_cmd *cmd, const char *a, size_t len)
{
	const char *sp = memchr(a, ' ', len);
	size_t n = sp != NULL ? (size_t)(sp - a) : len;

	if (len == 0)
		return SMTPP_ERR_ARG_REQUIRED;
	if (smtpp_parse_u64(a, n, &cmd->bdat.size) < 0)
		return SMTPP_ERR_BDAT_SYNTAX;
	if (sp == NULL)
		return SMTPP_OK;
	if (!smtpp_memcaseeq(sp + 1, len - n - 1, "LAST"))
		return SMTPP_ERR_BDAT_SYNTAX;
	cmd->bdat.last = true;
	return SMTPP_OK;
}

/* Per-verb argument rules once the verb is known. */
static enum smtpp_err
smtpp_cmd_args(struct smtpp_cmd *cmd, const char *a, size_t len)
{
	switch (cmd->verb) {
	case SMTPP_VERB_HELO:
	case SMTPP_VERB_EHLO:
		return smtpp_cmd_helo(cmd, a, len);
	case SMTPP_VERB_MAIL:
	case SMTPP_VERB_RCPT:
		return smtpp_cmd_path(cmd, a, len);
	case SMTPP_VERB_BDAT:
		return smtpp_cmd_bdat(cmd, a, len);
	case SMTPP_VERB_DATA:
	case SMTPP_VERB_RSET:
	case SMTPP_VERB_QUIT:
	case SMTPP_VERB_STARTTLS:
		return len == 0 ? SMTPP_OK : SMTPP_ERR_NO_ARGS;
	case SMTPP_VERB_NOOP:
	case SMTPP_VERB_HELP:
		return SMTPP_OK;
	case SMTPP_VERB_VRFY:
	case SMTPP_VERB_EXPN:
	case SMTPP_VERB_AUTH:
		return len == 0 ? SMTPP_ERR_ARG_REQUIRED : SMTPP_OK;
	case SMTPP_VERB_UNKNOWN:
	case SMTPP_VERB__COUNT:
		break;
	}
	return SMTPP_ERR_UNKNOWN_VERB;
}

/* NUL and control bytes anywhere in the line (HT included: SP only). */
static enum smtpp_err
smtpp_check_bytes(const char *line, size_t len, bool *eight_r)
{
	enum smtpp_err e = SMTPP_OK;

	*eight_r = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c == 0)
			return SMTPP_ERR_NUL;
		if (c < 0x20 || c == 0x7f)
			e = SMTPP_ERR_BAD_CHAR;
		else if (c >= 0x80)
			*eight_r = true;
	}
	return e;
}

/* Parse one command line (see header for the contract). */
int
smtpp_command(const char *line, size_t len, struct smtpp_cmd *cmd)
{
	enum smtpp_err e;
	bool eight;
	size_t vlen;

	memset(cmd, 0, sizeof(*cmd));
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t')) {
		len--;
		cmd->flags |= SMTPP_CMD_F_TRAILING_WS;
	}
	e = smtpp_check_bytes(line, len, &eight);
	/* The verb is the leading letters; SP or the end must follow. */
	for (vlen = 0; vlen < len && smtpp_is_alpha((unsigned char)line[vlen]);
	     vlen++)
		;
	for (unsigned v = SMTPP_VERB_UNKNOWN + 1; v < SMTPP_VERB__COUNT; v++)
		if (smtpp_memcaseeq(line, vlen, smtpp_verb_tab[v]))
			cmd->verb = (enum smtpp_verb)v;
	/* "NOOP\0" keeps its verb for the log; "MAIL1" has none. */
	if (e == SMTPP_OK && vlen < len && line[vlen] != ' ')
		cmd->verb = SMTPP_VERB_UNKNOWN;
	if (e == SMTPP_OK && cmd->verb == SMTPP_VERB_UNKNOWN)
		e = SMTPP_ERR_UNKNOWN_VERB;
	if (e == SMTPP_OK) {
		cmd->arg = vlen < len ? line + vlen + 1 : line + len;
		cmd->arg_len = vlen < len ? len - vlen - 1 : 0;
		if (eight && cmd->verb != SMTPP_VERB_MAIL &&
		    cmd->verb != SMTPP_VERB_RCPT)
			cmd->flags |= SMTPP_CMD_F_8BIT;
		e = smtpp_cmd_args(cmd, cmd->arg, cmd->arg_len);
	}
	cmd->err = e;
	return e == SMTPP_OK ? 0 : -EBADMSG;
}
