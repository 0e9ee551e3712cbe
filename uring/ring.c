/* SPDX-License-Identifier: MIT */
/*
 * ring.c: owns the struct io_uring.  The only file that includes
 * <liburing.h>.  Prepares requests for the ops of ring.h, submits once per
 * loop turn, dispatches completions to their uop handlers, runs the timer
 * heap, deferred tasks and before-sleep hooks (their queue is
 * ring_task.c's, shared with the unit tests' fake ring).  Knows nothing of
 * SMTP, spools or DNS.  See ring.h for the ownership rules it enforces.
 */
#include "ring.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include <liburing.h>

#include "log.h"
#include "ring_task.h"
#include "timer.h"

/* Completions copied out of the CQ per batch before dispatch. */
#define RING_CQE_BATCH 256
#define RING_GEN_SHIFT 48

struct ring {
	struct ring_tasks q; /* first: ring_defer() finds it (ring_task.h) */
	struct io_uring uring;
	int64_t now;
	unsigned inflight; /* requests expecting a final CQE */
	bool stop;         /* ring_stop(): ring_run returns */
	bool shutting;     /* ring_shutdown(): new requests refused */
	struct ring_stats st;
	struct timer_heap timers;
};
_Static_assert(offsetof(struct ring, q) == 0, "ring_tasks first");

static uint64_t
ring_ud(const struct uop *op, uint16_t gen)
{
	uintptr_t p = (uintptr_t)op;

	BUG_ON((uint64_t)p >> RING_GEN_SHIFT);
	return (uint64_t)p | ((uint64_t)gen << RING_GEN_SHIFT);
}

static int64_t
ring_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
ring_now(const struct ring *r)
{
	return r->now;
}

int64_t
ring_now_update(struct ring *r)
{
	r->now = ring_clock();
	return r->now;
}

struct ring *
ring_new(const struct ring_opts *opts, int *err_r)
{
	struct io_uring_params p;
	struct ring *r = xcalloc(1, sizeof(*r));
	unsigned sq = opts && opts->sq_entries ? opts->sq_entries : 4096;
	unsigned cq = opts && opts->cq_entries ? opts->cq_entries : 65536;
	int rc;

	if (cq < 2 * sq)
		cq = 2 * sq;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
		  IORING_SETUP_CQSIZE;
	p.cq_entries = cq;
	rc = io_uring_queue_init_params(sq, &r->uring, &p);
	if (rc < 0) {
		free(r);
		*err_r = rc;
		return NULL;
	}
	r->now = ring_clock();
	timer_heap_init(&r->timers);
	ring_tasks_init(&r->q);
	*err_r = 0;
	return r;
}

void
ring_free(struct ring *r)
{
	if (r == NULL)
		return;
	if (r->inflight)
		log_warn("ring: torn down with %u requests in flight",
			 r->inflight);
	io_uring_queue_exit(&r->uring);
	timer_heap_fini(&r->timers);
	free(r);
}

void
ring_stop(struct ring *r)
{
	r->stop = true;
}

bool
ring_stopping(const struct ring *r)
{
	return r->stop || r->shutting;
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

struct timer_heap *
ring_timers(struct ring *r)
{
	return &r->timers;
}

int
ring_submit(struct ring *r)
{
	int rc = io_uring_submit(&r->uring);

	if (rc > 0) {
		r->st.submits++;
		r->st.sqes += (unsigned)rc;
	}
	return rc < 0 ? rc : 0;
}

/*
 * Make room for n SQEs: when the SQ cannot take them, submit what is
 * queued first (a full SQ is flushed, never dropped).  Reserving before
 * filling keeps a link (op + linked timeout) in one submission.
 */
static int
ring_reserve(struct ring *r, unsigned n)
{
	if (io_uring_sq_space_left(&r->uring) >= n)
		return 0;
	r->st.early_flush++;
	ring_submit(r);
	if (io_uring_sq_space_left(&r->uring) >= n)
		return 0;
	return -EAGAIN;
}

static struct io_uring_sqe *
ring_sqe(struct ring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);

	BUG_ON(sqe == NULL); /* callers reserve first */
	return sqe;
}

/*
 * Start a request for op: reserve its SQEs (2 with a deadline), take the
 * op's SQE, and account for it.  Returns the SQE to fill, or NULL with
 * *err_r set.
 */
