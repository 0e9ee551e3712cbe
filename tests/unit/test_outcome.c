/* SPDX-License-Identifier: MIT */
/*
 * test_outcome: the delivery policy table.  A table of cases gives, for
 * recipient results, session ends and DNS statuses, the expected rule,
 * scope, action, flags and enhanced code; every row of the policy table
 * must be hit by at least one case.  A sweep over every stage x failure x
 * reply code x enhanced code x context checks that no combination falls
 * through to a default row and that the invariants hold (nothing unknown
 * bounces, a session never bounces, NEXT_MX never survives on the last MX,
 * the reported enhanced code agrees with the action).  Also: the R10 rule,
 * out-of-range input, the name tables and the Markdown dump.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outcome.h"

enum test_kind {
	TK_RCPT = 0,
	TK_SESSION,
	TK__COUNT /* must stay last */
};

/* A compact result: stage, fail, err, code, esc, maybe_dup. */
struct test_res {
	enum smtpc_stage stage;
	enum smtpc_fail fail;
	int err;
	int code;
	unsigned esc[3];
	bool dup;
};

struct test_case {
	enum test_kind kind;
	struct test_res r;
	struct outcome_ctx ctx;
	const char *rule;
	enum outcome_scope scope;
	enum outcome_action action;
	const char *flags; /* P penalize, C count, N no_reuse, D maybe_dup */
	const char *esc;
};

#define S(x) SMTPC_STAGE_##x
#define F(x) SMTPC_FAIL_##x
#define OPP  CONFIG_TLS_OPPORTUNISTIC
#define REQ  CONFIG_TLS_REQUIRED
#define CTX(last, pol, tried, acc)                                             \
	{                                                                      \
		.last_mx = (last), .tls = (pol), .tls_attempted = (tried),     \
		.accepted = (acc)                                              \
	}
#define CTX0 CTX(false, CONFIG_TLS_NONE, false, 0)
#define RC(rule, r, ctx, sc, act, fl, esc)                                     \
	{                                                                      \
		TK_RCPT, r, ctx, rule, OUTCOME_SCOPE_##sc, OUTCOME_##act, fl,  \
		    esc                                                        \
	}
#define SE(rule, r, ctx, sc, act, fl, esc)                                     \
	{                                                                      \
		TK_SESSION, r, ctx, rule, OUTCOME_SCOPE_##sc, OUTCOME_##act,   \
		    fl, esc                                                    \
	}
#define R(st, fl, err, code, e0, e1, e2, dup)                                  \
	{                                                                      \
		S(st), F(fl), err, code, {e0, e1, e2}, dup                     \
	}

