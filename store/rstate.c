/* SPDX-License-Identifier: MIT */
/*
 * rstate.c: publishes the daemon's domain, binding, node and total state
 * to Redis (at most once a second, only the records marked dirty, and a
 * heartbeat; nothing at all while nothing changes) and applies the
 * suspensions an administrator sets there.  Writes only through rds_batch() /
 * rds_hincrby_later(); reads only SMEMBERS PREFIX:suspended (never KEYS or
 * SCAN).  Must not block, must not decide anything about delivery.
 */
#include "rstate.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "binding.h"
#include "rstate_int.h"
#include "log.h"
#include "redis.h"
#include "ring.h"

const char *const rst_ctr_names[] = {
    [RST_RECEIVED] = "received",     [RST_ATTEMPTS] = "attempts",
    [RST_DELIVERIES] = "deliveries", [RST_TRANSIENTS] = "transients",
    [RST_FAILURES] = "failures",     [RST__COUNT] = NULL,
};
_Static_assert(nitems(rst_ctr_names) == RST__COUNT + 1, "ctr");
const char *const rst_bnd_ctr_names[3] = {"connections", "deliveries",
					  "failures"};

static int64_t
rst_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* PREFIX:kind (a fixed key) into buf[RDS_KEY_MAX]. */
void
rst_fixed_key(const struct rstate *rs, char *buf, const char *kind)
{
	snprintf(buf, RDS_KEY_MAX, "%s%s%s", rs->prefix,
		 rs->prefix[0] ? ":" : "", kind);
}

/* ---- the per-record snapshot table -------------------------------------- */

static void
rst_grow(struct rstate *rs)
{
	struct rst_dom *old = rs->slots;
	size_t on = rs->nslots;

	rs->nslots = on ? on * 2 : 64;
	rs->slots = xcalloc(rs->nslots, sizeof(*rs->slots));
	for (size_t i = 0; i < on; i++) {
		size_t j;

		if (old[i].dr == NULL)
			continue;
		j = rds_ptr_hash(old[i].dr, rs->nslots - 1);
		while (rs->slots[j].dr != NULL)
			j = (j + 1) & (rs->nslots - 1);
		rs->slots[j] = old[i];
	}
	free(old);
}

struct rst_dom *
rst_dom_get(struct rstate *rs, const domain_record *dr)
{
	size_t j;

	if ((rs->nused + 1) * 2 > rs->nslots)
		rst_grow(rs);
	j = rds_ptr_hash(dr, rs->nslots - 1);
	while (rs->slots[j].dr != NULL && rs->slots[j].dr != dr)
		j = (j + 1) & (rs->nslots - 1);
	if (rs->slots[j].dr == NULL) {
		rs->slots[j].dr = dr;
		rs->nused++;
	}
	return &rs->slots[j];
}

/* See rstate_int.h. */
void
rst_unsettled_add(struct rstate *rs, struct rst_dom *s)
{
	if (s->unsettled)
		return;
	if (rs->nunsettled == rs->unsettled_cap) {
		rs->unsettled_cap =
		    rs->unsettled_cap ? rs->unsettled_cap * 2 : 64;
		rs->unsettled = xreallocarray(rs->unsettled, rs->unsettled_cap,
					      sizeof(*rs->unsettled));
	}
	rs->unsettled[rs->nunsettled++] = s->dr;
	s->unsettled = true;
}

/* ---- publication --------------------------------------------------------- */

struct rst_round {
	struct rstate *rs;
	int64_t now_ms;
	int queued;
	uint64_t delta[RST__COUNT]; /* for PREFIX:stats */
};

static void
rst_batch(struct rst_round *rr, int argc, const char *const *argv)
{
	if (rds_batch(rr->rs->rds, argc, argv, NULL) == 0)
		rr->queued++;
}

/* Queue now - *last for key's field; true when a delta was queued. */
static bool
rst_delta(struct rst_round *rr, const char *key, const char *field,
	  uint64_t now, uint64_t *last)
{
	if (now == *last)
		return false;
	/* On refusal keep *last: the delta is retried next round. */
	if (rds_hincrby_later(rr->rs->rds, key, field,
			      (int64_t)(now - *last)) != 0)
		return false;
	*last = now;
	rr->rs->sent_fresh = false;
	return true;
}

