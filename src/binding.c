/* SPDX-License-Identifier: MIT */
/*
 * binding.c: the binding table: slots, groups, source addresses,
 * suspension, and the diff a reload applies.  Owns copies of every name
 * (old values too, until fini) so borrowed strings outlive a reload.  Does
 * no I/O and never moves queued units.
 */
#include "binding.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *
bnd_own(struct bnd_table *t, const char *s)
{
	char *p;

	if (s == NULL)
		return NULL;
	p = xstrdup(s);
	t->owned = xreallocarray(t->owned, t->nowned + 1, sizeof(*t->owned));
	t->owned[t->nowned++] = p;
	return p;
}

static const char *const bnd_change_names[] = {
    [BND_SAME] = "same",
    [BND_CHANGED] = "changed",
    [BND_ADDED] = "added",
    [BND_REMOVED] = "removed",
};
_Static_assert(nitems(bnd_change_names) == BND_CHANGE__COUNT,
	       "bnd_change_names must name every enum bnd_change");

/* See binding.h. */
const char *
bnd_change_str(enum bnd_change c)
{
	if ((unsigned)c >= BND_CHANGE__COUNT)
		return "?";
	return bnd_change_names[c];
}

/* Give b cb's settings (the slot and name are b's own). */
static void
bnd_set(struct bnd_table *t, struct binding *b, const struct config_binding *cb)
{
	b->ehlo = bnd_own(t, cb->ehlo);
	b->group = bnd_own(t, cb->group);
	free(b->addr);
	b->naddr = cb->address.n;
	b->next_addr = 0;
	b->addr = xcalloc(b->naddr ? b->naddr : 1, sizeof(*b->addr));
	if (b->naddr)
		memcpy(b->addr, cb->address.v, b->naddr * sizeof(*b->addr));
}

/* Make room for at least need slots: cap doubles (at least), the new
 * slots are zeroed.  v moves; the strings it points to do not. */
static void
bnd_reserve(struct bnd_table *t, size_t need)
{
	size_t cap = t->cap ? t->cap : 1;

	if (need <= t->cap)
		return;
	while (cap < need)
		cap *= 2;
	t->v = xreallocarray(t->v, cap, sizeof(*t->v));
	memset(&t->v[t->cap], 0, (cap - t->cap) * sizeof(*t->v));
	t->cap = cap;
}

/* Add cb in the next free slot; the caller made room (bnd_reserve). */
static void
bnd_add(struct bnd_table *t, const struct config_binding *cb)
{
	struct binding *b = &t->v[t->n];

	BUG_ON(t->n >= t->cap);
	memset(b, 0, sizeof(*b));
	b->slot = (int)t->n++;
	b->name = bnd_own(t, cb->name);
	bnd_set(t, b, cb);
}

/* See binding.h. */
void
bnd_table_init(struct bnd_table *t, const struct config *cfg)
{
	const struct config_binding *cb = NULL;
	size_t n = 0;

	memset(t, 0, sizeof(*t));
	while ((cb = config_binding_next(cfg, cb)) != NULL)
		n++;
	t->cap = n + BND_SPARE_SLOTS;
	t->v = xcalloc(t->cap, sizeof(*t->v));
	cb = NULL;
	while ((cb = config_binding_next(cfg, cb)) != NULL)
		bnd_add(t, cb);
}

/* See binding.h. */
void
bnd_table_fini(struct bnd_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].addr);
	for (size_t i = 0; i < t->nowned; i++)
		free(t->owned[i]);
	free(t->owned);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

