/* SPDX-License-Identifier: MIT */
/*
 * redis.c: hiredis 0.14 async on the ring: requests, replies and the
 * client's life.  With redis_conn.c (the connections), the only files
 * that include hiredis headers (through redis_priv.h).
 *
 * Owns the command deadline timer, the request records (one per command,
 * in reply order), the write-behind batch, the HINCRBY delta table and the
 * script registry.  It must not block, queue without bound, or free a
 * context inside a hiredis callback (redis_conn.c drops contexts from a
 * deferred task).  rds_free() waits until the ring holds nothing of ours.
 */
#include "redis_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char *const rds_reply_type_names[] = {
    [RDS_REPLY_NIL] = "nil",       [RDS_REPLY_STRING] = "string",
    [RDS_REPLY_STATUS] = "status", [RDS_REPLY_INTEGER] = "integer",
    [RDS_REPLY_ARRAY] = "array",   [RDS_REPLY_ERROR] = "error",
};
_Static_assert(nitems(rds_reply_type_names) == RDS_REPLY__COUNT,
	       "rds_reply_type_names out of date");

/* See redis.h. */
const char *
rds_reply_type_str(enum rds_reply_type t)
{
	return (unsigned)t < RDS_REPLY__COUNT ? rds_reply_type_names[t] : "?";
}

static const char *const rds_kind_names[] = {
    [RDS_K_USER] = "command",        [RDS_K_PING] = "PING",
    [RDS_K_BATCH] = "batched write", [RDS_K_DELTA] = "HINCRBY delta",
    [RDS_K_SCRIPT] = "SCRIPT LOAD",  [RDS_K_EVALSHA] = "EVALSHA",
};
_Static_assert(nitems(rds_kind_names) == RDS_K__COUNT,
	       "rds_kind_names out of date");

/* ---- replies -------------------------------------------------------- */

static void
rds_reply_fill(struct rds_reply *out, const redisReply *in)
{
	memset(out, 0, sizeof(*out));
	switch (in->type) {
	case REDIS_REPLY_STRING:
		out->type = RDS_REPLY_STRING;
		break;
	case REDIS_REPLY_STATUS:
		out->type = RDS_REPLY_STATUS;
		break;
	case REDIS_REPLY_ERROR:
		out->type = RDS_REPLY_ERROR;
		break;
	case REDIS_REPLY_INTEGER:
		out->type = RDS_REPLY_INTEGER;
		out->integer = in->integer;
		return;
	case REDIS_REPLY_ARRAY: {
		struct rds_reply *e =
		    xcalloc(in->elements ? in->elements : 1, sizeof(*e));

		out->type = RDS_REPLY_ARRAY;
		for (size_t i = 0; i < in->elements; i++)
			rds_reply_fill(&e[i], in->element[i]);
		out->nelem = in->elements;
		out->elem = e;
		return;
	}
	default:
		out->type = RDS_REPLY_NIL;
		return;
	}
	out->str = in->str;
	out->len = in->len;
}

static void
rds_reply_release(struct rds_reply *r)
{
	if (r->type != RDS_REPLY_ARRAY)
		return;
	for (size_t i = 0; i < r->nelem; i++)
		rds_reply_release((struct rds_reply *)&r->elem[i]);
	free((void *)r->elem);
}

static bool
rds_reply_is(const struct rds_reply *r, enum rds_reply_type t, const char *s)
{
	size_t n = strlen(s);

	return r->type == t && r->len >= n && strncmp(r->str, s, n) == 0;
}

/* ---- requests ------------------------------------------------------- */

static int rds_issue(struct rds *rds, struct rds_req *q, int argc,
		     const char **argv, const size_t *lens);

static void
rds_req_free(struct rds_req *q)
{
	free(q->pack);
	free(q);
}

