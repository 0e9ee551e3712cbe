/* SPDX-License-Identifier: MIT */
/*
 * smtp_reply.c: resumable parser of SMTP replies and EHLO capabilities.
 *
 * Owns the byte-level state machine, the sanitised stored text and the caps.
 * Must not do I/O, allocate, log, or trust any byte: each input byte is
 * looked at exactly once and never re-read, so any split of the input gives
 * the same result, and a short line ("250", CVE-2020-8794) cannot cause a
 * read past what was received.  Lines end at LF; a CR right before the LF is
 * dropped, any other CR is text.  The stored text of a finished reply lives
 * in the parser until the next reply_parse() or reply_parser_reset().
 *
 * DIAGNOSTICS: errors are returned, never logged; reply_parser_error() and
 * reply_err_str() say why.
 */
#include "smtp_reply.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const reply_err_names[] = {
    [REPLY_ERR_NONE] = "no error",
    [REPLY_ERR_EMPTY_LINE] = "empty reply line",
    [REPLY_ERR_BAD_CODE] = "reply code is not three digits",
    [REPLY_ERR_CODE_RANGE] = "reply code outside 200-599",
    [REPLY_ERR_BAD_SEPARATOR] = "no space or hyphen after the reply code",
    [REPLY_ERR_MIXED_CODES] = "lines of one reply carry different codes",
    [REPLY_ERR_LINE_TOO_LONG] = "reply line too long",
    [REPLY_ERR_TOO_LONG] = "reply too long",
};
_Static_assert(nitems(reply_err_names) == REPLY_ERR__COUNT, "reply_err");

static const char *const reply_state_names[] = {
    [REPLY_S_IDLE] = "idle",
    [REPLY_S_CODE] = "code",
    [REPLY_S_SEP] = "separator",
    [REPLY_S_TEXT] = "text",
};
_Static_assert(nitems(reply_state_names) == REPLY_S__COUNT, "reply_state");

/* Also the EHLO keywords, matched without regard to case. */
static const char *const reply_cap_names[] = {
    [REPLY_CAP_PIPELINING] = "PIPELINING",
    [REPLY_CAP_8BITMIME] = "8BITMIME",
    [REPLY_CAP_SMTPUTF8] = "SMTPUTF8",
    [REPLY_CAP_ENHANCEDSTATUSCODES] = "ENHANCEDSTATUSCODES",
    [REPLY_CAP_DSN] = "DSN",
    [REPLY_CAP_STARTTLS] = "STARTTLS",
    [REPLY_CAP_CHUNKING] = "CHUNKING",
    [REPLY_CAP_BINARYMIME] = "BINARYMIME",
    [REPLY_CAP_SIZE] = "SIZE",
    [REPLY_CAP_AUTH] = "AUTH",
};
_Static_assert(nitems(reply_cap_names) == REPLY_CAP__COUNT, "reply_cap");
_Static_assert(REPLY_CAP__COUNT <= 32, "reply_caps.flags is 32 bits");

static const char *const reply_auth_names[] = {
    [REPLY_AUTH_PLAIN] = "PLAIN",
    [REPLY_AUTH_LOGIN] = "LOGIN",
    [REPLY_AUTH_CRAM_MD5] = "CRAM-MD5",
    [REPLY_AUTH_XOAUTH2] = "XOAUTH2",
    [REPLY_AUTH_OAUTHBEARER] = "OAUTHBEARER",
};
_Static_assert(nitems(reply_auth_names) == REPLY_AUTH__COUNT, "reply_auth");
_Static_assert(REPLY_AUTH__COUNT <= 32, "reply_caps.auth is 32 bits");

_Static_assert(REPLY_TOKEN_MAX <= UINT8_MAX, "tok_len is 8 bits");
_Static_assert(REPLY_LINE_TEXT_MAX <= REPLY_TEXT_MAX, "text caps");

/* The _str() functions return static strings, "?" when out of range. */
const char *
reply_err_str(enum reply_err err)
{
	if ((unsigned)err >= REPLY_ERR__COUNT)
		return "?";
	return reply_err_names[err];
}

/* Static name of the value, "?" when out of range. */
const char *
reply_state_str(enum reply_state state)
{
	if ((unsigned)state >= REPLY_S__COUNT)
		return "?";
	return reply_state_names[state];
}

