/* SPDX-License-Identifier: MIT */
/*
 * test_redis: store/redis against a real redis-server on a unix socket in
 * a temporary directory, started and stopped by pid by each test, on a
 * real ring.  Covers replies, 10,000 pipelined INCRs, the write-behind
 * batch as one pipeline, deadlines on a SIGSTOPped server, an outage with
 * deltas accumulated and flushed exactly once, pub/sub re-subscription,
 * the EVALSHA NOSCRIPT fallback, reconnect backoff.  Skips loudly when
 * io_uring is unavailable; a missing redis-server is a failure.  The pure
 * helpers: test_redis_util.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "redis_fixture.h"
#include "redis.h"
#include "redis_int.h"
#include "ring.h"
#include "timer.h"

#define MS 1000000LL

/* ---- per-test context ------------------------------------------------ */

/* A reply copied out of the callback. */
struct res {
	int calls, status;
	enum rds_reply_type type;
	long long integer;
	char str[256];
	size_t len, nelem;
	enum rds_reply_type etype[4];
	long long eint[4];
	char estr[4][32];
	int64_t at; /* ring time of the callback */
	struct ring *r;
};

/* Replies land in *slot, which lives as long as the context: a failed
 * assertion must not leave a pending callback aimed at a dead frame. */
struct tctx {
	struct ring *r;
	struct rfx srv;
	struct rds *rds;
	int ups, downs;
	struct res *slot;
};

static void
t_on_up(void *arg)
{
	((struct tctx *)arg)->ups++;
}

static void
t_on_down(void *arg)
{
	((struct tctx *)arg)->downs++;
}

static int
setup(void **state)
{
	struct tctx *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	t->slot = calloc(4, sizeof(*t->slot));
	assert_non_null(t->slot);
	*state = t;
	t->r = rfx_ring(256, 8192);
	if (t->r == NULL)
		return 0;
	t->srv.aof = true;
	rfx_init(&t->srv, "test-redis");
	rfx_start(&t->srv);
	return 0;
}

static int
teardown(void **state)
{
	struct tctx *t = *state;

	if (t->r)
		rds_free(t->rds, 500);
	rfx_close(t->r, &t->srv, SIGTERM);
	free(t->slot);
	free(t);
	return 0;
}

#define CTX_OR_SKIP(t)                                                         \
	struct tctx *t = *state;                                               \
	if (t->r == NULL)                                                      \
	skip()

#define RUN_UNTIL(t, cond, ms) RFX_RUN_UNTIL((t)->r, cond, ms)

static void
ctx_connect(struct tctx *t, struct rds_opts *o)
{
	int err = 0;

	o->target = t->srv.sock;
	o->on_up = t_on_up;
	o->on_down = t_on_down;
	o->cb_arg = t;
	t->rds = rds_new(t->r, o, &err);
	assert_non_null(t->rds);
	RUN_UNTIL(t, t->ups == 1, 2000);
	assert_true(rds_is_up(t->rds));
}

static void
res_cb(void *arg, int status, const struct rds_reply *rep)
{
	struct res *x = arg;

	x->calls++;
	x->status = status;
	x->at = ring_now_update(x->r);
	if (rep == NULL)
		return;
	x->type = rep->type;
	x->integer = rep->integer;
	x->len = rep->len;
	if (rep->str)
		memcpy(x->str, rep->str, MIN(rep->len, sizeof(x->str)));
	x->nelem = rep->nelem;
	for (size_t i = 0; i < rep->nelem && i < 4; i++) {
		x->etype[i] = rep->elem[i].type;
		x->eint[i] = rep->elem[i].integer;
		if (rep->elem[i].str)
			snprintf(x->estr[i], sizeof(x->estr[i]), "%.*s",
				 (int)rep->elem[i].len, rep->elem[i].str);
	}
}

/* Send a command (NUL-terminated args) and wait for its reply. */
static struct res *
res_new(struct tctx *t, int i)
{
	t->slot[i] = (struct res){.r = t->r};
	return &t->slot[i];
}

static struct res
cmd_sync(struct tctx *t, int argc, const char *const *argv)
{
	struct res *x = res_new(t, 0);

	assert_int_equal(rds_cmd(t->rds, res_cb, x, argc, argv, NULL), 0);
	RUN_UNTIL(t, x->calls == 1, 3000);
	assert_int_equal(x->status, 0);
	return *x;
}

