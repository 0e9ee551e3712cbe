/* SPDX-License-Identifier: MIT */
/*
 * test_ring: the ring on a real io_uring, over socketpairs, pipes and
 * loopback TCP.  Short sends, partial receives, deadlines, cancellation,
 * completion after close, 10,000 concurrent ops, multishot accept, the
 * one-shot poll adapter, a full SQ, shutdown draining, and the timer heap.
 * Skips (loudly) where io_uring is unavailable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpoll.h"
#include "ring.h"
#include "timer.h"

/* A test op: records its completions. */
struct top {
	struct uop op;
	int res;
	unsigned flags;
	int calls;
	int stale;
};

static void
top_done(struct uop *op, int res, unsigned flags)
{
	struct top *t = container_of(op, struct top, op);

	if (flags & RING_CQE_STALE) {
		t->stale++;
		return;
	}
	t->res = res;
	t->flags = flags;
	t->calls++;
}

static void
top_init(struct top *t)
{
	memset(t, 0, sizeof(*t));
	uop_init(&t->op, top_done);
}

static int
setup(void **state)
{
	int err;
	struct ring_opts o = {.sq_entries = 256, .cq_entries = 32768};
	struct ring *r = ring_new(&o, &err);

	if (r == NULL) {
		fprintf(stderr, "*** io_uring unavailable (%s): SKIPPING ***\n",
			strerror(-err));
		*state = NULL;
		return 0;
	}
	*state = r;
	return 0;
}

static int
teardown(void **state)
{
	struct ring *r = *state;

	if (r != NULL) {
		assert_int_equal(ring_shutdown(r, 2000), 0);
		ring_free(r);
	}
	return 0;
}

#define RING_OR_SKIP(r)                                                        \
	struct ring *r = *state;                                               \
	if (r == NULL)                                                         \
	skip()

/* Run turns until cond or 2 s pass. */
#define RUN_UNTIL(r, cond)                                                     \
	do {                                                                   \
		int64_t end_ = ring_now_update(r) + 2000000000LL;              \
		while (!(cond) && ring_now_update(r) < end_)                   \
			assert_true(ring_run_once(r, 10000000) >= 0);          \
		assert_true(cond);                                             \
	} while (0)

static void
test_nop_single_cqe(void **state)
{
	RING_OR_SKIP(r);
	struct top t;

	top_init(&t);
	assert_int_equal(ring_nop(r, &t.op), 0);
	assert_true(uop_busy(&t.op));
	RUN_UNTIL(r, t.calls == 1);
	assert_int_equal(t.res, 0);
	assert_false(uop_busy(&t.op));
	assert_int_equal(ring_inflight(r), 0);
}

static void
test_partial_receive(void **state)
{
	RING_OR_SKIP(r);
	int sv[2];
	char buf[4];
	struct top t;

	top_init(&t);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], "0123456789", 10), 10);
	assert_int_equal(ring_recv(r, &t.op, sv[0], buf, sizeof(buf), 0), 0);
	RUN_UNTIL(r, t.calls == 1);
	assert_int_equal(t.res, 4);
	assert_memory_equal(buf, "0123", 4);
	assert_int_equal(ring_recv(r, &t.op, sv[0], buf, sizeof(buf), 0), 0);
	RUN_UNTIL(r, t.calls == 2);
	assert_int_equal(t.res, 4);
	assert_memory_equal(buf, "4567", 4);
	close(sv[0]);
	close(sv[1]);
}

static void
test_short_send_resubmit(void **state)
{
	RING_OR_SKIP(r);
	int sv[2], snd = 4096;
	size_t len = 4 << 20, sent = 0, got = 0;
	char *out = malloc(len), *in = malloc(len);
	struct top t;
	int shorts = 0;

	top_init(&t);
	for (size_t i = 0; i < len; i++)
		out[i] = (char)(i * 7 + (i >> 11));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	while (sent < len) {
		int calls = t.calls;

		assert_int_equal(
		    ring_send(r, &t.op, sv[0], out + sent, len - sent, 0), 0);
		while (t.calls == calls) {
			ssize_t n;

			assert_true(ring_run_once(r, 1000000) >= 0);
			n = read(sv[1], in + got, len - got);
			if (n > 0)
				got += (size_t)n;
		}
		assert_true(t.res > 0);
		if ((size_t)t.res < len - sent)
			shorts++;
		sent += (size_t)t.res;
	}
	while (got < len) {
		ssize_t n = read(sv[1], in + got, len - got);

		if (n > 0)
			got += (size_t)n;
	}
	assert_true(shorts > 0);
	assert_memory_equal(in, out, len);
	free(in);
	free(out);
	close(sv[0]);
	close(sv[1]);
}

