/* SPDX-License-Identifier: MIT */
/*
 * test_spool_commit: the group commit's batch on a real ring
 * (spool_fixture.c).  A waiting batch starts once it holds enough entries
 * (SPOOL_BATCH_ENOUGH, 16) even while hinted sessions are still on their
 * way, and not before; the index keeps the body CRC the encoder wrote,
 * both for a record written where its transaction encoded it and for one
 * re-encoded into the batch (flags added after begin), checked against
 * the bytes on disk before any replay.  Skips loudly without io_uring.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "ring.h"
#include "spool.h"
#include "spool_fixture.h"
#include "spool_int.h"

enum {
	TSC_ENOUGH = 16 /* SPOOL_BATCH_ENOUGH */
};

/* ms since t0 (ring_now scale). */
static int64_t
tsc_since_ms(struct spfx *f, int64_t t0)
{
	return (ring_now_update(f->r) - t0) / 1000000;
}

/* How many of c[0..n) have been called back with 0. */
static int
tsc_done(const struct spfx_cres *c, int n)
{
	int k = 0;

	for (int i = 0; i < n; i++) {
		assert_int_equal(c[i].err, 0);
		k += c[i].calls;
	}
	return k;
}

/* Run until all of c[0..n) are acknowledged (fails after 20 s). */
static void
tsc_run_all(struct spfx *f, const struct spfx_cres *c, int n)
{
	for (int i = 0; i < 20000 && tsc_done(c, n) < n; i++)
		assert_true(ring_run_once(f->r, 1000000) >= 0);
	assert_int_equal(tsc_done(c, n), n);
}

static void
test_batch_enough(void **state)
{
	SPFX();
	struct spool_txn t[TSC_ENOUGH] = {{0}};
	struct spfx_cres c[TSC_ENOUGH];
	struct spool_hint h = {0};
	uint64_t batches;
	int64_t t0;

	f->o.commit_delay_us = 200000; /* 200 ms: unmistakable */
	spfx_open(f);
	spool_hint_begin(f->sp, &h); /* a session on its way, all along */

	/* Enough entries in one turn: no wait at all. */
	batches = spool_stats(f->sp)->batches;
	t0 = ring_now_update(f->r);
	for (int i = 0; i < TSC_ENOUGH; i++)
		spfx_submit(f, &t[i], &c[i], (unsigned)i, 100, 1);
	tsc_run_all(f, c, TSC_ENOUGH);
	assert_true(tsc_since_ms(f, t0) < 150);
	assert_int_equal(spool_stats(f->sp)->waits, 0);
	assert_int_equal(spool_stats(f->sp)->batches, batches + 1);

	/* One short: the batch waits for the hinted session... */
	batches = spool_stats(f->sp)->batches;
	for (int i = 0; i < TSC_ENOUGH - 1; i++)
		spfx_submit(f, &t[i], &c[i], (unsigned)i, 100, 1);
	spfx_run_ms(f, 20);
	assert_int_equal(tsc_done(c, TSC_ENOUGH - 1), 0);
	assert_int_equal(spool_stats(f->sp)->waits, 1);
	/* ...and starts as soon as one more commit makes it enough, though
	 * the hint is still open and the delay far from over. */
	t0 = ring_now_update(f->r);
	spfx_submit(f, &t[TSC_ENOUGH - 1], &c[TSC_ENOUGH - 1], 99, 100, 1);
	tsc_run_all(f, c, TSC_ENOUGH);
	assert_true(tsc_since_ms(f, t0) < 150);
	assert_int_equal(spool_stats(f->sp)->batches, batches + 1);
	assert_int_equal(spool_hints(f->sp), 1);
	spool_hint_end(f->sp, &h);
}

/* Body CRC in the index: in place and re-encoded (flags after begin). */
static void
test_body_crc(void **state)
{
	static const struct {
		const char *name;
		uint32_t set; /* flags added after begin: re-encoded */
		size_t len;
	} cases[] = {
	    {"in place", 0, 4096},
	    {"in place, empty body", 0, 0},
	    {"re-encoded", RECORD_MSG_F_8BITMIME, 4096},
	    {"re-encoded, odd length", RECORD_MSG_F_8BITMIME, 1001},
	};
	SPFX();
	uint8_t b[4096];

	spfx_open(f);
	for (size_t k = 0; k < nitems(cases); k++) {
		struct spool_txn t = {0};
		struct spfx_cres c = {0};
		struct spfx_env e;
		const struct spool_msg *m;

		spfx_env_make(&e, 1);
		e.env.flags = 0; /* so that set_flags must re-encode */
		spfx_body_fill(b, cases[k].len, (unsigned)k);
		assert_int_equal(spool_txn_begin(f->sp, &t, &e.env, NULL, NULL),
				 0);
		memcpy(c.id, spool_txn_id(&t), SPOOL_ID_LEN);
		assert_int_equal(spool_txn_body(&t, b, cases[k].len), 0);
		if (cases[k].set)
			assert_int_equal(spool_txn_set_flags(&t, cases[k].set),
					 0);
		spool_txn_commit(&t, spfx_cres_on_commit, &c);
		spfx_run_until(f, &c.calls, 1);
		if (c.err != 0)
			fail_msg("%s: %d", cases[k].name, c.err);
		m = spool_find(f->sp, c.id);
		assert_non_null(m);
		assert_int_equal(m->flags & cases[k].set, cases[k].set);
		/* the CRC of the bytes on disk == the index's */
		spfx_check_body(f, c.id, (unsigned)k, cases[k].len);
	}
}

int
main(void)
{
#define T(x) cmocka_unit_test_setup_teardown(x, spfx_setup, spfx_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_batch_enough),
	    T(test_body_crc),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