#define CMD(t, ...)                                                            \
	cmd_sync(t, (int)nitems(((const char *[]){__VA_ARGS__})),              \
		 (const char *[]){__VA_ARGS__})

static void
test_new_invalid(void **state)
{
	CTX_OR_SKIP(t);
	struct rds_opts bad[] = {
	    {.target = "nohost:1"},
	    {.target = NULL},
	    {.target = t->srv.sock, .key_prefix = "Bad"},
	    {.target = t->srv.sock, .key_prefix = "a{b}"},
	    {.target = t->srv.sock, .backoff_min_ms = 10, .backoff_max_ms = 5},
	};

	for (size_t i = 0; i < nitems(bad); i++) {
		int err = 0;

		assert_null(rds_new(t->r, &bad[i], &err));
		assert_int_equal(err, -EINVAL);
	}
}

/* ---- against redis-server ---------------------------------------------- */

static void
test_commands_replies(void **state)
{
	CTX_OR_SKIP(t);
	struct rds_opts o = {.key_prefix = "test"};
	struct res x;

	ctx_connect(t, &o);
	assert_string_equal(rds_key_prefix(t->rds), "test");
	x = CMD(t, "SET", "k", "v");
	assert_int_equal(x.type, RDS_REPLY_STATUS);
	assert_memory_equal(x.str, "OK", 2);
	x = CMD(t, "GET", "k");
	assert_int_equal(x.type, RDS_REPLY_STRING);
	assert_int_equal(x.len, 1);
	assert_memory_equal(x.str, "v", 1);
	x = CMD(t, "GET", "missing");
	assert_int_equal(x.type, RDS_REPLY_NIL);
	x = CMD(t, "INCRBY", "n", "41");
	assert_int_equal(x.type, RDS_REPLY_INTEGER);
	assert_int_equal(x.integer, 41);
	x = CMD(t, "HINCRBY", "k", "f", "1"); /* WRONGTYPE */
	assert_int_equal(x.type, RDS_REPLY_ERROR);
	assert_memory_equal(x.str, "WRONGTYPE", 9);
	assert_int_equal(rds_stats(t->rds)->error_replies, 1);
	x = CMD(t, "RPUSH", "l", "a", "b");
	x = CMD(t, "LRANGE", "l", "0", "-1");
	assert_int_equal(x.type, RDS_REPLY_ARRAY);
	assert_int_equal(x.nelem, 2);
	assert_string_equal(x.estr[1], "b");
	/* nested arrays and mixed types through EVAL */
	x = CMD(t, "EVAL", "return {1, 'two', {3}, redis.status_reply('S')}",
		"0");
	assert_int_equal(x.nelem, 4);
	assert_int_equal(x.etype[0], RDS_REPLY_INTEGER);
	assert_int_equal(x.eint[0], 1);
	assert_int_equal(x.etype[1], RDS_REPLY_STRING);
	assert_int_equal(x.etype[2], RDS_REPLY_ARRAY);
	assert_int_equal(x.etype[3], RDS_REPLY_STATUS);
	/* binary-safe argv: NUL, space, CRLF stay inside one argument */
	const char *argv[] = {"SET", "bin", "a b\r\n\0z"};
	size_t lens[] = {3, 3, 7};
	struct res *y = res_new(t, 1);

	assert_int_equal(rds_cmd(t->rds, res_cb, y, 3, argv, lens), 0);
	RUN_UNTIL(t, y->calls == 1, 2000);
	x = CMD(t, "STRLEN", "bin");
	assert_int_equal(x.integer, 7);
	/* fire and forget, then an argc error */
	assert_int_equal(rds_cmd(t->rds, NULL, NULL, 3, argv, lens), 0);
	assert_int_equal(rds_cmd(t->rds, res_cb, y, 0, argv, lens), -EINVAL);
	assert_string_equal(rds_reply_type_str(RDS_REPLY_ARRAY), "array");
}

struct incr {
	int calls, bad;
	long long last;
};

static void
incr_cb(void *arg, int status, const struct rds_reply *rep)
{
	struct incr *c = arg;

	c->calls++;
	if (status != 0 || rep->type != RDS_REPLY_INTEGER ||
	    rep->integer != c->last + 1)
		c->bad++;
	else
		c->last = rep->integer;
}

