/* SPDX-License-Identifier: MIT */
/*
 * redis_fixture.h: what the Redis unit tests share (test_redis.c,
 * test_rstate.c, test_rlease.c): a ring, a temporary directory, and a
 * real redis-server on a unix socket in it, started and killed by pid.
 * Without io_uring rfx_ring() returns NULL after a loud line and the test
 * skips; a missing redis-server is a failure.  Test code only: it asserts.
 */
#ifndef RINGMTA_REDIS_FIXTURE_H
#define RINGMTA_REDIS_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ring;

struct rfx {
	char dir[64];   /* /tmp/NAME.XXXXXX */
	char sock[128]; /* DIR/r.sock */
	pid_t pid;      /* 0: not running */
	bool aof;       /* appendonly with fsync always (a SIGKILL loses
			 * nothing); else no persistence */
};

/* A ring of sq_entries x cq_entries, or NULL (said loudly: skip). */
struct ring *rfx_ring(unsigned sq_entries, unsigned cq_entries);
/* Make dir (mkdtemp of /tmp/NAME.XXXXXX) and name sock in it. */
void rfx_init(struct rfx *s, const char *name);
/* Remove dir and everything in it. */
void rfx_rmdir(const char *dir);
/* Whether a server answers PING on the unix socket path. */
bool rfx_answers(const char *path);
/* Start redis-server on s->sock (working in s->dir, log redis.log) and
 * wait up to 5 s for PING. */
void rfx_start(struct rfx *s);
/* Run ring turns for ms milliseconds. */
void rfx_run_for(struct ring *r, int ms);
/* Run ring turns until cond or ms milliseconds pass; fails the test on
 * timeout. */
#define RFX_RUN_UNTIL(r, cond, ms)                                             \
	do {                                                                   \
		int64_t end_ = ring_now_update(r) + (int64_t)(ms)*1000000;     \
		while (!(cond) && ring_now_update(r) < end_)                   \
			assert_true(ring_run_once(r, 5 * 1000000LL) >= 0);     \
		assert_true(cond);                                             \
	} while (0)
/* SIGCONT then sig to the server, and reap it (no-op if not running). */
void rfx_kill(struct rfx *s, int sig);
/*
 * A test's teardown once its clients are freed: rfx_kill(s, sig), then
 * ring_shutdown(r) (asserted to drain within 2 s) and ring_free(r), then
 * remove s->dir.  Nothing when r is NULL (the test was skipped).
 */
void rfx_close(struct ring *r, struct rfx *s, int sig);

#endif
