/* SPDX-License-Identifier: MIT */
/*
 * smtp_client.c: the client session state machine (see smtp_client.h).
 *
 * Two sides, as in Postfix: the send side is the state (what we produce
 * next: entry actions in smtpc_entry[], refills in smtpc_pump[]); the
 * receive side is the pend[] FIFO, one entry per command awaiting its
 * reply, each reply handled by smtpc_on_reply[] for that command.  Handlers
 * only choose the next state; all I/O is armed by smtpc_settle() at the end
 * of each completion.  This file owns the session's life (new, start,
 * closing, reap), the tables, and the greeting/EHLO/QUIT steps; the byte
 * path is in smtp_client_io.c, the mail transaction in smtp_client_txn.c,
 * results in smtp_client_result.c.  Borrows the owner's messages.  Must
 * not decide retry, bounce or routing, and must not free the session
 * except from its reap task.
 */
#include "smtp_client.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "smtp_client_int.h"
#include "tls.h"

static const char *const smtpc_state_names[] = {
    [SMTPC_S_INIT] = "INIT",         [SMTPC_S_CONNECT] = "CONNECT",
    [SMTPC_S_BANNER] = "BANNER",     [SMTPC_S_EHLO] = "EHLO",
    [SMTPC_S_HELO] = "HELO",         [SMTPC_S_STARTTLS] = "STARTTLS",
    [SMTPC_S_TLS] = "TLS",           [SMTPC_S_NEXT] = "NEXT",
    [SMTPC_S_TXN] = "TXN",           [SMTPC_S_BODY] = "BODY",
    [SMTPC_S_IDLE] = "IDLE",         [SMTPC_S_QUIT] = "QUIT",
    [SMTPC_S_SHUTDOWN] = "SHUTDOWN", [SMTPC_S_CLOSING] = "CLOSING",
};
_Static_assert(nitems(smtpc_state_names) == SMTPC_S__COUNT, "states");

/* s->action per state: log lines end "while <action>" (a session
 * failure's text names its stage instead: smtpc_result_fail()). */
static const char *const smtpc_actions[] = {
    [SMTPC_S_INIT] = "starting",
    [SMTPC_S_CONNECT] = "connecting",
    [SMTPC_S_BANNER] = "waiting for the greeting",
    [SMTPC_S_EHLO] = "sending EHLO",
    [SMTPC_S_HELO] = "sending HELO",
    [SMTPC_S_STARTTLS] = "sending STARTTLS",
    [SMTPC_S_TLS] = "starting TLS",
    [SMTPC_S_NEXT] = "choosing the next message",
    [SMTPC_S_TXN] = "sending MAIL/RCPT/DATA",
    [SMTPC_S_BODY] = "sending the message body",
    [SMTPC_S_IDLE] = "waiting for a message",
    [SMTPC_S_QUIT] = "sending QUIT",
    [SMTPC_S_SHUTDOWN] = "closing TLS",
    [SMTPC_S_CLOSING] = "closing",
};
_Static_assert(nitems(smtpc_actions) == SMTPC_S__COUNT, "actions");

const char *
smtpc_state_str(enum smtpc_state st)
{
	return (unsigned)st < SMTPC_S__COUNT ? smtpc_state_names[st] : "?";
}

/* The timeout (ms) for the reply to a command of stage st. */
int64_t
smtpc_stage_tmo(const struct smtpc *s, enum smtpc_stage st)
{
	const struct smtpc_timeouts *t = &s->o.tmo;

	switch (st) {
	case SMTPC_STAGE_BANNER:
		return t->banner;
	case SMTPC_STAGE_EHLO:
	case SMTPC_STAGE_HELO:
		return t->ehlo;
	case SMTPC_STAGE_STARTTLS:
		return t->starttls > 0 ? t->starttls : t->ehlo;
	case SMTPC_STAGE_MAIL:
		return t->mail;
	case SMTPC_STAGE_RCPT:
		return t->rcpt;
	case SMTPC_STAGE_DATA:
		return t->data;
	case SMTPC_STAGE_DOT:
		return t->dot;
	case SMTPC_STAGE_RSET:
		return t->rset;
	case SMTPC_STAGE_QUIT:
		return t->quit;
	case SMTPC_STAGE_CONNECT:
		return t->connect;
	case SMTPC_STAGE_BODY:
		return t->block;
	case SMTPC_STAGE_IDLE:
		return t->idle;
	case SMTPC_STAGE_NONE:
	case SMTPC_STAGE_LOCAL:
	case SMTPC_STAGE__COUNT:
		break;
	}
	return t->block;
}

