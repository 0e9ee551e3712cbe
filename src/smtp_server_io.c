/* SPDX-License-Identifier: MIT */
/*
 * smtp_server_io.c: a session's receive side and its one timer.
 *
 * Owns the receive buffer's compaction, the recv, and the session timer
 * (s->deadline) that stands for every deadline of the session: the session
 * deadline (t_end), the recv's (t_recv: idle, handshake or linger) and the
 * send's (t_send).  No recv or send carries a linked timeout.  The timer is
 * armed lazily: a deadline that moves later (every recv and send moves its
 * own) leaves it alone; when it fires early it is simply moved to the
 * earliest deadline still ahead.  A deadline that passed ends the session
 * as the op's -ETIMEDOUT did: the op itself stays in flight until the
 * close cancels it.  Must not decide anything about the client (the
 * owner's smtps_ops do).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "smtp_server_int.h"

static int64_t
smtps_idle_ns(const struct smtps_session *s)
{
	return (int64_t)s->srv->cfg.idle_timeout_ms * 1000000;
}

/*
 * Make the session timer fire no later than when (a live session's timer
 * is always armed, at t_end at the latest).
 */
void
smtps_timer_want(struct smtps_session *s, int64_t when)
{
	if (s->state >= SMTPS_S_CLOSING)
		return;
	if (!timer_armed(&s->deadline) || when < s->deadline.when)
		timer_arm(ring_timers(s->srv->ring), &s->deadline, when);
}

/* A send is being started: it must end within the idle timeout. */
void
smtps_send_deadline(struct smtps_session *s)
{
	s->t_send = ring_now(s->srv->ring) + smtps_idle_ns(s);
	smtps_timer_want(s, s->t_send);
}

/* ---- receive ----------------------------------------------------------- */

/* Move the unconsumed input to the start of to (which has room for it). */
static void
smtps_in_move(struct smtps_session *s, char *to, size_t cap)
{
	size_t n = s->in_len - s->in_off;

	memcpy(to, s->in + s->in_off, n);
	s->in = to;
	s->in_cap = cap;
	s->in_off = 0;
	s->in_len = n;
}

/*
 * A body arrives as fast as the buffer fills: read it SMTPS_BODY_BUF at a
 * time into a buffer lent from the server's pool (the session's own stays
 * recv_buf, the size a command needs).  Not under TLS (tls.c decrypts into
 * in[]), not for a client that trickles.
 */
static void
smtps_in_lend(struct smtps_session *s)
{
	struct smtps_server *srv = s->srv;
	char *big;

	if (s->in_own != NULL || !s->recv_full || s->tls_st != SMTPS_TLS_OFF ||
	    (s->state != SMTPS_S_BODY && s->state != SMTPS_S_BDAT) ||
	    s->in_cap >= SMTPS_BODY_BUF)
		return;
	big = srv->nbody_bufs ? srv->body_bufs[--srv->nbody_bufs]
			      : xmalloc(SMTPS_BODY_BUF);
	s->in_own = s->in;
	smtps_in_move(s, big, SMTPS_BODY_BUF);
}

/*
 * Give the lent buffer back (what is unconsumed moves to the session's
 * own, which must have room): kept in the pool or freed.  No recv may be
 * in flight.
 */
void
smtps_in_return(struct smtps_session *s)
{
	struct smtps_server *srv = s->srv;
	char *big = s->in;

	if (s->in_own == NULL)
		return;
	smtps_in_move(s, s->in_own, srv->cfg.recv_buf);
	s->in_own = NULL;
	if (srv->nbody_bufs < SMTPS_BODY_POOL && !srv->stopping)
		srv->body_bufs[srv->nbody_bufs++] = big;
	else
		free(big);
}

/* Free the server's idle lent buffers. */
void
smtps_body_bufs_free(struct smtps_server *srv)
{
	while (srv->nbody_bufs > 0)
		free(srv->body_bufs[--srv->nbody_bufs]);
}

/* The recv in flight must end by dl (LINGER may shorten it while busy). */
static void
smtps_recv_deadline(struct smtps_session *s, int64_t dl)
{
	s->t_recv = dl;
	smtps_timer_want(s, dl);
}

void
smtps_arm_recv(struct smtps_session *s)
{
	struct smtps_server *srv = s->srv;
	int64_t now = ring_now(srv->ring), dl;

	if (s->state >= SMTPS_S_CLOSING || s->state == SMTPS_S_FLUSH)
		return;
	if (s->state == SMTPS_S_LINGER) {
		dl = MIN(now + SMTPS_LINGER_NS, s->t_end);
		if (uop_busy(&s->op_recv)) { /* armed before: it lingers */
			smtps_recv_deadline(s, dl);
			return;
		}
		s->in_off = s->in_len = 0;
	} else {
		if (uop_busy(&s->op_recv))
			return;
		if (s->paused)
			return; /* smtps_resume() arms it again */
		if (s->tls_st == SMTPS_TLS_ON && !s->tls_dry)
			return; /* tls.c may hold plaintext: process it first */
		if (s->in_own != NULL && s->state == SMTPS_S_CMD &&
		    s->tls_st == SMTPS_TLS_OFF &&
		    s->in_len - s->in_off <= srv->cfg.recv_buf)
			smtps_in_return(s); /* the body is over */
		smtps_in_lend(s);
		if (s->in_off == s->in_len) {
			s->in_off = s->in_len = 0;
		} else if (s->in_off > 0 &&
			   (s->in_len == s->in_cap || smtps_tls_io(s))) {
			memmove(s->in, s->in + s->in_off,
				s->in_len - s->in_off);
			s->in_len -= s->in_off;
			s->in_off = 0;
		}
		if (s->in_len == s->in_cap)
			return; /* full: processing resumes reading */
		dl = MIN(now + smtps_idle_ns(s), s->t_end);
		if (s->tls_st == SMTPS_TLS_HANDSHAKE)
			dl = MIN(s->t_hs, s->t_end);
	}
	s->recv_len = s->in_cap - s->in_len;
	if (ring_recv(srv->ring, &s->op_recv, s->fd, s->in + s->in_len,
		      s->recv_len, 0) < 0) {
		smtps_close(s, SMTPS_CLOSE_IO, false);
		return;
	}
	smtps_recv_deadline(s, dl);
}

