/* SPDX-License-Identifier: MIT */
/*
 * smtp_client_io.c: the client session's byte path and completions.
 *
 * Owns the double-buffered output (commands and body bytes are appended to
 * obuf[ofill]; one send at a time from the other buffer; short sends
 * resume from the same buffer), the one recv into rbuf, the session timer
 * (the earliest deadline awaited), and the completion handlers of the
 * session's ops.  Once a TLS session exists, output and input take the
 * TLS path of smtp_client_tls.c instead (same buffers, same ops).  Turns every
 * completion into protocol events for smtp_client.c and never decides a
 * protocol step itself.  Handlers return early once the session is CLOSING, so
 * a completion after close only helps the reap along.
 */
#include "smtp_client_int.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "log.h"

static void smtpc_conn_done(struct uop *op, int res, unsigned flags);
static void smtpc_recv_done(struct uop *op, int res, unsigned flags);
static void smtpc_send_done(struct uop *op, int res, unsigned flags);
static void smtpc_read_done(struct uop *op, int res, unsigned flags);
static void smtpc_timer_fired(struct timer *t);

/* Prepare the session's ops and timer (from smtpc_new()). */
void
smtpc_io_init(struct smtpc *s)
{
	uop_init(&s->op_conn, smtpc_conn_done);
	uop_init(&s->op_recv, smtpc_recv_done);
	uop_init(&s->op_send, smtpc_send_done);
	uop_init(&s->op_read, smtpc_read_done);
	timer_init(&s->tmr, smtpc_timer_fired);
}

/* ---- output --------------------------------------------------------------
 * With TLS, smtpc_flush() hands obuf[fill] to tls_write() and sends the
 * ciphertext instead (smtpc_tls_flush); recv_done feeds the ciphertext to
 * the TLS session and passes the plaintext to smtpc_input()
 * (smtpc_tls_recv).  The protocol code never sees the difference.
 */

/* Room left in the buffer being filled. */
size_t
smtpc_room(const struct smtpc *s)
{
	return SMTPC_OBUF - s->olen[s->ofill];
}

/* Queue command bytes with a pend[] entry; -ENOBUFS when it must wait. */
int
smtpc_push(struct smtpc *s, enum smtpc_stage st, struct smtpc_msg *m,
	   unsigned rcpt, const char *cmd, size_t len)
{
	struct smtpc_pend *p;

	if (s->pn == SMTPC_PEND_MAX || smtpc_room(s) < len)
		return -ENOBUFS;
	memcpy(s->obuf[s->ofill] + s->olen[s->ofill], cmd, len);
	s->olen[s->ofill] += len;
	p = &s->pend[(s->phead + s->pn++) % SMTPC_PEND_MAX];
	p->m = m;
	p->rcpt = (uint16_t)rcpt;
	p->stage = (uint8_t)st;
	p->lone = 0;
	p->deadline = ring_now(s->r) + smtpc_stage_tmo(s, st) * SMTPC_MS;
	if (m != NULL)
		m->npend++;
	log_trace("%016" PRIx64 " queue %s", s->id, smtpc_stage_str(st));
	return 0;
}

/* Queue a bare verb as stage st. */
int
smtpc_push_simple(struct smtpc *s, enum smtpc_stage st, struct smtpc_msg *m,
		  enum smtpcmd_verb v)
{
	char cmd[16];
	size_t len;
	int err = smtpcmd_simple(cmd, sizeof(cmd), v, &len);

	return err < 0 ? err : smtpc_push(s, st, m, 0, cmd, len);
}

/* Arm a send of whatever is buffered, unless a send is in flight. */
static int
smtpc_flush(struct smtpc *s)
{
	unsigned busy = s->ofill;

	if (s->tls != NULL)
		return smtpc_tls_flush(s);
	if (s->sending || s->olen[busy] == 0)
		return 0;
	s->ofill ^= 1;
	BUG_ON(s->olen[s->ofill] != 0);
	s->osent = 0;
	s->sending = true;
	s->send_deadline = ring_now(s->r) + s->o.tmo.block * SMTPC_MS;
	return ring_send(s->r, &s->op_send, s->fd, s->obuf[busy], s->olen[busy],
			 s->send_deadline);
}

/* ---- completions -------------------------------------------------------- */

static int
smtpc_arm_recv(struct smtpc *s)
{
	if (uop_busy(&s->op_recv))
		return 0;
	return ring_recv(s->r, &s->op_recv, s->fd, s->rbuf, sizeof(s->rbuf), 0);
}

/* The earliest deadline the session now waits on, 0 for none. */
static int64_t
smtpc_deadline(const struct smtpc *s)
{
	int64_t when = 0;

	if (s->pn > 0)
		when = s->pend[s->phead].deadline;
	if (s->sending && (when == 0 || s->send_deadline < when))
		when = s->send_deadline;
	if (s->state == SMTPC_S_IDLE && when == 0)
		when = s->idle_deadline;
	if (s->state == SMTPC_S_TLS && (when == 0 || s->tls_deadline < when))
		when = s->tls_deadline;
	return when;
}