/* Hand m back to the owner; the engine never touches it again. */
void
smtpc_msg_report(struct smtpc *s, struct smtpc_msg *m)
{
	struct smtpc_result proto;

	smtpc_result_set(&proto, SMTPC_R_TEMPORARY, SMTPC_FAIL_PROTO,
			 SMTPC_STAGE_NONE, -EPROTO);
	smtpc_msg_settle_rcpts(m, &proto); /* cannot happen; stay exact */
	if (s->prev == m)
		s->prev = NULL;
	if (s->cur == m)
		s->cur = NULL;
	s->ops->on_msg_done(s, m, s->arg);
}

/* Report m if no command of it awaits a reply and none will be queued. */
static void
smtpc_msg_check_done(struct smtpc *s, struct smtpc_msg *m)
{
	if (!m->open && m->npend == 0)
		smtpc_msg_report(s, m);
}

/* ---- closing ------------------------------------------------------------- */

/* The stage of what the session waits for now. */
static enum smtpc_stage
smtpc_cur_stage(const struct smtpc *s)
{
	if (s->reply_stage >= 0)
		return (enum smtpc_stage)s->reply_stage;
	if (s->pn > 0)
		return (enum smtpc_stage)s->pend[s->phead].stage;
	switch (s->state) {
	case SMTPC_S_INIT:
	case SMTPC_S_CONNECT:
		return SMTPC_STAGE_CONNECT;
	case SMTPC_S_BODY:
		return SMTPC_STAGE_BODY;
	case SMTPC_S_IDLE:
		return SMTPC_STAGE_IDLE;
	case SMTPC_S_QUIT:
	case SMTPC_S_SHUTDOWN:
		return SMTPC_STAGE_QUIT;
	case SMTPC_S_TLS:
		return SMTPC_STAGE_STARTTLS;
	case SMTPC_S_BANNER:
	case SMTPC_S_EHLO:
	case SMTPC_S_HELO:
	case SMTPC_S_STARTTLS:
	case SMTPC_S_NEXT:
	case SMTPC_S_TXN:
	case SMTPC_S_CLOSING:
	case SMTPC_S__COUNT:
		break;
	}
	return SMTPC_STAGE_NONE;
}

/* Remember why the session ends (the first reason wins). */
void
smtpc_set_close(struct smtpc *s, const struct smtpc_result *why)
{
	if (s->close_set)
		return;
	s->close = *why;
	s->close_set = true;
}

/* Fail the in-flight message m with why (temporary); see maybe_dup. */
static void
smtpc_msg_abort(struct smtpc *s, struct smtpc_msg *m,
		const struct smtpc_result *why)
{
	struct smtpc_result t = *why;

	t.status = SMTPC_R_TEMPORARY;
	t.maybe_dup = m->dot_sent && why->code == 0;
	smtpc_msg_settle_rcpts(m, &t);
	smtpc_msg_report(s, m);
}

/*
 * End the session with why: in-flight messages get temporary results, ops
 * are cancelled, and the reap task frees s once nothing is in flight.
 */
void
smtpc_close(struct smtpc *s, const struct smtpc_result *why)
{
	if (s->state == SMTPC_S_CLOSING)
		return;
	smtpc_set_close(s, why);
	smtpc_enter(s, SMTPC_S_CLOSING);
}

/* Session failure from a -errno (the TLS layer's reason if it is its). */
void
smtpc_fail(struct smtpc *s, int err)
{
	struct smtpc_result why;
	enum smtpc_fail f = smtpc_fail_from_errno(err);
	const char *reason = strerror(-err);

	if (s->state == SMTPC_S_CLOSING)
		return;
	if (s->tls != NULL || s->state == SMTPC_S_TLS)
		smtpc_tls_fail_class(s, err, &f, &reason);
	smtpc_result_fail(&why, f, smtpc_cur_stage(s), err, reason);
	log_info("%016" PRIx64 " %s: %s", s->id, s->o.mx_host, why.text);
	smtpc_close(s, &why);
}

/* Session failure from a session-ending reply (421, bad greeting). */
static void
smtpc_fail_reply(struct smtpc *s, const struct smtp_reply *rep,
		 enum smtpc_stage stage)
{
	struct smtpc_result why;

	smtpc_result_reply(&why, rep, stage);
	why.status = SMTPC_R_TEMPORARY;
	log_info("%016" PRIx64 " %s: %d %s while %s", s->id, s->o.mx_host,
		 rep->code, why.text, s->action);
	smtpc_close(s, &why);
}

