/* SPDX-License-Identifier: MIT */
/*
 * control.c: ringctl's actions carried out in ringmta (queue, message,
 * flush, fail, retry, delete) and per-domain overrides made effective.
 *
 * A request comes from store/rstate.c's control channel; the answer is
 * one reply of tab-separated records (rstate_out): a header (node,
 * status ok / unknown / error, count, text) and rows.  Only what is
 * queued in memory is moved: a unit held by a session finishes its
 * attempt, and a recipient made final here is skipped by that session
 * (delivery_batch.c skips final recipients).  Bounces go through
 * dlv_domain_fail(); a deletion writes RECORD_RS_DELETED marks and a
 * "failed" delivery-log line per recipient, so counters and the log
 * agree.  Nothing here blocks.
 */
#include "control.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery.h"
#include "dlog.h"
#include "dlogw.h"
#include "log.h"
#include "maintainer.h"
#include "rstate.h"
#include "spool.h"
#include "value.h"

struct ctl {
	const struct config *cfg;
	struct dom_table *doms;
	struct rstate *rs;
	struct dlv *d;
};

/* What one action answers: header fields (after node) and rows. */
struct ctl_res {
	struct rstate_out hdr, rows;
	const char *status;
	uint64_t count;
};

struct ctl *
ctl_new(const struct ctl_opts *o)
{
	struct ctl *c = xcalloc(1, sizeof(*c));

	c->cfg = o->cfg;
	c->doms = o->doms;
	return c;
}

void
ctl_attach(struct ctl *c, struct rstate *rs, struct dlv *d)
{
	c->rs = rs;
	c->d = d;
}

void
ctl_free(struct ctl *c)
{
	free(c);
}

/* ---- overrides ----------------------------------------------------------- */

void
ctl_on_override(domain_record *dr, const char *text, void *arg)
{
	struct ctl *c = arg;
	struct domain_policy *old = dr->policy_ovr;

	dr->policy_ovr = text ? ctl_ovr_build(config_domain(c->cfg, dr->name),
					      text, dr->name)
			      : NULL;
	free(old);
	maint_poke(dr); /* new limits take effect on this turn */
}

void
ctl_set_config(struct ctl *c, const struct config *cfg)
{
	c->cfg = cfg;
	if (c->rs != NULL)
		rstate_overrides_reapply(c->rs);
}

void
ctl_on_resume(domain_record *dr, void *arg)
{
	(void)arg;
	maint_poke(dr);
}

/* ---- helpers ------------------------------------------------------------- */

static void ctl_status(struct ctl_res *r, const char *status, uint64_t count,
		       const char *fmt, ...) ATTR_FMT(4, 5);

