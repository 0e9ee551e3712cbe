/* SPDX-License-Identifier: MIT */
/*
 * timer.h: many cheap timers on one min-heap, driven by the ring's loop.
 *
 * A struct timer is embedded in its owner (a session's idle timer, a
 * domain's next maintainer tick, a retry).  Arming, moving and cancelling
 * are O(log n) and allocation-free apart from the heap's pointer array,
 * which grows by doubling; 100,000 armed timers cost 800 KiB of pointers.
 * The ring waits no longer than the earliest timer, then calls
 * timer_heap_run() with the turn's time.  A timer's callback runs once; it
 * may re-arm its own timer or arm and cancel others.  An owner must cancel
 * its timers before it is freed (timer_armed() tells).
 */
#ifndef RINGMTA_TIMER_H
#define RINGMTA_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct timer;
typedef void timer_fn(struct timer *t);

struct timer {
	int64_t when; /* absolute ring_now() ns */
	timer_fn *fn;
	uint32_t idx; /* heap position + 1; 0 when not armed */
};

struct timer_heap {
	struct timer **v;
	uint32_t n, cap;
	uint64_t seq; /* callbacks run, for statistics */
};

void timer_heap_init(struct timer_heap *h);
/* Free the heap's array; timers still armed are simply forgotten. */
void timer_heap_fini(struct timer_heap *h);

void timer_init(struct timer *t, timer_fn *fn);
/* Arm (or move) t to fire at when. */
void timer_arm(struct timer_heap *h, struct timer *t, int64_t when);
/* Disarm t; harmless when it is not armed. */
void timer_cancel(struct timer_heap *h, struct timer *t);
static inline bool
timer_armed(const struct timer *t)
{
	return t->idx != 0;
}
/* The earliest armed time, or INT64_MAX when none is armed. */
int64_t timer_heap_next(const struct timer_heap *h);
/* Number of armed timers. */
static inline uint32_t
timer_heap_count(const struct timer_heap *h)
{
	return h->n;
}
/*
 * Fire every timer due at now (when <= now), earliest first.  Timers armed
 * by callbacks for a time <= now also fire in this call, up to a bound that
 * keeps a timer re-arming itself for "now" from looping forever.  Returns
 * the number fired.
 */
unsigned timer_heap_run(struct timer_heap *h, int64_t now);

#endif
