/* SPDX-License-Identifier: MIT */
/*
 * test_spool_hints: when the spool commits, on a real ring
 * (spool_fixture.c).  The commit delay (waits for open transactions only,
 * ends early, bounded, off); commit hints: they hold a small batch back,
 * end it early, expire when leaked (where the listener begins and ends
 * them: test_listener_hints.c).  Skips loudly without io_uring.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "log.h"
#include "ring.h"
#include "spool.h"
#include "spool_fixture.h"
#include "spool_int.h"

/* Begin a transaction with some body and leave it open. */
static void
open_txn(struct spfx *f, struct spool_txn *t, uint32_t flags)
{
	struct spfx_env e;
	uint8_t b[64];

	spfx_env_make(&e, 1);
	e.env.flags = flags;
	spfx_body_fill(b, sizeof(b), 1);
	assert_int_equal(spool_txn_begin(f->sp, t, &e.env, NULL, NULL), 0);
	assert_int_equal(spool_txn_body(t, b, sizeof(b)), 0);
}

/* ms since t0 (ring_now scale). */
static int64_t
since_ms(struct spfx *f, int64_t t0)
{
	return (ring_now_update(f->r) - t0) / 1000000;
}

static void
test_commit_delay(void **state)
{
	SPFX();
	struct spool_txn b = {0}, c3 = {0}, t1 = {0}, t2 = {0};
	struct spfx_cres a, a2, bres = {0};
	uint64_t batches;
	int64_t t0;

	f->o.commit_delay_us = 200000; /* 200 ms: unmistakable */
	spfx_open(f);
	/* A lone transaction never waits. */
	t0 = ring_now_update(f->r);
	spfx_commit_one(f, &a, 1, 100);
	assert_true(since_ms(f, t0) < 150);
	assert_int_equal(spool_stats(f->sp)->waits, 0);

	/* Another one open: the batch waits for it, then both share it. */
	open_txn(f, &b, 0);
	spfx_submit(f, &t1, &a, 2, 100, 1);
	spfx_run_ms(f, 20);
	assert_int_equal(a.calls, 0);
	assert_int_equal(spool_stats(f->sp)->waits, 1);
	batches = spool_stats(f->sp)->batches;
	t0 = ring_now_update(f->r);
	spool_txn_commit(&b, spfx_cres_on_commit, &bres);
	spfx_run_until(f, &bres.calls, 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.err, 0);
	assert_int_equal(bres.err, 0);
	assert_true(since_ms(f, t0) < 150); /* ended early */
	assert_int_equal(spool_stats(f->sp)->batches, batches + 1);

	/* The sibling never commits: the wait ends at commit_delay. */
	open_txn(f, &b, 0);
	t0 = ring_now_update(f->r);
	spfx_submit(f, &t1, &a, 3, 100, 1);
	spfx_run_until(f, &a.calls, 1);
	assert_int_equal(a.err, 0);
	assert_true(since_ms(f, t0) >= 195);
	assert_non_null(b.in);

	/* An abort of the awaited one ends the wait; one begun during the
	 * wait is not waited for. */
	spfx_submit(f, &t1, &a, 4, 100, 1);
	spfx_run_ms(f, 10);
	assert_int_equal(a.calls, 0);
	open_txn(f, &c3, 0);
	t0 = ring_now_update(f->r);
	spool_txn_abort(&b);
	spfx_run_until(f, &a.calls, 1);
	assert_true(since_ms(f, t0) < 150);
	spool_txn_abort(&c3);

	/* A full batch (max_batch) starts at once. */
	f->o.max_batch = 2;
	spfx_reopen(f);
	open_txn(f, &b, 0);
	t0 = ring_now_update(f->r);
	spfx_submit(f, &t1, &a, 5, 100, 1);
	spfx_submit(f, &t2, &a2, 6, 100, 1);
	spfx_run_until(f, &a2.calls, 1);
	assert_int_equal(a.calls, 1);
	assert_true(since_ms(f, t0) < 150);
	assert_int_equal(spool_stats(f->sp)->waits, 0);
	spool_txn_abort(&b);

	/* SPOOL_DELAY_OFF: never waits. */
	f->o.max_batch = 0;
	f->o.commit_delay_us = SPOOL_DELAY_OFF;
	spfx_reopen(f);
	open_txn(f, &b, 0);
	t0 = ring_now_update(f->r);
	spfx_submit(f, &t1, &a, 7, 100, 1);
	spfx_run_until(f, &a.calls, 1);
	assert_true(since_ms(f, t0) < 150);
	assert_int_equal(spool_stats(f->sp)->waits, 0);
	spool_txn_abort(&b);
}