static const struct test_case test_cases[] = {
    /* ---- recipients ---- */
    RC("rcpt-delivered", R(DOT, NONE, 0, 250, 2, 0, 0, false), CTX0, RCPT,
       DELIVERED, "", "2.0.0"),
    RC("rcpt-delivered", R(DOT, NONE, 0, 250, 2, 6, 0, false), CTX0, RCPT,
       DELIVERED, "", "2.6.0"),
    RC("rcpt-delivered", R(DOT, NONE, 0, 250, 0, 0, 0, false), CTX0, RCPT,
       DELIVERED, "", "2.0.0"),
    /* R10: "250 5.1.1" acts on 250 and ignores the enhanced code */
    RC("rcpt-delivered", R(DOT, NONE, 0, 250, 5, 1, 1, false), CTX0, RCPT,
       DELIVERED, "", "2.0.0"),
    RC("rcpt-cancelled", R(DOT, LOCAL, -ECANCELED, 0, 0, 0, 0, true), CTX0,
       MESSAGE, RETRY, "ND", "4.3.0"),
    RC("rcpt-cancelled", R(RCPT, LOCAL, -ECANCELED, 0, 0, 0, 0, false), CTX0,
       MESSAGE, RETRY, "N", "4.3.0"),
    RC("rcpt-caps-8bitmime", R(LOCAL, CAPS, -EINVAL, 0, 5, 6, 3, false), CTX0,
       MESSAGE, BOUNCE, "", "5.6.3"),
    RC("rcpt-caps-smtputf8", R(LOCAL, CAPS, -EINVAL, 0, 5, 6, 7, false), CTX0,
       MESSAGE, BOUNCE, "", "5.6.7"),
    RC("rcpt-caps-size", R(LOCAL, CAPS, -EINVAL, 0, 5, 3, 4, false), CTX0,
       MESSAGE, BOUNCE, "", "5.3.4"),
    RC("rcpt-caps-other", R(LOCAL, CAPS, -EINVAL, 0, 5, 6, 9, false), CTX0,
       MESSAGE, RETRY, "C", "4.3.0"),
    RC("rcpt-caps-other", R(MAIL, CAPS, -EINVAL, 0, 5, 6, 3, false), CTX0,
       MESSAGE, RETRY, "C", "4.3.0"),
    RC("rcpt-bad-address", R(LOCAL, LOCAL, -EINVAL, 0, 5, 1, 3, false), CTX0,
       RCPT, BOUNCE, "", "5.1.3"),
    RC("rcpt-bad-sender", R(LOCAL, LOCAL, -EINVAL, 0, 5, 1, 7, false), CTX0,
       MESSAGE, BOUNCE, "", "5.1.7"),
    RC("rcpt-local", R(LOCAL, LOCAL, -EINVAL, 0, 5, 9, 9, false), CTX0, MESSAGE,
       RETRY, "N", "4.3.0"),
    RC("rcpt-local", R(RCPT, LOCAL, -EMFILE, 0, 0, 0, 0, false), CTX0, MESSAGE,
       RETRY, "N", "4.3.0"),
    RC("rcpt-maybe-dup", R(DOT, TIMEOUT, -ETIMEDOUT, 0, 0, 0, 0, true), CTX0,
       MESSAGE, RETRY, "PCND", "4.4.2"),
    RC("rcpt-maybe-dup", R(DOT, RESET, -ECONNRESET, 0, 0, 0, 0, true), CTX0,
       MESSAGE, RETRY, "PCND", "4.4.2"),
    RC("rcpt-maybe-dup", R(DOT, PROTO, -EBADMSG, 0, 0, 0, 0, true), CTX0,
       MESSAGE, RETRY, "PCND", "4.4.2"),
    RC("rcpt-421", R(RCPT, REPLY, 0, 421, 4, 7, 0, false), CTX0, MESSAGE, RETRY,
       "PCN", "4.7.0"),
    RC("rcpt-421", R(DOT, REPLY, 0, 421, 0, 0, 0, false), CTX0, MESSAGE, RETRY,
       "PCN", "4.3.2"),
    RC("rcpt-421", R(MAIL, REPLY, 0, 421, 0, 0, 0, false),
       CTX(true, REQ, true, 0), MESSAGE, RETRY, "PCN", "4.3.2"),
    RC("msg-5xx-policy", R(DOT, REPLY, 0, 550, 5, 7, 1, false), CTX0, MESSAGE,
       BOUNCE, "", "5.7.1"),
    RC("msg-5xx-policy", R(MAIL, REPLY, 0, 554, 5, 7, 26, false), CTX0, MESSAGE,
       BOUNCE, "", "5.7.26"),
    RC("mail-5xx", R(MAIL, REPLY, 0, 550, 5, 1, 8, false), CTX0, MESSAGE,
       BOUNCE, "", "5.1.8"),
    RC("mail-5xx", R(MAIL, REPLY, 0, 553, 0, 0, 0, false), CTX0, MESSAGE,
       BOUNCE, "", "5.0.0"),
    RC("mail-4xx", R(MAIL, REPLY, 0, 451, 4, 3, 0, false), CTX0, MESSAGE, RETRY,
       "C", "4.3.0"),
    RC("mail-4xx", R(MAIL, REPLY, 0, 452, 0, 0, 0, false), CTX0, MESSAGE, RETRY,
       "C", "4.0.0"),
    RC("rcpt-mailbox-full", R(RCPT, REPLY, 0, 452, 4, 2, 2, false),
       CTX(false, CONFIG_TLS_NONE, false, 3), RCPT, RETRY, "C", "4.2.2"),
    RC("rcpt-mailbox-full", R(RCPT, REPLY, 0, 450, 4, 2, 2, false), CTX0, RCPT,
       RETRY, "C", "4.2.2"),
    RC("rcpt-too-many", R(RCPT, REPLY, 0, 452, 4, 5, 3, false),
       CTX(false, CONFIG_TLS_NONE, false, 3), RCPT, NEW_TXN, "", "4.5.3"),
    RC("rcpt-too-many", R(RCPT, REPLY, 0, 452, 0, 0, 0, false),
       CTX(false, CONFIG_TLS_NONE, false, 1), RCPT, NEW_TXN, "", "4.5.3"),
    RC("rcpt-too-many-552", R(RCPT, REPLY, 0, 552, 5, 5, 3, false),
       CTX(false, CONFIG_TLS_NONE, false, 2), RCPT, NEW_TXN, "", "4.5.3"),
    RC("rcpt-too-many-552-first", R(RCPT, REPLY, 0, 552, 5, 5, 3, false), CTX0,
       RCPT, RETRY, "C", "4.5.3"),
    RC("rcpt-4xx", R(RCPT, REPLY, 0, 452, 4, 3, 1, false), CTX0, RCPT, RETRY,
       "C", "4.3.1"),
    RC("rcpt-4xx", R(RCPT, REPLY, 0, 450, 0, 0, 0, false), CTX0, RCPT, RETRY,
       "C", "4.0.0"),
    RC("rcpt-mailbox-full", R(RCPT, REPLY, 0, 451, 4, 2, 2, false), CTX0, RCPT,
       RETRY, "C", "4.2.2"),
    /* greylisting */
    RC("rcpt-4xx", R(RCPT, REPLY, 0, 451, 4, 7, 1, false), CTX0, RCPT, RETRY,
       "C", "4.7.1"),
    /* mailbox full, but not with 450-452 */
    RC("rcpt-4xx", R(RCPT, REPLY, 0, 454, 4, 2, 2, false), CTX0, RCPT, RETRY,
       "C", "4.2.2"),
    RC("rcpt-5xx-policy", R(RCPT, REPLY, 0, 550, 5, 7, 1, false), CTX0, RCPT,
       BOUNCE, "", "5.7.1"),
    RC("rcpt-5xx", R(RCPT, REPLY, 0, 550, 5, 1, 1, false), CTX0, RCPT, BOUNCE,
       "", "5.1.1"),
    /* R10: class mismatch, so ours */
    RC("rcpt-5xx", R(RCPT, REPLY, 0, 550, 4, 1, 1, false), CTX0, RCPT, BOUNCE,
       "", "5.0.0"),
    /* a 552 without 5.5.3 is not "too many recipients" */
    RC("rcpt-5xx", R(RCPT, REPLY, 0, 552, 0, 0, 0, false),
       CTX(false, CONFIG_TLS_NONE, false, 2), RCPT, BOUNCE, "", "5.0.0"),
    RC("rcpt-5xx", R(RCPT, REPLY, 0, 552, 5, 2, 2, false),
       CTX(false, CONFIG_TLS_NONE, false, 2), RCPT, BOUNCE, "", "5.2.2"),
    RC("data-5xx", R(DATA, REPLY, 0, 554, 5, 5, 1, false), CTX0, MESSAGE,
       BOUNCE, "", "5.5.1"),
    RC("data-4xx", R(DATA, REPLY, 0, 451, 0, 0, 0, false), CTX0, MESSAGE, RETRY,
       "C", "4.0.0"),
    RC("dot-5xx", R(DOT, REPLY, 0, 552, 5, 3, 4, false), CTX0, MESSAGE, BOUNCE,
       "", "5.3.4"),
    RC("dot-4xx", R(DOT, REPLY, 0, 451, 4, 3, 0, false), CTX0, MESSAGE, RETRY,
       "C", "4.3.0"),
    RC("rcpt-reply-other", R(RSET, REPLY, 0, 550, 0, 0, 0, false), CTX0,
       MESSAGE, RETRY, "PCN", "4.5.0"),
    RC("rcpt-reply-other", R(DOT, REPLY, 0, 354, 0, 0, 0, false), CTX0, MESSAGE,
       RETRY, "PCN", "4.5.0"),
    RC("rcpt-reply-other", R(RCPT, REPLY, 0, 650, 0, 0, 0, false), CTX0,
       MESSAGE, RETRY, "PCN", "4.5.0"),
    RC("rcpt-timeout", R(RCPT, TIMEOUT, -ETIMEDOUT, 0, 0, 0, 0, false), CTX0,
       MESSAGE, RETRY, "PCN", "4.4.2"),
    RC("rcpt-timeout", R(DOT, TIMEOUT, -ETIMEDOUT, 0, 0, 0, 0, false), CTX0,
       MESSAGE, RETRY, "PCN", "4.4.2"),
    RC("rcpt-conn-lost", R(BODY, RESET, -ECONNRESET, 0, 0, 0, 0, false), CTX0,
       MESSAGE, RETRY, "PCN", "4.4.2"),
    RC("rcpt-protocol", R(RCPT, PROTO, -EBADMSG, 0, 0, 0, 0, false), CTX0,
       MESSAGE, RETRY, "PCN", "4.5.0"),
    RC("rcpt-tls", R(BODY, TLS, -EPROTO, 0, 0, 0, 0, false),
       CTX(false, OPP, true, 1), MESSAGE, RETRY, "PCN", "4.7.5"),
    RC("rcpt-not-settled", R(QUIT, NONE, 0, 221, 2, 0, 0, false), CTX0, MESSAGE,
       RETRY, "C", "4.0.0"),
    RC("rcpt-not-settled", R(DOT, NONE, 0, 0, 0, 0, 0, false), CTX0, MESSAGE,
       RETRY, "C", "4.0.0"),
    RC("rcpt-default", R(DOT, NONE, 0, 0, 0, 0, 0, false), CTX0, MESSAGE, RETRY,
       "CN", "4.0.0"), /* fail patched out of range below */

    /* ---- session ends ---- */
    SE("session-clean", R(QUIT, NONE, 0, 221, 2, 0, 0, false), CTX0, HOST,
       DELIVERED, "", "2.0.0"),
    SE("session-cancelled", R(CONNECT, LOCAL, -ECANCELED, 0, 0, 0, 0, false),
       CTX0, HOST, RETRY, "", "4.3.0"),
    SE("binding-unavailable",
       R(CONNECT, LOCAL, -EADDRNOTAVAIL, 0, 0, 0, 0, false), CTX(true, 0, 0, 0),
       BINDING, SUSPEND_BINDING, "", "4.3.5"),
    SE("session-local", R(CONNECT, LOCAL, -EMFILE, 0, 0, 0, 0, false), CTX0,
       BINDING, RETRY, "", "4.3.0"),
    SE("connect-refused", R(CONNECT, REFUSED, -ECONNREFUSED, 0, 0, 0, 0, false),
       CTX0, HOST, NEXT_MX, "PCN", "4.4.1"),
    SE("connect-refused", R(CONNECT, REFUSED, -ECONNREFUSED, 0, 0, 0, 0, false),
       CTX(true, 0, 0, 0), DOMAIN, DEFER_DOMAIN, "PCN", "4.4.1"),
    SE("connect-unreach", R(CONNECT, UNREACH, -ENETUNREACH, 0, 0, 0, 0, false),
       CTX0, HOST, NEXT_MX, "PCN", "4.4.1"),
    SE("connect-timeout", R(CONNECT, TIMEOUT, -ETIMEDOUT, 0, 0, 0, 0, false),
       CTX0, HOST, NEXT_MX, "PCN", "4.4.1"),
    SE("connect-timeout", R(CONNECT, TIMEOUT, -ETIMEDOUT, 0, 0, 0, 0, false),
       CTX(true, 0, 0, 0), DOMAIN, DEFER_DOMAIN, "PCN", "4.4.1"),
    SE("session-idle-end", R(IDLE, RESET, -ECONNRESET, 0, 0, 0, 0, false), CTX0,
       HOST, DELIVERED, "", "2.0.0"),
    SE("session-idle-end", R(IDLE, PROTO, -EPROTO, 0, 0, 0, 0, false), CTX0,
       HOST, DELIVERED, "", "2.0.0"),
    SE("session-idle-end", R(QUIT, TIMEOUT, -ETIMEDOUT, 0, 0, 0, 0, false),
       CTX0, HOST, DELIVERED, "", "2.0.0"),
    /* as smtp_client_tls.c reports them */
    SE("tls-required-missing", R(STARTTLS, TLS, 0, 0, 4, 7, 4, false),
       CTX(false, REQ, false, 0), HOST, NEXT_MX, "PCN", "4.7.4"),
    SE("tls-required-missing", R(STARTTLS, TLS, 0, 0, 4, 7, 4, false),
       CTX(true, REQ, false, 0), DOMAIN, DEFER_DOMAIN, "PCN", "4.7.4"),
    SE("tls-required-refused", R(STARTTLS, TLS, 0, 454, 4, 7, 0, false),
       CTX(false, REQ, true, 0), HOST, NEXT_MX, "PCN", "4.7.0"),
    SE("tls-required-refused", R(STARTTLS, TLS, 0, 530, 5, 7, 0, false),
       CTX(true, REQ, true, 0), DOMAIN, DEFER_DOMAIN, "PCN", "4.7.4"),
    SE("tls-required-refused", R(STARTTLS, REPLY, 0, 454, 0, 0, 0, false),
       CTX(false, REQ, true, 0), HOST, NEXT_MX, "PCN", "4.7.4"),
    /* a refusal carrying 4.7.4 is still a refusal */
    SE("tls-required-refused", R(STARTTLS, TLS, 0, 454, 4, 7, 4, false),
       CTX(false, REQ, true, 0), HOST, NEXT_MX, "PCN", "4.7.4"),
    SE("tls-required-failed", R(STARTTLS, TLS, -EPROTO, 0, 4, 7, 5, false),
       CTX(false, REQ, true, 0), HOST, NEXT_MX, "PCN", "4.7.5"),
    SE("tls-required-failed",
       R(STARTTLS, TLS, -EKEYREJECTED, 0, 4, 7, 5, false),
       CTX(false, REQ, true, 0), HOST, NEXT_MX, "PCN", "4.7.5"),
    /* plaintext after the 220 to STARTTLS */
    SE("tls-required-failed", R(STARTTLS, TLS, -EPROTO, 0, 4, 7, 0, false),
       CTX(true, REQ, true, 0), DOMAIN, DEFER_DOMAIN, "PCN", "4.7.0"),
    SE("tls-required-failed", R(STARTTLS, TLS, -EPROTO, 0, 0, 0, 0, false),
       CTX(false, REQ, true, 0), HOST, NEXT_MX, "PCN", "4.7.5"),
    SE("tls-fallback-handshake",
       R(STARTTLS, TLS, -ECONNRESET, 0, 4, 7, 5, false),
       CTX(false, OPP, true, 0), HOST, PLAINTEXT_RETRY, "N", "4.7.5"),
    SE("tls-fallback-handshake", R(STARTTLS, TLS, -EPROTO, 0, 0, 0, 0, false),
       CTX(true, OPP, true, 0), HOST, PLAINTEXT_RETRY, "N", "4.7.5"),
    SE("tls-fallback-refused", R(STARTTLS, REPLY, 0, 454, 4, 7, 0, false),
       CTX(false, OPP, true, 0), HOST, PLAINTEXT_RETRY, "N", "4.7.0"),
    SE("tls-fallback-refused", R(STARTTLS, TLS, 0, 554, 0, 0, 0, false),
       CTX(false, OPP, true, 0), HOST, PLAINTEXT_RETRY, "N", "4.7.4"),
    SE("tls-error", R(BODY, TLS, -EPROTO, 0, 0, 0, 0, false),
       CTX(false, OPP, true, 0), HOST, NEXT_MX, "PCN", "4.7.5"),
    SE("tls-error", R(STARTTLS, TLS, -EPROTO, 0, 0, 0, 0, false),
       CTX(false, OPP, false, 0), HOST, NEXT_MX, "PCN", "4.7.5"),
    SE("tls-error", R(STARTTLS, TLS, -EPROTO, 0, 0, 0, 0, false),
       CTX(false, CONFIG_TLS_NONE, true, 0), HOST, NEXT_MX, "PCN", "4.7.5"),
    SE("banner-5xx", R(BANNER, REPLY, 0, 554, 5, 7, 1, false), CTX0, HOST,
       NEXT_MX, "PCN", "4.3.2"),
    SE("banner-5xx", R(BANNER, REPLY, 0, 554, 0, 0, 0, false),
       CTX(true, 0, 0, 0), DOMAIN, DEFER_DOMAIN, "PCN", "4.3.2"),
    SE("banner-4xx", R(BANNER, REPLY, 0, 421, 4, 7, 0, false), CTX0, HOST,
       NEXT_MX, "PCN", "4.7.0"),
    SE("banner-4xx", R(BANNER, REPLY, 0, 450, 0, 0, 0, false), CTX0, HOST,
       NEXT_MX, "PCN", "4.3.2"),
    SE("helo-refused", R(HELO, REPLY, 0, 550, 5, 7, 1, false), CTX0, HOST,
       NEXT_MX, "PCN", "4.3.2"),
    SE("helo-refused", R(EHLO, REPLY, 0, 451, 0, 0, 0, false), CTX0, HOST,
       NEXT_MX, "PCN", "4.3.2"),
    SE("session-421", R(RCPT, REPLY, 0, 421, 0, 0, 0, false), CTX0, HOST,
       NEXT_MX, "PCN", "4.3.2"),
    SE("session-421", R(DOT, REPLY, 0, 421, 4, 4, 5, false), CTX(true, 0, 0, 0),
       DOMAIN, DEFER_DOMAIN, "PCN", "4.4.5"),
    SE("session-reply-other", R(RSET, REPLY, 0, 550, 0, 0, 0, false), CTX0,
       HOST, NEXT_MX, "PCN", "4.5.0"),
    SE("session-reply-other", R(STARTTLS, REPLY, 0, 454, 0, 0, 0, false), CTX0,
       HOST, NEXT_MX, "PCN", "4.5.0"),
    SE("session-reply-other", R(BANNER, REPLY, 0, 250, 0, 0, 0, false), CTX0,
       HOST, NEXT_MX, "PCN", "4.5.0"),
    SE("session-timeout", R(BANNER, TIMEOUT, -ETIMEDOUT, 0, 0, 0, 0, false),
       CTX0, HOST, NEXT_MX, "PCN", "4.4.2"),
    SE("session-timeout", R(DOT, TIMEOUT, -ETIMEDOUT, 0, 0, 0, 0, true), CTX0,
       HOST, NEXT_MX, "PCND", "4.4.2"),
    SE("session-reset", R(EHLO, RESET, -ECONNRESET, 0, 0, 0, 0, false), CTX0,
       HOST, NEXT_MX, "PCN", "4.4.2"),
    SE("session-protocol", R(BANNER, PROTO, -EBADMSG, 0, 0, 0, 0, false), CTX0,
       HOST, NEXT_MX, "PCN", "4.5.0"),
    SE("session-caps", R(LOCAL, CAPS, -EINVAL, 0, 5, 6, 3, false), CTX0, HOST,
       DELIVERED, "", "2.0.0"),
    SE("session-default", R(QUIT, NONE, 0, 0, 0, 0, 0, false), CTX0, HOST,
       NEXT_MX, "PCN", "4.0.0"), /* fail patched out of range below */
};

