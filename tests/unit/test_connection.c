/* SPDX-License-Identifier: MIT */
/*
 * test_connection: the CONN_ERR_* / CONN_ACTION_* words: every code's and
 * action's value and name, CONN_ERROR() and its inverse for every code
 * with every action combination, the errno and DNS mappings, and the
 * precondition errors of initiate_connection_smtp() that need no ring
 * (no context, bad slot), and, on the routing context of dlv_fixture.c,
 * every code initiate_connection_smtp() returns itself, with the actions
 * it takes (requeue one, suspend the binding), the cluster lease handed
 * to conn_open() (owned by its session, or given back at once on every
 * refusal), conn_can_open(), and the maintainer taking no lease while
 * the connection would be refused (the MX set being resolved).  The DNS codes
 * and their actions arrive with the lookup's answer (test_delivery.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "connection.h"
#include "dlv_fixture.h"
#include "dns.h"
#include "maintainer.h"
#include "redis.h"
#include "rlease.h"

static void
test_codes_and_names(void **state)
{
	static const struct {
		enum conn_err e;
		unsigned v;
		const char *name;
	} codes[] = {
	    {CONN_OK, 0, "ok"},
	    {CONN_ERR_BAD_BINDING, 1, "bad_binding"},
	    {CONN_ERR_BINDING_SUSPENDED, 2, "binding_suspended"},
	    {CONN_ERR_DOMAIN_SUSPENDED, 3, "domain_suspended"},
	    {CONN_ERR_BACKOFF, 4, "backoff"},
	    {CONN_ERR_NO_MESSAGES, 5, "no_messages"},
	    {CONN_ERR_DNS_PENDING, 6, "dns_pending"},
	    {CONN_ERR_DNS_TEMP, 7, "dns_temp"},
	    {CONN_ERR_DNS_PERM, 8, "dns_perm"},
	    {CONN_ERR_NO_ROUTE, 9, "no_route"},
	    {CONN_ERR_LIMIT, 10, "limit"},
	    {CONN_ERR_THROTTLED, 11, "throttled"},
	    {CONN_ERR_SOCKET, 12, "socket"},
	    {CONN_ERR_ADDR_UNAVAIL, 13, "addr_unavail"},
	};

	(void)state;
	assert_int_equal(nitems(codes), CONN_ERR__COUNT);
	for (size_t i = 0; i < nitems(codes); i++) {
		assert_int_equal(codes[i].e, codes[i].v);
		assert_string_equal(conn_err_str(codes[i].e), codes[i].name);
		assert_true(codes[i].v <= CONN_ERR_MASK);
	}
	assert_string_equal(conn_err_str(CONN_ERR__COUNT), "?");
	assert_string_equal(conn_err_str((enum conn_err) - 1), "?");
	/* Actions: distinct single bits above the code byte. */
	assert_int_equal(CONN_ACTION_REQUEUE1, 0x100);
	assert_int_equal(CONN_ACTION_PURGE_DOMAIN, 0x200);
	assert_int_equal(CONN_ACTION_DEFER_DOMAIN, 0x400);
	assert_int_equal(CONN_ACTION_SUSPEND_BINDING, 0x800);
	assert_int_equal(CONN_ACTION_MASK, CONN_ACTION_REQUEUE1 |
					       CONN_ACTION_PURGE_DOMAIN |
					       CONN_ACTION_DEFER_DOMAIN |
					       CONN_ACTION_SUSPEND_BINDING);
	assert_int_equal(CONN_ACTION_MASK & CONN_ERR_MASK, 0);
	assert_string_equal(conn_action_str(CONN_ACTION_REQUEUE1), "requeue1");
	assert_string_equal(conn_action_str(CONN_ACTION_PURGE_DOMAIN),
			    "purge_domain");
	assert_string_equal(conn_action_str(CONN_ACTION_DEFER_DOMAIN),
			    "defer_domain");
	assert_string_equal(conn_action_str(CONN_ACTION_SUSPEND_BINDING),
			    "suspend_binding");
	assert_string_equal(conn_action_str(0), "?");
	assert_string_equal(
	    conn_action_str(CONN_ACTION_REQUEUE1 | CONN_ACTION_PURGE_DOMAIN),
	    "?");
}

