/* SPDX-License-Identifier: MIT */
/*
 * binding.h: the binding table (source address + EHLO identity), by slot.
 *
 * Built from the configuration's [binding NAME] sections at start: slot i
 * is the i-th binding in name order, so a slot number (the seed's `int
 * binding`) is stable for the process's life.  A reload (bnd_table_reload)
 * updates changed bindings in place and gives added ones the next slots,
 * growing the table when it is full (any number of additions); a binding
 * removed from the file is retired: it keeps its slot (open sessions
 * finish) but is chosen for nothing new, is never resumed, and
 * binding_move.h moves its queued units (docs/CONFIG.md, "Reload").
 * Growing moves the array (v): hold slots, not struct binding pointers,
 * across loop turns; strings stay put.  A binding with a
 * `group` belongs to that group; a message bound to a grouped binding may
 * leave from any non-suspended member (bnd_choose spreads them round
 * robin).  A binding whose source address is not on the host
 * (EADDRNOTAVAIL) is suspended and reported once (bnd_suspend), never
 * retried in a loop.  No I/O, no policy beyond that.
 */
#ifndef RINGMTA_BINDING_H
#define RINGMTA_BINDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "compat.h"
#include "config.h"

#define BND_REASON_MAX  128
/* Slots allocated beyond the configured ones at start, so the first
 * additions by a reload need no growth (every domain record carries a
 * queue per slot of cap, 32 bytes each). */
#define BND_SPARE_SLOTS 4

struct binding {
	const char *name;  /* owned by the table */
	const char *ehlo;  /* NULL: the server's hostname */
	const char *group; /* NULL: none */
	int slot;
	struct value_sockaddr *addr; /* source addresses (port 0) */
	size_t naddr;
	unsigned next_addr; /* round robin among addresses */
	bool suspended;
	bool retired; /* removed by a reload: found and chosen for nothing,
		       * suspended; its slot stays for sessions still open */
	char reason[BND_REASON_MAX]; /* why suspended */
	unsigned nconn;              /* open connections from it */
	uint64_t connections, deliveries, failures;
};

struct bnd_table {
	struct binding *v; /* [cap]: grows (moves) on a reload, see above */
	size_t n;          /* slots in use */
	size_t cap;        /* allocated: n at start + BND_SPARE_SLOTS, then
			    * doubled when a reload needs more */
	unsigned rr;       /* group round robin */
	void **owned;
	size_t nowned;
};

/* Build t from cfg's bindings (cfg is only read), with BND_SPARE_SLOTS
 * free slots for a reload.  Never fails. */
void bnd_table_init(struct bnd_table *t, const struct config *cfg);
void bnd_table_fini(struct bnd_table *t);

/* What a reload does to one binding. */
enum bnd_change {
	BND_SAME = 0,     /* identical: nothing to do */
	BND_CHANGED,      /* EHLO name, group or addresses updated in place */
	BND_ADDED,        /* new: takes the next slot (the table grows) */
	BND_REMOVED,      /* gone from the file: retired (units moved away) */
	BND_CHANGE__COUNT /* must stay last */
};
/* "same", "changed", "added", "removed"; "?" outside. */
const char *bnd_change_str(enum bnd_change c);

struct bnd_diff_ent {
	const char *name; /* borrowed from the table or the config */
	enum bnd_change what;
	int slot; /* the binding's slot (an added one's future slot) */
};

struct bnd_diff {
	struct bnd_diff_ent *v; /* table slots first, then the added */
	size_t n;
	unsigned count[BND_CHANGE__COUNT];
};

/* What applying cfg to t would do, one entry per binding of either
 * (t and cfg are only read).  Free with bnd_diff_fini(). */
void bnd_diff(const struct bnd_table *t, const struct config *cfg,
	      struct bnd_diff *d);
void bnd_diff_fini(struct bnd_diff *d);
/*
 * Apply cfg (SIGHUP): changed bindings get their new EHLO name, group and
 * addresses (counters stay; a suspension is lifted so the new settings get
 * a fresh try), added ones take the next slots, removed ones are retired
 * (a retired binding named again comes back as changed, in its slot).
 * When the added ones do not fit in cap, v is reallocated to at least
 * twice cap first: the caller then gives the domain table and every other
 * per-slot array the new cap (daemon.c).  Moving the retired ones' units
 * is the caller's (bnd_move_retired).  Names in *d may point into cfg.
 * Strings of the old values stay allocated until bnd_table_fini(), so a
 * session that borrowed one is safe.  Logs one line per binding that is
 * not BND_SAME.  Fills *d (may be NULL) with the diff that was applied.
 */
void bnd_table_reload(struct bnd_table *t, const struct config *cfg,
		      struct bnd_diff *d);
/* The slot of the binding called name, or -ENOENT (also when retired). */
int bnd_find(const struct bnd_table *t, const char *name);
/* The binding in slot, or NULL when slot is out of range. */
struct binding *bnd_get(const struct bnd_table *t, int slot);
/*
 * The slot a message leaves from: name (its X-Binding / listener binding;
 * NULL or "": listener_default, else "default"); unknown names fall back
 * to "default".  When that binding belongs to a group, the next
 * non-suspended member of the group in round-robin order.  Returns a slot.
 */
int bnd_choose(struct bnd_table *t, const char *name,
	       const char *listener_default);
/*
 * A source address of b for a destination of family fam (AF_INET or
 * AF_INET6), round robin; copies it into *ss / *len.  Returns 1, or 0 when
 * b has no address of that family (let the kernel choose: *len = 0).
 */
int bnd_source(struct binding *b, int fam, struct sockaddr_storage *ss,
	       socklen_t *len);
/*
 * Suspend b with reason (logged once, at the first suspension); returns
 * true if it was not suspended before.
 */
bool bnd_suspend(struct binding *b, const char *reason);
/*
 * Lift a suspension (admin, reload).  A retired binding stays retired and
 * suspended: returns -EPERM and logs why (a reload that names it again
 * clears retired first).  Returns 0 otherwise.
 */
int bnd_resume(struct binding *b);

#endif
