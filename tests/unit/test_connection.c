/* SPDX-License-Identifier: MIT */
/*
 * test_connection: the CONN_ERR_* / CONN_ACTION_* words: every code's and
 * action's value and name, CONN_ERROR() and its inverse for every code
 * with every action combination, the errno and DNS mappings, and the
 * precondition errors of initiate_connection_smtp() that need no ring
 * (no context, bad slot).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "connection.h"
#include "dns.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_codes_and_names),
	    cmocka_unit_test(test_conn_error_roundtrip),
	    cmocka_unit_test(test_errno_mapping),
	    cmocka_unit_test(test_dns_mapping),
	    cmocka_unit_test(test_initiate_without_context),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