static void
test_conn_error_roundtrip(void **state)
{
	(void)state;
	for (unsigned e = 1; e < CONN_ERR__COUNT; e++) {
		for (unsigned a = 0; a <= CONN_ACTION_MASK; a += 0x100) {
			int rc = CONN_ERROR(e | a);

			assert_true(rc < 0);
			assert_int_equal(conn_error_code(rc), e);
			assert_int_equal(conn_error_actions(rc), a);
		}
	}
	/* Success values carry no code and no action. */
	assert_int_equal(CONN_ERROR(CONN_OK), 0);
	assert_int_equal(conn_error_code(0), CONN_OK);
	assert_int_equal(conn_error_actions(0), 0);
	assert_int_equal(conn_error_code(7), CONN_OK);
	/* Bits outside the code and action masks are dropped. */
	assert_int_equal(CONN_ERROR(0x10000u | CONN_ERR_LIMIT),
			 -(int)CONN_ERR_LIMIT);
}

static void
test_errno_mapping(void **state)
{
	static const struct {
		int err;
		unsigned want;
	} cases[] = {
	    {-EADDRNOTAVAIL,
	     CONN_ERR_ADDR_UNAVAIL | CONN_ACTION_SUSPEND_BINDING},
	    {-EADDRINUSE, CONN_ERR_ADDR_UNAVAIL | CONN_ACTION_SUSPEND_BINDING},
	    {-EMFILE, CONN_ERR_SOCKET | CONN_ACTION_REQUEUE1},
	    {-ENFILE, CONN_ERR_SOCKET | CONN_ACTION_REQUEUE1},
	    {-ENOBUFS, CONN_ERR_SOCKET | CONN_ACTION_REQUEUE1},
	    {-EINVAL, CONN_ERR_SOCKET | CONN_ACTION_REQUEUE1},
	    {-ESHUTDOWN, CONN_ERR_SOCKET | CONN_ACTION_REQUEUE1},
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++)
		assert_int_equal(conn_err_from_errno(cases[i].err),
				 cases[i].want);
}

static void
test_dns_mapping(void **state)
{
	(void)state;
	assert_int_equal(conn_err_from_dns(DNS_OK), CONN_OK);
	assert_int_equal(conn_err_from_dns(DNS_NXDOMAIN),
			 CONN_ERR_DNS_PERM | CONN_ACTION_PURGE_DOMAIN);
	assert_int_equal(conn_err_from_dns(DNS_NULL_MX),
			 CONN_ERR_DNS_PERM | CONN_ACTION_PURGE_DOMAIN);
	assert_int_equal(conn_err_from_dns(DNS_BAD_NAME),
			 CONN_ERR_DNS_PERM | CONN_ACTION_PURGE_DOMAIN);
	assert_int_equal(conn_err_from_dns(DNS_TEMPFAIL),
			 CONN_ERR_DNS_TEMP | CONN_ACTION_DEFER_DOMAIN);
	assert_int_equal(conn_err_from_dns(DNS_NO_ADDRESSES),
			 CONN_ERR_DNS_TEMP | CONN_ACTION_DEFER_DOMAIN);
}

static void
test_initiate_without_context(void **state)
{
	struct dom_table t;
	domain_record *dr;
	struct timeval now = {1000, 0};
	int err = 0;

	(void)state;
	dom_table_init(&t, 1);
	dr = dom_get(&t, "example.com");
	assert_null(initiate_connection(dr, 0, &now, NULL, NULL, NULL, &err));
	assert_int_equal(err, CONN_ERR_BAD_BINDING);
	assert_int_equal(initiate_connection_smtp(dr, 0, &now),
			 CONN_ERROR(CONN_ERR_BAD_BINDING));
	dom_table_fini(&t);
}

