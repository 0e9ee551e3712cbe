/* SPDX-License-Identifier: MIT */
/*
 * test_backoff: the retry schedule.  Tables of attempt -> delay for the
 * message, domain and host schedules (attempts 0..20 and huge counts),
 * the jitter bounds (lowest, highest, wrap-around, spread), the caps,
 * overflow safety at INT64_MAX times and with extreme bases, policy
 * defaults and validation, expiry and the expiry clamp.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "backoff.h"

#define SEC  ((int64_t)1000)
#define MINS (60 * SEC)
#define HRS  (60 * MINS)
#define DAYS (24 * HRS)

struct sched_case {
	unsigned n;
	int64_t want; /* nominal delay (no jitter) */
};

/* The default message schedule: 20 min doubling, capped at 12 h. */
static const struct sched_case msg_sched[] = {
    {0, 20 * MINS},  {1, 20 * MINS},   {2, 40 * MINS},       {3, 80 * MINS},
    {4, 160 * MINS}, {5, 320 * MINS},  {6, 640 * MINS},      {7, 12 * HRS},
    {8, 12 * HRS},   {9, 12 * HRS},    {10, 12 * HRS},       {11, 12 * HRS},
    {12, 12 * HRS},  {13, 12 * HRS},   {14, 12 * HRS},       {15, 12 * HRS},
    {16, 12 * HRS},  {17, 12 * HRS},   {18, 12 * HRS},       {19, 12 * HRS},
    {20, 12 * HRS},  {62, 12 * HRS},   {63, 12 * HRS},       {64, 12 * HRS},
    {65, 12 * HRS},  {1000, 12 * HRS}, {UINT_MAX, 12 * HRS},
};

/* Domains: 1 min doubling, capped at retry_interval (20 min). */
static const struct sched_case dom_sched[] = {
    {1, 1 * MINS},  {2, 2 * MINS},   {3, 4 * MINS},
    {4, 8 * MINS},  {5, 16 * MINS},  {6, 20 * MINS},
    {7, 20 * MINS}, {20, 20 * MINS}, {UINT_MAX, 20 * MINS},
};

/* Hosts: 30 s doubling, capped at 15 min. */
static const struct sched_case host_sched[] = {
    {1, 30 * SEC},  {2, 1 * MINS},   {3, 2 * MINS},
    {4, 4 * MINS},  {5, 8 * MINS},   {6, 15 * MINS},
    {7, 15 * MINS}, {20, 15 * MINS}, {UINT_MAX, 15 * MINS},
};

static void
policy_nojitter(struct backoff_policy *p)
{
	backoff_policy_init(p, -1, -1, -1);
	p->jitter_pct = 0;
}

static void
test_defaults(void **state)
{
	struct backoff_policy p;

	(void)state;
	backoff_policy_init(&p, -1, -1, -1);
	assert_int_equal(p.retry_interval_ms, 20 * MINS);
	assert_int_equal(p.max_retry_interval_ms, 12 * HRS);
	assert_int_equal(p.message_expiration_ms, 5 * DAYS);
	assert_int_equal(p.domain_interval_ms, 1 * MINS);
	assert_int_equal(p.domain_max_ms, 20 * MINS);
	assert_int_equal(p.host_penalty_ms, 30 * SEC);
	assert_int_equal(p.host_penalty_max_ms, 15 * MINS);
	assert_int_equal(p.jitter_pct, 10);
	assert_int_equal(backoff_policy_check(&p), 0);

	/* configured values win; the domain cap follows retry_interval */
	backoff_policy_init(&p, 30 * MINS, 4 * HRS, 2 * DAYS);
	assert_int_equal(p.retry_interval_ms, 30 * MINS);
	assert_int_equal(p.max_retry_interval_ms, 4 * HRS);
	assert_int_equal(p.message_expiration_ms, 2 * DAYS);
	assert_int_equal(p.domain_max_ms, 30 * MINS);
	/* ... but never above max_retry_interval */
	backoff_policy_init(&p, 30 * MINS, 10 * MINS, 0);
	assert_int_equal(p.domain_max_ms, 10 * MINS);
	assert_int_equal(p.message_expiration_ms, 0);
	/* the host penalty never outlasts the domain cap */
	backoff_policy_init(&p, 2 * SEC, 4 * SEC, -1);
	assert_int_equal(p.domain_max_ms, 2 * SEC);
	assert_int_equal(p.host_penalty_ms, 2 * SEC);
	assert_int_equal(p.host_penalty_max_ms, 2 * SEC);
	backoff_policy_init(&p, 5 * MINS, -1, -1);
	assert_int_equal(p.host_penalty_ms, 30 * SEC);
	assert_int_equal(p.host_penalty_max_ms, 5 * MINS);
	/* a zero domain cap (tests) leaves the host schedule alone */
	backoff_policy_init(&p, 0, 0, -1);
	assert_int_equal(p.host_penalty_ms, 30 * SEC);
	assert_int_equal(p.host_penalty_max_ms, 15 * MINS);
}

