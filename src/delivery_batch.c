/* SPDX-License-Identifier: MIT */
/*
 * delivery_batch.c: one unit's recipient outcomes carried out: delivery
 * log lines, spool marks (delivered / deferred / bounced / expired),
 * requeues and the DSN.  Decisions come from outcome.c and times from
 * backoff.c; nothing here decides.
 */
#include "delivery_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlogw.h"
#include "log.h"
#include "spool.h"

void
dlv_sa_ip(const struct sockaddr_storage *sa, char *buf, size_t size)
{
	const void *p =
	    sa->ss_family == AF_INET6
		? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
		: (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

	if (inet_ntop(sa->ss_family, p, buf, (socklen_t)size) == NULL)
		snprintf(buf, size, "?");
}

void
dlv_batch_init(struct dlv_batch *b, struct dlv *d, domain_record *dr,
	       struct dom_unit *u)
{
	const struct spool_msg *m = spool_find(d->sp, u->id);

	memset(b, 0, sizeof(*b));
	b->d = d;
	b->dr = dr;
	b->u = u;
	b->pol = dlv_policy(d, dr);
	backoff_policy_init(&b->bp, (int64_t)b->pol->retry_interval_ms,
			    (int64_t)b->pol->max_retry_interval_ms,
			    (int64_t)b->pol->message_expiration_ms);
	b->now_ms = dlv_wall_ms(d);
	b->ctx.tls = b->pol->tls;
	b->ctx.last_mx = true;
	b->binding = bnd_get(d->bnds, u->bslot)
			 ? bnd_get(d->bnds, u->bslot)->name
			 : NULL;
	b->ms = -1;
	spool_id_str(u->id, b->idstr);
	if (m != NULL) {
		struct spool_msg_info mi;

		spool_msg_info(m, &mi);
		b->live = true;
		b->received_ms = (int64_t)(mi.received_us / 1000);
		b->msg_flags = mi.flags;
		snprintf(b->sender, sizeof(b->sender), "%.*s",
			 (int)mi.sender.len, (const char *)mi.sender.p);
	}
	b->marks = xcalloc(u->nrcpt ? u->nrcpt : 1, sizeof(*b->marks));
	b->now_idx = xcalloc(u->nrcpt ? u->nrcpt : 1, sizeof(*b->now_idx));
	b->later_idx = xcalloc(u->nrcpt ? u->nrcpt : 1, sizeof(*b->later_idx));
	b->dsn = xcalloc(u->nrcpt ? u->nrcpt : 1, sizeof(*b->dsn));
}

void
dlv_batch_session(struct dlv_batch *b, struct conn *c, struct smtpc *s,
		  int64_t ms)
{
	struct smtpc_tls_info ti;
	struct dom_addr *a = dlv_conn_addr(c);

	smtpc_tls_info(s, &ti);
	b->mx = c->host;
	b->ip = c->ip;
	b->tls = ti.protocol;
	b->cipher = ti.cipher;
	b->ms = ms;
	b->ctx.tls_attempted = c->tls_tried;
	b->ctx.last_mx =
	    a ? dom_mx_last(b->dr, (size_t)(a - b->dr->addrs), b->now_ms)
	      : true;
}

static void
dlv_batch_log(struct dlv_batch *b, enum dlog_ev ev, const char *rcpt,
	      const struct outcome *o, const struct smtpc_result *r,
	      unsigned attempt)
{
	struct dlog_event e;

	dlog_event_init(&e);
	e.ts_ms = b->now_ms;
	e.ev = ev;
	e.id = b->idstr;
	e.rcpt = rcpt;
	e.domain = b->dr->name;
	e.binding = b->binding;
	e.mx = b->mx;
	e.ip = b->ip;
	e.code = r && r->code ? r->code : -1;
	e.enhanced = o->esc[0] ? o->esc : NULL;
	e.text = r && r->text[0] ? r->text : NULL;
	e.tls = b->tls;
	e.cipher = b->cipher;
	e.attempt = attempt;
	e.ms = b->ms;
	e.sender = b->sender;
	e.stage = r ? smtpc_stage_str(r->stage) : NULL;
	dlogw_event(b->d->dl, &e);
}

static struct dlv_mark *
dlv_batch_mark(struct dlv_batch *b, uint32_t idx, uint8_t state,
	       uint32_t attempts, const struct outcome *o,
	       const struct smtpc_result *r)
{
	struct dlv_mark *mk = &b->marks[b->nmarks++];

	mk->idx = idx;
	mk->state = state;
	mk->attempts = attempts;
	mk->code = r && r->code > 0 && r->code < 1000 ? (uint16_t)r->code : 0;
	snprintf(mk->ecode, sizeof(mk->ecode), "%s", o->esc);
	if (r)
		snprintf(mk->text, sizeof(mk->text), "%s", r->text);
	return mk;
}

/* A final failure: bounced (DSN if allowed) or expired. */
static void
dlv_batch_final(struct dlv_batch *b, uint32_t idx,
		const struct spool_rcpt_info *ri, const struct outcome *o,
		const struct smtpc_result *r, uint32_t attempts, bool expired)
{
	char addr[RECORD_ADDR_MAX + 1];
	unsigned flags =
	    b->msg_flags & RECORD_MSG_F_BOUNCE ? BOUNCE_F_IS_DSN : 0;
	bool dsn =
	    bounce_should_send(b->sender, flags, ri->notify, BOUNCE_FAILED);
	struct outcome eo = *o;

	snprintf(addr, sizeof(addr), "%.*s", (int)ri->addr.len,
		 (const char *)ri->addr.p);
	if (expired)
		snprintf(eo.esc, sizeof(eo.esc), "5.4.7");
	dlv_batch_mark(b, idx, expired ? RECORD_RS_EXPIRED : RECORD_RS_BOUNCED,
		       attempts, &eo, r);
	dlv_batch_log(b,
		      expired ? DLOG_EV_EXPIRED
			      : (dsn ? DLOG_EV_BOUNCED : DLOG_EV_FAILED),
		      addr, &eo, r, attempts);
	b->dr->failures++;
	dom_dirty(b->dr);
	if (expired)
		b->d->st.expired++;
	else
		b->d->st.bounced++;
	if (dsn) {
		struct dlv_dsn_rcpt *dr = &b->dsn[b->ndsn++];

		dr->addr = xstrdup(addr);
		dr->orcpt = ri->orcpt.len ? xstrndup((const char *)ri->orcpt.p,
						     ri->orcpt.len)
					  : NULL;
		dr->diag = r && r->text[0] ? xstrdup(r->text) : NULL;
		dr->mta = b->mx ? xstrdup(b->mx) : NULL;
		snprintf(dr->status, sizeof(dr->status), "%s", eo.esc);
		dr->last_attempt = b->now_ms / 1000;
	}
}

static void
dlv_batch_retry(struct dlv_batch *b, uint32_t idx,
		const struct spool_rcpt_info *ri, const struct outcome *o,
		const struct smtpc_result *r, uint32_t attempts)
{
	char addr[RECORD_ADDR_MAX + 1];
	int64_t due;
	struct dlv_mark *mk;

	if (!o->count_attempt && !b->force_later) {
		b->now_idx[b->nnow++] = idx; /* not an attempt: again now */
		return;
	}
	if (backoff_expired(b->received_ms, b->now_ms,
			    (int64_t)b->pol->message_expiration_ms)) {
		dlv_batch_final(b, idx, ri, o, r, attempts, true);
		return;
	}
	due = backoff_next_msg(&b->bp, attempts ? attempts : 1, dlv_rand(b->d),
			       b->now_ms, b->received_ms);
	b->later_idx[b->nlater++] = idx;
	b->later_attempts = MAX(b->later_attempts, attempts);
	b->later_due = MAX(b->later_due, due);
	mk = dlv_batch_mark(b, idx, RECORD_RS_DEFERRED, attempts, o, r);
	mk->next_try_us = (uint64_t)MAX(due, 1) * 1000;
	snprintf(addr, sizeof(addr), "%.*s", (int)ri->addr.len,
		 (const char *)ri->addr.p);
	dlv_batch_log(b, DLOG_EV_DEFERRED, addr, o, r, attempts);
	b->dr->transients++;
	dom_dirty(b->dr);
	b->d->st.deferred++;
}

void
dlv_batch_apply(struct dlv_batch *b, uint32_t idx, const struct outcome *o,
		const struct smtpc_result *r)
{
	const struct spool_msg *m = spool_find(b->d->sp, b->u->id);
	struct spool_rcpt_info ri;
	struct spool_msg_info mi;
	uint32_t attempts;
	char addr[RECORD_ADDR_MAX + 1];

	if (m == NULL)
		return;
	spool_msg_info(m, &mi);
	if (idx >= mi.nrcpt)
		return;
	spool_msg_rcpt(m, idx, &ri);
	if (record_rcpt_state_final(ri.state))
		return;
	/* This attempt counts when it reached a verdict on the recipient
	 * (delivered, bounced) or the table says it counts. */
	attempts =
	    ri.attempts + (o->count_attempt || o->action == OUTCOME_DELIVERED ||
				   o->action == OUTCOME_BOUNCE
			       ? 1
			       : 0);
	if (o->no_reuse)
		b->no_reuse = true;
	if (b->force_expire) {
		dlv_batch_final(b, idx, &ri, o, r, ri.attempts, true);
		return;
	}
	switch (o->action) {
	case OUTCOME_DELIVERED:
		snprintf(addr, sizeof(addr), "%.*s", (int)ri.addr.len,
			 (const char *)ri.addr.p);
		dlv_batch_mark(b, idx, RECORD_RS_DELIVERED, attempts, o, r);
		dlv_batch_log(b, DLOG_EV_DELIVERED, addr, o, r, attempts);
		b->dr->deliveries++;
		dom_dirty(b->dr);
		b->d->st.delivered++;
		break;
	case OUTCOME_BOUNCE:
	case OUTCOME_PURGE_DOMAIN:
		dlv_batch_final(b, idx, &ri, o, r, attempts, false);
		break;
	case OUTCOME_RETRY:
	case OUTCOME_NEXT_MX:
	case OUTCOME_DEFER_DOMAIN:
	case OUTCOME_SUSPEND_BINDING:
	case OUTCOME_NEW_TXN:
	case OUTCOME_PLAINTEXT_RETRY:
	case OUTCOME__COUNT:
		dlv_batch_retry(b, idx, &ri, o, r, attempts);
		break;
	}
}

void
dlv_batch_rcpt(struct dlv_batch *b, uint32_t i, const struct smtpc_result *r,
	       unsigned accepted)
{
	struct outcome o;

	b->ctx.accepted = accepted;
	outcome_classify_rcpt(r, &b->ctx, &o);
	if (i < b->u->nrcpt)
		dlv_batch_apply(b, b->u->rcpt[i], &o, r);
}

static struct dom_unit *
dlv_batch_unit(struct dlv_batch *b, const uint32_t *idx, uint32_t n,
	       uint32_t attempts)
{
	struct dom_unit *u = dom_unit_new(b->u->id, n);

	memcpy(u->rcpt, idx, n * sizeof(*idx));
	u->nrcpt = n;
	u->bslot = b->u->bslot;
	u->attempts = attempts;
	u->received_ms = b->u->received_ms;
	return u;
}

void
dlv_batch_finish(struct dlv_batch *b)
{
	struct dlv *d = b->d;

	dlv_dsn_send_batch(b); /* bounce marks go after the DSN's commit */
	dlv_dsn_delay(b);      /* before the marks: reads the last retry */
	for (uint32_t i = 0; i < b->nmarks; i++)
		dlv_dsn_mark_write(d, b->u->id, &b->marks[i]);
	if (b->nnow)
		dom_active_unshift(
		    d->doms, b->dr,
		    dlv_batch_unit(b, b->now_idx, b->nnow, b->u->attempts));
	if (b->nlater) {
		struct dom_unit *u = dlv_batch_unit(b, b->later_idx, b->nlater,
						    b->later_attempts);

		u->due_ms = b->later_due;
		dom_delayed_push(d->doms, b->dr, u);
	}
	for (uint32_t i = 0; i < b->ndsn; i++) {
		free(b->dsn[i].addr);
		free(b->dsn[i].orcpt);
		free(b->dsn[i].diag);
		free(b->dsn[i].mta);
	}
	free(b->dsn);
	free(b->marks);
	free(b->now_idx);
	free(b->later_idx);
	dom_unit_free(b->u);
	b->u = NULL;
}

void
dlv_unit_fail(struct dlv *d, domain_record *dr, struct dom_unit *u,
	      const struct outcome *o, const struct smtpc_result *r)
{
	struct dlv_batch b;

	dlv_batch_init(&b, d, dr, u);
	b.force_later = true;
	for (uint32_t i = 0; i < u->nrcpt; i++)
		dlv_batch_apply(&b, u->rcpt[i], o, r);
	dlv_batch_finish(&b);
}

void
dlv_unit_expire(struct dlv *d, domain_record *dr, struct dom_unit *u,
		const struct smtpc_result *r)
{
	struct dlv_batch b;
	struct smtpc_result er;
	struct outcome o = {
	    .scope = OUTCOME_SCOPE_MESSAGE,
	    .action = OUTCOME_BOUNCE,
	    .rule = "expired",
	    .esc = "5.4.7",
	};

	if (r == NULL) {
		memset(&er, 0, sizeof(er));
		er.status = SMTPC_R_PERMANENT;
		snprintf(er.text, sizeof(er.text),
			 "message expired after %" PRIu64 " s in the queue%s%s",
			 dlv_policy(d, dr)->message_expiration_ms / 1000,
			 dr->last_error[0] ? "; last error: " : "",
			 dr->last_error);
		r = &er;
	}
	dlv_batch_init(&b, d, dr, u);
	b.force_expire = true;
	for (uint32_t i = 0; i < u->nrcpt; i++)
		dlv_batch_apply(&b, u->rcpt[i], &o, r);
	dlv_batch_finish(&b);
}