static const char fx_conf[] = "[server]\n"
			      "hostname = mta.test\n"
			      "[dns]\n"
			      "servers = 127.0.0.1:9\n"
			      "[delivery]\n"
			      "max_connections = 5\n"
			      "tls = none\n"
			      "[binding b2]\n"
			      "address = 127.0.0.2\n"
			      "[binding ghost]\n"
			      "address = 192.0.2.55\n"
			      "[domain susp.test]\n"
			      "suspended = true\n"
			      "[domain lim.test]\n"
			      "max_outbound_connections = 1\n"
			      "[domain thr.test]\n"
			      "outbound_throttle_connections = 1/1h\n"
			      "[domain cl.test]\n"
			      "cluster_max_outbound_connections = 4\n";

static int
fx_setup(void **state)
{
	return dlv_fx_setup(state, "test_connection", fx_conf);
}

/* Domain name with one unit queued on slot and a ready MX set of one
 * address of family fam (127.0.0.1:9 for AF_INET) until now + 1 h. */
static domain_record *
fx_dom(struct dlv_fx *f, const char *name, int slot, int fam, int64_t now_ms)
{
	static const uint8_t id[DOM_ID_LEN] = {1};
	domain_record *dr = dom_get(&f->doms, name);
	struct dom_unit *u = dom_unit_new(id, 1);
	struct dom_addr a;
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.sa;

	dr->ctx = f->d;
	u->nrcpt = 1;
	u->bslot = slot;
	u->received_ms = now_ms; /* not expired */
	dom_active_push(&f->doms, dr, u);
	memset(&a, 0, sizeof(a));
	sin->sin_family = (sa_family_t)fam;
	sin->sin_port = htons(9);
	sin->sin_addr.s_addr = htonl(0x7f000001u);
	a.len = sizeof(*sin);
	snprintf(a.host, sizeof(a.host), "mx.%s", name);
	snprintf(a.ip, sizeof(a.ip), "127.0.0.1");
	dom_mx_set(dr, &a, 1, now_ms + 3600 * 1000);
	return dr;
}

/* Drop every queued unit (no session may start when the ring runs). */
static void
fx_unqueue(domain_record *dr, void *arg)
{
	struct dlv_fx *f = arg;
	struct dom_unit *u;

	while ((u = dom_active_pop_any(&f->doms, dr)) != NULL)
		dom_unit_free(u);
	while ((u = dom_delayed_pop(&f->doms, dr)) != NULL)
		dom_unit_free(u);
}

/*
 * Every code initiate_connection_smtp() returns by itself, each produced
 * by the one condition that causes it, with its action taken: REQUEUE1
 * moves the unit to the delayed queue, SUSPEND_BINDING suspends the
 * binding (and the next call says BINDING_SUSPENDED).
 */
