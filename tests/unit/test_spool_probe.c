/* SPDX-License-Identifier: MIT */
/*
 * test_spool_probe: the spool's free-space probe wakes the loop only while
 * it has something to watch.  On a real ring in a temporary directory: no
 * probe after opening an idle spool; spool_status() checks at once and
 * starts it; it keeps running while a transaction is open or the space is
 * below the floor, and stops one period after; never without a floor;
 * always under a storage error (fixture: spool_fixture.c).  Skips loudly
 * without io_uring.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "ring.h"
#include "spool.h"
#include "spool_fixture.h"
#include "spool_int.h"

#define PROBE_MS 30

/* Open the spool probing every PROBE_MS with the given floors. */
static void
probe_open(struct spfx *f, uint64_t min_free_bytes, unsigned min_free_percent)
{
	f->o.probe_ms = PROBE_MS;
	f->o.min_free_bytes = min_free_bytes;
	f->o.min_free_percent = min_free_percent;
	spfx_open(f);
}

static bool
probing(const struct spfx *f)
{
	return timer_armed(&f->sp->probe);
}

/* A transaction open over several periods keeps the probe; its end lets
 * it stop. */
static void
txn_keeps_probe(struct spfx *f)
{
	static const char addr[] = "r@d.example";
	struct record_msg_rcpt rc = {
	    .addr = {(const uint8_t *)addr, sizeof(addr) - 1}};
	struct spool_env env = {.rcpt = &rc, .nrcpt = 1};
	struct spool_txn t = {0};

	assert_int_equal(spool_txn_begin(f->sp, &t, &env, NULL, NULL), 0);
	assert_true(probing(f));
	spfx_run_ms(f, PROBE_MS * 4);
	assert_true(probing(f)); /* accepting: still watched */
	spool_txn_abort(&t);
	spfx_run_ms(f, PROBE_MS * 3);
	assert_false(probing(f));
}

/* A floor the disk meets: idle costs nothing, intake starts the probe. */
static void
test_idle_no_probe(void **state)
{
	SPFX();
	probe_open(f, 0, 1);
	assert_false(probing(f));
	spfx_run_ms(f, PROBE_MS * 4);
	assert_false(probing(f));
	assert_int_equal(spool_status(f->sp), 0); /* a banner: checks */
	assert_true(probing(f));
	spfx_run_ms(f, PROBE_MS * 3); /* nothing came: one period, then off */
	assert_false(probing(f));
	txn_keeps_probe(f);
}

/* Below the floor: refused, and watched until the space is back. */
static void
test_low_space_watched(void **state)
{
	SPFX();
	probe_open(f, UINT64_MAX / 4, 0);
	assert_true(f->sp->low_space);
	assert_int_equal(spool_status(f->sp), -ENOSPC);
	assert_true(probing(f));
	spfx_run_ms(f, PROBE_MS * 4);
	assert_true(probing(f));
	assert_int_equal(spool_status(f->sp), -ENOSPC);
	f->sp->o.min_free_bytes = 1; /* space back */
	spfx_run_ms(f, PROBE_MS * 3);
	assert_false(f->sp->low_space);
	assert_false(probing(f));
	assert_int_equal(spool_status(f->sp), 0);
}

/* No floor: no probe at all; a storage error: always, until healed. */
static void
test_no_floor_and_error(void **state)
{
	SPFX();
	static const char addr[] = "r@d.example";
	struct record_msg_rcpt rc = {
	    .addr = {(const uint8_t *)addr, sizeof(addr) - 1}};
	struct spool_env env = {.rcpt = &rc, .nrcpt = 1};
	struct spool_txn t = {0};
	int64_t end;

	probe_open(f, 0, 0);
	assert_false(probing(f));
	assert_int_equal(spool_status(f->sp), 0);
	assert_false(probing(f));
	assert_int_equal(spool_txn_begin(f->sp, &t, &env, NULL, NULL), 0);
	spfx_run_ms(f, PROBE_MS * 2);
	assert_false(probing(f));
	spool_txn_abort(&t);
	/* A storage error starts it, even idle and without a floor: its
	 * wake-ups let the commit hook heal (a fresh segment); healed, it
	 * stops. */
	spool_set_err(f->sp, -EIO, "test");
	assert_true(probing(f));
	end = ring_now_update(f->r) + 2000LL * 1000000;
	while (f->sp->err != 0 && ring_now_update(f->r) < end)
		assert_true(ring_run_once(f->r, 1000000) >= 0);
	assert_int_equal(f->sp->err, 0);
	spfx_run_ms(f, PROBE_MS * 3);
	assert_false(probing(f));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_idle_no_probe, spfx_setup,
					    spfx_teardown),
	    cmocka_unit_test_setup_teardown(test_low_space_watched, spfx_setup,
					    spfx_teardown),
	    cmocka_unit_test_setup_teardown(test_no_floor_and_error, spfx_setup,
					    spfx_teardown),
	};

	log_init("test_spool_probe");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
