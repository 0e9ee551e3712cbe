/* SPDX-License-Identifier: MIT */
/*
 * daemon.h: ringmta's subsystems, started and stopped in order.
 *
 * Owns the spool, the delivery log writer, the binding and domain tables,
 * the routing context (delivery.h: resolver, maintainer, sessions) and the
 * injection listener.  The spool's live messages (at start) and every newly
 * accepted message are handed to dlv_queue_msg(), which splits them by
 * recipient domain into delivery units and pokes the domains' maintainers.
 * main.c owns the ring, the configuration and the signals; this module
 * owns no policy.
 *
 * Order: start = spool (replay) -> delivery log -> bindings, domains,
 * routing (queue the replayed spool) -> listener; stop = listener (no new
 * mail, sessions ended) -> routing (outbound sessions cancelled and ended)
 * -> spool (pending commits written or failed) -> delivery log -> domains,
 * bindings.  The listener's memory outlives the spool's last commit
 * callback.
 */
#ifndef RINGMTA_DAEMON_H
#define RINGMTA_DAEMON_H

#include <stdio.h>

#include "config.h"
#include "domain.h"
#include "ring.h"

struct daemon;

/* Start everything for cfg on r; returns 0 with *d_r or -errno (logged). */
int daemon_start(struct ring *r, const struct config *cfg,
		 struct daemon **d_r) ATTR_WUR;
/*
 * The configuration was reloaded: use cfg (kept by pointer).  Call it
 * before freeing the old one: bindings are diffed against the running
 * table (changed ones updated, added ones given the next slots, the
 * tables growing as needed, removed ones retired and their queued units
 * moved, see binding_move.h) and new [dns] servers, timeout or tries get a
 * fresh resolver channel (queries in flight finish on the old one); the
 * DNS cache limits apply at once.  See docs/CONFIG.md "Reload".
 */
void daemon_reconfigure(struct daemon *d, const struct config *cfg);
/* The domain table (for tests and tools). */
struct dom_table *daemon_domains(struct daemon *d);
/* Stop and free everything; runs ring turns itself.  NULL is fine. */
void daemon_stop(struct daemon *d);
/*
 * ringmta --list-queue: replay the spool of cfg (the daemon must not be
 * running: the spool lock says so) and print one line per live message:
 * "ID SENDER RECIPIENTS LIVE".  Returns 0 or -errno (logged).
 */
int daemon_list_queue(struct ring *r, const struct config *cfg,
		      FILE *out) ATTR_WUR;

#endif
