/* SPDX-License-Identifier: MIT */
/*
 * test_rstate: the Redis state publisher.  Pure parts table-driven
 * (control messages, node names); the rest against a real redis-server
 * (store/redis_server) in a temporary state directory: the keys and
 * fields of a round, only changed gauges re-sent, counters as deltas,
 * replays not counted, suspend/resume over PREFIX:ctl, reconciliation
 * with PREFIX:suspended when Redis comes up.  redis-server must be
 * installed; io_uring unavailable skips the Redis cases loudly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "binding.h"
#include "config.h"
#include "domain.h"
#include "log.h"
#include "redis.h"
#include "rstate_fixture.h"
#include "redis_server.h"
#include "ring.h"
#include "rstate.h"
#include "rstate_int.h"

#define MS 1000000LL

/* ---- pure ------------------------------------------------------------ */

#define RQ  "0123456789abcdef"
#define MID "00112233445566778899aabbccddeeff"

static void
test_ctl_parse(void **state)
{
	static const struct {
		const char *msg;
		int rc;
		enum rstate_ctl op;
		const char *reqid, *arg;
		bool quiet;
	} tab[] = {
	    {"suspend example.com", 0, RSTATE_CTL_SUSPEND, "", "example.com",
	     false},
	    {"resume example.com", 0, RSTATE_CTL_RESUME, "", "example.com",
	     false},
	    {"suspend a-b.c_d.9", 0, RSTATE_CTL_SUSPEND, "", "a-b.c_d.9",
	     false},
	    {"override example.com", 0, RSTATE_CTL_OVERRIDE, "", "example.com",
	     false},
	    {"queue " RQ, 0, RSTATE_CTL_QUEUE, RQ, "", false},
	    {"queue " RQ " example.com", 0, RSTATE_CTL_QUEUE, RQ, "example.com",
	     false},
	    {"message " RQ " " MID, 0, RSTATE_CTL_MESSAGE, RQ, MID, false},
	    {"flush " RQ " all", 0, RSTATE_CTL_FLUSH, RQ, "all", false},
	    {"flush " RQ " a.example", 0, RSTATE_CTL_FLUSH, RQ, "a.example",
	     false},
	    {"fail " RQ " a.example", 0, RSTATE_CTL_FAIL, RQ, "a.example",
	     false},
	    {"fail " RQ " a.example quiet", 0, RSTATE_CTL_FAIL, RQ, "a.example",
	     true},
	    {"retry " RQ " " MID, 0, RSTATE_CTL_RETRY, RQ, MID, false},
	    {"delete " RQ " " MID, 0, RSTATE_CTL_DELETE, RQ, MID, false},
	    {"domain " RQ " a.example", 0, RSTATE_CTL_DOMAIN, RQ, "a.example",
	     false},
	    {"domain " RQ, -EINVAL, 0, NULL, NULL, false},
	    {"domain " RQ " a.example quiet", -EINVAL, 0, NULL, NULL, false},
	    {"domain " RQ " A.example", -EINVAL, 0, NULL, NULL, false},
	    {"domain " RQ " " MID "x*", -EINVAL, 0, NULL, NULL, false},
	    {"suspend ", -EINVAL, 0, NULL, NULL, false},
	    {"suspend", -EINVAL, 0, NULL, NULL, false},
	    {"suspendexample.com", -EINVAL, 0, NULL, NULL, false},
	    {"suspend  example.com", -EINVAL, 0, NULL, NULL, false},
	    {"suspend Example.com", -EINVAL, 0, NULL, NULL, false},
	    {"suspend a:b", -EINVAL, 0, NULL, NULL, false},
	    {"suspend a*", -EINVAL, 0, NULL, NULL, false},
	    {"suspend a b", -EINVAL, 0, NULL, NULL, false},
	    {"suspend a.example quiet", -EINVAL, 0, NULL, NULL, false},
	    {"pause example.com", -EINVAL, 0, NULL, NULL, false},
	    {"", -EINVAL, 0, NULL, NULL, false},
	    {"queue", -EINVAL, 0, NULL, NULL, false},
	    {"queue 0123456789ABCDEF", -EINVAL, 0, NULL, NULL, false},
	    {"queue 0123456789abcde", -EINVAL, 0, NULL, NULL, false},
	    {"queue " RQ " a.example extra", -EINVAL, 0, NULL, NULL, false},
	    {"message " RQ, -EINVAL, 0, NULL, NULL, false},
	    {"message " RQ " 0011", -EINVAL, 0, NULL, NULL, false},
	    {"message " RQ " " MID "0", -EINVAL, 0, NULL, NULL, false},
	    {"retry " RQ " a.example", -EINVAL, 0, NULL, NULL, false},
	    {"fail " RQ " a.example loud", -EINVAL, 0, NULL, NULL, false},
	    {"fail " RQ " a{b}", -EINVAL, 0, NULL, NULL, false},
	    {"flush " RQ " a.example ", -EINVAL, 0, NULL, NULL, false},
	    {"flush " RQ " a b c d", -EINVAL, 0, NULL, NULL, false},
	};
	struct rstate_ctl_msg m;
	char longmsg[DOM_NAME_MAX + 16], buf[400];

	(void)state;
	for (size_t i = 0; i < nitems(tab); i++) {
		int rc = rstate_ctl_parse(tab[i].msg, strlen(tab[i].msg), &m);

		assert_int_equal(rc, tab[i].rc);
		if (rc != 0)
			continue;
		assert_int_equal(m.op, tab[i].op);
		assert_string_equal(m.reqid, tab[i].reqid);
		assert_string_equal(m.arg, tab[i].arg);
		assert_int_equal(m.quiet, tab[i].quiet);
		assert_int_equal(rstate_ctl_is_request(m.op), m.reqid[0] != 0);
		/* format gives back the same payload */
		assert_int_equal(rstate_ctl_format(&m, buf, sizeof(buf)),
				 (int)strlen(tab[i].msg));
		assert_string_equal(buf, tab[i].msg);
	}
	assert_int_equal(rstate_ctl_format(&m, buf, 4), -ENOSPC);
	/* an embedded NUL, a name one byte too long */
	assert_int_equal(rstate_ctl_parse("resume a\0b", 10, &m), -EINVAL);
	memcpy(longmsg, "resume ", 7);
	memset(longmsg + 7, 'a', DOM_NAME_MAX + 1);
	assert_int_equal(rstate_ctl_parse(longmsg, 7 + DOM_NAME_MAX + 1, &m),
			 -EINVAL);
	assert_int_equal(rstate_ctl_parse(longmsg, 7 + DOM_NAME_MAX, &m), 0);
	assert_string_equal(rstate_ctl_str(RSTATE_CTL_RESUME), "resume");
	assert_string_equal(rstate_ctl_str(RSTATE_CTL__COUNT), "?");
}

