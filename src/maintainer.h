/* SPDX-License-Identifier: MIT */
/*
 * maintainer.h: the mail queue maintainer, one timer per domain on the
 * ring's timer heap (Momentum's per-domain maintainer event).
 *
 * A tick of domain dr moves its due delayed units to the active queues,
 * wakes idle sessions that can take them, computes the connection goal of
 * every binding (dom_conn_goal: queue depth, max_outbound_connections,
 * [delivery] max_connections, outbound_throttle_connections, the message
 * rates of this node and of the cluster, suspension, backoff, penalties),
 * takes the cluster leases the goal needs (rlease_take, all in one
 * request, once conn_can_open() says a connection could open) and opens
 * what is missing with conn_open(), each owning its lease, then re-arms
 * itself for the
 * earliest moment anything can change (a delayed unit due, the first
 * active unit's expiry, the end of a backoff, a penalty, a throttle
 * interval or a message rate's wait; the scan interval only while units
 * wait without any session).  Session ends,
 * lookups and new mail poke the domain (maint_poke) for a tick in this
 * loop turn.  No policy: that is outcome.c / backoff.c.
 */
#ifndef RINGMTA_MAINTAINER_H
#define RINGMTA_MAINTAINER_H

#include <stdbool.h>
#include <stdint.h>

#include "domain.h"

struct dlv;

/* The safety net (delayed_queue_scan_interval): how often a domain whose
 * units wait without any session ticks (expiry runs from rcvd_min_ms). */
#define MAINT_SCAN_INTERVAL_MS 15000

/* Tick dr at the end of this loop turn (timers due "now"). */
void maint_poke(domain_record *dr);
/* Tick dr no later than wall-clock when_ms (earlier arms win). */
void maint_schedule(domain_record *dr, int64_t when_ms);
/* Disarm dr's timer (shutdown). */
void maint_stop(domain_record *dr);
/* Run one tick of dr now (the timer's callback calls this). */
void maint_tick(domain_record *dr);

/*
 * The server-wide limit ([delivery] max_connections): a domain whose
 * connection goal was cut by it waits in d->srv_waitq (FIFO, once).
 * maint_srv_wait() queues dr there and asks delivery.c to close idle
 * sessions that have nothing queued (their slots go to the waiters).
 * maint_srv_release() runs when a session ended (or a granted domain did
 * not use its grant): while a slot is free beyond those already promised,
 * it pops the oldest waiter, promises it one slot (dr->srv_grants,
 * d->srv_reserved: no other domain may take it) and pokes it.  A domain
 * that still wants more after its tick queues again at the tail, so
 * domains take turns: one session each, held for at most
 * max_deliveries_per_connection units (docs/ROUTING.md).
 */
void maint_srv_wait(struct dlv *d, domain_record *dr);
void maint_srv_release(struct dlv *d);
/*
 * Domains wait for a server-wide slot: at the end of this loop turn,
 * close (d->srv_waitq.n minus those already closing) idle sessions that
 * have nothing queued for their (domain, binding), in d's session order;
 * each end hands its slot to a waiter (maint_srv_release).  The engine
 * has no graceful call for an idle session: they are cancelled.
 */
void maint_reclaim_soon(struct dlv *d);

/* What the next wake-up of a domain depends on (wall-clock ms). */
struct maint_wake_in {
	int64_t now_ms;
	int64_t next_due_ms; /* earliest delayed unit, INT64_MAX: none */
	int64_t backoff_ms;  /* domain backoff end, <= now: none */
	int64_t penalty_ms;  /* earliest penalty end, INT64_MAX: none */
	int64_t throttle_ms; /* connection throttle wait end, 0: none */
	int64_t expire_ms;   /* earliest active unit's expiry, INT64_MAX:
				none known */
	int64_t scan_ms;     /* the safety scan, INT64_MAX: none */
	uint32_t active;     /* active units left after the tick */
	unsigned nconn;      /* sessions open for the domain */
};
/*
 * When to tick next, or INT64_MAX for "only when poked": the earliest of
 * the next due unit and, while units wait on the active queue, their
 * first expiry, the safety scan and the end of the backoff / penalty /
 * throttle (those already over are ignored).  Session ends, finished
 * messages and lookups poke the domain, so nothing else needs a timer.
 */
int64_t maint_next_wake(const struct maint_wake_in *in);
/* When a message received at received_ms (INT64_MAX: none) expires under
 * expiration_ms (< 0 as 0): their sum, INT64_MAX when it overflows. */
int64_t maint_expire_at(int64_t received_ms, int64_t expiration_ms);

/* What a message rate tells the connection goal of (domain, binding). */
struct maint_rate_in {
	bool rated;       /* a message rate applies (this node's or the
			     cluster's) */
	unsigned waiting; /* sessions of the binding that take a unit now */
	unsigned nconn;   /* sessions of the domain */
	int64_t wait_ms;  /* before a message may go: the longer of this
			     node's GCRA and the cluster's next token
			     (rlease_msg_wait) */
	int64_t idle_ms;  /* idle_timeout: how long an idle session stays */
};
/*
 * Whether the message rates make more sessions useless now (the goal's
 * msg_throttled): a rate applies, and a session already waits (it takes
 * the next message the rate permits), or no message may go before
 * wait_ms and either sessions are open or one opened now would idle out
 * before then.  A domain without sessions may open one ahead of a wait
 * shorter than the idle timeout.  While it blocks, the maintainer ticks
 * again when the wait ends.
 */
bool maint_rate_blocks(const struct maint_rate_in *in);

#endif
