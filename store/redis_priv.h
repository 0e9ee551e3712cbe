/* SPDX-License-Identifier: MIT */
/*
 * redis_priv.h: private to store/redis.c and store/redis_conn.c, the two
 * halves of the hiredis client: the client's structs (they name hiredis
 * types, so this header includes hiredis and nothing outside those two
 * files may include it) and the functions one half calls in the other.
 * redis.c owns requests, replies, the write-behind batch, scripts and the
 * client's life; redis_conn.c owns the two connections' state machine
 * (connect, PING handshake, loss, backoff, reconnect) and hiredis's event
 * hooks.
 */
#ifndef RINGMTA_REDIS_PRIV_H
#define RINGMTA_REDIS_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "fdpoll.h"
#include "redis.h"
#include "redis_int.h"
#include "ring.h"
#include "timer.h"

#define RDS_ARGV_MAX 64 /* arguments of a batched or EVALSHA command */
#define RDS_MS       1000000LL

enum rds_state {
	RDS_S_DOWN = 0,   /* no context; retry timer may be armed */
	RDS_S_CONNECTING, /* context; waiting for connect (+PONG) */
	RDS_S_UP,
	RDS_S_CLOSING, /* rds_free() */
	RDS_S__COUNT   /* must stay last */
};

enum rds_kind {
	RDS_K_USER = 0,
	RDS_K_PING, /* connection handshake */
	RDS_K_BATCH,
	RDS_K_DELTA,
	RDS_K_SCRIPT,
	RDS_K_EVALSHA,
	RDS_K__COUNT /* must stay last */
};

struct rds_conn {
	struct rds *rds;
	redisAsyncContext *ac;
	struct fdpoll fp;
	struct timer retry;
	struct ring_task reap; /* deferred redisAsyncFree */
	enum rds_state state;
	bool is_sub, reading, writing;
	bool kill;       /* a reap is queued: refuse new commands */
	int fail_status; /* for callbacks of the reset: -ETIMEDOUT... */
	unsigned backoff_ms;
	char why[160];
};

struct rds_req {
	TAILQ_ENTRY(rds_req) link;
	struct rds *rds;
	rds_reply_fn *cb;
	void *arg;
	int64_t deadline;
	enum rds_kind kind;
	bool retried;
	char *pack; /* EVALSHA: packed argv, for the NOSCRIPT retry */
};
TAILQ_HEAD(rds_req_list, rds_req);

struct rds_sub {
	struct rds_sub *next;
	struct rds *rds;
	rds_msg_fn *cb;
	void *arg;
	char channel[];
};

struct rds_script {
	struct rds_script *next;
	char sha[RDS_SHA_LEN];
	char lua[];
};

struct rds {
	struct ring *ring;
	struct rds_opts o;
	char *target, *prefix, *host;
	int port; /* 0: unix socket at host */
	struct rds_conn cmd, sub;
	struct rds_req_list pending;
	unsigned npending;
	struct timer deadline_t, flush_t;
	struct ring_hook hook;
	bool up, reported, closing;
	int64_t down_since;
	uint64_t rng;
	char *bbuf; /* batch: [argc u32][len u32 bytes]... */
	size_t blen, bcap;
	struct rds_dtab deltas;
	struct rds_sub *subs;
	struct rds_script *scripts;
	struct rds_stats st;
};

/* redis_conn.c: the connections. */

/* Zero c and make it a DOWN connection of rds (is_sub: the pub/sub one). */
void rds_conn_init(struct rds *rds, struct rds_conn *c, bool is_sub);
/* Move c to state st, with one trace line per transition. */
void rds_conn_enter(struct rds_conn *c, enum rds_state st);
/* The command connection answered PING (or the pub/sub one connected):
 * mark it up, report the end of an outage, flush what waited. */
void rds_conn_up(struct rds_conn *c);
/* Drop c's context from a deferred task (never inside hiredis); the
 * callbacks of its requests see status.  No-op when already dropping. */
void rds_conn_fail(struct rds_conn *c, int status, const char *fmt, ...)
    ATTR_FMT(3, 4);
/* SUBSCRIBE s's channel on the pub/sub connection, if it has a context. */
void rds_sub_send(struct rds_sub *s);

/* redis.c: requests and the write-behind batch. */

/* Hand q to hiredis on the command connection (rds_issue), freeing q (its
 * callback never called) on failure.  Returns 0 or -ENOTCONN. */
int rds_issue_or_free(struct rds *rds, struct rds_req *q, int argc,
		      const char **argv, const size_t *lens);
/* Send the batch and the deltas that wait, if the command connection is
 * up; what cannot be queued stays for the next flush. */
void rds_flush(struct rds *rds);

#endif
