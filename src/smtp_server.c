/* SPDX-License-Identifier: MIT */
/*
 * smtp_server.c: the inbound ESMTP engine's server and session lifecycle:
 * listeners and multishot accept (with the 421 for connections over the
 * limit), session pool and teardown.  The receive buffer, recv and the
 * session timer are in smtp_server_io.c, output and the reply API in
 * smtp_server_out.c, commands and the input loop in smtp_server_cmd.c,
 * STARTTLS in smtp_server_tls.c.  No
 * policy: every decision about a client is the owner's (smtps_ops).
 *
 * Lifetime (STYLE 3.5): a session embeds op_recv, op_send and op_close and
 * is freed by smtps_reap() only in state CLOSED with no op in flight and
 * its deferred task not queued.  Teardown is FLUSH (send queued replies) ->
 * shutdown(SHUT_WR) -> LINGER (read until EOF) -> CLOSING (cancel, wait)
 * -> close(fd) -> CLOSED.  A hard close jumps to CLOSING.
 */
#include "smtp_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "smtp_server_int.h"

static const char *const smtps_stage_names[] = {
    [SMTPS_STAGE_NONE] = "none", [SMTPS_STAGE_GREETING] = "greeting",
    [SMTPS_STAGE_HELO] = "helo", [SMTPS_STAGE_MAIL] = "mail",
    [SMTPS_STAGE_RCPT] = "rcpt", [SMTPS_STAGE_DATA] = "data",
    [SMTPS_STAGE_DOT] = "dot",   [SMTPS_STAGE_RSET] = "rset",
    [SMTPS_STAGE_QUIT] = "quit", [SMTPS_STAGE_STARTTLS] = "starttls",
};
_Static_assert(nitems(smtps_stage_names) == SMTPS_STAGE__COUNT, "stages");

static const char *const smtps_why_names[] = {
    [SMTPS_CLOSE_QUIT] = "quit",
    [SMTPS_CLOSE_EOF] = "eof",
    [SMTPS_CLOSE_IO] = "io",
    [SMTPS_CLOSE_IDLE] = "idle",
    [SMTPS_CLOSE_SESSION_TIMEOUT] = "session_timeout",
    [SMTPS_CLOSE_ERRORS] = "errors",
    [SMTPS_CLOSE_EARLY_TALKER] = "early_talker",
    [SMTPS_CLOSE_PIPELINING] = "pipelining",
    [SMTPS_CLOSE_OWNER_REPLY] = "owner_reply",
    [SMTPS_CLOSE_OWNER_DROP] = "owner_drop",
    [SMTPS_CLOSE_SHUTDOWN] = "shutdown",
    [SMTPS_CLOSE_TLS] = "tls",
};
_Static_assert(nitems(smtps_why_names) == SMTPS_CLOSE__COUNT, "close why");

static const char *const smtps_state_names[] = {
    [SMTPS_S_CMD] = "cmd",       [SMTPS_S_BODY] = "body",
    [SMTPS_S_BDAT] = "bdat",     [SMTPS_S_FLUSH] = "flush",
    [SMTPS_S_LINGER] = "linger", [SMTPS_S_CLOSING] = "closing",
    [SMTPS_S_CLOSED] = "closed",
};
_Static_assert(nitems(smtps_state_names) == SMTPS_S__COUNT, "states");

const char *
smtps_stage_str(enum smtps_stage st)
{
	return (unsigned)st < SMTPS_STAGE__COUNT ? smtps_stage_names[st] : "?";
}

const char *
smtps_close_why_str(enum smtps_close_why why)
{
	return (unsigned)why < SMTPS_CLOSE__COUNT ? smtps_why_names[why] : "?";
}

const char *
smtps_state_str(enum smtps_state st)
{
	return (unsigned)st < SMTPS_S__COUNT ? smtps_state_names[st] : "?";
}

static void smtps_close_done(struct uop *op, int res, unsigned flags);
static void smtps_task_run(struct ring_task *t);
static void smtps_accept_done(struct uop *op, int res, unsigned flags);
static void smtps_accept_retry(struct timer *t);

/* ---- server ------------------------------------------------------------ */

