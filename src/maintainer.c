/* SPDX-License-Identifier: MIT */
/*
 * maintainer.c: per-domain ticks: promote due units, open what the
 * connection goal says is missing, schedule the next tick.  Owns only the
 * domain's mt_timer; everything it changes goes through domain.c,
 * connection.c and delivery.c.
 */
#include "maintainer.h"

#include <sys/time.h>

#include "binding.h"
#include "config.h"
#include "connection.h"
#include "delivery.h"
#include "log.h"
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
		int64_t w = in->now_ms + MAINT_SCAN_INTERVAL_MS;

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

/* Open what the goal of (dr, slot) says; returns the throttle's end. */
static int64_t
maint_open(struct dlv *d, domain_record *dr, int slot,
	   const struct domain_policy *pol, struct timeval *tv, int64_t now_ms)
{
	struct binding *b = bnd_get(d->bnds, slot);

	for (;;) {
		struct dom_goal_in g = {
		    .queued = dr->bind[slot].active.count,
		    .waiting = dr->bind[slot].waiting,
		    .nconn_bind = dr->bind[slot].nconn,
		    .nconn_dom = dr->nconn,
		    .max_dom = pol->max_outbound_connections,
		    .nconn_srv = d->nconn,
		    .max_srv = d->cfg->delivery.max_connections,
		    .throttle_ok =
			dom_rate_wait(&pol->throttle_connections,
				      dr->thr_conn_tat_us, now_ms * 1000) == 0,
		    .suspended =
			pol->suspended || dr->suspended || (b && b->suspended),
		    .backoff = dr->backoff_until_ms > now_ms,
		    /* Under a message throttle a waiting session takes the
		     * next permitted message, and none may go before the
		     * interval ends: more sessions would only idle. */
		    .msg_throttled = pol->throttle_messages.count > 0 &&
				     (dr->bind[slot].waiting > 0 ||
				      (dr->nconn > 0 &&
				       dom_rate_wait(&pol->throttle_messages,
						     dr->thr_msg_tat_us,
						     now_ms * 1000) > 0)),
		    .no_route = dr->mx_state == DOM_MX_READY &&
				dr->mx_expires_ms > now_ms &&
				dom_mx_pick(dr, now_ms) < 0,
		};
		int rc;

		if (dom_conn_goal(&g) == 0)
			break;
		rc = initiate_connection_smtp(dr, slot, tv);
		if (rc < 0) {
			log_trace("%s: binding %d: %s", dr->name, slot,
				  conn_err_str(conn_error_code(rc)));
			break;
		}
	}
	return (dr->thr_conn_tat_us + 999) / 1000;
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
	if (now_ms >= dr->expire_sweep_ms) {
		dr->expire_sweep_ms = now_ms + MAINT_SCAN_INTERVAL_MS;
		(void)dlv_expire_sweep(d, dr, now_ms);
	}
	for (unsigned slot = 0; slot < dr->nbind && !d->stopping; slot++) {
		if (dr->bind[slot].active.count == 0)
			continue;
		dlv_kick(d, dr, (int)slot);
		thr = MAX(thr, maint_open(d, dr, (int)slot, pol, &tv, now_ms));
	}
	w = (struct maint_wake_in){
	    .now_ms = now_ms,
	    .next_due_ms = dom_next_due(dr),
	    .backoff_ms = dr->backoff_until_ms,
	    .penalty_ms = dom_mx_penalty_end(dr),
	    .throttle_ms = thr,
	    .active = dr->nactive,
	    .nconn = dr->nconn,
	};
	maint_schedule(dr, maint_next_wake(&w));
}