static void
test_records(void **state)
{
	struct rstate_out o = {0};
	struct rstate_rec r;
	char *p;

	(void)state;
	rstate_out_kv(&o, "node", "n1");
	rstate_out_kv(&o, "text", "a\tb\nc\rd\x01");
	rstate_out_end(&o);
	rstate_out_kvf(&o, "count", "%d", 42);
	rstate_out_kv(&o, "empty", "");
	rstate_out_end(&o);
	assert_string_equal(o.buf,
			    "node=n1\ttext=a b c d \ncount=42\tempty=\n");
	p = o.buf;
	assert_int_equal(rstate_rec_next(&p, &r), 1);
	assert_int_equal(r.n, 2);
	assert_string_equal(rstate_rec_get(&r, "node"), "n1");
	assert_string_equal(rstate_rec_get(&r, "text"), "a b c d ");
	assert_string_equal(rstate_rec_get(&r, "none"), "");
	assert_int_equal(rstate_rec_next(&p, &r), 1);
	assert_string_equal(rstate_rec_get(&r, "count"), "42");
	assert_int_equal(r.n, 2);
	assert_int_equal(rstate_rec_next(&p, &r), 0);
	assert_int_equal(rstate_rec_next(&p, &r), 0);
	rstate_out_fini(&o);
	assert_null(o.buf);
	/* fields without '=' are dropped; a value may hold '=' */
	{
		char buf[] = "junk\ta=b=c\n\nx=1";

		p = buf;
		assert_int_equal(rstate_rec_next(&p, &r), 1);
		assert_int_equal(r.n, 1);
		assert_string_equal(rstate_rec_get(&r, "a"), "b=c");
		assert_int_equal(rstate_rec_next(&p, &r), 1);
		assert_string_equal(rstate_rec_get(&r, "x"), "1");
		assert_int_equal(rstate_rec_next(&p, &r), 0);
	}
}