static int
rds_lost_status(struct rds *rds, const struct rds_req *q)
{
	int fs = rds->cmd.fail_status;

	if (fs == -ETIMEDOUT)
		return q->deadline <= ring_now(rds->ring) ? -ETIMEDOUT
							  : -ECONNRESET;
	return fs != 0 ? fs : -ECONNRESET;
}

/* Retry an EVALSHA after NOSCRIPT: SCRIPT LOAD then EVALSHA, pipelined. */
static bool
rds_noscript_retry(struct rds *rds, struct rds_req *q)
{
	const char *argv[RDS_ARGV_MAX + 3];
	size_t lens[RDS_ARGV_MAX + 3];
	const char *load[3] = {"SCRIPT", "LOAD", NULL};
	struct rds_req *lq;
	int argc;
	char sha[RDS_SHA_LEN];

	rds_unpack(q->pack, &argc, argv, lens);
	memcpy(sha, argv[1], MIN(lens[1], sizeof(sha) - 1));
	sha[MIN(lens[1], sizeof(sha) - 1)] = '\0';
	for (struct rds_script *s = rds->scripts; s; s = s->next) {
		if (strcmp(s->sha, sha) == 0)
			load[2] = s->lua;
	}
	if (load[2] == NULL)
		return false;
	lq = xcalloc(1, sizeof(*lq));
	lq->kind = RDS_K_SCRIPT;
	if (rds_issue(rds, lq, 3, load, NULL) < 0) {
		rds_req_free(lq);
		return false;
	}
	q->retried = true;
	rds->st.noscript_retries++;
	return rds_issue(rds, q, argc, argv, lens) == 0;
}

/* A reply (or NULL: the context is going away) for request q. */
static void
rds_on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct rds_req *q = privdata;
	struct rds *rds = q->rds;
	struct rds_reply rep, *rp = NULL;
	int status = 0;

	(void)ac;
	TAILQ_REMOVE(&rds->pending, q, link);
	rds->npending--;
	/* Nothing outstanding: no deadline to watch (an idle link costs no
	 * wake-up); otherwise the armed timer re-arms for the new head. */
	if (rds->npending == 0 && timer_armed(&rds->deadline_t))
		timer_cancel(ring_timers(rds->ring), &rds->deadline_t);
	if (reply == NULL) {
		status = rds_lost_status(rds, q);
	} else {
		rds_reply_fill(&rep, reply);
		rp = &rep;
		rds->st.replies++;
		if (rep.type == RDS_REPLY_ERROR) {
			rds->st.error_replies++;
			if (q->kind != RDS_K_USER)
				log_debug("redis: %s failed: %.*s",
					  rds_kind_names[q->kind],
					  (int)MIN(rep.len, 200), rep.str);
		}
	}
	switch (q->kind) {
	case RDS_K_PING:
		if (rp && rds_reply_is(rp, RDS_REPLY_STATUS, "PONG"))
			rds_conn_up(&rds->cmd);
		else if (rp)
			rds_conn_fail(&rds->cmd, -ECONNRESET, "handshake: %.*s",
				      (int)MIN(rep.len, 100),
				      rep.str ? rep.str : "unexpected reply");
		break;
	case RDS_K_DELTA:
		if (rp == NULL)
			rds->st.deltas_unknown++;
		else if (rep.type != RDS_REPLY_INTEGER)
			rds->st.deltas_failed++;
		break;
	case RDS_K_EVALSHA:
		if (rp && !q->retried &&
		    rds_reply_is(rp, RDS_REPLY_ERROR, "NOSCRIPT") &&
		    rds_noscript_retry(rds, q)) {
			rds_reply_release(&rep);
			return; /* q is pending again */
		}
		if (q->cb)
			q->cb(q->arg, status, rp);
		break;
	case RDS_K_USER:
		if (q->cb)
			q->cb(q->arg, status, rp);
		break;
	case RDS_K_BATCH:
	case RDS_K_SCRIPT:
	case RDS_K__COUNT:
		break;
	}
	if (rp)
		rds_reply_release(&rep);
	rds_req_free(q);
}

