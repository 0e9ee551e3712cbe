/* SPDX-License-Identifier: MIT */
/*
 * delivery.c: the routing context, units -> SMTP messages, and results ->
 * outcome -> spool marks, requeues, DSNs, delivery log and counters.
 *
 * Every decision comes from outcome.c (what) and backoff.c (when); this
 * file only carries them out.  Sessions (struct conn) are created by
 * connection.c and freed here from their on_close().  DSNs are built and
 * injected by delivery_dsn.c; MX lookups and domain-wide failures are in
 * delivery_domain.c.
 */
#include "delivery.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "backoff.h"
#include "bounce.h"
#include "connection.h"
#include "delivery_int.h"
#include "dlogw.h"
#include "dns.h"
#include "log.h"
#include "maintainer.h"
#include "rlease.h"
#include "spool.h"
#include "tls.h"

/* A message handed to a session: the engine's view plus our strings. */
struct dlv_msg {
	struct smtpc_msg msg;
	struct dom_unit *u;
	char *from, *envid;
	char **addr, **orcpt;
	struct smtpc_rcpt *rcpt;
	int64_t t0_ns;
};

uint64_t
dlv_rand(struct dlv *d)
{
	uint64_t x = d->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	d->rng = x;
	return x;
}

void
dlv_strcpy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (size == 0)
		return;
	n = MIN(n, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int64_t
dlv_wall_ms(const struct dlv *d)
{
	(void)d;
	return ring_wall_ms();
}

const struct domain_policy *
dlv_policy(const struct dlv *d, const domain_record *dr)
{
	return dr->policy_ovr ? dr->policy_ovr
			      : config_domain(d->cfg, dr->name);
}

/* See delivery.h. */
void
dlv_dns_opts(const struct config *cfg, struct dns_opts *o)
{
	dns_opts_init(o);
	o->servers = cfg->dns.servers.v;
	o->nservers = cfg->dns.servers.n;
	o->timeout_ms = (unsigned)cfg->dns.timeout_ms;
	o->tries = cfg->dns.tries;
	o->cache_size = cfg->dns.cache_size;
	o->min_ttl_ms = cfg->dns.min_ttl_ms;
	o->max_ttl_ms = cfg->dns.max_ttl_ms;
	o->negative_ttl_ms = cfg->dns.negative_ttl_ms;
	o->max_mx_hosts = cfg->dns.max_mx_hosts;
	o->max_addresses = cfg->dns.max_addresses;
	o->max_inflight = cfg->dns.max_inflight;
}

int
dlv_new(const struct dlv_opts *o, struct dlv **d_r)
{
	struct dlv *d = xcalloc(1, sizeof(*d));
	struct dns_opts dno;
	int err = 0;

	d->ring = o->ring;
	d->cfg = o->cfg;
	d->sp = o->sp;
	d->dl = o->dl;
	d->doms = o->doms;
	d->bnds = o->bnds;
	if (getrandom(&d->rng, sizeof(d->rng), 0) != sizeof(d->rng) ||
	    d->rng == 0)
		d->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)ring_wall_ms();
	dlv_dns_opts(o->cfg, &dno);
	d->dns = dns_new(o->ring, &dno, &err);
	if (d->dns == NULL) {
		log_err("resolver: cannot start: %s", strerror(-err));
		free(d);
		return err;
	}
	d->tls_cache = tls_cache_new(4096, 3600 * (int64_t)1000000000);
	dom_waitq_init(&d->srv_waitq);
	*d_r = d;
	return 0;
}

static void
dlv_stop_domain(domain_record *dr, void *arg)
{
	(void)arg;
	maint_stop(dr);
}

void
dlv_free(struct dlv *d)
{
	int64_t end;

	if (d == NULL)
		return;
	d->stopping = true;
	dom_foreach(d->doms, dlv_stop_domain, NULL);
	for (struct conn *c = d->conns; c; c = c->next)
		smtpc_cancel(c->s);
	end = ring_now_update(d->ring) + 5000000000LL;
	while (d->conns && ring_now_update(d->ring) < end)
		ring_run_once(d->ring, 100000000);
	if (d->conns)
		log_warn("delivery: sessions still open after 5 s");
	while (d->reclaim_task.queued) /* it must not run after free */
		ring_run_once(d->ring, 0);
	dlv_dsn_abort_all(d);
	dns_free(d->dns);
	for (size_t i = 0; i < d->ntls; i++) {
		tls_ctx_free(d->tls[i].ctx);
		free(d->tls[i].ca_file);
	}
	tls_cache_free(d->tls_cache);
	free(d);
}

