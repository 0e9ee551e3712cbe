/* SPDX-License-Identifier: MIT */
/*
 * binding.h: the binding table (source address + EHLO identity), by slot.
 *
 * Built once from the configuration's [binding NAME] sections at start:
 * slot i is the i-th binding in name order, so a slot number (the seed's
 * `int binding`) is stable for the process's life.  A binding with a
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

#define BND_REASON_MAX 128

struct binding {
	const char *name;  /* owned by the table */
	const char *ehlo;  /* NULL: the server's hostname */
	const char *group; /* NULL: none */
	int slot;
	struct value_sockaddr *addr; /* source addresses (port 0) */
	size_t naddr;
	unsigned next_addr; /* round robin among addresses */
	bool suspended;
	char reason[BND_REASON_MAX]; /* why suspended */
	unsigned nconn;              /* open connections from it */
	uint64_t connections, deliveries, failures;
};

struct bnd_table {
	struct binding *v;
	size_t n;
	unsigned rr; /* group round robin */
	void **owned;
	size_t nowned;
};

/* Build t from cfg's bindings (cfg is only read).  Never fails. */
void bnd_table_init(struct bnd_table *t, const struct config *cfg);
void bnd_table_fini(struct bnd_table *t);
/* The slot of the binding called name, or -ENOENT. */
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
/* Lift a suspension (admin, reload). */
void bnd_resume(struct binding *b);

#endif
