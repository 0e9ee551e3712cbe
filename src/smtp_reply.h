/* SPDX-License-Identifier: MIT */
/*
 * smtp_reply.h: the client's parser of SMTP server replies (RFC 5321 §4.2)
 * and of the capability lines of a 250 EHLO reply (RFC 5321 §4.1.1.1).
 *
 * Pure: no I/O, no allocation, no logging.  Resumable at any byte split of
 * the input, bounded by a line cap and a whole-reply cap.  The peer is
 * hostile (CVE-2020-8794 read past a short final line): every byte is
 * checked once, and the stored text is sanitised so that it is safe to log
 * and to put in a DSN.
 *
 * A struct reply_parser is embedded in its owner (one per connection),
 * initialised with reply_parser_init() and needs no fini.
 */
#ifndef RINGMTA_SMTP_REPLY_H
#define RINGMTA_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compat.h"

/* Limits.  A line counts its code and text, not its CR LF. */
#define REPLY_LINE_MAX_DEFAULT  4096
#define REPLY_TOTAL_MAX_DEFAULT (64 * 1024)
/* RFC 5321 §4.5.3.1.5: a 512-octet reply line must always be accepted. */
#define REPLY_LINE_MAX_MIN      512
/*
 * Stored text: each line keeps at most REPLY_LINE_TEXT_MAX bytes of text
 * (512 minus "NNN-" and CR LF), the whole reply at most REPLY_TEXT_MAX, so
 * that one huge line cannot push out the lines after it.
 */
#define REPLY_LINE_TEXT_MAX     506
#define REPLY_TEXT_MAX          4096
/* Joins the text of consecutive lines; lines with empty text add nothing. */
#define REPLY_TEXT_SEP          "; "
/* EHLO keywords and parameters longer than this are ignored. */
#define REPLY_TOKEN_MAX         32
/* A buffer of this size always holds reply_caps_str()'s full output. */
#define REPLY_CAPS_STR_MAX      256

/*
 * One complete reply.  text is the text of every line after "NNN-" or
 * "NNN ", joined with REPLY_TEXT_SEP, NUL-terminated, and sanitised: no byte
 * below 0x20 and no 0x7f (a TAB becomes a space, other control bytes '?'),
 * and only valid UTF-8 without C1 controls, U+2028/U+2029 or bidi controls
 * (each bad sequence becomes one '?').  truncated says that a text cap cut
 * something off; the code, line count and EHLO capabilities are still exact.
 */
struct smtp_reply {
	int code;             /* 200..599 */
	unsigned esc_class;   /* RFC 3463 enhanced code of the first line: */
	unsigned esc_subject; /* class 2, 4 or 5 equal to code's first */
	unsigned esc_detail;  /* digit, else all three are 0 (absent) */
	unsigned lines;       /* >= 1 */
	bool truncated;
	size_t text_len;  /* == strlen(text) */
	const char *text; /* owned by the parser: see reply_parse() */
};

/* Why a parser stopped; every error except NONE is final. */
enum reply_err {
	REPLY_ERR_NONE = 0,
	REPLY_ERR_EMPTY_LINE,    /* -EBADMSG */
	REPLY_ERR_BAD_CODE,      /* -EBADMSG: not three digits */
	REPLY_ERR_CODE_RANGE,    /* -EBADMSG: first digit not 2..5 */
	REPLY_ERR_BAD_SEPARATOR, /* -EBADMSG: no ' ' or '-' after the code */
	REPLY_ERR_MIXED_CODES,   /* -EBADMSG: lines carry different codes */
	REPLY_ERR_LINE_TOO_LONG, /* -EMSGSIZE */
	REPLY_ERR_TOO_LONG,      /* -EMSGSIZE: whole reply over total cap */
	REPLY_ERR__COUNT         /* must stay last */
};

/* Where the parser is inside a reply. */
enum reply_state {
	REPLY_S_IDLE = 0, /* between replies */
	REPLY_S_CODE,     /* reading the three digits of a line */
	REPLY_S_SEP,      /* after the digits: ' ', '-' or end of line */
	REPLY_S_TEXT,     /* in the text of a line */
	REPLY_S__COUNT    /* must stay last */
};

/* EHLO keywords we act on; reply_cap_str() gives the keyword. */
enum reply_cap {
	REPLY_CAP_PIPELINING = 0,
	REPLY_CAP_8BITMIME,
	REPLY_CAP_SMTPUTF8,
	REPLY_CAP_ENHANCEDSTATUSCODES,
	REPLY_CAP_DSN,
	REPLY_CAP_STARTTLS,
	REPLY_CAP_CHUNKING,
	REPLY_CAP_BINARYMIME,
	REPLY_CAP_SIZE,
	REPLY_CAP_AUTH,
	REPLY_CAP__COUNT /* must stay last */
};

/* SASL mechanisms named on an AUTH line; reply_auth_str() gives the name. */
enum reply_auth {
	REPLY_AUTH_PLAIN = 0,
	REPLY_AUTH_LOGIN,
	REPLY_AUTH_CRAM_MD5,
	REPLY_AUTH_XOAUTH2,
	REPLY_AUTH_OAUTHBEARER,
	REPLY_AUTH__COUNT /* must stay last */
};