/* dom_foreach: tick a domain with queued units (after a reload). */
static void
dlv_poke_queued(domain_record *dr, void *arg)
{
	(void)arg;
	if (dr->nactive > 0 || dr->delayed.count > 0)
		maint_poke(dr);
}

void
dlv_set_config(struct dlv *d, const struct config *cfg)
{
	d->cfg = cfg;
	/* Limits, throttles or a suspension may have changed: every domain
	 * with work looks again at its next turn, not at its next scan. */
	if (d->doms != NULL)
		dom_foreach(d->doms, dlv_poke_queued, NULL);
}

struct tls_ctx *
dlv_tls_ctx(struct dlv *d, const struct domain_policy *pol)
{
	static const enum tls_verify map[] = {
	    [CONFIG_VERIFY_NONE] = TLS_VERIFY_NONE,
	    [CONFIG_VERIFY_CA] = TLS_VERIFY_CA,
	    [CONFIG_VERIFY_HOST] = TLS_VERIFY_HOST,
	};
	const char *ca =
	    pol->tls_ca_file ? pol->tls_ca_file : d->cfg->tls.ca_file;
	struct tls_client_opts to = {0};
	struct dlv_tls_ent *e;
	char why[256];
	int rc;

	for (size_t i = 0; i < d->ntls; i++) {
		e = &d->tls[i];
		if (e->verify == pol->tls_verify &&
		    ((e->ca_file == NULL && ca == NULL) ||
		     (e->ca_file && ca && strcmp(e->ca_file, ca) == 0)))
			return e->ctx;
	}
	if (d->ntls == DLV_TLS_CTX_MAX)
		return NULL;
	to.verify = map[pol->tls_verify];
	to.ca_file = ca;
	rc = tls_ctx_new_client(&to, &d->tls[d->ntls].ctx, why, sizeof(why));
	e = &d->tls[d->ntls++];
	e->verify = pol->tls_verify;
	e->ca_file = ca ? xstrdup(ca) : NULL;
	if (rc < 0) {
		log_err("TLS client context (verify %s, CA %s): %s",
			config_tls_verify_str(pol->tls_verify),
			ca ? ca : "system", why);
		e->ctx = NULL; /* remembered: reported once */
	}
	return e->ctx;
}

/* ---- queueing ---- */

struct dlv_split {
	struct dlv *d;
	const uint8_t *id;
	int slot;
	uint32_t attempts;
	int64_t due_ms;      /* every recipient deferred until then; 0: now */
	int64_t received_ms; /* the message's, from its record */
};

static void
dlv_split_out(domain_record *dr, struct dom_unit *u, void *arg)
{
	struct dlv_split *ds = arg;

	dr->ctx = ds->d;
	u->bslot = ds->slot < (int)dr->nbind ? ds->slot : 0;
	u->attempts = ds->attempts;
	u->received_ms = ds->received_ms;
	dr->received++;
	if (ds->due_ms > dlv_wall_ms(ds->d)) {
		u->due_ms = ds->due_ms;
		dom_delayed_push(ds->d->doms, dr, u);
		maint_schedule(dr, u->due_ms);
		return;
	}
	dom_active_push(ds->d->doms, dr, u);
	maint_poke(dr);
}

static void
dlv_split_bad(uint32_t i, const char *why, void *arg)
{
	struct dlv_split *ds = arg;
	char idstr[SPOOL_ID_STR_LEN];

	log_warn("message %s recipient %" PRIu32 ": bad domain: %s",
		 spool_id_str(ds->id, idstr), i, why);
}

