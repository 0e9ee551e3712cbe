/* SPDX-License-Identifier: MIT */
/*
 * connection.c: initiate_connection() and initiate_connection_smtp(), the
 * CONN_ERR_* / CONN_ACTION_* words and their names.  It stages sessions;
 * what happens on them afterwards is delivery.c's.  It never decides
 * retry or bounce policy: actions map to delivery.c's dlv_* operations,
 * whose timing is backoff.c's.
 */
#include "connection.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery.h"
#include "dns.h"
#include "log.h"
#include "outcome.h"
#include "rlease.h"
#include "smtp_client.h"

static const char *const conn_err_names[] = {
    [CONN_OK] = "ok",
    [CONN_ERR_BAD_BINDING] = "bad_binding",
    [CONN_ERR_BINDING_SUSPENDED] = "binding_suspended",
    [CONN_ERR_DOMAIN_SUSPENDED] = "domain_suspended",
    [CONN_ERR_BACKOFF] = "backoff",
    [CONN_ERR_NO_MESSAGES] = "no_messages",
    [CONN_ERR_DNS_PENDING] = "dns_pending",
    [CONN_ERR_DNS_TEMP] = "dns_temp",
    [CONN_ERR_DNS_PERM] = "dns_perm",
    [CONN_ERR_NO_ROUTE] = "no_route",
    [CONN_ERR_LIMIT] = "limit",
    [CONN_ERR_THROTTLED] = "throttled",
    [CONN_ERR_SOCKET] = "socket",
    [CONN_ERR_ADDR_UNAVAIL] = "addr_unavail",
};
_Static_assert(nitems(conn_err_names) == CONN_ERR__COUNT, "conn_err_names");
_Static_assert(CONN_ERR__COUNT <= CONN_ERR_MASK + 1, "conn_err fits");

const char *
conn_err_str(enum conn_err e)
{
	return (unsigned)e < CONN_ERR__COUNT ? conn_err_names[e] : "?";
}

const char *
conn_action_str(unsigned action)
{
	switch (action) {
	case CONN_ACTION_REQUEUE1:
		return "requeue1";
	case CONN_ACTION_PURGE_DOMAIN:
		return "purge_domain";
	case CONN_ACTION_DEFER_DOMAIN:
		return "defer_domain";
	case CONN_ACTION_SUSPEND_BINDING:
		return "suspend_binding";
	default:
		return "?";
	}
}

unsigned
conn_err_from_errno(int err)
{
	switch (err) {
	case -EADDRNOTAVAIL:
	case -EADDRINUSE:
		return CONN_ERR_ADDR_UNAVAIL | CONN_ACTION_SUSPEND_BINDING;
	default:
		return CONN_ERR_SOCKET | CONN_ACTION_REQUEUE1;
	}
}

unsigned
conn_err_from_dns(int st)
{
	if (st == DNS_OK)
		return CONN_OK;
	if (dns_status_permanent((enum dns_status)st))
		return CONN_ERR_DNS_PERM | CONN_ACTION_PURGE_DOMAIN;
	return CONN_ERR_DNS_TEMP | CONN_ACTION_DEFER_DOMAIN;
}

static int64_t
conn_ms(const struct timeval *tv)
{
	return (int64_t)tv->tv_sec * 1000 + tv->tv_usec / 1000;
}

/* The preconditions that need no address: 0 or an error word. */
static unsigned
conn_check(struct dlv *d, domain_record *dr, int binding, int64_t now_ms,
	   const struct domain_policy *pol)
{
	struct binding *b = bnd_get(d->bnds, binding);

	if (b == NULL || (unsigned)binding >= dr->nbind)
		return CONN_ERR_BAD_BINDING;
	if (b->suspended)
		return CONN_ERR_BINDING_SUSPENDED;
	if (pol->suspended || dr->suspended)
		return CONN_ERR_DOMAIN_SUSPENDED;
	if (dr->backoff_until_ms > now_ms)
		return CONN_ERR_BACKOFF;
	if (dr->bind[binding].active.count == 0)
		return CONN_ERR_NO_MESSAGES;
	if (pol->max_outbound_connections &&
	    dr->nconn >= pol->max_outbound_connections)
		return CONN_ERR_LIMIT;
	if (d->cfg->delivery.max_connections &&
	    d->nconn >= d->cfg->delivery.max_connections)
		return CONN_ERR_LIMIT;
	if (dr->mx_state == DOM_MX_RESOLVING)
		return CONN_ERR_DNS_PENDING;
	if (dr->mx_state == DOM_MX_NONE || dr->mx_expires_ms <= now_ms) {
		dlv_resolve(d, dr);
		return CONN_ERR_DNS_PENDING;
	}
	return 0;
}

