/* SPDX-License-Identifier: MIT */
/*
 * smtp_client_txn.c: one mail transaction of a client session.
 *
 * Chooses the next message (NEXT), refuses locally what the server cannot
 * take (8BITMIME, SMTPUTF8, SIZE), queues [RSET] MAIL RCPT... DATA (all in
 * one send with PIPELINING), streams the body from the owner's file through
 * sdata_encode(), queues ".", and turns the replies to these commands into
 * per-recipient results.  Owns no memory of its own beyond the session's
 * body chunk; decides no retry or bounce.
 */
#include "smtp_client_int.h"

#include <errno.h>
#include <string.h>

static int smtpc_fmt_mail(struct smtpc *s, struct smtpc_msg *m, char *buf,
			  size_t size, size_t *len_r);

/* Check m against the server's capabilities; 0 or a local refusal. */
static int
smtpc_msg_precheck(struct smtpc *s, struct smtpc_msg *m)
{
	struct smtpc_result res;
	char cmd[SMTPCMD_BUF_MAX];
	size_t len;

	if (m->eightbit && !reply_caps_has(&s->caps, REPLY_CAP_8BITMIME)) {
		smtpc_result_local(&res, SMTPC_FAIL_CAPS, 6, 3,
				   "8-bit message, server lacks 8BITMIME");
	} else if (m->smtputf8 &&
		   !reply_caps_has(&s->caps, REPLY_CAP_SMTPUTF8)) {
		smtpc_result_local(&res, SMTPC_FAIL_CAPS, 6, 7,
				   "SMTPUTF8 message, server lacks SMTPUTF8");
	} else if (s->caps.size_max > 0 && m->body_len > s->caps.size_max) {
		smtpc_result_local(&res, SMTPC_FAIL_CAPS, 3, 4,
				   "message larger than the server's SIZE");
	} else if (smtpc_fmt_mail(s, m, cmd, sizeof(cmd), &len) < 0) {
		smtpc_result_local(&res, SMTPC_FAIL_LOCAL, 1, 7,
				   "invalid sender or MAIL parameters");
	} else {
		return 0;
	}
	smtpc_msg_settle_rcpts(m, &res);
	return -EMSGSIZE;
}

/*
 * NEXT: take the next message unless the limit is reached or smtpc_quit()
 * asked for the end.  Without PIPELINING, or before QUIT (never behind
 * "."), wait until every reply is in.
 */
int
smtpc_next_entry(struct smtpc *s)
{
	struct smtpc_msg *m;

	for (;;) {
		if (!s->pipelining && s->pn > 0)
			return SMTPC_S_NEXT;
		if (s->quit_asked || (s->o.max_deliveries > 0 &&
				      s->ndeliv >= s->o.max_deliveries))
			return s->pn > 0 ? SMTPC_S_NEXT : SMTPC_S_QUIT;
		m = s->polled ? NULL : s->ops->next_msg(s, s->arg);
		if (m == NULL) {
			s->polled = true;
			return s->pn > 0 ? SMTPC_S_NEXT : SMTPC_S_IDLE;
		}
		m->npend = m->accepted = 0;
		m->mail_failed = m->dot_sent = false;
		m->open = true;
		for (unsigned i = 0; i < m->nrcpt; i++)
			memset(&m->rcpt[i].res, 0, sizeof(m->rcpt[i].res));
		if (smtpc_msg_precheck(s, m) == 0) {
			s->ndeliv++;
			s->cur = m;
			s->step = 0;
			return SMTPC_S_TXN;
		}
		m->open = false;
		smtpc_msg_report(s, m);
	}
}

/* Format MAIL FROM for m with the parameters the server takes. */
static int
smtpc_fmt_mail(struct smtpc *s, struct smtpc_msg *m, char *buf, size_t size,
	       size_t *len_r)
{
	bool dsn = reply_caps_has(&s->caps, REPLY_CAP_DSN);
	struct smtpcmd_mail mail = {
	    .from = m->from,
	    .size = reply_caps_has(&s->caps, REPLY_CAP_SIZE) ? m->body_len : 0,
	    .body = m->eightbit ? SMTPCMD_BODY_8BITMIME : SMTPCMD_BODY_NONE,
	    .smtputf8 = m->smtputf8,
	    .ret = dsn ? m->ret : SMTPCMD_RET_NONE,
	    .envid = dsn ? m->envid : NULL,
	};

	return smtpcmd_mail(buf, size, &mail, len_r);
}

static int
smtpc_fmt_rcpt(struct smtpc *s, struct smtpc_msg *m, unsigned i, char *buf,
	       size_t size, size_t *len_r)
{
	bool dsn = reply_caps_has(&s->caps, REPLY_CAP_DSN);
	struct smtpcmd_rcpt rc = {
	    .to = m->rcpt[i].addr,
	    .utf8 = m->smtputf8,
	    .notify = dsn ? m->rcpt[i].notify : 0,
	    .orcpt = dsn ? m->rcpt[i].orcpt : NULL,
	};

	return smtpcmd_rcpt(buf, size, &rc, len_r);
}