/*
 * Hand q to hiredis on the command connection and track it.  Returns 0,
 * or -ENOTCONN with q still the caller's.
 */
static int
rds_issue(struct rds *rds, struct rds_req *q, int argc, const char **argv,
	  const size_t *lens)
{
	struct rds_conn *c = &rds->cmd;

	if (c->ac == NULL || c->kill ||
	    redisAsyncCommandArgv(c->ac, rds_on_reply, q, argc, argv, lens) !=
		REDIS_OK)
		return -ENOTCONN;
	q->rds = rds;
	q->deadline =
	    ring_now(rds->ring) + (int64_t)rds->o.deadline_ms * RDS_MS;
	TAILQ_INSERT_TAIL(&rds->pending, q, link);
	rds->npending++;
	rds->st.cmds++;
	if (!timer_armed(&rds->deadline_t))
		timer_arm(ring_timers(rds->ring), &rds->deadline_t,
			  q->deadline);
	return 0;
}

/* rds_issue(), freeing q (its callback never called) on failure. */
int
rds_issue_or_free(struct rds *rds, struct rds_req *q, int argc,
		  const char **argv, const size_t *lens)
{
	int rc = rds_issue(rds, q, argc, argv, lens);

	if (rc < 0)
		rds_req_free(q);
	return rc;
}

/* Queue an internal or user command; cb/arg only for USER/EVALSHA. */
static int
rds_send(struct rds *rds, enum rds_kind kind, rds_reply_fn *cb, void *arg,
	 int argc, const char **argv, const size_t *lens)
{
	struct rds_req *q;

	if (argc < 1)
		return -EINVAL;
	if (!rds->up || rds->cmd.state != RDS_S_UP || rds->cmd.kill) {
		rds->st.refused++;
		return -ENOTCONN;
	}
	if (rds->npending >= rds->o.max_inflight)
		return -ENOBUFS;
	q = xcalloc(1, sizeof(*q));
	q->kind = kind;
	q->cb = cb;
	q->arg = arg;
	return rds_issue_or_free(rds, q, argc, argv, lens);
}

/* See redis.h. */
int
rds_cmd(struct rds *rds, rds_reply_fn *cb, void *arg, int argc,
	const char *const *argv, const size_t *argvlen)
{
	return rds_send(rds, RDS_K_USER, cb, arg, argc, (const char **)argv,
			argvlen);
}

/* The head request's deadline: a stalled server resets the connection. */
static void
rds_on_deadline(struct timer *t)
{
	struct rds *rds = container_of(t, struct rds, deadline_t);
	struct rds_req *q = TAILQ_FIRST(&rds->pending);

	if (q == NULL)
		return;
	if (q->deadline > ring_now(rds->ring)) {
		timer_arm(ring_timers(rds->ring), t, q->deadline);
		return;
	}
	rds->st.timeouts++;
	rds_conn_fail(&rds->cmd, -ETIMEDOUT, "no reply within %u ms",
		      rds->o.deadline_ms);
}

/* ---- write-behind batch and deltas ----------------------------------- */

static void
rds_flush_batch(struct rds *rds)
{
	const char *argv[RDS_ARGV_MAX];
	size_t lens[RDS_ARGV_MAX], off = 0;
	int argc;

	while (off < rds->blen) {
		size_t used = rds_unpack(rds->bbuf + off, &argc, argv, lens);

		if (rds_send(rds, RDS_K_BATCH, NULL, NULL, argc, argv, lens) <
		    0)
			break; /* kept for the next flush */
		off += used;
		rds->st.batch_cmds++;
	}
	if (off == 0)
		return;
	rds->st.batch_flushes++;
	memmove(rds->bbuf, rds->bbuf + off, rds->blen - off);
	rds->blen -= off;
}

