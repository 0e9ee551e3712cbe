/* SPDX-License-Identifier: MIT */
/*
 * smtp_server_tls.c: STARTTLS for the inbound ESMTP engine: the 220 and
 * the discarding of plaintext behind it (CVE-2011-0411), the handshake over
 * the session's buffers with the ring doing every recv and send, the
 * RFC 3207 reset, decrypting input into the receive buffer and encrypting
 * the output buffers, close_notify, and the owner's accessors.  tls.c does
 * the TLS and no I/O; this file does no policy (the owner answers STARTTLS
 * through on_starttls) and never touches the socket outside the ring.
 *
 * Byte paths once TLS is up (see smtp_server.h for ownership):
 *   recv CQE: ciphertext at in[in_len..] -> tls_feed (copied)
 *   input loop: tls_read -> in[in_len..] (plaintext), then the parser
 *   flush: out[out_fill] -> tls_write -> tls_pending_out block -> send
 * A recv is armed only when tls_read() said it needs more ciphertext
 * (tls_dry), so a client that outruns a pending reply is held back by TCP,
 * not by tls.c's input buffer.
 */
#include "smtp_server.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "smtp_server_int.h"
#include "tls.h"

static const char *const smtps_tls_st_names[] = {
    [SMTPS_TLS_OFF] = "off",
    [SMTPS_TLS_STARTING] = "starting",
    [SMTPS_TLS_HANDSHAKE] = "handshake",
    [SMTPS_TLS_ON] = "on",
};
_Static_assert(nitems(smtps_tls_st_names) == SMTPS_TLS__COUNT, "tls states");

const char *
smtps_tls_st_str(enum smtps_tls_st st)
{
	return (unsigned)st < SMTPS_TLS__COUNT ? smtps_tls_st_names[st] : "?";
}

/* True when the socket carries TLS records (handshake or data). */
bool
smtps_tls_io(const struct smtps_session *s)
{
	return s->tls_st == SMTPS_TLS_HANDSHAKE || s->tls_st == SMTPS_TLS_ON;
}

/* Plaintext the client sent behind STARTTLS: count it; it is never used. */
static void
smtps_tls_discard(struct smtps_session *s, size_t n)
{
	struct smtps_server *srv = s->srv;

	if (n == 0)
		return;
	if (s->injected == 0) {
		srv->st.tls_injected_sessions++;
		log_warn("smtps: %016" PRIx64 " %s: discarding plaintext sent "
			 "after STARTTLS (injection attempt?)",
			 s->id, s->peer_str);
	}
	s->injected += n;
	srv->st.tls_injected_bytes += n;
}

/*
 * The owner answered STARTTLS with 220: make the tls_sess, drop whatever
 * is buffered behind the command, queue the 220.  From here to the end of
 * its send everything received is discarded too (smtps_tls_recv).  When
 * tls.c cannot make a session, the client gets 454 and stays plaintext.
 */
void
smtps_tls_start(struct smtps_session *s, const char *text)
{
	int rc = tls_sess_new_server(s->srv->cfg.tls, &s->tls);

	if (rc < 0) {
		s->tls = NULL;
		log_err("smtps: %016" PRIx64 " cannot start TLS: %s", s->id,
			strerror(-rc));
		smtps_queue(s, 454,
			    "4.7.0 TLS not available due to local problem");
		return;
	}
	smtps_tls_discard(s, s->in_len - s->in_off);
	s->in_off = s->in_len;
	smtpp_line_reset(&s->lp);
	s->tls_st = SMTPS_TLS_STARTING;
	s->action = "sending the reply to STARTTLS";
	smtps_queue(s, 220, text);
}

/*
 * The 220 is out: the handshake begins, with its own deadline.  A recv
 * armed earlier (with the idle deadline) stays in flight: only its
 * deadline moves, a field of the session timer (smtp_server_io.c).
 */
void
smtps_tls_begin(struct smtps_session *s)
{
	struct smtps_server *srv = s->srv;

	s->tls_st = SMTPS_TLS_HANDSHAKE;
	s->t_hs = ring_now(srv->ring) +
		  (int64_t)srv->cfg.handshake_timeout_ms * 1000000;
	s->action = "in the TLS handshake";
	srv->st.tls_starts++;
	if (uop_busy(&s->op_recv)) {
		s->t_recv = MIN(s->t_hs, s->t_end);
		smtps_timer_want(s, s->t_recv);
	} else {
		smtps_arm_recv(s);
	}
}