static void
ctl_status(struct ctl_res *r, const char *status, uint64_t count,
	   const char *fmt, ...)
{
	char text[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	r->status = status;
	r->count = count;
	rstate_out_kv(&r->hdr, "text", text);
}

/* Every queued unit of message id in dr (only the delayed ones when
 * delayed_only), as a list owned by the caller. */
static struct dom_unit *
ctl_take_units(struct ctl *c, domain_record *dr, const uint8_t *id,
	       bool delayed_only)
{
	struct dom_unit *list = NULL, **tail = &list;

	(void)dom_take_msg(c->doms, dr, id, delayed_only, &tail);
	return list;
}

/* The records of the domains of m's live recipients, without repeats. */
static size_t
ctl_msg_domains(struct ctl *c, const struct spool_msg *m, domain_record ***v_r)
{
	struct spool_msg_info mi;
	domain_record **v;
	size_t n = 0;

	spool_msg_info(m, &mi);
	v = xcalloc(mi.nrcpt ? mi.nrcpt : 1, sizeof(*v));
	for (uint32_t i = 0; i < mi.nrcpt; i++) {
		struct spool_rcpt_info ri;
		char addr[RECORD_ADDR_MAX + 1], name[VALUE_HOST_MAX + 1],
		    why[128];
		const char *dom;
		domain_record *dr;
		size_t j;

		spool_msg_rcpt(m, i, &ri);
		snprintf(addr, sizeof(addr), "%.*s", (int)ri.addr.len,
			 (const char *)ri.addr.p);
		dom = dom_of_addr(addr);
		if (record_rcpt_state_final(ri.state) || dom == NULL ||
		    value_domain(dom, name, sizeof(name), why, sizeof(why)) < 0)
			continue;
		dr = dom_find(c->doms, name);
		for (j = 0; j < n && v[j] != dr; j++)
			;
		if (dr != NULL && j == n)
			v[n++] = dr;
	}
	*v_r = v;
	return n;
}

/* No connection waits for a back-off or a host penalty any more. */
static void
ctl_unblock(domain_record *dr)
{
	dr->backoff_until_ms = 0;
	dr->defer_failures = 0;
	for (size_t i = 0; i < dr->naddrs; i++) {
		dr->addrs[i].penalty_until_ms = 0;
		dr->addrs[i].strikes = 0;
	}
	dom_dirty(dr);
	maint_poke(dr);
}

/*
 * Make recipient idx of message id final without a DSN (RECORD_RS_DELETED)
 * and log it as failed.  Returns 1 when the message is now done, 0, or
 * -ENOENT when it is no longer live (or idx is final already: 0).
 */
static int
ctl_drop_rcpt(struct ctl *c, domain_record *dr, const uint8_t *id, uint32_t idx,
	      const char *why)
{
	struct spool_state st = {.state = RECORD_RS_DELETED, .text = why};
	const struct spool_msg *m = spool_find(c->d->sp, id);
	char addr[RECORD_ADDR_MAX + 1], sender[RECORD_ADDR_MAX + 1],
	    idstr[SPOOL_ID_STR_LEN];
	struct spool_msg_info mi;
	struct spool_rcpt_info ri;
	struct dlog_event e;
	int rc;

	if (m == NULL)
		return -ENOENT;
	spool_msg_info(m, &mi);
	if (idx >= mi.nrcpt)
		return 0;
	spool_msg_rcpt(m, idx, &ri);
	if (record_rcpt_state_final(ri.state))
		return 0;
	snprintf(addr, sizeof(addr), "%.*s", (int)ri.addr.len,
		 (const char *)ri.addr.p);
	snprintf(sender, sizeof(sender), "%.*s", (int)mi.sender.len,
		 (const char *)mi.sender.p);
	st.attempts = ri.attempts;
	dlog_event_init(&e);
	e.ts_ms = dlv_wall_ms(c->d);
	e.ev = DLOG_EV_FAILED;
	e.id = spool_id_str(id, idstr);
	e.rcpt = addr;
	e.domain = dr != NULL ? dr->name : dom_of_addr(addr);
	e.text = why;
	e.attempt = ri.attempts;
	e.sender = sender;
	rc = spool_mark(c->d->sp, id, idx, 1, &st, NULL, NULL);
	if (rc < 0) {
		log_warn("message %s recipient %" PRIu32 ": cannot delete: %s",
			 idstr, idx, strerror(-rc));
		return 0;
	}
	dlogw_event(c->d->dl, &e);
	if (dr != NULL) {
		dr->failures++;
		dom_dirty(dr);
	}
	return rc;
}

/* Drop every recipient of u (consumed); returns how many were dropped. */
static unsigned
ctl_drop_unit(struct ctl *c, domain_record *dr, struct dom_unit *u,
	      const char *why)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < u->nrcpt; i++) {
		int rc = ctl_drop_rcpt(c, dr, u->id, u->rcpt[i], why);

		if (rc < 0)
			break;
		n++;
	}
	dom_unit_free(u);
	return n;
}

/* ---- queue, message ------------------------------------------------------ */

struct ctl_walk {
	struct ctl *c;
	struct ctl_res *r;
	uint64_t units;
};