unsigned
dlv_queue_msg(struct dlv *d, const struct spool_msg *m)
{
	struct spool_msg_info mi;
	struct dlv_split ds = {.d = d};
	char bname[CONFIG_TOKEN_MAX + 1];
	const char **addr;
	uint32_t *map, n = 0;
	char **owned;
	unsigned units = 0;
	uint64_t due_us = UINT64_MAX;

	spool_msg_info(m, &mi);
	ds.id = mi.id;
	ds.received_ms = (int64_t)(mi.received_us / 1000);
	snprintf(bname, sizeof(bname), "%.*s", (int)mi.binding.len,
		 (const char *)mi.binding.p);
	ds.slot = bnd_choose(d->bnds, bname, d->cfg->listener.binding);
	addr = xcalloc(mi.nrcpt ? mi.nrcpt : 1, sizeof(*addr));
	owned = xcalloc(mi.nrcpt ? mi.nrcpt : 1, sizeof(*owned));
	map = xcalloc(mi.nrcpt ? mi.nrcpt : 1, sizeof(*map));
	for (uint32_t i = 0; i < mi.nrcpt; i++) {
		struct spool_rcpt_info ri;

		spool_msg_rcpt(m, i, &ri);
		if (record_rcpt_state_final(ri.state))
			continue;
		ds.attempts = MAX(ds.attempts, ri.attempts);
		/* Replayed retries keep their time (the earliest of them). */
		due_us = ri.state == RECORD_RS_DEFERRED
			     ? MIN(due_us, ri.next_try_us)
			     : 0;
		owned[n] = xstrndup((const char *)ri.addr.p, ri.addr.len);
		addr[n] = owned[n];
		map[n++] = i;
	}
	ds.due_ms = due_us == UINT64_MAX ? 0 : (int64_t)(due_us / 1000);
	if (n)
		units = dom_split(d->doms, mi.id, addr, map, n, dlv_split_out,
				  dlv_split_bad, &ds);
	for (uint32_t i = 0; i < n; i++)
		free(owned[i]);
	free(owned);
	free(addr);
	free(map);
	return units;
}

/* ---- sessions ---- */

void
dlv_conn_link(struct dlv *d, struct conn *c)
{
	domain_record *dr = c->dr;

	c->next = d->conns;
	if (d->conns)
		d->conns->prev = c;
	d->conns = c;
	c->dnext = dr->conns;
	if (dr->conns)
		((struct conn *)dr->conns)->dprev = &c->dnext;
	c->dprev = (struct conn **)&dr->conns;
	dr->conns = c;
	d->nconn++;
	dr->nconn++;
	dom_dirty(dr);
	dr->bind[c->bslot].nconn++;
	dr->bind[c->bslot].waiting++;
	c->waiting = true;
	bnd_get(d->bnds, c->bslot)->nconn++;
	bnd_get(d->bnds, c->bslot)->connections++;
	d->st.sessions++;
}

void
dlv_reclaim_sync(struct dlv *d, struct conn *c)
{
	bool want = c->idle && c->msgs == 0 && !c->reclaimed && !c->unlinked;

	if (want == (c->rprev != NULL))
		return;
	if (want) {
		c->rnext = d->reclaimable;
		if (c->rnext != NULL)
			c->rnext->rprev = &c->rnext;
		c->rprev = &d->reclaimable;
		d->reclaimable = c;
		return;
	}
	*c->rprev = c->rnext;
	if (c->rnext != NULL)
		c->rnext->rprev = c->rprev;
	c->rnext = NULL;
	c->rprev = NULL;
}

static void
dlv_conn_unlink(struct dlv *d, struct conn *c)
{
	domain_record *dr = c->dr;
	struct dom_addr *a = dlv_conn_addr(c);

	if (c->prev)
		c->prev->next = c->next;
	else
		d->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	*c->dprev = c->dnext;
	if (c->dnext)
		c->dnext->dprev = c->dprev;
	d->nconn--;
	dr->nconn--;
	dom_dirty(dr);
	dr->bind[c->bslot].nconn--;
	if (c->waiting)
		dr->bind[c->bslot].waiting--;
	bnd_get(d->bnds, c->bslot)->nconn--;
	if (a && a->nconn)
		a->nconn--;
	if (c->reclaimed)
		d->nreclaim--;
	c->unlinked = true;
	dlv_reclaim_sync(d, c);
	rlease_put(d->rl, dr, c->bslot, c->lease);
	c->lease = 0;
	maint_srv_release(d); /* the slot goes to the oldest waiter */
}

struct dom_addr *
dlv_conn_addr(const struct conn *c)
{
	domain_record *dr = c->dr;

	for (size_t i = 0; i < dr->naddrs; i++) {
		struct dom_addr *a = &dr->addrs[i];

		if (a->len == c->dst_len &&
		    memcmp(&a->sa, &c->dst, c->dst_len) == 0 &&
		    strcmp(a->host, c->host) == 0)
			return a;
	}
	return NULL;
}

void
dlv_kick(struct dlv *d, domain_record *dr, int slot)
{
	uint32_t left = dr->bind[slot].active.count;

	for (struct conn *c = dr->conns; c && left; c = c->dnext) {
		if (c->bslot != slot || !c->idle || c->no_reuse)
			continue;
		c->idle = false;
		dlv_reclaim_sync(d, c);
		smtpc_kick(c->s);
		left--;
	}
}