static void
test_deadline_expiry(void **state)
{
	RING_OR_SKIP(r);
	int sv[2];
	char buf[8];
	struct top t;
	int64_t start;

	top_init(&t);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	start = ring_now_update(r);
	assert_int_equal(
	    ring_recv(r, &t.op, sv[0], buf, sizeof(buf), start + 50000000), 0);
	RUN_UNTIL(r, t.calls == 1);
	assert_int_equal(t.res, -ETIMEDOUT);
	assert_true(ring_now_update(r) - start >= 50000000);
	assert_int_equal(ring_inflight(r), 0);
	close(sv[0]);
	close(sv[1]);
}

static void
test_deadline_not_hit_one_cqe(void **state)
{
	RING_OR_SKIP(r);
	int sv[2];
	char buf[8];
	struct top t;
	uint64_t cqes;

	top_init(&t);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], "hi", 2), 2);
	cqes = ring_stats(r)->cqes;
	assert_int_equal(ring_recv(r, &t.op, sv[0], buf, sizeof(buf),
				   ring_now_update(r) + 1000000000),
			 0);
	RUN_UNTIL(r, t.calls == 1);
	assert_int_equal(t.res, 2);
	/* let any stray linked-timeout CQE arrive */
	ring_run_once(r, 20000000);
	assert_int_equal(ring_stats(r)->cqes - cqes, 1);
	assert_int_equal(t.calls, 1);
	close(sv[0]);
	close(sv[1]);
}

static void
test_cancel_in_flight(void **state)
{
	RING_OR_SKIP(r);
	int sv[2];
	char buf[8];
	struct top t;

	top_init(&t);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ring_recv(r, &t.op, sv[0], buf, sizeof(buf),
				   ring_now_update(r) + 5000000000LL),
			 0);
	ring_run_once(r, 0);
	assert_true(uop_busy(&t.op));
	assert_int_equal(ring_cancel(r, &t.op), 0);
	RUN_UNTIL(r, t.calls == 1);
	/* cancelled by us: -ECANCELED, not mistaken for the deadline */
	assert_int_equal(t.res, -ECANCELED);
	assert_false(uop_busy(&t.op));
	/* cancelling an idle op is a no-op */
	assert_int_equal(ring_cancel(r, &t.op), 0);
	close(sv[0]);
	close(sv[1]);
}

static void
test_completion_after_close(void **state)
{
	RING_OR_SKIP(r);
	int sv[2];
	char buf[8];
	struct top t;

	top_init(&t);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ring_recv(r, &t.op, sv[0], buf, sizeof(buf), 0), 0);
	ring_run_once(r, 0);
	/* The request holds the file: closing the fd does not end it... */
	close(sv[0]);
	ring_run_once(r, 20000000);
	assert_int_equal(t.calls, 0);
	assert_true(uop_busy(&t.op));
	/* ...data still completes it, into the owner's buffer. */
	assert_int_equal(write(sv[1], "late", 4), 4);
	RUN_UNTIL(r, t.calls == 1);
	assert_int_equal(t.res, 4);
	assert_memory_equal(buf, "late", 4);
	/* And a cancel after close completes with -ECANCELED. */
	close(sv[1]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ring_recv(r, &t.op, sv[0], buf, sizeof(buf), 0), 0);
	ring_run_once(r, 0);
	close(sv[0]);
	assert_int_equal(ring_cancel(r, &t.op), 0);
	RUN_UNTIL(r, t.calls == 2);
	assert_int_equal(t.res, -ECANCELED);
	close(sv[1]);
}