static void
test_initiate_codes(void **state)
{
	DLV_FX();
	struct timeval now;
	int64_t now_ms;
	int def = bnd_find(&f->bnds, "default"), b2 = bnd_find(&f->bnds, "b2");
	int ghost = bnd_find(&f->bnds, "ghost");
	domain_record *dr;

	assert_true(def >= 0 && b2 >= 0 && ghost >= 0);
	gettimeofday(&now, NULL);
	now_ms = (int64_t)now.tv_sec * 1000 + now.tv_usec / 1000;

	dr = fx_dom(f, "a.test", def, AF_INET, now_ms);
	assert_int_equal(initiate_connection_smtp(dr, 99, &now),
			 CONN_ERROR(CONN_ERR_BAD_BINDING));
	assert_int_equal(initiate_connection_smtp(dr, -1, &now),
			 CONN_ERROR(CONN_ERR_BAD_BINDING));
	/* nothing queued for b2 */
	assert_int_equal(initiate_connection_smtp(dr, b2, &now),
			 CONN_ERROR(CONN_ERR_NO_MESSAGES));
	/* suspended binding */
	assert_true(bnd_suspend(bnd_get(&f->bnds, b2), "test"));
	assert_int_equal(initiate_connection_smtp(dr, b2, &now),
			 CONN_ERROR(CONN_ERR_BINDING_SUSPENDED));
	/* backing off */
	dr->backoff_until_ms = now_ms + 60000;
	assert_int_equal(initiate_connection_smtp(dr, def, &now),
			 CONN_ERROR(CONN_ERR_BACKOFF));
	dr->backoff_until_ms = 0;
	/* every address penalised */
	dr->addrs[0].penalty_until_ms = now_ms + 60000;
	assert_int_equal(initiate_connection_smtp(dr, def, &now),
			 CONN_ERROR(CONN_ERR_NO_ROUTE));
	dr->addrs[0].penalty_until_ms = 0;
	/* the server-wide limit ([delivery] max_connections = 5) */
	f->d->nconn = 5;
	assert_int_equal(initiate_connection_smtp(dr, def, &now),
			 CONN_ERROR(CONN_ERR_LIMIT));
	f->d->nconn = 0;
	/* the MX set expired: a lookup starts, and stays pending */
	dr->mx_expires_ms = now_ms;
	assert_int_equal(initiate_connection_smtp(dr, def, &now),
			 CONN_ERROR(CONN_ERR_DNS_PENDING));
	assert_int_equal(dr->mx_state, DOM_MX_RESOLVING);
	assert_int_equal(initiate_connection_smtp(dr, def, &now),
			 CONN_ERROR(CONN_ERR_DNS_PENDING));

	dr = fx_dom(f, "susp.test", def, AF_INET, now_ms);
	assert_int_equal(initiate_connection_smtp(dr, def, &now),
			 CONN_ERROR(CONN_ERR_DOMAIN_SUSPENDED));
	dr->suspended = false;
	dr = fx_dom(f, "b.test", def, AF_INET, now_ms);
	dr->suspended = true; /* by an administrator */
	assert_int_equal(initiate_connection_smtp(dr, def, &now),
			 CONN_ERROR(CONN_ERR_DOMAIN_SUSPENDED));

	/* the domain's limit (max_outbound_connections = 1) */
	dr = fx_dom(f, "lim.test", def, AF_INET, now_ms);
	dr->nconn = 1;
	assert_int_equal(initiate_connection_smtp(dr, def, &now),
			 CONN_ERROR(CONN_ERR_LIMIT));
	dr->nconn = 0;

	/* the connection throttle (1/1h): the token is not there yet */
	dr = fx_dom(f, "thr.test", def, AF_INET, now_ms);
	dr->thr_conn_tat_us = (now_ms + 600000) * 1000;
	assert_int_equal(initiate_connection_smtp(dr, def, &now),
			 CONN_ERROR(CONN_ERR_THROTTLED));
	assert_int_equal(dr->thr_conn_tat_us, (now_ms + 600000) * 1000);

	/* socket() refused on our side: requeue one (to the delayed queue) */
	dr = fx_dom(f, "sock.test", def, 250 /* no such family */, now_ms);
	assert_int_equal(initiate_connection_smtp(dr, def, &now),
			 CONN_ERROR(CONN_ERR_SOCKET | CONN_ACTION_REQUEUE1));
	assert_int_equal(dr->bind[def].active.count, 0);
	assert_int_equal(dr->delayed.count, 1);
	assert_true(dr->delayed.head->due_ms > now_ms);

	/* the source address is not on the host: the binding is suspended */
	dr = fx_dom(f, "ghost.test", ghost, AF_INET, now_ms);
	assert_false(bnd_get(&f->bnds, ghost)->suspended);
	assert_int_equal(
	    initiate_connection_smtp(dr, ghost, &now),
	    CONN_ERROR(CONN_ERR_ADDR_UNAVAIL | CONN_ACTION_SUSPEND_BINDING));
	assert_true(bnd_get(&f->bnds, ghost)->suspended);
	assert_int_equal(dr->bind[ghost].active.count, 1); /* stays queued */
	assert_int_equal(initiate_connection_smtp(dr, ghost, &now),
			 CONN_ERROR(CONN_ERR_BINDING_SUSPENDED));

	/* Let the failed sessions close with nothing left to deliver. */
	dom_foreach(&f->doms, fx_unqueue, f);
	for (int i = 0; i < 5; i++)
		ring_run_once(f->r, 1000000);
	assert_int_equal(f->d->nconn, 0);
}

