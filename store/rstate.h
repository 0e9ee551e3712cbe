/* SPDX-License-Identifier: MIT */
/*
 * rstate.h: ringmta's state in Redis, published from the daemon's
 * in-memory records, and the administrative suspensions read back.
 *
 * Owns the publication of PREFIX:domain:NAME, PREFIX:domains,
 * PREFIX:binding:NAME, PREFIX:node:ID and PREFIX:stats (docs/REDIS.md
 * "Keys"): at most once a second (a data loss's repair goes at once), only
 * the domain records marked with dom_dirty() since the last round, and a
 * heartbeat every RSTATE_BEAT_MS; and the domain suspensions kept in
 * PREFIX:suspended and announced on PREFIX:ctl.
 * Gauges go out as HSET through rds_batch() (only what changed), counters as
 * HINCRBY deltas through rds_hincrby_later(), so nothing here waits on Redis
 * and an outage only delays the writes.  It does not own the tables it reads,
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
/* The node's hash is written at least this often (its heartbeat), and
 * with every round that has a dirty record; an idle round in between
 * sends nothing. */
#define RSTATE_BEAT_MS     3000
/* PREFIX:node:ID's *_per_min rates: over the rounds of the last minute. */
#define RSTATE_RATE_MS     60000
#define RSTATE_NODE_MAX    64

/*
 * A command on PREFIX:ctl (docs/REDIS.md "Control"): "suspend NAME",
 * "resume NAME", "override NAME" (reload PREFIX:override:NAME), or a
 * request "OP REQID [ARG [quiet]]" that every node answers into
 * PREFIX:reply:REQID.
 */
enum rstate_ctl {
	RSTATE_CTL_SUSPEND = 0,
	RSTATE_CTL_RESUME,
	RSTATE_CTL_OVERRIDE,
	RSTATE_CTL_QUEUE,   /* [DOMAIN] */
	RSTATE_CTL_MESSAGE, /* ID */
	RSTATE_CTL_FLUSH,   /* DOMAIN | all */
	RSTATE_CTL_FAIL,    /* DOMAIN [quiet] */
	RSTATE_CTL_RETRY,   /* ID */
	RSTATE_CTL_DELETE,  /* ID */
	RSTATE_CTL_DOMAIN,  /* DOMAIN: its MX hosts, bindings, last errors */
	RSTATE_CTL__COUNT   /* must stay last */
};
const char *rstate_ctl_str(enum rstate_ctl c);

#define RSTATE_REQID_LEN   16 /* hex digits of a request id */
#define RSTATE_MSGID_LEN   32 /* hex digits of a message id (spool_id_str) */
#define RSTATE_REPLY_TTL_S 60

/* A parsed PREFIX:ctl payload. */
struct rstate_ctl_msg {
	enum rstate_ctl op;
	char reqid[RSTATE_REQID_LEN + 1]; /* "" for suspend/resume/override */
	char arg[DOM_NAME_MAX + 1];       /* domain, "all", message id, "" */
	bool quiet;                       /* fail ... quiet */
};
/* True for the ops that carry a request id and want a reply. */
bool rstate_ctl_is_request(enum rstate_ctl op);

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
	/* A request arrived on PREFIX:ctl; answer with rstate_reply().  May
	 * be NULL (requests are ignored). */
	void (*on_request)(const struct rstate_ctl_msg *m, void *arg);
	/* dr's overrides changed: text is "key=value ..." as read from
	 * PREFIX:override:NAME (only [!-~] bytes), or NULL for none.  May
	 * be NULL. */
	void (*on_override)(domain_record *dr, const char *text, void *arg);
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
/*
 * Publish one round now (the timer calls this): the records marked with
 * dom_dirty() since the last round, the bindings, and the node's hash.
 * With no dirty record and the node's hash not due (RSTATE_BEAT_MS after
 * it was last written) it does nothing: no walk, no command.  Returns the
 * commands queued.
 */
