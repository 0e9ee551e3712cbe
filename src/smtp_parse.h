/* SPDX-License-Identifier: MIT */
/*
 * smtp_parse.h: server-side SMTP command framing and parsing (pure, no I/O).
 *
 * Shared by ringsink (strict, counts anomalies) and the injection listener
 * (rejects hostile input).  Three layers:
 *   - smtpp_line(): resumable command-line framing with a bounded buffer that
 *     the line parser owns; reports bare LF, bare CR and NUL instead of
 *     silently accepting them, and recovers after an overlong line;
 *   - smtpp_command(): verb, argument, MAIL/RCPT path (strict RFC 5321
 *     syntax, relay-hostile forms flagged) and ESMTP parameters;
 *   - xtext (RFC 3461) encoder and strict decoder.
 * Addresses are opaque data: nothing here interprets, expands or executes
 * them.  Every parse error maps to one enum smtpp_err and one suggested reply
 * (smtpp_err_str()) so that every server replies the same way.
 */
#ifndef RINGMTA_SMTP_PARSE_H
#define RINGMTA_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- line framing ------------------------------------------------------ */

/*
 * Line cap: maximum length of a command line INCLUDING its CRLF, as RFC 5321
 * section 4.5.3.1.4 counts it (512).  Configurable between these bounds.
 */
#define SMTPP_LINE_CAP_MIN     512
#define SMTPP_LINE_CAP_DEFAULT 2048
#define SMTPP_LINE_CAP_MAX     65536

/* Flags on a framed line (struct smtpp_line.flags). */
enum smtpp_line_flag {
	SMTPP_LINE_F_BARE_LF = 1u << 0, /* ended by LF without CR */
	SMTPP_LINE_F_BARE_CR = 1u << 1, /* CR not followed by LF inside */
	SMTPP_LINE_F_NUL = 1u << 2,     /* NUL byte inside */
	SMTPP_LINE_F_CTRL = 1u << 3,    /* other C0 control (not HT) or DEL */
	SMTPP_LINE_F_8BIT = 1u << 4,    /* byte >= 0x80 inside */
};

/* A framed line: content without its terminator, NUL-terminated. */
struct smtpp_line {
	const char *ptr; /* owned by the line parser; valid until next call */
	size_t len;      /* content bytes (a NUL inside is possible: flags) */
	unsigned flags;  /* enum smtpp_line_flag */
};

/* Embed in the session; smtpp_line_init() / smtpp_line_fini(). */
struct smtpp_lineparser {
	char *buf;          /* cap bytes, owned */
	size_t cap;         /* line cap including CRLF */
	size_t len;         /* content bytes held */
	unsigned flags;     /* flags of the line being assembled */
	bool cr;            /* last byte was a CR, not yet in buf */
	bool skipping;      /* overlong: discarding up to the next LF */
	bool done;          /* a line was returned; clear on next call */
	uint64_t discarded; /* total bytes dropped from overlong lines */
};

/*
 * Prepare lp with a line cap of cap bytes (including CRLF), allocating its
 * buffer.  Returns 0, or -EINVAL if cap is outside
 * [SMTPP_LINE_CAP_MIN, SMTPP_LINE_CAP_MAX].
 */
int smtpp_line_init(struct smtpp_lineparser *lp, size_t cap);
/* Free lp's buffer; lp may then be re-initialised. */
void smtpp_line_fini(struct smtpp_lineparser *lp);
/* Forget any partial line (e.g. plaintext buffered before STARTTLS). */
void smtpp_line_reset(struct smtpp_lineparser *lp);

/*
 * Frame the next command line from buf[0..len).  A line ends at CRLF, or at
 * a bare LF (flagged SMTPP_LINE_F_BARE_LF); a CR not followed by LF stays in
 * the content and is flagged.  Only the bytes up to and including the
 * terminator are consumed, so pipelined data after it stays in the caller's
 * buffer (BDAT chunks, the next command).
 * Returns 1 with *line_r set (content valid until the next call on lp);
 * 0 when all input was consumed and the line is not complete yet;
 * -EMSGSIZE once the LF ending an overlong line has been consumed (content
 * plus CRLF exceeded the cap; the excess was discarded, *line_r holds the
 * truncated prefix for logging): reply smtpp_err_str(SMTPP_ERR_LINE_TOO_LONG)
 * and carry on, the framing has recovered.
 * *used_r is always set to the number of bytes consumed.
 */
int smtpp_line(struct smtpp_lineparser *lp, const char *buf, size_t len,
	       size_t *used_r, struct smtpp_line *line_r);

/* ---- errors and suggested replies -------------------------------------- */