static void
smtpc_reap_task(struct ring_task *t)
{
	struct smtpc *s = container_of(t, struct smtpc, reap_task);

	s->ops->on_close(s, &s->close, s->arg);
	uop_fini(&s->op_conn);
	uop_fini(&s->op_recv);
	uop_fini(&s->op_send);
	uop_fini(&s->op_read);
	tls_sess_free(s->tls);
	smtpc_io_fini(s);
	free((char *)s->o.mx_host);
	free((char *)s->o.ehlo_name);
	free((char *)s->o.tls_binding);
	free(s);
}

/* Once no op is in flight: close the socket and schedule the free. */
void
smtpc_reap_maybe(struct smtpc *s)
{
	if (uop_busy(&s->op_conn) || uop_busy(&s->op_recv) ||
	    uop_busy(&s->op_send) || uop_busy(&s->op_read))
		return;
	if (s->fd >= 0 && close(s->fd) == -1)
		log_warn("%016" PRIx64 " close: %s", s->id, strerror(errno));
	s->fd = -1;
	ring_defer(s->r, &s->reap_task);
}

static int
smtpc_closing_entry(struct smtpc *s)
{
	struct uop *ops[] = {&s->op_conn, &s->op_recv, &s->op_send,
			     &s->op_read};

	timer_cancel(ring_timers(s->r), &s->tmr);
	if (s->prev != NULL)
		smtpc_msg_abort(s, s->prev, &s->close);
	if (s->cur != NULL)
		smtpc_msg_abort(s, s->cur, &s->close);
	s->pn = 0;
	for (unsigned i = 0; i < nitems(ops); i++) {
		if (uop_busy(ops[i]) && ring_cancel(s->r, ops[i]) < 0)
			log_warn("%016" PRIx64 " cancel failed", s->id);
	}
	smtpc_reap_maybe(s);
	return SMTPC_S_CLOSING;
}

/* ---- entry actions -------------------------------------------------------
 * Each returns the next state (its own to wait for a completion) or -errno.
 */

static int
smtpc_init_entry(struct smtpc *s)
{
	(void)s;
	return SMTPC_S_INIT;
}

static int
smtpc_connect_entry(struct smtpc *s)
{
	int one = 1, err;

	if ((unsigned)s->o.tls >= SMTPC_TLS_POLICY__COUNT ||
	    (s->o.tls != SMTPC_TLS_POLICY_NONE && s->o.tls_ctx == NULL))
		return -EINVAL; /* the owner's bug: reported, not delivered */
	s->fd = socket(s->o.dst.ss_family,
		       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd == -1)
		return -errno;
	/* Pipelined groups are small writes that wait for a reply: without
	 * this, Nagle plus the peer's delayed ACK add ~40 ms per message. */
	(void)setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (s->o.src_len > 0) {
		/* Source port chosen at connect(): no port exhaustion at bind.
		 * Best effort, bind() still works without it. */
		(void)setsockopt(s->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT,
				 &one, sizeof(one));
		if (bind(s->fd, (const struct sockaddr *)&s->o.src,
			 s->o.src_len) == -1)
			return -errno;
	}
	err = ring_connect(s->r, &s->op_conn, s->fd,
			   (const struct sockaddr *)&s->o.dst, s->o.dst_len,
			   ring_now(s->r) + s->o.tmo.connect * SMTPC_MS);
	return err < 0 ? err : SMTPC_S_CONNECT;
}

static int
smtpc_wait_entry(struct smtpc *s)
{
	return s->state; /* BANNER: the pend[] entry was queued at connect */
}

static int
smtpc_helo_entry(struct smtpc *s)
{
	bool ehlo = s->state == SMTPC_S_EHLO;
	char cmd[SMTPCMD_LINE_MAX];
	size_t len;
	int err = smtpcmd_helo(cmd, sizeof(cmd), ehlo, s->o.ehlo_name, &len);

	if (err < 0)
		return err;
	memset(&s->caps, 0, sizeof(s->caps));
	if (ehlo)
		reply_parser_want_ehlo(&s->rp, &s->caps);
	err = smtpc_push(s, ehlo ? SMTPC_STAGE_EHLO : SMTPC_STAGE_HELO, NULL, 0,
			 cmd, len);
	return err < 0 ? err : (int)s->state;
}