static struct io_uring_sqe *
ring_begin(struct ring *r, struct uop *op, enum ring_op kind,
	   int64_t deadline_ns, int *err_r)
{
	struct io_uring_sqe *sqe;
	int rc;

	BUG_ON(op->done == NULL);
	if (r->shutting && kind != RING_OP_CLOSE) {
		*err_r = -ESHUTDOWN;
		return NULL;
	}
	rc = ring_reserve(r, deadline_ns ? 2 : 1);
	if (rc < 0) {
		*err_r = rc;
		return NULL;
	}
	sqe = ring_sqe(r);
	op->kind = (uint8_t)kind;
	op->cancelled = 0;
	op->deadline = deadline_ns != 0;
	op->inflight++;
	r->inflight++;
	return sqe;
}

/* Finish a request: user_data, and the linked timeout when it has one. */
static void
ring_end(struct ring *r, struct uop *op, struct io_uring_sqe *sqe,
	 int64_t deadline_ns)
{
	io_uring_sqe_set_data64(sqe, ring_ud(op, op->gen));
	if (deadline_ns) {
		struct io_uring_sqe *t;

		op->ts_sec = deadline_ns / 1000000000;
		op->ts_nsec = deadline_ns % 1000000000;
		sqe->flags |= IOSQE_IO_LINK;
		t = ring_sqe(r);
		io_uring_prep_link_timeout(
		    t, (struct __kernel_timespec *)(void *)&op->ts_sec,
		    IORING_TIMEOUT_ABS);
		t->flags |= IOSQE_CQE_SKIP_SUCCESS;
		io_uring_sqe_set_data64(t, 0);
	}
}

#define RING_BEGIN(r, op, kind, dl)                                            \
	int err_ = 0;                                                          \
	struct io_uring_sqe *sqe = ring_begin(r, op, kind, dl, &err_);         \
	if (sqe == NULL)                                                       \
		return err_;

int
ring_recv(struct ring *r, struct uop *op, int fd, void *buf, size_t len,
	  int64_t deadline_ns)
{
	BUG_ON(uop_busy(op));
	RING_BEGIN(r, op, RING_OP_RECV, deadline_ns);
	io_uring_prep_recv(sqe, fd, buf, len, 0);
	ring_end(r, op, sqe, deadline_ns);
	return 0;
}

int
ring_send(struct ring *r, struct uop *op, int fd, const void *buf, size_t len,
	  int64_t deadline_ns)
{
	BUG_ON(uop_busy(op));
	RING_BEGIN(r, op, RING_OP_SEND, deadline_ns);
	io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
	ring_end(r, op, sqe, deadline_ns);
	return 0;
}

int
ring_sendmsg(struct ring *r, struct uop *op, int fd, const struct msghdr *msg,
	     int64_t deadline_ns)
{
	BUG_ON(uop_busy(op));
	RING_BEGIN(r, op, RING_OP_SENDMSG, deadline_ns);
	io_uring_prep_sendmsg(sqe, fd, msg, MSG_NOSIGNAL);
	ring_end(r, op, sqe, deadline_ns);
	return 0;
}

int
ring_connect(struct ring *r, struct uop *op, int fd, const struct sockaddr *sa,
	     socklen_t salen, int64_t deadline_ns)
{
	BUG_ON(uop_busy(op));
	RING_BEGIN(r, op, RING_OP_CONNECT, deadline_ns);
	io_uring_prep_connect(sqe, fd, sa, salen);
	ring_end(r, op, sqe, deadline_ns);
	return 0;
}

int
ring_accept_multishot(struct ring *r, struct uop *op, int fd)
{
	BUG_ON(uop_busy(op));
	RING_BEGIN(r, op, RING_OP_ACCEPT, 0);
	io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
	ring_end(r, op, sqe, 0);
	return 0;
}

int
ring_read(struct ring *r, struct uop *op, int fd, void *buf, size_t len,
	  uint64_t off)
{
	BUG_ON(uop_busy(op));
	RING_BEGIN(r, op, RING_OP_READ, 0);
	io_uring_prep_read(sqe, fd, buf, (unsigned)MIN(len, 1u << 30), off);
	ring_end(r, op, sqe, 0);
	return 0;
}

int
ring_write(struct ring *r, struct uop *op, int fd, const void *buf, size_t len,
	   uint64_t off)
{
	BUG_ON(uop_busy(op));
	RING_BEGIN(r, op, RING_OP_WRITE, 0);
	io_uring_prep_write(sqe, fd, buf, (unsigned)MIN(len, 1u << 30), off);
	ring_end(r, op, sqe, 0);
	return 0;
}

int
ring_writev(struct ring *r, struct uop *op, int fd, const struct iovec *iov,
	    unsigned iovcnt, uint64_t off)
{
	BUG_ON(uop_busy(op));
	RING_BEGIN(r, op, RING_OP_WRITEV, 0);
	io_uring_prep_writev(sqe, fd, iov, iovcnt, off);
	ring_end(r, op, sqe, 0);
	return 0;
}

