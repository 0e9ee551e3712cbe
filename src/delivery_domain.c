/* SPDX-License-Identifier: MIT */
/*
 * delivery_domain.c: what the routing context does to a whole domain: its
 * MX lookup (started, filtered by the destination policy, installed into
 * the record) and the domain-wide decisions (a deferral with back-off, a
 * purge, one unit put back for a retry interval).
 *
 * Split from delivery.c; owns no state of its own.  Decisions come from
 * outcome.c and backoff.c, per-unit results go through delivery_batch.c
 * (dlv_unit_fail).  Nothing here blocks: lookups answer through the
 * resolver's callback.
 */
#include "delivery.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "backoff.h"
#include "delivery_int.h"
#include "dns.h"
#include "log.h"
#include "maintainer.h"

/* ---- lookups ---- */

static bool
dlv_dns_keep(void *arg, const struct sockaddr *sa)
{
	return config_destination_allowed(arg, sa);
}

static void
dlv_mx_install(struct dlv *d, domain_record *dr, struct dns_mx_result *res)
{
	struct dom_addr *v = xcalloc(res->naddrs ? res->naddrs : 1, sizeof(*v));
	size_t n = 0;
	int64_t ttl = res->ttl_ms ? (int64_t)res->ttl_ms : 300000;

	for (size_t h = 0; h < res->nhosts; h++) {
		const struct dns_host *dh = &res->hosts[h];

		for (size_t k = 0; k < dh->naddrs && n < res->naddrs; k++) {
			struct dom_addr *a = &v[n++];

			memcpy(&a->sa, &dh->addrs[k], sizeof(a->sa));
			a->len = dh->addrs[k].ss_family == AF_INET6
				     ? sizeof(struct sockaddr_in6)
				     : sizeof(struct sockaddr_in);
			a->pref = dh->pref;
			snprintf(a->host, sizeof(a->host), "%s", dh->name);
			dlv_sa_ip(&a->sa, a->ip, sizeof(a->ip));
		}
	}
	dom_mx_set(dr, v, n, dlv_wall_ms(d) + MAX(ttl, 1000));
	dr->implicit_mx = res->implicit_mx;
	free(v);
}

static void
dlv_on_mx(void *arg, struct dns_mx_result *res)
{
	domain_record *dr = arg;
	struct dlv *d = dr->ctx;
	const struct domain_policy *pol;
	struct outcome o;
	char why[2 * DOM_NAME_MAX];

	if (d->stopping || res->status == DNS_CANCELLED) {
		dr->mx_state = DOM_MX_NONE;
		dom_dirty(dr);
		dns_mx_result_free(res);
		return;
	}
	pol = dlv_policy(d, dr);
	if (pol->relay.host[0] == '\0')
		dns_mx_result_set_port(res, (uint16_t)pol->port);
	dns_mx_result_filter(res, dlv_dns_keep, (void *)pol);
	outcome_classify_dns(res->status, &o);
	if (o.action == OUTCOME_DELIVERED) {
		dlv_mx_install(d, dr, res);
		dr->dns_failures = 0;
		log_debug("%s: %zu MX addresses", dr->name, dr->naddrs);
	} else {
		dr->mx_state = DOM_MX_NONE;
		dr->dns_failures++;
		snprintf(why, sizeof(why), "DNS lookup of %s: %s (%s)",
			 pol->relay.host[0] ? pol->relay.host : dr->name,
			 dns_status_str(res->status),
			 dns_reason_str(res->reason));
		dlv_strcpy(dr->last_error, sizeof(dr->last_error), why);
		dom_dirty(dr);
		log_info("%s: %s: %s", dr->name, why,
			 outcome_action_str(o.action));
		if (o.action != OUTCOME_RETRY)
			dlv_domain_fail(d, dr, &o, 0, why);
	}
	dns_mx_result_free(res);
	maint_poke(dr);
}

void
dlv_resolve(struct dlv *d, domain_record *dr)
{
	const struct domain_policy *pol = dlv_policy(d, dr);
	int rc;

	if (dr->mx_state == DOM_MX_RESOLVING || d->stopping)
		return;
	dr->mx_state = DOM_MX_RESOLVING;
	dom_dirty(dr);
	if (pol->relay.host[0])
		rc = dns_resolve_host(d->dns, pol->relay.host, pol->relay.port,
				      dlv_on_mx, dr, NULL);
	else
		rc = dns_resolve_mx(d->dns, dr->name, dlv_on_mx, dr, NULL);
	if (rc < 0) {
		dr->mx_state = DOM_MX_NONE;
		log_warn("%s: cannot start DNS lookup: %s", dr->name,
			 strerror(-rc));
	}
}

/* ---- domain-wide failures ---- */

void
dlv_domain_fail(struct dlv *d, domain_record *dr, const struct outcome *o,
		int code, const char *why)
{
	const struct domain_policy *pol = dlv_policy(d, dr);
	struct smtpc_result r;
	struct dom_unit *u;

	memset(&r, 0, sizeof(r));
	r.status = o->action == OUTCOME_PURGE_DOMAIN ? SMTPC_R_PERMANENT
						     : SMTPC_R_TEMPORARY;
	r.code = code;
	snprintf(r.text, sizeof(r.text), "%s", why);
	if (o->action == OUTCOME_DEFER_DOMAIN) {
		struct backoff_policy bp;
		int64_t now_ms = dlv_wall_ms(d);

		backoff_policy_init(&bp, (int64_t)pol->retry_interval_ms,
				    (int64_t)pol->max_retry_interval_ms,
				    (int64_t)pol->message_expiration_ms);
		dr->defer_failures++;
		dr->backoff_until_ms = backoff_domain_next(
		    &bp, dr->defer_failures, dlv_rand(d), now_ms);
		dom_dirty(dr);
	}
	while ((u = dom_active_pop_any(d->doms, dr)) != NULL)
		dlv_unit_fail(d, dr, u, o, &r);
	if (o->action != OUTCOME_PURGE_DOMAIN)
		return;
	while ((u = dom_delayed_pop(d->doms, dr)) != NULL)
		dlv_unit_fail(d, dr, u, o, &r);
}

void
dlv_requeue1(struct dlv *d, domain_record *dr, int slot, const char *why)
{
	const struct domain_policy *pol = dlv_policy(d, dr);
	struct dom_unit *u = dom_active_pop(d->doms, dr, slot);

	if (u == NULL)
		return;
	/* Not an attempt: the message did not leave.  Wait one retry
	 * interval (bounded by the domain schedule's first step). */
	u->due_ms = dlv_wall_ms(d) +
		    (int64_t)MIN(pol->retry_interval_ms, BACKOFF_MIN_MS);
	dom_delayed_push(d->doms, dr, u);
	d->st.requeued++;
	log_info("%s: one message requeued: %s", dr->name, why);
}
