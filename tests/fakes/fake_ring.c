/* SPDX-License-Identifier: MIT */
/*
 * fake_ring.c: uring/ring.h without io_uring, for unit tests (see
 * fake_ring.h).  Owns the records of armed requests, the fake clock and
 * the wire log; the deferred tasks and hooks are uring/ring_task.c's, as in
 * the real ring.  Must not touch the kernel on behalf of an op (no syscall
 * on any recorded fd) and must not complete anything the test did not ask
 * for (apart from deadlines passed by fake_ring_advance()).
 */
#include "fake_ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ring_task.h"
#include "timer.h"

#define FAKE_RING_MAX 64 /* armed at once; fixed: records never move */

struct ring {
	struct ring_tasks q; /* first, as in uring/ring.c (ring_task.h) */
	int64_t now;
	struct timer_heap timers;
	struct ring_stats st;
	struct fake_op ops[FAKE_RING_MAX];
	unsigned nops, seq, inflight;
	unsigned armed[RING_OP__COUNT];
	int fail_next[RING_OP__COUNT];
	bool stop, shutting;
	char *wire;
	size_t wire_len, wire_cap;
};
_Static_assert(offsetof(struct ring, q) == 0, "ring_tasks first");

static struct ring *fake_ring;

/* ---- the ring itself ----------------------------------------------------- */