enum smtpp_err {
	SMTPP_OK = 0,
	SMTPP_ERR_LINE_TOO_LONG,     /* 500 5.5.6 */
	SMTPP_ERR_BARE_LF,           /* 500 5.5.2 */
	SMTPP_ERR_BARE_CR,           /* 500 5.5.2 */
	SMTPP_ERR_NUL,               /* 501 5.5.2 */
	SMTPP_ERR_BAD_CHAR,          /* 501 5.5.2 control byte in command */
	SMTPP_ERR_UNKNOWN_VERB,      /* 500 5.5.1 */
	SMTPP_ERR_NO_ARGS,           /* 501 5.5.4 DATA x, QUIT x, ... */
	SMTPP_ERR_ARG_REQUIRED,      /* 501 5.5.4 HELO, VRFY, AUTH, ... */
	SMTPP_ERR_HELO_SYNTAX,       /* 501 5.5.2 */
	SMTPP_ERR_MAIL_SYNTAX,       /* 501 5.5.4 not "MAIL FROM:<...>" */
	SMTPP_ERR_RCPT_SYNTAX,       /* 501 5.5.4 not "RCPT TO:<...>" */
	SMTPP_ERR_SENDER_SYNTAX,     /* 501 5.1.7 bad reverse-path */
	SMTPP_ERR_RCPT_ADDR_SYNTAX,  /* 501 5.1.3 bad forward-path */
	SMTPP_ERR_SENDER_TOO_LONG,   /* 501 5.1.7 */
	SMTPP_ERR_RCPT_TOO_LONG,     /* 501 5.1.3 */
	SMTPP_ERR_RELAY_FORM,        /* 554 5.7.1 relay-hostile address form */
	SMTPP_ERR_SMTPUTF8_REQUIRED, /* 553 5.6.7 */
	SMTPP_ERR_PARAM_UNKNOWN,     /* 555 5.5.4 */
	SMTPP_ERR_PARAM_VALUE,       /* 501 5.5.4 */
	SMTPP_ERR_PARAM_DUP,         /* 501 5.5.4 */
	SMTPP_ERR_PARAM_UNSUPPORTED, /* 555 5.5.4 BODY=BINARYMIME */
	SMTPP_ERR_BDAT_SYNTAX,       /* 501 5.5.4 */
	SMTPP_ERR_SIZE_EXCEEDED,     /* 552 5.3.4 (caller's limit check) */
	SMTPP_ERR__COUNT             /* must stay last */
};

/*
 * The suggested reply for e, without CRLF: "code enhanced text", e.g.
 * "501 5.1.3 Bad recipient address syntax".  Static storage.
 */
const char *smtpp_err_str(enum smtpp_err e);
/* The error a framed line's flags call for (NUL, then bare CR, then bare
 * LF), or SMTPP_OK.  CTRL and 8BIT lines are left to smtpp_command(). */
enum smtpp_err smtpp_line_err(unsigned line_flags);

/* ---- commands ---------------------------------------------------------- */

enum smtpp_verb {
	SMTPP_VERB_UNKNOWN = 0,
	SMTPP_VERB_HELO,
	SMTPP_VERB_EHLO,
	SMTPP_VERB_MAIL,
	SMTPP_VERB_RCPT,
	SMTPP_VERB_DATA,
	SMTPP_VERB_BDAT,
	SMTPP_VERB_RSET,
	SMTPP_VERB_NOOP,
	SMTPP_VERB_QUIT,
	SMTPP_VERB_HELP,
	SMTPP_VERB_VRFY,
	SMTPP_VERB_EXPN,
	SMTPP_VERB_STARTTLS,
	SMTPP_VERB_AUTH,
	SMTPP_VERB__COUNT /* must stay last */
};

/* Upper-case verb name ("MAIL"), "UNKNOWN" for SMTPP_VERB_UNKNOWN. */
const char *smtpp_verb_str(enum smtpp_verb v);

/* RFC 5321 limits; the local part is tolerated up to SMTPP_LOCAL_HARD_MAX
 * (flagged SMTPP_PATH_F_LONG_LOCAL above SMTPP_LOCAL_MAX). */
#define SMTPP_LOCAL_MAX      64
#define SMTPP_LOCAL_HARD_MAX 128
#define SMTPP_DOMAIN_MAX     255
#define SMTPP_PATH_MAX       256 /* raw "<...>" including the brackets */
/* Enough for smtpp_path_str() of any parsed path, with its NUL. */
#define SMTPP_PATH_STR_SIZE  (2 * SMTPP_LOCAL_HARD_MAX + SMTPP_DOMAIN_MAX + 8)

