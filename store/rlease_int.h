/* SPDX-License-Identifier: MIT */
/*
 * rlease_int.h: private to rlease.c (the lease protocol), rlease_node.c
 * (live nodes, renewal, life cycle) and rlease_msg.c (message tokens):
 * the groups, the context, and the few helpers they share.  Nothing else
 * includes this (but test_rlease.c, to look at a group).
 */
#ifndef RINGMTA_RLEASE_INT_H
#define RINGMTA_RLEASE_INT_H

#include "redis.h"
#include "rlease.h"
#include "timer.h"
#include "value.h"

#define RL_NODE_MAX  64
#define RL_CHUNK     48 /* members per EVALSHA (RDS_ARGV_MAX is 64) */
#define RL_TOK_SLOT  (-1)
#define RL_NBUCKETS0 64

enum rl_state {
	RL_PENDING = 0, /* asked for, no answer yet */
	RL_SPARE,       /* granted, not in use */
	RL_USED,        /* granted, a connection holds it */
	RL_UNBACKED,    /* in use, Redis does not hold it (local fallback,
			   or lost at a renewal) */
	RL__COUNT       /* must stay last */
};

struct rl_member {
	uint64_t seq;
	enum rl_state st;
	uint64_t round; /* renewal round it became spare */
};

/* Leases of (dr, slot), or the message tokens of dr (slot RL_TOK_SLOT). */
struct rl_group {
	struct rl_group *next;
	domain_record *dr;
	int slot;
	char kdom[RDS_KEY_MAX], kbind[RDS_KEY_MAX]; /* kbind: tokens' key */
	bool bad_key;  /* a name that cannot be a key part: never in Redis */
	bool inflight; /* an acquire (or a token request) is out */
	bool starved;  /* refused while Redis could not grant */
	unsigned lim_dom, lim_bind;
	int64_t retry_ms; /* no new request before (wall ms) */
	struct rl_member *m;
	unsigned n, cap;
	/* tokens */
	unsigned tokens;
	int64_t tokens_ms;            /* when they were granted */
	struct value_rate local_rate; /* the local fallback's share */
	int64_t local_tat_us;         /* and its GCRA */
	bool ready_local; /* rlease_msg_ready() allowed it locally */
};

struct rlease {
	struct ring *ring;
	struct rds *rds;
	struct rlease_opts o;
	char node[RL_NODE_MAX + 24]; /* NODE:INSTANCE */
	char sha[RDS_SHA_LEN];
	char knodes[RDS_KEY_MAX];
	struct timer tm;
	int64_t period_ns;
	uint64_t seq, round;
	unsigned nodes;
	bool stopped;
	unsigned inflight; /* our callbacks still to come */
	struct rl_group **b;
	size_t nb, count;
	struct rlease_stats st;
};

enum rl_kind {
	RL_Q_ACQUIRE = 0, /* new leases (up to RL_CHUNK) */
	RL_Q_RENEW,       /* held leases */
	RL_Q_TOKENS,      /* message tokens */
	RL_Q_NODES,       /* the live-node count */
	RL_Q__COUNT       /* must stay last */
};

/* One command's context: the group and the members it asked about. */
struct rl_req {
	struct rlease *rl;
	struct rl_group *g; /* NULL for RL_Q_NODES */
	enum rl_kind kind;
	unsigned n;
	uint64_t seq[];
};

/* The group of (dr, slot), or NULL. */
struct rl_group *rlease_group_find(const struct rlease *rl,
				   const domain_record *dr, int slot);
/* The group of (dr, slot), made (with its keys) if new.  binding names
 * the slot's binding (NULL for RL_TOK_SLOT). */
struct rl_group *rlease_group_get(struct rlease *rl, domain_record *dr,
				  int slot, const char *binding);
/* EVALSHA of rlease_lua with q as the callback's argument: 0 (cb will
 * run once, and counts in rl->inflight until it has), or -errno with q
 * freed. */
int rlease_eval(struct rlease *rl, struct rl_req *q, rds_reply_fn *cb, int nk,
		int ac, const char *const *av);
/* opts.poke for g's domain at when_ms (0: now), unless stopped. */
void rlease_poke(struct rlease *rl, struct rl_group *g, int64_t when_ms);
/* One fire-and-forget command av[0..ac): sent now while up, so that it
 * reaches Redis before any acquire that follows on the same connection;
 * else kept in the write-behind batch for when Redis returns. */
void rlease_send(struct rlease *rl, int ac, const char *const *av);
/* Give back seq[0..n) of g: one ZREM per key (domain, binding) for up to
 * RL_CHUNK members each (idempotent).  Members stay in g (the caller's). */
void rlease_release(struct rlease *rl, const struct rl_group *g,
		    const uint64_t *seq, unsigned n);
/* Drop from g, and give back together, every member (all) or the spares
 * that became spare before round. */
void rlease_drop_members(struct rlease *rl, struct rl_group *g, uint64_t round,
			 bool all);
/* EVALSHA for seq[0..n) (n <= RL_CHUNK) of g with its current limits:
 * RL_Q_ACQUIRE (new members, answered with how many were granted) or
 * RL_Q_RENEW (held ones, answered per member).  Returns 0 (the callback
 * will run) or -errno. */
int rlease_send_lease(struct rlease *rl, struct rl_group *g,
		      const uint64_t *seq, unsigned n, enum rl_kind kind);
/* The live-node count command (rlease_node.c).  Returns 0 or -errno. */
int rlease_send_nodes(struct rlease *rl);

#endif
