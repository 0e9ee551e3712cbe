/* SPDX-License-Identifier: MIT */
/*
 * rlease_msg.c: cluster_outbound_throttle_messages: per-domain message
 * tokens from a GCRA in Redis (the 'gcra' op of rlease_lua), taken in
 * small batches per node, and the local share while Redis is away.  Owns
 * only the token fields of the domain's group (slot RL_TOK_SLOT).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "rlease.h"
#include "rlease_int.h"
#include "ring.h"

static void
rl_on_tokens(void *arg, int status, const struct rds_reply *rep)
{
	struct rl_req *q = arg;
	struct rlease *rl = q->rl;
	struct rl_group *g = q->g;
	int64_t now = ring_wall_ms();

	rl->inflight--;
	g->inflight = false;
	if (status < 0 || rep->type != RDS_REPLY_ARRAY || rep->nelem != 2 ||
	    rep->elem[0].type != RDS_REPLY_INTEGER ||
	    rep->elem[1].type != RDS_REPLY_INTEGER) {
		rl->st.errors++;
		g->retry_ms = now + RLEASE_RETRY_MS;
	} else if (rep->elem[0].integer > 0) {
		g->tokens = (unsigned)MIN(rep->elem[0].integer, RLEASE_BATCH);
		g->tokens_ms = now;
		rl->st.tokens += g->tokens;
		g->retry_ms = 0;
	} else {
		rl->st.token_waits++;
		g->retry_ms = now + MAX(rep->elem[1].integer, 0) / 1000 + 1;
	}
	rlease_poke(rl, g, g->tokens > 0 ? 0 : g->retry_ms);
	free(q);
}

/* Ask for tokens of rate r (count > 0).  Returns 0 or -errno. */
static int
rl_send_tokens(struct rlease *rl, struct rl_group *g,
	       const struct value_rate *r)
{
	uint64_t period_us = r->period_ms * 1000;
	uint64_t t_us = MAX(period_us / r->count, 1u);
	char a[3][24];
	struct rl_req *q;
	int err;

	snprintf(a[0], sizeof(a[0]), "%" PRIu64, t_us);
	snprintf(a[1], sizeof(a[1]), "%" PRIu64,
		 period_us > t_us ? period_us - t_us : 0);
	snprintf(a[2], sizeof(a[2]), "%u",
		 (unsigned)MIN(MAX(r->count / 10, 1u), RLEASE_BATCH));
	q = xcalloc(1, sizeof(*q));
	q->rl = rl;
	q->g = g;
	q->kind = RL_Q_TOKENS;
	err = rlease_eval(
	    rl, q, rl_on_tokens, 1, 5,
	    (const char *const[]){g->kbind, "gcra", a[0], a[1], a[2]});
	if (err < 0)
		return err;
	g->inflight = true;
	return 0;
}

/* Where g's token ladder stands at wall time now (ms). */
struct rl_msg_ans {
	int64_t wait_ms; /* 0: a message may go now */
	bool asked;      /* tokens are asked for: their reply pokes */
	bool local;      /* wait_ms 0 from the local fallback's share */
	bool closed;     /* refused by the closed fallback */
};

/*
 * The one ladder of rlease_msg_ready() and rlease_msg_wait() (count > 0):
 * tokens at hand; a request out; a retry time; a new request (sent now,
 * as either caller would); else the fallback, whose local share is set
 * from r and the live nodes on every call, so that its wait is right from
 * the first one.  Takes nothing.
 */
static struct rl_msg_ans
rl_msg_ladder(struct rlease *rl, struct rl_group *g, const struct value_rate *r,
	      int64_t now)
{
	struct rl_msg_ans a = {0};

	if (g->tokens > 0 && now - g->tokens_ms < (int64_t)r->period_ms)
		return a;
	g->tokens = 0;
	if (g->inflight) {
		a.wait_ms = RLEASE_RETRY_MS;
		a.asked = true;
	} else if (now < g->retry_ms) {
		a.wait_ms = g->retry_ms - now;
	} else if (!g->bad_key && rds_is_up(rl->rds) &&
		   rl_send_tokens(rl, g, r) == 0) {
		a.wait_ms = RLEASE_RETRY_MS;
		a.asked = true;
	} else if (rl->o.fallback != CONFIG_CLUSTER_LOCAL) {
		g->starved = true; /* rlease_on_up() pokes the domain */
		a.wait_ms = RLEASE_CLOSED_MS;
		a.closed = true;
	} else {
		g->local_rate = (struct value_rate){
		    .count = rlease_share(r->count, rlease_nodes(rl)),
		    .period_ms = r->period_ms};
		a.wait_ms = (dom_rate_wait(&g->local_rate, g->local_tat_us,
					   now * 1000) +
			     999) /
			    1000;
		a.local = a.wait_ms == 0;
	}
	return a;
}

int
rlease_msg_ready(struct rlease *rl, domain_record *dr,
		 const struct value_rate *rate)
{
	struct rl_group *g;
	struct rl_msg_ans a;
	int64_t now;

	if (rate->count == 0)
		return 1;
	if (rl->stopped)
		return 0;
	g = rlease_group_get(rl, dr, RL_TOK_SLOT, NULL);
	now = ring_wall_ms();
	a = rl_msg_ladder(rl, g, rate, now);
	g->ready_local = a.local;
	if (a.wait_ms == 0)
		return 1;
	rl->st.closed += a.closed;
	if (!a.asked)
		rlease_poke(rl, g, now + a.wait_ms);
	return 0;
}

void
rlease_msg_use(struct rlease *rl, domain_record *dr)
{
	struct rl_group *g = rlease_group_find(rl, dr, RL_TOK_SLOT);

	if (g == NULL)
		return;
	if (g->ready_local)
		(void)dom_rate_take(&g->local_rate, &g->local_tat_us,
				    ring_wall_ms() * 1000);
	else if (g->tokens > 0)
		g->tokens--;
	g->ready_local = false;
}

int64_t
rlease_msg_wait(struct rlease *rl, domain_record *dr,
		const struct value_rate *rate, int64_t now_ms)
{
	if (rl == NULL || rate->count == 0 || rl->stopped)
		return 0;
	return rl_msg_ladder(rl, rlease_group_get(rl, dr, RL_TOK_SLOT, NULL),
			     rate, now_ms)
	    .wait_ms;
}
