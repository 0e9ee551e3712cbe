/* SPDX-License-Identifier: MIT */
/*
 * rlease_node.c: the node's side of the cluster leases (see rlease.h):
 * its entry in the live-node set and the count of live nodes (the local
 * fallback's share), the renewal round and its timer, and the life cycle
 * (new, stop, free).  The acquire / renew / release protocol on the
 * groups is rlease.c's; this file only drives it.
 */
#include "rlease.h"
#include "rlease_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

#include "redis.h"
#include "ring.h"
#include "timer.h"

unsigned
rlease_share(unsigned limit, unsigned nodes)
{
	if (limit == 0)
		return 0;
	nodes = MAX(nodes, 1u);
	return MAX(limit / nodes, 1u);
}

unsigned
rlease_nodes(const struct rlease *rl)
{
	return MAX(rl->nodes, 1u);
}

const struct rlease_stats *
rlease_stats(const struct rlease *rl)
{
	return &rl->st;
}

/* ---- renewal ------------------------------------------------------------ */

static void
rl_on_nodes(void *arg, int status, const struct rds_reply *rep)
{
	struct rl_req *q = arg;
	struct rlease *rl = q->rl;

	rl->inflight--;
	if (status == 0 && rep->type == RDS_REPLY_INTEGER && rep->integer > 0)
		rl->nodes = (unsigned)MIN(rep->integer, 100000);
	else
		rl->st.errors++;
	free(q);
}

int
rlease_send_nodes(struct rlease *rl)
{
	char ttl[24];
	struct rl_req *q = xcalloc(1, sizeof(*q));

	snprintf(ttl, sizeof(ttl), "%u", rl->o.ttl_ms);
	q->rl = rl;
	q->kind = RL_Q_NODES;
	return rlease_eval(
	    rl, q, rl_on_nodes, 1, 4,
	    (const char *const[]){rl->knodes, "nodes", ttl, rl->node});
}

/* Give back spares unused since the last round; renew the rest. */
static int
rl_renew_group(struct rlease *rl, struct rl_group *g)
{
	uint64_t seq[RL_CHUNK];
	unsigned n = 0;
	int sent = 0;

	rlease_drop_members(rl, g, rl->round, false);
	if (g->bad_key || (g->lim_dom == 0 && g->lim_bind == 0))
		return 0;
	for (unsigned i = 0; i <= g->n; i++) {
		if (i < g->n && g->m[i].st != RL_PENDING)
			seq[n++] = g->m[i].seq;
		if (n > 0 && (n == RL_CHUNK || i == g->n)) {
			if (rlease_send_lease(rl, g, seq, n, RL_Q_RENEW) == 0)
				sent++;
			n = 0;
		}
	}
	return sent;
}

int
rlease_renew(struct rlease *rl)
{
	int sent = 0;

	if (rl->stopped)
		return 0;
	rl->round++;
	for (size_t i = 0; i < rl->nb; i++)
		for (struct rl_group *g = rl->b[i]; g; g = g->next)
			if (g->slot != RL_TOK_SLOT)
				sent += rl_renew_group(rl, g);
	rl->st.renewals += (uint64_t)sent;
	if (rds_is_up(rl->rds) && rlease_send_nodes(rl) == 0)
		sent++;
	return sent;
}

static void
rl_timer(struct timer *t)
{
	struct rlease *rl = container_of(t, struct rlease, tm);

	/* No domain has used a cluster limit yet: no round, no node count
	 * (the timer is armed again by the first group, rlease_group_get). */
	if (rl->count == 0)
		return;
	(void)rlease_renew(rl);
	timer_arm(ring_timers(rl->ring), &rl->tm,
		  ring_now(rl->ring) + rl->period_ns);
}

/* Poke every domain the closed fallback refused, so it asks again now. */
static void
rl_poke_starved(struct rlease *rl)
{
	for (size_t i = 0; i < rl->nb; i++)
		for (struct rl_group *g = rl->b[i]; g; g = g->next)
			if (g->starved) {
				g->starved = false;
				g->retry_ms = 0;
				rlease_poke(rl, g, 0);
			}
}

void
rlease_on_up(struct rlease *rl)
{
	if (rl == NULL || rl->stopped)
		return;
	(void)rlease_renew(rl);
	rl_poke_starved(rl);
}

