/* SPDX-License-Identifier: MIT */
/*
 * rlease.c: cluster-wide connection leases in Redis (see rlease.h): the
 * Lua script and the acquire / renew / release protocol.  Owns the groups
 * (one per (domain, binding slot); rlease_msg.c owns the token fields of
 * the per-domain ones) and their members.  The live-node entry, the
 * renewal timer and the life cycle are rlease_node.c's.  Every Redis call
 * goes through store/redis (EVALSHA of rlease_lua; ZREM, one per key for
 * every member given back together, sent at once or kept in the
 * write-behind batch while down); no reply is ever waited for.
 */
#include "rlease.h"
#include "rlease_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "redis.h"
#include "ring.h"
#include "timer.h"
#include "value.h"

/* Keys the script touches, as "op" dispatch; each op documented inline. */
const char rlease_lua[] =
    "local t = redis.call('TIME')\n"
    "local op = ARGV[1]\n"
    "if op == 'gcra' then\n"
    /* KEYS[1] the TAT (us); ARGV: T_us, tau_us, n -> {granted, wait_us} */
    "  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "  local T, tau = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "  local n = tonumber(ARGV[4])\n"
    "  local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0\n"
    "  if tat < now then tat = now end\n"
    "  local k = math.floor((now + tau - tat) / T) + 1\n"
    "  if k > n then k = n end\n"
    "  if k < 0 then k = 0 end\n"
    "  local wait = 0\n"
    "  if k == 0 then wait = tat - tau - now end\n"
    "  tat = tat + k * T\n"
    "  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX',\n"
    "             math.floor((tat - now) / 1000) + 1000)\n"
    "  return {k, wait}\n"
    "end\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local ttl = tonumber(ARGV[2])\n"
    "local nk = #KEYS\n"
    "if op == 'acquire' then\n"
    /* KEYS the sets; ARGV: ttl_ms, one limit per key (0: none), new
     * members -> k: the first k members are held until now + ttl, the
     * others found no room (so one call grants up to all of them). */
    "  local k = #ARGV - nk - 2\n"
    "  for i = 1, nk do\n"
    "    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)\n"
    "    local lim = tonumber(ARGV[2 + i])\n"
    "    if lim > 0 then\n"
    "      local room = lim - redis.call('ZCARD', KEYS[i])\n"
    "      if room < k then k = room end\n"
    "    end\n"
    "  end\n"
    "  if k < 0 then k = 0 end\n"
    "  for i = 1, nk do\n"
    "    for j = 1, k do\n"
    "      redis.call('ZADD', KEYS[i], now + ttl, ARGV[nk + 2 + j])\n"
    "    end\n"
    "    redis.call('PEXPIRE', KEYS[i], ttl * 2)\n"
    "  end\n"
    "  return k\n"
    "end\n"
    "if op == 'nodes' then\n"
    /* KEYS[1] the live-node set; ARGV: ttl_ms, member -> live nodes */
    "  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)\n"
    "  redis.call('ZADD', KEYS[1], now + ttl, ARGV[3])\n"
    "  redis.call('PEXPIRE', KEYS[1], ttl * 2)\n"
    "  return redis.call('ZCARD', KEYS[1])\n"
    "end\n"
    /* 'lease' (renewal): KEYS the sets; ARGV: ttl_ms, one limit per key
     * (0: none), members -> per member 1 (held until now + ttl) or 0 (no
     * room).  A member already held is renewed whatever the count. */
    "for i = 1, nk do\n"
    "  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)\n"
    "end\n"
    "local out = {}\n"
    "for j = nk + 3, #ARGV do\n"
    "  local m, ok = ARGV[j], 1\n"
    "  for i = 1, nk do\n"
    "    local lim = tonumber(ARGV[2 + i])\n"
    "    if lim > 0 and not redis.call('ZSCORE', KEYS[i], m) and\n"
    "       redis.call('ZCARD', KEYS[i]) >= lim then ok = 0 end\n"
    "  end\n"
    "  if ok == 1 then\n"
    "    for i = 1, nk do redis.call('ZADD', KEYS[i], now + ttl, m) end\n"
    "  end\n"
    "  out[#out + 1] = ok\n"
    "end\n"
    "for i = 1, nk do redis.call('PEXPIRE', KEYS[i], ttl * 2) end\n"
    "return out\n";

