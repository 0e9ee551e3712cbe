/* SPDX-License-Identifier: MIT */
/*
 * redis.h: Redis on the ring (hiredis async over fdpoll), for soft state.
 *
 * Owns two connections to one Redis (commands, and pub/sub once something
 * subscribes), their reconnection with jittered backoff, command deadlines
 * on ring timers, a write-behind batch flushed as one pipeline per loop
 * turn (or every flush_interval_ms), a bounded table of HINCRBY deltas that
 * accumulate while Redis is away, Lua scripts with a NOSCRIPT fallback, and
 * the key builder that keeps user-derived bytes out of key syntax.
 *
 * It never blocks and never queues without bound: while Redis is down,
 * rds_cmd() fails fast with -ENOTCONN.  Redis is never something delivery
 * waits on.  Every callback of this module runs from the ring's loop, never
 * from inside the call that queued the command.  Only store/redis.c
 * includes hiredis headers.
 */
#ifndef RINGMTA_REDIS_H
#define RINGMTA_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compat.h"

struct ring;
struct rds;

/* Longest name rds_key() accepts, and a buffer that fits any key. */
#define RDS_NAME_MAX 255
#define RDS_KEY_MAX  512
/* SHA-1 of a script in hex, with its NUL. */
#define RDS_SHA_LEN  41

enum rds_reply_type {
	RDS_REPLY_NIL = 0,
	RDS_REPLY_STRING,
	RDS_REPLY_STATUS, /* +OK and friends: str/len */
	RDS_REPLY_INTEGER,
	RDS_REPLY_ARRAY,
	RDS_REPLY_ERROR, /* -ERR ...: str/len hold the message */
	RDS_REPLY__COUNT /* must stay last */
};
const char *rds_reply_type_str(enum rds_reply_type t);

/*
 * A reply, translated from hiredis.  Valid only during the callback: str
 * and elem point into memory freed when the callback returns.
 */
struct rds_reply {
	enum rds_reply_type type;
	long long integer;
	const char *str; /* STRING, STATUS, ERROR; not NUL-safe: use len */
	size_t len;
	size_t nelem; /* ARRAY */
	const struct rds_reply *elem;
};

/*
 * Reply callback: status 0 with rep set (a Redis error reply is status 0
 * and type RDS_REPLY_ERROR), or status -ETIMEDOUT (deadline hit),
 * -ECONNRESET (connection lost before the reply) or -ECANCELED (rds_free)
 * with rep NULL.  Called exactly once per accepted command.
 */
typedef void rds_reply_fn(void *arg, int status, const struct rds_reply *rep);
/* Up/down notifications (one per transition). */
typedef void rds_state_fn(void *arg);
/* A pub/sub message on a subscribed channel. */
typedef void rds_msg_fn(void *arg, const char *channel, const char *payload,
			size_t len);

struct rds_opts {
	/* "/path/redis.sock", "unix:/path", "IP:PORT" or "[IPv6]:PORT". */
	const char *target;
	unsigned deadline_ms;       /* per command; default 2000 */
	unsigned backoff_min_ms;    /* default 100 */
	unsigned backoff_max_ms;    /* default 5000 */
	unsigned flush_interval_ms; /* 0: flush every loop turn */
	unsigned max_inflight;      /* default 100000 commands */
	size_t batch_max_bytes;     /* write-behind cap; default 1 MiB */
	unsigned max_deltas;        /* distinct (key, field); default 65536 */
	const char *key_prefix;     /* e.g. "ringmta"; may be NULL or "" */
	rds_state_fn *on_up, *on_down;
	void *cb_arg;
};

struct rds_stats {
	uint64_t cmds;           /* commands handed to hiredis */
	uint64_t replies;        /* replies received */
	uint64_t error_replies;  /* of which -ERR */
	uint64_t timeouts;       /* deadlines hit (connection reset) */
	uint64_t refused;        /* rds_cmd() calls refused while down */
	uint64_t outages;        /* up -> down transitions */
	uint64_t connects;       /* connection attempts */
	uint64_t write_events;   /* socket writes by hiredis (pipelining) */
	uint64_t batch_flushes;  /* non-empty write-behind flushes */
	uint64_t batch_cmds;     /* commands sent from the batch */
	uint64_t batch_dropped;  /* refused: batch full */
	uint64_t deltas_merged;  /* rds_hincrby_later() calls merged */
	uint64_t deltas_dropped; /* refused: table full or overflow */
	uint64_t deltas_sent;    /* HINCRBY commands sent */
	uint64_t deltas_unknown; /* sent, then connection lost: outcome
				  * unknown, not re-sent (at most once) */
	uint64_t deltas_failed;  /* sent, error reply */
	uint64_t messages;       /* pub/sub messages delivered */
	uint64_t noscript_retries;
};

/*
 * Create the client and start connecting (asynchronously: the outcome is
 * reported through on_up / on_down).  o->target is copied.  Returns NULL
 * with *err_r = -EINVAL for a bad target, prefix or option.
 */
