/* SPDX-License-Identifier: MIT */
/*
 * backoff.c: the retry schedule (see backoff.h).
 *
 * Owns only arithmetic: exponential delays with caps and jitter, expiry.
 * Must not read the clock, draw random numbers or know what is retried.
 * Every operation is overflow-safe for any input (huge attempt counts,
 * INT64_MAX times, negative durations), because attempt counters and
 * times come from the spool and may be garbage after a bug.
 */
#include "backoff.h"

#include <errno.h>

/* a + b for b >= 0, saturated at INT64_MAX. */
static int64_t
backoff_add(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	return a + b;
}

/* min(base * 2^(n-1), cap) without overflow; base, cap >= 0. */
static int64_t
backoff_exp(int64_t base, int64_t cap, unsigned n)
{
	unsigned shift = n > 0 ? n - 1 : 0;

	if (base == 0)
		return 0;
	if (base >= cap || shift >= 63 || base > (cap >> shift))
		return cap;
	return base << shift;
}

/* pct percent of d without overflow; d >= 0, pct <= 100. */
static uint64_t
backoff_pct(int64_t d, unsigned pct)
{
	uint64_t u = (uint64_t)d;

	return u / 100 * pct + u % 100 * pct / 100;
}

/* The delay after n failures; see backoff.h. */
int64_t
backoff_delay(int64_t base_ms, int64_t cap_ms, unsigned n, uint64_t rnd,
	      unsigned jitter_pct)
{
	int64_t base = MAX(base_ms, 0), cap = MAX(cap_ms, 0);
	int64_t d = backoff_exp(base, cap, n);
	uint64_t j, v;

	j = backoff_pct(d, MIN(jitter_pct, BACKOFF_JITTER_PCT_MAX));
	if (j == 0)
		return d;
	/* d + j <= 1.5 * INT64_MAX fits in uint64_t; so does 2j + 1. */
	v = (uint64_t)d - j + rnd % (2 * j + 1);
	return v > (uint64_t)cap ? cap : (int64_t)v;
}

/* Fill p from the configured values; see backoff.h. */
void
backoff_policy_init(struct backoff_policy *p, int64_t retry_interval_ms,
		    int64_t max_retry_interval_ms,
		    int64_t message_expiration_ms)
{
	p->retry_interval_ms = retry_interval_ms >= 0
				   ? retry_interval_ms
				   : BACKOFF_RETRY_INTERVAL_MS;
	p->max_retry_interval_ms = max_retry_interval_ms >= 0
				       ? max_retry_interval_ms
				       : BACKOFF_MAX_RETRY_INTERVAL_MS;
	p->message_expiration_ms = message_expiration_ms >= 0
				       ? message_expiration_ms
				       : BACKOFF_MESSAGE_EXPIRATION_MS;
	p->domain_interval_ms = BACKOFF_DOMAIN_INTERVAL_MS;
	p->domain_max_ms = MIN(p->retry_interval_ms, p->max_retry_interval_ms);
	/* A host is never skipped longer than its domain would wait: every
	 * host is eligible again when the domain retries. */
	p->host_penalty_ms = BACKOFF_HOST_PENALTY_MS;
	p->host_penalty_max_ms = BACKOFF_HOST_PENALTY_MAX_MS;
	if (p->domain_max_ms > 0) {
		p->host_penalty_ms = MIN(p->host_penalty_ms, p->domain_max_ms);
		p->host_penalty_max_ms =
		    MIN(p->host_penalty_max_ms, p->domain_max_ms);
	}
	p->jitter_pct = BACKOFF_JITTER_PCT;
}

/* Validate p; see backoff.h. */
int
backoff_policy_check(const struct backoff_policy *p)
{
	if (p->retry_interval_ms < 0 || p->max_retry_interval_ms < 0 ||
	    p->message_expiration_ms < 0 || p->domain_interval_ms < 0 ||
	    p->domain_max_ms < 0 || p->host_penalty_ms < 0 ||
	    p->host_penalty_max_ms < 0)
		return -EINVAL;
	if (p->max_retry_interval_ms < p->retry_interval_ms ||
	    p->domain_max_ms < p->domain_interval_ms ||
	    p->host_penalty_max_ms < p->host_penalty_ms)
		return -EINVAL;
	if (p->jitter_pct > BACKOFF_JITTER_PCT_MAX)
		return -EINVAL;
	return 0;
}

/* now + the message delay after attempts failures; see backoff.h. */
int64_t
backoff_next(const struct backoff_policy *p, unsigned attempts, uint64_t rnd,
	     int64_t now_ms)
{
	return backoff_add(now_ms, backoff_delay(p->retry_interval_ms,
						 p->max_retry_interval_ms,
						 attempts, rnd, p->jitter_pct));
}

/* backoff_next() clamped to [now, expiry]; see backoff.h. */
int64_t
backoff_next_msg(const struct backoff_policy *p, unsigned attempts,
		 uint64_t rnd, int64_t now_ms, int64_t received_ms)
{
	int64_t next = backoff_next(p, attempts, rnd, now_ms);
	int64_t exp = backoff_expiry(received_ms, p->message_expiration_ms);

	return MAX(MIN(next, exp), now_ms);
}

/* now + the domain delay; see backoff.h. */
int64_t
backoff_domain_next(const struct backoff_policy *p, unsigned failures,
		    uint64_t rnd, int64_t now_ms)
{
	return backoff_add(now_ms, backoff_delay(p->domain_interval_ms,
						 p->domain_max_ms, failures,
						 rnd, p->jitter_pct));
}

/* now + the host penalty; see backoff.h. */
int64_t
backoff_host_until(const struct backoff_policy *p, unsigned strikes,
		   uint64_t rnd, int64_t now_ms)
{
	return backoff_add(now_ms, backoff_delay(p->host_penalty_ms,
						 p->host_penalty_max_ms,
						 strikes, rnd, p->jitter_pct));
}

/* One strike per attempt window; see backoff.h. */
int64_t
backoff_host_fail(const struct backoff_policy *p, struct backoff_host *h,
		  int64_t started_ms, uint64_t rnd, int64_t now_ms)
{
	/* Sessions started before the last strike was counted were opened
	 * in the same window (before the host was known to be failing): they
	 * share that strike and its penalty. */
	if (h->strikes > 0 && started_ms <= h->window_ms)
		return h->until_ms;
	if (h->strikes < UINT32_MAX)
		h->strikes++;
	h->window_ms = now_ms;
	h->until_ms = backoff_host_until(p, h->strikes, rnd, now_ms);
	return h->until_ms;
}

/* received + expiration, saturated at both ends. */
int64_t
backoff_expiry(int64_t received_ms, int64_t message_expiration_ms)
{
	return backoff_add(received_ms, MAX(message_expiration_ms, 0));
}

/* Has the message outlived message_expiration_ms?  See backoff.h. */
bool
backoff_expired(int64_t received_ms, int64_t now_ms,
		int64_t message_expiration_ms)
{
	/* now - received is exact in uint64_t once now >= received */
	if (now_ms < received_ms)
		return false;
	return (uint64_t)now_ms - (uint64_t)received_ms >=
	       (uint64_t)MAX(message_expiration_ms, 0);
}