static void
rds_flush_deltas(struct rds *rds)
{
	char num[24];
	const char *argv[4] = {"HINCRBY", NULL, NULL, num};

	for (unsigned i = 0; i < rds->deltas.cap; i++) {
		struct rds_delta *d = rds->deltas.slot[i];

		if (d == NULL || d->delta == 0)
			continue;
		snprintf(num, sizeof(num), "%" PRId64, d->delta);
		argv[1] = d->kf;
		argv[2] = d->kf + d->klen + 1;
		if (rds_send(rds, RDS_K_DELTA, NULL, NULL, 4, argv, NULL) < 0)
			return; /* the rest stays for the next flush */
		d->delta = 0;
		rds->st.deltas_sent++;
	}
	rds_dtab_clear(&rds->deltas);
}

/* See redis_priv.h. */
void
rds_flush(struct rds *rds)
{
	if (!rds->up || rds->cmd.state != RDS_S_UP)
		return;
	if (rds->blen)
		rds_flush_batch(rds);
	if (rds->deltas.n)
		rds_flush_deltas(rds);
}

static void
rds_on_hook(struct ring_hook *h)
{
	struct rds *rds = container_of(h, struct rds, hook);

	if (rds->o.flush_interval_ms == 0)
		rds_flush(rds);
}

static void
rds_on_flush_timer(struct timer *t)
{
	rds_flush(container_of(t, struct rds, flush_t));
}

static void
rds_flush_later(struct rds *rds)
{
	if (rds->o.flush_interval_ms && !timer_armed(&rds->flush_t))
		timer_arm(ring_timers(rds->ring), &rds->flush_t,
			  ring_now(rds->ring) +
			      (int64_t)rds->o.flush_interval_ms * RDS_MS);
}

/* See redis.h. */
int
rds_batch(struct rds *rds, int argc, const char *const *argv,
	  const size_t *argvlen)
{
	size_t need;

	if (argc < 1 || argc > RDS_ARGV_MAX)
		return -EINVAL;
	need = rds_pack_size(argc, argv, argvlen);
	if (rds->blen + need > rds->o.batch_max_bytes) {
		rds->st.batch_dropped++;
		return -ENOBUFS;
	}
	if (rds->blen + need > rds->bcap) {
		rds->bcap = MAX(rds->bcap * 2, rds->blen + need);
		rds->bbuf = xrealloc(rds->bbuf, rds->bcap);
	}
	rds_pack(rds->bbuf + rds->blen, argc, argv, argvlen);
	rds->blen += need;
	rds_flush_later(rds);
	return 0;
}

/* See redis.h. */
int
rds_hincrby_later(struct rds *rds, const char *key, const char *field,
		  int64_t delta)
{
	int rc = rds_dtab_add(&rds->deltas, key, field, delta);

	if (rc < 0) {
		if (rc != -EINVAL)
			rds->st.deltas_dropped++;
		return rc;
	}
	rds->st.deltas_merged++;
	rds_flush_later(rds);
	return 0;
}

/* See redis.h. */
unsigned
rds_deltas_pending(const struct rds *rds)
{
	return rds->deltas.n;
}

int64_t
rds_delta_get(const struct rds *rds, const char *key, const char *field)
{
	const struct rds_delta *d = rds_dtab_find(&rds->deltas, key, field);

	return d ? d->delta : 0;
}

/* ---- pub/sub and scripts --------------------------------------------- */

/* See redis.h. */
int
rds_subscribe(struct rds *rds, const char *channel, rds_msg_fn *cb, void *arg)
{
	struct rds_sub *s;
	size_t n;

	if (channel == NULL || *channel == '\0' || cb == NULL)
		return -EINVAL;
	for (s = rds->subs; s; s = s->next) {
		if (strcmp(s->channel, channel) == 0)
			return -EEXIST;
	}
	n = strlen(channel);
	s = xmalloc(sizeof(*s) + n + 1);
	memcpy(s->channel, channel, n + 1);
	s->rds = rds;
	s->cb = cb;
	s->arg = arg;
	s->next = rds->subs;
	rds->subs = s;
	if (rds->sub.ac)
		rds_sub_send(s);
	else if (rds->up && rds->sub.state == RDS_S_DOWN &&
		 !timer_armed(&rds->sub.retry))
		timer_arm(ring_timers(rds->ring), &rds->sub.retry,
			  ring_now(rds->ring));
	return 0;
}