struct test_dns_case {
	enum dns_status st;
	const char *rule;
	enum outcome_action action;
	const char *flags;
	const char *esc;
};

static const struct test_dns_case test_dns_cases[] = {
    {DNS_OK, "dns-ok", OUTCOME_DELIVERED, "", "2.0.0"},
    {DNS_NXDOMAIN, "dns-nxdomain", OUTCOME_PURGE_DOMAIN, "", "5.1.2"},
    {DNS_NULL_MX, "dns-null-mx", OUTCOME_PURGE_DOMAIN, "", "5.1.10"},
    {DNS_BAD_NAME, "dns-bad-name", OUTCOME_PURGE_DOMAIN, "", "5.1.2"},
    {DNS_TEMPFAIL, "dns-tempfail", OUTCOME_DEFER_DOMAIN, "C", "4.4.3"},
    {DNS_NO_ADDRESSES, "dns-no-addresses", OUTCOME_DEFER_DOMAIN, "C", "4.4.4"},
    {DNS_CANCELLED, "dns-cancelled", OUTCOME_RETRY, "", "4.3.0"},
    {(enum dns_status)(DNS__COUNT + 3), "dns-default", OUTCOME_DEFER_DOMAIN,
     "C", "4.4.3"},
};
_Static_assert(nitems(test_dns_cases) == DNS__COUNT + 1, "every status");

