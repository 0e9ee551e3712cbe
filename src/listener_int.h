/* SPDX-License-Identifier: MIT */
/*
 * listener_int.h: what listener.c (commands, commit, acknowledgement) and
 * listener_hdr.c (the body path) share: the session and commit state.
 * Internal to src/listener*.c; everyone else uses listener.h.
 */
#ifndef RINGMTA_LISTENER_INT_H
#define RINGMTA_LISTENER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "listener.h"
#include "smtp_server.h"
#include "timer.h"

#define LST_HOLD_MAX    (64 * 1024) /* header section held for inspection */
#define LST_BINDING_MAX 64

struct lst_rcpt {
	char *addr; /* without <> */
	uint8_t notify;
	char *orcpt; /* "type;value", NULL: none */
};

struct lst_commit;

struct lst_sess {
	struct listener *l;
	struct smtps_session *s;
	bool trusted;
	struct timer banner; /* [listener] banner_delay */
	/* transaction */
	char *sender; /* "" for <> */
	enum smtpp_ret ret;
	char envid[SMTPP_ENVID_MAX + 1];
	bool smtputf8, body8bit;
	bool saw8bit; /* the data had bytes >= 0x80 (body8bit or not) */
	struct lst_rcpt *rcpt;
	uint32_t nrcpt, rcpt_cap;
	/* DATA */
	bool in_data;
	bool in_headers;
	char *hold;
	size_t hold_len, hold_cap, hold_scan;
	struct spool_txn *txn; /* moves to the commit context at commit */
	bool txn_open;
	int txn_err;               /* first spool error of this message */
	char refuse[160];          /* a policy refusal decided during DATA */
	uint64_t size;             /* bytes written to the transaction */
	struct lst_commit *commit; /* commit in flight, NULL if none */
	struct spool_hint hint;    /* connect (trusted) or MAIL .. commit */
};

/* Outlives its session: the spool calls back even if the client left, and
 * the transaction handle (which the spool clears when it finishes) lives
 * here until then. */
struct lst_commit {
	struct listener *l;
	struct spool_txn *txn;
	struct lst_sess *sess; /* NULL once the session is gone */
	uint8_t id[SPOOL_ID_LEN];
	char *sender;
	uint32_t nrcpt;
	uint64_t size;
};

struct listener {
	struct ring *ring;
	const struct config *cfg;
	struct spool *sp;
	struct dlogw *dl;
	listener_accepted_fn *accepted;
	void *arg;
	struct smtps_server *srv;
	struct tls_ctx *tls; /* STARTTLS ([tls] cert_file), NULL: none */
	struct listener_stats st;
	unsigned commits; /* commit contexts alive */
};

static inline struct lst_sess *
lst_sess(struct smtps_session *s)
{
	return smtps_udata(s);
}

/* listener.c: the open transaction's id, for logs (static buffer). */
const char *lst_txn_idstr(const struct lst_sess *ls);

/* listener_hdr.c */
void lst_headers_done(struct lst_sess *ls, size_t hlen);
void lst_on_body(struct smtps_session *s, const char *buf, size_t len);
char *lst_body_buf(struct smtps_session *s, size_t len);

#endif
