/* SPDX-License-Identifier: MIT */
/*
 * outcome.h: the delivery policy table, the one place to read policy
 * (DESIGN decision 5, STYLE 3.4).
 *
 * The SMTP engine (smtp_client.c) and the resolver (dns.c) report facts: a
 * struct smtpc_result per recipient, one per session end, an enum
 * dns_status per lookup.  This module maps each fact, with a little context
 * (last MX host? TLS policy?), to a scope (recipient, message, MX host,
 * domain, binding) and an action (delivered, retry, bounce, next MX, ...).
 * The mapping is a table of rows scanned in order, first match wins, each
 * kind (recipient, session, DNS) ending in its own default row;
 * outcome_table_dump() prints it (docs/ERRORS.md is generated from it).
 *
 * Pure: no I/O except the dump, no clock, no state, no allocation.  It
 * decides, it does not act: the owner (domain/maintainer code) retries,
 * bounces or penalises.  Retry timing lives in backoff.[ch].
 */
#ifndef RINGMTA_OUTCOME_H
#define RINGMTA_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "compat.h"
#include "config.h"
#include "dns.h"
#include "smtp_client.h"

/* Who the action applies to. */
enum outcome_scope {
	OUTCOME_SCOPE_RCPT = 0, /* this recipient only */
	OUTCOME_SCOPE_MESSAGE,  /* every recipient of the message shares it */
	OUTCOME_SCOPE_HOST,     /* the MX host (address) of the session */
	OUTCOME_SCOPE_DOMAIN,   /* every message queued for the domain */
	OUTCOME_SCOPE_BINDING,  /* our source address / EHLO identity */
	OUTCOME_SCOPE__COUNT    /* must stay last */
};
const char *outcome_scope_str(enum outcome_scope s);

/*
 * What to do.  For session and DNS outcomes DELIVERED means "no fault":
 * nothing to do (the QUIT was answered, the lookup gave addresses).
 */
enum outcome_action {
	OUTCOME_DELIVERED = 0,   /* done: remove the recipient (log success) */
	OUTCOME_RETRY,           /* temporary: keep queued, backoff_next() */
	OUTCOME_BOUNCE,          /* permanent: DSN (bounce.c), then remove */
	OUTCOME_NEXT_MX,         /* try the next host now; penalise this one */
	OUTCOME_DEFER_DOMAIN,    /* all hosts failed: backoff_domain_next() */
	OUTCOME_PURGE_DOMAIN,    /* DNS permanent: bounce all queued for it */
	OUTCOME_SUSPEND_BINDING, /* source address unusable: suspend, log once
				  */
	OUTCOME_NEW_TXN,         /* too many recipients: resend in a new
				    transaction now, not an attempt */
	OUTCOME_PLAINTEXT_RETRY, /* opportunistic TLS failed: reconnect to the
				    same host without STARTTLS, remember it */
	OUTCOME__COUNT           /* must stay last */
};
const char *outcome_action_str(enum outcome_action a);

#define OUTCOME_ESC_MAX 16 /* "5.999.999" and the NUL fit */

/*
 * A decision.  rule names the table row (static string, for logs, tests
 * and docs).  esc is the RFC 3463 enhanced code to report: the server's
 * when it agrees with both the reply code and the action's class (2 for
 * DELIVERED, 5 for BOUNCE and PURGE_DOMAIN, 4 otherwise), else the row's.
 * count_attempt: this counts as a failed attempt for the scope's backoff
 * (recipient attempts, domain failures, host strikes); maybe_dup: "." was
 * sent and no reply came (copied from the result: a fact, not policy);
 * no_reuse: never hand this connection another message.
 */
struct outcome {
	enum outcome_scope scope;
	enum outcome_action action;
	bool penalize_host;
	bool count_attempt;
	bool maybe_dup;
	bool no_reuse;
	const char *rule;
	char esc[OUTCOME_ESC_MAX];
};

/*
 * The context of a result.  last_mx: no other MX host (address) is left to
 * try in this round, so NEXT_MX becomes DEFER_DOMAIN (scope DOMAIN).  tls:
 * the domain's TLS policy; tls_attempted: STARTTLS was sent in this
 * session (false when a plaintext retry is in effect).  accepted: the
 * message's recipients accepted so far in this transaction (smtpc_msg
 * .accepted), which tells "too many recipients" from "none wanted".
 *
 * What the TLS rows expect from smtp_client_tls.c: TLS required but
 * STARTTLS not offered is SMTPC_FAIL_TLS with enhanced code 4.7.4 and no
 * reply code; STARTTLS refused is SMTPC_FAIL_TLS (or _REPLY) at
 * SMTPC_STAGE_STARTTLS with the 4xx/5xx reply; a failed handshake is
 * SMTPC_FAIL_TLS at SMTPC_STAGE_STARTTLS with any other err.
 */
struct outcome_ctx {
	bool last_mx;
	enum config_tls tls;
	bool tls_attempted;
	unsigned accepted;
};

/*
 * Classify one recipient's result r (its res after on_msg_done()) into o.
 * r and ctx are only read; o is fully written.  Never fails: anything the
 * table does not know falls to the "rcpt-default" row (retry).
 */
void outcome_classify_rcpt(const struct smtpc_result *r,
			   const struct outcome_ctx *ctx, struct outcome *o);

/*
 * Classify a session's end (the why of on_close()) into o: the host-level
 * decision (next MX, domain backoff, binding suspension, plaintext retry,
 * or "no fault").  Recipients of messages in flight are classified
 * separately with outcome_classify_rcpt().  Never fails.
 */
void outcome_classify_session(const struct smtpc_result *r,
			      const struct outcome_ctx *ctx, struct outcome *o);

/*
 * Classify a lookup's status (dns_resolve_mx()/dns_resolve_host()) into o,
 * scope DOMAIN: DELIVERED (usable), PURGE_DOMAIN, DEFER_DOMAIN or RETRY.
 */
void outcome_classify_dns(enum dns_status st, struct outcome *o);

/* The number of table rows, and row i's rule name (NULL past the end). */
size_t outcome_table_size(void);
const char *outcome_table_rule(size_t i);

/*
 * Print the table to f as a Markdown table, one line per row, in match
 * order.  Returns 0 or -EIO (f's error indicator was set).
 */
int outcome_table_dump(FILE *f) ATTR_WUR;

#endif