struct smtps_server *
smtps_server_new(struct ring *r, const struct smtps_config *cfg,
		 const struct smtps_ops *ops, void *udata)
{
	struct smtps_server *srv = xcalloc(1, sizeof(*srv));
	struct smtps_config *c = &srv->cfg;

	srv->ring = r;
	srv->ops = ops;
	srv->udata = udata;
	*c = *cfg;
	srv->hostname = xstrdup(cfg->hostname ? cfg->hostname : "localhost");
	c->hostname = srv->hostname;
	c->caps &= ~(unsigned)SMTPS_CAP_STARTTLS;
	if (c->tls != NULL)
		c->caps |= SMTPS_CAP_STARTTLS;
	if (c->line_max == 0)
		c->line_max = SMTPP_LINE_CAP_DEFAULT;
	c->line_max = MAX(c->line_max, (size_t)SMTPP_LINE_CAP_MIN);
	c->line_max = MIN(c->line_max, (size_t)SMTPP_LINE_CAP_MAX);
	if (c->rcpt_max == 0)
		c->rcpt_max = 1000;
	if (c->errors_max == 0)
		c->errors_max = 10;
	if (c->sessions_max == 0)
		c->sessions_max = 10000;
	if (c->idle_timeout_ms == 0)
		c->idle_timeout_ms = 300000;
	if (c->session_timeout_ms == 0)
		c->session_timeout_ms = 3600000;
	if (c->handshake_timeout_ms == 0)
		c->handshake_timeout_ms = c->idle_timeout_ms;
	if (c->recv_buf == 0)
		c->recv_buf = 4096;
	c->recv_buf = MAX(c->recv_buf, (size_t)512);
	if (c->backlog <= 0)
		c->backlog = 4096;
	srv->busy_len = (size_t)snprintf(
	    srv->busy_msg, sizeof(srv->busy_msg),
	    "421 4.7.0 %.300s Error: too many connections\r\n", srv->hostname);
	return srv;
}

void *
smtps_server_udata(const struct smtps_server *srv)
{
	return srv->udata;
}

const struct smtps_server_stats *
smtps_server_stats(const struct smtps_server *srv)
{
	return &srv->st;
}

unsigned
smtps_listener_count(const struct smtps_server *srv)
{
	return srv->nlst;
}

const char *
smtps_listener_name(const struct smtps_server *srv, unsigned i)
{
	return i < srv->nlst ? srv->lst[i]->name : "?";
}

size_t
smtps_session_footprint(const struct smtps_server *srv)
{
	return sizeof(struct smtps_session) + srv->cfg.recv_buf +
	       srv->cfg.line_max;
}

/* Parse "a.b.c.d:port" or "[v6]:port" into *ss. */
static int
smtps_parse_addr(const char *addr, struct sockaddr_storage *ss,
		 socklen_t *len_r)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *h = addr;
	size_t hl;
	char *end;
	unsigned long port;

	memset(ss, 0, sizeof(*ss));
	colon = strrchr(addr, ':');
	if (colon == NULL || colon == addr)
		return -EINVAL;
	hl = (size_t)(colon - addr);
	if (addr[0] == '[') {
		if (hl < 3 || addr[hl - 1] != ']')
			return -EINVAL;
		h = addr + 1;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno || port > 65535)
		return -EINVAL;
	if (addr[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -EINVAL;
		*len_r = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
		*len_r = sizeof(*s4);
	}
	return 0;
}

/* Render a sockaddr as "ADDR:PORT" / "[ADDR]:PORT" (port_out) or "ADDR". */
static void
smtps_sa_str(const struct sockaddr_storage *ss, bool with_port, char *buf,
	     size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		port = ntohs(s4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		port = ntohs(s6->sin6_port);
	} else if (ss->ss_family == AF_UNIX) {
		snprintf(a, sizeof(a), "unix");
	}
	if (!with_port)
		snprintf(buf, size, "%s", a);
	else if (ss->ss_family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", a, port);
	else
		snprintf(buf, size, "%s:%u", a, port);
}

static int
smtps_socket(const struct smtps_config *c, const struct sockaddr_storage *ss,
	     socklen_t len)
{
	int one = 1, fd, err;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		goto fail;
	if (c->reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1)
		goto fail;
	if (ss->ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1)
		goto fail;
	if (bind(fd, (const struct sockaddr *)ss, len) == -1)
		goto fail;
	if (listen(fd, c->backlog) == -1)
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

int
smtps_listen(struct smtps_server *srv, const char *addr, char *bound_r,
	     size_t bound_sz)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct smtps_listener *l;
	int fd, rc;

	rc = smtps_parse_addr(addr, &ss, &len);
	if (rc < 0)
		return rc;
	fd = smtps_socket(&srv->cfg, &ss, len);
	if (fd < 0)
		return fd;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		rc = -errno;
		close(fd);
		return rc;
	}
	l = xcalloc(1, sizeof(*l));
	l->srv = srv;
	l->fd = fd;
	l->index = srv->nlst;
	uop_init(&l->op_accept, smtps_accept_done);
	timer_init(&l->retry, smtps_accept_retry);
	smtps_sa_str(&ss, true, l->name, sizeof(l->name));
	rc = ring_accept_multishot(srv->ring, &l->op_accept, fd);
	if (rc < 0) {
		close(fd);
		free(l);
		return rc;
	}
	srv->lst = xreallocarray(srv->lst, srv->nlst + 1, sizeof(*srv->lst));
	srv->lst[srv->nlst++] = l;
	if (bound_r != NULL && bound_sz > 0)
		snprintf(bound_r, bound_sz, "%s", l->name);
	log_debug("smtps: listening on %s", l->name);
	return (int)l->index;
}

