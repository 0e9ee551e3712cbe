/* SPDX-License-Identifier: MIT */
/*
 * delivery_int.h: what delivery.c, delivery_batch.c and delivery_dsn.c
 * share (and unit tests reach).  Not for other modules.
 *
 * A batch applies the outcomes of one unit's recipients: it logs each
 * event at once, and at dlv_batch_finish() injects the DSN (reading the
 * original while it is still live), then writes the spool marks, then
 * requeues what is left (now, or delayed with its retry time) and frees
 * the unit.
 */
#ifndef RINGMTA_DELIVERY_INT_H
#define RINGMTA_DELIVERY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "backoff.h"
#include "bounce.h"
#include "connection.h"
#include "delivery.h"
#include "record.h"

struct dlv_mark {
	uint32_t idx;
	uint8_t state;
	uint32_t attempts;
	uint64_t next_try_us;
	uint16_t code;
	char ecode[RECORD_ECODE_MAX + 1];
	char text[RECORD_TEXT_MAX];
};

struct dlv_dsn_rcpt {
	char *addr, *orcpt, *diag, *mta;
	char status[OUTCOME_ESC_MAX];
	int64_t last_attempt;
};

struct dlv_batch {
	struct dlv *d;
	domain_record *dr;
	struct dom_unit *u; /* owned: freed by dlv_batch_finish */
	const struct domain_policy *pol;
	struct backoff_policy bp;
	int64_t now_ms, received_ms;
	char idstr[2 * DOM_ID_LEN + 1];
	char sender[RECORD_ADDR_MAX + 1];
	unsigned msg_flags;
	bool live;         /* the message is in the spool */
	bool force_later;  /* domain-wide: never requeue for now */
	bool force_expire; /* expired before an attempt */
	bool no_reuse;
	/* session facts for the log (NULL: no session) */
	struct outcome_ctx ctx;
	const char *binding, *mx, *ip, *tls, *cipher;
	int64_t ms;
	/* accumulated */
	struct dlv_mark *marks;
	uint32_t nmarks;
	uint32_t *now_idx, nnow;
	uint32_t *later_idx, nlater, later_attempts;
	int64_t later_due;
	struct dlv_dsn_rcpt *dsn;
	uint32_t ndsn;
};

void dlv_batch_init(struct dlv_batch *b, struct dlv *d, domain_record *dr,
		    struct dom_unit *u);
/* Take the session's facts (host, address, TLS, latency ms). */
void dlv_batch_session(struct dlv_batch *b, struct conn *c, struct smtpc *s,
		       int64_t ms);
/* Classify and apply recipient i of the unit (result r). */
void dlv_batch_rcpt(struct dlv_batch *b, uint32_t i,
		    const struct smtpc_result *r, unsigned accepted);
/* Apply decision o to recipient index idx of the message (result r). */
void dlv_batch_apply(struct dlv_batch *b, uint32_t idx, const struct outcome *o,
		     const struct smtpc_result *r);
/* DSN, marks, requeues; frees the unit and the batch's storage. */
void dlv_batch_finish(struct dlv_batch *b);

/* Apply a domain-wide decision to every recipient of u (u is consumed). */
void dlv_unit_fail(struct dlv *d, domain_record *dr, struct dom_unit *u,
		   const struct outcome *o, const struct smtpc_result *r);
/* u's message expired before an attempt: expire its recipients. */
void dlv_unit_expire(struct dlv *d, domain_record *dr, struct dom_unit *u,
		     const struct smtpc_result *r);

/* The dom_addr a session is connected to, or NULL (MX set changed). */
struct dom_addr *dlv_conn_addr(const struct conn *c);
/* Copy src into dst[size], cut to fit, NUL-terminated. */
void dlv_strcpy(char *dst, size_t size, const char *src);
/* The bare address of sa into buf. */
void dlv_sa_ip(const struct sockaddr_storage *sa, char *buf, size_t size);

/*
 * Build the failure DSN of message id for rcpts[n] and inject it through
 * the spool (sender <>, RECORD_MSG_F_BOUNCE); queued when durable.
 * Returns 0 or -errno (logged).
 */
int dlv_dsn_send(struct dlv *d, const uint8_t id[DOM_ID_LEN],
		 const struct dlv_dsn_rcpt *rcpts, uint32_t n);
/* Detach every DSN still being committed (shutdown). */
void dlv_dsn_abort_all(struct dlv *d);

#endif