static void
ctl_queue_row(struct ctl_walk *w, domain_record *dr, const struct dom_unit *u,
	      const char *where)
{
	const struct spool_msg *m = spool_find(w->c->d->sp, u->id);
	struct rstate_out *o = &w->r->rows;
	struct spool_rcpt_info ri;
	char idstr[SPOOL_ID_STR_LEN];

	w->units++;
	if (m == NULL || w->units > CTL_QUEUE_ROWS)
		return;
	spool_msg_rcpt(m, u->nrcpt ? u->rcpt[0] : 0, &ri);
	rstate_out_kv(o, "id", spool_id_str(u->id, idstr));
	rstate_out_kv(o, "domain", dr->name);
	rstate_out_kv(o, "queue", where);
	rstate_out_kvf(o, "recipients", "%" PRIu32, u->nrcpt);
	rstate_out_kvf(o, "rcpt", "%.*s%s", (int)MIN(ri.addr.len, 200),
		       (const char *)ri.addr.p, u->nrcpt > 1 ? " ..." : "");
	rstate_out_kvf(o, "attempts", "%" PRIu32, u->attempts);
	rstate_out_kvf(o, "next_attempt", "%" PRId64,
		       strcmp(where, "delayed") == 0 ? u->due_ms : 0);
	if (ri.text[0])
		rstate_out_kvf(o, "last_error", "%s%s%s", ri.ecode,
			       ri.ecode[0] ? " " : "", ri.text);
	else
		rstate_out_kv(o, "last_error", dr->last_error);
	rstate_out_end(o);
}

static void
ctl_queue_dom(domain_record *dr, void *arg)
{
	struct ctl_walk *w = arg;

	for (unsigned b = 0; b < dr->nbind; b++)
		for (const struct dom_unit *u = dr->bind[b].active.head; u;
		     u = u->next)
			ctl_queue_row(w, dr, u, "active");
	for (const struct dom_unit *u = dr->delayed.head; u; u = u->next)
		ctl_queue_row(w, dr, u, "delayed");
}

static void
ctl_queue(struct ctl *c, const struct rstate_ctl_msg *m, struct ctl_res *r)
{
	struct ctl_walk w = {.c = c, .r = r};
	domain_record *dr = NULL;

	if (m->arg[0] != '\0' && (dr = dom_find(c->doms, m->arg)) == NULL) {
		ctl_status(r, "unknown", 0, "no such domain %s", m->arg);
		return;
	}
	if (dr != NULL)
		ctl_queue_dom(dr, &w);
	else
		dom_foreach(c->doms, ctl_queue_dom, &w);
	ctl_status(r, "ok", w.units, "%" PRIu64 " units queued%s", w.units,
		   w.units > CTL_QUEUE_ROWS ? " (first 1000 listed)" : "");
}

static void
ctl_message(const struct spool_msg *m, struct ctl_res *r)
{
	struct spool_msg_info mi;

	spool_msg_info(m, &mi);
	rstate_out_kvf(&r->hdr, "sender", "%.*s", (int)mi.sender.len,
		       (const char *)mi.sender.p);
	rstate_out_kvf(&r->hdr, "received", "%" PRIu64, mi.received_us / 1000);
	rstate_out_kvf(&r->hdr, "live", "%" PRIu32, mi.nlive);
	for (uint32_t i = 0; i < mi.nrcpt; i++) {
		struct spool_rcpt_info ri;
		struct rstate_out *o = &r->rows;

		spool_msg_rcpt(m, i, &ri);
		rstate_out_kvf(o, "rcpt", "%.*s", (int)ri.addr.len,
			       (const char *)ri.addr.p);
		rstate_out_kv(o, "state", record_rcpt_state_str(ri.state));
		rstate_out_kvf(o, "attempts", "%" PRIu32, ri.attempts);
		rstate_out_kvf(o, "next_attempt", "%" PRIu64,
			       ri.next_try_us / 1000);
		rstate_out_kvf(o, "code", "%u", (unsigned)ri.code);
		rstate_out_kvf(o, "last_error", "%s%s%s", ri.ecode,
			       ri.ecode[0] ? " " : "", ri.text);
		rstate_out_end(o);
	}
	ctl_status(r, "ok", mi.nrcpt,
		   "%" PRIu32 " recipients, %" PRIu32 " not final", mi.nrcpt,
		   mi.nlive);
}