static struct rds_script *
rds_script_find(const struct rds *rds, const char *sha)
{
	for (struct rds_script *s = rds->scripts; s; s = s->next) {
		if (strcmp(s->sha, sha) == 0)
			return s;
	}
	return NULL;
}

/* See redis.h. */
int
rds_script_load(struct rds *rds, const char *lua, char *sha_r)
{
	struct rds_script *s;
	size_t n = strlen(lua);
	const char *argv[3] = {"SCRIPT", "LOAD", lua};

	rds_sha1_hex(lua, n, sha_r);
	if (rds_script_find(rds, sha_r) == NULL) {
		s = xmalloc(sizeof(*s) + n + 1);
		memcpy(s->sha, sha_r, RDS_SHA_LEN);
		memcpy(s->lua, lua, n + 1);
		s->next = rds->scripts;
		rds->scripts = s;
	}
	/* best effort: EVALSHA loads it on NOSCRIPT anyway */
	(void)rds_send(rds, RDS_K_SCRIPT, NULL, NULL, 3, argv, NULL);
	return 0;
}

/* See redis.h. */
int
rds_evalsha(struct rds *rds, const char *sha, rds_reply_fn *cb, void *arg,
	    int numkeys, int argc, const char *const *argv,
	    const size_t *argvlen)
{
	const char *av[RDS_ARGV_MAX + 3];
	size_t lens[RDS_ARGV_MAX + 3];
	char nk[16];
	struct rds_req *q;
	int n = argc + 3;

	if (rds_script_find(rds, sha) == NULL)
		return -ENOENT;
	if (argc < 0 || argc > RDS_ARGV_MAX || numkeys < 0 || numkeys > argc)
		return -EINVAL;
	if (!rds->up || rds->cmd.state != RDS_S_UP || rds->cmd.kill) {
		rds->st.refused++;
		return -ENOTCONN;
	}
	if (rds->npending >= rds->o.max_inflight)
		return -ENOBUFS;
	snprintf(nk, sizeof(nk), "%d", numkeys);
	av[0] = "EVALSHA";
	av[1] = sha;
	av[2] = nk;
	for (int i = 0; i < n; i++) {
		if (i >= 3)
			av[i] = argv[i - 3];
		lens[i] = i >= 3 && argvlen ? argvlen[i - 3] : strlen(av[i]);
	}
	q = xcalloc(1, sizeof(*q));
	q->kind = RDS_K_EVALSHA;
	q->cb = cb;
	q->arg = arg;
	q->pack = xmalloc(rds_pack_size(n, av, lens));
	rds_pack(q->pack, n, av, lens);
	return rds_issue_or_free(rds, q, n, av, lens);
}
/* ---- life cycle ------------------------------------------------------ */

static void rds_release(struct rds *rds);

