/* SPDX-License-Identifier: MIT */
/*
 * listener.c: intake policy on top of the smtps engine and the spool.
 * See listener.h for what it decides and the acknowledgement rule.
 *
 * Commands, the commit and the acknowledgement live here; the body path
 * (header section, Received:, Message-ID:, Date:, 8-bit data) is in
 * listener_hdr.c.
 */
#include "listener.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "listener_int.h"
#include "log.h"
#include "tls.h"
#include "ring.h"
#include "timer.h"
#include "smtp_server.h"
#include "value.h"

/* The open transaction's id, for logs (static buffer). */
const char *
lst_txn_idstr(const struct lst_sess *ls)
{
	static char idstr[SPOOL_ID_STR_LEN];

	return spool_id_str(spool_txn_id(ls->txn), idstr);
}

/* Drop the transaction (if any) and the envelope; the commit hint is left
 * as it is. */
static void
lst_txn_clear(struct lst_sess *ls)
{
	if (ls->txn_open)
		spool_txn_abort(ls->txn);
	free(ls->txn); /* idle now, or handed to a commit context (NULL) */
	ls->txn = NULL;
	ls->txn_open = false;
	smtps_resume(ls->s); /* no transaction: nothing to wait for */
	free(ls->sender);
	ls->sender = NULL;
	for (uint32_t i = 0; i < ls->nrcpt; i++) {
		free(ls->rcpt[i].addr);
		free(ls->rcpt[i].orcpt);
	}
	ls->nrcpt = 0;
	ls->ret = SMTPP_RET_NONE;
	ls->envid[0] = '\0';
	ls->smtputf8 = ls->body8bit = ls->saw8bit = false;
	ls->in_data = ls->in_headers = false;
	ls->hold_len = ls->hold_scan = 0;
	ls->txn_err = 0;
	ls->refuse[0] = '\0';
	ls->size = 0;
}

/* The transaction and its commit hint end (committed, refused, RSET, ...). */
static void
lst_txn_reset(struct lst_sess *ls)
{
	spool_hint_end(ls->l->sp, &ls->hint);
	lst_txn_clear(ls);
}

/* ---- session callbacks ---------------------------------------------- */

static void
lst_on_banner(struct timer *t)
{
	struct lst_sess *ls = container_of(t, struct lst_sess, banner);

	smtps_reply(ls->s, 0, NULL);
}

static void
lst_on_connect(struct smtps_session *s)
{
	struct listener *l = smtps_server_udata(smtps_session_server(s));
	struct lst_sess *ls;

	ls = xcalloc(1, sizeof(*ls));
	ls->l = l;
	ls->s = s;
	ls->trusted =
	    value_cidr_match(&l->cfg->listener.relay_networks,
			     (const struct sockaddr *)smtps_peer_sa(s));
	smtps_set_udata(s, ls);
	timer_init(&ls->banner, lst_on_banner);
	l->st.sessions++;
	if (!spool_healthy(l->sp)) {
		smtps_reply_close(
		    s, 421,
		    "4.3.2 Service temporarily unavailable: spool unhealthy");
		return;
	}
	/* A fresh session of a trusted injector is about to send a message:
	 * the group commit may wait for it from now on, not only from MAIL
	 * (it ends at its commit or as any hint; the spool's TTL bounds a
	 * slow or idle client). */
	if (ls->trusted)
		spool_hint_begin(l->sp, &ls->hint);
	if (l->cfg->listener.banner_delay_ms) {
		/* Clients that talk before the greeting are refused by the
		 * engine (554 5.5.0) while it is pending. */
		timer_arm(ring_timers(l->ring), &ls->banner,
			  ring_now(l->ring) +
			      (int64_t)l->cfg->listener.banner_delay_ms *
				  1000000);
		return;
	}
	smtps_reply(s, 0, NULL);
}

