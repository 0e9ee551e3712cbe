/* SPDX-License-Identifier: MIT */
/*
 * domain.c: the domain table (chained hash, grows by doubling), the
 * active/delayed queues of delivery units, the MX set's per-address state
 * and the pure arithmetic of MX choice, throttles and connection goals.
 * No I/O, no clock (callers pass now) and no policy.
 */
#include "domain.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "value.h"

static uint64_t
dom_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static const char *const dom_mx_state_names[] = {
    [DOM_MX_NONE] = "none",
    [DOM_MX_RESOLVING] = "resolving",
    [DOM_MX_READY] = "ready",
};
_Static_assert(nitems(dom_mx_state_names) == DOM_MX__COUNT,
	       "dom_mx_state_names");

const char *
dom_mx_state_str(enum dom_mx_state s)
{
	return (unsigned)s < DOM_MX__COUNT ? dom_mx_state_names[s] : "?";
}

void
dom_table_init(struct dom_table *t, unsigned nbind)
{
	t->nbind = nbind ? nbind : 1;
	t->nbuckets = 64;
	t->buckets = xcalloc(t->nbuckets, sizeof(*t->buckets));
	t->count = 0;
	t->units = 0;
	t->dirty = NULL;
	t->dirty_tail = &t->dirty;
	t->ndirty = 0;
	t->on_dirty = NULL;
	t->on_dirty_arg = NULL;
}

static void
dom_queue_free(struct dom_queue *q)
{
	struct dom_unit *u, *next;

	for (u = q->head; u; u = next) {
		next = u->next;
		dom_unit_free(u);
	}
	q->head = NULL;
	q->tail = &q->head;
	q->count = 0;
}

void
dom_table_fini(struct dom_table *t)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		domain_record *dr, *next;

		for (dr = t->buckets[i]; dr; dr = next) {
			next = dr->hnext;
			for (unsigned b = 0; b < dr->nbind; b++)
				dom_queue_free(&dr->bind[b].active);
			dom_queue_free(&dr->delayed);
			free(dr->bind);
			free(dr->addrs);
			free(dr->policy_ovr);
			free(dr);
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = t->count = 0;
	t->dirty = NULL; /* the records are gone */
	t->dirty_tail = &t->dirty;
	t->ndirty = 0;
}

domain_record *
dom_find(const struct dom_table *t, const char *name)
{
	domain_record *dr = t->buckets[dom_hash(name) & (t->nbuckets - 1)];

	for (; dr; dr = dr->hnext)
		if (strcmp(dr->name, name) == 0)
			return dr;
	return NULL;
}