static void
test_node_name(void **state)
{
	static const struct {
		const char *in, *out;
	} tab[] = {
	    {"mx1.example.net", "mx1.example.net"},
	    {"Node-A", "node-a"},
	    {"a b:c{d}*", "a-b-c-d--"},
	    {"", "node"},
	    {NULL, "node"},
	};
	char out[RSTATE_NODE_MAX + 1], big[200];

	(void)state;
	for (size_t i = 0; i < nitems(tab); i++) {
		rstate_node_name(tab[i].in, out);
		assert_string_equal(out, tab[i].out);
	}
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	rstate_node_name(big, out);
	assert_int_equal(strlen(out), RSTATE_NODE_MAX);
}

/* ---- against redis-server --------------------------------------------- */

struct tctx {
	struct rsfx x;
	struct ring *r;         /* x.r */
	struct rds *rds;        /* x.rds */
	struct dom_table *doms; /* &x.doms */
	struct rstate *rs;      /* x.rs */
	unsigned resumed;
};

static void
t_resumed(domain_record *dr, void *arg)
{
	(void)dr;
	((struct tctx *)arg)->resumed++;
}

static void
t_req(const struct rstate_ctl_msg *m, void *arg)
{
	struct tctx *t = arg;

	snprintf(t->x.rep.str, sizeof(t->x.rep.str), "%s %s %.60s",
		 rstate_ctl_str(m->op), m->reqid, m->arg);
	t->x.rep.done = true;
}

static void
t_ovr(domain_record *dr, const char *text, void *arg)
{
	struct tctx *t = arg;

	snprintf(t->x.rep.elems[31], sizeof(t->x.rep.elems[31]), "%.20s=%.100s",
		 dr->name, text ? text : "(none)");
	t->resumed += 100;
}

static int
setup(void **state)
{
	struct tctx *t = rsfx_setup(state, sizeof(*t), "test-rstate", "rt");

	if (t == NULL)
		return 0;
	t->r = t->x.r;
	t->rds = t->x.rds;
	t->doms = &t->x.doms;
	assert_int_equal(
	    rstate_new(&(struct rstate_opts){.rds = t->rds,
					     .doms = t->doms,
					     .bnds = &t->x.bnds,
					     .node_id = "Test-1",
					     .version = "9.9",
					     .on_resume = t_resumed,
					     .on_request = t_req,
					     .on_override = t_ovr,
					     .cb_arg = t},
		       &t->rs),
	    0);
	t->x.rs = t->rs;
	return 0;
}

#define CTX_OR_SKIP(t) RSFX_CTX(t)

static void
t_cmd(struct tctx *t, int argc, const char *const *argv)
{
	rsfx_cmd(&t->x, argc, argv);
}

static const char *
t_hget(struct tctx *t, const char *key, const char *field)
{
	return rsfx_hget(&t->x, key, field);
}

static domain_record *
t_domain(struct tctx *t, const char *name, unsigned nunits)
{
	domain_record *dr = dom_get(t->doms, name);
	uint8_t id[DOM_ID_LEN] = {1};

	for (unsigned i = 0; i < nunits; i++) {
		struct dom_unit *u = dom_unit_new(id, 1);

		u->bslot = 0;
		dom_active_push(t->doms, dr, u);
		dr->received++;
	}
	return dr;
}

