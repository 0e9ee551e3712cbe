/* SPDX-License-Identifier: MIT */
/*
 * redis_conn.c: the two connections of the hiredis client (commands;
 * pub/sub) and their state machine: DOWN -> CONNECTING (connect, then a
 * PING on the command connection) -> UP, and back to DOWN on any loss,
 * with a jittered exponential backoff before the next connect.  Owns the
 * contexts' hiredis event hooks and one-shot polls (fdpoll, re-armed after
 * each HandleRead/HandleWrite), the retry timers and the outage reports
 * (one log line per outage, on_down/on_up).  It must not free a context
 * inside a hiredis callback: rds_conn_fail() drops it from a deferred
 * task, and what follows a loss is done from the context's cleanup hook,
 * which hiredis calls on every path that frees it.  Requests and their
 * replies are redis.c's (redis_priv.h).
 */
#include "redis_priv.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static const char *const rds_state_names[] = {
    [RDS_S_DOWN] = "down",
    [RDS_S_CONNECTING] = "connecting",
    [RDS_S_UP] = "up",
    [RDS_S_CLOSING] = "closing",
};
_Static_assert(nitems(rds_state_names) == RDS_S__COUNT,
	       "rds_state_names out of date");

/* See redis_priv.h. */
void
rds_conn_enter(struct rds_conn *c, enum rds_state st)
{
	log_trace("redis: %s connection %s -> %s",
		  c->is_sub ? "pub/sub" : "command", rds_state_names[c->state],
		  rds_state_names[st]);
	c->state = st;
}

static void
rds_conn_poll(struct rds_conn *c)
{
	unsigned ev = (c->reading ? POLLIN : 0) | (c->writing ? POLLOUT : 0);
	int rc;

	if (c->ac == NULL)
		return;
	rc = fdpoll_want(&c->fp, c->ac->c.fd, ev);
	if (rc < 0)
		rds_conn_fail(c, -ECONNRESET, "poll: %s", strerror(-rc));
}

static void
rds_ev_add_read(void *p)
{
	struct rds_conn *c = p;

	c->reading = true;
	rds_conn_poll(c);
}

static void
rds_ev_del_read(void *p)
{
	struct rds_conn *c = p;

	c->reading = false;
	rds_conn_poll(c);
}

static void
rds_ev_add_write(void *p)
{
	struct rds_conn *c = p;

	c->writing = true;
	rds_conn_poll(c);
}

static void
rds_ev_del_write(void *p)
{
	struct rds_conn *c = p;

	c->writing = false;
	rds_conn_poll(c);
}

static unsigned
rds_backoff_next(struct rds *rds, struct rds_conn *c)
{
	unsigned base = c->backoff_ms, half;

	c->backoff_ms = MIN(base * 2, rds->o.backoff_max_ms);
	rds->rng ^= rds->rng << 13;
	rds->rng ^= rds->rng >> 7;
	rds->rng ^= rds->rng << 17;
	half = base / 2;
	return half + (unsigned)(rds->rng % (half + 1)); /* [base/2, base] */
}

static void
rds_outage_begin(struct rds *rds, const char *why)
{
	bool was_up = rds->up;

	if (rds->reported && !was_up)
		return; /* one log line per outage */
	rds->up = false;
	rds->reported = true;
	rds->down_since = ring_now(rds->ring);
	if (was_up)
		rds->st.outages++;
	log_warn("redis unreachable: %s: %s", rds->target, why);
	if (rds->o.on_down)
		rds->o.on_down(rds->o.cb_arg);
}

/* c has no context any more: report the loss, schedule a retry. */
static void
rds_conn_lost(struct rds_conn *c)
{
	struct rds *rds = c->rds;
	bool was_up = c->state == RDS_S_UP;

	c->reading = c->writing = false;
	c->kill = false;
	if (c->state == RDS_S_CLOSING)
		return;
	rds_conn_enter(c, RDS_S_DOWN);
	if (c->is_sub) {
		log_debug("redis: pub/sub connection lost: %s", c->why);
		if (!rds->up)
			return; /* restarted when commands are up again */
	} else {
		rds_outage_begin(rds, c->why);
		if (rds->sub.ac)
			rds_conn_fail(&rds->sub, -ECONNRESET,
				      "command connection lost");
		timer_cancel(ring_timers(rds->ring), &rds->sub.retry);
	}
	if (was_up || c->backoff_ms == 0)
		c->backoff_ms = rds->o.backoff_min_ms;
	timer_arm(ring_timers(rds->ring), &c->retry,
		  ring_now(rds->ring) +
		      (int64_t)rds_backoff_next(rds, c) * RDS_MS);
}

/* hiredis frees the context (on every path, ours included): forget it. */
static void
rds_ev_cleanup(void *p)
{
	struct rds_conn *c = p;

	if (c->why[0] == '\0')
		snprintf(c->why, sizeof(c->why), "%s",
			 c->ac->err ? c->ac->errstr : "connection closed");
	c->ac = NULL;
	(void)fdpoll_stop(&c->fp);
	rds_conn_lost(c);
}

/* Drop c's context from a deferred task (never inside hiredis). */
void
rds_conn_fail(struct rds_conn *c, int status, const char *fmt, ...)
{
	va_list ap;

	if (c->ac == NULL || c->kill)
		return;
	c->kill = true;
	c->fail_status = status;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	ring_defer(c->rds->ring, &c->reap);
}