static void
dom_grow(struct dom_table *t)
{
	size_t n = t->nbuckets * 2;
	domain_record **b = xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < t->nbuckets; i++) {
		domain_record *dr, *next;

		for (dr = t->buckets[i]; dr; dr = next) {
			size_t k = dom_hash(dr->name) & (n - 1);

			next = dr->hnext;
			dr->hnext = b[k];
			b[k] = dr;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

domain_record *
dom_get(struct dom_table *t, const char *name)
{
	domain_record *dr = dom_find(t, name);
	size_t k;

	if (dr != NULL)
		return dr;
	BUG_ON(strlen(name) > DOM_NAME_MAX);
	if (t->count >= t->nbuckets)
		dom_grow(t);
	dr = xcalloc(1, sizeof(*dr));
	strcpy(dr->name, name);
	dr->tab = t;
	dr->nbind = t->nbind;
	dr->bind = xcalloc(dr->nbind, sizeof(*dr->bind));
	for (unsigned b = 0; b < dr->nbind; b++)
		dr->bind[b].active.tail = &dr->bind[b].active.head;
	timer_init(&dr->mt_timer, NULL);
	dr->delayed.tail = &dr->delayed.head;
	dr->rcvd_min_ms = INT64_MAX;
	k = dom_hash(name) & (t->nbuckets - 1);
	dr->hnext = t->buckets[k];
	t->buckets[k] = dr;
	t->count++;
	return dr;
}

void
dom_dirty(domain_record *dr)
{
	struct dom_table *t = dr->tab;

	if (dr->dirty_prev != NULL || t == NULL)
		return;
	dr->dirty_next = NULL;
	dr->dirty_prev = t->dirty_tail;
	*t->dirty_tail = dr;
	t->dirty_tail = &dr->dirty_next;
	if (t->ndirty++ == 0 && t->on_dirty != NULL)
		t->on_dirty(t->on_dirty_arg);
}

domain_record *
dom_dirty_pop(struct dom_table *t)
{
	domain_record *dr = t->dirty;

	if (dr == NULL)
		return NULL;
	t->dirty = dr->dirty_next;
	if (t->dirty != NULL)
		t->dirty->dirty_prev = &t->dirty;
	else
		t->dirty_tail = &t->dirty;
	dr->dirty_next = NULL;
	dr->dirty_prev = NULL;
	t->ndirty--;
	return dr;
}

struct dom_unit *
dom_unit_new(const uint8_t id[DOM_ID_LEN], uint32_t nrcpt)
{
	struct dom_unit *u =
	    xcalloc(1, sizeof(*u) + (size_t)nrcpt * sizeof(u->rcpt[0]));

	memcpy(u->id, id, DOM_ID_LEN);
	return u;
}

void
dom_unit_free(struct dom_unit *u)
{
	free(u);
}

static struct dom_queue *
dom_active_q(domain_record *dr, int slot)
{
	BUG_ON(slot < 0 || (unsigned)slot >= dr->nbind);
	return &dr->bind[slot].active;
}

/* u joined an active queue: keep the earliest received time. */
static void
dom_rcvd_note(domain_record *dr, const struct dom_unit *u)
{
	dr->rcvd_min_ms = MIN(dr->rcvd_min_ms, u->received_ms);
}

void
dom_rcvd_reset(domain_record *dr, int64_t min_ms)
{
	dr->rcvd_min_ms = min_ms;
}

void
dom_active_push(struct dom_table *t, domain_record *dr, struct dom_unit *u)
{
	struct dom_queue *q = dom_active_q(dr, u->bslot);

	u->dr = dr;
	u->next = NULL;
	*q->tail = u;
	q->tail = &u->next;
	q->count++;
	dr->nactive++;
	t->units++;
	dom_rcvd_note(dr, u);
	dom_dirty(dr);
}

void
dom_active_unshift(struct dom_table *t, domain_record *dr, struct dom_unit *u)
{
	struct dom_queue *q = dom_active_q(dr, u->bslot);

	u->dr = dr;
	u->next = q->head;
	q->head = u;
	if (u->next == NULL)
		q->tail = &u->next;
	q->count++;
	dr->nactive++;
	t->units++;
	dom_rcvd_note(dr, u);
	dom_dirty(dr);
}

static struct dom_unit *
dom_queue_shift(struct dom_queue *q)
{
	struct dom_unit *u = q->head;

	if (u == NULL)
		return NULL;
	q->head = u->next;
	if (q->head == NULL)
		q->tail = &q->head;
	q->count--;
	u->next = NULL;
	return u;
}

struct dom_unit *
dom_active_pop(struct dom_table *t, domain_record *dr, int slot)
{
	struct dom_unit *u = dom_queue_shift(dom_active_q(dr, slot));

	if (u != NULL) {
		if (--dr->nactive == 0)
			dom_rcvd_reset(dr, INT64_MAX);
		t->units--;
		dom_dirty(dr);
	}
	return u;
}

struct dom_unit *
dom_active_pop_any(struct dom_table *t, domain_record *dr)
{
	for (unsigned b = 0; b < dr->nbind; b++) {
		struct dom_unit *u = dom_active_pop(t, dr, (int)b);

		if (u != NULL)
			return u;
	}
	return NULL;
}

void
dom_foreach(struct dom_table *t, void (*fn)(domain_record *, void *), void *arg)
{
	for (size_t i = 0; i < t->nbuckets; i++)
		for (domain_record *dr = t->buckets[i]; dr; dr = dr->hnext)
			fn(dr, arg);
}

/* Give dr nbind slots (> dr->nbind): the array moves, so the tail of an
 * empty queue, which points into it, is set again. */
static void
dom_record_grow_bind(domain_record *dr, unsigned nbind)
{
	dr->bind = xreallocarray(dr->bind, nbind, sizeof(*dr->bind));
	memset(&dr->bind[dr->nbind], 0,
	       (nbind - dr->nbind) * sizeof(*dr->bind));
	for (unsigned b = 0; b < nbind; b++)
		if (dr->bind[b].active.head == NULL)
			dr->bind[b].active.tail = &dr->bind[b].active.head;
	dr->nbind = nbind;
}

void
dom_table_grow_bind(struct dom_table *t, unsigned nbind)
{
	if (nbind <= t->nbind)
		return;
	t->nbind = nbind;
	for (size_t i = 0; i < t->nbuckets; i++)
		for (domain_record *dr = t->buckets[i]; dr; dr = dr->hnext)
			if (dr->nbind < nbind)
				dom_record_grow_bind(dr, nbind);
}

void
dom_delayed_push(struct dom_table *t, domain_record *dr, struct dom_unit *u)
{
	struct dom_unit **pp = &dr->delayed.head;

	/* Retries are mostly appended in time order: scan from the head is
	 * fine for the queue sizes of one domain; the maintainer keeps the
	 * earliest due time. */
	while (*pp && (*pp)->due_ms <= u->due_ms)
		pp = &(*pp)->next;
	u->dr = dr;
	u->next = *pp;
	*pp = u;
	if (u->next == NULL)
		dr->delayed.tail = &u->next;
	dr->delayed.count++;
	t->units++;
	dom_dirty(dr);
}

struct dom_unit *
dom_delayed_pop(struct dom_table *t, domain_record *dr)
{
	struct dom_unit *u = dom_queue_shift(&dr->delayed);

	if (u != NULL) {
		t->units--;
		dom_dirty(dr);
	}
	return u;
}

/* Move every unit of message id from q to **tail (see dom_take_msg);
 * *min_r: the earliest received time of the units left. */
static unsigned
dom_queue_take(struct dom_queue *q, const uint8_t *id, struct dom_unit ***tail,
	       int64_t *min_r)
{
	struct dom_unit **pp = &q->head;
	unsigned n = 0;

	while (*pp != NULL) {
		struct dom_unit *u = *pp;

		if (memcmp(u->id, id, DOM_ID_LEN) != 0) {
			*min_r = MIN(*min_r, u->received_ms);
			pp = &u->next;
			continue;
		}
		*pp = u->next;
		u->next = NULL;
		**tail = u;
		*tail = &u->next;
		q->count--;
		n++;
	}
	q->tail = pp;
	return n;
}

unsigned
dom_take_msg(struct dom_table *t, domain_record *dr,
	     const uint8_t id[DOM_ID_LEN], bool delayed_only,
	     struct dom_unit ***tail)
{
	int64_t min_ms = INT64_MAX, unused = INT64_MAX;
	unsigned n = 0;

	for (unsigned b = 0; !delayed_only && b < dr->nbind; b++) {
		unsigned k =
		    dom_queue_take(&dr->bind[b].active, id, tail, &min_ms);

		dr->nactive -= k;
		n += k;
	}
	if (!delayed_only)
		dom_rcvd_reset(dr, min_ms);
	n += dom_queue_take(&dr->delayed, id, tail, &unused);
	t->units -= n;
	if (n > 0)
		dom_dirty(dr);
	return n;
}

unsigned
dom_promote_due(domain_record *dr, int64_t now_ms)
{
	unsigned n = 0;

	while (dr->delayed.head && dr->delayed.head->due_ms <= now_ms) {
		struct dom_unit *u = dom_queue_shift(&dr->delayed);
		struct dom_queue *q = dom_active_q(dr, u->bslot);

		*q->tail = u;
		q->tail = &u->next;
		q->count++;
		dr->nactive++;
		dom_rcvd_note(dr, u);
		n++;
	}
	if (n > 0)
		dom_dirty(dr);
	return n;
}

int64_t
dom_next_due(const domain_record *dr)
{
	return dr->delayed.head ? dr->delayed.head->due_ms : INT64_MAX;
}

const char *
dom_of_addr(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at && at[1] ? at + 1 : NULL;
}

unsigned
dom_split(struct dom_table *t, const uint8_t id[DOM_ID_LEN],
	  const char *const *addr, const uint32_t *idx, uint32_t n,
	  dom_split_out_fn *out, dom_split_bad_fn *bad, void *arg)
{
	domain_record **drs = xcalloc(n ? n : 1, sizeof(*drs));
	domain_record **slot_dr = xcalloc(n ? n : 1, sizeof(*slot_dr));
	uint32_t *counts = xcalloc(n ? n : 1, sizeof(*counts));
	struct dom_unit **units;
	uint32_t nslots = 0;
	uint64_t gen = ++t->split_gen;

	/* Pass 1: each recipient's domain; a slot per distinct domain, in
	 * order of first appearance (O(n): the slot lives in the record). */
	for (uint32_t i = 0; i < n; i++) {
		char norm[DOM_NAME_MAX + 2], why[128];
		const char *d = dom_of_addr(addr[i]);
		domain_record *dr;

		if (d == NULL ||
		    value_domain(d, norm, sizeof(norm), why, sizeof(why)) < 0) {
			bad(idx ? idx[i] : i, d == NULL ? "no domain" : why,
			    arg);
			continue;
		}
		dr = drs[i] = dom_get(t, norm);
		if (dr->split_gen != gen) {
			dr->split_gen = gen;
			dr->split_slot = nslots;
			slot_dr[nslots++] = dr;
		}
		counts[dr->split_slot]++;
	}
	/* Pass 2: fill one unit per slot, then hand them out. */
	units = xcalloc(nslots ? nslots : 1, sizeof(*units));
	for (uint32_t k = 0; k < nslots; k++)
		units[k] = dom_unit_new(id, counts[k]);
	for (uint32_t i = 0; i < n; i++) {
		struct dom_unit *u;

		if (drs[i] == NULL)
			continue;
		u = units[drs[i]->split_slot];
		u->rcpt[u->nrcpt++] = idx ? idx[i] : i;
	}
	for (uint32_t k = 0; k < nslots; k++)
		out(slot_dr[k], units[k], arg);
	free(drs);
	free(slot_dr);
	free(counts);
	free(units);
	return nslots;
}

static const struct dom_addr *
dom_mx_find(const domain_record *dr, const struct dom_addr *a)
{
	for (size_t i = 0; i < dr->naddrs; i++) {
		const struct dom_addr *o = &dr->addrs[i];

		if (o->len == a->len && memcmp(&o->sa, &a->sa, a->len) == 0 &&
		    strcmp(o->host, a->host) == 0)
			return o;
	}
	return NULL;
}

void
dom_mx_set(domain_record *dr, const struct dom_addr *addrs, size_t n,
	   int64_t expires_ms)
{
	struct dom_addr *v = xcalloc(n ? n : 1, sizeof(*v));

	for (size_t i = 0; i < n; i++) {
		const struct dom_addr *old = dom_mx_find(dr, &addrs[i]);

		v[i] = old ? *old : addrs[i];
		v[i].pref = addrs[i].pref;
	}
	free(dr->addrs);
	dr->addrs = v;
	dr->naddrs = n;
	dr->mx_expires_ms = expires_ms;
	dr->mx_state = DOM_MX_READY;
	dom_dirty(dr);
}

int
dom_mx_pick(const domain_record *dr, int64_t now_ms)
{
	int best = -ENOENT;

	for (size_t i = 0; i < dr->naddrs; i++) {
		const struct dom_addr *a = &dr->addrs[i], *b;

		if (a->penalty_until_ms > now_ms)
			continue;
		if (best < 0) {
			best = (int)i;
			continue;
		}
		b = &dr->addrs[best];
		if (a->pref < b->pref ||
		    (a->pref == b->pref && a->nconn < b->nconn))
			best = (int)i;
	}
	return best;
}

bool
dom_mx_last(const domain_record *dr, size_t idx, int64_t now_ms)
{
	for (size_t i = 0; i < dr->naddrs; i++)
		if (i != idx && dr->addrs[i].penalty_until_ms <= now_ms)
			return false;
	return true;
}

int64_t
dom_mx_penalty_end(const domain_record *dr)
{
	int64_t end = INT64_MAX;

	for (size_t i = 0; i < dr->naddrs; i++)
		if (dr->addrs[i].penalty_until_ms > 0)
			end = MIN(end, dr->addrs[i].penalty_until_ms);
	return end;
}

/* The spacing of rate r in microseconds (>= 1), 0 when unlimited. */
static int64_t
dom_rate_interval_us(const struct value_rate *r)
{
	uint64_t us;

	if (r->count == 0)
		return 0;
	us = r->period_ms * 1000 / r->count;
	return us ? (int64_t)MIN(us, (uint64_t)INT64_MAX / 4) : 1;
}

int64_t
dom_rate_wait(const struct value_rate *r, int64_t tat_us, int64_t now_us)
{
	if (dom_rate_interval_us(r) == 0 || tat_us <= now_us)
		return 0;
	return tat_us - now_us;
}

int64_t
dom_rate_take(const struct value_rate *r, int64_t *tat_us, int64_t now_us)
{
	int64_t t = dom_rate_interval_us(r), wait;

	if (t == 0)
		return 0;
	wait = dom_rate_wait(r, *tat_us, now_us);
	if (wait > 0)
		return wait;
	/* Lateness of up to one interval is caught up (timers fire a little
	 * late, and the rate must hold over time); a longer idle period earns
	 * no burst: the spacing restarts from now. */
	*tat_us = (*tat_us < now_us - t ? now_us : *tat_us) + t;
	return 0;
}

void
dom_waitq_init(struct dom_waitq *q)
{
	q->head = NULL;
	q->tail = &q->head;
	q->n = 0;
}

bool
dom_waitq_push(struct dom_waitq *q, domain_record *dr)
{
	if (dr->srv_waiting)
		return false;
	dr->srv_waiting = true;
	dr->srv_wnext = NULL;
	dr->srv_wprev = q->tail;
	*q->tail = dr;
	q->tail = &dr->srv_wnext;
	q->n++;
	return true;
}

void
dom_waitq_remove(struct dom_waitq *q, domain_record *dr)
{
	if (!dr->srv_waiting)
		return;
	*dr->srv_wprev = dr->srv_wnext;
	if (dr->srv_wnext)
		dr->srv_wnext->srv_wprev = dr->srv_wprev;
	else
		q->tail = dr->srv_wprev;
	dr->srv_wnext = NULL;
	dr->srv_wprev = NULL;
	dr->srv_waiting = false;
	q->n--;
}

domain_record *
dom_waitq_pop(struct dom_waitq *q)
{
	domain_record *dr = q->head;

	if (dr != NULL)
		dom_waitq_remove(q, dr);
	return dr;
}

static const char *const dom_goal_bound_names[] = {
    [DOM_GOAL_QUEUE] = "queue",   [DOM_GOAL_BLOCKED] = "blocked",
    [DOM_GOAL_DOMAIN] = "domain", [DOM_GOAL_BINDING] = "binding",
    [DOM_GOAL_SERVER] = "server", [DOM_GOAL_THROTTLE] = "throttle",
};
_Static_assert(nitems(dom_goal_bound_names) == DOM_GOAL__COUNT,
	       "dom_goal_bound_names");

const char *
dom_goal_bound_str(enum dom_goal_bound b)
{
	return (unsigned)b < DOM_GOAL__COUNT ? dom_goal_bound_names[b] : "?";
}

/* Room under limit max (0: none) with used taken; saturates at 0. */
static unsigned
dom_room(unsigned max, uint64_t used)
{
	if (max == 0)
		return UINT32_MAX;
	return used >= max ? 0 : (unsigned)(max - used);
}

static uint64_t
dom_div_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

/* Sessions the queue asks for beyond those open (see domain.h). */
static uint64_t
dom_goal_need(const struct dom_goal_in *in)
{
	uint64_t batch = DOM_GOAL_BATCH, have, par, need = 0;

	if (in->per_session > 0 && in->per_session < batch)
		batch = in->per_session;
	have = (uint64_t)in->waiting + in->busy;
	par = dom_div_up(in->queued, batch);
	if (par > have)
		need = par - have;
	if (in->per_session > 0 && in->queued > in->capacity)
		need = MAX(need, dom_div_up(in->queued - in->capacity,
					    in->per_session));
	return need;
}

/* Bound *want by room; remember the bound if it cut. */
static void
dom_goal_cut(uint64_t *want, unsigned room, enum dom_goal_bound b,
	     enum dom_goal_bound *bound)
{
	if (*want > room) {
		*want = room;
		*bound = b;
	}
}

unsigned
dom_conn_goal(const struct dom_goal_in *in, enum dom_goal_bound *bound_r)
{
	enum dom_goal_bound bound = DOM_GOAL_QUEUE, unused;
	uint64_t want;

	if (bound_r == NULL)
		bound_r = &unused;
	if (in->suspended || in->backoff || in->no_route || in->msg_throttled) {
		*bound_r = DOM_GOAL_BLOCKED;
		return 0;
	}
	want = in->queued ? dom_goal_need(in) : 0;
	dom_goal_cut(&want, dom_room(in->max_dom, in->nconn_dom),
		     DOM_GOAL_DOMAIN, &bound);
	dom_goal_cut(&want, dom_room(in->max_bind, in->nconn_bind),
		     DOM_GOAL_BINDING, &bound);
	dom_goal_cut(
	    &want,
	    dom_room(in->max_srv, (uint64_t)in->nconn_srv + in->reserved_srv),
	    DOM_GOAL_SERVER, &bound);
	dom_goal_cut(&want, in->throttle_ok, DOM_GOAL_THROTTLE, &bound);
	*bound_r = bound;
	return (unsigned)want;
}