/* What a path looked like.  SMTPP_PATH_F_RELAY_MASK: relay-attack forms. */
enum smtpp_path_flag {
	SMTPP_PATH_F_NULL = 1u << 0,       /* <> (MAIL only) */
	SMTPP_PATH_F_POSTMASTER = 1u << 1, /* <postmaster> (RCPT only) */
	SMTPP_PATH_F_QUOTED = 1u << 2,     /* local part was quoted-string */
	SMTPP_PATH_F_ROUTE = 1u << 3,      /* source route <@a,@b:u@c> */
	SMTPP_PATH_F_PERCENT = 1u << 4,    /* '%' in the local part */
	SMTPP_PATH_F_BANG = 1u << 5,       /* '!' in the local part */
	SMTPP_PATH_F_QUOTED_AT = 1u << 6,  /* '@' inside a quoted local */
	SMTPP_PATH_F_MULTI_AT = 1u << 7,   /* a@b@c (always an error) */
	SMTPP_PATH_F_LITERAL = 1u << 8,    /* domain is [address literal] */
	SMTPP_PATH_F_UTF8 = 1u << 9,       /* non-ASCII: needs SMTPUTF8 */
	SMTPP_PATH_F_LONG_LOCAL = 1u << 10 /* local part > 64 octets */
};
#define SMTPP_PATH_F__BITS 11
#define SMTPP_PATH_F_RELAY_MASK                                                \
	(SMTPP_PATH_F_ROUTE | SMTPP_PATH_F_PERCENT | SMTPP_PATH_F_BANG |       \
	 SMTPP_PATH_F_QUOTED_AT | SMTPP_PATH_F_MULTI_AT |                      \
	 SMTPP_PATH_F_LITERAL)

/* Name of path flag (1u << bit), e.g. "percent"; "?" if out of range. */
const char *smtpp_path_flag_str(unsigned bit);

/*
 * A parsed path.  local holds the local part DECODED (quotes and
 * backslashes removed; grammar guarantees no control bytes); domain holds
 * the domain as received (address literals with their brackets).  Both are
 * NUL-terminated.  A source route is validated, flagged and dropped.
 */
struct smtpp_path {
	unsigned flags; /* enum smtpp_path_flag */
	size_t local_len;
	size_t domain_len;
	char local[SMTPP_LOCAL_HARD_MAX + 1];
	char domain[SMTPP_DOMAIN_MAX + 1];
};

/*
 * Render p canonically into buf[size]: "<>", "<postmaster>" or
 * "<local@domain>" with the local part as a dot-string when it is one, else
 * as a quoted-string (only '"' and '\' escaped); no source route.
 * Returns the length (NUL not counted), or -EMSGSIZE if size is too small
 * (buf then holds "" when size > 0).
 */
int smtpp_path_str(const struct smtpp_path *p, char *buf, size_t size);
/* Same without the angle brackets ("" for the null path). */
int smtpp_addr_str(const struct smtpp_path *p, char *buf, size_t size);

/* ESMTP parameters seen (struct smtpp_cmd.params). */
enum smtpp_param {
	SMTPP_PARAM_SIZE = 1u << 0,
	SMTPP_PARAM_BODY = 1u << 1,
	SMTPP_PARAM_SMTPUTF8 = 1u << 2,
	SMTPP_PARAM_RET = 1u << 3,
	SMTPP_PARAM_ENVID = 1u << 4,
	SMTPP_PARAM_AUTH = 1u << 5, /* MAIL AUTH=, RFC 4954 */
	SMTPP_PARAM_NOTIFY = 1u << 6,
	SMTPP_PARAM_ORCPT = 1u << 7
};

enum smtpp_body {
	SMTPP_BODY_NONE = 0, /* no BODY= parameter */
	SMTPP_BODY_7BIT,
	SMTPP_BODY_8BITMIME,
	SMTPP_BODY_BINARYMIME, /* parsed, then refused: PARAM_UNSUPPORTED */
	SMTPP_BODY__COUNT      /* must stay last */
};
const char *smtpp_body_str(enum smtpp_body b);

enum smtpp_ret {
	SMTPP_RET_NONE = 0,
	SMTPP_RET_FULL,
	SMTPP_RET_HDRS,
	SMTPP_RET__COUNT /* must stay last */
};
const char *smtpp_ret_str(enum smtpp_ret r);

enum smtpp_notify {
	SMTPP_NOTIFY_NEVER = 1u << 0,
	SMTPP_NOTIFY_SUCCESS = 1u << 1,
	SMTPP_NOTIFY_FAILURE = 1u << 2,
	SMTPP_NOTIFY_DELAY = 1u << 3
};

