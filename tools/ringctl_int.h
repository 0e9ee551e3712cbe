/* SPDX-License-Identifier: MIT */
/*
 * ringctl_int.h: what ringctl's command files share: the blocking hiredis
 * connection and its helpers (ringctl_redis.c), used by the keys commands
 * (ringctl_redis.c) and the request/reply actions (ringctl_ctl.c).
 */
#ifndef RINGMTA_RINGCTL_INT_H
#define RINGMTA_RINGCTL_INT_H

#include <hiredis/hiredis.h>
#include <stdbool.h>

#include "jsonw.h"
#include "redis.h"
#include "ringctl.h"

struct rc {
	const struct ringctl *c;
	redisContext *ctx;
};

/* Run one command; NULL (message on stderr) on no reply or an error reply.
 * The reply is the caller's (freeReplyObject). */
redisReply *rc_cmd(struct rc *r, int argc, const char *const *argv);
/* PREFIX:kind[:name] into buf[RDS_KEY_MAX]; name NULL for fixed keys.
 * Returns 0 or -EINVAL (name not a key part). */
int rc_key(const struct rc *r, char *buf, const char *kind, const char *name);
/* Lower case, no trailing dot, a valid key part with a dot; else a clear
 * message and -EINVAL.  out has len bytes. */
int rc_domain_name(const char *in, char *out, size_t len);
/* Print w's document to the output and free it. */
void rc_json_out(const struct rc *r, struct jsonw *w);

struct rstate_ctl_msg;
/* PUBLISH m on PREFIX:ctl: the ringmta that received it, or -1. */
long long rc_publish(struct rc *r, const struct rstate_ctl_msg *m);
/* ringctl_ctl.c: queue, message, flush, fail, retry, delete. */
int rc_request(struct rc *r, const char *name, const char *arg);
/* domain NAME's live part: each ringmta's MX addresses and bindings for
 * the domain (name already normalised), printed as tables, or with w
 * (--json) as a "nodes" member of w's open object. */
void rc_domain_nodes(struct rc *r, const char *name, struct jsonw *w);

#endif