static void
lst_on_mail(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	struct lst_sess *ls = lst_sess(s);
	char addr[SMTPP_LOCAL_HARD_MAX + SMTPP_DOMAIN_MAX + 8];

	lst_txn_clear(ls); /* a hint begun at connect goes on */
	if ((cmd->path.flags & SMTPP_PATH_F_UTF8) && !cmd->mail.smtputf8) {
		spool_hint_end(ls->l->sp, &ls->hint);
		smtps_reply(s, 553,
			    "5.6.7 Non-ASCII sender address needs SMTPUTF8");
		return;
	}
	if (smtpp_addr_str(&cmd->path, addr, sizeof(addr)) < 0) {
		spool_hint_end(ls->l->sp, &ls->hint);
		smtps_reply(s, 501, "5.1.7 Bad sender address");
		return;
	}
	ls->sender = xstrdup(addr);
	ls->ret = cmd->mail.ret;
	memcpy(ls->envid, cmd->mail.envid, cmd->mail.envid_len);
	ls->envid[cmd->mail.envid_len] = '\0';
	ls->smtputf8 = cmd->mail.smtputf8;
	ls->body8bit = cmd->mail.body == SMTPP_BODY_8BITMIME;
	/* A commit is coming: the group commit may wait for it (no-op when
	 * the session's hint from connect is still on). */
	spool_hint_begin(ls->l->sp, &ls->hint);
	smtps_reply(s, 0, NULL);
}

static void
lst_on_rcpt(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	struct lst_sess *ls = lst_sess(s);
	char addr[SMTPP_LOCAL_HARD_MAX + SMTPP_DOMAIN_MAX + 8];
	char norm[VALUE_HOST_MAX + 1], why[128];
	struct lst_rcpt *r;

	if (!ls->trusted) {
		ls->l->st.relay_denied++;
		smtps_reply(s, 554, "5.7.1 Relay access denied");
		return;
	}
	if (cmd->path.flags & SMTPP_PATH_F_RELAY_MASK) {
		ls->l->st.relay_denied++;
		smtps_reply(
		    s, 554,
		    "5.7.1 Relay access denied: address form not accepted "
		    "(source route, %, !, quoted @ or address literal)");
		return;
	}
	if (cmd->path.flags & SMTPP_PATH_F_POSTMASTER) {
		smtps_reply(s, 550, "5.1.1 No local delivery on this relay");
		return;
	}
	if ((cmd->path.flags & SMTPP_PATH_F_UTF8) && !ls->smtputf8) {
		smtps_reply(s, 553,
			    "5.6.7 Non-ASCII recipient address needs SMTPUTF8");
		return;
	}
	if (value_domain(cmd->path.domain, norm, sizeof(norm), why,
			 sizeof(why)) < 0) {
		smtps_reply(s, 501, "5.1.2 Bad destination domain");
		return;
	}
	if (smtpp_addr_str(&cmd->path, addr, sizeof(addr)) < 0) {
		smtps_reply(s, 501, "5.1.3 Bad recipient address");
		return;
	}
	if (ls->nrcpt == ls->rcpt_cap) {
		ls->rcpt_cap = ls->rcpt_cap ? ls->rcpt_cap * 2 : 8;
		ls->rcpt =
		    xreallocarray(ls->rcpt, ls->rcpt_cap, sizeof(*ls->rcpt));
	}
	r = &ls->rcpt[ls->nrcpt++];
	r->addr = xstrdup(addr);
	r->notify = (uint8_t)cmd->rcpt.notify;
	r->orcpt = NULL;
	if (cmd->rcpt.orcpt_len) {
		size_t n =
		    strlen(cmd->rcpt.orcpt_type) + 1 + cmd->rcpt.orcpt_len + 1;

		r->orcpt = xmalloc(n);
		snprintf(r->orcpt, n, "%s;%s", cmd->rcpt.orcpt_type,
			 cmd->rcpt.orcpt);
	}
	smtps_reply(s, 250, "2.1.5 Ok");
}

static void
lst_reply_spool_err(struct smtps_session *s, int err)
{
	if (err == -ENOSPC)
		smtps_reply(s, 452, "4.3.1 Insufficient system storage");
	else
		smtps_reply(s, 451,
			    "4.3.0 Local error in processing; try again later");
}

static void
lst_on_data(struct smtps_session *s)
{
	struct lst_sess *ls = lst_sess(s);
	int st = spool_status(ls->l->sp);

	if (st < 0) {
		ls->l->st.spool_errors++;
		lst_reply_spool_err(s, st);
		return;
	}
	ls->in_data = true;
	ls->in_headers = true;
	ls->hold_len = ls->hold_scan = 0;
	smtps_reply(s, 0, NULL);
}