/* The node's sums follow dr's gauges (only dirty records are visited). */
static void
rst_sum(struct rstate *rs, struct rst_dom *s, const domain_record *dr)
{
	rs->sum_active = rs->sum_active - s->sum_active + dr->nactive;
	rs->sum_delayed = rs->sum_delayed - s->sum_delayed + dr->delayed.count;
	rs->sum_nconn = rs->sum_nconn - s->sum_nconn + dr->nconn;
	s->sum_active = dr->nactive;
	s->sum_delayed = dr->delayed.count;
	s->sum_nconn = dr->nconn;
}

/* A short code from a last error "450 4.7.1 ...": its 3 digits, or "". */
static void
rst_code(const char *err, char *code)
{
	code[0] = '\0';
	if (err[0] >= '2' && err[0] <= '5' && err[1] >= '0' && err[1] <= '9' &&
	    err[2] >= '0' && err[2] <= '9' && (err[3] == ' ' || err[3] == '-'))
		memcpy(code, err, 3), code[3] = '\0';
}

static bool
rst_dom_changed(const struct rst_dom *s, const domain_record *dr, int64_t next)
{
	return !s->published || s->active != dr->nactive ||
	       s->delayed != dr->delayed.count || s->nconn != dr->nconn ||
	       s->mx != dr->mx_state || s->next_attempt != next ||
	       s->backoff_until != dr->backoff_until_ms ||
	       s->defer_failures != dr->defer_failures ||
	       s->suspended != dr->suspended ||
	       strcmp(s->last_error, dr->last_error) != 0;
}

static void
rst_dom_hset(struct rst_round *rr, const char *key, struct rst_dom *s,
	     const domain_record *dr, int64_t next)
{
	char n[8][24], code[4];
	const char *ovr;

	if (strcmp(s->last_error, dr->last_error) != 0 || !s->published) {
		if (strcmp(s->last_error, dr->last_error) != 0)
			s->last_time = rr->now_ms;
		snprintf(s->last_error, sizeof(s->last_error), "%s",
			 dr->last_error);
	}
	rst_code(dr->last_error, code);
	snprintf(n[0], sizeof(n[0]), "%" PRIu32, dr->nactive);
	snprintf(n[1], sizeof(n[1]), "%" PRIu32, dr->delayed.count);
	snprintf(n[2], sizeof(n[2]), "%u", dr->nconn);
	snprintf(n[3], sizeof(n[3]), "%" PRId64, next);
	snprintf(n[4], sizeof(n[4]), "%" PRId64, dr->backoff_until_ms);
	snprintf(n[5], sizeof(n[5]), "%" PRIu32, dr->defer_failures);
	snprintf(n[6], sizeof(n[6]), "%" PRId64, s->last_time);
	snprintf(n[7], sizeof(n[7]), "%" PRId64, rr->now_ms);
	ovr = rstate_override_text(rr->rs, dr->name);
	rst_batch(rr, 26,
		  (const char *const[]){"HSET",
					key,
					"overrides",
					ovr ? ovr : "",
					"active",
					n[0],
					"delayed",
					n[1],
					"connections",
					n[2],
					"next_attempt",
					n[3],
					"backoff_until",
					n[4],
					"consecutive_failures",
					n[5],
					"mx_state",
					dom_mx_state_str(dr->mx_state),
					"suspended",
					dr->suspended ? "1" : "0",
					"last_code",
					code,
					"last_text",
					dr->last_error,
					"last_time",
					n[6]});
	rst_batch(rr, 4, (const char *const[]){"HSET", key, "updated", n[7]});
	s->active = dr->nactive;
	s->delayed = dr->delayed.count;
	s->nconn = dr->nconn;
	s->mx = dr->mx_state;
	s->next_attempt = next;
	s->backoff_until = dr->backoff_until_ms;
	s->defer_failures = dr->defer_failures;
	s->suspended = dr->suspended;
}