/*
 * Queue the command of TXN step s->step: 0 RSET (if needed), 1 MAIL,
 * 2..nrcpt+1 RCPT, nrcpt+2 DATA.  Returns 0, 1 when the step was skipped,
 * -ENOBUFS to wait for room, or -errno.
 */
static int
smtpc_txn_one(struct smtpc *s, struct smtpc_msg *m)
{
	char cmd[SMTPCMD_BUF_MAX];
	size_t len;
	unsigned i;
	int err;

	if (s->step == 0) {
		if (!s->need_rset)
			return 1;
		err =
		    smtpc_push_simple(s, SMTPC_STAGE_RSET, NULL, SMTPCMD_RSET);
		if (err == 0)
			s->need_rset = false;
		return err;
	}
	if (s->step == 1) {
		err = smtpc_fmt_mail(s, m, cmd, sizeof(cmd), &len);
		if (err < 0)
			return err; /* precheck formatted it already */
		return smtpc_push(s, SMTPC_STAGE_MAIL, m, 0, cmd, len);
	}
	i = s->step - 2;
	if (i < m->nrcpt) {
		if (smtpc_fmt_rcpt(s, m, i, cmd, sizeof(cmd), &len) < 0) {
			smtpc_result_local(&m->rcpt[i].res, SMTPC_FAIL_LOCAL, 1,
					   3, "invalid recipient address");
			return 1;
		}
		return smtpc_push(s, SMTPC_STAGE_RCPT, m, i, cmd, len);
	}
	return smtpc_push_simple(s, SMTPC_STAGE_DATA, m, SMTPCMD_DATA);
}

/*
 * A pipelined transaction that outgrows the inline buffer being filled
 * (many or long recipients) gets a big one, so it still leaves in one
 * send; smtpc_settle() gives it back once it is sent.  Returns true when
 * the buffer grew (try again), false when the wait is for the pend[]
 * window or the kernel.
 */
static bool
smtpc_txn_grow(struct smtpc *s)
{
	if (!s->pipelining || s->pn == SMTPC_PEND_MAX || s->rd_obuf ||
	    s->obuf[s->ofill] != s->obuf_in[s->ofill])
		return false;
	smtpc_obuf_fit(s, true);
	return true;
}

/* TXN: queue as much of the transaction as pipelining and room allow. */
int
smtpc_txn_pump(struct smtpc *s)
{
	struct smtpc_msg *m = s->cur;
	int err;

	while (m != NULL && s->step <= m->nrcpt + 2) {
		if (!s->pipelining && s->pn > 0)
			break;
		err = smtpc_txn_one(s, m);
		if (err == -ENOBUFS && smtpc_txn_grow(s))
			err = smtpc_txn_one(s, m);
		if (err == -ENOBUFS)
			break;
		if (err < 0)
			return err;
		s->step++;
	}
	return SMTPC_S_TXN;
}

int
smtpc_body_entry(struct smtpc *s)
{
	sdata_enc_init(&s->enc);
	smtpc_obuf_fit(s, true);
	s->chunk_len = s->chunk_off = 0;
	s->body_read = 0;
	return SMTPC_S_BODY;
}

/* The body is out: queue "." and go on (maybe pipelining the next). */
static int
smtpc_body_end(struct smtpc *s)
{
	struct smtpc_msg *m = s->cur;
	struct smtpc_pend *p;

	BUG_ON(s->pn == SMTPC_PEND_MAX);
	/* ".\r\n" is already in the buffer: only the pend[] entry. */
	p = &s->pend[(s->phead + s->pn++) % SMTPC_PEND_MAX];
	p->m = m;
	p->rcpt = 0;
	p->stage = SMTPC_STAGE_DOT;
	p->lone = 0;
	p->deadline = ring_now(s->r) + s->o.tmo.dot * SMTPC_MS;
	m->npend++;
	m->dot_sent = true;
	m->open = false;
	s->prev = m;
	s->cur = NULL;
	smtpc_big_put(s->chunk); /* no read in flight: the body is read */
	s->chunk = NULL;
	return SMTPC_S_NEXT;
}

/*
 * BODY: file bytes are read straight into the output buffer and stay there
 * as far as they are their own encoding (sdata_enc_pass: no leading dot,
 * bare CR/LF or NUL; a body flagged wire at intake is not scanned at all);
 * the rest of a read goes through the chunk and sdata_encode().  The
 * kernel reads into obuf[ofill] and sends from it: no user-space copy of a
 * wire body.  Then the terminator.  A read waits for SMTPC_READ_MIN
 * of room (or the whole rest of the body).
 */