/* Static name of the value, "?" when out of range. */
const char *
reply_cap_str(enum reply_cap cap)
{
	if ((unsigned)cap >= REPLY_CAP__COUNT)
		return "?";
	return reply_cap_names[cap];
}

/* Static name of the value, "?" when out of range. */
const char *
reply_auth_str(enum reply_auth auth)
{
	if ((unsigned)auth >= REPLY_AUTH__COUNT)
		return "?";
	return reply_auth_names[auth];
}

static int
reply_err_errno(enum reply_err err)
{
	switch (err) {
	case REPLY_ERR_NONE:
		return 0;
	case REPLY_ERR_EMPTY_LINE:
	case REPLY_ERR_BAD_CODE:
	case REPLY_ERR_CODE_RANGE:
	case REPLY_ERR_BAD_SEPARATOR:
	case REPLY_ERR_MIXED_CODES:
		return -EBADMSG;
	case REPLY_ERR_LINE_TOO_LONG:
	case REPLY_ERR_TOO_LONG:
		return -EMSGSIZE;
	case REPLY_ERR__COUNT:
		break;
	}
	BUG_ON(true);
	return -EINVAL;
}

static int
reply_fail(struct reply_parser *p, enum reply_err err)
{
	p->err = err;
	return reply_err_errno(err);
}

/* Clear p and set its caps (0 = default; raised to the minimums). */
void
reply_parser_init(struct reply_parser *p, size_t line_max, size_t total_max)
{
	memset(p, 0, sizeof(*p));
	p->line_max = line_max ? line_max : REPLY_LINE_MAX_DEFAULT;
	p->line_max = MAX(p->line_max, (size_t)REPLY_LINE_MAX_MIN);
	p->total_max = total_max ? total_max : REPLY_TOTAL_MAX_DEFAULT;
	p->total_max = MAX(p->total_max, p->line_max);
}

/* Back to a fresh parser with the same caps; error and EHLO request gone. */
void
reply_parser_reset(struct reply_parser *p)
{
	reply_parser_init(p, p->line_max, p->total_max);
}

/* Zero *caps; the next reply to begin fills it if it is a 250. */
void
reply_parser_want_ehlo(struct reply_parser *p, struct reply_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	p->caps_next = caps;
}

/* True between replies, false inside one or after an error. */
bool
reply_parser_idle(const struct reply_parser *p)
{
	return p->state == REPLY_S_IDLE && p->err == REPLY_ERR_NONE;
}

/* Why the parser failed, REPLY_ERR_NONE while it has not. */
enum reply_err
reply_parser_error(const struct reply_parser *p)
{
	return p->err;
}

/* ASCII-only, locale-free case-insensitive match of the token. */
static bool
reply_tok_is(const struct reply_parser *p, const char *name)
{
	size_t n = strlen(name);

	if (p->tok_len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p->tok[i];

		if (c >= 'a' && c <= 'z')
			c = (unsigned char)(c - 'a' + 'A');
		if (c != (unsigned char)name[i])
			return false;
	}
	return true;
}

static void
reply_count(unsigned *counter)
{
	if (*counter < UINT_MAX)
		(*counter)++;
}

static void
reply_ehlo_keyword(struct reply_parser *p)
{
	p->tok_kw = REPLY_CAP__COUNT;
	if (!p->tok_over) {
		for (int i = 0; i < REPLY_CAP__COUNT; i++) {
			if (reply_tok_is(p, reply_cap_names[i])) {
				p->tok_kw = (enum reply_cap)i;
				p->caps->flags |= 1u << i;
				return;
			}
		}
	}
	reply_count(&p->caps->unknown);
}

/* The first SIZE parameter: digits only, no overflow, else ignored. */
static void
reply_ehlo_size(struct reply_parser *p)
{
	uint64_t v = 0;

	if (p->tok_over)
		return;
	for (size_t i = 0; i < p->tok_len; i++) {
		unsigned d = (unsigned char)p->tok[i] - (unsigned)'0';

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return;
		v = v * 10 + d;
	}
	p->caps->size_max = v;
}

static void
reply_ehlo_auth(struct reply_parser *p)
{
	if (!p->tok_over) {
		for (int i = 0; i < REPLY_AUTH__COUNT; i++) {
			if (reply_tok_is(p, reply_auth_names[i])) {
				p->caps->auth |= 1u << i;
				return;
			}
		}
	}
	reply_count(&p->caps->auth_other);
}

