/* SPDX-License-Identifier: MIT */
/*
 * timer.c: binary min-heap of embedded timers.  Each timer records its own
 * position so cancel and re-arm need no search.  No I/O; the ring's loop
 * decides when to call timer_heap_run().
 */
#include "timer.h"

#include <stdlib.h>

#include "compat.h"

void
timer_heap_init(struct timer_heap *h)
{
	h->v = NULL;
	h->n = h->cap = 0;
	h->seq = 0;
}

void
timer_heap_fini(struct timer_heap *h)
{
	for (uint32_t i = 0; i < h->n; i++)
		h->v[i]->idx = 0;
	free(h->v);
	timer_heap_init(h);
}

void
timer_init(struct timer *t, timer_fn *fn)
{
	t->when = 0;
	t->fn = fn;
	t->idx = 0;
}

static void
timer_place(struct timer_heap *h, uint32_t i, struct timer *t)
{
	h->v[i] = t;
	t->idx = i + 1;
}

static void
timer_up(struct timer_heap *h, uint32_t i)
{
	struct timer *t = h->v[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (h->v[parent]->when <= t->when)
			break;
		timer_place(h, i, h->v[parent]);
		i = parent;
	}
	timer_place(h, i, t);
}

static void
timer_down(struct timer_heap *h, uint32_t i)
{
	struct timer *t = h->v[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1]->when < h->v[c]->when)
			c++;
		if (t->when <= h->v[c]->when)
			break;
		timer_place(h, i, h->v[c]);
		i = c;
	}
	timer_place(h, i, t);
}

void
timer_arm(struct timer_heap *h, struct timer *t, int64_t when)
{
	if (timer_armed(t)) {
		uint32_t i = t->idx - 1;
		int64_t old = t->when;

		BUG_ON(i >= h->n || h->v[i] != t);
		t->when = when;
		if (when < old)
			timer_up(h, i);
		else
			timer_down(h, i);
		return;
	}
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		h->v = xreallocarray(h->v, h->cap, sizeof(*h->v));
	}
	t->when = when;
	h->v[h->n] = t;
	timer_up(h, h->n++);
}

void
timer_cancel(struct timer_heap *h, struct timer *t)
{
	uint32_t i;
	struct timer *last;

	if (!timer_armed(t))
		return;
	i = t->idx - 1;
	BUG_ON(i >= h->n || h->v[i] != t);
	t->idx = 0;
	last = h->v[--h->n];
	if (i == h->n)
		return;
	h->v[i] = last;
	last->idx = i + 1;
	if (i > 0 && h->v[(i - 1) / 2]->when > last->when)
		timer_up(h, i);
	else
		timer_down(h, i);
}

int64_t
timer_heap_next(const struct timer_heap *h)
{
	return h->n ? h->v[0]->when : INT64_MAX;
}

unsigned
timer_heap_run(struct timer_heap *h, int64_t now)
{
	unsigned fired = 0;
	/* Bound: each timer armed at entry, plus as many again re-armed. */
	unsigned limit = h->n * 2 + 16;

	while (h->n && h->v[0]->when <= now && fired < limit) {
		struct timer *t = h->v[0];

		timer_cancel(h, t);
		fired++;
		h->seq++;
		t->fn(t);
	}
	return fired;
}