static void
test_result(struct smtpc_result *r, const struct test_res *t)
{
	memset(r, 0, sizeof(*r));
	r->status = SMTPC_R_TEMPORARY;
	r->stage = t->stage;
	r->fail = t->fail;
	r->err = t->err;
	r->code = t->code;
	memcpy(r->esc, t->esc, sizeof(r->esc));
	r->maybe_dup = t->dup;
	snprintf(r->text, sizeof(r->text), "test");
}

static void
test_classify(enum test_kind k, const struct smtpc_result *r,
	      const struct outcome_ctx *ctx, struct outcome *o)
{
	memset(o, 0xa5, sizeof(*o)); /* the classifier must write everything */
	if (k == TK_RCPT)
		outcome_classify_rcpt(r, ctx, o);
	else
		outcome_classify_session(r, ctx, o);
}

static void
test_check_flags(const struct outcome *o, const char *flags, const char *rule)
{
	if (o->penalize_host != (strchr(flags, 'P') != NULL) ||
	    o->count_attempt != (strchr(flags, 'C') != NULL) ||
	    o->no_reuse != (strchr(flags, 'N') != NULL) ||
	    o->maybe_dup != (strchr(flags, 'D') != NULL))
		fail_msg("%s: flags P%d C%d N%d D%d, want \"%s\"", rule,
			 o->penalize_host, o->count_attempt, o->no_reuse,
			 o->maybe_dup, flags);
}

