/* SPDX-License-Identifier: MIT */
/*
 * connection.h: opening outbound connections for a (domain, binding) pair
 * (the seed's contract, DESIGN.md "The seed's contract").
 *
 * The maintainer calls conn_open(dr, binding, now, lease) (lease 0 without
 * cluster limits; with them after conn_can_open() said yes) when a domain
 * wants one more connection from binding slot `binding`;
 * initiate_connection_smtp(dr, binding, now) is the seed's form of it,
 * with no lease.  It checks
 * the binding and the domain, makes sure the MX set is known (starting the
 * lookup if not), calls initiate_connection() with the SMTP callbacks, and
 * takes the CONN_ACTION_* actions carried by a failure.  "Staging" a
 * connection means creating its session and preparing its connect (with
 * the connect deadline as a linked timeout) as SQEs on the ring: the batch
 * goes to the kernel with the loop's next submit, and the outcome arrives
 * later through the session's callbacks (delivery.c).
 *
 * Error words: initiate_connection() returns a handle, or NULL with
 * *error = one CONN_ERR_* code (low 8 bits) possibly ORed with CONN_ACTION_*
 * flags (as in Momentum).  initiate_connection_smtp() returns 0, or
 * CONN_ERROR(that word), a negative int; conn_error_code() and
 * conn_error_actions() take it apart again.
 *
 * Ownership: a struct conn is allocated here and freed by delivery.c when
 * its session's on_close() runs; the caller never frees a handle.
 */
#ifndef RINGMTA_CONNECTION_H
#define RINGMTA_CONNECTION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "domain.h"

struct dlv;
struct smtpc;

/* Why a connection was not opened (the low 8 bits of an error word). */
enum conn_err {
	CONN_OK = 0,                /* no error */
	CONN_ERR_BAD_BINDING,       /* slot out of range, or dr has no ctx */
	CONN_ERR_BINDING_SUSPENDED, /* binding suspended (EADDRNOTAVAIL...) */
	CONN_ERR_DOMAIN_SUSPENDED,  /* `suspended = true` for the domain */
	CONN_ERR_BACKOFF,           /* every MX failed: domain backing off */
	CONN_ERR_NO_MESSAGES,       /* nothing queued for (domain, binding) */
	CONN_ERR_DNS_PENDING,  /* MX lookup in flight: tick again at its end */
	CONN_ERR_DNS_TEMP,     /* lookup failed temporarily (SERVFAIL, timeout,
				  no usable address): defer the domain */
	CONN_ERR_DNS_PERM,     /* NXDOMAIN (5.1.2), null MX (5.1.10), bad
				  name: purge the domain */
	CONN_ERR_NO_ROUTE,     /* every MX address is penalised */
	CONN_ERR_LIMIT,        /* max_outbound_connections or [delivery]
				  max_connections reached */
	CONN_ERR_THROTTLED,    /* outbound_throttle_connections: not yet */
	CONN_ERR_SOCKET,       /* socket()/bind() failed on our side (EMFILE,
				  ENOBUFS...): requeue one, try later */
	CONN_ERR_ADDR_UNAVAIL, /* the binding's source address is not on the
				  host (EADDRNOTAVAIL): suspend it */
	CONN_ERR__COUNT        /* must stay last */
};
const char *conn_err_str(enum conn_err e);

/* Actions ORed into an error word; the caller of initiate_connection()
 * takes them (initiate_connection_smtp() does). */
enum conn_action {
	CONN_ACTION_REQUEUE1 = 1u << 8,        /* move one active unit of the
						  binding to the delayed queue */
	CONN_ACTION_PURGE_DOMAIN = 1u << 9,    /* bounce every unit of the
						  domain (every binding) */
	CONN_ACTION_DEFER_DOMAIN = 1u << 10,   /* defer every active unit,
						  back the domain off */
	CONN_ACTION_SUSPEND_BINDING = 1u << 11 /* suspend the binding, log
						  once */
};
#define CONN_ERR_MASK    0xffu
#define CONN_ACTION_MASK 0xf00u
/* The name of one action flag ("requeue1"), "?" otherwise. */
const char *conn_action_str(unsigned action);

/* An error word as initiate_connection_smtp()'s negative return value. */
#define CONN_ERROR(x)                                                          \
	(-(int)((unsigned)(x) & (CONN_ERR_MASK | CONN_ACTION_MASK)))
/* The CONN_ERR_* code of a return value (CONN_OK for rc >= 0). */
static inline enum conn_err
conn_error_code(int rc)
{
	return rc < 0 ? (enum conn_err)((unsigned)-rc & CONN_ERR_MASK)
		      : CONN_OK;
}
/* The CONN_ACTION_* flags of a return value (0 for rc >= 0). */
static inline unsigned
conn_error_actions(int rc)
{
	return rc < 0 ? (unsigned)-rc & CONN_ACTION_MASK : 0;
}
/*
 * The error word for a local -errno from socket()/bind()/connect setup:
 * -EADDRNOTAVAIL, -EADDRINUSE (no source port) -> CONN_ERR_ADDR_UNAVAIL |
 * SUSPEND_BINDING; anything else
 * -> CONN_ERR_SOCKET | REQUEUE1.
 */