/* Host failures count once per attempt window. */
static void
test_host_windows(void **state)
{
	static const struct {
		const char *what;
		int64_t started, now; /* seconds after T */
		uint32_t strikes;     /* after the failure */
		int64_t until;        /* seconds after T */
	} steps[] = {
	    {"first failure: strike 1, 30 s", 0, 1, 1, 31},
	    {"same burst (started before the strike)", 0, 2, 1, 31},
	    {"started in the strike's millisecond", 1, 3, 1, 31},
	    {"19 more of the burst change nothing", 0, 9, 1, 31},
	    {"retry after the penalty: strike 2, 60 s", 31, 32, 2, 92},
	    {"its siblings share it", 31, 33, 2, 92},
	    {"next window: strike 3, 120 s", 92, 93, 3, 213},
	};
	struct backoff_policy p;
	struct backoff_host h = {0};
	const int64_t T = 1700000000 * SEC;

	(void)state;
	policy_nojitter(&p);
	for (size_t i = 0; i < nitems(steps); i++) {
		int64_t until =
		    backoff_host_fail(&p, &h, T + steps[i].started * SEC, 7,
				      T + steps[i].now * SEC);

		if (h.strikes != steps[i].strikes ||
		    until != T + steps[i].until * SEC || until != h.until_ms)
			fail_msg("%s: strikes %u until T+%lld ms",
				 steps[i].what, h.strikes,
				 (long long)(until - T));
	}
	/* 20 sessions refused at once cost one strike, not 20 */
	h = (struct backoff_host){0};
	for (int i = 0; i < 20; i++)
		(void)backoff_host_fail(&p, &h, T, 7, T + 100 + i);
	assert_int_equal(h.strikes, 1);
	assert_int_equal(h.until_ms, T + 100 + 30 * SEC);
	/* a success (strikes reset by the caller) opens a new window even
	 * for a session started before the old strike */
	h.strikes = 0;
	(void)backoff_host_fail(&p, &h, T, 7, T + 5 * SEC);
	assert_int_equal(h.strikes, 1);
	/* the schedule is capped */
	h = (struct backoff_host){.strikes = 40, .window_ms = 0};
	assert_int_equal(backoff_host_fail(&p, &h, T, 7, T), T + 15 * MINS);
	h = (struct backoff_host){.strikes = UINT32_MAX, .window_ms = 0};
	(void)backoff_host_fail(&p, &h, T, 7, T);
	assert_int_equal(h.strikes, UINT32_MAX);
}

