/* SPDX-License-Identifier: MIT */
/*
 * delivery.h: the routing context and the glue between queues and
 * sessions (docs/ROUTING.md).
 *
 * struct dlv is the context every domain record points back to (dr->ctx):
 * the ring, the configuration, the spool, the delivery log, the resolver,
 * the binding table, the TLS contexts and the server-wide connection
 * count.  delivery.c turns units into struct smtpc_msg (envelope and body
 * location from the spool), and each result, through outcome.c, into spool
 * marks (delivered / deferred / bounced / expired), requeues, DSNs injected
 * through the spool, delivery-log lines and counters.  maintainer.c decides
 * when to open connections and connection.c opens them; neither decides
 * policy, which is outcome.c's and backoff.c's.
 *
 * Lifetime: dlv_new() after the spool, delivery log and domain table;
 * dlv_free() before them (it cancels every session and runs ring turns
 * until they are gone).  Single-threaded, like the ring.
 */
#ifndef RINGMTA_DELIVERY_H
#define RINGMTA_DELIVERY_H

#include <stdbool.h>
#include <stdint.h>

#include "binding.h"
#include "config.h"
#include "domain.h"
#include "outcome.h"
#include "ring.h"
#include "smtp_client.h"

struct spool;
struct spool_msg;
struct dlogw;
struct dns;
struct conn;
struct tls_ctx;
struct tls_cache;

#define DLV_TLS_CTX_MAX 8

struct dlv_tls_ent {
	enum config_tls_verify verify;
	char *ca_file; /* NULL: [tls] ca_file / system */
	struct tls_ctx *ctx;
};

struct dlv_stats {
	uint64_t sessions, sessions_failed, messages, delivered, deferred,
	    bounced, expired, failed, dsns, requeued;
};

struct dlv {
	struct ring *ring;
	const struct config *cfg;
	struct spool *sp;
	struct dlogw *dl;
	struct dom_table *doms;
	struct bnd_table *bnds;
	struct dns *dns;
	struct dlv_tls_ent tls[DLV_TLS_CTX_MAX];
	size_t ntls;
	struct tls_cache *tls_cache;
	struct conn *conns; /* every session, for shutdown */
	void *dsn_jobs;     /* DSNs being committed (delivery_dsn.c) */
	unsigned nconn;     /* server-wide */
	/* [delivery] max_connections: domains waiting for a slot (FIFO,
	 * maintainer.c), slots promised to popped waiters, idle sessions
	 * being closed to free slots, and the task that closes them. */
	struct dom_waitq srv_waitq;
	unsigned srv_reserved;
	unsigned nreclaim;
	struct ring_task reclaim_task;
	/* Sessions maint_reclaim_run may QUIT: idle, nothing in flight, not
	 * reclaimed yet (dlv_reclaim_sync keeps it so), so it never walks
	 * every session. */
	struct conn *reclaimable;
	uint64_t rng;
	bool stopping;
	struct rlease *rl; /* cluster limits (the daemon's); NULL: none */
	struct dlv_stats st;
};

struct dlv_opts {
	struct ring *ring;
	const struct config *cfg;
	struct spool *sp;
	struct dlogw *dl;
	struct dom_table *doms;
	struct bnd_table *bnds;
};

/*
 * Create the context (and its resolver from cfg [dns]).  Borrowed: every
 * pointer of o.  Returns 0 with *d_r or -errno (logged).
 */
int dlv_new(const struct dlv_opts *o, struct dlv **d_r) ATTR_WUR;
/* Cancel every session, wait for them (ring turns), free.  NULL is fine. */
void dlv_free(struct dlv *d);
/* Use cfg from now on (kept by pointer). */
void dlv_set_config(struct dlv *d, const struct config *cfg);
/*
 * Put c on d->reclaimable, or take it off, as its idle, msgs, reclaimed
 * and unlinked fields now say; call it after changing any of them.
 */
void dlv_reclaim_sync(struct dlv *d, struct conn *c);
/* The resolver options of cfg's [dns] (servers borrowed from cfg). */
struct dns_opts;
void dlv_dns_opts(const struct config *cfg, struct dns_opts *o);
/*
 * Queue the non-final recipients of live message m: one unit per domain
 * on the active queue of the message's binding (bnd_choose), and poke
 * each domain's maintainer.  Returns the number of units queued.
 */
unsigned dlv_queue_msg(struct dlv *d, const struct spool_msg *m);
/* A random 64-bit number (xorshift; for jitter and shuffles). */
uint64_t dlv_rand(struct dlv *d);

/* ---- used by connection.c and maintainer.c ---- */

/* Start (or join) the MX / relay lookup of dr; its end pokes dr. */
void dlv_resolve(struct dlv *d, domain_record *dr);
/*
 * Apply a domain-scope decision o (DEFER_DOMAIN, PURGE_DOMAIN, RETRY) to
 * every unit of dr (active, and for a purge delayed too): defer with
 * backoff, or bounce.  why is the text logged and put in DSNs.
 */
void dlv_domain_fail(struct dlv *d, domain_record *dr, const struct outcome *o,
		     int code, const char *why);
/* Move one active unit of (dr, slot) to the delayed queue (REQUEUE1). */
void dlv_requeue1(struct dlv *d, domain_record *dr, int slot, const char *why);
/*
 * Expire every active unit of dr whose message is past its domain's
 * message_expiration (RELIABILITY: nothing stays queued past its
 * lifetime because no attempt happens, e.g. behind a dead MX).  Returns
 * how many units were expired; rcvd_min_ms is exact afterwards.  O(queued
 * units): the maintainer calls it when dr's earliest unit expires.
 */
unsigned dlv_expire_sweep(struct dlv *d, domain_record *dr, int64_t now_ms);
/* Wake idle sessions of (dr, slot) that can take a queued unit. */
void dlv_kick(struct dlv *d, domain_record *dr, int slot);
/* The client TLS context for pol's verify mode and CA file (made once,
 * cached), or NULL (logged) if it cannot be built. */
struct tls_ctx *dlv_tls_ctx(struct dlv *d, const struct domain_policy *pol);
/* The session callbacks of delivery (arg: the struct conn). */
const struct smtpc_ops *dlv_smtpc_ops(void);
/* Link c into d's and its domain's session lists (counts included). */
void dlv_conn_link(struct dlv *d, struct conn *c);
/* Wall-clock milliseconds of the loop's turn. */
int64_t dlv_wall_ms(const struct dlv *d);
/* dr's effective policy: its administrative override (dr->policy_ovr)
 * if any, else config_domain() of the current config.  Valid until the
 * next config change or override update. */
const struct domain_policy *dlv_policy(const struct dlv *d,
				       const domain_record *dr);

#endif