/* ---- life cycle ---------------------------------------------------------- */

/* Whether ttl_ms (0: the default) and fb are values rlease can run on. */
static bool
rl_opts_ok(unsigned ttl_ms, enum config_cluster_unreachable fb)
{
	return (unsigned)fb < CONFIG_CLUSTER__COUNT &&
	       (ttl_ms == 0 || ttl_ms >= 300);
}

/* The TTL sent from now on (0: the default) and the renewal period. */
static void
rl_set_ttl(struct rlease *rl, unsigned ttl_ms)
{
	rl->o.ttl_ms = ttl_ms ? ttl_ms : RLEASE_TTL_MS;
	rl->period_ns = (int64_t)rl->o.ttl_ms / 3 * 1000000;
}

int
rlease_reconfigure(struct rlease *rl, unsigned ttl_ms,
		   enum config_cluster_unreachable fallback)
{
	int64_t when;

	if (rl == NULL)
		return 0;
	if (!rl_opts_ok(ttl_ms, fallback))
		return -EINVAL;
	rl_set_ttl(rl, ttl_ms);
	/* A shorter TTL: a round due at the old period would come after
	 * leases acquired with the new one lapsed; bring it forward. */
	if (rl->ring != NULL && !rl->stopped && timer_armed(&rl->tm)) {
		when = ring_now(rl->ring) + rl->period_ns;
		if (when < rl->tm.when)
			timer_arm(ring_timers(rl->ring), &rl->tm, when);
	}
	if (fallback != rl->o.fallback) {
		rl->o.fallback = fallback;
		/* Refused by closed: local may allow them now. */
		if (fallback == CONFIG_CLUSTER_LOCAL && !rl->stopped)
			rl_poke_starved(rl);
	}
	return 0;
}

int
rlease_new(const struct rlease_opts *o, struct rlease **rl_r)
{
	struct rlease *rl;
	uint32_t inst = 0;
	int err;

	*rl_r = NULL;
	if (o->rds == NULL || !rl_opts_ok(o->ttl_ms, o->fallback))
		return -EINVAL;
	rl = xcalloc(1, sizeof(*rl));
	rl->ring = o->ring;
	rl->rds = o->rds;
	rl->o = *o;
	rl->o.node_id = NULL;
	rl_set_ttl(rl, o->ttl_ms);
	rl->nodes = 1;
	if (getrandom(&inst, sizeof(inst), GRND_NONBLOCK) != sizeof(inst))
		inst = (uint32_t)getpid() ^ (uint32_t)ring_wall_ms();
	snprintf(rl->node, sizeof(rl->node), "%.*s:%08x", RL_NODE_MAX,
		 o->node_id && *o->node_id ? o->node_id : "node", inst);
	if (rds_key(rl->knodes, sizeof(rl->knodes), rds_key_prefix(rl->rds),
		    "cluster", "nodes") < 0 ||
	    (err = rds_script_load(rl->rds, rlease_lua, rl->sha)) < 0) {
		free(rl);
		return -EINVAL;
	}
	timer_init(&rl->tm, rl_timer); /* armed by the first group */
	*rl_r = rl;
	return 0;
}

void
rlease_stop(struct rlease *rl)
{
	if (rl == NULL || rl->stopped)
		return;
	if (rl->ring != NULL && timer_armed(&rl->tm))
		timer_cancel(ring_timers(rl->ring), &rl->tm);
	for (size_t i = 0; i < rl->nb; i++)
		for (struct rl_group *g = rl->b[i]; g; g = g->next)
			if (g->slot != RL_TOK_SLOT)
				rlease_drop_members(rl, g, 0, true);
	rlease_send(rl, 3, (const char *const[]){"ZREM", rl->knodes, rl->node});
	rl->stopped = true;
}

void
rlease_free(struct rlease *rl)
{
	if (rl == NULL)
		return;
	BUG_ON(rl->inflight != 0);
	if (rl->ring != NULL && timer_armed(&rl->tm))
		timer_cancel(ring_timers(rl->ring), &rl->tm);
	for (size_t i = 0; i < rl->nb; i++)
		while (rl->b[i]) {
			struct rl_group *g = rl->b[i];

			rl->b[i] = g->next;
			free(g->m);
			free(g);
		}
	free(rl->b);
	free(rl);
}