static void
lst_on_committed(void *arg, int err)
{
	struct lst_commit *c = arg;
	struct listener *l = c->l;
	char idstr[SPOOL_ID_STR_LEN], text[96];

	spool_id_str(c->id, idstr);
	if (err == 0) {
		struct dlog_event ev;

		l->st.messages++;
		if (l->dl) {
			dlog_event_init(&ev);
			ev.ts_ms = ring_wall_ms();
			ev.ev = DLOG_EV_RECEIVED;
			ev.id = idstr;
			ev.sender = c->sender;
			ev.size = (int64_t)c->size;
			ev.attempt = 0;
			dlogw_event(l->dl, &ev);
		}
		if (l->accepted)
			l->accepted(l->arg, c->id);
		if (c->sess) {
			snprintf(text, sizeof(text), "2.0.0 Ok: queued as %s",
				 idstr);
			smtps_reply(c->sess->s, 250, text);
		}
	} else {
		l->st.spool_errors++;
		l->st.refused++;
		log_warn("message %s not accepted: spool: %s", idstr,
			 strerror(-err));
		if (c->sess)
			lst_reply_spool_err(c->sess->s, err);
	}
	if (c->sess)
		c->sess->commit = NULL;
	free(c->txn); /* idle inside the callback */
	free(c->sender);
	free(c);
	l->commits--;
}

static void
lst_refuse(struct lst_sess *ls, unsigned code, const char *text)
{
	ls->l->st.refused++;
	lst_txn_reset(ls);
	smtps_reply(ls->s, code, text);
}

static void
lst_on_data_end(struct smtps_session *s, const struct smtps_data_info *info)
{
	struct lst_sess *ls = lst_sess(s);
	struct lst_commit *c;
	char text[160];

	if (info->oversize) { /* the engine has answered 552 */
		ls->l->st.refused++;
		lst_txn_reset(ls);
		return;
	}
	if (info->anomalies && info->stats &&
	    ls->l->cfg->listener.line_endings == CONFIG_LE_REJECT) {
		const char *what = "bad line endings";

		for (int a = 0; a < SDATA_AN__COUNT; a++) {
			if (info->stats->an[a]) {
				what = sdata_an_str((enum sdata_an)a);
				break;
			}
		}
		snprintf(text, sizeof(text),
			 "5.6.0 Message refused: %s in the data (CRLF line "
			 "endings required)",
			 what);
		lst_refuse(ls, 550, text);
		return;
	}
	if (ls->in_headers && !ls->refuse[0])
		lst_headers_done(ls, ls->hold_len);
	if (ls->refuse[0]) {
		snprintf(text, sizeof(text), "%s", ls->refuse);
		lst_refuse(ls, 550, text);
		return;
	}
	if (ls->txn_err || !ls->txn_open) {
		int err = ls->txn_err ? ls->txn_err : -EIO;

		ls->l->st.spool_errors++;
		ls->l->st.refused++;
		lst_txn_reset(ls);
		lst_reply_spool_err(s, err);
		return;
	}
	/* The envelope went in with WIRE (listener_hdr.c): unless the
	 * decoder vouches for the body, patch in STUFF (docs/INTAKE.md). */
	if (info->stats == NULL || !info->stats->wire) {
		/* WIRE is there: only a patch, never -EBUSY. */
		int r = spool_txn_set_flags(ls->txn, RECORD_MSG_F_STUFF);

		BUG_ON(r < 0);
	}
	c = xcalloc(1, sizeof(*c));
	c->l = ls->l;
	c->sess = ls;
	c->txn = ls->txn;
	ls->txn = NULL;
	memcpy(c->id, spool_txn_id(c->txn), SPOOL_ID_LEN);
	c->sender = xstrdup(ls->sender);
	c->nrcpt = ls->nrcpt;
	c->size = ls->size;
	ls->commit = c;
	ls->l->commits++;
	ls->txn_open = false;
	spool_txn_commit(c->txn, lst_on_committed, c);
	lst_txn_reset(ls);
}

/* RSET and HELO/EHLO end any transaction (and its commit hint); QUIT
 * ends the session (lst_on_close).  HELO/EHLO with no transaction (a
 * fresh session's greeting) keeps the hint begun at connect. */
static void
lst_on_rset(struct smtps_session *s)
{
	lst_txn_reset(lst_sess(s));
	smtps_reply(s, 0, NULL);
}

static void
lst_on_helo(struct smtps_session *s, bool ehlo, const char *name)
{
	struct lst_sess *ls = lst_sess(s);

	(void)ehlo;
	(void)name;
	if (ls->sender != NULL) {
		lst_on_rset(s);
		return;
	}
	lst_txn_clear(ls);
	smtps_reply(s, 0, NULL);
}

static void
lst_on_close(struct smtps_session *s, enum smtps_close_why why)
{
	struct lst_sess *ls = lst_sess(s);

	(void)why;
	if (ls == NULL)
		return;
	timer_cancel(ring_timers(ls->l->ring), &ls->banner);
	lst_txn_reset(ls);
	if (ls->commit)
		ls->commit->sess = NULL; /* its reply has no one to go to */
	free(ls->rcpt);
	free(ls->hold);
	free(ls);
	smtps_set_udata(s, NULL);
}

