/* SPDX-License-Identifier: MIT */
/*
 * dns_cache.c: the answer cache and query coalescing, keyed by (name,
 * type), and the run loop that hands answers to waiting requests.
 *
 * A node is pending (its query is in flight: later lookups of the same
 * key wait on it instead of sending another query), done (answer in, not
 * yet handed out) or cached (in the LRU until its clamped TTL runs out).
 * Only cached nodes count towards cache_size and are evicted; pending ones
 * are bounded by the requests waiting on them.  Temporary failures are
 * never cached.  Answers reach requests only from dns_run(), never from
 * inside c-ares, except cache hits, which are handed out at lookup time.
 * Knows nothing of c-ares: queries leave through d->be.
 */
#include "dns.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "dns_int.h"
#include "log.h"
#include "ring.h"

static void dns_on_kick(struct timer *t);

static uint32_t
dns_hash(const char *name, enum dns_qtype t)
{
	uint32_t h = 2166136261u ^ (uint32_t)t;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

/* See dns_int.h. */
int
dns_opts_check(const struct dns_opts *o)
{
	if (o->timeout_ms == 0 || o->tries == 0 || o->tries > 100 ||
	    o->max_mx_hosts == 0 || o->max_addresses == 0 ||
	    o->min_ttl_ms > o->max_ttl_ms || o->family >= DNS_FAM__COUNT ||
	    o->max_cname > 64)
		return -EINVAL;
	return 0;
}

static uint64_t
dns_seed(void)
{
	uint64_t s = 0;
	struct timespec ts;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) == (ssize_t)sizeof(s))
		return s;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32);
}

struct dns *
dns_alloc(struct ring *r, const struct dns_opts *o,
	  const struct dns_backend *be, int *err_r)
{
	struct dns *d;
	int rc = dns_opts_check(o);

	if (rc < 0) {
		*err_r = rc;
		return NULL;
	}
	d = xcalloc(1, sizeof(*d));
	d->ring = r;
	d->o = *o;
	d->o.servers = NULL; /* borrowed: only dns_new() reads them */
	d->o.nservers = 0;
	d->be = be;
	d->rng = o->seed ? o->seed : dns_seed();
	d->hcap = 64;
	d->htab = xcalloc(d->hcap, sizeof(*d->htab));
	d->done_tail = &d->done_head;
	d->ready_tail = &d->ready_head;
	timer_init(&d->kick, dns_on_kick);
	*err_r = 0;
	return d;
}

int64_t
dns_now(const struct dns *d)
{
	return d->ring ? ring_now(d->ring) : d->fake_now;
}

const struct dns_stats *
dns_stats(const struct dns *d)
{
	return &d->st;
}

uint64_t
dns_answer_ttl_ms(const struct dns *d, const struct dns_answer *a)
{
	uint64_t ms;

	switch (a->st) {
	case DNS_A_OK:
		ms = (uint64_t)a->ttl * 1000;
		return MIN(MAX(ms, d->o.min_ttl_ms), d->o.max_ttl_ms);
	case DNS_A_NXDOMAIN:
	case DNS_A_NODATA:
		return d->o.negative_ttl_ms;
	case DNS_A_TEMP:
	case DNS_A_BADNAME:
	case DNS_A_CANCELLED:
	case DNS_A__COUNT:
		break;
	}
	return 0;
}

static struct dns_node *
dns_hash_find(struct dns *d, const char *name, enum dns_qtype t, uint32_t h)
{
	for (struct dns_node *n = d->htab[h & (d->hcap - 1)]; n; n = n->hnext)
		if (n->hash == h && n->type == t && !strcmp(n->name, name))
			return n;
	return NULL;
}

static void
dns_hash_grow(struct dns *d)
{
	size_t cap = d->hcap * 2;
	struct dns_node **t = xcalloc(cap, sizeof(*t));

	for (size_t i = 0; i < d->hcap; i++) {
		for (struct dns_node *n = d->htab[i], *next; n; n = next) {
			next = n->hnext;
			n->hnext = t[n->hash & (cap - 1)];
			t[n->hash & (cap - 1)] = n;
		}
	}
	free(d->htab);
	d->htab = t;
	d->hcap = cap;
}

static void
dns_hash_insert(struct dns *d, struct dns_node *n)
{
	if (d->hcount >= d->hcap)
		dns_hash_grow(d);
	n->hnext = d->htab[n->hash & (d->hcap - 1)];
	d->htab[n->hash & (d->hcap - 1)] = n;
	d->hcount++;
}

