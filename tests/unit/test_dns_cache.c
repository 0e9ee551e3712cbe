/* SPDX-License-Identifier: MIT */
/*
 * test_dns_cache.c: whole requests through the fake backend of
 * dns_fixture.c, with a fake clock: cache TTLs and eviction, coalescing,
 * cancel and destruction, host lookups, address family, filter and port,
 * and the strings and option checks.  MX routing is test_dns_route.c.
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

#include "dns.h"
#include "dns_fixture.h"
#include "dns_int.h"

static void
test_cache_ttl(void **state)
{
	struct dns_opts o;
	struct dns *d;
	struct dfx_got g = {0};
	const int64_t s = 1000000000;

	(void)state;
	dns_opts_init(&o);
	o.seed = 3;
	o.min_ttl_ms = 60000;
	o.max_ttl_ms = 3600000;
	o.negative_ttl_ms = 10000;
	d = dfx_new(&o);
	/* TTL 1 s is raised to the 60 s floor */
	assert_int_equal(
	    dns_resolve_host(d, "short.test", 25, dfx_got_cb, &g, NULL), 0);
	dfx_answer_ip(d, "short.test", DNS_QT_A, 1, "127.0.0.1");
	dfx_answer_st(d, "short.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	assert_int_equal(g.res->ttl_ms, 10000); /* the NODATA one: 10 s */
	d->fake_now += 9 * s;
	assert_int_equal(
	    dns_resolve_host(d, "short.test", 25, dfx_got_cb, &g, NULL), 0);
	assert_int_equal(dfx_fake.nsent, 0); /* both cached */
	dns_run(d);
	assert_int_equal(g.calls, 2);
	d->fake_now += 2 * s; /* 11 s: AAAA (negative) expired, A not */
	assert_int_equal(
	    dns_resolve_host(d, "short.test", 25, dfx_got_cb, &g, NULL), 0);
	assert_int_equal(dfx_fake.nsent, 1);
	assert_non_null(dfx_find("short.test", DNS_QT_AAAA));
	dfx_answer_st(d, "short.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	assert_int_equal(g.calls, 3);
	d->fake_now += 48 * s; /* 59 s: the A is still there (floor) */
	assert_int_equal(
	    dns_resolve_host(d, "short.test", 25, dfx_got_cb, &g, NULL), 0);
	assert_null(dfx_find("short.test", DNS_QT_A));
	assert_non_null(dfx_find("short.test", DNS_QT_AAAA));
	dfx_answer_st(d, "short.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	d->fake_now += 2 * s; /* 61 s: the A expired */
	assert_int_equal(
	    dns_resolve_host(d, "short.test", 25, dfx_got_cb, &g, NULL), 0);
	assert_non_null(dfx_find("short.test", DNS_QT_A));
	assert_null(dfx_find("short.test", DNS_QT_AAAA));
	dfx_answer_ip(d, "short.test", DNS_QT_A, 1, "127.0.0.1");
	assert_int_equal(g.calls, 5);
	/* TTL 1 day is cut to the 1 h ceiling */
	assert_int_equal(dns_resolve_mx(d, "long.test", dfx_got_cb, &g, NULL),
			 0);
	dfx_answer_mx(d, "long.test", 86400, "10 short.test");
	assert_int_equal(g.calls, 6); /* both host answers cached */
	d->fake_now += 3599 * s;
	assert_int_equal(dns_resolve_mx(d, "long.test", dfx_got_cb, &g, NULL),
			 0);
	assert_null(dfx_find("long.test", DNS_QT_MX));
	d->fake_now += 2 * s;
	assert_int_equal(dns_resolve_mx(d, "long.test", dfx_got_cb, &g, NULL),
			 0);
	assert_non_null(dfx_find("long.test", DNS_QT_MX));
	/* temporary failures are never cached */
	dfx_answer_st(d, "long.test", DNS_QT_MX, DNS_A_TEMP, DNS_R_TIMEOUT);
	dns_run(d);
	assert_int_equal(dns_resolve_mx(d, "long.test", dfx_got_cb, &g, NULL),
			 0);
	assert_non_null(dfx_find("long.test", DNS_QT_MX));
	dfx_answer_st(d, "long.test", DNS_QT_MX, DNS_A_NXDOMAIN, 0);
	/* NXDOMAIN is, for negative_ttl */
	assert_int_equal(dns_resolve_mx(d, "long.test", dfx_got_cb, &g, NULL),
			 0);
	assert_null(dfx_find("long.test", DNS_QT_MX));
	dns_run(d);
	assert_int_equal(g.res->status, DNS_NXDOMAIN);
	assert_true(dns_stats(d)->hits > 0);
	assert_true(dns_stats(d)->failures == 1);
	dns_free(d);
	dfx_got_free(&g);
}

static void
test_cache_lru(void **state)
{
	struct dns_opts o;
	struct dns *d;
	struct dfx_got g = {0};
	static const char *const names[] = {"a.test", "b.test", "c.test"};

	(void)state;
	dns_opts_init(&o);
	o.seed = 4;
	o.cache_size = 2;
	o.family = DNS_FAM_IPV4;
	d = dfx_new(&o);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(
		    dns_resolve_host(d, names[i], 25, dfx_got_cb, &g, NULL), 0);
		dfx_answer_ip(d, names[i], DNS_QT_A, 300, "127.0.0.1");
	}
	assert_int_equal(dns_stats(d)->entries, 2);
	/* touch a, then add c: b (least recently used) goes */
	assert_int_equal(
	    dns_resolve_host(d, "a.test", 25, dfx_got_cb, &g, NULL), 0);
	assert_int_equal(
	    dns_resolve_host(d, "c.test", 25, dfx_got_cb, &g, NULL), 0);
	dfx_answer_ip(d, "c.test", DNS_QT_A, 300, "127.0.0.1");
	assert_int_equal(dns_stats(d)->entries, 2);
	assert_int_equal(dns_stats(d)->evictions, 1);
	assert_int_equal(
	    dns_resolve_host(d, "a.test", 25, dfx_got_cb, &g, NULL), 0);
	assert_null(dfx_find("a.test", DNS_QT_A));
	assert_int_equal(
	    dns_resolve_host(d, "b.test", 25, dfx_got_cb, &g, NULL), 0);
	assert_non_null(dfx_find("b.test", DNS_QT_A));
	dfx_answer_ip(d, "b.test", DNS_QT_A, 300, "127.0.0.1");
	/* cache off: every lookup is a query */
	dns_free(d);
	dfx_got_free(&g);
	o.cache_size = 0;
	d = dfx_new(&o);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(
		    dns_resolve_host(d, "a.test", 25, dfx_got_cb, &g, NULL), 0);
		dfx_answer_ip(d, "a.test", DNS_QT_A, 300, "127.0.0.1");
	}
	assert_int_equal(dns_stats(d)->queries, 2);
	assert_int_equal(dns_stats(d)->entries, 0);
	dns_free(d);
	dfx_got_free(&g);
}