static void
rst_pub_dom(domain_record *dr, void *arg)
{
	struct rst_round *rr = arg;
	struct rstate *rs = rr->rs;
	struct rst_dom *s = rst_dom_get(rs, dr);
	const uint64_t now[RST__COUNT] = {dr->received, dr->attempts,
					  dr->deliveries, dr->transients,
					  dr->failures};
	int64_t next = dom_next_due(dr);
	char key[RDS_KEY_MAX], dkey[RDS_KEY_MAX];

	rst_sum(rs, s, dr);
	for (int i = 0; i < RST__COUNT; i++)
		rr->delta[i] += now[i] - s->ctr[i];
	if (s->bad_name)
		goto skip;
	if (next == INT64_MAX)
		next = 0;
	if (dr->backoff_until_ms > next && dr->nactive + dr->delayed.count)
		next = dr->backoff_until_ms;
	/* Unchanged (the idle case): no key built, nothing queued. */
	if (s->published && !rst_dom_changed(s, dr, next) &&
	    memcmp(s->ctr, now, sizeof(now)) == 0)
		return;
	if (rds_key(key, sizeof(key), rs->prefix, "domain", dr->name) < 0) {
		log_warn(
		    "redis: domain %s: not a valid key name, not published",
		    dr->name);
		s->bad_name = true;
		goto skip;
	}
	if (!s->published) {
		rst_fixed_key(rs, dkey, "domains");
		rst_batch(rr, 3, (const char *const[]){"SADD", dkey, dr->name});
	}
	if (rst_dom_changed(s, dr, next))
		rst_dom_hset(rr, key, s, dr, next);
	s->published = true;
	for (int i = 0; i < RST__COUNT; i++)
		if (rst_delta(rr, key, rst_ctr_names[i], now[i], &s->ctr[i]))
			rst_unsettled_add(rs, s);
	if (memcmp(s->ctr, now, sizeof(now)) != 0)
		dom_dirty(dr); /* a delta was refused: next round */
	return;
skip:
	memcpy(s->ctr, now, sizeof(s->ctr));
}

static void
rst_pub_bnd(struct rst_round *rr, struct binding *b, struct rst_bnd *s)
{
	struct rstate *rs = rr->rs;
	const uint64_t now[3] = {b->connections, b->deliveries, b->failures};
	char key[RDS_KEY_MAX], skey[RDS_KEY_MAX], n[24];

	if (rds_key(key, sizeof(key), rs->prefix, "binding", b->name) < 0)
		return; /* config tokens may hold upper case: not published */
	if (!s->published) {
		rst_fixed_key(rs, skey, "bindings");
		rst_batch(rr, 3, (const char *const[]){"SADD", skey, b->name});
	}
	if (!s->published || s->nconn != b->nconn ||
	    s->suspended != b->suspended) {
		snprintf(n, sizeof(n), "%u", b->nconn);
		rst_batch(
		    rr, 10,
		    (const char *const[]){"HSET", key, "open", n, "suspended",
					  b->suspended ? "1" : "0", "reason",
					  b->suspended ? b->reason : "",
					  "group", b->group ? b->group : ""});
		s->nconn = b->nconn;
		s->suspended = b->suspended;
		s->published = true;
	}
	for (int i = 0; i < 3; i++)
		rst_delta(rr, key, rst_bnd_ctr_names[i], now[i], &s->ctr[i]);
}

/*
 * Counts per minute of the node's counters: since the oldest round kept
 * that is at most RSTATE_RATE_MS old (0 before a second round).  Records
 * this round's totals.
 */
static void
rst_rates(struct rstate *rs, int64_t now_ms, uint64_t rate[RST__COUNT])
{
	const struct rst_snap *old = NULL;

	for (unsigned k = rs->nhist; k > 0; k--) {
		const struct rst_snap *h =
		    &rs->hist[(rs->hhead + RST_HIST - k) % RST_HIST];

		if (now_ms - h->ms <= RSTATE_RATE_MS && h->ms < now_ms) {
			old = h;
			break;
		}
	}
	for (int i = 0; i < RST__COUNT; i++)
		rate[i] = old ? (rs->tot[i] - old->v[i]) * 60000 /
				    (uint64_t)(now_ms - old->ms)
			      : 0;
	rs->hist[rs->hhead].ms = now_ms;
	memcpy(rs->hist[rs->hhead].v, rs->tot, sizeof(rs->tot));
	rs->hhead = (rs->hhead + 1) % RST_HIST;
	if (rs->nhist < RST_HIST)
		rs->nhist++;
}