/* ---- accept ------------------------------------------------------------ */

static void
smtps_listener_close(struct smtps_listener *l)
{
	if (l->fd >= 0 && !uop_busy(&l->op_accept)) {
		close(l->fd);
		l->fd = -1;
	}
}

static void
smtps_accept_rearm(struct smtps_listener *l)
{
	int rc;

	if (l->stopping || uop_busy(&l->op_accept))
		return;
	rc = ring_accept_multishot(l->srv->ring, &l->op_accept, l->fd);
	if (rc < 0) {
		log_warn("smtps: %s: cannot re-arm accept: %s", l->name,
			 strerror(-rc));
		timer_arm(ring_timers(l->srv->ring), &l->retry,
			  ring_now(l->srv->ring) + 100000000);
	}
}

static void
smtps_accept_retry(struct timer *t)
{
	struct smtps_listener *l =
	    container_of(t, struct smtps_listener, retry);

	smtps_accept_rearm(l);
}

static void
smtps_reject_done(struct uop *op, int res, unsigned flags)
{
	struct smtps_reject *rj = container_of(op, struct smtps_reject, op);
	struct smtps_server *srv = rj->srv;

	(void)res;
	(void)flags;
	if (!rj->sent) {
		rj->sent = true;
		if (ring_close(srv->ring, &rj->op, rj->fd) == 0)
			return;
		close(rj->fd);
	}
	if (rj->prev)
		rj->prev->next = rj->next;
	else
		srv->rejects = rj->next;
	if (rj->next)
		rj->next->prev = rj->prev;
	free(rj);
}

/* Over sessions_max: "421 4.7.0 too many connections", then close. */
static void
smtps_reject_busy(struct smtps_server *srv, int fd)
{
	struct smtps_reject *rj = xcalloc(1, sizeof(*rj));

	srv->st.rejected_busy++;
	rj->srv = srv;
	rj->fd = fd;
	uop_init(&rj->op, smtps_reject_done);
	if (ring_send(srv->ring, &rj->op, fd, srv->busy_msg, srv->busy_len,
		      ring_now(srv->ring) + 2000000000LL) < 0) {
		close(fd);
		free(rj);
		return;
	}
	rj->next = srv->rejects;
	if (rj->next)
		rj->next->prev = rj;
	srv->rejects = rj;
}

static void
smtps_accept_done(struct uop *op, int res, unsigned flags)
{
	struct smtps_listener *l =
	    container_of(op, struct smtps_listener, op_accept);
	struct smtps_server *srv = l->srv;

	if (res >= 0) {
		if (l->stopping || srv->stopping)
			close(res);
		else if (srv->st.sessions >= srv->cfg.sessions_max)
			smtps_reject_busy(srv, res);
		else if (smtps_adopt(srv, res, l->index) < 0)
			close(res);
	} else if (res != -ECANCELED) {
		srv->st.accept_errors++;
		log_warn("smtps: %s: accept: %s", l->name, strerror(-res));
		if (!(flags & RING_CQE_MORE) && !l->stopping) {
			/* EMFILE and friends: back off instead of spinning */
			timer_arm(ring_timers(srv->ring), &l->retry,
				  ring_now(srv->ring) + 100000000);
			return;
		}
	}
	if (flags & RING_CQE_MORE)
		return;
	if (l->stopping)
		smtps_listener_close(l);
	else
		smtps_accept_rearm(l);
}

/* ---- sessions ---------------------------------------------------------- */

static struct smtps_session *
smtps_session_get(struct smtps_server *srv)
{
	struct smtps_session *s = srv->pool;
	char *in;
	struct smtpp_lineparser lp;

	if (s != NULL) {
		srv->pool = s->next;
		srv->npool--;
		in = s->in;
		lp = s->lp;
		smtpp_line_reset(&lp);
	} else {
		s = xmalloc(sizeof(*s));
		in = xmalloc(srv->cfg.recv_buf);
		BUG_ON(smtpp_line_init(&lp, srv->cfg.line_max) != 0);
	}
	memset(s, 0, sizeof(*s));
	s->in = in;
	s->in_cap = srv->cfg.recv_buf;
	s->lp = lp;
	s->srv = srv;
	uop_init(&s->op_recv, smtps_recv_done);
	uop_init(&s->op_send, smtps_send_done);
	uop_init(&s->op_close, smtps_close_done);
	s->task.fn = smtps_task_run;
	timer_init(&s->deadline, smtps_deadline_fire);
	return s;
}