/* An rlease whose Redis is unreachable, with the local fallback (leases
 * granted at once, counted by rlease_used()), as f's. */
static struct rlease *
fx_rlease(struct dlv_fx *f, struct rds **rds_r)
{
	struct rlease *rl = NULL;
	int err = 0;

	*rds_r =
	    rds_new(f->r,
		    &(struct rds_opts){.target = "/nonexistent.ringmta/r.sock",
				       .key_prefix = "t"},
		    &err);
	assert_non_null(*rds_r);
	assert_int_equal(
	    rlease_new(&(struct rlease_opts){.rds = *rds_r,
					     .node_id = "t",
					     .fallback = CONFIG_CLUSTER_LOCAL},
		       &rl),
	    0);
	f->d->rl = rl;
	return rl;
}

/* Unqueue everything and let every session end. */
static void
fx_end_sessions(struct dlv_fx *f)
{
	dom_foreach(&f->doms, fx_unqueue, f);
	for (int i = 0; i < 20 && f->d->nconn > 0; i++)
		ring_run_once(f->r, 50000000);
	assert_int_equal(f->d->nconn, 0);
}

static void
fx_rlease_free(struct dlv_fx *f, struct rlease *rl, struct rds *rds)
{
	rlease_stop(rl);
	f->d->rl = NULL;
	rds_free(rds, 0);
	rlease_free(rl);
}

/*
 * The lease handed to conn_open(): the session it stages owns it until it
 * ends; a connection refused before it is created (every refusal of
 * conn_check, no route, the throttle), or whose start fails, gives it back
 * at once, before any ring turn.
 */
static void
test_open_lease(void **state)
{
	DLV_FX();
	struct timeval now;
	int64_t now_ms;
	int def = bnd_find(&f->bnds, "default"), b2 = bnd_find(&f->bnds, "b2");
	struct rds *rds;
	struct rlease *rl = fx_rlease(f, &rds);
	struct conn *c;
	domain_record *dr;
	uint64_t tk = 0;

	gettimeofday(&now, NULL);
	now_ms = (int64_t)now.tv_sec * 1000 + now.tv_usec / 1000;

	/* Refused before it is created (nothing queued on b2). */
	dr = fx_dom(f, "a.test", def, AF_INET, now_ms);
	assert_int_equal(rlease_take(rl, dr, b2, "b2", 0, 5, 1, &tk), 1);
	assert_true(tk != 0);
	assert_int_equal(rlease_used(rl, dr, b2), 1);
	assert_int_equal(conn_open(dr, b2, &now, tk),
			 CONN_ERROR(CONN_ERR_NO_MESSAGES));
	assert_int_equal(rlease_used(rl, dr, b2), 0);
	/* Every other refusal before a connection exists: back at once. */
	{
		static const char *const names[] = {
		    "susp.test", "thr.test", "noroute.test", "pending.test"};
		static const enum conn_err want[] = {
		    CONN_ERR_DOMAIN_SUSPENDED, CONN_ERR_THROTTLED,
		    CONN_ERR_NO_ROUTE, CONN_ERR_DNS_PENDING};

		for (size_t i = 0; i < nitems(names); i++) {
			dr = fx_dom(f, names[i], def, AF_INET, now_ms);
			if (i == 1)
				dr->thr_conn_tat_us = (now_ms + 600000) * 1000;
			if (i == 2)
				dr->addrs[0].penalty_until_ms = now_ms + 60000;
			if (i == 3)
				dr->mx_state = DOM_MX_RESOLVING;
			assert_int_equal(
			    rlease_take(rl, dr, def, "default", 0, 5, 1, &tk),
			    1);
			assert_int_equal(conn_can_open(dr, def, &now),
					 CONN_ERROR(want[i]));
			assert_int_equal(rlease_used(rl, dr, def), 1);
			assert_int_equal(conn_open(dr, def, &now, tk),
					 CONN_ERROR(want[i]));
			assert_int_equal(rlease_used(rl, dr, def), 0);
			assert_null(dr->conns);
		}
	}

	/* Created, but its start fails (socket() refuses the family): back
	 * now, not when the session reports its end. */
	dr = fx_dom(f, "sock.test", def, 250, now_ms);
	assert_int_equal(rlease_take(rl, dr, def, "default", 0, 5, 1, &tk), 1);
	assert_int_equal(conn_can_open(dr, def, &now), 0);
	assert_int_equal(conn_open(dr, def, &now, tk),
			 CONN_ERROR(CONN_ERR_SOCKET | CONN_ACTION_REQUEUE1));
	assert_int_equal(rlease_used(rl, dr, def), 0);
	assert_int_equal(((struct conn *)dr->conns)->lease, 0);

	/* Opened: the new session holds it; initiate_connection_smtp()
	 * makes a session without one. */
	dr = fx_dom(f, "ok.test", def, AF_INET, now_ms);
	(void)fx_dom(f, "ok.test", def, AF_INET, now_ms); /* a second unit */
	assert_int_equal(rlease_take(rl, dr, def, "default", 0, 5, 1, &tk), 1);
	assert_int_equal(conn_open(dr, def, &now, tk), 0);
	c = dr->conns;
	assert_true(c->lease == tk);
	assert_int_equal(rlease_used(rl, dr, def), 1);
	assert_int_equal(initiate_connection_smtp(dr, def, &now), 0);
	assert_true(((struct conn *)dr->conns)->lease == 0);
	assert_int_equal(rlease_used(rl, dr, def), 1);

	/* The sessions end (nothing listens on port 9): the lease goes back
	 * with its session. */
	fx_end_sessions(f);
	assert_int_equal(rlease_used(rl, dr, def), 0);
	assert_int_equal(rlease_stats(rl)->released, 0); /* never in Redis */
	fx_rlease_free(f, rl, rds);
}