/* ---- flush, fail -----------------------------------------------------------
 */

static void
ctl_flush_dom(domain_record *dr, void *arg)
{
	struct ctl_walk *w = arg;

	w->units += dom_promote_due(dr, INT64_MAX);
	ctl_unblock(dr);
}

static void
ctl_flush(struct ctl *c, const struct rstate_ctl_msg *m, struct ctl_res *r)
{
	struct ctl_walk w = {.c = c, .r = r};
	domain_record *dr;

	if (strcmp(m->arg, "all") == 0) {
		dom_foreach(c->doms, ctl_flush_dom, &w);
		ctl_status(r, "ok", w.units,
			   "flushed %" PRIu64 " delayed units of %zu domains",
			   w.units, c->doms->count);
		return;
	}
	dr = dom_find(c->doms, m->arg);
	if (dr == NULL) {
		ctl_status(r, "unknown", 0, "no such domain %s", m->arg);
		return;
	}
	ctl_flush_dom(dr, &w);
	ctl_status(r, "ok", w.units, "flushed %" PRIu64 " delayed units of %s",
		   w.units, dr->name);
}

static void
ctl_fail(struct ctl *c, const struct rstate_ctl_msg *m, struct ctl_res *r)
{
	static const struct outcome o = {
	    .scope = OUTCOME_SCOPE_DOMAIN,
	    .action = OUTCOME_PURGE_DOMAIN,
	    .rule = "administrator",
	    .esc = "5.0.0",
	};
	domain_record *dr = dom_find(c->doms, m->arg);
	struct dom_unit *u;
	uint64_t units, rcpts = 0;

	if (dr == NULL) {
		ctl_status(r, "unknown", 0, "no such domain %s", m->arg);
		return;
	}
	units = dr->nactive + dr->delayed.count;
	if (!m->quiet)
		dlv_domain_fail(c->d, dr, &o, 0,
				"failed by an administrator (ringctl fail)");
	while (m->quiet && (u = dom_active_pop_any(c->doms, dr)) != NULL)
		rcpts += ctl_drop_unit(c, dr, u, "failed by an administrator");
	while (m->quiet && (u = dom_delayed_pop(c->doms, dr)) != NULL)
		rcpts += ctl_drop_unit(c, dr, u, "failed by an administrator");
	log_info("domain %s: %" PRIu64 " queued units failed by an "
		 "administrator%s",
		 dr->name, units, m->quiet ? " (no DSN)" : "");
	if (m->quiet)
		ctl_status(r, "ok", units,
			   "failed %" PRIu64 " units (%" PRIu64
			   " recipients) of %s without DSN",
			   units, rcpts, dr->name);
	else
		ctl_status(r, "ok", units, "failed %" PRIu64 " units of %s",
			   units, dr->name);
}

/* ---- retry, delete ------------------------------------------------------- */

static void
ctl_retry(struct ctl *c, const uint8_t *id, const struct spool_msg *m,
	  struct ctl_res *r)
{
	domain_record **v;
	size_t n = ctl_msg_domains(c, m, &v);
	uint64_t units = 0;

	for (size_t i = 0; i < n; i++) {
		struct dom_unit *u = ctl_take_units(c, v[i], id, true), *next;

		for (; u != NULL; u = next) {
			next = u->next;
			u->due_ms = 0;
			dom_active_push(c->doms, v[i], u);
			units++;
		}
		ctl_unblock(v[i]);
	}
	free(v);
	ctl_status(r, "ok", units, "%" PRIu64 " delayed units due now", units);
}

