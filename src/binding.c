/* SPDX-License-Identifier: MIT */
/*
 * binding.c: the binding table: slots, groups, source addresses,
 * suspension.  Owns copies of every name so the table outlives a reload.
 */
#include "binding.h"

#include <errno.h>
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

void
bnd_table_init(struct bnd_table *t, const struct config *cfg)
{
	const struct config_binding *cb = NULL;
	size_t n = 0;

	memset(t, 0, sizeof(*t));
	while ((cb = config_binding_next(cfg, cb)) != NULL)
		n++;
	t->v = xcalloc(n ? n : 1, sizeof(*t->v));
	cb = NULL;
	while ((cb = config_binding_next(cfg, cb)) != NULL) {
		struct binding *b = &t->v[t->n];

		b->slot = (int)t->n++;
		b->name = bnd_own(t, cb->name);
		b->ehlo = bnd_own(t, cb->ehlo);
		b->group = bnd_own(t, cb->group);
		b->naddr = cb->address.n;
		b->addr = xcalloc(b->naddr ? b->naddr : 1, sizeof(*b->addr));
		if (b->naddr)
			memcpy(b->addr, cb->address.v,
			       b->naddr * sizeof(*b->addr));
	}
}

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

int
bnd_find(const struct bnd_table *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
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
		    !m->suspended) {
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

void
bnd_resume(struct binding *b)
{
	if (b->suspended)
		log_info("binding %s resumed", b->name);
	b->suspended = false;
	b->reason[0] = '\0';
}
