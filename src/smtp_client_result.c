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

/* Give every still-pending recipient of m the result tmpl. */
void
smtpc_msg_settle_rcpts(struct smtpc_msg *m, const struct smtpc_result *tmpl)
{
	for (unsigned i = 0; i < m->nrcpt; i++) {
		if (m->rcpt[i].res.status == SMTPC_R_PENDING)
			m->rcpt[i].res = *tmpl;
	}
}