static void
conn_timeouts(const struct domain_policy *pol, struct smtpc_timeouts *t)
{
	smtpc_timeouts_default(t);
	t->connect = (int64_t)pol->connect_timeout_ms;
	t->banner = (int64_t)pol->banner_timeout_ms;
	t->ehlo = (int64_t)pol->ehlo_timeout_ms;
	t->starttls = (int64_t)pol->starttls_timeout_ms;
	t->mail = (int64_t)pol->mail_timeout_ms;
	t->rcpt = (int64_t)pol->rcpt_timeout_ms;
	t->data = (int64_t)pol->data_timeout_ms;
	t->block = (int64_t)pol->data_block_timeout_ms;
	t->dot = (int64_t)pol->dot_timeout_ms;
	t->rset = (int64_t)pol->rset_timeout_ms;
	t->quit = (int64_t)pol->quit_timeout_ms;
	t->idle = (int64_t)pol->idle_timeout_ms;
}

/* Fill the session options for c to address a. */
static void
conn_opts(struct dlv *d, struct conn *c, const struct domain_policy *pol,
	  const struct dom_addr *a, int64_t now_ms, struct smtpc_opts *o)
{
	struct binding *b = bnd_get(d->bnds, c->bslot);
	bool dr_tight = c->dr->srv_tight;

	memset(o, 0, sizeof(*o));
	memcpy(&o->dst, &a->sa, a->len);
	o->dst_len = a->len;
	bnd_source(b, a->sa.ss_family, &o->src, &o->src_len);
	o->mx_host = a->host;
	o->ehlo_name = b->ehlo ? b->ehlo : d->cfg->server.hostname;
	conn_timeouts(pol, &o->tmo);
	if (dr_tight)
		o->tmo.idle = 0; /* server slots are scarce: QUIT when idle */
	o->max_deliveries = pol->max_deliveries_per_connection;
	o->tls = SMTPC_TLS_POLICY_NONE;
	if (pol->tls != CONFIG_TLS_NONE && a->plaintext_until_ms <= now_ms) {
		/* Without a context (unusable CA file, logged) opportunistic
		 * goes plaintext; required stays required, and the engine
		 * refuses to start (-EINVAL: requeue one, never plaintext). */
		o->tls_ctx = dlv_tls_ctx(d, pol);
		if (pol->tls == CONFIG_TLS_REQUIRED)
			o->tls = SMTPC_TLS_POLICY_REQUIRED;
		else if (o->tls_ctx)
			o->tls = SMTPC_TLS_POLICY_OPPORTUNISTIC;
		o->tls_cache = d->tls_cache;
		o->tls_binding = b->name;
	}
	c->tls_tried = o->tls != SMTPC_TLS_POLICY_NONE;
}

/* Every refusal of a connection of (dr, binding) before one is made:
 * conn_check(), no usable MX address, the connection throttle's wait.
 * Takes nothing.  Returns 0 with *idx_r the address to use, or an error
 * word. */
static unsigned
conn_refusal(struct dlv *d, domain_record *dr, int binding, int64_t now_ms,
	     const struct domain_policy *pol, int *idx_r)
{
	unsigned e = conn_check(d, dr, binding, now_ms, pol);

	if (e == 0 && (*idx_r = dom_mx_pick(dr, now_ms)) < 0)
		e = CONN_ERR_NO_ROUTE;
	if (e == 0 && dom_rate_wait(&pol->throttle_connections,
				    dr->thr_conn_tat_us, now_ms * 1000) > 0)
		e = CONN_ERR_THROTTLED;
	return e;
}

int
conn_can_open(domain_record *dr, int binding, struct timeval *now)
{
	struct dlv *d = dr->ctx;
	int idx;

	if (d == NULL)
		return CONN_ERROR(CONN_ERR_BAD_BINDING);
	return CONN_ERROR(conn_refusal(d, dr, binding, conn_ms(now),
				       dlv_policy(d, dr), &idx));
}

/* initiate_connection() with lease (0: none), given back on every
 * refusal. */
