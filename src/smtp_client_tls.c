/* SPDX-License-Identifier: MIT */
/*
 * smtp_client_tls.c: STARTTLS for the client session (RFC 3207).
 *
 * Owns the STARTTLS step (sent when offered and the policy is not none,
 * never twice), the injection check on its 220, the handshake state
 * (SMTPC_S_TLS: fed by recv completions, bounded by its own deadline), the
 * TLS byte path (ciphertext in: tls_feed -> tls_read -> smtpc_input;
 * plaintext out: obuf -> tls_write -> tls_pending_out -> send), resumption
 * through the owner's tls_cache, and the TLS close (close_notify after the
 * 221).  Talks to wolfSSL only through tls.h.  Decides no retry: a failed
 * handshake is reported (SMTPC_FAIL_TLS, smtpc_tls_info()) and the owner
 * chooses between a plaintext reconnect and a deferral.
 */
#include "smtp_client_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "tls.h"

#define SMTPC_TLS_KEY_MAX 400 /* host 253 + ":" port + ":" binding */

static const char *const smtpc_tls_policy_names[] = {
    [SMTPC_TLS_POLICY_NONE] = "none",
    [SMTPC_TLS_POLICY_OPPORTUNISTIC] = "opportunistic",
    [SMTPC_TLS_POLICY_REQUIRED] = "required",
};
_Static_assert(nitems(smtpc_tls_policy_names) == SMTPC_TLS_POLICY__COUNT,
	       "policies");

static const char *const smtpc_tls_state_names[] = {
    [SMTPC_TLS_S_OFF] = "off",
    [SMTPC_TLS_S_NOT_OFFERED] = "not_offered",
    [SMTPC_TLS_S_REFUSED] = "refused",
    [SMTPC_TLS_S_HANDSHAKE] = "handshake",
    [SMTPC_TLS_S_FAILED] = "failed",
    [SMTPC_TLS_S_INJECTED] = "injected",
    [SMTPC_TLS_S_ON] = "on",
};
_Static_assert(nitems(smtpc_tls_state_names) == SMTPC_TLS_S__COUNT,
	       "tls states");

const char *
smtpc_tls_policy_str(enum smtpc_tls_policy p)
{
	return (unsigned)p < SMTPC_TLS_POLICY__COUNT ? smtpc_tls_policy_names[p]
						     : "?";
}

const char *
smtpc_tls_state_str(enum smtpc_tls_state st)
{
	return (unsigned)st < SMTPC_TLS_S__COUNT ? smtpc_tls_state_names[st]
						 : "?";
}

/* "mx_host:port:binding" (see the header). */
const char *
smtpc_tls_cache_key(const struct smtpc *s, char *buf, size_t size)
{
	const struct sockaddr_in *d4 = (const struct sockaddr_in *)&s->o.dst;
	const struct sockaddr_in6 *d6 = (const struct sockaddr_in6 *)&s->o.dst;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&s->o.src;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&s->o.src;
	char addr[INET6_ADDRSTRLEN] = "-";
	unsigned port = 0;

	if (s->o.dst.ss_family == AF_INET)
		port = ntohs(d4->sin_port);
	else if (s->o.dst.ss_family == AF_INET6)
		port = ntohs(d6->sin6_port);
	if (s->o.tls_binding == NULL && s->o.src_len > 0 &&
	    inet_ntop(s->o.src.ss_family,
		      s->o.src.ss_family == AF_INET6
			  ? (const void *)&s6->sin6_addr
			  : (const void *)&s4->sin_addr,
		      addr, sizeof(addr)) == NULL)
		snprintf(addr, sizeof(addr), "-");
	snprintf(buf, size, "%s:%u:%s", s->o.mx_host, port,
		 s->o.tls_binding != NULL ? s->o.tls_binding : addr);
	return buf;
}

/* Copy the connection's TLS facts (strings borrowed from s->tls). */
void
smtpc_tls_info(const struct smtpc *s, struct smtpc_tls_info *info)
{
	memset(info, 0, sizeof(*info));
	info->policy = s->o.tls;
	info->state = (enum smtpc_tls_state)s->tls_state;
	info->starttls_code = s->tls_code;
	if (s->tls == NULL)
		return;
	info->error = tls_sess_error(s->tls);
	if (s->tls_state != SMTPC_TLS_S_ON)
		return;
	info->protocol = tls_sess_protocol(s->tls);
	info->cipher = tls_sess_cipher(s->tls);
	info->verified = tls_sess_peer_verified(s->tls);
	info->verify_error = tls_sess_verify_error(s->tls);
	info->resumed = tls_sess_resumed(s->tls);
}

/* ---- STARTTLS ------------------------------------------------------------ */

