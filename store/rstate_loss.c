/* SPDX-License-Identifier: MIT */
/*
 * rstate_loss.c: what rstate does when Redis comes up or turns out to
 * have lost ringmta's keys (FLUSHALL, a restart without persistence):
 * read the suspensions (SMEMBERS PREFIX:suspended) and overrides again,
 * and make the next round write every key again, counters included
 * (docs/REDIS.md "Keys").  Reads only SISMEMBER PREFIX:nodes and
 * SMEMBERS; writes nothing itself; must not block.
 */
#include <stdint.h>
#include <string.h>

#include "binding.h"
#include "log.h"
#include "redis.h"
#include "rstate_int.h"

/*
 * One listed record's sent[]: what of its counters had reached Redis
 * (published minus still pending; with nothing pending anywhere, all of
 * it).  Returns true while a delta of its is still pending (it stays
 * listed).
 */
static bool
rst_settle(struct rstate *rs, struct rst_dom *s, bool none_pending)
{
	char key[RDS_KEY_MAX];
	bool pending = false;

	if (s->bad_name) /* never sent: its sent[] stays 0 */
		return false;
	if (!none_pending &&
	    rds_key(key, sizeof(key), rs->prefix, "domain", s->dr->name) < 0)
		return false;
	for (int c = 0; c < RST__COUNT; c++) {
		int64_t p = none_pending
				? 0
				: rds_delta_get(rs->rds, key, rst_ctr_names[c]);

		pending |= p != 0;
		s->sent[c] = s->ctr[c] - (uint64_t)p -
			     (c == RST_RECEIVED ? s->base_received : 0);
	}
	return pending;
}

/*
 * What of the counters had reached Redis: published minus still pending.
 * Visits only the records listed unsettled (a delta queued since), so
 * its cost follows what changed, not the table; the bindings are few.
 */
static void
rst_snapshot_sent(struct rstate *rs)
{
	char key[RDS_KEY_MAX];
	bool none = rds_deltas_pending(rs->rds) == 0;
	size_t keep = 0;

	if (rs->sent_fresh)
		return; /* the last snapshot still holds */
	for (size_t i = 0; i < rs->nunsettled; i++) {
		struct rst_dom *s = rst_dom_get(rs, rs->unsettled[i]);

		if (rst_settle(rs, s, none))
			rs->unsettled[keep++] = s->dr;
		else
			s->unsettled = false;
	}
	rs->nunsettled = keep;
	for (size_t i = 0; i < rs->bnds->n; i++) {
		if (rds_key(key, sizeof(key), rs->prefix, "binding",
			    rs->bnds->v[i].name) < 0)
			continue;
		for (int c = 0; c < 3; c++)
			rs->bv[i].sent[c] =
			    rs->bv[i].ctr[c] -
			    (uint64_t)rds_delta_get(rs->rds, key,
						    rst_bnd_ctr_names[c]);
	}
	/* A pending delta may be flushed before the next check. */
	rs->sent_fresh = none;
}

/*
 * PREFIX:nodes (no TTL) names us once we published: if it does not, Redis
 * lost its data (FLUSHALL, a restart without persistence), so every record
 * is published again and what had reached it is sent again (the next
 * round's deltas include it, PREFIX:stats too).
 */