/*
 * The maintainer asks for no cluster lease while the connection would be
 * refused: with the MX set being resolved, a tick of a domain under a
 * cluster limit takes none (not even one given back at once), and opens
 * nothing; with it ready, the same tick takes one for the session.
 */
static void
test_no_lease_while_resolving(void **state)
{
	DLV_FX();
	struct timeval now;
	int64_t now_ms;
	int def = bnd_find(&f->bnds, "default");
	struct rds *rds;
	struct rlease *rl = fx_rlease(f, &rds);
	domain_record *dr;

	gettimeofday(&now, NULL);
	now_ms = (int64_t)now.tv_sec * 1000 + now.tv_usec / 1000;
	dr = fx_dom(f, "cl.test", def, AF_INET, now_ms);
	dr->mx_state = DOM_MX_RESOLVING;
	maint_tick(dr);
	assert_int_equal(rlease_stats(rl)->local, 0);
	assert_int_equal(rlease_used(rl, dr, def), 0);
	assert_int_equal(dr->nconn, 0);
	dr->mx_state = DOM_MX_READY;
	maint_tick(dr);
	assert_int_equal(rlease_stats(rl)->local, 1);
	assert_int_equal(dr->nconn, 1);
	assert_int_equal(rlease_used(rl, dr, def), 1);
	/* The session ends (nothing listens on port 9): the lease too. */
	fx_end_sessions(f);
	assert_int_equal(rlease_used(rl, dr, def), 0);
	fx_rlease_free(f, rl, rds);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_codes_and_names),
	    cmocka_unit_test(test_conn_error_roundtrip),
	    cmocka_unit_test(test_errno_mapping),
	    cmocka_unit_test(test_dns_mapping),
	    cmocka_unit_test(test_initiate_without_context),
	    cmocka_unit_test_setup_teardown(test_initiate_codes, fx_setup,
					    dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_open_lease, fx_setup,
					    dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_no_lease_while_resolving,
					    fx_setup, dlv_fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