/* Mark rule as covered; fail if the policy table has no such row. */
static void
test_cover(bool *hit, const char *rule)
{
	for (size_t i = 0; i < outcome_table_size(); i++) {
		if (strcmp(outcome_table_rule(i), rule) == 0) {
			hit[i] = true;
			return;
		}
	}
	fail_msg("no row named %s", rule);
}

static void
test_one_case(const struct test_case *c, bool *hit)
{
	struct smtpc_result r;
	struct outcome o;

	test_result(&r, &c->r);
	if (strcmp(c->rule, "rcpt-default") == 0 ||
	    strcmp(c->rule, "session-default") == 0)
		r.fail = (enum smtpc_fail)(SMTPC_FAIL__COUNT + 7);
	test_classify(c->kind, &r, &c->ctx, &o);
	if (strcmp(o.rule, c->rule) != 0)
		fail_msg("%s/%s/%d: rule %s, want %s", smtpc_stage_str(r.stage),
			 smtpc_fail_str(r.fail), r.code, o.rule, c->rule);
	if (o.action != c->action || o.scope != c->scope)
		fail_msg(
		    "%s: %s/%s, want %s/%s", c->rule,
		    outcome_scope_str(o.scope), outcome_action_str(o.action),
		    outcome_scope_str(c->scope), outcome_action_str(c->action));
	test_check_flags(&o, c->flags, c->rule);
	if (strcmp(o.esc, c->esc) != 0)
		fail_msg("%s: esc %s, want %s", c->rule, o.esc, c->esc);
	test_cover(hit, o.rule);
}