/* ---- groups ------------------------------------------------------------ */

struct rl_group *
rlease_group_find(const struct rlease *rl, const domain_record *dr, int slot)
{
	if (rl->nb == 0)
		return NULL;
	for (struct rl_group *g = rl->b[rds_ptr_hash(dr, rl->nb - 1)]; g;
	     g = g->next)
		if (g->dr == dr && g->slot == slot)
			return g;
	return NULL;
}

static void
rl_grow(struct rlease *rl)
{
	size_t nb = rl->nb ? rl->nb * 2 : RL_NBUCKETS0;
	struct rl_group **b = xcalloc(nb, sizeof(*b));

	for (size_t i = 0; i < rl->nb; i++)
		while (rl->b[i]) {
			struct rl_group *g = rl->b[i];
			size_t h = rds_ptr_hash(g->dr, nb - 1);

			rl->b[i] = g->next;
			g->next = b[h];
			b[h] = g;
		}
	free(rl->b);
	rl->b = b;
	rl->nb = nb;
}

/*
 * Binding names may hold upper case and '_' (config tokens); a key part
 * may not hold upper case.  '_' becomes "__" and 'A' becomes "_a": one to
 * one, so two bindings never share a key.
 */
static int
rl_bind_part(const char *binding, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = binding; *p; p++) {
		bool esc = *p == '_' || (*p >= 'A' && *p <= 'Z');

		if (o + 3 > len)
			return -ENOSPC;
		if (esc)
			out[o++] = '_';
		out[o++] = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
	}
	out[o] = '\0';
	return o > 0 ? rds_name_check(out) : -EINVAL;
}

static void
rl_keys(struct rlease *rl, struct rl_group *g, const char *binding)
{
	const char *pfx = rds_key_prefix(rl->rds);
	char part[RDS_NAME_MAX + 1];
	int n;

	if (g->slot == RL_TOK_SLOT) {
		g->bad_key = rds_key(g->kbind, sizeof(g->kbind), pfx,
				     "mthrottle", g->dr->name) < 0;
		return;
	}
	n = rds_key(g->kdom, sizeof(g->kdom), pfx, "lease", g->dr->name);
	if (n < 0 ||
	    rl_bind_part(binding ? binding : "default", part, sizeof(part)) <
		0 ||
	    (size_t)snprintf(g->kbind, sizeof(g->kbind), "%s:%s", g->kdom,
			     part) >= sizeof(g->kbind))
		g->bad_key = true;
	if (g->bad_key)
		log_warn("cluster limits: %s: not a key part: local limits "
			 "only",
			 g->dr->name);
}

struct rl_group *
rlease_group_get(struct rlease *rl, domain_record *dr, int slot,
		 const char *binding)
{
	struct rl_group *g = rlease_group_find(rl, dr, slot);
	size_t h;

	if (g != NULL)
		return g;
	if (rl->count + 1 > rl->nb * 2)
		rl_grow(rl);
	g = xcalloc(1, sizeof(*g));
	g->dr = dr;
	g->slot = slot;
	rl_keys(rl, g, binding);
	h = rds_ptr_hash(dr, rl->nb - 1);
	g->next = rl->b[h];
	rl->b[h] = g;
	rl->count++;
	/* The first cluster limit in use starts the renewal rounds, with a
	 * count of the live nodes now; until then nothing is sent. */
	if (rl->ring != NULL && !rl->stopped && !timer_armed(&rl->tm)) {
		timer_arm(ring_timers(rl->ring), &rl->tm,
			  ring_now(rl->ring) + rl->period_ns);
		if (rds_is_up(rl->rds))
			(void)rlease_send_nodes(rl);
	}
	return g;
}

