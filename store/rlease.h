/* SPDX-License-Identifier: MIT */
/*
 * rlease.h: cluster-wide limits through leases in Redis.
 *
 * Owns the leases this node holds for cluster_max_outbound_connections
 * (per domain) and cluster_max_outbound_connections_per_binding (per
 * binding x domain), their renewal and release, the node's entry in the
 * live-node set, and the per-domain message tokens of
 * cluster_outbound_throttle_messages.  A lease is a member
 * "NODE:INSTANCE:SEQ" of a sorted set PREFIX:lease:DOMAIN (and
 * PREFIX:lease:DOMAIN:BINDING) scored by its expiry in Redis time; one Lua
 * script (EVALSHA, reloaded on NOSCRIPT) drops expired members, counts and
 * adds in one step.  Nothing here blocks or waits: rlease_take() answers
 * from leases already granted and asks Redis, in the background and in
 * one command, for as many more as the caller wants, then pokes the
 * domain through opts.poke when they arrive.
 * It does not own the records, the Redis client, or any decision about
 * what to open: the maintainer asks, delivery gives back.
 */
#ifndef RINGMTA_RLEASE_H
#define RINGMTA_RLEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compat.h"
#include "config.h"
#include "domain.h"

struct ring;
struct rds;
struct rlease;
struct value_rate;

#define RLEASE_TTL_MS    15000 /* lease lifetime without a renewal */
#define RLEASE_RETRY_MS  250   /* ask again after a refusal or an error */
#define RLEASE_BATCH     16    /* most message tokens taken at once */
#define RLEASE_CLOSED_MS 1000  /* no token while closed: look again in */

struct rlease_opts {
	struct ring *ring;
	struct rds *rds;     /* its key prefix is used */
	const char *node_id; /* any text: made a key part (rstate_node_name) */
	unsigned ttl_ms;     /* 0: RLEASE_TTL_MS; renewed every ttl/3 */
	/* While Redis cannot grant: CLOSED refuses, LOCAL allows
	 * limit / live nodes (at least 1) on this node. */
	enum config_cluster_unreachable fallback;
	/* Ask dr's maintainer to look again at wall time when_ms (0: now):
	 * a lease or tokens arrived, room was given back, or a retry is
	 * due.  It must only schedule (arm a timer, keeping the earliest):
	 * it may run inside rlease_put() and rlease_msg_ready(), and inside
	 * rlease_take() with a when_ms in the future, never 0. */
	void (*poke)(domain_record *dr, int64_t when_ms, void *arg);
	void *cb_arg;
};

/* Counters, for tests and the logs. */
struct rlease_stats {
	uint64_t granted;  /* leases granted by Redis */
	uint64_t refused;  /* leases asked for and not granted (at the limit) */
	uint64_t lost;     /* held leases Redis no longer had at a renewal */
	uint64_t local;    /* connections allowed by the local fallback */
	uint64_t closed;   /* takes refused while Redis could not grant */
	uint64_t released; /* leases given back */
	uint64_t renewals; /* renewal commands sent */
	uint64_t errors;   /* error replies and lost commands */
	uint64_t tokens;   /* message tokens granted by Redis */
	uint64_t token_waits; /* token requests answered "not yet" */
};

/*
 * Start: registers the script and arms the renewal timer (first round on
 * the first timer tick).  The client and the ring must outlive it.
 * Returns 0 with *rl_r, -EINVAL for a bad option.
 */
int rlease_new(const struct rlease_opts *o, struct rlease **rl_r) ATTR_WUR;
/*
 * Shutdown, in this order: rlease_stop() (every lease given back through
 * the write-behind batch, no more timer), rds_free() (sends it; callbacks
 * still pending run then), rlease_free().  NULL is fine for both.
 */
void rlease_stop(struct rlease *rl);
void rlease_free(struct rlease *rl);
/*
 * Reload: ttl_ms (0: RLEASE_TTL_MS, else at least 300) is sent with every
 * acquire, renewal and node count from now on (leases held keep the
 * expiry they have until their next renewal), and the renewal period
 * becomes ttl/3 (a round due later than one new period from now is
 * moved to it).  fallback decides from the next time Redis cannot grant;
 * a switch to LOCAL pokes the domains CLOSED refused, so they ask again
 * now.  Returns 0 (also for rl NULL), or -EINVAL
 * for a bad value (nothing changed).
 */