static struct conn *
conn_initiate(domain_record *dr, int binding, struct timeval *now,
	      conn_finish_fn *finish, conn_timeout_fn *timeout, void *user_data,
	      uint64_t lease, int *error)
{
	struct dlv *d = dr->ctx;
	const struct domain_policy *pol;
	struct smtpc_opts o;
	struct conn *c;
	int64_t now_ms = conn_ms(now);
	unsigned e;
	int idx = -1, rc;

	*error = CONN_ERR_BAD_BINDING;
	/* A lease comes from dr's context's rlease: none without one. */
	BUG_ON(d == NULL && lease != 0);
	if (d == NULL)
		return NULL;
	pol = dlv_policy(d, dr);
	e = conn_refusal(d, dr, binding, now_ms, pol, &idx);
	if (e != 0) {
		rlease_drop(d->rl, dr, binding, lease); /* not used: back now */
		*error = (int)e;
		return NULL;
	}
	(void)dom_rate_take(&pol->throttle_connections, &dr->thr_conn_tat_us,
			    now_ms * 1000);
	c = xcalloc(1, sizeof(*c));
	c->dlv = d;
	c->dr = dr;
	c->bslot = binding;
	c->lease = lease;
	c->finish = finish;
	c->timeout = timeout;
	c->udata = user_data;
	c->t0_ns = ring_now(d->ring);
	c->t0_ms = now_ms;
	memcpy(&c->dst, &dr->addrs[idx].sa, dr->addrs[idx].len);
	c->dst_len = dr->addrs[idx].len;
	snprintf(c->host, sizeof(c->host), "%s", dr->addrs[idx].host);
	snprintf(c->ip, sizeof(c->ip), "%s", dr->addrs[idx].ip);
	conn_opts(d, c, pol, &dr->addrs[idx], now_ms, &o);
	c->s = smtpc_new(d->ring, &o, dlv_smtpc_ops(), c);
	dlv_conn_link(d, c);
	dr->addrs[idx].nconn++;
	rc = smtpc_start(c->s);
	if (rc < 0) {
		/* The session reports its end later; this path owns it.  Its
		 * lease goes back now, not at that end. */
		c->start_failed = true;
		rlease_drop(d->rl, dr, binding, c->lease);
		c->lease = 0;
		*error = (int)conn_err_from_errno(rc);
		log_warn("%s: cannot connect to %s (%s) from binding %s: %s",
			 dr->name, c->host, c->ip,
			 bnd_get(d->bnds, binding)->name, strerror(-rc));
		return NULL;
	}
	*error = CONN_OK;
	return c;
}

struct conn *
initiate_connection(domain_record *dr, int binding, struct timeval *now,
		    conn_finish_fn *finish, conn_timeout_fn *timeout,
		    void *user_data, int *error)
{
	return conn_initiate(dr, binding, now, finish, timeout, user_data, 0,
			     error);
}

static void
conn_on_finish(struct conn *c, int err, void *udata)
{
	(void)udata;
	log_debug("%s: session to %s (%s) %s", c->dr->name, c->host, c->ip,
		  err ? strerror(-err) : "ready");
}

static void
conn_on_timeout(struct conn *c, void *udata)
{
	(void)udata;
	log_info("%s: connect to %s (%s) timed out", c->dr->name, c->host,
		 c->ip);
}

/* Take the actions of error word e for (dr, binding). */
static void
conn_act(struct dlv *d, domain_record *dr, int binding, unsigned e)
{
	char why[DOM_ERR_MAX];
	struct outcome o;

	snprintf(why, sizeof(why), "connection not opened: %s",
		 conn_err_str((enum conn_err)(e & CONN_ERR_MASK)));
	if (e & CONN_ACTION_SUSPEND_BINDING) {
		struct binding *b = bnd_get(d->bnds, binding);

		if (b)
			bnd_suspend(b, "source address not available on this "
				       "host (EADDRNOTAVAIL)");
	}
	if (e & CONN_ACTION_REQUEUE1)
		dlv_requeue1(d, dr, binding, why);
	if (e & (CONN_ACTION_PURGE_DOMAIN | CONN_ACTION_DEFER_DOMAIN)) {
		memset(&o, 0, sizeof(o));
		o.scope = OUTCOME_SCOPE_DOMAIN;
		o.action = e & CONN_ACTION_PURGE_DOMAIN ? OUTCOME_PURGE_DOMAIN
							: OUTCOME_DEFER_DOMAIN;
		o.count_attempt = true;
		o.rule = "connection";
		snprintf(o.esc, sizeof(o.esc), "%s",
			 o.action == OUTCOME_PURGE_DOMAIN ? "5.4.4" : "4.4.1");
		dlv_domain_fail(d, dr, &o, 0, why);
	}
}

int
conn_open(domain_record *dr, int binding, struct timeval *now, uint64_t lease)
{
	int err = 0;
	struct conn *c = conn_initiate(dr, binding, now, conn_on_finish,
				       conn_on_timeout, NULL, lease, &err);

	if (c != NULL)
		return 0;
	if ((unsigned)err & CONN_ACTION_MASK)
		conn_act(dr->ctx, dr, binding, (unsigned)err);
	return CONN_ERROR(err);
}

int
initiate_connection_smtp(domain_record *dr, int binding, struct timeval *now)
{
	return conn_open(dr, binding, now, 0);
}
