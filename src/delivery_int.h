/* SPDX-License-Identifier: MIT */
/*
 * delivery_int.h: what delivery.c, delivery_batch.c, delivery_dsn.c and
 * delivery_domain.c share (and unit tests reach).  Not for other modules.
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
	int64_t retry_until; /* delay notices: Will-Retry-Until, 0: none */
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
 * Start the failure DSN of live message id for rcpts[n] (copied: the
 * caller keeps them): the original is read through the ring, then the DSN
 * is built and injected through the spool (sender <>,
 * RECORD_MSG_F_BOUNCE) and queued when durable.  Returns 0 once started
 * (later failures are logged), -ENOENT (message not live) or -errno.
 */
int dlv_dsn_send(struct dlv *d, const uint8_t id[DOM_ID_LEN],
		 const struct dlv_dsn_rcpt *rcpts, uint32_t n);
/*
 * The same for batch b (nothing if b->ndsn == 0 or the message is not
 * live), and the DSN job takes over b's bounced and expired marks:
 * they are removed from b->marks and written right after the DSN's
 * commit is queued, so they never become durable before it (or when no
 * DSN can be built; not at all if shutdown cancels the read, so those
 * recipients are tried again after a restart).  Once started, b->dsn's
 * strings are freed and b->ndsn is 0 (a second call does nothing).  Call
 * it in place of dlv_dsn_send() in dlv_batch_finish(), before the marks
 * are written.
 */
void dlv_dsn_send_batch(struct dlv_batch *b);
/* Write mark mk of message id to the spool now (a failure is logged). */
void dlv_dsn_mark_write(struct dlv *d, const uint8_t id[DOM_ID_LEN],
			const struct dlv_mark *mk);
/*
 * Delay notices (docs/BOUNCES.md): for each RECORD_RS_DEFERRED mark of b
 * whose new next try reaches received + delay_warning while the one in
 * the spool (the previous deferral's, 0: none) did not, and whose NOTIFY
 * asks for DELAY (or is absent), one "delayed" DSN for the unit's message
 * (never for <> or a DSN).  Call from dlv_batch_finish() BEFORE the marks
 * are written: it reads the previous next try from the spool's index.
 */
void dlv_dsn_delay(const struct dlv_batch *b);
/* Shutdown: let reads in flight finish (2 s at most) so their DSNs are
 * still committed, cancel the rest; detach every DSN being committed. */
void dlv_dsn_abort_all(struct dlv *d);
/* The same with a wait of wait_ns (0: cancel every read at once). */
void dlv_dsn_abort_wait(struct dlv *d, int64_t wait_ns);

#endif