int rlease_reconfigure(struct rlease *rl, unsigned ttl_ms,
		       enum config_cluster_unreachable fallback) ATTR_WUR;
/* Redis came up: renew (re-back leases taken locally) and poke every
 * domain refused while it was away. */
void rlease_on_up(struct rlease *rl);
/* One renewal round now (the timer calls this); returns commands sent. */
int rlease_renew(struct rlease *rl);

/*
 * May (dr, slot) open one more connection?  max_dom / max_bind are the
 * domain's cluster limits (0: none); binding names slot's binding (for
 * the key); want is how many connections the caller means to open now,
 * this one included (0 counts as 1).  Returns 1 with *ticket_r to give
 * back with rlease_put() when the connection ends (0 when no limit
 * applies: nothing to give back), or 0: not now; leases were asked for
 * (want of them, at most 48 and what the limits leave, in one EVALSHA
 * that grants up to that many), or the cluster is at its limit, and
 * opts.poke will run when it is worth asking again.  Leases granted
 * beyond what is taken wait as spares for the next calls; a spare still
 * unused at the next renewal is given back.
 */
int rlease_take(struct rlease *rl, domain_record *dr, int slot,
		const char *binding, unsigned max_dom, unsigned max_bind,
		unsigned want, uint64_t *ticket_r) ATTR_WUR;
/* Give back the lease of ticket (0 is ignored) of (dr, slot): its
 * connection ended, so the domain is poked and asks again at once.  rl
 * may be NULL. */
void rlease_put(struct rlease *rl, domain_record *dr, int slot,
		uint64_t ticket);
/* The same for a lease no connection used (refused before or at its
 * start): given back at once, but no poke and no retry reset, since it
 * made no room that was not there (a poke would take it again, and again
 * while, say, the MX lookup is pending). */
void rlease_drop(struct rlease *rl, domain_record *dr, int slot,
		 uint64_t ticket);
/* Give back at once the leases of (dr, slot) granted and not taken: the
 * caller wants no more for now (else the next renewal would).  No poke.
 * rl may be NULL. */
void rlease_trim(struct rlease *rl, domain_record *dr, int slot);
/* Leases of (dr, slot) held in use / granted and unused (tests). */
unsigned rlease_used(const struct rlease *rl, const domain_record *dr,
		     int slot);
unsigned rlease_spare(const struct rlease *rl, const domain_record *dr,
		      int slot);

/*
 * May one more message go to dr under the cluster rate (count 0: yes)?
 * Returns 1 when a token is at hand (take it with rlease_msg_use() once
 * the message is really taken), 0 when not: tokens were asked for, and
 * opts.poke runs when they arrive or when the rate allows more.
 */
int rlease_msg_ready(struct rlease *rl, domain_record *dr,
		     const struct value_rate *rate) ATTR_WUR;
/* Use the token rlease_msg_ready() found. */
void rlease_msg_use(struct rlease *rl, domain_record *dr);
/*
 * How long (ms from wall time now_ms) before a message may go to dr under
 * the cluster rate, by rlease_msg_ready()'s own steps: 0 with a token at
 * hand or no rate; the time Redis's GCRA gave for its next token;
 * RLEASE_RETRY_MS while tokens are asked for (when nothing is known and
 * none are, they are asked for now: the answer pokes dr); while Redis
 * cannot give any, RLEASE_CLOSED_MS with the closed fallback (dr is then
 * poked when Redis returns), the local share's GCRA wait with the local
 * one (the share set from rate and the live nodes, on the first call
 * too).  Takes nothing and pokes nothing itself.  For the maintainer's
 * goal, so that no session opens only to find no token.  rl may be NULL
 * (0).
 */
int64_t rlease_msg_wait(struct rlease *rl, domain_record *dr,
			const struct value_rate *rate, int64_t now_ms);

/* Live nodes last counted in Redis (at least 1). */
unsigned rlease_nodes(const struct rlease *rl);
/* The per-node share of limit while Redis is away: limit / nodes, at
 * least 1; 0 stays 0 (no limit). */
unsigned rlease_share(unsigned limit, unsigned nodes);
const struct rlease_stats *rlease_stats(const struct rlease *rl);
/* The Lua script (exposed for tests). */
extern const char rlease_lua[];

#endif