/* The slot of name, retired or not, or -ENOENT. */
static int
bnd_slot_of(const struct bnd_table *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

static bool
bnd_str_eq(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool
bnd_same(const struct binding *b, const struct config_binding *cb)
{
	if (!bnd_str_eq(b->ehlo, cb->ehlo) ||
	    !bnd_str_eq(b->group, cb->group) || b->naddr != cb->address.n)
		return false;
	for (size_t i = 0; i < b->naddr; i++) {
		const struct value_sockaddr *x = &b->addr[i];
		const struct value_sockaddr *y = &cb->address.v[i];

		if (x->len != y->len || memcmp(&x->ss, &y->ss, x->len) != 0)
			return false;
	}
	return true;
}

static void
bnd_diff_add(struct bnd_diff *d, const char *name, enum bnd_change what,
	     int slot)
{
	d->v = xreallocarray(d->v, d->n + 1, sizeof(*d->v));
	d->v[d->n++] = (struct bnd_diff_ent){name, what, slot};
	d->count[what]++;
}

/* See binding.h. */
void
bnd_diff(const struct bnd_table *t, const struct config *cfg,
	 struct bnd_diff *d)
{
	const struct config_binding *cb = NULL;
	size_t next = t->n;

	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < t->n; i++) {
		const struct binding *b = &t->v[i];
		enum bnd_change what;

		cb = config_binding(cfg, b->name);
		if (cb == NULL)
			what = b->retired ? BND_SAME : BND_REMOVED;
		else if (b->retired || !bnd_same(b, cb))
			what = BND_CHANGED; /* a retired one comes back */
		else
			what = BND_SAME;
		bnd_diff_add(d, b->name, what, b->slot);
	}
	cb = NULL;
	while ((cb = config_binding_next(cfg, cb)) != NULL)
		if (bnd_slot_of(t, cb->name) < 0)
			bnd_diff_add(d, cb->name, BND_ADDED, (int)next++);
}

/* See binding.h. */
void
bnd_diff_fini(struct bnd_diff *d)
{
	free(d->v);
	memset(d, 0, sizeof(*d));
}

static void
bnd_reload_one(struct bnd_table *t, const struct config *cfg,
	       const struct bnd_diff_ent *e)
{
	const struct config_binding *cb = config_binding(cfg, e->name);
	struct binding *b;

	switch (e->what) {
	case BND_CHANGED:
		b = &t->v[e->slot];
		bnd_set(t, b, cb);
		log_info("reload: binding %s %s (ehlo %s, %zu source "
			 "addresses)",
			 b->name, b->retired ? "configured again" : "changed",
			 b->ehlo ? b->ehlo : "-", b->naddr);
		b->retired = false;
		if (b->suspended)
			(void)bnd_resume(b);
		break;
	case BND_ADDED:
		BUG_ON((size_t)e->slot != t->n);
		bnd_add(t, cb);
		log_info("reload: binding %s added (slot %d)", e->name,
			 e->slot);
		break;
	case BND_REMOVED:
		b = &t->v[e->slot];
		b->retired = true;
		b->suspended = true;
		snprintf(b->reason, sizeof(b->reason), "%s",
			 "removed from the configuration");
		log_warn("reload: binding %s removed: no new message or "
			 "session uses it; its queued units move to the "
			 "binding chosen for them now",
			 e->name);
		break;
	default:
		break;
	}
}

/* See binding.h. */
void
bnd_table_reload(struct bnd_table *t, const struct config *cfg,
		 struct bnd_diff *d_r)
{
	struct bnd_diff d;

	bnd_diff(t, cfg, &d);
	if (d.count[BND_ADDED] > t->cap - t->n) {
		size_t old = t->cap;

		bnd_reserve(t, t->n + d.count[BND_ADDED]);
		log_info("reload: binding table grown from %zu to %zu slots",
			 old, t->cap);
	}
	for (size_t i = 0; i < d.n; i++)
		bnd_reload_one(t, cfg, &d.v[i]);
	if (d_r != NULL)
		*d_r = d;
	else
		bnd_diff_fini(&d);
}

/* See binding.h. */
int
bnd_find(const struct bnd_table *t, const char *name)
{
	int slot = bnd_slot_of(t, name);

	return slot >= 0 && t->v[slot].retired ? -ENOENT : slot;
}

struct binding *
bnd_get(const struct bnd_table *t, int slot)
{
	if (slot < 0 || (size_t)slot >= t->n)
		return NULL;
	return &t->v[slot];
}

int
bnd_choose(struct bnd_table *t, const char *name, const char *listener_default)
{
	int slot = -ENOENT;
	const struct binding *b;

	if (name && name[0])
		slot = bnd_find(t, name);
	if (slot < 0 && listener_default && listener_default[0])
		slot = bnd_find(t, listener_default);
	if (slot < 0)
		slot = bnd_find(t, "default");
	if (slot < 0)
		slot = 0; /* config always has "default"; tables in tests */
	b = &t->v[slot];
	if (b->group == NULL)
		return slot;
	/* Spread over the group's members, skipping suspended ones. */
	for (size_t k = 0; k < t->n; k++) {
		const struct binding *m = &t->v[(t->rr + k) % t->n];

		if (m->group && strcmp(m->group, b->group) == 0 &&
		    !m->suspended && !m->retired) {
			t->rr = (unsigned)((t->rr + k + 1) % t->n);
			return m->slot;
		}
	}
	return slot;
}

int
bnd_source(struct binding *b, int fam, struct sockaddr_storage *ss,
	   socklen_t *len)
{
	*len = 0;
	for (size_t k = 0; k < b->naddr; k++) {
		const struct value_sockaddr *a =
		    &b->addr[(b->next_addr + k) % b->naddr];

		if (a->ss.ss_family != fam)
			continue;
		b->next_addr = (unsigned)((b->next_addr + k + 1) % b->naddr);
		memcpy(ss, &a->ss, a->len);
		*len = a->len;
		return 1;
	}
	return 0;
}

bool
bnd_suspend(struct binding *b, const char *reason)
{
	if (b->suspended)
		return false;
	b->suspended = true;
	snprintf(b->reason, sizeof(b->reason), "%s", reason);
	log_err("binding %s suspended: %s", b->name, reason);
	return true;
}

int
bnd_resume(struct binding *b)
{
	if (b->retired) {
		log_warn("binding %s not resumed: it was removed from the "
			 "configuration (a reload that names it again brings "
			 "it back)",
			 b->name);
		return -EPERM;
	}
	if (b->suspended)
		log_info("binding %s resumed", b->name);
	b->suspended = false;
	b->reason[0] = '\0';
	return 0;
}
