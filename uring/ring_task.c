/* SPDX-License-Identifier: MIT */
/*
 * ring_task.c: the code the real ring and the fake ring share (see
 * ring_task.h): ring_defer() and the hook list, op names, uop_init/fini,
 * the wall clock.  Owns nothing: the queue lives in struct ring, the tasks
 * and hooks in their owners.  Must not include <liburing.h> or know which
 * ring it serves beyond the ring_tasks at the start of struct ring.
 */
#include "ring_task.h"

#include <string.h>
#include <time.h>

static const char *const ring_op_names[] = {
    [RING_OP_NONE] = "none",         [RING_OP_RECV] = "recv",
    [RING_OP_SEND] = "send",         [RING_OP_SENDMSG] = "sendmsg",
    [RING_OP_CONNECT] = "connect",   [RING_OP_ACCEPT] = "accept",
    [RING_OP_READ] = "read",         [RING_OP_WRITE] = "write",
    [RING_OP_WRITEV] = "writev",     [RING_OP_FSYNC] = "fsync",
    [RING_OP_OPENAT] = "openat",     [RING_OP_CLOSE] = "close",
    [RING_OP_POLL] = "poll",         [RING_OP_TIMEOUT] = "timeout",
    [RING_OP_SHUTDOWN] = "shutdown", [RING_OP_RENAME] = "rename",
    [RING_OP_UNLINK] = "unlink",     [RING_OP_NOP] = "nop",
};
_Static_assert(nitems(ring_op_names) == RING_OP__COUNT, "ring op names");

/* The ring's queue: struct ring begins with it (ring_task.h). */
static struct ring_tasks *
ring_tasks_of(struct ring *r)
{
	return (struct ring_tasks *)(void *)r;
}

const char *
ring_op_str(enum ring_op op)
{
	if ((unsigned)op >= RING_OP__COUNT)
		return "?";
	return ring_op_names[op];
}

void
uop_init(struct uop *op, uop_done_fn *done)
{
	memset(op, 0, sizeof(*op));
	op->done = done;
}

void
uop_fini(struct uop *op)
{
	BUG_ON(op->inflight != 0);
}

int64_t
ring_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* q: embedded in a zeroed or finished ring; no task is queued after. */
void
ring_tasks_init(struct ring_tasks *q)
{
	q->tasks = NULL;
	q->tasks_tail = &q->tasks;
	q->hooks = NULL;
}

void
ring_defer(struct ring *r, struct ring_task *t)
{
	struct ring_tasks *q = ring_tasks_of(r);

	if (t->queued)
		return;
	t->queued = true;
	t->next = NULL;
	*q->tasks_tail = t;
	q->tasks_tail = &t->next;
}

void
ring_hook_add(struct ring *r, struct ring_hook *h)
{
	struct ring_tasks *q = ring_tasks_of(r);

	h->next = q->hooks;
	q->hooks = h;
}

void
ring_hook_del(struct ring *r, struct ring_hook *h)
{
	struct ring_tasks *q = ring_tasks_of(r);

	for (struct ring_hook **pp = &q->hooks; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			return;
		}
	}
}