/* The node's hash: heartbeat, identity, gauges, totals and rates. */
static void
rst_pub_node(struct rst_round *rr)
{
	enum {
		NF = 9 + 2 * RST__COUNT
	};
	struct rstate *rs = rr->rs;
	char key[RDS_KEY_MAX], skey[RDS_KEY_MAX], n[NF][24], ttl[16],
	    rname[RST__COUNT][32];
	const char *argv[2 + 2 * (NF + 1)];
	const int64_t gauge[] = {
	    rr->now_ms,
	    rs->started_ms,
	    (rr->now_ms - rs->started_ms) / 1000,
	    (int64_t)getpid(),
	    (int64_t)rs->doms->count,
	    (int64_t)(rs->sum_active + rs->sum_delayed),
	    (int64_t)rs->sum_active,
	    (int64_t)rs->sum_delayed,
	    (int64_t)rs->sum_nconn,
	};
	static const char *const gname[] = {
	    "heartbeat", "started", "uptime",  "pid",         "domains",
	    "queued",    "active",  "delayed", "connections",
	};
	uint64_t rate[RST__COUNT];
	int argc = 2, k = 0;

	_Static_assert(nitems(gauge) == 9 && nitems(gname) == 9, "node");
	if (rds_key(key, sizeof(key), rs->prefix, "node", rs->node) < 0)
		return;
	rst_rates(rs, rr->now_ms, rate);
	argv[0] = "HSET";
	argv[1] = key;
	for (size_t i = 0; i < nitems(gauge); i++, k++) {
		snprintf(n[k], sizeof(n[k]), "%" PRId64, gauge[i]);
		argv[argc++] = gname[i];
		argv[argc++] = n[k];
	}
	for (int i = 0; i < RST__COUNT; i++, k++) {
		snprintf(n[k], sizeof(n[k]), "%" PRIu64, rs->tot[i]);
		argv[argc++] = rst_ctr_names[i];
		argv[argc++] = n[k];
	}
	for (int i = 0; i < RST__COUNT; i++, k++) {
		snprintf(rname[i], sizeof(rname[i]), "%s_per_min",
			 rst_ctr_names[i]);
		snprintf(n[k], sizeof(n[k]), "%" PRIu64, rate[i]);
		argv[argc++] = rname[i];
		argv[argc++] = n[k];
	}
	argv[argc++] = "version";
	argv[argc++] = rs->version;
	BUG_ON(argc != (int)nitems(argv));
	snprintf(ttl, sizeof(ttl), "%d", RSTATE_NODE_TTL_S);
	rst_batch(rr, argc, argv);
	rst_batch(rr, 3, (const char *const[]){"EXPIRE", key, ttl});
	rst_fixed_key(rs, skey, "nodes");
	rst_batch(rr, 3, (const char *const[]){"SADD", skey, rs->node});
	rs->node_added = true;
}

/*
 * The node's hash is due (a wall clock that went back counts as due).
 * Never while Redis is down: it could only wait in the batch, and
 * rstate_on_up() writes it at once when Redis is back.
 */
static bool
rst_beat_due(const struct rstate *rs, int64_t wall_ms)
{
	return rds_is_up(rs->rds) && (wall_ms >= rs->beat_ms ||
				      rs->beat_ms - wall_ms > RSTATE_BEAT_MS);
}

