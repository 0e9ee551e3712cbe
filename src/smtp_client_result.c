/* SPDX-License-Identifier: MIT */
/*
 * smtp_client_result.c: the client's outcome vocabulary: stage, failure
 * class and status names, errno classification, default timeouts, and
 * building recipient results from replies or local refusals.  Pure: no
 * I/O, no session state, no policy (what a result means for retry or
 * bounce is outcome.c's business).
 */
#include "smtp_client_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const smtpc_stage_names[] = {
    [SMTPC_STAGE_NONE] = "none",     [SMTPC_STAGE_CONNECT] = "connect",
    [SMTPC_STAGE_BANNER] = "banner", [SMTPC_STAGE_EHLO] = "ehlo",
    [SMTPC_STAGE_HELO] = "helo",     [SMTPC_STAGE_STARTTLS] = "starttls",
    [SMTPC_STAGE_MAIL] = "mail",     [SMTPC_STAGE_RCPT] = "rcpt",
    [SMTPC_STAGE_DATA] = "data",     [SMTPC_STAGE_BODY] = "body",
    [SMTPC_STAGE_DOT] = "dot",       [SMTPC_STAGE_RSET] = "rset",
    [SMTPC_STAGE_QUIT] = "quit",     [SMTPC_STAGE_IDLE] = "idle",
    [SMTPC_STAGE_LOCAL] = "local",
};
_Static_assert(nitems(smtpc_stage_names) == SMTPC_STAGE__COUNT, "stages");

static const char *const smtpc_fail_names[] = {
    [SMTPC_FAIL_NONE] = "none",           [SMTPC_FAIL_REFUSED] = "refused",
    [SMTPC_FAIL_UNREACH] = "unreachable", [SMTPC_FAIL_TIMEOUT] = "timeout",
    [SMTPC_FAIL_RESET] = "reset",         [SMTPC_FAIL_TLS] = "tls",
    [SMTPC_FAIL_PROTO] = "protocol",      [SMTPC_FAIL_LOCAL] = "local",
    [SMTPC_FAIL_REPLY] = "reply",         [SMTPC_FAIL_CAPS] = "capability",
};
_Static_assert(nitems(smtpc_fail_names) == SMTPC_FAIL__COUNT, "fails");

static const char *const smtpc_status_names[] = {
    [SMTPC_R_PENDING] = "pending",
    [SMTPC_R_DELIVERED] = "delivered",
    [SMTPC_R_TEMPORARY] = "temporary",
    [SMTPC_R_PERMANENT] = "permanent",
};
_Static_assert(nitems(smtpc_status_names) == SMTPC_R__COUNT, "status");

/* How a stage reads in a result's text (docs/ERRORS.md, "Failure text"). */
static const char *const smtpc_stage_words[] = {
    [SMTPC_STAGE_NONE] = "session",      [SMTPC_STAGE_CONNECT] = "connect",
    [SMTPC_STAGE_BANNER] = "greeting",   [SMTPC_STAGE_EHLO] = "EHLO",
    [SMTPC_STAGE_HELO] = "HELO",         [SMTPC_STAGE_STARTTLS] = "STARTTLS",
    [SMTPC_STAGE_MAIL] = "MAIL",         [SMTPC_STAGE_RCPT] = "RCPT",
    [SMTPC_STAGE_DATA] = "DATA",         [SMTPC_STAGE_BODY] = "message body",
    [SMTPC_STAGE_DOT] = "end of data",   [SMTPC_STAGE_RSET] = "RSET",
    [SMTPC_STAGE_QUIT] = "QUIT",         [SMTPC_STAGE_IDLE] = "idle",
    [SMTPC_STAGE_LOCAL] = "local check",
};
_Static_assert(nitems(smtpc_stage_words) == SMTPC_STAGE__COUNT, "words");

/* How a failure class reads in a result's text. */
static const char *const smtpc_fail_words[] = {
    [SMTPC_FAIL_NONE] = "no failure",
    [SMTPC_FAIL_REFUSED] = "connection refused",
    [SMTPC_FAIL_UNREACH] = "unreachable",
    [SMTPC_FAIL_TIMEOUT] = "timeout",
    [SMTPC_FAIL_RESET] = "connection lost",
    [SMTPC_FAIL_TLS] = "TLS error",
    [SMTPC_FAIL_PROTO] = "protocol error",
    [SMTPC_FAIL_LOCAL] = "local error",
    [SMTPC_FAIL_REPLY] = "refused",
    [SMTPC_FAIL_CAPS] = "capability refusal",
};
_Static_assert(nitems(smtpc_fail_words) == SMTPC_FAIL__COUNT, "words");

static const char *
smtpc_stage_word(enum smtpc_stage st)
{
	return (unsigned)st < SMTPC_STAGE__COUNT ? smtpc_stage_words[st] : "?";
}

static const char *
smtpc_fail_word(enum smtpc_fail f)
{
	return (unsigned)f < SMTPC_FAIL__COUNT ? smtpc_fail_words[f] : "?";
}

const char *
smtpc_stage_str(enum smtpc_stage st)
{
	return (unsigned)st < SMTPC_STAGE__COUNT ? smtpc_stage_names[st] : "?";
}

const char *
smtpc_fail_str(enum smtpc_fail f)
{
	return (unsigned)f < SMTPC_FAIL__COUNT ? smtpc_fail_names[f] : "?";
}

const char *
smtpc_status_str(enum smtpc_status st)
{
	return (unsigned)st < SMTPC_R__COUNT ? smtpc_status_names[st] : "?";
}

