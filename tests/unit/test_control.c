/* SPDX-License-Identifier: MIT */
/*
 * test_control: the pure parts of src/control (control_ovr.c) that ringctl
 * shares with ringmta: which keys an override may set and how each value
 * parses (the configuration's parsers and ranges), the effective policy
 * built from a configured one plus an override text, and message ids.
 * The actions themselves run against a real ringmta in
 * tests/integration/test_ringctl.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "control.h"
#include "log.h"

static void
test_key_names(void **state)
{
	static const char *const want[] = {
	    "max_outbound_connections",
	    "outbound_throttle_messages",
	    "outbound_throttle_connections",
	    "max_deliveries_per_connection",
	    "retry_interval",
	    "max_retry_interval",
	    "message_expiration",
	    "idle_timeout",
	    "max_outbound_connections_per_binding",
	};

	(void)state;
	assert_int_equal(nitems(want), CTL_OVR__COUNT);
	for (int i = 0; i < CTL_OVR__COUNT; i++)
		assert_string_equal(ctl_ovr_key_str((enum ctl_ovr_key)i),
				    want[i]);
	assert_string_equal(ctl_ovr_key_str(CTL_OVR__COUNT), "?");
}

static void
test_parse(void **state)
{
	static const struct {
		const char *key, *val;
		int rc;
	} tab[] = {
	    {"max_outbound_connections", "1", 0},
	    {"max_outbound_connections", "100000", 0},
	    {"max_outbound_connections", "0", -ERANGE},
	    {"max_outbound_connections", "100001", -ERANGE},
	    {"max_outbound_connections", "2x", -EINVAL},
	    {"max_outbound_connections", "", -EINVAL},
	    {"max_outbound_connections_per_binding", "0", 0},
	    {"max_outbound_connections_per_binding", "100000", 0},
	    {"max_outbound_connections_per_binding", "100001", -ERANGE},
	    {"max_deliveries_per_connection", "1000000", 0},
	    {"max_deliveries_per_connection", "1000001", -ERANGE},
	    {"retry_interval", "1s", 0},
	    {"retry_interval", "30d", 0},
	    {"retry_interval", "500ms", -ERANGE},
	    {"retry_interval", "31d", -ERANGE},
	    {"retry_interval", "soon", -EINVAL},
	    {"max_retry_interval", "12h", 0},
	    {"message_expiration", "59s", -ERANGE},
	    {"message_expiration", "5d", 0},
	    {"idle_timeout", "0", 0},
	    {"idle_timeout", "2h", -ERANGE},
	    {"outbound_throttle_messages", "10/s", 0},
	    {"outbound_throttle_messages", "100/1m", 0},
	    {"outbound_throttle_messages", "5", 0},
	    {"outbound_throttle_messages", "", 0},
	    {"outbound_throttle_messages", "0/s", -ERANGE},
	    {"outbound_throttle_connections", "x/s", -EINVAL},
	    {"port", "26", -ENOENT},
	    {"relay", "127.0.0.1:25", -ENOENT},
	    {"Retry_Interval", "1s", -ENOENT},
	    {"", "1", -ENOENT},
	};
	struct domain_policy pol, before;
	char why[160];

	(void)state;
	for (size_t i = 0; i < nitems(tab); i++) {
		int rc;

		memset(&pol, 0x5a, sizeof(pol));
		before = pol;
		why[0] = '\0';
		rc = ctl_ovr_parse(&pol, tab[i].key, tab[i].val, why,
				   sizeof(why));
		if (rc != tab[i].rc)
			fail_msg("%s=%s: %d, want %d (%s)", tab[i].key,
				 tab[i].val, rc, tab[i].rc, why);
		if (rc < 0) {
			assert_true(why[0] != '\0');
			assert_memory_equal(&pol, &before, sizeof(pol));
		}
	}
}

static void
test_parse_values(void **state)
{
	struct domain_policy pol = {0};
	char why[160];

	(void)state;
	assert_int_equal(ctl_ovr_parse(&pol, "max_outbound_connections", "7",
				       why, sizeof(why)),
			 0);
	assert_int_equal(pol.max_outbound_connections, 7);
	assert_int_equal(
	    ctl_ovr_parse(&pol, "retry_interval", "2m", why, sizeof(why)), 0);
	assert_int_equal(pol.retry_interval_ms, 120000);
	assert_int_equal(ctl_ovr_parse(&pol, "outbound_throttle_messages",
				       "10/s", why, sizeof(why)),
			 0);
	assert_int_equal(pol.throttle_messages.count, 10);
	assert_int_equal(pol.throttle_messages.period_ms, 1000);
	assert_int_equal(ctl_ovr_parse(&pol, "outbound_throttle_messages", "",
				       why, sizeof(why)),
			 0);
	assert_int_equal(pol.throttle_messages.count, 0);
	assert_int_equal(
	    ctl_ovr_parse(&pol, "idle_timeout", "250ms", why, sizeof(why)), 0);
	assert_int_equal(pol.idle_timeout_ms, 250);
}

static void
test_build(void **state)
{
	struct config *cfg = NULL;
	struct config_err_list errs;
	const struct domain_policy *base;
	struct domain_policy *pol;

	(void)state;
	config_err_list_init(&errs);
	assert_int_equal(config_load_string("t.conf",
					    "[domain o.example]\n"
					    "max_outbound_connections = 9\n"
					    "tls_ca_file = /etc/ca.pem\n",
					    &cfg, &errs),
			 0);
	base = config_domain(cfg, "o.example");
	pol = ctl_ovr_build(base,
			    "max_outbound_connections=2 retry_interval=5s "
			    "port=26 novalue idle_timeout=9h "
			    "outbound_throttle_connections=3/1m",
			    "o.example");
	assert_int_equal(pol->max_outbound_connections, 2);
	assert_int_equal(pol->retry_interval_ms, 5000);
	assert_int_equal(pol->throttle_connections.count, 3);
	assert_int_equal(pol->throttle_connections.period_ms, 60000);
	/* refused words leave the configured values */
	assert_int_equal(pol->port, base->port);
	assert_int_equal(pol->idle_timeout_ms, base->idle_timeout_ms);
	/* the rest is the configured policy, strings shared */
	assert_ptr_equal(pol->tls_ca_file, base->tls_ca_file);
	assert_ptr_equal(pol->name, base->name);
	assert_int_equal(base->max_outbound_connections, 9);
	free(pol);
	pol = ctl_ovr_build(base, NULL, "o.example");
	assert_memory_equal(pol, base, sizeof(*pol));
	free(pol);
	config_free(cfg);
	config_err_list_fini(&errs);
}

static void
test_id_parse(void **state)
{
	static const uint8_t want[DOM_ID_LEN] = {
	    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
	    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
	static const struct {
		const char *s;
		int rc;
	} tab[] = {
	    {"00112233445566778899aabbccddeeff", 0},
	    {"00112233445566778899AABBCCDDEEFF", 0},
	    {"00112233445566778899aabbccddeef", -EINVAL},
	    {"00112233445566778899aabbccddeeff0", -EINVAL},
	    {"00112233445566778899aabbccddeefg", -EINVAL},
	    {"", -EINVAL},
	    {"0011223344556677 899aabbccddeeff", -EINVAL},
	};
	uint8_t id[DOM_ID_LEN];

	(void)state;
	for (size_t i = 0; i < nitems(tab); i++) {
		memset(id, 0, sizeof(id));
		assert_int_equal(ctl_id_parse(tab[i].s, id), tab[i].rc);
		if (tab[i].rc == 0)
			assert_memory_equal(id, want, sizeof(id));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_names),    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_parse_values), cmocka_unit_test(test_build),
	    cmocka_unit_test(test_id_parse),
	};

	log_init("test_control");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