/*
 * Capabilities of one 250 EHLO reply.  Keywords are matched without regard
 * to case; the first line (the server's name) is not a capability; an empty
 * keyword (smtp-sink's final "250 ") is ignored.  "SIZE" without a value,
 * "SIZE 0" and a bad or overflowing value all leave size_max 0: no limit
 * known.  "AUTH=MECH ..." (old form) counts as AUTH.
 */
struct reply_caps {
	uint32_t flags;      /* 1u << enum reply_cap */
	uint32_t auth;       /* 1u << enum reply_auth */
	uint64_t size_max;   /* SIZE value, 0 = none announced */
	unsigned auth_other; /* AUTH mechanisms not in enum reply_auth */
	unsigned unknown;    /* lines with an unknown or invalid keyword */
};

/* Private: embed it, use the functions below, don't touch the fields. */
struct reply_parser {
	size_t line_max, total_max;
	size_t total;    /* bytes of the current reply, CR LF included */
	size_t line_len; /* content bytes of the current line */
	size_t line_out; /* text bytes stored for the current line */
	size_t text_len;
	struct reply_caps *caps;      /* filled by the current reply */
	struct reply_caps *caps_next; /* to fill by the next reply */
	uint64_t tok_value;
	enum reply_state state;
	enum reply_err err;
	int code, line_code;
	unsigned lines;
	unsigned esc[3];
	unsigned tok_idx; /* EHLO token number within the line */
	enum reply_cap tok_kw;
	bool final, pending_cr, truncated, line_full, text_full;
	bool ehlo_line, tok_over;
	uint8_t u8_len, u8_want;
	unsigned char u8_buf[4];
	uint8_t tok_len;
	char tok[REPLY_TOKEN_MAX];
	char text[REPLY_TEXT_MAX + 1];
};

/*
 * Initialise p with a line cap and a whole-reply cap in bytes; 0 selects the
 * default, a line cap below REPLY_LINE_MAX_MIN is raised to it and a total
 * cap below the line cap is raised to the line cap.
 */
void reply_parser_init(struct reply_parser *p, size_t line_max,
		       size_t total_max);

/* Forget any partial reply, error and pending EHLO request; keep the caps. */
void reply_parser_reset(struct reply_parser *p);

/*
 * Ask that the next reply to begin fill *caps (zeroed now) if its code is
 * 250.  caps must stay valid until that reply completes, fails, or the
 * parser is reset.  Applies to one reply only.  On a parse error *caps is
 * partial and must be discarded.
 */
void reply_parser_want_ehlo(struct reply_parser *p, struct reply_caps *caps);

/*
 * Consume bytes from buf[0..len).  Returns 1 when a reply is complete: *out
 * is filled, *used_r is the bytes consumed (the rest belongs to the next
 * reply: PIPELINING) and out->text stays valid until the next
 * reply_parse() or reply_parser_reset() on p.  Returns 0 when every byte was
 * consumed and the reply is not complete yet.  Returns -EBADMSG for a
 * protocol error or -EMSGSIZE for a cap exceeded, with *used_r counting the
 * offending byte; after that every call returns the same error and
 * consumes nothing (reply_parser_error() says why).  *out is written only
 * on 1.
 */
int reply_parse(struct reply_parser *p, const char *buf, size_t len,
		size_t *used_r, struct smtp_reply *out) ATTR_WUR;

/* True when no byte of an unfinished reply is held (and no error). */
bool reply_parser_idle(const struct reply_parser *p);

/* REPLY_ERR_NONE, or why the parser failed. */
enum reply_err reply_parser_error(const struct reply_parser *p);

/* Static strings for logs; "?" for an out-of-range value. */
const char *reply_err_str(enum reply_err err);
const char *reply_state_str(enum reply_state state);
const char *reply_cap_str(enum reply_cap cap);
const char *reply_auth_str(enum reply_auth auth);

/*
 * Render caps into buf[0..size) for logs, e.g. "PIPELINING SIZE=1000
 * AUTH=PLAIN,LOGIN,+1 unknown=2", or "none".  size must be > 0; the result
 * is NUL-terminated and cut at size (REPLY_CAPS_STR_MAX is always enough).
 * Returns buf.
 */
const char *reply_caps_str(const struct reply_caps *caps, char *buf,
			   size_t size);

/* True when the EHLO reply announced cap. */
static inline bool
reply_caps_has(const struct reply_caps *caps, enum reply_cap cap)
{
	return (caps->flags & (1u << cap)) != 0;
}

/* True when the AUTH line named mechanism auth. */
static inline bool
reply_caps_auth(const struct reply_caps *caps, enum reply_auth auth)
{
	return (caps->auth & (1u << auth)) != 0;
}

/* The reply class 2, 3, 4 or 5 of code 200..599, else 0. */
static inline int
reply_class(int code)
{
	if (code < 200 || code > 599)
		return 0;
	return code / 100;
}

#endif