static void
test_check(void **state)
{
	static const struct {
		size_t off;
		int64_t v;
		int rc;
	} cases[] = {
	    {offsetof(struct backoff_policy, retry_interval_ms), -1, -EINVAL},
	    {offsetof(struct backoff_policy, retry_interval_ms), 13 * HRS,
	     -EINVAL}, /* above its cap */
	    {offsetof(struct backoff_policy, retry_interval_ms), 0, 0},
	    {offsetof(struct backoff_policy, max_retry_interval_ms), -5,
	     -EINVAL},
	    {offsetof(struct backoff_policy, max_retry_interval_ms), 20 * MINS,
	     0},
	    {offsetof(struct backoff_policy, message_expiration_ms), -1,
	     -EINVAL},
	    {offsetof(struct backoff_policy, domain_interval_ms), -1, -EINVAL},
	    {offsetof(struct backoff_policy, domain_interval_ms), 21 * MINS,
	     -EINVAL},
	    {offsetof(struct backoff_policy, domain_max_ms), -1, -EINVAL},
	    {offsetof(struct backoff_policy, host_penalty_ms), -1, -EINVAL},
	    {offsetof(struct backoff_policy, host_penalty_ms), 16 * MINS,
	     -EINVAL},
	    {offsetof(struct backoff_policy, host_penalty_max_ms), -1, -EINVAL},
	    {offsetof(struct backoff_policy, host_penalty_max_ms), INT64_MAX,
	     0},
	};
	struct backoff_policy p;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		backoff_policy_init(&p, -1, -1, -1);
		memcpy((char *)&p + cases[i].off, &cases[i].v, sizeof(int64_t));
		assert_int_equal(backoff_policy_check(&p), cases[i].rc);
	}
	backoff_policy_init(&p, -1, -1, -1);
	p.jitter_pct = BACKOFF_JITTER_PCT_MAX;
	assert_int_equal(backoff_policy_check(&p), 0);
	p.jitter_pct = BACKOFF_JITTER_PCT_MAX + 1;
	assert_int_equal(backoff_policy_check(&p), -EINVAL);
}

static void
check_sched(const struct sched_case *c, size_t n,
	    int64_t (*next)(const struct backoff_policy *, unsigned, uint64_t,
			    int64_t),
	    const char *what)
{
	struct backoff_policy p;
	const int64_t now = 1700000000 * SEC;

	policy_nojitter(&p);
	for (size_t i = 0; i < n; i++) {
		int64_t got = next(&p, c[i].n, 12345, now) - now;

		if (got != c[i].want)
			fail_msg("%s attempt %u: %lld ms, want %lld", what,
				 c[i].n, (long long)got, (long long)c[i].want);
	}
}

static void
test_schedules(void **state)
{
	(void)state;
	check_sched(msg_sched, nitems(msg_sched), backoff_next, "message");
	check_sched(dom_sched, nitems(dom_sched), backoff_domain_next,
		    "domain");
	check_sched(host_sched, nitems(host_sched), backoff_host_until, "host");
}

/* The doubling never decreases, up to and past the cap. */
static void
test_monotonic(void **state)
{
	struct backoff_policy p;
	int64_t prev = 0, d;

	(void)state;
	policy_nojitter(&p);
	for (unsigned n = 1; n < 200; n++) {
		d = backoff_next(&p, n, 0, 0);
		assert_true(d >= prev);
		assert_true(d <= p.max_retry_interval_ms);
		prev = d;
	}
	assert_int_equal(prev, p.max_retry_interval_ms);
}