static struct rl_member *
rl_member_add(struct rlease *rl, struct rl_group *g, enum rl_state st)
{
	struct rl_member *m;

	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 4;
		g->m = xreallocarray(g->m, g->cap, sizeof(*g->m));
	}
	m = &g->m[g->n++];
	m->seq = ++rl->seq;
	m->st = st;
	m->round = rl->round;
	return m;
}

static struct rl_member *
rl_member_find(struct rl_group *g, uint64_t seq)
{
	for (unsigned i = 0; i < g->n; i++)
		if (g->m[i].seq == seq)
			return &g->m[i];
	return NULL;
}

static void
rl_member_del(struct rl_group *g, struct rl_member *m)
{
	*m = g->m[--g->n];
}

static unsigned
rl_count(const struct rl_group *g, enum rl_state a, enum rl_state b)
{
	unsigned n = 0;

	for (unsigned i = 0; g != NULL && i < g->n; i++)
		n += g->m[i].st == a || g->m[i].st == b;
	return n;
}

/* Connections of dr on every slot (in use, backed or not). */
static unsigned
rl_dom_used(const struct rlease *rl, const domain_record *dr)
{
	unsigned n = 0;

	for (struct rl_group *g = rl->b[rds_ptr_hash(dr, rl->nb - 1)]; g;
	     g = g->next)
		if (g->dr == dr && g->slot != RL_TOK_SLOT)
			n += rl_count(g, RL_USED, RL_UNBACKED);
	return n;
}

/* ---- talking to Redis ---------------------------------------------------- */

static int
rl_member_str(const struct rlease *rl, uint64_t seq, char *buf, size_t len)
{
	return snprintf(buf, len, "%s:%" PRIu64, rl->node, seq);
}

void
rlease_send(struct rlease *rl, int ac, const char *const *av)
{
	if (rds_cmd(rl->rds, NULL, NULL, ac, av, NULL) < 0 &&
	    rds_batch(rl->rds, ac, av, NULL) < 0)
		rl->st.errors++;
}

/* ZREM key seq[0..n) (n <= RL_CHUNK) in one command. */
static void
rl_zrem_key(struct rlease *rl, const char *key, const uint64_t *seq, unsigned n)
{
	char mem[RL_CHUNK][RL_NODE_MAX + 48];
	const char *av[2 + RL_CHUNK];

	av[0] = "ZREM";
	av[1] = key;
	for (unsigned i = 0; i < n; i++) {
		rl_member_str(rl, seq[i], mem[i], sizeof(mem[i]));
		av[2 + i] = mem[i];
	}
	rlease_send(rl, (int)(2 + n), av);
}

void
rlease_release(struct rlease *rl, const struct rl_group *g, const uint64_t *seq,
	       unsigned n)
{
	if (g->bad_key)
		return;
	for (unsigned i = 0; i < n; i += RL_CHUNK) {
		unsigned k = MIN(n - i, (unsigned)RL_CHUNK);

		rl_zrem_key(rl, g->kdom, seq + i, k);
		rl_zrem_key(rl, g->kbind, seq + i, k);
	}
	rl->st.released += n;
}

int
rlease_eval(struct rlease *rl, struct rl_req *q, rds_reply_fn *cb, int nk,
	    int ac, const char *const *av)
{
	int err = rds_evalsha(rl->rds, rl->sha, cb, q, nk, ac, av, NULL);

	if (err < 0) {
		free(q);
		return err;
	}
	rl->inflight++;
	return 0;
}

void
rlease_poke(struct rlease *rl, struct rl_group *g, int64_t when_ms)
{
	if (rl->o.poke != NULL && !rl->stopped)
		rl->o.poke(g->dr, when_ms, rl->o.cb_arg);
}