/* Send tls.c's pending ciphertext unless a send is in flight. */
static void
smtps_tls_send(struct smtps_session *s)
{
	struct smtps_server *srv = s->srv;
	const void *p;
	size_t len;

	if (s->out_sending || s->state >= SMTPS_S_LINGER ||
	    tls_pending_out(s->tls, &p, &len) != 1)
		return;
	s->out_sending = true;
	srv->st.sends++;
	if (ring_send(srv->ring, &s->op_send, s->fd, p, len, 0) < 0) {
		s->out_sending = false;
		smtps_close(s, SMTPS_CLOSE_IO, false);
		return;
	}
	smtps_send_deadline(s);
}

/* The handshake failed (what: used when tls.c has no reason). */
static void
smtps_tls_fail(struct smtps_session *s, const char *what)
{
	const char *reason = tls_sess_error(s->tls);

	s->srv->st.tls_failures++;
	log_warn("smtps: %016" PRIx64 " %s: TLS handshake failed: %s", s->id,
		 s->peer_str, reason ? reason : what);
	/* graceful: an alert tls.c queued still goes out */
	smtps_close(s, SMTPS_CLOSE_TLS, true);
}

/* A TLS error after the handshake (-EPIPE: the client's close_notify). */
static void
smtps_tls_error(struct smtps_session *s, int rc, const char *doing)
{
	const char *reason = tls_sess_error(s->tls);

	if (rc == -EPIPE) {
		log_debug("smtps: %016" PRIx64 " close_notify while %s", s->id,
			  s->action);
		smtps_close(s, SMTPS_CLOSE_EOF, true);
		return;
	}
	log_warn("smtps: %016" PRIx64 " %s: TLS error while %s: %s", s->id,
		 s->peer_str, doing, reason ? reason : strerror(-rc));
	smtps_close(s, SMTPS_CLOSE_TLS, false);
}

/* The handshake completed: RFC 3207 section 4.2 reset, tell the owner. */
static void
smtps_tls_up(struct smtps_session *s)
{
	struct smtps_tls_info ti;
	const char *group;

	s->tls_st = SMTPS_TLS_ON;
	s->tls_dry = false;
	s->srv->st.tls_handshakes++;
	(void)smtps_tls_info(s, &ti);
	group = tls_sess_group(s->tls);
	log_info("smtps: %016" PRIx64 " %s: TLS %s %s%s%s%s%s%s", s->id,
		 s->peer_str, ti.protocol, ti.cipher, group ? " " : "",
		 group ? group : "", ti.resumed ? " resumed" : "",
		 ti.sni ? " sni=" : "", ti.sni ? ti.sni : "");
	s->helo = 0;
	s->helo_name[0] = '\0';
	smtps_txn_reset(s);
	smtpp_line_reset(&s->lp);
	s->in_off = s->in_len;
	s->replied_since_recv = false;
	s->action = "waiting for EHLO after STARTTLS";
	if (s->srv->ops->on_tls)
		s->srv->ops->on_tls(s);
	if (s->state < SMTPS_S_FLUSH)
		smtps_process(s); /* the client's EHLO may already be here */
}

static void
smtps_tls_handshake(struct smtps_session *s)
{
	int rc = tls_handshake(s->tls);

	smtps_tls_send(s);
	if (s->state >= SMTPS_S_FLUSH || rc == 0)
		return;
	if (rc < 0)
		smtps_tls_fail(s, strerror(-rc));
	else
		smtps_tls_up(s);
}

/*
 * res > 0 bytes arrived at in[in_len..] on a session past STARTTLS:
 * discarded before the 220 is out, else fed to tls.c and then to the
 * handshake or the input loop.
 */
void
smtps_tls_recv(struct smtps_session *s, int res)
{
	int rc;

	if (s->tls_st == SMTPS_TLS_STARTING) {
		smtps_tls_discard(s, (size_t)res);
		return;
	}
	rc = tls_feed(s->tls, s->in + s->in_len, (size_t)res);
	if (rc < 0) {
		if (s->tls_st == SMTPS_TLS_HANDSHAKE)
			smtps_tls_fail(s, strerror(-rc));
		else
			smtps_tls_error(s, rc, "receiving");
		return;
	}
	s->tls_dry = false;
	s->replied_since_recv = false;
	if (s->tls_st == SMTPS_TLS_HANDSHAKE)
		smtps_tls_handshake(s);
	else
		smtps_process(s);
}

