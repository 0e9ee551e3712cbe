/* SPDX-License-Identifier: MIT */
/*
 * binding_move.h: the units of bindings a reload removed (retired, see
 * binding.h) move to the binding chosen for them now.
 *
 * A reload moves every unit queued on a retired binding, active or
 * delayed, in every domain, to what bnd_choose() gives for the retired
 * name now (the listener's binding, else "default", spread over its
 * group).  A session of the retired binding that is still open gives the
 * units it did not finish back to its own slot, so the move is repeated
 * once a second while any retired binding has sessions, and once more after
 * the last one closed.  Moves never touch the spool: a unit names its
 * binding only by slot.
 */
#ifndef RINGMTA_BINDING_MOVE_H
#define RINGMTA_BINDING_MOVE_H

#include <stdbool.h>
#include <stdint.h>

#include "binding.h"
#include "domain.h"
#include "timer.h"

struct ring;

typedef void bnd_poke_fn(domain_record *dr);

/*
 * Move the units of every retired binding of t queued in doms (active and
 * delayed) to bnd_choose(t, retired name, listener_default).  poke(dr)
 * (may be NULL) runs once for every domain that got active units.  Returns
 * the number of units moved.
 */
unsigned bnd_move_retired(struct bnd_table *t, struct dom_table *doms,
			  const char *listener_default, bnd_poke_fn *poke);
/* True while a retired binding still has sessions open. */
bool bnd_retired_busy(const struct bnd_table *t);

/* The repeated move after a reload (owned by the daemon). */
struct bnd_mover {
	struct ring *ring;
	struct bnd_table *t;
	struct dom_table *doms;
	bnd_poke_fn *poke;
	char *listener_default; /* owned copy, NULL: none */
	struct timer tm;
	uint64_t moved; /* units moved since init */
};

/* Borrowed: r, t, doms until bnd_mover_fini().  No move happens yet. */
void bnd_mover_init(struct bnd_mover *m, struct ring *r, struct bnd_table *t,
		    struct dom_table *doms, bnd_poke_fn *poke);
/*
 * After a reload (bnd_table_reload): move now, and again every second
 * while bnd_retired_busy().  listener_default (may be NULL) is copied.
 */
void bnd_mover_run(struct bnd_mover *m, const char *listener_default);
/* Stop the timer and free the copy; safe on a zeroed mover. */
void bnd_mover_fini(struct bnd_mover *m);

#endif