static void
ctl_delete(struct ctl *c, const uint8_t *id, const struct spool_msg *m,
	   struct ctl_res *r)
{
	static const char why[] = "deleted by an administrator";
	domain_record **v;
	size_t n = ctl_msg_domains(c, m, &v);
	struct spool_msg_info mi;
	uint64_t rcpts = 0;
	bool done = false;

	for (size_t i = 0; i < n; i++) {
		struct dom_unit *u = ctl_take_units(c, v[i], id, false), *next;

		for (; u != NULL; u = next) {
			next = u->next;
			dom_unit_free(u);
		}
	}
	spool_msg_info(m, &mi);
	/* m may go at the last mark: take nothing from it after this. */
	for (uint32_t i = 0, nrcpt = mi.nrcpt; i < nrcpt && !done; i++) {
		const struct spool_msg *cur = spool_find(c->d->sp, id);
		struct spool_rcpt_info ri;
		char addr[RECORD_ADDR_MAX + 1], name[VALUE_HOST_MAX + 1], w[64];
		const char *dom;
		int rc;

		if (cur == NULL)
			break;
		spool_msg_rcpt(cur, i, &ri);
		snprintf(addr, sizeof(addr), "%.*s", (int)ri.addr.len,
			 (const char *)ri.addr.p);
		dom = dom_of_addr(addr);
		rc = ctl_drop_rcpt(c,
				   dom && value_domain(dom, name, sizeof(name),
						       w, sizeof(w)) == 0
				       ? dom_find(c->doms, name)
				       : NULL,
				   id, i, why);
		rcpts += rc >= 0 && !record_rcpt_state_final(ri.state);
		done = rc == 1;
	}
	for (size_t i = 0; i < n; i++)
		maint_poke(v[i]);
	free(v);
	rstate_out_kv(&r->hdr, "reclaimed", done ? "1" : "0");
	ctl_status(r, "ok", rcpts, "%" PRIu64 " recipients deleted%s", rcpts,
		   done ? ", message reclaimed" : "");
}

/* ---- dispatch ------------------------------------------------------------ */

static void
ctl_by_id(struct ctl *c, const struct rstate_ctl_msg *m, struct ctl_res *r)
{
	uint8_t id[DOM_ID_LEN];
	const struct spool_msg *msg;

	if (ctl_id_parse(m->arg, id) < 0 ||
	    (msg = spool_find(c->d->sp, id)) == NULL) {
		ctl_status(r, "unknown", 0, "no such message %s", m->arg);
		return;
	}
	if (m->op == RSTATE_CTL_MESSAGE)
		ctl_message(msg, r);
	else if (m->op == RSTATE_CTL_RETRY)
		ctl_retry(c, id, msg, r);
	else
		ctl_delete(c, id, msg, r);
}

/* ---- domain ------------------------------------------------------------- */

/* An address's state for people: usable, penalized (no session before
 * penalty_until) or failing (failed sessions in a row, not penalized). */
static const char *
ctl_addr_state(const struct dom_addr *a, int64_t now_ms)
{
	if (a->penalty_until_ms > now_ms)
		return "penalized";
	return a->failures ? "failing" : "ok";
}

/*
 * domain NAME: one row per MX address (kind=mx: host, ip, pref, state,
 * connections, failures, penalty_until, last_error) and one per binding
 * with sessions or units to the domain (kind=binding: binding,
 * connections, active).  count is the number of addresses.
 */
