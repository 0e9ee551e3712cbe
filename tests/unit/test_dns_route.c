/* SPDX-License-Identifier: MIT */
/*
 * test_dns_route.c: whole MX requests through the fake backend of
 * dns_fixture.c, answered by hand with a fake clock: routing outcomes,
 * null MX and bad targets, implicit MX, host failures, caps and the
 * shuffle.  The pure parts are test_dns.c; the cache is test_dns_cache.c.
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

/* ---- whole requests -------------------------------------------------- */

static void
test_mx_basic(void **state)
{
	struct dns *d = dfx_new(NULL);
	struct dfx_got g = {0};
	struct dns_req *req = NULL;

	(void)state;
	assert_int_equal(
	    dns_resolve_mx(d, "Example.TEST.", dfx_got_cb, &g, &req), 0);
	assert_non_null(req);
	assert_int_equal(dfx_fake.nsent, 1);
	assert_non_null(dfx_find("example.test", DNS_QT_MX));
	dfx_answer_mx(d, "example.test", 300,
		      "20 mx2.example.test, 10 mx1.example.test");
	assert_int_equal(g.calls, 0);
	assert_int_equal(dfx_fake.nsent, 4); /* A and AAAA of both, at once */
	dfx_answer_ip(d, "mx1.example.test", DNS_QT_A, 600, "127.0.0.2");
	dfx_answer_st(d, "mx1.example.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	dfx_answer_ip(d, "mx2.example.test", DNS_QT_AAAA, 600, "::1");
	assert_int_equal(g.calls, 0);
	dfx_answer_ip(d, "mx2.example.test", DNS_QT_A, 120, "127.0.0.3");
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.res->status, DNS_OK);
	assert_string_equal(g.res->domain, "example.test");
	assert_false(g.res->implicit_mx);
	assert_int_equal(g.res->nhosts, 2);
	assert_int_equal(g.res->naddrs, 3);
	dfx_assert_hosts(g.res, "mx1.example.test=127.0.0.2;"
				"mx2.example.test=127.0.0.3|::1");
	assert_int_equal(g.res->hosts[0].pref, 10);
	assert_int_equal(g.res->hosts[1].pref, 20);
	assert_int_equal(g.res->hosts[0].status, DNS_H_OK);
	assert_int_equal(g.res->ttl_ms, 120000);
	dfx_got_free(&g);
	assert_int_equal(dns_req_count(d), 0);
	dns_free(d);
}

static void
test_mx_outcomes(void **state)
{
	static const struct {
		enum dns_astatus st;
		enum dns_reason why;
		enum dns_status want;
		enum dns_reason want_why;
		bool perm;
	} c[] = {
	    {DNS_A_NXDOMAIN, 0, DNS_NXDOMAIN, DNS_R_NXDOMAIN, true},
	    {DNS_A_TEMP, DNS_R_TIMEOUT, DNS_TEMPFAIL, DNS_R_TIMEOUT, false},
	    {DNS_A_TEMP, DNS_R_SERVFAIL, DNS_TEMPFAIL, DNS_R_SERVFAIL, false},
	    {DNS_A_TEMP, DNS_R_REFUSED, DNS_TEMPFAIL, DNS_R_REFUSED, false},
	    {DNS_A_BADNAME, 0, DNS_BAD_NAME, DNS_R_NONE, true},
	    {DNS_A_CANCELLED, 0, DNS_CANCELLED, DNS_R_NONE, false},
	};

	(void)state;
	for (size_t i = 0; i < nitems(c); i++) {
		struct dns *d = dfx_new(NULL);
		struct dfx_got g = {0};

		assert_int_equal(
		    dns_resolve_mx(d, "x.test", dfx_got_cb, &g, NULL), 0);
		dfx_answer_st(d, "x.test", DNS_QT_MX, c[i].st, c[i].why);
		assert_int_equal(g.calls, 1);
		assert_int_equal(g.res->status, c[i].want);
		assert_int_equal(g.res->reason, c[i].want_why);
		assert_int_equal(dns_status_permanent(g.res->status),
				 c[i].perm);
		assert_int_equal(g.res->nhosts, 0);
		/* never an A fallback */
		assert_int_equal(dfx_fake.nsent, 0);
		assert_int_equal(dfx_count("x.test", DNS_QT_A), 0);
		dfx_got_free(&g);
		dns_free(d);
	}
}