static void
dlv_msg_free(struct dlv_msg *dm)
{
	for (unsigned i = 0; i < dm->msg.nrcpt; i++) {
		free(dm->addr[i]);
		free(dm->orcpt[i]);
	}
	free(dm->addr);
	free(dm->orcpt);
	free(dm->rcpt);
	free(dm->from);
	free(dm->envid);
	free(dm);
}

/* Build the engine's message for unit u of live message m, or NULL when
 * none of its recipients is still pending (u is then freed). */
static struct dlv_msg *
dlv_msg_new(struct dlv *d, const struct spool_msg *m, struct dom_unit *u)
{
	struct dlv_msg *dm = xcalloc(1, sizeof(*dm));
	struct spool_msg_info mi;
	struct spool_body b;
	unsigned n = 0;

	spool_msg_info(m, &mi);
	if (spool_body_loc(d->sp, u->id, &b) < 0) {
		free(dm);
		return NULL;
	}
	dm->u = u;
	dm->from = xstrndup((const char *)mi.sender.p, mi.sender.len);
	dm->envid = mi.envid.len
			? xstrndup((const char *)mi.envid.p, mi.envid.len)
			: NULL;
	dm->addr = xcalloc(u->nrcpt, sizeof(*dm->addr));
	dm->orcpt = xcalloc(u->nrcpt, sizeof(*dm->orcpt));
	dm->rcpt = xcalloc(u->nrcpt, sizeof(*dm->rcpt));
	for (uint32_t k = 0; k < u->nrcpt; k++) {
		struct spool_rcpt_info ri;

		if (u->rcpt[k] >= mi.nrcpt)
			continue;
		spool_msg_rcpt(m, u->rcpt[k], &ri);
		if (record_rcpt_state_final(ri.state))
			continue;
		u->rcpt[n] = u->rcpt[k];
		dm->addr[n] = xstrndup((const char *)ri.addr.p, ri.addr.len);
		dm->orcpt[n] = ri.orcpt.len ? xstrndup((const char *)ri.orcpt.p,
						       ri.orcpt.len)
					    : NULL;
		dm->rcpt[n].addr = dm->addr[n];
		dm->rcpt[n].orcpt = dm->orcpt[n];
		dm->rcpt[n].notify = ri.notify;
		n++;
	}
	u->nrcpt = n;
	dm->msg.nrcpt = n;
	if (n == 0) {
		dlv_msg_free(dm);
		dom_unit_free(u);
		return NULL;
	}
	dm->msg.from = dm->from;
	dm->msg.ret = (enum smtpcmd_ret)mi.ret;
	dm->msg.envid = dm->envid;
	dm->msg.eightbit = mi.flags & RECORD_MSG_F_8BITMIME;
	dm->msg.smtputf8 = mi.flags & RECORD_MSG_F_SMTPUTF8;
	dm->msg.wire = record_msg_flags_wire(mi.flags);
	dm->msg.body_fd = b.fd;
	dm->msg.body_off = b.off;
	dm->msg.body_len = b.len;
	dm->msg.rcpt = dm->rcpt;
	dm->msg.udata = dm;
	dm->t0_ns = ring_now(d->ring);
	return dm;
}

/* The next unit of (dr, slot) that is still deliverable, as a message. */
static struct dlv_msg *
dlv_take(struct dlv *d, struct conn *c, int64_t now_ms)
{
	domain_record *dr = c->dr;
	const struct domain_policy *pol = dlv_policy(d, dr);
	struct dom_unit *u;

	while ((u = dom_active_pop(d->doms, dr, c->bslot)) != NULL) {
		const struct spool_msg *m = spool_find(d->sp, u->id);
		struct spool_msg_info mi;
		struct dlv_msg *dm;

		if (dr->nactive == 0) /* no longer waits for a server slot */
			dom_waitq_remove(&d->srv_waitq, dr);
		if (m == NULL) {
			dom_unit_free(u); /* delivered or deleted meanwhile */
			continue;
		}
		spool_msg_info(m, &mi);
		if (backoff_expired((int64_t)(mi.received_us / 1000), now_ms,
				    (int64_t)pol->message_expiration_ms)) {
			dlv_unit_expire(d, dr, u, NULL);
			continue;
		}
		dm = dlv_msg_new(d, m, u);
		if (dm != NULL)
			return dm;
	}
	return NULL;
}

