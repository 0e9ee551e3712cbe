/* SPDX-License-Identifier: MIT */
/*
 * maintainer.c: per-domain ticks: promote due units, open what the
 * connection goal says is missing, schedule the next tick.  Owns only the
 * domain's mt_timer; everything it changes goes through domain.c,
 * connection.c and delivery.c.
 */
#include "maintainer.h"

#include <sys/time.h>

#include "backoff.h"
#include "binding.h"
#include "config.h"
#include "connection.h"
#include "delivery.h"
#include "log.h"
#include "rlease.h"
#include "smtp_client.h"
#include "timer.h"

static void
maint_on_timer(struct timer *t)
{
	maint_tick(container_of(t, domain_record, mt_timer));
}

static void
maint_arm(domain_record *dr, int64_t when_ns)
{
	struct dlv *d = dr->ctx;
	struct timer_heap *h = ring_timers(d->ring);

	if (dr->mt_timer.fn == NULL)
		timer_init(&dr->mt_timer, maint_on_timer);
	if (timer_armed(&dr->mt_timer) && dr->mt_timer.when <= when_ns)
		return;
	timer_arm(h, &dr->mt_timer, when_ns);
}

void
maint_poke(domain_record *dr)
{
	struct dlv *d = dr->ctx;

	if (d == NULL || d->stopping)
		return;
	maint_arm(dr, ring_now(d->ring));
}

void
maint_schedule(domain_record *dr, int64_t when_ms)
{
	struct dlv *d = dr->ctx;
	int64_t delta_ms;

	if (d == NULL || d->stopping || when_ms == INT64_MAX)
		return;
	delta_ms = when_ms - dlv_wall_ms(d);
	if (delta_ms < 0)
		delta_ms = 0;
	maint_arm(dr, ring_now(d->ring) + delta_ms * 1000000);
}

void
maint_stop(domain_record *dr)
{
	struct dlv *d = dr->ctx;

	if (d && timer_armed(&dr->mt_timer))
		timer_cancel(ring_timers(d->ring), &dr->mt_timer);
}

int64_t
maint_next_wake(const struct maint_wake_in *in)
{
	int64_t when = in->next_due_ms;

	if (in->active > 0) {
		int64_t w = MIN(in->expire_ms, in->scan_ms);

		if (in->backoff_ms > in->now_ms)
			w = MIN(w, in->backoff_ms);
		if (in->penalty_ms > in->now_ms && in->penalty_ms != INT64_MAX)
			w = MIN(w, in->penalty_ms);
		if (in->throttle_ms > in->now_ms)
			w = MIN(w, in->throttle_ms);
		when = MIN(when, w);
	}
	return when;
}

int64_t
maint_expire_at(int64_t received_ms, int64_t expiration_ms)
{
	if (received_ms == INT64_MAX)
		return INT64_MAX;
	expiration_ms = MAX(expiration_ms, 0);
	return received_ms > INT64_MAX - expiration_ms
		   ? INT64_MAX
		   : received_ms + expiration_ms;
}

/* Expire dr's active units at their time: only when the earliest
 * received time the queue functions keep says one may have expired (the
 * sweep makes it exact again, so it does not repeat before the next
 * expiry). */
static void
maint_expiry(struct dlv *d, domain_record *dr, int64_t expiration_ms,
	     int64_t now_ms)
{
	if (dr->nactive == 0 ||
	    now_ms < maint_expire_at(dr->rcvd_min_ms, expiration_ms))
		return;
	(void)dlv_expire_sweep(d, dr, now_ms);
}

/* Sessions of (dr, slot) that will take units, and how many they may. */
static void
maint_sessions(const domain_record *dr, int slot, unsigned per_session,
	       struct dom_goal_in *g)
{
	for (const struct conn *c = dr->conns; c; c = c->dnext) {
		if (c->bslot != slot || c->no_reuse || c->reclaimed)
			continue;
		if (per_session > 0 && c->taken >= per_session)
			continue; /* it QUITs after what it carries */
		if (c->waiting)
			g->waiting++;
		else
			g->busy++;
		if (per_session > 0)
			g->capacity += per_session - c->taken;
	}
}

bool
maint_rate_blocks(const struct maint_rate_in *in)
{
	/* Under a message rate a waiting session takes the next permitted
	 * message, and none may go before the wait ends: more sessions
	 * would only idle.  The first may open ahead of the wait, unless
	 * it would idle out (QUIT) before the wait ends. */
	return in->rated && (in->waiting > 0 ||
			     (in->wait_ms > 0 &&
			      (in->nconn > 0 || in->wait_ms >= in->idle_ms)));
}

/* Whether a message rate applies: this node's, or the cluster's. */
static bool
maint_rated(const struct dlv *d, const struct domain_policy *pol)
{
	return pol->throttle_messages.count > 0 ||
	       (d->rl != NULL && pol->cluster_throttle_messages.count > 0);
}

/* Whether the message rates (this node's and the cluster's) make more
 * sessions of (dr, slot) useless now; *wait_r: ms before a message may
 * go (0: now). */
