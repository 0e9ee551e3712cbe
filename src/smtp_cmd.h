/* SPDX-License-Identifier: MIT */
/*
 * smtp_cmd.h: formatting of the commands the outbound client sends (pure).
 *
 * EHLO/HELO, MAIL FROM with its ESMTP parameters (SIZE, BODY, SMTPUTF8,
 * RET, ENVID), RCPT TO with NOTIFY and ORCPT, and the bare verbs.  Every
 * caller-supplied string is checked: a CR, LF, NUL or other control byte
 * makes the call fail, so no input can ever inject a second command; DSN
 * values are xtext-encoded (smtp_parse.h's encoder).  Output always ends in
 * CRLF and respects the RFC 5321 line caps (plus the RFC 1870/3461/6531
 * allowances).  No I/O, no allocation, no policy: which parameters to send
 * is the caller's decision.
 */
#ifndef RINGMTA_SMTP_CMD_H
#define RINGMTA_SMTP_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compat.h"

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets with CRLF. */
#define SMTPCMD_LINE_MAX 512
/*
 * MAIL may grow by 26 (SIZE, RFC 1870), 100 (RET/ENVID, RFC 3461 4), 10
 * (SMTPUTF8) and 15 (BODY=8BITMIME); RCPT by 500 (NOTIFY/ORCPT, RFC 3461).
 */
#define SMTPCMD_MAIL_MAX (SMTPCMD_LINE_MAX + 26 + 100 + 10 + 15)
#define SMTPCMD_RCPT_MAX (SMTPCMD_LINE_MAX + 500)
/* A buffer of this size holds any command smtpcmd_*() can produce. */
#define SMTPCMD_BUF_MAX  SMTPCMD_RCPT_MAX

enum smtpcmd_verb {
	SMTPCMD_DATA = 0,
	SMTPCMD_RSET,
	SMTPCMD_QUIT,
	SMTPCMD_NOOP,
	SMTPCMD_STARTTLS,
	SMTPCMD__COUNT /* must stay last */
};
const char *smtpcmd_verb_str(enum smtpcmd_verb v);

enum smtpcmd_body {
	SMTPCMD_BODY_NONE = 0, /* no BODY= parameter */
	SMTPCMD_BODY_7BIT,
	SMTPCMD_BODY_8BITMIME,
	SMTPCMD_BODY__COUNT /* must stay last */
};
const char *smtpcmd_body_str(enum smtpcmd_body b);

enum smtpcmd_ret {
	SMTPCMD_RET_NONE = 0, /* no RET= parameter */
	SMTPCMD_RET_FULL,
	SMTPCMD_RET_HDRS,
	SMTPCMD_RET__COUNT /* must stay last */
};
const char *smtpcmd_ret_str(enum smtpcmd_ret r);

/* NOTIFY= flags (RFC 3461 4.1); NEVER excludes the others. */
enum smtpcmd_notify {
	SMTPCMD_NOTIFY_NEVER = 1u << 0,
	SMTPCMD_NOTIFY_SUCCESS = 1u << 1,
	SMTPCMD_NOTIFY_FAILURE = 1u << 2,
	SMTPCMD_NOTIFY_DELAY = 1u << 3,
};

/* MAIL FROM.  Strings are borrowed for the call only. */
struct smtpcmd_mail {
	const char *from; /* address without <>, "" for the null path */
	uint64_t size;    /* SIZE=, 0: omit */
	enum smtpcmd_body body;
	bool smtputf8;        /* SMTPUTF8 parameter; also allows 8-bit from */
	enum smtpcmd_ret ret; /* RET= */
	const char *envid;    /* raw ENVID (xtext-encoded here), NULL: omit */
};

/* RCPT TO.  Strings are borrowed for the call only. */
struct smtpcmd_rcpt {
	const char *to;    /* address without <>, never empty */
	bool utf8;         /* allow 8-bit bytes in to (SMTPUTF8 session) */
	unsigned notify;   /* enum smtpcmd_notify, 0: omit */
	const char *orcpt; /* raw original recipient, NULL: omit; sent as
			    * "rfc822;" + xtext */
};

/*
 * Each formatter writes one command with its CRLF into buf[0..size) (no
 * NUL), sets *len_r and returns 0.  Errors (nothing usable in buf):
 * -EINVAL for a string holding a control byte (CR, LF, NUL, ...), a space
 * or '<' '>' in an address, an empty EHLO name or recipient, 8-bit bytes
 * not allowed by the smtputf8/utf8 flag, or contradictory NOTIFY flags;
 * -EMSGSIZE when the line would pass its RFC cap; -ENOBUFS when size is too
 * small for a line within the cap.
 */
int smtpcmd_helo(char *buf, size_t size, bool ehlo, const char *name,
		 size_t *len_r) ATTR_WUR;
int smtpcmd_mail(char *buf, size_t size, const struct smtpcmd_mail *m,
		 size_t *len_r) ATTR_WUR;
int smtpcmd_rcpt(char *buf, size_t size, const struct smtpcmd_rcpt *r,
		 size_t *len_r) ATTR_WUR;
int smtpcmd_simple(char *buf, size_t size, enum smtpcmd_verb v,
		   size_t *len_r) ATTR_WUR;

/* True when s[0..len) holds a byte >= 0x80 (needs 8BITMIME/SMTPUTF8). */
bool smtpcmd_has_8bit(const char *s, size_t len);

#endif