static void
test_pipelined_10k(void **state)
{
	CTX_OR_SKIP(t);
	struct rds_opts o = {0};
	struct incr c = {0};
	const char *argv[] = {"INCR", "ctr"};
	uint64_t w0;

	ctx_connect(t, &o);
	w0 = rds_stats(t->rds)->write_events;
	for (int i = 0; i < 10000; i++)
		assert_int_equal(rds_cmd(t->rds, incr_cb, &c, 2, argv, NULL),
				 0);
	RUN_UNTIL(t, c.calls == 10000, 5000);
	assert_int_equal(c.bad, 0); /* in order, each exactly once */
	assert_int_equal(c.last, 10000);
	/* one pipeline: a handful of socket writes, not 10,000 */
	assert_true(rds_stats(t->rds)->write_events - w0 <= 8);
	assert_int_equal(CMD(t, "GET", "ctr").len, 5);
}

static void
test_max_inflight(void **state)
{
	CTX_OR_SKIP(t);
	struct rds_opts o = {.max_inflight = 3};
	struct incr c = {0};
	const char *argv[] = {"INCR", "x"};

	ctx_connect(t, &o);
	for (int i = 0; i < 3; i++)
		assert_int_equal(rds_cmd(t->rds, incr_cb, &c, 2, argv, NULL),
				 0);
	assert_int_equal(rds_cmd(t->rds, incr_cb, &c, 2, argv, NULL), -ENOBUFS);
	RUN_UNTIL(t, c.calls == 3, 2000);
	assert_int_equal(rds_cmd(t->rds, incr_cb, &c, 2, argv, NULL), 0);
	RUN_UNTIL(t, c.calls == 4, 2000);
}

static void
test_batch_one_pipeline_per_turn(void **state)
{
	CTX_OR_SKIP(t);
	struct rds_opts o = {0};
	const struct rds_stats *st;
	uint64_t w0, f0;
	char f[16];

	ctx_connect(t, &o);
	st = rds_stats(t->rds);
	rfx_run_for(t->r, 20);
	w0 = st->write_events;
	f0 = st->batch_flushes;
	for (int i = 0; i < 200; i++) {
		const char *argv[] = {"HSET", "h", f, "1"};

		snprintf(f, sizeof(f), "f%d", i);
		assert_int_equal(rds_batch(t->rds, 4, argv, NULL), 0);
	}
	assert_int_equal(st->batch_cmds, 0); /* nothing before the hook */
	assert_true(ring_run_once(t->r, 0) >= 0);
	assert_int_equal(st->batch_flushes - f0, 1);
	assert_int_equal(st->batch_cmds, 200);
	RUN_UNTIL(t, st->write_events > w0, 1000);
	rfx_run_for(t->r, 50);
	assert_int_equal(st->write_events - w0,
			 1); /* one write: one pipeline */
	assert_int_equal(CMD(t, "HLEN", "h").integer, 200);
	/* the bound */
	rds_free(t->rds, 500);
	t->rds = NULL;
	t->ups = 0;
	o = (struct rds_opts){.batch_max_bytes = 64};
	ctx_connect(t, &o);
	const char *big[] = {"SET", "k", "0123456789012345678901234567890"};

	assert_int_equal(rds_batch(t->rds, 3, big, NULL), 0);
	assert_int_equal(rds_batch(t->rds, 3, big, NULL), -ENOBUFS);
	assert_int_equal(rds_stats(t->rds)->batch_dropped, 1);
	assert_int_equal(rds_batch(t->rds, 0, big, NULL), -EINVAL);
}

static void
test_flush_interval(void **state)
{
	CTX_OR_SKIP(t);
	struct rds_opts o = {.flush_interval_ms = 80};
	const struct rds_stats *st;
	int64_t t0;

	ctx_connect(t, &o);
	st = rds_stats(t->rds);
	t0 = ring_now_update(t->r);
	for (int i = 0; i < 50; i++)
		assert_int_equal(rds_hincrby_later(t->rds, "c", "n", 2), 0);
	assert_int_equal(rds_deltas_pending(t->rds), 1);
	assert_int_equal(rds_delta_get(t->rds, "c", "n"), 100);
	rfx_run_for(t->r, 20);
	assert_int_equal(st->deltas_sent, 0); /* coalescing window */
	RUN_UNTIL(t, st->deltas_sent == 1, 1000);
	assert_true(ring_now_update(t->r) - t0 >= 70 * MS);
	assert_int_equal(rds_deltas_pending(t->rds), 0);
	assert_int_equal(CMD(t, "HGET", "c", "n").len, 3);
	assert_memory_equal(CMD(t, "HGET", "c", "n").str, "100", 3);
}

