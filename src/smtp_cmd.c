/* SPDX-License-Identifier: MIT */
/*
 * smtp_cmd.c: client command formatting (see smtp_cmd.h).
 *
 * Owns nothing: writes into the caller's buffer.  Must not decide which
 * parameters a server gets (the session does) and must never emit a byte
 * sequence that a peer could read as more than one command: every input
 * string is checked before a byte is written.
 */
#include "smtp_cmd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "smtp_parse.h"

static const char *const smtpcmd_verb_names[] = {
    [SMTPCMD_DATA] = "DATA",         [SMTPCMD_RSET] = "RSET",
    [SMTPCMD_QUIT] = "QUIT",         [SMTPCMD_NOOP] = "NOOP",
    [SMTPCMD_STARTTLS] = "STARTTLS",
};
_Static_assert(nitems(smtpcmd_verb_names) == SMTPCMD__COUNT,
	       "smtpcmd_verb_names");

static const char *const smtpcmd_body_names[] = {
    [SMTPCMD_BODY_NONE] = "",
    [SMTPCMD_BODY_7BIT] = "7BIT",
    [SMTPCMD_BODY_8BITMIME] = "8BITMIME",
};
_Static_assert(nitems(smtpcmd_body_names) == SMTPCMD_BODY__COUNT,
	       "smtpcmd_body_names");

static const char *const smtpcmd_ret_names[] = {
    [SMTPCMD_RET_NONE] = "",
    [SMTPCMD_RET_FULL] = "FULL",
    [SMTPCMD_RET_HDRS] = "HDRS",
};
_Static_assert(nitems(smtpcmd_ret_names) == SMTPCMD_RET__COUNT,
	       "smtpcmd_ret_names");

const char *
smtpcmd_verb_str(enum smtpcmd_verb v)
{
	return (unsigned)v < SMTPCMD__COUNT ? smtpcmd_verb_names[v] : "?";
}

const char *
smtpcmd_body_str(enum smtpcmd_body b)
{
	return (unsigned)b < SMTPCMD_BODY__COUNT ? smtpcmd_body_names[b] : "?";
}

const char *
smtpcmd_ret_str(enum smtpcmd_ret r)
{
	return (unsigned)r < SMTPCMD_RET__COUNT ? smtpcmd_ret_names[r] : "?";
}

bool
smtpcmd_has_8bit(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return true;
	}
	return false;
}

/* A C0 control byte or DEL: never allowed in anything we send. */
static bool
smtpcmd_is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/*
 * An address between <>: no control byte, no '<' or '>' and no space
 * outside a quoted string, 8-bit only when utf8 is set.  The server parses
 * the grammar; we only make sure the line stays one command.
 */
static int
smtpcmd_check_addr(const char *a, bool utf8)
{
	bool quoted = false, esc = false;

	for (const unsigned char *p = (const unsigned char *)a; *p; p++) {
		if (smtpcmd_is_ctl(*p) || (*p >= 0x80 && !utf8))
			return -EINVAL;
		if (esc) {
			esc = false;
			continue;
		}
		if (quoted && *p == '\\')
			esc = true;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && (*p == ' ' || *p == '<' || *p == '>'))
			return -EINVAL;
	}
	return quoted ? -EINVAL : 0;
}

/* An EHLO name or parameter word: printable ASCII, no space, non-empty. */
static int
smtpcmd_check_word(const char *w)
{
	if (w == NULL || *w == '\0')
		return -EINVAL;
	for (const unsigned char *p = (const unsigned char *)w; *p; p++) {
		if (smtpcmd_is_ctl(*p) || *p >= 0x80 || *p == ' ')
			return -EINVAL;
	}
	return 0;
}

/* An output cursor that remembers overflow. */
struct smtpcmd_out {
	char *buf;
	size_t size, len, cap;
	bool over;
};

static void ATTR_FMT(2, 3)
    smtpcmd_put(struct smtpcmd_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->over)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len) {
		o->over = true;
		o->len += n < 0 ? 0 : (size_t)n;
		return;
	}
	o->len += (size_t)n;
}

/* Append CRLF and map the cursor's state to the return convention. */
static int
smtpcmd_end(struct smtpcmd_out *o, size_t *len_r)
{
	/* By hand: no room for a NUL is needed after the CRLF. */
	if (!o->over && o->size - o->len >= 2)
		memcpy(o->buf + o->len, "\r\n", 2);
	else
		o->over = true;
	o->len += 2;
	if (o->len > o->cap)
		return -EMSGSIZE;
	if (o->over)
		return -ENOBUFS;
	*len_r = o->len;
	return 0;
}