static void
test_publish_keys(void **state)
{
	CTX_OR_SKIP(t);
	domain_record *dr = t_domain(t, "example.com", 2);

	dr->deliveries = 5;
	dr->nconn = 1;
	snprintf(dr->last_error, sizeof(dr->last_error),
		 "450 4.7.1 try again later");
	assert_true(rstate_publish(t->rs, 1700000000000LL) > 0);
	assert_string_equal(t_hget(t, "rt:domain:example.com", "active"), "2");
	assert_string_equal(t_hget(t, "rt:domain:example.com", "connections"),
			    "1");
	assert_string_equal(t_hget(t, "rt:domain:example.com", "received"),
			    "2");
	assert_string_equal(t_hget(t, "rt:domain:example.com", "deliveries"),
			    "5");
	assert_string_equal(t_hget(t, "rt:domain:example.com", "last_code"),
			    "450");
	assert_string_equal(t_hget(t, "rt:domain:example.com", "last_text"),
			    "450 4.7.1 try again later");
	assert_string_equal(t_hget(t, "rt:domain:example.com", "last_time"),
			    "1700000000000");
	assert_string_equal(t_hget(t, "rt:domain:example.com", "suspended"),
			    "0");
	assert_string_equal(t_hget(t, "rt:domain:example.com", "mx_state"),
			    "none");
	assert_string_equal(t_hget(t, "rt:stats", "deliveries"), "5");
	assert_string_equal(t_hget(t, "rt:node:test-1", "version"), "9.9");
	assert_string_equal(t_hget(t, "rt:node:test-1", "heartbeat"),
			    "1700000000000");
	assert_string_equal(t_hget(t, "rt:node:test-1", "queued"), "2");
	assert_string_equal(t_hget(t, "rt:binding:default", "suspended"), "0");
	t_cmd(t, 2, (const char *const[]){"TTL", "rt:node:test-1"});
	assert_true(t->x.rep.integer > 0 &&
		    t->x.rep.integer <= RSTATE_NODE_TTL_S);
	t_cmd(t, 2, (const char *const[]){"TTL", "rt:domain:example.com"});
	assert_int_equal(t->x.rep.integer, -1);
	t_cmd(t, 2, (const char *const[]){"SMEMBERS", "rt:domains"});
	assert_int_equal(t->x.rep.nelem, 1);
	assert_string_equal(t->x.rep.elems[0], "example.com");
	t_cmd(t, 2, (const char *const[]){"SMEMBERS", "rt:nodes"});
	assert_int_equal(t->x.rep.nelem, 1);
	assert_string_equal(t->x.rep.elems[0], "test-1");
}

static void
test_only_changes(void **state)
{
	CTX_OR_SKIP(t);
	domain_record *dr = t_domain(t, "example.com", 1);
	int first, quiet;

	t_domain(t, "example.net", 1);
	first = rstate_publish(t->rs, 1000);
	/* nothing changed: nothing at all before the heartbeat is due */
	assert_int_equal(rstate_publish(t->rs, 2000), 0);
	/* then only the node's HSET, EXPIRE and SADD */
	quiet = rstate_publish(t->rs, 1000 + RSTATE_BEAT_MS);
	assert_int_equal(quiet, 3);
	assert_true(first > quiet + 4);
	/* one gauge and one counter of one domain: HSET x2 and a delta */
	dr->nconn = 3;
	dr->failures = 2;
	dom_dirty(dr);
	assert_int_equal(rstate_publish(t->rs, 3000), 3 + 2 + 1);
	assert_string_equal(t_hget(t, "rt:domain:example.com", "connections"),
			    "3");
	assert_string_equal(t_hget(t, "rt:domain:example.com", "updated"),
			    "3000");
	assert_string_equal(t_hget(t, "rt:domain:example.net", "updated"),
			    "1000");
	/* counters add up across rounds, as deltas */
	dr->failures = 7;
	dom_dirty(dr);
	rstate_publish(t->rs, 4000);
	assert_string_equal(t_hget(t, "rt:domain:example.com", "failures"),
			    "7");
	assert_string_equal(t_hget(t, "rt:stats", "failures"), "7");
	/* a name that is not a key part is skipped, never sent */
	dom_dirty(dom_get(t->doms, "UPPER.example"));
	rstate_publish(t->rs, 5000);
	t_cmd(t, 2, (const char *const[]){"SCARD", "rt:domains"});
	assert_int_equal(t->x.rep.integer, 2);
}

