/* SPDX-License-Identifier: MIT */
/*
 * binding_move.c: moving the queued units of retired bindings (see
 * binding_move.h).  Touches only the domain queues and the units' slots;
 * no I/O, no spool, no policy beyond bnd_choose().
 */
#include "binding_move.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ring.h"

#define BND_MOVE_EVERY_NS 1000000000LL /* while retired sessions remain */

struct bnd_move_ctx {
	struct bnd_table *t;
	struct dom_table *doms;
	const char *listener_default;
	bnd_poke_fn *poke;
	unsigned moved;
};

/* The slot a unit of retired slot `from` goes to, within dr's slots. */
static int
bnd_move_target(struct bnd_move_ctx *x, const domain_record *dr, int from)
{
	int to = bnd_choose(x->t, x->t->v[from].name, x->listener_default);

	return to >= 0 && (unsigned)to < dr->nbind ? to : 0;
}

static bool
bnd_slot_retired(const struct bnd_table *t, int slot)
{
	return slot >= 0 && (size_t)slot < t->n && t->v[slot].retired;
}

static void
bnd_move_domain(domain_record *dr, void *arg)
{
	struct bnd_move_ctx *x = arg;
	struct dom_unit *u;
	unsigned active = 0;

	for (unsigned s = 0; s < dr->nbind && s < x->t->n; s++) {
		if (!x->t->v[s].retired)
			continue;
		while ((u = dom_active_pop(x->doms, dr, (int)s)) != NULL) {
			u->bslot = bnd_move_target(x, dr, (int)s);
			dom_active_push(x->doms, dr, u);
			active++;
		}
	}
	/* Delayed units keep their place (the order is by due time). */
	for (u = dr->delayed.head; u != NULL; u = u->next) {
		if (!bnd_slot_retired(x->t, u->bslot))
			continue;
		u->bslot = bnd_move_target(x, dr, u->bslot);
		x->moved++;
	}
	x->moved += active;
	if (active > 0 && x->poke != NULL)
		x->poke(dr);
}

/* See binding_move.h. */
unsigned
bnd_move_retired(struct bnd_table *t, struct dom_table *doms,
		 const char *listener_default, bnd_poke_fn *poke)
{
	struct bnd_move_ctx x = {t, doms, listener_default, poke, 0};
	bool any = false;

	for (size_t i = 0; i < t->n && !any; i++)
		any = t->v[i].retired;
	if (any)
		dom_foreach(doms, bnd_move_domain, &x);
	return x.moved;
}

/* See binding_move.h. */
bool
bnd_retired_busy(const struct bnd_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].retired && t->v[i].nconn > 0)
			return true;
	return false;
}

static void
bnd_mover_sweep(struct bnd_mover *m)
{
	unsigned n =
	    bnd_move_retired(m->t, m->doms, m->listener_default, m->poke);

	m->moved += n;
	if (n > 0)
		log_info("reload: %u queued units moved off removed bindings",
			 n);
	if (bnd_retired_busy(m->t))
		timer_arm(ring_timers(m->ring), &m->tm,
			  ring_now_update(m->ring) + BND_MOVE_EVERY_NS);
}

static void
bnd_mover_on_timer(struct timer *tm)
{
	bnd_mover_sweep(container_of(tm, struct bnd_mover, tm));
}

/* See binding_move.h. */
void
bnd_mover_init(struct bnd_mover *m, struct ring *r, struct bnd_table *t,
	       struct dom_table *doms, bnd_poke_fn *poke)
{
	memset(m, 0, sizeof(*m));
	m->ring = r;
	m->t = t;
	m->doms = doms;
	m->poke = poke;
	timer_init(&m->tm, bnd_mover_on_timer);
}

/* See binding_move.h. */
void
bnd_mover_run(struct bnd_mover *m, const char *listener_default)
{
	free(m->listener_default);
	m->listener_default =
	    listener_default != NULL ? xstrdup(listener_default) : NULL;
	if (timer_armed(&m->tm))
		timer_cancel(ring_timers(m->ring), &m->tm);
	bnd_mover_sweep(m);
}

/* See binding_move.h. */
void
bnd_mover_fini(struct bnd_mover *m)
{
	if (m->ring != NULL && timer_armed(&m->tm))
		timer_cancel(ring_timers(m->ring), &m->tm);
	free(m->listener_default);
	m->listener_default = NULL;
}