static void rl_on_lease(void *arg, int status, const struct rds_reply *rep);

int
rlease_send_lease(struct rlease *rl, struct rl_group *g, const uint64_t *seq,
		  unsigned n, enum rl_kind kind)
{
	char ttl[24], lim[2][24], mem[RL_CHUNK][RL_NODE_MAX + 48];
	const char *av[4 + 2 + RL_CHUNK];
	struct rl_req *q;
	int nk = 0, ac = 0;

	BUG_ON(n == 0 || n > RL_CHUNK);
	if (g->lim_dom > 0)
		av[nk++] = g->kdom;
	if (g->lim_bind > 0)
		av[nk++] = g->kbind;
	if (nk == 0)
		return -EINVAL;
	snprintf(ttl, sizeof(ttl), "%u", rl->o.ttl_ms);
	ac = nk;
	av[ac++] = kind == RL_Q_ACQUIRE ? "acquire" : "lease";
	av[ac++] = ttl;
	if (g->lim_dom > 0) {
		snprintf(lim[0], sizeof(lim[0]), "%u", g->lim_dom);
		av[ac++] = lim[0];
	}
	if (g->lim_bind > 0) {
		snprintf(lim[1], sizeof(lim[1]), "%u", g->lim_bind);
		av[ac++] = lim[1];
	}
	for (unsigned i = 0; i < n; i++) {
		rl_member_str(rl, seq[i], mem[i], sizeof(mem[i]));
		av[ac++] = mem[i];
	}
	q = xmalloc(sizeof(*q) + n * sizeof(q->seq[0]));
	q->rl = rl;
	q->g = g;
	q->kind = kind;
	q->n = n;
	memcpy(q->seq, seq, n * sizeof(seq[0]));
	return rlease_eval(rl, q, rl_on_lease, nk, ac, av);
}

/* The answer for one member of g: ok (held), 0 (no room) or -1 (no
 * answer).  Returns whether seq must be given back to Redis. */
static bool
rl_lease_one(struct rlease *rl, struct rl_group *g, uint64_t seq, int ok,
	     bool *granted)
{
	struct rl_member *m = rl_member_find(g, seq);

	if (m == NULL) {
		/* Given back while the command was out: give it back again
		 * in case this command re-added it. */
		return ok > 0;
	}
	switch (m->st) {
	case RL_PENDING:
		if (ok > 0) {
			m->st = RL_SPARE;
			m->round = rl->round;
			rl->st.granted++;
			*granted = true;
		} else {
			rl->st.refused += ok == 0;
			rl_member_del(g, m);
			return ok < 0;
		}
		break;
	case RL_SPARE:
		if (ok <= 0) {
			rl->st.lost += ok == 0;
			rl_member_del(g, m);
		}
		break;
	case RL_USED:
	case RL_UNBACKED:
		if (ok > 0)
			m->st = RL_USED;
		else if (ok == 0 && m->st == RL_USED) {
			m->st = RL_UNBACKED;
			rl->st.lost++;
		}
		break;
	case RL__COUNT:
		BUG_ON(1);
	}
	return false;
}

/* Whether rep is the answer q expects: a count of at most q->n for an
 * acquire, one element per member for a renewal. */
static bool
rl_lease_reply_ok(const struct rl_req *q, int status,
		  const struct rds_reply *rep)
{
	if (status < 0)
		return false;
	if (q->kind == RL_Q_ACQUIRE)
		return rep->type == RDS_REPLY_INTEGER && rep->integer >= 0 &&
		       rep->integer <= q->n;
	return rep->type == RDS_REPLY_ARRAY && rep->nelem == q->n;
}

