/* SPDX-License-Identifier: MIT */
/*
 * smtp_parse.c: command-line framing and command/parameter parsing for the
 * SMTP servers (ringsink, the injection listener); the path, domain and
 * xtext grammar below it lives in smtp_path.c.
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
#include "smtp_path.h"

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