/* True when the engine waits for the client and nothing else (a paused
 * session waits for its owner: the client is not idle). */
static bool
smtps_waiting_for_client(const struct smtps_session *s)
{
	return s->pending == SMTPS_STAGE_NONE && !s->paused &&
	       !s->out_sending && s->out_len[s->out_fill] == 0 &&
	       s->in_off == s->in_len;
}

/* The recv's deadline passed (the recv is still in flight). */
static void
smtps_recv_timeout(struct smtps_session *s)
{
	int64_t now = ring_now(s->srv->ring);

	s->t_recv = 0;
	switch (s->state) {
	case SMTPS_S_CMD:
	case SMTPS_S_BODY:
	case SMTPS_S_BDAT:
		break;
	case SMTPS_S_LINGER:
		smtps_hard_close(s);
		return;
	case SMTPS_S_FLUSH: /* the flush's own send decides */
	case SMTPS_S_CLOSING:
	case SMTPS_S_CLOSED:
	case SMTPS_S__COUNT:
		return;
	}
	if (s->tls_st == SMTPS_TLS_HANDSHAKE) {
		smtps_tls_recv_end(s, -ETIMEDOUT);
	} else if (smtps_waiting_for_client(s)) {
		smtps_queue(s, 421, "4.4.2 Error: timeout exceeded");
		smtps_close(s, SMTPS_CLOSE_IDLE, true);
	} else { /* the owner or the send is slow, not us */
		smtps_recv_deadline(s, MIN(now + smtps_idle_ns(s), s->t_end));
	}
}

/*
 * The session timer: end the session at t_end, the send or the recv at
 * theirs, else move the timer to the earliest deadline still ahead.
 */
void
smtps_deadline_fire(struct timer *t)
{
	struct smtps_session *s =
	    container_of(t, struct smtps_session, deadline);
	int64_t now = ring_now(s->srv->ring), when = s->t_end;

	if (now >= s->t_end) {
		if (s->state < SMTPS_S_FLUSH) {
			smtps_queue(s, 421,
				    "4.4.2 Error: session timeout exceeded");
			smtps_close(s, SMTPS_CLOSE_SESSION_TIMEOUT, true);
		} else {
			smtps_close(s, SMTPS_CLOSE_SESSION_TIMEOUT, false);
		}
		return;
	}
	if (s->t_send != 0 && now >= s->t_send) {
		s->t_send = 0;
		log_debug("smtps: %016" PRIx64 " send: %s while %s", s->id,
			  strerror(ETIMEDOUT), s->action);
		smtps_close(s, SMTPS_CLOSE_IO, false);
		return;
	}
	if (s->t_recv != 0 && now >= s->t_recv)
		smtps_recv_timeout(s);
	if (s->t_recv != 0)
		when = MIN(when, s->t_recv);
	if (s->t_send != 0)
		when = MIN(when, s->t_send);
	smtps_timer_want(s, when);
}

static void
smtps_recv_data(struct smtps_session *s, int res)
{
	struct smtps_server *srv = s->srv;

	if (s->tls_st != SMTPS_TLS_OFF) { /* ciphertext, or discarded */
		smtps_tls_recv(s, res);
		return;
	}
	s->in_len += (size_t)res;
	s->replied_since_recv = false;
	if (!s->greeted && !srv->cfg.early_talker_ok) {
		srv->st.early_talkers++;
		s->greeted = true; /* our 554 replaces the greeting */
		s->pending = SMTPS_STAGE_NONE;
		smtps_queue(s, 554, "5.5.0 Error: talking before the greeting");
		smtps_close(s, SMTPS_CLOSE_EARLY_TALKER, true);
		return;
	}
	smtps_process(s);
}

/* The recv completed (res: bytes, 0 at EOF, or -errno). */
void
smtps_recv_done(struct uop *op, int res, unsigned flags)
{
	struct smtps_session *s =
	    container_of(op, struct smtps_session, op_recv);

	(void)flags;
	s->t_recv = 0;
	s->recv_full = res > 0 && (size_t)res == s->recv_len;
	switch (s->state) {
	case SMTPS_S_CMD:
	case SMTPS_S_BODY:
	case SMTPS_S_BDAT:
		if (s->tls_st == SMTPS_TLS_HANDSHAKE && res <= 0)
			smtps_tls_recv_end(s, res);
		else if (res > 0)
			smtps_recv_data(s, res);
		else if (res == 0) /* half-close: still send what is queued */
			smtps_close(s, SMTPS_CLOSE_EOF, true);
		else
			smtps_close(s, SMTPS_CLOSE_IO, false);
		break;
	case SMTPS_S_FLUSH:
		/* EOF: the linger's recv sees it again and closes */
		if (res < 0)
			smtps_close(s, s->why, false);
		break;
	case SMTPS_S_LINGER:
		if (res > 0)
			smtps_arm_recv(s);
		else
			smtps_hard_close(s);
		break;
	case SMTPS_S_CLOSING:
	case SMTPS_S_CLOSED:
		smtps_closing_step(s);
		break;
	case SMTPS_S__COUNT:
		BUG_ON(1);
	}
	if (s->state < SMTPS_S_FLUSH)
		smtps_arm_recv(s);
}