static void
rl_on_lease(void *arg, int status, const struct rds_reply *rep)
{
	struct rl_req *q = arg;
	struct rlease *rl = q->rl;
	struct rl_group *g = q->g;
	bool granted = false, bad = !rl_lease_reply_ok(q, status, rep);
	uint64_t back[RL_CHUNK];
	unsigned k = 0, nback = 0;

	rl->inflight--;
	if (bad) {
		rl->st.errors++;
		if (status == 0 && rep->type == RDS_REPLY_ERROR)
			log_warn("cluster limits: %.*s", (int)rep->len,
				 rep->str);
	}
	for (unsigned i = 0; i < q->n; i++) {
		int ok = bad ? -1
			 : q->kind == RL_Q_ACQUIRE
			     ? i < rep->integer
			     : rep->elem[i].type == RDS_REPLY_INTEGER &&
				   rep->elem[i].integer == 1;

		k += ok > 0;
		if (rl_lease_one(rl, g, q->seq[i], ok, &granted))
			back[nback++] = q->seq[i];
	}
	/* An acquire with no answer may still have added them all: one ZREM
	 * per key for what goes back. */
	if (nback > 0)
		rlease_release(rl, g, back, nback);
	if (q->kind == RL_Q_ACQUIRE) {
		/* Fewer than asked: the cluster is at its limit, so no new
		 * question before the retry time; what came is used now. */
		g->inflight = false;
		g->retry_ms = k == q->n ? 0 : ring_wall_ms() + RLEASE_RETRY_MS;
		rlease_poke(rl, g, granted ? 0 : g->retry_ms);
	}
	free(q);
}

/* Redis cannot grant: the fallback's answer for (g, max_dom, max_bind). */
static int
rl_fallback(struct rlease *rl, struct rl_group *g, uint64_t *ticket_r)
{
	unsigned n = rlease_nodes(rl);
	unsigned sd = rlease_share(g->lim_dom, n);
	unsigned sb = rlease_share(g->lim_bind, n);

	if (rl->o.fallback != CONFIG_CLUSTER_LOCAL) {
		g->starved = true;
		rl->st.closed++;
		return 0;
	}
	if ((sd > 0 && rl_dom_used(rl, g->dr) >= sd) ||
	    (sb > 0 && rl_count(g, RL_USED, RL_UNBACKED) >= sb))
		return 0;
	*ticket_r = rl_member_add(rl, g, RL_UNBACKED)->seq;
	rl->st.local++;
	return 1;
}

/*
 * How many new leases to ask for when want connections are wanted: at
 * most RL_CHUNK, and no more than the limits leave beside the leases of
 * the domain and of g this node holds already (at least one).
 */
static unsigned
rl_ask(const struct rlease *rl, const struct rl_group *g, unsigned want)
{
	unsigned n = MIN(MAX(want, 1u), (unsigned)RL_CHUNK);
	unsigned held;

	if (g->lim_dom > 0) {
		held = rl_dom_used(rl, g->dr);
		n = MIN(n, g->lim_dom > held ? g->lim_dom - held : 1u);
	}
	if (g->lim_bind > 0) {
		held = rl_count(g, RL_USED, RL_UNBACKED);
		n = MIN(n, g->lim_bind > held ? g->lim_bind - held : 1u);
	}
	return MAX(n, 1u);
}

/* Ask for n new leases of g in one command.  Returns 0 or -errno (none
 * asked for). */
static int
rl_acquire(struct rlease *rl, struct rl_group *g, unsigned n)
{
	uint64_t seq[RL_CHUNK];

	for (unsigned i = 0; i < n; i++)
		seq[i] = rl_member_add(rl, g, RL_PENDING)->seq;
	if (rlease_send_lease(rl, g, seq, n, RL_Q_ACQUIRE) < 0) {
		g->n -= n; /* the last n members are those just added */
		return -EIO;
	}
	g->inflight = true;
	return 0;
}