/* A recv during the handshake ended without data (res <= 0). */
void
smtps_tls_recv_end(struct smtps_session *s, int res)
{
	smtps_tls_fail(s, res == 0            ? "connection closed"
			  : res == -ETIMEDOUT ? "timed out"
					      : strerror(-res));
}

/*
 * Decrypt more input into in[] (compacting it first).  Only when no recv
 * is in flight: the recv's buffer is the same free tail.  Returns 1 when
 * plaintext was added, else 0 (need more ciphertext, no room, or an error
 * that closed the session).
 */
int
smtps_tls_pull(struct smtps_session *s)
{
	int rc;

	if (s->tls_st != SMTPS_TLS_ON || s->state >= SMTPS_S_FLUSH ||
	    uop_busy(&s->op_recv))
		return 0;
	if (s->in_off == s->in_len) {
		s->in_off = s->in_len = 0;
	} else if (s->in_off > 0) {
		memmove(s->in, s->in + s->in_off, s->in_len - s->in_off);
		s->in_len -= s->in_off;
		s->in_off = 0;
	}
	if (s->in_len == s->in_cap)
		return 0;
	rc = tls_read(s->tls, s->in + s->in_len, s->in_cap - s->in_len);
	if (rc > 0) {
		s->in_len += (size_t)rc;
		return 1;
	}
	if (rc == 0)
		s->tls_dry = true;
	else
		smtps_tls_error(s, rc, "reading");
	return 0;
}

/*
 * smtps_flush() under TLS: encrypt the queued replies (tls.c queues them
 * behind a block the kernel may hold), send, and in FLUSH add close_notify
 * and start the linger once everything is out.  Replies queued before a
 * failed handshake cannot be sent and are dropped.
 */
void
smtps_tls_flush(struct smtps_session *s)
{
	unsigned f = s->out_fill;
	int rc;

	if (s->out_len[f] > 0) {
		rc = s->tls_st == SMTPS_TLS_ON
			 ? tls_write(s->tls, s->out[f], s->out_len[f])
			 : -ENOTCONN;
		if (rc == -ENOBUFS && s->out_sending)
			return; /* the send's completion calls back */
		if (rc < 0 && s->state < SMTPS_S_FLUSH) {
			smtps_tls_error(s, rc, "sending");
			return;
		}
		s->out_len[f] = 0;
		s->replies_unsent = false;
	}
	if (s->state == SMTPS_S_FLUSH && s->tls_st == SMTPS_TLS_ON)
		(void)tls_shutdown(s->tls); /* close_notify, once */
	smtps_tls_send(s);
	if (s->state == SMTPS_S_FLUSH && !s->out_sending)
		smtps_linger_start(s);
}

/* A send of ciphertext completed with res > 0 bytes. */
void
smtps_tls_send_done(struct smtps_session *s, int res)
{
	tls_consume_out(s->tls, (size_t)res);
	s->out_sending = false;
	if (s->state == SMTPS_S_FLUSH)
		smtps_flush(s);
	else if (s->tls_st == SMTPS_TLS_ON)
		smtps_process(s);
	else
		smtps_tls_send(s);
}

/* The session is being freed or pooled: nothing of it is in flight. */
void
smtps_tls_free(struct smtps_session *s)
{
	tls_sess_free(s->tls);
	s->tls = NULL;
	s->tls_st = SMTPS_TLS_OFF;
}

/* ---- the owner's side ---------------------------------------------------- */

bool
smtps_tls_info(const struct smtps_session *s, struct smtps_tls_info *info)
{
	struct smtps_tls_info z = {0};
	bool on = s->tls_st == SMTPS_TLS_ON;

	if (on) {
		z.protocol = tls_sess_protocol(s->tls);
		z.cipher = tls_sess_cipher(s->tls);
		z.sni = tls_sess_sni(s->tls);
		z.resumed = tls_sess_resumed(s->tls);
	}
	if (info != NULL)
		*info = z;
	return on;
}

uint64_t
smtps_tls_injected(const struct smtps_session *s)
{
	return s->injected;
}

int
smtps_inject_raw(struct smtps_session *s, const char *buf, size_t len)
{
	if (s->state >= SMTPS_S_FLUSH)
		return -ECONNRESET;
	if (s->tls_st == SMTPS_TLS_HANDSHAKE)
		return -ENOTCONN;
	return smtps_queue_raw(s, buf, len);
}