static void
rds_on_reap(struct ring_task *t)
{
	struct rds_conn *c = container_of(t, struct rds_conn, reap);

	if (c->ac)
		redisAsyncFree(c->ac); /* -> callbacks, rds_ev_cleanup */
}

static void
rds_on_poll(struct fdpoll *fp, unsigned revents)
{
	struct rds_conn *c = container_of(fp, struct rds_conn, fp);

	if (c->ac == NULL)
		return;
	if (!fp->in_cb) { /* fdpoll could not re-arm */
		rds_conn_fail(c, -ECONNRESET, "poll re-arm failed");
		return;
	}
	if (c->writing && (revents & (POLLOUT | POLLERR | POLLHUP))) {
		c->rds->st.write_events++;
		redisAsyncHandleWrite(c->ac);
	}
	if (c->ac && c->reading && (revents & (POLLIN | POLLERR | POLLHUP)))
		redisAsyncHandleRead(c->ac);
	/* fdpoll re-arms for the mask the hooks left in c->fp.want */
}

static void
rds_on_connect(const redisAsyncContext *ac, int status)
{
	struct rds_conn *c = ac->ev.data;

	if (status != REDIS_OK) {
		snprintf(c->why, sizeof(c->why), "connect: %s", ac->errstr);
		return; /* hiredis frees the context next */
	}
	if (c->is_sub)
		rds_conn_up(c);
}

/* A pub/sub reply: "message" arrays go to the subscriber. */
static void
rds_on_message(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct rds_sub *s = privdata;
	redisReply *r = reply;

	(void)ac;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "message") != 0 ||
	    r->element[2]->type != REDIS_REPLY_STRING)
		return;
	s->rds->st.messages++;
	s->cb(s->arg, s->channel, r->element[2]->str, r->element[2]->len);
}

/* See redis_priv.h. */
void
rds_sub_send(struct rds_sub *s)
{
	struct rds_conn *c = &s->rds->sub;
	const char *argv[2] = {"SUBSCRIBE", s->channel};

	if (c->ac && !c->kill)
		(void)redisAsyncCommandArgv(c->ac, rds_on_message, s, 2, argv,
					    NULL);
}

/* Connect (from the retry timer): the outcome arrives asynchronously. */
static void
rds_conn_start(struct rds_conn *c)
{
	struct rds *rds = c->rds;
	redisAsyncContext *ac;

	rds->st.connects++;
	c->why[0] = '\0';
	c->fail_status = 0;
	c->kill = false;
	if (rds->port == 0)
		ac = redisAsyncConnectUnix(rds->host);
	else
		ac = redisAsyncConnect(rds->host, rds->port);
	if (ac == NULL || ac->err) {
		snprintf(c->why, sizeof(c->why), "connect: %s",
			 ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		rds_conn_enter(c, RDS_S_CONNECTING);
		rds_conn_lost(c);
		return;
	}
	c->ac = ac;
	rds_conn_enter(c, RDS_S_CONNECTING);
	ac->ev.data = c;
	ac->ev.addRead = rds_ev_add_read;
	ac->ev.delRead = rds_ev_del_read;
	ac->ev.addWrite = rds_ev_add_write;
	ac->ev.delWrite = rds_ev_del_write;
	ac->ev.cleanup = rds_ev_cleanup;
	redisAsyncSetConnectCallback(ac, rds_on_connect);
	if (c->is_sub) {
		for (struct rds_sub *s = rds->subs; s; s = s->next)
			rds_sub_send(s);
		return;
	}
	struct rds_req *q = xcalloc(1, sizeof(*q));
	const char *ping[1] = {"PING"};

	q->kind = RDS_K_PING;
	if (rds_issue_or_free(rds, q, 1, ping, NULL) < 0)
		rds_conn_fail(c, -ECONNRESET, "cannot queue PING");
}

/* See redis_priv.h. */
void
rds_conn_up(struct rds_conn *c)
{
	struct rds *rds = c->rds;

	rds_conn_enter(c, RDS_S_UP);
	c->backoff_ms = 0;
	if (c->is_sub) {
		log_debug("redis: pub/sub connection up");
		return;
	}
	if (!rds->up) {
		if (rds->reported)
			log_info(
			    "redis reachable again after %.1f s",
			    (double)(ring_now(rds->ring) - rds->down_since) /
				1e9);
		else
			log_info("redis: connected to %s", rds->target);
		rds->up = true;
		rds->reported = true;
		if (rds->o.on_up)
			rds->o.on_up(rds->o.cb_arg);
	}
	if (rds->subs && rds->sub.state == RDS_S_DOWN)
		timer_arm(ring_timers(rds->ring), &rds->sub.retry,
			  ring_now(rds->ring));
	rds_flush(rds);
}

static void
rds_on_retry(struct timer *t)
{
	struct rds_conn *c = container_of(t, struct rds_conn, retry);

	if (c->state == RDS_S_DOWN && !c->rds->closing)
		rds_conn_start(c);
}

/* See redis_priv.h. */
void
rds_conn_init(struct rds *rds, struct rds_conn *c, bool is_sub)
{
	memset(c, 0, sizeof(*c));
	c->rds = rds;
	c->is_sub = is_sub;
	c->state = RDS_S_DOWN;
	fdpoll_init(&c->fp, rds->ring, rds_on_poll);
	timer_init(&c->retry, rds_on_retry);
	c->reap.fn = rds_on_reap;
}
