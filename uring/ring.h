/* SPDX-License-Identifier: MIT */
/*
 * ring.h: the process's one io_uring, and the ops that ride on it.
 *
 * uring/ring.c is the ONLY file that includes <liburing.h>.  Everything
 * else (sockets, spool files, DNS and Redis fds, timers) goes through the
 * functions below.  One thread, one ring (SINGLE_ISSUER | DEFER_TASKRUN |
 * SUBMIT_ALL | COOP_TASKRUN).  SQEs prepared during a loop turn are
 * submitted together at the turn's end (one io_uring_enter per turn); a full
 * SQ is flushed early, never dropped.
 *
 * Ownership and lifetime (the rules every caller lives by):
 *
 *  1. Every request points at a struct uop embedded in its owner (a
 *     session, a spool batch, a poll slot).  No allocation per op.  The
 *     CQE's user_data is the uop's address with a 16-bit generation in the
 *     top bits; container_of() recovers the owner in the handler.
 *
 *  2. From the ring_*() call that arms an op until its final completion
 *     (the CQE without IORING_CQE_F_MORE), the kernel owns everything the
 *     request references: the uop itself, the buffer, the sockaddr, the
 *     iovec.  op->inflight counts such requests.  An owner may be freed only
 *     when all of its ops have inflight == 0 (uop_busy() is false);
 *     uop_fini() checks that.  ASan cannot see the kernel writing into freed
 *     memory, so this rule carries the weight.
 *
 *  3. Deadlines are absolute CLOCK_MONOTONIC times (ring_now() scale, ns)
 *     carried by a linked timeout whose own CQE is suppressed, so an op with
 *     a deadline still gives exactly one CQE.  The timespec lives in the
 *     uop, so nothing else must outlive the call.  A request that hit its
 *     deadline completes with -ETIMEDOUT; one the owner cancelled with
 *     ring_cancel() completes with -ECANCELED.  A deadline is a deadline: a
 *     peer dribbling one byte per recv cannot extend it, because the caller
 *     re-arms with the same absolute time.
 *
 *  4. Each arm bumps op->gen only when the op is re-armed while an earlier
 *     request of it is still in flight (ring_poll re-arm, see fdpoll.h).
 *     The final CQE of such an earlier request reaches the handler with
 *     RING_CQE_STALE in flags: the handler must ignore its result.  Handlers
 *     of ops that are never re-armed in flight never see it.
 *
 *  5. Handlers run from ring_run_once(); they may arm new ops and cancel
 *     others, but must not free their own owner while any of its ops is
 *     busy: mark it closing, cancel, and free from the handler of the last
 *     completion (or from a ring_defer() task).
 *
 *  6. ring_shutdown() cancels every request in flight and dispatches
 *     completions until none is left; only then is the ring torn down.
 */
#ifndef RINGMTA_RING_H
#define RINGMTA_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "compat.h"

struct ring;
struct uop;

/* Our own flag in the handler's flags: a completion of an earlier request. */
#define RING_CQE_STALE (1u << 31)
/* Mirrors of the kernel's CQE flags the handlers care about. */
#define RING_CQE_MORE  (1u << 1) /* IORING_CQE_F_MORE: more CQEs follow */

/*
 * Completion handler.  res is the request's result (>= 0 or -errno, with
 * -ETIMEDOUT for a deadline hit); flags carries RING_CQE_MORE for a
 * multishot CQE that is not the last one, and RING_CQE_STALE (rule 4).
 */
typedef void uop_done_fn(struct uop *op, int res, unsigned flags);

struct uop {
	uop_done_fn *done;
	/* The linked timeout's timespec (struct __kernel_timespec layout). */
	int64_t ts_sec, ts_nsec;
	uint16_t gen;      /* generation of the request last armed */
	uint16_t inflight; /* requests the kernel still holds */
	uint8_t kind;      /* enum ring_op, for tracing and statistics */
	uint8_t cancelled; /* ring_cancel() was called on the current request */
	uint8_t deadline;  /* the current request carries a linked timeout */
};