/* See redis.h. */
struct rds *
rds_new(struct ring *r, const struct rds_opts *o, int *err_r)
{
	struct rds *rds = xcalloc(1, sizeof(*rds));
	const char *pfx = o->key_prefix ? o->key_prefix : "";

	rds->ring = r;
	rds->o = *o;
	rds->o.deadline_ms = o->deadline_ms ? o->deadline_ms : 2000;
	rds->o.backoff_min_ms = o->backoff_min_ms ? o->backoff_min_ms : 100;
	rds->o.backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : 5000;
	rds->o.max_inflight = o->max_inflight ? o->max_inflight : 100000;
	rds->o.batch_max_bytes =
	    o->batch_max_bytes ? o->batch_max_bytes : 1u << 20;
	rds->o.max_deltas = o->max_deltas ? o->max_deltas : 65536;
	rds->deltas.max = rds->o.max_deltas;
	rds->prefix = xstrdup(pfx);
	rds->target = xstrdup(o->target ? o->target : "");
	if (rds->o.backoff_max_ms < rds->o.backoff_min_ms ||
	    (*pfx && rds_name_check(pfx) < 0) ||
	    rds_target_parse(rds->target, &rds->host, &rds->port) < 0) {
		*err_r = -EINVAL;
		rds_release(rds);
		return NULL;
	}
	rds->o.target = rds->target;
	rds->o.key_prefix = rds->prefix;
	rds->rng = (uint64_t)ring_now(r) ^ ((uint64_t)getpid() << 32) ^
		   (uint64_t)(uintptr_t)rds;
	if (rds->rng == 0)
		rds->rng = 0x9e3779b97f4a7c15ull;
	TAILQ_INIT(&rds->pending);
	rds_conn_init(rds, &rds->cmd, false);
	rds_conn_init(rds, &rds->sub, true);
	timer_init(&rds->deadline_t, rds_on_deadline);
	timer_init(&rds->flush_t, rds_on_flush_timer);
	rds->hook.fn = rds_on_hook;
	ring_hook_add(r, &rds->hook);
	/* connect from the loop, so every callback runs from the loop */
	timer_arm(ring_timers(r), &rds->cmd.retry, ring_now(r));
	return rds;
}

static void
rds_release(struct rds *rds)
{
	while (rds->subs) {
		struct rds_sub *s = rds->subs;

		rds->subs = s->next;
		free(s);
	}
	while (rds->scripts) {
		struct rds_script *s = rds->scripts;

		rds->scripts = s->next;
		free(s);
	}
	rds_dtab_fini(&rds->deltas);
	free(rds->bbuf);
	free(rds->host);
	free(rds->target);
	free(rds->prefix);
	free(rds);
}

static bool
rds_busy(const struct rds *rds)
{
	return fdpoll_busy(&rds->cmd.fp) || fdpoll_busy(&rds->sub.fp) ||
	       rds->cmd.reap.queued || rds->sub.reap.queued;
}

/* See redis.h. */
void
rds_free(struct rds *rds, int timeout_ms)
{
	struct ring *r;
	int64_t end;

	if (rds == NULL)
		return;
	r = rds->ring;
	rds->closing = true;
	end = ring_now_update(r) + (int64_t)timeout_ms * RDS_MS;
	rds_flush(rds);
	while (rds->npending > 0 && ring_now_update(r) < end &&
	       ring_run_once(r, 10 * RDS_MS) >= 0)
		;
	ring_hook_del(r, &rds->hook);
	timer_cancel(ring_timers(r), &rds->deadline_t);
	timer_cancel(ring_timers(r), &rds->flush_t);
	struct rds_conn *conns[2] = {&rds->sub, &rds->cmd};

	for (int i = 0; i < 2; i++) {
		struct rds_conn *c = conns[i];

		timer_cancel(ring_timers(r), &c->retry);
		rds_conn_enter(c, RDS_S_CLOSING);
		c->fail_status = -ECANCELED;
		if (c->ac)
			redisAsyncFree(c->ac);
	}
	BUG_ON(rds->npending != 0);
	end = ring_now_update(r) + 2000 * RDS_MS;
	while (rds_busy(rds) && ring_now_update(r) < end &&
	       ring_run_once(r, 10 * RDS_MS) >= 0)
		;
	if (rds_busy(rds)) {
		log_err(
		    "redis: ring still holds our polls; leaking the client");
		return;
	}
	rds_release(rds);
}

/* See redis.h. */
bool
rds_is_up(const struct rds *rds)
{
	return rds->up;
}

const struct rds_stats *
rds_stats(const struct rds *rds)
{
	return &rds->st;
}

/* See redis.h. */
const char *
rds_key_prefix(const struct rds *rds)
{
	return rds->prefix;
}