static void
test_jitter(void **state)
{
	static const struct {
		int64_t base, cap;
		unsigned n, pct;
		uint64_t rnd;
		int64_t want;
	} cases[] = {
	    /* 20 min +/- 10 %: j = 2 min, rnd mod 240001 */
	    {20 * MINS, 12 * HRS, 1, 10, 0, 18 * MINS},
	    {20 * MINS, 12 * HRS, 1, 10, 2 * MINS, 20 * MINS},
	    {20 * MINS, 12 * HRS, 1, 10, 4 * MINS, 22 * MINS},
	    {20 * MINS, 12 * HRS, 1, 10, 4 * MINS + 1, 18 * MINS}, /* wraps */
	    {20 * MINS, 12 * HRS, 1, 10, UINT64_MAX,
	     18 * MINS + (int64_t)(UINT64_MAX % (4 * MINS + 1))},
	    /* at the cap, jitter only goes down */
	    {20 * MINS, 12 * HRS, 9, 10, 0, 12 * HRS - 72 * MINS},
	    {20 * MINS, 12 * HRS, 9, 10, 144 * MINS, 12 * HRS},
	    {20 * MINS, 12 * HRS, 9, 10, 50 * MINS, 12 * HRS - 22 * MINS},
	    {20 * MINS, 12 * HRS, 9, 10, 100 * MINS, 12 * HRS},
	    {20 * MINS, 12 * HRS, 9, 10, 72 * MINS, 12 * HRS},
	    /* 0 %: exact */
	    {20 * MINS, 12 * HRS, 2, 0, 999, 40 * MINS},
	    /* jitter clamped to 50 % */
	    {100, 1000, 1, 90, 0, 50},
	    {100, 1000, 1, 90, 100, 150},
	    /* too small for any jitter: 9 ms * 10 % = 0 */
	    {9, 1000, 1, 10, 5, 9},
	    /* a zero base stays zero */
	    {0, 1000, 5, 10, 77, 0},
	    /* negative inputs count as zero */
	    {-5, 1000, 1, 10, 3, 0},
	    {100, -1, 1, 10, 3, 0},
	    /* cap below base: the cap */
	    {500, 100, 1, 0, 0, 100},
	    /* extreme: the largest delay, jittered, never wraps */
	    {INT64_MAX, INT64_MAX, 1, 50, UINT64_MAX - 1,
	     INT64_MAX / 2 + 1 +
		 (int64_t)((UINT64_MAX - 1) % (uint64_t)INT64_MAX)},
	    {INT64_MAX, INT64_MAX, 1, 50, INT64_MAX - 1, INT64_MAX},
	    {INT64_MAX, INT64_MAX, UINT_MAX, 50, 0, INT64_MAX / 2 + 1},
	    {1, INT64_MAX, 63, 0, 0, (int64_t)1 << 62},
	    {1, INT64_MAX, 64, 0, 0, INT64_MAX},
	    {3, INT64_MAX, 63, 0, 0, INT64_MAX},
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		int64_t got =
		    backoff_delay(cases[i].base, cases[i].cap, cases[i].n,
				  cases[i].rnd, cases[i].pct);
		if (got != cases[i].want)
			fail_msg("case %zu: %lld, want %lld", i, (long long)got,
				 (long long)cases[i].want);
	}
}

/* Over many draws the jitter stays in bounds and actually spreads. */
static void
test_jitter_spread(void **state)
{
	struct backoff_policy p;
	int64_t lo = INT64_MAX, hi = 0;
	uint64_t x = 88172645463325252ull; /* xorshift64 */

	(void)state;
	backoff_policy_init(&p, -1, -1, -1);
	for (int i = 0; i < 10000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int64_t d = backoff_next(&p, 3, x, 0);
		lo = MIN(lo, d);
		hi = MAX(hi, d);
	}
	assert_true(lo >= 72 * MINS);
	assert_true(hi <= 88 * MINS);
	assert_true(lo < 73 * MINS); /* both ends reached, roughly */
	assert_true(hi > 87 * MINS);
}

static void
test_saturation(void **state)
{
	struct backoff_policy p;

	(void)state;
	backoff_policy_init(&p, -1, -1, -1);
	assert_int_equal(backoff_next(&p, 1, 0, INT64_MAX), INT64_MAX);
	assert_int_equal(backoff_next(&p, UINT_MAX, UINT64_MAX, INT64_MAX - 1),
			 INT64_MAX);
	assert_int_equal(backoff_domain_next(&p, 1, 0, INT64_MAX - 10),
			 INT64_MAX);
	assert_int_equal(backoff_host_until(&p, 1, 0, INT64_MAX - 10),
			 INT64_MAX);
	/* a clock before the epoch still works */
	assert_int_equal(backoff_next(&p, 1, 2 * MINS, -30 * MINS), -10 * MINS);
	assert_int_equal(backoff_next(&p, 1, 0, INT64_MIN),
			 INT64_MIN + 18 * MINS);
}