static void
test_coalesce(void **state)
{
	struct dns *d = dfx_new(NULL);
	struct dfx_got g1 = {0}, g2 = {0}, g3 = {0};

	(void)state;
	assert_int_equal(dns_resolve_mx(d, "co.test", dfx_got_cb, &g1, NULL),
			 0);
	assert_int_equal(dns_resolve_mx(d, "CO.test.", dfx_got_cb, &g2, NULL),
			 0);
	assert_int_equal(dfx_fake.nsent, 1);
	dfx_answer_mx(d, "co.test", 300, "10 mx.co.test");
	/* both requests now wait on the same two host queries */
	assert_int_equal(dfx_fake.nsent, 2);
	/* a third for the relay host joins the A/AAAA in flight */
	assert_int_equal(
	    dns_resolve_host(d, "mx.co.test", 2525, dfx_got_cb, &g3, NULL), 0);
	assert_int_equal(dfx_fake.nsent, 2);
	dfx_answer_ip(d, "mx.co.test", DNS_QT_A, 300, "127.0.0.4");
	dfx_answer_ip(d, "mx.co.test", DNS_QT_AAAA, 300, "::1");
	assert_int_equal(g1.calls, 1);
	assert_int_equal(g2.calls, 1);
	assert_int_equal(g3.calls, 1);
	dfx_assert_hosts(g1.res, "mx.co.test=127.0.0.4|::1");
	dfx_assert_hosts(g2.res, "mx.co.test=127.0.0.4|::1");
	assert_int_equal(
	    ntohs(((struct sockaddr_in *)&g3.res->hosts[0].addrs[0])->sin_port),
	    2525);
	assert_int_equal(dns_stats(d)->queries, 3);
	/* g2: MX, A, AAAA; g3: A, AAAA */
	assert_int_equal(dns_stats(d)->coalesced, 5);
	dfx_got_free(&g1);
	dfx_got_free(&g2);
	dfx_got_free(&g3);
	dns_free(d);
}