/*
 * TLS is required and cannot be had: remember why, then QUIT in plaintext;
 * no message was taken yet.  Not offered: SMTPC_FAIL_TLS, -EOPNOTSUPP,
 * 4.7.4.  Refused (rep): SMTPC_FAIL_REPLY at stage starttls with the
 * server's reply, temporary even for a 5xx (outcome.h's contract).
 */
static int
smtpc_tls_refused(struct smtpc *s, const struct smtp_reply *rep)
{
	struct smtpc_result why;

	if (rep != NULL) {
		smtpc_result_reply(&why, rep, SMTPC_STAGE_STARTTLS);
	} else {
		smtpc_result_set(&why, SMTPC_R_TEMPORARY, SMTPC_FAIL_TLS,
				 SMTPC_STAGE_STARTTLS, -EOPNOTSUPP);
		why.esc[0] = 4; /* X.7.4: security features not supported */
		why.esc[1] = 7;
		why.esc[2] = 4;
		snprintf(why.text, sizeof(why.text),
			 "TLS required but STARTTLS not offered");
	}
	why.status = SMTPC_R_TEMPORARY;
	log_info("%016" PRIx64 " %s: %s%s while %s", s->id, s->o.mx_host,
		 rep != NULL ? "TLS required, STARTTLS refused: " : "",
		 why.text, s->action);
	smtpc_set_close(s, &why);
	return SMTPC_S_QUIT;
}

/*
 * After EHLO/HELO: queue STARTTLS if wanted and offered (it is alone in
 * its group: pend[] is empty).  After the post-TLS EHLO: store the session
 * for resumption (its TLSv1.3 ticket has been read by now), then NEXT.
 */
int
smtpc_starttls_entry(struct smtpc *s)
{
	char key[SMTPC_TLS_KEY_MAX];
	int err;

	if (s->tls != NULL) {
		if (s->o.tls_cache != NULL && !s->tls_cached)
			s->tls_cached =
			    tls_cache_put(
				s->o.tls_cache,
				smtpc_tls_cache_key(s, key, sizeof(key)),
				s->tls, ring_now(s->r)) == 1;
		return SMTPC_S_NEXT;
	}
	if (s->o.tls == SMTPC_TLS_POLICY_NONE ||
	    s->tls_state != SMTPC_TLS_S_OFF)
		return SMTPC_S_NEXT;
	if (!reply_caps_has(&s->caps, REPLY_CAP_STARTTLS)) {
		s->tls_state = SMTPC_TLS_S_NOT_OFFERED;
		if (s->o.tls == SMTPC_TLS_POLICY_REQUIRED)
			return smtpc_tls_refused(s, NULL);
		log_info("%016" PRIx64 " %s: STARTTLS not offered, plaintext",
			 s->id, s->o.mx_host);
		return SMTPC_S_NEXT;
	}
	err =
	    smtpc_push_simple(s, SMTPC_STAGE_STARTTLS, NULL, SMTPCMD_STARTTLS);
	return err < 0 ? err : SMTPC_S_STARTTLS;
}

/*
 * Plaintext followed the 220 (CVE-2011-0411 class): abort, never feed it.
 * SMTPC_FAIL_TLS with -EBADMSG (a handshake failure never has it), so the
 * owner can tell it from a failed handshake.
 */
static int
smtpc_tls_injected(struct smtpc *s)
{
	struct smtpc_result why;

	s->tls_state = SMTPC_TLS_S_INJECTED;
	smtpc_result_set(&why, SMTPC_R_TEMPORARY, SMTPC_FAIL_TLS,
			 SMTPC_STAGE_STARTTLS, -EBADMSG);
	why.esc[0] = 4; /* X.7.0: other security status */
	why.esc[1] = 7;
	snprintf(why.text, sizeof(why.text),
		 "%u plaintext bytes after the 220 to STARTTLS "
		 "(STARTTLS response injection?)",
		 (unsigned)s->rleft);
	log_warn("%016" PRIx64 " %s: %s while %s", s->id, s->o.mx_host,
		 why.text, s->action);
	smtpc_close(s, &why);
	return SMTPC_S_CLOSING;
}

/*
 * The reply to STARTTLS.  220: start TLS, unless anything follows it.
 * 4xx/5xx: required ends the session (QUIT); opportunistic goes on in
 * plaintext on this connection with the pre-TLS capabilities (RFC 3207 4:
 * the client may continue; no TLS state exists yet).
 */
int
smtpc_starttls_reply(struct smtpc *s, const struct smtpc_pend *p,
		     const struct smtp_reply *rep)
{
	(void)p;
	s->tls_code = (int16_t)rep->code;
	if (rep->code == 220) {
		if (s->rleft > 0 || !reply_parser_idle(&s->rp))
			return smtpc_tls_injected(s);
		return SMTPC_S_TLS;
	}
	if (reply_class(rep->code) < 4)
		return -EPROTO;
	s->tls_state = SMTPC_TLS_S_REFUSED;
	if (s->o.tls == SMTPC_TLS_POLICY_REQUIRED)
		return smtpc_tls_refused(s, rep);
	log_info("%016" PRIx64 " %s: STARTTLS refused (%d %s), plaintext",
		 s->id, s->o.mx_host, rep->code, rep->text);
	return SMTPC_S_NEXT;
}

