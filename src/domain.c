/* SPDX-License-Identifier: MIT */
/*
 * domain.c: the domain table (chained hash, grows by doubling) and the
 * active/delayed queues of delivery units.  No I/O and no policy.
 */
#include "domain.h"

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

void
dom_table_init(struct dom_table *t)
{
	t->nbuckets = 64;
	t->buckets = xcalloc(t->nbuckets, sizeof(*t->buckets));
	t->count = 0;
	t->units = 0;
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
			dom_queue_free(&dr->active);
			dom_queue_free(&dr->delayed);
			free(dr);
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = t->count = 0;
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
	dr->active.tail = &dr->active.head;
	dr->delayed.tail = &dr->delayed.head;
	k = dom_hash(name) & (t->nbuckets - 1);
	dr->hnext = t->buckets[k];
	t->buckets[k] = dr;
	t->count++;
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

void
dom_active_push(struct dom_table *t, domain_record *dr, struct dom_unit *u)
{
	u->dr = dr;
	u->next = NULL;
	*dr->active.tail = u;
	dr->active.tail = &u->next;
	dr->active.count++;
	t->units++;
}

struct dom_unit *
dom_active_pop(struct dom_table *t, domain_record *dr)
{
	struct dom_unit *u = dr->active.head;

	if (u == NULL)
		return NULL;
	dr->active.head = u->next;
	if (dr->active.head == NULL)
		dr->active.tail = &dr->active.head;
	dr->active.count--;
	t->units--;
	u->next = NULL;
	return u;
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
}

unsigned
dom_promote_due(domain_record *dr, int64_t now_ms)
{
	unsigned n = 0;

	while (dr->delayed.head && dr->delayed.head->due_ms <= now_ms) {
		struct dom_unit *u = dr->delayed.head;

		dr->delayed.head = u->next;
		if (dr->delayed.head == NULL)
			dr->delayed.tail = &dr->delayed.head;
		dr->delayed.count--;
		u->next = NULL;
		*dr->active.tail = u;
		dr->active.tail = &u->next;
		dr->active.count++;
		n++;
	}
	return n;
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