struct ticker {
	struct timer tm;
	struct ring *r;
	int n;
	int64_t last, max_gap; /* the longest time between two ticks */
};

static void
ticker_fn(struct timer *tm)
{
	struct ticker *k = container_of(tm, struct ticker, tm);

	int64_t now = ring_now_update(k->r);

	if (k->n++ > 0 && now - k->last > k->max_gap)
		k->max_gap = now - k->last;
	k->last = now;
	timer_arm(ring_timers(k->r), tm, ring_now(k->r) + 10 * MS);
}

static void
test_deadline_sigstop(void **state)
{
	CTX_OR_SKIP(t);
	struct rds_opts o = {
	    .deadline_ms = 300, .backoff_min_ms = 20, .backoff_max_ms = 100};
	struct res *x = res_new(t, 1), *y = res_new(t, 2);
	const char *argv[] = {"GET", "k"};
	static struct ticker k; /* outlives a failed assertion */
	int64_t t0;

	ctx_connect(t, &o);
	k = (struct ticker){.r = t->r};
	timer_init(&k.tm, ticker_fn);
	timer_arm(ring_timers(t->r), &k.tm, ring_now(t->r) + 10 * MS);
	assert_int_equal(kill(t->srv.pid, SIGSTOP), 0);
	t0 = ring_now_update(t->r);
	assert_int_equal(rds_cmd(t->rds, res_cb, x, 2, argv, NULL), 0);
	rfx_run_for(t->r, 100);
	assert_int_equal(rds_cmd(t->rds, res_cb, y, 2, argv, NULL), 0);
	RUN_UNTIL(t, x->calls == 1 && y->calls == 1, 2000);
	assert_int_equal(x->status, -ETIMEDOUT);
	assert_true(x->at - t0 >= 290 * MS);
	assert_true(x->at - t0 < 1500 * MS);
	/* the later command had not reached its deadline: reset, not timeout */
	assert_int_equal(y->status, -ECONNRESET);
	/*
	 * The loop kept turning: the 10 ms ticker fired all along (about 30
	 * times, gaps of 10-13 ms when idle).  A loop blocked on the stopped
	 * server would show one gap as long as the deadline, or no ticks at
	 * all; the bounds leave room for a loaded machine.
	 */
	if (k.n < 5 || k.max_gap > 250 * MS)
		fail_msg("ticker: %d ticks, longest gap %lld ms", k.n,
			 (long long)(k.max_gap / MS));
	assert_int_equal(t->downs, 1);
	assert_false(rds_is_up(t->rds));
	assert_int_equal(rds_cmd(t->rds, res_cb, x, 2, argv, NULL), -ENOTCONN);
	assert_int_equal(rds_stats(t->rds)->timeouts, 1);
	/* retries against the stopped server time out quietly */
	rfx_run_for(t->r, 800);
	assert_int_equal(t->downs, 1);
	assert_true(rds_stats(t->rds)->connects >= 3);
	kill(t->srv.pid, SIGCONT);
	RUN_UNTIL(t, t->ups == 2, 3000);
	assert_int_equal(CMD(t, "PING").type, RDS_REPLY_STATUS);
	timer_cancel(ring_timers(t->r), &k.tm);
}