/* Free a session (or keep it for reuse); nothing of it is in flight. */
static void
smtps_session_put(struct smtps_session *s)
{
	struct smtps_server *srv = s->srv;

	uop_fini(&s->op_recv);
	uop_fini(&s->op_send);
	uop_fini(&s->op_close);
	smtps_tls_free(s);
	s->in_off = s->in_len = 0;
	smtps_in_return(s);
	if (srv->npool < SMTPS_POOL_MAX && !srv->stopping) {
		s->next = srv->pool;
		srv->pool = s;
		srv->npool++;
		return;
	}
	smtpp_line_fini(&s->lp);
	free(s->in);
	free(s);
}

/* See smtp_server.h. */
int
smtps_adopt(struct smtps_server *srv, int fd, unsigned lst)
{
	struct smtps_session *s;
	socklen_t len;
	int one = 1;
	int64_t now = ring_now(srv->ring);

	if (srv->stopping)
		return -ESHUTDOWN;
	s = smtps_session_get(srv);
	s->fd = fd;
	s->listener = lst;
	s->id = ++srv->next_id;
	len = sizeof(s->peer);
	if (getpeername(fd, (struct sockaddr *)&s->peer, &len) == -1)
		s->peer.ss_family = AF_UNSPEC;
	smtps_sa_str(&s->peer, false, s->peer_str, sizeof(s->peer_str));
	if (s->peer.ss_family == AF_INET || s->peer.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				 sizeof(one));
	s->t_end = now + (int64_t)srv->cfg.session_timeout_ms * 1000000;
	timer_arm(ring_timers(srv->ring), &s->deadline, s->t_end);
	s->next = srv->sessions;
	if (s->next)
		s->next->prev = s;
	srv->sessions = s;
	srv->st.accepted++;
	srv->st.sessions++;
	srv->st.sessions_peak = MAX(srv->st.sessions_peak, srv->st.sessions);
	log_debug("smtps: %016" PRIx64 " connect from %s", s->id, s->peer_str);
	s->action = "sending the greeting";
	smtps_arm_recv(s);
	s->pending = SMTPS_STAGE_GREETING;
	s->in_process = true;
	if (srv->ops->on_connect)
		srv->ops->on_connect(s);
	else
		smtps_reply(s, 0, NULL);
	s->in_process = false;
	smtps_process(s);
	return 0;
}

void
smtps_enter(struct smtps_session *s, enum smtps_state st)
{
	log_trace("smtps: %016" PRIx64 " %s -> %s", s->id,
		  smtps_state_str(s->state), smtps_state_str(st));
	s->state = st;
}

static void
smtps_reap(struct smtps_session *s)
{
	struct smtps_server *srv = s->srv;

	if (s->state != SMTPS_S_CLOSED || uop_busy(&s->op_recv) ||
	    uop_busy(&s->op_send) || uop_busy(&s->op_close) || s->task.queued)
		return;
	timer_cancel(ring_timers(srv->ring), &s->deadline);
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	srv->st.sessions--;
	smtps_session_put(s);
}

/* CLOSING: once nothing is in flight, close the fd through the ring. */
void
smtps_closing_step(struct smtps_session *s)
{
	if (s->state == SMTPS_S_CLOSED) {
		smtps_reap(s);
		return;
	}
	if (s->state != SMTPS_S_CLOSING || uop_busy(&s->op_recv) ||
	    uop_busy(&s->op_send) || uop_busy(&s->op_close))
		return;
	smtps_enter(s, SMTPS_S_CLOSED);
	if (ring_close(s->srv->ring, &s->op_close, s->fd) < 0)
		close(s->fd);
	s->fd = -1;
	smtps_reap(s);
}

static void
smtps_notify_close(struct smtps_session *s)
{
	if (s->close_notified)
		return;
	s->close_notified = true;
	log_debug("smtps: %016" PRIx64 " closing (%s) while %s", s->id,
		  smtps_close_why_str(s->why), s->action);
	if (s->srv->ops->on_close)
		s->srv->ops->on_close(s, s->why);
}