static void
dns_hash_remove(struct dns *d, struct dns_node *n)
{
	struct dns_node **pp = &d->htab[n->hash & (d->hcap - 1)];

	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
	n->hnext = NULL;
	d->hcount--;
}

static void
dns_lru_unlink(struct dns *d, struct dns_node *n)
{
	if (n->lru_prev)
		n->lru_prev->lru_next = n->lru_next;
	else
		d->lru_head = n->lru_next;
	if (n->lru_next)
		n->lru_next->lru_prev = n->lru_prev;
	else
		d->lru_tail = n->lru_prev;
	n->lru_prev = n->lru_next = NULL;
}

static void
dns_lru_push(struct dns *d, struct dns_node *n)
{
	n->lru_prev = NULL;
	n->lru_next = d->lru_head;
	if (d->lru_head)
		d->lru_head->lru_prev = n;
	else
		d->lru_tail = n;
	d->lru_head = n;
}

static void
dns_node_free(struct dns *d, struct dns_node *n)
{
	dns_hash_remove(d, n);
	dns_answer_fini(&n->ans);
	free(n);
}

static void
dns_evict(struct dns *d)
{
	while (d->st.entries > d->o.cache_size && d->lru_tail) {
		struct dns_node *n = d->lru_tail;

		dns_lru_unlink(d, n);
		d->st.entries--;
		d->st.evictions++;
		log_trace("dns: evict %s/%s", n->name, dns_qtype_str(n->type));
		dns_node_free(d, n);
	}
}

static void
dns_wait_link(struct dns_node *n, struct dns_wait *w)
{
	w->node = n;
	w->next = n->waiters;
	if (n->waiters)
		n->waiters->pprev = &w->next;
	w->pprev = &n->waiters;
	n->waiters = w;
}

void
dns_wait_unlink(struct dns_wait *w)
{
	if (w->node == NULL)
		return;
	*w->pprev = w->next;
	if (w->next)
		w->next->pprev = w->pprev;
	w->next = NULL;
	w->pprev = NULL;
	w->node = NULL;
}

static void
dns_send(struct dns *d, struct dns_node *n)
{
	d->st.queries++;
	d->st.inflight++;
	log_trace("dns: query %s/%s", n->name, dns_qtype_str(n->type));
	d->be->send(d, n);
}

void
dns_lookup(struct dns *d, const char *name, enum dns_qtype t,
	   struct dns_wait *w)
{
	uint32_t h = dns_hash(name, t);
	struct dns_node *n = dns_hash_find(d, name, t, h);

	d->st.lookups++;
	if (d->closing) {
		struct dns_answer a = {.st = DNS_A_CANCELLED};

		dns_req_on_answer(w->req, w->slot, &a);
		return;
	}
	if (n && n->state == DNS_N_CACHED && n->expires > dns_now(d)) {
		d->st.hits++;
		dns_lru_unlink(d, n);
		dns_lru_push(d, n);
		dns_req_on_answer(w->req, w->slot, &n->ans);
		return;
	}
	if (n && n->state != DNS_N_CACHED) {
		d->st.coalesced++;
		dns_wait_link(n, w);
		return;
	}
	d->st.misses++;
	if (n) { /* expired: the node goes back to pending */
		dns_lru_unlink(d, n);
		d->st.entries--;
		dns_answer_fini(&n->ans);
	} else {
		n = xcalloc(1, sizeof(*n));
		n->d = d;
		n->hash = h;
		n->type = t;
		memcpy(n->name, name, strlen(name) + 1);
		dns_hash_insert(d, n);
	}
	n->state = DNS_N_PENDING;
	dns_wait_link(n, w);
	dns_send(d, n);
}

void
dns_node_complete(struct dns *d, struct dns_node *n, struct dns_answer *ans)
{
	BUG_ON(n->state != DNS_N_PENDING);
	n->ans = *ans;
	memset(ans, 0, sizeof(*ans));
	n->state = DNS_N_DONE;
	n->done_next = NULL;
	*d->done_tail = n;
	d->done_tail = &n->done_next;
	d->st.inflight--;
	if (n->ans.st == DNS_A_TEMP)
		d->st.failures++;
	log_trace("dns: answer %s/%s: %s (%s) n=%u ttl=%u", n->name,
		  dns_qtype_str(n->type), dns_astatus_str(n->ans.st),
		  dns_reason_str(n->ans.reason), n->ans.n, n->ans.ttl);
	dns_kick(d);
}