struct rds *rds_new(struct ring *r, const struct rds_opts *o, int *err_r);
/*
 * Flush what can be flushed and wait for replies up to timeout_ms (running
 * ring turns), then drop the connections, cancel what is left (callbacks
 * get -ECANCELED or -ECONNRESET), wait until the ring holds nothing of
 * ours, and free.  Must not be called from one of this module's callbacks.
 * NULL is fine.
 */
void rds_free(struct rds *rds, int timeout_ms);

bool rds_is_up(const struct rds *rds);
const struct rds_stats *rds_stats(const struct rds *rds);
/* The validated key prefix ("" when none). */
const char *rds_key_prefix(const struct rds *rds);

/*
 * Send one command as argv (argvlen[i] bytes each, binary-safe; argvlen
 * NULL means NUL-terminated strings).  cb may be NULL (fire and forget).
 * The arguments are copied before return.  Returns 0 when queued (cb will
 * run exactly once), -ENOTCONN while Redis is not up, -ENOBUFS past
 * max_inflight, -EINVAL for argc < 1; on error cb is never called.
 */
int rds_cmd(struct rds *rds, rds_reply_fn *cb, void *arg, int argc,
	    const char *const *argv, const size_t *argvlen) ATTR_WUR;

/*
 * Write-behind: queue an idempotent update (HSET, SADD, EXPIRE, PUBLISH,
 * ...) for the next flush, one pipeline per loop turn or interval, with no
 * reply delivered.  Kept while Redis is down, up to batch_max_bytes.
 * Returns 0, -ENOBUFS when full (counted in batch_dropped) or -EINVAL.
 */
int rds_batch(struct rds *rds, int argc, const char *const *argv,
	      const size_t *argvlen) ATTR_WUR;

/*
 * Add delta to the pending HINCRBY key field.  Deltas for the same (key,
 * field) merge in memory and are sent once per flush while Redis is up, so
 * counters accumulate through an outage.  A flushed delta is never sent
 * twice: if the connection drops before its reply it is counted in
 * deltas_unknown.  Returns 0, -ENOBUFS (table full, new pair),
 * -ERANGE (the merged delta would overflow), -EINVAL (empty key or field).
 */
int rds_hincrby_later(struct rds *rds, const char *key, const char *field,
		      int64_t delta) ATTR_WUR;
/* Pending (key, field) pairs. */
unsigned rds_deltas_pending(const struct rds *rds);
/* The pending delta for (key, field), 0 when none. */
int64_t rds_delta_get(const struct rds *rds, const char *key,
		      const char *field);

/*
 * Subscribe to channel on the pub/sub connection (opened on first use and
 * re-subscribed after every reconnect).  channel is copied.  Returns 0,
 * -EEXIST if already subscribed, -EINVAL for an empty channel.
 */
int rds_subscribe(struct rds *rds, const char *channel, rds_msg_fn *cb,
		  void *arg) ATTR_WUR;

/*
 * Register a Lua script: computes its SHA-1 into sha_r (RDS_SHA_LEN bytes)
 * and, when up, sends SCRIPT LOAD.  The text is kept for the NOSCRIPT
 * fallback.  Returns 0 (also when already registered).
 */
int rds_script_load(struct rds *rds, const char *lua, char *sha_r) ATTR_WUR;
/*
 * EVALSHA sha numkeys keys... args...: argv holds the keys then the args.
 * On a NOSCRIPT reply the script is loaded and the call retried once.
 * Returns like rds_cmd(), or -ENOENT for a sha not registered here.
 */
int rds_evalsha(struct rds *rds, const char *sha, rds_reply_fn *cb, void *arg,
		int numkeys, int argc, const char *const *argv,
		const size_t *argvlen) ATTR_WUR;

/*
 * Build "prefix:kind:name" (or "kind:name" for an empty or NULL prefix)
 * into buf.  prefix, kind and name must be non-empty (prefix aside), at
 * most RDS_NAME_MAX bytes, and only [a-z0-9._-]: no upper case, no {},
 * glob characters, spaces, colons or control bytes, so a user-derived name
 * can neither forge another key nor pin a cluster slot.  Returns the key
 * length, -EINVAL for a refused part, -ENOSPC if buf is too small.
 */
int rds_key(char *buf, size_t len, const char *prefix, const char *kind,
	    const char *name) ATTR_WUR;
/* 0 if s is a valid key part (see rds_key), else -EINVAL. */
int rds_name_check(const char *s) ATTR_WUR;
/* A bucket in [0, mask] for pointer p (mask + 1 a power of two): the
 * hash of the store's tables keyed by record (rstate, rlease). */
size_t rds_ptr_hash(const void *p, size_t mask);

/* SHA-1 of data as 40 hex digits + NUL (exposed for tests). */
void rds_sha1_hex(const void *data, size_t len, char *hex_r);

#endif