/* Cancel everything in flight and close once it is back (CLOSING). */
void
smtps_hard_close(struct smtps_session *s)
{
	smtps_enter(s, SMTPS_S_CLOSING);
	timer_cancel(ring_timers(s->srv->ring), &s->deadline);
	(void)ring_cancel(s->srv->ring, &s->op_recv);
	(void)ring_cancel(s->srv->ring, &s->op_send);
	(void)ring_cancel(s->srv->ring, &s->op_close);
	smtps_closing_step(s);
}

/* The last reply is out: shut down the write side, then LINGER. */
void
smtps_linger_start(struct smtps_session *s)
{
	if (uop_busy(&s->op_close))
		return;
	if (ring_shutdown_sock(s->srv->ring, &s->op_close, s->fd, SHUT_WR) < 0)
		smtps_hard_close(s);
}

/*
 * Begin teardown.  graceful: send what is queued, shut down the write
 * side and read until EOF, then close; else close at once.  on_close runs
 * here (once).  A graceful close of a session already closing gracefully,
 * or any close of one closing hard, changes nothing.
 */
void
smtps_close(struct smtps_session *s, enum smtps_close_why why, bool graceful)
{
	if (s->state >= SMTPS_S_CLOSING)
		return;
	if (s->state >= SMTPS_S_FLUSH) {
		if (!graceful)
			smtps_hard_close(s);
		return;
	}
	s->why = why;
	s->pending = SMTPS_STAGE_NONE;
	if (graceful) {
		smtps_enter(s, SMTPS_S_FLUSH);
		smtps_notify_close(s);
		if (s->state == SMTPS_S_FLUSH)
			smtps_flush(s);
		return;
	}
	smtps_enter(s, SMTPS_S_CLOSING);
	smtps_notify_close(s);
	smtps_hard_close(s);
}

static void
smtps_task_run(struct ring_task *t)
{
	struct smtps_session *s = container_of(t, struct smtps_session, task);

	if (s->state < SMTPS_S_FLUSH)
		smtps_process(s);
	else if (s->state >= SMTPS_S_CLOSING)
		smtps_closing_step(s);
}

/* op_close carries the SHUT_WR of a graceful close, then the close(2). */
static void
smtps_close_done(struct uop *op, int res, unsigned flags)
{
	struct smtps_session *s =
	    container_of(op, struct smtps_session, op_close);

	(void)flags;
	if (s->state == SMTPS_S_FLUSH) {
		if (res < 0 || s->srv->stopping) { /* no linger when stopping */
			smtps_hard_close(s);
			return;
		}
		smtps_enter(s, SMTPS_S_LINGER);
		smtps_arm_recv(s);
		return;
	}
	smtps_closing_step(s);
}

/* ---- stop and free ------------------------------------------------------ */

void
smtps_server_stop(struct smtps_server *srv)
{
	srv->stopping = true;
	for (unsigned i = 0; i < srv->nlst; i++) {
		struct smtps_listener *l = srv->lst[i];

		l->stopping = true;
		timer_cancel(ring_timers(srv->ring), &l->retry);
		(void)ring_cancel(srv->ring, &l->op_accept);
		smtps_listener_close(l);
	}
	for (struct smtps_session *s = srv->sessions; s; s = s->next) {
		if (s->state >= SMTPS_S_FLUSH)
			continue;
		if (s->state == SMTPS_S_CMD && s->pending == SMTPS_STAGE_NONE &&
		    s->greeted) {
			smtps_queue(s, 421, "4.3.2 Error: shutting down");
			smtps_close(s, SMTPS_CLOSE_SHUTDOWN, true);
		} else {
			smtps_close(s, SMTPS_CLOSE_SHUTDOWN, false);
		}
	}
}

bool
smtps_server_idle(const struct smtps_server *srv)
{
	if (srv->sessions != NULL || srv->rejects != NULL)
		return false;
	for (unsigned i = 0; i < srv->nlst; i++)
		if (srv->lst[i]->fd >= 0 || uop_busy(&srv->lst[i]->op_accept))
			return false;
	return true;
}

void
smtps_server_free(struct smtps_server *srv)
{
	if (srv == NULL)
		return;
	BUG_ON(!smtps_server_idle(srv));
	smtps_body_bufs_free(srv);
	while (srv->pool) {
		struct smtps_session *s = srv->pool;

		srv->pool = s->next;
		smtpp_line_fini(&s->lp);
		free(s->in);
		free(s);
	}
	for (unsigned i = 0; i < srv->nlst; i++) {
		uop_fini(&srv->lst[i]->op_accept);
		free(srv->lst[i]);
	}
	free(srv->lst);
	free(srv->hostname);
	free(srv);
}