static void
test_replay_not_counted(void **state)
{
	CTX_OR_SKIP(t);

	/* a restart: Redis already counted these two units */
	t_cmd(t, 4,
	      (const char *const[]){"HSET", "rt:domain:example.org", "received",
				    "2"});
	t_domain(t, "example.org", 2);
	rstate_replayed(t->rs);
	t_domain(t, "example.org", 1); /* newly received */
	rstate_publish(t->rs, 1000);
	assert_string_equal(t_hget(t, "rt:domain:example.org", "received"),
			    "3");
	assert_string_equal(t_hget(t, "rt:domain:example.org", "active"), "3");
}

static void
t_publish(struct tctx *t, const char *msg)
{
	t_cmd(t, 3, (const char *const[]){"PUBLISH", "rt:ctl", msg});
	assert_int_equal(t->x.rep.integer, 1);
}

static void
test_ctl_channel(void **state)
{
	CTX_OR_SKIP(t);
	domain_record *dr;

	/* the subscription is made on the first turns */
	for (int i = 0; i < 100; i++) {
		t_cmd(t, 3,
		      (const char *const[]){"PUBSUB", "NUMSUB", "rt:ctl"});
		if (strcmp(t->x.rep.elems[1], "1") == 0)
			break;
		assert_true(ring_run_once(t->r, 10 * MS) >= 0);
	}
	t_publish(t, "suspend example.com");
	dr = dom_find(t->doms, "example.com");
	for (int i = 0; i < 200 && (dr == NULL || !dr->suspended); i++) {
		assert_true(ring_run_once(t->r, 5 * MS) >= 0);
		dr = dom_find(t->doms, "example.com");
	}
	assert_non_null(dr);
	assert_true(dr->suspended);
	rstate_publish(t->rs, 1000);
	assert_string_equal(t_hget(t, "rt:domain:example.com", "suspended"),
			    "1");
	/* garbage is ignored */
	t_publish(t, "suspend Bad*Name");
	t_publish(t, "resume example.com");
	for (int i = 0; i < 200 && dr->suspended; i++)
		assert_true(ring_run_once(t->r, 5 * MS) >= 0);
	assert_false(dr->suspended);
	assert_int_equal(t->resumed, 1);
	assert_null(dom_find(t->doms, "bad*name"));
	/* resuming an unknown domain creates nothing */
	assert_int_equal(rstate_ctl_apply(t->rs, "resume nx.example", 17), 0);
	assert_null(dom_find(t->doms, "nx.example"));
	assert_int_equal(rstate_ctl_apply(t->rs, "stop x", 6), -EINVAL);
}

static void
test_reconcile_on_up(void **state)
{
	CTX_OR_SKIP(t);
	domain_record *stale = dom_get(t->doms, "stale.example");
	bool ready;

	/* rstate_new saw Redis up: the first read has been sent */
	ready = rstate_ready(t->rs);
	for (int i = 0; i < 400 && !ready; i++) {
		assert_true(ring_run_once(t->r, 5 * MS) >= 0);
		ready = rstate_ready(t->rs);
	}
	assert_true(ready);
	stale->suspended = true; /* resumed while we were away */
	t_cmd(t, 4,
	      (const char *const[]){"SADD", "rt:suspended", "a.example",
				    "b.example"});
	rstate_on_up(t->rs);
	for (int i = 0; i < 400 && stale->suspended; i++)
		assert_true(ring_run_once(t->r, 5 * MS) >= 0);
	assert_false(stale->suspended);
	assert_int_equal(t->resumed, 1);
	assert_non_null(dom_find(t->doms, "a.example"));
	assert_true(dom_find(t->doms, "a.example")->suspended);
	assert_true(dom_find(t->doms, "b.example")->suspended);
}

/* Run turns until the HGET of key field gives want (or 2 s). */
static void
t_wait_field(struct tctx *t, const char *key, const char *field,
	     const char *want)
{
	for (int i = 0; i < 200 && strcmp(t_hget(t, key, field), want) != 0;
	     i++)
		assert_true(ring_run_once(t->r, 5 * MS) >= 0);
	assert_string_equal(t_hget(t, key, field), want);
}

/* One publication round, then a few loop turns for its replies. */
static void
t_round(struct tctx *t, int64_t now_ms)
{
	rstate_publish(t->rs, now_ms);
	for (int i = 0; i < 20; i++)
		assert_true(ring_run_once(t->r, 2 * MS) >= 0);
}