int
rstate_publish(struct rstate *rs, int64_t wall_ms)
{
	struct rst_round rr = {.rs = rs, .now_ms = wall_ms};
	size_t n = rs->doms->ndirty;
	domain_record *dr;
	char key[RDS_KEY_MAX];

	if (n == 0 && !rst_beat_due(rs, wall_ms))
		return 0; /* idle: no walk, no command */
	if (rds_is_up(rs->rds))
		rst_check_known(rs);
	/* Only the records marked since the last round; one re-marked now
	 * (a refused delta) waits for the next. */
	while (n-- > 0 && (dr = dom_dirty_pop(rs->doms)) != NULL)
		rst_pub_dom(dr, &rr);
	for (size_t i = 0; i < rs->bnds->n; i++)
		rst_pub_bnd(&rr, &rs->bnds->v[i], &rs->bv[i]);
	for (int i = 0; i < RST__COUNT; i++)
		rs->tot[i] += rr.delta[i];
	rst_pub_node(&rr);
	rs->beat_ms = wall_ms + RSTATE_BEAT_MS;
	rst_fixed_key(rs, key, "stats");
	for (int i = 0; i < RST__COUNT; i++)
		if (rr.delta[i] != 0 &&
		    rds_hincrby_later(rs->rds, key, rst_ctr_names[i],
				      (int64_t)rr.delta[i]) == 0)
			rr.queued++;
	rs->round++;
	return rr.queued;
}

/* Arm the round for when (ring_now() ns) unless it is due sooner. */
static void
rst_arm(struct rstate *rs, int64_t when)
{
	if (rs->ring == NULL || rs->stopped)
		return;
	if (!timer_armed(&rs->tm) || rs->tm.when > when)
		timer_arm(ring_timers(rs->ring), &rs->tm, when);
}

/* See rstate_int.h. */
void
rst_round_now(struct rstate *rs)
{
	if (rs->ring != NULL)
		rst_arm(rs, ring_now(rs->ring));
}

/* A record became dirty: a round one interval after the last one. */
static void
rst_on_dirty(void *arg)
{
	struct rstate *rs = arg;

	rst_arm(rs, rs->last_round_ns + rs->interval_ns);
}

/*
 * One round, then the next wakeup: an interval later if a record is
 * still dirty, else when the node's hash is due.  Nothing else wakes
 * it: a record marked later arms it through rst_on_dirty().
 */
static void
rst_timer(struct timer *t)
{
	struct rstate *rs = container_of(t, struct rstate, tm);
	int64_t wall_ms = rst_wall_ms(), beat_ms;

	rs->last_round_ns = ring_now(rs->ring);
	rstate_publish(rs, wall_ms);
	beat_ms = rs->beat_ms <= wall_ms
		      ? 0
		      : MIN(rs->beat_ms - wall_ms, (int64_t)RSTATE_BEAT_MS);
	if (rds_is_up(rs->rds)) /* else rstate_on_up() wakes it */
		rst_arm(rs, rs->last_round_ns + beat_ms * 1000000);
	if (rs->doms->ndirty > 0)
		rst_on_dirty(rs);
}

static void
rst_mark(domain_record *dr, void *arg)
{
	(void)arg;
	dom_dirty(dr);
}

/* Every record dirty and the node's hash due: a round writes it all. */
void
rst_mark_all(struct rstate *rs)
{
	dom_foreach(rs->doms, rst_mark, NULL);
	rs->beat_ms = INT64_MIN;
	rst_on_dirty(rs);
}

/* ---- suspensions --------------------------------------------------------- */

/* See rstate_int.h. */
void
rst_set_suspended(struct rstate *rs, domain_record *dr, bool on)
{
	if (dr->suspended == on)
		return;
	dr->suspended = on;
	dom_dirty(dr);
	log_info("domain %s %s by an administrator", dr->name,
		 on ? "suspended" : "resumed");
	if (!on && rs->on_resume != NULL)
		rs->on_resume(dr, rs->cb_arg);
}

/*
 * A reply to one of our commands arrived: false when rstate_free() ran
 * meanwhile (the last such reply frees it).
 */
bool
rst_reply_begin(struct rstate *rs)
{
	rs->pending--;
	if (!rs->freed)
		return true;
	if (rs->pending == 0)
		free(rs);
	return false;
}

/* ---- the control channel ------------------------------------------------ */

/*
 * A request may have changed records behind dom_dirty() (flush and fail
 * move or drop units): mark its domain, or every record when it named all
 * of them.  retry and delete take a message's units through
 * dom_take_msg(), which marks each record it changed.
 */
