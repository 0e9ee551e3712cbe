/* SPDX-License-Identifier: MIT */
/*
 * backoff.h: the retry schedule (docs/ERRORS.md, "Retry schedule").
 *
 * Three exponential schedules share one shape, delay(n) = base * 2^(n-1)
 * capped, then jittered by +/- jitter_pct percent and capped again:
 *  - a message's recipients after a temporary failure (outcome RETRY):
 *    retry_interval (20 min) doubling up to max_retry_interval (12 h),
 *    given up after message_expiration (5 d) from reception;
 *  - a domain whose every MX host failed (DEFER_DOMAIN): 1 min doubling up
 *    to retry_interval, so a dead domain is probed at least as often as
 *    its messages would be retried;
 *  - a host penalty (penalize_host): 30 s doubling up to 15 min, both
 *    bounded by the domain cap so every host is eligible again by then;
 *    one step per failed attempt window (backoff_host_fail), not per
 *    failed session.
 *
 * Pure: no clock and no randomness of its own; the caller passes now and a
 * random number, so tests are deterministic.  Times are milliseconds on
 * the caller's clock; every result saturates instead of overflowing.
 */
#ifndef RINGMTA_BACKOFF_H
#define RINGMTA_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

#include "compat.h"

#define BACKOFF_MIN_MS                (60 * (int64_t)1000)
#define BACKOFF_RETRY_INTERVAL_MS     (20 * BACKOFF_MIN_MS)
#define BACKOFF_MAX_RETRY_INTERVAL_MS (12 * 60 * BACKOFF_MIN_MS)
#define BACKOFF_MESSAGE_EXPIRATION_MS (5 * 24 * 60 * BACKOFF_MIN_MS)
#define BACKOFF_DOMAIN_INTERVAL_MS    BACKOFF_MIN_MS
#define BACKOFF_HOST_PENALTY_MS       (30 * (int64_t)1000)
#define BACKOFF_HOST_PENALTY_MAX_MS   (15 * BACKOFF_MIN_MS)
#define BACKOFF_JITTER_PCT            10
#define BACKOFF_JITTER_PCT_MAX        50

/* All durations in milliseconds, >= 0; see backoff_policy_check(). */
struct backoff_policy {
	int64_t retry_interval_ms;     /* first message retry */
	int64_t max_retry_interval_ms; /* message retry cap */
	int64_t message_expiration_ms; /* give up after, from reception */
	int64_t domain_interval_ms;    /* first domain backoff */
	int64_t domain_max_ms;         /* domain backoff cap */
	int64_t host_penalty_ms;       /* first host penalty */
	int64_t host_penalty_max_ms;   /* host penalty cap */
	unsigned jitter_pct;           /* +/- percent, 0..JITTER_PCT_MAX */
};

/*
 * Fill p from the three configured values ([delivery] retry_interval,
 * max_retry_interval, message_expiration; < 0 means "default") and the
 * built-in domain/host schedules: domain_max_ms = min(retry_interval,
 * max_retry_interval).
 */
void backoff_policy_init(struct backoff_policy *p, int64_t retry_interval_ms,
			 int64_t max_retry_interval_ms,
			 int64_t message_expiration_ms);

/*
 * Check p: every duration >= 0, no cap below its base (a zero base is
 * allowed: tests), jitter_pct <= BACKOFF_JITTER_PCT_MAX.  0 or -EINVAL.
 */
int backoff_policy_check(const struct backoff_policy *p) ATTR_WUR;

/*
 * The delay after the n-th consecutive failure (n = 0 counts as 1):
 * min(base * 2^(n-1), cap), moved by (rnd mod (2j+1)) - j where j is
 * jitter_pct percent of it, then clamped to [0, cap].  Negative base or
 * cap count as 0; jitter_pct is clamped to BACKOFF_JITTER_PCT_MAX.
 */
int64_t backoff_delay(int64_t base_ms, int64_t cap_ms, unsigned n, uint64_t rnd,
		      unsigned jitter_pct);

/*
 * When to retry a recipient that has failed attempts times (counting the
 * failure just seen): now_ms + the message delay.  Saturates at INT64_MAX.
 */
int64_t backoff_next(const struct backoff_policy *p, unsigned attempts,
		     uint64_t rnd, int64_t now_ms);

/*
 * backoff_next(), but never later than the message's expiry (so the last
 * attempt happens at expiry, not up to a whole cap after it) and never
 * earlier than now_ms.
 */
int64_t backoff_next_msg(const struct backoff_policy *p, unsigned attempts,
			 uint64_t rnd, int64_t now_ms, int64_t received_ms);

/* When to try a domain again after its failures-th all-hosts failure. */
int64_t backoff_domain_next(const struct backoff_policy *p, unsigned failures,
			    uint64_t rnd, int64_t now_ms);

/* Until when a host is skipped after its strikes-th penalised window. */
int64_t backoff_host_until(const struct backoff_policy *p, unsigned strikes,
			   uint64_t rnd, int64_t now_ms);

/* One host's penalty state (a struct dom_addr's, copied in and out). */
struct backoff_host {
	uint32_t strikes;  /* failed attempt windows in a row (0: healthy) */
	int64_t window_ms; /* when the current window's strike was counted */
	int64_t until_ms;  /* skipped until */
};
/*
 * A penalised failure of a session to host h that started at started_ms.
 * Failures are counted per attempt window: the first failure after a
 * success (strikes 0), or of a session started after the last strike was
 * counted, is a new strike (strikes + 1, window_ms = now_ms, until_ms =
 * backoff_host_until()); a failure of a session started at or before
 * window_ms belongs to that window and changes nothing.  So 20 sessions
 * refused at once cost one strike, not 20.  Returns h->until_ms.
 */
int64_t backoff_host_fail(const struct backoff_policy *p,
			  struct backoff_host *h, int64_t started_ms,
			  uint64_t rnd, int64_t now_ms);

/*
 * True once now_ms - received_ms >= message_expiration_ms: the message
 * must be bounced (4.4.7 -> 5.4.7) instead of retried.  A reception time
 * in the future (clock stepped back) is not expired.
 */
bool backoff_expired(int64_t received_ms, int64_t now_ms,
		     int64_t message_expiration_ms);

/* received_ms + message_expiration_ms, saturated. */
int64_t backoff_expiry(int64_t received_ms, int64_t message_expiration_ms);

#endif
