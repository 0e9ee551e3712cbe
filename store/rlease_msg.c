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

static void
rl_on_tokens(void *arg, int status, const struct rds_reply *rep)
{
	struct rl_req *q = arg;
	struct rlease *rl = q->rl;
	struct rl_group *g = q->g;
	int64_t now = rlease_wall_ms();

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

/* Redis cannot give tokens: the fallback's answer. */
static int
rl_tokens_fallback(struct rlease *rl, struct rl_group *g,
		   const struct value_rate *r, int64_t now)
{
	int64_t wait;

	if (rl->o.fallback != CONFIG_CLUSTER_LOCAL) {
		g->starved = true;
		rl->st.closed++;
		rlease_poke(rl, g, now + RLEASE_CLOSED_MS);
		return 0;
	}
	g->local_rate = (struct value_rate){
	    .count = rlease_share(r->count, rlease_nodes(rl)),
	    .period_ms = r->period_ms};
	wait = dom_rate_wait(&g->local_rate, g->local_tat_us, now * 1000);
	if (wait > 0) {
		rlease_poke(rl, g, now + (wait + 999) / 1000);
		return 0;
	}
	g->ready_local = true;
	return 1;
}

int
rlease_msg_ready(struct rlease *rl, domain_record *dr,
		 const struct value_rate *rate)
{
	struct rl_group *g;
	int64_t now;

	if (rate->count == 0)
		return 1;
	if (rl->stopped)
		return 0;
	g = rlease_group_get(rl, dr, RL_TOK_SLOT, NULL);
	now = rlease_wall_ms();
	g->ready_local = false;
	if (g->tokens > 0 && now - g->tokens_ms < (int64_t)rate->period_ms)
		return 1;
	g->tokens = 0;
	if (g->inflight)
		return 0;
	if (now < g->retry_ms) {
		rlease_poke(rl, g, g->retry_ms);
		return 0;
	}
	if (g->bad_key || !rds_is_up(rl->rds) ||
	    rl_send_tokens(rl, g, rate) < 0)
		return rl_tokens_fallback(rl, g, rate, now);
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
				    rlease_wall_ms() * 1000);
	else if (g->tokens > 0)
		g->tokens--;
	g->ready_local = false;
}

int64_t
rlease_msg_wait(struct rlease *rl, domain_record *dr,
		const struct value_rate *rate, int64_t now_ms)
{
	struct rl_group *g;

	if (rl == NULL || rate->count == 0 || rl->stopped)
		return 0;
	g = rlease_group_get(rl, dr, RL_TOK_SLOT, NULL);
	if (g->tokens > 0 && now_ms - g->tokens_ms < (int64_t)rate->period_ms)
		return 0;
	if (g->inflight)
		return RLEASE_RETRY_MS;
	if (g->retry_ms > now_ms)
		return g->retry_ms - now_ms;
	if (!g->bad_key && rds_is_up(rl->rds) &&
	    rl_send_tokens(rl, g, rate) == 0)
		return RLEASE_RETRY_MS;
	if (rl->o.fallback != CONFIG_CLUSTER_LOCAL)
		return RLEASE_CLOSED_MS;
	return (dom_rate_wait(&g->local_rate, g->local_tat_us, now_ms * 1000) +
		999) /
	       1000;
}