static int
smtpc_idle_entry(struct smtpc *s)
{
	s->idle_deadline = ring_now(s->r) + s->o.tmo.idle * SMTPC_MS;
	return SMTPC_S_IDLE;
}

static int
smtpc_quit_entry(struct smtpc *s)
{
	int err = smtpc_push_simple(s, SMTPC_STAGE_QUIT, NULL, SMTPCMD_QUIT);

	return err < 0 ? err : SMTPC_S_QUIT;
}

static smtpc_entry_fn *const smtpc_entry[SMTPC_S__COUNT] = {
    [SMTPC_S_INIT] = smtpc_init_entry,
    [SMTPC_S_CONNECT] = smtpc_connect_entry,
    [SMTPC_S_BANNER] = smtpc_wait_entry,
    [SMTPC_S_EHLO] = smtpc_helo_entry,
    [SMTPC_S_HELO] = smtpc_helo_entry,
    [SMTPC_S_STARTTLS] = smtpc_starttls_entry,
    [SMTPC_S_TLS] = smtpc_tls_entry,
    [SMTPC_S_NEXT] = smtpc_next_entry,
    [SMTPC_S_TXN] = smtpc_txn_pump,
    [SMTPC_S_BODY] = smtpc_body_entry,
    [SMTPC_S_IDLE] = smtpc_idle_entry,
    [SMTPC_S_QUIT] = smtpc_quit_entry,
    [SMTPC_S_SHUTDOWN] = smtpc_shutdown_entry,
    [SMTPC_S_CLOSING] = smtpc_closing_entry,
};

/* Refills after a reply, a sent buffer or a file chunk; NULL: nothing. */
static smtpc_entry_fn *const smtpc_pump[SMTPC_S__COUNT] = {
    [SMTPC_S_TLS] = smtpc_tls_pump,    [SMTPC_S_SHUTDOWN] = smtpc_shutdown_pump,
    [SMTPC_S_NEXT] = smtpc_next_entry, [SMTPC_S_TXN] = smtpc_txn_pump,
    [SMTPC_S_BODY] = smtpc_body_pump,
};

/* Enter st and follow the states its entry action leads to. */
void
smtpc_enter(struct smtpc *s, enum smtpc_state st)
{
	for (;;) {
		int next;

		log_trace("%016" PRIx64 " %s -> %s", s->id,
			  smtpc_state_str(s->state), smtpc_state_str(st));
		s->state = st;
		s->action = smtpc_actions[st];
		next = smtpc_entry[st](s);
		if (next == (int)st && smtpc_pump[st] != NULL &&
		    smtpc_entry[st] != smtpc_pump[st])
			next = smtpc_pump[st](s);
		if (next < 0) {
			smtpc_fail(s, next);
			return;
		}
		if (next == (int)st || s->state == SMTPC_S_CLOSING)
			return;
		st = (enum smtpc_state)next;
	}
}

/* Let the current state produce more, and follow any transition. */
void
smtpc_resume(struct smtpc *s)
{
	int next;

	if (smtpc_pump[s->state] == NULL)
		return;
	next = smtpc_pump[s->state](s);
	if (next < 0)
		smtpc_fail(s, next);
	else if (next != (int)s->state && s->state != SMTPC_S_CLOSING)
		smtpc_enter(s, (enum smtpc_state)next);
}

/* ---- reply handlers ------------------------------------------------------
 * Each gets the popped pend[] entry and its reply, records results, and
 * returns the next state (s->state to stay) or -errno.
 */

/* A bad greeting or EHLO/HELO refusal: remember it, then QUIT politely. */
static int
smtpc_refused(struct smtpc *s, const struct smtp_reply *rep,
	      enum smtpc_stage stage)
{
	struct smtpc_result why;

	smtpc_result_reply(&why, rep, stage);
	why.status = SMTPC_R_TEMPORARY;
	smtpc_set_close(s, &why);
	log_info("%016" PRIx64 " %s: %d %s while %s", s->id, s->o.mx_host,
		 rep->code, why.text, s->action);
	return SMTPC_S_QUIT;
}

static int
smtpc_banner_reply(struct smtpc *s, const struct smtpc_pend *p,
		   const struct smtp_reply *rep)
{
	(void)p;
	if (rep->code == 220)
		return SMTPC_S_EHLO;
	if (reply_class(rep->code) < 4)
		return -EPROTO;
	return smtpc_refused(s, rep, SMTPC_STAGE_BANNER);
}