static bool
maint_msg_throttled(const struct dlv *d, domain_record *dr, int slot,
		    const struct domain_policy *pol, int64_t now_ms,
		    int64_t *wait_r)
{
	struct maint_rate_in in = {
	    .rated = maint_rated(d, pol),
	    .waiting = dr->bind[slot].waiting,
	    .nconn = dr->nconn,
	    .idle_ms = (int64_t)pol->idle_timeout_ms,
	};

	*wait_r = 0;
	if (!in.rated)
		return false;
	in.wait_ms =
	    MAX((dom_rate_wait(&pol->throttle_messages, dr->thr_msg_tat_us,
			       now_ms * 1000) +
		 999) /
		    1000,
		rlease_msg_wait(d->rl, dr, &pol->cluster_throttle_messages,
				now_ms));
	*wait_r = in.wait_ms;
	return maint_rate_blocks(&in);
}

/* The goal's inputs for (dr, slot) that do not change while opening;
 * *msg_wait_r: ms before the message rates let one go. */
static void
maint_goal_in(struct dlv *d, domain_record *dr, int slot,
	      const struct domain_policy *pol, int64_t now_ms,
	      struct dom_goal_in *g, int64_t *msg_wait_r)
{
	struct binding *b = bnd_get(d->bnds, slot);

	*g = (struct dom_goal_in){
	    .queued = dr->bind[slot].active.count,
	    .per_session = pol->max_deliveries_per_connection,
	    .max_dom = pol->max_outbound_connections,
	    .max_bind = pol->max_binding_connections,
	    .max_srv = d->cfg->delivery.max_connections,
	    .suspended = pol->suspended || dr->suspended || (b && b->suspended),
	    .backoff = dr->backoff_until_ms > now_ms,
	    .msg_throttled =
		maint_msg_throttled(d, dr, slot, pol, now_ms, msg_wait_r),
	    .no_route = dr->mx_state == DOM_MX_READY &&
			dr->mx_expires_ms > now_ms &&
			dom_mx_pick(dr, now_ms) < 0,
	};
	maint_sessions(dr, slot, g->per_session, g);
}

/* Refresh the parts of g that opening a connection changes. */
static void
maint_goal_now(struct dlv *d, domain_record *dr, int slot,
	       const struct domain_policy *pol, int64_t now_ms,
	       struct dom_goal_in *g)
{
	g->nconn_dom = dr->nconn;
	g->nconn_bind = dr->bind[slot].nconn;
	g->nconn_srv = d->nconn;
	/* Slots promised to other waiting domains are not ours. */
	g->reserved_srv = d->srv_reserved - dr->srv_grants;
	g->throttle_ok =
	    pol->throttle_connections.count == 0 ? UINT32_MAX
	    : dom_rate_wait(&pol->throttle_connections, dr->thr_conn_tat_us,
			    now_ms * 1000) == 0
		? 1
		: 0;
}

/* Open what the goal of (dr, slot) says; returns when a throttle that
 * held it back ends (connections, or messages while they block it). */
static int64_t
maint_open(struct dlv *d, domain_record *dr, int slot,
	   const struct domain_policy *pol, struct timeval *tv, int64_t now_ms)
{
	enum dom_goal_bound bound = DOM_GOAL_QUEUE;
	struct dom_goal_in g;
	int64_t msg_wait;
	unsigned want;
	bool rated = maint_rated(d, pol);

	maint_goal_in(d, dr, slot, pol, now_ms, &g, &msg_wait);
	for (;;) {
		struct binding *b = bnd_get(d->bnds, slot);
		uint64_t lease = 0;
		int rc;

		maint_goal_now(d, dr, slot, pol, now_ms, &g);
		if ((want = dom_conn_goal(&g, &bound)) == 0) {
			/* Leases granted beyond the goal: other nodes' now. */
			rlease_trim(d->rl, dr, slot);
			break;
		}
		/* What would refuse the connection (the MX set not ready,
		 * say) refuses before a cluster lease is taken: a lease
		 * granted and dropped at once only churns Redis. */
		rc = d->rl != NULL && (pol->cluster_max_outbound_connections ||
				       pol->cluster_max_binding_connections)
			 ? conn_can_open(dr, slot, tv)
			 : 0;
		/* Then a cluster lease: none at hand means as many as the
		 * goal wants were asked for, and their grant pokes this
		 * domain. */
		if (rc == 0 && d->rl != NULL &&
		    rlease_take(d->rl, dr, slot, b ? b->name : NULL,
				pol->cluster_max_outbound_connections,
				pol->cluster_max_binding_connections, want,
				&lease) == 0) {
			bound = DOM_GOAL_QUEUE;
			break;
		}
		dr->srv_tight = bound == DOM_GOAL_SERVER || d->srv_waitq.n > 0;
		/* The session owns the lease, or it goes back at once. */
		if (rc == 0)
			rc = conn_open(dr, slot, tv, lease);
		if (rc < 0) {
			log_trace("%s: binding %d: %s", dr->name, slot,
				  conn_err_str(conn_error_code(rc)));
			break;
		}
		if (dr->srv_grants > 0) {
			dr->srv_grants--;
			d->srv_reserved--;
		}
		/* The new session takes a unit as soon as it is ready; under
		 * a message rate, the next message the rate permits, so more
		 * would only idle (maint_rate_blocks): one per tick. */
		g.waiting++;
		g.capacity += g.per_session;
		g.msg_throttled = g.msg_throttled || rated;
	}
	if (bound == DOM_GOAL_SERVER)
		maint_srv_wait(d, dr);
	if (g.msg_throttled && msg_wait > 0) /* tick when one may go */
		return MAX((dr->thr_conn_tat_us + 999) / 1000,
			   now_ms + msg_wait);
	return (dr->thr_conn_tat_us + 999) / 1000;
}