/* RFC 3461 bounds on the encoded values (decoded ones are never longer). */
#define SMTPP_ENVID_MAX      100
#define SMTPP_ORCPT_MAX      500
#define SMTPP_ORCPT_TYPE_MAX 32
#define SMTPP_AUTH_MAX       500

struct smtpp_mail_params {
	uint64_t size; /* SIZE=, saturated at UINT64_MAX (reply 552) */
	enum smtpp_body body;
	bool smtputf8;
	enum smtpp_ret ret;
	size_t envid_len;
	char envid[SMTPP_ENVID_MAX + 1]; /* decoded, printable ASCII */
	size_t auth_len;
	char auth[SMTPP_AUTH_MAX + 1]; /* decoded AUTH= ("<>" or mailbox) */
};

struct smtpp_rcpt_params {
	unsigned notify; /* enum smtpp_notify; 0 if absent */
	char orcpt_type[SMTPP_ORCPT_TYPE_MAX + 1]; /* e.g. "rfc822" */
	size_t orcpt_len;
	char orcpt[SMTPP_ORCPT_MAX + 1]; /* decoded, printable ASCII */
};

struct smtpp_bdat {
	uint64_t size; /* chunk size in octets */
	bool last;
};

/* Flags on a parsed command (struct smtpp_cmd.flags). */
enum smtpp_cmd_flag {
	SMTPP_CMD_F_TRAILING_WS = 1u << 0, /* trailing SP/HT was ignored */
	SMTPP_CMD_F_SPACE_AFTER_COLON = 1u << 1, /* "MAIL FROM: <x>" */
	SMTPP_CMD_F_HELO_NOT_DOMAIN = 1u << 2,   /* HELO arg not a domain */
	SMTPP_CMD_F_8BIT = 1u << 3 /* non-ASCII in a free-text argument */
};

struct smtpp_cmd {
	enum smtpp_verb verb;
	enum smtpp_err err;     /* SMTPP_OK, or why smtpp_command() failed */
	unsigned flags;         /* enum smtpp_cmd_flag */
	const char *arg;        /* points into the line: text after "VERB " */
	size_t arg_len;         /* (trailing whitespace excluded) */
	struct smtpp_path path; /* MAIL, RCPT */
	unsigned params;        /* enum smtpp_param seen */
	struct smtpp_mail_params mail; /* MAIL */
	struct smtpp_rcpt_params rcpt; /* RCPT */
	struct smtpp_bdat bdat;        /* BDAT */
};

/*
 * Parse one framed command line (content without CRLF) into *cmd (cleared
 * first).  Verbs are case-insensitive.  MAIL FROM:<path> and RCPT TO:<path>
 * get strict RFC 5321 path syntax (one space after the colon tolerated and
 * flagged), then their ESMTP parameters (unknown or duplicate: error).
 * Syntactically valid relay-hostile forms are accepted and only flagged in
 * cmd->path.flags (test SMTPP_PATH_F_RELAY_MASK; reply
 * SMTPP_ERR_RELAY_FORM to refuse them); a@b@c is always refused that way.
 * Non-ASCII addresses are flagged SMTPP_PATH_F_UTF8 (the caller checks
 * SMTPUTF8).  cmd->arg points into line, so line must outlive cmd's use.
 * Returns 0, or -EBADMSG with cmd->err set (cmd->verb is set whenever the
 * verb was recognised).
 */
int smtpp_command(const char *line, size_t len, struct smtpp_cmd *cmd);

/* ---- xtext (RFC 3461) -------------------------------------------------- */

/*
 * Decode xtext src[0..len) into dst[size] (NUL-terminated), strictly: only
 * bytes 33..126 except '+' and '=', or "+XX" with two UPPER-case hex digits.
 * Any decoded byte value is allowed here (callers that store the value must
 * check it; smtpp_command() requires printable ASCII for ENVID/ORCPT/AUTH).
 * Returns 0 with *len_r = decoded length, -EBADMSG on bad syntax, -EMSGSIZE
 * if dst is too small.
 */
int smtpp_xtext_decode(const char *src, size_t len, char *dst, size_t size,
		       size_t *len_r);
/*
 * Encode src[0..len) as xtext into dst[size] (NUL-terminated): bytes 33..126
 * other than '+' and '=' as themselves, all others as "+XX".  Returns 0 with
 * *len_r = encoded length, or -EMSGSIZE (needs up to 3 * len + 1 bytes).
 */
int smtpp_xtext_encode(const char *src, size_t len, char *dst, size_t size,
		       size_t *len_r);

#endif
