/* SPDX-License-Identifier: MIT */
/*
 * ring_task.h: what the real ring (uring/ring.c) and the unit tests' fake
 * (tests/fakes/fake_ring.c) share, so that one copy serves both: the queue
 * of deferred tasks and the list of before-sleep hooks (ring_defer,
 * ring_hook_add/del in ring.h), op names, uop_init/uop_fini and the wall
 * clock.  Not a public header: only ring implementations include it.
 *
 * Each implementation embeds struct ring_tasks as the FIRST member of its
 * struct ring (checked there with _Static_assert), so ring_defer() reaches
 * the queue without a call or a pointer; the loop runs it with the inline
 * ring_tasks_run()/ring_tasks_run_hooks() below, so the loop pays no call
 * for them either.  The tasks and hooks themselves stay their owners'.
 */
#ifndef RINGMTA_RING_TASK_H
#define RINGMTA_RING_TASK_H

#include <stdbool.h>

#include "ring.h"

struct ring_tasks {
	struct ring_task *tasks; /* queued by ring_defer(), FIFO */
	struct ring_task **tasks_tail;
	struct ring_hook *hooks; /* run at the end of every turn */
};

/* An empty queue and no hooks. */
void ring_tasks_init(struct ring_tasks *q);

static inline bool
ring_tasks_pending(const struct ring_tasks *q)
{
	return q->tasks != NULL;
}

/* Run queued tasks until none is left (a task may queue others, or free
 * its owner); returns how many ran. */
static inline unsigned
ring_tasks_run(struct ring_tasks *q)
{
	unsigned n = 0;

	while (q->tasks != NULL) {
		struct ring_task *t = q->tasks;

		q->tasks = t->next;
		if (q->tasks == NULL)
			q->tasks_tail = &q->tasks;
		t->queued = false;
		t->next = NULL;
		t->fn(t);
		n++;
	}
	return n;
}

/* Run every hook once; a hook may delete itself. */
static inline void
ring_tasks_run_hooks(struct ring_tasks *q)
{
	for (struct ring_hook *h = q->hooks, *next; h != NULL; h = next) {
		next = h->next;
		h->fn(h);
	}
}

#endif