struct ring *
ring_new(const struct ring_opts *opts, int *err_r)
{
	struct ring *r;

	(void)opts;
	if (fake_ring != NULL) {
		*err_r = -EBUSY;
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->now = 1000000000; /* 1 s: deadlines are never 0 */
	timer_heap_init(&r->timers);
	ring_tasks_init(&r->q);
	fake_ring = r;
	return r;
}

void
ring_free(struct ring *r)
{
	if (r == NULL)
		return;
	BUG_ON(r != fake_ring);
	for (unsigned i = 0; i < r->nops; i++)
		free(r->ops[i].copy);
	timer_heap_fini(&r->timers);
	free(r->wire);
	free(r);
	fake_ring = NULL;
}

struct ring *
fake_ring_get(void)
{
	return fake_ring;
}

int64_t
ring_now(const struct ring *r)
{
	return r->now;
}

int64_t
ring_now_update(struct ring *r)
{
	return r->now; /* the fake clock moves only when the test says */
}

struct timer_heap *
ring_timers(struct ring *r)
{
	return &r->timers;
}

void
ring_stop(struct ring *r)
{
	r->stop = true;
}

bool
ring_stopping(const struct ring *r)
{
	return r->stop;
}

int
ring_submit(struct ring *r)
{
	(void)r;
	return 0;
}

unsigned
ring_inflight(const struct ring *r)
{
	return r->inflight;
}

const struct ring_stats *
ring_stats(const struct ring *r)
{
	return &r->st;
}

/* ---- arming -------------------------------------------------------------- */

/* Record a request of op; NULL with *err_r when it is refused. */
static struct fake_op *
fake_arm(struct ring *r, struct uop *op, enum ring_op kind, int fd,
	 int64_t deadline, int *err_r)
{
	struct fake_op *fo;

	BUG_ON(r != fake_ring || op->done == NULL);
	if (r->shutting && kind != RING_OP_CLOSE) {
		*err_r = -ESHUTDOWN;
		return NULL;
	}
	if (r->fail_next[kind] < 0) {
		*err_r = r->fail_next[kind];
		r->fail_next[kind] = 0;
		return NULL;
	}
	BUG_ON(r->nops == FAKE_RING_MAX);
	fo = &r->ops[r->nops++];
	memset(fo, 0, sizeof(*fo));
	fo->op = op;
	fo->kind = kind;
	fo->fd = fd;
	fo->deadline = deadline;
	fo->seq = ++r->seq;
	fo->gen = op->gen;
	op->kind = (uint8_t)kind;
	op->cancelled = 0;
	op->deadline = deadline != 0 && kind != RING_OP_TIMEOUT;
	op->ts_sec = deadline / 1000000000;
	op->ts_nsec = deadline % 1000000000;
	op->inflight++;
	r->inflight++;
	r->armed[kind]++;
	r->st.sqes++;
	return fo;
}

#define FAKE_ARM(r, op, kind, fd, dl)                                          \
	int err_ = 0;                                                          \
	struct fake_op *fo = fake_arm(r, op, kind, fd, dl, &err_);             \
	if (fo == NULL)                                                        \
		return err_;

/* Keep a copy of outgoing bytes (the engine may reuse its buffer later). */
static void
fake_copy(struct fake_op *fo, const void *buf, size_t len)
{
	fo->cbuf = buf;
	fo->len = len;
	fo->copy = xmalloc(len + 1);
	memcpy(fo->copy, buf, len);
	fo->copy[len] = '\0';
}

int
ring_recv(struct ring *r, struct uop *op, int fd, void *buf, size_t len,
	  int64_t deadline_ns)
{
	BUG_ON(uop_busy(op));
	FAKE_ARM(r, op, RING_OP_RECV, fd, deadline_ns);
	fo->buf = buf;
	fo->len = len;
	return 0;
}

int
ring_send(struct ring *r, struct uop *op, int fd, const void *buf, size_t len,
	  int64_t deadline_ns)
{
	BUG_ON(uop_busy(op));
	FAKE_ARM(r, op, RING_OP_SEND, fd, deadline_ns);
	fake_copy(fo, buf, len);
	return 0;
}

int
ring_sendmsg(struct ring *r, struct uop *op, int fd, const struct msghdr *msg,
	     int64_t deadline_ns)
{
	BUG_ON(uop_busy(op));
	FAKE_ARM(r, op, RING_OP_SENDMSG, fd, deadline_ns);
	fo->cbuf = msg;
	return 0;
}

int
ring_connect(struct ring *r, struct uop *op, int fd, const struct sockaddr *sa,
	     socklen_t salen, int64_t deadline_ns)
{
	BUG_ON(uop_busy(op));
	FAKE_ARM(r, op, RING_OP_CONNECT, fd, deadline_ns);
	fake_copy(fo, sa, salen);
	return 0;
}

int
ring_accept_multishot(struct ring *r, struct uop *op, int fd)
{
	BUG_ON(uop_busy(op));
	FAKE_ARM(r, op, RING_OP_ACCEPT, fd, 0);
	return 0;
}

int
ring_read(struct ring *r, struct uop *op, int fd, void *buf, size_t len,
	  uint64_t off)
{
	BUG_ON(uop_busy(op));
	FAKE_ARM(r, op, RING_OP_READ, fd, 0);
	fo->buf = buf;
	fo->len = len;
	fo->off = off;
	return 0;
}

int
ring_write(struct ring *r, struct uop *op, int fd, const void *buf, size_t len,
	   uint64_t off)
{
	BUG_ON(uop_busy(op));
	FAKE_ARM(r, op, RING_OP_WRITE, fd, 0);
	fake_copy(fo, buf, len);
	fo->off = off;
	return 0;
}

int
ring_writev(struct ring *r, struct uop *op, int fd, const struct iovec *iov,
	    unsigned iovcnt, uint64_t off)
{
	BUG_ON(uop_busy(op));
	FAKE_ARM(r, op, RING_OP_WRITEV, fd, 0);
	fo->cbuf = iov;
	fo->len = iovcnt;
	fo->off = off;
	return 0;
}

int
ring_fsync(struct ring *r, struct uop *op, int fd, bool datasync)
{
	BUG_ON(uop_busy(op));
	FAKE_ARM(r, op, RING_OP_FSYNC, fd, 0);
	fo->off = datasync;
	return 0;
}

int
ring_openat(struct ring *r, struct uop *op, int dfd, const char *path,
	    int flags, unsigned mode)
{
	BUG_ON(uop_busy(op));
	FAKE_ARM(r, op, RING_OP_OPENAT, dfd, 0);
	fo->cbuf = path;
	fo->off = ((uint64_t)(unsigned)flags << 32) | mode;
	return 0;
}

int
ring_close(struct ring *r, struct uop *op, int fd)
{
	BUG_ON(uop_busy(op));
	FAKE_ARM(r, op, RING_OP_CLOSE, fd, 0);
	return 0;
}

int
ring_shutdown_sock(struct ring *r, struct uop *op, int fd, int how)
{
	BUG_ON(uop_busy(op));
	FAKE_ARM(r, op, RING_OP_SHUTDOWN, fd, 0);
	fo->off = (uint64_t)how;
	return 0;
}

int
ring_renameat(struct ring *r, struct uop *op, int olddfd, const char *oldpath,
	      int newdfd, const char *newpath)
{
	BUG_ON(uop_busy(op));
	FAKE_ARM(r, op, RING_OP_RENAME, olddfd, 0);
	fo->cbuf = oldpath;
	fo->buf = (void *)(uintptr_t)newpath;
	fo->off = (uint64_t)newdfd;
	return 0;
}

int
ring_unlinkat(struct ring *r, struct uop *op, int dfd, const char *path,
	      int flags)
{
	BUG_ON(uop_busy(op));
	FAKE_ARM(r, op, RING_OP_UNLINK, dfd, 0);
	fo->cbuf = path;
	fo->off = (uint64_t)flags;
	return 0;
}

int
ring_nop(struct ring *r, struct uop *op)
{
	BUG_ON(uop_busy(op));
	FAKE_ARM(r, op, RING_OP_NOP, -1, 0);
	return 0;
}

int
ring_poll(struct ring *r, struct uop *op, int fd, unsigned events)
{
	if (uop_busy(op)) {
		(void)ring_cancel(r, op); /* as ring_poll_remove() */
		op->gen++; /* the earlier poll's CQE is now stale */
	}
	FAKE_ARM(r, op, RING_OP_POLL, fd, 0);
	fo->off = events;
	return 0;
}

int
ring_timeout(struct ring *r, struct uop *op, int64_t when_ns)
{
	BUG_ON(uop_busy(op));
	FAKE_ARM(r, op, RING_OP_TIMEOUT, -1, when_ns);
	return 0;
}

/* Mark every current request of op cancelled (its CQE is the test's). */
int
ring_cancel(struct ring *r, struct uop *op)
{
	if (!uop_busy(op))
		return 0;
	op->cancelled = 1;
	for (unsigned i = 0; i < r->nops; i++) {
		if (r->ops[i].op == op)
			r->ops[i].cancel = true;
	}
	return 0;
}

int
ring_poll_remove(struct ring *r, struct uop *op)
{
	return ring_cancel(r, op);
}

/* ---- tasks, hooks, loop -------------------------------------------------- */

unsigned
fake_ring_run_tasks(void)
{
	return ring_tasks_run(&fake_ring->q);
}

/* One turn without waiting: expire due deadlines, timers, tasks, hooks. */
int
ring_run_once(struct ring *r, int64_t max_wait_ns)
{
	unsigned n;

	(void)max_wait_ns;
	r->st.turns++;
	n = fake_ring_advance(0);
	ring_tasks_run(&r->q);
	ring_tasks_run_hooks(&r->q);
	return (int)n;
}

int
ring_run(struct ring *r)
{
	while (!r->stop) {
		int n = ring_run_once(r, -1);

		if (n == 0 && !ring_tasks_pending(&r->q))
			break; /* nothing can ever happen in the fake */
	}
	return 0;
}

int
ring_shutdown(struct ring *r, int timeout_ms)
{
	(void)timeout_ms;
	r->shutting = true;
	for (unsigned i = 0; i < r->nops; i++)
		(void)ring_cancel(r, r->ops[i].op);
	while (r->nops > 0)
		(void)fake_ring_complete(&r->ops[0], -ECANCELED);
	fake_ring_run_tasks();
	return 0;
}

/* ---- test helpers -------------------------------------------------------- */

void
fake_ring_set_now(int64_t now)
{
	fake_ring->now = now;
}

unsigned
fake_ring_advance(int64_t ns)
{
	struct ring *r = fake_ring;
	unsigned n = 0, i = 0, fired;

	r->now += ns;
	while (i < r->nops) {
		struct fake_op *fo = &r->ops[i];

		if (fo->deadline == 0 || fo->deadline > r->now) {
			i++;
			continue;
		}
		/* The linked timeout cancels the op; a ring_timeout fires. */
		(void)fake_ring_complete(
		    fo, fo->kind == RING_OP_TIMEOUT ? -ETIME : -ECANCELED);
		n++;
		i = 0; /* the handler may have armed or completed others */
		BUG_ON(n > 10000);
	}
	fired = timer_heap_run(&r->timers, r->now);
	r->st.timers_fired += fired;
	return n + fired;
}

unsigned
fake_ring_count(void)
{
	return fake_ring->nops;
}

struct fake_op *
fake_ring_pending(enum ring_op kind)
{
	for (unsigned i = 0; i < fake_ring->nops; i++) {
		if (fake_ring->ops[i].kind == kind)
			return &fake_ring->ops[i];
	}
	return NULL;
}

unsigned
fake_ring_armed_total(enum ring_op kind)
{
	return fake_ring->armed[kind];
}

int
fake_ring_complete(struct fake_op *fo, int res)
{
	struct ring *r = fake_ring;
	struct fake_op rec;
	unsigned idx = (unsigned)(fo - r->ops);
	unsigned flags = 0;
	struct uop *op;

	BUG_ON(idx >= r->nops);
	rec = *fo; /* the handler may arm new requests: forget fo first */
	memmove(&r->ops[idx], &r->ops[idx + 1],
		(r->nops - idx - 1) * sizeof(r->ops[0]));
	r->nops--;
	free(rec.copy);
	op = rec.op;
	BUG_ON(op->inflight == 0 || r->inflight == 0);
	op->inflight--;
	r->inflight--;
	r->st.cqes++;
	if (rec.gen != op->gen) {
		r->st.stale++;
		flags |= RING_CQE_STALE;
	} else if (res == -ECANCELED && op->deadline && !op->cancelled) {
		res = -ETIMEDOUT;
	}
	op->done(op, res, flags);
	return res;
}

unsigned
fake_ring_complete_cancelled(void)
{
	unsigned n = 0, i = 0;

	while (i < fake_ring->nops) {
		if (!fake_ring->ops[i].cancel) {
			i++;
			continue;
		}
		(void)fake_ring_complete(&fake_ring->ops[i], -ECANCELED);
		n++;
		i = 0;
	}
	return n;
}

/* Copy bytes into the armed op of kind's buffer and complete it. */
static void
fake_fill(enum ring_op kind, const void *bytes, size_t len)
{
	struct fake_op *fo = fake_ring_pending(kind);

	BUG_ON(fo == NULL || len > fo->len || len > INT32_MAX);
	memcpy(fo->buf, bytes, len);
	(void)fake_ring_complete(fo, (int)len);
}

void
fake_ring_recv_bytes(const void *bytes, size_t len)
{
	fake_fill(RING_OP_RECV, bytes, len);
}

void
fake_ring_recv_str(const char *s)
{
	fake_fill(RING_OP_RECV, s, strlen(s));
}

void
fake_ring_recv_split(const char *s, size_t step)
{
	size_t len = strlen(s);

	BUG_ON(step == 0);
	for (size_t off = 0; off < len; off += step)
		fake_fill(RING_OP_RECV, s + off, MIN(step, len - off));
}

void
fake_ring_read_bytes(const void *bytes, size_t len)
{
	fake_fill(RING_OP_READ, bytes, len);
}

const char *
fake_ring_sent(size_t *len_r)
{
	struct fake_op *fo = fake_ring_pending(RING_OP_SEND);

	if (fo == NULL)
		return NULL;
	if (len_r != NULL)
		*len_r = fo->len;
	return fo->copy;
}

size_t
fake_ring_send_complete(size_t n)
{
	struct ring *r = fake_ring;
	struct fake_op *fo = fake_ring_pending(RING_OP_SEND);

	BUG_ON(fo == NULL);
	if (n == SIZE_MAX)
		n = fo->len;
	BUG_ON(n > fo->len || n > INT32_MAX);
	if (r->wire_len + n + 1 > r->wire_cap) {
		r->wire_cap = (r->wire_len + n + 1) * 2;
		r->wire = xrealloc(r->wire, r->wire_cap);
	}
	memcpy(r->wire + r->wire_len, fo->copy, n);
	r->wire_len += n;
	r->wire[r->wire_len] = '\0';
	(void)fake_ring_complete(fo, (int)n);
	return n;
}

unsigned
fake_ring_flush_sends(void)
{
	unsigned n = 0;

	while (fake_ring_pending(RING_OP_SEND) != NULL) {
		(void)fake_ring_send_complete(SIZE_MAX);
		n++;
	}
	return n;
}

const char *
fake_ring_wire(size_t *len_r)
{
	if (len_r != NULL)
		*len_r = fake_ring->wire_len;
	return fake_ring->wire != NULL ? fake_ring->wire : "";
}

void
fake_ring_wire_reset(void)
{
	fake_ring->wire_len = 0;
	if (fake_ring->wire != NULL)
		fake_ring->wire[0] = '\0';
}

void
fake_ring_fail_next(enum ring_op kind, int err)
{
	BUG_ON(err >= 0 || (unsigned)kind >= RING_OP__COUNT);
	fake_ring->fail_next[kind] = err;
}
