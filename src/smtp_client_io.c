/* SPDX-License-Identifier: MIT */
/*
 * smtp_client_io.c: the client session's byte path and completions.
 *
 * Owns the double-buffered output (commands and body bytes are appended to
 * obuf[ofill]; one send at a time from the other buffer; short sends
 * resume from the same buffer; big pooled buffers only around a body),
 * the one recv into rbuf, the session timer (the earliest deadline
 * awaited, sends included: no op but the connect carries a linked
 * timeout), and the completion handlers of the session's ops.  Once a TLS
 * session exists, output and input take the TLS path of smtp_client_tls.c
 * instead (same buffers, same ops).  Turns every completion into protocol
 * events for smtp_client.c and never decides a protocol step itself.  Handlers
 * return early once the session is CLOSING, so a completion after close only
 * helps the reap along.
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
	for (unsigned i = 0; i < 2; i++) {
		s->obuf[i] = s->obuf_in[i];
		s->ocap[i] = SMTPC_OBUF;
	}
}

/*
 * Body buffers (SMTPC_BIG bytes) come from a small per-thread pool, so a
 * message costs no malloc/free of them and no fresh pages (glibc would
 * trim and fault them in again per message).  At most SMTPC_POOL_MAX
 * (2 MiB) wait there; sessions hold theirs only around a body.
 */
#define SMTPC_POOL_MAX 32

static _Thread_local struct {
	char *v[SMTPC_POOL_MAX];
	unsigned n;
} smtpc_pool;

/* A buffer of SMTPC_BIG bytes (never NULL: xmalloc). */
char *
smtpc_big_get(void)
{
	if (smtpc_pool.n > 0)
		return smtpc_pool.v[--smtpc_pool.n];
	return xmalloc(SMTPC_BIG);
}

/* Give back a buffer of smtpc_big_get(); NULL is fine. */
void
smtpc_big_put(char *p)
{
	if (p == NULL)
		return;
	if (smtpc_pool.n < SMTPC_POOL_MAX)
		smtpc_pool.v[smtpc_pool.n++] = p;
	else
		free(p);
}

/* Give back the body buffers (from the reap, no op in flight). */
void
smtpc_io_fini(struct smtpc *s)
{
	for (unsigned i = 0; i < 2; i++) {
		if (s->obuf[i] != s->obuf_in[i])
			smtpc_big_put(s->obuf[i]);
		s->obuf[i] = s->obuf_in[i];
		s->ocap[i] = SMTPC_OBUF;
	}
	smtpc_big_put(s->chunk);
	s->chunk = NULL;
}

/*
 * A body goes out in buffers of SMTPC_BIG (few sends per message); the
 * idle session keeps only the inline ones.  Buffer i may change while the
 * kernel does not hold it (a plaintext send from it in flight).
 */
void
smtpc_obuf_fit(struct smtpc *s, bool big)
{
	for (unsigned i = 0; i < 2; i++) {
		bool inline_buf = s->obuf[i] == s->obuf_in[i];
		char *p;

		if (s->sending && !s->send_tls && i != s->ofill)
			continue;
		if (s->rd_obuf && i == s->ofill)
			continue;
		if (big && inline_buf) {
			p = smtpc_big_get();
			memcpy(p, s->obuf[i], s->olen[i]);
			s->obuf[i] = p;
			s->ocap[i] = SMTPC_BIG;
		} else if (!big && !inline_buf && s->olen[i] == 0) {
			smtpc_big_put(s->obuf[i]);
			s->obuf[i] = s->obuf_in[i];
			s->ocap[i] = SMTPC_OBUF;
		}
	}
}

/* ---- output --------------------------------------------------------------
 * With TLS, smtpc_flush() hands obuf[fill] to tls_write() and sends the
 * ciphertext instead (smtpc_tls_flush); recv_done feeds the ciphertext to
 * the TLS session and passes the plaintext to smtpc_input()
 * (smtpc_tls_recv).  The protocol code never sees the difference.
 */

/* Room left in the buffer being filled (none while a read fills it). */
size_t
smtpc_room(const struct smtpc *s)
{
	return s->rd_obuf ? 0 : s->ocap[s->ofill] - s->olen[s->ofill];
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

	if (s->rd_obuf)
		return 0; /* the kernel writes body bytes into obuf[ofill] */
	if (s->tls != NULL)
		return smtpc_tls_flush(s);
	if (s->sending || s->olen[busy] == 0)
		return 0;
	s->ofill ^= 1;
	BUG_ON(s->olen[s->ofill] != 0);
	s->osent = 0;
	s->sending = true;
	s->send_deadline = ring_now(s->r) + s->o.tmo.block * SMTPC_MS;
	/* No linked timeout: the session timer covers send_deadline. */
	return ring_send(s->r, &s->op_send, s->fd, s->obuf[busy], s->olen[busy],
			 0);
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
		smtpc_obuf_fit(s, s->state == SMTPC_S_BODY);
		if (err == 0 && s->state == SMTPC_S_BODY && smtpc_room(s) > 0) {
			/* The flush freed a buffer: read on while it sends. */
			smtpc_resume(s);
			if (s->state == SMTPC_S_CLOSING)
				return;
			err = smtpc_flush(s);
		}
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
			      s->olen[busy] - s->osent, 0) < 0)
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
	bool inplace = s->rd_obuf;

	(void)flags;
	s->rd_obuf = false; /* any result: the buffer is ours again */
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
	BUG_ON(!inplace);
	smtpc_body_inplace(s, (size_t)res);
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