unsigned
dlv_expire_sweep(struct dlv *d, domain_record *dr, int64_t now_ms)
{
	const struct domain_policy *pol = dlv_policy(d, dr);
	unsigned n = 0;

	/* Every active unit is pushed again: the earliest received time is
	 * that of the units left. */
	dom_rcvd_reset(dr, INT64_MAX);
	for (unsigned slot = 0; slot < dr->nbind; slot++) {
		uint32_t count = dr->bind[slot].active.count;

		/* One rotation: expired units leave, the rest keep order. */
		for (uint32_t i = 0; i < count; i++) {
			struct dom_unit *u =
			    dom_active_pop(d->doms, dr, (int)slot);

			if (u == NULL)
				break;
			if (spool_find(d->sp, u->id) == NULL) {
				dom_unit_free(u); /* final meanwhile */
				continue;
			}
			if (backoff_expired(
				u->received_ms, now_ms,
				(int64_t)pol->message_expiration_ms)) {
				dlv_unit_expire(d, dr, u, NULL);
				n++;
				continue;
			}
			dom_active_push(d->doms, dr, u);
		}
	}
	return n;
}

static struct smtpc_msg *
dlv_on_next_msg(struct smtpc *s, void *arg)
{
	struct conn *c = arg;
	struct dlv *d = c->dlv;
	domain_record *dr = c->dr;
	const struct domain_policy *pol = dlv_policy(d, dr);
	int64_t now_ms = dlv_wall_ms(d), wait;
	struct dlv_msg *dm;

	(void)s;
	if (!c->connected) {
		c->connected = true;
		if (c->finish)
			c->finish(c, 0, c->udata);
	}
	if (d->stopping || c->no_reuse || dr->bind[c->bslot].active.count == 0)
		goto idle;
	/* A suspended domain (config, SIGHUP or ringctl) gets no new message,
	 * even from a session already open: it idles out or is kicked when
	 * the suspension is lifted. */
	if (pol->suspended || dr->suspended)
		goto idle;
	wait = dom_rate_wait(&pol->throttle_messages, dr->thr_msg_tat_us,
			     now_ms * 1000);
	if (wait > 0) {
		maint_schedule(dr, now_ms + (wait + 999) / 1000);
		goto idle;
	}
	/* The cluster's rate: no token at hand means some were asked for,
	 * and their arrival pokes the domain (which kicks idle sessions). */
	if (d->rl != NULL &&
	    rlease_msg_ready(d->rl, dr, &pol->cluster_throttle_messages) == 0)
		goto idle;
	dm = dlv_take(d, c, now_ms);
	if (dm == NULL)
		goto idle;
	dom_rate_take(&pol->throttle_messages, &dr->thr_msg_tat_us,
		      now_ms * 1000);
	/* only under a cluster rate: no lookup per message without one */
	if (d->rl != NULL && pol->cluster_throttle_messages.count > 0)
		rlease_msg_use(d->rl, dr);
	if (c->waiting) {
		c->waiting = false;
		dr->bind[c->bslot].waiting--;
	}
	c->idle = false;
	c->msgs++;
	dlv_reclaim_sync(d, c);
	c->taken++;
	dr->attempts++;
	dom_dirty(dr);
	d->st.messages++;
	return &dm->msg;
idle:
	c->idle = true;
	dlv_reclaim_sync(d, c);
	maint_reclaim_soon(d);
	/* A session that must not take more (an outcome said so) is not
	 * counted as waiting, so the goal may replace it at once. */
	if (!c->waiting && !c->no_reuse) {
		c->waiting = true;
		dr->bind[c->bslot].waiting++;
	} else if (c->waiting && c->no_reuse) {
		c->waiting = false;
		dr->bind[c->bslot].waiting--;
	}
	return NULL;
}

static void
dlv_on_msg_done(struct smtpc *s, struct smtpc_msg *msg, void *arg)
{
	struct conn *c = arg;
	struct dlv_msg *dm = msg->udata;
	struct dlv_batch b;

	dlv_batch_init(&b, c->dlv, c->dr, dm->u);
	dlv_batch_session(&b, c, s,
			  (ring_now(c->dlv->ring) - dm->t0_ns) / 1000000);
	for (unsigned i = 0; i < msg->nrcpt; i++)
		dlv_batch_rcpt(&b, i, &dm->rcpt[i].res, msg->accepted);
	if (b.no_reuse)
		c->no_reuse = true;
	dlv_batch_finish(&b);
	c->msgs--;
	dlv_reclaim_sync(c->dlv, c);
	dlv_msg_free(dm);
	maint_poke(c->dr);
	if (c->msgs == 0 && c->idle)
		maint_reclaim_soon(c->dlv); /* idle once its last reply is in */
}