/* ---- handshake ----------------------------------------------------------- */

/*
 * TLS: a fresh session with empty buffers (nothing buffered in plaintext
 * survives: smtpc_starttls_reply() checked), the pre-TLS capabilities
 * forgotten, a cached session offered, and the handshake deadline set.
 * The pump then produces the ClientHello.
 */
int
smtpc_tls_entry(struct smtpc *s)
{
	char key[SMTPC_TLS_KEY_MAX];
	int err;

	BUG_ON(s->tls != NULL || s->pn != 0 || s->olen[s->ofill] != 0);
	s->tls_state = SMTPC_TLS_S_HANDSHAKE;
	reply_parser_reset(&s->rp);
	memset(&s->caps, 0, sizeof(s->caps));
	s->pipelining = false;
	err = tls_sess_new_client(s->o.tls_ctx, s->o.mx_host, s->o.mx_host,
				  &s->tls);
	if (err < 0)
		return err;
	if (s->o.tls_cache != NULL)
		s->tls_offered =
		    tls_cache_get(s->o.tls_cache,
				  smtpc_tls_cache_key(s, key, sizeof(key)),
				  s->tls, ring_now(s->r)) == 1;
	s->tls_deadline = ring_now(s->r) +
			  smtpc_stage_tmo(s, SMTPC_STAGE_STARTTLS) * SMTPC_MS;
	return SMTPC_S_TLS;
}

static void
smtpc_tls_log(const struct smtpc *s)
{
	bool ok = tls_sess_peer_verified(s->tls);
	const char *verr = tls_sess_verify_error(s->tls);
	const char *group = tls_sess_group(s->tls);

	log_info("%016" PRIx64 " %s: TLS established: %s %s%s%s, %s%s%s%s",
		 s->id, s->o.mx_host, tls_sess_protocol(s->tls),
		 tls_sess_cipher(s->tls), group != NULL ? " " : "",
		 group != NULL ? group : "", ok ? "verified" : "unverified (",
		 ok ? "" : (verr != NULL ? verr : "?"), ok ? "" : ")",
		 tls_sess_resumed(s->tls) ? ", resumed" : "");
}

/* TLS: advance the handshake with what was fed; done: EHLO again. */
int
smtpc_tls_pump(struct smtpc *s)
{
	int rc = tls_handshake(s->tls);

	if (rc <= 0)
		return rc < 0 ? rc : SMTPC_S_TLS;
	s->tls_state = SMTPC_TLS_S_ON;
	smtpc_tls_log(s);
	return SMTPC_S_EHLO;
}

/*
 * Classify err for a session with TLS: during the handshake everything
 * but our own local trouble is SMTPC_FAIL_TLS (the owner may retry in
 * plaintext), and a resumed offer is dropped from the cache; afterwards a
 * TLS-layer error keeps its transport class (tls.h's table).  *text_r
 * becomes the TLS layer's reason when err is its error.
 */
void
smtpc_tls_fail_class(struct smtpc *s, int err, enum smtpc_fail *f_r,
		     const char **text_r)
{
	char key[SMTPC_TLS_KEY_MAX];
	bool tls_err =
	    s->tls != NULL && err < 0 && tls_sess_errno(s->tls) == err;

	if (tls_err && tls_sess_error(s->tls) != NULL)
		*text_r = tls_sess_error(s->tls);
	if (s->state == SMTPC_S_TLS) {
		s->tls_state = SMTPC_TLS_S_FAILED;
		if (s->tls_offered)
			tls_cache_del(s->o.tls_cache,
				      smtpc_tls_cache_key(s, key, sizeof(key)));
		s->tls_offered = false;
		if (err != -ENOMEM && (tls_err || *f_r != SMTPC_FAIL_LOCAL))
			*f_r = SMTPC_FAIL_TLS;
		return;
	}
	if (tls_err && err == -ENOBUFS)
		*f_r = SMTPC_FAIL_PROTO;
	else if (err == -EKEYREJECTED)
		*f_r = SMTPC_FAIL_TLS;
}

/* ---- byte path ----------------------------------------------------------- */

/*
 * Output with TLS: when no send is in flight, encrypt obuf[fill] (once
 * established, never after our close_notify) and send the pending
 * ciphertext block; the kernel owns it until the send completes.  Returns
 * 0 or -errno.
 */