/* Count lines containing needle in the file at path. */
static int
count_lines(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

static void
test_outage_deltas_exactly_once(void **state)
{
	CTX_OR_SKIP(t);
	struct rds_opts o = {.backoff_min_ms = 20, .backoff_max_ms = 80};
	const char *argv[] = {"GET", "k"};
	char logp[128];
	int saved, fd;
	struct res x;

	ctx_connect(t, &o);
	assert_int_equal(rds_hincrby_later(t->rds, "dom:a", "sent", 5), 0);
	RUN_UNTIL(t, rds_deltas_pending(t->rds) == 0, 1000);
	x = CMD(t, "HGET", "dom:a", "sent");
	assert_memory_equal(x.str, "5", 1);

	/* capture the operator log during the outage */
	snprintf(logp, sizeof(logp), "%s/ringmta.log", t->srv.dir);
	fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	saved = dup(2);
	dup2(fd, 2);
	close(fd);

	rfx_kill(&t->srv, SIGKILL);
	RUN_UNTIL(t, t->downs == 1, 2000);
	assert_int_equal(rds_cmd(t->rds, NULL, NULL, 2, argv, NULL), -ENOTCONN);
	for (int i = 0; i < 7; i++) {
		assert_int_equal(rds_hincrby_later(t->rds, "dom:a", "sent", 1),
				 0);
		assert_int_equal(rds_hincrby_later(t->rds, "dom:b", "sent", -2),
				 0);
		rfx_run_for(t->r, 30);
	}
	assert_int_equal(rds_deltas_pending(t->rds), 2);
	assert_int_equal(rds_delta_get(t->rds, "dom:a", "sent"), 7);
	assert_int_equal(rds_delta_get(t->rds, "dom:b", "sent"), -14);
	rfx_run_for(t->r,
		    300); /* several failed reconnects: still one on_down */
	assert_int_equal(t->downs, 1);
	assert_true(rds_stats(t->rds)->connects >= 4);

	rfx_start(&t->srv); /* same dir: the AOF brings back "5" */
	RUN_UNTIL(t, t->ups == 2, 3000);
	RUN_UNTIL(t, rds_deltas_pending(t->rds) == 0, 1000);
	rfx_run_for(t->r, 100);
	dup2(saved, 2);
	close(saved);
	x = CMD(t, "HGET", "dom:a", "sent");
	assert_int_equal(x.len, 2);
	assert_memory_equal(x.str, "12", 2);
	x = CMD(t, "HGET", "dom:b", "sent");
	assert_memory_equal(x.str, "-14", 3);
	assert_int_equal(rds_stats(t->rds)->deltas_sent, 3);
	assert_int_equal(rds_stats(t->rds)->outages, 1);
	assert_int_equal(count_lines(logp, "redis unreachable"), 1);
	assert_int_equal(count_lines(logp, "redis reachable again after"), 1);
	/* no second flush: nothing left to send */
	rfx_run_for(t->r, 100);
	x = CMD(t, "HGET", "dom:a", "sent");
	assert_memory_equal(x.str, "12", 2);
}

struct msgs {
	int n;
	char last[64];
	char chan[32];
};

static void
msg_cb(void *arg, const char *channel, const char *payload, size_t len)
{
	struct msgs *m = arg;

	m->n++;
	snprintf(m->last, sizeof(m->last), "%.*s", (int)len, payload);
	snprintf(m->chan, sizeof(m->chan), "%s", channel);
}

/* PUBLISH until someone receives it (the SUBSCRIBE may still be on its way). */
static void
publish_until_heard(struct tctx *t, struct msgs *m, const char *payload)
{
	int before = m->n;

	for (int i = 0; i < 200 && m->n == before; i++) {
		struct res x = CMD(t, "PUBLISH", "events", payload);

		if (x.integer == 0)
			rfx_run_for(t->r, 10);
		else
			RUN_UNTIL(t, m->n > before, 1000);
	}
	assert_true(m->n > before);
	assert_string_equal(m->last, payload);
	assert_string_equal(m->chan, "events");
}

static void
test_pubsub_resubscribe(void **state)
{
	CTX_OR_SKIP(t);
	struct rds_opts o = {.backoff_min_ms = 20, .backoff_max_ms = 80};
	struct msgs m = {0}, m2 = {0};

	ctx_connect(t, &o);
	assert_int_equal(rds_subscribe(t->rds, "events", msg_cb, &m), 0);
	assert_int_equal(rds_subscribe(t->rds, "events", msg_cb, &m), -EEXIST);
	assert_int_equal(rds_subscribe(t->rds, "", msg_cb, &m), -EINVAL);
	publish_until_heard(t, &m, "hello");
	assert_int_equal(m.n, 1);
	/* the pub/sub connection alone is killed: it comes back by itself */
	CMD(t, "CLIENT", "KILL", "TYPE", "pubsub");
	publish_until_heard(t, &m, "again");
	/* the server restarts: re-subscribed after the reconnect */
	rfx_kill(&t->srv, SIGKILL);
	RUN_UNTIL(t, t->downs == 1, 2000);
	rfx_start(&t->srv);
	RUN_UNTIL(t, t->ups == 2, 3000);
	publish_until_heard(t, &m, "back");
	assert_true(m.n >= 3);
	/* a second channel added while up */
	assert_int_equal(rds_subscribe(t->rds, "other", msg_cb, &m2), 0);
	for (int i = 0; i < 200 && m2.n == 0; i++) {
		CMD(t, "PUBLISH", "other", "x");
		rfx_run_for(t->r, 5);
	}
	assert_true(m2.n >= 1);
	assert_true(rds_stats(t->rds)->messages >= 4);
}

static void
test_evalsha_noscript(void **state)
{
	CTX_OR_SKIP(t);
	struct rds_opts o = {0};
	const char *lua = "return {KEYS[1], ARGV[1], 7}";
	char sha[RDS_SHA_LEN];
	const char *argv[] = {"lease:a", "node1"};
	struct res x, *p;

	ctx_connect(t, &o);
	assert_int_equal(rds_script_load(t->rds, lua, sha), 0);
	/* our SHA-1 is the name Redis gives the script */
	x = CMD(t, "SCRIPT", "LOAD", lua);
	assert_int_equal(x.len, 40);
	assert_memory_equal(x.str, sha, 40);
	for (int round = 0; round < 2; round++) {
		p = res_new(t, 1);
		assert_int_equal(
		    rds_evalsha(t->rds, sha, res_cb, p, 1, 2, argv, NULL), 0);
		RUN_UNTIL(t, p->calls == 1, 2000);
		x = *p;
		assert_int_equal(x.status, 0);
		assert_int_equal(x.type, RDS_REPLY_ARRAY);
		assert_string_equal(x.estr[0], "lease:a");
		assert_string_equal(x.estr[1], "node1");
		assert_int_equal(x.eint[2], 7);
		assert_int_equal(rds_stats(t->rds)->noscript_retries,
				 (uint64_t)round);
		CMD(t, "SCRIPT", "FLUSH");
	}
	assert_int_equal(
	    rds_evalsha(t->rds, "0000", res_cb, p, 0, 0, NULL, NULL), -ENOENT);
	assert_int_equal(rds_evalsha(t->rds, sha, res_cb, p, 3, 2, argv, NULL),
			 -EINVAL);
	/* a script error is a reply, not a retry */
	assert_int_equal(
	    rds_script_load(t->rds, "return redis.call('nope')", sha), 0);
	p = res_new(t, 1);
	assert_int_equal(rds_evalsha(t->rds, sha, res_cb, p, 0, 0, NULL, NULL),
			 0);
	RUN_UNTIL(t, p->calls == 1, 2000);
	x = *p;
	assert_int_equal(x.type, RDS_REPLY_ERROR);
	assert_int_equal(rds_stats(t->rds)->noscript_retries, 1);
}

static void
test_down_from_start_fails_fast(void **state)
{
	CTX_OR_SKIP(t);
	struct rds_opts o = {.target = "/nonexistent/redis.sock",
			     .on_up = t_on_up,
			     .on_down = t_on_down,
			     .cb_arg = t,
			     .backoff_min_ms = 10,
			     .backoff_max_ms = 40};
	const char *argv[] = {"SET", "k", "v"};
	int err;

	t->rds = rds_new(t->r, &o, &err);
	assert_non_null(t->rds);
	assert_int_equal(t->downs, 0); /* never from inside rds_new */
	RUN_UNTIL(t, t->downs == 1, 1000);
	rfx_run_for(t->r, 200);
	assert_int_equal(t->downs, 1);
	assert_int_equal(t->ups, 0);
	assert_int_equal(rds_cmd(t->rds, NULL, NULL, 3, argv, NULL), -ENOTCONN);
	assert_int_equal(rds_batch(t->rds, 3, argv, NULL), 0); /* kept */
	assert_int_equal(rds_stats(t->rds)->batch_cmds, 0);
	assert_true(rds_stats(t->rds)->refused >= 1);
	assert_int_equal(rds_stats(t->rds)->outages, 0); /* never was up */
}

/*
 * Reconnect backoff: attempts against a dead server double from
 * backoff_min_ms to backoff_max_ms (each wait in [half, full]); after an
 * up the step starts again from the minimum.
 */
static void
test_reconnect_backoff(void **state)
{
	CTX_OR_SKIP(t);
	struct rds_opts o = {.backoff_min_ms = 20, .backoff_max_ms = 80};
	uint64_t n0, n1, n2;

	ctx_connect(t, &o);
	n0 = rds_stats(t->rds)->connects;
	rfx_kill(&t->srv, SIGKILL);
	RUN_UNTIL(t, t->downs == 1, 2000);
	/* waits 10-20, 20-40, then 40-80 ms: 13-27 attempts in a second;
	 * without doubling (a fixed 10-20 ms) it would be 50 or more */
	rfx_run_for(t->r, 1000);
	n1 = rds_stats(t->rds)->connects - n0;
	assert_true(n1 >= 10 && n1 <= 30);
	/* at the cap: 40-80 ms a wait, 12-25 in a second, never fewer */
	rfx_run_for(t->r, 1000);
	n2 = rds_stats(t->rds)->connects - n0 - n1;
	assert_true(n2 >= 11 && n2 <= 26);
	rfx_start(&t->srv);
	RUN_UNTIL(t, t->ups == 2, 1000); /* within one capped wait */
	assert_int_equal(t->downs, 1);   /* one outage, one down */
}

static void
test_free_with_pending(void **state)
{
	CTX_OR_SKIP(t);
	struct rds_opts o = {.deadline_ms = 5000};
	struct res *x = res_new(t, 1);
	const char *argv[] = {"GET", "k"};

	ctx_connect(t, &o);
	assert_int_equal(kill(t->srv.pid, SIGSTOP), 0);
	assert_int_equal(rds_cmd(t->rds, res_cb, x, 2, argv, NULL), 0);
	rds_free(t->rds, 100);
	t->rds = NULL;
	assert_int_equal(x->calls, 1);
	assert_int_equal(x->status, -ECANCELED);
	assert_int_equal(ring_inflight(t->r), 0);
	kill(t->srv.pid, SIGCONT);
}

/* The deadline timer is armed only while a command waits for its reply:
 * none after the handshake's PONG, one per pipeline in flight, none again
 * once the last reply is in (an idle connection wakes nothing). */
static void
test_deadline_disarmed_when_idle(void **state)
{
	CTX_OR_SKIP(t);
	struct rds_opts o = {.deadline_ms = 300};
	struct timer_heap *h = ring_timers(t->r);
	struct res *x = res_new(t, 1), *y = res_new(t, 2);
	const char *get[] = {"GET", "k"};
	int64_t end;
	unsigned n0;

	ctx_connect(t, &o);
	n0 = timer_heap_count(h);
	assert_int_equal(rds_cmd(t->rds, res_cb, x, 2, get, NULL), 0);
	assert_int_equal(timer_heap_count(h), n0 + 1);
	assert_int_equal(rds_cmd(t->rds, res_cb, y, 2, get, NULL), 0);
	assert_int_equal(timer_heap_count(h), n0 + 1); /* one for both */
	RUN_UNTIL(t, x->calls == 1 && y->calls == 1, 2000);
	assert_int_equal(timer_heap_count(h), n0);
	(void)CMD(t, "PING");
	assert_int_equal(timer_heap_count(h), n0);
	/* Idle past the deadline: no timeout, nothing fired for nothing. */
	end = ring_now_update(t->r) + 400 * MS;
	while (ring_now_update(t->r) < end)
		assert_true(ring_run_once(t->r, 5 * MS) >= 0);
	assert_int_equal(rds_stats(t->rds)->timeouts, 0);
	assert_int_equal(t->downs, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	    T(test_new_invalid),
	    T(test_commands_replies),
	    T(test_pipelined_10k),
	    T(test_max_inflight),
	    T(test_batch_one_pipeline_per_turn),
	    T(test_flush_interval),
	    T(test_deadline_sigstop),
	    T(test_deadline_disarmed_when_idle),
	    T(test_outage_deltas_exactly_once),
	    T(test_pubsub_resubscribe),
	    T(test_evalsha_noscript),
	    T(test_down_from_start_fails_fast),
	    T(test_free_with_pending),
	    T(test_reconnect_backoff),
#undef T
	};

	signal(SIGPIPE, SIG_IGN);
	log_init("test_redis");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