static void
rst_request_done(struct rstate *rs, const struct rstate_ctl_msg *m)
{
	domain_record *dr;

	switch (m->op) {
	case RSTATE_CTL_FLUSH:
	case RSTATE_CTL_FAIL:
		if (strcmp(m->arg, "all") != 0) {
			if ((dr = dom_find(rs->doms, m->arg)) != NULL)
				dom_dirty(dr);
			return;
		}
		rst_mark_all(rs);
		return;
	case RSTATE_CTL_RETRY: /* marked by dom_take_msg() */
	case RSTATE_CTL_DELETE:
	case RSTATE_CTL_SUSPEND: /* marked by rst_set_suspended() */
	case RSTATE_CTL_RESUME:
	case RSTATE_CTL_OVERRIDE: /* by rst_ovr_fetch() */
	case RSTATE_CTL_QUEUE:    /* read-only */
	case RSTATE_CTL_MESSAGE:
	case RSTATE_CTL_DOMAIN:
	case RSTATE_CTL__COUNT:
		return;
	}
}

int
rstate_ctl_apply(struct rstate *rs, const char *msg, size_t len)
{
	struct rstate_ctl_msg m;
	domain_record *dr;

	if (rstate_ctl_parse(msg, len, &m) < 0) {
		log_warn("redis: ignored control message '%.*s'",
			 (int)MIN(len, 80), msg);
		return -EINVAL;
	}
	switch (m.op) {
	case RSTATE_CTL_SUSPEND:
	case RSTATE_CTL_RESUME:
		dr = m.op == RSTATE_CTL_SUSPEND ? dom_get(rs->doms, m.arg)
						: dom_find(rs->doms, m.arg);
		if (dr != NULL)
			rst_set_suspended(rs, dr, m.op == RSTATE_CTL_SUSPEND);
		return 0;
	case RSTATE_CTL_OVERRIDE:
		(void)rst_ovr_fetch(rs, m.arg, false);
		return 0;
	case RSTATE_CTL_QUEUE:
	case RSTATE_CTL_MESSAGE:
	case RSTATE_CTL_FLUSH:
	case RSTATE_CTL_FAIL:
	case RSTATE_CTL_RETRY:
	case RSTATE_CTL_DELETE:
	case RSTATE_CTL_DOMAIN:
	case RSTATE_CTL__COUNT:
		break;
	}
	if (rs->on_request == NULL)
		return 0;
	rs->on_request(&m, rs->cb_arg);
	rst_request_done(rs, &m);
	return 0;
}

int
rstate_reply(struct rstate *rs, const char *reqid, const char *payload,
	     size_t len)
{
	char key[RDS_KEY_MAX], ttl[16];
	int rc;

	if (strlen(reqid) != RSTATE_REQID_LEN ||
	    rds_key(key, sizeof(key), rs->prefix, "reply", reqid) < 0)
		return -EINVAL;
	snprintf(ttl, sizeof(ttl), "%d", RSTATE_REPLY_TTL_S);
	rc = rds_batch(rs->rds, 3, (const char *const[]){"RPUSH", key, payload},
		       (const size_t[]){5, strlen(key), len});
	if (rc == 0)
		rc = rds_batch(rs->rds, 3,
			       (const char *const[]){"EXPIRE", key, ttl}, NULL);
	return rc;
}

const char *
rstate_node(const struct rstate *rs)
{
	return rs->node;
}

static void
rst_on_msg(void *arg, const char *channel, const char *payload, size_t len)
{
	(void)channel;
	rstate_ctl_apply(arg, payload, len);
}

static void
rst_baseline(domain_record *dr, void *arg)
{
	struct rst_dom *s = rst_dom_get(arg, dr);

	s->ctr[RST_RECEIVED] = dr->received;
	s->base_received = dr->received;
	((struct rstate *)arg)->sent_fresh = false;
	rst_unsettled_add(arg, s);
}

void
rstate_replayed(struct rstate *rs)
{
	dom_foreach(rs->doms, rst_baseline, rs);
}

bool
rstate_ready(const struct rstate *rs)
{
	return rs->ready && rs->ovr_ready;
}