enum ring_op {
	RING_OP_NONE = 0,
	RING_OP_RECV,
	RING_OP_SEND,
	RING_OP_SENDMSG,
	RING_OP_CONNECT,
	RING_OP_ACCEPT,
	RING_OP_READ,
	RING_OP_WRITE,
	RING_OP_WRITEV,
	RING_OP_FSYNC,
	RING_OP_OPENAT,
	RING_OP_CLOSE,
	RING_OP_POLL,
	RING_OP_TIMEOUT,
	RING_OP_SHUTDOWN,
	RING_OP_RENAME,
	RING_OP_UNLINK,
	RING_OP_NOP,
	RING_OP__COUNT /* must stay last */
};
const char *ring_op_str(enum ring_op op);

/* Prepare an embedded op; done is called for each of its completions. */
void uop_init(struct uop *op, uop_done_fn *done);
/* Check (BUG_ON) that the kernel holds no request of this op. */
void uop_fini(struct uop *op);
static inline bool
uop_busy(const struct uop *op)
{
	return op->inflight != 0;
}

struct ring_stats {
	uint64_t submits;     /* io_uring_enter calls that submitted */
	uint64_t sqes;        /* SQEs submitted */
	uint64_t cqes;        /* CQEs dispatched */
	uint64_t stale;       /* CQEs of earlier requests (rule 4) */
	uint64_t early_flush; /* SQ full: submitted before the turn's end */
	uint64_t turns;       /* loop turns */
	uint64_t timers_fired;
};

struct ring_opts {
	unsigned sq_entries; /* default 4096 */
	unsigned cq_entries; /* default 65536: tens of thousands in flight */
};

/*
 * Create the ring.  Returns a new ring or NULL with *err_r = -errno;
 * -ENOSYS, -EPERM or -EINVAL mean io_uring (or a setup flag) is unavailable
 * here: callers that need it report themselves skipped.
 */
struct ring *ring_new(const struct ring_opts *opts, int *err_r);
/* Tear down a ring after ring_shutdown(); NULL is fine. */
void ring_free(struct ring *r);

/* Monotonic time in ns, read once per loop turn (and by ring_now_update). */
int64_t ring_now(const struct ring *r);
int64_t ring_now_update(struct ring *r);
/* Realtime wall clock in ms, for logs. */
int64_t ring_wall_ms(void);

/*
 * One loop turn: submit what was prepared, wait until a completion arrives
 * or the earliest timer is due (at most max_wait_ns; < 0: no limit but the
 * timers), dispatch every completion, then fire due timers, then run
 * deferred tasks and before-sleep hooks.  Returns the number of completions
 * dispatched, or -errno on a ring failure.
 */
int ring_run_once(struct ring *r, int64_t max_wait_ns);
/* Loop until ring_stop(); returns 0, or -errno on a ring failure. */
int ring_run(struct ring *r);
void ring_stop(struct ring *r);
bool ring_stopping(const struct ring *r);
/* Submit prepared SQEs now (rarely needed: the loop does it). */
int ring_submit(struct ring *r);
/* Requests in flight on the whole ring. */
unsigned ring_inflight(const struct ring *r);
const struct ring_stats *ring_stats(const struct ring *r);

/*
 * Cancel every request of the loop and drain their completions (handlers
 * run, seeing -ECANCELED or their real result), then refuse new requests
 * with -ESHUTDOWN.  Returns 0, or -ETIMEDOUT if something did not complete
 * within timeout_ms.
 */
int ring_shutdown(struct ring *r, int timeout_ms);

/*
 * Ops.  Each returns 0 when the request is prepared (its completion will
 * reach op->done), or -errno (-ESHUTDOWN after ring_shutdown began; the op
 * is then not armed).  deadline_ns is an absolute ring_now() time, 0 for
 * none.  BUG_ON(uop_busy(op)) except where noted.
 */