static int
smtpc_ehlo_reply(struct smtpc *s, const struct smtpc_pend *p,
		 const struct smtp_reply *rep)
{
	(void)p;
	if (reply_class(rep->code) == 2) {
		s->pipelining = !s->o.no_pipelining &&
				reply_caps_has(&s->caps, REPLY_CAP_PIPELINING);
		return SMTPC_S_STARTTLS;
	}
	if (reply_class(rep->code) == 5)
		return SMTPC_S_HELO; /* RFC 5321 4.1.4: fall back to HELO */
	if (reply_class(rep->code) == 3)
		return -EPROTO;
	return smtpc_refused(s, rep, SMTPC_STAGE_EHLO);
}

static int
smtpc_helo_reply(struct smtpc *s, const struct smtpc_pend *p,
		 const struct smtp_reply *rep)
{
	(void)p;
	memset(&s->caps, 0, sizeof(s->caps)); /* HELO: no extension */
	s->pipelining = false;
	if (reply_class(rep->code) == 2)
		return SMTPC_S_STARTTLS;
	if (reply_class(rep->code) == 3)
		return -EPROTO;
	return smtpc_refused(s, rep, SMTPC_STAGE_HELO);
}

static int
smtpc_quit_reply(struct smtpc *s, const struct smtpc_pend *p,
		 const struct smtp_reply *rep)
{
	struct smtpc_result why;

	(void)p;
	smtpc_result_reply(&why, rep, SMTPC_STAGE_QUIT);
	why.status = SMTPC_R_DELIVERED;
	why.fail = SMTPC_FAIL_NONE;
	if (s->tls != NULL && s->tls_state == SMTPC_TLS_S_ON) {
		smtpc_set_close(s, &why); /* after close_notify is out */
		return SMTPC_S_SHUTDOWN;
	}
	smtpc_close(s, &why);
	return SMTPC_S_CLOSING;
}

static smtpc_reply_fn *const smtpc_on_reply[SMTPC_STAGE__COUNT] = {
    [SMTPC_STAGE_BANNER] = smtpc_banner_reply,
    [SMTPC_STAGE_EHLO] = smtpc_ehlo_reply,
    [SMTPC_STAGE_HELO] = smtpc_helo_reply,
    [SMTPC_STAGE_STARTTLS] = smtpc_starttls_reply,
    [SMTPC_STAGE_RSET] = smtpc_rset_reply,
    [SMTPC_STAGE_MAIL] = smtpc_mail_reply,
    [SMTPC_STAGE_RCPT] = smtpc_rcpt_reply,
    [SMTPC_STAGE_DATA] = smtpc_data_reply,
    [SMTPC_STAGE_DOT] = smtpc_dot_reply,
    [SMTPC_STAGE_QUIT] = smtpc_quit_reply,
};

/* Match one complete reply to the oldest command awaiting one. */
static int
smtpc_reply(struct smtpc *s, const struct smtp_reply *rep)
{
	struct smtpc_pend p;
	int next;

	if (s->pn == 0) {
		/* RFC 5321 4.2: a server may send 421 at any time, e.g.
		 * while we idle; anything else is a reply to nothing. */
		if (rep->code == 421) {
			smtpc_fail_reply(s, rep, smtpc_cur_stage(s));
			return 0;
		}
		return -EPROTO;
	}
	p = s->pend[s->phead];
	log_trace("%016" PRIx64 " reply %d to %s", s->id, rep->code,
		  smtpc_stage_str(p.stage));
	if (rep->code == 421 && p.stage != SMTPC_STAGE_QUIT) {
		smtpc_fail_reply(s, rep, (enum smtpc_stage)p.stage);
		return 0;
	}
	s->phead = (s->phead + 1) % SMTPC_PEND_MAX;
	s->pn--;
	s->polled = false; /* a message may have become available meanwhile */
	if (p.m != NULL)
		p.m->npend--;
	s->reply_stage = p.stage;
	next = smtpc_on_reply[p.stage](s, &p, rep);
	if (next < 0) {
		smtpc_fail(s, next); /* while reply_stage names the stage */
		s->reply_stage = -1;
		return 0;
	}
	s->reply_stage = -1;
	if (s->state == SMTPC_S_CLOSING)
		return 0;
	if (p.m != NULL)
		smtpc_msg_check_done(s, p.m);
	if (s->state == SMTPC_S_CLOSING)
		return 0;
	if (next != (int)s->state)
		smtpc_enter(s, (enum smtpc_state)next);
	else
		smtpc_resume(s);
	return 0;
}