int
rstate_new(const struct rstate_opts *o, struct rstate **rs_r)
{
	struct rstate *rs;
	char chan[RDS_KEY_MAX];
	const char *prefix = rds_key_prefix(o->rds);
	int rc;

	if (strlen(prefix) > RDS_NAME_MAX)
		return -EINVAL;
	rs = xcalloc(1, sizeof(*rs));
	rs->ring = o->ring;
	rs->rds = o->rds;
	rs->doms = o->doms;
	rs->bnds = o->bnds;
	rs->on_resume = o->on_resume;
	rs->on_request = o->on_request;
	rs->on_override = o->on_override;
	rs->cb_arg = o->cb_arg;
	strcpy(rs->prefix, prefix);
	rstate_node_name(o->node_id, rs->node);
	snprintf(rs->version, sizeof(rs->version), "%s",
		 o->version ? o->version : "");
	rs->started_ms = rst_wall_ms();
	/* The rates' first sample: nothing counted yet at the start, so the
	 * first round already has an interval (it may come seconds later). */
	rs->hist[0].ms = rs->started_ms;
	rs->hhead = rs->nhist = 1;
	rs->bv = xcalloc(rs->bnds->cap ? rs->bnds->cap : 1, sizeof(*rs->bv));
	rs->interval_ns =
	    (int64_t)(o->interval_ms ? o->interval_ms : RSTATE_INTERVAL_MS) *
	    1000000;
	snprintf(chan, sizeof(chan), "%s%sctl", prefix, prefix[0] ? ":" : "");
	rc = rds_subscribe(rs->rds, chan, rst_on_msg, rs);
	if (rc < 0) {
		rstate_free(rs);
		return rc;
	}
	timer_init(&rs->tm, rst_timer);
	rs->doms->on_dirty = rst_on_dirty;
	rs->doms->on_dirty_arg = rs;
	if (rs->ring != NULL) {
		rs->last_round_ns = ring_now(rs->ring) - rs->interval_ns;
		timer_arm(ring_timers(rs->ring), &rs->tm, ring_now(rs->ring));
	}
	/* Records queued before us (the replay) go out in the first round
	 * (rstate_on_up marks them all too). */
	if (rds_is_up(rs->rds))
		rstate_on_up(rs);
	else
		rst_mark_all(rs);
	*rs_r = rs;
	return 0;
}

void
rstate_stop(struct rstate *rs)
{
	if (rs == NULL)
		return;
	if (rs->ring != NULL && timer_armed(&rs->tm))
		timer_cancel(ring_timers(rs->ring), &rs->tm);
	rs->stopped = true;
	rs->beat_ms = INT64_MIN; /* a last heartbeat too */
	rstate_publish(rs, rst_wall_ms());
}

void
rstate_free(struct rstate *rs)
{
	if (rs == NULL)
		return;
	if (rs->ring != NULL && timer_armed(&rs->tm))
		timer_cancel(ring_timers(rs->ring), &rs->tm);
	if (rs->doms->on_dirty_arg == rs) {
		rs->doms->on_dirty = NULL;
		rs->doms->on_dirty_arg = NULL;
	}
	free(rs->slots);
	free(rs->unsettled);
	free(rs->bv);
	for (size_t i = 0; i < rs->novr; i++)
		free(rs->ovr[i].text);
	free(rs->ovr);
	rs->slots = NULL;
	rs->unsettled = NULL;
	rs->nunsettled = rs->unsettled_cap = 0;
	rs->bv = NULL;
	rs->ovr = NULL;
	rs->novr = 0;
	if (rs->pending > 0) {
		rs->freed = true; /* the last reply frees it */
		return;
	}
	free(rs);
}

/* See rstate.h (a reload grew the binding table: bv follows its cap). */
void
rstate_bnds_grown(struct rstate *rs, size_t old_cap)
{
	size_t cap = rs->bnds->cap;

	if (cap <= old_cap)
		return;
	rs->bv = xreallocarray(rs->bv, cap, sizeof(*rs->bv));
	memset(&rs->bv[old_cap], 0, (cap - old_cap) * sizeof(*rs->bv));
}