/* Classify a -errno; anything not the peer's or the network's is ours. */
enum smtpc_fail
smtpc_fail_from_errno(int err)
{
	switch (-err) {
	case ECONNREFUSED:
		return SMTPC_FAIL_REFUSED;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case ENETDOWN:
	case EHOSTDOWN:
		return SMTPC_FAIL_UNREACH;
	case ETIMEDOUT:
	case ETIME:
		return SMTPC_FAIL_TIMEOUT;
	case ECONNRESET:
	case EPIPE:
	case ECONNABORTED:
		return SMTPC_FAIL_RESET;
	case EBADMSG:
	case EMSGSIZE:
	case EPROTO:
		return SMTPC_FAIL_PROTO;
	default:
		return SMTPC_FAIL_LOCAL;
	}
}

/* Fill RFC 5321 4.5.3.2 defaults (connect: Postfix's 30 s; idle 10 s). */
void
smtpc_timeouts_default(struct smtpc_timeouts *t)
{
	t->connect = 30 * 1000;
	t->banner = 300 * 1000;
	t->ehlo = 300 * 1000;
	t->mail = 300 * 1000;
	t->rcpt = 300 * 1000;
	t->data = 120 * 1000;
	t->block = 180 * 1000;
	t->dot = 600 * 1000;
	t->rset = 300 * 1000;
	t->quit = 120 * 1000;
	t->idle = 10 * 1000;
	t->starttls = 300 * 1000; /* the reply, then the handshake */
}

void
smtpc_result_set(struct smtpc_result *res, enum smtpc_status st,
		 enum smtpc_fail f, enum smtpc_stage stage, int err)
{
	memset(res, 0, sizeof(*res));
	res->status = st;
	res->fail = f;
	res->stage = stage;
	res->err = err;
}

/* A result from a reply: 2xx delivered, 4xx temporary, 5xx permanent. */
void
smtpc_result_reply(struct smtpc_result *res, const struct smtp_reply *rep,
		   enum smtpc_stage stage)
{
	int cls = reply_class(rep->code);

	smtpc_result_set(res,
			 cls == 2   ? SMTPC_R_DELIVERED
			 : cls == 5 ? SMTPC_R_PERMANENT
				    : SMTPC_R_TEMPORARY,
			 cls == 2 ? SMTPC_FAIL_NONE : SMTPC_FAIL_REPLY, stage,
			 0);
	res->code = rep->code;
	res->esc[0] = rep->esc_class;
	res->esc[1] = rep->esc_subject;
	res->esc[2] = rep->esc_detail;
	snprintf(res->text, sizeof(res->text), "%s", rep->text);
}

/* A result of our own making (local refusal, bad owner data). */
void
smtpc_result_local(struct smtpc_result *res, enum smtpc_fail f,
		   unsigned subject, unsigned detail, const char *text)
{
	smtpc_result_set(res, SMTPC_R_PERMANENT, f, SMTPC_STAGE_LOCAL, -EINVAL);
	res->esc[0] = 5;
	res->esc[1] = subject;
	res->esc[2] = detail;
	snprintf(res->text, sizeof(res->text), "%s", text);
}

/*
 * Whether reason only repeats the failure words: the same words ("protocol
 * error: Protocol error"), or strerror() of a refusal or timeout
 * ("connection refused: Connection refused", "timeout: Timer expired").
 */
static bool
smtpc_reason_redundant(enum smtpc_fail f, int err, const char *reason)
{
	if (strcasecmp(reason, smtpc_fail_word(f)) == 0)
		return true;
	return (f == SMTPC_FAIL_REFUSED || f == SMTPC_FAIL_TIMEOUT) &&
	       strcmp(reason, strerror(-err)) == 0;
}

/*
 * A session failure: "<failure> at <stage>[: <reason>]", X.7.5 for TLS.
 */
void
smtpc_result_fail(struct smtpc_result *res, enum smtpc_fail f,
		  enum smtpc_stage stage, int err, const char *reason)
{
	smtpc_result_set(res, SMTPC_R_TEMPORARY, f, stage, err);
	if (f == SMTPC_FAIL_TLS) {
		res->esc[0] = 4; /* RFC 3463 X.7.5: cryptographic failure */
		res->esc[1] = 7;
		res->esc[2] = 5;
	}
	if (reason == NULL)
		reason = err < 0 ? strerror(-err) : "";
	if (reason[0] == '\0' || smtpc_reason_redundant(f, err, reason))
		reason = NULL;
	snprintf(res->text, sizeof(res->text), "%s at %s%s%s",
		 smtpc_fail_word(f), smtpc_stage_word(stage),
		 reason ? ": " : "", reason ? reason : "");
}

/* A reply by its code and stage; anything else by its own text. */
const char *
smtpc_result_describe(const struct smtpc_result *r, char *buf, size_t n)
{
	if (n == 0)
		return buf;
	if (r->code > 0 &&
	    (r->fail == SMTPC_FAIL_REPLY || r->fail == SMTPC_FAIL_NONE))
		snprintf(buf, n, "%d at %s%s%s", r->code,
			 smtpc_stage_word(r->stage), r->text[0] ? ": " : "",
			 r->text);
	else if (r->text[0] != '\0')
		snprintf(buf, n, "%s", r->text);
	else
		snprintf(buf, n, "%s at %s", smtpc_fail_word(r->fail),
			 smtpc_stage_word(r->stage));
	return buf;
}

/* Give every still-pending recipient of m the result tmpl. */
void
smtpc_msg_settle_rcpts(struct smtpc_msg *m, const struct smtpc_result *tmpl)
{
	for (unsigned i = 0; i < m->nrcpt; i++) {
		if (m->rcpt[i].res.status == SMTPC_R_PENDING)
			m->rcpt[i].res = *tmpl;
	}
}