static const struct smtps_ops lst_ops = {
    .on_connect = lst_on_connect,
    .on_mail = lst_on_mail,
    .on_rcpt = lst_on_rcpt,
    .on_data = lst_on_data,
    .on_body = lst_on_body,
    .body_buf = lst_body_buf,
    .on_data_end = lst_on_data_end,
    .on_rset = lst_on_rset,
    .on_helo = lst_on_helo,
    .on_close = lst_on_close,
};

static void
lst_smtps_config(const struct config *cfg, struct smtps_config *sc)
{
	const struct config_listener *lc = &cfg->listener;

	memset(sc, 0, sizeof(*sc));
	sc->hostname = cfg->server.hostname;
	sc->caps = SMTPS_CAP_DEFAULT;
	sc->line_max = lc->max_line_length;
	sc->size_max = lc->max_message_size;
	sc->rcpt_max = lc->max_recipients;
	sc->errors_max = lc->max_errors;
	sc->sessions_max = lc->max_connections;
	sc->idle_timeout_ms = (unsigned)MIN(lc->idle_timeout_ms, UINT32_MAX);
	sc->session_timeout_ms =
	    (unsigned)MIN(lc->session_timeout_ms, UINT32_MAX);
	sc->data_mode = lc->line_endings == CONFIG_LE_NORMALIZE
			    ? SDATA_NORMALIZE
			    : SDATA_STRICT;
}

int
listener_new(struct ring *r, const struct config *cfg, struct spool *sp,
	     struct dlogw *dl, listener_accepted_fn *cb, void *arg,
	     struct listener **l_r)
{
	struct listener *l = xcalloc(1, sizeof(*l));
	struct smtps_config sc;

	l->ring = r;
	l->cfg = cfg;
	l->sp = sp;
	l->dl = dl;
	l->accepted = cb;
	l->arg = arg;
	lst_smtps_config(cfg, &sc);
	if (cfg->tls.cert_file && cfg->listener.tls != CONFIG_LTLS_NONE) {
		struct tls_server_opts to = {
		    .cert_file = cfg->tls.cert_file,
		    .key_file = cfg->tls.key_file,
		    .min_version = cfg->tls.min_version == CONFIG_TLSV_1_3
				       ? TLS_V_1_3
				       : TLS_V_1_2,
		    .ciphers = cfg->tls.ciphers,
		};
		char why[256];
		int rc = tls_ctx_new_server(&to, &l->tls, why, sizeof(why));

		if (rc < 0) {
			log_err("listener: STARTTLS: %s", why);
			free(l);
			return rc;
		}
		sc.tls = l->tls;
		log_info("listener: STARTTLS offered (%s)", cfg->tls.cert_file);
	}
	l->srv = smtps_server_new(r, &sc, &lst_ops, l);
	for (size_t i = 0; i < cfg->listener.address.n; i++) {
		char addr[128], bound[128];
		int rc;

		value_sockaddr_fmt(
		    (const struct sockaddr *)&cfg->listener.address.v[i].ss,
		    true, addr, sizeof(addr));
		rc = smtps_listen(l->srv, addr, bound, sizeof(bound));
		if (rc < 0) {
			log_err("listener: cannot listen on %s: %s", addr,
				strerror(-rc));
			listener_stop(l);
			while (!listener_idle(l))
				ring_run_once(r, 100000000);
			listener_free(l);
			return rc;
		}
		log_info("listening on %s", bound);
	}
	*l_r = l;
	return 0;
}

const char *
listener_bound(const struct listener *l, unsigned i)
{
	if (i >= smtps_listener_count(l->srv))
		return NULL;
	return smtps_listener_name(l->srv, i);
}

void
listener_set_config(struct listener *l, const struct config *cfg)
{
	l->cfg = cfg;
}

const struct listener_stats *
listener_stats(const struct listener *l)
{
	return &l->st;
}

void
listener_stop(struct listener *l)
{
	smtps_server_stop(l->srv);
}

bool
listener_idle(const struct listener *l)
{
	return smtps_server_idle(l->srv);
}

void
listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	smtps_server_free(l->srv);
	tls_ctx_free(l->tls); /* sessions held their own references */
	/* Commit contexts still in the spool are freed by their callbacks,
	 * which the spool runs (or fails) when it is closed; they no longer
	 * point at sessions. */
	free(l);
}