int
rlease_take(struct rlease *rl, domain_record *dr, int slot, const char *binding,
	    unsigned max_dom, unsigned max_bind, unsigned want,
	    uint64_t *ticket_r)
{
	struct rl_group *g;

	*ticket_r = 0;
	if (max_dom == 0 && max_bind == 0)
		return 1;
	if (rl->stopped || slot < 0)
		return 0;
	g = rlease_group_get(rl, dr, slot, binding);
	g->lim_dom = max_dom;
	g->lim_bind = max_bind;
	for (unsigned i = 0; i < g->n; i++)
		if (g->m[i].st == RL_SPARE) {
			g->m[i].st = RL_USED;
			*ticket_r = g->m[i].seq;
			return 1;
		}
	if (g->inflight)
		return 0;
	if (g->bad_key || !rds_is_up(rl->rds))
		return rl_fallback(rl, g, ticket_r);
	if (ring_wall_ms() < g->retry_ms) {
		/* The wake-up set with the refusal may have been used by an
		 * earlier poke: ask for it again. */
		rlease_poke(rl, g, g->retry_ms);
		return 0;
	}
	if (rl_acquire(rl, g, rl_ask(rl, g, want)) < 0)
		return rl_fallback(rl, g, ticket_r);
	return 0;
}

/* Give back ticket of (dr, slot); room: a connection ended, so ask again
 * at once. */
static void
rl_put(struct rlease *rl, domain_record *dr, int slot, uint64_t ticket,
       bool room)
{
	struct rl_group *g;
	struct rl_member *m;

	if (rl == NULL || ticket == 0 ||
	    (g = rlease_group_find(rl, dr, slot)) == NULL ||
	    (m = rl_member_find(g, ticket)) == NULL)
		return;
	if (m->st != RL_UNBACKED || rds_is_up(rl->rds))
		rlease_release(rl, g, &ticket, 1);
	rl_member_del(g, m);
	if (!room)
		return;
	/* Room for another connection of the domain, here or on another
	 * node: ask again at once, whatever a refusal said. */
	for (struct rl_group *o = rl->b[rds_ptr_hash(dr, rl->nb - 1)]; o;
	     o = o->next)
		if (o->dr == dr && o->slot != RL_TOK_SLOT)
			o->retry_ms = 0;
	rlease_poke(rl, g, 0);
}

void
rlease_put(struct rlease *rl, domain_record *dr, int slot, uint64_t ticket)
{
	rl_put(rl, dr, slot, ticket, true);
}

void
rlease_drop(struct rlease *rl, domain_record *dr, int slot, uint64_t ticket)
{
	rl_put(rl, dr, slot, ticket, false);
}

void
rlease_drop_members(struct rlease *rl, struct rl_group *g, uint64_t round,
		    bool all)
{
	uint64_t back[RL_CHUNK];
	unsigned n = 0;

	for (unsigned i = 0; i < g->n;) {
		struct rl_member *m = &g->m[i];

		if (all || (m->st == RL_SPARE && m->round < round)) {
			if (n == RL_CHUNK) {
				rlease_release(rl, g, back, n);
				n = 0;
			}
			back[n++] = m->seq;
			rl_member_del(g, m);
			continue;
		}
		i++;
	}
	if (n > 0)
		rlease_release(rl, g, back, n);
}

void
rlease_trim(struct rlease *rl, domain_record *dr, int slot)
{
	struct rl_group *g;

	if (rl != NULL && (g = rlease_group_find(rl, dr, slot)) != NULL)
		rlease_drop_members(rl, g, UINT64_MAX, false);
}

unsigned
rlease_used(const struct rlease *rl, const domain_record *dr, int slot)
{
	return rl_count(rlease_group_find(rl, dr, slot), RL_USED, RL_UNBACKED);
}

unsigned
rlease_spare(const struct rlease *rl, const domain_record *dr, int slot)
{
	return rl_count(rlease_group_find(rl, dr, slot), RL_SPARE, RL_SPARE);
}
