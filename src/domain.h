/* SPDX-License-Identifier: MIT */
/*
 * domain.h: domain records, their queues of delivery units, their MX set
 * with per-address state, and the pure arithmetic the maintainer runs on
 * them (MX choice with penalties, throttles, connection goal).
 *
 * A delivery unit is the set of recipients of one spooled message that
 * share one destination domain and one binding slot.  Units wait on their
 * domain's active queue for their binding (due now, FIFO; Momentum's
 * bound_active) or on the domain's delayed queue (a retry time).  A domain
 * record is interned by normalised name (value_domain: lower case, no
 * trailing dot, A-labels) and lives as long as the table.  The spool owns
 * the messages; a unit names its message by id and its recipients by
 * index, so a unit never holds addresses or bodies.
 *
 * Ownership: units are allocated here (dom_unit_new) and owned by
 * whichever queue holds them, or by the caller between dom_*_pop and the
 * next dom_*_push / dom_unit_free.  The record's maintainer timer and ctx
 * belong to maintainer.c / delivery.c; dom_table_fini() does not look at
 * them (their owners stop first).  No I/O, no clock, no policy here.
 */
#ifndef RINGMTA_DOMAIN_H
#define RINGMTA_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "compat.h"
#include "timer.h"
#include "value.h"

#define DOM_NAME_MAX 253
#define DOM_ID_LEN   16 /* SPOOL_ID_LEN */
#define DOM_ERR_MAX  160
#define DOM_IP_MAX   48

typedef struct domain_record domain_record;

struct dom_unit {
	struct dom_unit *next;
	domain_record *dr;
	int64_t due_ms; /* wall clock ms: when it may be tried (delayed) */
	/* When its message was received (wall clock ms), for the expiry:
	 * set from the spool record by whoever makes the unit (delivery.c
	 * at queue time, copied to the units a batch requeues). */
	int64_t received_ms;
	uint8_t id[DOM_ID_LEN];
	int bslot;         /* binding slot it leaves from */
	uint32_t attempts; /* attempts so far (max over its recipients) */
	uint32_t nrcpt;
	uint32_t rcpt[]; /* recipient indexes in the spooled message */
};

struct dom_queue {
	struct dom_unit *head, **tail;
	uint32_t count;
};

/* The state of the domain's MX set. */
enum dom_mx_state {
	DOM_MX_NONE = 0,  /* never resolved, or expired */
	DOM_MX_RESOLVING, /* a lookup is in flight */
	DOM_MX_READY,     /* addrs usable until mx_expires_ms */
	DOM_MX__COUNT     /* must stay last */
};
const char *dom_mx_state_str(enum dom_mx_state s);

/* One destination address of the MX set, with its own history. */
struct dom_addr {
	struct sockaddr_storage sa; /* with the delivery port */
	socklen_t len;
	char ip[DOM_IP_MAX]; /* bare address, for logs */
	char host[DOM_NAME_MAX + 1];
	uint16_t pref;
	unsigned nconn;
	uint32_t failures; /* consecutive failed sessions */
	uint32_t strikes;  /* penalty windows in a row (backoff_host_until) */
	int64_t strike_ms; /* when the last strike was counted (its window) */
	int64_t penalty_until_ms;
	int64_t plaintext_until_ms; /* opportunistic TLS failed: no STARTTLS */
	char last_error[DOM_ERR_MAX];
};

/* Per binding slot: Momentum's binding x domain. */
struct dom_bind {
	struct dom_queue active; /* due now, FIFO */
	unsigned nconn;          /* sessions open or opening */
	unsigned waiting; /* of those: connecting or idle (will take one) */
};