static void
test_data_loss(void **state)
{
	CTX_OR_SKIP(t);
	domain_record *dr = t_domain(t, "example.com", 3);

	rstate_replayed(t->rs); /* those 3 are replays: never counted */
	t_domain(t, "example.com", 1);
	dr->deliveries = 7;
	rstate_publish(t->rs, 1000);
	t_wait_field(t, "rt:stats", "deliveries", "7");
	assert_string_equal(t_hget(t, "rt:domain:example.com", "received"),
			    "1");
	/* FLUSHALL while connected: the next round sees it and re-sends */
	t_cmd(t, 1, (const char *const[]){"FLUSHALL"});
	dr->deliveries = 9;
	dom_dirty(dr);
	t_round(t, 2000); /* the check goes before this round's writes */
	t_round(t, 3000); /* ... and this one re-sends */
	t_wait_field(t, "rt:stats", "deliveries", "9");
	t_wait_field(t, "rt:domain:example.com", "deliveries", "9");
	assert_string_equal(t_hget(t, "rt:domain:example.com", "received"),
			    "1");
	assert_string_equal(t_hget(t, "rt:domain:example.com", "active"), "4");
	/* no loss: nothing is sent twice */
	t_round(t, 4000 + RSTATE_BEAT_MS);
	t_round(t, 5000 + 2 * RSTATE_BEAT_MS);
	assert_string_equal(t_hget(t, "rt:stats", "deliveries"), "9");
	/* a reconnect to an emptied Redis (on_up) re-sends too */
	t_cmd(t, 1, (const char *const[]){"FLUSHALL"});
	rstate_on_up(t->rs);
	t_round(t, 6000 + 2 * RSTATE_BEAT_MS);
	t_round(t, 7000 + 3 * RSTATE_BEAT_MS);
	t_wait_field(t, "rt:stats", "deliveries", "9");
	t_wait_field(t, "rt:stats", "received", "1");
}

/* The k-th heartbeat after a round at 1000 ms. */
#define T_BEAT(k) (1000 + (k) * (int64_t)RSTATE_BEAT_MS)

/* The snapshot of what reached Redis (for a data loss) is taken only when
 * a counter moved or a delta was pending: idle rounds skip it, and the
 * one they kept still re-sends everything after a FLUSHALL. */
static void
test_idle_snapshot(void **state)
{
	CTX_OR_SKIP(t);
	domain_record *dr = t_domain(t, "example.com", 0);
	struct rst_dom *s;

	dr->deliveries = 5;
	dom_dirty(dr);
	rstate_publish(t->rs, 1000);
	assert_false(t->rs->sent_fresh); /* a delta queued this round */
	t_wait_field(t, "rt:stats", "deliveries", "5");
	t_round(t, T_BEAT(1)); /* snapshot with nothing pending: exact */
	assert_true(t->rs->sent_fresh);
	s = rst_dom_get(t->rs, dr);
	assert_int_equal(s->sent[RST_DELIVERIES], 5);
	/* idle: no new pair queued, the snapshot is kept as it is */
	s->sent[RST_DELIVERIES] = 4; /* a walk would write 5 back */
	t_round(t, T_BEAT(2));
	assert_int_equal(rds_deltas_pending(t->rds), 0);
	assert_true(t->rs->sent_fresh);
	assert_int_equal(s->sent[RST_DELIVERIES], 4);
	s->sent[RST_DELIVERIES] = 5;
	/* a delta pending at the snapshot keeps the next one from skipping
	 * (a pair queued outside rst_delta, the snapshot made due by hand) */
	assert_int_equal(t->rs->nunsettled, 0);
	assert_int_equal(
	    rds_hincrby_later(t->rds, "rt:domain:example.com", "attempts", 1),
	    0);
	rst_unsettled_add(t->rs, s); /* as rst_pub_dom does */
	rst_unsettled_add(t->rs, s); /* listed once */
	assert_int_equal(t->rs->nunsettled, 1);
	t->rs->sent_fresh = false;
	rstate_publish(t->rs, T_BEAT(3));
	assert_false(t->rs->sent_fresh);
	assert_int_equal(s->sent[RST_ATTEMPTS], UINT64_MAX); /* 0 - 1 */
	assert_int_equal(t->rs->nunsettled, 1); /* still pending: kept */
	for (int i = 0; i < 20; i++)
		assert_true(ring_run_once(t->r, 2 * MS) >= 0);
	t_round(t, T_BEAT(4)); /* flushed since: taken again */
	assert_true(t->rs->sent_fresh);
	assert_int_equal(s->sent[RST_ATTEMPTS], 0);
	assert_int_equal(t->rs->nunsettled, 0);
	assert_false(s->unsettled);
	/* the kept snapshot re-sends what Redis lost */
	t_cmd(t, 1, (const char *const[]){"FLUSHALL"});
	t_round(t, T_BEAT(5)); /* the check sees the loss */
	assert_false(t->rs->sent_fresh);
	t_round(t, T_BEAT(6)); /* ... this round re-sends */
	t_wait_field(t, "rt:stats", "deliveries", "5");
	t_wait_field(t, "rt:domain:example.com", "deliveries", "5");
}