static void
test_table_cases(void **state)
{
	static bool hit[256];
	struct outcome o;

	(void)state;
	assert_true(outcome_table_size() <= nitems(hit));
	for (size_t i = 0; i < nitems(test_cases); i++)
		test_one_case(&test_cases[i], hit);
	for (size_t i = 0; i < nitems(test_dns_cases); i++) {
		const struct test_dns_case *c = &test_dns_cases[i];

		memset(&o, 0xa5, sizeof(o));
		outcome_classify_dns(c->st, &o);
		assert_string_equal(o.rule, c->rule);
		assert_int_equal(o.action, c->action);
		assert_int_equal(o.scope, OUTCOME_SCOPE_DOMAIN);
		test_check_flags(&o, c->flags, c->rule);
		assert_string_equal(o.esc, c->esc);
		test_cover(hit, o.rule);
	}
	for (size_t i = 0; i < outcome_table_size(); i++) {
		if (!hit[i])
			fail_msg("row %s has no test case",
				 outcome_table_rule(i));
	}
}

/* ---- the sweep ---- */

static const int test_codes[] = {0,   221, 250, 354, 421, 450, 451,
				 452, 454, 530, 550, 552, 554, 650};
static const unsigned test_escs[][3] = {
    {0, 0, 0}, {2, 0, 0}, {4, 2, 2}, {4, 5, 3}, {4, 7, 0}, {5, 1, 1},
    {5, 3, 4}, {5, 5, 3}, {5, 6, 3}, {5, 6, 7}, {5, 7, 1}, {5, 1, 7},
};
static const int test_errs[] = {0, -ECANCELED, -EADDRNOTAVAIL, -EOPNOTSUPP,
				-EMFILE};

/* Invariants of one decision. */
static void
test_invariants(enum test_kind k, const struct smtpc_result *r,
		const struct outcome_ctx *ctx, const struct outcome *o)
{
	const char *rule = o->rule;
	size_t n = strlen(rule);
	char cls =
	    o->action == OUTCOME_DELIVERED ? '2'
	    : o->action == OUTCOME_BOUNCE || o->action == OUTCOME_PURGE_DOMAIN
		? '5'
		: '4';

	if (n >= 8 && strcmp(rule + n - 8, "-default") == 0)
		fail_msg("%s/%s/%d/%u.%u.%u err %d falls to %s",
			 smtpc_stage_str(r->stage), smtpc_fail_str(r->fail),
			 r->code, r->esc[0], r->esc[1], r->esc[2], r->err,
			 rule);
	if (o->esc[0] != cls || o->esc[1] != '.')
		fail_msg("%s: esc %s with action %s", rule, o->esc,
			 outcome_action_str(o->action));
	if (o->maybe_dup != r->maybe_dup)
		fail_msg("%s: maybe_dup not carried", rule);
	if (ctx->last_mx && o->action == OUTCOME_NEXT_MX)
		fail_msg("%s: next-mx on the last MX", rule);
	if (o->action == OUTCOME_BOUNCE &&
	    !(k == TK_RCPT &&
	      ((r->fail == SMTPC_FAIL_REPLY && r->code >= 500 &&
		r->code <= 599) ||
	       (r->stage == SMTPC_STAGE_LOCAL && r->esc[0] == 5))))
		fail_msg("%s: bounces what is not permanent", rule);
	if (k == TK_SESSION &&
	    (o->action == OUTCOME_BOUNCE || o->action == OUTCOME_NEW_TXN ||
	     o->action == OUTCOME_PURGE_DOMAIN))
		fail_msg("%s: a session end decides a message", rule);
	if (o->action == OUTCOME_PLAINTEXT_RETRY && ctx->tls == REQ)
		fail_msg("%s: plaintext under required TLS", rule);
	if (o->action == OUTCOME_DELIVERED && k == TK_RCPT &&
	    (r->code < 200 || r->code > 299))
		fail_msg("%s: delivered without a 2xx", rule);
}