static void
ctl_domain(struct ctl *c, const struct rstate_ctl_msg *m, struct ctl_res *r)
{
	domain_record *dr = dom_find(c->doms, m->arg);
	int64_t now_ms = dlv_wall_ms(c->d);
	struct rstate_out *o = &r->rows;

	if (dr == NULL) {
		ctl_status(r, "unknown", 0, "no such domain %s", m->arg);
		return;
	}
	for (size_t i = 0; i < dr->naddrs; i++) {
		const struct dom_addr *a = &dr->addrs[i];

		rstate_out_kv(o, "kind", "mx");
		rstate_out_kv(o, "host", a->host);
		rstate_out_kv(o, "ip", a->ip);
		rstate_out_kvf(o, "pref", "%u", (unsigned)a->pref);
		rstate_out_kv(o, "state", ctl_addr_state(a, now_ms));
		rstate_out_kvf(o, "connections", "%u", a->nconn);
		rstate_out_kvf(o, "failures", "%" PRIu32, a->failures);
		rstate_out_kvf(
		    o, "penalty_until", "%" PRId64,
		    a->penalty_until_ms > now_ms ? a->penalty_until_ms : 0);
		rstate_out_kv(o, "last_error", a->last_error);
		rstate_out_end(o);
	}
	for (unsigned b = 0; b < dr->nbind; b++) {
		const struct binding *bd = bnd_get(c->d->bnds, (int)b);
		uint32_t n = dr->bind[b].active.count;

		if (bd == NULL || (dr->bind[b].nconn == 0 && n == 0))
			continue;
		rstate_out_kv(o, "kind", "binding");
		rstate_out_kv(o, "binding", bd->name);
		rstate_out_kvf(o, "connections", "%u", dr->bind[b].nconn);
		rstate_out_kvf(o, "active", "%" PRIu32, n);
		rstate_out_end(o);
	}
	ctl_status(r, "ok", dr->naddrs,
		   "%s: MX %s, %zu addresses, %u connections, %" PRIu32
		   " active, %" PRIu32 " delayed%s%s",
		   dr->name, dom_mx_state_str(dr->mx_state), dr->naddrs,
		   dr->nconn, dr->nactive, dr->delayed.count,
		   dr->last_error[0] ? "; last error: " : "", dr->last_error);
}

static void
ctl_run(struct ctl *c, const struct rstate_ctl_msg *m, struct ctl_res *r)
{
	switch (m->op) {
	case RSTATE_CTL_QUEUE:
		ctl_queue(c, m, r);
		return;
	case RSTATE_CTL_FLUSH:
		ctl_flush(c, m, r);
		return;
	case RSTATE_CTL_FAIL:
		ctl_fail(c, m, r);
		return;
	case RSTATE_CTL_MESSAGE:
	case RSTATE_CTL_RETRY:
	case RSTATE_CTL_DELETE:
		ctl_by_id(c, m, r);
		return;
	case RSTATE_CTL_DOMAIN:
		ctl_domain(c, m, r);
		return;
	case RSTATE_CTL_SUSPEND:
	case RSTATE_CTL_RESUME:
	case RSTATE_CTL_OVERRIDE:
	case RSTATE_CTL__COUNT:
		break;
	}
	ctl_status(r, "error", 0, "not a request");
}

void
ctl_on_request(const struct rstate_ctl_msg *m, void *arg)
{
	struct ctl *c = arg;
	struct ctl_res r = {.status = "error"};
	struct rstate_out out = {0};
	int rc;

	if (c->rs == NULL)
		return;
	if (c->d == NULL)
		ctl_status(&r, "error", 0, "not ready (starting or stopping)");
	else
		ctl_run(c, m, &r);
	rstate_out_kv(&out, "node", rstate_node(c->rs));
	rstate_out_kv(&out, "op", rstate_ctl_str(m->op));
	rstate_out_kv(&out, "status", r.status);
	rstate_out_kvf(&out, "count", "%" PRIu64, r.count);
	if (r.hdr.len) {
		rstate_out_raw(&out, "\t", 1);
		rstate_out_raw(&out, r.hdr.buf, r.hdr.len);
	}
	rstate_out_end(&out);
	if (r.rows.len)
		rstate_out_raw(&out, r.rows.buf, r.rows.len);
	rc = rstate_reply(c->rs, m->reqid, out.buf, out.len);
	if (rc < 0)
		log_warn("control: cannot answer %s %s: %s",
			 rstate_ctl_str(m->op), m->reqid, strerror(-rc));
	rstate_out_fini(&out);
	rstate_out_fini(&r.hdr);
	rstate_out_fini(&r.rows);
}