struct domain_record {
	char name[DOM_NAME_MAX + 1]; /* normalised: lower case A-labels */
	struct dom_bind *bind;       /* [nbind] */
	unsigned nbind;
	uint32_t nactive;         /* units on every bind[].active */
	struct dom_queue delayed; /* sorted by due_ms */
	uint64_t received;        /* units queued since start */
	uint64_t deliveries, attempts, transients, failures;
	/* MX set */
	enum dom_mx_state mx_state;
	struct dom_addr *addrs;
	size_t naddrs;
	int64_t mx_expires_ms;
	bool implicit_mx;
	/* health */
	unsigned nconn;           /* over every binding */
	uint32_t defer_failures;  /* consecutive all-hosts failures */
	int64_t backoff_until_ms; /* no connection before */
	/* The active units' age, for the maintainer's expiry timer (kept by
	 * the queue functions): the earliest received_ms among them (a lower
	 * bound: units popped since do not raise it; dom_take_msg and
	 * dom_rcvd_reset make it exact), INT64_MAX when nactive is 0. */
	int64_t rcvd_min_ms;
	uint32_t dns_failures; /* consecutive temporary DNS failures */
	bool suspended; /* by an administrator (ringctl, store/rstate.c) */
	/* The effective policy with administrative overrides applied (Redis,
	 * ringctl), or NULL: config_domain() applies.  Built, owned and
	 * rebuilt on a config change by the control code; freed with the
	 * record. */
	struct domain_policy *policy_ovr;
	char last_error[DOM_ERR_MAX];
	/* throttles: GCRA theoretical arrival times, microseconds */
	int64_t thr_msg_tat_us, thr_conn_tat_us;
	/* owners: maintainer.c (timer) and delivery.c (ctx) */
	struct timer mt_timer;
	void *ctx;   /* struct dlv: ring, config, resolver, spool */
	void *conns; /* struct conn list (delivery.c) */
	/* The server-wide waiters FIFO (struct dom_waitq, maintainer.c):
	 * domains refused by [delivery] max_connections, each at most once;
	 * srv_grants: freed slots handed to this domain, not used yet. */
	domain_record *srv_wnext, **srv_wprev;
	bool srv_waiting;
	unsigned srv_grants;
	/* Domains wait for server slots, or the server limit cut this
	 * domain's goal: the sessions it opens now QUIT as soon as nothing
	 * is queued for them (idle timeout 0), so their slots move on. */
	bool srv_tight;
	domain_record *hnext;
	/* On tab's dirty list (dom_dirty) while dirty_prev != NULL. */
	struct dom_table *tab;
	domain_record *dirty_next, **dirty_prev;
	uint64_t split_gen; /* dom_split scratch: call that set split_slot */
	uint32_t split_slot;
};

struct dom_table {
	domain_record **buckets;
	size_t nbuckets;
	size_t count;
	unsigned nbind;     /* binding slots per record */
	uint64_t units;     /* units in every queue */
	uint64_t split_gen; /* dom_split calls */
	/* Records whose published state changed (dom_dirty), oldest first;
	 * on_dirty(on_dirty_arg) runs when the list stops being empty. */
	domain_record *dirty, **dirty_tail;
	size_t ndirty;
	void (*on_dirty)(void *arg);
	void *on_dirty_arg;
};

/* An empty table whose records have nbind binding slots (>= 1). */
void dom_table_init(struct dom_table *t, unsigned nbind);
/* Free every record and every unit still queued. */
void dom_table_fini(struct dom_table *t);
/* The record for an already normalised name, or NULL. */
domain_record *dom_find(const struct dom_table *t, const char *name);
/* Find or create the record for a normalised name (<= DOM_NAME_MAX). */
domain_record *dom_get(struct dom_table *t, const char *name);
/* Call fn for every record (fn must not add or remove records). */
void dom_foreach(struct dom_table *t, void (*fn)(domain_record *, void *),
		 void *arg);
/*
 * Give every record, and the records made from now on, nbind binding
 * slots (a reload added bindings); no-op when nbind <= t->nbind.  Each
 * record's bind array moves (queues and counters are kept): nobody may
 * hold a struct dom_bind or dom_queue pointer across this call.
 */
void dom_table_grow_bind(struct dom_table *t, unsigned nbind);

/*
 * dr's published state changed (its queues, connections, counters, MX
 * state, back-off, last error, suspension or overrides; docs/REDIS.md):
 * append it to its table's dirty list unless it is already there, O(1).
 * The queue functions below call it themselves.
 */
void dom_dirty(domain_record *dr);
/* Take the oldest dirty record off the list (no longer dirty), or NULL. */
domain_record *dom_dirty_pop(struct dom_table *t);

/* A unit for message id with room for nrcpt indexes (filled by caller). */
struct dom_unit *dom_unit_new(const uint8_t id[DOM_ID_LEN], uint32_t nrcpt);
void dom_unit_free(struct dom_unit *u);