/* Feed received plaintext to the reply parser, one reply at a time. */
int
smtpc_input(struct smtpc *s, const char *buf, size_t len)
{
	struct smtp_reply rep;
	size_t off = 0, used;
	int rc;

	while (off < len && s->state != SMTPC_S_CLOSING) {
		rc = reply_parse(&s->rp, buf + off, len - off, &used, &rep);
		if (rc < 0)
			return rc;
		off += used;
		if (rc == 0)
			break;
		s->rleft = (uint32_t)(len - off); /* STARTTLS injection check */
		rc = smtpc_reply(s, &rep);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- public ------------------------------------------------------------- */

static void
smtpc_kick_task(struct ring_task *t)
{
	struct smtpc *s = container_of(t, struct smtpc, kick_task);

	if (s->state == SMTPC_S_IDLE)
		smtpc_enter(s, SMTPC_S_NEXT);
	else if (s->state == SMTPC_S_NEXT)
		smtpc_resume(s);
	else
		return;
	smtpc_settle(s);
}

/* Allocate a session; see the header for what is copied. */
struct smtpc *
smtpc_new(struct ring *r, const struct smtpc_opts *opts,
	  const struct smtpc_ops *ops, void *arg)
{
	static uint64_t smtpc_next_id;
	struct smtpc *s = xcalloc(1, sizeof(*s));

	s->reply_stage = -1;
	s->r = r;
	s->ops = ops;
	s->arg = arg;
	s->o = *opts;
	s->o.mx_host = xstrdup(opts->mx_host ? opts->mx_host : "?");
	s->o.ehlo_name = xstrdup(opts->ehlo_name ? opts->ehlo_name : "");
	s->o.tls_binding =
	    opts->tls_binding ? xstrdup(opts->tls_binding) : NULL;
	s->id = ++smtpc_next_id;
	s->fd = -1;
	s->state = SMTPC_S_INIT;
	s->action = smtpc_actions[SMTPC_S_INIT];
	smtpc_io_init(s);
	s->reap_task.fn = smtpc_reap_task;
	s->kick_task.fn = smtpc_kick_task;
	reply_parser_init(&s->rp, 0, 0);
	return s;
}

/* Start connecting; failures are reported through on_close(). */
int
smtpc_start(struct smtpc *s)
{
	BUG_ON(s->state != SMTPC_S_INIT);
	smtpc_enter(s, SMTPC_S_CONNECT);
	if (s->state == SMTPC_S_CLOSING)
		return s->close.err < 0 ? s->close.err : -EIO;
	return 0;
}

/*
 * The owner has a message: the session asks next_msg() again, from a
 * deferred task (never from inside this call, so calling it from any
 * callback is safe).
 */
void
smtpc_kick(struct smtpc *s)
{
	if (s->state == SMTPC_S_CLOSING)
		return;
	s->polled = false;
	if (s->state == SMTPC_S_IDLE || s->state == SMTPC_S_NEXT)
		ring_defer(s->r, &s->kick_task);
}

/*
 * End the session politely: QUIT once no transaction is under way (from a
 * deferred task, so any callback may call it).  Idempotent; a no-op once
 * QUIT is queued or the session closes.
 */
void
smtpc_quit(struct smtpc *s)
{
	if (s->quit_asked || s->state == SMTPC_S_QUIT ||
	    s->state == SMTPC_S_SHUTDOWN || s->state == SMTPC_S_CLOSING)
		return;
	s->quit_asked = true;
	if (s->state == SMTPC_S_IDLE || s->state == SMTPC_S_NEXT)
		ring_defer(s->r, &s->kick_task);
}

/* Abort the session (owner's decision); on_close() follows later. */
void
smtpc_cancel(struct smtpc *s)
{
	struct smtpc_result why;

	if (s->state == SMTPC_S_CLOSING)
		return;
	smtpc_result_set(&why, SMTPC_R_TEMPORARY, SMTPC_FAIL_LOCAL,
			 smtpc_cur_stage(s), -ECANCELED);
	snprintf(why.text, sizeof(why.text), "cancelled while %s", s->action);
	smtpc_close(s, &why);
}

enum smtpc_state
smtpc_get_state(const struct smtpc *s)
{
	return s->state;
}

const struct reply_caps *
smtpc_caps(const struct smtpc *s)
{
	return &s->caps;
}

unsigned
smtpc_deliveries(const struct smtpc *s)
{
	return s->ndeliv;
}

size_t
smtpc_session_size(void)
{
	return sizeof(struct smtpc);
}