static void
test_commit_hints(void **state)
{
	SPFX();
	struct spool_hint h = {0}, h2 = {0}, many[50];
	struct spool_txn b = {0}, t1 = {0};
	struct spfx_cres a, bres = {0};
	uint64_t batches, waits;
	int64_t t0;

	f->o.commit_delay_us = 200000; /* 200 ms: unmistakable */
	spfx_open(f);
	/* Begin twice counts once, end twice is harmless. */
	assert_int_equal(spool_hints(f->sp), 0);
	spool_hint_begin(f->sp, &h);
	spool_hint_begin(f->sp, &h);
	assert_int_equal(spool_hints(f->sp), 1);
	spool_hint_end(f->sp, &h);
	spool_hint_end(f->sp, &h);
	assert_int_equal(spool_hints(f->sp), 0);
	memset(many, 0, sizeof(many));
	for (unsigned i = 0; i < nitems(many); i++)
		spool_hint_begin(f->sp, &many[i]);
	assert_int_equal(spool_hints(f->sp), nitems(many));
	for (unsigned i = nitems(many); i-- > 0;)
		spool_hint_end(f->sp, &many[i]);
	assert_int_equal(spool_hints(f->sp), 0);

	/* A hinted session holds a lone commit back; its end (commit,
	 * RSET, QUIT...) ends the wait early. */
	spool_hint_begin(f->sp, &h);
	spfx_submit(f, &t1, &a, 1, 100, 1);
	spfx_run_ms(f, 20);
	assert_int_equal(a.calls, 0);
	assert_int_equal(spool_stats(f->sp)->waits, 1);
	t0 = ring_now_update(f->r);
	spool_hint_end(f->sp, &h);
	spfx_run_until(f, &a.calls, 1);
	assert_int_equal(a.err, 0);
	assert_true(since_ms(f, t0) < 150);

	/* The listener's order: hint at MAIL, transaction at the end of
	 * the headers, both closed at commit: one batch for both, early. */
	spool_hint_begin(f->sp, &h);
	open_txn(f, &b, 0);
	spfx_submit(f, &t1, &a, 2, 100, 1);
	spfx_run_ms(f, 20);
	assert_int_equal(a.calls, 0);
	batches = spool_stats(f->sp)->batches;
	t0 = ring_now_update(f->r);
	spool_txn_commit(&b, spfx_cres_on_commit, &bres);
	spool_hint_end(f->sp, &h);
	spfx_run_until(f, &bres.calls, 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(bres.err, 0);
	assert_true(since_ms(f, t0) < 150);
	assert_int_equal(spool_stats(f->sp)->batches, batches + 1);

	/* A hint begun during the wait is not waited for. */
	spool_hint_begin(f->sp, &h);
	spfx_submit(f, &t1, &a, 3, 100, 1);
	spfx_run_ms(f, 10);
	spool_hint_begin(f->sp, &h2);
	t0 = ring_now_update(f->r);
	spool_hint_end(f->sp, &h);
	spfx_run_until(f, &a.calls, 1);
	assert_true(since_ms(f, t0) < 150);
	spool_hint_end(f->sp, &h2);

	/* A leaked hint: a batch waits commit_delay at most, and once the
	 * hint has expired nothing waits for it. */
	spool_hint_begin(f->sp, &h);
	t0 = ring_now_update(f->r);
	spfx_submit(f, &t1, &a, 4, 100, 1);
	spfx_run_until(f, &a.calls, 1);
	assert_true(since_ms(f, t0) >= 195);
	spfx_run_ms(f, 2 * SPOOL_HINT_TTL_MS + 10);
	assert_int_equal(spool_hints(f->sp), 0);
	waits = spool_stats(f->sp)->waits;
	t0 = ring_now_update(f->r);
	spfx_submit(f, &t1, &a, 5, 100, 1);
	spfx_run_until(f, &a.calls, 1);
	assert_true(since_ms(f, t0) < 150);
	assert_int_equal(spool_stats(f->sp)->waits, waits);
	spool_hint_end(f->sp, &h); /* late: changes nothing */
	assert_int_equal(spool_hints(f->sp), 0);
	spool_hint_begin(f->sp, &h); /* and it can be used again */
	assert_int_equal(spool_hints(f->sp), 1);
	/* A hint that lapsed without an end (a trusted session slow to say
	 * MAIL) counts again when it is begun again. */
	spfx_run_ms(f, 2 * SPOOL_HINT_TTL_MS + 10);
	assert_int_equal(spool_hints(f->sp), 0);
	spool_hint_begin(f->sp, &h);
	assert_int_equal(spool_hints(f->sp), 1);
	spool_hint_end(f->sp, &h);
	assert_int_equal(spool_hints(f->sp), 0);

	/* SPOOL_DELAY_OFF: a hint never holds a batch back. */
	f->o.commit_delay_us = SPOOL_DELAY_OFF;
	spfx_reopen(f);
	spool_hint_begin(f->sp, &h);
	t0 = ring_now_update(f->r);
	spfx_submit(f, &t1, &a, 6, 100, 1);
	spfx_run_until(f, &a.calls, 1);
	assert_true(since_ms(f, t0) < 150);
	assert_int_equal(spool_stats(f->sp)->waits, 0);
	spool_hint_end(f->sp, &h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, spfx_setup, spfx_teardown)
	    T(test_commit_delay),
	    T(test_commit_hints),
#undef T
	};

	log_init("test_spool_hints");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