static void
test_expired(void **state)
{
	static const struct {
		int64_t recv, now, exp;
		bool want;
	} cases[] = {
	    {0, 0, 5 * DAYS, false},
	    {0, 5 * DAYS - 1, 5 * DAYS, false},
	    {0, 5 * DAYS, 5 * DAYS, true},
	    {0, 6 * DAYS, 5 * DAYS, true},
	    {1000, 1000, 0, true},  /* 0: expire at once */
	    {1000, 999, 0, false},  /* received in the future */
	    {1000, 1000, -7, true}, /* negative counts as 0 */
	    {INT64_MAX - 5, INT64_MAX, 10, false},
	    {INT64_MAX - 5, INT64_MAX, INT64_MAX, false},
	    {INT64_MIN, INT64_MAX, 5 * DAYS, true}, /* no overflow */
	    {INT64_MIN, 0, INT64_MAX, true},        /* 2^63 ms have passed */
	    {INT64_MIN, -1, INT64_MAX, true},
	    {INT64_MIN, -2, INT64_MAX, false},
	    {-10, 0, 10, true},
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		if (backoff_expired(cases[i].recv, cases[i].now,
				    cases[i].exp) != cases[i].want)
			fail_msg("case %zu: want %d", i, cases[i].want);
	}
	assert_int_equal(backoff_expiry(INT64_MAX - 1, 5), INT64_MAX);
	assert_int_equal(backoff_expiry(100, -5), 100);
	assert_int_equal(backoff_expiry(100, 5 * DAYS), 100 + 5 * DAYS);
}

static void
test_next_msg(void **state)
{
	struct backoff_policy p;
	const int64_t recv = 1000 * DAYS;

	(void)state;
	policy_nojitter(&p);
	/* early on: the plain schedule */
	assert_int_equal(backoff_next_msg(&p, 1, 0, recv + MINS, recv),
			 recv + 21 * MINS);
	/* near expiry: never past it */
	assert_int_equal(
	    backoff_next_msg(&p, 10, 0, recv + 5 * DAYS - HRS, recv),
	    recv + 5 * DAYS);
	/* already expired: now (the caller bounces) */
	assert_int_equal(backoff_next_msg(&p, 10, 0, recv + 6 * DAYS, recv),
			 recv + 6 * DAYS);
	/* a clock stepped back before reception: the plain schedule */
	assert_int_equal(backoff_next_msg(&p, 1, 0, recv - HRS, recv),
			 recv - HRS + 20 * MINS);
}

/* The worked example of docs/ERRORS.md: nominal times of attempts. */
static void
test_worked_example(void **state)
{
	static const int64_t want_min[] = {0,    20,   60,   140,  300,
					   620,  1260, 1980, 2700, 3420,
					   4140, 4860, 5580, 6300, 7020};
	struct backoff_policy p;
	int64_t t = 0;
	unsigned n = 0;

	(void)state;
	policy_nojitter(&p);
	for (;;) {
		if (n >= nitems(want_min))
			fail_msg("more attempts than the example");
		assert_int_equal(t, want_min[n] * MINS);
		n++;
		if (backoff_expired(0, t, p.message_expiration_ms))
			break;
		int64_t next = backoff_next_msg(&p, n, 0, t, 0);
		if (backoff_expired(0, next, p.message_expiration_ms) &&
		    next != backoff_expiry(0, p.message_expiration_ms))
			fail_msg("overshoots expiry");
		t = next;
		if (t == backoff_expiry(0, p.message_expiration_ms))
			break;
	}
	assert_int_equal(n, nitems(want_min));
	assert_int_equal(t, 5 * DAYS); /* the 16th and last try: at expiry */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_schedules),
	    cmocka_unit_test(test_host_windows),
	    cmocka_unit_test(test_monotonic),
	    cmocka_unit_test(test_jitter),
	    cmocka_unit_test(test_jitter_spread),
	    cmocka_unit_test(test_saturation),
	    cmocka_unit_test(test_expired),
	    cmocka_unit_test(test_next_msg),
	    cmocka_unit_test(test_worked_example),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