int ring_recv(struct ring *r, struct uop *op, int fd, void *buf, size_t len,
	      int64_t deadline_ns) ATTR_WUR;
int ring_send(struct ring *r, struct uop *op, int fd, const void *buf,
	      size_t len, int64_t deadline_ns) ATTR_WUR;
int ring_sendmsg(struct ring *r, struct uop *op, int fd,
		 const struct msghdr *msg, int64_t deadline_ns) ATTR_WUR;
int ring_connect(struct ring *r, struct uop *op, int fd,
		 const struct sockaddr *sa, socklen_t salen,
		 int64_t deadline_ns) ATTR_WUR;
/* Multishot accept: one CQE per connection (res = fd) with RING_CQE_MORE,
 * until a final CQE without it; re-arm then if still listening. */
int ring_accept_multishot(struct ring *r, struct uop *op, int fd) ATTR_WUR;
int ring_read(struct ring *r, struct uop *op, int fd, void *buf, size_t len,
	      uint64_t off) ATTR_WUR;
int ring_write(struct ring *r, struct uop *op, int fd, const void *buf,
	       size_t len, uint64_t off) ATTR_WUR;
int ring_writev(struct ring *r, struct uop *op, int fd, const struct iovec *iov,
		unsigned iovcnt, uint64_t off) ATTR_WUR;
int ring_fsync(struct ring *r, struct uop *op, int fd, bool datasync) ATTR_WUR;
int ring_openat(struct ring *r, struct uop *op, int dfd, const char *path,
		int flags, unsigned mode) ATTR_WUR;
int ring_close(struct ring *r, struct uop *op, int fd) ATTR_WUR;
int ring_shutdown_sock(struct ring *r, struct uop *op, int fd,
		       int how) ATTR_WUR;
int ring_renameat(struct ring *r, struct uop *op, int olddfd,
		  const char *oldpath, int newdfd,
		  const char *newpath) ATTR_WUR;
int ring_unlinkat(struct ring *r, struct uop *op, int dfd, const char *path,
		  int flags) ATTR_WUR;
int ring_nop(struct ring *r, struct uop *op) ATTR_WUR;
/*
 * One-shot poll for events (POLLIN/POLLOUT...).  Unlike the others this may
 * be called while an earlier poll of the op is in flight (the earlier one is
 * removed and its completion arrives as RING_CQE_STALE).  res is the
 * revents mask.
 */
int ring_poll(struct ring *r, struct uop *op, int fd, unsigned events) ATTR_WUR;
/* Remove the op's armed poll; its completion arrives (-ECANCELED or
 * revents). */
int ring_poll_remove(struct ring *r, struct uop *op) ATTR_WUR;
/* A one-shot kernel timeout at an absolute ring_now() time; res -ETIME when
 * it fires.  For the many timers of the program use timer.h instead. */
int ring_timeout(struct ring *r, struct uop *op, int64_t when_ns) ATTR_WUR;
/*
 * Cancel the op's current request(s).  The completion still arrives (with
 * -ECANCELED, or the real result if it had already finished).  No-op when
 * the op is idle.  Returns 0 or -errno.
 */
int ring_cancel(struct ring *r, struct uop *op);

/*
 * Deferred work and before-sleep hooks: a task runs once, after this turn's
 * completions and timers (Redis "close scheduled"); a hook runs at the end
 * of every turn before the ring waits (batching: group commit, Redis
 * pipelines).  Both are embedded in their owners.
 */
struct ring_task {
	void (*fn)(struct ring_task *t);
	struct ring_task *next;
	bool queued;
};
void ring_defer(struct ring *r, struct ring_task *t);

struct ring_hook {
	void (*fn)(struct ring_hook *h);
	struct ring_hook *next;
};
void ring_hook_add(struct ring *r, struct ring_hook *h);
void ring_hook_del(struct ring *r, struct ring_hook *h);

/* The ring's timer heap (uring/timer.h). */
struct timer_heap *ring_timers(struct ring *r);

#endif