/*
 * The snapshot visits only the records with a delta since the last one
 * (rstate.unsettled): every such record, across a rehash of the snapshot
 * table, must get its sent[] right, or a FLUSHALL re-sends too little.
 */
static void
test_unsettled_only(void **state)
{
	enum {
		ND = 40 /* the snapshot table (64 slots) grows past 32 */
	};
	CTX_OR_SKIP(t);
	domain_record *dr[ND];
	char name[32], key[64], want[24];

	for (int i = 0; i < ND; i++) {
		snprintf(name, sizeof(name), "d%d.example", i);
		dr[i] = t_domain(t, name, 0);
		dr[i]->deliveries = (uint64_t)i + 1;
		dom_dirty(dr[i]);
	}
	t_round(t, 1000);
	assert_int_equal(t->rs->nunsettled, ND);
	t_round(t, T_BEAT(1)); /* the heartbeat, nothing pending: settled */
	assert_int_equal(t->rs->nunsettled, 0);
	/* only the odd ones move: only they are listed */
	for (int i = 1; i < ND; i += 2) {
		dr[i]->deliveries += 10;
		dom_dirty(dr[i]);
	}
	t_round(t, T_BEAT(1) + 1000);
	assert_int_equal(t->rs->nunsettled, ND / 2);
	for (int i = 0; i < ND; i++)
		assert_int_equal(rst_dom_get(t->rs, dr[i])->unsettled, i % 2);
	t_round(t, T_BEAT(2) + 1000); /* the listed ones, each exact */
	assert_int_equal(t->rs->nunsettled, 0);
	for (int i = 0; i < ND; i++)
		assert_int_equal(
		    rst_dom_get(t->rs, dr[i])->sent[RST_DELIVERIES],
		    dr[i]->deliveries);
	/* the proof: a FLUSHALL re-sends every record's whole count */
	t_cmd(t, 1, (const char *const[]){"FLUSHALL"});
	t_round(t, T_BEAT(3) + 2000); /* the check sees the loss */
	t_round(t, T_BEAT(3) + 3000); /* ... this round re-sends */
	for (int i = 0; i < ND; i++) {
		snprintf(key, sizeof(key), "rt:domain:d%d.example", i);
		snprintf(want, sizeof(want), "%d", i + 1 + (i % 2) * 10);
		t_wait_field(t, key, "deliveries", want);
	}
}