/* Append u to dr's active queue for u->bslot (u->dr = dr). */
void dom_active_push(struct dom_table *t, domain_record *dr,
		     struct dom_unit *u);
/* Put u back at the head of its active queue (a NEW_TXN, a requeue). */
void dom_active_unshift(struct dom_table *t, domain_record *dr,
			struct dom_unit *u);
/* Take the oldest active unit of binding slot, or NULL. */
struct dom_unit *dom_active_pop(struct dom_table *t, domain_record *dr,
				int slot);
/* Take the oldest active unit of any binding, or NULL. */
struct dom_unit *dom_active_pop_any(struct dom_table *t, domain_record *dr);
/* Set dr's earliest received time anew (rcvd_min_ms = min_ms): a caller
 * that requeues every active unit passes INT64_MAX first. */
void dom_rcvd_reset(domain_record *dr, int64_t min_ms);
/*
 * Take every unit of message id off dr's queues (the active ones too
 * unless delayed_only), keeping the others' order, the counters and the
 * earliest received time (exact afterwards), and mark dr dirty if one
 * was taken.  The units are appended to *tail (linked by next; *tail is
 * left at the last one's next) and owned by the caller.  Returns how
 * many were taken.
 */
unsigned dom_take_msg(struct dom_table *t, domain_record *dr,
		      const uint8_t id[DOM_ID_LEN], bool delayed_only,
		      struct dom_unit ***tail);
/* Insert u into dr's delayed queue, ordered by u->due_ms. */
void dom_delayed_push(struct dom_table *t, domain_record *dr,
		      struct dom_unit *u);
/* Take the first delayed unit, or NULL. */
struct dom_unit *dom_delayed_pop(struct dom_table *t, domain_record *dr);
/* Move delayed units due at now_ms to the active queues; returns how many. */
unsigned dom_promote_due(domain_record *dr, int64_t now_ms);
/* The earliest delayed due time, or INT64_MAX. */
int64_t dom_next_due(const domain_record *dr);

/*
 * Split recipients by domain: for each recipient address addr[i] (as
 * given, "local@domain"; the domain part is normalised with value_domain),
 * append idx[i] (i when idx is NULL: the recipient's index in its
 * message) to the unit of its domain.  Calls out(dr, unit, arg) once
 * per domain with a new unit (not queued: the caller decides where and
 * sets bslot).  Recipients whose domain does not normalise are reported
 * through bad(i, reason, arg).  Returns the number of units made.
 */
typedef void dom_split_out_fn(domain_record *dr, struct dom_unit *u, void *arg);
typedef void dom_split_bad_fn(uint32_t i, const char *why, void *arg);
unsigned dom_split(struct dom_table *t, const uint8_t id[DOM_ID_LEN],
		   const char *const *addr, const uint32_t *idx, uint32_t n,
		   dom_split_out_fn *out, dom_split_bad_fn *bad, void *arg);

/* The domain part of "local@domain" (after the last '@'), or NULL. */
const char *dom_of_addr(const char *addr);

/*
 * Replace dr's MX set with addrs[n] (copied, in the order to try them),
 * keeping the history (failures, penalty, plaintext memory, connection
 * count) of addresses already known; state READY until expires_ms.
 */
void dom_mx_set(domain_record *dr, const struct dom_addr *addrs, size_t n,
		int64_t expires_ms);
/*
 * The address a new connection should use at now_ms: among addresses not
 * penalised, those of the best (lowest) preference; among them the one with
 * fewest connections (spread), the first in order on a tie.  Returns its
 * index, or -ENOENT when every address is penalised (or there is none).
 */
int dom_mx_pick(const domain_record *dr, int64_t now_ms);
/* True if no address other than idx is eligible at now_ms. */
bool dom_mx_last(const domain_record *dr, size_t idx, int64_t now_ms);
/* The earliest end of a penalty, or INT64_MAX when none is penalised. */
int64_t dom_mx_penalty_end(const domain_record *dr);

/*
 * GCRA with a burst of one: events of rate r are spaced period/count apart.
 * If one may happen at now_us, advance *tat_us and return 0; otherwise
 * return the microseconds to wait (> 0) and change nothing.  An unlimited
 * rate (count 0) always returns 0.
 */
int64_t dom_rate_take(const struct value_rate *r, int64_t *tat_us,
		      int64_t now_us);
