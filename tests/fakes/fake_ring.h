/* SPDX-License-Identifier: MIT */
/*
 * fake_ring.h: a ring (uring/ring.h) that never touches the kernel, for
 * unit tests (STYLE 3.6).  Link tests/fakes/fake_ring.c instead of
 * uring/ring.c, with uring/ring_task.c (the tasks, hooks and op names both
 * share); keep uring/timer.c real.
 *
 * Every ring_*() arm is recorded (kind, fd, buffer, length, offset,
 * deadline, and a copy of the bytes of a send) with the same inflight
 * accounting and BUG_ONs as the real ring.  Nothing completes by itself:
 * the test delivers each completion with fake_ring_complete() (in any
 * order, with any result), and the fake applies ring.h's semantics
 * (inflight drops before the handler runs; -ECANCELED on an op with a
 * deadline that was not cancelled becomes -ETIMEDOUT).  The clock is
 * ring_now() and moves only with fake_ring_set_now()/fake_ring_advance();
 * deferred tasks run only from fake_ring_run_tasks().  One fake ring per
 * process at a time (the helpers need no ring argument).  The fake owns
 * its records and the wire log; the buffers recorded stay the caller's.
 */
#ifndef RINGMTA_FAKE_RING_H
#define RINGMTA_FAKE_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"

/* One armed request. */
struct fake_op {
	struct uop *op;
	enum ring_op kind;
	int fd;
	void *buf;        /* recv/read: where the "kernel" writes */
	const void *cbuf; /* send/write: what the engine handed over */
	size_t len;
	uint64_t off;     /* read/write file offset */
	int64_t deadline; /* absolute ns, 0 for none */
	bool cancel;      /* ring_cancel() was called on it */
	uint16_t gen;     /* op->gen when armed (stale if it moved on) */
	unsigned seq;     /* arm order, from 1 */
	char *copy;       /* send/write: the bytes at arm time (fake's) */
};

/* The ring ring_new() made, or NULL. */
struct ring *fake_ring_get(void);
/* Set / move the clock (ns).  fake_ring_advance() then expires every op
 * whose deadline is <= now (as the linked timeout would: -ECANCELED,
 * seen by the handler as -ETIMEDOUT) and runs the due timers.  Returns
 * the number of ops expired plus timers fired. */
void fake_ring_set_now(int64_t now);
unsigned fake_ring_advance(int64_t ns);
/* Run deferred tasks until none is queued; returns how many ran. */
unsigned fake_ring_run_tasks(void);

/* Requests armed and not completed (all kinds). */
unsigned fake_ring_count(void);
/* The oldest armed request of kind, or NULL. */
struct fake_op *fake_ring_pending(enum ring_op kind);
/* Arms of kind since the ring was made (including completed ones). */
unsigned fake_ring_armed_total(enum ring_op kind);
/*
 * Deliver the completion of fo with res (as ring_dispatch does); fo is
 * gone afterwards.  Returns the result the handler saw.
 */
int fake_ring_complete(struct fake_op *fo, int res);
/* Complete every armed request that was cancelled, with -ECANCELED;
 * returns how many. */
unsigned fake_ring_complete_cancelled(void);

/*
 * Copy len bytes into the armed recv's buffer (BUG_ON if none is armed or
 * they do not fit) and complete it with len.  fake_ring_recv_str: a C
 * string, fake_ring_recv_split: the string in pieces of at most step.
 */
void fake_ring_recv_bytes(const void *bytes, size_t len);
void fake_ring_recv_str(const char *s);
void fake_ring_recv_split(const char *s, size_t step);
/* Same for the armed read (file data). */
void fake_ring_read_bytes(const void *bytes, size_t len);

/*
 * The bytes the armed send holds (a copy taken at arm time; NUL-terminated
 * for convenience; *len_r may be NULL), or NULL with no send armed.
 */
const char *fake_ring_sent(size_t *len_r);
/* Complete the armed send with n (its full length when n == SIZE_MAX);
 * the n bytes are appended to the wire log.  Returns n. */
size_t fake_ring_send_complete(size_t n);
/* Complete sends in full until none is armed; returns how many. */
unsigned fake_ring_flush_sends(void);
/* The bytes accepted by completed sends so far (NUL-terminated), and
 * forgetting them. */
const char *fake_ring_wire(size_t *len_r);
void fake_ring_wire_reset(void);

/* The next arm of kind fails with err (< 0) instead of being recorded. */
void fake_ring_fail_next(enum ring_op kind, int err);

#endif
