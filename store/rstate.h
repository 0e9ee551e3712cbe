/* SPDX-License-Identifier: MIT */
/*
 * rstate.h: ringmta's state in Redis, published from the daemon's
 * in-memory records, and the administrative suspensions read back.
 *
 * Owns the once-a-second publication of PREFIX:domain:NAME,
 * PREFIX:domains, PREFIX:binding:NAME, PREFIX:node:ID and PREFIX:stats
 * (docs/REDIS.md "Keys"), and the domain suspensions kept in
 * PREFIX:suspended and announced on PREFIX:ctl.  Gauges go out as HSET
 * through rds_batch() (only what changed), counters as HINCRBY deltas
 * through rds_hincrby_later(), so nothing here waits on Redis and an
 * outage only delays the writes.  It does not own the tables it reads,
 * the Redis client, or any delivery policy: a suspension only sets
 * domain_record.suspended and pokes the domain's maintainer.
 */
#ifndef RINGMTA_RSTATE_H
#define RINGMTA_RSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compat.h"
#include "domain.h"

struct ring;
struct rds;
struct bnd_table;
struct rstate;

#define RSTATE_INTERVAL_MS 1000
#define RSTATE_NODE_TTL_S  10
#define RSTATE_NODE_MAX    64

/* A command on PREFIX:ctl: "suspend NAME" or "resume NAME". */
enum rstate_ctl {
	RSTATE_CTL_SUSPEND = 0,
	RSTATE_CTL_RESUME,
	RSTATE_CTL__COUNT /* must stay last */
};
const char *rstate_ctl_str(enum rstate_ctl c);

struct rstate_opts {
	struct ring *ring;
	struct rds *rds; /* its key prefix is used */
	struct dom_table *doms;
	struct bnd_table *bnds;
	const char *node_id; /* any text: made a key part (rstate_node_name) */
	const char *version;
	unsigned
	    interval_ms; /* 0: RSTATE_INTERVAL_MS; timer off if ring NULL */
	/* A domain was resumed: poke its maintainer.  May be NULL. */
	void (*on_resume)(domain_record *dr, void *arg);
	void *cb_arg;
};

/*
 * Start publishing (first round on the first timer tick) and subscribe to
 * PREFIX:ctl.  The tables, the client and the ring must outlive it.
 * Returns 0 with *rs_r, or -EINVAL (bad prefix) / -errno.
 */
int rstate_new(const struct rstate_opts *o, struct rstate **rs_r) ATTR_WUR;
/*
 * Shutdown, in this order: rstate_stop() (a last round of writes, then no
 * more timer), rds_free() (flushes them; no callback of ours runs after
 * it), rstate_free().  NULL is fine for both.
 */
void rstate_stop(struct rstate *rs);
void rstate_free(struct rstate *rs);
/*
 * Redis came up: reload PREFIX:suspended (SMEMBERS) and make the records
 * agree with it (a pub/sub message may have been missed while down).
 */
void rstate_on_up(struct rstate *rs);
/*
 * The spool's replay has been queued: the units counted in the records'
 * `received` so far were counted before a restart, so take them as
 * already published (PREFIX:*:received counts intake, not replays).
 */
void rstate_replayed(struct rstate *rs);
/* True once the suspensions have been read once since rstate_new(). */
bool rstate_ready(const struct rstate *rs);
/* Publish one round now (the timer calls this); returns commands queued. */
int rstate_publish(struct rstate *rs, int64_t wall_ms);
/*
 * Parse a PREFIX:ctl payload (len bytes): "suspend NAME" / "resume NAME"
 * with one space, NAME a valid lower-case key part (rds_name_check).
 * Copies NAME into name (DOM_NAME_MAX + 1 bytes).  Returns 0 or -EINVAL.
 */
int rstate_ctl_parse(const char *msg, size_t len, enum rstate_ctl *op_r,
		     char *name) ATTR_WUR;
/* Parse and apply a PREFIX:ctl payload; returns 0 or -EINVAL (ignored). */
int rstate_ctl_apply(struct rstate *rs, const char *msg, size_t len);
/*
 * Make a node id a key part: lower case, bytes outside [a-z0-9._-] become
 * '-', at most RSTATE_NODE_MAX bytes; empty or NULL gives "node".  out has
 * RSTATE_NODE_MAX + 1 bytes.
 */
void rstate_node_name(const char *in, char *out);

#endif