static void
test_ten_thousand_concurrent(void **state)
{
	RING_OR_SKIP(r);
	enum {
		PAIRS = 5000
	};
	struct rlimit rl;
	int(*fds)[2] = calloc(PAIRS, sizeof(*fds));
	struct top *ops = calloc(2 * PAIRS, sizeof(*ops));
	char(*bufs)[2] = calloc(2 * PAIRS, sizeof(*bufs));
	int done;

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 2 * PAIRS + 100) {
		rl.rlim_cur = MIN(rl.rlim_max, (rlim_t)(2 * PAIRS + 1000));
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < 2 * PAIRS + 100) {
		free(fds);
		free(ops);
		free(bufs);
		skip();
	}
	for (int i = 0; i < PAIRS; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds[i]),
				 0);
		for (int j = 0; j < 2; j++) {
			struct top *t = &ops[2 * i + j];

			top_init(t);
			assert_int_equal(ring_recv(r, &t->op, fds[i][j],
						   bufs[2 * i + j], 2, 0),
					 0);
		}
	}
	ring_run_once(r, 0);
	assert_int_equal(ring_inflight(r), 2 * PAIRS);
	for (int i = 0; i < PAIRS; i++) {
		assert_int_equal(write(fds[i][0], "a", 1), 1);
		assert_int_equal(write(fds[i][1], "b", 1), 1);
	}
	do {
		assert_true(ring_run_once(r, 100000000) >= 0);
		done = 0;
		for (int i = 0; i < 2 * PAIRS; i++)
			done += ops[i].calls;
	} while (done < 2 * PAIRS && ring_inflight(r) > 0);
	assert_int_equal(done, 2 * PAIRS);
	for (int i = 0; i < PAIRS; i++) {
		assert_int_equal(ops[2 * i].res, 1);
		assert_int_equal(bufs[2 * i][0], 'b');
		assert_int_equal(bufs[2 * i + 1][0], 'a');
		close(fds[i][0]);
		close(fds[i][1]);
	}
	free(fds);
	free(ops);
	free(bufs);
}

static int
listen_loopback(int backlog, struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)sin, sizeof(*sin)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)sin, &len), 0);
	return fd;
}