int
ring_fsync(struct ring *r, struct uop *op, int fd, bool datasync)
{
	BUG_ON(uop_busy(op));
	RING_BEGIN(r, op, RING_OP_FSYNC, 0);
	io_uring_prep_fsync(sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
	ring_end(r, op, sqe, 0);
	return 0;
}

int
ring_openat(struct ring *r, struct uop *op, int dfd, const char *path,
	    int flags, unsigned mode)
{
	BUG_ON(uop_busy(op));
	RING_BEGIN(r, op, RING_OP_OPENAT, 0);
	io_uring_prep_openat(sqe, dfd, path, flags, mode);
	ring_end(r, op, sqe, 0);
	return 0;
}

int
ring_close(struct ring *r, struct uop *op, int fd)
{
	BUG_ON(uop_busy(op));
	RING_BEGIN(r, op, RING_OP_CLOSE, 0);
	io_uring_prep_close(sqe, fd);
	ring_end(r, op, sqe, 0);
	return 0;
}

int
ring_shutdown_sock(struct ring *r, struct uop *op, int fd, int how)
{
	BUG_ON(uop_busy(op));
	RING_BEGIN(r, op, RING_OP_SHUTDOWN, 0);
	io_uring_prep_shutdown(sqe, fd, how);
	ring_end(r, op, sqe, 0);
	return 0;
}

int
ring_renameat(struct ring *r, struct uop *op, int olddfd, const char *oldpath,
	      int newdfd, const char *newpath)
{
	BUG_ON(uop_busy(op));
	RING_BEGIN(r, op, RING_OP_RENAME, 0);
	io_uring_prep_renameat(sqe, olddfd, oldpath, newdfd, newpath, 0);
	ring_end(r, op, sqe, 0);
	return 0;
}

int
ring_unlinkat(struct ring *r, struct uop *op, int dfd, const char *path,
	      int flags)
{
	BUG_ON(uop_busy(op));
	RING_BEGIN(r, op, RING_OP_UNLINK, 0);
	io_uring_prep_unlinkat(sqe, dfd, path, flags);
	ring_end(r, op, sqe, 0);
	return 0;
}

int
ring_nop(struct ring *r, struct uop *op)
{
	BUG_ON(uop_busy(op));
	RING_BEGIN(r, op, RING_OP_NOP, 0);
	io_uring_prep_nop(sqe);
	ring_end(r, op, sqe, 0);
	return 0;
}

int
ring_timeout(struct ring *r, struct uop *op, int64_t when_ns)
{
	BUG_ON(uop_busy(op));
	RING_BEGIN(r, op, RING_OP_TIMEOUT, 0);
	op->ts_sec = when_ns / 1000000000;
	op->ts_nsec = when_ns % 1000000000;
	io_uring_prep_timeout(sqe,
			      (struct __kernel_timespec *)(void *)&op->ts_sec,
			      0, IORING_TIMEOUT_ABS);
	ring_end(r, op, sqe, 0);
	return 0;
}

/* Queue a removal of the op's current poll; its CQE is ignored (ud 0). */
static int
ring_poll_remove_current(struct ring *r, struct uop *op)
{
	struct io_uring_sqe *sqe;

	if (ring_reserve(r, 1) < 0)
		return -EAGAIN;
	sqe = ring_sqe(r);
	io_uring_prep_poll_remove(sqe, ring_ud(op, op->gen));
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	io_uring_sqe_set_data64(sqe, 0);
	return 0;
}

int
ring_poll(struct ring *r, struct uop *op, int fd, unsigned events)
{
	if (uop_busy(op)) {
		int rc = ring_poll_remove_current(r, op);

		if (rc < 0)
			return rc;
		op->gen++; /* the removed request's CQE is now stale */
	}
	RING_BEGIN(r, op, RING_OP_POLL, 0);
	io_uring_prep_poll_add(sqe, fd, events);
	ring_end(r, op, sqe, 0);
	return 0;
}

int
ring_poll_remove(struct ring *r, struct uop *op)
{
	if (!uop_busy(op))
		return 0;
	op->cancelled = 1;
	return ring_poll_remove_current(r, op);
}

int
ring_cancel(struct ring *r, struct uop *op)
{
	struct io_uring_sqe *sqe;

	if (!uop_busy(op))
		return 0;
	if (ring_reserve(r, 1) < 0)
		return -EAGAIN;
	op->cancelled = 1;
	sqe = ring_sqe(r);
	io_uring_prep_cancel64(sqe, ring_ud(op, op->gen), 0);
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	io_uring_sqe_set_data64(sqe, 0);
	return 0;
}

/* Deliver one completion to its op (see ring.h rules 3 and 4). */
static void
ring_dispatch(struct ring *r, uint64_t ud, int res, unsigned cflags)
{
	struct uop *op;
	uint16_t gen;
	unsigned flags = 0;

	if (ud == 0)
		return; /* linked timeouts, cancels, poll removals */
	op = (struct uop *)(uintptr_t)(ud & ((1ull << RING_GEN_SHIFT) - 1));
	gen = (uint16_t)(ud >> RING_GEN_SHIFT);
	r->st.cqes++;
	if (cflags & IORING_CQE_F_MORE)
		flags |= RING_CQE_MORE;
	else {
		BUG_ON(op->inflight == 0 || r->inflight == 0);
		op->inflight--;
		r->inflight--;
	}
	if (gen != op->gen) {
		r->st.stale++;
		flags |= RING_CQE_STALE;
	} else if (res == -ECANCELED && op->deadline && !op->cancelled) {
		res = -ETIMEDOUT;
	}
	op->done(op, res, flags);
}

/* Copy completions out of the CQ in batches and dispatch them. */
static int
ring_reap(struct ring *r)
{
	struct io_uring_cqe *cqes[RING_CQE_BATCH];
	struct {
		uint64_t ud;
		int res;
		unsigned flags;
	} c[RING_CQE_BATCH];
	int total = 0;

	for (;;) {
		unsigned n =
		    io_uring_peek_batch_cqe(&r->uring, cqes, RING_CQE_BATCH);

		if (n == 0)
			break;
		for (unsigned i = 0; i < n; i++) {
			c[i].ud = io_uring_cqe_get_data64(cqes[i]);
			c[i].res = cqes[i]->res;
			c[i].flags = cqes[i]->flags;
		}
		io_uring_cq_advance(&r->uring, n);
		for (unsigned i = 0; i < n; i++)
			ring_dispatch(r, c[i].ud, c[i].res, c[i].flags);
		total += (int)n;
	}
	return total;
}

static void
ring_after(struct ring *r)
{
	r->st.timers_fired += timer_heap_run(&r->timers, ring_now_update(r));
	ring_tasks_run(&r->q);
	ring_tasks_run_hooks(&r->q);
}

int
ring_run_once(struct ring *r, int64_t max_wait_ns)
{
	struct __kernel_timespec ts, *tsp = NULL;
	struct io_uring_cqe *cqe;
	int64_t now = ring_now_update(r), next, wait = max_wait_ns;
	int rc, n;

	r->st.turns++;
	next = timer_heap_next(&r->timers);
	if (next != INT64_MAX && (wait < 0 || next - now < wait))
		wait = next > now ? next - now : 0;
	if (ring_tasks_pending(&r->q))
		wait = 0;
	if (wait >= 0) {
		ts.tv_sec = wait / 1000000000;
		ts.tv_nsec = wait % 1000000000;
		tsp = &ts;
	}
	if (tsp && wait == 0) {
		rc = io_uring_submit_and_get_events(&r->uring);
	} else {
		unsigned queued = io_uring_sq_ready(&r->uring);

		rc = io_uring_submit_and_wait_timeout(&r->uring, &cqe, 1, tsp,
						      NULL);
		if (rc >= 0 && queued == 0)
			rc = 0;
	}
	if (rc > 0) {
		r->st.submits++;
		r->st.sqes += (unsigned)rc;
	} else if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN &&
		   rc != -EBUSY) {
		return rc;
	}
	ring_now_update(r);
	n = ring_reap(r);
	ring_after(r);
	return n;
}

int
ring_run(struct ring *r)
{
	r->stop = false;
	while (!r->stop) {
		int rc = ring_run_once(r, -1);

		if (rc < 0) {
			log_err("ring: wait failed: %s", strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int
ring_shutdown(struct ring *r, int timeout_ms)
{
	int64_t end = ring_now_update(r) + (int64_t)timeout_ms * 1000000;

	r->shutting = true;
	while (r->inflight > 0) {
		struct io_uring_sqe *sqe;

		if (ring_now_update(r) >= end) {
			log_warn(
			    "ring: %u requests still in flight at shutdown",
			    r->inflight);
			return -ETIMEDOUT;
		}
		if (ring_reserve(r, 1) == 0) {
			sqe = ring_sqe(r);
			io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
			sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
			io_uring_sqe_set_data64(sqe, 0);
		}
		int rc = ring_run_once(r, 50 * 1000000);

		if (rc < 0)
			return rc;
	}
	return 0;
}