static void
test_requests_and_overrides(void **state)
{
	CTX_OR_SKIP(t);
	struct rstate *rs = t->rs;

	t->x.rep.done = false;
	assert_int_equal(rstate_ctl_apply(rs, "flush " RQ " all",
					  strlen("flush " RQ " all")),
			 0);
	assert_true(t->x.rep.done);
	assert_string_equal(t->x.rep.str, "flush " RQ " all");
	/* a reply: RPUSH + EXPIRE on PREFIX:reply:REQID */
	assert_int_equal(rstate_reply(rs, RQ, "node=n2\n", 8), 0);
	assert_int_equal(rstate_reply(rs, "x", "a", 1), -EINVAL);
	for (int i = 0; i < 5; i++)
		assert_true(ring_run_once(t->r, 1 * MS) >= 0);
	t_cmd(t, 4, (const char *const[]){"LRANGE", "rt:reply:" RQ, "0", "-1"});
	assert_int_equal(t->x.rep.nelem, 1);
	assert_string_equal(t->x.rep.elems[0], "node=n2\n");
	t_cmd(t, 2, (const char *const[]){"TTL", "rt:reply:" RQ});
	assert_true(t->x.rep.integer > 0 &&
		    t->x.rep.integer <= RSTATE_REPLY_TTL_S);
	assert_string_equal(rstate_node(rs), "test-1");
	/* overrides: read on "override NAME", fields sorted, junk dropped */
	t_cmd(t, 8,
	      (const char *const[]){
		  "HSET", "rt:override:o.example", "retry_interval", "5s",
		  "max_outbound_connections", "3", "bad", "has space"});
	t->resumed = 0;
	assert_int_equal(rstate_ctl_apply(rs, "override o.example", 18), 0);
	for (int i = 0; i < 200 && t->resumed < 100; i++)
		assert_true(ring_run_once(t->r, 5 * MS) >= 0);
	assert_string_equal(t->x.rep.elems[31],
			    "o.example=max_outbound_connections=3 "
			    "retry_interval=5s");
	assert_string_equal(rstate_override_text(rs, "o.example"),
			    "max_outbound_connections=3 retry_interval=5s");
	rstate_publish(rs, 1000);
	assert_string_equal(t_hget(t, "rt:domain:o.example", "overrides"),
			    "max_outbound_connections=3 retry_interval=5s");
	/* reapply calls the hook again (config reload) */
	t->resumed = 0;
	rstate_overrides_reapply(rs);
	assert_int_equal(t->resumed, 100);
	/* a reload on up drops what PREFIX:overrides no longer names */
	t->resumed = 0;
	rstate_on_up(rs);
	for (int i = 0; i < 200 && t->resumed < 100; i++)
		assert_true(ring_run_once(t->r, 5 * MS) >= 0);
	assert_string_equal(t->x.rep.elems[31], "o.example=(none)");
	assert_null(rstate_override_text(rs, "o.example"));
	/* ... and keeps what it names */
	t_cmd(t, 3, (const char *const[]){"SADD", "rt:overrides", "o.example"});
	t->resumed = 0;
	rstate_on_up(rs);
	for (int i = 0; i < 200 && t->resumed < 100; i++)
		assert_true(ring_run_once(t->r, 5 * MS) >= 0);
	assert_non_null(rstate_override_text(rs, "o.example"));
	assert_true(rstate_ready(rs));
	/* an emptied hash clears it */
	t_cmd(t, 2, (const char *const[]){"DEL", "rt:override:o.example"});
	t->resumed = 0;
	assert_int_equal(rstate_ctl_apply(rs, "override o.example", 18), 0);
	for (int i = 0; i < 200 && t->resumed < 100; i++)
		assert_true(ring_run_once(t->r, 5 * MS) >= 0);
	assert_null(rstate_override_text(rs, "o.example"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ctl_parse),
	    cmocka_unit_test(test_node_name),
	    cmocka_unit_test(test_records),
	    cmocka_unit_test_setup_teardown(test_publish_keys, setup,
					    rsfx_teardown),
	    cmocka_unit_test_setup_teardown(test_only_changes, setup,
					    rsfx_teardown),
	    cmocka_unit_test_setup_teardown(test_replay_not_counted, setup,
					    rsfx_teardown),
	    cmocka_unit_test_setup_teardown(test_ctl_channel, setup,
					    rsfx_teardown),
	    cmocka_unit_test_setup_teardown(test_reconcile_on_up, setup,
					    rsfx_teardown),
	    cmocka_unit_test_setup_teardown(test_data_loss, setup,
					    rsfx_teardown),
	    cmocka_unit_test_setup_teardown(test_idle_snapshot, setup,
					    rsfx_teardown),
	    cmocka_unit_test_setup_teardown(test_unsettled_only, setup,
					    rsfx_teardown),
	    cmocka_unit_test_setup_teardown(test_requests_and_overrides, setup,
					    rsfx_teardown),
	};

	log_init("test_rstate");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