/* End of every completion: send what was produced, arm recv and timer. */
void
smtpc_settle(struct smtpc *s)
{
	int64_t when;
	int err;

	if (s->state == SMTPC_S_CLOSING) {
		smtpc_reap_maybe(s);
		return;
	}
	if (s->state > SMTPC_S_CONNECT) {
		err = smtpc_flush(s);
		if (err == 0 && s->state != SMTPC_S_SHUTDOWN)
			err = smtpc_arm_recv(s); /* SHUTDOWN: input is over */
		if (err < 0) {
			smtpc_fail(s, err);
			return;
		}
	}
	when = smtpc_deadline(s);
	if (when > 0)
		timer_arm(ring_timers(s->r), &s->tmr, when);
	else
		timer_cancel(ring_timers(s->r), &s->tmr);
}

static void
smtpc_conn_done(struct uop *op, int res, unsigned flags)
{
	struct smtpc *s = container_of(op, struct smtpc, op_conn);

	(void)flags;
	if (s->state == SMTPC_S_CLOSING) {
		smtpc_reap_maybe(s);
		return;
	}
	if (res < 0) {
		smtpc_fail(s, res);
		return;
	}
	if (smtpc_push(s, SMTPC_STAGE_BANNER, NULL, 0, "", 0) < 0)
		BUG_ON(1);
	smtpc_enter(s, SMTPC_S_BANNER);
	smtpc_settle(s);
}

static void
smtpc_recv_done(struct uop *op, int res, unsigned flags)
{
	struct smtpc *s = container_of(op, struct smtpc, op_recv);
	struct smtpc_result why;
	int err;

	(void)flags;
	if (s->state == SMTPC_S_CLOSING) {
		smtpc_reap_maybe(s);
		return;
	}
	if (s->tls != NULL) {
		smtpc_tls_recv(s, res);
		smtpc_settle(s);
		return;
	}
	if (res == 0 && s->state == SMTPC_S_QUIT) {
		/* The server closed after (or instead of) its 221. */
		smtpc_result_set(&why, SMTPC_R_DELIVERED, SMTPC_FAIL_NONE,
				 SMTPC_STAGE_QUIT, 0);
		smtpc_close(s, &why);
		return;
	}
	if (res <= 0) {
		smtpc_fail(s, res == 0 ? -ECONNRESET : res);
		return;
	}
	err = smtpc_input(s, s->rbuf, (size_t)res);
	if (err < 0)
		smtpc_fail(s, err);
	smtpc_settle(s);
}

static void
smtpc_send_done(struct uop *op, int res, unsigned flags)
{
	struct smtpc *s = container_of(op, struct smtpc, op_send);
	unsigned busy = s->ofill ^ 1;

	(void)flags;
	if (s->state == SMTPC_S_CLOSING) {
		smtpc_reap_maybe(s);
		return;
	}
	if (res <= 0) {
		smtpc_fail(s, res == 0 ? -ECONNRESET : res);
		return;
	}
	if (s->send_tls) {
		if (smtpc_tls_sent(s, res)) {
			smtpc_resume(s);
			smtpc_settle(s);
		}
		return;
	}
	s->osent += (size_t)res;
	if (s->osent < s->olen[busy]) {
		/* Short send: the rest, same buffer, same deadline. */
		if (ring_send(s->r, &s->op_send, s->fd,
			      s->obuf[busy] + s->osent,
			      s->olen[busy] - s->osent, s->send_deadline) < 0)
			smtpc_fail(s, -EAGAIN);
		return;
	}
	s->olen[busy] = 0;
	s->sending = false;
	smtpc_resume(s);
	smtpc_settle(s);
}

static void
smtpc_read_done(struct uop *op, int res, unsigned flags)
{
	struct smtpc *s = container_of(op, struct smtpc, op_read);

	(void)flags;
	if (s->state == SMTPC_S_CLOSING) {
		smtpc_reap_maybe(s);
		return;
	}
	if (s->state != SMTPC_S_BODY) { /* cannot happen: read only in BODY */
		smtpc_fail(s, -EPROTO);
		return;
	}
	if (res <= 0) {
		/* A short spool file: never send "." after a cut body. */
		log_err("%016" PRIx64 " body read: %s", s->id,
			res == 0 ? "unexpected EOF" : strerror(-res));
		smtpc_fail(s, res == 0 ? -EIO : res);
		return;
	}
	s->chunk_len = (size_t)res;
	s->chunk_off = 0;
	s->body_read += (uint64_t)res;
	smtpc_resume(s);
	smtpc_settle(s);
}

static void
smtpc_timer_fired(struct timer *t)
{
	struct smtpc *s = container_of(t, struct smtpc, tmr);

	if (s->state == SMTPC_S_IDLE && s->pn == 0 && !s->sending) {
		smtpc_enter(s, SMTPC_S_QUIT);
		smtpc_settle(s);
		return;
	}
	smtpc_fail(s, -ETIMEDOUT);
	smtpc_settle(s);
}