static void
test_cancel(void **state)
{
	struct dns *d = dfx_new(NULL);
	struct dfx_got g1 = {0}, g2 = {0};
	struct dns_req *r1, *r2;

	(void)state;
	assert_int_equal(dns_resolve_mx(d, "k.test", dfx_got_cb, &g1, &r1), 0);
	assert_int_equal(dns_resolve_mx(d, "k.test", dfx_got_cb, &g2, &r2), 0);
	dns_cancel(r1);
	dfx_answer_mx(d, "k.test", 300, "10 mx.k.test");
	dns_cancel(r2); /* while waiting for host answers */
	assert_int_equal(dns_req_count(d), 0);
	dfx_answer_ip(d, "mx.k.test", DNS_QT_A, 300, "127.0.0.4");
	dfx_answer_st(d, "mx.k.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	assert_int_equal(g1.calls + g2.calls, 0);
	/* the answers still filled the cache */
	assert_int_equal(dns_resolve_mx(d, "k.test", dfx_got_cb, &g1, &r1), 0);
	assert_int_equal(dfx_fake.nsent, 0);
	/* finished (on the ready list) then cancelled: never called */
	dns_cancel(r1);
	dns_run(d);
	assert_int_equal(g1.calls, 0);
	assert_int_equal(dns_req_count(d), 0);
	dns_cancel(NULL);
	dns_free(d);
}

struct freeing {
	struct dns *d;
	unsigned calls;
	int again;
	enum dns_status st;
};

static void
freeing_cb(void *arg, struct dns_mx_result *res)
{
	struct freeing *f = arg;

	f->calls++;
	f->st = res->status;
	f->again = dns_resolve_mx(f->d, "late.test", freeing_cb, f, NULL);
	dns_mx_result_free(res);
}

static void
test_free_pending(void **state)
{
	struct dns *d = dfx_new(NULL);
	struct freeing f1 = {.d = d}, f2 = {.d = d}, f3 = {.d = d};

	(void)state;
	assert_int_equal(dns_resolve_mx(d, "p.test", freeing_cb, &f1, NULL), 0);
	assert_int_equal(dns_resolve_mx(d, "q.test", freeing_cb, &f2, NULL), 0);
	dfx_answer_mx(d, "q.test", 300, "10 mx.q.test");
	/* finished but not delivered yet */
	assert_int_equal(dns_resolve_mx(d, "bad..x", freeing_cb, &f3, NULL), 0);
	dns_free(d);
	assert_int_equal(f1.calls, 1);
	assert_int_equal(f1.st, DNS_CANCELLED);
	assert_int_equal(f1.again, -ESHUTDOWN);
	assert_int_equal(f2.calls, 1);
	assert_int_equal(f2.st, DNS_CANCELLED);
	assert_int_equal(f3.calls, 1);
	assert_int_equal(f3.st, DNS_BAD_NAME);
	assert_int_equal(f3.again, -ESHUTDOWN);
}

static void
test_host(void **state)
{
	struct dns *d = dfx_new(NULL);
	struct dfx_got g = {0};
	struct sockaddr_in6 *sin6;

	(void)state;
	assert_int_equal(
	    dns_resolve_host(d, "127.0.0.5", 2525, dfx_got_cb, &g, NULL), 0);
	assert_int_equal(dfx_fake.nsent, 0);
	dns_run(d);
	assert_int_equal(g.res->status, DNS_OK);
	dfx_assert_hosts(g.res, "127.0.0.5=127.0.0.5");
	assert_int_equal(
	    ntohs(((struct sockaddr_in *)&g.res->hosts[0].addrs[0])->sin_port),
	    2525);
	assert_int_equal(dns_resolve_host(d, "[::1]", 26, dfx_got_cb, &g, NULL),
			 0);
	dns_run(d);
	dfx_assert_hosts(g.res, "::1=::1");
	sin6 = (struct sockaddr_in6 *)&g.res->hosts[0].addrs[0];
	assert_int_equal(ntohs(sin6->sin6_port), 26);
	assert_int_equal(
	    dns_resolve_host(d, "0.0.0.0", 25, dfx_got_cb, &g, NULL), 0);
	dns_run(d);
	assert_int_equal(g.res->status, DNS_NO_ADDRESSES);
	assert_int_equal(
	    dns_resolve_host(d, "relay.test", 25, dfx_got_cb, &g, NULL), 0);
	dfx_answer_st(d, "relay.test", DNS_QT_A, DNS_A_NXDOMAIN, 0);
	dfx_answer_st(d, "relay.test", DNS_QT_AAAA, DNS_A_NXDOMAIN, 0);
	/* a relay that does not exist is a deferral, not a bounce */
	assert_int_equal(g.res->status, DNS_NO_ADDRESSES);
	assert_int_equal(g.res->reason, DNS_R_NXDOMAIN);
	assert_int_equal(
	    dns_resolve_host(d, "bad name", 25, dfx_got_cb, &g, NULL), 0);
	dns_run(d);
	assert_int_equal(g.res->status, DNS_BAD_NAME);
	assert_int_equal(g.calls, 5);
	dns_free(d);
	dfx_got_free(&g);
}

static void
test_family(void **state)
{
	struct dns_opts o;
	struct dns *d;
	struct dfx_got g = {0};

	(void)state;
	dns_opts_init(&o);
	o.seed = 5;
	o.family = DNS_FAM_IPV6;
	d = dfx_new(&o);
	assert_int_equal(
	    dns_resolve_host(d, "six.test", 25, dfx_got_cb, &g, NULL), 0);
	assert_int_equal(dfx_fake.nsent, 1);
	assert_non_null(dfx_find("six.test", DNS_QT_AAAA));
	dfx_answer_ip(d, "six.test", DNS_QT_AAAA, 60, "::1 2001:db8::1");
	assert_int_equal(g.res->naddrs, 2);
	dns_free(d);
	dfx_got_free(&g);
}

static bool
keep_loopback(void *arg, const struct sockaddr *sa)
{
	(*(unsigned *)arg)++;
	if (sa->sa_family == AF_INET)
		return ((const uint8_t *)&((const struct sockaddr_in *)sa)
			    ->sin_addr)[0] == 127;
	return IN6_IS_ADDR_LOOPBACK(
	    &((const struct sockaddr_in6 *)sa)->sin6_addr);
}

static void
test_filter_and_port(void **state)
{
	struct dns *d = dfx_new(NULL);
	struct dfx_got g = {0};
	unsigned seen = 0;

	(void)state;
	assert_int_equal(dns_resolve_mx(d, "f.test", dfx_got_cb, &g, NULL), 0);
	dfx_answer_mx(d, "f.test", 300, "10 out.f.test, 20 in.f.test");
	dfx_answer_ip(d, "out.f.test", DNS_QT_A, 300, "192.0.2.1 198.51.100.1");
	dfx_answer_ip(d, "out.f.test", DNS_QT_AAAA, 300, "2001:db8::1");
	dfx_answer_ip(d, "in.f.test", DNS_QT_A, 300, "10.1.1.1 127.0.0.3");
	dfx_answer_ip(d, "in.f.test", DNS_QT_AAAA, 300, "::1");
	assert_int_equal(g.res->naddrs, 6);
	assert_int_equal(dns_mx_result_filter(g.res, keep_loopback, &seen), 2);
	assert_int_equal(seen, 6);
	assert_int_equal(g.res->status, DNS_OK);
	assert_int_equal(g.res->filtered, 4);
	assert_int_equal(g.res->hosts[0].status, DNS_H_FILTERED);
	dfx_assert_hosts(g.res, "out.f.test=;in.f.test=127.0.0.3|::1");
	dns_mx_result_set_port(g.res, 2526);
	assert_int_equal(
	    ntohs(((struct sockaddr_in *)&g.res->hosts[1].addrs[0])->sin_port),
	    2526);
	assert_int_equal(
	    ntohs(
		((struct sockaddr_in6 *)&g.res->hosts[1].addrs[1])->sin6_port),
	    2526);
	/* nothing left: NO_ADDRESSES, reason FILTERED */
	g.res->hosts[1].addrs[0] = g.res->hosts[0].addrs[0];
	memset(&g.res->hosts[1].addrs[1], 0, sizeof(struct sockaddr_storage));
	g.res->hosts[1].addrs[1].ss_family = AF_INET;
	assert_int_equal(dns_mx_result_filter(g.res, keep_loopback, &seen), 0);
	assert_int_equal(g.res->status, DNS_NO_ADDRESSES);
	assert_int_equal(g.res->reason, DNS_R_FILTERED);
	dns_free(d);
	dfx_got_free(&g);
}

static void
test_strings_and_opts(void **state)
{
	struct dns_opts o;
	int err = 0;

	(void)state;
	for (int i = 0; i < DNS__COUNT; i++)
		assert_string_not_equal(dns_status_str((enum dns_status)i),
					"?");
	assert_string_equal(dns_status_str(DNS__COUNT), "?");
	for (int i = 0; i < DNS_R__COUNT; i++)
		assert_string_not_equal(dns_reason_str((enum dns_reason)i),
					"?");
	assert_string_equal(dns_reason_str(DNS_R__COUNT), "?");
	for (int i = 0; i < DNS_H__COUNT; i++)
		assert_string_not_equal(
		    dns_host_status_str((enum dns_host_status)i), "?");
	assert_string_equal(dns_host_status_str(DNS_H__COUNT), "?");
	assert_string_equal(dns_qtype_str(DNS_QT_AAAA), "AAAA");
	assert_int_equal(dns_qtype_wire(DNS_QT_MX), 15);
	/* bad options */
	dns_opts_init(&o);
	o.min_ttl_ms = o.max_ttl_ms + 1;
	assert_null(dns_alloc(NULL, &o, &dfx_be, &err));
	assert_int_equal(err, -EINVAL);
	dns_opts_init(&o);
	o.tries = 0;
	assert_null(dns_alloc(NULL, &o, &dfx_be, &err));
	dns_opts_init(&o);
	o.max_mx_hosts = 0;
	assert_null(dns_alloc(NULL, &o, &dfx_be, &err));
	dns_opts_init(&o);
	assert_null(dns_new(NULL, &o, &err)); /* a ring is required */
	assert_int_equal(err, -EINVAL);
	dns_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cache_ttl),
	    cmocka_unit_test(test_cache_lru),
	    cmocka_unit_test(test_coalesce),
	    cmocka_unit_test(test_cancel),
	    cmocka_unit_test(test_free_pending),
	    cmocka_unit_test(test_host),
	    cmocka_unit_test(test_family),
	    cmocka_unit_test(test_filter_and_port),
	    cmocka_unit_test(test_strings_and_opts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
