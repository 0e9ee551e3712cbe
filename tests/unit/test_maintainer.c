/* SPDX-License-Identifier: MIT */
/*
 * test_maintainer: when a domain's maintainer ticks next (table-driven:
 * delayed units, backoff, penalties, throttles, the scan interval), and
 * that ticks and pokes of a record without a routing context are no-ops.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "maintainer.h"

#define NOW  1000000
#define SCAN MAINT_SCAN_INTERVAL_MS

struct wake_case {
	const char *name;
	struct maint_wake_in in;
	int64_t want;
};

static const struct wake_case wake_cases[] = {
    {"idle domain: only when poked",
     {.now_ms = NOW, .next_due_ms = INT64_MAX, .penalty_ms = INT64_MAX},
     INT64_MAX},
    {"delayed unit only",
     {.now_ms = NOW, .next_due_ms = NOW + 5000, .penalty_ms = INT64_MAX},
     NOW + 5000},
    {"active units: scan interval",
     {.now_ms = NOW,
      .next_due_ms = INT64_MAX,
      .penalty_ms = INT64_MAX,
      .active = 3},
     NOW + SCAN},
    {"active units, earlier delayed unit",
     {.now_ms = NOW,
      .next_due_ms = NOW + 100,
      .penalty_ms = INT64_MAX,
      .active = 3},
     NOW + 100},
    {"backoff ends before the scan",
     {.now_ms = NOW,
      .next_due_ms = INT64_MAX,
      .backoff_ms = NOW + 2000,
      .penalty_ms = INT64_MAX,
      .active = 1},
     NOW + 2000},
    {"backoff ends after the scan",
     {.now_ms = NOW,
      .next_due_ms = INT64_MAX,
      .backoff_ms = NOW + SCAN * 4,
      .penalty_ms = INT64_MAX,
      .active = 1},
     NOW + SCAN},
    {"backoff over: ignored",
     {.now_ms = NOW,
      .next_due_ms = INT64_MAX,
      .backoff_ms = NOW - 1,
      .penalty_ms = INT64_MAX,
      .active = 1},
     NOW + SCAN},
    {"penalty end",
     {.now_ms = NOW,
      .next_due_ms = INT64_MAX,
      .penalty_ms = NOW + 700,
      .active = 1},
     NOW + 700},
    {"penalty already over: ignored",
     {.now_ms = NOW,
      .next_due_ms = INT64_MAX,
      .penalty_ms = NOW - 700,
      .active = 1},
     NOW + SCAN},
    {"throttle end",
     {.now_ms = NOW,
      .next_due_ms = INT64_MAX,
      .penalty_ms = INT64_MAX,
      .throttle_ms = NOW + 100,
      .active = 1},
     NOW + 100},
    {"throttle without active units: not a reason",
     {.now_ms = NOW,
      .next_due_ms = NOW + 9000,
      .penalty_ms = NOW + 10,
      .throttle_ms = NOW + 100,
      .backoff_ms = NOW + 50},
     NOW + 9000},
    {"earliest of all",
     {.now_ms = NOW,
      .next_due_ms = NOW + 400,
      .backoff_ms = NOW + 300,
      .penalty_ms = NOW + 200,
      .throttle_ms = NOW + 250,
      .active = 2,
      .nconn = 4},
     NOW + 200},
};

static void
test_next_wake(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(wake_cases); i++) {
		int64_t got = maint_next_wake(&wake_cases[i].in);

		if (got != wake_cases[i].want)
			fail_msg("%s: got %lld want %lld", wake_cases[i].name,
				 (long long)got, (long long)wake_cases[i].want);
	}
}

static void
test_no_context(void **state)
{
	struct dom_table t;
	domain_record *dr;

	(void)state;
	dom_table_init(&t, 1);
	dr = dom_get(&t, "example.com");
	maint_poke(dr);
	maint_schedule(dr, 5);
	maint_tick(dr);
	maint_stop(dr);
	assert_false(timer_armed(&dr->mt_timer));
	dom_table_fini(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_next_wake),
	    cmocka_unit_test(test_no_context),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