/* Every context for one result: last MX, STARTTLS tried, accepted, dup. */
static unsigned
test_sweep_ctx(enum test_kind k, struct smtpc_result *r)
{
	struct outcome_ctx ctx;
	struct outcome o;
	unsigned n = 0;

	for (unsigned bits = 0; bits < 16; bits++) {
		for (int tls = 0; tls < CONFIG_TLS__COUNT; tls++) {
			ctx.last_mx = bits & 1;
			ctx.tls_attempted = (bits >> 1) & 1;
			ctx.accepted = (bits >> 2) & 1 ? 2 : 0;
			r->maybe_dup = (bits >> 3) & 1;
			ctx.tls = (enum config_tls)tls;
			test_classify(k, r, &ctx, &o);
			test_invariants(k, r, &ctx, &o);
			n++;
		}
	}
	return n;
}

/* Every code, enhanced code and (for LOCAL and TLS) errno of one cell. */
static unsigned
test_sweep_cell(enum test_kind k, enum smtpc_stage st, enum smtpc_fail fl)
{
	bool errs = fl == SMTPC_FAIL_LOCAL || fl == SMTPC_FAIL_TLS;
	size_t nerr = errs ? nitems(test_errs) : 1;
	struct smtpc_result r;
	unsigned n = 0;

	memset(&r, 0, sizeof(r));
	r.status = SMTPC_R_TEMPORARY;
	r.stage = st;
	r.fail = fl;
	for (size_t c = 0; c < nitems(test_codes); c++) {
		for (size_t e = 0; e < nitems(test_escs); e++) {
			for (size_t er = 0; er < nerr; er++) {
				r.code = test_codes[c];
				memcpy(r.esc, test_escs[e], sizeof(r.esc));
				r.err = test_errs[er];
				n += test_sweep_ctx(k, &r);
			}
		}
	}
	return n;
}

static void
test_sweep(void **state)
{
	unsigned n = 0;

	(void)state;
	for (int k = 0; k < TK__COUNT; k++) {
		for (int st = 0; st < SMTPC_STAGE__COUNT; st++) {
			for (int fl = 0; fl < SMTPC_FAIL__COUNT; fl++)
				n += test_sweep_cell((enum test_kind)k,
						     (enum smtpc_stage)st,
						     (enum smtpc_fail)fl);
		}
	}
	assert_int_equal(n,
			 TK__COUNT * SMTPC_STAGE__COUNT *
			     (SMTPC_FAIL__COUNT - 2 + 2 * nitems(test_errs)) *
			     nitems(test_codes) * nitems(test_escs) * 16 *
			     CONFIG_TLS__COUNT);
}

/* The enhanced code reported is only ever well-formed. */
static void
test_esc_guard(void **state)
{
	static const struct {
		int code;
		unsigned esc[3];
		const char *want;
	} cases[] = {
	    {550, {5, 1, 1}, "5.1.1"},
	    {550, {5, 999, 999}, "5.999.999"},
	    {550, {5, 1000, 1}, "5.0.0"},
	    {550, {5, 1, 1000}, "5.0.0"},
	    {550, {5, UINT32_MAX, 1}, "5.0.0"},
	    {550, {3, 1, 1}, "5.0.0"},
	    {550, {7, 1, 1}, "5.0.0"},
	    {550, {2, 1, 1}, "5.0.0"},
	    {550, {4, 1, 1}, "5.0.0"},
	};
	struct outcome_ctx ctx = CTX0;
	struct smtpc_result r;
	struct outcome o;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		memset(&r, 0, sizeof(r));
		r.stage = SMTPC_STAGE_RCPT;
		r.fail = SMTPC_FAIL_REPLY;
		r.code = cases[i].code;
		memcpy(r.esc, cases[i].esc, sizeof(r.esc));
		outcome_classify_rcpt(&r, &ctx, &o);
		assert_string_equal(o.rule, "rcpt-5xx");
		assert_string_equal(o.esc, cases[i].want);
	}
}