/* Apply a session-level decision to the address and the domain. */
static void
dlv_session_outcome(struct dlv *d, struct conn *c, const struct smtpc_result *r)
{
	domain_record *dr = c->dr;
	const struct domain_policy *pol = dlv_policy(d, dr);
	struct dom_addr *a = dlv_conn_addr(c);
	int64_t now_ms = dlv_wall_ms(d);
	struct outcome_ctx ctx = {
	    .last_mx =
		a ? dom_mx_last(dr, (size_t)(a - dr->addrs), now_ms) : true,
	    .tls = pol->tls,
	    .tls_attempted = c->tls_tried,
	};
	struct backoff_policy bp;
	struct outcome o;
	char why[SMTPC_TEXT_MAX + 2 * DOM_NAME_MAX];
	char desc[SMTPC_TEXT_MAX + 32];

	outcome_classify_session(r, &ctx, &o);
	backoff_policy_init(&bp, (int64_t)pol->retry_interval_ms,
			    (int64_t)pol->max_retry_interval_ms,
			    (int64_t)pol->message_expiration_ms);
	snprintf(why, sizeof(why), "%s (%s): %s", c->host, c->ip,
		 smtpc_result_describe(r, desc, sizeof(desc)));
	if (o.action == OUTCOME_DELIVERED) {
		if (a) {
			a->failures = 0;
			a->strikes = 0;
		}
		if (c->taken && dr->defer_failures != 0) {
			dr->defer_failures = 0;
			dom_dirty(dr);
		}
		return;
	}
	log_info("%s: session %s: %s (rule %s)", dr->name, why,
		 outcome_action_str(o.action), o.rule);
	if (a && o.penalize_host) {
		struct backoff_host h = {a->strikes, a->strike_ms,
					 a->penalty_until_ms};

		a->failures++;
		a->penalty_until_ms =
		    backoff_host_fail(&bp, &h, c->t0_ms, dlv_rand(d), now_ms);
		a->strikes = h.strikes;
		a->strike_ms = h.window_ms;
		dlv_strcpy(a->last_error, sizeof(a->last_error), why);
	}
	dlv_strcpy(dr->last_error, sizeof(dr->last_error), why);
	dom_dirty(dr);
	switch (o.action) {
	case OUTCOME_DEFER_DOMAIN:
		dlv_domain_fail(d, dr, &o, r->code, why);
		break;
	case OUTCOME_SUSPEND_BINDING:
		bnd_suspend(bnd_get(d->bnds, c->bslot), why);
		break;
	case OUTCOME_PLAINTEXT_RETRY:
		if (a)
			a->plaintext_until_ms = now_ms + 3600 * 1000;
		break;
	case OUTCOME_DELIVERED:
	case OUTCOME_RETRY:
	case OUTCOME_BOUNCE:
	case OUTCOME_NEXT_MX:
	case OUTCOME_PURGE_DOMAIN:
	case OUTCOME_NEW_TXN:
	case OUTCOME__COUNT:
		break;
	}
}

static void
dlv_on_close(struct smtpc *s, const struct smtpc_result *why, void *arg)
{
	struct conn *c = arg;
	struct dlv *d = c->dlv;
	domain_record *dr = c->dr;

	(void)s;
	if (!c->start_failed && !c->reclaimed) {
		if (why->fail == SMTPC_FAIL_TIMEOUT &&
		    why->stage == SMTPC_STAGE_CONNECT && c->timeout)
			c->timeout(c, c->udata);
		if (!c->connected && c->finish)
			c->finish(c, why->err ? why->err : -EPROTO, c->udata);
		if (why->fail != SMTPC_FAIL_NONE)
			d->st.sessions_failed++;
		if (!d->stopping)
			dlv_session_outcome(d, c, why);
	}
	dlv_conn_unlink(d, c);
	free(c);
	if (!d->stopping)
		maint_poke(dr);
}

const struct smtpc_ops *
dlv_smtpc_ops(void)
{
	static const struct smtpc_ops ops = {
	    .next_msg = dlv_on_next_msg,
	    .on_msg_done = dlv_on_msg_done,
	    .on_close = dlv_on_close,
	};
	return &ops;
}