int
smtpc_body_pump(struct smtpc *s)
{
	struct smtpc_msg *m = s->cur;
	size_t used, prod;

	for (;;) {
		char *out = s->obuf[s->ofill] + s->olen[s->ofill];
		size_t room = smtpc_room(s);
		uint64_t left = m->body_len - s->body_read;

		if (s->chunk_off < s->chunk_len) {
			if (room == 0)
				break;
			(void)sdata_encode(&s->enc, s->chunk + s->chunk_off,
					   s->chunk_len - s->chunk_off, &used,
					   out, room, &prod);
			s->chunk_off += used;
			s->olen[s->ofill] += prod;
			continue;
		}
		if (left > 0) {
			if (room < MIN(left, SMTPC_READ_MIN))
				break; /* also while a read is in flight */
			if (ring_read(s->r, &s->op_read, m->body_fd, out,
				      (size_t)MIN(left, room),
				      m->body_off + s->body_read) < 0)
				return -EAGAIN;
			s->rd_obuf = true;
			break;
		}
		if (room == 0)
			break;
		if (sdata_enc_finish(&s->enc, out, room, &prod)) {
			s->olen[s->ofill] += prod;
			return smtpc_body_end(s);
		}
		s->olen[s->ofill] += prod;
	}
	return SMTPC_S_BODY;
}

/* See smtp_client_int.h. */
void
smtpc_body_inplace(struct smtpc *s, size_t n)
{
	char *p = s->obuf[s->ofill] + s->olen[s->ofill];
	size_t kept;

	/* A wire body (RECORD_MSG_F_WIRE) is sent as the read left it: no
	 * scan, and s->enc stays at a line start, as after its final CRLF,
	 * so sdata_enc_finish() adds only ".\r\n". */
	if (s->cur->wire) {
		s->olen[s->ofill] += n;
		return;
	}
	kept = sdata_enc_pass(&s->enc, p, n);

	s->olen[s->ofill] += kept;
	if (kept == n)
		return;
	if (s->chunk == NULL)
		s->chunk = smtpc_big_get();
	memcpy(s->chunk, p + kept, n - kept);
	s->chunk_len = n - kept;
	s->chunk_off = 0;
}

/* ---- replies to the transaction's commands ---- */

int
smtpc_rset_reply(struct smtpc *s, const struct smtpc_pend *p,
		 const struct smtp_reply *rep)
{
	(void)p;
	return reply_class(rep->code) == 2 ? (int)s->state : -EPROTO;
}

int
smtpc_mail_reply(struct smtpc *s, const struct smtpc_pend *p,
		 const struct smtp_reply *rep)
{
	struct smtpc_result res;

	if (reply_class(rep->code) == 2)
		return s->state;
	if (reply_class(rep->code) == 3)
		return -EPROTO;
	/* Every recipient shares the MAIL reply; RCPT/DATA replies that
	 * follow (503 "need MAIL") change nothing. */
	smtpc_result_reply(&res, rep, SMTPC_STAGE_MAIL);
	smtpc_msg_settle_rcpts(p->m, &res);
	p->m->mail_failed = true;
	s->need_rset = true;
	return s->state;
}

int
smtpc_rcpt_reply(struct smtpc *s, const struct smtpc_pend *p,
		 const struct smtp_reply *rep)
{
	struct smtpc_rcpt *rc = &p->m->rcpt[p->rcpt];

	if (reply_class(rep->code) == 3)
		return -EPROTO;
	if (p->m->mail_failed)
		return s->state;
	if (reply_class(rep->code) == 2)
		p->m->accepted++;
	else
		smtpc_result_reply(&rc->res, rep, SMTPC_STAGE_RCPT);
	return s->state;
}

int
smtpc_data_reply(struct smtpc *s, const struct smtpc_pend *p,
		 const struct smtp_reply *rep)
{
	struct smtpc_msg *m = p->m;
	struct smtpc_result res;
	int err;

	if (rep->code == 354 && m->accepted > 0 && !m->mail_failed)
		return SMTPC_S_BODY;
	if (rep->code == 354) {
		/* RFC 2920 3.1: no recipient accepted, yet DATA went on:
		 * close it with a lone "." and no content. */
		err = smtpc_push(s, SMTPC_STAGE_DOT, m, 0, ".\r\n", 3);
		if (err < 0)
			return err == -ENOBUFS ? -EPROTO : err;
		s->pend[(s->phead + s->pn - 1) % SMTPC_PEND_MAX].lone = 1;
		m->open = false;
		s->cur = NULL;
		s->prev = m;
		return SMTPC_S_NEXT;
	}
	if (reply_class(rep->code) < 4)
		return -EPROTO;
	smtpc_result_reply(&res, rep, SMTPC_STAGE_DATA);
	smtpc_msg_settle_rcpts(m, &res);
	m->open = false;
	s->need_rset = true;
	return SMTPC_S_NEXT;
}

int
smtpc_dot_reply(struct smtpc *s, const struct smtpc_pend *p,
		const struct smtp_reply *rep)
{
	struct smtpc_result res;

	if (reply_class(rep->code) == 3)
		return -EPROTO;
	if (!p->lone) {
		smtpc_result_reply(&res, rep, SMTPC_STAGE_DOT);
		smtpc_msg_settle_rcpts(p->m, &res);
	}
	return s->state;
}