/* Append " KEY=" + xtext(raw). */
static int
smtpcmd_put_xtext(struct smtpcmd_out *o, const char *key, const char *prefix,
		  const char *raw, size_t raw_max)
{
	char enc[3 * SMTPP_ORCPT_MAX + 1];
	size_t rlen = strlen(raw), elen;

	if (rlen == 0)
		return -EINVAL;
	if (rlen > raw_max)
		return -EMSGSIZE;
	if (smtpp_xtext_encode(raw, rlen, enc, sizeof(enc), &elen) < 0)
		return -EMSGSIZE;
	smtpcmd_put(o, " %s=%s%s", key, prefix, enc);
	return 0;
}

/*
 * Write "EHLO name" or "HELO name" into buf; see the header for returns.
 */
int
smtpcmd_helo(char *buf, size_t size, bool ehlo, const char *name, size_t *len_r)
{
	struct smtpcmd_out o = {buf, size, 0, SMTPCMD_LINE_MAX, false};

	if (smtpcmd_check_word(name) < 0)
		return -EINVAL;
	smtpcmd_put(&o, "%s %s", ehlo ? "EHLO" : "HELO", name);
	return smtpcmd_end(&o, len_r);
}

/*
 * Write "MAIL FROM:<from>" and the parameters m asks for into buf; see the
 * header for returns.
 */
int
smtpcmd_mail(char *buf, size_t size, const struct smtpcmd_mail *m,
	     size_t *len_r)
{
	struct smtpcmd_out o = {buf, size, 0, SMTPCMD_MAIL_MAX, false};
	int err;

	if (m->from == NULL || smtpcmd_check_addr(m->from, m->smtputf8) < 0)
		return -EINVAL;
	if ((unsigned)m->body >= SMTPCMD_BODY__COUNT ||
	    (unsigned)m->ret >= SMTPCMD_RET__COUNT)
		return -EINVAL;
	smtpcmd_put(&o, "MAIL FROM:<%s>", m->from);
	if (m->size > 0)
		smtpcmd_put(&o, " SIZE=%" PRIu64, m->size);
	if (m->body != SMTPCMD_BODY_NONE)
		smtpcmd_put(&o, " BODY=%s", smtpcmd_body_str(m->body));
	if (m->smtputf8)
		smtpcmd_put(&o, " SMTPUTF8");
	if (m->ret != SMTPCMD_RET_NONE)
		smtpcmd_put(&o, " RET=%s", smtpcmd_ret_str(m->ret));
	if (m->envid != NULL) {
		err = smtpcmd_put_xtext(&o, "ENVID", "", m->envid,
					SMTPP_ENVID_MAX);
		if (err < 0)
			return err;
	}
	return smtpcmd_end(&o, len_r);
}

/* Append " NOTIFY=..." for the flags n (non-zero). */
static int
smtpcmd_put_notify(struct smtpcmd_out *o, unsigned n)
{
	static const char *const names[] = {"NEVER", "SUCCESS", "FAILURE",
					    "DELAY"};
	const char *sep = " NOTIFY=";

	if (n >= (1u << nitems(names)) ||
	    ((n & SMTPCMD_NOTIFY_NEVER) && n != SMTPCMD_NOTIFY_NEVER))
		return -EINVAL;
	for (unsigned i = 0; i < nitems(names); i++) {
		if (n & (1u << i)) {
			smtpcmd_put(o, "%s%s", sep, names[i]);
			sep = ",";
		}
	}
	return 0;
}

/*
 * Write "RCPT TO:<to>" and its DSN parameters into buf; see the header for
 * returns.
 */
int
smtpcmd_rcpt(char *buf, size_t size, const struct smtpcmd_rcpt *r,
	     size_t *len_r)
{
	struct smtpcmd_out o = {buf, size, 0, SMTPCMD_RCPT_MAX, false};
	int err;

	if (r->to == NULL || *r->to == '\0' ||
	    smtpcmd_check_addr(r->to, r->utf8) < 0)
		return -EINVAL;
	smtpcmd_put(&o, "RCPT TO:<%s>", r->to);
	if (r->notify != 0 && (err = smtpcmd_put_notify(&o, r->notify)) < 0)
		return err;
	if (r->orcpt != NULL) {
		/* ORCPT xtext must stay within 500 encoded; the raw value is
		 * capped so that its encoding (3x) fits the buffer. */
		err = smtpcmd_put_xtext(&o, "ORCPT", "rfc822;", r->orcpt,
					SMTPP_ORCPT_MAX);
		if (err < 0)
			return err;
	}
	return smtpcmd_end(&o, len_r);
}

/* Write a bare verb (DATA, RSET, QUIT, NOOP, STARTTLS) into buf. */
int
smtpcmd_simple(char *buf, size_t size, enum smtpcmd_verb v, size_t *len_r)
{
	struct smtpcmd_out o = {buf, size, 0, SMTPCMD_LINE_MAX, false};

	if ((unsigned)v >= SMTPCMD__COUNT)
		return -EINVAL;
	smtpcmd_put(&o, "%s", smtpcmd_verb_str(v));
	return smtpcmd_end(&o, len_r);
}