/* Cache the node's answer (or unhash it) and hand it to its waiters. */
static void
dns_node_process(struct dns *d, struct dns_node *n)
{
	uint64_t ttl = dns_answer_ttl_ms(d, &n->ans);
	bool cache = d->o.cache_size > 0 && ttl > 0;
	struct dns_wait *w;

	if (cache) {
		n->state = DNS_N_CACHED;
		ttl = MIN(ttl, (uint64_t)365 * 86400 * 1000);
		n->expires = dns_now(d) + (int64_t)ttl * 1000000;
		dns_lru_push(d, n);
		d->st.entries++;
		dns_evict(d);
	} else {
		/* A later lookup must not find this node: it sends anew. */
		dns_hash_remove(d, n);
	}
	while ((w = n->waiters) != NULL) {
		dns_wait_unlink(w);
		dns_req_on_answer(w->req, w->slot, &n->ans);
	}
	if (!cache) {
		dns_answer_fini(&n->ans);
		free(n);
	}
}

void
dns_run(struct dns *d)
{
	if (d->running)
		return;
	d->running = true;
	for (;;) {
		struct dns_node *n = d->done_head;

		if (n) {
			d->done_head = n->done_next;
			if (d->done_head == NULL)
				d->done_tail = &d->done_head;
			n->done_next = NULL;
			dns_node_process(d, n);
			continue;
		}
		if (!dns_req_deliver_one(d))
			break;
	}
	d->running = false;
}

static void
dns_on_kick(struct timer *t)
{
	dns_run(container_of(t, struct dns, kick));
}

void
dns_kick(struct dns *d)
{
	if (d->ring && !d->running && !d->closing && !timer_armed(&d->kick))
		timer_arm(ring_timers(d->ring), &d->kick, ring_now(d->ring));
}

void
dns_cache_clear(struct dns *d)
{
	for (size_t i = 0; i < d->hcap; i++) {
		while (d->htab[i]) {
			struct dns_node *n = d->htab[i];

			BUG_ON(n->state == DNS_N_PENDING || n->waiters);
			if (n->state == DNS_N_CACHED) {
				dns_lru_unlink(d, n);
				d->st.entries--;
			}
			dns_node_free(d, n);
		}
	}
	free(d->htab);
	d->htab = NULL;
	d->hcap = 0;
}

void
dns_shutdown(struct dns *d)
{
	struct dns_answer a;

	BUG_ON(d->running);
	d->closing = true;
	if (d->be->stop)
		d->be->stop(d);
	/* Whatever the backend left in flight ends cancelled. */
	for (size_t i = 0; i < d->hcap; i++) {
		for (struct dns_node *n = d->htab[i]; n; n = n->hnext) {
			if (n->state != DNS_N_PENDING)
				continue;
			memset(&a, 0, sizeof(a));
			a.st = DNS_A_CANCELLED;
			dns_node_complete(d, n, &a);
		}
	}
	dns_run(d);
	BUG_ON(d->reqs != NULL || d->done_head != NULL);
	if (d->ring)
		timer_cancel(ring_timers(d->ring), &d->kick);
	dns_cache_clear(d);
}

/* See dns_int.h. */
bool
dns_cache_set_opts(struct dns *d, const struct dns_opts *o)
{
	struct dns_opts *c = &d->o;
	unsigned inflight =
	    o->max_inflight ? o->max_inflight : DNS_MAX_INFLIGHT_DEFAULT;

	if (c->cache_size == o->cache_size && c->min_ttl_ms == o->min_ttl_ms &&
	    c->max_ttl_ms == o->max_ttl_ms &&
	    c->negative_ttl_ms == o->negative_ttl_ms &&
	    c->max_mx_hosts == o->max_mx_hosts &&
	    c->max_addresses == o->max_addresses &&
	    c->max_cname == o->max_cname && c->family == o->family &&
	    c->max_inflight == inflight)
		return false;
	c->cache_size = o->cache_size;
	c->min_ttl_ms = o->min_ttl_ms;
	c->max_ttl_ms = o->max_ttl_ms;
	c->negative_ttl_ms = o->negative_ttl_ms;
	c->max_mx_hosts = o->max_mx_hosts;
	c->max_addresses = o->max_addresses;
	c->max_cname = o->max_cname;
	c->family = o->family;
	c->max_inflight = inflight;
	dns_evict(d);
	return true;
}

/* See dns_int.h. */
struct dns_node *
dns_node_pending(struct dns *d, const char *name, enum dns_qtype t)
{
	struct dns_node *n;

	if (d->htab == NULL)
		return NULL;
	n = dns_hash_find(d, name, t, dns_hash(name, t));
	return n != NULL && n->state == DNS_N_PENDING ? n : NULL;
}