static void
rst_on_node_known(void *arg, int status, const struct rds_reply *rep)
{
	struct rstate *rs = arg;
	uint64_t lost = 0;

	if (!rst_reply_begin(rs))
		return;
	rs->checking = false;
	if (status < 0 || rep->type != RDS_REPLY_INTEGER || rep->integer != 0)
		return;
	/* Sent before we ever added ourselves: a first start, nothing of
	 * ours reached Redis before it (the round that sent it writes it
	 * all after it). */
	if (!rs->check_after)
		return;
	rs->sent_fresh = false;
	for (size_t i = 0; i < rs->nslots; i++) {
		rs->slots[i].published = false;
		for (int c = 0; c < RST__COUNT; c++) {
			lost += rs->slots[i].sent[c];
			rs->slots[i].ctr[c] -= rs->slots[i].sent[c];
			rs->slots[i].sent[c] = 0;
		}
	}
	for (size_t i = 0; i < rs->bnds->n; i++) {
		rs->bv[i].published = false;
		for (int c = 0; c < 3; c++) {
			rs->bv[i].ctr[c] -= rs->bv[i].sent[c];
			rs->bv[i].sent[c] = 0;
		}
	}
	rst_mark_all(rs);
	if (lost == 0)
		return; /* nothing published yet: a first start */
	rst_round_now(rs);
	log_info("redis lost its data: every key is written again");
	rst_reload(rs);
}

/* Ask whether Redis still knows us (before this round's writes). */
void
rst_check_known(struct rstate *rs)
{
	char key[RDS_KEY_MAX];

	if (rs->checking)
		return;
	rst_snapshot_sent(rs);
	rst_fixed_key(rs, key, "nodes");
	if (rds_cmd(rs->rds, rst_on_node_known, rs, 3,
		    (const char *const[]){"SISMEMBER", key, rs->node},
		    NULL) == 0) {
		rs->pending++;
		rs->checking = true;
		rs->check_after = rs->node_added;
	}
}

struct rst_sync {
	struct rstate *rs;
	const struct rds_reply *rep;
};

static void
rst_unmark(domain_record *dr, void *arg)
{
	struct rst_sync *sy = arg;

	if (!dr->suspended)
		return;
	for (size_t i = 0; i < sy->rep->nelem; i++) {
		const struct rds_reply *e = &sy->rep->elem[i];

		if (e->len == strlen(dr->name) &&
		    memcmp(e->str, dr->name, e->len) == 0)
			return;
	}
	rst_set_suspended(sy->rs, dr, false);
}

static void
rst_on_members(void *arg, int status, const struct rds_reply *rep)
{
	struct rstate *rs = arg;
	char name[DOM_NAME_MAX + 1];

	if (!rst_reply_begin(rs))
		return;
	rs->loading = false;
	if (status < 0 || rep->type != RDS_REPLY_ARRAY) {
		log_warn("redis: cannot read suspensions: %s",
			 status < 0 ? strerror(-status) : "unexpected reply");
		return;
	}
	for (size_t i = 0; i < rep->nelem; i++) {
		const struct rds_reply *e = &rep->elem[i];

		if (e->type != RDS_REPLY_STRING || e->len > DOM_NAME_MAX)
			continue;
		memcpy(name, e->str, e->len);
		name[e->len] = '\0';
		if (strlen(name) == e->len && rds_name_check(name) == 0)
			rst_set_suspended(rs, dom_get(rs->doms, name), true);
	}
	dom_foreach(rs->doms, rst_unmark, &(struct rst_sync){rs, rep});
	rs->ready = true;
}

/* Read the suspensions and overrides again. */
void
rst_reload(struct rstate *rs)
{
	char key[RDS_KEY_MAX];

	if (rs->loading)
		return;
	rst_fixed_key(rs, key, "suspended");
	if (rds_cmd(rs->rds, rst_on_members, rs, 2,
		    (const char *const[]){"SMEMBERS", key}, NULL) == 0) {
		rs->pending++;
		rs->loading = true;
		rst_ovr_reload(rs);
	}
}

void
rstate_on_up(struct rstate *rs)
{
	/* Redis may have lost everything: publish every record again. */
	for (size_t i = 0; i < rs->nslots; i++)
		rs->slots[i].published = false;
	for (size_t i = 0; i < rs->bnds->n; i++)
		rs->bv[i].published = false;
	rst_mark_all(rs);
	rs->checking = false; /* a check in flight was lost with the link */
	rs->sent_fresh = false;
	rst_check_known(rs);
	rst_reload(rs);
}