static void
reply_ehlo_token_end(struct reply_parser *p)
{
	if (p->tok_len == 0)
		return;
	if (p->tok_idx == 0)
		reply_ehlo_keyword(p);
	else if (p->tok_kw == REPLY_CAP_SIZE && p->tok_idx == 1)
		reply_ehlo_size(p);
	else if (p->tok_kw == REPLY_CAP_AUTH)
		reply_ehlo_auth(p);
	p->tok_idx++;
	p->tok_len = 0;
	p->tok_over = false;
}

/* A raw text byte of an EHLO keyword line: split on SP/HTAB (and "AUTH="). */
static void
reply_ehlo_byte(struct reply_parser *p, unsigned char c)
{
	if (c == ' ' || c == '\t' || (c == '=' && p->tok_idx == 0)) {
		reply_ehlo_token_end(p);
		return;
	}
	if (p->tok_len < REPLY_TOKEN_MAX)
		p->tok[p->tok_len++] = (char)c;
	else
		p->tok_over = true;
}

/*
 * Append one unit (a separator never splits it) to the stored text, or drop
 * it and every later unit of the line (line cap) or reply (total cap).
 */
static void
reply_text_put(struct reply_parser *p, const char *s, size_t n)
{
	size_t sep = 0;

	if (p->line_full || p->text_full)
		return;
	if (p->line_out == 0 && p->text_len > 0)
		sep = sizeof(REPLY_TEXT_SEP) - 1;
	if (p->line_out + n > REPLY_LINE_TEXT_MAX) {
		p->line_full = p->truncated = true;
		return;
	}
	if (p->text_len + sep + n > REPLY_TEXT_MAX) {
		p->text_full = p->truncated = true;
		return;
	}
	memcpy(p->text + p->text_len, REPLY_TEXT_SEP, sep);
	memcpy(p->text + p->text_len + sep, s, n);
	p->text_len += sep + n;
	p->text[p->text_len] = '\0';
	p->line_out += n;
}