static void
test_multishot_accept(void **state)
{
	RING_OR_SKIP(r);
	struct sockaddr_in sin;
	int lfd = listen_loopback(16, &sin), c[3];
	struct top t;
	int accepted = 0;

	top_init(&t);
	assert_int_equal(ring_accept_multishot(r, &t.op, lfd), 0);
	for (int i = 0; i < 3; i++) {
		c[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(
		    connect(c[i], (struct sockaddr *)&sin, sizeof(sin)), 0);
	}
	while (accepted < 3) {
		int calls = t.calls;

		RUN_UNTIL(r, t.calls > calls);
		assert_true(t.res >= 0);
		assert_true(t.flags & RING_CQE_MORE);
		close(t.res);
		accepted += t.calls - calls;
	}
	assert_true(uop_busy(&t.op)); /* still armed */
	assert_int_equal(ring_cancel(r, &t.op), 0);
	{
		int calls = t.calls;

		RUN_UNTIL(r, t.calls > calls && !uop_busy(&t.op));
	}
	assert_int_equal(t.res, -ECANCELED);
	for (int i = 0; i < 3; i++)
		close(c[i]);
	close(lfd);
}

static void
test_connect_deadline(void **state)
{
	RING_OR_SKIP(r);
	struct sockaddr_in sin;
	int lfd = listen_loopback(0, &sin), fill[8], fd;
	struct top t;
	int64_t start;

	/* Fill the accept queue so a further connect hangs (TOOLCHAIN 2.2). */
	for (int i = 0; i < 8; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	usleep(20000);
	top_init(&t);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	start = ring_now_update(r);
	assert_int_equal(ring_connect(r, &t.op, fd, (struct sockaddr *)&sin,
				      sizeof(sin), start + 200000000),
			 0);
	RUN_UNTIL(r, t.calls == 1);
	assert_int_equal(t.res, -ETIMEDOUT);
	assert_true(ring_now_update(r) - start >= 200000000);
	close(fd);
	for (int i = 0; i < 8; i++)
		close(fill[i]);
	close(lfd);
}

static void
test_connect_refused(void **state)
{
	RING_OR_SKIP(r);
	struct sockaddr_in sin;
	int lfd = listen_loopback(1, &sin), fd;
	struct top t;

	close(lfd); /* now nothing listens on that port */
	top_init(&t);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(ring_connect(r, &t.op, fd, (struct sockaddr *)&sin,
				      sizeof(sin),
				      ring_now_update(r) + 1000000000),
			 0);
	RUN_UNTIL(r, t.calls == 1);
	assert_int_equal(t.res, -ECONNREFUSED);
	close(fd);
}

struct tpoll {
	struct fdpoll fp;
	int calls;
	unsigned last;
	bool drain;
};

static void
tpoll_cb(struct fdpoll *fp, unsigned revents)
{
	struct tpoll *tp = container_of(fp, struct tpoll, fp);
	char c;

	tp->calls++;
	tp->last = revents;
	if (tp->drain && read(fp->fd, &c, 1) != 1)
		tp->last |= 0x8000;
}

static void
test_fdpoll_oneshot_rearmed(void **state)
{
	RING_OR_SKIP(r);
	int p[2], q[2];
	struct tpoll tp;

	memset(&tp, 0, sizeof(tp));
	assert_int_equal(pipe(p), 0);
	fdpoll_init(&tp.fp, r, tpoll_cb);
	assert_int_equal(fdpoll_want(&tp.fp, p[0], POLLIN), 0);
	ring_run_once(r, 10000000);
	assert_int_equal(tp.calls, 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	RUN_UNTIL(r, tp.calls == 1);
	assert_true(tp.last & POLLIN);
	/* Not read: the re-armed one-shot poll fires again (level). */
	RUN_UNTIL(r, tp.calls >= 2);
	/* Drain it: no further calls. */
	tp.drain = true;
	RUN_UNTIL(r, tp.calls >= 3);
	tp.drain = false;
	{
		int calls = tp.calls;

		ring_run_once(r, 30000000);
		assert_int_equal(tp.calls, calls);
	}
	/* Switch to another fd while armed: the old request goes stale. */
	assert_int_equal(pipe(q), 0);
	{
		uint64_t stale = ring_stats(r)->stale;
		int calls = tp.calls;

		assert_int_equal(fdpoll_want(&tp.fp, q[0], POLLIN), 0);
		assert_int_equal(write(p[1], "y", 1), 1); /* old fd: ignored */
		assert_int_equal(write(q[1], "z", 1), 1);
		tp.drain = true;
		RUN_UNTIL(r, tp.calls == calls + 1);
		RUN_UNTIL(r, ring_stats(r)->stale > stale);
	}
	assert_int_equal(fdpoll_stop(&tp.fp), 0);
	RUN_UNTIL(r, !fdpoll_busy(&tp.fp));
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

static void
test_sq_full_flushed(void **state)
{
	int err;
	struct ring_opts o = {.sq_entries = 8, .cq_entries = 1024};
	struct ring *r = ring_new(&o, &err);
	struct top t[200];
	int done = 0;

	(void)state;
	if (r == NULL)
		skip();
	for (int i = 0; i < 200; i++) {
		top_init(&t[i]);
		assert_int_equal(ring_nop(r, &t[i].op), 0);
	}
	assert_true(ring_stats(r)->early_flush > 0);
	while (done < 200) {
		assert_true(ring_run_once(r, 100000000) >= 0);
		done = 0;
		for (int i = 0; i < 200; i++)
			done += t[i].calls;
	}
	assert_int_equal(ring_inflight(r), 0);
	assert_int_equal(ring_shutdown(r, 1000), 0);
	ring_free(r);
}

static void
test_shutdown_drains(void **state)
{
	int err;
	struct ring *r = ring_new(NULL, &err);
	int sv[50][2];
	char buf[50][4];
	struct top t[50];
	struct top late;

	(void)state;
	if (r == NULL)
		skip();
	for (int i = 0; i < 50; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]), 0);
		top_init(&t[i]);
		assert_int_equal(
		    ring_recv(r, &t[i].op, sv[i][0], buf[i], 4,
			      i % 2 ? ring_now_update(r) + 60000000000LL : 0),
		    0);
	}
	ring_run_once(r, 0);
	assert_int_equal(ring_inflight(r), 50);
	assert_int_equal(ring_shutdown(r, 2000), 0);
	assert_int_equal(ring_inflight(r), 0);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(t[i].calls, 1);
		assert_true(t[i].res == -ECANCELED || t[i].res == -ETIMEDOUT);
		close(sv[i][0]);
		close(sv[i][1]);
	}
	top_init(&late);
	assert_int_equal(ring_nop(r, &late.op), -ESHUTDOWN);
	ring_free(r);
}