static void
test_mx_null_and_bad_targets(void **state)
{
	struct dns *d = dfx_new(NULL);
	struct dfx_got g = {0};

	(void)state;
	assert_int_equal(dns_resolve_mx(d, "nullmx.test", dfx_got_cb, &g, NULL),
			 0);
	dfx_answer_mx(d, "nullmx.test", 300, "0 .");
	assert_int_equal(g.res->status, DNS_NULL_MX);
	assert_true(dns_status_permanent(DNS_NULL_MX));
	assert_int_equal(dfx_fake.nsent, 0);
	/* every target malformed: temporary, counted */
	assert_int_equal(dns_resolve_mx(d, "bad.test", dfx_got_cb, &g, NULL),
			 0);
	dfx_answer_mx(d, "bad.test", 300, "10 1.2.3.4, 20 [::1], 30 a_b.test");
	assert_int_equal(g.calls, 2);
	assert_int_equal(g.res->status, DNS_TEMPFAIL);
	assert_int_equal(g.res->reason, DNS_R_BAD_TARGETS);
	assert_int_equal(g.res->skipped, 3);
	assert_int_equal(dfx_fake.nsent, 0);
	/* some malformed: skipped and counted, the rest used */
	assert_int_equal(dns_resolve_mx(d, "some.test", dfx_got_cb, &g, NULL),
			 0);
	dfx_answer_mx(d, "some.test", 300, "10 1.2.3.4, 20 ok.test");
	dfx_answer_ip(d, "ok.test", DNS_QT_A, 300, "127.0.0.7");
	dfx_answer_st(d, "ok.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	assert_int_equal(g.res->status, DNS_OK);
	assert_int_equal(g.res->skipped, 1);
	dfx_assert_hosts(g.res, "ok.test=127.0.0.7");
	dfx_got_free(&g);
	/* a bad domain: BAD_NAME through the callback, never synchronous */
	assert_int_equal(dns_resolve_mx(d, "bad..name", dfx_got_cb, &g, NULL),
			 0);
	assert_int_equal(g.calls, 3);
	assert_int_equal(dfx_fake.nsent, 0);
	dns_run(d);
	assert_int_equal(g.calls, 4);
	assert_int_equal(g.res->status, DNS_BAD_NAME);
	dns_free(d);
	dfx_got_free(&g);
}

static void
test_mx_implicit(void **state)
{
	struct dns *d = dfx_new(NULL);
	struct dfx_got g = {0};

	(void)state;
	assert_int_equal(dns_resolve_mx(d, "nomx.test", dfx_got_cb, &g, NULL),
			 0);
	dfx_answer_st(d, "nomx.test", DNS_QT_MX, DNS_A_NODATA, 0);
	dfx_answer_ip(d, "nomx.test", DNS_QT_A, 300, "127.0.0.9");
	dfx_answer_st(d, "nomx.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.res->status, DNS_OK);
	assert_true(g.res->implicit_mx);
	assert_int_equal(g.res->hosts[0].pref, 0);
	dfx_assert_hosts(g.res, "nomx.test=127.0.0.9");
	/* NODATA for MX, A and AAAA: no address, temporary */
	assert_int_equal(dns_resolve_mx(d, "empty.test", dfx_got_cb, &g, NULL),
			 0);
	dfx_answer_st(d, "empty.test", DNS_QT_MX, DNS_A_NODATA, 0);
	dfx_answer_st(d, "empty.test", DNS_QT_A, DNS_A_NODATA, 0);
	dfx_answer_st(d, "empty.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	assert_int_equal(g.res->status, DNS_NO_ADDRESSES);
	assert_int_equal(g.res->reason, DNS_R_NODATA);
	assert_false(dns_status_permanent(g.res->status));
	assert_true(g.res->implicit_mx);
	dns_free(d);
	dfx_got_free(&g);
}

static void
test_mx_host_failures(void **state)
{
	struct dns *d = dfx_new(NULL);
	struct dfx_got g = {0};

	(void)state;
	/* one host without address, one fine: OK, per-host statuses */
	assert_int_equal(dns_resolve_mx(d, "a.test", dfx_got_cb, &g, NULL), 0);
	dfx_answer_mx(d, "a.test", 300, "10 gone.a.test, 20 ok.a.test");
	dfx_answer_st(d, "gone.a.test", DNS_QT_A, DNS_A_NXDOMAIN, 0);
	dfx_answer_st(d, "gone.a.test", DNS_QT_AAAA, DNS_A_NXDOMAIN, 0);
	dfx_answer_ip(d, "ok.a.test", DNS_QT_A, 300, "127.0.0.8");
	dfx_answer_st(d, "ok.a.test", DNS_QT_AAAA, DNS_A_TEMP, DNS_R_TIMEOUT);
	assert_int_equal(g.res->status, DNS_OK);
	assert_int_equal(g.res->hosts[0].status, DNS_H_NO_ADDRESS);
	assert_int_equal(g.res->hosts[0].reason, DNS_R_NXDOMAIN);
	assert_int_equal(g.res->hosts[1].status, DNS_H_OK);
	dfx_assert_hosts(g.res, "gone.a.test=;ok.a.test=127.0.0.8");
	/* no host has an address, none failed temporarily */
	assert_int_equal(dns_resolve_mx(d, "b.test", dfx_got_cb, &g, NULL), 0);
	dfx_answer_mx(d, "b.test", 300, "10 h1.b.test, 20 h2.b.test");
	dfx_answer_st(d, "h1.b.test", DNS_QT_A, DNS_A_NODATA, 0);
	dfx_answer_st(d, "h1.b.test", DNS_QT_AAAA, DNS_A_NXDOMAIN, 0);
	dfx_answer_st(d, "h2.b.test", DNS_QT_A, DNS_A_NXDOMAIN, 0);
	dfx_answer_st(d, "h2.b.test", DNS_QT_AAAA, DNS_A_NXDOMAIN, 0);
	assert_int_equal(g.res->status, DNS_NO_ADDRESSES);
	assert_int_equal(g.res->hosts[0].reason, DNS_R_NODATA);
	assert_int_equal(g.res->hosts[1].reason, DNS_R_NXDOMAIN);
	/* one temporary failure among them: TEMPFAIL with its reason */
	assert_int_equal(dns_resolve_mx(d, "c.test", dfx_got_cb, &g, NULL), 0);
	dfx_answer_mx(d, "c.test", 300, "10 h1.c.test, 20 h2.c.test");
	dfx_answer_st(d, "h1.c.test", DNS_QT_A, DNS_A_NODATA, 0);
	dfx_answer_st(d, "h1.c.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	dfx_answer_st(d, "h2.c.test", DNS_QT_A, DNS_A_TEMP, DNS_R_SERVFAIL);
	dfx_answer_st(d, "h2.c.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	assert_int_equal(g.res->status, DNS_TEMPFAIL);
	assert_int_equal(g.res->reason, DNS_R_SERVFAIL);
	assert_int_equal(g.res->hosts[1].status, DNS_H_TEMPFAIL);
	assert_int_equal(g.calls, 3);
	dns_free(d);
	dfx_got_free(&g);
}

static void
test_mx_caps(void **state)
{
	struct dns_opts o;
	struct dns *d;
	struct dfx_got g = {0};

	(void)state;
	dns_opts_init(&o);
	o.seed = 1;
	o.max_mx_hosts = 3;
	o.max_addresses = 3;
	d = dfx_new(&o);
	assert_int_equal(dns_resolve_mx(d, "big.test", dfx_got_cb, &g, NULL),
			 0);
	dfx_answer_mx(d, "big.test", 300,
		      "40 h4.test, 10 h1.test, 30 h3.test, 20 h2.test");
	assert_int_equal(dfx_fake.nsent, 6); /* h1..h3, A and AAAA */
	assert_null(dfx_find("h4.test", DNS_QT_A));
	dfx_answer_ip(d, "h1.test", DNS_QT_A, 300, "127.0.1.1 127.0.1.2");
	dfx_answer_st(d, "h1.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	dfx_answer_ip(d, "h2.test", DNS_QT_A, 300, "127.0.2.1 127.0.2.2");
	dfx_answer_st(d, "h2.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	dfx_answer_ip(d, "h3.test", DNS_QT_A, 300, "127.0.3.1");
	dfx_answer_st(d, "h3.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	assert_int_equal(g.res->status, DNS_OK);
	assert_int_equal(g.res->truncated, 1);
	assert_int_equal(g.res->nhosts, 3);
	assert_int_equal(g.res->naddrs, 3);
	assert_int_equal(g.res->hosts[0].naddrs, 2);
	assert_int_equal(g.res->hosts[1].naddrs, 1);
	assert_int_equal(g.res->hosts[2].status, DNS_H_OVER_LIMIT);
	assert_int_equal(g.res->hosts[2].naddrs, 0);
	dns_free(d);
	dfx_got_free(&g);
}

static void
test_mx_shuffle_flow(void **state)
{
	struct dns *d = dfx_new(NULL);
	struct dfx_got g = {0};
	unsigned a_first = 0;

	(void)state;
	assert_int_equal(dns_resolve_mx(d, "eq.test", dfx_got_cb, &g, NULL), 0);
	dfx_answer_mx(d, "eq.test", 3600,
		      "10 a.eq.test, 10 b.eq.test, 5 z.eq.test");
	dfx_answer_ip(d, "a.eq.test", DNS_QT_A, 3600, "127.0.0.10");
	dfx_answer_ip(d, "b.eq.test", DNS_QT_A, 3600, "127.0.0.11");
	dfx_answer_ip(d, "z.eq.test", DNS_QT_A, 3600, "127.0.0.12");
	dfx_answer_st(d, "a.eq.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	dfx_answer_st(d, "b.eq.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	dfx_answer_st(d, "z.eq.test", DNS_QT_AAAA, DNS_A_NODATA, 0);
	/* 400 more, all from the cache */
	for (int i = 0; i < 400; i++) {
		assert_int_equal(g.res->status, DNS_OK);
		assert_string_equal(g.res->hosts[0].name, "z.eq.test");
		a_first += g.res->hosts[1].name[0] == 'a';
		assert_int_equal(
		    dns_resolve_mx(d, "eq.test", dfx_got_cb, &g, NULL), 0);
		dns_run(d);
	}
	assert_int_equal(dfx_fake.nsent, 0);
	assert_in_range(a_first, 150, 250);
	dns_free(d);
	dfx_got_free(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mx_basic),
	    cmocka_unit_test(test_mx_outcomes),
	    cmocka_unit_test(test_mx_null_and_bad_targets),
	    cmocka_unit_test(test_mx_implicit),
	    cmocka_unit_test(test_mx_host_failures),
	    cmocka_unit_test(test_mx_caps),
	    cmocka_unit_test(test_mx_shuffle_flow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