/* Length of the UTF-8 sequence led by c, 0 if c cannot lead one. */
static uint8_t
reply_utf8_len(unsigned char c)
{
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

/* RFC 3629 §4: may c follow the bytes held (no overlong, surrogate, >10FFFF)?
 */
static bool
reply_utf8_next_ok(const struct reply_parser *p, unsigned char c)
{
	unsigned char lo = 0x80, hi = 0xbf;

	if (p->u8_len == 1) {
		switch (p->u8_buf[0]) {
		case 0xe0:
			lo = 0xa0;
			break;
		case 0xed:
			hi = 0x9f;
			break;
		case 0xf0:
			lo = 0x90;
			break;
		case 0xf4:
			hi = 0x8f;
			break;
		}
	}
	return c >= lo && c <= hi;
}

/* Code points that are valid but unsafe in a log line or a DSN. */
static bool
reply_utf8_unsafe(uint32_t cp)
{
	return cp < 0xa0 ||                      /* C1 controls */
	       cp == 0x2028 || cp == 0x2029 ||   /* line/paragraph separators */
	       (cp >= 0x202a && cp <= 0x202e) || /* bidi embeddings */
	       (cp >= 0x2066 && cp <= 0x2069);   /* bidi isolates */
}

static void
reply_utf8_emit(struct reply_parser *p)
{
	uint32_t cp = p->u8_buf[0] & (0x7fu >> p->u8_len);

	for (uint8_t i = 1; i < p->u8_len; i++)
		cp = (cp << 6) | (p->u8_buf[i] & 0x3fu);
	if (reply_utf8_unsafe(cp))
		reply_text_put(p, "?", 1);
	else
		reply_text_put(p, (const char *)p->u8_buf, p->u8_len);
	p->u8_len = 0;
}

/* An unfinished UTF-8 sequence is one bad unit (a "maximal subpart"). */
static void
reply_utf8_flush(struct reply_parser *p)
{
	if (p->u8_len == 0)
		return;
	p->u8_len = 0;
	reply_text_put(p, "?", 1);
}

static void
reply_text_byte(struct reply_parser *p, unsigned char c)
{
	char ch = (char)c;

	if (p->ehlo_line)
		reply_ehlo_byte(p, c);
	if (p->u8_len > 0) {
		if (reply_utf8_next_ok(p, c)) {
			p->u8_buf[p->u8_len++] = c;
			if (p->u8_len == p->u8_want)
				reply_utf8_emit(p);
			return;
		}
		reply_utf8_flush(p);
	}
	if (c >= 0x80) {
		p->u8_want = reply_utf8_len(c);
		if (p->u8_want == 0) {
			reply_text_put(p, "?", 1);
			return;
		}
		p->u8_buf[0] = c;
		p->u8_len = 1;
		return;
	}
	if (c == '\t')
		ch = ' ';
	else if (c < 0x20 || c == 0x7f)
		ch = '?';
	reply_text_put(p, &ch, 1);
}

static int
reply_code_byte(struct reply_parser *p, unsigned char c)
{
	if (c < '0' || c > '9')
		return reply_fail(p, REPLY_ERR_BAD_CODE);
	if (p->line_len == 1 && (c < '2' || c > '5'))
		return reply_fail(p, REPLY_ERR_CODE_RANGE);
	p->line_code = p->line_code * 10 + (c - '0');
	if (p->line_len < 3)
		return 0;
	if (p->lines > 0 && p->line_code != p->code)
		return reply_fail(p, REPLY_ERR_MIXED_CODES);
	p->code = p->line_code;
	p->state = REPLY_S_SEP;
	return 0;
}

static int
reply_sep_byte(struct reply_parser *p, unsigned char c)
{
	if (c != ' ' && c != '-')
		return reply_fail(p, REPLY_ERR_BAD_SEPARATOR);
	p->final = c == ' ';
	p->state = REPLY_S_TEXT;
	/* Line 1 of an EHLO reply names the server, it is no keyword. */
	if (p->caps != NULL && p->code == 250 && p->lines > 0) {
		p->ehlo_line = true;
		p->tok_idx = 0;
		p->tok_len = 0;
		p->tok_over = false;
		p->tok_kw = REPLY_CAP__COUNT;
	}
	return 0;
}

/* One byte of a line that is not its line ending. */
static int
reply_content(struct reply_parser *p, unsigned char c)
{
	if (++p->line_len > p->line_max)
		return reply_fail(p, REPLY_ERR_LINE_TOO_LONG);
	switch (p->state) {
	case REPLY_S_CODE:
		return reply_code_byte(p, c);
	case REPLY_S_SEP:
		return reply_sep_byte(p, c);
	case REPLY_S_TEXT:
		reply_text_byte(p, c);
		return 0;
	case REPLY_S_IDLE:
	case REPLY_S__COUNT:
		break;
	}
	BUG_ON(true);
	return -EINVAL;
}

/* RFC 3463 "c.sss.ddd" at the start of the first line, then SP or end. */
static void
reply_parse_esc(struct reply_parser *p)
{
	static const size_t max_digits[3] = {1, 3, 3};
	const char *s = p->text;
	size_t n = p->text_len, i = 0;
	unsigned v[3];

	for (int k = 0; k < 3; k++) {
		size_t start = i;

		v[k] = 0;
		while (i < n && i - start <= max_digits[k] && s[i] >= '0' &&
		       s[i] <= '9')
			v[k] = v[k] * 10 + (unsigned)(s[i++] - '0');
		if (i == start || i - start > max_digits[k])
			return;
		if (k < 2 && (i >= n || s[i++] != '.'))
			return;
	}
	if (i < n && s[i] != ' ')
		return;
	if (v[0] != (unsigned)reply_class(p->code) || v[0] == 3)
		return;
	memcpy(p->esc, v, sizeof(v));
}

static void
reply_line_begin(struct reply_parser *p)
{
	p->state = REPLY_S_CODE;
	p->line_len = 0;
	p->line_code = 0;
	p->line_out = 0;
	p->line_full = false;
	p->ehlo_line = false;
}

static int
reply_end_line(struct reply_parser *p)
{
	switch (p->state) {
	case REPLY_S_CODE:
		return reply_fail(p, p->line_len == 0 ? REPLY_ERR_EMPTY_LINE
						      : REPLY_ERR_BAD_CODE);
	case REPLY_S_SEP:
		p->final = true; /* a bare "250" ends a reply */
		break;
	case REPLY_S_TEXT:
		break;
	case REPLY_S_IDLE:
	case REPLY_S__COUNT:
		BUG_ON(true);
	}
	reply_utf8_flush(p);
	if (p->ehlo_line)
		reply_ehlo_token_end(p);
	if (p->lines == 0)
		reply_parse_esc(p);
	p->lines++;
	reply_line_begin(p);
	if (!p->final)
		return 0;
	p->state = REPLY_S_IDLE;
	p->caps = NULL;
	return 1;
}

static void
reply_begin(struct reply_parser *p)
{
	reply_line_begin(p);
	p->caps = p->caps_next;
	p->caps_next = NULL;
	p->total = 0;
	p->text_len = 0;
	p->text[0] = '\0';
	p->code = 0;
	p->lines = 0;
	memset(p->esc, 0, sizeof(p->esc));
	p->final = p->pending_cr = false;
	p->truncated = p->text_full = false;
	p->u8_len = 0;
}

/* One byte: 1 reply complete, 0 more wanted, or -errno. */
static int
reply_feed(struct reply_parser *p, unsigned char c)
{
	int r;

	if (p->state == REPLY_S_IDLE)
		reply_begin(p);
	if (++p->total > p->total_max)
		return reply_fail(p, REPLY_ERR_TOO_LONG);
	if (c == '\n') {
		p->pending_cr = false;
		return reply_end_line(p);
	}
	if (p->pending_cr) {
		p->pending_cr = false;
		r = reply_content(p, '\r');
		if (r < 0)
			return r;
	}
	if (c == '\r') {
		p->pending_cr = true;
		return 0;
	}
	return reply_content(p, c);
}

/*
 * Consume buf[0..len): 1 with *out (text owned by p until the next call), 0
 * with everything consumed, or a final -EBADMSG/-EMSGSIZE.  *used_r always
 * says how many bytes were consumed.
 */
int
reply_parse(struct reply_parser *p, const char *buf, size_t len, size_t *used_r,
	    struct smtp_reply *out)
{
	*used_r = 0;
	if (p->err != REPLY_ERR_NONE)
		return reply_err_errno(p->err);
	for (size_t i = 0; i < len; i++) {
		int r = reply_feed(p, (unsigned char)buf[i]);

		if (r == 0)
			continue;
		*used_r = i + 1;
		if (r < 0)
			return r;
		out->code = p->code;
		out->esc_class = p->esc[0];
		out->esc_subject = p->esc[1];
		out->esc_detail = p->esc[2];
		out->lines = p->lines;
		out->truncated = p->truncated;
		out->text_len = p->text_len;
		out->text = p->text;
		return 1;
	}
	*used_r = len;
	return 0;
}

static void reply_caps_add(char *buf, size_t size, size_t *off, const char *fmt,
			   ...) ATTR_FMT(4, 5);

/* Append formatted text to buf[0..size) at *off, cutting at the end. */
static void
reply_caps_add(char *buf, size_t size, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= size - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, size - *off, fmt, ap);
	va_end(ap);
	if (n < 0)
		buf[*off] = '\0';
	else
		*off = MIN(size - 1, *off + (size_t)n);
}