struct ttimer {
	struct timer t;
	int64_t fired_at;
	int order;
};
static int ttimer_seq;

static void
ttimer_cb(struct timer *t)
{
	struct ttimer *tt = container_of(t, struct ttimer, t);

	tt->order = ++ttimer_seq;
	tt->fired_at = t->when;
}

static void
test_timer_heap_100k(void **state)
{
	enum {
		N = 100000
	};
	struct timer_heap h;
	struct ttimer *tt = calloc(N, sizeof(*tt));
	int64_t last = -1;
	unsigned fired;

	(void)state;
	timer_heap_init(&h);
	srand(7);
	for (int i = 0; i < N; i++) {
		timer_init(&tt[i].t, ttimer_cb);
		timer_arm(&h, &tt[i].t, 1 + rand() % 1000000);
	}
	assert_int_equal(timer_heap_count(&h), N);
	/* cancel every third, move every fifth */
	for (int i = 0; i < N; i += 3)
		timer_cancel(&h, &tt[i].t);
	for (int i = 1; i < N; i += 5)
		timer_arm(&h, &tt[i].t, 2000000 + i);
	ttimer_seq = 0;
	fired = timer_heap_run(&h, 1000000);
	for (int i = 0; i < N; i++) {
		if (i % 3 == 0) {
			assert_int_equal(tt[i].order, 0);
			continue;
		}
		if (i % 5 == 1) {
			assert_int_equal(tt[i].order, 0);
			assert_true(timer_armed(&tt[i].t));
		}
	}
	/* fired in time order */
	{
		int64_t *by_order = calloc(fired + 1, sizeof(int64_t));

		for (int i = 0; i < N; i++)
			if (tt[i].order)
				by_order[tt[i].order] = tt[i].fired_at;
		for (unsigned k = 1; k <= fired; k++) {
			assert_true(by_order[k] >= last);
			last = by_order[k];
		}
		free(by_order);
	}
	assert_int_equal(timer_heap_next(&h), 2000001);
	fired += timer_heap_run(&h, INT64_MAX - 1);
	assert_int_equal(timer_heap_count(&h), 0);
	{
		unsigned expect = 0;

		for (int i = 0; i < N; i++)
			expect += i % 3 != 0 || i % 5 == 1;
		assert_int_equal(fired, expect);
	}
	timer_heap_fini(&h);
	free(tt);
}

struct tloop {
	struct timer t;
	struct ring *r;
	int n;
};

static void
tloop_cb(struct timer *t)
{
	struct tloop *tl = container_of(t, struct tloop, t);

	if (++tl->n < 5)
		timer_arm(ring_timers(tl->r), t, ring_now(tl->r) + 2000000);
}

static void
test_ring_timers_drive_wait(void **state)
{
	RING_OR_SKIP(r);
	struct tloop tl = {.r = r};
	int64_t start = ring_now_update(r);

	timer_init(&tl.t, tloop_cb);
	timer_arm(ring_timers(r), &tl.t, start + 2000000);
	/* no I/O at all: the ring's wait must end at each timer */
	while (tl.n < 5)
		assert_true(ring_run_once(r, -1) >= 0);
	assert_true(ring_now_update(r) - start >= 10000000);
	assert_true(ring_now_update(r) - start < 1000000000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nop_single_cqe),
	    cmocka_unit_test(test_partial_receive),
	    cmocka_unit_test(test_short_send_resubmit),
	    cmocka_unit_test(test_deadline_expiry),
	    cmocka_unit_test(test_deadline_not_hit_one_cqe),
	    cmocka_unit_test(test_cancel_in_flight),
	    cmocka_unit_test(test_completion_after_close),
	    cmocka_unit_test(test_ten_thousand_concurrent),
	    cmocka_unit_test(test_multishot_accept),
	    cmocka_unit_test(test_connect_deadline),
	    cmocka_unit_test(test_connect_refused),
	    cmocka_unit_test(test_fdpoll_oneshot_rearmed),
	    cmocka_unit_test(test_sq_full_flushed),
	    cmocka_unit_test(test_shutdown_drains),
	    cmocka_unit_test(test_timer_heap_100k),
	    cmocka_unit_test(test_ring_timers_drive_wait),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
