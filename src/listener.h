/* SPDX-License-Identifier: MIT */
/*
 * listener.h: ringmta's injection listener (durable intake).
 *
 * Owns the ESMTP sessions of trusted injectors (an smtps_server with the
 * [listener] settings) and their spool transactions.  Policy at intake:
 * relay control (only clients inside relay_networks may name recipients;
 * anyone else gets 554 5.7.1 for every address form), refusal of
 * relay-hostile address forms, recipient domain validation, line-ending
 * anomalies (reject with 550 5.6.0, or repaired in normalize mode), and
 * the headers it adds (Received:, and Message-ID:/Date: when missing; an
 * X-Binding: header selects the binding and is removed).
 *
 * The acknowledgement rule: "250" to the end of data only from the spool's
 * commit callback with 0, i.e. after the fdatasync covering the message;
 * -ENOSPC gives 452 4.3.1, any other error 451 4.3.0, never 250.  While the
 * spool is unhealthy new sessions are greeted with 421.  From an accepted
 * MAIL to the end of its transaction a session holds a spool commit hint
 * (spool_hint_begin/_end), so the group commit can wait for it.
 *
 * Lifetime: listener_new() .. listener_stop() .. (ring turns until
 * listener_idle()) .. listener_free().  A session's state is freed in the
 * engine's on_close; an open spool transaction is aborted there (the spool
 * owns what its I/O still references).
 */
#ifndef RINGMTA_LISTENER_H
#define RINGMTA_LISTENER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "dlogw.h"
#include "ring.h"
#include "spool.h"

struct listener;

/* A message was accepted (durable): id is the spool's. */
typedef void listener_accepted_fn(void *arg, const uint8_t id[SPOOL_ID_LEN]);

struct listener_stats {
	uint64_t sessions;
	uint64_t messages; /* acknowledged with 250 */
	uint64_t refused;  /* 4xx/5xx at end of data */
	uint64_t relay_denied;
	uint64_t spool_errors;
	uint64_t pauses;          /* sessions paused for a busy spool */
	uint64_t undeclared_8bit; /* 8-bit data without BODY=8BITMIME */
};

/*
 * Create the listener for cfg (kept by pointer: it must outlive the
 * listener or be replaced with listener_set_config) writing to sp and
 * logging "received" events to dl (may be NULL).  Listens on every
 * [listener] address; the bound addresses are logged.  Returns 0 with
 * *l_r, or -errno (an address that cannot be bound).
 */
int listener_new(struct ring *r, const struct config *cfg, struct spool *sp,
		 struct dlogw *dl, listener_accepted_fn *cb, void *arg,
		 struct listener **l_r) ATTR_WUR;
/* The bound "ADDR:PORT" of listening socket i, NULL past the last. */
const char *listener_bound(const struct listener *l, unsigned i);
/* New sessions use cfg from now on (SIGHUP). */
void listener_set_config(struct listener *l, const struct config *cfg);
const struct listener_stats *listener_stats(const struct listener *l);
/* Stop listening and end every session (in-flight commits still finish
 * in the spool; their sessions are gone). */
void listener_stop(struct listener *l);
bool listener_idle(const struct listener *l);
void listener_free(struct listener *l);

#endif