/* Render caps into buf (size > 0, cut to fit) for logs; returns buf. */
const char *
reply_caps_str(const struct reply_caps *caps, char *buf, size_t size)
{
	size_t off = 0;

	BUG_ON(size == 0);
	buf[0] = '\0';
	for (int i = 0; i < REPLY_CAP__COUNT; i++) {
		if (!reply_caps_has(caps, (enum reply_cap)i))
			continue;
		reply_caps_add(buf, size, &off, "%s%s", off ? " " : "",
			       reply_cap_names[i]);
		if (i == REPLY_CAP_SIZE && caps->size_max > 0)
			reply_caps_add(buf, size, &off, "=%" PRIu64,
				       caps->size_max);
		if (i != REPLY_CAP_AUTH)
			continue;
		const char *sep = "=";
		for (int m = 0; m < REPLY_AUTH__COUNT; m++) {
			if (!reply_caps_auth(caps, (enum reply_auth)m))
				continue;
			reply_caps_add(buf, size, &off, "%s%s", sep,
				       reply_auth_names[m]);
			sep = ",";
		}
		if (caps->auth_other > 0)
			reply_caps_add(buf, size, &off, "%s+%u", sep,
				       caps->auth_other);
	}
	if (caps->unknown > 0)
		reply_caps_add(buf, size, &off, "%sunknown=%u", off ? " " : "",
			       caps->unknown);
	if (off == 0)
		reply_caps_add(buf, size, &off, "none");
	return buf;
}