unsigned conn_err_from_errno(int err);
/*
 * The error word for a failed lookup (enum dns_status): permanent ->
 * CONN_ERR_DNS_PERM | PURGE_DOMAIN, temporary -> CONN_ERR_DNS_TEMP |
 * DEFER_DOMAIN, DNS_OK -> CONN_OK.
 */
unsigned conn_err_from_dns(int dns_status);

/* An open (or opening) connection: one SMTP session of (domain, binding)
 * to one address.  Owned by delivery.c once initiate_connection returns. */
struct conn;
typedef void conn_finish_fn(struct conn *c, int err, void *udata);
typedef void conn_timeout_fn(struct conn *c, void *udata);

struct conn {
	struct conn *next, *prev;    /* dlv->conns */
	struct conn *dnext, **dprev; /* the domain's sessions */
	struct dlv *dlv;
	domain_record *dr;
	int bslot;
	uint64_t lease; /* cluster lease (rlease_take ticket), 0: none */
	struct smtpc *s;
	struct sockaddr_storage dst; /* to find the dom_addr again */
	socklen_t dst_len;
	char host[DOM_NAME_MAX + 1];
	char ip[DOM_IP_MAX];
	conn_finish_fn *finish;   /* first message asked: connected */
	conn_timeout_fn *timeout; /* connect deadline hit */
	void *udata;
	int64_t t0_ns;     /* staged at */
	int64_t t0_ms;     /* staged at, wall clock (penalty windows) */
	bool connected;    /* finish() was called */
	bool waiting;      /* counted in bind[].waiting */
	bool idle;         /* next_msg returned NULL: smtpc_kick wakes it */
	bool start_failed; /* error returned synchronously: on_close only
			      frees */
	bool tls_tried;    /* STARTTLS policy was not none */
	unsigned msgs;     /* messages in flight */
	unsigned taken;    /* messages taken */
	bool no_reuse;     /* an outcome said: no more messages */
	bool reclaimed;    /* closed idle to free a server-wide slot */
	bool unlinked;     /* off the dlv's lists (dlv_conn_unlink) */
	/* On dlv.reclaimable while rprev != NULL (dlv_reclaim_sync). */
	struct conn *rnext, **rprev;
};

/*
 * Open a connection for (dr, binding): pick the MX address (dom_mx_pick),
 * take a connection-throttle token, create the SMTP session and stage its
 * connect.  Returns the handle, or NULL with *error = CONN_ERR_* [|
 * CONN_ACTION_*].  finish(c, 0, udata) runs when the session is ready for
 * its first message (or finish(c, -errno) when it failed after staging);
 * timeout(c, udata) when the connect deadline passed.  now is wall time.
 */
struct conn *initiate_connection(domain_record *dr, int binding,
				 struct timeval *now, conn_finish_fn *finish,
				 conn_timeout_fn *timeout, void *user_data,
				 int *error);

/*
 * Called by the maintainer to open one SMTP connection for domain dr from
 * binding slot `binding`.  Calls initiate_connection() with the SMTP
 * callbacks and takes the needed CONN_ACTION_* actions (requeue one,
 * purge or defer the domain, suspend the binding).  Returns 0 on success,
 * CONN_ERROR(initiate_connection's error word) on error.
 */
int initiate_connection_smtp(domain_record *dr, int binding,
			     struct timeval *now);

/*
 * initiate_connection_smtp() for a connection that holds a cluster lease:
 * lease (an rlease_take() ticket of (dr, binding) on dr's context's
 * rlease; 0: none) goes to the connection made (c->lease, given back
 * when its session ends); on every refusal, and when the session's start
 * fails, it is given back at once (rlease_drop).  Either way the call
 * consumes it.  A lease for a dr without a context is a bug (BUG_ON).
 * Returns like initiate_connection_smtp().
 */
int conn_open(domain_record *dr, int binding, struct timeval *now,
	      uint64_t lease);

/*
 * Would a connection of (dr, binding) be refused now, before any cluster
 * lease is asked for?  Checks what initiate_connection() checks before it
 * makes one (binding, suspension, backoff, queue, limits, the MX set,
 * starting its lookup if it is missing or stale, a usable address, the
 * connection throttle), takes nothing and no action.  Returns 0 or
 * CONN_ERROR(the error word initiate_connection() would give).
 */
int conn_can_open(domain_record *dr, int binding, struct timeval *now);

#endif