/* QUIT idle sessions with nothing queued while domains wait for slots. */
static void
maint_reclaim_run(struct ring_task *t)
{
	struct dlv *d = container_of(t, struct dlv, reclaim_task);

	struct conn *c, *next;

	/* only the candidates (idle, nothing in flight, not reclaimed), not
	 * every session: dlv_reclaim_sync keeps the list */
	for (c = d->reclaimable;
	     c && !d->stopping && d->nreclaim < d->srv_waitq.n; c = next) {
		next = c->rnext;
		if (c->dr->bind[c->bslot].active.count > 0 ||
		    smtpc_get_state(c->s) != SMTPC_S_IDLE)
			continue;
		log_debug("%s: QUIT to an idle session to %s (%s): %u domains "
			  "wait for a connection slot",
			  c->dr->name, c->host, c->ip, d->srv_waitq.n);
		c->reclaimed = true;
		c->no_reuse = true;
		dlv_reclaim_sync(d, c);
		d->nreclaim++;
		smtpc_quit(c->s); /* the slot frees when it closes */
	}
}

void
maint_reclaim_soon(struct dlv *d)
{
	if (d->stopping || d->srv_waitq.n <= d->nreclaim)
		return;
	d->reclaim_task.fn = maint_reclaim_run;
	ring_defer(d->ring, &d->reclaim_task);
}

void
maint_srv_wait(struct dlv *d, domain_record *dr)
{
	if (dom_waitq_push(&d->srv_waitq, dr))
		log_trace("%s: waits for a server connection slot (%u waiting)",
			  dr->name, d->srv_waitq.n);
	/* Idle sessions of drained domains give their slots up. */
	maint_reclaim_soon(d);
}

void
maint_srv_release(struct dlv *d)
{
	unsigned max = d->cfg->delivery.max_connections;

	if (d->stopping)
		return;
	while (d->srv_waitq.n > 0 &&
	       (max == 0 || d->nconn + d->srv_reserved < max)) {
		domain_record *w = dom_waitq_pop(&d->srv_waitq);

		if (w->nactive == 0)
			continue; /* served meanwhile */
		w->srv_grants++;
		d->srv_reserved++;
		maint_poke(w);
	}
}

void
maint_tick(domain_record *dr)
{
	struct dlv *d = dr->ctx;
	const struct domain_policy *pol;
	struct maint_wake_in w;
	struct timeval tv;
	int64_t now_ms, thr = 0;

	if (d == NULL || d->stopping)
		return;
	now_ms = dlv_wall_ms(d);
	tv.tv_sec = now_ms / 1000;
	tv.tv_usec = (now_ms % 1000) * 1000;
	pol = dlv_policy(d, dr);
	dom_promote_due(dr, now_ms);
	maint_expiry(d, dr, (int64_t)pol->message_expiration_ms, now_ms);
	for (unsigned slot = 0; slot < dr->nbind && !d->stopping; slot++) {
		if (dr->bind[slot].active.count == 0)
			continue;
		dlv_kick(d, dr, (int)slot);
		thr = MAX(thr, maint_open(d, dr, (int)slot, pol, &tv, now_ms));
	}
	if (dr->nactive == 0) /* nothing left to wait for a slot for */
		dom_waitq_remove(&d->srv_waitq, dr);
	if (dr->srv_grants > 0) {
		/* Slots handed to this domain and not used: to the next. */
		d->srv_reserved -= dr->srv_grants;
		dr->srv_grants = 0;
		maint_srv_release(d);
	}
	w = (struct maint_wake_in){
	    .now_ms = now_ms,
	    .next_due_ms = dom_next_due(dr),
	    .backoff_ms = dr->backoff_until_ms,
	    .penalty_ms = dom_mx_penalty_end(dr),
	    .throttle_ms = thr,
	    .expire_ms = maint_expire_at(dr->rcvd_min_ms,
					 (int64_t)pol->message_expiration_ms),
	    .scan_ms = INT64_MAX,
	    .active = dr->nactive,
	    .nconn = dr->nconn,
	};
	/* Nothing but the scan pokes a domain whose units wait without a
	 * session (a binding resumed, a refused connect): the safety net. */
	if (dr->nconn == 0)
		w.scan_ms = MIN(w.scan_ms, now_ms + MAINT_SCAN_INTERVAL_MS);
	maint_schedule(dr, maint_next_wake(&w));
}