/* Like dom_rate_take() but only looks: the wait, 0 if allowed now. */
int64_t dom_rate_wait(const struct value_rate *r, int64_t tat_us,
		      int64_t now_us);

/*
 * A FIFO of domain records, each at most once (the domains refused by the
 * server-wide connection limit, in the order they were refused).  The
 * links live in the records (srv_wnext, srv_waiting).
 */
struct dom_waitq {
	domain_record *head, **tail;
	unsigned n;
};
void dom_waitq_init(struct dom_waitq *q);
/* Append dr unless it is already queued; true if it was appended. */
bool dom_waitq_push(struct dom_waitq *q, domain_record *dr);
/* Take the oldest record, or NULL when empty. */
domain_record *dom_waitq_pop(struct dom_waitq *q);
/* Take dr out wherever it is (no-op when it is not queued). */
void dom_waitq_remove(struct dom_waitq *q, domain_record *dr);

/*
 * Units one session should be expected to carry before the connection
 * goal opens another one for the same queue (docs/ROUTING.md, "The
 * connection goal"; chosen by measurement, see the W2 drain).
 */
#define DOM_GOAL_BATCH 1 /* 4: +300 ms for 20 units at 100 ms a message */

/* What the connection goal of one (domain, binding) depends on. */
struct dom_goal_in {
	uint32_t queued;      /* units on the binding's active queue */
	unsigned waiting;     /* sessions that take a unit now (opening/idle) */
	unsigned busy;        /* sessions in a transaction that take more */
	uint64_t capacity;    /* units waiting + busy sessions may still take */
	unsigned per_session; /* max_deliveries_per_connection; 0: no limit */
	unsigned nconn_dom;   /* sessions of the domain, every binding */
	unsigned max_dom;     /* max_outbound_connections; 0: no limit */
	unsigned nconn_bind;  /* sessions of this binding to the domain */
	unsigned max_bind;    /* the same per binding x domain; 0: no limit */
	unsigned nconn_srv;   /* sessions of the whole server */
	unsigned max_srv;     /* [delivery] max_connections; 0: no limit */
	unsigned reserved_srv; /* free server slots promised to other domains */
	unsigned throttle_ok;  /* connections the throttle allows now */
	bool suspended;        /* domain or binding suspended */
	bool backoff;          /* the domain is backing off */
	bool no_route;         /* every MX address is penalised */
	bool msg_throttled;    /* message throttle and a session waiting */
};

/* What bounded a connection goal (the last bound that cut it). */
enum dom_goal_bound {
	DOM_GOAL_QUEUE = 0, /* the queue: nothing more is needed */
	DOM_GOAL_BLOCKED,   /* suspended, backoff, no route, message throttle */
	DOM_GOAL_DOMAIN,    /* max_outbound_connections */
	DOM_GOAL_BINDING,   /* max_outbound_connections_per_binding */
	DOM_GOAL_SERVER,    /* [delivery] max_connections (and reservations) */
	DOM_GOAL_THROTTLE,  /* outbound_throttle_connections */
	DOM_GOAL__COUNT     /* must stay last */
};
const char *dom_goal_bound_str(enum dom_goal_bound b);

/*
 * How many connections to open now for one (domain, binding).  The queue
 * asks for need = max(P, C) sessions more, where
 *   B = min(per_session, DOM_GOAL_BATCH) (DOM_GOAL_BATCH if no limit),
 *   P = ceil(queued / B) - (waiting + busy), at least 0: parallelism, one
 *       session per B queued units, counting the sessions that will take
 *       units anyway (a busy session takes the next unit as soon as its
 *       transaction ends);
 *   C = ceil((queued - capacity) / per_session) when queued > capacity,
 *       else 0: capacity, because a session carries at most per_session
 *       units over its life (0 when per_session is 0: no limit).
 * need is then bounded by the domain's room (max_dom - nconn_dom), the
 * binding x domain room (max_bind - nconn_bind), the server's room
 * (max_srv - nconn_srv - reserved_srv) and throttle_ok, in that order; it
 * is 0 when suspended, backing off, without a route, or while the message
 * throttle makes sessions wait.  *bound_r (may be NULL) says which bound
 * cut the result last (DOM_GOAL_QUEUE when none did).
 */
unsigned dom_conn_goal(const struct dom_goal_in *in,
		       enum dom_goal_bound *bound_r);

#endif