int
smtpc_tls_flush(struct smtpc *s)
{
	const void *p;
	size_t len;
	int rc = 0;

	if (s->sending)
		return 0;
	if (s->olen[s->ofill] > 0 && s->state != SMTPC_S_SHUTDOWN &&
	    tls_sess_established(s->tls)) {
		rc = tls_write(s->tls, s->obuf[s->ofill], s->olen[s->ofill]);
		if (rc >= 0) {
			s->olen[s->ofill] = 0;
			rc = 0;
		} else if (rc != -ENOBUFS) {
			return rc; /* -ENOBUFS: retry once the block is out */
		}
	}
	if (tls_pending_out(s->tls, &p, &len) != 1)
		return rc;
	s->sending = true;
	s->send_tls = true;
	s->tls_olen = len;
	s->send_deadline = ring_now(s->r) + s->o.tmo.block * SMTPC_MS;
	return ring_send(s->r, &s->op_send, s->fd, p, len, 0); /* see flush */
}

/*
 * res (> 0) bytes of the ciphertext block went out.  Returns true when
 * the whole block is out; false after resubmitting the rest (same block,
 * same deadline) or failing the session.
 */
bool
smtpc_tls_sent(struct smtpc *s, int res)
{
	const void *p;
	size_t len;

	BUG_ON((size_t)res > s->tls_olen);
	tls_consume_out(s->tls, (size_t)res);
	s->tls_olen -= (size_t)res;
	if (s->tls_olen == 0) {
		s->sending = false;
		s->send_tls = false;
		return true;
	}
	BUG_ON(tls_pending_out(s->tls, &p, &len) != 1 || len != s->tls_olen);
	if (ring_send(s->r, &s->op_send, s->fd, p, len, 0) < 0)
		smtpc_fail(s, -EAGAIN);
	return false;
}

/* Decrypt what was fed and give the plaintext to the reply parser. */
static int
smtpc_tls_drain(struct smtpc *s)
{
	int n, err;

	while (s->state != SMTPC_S_CLOSING && s->state != SMTPC_S_SHUTDOWN) {
		n = tls_read(s->tls, s->rbuf, sizeof(s->rbuf));
		if (n <= 0)
			return n;
		err = smtpc_input(s, s->rbuf, (size_t)n);
		if (err < 0)
			return err;
	}
	return 0;
}

/* A read-side error; the peer's end while we wait for 221 is clean. */
static void
smtpc_tls_read_err(struct smtpc *s, int err)
{
	struct smtpc_result why;

	if (s->state == SMTPC_S_QUIT && (err == -EPIPE || err == -ECONNRESET)) {
		smtpc_result_set(&why, SMTPC_R_DELIVERED, SMTPC_FAIL_NONE,
				 SMTPC_STAGE_QUIT, 0);
		smtpc_close(s, &why);
		return;
	}
	smtpc_fail(s, err);
}

/*
 * A recv completed on a session with TLS: feed the ciphertext (EOF: mark
 * it), advance the handshake, then read every record.  After the peer's
 * close_notify tls.c drops whatever follows, and tls_read() says -EPIPE:
 * the connection is dead.  In SHUTDOWN (221 read) input is dropped.
 */
void
smtpc_tls_recv(struct smtpc *s, int res)
{
	int rc;

	if (s->state == SMTPC_S_SHUTDOWN)
		return;
	if (res < 0) {
		smtpc_fail(s, res);
		return;
	}
	if (res == 0) {
		tls_feed_eof(s->tls);
	} else if ((rc = tls_feed(s->tls, s->rbuf, (size_t)res)) < 0) {
		smtpc_tls_read_err(s, rc);
		return;
	}
	if (s->state == SMTPC_S_TLS) {
		smtpc_resume(s);
		if (s->state == SMTPC_S_TLS && res == 0)
			smtpc_fail(s, -ECONNRESET);
		if (s->state == SMTPC_S_TLS || s->state == SMTPC_S_CLOSING)
			return;
	}
	rc = smtpc_tls_drain(s);
	if (rc == 0 && res == 0)
		rc = -ECONNRESET; /* never re-arm a recv at EOF */
	if (rc < 0 && s->state != SMTPC_S_SHUTDOWN)
		smtpc_tls_read_err(s, rc);
}

/* ---- close --------------------------------------------------------------- */

/* SHUTDOWN: 221 read; queue close_notify (the peer's is not awaited). */
int
smtpc_shutdown_entry(struct smtpc *s)
{
	return tls_shutdown(s->tls) < 0 ? SMTPC_S_CLOSING : SMTPC_S_SHUTDOWN;
}

/* SHUTDOWN: once every ciphertext byte is out, close. */
int
smtpc_shutdown_pump(struct smtpc *s)
{
	const void *p;
	size_t len;

	if (s->sending || tls_pending_out(s->tls, &p, &len) == 1)
		return SMTPC_S_SHUTDOWN;
	return SMTPC_S_CLOSING;
}
