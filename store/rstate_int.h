/* SPDX-License-Identifier: MIT */
/*
 * rstate_int.h: what rstate.c (publication, suspensions, the control
 * channel) and rstate_ovr.c (overrides) share.  Not for other modules.
 */
#ifndef RINGMTA_RSTATE_INT_H
#define RINGMTA_RSTATE_INT_H

#include "redis.h"
#include "rstate.h"
#include "timer.h"

/* Counters sent as deltas, in this order everywhere. */
enum rst_ctr {
	RST_RECEIVED = 0,
	RST_ATTEMPTS,
	RST_DELIVERIES,
	RST_TRANSIENTS,
	RST_FAILURES,
	RST__COUNT /* must stay last */
};
/* What was last published for one domain record. */
struct rst_dom {
	const domain_record *dr;
	uint64_t ctr[RST__COUNT];
	/* Of ctr: what had reached Redis when it last came up (not pending,
	 * not a replay), re-sent if Redis turns out to have lost it. */
	uint64_t sent[RST__COUNT];
	uint64_t base_received; /* replayed units: never counted */
	uint32_t active, delayed, defer_failures;
	unsigned nconn;
	/* What the node's sums (rstate.sum) hold for this record. */
	uint32_t sum_active, sum_delayed;
	unsigned sum_nconn;
	int64_t next_attempt, backoff_until, last_time;
	enum dom_mx_state mx;
	bool suspended, published, bad_name;
	bool unsettled; /* on rstate.unsettled */
	char last_error[DOM_ERR_MAX];
};

/* The node's counter totals at one round, for its rates (RSTATE_RATE_MS). */
struct rst_snap {
	int64_t ms;
	uint64_t v[RST__COUNT];
};
#define RST_HIST 64 /* rounds kept: more than a minute at one a second */

struct rst_bnd {
	uint64_t ctr[3]; /* connections, deliveries, failures */
	uint64_t sent[3];
	unsigned nconn;
	bool suspended, published;
};

/* A domain's overrides as last read from PREFIX:override:NAME. */
struct rst_ovr {
	char name[DOM_NAME_MAX + 1];
	char *text;   /* "key=value ...", sorted by key */
	uint64_t gen; /* the reload that last saw it */
};

struct rstate {
	struct ring *ring;
	struct rds *rds;
	struct dom_table *doms;
	struct bnd_table *bnds;
	void (*on_resume)(domain_record *dr, void *arg);
	void (*on_request)(const struct rstate_ctl_msg *m, void *arg);
	void (*on_override)(domain_record *dr, const char *text, void *arg);
	void *cb_arg;
	struct timer tm;
	int64_t interval_ns;
	int64_t last_round_ns; /* ring_now() of the last timer round */
	int64_t beat_ms;       /* wall ms: the node's hash is due again */
	/* active, delayed, connections over every record, kept up to date
	 * from the dirty records each round (no walk) */
	uint64_t sum_active, sum_delayed, sum_nconn;
	char prefix[RDS_NAME_MAX + 1];
	char node[RSTATE_NODE_MAX + 1];
	char version[32];
	int64_t started_ms;
	/* open addressing by record pointer */
	struct rst_dom *slots;
	size_t nslots, nused;
	struct rst_bnd *bv; /* [bnds->n] */
	uint64_t round;
	uint64_t tot[RST__COUNT]; /* this process's counters (no replays) */
	struct rst_snap hist[RST_HIST]; /* ring of past rounds' tot */
	unsigned nhist, hhead;          /* entries, next slot */
	bool ready, loading;
	bool stopped;     /* rstate_stop() ran: no more timer */
	bool checking;    /* SISMEMBER PREFIX:nodes in flight */
	bool node_added;  /* SADD PREFIX:nodes queued once */
	bool check_after; /* ... before the check in flight was sent */
	/* Every record's sent[] is still exact: no ctr moved and no delta
	 * was pending since the last snapshot (so the next one is skipped). */
	bool sent_fresh;
	/* The records whose sent[] may be stale: a delta queued (or a
	 * baseline moved) since the snapshot that last found none of theirs
	 * pending.  A record not listed has no pending delta and sent[] ==
	 * ctr[] (less base_received), so a snapshot visits only these. */
	const domain_record **unsettled;
	size_t nunsettled, unsettled_cap;
	unsigned pending; /* commands in flight with our callbacks */
	bool freed;       /* rstate_free() ran while pending */
	/* overrides */
	struct rst_ovr *ovr;
	size_t novr;
	uint64_t ovr_gen;     /* reloads started (one per Redis up) */
	unsigned ovr_loading; /* HGETALLs of the current reload in flight */
	bool ovr_ready;       /* a reload completed once */
	bool ovr_failed;      /* a read of the current reload failed */
};

/* The counters' field names, in enum rst_ctr order; a binding's. */
extern const char *const rst_ctr_names[];
extern const char *const rst_bnd_ctr_names[3];

/* PREFIX:kind (a fixed key) into buf[RDS_KEY_MAX]. */
void rst_fixed_key(const struct rstate *rs, char *buf, const char *kind);
/* A reply to one of our commands arrived: false when rstate_free() ran
 * meanwhile (the last such reply frees rs). */
bool rst_reply_begin(struct rstate *rs);
/* The snapshot of dr (created empty). */
struct rst_dom *rst_dom_get(struct rstate *rs, const domain_record *dr);
/* s (dr's snapshot) has a delta queued or a moved baseline: the next
 * snapshot visits it (idempotent). */
void rst_unsettled_add(struct rstate *rs, struct rst_dom *s);
/* Mark every record dirty and the node's hash due (all is sent again). */
void rst_mark_all(struct rstate *rs);
/* A round at once, not an interval after the last one (a data loss was
 * found: the repair goes out now, once per loss). */
void rst_round_now(struct rstate *rs);
/* Before a round's writes: SISMEMBER PREFIX:nodes ID (rstate_loss.c). */
void rst_check_known(struct rstate *rs);
/* Read the suspensions and overrides again (rstate_loss.c). */
void rst_reload(struct rstate *rs);
/* An administrator's suspension of dr (on) or its end: mark it, log it,
 * and on_resume when it ends (rstate.c). */
void rst_set_suspended(struct rstate *rs, domain_record *dr, bool on);
/* HGETALL PREFIX:override:NAME and apply it; sync: part of a reload.
 * Returns 0 or -errno. */
int rst_ovr_fetch(struct rstate *rs, const char *name, bool sync);
/* Start a reload of every override (Redis came up). */
void rst_ovr_reload(struct rstate *rs);

#endif