/* Out-of-range enum values fall to the defaults, never past the table. */
static void
test_out_of_range(void **state)
{
	struct outcome_ctx ctx = CTX0;
	struct smtpc_result r;
	struct outcome o;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.stage = (enum smtpc_stage)200;
	r.fail = (enum smtpc_fail) - 1;
	r.code = 550;
	outcome_classify_rcpt(&r, &ctx, &o);
	assert_string_equal(o.rule, "rcpt-default");
	assert_int_equal(o.action, OUTCOME_RETRY);
	outcome_classify_session(&r, &ctx, &o);
	assert_string_equal(o.rule, "session-default");
	ctx.last_mx = true;
	outcome_classify_session(&r, &ctx, &o);
	assert_int_equal(o.action, OUTCOME_DEFER_DOMAIN);
	assert_int_equal(o.scope, OUTCOME_SCOPE_DOMAIN);
	/* an unknown stage with a known failure still finds its row */
	r.fail = SMTPC_FAIL_REPLY;
	outcome_classify_rcpt(&r, &ctx, &o);
	assert_string_equal(o.rule, "rcpt-reply-other");
	ctx.tls = (enum config_tls)99;
	r.fail = SMTPC_FAIL_TLS;
	r.stage = SMTPC_STAGE_STARTTLS;
	ctx.last_mx = false;
	outcome_classify_session(&r, &ctx, &o);
	assert_string_equal(o.rule, "tls-error");
	outcome_classify_dns((enum dns_status) - 5, &o);
	assert_string_equal(o.rule, "dns-default");
	/* extreme numbers (found by fuzzing: -INT_MIN overflowed) */
	memset(&r, 0, sizeof(r));
	r.stage = SMTPC_STAGE_CONNECT;
	r.fail = SMTPC_FAIL_LOCAL;
	r.err = INT_MIN;
	r.code = INT_MIN;
	outcome_classify_session(&r, &ctx, &o);
	assert_string_equal(o.rule, "session-local");
	r.err = INT_MAX;
	r.code = INT_MAX;
	r.esc[0] = 5;
	r.esc[1] = r.esc[2] = UINT32_MAX;
	outcome_classify_rcpt(&r, &ctx, &o);
	assert_string_equal(o.rule, "rcpt-local");
	assert_string_equal(o.esc, "4.3.0");
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(outcome_scope_str(OUTCOME_SCOPE_RCPT), "rcpt");
	assert_string_equal(outcome_scope_str(OUTCOME_SCOPE_BINDING),
			    "binding");
	assert_string_equal(outcome_scope_str(OUTCOME_SCOPE__COUNT), "?");
	assert_string_equal(outcome_action_str(OUTCOME_DELIVERED), "delivered");
	assert_string_equal(outcome_action_str(OUTCOME_NEW_TXN), "new-txn");
	assert_string_equal(outcome_action_str(OUTCOME_PLAINTEXT_RETRY),
			    "plaintext-retry");
	assert_string_equal(outcome_action_str((enum outcome_action) - 1), "?");
	for (int a = 0; a < OUTCOME__COUNT; a++)
		assert_string_not_equal(
		    outcome_action_str((enum outcome_action)a), "?");
	for (int s = 0; s < OUTCOME_SCOPE__COUNT; s++)
		assert_string_not_equal(
		    outcome_scope_str((enum outcome_scope)s), "?");
	assert_null(outcome_table_rule(outcome_table_size()));
	/* rule names are unique: they identify rows in logs */
	for (size_t i = 0; i < outcome_table_size(); i++)
		for (size_t j = i + 1; j < outcome_table_size(); j++)
			assert_string_not_equal(outcome_table_rule(i),
						outcome_table_rule(j));
}

/* Count the needles missing from hay (reported, not failed, so the caller
 * can free before failing). */
static unsigned
test_missing(const char *hay, const char *needle)
{
	if (strstr(hay, needle) != NULL)
		return 0;
	print_error("dump lacks: %s\n", needle);
	return 1;
}

static void
test_dump(void **state)
{
	static const char *const needles[] = {
	    "| `rcpt-too-many` | rcpt | rcpt / reply | 452 | any | accepted |",
	    "| mail,data,dot / reply | 500-599 | 5.7.x |",
	    "err=ECANCELED",
	    "tls=required",
	    "next-mx (last MX: defer-domain)",
	    "| dns | nxdomain |",
	    "| PCN | 4.4.1 |",
	};
	char *buf = NULL, *p;
	size_t len = 0, lines = 0;
	unsigned missing = 0;
	FILE *f = open_memstream(&buf, &len);
	char needle[96];
	int rc;

	(void)state;
	assert_non_null(f);
	rc = outcome_table_dump(f);
	assert_int_equal(fclose(f), 0);
	for (p = buf; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	for (size_t i = 0; i < outcome_table_size(); i++) {
		snprintf(needle, sizeof(needle), "| %zu | `%s` |", i + 1,
			 outcome_table_rule(i));
		missing += test_missing(buf, needle);
	}
	for (size_t i = 0; i < nitems(needles); i++)
		missing += test_missing(buf, needles[i]);
	free(buf);
	assert_int_equal(rc, 0);
	assert_int_equal(lines, outcome_table_size() + 2);
	assert_int_equal(missing, 0);
}

static void
test_dump_error(void **state)
{
	FILE *f = fopen("/dev/full", "w");

	(void)state;
	if (f == NULL)
		fail_msg("/dev/full: %s", strerror(errno));
	setvbuf(f, NULL, _IONBF, 0);
	assert_int_equal(outcome_table_dump(f), -EIO);
	fclose(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_cases),
	    cmocka_unit_test(test_sweep),
	    cmocka_unit_test(test_esc_guard),
	    cmocka_unit_test(test_out_of_range),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_dump),
	    cmocka_unit_test(test_dump_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
