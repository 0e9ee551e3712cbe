/* SPDX-License-Identifier: MIT */
/*
 * domain.h: domain records and their queues of delivery units.
 *
 * A delivery unit is the set of recipients of one spooled message that
 * share one destination domain (and so one binding, the message's).  Units
 * wait on their domain's active queue (due now, FIFO) or delayed queue (a
 * retry time).  A domain record is interned by normalised name in a table
 * and lives as long as the table.  The spool owns the messages; a unit
 * names its message by id and its recipients by index, so a unit never
 * holds addresses or bodies.  The routing layer (maintainer, connections)
 * takes units off the active queue and gives them back with their outcome.
 *
 * Ownership: units are allocated here (dom_unit_new) and owned by
 * whichever queue holds them, or by the caller between dom_*_pop and the
 * next dom_*_push / dom_unit_free.
 */
#ifndef RINGMTA_DOMAIN_H
#define RINGMTA_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compat.h"

#define DOM_NAME_MAX 253
#define DOM_ID_LEN   16 /* SPOOL_ID_LEN */

typedef struct domain_record domain_record;

struct dom_unit {
	struct dom_unit *next;
	domain_record *dr;
	int64_t due_ms; /* wall clock ms: when it may be tried (delayed) */
	uint8_t id[DOM_ID_LEN];
	uint32_t attempts;
	uint32_t nrcpt;
	uint32_t rcpt[]; /* recipient indexes in the spooled message */
};

struct dom_queue {
	struct dom_unit *head, **tail;
	uint32_t count;
};

struct domain_record {
	char name[DOM_NAME_MAX + 1]; /* normalised: lower case A-labels */
	struct dom_queue active;     /* due now, FIFO */
	struct dom_queue delayed;    /* sorted by due_ms */
	uint64_t received;           /* units queued since start */
	uint64_t deliveries, attempts, transients, failures;
	domain_record *hnext;
	uint64_t split_gen; /* dom_split scratch: call that set split_slot */
	uint32_t split_slot;
};

struct dom_table {
	domain_record **buckets;
	size_t nbuckets;
	size_t count;
	uint64_t units;     /* units in every queue */
	uint64_t split_gen; /* dom_split calls */
};

void dom_table_init(struct dom_table *t);
/* Free every record and every unit still queued. */
void dom_table_fini(struct dom_table *t);
/* The record for an already normalised name, or NULL. */
domain_record *dom_find(const struct dom_table *t, const char *name);
/* Find or create the record for a normalised name (<= DOM_NAME_MAX). */
domain_record *dom_get(struct dom_table *t, const char *name);

/* A unit for message id with room for nrcpt indexes (filled by caller). */
struct dom_unit *dom_unit_new(const uint8_t id[DOM_ID_LEN], uint32_t nrcpt);
void dom_unit_free(struct dom_unit *u);

/* Append u to dr's active queue (u->dr = dr). */
void dom_active_push(struct dom_table *t, domain_record *dr,
		     struct dom_unit *u);
/* Take the oldest active unit, or NULL. */
struct dom_unit *dom_active_pop(struct dom_table *t, domain_record *dr);
/* Insert u into dr's delayed queue, ordered by u->due_ms. */
void dom_delayed_push(struct dom_table *t, domain_record *dr,
		      struct dom_unit *u);
/* Move delayed units due at now_ms to the active queue; returns how many. */
unsigned dom_promote_due(domain_record *dr, int64_t now_ms);

/*
 * Split recipients by domain: for each recipient address addr[i] (as
 * given, "local@domain"; the domain part is normalised with value_domain),
 * append idx[i] (i when idx is NULL: the recipient's index in its
 * message) to the unit of its domain.  Calls out(dr, unit, arg) once
 * per domain with a new unit (not queued: the caller decides where).
 * Recipients whose domain does not normalise are reported through
 * bad(i, reason, arg).  Returns the number of units made.
 */
typedef void dom_split_out_fn(domain_record *dr, struct dom_unit *u, void *arg);
typedef void dom_split_bad_fn(uint32_t i, const char *why, void *arg);
unsigned dom_split(struct dom_table *t, const uint8_t id[DOM_ID_LEN],
		   const char *const *addr, const uint32_t *idx, uint32_t n,
		   dom_split_out_fn *out, dom_split_bad_fn *bad, void *arg);

/* The domain part of "local@domain" (after the last '@'), or NULL. */
const char *dom_of_addr(const char *addr);

#endif