int rstate_publish(struct rstate *rs, int64_t wall_ms);
/*
 * Parse a PREFIX:ctl payload (len bytes, store/rstate_ctl.c): words
 * separated by one space; NAME a valid lower-case key part
 * (rds_name_check), REQID 16 lower-case hex digits, ID 32.  "all" only
 * for flush, "quiet" only after fail's domain.  Returns 0 or -EINVAL.
 */
int rstate_ctl_parse(const char *msg, size_t len,
		     struct rstate_ctl_msg *m_r) ATTR_WUR;
/*
 * An administrator's domain name as a key part (what ringctl accepts):
 * ASCII lower-cased, one trailing dot removed, then rds_name_check() and
 * at least one dot.  out has len bytes.  Returns 0, -EINVAL or
 * -ENAMETOOLONG.
 */
int rstate_domain_name(const char *in, char *out, size_t len) ATTR_WUR;
/* Format m as a payload into buf; returns its length, or -ENOSPC. */
int rstate_ctl_format(const struct rstate_ctl_msg *m, char *buf,
		      size_t len) ATTR_WUR;
/* Parse and apply a PREFIX:ctl payload; returns 0 or -EINVAL (ignored). */
int rstate_ctl_apply(struct rstate *rs, const char *msg, size_t len);
/*
 * Answer request reqid: RPUSH PREFIX:reply:REQID payload, then EXPIRE it
 * (RSTATE_REPLY_TTL_S), write-behind.  payload is copied.  Returns 0 or
 * -errno (-EINVAL: bad reqid; -ENOBUFS: batch full).
 */
int rstate_reply(struct rstate *rs, const char *reqid, const char *payload,
		 size_t len) ATTR_WUR;
/* This node's id as a key part (rstate_node_name of node_id). */
const char *rstate_node(const struct rstate *rs);
/* Call on_override for every domain with overrides (after a config
 * reload, so each is rebuilt on the new policy). */
void rstate_overrides_reapply(struct rstate *rs);
/* The overrides text of name, or NULL. */
const char *rstate_override_text(const struct rstate *rs, const char *name);

/*
 * Reply records (store/rstate_ctl.c): lines of "key=value" fields
 * separated by tabs, values with tabs, newlines and control bytes made
 * spaces.  The first record of a node's reply is its header (node,
 * status, count, text); rows follow.
 */
struct rstate_out {
	char *buf; /* NUL-terminated; owned */
	size_t len, cap;
	bool open; /* a record has fields */
};
void rstate_out_kv(struct rstate_out *o, const char *key, const char *val);
void rstate_out_kvf(struct rstate_out *o, const char *key, const char *fmt, ...)
    ATTR_FMT(3, 4);
/* Append n bytes verbatim (records already built elsewhere). */
void rstate_out_raw(struct rstate_out *o, const char *s, size_t n);
/* End the current record. */
void rstate_out_end(struct rstate_out *o);
void rstate_out_fini(struct rstate_out *o);

#define RSTATE_REC_MAX 24
struct rstate_rec {
	unsigned n;
	const char *key[RSTATE_REC_MAX], *val[RSTATE_REC_MAX];
};
/*
 * Split the next record at *p in place (a NUL-terminated buffer the
 * caller owns): returns 1 with r filled and *p advanced, 0 at the end.
 * Fields past RSTATE_REC_MAX and fields without '=' are dropped.
 */
int rstate_rec_next(char **p, struct rstate_rec *r);
/* The value of key in r, or "" when absent. */
const char *rstate_rec_get(const struct rstate_rec *r, const char *key);
/*
 * Make a node id a key part: lower case, bytes outside [a-z0-9._-] become
 * '-', at most RSTATE_NODE_MAX bytes; empty or NULL gives "node".  out has
 * RSTATE_NODE_MAX + 1 bytes.
 */
void rstate_node_name(const char *in, char *out);
/*
 * The binding table grew from old_cap slots to bnds->cap (a reload added
 * bindings, bnd_table_reload): the per-binding gauges grow with it (the
 * new ones zeroed).  Call it before the next round.
 */
void rstate_bnds_grown(struct rstate *rs, size_t old_cap);

#endif
